//! The preflight file: what to check, each part optional.
//!
//! ```yaml
//! postgres: { url: "postgres://genesis@db.internal:5432/genesis" }
//! redis:    { url: "redis://cache.internal:6379" }
//! kubernetes: { certManager: true }
//! dns:      [ db.internal, cache.internal ]
//! tls:      [ { endpoint: "gateway.internal:443", ca: ca.pem, warnDays: 30 } ]
//! registry: { url: "https://registry.internal:5000", ca: ca.pem, authfile: auth.json }
//! disk:     { path: /var/lib/genesis, bundle: genesis-platform-3.2.10.tar.zst }
//! ```

use std::path::{Path, PathBuf};

use genesis_types::{Classify, ErrorClass};

/// A preflight file that cannot be used.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SpecError {
    /// The file cannot be read.
    #[error("reading {}: {source}", path.display())]
    Read {
        /// The preflight file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The file is not a preflight file: bad YAML, an unknown field, a missing one.
    #[error("{}: not a preflight file: {source}", path.display())]
    Parse {
        /// The preflight file.
        path: PathBuf,
        /// What is wrong, where.
        #[source]
        source: serde_yaml_ng::Error,
    },
}

/// A file that cannot be read is classed by its I/O error (a missing one is not found); a
/// malformed one is the caller's input.
impl Classify for SpecError {
    fn class(&self) -> ErrorClass {
        match self {
            SpecError::Read { source, .. } => source.class(),
            SpecError::Parse { .. } => ErrorClass::Input,
        }
    }
}

/// The whole file.
#[derive(Debug, Clone, Default, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct PreflightSpec {
    /// A PostgreSQL server that must answer `SELECT 1`.
    #[serde(default)]
    pub postgres: Option<UrlCheck>,
    /// A Redis server that must answer `PING`.
    #[serde(default)]
    pub redis: Option<UrlCheck>,
    /// Cluster prerequisites, read through the API server.
    #[serde(default)]
    pub kubernetes: Option<KubernetesCheck>,
    /// Host names that must resolve.
    #[serde(default)]
    pub dns: Vec<String>,
    /// TLS endpoints whose chain must verify against a CA bundle.
    #[serde(default)]
    pub tls: Vec<TlsCheck>,
    /// The image registry that must answer `/v2/`.
    #[serde(default)]
    pub registry: Option<RegistryCheck>,
    /// Free space for a bundle's extraction.
    #[serde(default)]
    pub disk: Option<DiskCheck>,
}

/// A server named by URL.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct UrlCheck {
    /// `postgres://…` or `redis://…`.
    pub url: String,
}

/// What to check in the cluster.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct KubernetesCheck {
    /// cert-manager's CRDs must be installed.
    #[serde(default)]
    pub cert_manager: bool,
}

/// One TLS endpoint.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct TlsCheck {
    /// `host:port`.
    pub endpoint: String,
    /// The CA bundle (PEM) the chain must verify against.
    pub ca: PathBuf,
    /// Warn when the leaf expires within this many days (default 30).
    #[serde(default = "default_warn_days")]
    pub warn_days: u32,
}

fn default_warn_days() -> u32 {
    30
}

/// The registry.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct RegistryCheck {
    /// `https://host[:port]` (or `http://` for a plain-HTTP registry).
    pub url: String,
    /// CA bundle (PEM) instead of the system roots.
    #[serde(default)]
    pub ca: Option<PathBuf>,
    /// Docker `config.json` with the credentials.
    #[serde(default)]
    pub authfile: Option<PathBuf>,
}

/// Disk space.
#[derive(Debug, Clone, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct DiskCheck {
    /// Where the bundle will be extracted.
    pub path: PathBuf,
    /// The bundle whose payload must fit.
    pub bundle: PathBuf,
}

impl PreflightSpec {
    /// Reads a preflight file; relative paths in it are resolved against its folder.
    pub fn load(path: &Path) -> Result<PreflightSpec, SpecError> {
        let text = std::fs::read_to_string(path).map_err(|source| SpecError::Read { path: path.to_owned(), source })?;
        let mut spec: PreflightSpec =
            serde_yaml_ng::from_str(&text).map_err(|source| SpecError::Parse { path: path.to_owned(), source })?;
        let base = path.parent().unwrap_or(Path::new("."));
        let resolve = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        spec.tls.iter_mut().for_each(|t| resolve(&mut t.ca));
        if let Some(r) = &mut spec.registry {
            r.ca.iter_mut().for_each(resolve);
            r.authfile.iter_mut().for_each(resolve);
        }
        if let Some(d) = &mut spec.disk {
            resolve(&mut d.path);
            resolve(&mut d.bundle);
        }
        Ok(spec)
    }

    /// Every endpoint the file names, for the air-gap announcement (passwords redacted). With
    /// [`PreflightSpec::kubernetes`] set, the checks also contact the Kubernetes API server,
    /// which the file does not name: the caller adds it, in its own words for how a kubeconfig
    /// is given.
    pub fn endpoints(&self) -> Vec<String> {
        let mut out = Vec::new();
        out.extend(self.postgres.as_ref().map(|p| redact(&p.url)));
        out.extend(self.redis.as_ref().map(|r| redact(&r.url)));
        out.extend(self.tls.iter().map(|t| format!("tls://{}", t.endpoint)));
        out.extend(self.registry.as_ref().map(|r| r.url.clone()));
        out.extend(self.dns.iter().map(|d| format!("dns:{d}")));
        out
    }
}

/// A URL without its password, for logs and reports.
pub(crate) fn redact(url: &str) -> String {
    match (url.find("://"), url.rfind('@')) {
        (Some(s), Some(at)) if at > s => {
            let userinfo = &url[s + 3..at];
            let user = userinfo.split(':').next().unwrap_or_default();
            format!("{}{user}{}", &url[..s + 3], &url[at..])
        }
        _ => url.to_owned(),
    }
}
