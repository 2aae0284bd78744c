//! `bundle-loader load --apply` against a real kube-apiserver 1.20 (over Debian's etcd, on
//! loopback): server-side apply in order, a re-run that changes nothing, images rewritten to
//! the registry by digest and read back from the server, conflicts reported and not forced,
//! CRDs waited for until Established, objects a newer bundle drops reported, dry runs, and
//! the install record. No controllers run here, so nothing reconciles what is applied.
//! The server is read back with kube-rs, and plays the controllers' part through the status
//! subresource.

use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use genesis_testkit::Distribution;
use genesis_testkit::kube::KubeApiserver;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::{Api, Patch, PatchParams};

/// A kube-rs client for `api`, and a runtime to drive it.
fn client(api: &KubeApiserver) -> (kube::Client, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client = runtime.block_on(async {
        let file = kube::config::Kubeconfig::read_from(api.kubeconfig()).unwrap();
        let config = kube::Config::from_custom_kubeconfig(file, &Default::default()).await.unwrap();
        kube::Client::try_from(config).unwrap()
    });
    (client, runtime)
}

/// The install records' ConfigMaps (their namespace `genesis-system` made first), with the
/// runtime to call them on.
fn install_records(api: &KubeApiserver) -> (Api<ConfigMap>, tokio::runtime::Runtime) {
    let (client, runtime) = client(api);
    let namespace =
        serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "genesis-system"}});
    let namespaces: Api<Namespace> = Api::all(client.clone());
    let apply = PatchParams::apply("genesis").force();
    runtime.block_on(namespaces.patch("genesis-system", &apply, &Patch::Apply(&namespace))).unwrap();
    (Api::namespaced(client, "genesis-system"), runtime)
}

/// Writes `record` as the install record of bundle `demo`, as an install would.
fn plant_demo_record(records: &Api<ConfigMap>, runtime: &tokio::runtime::Runtime, record: &str) {
    let map = serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap",
        "metadata": {"name": "genesis-bundle-demo", "labels": {"app.kubernetes.io/managed-by": "genesis"}},
        "data": {"record": record}});
    let apply = PatchParams::apply("genesis").force();
    runtime.block_on(records.patch("genesis-bundle-demo", &apply, &Patch::Apply(&map))).unwrap();
}

use crate::{case, fixtures, loader, text};

fn load_apply(bundle: &Path, registry: &Distribution, api: &KubeApiserver, extra: &[&str]) -> std::process::Output {
    let kubeconfig = api.kubeconfig();
    let apply = ["--plain-http", "--apply", "--kubeconfig", kubeconfig.to_str().unwrap()];
    crate::load_into(bundle, &registry.host(), &[&apply[..], extra].concat())
}

fn json(out: &std::process::Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}{}", text(&out.stdout), text(&out.stderr)))
}

fn outcomes(report: &serde_json::Value) -> Vec<(String, String)> {
    report["apply"]["objects"]
        .as_array()
        .unwrap()
        .iter()
        .map(|o| {
            (
                format!("{} {}", o["kind"].as_str().unwrap(), o["name"].as_str().unwrap()),
                o["outcome"].as_str().unwrap().to_owned(),
            )
        })
        .collect()
}

