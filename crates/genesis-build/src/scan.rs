//! The vulnerability gate at build time (`bundle-builder create --scan-db … --scan-policy
//! …`): the packages inventoried in every image are matched against the OSV database, the
//! policy judges the findings, and a build that fails it writes no bundle. A build that
//! passes records the verdict in the BOM it signs, so the cluster side can check the
//! vendor's verdict without a database (`genesis verify`, and a trust policy's
//! `require: [{scan: …}]`).
//!
//! The gate judges at the build's wall-clock time (a stale database, an exception that has
//! expired), while the record is dated with its database's newest record, so a rebuild of
//! the same inputs gives the same bytes. What the gate could not judge fails it: an image
//! whose layers could not be read, a package of an ecosystem the database holds no record of.

use std::path::PathBuf;

use genesis_bundle::{Bom, ScanDatabase, ScanFinding, ScanRecord};
use genesis_scan::{Database, DbInfo, Policy};

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
    let mut packages = 0;
    for image in inventories {
        let platform = image.platform.as_ref().map(ToString::to_string);
        let label = bom.image_label(&image.image, platform.as_deref());
        let scan = genesis_scan::scan(&db, &label, image.inventory.distro.as_ref(), &image.inventory.packages);
        unscanned.extend(scan.unscanned.iter().chain(&scan.unordered).map(|sentence| format!("{label}: {sentence}")));
        if !policy.allow_incomplete {
            unscanned.extend(image.inventory.notes.iter().map(|note| format!("{label}: {note}")));
        }
        packages += image.inventory.packages.len() as u64;
        findings.extend(scan.findings);
    }
    let now = genesis_bundle::rfc3339(genesis_bundle::unix_now());
    let info = DbInfo { digest: db.digest(), newest_modified: db.newest_modified().map(str::to_owned) };
    let mut verdict = genesis_scan::judge(findings, &policy, Some(info), &now);
    verdict.refuse_unscanned(unscanned);
    if !verdict.passed {
        return Err(BuildError::ScanFailed { reasons: verdict.reasons.clone(), table: genesis_scan::text(&verdict) });
    }
    let findings: Vec<ScanFinding> = verdict
        .findings
        .iter()
        .map(|judged| ScanFinding {
            id: judged.finding.id.clone(),
            purl: judged.finding.purl.clone(),
            installed: judged.finding.installed.clone(),
            fixed: judged.finding.fixed.clone(),
            severity: judged.finding.severity,
            image: judged.finding.image.clone(),
            exception: judged.vex.exception(),
        })
        .collect();
    let record = ScanRecord {
        as_of: db.newest_modified().unwrap_or(created).to_owned(),
        database: ScanDatabase {
            digest: db.digest(),
            newest_modified: db.newest_modified().map(str::to_owned),
            records: db.records() as u64,
        },
        packages,
        fail_on: policy.fail_on,
        allow_unknown: policy.allow_unknown,
        counts: verdict.counts.iter().map(|(s, n)| (*s, *n as u64)).filter(|(_, n)| *n > 0).collect(),
        findings,
    };
    Ok(record)
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

    #[test]
    fn an_inventory_with_gaps_fails_the_gate_unless_its_policy_allows_them() {
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
    }
}
