//! The OSV record, as the Open Source Vulnerability schema 1.x defines it
//! (`ossf/osv-schema`, `validation/schema.json` and `docs/schema.md`; a copy is in
//! `shared/schemas/osv.schema.json`): the fields a scan needs, read with serde.
//!
//! Lenient where the schema is open (unknown fields are ignored; `ecosystem_specific` and
//! `database_specific` are free-form objects of which only a `severity` or `urgency` string
//! is read), strict where a wrong value would change a verdict: `id` and `modified` are
//! required, `modified` must be an RFC 3339 UTC timestamp (it dates the database), every
//! range has an `introduced` event, and every event names exactly one version. `published`,
//! `related`, `references`, `credits`, a package's `purl` and ranges' `database_specific` are
//! not read: no verdict depends on them (a related record is of another vulnerability, whose
//! severity is not this one's). `aliases` and `upstream` are read for the records they name,
//! whose severity a record stating none takes (see `database`).

use std::cmp::Ordering;

use serde::{Deserialize, Deserializer};

use crate::Severity;
use crate::cvss;

/// One OSV record: a vulnerability and the package versions it affects.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Record {
    /// `DSA-5678-1`, `GHSA-…`, `GO-2024-…`, `CVE-…`.
    pub(crate) id: String,
    /// When the record last changed (RFC 3339, UTC).
    pub(crate) modified: String,
    /// Set when the record was retracted: such a record affects nothing.
    #[serde(default)]
    pub(crate) withdrawn: Option<String>,
    /// Other IDs of the same vulnerability.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub(crate) aliases: Vec<String>,
    /// IDs of the records this one derives from (a `DEBIAN-CVE-…`'s `CVE-…`).
    #[serde(default, deserialize_with = "null_as_empty")]
    pub(crate) upstream: Vec<String>,
    /// One line for people.
    #[serde(default)]
    pub(crate) summary: Option<String>,
    /// The full description (CommonMark).
    #[serde(default)]
    pub(crate) details: Option<String>,
    /// Scores of the whole record; absent when `affected[].severity` gives them per package.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub(crate) severity: Vec<SeverityScore>,
    /// The packages affected.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub(crate) affected: Vec<Affected>,
    /// The database's own fields; GitHub's advisories put their rating here
    /// (`"severity": "HIGH"`).
    #[serde(default)]
    pub(crate) database_specific: Option<Specific>,
}

/// A severity as a record states it: a CVSS vector (`CVSS_V2`, `CVSS_V3`, `CVSS_V4`) or a
/// rating on another scale (`Ubuntu`: its priority).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct SeverityScore {
    /// `CVSS_V2`, `CVSS_V3`, `CVSS_V4`, `Ubuntu`, or a type added since.
    #[serde(rename = "type")]
    pub(crate) kind: String,
    /// The vector, or the rating.
    pub(crate) score: String,
}

impl SeverityScore {
    /// The severity of an `Ubuntu` score: Ubuntu's priority, one of `negligible`, `low`,
    /// `medium`, `high`, `critical` (the OSV schema's enum for this type; the words are
    /// defined by Ubuntu's CVE tracker, people.canonical.com/~ubuntu-security/cve/priority.html),
    /// each the severity of its name except `negligible`, which has none on our scale and
    /// reads as low: it is still a vulnerability, and unknown would fail the gate for the
    /// wrong reason. A type added to the schema since is on a scale we do not know and is not
    /// read (unknown is not low).
    fn ubuntu_priority(&self) -> Option<Severity> {
        if self.kind != "Ubuntu" {
            return None;
        }
        match self.score.trim().to_ascii_lowercase().as_str() {
            "negligible" | "low" => Some(Severity::Low),
            "medium" => Some(Severity::Medium),
            "high" => Some(Severity::High),
            "critical" => Some(Severity::Critical),
            _ => None,
        }
    }
}

/// One affected package: its identity and which of its versions are affected.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Affected {
    /// Absent only in records that describe commits, not packages.
    #[serde(default)]
    pub(crate) package: Option<PackageId>,
    /// Scores for this package, when they differ between packages.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub(crate) severity: Vec<SeverityScore>,
    /// Ranges of affected versions.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub(crate) ranges: Vec<Range>,
    /// Affected versions, listed.
    #[serde(default, deserialize_with = "null_as_empty")]
    pub(crate) versions: Vec<String>,
    /// The ecosystem's own fields (Debian's `urgency`, some databases' `severity`).
    #[serde(default)]
    pub(crate) ecosystem_specific: Option<Specific>,
    /// The database's own fields for this package.
    #[serde(default)]
    pub(crate) database_specific: Option<Specific>,
}

