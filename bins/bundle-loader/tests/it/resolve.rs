//! The layered resolver against real registries: local first, then a fallback whose image
//! must carry a cosign signature by a trusted key, then fail closed; every resolution is
//! audited as a JSON line.

use std::path::Path;

use crate::{case, fixtures, loader, test_pub, text};
use genesis_testkit::{Distribution, cosign_sign};

fn load_into(registry: &Distribution) -> String {
    let key = test_pub();
    let out = loader(&[
        "load",
        case("good").to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--registry",
        &registry.host(),
        "--plain-http",
        "--quiet",
        "--output",
        "json",
    ]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    v["images"][0]["target"].as_str().unwrap().rsplit_once('@').unwrap().1.to_owned()
}

fn config(dir: &Path, local: &Distribution, fallback: Option<&Distribution>) -> std::path::PathBuf {
    let mut yaml = format!("local: {{registry: '{}', plainHttp: true}}\naudit: audit.jsonl\n", local.host());
    if let Some(f) = fallback {
        yaml.push_str(&format!(
            "fallbacks:\n  - {{registry: '{}', plainHttp: true, trustedKeys: ['{}']}}\n",
            f.host(),
            test_pub().display()
        ));
    }
    let path = dir.join("resolver.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

fn resolve(config: &Path) -> std::process::Output {
    loader(&["resolve", "registry.example.com/demo/app:1.0", "--config", config.to_str().unwrap(), "--output", "json"])
}

fn audit(dir: &Path) -> Vec<serde_json::Value> {
    std::fs::read_to_string(dir.join("audit.jsonl"))
        .unwrap()
        .lines()
        .map(|l| serde_json::from_str(l).unwrap())
        .collect()
}

#[test]
fn the_local_layer_answers_first() {
    let (local, fallback) = (Distribution::start(), Distribution::start());
    let digest = load_into(&local);
    load_into(&fallback);
    let dir = tempfile::tempdir().unwrap();
    let out = resolve(&config(dir.path(), &local, Some(&fallback)));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["layer"], "local");
    assert_eq!(v["resolved"], format!("{}/demo/app@{digest}", local.host()));
    assert_eq!(audit(dir.path())[0]["layer"], "local");
}

#[test]
fn a_fallback_answers_only_with_a_trusted_signature() {
    let (local, fallback) = (Distribution::start(), Distribution::start());
    let digest = load_into(&fallback);
    let dir = tempfile::tempdir().unwrap();
    let cfg = config(dir.path(), &local, Some(&fallback));

    // Unsigned in the fallback: refused, fail closed.
    let out = resolve(&cfg);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no cosign signature"), "{}", text(&out.stderr));

    // Signed by a key the operator does not trust: still refused.
    cosign_sign(&fallback.host(), "demo/app", &digest, &fixtures().join("keys/other.key"));
    assert_eq!(resolve(&cfg).status.code(), Some(4));

    // Signed by the trusted key: the fallback answers, and says so.
    cosign_sign(&fallback.host(), "demo/app", &digest, &fixtures().join("keys/test.key"));
    let out = resolve(&cfg);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["layer"], "fallback");
    assert!(v["signedBy"].as_str().unwrap().starts_with("key SHA256:"), "{v}");
    let records = audit(dir.path());
    assert_eq!(records.iter().map(|r| r["layer"].as_str().unwrap()).collect::<Vec<_>>(), ["none", "none", "fallback"]);
}

#[test]
fn without_fallbacks_a_miss_fails_closed() {
    let local = Distribution::start();
    let dir = tempfile::tempdir().unwrap();
    let out = resolve(&config(dir.path(), &local, None));
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("failing closed"), "{}", text(&out.stderr));
}

#[test]
fn a_fallback_without_trusted_keys_is_a_config_error() {
    let local = Distribution::start();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("resolver.yaml");
    std::fs::write(
        &path,
        format!(
            "local: {{registry: '{0}', plainHttp: true}}\nfallbacks: [{{registry: '{0}', plainHttp: true}}]\n",
            local.host()
        ),
    )
    .unwrap();
    let out = resolve(&path);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("same signature discipline"), "{}", text(&out.stderr));
}
