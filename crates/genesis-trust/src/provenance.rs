//! SLSA provenance: an in-toto Statement v1 with a SLSA v1 predicate, in a DSSE envelope
//! signed by the bundle key, or, in a bundle its release pipeline signed keyless, in the DSSE
//! sigstore bundle `cosign attest-blob` made, signed by the same identity as the BOM. Its one
//! subject is `bom.json` by SHA-256, so it binds to exactly one BOM: moved into another bundle
//! (mix-and-match), its subject no longer matches.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use genesis_types::Digest;

use crate::sigstore::{Artifact, SignedContent, SigstoreBundle, pae, verify_dsse};
use crate::{AcceptedSigner, PrivateKey, PublicKey, Result, TrustError, TrustPolicy};

/// DSSE payload type of in-toto statements.
pub const IN_TOTO_PAYLOAD_TYPE: &str = "application/vnd.in-toto+json";
/// in-toto Statement v1.
pub const STATEMENT_V1: &str = "https://in-toto.io/Statement/v1";
/// SLSA provenance v1 predicate type.
pub const SLSA_PROVENANCE_V1: &str = "https://slsa.dev/provenance/v1";

/// A DSSE envelope of `payload`, signed over its PAE with `key` (deterministic: RFC 6979).
/// `keyid` is the key's hint, as sigstore's keyed DSSE bundles carry it.
pub fn sign_envelope(key: &PrivateKey, payload_type: &str, payload: &[u8]) -> Vec<u8> {
    envelope(payload_type, payload, &key.sign(&pae(payload_type, payload)), &key.public_key().hint())
}

/// The DSSE envelope of `payload` carrying `signature`, ASN.1 DER over
/// [`pae`]`(payload_type, payload)` by the key whose hint is `keyid`: [`sign_envelope`] with a
/// key at hand, or a release pipeline that signed the PAE with its own tool. One encoding for
/// both, so the same signature gives the same envelope bytes.
pub fn envelope(payload_type: &str, payload: &[u8], signature: &[u8], keyid: &str) -> Vec<u8> {
    let envelope = serde_json::json!({
        "payloadType": payload_type,
        "payload": STANDARD.encode(payload),
        "signatures": [ { "keyid": keyid, "sig": STANDARD.encode(signature) } ],
    });
    let mut out = serde_json::to_vec_pretty(&envelope).expect("an envelope is JSON");
    out.push(b'\n');
    out
}

/// What a verified provenance says, for the report.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvenanceSummary {
    /// `runDetails.builder.id`.
    pub builder_id: String,
    /// `buildDefinition.buildType`.
    pub build_type: String,
    /// The SHA-256 of the spec file the build ran from, when recorded.
    pub spec_sha256: Option<String>,
    /// How many resolved dependencies (source images, charts) it names.
    pub dependencies: usize,
    /// The resolved dependencies themselves, in the statement's order: what the build took in.
    pub materials: Vec<Material>,
}

/// One resolved dependency of a build (`resolvedDependencies`), as the report lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Material {
    /// Its name (an image's or a chart's short name from the spec).
    pub name: String,
    /// Where the builder took it from, as the spec wrote it.
    pub uri: String,
    /// Its SHA-256 as `sha256:HEX`, when recorded.
    pub sha256: Option<String>,
}

fn refused(reason: impl Into<String>) -> TrustError {
    TrustError::ProvenanceRefused { reason: reason.into() }
}

/// Verifies the provenance envelope of a bundle whose BOM hashes to `bom_digest` and was
/// signed by `key`: same key, in-toto Statement v1, SLSA v1 predicate, subject = the BOM.
pub fn verify_provenance(envelope: &[u8], bom_digest: &Digest, key: &PublicKey) -> Result<ProvenanceSummary> {
    let envelope: serde_json::Value =
        serde_json::from_slice(envelope).map_err(|e| refused(format!("not a DSSE envelope ({e})")))?;
    let payload_type = verify_dsse(&envelope, key, None).map_err(|e| match e {
        TrustError::BomSignatureInvalid { tried } => {
            refused(format!("its signature does not verify with the bundle key {tried}"))
        }
        other => refused(other.to_string()),
    })?;
    let payload = envelope["payload"].as_str().and_then(|p| STANDARD.decode(p).ok()).unwrap_or_default();
    summarize(&payload_type, &payload, bom_digest)
}

