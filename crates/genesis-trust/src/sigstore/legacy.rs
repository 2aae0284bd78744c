//! cosign's legacy bundle (`cosign sign-blob --bundle` up to cosign 2.x):
//! `{base64Signature, cert, rekorBundle: {SignedEntryTimestamp, Payload}}`. It carries the same
//! evidence as a v0.1 sigstore bundle with an inclusion promise and no inclusion proof, so it
//! is mapped field by field onto one and verified by the one sigstore path — no second
//! verifier to keep right.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde_json::{Value, json};

use super::invalid;
use crate::Result;

/// Whether `doc` has the legacy shape.
pub(super) fn is_legacy(doc: &Value) -> bool {
    doc.get("rekorBundle").is_some() && doc.get("base64Signature").is_some()
}

/// The v0.1 sigstore bundle carrying the same signature, certificate (or key) and log entry.
pub(super) fn to_v01_bundle(doc: &Value) -> Result<Value> {
    let rekor = &doc["rekorBundle"];
    let payload = &rekor["Payload"];
    let body_b64 =
        payload["body"].as_str().ok_or_else(|| invalid("legacy bundle: rekorBundle.Payload.body missing"))?;
    let body: Value = STANDARD
        .decode(body_b64)
        .ok()
        .and_then(|b| serde_json::from_slice(&b).ok())
        .ok_or_else(|| invalid("legacy bundle: the log entry body is not base64 JSON"))?;
    let kind = body["kind"].as_str().ok_or_else(|| invalid("legacy bundle: the log entry has no kind"))?;
    let version =
        body["apiVersion"].as_str().ok_or_else(|| invalid("legacy bundle: the log entry has no apiVersion"))?;
    let log_id = payload["logID"]
        .as_str()
        .and_then(|h| hex::decode(h).ok())
        .ok_or_else(|| invalid("legacy bundle: logID is not hex"))?;
    let number = |name: &str| {
        payload[name].as_u64().map(|n| n.to_string()).ok_or_else(|| invalid(format!("legacy bundle: {name} missing")))
    };
    let cert_pem = doc["cert"]
        .as_str()
        .and_then(|c| STANDARD.decode(c).ok())
        .and_then(|c| String::from_utf8(c).ok())
        .ok_or_else(|| invalid("legacy bundle: cert is not base64 PEM"))?;
    let mut material = match pem_der(&cert_pem, "CERTIFICATE") {
        Some(der) => json!({ "x509CertificateChain": { "certificates": [ { "rawBytes": STANDARD.encode(der) } ] } }),
        None if pem_der(&cert_pem, "PUBLIC KEY").is_some() => json!({ "publicKey": { "hint": "" } }),
        None => return Err(invalid("legacy bundle: cert is neither a certificate nor a public key")),
    };
    let mut message = json!({ "signature": doc["base64Signature"] });
    if let Some(hash) = body["spec"]["data"]["hash"]["value"].as_str().and_then(|h| hex::decode(h).ok())
        && body["spec"]["data"]["hash"]["algorithm"] == "sha256"
    {
        message["messageDigest"] = json!({ "algorithm": "SHA2_256", "digest": STANDARD.encode(hash) });
    }
    material["tlogEntries"] = json!([{
        "logIndex": number("logIndex")?,
        "logId": { "keyId": STANDARD.encode(log_id) },
        "kindVersion": { "kind": kind, "version": version },
        "integratedTime": number("integratedTime")?,
        "inclusionPromise": { "signedEntryTimestamp": rekor["SignedEntryTimestamp"] },
        "canonicalizedBody": body_b64,
    }]);
    Ok(json!({
        "mediaType": "application/vnd.dev.sigstore.bundle+json;version=0.1",
        "verificationMaterial": material,
        "messageSignature": message,
    }))
}

/// The DER inside the first PEM block labelled `label`.
fn pem_der(pem: &str, label: &str) -> Option<Vec<u8>> {
    let begin = format!("-----BEGIN {label}-----");
    let end = format!("-----END {label}-----");
    let start = pem.find(&begin)? + begin.len();
    let stop = start + pem[start..].find(&end)?;
    let body: String = pem[start..stop].chars().filter(|c| !c.is_whitespace()).collect();
    STANDARD.decode(body).ok()
}
