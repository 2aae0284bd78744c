//! Keyless bundles end to end (issue 14 item 2): `bundle-builder prepare` writes what a CI
//! pipeline signs, the loopback sigstore instance signs `bom.json` and attests
//! `provenance.intoto.json` as the pipeline's cosign would (a Fulcio certificate, a Rekor
//! entry with its inclusion proof and checkpoint), `bundle-builder create` checks and carries
//! both sigstore bundles, and `genesis verify` and `bundle-loader extract` check them offline
//! against the pinned root, with cosign's flags or a policy file.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use genesis_testkit::copy_inputs;
use genesis_testkit::sigstore::{Fault, LoopbackSigstore};

use crate::text;

const ARCHIVE: &str = "out/demo-0.1.0.tar.zst";
const IDENTITY: &str = "https://github.com/acme/release/.github/workflows/release.yml@refs/tags/v0.1.0";
const ISSUER: &str = "https://token.actions.githubusercontent.com";
const ROOT: &str = "sigstore/trusted_root.json";

/// A binary of the workspace beside `genesis` (the workspace's tests build them all).
fn binary(name: &str) -> PathBuf {
    let path = Path::new(env!("CARGO_BIN_EXE_genesis")).with_file_name(name);
    assert!(
        path.exists(),
        "{} is missing: run the workspace's tests (`cargo nextest run --workspace`)",
        path.display()
    );
    path
}

fn run(program: &Path, args: &[&str], dir: &Path) -> Output {
    Command::new(program).args(args).current_dir(dir).output().unwrap()
}

/// The identity flags, cosign's names.
fn identity_flags<'a>(identity: &'a str, issuer: &'a str) -> [&'a str; 6] {
    ["--certificate-identity", identity, "--certificate-oidc-issuer", issuer, "--trusted-root", ROOT]
}

/// A folder with the keyless bundle at [`ARCHIVE`], built in two phases as a CI pipeline
/// builds it, and the sigstore instance that signed it (its root at [`ROOT`]).
fn keyless_bundle() -> (tempfile::TempDir, LoopbackSigstore) {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_inputs(dir);
    let builder = binary("bundle-builder");
    let prepared = run(&builder, &["prepare", "-f", "bundle.yaml", "-o", "work"], dir);
    assert_eq!(prepared.status.code(), Some(0), "{}", text(&prepared.stderr));
    std::fs::create_dir_all(dir.join("sigstore")).unwrap();
    let mut sigstore = LoopbackSigstore::new(&dir.join("sigstore"));
    let bom = std::fs::read(dir.join("work/bom.json")).unwrap();
    std::fs::write(dir.join("work/bom.sigstore.json"), sigstore.sign_blob(&bom, IDENTITY, ISSUER)).unwrap();
    let statement = std::fs::read(dir.join("work/provenance.intoto.json")).unwrap();
    std::fs::write(dir.join("work/provenance.sigstore.json"), sigstore.attest(&statement, IDENTITY, ISSUER)).unwrap();
    let created = create(dir, "work/bom.sigstore.json", IDENTITY);
    assert_eq!(created.status.code(), Some(0), "{}", text(&created.stderr));
    (tmp, sigstore)
}

/// `bundle-builder create` with the pipeline's keyless signatures, signed as `identity`.
fn create(dir: &Path, bom_signature: &str, identity: &str) -> Output {
    let signatures = ["--bom-signature", bom_signature, "--provenance-signature", "work/provenance.sigstore.json"];
    let args = [&["create", "-f", "bundle.yaml"][..], &signatures, &identity_flags(identity, ISSUER)].concat();
    run(&binary("bundle-builder"), &[&args[..], &["--output-dir", "out", "--quiet"]].concat(), dir)
}

fn genesis_verify(dir: &Path, extra: &[&str]) -> Output {
    run(&binary("genesis"), &[&["verify", ARCHIVE, "--quiet"][..], extra].concat(), dir)
}

