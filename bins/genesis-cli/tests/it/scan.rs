//! The vulnerability gate end to end, on the fixture bundle (a Debian 12 image with libssl3
//! 3.0.11-1~deb12u2, from the openssl source package, and zlib1g): `genesis sbom` writes
//! what scanners read; `genesis scan` matches it against OSV records the test writes in the
//! published schema, honours OpenVEX exceptions and the database's age, and gates trivy
//! and grype reports alike; a build with the gate records its verdict in the signed BOM,
//! which `genesis verify` shows and a trust policy can require.

use std::path::{Path, PathBuf};

use crate::{genesis, text};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn bundle() -> String {
    fixtures().join("bundles/good/demo-0.1.0.tar.zst").display().to_string()
}

fn key() -> String {
    fixtures().join("keys/test.pub").display().to_string()
}

fn now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs()
}

const CRITICAL: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:H/I:H/A:H";
const HIGH: &str = "CVSS:3.1/AV:N/AC:L/PR:N/UI:N/S:U/C:N/I:N/A:H";

/// An OSV record of the Debian 12 source package `source` (schema 1.6), fixed in `fixed`,
/// scored by `vector`, last modified at `modified` (Unix seconds).
fn record(id: &str, source: &str, fixed: &str, vector: &str, modified: u64) -> serde_json::Value {
    serde_json::json!({
        "schema_version": "1.6.0",
        "id": id,
        "modified": genesis_bundle::rfc3339(modified),
        "published": "2024-01-01T00:00:00Z",
        "summary": format!("a flaw in {source}"),
        "severity": [{"type": "CVSS_V3", "score": vector}],
        "affected": [{
            "package": {"ecosystem": "Debian:12", "name": source, "purl": format!("pkg:deb/debian/{source}?arch=source")},
            "ranges": [{"type": "ECOSYSTEM", "events": [{"introduced": "0"}, {"fixed": fixed}]}]
        }]
    })
}

/// A folder of OSV records.
fn database(dir: &Path, records: &[serde_json::Value]) -> PathBuf {
    let db = dir.join("osv");
    std::fs::create_dir_all(&db).unwrap();
    for r in records {
        std::fs::write(db.join(format!("{}.json", r["id"].as_str().unwrap())), r.to_string()).unwrap();
    }
    db
}

/// An OpenVEX document saying the fixture image is not affected by `id`.
fn vex(dir: &Path, id: &str) -> PathBuf {
    let path = dir.join("vex.json");
    let doc = serde_json::json!({
        "@context": "https://openvex.dev/ns/v0.2.0",
        "@id": "https://example.com/vex/genesis-test",
        "author": "Genesis tests",
        "timestamp": "2026-01-01T00:00:00Z",
        "version": 1,
        "statements": [{
            "vulnerability": {"name": id},
            "products": [{"@id": "pkg:deb/debian/libssl3"}],
            "status": "not_affected",
            "justification": "vulnerable_code_not_in_execute_path"
        }]
    });
    std::fs::write(&path, doc.to_string()).unwrap();
    path
}

