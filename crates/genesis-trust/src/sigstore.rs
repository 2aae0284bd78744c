//! Sigstore bundles (v0.1, v0.2, v0.3) and DSSE envelopes verified with a public key, fully
//! offline. This covers the air-gap shape: a key-signed bundle with no transparency-log entry
//! and no timestamp, which — as with `cosign verify-blob --insecure-ignore-tlog` — verifies
//! only when the caller explicitly gives up the log. Verifying log entries, timestamps and
//! keyless (Fulcio) certificates is not implemented yet: such bundles are refused with a
//! message saying so, never accepted.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::{Digest as _, Sha256};

use crate::{PublicKey, Result, TrustError};

/// How much of the transparency machinery a verification requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogPolicy {
    /// At least one verified transparency-log entry and time source (sigstore's default).
    Require,
    /// Ignore log entries and timestamps: the signature alone decides. The air-gap key mode;
    /// what `--insecure-ignore-tlog` selects. No proof exists of *when* the signature was
    /// made, nor that it was published.
    IgnoreUnsafe,
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobVerdict {
    /// The key whose signature verified.
    pub key: String,
    /// `messageSignature` or `dsseEnvelope` (with its payload type).
    pub content: String,
    /// SHA-256 of the artifact.
    pub artifact_sha256: String,
}

fn invalid(what: impl Into<String>) -> TrustError {
    TrustError::BundleRefused { reason: what.into() }
}

fn b64(field: &serde_json::Value, name: &str) -> Result<Vec<u8>> {
    let text = field.as_str().ok_or_else(|| invalid(format!("{name} missing")))?;
    STANDARD.decode(text).map_err(|e| invalid(format!("{name} is not base64 ({e})")))
}

/// DSSE's pre-authentication encoding: `DSSEv1 <len type> <type> <len body> <body>`.
pub fn pae(payload_type: &str, payload: &[u8]) -> Vec<u8> {
    let mut out = format!("DSSEv1 {} {payload_type} {} ", payload_type.len(), payload.len()).into_bytes();
    out.extend_from_slice(payload);
    out
}

fn signature_der(sig: &[u8]) -> Result<Vec<u8>> {
    p256::ecdsa::Signature::from_der(sig).map_err(|_| invalid("signature is not ASN.1 DER ECDSA"))?;
    Ok(sig.to_vec())
}

/// Verifies a DSSE envelope (`{payloadType, payload, signatures}`) with `key`: the signature
/// must be over the PAE, and an in-toto statement's subjects must name the artifact's SHA-256
/// when an artifact is given. Returns the payload type.
pub fn verify_dsse(envelope: &serde_json::Value, key: &PublicKey, artifact: Option<&[u8]>) -> Result<String> {
    let payload_type = envelope["payloadType"].as_str().ok_or_else(|| invalid("payloadType missing"))?.to_owned();
    let payload = b64(&envelope["payload"], "payload")?;
    let message = pae(&payload_type, &payload);
    let signatures = envelope["signatures"].as_array().ok_or_else(|| invalid("signatures missing"))?;
    let verified = signatures
        .iter()
        .any(|s| b64(&s["sig"], "sig").and_then(|d| signature_der(&d)).is_ok_and(|der| key.verifies(&message, &der)));
    if !verified {
        return Err(TrustError::BomSignatureInvalid { tried: key.fingerprint().to_string() });
    }
    if let Some(artifact) = artifact {
        let want = hex_sha256(artifact);
        let statement: serde_json::Value =
            serde_json::from_slice(&payload).map_err(|e| invalid(format!("payload is not JSON ({e})")))?;
        let named = statement["subject"]
            .as_array()
            .is_some_and(|subjects| subjects.iter().any(|s| s["digest"]["sha256"].as_str() == Some(&want)));
        if !named {
            return Err(invalid(format!("no subject of the statement names the artifact (sha256 {want})")));
        }
    }
    Ok(payload_type)
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex_sha256(bytes)
}

