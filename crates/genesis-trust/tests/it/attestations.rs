//! What a re-load that does not read the payload again still checks: the SBOM, read by
//! random access from the committed fixtures and checked as the full pass checks it.

use std::path::{Path, PathBuf};

use genesis_trust::{PublicKey, TrustError, TrustPolicy, UnverifiedBundle, VerifiedBundle};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn verified(case: &str) -> VerifiedBundle {
    let key = PublicKey::from_pem_file(&fixtures().join("keys/test.pub")).unwrap();
    let policy = TrustPolicy::from_keys(vec![key]).unwrap();
    let archive = fixtures().join("bundles").join(case).join("demo-0.1.0.tar.zst");
    UnverifiedBundle::open(&archive, &Default::default()).unwrap().verify(&policy).unwrap()
}

#[test]
fn the_sbom_is_read_and_checked_without_streaming_the_payload() {
    let bundle = verified("good");
    let good = bundle.check_attestations().unwrap();
    let listed = &bundle.bom().sboms[0];
    assert_eq!(good.sbom.as_deref(), Some(listed.path.as_str()));
    assert!(good.provenance.is_some());

    // Re-signed with an SBOM that leaves out a manifest: the signature holds, the SBOM does not.
    match verified("sbom-entry-missing").check_attestations() {
        Err(TrustError::SbomIncomplete { missing, .. }) => {
            assert_eq!(missing, ["manifest manifests/service.yaml"]);
        }
        other => panic!("{other:?}"),
    }
}
