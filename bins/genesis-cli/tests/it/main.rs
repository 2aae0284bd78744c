//! `genesis verify-blob` on real cosign material (fixtures/interop): cosign's flags, exit 0
//! for verified, 1 for refused; the air-gap key-only bundle only with
//! `--insecure-ignore-tlog`; keyless bundles against the pinned root; `genesis preflight`
//! against real servers; `genesis report`, read back by poppler and qpdf; and `genesis
//! support-bundle` against the real kube-apiserver, read back by tar, zcat and sha256sum;
//! `genesis split` and `join`, read back by cat and sha256sum.

// Test helpers are not a public API, and a panic is how a test reports failure.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod countersign;
mod keyless;
mod policy;
mod preflight;
mod report;
mod scan;
mod split;
mod support_bundle;
mod verify_dir;

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

const BEACON: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";
const GITHUB_ISSUER: &str = "https://token.actions.githubusercontent.com";

fn keyless(bundle: &str, identity: &[&str], extra: &[&str]) -> Output {
    let base = ["verify-blob", "sigstore-bundle/a.txt", "--bundle", bundle, "--certificate-oidc-issuer", GITHUB_ISSUER];
    genesis(&[&base[..], identity, &["--trusted-root", "trust/trusted_root.public-good.json"], extra].concat())
}

#[test]
fn keyless_bundles_verify_offline_against_the_pinned_root_and_the_identity() {
    let ok = keyless("sigstore-bundle/happy-path-v0.3.sigstore.json", &["--certificate-identity", BEACON], &[]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains(&format!("identity {BEACON}")), "{}", text(&ok.stdout));
    assert!(text(&ok.stdout).contains("transparency log entry verified"), "{}", text(&ok.stdout));

    // The regular expression must match the whole SAN: a prefix alone is not an identity.
    let pattern = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.*";
    let regex = keyless(
        "sigstore-bundle/happy-path-v0.2.sigstore.json",
        &["--certificate-identity-regexp", pattern],
        &["--output", "json"],
    );
    assert_eq!(regex.status.code(), Some(0), "{}", text(&regex.stderr));
    let v: serde_json::Value = serde_json::from_slice(&regex.stdout).unwrap();
    assert_eq!(v["report"]["transparencyLog"], true);
    let prefix = keyless(
        "sigstore-bundle/happy-path-v0.2.sigstore.json",
        &["--certificate-identity-regexp", "https://github.com/sigstore-conformance"],
        &[],
    );
    assert_eq!(prefix.status.code(), Some(1), "{}", text(&prefix.stderr));

    let other = keyless(
        "sigstore-bundle/happy-path-v0.3.sigstore.json",
        &["--certificate-identity", "someone@example.com"],
        &[],
    );
    assert_eq!(other.status.code(), Some(1), "{}", text(&other.stderr));
    assert!(text(&other.stderr).contains("identity mismatch"), "{}", text(&other.stderr));

    // Keyless without a pinned root is a usage error: nothing is fetched.
    let no_root = genesis(&[
        "verify-blob",
        "sigstore-bundle/a.txt",
        "--bundle",
        "sigstore-bundle/happy-path-v0.3.sigstore.json",
        "--certificate-identity",
        BEACON,
        "--certificate-oidc-issuer",
        GITHUB_ISSUER,
    ]);
    assert_eq!(no_root.status.code(), Some(2), "{}", text(&no_root.stderr));
    assert!(text(&no_root.stderr).contains("--trusted-root"), "{}", text(&no_root.stderr));
}

#[test]
fn cosigns_legacy_keyless_bundle_verifies() {
    let out = genesis(&[
        "verify-blob",
        "legacy-cosign-bundle/artifact.txt",
        "--bundle",
        "legacy-cosign-bundle/artifact.txt.cosign-bundle.json",
        "--certificate-identity",
        "daniel.bevenius@gmail.com",
        "--certificate-oidc-issuer",
        "https://github.com/login/oauth",
        "--trusted-root",
        "trust/trusted_root.public-good.json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("integrated 2022-11-25"), "{}", text(&out.stdout));
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

/// The provenance envelope inside our bundles, wrapped as a key-signed v0.3 sigstore bundle,
/// is a standard DSSE in-toto attestation to sigstore-js: signature over the PAE, key hint.
/// (sigstore-js leaves the subject-to-artifact binding to its caller; ours is tested by the
/// `provenance-from-other-bundle` fixture.)
#[test]
fn sigstore_js_accepts_the_provenance_envelope_for_the_bom_it_names() {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    let archive = fixtures.join("bundles/good/demo-0.1.0.tar.zst");
    let entry = |archive: &Path, name: &str| {
        let out = Command::new("tar").args(["--zstd", "-xOf"]).arg(archive).arg(name).output().unwrap();
        assert!(out.status.success(), "{name}: {}", text(&out.stderr));
        out.stdout
    };
    let dir = tempfile::tempdir().unwrap();
    let key = genesis_trust::PublicKey::from_pem_file(&fixtures.join("keys/test.pub")).unwrap();
    let wrap = |archive: &Path, name: &str| {
        let envelope: serde_json::Value =
            serde_json::from_slice(&entry(archive, "provenance/bundle.intoto.json")).unwrap();
        let bundle = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": { "publicKey": { "hint": key.hint() }, "tlogEntries": [], "timestampVerificationData": {} },
            "dsseEnvelope": envelope,
        });
        let path = dir.path().join(name);
        std::fs::write(&path, serde_json::to_vec(&bundle).unwrap()).unwrap();
        path
    };
    let bom_path = dir.path().join("bom.json");
    std::fs::write(&bom_path, entry(&archive, "bom.json")).unwrap();

    let good = wrap(&archive, "good.sigstore.json");
    let ok = sigstore_js(&good, &bom_path, &fixtures.join("keys/test.pub"));
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    let other_key = sigstore_js(&good, &bom_path, &fixtures.join("keys/other.pub"));
    assert!(!other_key.status.success(), "sigstore-js accepted another key");
    let tampered = wrap(&fixtures.join("bundles/provenance-tampered/demo-0.1.0.tar.zst"), "tampered.sigstore.json");
    let refused = sigstore_js(&tampered, &bom_path, &fixtures.join("keys/test.pub"));
    assert!(!refused.status.success(), "sigstore-js accepted an edited statement");
}
