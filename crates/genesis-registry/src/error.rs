//! The one error type of this crate.

use genesis_types::{Classify, Digest, ErrorClass};

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
    #[error("{registry}: authentication required or refused ({detail})")]
    Unauthorized {
        /// The registry.
        registry: String,
        /// The challenge or the refusal.
        detail: String,
    },
    /// The registry's token expired during an upload, whose bytes cannot be sent again on
    /// the same request; a new token was obtained, so the blob can be sent again.
    #[error("{registry}: the token expired during the upload of {digest}; a new one was obtained to send it again")]
    TokenRenewed {
        /// The registry.
        registry: String,
        /// The blob being uploaded.
        digest: Digest,
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
    /// Content is larger than the descriptor it was asked for by: it was cut off there.
    #[error("{what}: more than the {expected} bytes its descriptor gives")]
    Oversized {
        /// Which object.
        what: String,
        /// The size its descriptor gives.
        expected: u64,
    },
    /// A server answered something unusable: a body over its limit, a malformed document,
    /// a missing or malformed header.
    #[error("{url}: {detail}")]
    BadAnswer {
        /// What was requested (or the registry whose answer it was).
        url: String,
        /// What is wrong with the answer.
        detail: String,
    },
    /// What this side was given (a reference, a configuration file, a bundle's manifest, a
    /// URL to fetch) is unusable, or asks for what the configuration forbids.
    #[error("{0}")]
    Invalid(String),
    /// An `http://` URL, and plain HTTP was not enabled ([`crate::RegistryOptions::plain_http`]).
    #[error("{url}: plain HTTP is not enabled")]
    PlainHttp {
        /// The URL.
        url: String,
    },
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
    /// A delta bundle (decision 0043) requires blobs of its base that none of the
    /// repositories its images go to holds: found before anything was pushed.
    #[error(
        "{registry} lacks {} blob(s) this delta bundle requires of its base {base} (in {}): {}; load {} {} into \
         {registry} first, then this bundle",
        missing.len(),
        repositories.join(", "),
        blob_list(missing),
        base.name,
        base.version
    )]
    BaseBlobsMissing {
        /// The destination registry.
        registry: String,
        /// The repositories asked.
        repositories: Vec<String>,
        /// The base to load first.
        base: Box<genesis_bundle::BaseBundle>,
        /// Each blob required that none of them holds.
        missing: Vec<genesis_bundle::RequiredBlob>,
    },
    /// The registry would not mount a blob a delta bundle requires of its base from the
    /// repository that holds it into the one an image needs it in: no manifest of that image
    /// was pushed.
    #[error(
        "{registry} would not mount {} ({} bytes), which this delta bundle requires of its base {base}, from {from} \
         into {into}; load {} {} into {registry}/{into} too, then this bundle",
        blob.digest,
        blob.size,
        base.name,
        base.version
    )]
    MountRefused {
        /// The destination registry.
        registry: String,
        /// The blob.
        blob: Box<genesis_bundle::RequiredBlob>,
        /// The repository that holds it.
        from: String,
        /// The repository that needs it.
        into: String,
        /// The base to load first.
        base: Box<genesis_bundle::BaseBundle>,
    },
}

/// `sha256:… (N bytes), …`: the blobs an error names.
fn blob_list(blobs: &[genesis_bundle::RequiredBlob]) -> String {
    blobs.iter().map(|b| format!("{} ({} bytes)", b.digest, b.size)).collect::<Vec<_>>().join(", ")
}

impl RegistryError {
    /// Wraps an I/O error.
    pub fn io(action: &'static str, path: impl std::fmt::Display) -> impl FnOnce(std::io::Error) -> RegistryError {
        let path = path.to_string();
        move |source| RegistryError::Io { action, path, source }
    }

