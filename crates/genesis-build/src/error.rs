//! The one error type of this crate.

use std::path::PathBuf;

use genesis_types::{Classify, ErrorClass};

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
    #[cfg(feature = "pull")]
    #[error(transparent)]
    Registry(Box<genesis_registry::RegistryError>),
    /// The async runtime the pull runs on could not start.
    #[cfg(feature = "pull")]
    #[error("starting the async runtime for the pull")]
    Runtime(#[source] std::io::Error),
    /// The spec needs the network (registry or chart-repository sources, or source signatures
    /// to check), and this build of the crate has no `pull` feature.
    #[error(
        "{}, which needs the `pull` feature of genesis-build; this build was compiled without it: \
         enable the feature, or build from local sources only (oci: layouts, chart paths)",
        needing_pull(hosts)
    )]
    PullNotBuilt {
        /// The registries and chart repositories the spec pulls from; empty when only source
        /// signatures were to be checked.
        hosts: Vec<String>,
    },
    /// Packing failed.
    #[error(transparent)]
    Bundle(#[from] genesis_bundle::BundleError),
    /// Signing failed, or the fresh bundle did not verify for its report.
    #[error(transparent)]
    Trust(#[from] genesis_trust::TrustError),
    /// The release evidence report could not be written.
    #[error(transparent)]
    Report(#[from] genesis_report::ReportError),
    /// The OSV database, the scan policy or an exception document could not be read.
    #[error(transparent)]
    Scan(#[from] genesis_scan::ScanError),
    /// A release pipeline's signature does not verify over what this build signs
    /// ([`build_external`](crate::build_external)): nothing was written.
    #[error("the pipeline's {what} signature {reason}")]
    ExternalSignature {
        /// `BOM` or `provenance`.
        what: &'static str,
        /// Why, with the key tried, and what to sign again.
        reason: String,
    },
    /// A signature file cannot be read or is not a signature
    /// ([`read_signature`](crate::read_signature)).
    #[error("{}: {reason}", path.display())]
    SignatureFile {
        /// The file.
        path: PathBuf,
        /// What is wrong and what to give instead.
        reason: String,
    },
    /// The base of a delta (`--base`, decision 0043) could not be read, or did not verify as
    /// signed by the signer this build signs as: a delta names only a base its own vendor
    /// signed. Nothing was written.
    #[error(
        "--base {}: the base bundle was refused; a delta may only name a base signed by the key (or keyless \
         identity) this build signs with, and verified as a loader verifies it",
        path.display()
    )]
    Base {
        /// The base given.
        path: PathBuf,
        /// Why it was refused.
        #[source]
        source: Box<genesis_trust::TrustError>,
    },
    /// The vulnerability gate failed (`--scan-policy`): no bundle was written.
    #[error("the vulnerability gate failed, so no bundle was written: {}\n{table}", reasons.join("; "))]
    ScanFailed {
        /// Why, a sentence each.
        reasons: Vec<String>,
        /// The findings, as `genesis scan` prints them.
        table: String,
    },
}

impl BuildError {
    /// An input error on `path`.
    pub fn input(path: impl Into<PathBuf>, reason: impl Into<String>) -> BuildError {
        BuildError::Input { path: path.into(), reason: reason.into() }
    }
}

/// What asks for the network, for [`BuildError::PullNotBuilt`].
fn needing_pull(hosts: &[String]) -> String {
    if hosts.is_empty() {
        "checking source image signatures pulls them from their registries".to_owned()
    } else {
        format!("the spec pulls from {}", hosts.join(", "))
    }
}

/// What the spec names, and a signature file, are the caller's input; a pipeline's signature
/// that does not verify is a verdict; pulling, packing and signing failures are classified by
/// the crate that failed.
impl Classify for BuildError {
    fn class(&self) -> ErrorClass {
        match self {
            BuildError::SpecIo { source, .. } => source.class(),
            BuildError::Spec { .. }
            | BuildError::Input { .. }
            | BuildError::UnbundledImages { .. }
            | BuildError::PullNotBuilt { .. }
            | BuildError::SignatureFile { .. } => ErrorClass::Input,
            #[cfg(feature = "pull")]
            BuildError::Registry(e) => e.class(),
            #[cfg(feature = "pull")]
            BuildError::Runtime(source) => source.class(),
            BuildError::Bundle(e) => e.class(),
            BuildError::Trust(e) => e.class(),
            BuildError::Base { source, .. } => source.class(),
            BuildError::Report(e) => e.class(),
            BuildError::Scan(e) => e.class(),
            BuildError::ScanFailed { .. } | BuildError::ExternalSignature { .. } => ErrorClass::Verdict,
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = BuildError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_spec_problem_is_input_and_a_wrapped_error_keeps_its_class() {
        let missing_spec =
            BuildError::SpecIo { path: "bundle.yaml".into(), source: std::io::ErrorKind::NotFound.into() };
        let cases = [
            (BuildError::input("charts/web", "not a chart"), ErrorClass::Input),
            (BuildError::UnbundledImages { missing: vec!["nginx (manifests/a.yaml)".into()] }, ErrorClass::Input),
            (missing_spec, ErrorClass::NotFound),
            (BuildError::PullNotBuilt { hosts: vec!["registry.example.com".into()] }, ErrorClass::Input),
            (BuildError::ExternalSignature { what: "BOM", reason: "does not verify".into() }, ErrorClass::Verdict),
            (BuildError::SignatureFile { path: "bom.json.sig".into(), reason: "bad base64".into() }, ErrorClass::Input),
            (BuildError::Bundle(genesis_bundle::BundleError::Corrupt { detail: "frame".into() }), ErrorClass::Verdict),
            (BuildError::Trust(genesis_trust::TrustError::NoTrustedKey), ErrorClass::Input),
            #[cfg(feature = "pull")]
            (
                BuildError::Registry(Box::new(genesis_registry::RegistryError::Unauthorized {
                    registry: "r".into(),
                    detail: "d".into(),
                })),
                ErrorClass::Network,
            ),
        ];
        for (e, class) in cases {
            assert_eq!(e.class(), class, "{e}");
        }
    }
}
