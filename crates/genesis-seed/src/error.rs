//! The one error type of this crate, grouped by phase: what the caller asked for, the
//! registries, the verdict on the destination, the files read and written.

use std::path::PathBuf;

use genesis_registry::RegistryError;
use genesis_trust::TrustError;
use genesis_types::{Classify, ErrorClass};

/// What can go wrong seeding a registry, reading a catalog or publishing a roll-up.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum SeedError {
    // ---- the request
    /// No trust was given for a destination: neither a key nor a policy, and no explicit
    /// skip. There is no default trust, so nothing is copied.
    #[error("verification is fail-closed: give a public key or a policy, or explicitly skip verification")]
    NoTrust,
    /// The policy sidecars were asked for with a digest reference: the `<tag>-lock` and
    /// `<tag>-policy` tags are named after a tag, so a digest names none.
    #[error(
        "copying the policy sidecars requires tag-based source and destination references (the <tag>-lock and \
         <tag>-policy tags cannot be derived from a digest), and {reference} is pinned by digest: use tag references, \
         or seed the digest-pinned image alone without its sidecars"
    )]
    CopyPolicyNeedsTags {
        /// The digest reference.
        reference: String,
    },
    /// Something the caller gave is unusable: a reference, an option, a name.
    #[error("{what}: {reason}")]
    Input {
        /// What was given.
        what: String,
        /// What is wrong with it and what to do.
        reason: String,
    },
    /// A catalog file is not usable, naming the entry when one is at fault.
    #[error("catalog {}: {}{reason}", path.display(), entry.map(|n| format!("entry {n}: ")).unwrap_or_default())]
    Catalog {
        /// The catalog file (or what a catalog was built from).
        path: PathBuf,
        /// The entry at fault, counted from 1, if one is.
        entry: Option<usize>,
        /// What is wrong with it.
        reason: String,
    },
    /// A file given as a catalog roll-up is not one; it is never published under the
    /// roll-up's artifact type.
    #[error("{}: not a catalog-seed.v1 roll-up: {reason}", path.display())]
    NotRollup {
        /// The file.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },

    // ---- registries
    /// A registry failed or refused a request (its error names the URL).
    #[error(transparent)]
    Registry(Box<RegistryError>),
    /// The manifest at a reference could not be read: the seed fails closed rather than
    /// record a digest it could not resolve.
    #[error(
        "cannot resolve the {side} manifest {reference}: {source} (failing closed rather than record an empty digest)"
    )]
    Unresolvable {
        /// `source` or `destination`.
        side: &'static str,
        /// The reference.
        reference: String,
        /// Why it could not be read.
        #[source]
        source: Box<RegistryError>,
    },

    // ---- the verdict
    /// The destination failed one of the four steps, read back from the destination: the
    /// seed is not done, and no seed manifest was written.
    #[error("destination verification failed (fail-closed) at step {step}: {detail}")]
    Verification {
        /// `signature`, `digest`, `fingerprint` or `policy`.
        step: &'static str,
        /// What was found.
        detail: String,
    },
    /// A key or policy could not be loaded, or the anti-rollback state could not be read or
    /// written.
    #[error(transparent)]
    Trust(Box<TrustError>),

    // ---- files
    /// Reading or writing a local file failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl SeedError {
    /// Wraps an I/O error with what was being done and on which path.
    pub fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(std::io::Error) -> SeedError {
        let path = path.into();
        move |source| SeedError::Io { action, path, source }
    }
}

// The verifier's and the registry's errors are large: boxed, so that every result of this
// crate stays small.
impl From<TrustError> for SeedError {
    fn from(e: TrustError) -> Self {
        SeedError::Trust(Box::new(e))
    }
}

impl From<RegistryError> for SeedError {
    fn from(e: RegistryError) -> Self {
        SeedError::Registry(Box::new(e))
    }
}

/// A refused destination is a verdict; what the caller gave (the missing trust, a digest
/// reference for the sidecars, a catalog, a file that is no roll-up) is input; registries,
/// keys and local files say themselves.
impl Classify for SeedError {
    fn class(&self) -> ErrorClass {
        match self {
            SeedError::NoTrust
            | SeedError::CopyPolicyNeedsTags { .. }
            | SeedError::Input { .. }
            | SeedError::Catalog { .. }
            | SeedError::NotRollup { .. } => ErrorClass::Input,
            SeedError::Registry(source) | SeedError::Unresolvable { source, .. } => source.class(),
            SeedError::Verification { .. } => ErrorClass::Verdict,
            SeedError::Trust(e) => e.class(),
            SeedError::Io { source, .. } => source.class(),
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = SeedError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_destination_is_a_verdict_and_an_unreachable_source_says_itself() {
        let missing = RegistryError::NotFound("registry.example/app:1".into());
        let refused = RegistryError::Unauthorized { registry: "registry.example".into(), detail: "refused".into() };
        for (e, class) in [
            (SeedError::NoTrust, ErrorClass::Input),
            (SeedError::CopyPolicyNeedsTags { reference: "r@sha256:…".into() }, ErrorClass::Input),
            (SeedError::Verification { step: "digest", detail: "other bytes".into() }, ErrorClass::Verdict),
            (
                SeedError::Unresolvable { side: "source", reference: "r:1".into(), source: Box::new(missing) },
                ErrorClass::NotFound,
            ),
            (SeedError::from(refused), ErrorClass::Network),
            (SeedError::from(TrustError::NoTrustedKey), ErrorClass::Input),
            (SeedError::io("writing", "out")(std::io::ErrorKind::PermissionDenied.into()), ErrorClass::Input),
        ] {
            assert_eq!(e.class(), class, "{e}");
        }
    }

    #[test]
    fn the_fail_closed_gate_names_no_flag() {
        let message = SeedError::NoTrust.to_string();
        assert_eq!(
            message,
            "verification is fail-closed: give a public key or a policy, or explicitly skip verification"
        );
        assert!(!message.contains("--"), "{message}");
    }

    #[test]
    fn a_catalog_error_names_the_file_and_the_entry() {
        let e = SeedError::Catalog { path: "site.yaml".into(), entry: Some(2), reason: "missing field `to`".into() };
        assert_eq!(e.to_string(), "catalog site.yaml: entry 2: missing field `to`");
        let e = SeedError::Catalog { path: "site.yaml".into(), entry: None, reason: "version 2".into() };
        assert_eq!(e.to_string(), "catalog site.yaml: version 2");
    }
}
