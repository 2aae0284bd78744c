//! Our verifier agrees with real cosign output: it accepts `cosign sign-blob --key`
//! signatures and refuses the negatives beside them (fixtures/interop/README.md).

// Test helpers are not a public API, and a panic is how a test reports failure.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod attestations;
mod blob;
mod fixtures;
mod fuzz;
mod interop;

use std::path::{Path, PathBuf};

use genesis_trust::{PublicKey, TrustPolicy, UnverifiedBundle, VerifiedBundle, decode_signature};

/// The committed fixtures (fixtures/README.md).
fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// `fixtures/bundles/CASE/demo-0.1.0.tar.zst`.
fn fixture_bundle(case: &str) -> PathBuf {
    fixtures_dir().join("bundles").join(case).join("demo-0.1.0.tar.zst")
}

/// A policy trusting `fixtures/keys/test.pub`, the key every fixture bundle is signed with.
fn test_policy() -> TrustPolicy {
    let key = PublicKey::from_pem_file(&fixtures_dir().join("keys/test.pub")).unwrap();
    TrustPolicy::from_keys(vec![key]).unwrap()
}

/// A fixture case opened and verified with [`test_policy`] and the default limits, as an
/// embedder does (examples/verify.rs).
fn verified(case: &str) -> genesis_trust::Result<VerifiedBundle> {
    UnverifiedBundle::open(&fixture_bundle(case), &Default::default())?.verify(&test_policy())
}

fn vector(name: &str) -> PathBuf {
    fixtures_dir().join("interop/cosign-key").join(name)
}

/// Whether `sig` over `artifact` verifies with `key`, or why it was refused.
fn check(artifact: &str, sig: &str, key: &str) -> Result<bool, String> {
    let key = PublicKey::from_pem_file(&vector(key)).map_err(|e| e.to_string())?;
    let der = decode_signature(&std::fs::read(vector(sig)).unwrap(), sig).map_err(|e| e.to_string())?;
    let policy = TrustPolicy::from_keys(vec![key]).unwrap();
    Ok(policy.key_for(&std::fs::read(vector(artifact)).unwrap(), &der).is_some())
}

#[test]
fn accepts_real_cosign_signatures() {
    assert_eq!(check("artifact.txt", "artifact.txt.sig", "cosign.pub"), Ok(true));
    assert_eq!(check("artifact.txt", "artifact.txt.stdout.sig", "cosign.pub"), Ok(true));
}

#[test]
fn refuses_the_negatives() {
    assert_eq!(check("../negative/cosign-key/artifact-tampered.txt", "artifact.txt.sig", "cosign.pub"), Ok(false));
    assert_eq!(check("artifact.txt", "artifact.txt.sig", "../negative/cosign-key/wrong-key.pub"), Ok(false));
    let p1363 = check("artifact.txt", "../negative/cosign-key/artifact.txt.p1363.sig", "cosign.pub").unwrap_err();
    assert!(p1363.contains("not an ASN.1 DER ECDSA signature"), "{p1363}");
}

#[test]
fn fingerprint_matches_the_sigstore_hint_of_the_same_key() {
    // shared/interop's keyed v0.3 bundle carries publicKey.hint = base64(SHA-256(SPKI DER))
    // for cosign.pub; our fingerprint is the same digest, unpadded, after "SHA256:".
    let fp = PublicKey::from_pem_file(&vector("cosign.pub")).unwrap().fingerprint().to_string();
    let der = {
        let pem = std::fs::read_to_string(vector("cosign.pub")).unwrap();
        let b64: String = pem.lines().filter(|l| !l.starts_with("-----")).collect();
        let out = std::process::Command::new("sh")
            .arg("-c")
            .arg(format!("printf %s '{b64}' | base64 -d | openssl dgst -sha256 -binary | base64 | tr -d '=\\n'"))
            .output()
            .unwrap();
        String::from_utf8(out.stdout).unwrap()
    };
    assert_eq!(fp, format!("SHA256:{der}"));
}

fn unlock(name: &str, password: &str) -> Result<genesis_trust::PrivateKey, String> {
    let password = password.as_bytes().to_vec();
    genesis_trust::PrivateKey::from_pem_file_with_password(&vector(name), &move || Ok(password.clone()))
        .map_err(|e| e.to_string())
}

#[test]
fn reads_cosign_encrypted_keys_of_every_label_and_cost() {
    for (key, password, public) in [
        ("cosign.key", "hello", "cosign.pub"),
        ("cosign-empty-password.key", "", "cosign-empty-password.pub"),
        ("cosign-legacy-label.key", "123", "cosign-legacy-label.pub"),
    ] {
        let k = unlock(key, password).unwrap_or_else(|e| panic!("{key}: {e}"));
        assert_eq!(k.public_key(), PublicKey::from_pem_file(&vector(public)).unwrap(), "{key}");
    }
    // The decrypted cosign key signs what cosign.pub verifies.
    let k = unlock("cosign.key", "hello").unwrap();
    let sig = k.sign(b"bundle bom");
    assert!(PublicKey::from_pem_file(&vector("cosign.pub")).unwrap().verifies(b"bundle bom", &sig));
}

#[test]
fn refuses_wrong_passwords_bad_parameters_and_sec1_keys() {
    let wrong = unlock("cosign.key", "nope").unwrap_err();
    assert!(wrong.contains("wrong password"), "{wrong}");
    let bad_n = unlock("../negative/cosign-key/cosign-bad-scrypt-n16384.key", "hello").unwrap_err();
    assert!(bad_n.contains("unsupported scrypt parameters N=16384"), "{bad_n}");
    let sec1 = unlock("../negative/cosign-key/cosign-ec-sec1-not-pkcs8.key", "hello").unwrap_err();
    assert!(sec1.contains("not a PKCS#8"), "{sec1}");
    let no_password = genesis_trust::PrivateKey::from_pem_file(&vector("cosign.key")).unwrap_err().to_string();
    assert!(no_password.contains("needs a password"), "{no_password}");
}

#[test]
fn writes_cosign_encrypted_keys_that_read_back() {
    let k = genesis_trust::PrivateKey::generate();
    let pem = k.to_encrypted_pem(b"pw");
    assert!(pem.starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----\n"));
    let der = genesis_trust::cosign_key::decrypt(&pem, b"pw").unwrap();
    let dir = tempfile::tempdir().unwrap();
    std::fs::write(dir.path().join("k"), &pem).unwrap();
    let again =
        genesis_trust::PrivateKey::from_pem_file_with_password(&dir.path().join("k"), &|| Ok(b"pw".to_vec())).unwrap();
    assert_eq!(again.public_key(), k.public_key());
    assert!(!der.is_empty());
    assert!(genesis_trust::cosign_key::decrypt(&pem, b"other").is_err());
}
