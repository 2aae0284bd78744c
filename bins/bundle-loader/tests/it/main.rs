//! End-to-end tests of `bundle-loader` on the committed fixtures (see fixtures/README.md):
//! every rejection case fails with its specific error and leaves nothing behind, and what
//! `extract` writes is read back by independent tools (skopeo, umoci, sha256sum, tar) and by
//! `verify --dir`; a split bundle's parts are read in place, and a bad part is named.

// Test helpers are not a public API, and a panic is how a test reports failure.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod bucket;
mod delta;
mod endpoints;
mod exit_codes;
mod export;
mod interrupt;
mod kube;
mod parts;
mod policy;
mod registry;
mod rejections;
mod resolve;
mod seed;
mod seed_trust;
mod serve;
mod token;
mod tools;
mod verify_dir;

use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};

pub const ARCHIVE: &str = "demo-0.1.0.tar.zst";

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

pub fn case(name: &str) -> PathBuf {
    fixtures().join("bundles").join(name).join(ARCHIVE)
}

/// The BOM of `archive`, read from its head (tests look; the loader verifies).
pub fn bom_of(archive: &Path) -> serde_json::Value {
    serde_json::from_slice(&bom_bytes(archive)).unwrap()
}

/// The exact bytes of `archive`'s `bom.json`, read from its head.
pub fn bom_bytes(archive: &Path) -> Vec<u8> {
    genesis_bundle::ArchiveReader::open_head(archive, &Default::default()).unwrap().read_head().unwrap().bom
}

/// The digest the good fixture's BOM records for its one image.
pub fn good_image_digest() -> String {
    bom_of(&case("good"))["images"][0]["digest"].as_str().unwrap().to_owned()
}

pub fn test_pub() -> PathBuf {
    fixtures().join("keys/test.pub")
}

pub fn loader(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bundle-loader"))
        .args(args)
        .env("RUST_LOG", "warn")
        .output()
        .expect("bundle-loader runs")
}

/// `bundle-loader load BUNDLE --key test.pub --registry DESTINATION EXTRA…`
pub fn load_into(bundle: &Path, destination: &str, extra: &[&str]) -> Output {
    let key = test_pub();
    let base = ["load", bundle.to_str().unwrap(), "--key", key.to_str().unwrap(), "--registry", destination];
    loader(&[&base[..], extra].concat())
}

/// `bundle-loader verify BUNDLE --key test.pub EXTRA…`
pub fn verify(bundle: &Path, extra: &[&str]) -> Output {
    let mut args = vec!["verify", bundle.to_str().unwrap()];
    let key = test_pub();
    args.extend(["--key", key.to_str().unwrap()]);
    args.extend(extra);
    loader(&args)
}

/// `bundle-loader extract BUNDLE --key test.pub --output-dir TARGET`
pub fn extract(bundle: &Path, target: &Path) -> Output {
    let key = test_pub();
    loader(&[
        "extract",
        bundle.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--output-dir",
        target.to_str().unwrap(),
    ])
}

/// The BLAKE3 hex of `bytes` as `b3sum` computes it (an independent reader of our fingerprints).
pub fn b3sum(bytes: &[u8]) -> String {
    let mut b3 = Command::new("b3sum")
        .arg("--no-names")
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .spawn()
        .expect("b3sum must be installed");
    std::io::Write::write_all(&mut b3.stdin.take().unwrap(), bytes).unwrap();
    let b3 = b3.wait_with_output().unwrap();
    assert!(b3.status.success());
    text(&b3.stdout).trim().to_owned()
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// Names of everything in a directory.
pub fn listing(dir: &Path) -> Vec<String> {
    let mut v: Vec<String> = std::fs::read_dir(dir)
        .map(|rd| rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default();
    v.sort();
    v
}
