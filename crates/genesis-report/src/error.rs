//! The one error type of this crate.

use std::path::PathBuf;

use genesis_types::{Classify, ErrorClass};

/// What can go wrong building or writing a report.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ReportError {
    /// The bundle's SBOM, though signed and complete, is not a CycloneDX JSON document whose
    /// components can be counted.
    #[error("SBOM {path}: {reason}")]
    Sbom {
        /// Its path inside the bundle.
        path: String,
        /// What is wrong with it.
        reason: String,
    },
    /// A font the PDF embeds could not be read or subset.
    #[error("font {font}: {reason}")]
    Font {
        /// The font's name.
        font: &'static str,
        /// What failed.
        reason: String,
    },
    /// The report could not be written.
    #[error("writing {}: {source}", path.display())]
    Write {
        /// Where it was to be written.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

/// An SBOM that cannot be read is a verdict on the bundle that carries it; a font that
/// cannot be used is this program's fault, reported as input; a write failure is classified
/// by its I/O error.
impl Classify for ReportError {
    fn class(&self) -> ErrorClass {
        match self {
            ReportError::Sbom { .. } => ErrorClass::Verdict,
            ReportError::Font { .. } => ErrorClass::Input,
            ReportError::Write { source, .. } => source.class(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_unreadable_sbom_is_a_verdict_and_a_missing_folder_is_not_found() {
        let sbom = ReportError::Sbom { path: "sbom/bundle.cdx.json".into(), reason: "not JSON".into() };
        assert_eq!(sbom.class(), ErrorClass::Verdict);
        let missing =
            ReportError::Write { path: "no/such/dir/r.pdf".into(), source: std::io::ErrorKind::NotFound.into() };
        assert_eq!(missing.class(), ErrorClass::NotFound);
        assert_eq!(ReportError::Font { font: "DejaVu Sans", reason: "x".into() }.class(), ErrorClass::Input);
    }
}
