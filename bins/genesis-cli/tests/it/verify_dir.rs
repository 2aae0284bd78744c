//! `genesis verify --dir`: a tree extracted from the good bundle (through the library, the
//! path `bundle-loader extract` takes) verifies on the gap host as the bundle did, and a file
//! changed, added, removed or replaced by a link afterwards fails it, named.

use std::path::{Path, PathBuf};
use std::process::Output;

use genesis_trust::{PublicKey, TrustPolicy, UnverifiedBundle};

use crate::{genesis, text};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// `genesis verify --dir TREE --key fixtures/keys/test.pub EXTRA…`
fn verify_dir(tree: &Path, extra: &[&str]) -> Output {
    let key = fixtures().join("keys/test.pub");
    let base = ["verify", "--dir", tree.to_str().unwrap(), "--key", key.to_str().unwrap()];
    genesis(&[&base[..], extra].concat())
}

/// Exit 1, and stderr names `file` and says `what`.
fn refused(tree: &Path, file: &str, what: &str) {
    let out = verify_dir(tree, &[]);
    assert_eq!(out.status.code(), Some(1), "{file}: {}", text(&out.stderr));
    let err = text(&out.stderr);
    assert!(err.contains(&format!("✗ {}: verification failed", tree.display())), "{err}");
    assert!(err.contains(file) && err.contains(what), "{file}: {err}");
}

#[test]
fn verify_dir_passes_an_extracted_tree_and_names_each_change() {
    let key = PublicKey::from_pem_file(&fixtures().join("keys/test.pub")).unwrap();
    let policy = TrustPolicy::from_keys(vec![key]).unwrap();
    let parent = tempfile::tempdir().unwrap();
    let tree = parent.path().join("demo");
    UnverifiedBundle::open(&fixtures().join("bundles/good/demo-0.1.0.tar.zst"), &Default::default())
        .unwrap()
        .verify(&policy)
        .unwrap()
        .extract(&tree)
        .unwrap();

    let out = verify_dir(&tree, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("✓ 16 files match the BOM"), "{}", text(&out.stdout));
    assert!(text(&out.stdout).ends_with("demo 0.1.0: verified\n"), "{}", text(&out.stdout));
    let json = verify_dir(&tree, &["--output", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!((&v["verified"], &v["report"]["name"]), (&serde_json::json!(true), &serde_json::json!("demo")));

    let manifest = tree.join("manifests/deployment.yaml");
    let original = std::fs::read(&manifest).unwrap();
    let mut changed = original.clone();
    changed[0] ^= 1;
    std::fs::write(&manifest, &changed).unwrap();
    refused(&tree, "manifests/deployment.yaml", "does not match the BOM");
    std::fs::write(&manifest, &original).unwrap();

    std::fs::write(tree.join("oci/extra.json"), b"{}").unwrap();
    refused(&tree, "oci/extra.json", "not in the BOM");
    std::fs::remove_file(tree.join("oci/extra.json")).unwrap();

    let moved = parent.path().join("deployment.yaml");
    std::fs::rename(&manifest, &moved).unwrap();
    refused(&tree, "manifests/deployment.yaml", "missing from the tree");

    std::os::unix::fs::symlink(&moved, &manifest).unwrap();
    refused(&tree, "manifests/deployment.yaml", "a symbolic link");
    std::fs::remove_file(&manifest).unwrap();
    std::fs::rename(&moved, &manifest).unwrap();
    assert_eq!(verify_dir(&tree, &[]).status.code(), Some(0));
}
