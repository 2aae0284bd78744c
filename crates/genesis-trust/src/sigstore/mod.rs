//! Sigstore bundles (v0.1, v0.2, v0.3, and cosign's legacy bundle) and DSSE envelopes,
//! verified fully offline. Two paths:
//! - with the transparency log (sigstore's default, and every keyless bundle):
//!   [`transparency`] checks certificates, log entries and timestamps against a pinned
//!   [`TrustedRoot`];
//! - the air-gap key mode: a key-signed bundle with no log entry and no timestamp, which —
//!   as with `cosign verify-blob --insecure-ignore-tlog` — verifies only when the caller
//!   explicitly gives up the log ([`LogPolicy::IgnoreUnsafe`]); checked here with the key.

mod legacy;
mod transparency;

pub use transparency::TrustedRoot;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use serde::Deserialize as _;
use sha2::{Digest as _, Sha256};

use crate::{AcceptedSigner, PublicKey, Result, TrustError};

/// How much of the transparency machinery a verification requires.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum LogPolicy {
    /// A verified transparency-log entry or a verified RFC 3161 timestamp, which also gives
    /// the time a certificate is judged at (sigstore's default).
    Require,
    /// Ignore log entries and timestamps: the signature alone decides. The air-gap key mode;
    /// what `--insecure-ignore-tlog` selects. No proof exists of *when* the signature was
    /// made, nor that it was published.
    IgnoreUnsafe,
}

/// What a sigstore bundle needs to verify that the caller did not give
/// ([`TrustError::BundleNeeds`]): the caller knows which of its options gives it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, thiserror::Error)]
#[non_exhaustive]
pub enum Needs {
    /// Signed with a certificate (keyless): verify it with a [`Signer::Identity`].
    #[error(
        "the bundle is signed with a certificate (keyless); verify it with a certificate identity and its OIDC issuer"
    )]
    Identity,
    /// Signed with a key, not a certificate: verify it with a [`Signer::Key`].
    #[error("the bundle is signed with a key, not a certificate; verify it with a key")]
    Key,
    /// Key-signed with no log entry and no timestamp: it verifies only with
    /// [`LogPolicy::IgnoreUnsafe`].
    #[error(
        "the bundle has no transparency-log entry and no timestamp; a key-signed air-gap bundle verifies only with the log ignored"
    )]
    LogIgnored,
    /// A log entry or a certificate is checked against the pinned [`TrustedRoot`], and none
    /// was given.
    #[error("verifying a log entry or a certificate needs the pinned sigstore root (trusted_root.json)")]
    Root,
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
/// must be over the PAE, and an in-toto statement's subjects must name the artifact when one
/// is given. Returns the payload type.
pub fn verify_dsse(envelope: &serde_json::Value, key: &PublicKey, artifact: Option<Artifact<'_>>) -> Result<String> {
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
        let statement: serde_json::Value =
            serde_json::from_slice(&payload).map_err(|e| invalid(format!("payload is not JSON ({e})")))?;
        let named = statement["subject"]
            .as_array()
            .is_some_and(|subjects| subjects.iter().any(|s| artifact.named_by(&s["digest"])));
        if !named {
            return Err(invalid(format!("no subject of the statement names the artifact ({})", artifact.describe())));
        }
    }
    Ok(payload_type)
}

/// Lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    genesis_bundle::sha256(bytes).hex().to_owned()
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

/// A sigstore bundle (v0.1, v0.2, v0.3, or cosign's legacy bundle), read once: cosign's
/// legacy shape is mapped onto a v0.1 bundle here, and the typed form `sigstore-verify`
/// checks is deserialised from that same document, never printed back to text and parsed
/// again. Every verification of the bundle takes this.
#[derive(Debug, Clone)]
pub struct SigstoreBundle {
    /// The bundle as JSON (legacy mapped onto v0.1): the shape checks and the air-gap key
    /// mode read it.
    doc: serde_json::Value,
    /// `sigstore-verify`'s typed bundle, or why the document is not one: only the
    /// transparency path needs it, and reports the reason.
    typed: std::result::Result<sigstore_verify::types::Bundle, String>,
}

