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
