//! `genesis preflight` against real servers on loopback: PostgreSQL and Redis from Debian,
//! the Debian registry over TLS with rcgen certificates (valid, expiring, expired, another
//! CA) and over plain HTTP, the system resolver for `localhost`, and the disk; then each
//! server stopped to see its FAIL row. Through the real kube-apiserver: cert-manager's CRDs,
//! and dependencies named by their Service.

use std::path::Path;
use std::process::{Command, Output};

use genesis_testkit::Distribution;
use genesis_testkit::pki::TlsPki;
use genesis_testkit::services::{Postgres, Redis};

use crate::text;

fn preflight(file: &Path) -> (Output, serde_json::Value) {
    let out = Command::new(env!("CARGO_BIN_EXE_genesis"))
        .args(["preflight", "-f", file.to_str().unwrap(), "--output", "json"])
        .output()
        .unwrap();
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
    (out, report)
}

/// (status, detail, remedy) of the check whose name starts with `prefix`.
fn row<'a>(report: &'a serde_json::Value, prefix: &str) -> (&'a str, &'a str, &'a str) {
    let c = report["checks"]
        .as_array()
        .unwrap()
        .iter()
        .find(|c| c["name"].as_str().unwrap().starts_with(prefix))
        .unwrap_or_else(|| panic!("no {prefix} row in {report}"));
    (c["status"].as_str().unwrap(), c["detail"].as_str().unwrap(), c["remedy"].as_str().unwrap())
}

fn bundle() -> std::path::PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/bundles/good/demo-0.1.0.tar.zst")
}

#[test]
fn every_check_passes_against_ready_servers_then_fails_with_a_remedy_when_they_stop() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TlsPki::write(dir.path());
    let mut postgres = Postgres::start();
    let mut redis = Redis::start();
    let tls = Distribution::start_with(Some(pki.valid.clone()));
    let mut registry = Distribution::start();
    let file = dir.path().join("preflight.yaml");
    std::fs::write(
        &file,
        format!(
            "postgres: {{ url: \"{}\" }}\nredis: {{ url: \"{}\" }}\ndns: [localhost]\n\
             tls: [ {{ endpoint: \"127.0.0.1:{}\", ca: ca.crt, warnDays: 30 }} ]\n\
             registry: {{ url: \"http://{}\" }}\ndisk: {{ path: \"{}\", bundle: \"{}\" }}\n",
            postgres.url(),
            redis.url(),
            tls.port,
            registry.host(),
            dir.path().display(),
            bundle().display()
        ),
    )
    .unwrap();

    let (ok, report) = preflight(&file);
    assert_eq!(ok.status.code(), Some(0), "{report}");
    assert_eq!(report["checks"].as_array().unwrap().len(), 6);
    for c in report["checks"].as_array().unwrap() {
        assert_eq!(c["status"], "pass", "{c}");
    }
    assert_eq!(row(&report, "postgres").1, "connected; SELECT 1 answered");
    assert!(!report.to_string().contains(Redis::PASSWORD), "the password never appears in the report");
    assert!(row(&report, "tls").1.contains("chain verifies against"), "{report}");

    postgres.stop();
    redis.kill();
    registry.kill();
    let (failed, report) = preflight(&file);
    assert_eq!(failed.status.code(), Some(1), "{report}");
    for (name, detail) in [("postgres", "cannot connect"), ("redis", "cannot connect"), ("registry", "")] {
        let (status, d, remedy) = row(&report, name);
        assert_eq!(status, "fail", "{name}: {report}");
        assert!(d.contains(detail), "{name}: {d}");
        assert!(remedy.contains("start"), "{name}: {remedy}");
    }
    assert_eq!(row(&report, "dns").0, "pass");
}