/// Verifies the provenance of a bundle whose BOM hashes to `bom_digest` and was signed by
/// `signer`, carried as a DSSE sigstore bundle (`provenance/bundle.sigstore.json`, an
/// attestation: a bundle of a message signature is refused): signed by one of `policy`'s
/// signers as the BOM's sigstore bundle is judged, and by `signer` itself,
/// its statement naming the BOM (which the sigstore verification checks too); then what
/// [`verify_provenance`] checks of the statement.
pub fn verify_provenance_bundle(
    bundle: &SigstoreBundle,
    bom_digest: &Digest,
    policy: &TrustPolicy,
    signer: &AcceptedSigner,
) -> Result<ProvenanceSummary> {
    let digest: [u8; 32] = hex::decode(bom_digest.hex())
        .ok()
        .and_then(|d| d.try_into().ok())
        .ok_or_else(|| refused(format!("the BOM digest {bom_digest} is not a SHA-256")))?;
    let accepted = policy
        .sigstore_signer(
            bundle,
            Artifact::Sha256(&digest),
            SignedContent::Attestation,
            genesis_bundle::SIGSTORE_PROVENANCE_PATH,
        )
        .map_err(|e| refused(e.to_string()))?;
    if accepted != *signer {
        return Err(refused(format!("signed by {accepted}, not by the BOM's signer ({signer})")));
    }
    // `sigstore_signer` took an attestation only: the envelope is there.
    let payload_type = bundle.dsse_envelope().and_then(|e| e["payloadType"].as_str()).unwrap_or_default();
    summarize(payload_type, &bundle.dsse_payload().unwrap_or_default(), bom_digest)
}

/// What a provenance whose signature verified says, once its statement holds: an in-toto
/// Statement v1 with a SLSA v1 predicate whose subject is the BOM.
fn summarize(payload_type: &str, payload: &[u8], bom_digest: &Digest) -> Result<ProvenanceSummary> {
    if payload_type != IN_TOTO_PAYLOAD_TYPE {
        return Err(refused(format!("payload type {payload_type:?}, expected {IN_TOTO_PAYLOAD_TYPE}")));
    }
    let statement: serde_json::Value =
        serde_json::from_slice(payload).map_err(|e| refused(format!("the statement is not JSON ({e})")))?;
    if statement["_type"] != STATEMENT_V1 || statement["predicateType"] != SLSA_PROVENANCE_V1 {
        return Err(refused(format!(
            "expected an in-toto Statement v1 with a SLSA v1 predicate, found {} / {}",
            statement["_type"], statement["predicateType"]
        )));
    }
    let subjects: Vec<&str> = statement["subject"]
        .as_array()
        .map(|s| s.iter().filter_map(|s| s["digest"]["sha256"].as_str()).collect())
        .unwrap_or_default();
    if !subjects.contains(&bom_digest.hex()) {
        return Err(refused(format!(
            "its subject {subjects:?} is not this bundle's BOM ({bom_digest}): the provenance belongs to another bundle"
        )));
    }
    let predicate = &statement["predicate"];
    let text = |v: &serde_json::Value| v.as_str().unwrap_or_default().to_owned();
    let sha256 = |v: &serde_json::Value| v["digest"]["sha256"].as_str().map(|h| format!("sha256:{h}"));
    let materials: Vec<Material> = predicate["buildDefinition"]["resolvedDependencies"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|d| Material { name: text(&d["name"]), uri: text(&d["uri"]), sha256: sha256(d) })
        .collect();
    Ok(ProvenanceSummary {
        builder_id: text(&predicate["runDetails"]["builder"]["id"]),
        build_type: text(&predicate["buildDefinition"]["buildType"]),
        spec_sha256: sha256(&predicate["buildDefinition"]["externalParameters"]["spec"]),
        dependencies: materials.len(),
        materials,
    })
}

/// The statement a head's provenance carries, unverified: the payload of its DSSE envelope,
/// bare as a key signs it or inside a sigstore bundle as a pipeline's tooling writes it. For
/// a caller that verified the bundle it came from and signs the same statement anew
/// (re-signing, decision 0036).
pub fn statement(provenance: &[u8]) -> Result<Vec<u8>> {
    let doc: serde_json::Value =
        serde_json::from_slice(provenance).map_err(|e| refused(format!("not a DSSE envelope ({e})")))?;
    let envelope = doc.get("dsseEnvelope").unwrap_or(&doc);
    if envelope["payloadType"] != IN_TOTO_PAYLOAD_TYPE {
        return Err(refused(format!("payload type {}, expected {IN_TOTO_PAYLOAD_TYPE}", envelope["payloadType"])));
    }
    envelope["payload"]
        .as_str()
        .and_then(|p| STANDARD.decode(p).ok())
        .ok_or_else(|| refused("its payload is not base64"))
}
