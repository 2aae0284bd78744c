//! The one error type of this crate.

use genesis_types::Digest;

/// What can go wrong talking to a registry or serving one.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum RegistryError {
    /// The connection failed or timed out (after retries).
    #[error("{url}: {source}")]
    Transport {
        /// What was requested.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// The registry answered with an unexpected status.
    #[error("{method} {url}: {status} {body}")]
    Status {
        /// Request method.
        method: String,
        /// What was requested.
        url: String,
        /// The status.
        status: u16,
        /// The start of the body (the registry's error JSON).
        body: String,
    },
    /// The registry asked for credentials we do not have or refused ours.
    #[error(
        "{registry}: authentication required or refused ({detail}); pass --username/--password or a Docker config.json with --authfile"
    )]
    Unauthorized {
        /// The registry.
        registry: String,
        /// The challenge or the refusal.
        detail: String,
    },
    /// Content did not hash to its digest.
    #[error("{what}: content is {actual}, expected {expected}")]
    DigestMismatch {
        /// Which object.
        what: String,
        /// The digest asked for.
        expected: Digest,
        /// The digest of the bytes received or read.
        actual: Digest,
    },
    /// A manifest, reference or configuration is unusable.
    #[error("{0}")]
    Invalid(String),
    /// Local I/O failed.
    #[error("{action} {path}: {source}")]
    Io {
        /// What was being done.
        action: &'static str,
        /// On what.
        path: String,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The bundle could not be read.
    #[error(transparent)]
    Bundle(#[from] genesis_bundle::BundleError),
    /// The bundle failed its verification (during a load that checks as it pushes).
    #[error(transparent)]
    Refused(Box<genesis_trust::TrustError>),
    /// A name was not found.
    #[error("{0} not found")]
    NotFound(String),
}

impl RegistryError {
    /// Wraps an I/O error.
    pub fn io(action: &'static str, path: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> RegistryError {
        let path = path.to_string();
        move |source| RegistryError::Io { action, path, source }
    }

    /// Whether retrying the same request may succeed (connection problems, 5xx, 429).
    pub fn is_transient(&self) -> bool {
        match self {
            RegistryError::Transport { .. } => true,
            RegistryError::Status { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            _ => false,
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;
