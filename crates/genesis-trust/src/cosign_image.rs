//! cosign's signatures of container images: the `sha256-<hex>.sig` manifest, each layer a
//! simple-signing payload naming the image digest, with the signature in the
//! `dev.cosignproject.cosign/signature` annotation. Key-signed layers verify with a key;
//! keyless layers carry the Fulcio certificate (`dev.sigstore.cosign/certificate`) and the
//! Rekor entry (`dev.sigstore.cosign/bundle`) — exactly cosign's legacy blob bundle, so they
//! go through the same sigstore path against the pinned trusted root.

use std::collections::BTreeMap;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use genesis_types::Digest;

use crate::sigstore::{Artifact, CertificateIdentity, SigstoreBundle, TrustedRoot, verify_identities};
use crate::{PublicKey, Result, TrustError};

/// Annotation holding the base64 signature over the layer's payload.
pub const SIGNATURE_ANNOTATION: &str = "dev.cosignproject.cosign/signature";
/// Annotation holding the PEM signing certificate of a keyless signature.
pub const CERTIFICATE_ANNOTATION: &str = "dev.sigstore.cosign/certificate";
/// Annotation holding the Rekor entry (SET and payload) of a keyless signature.
pub const REKOR_BUNDLE_ANNOTATION: &str = "dev.sigstore.cosign/bundle";

/// Who may sign: keys, and keyless identities checked against a pinned root.
#[derive(Debug, Clone, Default)]
pub struct Signers {
    /// Trusted public keys.
    pub keys: Vec<PublicKey>,
    /// Trusted keyless identities.
    pub identities: Vec<CertificateIdentity>,
    /// The root the identities' certificates and log entries are checked against.
    pub root: Option<TrustedRoot>,
}

impl Signers {
    /// Whether anyone at all is trusted.
    pub fn is_empty(&self) -> bool {
        self.keys.is_empty() && self.identities.is_empty()
    }

    /// The trusted signers, for messages.
    pub fn describe(&self) -> String {
        describe_signers(&self.keys, &self.identities)
    }
}

/// `keys` and `identities`, each said as what it is (`key SHA256:…`, `identity SAN (issuer
/// ISS)`), for messages: how image and bundle policies both name whom they trust.
pub(crate) fn describe_signers(keys: &[PublicKey], identities: &[CertificateIdentity]) -> String {
    let keys = keys.iter().map(|k| format!("key {}", k.fingerprint()));
    keys.chain(identities.iter().map(ToString::to_string)).collect::<Vec<_>>().join(", ")
}

fn refused(reason: String) -> TrustError {
    TrustError::BundleRefused { reason }
}

/// Verifies one layer of a cosign signature manifest for the image `digest`: the payload must
/// name the digest, and its signature must come from one of `signers`. Returns who signed.
pub fn verify_signature_layer(
    payload: &[u8],
    annotations: &BTreeMap<String, String>,
    digest: &Digest,
    signers: &Signers,
) -> Result<String> {
    let named = serde_json::from_slice::<serde_json::Value>(payload)
        .ok()
        .and_then(|v| v["critical"]["image"]["docker-manifest-digest"].as_str().map(str::to_owned));
    if named.as_deref() != Some(digest.to_string().as_str()) {
        return Err(refused(format!("the signed payload names {named:?}, not {digest}")));
    }
    verify_layer_signature(payload, annotations, signers)
}

