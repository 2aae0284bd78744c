//! `create --max-part-size` (decision 0042): the bundle delivered as parts and a parts
//! manifest signed with the build's key, the single archive and its sidecars removed; a size
//! below the smallest part refused before anything is built.

use std::path::Path;

use genesis_testkit::layered_spec::Image;
use genesis_trust::{PublicKey, TrustPolicy, UnverifiedBundle};

use crate::{builder, fixtures, text};

/// A spec of bundle `noise` version 1 under `dir`: image `example.com/demo/app:1`, one layer of
/// `len` bytes of noise from `seed`.
fn noise_image(dir: &Path, len: usize, seed: u64) {
    let image = Image { name: "app", reference: "example.com/demo/app:1", layers: &[(len, seed)] };
    genesis_testkit::layered_spec::write(dir, "noise", "1", &[image]);
}

/// A spec under `dir` of one image whose layer is 12 MiB of noise (stored in raw frames of
/// 4 MiB): more than the smallest part, which the fixtures are not.
fn noise_spec(dir: &Path) {
    noise_image(dir, 12 << 20, 21);
}

#[test]
fn create_delivers_parts_and_a_manifest_signed_with_the_key_and_removes_the_archive() {
    let dir = tempfile::tempdir().unwrap();
    noise_spec(dir.path());
    let key = fixtures().join("keys/test.key");
    let create = ["create", "-f", "bundle.yaml", "--key", key.to_str().unwrap(), "--max-part-size", "5MiB"];
    let out = builder(&[&create[..], &["--output", "json"]].concat(), dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();

    let folder = dir.path().join("out");
    for gone in ["", ".sha256", ".sig", ".cosign.bundle"] {
        let path = folder.join(format!("noise-1.tar.zst{gone}"));
        assert!(!path.exists(), "{} is still there", path.display());
    }
    let removed = report["split"]["removed"].as_array().unwrap();
    assert!(removed.iter().any(|p| p.as_str().is_some_and(|p| p.ends_with("out/noise-1.tar.zst"))), "{report}");
    let manifest = folder.join("noise-1.tar.zst.parts.json");
    let parts = report["split"]["parts"].as_array().unwrap();
    assert!(parts.len() >= 3, "{report}");
    for part in parts {
        let size = std::fs::metadata(folder.join(part["name"].as_str().unwrap())).unwrap().len();
        assert!(size <= 5 << 20 && Some(size) == part["size"].as_u64(), "{part}");
    }
    for signature in [".sig", ".cosign.bundle"] {
        assert!(folder.join(format!("noise-1.tar.zst.parts.json{signature}")).is_file(), "{signature}");
    }
    // The parts verify in place, the manifest's signature by the build's key accepted.
    let policy =
        TrustPolicy::from_keys(vec![PublicKey::from_pem_file(&fixtures().join("keys/test.pub")).unwrap()]).unwrap();
    let checked =
        UnverifiedBundle::open(&manifest, &Default::default()).unwrap().verify(&policy).unwrap().check().unwrap();
    let parts_report = checked.report().parts.clone().expect("read as parts");
    assert!(parts_report.signed);
    assert_eq!(parts_report.parts, parts.len());
    assert_eq!(checked.report().archive_sha256.to_string(), report["sha256"].as_str().unwrap());

    // Built again in parts: the earlier build's parts and manifest give way, none left over.
    let again = builder(
        &["create", "-f", "bundle.yaml", "--key", key.to_str().unwrap(), "--max-part-size", "9MiB"],
        dir.path(),
        &[],
    );
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    let mut names: Vec<String> = std::fs::read_dir(&folder)
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains(".part-"))
        .collect();
    names.sort();
    assert_eq!(names, ["noise-1.tar.zst.part-000", "noise-1.tar.zst.part-001"], "parts of 9 MiB of 12 MiB");
}

#[test]
fn a_part_size_below_the_smallest_or_with_a_report_is_refused_before_anything_is_built() {
    let dir = tempfile::tempdir().unwrap();
    noise_spec(dir.path());
    let key = fixtures().join("keys/test.key");
    for extra in [
        &["--max-part-size", "1000KB"][..],
        &["--max-part-size", "5MiB", "--report"],
        &["--max-part-size", "5 parsecs"],
    ] {
        let out = builder(
            &[&["create", "-f", "bundle.yaml", "--key", key.to_str().unwrap()][..], extra].concat(),
            dir.path(),
            &[],
        );
        assert_eq!(out.status.code(), Some(2), "{extra:?}: {}", text(&out.stderr));
        assert!(!dir.path().join("out").exists(), "{extra:?}: something was built");
    }
}
