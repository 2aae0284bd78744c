//! The gate: findings judged against a policy (the severity that fails, the oldest database
//! trusted, the exceptions granted), into a verdict that says whether they pass and why not.
//!
//! The verdict is a format: the builder records it in the signed BOM, `genesis scan --output
//! json` prints it, and the cluster side reads it back. Its JSON field names (camelCase) are
//! stable:
//!
//! ```json
//! {
//!   "passed": false,
//!   "failOn": "high",
//!   "counts": {"unknown": 0, "low": 1, "medium": 1, "high": 1, "critical": 0},
//!   "excepted": 2,
//!   "findings": [{"id": "CVE-2024-2961", "aliases": ["DSA-5673-1"], "package": "libc6",
//!                 "kind": "deb", "installed": "2.36-9+deb12u4", "fixed": "2.36-9+deb12u6",
//!                 "severity": "high", "score": 8.1, "image": "debian:12 (linux/amd64)",
//!                 "purl": "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64", "summary": "…",
//!                 "vex": {"status": "not_affected", "justification": "inline_mitigations_already_exist",
//!                         "document": "sha256:…", "expires": "2026-02-15T00:00:00Z", "expired": true,
//!                         "excepts": false},
//!                 "blocking": true}],
//!   "database": {"digest": "sha256:…", "newestModified": "2026-02-26T04:07:10Z",
//!                "ageSeconds": 244370, "maxAgeSeconds": 604800, "stale": false},
//!   "reasons": ["1 finding at or above high has no exception: …"]
//! }
//! ```
//!
//! `counts` has every severity, zero or not, and counts only findings without an exception;
//! `findings` holds every finding, excepted or not, most severe first, each with what the
//! latest OpenVEX statement naming it says (`vex`, as the signed BOM's scan record writes it:
//! `genesis_bundle::VexStatement`), or `null` when none does; only an unexpired
//! `not_affected` or `fixed` statement excepts (`excepts`). A statement with an expiry gives
//! its date (`expires`, UTC) whether or not it has passed, and `expired` when it had at the
//! judgement: the signed record keeps both, for a verifier to judge the date again at its own
//! time. A finding whose severity was taken from another record than the one matched names
//! it (`severityFrom`, absent otherwise). `database` is `null` for a
//! scanner's report (the gate has no database of its own to judge); `reasons` is empty
//! exactly when `passed` is true.
//!
//! # The policy file
//!
//! `bundle-builder create --scan-policy policy.yaml` reads:
//!
//! ```yaml
//! failOn: high          # critical | high | medium | low | unknown; default high
//! maxDbAge: 7d          # <n>d, <n>h or <n>m, or none (age reported, never judged); default 7d
//! vex: [exceptions.openvex.json]   # OpenVEX files, relative to this file; default none
//! allowUnknown: false   # let findings of unknown severity pass; default false
//! allowIncompleteInventory: false  # let gaps in an image's inventory pass; default false
//! ```
//!
//! The signed record says what the last two allowed: `allowUnknown`, and `allowIncomplete`
//! with the gaps it let pass, which a trust policy's `require: scan` refuses unless it allows
//! them too.
//!
//! The default threshold is high: critical alone lets a remotely exploitable high through
//! (most of the worst bugs score 7.5–8.8), and medium fails distribution images on findings
//! their maintainers leave unfixed by choice, which teaches sites to switch the gate off. The
//! default age is seven days: OSV exports change daily, and a week covers a transfer across
//! the gap that waits for a weekly window (grype refuses a database older than five days).

use std::cmp::Reverse;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use genesis_bundle::VexStatement;
use serde::{Deserialize, Serialize};

use crate::error::ScanError;
use crate::finding::{Finding, Severity};
use crate::reports::read_capped;
use crate::vex::Exceptions;

/// The severity from which a finding fails the gate when the policy names none.
pub const DEFAULT_FAIL_ON: Severity = Severity::High;

/// The oldest database trusted when the policy names no age: its newest record modified at
/// most seven days ago.
pub const DEFAULT_MAX_DB_AGE: Duration = Duration::from_secs(7 * 86_400);

/// The largest policy file read (1 MiB).
const MAX_POLICY_FILE: u64 = 1024 * 1024;

/// How many findings a reason names before it counts the rest.
const NAMED_IN_A_REASON: usize = 10;

