//! What a re-load that does not read the payload again still checks: the SBOM, read by
//! random access from the committed fixtures and checked as the full pass checks it.

use genesis_trust::TrustError;

use crate::verified;

#[test]
fn the_sbom_is_read_and_checked_without_streaming_the_payload() {
    let bundle = verified("good").unwrap();
    let good = bundle.check_attestations().unwrap();
    let listed = &bundle.bom().sboms[0];
    assert_eq!(good.report().sbom.as_deref(), Some(listed.path.as_str()));
    assert!(good.report().provenance.is_some());

    // Re-signed with an SBOM that leaves out a manifest: the signature holds, the SBOM does not.
    match verified("sbom-entry-missing").unwrap().check_attestations() {
        Err(TrustError::SbomIncomplete { missing, .. }) => {
            assert_eq!(missing, ["manifest manifests/service.yaml"]);
        }
        other => panic!("{other:?}"),
    }
}
