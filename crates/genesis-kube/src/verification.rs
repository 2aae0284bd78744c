//! What an install verified of its bundle, in the words its report and the cluster's install
//! record keep: a re-load that did not read the payload again says so.

use genesis_trust::{AttestationReport, Sidecar, VerifyReport};

/// What an install verified of the bundle.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
pub struct Verification {
    /// How much of the payload was read.
    pub payload: String,
    /// The bundle's SBOM: `verified` (read and checked against the signed BOM) or `none`.
    pub sbom: String,
    /// The SLSA provenance: `verified` or `none`.
    pub provenance: String,
    /// The archive's `.sha256`, `.sig` and `.cosign.bundle`, which sign the whole file: each
    /// one's state, or `not checked`.
    pub sidecars: String,
}

impl Verification {
    /// A full pass: every entry and each sidecar present checked.
    pub(crate) fn payload_checked(report: &VerifyReport) -> Verification {
        let sidecar = |name: &str, state: &Sidecar, checked: &str| match state {
            Sidecar::Match { .. } => format!("{name} {checked}"),
            Sidecar::Absent { .. } => format!("{name} absent"),
        };
        let sidecars = [
            sidecar(".sha256", &report.sha256_sidecar, "matched"),
            sidecar(".sig", &report.signature_sidecar, "verified"),
            sidecar(".cosign.bundle", &report.cosign_bundle_sidecar, "verified"),
        ]
        .join(", ");
        let payload = "every entry checked against the signed BOM";
        Verification::new(payload, report.head.sbom.is_some(), report.head.provenance.is_some(), sidecars)
    }

    /// A re-load that found every blob in the registry: the attestations checked, the rest of
    /// the payload and the sidecars not read.
    pub(crate) fn payload_not_reread(attested: &AttestationReport) -> Verification {
        let payload = "not re-read, every blob already in the registry under its signed digest";
        Verification::new(payload, attested.sbom.is_some(), attested.provenance.is_some(), "not checked".to_owned())
    }

    fn new(payload: &str, sbom: bool, provenance: bool, sidecars: String) -> Verification {
        let state = |verified: bool| String::from(if verified { "verified" } else { "none" });
        Verification { payload: payload.to_owned(), sbom: state(sbom), provenance: state(provenance), sidecars }
    }

    /// Reads either form an install record holds: these fields, or the one line records
    /// written before them kept (`payload: …; sbom: …; provenance: …; sidecars: …`).
    pub(crate) fn from_record<'de, D: serde::Deserializer<'de>>(d: D) -> Result<Verification, D::Error> {
        #[derive(serde::Deserialize)]
        #[serde(untagged)]
        enum Form {
            Fields(Verification),
            Line(String),
        }
        Ok(match <Form as serde::Deserialize>::deserialize(d)? {
            Form::Fields(v) => v,
            Form::Line(line) => Verification::from_line(&line),
        })
    }

    /// The fields of an old record's line; a part it does not name is kept in `payload`.
    fn from_line(line: &str) -> Verification {
        let mut v = Verification::default();
        for part in line.split("; ").filter(|p| !p.is_empty()) {
            match part.split_once(": ") {
                Some(("payload", x)) => v.payload = x.to_owned(),
                Some(("sbom", x)) => v.sbom = x.to_owned(),
                Some(("provenance", x)) => v.provenance = x.to_owned(),
                Some(("sidecars", x)) => v.sidecars = x.to_owned(),
                _ if v.payload.is_empty() => v.payload = part.to_owned(),
                _ => v.payload = format!("{}; {part}", v.payload),
            }
        }
        v
    }
}

/// The one line the report prints and old install records kept.
impl std::fmt::Display for Verification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "payload: {}; sbom: {}; provenance: {}; sidecars: {}",
            self.payload, self.sbom, self.provenance, self.sidecars
        )
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_old_record_line_reads_back_as_its_fields() {
        let line = "payload: not re-read, every blob already in the registry under its signed digest; sbom: verified; provenance: none; sidecars: not checked";
        let v = Verification::from_line(line);
        assert_eq!((v.sbom.as_str(), v.provenance.as_str(), v.sidecars.as_str()), ("verified", "none", "not checked"));
        assert_eq!(v.to_string(), line);
        assert_eq!(Verification::from_line(""), Verification::default());
    }
}
