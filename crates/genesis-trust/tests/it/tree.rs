//! A tree `extract` wrote is verified again on its own (`verify_tree`): the head it carries
//! against the policy, then every file against the signed BOM, nothing changed, missing or
//! added, and nothing but files and folders.

use std::path::{Path, PathBuf};
use std::time::Duration;

use genesis_trust::{BundleError, Limits, PublicKey, TreeReport, TrustError, TrustPolicy, verify_tree};

use crate::{fixtures_dir, test_policy, verified};

/// The good bundle extracted into a fresh folder: the folder's parent (kept alive) and the tree.
fn extracted() -> (tempfile::TempDir, PathBuf) {
    let parent = tempfile::tempdir().unwrap();
    let tree = parent.path().join("demo");
    verified("good").unwrap().extract(&tree).unwrap();
    (parent, tree)
}

fn check(tree: &Path) -> genesis_trust::Result<TreeReport> {
    verify_tree(tree, &test_policy(), &Limits::default())
}

#[test]
fn an_extracted_tree_verifies_on_its_own_with_the_bundles_report() {
    let (_parent, tree) = extracted();
    let report = check(&tree).unwrap();
    let bundle = verified("good").unwrap().check().unwrap();
    let bundle = bundle.report();
    assert_eq!(report.dir, tree);
    assert_eq!((report.head.name.as_str(), report.head.version.as_str()), ("demo", "0.1.0"));
    assert_eq!((report.files, report.payload_bytes), (bundle.files, bundle.payload_bytes));
    assert_eq!(
        (&report.head.signer, &report.head.bom_sha256, &report.head.bom_blake3),
        (&bundle.head.signer, &bundle.head.bom_sha256, &bundle.head.bom_blake3)
    );
    assert_eq!((&report.head.sbom, &report.head.provenance), (&bundle.head.sbom, &bundle.head.provenance));
    assert_eq!((report.images, report.charts, report.manifests), (bundle.images, bundle.charts, bundle.manifests));
}

/// Each way of changing a tree after extraction is an error naming the file.
#[test]
fn a_changed_added_or_removed_file_is_refused_naming_it() {
    let (_parent, tree) = extracted();
    let manifest = tree.join("manifests/service.yaml");
    let original = std::fs::read(&manifest).unwrap();

    let mut flipped = original.clone();
    flipped[0] ^= 1;
    std::fs::write(&manifest, &flipped).unwrap();
    let e = check(&tree).unwrap_err();
    assert!(matches!(&e, TrustError::TreeDigestMismatch { path, .. } if *path == manifest), "{e:?}");
    assert!(e.to_string().contains("manifests/service.yaml"), "{e}");
    assert!(e.is_verification_failure());

    std::fs::write(&manifest, [&original[..], b"\n"].concat()).unwrap();
    let e = check(&tree).unwrap_err();
    assert!(
        matches!(&e, TrustError::TreeSizeMismatch { path, actual, .. } if *path == manifest && *actual == original.len() as u64 + 1),
        "{e:?}"
    );

    std::fs::write(&manifest, &original).unwrap();
    check(&tree).unwrap();

    for added in ["manifests/zz-extra.yaml", ".hidden", "oci/blobs/sha256/notes.txt"] {
        std::fs::write(tree.join(added), b"kind: ConfigMap\n").unwrap();
        let e = check(&tree).unwrap_err();
        assert!(matches!(&e, TrustError::TreeFileAdded { path } if *path == tree.join(added)), "{added}: {e:?}");
        assert!(e.to_string().contains(added), "{e}");
        std::fs::remove_file(tree.join(added)).unwrap();
    }
    std::fs::create_dir(tree.join("charts/empty")).unwrap();
    let e = check(&tree).unwrap_err();
    assert!(matches!(&e, TrustError::TreeFileAdded { path } if *path == tree.join("charts/empty")), "{e:?}");
    std::fs::remove_dir(tree.join("charts/empty")).unwrap();

    std::fs::remove_file(&manifest).unwrap();
    let e = check(&tree).unwrap_err();
    assert!(matches!(&e, TrustError::TreeFileMissing { path } if *path == manifest), "{e:?}");
    assert!(e.to_string().contains("manifests/service.yaml"), "{e}");
    assert!(e.is_verification_failure());
}

