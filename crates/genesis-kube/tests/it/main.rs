//! The embedder's path: [`genesis_kube::install`] called directly on the committed fixtures,
//! against a real Distribution registry and kube-apiserver on loopback (both stopped on
//! drop), with no command line in between.

// Test helpers are not a public API, and a panic is how a test reports failure.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::{Path, PathBuf};

use genesis_kube::{ApplyMode, Cluster, Evidence, InstallOptions, InstallProgress, InstallTarget, KubeError, Refusal};
use genesis_registry::{Registry, RegistryError, RegistryOptions};
use genesis_testkit::Distribution;
use genesis_testkit::kube::KubeApiserver;
use genesis_trust::{
    AcceptedSigner, PrivateKey, PublicKey, SignedBom as _, TrustPolicy, UnverifiedBundle, VerifiedBundle,
};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, Patch, PatchParams};

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

fn good_archive() -> PathBuf {
    fixtures().join("bundles/good/demo-0.1.0.tar.zst")
}

/// `bundle`, its signature verified with `policy`.
fn verified(bundle: &Path, policy: &TrustPolicy) -> VerifiedBundle {
    UnverifiedBundle::open(bundle, &Default::default()).unwrap().verify(policy).unwrap()
}

/// The fixture key alone.
fn fixture_policy() -> TrustPolicy {
    TrustPolicy::from_keys(vec![PublicKey::from_pem_file(&fixtures().join("keys/test.pub")).unwrap()]).unwrap()
}

/// `fixtures/bundles/good` (demo 0.1.0), its signature verified with the fixture key.
fn good() -> VerifiedBundle {
    verified(&good_archive(), &fixture_policy())
}

/// A bundle `name` at `version` of `manifests` (file name, YAML) and nothing else, built in
/// `dir` and signed with the fixture key, its signature verified.
fn built(dir: &Path, name: &str, version: &str, manifests: &[(&str, &str)]) -> VerifiedBundle {
    std::fs::create_dir_all(dir.join("manifests")).unwrap();
    for (file, yaml) in manifests {
        std::fs::write(dir.join("manifests").join(file), yaml).unwrap();
    }
    let spec = dir.join("bundle.yaml");
    std::fs::write(
        &spec,
        format!("apiVersion: genesis.dev/v1alpha1\nkind: Bundle\nmetadata: {{ name: {name}, version: {version} }}\nspec:\n  manifests: [ {{ path: manifests/ }} ]\n  output: {{ dir: out }}\n"),
    )
    .unwrap();
    let spec = genesis_build::BundleSpec::load(&spec).unwrap();
    let key = PrivateKey::from_pem_file(&fixtures().join("keys/test.key")).unwrap();
    let archive = genesis_build::build(&spec, &key, &Default::default()).unwrap().archive;
    verified(&archive, &fixture_policy())
}

const SETTINGS: &str =
    "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: settings, namespace: default}\ndata: {mode: fast}\n";

/// Images go to `host` over plain HTTP, without a repository prefix.
fn target(host: &str) -> InstallTarget {
    let options = RegistryOptions { plain_http: true, ..Default::default() };
    InstallTarget { registry: Registry::new(host, &options).unwrap(), destination: host.parse().unwrap() }
}

/// A registry nothing listens on: reaching it would be a network error.
fn nowhere() -> InstallTarget {
    target(&format!("127.0.0.1:{}", genesis_testkit::free_port()))
}

fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap()
}

/// An install record of bundle `name` at `version`.
fn installed(name: &str, version: &str) -> serde_json::Value {
    serde_json::json!({"name": name, "version": version, "bomDigest": "sha256:00",
        "appliedAt": "2026-01-01T00:00:00Z", "objects": []})
}