#[test]
fn the_demo_bundle_applies_in_order_with_rewritten_images_and_a_rerun_changes_nothing() {
    let api = KubeApiserver::start();
    let registry = Distribution::start();
    let first = load_apply(&case("good"), &registry, &api, &["--output", "json"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let report = json(&first);
    assert_eq!(
        outcomes(&report),
        [("Namespace demo", "created"), ("Deployment app", "created"), ("Service app", "created")]
            .map(|(a, b)| (a.to_owned(), b.to_owned()))
    );

    // The Deployment as the server stores it: the image is the registry's, by digest.
    let (client, runtime) = client(&api);
    let deployments: Api<Deployment> = Api::namespaced(client.clone(), "demo");
    let deployment = runtime.block_on(deployments.get("app")).unwrap();
    let pod = deployment.spec.unwrap().template.spec.unwrap();
    let image = pod.containers[0].image.clone().unwrap();
    assert_eq!(image, format!("{}/demo/app@{}", registry.host(), crate::good_image_digest()));
    let annotations = deployment.metadata.annotations.unwrap();
    assert!(
        annotations["genesis.dev/original-images"].contains("registry.example.com/demo/app:1.0"),
        "{annotations:?}"
    );
    let managers: Vec<String> =
        deployment.metadata.managed_fields.unwrap().into_iter().map(|m| m.manager.unwrap()).collect();
    assert_eq!(managers, ["genesis"]);

    // What is installed is recorded in the cluster.
    let records: Api<ConfigMap> = Api::namespaced(client, "genesis-system");
    let record = runtime.block_on(records.get("genesis-bundle-demo")).unwrap();
    let record: serde_json::Value = serde_json::from_str(&record.data.unwrap()["record"]).unwrap();
    assert_eq!(record["version"], "0.1.0");
    assert_eq!(record["objects"].as_array().unwrap().len(), 3);

    let status = loader(&["status", "--kubeconfig", api.kubeconfig().to_str().unwrap(), "--output", "json"]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status.stderr));
    let listed = json(&status);
    assert_eq!(listed["bundles"][0]["name"], "demo");
    // Who signed it and its BOM's SHA-256 and BLAKE3, from the record, without verifying again.
    let signer = genesis_trust::PublicKey::from_pem_file(&crate::test_pub()).unwrap().fingerprint();
    let bom = crate::bom_bytes(&case("good"));
    let (sha256, blake3) = (genesis_bundle::sha256(&bom).to_string(), crate::b3sum(&bom));
    assert_eq!(listed["bundles"][0]["signers"], serde_json::json!([{"kind": "key", "fingerprint": signer}]));
    assert_eq!(listed["bundles"][0]["bomDigest"], sha256.as_str());
    assert_eq!(listed["bundles"][0]["bomBlake3"], blake3.as_str());
    let human = loader(&["status", "--kubeconfig", api.kubeconfig().to_str().unwrap()]);
    assert_eq!(human.status.code(), Some(0), "{}", text(&human.stderr));
    let t = text(&human.stdout);
    assert!(t.starts_with("demo 0.1.0  applied "), "{t}");
    assert!(t.contains(&format!("\n  signed by key {signer}\n  BOM {sha256} blake3:{blake3}\n")), "{t}");

    // An older release is refused from the cluster's own record, before anything is pushed.
    let older_dir = tempfile::tempdir().unwrap();
    let older = crate::policy::demo_at("0.0.9", older_dir.path());
    let refused = load_apply(&older, &registry, &api, &[]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("demo 0.0.9 is older than 0.1.0, installed on https://127.0.0.1:"),
        "{}",
        text(&refused.stderr)
    );
    let allowed = load_apply(&older, &registry, &api, &["--allow-downgrade"]);
    assert_eq!(allowed.status.code(), Some(0), "{}", text(&allowed.stderr));
    assert!(
        text(&allowed.stderr).contains("downgrading demo from 0.1.0 to 0.0.9 (--allow-downgrade)"),
        "{}",
        text(&allowed.stderr)
    );

    let again = load_apply(&case("good"), &registry, &api, &[]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    let t = text(&again.stdout);
    assert!(t.contains("= Deployment demo/app unchanged"), "{t}");
    assert!(t.contains("no change: https://127.0.0.1:"), "{t}");
}

/// Anti-rollback judges from the cluster's install record, so a record it cannot read, or a
/// version that is not a semantic version (installed or loaded), is refused before anything
/// is pushed, naming the record and `--allow-downgrade`, never taken for "nothing
/// installed"; with the flag the load goes ahead and the record is replaced, saying what
/// was verified.
#[test]
fn an_install_record_anti_rollback_cannot_compare_refuses_the_load_unless_allowed() {
    let api = KubeApiserver::start();
    let registry = Distribution::start();
    let (records, runtime) = install_records(&api);
    let plant = |record: &str| plant_demo_record(&records, &runtime, record);
    let recorded = || {
        let map = runtime.block_on(records.get("genesis-bundle-demo")).unwrap();
        serde_json::from_str::<serde_json::Value>(&map.data.unwrap()["record"]).unwrap()
    };
    // What the record says was verified, as the one line it renders to.
    let verification = || {
        let fields = recorded()["verification"].clone();
        serde_json::from_value::<genesis_kube::Verification>(fields).unwrap().to_string()
    };
    let refused = |bundle: &Path, why: &str| {
        let out = load_apply(bundle, &registry, &api, &[]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{stderr}");
        assert!(stderr.contains(why), "{stderr}");
        assert!(stderr.contains("pass --allow-downgrade to do it anyway"), "{stderr}");
    };

    plant("not a record");
    refused(&case("good"), "install record genesis-system/genesis-bundle-demo is unreadable");
    let status = loader(&["status", "--kubeconfig", api.kubeconfig().to_str().unwrap()]);
    assert_ne!(status.status.code(), Some(0), "{}", text(&status.stdout));
    assert!(
        text(&status.stderr).contains("genesis-system/genesis-bundle-demo is unreadable"),
        "{}",
        text(&status.stderr)
    );
    let garbage = r#"{"name": "demo", "version": "garbage", "bomDigest": "sha256:00", "appliedAt": "2026-01-01T00:00:00Z", "objects": []}"#;
    plant(garbage);
    refused(
        &case("good"),
        r#"install record genesis-system/genesis-bundle-demo: the installed version "garbage" is not a semantic version"#,
    );
    assert_eq!(registry.stored_blobs(), 0, "a refused load pushes nothing");

    let allowed = load_apply(&case("good"), &registry, &api, &["--allow-downgrade"]);
    assert_eq!(allowed.status.code(), Some(0), "{}", text(&allowed.stderr));
    assert!(
        text(&allowed.stderr).contains("anti-rollback not checked (--allow-downgrade)"),
        "{}",
        text(&allowed.stderr)
    );
    assert_eq!(recorded()["version"], "0.1.0");
    assert_eq!(
        verification(),
        "payload: every entry checked against the signed BOM; sbom: verified; provenance: verified; sidecars: .sha256 matched, .sig verified, .cosign.bundle verified"
    );

    let nightly_dir = tempfile::tempdir().unwrap();
    let nightly = crate::policy::demo_at("nightly", nightly_dir.path());
    refused(&nightly, r#"demo "nightly" is not a semantic version"#);
    assert_eq!(recorded()["version"], "0.1.0");

    // A re-load does not read the payload again: the record it writes says so.
    plant("not a record");
    let reload = load_apply(&case("good"), &registry, &api, &["--allow-downgrade"]);
    assert_eq!(reload.status.code(), Some(0), "{}", text(&reload.stderr));
    assert_eq!(
        verification(),
        "payload: not re-read, every blob already in the registry under its signed digest; sbom: verified; provenance: verified; sidecars: not checked"
    );
}

/// `status` prints what the install records say, which whoever may edit ConfigMaps in
/// genesis-system writes: an escape sequence or a newline in a record's name or in a signer's
/// identity shows as text, and a signer of a kind this version does not know is listed as
/// written, the record still read.
#[test]
fn status_shows_a_planted_record_escaped_and_a_signer_of_an_unknown_kind_as_written() {
    let api = KubeApiserver::start();
    let (records, runtime) = install_records(&api);
    let record = serde_json::json!({"name": "demo\u{1b}[2J", "version": "1.0.0", "bomDigest": "sha256:00",
        "appliedAt": "2026-01-01T00:00:00Z", "objects": [],
        "signers": [{"kind": "identity", "subject": "ops@acme.example\n✓ signed by key SHA256:vendor",
            "issuer": "https://idp\u{1b}[0m"}, {"kind": "tpm", "quote": "q"}]});
    plant_demo_record(&records, &runtime, &record.to_string());

    let status = loader(&["status", "--kubeconfig", api.kubeconfig().to_str().unwrap()]);
    assert_eq!(status.status.code(), Some(0), "{}", text(&status.stderr));
    let t = text(&status.stdout);
    assert!(!t.contains('\u{1b}'), "{t:?}");
    assert_eq!(
        t,
        "demo\\u{1b}[2J 1.0.0  applied 2026-01-01T00:00:00Z  (0 objects)\n  signed by identity ops@acme.example\\u{a}✓ \
         signed by key SHA256:vendor (issuer https://idp\\u{1b}[0m), countersigned by a signer unknown to this version: \
         {\"kind\":\"tpm\",\"quote\":\"q\"}\n  BOM sha256:00\n"
    );
    let json = loader(&["status", "--kubeconfig", api.kubeconfig().to_str().unwrap(), "--output", "json"]);
    assert_eq!(json.status.code(), Some(0), "{}", text(&json.stderr));
    let listed: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(listed["bundles"][0]["signers"], record["signers"]);
}

#[test]
fn a_conflict_with_another_manager_is_reported_with_the_field_and_not_forced() {
    let api = KubeApiserver::start();
    let registry = Distribution::start();
    assert_eq!(load_apply(&case("good"), &registry, &api, &[]).status.code(), Some(0));
    // Someone scales the Deployment with their own field manager, taking `spec.replicas`
    // (what `kubectl apply --server-side --force-conflicts` does).
    let (client, runtime) = client(&api);
    let deployments: Api<Deployment> = Api::namespaced(client, "demo");
    let scale = serde_json::json!({"apiVersion": "apps/v1", "kind": "Deployment", "metadata": {"name": "app", "namespace": "demo"}, "spec": {"replicas": 3}});
    runtime.block_on(deployments.patch("app", &PatchParams::apply("kubectl").force(), &Patch::Apply(&scale))).unwrap();

    let out = load_apply(&case("good"), &registry, &api, &["--output", "json"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let report = json(&out);
    let conflict = report["apply"]["objects"].as_array().unwrap().iter().find(|o| o["outcome"] == "conflict").unwrap();
    assert_eq!(conflict["kind"], "Deployment");
    let message = conflict["conflict"].as_str().unwrap();
    assert!(message.contains("kubectl") && message.contains(".spec.replicas"), "{message}");
    let deployment = runtime.block_on(deployments.get("app")).unwrap();
    assert_eq!(deployment.spec.unwrap().replicas, Some(3), "not forced");
}

/// A bundle of `manifests` (file name, YAML) at `version`, signed with the fixture key.
fn manifests_bundle(dir: &Path, version: &str, manifests: &[(&str, &str)]) -> PathBuf {
    std::fs::create_dir_all(dir.join("manifests")).unwrap();
    for (name, yaml) in manifests {
        std::fs::write(dir.join("manifests").join(name), yaml).unwrap();
    }
    std::fs::write(
        dir.join("bundle.yaml"),
        format!("apiVersion: genesis.dev/v1alpha1\nkind: Bundle\nmetadata: {{ name: widgets, version: {version} }}\nspec:\n  manifests: [ {{ path: manifests/ }} ]\n  output: {{ dir: out }}\n"),
    )
    .unwrap();
    let spec = genesis_build::BundleSpec::load(&dir.join("bundle.yaml")).unwrap();
    let key = genesis_trust::PrivateKey::from_pem_file(&fixtures().join("keys/test.key")).unwrap();
    genesis_build::build(&spec, &key, &Default::default()).unwrap().archive
}

const CRD: &str = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: widgets.example.com}\nspec:\n  group: example.com\n  scope: Namespaced\n  names: {plural: widgets, singular: widget, kind: Widget}\n  versions:\n  - name: v1\n    served: true\n    storage: true\n    subresources: {status: {}}\n    schema:\n      openAPIV3Schema:\n        type: object\n        properties:\n          spec: {type: object, properties: {size: {type: integer}}}\n          status: {type: object, properties: {ready: {type: boolean}}}\n";

#[test]
fn crds_are_established_before_the_rest_and_a_newer_bundle_reports_what_it_dropped() {
    let api = KubeApiserver::start();
    let registry = Distribution::start();
    let (client, runtime) = client(&api);
    let crds: Api<CustomResourceDefinition> = Api::all(client);
    let v1_dir = tempfile::tempdir().unwrap();
    // The Widget sorts before its CRD in the file listing: the loader puts the CRD first.
    let v1 = manifests_bundle(
        v1_dir.path(),
        "1.0.0",
        &[
            ("a-account.yaml", "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: old, namespace: default}\n"),
            ("a-widget.yaml", &widget(1)),
            ("crd.yaml", CRD),
        ],
    );
    let dry = load_apply(&v1, &registry, &api, &["--dry-run"]);
    assert_eq!(dry.status.code(), Some(0), "{}", text(&dry.stderr));
    assert!(
        text(&dry.stdout).contains("CustomResourceDefinition widgets.example.com created (dry run)"),
        "{}",
        text(&dry.stdout)
    );
    assert!(runtime.block_on(crds.get_opt("widgets.example.com")).unwrap().is_none(), "a dry run changes nothing");

    let first = load_apply(&v1, &registry, &api, &["--output", "json"]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let applied = outcomes(&json(&first));
    assert_eq!(applied[0], ("CustomResourceDefinition widgets.example.com".to_owned(), "created".to_owned()));
    assert!(applied.contains(&("Widget w".to_owned(), "created".to_owned())), "{applied:?}");
    let crd = runtime.block_on(crds.get("widgets.example.com")).unwrap();
    let established =
        crd.status.unwrap().conditions.unwrap().iter().any(|c| c.type_ == "Established" && c.status == "True");
    assert!(established, "the loader returned only once the CRD was Established");

    let v2_dir = tempfile::tempdir().unwrap();
    let v2 = manifests_bundle(
        v2_dir.path(),
        "1.1.0",
        &[
            ("a-account.yaml", "apiVersion: v1\nkind: ServiceAccount\nmetadata: {name: new, namespace: default}\n"),
            ("a-widget.yaml", &widget(2)),
            ("crd.yaml", CRD),
        ],
    );
    let second = load_apply(&v2, &registry, &api, &["--output", "json"]);
    assert_eq!(second.status.code(), Some(0), "{}", text(&second.stderr));
    let report = json(&second);
    assert!(
        outcomes(&report)
            .contains(&("CustomResourceDefinition widgets.example.com".to_owned(), "unchanged".to_owned())),
        "{report}"
    );
    assert_eq!(report["apply"]["dropped"], serde_json::json!(["ServiceAccount default/old"]));
    assert!(outcomes(&report).contains(&("Widget w".to_owned(), "configured".to_owned())), "{report}");
    let resource =
        kube::discovery::ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk("example.com", "v1", "Widget"));
    let widgets: Api<kube::api::DynamicObject> = Api::namespaced_with(crds.into_client(), "default", &resource);
    let w = runtime.block_on(widgets.get("w")).unwrap();
    assert_eq!(w.data["spec"]["size"], 2);
}

fn widget(size: u32) -> String {
    format!(
        "apiVersion: example.com/v1\nkind: Widget\nmetadata: {{name: w, namespace: default}}\nspec: {{size: {size}}}\n"
    )
}

#[test]
fn without_a_kubeconfig_outside_a_cluster_the_loader_says_how_to_give_one() {
    status_without_credentials(None);
}

#[test]
fn an_empty_kubeconfig_variable_counts_as_unset_and_never_reaches_home_kube_config() {
    status_without_credentials(Some(""));
    status_without_credentials(Some(":"));
}

/// `bundle-loader status` outside a cluster, with `KUBECONFIG` set to `kubeconfig` (or
/// unset), and a HOME whose `.kube/config` names a loopback listener: the loader fails
/// saying how to give credentials, and the listener sees no connection.
fn status_without_credentials(kubeconfig: Option<&str>) {
    let trap = std::net::TcpListener::bind("127.0.0.1:0").unwrap();
    trap.set_nonblocking(true).unwrap();
    let home = tempfile::tempdir().unwrap();
    std::fs::create_dir(home.path().join(".kube")).unwrap();
    std::fs::write(
        home.path().join(".kube/config"),
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: trap\n  cluster: {{server: 'http://{}'}}\n\
             users:\n- name: trap\n  user: {{token: trap}}\ncontexts:\n- name: trap\n  context: {{cluster: trap, user: trap}}\n\
             current-context: trap\n",
            trap.local_addr().unwrap()
        ),
    )
    .unwrap();
    let mut command = std::process::Command::new(env!("CARGO_BIN_EXE_bundle-loader"));
    command
        .arg("status")
        .env_remove("KUBERNETES_SERVICE_HOST")
        .env("HOME", home.path())
        .stdout(std::process::Stdio::piped())
        .stderr(std::process::Stdio::piped());
    match kubeconfig {
        Some(value) => command.env("KUBECONFIG", value),
        None => command.env_remove("KUBECONFIG"),
    };
    let mut child = command.spawn().unwrap();
    // Until the loader exits (or connects): a connection would leave it waiting for an answer.
    let deadline = Instant::now() + Duration::from_secs(30);
    let connection = loop {
        let exited = child.try_wait().unwrap().is_some();
        if let Ok((_, peer)) = trap.accept() {
            break Some(peer);
        }
        if exited {
            break None;
        }
        assert!(Instant::now() < deadline, "the loader neither failed nor connected");
        std::thread::sleep(Duration::from_millis(20));
    };
    if connection.is_some() {
        let _ = child.kill();
    }
    let out = child.wait_with_output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(connection, None, "KUBECONFIG={kubeconfig:?} reached ~/.kube/config's server: {stderr}");
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("pass --kubeconfig FILE or set KUBECONFIG"), "{stderr}");
}

#[test]
fn wait_reports_each_workload_and_succeeds_once_its_status_says_ready() {
    let api = KubeApiserver::start();
    let registry = Distribution::start();
    // No controller runs: the Deployment's status never moves by itself.
    let waiting = load_apply(&case("good"), &registry, &api, &["--wait", "--timeout", "2", "--output", "json"]);
    assert_eq!(waiting.status.code(), Some(1), "{}", text(&waiting.stderr));
    let report = json(&waiting);
    let readiness = &report["apply"]["readiness"][0];
    assert_eq!(readiness["object"], "Deployment demo/app");
    assert_eq!(readiness["ready"], false);
    assert!(readiness["detail"].as_str().unwrap().contains("not yet observed"), "{readiness}");

    // Play the controller through the status subresource.
    let (client, runtime) = client(&api);
    let deployments: Api<Deployment> = Api::namespaced(client, "demo");
    let generation = runtime.block_on(deployments.get("app")).unwrap().metadata.generation.unwrap();
    let status = serde_json::json!({"status": {"observedGeneration": generation, "replicas": 1, "readyReplicas": 1,
        "updatedReplicas": 1, "availableReplicas": 1}});
    runtime.block_on(deployments.patch_status("app", &PatchParams::default(), &Patch::Merge(&status))).unwrap();

    let ready = load_apply(&case("good"), &registry, &api, &["--wait", "--timeout", "10"]);
    assert_eq!(ready.status.code(), Some(0), "{}{}", text(&ready.stdout), text(&ready.stderr));
    assert!(text(&ready.stdout).contains("✓ Deployment demo/app 1/1 ready, 1 updated"), "{}", text(&ready.stdout));
}

const HELM_RELEASE_CRD: &str = "apiVersion: apiextensions.k8s.io/v1\nkind: CustomResourceDefinition\nmetadata: {name: helmreleases.helm.toolkit.fluxcd.io}\nspec:\n  group: helm.toolkit.fluxcd.io\n  scope: Namespaced\n  names: {plural: helmreleases, singular: helmrelease, kind: HelmRelease}\n  versions:\n  - name: v2\n    served: true\n    storage: true\n    subresources: {status: {}}\n    schema:\n      openAPIV3Schema: {type: object, x-kubernetes-preserve-unknown-fields: true}\n";

#[test]
fn a_helm_release_is_waited_for_until_its_ready_condition_says_so() {
    let api = KubeApiserver::start();
    let registry = Distribution::start();
    let dir = tempfile::tempdir().unwrap();
    let release = "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: web, namespace: default}\nspec:\n  chart:\n    spec: {chart: web, version: 0.1.0, sourceRef: {kind: HelmRepository, name: vendor}}\n";
    let bundle = manifests_bundle(dir.path(), "1.0.0", &[("crd.yaml", HELM_RELEASE_CRD), ("release.yaml", release)]);
    let waiting = load_apply(&bundle, &registry, &api, &["--wait", "--timeout", "2", "--output", "json"]);
    assert_eq!(waiting.status.code(), Some(1), "{}{}", text(&waiting.stdout), text(&waiting.stderr));
    let report = json(&waiting);
    assert_eq!(report["apply"]["readiness"][0]["object"], "HelmRelease default/web");
    assert_eq!(report["apply"]["readiness"][0]["ready"], false);

    // Play helm-controller: Ready=True for the current generation.
    let (client, runtime) = client(&api);
    let resource = kube::discovery::ApiResource::from_gvk(&kube::core::GroupVersionKind::gvk(
        "helm.toolkit.fluxcd.io",
        "v2",
        "HelmRelease",
    ));
    let releases: Api<kube::api::DynamicObject> = Api::namespaced_with(client, "default", &resource);
    let generation = runtime.block_on(releases.get("web")).unwrap().metadata.generation.unwrap();
    let status = serde_json::json!({"status": {"observedGeneration": generation, "conditions": [{"type": "Ready",
        "status": "True", "reason": "InstallSucceeded", "message": "Helm install succeeded", "lastTransitionTime": "2026-01-01T00:00:00Z"}]}});
    runtime.block_on(releases.patch_status("web", &PatchParams::default(), &Patch::Merge(&status))).unwrap();

    let ready = load_apply(&bundle, &registry, &api, &["--wait", "--timeout", "10"]);
    assert_eq!(ready.status.code(), Some(0), "{}{}", text(&ready.stdout), text(&ready.stderr));
    assert!(
        text(&ready.stdout).contains("✓ HelmRelease default/web Ready=True InstallSucceeded: Helm install succeeded"),
        "{}",
        text(&ready.stdout)
    );
}
