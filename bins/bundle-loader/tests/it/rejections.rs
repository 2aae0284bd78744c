//! Every fixture case is refused with its own error, by `verify` and by `extract`, and
//! `extract` leaves no output directory and no staging directory behind.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use genesis_bundle::{Bom, Compression, Content, WriteOptions};
use genesis_types::BundlePath;

use crate::{ARCHIVE, case, extract, fixtures, listing, loader, text, verify};

/// (fixture case, what the error must say).
const CASES: &[(&str, &str)] = &[
    (
        "unsigned",
        "not a signed Genesis bundle: the second entry is \"provenance/bundle.intoto.json\", expected bom.json.sig",
    ),
    ("signed-by-other-key", "BOM signature does not verify against any trusted key"),
    ("bom-byte-changed", "BOM signature does not verify against any trusted key"),
    ("blob-byte-changed", "content digest sha256:"),
    ("chart-byte-changed", "charts/web-0.1.0.tgz: content digest"),
    ("manifest-byte-changed", "manifests/service.yaml: content digest"),
    ("entry-not-in-bom", "entry \"manifests/zz-extra.yaml\" is not listed in the BOM"),
    ("bom-entry-missing", "manifests/service.yaml is listed in the BOM but missing from the archive"),
    ("duplicate-entry", "entry \"manifests/service.yaml\" appears more than once"),
    ("path-dotdot", "unsafe entry path \"../evil.yaml\""),
    ("path-absolute", "unsafe entry path \"/etc/evil.yaml\""),
    ("path-not-utf8", "not UTF-8"),
    ("symlink-entry", "is a symbolic link"),
    ("hardlink-entry", "is a hard link"),
    ("device-entry", "is a character device"),
    ("truncated", "archive is truncated"),
    ("trailing-garbage", "bytes of trailing data"),
    ("decompression-bomb", "limit exceeded: decompression ratio"),
    ("blob-name-mismatch", "a blob's name must be its digest"),
    ("oversized-bom", "limit exceeded: bom.json size (16777217 > 16777216)"),
    ("signature-from-other-bundle", "BOM signature does not verify against any trusted key"),
    ("provenance-from-other-bundle", "SLSA provenance refused: its subject"),
    ("provenance-tampered", "SLSA provenance refused: its signature does not verify with the bundle key"),
    ("sbom-entry-missing", "SBOM sbom/bundle.cdx.json is incomplete: it does not list manifest manifests/service.yaml"),
    ("sha256-sidecar-mismatch", ".sha256: says"),
    ("sig-sidecar-other-key", ".sig: detached signature does not verify"),
    ("cosign-bundle-other-key", ".cosign.bundle: detached signature does not verify"),
];

#[test]
fn verify_refuses_every_case_with_its_error() {
    for (name, expected) in CASES {
        let out = verify(&case(name), &[]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(expected), "{name}: expected {expected:?} in {}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "{name}: nothing on stdout for a failure in text mode");
    }
}

#[test]
fn extract_refuses_every_case_and_leaves_nothing() {
    for (name, expected) in CASES {
        let parent = tempfile::tempdir().unwrap();
        let target = parent.path().join("out");
        let out = extract(&case(name), &target);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(expected), "{name}: {}", text(&out.stderr));
        assert!(listing(parent.path()).is_empty(), "{name}: left {:?}", listing(parent.path()));
    }
}

