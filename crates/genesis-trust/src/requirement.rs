//! What a trust policy requires beyond a trusted signature, as a small expression:
//! attestations and signers combined with all-of, any-of and k-of-n. Evaluated against the
//! evidence a verification established; the verdict explains itself.
//!
//! ```yaml
//! require:                        # a list is all-of
//!   - sbom
//!   - anyOf: [provenance, { signedBy: "SHA256:…" }]
//!   - threshold: 2
//!     of: [sbom, provenance, { signedBy: "SHA256:…" }]
//!   - scan: { maxAgeDays: 30, failOn: high }
//! ```

use std::collections::BTreeSet;

use genesis_types::Severity;

/// An attestation a bundle can carry.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord, serde::Deserialize, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Attestation {
    /// The bundle's CycloneDX SBOM, listed in the signed BOM.
    Sbom,
    /// SLSA provenance whose subject is the BOM, signed by the bundle key.
    Provenance,
}

impl std::fmt::Display for Attestation {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Attestation::Sbom => "SBOM",
            Attestation::Provenance => "SLSA provenance",
        })
    }
}

/// A requirement on the evidence.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(untagged, deny_unknown_fields)]
pub enum Requirement {
    /// The bundle carries this attestation, verified.
    Attestation(Attestation),
    /// The bundle was signed by this key (fingerprint `SHA256:…`).
    SignedBy {
        /// The key's fingerprint.
        #[serde(rename = "signedBy")]
        signed_by: String,
    },
    /// Every one holds.
    AllOf {
        /// The requirements.
        #[serde(rename = "allOf")]
        all_of: Vec<Requirement>,
    },
    /// At least one holds.
    AnyOf {
        /// The requirements.
        #[serde(rename = "anyOf")]
        any_of: Vec<Requirement>,
    },
    /// At least `threshold` of `of` hold.
    Threshold {
        /// How many must hold (at least 1).
        threshold: usize,
        /// The candidates.
        of: Vec<Requirement>,
    },
    /// The BOM records a vulnerability scan recent enough, with no finding at or above a
    /// severity that an exception does not cover.
    Scan {
        /// What the scan must show.
        scan: ScanRequirement,
    },
    /// A bare list: every one holds.
    List(Vec<Requirement>),
}

/// What a recorded vulnerability scan must show.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScanRequirement {
    /// How many days old the scan's knowledge may be: from its `asOf` (its database's newest
    /// record) to now.
    pub max_age_days: u64,
    /// The severity from which a finding without an exception fails.
    pub fail_on: Severity,
    /// Whether findings of unknown severity may lack an exception (by default they fail).
    #[serde(default)]
    pub allow_unknown: bool,
}

/// What the signed BOM's scan record shows, as of the verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanEvidence {
    /// When the scan ran (RFC 3339).
    pub as_of: String,
    /// Whole days from then to the verification.
    pub age_days: u64,
    /// The most severe finding without an exception, recomputed from the findings.
    pub worst_unexcepted: Option<Severity>,
    /// Whether a finding of unknown severity has no exception.
    pub unknown_unexcepted: bool,
}

/// What a verification established, for requirements to judge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// Fingerprints of the keys whose signatures over the bundle verified.
    pub signers: BTreeSet<String>,
    /// Attestations present and verified.
    pub attestations: BTreeSet<Attestation>,
    /// The vulnerability scan the signed BOM records, if any.
    pub scan: Option<ScanEvidence>,
}

impl Requirement {
    /// Refuses a requirement that is a mistake in the policy, not a rule, naming the field:
    /// an empty list anywhere in it (an empty all-of would hold for any bundle, and an empty
    /// any-of or threshold for none), or a threshold outside 1 to the number of its
    /// candidates (0 would hold for any bundle, more than the candidates for none). The
    /// policy file calls this as it loads; [`Requirement::evaluate`] fails closed on each all
    /// the same.
    pub fn validate(&self) -> Result<(), String> {
        let (field, parts) = match self {
            Requirement::Attestation(_) | Requirement::SignedBy { .. } | Requirement::Scan { .. } => return Ok(()),
            Requirement::AllOf { all_of } => ("allOf", all_of),
            Requirement::List(parts) => ("a list of requirements", parts),
            Requirement::AnyOf { any_of } => ("anyOf", any_of),
            Requirement::Threshold { of, .. } => ("the `of` of a threshold", of),
        };
        if parts.is_empty() {
            return Err(format!("{field} is empty: name at least one requirement in it, or leave it out"));
        }
        if let Requirement::Threshold { threshold, of } = self
            && !(1..=of.len()).contains(threshold)
        {
            let n = of.len();
            return Err(format!("threshold is {threshold} but `of` names {n}: make it between 1 and {n}"));
        }
        parts.iter().try_for_each(Requirement::validate)
    }