#[test]
fn a_keyless_bundle_verifies_with_cosigns_flags_and_with_a_policy_naming_its_identity() {
    let (tmp, mut sigstore) = keyless_bundle();
    let dir = tmp.path();
    // The archive carries the pipeline's sigstore bundles verbatim, as its second and third
    // entries.
    let listing = run(Path::new("tar"), &["--zstd", "-tf", ARCHIVE], dir);
    let names: Vec<String> = text(&listing.stdout).lines().take(3).map(str::to_owned).collect();
    assert_eq!(names, ["bom.json", "bom.sigstore.json", "provenance/bundle.sigstore.json"]);
    let head = dir.join("head");
    std::fs::create_dir_all(&head).unwrap();
    let archive = dir.join(ARCHIVE);
    let extracted = run(Path::new("tar"), &["--zstd", "-xf", archive.to_str().unwrap(), "bom.sigstore.json"], &head);
    assert!(extracted.status.success(), "{}", text(&extracted.stderr));
    assert_eq!(
        std::fs::read(head.join("bom.sigstore.json")).unwrap(),
        std::fs::read(dir.join("work/bom.sigstore.json")).unwrap()
    );
    // The pipeline signs the archive keyless too.
    let bytes = std::fs::read(&archive).unwrap();
    std::fs::write(format!("{}.cosign.bundle", archive.display()), sigstore.sign_blob(&bytes, IDENTITY, ISSUER))
        .unwrap();

    let out = genesis_verify(dir, &identity_flags(IDENTITY, ISSUER));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    let line = format!("✓ cosign verify OK (identity: {IDENTITY}, issuer: {ISSUER}) over bom.json sha256:");
    assert!(said.contains(&line), "{said}");
    assert!(said.contains("✓ SLSA provenance present"), "{said}");
    assert!(said.contains(&format!("demo-0.1.0.tar.zst.cosign.bundle, keyless: identity {IDENTITY}")), "{said}");

    let regexp = ["--certificate-identity-regexp", "https://github.com/acme/release/.*"];
    let json =
        genesis_verify(dir, &[&regexp[..], &["--certificate-oidc-issuer", ISSUER, "--trusted-root", ROOT]].concat());
    assert_eq!(json.status.code(), Some(0), "{}", text(&json.stderr));

    std::fs::write(
        dir.join("trust.yaml"),
        format!("bundleIdentities: [{{subject: '{IDENTITY}', issuer: '{ISSUER}'}}]\ntrustedRoot: {ROOT}\n"),
    )
    .unwrap();
    let json = genesis_verify(dir, &["--policy", "trust.yaml", "--output", "json"]);
    assert_eq!(json.status.code(), Some(0), "{}", text(&json.stderr));
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    let signer = serde_json::json!({"kind": "identity", "subject": IDENTITY, "issuer": ISSUER});
    assert_eq!(v["report"]["signer"], signer, "{v}");
    assert_eq!(v["report"]["provenance"]["buildType"], "https://genesis.dev/bundle-builder/build/v1", "{v}");

    // A policy's `identities` judge images: admitting the signer there trusts it with no
    // bundle, whether the policy names no bundle signer or another one.
    let images = format!("identities: [{{subject: '{IDENTITY}', issuer: '{ISSUER}'}}]\ntrustedRoot: {ROOT}\n");
    std::fs::write(dir.join("images.yaml"), &images).unwrap();
    let out = genesis_verify(dir, &["--policy", "images.yaml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("its identities judge images only"), "{}", text(&out.stderr));
    let mallory = "bundleIdentities: [{subject: 'https://github.com/mallory/release', issuer: 'https://idp'}]\n";
    std::fs::write(dir.join("images.yaml"), images + mallory).unwrap();
    refused(dir, &["--policy", "images.yaml"], "no trusted identity verifies it");

    // Extracted, the tree keeps the sigstore bundles and verifies on its own.
    let extract = ["extract", ARCHIVE, "--output-dir", "tree", "--quiet"];
    let out = run(&binary("bundle-loader"), &[&extract[..], &identity_flags(IDENTITY, ISSUER)].concat(), dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(dir.join("tree/provenance/bundle.sigstore.json").is_file());
    let out =
        run(&binary("genesis"), &[&["verify", "--dir", "tree"][..], &identity_flags(IDENTITY, ISSUER)].concat(), dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // A keyless `.cosign.bundle` by another identity, or over another archive, is refused.
    let sidecar = format!("{}.cosign.bundle", archive.display());
    for bundle in [
        sigstore.sign_blob(&bytes, "https://github.com/mallory/release", ISSUER),
        sigstore.sign_blob(b"another archive", IDENTITY, ISSUER),
    ] {
        std::fs::write(&sidecar, bundle).unwrap();
        refused(dir, &identity_flags(IDENTITY, ISSUER), "demo-0.1.0.tar.zst.cosign.bundle: no trusted identity");
    }
}

/// Refused with exit 1 and `said` on stderr, by `genesis verify` and by `bundle-loader
/// extract`, which then writes nothing.
fn refused(dir: &Path, flags: &[&str], said: &str) {
    let out = genesis_verify(dir, flags);
    assert_eq!(out.status.code(), Some(1), "{flags:?}: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains(said), "{flags:?}: {said:?} in {}", text(&out.stderr));
    let extract = ["extract", ARCHIVE, "--output-dir", "refused", "--quiet"];
    let out = run(&binary("bundle-loader"), &[&extract[..], flags].concat(), dir);
    assert_eq!(out.status.code(), Some(1), "{flags:?}: {}", text(&out.stderr));
    assert!(text(&out.stderr).contains(said), "{flags:?}: {said:?} in {}", text(&out.stderr));
    assert!(!dir.join("refused").exists(), "{flags:?}: nothing extracted");
}

#[test]
fn a_keyless_bundle_is_refused_for_another_identity_issuer_or_root_and_without_a_log_entry() {
    let (tmp, mut sigstore) = keyless_bundle();
    let dir = tmp.path();
    refused(dir, &identity_flags("https://github.com/mallory/release", ISSUER), "no trusted identity verifies it");
    refused(dir, &identity_flags(IDENTITY, "https://accounts.example"), "no trusted identity verifies it");
    // A pattern is held to the whole SAN: one for another repository admits nothing here.
    let pattern =
        ["--certificate-identity-regexp", "https://github.com/mallory/.*", "--certificate-oidc-issuer", ISSUER];
    refused(
        dir,
        &[&pattern[..], &["--trusted-root", ROOT]].concat(),
        "does not match /^(?:https://github.com/mallory/.*)$/",
    );
    let other = dir.join("other");
    std::fs::create_dir_all(&other).unwrap();
    LoopbackSigstore::new(&other);
    let another_root = ["--certificate-identity", IDENTITY, "--certificate-oidc-issuer", ISSUER];
    refused(dir, &[&another_root[..], &["--trusted-root", "other/trusted_root.json"]].concat(), "no trusted identity");
    // A key alone does not admit a keyless signature.
    let key = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/keys/test.pub");
    refused(dir, &["--key", key.to_str().unwrap()], "signed keyless");

    // Without the pinned root: cosign's flags need it, and a policy naming identities too.
    let out = genesis_verify(dir, &["--certificate-identity", IDENTITY, "--certificate-oidc-issuer", ISSUER]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--trusted-root"), "{}", text(&out.stderr));
    let rootless = format!("bundleIdentities: [{{subject: '{IDENTITY}', issuer: '{ISSUER}'}}]\n");
    std::fs::write(dir.join("rootless.yaml"), rootless).unwrap();
    let out = genesis_verify(dir, &["--policy", "rootless.yaml"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("bundleIdentities need trustedRoot"), "{}", text(&out.stderr));
    // The root or the issuer without an identity is refused as the command line is read, not
    // ignored beside the key.
    for keyless in [&["--trusted-root", ROOT][..], &["--certificate-oidc-issuer", ISSUER]] {
        let out = genesis_verify(dir, &[&["--key", key.to_str().unwrap()][..], keyless].concat());
        assert_eq!(out.status.code(), Some(2), "{keyless:?}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains("--certificate-identity"), "{keyless:?}: {}", text(&out.stderr));
    }

    // A keyless signature without a log entry: `create` refuses it, writing nothing, and a
    // tree whose signature is swapped for one is refused, as an archive's would be.
    let bom = std::fs::read(dir.join("work/bom.json")).unwrap();
    let unlogged = sigstore.sign_blob_with(&bom, IDENTITY, ISSUER, Fault::NoLogEntry);
    std::fs::write(dir.join("work/unlogged.sigstore.json"), &unlogged).unwrap();
    std::fs::remove_dir_all(dir.join("out")).unwrap();
    let out = create(dir, "work/unlogged.sigstore.json", IDENTITY);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("without a transparency-log entry or a timestamp"), "{}", text(&out.stderr));
    assert!(!dir.join("out").exists(), "nothing written");
    // The provenance's attestation names the BOM: given as the BOM's signature, it is refused.
    let out = create(dir, "work/provenance.sigstore.json", IDENTITY);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("an attestation (a DSSE envelope"), "{}", text(&out.stderr));
    assert!(!dir.join("out").exists(), "nothing written");

    let signed = create(dir, "work/bom.sigstore.json", IDENTITY);
    assert_eq!(signed.status.code(), Some(0), "{}", text(&signed.stderr));
    let extract = ["extract", ARCHIVE, "--output-dir", "tree", "--quiet"];
    let out = run(&binary("bundle-loader"), &[&extract[..], &identity_flags(IDENTITY, ISSUER)].concat(), dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    std::fs::write(dir.join("tree/bom.sigstore.json"), &unlogged).unwrap();
    let out =
        run(&binary("genesis"), &[&["verify", "--dir", "tree"][..], &identity_flags(IDENTITY, ISSUER)].concat(), dir);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("without a transparency-log entry or a timestamp"), "{}", text(&out.stderr));
}