    /// Wraps the failure to read the body of an answer to `url` ([`genesis_http::read_limited`]).
    pub(crate) fn body(url: impl std::fmt::Display) -> impl FnOnce(genesis_http::BodyError) -> RegistryError {
        let url = url.to_string();
        move |e| match e {
            genesis_http::BodyError::Transport(source) => RegistryError::Transport { url, source },
            too_large @ genesis_http::BodyError::TooLarge { .. } => {
                RegistryError::BadAnswer { url, detail: too_large.to_string() }
            }
        }
    }

    /// Wraps the failure to set up a client's TLS: an unreadable CA bundle is the local file
    /// it is, anything else an unusable configuration.
    pub(crate) fn tls(e: genesis_http::TlsError) -> RegistryError {
        match e {
            genesis_http::TlsError::CaBundle { action, path, source } => {
                RegistryError::Io { action, path: path.display().to_string(), source }
            }
            other => RegistryError::Invalid(other.to_string()),
        }
    }

    /// Whether retrying the same request may succeed (connection problems, 5xx, 429, a
    /// token renewed during an upload).
    pub fn is_transient(&self) -> bool {
        match self {
            RegistryError::Transport { .. } | RegistryError::TokenRenewed { .. } => true,
            RegistryError::Status { status, .. } => *status >= 500 || *status == 429 || *status == 408,
            _ => false,
        }
    }
}

/// A registry that cannot be reached, answers unexpectedly or unusably, or refuses our
/// credentials is a network failure; content that does not match its digest or size is a
/// verdict; a refused bundle and a local file say themselves.
impl Classify for RegistryError {
    fn class(&self) -> ErrorClass {
        match self {
            RegistryError::Transport { .. }
            | RegistryError::Status { .. }
            | RegistryError::Unauthorized { .. }
            | RegistryError::TokenRenewed { .. }
            | RegistryError::BadAnswer { .. } => ErrorClass::Network,
            RegistryError::DigestMismatch { .. } | RegistryError::Oversized { .. } => ErrorClass::Verdict,
            RegistryError::Invalid(_) | RegistryError::PlainHttp { .. } => ErrorClass::Input,
            RegistryError::Io { source, .. } => source.class(),
            RegistryError::Bundle(e) => e.class(),
            RegistryError::Refused(e) => e.class(),
            RegistryError::NotFound(_)
            | RegistryError::BaseBlobsMissing { .. }
            | RegistryError::MountRefused { .. } => ErrorClass::NotFound,
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = RegistryError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_registry_that_fails_is_a_network_error_and_a_wrong_digest_a_verdict() {
        let digest = |c: char| format!("sha256:{}", c.to_string().repeat(64)).parse::<Digest>().unwrap();
        let refused = genesis_trust::TrustError::BomSignatureInvalid { tried: "SHA256:x".into() };
        for (e, class) in [
            (
                RegistryError::Status { method: "PUT".into(), url: "u".into(), status: 500, body: String::new() },
                ErrorClass::Network,
            ),
            (RegistryError::Unauthorized { registry: "r".into(), detail: "d".into() }, ErrorClass::Network),
            (
                RegistryError::BadAnswer { url: "u".into(), detail: "manifest without a media type".into() },
                ErrorClass::Network,
            ),
            (RegistryError::Oversized { what: "blob".into(), expected: 1 }, ErrorClass::Verdict),
            (
                RegistryError::DigestMismatch { what: "blob".into(), expected: digest('a'), actual: digest('b') },
                ErrorClass::Verdict,
            ),
            (RegistryError::Refused(Box::new(refused)), ErrorClass::Verdict),
            (RegistryError::Invalid("bad reference".into()), ErrorClass::Input),
            (RegistryError::PlainHttp { url: "http://charts.example.com/index.yaml".into() }, ErrorClass::Input),
            (RegistryError::io("reading", "auth.json")(std::io::ErrorKind::NotFound.into()), ErrorClass::NotFound),
            (RegistryError::NotFound("demo/app:1".into()), ErrorClass::NotFound),
        ] {
            assert_eq!(e.class(), class, "{e}");
        }
    }
}
