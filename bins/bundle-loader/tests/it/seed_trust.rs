//! What a seed refused leaves at the destination, and what its trust judges: the tag keeps
//! serving what it served (the signature and the policy judged on the source before anything
//! is copied, the tags put only once the destination passed), the version is read against
//! the signed one, a catalog entry's own key keeps the run's policy, a sidecar that exists is
//! never taken for absent, and a failed catalog run leaves no earlier roll-up behind.

use std::path::{Path, PathBuf};
use std::process::Command;

use genesis_testkit::http::{StandIn, forward, respond};
use genesis_testkit::{cosign_sign, push_artifact, put_manifest};
use genesis_types::media_types::{OCI_INDEX, OCI_MANIFEST};
use serde_json::{Value, json};

use crate::registry::skopeo_raw;
use crate::seed::{REPO, Site, assert_refused_at, key, lock, report, seed, seed_catalog};
use crate::{b3sum, listing, test_pub, text};

/// The digest of what `host` serves at `demo/app:<reference>`, asked with a GET as any
/// client would; `None` when it serves nothing there.
fn served(host: &str, reference: &str) -> Option<String> {
    let out = Command::new("curl")
        .args(["-sf", "-H", &format!("Accept: {OCI_MANIFEST}, {OCI_INDEX}")])
        .arg(format!("http://{host}/v2/{REPO}/manifests/{reference}"))
        .output()
        .unwrap();
    out.status.success().then(|| genesis_bundle::sha256(&out.stdout).to_string())
}

/// A trust policy in `dir` that trusts the test key, with `rules` (YAML lines) besides.
fn trust_policy(dir: &Path, rules: &str) -> PathBuf {
    let path = dir.join("trust.yaml");
    std::fs::write(&path, format!("keys: ['{}']\n{rules}", test_pub().display())).unwrap();
    path
}

/// A catalog `name` in `dir` seeding each `(from, to)`, each entry with its own key
/// (`./test.pub`, copied beside it).
fn catalog(dir: &Path, name: &str, entries: &[(String, String)]) -> PathBuf {
    std::fs::copy(test_pub(), dir.join("test.pub")).unwrap();
    let mut yaml = "version: 1\nentries:\n".to_owned();
    for (from, to) in entries {
        yaml.push_str(&format!("  - from: {from}\n    to: {to}\n    pub_key: ./test.pub\n"));
    }
    let path = dir.join(name);
    std::fs::write(&path, yaml).unwrap();
    path
}

/// A different image at `demo/app:amd64` in the source (the index's linux/amd64 manifest
/// alone), validly signed by the test key; its digest.
fn another_signed_image(site: &Site) -> String {
    let (digest, bytes) = site.platform_manifest("amd64");
    put_manifest(&site.source.host(), REPO, "amd64", OCI_MANIFEST, &bytes);
    cosign_sign(&site.source.host(), REPO, &digest, &key("test.key"));
    digest
}

/// A registry port in front of `upstream` that answers `GET target` with 404, as a registry
/// that does not have the manifest, and passes everything else on.
fn hiding(upstream: u16, target: String) -> StandIn {
    StandIn::start(move |request, conn| {
        if request.method == "GET" && request.target == target {
            let unknown = br#"{"errors":[{"code":"MANIFEST_UNKNOWN","message":"manifest unknown"}]}"#;
            return respond(conn, "404 Not Found", &[("Content-Type", "application/json")], unknown);
        }
        forward(request, conn, upstream)
    })
}

#[test]
fn an_image_refused_for_its_signature_never_replaces_the_verified_one_at_the_tag() {
    let site = Site::signed();
    let dir = tempfile::tempdir().unwrap();
    let pub_key = test_pub();
    let first = dir.path().join("first");
    let key_args = ["--key", pub_key.to_str().unwrap(), "--output", "json"];
    report(&seed(&site.source_ref("v1"), &site.dest_ref("v1"), &first, &key_args));
    assert_eq!(served(&site.destination.host(), "v1"), Some(site.digest.clone()));

    let other = another_signed_image(&site);
    let refused = dir.path().join("refused");
    let wrong_key = key("other.pub");
    let run = seed(&site.source_ref("amd64"), &site.dest_ref("v1"), &refused, &["--key", wrong_key.to_str().unwrap()]);
    assert_refused_at(&run, &refused, "signature");
    assert_eq!(served(&site.destination.host(), "v1"), Some(site.digest.clone()), "the tag moved to {other}");
}