/// What the gate enforces.
#[derive(Debug, Clone)]
pub struct Policy {
    /// A finding at or above this severity without an exception fails the gate.
    pub fail_on: Severity,
    /// A database whose newest record is older than this fails the gate; `None` reports its
    /// age without judging it.
    pub max_db_age: Option<Duration>,
    /// The exceptions granted, if any.
    pub exceptions: Option<Exceptions>,
    /// Whether a finding of unknown severity (a record with no CVSS vector and no rating, as
    /// many distributions' are) may pass without an exception. By default it fails the gate
    /// whatever the threshold: unknown is not low.
    pub allow_unknown: bool,
    /// Whether an image whose inventory has gaps (a package database not read: an old rpmdb
    /// format, a file over a size cap, a malformed one) may pass; by default each gap fails
    /// the gate, since packages not inventoried are packages not scanned.
    pub allow_incomplete: bool,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    fail_on: Option<Severity>,
    #[serde(default)]
    max_db_age: Option<String>,
    #[serde(default)]
    vex: Vec<PathBuf>,
    #[serde(default)]
    allow_unknown: bool,
    #[serde(default)]
    allow_incomplete_inventory: bool,
}

impl Policy {
    /// Reads a policy file (see the module documentation), and the OpenVEX files it names,
    /// relative to its own directory.
    pub fn load(path: &Path) -> Result<Policy, ScanError> {
        let invalid = |reason: String| ScanError::Input { path: path.to_owned(), reason };
        let bytes = read_capped(path, MAX_POLICY_FILE)?;
        let text = std::str::from_utf8(&bytes).map_err(|e| invalid(format!("not UTF-8: {e}")))?;
        let raw: RawPolicy = serde_yaml_ng::from_str(text)
            .map_err(|e| invalid(format!("not a scan policy (failOn, maxDbAge, vex): {e}")))?;
        let max_db_age = match raw.max_db_age.as_deref().map(str::trim) {
            None => Some(DEFAULT_MAX_DB_AGE),
            Some("none") => None,
            Some(age) => Some(parse_duration(age).map_err(|e| invalid(format!("maxDbAge: {e}, or none")))?),
        };
        let exceptions = if raw.vex.is_empty() {
            None
        } else {
            let dir = path.parent().unwrap_or(Path::new("."));
            Some(Exceptions::load_named_in(dir, &raw.vex)?)
        };
        Ok(Policy {
            fail_on: raw.fail_on.unwrap_or(DEFAULT_FAIL_ON),
            max_db_age,
            exceptions,
            allow_unknown: raw.allow_unknown,
            allow_incomplete: raw.allow_incomplete_inventory,
        })
    }
}

/// Reads a duration as policies and flags write it: a whole number of days, hours or minutes
/// (`7d`, `12h`, `30m`).
pub fn parse_duration(text: &str) -> Result<Duration, String> {
    let invalid = || format!("{text:?} is not a duration such as 7d, 12h or 30m");
    let text = text.trim();
    let unit = text.chars().last().ok_or_else(invalid)?;
    let seconds = match unit {
        'd' => 86_400,
        'h' => 3_600,
        'm' => 60,
        _ => return Err(invalid()),
    };
    let count = &text[..text.len() - unit.len_utf8()];
    if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
        return Err(invalid());
    }
    let count: u64 = count.parse().map_err(|_| invalid())?;
    count.checked_mul(seconds).map(Duration::from_secs).ok_or_else(invalid)
}

/// Writes a duration the way [`parse_duration`] reads it when it can (`7d`, `12h`, `30m`),
/// in seconds (`90s`) otherwise.
pub fn format_duration(duration: Duration) -> String {
    let seconds = duration.as_secs();
    match seconds {
        0 => "0m".to_owned(),
        s if s % 86_400 == 0 => format!("{}d", s / 86_400),
        s if s % 3_600 == 0 => format!("{}h", s / 3_600),
        s if s % 60 == 0 => format!("{}m", s / 60),
        s => format!("{s}s"),
    }
}

/// The database a scan ran against, as the gate judges it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct DbInfo {
    /// `sha256:` over its input files.
    pub digest: String,
    /// Its newest record's `modified`, RFC 3339; `None` when no record states one.
    pub newest_modified: Option<String>,
}

