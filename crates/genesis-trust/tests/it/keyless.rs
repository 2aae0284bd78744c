//! The loopback sigstore instance (genesis-testkit) is a sigstore to two verifiers: what it
//! signs keyless is accepted by ours and by sigstore-js, each with sigstore's full checks
//! against its trusted_root.json; and each thing a keyless signature can have wrong — a forged
//! checkpoint, an SCT from a log the root does not name, a certificate expired at the log's
//! time, another identity or issuer, no log entry — is refused by both, for that reason.

use genesis_testkit::sigstore::{Fault, LoopbackSigstore, sigstore_js_keyless};
use genesis_trust::sigstore::{
    Artifact, BlobVerdict, CertificateIdentity, LogPolicy, Signer, SigstoreBundle, SubjectMatcher, TrustedRoot,
    verify_bundle,
};

const WORKFLOW: &str = "https://github.com/acme/ops/.github/workflows/release.yml@refs/tags/v3.2.10";
const ACTIONS: &str = "https://token.actions.githubusercontent.com";
const ARTIFACT: &[u8] = b"{\"name\":\"genesis-ops\",\"version\":\"3.2.10\"}\n";

/// Our verifier's verdict and sigstore-js's; a refusal is the verifier's message.
type Verdicts = (Result<BlobVerdict, String>, Result<(), String>);

/// Both verifiers on `bundle` over `artifact`, required to be signed by exactly `identity`
/// from `issuer`.
fn verify_both(sigstore: &LoopbackSigstore, bundle: &str, artifact: &[u8], identity: &str, issuer: &str) -> Verdicts {
    let root = TrustedRoot::from_file(sigstore.trusted_root()).unwrap();
    let parsed = SigstoreBundle::from_json(serde_json::from_str(bundle).unwrap()).unwrap();
    let wanted = CertificateIdentity { subject: SubjectMatcher::Exact(identity.to_owned()), issuer: issuer.to_owned() };
    let ours =
        verify_bundle(&parsed, Artifact::Bytes(artifact), Signer::Identity(&wanted), Some(&root), LogPolicy::Require)
            .map_err(|e| e.to_string());

    let dir = tempfile::tempdir().unwrap();
    let (bundle_path, artifact_path) = (dir.path().join("artifact.sigstore.json"), dir.path().join("artifact"));
    std::fs::write(&bundle_path, bundle).unwrap();
    std::fs::write(&artifact_path, artifact).unwrap();
    let js = sigstore_js_keyless(&bundle_path, &artifact_path, sigstore.trusted_root(), identity, issuer);
    let js = if js.status.success() { Ok(()) } else { Err(String::from_utf8_lossy(&js.stderr).into_owned()) };
    (ours, js)
}

/// Both accept; ours names the signer and the verified log entry.
fn assert_accepted(verdicts: Verdicts, identity: &str, issuer: &str) {
    let (ours, js) = verdicts;
    let verdict = ours.unwrap_or_else(|e| panic!("our verifier refused: {e}"));
    assert_eq!(verdict.signer, format!("identity {identity} (issuer {issuer})"));
    assert!(verdict.transparency_log, "{verdict:?}");
    assert!(verdict.integrated_time.is_some(), "{verdict:?}");
    js.unwrap_or_else(|e| panic!("sigstore-js refused: {e}"));
}

/// Both refuse, ours saying `ours_says` and sigstore-js `js_says`: refused for that reason.
fn assert_refused(verdicts: Verdicts, ours_says: &str, js_says: &str) {
    let (ours, js) = verdicts;
    let ours = ours.map(|v| v.signer).expect_err("our verifier accepted");
    assert!(ours.contains(ours_says), "ours refused, but not for {ours_says:?}: {ours}");
    let js = js.expect_err("sigstore-js accepted");
    assert!(js.contains(js_says), "sigstore-js refused, but not for {js_says:?}: {js}");
}

#[test]
fn a_keyless_blob_signature_is_accepted_by_both_verifiers() {
    let dir = tempfile::tempdir().unwrap();
    let mut sigstore = LoopbackSigstore::new(dir.path());
    // A workflow identity (URI SAN) and a person's (e-mail SAN), logged one after the other:
    // each inclusion proof is against the tree as it stood after its own entry.
    let workflow = sigstore.sign_blob(ARTIFACT, WORKFLOW, ACTIONS);
    let person = sigstore.sign_blob(ARTIFACT, "release@acme.example", "https://accounts.google.com");
    assert_accepted(verify_both(&sigstore, &workflow, ARTIFACT, WORKFLOW, ACTIONS), WORKFLOW, ACTIONS);
    assert_accepted(
        verify_both(&sigstore, &person, ARTIFACT, "release@acme.example", "https://accounts.google.com"),
        "release@acme.example",
        "https://accounts.google.com",
    );
    // Over other bytes, the same bundle is refused.
    assert_refused(
        verify_both(&sigstore, &workflow, b"other bytes", WORKFLOW, ACTIONS),
        "message digest in bundle does not match artifact",
        "signature verification failed",
    );
}