#[test]
fn an_image_refused_as_a_rollback_never_replaces_the_verified_one_at_the_tag() {
    let site = Site::signed();
    let dir = tempfile::tempdir().unwrap();
    let policy = trust_policy(dir.path(), "antiRollback: {state: installed.json}\n");
    let policy = policy.to_str().unwrap();
    let first = dir.path().join("first");
    report(&seed(&site.source_ref("v1"), &site.dest_ref("v1"), &first, &["--policy", policy, "--output", "json"]));

    // Another image under the same version: a re-release the anti-rollback state refuses.
    let other = another_signed_image(&site);
    let refused = dir.path().join("refused");
    let run = seed(&site.source_ref("amd64"), &site.dest_ref("v1"), &refused, &["--policy", policy]);
    assert_refused_at(&run, &refused, "policy");
    assert!(text(&run.stderr).contains("same version, different content"), "{}", text(&run.stderr));
    assert_eq!(served(&site.destination.host(), "v1"), Some(site.digest.clone()), "the tag moved to {other}");
}

#[test]
fn a_tag_naming_another_version_than_the_signed_annotation_is_refused_at_the_policy_step() {
    let site = Site::signed();
    let host = site.source.host();
    let mut index: Value = serde_json::from_slice(&site.index).unwrap();
    index["annotations"] = json!({"org.opencontainers.image.version": "1.0.0"});
    let annotated = serde_json::to_vec(&index).unwrap();
    put_manifest(&host, REPO, "v2.0.0", OCI_INDEX, &annotated);
    cosign_sign(&host, REPO, &genesis_bundle::sha256(&annotated).to_string(), &key("test.key"));
    let dir = tempfile::tempdir().unwrap();
    let policy = trust_policy(dir.path(), "");
    let policy = policy.to_str().unwrap();

    let refused = dir.path().join("refused");
    let run = seed(&site.source_ref("v2.0.0"), &site.dest_ref("v2.0.0"), &refused, &["--policy", policy]);
    assert_refused_at(&run, &refused, "policy");
    let stderr = text(&run.stderr);
    assert!(stderr.contains("v2.0.0") && stderr.contains("\"1.0.0\""), "both versions are named: {stderr}");
    assert_eq!(site.destination.stored_blobs(), 0, "refused before anything was copied");

    // Under the tag it states, the same image passes, its version the signed one; an image
    // that states none has its version from the tag, and the step says so.
    put_manifest(&host, REPO, "v1.0.0", OCI_INDEX, &annotated);
    let policy_step = |tag: &str| {
        let out = dir.path().join(tag);
        let outcome = report(&seed(
            &site.source_ref(tag),
            &site.dest_ref(tag),
            &out,
            &["--policy", policy, "--output", "json", "--quiet"],
        ));
        let steps = outcome["verification"].as_array().unwrap().clone();
        let step = steps.into_iter().find(|s| s["step"] == "policy").unwrap();
        step["detail"].as_str().unwrap().to_owned()
    };
    let signed = policy_step("v1.0.0");
    assert!(signed.contains("annotation") && !signed.contains("unsigned"), "{signed}");
    let unsigned = policy_step("v1");
    assert!(unsigned.contains("read from tag v1 (unsigned"), "{unsigned}");
}

#[test]
fn a_catalog_entry_with_its_own_key_is_still_judged_by_the_run_policy() {
    let site = Site::signed();
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog(dir.path(), "site.yaml", &[(site.source_ref("v1"), site.dest_ref("v1"))]);
    let policy = trust_policy(dir.path(), "versions: '>=2.0.0'\n");
    let out = dir.path().join("seed");
    let run = seed_catalog(&catalog, &out, &["--policy", policy.to_str().unwrap(), "--output", "json"]);
    assert_eq!(run.status.code(), Some(1), "{}", text(&run.stderr));
    let outcome: Value = serde_json::from_slice(&run.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&run.stdout)));
    let entry = &outcome["manifest"]["entries"][0];
    assert_eq!(entry["status"], "failed", "{outcome}");
    let error = entry["error"].as_str().unwrap();
    assert!(error.contains("at step policy") && error.contains(">=2.0.0"), "{error}");
    assert_eq!(served(&site.destination.host(), "v1"), None, "the refused image was tagged");
}

