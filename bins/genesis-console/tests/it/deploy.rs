//! `deploy/console/` on the real API server: every manifest applies with the loader's own
//! apply, the Deployment runs locked down with flags the binary takes, the Service is
//! `genesis-control-plane` on 443; the ClusterRoles grant what docs/console.md says (the
//! viewer sees and cannot install), and the console works with its own ServiceAccount's
//! rights alone, lending them to no one.

use genesis_kube::{Access, Cluster, may, review_token};
use genesis_testkit::kube::KubeApiserver;
use genesis_testkit::text;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::Api;
use serde_json::Value;

use crate::{
    Browserless, Console, apply, block_on, console_command, deploy_file, install_console_rbac, kubeconfig_for,
    manifests, service_account_token, user_name, user_token,
};

/// Every manifest of `deploy/console/`, in file-name order.
fn every_manifest() -> Vec<Value> {
    let mut files: Vec<_> = std::fs::read_dir(deploy_file(""))
        .unwrap()
        .map(|entry| entry.unwrap().path())
        .filter(|path| path.extension().is_some_and(|e| e == "yaml"))
        .collect();
    files.sort();
    files.iter().flat_map(|file| manifests(file)).collect()
}

#[test]
fn every_manifest_applies_with_the_loader_and_the_deployment_is_locked_down() {
    let objects = every_manifest();
    let named: Vec<String> = objects
        .iter()
        .map(|o| format!("{} {}", o["kind"].as_str().unwrap(), o["metadata"]["name"].as_str().unwrap()))
        .collect();
    for expected in [
        "Namespace genesis",
        "ServiceAccount genesis-console",
        "ClusterRole genesis-console",
        "ClusterRoleBinding genesis-console",
        "ClusterRole genesis-console-operator",
        "ClusterRole genesis-console-viewer",
        "Deployment genesis-console",
        "Service genesis-control-plane",
        "PersistentVolumeClaim genesis-console-bundles",
    ] {
        assert!(named.iter().any(|n| n == expected), "{expected} missing from deploy/console: {named:?}");
    }
    let api = KubeApiserver::start();
    apply(&api, objects);

    let (deployment, service) = block_on(async {
        let cluster = Cluster::connect(Some(&api.kubeconfig())).await.unwrap();
        let deployments: Api<Deployment> = Api::namespaced(cluster.client().clone(), "genesis");
        let services: Api<Service> = Api::namespaced(cluster.client().clone(), "genesis");
        let deployment = deployments.get("genesis-console").await.unwrap();
        let service = services.get("genesis-control-plane").await.unwrap();
        (serde_json::to_value(deployment).unwrap(), serde_json::to_value(service).unwrap())
    });
    let spec = &deployment["spec"];
    assert_eq!(spec["replicas"], 1, "sessions live in one console's memory");
    assert_eq!(spec["strategy"]["type"], "Recreate");
    let pod = &spec["template"]["spec"];
    assert_eq!(pod["serviceAccountName"], "genesis-console");
    assert_eq!(pod["securityContext"]["runAsNonRoot"], true);
    let container = &pod["containers"][0];
    assert_eq!(container["image"], "genesis-console:VERSION");
    let locked = &container["securityContext"];
    assert_eq!(locked["readOnlyRootFilesystem"], true);
    assert_eq!(locked["runAsNonRoot"], true);
    assert_eq!(locked["allowPrivilegeEscalation"], false);
    assert_eq!(locked["capabilities"]["drop"], serde_json::json!(["ALL"]));
    assert_eq!(container["livenessProbe"]["httpGet"]["path"], "/healthz");
    assert_eq!(container["livenessProbe"]["httpGet"]["scheme"], "HTTPS");
    let tls = pod["volumes"].as_array().unwrap().iter().find(|v| v["name"] == "tls").unwrap();
    assert_eq!(tls["secret"]["secretName"], "genesis-console-tls");
    let port = &service["spec"]["ports"][0];
    assert_eq!((port["port"].as_i64(), port["targetPort"].as_str()), (Some(443), Some("https")));
    assert_eq!(container["ports"][0]["name"], "https");
    assert_eq!(container["ports"][0]["containerPort"], 8443);

    // The flags the Deployment passes are the binary's: it gets as far as reading the TLS
    // certificate the Secret would mount.
    let args: Vec<String> =
        container["args"].as_array().unwrap().iter().map(|a| a.as_str().unwrap().to_owned()).collect();
    assert_eq!(args[0], "serve");
    let args: Vec<&str> = args[1..].iter().map(String::as_str).collect();
    let out = console_command(&args).arg("--kubeconfig").arg(api.kubeconfig()).output().unwrap();
    let stderr = text(&out.stderr);
    assert!(!out.status.success(), "{stderr}");
    assert!(stderr.contains("TLS certificate") && stderr.contains("/etc/genesis-console/tls/tls.crt"), "{stderr}");
}

