//! The Status tab on the run's real kube-apiserver. Before anything is installed it points at
//! the Bundles tab. Once the fixture bundle is installed (`genesis_kube::install`, its images
//! into a Distribution registry) it lists the install record (bundle, version, signer, BOM
//! digest) and each object: the Deployment not ready until its status says so (no controller
//! runs: the test plays it, through the status subresource, which is no drift); patched by
//! another field manager, it shows `changed` by that manager; the Service deleted shows
//! `missing`. A user who may not `get` deployments sees the Deployment withheld and the rest;
//! one without the tab's right is refused.

use std::time::Duration;

use genesis_kube::{Cluster, InstallOptions, InstallTarget};
use genesis_registry::{Registry, RegistryOptions};
use genesis_testkit::Distribution;
use genesis_testkit::kube::KubeApiserver;
use genesis_trust::{PublicKey, SignedBom as _, TrustPolicy, UnverifiedBundle};
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::{Api, DeleteParams, Patch, PatchParams};
use serde_json::{Value, json};

use crate::{Browserless, Console, apply, install_console_rbac, user_token};

/// The repository's fixtures.
fn fixtures() -> std::path::PathBuf {
    crate::repo().join("fixtures")
}

/// A runtime for the test's own calls to the API server (several threads, as the loader's
/// own tests install with).
fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap()
}

/// A client of the API server as its admin.
fn admin(api: &KubeApiserver, runtime: &tokio::runtime::Runtime) -> Cluster {
    runtime.block_on(Cluster::connect(Some(&api.kubeconfig()))).unwrap()
}

/// A ClusterRole `name` of `rules`, for a user made with [`user_token`].
pub(crate) fn cluster_role(name: &str, rules: Value) -> Value {
    json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole", "metadata": {"name": name}, "rules": rules})
}

/// The rule that lets an account sign in to the console at all (`get consoles`), for the
/// ClusterRoles tests make.
pub(crate) fn sign_in_rule() -> Value {
    json!({"apiGroups": ["console.genesis.dev"], "resources": ["consoles"], "verbs": ["get"]})
}

/// `path` as `client` gets it: the status and the page.
pub(crate) fn get(client: &Browserless, path: &str) -> (u16, String) {
    let response = client.get(path);
    let status = response.status().as_u16();
    (status, response.text().unwrap())
}

/// `/status` as `client` sees it, which must answer 200.
fn status_page(client: &Browserless) -> String {
    let (status, page) = get(client, "/status");
    assert_eq!(status, 200, "{page}");
    page
}

