//! What a report says, built from a checked bundle: facts, no layout. The PDF and the HTML
//! page are both drawn from one [`ReleaseReport`] (through `document.rs`), so they carry the
//! same content.

use std::path::Path;

use genesis_bundle::{ChartEntry, ImageEntry, ManifestEntry};
use genesis_trust::provenance::ProvenanceSummary;
use genesis_trust::{AcceptedSigner, CheckedBundle, Sidecar, VerifyReport};
use genesis_types::Digest;

use crate::{ReportError, SbomTotals, hipaa};

/// Everything a release evidence report states about one bundle.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ReleaseReport {
    /// Bundle name, from the BOM.
    pub name: String,
    /// Bundle version, from the BOM.
    pub version: String,
    /// Build time the BOM records (RFC 3339): the only time the report states.
    pub created: String,
    /// The archive file.
    pub archive: ArchiveFacts,
    /// The signed bill of materials.
    pub bom: BomFacts,
    /// Who signed `bom.json` inside the archive: a trusted key (no transparency-log entry or
    /// timestamp records when) or a keyless identity (its log entry or timestamp does).
    pub signer: AcceptedSigner,
    /// The countersignatures over the same `bom.json` beside the archive that verified (a
    /// customer's, an integrator's: seed 002), each by a key the trust policy accepts; none
    /// when the bundle has none.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub countersigners: Vec<AcceptedSigner>,
    /// The trust policy applied.
    pub policy: PolicyFacts,
    /// The checks made, in the order the verifier made them; every one passed or found
    /// nothing to check.
    pub checks: Vec<Check>,
    /// The verified SLSA provenance, when the bundle carries one.
    pub provenance: Option<ProvenanceSummary>,
    /// Every image the BOM lists.
    pub images: Vec<ImageEntry>,
    /// Every chart the BOM lists.
    pub charts: Vec<ChartEntry>,
    /// Every manifest the BOM lists.
    pub manifests: Vec<ManifestEntry>,
    /// The totals of the bundle's SBOM, when the BOM lists one.
    pub sbom: Option<SbomTotals>,
    /// The vulnerability scan the signed BOM records: its database, threshold and every
    /// finding with its exception; absent when the builder ran none.
    pub scan: Option<genesis_bundle::ScanRecord>,
    /// The HIPAA Security Rule technical safeguards this evidence supports, each with what it
    /// shows and what it does not.
    pub safeguards: Vec<Safeguard>,
}

/// The archive file as verified.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct ArchiveFacts {
    /// Its file name (not the folder it was read from, so the report does not depend on it).
    pub file: String,
    /// Its size in bytes.
    pub size: u64,
    /// Its SHA-256.
    pub sha256: Digest,
}

/// The BOM as verified.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct BomFacts {
    /// SHA-256 of `bom.json`, what the signature covers.
    pub sha256: Digest,
    /// BLAKE3 of `bom.json` (hex), the fingerprint install records cite.
    pub blake3: String,
    /// Payload files checked against it.
    pub files: u64,
    /// Payload bytes checked.
    pub payload_bytes: u64,
}

/// The trust policy applied.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PolicyFacts {
    /// How it was given (a key file, a policy file), as the caller said.
    pub given: String,
    /// What it decided beyond the signature, with its evidence.
    pub decisions: Vec<String>,
}

/// One check of the verification.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Check {
    /// What was checked.
    pub what: String,
    /// How it came out.
    pub outcome: Outcome,
    /// What was found, with its evidence.
    pub evidence: String,
}

/// How a check came out. There is no failure: a bundle that failed a check has no report.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Outcome {
    /// Checked, and it held.
    Passed,
    /// Nothing to check: the bundle carries no such thing (an optional sidecar, provenance).
    Absent,
}

impl Outcome {
    /// The word the report prints.
    pub fn label(self) -> &'static str {
        match self {
            Outcome::Passed => "passed",
            Outcome::Absent => "not present",
        }
    }
}

/// One technical safeguard of the HIPAA Security Rule (45 CFR §164.312) and what this
/// evidence says about it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Safeguard {
    /// The section, e.g. `§164.312(c)(1)`.
    pub section: &'static str,
    /// Its name, e.g. `Integrity`.
    pub title: &'static str,
    /// What the standard asks, in its words.
    pub standard: &'static str,
    /// What this evidence shows towards it.
    pub shows: Vec<String>,
    /// What this evidence does not show.
    pub does_not_show: Vec<String>,
}

