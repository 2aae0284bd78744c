//! `zarf-definition`: the `zarf.yaml` of a spec validates against Zarf's published schema
//! (`fixtures/schemas/zarf.schema.json`, judged by Python `jsonschema`), its paths resolve
//! from where it is written, and what Zarf could not carry as the bundle does is refused,
//! naming it, with nothing written.

use std::path::Path;

use genesis_testkit::schema;

use crate::{builder, copy_inputs, text};

const PINNED: &str = "sha256:0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

/// A spec named `demo` with `body` under `spec:`.
fn spec(body: &str) -> String {
    format!(
        "apiVersion: genesis.dev/v1alpha1\nkind: Bundle\nmetadata: {{ name: demo, version: 0.1.0 }}\nspec:\n{body}  output: {{ dir: ../dist }}\n"
    )
}

#[test]
fn the_definition_of_a_spec_with_registry_images_a_chart_and_manifests_validates_against_zarfs_schema() {
    let dir = tempfile::tempdir().unwrap();
    copy_inputs(dir.path());
    let body = format!(
        "  images:\n    - {{ name: app, image: \"docker://registry.example.com/demo/app:1.0\" }}\n    - {{ name: proxy, image: \"nginx@{PINNED}\" }}\n\
         \x20 charts:    [ {{ name: web, path: charts/web-0.1.0.tgz }} ]\n  manifests: [ {{ path: manifests/ }} ]\n"
    );
    std::fs::write(dir.path().join("bundle.yaml"), spec(&body)).unwrap();

    let out = builder(&["zarf-definition", "-f", "bundle.yaml", "-o", "zarf", "--output", "json"], dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["zarfYaml"], "zarf/zarf.yaml");
    assert_eq!(
        (report["images"].as_u64(), report["charts"].as_u64(), report["manifestFiles"].as_u64()),
        (Some(2), Some(1), Some(3))
    );

    let zarf = dir.path().join("zarf");
    let written = std::fs::read_to_string(zarf.join("zarf.yaml")).unwrap();
    let doc: serde_json::Value = serde_yaml_ng::from_str(&written).unwrap();
    schema::validate(&schema::schemas().join("zarf.schema.json"), &doc).unwrap_or_else(|e| panic!("{e}\n{written}"));

    assert_eq!(doc["kind"], "ZarfPackageConfig");
    assert_eq!(doc["metadata"]["name"], "demo");
    assert_eq!(doc["metadata"]["version"], "0.1.0");
    let component = &doc["components"][0];
    assert_eq!(component["name"], "demo");
    assert_eq!(component["required"], true);
    assert_eq!(
        component["images"],
        serde_json::json!(["registry.example.com/demo/app:1.0", format!("docker.io/library/nginx@{PINNED}")])
    );
    assert_eq!(
        component["charts"],
        serde_json::json!([{ "name": "web", "namespace": "demo", "localPath": "../charts/web-0.1.0.tgz" }])
    );
    let files: Vec<&str> =
        component["manifests"][0]["files"].as_array().unwrap().iter().map(|f| f.as_str().unwrap()).collect();
    assert_eq!(files, ["../manifests/deployment.yaml", "../manifests/namespace.yaml", "../manifests/service.yaml"]);
    // Zarf resolves them against the folder of zarf.yaml: each names the spec's own file.
    for path in files.iter().chain([&"../charts/web-0.1.0.tgz"]) {
        let name = Path::new(path).strip_prefix("..").unwrap();
        assert_eq!(std::fs::read(zarf.join(path)).unwrap(), std::fs::read(dir.path().join(name)).unwrap());
    }

    // --namespace puts the chart elsewhere.
    let out = builder(&["zarf-definition", "-f", "bundle.yaml", "-o", "zarf", "--namespace", "edge"], dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let doc: serde_json::Value =
        serde_yaml_ng::from_str(&std::fs::read_to_string(zarf.join("zarf.yaml")).unwrap()).unwrap();
    assert_eq!(doc["components"][0]["charts"][0]["namespace"], "edge");
}

/// `zarf-definition` on a spec with `body` fails with a usage error whose message has every
/// one of `expected`, and writes no `zarf.yaml`.
fn refused(body: &str, expected: &[&str]) {
    let dir = tempfile::tempdir().unwrap();
    copy_inputs(dir.path());
    std::fs::write(dir.path().join("bundle.yaml"), spec(body)).unwrap();
    let out = builder(&["zarf-definition", "-f", "bundle.yaml", "-o", "zarf"], dir.path(), &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    for e in expected {
        assert!(stderr.contains(e), "expected {e:?} in {stderr}");
    }
    assert!(!dir.path().join("zarf/zarf.yaml").exists());
}

#[test]
fn an_image_from_an_oci_layout_is_refused_naming_the_image_and_why() {
    refused(
        "  images:\n    - { name: app, image: \"oci:images/app:1.0\", ref: registry.example.com/demo/app:1.0 }\n",
        &["image app", "oci:images/app:1.0", "Zarf cannot pull", "push the image to a registry"],
    );
}

#[test]
fn an_image_the_manifests_name_by_another_reference_is_refused() {
    refused(
        "  images:\n    - { name: app, image: \"docker://registry.example.com/demo/app:1.0\", ref: mirror.example.com/app:1.0 }\n",
        &["image app", "manifests name it mirror.example.com/app:1.0", "would not resolve"],
    );
}

#[test]
fn a_repository_chart_pinned_by_digest_is_refused_as_zarf_could_not_check_the_pin() {
    refused(
        &format!(
            "  charts: [ {{ name: web, repo: \"https://charts.example.com\", version: 0.1.0, digest: \"{PINNED}\" }} ]\n"
        ),
        &["chart web is pinned to", PINNED, "path:"],
    );
}
