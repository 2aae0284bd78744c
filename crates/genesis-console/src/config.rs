//! How the console is run: where it listens and with which TLS, which cluster and namespace
//! it serves, where bundles wait (a directory, and a landing bucket when one is given), the
//! cluster-local registry installs push to, and the Secret opt-in advice is configured by. What it checks and trusts is not here: that configuration
//! lives in ConfigMaps of the console's namespace, read again at each use, so a change needs
//! no restart.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::time::Duration;

use crate::error::{ConsoleError, Result};

/// Where the console listens unless told otherwise: loopback, for `kubectl port-forward` or a
/// run outside the cluster; the Deployment passes `0.0.0.0:8443`.
pub const DEFAULT_LISTEN: &str = "127.0.0.1:8443";
/// The console's namespace unless told otherwise (deploy/console/namespace.yaml).
pub const DEFAULT_NAMESPACE: &str = "genesis";
/// Where bundles wait to be installed unless told otherwise: the Deployment's volume.
pub const DEFAULT_BUNDLES_DIR: &str = "/var/lib/genesis/bundles";
/// How old a session's last TokenReview may be before a request reviews its token again.
pub const REVIEW_INTERVAL: Duration = Duration::from_secs(60);
/// The ConfigMap of the console's namespace holding the pre-flight configuration (key
/// `preflight.yaml`, `genesis preflight`'s format).
pub const PREFLIGHT_CONFIG: &str = "genesis-preflight";
/// The ConfigMap of the console's namespace holding the trust policy (`policy.yaml`) and/or
/// the vendor's key (`vendor.pub`) bundles are verified with.
pub const TRUST_CONFIG: &str = "genesis-trust";
/// The Secret of the console's namespace that turns opt-in advice on unless told otherwise
/// (seed 000's HolmesGPT credentials: an OpenAI-compatible endpoint, its key and model), read
/// once at start.
pub const DEFAULT_ADVICE_SECRET: &str = "genesis-holmes-creds";

/// How the console runs.
#[derive(Debug, Clone)]
pub struct ConsoleConfig {
    /// The address to listen on.
    pub listen: SocketAddr,
    /// Serve HTTPS with this certificate and key; else plain HTTP, which [`ConsoleConfig::check`]
    /// allows only on loopback or with `insecure_plain_http`.
    pub tls: Option<TlsFiles>,
    /// Serve plain HTTP on a non-loopback address: a TLS-terminating proxy or service mesh
    /// stands in front, so browsers still reach the console over HTTPS (its cookies are then
    /// `Secure`). Tokens cross the hop behind the proxy unencrypted.
    pub insecure_plain_http: bool,
    /// The kubeconfig to connect with; else `KUBECONFIG`, else the in-cluster service account.
    pub kubeconfig: Option<PathBuf>,
    /// The console's namespace: its ConfigMaps, and the namespace of its virtual resources
    /// (`console.genesis.dev`) that RBAC grants people.
    pub namespace: String,
    /// Where bundles wait to be installed (a PersistentVolume in the cluster).
    pub bundles_dir: PathBuf,
    /// A landing bucket (`s3://BUCKET[/PREFIX]`, seed 001's diode delivers there) whose bundles
    /// are listed beside the directory's, verified and installed where they lie, read by ranged
    /// GETs: nothing of them is copied into the directory.
    pub landing_bucket: Option<genesis_objstore::ObjectStoreConfig>,
    /// The cluster-local registry installs push images to: `HOST[:PORT]`.
    pub registry: Option<String>,
    /// Reach that registry over plain HTTP.
    pub registry_plain_http: bool,
    /// The CA certificate (PEM) that registry's certificate chains to, beyond the system's.
    pub registry_ca: Option<PathBuf>,
    /// How old a session's last TokenReview may be before its token is reviewed again:
    /// [`REVIEW_INTERVAL`], shorter only in tests.
    pub review_interval: Duration,
    /// The Secret of [`ConsoleConfig::namespace`] that turns opt-in advice on when it names an
    /// endpoint ([`DEFAULT_ADVICE_SECRET`] unless told otherwise), read once at start.
    pub advice_secret: String,
}

