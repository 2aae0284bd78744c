//! The vulnerability gate at build time (`bundle-builder create --scan-db … --scan-policy
//! …`): the packages inventoried in every image are matched against the OSV database, the
//! policy judges the findings, and a build that fails it writes no bundle. A build that
//! passes records the verdict in the BOM it signs, so the cluster side can check the
//! vendor's verdict without a database (`genesis verify`, and a trust policy's
//! `require: [{scan: …}]`).
//!
//! The gate judges at the build's wall-clock time, not `SOURCE_DATE_EPOCH` (a stale database,
//! an exception that has expired: a build dated by its last commit must not keep alive an
//! exception that lapsed since), while the record holds only what the inputs say (dated with
//! its database's newest record; every exception's expiry by its own date, with whether it had
//! passed), so a rebuild of the same inputs gives the same bytes unless an expiry passed in
//! between, which changes the verdict too; a verifier judges the expiries again at its own
//! time. The record names the policy it was judged by: the threshold, the oldest database
//! accepted, whether unknown severities and gaps in the inventory were allowed, and each
//! OpenVEX file by the name the policy gives and its SHA-256, which every finding's statement
//! points at; each finding says which record its severity came from when not its own. What
//! the gate could not judge fails it: an image whose layers could not be read, a package of an
//! ecosystem the database holds no record of, and a gap in an inventory (what it saw but could
//! not read) unless the policy allows gaps, which the record then lists.

use std::path::PathBuf;

use genesis_bundle::{Bom, ScanDatabase, ScanFinding, ScanRecord};
use genesis_scan::{Database, DbInfo, JudgedFinding, Policy};

use crate::inventory::ImageInventory;
use crate::{BuildError, Result};

/// What `--scan-db` and `--scan-policy` ask for.
#[derive(Debug, Clone, Default)]
pub struct ScanOptions {
    /// OSV databases: per-ecosystem `all.zip` exports or folders of records.
    pub databases: Vec<PathBuf>,
    /// The scan policy file (`failOn`, `maxDbAge`, `vex`); the defaults without one.
    pub policy: Option<PathBuf>,
}

