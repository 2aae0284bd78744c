//! `genesis support-bundle` against the run's real kube-apiserver: PHI-like strings planted in
//! a ConfigMap's data (JSON text in it too), in annotations of a Deployment and a Service, in
//! a Deployment's environment and arguments and in an Event's message, secrets in a
//! `kubectl.kubernetes.io/last-applied-configuration` annotation and in a Helm release's
//! config map, are in no byte of the archive (extracted by `tar`, and the decompressed stream
//! as `zcat` gives it); a Secret is listed by name, its data and annotations never; the
//! redaction report counts exactly what was planted; `sha256sum -c` passes; a second run gives
//! the same bytes; a rules file adds a rule and a bad one stops the run naming itself; and the
//! lists RBAC refuses are warnings, the rest still collected.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use genesis_testkit::kube::KubeApiserver;
use genesis_testkit::phi::{
    MRN, NS, SECRET_NAME, assert_absent, counts, extract, never_kept, occurrences, planted_counts, planted_objects,
};
use serde_json::{Value, json};

use crate::text;

/// Creates `objects` through the API server, as its admin.
fn plant(api: &KubeApiserver, objects: Vec<Value>) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let cluster = genesis_kube::Cluster::connect(Some(&api.kubeconfig())).await.unwrap();
        genesis_kube::apply(&cluster, objects, Default::default()).await.unwrap();
    });
}

/// `genesis support-bundle --namespace emr -o OUT --output json` with `kubeconfig`, and `extra`.
fn support_bundle(kubeconfig: &Path, out: &Path, extra: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_genesis"))
        .arg("support-bundle")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["--namespace", NS, "-o"])
        .arg(out)
        .args(["--output", "json"])
        .args(extra)
        .env_remove("KUBECONFIG")
        .output()
        .unwrap()
}

