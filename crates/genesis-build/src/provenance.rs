//! The bundle's SLSA v1 provenance: an in-toto Statement whose subject is `bom.json`, naming
//! the spec (by digest) as the external parameters and every source image and chart as a
//! resolved dependency. Deterministic: no clock, no host names — the same inputs give the
//! same statement, so the signed envelope is byte-stable too. The builder signs it with its
//! key, or a release pipeline signs its DSSE PAE (`bundle-builder prepare`); either way
//! `genesis_trust::provenance::envelope` wraps the signature into the same envelope bytes.

use std::collections::BTreeMap;

use genesis_bundle::Bom;
use genesis_trust::provenance::{SLSA_PROVENANCE_V1, STATEMENT_V1};
use genesis_types::Digest;
use serde_json::json;

use crate::spec::BundleSpec;

/// `buildType` of Genesis bundle builds.
pub const BUILD_TYPE: &str = "https://genesis.dev/bundle-builder/build/v1";

/// The builder's SLSA id: what `genesis verify` reports as `build:`.
pub fn builder_id() -> String {
    format!("https://genesis.dev/bundle-builder@v{}", env!("CARGO_PKG_VERSION"))
}

/// The provenance statement (the DSSE payload) of a bundle whose BOM is `bom` with digest
/// `bom_digest`; `verified_signers` (source text to digest and signer) records source
/// signature checks.
pub fn provenance_statement(
    spec: &BundleSpec,
    bom: &Bom,
    bom_digest: &Digest,
    verified_signers: &BTreeMap<String, (Digest, String)>,
) -> Vec<u8> {
    let file_sha = |path: &str| bom.file(path).map(|f| f.sha256.hex().to_owned());
    let mut dependencies = Vec::new();
    for image in &bom.images {
        let source_digest = image.source_digest.as_ref().unwrap_or(&image.digest);
        let mut annotations = json!({ "ref": image.reference, "bundled": image.digest.to_string() });
        if let Some((_, signer)) = verified_signers.get(&image.source).filter(|(d, _)| d == source_digest) {
            annotations["cosignSignatureVerified"] = json!(signer);
        }
        dependencies.push(json!({
            "name": image.name,
            "uri": image.source,
            "digest": { source_digest.algorithm().name(): source_digest.hex() },
            "annotations": annotations,
        }));
    }
    for chart in &bom.charts {
        if let Some(sha) = file_sha(chart.path.as_str()) {
            dependencies.push(json!({ "name": chart.name, "uri": chart.source, "digest": { "sha256": sha } }));
        }
    }
    let mut spec_parameter =
        json!({ "name": spec.metadata.name.to_string(), "version": spec.metadata.version.to_string() });
    if let Some(d) = &spec.source_sha256 {
        spec_parameter["digest"] = json!({ "sha256": d.hex() });
    }
    let statement = json!({
        "_type": STATEMENT_V1,
        "subject": [ { "name": genesis_bundle::BOM_PATH, "digest": { "sha256": bom_digest.hex() } } ],
        "predicateType": SLSA_PROVENANCE_V1,
        "predicate": {
            "buildDefinition": {
                "buildType": BUILD_TYPE,
                "externalParameters": { "spec": spec_parameter },
                "resolvedDependencies": dependencies,
            },
            "runDetails": {
                "builder": { "id": builder_id() },
                "metadata": { "invocationId": format!("{}@{}", bom.name, bom.version), "startedOn": bom.created },
            },
        },
    });
    serde_json::to_vec(&statement).expect("a statement is JSON")
}