#[test]
fn a_keyless_attestation_is_accepted_by_both_verifiers() {
    let dir = tempfile::tempdir().unwrap();
    let mut sigstore = LoopbackSigstore::new(dir.path());
    let statement = serde_json::json!({
        "_type": "https://in-toto.io/Statement/v1",
        "subject": [{"name": "bom.json", "digest": {"sha256": genesis_trust::sigstore::sha256_hex(ARTIFACT)}}],
        "predicateType": "https://slsa.dev/provenance/v1",
        "predicate": {"buildDefinition": {"buildType": "https://genesis.dev/bundle/v1"}},
    });
    let bundle = sigstore.attest(statement.to_string().as_bytes(), WORKFLOW, ACTIONS);
    let (ours, js) = verify_both(&sigstore, &bundle, ARTIFACT, WORKFLOW, ACTIONS);
    let content = ours.as_ref().ok().map(|v| v.content.clone());
    assert_accepted((ours, js), WORKFLOW, ACTIONS);
    assert_eq!(content.unwrap(), "dsseEnvelope (application/vnd.in-toto+json)");
}

#[test]
fn a_forged_checkpoint_is_refused_by_both_verifiers() {
    let dir = tempfile::tempdir().unwrap();
    let mut sigstore = LoopbackSigstore::new(dir.path());
    let bundle = sigstore.sign_blob_with(ARTIFACT, WORKFLOW, ACTIONS, Fault::ForgedCheckpoint);
    assert_refused(verify_both(&sigstore, &bundle, ARTIFACT, WORKFLOW, ACTIONS), "checkpoint", "checkpoint signature");
}

#[test]
fn an_sct_from_a_log_the_root_does_not_name_is_refused_by_both_verifiers() {
    let dir = tempfile::tempdir().unwrap();
    let mut sigstore = LoopbackSigstore::new(dir.path());
    let bundle = sigstore.sign_blob_with(ARTIFACT, WORKFLOW, ACTIONS, Fault::SctFromAnotherLog);
    assert_refused(
        verify_both(&sigstore, &bundle, ARTIFACT, WORKFLOW, ACTIONS),
        "signed certificate timestamp",
        "SCT verification failed",
    );
}

#[test]
fn a_certificate_expired_at_the_logs_time_is_refused_by_both_verifiers() {
    let dir = tempfile::tempdir().unwrap();
    let mut sigstore = LoopbackSigstore::new(dir.path());
    let bundle = sigstore.sign_blob_with(ARTIFACT, WORKFLOW, ACTIONS, Fault::ExpiredAtLogTime);
    assert_refused(verify_both(&sigstore, &bundle, ARTIFACT, WORKFLOW, ACTIONS), "CertExpired", "expired");
}

#[test]
fn a_keyless_signature_without_a_log_entry_is_refused_by_both_verifiers() {
    let dir = tempfile::tempdir().unwrap();
    let mut sigstore = LoopbackSigstore::new(dir.path());
    let bundle = sigstore.sign_blob_with(ARTIFACT, WORKFLOW, ACTIONS, Fault::NoLogEntry);
    assert_refused(
        verify_both(&sigstore, &bundle, ARTIFACT, WORKFLOW, ACTIONS),
        "inclusion proof",
        "expected 1 timestamps, got 0",
    );
}

#[test]
fn another_identity_or_issuer_is_refused_by_both_verifiers() {
    let dir = tempfile::tempdir().unwrap();
    let mut sigstore = LoopbackSigstore::new(dir.path());
    let bundle = sigstore.sign_blob(ARTIFACT, WORKFLOW, ACTIONS);
    let other_workflow = "https://github.com/acme/ops/.github/workflows/nightly.yml@refs/heads/main";
    assert_refused(
        verify_both(&sigstore, &bundle, ARTIFACT, other_workflow, ACTIONS),
        "identity mismatch",
        "certificate identity error",
    );
    // A prefix of the SAN is another identity too.
    assert_refused(
        verify_both(&sigstore, &bundle, ARTIFACT, "https://github.com/acme/ops", ACTIONS),
        "identity mismatch",
        "certificate identity error",
    );
    assert_refused(
        verify_both(&sigstore, &bundle, ARTIFACT, WORKFLOW, "https://accounts.google.com"),
        "issuer mismatch",
        "invalid certificate extension",
    );
}
