//! `create --base` (decision 0043): a release that changes one layer, built against the one
//! before, leaves out the layer and config they share, lists them in its signed BOM as
//! required of that base, and verifies like any bundle; a base signed by another key is refused
//! before anything is built.

use std::collections::BTreeSet;
use std::path::Path;

use genesis_testkit::layered_spec::{self, Image};
use genesis_trust::{PublicKey, TrustPolicy, UnverifiedBundle};

use crate::{builder, fixtures, text};

/// 4 MiB of noise: zstd cannot shrink it, so the archive holds each such layer whole.
const LAYER: usize = 4 << 20;

/// Release 1 of `layered`: one image whose two layers are noise from seeds 1 and 3 (noise makes a seed odd, so
/// the seeds differ in more than their last bit).
fn release_1(dir: &Path) {
    layered_spec::write(
        dir,
        "layered",
        "1",
        &[Image { name: "app", reference: "example.com/demo/app:1", layers: &[(LAYER, 1), (LAYER, 3)] }],
    );
}

/// Release 2: the same image with its second layer changed (seed 5).
fn release_2(dir: &Path) {
    layered_spec::write(
        dir,
        "layered",
        "2",
        &[Image { name: "app", reference: "example.com/demo/app:2", layers: &[(LAYER, 1), (LAYER, 5)] }],
    );
}

/// `bundle-builder create -f bundle.yaml --key KEY --skip-package-sboms EXTRA…` in `dir`,
/// which must succeed; its JSON report.
fn create(dir: &Path, key: &Path, extra: &[&str]) -> serde_json::Value {
    let args = ["create", "-f", "bundle.yaml", "--key", key.to_str().unwrap(), "--skip-package-sboms"];
    let out = builder(&[&args[..], extra, &["--output", "json"]].concat(), dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The exact bytes of an archive's `bom.json`.
fn bom_bytes(archive: &Path) -> Vec<u8> {
    genesis_bundle::ArchiveReader::open_head(archive, &Default::default()).unwrap().read_head().unwrap().bom
}

/// The digests of the blobs an archive carries, as the real `tar --zstd -t` lists them.
fn blobs_listed(archive: &Path) -> BTreeSet<String> {
    let out = std::process::Command::new("tar").arg("--zstd").arg("-tf").arg(archive).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout)
        .lines()
        .filter_map(|line| line.strip_prefix("oci/blobs/sha256/"))
        .filter(|hex| !hex.is_empty())
        .map(|hex| format!("sha256:{hex}"))
        .collect()
}

fn test_policy() -> TrustPolicy {
    TrustPolicy::from_keys(vec![PublicKey::from_pem_file(&fixtures().join("keys/test.pub")).unwrap()]).unwrap()
}

#[test]
fn a_release_built_against_the_one_before_leaves_out_what_it_carries_and_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let key = fixtures().join("keys/test.key");
    release_1(dir.path());
    create(dir.path(), &key, &[]);
    let v1 = dir.path().join("out/layered-1.tar.zst");
    release_2(dir.path());
    create(dir.path(), &key, &["--output-dir", "full"]);
    let full = dir.path().join("full/layered-2.tar.zst");
    let report = create(dir.path(), &key, &["--base", v1.to_str().unwrap()]);
    let delta = dir.path().join("out/layered-2.tar.zst");

    // The BOM names the base by name, version and BOM digest, and lists what it left out: the
    // shared layer and the config, with their sizes.
    let bom: serde_json::Value = serde_json::from_slice(&bom_bytes(&delta)).unwrap();
    let base_bom = genesis_bundle::sha256(&bom_bytes(&v1)).to_string();
    assert_eq!(bom["requires"]["base"], serde_json::json!({"name": "layered", "version": "1", "bomSha256": base_bom}));
    let full_blobs = blobs_listed(&full);
    let v1_blobs = blobs_listed(&v1);
    let delta_blobs = blobs_listed(&delta);
    let required: Vec<(String, u64)> = bom["requires"]["blobs"]
        .as_array()
        .unwrap()
        .iter()
        .map(|b| (b["digest"].as_str().unwrap().to_owned(), b["size"].as_u64().unwrap()))
        .collect();
    assert_eq!(required.len(), 2, "the shared layer and the config: {required:?}");
    assert!(required.iter().any(|(_, size)| *size == LAYER as u64), "{required:?}");
    let mut sorted = required.clone();
    sorted.sort();
    assert_eq!(sorted, required, "sorted by digest");
    for (digest, _) in &required {
        assert!(v1_blobs.contains(digest) && full_blobs.contains(digest), "{digest} is one the base carries");
        assert!(!delta_blobs.contains(digest), "{digest} is left out of the delta");
    }
    // It carries everything else a full build carries: the new layer, the manifest.
    let carried: BTreeSet<String> =
        full_blobs.iter().filter(|d| !required.iter().any(|(r, _)| r == *d)).cloned().collect();
    assert_eq!(delta_blobs, carried);
    assert!(delta_blobs.iter().any(|d| !v1_blobs.contains(d)), "the changed layer is carried");
    let image_digest = bom["images"][0]["digest"].as_str().unwrap();
    assert!(delta_blobs.contains(image_digest), "the image manifest always stays");

    // About one layer smaller than the full release, which carries two.
    let (full_size, delta_size) = (std::fs::metadata(&full).unwrap().len(), std::fs::metadata(&delta).unwrap().len());
    assert!(delta_size + (LAYER as u64) - (64 << 10) < full_size, "delta {delta_size}, full {full_size}");
    let saved = LAYER as u64 + required.iter().find(|(_, s)| *s != LAYER as u64).unwrap().1;
    assert_eq!(report["requires"]["bytes"], saved, "{report}");
    assert_eq!(report["requires"]["blobs"], 2);

    // It verifies like any bundle, and the report names the base it needs.
    let checked = UnverifiedBundle::open(&delta, &Default::default()).unwrap().verify(&test_policy()).unwrap();
    let checked = checked.check().unwrap();
    let requires = checked.report().requires.clone().expect("the report states the base");
    assert_eq!((requires.base.name.as_str(), requires.base.version.as_str()), ("layered", "1"));
    assert_eq!(requires.base.bom_sha256.to_string(), base_bom);
    assert_eq!((requires.blobs, requires.bytes), (2, saved));

    // `inspect` shows the base and the bytes saved.
    let inspect = builder(&["inspect", delta.to_str().unwrap()], dir.path(), &[]);
    assert_eq!(inspect.status.code(), Some(0), "{}", text(&inspect.stderr));
    let shown = text(&inspect.stdout);
    assert!(shown.contains(&format!("delta     needs layered 1 (BOM {base_bom}) loaded first")), "{shown}");
    assert!(shown.contains(&format!("saved     {saved} bytes: 2 blobs the base carries, left out")), "{shown}");
    let json = builder(&["inspect", delta.to_str().unwrap(), "--output", "json"], dir.path(), &[]);
    let json: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(json["requires"]["bytes"], saved);

    // A full release's BOM and report say nothing of a base.
    let full_bom: serde_json::Value = serde_json::from_slice(&bom_bytes(&full)).unwrap();
    assert!(full_bom.get("requires").is_none(), "{full_bom}");
    let full_inspect = builder(&["inspect", full.to_str().unwrap(), "--output", "json"], dir.path(), &[]);
    let full_inspect: serde_json::Value = serde_json::from_slice(&full_inspect.stdout).unwrap();
    assert!(full_inspect.get("requires").is_none(), "{full_inspect}");

    // The same inputs and base give the same delta, byte for byte.
    create(dir.path(), &key, &["--base", v1.to_str().unwrap(), "--output-dir", "again"]);
    assert_eq!(crate::sha256_file(&delta), crate::sha256_file(&dir.path().join("again/layered-2.tar.zst")));
}