/// The gate's verdict (see the module documentation for its JSON).
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Verdict {
    /// Whether the findings and the database pass the policy: `reasons` is empty.
    pub passed: bool,
    /// The policy's threshold.
    pub fail_on: Severity,
    /// Findings without an exception, by severity (every severity present).
    pub counts: BTreeMap<Severity, usize>,
    /// Findings an exception excepts.
    pub excepted: usize,
    /// Every finding with what OpenVEX says of it, most severe first.
    pub findings: Vec<JudgedFinding>,
    /// The database and its age; `None` when the findings came from another scanner's report.
    pub database: Option<DbVerdict>,
    /// Why the gate failed, a sentence each; empty when it passed.
    pub reasons: Vec<String>,
}

impl Verdict {
    /// Fails the verdict for what the scan could not judge (`crate::Scan::unscanned` and
    /// `unordered`: no OSV ecosystem for a distribution, no record of it in the database, a
    /// version its ecosystem cannot order), a reason each: a database brought across without
    /// the distribution's records must not pass an image as clean.
    pub fn refuse_unscanned(&mut self, unscanned: Vec<String>) {
        if unscanned.is_empty() {
            return;
        }
        self.reasons.extend(unscanned.into_iter().map(|s| format!("not scanned: {s}")));
        self.passed = false;
    }
}

/// One finding as judged.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct JudgedFinding {
    /// The finding, its fields inline.
    #[serde(flatten)]
    pub finding: Finding,
    /// What the latest OpenVEX statement naming it says; `None` when none does.
    pub vex: Option<VexStatement>,
    /// Whether it fails the gate: at or above the threshold, and not excepted.
    pub blocking: bool,
}

impl JudgedFinding {
    /// Whether an OpenVEX statement excepts it.
    pub fn excepted(&self) -> bool {
        self.vex.as_ref().is_some_and(VexStatement::is_exception)
    }
}

/// The database as judged.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct DbVerdict {
    /// `sha256:` over its input files.
    pub digest: String,
    /// Its newest record's `modified`, as the database states it.
    pub newest_modified: Option<String>,
    /// Seconds from that record's `modified` to the judgement; `None` when either time is
    /// unknown. Seconds rather than days, since a policy may allow hours.
    pub age_seconds: Option<u64>,
    /// The policy's limit in seconds; `None` when the policy judges no age.
    pub max_age_seconds: Option<u64>,
    /// Whether it is older than the limit, or of unknown age under a limit.
    pub stale: bool,
}

/// Judges findings at `now` (RFC 3339): each against the exceptions, all against the
/// threshold, and the database's age against the limit. A `now` that does not read as a
/// date fails the gate: neither an expiry nor an age can then be checked. The builder and
/// `genesis scan` pass their wall-clock time, so an exception that expired yesterday no
/// longer excepts today.
pub fn judge(findings: Vec<Finding>, policy: &Policy, db: Option<DbInfo>, now: &str) -> Verdict {
    let clock = genesis_bundle::parse_rfc3339(now);
    let mut reasons = Vec::new();
    if clock.is_none() {
        reasons.push(format!(
            "the time of judgement {now:?} is not an RFC 3339 date, so no exception's expiry and no database age \
             could be checked"
        ));
    }

    let mut findings: Vec<JudgedFinding> = findings
        .into_iter()
        .map(|finding| {
            let vex = policy.exceptions.as_ref().and_then(|exceptions| exceptions.judge(&finding, now));
            let excepted = vex.as_ref().is_some_and(VexStatement::is_exception);
            let blocking = !excepted && blocks(finding.severity, policy.fail_on, policy.allow_unknown);
            JudgedFinding { finding, vex, blocking }
        })
        .collect();
    findings.sort_by(|a, b| order_key(a).cmp(&order_key(b)));

    let mut counts: BTreeMap<Severity, usize> = Severity::ALL.iter().map(|s| (*s, 0)).collect();
    for judged in findings.iter().filter(|f| !f.excepted()) {
        *counts.entry(judged.finding.severity).or_default() += 1;
    }
    let excepted = findings.iter().filter(|f| f.excepted()).count();

    let blocking: Vec<&JudgedFinding> = findings.iter().filter(|f| f.blocking).collect();
    if !blocking.is_empty() {
        reasons.push(blocking_reason(&blocking, policy.fail_on));
    }

    let database = db.map(|db| judge_database(db, policy.max_db_age, clock));
    if let Some(reason) = database.as_ref().and_then(stale_reason) {
        reasons.push(reason);
    }

    Verdict { passed: reasons.is_empty(), fail_on: policy.fail_on, counts, excepted, findings, database, reasons }
}

