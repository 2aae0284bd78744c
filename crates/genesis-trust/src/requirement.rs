//! What a trust policy requires beyond a trusted signature, as a small expression:
//! attestations and signers combined with all-of, any-of and k-of-n. Evaluated against the
//! evidence a verification established; the verdict explains itself.
//!
//! ```yaml
//! require:                        # a list is all-of
//!   - sbom
//!   - anyOf: [provenance, { signedBy: "SHA256:…" }]
//!   - signedBy: customer.pub      # a key file, relative to the policy: read as its fingerprint
//!   - threshold: 2
//!     of: [sbom, provenance, { signedBy: "SHA256:…" }]
//!   - scan: { maxAgeDays: 30, failOn: high }   # allowUnknown, allowIncompleteInventory: false
//! ```

use std::collections::BTreeSet;
use std::fmt;

use genesis_types::Severity;
use serde::de::{self, Deserialize, Deserializer, MapAccess, SeqAccess, Unexpected, Visitor};

use crate::AcceptedSigner;

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

/// A requirement on the evidence. Read by hand ([`Requirement`]'s `Deserialize`) rather than
/// as an untagged enum, so that a mistake is named where it is: the kind of a map by its one
/// key, then the fields of that kind, instead of "data did not match any variant".
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Requirement {
    /// The bundle carries this attestation, verified.
    Attestation(Attestation),
    /// The bundle was signed by this signer: inside the archive or by a countersignature
    /// beside it. A policy file names a key by its fingerprint (`SHA256:…`) or by its file,
    /// which it reads as its fingerprint as it loads ([`Requirement::visit_signed_by`]).
    SignedBy {
        /// The key's fingerprint (or, until resolved, its file).
        signed_by: String,
    },
    /// Every one holds.
    AllOf {
        /// The requirements.
        all_of: Vec<Requirement>,
    },
    /// At least one holds.
    AnyOf {
        /// The requirements.
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
    /// severity that an exception does not cover at verification time, and no gap in its
    /// package inventory unless allowed.
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
    #[serde(deserialize_with = "fail_on")]
    pub fail_on: Severity,
    /// Whether findings of unknown severity may lack an exception (by default they fail).
    #[serde(default)]
    pub allow_unknown: bool,
    /// Whether the scan may have skipped gaps in its package inventory (what the inventory
    /// saw but could not read, which the builder's policy let pass). By default a record with
    /// any fails: packages not inventoried were not scanned, and the builder's policy is the
    /// vendor's, not the site's.
    #[serde(default)]
    pub allow_incomplete_inventory: bool,
}

/// What the signed BOM's scan record shows, as of the verification.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ScanEvidence {
    /// When the scan ran (RFC 3339).
    pub as_of: String,
    /// When it was judged (RFC 3339): the verifier's clock.
    pub judged_at: String,
    /// Whole days from `as_of` to the verification; `None` when the verifier's clock is
    /// before `as_of`. Such a clock is not the time (the scan's database holds records
    /// modified later): a host without a real-time clock, say, still at the date it booted
    /// with. It would read every scan as new and keep alive every exception that has expired
    /// since, so the requirement refuses it.
    pub age_days: Option<u64>,
    /// The most severe finding without an exception at the verification, recomputed from the
    /// findings.
    pub worst_unexcepted: Option<Severity>,
    /// Whether a finding of unknown severity has no exception at the verification.
    pub unknown_unexcepted: bool,
    /// Findings the builder excepted whose exception has expired since.
    pub expired_since: u64,
    /// Gaps in the package inventory the scan skipped, listed and counted.
    pub gaps: u64,
    /// The first of them, to name in a refusal.
    pub first_gap: Option<String>,
}

impl ScanEvidence {
    /// What `scan` shows at `now` (Unix seconds): its age in whole days (none when `now` is
    /// before its `asOf`), its worst finding without an exception at `now`, recomputed from
    /// the findings, and the gaps its inventory skipped. A finding whose OpenVEX statement
    /// says `affected` or `under_investigation`, or whose exception had expired when the
    /// builder judged it or has expired by `now`, has no exception: an exception granted for a
    /// month does not pass a bundle verified after it.
    pub fn of(scan: &genesis_bundle::ScanRecord, now: u64) -> ScanEvidence {
        let scanned = genesis_bundle::parse_rfc3339(&scan.as_of).unwrap_or(0);
        ScanEvidence {
            as_of: scan.as_of.clone(),
            judged_at: genesis_bundle::rfc3339(now),
            age_days: now.checked_sub(scanned).map(|age| age / 86_400),
            worst_unexcepted: scan.worst_unexcepted_at(now),
            unknown_unexcepted: scan.unknown_unexcepted_at(now),
            expired_since: scan.expired_since(now),
            gaps: scan.gap_count(),
            first_gap: scan.gaps.first().cloned(),
        }
    }
}