/// The row of `object` (`Kind namespace/name`) on a status page: its opening tag, and what
/// its cells say up to the next row.
fn row<'a>(page: &'a str, object: &str) -> &'a str {
    let start =
        page.find(&format!(r#"<tr data-object="{object}""#)).unwrap_or_else(|| panic!("no row of {object}: {page}"));
    let rest = &page[start..];
    &rest[..rest.find("</tr>").unwrap_or(rest.len())]
}

/// Installs `fixtures/bundles/good` (demo 0.1.0: Namespace demo, Deployment demo/app,
/// Service demo/app) as the embedder does, its images into `registry`; the BOM's SHA-256.
fn install_demo(api: &KubeApiserver, registry: &Distribution) -> String {
    let runtime = runtime();
    let cluster = admin(api, &runtime);
    let key = PublicKey::from_pem_file(&fixtures().join("keys/test.pub")).unwrap();
    let policy = TrustPolicy::from_keys(vec![key]).unwrap();
    let archive = fixtures().join("bundles/good/demo-0.1.0.tar.zst");
    let bundle = UnverifiedBundle::open(&archive, &Default::default()).unwrap().verify(&policy).unwrap();
    let bom_digest = bundle.bom_sha256().to_string();
    let host = registry.host();
    let options = RegistryOptions { plain_http: true, ..Default::default() };
    let target =
        InstallTarget { registry: Registry::new(&host, &options).unwrap(), destination: host.parse().unwrap() };
    let options = InstallOptions::default();
    let installed = genesis_kube::install(bundle, &target, Some(&cluster), &options, &());
    assert!(runtime.block_on(installed).unwrap().succeeded());
    bom_digest
}

#[test]
fn the_status_tab_shows_each_object_ready_changed_missing_or_withheld() {
    let (api, registry) = (KubeApiserver::start(), Distribution::start());
    install_console_rbac(&api);
    // A reader of the tab who may get namespaces and services, not deployments; and someone
    // who may sign in and do nothing else.
    apply(
        &api,
        vec![
            cluster_role(
                "status-reader",
                json!([
                    sign_in_rule(),
                    {"apiGroups": ["console.genesis.dev"], "resources": ["installs"], "verbs": ["get"]},
                    {"apiGroups": [""], "resources": ["configmaps", "namespaces", "services"], "verbs": ["get", "list"]},
                ]),
            ),
            cluster_role("nothing", json!([sign_in_rule()])),
        ],
    );
    let console = Console::start(&api, &[]);
    let admin_token = user_token(&api, "admin", "cluster-admin");
    let operator = Browserless::sign_in(&console, &admin_token);

    // Nothing installed yet: the tab says so and points at the Bundles tab.
    let page = status_page(&operator);
    assert!(page.contains(r#"id="nothing-installed""#) && page.contains(r#"href="/bundles""#), "{page}");
    assert!(page.contains(r#"<a id="tab-status" href="/status" aria-current="page">"#), "{page}");

    let bom_digest = install_demo(&api, &registry);
    let page = status_page(&operator);
    assert!(page.contains(r#"<tr data-record="demo">"#) && page.contains("<td>0.1.0</td>"), "{page}");
    assert!(page.contains(&format!(r#"title="{bom_digest}""#)), "the BOM digest whole in its title: {page}");
    let fingerprint = PublicKey::from_pem_file(&fixtures().join("keys/test.pub")).unwrap().fingerprint();
    assert!(page.contains(&format!("key {fingerprint}")), "the signer: {page}");
    assert!(page.contains(r#"<section class="record" id="record-1" data-record="demo">"#), "{page}");
    for (object, ready) in [("Namespace demo", "true"), ("Deployment demo/app", "false"), ("Service demo/app", "true")]
    {
        let cells = row(&page, object);
        assert!(cells.contains(&format!(r#"data-ready="{ready}" data-drift="none""#)), "{object}: {cells}");
    }
    assert!(row(&page, "Deployment demo/app").contains("not yet observed"), "its status says why: {page}");

    // The controller's part: the Deployment's status says it is ready. A write of the
    // status is no drift.
    let runtime = runtime();
    let cluster = admin(&api, &runtime);
    let deployments: Api<Deployment> = Api::namespaced(cluster.client().clone(), "demo");
    let generation = runtime.block_on(deployments.get("app")).unwrap().metadata.generation.unwrap();
    runtime.block_on(crate::install::mark_demo_deployment_ready(&deployments, generation));
    let page = status_page(&operator);
    let deployment = row(&page, "Deployment demo/app");
    assert!(deployment.contains(r#"data-ready="true" data-drift="none""#), "{deployment}");
    assert!(deployment.contains("1/1 ready, 1 updated"), "{deployment}");

    // Someone else changes it, a second after the install was recorded (managedFields keep
    // whole seconds): changed, by them.
    std::thread::sleep(Duration::from_millis(1100));
    let by_someone = PatchParams { field_manager: Some("someone".into()), ..Default::default() };
    let label = json!({"metadata": {"labels": {"changed-by": "someone"}}});
    runtime.block_on(deployments.patch("app", &by_someone, &Patch::Merge(&label))).unwrap();
    // The Service deleted: missing.
    let services: Api<Service> = Api::namespaced(cluster.client().clone(), "demo");
    runtime.block_on(services.delete("app", &DeleteParams::default())).unwrap();
    let page = status_page(&operator);
    let deployment = row(&page, "Deployment demo/app");
    assert!(deployment.contains(r#"data-ready="true" data-drift="changed""#), "{deployment}");
    assert!(deployment.contains("by <strong>someone</strong> (Update) at "), "{deployment}");
    let service = row(&page, "Service demo/app");
    assert!(service.contains(r#"data-ready="false" data-drift="missing""#), "{service}");
    assert!(row(&page, "Namespace demo").contains(r#"data-drift="none""#), "{page}");
    assert!(page.contains("3 objects, 2 ready, 1 changed since the install, 1 missing"), "{page}");

    // A reader who may not get deployments: the Deployment withheld, unread; the rest shown.
    let reader_token = user_token(&api, "reader", "status-reader");
    let reader = Browserless::sign_in(&console, &reader_token);
    let page = status_page(&reader);
    let deployment = row(&page, "Deployment demo/app");
    assert!(deployment.contains(r#"data-drift="withheld""#) && !deployment.contains("data-ready"), "{deployment}");
    assert!(deployment.contains("withheld: your account may not get Deployment in demo"), "{deployment}");
    assert!(!deployment.contains("someone"), "nothing of it is read: {deployment}");
    assert!(row(&page, "Namespace demo").contains(r#"data-ready="true" data-drift="none""#), "{page}");
    assert!(row(&page, "Service demo/app").contains(r#"data-drift="missing""#), "{page}");

    // Someone without the tab's right is refused, naming it.
    let nobody_token = user_token(&api, "nobody", "nothing");
    let nobody = Browserless::sign_in(&console, &nobody_token);
    let (status, page) = get(&nobody, "/status");
    assert_eq!(status, 403, "{page}");
    assert!(
        page.contains(r#"id="forbidden""#) && page.contains("get installs.console.genesis.dev in genesis"),
        "{page}"
    );
    assert!(!page.contains("data-record"), "{page}");
}
