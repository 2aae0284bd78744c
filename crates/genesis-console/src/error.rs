//! What can stop the console from starting or serving. What goes wrong while it serves a
//! page is that page's [`crate::page::PageError`], never this.

use std::net::SocketAddr;

use genesis_types::{Classify, ErrorClass};

/// Why the console cannot start or serve.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ConsoleError {
    /// Plain HTTP was asked for on an address others than this host reach, with nothing
    /// saying a TLS-terminating proxy stands in front.
    #[error(
        "refusing to serve plain HTTP on {listen}, which is not a loopback address: bearer tokens and session cookies would cross the network unencrypted"
    )]
    PlainHttp {
        /// The address asked for.
        listen: SocketAddr,
    },
    /// The address cannot be listened on (taken, not this host's, a privileged port).
    #[error("listening on {address}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// Why not.
        #[source]
        source: std::io::Error,
    },
    /// The TLS certificate or key cannot be read or used.
    #[error("the console's TLS certificate and key")]
    Tls(#[source] Box<genesis_registry::RegistryError>),
    /// No credentials for the cluster.
    #[error(transparent)]
    Kube(#[from] genesis_kube::KubeError),
}

/// A plain-HTTP refusal is the caller's input; an address that cannot be listened on is
/// what its I/O error says; TLS files and cluster credentials say themselves.
impl Classify for ConsoleError {
    fn class(&self) -> ErrorClass {
        match self {
            ConsoleError::PlainHttp { .. } => ErrorClass::Input,
            ConsoleError::Listen { source, .. } => source.class(),
            ConsoleError::Tls(e) => e.class(),
            ConsoleError::Kube(e) => e.class(),
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = ConsoleError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_address_is_input_and_names_itself() {
        let e = ConsoleError::PlainHttp { listen: "0.0.0.0:8443".parse().unwrap() };
        assert_eq!(e.class(), ErrorClass::Input);
        assert!(e.to_string().contains("0.0.0.0:8443"), "{e}");
        let taken = ConsoleError::Listen {
            address: "127.0.0.1:8443".parse().unwrap(),
            source: std::io::Error::from(std::io::ErrorKind::AddrInUse),
        };
        assert_eq!(taken.class(), ErrorClass::Input);
    }
}
