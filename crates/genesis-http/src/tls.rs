//! The TLS half: the roots a client trusts, and the one provider every TLS configuration of
//! Genesis, client or server, is built with.

use std::path::{Path, PathBuf};
use std::sync::{Arc, Once};

use rustls::crypto::CryptoProvider;
use rustls::{ClientConfig, RootCertStore};

/// Why no TLS configuration was made.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TlsError {
    /// The CA bundle could not be read, or its PEM could not be parsed.
    #[error("{action} {}: {source}", path.display())]
    CaBundle {
        /// What was being done (`reading CA bundle`, `parsing CA bundle`).
        action: &'static str,
        /// The CA bundle.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A certificate of the CA bundle cannot serve as a root.
    #[error("{}: {source}", path.display())]
    BadRoot {
        /// The CA bundle.
        path: PathBuf,
        /// Why rustls refused it.
        #[source]
        source: rustls::Error,
    },
    /// The CA bundle holds no certificate.
    #[error("{}: no certificates in the CA bundle", path.display())]
    NoRoots {
        /// The CA bundle.
        path: PathBuf,
    },
    /// rustls refused the configuration.
    #[error("TLS: {0}")]
    Config(#[source] rustls::Error),
}

/// The provider of every TLS configuration of Genesis, client or server: `ring`, the one
/// cryptography backend of the network edge (decision 0005).
pub fn provider() -> Arc<CryptoProvider> {
    Arc::new(rustls::crypto::ring::default_provider())
}

/// Installs `ring` as the process's default provider, once. reqwest is built without a TLS
/// backend of its own (`rustls-tls-manual-roots-no-provider`): a client it configures itself
/// (one of plain HTTP) takes the process default, and panics without one. A default already
/// in place stays.
pub(crate) fn install_provider() {
    static INSTALL: Once = Once::new();
    INSTALL.call_once(|| {
        let _ = rustls::crypto::ring::default_provider().install_default();
    });
}

/// The roots a client trusts: the certificates of the CA bundle (PEM) at `ca_file` alone
/// when given (a private CA), else the system's.
pub fn root_store(ca_file: Option<&Path>) -> Result<RootCertStore, TlsError> {
    let mut roots = RootCertStore::empty();
    match ca_file {
        Some(path) => {
            let pem = std::fs::read(path).map_err(ca_bundle("reading CA bundle", path))?;
            for cert in rustls_pemfile::certs(&mut pem.as_slice()) {
                let cert = cert.map_err(ca_bundle("parsing CA bundle", path))?;
                roots.add(cert).map_err(|source| TlsError::BadRoot { path: path.to_owned(), source })?;
            }
            if roots.is_empty() {
                return Err(TlsError::NoRoots { path: path.to_owned() });
            }
        }
        None => {
            for cert in rustls_native_certs::load_native_certs().certs {
                let _ = roots.add(cert);
            }
        }
    }
    Ok(roots)
}

/// Turns an I/O error on the CA bundle at `path` into [`TlsError::CaBundle`].
fn ca_bundle(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> TlsError {
    let path = path.to_owned();
    move |source| TlsError::CaBundle { action, path, source }
}

/// A client configuration that trusts `roots`: [`provider`], its safe protocol versions, no
/// client certificate.
pub fn tls_config(roots: RootCertStore) -> Result<ClientConfig, TlsError> {
    Ok(ClientConfig::builder_with_provider(provider())
        .with_safe_default_protocol_versions()
        .map_err(TlsError::Config)?
        .with_root_certificates(roots)
        .with_no_client_auth())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_ca_bundle_is_trusted_alone_and_must_hold_a_certificate() {
        let dir = tempfile::tempdir().unwrap();
        let pki = genesis_testkit::pki::TlsPki::write(dir.path());
        let roots = root_store(Some(pki.ca.as_path())).unwrap();
        assert_eq!(roots.len(), 1);
        assert!(tls_config(roots).is_ok());

        let missing = dir.path().join("missing.crt");
        let error = root_store(Some(missing.as_path())).unwrap_err();
        assert!(matches!(&error, TlsError::CaBundle { action: "reading CA bundle", .. }), "{error:?}");
        assert!(error.to_string().starts_with(&format!("reading CA bundle {}: ", missing.display())), "{error}");

        let empty = dir.path().join("empty.crt");
        std::fs::write(&empty, "not a certificate\n").unwrap();
        let error = root_store(Some(empty.as_path())).unwrap_err();
        assert_eq!(error.to_string(), format!("{}: no certificates in the CA bundle", empty.display()));
    }
}
