//! The loader reads a split bundle's parts in place (decision 0042): `extract` refuses a
//! corrupted, missing, short or swapped part, naming it and leaving nothing behind (a missing
//! or short one when the parts are opened, before a byte is read); `load` pushes from the
//! parts into a real registry, and `serve` answers a blob pull from them.

use std::path::{Path, PathBuf};
use std::process::Command;

use serde_json::json;

use crate::registry::Distribution;
use crate::serve::{Server, layout_blob, signed_layout_bundle};
use crate::{extract, listing, load_into, text};

/// The archive `signed_layout_bundle` writes.
pub const NAME: &str = "ref-1.tar.zst";
/// Parts of 5 MiB: each holds whole frames of 4 MiB.
const PART_SIZE: u64 = 5 << 20;

/// A bundle under `dir` of one image (`example.com/demo/app:1`) whose layer is `len` bytes of
/// noise from `seed` (stored in raw frames of 4 MiB), split into parts of 5 MiB beside it,
/// the archive removed: (its parts manifest, the layer's digest).
fn split_bundle(dir: &Path, len: usize, seed: u64) -> (PathBuf, String) {
    split_bundle_in(dir, len, seed, PART_SIZE)
}

/// [`split_bundle`] into parts of at most `part_size` bytes.
pub fn split_bundle_in(dir: &Path, len: usize, seed: u64, part_size: u64) -> (PathBuf, String) {
    let noise = genesis_bundle::test_support::noise(len, seed);
    let layer = layout_blob(dir, &noise, "application/vnd.oci.image.layer.v1.tar");
    let config = layout_blob(
        dir,
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
        "application/vnd.oci.image.config.v1+json",
    );
    let image = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config, "layers": [layer]});
    let image_desc =
        layout_blob(dir, &serde_json::to_vec(&image).unwrap(), "application/vnd.oci.image.manifest.v1+json");
    let archive = signed_layout_bundle(dir, &[("app", &image_desc, "1")]);
    assert_eq!(archive.file_name().unwrap(), NAME);
    let split =
        genesis_bundle::split_archive(&archive, archive.parent().unwrap(), part_size, &Default::default()).unwrap();
    assert_eq!(split.cut_inside_frames, 0, "frames of 4 MiB fit parts of {part_size} bytes");
    std::fs::remove_file(&archive).unwrap();
    (split.manifest_path, layer["digest"].as_str().unwrap().to_owned())
}

/// The body `curl -sfL URL` fetches.
fn get(url: &str) -> Vec<u8> {
    let out = Command::new("curl").args(["-sfL", url]).output().expect("curl must be installed");
    assert!(out.status.success(), "GET {url}: {}", text(&out.stderr));
    out.stdout
}