/// Most severe first; then by image, package, version and ID, so that the order never
/// depends on the scanner's.
fn order_key(judged: &JudgedFinding) -> (Reverse<Severity>, &str, &str, &str, &str, &str) {
    let f = &judged.finding;
    (Reverse(f.severity), f.image.as_str(), f.package.as_str(), f.installed.as_str(), f.id.as_str(), f.purl.as_str())
}

fn blocking_reason(blocking: &[&JudgedFinding], fail_on: Severity) -> String {
    let mut named: Vec<String> = blocking
        .iter()
        .take(NAMED_IN_A_REASON)
        .map(|judged| {
            let f = &judged.finding;
            let vex = judged.vex.as_ref().map_or_else(String::new, |vex| format!(", {}", not_excepting(vex)));
            format!("{} in {} {} ({}{vex})", f.id, f.package, f.installed, f.severity)
        })
        .collect();
    if blocking.len() > NAMED_IN_A_REASON {
        named.push(format!("and {} more", blocking.len() - NAMED_IN_A_REASON));
    }
    let (count, verb) = if blocking.len() == 1 {
        ("1 finding".to_owned(), "has")
    } else {
        (format!("{} findings", blocking.len()), "have")
    };
    format!("{count} at or above {fail_on} {verb} no exception: {}", named.join(", "))
}

/// Why a statement that names a finding does not except it, in a few words: `its exception
/// expired <when>` for a `not_affected` or `fixed` one that expired, `OpenVEX: <status>`
/// otherwise.
pub(crate) fn not_excepting(vex: &VexStatement) -> String {
    match &vex.expires {
        Some(when) if vex.expired && vex.status.excepts() => format!("its exception expired {when}"),
        _ => format!("OpenVEX: {}", vex.status),
    }
}

/// Whether an unexcepted finding of `severity` fails a gate at `fail_on`: at or above it, or
/// of unknown severity unless allowed. The same rule as the signed record's
/// (`genesis_bundle::ScanRecord::passed`).
pub fn blocks(severity: Severity, fail_on: Severity, allow_unknown: bool) -> bool {
    severity >= fail_on || (severity == Severity::Unknown && !allow_unknown)
}

/// How far ahead of the clock a database's newest record may be dated (clocks differ): a
/// record dated later would make any database look fresh, so its age is then unknown.
const CLOCK_SKEW: u64 = 86_400;

fn judge_database(db: DbInfo, max_age: Option<Duration>, clock: Option<u64>) -> DbVerdict {
    let newest = db.newest_modified.as_deref().and_then(genesis_bundle::parse_rfc3339);
    // A newest record from the future gives no age: under a limit, the database is stale.
    let age_seconds = newest
        .zip(clock)
        .filter(|(newest, now)| *newest <= now.saturating_add(CLOCK_SKEW))
        .map(|(newest, now)| now.saturating_sub(newest));
    let max_age_seconds = max_age.map(|age| age.as_secs());
    let stale = max_age_seconds.is_some_and(|max| age_seconds.is_none_or(|age| age > max));
    DbVerdict { digest: db.digest, newest_modified: db.newest_modified, age_seconds, max_age_seconds, stale }
}

fn stale_reason(db: &DbVerdict) -> Option<String> {
    let max = Duration::from_secs(db.max_age_seconds.filter(|_| db.stale)?);
    let allow = "bring a newer database across, or allow an older one (--max-db-age, maxDbAge)";
    Some(match (db.age_seconds, &db.newest_modified) {
        (Some(age), Some(newest)) => format!(
            "the database {} is {} old (newest record modified {newest}), older than the {} the policy allows; {allow}",
            db.digest,
            human_age(age),
            format_duration(max)
        ),
        (_, None) => format!(
            "the database {} states no modified date on any record, so its age is unknown and the policy allows at \
             most {}; {allow}",
            db.digest,
            format_duration(max)
        ),
        (None, Some(newest)) if genesis_bundle::parse_rfc3339(newest).is_none() => format!(
            "the database {}'s newest modified date {newest:?} is not an RFC 3339 date, so its age is unknown and the \
             policy allows at most {}; {allow}",
            db.digest,
            format_duration(max)
        ),
        (None, Some(_)) => format!(
            "the database {}'s age is unknown without the time of judgement, and the policy allows at most {}",
            db.digest,
            format_duration(max)
        ),
    })
}

