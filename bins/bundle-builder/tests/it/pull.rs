//! Building from a registry: a real Distribution registry seeded by skopeo with the fixture
//! index, pulled with digests intact, narrowed to platforms on request, its cosign signature
//! carried along, and a corrupted blob refused with nothing stored.

use std::path::Path;
use std::process::Command;

use genesis_testkit::http::{StandIn, respond};
use genesis_testkit::{Distribution, cosign_sign};

use crate::{builder, copy_inputs, fixtures, text};

fn seed(registry: &Distribution) {
    let out = Command::new("skopeo")
        .args(["copy", "-q", "--all", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:1.0", fixtures().join("images/app").display()))
        .arg(format!("docker://{}/demo/app:1.0", registry.host()))
        .output()
        .expect("skopeo must be installed");
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// The fixture inputs, with the image taken from `registry` instead of the layout
/// (`extra` is appended to the image's entry in the spec).
fn inputs_from_registry(registry: &Distribution, extra: &str) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_inputs(dir.path());
    let p = dir.path().join("bundle.yaml");
    let s = std::fs::read_to_string(&p).unwrap().replace(
        "image: \"oci:images/app:1.0\"",
        &format!("image: \"docker://{}/demo/app:1.0\"{extra}", registry.host()),
    );
    std::fs::write(p, s).unwrap();
    dir
}

fn create(dir: &Path) -> std::process::Output {
    create_with(dir, &[])
}

fn create_with(dir: &Path, extra: &[&str]) -> std::process::Output {
    let key = fixtures().join("keys/test.key");
    let args = [
        &[
            "create",
            "-f",
            "bundle.yaml",
            "--key",
            key.to_str().unwrap(),
            "--output-dir",
            "out",
            "--plain-http",
            "--cache-dir",
            "cache",
            "--output",
            "json",
            "--quiet",
        ][..],
        extra,
    ]
    .concat();
    builder(&args, dir, &[])
}

fn bom(dir: &Path) -> serde_json::Value {
    let mut r =
        genesis_bundle::ArchiveReader::open_head(&dir.join("out/demo-0.1.0.tar.zst"), &Default::default()).unwrap();
    serde_json::from_slice(&r.read_head().unwrap().bom).unwrap()
}

/// Verifies the bundle built in `dir` with the fixture key and loads it into `destination`
/// through the library, as `bundle-loader load` does; returns the client and its runtime.
fn load_built(dir: &Path, destination: &Distribution) -> (genesis_registry::Registry, tokio::runtime::Runtime) {
    let key = genesis_trust::PublicKey::from_pem_file(&fixtures().join("keys/test.pub")).unwrap();
    let policy = genesis_trust::TrustPolicy::from_keys(vec![key]).unwrap();
    let archive = dir.join("out/demo-0.1.0.tar.zst");
    let verified =
        genesis_trust::UnverifiedBundle::open(&archive, &Default::default()).unwrap().verify(&policy).unwrap();
    let options = genesis_registry::RegistryOptions { plain_http: true, ..Default::default() };
    let client = genesis_registry::Registry::new(&destination.host(), &options).unwrap();
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let target = destination.host().parse().unwrap();
    runtime
        .block_on(async {
            let plan = genesis_registry::LoadPlan::new(&verified, &client, &target).await?;
            genesis_registry::load(verified, plan, &client, 2).await
        })
        .unwrap();
    (client, runtime)
}

fn raw_digest(reference: &str) -> String {
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", &format!("docker://{reference}")])
        .output()
        .unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    genesis_bundle::sha256(&out.stdout).to_string()
}

#[test]
fn a_registry_image_is_carried_with_its_digest_and_the_same_bytes_as_a_layout_build() {
    let registry = Distribution::start();
    seed(&registry);
    let dir = inputs_from_registry(&registry, "");
    let out = create(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let image = &bom(dir.path())["images"][0];
    assert_eq!(image["digest"].as_str().unwrap(), raw_digest(&format!("{}/demo/app:1.0", registry.host())));
    assert_eq!(image["platforms"], serde_json::json!(["linux/amd64", "linux/arm64"]));
    assert_eq!(image["ref"], "registry.example.com/demo/app:1.0");
    // The payload is what the layout build carries: same blobs, same digests.
    let layout_bom: serde_json::Value = {
        let mut r = genesis_bundle::ArchiveReader::open_head(
            &fixtures().join("bundles/good/demo-0.1.0.tar.zst"),
            &Default::default(),
        )
        .unwrap();
        serde_json::from_slice(&r.read_head().unwrap().bom).unwrap()
    };
    // The SBOM differs on purpose: it records where each image came from.
    let payload = |files: &serde_json::Value| -> Vec<serde_json::Value> {
        files.as_array().unwrap().iter().filter(|f| f["path"] != "sbom/bundle.cdx.json").cloned().collect()
    };
    assert_eq!(payload(&bom(dir.path())["files"]), payload(&layout_bom["files"]));
}

#[test]
fn platforms_narrow_the_index_and_record_the_original() {
    let registry = Distribution::start();
    seed(&registry);
    let dir = inputs_from_registry(&registry, "\n      platforms: [linux/arm64]");
    let out = create(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let image = &bom(dir.path())["images"][0];
    let original = raw_digest(&format!("{}/demo/app:1.0", registry.host()));
    assert_eq!(image["sourceDigest"], original.as_str());
    assert_ne!(image["digest"], original.as_str());
    assert_eq!(image["platforms"], serde_json::json!(["linux/arm64"]));
    let blobs = bom(dir.path())["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["path"].as_str().unwrap().starts_with("oci/blobs"))
        .count();
    assert_eq!(blobs, 4, "the narrowed index, one manifest, its config and its layer");
}

#[test]
fn a_cosign_signature_travels_with_the_image() {
    let registry = Distribution::start();
    seed(&registry);
    let digest = raw_digest(&format!("{}/demo/app:1.0", registry.host()));
    cosign_sign(&registry.host(), "demo/app", &digest, &fixtures().join("keys/test.key"));
    let dir = inputs_from_registry(&registry, "");
    let out = create(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let images = bom(dir.path())["images"].as_array().unwrap().clone();
    assert_eq!(images.len(), 2);
    assert_eq!(images[1]["name"], "app.sig");
    let sig_tag = format!("{}.sig", digest.replace(':', "-"));
    assert_eq!(images[1]["ref"], format!("registry.example.com/demo/app:{sig_tag}").as_str());

    // Loaded on the other side, the signature sits next to the image, byte for byte.
    let destination = Distribution::start();
    load_built(dir.path(), &destination);
    assert_eq!(
        raw_digest(&format!("{}/demo/app:{sig_tag}", destination.host())),
        raw_digest(&format!("{}/demo/app:{sig_tag}", registry.host()))
    );
}

#[test]
fn a_corrupted_blob_fails_the_pull_and_stores_nothing() {
    let registry = Distribution::start();
    seed(&registry);
    // Corrupt one layer in the registry's storage; Distribution serves it as stored.
    let layer = genesis_testkit::stored_blob_paths(&registry)
        .into_iter()
        .find(|p| std::fs::read(p).unwrap().starts_with(&[0x1f, 0x8b]))
        .expect("a gzip layer");
    let mut bytes = std::fs::read(&layer).unwrap();
    let last = bytes.len() - 1;
    bytes[last] ^= 1;
    std::fs::write(&layer, bytes).unwrap();
    let digest = layer.parent().unwrap().file_name().unwrap().to_string_lossy().into_owned();

    let dir = inputs_from_registry(&registry, "");
    let out = create(dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&format!("blob demo/app@sha256:{digest}")), "{}", text(&out.stderr));
    assert!(!dir.path().join("cache/blobs/sha256").join(&digest).exists(), "nothing stored for the bad blob");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path().join("cache/blobs/sha256"))
        .unwrap()
        .flatten()
        .filter(|e| e.file_name().to_string_lossy().starts_with('.'))
        .collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
    assert!(!dir.path().join("out").exists());
}

fn chart_spec(dir: &Path, chart_line: &str) {
    let p = dir.join("bundle.yaml");
    let s = std::fs::read_to_string(&p)
        .unwrap()
        .replace("charts:    [ { name: web, path: charts/web-0.1.0.tgz } ]", chart_line);
    std::fs::write(p, s).unwrap();
}

/// The fixture inputs, with the chart taken from the repository at `port` (version 0.1.0).
fn inputs_with_chart_repo(port: u16) -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    copy_inputs(dir.path());
    chart_spec(dir.path(), &format!("charts: [ {{ name: web, repo: 'http://127.0.0.1:{port}', version: 0.1.0 }} ]"));
    dir
}

fn chart_file(dir: &Path) -> serde_json::Value {
    bom(dir)["files"].as_array().unwrap().iter().find(|f| f["path"] == "charts/web-0.1.0.tgz").unwrap().clone()
}

fn fixture_chart_sha256() -> String {
    genesis_bundle::sha256(&std::fs::read(fixtures().join("charts/web-0.1.0.tgz")).unwrap()).to_string()
}

#[test]
fn a_chart_from_an_http_repository_is_carried_byte_for_byte() {
    let repo = tempfile::tempdir().unwrap();
    let chart = std::fs::read(fixtures().join("charts/web-0.1.0.tgz")).unwrap();
    std::fs::write(repo.path().join("web-0.1.0.tgz"), &chart).unwrap();
    let digest = genesis_bundle::sha256(&chart);
    let index = format!(
        "apiVersion: v1\nentries:\n  web:\n    - name: web\n      version: 0.1.0\n      digest: {}\n      urls: [web-0.1.0.tgz]\n    - name: web\n      version: 0.0.9\n      urls: [web-0.0.9.tgz]\n",
        digest.hex()
    );
    std::fs::write(repo.path().join("index.yaml"), index).unwrap();
    let http = genesis_testkit::StaticHttp::serve(repo.path());

    let dir = inputs_with_chart_repo(http.port);
    let out = create(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(chart_file(dir.path())["sha256"], fixture_chart_sha256().as_str());
    assert_eq!(bom(dir.path())["charts"][0]["source"], format!("http://127.0.0.1:{} 0.1.0", http.port).as_str());

    // Without --plain-http, an http:// repository is refused.
    let dir = inputs_with_chart_repo(http.port);
    let key = fixtures().join("keys/test.key");
    let out = builder(
        &["create", "-f", "bundle.yaml", "--key", key.to_str().unwrap(), "--output-dir", "out", "--cache-dir", "cache"],
        dir.path(),
        &[],
    );
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("plain HTTP needs --plain-http"), "{}", text(&out.stderr));
}

#[test]
fn a_chart_whose_bytes_do_not_match_the_index_digest_is_refused() {
    let repo = tempfile::tempdir().unwrap();
    std::fs::copy(fixtures().join("charts/web-0.1.0.tgz"), repo.path().join("web-0.1.0.tgz")).unwrap();
    let index = format!(
        "entries:\n  web:\n    - version: 0.1.0\n      digest: {}\n      urls: [web-0.1.0.tgz]\n",
        "0".repeat(64)
    );
    std::fs::write(repo.path().join("index.yaml"), index).unwrap();
    let http = genesis_testkit::StaticHttp::serve(repo.path());
    let dir = inputs_with_chart_repo(http.port);
    let out = create(dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("chart web 0.1.0"), "{}", text(&out.stderr));
}

/// A registry on loopback with the fixture image `demo/app:1.0` whose blob downloads never
/// finish: each answer announces a body and sends none, holding the connection until the
/// client hangs up (or its read times out), after saying so on `stalled`.
fn stalling_registry(stalled: std::sync::mpsc::Sender<()>) -> StandIn {
    use std::io::{Read as _, Write as _};
    let blobs = fixtures().join("images/app/blobs/sha256");
    let index: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("images/app/index.json")).unwrap()).unwrap();
    let top = index["manifests"][0]["digest"].as_str().unwrap().to_owned();
    StandIn::start(move |request, conn| {
        if let Some(reference) = request.target.strip_prefix("/v2/demo/app/manifests/") {
            let digest = if reference == "1.0" { top.as_str() } else { reference };
            return match std::fs::read(blobs.join(digest.trim_start_matches("sha256:"))) {
                Ok(manifest) => respond(conn, "200 OK", &[], &manifest),
                Err(_) => respond(conn, "404 Not Found", &[], b""),
            };
        }
        if request.target.starts_with("/v2/demo/app/blobs/") {
            conn.write_all(b"HTTP/1.1 200 OK\r\nContent-Length: 1000\r\n\r\n")?;
            let _ = stalled.send(());
            let _ = conn.read(&mut [0u8; 1]);
            return Ok(());
        }
        respond(conn, "404 Not Found", &[], b"")
    })
}

/// Scratch files under `dir`, at any depth.
fn scratch_files(dir: &Path) -> Vec<std::path::PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).into_iter().flatten() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(scratch_files(&path));
        } else if path.file_name().unwrap().to_string_lossy().contains(".partial-") {
            found.push(path);
        }
    }
    found
}