/// The JSON report of a run that must have succeeded.
fn succeeded(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "stdout: {}\nstderr: {}", text(&out.stdout), text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

/// The report the archive holds, which must be the one the run printed.
fn archived_report(files: &BTreeMap<String, Vec<u8>>, printed: &Value) -> BTreeMap<String, u64> {
    let archived: Value = serde_json::from_slice(&files["redaction-report.json"]).unwrap();
    assert_eq!(archived, printed["redactions"], "the archive's report is not the one printed");
    counts(&archived)
}

#[test]
fn planted_phi_is_in_no_byte_of_the_archive_and_the_report_counts_it_exactly() {
    let api = KubeApiserver::start();
    plant(&api, planted_objects());
    let dir = tempfile::tempdir().unwrap();
    std::fs::create_dir_all(dir.path().join("first")).unwrap();
    let archive = dir.path().join("first/support.tar.gz");

    let out = support_bundle(&api.kubeconfig(), &archive, &[]);
    let report = succeeded(&out);
    // The API server is named before it is contacted, and in the JSON report.
    let server = format!("https://127.0.0.1:{}", api.port);
    let stderr = text(&out.stderr);
    assert!(
        stderr
            .lines()
            .any(|l| l.starts_with("genesis support-bundle: network: this run contacts only") && l.contains(&server)),
        "{stderr}"
    );
    assert!(report["endpoints"].as_array().unwrap().iter().any(|e| e.as_str().unwrap().contains(&server)), "{report}");
    assert!(report["namespaces"].as_array().unwrap().contains(&json!(NS)), "{report}");
    assert_eq!(report["warnings"], json!([]), "the admin is refused nothing: {report}");

    let files = extract(&archive);
    for expected in [
        "README.txt",
        "redaction-report.json",
        "install-records.json",
        "cluster/version.json",
        "cluster/nodes.json",
        "namespaces/emr/configmaps.json",
        "namespaces/emr/deployments.json",
        "namespaces/emr/services.json",
        "namespaces/emr/events.json",
        "namespaces/emr/secrets.json",
    ] {
        assert!(files.contains_key(expected), "{expected} missing from {:?}", files.keys().collect::<Vec<_>>());
    }
    assert_absent(&archive, &files, &never_kept());
    // What was planted is there, redacted, not dropped.
    let configmaps = text(&files["namespaces/emr/configmaps.json"]);
    assert!(configmaps.contains("emr-settings") && configmaps.contains("[REDACTED:email]"), "{configmaps}");
    assert!(configmaps.contains("[REDACTED:private-key]"), "{configmaps}");
    assert!(
        configmaps.contains("redis://default:[REDACTED:connection-password]@redis.internal:6379/0"),
        "{configmaps}"
    );
    // What is not collected is noted in its place.
    assert!(configmaps.contains("(not collected: the object as `kubectl apply` last sent it"), "{configmaps}");
    assert!(configmaps.contains("(not collected: a Helm release"), "{configmaps}");
    let deployments = text(&files["namespaces/emr/deployments.json"]);
    assert!(
        deployments.contains("\"--db-password\",\n") && deployments.contains("AWS_SECRET_ACCESS_KEY"),
        "{deployments}"
    );
    let events = text(&files["namespaces/emr/events.json"]);
    assert!(events.contains("[REDACTED:us-ssn]") && events.contains(MRN), "{events}");
    // The Secret by name and type, nothing else of it.
    let secrets: Value = serde_json::from_slice(&files["namespaces/emr/secrets.json"]).unwrap();
    let listed = secrets.to_string();
    assert!(listed.contains(SECRET_NAME) && listed.contains("Opaque"), "{listed}");
    assert!(!listed.contains("\"data\"") && !listed.contains("annotations"), "{listed}");
    // Every file the report and README describe is JSON where it says so.
    for (name, bytes) in &files {
        if name.ends_with(".json") {
            serde_json::from_slice::<Value>(bytes).unwrap_or_else(|e| panic!("{name} is not JSON ({e})"));
        }
    }

    assert_eq!(archived_report(&files, &report), planted_counts(), "{}", text(&files["redaction-report.json"]));
    let readme = text(&files["README.txt"]);
    assert!(readme.contains("Nothing was sent anywhere") && readme.contains("Namespaces: emr"), "{readme}");

    // The sidecar checks with sha256sum, and names what the run printed.
    let check = Command::new("sha256sum")
        .args(["-c", "support.tar.gz.sha256"])
        .current_dir(dir.path().join("first"))
        .output()
        .unwrap();
    assert!(check.status.success(), "{}{}", text(&check.stdout), text(&check.stderr));
    let sidecar = std::fs::read_to_string(dir.path().join("first/support.tar.gz.sha256")).unwrap();
    assert_eq!(sidecar, format!("{}  support.tar.gz\n", report["sha256"].as_str().unwrap()));

    // The same cluster state gives the same bytes.
    std::fs::create_dir_all(dir.path().join("second")).unwrap();
    let again = dir.path().join("second/support.tar.gz");
    let second = succeeded(&support_bundle(&api.kubeconfig(), &again, &[]));
    assert_eq!(second["sha256"], report["sha256"]);
    assert!(
        std::fs::read(archive.as_path()).unwrap() == std::fs::read(again.as_path()).unwrap(),
        "a second run wrote other bytes"
    );
    assert_eq!(std::fs::read(dir.path().join("second/support.tar.gz.sha256")).unwrap(), sidecar.as_bytes());

    // A rules file adds a rule of the site's own; --redact-ip adds the addresses.
    let rules = dir.path().join("rules.yaml");
    std::fs::write(&rules, "rules:\n  - name: patient-id\n    pattern: 'MRN-\\d{6}'\n").unwrap();
    let custom = dir.path().join("custom.tar.gz");
    let out = support_bundle(&api.kubeconfig(), &custom, &["--redact-rules", rules.to_str().unwrap(), "--redact-ip"]);
    let report = succeeded(&out);
    let custom_files = extract(&custom);
    // The Service's address (the API server chose it: a fixed one stays allocated after the
    // reset between tests), redacted only with --redact-ip, wherever it showed without.
    let services: Value = serde_json::from_slice(&files["namespaces/emr/services.json"]).unwrap();
    let cluster_ip = services["items"][0]["spec"]["clusterIP"].as_str().expect("the Service has an address");
    assert_absent(&custom, &custom_files, &[&never_kept()[..], &[MRN, cluster_ip][..]].concat());
    let addresses: u64 = files.values().map(|bytes| occurrences(bytes, cluster_ip)).sum();
    assert!(addresses > 0, "the Service's cluster IP is in no file");
    let mut expected = planted_counts();
    expected.insert("patient-id".into(), 1);
    expected.insert("ip-address".into(), addresses);
    assert_eq!(archived_report(&custom_files, &report), expected, "{}", text(&custom_files["redaction-report.json"]));
}

#[test]
fn a_bad_rules_file_stops_the_run_naming_the_file_and_the_rule() {
    let api = KubeApiserver::start();
    let dir = tempfile::tempdir().unwrap();
    for (case, rules, rule) in [
        ("bad-regex", "rules:\n  - { name: broken-pattern, pattern: 'MRN-(\\d{6}' }\n", "broken-pattern"),
        (
            "twice",
            "rules:\n  - { name: patient-id, pattern: 'MRN-\\d{6}' }\n  - { name: patient-id, pattern: 'PID-\\d+' }\n",
            "patient-id",
        ),
    ] {
        let file = dir.path().join(format!("{case}.yaml"));
        std::fs::write(&file, rules).unwrap();
        let archive = dir.path().join(format!("{case}.tar.gz"));
        let out = support_bundle(&api.kubeconfig(), &archive, &["--redact-rules", file.to_str().unwrap()]);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{case}: {stderr}");
        assert!(stderr.contains(file.to_str().unwrap()) && stderr.contains(rule), "{case}: {stderr}");
        // Refused before the cluster is contacted, or even announced.
        assert!(!stderr.contains("network:"), "{case}: {stderr}");
        assert!(!archive.exists() && !PathBuf::from(format!("{}.sha256", archive.display())).exists(), "{case}");
    }
}

#[test]
fn lists_rbac_refuses_are_warnings_and_the_rest_is_collected() {
    let api = KubeApiserver::start();
    let mut objects = planted_objects();
    // A user who may read ConfigMaps in the namespace, and nothing else.
    objects.push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "Role",
        "metadata": {"name": "configmap-reader", "namespace": NS},
        "rules": [{"apiGroups": [""], "resources": ["configmaps"], "verbs": ["get", "list"]}],
    }));
    objects.push(json!({
        "apiVersion": "rbac.authorization.k8s.io/v1", "kind": "RoleBinding",
        "metadata": {"name": "configmap-reader", "namespace": NS},
        "roleRef": {"apiGroup": "rbac.authorization.k8s.io", "kind": "Role", "name": "configmap-reader"},
        "subjects": [{"apiGroup": "rbac.authorization.k8s.io", "kind": "User", "name": "support-reader"}],
    }));
    plant(&api, objects);
    // The admin's kubeconfig, acting as that user (impersonation, `as:`).
    let dir = tempfile::tempdir().unwrap();
    let admin = std::fs::read_to_string(api.kubeconfig()).unwrap();
    let token = format!("    token: {}\n", genesis_testkit::kube::TOKEN);
    assert!(admin.contains(&token), "{admin}");
    let kubeconfig = dir.path().join("reader.kubeconfig");
    std::fs::write(&kubeconfig, admin.replace(token.as_str(), &format!("{token}    as: support-reader\n"))).unwrap();

    let archive = dir.path().join("support.tar.gz");
    let report = succeeded(&support_bundle(&kubeconfig, &archive, &[]));
    let warnings: Vec<&str> = report["warnings"].as_array().unwrap().iter().map(|w| w.as_str().unwrap()).collect();
    for refused in ["namespace emr: secrets", "namespace emr: deployments", "namespace emr: events", "nodes"] {
        assert!(warnings.iter().any(|w| w.starts_with(refused)), "no warning for {refused}: {warnings:#?}");
    }
    // The install records are config maps too, in genesis-system, which the user may not read.
    assert!(warnings.iter().any(|w| w.starts_with("install records")), "{warnings:#?}");
    assert!(!warnings.iter().any(|w| w.starts_with("namespace emr: configmaps")), "{warnings:#?}");
    let files = extract(&archive);
    let readme = text(&files["README.txt"]);
    assert!(readme.contains("namespace emr: secrets: not collected"), "{readme}");
    assert_absent(&archive, &files, &never_kept());
    let configmaps = text(&files["namespaces/emr/configmaps.json"]);
    assert!(configmaps.contains("emr-settings"), "{configmaps}");
    // Only what was read is counted: the config maps' values (EMAIL and EMAIL_3, PHONE, SSN,
    // JWT, the PEM block, AWS_KEY, DB_PASSWORD and AT_PASSWORD, EMBEDDED_PASSWORD).
    let expected: BTreeMap<String, u64> = [
        ("email", 2),
        ("phone", 1),
        ("us-ssn", 1),
        ("jwt", 1),
        ("private-key", 1),
        ("aws-access-key", 1),
        ("connection-password", 2),
        ("credential", 1),
    ]
    .into_iter()
    .map(|(rule, n)| (rule.to_owned(), n))
    .collect();
    assert_eq!(archived_report(&files, &report), expected, "{}", text(&files["redaction-report.json"]));
    assert!(!files.contains_key("namespaces/emr/secrets.json") && !files.contains_key("cluster/nodes.json"));

    // As text: the archive, its digest, the namespaces and the counts on stdout, the
    // warnings on stderr.
    let out = Command::new(env!("CARGO_BIN_EXE_genesis"))
        .arg("support-bundle")
        .arg("--kubeconfig")
        .arg(kubeconfig)
        .args(["-n", NS, "-o"])
        .arg(dir.path().join("text.tar.gz"))
        .env_remove("KUBECONFIG")
        .output()
        .unwrap();
    let (stdout, stderr) = (text(&out.stdout), text(&out.stderr));
    assert_eq!(out.status.code(), Some(0), "{stdout}{stderr}");
    assert!(stdout.contains(&format!("sha256 {}  (", report["sha256"].as_str().unwrap())), "{stdout}");
    assert!(stdout.contains("namespaces: emr\n") && stdout.contains("redacted: 10 values ("), "{stdout}");
    assert!(stderr.contains("warning: namespace emr: secrets: not collected"), "{stderr}");
}