impl SigstoreBundle {
    /// Reads a bundle from its JSON text, as a file or an archive's entry holds it. Refused
    /// here: text that is not JSON, and what [`SigstoreBundle::from_json`] refuses.
    pub fn from_slice(bytes: &[u8]) -> Result<SigstoreBundle> {
        let doc = serde_json::from_slice(bytes).map_err(|e| invalid(format!("not JSON ({e})")))?;
        SigstoreBundle::from_json(doc)
    }

    /// Reads a bundle from its parsed JSON. Refused here: a legacy bundle whose log entry
    /// cannot be mapped.
    pub fn from_json(doc: serde_json::Value) -> Result<SigstoreBundle> {
        let doc = if legacy::is_legacy(&doc) { legacy::to_v01_bundle(&doc)? } else { doc };
        let typed = sigstore_verify::types::Bundle::deserialize(&doc).map_err(|e| e.to_string());
        Ok(SigstoreBundle { doc, typed })
    }

    /// Refuses the bundle unless it signs `expected`, saying what it signs instead: the place
    /// a bundle is carried in decides which kind it must be ([`SignedContent`]).
    pub fn check_content(&self, expected: SignedContent) -> Result<()> {
        let found = match (self.doc.get("messageSignature"), self.doc.get("dsseEnvelope")) {
            (Some(_), None) => SignedContent::Message,
            (None, Some(_)) => SignedContent::Attestation,
            (None, None) => return Err(invalid("neither messageSignature nor dsseEnvelope")),
            (Some(_), Some(_)) => return Err(invalid("both a messageSignature and a dsseEnvelope")),
        };
        match (expected, found) {
            (SignedContent::Message, SignedContent::Attestation) => Err(invalid(
                "an attestation (a DSSE envelope: a statement naming the artifact, signed), where a signature over \
                 the artifact's own bytes belongs (a messageSignature, as `cosign sign-blob --bundle` writes it)",
            )),
            (SignedContent::Attestation, SignedContent::Message) => Err(invalid(
                "a signature over bytes (a messageSignature), where an attestation of the statement belongs (a DSSE \
                 envelope, as `cosign attest-blob --statement` writes it)",
            )),
            _ => Ok(()),
        }
    }

    /// Whether a certificate (keyless) signed the bundle, rather than a key.
    pub fn has_certificate(&self) -> bool {
        let material = &self.doc["verificationMaterial"];
        material.get("certificate").is_some() || material.get("x509CertificateChain").is_some()
    }

    /// Whether the bundle carries a transparency-log entry or an RFC 3161 timestamp, not yet
    /// verified: without either, nothing tells when it was signed.
    pub fn has_log_or_timestamp(&self) -> bool {
        let material = &self.doc["verificationMaterial"];
        material["tlogEntries"].as_array().is_some_and(|a| !a.is_empty())
            || material["timestampVerificationData"]["rfc3161Timestamps"].as_array().is_some_and(|a| !a.is_empty())
    }

    /// The bundle's DSSE envelope (`{payloadType, payload, signatures}`), unverified, for a
    /// caller that reads the statement of a bundle [`verify_bundle`] verified; `None` for a
    /// bundle of a message signature.
    pub fn dsse_envelope(&self) -> Option<&serde_json::Value> {
        self.doc.get("dsseEnvelope")
    }

    /// The payload of the bundle's DSSE envelope, decoded, unverified: `None` for a bundle of
    /// a message signature, or a payload that is not base64.
    pub fn dsse_payload(&self) -> Option<Vec<u8>> {
        b64(&self.dsse_envelope()?["payload"], "payload").ok()
    }

    /// The bundle's `messageSignature`, unverified, for a caller that checks it over bytes it
    /// holds and carries it elsewhere (the builder assembling an archive from a release
    /// pipeline's signatures, decision 0033); `None` for a bundle of a DSSE envelope. Refused:
    /// a bundle with neither, a signature that is not base64 ASN.1 DER, a SHA-256
    /// `messageDigest` that is not 32 bytes.
    pub fn message_signature(&self) -> Result<Option<MessageSignature>> {
        let Some(ms) = self.doc.get("messageSignature") else {
            return match self.doc.get("dsseEnvelope") {
                Some(_) => Ok(None),
                None => Err(invalid("neither messageSignature nor dsseEnvelope")),
            };
        };
        let signature = signature_der(&b64(&ms["signature"], "signature")?)?;
        let sha256 = match ms.get("messageDigest") {
            Some(d) if d["algorithm"] == "SHA2_256" => Some(
                b64(&d["digest"], "messageDigest")?.try_into().map_err(|_| invalid("messageDigest is not 32 bytes"))?,
            ),
            _ => None,
        };
        Ok(Some(MessageSignature { signature, sha256 }))
    }
}