#[test]
fn sbom_writes_the_bundle_and_every_package_for_any_scanner() {
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().join("sbom-0.1.0.cdx.json");
    let done = genesis(&["sbom", &bundle(), "--key", &key(), "-o", out.to_str().unwrap()]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    let bytes = std::fs::read(&out).unwrap();
    genesis_testkit::schema::validate_cyclonedx_1_5(&bytes).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    let purls: Vec<&str> = doc["components"].as_array().unwrap().iter().filter_map(|c| c["purl"].as_str()).collect();
    for arch in ["amd64", "arm64"] {
        let libssl = format!("pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch={arch}&distro=debian-12&upstream=openssl");
        assert!(purls.contains(&libssl.as_str()), "{libssl} in {purls:?}");
    }
    assert!(purls.iter().any(|p| p.starts_with("pkg:oci/app@")), "the bundle's own components stay: {purls:?}");

    // One image's packages, without the bundle's components.
    let one = dir.path().join("app.cdx.json");
    let done = genesis(&["sbom", &bundle(), "--key", &key(), "--image", "app", "-o", one.to_str().unwrap()]);
    assert_eq!(done.status.code(), Some(0), "{}", text(&done.stderr));
    let bytes = std::fs::read(&one).unwrap();
    genesis_testkit::schema::validate_cyclonedx_1_5(&bytes).unwrap();
    let doc: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
    assert!(
        doc["components"].as_array().unwrap().iter().all(|c| !c["purl"].as_str().unwrap_or("").starts_with("pkg:oci"))
    );
    // The document describes the image, each platform's SBOM a part of it, not whichever
    // platform came first.
    let described = &doc["metadata"]["component"];
    assert_eq!(described["type"], "container", "{described}");
    assert_eq!(described["components"].as_array().map(Vec::len), Some(2), "{described}");

    // The signature comes first: another key gets nothing written.
    let other = fixtures().join("interop/cosign-key/cosign.pub");
    let refused = dir.path().join("refused.json");
    let done = genesis(&["sbom", &bundle(), "--key", other.to_str().unwrap(), "-o", refused.to_str().unwrap()]);
    assert_eq!(done.status.code(), Some(1), "{}", text(&done.stderr));
    assert!(!refused.exists());
}

#[test]
fn scan_fails_on_a_critical_finding_passes_with_its_exception_and_refuses_a_stale_database() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(dir.path(), &[record("CVE-2024-0001", "openssl", "3.0.13-1~deb12u1", CRITICAL, now())]);
    let db = db.to_str().unwrap();

    let failed = genesis(&["scan", &bundle(), "--key", &key(), "--db", db]);
    assert_eq!(failed.status.code(), Some(1), "{}", text(&failed.stderr));
    let table = text(&failed.stdout);
    for expected in [
        "libssl3",
        "3.0.11-1~deb12u2",
        "3.0.13-1~deb12u1",
        "CVE-2024-0001",
        "critical",
        "registry.example.com/demo/app:1.0 (linux/amd64)",
        "(linux/arm64)",
    ] {
        assert!(table.contains(expected), "{expected} in\n{table}");
    }
    assert!(!table.contains("zlib1g"), "a package no record names is no finding:\n{table}");

    let vex = vex(dir.path(), "CVE-2024-0001");
    let excepted = genesis(&[
        "scan",
        &bundle(),
        "--key",
        &key(),
        "--db",
        db,
        "--ignore",
        vex.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(excepted.status.code(), Some(0), "{}{}", text(&excepted.stdout), text(&excepted.stderr));
    let verdict: serde_json::Value = serde_json::from_slice(&excepted.stdout).unwrap();
    let statement = &verdict["findings"][0]["vex"];
    assert_eq!(statement["status"], "not_affected", "{verdict}");
    assert_eq!(statement["excepts"], true, "{verdict}");

    // A flag's input that cannot be read is named by its flag, with what it takes.
    let missing = genesis(&["scan", &bundle(), "--key", &key(), "--db", "no-such-db.zip"]);
    assert_eq!(missing.status.code(), Some(4), "{}", text(&missing.stderr));
    assert!(
        text(&missing.stderr).contains("--db no-such-db.zip: no such file or directory"),
        "{}",
        text(&missing.stderr)
    );

    // Below the threshold, the same finding passes; SARIF carries it for dashboards.
    let sarif =
        genesis(&["scan", &bundle(), "--key", &key(), "--db", db, "--fail-on", "critical", "--output", "sarif"]);
    assert_eq!(sarif.status.code(), Some(1), "critical is at the threshold");
    let log: serde_json::Value = serde_json::from_slice(&sarif.stdout).unwrap();
    assert_eq!(log["version"], "2.1.0");
    assert!(log.to_string().contains("CVE-2024-0001"));

    // A database whose newest record is a year old fails the gate, unless allowed.
    let stale = database(
        &dir.path().join("old"),
        &[record("CVE-2024-0002", "zlib", "1:1.3.dfsg-1", HIGH, now() - 365 * 86_400)],
    );
    let stale = stale.to_str().unwrap();
    let refused = genesis(&["scan", &bundle(), "--key", &key(), "--db", stale, "--output", "json"]);
    assert_eq!(refused.status.code(), Some(1));
    let verdict: serde_json::Value = serde_json::from_slice(&refused.stdout).unwrap();
    assert_eq!(verdict["database"]["stale"], true, "{verdict}");
    let allowed =
        genesis(&["scan", &bundle(), "--key", &key(), "--db", stale, "--max-db-age", "none", "--fail-on", "critical"]);
    assert_eq!(allowed.status.code(), Some(0), "{}{}", text(&allowed.stdout), text(&allowed.stderr));
}

#[test]
fn a_trivy_and_a_grype_report_are_gated_by_the_same_policy() {
    let data = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../crates/genesis-scan/tests/data");
    for report in ["trivy-debian-12.json", "grype-debian-12.json"] {
        let path = data.join(report);
        let gated = genesis(&["scan", "--report", path.to_str().unwrap(), "--output", "json"]);
        let verdict: serde_json::Value =
            serde_json::from_slice(&gated.stdout).unwrap_or_else(|e| panic!("{report}: {e}: {}", text(&gated.stderr)));
        assert_eq!(gated.status.code(), Some(if verdict["passed"] == true { 0 } else { 1 }), "{report}");
        assert!(!verdict["findings"].as_array().unwrap().is_empty(), "{report}: {verdict}");
        let lenient =
            genesis(&["scan", "--report", path.to_str().unwrap(), "--fail-on", "critical", "--output", "json"]);
        let lenient: serde_json::Value = serde_json::from_slice(&lenient.stdout).unwrap();
        assert_eq!(lenient["findings"].as_array().unwrap().len(), verdict["findings"].as_array().unwrap().len());
    }
}

/// The fixture's inputs, built with the gate into `out/` with `policy`; the archive when it
/// passed, else the error.
fn build_with_gate(dir: &Path, db: &Path, policy: &str) -> Result<PathBuf, genesis_build::BuildError> {
    for entry in ["bundle.yaml", "images", "charts", "manifests"] {
        let status = std::process::Command::new("cp").arg("-r").arg(fixtures().join(entry)).arg(dir).status().unwrap();
        assert!(status.success());
    }
    let policy_file = dir.join("scan-policy.yaml");
    std::fs::write(&policy_file, policy).unwrap();
    let spec = genesis_build::BundleSpec::load(&dir.join("bundle.yaml")).unwrap();
    let key = genesis_trust::PrivateKey::from_pem_file(&fixtures().join("keys/test.key")).unwrap();
    let options = genesis_build::BuildOptions {
        // Today, so the recorded scan is a fresh one.
        source_date_epoch: Some(now()),
        output_dir: Some(dir.join("out")),
        scan: Some(genesis_build::ScanOptions { databases: vec![db.to_owned()], policy: Some(policy_file) }),
        ..Default::default()
    };
    genesis_build::build(&spec, &key, &options).map(|built| built.archive)
}

#[test]
fn a_build_that_fails_the_gate_writes_nothing_and_one_that_passes_carries_a_verdict_a_policy_can_require() {
    let dir = tempfile::tempdir().unwrap();
    let db = database(
        dir.path(),
        &[
            record("CVE-2024-0001", "openssl", "3.0.13-1~deb12u1", CRITICAL, now()),
            record("CVE-2024-0003", "zlib", "1:1.3.dfsg-1", HIGH, now()),
        ],
    );
    let failing = dir.path().join("failing");
    std::fs::create_dir_all(&failing).unwrap();
    match build_with_gate(&failing, &db, "failOn: high\n") {
        Err(genesis_build::BuildError::ScanFailed { reasons, table }) => {
            assert!(table.contains("CVE-2024-0001") && table.contains("CVE-2024-0003"), "{table}");
            assert!(!reasons.is_empty());
        }
        other => panic!("{other:?}"),
    }
    assert!(
        !failing.join("out").exists() || std::fs::read_dir(failing.join("out")).unwrap().next().is_none(),
        "nothing written"
    );

    // The critical one excepted, failing on critical only: the high zlib finding stays, recorded.
    let passing = dir.path().join("passing");
    std::fs::create_dir_all(&passing).unwrap();
    vex(&passing, "CVE-2024-0001");
    let archive = build_with_gate(&passing, &db, "failOn: critical\nvex: [vex.json]\n").unwrap();
    let archive = archive.to_str().unwrap();
    let verified = genesis(&["verify", archive, "--key", &key()]);
    assert_eq!(verified.status.code(), Some(0), "{}", text(&verified.stderr));
    let report = text(&verified.stdout);
    assert!(report.contains("✓ vulnerability scan as of") && report.contains("passed (failOn critical)"), "{report}");
    assert!(report.contains("2 high without an exception, 2 excepted"), "{report}");

    // The release evidence report shows the signed verdict: the findings by severity, each
    // with its exception.
    let html = passing.join("report.html");
    let reported = genesis(&["report", archive, "--key", &key(), "--html", "-o", html.to_str().unwrap()]);
    assert_eq!(reported.status.code(), Some(0), "{}", text(&reported.stderr));
    let page = std::fs::read_to_string(&html).unwrap();
    for expected in [
        "Vulnerability scan",
        "CVE-2024-0001",
        "not_affected: vulnerable_code_not_in_execute_path",
        "vex.json (sha256:",
        "CVE-2024-0003",
        "passed: no finding at or above critical without an exception",
    ] {
        assert!(page.contains(expected), "{expected} in the report");
    }

    // A policy that requires no unexcepted high finding refuses it, naming why; one that
    // requires nothing critical accepts it.
    let policy = |fail_on: &str| {
        let path = passing.join(format!("trust-{fail_on}.yaml"));
        let require = format!("require:\n  - scan: {{ maxAgeDays: 7, failOn: {fail_on} }}\n");
        std::fs::write(&path, format!("keys: ['{}']\n{require}", key())).unwrap();
        path.display().to_string()
    };
    let refused = genesis(&["verify", archive, "--policy", &policy("high")]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stdout));
    assert!(text(&refused.stderr).contains("has a high finding without an exception"), "{}", text(&refused.stderr));
    let accepted = genesis(&["verify", archive, "--policy", &policy("critical")]);
    assert_eq!(accepted.status.code(), Some(0), "{}", text(&accepted.stderr));

    // The fixture bundle records no scan: a policy requiring one refuses it.
    let none = genesis(&["verify", &bundle(), "--policy", &policy("critical")]);
    assert_eq!(none.status.code(), Some(1));
    assert!(text(&none.stderr).contains("no vulnerability scan recorded"), "{}", text(&none.stderr));
}

/// What the gate cannot judge fails it: packages of an ecosystem the database holds no
/// record of, a finding of unknown severity (unless allowed), a database dated in the future.
#[test]
fn what_the_gate_cannot_judge_fails_it() {
    let dir = tempfile::tempdir().unwrap();
    // A database brought across without Debian's records: the Debian image is not clean, it
    // is unscanned.
    let mut pypi = record("GHSA-0000-0000-0001", "jinja2", "3.1.3", HIGH, now());
    pypi["affected"][0]["package"] = serde_json::json!({"ecosystem": "PyPI", "name": "jinja2"});
    let db = database(&dir.path().join("pypi"), &[pypi]);
    let out = genesis(&["scan", &bundle(), "--key", &key(), "--db", db.to_str().unwrap(), "--output", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let reasons = verdict["reasons"].to_string();
    assert!(reasons.contains("not scanned") && reasons.contains("Debian"), "{reasons}");

    // A record with no CVSS vector and no rating: unknown is not low.
    let mut unrated = record("CVE-2024-0004", "zlib", "1:1.3.dfsg-1", HIGH, now());
    unrated.as_object_mut().unwrap().remove("severity");
    let db = database(&dir.path().join("unrated"), &[unrated]);
    let db = db.to_str().unwrap();
    let out = genesis(&["scan", &bundle(), "--key", &key(), "--db", db, "--fail-on", "critical"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stdout));
    assert!(text(&out.stdout).contains("unknown"), "{}", text(&out.stdout));
    let out =
        genesis(&["scan", &bundle(), "--key", &key(), "--db", db, "--fail-on", "critical", "--allow-unknown-severity"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stdout));

    // Debian's advisories carry no rating of their own: one takes its CVE's, from another
    // database of the list, and says so.
    let mut advisory = record("DSA-5999-1", "zlib", "1:1.3.dfsg-1", HIGH, now());
    advisory.as_object_mut().unwrap().remove("severity");
    advisory["upstream"] = serde_json::json!(["CVE-2024-0006"]);
    let mut cve = record("CVE-2024-0006", "zlib", "1:1.3.dfsg-1", CRITICAL, now());
    cve.as_object_mut().unwrap().remove("affected");
    let debian = database(&dir.path().join("debian"), &[advisory]);
    let nvd = database(&dir.path().join("nvd"), &[cve]);
    let out = genesis(&[
        "scan",
        &bundle(),
        "--key",
        &key(),
        "--db",
        debian.to_str().unwrap(),
        "--db",
        nvd.to_str().unwrap(),
        "--output",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let finding = &verdict["findings"][0];
    assert_eq!((&finding["id"], &finding["severity"]), (&"DSA-5999-1".into(), &"critical".into()), "{verdict}");
    assert_eq!(finding["severityFrom"], "CVE-2024-0006", "{verdict}");

    // A newest record dated ten days ahead would make any database look fresh: its age is
    // unknown, so under a limit it is stale.
    let future =
        database(&dir.path().join("future"), &[record("CVE-2024-0005", "zlib", "1:1.0-1", HIGH, now() + 10 * 86_400)]);
    let out = genesis(&["scan", &bundle(), "--key", &key(), "--db", future.to_str().unwrap(), "--output", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let verdict: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(verdict["database"]["stale"], true, "{verdict}");
}