fn hex_sha256(bytes: &[u8]) -> String {
    genesis_types::Digest::from_sha256_bytes(Sha256::digest(bytes).into()).hex().to_owned()
}

/// The key-signed sigstore bundle (v0.3) of an artifact whose SHA-256 is `digest`, as
/// `cosign sign-blob --key … --bundle … --tlog-upload=false` writes it: the signature and
/// digest, the key's hint, and no log entry (the air-gap shape).
pub fn key_bundle(key: &PublicKey, digest: &[u8; 32], signature_der: &[u8]) -> serde_json::Value {
    serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": { "publicKey": { "hint": key.hint() }, "timestampVerificationData": {} },
        "messageSignature": {
            "messageDigest": { "algorithm": "SHA2_256", "digest": STANDARD.encode(digest) },
            "signature": STANDARD.encode(signature_der),
        }
    })
}

/// Verifies a sigstore bundle over an artifact known by its SHA-256 (streamed elsewhere).
pub fn verify_bundle_digest(bundle: &serde_json::Value, digest: &[u8; 32], key: &PublicKey) -> Result<()> {
    let ms = &bundle["messageSignature"];
    if b64(&ms["messageDigest"]["digest"], "messageDigest")? != digest.as_slice() {
        return Err(invalid("messageDigest does not match the archive"));
    }
    let der = signature_der(&b64(&ms["signature"], "signature")?)?;
    if key.verifies_sha256_digest(digest, &der) {
        Ok(())
    } else {
        Err(TrustError::BomSignatureInvalid { tried: key.fingerprint().to_string() })
    }
}

/// Verifies a sigstore bundle over `artifact` with `key`.
pub fn verify_bundle(
    bundle: &serde_json::Value,
    artifact: &[u8],
    key: &PublicKey,
    log: LogPolicy,
) -> Result<BlobVerdict> {
    let media_type = bundle["mediaType"].as_str().unwrap_or_default();
    if !media_type.starts_with("application/vnd.dev.sigstore.bundle") {
        return Err(invalid(format!("unknown media type {media_type:?}")));
    }
    let material = &bundle["verificationMaterial"];
    let has_log = material["tlogEntries"].as_array().is_some_and(|a| !a.is_empty());
    let has_time = material["timestampVerificationData"]["rfc3161Timestamps"].as_array().is_some_and(|a| !a.is_empty());
    if material.get("certificate").is_some() || material.get("x509CertificateChain").is_some() {
        return Err(invalid("keyless (certificate) bundles cannot be verified by this version yet"));
    }
    if log == LogPolicy::Require {
        return Err(invalid(if has_log || has_time {
            "verifying transparency-log entries and timestamps is not implemented yet; for an air-gapped key-signed bundle pass --insecure-ignore-tlog"
        } else {
            "the bundle has no transparency-log entry and no timestamp; a key-signed air-gap bundle verifies only with --insecure-ignore-tlog"
        }));
    }
    let artifact_sha256 = hex_sha256(artifact);
    let content = if let Some(ms) = bundle.get("messageSignature") {
        if let Some(d) = ms.get("messageDigest")
            && (d["algorithm"].as_str() != Some("SHA2_256")
                || b64(&d["digest"], "messageDigest")? != Sha256::digest(artifact).as_slice())
        {
            return Err(invalid(format!("messageDigest does not match the artifact (sha256 {artifact_sha256})")));
        }
        let der = signature_der(&b64(&ms["signature"], "signature")?)?;
        if !key.verifies(artifact, &der) {
            return Err(TrustError::BomSignatureInvalid { tried: key.fingerprint().to_string() });
        }
        "messageSignature".to_owned()
    } else if let Some(env) = bundle.get("dsseEnvelope") {
        format!("dsseEnvelope ({})", verify_dsse(env, key, Some(artifact))?)
    } else {
        return Err(invalid("neither messageSignature nor dsseEnvelope"));
    };
    Ok(BlobVerdict { key: key.fingerprint().to_string(), content, artifact_sha256 })
}