/// Writes `record` as the install record of bundle `name` (one that is a valid object name),
/// as another install would: with a client and a runtime of its own, so that it also runs
/// from within an install's progress callback.
fn plant(kubeconfig: &Path, name: &str, record: &serde_json::Value) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let cluster = Cluster::connect(Some(kubeconfig)).await.unwrap();
        let apply = PatchParams::apply("genesis").force();
        let namespace =
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "genesis-system"}});
        let namespaces: Api<Namespace> = Api::all(cluster.client().clone());
        namespaces.patch("genesis-system", &apply, &Patch::Apply(&namespace)).await.unwrap();
        let map_name = format!("genesis-bundle-{name}");
        let map = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
            "metadata": {"name": map_name, "labels": {"app.kubernetes.io/managed-by": "genesis"}},
            "data": {"record": record.to_string()}});
        let maps: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), "genesis-system");
        maps.patch(&map_name, &apply, &Patch::Apply(&map)).await.unwrap();
    });
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
    // Who signed it and its BOM's BLAKE3, for an audit without verifying it again.
    let key = PublicKey::from_pem_file(&fixtures().join("keys/test.pub")).unwrap();
    let vendor = AcceptedSigner::Key { fingerprint: key.fingerprint().to_string() };
    assert_eq!(record.signers, [genesis_kube::RecordedSigner::Known(vendor)]);
    assert_eq!(record.bom_blake3, b3sum_of_bom(&good_archive()));
}

/// The BLAKE3 of `archive`'s `bom.json` as the real `b3sum` computes it.
fn b3sum_of_bom(archive: &Path) -> String {
    let bom = genesis_bundle::ArchiveReader::open_head(archive, &Default::default()).unwrap().read_head().unwrap().bom;
    let mut b3sum = std::process::Command::new("b3sum")
        .arg("--no-names")
        .stdin(std::process::Stdio::piped())
        .stdout(std::process::Stdio::piped())
        .spawn()
        .expect("b3sum must be installed");
    std::io::Write::write_all(&mut b3sum.stdin.take().unwrap(), &bom).unwrap();
    let out = b3sum.wait_with_output().unwrap();
    assert!(out.status.success());
    String::from_utf8(out.stdout).unwrap().trim().to_owned()
}