/// What a sigstore bundle signs, which the place it is carried in decides: a BOM's signature
/// and the archive's `.cosign.bundle` sign the bytes themselves, a provenance is an
/// attestation. An attestation binds to its artifact only through its statement's subject, so
/// a provenance naming the BOM verifies over the BOM's bytes as well: taken where the BOM's
/// signature belongs, it would pass for one. Each place takes its one kind.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum SignedContent {
    /// A `messageSignature` over the artifact's bytes (`cosign sign-blob --bundle`).
    Message,
    /// A `dsseEnvelope`: a statement naming the artifact, signed (`cosign attest-blob`).
    Attestation,
}

/// A bundle's message signature ([`SigstoreBundle::message_signature`]).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct MessageSignature {
    /// ASN.1 DER ECDSA, not verified.
    pub signature: Vec<u8>,
    /// The SHA-256 the bundle's `messageDigest` says was signed, when it has a SHA-256 one.
    pub sha256: Option<[u8; 32]>,
}

/// Verifies a key-signed sigstore bundle over an artifact known by its SHA-256 (streamed
/// elsewhere), in the air-gap key mode: the signature alone decides.
pub fn verify_bundle_digest(bundle: &SigstoreBundle, digest: &[u8; 32], key: &PublicKey) -> Result<()> {
    verify_with_key_only(bundle, Artifact::Sha256(digest), key).map(drop)
}

/// What a successful verification established.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobVerdict {
    /// Who signed: `key SHA256:…` or `identity … (issuer …)`.
    pub signer: String,
    /// The same signer, as a report or a policy's `signedBy` takes it.
    #[serde(skip)]
    accepted: AcceptedSigner,
    /// `messageSignature` or `dsseEnvelope` (with its payload type).
    pub content: String,
    /// The artifact, as `sha256:…` (or `sha512:…` when only that digest was given).
    pub artifact: String,
    /// Whether a transparency-log entry was verified (inclusion proof or promise).
    pub transparency_log: bool,
    /// The log's authenticated integration time, when there is one.
    pub integrated_time: Option<String>,
    /// Every authenticated time the verification used (log, RFC 3161 timestamps).
    pub verified_times: Vec<String>,
}

impl BlobVerdict {
    /// What [`verify_bundle`] established of `bundle`, signed by `signer`.
    fn of(bundle: &serde_json::Value, signer: AcceptedSigner, artifact: Artifact<'_>) -> BlobVerdict {
        BlobVerdict {
            signer: signer.to_string(),
            accepted: signer,
            content: content_kind(bundle),
            artifact: artifact.describe(),
            transparency_log: false,
            integrated_time: None,
            verified_times: Vec::new(),
        }
    }

    /// Who signed.
    pub fn accepted(&self) -> &AcceptedSigner {
        &self.accepted
    }
}

