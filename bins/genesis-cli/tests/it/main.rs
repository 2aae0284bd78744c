//! `genesis verify-blob` on real cosign material (fixtures/interop): cosign's flags, exit 0
//! for verified, 1 for refused; the air-gap key-only bundle only with
//! `--insecure-ignore-tlog`.

// Test helpers are not a public API, and a panic is how a test reports failure.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;
use std::process::{Command, Output};

fn genesis(args: &[&str]) -> Output {
    let interop = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/interop");
    Command::new(env!("CARGO_BIN_EXE_genesis")).args(args).current_dir(interop).output().unwrap()
}

fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

#[test]
fn cosign_signatures_and_key_only_bundles() {
    let ok = genesis(&[
        "verify-blob",
        "cosign-key/artifact.txt",
        "--key",
        "cosign-key/cosign.pub",
        "--signature",
        "cosign-key/artifact.txt.sig",
    ]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("✓ Verified OK"));

    let tampered = genesis(&[
        "verify-blob",
        "negative/cosign-key/artifact-tampered.txt",
        "--key",
        "cosign-key/cosign.pub",
        "--signature",
        "cosign-key/artifact.txt.sig",
    ]);
    assert_eq!(tampered.status.code(), Some(1), "{}", text(&tampered.stderr));

    let bundle = [
        "verify-blob",
        "cosign-key/artifact.txt",
        "--key",
        "cosign-key/cosign.pub",
        "--bundle",
        "cosign-key/artifact.txt.keyed-v0.3.sigstore.json",
    ];
    let strict = genesis(&bundle);
    assert_eq!(strict.status.code(), Some(1), "{}", text(&strict.stderr));
    assert!(text(&strict.stderr).contains("--insecure-ignore-tlog"), "{}", text(&strict.stderr));
    let air_gap = genesis(&[&bundle[..], &["--insecure-ignore-tlog", "--output", "json"]].concat());
    assert_eq!(air_gap.status.code(), Some(0), "{}", text(&air_gap.stderr));
    let v: serde_json::Value = serde_json::from_slice(&air_gap.stdout).unwrap();
    assert_eq!(v["report"]["content"], "messageSignature");

    let dsse = genesis(&[
        "verify-blob",
        "cosign-key/artifact.txt",
        "--key",
        "cosign-key/cosign.pub",
        "--bundle",
        "dsse/slsa-v1.dsse.json",
    ]);
    assert_eq!(dsse.status.code(), Some(0), "{}", text(&dsse.stderr));
    let dsse_bad = genesis(&[
        "verify-blob",
        "cosign-key/artifact.txt",
        "--key",
        "cosign-key/cosign.pub",
        "--bundle",
        "negative/dsse/slsa-v1.sig-over-raw-payload.dsse.json",
    ]);
    assert_eq!(dsse_bad.status.code(), Some(1), "{}", text(&dsse_bad.stderr));
}

#[test]
fn keyless_flags_are_refused_as_not_available() {
    let out = genesis(&[
        "verify-blob",
        "sigstore-bundle/a.txt",
        "--certificate-identity",
        "x",
        "--certificate-oidc-issuer",
        "y",
        "--bundle",
        "sigstore-bundle/happy-path-v0.3.sigstore.json",
    ]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("keyless verification"), "{}", text(&out.stderr));
}

#[test]
fn the_builders_cosign_bundle_verifies_as_a_key_only_sigstore_bundle() {
    let good = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/bundles/good/demo-0.1.0.tar.zst");
    let key = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/keys/test.pub");
    let bundle = format!("{}.cosign.bundle", good.display());
    let out = genesis(&[
        "verify-blob",
        good.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--bundle",
        &bundle,
        "--insecure-ignore-tlog",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&std::fs::read(&bundle).unwrap()).unwrap();
    assert_eq!(v["mediaType"], "application/vnd.dev.sigstore.bundle.v0.3+json");
}

/// sigstore-js (`@sigstore/verify`, prepared by `cargo xtask test-deps`) verifying a bundle
/// offline with a key and no log requirement.
fn sigstore_js(bundle: &Path, artifact: &Path, key: &Path) -> Output {
    let node_dir = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-node");
    assert!(
        node_dir.join(".complete").exists(),
        "sigstore-js is missing: run `cargo xtask test-deps` (cargo xtask ci does)"
    );
    let root = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/interop/trust/trusted_root.public-good.json");
    Command::new("node")
        .arg(node_dir.join("verify.js"))
        .args([bundle, artifact, key, &root])
        .output()
        .expect("node must be installed")
}

#[test]
fn sigstore_js_accepts_the_bundles_we_write_and_only_with_our_key() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let archive = fixtures.join("bundles/good/demo-0.1.0.tar.zst");
    let bundle = fixtures.join("bundles/good/demo-0.1.0.tar.zst.cosign.bundle");
    let ok = sigstore_js(&bundle, &archive, &fixtures.join("keys/test.pub"));
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert_eq!(text(&ok.stdout).trim(), "OK");
    let other = sigstore_js(&bundle, &archive, &fixtures.join("keys/other.pub"));
    assert!(!other.status.success(), "sigstore-js accepted another key");
    let tampered =
        sigstore_js(&bundle, &fixtures.join("bundles/truncated/demo-0.1.0.tar.zst"), &fixtures.join("keys/test.pub"));
    assert!(!tampered.status.success(), "sigstore-js accepted other bytes");
}