/// Scans `inventories` (the images of `bom`) under `options`; the record for the BOM when
/// the policy passes, as of its database's newest record (`created` for a database without
/// dates).
pub(crate) fn gate(
    bom: &Bom,
    inventories: &[ImageInventory],
    options: &ScanOptions,
    created: &str,
) -> Result<ScanRecord> {
    let policy = match &options.policy {
        Some(path) => Policy::load(path)?,
        None => Policy {
            fail_on: genesis_scan::DEFAULT_FAIL_ON,
            max_db_age: Some(genesis_scan::DEFAULT_MAX_DB_AGE),
            exceptions: None,
            allow_unknown: false,
            allow_incomplete: false,
        },
    };
    // What was not read cannot be judged: an image whose layers could not be read fails
    // the gate rather than pass it with no package.
    let unread: Vec<&str> = inventories.iter().filter_map(|i| i.unreadable.as_deref()).collect();
    if !unread.is_empty() {
        let reasons = unread.iter().map(|why| format!("{why}: its packages could not be inventoried")).collect();
        return Err(BuildError::ScanFailed { reasons, table: String::new() });
    }
    let db = Database::open(&options.databases)?;
    let mut findings = Vec::new();
    let mut unscanned = Vec::new();
    let mut gaps = Vec::new();
    let mut packages = 0;
    for image in inventories {
        let platform = image.platform.as_ref().map(ToString::to_string);
        let label = bom.image_label(&image.image, platform.as_deref());
        let scan = genesis_scan::scan(&db, &label, image.inventory.distro.as_ref(), &image.inventory.packages);
        // Package names and paths are the layers' authors': shown escaped wherever printed.
        let said = |sentence: &String| genesis_bundle::escape_controls(&format!("{label}: {sentence}"));
        unscanned.extend(scan.unscanned.iter().chain(&scan.unordered).map(said));
        gaps.extend(image.inventory.notes.iter().map(said));
        packages += image.inventory.packages.len() as u64;
        findings.extend(scan.findings);
    }
    // A gap hides packages from the scan: it fails the gate unless the policy allows gaps, and
    // then the record lists it, so that a verifier sees what the verdict skipped.
    if !policy.allow_incomplete {
        unscanned.extend(gaps.iter().cloned());
    }
    let now = genesis_bundle::rfc3339(genesis_bundle::unix_now());
    let info = DbInfo { digest: db.digest(), newest_modified: db.newest_modified().map(str::to_owned) };
    let mut verdict = genesis_scan::judge(findings, &policy, Some(info), &now);
    verdict.refuse_unscanned(unscanned);
    if !verdict.passed {
        return Err(BuildError::ScanFailed { reasons: verdict.reasons.clone(), table: genesis_scan::text(&verdict) });
    }
    let findings: Vec<ScanFinding> = verdict.findings.into_iter().map(recorded).collect();
    let (gaps, unlisted_gaps) = ScanRecord::list_gaps(gaps);
    let record = ScanRecord {
        as_of: db.newest_modified().unwrap_or(created).to_owned(),
        database: ScanDatabase {
            digest: db.digest(),
            newest_modified: db.newest_modified().map(str::to_owned),
            records: db.records() as u64,
        },
        packages,
        gaps,
        unlisted_gaps,
        fail_on: policy.fail_on,
        allow_unknown: policy.allow_unknown,
        allow_incomplete: policy.allow_incomplete,
        max_db_age_seconds: policy.max_db_age.map(|age| age.as_secs()),
        vex_documents: policy.exceptions.as_ref().map_or_else(Vec::new, |vex| vex.documents().to_vec()),
        counts: verdict.counts.iter().map(|(s, n)| (*s, *n as u64)).filter(|(_, n)| *n > 0).collect(),
        findings,
    };
    Ok(record)
}