/// The artifact a signature is checked against: its bytes, or a digest computed elsewhere
/// (a streamed archive, an npm package known by its SHA-512).
#[derive(Debug, Clone, Copy)]
pub enum Artifact<'a> {
    /// The artifact's bytes.
    Bytes(&'a [u8]),
    /// Its SHA-256.
    Sha256(&'a [u8; 32]),
    /// Its SHA-512.
    Sha512(&'a [u8; 64]),
}

impl Artifact<'_> {
    fn describe(&self) -> String {
        match self {
            Artifact::Bytes(b) => format!("sha256:{}", sha256_hex(b)),
            Artifact::Sha256(d) => format!("sha256:{}", hex::encode(d)),
            Artifact::Sha512(d) => format!("sha512:{}", hex::encode(d)),
        }
    }

    fn sha256(&self) -> Option<[u8; 32]> {
        match self {
            Artifact::Bytes(b) => Some(Sha256::digest(b).into()),
            Artifact::Sha256(d) => Some(**d),
            Artifact::Sha512(_) => None,
        }
    }

    /// Whether an in-toto subject's `digest` map names this artifact.
    fn named_by(&self, digests: &serde_json::Value) -> bool {
        match self {
            Artifact::Sha512(d) => digests["sha512"].as_str() == Some(hex::encode(d).as_str()),
            _ => self.sha256().is_some_and(|d| digests["sha256"].as_str() == Some(hex::encode(d).as_str())),
        }
    }
}

/// How a certificate's subject (its SAN: an e-mail or URI) must look.
#[derive(Debug, Clone)]
pub enum SubjectMatcher {
    /// Exactly this value (`--certificate-identity`).
    Exact(String),
    /// A regular expression that must match the *whole* SAN (`--certificate-identity-regexp`).
    /// Anchored on both ends, unlike cosign's Go `MatchString`: a pattern written for
    /// `https://github.com/acme/` must not also admit `https://github.com/acme/../evil`.
    Regex(regex::Regex),
}

impl SubjectMatcher {
    /// A whole-string regular expression. The pattern is compiled alone first: one that is not
    /// a regular expression on its own (`a)|(?:.*`) would close the anchoring group early once
    /// wrapped, and match any SAN.
    pub fn regex(pattern: &str) -> Result<SubjectMatcher> {
        let refused = |e: regex::Error| invalid(format!("certificate identity pattern {pattern:?}: {e}"));
        regex::Regex::new(pattern).map_err(refused)?;
        regex::Regex::new(&format!("^(?:{pattern})$")).map(SubjectMatcher::Regex).map_err(refused)
    }

    pub(crate) fn matches(&self, san: &str) -> bool {
        match self {
            SubjectMatcher::Exact(s) => s == san,
            SubjectMatcher::Regex(r) => r.is_match(san),
        }
    }
}

impl std::fmt::Display for SubjectMatcher {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            SubjectMatcher::Exact(s) => f.write_str(s),
            SubjectMatcher::Regex(r) => write!(f, "/{}/", r.as_str()),
        }
    }
}

/// A keyless signer: a Fulcio certificate for this subject, from this OIDC issuer.
#[derive(Debug, Clone)]
pub struct CertificateIdentity {
    /// The certificate's SAN.
    pub subject: SubjectMatcher,
    /// The OIDC issuer recorded in the certificate (exact).
    pub issuer: String,
}

impl std::fmt::Display for CertificateIdentity {
    /// `identity SUBJECT (issuer ISS)`, as an accepted signer reads.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        crate::signer::write_identity(f, &self.subject, &self.issuer)
    }
}

/// Who of `identities` signed the keyless `bundle` over `artifact`: each is tried in turn
/// against `root` with the log required ([`LogPolicy::Require`]), the first that verifies
/// wins. Refused, when none does, with each identity's reason.
pub(crate) fn verify_identities(
    bundle: &SigstoreBundle,
    artifact: Artifact<'_>,
    identities: &[CertificateIdentity],
    root: &TrustedRoot,
) -> Result<BlobVerdict> {
    let mut reasons = Vec::with_capacity(identities.len());
    for identity in identities {
        match verify_bundle(bundle, artifact, Signer::Identity(identity), Some(root), LogPolicy::Require) {
            Ok(verdict) => return Ok(verdict),
            Err(TrustError::BundleRefused { reason }) => reasons.push(format!("{identity}: {reason}")),
            Err(e) => reasons.push(format!("{identity}: {e}")),
        }
    }
    Err(invalid(format!("no trusted identity verifies it ({})", reasons.join("; "))))
}