#[test]
fn the_viewer_sees_the_tabs_and_cannot_act_and_the_operator_may_act() {
    let api = KubeApiserver::start();
    install_console_rbac(&api);
    let viewer_token = user_token(&api, "viewer", "genesis-console-viewer");
    let operator_token = user_token(&api, "operator", "genesis-console-operator");
    block_on(async {
        let cluster = Cluster::connect(Some(&api.kubeconfig())).await.unwrap();
        let viewer = review_token(&cluster, &viewer_token).await.unwrap().unwrap();
        let operator = review_token(&cluster, &operator_token).await.unwrap().unwrap();
        assert_eq!(viewer.name, user_name("viewer"));
        let console = |verb: &str, resource: &str| Access {
            verb: verb.to_owned(),
            group: "console.genesis.dev".to_owned(),
            resource: resource.to_owned(),
            namespace: Some("genesis".to_owned()),
            name: None,
        };
        let deployments = Access {
            verb: "create".to_owned(),
            group: "apps".to_owned(),
            resource: "deployments".to_owned(),
            namespace: Some("demo".to_owned()),
            name: None,
        };
        let records = Access {
            verb: "list".to_owned(),
            group: String::new(),
            resource: "configmaps".to_owned(),
            namespace: Some("genesis-system".to_owned()),
            name: None,
        };
        for (access, viewer_may) in [
            (console("get", "preflights"), true),
            (console("list", "bundles"), true),
            (console("get", "installs"), true),
            (records, true),
            (console("create", "preflights"), false),
            (console("create", "bundles"), false),
            (console("create", "installs"), false),
            (console("create", "supportbundles"), false),
            (deployments, false),
        ] {
            let said = access.describe();
            assert_eq!(may(&cluster, &viewer, &access).await.unwrap(), viewer_may, "viewer: {said}");
            assert!(may(&cluster, &operator, &access).await.unwrap(), "operator: {said}");
        }
    });
}

#[test]
fn the_console_works_with_its_own_service_account_and_lends_its_rights_to_no_one() {
    let api = KubeApiserver::start();
    install_console_rbac(&api);
    let dir = tempfile::tempdir().unwrap();
    let own = kubeconfig_for(&api, &service_account_token(&api, "genesis", "genesis-console"), dir.path());
    let console = Console::start_with(&own, &[]);
    assert!(console.stderr().lines().next().unwrap_or_default().contains("/ (kubeconfig "), "{}", console.stderr());

    // Sign-in (TokenReview), and every tab (SubjectAccessReviews, the configuration and
    // install records), with the console's rights alone.
    let operator = Browserless::sign_in(&console, &user_token(&api, "erin", "genesis-console-operator"));
    for tab in ["/preflight", "/bundles", "/status", "/support"] {
        let page = operator.get(tab);
        assert_eq!(page.status(), 200, "{tab}: {}{}", page.head, page.text().unwrap_or_default());
    }
    // A viewer is refused what the console itself may do.
    let viewer = Browserless::sign_in(&console, &user_token(&api, "frank", "genesis-console-viewer"));
    let refused = viewer.post_form("/preflight/run", &[]);
    assert_eq!(refused.status(), 403, "{}", refused.head);
    assert!(refused.text().unwrap().contains("create preflights.console.genesis.dev in genesis"));
}
