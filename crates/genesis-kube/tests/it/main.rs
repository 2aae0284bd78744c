//! The embedder's path: [`genesis_kube::install`] called directly on the committed fixtures,
//! against a real Distribution registry and kube-apiserver on loopback (both stopped on
//! drop), with no command line in between.

// Test helpers are not a public API, and a panic is how a test reports failure.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use genesis_kube::{Cluster, InstallOptions, InstallTarget, KubeError, Refusal};
use genesis_registry::{Registry, RegistryOptions};
use genesis_testkit::Distribution;
use genesis_testkit::kube::KubeApiserver;
use genesis_trust::{PublicKey, SignedBom as _, TrustPolicy, UnverifiedBundle, VerifiedBundle};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, Patch, PatchParams};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// `fixtures/bundles/good` (demo 0.1.0), its signature verified with the fixture key.
fn good() -> VerifiedBundle {
    let key = PublicKey::from_pem_file(&fixtures().join("keys/test.pub")).unwrap();
    let policy = TrustPolicy::from_keys(vec![key]).unwrap();
    let bundle = fixtures().join("bundles/good/demo-0.1.0.tar.zst");
    UnverifiedBundle::open(&bundle, &Default::default()).unwrap().verify(&policy).unwrap()
}

/// Images go to `host` over plain HTTP, without a repository prefix.
fn target(host: &str) -> InstallTarget {
    let options = RegistryOptions { plain_http: true, ..Default::default() };
    InstallTarget { registry: Registry::new(host, &options).unwrap(), destination: host.parse().unwrap() }
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap()
}

#[test]
fn install_pushes_the_images_applies_and_records_the_bundle() {
    let (api, registry, runtime) = (KubeApiserver::start(), Distribution::start(), runtime());
    let cluster = runtime.block_on(Cluster::connect(Some(api.kubeconfig().as_path()))).unwrap();
    let bundle = good();
    let (bom_digest, pinned) = (bundle.bom_sha256().to_string(), bundle.bom().images[0].digest.clone());
    let target = target(&registry.host());

    let report = runtime
        .block_on(genesis_kube::install(bundle, &target, Some(&cluster), &InstallOptions::default(), &()))
        .unwrap();
    assert!(report.succeeded());

    // The image, by its tag, is the index the BOM pins.
    assert_eq!(report.images[0].target, format!("{}/demo/app@{pinned}", registry.host()));
    let pushed = runtime.block_on(target.registry.get_manifest("demo/app", "1.0")).unwrap();
    assert_eq!(pushed.digest, pinned);

    // The whole payload was checked, and the record says so.
    assert_eq!(report.verification.payload, "every entry checked against the signed BOM");
    assert_eq!(report.verification.sidecars, ".sha256 matched, .sig verified, .cosign.bundle verified");
    let record = runtime.block_on(genesis_kube::read_record(&cluster, "demo")).unwrap().unwrap();
    assert_eq!((record.version.as_str(), record.bom_digest.as_str()), ("0.1.0", bom_digest.as_str()));
    assert_eq!(record.verification, report.verification);
    assert_eq!(record.objects, ["Namespace demo", "Deployment demo/app", "Service demo/app"]);
}

#[test]
fn install_refuses_a_downgrade_on_its_own_before_contacting_the_registry() {
    let (api, runtime) = (KubeApiserver::start(), runtime());
    let cluster = runtime.block_on(Cluster::connect(Some(api.kubeconfig().as_path()))).unwrap();
    // The cluster records demo 1.0.0 as installed.
    let apply = PatchParams::apply("genesis");
    let namespace =
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "genesis-system"}});
    let namespaces: Api<Namespace> = Api::all(cluster.client().clone());
    runtime.block_on(namespaces.patch("genesis-system", &apply, &Patch::Apply(&namespace))).unwrap();
    let record = r#"{"name": "demo", "version": "1.0.0", "bomDigest": "sha256:00", "appliedAt": "2026-01-01T00:00:00Z", "objects": []}"#;
    let map = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "genesis-bundle-demo", "labels": {"app.kubernetes.io/managed-by": "genesis"}},
        "data": {"record": record}});
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), "genesis-system");
    runtime.block_on(maps.patch("genesis-bundle-demo", &apply, &Patch::Apply(&map))).unwrap();

    // Nothing listens on the registry's port: reaching it would be a network error.
    let nowhere = target(&format!("127.0.0.1:{}", genesis_testkit::free_port()));
    let refused =
        runtime.block_on(genesis_kube::install(good(), &nowhere, Some(&cluster), &InstallOptions::default(), &()));
    match refused {
        Err(KubeError::Refused(Refusal::Downgrade { reason })) => {
            assert!(reason.starts_with("demo 0.1.0 is older than 1.0.0, installed on https://127.0.0.1:"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let kept = runtime.block_on(genesis_kube::read_record(&cluster, "demo")).unwrap().unwrap();
    assert_eq!(kept.version, "1.0.0");
}