/// Who must have signed a bundle.
#[derive(Debug, Clone, Copy)]
pub enum Signer<'a> {
    /// A public key (cosign.pub).
    Key(&'a PublicKey),
    /// A keyless identity, checked against the trusted root's Fulcio CAs.
    Identity(&'a CertificateIdentity),
}

/// `messageSignature`, or `dsseEnvelope (payload type)`.
fn content_kind(bundle: &serde_json::Value) -> String {
    match bundle["dsseEnvelope"]["payloadType"].as_str() {
        Some(t) => format!("dsseEnvelope ({t})"),
        None => "messageSignature".to_owned(),
    }
}

/// Verifies a sigstore bundle (or cosign's legacy bundle) over `artifact`.
///
/// With [`LogPolicy::Require`] the bundle must carry a log entry or timestamp that verifies
/// against `root`; a keyless bundle always needs `root`. With [`LogPolicy::IgnoreUnsafe`]
/// and a key, the signature alone decides (the air-gap shape).
pub fn verify_bundle(
    bundle: &SigstoreBundle,
    artifact: Artifact<'_>,
    signer: Signer<'_>,
    root: Option<&TrustedRoot>,
    log: LogPolicy,
) -> Result<BlobVerdict> {
    let doc = &bundle.doc;
    let media_type = doc["mediaType"].as_str().unwrap_or_default();
    if !media_type.starts_with("application/vnd.dev.sigstore.bundle") {
        return Err(invalid(format!("unknown media type {media_type:?}")));
    }
    let has_certificate = bundle.has_certificate();
    let has_log = bundle.has_log_or_timestamp();
    match signer {
        Signer::Key(_) if has_certificate => Err(TrustError::BundleNeeds(Needs::Identity)),
        Signer::Key(key) if log == LogPolicy::IgnoreUnsafe => verify_with_key_only(bundle, artifact, key),
        Signer::Key(_) if !has_log => Err(TrustError::BundleNeeds(Needs::LogIgnored)),
        Signer::Identity(_) if !has_certificate => Err(TrustError::BundleNeeds(Needs::Key)),
        _ => {
            let root = root.ok_or(TrustError::BundleNeeds(Needs::Root))?;
            let signer = match signer {
                Signer::Key(k) => transparency::Signer::Key(k),
                Signer::Identity(i) => transparency::Signer::Identity(i),
            };
            transparency::verify(bundle, artifact, signer, root, log)
        }
    }
}

/// The air-gap key mode: the signature (or DSSE envelope) and the message digest, nothing else.
fn verify_with_key_only(bundle: &SigstoreBundle, artifact: Artifact<'_>, key: &PublicKey) -> Result<BlobVerdict> {
    let bundle = &bundle.doc;
    if let Some(ms) = bundle.get("messageSignature") {
        let sha256 =
            artifact.sha256().ok_or_else(|| invalid("a message signature needs the artifact or its SHA-256"))?;
        if let Some(d) = ms.get("messageDigest")
            && (d["algorithm"].as_str() != Some("SHA2_256") || b64(&d["digest"], "messageDigest")? != sha256)
        {
            return Err(invalid(format!("messageDigest does not match the artifact ({})", artifact.describe())));
        }
        let der = signature_der(&b64(&ms["signature"], "signature")?)?;
        if !key.verifies_sha256_digest(&sha256, &der) {
            return Err(TrustError::BomSignatureInvalid { tried: key.fingerprint().to_string() });
        }
    } else if let Some(env) = bundle.get("dsseEnvelope") {
        verify_dsse(env, key, Some(artifact))?;
    } else {
        return Err(invalid("neither messageSignature nor dsseEnvelope"));
    }
    Ok(BlobVerdict::of(bundle, AcceptedSigner::key(key), artifact))
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A pattern matches the whole SAN, and one that would close the anchoring group early
    /// once wrapped (and so admit any SAN) is refused as the pattern it is not.
    #[test]
    fn a_subject_pattern_matches_whole_sans_and_cannot_escape_its_anchors() {
        let acme = SubjectMatcher::regex("https://github.com/acme/.*").unwrap();
        assert!(acme.matches("https://github.com/acme/release"));
        assert!(!acme.matches("evil https://github.com/acme/release"));
        let either = SubjectMatcher::regex("a|b").unwrap();
        assert!(either.matches("b") && !either.matches("ab"), "alternatives are anchored together");
        for escaping in ["a)|(?:.*", "a)|(.*"] {
            let e = SubjectMatcher::regex(escaping).expect_err(escaping);
            assert!(e.to_string().contains(&format!("certificate identity pattern {escaping:?}")), "{e}");
        }
    }
}