/// What a verification established, for requirements to judge.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Evidence {
    /// Who signed the bundle: the signature inside the archive and every countersignature
    /// that verified, as [`Evidence::add_signer`] names them.
    pub signers: BTreeSet<String>,
    /// Attestations present and verified.
    pub attestations: BTreeSet<Attestation>,
    /// The vulnerability scan the signed BOM records, if any.
    pub scan: Option<ScanEvidence>,
}

impl Evidence {
    /// Adds `signer`, whose signature over the BOM verified, in the form a `signedBy` names
    /// it: a key by its fingerprint, a keyless identity as reports print it.
    pub fn add_signer(&mut self, signer: &AcceptedSigner) {
        self.signers.insert(match signer {
            AcceptedSigner::Key { fingerprint } => fingerprint.clone(),
            identity @ AcceptedSigner::Identity { .. } => identity.to_string(),
        });
    }
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

    /// Calls `visit` with each `signedBy` value, at any depth, in the order written, to read it
    /// or replace it: the policy file, as it loads, reads a key file as its key's fingerprint
    /// (a policy names the keys it requires as it names those it trusts, `signedBy:
    /// customer.pub`, while evidence knows signers by fingerprint) and refuses a value no
    /// signature could ever meet, rather than judging it "not signed" at every bundle.
    pub fn visit_signed_by<E>(&mut self, visit: &mut dyn FnMut(&mut String) -> Result<(), E>) -> Result<(), E> {
        match self {
            Requirement::SignedBy { signed_by } => visit(signed_by),
            Requirement::AllOf { all_of: parts }
            | Requirement::AnyOf { any_of: parts }
            | Requirement::Threshold { of: parts, .. }
            | Requirement::List(parts) => parts.iter_mut().try_for_each(|part| part.visit_signed_by(visit)),
            Requirement::Attestation(_) | Requirement::Scan { .. } => Ok(()),
        }
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

/// What a requirement can be, for the messages that refuse one.
const REQUIREMENT_FORMS: &str =
    "sbom, provenance, a list, or a map of one of signedBy, allOf, anyOf, threshold (with of), scan";

impl<'de> Deserialize<'de> for Requirement {
    fn deserialize<D: Deserializer<'de>>(deserializer: D) -> Result<Requirement, D::Error> {
        deserializer.deserialize_any(RequirementVisitor)
    }
}

/// Reads a requirement by its shape: a name is an attestation, a list is all-of, and a map
/// is the kind its key names, whose value is then read as that kind alone, so that its
/// errors (a field, a value) reach the policy's reader with their place in the file.
struct RequirementVisitor;

impl<'de> Visitor<'de> for RequirementVisitor {
    type Value = Requirement;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "a requirement: {REQUIREMENT_FORMS}")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Requirement, E> {
        Attestation::deserialize(de::value::StrDeserializer::<E>::new(name))
            .map(Requirement::Attestation)
            .map_err(|_| E::custom(format!("unknown requirement `{name}`: expected {REQUIREMENT_FORMS}")))
    }

    fn visit_seq<A: SeqAccess<'de>>(self, seq: A) -> Result<Requirement, A::Error> {
        Vec::deserialize(de::value::SeqAccessDeserializer::new(seq)).map(Requirement::List)
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> Result<Requirement, A::Error> {
        let Some(kind) = map.next_key::<String>()? else {
            return Err(de::Error::custom(format!("an empty map is no requirement: expected {REQUIREMENT_FORMS}")));
        };
        let requirement = match kind.as_str() {
            "signedBy" => Requirement::SignedBy { signed_by: map.next_value()? },
            "allOf" => Requirement::AllOf { all_of: map.next_value()? },
            "anyOf" => Requirement::AnyOf { any_of: map.next_value()? },
            "scan" => Requirement::Scan { scan: map.next_value()? },
            "threshold" | "of" => return threshold(&kind, map),
            other => {
                return Err(de::Error::custom(format!(
                    "unknown requirement `{other}`: a map's key is one of signedBy, allOf, anyOf, threshold (with of), scan"
                )));
            }
        };
        match map.next_key::<String>()? {
            None => Ok(requirement),
            Some(beside) => Err(de::Error::custom(format!(
                "`{beside}` beside `{kind}`: a map names one requirement; make each an item of a list (all must hold)"
            ))),
        }
    }
}

