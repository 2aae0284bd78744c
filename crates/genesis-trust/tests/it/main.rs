//! Our verifier agrees with real cosign output: it accepts `cosign sign-blob --key`
//! signatures and refuses the negatives beside them (fixtures/interop/README.md).

// Test helpers are not a public API, and a panic is how a test reports failure.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use genesis_trust::{PublicKey, TrustPolicy, decode_signature};

fn vector(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/interop/cosign-key").join(name)
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
    assert_eq!(check("artifact-tampered.txt", "artifact.txt.sig", "cosign.pub"), Ok(false));
    assert_eq!(check("artifact.txt", "artifact.txt.sig", "wrong-key.pub"), Ok(false));
    let p1363 = check("artifact.txt", "artifact.txt.p1363.sig", "cosign.pub").unwrap_err();
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