#[test]
fn install_refuses_a_downgrade_on_its_own_before_contacting_the_registry() {
    let (api, runtime) = (KubeApiserver::start(), runtime());
    let cluster = runtime.block_on(Cluster::connect(Some(api.kubeconfig().as_path()))).unwrap();
    // The cluster records demo 1.0.0 as installed.
    plant(&api.kubeconfig(), "demo", &installed("demo", "1.0.0"));

    let refused =
        runtime.block_on(genesis_kube::install(good(), &nowhere(), Some(&cluster), &InstallOptions::default(), &()));
    match refused {
        Err(KubeError::Refused(Refusal::Downgrade { reason })) => {
            assert!(reason.starts_with("demo 0.1.0 is older than 1.0.0, installed on https://127.0.0.1:"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let kept = runtime.block_on(genesis_kube::read_record(&cluster, "demo")).unwrap().unwrap();
    assert_eq!(kept.version, "1.0.0");
}

/// The API server reads any name but writes only DNS-1123 ones: a bundle whose name makes no
/// valid ConfigMap name is recorded under its name's hash, so that it has a record, and
/// anti-rollback (an older version refused, and the same version with another BOM), like
/// any other.
#[test]
fn a_bundle_named_in_capitals_is_recorded_under_a_derived_name_and_an_older_one_refused() {
    let (api, runtime) = (KubeApiserver::start(), runtime());
    let cluster = runtime.block_on(Cluster::connect(Some(api.kubeconfig().as_path()))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let newer = built(&dir.path().join("1.0.0"), "MyApp", "1.0.0", &[("settings.yaml", SETTINGS)]);
    let report = runtime
        .block_on(genesis_kube::install(newer, &nowhere(), Some(&cluster), &InstallOptions::default(), &()))
        .unwrap();
    assert!(report.succeeded());

    let record = runtime.block_on(genesis_kube::read_record(&cluster, "MyApp")).unwrap().unwrap();
    assert_eq!((record.name.as_str(), record.version.as_str()), ("MyApp", "1.0.0"));
    // `genesis-bundle-` and the first 128 bits of SHA-256("MyApp"), the name in an annotation.
    let map_name = "genesis-bundle-4de339ce6a64d7c807b68dc79df5ea2a";
    assert_eq!(record.location(), format!("genesis-system/{map_name}"));
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), "genesis-system");
    let map = runtime.block_on(maps.get(map_name)).unwrap();
    assert_eq!(map.metadata.annotations.unwrap()["genesis.dev/bundle-name"], "MyApp");
    let listed = runtime.block_on(genesis_kube::read_records(&cluster)).unwrap();
    assert_eq!(listed, [record]);

    let older = built(&dir.path().join("0.9.0"), "MyApp", "0.9.0", &[("settings.yaml", SETTINGS)]);
    let refused =
        runtime.block_on(genesis_kube::install(older, &nowhere(), Some(&cluster), &InstallOptions::default(), &()));
    match refused {
        Err(KubeError::Refused(Refusal::Downgrade { reason })) => {
            assert!(reason.starts_with("MyApp 0.9.0 is older than 1.0.0, installed on https://127.0.0.1:"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let slow = SETTINGS.replace("fast", "slow");
    let rebuilt = built(&dir.path().join("1.0.0-again"), "MyApp", "1.0.0", &[("settings.yaml", slow.as_str())]);
    let refused =
        runtime.block_on(genesis_kube::install(rebuilt, &nowhere(), Some(&cluster), &InstallOptions::default(), &()));
    match refused {
        Err(KubeError::Refused(Refusal::Downgrade { reason })) => {
            assert!(reason.contains(": same version, different content (install record genesis-system/genesis-bundle-4de339ce6a64d7c807b68dc79df5ea2a)"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}

/// Told that the bundle verified (its images loaded, nothing applied yet), records `version`
/// of bundle `name` as installed, as another install finishing meanwhile would.
struct Overtake<'a> {
    kubeconfig: &'a Path,
    name: &'a str,
    version: &'a str,
}

impl InstallProgress for Overtake<'_> {
    fn verified(&self, _: &Evidence<'_>) {
        // On a thread of its own: the install's runtime waits for this call.
        std::thread::scope(|s| {
            s.spawn(|| plant(self.kubeconfig, self.name, &installed(self.name, self.version)));
        });
    }
}

#[test]
fn a_newer_version_recorded_while_the_images_load_refuses_the_install_before_the_apply() {
    let (api, registry, runtime) = (KubeApiserver::start(), Distribution::start(), runtime());
    let cluster = runtime.block_on(Cluster::connect(Some(api.kubeconfig().as_path()))).unwrap();
    let kubeconfig = api.kubeconfig();
    let overtake = Overtake { kubeconfig: &kubeconfig, name: "demo", version: "1.0.0" };

    let refused = runtime.block_on(genesis_kube::install(
        good(),
        &target(&registry.host()),
        Some(&cluster),
        &InstallOptions::default(),
        &overtake,
    ));
    match refused {
        Err(KubeError::Refused(Refusal::Overtaken { reason })) => {
            assert!(reason.starts_with("demo 0.1.0 is older than 1.0.0, installed on https://127.0.0.1:"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
    let namespaces: Api<Namespace> = Api::all(cluster.client().clone());
    assert!(runtime.block_on(namespaces.get_opt("demo")).unwrap().is_none(), "nothing was applied");
    let kept = runtime.block_on(genesis_kube::read_record(&cluster, "demo")).unwrap().unwrap();
    assert_eq!(kept.version, "1.0.0");
}

/// The one step between the last check and the record is the apply; here the bundle's own
/// manifests record a newer version in it. The install's record is written only at the
/// version it judged, so the newer one is judged in turn and stays.
#[test]
fn a_newer_record_written_during_the_apply_is_judged_and_never_overwritten() {
    let (api, runtime) = (KubeApiserver::start(), runtime());
    let cluster = runtime.block_on(Cluster::connect(Some(api.kubeconfig().as_path()))).unwrap();
    let namespace = "apiVersion: v1\nkind: Namespace\nmetadata: {name: genesis-system}\n";
    let newer = format!(
        "apiVersion: v1\nkind: ConfigMap\nmetadata:\n  name: genesis-bundle-widgets\n  namespace: genesis-system\ndata:\n  record: '{}'\n",
        installed("widgets", "9.0.0")
    );
    let dir = tempfile::tempdir().unwrap();
    let bundle =
        built(dir.path(), "widgets", "1.0.0", &[("namespace.yaml", namespace), ("record.yaml", newer.as_str())]);

    let changed =
        runtime.block_on(genesis_kube::install(bundle, &nowhere(), Some(&cluster), &InstallOptions::default(), &()));
    match changed {
        Err(KubeError::RecordChanged { record, reason }) => {
            assert_eq!(record, "genesis-system/genesis-bundle-widgets");
            assert!(
                reason.starts_with("widgets 1.0.0 is older than 9.0.0, installed on https://127.0.0.1:"),
                "{reason}"
            );
        }
        other => panic!("{other:?}"),
    }
    let kept = runtime.block_on(genesis_kube::read_record(&cluster, "widgets")).unwrap().unwrap();
    assert_eq!(kept.version, "9.0.0");
}

#[test]
fn a_dry_run_records_nothing_in_the_policy_anti_rollback_state() {
    let (api, registry, runtime) = (KubeApiserver::start(), Distribution::start(), runtime());
    let cluster = runtime.block_on(Cluster::connect(Some(api.kubeconfig().as_path()))).unwrap();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("trust.yaml");
    let key = fixtures().join("keys/test.pub");
    std::fs::write(&policy, format!("keys: ['{}']\nantiRollback: {{state: installed.json}}\n", key.display())).unwrap();
    let policy = genesis_trust::policy_file::load(&policy).unwrap();
    let state = dir.path().join("installed.json");
    let target = target(&registry.host());
    // The bundle's namespace exists: a dry run creates none for its objects to go in.
    let namespaces: Api<Namespace> = Api::all(cluster.client().clone());
    let demo = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}});
    runtime.block_on(namespaces.patch("demo", &PatchParams::apply("test"), &Patch::Apply(&demo))).unwrap();

    let dry_run = InstallOptions { apply: ApplyMode::DryRun, ..InstallOptions::default() };
    let report = runtime
        .block_on(genesis_kube::install(verified(&good_archive(), &policy), &target, Some(&cluster), &dry_run, &()))
        .unwrap();
    assert!(report.apply.unwrap().dry_run);
    assert!(!state.exists(), "a dry run records nothing");
    assert!(runtime.block_on(genesis_kube::read_record(&cluster, "demo")).unwrap().is_none());

    // The same install, for real, records the bundle.
    let options = InstallOptions::default();
    runtime
        .block_on(genesis_kube::install(verified(&good_archive(), &policy), &target, Some(&cluster), &options, &()))
        .unwrap();
    let state: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
    assert_eq!(state["bundles"]["demo"]["version"], "0.1.0");
    // With who signed it, as the cluster's install record keeps it.
    let record = runtime.block_on(genesis_kube::read_record(&cluster, "demo")).unwrap().unwrap();
    assert_eq!(state["bundles"]["demo"]["signers"], serde_json::to_value(&record.signers).unwrap());
    assert_eq!(state["bundles"]["demo"]["bomBlake3"], record.bom_blake3.as_str());
}

/// Pushing only the manifests skips reading the payload, so it takes the proof that the
/// attestations the policy judged were checked: of the bundle planned, not of another one.
#[test]
fn pushing_only_the_manifests_takes_the_attestations_of_the_bundle_planned() {
    let dir = tempfile::tempdir().unwrap();
    let planned = built(&dir.path().join("a"), "widgets", "1.0.0", &[("settings.yaml", SETTINGS)]);
    let other = built(&dir.path().join("b"), "widgets", "1.0.1", &[("settings.yaml", SETTINGS)]);
    let InstallTarget { registry, destination } = nowhere();

    let pushed = runtime().block_on(async {
        let plan = genesis_registry::LoadPlan::new(&planned, &registry, &destination).await.unwrap();
        let attested = other.check_attestations().unwrap();
        genesis_registry::push_manifests_only(plan, &attested, &registry).await
    });
    match pushed {
        Err(RegistryError::Invalid(reason)) => {
            assert!(reason.starts_with("the load plan is of the bundle whose BOM is sha256:"), "{reason}");
        }
        other => panic!("{other:?}"),
    }
}
