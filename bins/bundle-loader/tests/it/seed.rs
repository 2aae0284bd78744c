//! `bundle-loader registry …` (seed 004, issue 15) between real registries on loopback:
//! Distribution at both ends, go-containerregistry's registry where the Referrers API is
//! needed, skopeo and curl as independent readers, and stand-ins in front of a registry
//! where a test must hold or rewrite its traffic.

use std::io::Read as _;
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::time::{Duration, Instant};

use genesis_cli_support::exit;
use genesis_testkit::http::{StandIn, forward, respond};
use genesis_testkit::{
    Distribution, Ocireg, attach_referrer, cosign_sign, free_port, push_artifact, push_blob, push_fixture_image,
    put_manifest,
};
use genesis_types::media_types::{OCI_INDEX, OCI_MANIFEST};
use serde_json::{Value, json};

use crate::registry::skopeo_raw;
use crate::{b3sum, fixtures, listing, loader, test_pub, text};

/// The repository every test seeds.
pub(crate) const REPO: &str = "demo/app";

/// The fields of seed 004's `seed-manifest.json`, in its order.
const SEED_FIELDS: [&str; 10] = [
    "schema_version",
    "source_ref",
    "source_digest",
    "dest_ref",
    "dest_digest",
    "platforms",
    "copied_policy",
    "signing_key_ref",
    "verified",
    "seeded_at",
];

/// The artifact type `publish-index` gives the roll-up (the brief's `CATALOG_ARTIFACT_TYPE`).
const CATALOG_ARTIFACT_TYPE: &str = "application/vnd.genesis.catalog-seed.v1+json";

/// A source and a destination registry, the fixture index at `demo/app:v1` in the source.
pub(crate) struct Site {
    pub(crate) source: Distribution,
    pub(crate) destination: Distribution,
    /// The index's bytes and digest, as the source serves them.
    pub(crate) index: Vec<u8>,
    pub(crate) digest: String,
}

impl Site {
    fn unsigned() -> Site {
        let (source, destination) = (Distribution::start(), Distribution::start());
        push_fixture_image(&source.host(), &format!("{REPO}:v1"));
        let index = skopeo_raw(&format!("{}/{REPO}:v1", source.host()));
        let digest = genesis_bundle::sha256(&index).to_string();
        Site { source, destination, index, digest }
    }

    /// With the index signed by the test key, as `cosign sign --key` stores it.
    pub(crate) fn signed() -> Site {
        let site = Site::unsigned();
        cosign_sign(&site.source.host(), REPO, &site.digest, &key("test.key"));
        site
    }

    /// `SOURCE/demo/app:TAG`.
    pub(crate) fn source_ref(&self, tag: &str) -> String {
        format!("{}/{REPO}:{tag}", self.source.host())
    }

    /// `DESTINATION/demo/app:TAG`.
    pub(crate) fn dest_ref(&self, tag: &str) -> String {
        format!("{}/{REPO}:{tag}", self.destination.host())
    }

    /// The digest of the index's manifest for `architecture`, and its bytes.
    pub(crate) fn platform_manifest(&self, architecture: &str) -> (String, Vec<u8>) {
        let index: Value = serde_json::from_slice(&self.index).unwrap();
        let entry =
            index["manifests"].as_array().unwrap().iter().find(|m| m["platform"]["architecture"] == architecture);
        let digest = entry.unwrap()["digest"].as_str().unwrap().to_owned();
        let bytes = skopeo_raw(&format!("{}/{REPO}@{digest}", self.source.host()));
        (digest, bytes)
    }
}

pub(crate) fn key(name: &str) -> PathBuf {
    fixtures().join("keys").join(name)
}

/// `bundle-loader registry seed --from FROM --to TO --out OUT --plain-http EXTRA…`
pub(crate) fn seed(from: &str, to: &str, out: &Path, extra: &[&str]) -> Output {
    let base = ["registry", "seed", "--from", from, "--to", to, "--out", out.to_str().unwrap(), "--plain-http"];
    loader(&[&base[..], extra].concat())
}

/// The JSON report of a run that succeeded.
pub(crate) fn report(out: &Output) -> Value {
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

/// A seed stopped by verification `step`: exit 1, the failed verification and its step
/// named, and neither `seed-manifest.json` nor `seed.lock` in `out`.
pub(crate) fn assert_refused_at(run: &Output, out: &Path, step: &str) {
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("verification failed") && stderr.contains(step), "the {step} step is not named: {stderr}");
    assert!(!out.join("seed-manifest.json").exists() && !out.join("seed.lock").exists(), "{:?}", listing(out));
}

/// Whether `repo` on `host` has the blob, asked the way any client would.
fn has_blob(host: &str, repo: &str, digest: &str) -> bool {
    let url = format!("http://{host}/v2/{repo}/blobs/{digest}");
    Command::new("curl").args(["-sfI", &url]).status().unwrap().success()
}

/// The blobs (configs and layers) of every platform of the index `reference` in `repo`.
fn blobs_of(host: &str, repo: &str, reference: &str) -> Vec<String> {
    let index: Value = serde_json::from_slice(&skopeo_raw(&format!("{host}/{repo}:{reference}"))).unwrap();
    let mut blobs = Vec::new();
    for child in index["manifests"].as_array().unwrap() {
        let raw = skopeo_raw(&format!("{host}/{repo}@{}", child["digest"].as_str().unwrap()));
        let manifest: Value = serde_json::from_slice(&raw).unwrap();
        blobs.push(manifest["config"]["digest"].as_str().unwrap().to_owned());
        blobs.extend(manifest["layers"].as_array().unwrap().iter().map(|l| l["digest"].as_str().unwrap().to_owned()));
    }
    blobs.sort();
    blobs.dedup();
    blobs
}

/// The top-level keys of a flat JSON object in the order of its text (`Value` sorts them).
fn keys_in_order(json: &str) -> Vec<String> {
    let object: serde_json::Map<String, Value> = serde_json::from_str(json).unwrap();
    let mut keys: Vec<(usize, String)> = object
        .keys()
        .map(|k| (json.find(&format!("\"{k}\":")).or_else(|| json.find(&format!("\"{k}\" :"))).unwrap(), k.clone()))
        .collect();
    keys.sort();
    keys.into_iter().map(|(_, k)| k).collect()
}

/// `-lock` sidecar content: the BLAKE3 it pins and the digest it names.
pub(crate) fn lock(blake3: &str, digest: &str) -> Vec<u8> {
    serde_json::to_vec(&json!({"blake3": blake3, "digest": digest})).unwrap()
}

/// `bundle-loader ARGS…` with logging off, so that stderr holds only what the run says itself.
fn unlogged(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bundle-loader")).args(args).env("RUST_LOG", "off").output().unwrap()
}

/// The endpoints the first line of `stderr` announces, sorted; a panic when the first line is
/// anything else.
fn announced(stderr: &str) -> Vec<String> {
    let first = stderr.lines().next().unwrap_or_default();
    let named =
        first.strip_prefix("bundle-loader: network: this run contacts only ").unwrap_or_else(|| panic!("{stderr}"));
    let mut named: Vec<String> = named.split(", ").map(str::to_owned).collect();
    named.sort();
    named
}