#[test]
fn tls_chains_are_judged_expiring_expired_or_from_another_ca() {
    let dir = tempfile::tempdir().unwrap();
    let pki = TlsPki::write(dir.path());
    let expiring = Distribution::start_with(Some(pki.expiring.clone()));
    let expired = Distribution::start_with(Some(pki.expired.clone()));
    let valid = Distribution::start_with(Some(pki.valid.clone()));
    let file = dir.path().join("preflight.yaml");
    std::fs::write(
        &file,
        format!(
            "tls:\n  - {{ endpoint: \"127.0.0.1:{}\", ca: ca.crt, warnDays: 30 }}\n  - {{ endpoint: \"127.0.0.1:{}\", ca: ca.crt }}\n  - {{ endpoint: \"127.0.0.1:{}\", ca: other-ca.crt }}\n",
            expiring.port, expired.port, valid.port
        ),
    )
    .unwrap();
    let (out, report) = preflight(&file);
    assert_eq!(out.status.code(), Some(1), "{report}");
    let checks = report["checks"].as_array().unwrap();
    assert_eq!(checks[0]["status"], "warn", "{}", checks[0]);
    assert!(checks[0]["remedy"].as_str().unwrap().contains("renew"), "{}", checks[0]);
    assert_eq!(checks[1]["status"], "fail", "{}", checks[1]);
    assert!(checks[1]["detail"].as_str().unwrap().contains("expired"), "{}", checks[1]);
    assert_eq!(checks[2]["status"], "fail", "{}", checks[2]);
    assert!(checks[2]["detail"].as_str().unwrap().contains("does not lead to a CA in"), "{}", checks[2]);
}

#[test]
fn a_wrong_redis_password_a_missing_disk_path_and_text_output() {
    let dir = tempfile::tempdir().unwrap();
    let redis = Redis::start();
    let file = dir.path().join("preflight.yaml");
    std::fs::write(
        &file,
        format!(
            "redis: {{ url: \"redis://127.0.0.1:{}\" }}\ndisk: {{ path: \"{}/nowhere\", bundle: \"{}\" }}\n",
            redis.port,
            dir.path().display(),
            bundle().display()
        ),
    )
    .unwrap();
    let (out, report) = preflight(&file);
    assert_eq!(out.status.code(), Some(1), "{report}");
    let (status, detail, remedy) = row(&report, "redis");
    assert_eq!(status, "fail");
    assert!(detail.contains("NOAUTH"), "{detail}");
    assert!(remedy.contains("password"), "{remedy}");
    assert_eq!(row(&report, "disk").0, "fail");

    let text_out =
        Command::new(env!("CARGO_BIN_EXE_genesis")).args(["preflight", "-f", file.to_str().unwrap()]).output().unwrap();
    let t = text(&text_out.stdout);
    assert!(t.lines().any(|l| l.starts_with("FAIL  redis")), "{t}");
    assert!(t.contains("remedy: "), "{t}");
    assert!(t.ends_with("0 passed, 0 warnings, 2 failed\n"), "{t}");
}

/// A cert-manager CRD (the shape, not the whole schema).
fn cert_manager_crd(plural: &str, kind: &str, scope: &str) -> serde_json::Value {
    serde_json::json!({
        "apiVersion": "apiextensions.k8s.io/v1",
        "kind": "CustomResourceDefinition",
        "metadata": { "name": format!("{plural}.cert-manager.io") },
        "spec": {
            "group": "cert-manager.io",
            "scope": scope,
            "names": { "plural": plural, "singular": plural.trim_end_matches('s'), "kind": kind },
            "versions": [{ "name": "v1", "served": true, "storage": true,
                           "schema": { "openAPIV3Schema": { "type": "object", "x-kubernetes-preserve-unknown-fields": true } } }],
        },
    })
}