/// The rest of a `{threshold: N, of: [...]}` map, whose key `first` was read: its two fields
/// in either order, each once, and no other.
fn threshold<'de, A: MapAccess<'de>>(first: &str, mut map: A) -> Result<Requirement, A::Error> {
    let (mut threshold, mut of): (Option<usize>, Option<Vec<Requirement>>) = (None, None);
    let mut key = Some(first.to_owned());
    while let Some(field) = key {
        match field.as_str() {
            "threshold" if threshold.is_none() => threshold = Some(map.next_value()?),
            "of" if of.is_none() => of = Some(map.next_value()?),
            "threshold" => return Err(de::Error::duplicate_field("threshold")),
            "of" => return Err(de::Error::duplicate_field("of")),
            other => return Err(de::Error::unknown_field(other, &["threshold", "of"])),
        }
        key = map.next_key()?;
    }
    match (threshold, of) {
        (Some(threshold), Some(of)) => Ok(Requirement::Threshold { threshold, of }),
        (None, _) => Err(de::Error::missing_field("threshold")),
        (_, None) => Err(de::Error::missing_field("of")),
    }
}

/// Reads `failOn` by a severity's lowercase name. Serde's own message for an unknown
/// variant lists the severities lowest first, `unknown` at their head, which reads as the
/// one to pick.
fn fail_on<'de, D: Deserializer<'de>>(deserializer: D) -> Result<Severity, D::Error> {
    deserializer.deserialize_str(FailOn)
}

/// See [`fail_on`]; the error is made as the value is read, so it carries the field's place.
struct FailOn;

impl Visitor<'_> for FailOn {
    type Value = Severity;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("one of critical, high, medium, low (or unknown, to fail on every finding without an exception)")
    }

    fn visit_str<E: de::Error>(self, name: &str) -> Result<Severity, E> {
        Severity::ALL
            .into_iter()
            .find(|s| s.as_str() == name)
            .ok_or_else(|| E::invalid_value(Unexpected::Str(name), &self))
    }
}

impl ScanRequirement {
    fn evaluate(&self, scan: Option<&ScanEvidence>) -> (bool, String) {
        let Some(scan) = scan else { return (false, "no vulnerability scan recorded in the BOM".into()) };
        let ScanRequirement { max_age_days, fail_on, allow_unknown, allow_incomplete_inventory } = self;
        let Some(age_days) = scan.age_days else {
            return (
                false,
                format!(
                    "this host's clock reads {}, behind the scan's knowledge date {} (asOf): neither its age nor \
                     its exceptions' expiries can be judged; set the clock to the current time and verify again",
                    scan.judged_at, scan.as_of
                ),
            );
        };
        let of = format!("scan as of {} ({age_days} days old)", scan.as_of);
        if age_days > *max_age_days {
            return (false, format!("{of} is older than the {max_age_days} days allowed"));
        }
        let gaps = counted(scan.gaps, "gap in its package inventory", "gaps in its package inventory");
        if scan.gaps > 0 && !allow_incomplete_inventory {
            let first = scan.first_gap.as_deref().unwrap_or("not listed");
            return (false, format!("{of} skipped {gaps} (allowIncompleteInventory is not set), the first: {first}"));
        }
        // Why a finding the builder excepted counts now, when that is so.
        let expired = match scan.expired_since {
            0 => String::new(),
            n => format!("; {} since the build", counted(n, "exception expired", "exceptions expired")),
        };
        match scan.worst_unexcepted {
            Some(worst) if worst >= *fail_on => {
                (false, format!("{of} has a {worst} finding without an exception (failOn: {fail_on}{expired})"))
            }
            _ if scan.unknown_unexcepted && !allow_unknown => (
                false,
                format!(
                    "{of} has a finding of unknown severity without an exception (allowUnknown is not set{expired})"
                ),
            ),
            _ if scan.gaps > 0 => {
                (true, format!("{of}: no finding at or above {fail_on} without an exception; {gaps} allowed"))
            }
            _ => (true, format!("{of}: no finding at or above {fail_on} without an exception")),
        }
    }
}

