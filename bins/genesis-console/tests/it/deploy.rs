//! `deploy/console/` on the real API server: every manifest applies with the loader's own
//! apply, the Deployment runs locked down with flags the binary takes, the Service is
//! `genesis-control-plane` on 443; the roles grant what docs/console.md says (the viewer sees,
//! the operator acts, the installer applies where it is bound, the cluster installer alone
//! holds the cluster-admin-equivalent rights (Namespaces, CRDs, Flux objects), and none of
//! them reads the pre-flight configuration but the operator, writes the trust root or lists
//! Secrets), and the console works with its own ServiceAccount's rights alone, lending them
//! to no one.

use genesis_kube::{Access, Cluster, may, review_token};
use genesis_testkit::kube::KubeApiserver;
use genesis_testkit::text;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::Service;
use kube::api::Api;
use serde_json::{Value, json};

use crate::{
    Browserless, Console, USERS_NAMESPACE, apply, block_on, console_command, deploy_file, install_console_rbac,
    kubeconfig_for, manifests, service_account_token, user_name, user_token,
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
        "Namespace genesis-system",
        "ServiceAccount genesis-console",
        "ClusterRole genesis-console",
        "ClusterRoleBinding genesis-console",
        "ClusterRole genesis-console-operator",
        "Role genesis-console-operator",
        "ClusterRole genesis-console-viewer",
        "Role genesis-console-viewer",
        "ClusterRole genesis-console-installer",
        "Role genesis-console-installer",
        "ClusterRole genesis-console-installer-cluster",
        "Role genesis-console-advice",
        "RoleBinding genesis-console-advice",
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
    // The landing bucket's credentials come from its Secret when there is one, never from
    // the manifest, and a console without it still starts.
    for variable in ["AWS_ACCESS_KEY_ID", "AWS_SECRET_ACCESS_KEY"] {
        let env = container["env"].as_array().unwrap().iter().find(|e| e["name"] == variable);
        let from = &env.unwrap_or_else(|| panic!("no {variable} in {container}"))["valueFrom"]["secretKeyRef"];
        assert_eq!(
            (from["name"].as_str(), from["key"].as_str(), from["optional"].as_bool()),
            (Some("genesis-landing-bucket"), Some(variable), Some(true)),
            "{variable}"
        );
    }

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
fn the_viewer_sees_the_tabs_the_operator_acts_and_the_installer_applies_in_its_namespaces() {
    let api = KubeApiserver::start();
    install_console_rbac(&api);
    let viewer_token = user_token(&api, "viewer", "genesis-console-viewer");
    let operator_token = user_token(&api, "operator", "genesis-console-operator");
    let cluster_installer_token = user_token(&api, "cluster-installer", "genesis-console-installer-cluster");
    // The installer bound as docs/console.md says: in the namespace its bundles install into
    // (a RoleBinding of the ClusterRole), and in genesis-system (its Role there).
    let subjects = json!([{"kind": "ServiceAccount", "name": "installer", "namespace": USERS_NAMESPACE}]);
    apply(
        &api,
        vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}}),
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": USERS_NAMESPACE}}),
            json!({"apiVersion": "v1", "kind": "ServiceAccount",
                "metadata": {"name": "installer", "namespace": USERS_NAMESPACE}}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "installer", "namespace": "demo"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "ClusterRole",
                    "name": "genesis-console-installer"},
                "subjects": subjects}),
            json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
                "metadata": {"name": "installer", "namespace": "genesis-system"},
                "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role",
                    "name": "genesis-console-installer"},
                "subjects": subjects}),
        ],
    );
    let installer_token = service_account_token(&api, USERS_NAMESPACE, "installer");
    block_on(async {
        let cluster = Cluster::connect(Some(&api.kubeconfig())).await.unwrap();
        let viewer = review_token(&cluster, &viewer_token).await.unwrap().unwrap();
        let operator = review_token(&cluster, &operator_token).await.unwrap().unwrap();
        let installer = review_token(&cluster, &installer_token).await.unwrap().unwrap();
        let cluster_installer = review_token(&cluster, &cluster_installer_token).await.unwrap().unwrap();
        assert_eq!(viewer.name, user_name("viewer"));
        let right = |verb: &str, group: &str, resource: &str, namespace: Option<&str>, name: Option<&str>| Access {
            verb: verb.to_owned(),
            group: group.to_owned(),
            resource: resource.to_owned(),
            namespace: namespace.map(str::to_owned),
            name: name.map(str::to_owned),
        };
        let console = |verb: &str, resource: &str| right(verb, "console.genesis.dev", resource, Some("genesis"), None);
        let core = |verb: &str, resource: &str, namespace: Option<&str>, name: Option<&str>| {
            right(verb, "", resource, namespace, name)
        };
        let deployments = |verb: &str, namespace: &str| right(verb, "apps", "deployments", Some(namespace), None);
        // What each may: (viewer, operator, installer, cluster installer).
        for (access, may_do) in [
            // Signing in, the tabs, and what the Status tab reads.
            (console("get", "consoles"), (true, true, false, false)),
            (console("get", "preflights"), (true, true, false, false)),
            (console("list", "bundles"), (true, true, false, false)),
            (console("get", "installs"), (true, true, false, false)),
            (core("list", "configmaps", Some("genesis-system"), None), (true, true, false, false)),
            (deployments("get", "demo"), (true, true, false, false)),
            // The console's actions.
            (console("create", "preflights"), (false, true, false, false)),
            (console("create", "bundles"), (false, true, false, false)),
            (console("create", "installs"), (false, true, false, false)),
            (console("create", "supportbundles"), (false, true, false, false)),
            (console("get", "logs"), (false, true, false, false)),
            (console("create", "advice"), (false, true, false, false)),
            // The pre-flight configuration (it holds passwords): the operator's alone.
            (core("get", "configmaps", Some("genesis"), Some("genesis-preflight")), (false, true, false, false)),
            (core("update", "configmaps", Some("genesis"), Some("genesis-preflight")), (false, true, false, false)),
            (core("list", "configmaps", Some("genesis"), None), (false, true, false, false)),
            // Nobody writes the trust root or creates ConfigMaps in the console's namespace,
            // nor reads Secrets.
            (core("update", "configmaps", Some("genesis"), Some("genesis-trust")), (false, false, false, false)),
            (core("create", "configmaps", Some("genesis"), None), (false, false, false, false)),
            (core("list", "secrets", Some("demo"), None), (false, false, false, false)),
            // Installing: the objects, in the namespace it is bound in only, and the record.
            (deployments("create", "demo"), (false, false, true, false)),
            (right("patch", "apps", "deployments", Some("demo"), Some("app")), (false, false, true, false)),
            (deployments("create", "kube-system"), (false, false, false, false)),
            (core("create", "configmaps", Some("genesis-system"), None), (false, false, true, false)),
            (core("update", "configmaps", Some("genesis-system"), None), (false, false, true, false)),
            (core("patch", "namespaces", Some("genesis-system"), Some("genesis-system")), (false, false, true, true)),
            // Cluster-scoped objects need genesis-console-installer-cluster besides, and so do
            // Flux objects and patching CRDs, which are cluster-admin-equivalent (a default
            // Flux applies a chart as cluster-admin; a CRD's conversion webhook sees its
            // objects): never in the per-namespace installer.
            (core("create", "namespaces", None, None), (false, false, false, true)),
            (
                right("patch", "apiextensions.k8s.io", "customresourcedefinitions", None, None),
                (false, false, false, true),
            ),
            (
                right("create", "helm.toolkit.fluxcd.io", "helmreleases", Some("demo"), None),
                (false, false, false, true),
            ),
            (
                right("create", "source.toolkit.fluxcd.io", "ocirepositories", Some("demo"), None),
                (false, false, false, true),
            ),
            (
                right("patch", "source.toolkit.fluxcd.io", "helmrepositories", Some("demo"), Some("charts")),
                (false, false, false, true),
            ),
            // Nobody deploys into the console's namespace.
            (deployments("create", "genesis"), (false, false, false, false)),
        ] {
            let said = access.describe();
            let answers = (
                may(&cluster, &viewer, &access).await.unwrap(),
                may(&cluster, &operator, &access).await.unwrap(),
                may(&cluster, &installer, &access).await.unwrap(),
                may(&cluster, &cluster_installer, &access).await.unwrap(),
            );
            assert_eq!(answers, may_do, "{said}: (viewer, operator, installer, cluster installer)");
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
    // Its Role lets it read the advice Secret: there is none, so advice is off (not refused).
    assert!(console.stderr().contains("no advice Secret: opt-in advice is off"), "{}", console.stderr());

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
