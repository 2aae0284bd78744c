//! `verify_blob` gives each kind of evidence its own check — a detached signature, a bare
//! DSSE envelope, a sigstore bundle — over the real cosign vectors of fixtures/interop, the
//! same ones `genesis verify-blob` is tested with.

use std::path::PathBuf;

use genesis_trust::sigstore::{CertificateIdentity, LogPolicy, Needs, Signer, SubjectMatcher};
use genesis_trust::{BlobEvidence, BlobPolicy, BlobVerification, PublicKey, TrustError, verify_blob};

/// The artifact every evidence below signs.
const ARTIFACT: &str = "cosign-key/artifact.txt";

fn interop(path: &str) -> PathBuf {
    super::fixtures_dir().join("interop").join(path)
}

fn read(path: &str) -> Vec<u8> {
    std::fs::read(interop(path)).unwrap()
}

fn signature(path: &str) -> BlobEvidence {
    BlobEvidence::Signature { bytes: read(path), path: interop(path) }
}

/// A bundle or DSSE envelope, as `--bundle` takes it.
fn document(path: &str) -> BlobEvidence {
    BlobEvidence::from_json(serde_json::from_slice(&read(path)).unwrap())
}

/// The verdict on `artifact` against `evidence`, with cosign.pub as the signer and `log`.
fn check(artifact: &str, evidence: BlobEvidence, log: LogPolicy) -> Result<BlobVerification, TrustError> {
    let key = PublicKey::from_pem_file(&interop("cosign-key/cosign.pub")).unwrap();
    verify_blob(&read(artifact), evidence, &BlobPolicy { signer: Signer::Key(&key), root: None, log })
}

#[test]
fn each_kind_of_evidence_gets_its_own_check() {
    let signed = check(ARTIFACT, signature("cosign-key/artifact.txt.sig"), LogPolicy::Require).unwrap();
    assert_eq!(signed.content(), "signature");
    assert!(signed.signer().starts_with("key SHA256:"), "{}", signed.signer());
    let tampered = "negative/cosign-key/artifact-tampered.txt";
    let refused = check(tampered, signature("cosign-key/artifact.txt.sig"), LogPolicy::Require);
    assert!(matches!(refused, Err(TrustError::SidecarSignatureInvalid { .. })), "{refused:?}");

    let dsse = document("dsse/slsa-v1.dsse.json");
    assert!(matches!(dsse, BlobEvidence::DsseEnvelope(_)) && dsse.needs_key());
    let envelope = check(ARTIFACT, dsse, LogPolicy::Require).unwrap();
    assert_eq!(envelope.content(), "dsseEnvelope (application/vnd.in-toto+json)");
    let raw = document("negative/dsse/slsa-v1.sig-over-raw-payload.dsse.json");
    assert!(check(ARTIFACT, raw, LogPolicy::Require).is_err());

    let bundle = "cosign-key/artifact.txt.keyed-v0.3.sigstore.json";
    assert!(matches!(document(bundle), BlobEvidence::Bundle(_)) && !document(bundle).needs_key());
    let strict = check(ARTIFACT, document(bundle), LogPolicy::Require);
    assert!(matches!(strict, Err(TrustError::BundleNeeds(Needs::LogIgnored))), "{strict:?}");
    let air_gap = check(ARTIFACT, document(bundle), LogPolicy::IgnoreUnsafe).unwrap();
    assert!(matches!(air_gap, BlobVerification::Bundle(_)), "{air_gap:?}");
    assert_eq!(air_gap.content(), "messageSignature");
    assert_eq!(air_gap.integrated_time(), None);
}

#[test]
fn evidence_without_a_certificate_needs_a_key() {
    let identity = CertificateIdentity {
        subject: SubjectMatcher::Exact("someone@example.com".into()),
        issuer: "https://issuer.example".into(),
    };
    let policy = BlobPolicy { signer: Signer::Identity(&identity), root: None, log: LogPolicy::Require };
    for evidence in [signature("cosign-key/artifact.txt.sig"), document("dsse/slsa-v1.dsse.json")] {
        let refused = verify_blob(&read(ARTIFACT), evidence, &policy);
        assert!(matches!(refused, Err(TrustError::BundleNeeds(Needs::Key))), "{refused:?}");
    }
}