/// A catalog in `dir` of `(from, to)` entries, without keys.
fn write_catalog(dir: &Path, entries: &[(String, String)]) -> PathBuf {
    let mut yaml = "version: 1\nentries:\n".to_owned();
    for (from, to) in entries {
        yaml.push_str(&format!("  - from: {from}\n    to: {to}\n"));
    }
    let path = dir.join("catalog.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

#[test]
fn a_signed_multi_arch_image_is_seeded_byte_for_byte_with_its_signature_sbom_sidecars_and_audit_files() {
    let site = Site::signed();
    let (source, destination) = (site.source.host(), site.destination.host());
    let subject = json!({"mediaType": OCI_INDEX, "digest": site.digest, "size": site.index.len()});
    let sbom = attach_referrer(&source, REPO, &subject, "application/spdx+json", br#"{"spdxVersion":"SPDX-2.3"}"#);
    let fingerprint = b3sum(&site.index);
    push_artifact(&source, REPO, "v1-lock", "application/json", &lock(&fingerprint, &site.digest));
    push_artifact(&source, REPO, "v1-policy", "application/yaml", b"versions: '>=1.0.0'\n");

    let out = tempfile::tempdir().unwrap();
    let pub_key = test_pub();
    let run = seed(
        &site.source_ref("v1"),
        &site.dest_ref("v1"),
        out.path(),
        &["--copy-policy", "--key", pub_key.to_str().unwrap(), "--output", "json", "--quiet"],
    );
    let outcome = report(&run);

    // The index and every platform manifest: the same bytes at both ends, under their digests.
    let raw = |host: &str, reference: &str| skopeo_raw(&format!("{host}/{REPO}{reference}"));
    assert_eq!(raw(&destination, ":v1"), site.index);
    assert_eq!(raw(&destination, &format!("@{}", site.digest)), site.index);
    let index: Value = serde_json::from_slice(&site.index).unwrap();
    for child in index["manifests"].as_array().unwrap() {
        let digest = child["digest"].as_str().unwrap();
        let copied = raw(&destination, &format!("@{digest}"));
        assert_eq!(genesis_bundle::sha256(&copied).to_string(), digest);
        assert_eq!(copied, raw(&source, &format!("@{digest}")), "{digest}");
    }
    // What makes it trustworthy came along: signature, sidecars, and the SBOM referrer, listed
    // in the referrers tag schema (Distribution has no Referrers API).
    let fallback = site.digest.replace(':', "-");
    for reference in [format!(":{fallback}.sig"), ":v1-lock".to_owned(), ":v1-policy".to_owned(), format!("@{sbom}")] {
        assert_eq!(raw(&destination, &reference), raw(&source, &reference), "{reference}");
    }
    let referrers: Value = serde_json::from_slice(&raw(&destination, &format!(":{fallback}"))).unwrap();
    assert!(referrers["manifests"].as_array().unwrap().iter().any(|m| m["digest"] == sbom.as_str()), "{referrers}");

    // The audit files: seed 004's fields in its order, and the digest-pinned lock.
    let written = std::fs::read_to_string(out.path().join("seed-manifest.json")).unwrap();
    assert_eq!(keys_in_order(&written), SEED_FIELDS);
    let manifest: Value = serde_json::from_str(&written).unwrap();
    assert_eq!(manifest["schema_version"], "seed.v1");
    assert_eq!(manifest["source_ref"], site.source_ref("v1"));
    assert_eq!(manifest["source_digest"], site.digest);
    assert_eq!(manifest["dest_ref"], site.dest_ref("v1"));
    assert_eq!(manifest["dest_digest"], site.digest);
    assert_eq!(manifest["platforms"], json!(["linux/amd64", "linux/arm64"]));
    assert_eq!(manifest["copied_policy"], true);
    assert!(manifest["signing_key_ref"].as_str().unwrap().ends_with("test.pub"), "{manifest}");
    assert_eq!(manifest["verified"], true);
    let at = manifest["seeded_at"].as_str().unwrap();
    assert!(at.len() == 20 && at.as_bytes()[10] == b'T' && at.ends_with('Z'), "RFC 3339 UTC to the second: {at}");
    let seed_lock = std::fs::read_to_string(out.path().join("seed.lock")).unwrap();
    assert_eq!(seed_lock.trim(), format!("{destination}/{REPO}@{}", site.digest));

    // The report: the same manifest, the four steps, the fingerprint b3sum computes.
    assert_eq!(outcome["manifest"], manifest);
    let steps: Vec<&str> =
        outcome["verification"].as_array().unwrap().iter().map(|s| s["step"].as_str().unwrap()).collect();
    assert_eq!(steps, ["signature", "digest", "fingerprint", "policy"]);
    assert_eq!(outcome["fingerprint"], fingerprint);
    assert_eq!(outcome["warnings"], json!([]), "both sidecars were there");
    // Each blob crossed once, however many manifests share it (the empty config).
    let mut uploads = site.destination.completed_uploads();
    assert_eq!(outcome["copy"]["blobsUploaded"], uploads.len(), "{outcome}");
    uploads.sort();
    uploads.dedup();
    assert_eq!(outcome["copy"]["blobsUploaded"], uploads.len(), "a blob was uploaded twice");
}

#[test]
fn copy_policy_with_only_a_lock_at_the_source_warns_that_the_policy_sidecar_is_not_replicated() {
    let site = Site::signed();
    let source = site.source.host();
    push_artifact(&source, REPO, "v1-lock", "application/json", &lock(&b3sum(&site.index), &site.digest));
    let out = tempfile::tempdir().unwrap();
    let pub_key = test_pub();
    let run = seed(
        &site.source_ref("v1"),
        &site.dest_ref("v1"),
        out.path(),
        &["--copy-policy", "--key", pub_key.to_str().unwrap(), "--output", "json"],
    );
    let outcome = report(&run);
    let warnings = outcome["warnings"].as_array().unwrap();
    let missing: Vec<&str> =
        warnings.iter().map(|w| w.as_str().unwrap()).filter(|w| w.contains("not found at the source")).collect();
    assert_eq!(missing.len(), 1, "{outcome}");
    let sidecar = format!("{source}/{REPO}:v1-policy");
    assert!(missing[0].contains(&format!("sidecar {sidecar} not found at the source: not replicated")), "{outcome}");
    let stderr = text(&run.stderr);
    assert!(stderr.contains(&format!("warning: {}", missing[0])), "{stderr}");
    // The lock crossed; there was no policy to.
    let raw = |host: &str, tag: &str| skopeo_raw(&format!("{host}/{REPO}:{tag}"));
    assert_eq!(raw(&site.destination.host(), "v1-lock"), raw(&source, "v1-lock"));
    let tags = get(&format!("http://{}/v2/{REPO}/tags/list", site.destination.host()));
    assert!(!text(&tags).contains("v1-policy"), "{}", text(&tags));
}

#[test]
fn a_destination_signature_by_another_key_fails_the_signature_step_and_writes_nothing() {
    let site = Site::signed();
    let out = tempfile::tempdir().unwrap();
    let other = key("other.pub");
    let run = seed(&site.source_ref("v1"), &site.dest_ref("v1"), out.path(), &["--key", other.to_str().unwrap()]);
    assert_refused_at(&run, out.path(), "signature");
}

/// The destination answers for the tag another manifest, validly signed (the linux/amd64
/// image alone): the signature alone cannot tell, the digest read back does.
#[test]
fn a_destination_serving_another_signed_manifest_under_the_tag_fails_the_digest_step() {
    let site = Site::signed();
    let (other, other_bytes) = site.platform_manifest("amd64");
    cosign_sign(&site.destination.host(), REPO, &other, &key("test.key"));
    let (tag, upstream) = (format!("/v2/{REPO}/manifests/v1"), site.destination.port);
    let tag_written = AtomicBool::new(false);
    let proxy = StandIn::start(move |request, conn| {
        if request.target == tag {
            if request.method == "PUT" {
                tag_written.store(true, Ordering::SeqCst);
            } else if tag_written.load(Ordering::SeqCst) {
                let headers = [("Content-Type", OCI_MANIFEST), ("Docker-Content-Digest", other.as_str())];
                return respond(conn, "200 OK", &headers, &other_bytes);
            }
        }
        forward(request, conn, upstream)
    });
    let out = tempfile::tempdir().unwrap();
    let to = format!("127.0.0.1:{}/{REPO}:v1", proxy.port);
    let pub_key = test_pub();
    let run = seed(&site.source_ref("v1"), &to, out.path(), &["--key", pub_key.to_str().unwrap()]);
    assert_refused_at(&run, out.path(), "digest");
}

#[test]
fn a_lock_sidecar_pinning_another_blake3_fails_the_fingerprint_step() {
    let site = Site::signed();
    let another = b3sum(b"another release");
    push_artifact(&site.source.host(), REPO, "v1-lock", "application/json", &lock(&another, &site.digest));
    let out = tempfile::tempdir().unwrap();
    let pub_key = test_pub();
    let run = seed(
        &site.source_ref("v1"),
        &site.dest_ref("v1"),
        out.path(),
        &["--copy-policy", "--key", pub_key.to_str().unwrap()],
    );
    assert_refused_at(&run, out.path(), "fingerprint");
}

#[test]
fn a_tag_outside_the_policy_version_range_fails_the_policy_step() {
    let site = Site::signed();
    let dir = tempfile::tempdir().unwrap();
    let policy = |versions: &str| {
        let path = dir.path().join("trust.yaml");
        std::fs::write(&path, format!("keys: ['{}']\nversions: '{versions}'\n", test_pub().display())).unwrap();
        path
    };
    let out = dir.path().join("refused");
    std::fs::create_dir(&out).unwrap();
    let outside = policy(">=2.0.0");
    let run = seed(&site.source_ref("v1"), &site.dest_ref("v1"), &out, &["--policy", outside.to_str().unwrap()]);
    assert_refused_at(&run, &out, "policy");
    assert!(text(&run.stderr).contains(">=2.0.0"), "{}", text(&run.stderr));

    // Tag v1 reads as 1.0.0, which a range around it accepts.
    let out = dir.path().join("accepted");
    std::fs::create_dir(&out).unwrap();
    let within = policy(">=1.0.0, <2.0.0");
    let run = seed(&site.source_ref("v1"), &site.dest_ref("v1"), &out, &["--policy", within.to_str().unwrap()]);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    assert!(out.join("seed-manifest.json").exists());
}

#[test]
fn a_seed_with_neither_a_key_nor_skip_verify_is_refused_before_copying_anything() {
    let site = Site::unsigned();
    let out = tempfile::tempdir().unwrap();
    let run = seed(&site.source_ref("v1"), &site.dest_ref("v1"), out.path(), &[]);
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(i32::from(exit::USAGE)), "{stderr}");
    assert!(stderr.contains("--skip-verify") && (stderr.contains("--key") || stderr.contains("--pub-key")), "{stderr}");
    assert_eq!(site.destination.stored_blobs(), 0, "something was copied");
    assert!(listing(out.path()).is_empty(), "{:?}", listing(out.path()));
}

#[test]
fn every_run_refused_for_want_of_trust_announces_its_registries_before_the_refusal() {
    let site = Site::unsigned();
    let (source, destination) = (site.source.host(), site.destination.host());
    let dir = tempfile::tempdir().unwrap();
    let out = dir.path().to_str().unwrap();
    let catalog = write_catalog(dir.path(), &[(site.source_ref("v1"), site.dest_ref("v1"))]);
    let (from, to, repos) = (site.source_ref("v1"), site.dest_ref("v1"), format!("{REPO}:v1"));
    let runs = [
        unlogged(&["registry", "seed", "--from", &from, "--to", &to, "--plain-http", "--out", out]),
        unlogged(&["registry", "seed-catalog", "--catalog", catalog.to_str().unwrap(), "--plain-http", "--out", out]),
        unlogged(&[
            "registry",
            "sync",
            "--from-registry",
            &source,
            "--to-registry",
            &destination,
            "--repos",
            &repos,
            "--plain-http",
            "--out",
            out,
        ]),
    ];
    let mut expected = vec![format!("http://{source}"), format!("http://{destination}")];
    expected.sort();
    for run in runs {
        let stderr = text(&run.stderr);
        assert_eq!(run.status.code(), Some(i32::from(exit::USAGE)), "{stderr}");
        assert_eq!(announced(&stderr), expected, "{stderr}");
        assert!(stderr.contains("--skip-verify") && stderr.contains("fail-closed"), "{stderr}");
    }
    assert_eq!(site.destination.stored_blobs(), 0, "something was copied");
    assert_eq!(listing(dir.path()), ["catalog.yaml"]);
}

/// A source that answers every request with a demand for Basic credentials.
fn source_asking_for_credentials() -> StandIn {
    StandIn::start(|_, conn| respond(conn, "401 Unauthorized", &[("WWW-Authenticate", "Basic realm=\"x\"")], b""))
}

#[test]
fn credentials_given_by_flag_or_environment_go_to_the_destination_only_never_to_a_source_that_asks() {
    let destination = Distribution::start();
    let source = source_asking_for_credentials();
    let (from, to) = (format!("127.0.0.1:{}/{REPO}:v1", source.port), format!("{}/{REPO}:v1", destination.host()));
    // No Docker config: the only credentials of the run are the edge registry's.
    let (docker_config, out) = (tempfile::tempdir().unwrap(), tempfile::tempdir().unwrap());
    let pub_key = test_pub();
    let args = [
        "registry",
        "seed",
        "--from",
        from.as_str(),
        "--to",
        to.as_str(),
        "--plain-http",
        "--key",
        pub_key.to_str().unwrap(),
        "--out",
        out.path().to_str().unwrap(),
    ];
    let run = |extra: &[&str], env: &[(&str, &str)]| {
        Command::new(env!("CARGO_BIN_EXE_bundle-loader"))
            .args(args)
            .args(extra)
            .envs(env.iter().copied())
            .env("DOCKER_CONFIG", docker_config.path())
            .env("RUST_LOG", "warn")
            .output()
            .unwrap()
    };
    let by_flag = run(&["--username", "edge-admin", "--password", "push-s3cret"], &[]);
    let by_env = run(&[], &[("GENESIS_REGISTRY_USERNAME", "edge-admin"), ("GENESIS_REGISTRY_PASSWORD", "push-s3cret")]);
    for refused in [by_flag, by_env] {
        let stderr = text(&refused.stderr);
        assert_eq!(refused.status.code(), Some(i32::from(exit::NETWORK)), "{stderr}");
        assert!(stderr.contains("authentication required or refused"), "{stderr}");
        assert!(
            stderr.contains("hint:") && stderr.contains("--authfile"),
            "the hint says what a source gets: {stderr}"
        );
    }
    let seen = source.seen();
    assert!(!seen.is_empty(), "the source was never asked");
    let sent: Vec<&str> = seen.iter().filter_map(|r| r.header("authorization")).collect();
    assert!(sent.is_empty(), "the source collected credentials: {sent:?}");
    assert_eq!(destination.stored_blobs(), 0);
    assert!(listing(out.path()).is_empty(), "{:?}", listing(out.path()));

    // And --help says so.
    let help = text(&loader(&["registry", "seed", "--help"]).stdout);
    let help = help.split_whitespace().collect::<Vec<_>>().join(" ");
    assert!(help.contains("User name for the destination registry only"), "{help}");
    assert!(help.contains("the only credentials a source registry gets"), "{help}");
}

#[test]
fn a_plain_http_registry_seeded_without_plain_http_is_a_network_error_whose_hint_is_the_flag() {
    let site = Site::unsigned();
    let out = tempfile::tempdir().unwrap();
    let (from, to) = (site.source_ref("v1"), site.dest_ref("v1"));
    let out_dir = out.path().to_str().unwrap();
    let run = loader(&[
        "registry",
        "seed",
        "--from",
        &from,
        "--to",
        &to,
        "--skip-verify",
        "--retries",
        "0",
        "--out",
        out_dir,
    ]);
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(i32::from(exit::NETWORK)), "{stderr}");
    assert!(
        stderr.contains("hint: if the registry speaks plain HTTP, pass --plain-http (--allow-insecure-registry)"),
        "{stderr}"
    );
    assert_eq!(site.destination.stored_blobs(), 0);
    assert!(listing(out.path()).is_empty(), "{:?}", listing(out.path()));
}

#[test]
fn skip_verify_warns_on_stderr_and_records_the_seed_as_unverified() {
    let site = Site::unsigned();
    let out = tempfile::tempdir().unwrap();
    let run = seed(&site.source_ref("v1"), &site.dest_ref("v1"), out.path(), &["--skip-verify", "--output", "json"]);
    let outcome = report(&run);
    let stderr = text(&run.stderr);
    assert!(stderr.to_lowercase().contains("warning"), "{stderr}");
    assert_eq!(outcome["verification"], json!([]), "{outcome}");
    assert!(!outcome["warnings"].as_array().unwrap().is_empty(), "{outcome}");
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.path().join("seed-manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["verified"], false);
    assert_eq!(manifest["signing_key_ref"], Value::Null);
    assert_eq!(outcome["manifest"], manifest);
    assert_eq!(skopeo_raw(&site.dest_ref("v1")), site.index);
}

#[test]
fn copy_policy_with_a_digest_source_is_refused_before_copying_anything() {
    let site = Site::signed();
    let out = tempfile::tempdir().unwrap();
    let from = format!("{}/{REPO}@{}", site.source.host(), site.digest);
    let pub_key = test_pub();
    let run = seed(&from, &site.dest_ref("v1"), out.path(), &["--copy-policy", "--key", pub_key.to_str().unwrap()]);
    let stderr = text(&run.stderr);
    assert_eq!(run.status.code(), Some(i32::from(exit::USAGE)), "{stderr}");
    assert!(stderr.contains("tag-based") && stderr.contains("--copy-policy"), "{stderr}");
    assert_eq!(site.destination.stored_blobs(), 0, "something was copied");
    assert!(listing(out.path()).is_empty(), "{:?}", listing(out.path()));
}

/// The source behind a stand-in that holds the third blob read until `release` (so the
/// run can be killed at a known point), and passes everything else on.
fn source_holding_third_blob(upstream: u16, release: Arc<AtomicBool>) -> StandIn {
    let blob_reads = AtomicUsize::new(0);
    StandIn::start(move |request, conn| {
        let blob_read = request.method == "GET" && request.target.contains("/blobs/sha256:");
        if blob_read && blob_reads.fetch_add(1, Ordering::SeqCst) == 2 {
            let start = Instant::now();
            while !release.load(Ordering::SeqCst) && start.elapsed() < Duration::from_secs(60) {
                std::thread::sleep(Duration::from_millis(10));
            }
            return Ok(());
        }
        forward(request, conn, upstream)
    })
}

fn blob_reads(proxy: &StandIn) -> usize {
    proxy.seen().iter().filter(|r| r.method == "GET" && r.target.contains("/blobs/sha256:")).count()
}

#[test]
fn a_seed_killed_mid_copy_sends_only_the_missing_blobs_when_run_again() {
    let site = Site::unsigned();
    let blobs = blobs_of(&site.source.host(), REPO, "v1");
    assert_eq!(blobs.len(), 4, "two platforms, a config and a layer each");
    let release = Arc::new(AtomicBool::new(false));
    let proxy = source_holding_third_blob(site.source.port, Arc::clone(&release));
    let from = format!("127.0.0.1:{}/{REPO}:v1", proxy.port);
    let (to, out) = (site.dest_ref("v1"), tempfile::tempdir().unwrap());
    let out_dir = out.path().to_str().unwrap();
    let args = [
        "registry",
        "seed",
        "--from",
        from.as_str(),
        "--to",
        to.as_str(),
        "--out",
        out_dir,
        "--plain-http",
        "--skip-verify",
        "--concurrency",
        "1",
        "--output",
        "json",
        "--quiet",
    ];
    let mut child = Command::new(env!("CARGO_BIN_EXE_bundle-loader"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while blob_reads(&proxy) < 3 {
        assert!(start.elapsed() < Duration::from_secs(30), "the seed never read a third blob");
        assert!(child.try_wait().unwrap().is_none(), "the seed ended before the held blob");
        std::thread::sleep(Duration::from_millis(5));
    }
    child.kill().unwrap(); // SIGKILL
    child.wait().unwrap();
    release.store(true, Ordering::SeqCst);

    // What the destination repository holds now, asked the way any client would.
    let (present, missing): (Vec<String>, Vec<String>) =
        blobs.iter().cloned().partition(|d| has_blob(&site.destination.host(), REPO, d));
    assert!(!present.is_empty() && !missing.is_empty(), "present {present:?}, missing {missing:?}");
    assert!(listing(out.path()).is_empty(), "{:?}", listing(out.path()));

    let uploads_before = site.destination.completed_uploads().len();
    let outcome = report(&loader(&args));
    let mut sent = site.destination.completed_uploads().split_off(uploads_before);
    sent.sort();
    assert_eq!(sent, missing, "the re-run uploaded exactly the missing blobs");
    assert_eq!(outcome["copy"]["blobsUploaded"], missing.len(), "{outcome}");
    assert_eq!(outcome["copy"]["blobsPresent"], present.len(), "{outcome}");
    assert_eq!(skopeo_raw(&to), site.index);
    assert!(out.path().join("seed-manifest.json").exists());
}

/// Everything a terminal shows of `command` (a shell command line) run in one: `script`
/// (util-linux) gives it a pseudo-terminal, whose output is collected as it comes.
struct Terminal {
    script: std::process::Child,
    screen: Arc<Mutex<Vec<u8>>>,
    reader: Option<std::thread::JoinHandle<()>>,
}

impl Terminal {
    fn run(command: &str) -> Terminal {
        let mut script = Command::new("script")
            .args(["-qfec", command, "/dev/null"])
            // What a terminal emulator sets: without TERM, progress is not drawn.
            .env("TERM", "xterm")
            .env("RUST_LOG", "off")
            .stdin(Stdio::null())
            .stdout(Stdio::piped())
            .stderr(Stdio::null())
            .spawn()
            .expect("script (util-linux) runs");
        let screen = Arc::new(Mutex::new(Vec::new()));
        let reader = {
            let (mut output, screen) = (script.stdout.take().unwrap(), Arc::clone(&screen));
            std::thread::spawn(move || {
                let mut buf = [0u8; 4096];
                while let Ok(n @ 1..) = output.read(&mut buf) {
                    screen.lock().unwrap().extend_from_slice(&buf[..n]);
                }
            })
        };
        Terminal { script, screen, reader: Some(reader) }
    }

    fn screen(&self) -> String {
        text(&self.screen.lock().unwrap())
    }

    /// Waits (bounded) for the command to end; its exit code and the whole screen.
    fn finish(mut self) -> (Option<i32>, String) {
        let start = Instant::now();
        let status = loop {
            if let Some(status) = self.script.try_wait().unwrap() {
                break status;
            }
            assert!(start.elapsed() < Duration::from_secs(60), "still running: {}", self.screen());
            std::thread::sleep(Duration::from_millis(20));
        };
        self.reader.take().unwrap().join().unwrap();
        (status.code(), self.screen())
    }
}

impl Drop for Terminal {
    /// A test that failed leaves no terminal behind (one that ended is not killed again).
    fn drop(&mut self) {
        if self.reader.is_some() {
            let _ = self.script.kill();
        }
    }
}

#[test]
fn a_seed_on_a_terminal_shows_the_bytes_sent_while_it_copies() {
    let site = Site::unsigned();
    let release = Arc::new(AtomicBool::new(false));
    let proxy = source_holding_third_blob(site.source.port, Arc::clone(&release));
    let (to, out) = (site.dest_ref("v1"), tempfile::tempdir().unwrap());
    let command = format!(
        "'{}' registry seed --from 127.0.0.1:{}/{REPO}:v1 --to {to} --out '{}' --plain-http --skip-verify \
         --concurrency 1",
        env!("CARGO_BIN_EXE_bundle-loader"),
        proxy.port,
        out.path().display()
    );
    let terminal = Terminal::run(&command);
    let start = Instant::now();
    while blob_reads(&proxy) < 3 {
        assert!(start.elapsed() < Duration::from_secs(30), "the seed never read a third blob: {}", terminal.screen());
        std::thread::sleep(Duration::from_millis(5));
    }
    // Two blobs sent, the third held: the count of bytes sent, and their rate, are on screen.
    let shows_bytes = |screen: &str| screen.contains("seeding") && screen.contains("B/s");
    while !shows_bytes(&terminal.screen()) {
        assert!(start.elapsed() < Duration::from_secs(30), "no bytes count on the terminal: {}", terminal.screen());
        std::thread::sleep(Duration::from_millis(20));
    }
    release.store(true, Ordering::SeqCst);
    let (code, screen) = terminal.finish();
    assert_eq!(code, Some(0), "{screen}");
    assert!(screen.contains("total: "), "{screen}");
    assert!(out.path().join("seed-manifest.json").exists());
}

/// A catalog (in `dir`, its key beside it) of the signed image and of one the source lacks.
fn catalog_with_a_missing_source(site: &Site, dir: &Path) -> PathBuf {
    std::fs::copy(test_pub(), dir.join("test.pub")).unwrap();
    let (s, d) = (site.source.host(), site.destination.host());
    let yaml = format!(
        "version: 1\nentries:\n  - from: {s}/{REPO}:v1\n    to: {d}/{REPO}:v1\n    pub_key: ./test.pub\n  - from: {s}/demo/absent:v1\n    to: {d}/demo/absent:v1\n    pub_key: ./test.pub\n"
    );
    let path = dir.join("site-a.yaml");
    std::fs::write(&path, yaml).unwrap();
    path
}

pub(crate) fn seed_catalog(catalog: &Path, out: &Path, extra: &[&str]) -> Output {
    let (catalog, out) = (catalog.to_str().unwrap(), out.to_str().unwrap());
    loader(&[&["registry", "seed-catalog", "--catalog", catalog, "--out", out, "--plain-http"][..], extra].concat())
}

#[test]
fn a_catalog_with_a_missing_source_fails_fast_without_a_rollup() {
    let site = Site::signed();
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog_with_a_missing_source(&site, dir.path());
    let out = dir.path().join("seed");
    std::fs::create_dir(&out).unwrap();
    let run = seed_catalog(&catalog, &out, &[]);
    let said = text(&run.stdout) + &text(&run.stderr);
    assert!(!run.status.success(), "{said}");
    assert!(said.contains("demo/absent"), "the failed entry is named: {said}");
    assert!(
        said.contains("cannot resolve") && said.contains("empty digest"),
        "it fails closed on what it cannot resolve: {said}"
    );
    assert!(!out.join("catalog-seed-manifest.json").exists(), "{:?}", listing(&out));
}

#[test]
fn keep_going_seeds_the_good_entry_and_records_both_outcomes_but_still_fails() {
    let site = Site::signed();
    let dir = tempfile::tempdir().unwrap();
    let catalog = catalog_with_a_missing_source(&site, dir.path());
    let out = dir.path().join("seed");
    std::fs::create_dir(&out).unwrap();
    let run = seed_catalog(&catalog, &out, &["--keep-going"]);
    assert!(!run.status.success(), "{}", text(&run.stderr));

    let rollup: Value =
        serde_json::from_slice(&std::fs::read(out.join("catalog-seed-manifest.json")).unwrap()).unwrap();
    assert_eq!(rollup["schema_version"], "catalog-seed.v1");
    assert_eq!(rollup["complete"], false);
    let entries = rollup["entries"].as_array().unwrap();
    assert_eq!(entries.len(), 2, "{rollup}");
    let (good, bad) = (&entries[0], &entries[1]);
    assert_eq!(good["from"], site.source_ref("v1"));
    assert_eq!(good["status"], "seeded");
    assert_eq!(good["dir"], "01-app-v1");
    assert_eq!(good["dest_digest"], site.digest);
    assert_eq!(good["verified"], true);
    assert_eq!(good["error"], Value::Null);
    assert_eq!(bad["from"], format!("{}/demo/absent:v1", site.source.host()));
    assert_eq!(bad["status"], "failed");
    assert_eq!(bad["dir"], "02-absent-v1");
    assert_eq!(bad["dest_digest"], Value::Null);
    assert_eq!(bad["verified"], false);
    assert!(!bad["error"].as_str().unwrap().is_empty(), "{rollup}");

    // The good entry has its own audit files; the failed one has none.
    let manifest: Value =
        serde_json::from_slice(&std::fs::read(out.join("01-app-v1/seed-manifest.json")).unwrap()).unwrap();
    assert_eq!(manifest["dest_digest"], site.digest);
    assert_eq!(manifest["verified"], true);
    assert!(out.join("01-app-v1/seed.lock").exists());
    assert!(!out.join("02-absent-v1/seed-manifest.json").exists());
    assert_eq!(skopeo_raw(&site.dest_ref("v1")), site.index);
}

#[test]
fn one_image_seeded_to_two_repositories_of_one_destination_crosses_once_and_is_mounted_for_the_second() {
    let site = Site::unsigned();
    let dir = tempfile::tempdir().unwrap();
    let copy_ref = format!("{}/demo/copy:v1", site.destination.host());
    let catalog = write_catalog(
        dir.path(),
        &[(site.source_ref("v1"), site.dest_ref("v1")), (site.source_ref("v1"), copy_ref.clone())],
    );
    let out = dir.path().join("seed");
    let outcome = report(&seed_catalog(&catalog, &out, &["--skip-verify", "--output", "json", "--quiet"]));
    assert_eq!(outcome["failed"], 0, "{outcome}");
    assert_eq!(skopeo_raw(&site.dest_ref("v1")), site.index);
    assert_eq!(skopeo_raw(&copy_ref), site.index);

    let blobs = blobs_of(&site.source.host(), REPO, "v1");
    for blob in &blobs {
        assert!(has_blob(&site.destination.host(), "demo/copy", blob), "{blob} is not in demo/copy");
    }
    // Each blob crossed once: the second repository got it by a cross-repository mount.
    let mut uploads = site.destination.completed_uploads();
    uploads.sort();
    assert_eq!(uploads, blobs, "uploaded, each once");
    let copy = &outcome["copy"];
    assert_eq!(copy["blobsUploaded"], blobs.len(), "{copy}");
    assert!(copy["blobsMounted"].as_u64().unwrap() > 0, "nothing mounted: {copy}");
}

#[test]
fn a_catalog_entry_seeded_without_verification_is_marked_unverified_never_with_a_check() {
    let site = Site::unsigned();
    let dir = tempfile::tempdir().unwrap();
    let catalog = write_catalog(dir.path(), &[(site.source_ref("v1"), site.dest_ref("v1"))]);
    let run = seed_catalog(&catalog, &dir.path().join("seed"), &["--skip-verify", "--quiet"]);
    let stdout = text(&run.stdout);
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    assert!(!stdout.contains('✓'), "{stdout}");
    let seeded = stdout.lines().find(|l| l.contains(" seeded ")).unwrap_or_else(|| panic!("{stdout}"));
    assert!(seeded.starts_with("! seeded ") && seeded.contains("NOT verified"), "{stdout}");
}

/// Pushes `demo/app:v2` to `host`: v1 with `layer` added to its linux/amd64 image, every
/// other blob shared. Returns the new index's digest and the layer's.
fn push_with_one_layer_more(host: &str, layer: &[u8]) -> (String, String) {
    let mut index: Value = serde_json::from_slice(&skopeo_raw(&format!("{host}/{REPO}:v1"))).unwrap();
    let amd64 =
        index["manifests"].as_array().unwrap().iter().position(|m| m["platform"]["architecture"] == "amd64").unwrap();
    let old = index["manifests"][amd64]["digest"].as_str().unwrap().to_owned();
    let mut manifest: Value = serde_json::from_slice(&skopeo_raw(&format!("{host}/{REPO}@{old}"))).unwrap();
    let added = push_blob(host, REPO, layer, "application/vnd.oci.image.layer.v1.tar");
    manifest["layers"].as_array_mut().unwrap().push(added.clone());
    let manifest = serde_json::to_vec(&manifest).unwrap();
    let digest = genesis_bundle::sha256(&manifest).to_string();
    put_manifest(host, REPO, &digest, OCI_MANIFEST, &manifest);
    index["manifests"][amd64]["digest"] = digest.into();
    index["manifests"][amd64]["size"] = manifest.len().into();
    let index = serde_json::to_vec(&index).unwrap();
    put_manifest(host, REPO, "v2", OCI_INDEX, &index);
    (genesis_bundle::sha256(&index).to_string(), added["digest"].as_str().unwrap().to_owned())
}

#[test]
fn a_sync_after_one_layer_changed_sends_only_that_layer() {
    let (a, b) = (Distribution::start(), Distribution::start());
    push_fixture_image(&a.host(), &format!("{REPO}:v1"));
    let v1 = genesis_bundle::sha256(&skopeo_raw(&format!("{}/{REPO}:v1", a.host()))).to_string();
    cosign_sign(&a.host(), REPO, &v1, &key("test.key"));
    let dir = tempfile::tempdir().unwrap();
    let pub_key = test_pub();
    let sync = |repos: &str, out: &str| {
        let out = dir.path().join(out);
        std::fs::create_dir(&out).unwrap();
        let (from, to) = (a.host(), b.host());
        report(&loader(&[
            "registry",
            "sync",
            "--from-registry",
            &from,
            "--to-registry",
            &to,
            "--repos",
            repos,
            "--key",
            pub_key.to_str().unwrap(),
            "--plain-http",
            "--out",
            out.to_str().unwrap(),
            "--output",
            "json",
        ]))
    };
    let first = sync(&format!("{REPO}:v1"), "first");
    assert_eq!(first["failed"], 0, "{first}");
    assert_eq!(skopeo_raw(&format!("{}/{REPO}:v1", b.host())), skopeo_raw(&format!("{}/{REPO}:v1", a.host())));

    const LAYER: usize = 256 << 10;
    let layer: Vec<u8> = (0..LAYER as u32).map(|i| (i.wrapping_mul(2_654_435_761) >> 13) as u8).collect();
    let (v2, changed) = push_with_one_layer_more(&a.host(), &layer);
    cosign_sign(&a.host(), REPO, &v2, &key("test.key"));
    let uploads_before = b.completed_uploads().len();
    let second = sync(&format!("{REPO}:v2"), "second");
    assert_eq!(second["failed"], 0, "{second}");
    assert_eq!(skopeo_raw(&format!("{}/{REPO}:v2", b.host())), skopeo_raw(&format!("{}/{REPO}:v2", a.host())));

    // At the destination: the new layer and v2's signature payload, nothing else.
    let signature = format!("{}/{REPO}:{}.sig", a.host(), v2.replace(':', "-"));
    let signature: Value = serde_json::from_slice(&skopeo_raw(&signature)).unwrap();
    let payload = &signature["layers"][0];
    let mut expected = vec![changed, payload["digest"].as_str().unwrap().to_owned()];
    expected.sort();
    let mut uploads = b.completed_uploads().split_off(uploads_before);
    uploads.sort();
    assert_eq!(uploads, expected, "only the new layer and the new signature's payload cross");
    // The report agrees: those two blobs' bytes (manifests are not counted), and found
    // present the four blobs v2 shares with v1 and the signature's empty config.
    let copy = &second["copy"];
    assert_eq!(copy["blobsUploaded"], 2, "{copy}");
    assert_eq!(copy["bytesSent"], layer.len() as u64 + payload["size"].as_u64().unwrap(), "{copy}");
    assert_eq!(copy["blobsPresent"], 5, "{copy}");
    assert_eq!(copy["blobsMounted"], 0, "{copy}");
}

/// A valid roll-up of one seeded entry.
fn rollup(dir: &Path, digest: &str) -> PathBuf {
    let rollup = json!({
        "schema_version": "catalog-seed.v1", "catalog": "site-a.yaml", "seeded_at": "2026-01-01T00:00:00Z",
        "complete": true,
        "entries": [{"from": "registry.example.com/demo/app:v1", "to": "edge.example.com/demo/app:v1",
            "dir": "01-app-v1", "status": "seeded", "dest_digest": digest, "verified": true, "error": null}]
    });
    let path = dir.join("catalog-seed-manifest.json");
    std::fs::write(&path, serde_json::to_vec_pretty(&rollup).unwrap()).unwrap();
    path
}

fn publish_index(manifest: &Path, to: &str) -> Output {
    let manifest = manifest.to_str().unwrap();
    loader(&["registry", "publish-index", "--manifest", manifest, "--to", to, "--plain-http", "--output", "json"])
}

/// `curl -sf URL`, with manifest media types accepted.
fn get(url: &str) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-sf", "-H", &format!("Accept: {OCI_MANIFEST}, {OCI_INDEX}"), url])
        .output()
        .unwrap();
    assert!(out.status.success(), "GET {url}");
    out.stdout
}

/// The published artifact holds the roll-up's bytes as its layer.
fn assert_holds(host: &str, repo: &str, artifact: &[u8], rollup: &[u8]) {
    let artifact: Value = serde_json::from_slice(artifact).unwrap();
    let layer = artifact["layers"][0]["digest"].as_str().unwrap();
    assert_eq!(layer, genesis_bundle::sha256(rollup).to_string(), "{artifact}");
    assert_eq!(get(&format!("http://{host}/v2/{repo}/blobs/{layer}")), rollup);
}

/// Pushes the fixture image as `site-catalog:v1` on `host` and publishes a roll-up (written
/// into `dir`) on it: the subject's digest, the roll-up's path and the JSON report.
fn publish_on(host: &str, dir: &Path) -> (String, PathBuf, Value) {
    push_fixture_image(host, "site-catalog:v1");
    let subject = genesis_bundle::sha256(&skopeo_raw(&format!("{host}/site-catalog:v1"))).to_string();
    let path = rollup(dir, &subject);
    let published = report(&publish_index(&path, &format!("{host}/site-catalog:v1")));
    assert_eq!(published["artifactType"], CATALOG_ARTIFACT_TYPE);
    (subject, path, published)
}

#[test]
fn publish_index_makes_the_rollup_a_referrer_listed_by_the_referrers_api() {
    let registry = Ocireg::start();
    let dir = tempfile::tempdir().unwrap();
    let (subject, path, published) = publish_on(&registry.host(), dir.path());
    assert_eq!(published["via"], "referrers API");

    let listed: Value =
        serde_json::from_slice(&get(&format!("http://{}/v2/site-catalog/referrers/{subject}", registry.host())))
            .unwrap();
    let listed = listed["manifests"].as_array().unwrap();
    assert_eq!(listed.len(), 1, "{listed:?}");
    assert_eq!(listed[0]["digest"], published["digest"]);
    // What a client filters the listing by. This registry, like others written before OCI
    // 1.1 settled, lists an artifact under its config's media type rather than its
    // `artifactType`: the roll-up is found by type only if it carries the type there too.
    assert_eq!(listed[0]["artifactType"], CATALOG_ARTIFACT_TYPE, "{listed:?}");
    let digest = published["digest"].as_str().unwrap();
    let artifact = get(&format!("http://{}/v2/site-catalog/manifests/{digest}", registry.host()));
    assert_eq!(serde_json::from_slice::<Value>(&artifact).unwrap()["subject"]["digest"], subject.as_str());
    assert_holds(&registry.host(), "site-catalog", &artifact, &std::fs::read(&path).unwrap());
}

#[test]
fn publish_index_without_a_referrers_api_tags_the_rollup_as_tag_catalog() {
    let registry = Distribution::start();
    let dir = tempfile::tempdir().unwrap();
    let (_, path, published) = publish_on(&registry.host(), dir.path());
    assert_eq!(published["via"], "v1-catalog tag");

    let artifact = skopeo_raw(&format!("{}/site-catalog:v1-catalog", registry.host()));
    assert_eq!(published["digest"], genesis_bundle::sha256(&artifact).to_string());
    let manifest: Value = serde_json::from_slice(&artifact).unwrap();
    let artifact_type = manifest.get("artifactType").unwrap_or(&manifest["config"]["mediaType"]);
    assert_eq!(artifact_type, CATALOG_ARTIFACT_TYPE, "{manifest}");
    assert_holds(&registry.host(), "site-catalog", &artifact, &std::fs::read(&path).unwrap());
}

#[test]
fn publish_index_refuses_a_json_file_that_is_not_a_rollup_and_publishes_nothing() {
    let registry = Distribution::start();
    push_fixture_image(&registry.host(), "site-catalog:v1");
    let blobs_before = registry.stored_blobs();
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("catalog-seed-manifest.json");
    std::fs::write(&path, br#"{"hello": "world"}"#).unwrap();
    let run = publish_index(&path, &format!("{}/site-catalog:v1", registry.host()));
    assert!(!run.status.success(), "{}", text(&run.stdout));
    assert!(run.stdout.is_empty(), "{}", text(&run.stdout));
    assert_eq!(registry.stored_blobs(), blobs_before, "something was pushed");
    let tags = get(&format!("http://{}/v2/site-catalog/tags/list", registry.host()));
    assert!(!text(&tags).contains("v1-catalog"), "{}", text(&tags));
}

fn bootstrap_zot(out: &Path, extra: &[&str]) -> (Value, String) {
    let run = loader(&[&["registry", "bootstrap-zot", "--out", out.to_str().unwrap()][..], extra].concat());
    assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
    assert_eq!(listing(out), ["docker-compose.zot.yml", "zot-config.json"]);
    let config = serde_json::from_slice(&std::fs::read(out.join("zot-config.json")).unwrap()).unwrap();
    (config, std::fs::read_to_string(out.join("docker-compose.zot.yml")).unwrap())
}

/// The `image` of the compose file's one service.
fn compose_image(compose: &str) -> String {
    let compose: Value = serde_yaml_ng::from_str(compose).unwrap();
    let services = compose["services"].as_object().unwrap();
    assert_eq!(services.len(), 1, "{compose}");
    services.values().next().unwrap()["image"].as_str().unwrap().to_owned()
}

#[test]
fn bootstrap_zot_writes_a_config_and_a_compose_file_with_the_port_and_data_dir_and_starts_nothing() {
    let (dir, port) = (tempfile::tempdir().unwrap(), free_port());
    let out = dir.path().join("edge");
    std::fs::create_dir(&out).unwrap();
    let (config, compose) =
        bootstrap_zot(&out, &["--port", &port.to_string(), "--data-dir", "/srv/zot-data", "--enable-search"]);
    assert_eq!(config["http"]["port"].to_string().trim_matches('"'), port.to_string(), "{config}");
    assert_eq!(config["storage"]["gc"], true, "{config}");
    assert_eq!(config["storage"]["dedupe"], true, "{config}");
    assert_eq!(config["extensions"]["search"]["enable"], true, "{config}");
    assert!(compose.contains(&port.to_string()) && compose.contains("/srv/zot-data"), "{compose}");
    assert!(compose.contains("zot-config.json"), "the config is mounted: {compose}");
    assert!(compose_image(&compose).contains("@sha256:"), "a digest-pinned image by default: {compose}");
    assert!(TcpStream::connect(("127.0.0.1", port)).is_err(), "something listens on {port}");

    let plain = dir.path().join("plain");
    std::fs::create_dir(&plain).unwrap();
    let (config, compose) = bootstrap_zot(&plain, &["--image", "registry.example.com/zot-minimal:v2.1.0"]);
    assert_ne!(config.pointer("/extensions/search/enable"), Some(&Value::Bool(true)), "{config}");
    assert_eq!(compose_image(&compose), "registry.example.com/zot-minimal:v2.1.0");
}

#[test]
fn package_writes_a_zarf_definition_listing_every_catalog_source_image() {
    let dir = tempfile::tempdir().unwrap();
    let froms = ["registry.example.com/robot-behavior:v1", "registry.example.com/fleet/nav-stack:v2"];
    let catalog = dir.path().join("site-a.yaml");
    std::fs::write(
        &catalog,
        format!(
            "version: 1\nentries:\n  - from: {}\n    to: localhost:5000/robot-behavior:v1\n  - from: {}\n    to: localhost:5000/fleet/nav-stack:v2\n",
            froms[0], froms[1]
        ),
    )
    .unwrap();
    let package = |out: &str, extra: &[&str]| {
        let out = dir.path().join(out);
        std::fs::create_dir(&out).unwrap();
        let args = ["registry", "package", "--catalog", catalog.to_str().unwrap(), "--out", out.to_str().unwrap()];
        let run = loader(&[&args[..], extra].concat());
        assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
        serde_yaml_ng::from_str::<Value>(&std::fs::read_to_string(out.join("zarf.yaml")).unwrap()).unwrap()
    };

    let zarf = package("zarf", &["--name", "Site A!", "--version", "1.2.3"]);
    assert_eq!(zarf["kind"], "ZarfPackageConfig", "{zarf}");
    assert_eq!(zarf["metadata"]["name"], "site-a", "made Zarf-legal: {zarf}");
    assert_eq!(zarf["metadata"]["version"], "1.2.3", "{zarf}");
    let mut images: Vec<&str> = zarf["components"]
        .as_array()
        .unwrap()
        .iter()
        .flat_map(|c| c["images"].as_array().into_iter().flatten())
        .map(|i| i.as_str().unwrap())
        .collect();
    images.sort();
    let mut expected = froms.to_vec();
    expected.sort();
    assert_eq!(images, expected, "{zarf}");

    let unversioned = package("unversioned", &["--name", "site-a"]);
    assert_eq!(unversioned["metadata"]["version"], "0.0.0", "{unversioned}");
}

#[test]
fn package_reports_its_name_version_image_count_and_file_in_json() {
    let dir = tempfile::tempdir().unwrap();
    let entries = [
        ("registry.example.com/robot-behavior:v1", "localhost:5000/robot-behavior:v1"),
        ("registry.example.com/fleet/nav-stack:v2", "localhost:5000/fleet/nav-stack:v2"),
        ("registry.example.com/fleet/lidar:v3", "localhost:5000/fleet/lidar:v3"),
    ];
    let catalog = write_catalog(dir.path(), &entries.map(|(from, to)| (from.to_owned(), to.to_owned())));
    let out = dir.path().join("zarf");
    let (catalog, out_dir) = (catalog.to_str().unwrap(), out.to_str().unwrap());
    let args =
        ["registry", "package", "--catalog", catalog, "--out", out_dir, "--name", "Site A!", "--version", "1.2.3"];
    let reported = report(&loader(&[&args[..], &["--output", "json"][..]].concat()));
    assert_eq!(reported["name"], "site-a", "made Zarf-legal: {reported}");
    assert_eq!(reported["version"], "1.2.3", "{reported}");
    assert_eq!(reported["images"], 3, "{reported}");
    assert_eq!(reported["written"], json!([out.join("zarf.yaml")]), "{reported}");
    assert!(out.join("zarf.yaml").exists());
    assert_eq!(reported["endpoints"], json!([]), "{reported}");
}

#[test]
fn bootstrap_zot_reports_its_port_image_and_files_in_json() {
    let (dir, port) = (tempfile::tempdir().unwrap(), free_port());
    let zot = |out: &str, extra: &[&str]| {
        let out = dir.path().join(out);
        let args = ["registry", "bootstrap-zot", "--out", out.to_str().unwrap(), "--output", "json"];
        let reported = report(&loader(&[&args[..], extra].concat()));
        let files = json!([out.join("zot-config.json"), out.join("docker-compose.zot.yml")]);
        assert_eq!(reported["written"], files, "{reported}");
        let compose = std::fs::read_to_string(out.join("docker-compose.zot.yml")).unwrap();
        assert_eq!(reported["image"], compose_image(&compose), "the image the compose file runs: {reported}");
        reported
    };
    let pinned = zot("pinned", &["--port", &port.to_string()]);
    assert_eq!(pinned["port"], port, "{pinned}");
    assert!(pinned["image"].as_str().unwrap().contains("@sha256:"), "{pinned}");

    let chosen = zot("chosen", &["--image", "registry.example.com/zot-minimal:v2.1.0"]);
    assert_eq!(chosen["port"], 5000, "the default port: {chosen}");
    assert_eq!(chosen["image"], "registry.example.com/zot-minimal:v2.1.0", "{chosen}");
}

#[test]
fn a_seed_announces_its_source_and_destination_registries_and_only_them() {
    let site = Site::unsigned();
    let (from, to, out) = (site.source_ref("v1"), site.dest_ref("v1"), tempfile::tempdir().unwrap());
    let out_dir = out.path().to_str().unwrap();
    let run = unlogged(&[
        "registry",
        "seed",
        "--from",
        &from,
        "--to",
        &to,
        "--skip-verify",
        "--plain-http",
        "--output",
        "json",
        "--out",
        out_dir,
    ]);
    let outcome = report(&run);
    let stderr = text(&run.stderr);
    let mut expected = vec![format!("http://{}", site.source.host()), format!("http://{}", site.destination.host())];
    expected.sort();
    assert_eq!(announced(&stderr), expected, "{stderr}");
    let mut reported: Vec<&str> =
        outcome["endpoints"].as_array().unwrap().iter().map(|e| e.as_str().unwrap()).collect();
    reported.sort();
    assert_eq!(reported, expected, "{outcome}");
}
