//! `create --report`: the release evidence report as a fourth sidecar, listed in the
//! `.sha256` so that `sha256sum -c` (coreutils) and `genesis verify` check it, read back by
//! poppler's `pdftotext` and `qpdf`, byte-stable under `SOURCE_DATE_EPOCH`.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::{builder, copy_inputs, sha256_file, text};

const ARCHIVE: &str = "demo-0.1.0.tar.zst";
const REPORT: &str = "demo-0.1.0.tar.zst.report.pdf";
const EPOCH: (&str, &str) = ("SOURCE_DATE_EPOCH", "1700000000");

/// Copies the fixture inputs into `dir`, makes a key pair in `dir/k` and builds the fixture
/// spec into `dir/out` with `extra` arguments; the output folder.
fn build(dir: &Path, extra: &[&str]) -> PathBuf {
    copy_inputs(dir);
    if !dir.join("k/genesis.key").exists() {
        let keygen = builder(&["keygen", "--output-dir", "k"], dir, &[]);
        assert_eq!(keygen.status.code(), Some(0), "{}", text(&keygen.stderr));
    }
    let mut args = vec!["create", "-f", "bundle.yaml", "--key", "k/genesis.key", "--output-dir", "out", "--quiet"];
    args.extend_from_slice(extra);
    let out = builder(&args, dir, &[EPOCH]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    dir.join("out")
}

/// Runs a tool the tests read the report with; a missing one fails, naming its package.
fn tool(name: &str, package: &str, args: &[&str], cwd: &Path) -> Output {
    Command::new(name)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("{name} cannot start ({e}): install the Debian package {package} (.ci/run does)"))
}

/// The `genesis` client, built beside `bundle-builder` by a workspace build.
fn genesis(args: &[&str], cwd: &Path) -> Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_bundle-builder")).with_file_name("genesis");
    assert!(bin.exists(), "{} is missing: run the workspace's tests (`cargo nextest run --workspace`)", bin.display());
    Command::new(bin).args(args).current_dir(cwd).output().unwrap()
}

#[test]
fn create_report_writes_a_pdf_of_this_archive_that_the_sha256_lists_and_sha256sum_checks() {
    let dir = tempfile::tempdir().unwrap();
    let out = build(dir.path(), &["--report"]);
    let report = out.join(REPORT);
    assert!(std::fs::read(&report).unwrap().starts_with(b"%PDF-"), "{} is a PDF", report.display());

    let list = std::fs::read_to_string(out.join(format!("{ARCHIVE}.sha256"))).unwrap();
    let archive_sha256 = sha256_file(&out.join(ARCHIVE));
    assert_eq!(list, format!("{archive_sha256}  {ARCHIVE}\n{}  {REPORT}\n", sha256_file(&report)));
    let sums = tool("sha256sum", "coreutils", &["-c", &format!("{ARCHIVE}.sha256")], &out);
    assert!(sums.status.success(), "{}{}", text(&sums.stdout), text(&sums.stderr));
    assert_eq!(text(&sums.stdout), format!("{ARCHIVE}: OK\n{REPORT}: OK\n"));

    let check = tool("qpdf", "qpdf", &["--check", REPORT], &out);
    assert!(check.status.success(), "qpdf --check: {}{}", text(&check.stdout), text(&check.stderr));
    // The report is of this archive, verified with the builder's own key: digests wrap in the
    // PDF, so the text is compared without its white space.
    let read = tool("pdftotext", "poppler-utils", &[REPORT, "-"], &out);
    assert!(read.status.success(), "pdftotext: {}", text(&read.stderr));
    let words: String = text(&read.stdout).split_whitespace().collect();
    let public = genesis_trust::PublicKey::from_pem_file(&dir.path().join("k/genesis.pub")).unwrap();
    let policy = format!("ownkey(fingerprint{})", public.fingerprint());
    for expected in [ARCHIVE, archive_sha256.as_str(), policy.as_str()] {
        assert!(words.contains(expected), "{expected:?} in the report's text: {words}");
    }

    let verified = genesis(&["verify", ARCHIVE, "--key", "../k/genesis.pub", "--quiet"], &out);
    assert_eq!(verified.status.code(), Some(0), "{}", text(&verified.stderr));
    assert!(text(&verified.stdout).contains(&format!("and {REPORT} it lists")), "{}", text(&verified.stdout));
}

#[test]
fn a_byte_changed_in_the_report_fails_sha256sum_and_genesis_verify_naming_it() {
    let dir = tempfile::tempdir().unwrap();
    let out = build(dir.path(), &["--report"]);
    let report = out.join(REPORT);
    let mut bytes = std::fs::read(&report).unwrap();
    let middle = bytes.len() / 2;
    bytes[middle] ^= 1;
    std::fs::write(&report, &bytes).unwrap();

    let sums = tool("sha256sum", "coreutils", &["-c", &format!("{ARCHIVE}.sha256")], &out);
    assert_eq!(sums.status.code(), Some(1), "{}", text(&sums.stdout));
    assert!(text(&sums.stdout).contains(&format!("{REPORT}: FAILED")), "{}", text(&sums.stdout));
    let verify = genesis(&["verify", ARCHIVE, "--key", "../k/genesis.pub", "--quiet"], &out);
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify.stdout));
    let said = text(&verify.stderr);
    assert!(said.contains(&format!("{REPORT}: ")) && said.contains("it was altered or replaced"), "{said}");

    std::fs::remove_file(&report).unwrap();
    let verify = genesis(&["verify", ARCHIVE, "--key", "../k/genesis.pub", "--quiet"], &out);
    assert_eq!(verify.status.code(), Some(1), "{}", text(&verify.stdout));
    let said = text(&verify.stderr);
    assert!(said.contains(&format!("{REPORT}: listed in")) && said.contains("but not found"), "{said}");
}

#[test]
fn two_builds_with_the_same_source_date_epoch_write_the_same_report() {
    let (a, b) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let first = build(a.path(), &["--report"]);
    // The same key in another folder: the report names files, never the folders they are in.
    std::fs::create_dir_all(b.path().join("k")).unwrap();
    for name in ["genesis.key", "genesis.pub"] {
        std::fs::copy(a.path().join("k").join(name), b.path().join("k").join(name)).unwrap();
    }
    let second = build(b.path(), &["--report"]);
    assert_eq!(std::fs::read(first.join(REPORT)).unwrap(), std::fs::read(second.join(REPORT)).unwrap());
    let list = |out: &Path| std::fs::read(out.join(format!("{ARCHIVE}.sha256"))).unwrap();
    assert_eq!(list(&first), list(&second));
}

#[test]
fn a_build_without_report_removes_the_report_of_an_earlier_build() {
    let dir = tempfile::tempdir().unwrap();
    let out = build(dir.path(), &["--report"]);
    assert!(out.join(REPORT).exists());
    let out = build(dir.path(), &[]);
    assert!(!out.join(REPORT).exists(), "a report of other bytes is not left beside the archive");
    let list = std::fs::read_to_string(out.join(format!("{ARCHIVE}.sha256"))).unwrap();
    assert_eq!(list.lines().count(), 1, "{list}");
}