    /// Whether `evidence` satisfies this requirement, with a sentence saying why.
    pub fn evaluate(&self, evidence: &Evidence) -> (bool, String) {
        match self {
            Requirement::Attestation(a) => {
                let ok = evidence.attestations.contains(a);
                (ok, format!("{a} {}", if ok { "present" } else { "missing" }))
            }
            Requirement::SignedBy { signed_by } => {
                let ok = evidence.signers.contains(signed_by);
                (ok, format!("{} by {signed_by}", if ok { "signed" } else { "not signed" }))
            }
            Requirement::Scan { scan } => scan.evaluate(evidence.scan.as_ref()),
            Requirement::AllOf { all_of: parts } | Requirement::List(parts) => {
                let results: Vec<(bool, String)> = parts.iter().map(|r| r.evaluate(evidence)).collect();
                // All of nothing would accept anything: it never holds.
                let ok = !results.is_empty() && results.iter().all(|(ok, _)| *ok);
                (ok, format!("all of [{}]", join(&results)))
            }
            Requirement::AnyOf { any_of } => {
                let results: Vec<(bool, String)> = any_of.iter().map(|r| r.evaluate(evidence)).collect();
                let ok = results.iter().any(|(ok, _)| *ok);
                (ok, format!("any of [{}]", join(&results)))
            }
            Requirement::Threshold { threshold, of } => {
                let results: Vec<(bool, String)> = of.iter().map(|r| r.evaluate(evidence)).collect();
                let met = results.iter().filter(|(ok, _)| *ok).count();
                // A threshold of 0 would accept anything: it never holds.
                let ok = *threshold > 0 && met >= *threshold;
                (ok, format!("{met} of {} held, {threshold} required [{}]", of.len(), join(&results)))
            }
        }
    }
}

impl ScanRequirement {
    fn evaluate(&self, scan: Option<&ScanEvidence>) -> (bool, String) {
        let Some(scan) = scan else { return (false, "no vulnerability scan recorded in the BOM".into()) };
        let ScanRequirement { max_age_days, fail_on, allow_unknown } = self;
        let of = format!("scan as of {} ({} days old)", scan.as_of, scan.age_days);
        if scan.age_days > *max_age_days {
            return (false, format!("{of} is older than the {max_age_days} days allowed"));
        }
        match scan.worst_unexcepted {
            Some(worst) if worst >= *fail_on => {
                (false, format!("{of} has a {worst} finding without an exception (failOn: {fail_on})"))
            }
            _ if scan.unknown_unexcepted && !allow_unknown => (
                false,
                format!("{of} has a finding of unknown severity without an exception (allowUnknown is not set)"),
            ),
            _ => (true, format!("{of}: no finding at or above {fail_on} without an exception")),
        }
    }
}

fn join(results: &[(bool, String)]) -> String {
    results.iter().map(|(ok, why)| format!("{}{why}", if *ok { "✓ " } else { "✗ " })).collect::<Vec<_>>().join("; ")
}

#[cfg(test)]
mod tests {
    use super::*;

    fn evidence(sbom: bool, provenance: bool, signer: Option<&str>) -> Evidence {
        let mut e = Evidence::default();
        if sbom {
            e.attestations.insert(Attestation::Sbom);
        }
        if provenance {
            e.attestations.insert(Attestation::Provenance);
        }
        e.signers.extend(signer.map(str::to_owned));
        e
    }

    fn parse(yaml: &str) -> Requirement {
        serde_yaml_ng::from_str(yaml).unwrap()
    }

