//! The release evidence report through the portal, on its embedded defaults: built by
//! `bundle-builder create --report`, published with the bundle it describes, listed with the
//! release, served as a PDF, and fetched by `genesis pull` with the other sidecars, so that
//! `sha256sum -c` and `genesis verify` check it on the gap-host.

use std::path::{Path, PathBuf};
use std::process::Command;

use genesis_testkit::text;

use crate::{Backend, Client, Portal, fixtures, header, sha256_hex, status};

const ARCHIVE: &str = "demo-0.1.0.tar.zst";
const REPORT: &str = "demo-0.1.0.tar.zst.report.pdf";

/// Builds the fixture spec with the fixture key (the portal's `test.pub` verifies it) into
/// `out`, with `extra` arguments; the archive.
fn build(out: &Path, extra: &[&str]) -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_genesis-portal")).with_file_name("bundle-builder");
    assert!(bin.exists(), "{} is missing: run the workspace's tests (`cargo nextest run --workspace`)", bin.display());
    let built = Command::new(bin)
        .args(["create", "--quiet", "-f"])
        .arg(fixtures().join("bundle.yaml"))
        .arg("--key")
        .arg(fixtures().join("keys/test.key"))
        .arg("--output-dir")
        .arg(out)
        .args(extra)
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    assert!(built.status.success(), "bundle-builder create: {}", text(&built.stderr));
    out.join(ARCHIVE)
}

#[test]
fn a_published_report_is_listed_with_its_release_and_pulled_with_the_bundle() {
    let mut portal = Portal::new(Backend::default());
    let built = tempfile::tempdir().unwrap();
    let archive = build(built.path(), &["--report"]);
    let key = portal.org_with_key("acme", &["releases:read"]);
    portal.admin_ok(&["entitle", "--org", "acme", "--versions", "0.1.*"]);
    let published = portal.publish("0.1.0", &[&archive], "test.pub");
    assert!(published.status.success(), "publish: {}", text(&published.stderr));
    assert!(text(&published.stdout).contains("(5 files"), "{}", text(&published.stdout));
    portal.serve();

    let (headers, body) = portal.curl(Some(&key), "GET", "/v1/releases/genesis/0.1.0", &[]);
    assert_eq!(status(&headers), 200, "{}", text(&body));
    let release: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let listed = release["artifacts"].as_array().unwrap().iter().find(|a| a["name"] == REPORT).cloned();
    let listed = listed.unwrap_or_else(|| panic!("the release lists no report: {release}"));
    assert_eq!(listed["kind"], "report");
    assert_eq!(listed["sha256"], sha256_hex(&built.path().join(REPORT)));
    let (headers, pdf) = portal.curl(Some(&key), "GET", listed["downloadUri"].as_str().unwrap(), &[]);
    assert_eq!(status(&headers), 200);
    assert_eq!(header(&headers, "content-type"), Some("application/pdf"));
    assert_eq!(pdf, std::fs::read(built.path().join(REPORT)).unwrap());

    let client = Client::new();
    assert!(client.login(&portal.url(), &key).status.success());
    let out = tempfile::tempdir().unwrap();
    let pull = client.run(&["pull", "0.1.0", "--output-dir", out.path().to_str().unwrap(), "--output", "json"]);
    assert!(pull.status.success(), "{}", text(&pull.stderr));
    let pull: serde_json::Value = serde_json::from_slice(&pull.stdout).unwrap();
    let pulled = pull["files"].as_array().unwrap().iter().find(|f| f["name"] == REPORT).cloned();
    assert_eq!(pulled.unwrap_or_else(|| panic!("no report pulled: {pull}"))["kind"], "report");
    assert_eq!(sha256_hex(&out.path().join(REPORT)), sha256_hex(&built.path().join(REPORT)));

    let sums = Command::new("sha256sum")
        .args(["-c", &format!("{ARCHIVE}.sha256")])
        .current_dir(out.path())
        .output()
        .expect("sha256sum (coreutils) is installed");
    assert_eq!(text(&sums.stdout), format!("{ARCHIVE}: OK\n{REPORT}: OK\n"), "{}", text(&sums.stderr));
    let verify = client.run(&[
        "verify",
        out.path().join(ARCHIVE).to_str().unwrap(),
        "--key",
        fixtures().join("keys/test.pub").to_str().unwrap(),
        "--quiet",
    ]);
    assert!(verify.status.success(), "{}", text(&verify.stderr));
    assert!(text(&verify.stdout).contains(&format!("and {REPORT} it lists")), "{}", text(&verify.stdout));
}

/// A report beside the archive that the archive's `.sha256` does not list describes other
/// bytes: the publication is refused, naming it, and publishes nothing.
#[test]
fn a_report_the_sha256_does_not_list_is_refused_at_publication() {
    let portal = Portal::new(Backend::default());
    let with_report = tempfile::tempdir().unwrap();
    build(with_report.path(), &["--report"]);
    let without = tempfile::tempdir().unwrap();
    let archive = build(without.path(), &[]);
    std::fs::copy(with_report.path().join(REPORT), without.path().join(REPORT)).unwrap();
    let refused = portal.publish("0.1.0", &[&archive], "test.pub");
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    let said = text(&refused.stderr);
    assert!(said.contains(REPORT) && said.contains("does not list it"), "{said}");
    // Releases are immutable: the same version publishes only because nothing was recorded.
    std::fs::remove_file(without.path().join(REPORT)).unwrap();
    let published = portal.publish("0.1.0", &[&archive], "test.pub");
    assert!(published.status.success(), "publish: {}", text(&published.stderr));
    assert!(text(&published.stdout).contains("(4 files"), "{}", text(&published.stdout));
}