/// A package as OSV names it.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct PackageId {
    /// `Debian:12`, `Alpine:v3.18`, `PyPI`, `Red Hat:enterprise_linux:9::appstream`.
    pub(crate) ecosystem: String,
    /// The name within the ecosystem (a source package for distributions).
    pub(crate) name: String,
}

/// How a range's versions are ordered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "UPPERCASE")]
pub(crate) enum RangeKind {
    /// Commit hashes: needs the repository's history, which a scan of packages lacks.
    Git,
    /// SemVer 2.0 precedence, versions without a `v`.
    Semver,
    /// The ecosystem's own ordering (dpkg, rpm, apk, PEP 440...).
    Ecosystem,
    /// A type added to the schema since; not evaluated.
    #[serde(other)]
    Other,
}

/// A range of affected versions: a timeline of events.
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct Range {
    /// How its versions are ordered.
    #[serde(rename = "type")]
    pub(crate) kind: RangeKind,
    /// The events, in any order.
    pub(crate) events: Vec<EventFields>,
}

/// One event as written: exactly one of its fields is set (checked by
/// [`Record::validate`], then read through [`EventFields::event`]).
#[derive(Debug, Clone, Deserialize)]
pub(crate) struct EventFields {
    #[serde(default)]
    introduced: Option<String>,
    #[serde(default)]
    fixed: Option<String>,
    #[serde(default)]
    last_affected: Option<String>,
    #[serde(default)]
    limit: Option<String>,
}

/// One event of a range's timeline.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) enum Event {
    /// The vulnerability appears in this version (`"0"`: before every version).
    Introduced(String),
    /// This version no longer has it.
    Fixed(String),
    /// The last version known to have it; the ones after are taken as unaffected.
    LastAffected(String),
    /// Versions from this one on are outside the range (`"*"`: no limit).
    Limit(String),
}

impl EventFields {
    /// The event, when exactly one field is set.
    pub(crate) fn event(self) -> Option<Event> {
        match (self.introduced, self.fixed, self.last_affected, self.limit) {
            (Some(v), None, None, None) => Some(Event::Introduced(v)),
            (None, Some(v), None, None) => Some(Event::Fixed(v)),
            (None, None, Some(v), None) => Some(Event::LastAffected(v)),
            (None, None, None, Some(v)) => Some(Event::Limit(v)),
            _ => None,
        }
    }

    fn count(&self) -> usize {
        [&self.introduced, &self.fixed, &self.last_affected, &self.limit].iter().filter(|f| f.is_some()).count()
    }
}

/// The free-form `ecosystem_specific` and `database_specific` objects: only the ratings some
/// databases put there are read, and only when they are strings.
#[derive(Debug, Clone, Default, Deserialize)]
pub(crate) struct Specific {
    /// GitHub's `"HIGH"`/`"MODERATE"`, or another database's rating.
    #[serde(default)]
    severity: Option<serde_json::Value>,
    /// Debian's urgency (`unimportant`, `low`, `medium`, `high`, `not yet assigned`).
    #[serde(default)]
    urgency: Option<serde_json::Value>,
}

impl Specific {
    fn ratings(&self) -> impl Iterator<Item = &str> {
        [&self.severity, &self.urgency].into_iter().filter_map(|v| v.as_ref()?.as_str())
    }
}

impl Record {
    /// Parses one record from its JSON bytes.
    pub(crate) fn from_slice(bytes: &[u8]) -> Result<Record, serde_json::Error> {
        serde_json::from_slice(bytes)
    }

    /// Checks the rules a verdict depends on, naming the first one broken.
    pub(crate) fn validate(&self) -> Result<(), String> {
        if self.id.trim().is_empty() {
            return Err("empty id".into());
        }
        if !is_utc_timestamp(&self.modified) {
            return Err(format!("{}: modified {:?} is not an RFC 3339 UTC timestamp", self.id, self.modified));
        }
        if let Some(withdrawn) = &self.withdrawn
            && !is_utc_timestamp(withdrawn)
        {
            return Err(format!("{}: withdrawn {withdrawn:?} is not an RFC 3339 UTC timestamp", self.id));
        }
        for affected in &self.affected {
            for range in &affected.ranges {
                if let Some(bad) = range.events.iter().find(|e| e.count() != 1) {
                    return Err(format!(
                        "{}: an event names {} of introduced, fixed, last_affected and limit (exactly one is allowed)",
                        self.id,
                        bad.count()
                    ));
                }
                if !range.events.iter().any(|e| e.introduced.is_some()) {
                    return Err(format!("{}: a range has no introduced event", self.id));
                }
            }
        }
        Ok(())
    }