/// A symbolic link is refused, never followed, even to the very bytes the BOM lists, and so
/// is a folder replaced by a link to a copy of it; a FIFO is refused at once, not waited on.
#[test]
fn links_and_fifos_in_the_tree_are_refused_without_being_followed() {
    let (parent, tree) = extracted();
    let manifest = tree.join("manifests/service.yaml");
    let elsewhere = parent.path().join("service.yaml");
    std::fs::rename(&manifest, &elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &manifest).unwrap();
    let e = check(&tree).unwrap_err();
    assert!(matches!(&e, TrustError::TreeEntryRefused { path, .. } if *path == manifest), "{e:?}");
    assert!(e.to_string().contains("a symbolic link"), "{e}");
    assert!(e.is_verification_failure());
    std::fs::remove_file(&manifest).unwrap();
    std::fs::rename(&elsewhere, &manifest).unwrap();
    check(&tree).unwrap();

    let copy = parent.path().join("manifests-copy");
    std::fs::rename(tree.join("manifests"), &copy).unwrap();
    std::os::unix::fs::symlink(&copy, tree.join("manifests")).unwrap();
    let e = check(&tree).unwrap_err();
    assert!(matches!(&e, TrustError::TreeEntryRefused { path, .. } if *path == tree.join("manifests")), "{e:?}");
    std::fs::remove_file(tree.join("manifests")).unwrap();
    std::fs::rename(&copy, tree.join("manifests")).unwrap();

    // A link at the head's own name is refused too, before anything is verified.
    let bom = tree.join("bom.json");
    let bom_elsewhere = parent.path().join("bom.json");
    std::fs::rename(&bom, &bom_elsewhere).unwrap();
    std::os::unix::fs::symlink(&bom_elsewhere, &bom).unwrap();
    let e = check(&tree).unwrap_err();
    assert!(matches!(&e, TrustError::TreeEntryRefused { path, .. } if *path == bom), "{e:?}");
    std::fs::remove_file(&bom).unwrap();
    std::fs::rename(&bom_elsewhere, &bom).unwrap();

    let fifo = tree.join("charts/pipe");
    assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
    let (sent, got) = std::sync::mpsc::channel();
    let walked = tree.clone();
    std::thread::spawn(move || sent.send(check(&walked).map(drop).map_err(|e| e.to_string())));
    let e = got.recv_timeout(Duration::from_secs(20)).expect("a FIFO is refused at once, not waited on").unwrap_err();
    assert!(e.contains("charts/pipe") && e.contains("a FIFO"), "{e}");
}

/// The head decides as an archive's does: a BOM changed by one byte, a key the policy does
/// not trust, or a head that is not there each refuse the tree.
#[test]
fn the_trees_head_is_judged_as_the_archives_is() {
    let (_parent, tree) = extracted();
    let other = PublicKey::from_pem_file(&fixtures_dir().join("keys/other.pub")).unwrap();
    let e = verify_tree(&tree, &TrustPolicy::from_keys(vec![other]).unwrap(), &Limits::default()).unwrap_err();
    assert!(matches!(e, TrustError::BomSignatureInvalid { .. }), "{e:?}");

    let bom = tree.join("bom.json");
    let original = std::fs::read(&bom).unwrap();
    let mut changed = original.clone();
    let at = changed.iter().position(|b| *b == b'0').unwrap();
    changed[at] = b'1';
    std::fs::write(&bom, &changed).unwrap();
    let e = check(&tree).unwrap_err();
    assert!(matches!(e, TrustError::BomSignatureInvalid { .. }), "{e:?}");

    let tight = Limits { max_bom_size: original.len() as u64 - 1, ..Limits::default() };
    std::fs::write(&bom, &original).unwrap();
    let e = verify_tree(&tree, &test_policy(), &tight).unwrap_err();
    assert!(matches!(e, TrustError::Bundle(BundleError::LimitExceeded { what: "bom.json size", .. })), "{e:?}");

    std::fs::remove_file(tree.join("bom.json.sig")).unwrap();
    let e = check(&tree).unwrap_err();
    assert!(matches!(&e, TrustError::TreeNotExtracted { path, .. } if *path == tree.join("bom.json.sig")), "{e:?}");
    assert!(e.to_string().contains("bom.json.sig or bom.sigstore.json not found"), "both names are told: {e}");
    assert!(e.is_verification_failure());
}