impl ReleaseReport {
    /// The report of a bundle that passed every check; `policy` says how the trust policy
    /// was given. Reads the SBOM the check kept, counting its components.
    pub fn of(checked: &CheckedBundle, policy: &str) -> Result<ReleaseReport, ReportError> {
        let r = checked.report();
        let bom = checked.bom();
        let sbom = match (&r.head.sbom, checked.sbom()) {
            (Some(path), Some(document)) => Some(SbomTotals::from_cyclonedx(path, document)?),
            _ => None,
        };
        let mut report = ReleaseReport {
            name: bom.name.clone(),
            version: bom.version.clone(),
            created: bom.created.clone(),
            archive: ArchiveFacts {
                file: file_name(&r.bundle),
                size: r.archive_size,
                sha256: r.archive_sha256.clone(),
            },
            bom: BomFacts {
                sha256: r.head.bom_sha256.clone(),
                blake3: r.head.bom_blake3.clone(),
                files: r.files,
                payload_bytes: r.payload_bytes,
            },
            signer: r.head.signer.clone(),
            countersigners: r.head.countersigners.clone(),
            policy: PolicyFacts { given: policy.to_owned(), decisions: r.head.policy.clone() },
            checks: checks(r),
            provenance: r.head.provenance.clone(),
            images: bom.images.clone(),
            charts: bom.charts.clone(),
            manifests: bom.manifests.clone(),
            sbom,
            scan: bom.scan.clone(),
            safeguards: Vec::new(),
        };
        report.safeguards = hipaa::safeguards(&report);
        Ok(report)
    }

    /// Whether the `.sha256` sidecar was there and matched.
    pub(crate) fn sha256_sidecar_checked(&self) -> bool {
        self.passed(SHA256_SIDECAR)
    }

    /// Whether the `.sig` or `.cosign.bundle` sidecar was there and verified.
    pub(crate) fn detached_signature_checked(&self) -> bool {
        self.passed(SIG_SIDECAR) || self.passed(COSIGN_SIDECAR)
    }

    fn passed(&self, what: &str) -> bool {
        self.checks.iter().any(|c| c.what == what && c.outcome == Outcome::Passed)
    }
}

const SHA256_SIDECAR: &str = "Digest sidecar (.sha256)";
const SIG_SIDECAR: &str = "Detached signature (.sig)";
const COSIGN_SIDECAR: &str = "Sigstore bundle (.cosign.bundle)";

/// The checks of `r`, in the order the verifier makes them: the signature before the BOM is
/// parsed, the provenance and the policy before any payload byte, the payload and the SBOM
/// in one pass, then the sidecars.
fn checks(r: &VerifyReport) -> Vec<Check> {
    let passed = |what: &str, evidence: String| Check { what: what.to_owned(), outcome: Outcome::Passed, evidence };
    let absent = |what: &str, evidence: String| Check { what: what.to_owned(), outcome: Outcome::Absent, evidence };
    let mut checks = vec![
        passed(
            "BOM signature",
            format!("the signature over bom.json ({}) verifies with {}", r.head.bom_sha256, r.head.signer),
        ),
        passed(
            "BOM",
            format!(
                "parsed and consistent; it lists files: {}, images: {}, charts: {}, manifests: {}",
                r.files, r.images, r.charts, r.manifests
            ),
        ),
        match &r.head.provenance {
            Some(p) => passed(
                "SLSA provenance",
                format!(
                    "in-toto statement v1 with a SLSA v1 predicate, signed by the same key, its subject this BOM; builder {}",
                    p.builder_id
                ),
            ),
            None => absent("SLSA provenance", "the bundle carries none".to_owned()),
        },
    ];
    checks.extend(r.head.countersigners.iter().map(|countersigner| {
        let evidence =
            format!("a countersignature beside the archive over the same bom.json verifies with {countersigner}");
        passed("Countersignature", evidence)
    }));
    checks.extend(r.head.policy.iter().map(|decision| passed("Trust policy", decision.clone())));
    checks.push(passed(
        "Payload",
        format!(
            "{} files, {} bytes, each hashed as it streamed and equal to its SHA-256 in the BOM; none missing, none unlisted",
            r.files, r.payload_bytes
        ),
    ));
    checks.push(match &r.head.sbom {
        Some(path) => passed("SBOM", format!("{path} matches its digest and names every image, chart and manifest")),
        None => absent("SBOM", "the BOM lists none".to_owned()),
    });
    checks.push(match &r.sha256_sidecar {
        Sidecar::Match { path } => {
            let listed: String =
                r.sha256_listed.iter().map(|p| format!("; {}, which it lists too, matches", file_name(p))).collect();
            passed(
                SHA256_SIDECAR,
                format!("{} names the archive's SHA-256 {}{listed}", file_name(path), r.archive_sha256),
            )
        }
        Sidecar::Absent { path } => absent(SHA256_SIDECAR, format!("{} not beside the archive", file_name(path))),
    });
    checks.push(match &r.signature_sidecar {
        Sidecar::Match { path } => {
            passed(SIG_SIDECAR, format!("{}: a signature over the archive by the trusted key", file_name(path)))
        }
        Sidecar::Absent { path } => absent(SIG_SIDECAR, format!("{} not beside the archive", file_name(path))),
    });
    checks.push(match &r.cosign_bundle_sidecar {
        Sidecar::Match { path } => passed(
            COSIGN_SIDECAR,
            format!("{}: key-signed over the archive, verified without a transparency log", file_name(path)),
        ),
        Sidecar::Absent { path } => absent(COSIGN_SIDECAR, format!("{} not beside the archive", file_name(path))),
    });
    checks
}

/// The last component of `path`: the report names files, not the folders they were read in.
pub(crate) fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}