    /// The severity of `affected` in this record, and the CVSS score it comes from: the
    /// highest base score among the package's vectors (else the record's), else the highest
    /// rating the record states (Ubuntu's priority, GitHub's `database_specific.severity`,
    /// an `ecosystem_specific` severity or Debian urgency), else unknown. A vector that does
    /// not score (a malformed one) is passed over for the next source.
    pub(crate) fn severity_of(&self, affected: &Affected) -> (Severity, Option<f32>) {
        let scores = if affected.severity.is_empty() { &self.severity } else { &affected.severity };
        let best = scores
            .iter()
            .filter(|s| s.kind.starts_with("CVSS_"))
            .filter_map(|s| cvss::base_score(&s.score).ok())
            .max_by(f32::total_cmp);
        if let Some(score) = best {
            return (Severity::from_score(score), Some(score));
        }
        let specifics = [&self.database_specific, &affected.ecosystem_specific, &affected.database_specific];
        let stated = scores
            .iter()
            .filter_map(SeverityScore::ubuntu_priority)
            .chain(specifics.into_iter().flatten().flat_map(Specific::ratings).filter_map(rating));
        (stated.max().unwrap_or(Severity::Unknown), None)
    }

    /// A line for people: the summary, else the first line of the details (Debian's and
    /// Alpine's records often have details only), cut at 200 characters.
    pub(crate) fn headline(&self) -> Option<String> {
        let text = match &self.summary {
            Some(s) if !s.trim().is_empty() => s.trim(),
            _ => self.details.as_deref()?.trim().lines().next()?.trim(),
        };
        if text.is_empty() {
            return None;
        }
        Some(match text.char_indices().nth(200) {
            Some((cut, _)) => format!("{}…", &text[..cut]),
            None => text.to_owned(),
        })
    }
}

/// Orders two severities with their scores: by severity, then by score (none below any).
pub(crate) fn cmp_ratings(a: (Severity, Option<f32>), b: (Severity, Option<f32>)) -> Ordering {
    let score = |s: Option<f32>| s.unwrap_or(f32::NEG_INFINITY);
    a.0.cmp(&b.0).then_with(|| score(a.1).total_cmp(&score(b.1)))
}

/// A rating as databases write it in `database_specific` or `ecosystem_specific`, on the
/// scan's scale; `None` for "not yet assigned", "untriaged" and other non-ratings. Debian's
/// `unimportant` is low; a trailing `*` (Debian's marks) is ignored.
fn rating(text: &str) -> Option<Severity> {
    let text = text.trim().trim_end_matches('*').trim();
    let severity = if text.eq_ignore_ascii_case("unimportant") { Severity::Low } else { text.parse().ok()? };
    (severity != Severity::Unknown).then_some(severity)
}

/// Whether `s` is `YYYY-MM-DDTHH:MM:SS[.fraction]Z`, the OSV schema's timestamp.
pub(crate) fn is_utc_timestamp(s: &str) -> bool {
    let b = s.as_bytes();
    let digits = |range: std::ops::Range<usize>| b.get(range).is_some_and(|d| d.iter().all(u8::is_ascii_digit));
    let fixed = digits(0..4)
        && b.get(4) == Some(&b'-')
        && digits(5..7)
        && b.get(7) == Some(&b'-')
        && digits(8..10)
        && matches!(b.get(10), Some(&(b'T' | b't')))
        && digits(11..13)
        && b.get(13) == Some(&b':')
        && digits(14..16)
        && b.get(16) == Some(&b':')
        && digits(17..19);
    let rest = s.get(19..).unwrap_or("");
    let zone = match rest.strip_prefix('.') {
        Some(fraction) => {
            let tail = fraction.trim_start_matches(|c: char| c.is_ascii_digit());
            tail.len() < fraction.len() && matches!(tail, "Z" | "z")
        }
        None => matches!(rest, "Z" | "z"),
    };
    fixed && zone
}

