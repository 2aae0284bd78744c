//! The release evidence report: what an offline verification established about one bundle,
//! as a document a compliance officer reads (decision 0028). It is built only from a
//! [`CheckedBundle`], the proof that every check passed, so a bundle that failed has no
//! report. It names the bundle, its digests, who signed it and what was verified in order,
//! the provenance, the images, charts and manifests, the SBOM's totals and the trust policy,
//! then maps that evidence to the HIPAA Security Rule's technical safeguards, saying what
//! it shows and what it does not: a report is evidence, not a certification.
//!
//! One [`ReleaseReport`] is rendered as a PDF (A4, fonts embedded, so it opens the same on an
//! air-gapped machine) or as one self-contained HTML page, with the same content. Both are
//! deterministic: the only time in them is the BOM's `created`, so the same bundle, sidecars
//! and trust policy give the same bytes.
//!
//! ```no_run
//! use std::path::Path;
//!
//! use genesis_report::{Format, default_path, write_report};
//! use genesis_trust::{PublicKey, TrustPolicy, UnverifiedBundle};
//!
//! let archive = Path::new("demo-0.1.0.tar.zst");
//! let policy = TrustPolicy::from_keys(vec![PublicKey::from_pem_file(Path::new("cosign.pub"))?])?;
//! let checked = UnverifiedBundle::open(archive, &Default::default())?.verify(&policy)?.check()?;
//! let written = write_report(&checked, "trusted key cosign.pub", &default_path(archive, Format::Pdf), Format::Pdf)?;
//! println!("wrote {}", written.display());
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod document;
mod error;
mod hipaa;
mod html;
mod model;
mod pdf;
mod sbom;

use std::path::{Path, PathBuf};

pub use error::ReportError;
use genesis_trust::CheckedBundle;
pub use model::{ArchiveFacts, BomFacts, Check, Outcome, PolicyFacts, ReleaseReport, Safeguard};
pub use sbom::{NOT_DECLARED, SbomTotals, UNSPECIFIED};

/// What the PDF report of `NAME.tar.zst` is called beside it: `NAME.tar.zst.report.pdf`.
pub const PDF_SUFFIX: &str = ".report.pdf";
/// What the HTML report of `NAME.tar.zst` is called beside it: `NAME.tar.zst.report.html`.
pub const HTML_SUFFIX: &str = ".report.html";

/// The form of a report.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Format {
    /// A4 PDF, its fonts embedded.
    Pdf,
    /// One HTML page, its style inline, with no external asset.
    Html,
}

impl Format {
    /// The suffix of a report of this form beside its archive: [`PDF_SUFFIX`] or
    /// [`HTML_SUFFIX`].
    pub fn suffix(self) -> &'static str {
        match self {
            Format::Pdf => PDF_SUFFIX,
            Format::Html => HTML_SUFFIX,
        }
    }
}

/// Where the report of `archive` goes by default: beside it, its name plus
/// [`Format::suffix`].
pub fn default_path(archive: &Path, format: Format) -> PathBuf {
    genesis_bundle::path_with_suffix(archive, format.suffix())
}

/// How a trust policy read from files is stated in a report: `policy file NAME`, or `trusted
/// key NAME` (`trusted keys A, B`), each file by its name alone, not the path it was given by,
/// so that the report does not depend on the folder it was made from.
pub fn policy_of_files(policy_file: Option<&Path>, keys: &[PathBuf]) -> String {
    match policy_file {
        Some(file) => format!("policy file {}", model::file_name(file)),
        None => {
            let names: Vec<String> = keys.iter().map(|key| model::file_name(key)).collect();
            format!("trusted key{} {}", if names.len() == 1 { "" } else { "s" }, names.join(", "))
        }
    }
}

/// Builds the report of a bundle that passed every check and writes it to `out` atomically
/// (a reader sees no file or the whole report); `policy` says how the trust policy was given
/// (a key file, a policy file: see [`policy_of_files`]), for the report. Returns the path
/// written.
pub fn write_report(checked: &CheckedBundle, policy: &str, out: &Path, format: Format) -> Result<PathBuf, ReportError> {
    let report = ReleaseReport::of(checked, policy)?;
    let bytes = render(&report, format)?;
    genesis_bundle::scratch::atomic_write(out, &bytes)
        .map_err(|source| ReportError::Write { path: out.to_owned(), source })?;
    Ok(out.to_owned())
}

/// The bytes of `report` in `format`: the same report gives the same bytes.
pub fn render(report: &ReleaseReport, format: Format) -> Result<Vec<u8>, ReportError> {
    let document = document::Document::of(report);
    match format {
        Format::Pdf => pdf::render(&document),
        Format::Html => Ok(html::render(&document).into_bytes()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_policy_is_stated_by_its_files_names_not_the_paths_they_were_given_by() {
        let keys = [PathBuf::from("../keys/vendor.pub")];
        assert_eq!(policy_of_files(None, &keys), "trusted key vendor.pub");
        let keys = [PathBuf::from("/etc/genesis/a.pub"), PathBuf::from("b.pub")];
        assert_eq!(policy_of_files(None, &keys), "trusted keys a.pub, b.pub");
        assert_eq!(policy_of_files(Some(Path::new("conf/trust.yaml")), &[]), "policy file trust.yaml");
    }
}