/// The good bundle with the contents of two OCI blobs swapped and the BOM signed again by
/// the trusted key: every entry's size and sha256 match the BOM, only the names lie, so
/// `serve` would advertise one digest and send the other's bytes. Built here the way
/// `cargo xtask fixtures` builds the `blob-name-mismatch` case.
fn blob_name_mismatch(dir: &Path) -> PathBuf {
    let good = case("good");
    let payload = dir.join("good");
    let out = extract(&good, &payload);
    assert!(out.status.success(), "{}", text(&out.stderr));
    let mut head = genesis_bundle::ArchiveReader::open_head(&good, &Default::default()).unwrap();
    let mut bom = Bom::parse(&head.read_head().unwrap().bom, &Default::default()).unwrap();
    let blobs: Vec<usize> =
        (0..bom.files.len()).filter(|&i| bom.files[i].path.as_str().starts_with("oci/blobs/sha256/")).take(2).collect();
    let (a, b) = (bom.files[blobs[0]].clone(), bom.files[blobs[1]].clone());
    let mut contents: BTreeMap<BundlePath, Content> =
        bom.files.iter().map(|f| (f.path.clone(), Content::File(payload.join(f.path.as_str())))).collect();
    for (named, holding) in [(&a, &b), (&b, &a)] {
        let f = bom.files.iter_mut().find(|f| f.path == named.path).unwrap();
        (f.size, f.sha256) = (holding.size, holding.sha256.clone());
        contents.insert(named.path.clone(), Content::File(payload.join(holding.path.as_str())));
    }
    let bom_bytes = bom.to_bytes();
    let key = genesis_trust::PrivateKey::from_pem_file(&fixtures().join("keys/test.key")).unwrap();
    let signature = genesis_trust::encode_signature(&key.sign(&bom_bytes));
    let archive = dir.join(ARCHIVE);
    let options = WriteOptions { compression: Compression::Zstd, mtime: 1_735_689_600, progress: Default::default() };
    let file = std::fs::File::create(&archive).unwrap();
    genesis_bundle::write_bundle(file, &bom, &bom_bytes, &signature, None, &contents, options).unwrap();
    archive
}

#[test]
fn a_blob_whose_content_is_not_its_name_is_refused_by_verify_and_extract() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = blob_name_mismatch(dir.path());
    let out = verify(&bundle, &[]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains("bom.json is invalid: oci/blobs/sha256/"), "{stderr}");
    assert!(stderr.contains("a blob's name must be its digest"), "{stderr}");
    let parent = tempfile::tempdir().unwrap();
    let out = extract(&bundle, &parent.path().join("out"));
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("a blob's name must be its digest"), "{}", text(&out.stderr));
    assert!(listing(parent.path()).is_empty(), "left {:?}", listing(parent.path()));
}

#[test]
fn json_failure_report_names_the_cause() {
    let out = verify(&case("blob-byte-changed"), &["--output", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verified"], false);
    assert!(v["error"].as_str().unwrap().contains("does not match the BOM"));
}

#[test]
fn there_is_no_default_trust() {
    let out = loader(&["verify", case("good").to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--key"), "{}", text(&out.stderr));
}

#[test]
fn a_key_that_is_not_a_public_key_is_an_input_error() {
    let private = crate::fixtures().join("keys/test.key");
    let out = loader(&["verify", case("good").to_str().unwrap(), "--key", private.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("this is a private key"), "{}", text(&out.stderr));
}

#[test]
fn a_missing_bundle_is_not_found() {
    let out = verify(std::path::Path::new("/nonexistent/demo.tar.zst"), &[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("/nonexistent/demo.tar.zst"), "{}", text(&out.stderr));
}

#[test]
fn limits_are_configurable() {
    let good = case("good");
    for (flag, value, expected) in [
        ("--max-bom-size", "1000", "bom.json size"),
        ("--max-total-size", "4096", "decompressed archive size"),
        ("--max-entries", "5", "entry count"),
    ] {
        let out = verify(&good, &[flag, value]);
        assert_eq!(out.status.code(), Some(1), "{flag}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(expected), "{flag}: {}", text(&out.stderr));
    }
}

#[test]
fn an_existing_output_dir_is_refused_untouched() {
    let parent = tempfile::tempdir().unwrap();
    let target = parent.path().join("out");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), b"mine").unwrap();
    let out = extract(&case("good"), &target);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("already exists"));
    assert_eq!(listing(&target), ["keep"]);
    assert_eq!(listing(parent.path()), ["out"]);
}