/// Orders two timestamps that pass [`is_utc_timestamp`] by the instant they name (a
/// fraction of a second counts; `…:00Z` is before `…:00.5Z`, which a plain string
/// comparison gets wrong).
pub(crate) fn cmp_timestamps(a: &str, b: &str) -> Ordering {
    let split = |s: &str| {
        let seconds = s.get(..19).unwrap_or(s).to_owned();
        let fraction = s.get(19..).unwrap_or("").trim_start_matches('.').trim_end_matches(['Z', 'z']).to_owned();
        (seconds, fraction)
    };
    let ((a_secs, a_frac), (b_secs, b_frac)) = (split(a), split(b));
    a_secs.cmp(&b_secs).then_with(|| {
        let width = a_frac.len().max(b_frac.len());
        format!("{a_frac:0<width$}").cmp(&format!("{b_frac:0<width$}"))
    })
}

/// `null` read as an empty list: the schema allows `null` for `aliases`, `severity` and
/// `affected`.
fn null_as_empty<'de, D, T>(deserializer: D) -> Result<Vec<T>, D::Error>
where
    D: Deserializer<'de>,
    T: Deserialize<'de>,
{
    Ok(Option::<Vec<T>>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;

    /// A GitHub advisory for PyPI as osv.dev exports it (shape of GHSA-… records in
    /// `PyPI/all.zip`), trimmed.
    const GHSA: &str = r#"{
      "schema_version": "1.6.0",
      "id": "GHSA-xxxx-pypi-0001",
      "modified": "2024-03-01T12:00:00.123456Z",
      "published": "2024-02-01T00:00:00Z",
      "aliases": ["CVE-2024-0001"],
      "summary": "Jinja2 sandbox escape",
      "details": "Long text",
      "severity": null,
      "affected": [{
        "package": {"ecosystem": "PyPI", "name": "jinja2", "purl": "pkg:pypi/jinja2"},
        "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": "3.1.3"}],
                    "database_specific": {"last_known_affected_version_range": "<= 3.1.2"}}],
        "versions": ["3.1.2"],
        "database_specific": {"source": "https://github.com/..."}
      }],
      "references": [{"type": "WEB", "url": "https://example.com"}],
      "database_specific": {"severity": "MODERATE", "github_reviewed": true, "cwe_ids": ["CWE-79"]}
    }"#;

    #[test]
    fn a_record_with_unknown_fields_and_null_lists_parses() {
        let r = Record::from_slice(GHSA.as_bytes()).unwrap();
        r.validate().unwrap();
        assert_eq!(r.id, "GHSA-xxxx-pypi-0001");
        assert!(r.severity.is_empty());
        assert_eq!(r.affected[0].ranges[0].kind, RangeKind::Ecosystem);
        let events: Vec<Event> =
            r.affected[0].ranges[0].events.iter().cloned().filter_map(EventFields::event).collect();
        assert_eq!(events, [Event::Introduced("0".into()), Event::Fixed("3.1.3".into())]);
    }

    #[test]
    fn a_record_without_vectors_takes_its_databases_rating() {
        let r = Record::from_slice(GHSA.as_bytes()).unwrap();
        assert_eq!(r.severity_of(&r.affected[0]), (Severity::Medium, None));
    }

    #[test]
    fn the_highest_cvss_score_among_the_vectors_wins_over_any_rating() {
        let json = r#"{"id": "CVE-2014-0160", "modified": "2024-01-01T00:00:00Z",
            "severity": [{"type": "CVSS_V2", "score": "AV:N/AC:L/Au:N/C:P/I:N/A:N"},
                         {"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:N/A:N"}],
            "database_specific": {"severity": "LOW"},
            "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"}}]}"#;
        let r = Record::from_slice(json.as_bytes()).unwrap();
        assert_eq!(r.severity_of(&r.affected[0]), (Severity::High, Some(7.5)));
    }

    #[test]
    fn debian_urgency_and_ubuntu_priority_are_ratings() {
        let json = r#"{"id": "DEBIAN-CVE-2024-2", "modified": "2024-01-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "Debian:12", "name": "curl"},
                          "ecosystem_specific": {"urgency": "unimportant"}},
                         {"package": {"ecosystem": "Ubuntu:22.04:LTS", "name": "curl"},
                          "severity": [{"type": "Ubuntu", "score": "high"}]},
                         {"package": {"ecosystem": "Debian:11", "name": "curl"},
                          "ecosystem_specific": {"urgency": "not yet assigned"}}]}"#;
        let r = Record::from_slice(json.as_bytes()).unwrap();
        assert_eq!(r.severity_of(&r.affected[0]).0, Severity::Low);
        assert_eq!(r.severity_of(&r.affected[1]).0, Severity::High);
        assert_eq!(r.severity_of(&r.affected[2]).0, Severity::Unknown);
    }

    #[test]
    fn a_records_own_ubuntu_priority_is_its_severity_and_other_scales_are_not_read() {
        let severity = |kind: &str, score: &str| {
            let json = format!(
                r#"{{"id": "UBUNTU-CVE-2024-1", "modified": "2024-01-01T00:00:00Z",
                    "severity": [{{"type": "{kind}", "score": "{score}"}}],
                    "affected": [{{"package": {{"ecosystem": "Ubuntu:22.04:LTS", "name": "curl"}}}}]}}"#
            );
            let r = Record::from_slice(json.as_bytes()).unwrap();
            r.severity_of(&r.affected[0])
        };
        assert_eq!(severity("Ubuntu", "negligible"), (Severity::Low, None));
        assert_eq!(severity("Ubuntu", "low"), (Severity::Low, None));
        assert_eq!(severity("Ubuntu", "medium"), (Severity::Medium, None));
        assert_eq!(severity("Ubuntu", "high"), (Severity::High, None));
        assert_eq!(severity("Ubuntu", "critical"), (Severity::Critical, None));
        assert_eq!(severity("Ubuntu", "untriaged"), (Severity::Unknown, None));
        assert_eq!(severity("Red Hat", "important"), (Severity::Unknown, None), "a scale we do not know");
    }

    #[test]
    fn severities_order_by_rating_then_score() {
        assert!(cmp_ratings((Severity::High, None), (Severity::Medium, Some(6.9))).is_gt());
        assert!(cmp_ratings((Severity::High, Some(7.5)), (Severity::High, None)).is_gt());
        assert!(cmp_ratings((Severity::High, Some(7.5)), (Severity::High, Some(8.1))).is_lt());
        assert!(cmp_ratings((Severity::Low, None), (Severity::Low, None)).is_eq());
    }

    #[test]
    fn an_event_with_two_versions_is_refused() {
        let json = r#"{"id": "X-1", "modified": "2024-01-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "npm", "name": "a"},
                          "ranges": [{"type": "SEMVER", "events": [{"introduced": "1.0.0", "fixed": "1.0.2"}]}]}]}"#;
        let err = Record::from_slice(json.as_bytes()).unwrap().validate().unwrap_err();
        assert!(err.contains("exactly one"), "{err}");
    }

    #[test]
    fn a_range_without_introduced_is_refused() {
        let json = r#"{"id": "X-1", "modified": "2024-01-01T00:00:00Z",
            "affected": [{"package": {"ecosystem": "npm", "name": "a"},
                          "ranges": [{"type": "SEMVER", "events": [{"fixed": "1.0.2"}]}]}]}"#;
        let err = Record::from_slice(json.as_bytes()).unwrap().validate().unwrap_err();
        assert!(err.contains("no introduced"), "{err}");
    }

    #[test]
    fn a_record_without_id_or_modified_does_not_parse() {
        assert!(Record::from_slice(br#"{"modified": "2024-01-01T00:00:00Z"}"#).is_err());
        assert!(Record::from_slice(br#"{"id": "X-1"}"#).is_err());
        assert!(Record::from_slice(b"[1, 2]").is_err());
    }

    #[test]
    fn modified_must_be_a_utc_timestamp() {
        for good in ["2024-01-01T00:00:00Z", "2024-01-01T00:00:00.5Z", "2024-12-31T23:59:59.123456789Z"] {
            assert!(is_utc_timestamp(good), "{good}");
        }
        for bad in
            ["2024-01-01", "2024-01-01T00:00:00", "2024-01-01T00:00:00+02:00", "yesterday", "2024-01-01T00:00:00.Z", ""]
        {
            assert!(!is_utc_timestamp(bad), "{bad}");
        }
    }

    #[test]
    fn timestamps_order_by_instant_including_fractions() {
        assert_eq!(cmp_timestamps("2024-01-01T00:00:00Z", "2024-01-01T00:00:00.5Z"), Ordering::Less);
        assert_eq!(cmp_timestamps("2024-01-01T00:00:00.50Z", "2024-01-01T00:00:00.5Z"), Ordering::Equal);
        assert_eq!(cmp_timestamps("2025-01-01T00:00:00Z", "2024-12-31T23:59:59.999Z"), Ordering::Greater);
    }

    #[test]
    fn the_headline_falls_back_to_the_first_line_of_the_details() {
        let json = r#"{"id": "DEBIAN-CVE-2024-3", "modified": "2024-01-01T00:00:00Z",
            "details": "\nA flaw was found in curl.\nMore text."}"#;
        let r = Record::from_slice(json.as_bytes()).unwrap();
        assert_eq!(r.headline().as_deref(), Some("A flaw was found in curl."));
    }
}
