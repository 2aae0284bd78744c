//! The `zarf.yaml` of a seed catalog's images validates against Zarf's published schema
//! (`fixtures/schemas/zarf.schema.json`, judged by Python `jsonschema`).

use genesis_seed::zarf::{ZARF_FILE, write_zarf, zarf_package};
use genesis_testkit::schema;

#[test]
fn the_zarf_yaml_of_a_catalog_of_two_images_validates_against_zarfs_schema() {
    let dir = tempfile::tempdir().unwrap();
    let images = [
        "registry.upstream.example.com/robot-behavior:v1".to_owned(),
        format!("registry.upstream.example.com/nav-stack@sha256:{}", "ab".repeat(32)),
    ];
    let text = zarf_package("Site A!", "0.0.0", &images).unwrap();
    let path = write_zarf(&dir.path().join("zarf"), &text).unwrap();
    assert_eq!(path, dir.path().join("zarf").join(ZARF_FILE));

    let doc: serde_json::Value = serde_yaml_ng::from_slice(&std::fs::read(&path).unwrap()).unwrap();
    schema::validate(&schema::schemas().join("zarf.schema.json"), &doc).unwrap_or_else(|e| panic!("{e}\n{text}"));
    assert_eq!(doc["metadata"]["name"], "site-a");
    assert_eq!(doc["components"][0]["required"], true);
    assert_eq!(doc["components"][0]["images"], serde_json::json!(images));
}
