//! Our verifier agrees with real cosign output: it accepts `cosign sign-blob --key`
//! signatures and refuses the negatives beside them (fixtures/interop/README.md).

// Test helpers are not a public API, and a panic is how a test reports failure.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod attestations;
mod blob;
mod fixtures;
mod fuzz;
mod interop;
mod keyless;
mod tree;

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

/// The JSON of go-securesystemslib's `encrypted` format around `der`, built here from the
/// primitives (scrypt with the given N, r, p, then a NaCl secretbox) rather than by the module
/// under test, as cosign's `EncryptWithCustomKDFParameters` builds it.
fn cosign_envelope(der: &[u8], password: &[u8], (n, r, p): (u64, u32, u32)) -> serde_json::Value {
    use base64::Engine as _;
    use crypto_secretbox::aead::{Aead, KeyInit};
    let b64 = base64::engine::general_purpose::STANDARD;
    let (salt, nonce) = ([7u8; 32], [9u8; 24]);
    let mut key = [0u8; 32];
    let params = scrypt::Params::new(n.trailing_zeros() as u8, r, p, 32).unwrap();
    scrypt::scrypt(password, &salt, &params, &mut key).unwrap();
    let ciphertext = crypto_secretbox::XSalsa20Poly1305::new(&key.into())
        .encrypt(crypto_secretbox::Nonce::from_slice(&nonce), der)
        .unwrap();
    serde_json::json!({
        "kdf": {"name": "scrypt", "params": {"N": n, "r": r, "p": p}, "salt": b64.encode(salt)},
        "cipher": {"name": "nacl/secretbox", "nonce": b64.encode(nonce)},
        "ciphertext": b64.encode(ciphertext),
    })
}

fn cosign_pem(envelope: &serde_json::Value) -> String {
    use base64::Engine as _;
    let label = genesis_trust::cosign_key::LABELS[0];
    let body = base64::engine::general_purpose::STANDARD.encode(envelope.to_string());
    format!("-----BEGIN {label}-----\n{body}\n-----END {label}-----\n")
}

/// cosign reads three scrypt cost sets (go-securesystemslib encrypted.go: `legacyParams`,
/// `standardParams`, `owaspParams`); a key under any of them unlocks to the key it holds, and
/// any other set is refused with the error naming the parameters.
#[test]
fn reads_cosign_keys_under_every_scrypt_set_cosign_reads_and_no_other() {
    let der =
        genesis_trust::cosign_key::decrypt(&std::fs::read_to_string(vector("cosign.key")).unwrap(), b"hello").unwrap();
    let public = PublicKey::from_pem_file(&vector("cosign.pub")).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("k");
    let cosign_reads: [(u64, u32, u32); 3] = [(32768, 8, 1), (65536, 8, 1), (131072, 8, 1)];
    for set in cosign_reads {
        let pem = cosign_pem(&cosign_envelope(&der, b"pw", set));
        assert_eq!(genesis_trust::cosign_key::decrypt(&pem, b"pw").unwrap(), der, "{set:?}");
        std::fs::write(&path, &pem).unwrap();
        let k = genesis_trust::PrivateKey::from_pem_file_with_password(&path, &|| Ok(b"pw".to_vec()))
            .unwrap_or_else(|e| panic!("{set:?}: {e}"));
        assert_eq!(k.public_key(), public, "{set:?}");
    }
    // Sound ciphertext, other parameters claimed: refused by the parameters, not by the box.
    let standard = cosign_envelope(&der, b"pw", (65536, 8, 1));
    let others: [(u64, u32, u32); 6] =
        [(262144, 8, 1), (16384, 8, 1), (65536, 16, 1), (65536, 8, 2), (131072, 1, 1), (131071, 8, 1)];
    for (n, r, p) in others {
        let mut envelope = standard.clone();
        envelope["kdf"]["params"] = serde_json::json!({"N": n, "r": r, "p": p});
        let e = genesis_trust::cosign_key::decrypt(&cosign_pem(&envelope), b"pw").unwrap_err();
        assert!(e.contains(&format!("unsupported scrypt parameters N={n}, r={r}, p={p}")), "{e}");
    }
}

/// A policy held in memory (what a vendor embeds in a binary at build time) reads the files
/// it names from memory, by the path it writes, and never from disk, even where the path
/// leads to a file; they are named `<embedded>/…` in errors. Its anti-rollback state, a file
/// of the host, must be named by an absolute path.
#[test]
fn a_policy_in_memory_reads_its_files_from_memory_only() {
    let embedded: Vec<(&str, Vec<u8>)> = vec![
        ("vendor.pub", std::fs::read(fixtures_dir().join("keys/test.pub")).unwrap()),
        ("root.json", std::fs::read(fixtures_dir().join("interop/trust/trusted_root.public-good.json")).unwrap()),
    ];
    let files = |name: &Path| embedded.iter().find(|(n, _)| Path::new(n) == name).map(|(_, bytes)| bytes.clone());
    let origin = Path::new("<embedded>/trust.yaml");
    let load = |text: &str| genesis_trust::policy_file::load_from_str(text, origin, &files);
    let open = || UnverifiedBundle::open(&fixture_bundle("good"), &Default::default()).unwrap();

    assert!(open().verify(&load("keys: [vendor.pub]\nnames: ['dem*']\n").unwrap()).is_ok());
    let refused = open().verify(&load("keys: [vendor.pub]\nnames: ['other-*']\n").unwrap());
    assert!(matches!(refused, Err(genesis_trust::TrustError::PolicyViolation { .. })), "{:?}", refused.err());
    let identities = "identities: [{issuer: 'https://token.actions.githubusercontent.com', subject: 'a@b'}]";
    load(&format!("keys: [vendor.pub]\n{identities}\ntrustedRoot: root.json\n")).unwrap();

    // On disk from the test's directory, and absolute: neither is read.
    let on_disk = fixtures_dir().join("keys/other.pub");
    for name in ["../../fixtures/keys/other.pub", on_disk.to_str().unwrap()] {
        assert!(Path::new(env!("CARGO_MANIFEST_DIR")).join(name).is_file());
        let e = load(&format!("keys: [vendor.pub, '{name}']\n")).unwrap_err().to_string();
        assert!(e.contains("was not embedded with it"), "{e}");
    }
    let e = load("keys: [vendor.pub, missing.pub]\n").unwrap_err().to_string();
    assert!(e.contains("<embedded>/missing.pub"), "{e}");

    let e = load("keys: [vendor.pub]\nantiRollback: {state: installed.json}\n").unwrap_err().to_string();
    assert!(e.contains("an embedded policy names its state by an absolute path"), "{e}");
    let state = tempfile::tempdir().unwrap();
    let absolute = state.path().join("installed.json");
    load(&format!("keys: [vendor.pub]\nantiRollback: {{state: '{}'}}\n", absolute.display())).unwrap();
}
