//! Any artifact verified offline against whichever evidence came with it — a detached
//! signature, a bare DSSE envelope or a sigstore bundle — through one entry point,
//! [`verify_blob`], so that an embedder and `genesis verify-blob` take the same path.

use std::path::PathBuf;

use crate::sigstore::{
    Artifact, BlobVerdict, LogPolicy, Needs, Signer, SigstoreBundle, TrustedRoot, verify_bundle, verify_dsse,
};
use crate::{PublicKey, Result, TrustError, decode_signature};

/// What a blob's signature came as.
#[derive(Debug, Clone)]
pub enum BlobEvidence {
    /// A detached signature (base64 or DER), as `cosign sign-blob` writes it.
    Signature {
        /// Its bytes.
        bytes: Vec<u8>,
        /// Where it was read: a refusal names it.
        path: PathBuf,
    },
    /// A bare DSSE envelope (`{payloadType, payload, signatures}`). It carries no
    /// certificate: only a key verifies it.
    DsseEnvelope(serde_json::Value),
    /// A sigstore bundle (v0.1–v0.3) or cosign's legacy bundle.
    Bundle(serde_json::Value),
}

impl BlobEvidence {
    /// A JSON document given as a bundle: a bare DSSE envelope when it has a `payloadType`,
    /// else a sigstore bundle.
    pub fn from_json(doc: serde_json::Value) -> BlobEvidence {
        if doc.get("payloadType").is_some() { BlobEvidence::DsseEnvelope(doc) } else { BlobEvidence::Bundle(doc) }
    }

    /// Whether only a key can verify this evidence (a detached signature, a bare DSSE
    /// envelope): with a keyless signer, [`verify_blob`] refuses it for
    /// [`Needs::Key`].
    pub fn needs_key(&self) -> bool {
        !matches!(self, BlobEvidence::Bundle(_))
    }
}

/// Who must have signed a blob, and how much of the transparency machinery must vouch for it.
/// No default: the caller states each.
#[derive(Debug, Clone, Copy)]
pub struct BlobPolicy<'a> {
    /// The key or keyless identity.
    pub signer: Signer<'a>,
    /// The pinned sigstore root: needed for keyless bundles and for log entries and timestamps.
    pub root: Option<&'a TrustedRoot>,
    /// Whether a bundle needs a verified log entry or timestamp (see [`LogPolicy`]); a detached
    /// signature and a bare DSSE envelope have none, and are checked with the key alone.
    pub log: LogPolicy,
}

/// What [`verify_blob`] established.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum BlobVerification {
    /// A detached signature or a bare DSSE envelope verified with the key.
    Signed {
        /// `key SHA256:…`.
        signer: String,
        /// `signature`, or `dsseEnvelope (payload type)`.
        content: String,
    },
    /// A sigstore bundle verified.
    Bundle(BlobVerdict),
}

impl BlobVerification {
    /// Who signed: `key SHA256:…` or `identity … (issuer …)`.
    pub fn signer(&self) -> &str {
        match self {
            BlobVerification::Signed { signer, .. } | BlobVerification::Bundle(BlobVerdict { signer, .. }) => {
                signer.as_str()
            }
        }
    }

    /// What was signed: `signature`, `messageSignature` or `dsseEnvelope (payload type)`.
    pub fn content(&self) -> &str {
        match self {
            BlobVerification::Signed { content, .. } | BlobVerification::Bundle(BlobVerdict { content, .. }) => {
                content.as_str()
            }
        }
    }

    /// The transparency log's authenticated integration time, when a bundle had one.
    pub fn integrated_time(&self) -> Option<&str> {
        match self {
            BlobVerification::Signed { .. } => None,
            BlobVerification::Bundle(verdict) => verdict.integrated_time.as_deref(),
        }
    }
}

/// Verifies `artifact` against `evidence` under `policy`, dispatching on the evidence: a
/// detached signature and a bare DSSE envelope with the policy's key (an envelope's in-toto
/// subjects must name the artifact), a sigstore bundle as [`verify_bundle`] does.
pub fn verify_blob(artifact: &[u8], evidence: BlobEvidence, policy: &BlobPolicy<'_>) -> Result<BlobVerification> {
    match evidence {
        BlobEvidence::Signature { bytes, path } => {
            let key = key_of(policy)?;
            let der = decode_signature(&bytes, &path.display().to_string())?;
            if !key.verifies(artifact, &der) {
                return Err(TrustError::SidecarSignatureInvalid { path, tried: key.fingerprint().to_string() });
            }
            Ok(BlobVerification::Signed { signer: key_signer(key), content: "signature".to_owned() })
        }
        BlobEvidence::DsseEnvelope(envelope) => {
            let key = key_of(policy)?;
            let payload_type = verify_dsse(&envelope, key, Some(Artifact::Bytes(artifact)))?;
            Ok(BlobVerification::Signed { signer: key_signer(key), content: format!("dsseEnvelope ({payload_type})") })
        }
        BlobEvidence::Bundle(doc) => {
            let bundle = SigstoreBundle::from_json(doc)?;
            verify_bundle(&bundle, Artifact::Bytes(artifact), policy.signer, policy.root, policy.log)
                .map(BlobVerification::Bundle)
        }
    }
}

/// The policy's key, for evidence that carries no certificate.
fn key_of<'a>(policy: &BlobPolicy<'a>) -> Result<&'a PublicKey> {
    match policy.signer {
        Signer::Key(key) => Ok(key),
        Signer::Identity(_) => Err(TrustError::BundleNeeds(Needs::Key)),
    }
}

/// `key SHA256:…`, as a verdict names a key signer.
fn key_signer(key: &PublicKey) -> String {
    format!("key {}", key.fingerprint())
}