#[test]
fn a_failed_fail_fast_run_leaves_no_earlier_rollup_to_publish() {
    let site = Site::signed();
    let dir = tempfile::tempdir().unwrap();
    let good = (site.source_ref("v1"), site.dest_ref("v1"));
    let out = dir.path().join("seed");
    let run = seed_catalog(&catalog(dir.path(), "good.yaml", std::slice::from_ref(&good)), &out, &[]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    assert!(out.join("catalog-seed-manifest.json").exists(), "{:?}", listing(&out));

    let absent =
        (format!("{}/demo/absent:v1", site.source.host()), format!("{}/demo/absent:v1", site.destination.host()));
    let run = seed_catalog(&catalog(dir.path(), "failing.yaml", &[good, absent]), &out, &[]);
    assert!(!run.status.success(), "{}", text(&run.stderr));
    assert!(!out.join("catalog-seed-manifest.json").exists(), "the earlier roll-up is left: {:?}", listing(&out));
}

/// The source's `v1-lock` is an index whose one manifest the source does not serve: the
/// sidecar exists, so it cannot pass for one that was never shipped.
#[test]
fn a_lock_sidecar_that_exists_but_cannot_be_copied_fails_the_seed() {
    let site = Site::signed();
    let host = site.source.host();
    let document = lock(&b3sum(&site.index), &site.digest);
    let child = push_artifact(&host, REPO, "lock-document", "application/json", &document);
    let size = skopeo_raw(&format!("{host}/{REPO}@{child}")).len();
    let index = json!({"schemaVersion": 2, "mediaType": OCI_INDEX,
        "manifests": [{"mediaType": OCI_MANIFEST, "digest": child, "size": size}]});
    put_manifest(&host, REPO, "v1-lock", OCI_INDEX, &serde_json::to_vec(&index).unwrap());
    let proxy = hiding(site.source.port, format!("/v2/{REPO}/manifests/{child}"));

    let out = tempfile::tempdir().unwrap();
    let from = format!("127.0.0.1:{}/{REPO}:v1", proxy.port);
    let pub_key = test_pub();
    let run = seed(&from, &site.dest_ref("v1"), out.path(), &["--copy-policy", "--key", pub_key.to_str().unwrap()]);
    let stderr = text(&run.stderr);
    assert!(!run.status.success(), "a sidecar that exists passed for absent: {stderr}");
    assert!(stderr.contains(&child), "the missing manifest is named: {stderr}");
    assert!(listing(out.path()).is_empty(), "{:?}", listing(out.path()));
    assert_eq!(served(&site.destination.host(), "v1"), None, "the image was tagged");
}

/// The destination takes the lock but does not serve it back by its digest: step 3 reads
/// the lock that was copied, and a lock copied is never taken for absent.
#[test]
fn a_copied_lock_the_destination_does_not_serve_back_fails_the_fingerprint_step() {
    let site = Site::signed();
    let document = lock(&b3sum(&site.index), &site.digest);
    let lock_digest = push_artifact(&site.source.host(), REPO, "v1-lock", "application/json", &document);
    let proxy = hiding(site.destination.port, format!("/v2/{REPO}/manifests/{lock_digest}"));

    let out = tempfile::tempdir().unwrap();
    let to = format!("127.0.0.1:{}/{REPO}:v1", proxy.port);
    let pub_key = test_pub();
    let run = seed(&site.source_ref("v1"), &to, out.path(), &["--copy-policy", "--key", pub_key.to_str().unwrap()]);
    assert_refused_at(&run, out.path(), "fingerprint");
    for tag in ["v1", "v1-lock"] {
        assert_eq!(served(&site.destination.host(), tag), None, "{tag} was tagged");
    }
}