/// An age in the largest two units that matter (`9d 4h`, `5h 12m`, `40m`).
pub(crate) fn human_age(seconds: u64) -> String {
    let (days, hours, minutes) = (seconds / 86_400, seconds % 86_400 / 3_600, seconds % 3_600 / 60);
    match (days, hours) {
        (0, 0) => format!("{minutes}m"),
        (0, _) => format!("{hours}h {minutes}m"),
        _ => format!("{days}d {hours}h"),
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use genesis_inventory::PackageKind;

    use super::*;
    use crate::fixtures::{NOW, data};
    use crate::reports::read_report;
    use crate::vex::VexStatus;

    fn finding(id: &str, package: &str, severity: Severity) -> Finding {
        Finding {
            id: id.into(),
            aliases: vec![],
            package: package.into(),
            kind: PackageKind::Deb,
            installed: "1.0-1".into(),
            fixed: Some("1.0-2".into()),
            severity,
            score: None,
            severity_from: None,
            image: "registry.example/shop/app:1.4 (linux/amd64)".into(),
            purl: format!("pkg:deb/debian/{package}@1.0-1?arch=amd64"),
            summary: None,
        }
    }

    fn policy(fail_on: Severity) -> Policy {
        Policy {
            fail_on,
            max_db_age: Some(DEFAULT_MAX_DB_AGE),
            exceptions: None,
            allow_unknown: false,
            allow_incomplete: false,
        }
    }

    fn with_vex(fail_on: Severity, vex: &str) -> Policy {
        Policy { exceptions: Some(Exceptions::load(&data(vex)).unwrap()), ..policy(fail_on) }
    }

    fn one_of_each() -> Vec<Finding> {
        Severity::ALL.iter().map(|s| finding(&format!("CVE-2026-{}", *s as u8), &format!("pkg-{s}"), *s)).collect()
    }

    #[test]
    fn a_finding_fails_the_gate_exactly_when_it_is_at_or_above_the_threshold_or_of_unknown_severity() {
        for allow_unknown in [false, true] {
            for fail_on in Severity::ALL {
                for severity in Severity::ALL {
                    let policy = Policy { allow_unknown, ..policy(fail_on) };
                    let verdict = judge(vec![finding("CVE-2026-1", "zlib1g", severity)], &policy, None, NOW);
                    let blocks = severity >= fail_on || (severity == Severity::Unknown && !allow_unknown);
                    assert_eq!(verdict.passed, !blocks, "{severity} under fail-on {fail_on}, {allow_unknown}");
                    assert_eq!(verdict.findings[0].blocking, blocks);
                    assert_eq!(verdict.reasons.is_empty(), verdict.passed);
                }
            }
        }
        let verdict = judge(one_of_each(), &Policy { allow_unknown: true, ..policy(Severity::Medium) }, None, NOW);
        assert!(!verdict.passed);
        assert_eq!(
            verdict.reasons,
            ["3 findings at or above medium have no exception: CVE-2026-4 in pkg-critical 1.0-1 (critical), \
              CVE-2026-3 in pkg-high 1.0-1 (high), CVE-2026-2 in pkg-medium 1.0-1 (medium)"]
        );
        let order: Vec<Severity> = verdict.findings.iter().map(|f| f.finding.severity).collect();
        assert_eq!(order, [Severity::Critical, Severity::High, Severity::Medium, Severity::Low, Severity::Unknown]);
        assert_eq!(verdict.counts.values().copied().collect::<Vec<_>>(), [1, 1, 1, 1, 1]);
        assert!(judge(vec![], &policy(Severity::Unknown), None, NOW).passed, "nothing found passes");
    }

    #[test]
    fn a_vex_exception_excepts_and_an_expired_one_does_not() {
        let mut zlib = finding("CVE-2023-45853", "zlib1g", Severity::Critical);
        zlib.image = "debian:12 (linux/amd64)".into();
        zlib.purl = "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12".into();
        let mut libc = finding("CVE-2024-2961", "libc6", Severity::High);
        libc.purl = "pkg:deb/debian/libc6@2.36-9%2Bdeb12u4?arch=amd64".into();
        let policy = with_vex(Severity::High, "vex-debian-12.openvex.json");

        let verdict = judge(vec![zlib.clone(), libc.clone()], &policy, None, NOW);
        assert!(!verdict.passed);
        assert_eq!(verdict.excepted, 1);
        assert_eq!(verdict.counts[&Severity::Critical], 0, "the excepted critical is not counted");
        assert_eq!(verdict.counts[&Severity::High], 1);
        let status: Vec<(&str, String, bool, bool)> = verdict
            .findings
            .iter()
            .map(|f| {
                let vex = f.vex.as_ref().unwrap();
                (f.finding.id.as_str(), vex.to_string(), vex.excepts, f.blocking)
            })
            .collect();
        assert_eq!(
            status,
            [
                (
                    "CVE-2023-45853",
                    "not_affected: vulnerable_code_not_present (expires 2026-08-01T00:00:00Z)".into(),
                    true,
                    false
                ),
                (
                    "CVE-2024-2961",
                    "not_affected: inline_mitigations_already_exist (expired 2026-02-15T00:00:00Z)".into(),
                    false,
                    true
                ),
            ]
        );
        let file = policy.exceptions.as_ref().unwrap().documents()[0].sha256.clone();
        assert!(verdict.findings.iter().all(|f| f.vex.as_ref().unwrap().document == file), "both from the one file");
        assert_eq!(
            verdict.reasons,
            ["1 finding at or above high has no exception: CVE-2024-2961 in libc6 1.0-1 (high, its exception expired \
              2026-02-15T00:00:00Z)"]
        );

        let before_expiry = judge(vec![zlib, libc], &policy, None, "2026-02-14T00:00:00Z");
        assert!(before_expiry.passed, "{:?}", before_expiry.reasons);
        assert_eq!(before_expiry.excepted, 2);
    }

    /// A statement saying `affected` or `under_investigation` is the latest word on its
    /// finding: it leaves the finding counted, blocking at the threshold, and the reason says
    /// what OpenVEX said.
    #[test]
    fn an_affected_or_under_investigation_statement_counts_and_says_so() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("vex.json");
        std::fs::write(
            &file,
            r#"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.invalid/vex/3",
                "author": "ops", "timestamp": "2026-01-01T00:00:00Z", "version": 1, "statements": [
                {"vulnerability": {"name": "CVE-2026-1"}, "products": [{"@id": "pkg:deb/debian/openssl"}],
                 "status": "under_investigation"},
                {"vulnerability": {"name": "CVE-2026-2"}, "products": [{"@id": "pkg:deb/debian/zlib1g"}],
                 "status": "affected", "action_statement": "Upgrade once Debian ships the fix"}]}"#,
        )
        .unwrap();
        let policy = Policy { exceptions: Some(Exceptions::load(&file).unwrap()), ..policy(Severity::High) };
        let findings =
            vec![finding("CVE-2026-1", "openssl", Severity::High), finding("CVE-2026-2", "zlib1g", Severity::Medium)];
        let verdict = judge(findings, &policy, None, NOW);
        assert!(!verdict.passed);
        assert_eq!((verdict.excepted, verdict.counts[&Severity::High], verdict.counts[&Severity::Medium]), (0, 1, 1));
        let status: Vec<(Option<VexStatus>, bool)> =
            verdict.findings.iter().map(|f| (f.vex.as_ref().map(|v| v.status), f.blocking)).collect();
        assert_eq!(status, [(Some(VexStatus::UnderInvestigation), true), (Some(VexStatus::Affected), false)]);
        assert_eq!(
            verdict.reasons,
            ["1 finding at or above high has no exception: CVE-2026-1 in openssl 1.0-1 (high, OpenVEX: \
              under_investigation)"]
        );
    }

    #[test]
    fn a_stale_database_fails_the_gate_unless_the_policy_judges_no_age() {
        let db = |newest: Option<&str>| {
            Some(DbInfo { digest: "sha256:0d".into(), newest_modified: newest.map(str::to_owned) })
        };
        let fresh = judge(vec![], &policy(Severity::High), db(Some("2026-02-26T04:07:10Z")), NOW);
        assert!(fresh.passed);
        assert_eq!(
            fresh.database,
            Some(DbVerdict {
                digest: "sha256:0d".into(),
                newest_modified: Some("2026-02-26T04:07:10Z".into()),
                age_seconds: Some(244_370),
                max_age_seconds: Some(604_800),
                stale: false,
            })
        );

        let stale = judge(vec![], &policy(Severity::High), db(Some("2026-02-20T00:00:00Z")), NOW);
        assert!(!stale.passed);
        assert!(stale.database.as_ref().unwrap().stale);
        assert_eq!(
            stale.reasons,
            [
                "the database sha256:0d is 9d 0h old (newest record modified 2026-02-20T00:00:00Z), older than the 7d the \
              policy allows; bring a newer database across, or allow an older one (--max-db-age, maxDbAge)"
            ]
        );
        let exactly = judge(vec![], &policy(Severity::High), db(Some("2026-02-22T00:00:00Z")), NOW);
        assert!(exactly.passed, "seven days old is within seven days");

        let unknown = judge(vec![], &policy(Severity::High), db(None), NOW);
        assert!(!unknown.passed && unknown.reasons[0].contains("its age is unknown"), "{:?}", unknown.reasons);

        let unjudged = Policy { max_db_age: None, ..policy(Severity::High) };
        let old = judge(vec![], &unjudged, db(Some("2020-01-01T00:00:00Z")), NOW);
        assert!(old.passed);
        let database = old.database.unwrap();
        assert_eq!((database.stale, database.max_age_seconds), (false, None));
        assert!(database.age_seconds.is_some(), "the age is still reported");

        assert!(judge(vec![], &policy(Severity::High), None, NOW).database.is_none(), "a report has no database");
    }

    #[test]
    fn a_clock_that_cannot_be_read_fails_the_gate() {
        let verdict = judge(vec![], &policy(Severity::Critical), None, "now");
        assert!(!verdict.passed);
        assert!(verdict.reasons[0].contains("\"now\" is not an RFC 3339 date"));
        let db = DbInfo { digest: "sha256:0d".into(), newest_modified: Some("2026-02-26T04:07:10Z".into()) };
        let verdict = judge(vec![], &policy(Severity::Critical), Some(db), "now");
        assert_eq!(verdict.reasons.len(), 2);
        assert!(verdict.reasons[1].contains("age is unknown without the time of judgement"), "{:?}", verdict.reasons);
    }

    #[test]
    fn trivy_and_grype_reports_of_one_image_gate_the_same_way() {
        let trivy = read_report(&data("trivy-debian-12.json")).unwrap();
        let grype = read_report(&data("grype-debian-12.json")).unwrap();
        // What the gate decided, per finding, in terms both scanners share (grype names the
        // requests advisory by its GHSA, trivy by its CVE).
        let outcome = |verdict: &Verdict| {
            let rows: Vec<_> = verdict
                .findings
                .iter()
                .map(|f| {
                    let g = &f.finding;
                    (g.package.clone(), g.installed.clone(), g.fixed.clone(), g.severity, f.vex.clone(), f.blocking)
                })
                .collect();
            (verdict.passed, verdict.counts.clone(), verdict.excepted, rows)
        };
        for (fail_on, passes) in [(Severity::Critical, true), (Severity::High, false), (Severity::Low, false)] {
            let policy = with_vex(fail_on, "vex-debian-12.openvex.json");
            let from_trivy = judge(trivy.clone(), &policy, None, NOW);
            let from_grype = judge(grype.clone(), &policy, None, NOW);
            assert_eq!(from_trivy.passed, passes, "fail-on {fail_on}: {:?}", from_trivy.reasons);
            assert_eq!(outcome(&from_trivy), outcome(&from_grype), "fail-on {fail_on}");
            assert_eq!(from_trivy.excepted, 2, "zlib1g by image and subcomponent, requests by CVE or its alias");
        }
        let unexcepted = judge(trivy, &policy(Severity::Critical), None, NOW);
        assert!(!unexcepted.passed, "without the exceptions the critical zlib1g finding fails");
    }

    #[test]
    fn a_policy_file_reads_its_threshold_age_and_exceptions() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("vex")).unwrap();
        std::fs::copy(data("vex-debian-12.openvex.json"), dir.path().join("vex/debian.json")).unwrap();
        let write = |text: &str| {
            let path = dir.path().join("policy.yaml");
            std::fs::write(&path, text).unwrap();
            path
        };

        let policy = Policy::load(&write("failOn: critical\nmaxDbAge: 12h\nvex: [vex/debian.json]\n")).unwrap();
        assert_eq!(policy.fail_on, Severity::Critical);
        assert_eq!(policy.max_db_age, Some(Duration::from_secs(12 * 3600)));
        let mut zlib = finding("CVE-2023-45853", "zlib1g", Severity::Critical);
        zlib.image = "debian:12".into();
        let exceptions = policy.exceptions.unwrap();
        assert!(exceptions.judge(&zlib, NOW).is_some_and(|v| v.excepts), "the VEX file beside the policy was read");
        let names: Vec<&str> = exceptions.documents().iter().map(|d| d.name.as_str()).collect();
        assert_eq!(names, ["vex/debian.json"], "named as the policy gives it, not where the build found it");

        let defaults = Policy::load(&write("{}\n")).unwrap();
        assert_eq!((defaults.fail_on, defaults.max_db_age), (DEFAULT_FAIL_ON, Some(DEFAULT_MAX_DB_AGE)));
        assert!(defaults.exceptions.is_none());
        assert_eq!(Policy::load(&write("maxDbAge: none\n")).unwrap().max_db_age, None);

        let refused = |text: &str| match Policy::load(&write(text)) {
            Err(ScanError::Input { reason, .. }) => reason,
            other => panic!("{text:?} is refused, not {other:?}"),
        };
        assert!(refused("failOn: high\nfailon: low\n").contains("unknown field `failon`"));
        assert!(refused("failOn: severe\n").contains("unknown variant `severe`"));
        assert!(refused("maxDbAge: a week\n").contains("maxDbAge: \"a week\" is not a duration"));
        let missing = Policy::load(&write("vex: [vex/absent.json]\n")).unwrap_err();
        assert!(
            matches!(&missing, ScanError::Io { path, .. } if path.ends_with("vex/absent.json")),
            "the missing VEX file is named: {missing:?}"
        );
    }

    #[test]
    fn durations_read_as_days_hours_or_minutes() {
        for (text, seconds) in [("7d", 604_800), ("12h", 43_200), ("30m", 1_800), (" 1d ", 86_400), ("0m", 0)] {
            assert_eq!(parse_duration(text), Ok(Duration::from_secs(seconds)), "{text:?}");
            assert_eq!(
                parse_duration(&format_duration(Duration::from_secs(seconds))),
                Ok(Duration::from_secs(seconds))
            );
        }
        for text in ["", "d", "7", "7 d", "-1d", "+1d", "1.5d", "7w", "99999999999999999999d", "213503982334602d", "7é"]
        {
            assert!(parse_duration(text).is_err(), "{text:?}");
        }
        assert_eq!(format_duration(Duration::from_secs(90)), "90s");
        assert_eq!(human_age(9 * 86_400 + 4 * 3_600 + 59), "9d 4h");
        assert_eq!(human_age(5 * 3_600 + 12 * 60), "5h 12m");
    }

    #[test]
    fn the_verdict_json_names_its_fields_as_documented() {
        let mut libc = finding("CVE-2024-2961", "libc6", Severity::High);
        libc.aliases = vec!["DSA-5673-1".into()];
        let db = DbInfo { digest: "sha256:0d".into(), newest_modified: Some("2026-02-26T04:07:10Z".into()) };
        let verdict = judge(vec![libc], &policy(Severity::High), Some(db), NOW);
        let json = serde_json::to_value(&verdict).unwrap();
        let keys = |value: &serde_json::Value| {
            let mut keys: Vec<String> = value.as_object().unwrap().keys().cloned().collect();
            keys.sort();
            keys
        };
        assert_eq!(keys(&json), ["counts", "database", "excepted", "failOn", "findings", "passed", "reasons"]);
        assert_eq!(
            keys(&json["findings"][0]),
            [
                "aliases",
                "blocking",
                "fixed",
                "id",
                "image",
                "installed",
                "kind",
                "package",
                "purl",
                "score",
                "severity",
                "summary",
                "vex"
            ]
        );
        assert_eq!(keys(&json["database"]), ["ageSeconds", "digest", "maxAgeSeconds", "newestModified", "stale"]);
        assert_eq!(json["counts"], serde_json::json!({"unknown": 0, "low": 0, "medium": 0, "high": 1, "critical": 0}));
        assert_eq!(json["findings"][0]["vex"], serde_json::Value::Null, "no statement names it");
        assert_eq!(json["failOn"], "high");
        let back: Verdict = serde_json::from_str(&serde_json::to_string(&verdict).unwrap()).unwrap();
        assert_eq!(back, verdict);
    }
}
