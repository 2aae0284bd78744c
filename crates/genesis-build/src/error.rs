//! The one error type of this crate.

use std::path::PathBuf;

/// What can go wrong building a bundle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BuildError {
    /// The spec file cannot be read.
    #[error("reading spec {}: {source}", path.display())]
    SpecIo {
        /// The spec file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The spec file is malformed: the message names the field and the line.
    #[error("{}: {message}", path.display())]
    Spec {
        /// The spec file.
        path: PathBuf,
        /// What is wrong, where.
        message: String,
    },
    /// An input named by the spec is missing or unusable.
    #[error("{}: {reason}", path.display())]
    Input {
        /// The input.
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// Manifests or chart values refer to images the bundle does not carry.
    #[error(
        "{} image reference(s) are not in the bundle; add them to spec.images or, if they are deliberately \
         pulled from elsewhere, to spec.allowUnbundledImages:\n  {}",
        missing.len(),
        missing.join("\n  ")
    )]
    UnbundledImages {
        /// `reference (where)` for each.
        missing: Vec<String>,
    },
    /// Pulling from a registry failed.
    #[error(transparent)]
    Registry(Box<genesis_registry::RegistryError>),
    /// Packing failed.
    #[error(transparent)]
    Bundle(#[from] genesis_bundle::BundleError),
    /// Signing failed.
    #[error(transparent)]
    Trust(#[from] genesis_trust::TrustError),
}

impl BuildError {
    /// An input error on `path`.
    pub fn input(path: impl Into<PathBuf>, reason: impl Into<String>) -> BuildError {
        BuildError::Input { path: path.into(), reason: reason.into() }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = BuildError> = std::result::Result<T, E>;
