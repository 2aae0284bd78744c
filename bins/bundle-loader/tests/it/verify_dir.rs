//! `extract` leaves the head beside the payload, byte for byte as GNU tar reads it from the
//! archive, and `verify --dir` verifies the tree again: 0 as it was extracted, 1 naming the
//! file once one is changed, added, removed or replaced by a link.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::{ARCHIVE, case, extract, loader, test_pub, text};

/// `bundle-loader verify --dir DIR --key test.pub EXTRA…`
fn verify_dir(dir: &Path, extra: &[&str]) -> Output {
    let key = test_pub();
    let base = ["verify", "--dir", dir.to_str().unwrap(), "--key", key.to_str().unwrap()];
    loader(&[&base[..], extra].concat())
}

/// The good bundle extracted by `bundle-loader extract` into a fresh folder.
fn extracted() -> (tempfile::TempDir, PathBuf) {
    let parent = tempfile::tempdir().unwrap();
    let tree = parent.path().join("demo");
    let out = extract(&case("good"), &tree);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    (parent, tree)
}

/// The bytes GNU tar reads for `entry` of the good archive (`tar --zstd -xOf`).
fn from_archive(entry: &str) -> Vec<u8> {
    let archive = case("good");
    let out = Command::new("tar")
        .args(["--zstd", "-xOf", archive.to_str().unwrap(), entry])
        .output()
        .expect("tar must be installed");
    assert!(out.status.success(), "tar -xOf {ARCHIVE} {entry}: {}", text(&out.stderr));
    out.stdout
}

#[test]
fn extract_writes_the_head_as_tar_reads_it_and_verify_dir_accepts_the_tree() {
    let (_parent, tree) = extracted();
    for entry in ["bom.json", "bom.json.sig", "provenance/bundle.intoto.json"] {
        assert_eq!(std::fs::read(tree.join(entry)).unwrap(), from_archive(entry), "{entry}");
    }

    let out = verify_dir(&tree, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    assert!(t.contains("✓ signature OK (key SHA256:"), "{t}");
    assert!(t.contains("✓ 16 files match the BOM"), "{t}");
    assert!(t.contains("none missing, none added"), "{t}");
    assert!(t.contains("✓ SLSA provenance present"), "{t}");
    assert!(t.ends_with("demo 0.1.0: verified\n"), "{t}");

    let out = verify_dir(&tree, &["--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verified"], true);
    assert_eq!(v["report"]["files"], 16);
    assert_eq!(v["report"]["dir"], tree.to_str().unwrap());
    // The same BOM digest the archive's verification reports.
    let bundle = crate::verify(&case("good"), &["--output", "json"]);
    let b: serde_json::Value = serde_json::from_slice(&bundle.stdout).unwrap();
    assert_eq!(v["report"]["bomSha256"], b["report"]["bomSha256"]);
    assert_eq!(v["report"]["signer"], b["report"]["signer"]);
}

/// Exit 1 with the file named on stderr, and with `--output json` a refusal on stdout.
fn refused(tree: &Path, named: &str, said: &str) {
    let out = verify_dir(tree, &[]);
    assert_eq!(out.status.code(), Some(1), "{named}: {}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains("verification failed") && err.contains(named) && err.contains(said), "{named}: {err}");
    let out = verify_dir(tree, &["--output", "json"]);
    assert_eq!(out.status.code(), Some(1), "{named}: {}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verified"], false);
    assert!(v["error"].as_str().unwrap().contains(named), "{v}");
}

#[test]
fn a_changed_added_removed_or_linked_file_fails_verify_dir_naming_it() {
    let (parent, tree) = extracted();
    let chart = tree.join("charts/web-0.1.0.tgz");
    let original = std::fs::read(&chart).unwrap();
    let mut changed = original.clone();
    let middle = changed.len() / 2;
    changed[middle] ^= 0x20;
    std::fs::write(&chart, &changed).unwrap();
    refused(&tree, "charts/web-0.1.0.tgz", "does not match the BOM");
    std::fs::write(&chart, &original).unwrap();
    assert_eq!(verify_dir(&tree, &[]).status.code(), Some(0));

    std::fs::write(tree.join("manifests/backdoor.yaml"), b"kind: Pod\n").unwrap();
    refused(&tree, "manifests/backdoor.yaml", "not in the BOM");
    std::fs::remove_file(tree.join("manifests/backdoor.yaml")).unwrap();

    std::fs::remove_file(&chart).unwrap();
    refused(&tree, "charts/web-0.1.0.tgz", "missing from the tree");

    let elsewhere = parent.path().join("web-0.1.0.tgz");
    std::fs::write(&elsewhere, &original).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &chart).unwrap();
    refused(&tree, "charts/web-0.1.0.tgz", "a symbolic link");
}

/// The tree and the bundle are one or the other; neither is a usage error, as is a folder
/// that holds no head (exit 1: nothing there can be verified).
#[test]
fn verify_takes_a_bundle_or_a_dir() {
    let (_parent, tree) = extracted();
    let key = test_pub();
    let neither = loader(&["verify", "--key", key.to_str().unwrap()]);
    assert_eq!(neither.status.code(), Some(2), "{}", text(&neither.stderr));
    let both = verify_dir(&tree, &[case("good").to_str().unwrap()]);
    assert_eq!(both.status.code(), Some(2), "{}", text(&both.stderr));
    assert!(text(&both.stderr).contains("cannot be used with"), "{}", text(&both.stderr));

    let bare = tempfile::tempdir().unwrap();
    let out = verify_dir(bare.path(), &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("bom.json not found"), "{}", text(&out.stderr));
}