#[test]
fn a_base_signed_by_another_key_is_refused_before_anything_is_built() {
    let dir = tempfile::tempdir().unwrap();
    let keygen = builder(&["keygen", "--output-dir", "other"], dir.path(), &[]);
    assert_eq!(keygen.status.code(), Some(0), "{}", text(&keygen.stderr));
    release_1(dir.path());
    create(dir.path(), &dir.path().join("other/genesis.key"), &[]);
    let v1 = dir.path().join("out/layered-1.tar.zst");

    release_2(dir.path());
    let key = fixtures().join("keys/test.key");
    let out = builder(
        &["create", "-f", "bundle.yaml", "--key", key.to_str().unwrap(), "--base", v1.to_str().unwrap()],
        dir.path(),
        &[],
    );
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "a signature that does not verify is a verdict: {stderr}");
    assert!(stderr.contains(&format!("--base {}: the base bundle was refused", v1.display())), "{stderr}");
    assert!(stderr.contains("signed by the key (or keyless identity) this build signs with"), "{stderr}");
    assert!(!dir.path().join("out/layered-2.tar.zst").exists(), "nothing was built");

    // Signed by the build's own key, the same base is taken.
    let both = builder(
        &["create", "-f", "bundle.yaml", "--key", "other/genesis.key", "--base", v1.to_str().unwrap()],
        dir.path(),
        &[],
    );
    assert_eq!(both.status.code(), Some(0), "{}", text(&both.stderr));
    assert!(text(&both.stdout).contains("delta  needs layered 1"), "{}", text(&both.stdout));
}