    /// Every combination of (sbom, provenance, signed by A) against each combinator.
    #[test]
    fn combinator_truth_tables() {
        let all = parse("allOf: [sbom, provenance, {signedBy: A}]");
        let any = parse("anyOf: [sbom, provenance, {signedBy: A}]");
        let two = parse("{threshold: 2, of: [sbom, provenance, {signedBy: A}]}");
        let list = parse("[sbom, provenance]");
        for sbom in [false, true] {
            for provenance in [false, true] {
                for signed in [false, true] {
                    let e = evidence(sbom, provenance, signed.then_some("A"));
                    let held = [sbom, provenance, signed].iter().filter(|b| **b).count();
                    assert_eq!(all.evaluate(&e).0, held == 3, "all-of {sbom} {provenance} {signed}");
                    assert_eq!(any.evaluate(&e).0, held >= 1, "any-of {sbom} {provenance} {signed}");
                    assert_eq!(two.evaluate(&e).0, held >= 2, "2-of-3 {sbom} {provenance} {signed}");
                    assert_eq!(list.evaluate(&e).0, sbom && provenance, "list {sbom} {provenance}");
                }
            }
        }
    }

    #[test]
    fn degenerate_combinators_fail_closed_and_nest() {
        let e = evidence(true, true, Some("A"));
        assert!(!parse("{threshold: 0, of: [sbom]}").evaluate(&e).0, "threshold 0 never holds");
        assert!(!parse("{threshold: 2, of: [sbom]}").evaluate(&e).0, "more than the candidates");
        assert!(!parse("anyOf: []").evaluate(&e).0, "an empty any-of holds nothing");
        assert!(!parse("{signedBy: B}").evaluate(&e).0);
        let nested = parse("allOf: [sbom, {anyOf: [{signedBy: B}, provenance]}]");
        assert!(nested.evaluate(&e).0);
        assert!(!nested.evaluate(&evidence(true, false, Some("A"))).0);
        let (_, why) = nested.evaluate(&evidence(true, false, Some("A")));
        assert!(why.contains("✗ SLSA provenance missing"), "{why}");
        assert!(serde_yaml_ng::from_str::<Requirement>("sbomm").is_err(), "a typo is an error, not a no-op");
    }

    /// An empty list, at the top or nested, holds for no evidence at all and is refused with
    /// the field it is in, and so is a threshold of 0 or of more than its candidates; the
    /// same lists with one member, and thresholds from 1 to the candidates, are well formed.
    #[test]
    fn empty_lists_and_impossible_thresholds_hold_nothing_and_are_refused_by_name() {
        let cases = [
            ("allOf: []", "allOf: [sbom]", "allOf is empty"),
            ("[]", "[sbom]", "a list of requirements is empty"),
            ("anyOf: []", "anyOf: [sbom]", "anyOf is empty"),
            ("{threshold: 1, of: []}", "{threshold: 1, of: [sbom]}", "the `of` of a threshold is empty"),
            ("[sbom, {allOf: []}]", "[sbom, {allOf: [sbom]}]", "allOf is empty"),
            ("{threshold: 1, of: [[]]}", "{threshold: 1, of: [[sbom]]}", "a list of requirements is empty"),
            ("{threshold: 0, of: [sbom]}", "{threshold: 1, of: [sbom]}", "threshold is 0 but `of` names 1"),
            (
                "{threshold: 3, of: [sbom, provenance]}",
                "{threshold: 2, of: [sbom, provenance]}",
                "threshold is 3 but `of` names 2",
            ),
            (
                "allOf: [sbom, {threshold: 2, of: [provenance]}]",
                "allOf: [sbom, {threshold: 1, of: [provenance]}]",
                "threshold is 2 but `of` names 1",
            ),
        ];
        for (empty, filled, why) in cases {
            let (empty, filled) = (parse(empty), parse(filled));
            assert_eq!(empty.validate().unwrap_err().split(':').next(), Some(why), "{empty:?}");
            assert_eq!(filled.validate(), Ok(()), "{filled:?}");
            for sbom in [false, true] {
                for provenance in [false, true] {
                    for signed in [false, true] {
                        let e = evidence(sbom, provenance, signed.then_some("A"));
                        assert!(!empty.evaluate(&e).0, "{empty:?} held for {e:?}");
                    }
                }
            }
        }
    }
}