/// `n` and the noun that fits it: `1 gap`, `2 gaps`.
fn counted(n: u64, one: &str, many: &str) -> String {
    format!("{n} {}", if n == 1 { one } else { many })
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

    /// The message that refuses `yaml` as a requirement.
    fn refused(yaml: &str) -> String {
        serde_yaml_ng::from_str::<Requirement>(yaml).unwrap_err().to_string()
    }

    /// Each kind of requirement reports its own mistake, at its place in the file: not the
    /// untagged enum's "data did not match any variant".
    #[test]
    fn a_bad_requirement_is_refused_naming_the_field_the_value_and_what_is_allowed() {
        let fail_on = refused("allOf: [sbom, {scan: {maxAgeDays: 30, failOn: severe}}]");
        assert!(
            fail_on.starts_with(
                "allOf[1].scan.failOn: invalid value: string \"severe\", expected one of critical, high, medium, low"
            ),
            "{fail_on}"
        );
        let kind = refused("anyOf: [sbom, {scann: {maxAgeDays: 30, failOn: high}}]");
        assert!(
            kind.starts_with(
                "anyOf[1]: unknown requirement `scann`: a map's key is one of signedBy, allOf, anyOf, threshold (with of), scan"
            ),
            "{kind}"
        );
        let name = refused("allOf: [sbomm]");
        assert!(name.starts_with("allOf[0]: unknown requirement `sbomm`: expected sbom, provenance"), "{name}");
        let field = refused("scan: {maxAgeDays: 30, failOn: high, allowUnknwn: true}");
        assert!(
            field.starts_with(
                "scan: unknown field `allowUnknwn`, expected one of `maxAgeDays`, `failOn`, `allowUnknown`, \
                 `allowIncompleteInventory`"
            ),
            "{field}"
        );
        let threshold = refused("{threshold: 1, off: [sbom]}");
        assert!(threshold.starts_with("unknown field `off`, expected `threshold` or `of`"), "{threshold}");
        assert!(refused("{of: [sbom]}").starts_with("missing field `threshold`"));
        let beside = refused("{signedBy: A, anyOf: [sbom]}");
        assert!(beside.starts_with("`anyOf` beside `signedBy`: a map names one requirement"), "{beside}");
    }

    /// Every kind still reads as it did under the untagged enum, threshold in either order.
    #[test]
    fn every_kind_of_requirement_reads_by_its_shape() {
        let scan = ScanRequirement {
            max_age_days: 30,
            fail_on: Severity::Critical,
            allow_unknown: false,
            allow_incomplete_inventory: false,
        };
        let incomplete = ScanRequirement { allow_incomplete_inventory: true, ..scan.clone() };
        let cases = [
            ("provenance", Requirement::Attestation(Attestation::Provenance)),
            ("{signedBy: A}", Requirement::SignedBy { signed_by: "A".into() }),
            ("[sbom]", Requirement::List(vec![Requirement::Attestation(Attestation::Sbom)])),
            ("allOf: [sbom]", Requirement::AllOf { all_of: vec![Requirement::Attestation(Attestation::Sbom)] }),
            ("anyOf: [sbom]", Requirement::AnyOf { any_of: vec![Requirement::Attestation(Attestation::Sbom)] }),
            (
                "{of: [sbom], threshold: 1}",
                Requirement::Threshold { threshold: 1, of: vec![Requirement::Attestation(Attestation::Sbom)] },
            ),
            ("scan: {maxAgeDays: 30, failOn: critical}", Requirement::Scan { scan }),
            (
                "scan: {maxAgeDays: 30, failOn: critical, allowIncompleteInventory: true}",
                Requirement::Scan { scan: incomplete },
            ),
        ];
        for (yaml, expected) in cases {
            assert_eq!(parse(yaml), expected, "{yaml}");
        }
    }

    /// Every `signedBy`, at any depth, is visited in the order written and may be replaced:
    /// key files given their fingerprints, fingerprints and identities kept as written; an
    /// error from the visit fails the whole requirement with it.
    #[test]
    fn every_signed_by_is_visited_at_any_depth_and_may_be_replaced() {
        let mut require = parse(
            "allOf: [{signedBy: vendor.pub}, {anyOf: [sbom, {signedBy: 'SHA256:A'}]}, \
             {threshold: 1, of: [[{signedBy: keys/customer.pub}], {signedBy: 'identity ci@acme (issuer https://idp)'}]}]",
        );
        let mut seen = Vec::new();
        require
            .visit_signed_by(&mut |signed_by: &mut String| -> Result<(), String> {
                seen.push(signed_by.clone());
                if genesis_types::signed_by_names_key_file(signed_by) {
                    *signed_by = format!("SHA256:{}", signed_by.len());
                }
                Ok(())
            })
            .unwrap();
        assert_eq!(seen, ["vendor.pub", "SHA256:A", "keys/customer.pub", "identity ci@acme (issuer https://idp)"]);
        let expected = parse(
            "allOf: [{signedBy: 'SHA256:10'}, {anyOf: [sbom, {signedBy: 'SHA256:A'}]}, \
             {threshold: 1, of: [[{signedBy: 'SHA256:17'}], {signedBy: 'identity ci@acme (issuer https://idp)'}]}]",
        );
        assert_eq!(require, expected);
        let mut evidence = evidence(true, false, Some("SHA256:10"));
        assert!(!require.evaluate(&evidence).0, "the customer's signature is missing");
        evidence.signers.insert("SHA256:17".into());
        assert!(require.evaluate(&evidence).0);

        let mut missing = parse("[{signedBy: absent.pub}]");
        let e = missing.visit_signed_by(&mut |file: &mut String| Err(format!("{file}: no such file"))).unwrap_err();
        assert_eq!(e, "absent.pub: no such file");
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

    /// Seconds since the Unix epoch of an RFC 3339 date the tests write.
    fn at(date: &str) -> u64 {
        genesis_bundle::parse_rfc3339(date).unwrap()
    }

    /// What a statement of `status` says as the builder judged it on 2025-01-02, expiring at
    /// `expires` if given.
    fn stated(status: genesis_bundle::VexStatus, expires: Option<&str>) -> Option<genesis_bundle::VexStatement> {
        let justification =
            (status == genesis_bundle::VexStatus::NotAffected).then(|| "component_not_present".to_owned());
        let file = genesis_bundle::sha256(b"an OpenVEX file");
        let judged = Some(at("2025-01-02T00:00:00Z"));
        Some(genesis_bundle::VexStatement::new(status, justification, file, expires.map(at), judged))
    }

    /// A recorded scan whose one high finding carries `vex`, as of 2025-01-01.
    fn scanned(vex: Option<genesis_bundle::VexStatement>) -> genesis_bundle::ScanRecord {
        let document =
            genesis_bundle::VexDocument { name: "vex.json".into(), sha256: genesis_bundle::sha256(b"an OpenVEX file") };
        let excepted = vex.as_ref().is_some_and(genesis_bundle::VexStatement::is_exception);
        genesis_bundle::ScanRecord {
            as_of: "2025-01-01T00:00:00Z".into(),
            database: genesis_bundle::ScanDatabase { digest: "sha256:0d".into(), newest_modified: None, records: 1 },
            packages: 1,
            gaps: vec![],
            unlisted_gaps: 0,
            fail_on: Severity::High,
            allow_unknown: false,
            allow_incomplete: false,
            max_db_age_seconds: None,
            vex_documents: vec![document],
            counts: if excepted { Default::default() } else { [(Severity::High, 1)].into() },
            findings: vec![genesis_bundle::ScanFinding {
                id: "CVE-2024-0727".into(),
                purl: "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64".into(),
                installed: "3.0.11-1~deb12u2".into(),
                fixed: None,
                severity: Severity::High,
                severity_from: None,
                image: "r.example/app:1 (linux/amd64)".into(),
                vex,
            }],
        }
    }

    /// `scan: {maxAgeDays: 30, failOn: high}`.
    fn high() -> ScanRequirement {
        ScanRequirement {
            max_age_days: 30,
            fail_on: Severity::High,
            allow_unknown: false,
            allow_incomplete_inventory: false,
        }
    }

    /// The verifier recomputes the verdict from the recorded findings: a statement that says
    /// affected or under_investigation, or an exception that had expired, leaves its finding
    /// counted against the threshold; only an unexpired not_affected or fixed excepts it.
    #[test]
    fn a_finding_whose_statement_does_not_except_it_counts_against_the_threshold() {
        use genesis_bundle::VexStatus;
        let require = high();
        let now = at("2025-01-08T00:00:00Z");
        for (vex, holds) in [
            (None, false),
            (stated(VexStatus::Affected, None), false),
            (stated(VexStatus::UnderInvestigation, None), false),
            (stated(VexStatus::NotAffected, Some("2025-01-01T00:00:00Z")), false),
            (stated(VexStatus::Fixed, Some("2025-01-01T00:00:00Z")), false),
            (stated(VexStatus::NotAffected, None), true),
            (stated(VexStatus::Fixed, None), true),
        ] {
            let what = format!("{vex:?}");
            let evidence = ScanEvidence::of(&scanned(vex), now);
            assert_eq!(evidence.age_days, Some(7));
            let (held, why) = require.evaluate(Some(&evidence));
            assert_eq!(held, holds, "{what}: {why}");
            assert_eq!(evidence.worst_unexcepted, (!holds).then_some(Severity::High), "{what}");
        }
    }

    /// An exception the builder judged unexpired, recorded with its expiry, passes `failOn:
    /// high` until that date and fails from then on, saying that it expired since the build.
    #[test]
    fn an_exception_recorded_with_its_expiry_holds_until_then_and_not_after() {
        let record = scanned(stated(genesis_bundle::VexStatus::NotAffected, Some("2025-01-20T00:00:00Z")));
        assert!(record.passed(), "the builder judged it excepted");
        let before = ScanEvidence::of(&record, at("2025-01-19T23:59:59Z"));
        let (held, why) = high().evaluate(Some(&before));
        assert!(held, "{why}");
        let after = ScanEvidence::of(&record, at("2025-01-20T00:00:00Z"));
        assert_eq!((after.worst_unexcepted, after.expired_since), (Some(Severity::High), 1));
        let (held, why) = high().evaluate(Some(&after));
        assert!(!held);
        assert_eq!(
            why,
            "scan as of 2025-01-01T00:00:00Z (19 days old) has a high finding without an exception (failOn: high; \
             1 exception expired since the build)"
        );
    }

    /// A verifier whose clock is behind what the scan knew (a host without a real-time clock)
    /// would read the scan as new and keep its exceptions alive for ever: refused, told to set
    /// the clock. From the scan's own second on, the clock is judged the time.
    #[test]
    fn a_clock_behind_the_scans_knowledge_date_is_refused_and_told_to_be_set() {
        let record = scanned(stated(genesis_bundle::VexStatus::NotAffected, Some("2025-01-20T00:00:00Z")));
        let behind = ScanEvidence::of(&record, at("2024-12-31T23:59:59Z"));
        assert_eq!((behind.age_days, behind.judged_at.as_str()), (None, "2024-12-31T23:59:59Z"));
        let (held, why) = high().evaluate(Some(&behind));
        assert!(!held);
        assert_eq!(
            why,
            "this host's clock reads 2024-12-31T23:59:59Z, behind the scan's knowledge date 2025-01-01T00:00:00Z \
             (asOf): neither its age nor its exceptions' expiries can be judged; set the clock to the current time \
             and verify again"
        );
        let on_time = ScanEvidence::of(&record, at("2025-01-01T00:00:00Z"));
        assert_eq!(on_time.age_days, Some(0));
        let (held, why) = high().evaluate(Some(&on_time));
        assert!(held, "{why}");
    }

    /// A record whose inventory had gaps (its builder's policy allowed them) holds only for a
    /// requirement that allows them too, and the refusal names the first.
    #[test]
    fn a_record_with_gaps_holds_only_where_the_requirement_allows_them() {
        let mut record = scanned(stated(genesis_bundle::VexStatus::Fixed, None));
        let gap = "r.example/app:1 (linux/amd64): var/lib/rpm/Packages is an RPM BerkeleyDB database: not inventoried";
        record.allow_incomplete = true;
        (record.gaps, record.unlisted_gaps) = genesis_bundle::ScanRecord::list_gaps(vec![gap.into(), "another".into()]);
        let evidence = ScanEvidence::of(&record, at("2025-01-08T00:00:00Z"));
        assert_eq!((evidence.gaps, evidence.first_gap.as_deref()), (2, Some(gap)));
        let (held, why) = high().evaluate(Some(&evidence));
        assert!(!held);
        assert_eq!(
            why,
            format!(
                "scan as of 2025-01-01T00:00:00Z (7 days old) skipped 2 gaps in its package inventory \
                 (allowIncompleteInventory is not set), the first: {gap}"
            )
        );
        let allowing = parse("scan: {maxAgeDays: 30, failOn: high, allowIncompleteInventory: true}");
        let (held, why) = allowing.evaluate(&Evidence { scan: Some(evidence), ..Evidence::default() });
        assert!(held && why.ends_with("; 2 gaps in its package inventory allowed"), "{why}");

        let complete =
            ScanEvidence::of(&scanned(stated(genesis_bundle::VexStatus::Fixed, None)), at("2025-01-08T00:00:00Z"));
        let (held, why) = high().evaluate(Some(&complete));
        assert!(held && !why.contains("gap"), "{why}");
    }
}