/// A certificate chain and its private key, both PEM.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct TlsFiles {
    /// The certificate chain.
    pub cert: PathBuf,
    /// The certificate's private key.
    pub key: PathBuf,
}

impl Default for ConsoleConfig {
    /// Plain HTTP on [`DEFAULT_LISTEN`] (loopback), the credentials `KUBECONFIG` or the pod
    /// gives, [`DEFAULT_NAMESPACE`], [`DEFAULT_BUNDLES_DIR`], no landing bucket, no registry,
    /// [`DEFAULT_ADVICE_SECRET`].
    fn default() -> ConsoleConfig {
        ConsoleConfig {
            listen: DEFAULT_LISTEN.parse().expect("the default address parses"),
            tls: None,
            insecure_plain_http: false,
            kubeconfig: None,
            namespace: DEFAULT_NAMESPACE.to_owned(),
            bundles_dir: PathBuf::from(DEFAULT_BUNDLES_DIR),
            landing_bucket: None,
            registry: None,
            registry_plain_http: false,
            registry_ca: None,
            review_interval: REVIEW_INTERVAL,
            advice_secret: DEFAULT_ADVICE_SECRET.to_owned(),
        }
    }
}

impl ConsoleConfig {
    /// Refuses plain HTTP on an address other than loopback unless `insecure_plain_http`
    /// says a TLS-terminating proxy stands in front: people paste bearer tokens into the
    /// sign-in form, and their session cookies follow every request.
    pub fn check(&self) -> Result<()> {
        if self.tls.is_none() && !self.insecure_plain_http && !self.listen.ip().is_loopback() {
            return Err(ConsoleError::PlainHttp { listen: self.listen });
        }
        Ok(())
    }

    /// Whether browsers reach the console over HTTPS: it serves TLS itself, or a
    /// TLS-terminating proxy stands in front. Its cookies are then `Secure` and `__Host-`
    /// prefixed.
    pub fn browsers_use_https(&self) -> bool {
        self.tls.is_some() || self.insecure_plain_http
    }

    /// Whether the console serves plain HTTP where others than this host may reach it: said
    /// at start, as a warning.
    pub fn plain_http_beyond_loopback(&self) -> bool {
        self.tls.is_none() && !self.listen.ip().is_loopback()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn on(listen: &str) -> ConsoleConfig {
        ConsoleConfig { listen: listen.parse().unwrap(), ..ConsoleConfig::default() }
    }

    #[test]
    fn plain_http_is_served_on_loopback_or_behind_a_proxy_only() {
        for loopback in ["127.0.0.1:8443", "[::1]:8443", "127.0.0.2:1"] {
            assert!(on(loopback).check().is_ok(), "{loopback}");
            assert!(!on(loopback).plain_http_beyond_loopback(), "{loopback}");
        }
        for open in ["0.0.0.0:8443", "[::]:8443", "10.0.0.5:8443"] {
            let refused = on(open).check().unwrap_err();
            assert!(matches!(refused, ConsoleError::PlainHttp { listen } if listen == open.parse().unwrap()), "{open}");
            let proxied = ConsoleConfig { insecure_plain_http: true, ..on(open) };
            assert!(proxied.check().is_ok(), "{open}");
            assert!(proxied.plain_http_beyond_loopback() && proxied.browsers_use_https(), "{open}");
            let tls = TlsFiles { cert: "tls.crt".into(), key: "tls.key".into() };
            let served = ConsoleConfig { tls: Some(tls), ..on(open) };
            assert!(served.check().is_ok() && !served.plain_http_beyond_loopback() && served.browsers_use_https());
        }
        assert!(!on("127.0.0.1:8443").browsers_use_https());
    }

    #[test]
    fn the_defaults_are_the_documented_ones() {
        let config = ConsoleConfig::default();
        assert_eq!(config.listen.to_string(), DEFAULT_LISTEN);
        assert_eq!((config.namespace.as_str(), config.review_interval), ("genesis", Duration::from_secs(60)));
        assert_eq!(config.bundles_dir, PathBuf::from("/var/lib/genesis/bundles"));
        assert!(config.landing_bucket.is_none());
        assert_eq!(config.advice_secret, "genesis-holmes-creds");
    }
}
