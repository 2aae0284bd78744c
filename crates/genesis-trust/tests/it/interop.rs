//! Every case of fixtures/interop/cases.json (real cosign, sigstore and DSSE vectors with
//! the verdicts sigstore-python and sigstore-js give) through our verifier, which must give
//! exactly the expected verdict: keyless and key-based bundles with log entries, Rekor v2 with
//! RFC 3161 timestamps, cosign's legacy bundle, the air-gap key-only shape, cosign signatures
//! and keys, DSSE envelopes, and every negative.

use std::path::{Path, PathBuf};

use genesis_trust::sigstore::{
    Artifact, CertificateIdentity, LogPolicy, Signer, SigstoreBundle, SubjectMatcher, TrustedRoot, verify_bundle,
    verify_dsse,
};
use genesis_trust::{PrivateKey, PublicKey, decode_signature};

fn root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/interop")
}

fn read(case: &serde_json::Value, field: &str) -> Vec<u8> {
    std::fs::read(root().join(case[field].as_str().unwrap())).unwrap()
}

fn key(case: &serde_json::Value) -> Option<PublicKey> {
    case["key"].as_str().map(|k| PublicKey::from_pem_file(&root().join(k)).unwrap())
}

/// Our verdict on one case: `Ok(())` for pass, `Err(reason)` for fail.
fn verdict(case: &serde_json::Value) -> Result<(), String> {
    let e = |e: genesis_trust::TrustError| e.to_string();
    match case["kind"].as_str().unwrap() {
        "cosign-blob-signature" => {
            let der = decode_signature(&read(case, "signature"), "signature").map_err(e)?;
            if key(case).unwrap().verifies(&read(case, "artifact"), &der) {
                Ok(())
            } else {
                Err("signature does not verify".into())
            }
        }
        "cosign-encrypted-key" => {
            let password = case["password"].as_str().unwrap().as_bytes().to_vec();
            let k = PrivateKey::from_pem_file_with_password(&root().join(case["key"].as_str().unwrap()), &move || {
                Ok(password.clone())
            })
            .map_err(e)?;
            let expected =
                PublicKey::from_pem_file(&root().join(case["expected_public_key"].as_str().unwrap())).unwrap();
            if k.public_key() == expected { Ok(()) } else { Err("decrypted to another key".into()) }
        }
        "dsse-envelope" => {
            let env: serde_json::Value = serde_json::from_slice(&read(case, "envelope")).unwrap();
            let payload_type =
                verify_dsse(&env, &key(case).unwrap(), Some(Artifact::Bytes(&read(case, "artifact")))).map_err(e)?;
            if payload_type == case["expected_payload_type"].as_str().unwrap() {
                Ok(())
            } else {
                Err(format!("payload type {payload_type}"))
            }
        }
        "sigstore-bundle" | "legacy-cosign-bundle" => {
            let bundle: serde_json::Value = serde_json::from_slice(&read(case, "bundle")).unwrap();
            let root = TrustedRoot::from_file(&root().join(case["trusted_root"].as_str().unwrap())).unwrap();
            let artifact_bytes = case["artifact"].as_str().map(|_| read(case, "artifact"));
            let sha512: Option<[u8; 64]> = case["artifact_digest"]["sha512"].as_str().map(|h| {
                (0..64)
                    .map(|i| u8::from_str_radix(&h[2 * i..2 * i + 2], 16).unwrap())
                    .collect::<Vec<_>>()
                    .try_into()
                    .unwrap()
            });
            let artifact = match (&artifact_bytes, &sha512) {
                (Some(bytes), _) => Artifact::Bytes(bytes),
                (None, Some(digest)) => Artifact::Sha512(digest),
                (None, None) => panic!("{}: no artifact", case["id"]),
            };
            let identity = case["identity"].is_object().then(|| CertificateIdentity {
                subject: SubjectMatcher::Exact(case["identity"]["san"].as_str().unwrap().to_owned()),
                issuer: case["identity"]["issuer"].as_str().unwrap().to_owned(),
            });
            let key = key(case);
            let signer = match (&key, &identity) {
                (Some(k), _) => Signer::Key(k),
                (None, Some(i)) => Signer::Identity(i),
                (None, None) => panic!("{}: neither key nor identity", case["id"]),
            };
            let log = if case["policy"] == "key-only-no-tlog" { LogPolicy::IgnoreUnsafe } else { LogPolicy::Require };
            SigstoreBundle::from_json(bundle)
                .and_then(|bundle| verify_bundle(&bundle, artifact, signer, Some(&root), log))
                .map(drop)
                .map_err(e)
        }
        other => panic!("unknown case kind {other}"),
    }
}

#[test]
fn every_case_gets_the_expected_verdict() {
    let cases: serde_json::Value = serde_json::from_slice(&std::fs::read(root().join("cases.json")).unwrap()).unwrap();
    let cases = cases["cases"].as_array().unwrap();
    let wrong: Vec<String> = cases
        .iter()
        .filter_map(|case| {
            let got = verdict(case);
            (got.is_ok() != (case["expect"] == "pass"))
                .then(|| format!("{}: expected {}, got {got:?}", case["id"], case["expect"]))
        })
        .collect();
    assert!(wrong.is_empty(), "{} of {} cases wrong:\n{}", wrong.len(), cases.len(), wrong.join("\n"));
    assert!(cases.len() >= 52, "the table shrank to {}", cases.len());
}

#[test]
fn pae_matches_the_vectors() {
    use base64::Engine as _;
    let b64 = |v: &serde_json::Value| base64::engine::general_purpose::STANDARD.decode(v.as_str().unwrap()).unwrap();
    let file: serde_json::Value =
        serde_json::from_slice(&std::fs::read(root().join("dsse/pae-vectors.json")).unwrap()).unwrap();
    for v in file["vectors"].as_array().unwrap() {
        let payload = if v["payload_utf8"].is_string() {
            v["payload_utf8"].as_str().unwrap().as_bytes().to_vec()
        } else {
            b64(&v["payload_b64"])
        };
        let pae = genesis_trust::sigstore::pae(v["payloadType"].as_str().unwrap(), &payload);
        match v["pae_utf8"].as_str() {
            Some(expected) => assert_eq!(pae, expected.as_bytes()),
            None => {
                assert_eq!(pae.len() as u64, v["pae_len"].as_u64().unwrap());
                assert_eq!(genesis_trust::sigstore::sha256_hex(&pae), v["pae_sha256_hex"].as_str().unwrap());
            }
        }
    }
}