#[test]
fn extract_refuses_a_corrupted_missing_short_or_swapped_part_naming_it_and_leaves_nothing() {
    let ours = tempfile::tempdir().unwrap();
    let theirs = tempfile::tempdir().unwrap();
    let (manifest, _) = split_bundle(ours.path(), 12 << 20, 11);
    // Another bundle of the same name, split the same way.
    let (other, _) = split_bundle(theirs.path(), 12 << 20, 12);
    let listed = genesis_bundle::PartsManifest::read(&manifest).unwrap().parts;
    assert!(listed.len() >= 3, "{listed:?}");
    let middle = &listed[listed.len() / 2];
    let part = manifest.with_file_name(&middle.name);
    let good = std::fs::read(&part).unwrap();
    let swapped = std::fs::read(other.with_file_name(&middle.name)).unwrap();
    // The same size (a raw frame of 4 MiB in both): only its hash tells it apart.
    assert_eq!(swapped.len(), good.len());
    assert_ne!(swapped, good);
    let mut flipped = good.clone();
    flipped[good.len() / 2] ^= 0x01;

    let cases: [(&str, Option<Vec<u8>>, &str); 4] = [
        ("corrupted", Some(flipped), "has SHA-256"),
        ("missing", None, "cannot be read"),
        ("short", Some(good[..good.len() - 1].to_vec()), "the parts manifest lists"),
        ("swapped", Some(swapped), "belongs to another bundle"),
    ];
    let parent = tempfile::tempdir().unwrap();
    for (what, bytes, says) in cases {
        match &bytes {
            Some(bytes) => std::fs::write(&part, bytes).unwrap(),
            None => std::fs::remove_file(&part).unwrap(),
        }
        let target = parent.path().join(what);
        let out = extract(&manifest, &target);
        assert!(!out.status.success(), "{what}: extracted");
        let stderr = text(&out.stderr);
        assert!(stderr.contains(part.to_str().unwrap()), "{what}: the part is not named: {stderr}");
        assert!(stderr.contains(says), "{what}: expected {says:?} in {stderr}");
        assert!(stderr.contains("copy it again from the source medium"), "{what}: {stderr}");
        assert!(!target.exists(), "{what}: the target was written");
        assert!(listing(parent.path()).is_empty(), "{what}: left behind {:?}", listing(parent.path()));
        if bytes.as_ref().is_none_or(|b| b.len() != good.len()) {
            // Named when the parts are opened, before a byte of the bundle is read.
            let refused = genesis_trust::UnverifiedBundle::open(&manifest, &Default::default()).err();
            let refused = refused.unwrap_or_else(|| panic!("{what}: the parts opened"));
            assert!(refused.to_string().contains(part.to_str().unwrap()), "{what}: {refused}");
        }
        std::fs::write(&part, &good).unwrap();
    }

    // The part put back, the parts extract.
    let target = parent.path().join("whole");
    let out = extract(&manifest, &target);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(target.join("bom.json").is_file());
}

#[test]
fn a_damaged_frame_early_in_a_part_of_several_frames_is_blamed_on_the_part_not_on_the_file_it_holds() {
    let dir = tempfile::tempdir().unwrap();
    // Parts of 9 MiB hold two frames of 4 MiB: the first is decompressed, and the layer it
    // holds refused, before the part's last byte is read and its hash checked.
    let (manifest, _) = split_bundle_in(dir.path(), 12 << 20, 14, 9 << 20);
    let first = manifest.with_file_name(format!("{NAME}.part-000"));
    let mut bytes = std::fs::read(&first).unwrap();
    assert!(bytes.len() > 8 << 20, "part-000 holds two frames");
    bytes[2 << 20] ^= 0x01;
    std::fs::write(&first, &bytes).unwrap();
    let target = dir.path().join("extracted");
    let out = extract(&manifest, &target);
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains(first.to_str().unwrap()) && stderr.contains("has SHA-256"), "{stderr}");
    assert!(!target.exists());

    // The JSON report names the one file to copy again, for a guard's automation.
    let key = crate::test_pub();
    let json = ["verify", manifest.to_str().unwrap(), "--key", key.to_str().unwrap(), "--output", "json"];
    let out = crate::loader(&json);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["verified"], false, "{report}");
    assert_eq!(report["partToCopyAgain"], first.to_str().unwrap(), "{report}");
}

#[test]
fn load_pushes_from_the_parts_and_serve_answers_a_blob_pull_from_them() {
    let dir = tempfile::tempdir().unwrap();
    let (manifest, layer) = split_bundle(dir.path(), 12 << 20, 13);
    assert!(!manifest.with_file_name(NAME).exists(), "only the parts are there");

    let registry = Distribution::start();
    let destination = format!("{}/mirror", registry.host());
    let out = load_into(&manifest, &destination, &["--plain-http", "--output", "json", "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert!(report["images"][0]["blobs"]["uploaded"].as_u64() >= Some(2), "{report}");
    let pushed = get(&format!("http://{}/v2/mirror/demo/app/blobs/{layer}", registry.host()));
    assert_eq!(genesis_bundle::sha256(&pushed).to_string(), layer);

    let server = Server::start(&manifest, None);
    let served = get(&format!("http://127.0.0.1:{}/v2/demo/app/blobs/{layer}", server.port));
    assert_eq!(served.len(), 12 << 20);
    assert_eq!(genesis_bundle::sha256(&served).to_string(), layer);
}