/// A finding as the signed record keeps it: what identifies it, its severity and where that
/// came from, and what OpenVEX says of it.
fn recorded(judged: JudgedFinding) -> ScanFinding {
    let finding = judged.finding;
    ScanFinding {
        id: finding.id,
        purl: finding.purl,
        installed: finding.installed,
        fixed: finding.fixed,
        severity: finding.severity,
        severity_from: finding.severity_from,
        image: finding.image,
        vex: judged.vex,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sbom::tests::{bom, digest, inventory, platform};

    /// An OSV database of one record per ecosystem of [`inventory`]'s packages, naming none of
    /// them, dated now: so that only the inventory's gaps can fail the gate.
    fn database(dir: &std::path::Path) -> PathBuf {
        let db = dir.join("osv");
        std::fs::create_dir_all(&db).unwrap();
        let now = genesis_bundle::rfc3339(genesis_bundle::unix_now());
        for (i, ecosystem) in ["Debian:12", "crates.io", "PyPI", "npm"].into_iter().enumerate() {
            let record = serde_json::json!({
                "id": format!("TEST-{i}"), "modified": now,
                "affected": [{"package": {"ecosystem": ecosystem, "name": "nothing-installed"},
                              "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}]}]}]
            });
            std::fs::write(db.join(format!("TEST-{i}.json")), record.to_string()).unwrap();
        }
        db
    }

    /// A gap fails the gate; allowed, it passes, and the record says so and lists it, so that a
    /// verifier sees what the verdict skipped.
    #[test]
    fn an_inventory_with_gaps_fails_the_gate_unless_its_policy_allows_them_and_the_record_lists_them() {
        let dir = tempfile::tempdir().unwrap();
        let options = ScanOptions { databases: vec![database(dir.path())], policy: None };
        let images = [inventory("app", Some(platform("linux/amd64")), digest('b'))];
        match gate(&bom(), &images, &options, "2024-05-01T00:00:00Z") {
            Err(BuildError::ScanFailed { reasons, .. }) => {
                let rpm = "registry.example.com/demo/app:1.0 (linux/amd64): var/lib/rpm/Packages is an RPM BerkeleyDB";
                assert!(reasons.iter().any(|r| r.contains(rpm)), "{reasons:?}");
                assert_eq!(reasons.len(), 2, "one per gap: {reasons:?}");
            }
            other => panic!("{other:?}"),
        }
        let policy = dir.path().join("policy.yaml");
        std::fs::write(&policy, "allowIncompleteInventory: true\n").unwrap();
        let allowed = ScanOptions { policy: Some(policy), ..options };
        let record = gate(&bom(), &images, &allowed, "2024-05-01T00:00:00Z").unwrap();
        assert!(record.findings.is_empty() && record.packages == 4, "{record:?}");
        let label = "registry.example.com/demo/app:1.0 (linux/amd64)";
        assert!(record.allow_incomplete);
        assert_eq!(
            (record.gaps, record.unlisted_gaps),
            (
                vec![
                    format!("{label}: var/lib/rpm/Packages is an RPM BerkeleyDB database: not inventoried"),
                    format!("{label}: usr/local/bin/tool is a Go binary without build information: not inventoried"),
                ],
                0
            )
        );
    }

    /// A severity the matched record borrowed from the record of the CVE it names is recorded
    /// with that record's ID.
    #[test]
    fn a_borrowed_severity_is_recorded_with_the_record_it_came_from() {
        let dir = tempfile::tempdir().unwrap();
        let db = database(dir.path());
        let now = genesis_bundle::rfc3339(genesis_bundle::unix_now());
        let dsa = serde_json::json!({
            "id": "DSA-9001-1", "modified": now, "upstream": ["CVE-2026-0009"],
            "affected": [{"package": {"ecosystem": "Debian:12", "name": "openssl"},
                          "ranges": [{"type": "ECOSYSTEM",
                                      "events": [{"introduced": "0"}, {"fixed": "3.0.13-1~deb12u1"}]}]}]
        });
        let cve = serde_json::json!({
            "id": "CVE-2026-0009", "modified": now,
            "affected": [{"ranges": [{"type": "GIT", "repo": "https://example.invalid/openssl.git",
                                      "events": [{"introduced": "0"}, {"fixed": "f9dc6090"}]}]}],
            "severity": [{"type": "CVSS_V3", "score": "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H"}]
        });
        std::fs::write(db.join("DSA-9001-1.json"), dsa.to_string()).unwrap();
        std::fs::write(db.join("CVE-2026-0009.json"), cve.to_string()).unwrap();
        let policy = dir.path().join("policy.yaml");
        std::fs::write(&policy, "failOn: critical\nallowIncompleteInventory: true\n").unwrap();
        let options = ScanOptions { databases: vec![db], policy: Some(policy) };
        let images = [inventory("app", Some(platform("linux/amd64")), digest('b'))];

        let record = gate(&bom(), &images, &options, "2024-05-01T00:00:00Z").unwrap();
        let rated: Vec<(&str, genesis_scan::Severity, Option<&str>)> =
            record.findings.iter().map(|f| (f.id.as_str(), f.severity, f.severity_from.as_deref())).collect();
        assert_eq!(rated, [("DSA-9001-1", genesis_scan::Severity::High, Some("CVE-2026-0009"))]);
    }

    /// Writes an OSV record of `name` in `ecosystem`, fixed in `fixed`, scored by `vector`.
    fn affecting(db: &std::path::Path, id: &str, ecosystem: &str, name: &str, fixed: &str, vector: &str) {
        let record = serde_json::json!({
            "id": id, "modified": genesis_bundle::rfc3339(genesis_bundle::unix_now()),
            "severity": [{"type": "CVSS_V3", "score": vector}],
            "affected": [{"package": {"ecosystem": ecosystem, "name": name},
                          "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]}]
        });
        std::fs::write(db.join(format!("{id}.json")), record.to_string()).unwrap();
    }

    /// The record names the policy (its oldest database, each OpenVEX file by the name the
    /// policy gives and its digest) and every finding with its statement: one under
    /// investigation and one whose exception expired count, a fixed one excepts, and each
    /// expiry is recorded by its date in UTC, passed or not, for a verifier to judge again.
    #[test]
    fn the_record_names_the_policy_and_every_findings_openvex_statement() {
        use genesis_bundle::VexStatus::{self, Fixed, NotAffected, UnderInvestigation};
        const CRITICAL: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
        const HIGH: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H";
        let dir = tempfile::tempdir().unwrap();
        let db = database(dir.path());
        affecting(&db, "CVE-2026-0001", "Debian:12", "openssl", "3.0.13-1~deb12u1", HIGH);
        affecting(&db, "CVE-2026-0002", "PyPI", "requests", "2.32.0", HIGH);
        affecting(&db, "CVE-2026-0003", "PyPI", "requests", "2.32.0", CRITICAL);
        let vex = r#"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.invalid/vex/build",
            "author": "ops", "timestamp": "2024-01-01T00:00:00Z", "version": 1, "statements": [
            {"vulnerability": {"name": "CVE-2026-0001"}, "products": [{"@id": "pkg:deb/debian/libssl3"}],
             "status": "under_investigation"},
            {"vulnerability": {"name": "CVE-2026-0002"}, "products": [{"@id": "pkg:pypi/requests"}],
             "status": "not_affected", "justification": "component_not_present", "expires": "2024-02-01T00:00:00Z"},
            {"vulnerability": {"name": "CVE-2026-0003"}, "products": [{"@id": "pkg:pypi/requests"}],
             "status": "fixed", "expires": "2999-01-01T00:00:00+01:00"}]}"#;
        std::fs::create_dir(dir.path().join("vex")).unwrap();
        std::fs::write(dir.path().join("vex/ops.json"), vex).unwrap();
        let policy = dir.path().join("policy.yaml");
        std::fs::write(
            &policy,
            "failOn: critical\nmaxDbAge: 12h\nallowIncompleteInventory: true\nvex: [vex/ops.json]\n",
        )
        .unwrap();
        let options = ScanOptions { databases: vec![db], policy: Some(policy) };
        let images = [inventory("app", Some(platform("linux/amd64")), digest('b'))];

        let record = gate(&bom(), &images, &options, "2024-05-01T00:00:00Z").unwrap();
        assert_eq!(
            record.vex_documents,
            [genesis_bundle::VexDocument {
                name: "vex/ops.json".into(),
                sha256: genesis_bundle::sha256(vex.as_bytes())
            }]
        );
        assert_eq!(record.max_db_age_seconds, Some(12 * 3600));
        // (id, status, expires, expired, excepted) of each finding.
        type Said<'a> = (&'a str, Option<VexStatus>, Option<&'a str>, bool, bool);
        let statuses: Vec<Said<'_>> = record
            .findings
            .iter()
            .map(|f| {
                let vex = f.vex.as_ref();
                let expires = vex.and_then(|v| v.expires.as_deref());
                (f.id.as_str(), vex.map(|v| v.status), expires, vex.is_some_and(|v| v.expired), f.excepted())
            })
            .collect();
        assert_eq!(
            statuses,
            [
                ("CVE-2026-0003", Some(Fixed), Some("2998-12-31T23:00:00Z"), false, true),
                ("CVE-2026-0001", Some(UnderInvestigation), None, false, false),
                ("CVE-2026-0002", Some(NotAffected), Some("2024-02-01T00:00:00Z"), true, false),
            ]
        );
        let file = &record.vex_documents[0].sha256;
        assert!(record.findings.iter().all(|f| f.vex.as_ref().is_some_and(|v| v.document == *file)));
        assert_eq!(record.counts, std::collections::BTreeMap::from([(genesis_scan::Severity::High, 2u64)]));
    }
}