/// The signature half of [`verify_signature_layer`]: by a trusted key, or keyless by a
/// trusted identity with its certificate and log entry checked against the root.
fn verify_layer_signature(payload: &[u8], annotations: &BTreeMap<String, String>, signers: &Signers) -> Result<String> {
    let signature = annotations
        .get(SIGNATURE_ANNOTATION)
        .ok_or_else(|| refused(format!("no {SIGNATURE_ANNOTATION} annotation")))?;
    if let Some(cert) = annotations.get(CERTIFICATE_ANNOTATION) {
        let root = signers.root.as_ref().ok_or_else(|| {
            refused("the signature is keyless; the policy needs trustedRoot and identities to check it".into())
        })?;
        let rekor: serde_json::Value = annotations
            .get(REKOR_BUNDLE_ANNOTATION)
            .and_then(|b| serde_json::from_str(b).ok())
            .ok_or_else(|| refused(format!("keyless signature without a {REKOR_BUNDLE_ANNOTATION} log entry")))?;
        let legacy = SigstoreBundle::from_json(serde_json::json!({
            "base64Signature": signature,
            "cert": STANDARD.encode(cert),
            "rekorBundle": rekor,
        }))?;
        return verify_identities(&legacy, Artifact::Bytes(payload), &signers.identities, root).map(|v| v.signer);
    }
    let der = STANDARD.decode(signature).map_err(|e| refused(format!("signature is not base64 ({e})")))?;
    signers
        .keys
        .iter()
        .find(|k| k.verifies(payload, &der))
        .map(|k| format!("key {}", k.fingerprint()))
        .ok_or_else(|| refused(format!("not signed by any of {}", signers.describe())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::sigstore::SubjectMatcher;

    fn interop(path: &str) -> std::path::PathBuf {
        std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/interop").join(path)
    }

    /// cosign's real keyless legacy bundle, laid out as the annotations of a signature layer
    /// (the same three values cosign writes there), with its artifact standing in as the
    /// payload: the mapping must verify, only for the right identity, and never without a root.
    #[test]
    fn keyless_layer_annotations_verify_through_the_sigstore_path() {
        let legacy: serde_json::Value = serde_json::from_slice(
            &std::fs::read(interop("legacy-cosign-bundle/artifact.txt.cosign-bundle.json")).unwrap(),
        )
        .unwrap();
        let cert = String::from_utf8(STANDARD.decode(legacy["cert"].as_str().unwrap()).unwrap()).unwrap();
        let annotations = BTreeMap::from([
            (SIGNATURE_ANNOTATION.to_owned(), legacy["base64Signature"].as_str().unwrap().to_owned()),
            (CERTIFICATE_ANNOTATION.to_owned(), cert),
            (REKOR_BUNDLE_ANNOTATION.to_owned(), legacy["rekorBundle"].to_string()),
        ]);
        let artifact = std::fs::read(interop("legacy-cosign-bundle/artifact.txt")).unwrap();
        let identity = |subject: &str| CertificateIdentity {
            subject: SubjectMatcher::Exact(subject.into()),
            issuer: "https://github.com/login/oauth".into(),
        };
        let root = TrustedRoot::from_file(&interop("trust/trusted_root.public-good.json")).unwrap();
        let signers =
            |subject: &str| Signers { keys: vec![], identities: vec![identity(subject)], root: Some(root.clone()) };
        let verdict = |s: &Signers| verify_layer_signature(&artifact, &annotations, s);
        assert_eq!(
            verdict(&signers("daniel.bevenius@gmail.com")).unwrap(),
            "identity daniel.bevenius@gmail.com (issuer https://github.com/login/oauth)"
        );
        let no_root = Signers { root: None, ..signers("daniel.bevenius@gmail.com") };
        assert!(verdict(&no_root).unwrap_err().to_string().contains("needs trustedRoot"));
        assert!(verdict(&signers("someone@example.com")).is_err());
    }

    #[test]
    fn a_payload_for_another_digest_is_refused_before_any_signature_check() {
        let digest: Digest = format!("sha256:{}", "a".repeat(64)).parse().unwrap();
        let payload = br#"{"critical":{"image":{"docker-manifest-digest":"sha256:bbbb"}}}"#;
        let err = verify_signature_layer(payload, &BTreeMap::new(), &digest, &Signers::default()).unwrap_err();
        assert!(err.to_string().contains("names Some(\"sha256:bbbb\")"), "{err}");
    }
}