/// Ctrl-C while blobs download: the scratch files they are written to (under random names
/// only the process knows) are removed before it exits with 130.
#[test]
fn ctrl_c_during_a_pull_removes_the_scratch_files_of_the_downloads() {
    let (stalled, stall) = std::sync::mpsc::channel();
    let registry = stalling_registry(stalled);
    let dir = tempfile::tempdir().unwrap();
    copy_inputs(dir.path());
    let spec = dir.path().join("bundle.yaml");
    let source = format!("image: \"docker://127.0.0.1:{}/demo/app:1.0\"", registry.port);
    std::fs::write(&spec, std::fs::read_to_string(&spec).unwrap().replace("image: \"oci:images/app:1.0\"", &source))
        .unwrap();
    let key = fixtures().join("keys/test.key");
    let child = Command::new(env!("CARGO_BIN_EXE_bundle-builder"))
        .args(["create", "-f", "bundle.yaml", "--key", key.to_str().unwrap(), "--output-dir", "out"])
        .args(["--plain-http", "--cache-dir", "cache", "--quiet"])
        .current_dir(dir.path())
        .env_remove("SOURCE_DATE_EPOCH")
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::piped())
        .spawn()
        .unwrap();
    stall.recv_timeout(std::time::Duration::from_secs(60)).expect("the build never asked for a blob");
    let cache = dir.path().join("cache");
    assert!(!scratch_files(&cache).is_empty(), "a download is written to a scratch file");
    assert!(Command::new("kill").args(["-INT", &child.id().to_string()]).status().unwrap().success());
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("interrupted: partial output removed"), "{}", text(&out.stderr));
    assert_eq!(scratch_files(&cache), Vec::<std::path::PathBuf>::new());
}