#[test]
fn cert_manager_is_checked_through_the_api_server() {
    let api = genesis_testkit::kube::KubeApiserver::start();
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("preflight.yaml");
    std::fs::write(&file, "kubernetes: { certManager: true }\n").unwrap();
    let run = || {
        let out = Command::new(env!("CARGO_BIN_EXE_genesis"))
            .args(["preflight", "-f", file.to_str().unwrap(), "--kubeconfig", api.kubeconfig().to_str().unwrap()])
            .args(["--output", "json"])
            .output()
            .unwrap();
        let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
        (out.status.code(), report)
    };
    let (code, report) = run();
    assert_eq!(code, Some(1), "{report}");
    let (status, detail, remedy) = row(&report, "kubernetes cert-manager");
    assert_eq!(status, "fail");
    assert!(detail.contains("certificates.cert-manager.io"), "{detail}");
    assert!(remedy.contains("install cert-manager"), "{remedy}");

    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let cluster = genesis_kube::Cluster::connect(Some(&api.kubeconfig())).await.unwrap();
        let crds = vec![
            cert_manager_crd("certificates", "Certificate", "Namespaced"),
            cert_manager_crd("issuers", "Issuer", "Namespaced"),
            cert_manager_crd("clusterissuers", "ClusterIssuer", "Cluster"),
        ];
        genesis_kube::apply(&cluster, crds, Default::default()).await.unwrap();
    });
    let (code, report) = run();
    assert_eq!(code, Some(0), "{report}");
    assert_eq!(row(&report, "kubernetes cert-manager").0, "pass");
}

#[test]
fn services_are_resolved_through_the_api_server_and_one_missing_is_degraded() {
    let api = genesis_testkit::kube::KubeApiserver::start();
    let redis = Redis::start();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    runtime.block_on(async {
        let cluster = genesis_kube::Cluster::connect(Some(&api.kubeconfig())).await.unwrap();
        let objects = vec![
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "data"}}),
            serde_json::json!({
                "apiVersion": "v1", "kind": "Service", "metadata": {"name": "redis", "namespace": "data"},
                "spec": {"type": "ExternalName", "externalName": "localhost",
                         "ports": [{"name": "resp", "port": redis.port, "protocol": "TCP"}]},
            }),
        ];
        genesis_kube::apply(&cluster, objects, Default::default()).await.unwrap();
    });
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("preflight.yaml");
    std::fs::write(
        &file,
        format!(
            "postgres: {{ url: \"postgres://postgres@db/postgres\", service: \"data/nosuch:sql\" }}\n\
             redis: {{ url: \"redis://:{}@cache\", service: \"data/redis:resp\" }}\n",
            Redis::PASSWORD
        ),
    )
    .unwrap();
    let out = Command::new(env!("CARGO_BIN_EXE_genesis"))
        .args(["preflight", "-f", file.to_str().unwrap(), "--kubeconfig", api.kubeconfig().to_str().unwrap()])
        .args(["--output", "json"])
        .output()
        .unwrap();
    let report: serde_json::Value =
        serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stderr)));
    assert_eq!(out.status.code(), Some(1), "a degraded row is not ready: {report}");
    let endpoint = format!("localhost:{}", redis.port);

    let (status, detail, _) = row(&report, "redis");
    assert_eq!(status, "pass", "{report}");
    assert_eq!(detail, "PING answered PONG");
    assert_eq!(report["checks"][1]["id"], "redis");
    assert_eq!(report["checks"][1]["name"], format!("redis redis://@{endpoint} (Service data/redis:resp)"));
    let (status, detail, remedy) = row(&report, "postgres");
    assert_eq!(status, "degraded", "{report}");
    assert!(detail.contains("Service data/nosuch: no such Service in namespace data"), "{detail}");
    assert!(remedy.contains("create Service data/nosuch with a port named sql"), "{remedy}");

    // The Services are named before anything is contacted, and the address learned before it is.
    let stderr = text(&out.stderr);
    let first = stderr.lines().next().unwrap_or_default();
    assert_eq!(
        first,
        "genesis preflight: network: this run contacts only the endpoint of Service data/nosuch:sql, the \
         endpoint of Service data/redis:resp, the Kubernetes API server (--kubeconfig, KUBECONFIG or the \
         in-cluster service account)"
    );
    let learned = format!("genesis preflight: network: contacting {endpoint}, the endpoint of Service data/redis:resp");
    assert!(stderr.lines().any(|l| l == learned), "{stderr}");
    assert!(report["endpoints"].as_array().unwrap().iter().any(|e| e == &endpoint), "{report}");
    assert!(!stderr.contains(Redis::PASSWORD) && !report.to_string().contains(Redis::PASSWORD), "{stderr}");
}