/// A web server on loopback serving `files` (path, bytes) and 404 for anything else.
fn serve(files: Vec<(&'static str, Vec<u8>)>) -> StandIn {
    StandIn::start(move |request, conn| match files.iter().find(|(path, _)| *path == request.target) {
        Some((_, body)) => respond(conn, "200 OK", &[], body),
        None => respond(conn, "404 Not Found", &[], b""),
    })
}

/// A chart repository on loopback whose index lists web 0.1.0 at `url` with `digest_line`
/// (e.g. `digest: <hex>`, or nothing), serving the fixture chart beside the index.
fn chart_repo(url: &str, digest_line: &str) -> StandIn {
    let index = format!("entries:\n  web:\n    - version: 0.1.0\n      urls: ['{url}']\n      {digest_line}\n");
    let chart = std::fs::read(fixtures().join("charts/web-0.1.0.tgz")).unwrap();
    serve(vec![("/index.yaml", index.into_bytes()), ("/web-0.1.0.tgz", chart)])
}

#[test]
fn a_chart_on_another_host_than_its_repository_is_fetched_without_credentials_and_announced() {
    let chart = std::fs::read(fixtures().join("charts/web-0.1.0.tgz")).unwrap();
    let elsewhere = serve(vec![("/web-0.1.0.tgz", chart.clone())]);
    let chart_url = format!("http://127.0.0.1:{}/web-0.1.0.tgz", elsewhere.port);
    let repo = chart_repo(&chart_url, &format!("digest: {}", genesis_bundle::sha256(&chart).hex()));
    let dir = inputs_with_chart_repo(repo.port);
    let out = create_with(dir.path(), &["--username", "builder", "--password", "s3cret"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(chart_file(dir.path())["sha256"], fixture_chart_sha256().as_str());

    // The repository gets the credentials configured for it; the host its index named gets none.
    use base64::Engine as _;
    let basic = format!("Basic {}", base64::engine::general_purpose::STANDARD.encode("builder:s3cret"));
    let asked = repo.seen();
    assert_eq!(asked.iter().map(|r| r.target.as_str()).collect::<Vec<_>>(), ["/index.yaml"]);
    assert_eq!(asked[0].header("authorization"), Some(basic.as_str()));
    let fetched = elsewhere.seen();
    assert_eq!(fetched.len(), 1, "{fetched:?}");
    assert_eq!(fetched[0].header("authorization"), None, "credentials leaked to another host: {fetched:?}");
    // And the run names the host the spec does not name, beside its start-up line and in
    // the report's endpoints.
    let announced = format!(
        "bundle-builder: network: contacting chart host http://127.0.0.1:{} named by index.yaml of http://127.0.0.1:{}",
        elsewhere.port, repo.port
    );
    assert!(text(&out.stderr).contains(&announced), "{}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let learned = serde_json::json!(format!("http://127.0.0.1:{}", elsewhere.port));
    assert!(report["endpoints"].as_array().unwrap().contains(&learned), "{report}");
}

#[test]
fn a_chart_the_index_gives_no_digest_for_is_refused_unless_the_spec_pins_it() {
    let repo = chart_repo("web-0.1.0.tgz", "");
    let dir = inputs_with_chart_repo(repo.port);
    let out = create(dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    for expected in ["chart web 0.1.0 has no digest", "pin it in the spec", "digest: sha256:"] {
        assert!(text(&out.stderr).contains(expected), "{expected:?} in {}", text(&out.stderr));
    }
    assert!(repo.seen().iter().all(|r| r.target == "/index.yaml"), "nothing unchecked was downloaded");
    assert!(!dir.path().join("out").exists());

    // Pinned in the spec, the chart is checked against the pin and carried.
    let pinned = |digest: &str| {
        let dir = tempfile::tempdir().unwrap();
        copy_inputs(dir.path());
        chart_spec(
            dir.path(),
            &format!(
                "charts: [ {{ name: web, repo: 'http://127.0.0.1:{}', version: 0.1.0, digest: '{digest}' }} ]",
                repo.port
            ),
        );
        dir
    };
    let dir = pinned(&fixture_chart_sha256());
    let out = create(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(chart_file(dir.path())["sha256"], fixture_chart_sha256().as_str());

    // A pin the download does not match fails the build, keeping nothing.
    let dir = pinned(&format!("sha256:{}", "0".repeat(64)));
    let out = create(dir.path());
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("chart web 0.1.0"), "{}", text(&out.stderr));
    assert!(crate::listing_or_empty(&dir.path().join("cache/charts")).is_empty());
}

#[test]
fn a_chart_with_a_malformed_index_digest_is_refused() {
    for digest in ["digest: 'sha256:not-hex'", "digest: 42", format!("digest: {}", "A".repeat(64)).as_str()] {
        let repo = chart_repo("web-0.1.0.tgz", digest);
        let dir = inputs_with_chart_repo(repo.port);
        let out = create(dir.path());
        assert_eq!(out.status.code(), Some(2), "{digest}: {}", text(&out.stderr));
        assert!(
            text(&out.stderr).contains("chart web 0.1.0 has a malformed digest"),
            "{digest}: {}",
            text(&out.stderr)
        );
        assert!(repo.seen().iter().all(|r| r.target == "/index.yaml"), "{digest}: nothing unchecked was downloaded");
    }
}

#[test]
fn a_chart_from_an_oci_registry_is_carried_byte_for_byte() {
    let registry = Distribution::start();
    let chart = std::fs::read(fixtures().join("charts/web-0.1.0.tgz")).unwrap();
    genesis_testkit::push_helm_chart(&registry.host(), "charts/web", "0.1.0", &chart);
    let dir = tempfile::tempdir().unwrap();
    copy_inputs(dir.path());
    chart_spec(
        dir.path(),
        &format!("charts: [ {{ name: web, repo: 'oci://{}/charts', version: 0.1.0 }} ]", registry.host()),
    );
    let out = create(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(chart_file(dir.path())["sha256"], fixture_chart_sha256().as_str());
    assert_eq!(bom(dir.path())["charts"][0]["source"], format!("oci://{}/charts/web:0.1.0", registry.host()).as_str());
}

#[test]
fn referrers_travel_and_stay_discoverable_without_a_referrers_api() {
    let registry = Distribution::start();
    seed(&registry);
    let raw = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", &format!("docker://{}/demo/app:1.0", registry.host())])
        .output()
        .unwrap()
        .stdout;
    let subject = serde_json::json!({"mediaType": "application/vnd.oci.image.index.v1+json", "digest": genesis_bundle::sha256(&raw).to_string(), "size": raw.len()});
    // The attached artifact is the image's own SBOM, as `syft … | oras attach` leaves it.
    let image_sbom = br#"{"bomFormat":"CycloneDX","specVersion":"1.5","version":1,"components":[]}"#;
    let artifact = genesis_testkit::attach_referrer(
        &registry.host(),
        "demo/app",
        &subject,
        "application/vnd.cyclonedx+json",
        image_sbom,
    );

    let dir = inputs_from_registry(&registry, "");
    let out = create(dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let images = bom(dir.path())["images"].as_array().unwrap().clone();
    assert_eq!(images.len(), 2, "{images:?}");
    assert_eq!(images[1]["digest"], artifact.as_str());
    assert_eq!(images[1]["ref"], format!("registry.example.com/demo/app@{artifact}").as_str());
    // The SBOM it carries is also a file of its own, listed as describing the image.
    let sboms = bom(dir.path())["sboms"].as_array().unwrap().clone();
    let own = sboms.iter().find(|s| s["describes"] == "app").unwrap_or_else(|| panic!("{sboms:?}"));
    assert_eq!(own["mediaType"], "application/vnd.cyclonedx+json");
    let path = own["path"].as_str().unwrap();
    let archive = dir.path().join("out/demo-0.1.0.tar.zst");
    let carried = Command::new("tar").args(["--zstd", "-xOf"]).arg(&archive).arg(path).output().unwrap();
    assert_eq!(carried.stdout, image_sbom);

    // Loaded into another Distribution (no Referrers API), the artifact is listed under the
    // fallback tag, so referrer-aware clients still find it.
    let destination = Distribution::start();
    let (client, runtime) = load_built(dir.path(), &destination);
    let subject_digest: genesis_types::Digest = subject["digest"].as_str().unwrap().parse().unwrap();
    let (listed, api) = runtime.block_on(client.referrers("demo/app", &subject_digest)).unwrap();
    assert!(!api, "Distribution 2.8 has no Referrers API");
    assert_eq!(listed.len(), 1);
    assert_eq!(listed[0].digest.to_string(), artifact);
    assert_eq!(listed[0].artifact_type.as_deref(), Some("application/vnd.cyclonedx+json"));
}

/// A policy trusting the fixture key, for `create --policy`.
fn key_policy(dir: &Path) -> String {
    let path = dir.join("trust.yaml");
    std::fs::write(&path, format!("keys: ['{}']\n", fixtures().join("keys/test.pub").display())).unwrap();
    path.to_str().unwrap().to_owned()
}

#[test]
fn with_a_policy_only_images_signed_by_a_trusted_signer_enter_the_bundle() {
    let registry = Distribution::start();
    seed(&registry);
    let digest = raw_digest(&format!("{}/demo/app:1.0", registry.host()));
    let dir = inputs_from_registry(&registry, "");
    let policy = key_policy(dir.path());

    let unsigned = create_with(dir.path(), &["--policy", &policy]);
    assert_ne!(unsigned.status.code(), Some(0));
    assert!(
        text(&unsigned.stderr).contains("source signature refused: no cosign signature"),
        "{}",
        text(&unsigned.stderr)
    );
    assert!(!dir.path().join("out/demo-0.1.0.tar.zst").exists(), "nothing is built");

    cosign_sign(&registry.host(), "demo/app", &digest, &fixtures().join("keys/other.key"));
    let untrusted = create_with(dir.path(), &["--policy", &policy]);
    assert_ne!(untrusted.status.code(), Some(0));
    assert!(text(&untrusted.stderr).contains("not signed by any of key SHA256:"), "{}", text(&untrusted.stderr));
    assert!(!dir.path().join("out/demo-0.1.0.tar.zst").exists(), "nothing is built");

    // A trusted signature beside the untrusted one: accepted, and recorded in the provenance.
    cosign_sign(&registry.host(), "demo/app", &digest, &fixtures().join("keys/test.key"));
    let signed = create_with(dir.path(), &["--policy", &policy]);
    assert_eq!(signed.status.code(), Some(0), "{}", text(&signed.stderr));
    let archive = dir.path().join("out/demo-0.1.0.tar.zst");
    let envelope = Command::new("tar")
        .args(["--zstd", "-xOf"])
        .arg(&archive)
        .arg("provenance/bundle.intoto.json")
        .output()
        .unwrap();
    let envelope: serde_json::Value = serde_json::from_slice(&envelope.stdout).unwrap();
    use base64::Engine as _;
    let statement: serde_json::Value = serde_json::from_slice(
        &base64::engine::general_purpose::STANDARD.decode(envelope["payload"].as_str().unwrap()).unwrap(),
    )
    .unwrap();
    let app = &statement["predicate"]["buildDefinition"]["resolvedDependencies"][0];
    assert_eq!(app["digest"]["sha256"], digest.trim_start_matches("sha256:"));
    assert!(app["annotations"]["cosignSignatureVerified"].as_str().unwrap().starts_with("key SHA256:"), "{app}");
}

#[test]
fn with_a_policy_an_image_from_a_local_layout_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    copy_inputs(dir.path());
    let policy = key_policy(dir.path());
    let out = create_with(dir.path(), &["--policy", &policy]);
    assert_ne!(out.status.code(), Some(0));
    assert!(text(&out.stderr).contains("an OCI layout source has none"), "{}", text(&out.stderr));
}
