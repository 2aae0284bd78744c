//! `load` against a real Distribution registry (Debian `docker-registry`), started by the
//! test on a free loopback port; skopeo reads back what we pushed.

use std::io::{Read, Write};
use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{case, test_pub, text};
pub use genesis_testkit::{Distribution, free_port};

fn load(bundle: &Path, destination: &str, extra: &[&str]) -> std::process::Output {
    crate::load_into(bundle, destination, &[&["--plain-http", "--output", "json", "--quiet"][..], extra].concat())
}

fn summary(out: &std::process::Output) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

pub fn skopeo_raw(reference: &str) -> Vec<u8> {
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", &format!("docker://{reference}")])
        .output()
        .expect("skopeo must be installed");
    assert!(out.status.success(), "{}", text(&out.stderr));
    out.stdout
}

#[test]
fn load_keeps_manifest_bytes_and_a_rerun_sends_nothing() {
    let registry = Distribution::start();
    let destination = format!("{}/mirror", registry.host());
    let first = summary(&load(&case("good"), &destination, &[]));
    let image = &first["images"][0];
    assert_eq!(image["source"], "registry.example.com/demo/app:1.0");
    let target = image["target"].as_str().unwrap();
    assert!(target.starts_with(&format!("{destination}/demo/app@sha256:")), "{target}");
    assert_eq!(image["blobs"]["uploaded"], 4);
    assert_eq!(image["manifests"], 3, "the index and both platform manifests");

    // Identical bytes by tag and by digest, and the index is the one the BOM pins.
    let digest = target.rsplit_once('@').unwrap().1;
    let by_tag = skopeo_raw(image["tagged"].as_str().unwrap());
    assert_eq!(genesis_bundle::sha256(&by_tag).to_string(), digest);
    assert_eq!(skopeo_raw(target), by_tag);
    let index: serde_json::Value = serde_json::from_slice(&by_tag).unwrap();
    for child in index["manifests"].as_array().unwrap() {
        let raw = skopeo_raw(&format!("{destination}/demo/app@{}", child["digest"].as_str().unwrap()));
        assert_eq!(genesis_bundle::sha256(&raw).to_string(), child["digest"].as_str().unwrap());
    }

    let rerun = load(&case("good"), &destination, &[]);
    assert!(text(&rerun.stderr).contains("payload not re-read"), "{}", text(&rerun.stderr));
    let again = summary(&rerun);
    assert_eq!(again["images"][0]["blobs"]["uploaded"], 0);
    assert_eq!(again["images"][0]["blobs"]["present"], 4);
}

/// A re-load whose blobs are all in the registry does not read the payload again, but it
/// reads the SBOM the policy requires: one changed in the archive (every blob intact), or a
/// re-signed one that leaves out a manifest, is refused; the genuine bundle's report says
/// exactly what was checked and what was not.
#[test]
fn a_reload_that_skips_the_payload_still_reads_and_checks_the_sbom_the_policy_requires() {
    let registry = Distribution::start();
    let dir = tempfile::tempdir().unwrap();
    let policy = dir.path().join("trust.yaml");
    std::fs::write(&policy, format!("keys: ['{}']\nrequire: [sbom]\n", test_pub().display())).unwrap();
    let load_with_policy = |bundle: &Path| {
        let (bundle, policy) = (bundle.to_str().unwrap(), policy.to_str().unwrap());
        let host = registry.host();
        crate::loader(&[
            "load",
            bundle,
            "--policy",
            policy,
            "--registry",
            &host,
            "--plain-http",
            "--output",
            "json",
            "--quiet",
        ])
    };
    let first = summary(&load_with_policy(&case("good")));
    let checked = serde_json::json!({"payload": "every entry checked against the signed BOM", "sbom": "verified",
        "provenance": "verified", "sidecars": ".sha256 matched, .sig verified, .cosign.bundle verified"});
    assert_eq!(first["verification"], checked);

    let sbom = crate::bom_of(&case("good"))["sboms"][0]["path"].as_str().unwrap().to_owned();
    let changed = with_entry_flipped(&case("good"), &sbom, &dir.path().join("sbom-changed"));
    for (bundle, why) in [
        (changed, format!("{sbom}: content digest")),
        (
            case("sbom-entry-missing"),
            format!("SBOM {sbom} is incomplete: it does not list manifest manifests/service.yaml"),
        ),
    ] {
        let out = load_with_policy(&bundle);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(1), "{}: {stderr}", bundle.display());
        assert!(stderr.contains(&why) && stderr.contains("no image was loaded"), "{stderr}");
        assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
    }

    let again = load_with_policy(&case("good"));
    assert!(text(&again.stderr).contains("payload not re-read"), "{}", text(&again.stderr));
    let again = summary(&again);
    assert_eq!(again["images"][0]["blobs"]["present"], 4);
    let not_reread = serde_json::json!({
        "payload": "not re-read, every blob already in the registry under its signed digest",
        "sbom": "verified", "provenance": "verified", "sidecars": "not checked",
    });
    assert_eq!(again["verification"], not_reread);
}

/// The load checks and uploads in one pass, so the blobs that matched their signed digests
/// before the tampered one may be stored; the tampered one never is, and no manifest or tag
/// refers to any of them.
#[test]
fn a_tampered_bundle_loads_no_image_and_stores_no_tampered_byte() {
    let registry = Distribution::start();
    let bundle = case("blob-byte-changed");
    let out = load(&bundle, &registry.host(), &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("no image was loaded"), "{stderr}");

    let bom = crate::bom_of(&bundle);
    let blobs: Vec<(&str, u64)> = bom["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| Some((f["path"].as_str()?.strip_prefix("oci/blobs/sha256/")?, f["size"].as_u64()?)))
        .collect();
    let tampered = blobs.iter().max_by_key(|(_, size)| *size).unwrap().0;
    assert!(stderr.contains(&format!("oci/blobs/sha256/{tampered}")), "the refusal names the blob: {stderr}");
    let blobs: Vec<&str> = blobs.iter().map(|(hex, _)| *hex).collect();
    assert_refused_cleanly(&registry, "demo/app", &bom, &blobs, tampered);
}

/// After a refused load: the tampered blob is not stored, every blob stored is one of the
/// bundle's `blobs`, and neither the image's digest nor its tag resolves in `repo`.
fn assert_refused_cleanly(
    registry: &Distribution,
    repo: &str,
    bom: &serde_json::Value,
    blobs: &[&str],
    tampered: &str,
) {
    let stored = registry.stored_blob_hexes();
    assert!(!stored.iter().any(|s| s == tampered), "the tampered blob was stored");
    assert!(stored.iter().all(|s| blobs.contains(&s.as_str())), "{stored:?} are not all blobs of the bundle");
    let image = bom["images"][0]["digest"].as_str().unwrap();
    let tag = bom["images"][0]["ref"].as_str().unwrap().rsplit_once(':').unwrap().1;
    for reference in [image, tag] {
        let url = format!("http://{}/v2/{repo}/manifests/{reference}", registry.host());
        let found = Command::new("curl").args(["-sfI", &url]).status().unwrap().success();
        assert!(!found, "{reference} was pushed");
    }
}

/// A copy of `archive` (without its sidecars) in `out` whose payload file `entry` has its
/// last byte flipped, re-compressed frame by frame: well-formed, signed BOM intact, so only
/// the content check of that one file can tell.
fn with_entry_flipped(archive: &Path, entry: &str, out: &Path) -> PathBuf {
    use genesis_bundle::danger::SeekableFile;
    use genesis_bundle::{FRAME_SIZE, SeekableWriter};
    let mut s = SeekableFile::open(std::fs::File::open(archive).unwrap(), &Default::default()).unwrap();
    let entries = s.entries(&Default::default()).unwrap();
    let (header, offset) = entries.iter().find(|(h, _)| h.path == entry).unwrap();
    let mut raw = vec![0u8; s.table().decompressed_len() as usize];
    s.read_exact_at(0, &mut raw).unwrap();
    raw[(offset + header.size - 1) as usize] ^= 1;
    std::fs::create_dir_all(out).unwrap();
    let target = out.join(archive.file_name().unwrap());
    let mut writer = SeekableWriter::new(std::fs::File::create(&target).unwrap());
    for frame in raw.chunks(FRAME_SIZE) {
        writer.push_frame(frame.to_vec()).unwrap();
    }
    writer.finish().unwrap();
    target
}

#[test]
fn a_layer_tampered_in_the_archive_never_completes_its_upload_and_no_image_is_pushed() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = big_bundle(dir.path(), 6, 4);
    let bom = crate::bom_of(&bundle);
    let mut blobs: Vec<&str> = bom["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["path"].as_str()?.strip_prefix("oci/blobs/sha256/"))
        .collect();
    blobs.sort();
    // A layer in the middle of the archive: blobs before it stream (and may complete) first.
    let layers: Vec<&str> = bom["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter(|f| f["size"].as_u64().unwrap() == 4 << 20)
        .filter_map(|f| f["path"].as_str()?.strip_prefix("oci/blobs/sha256/"))
        .collect();
    let mut sorted = layers.clone();
    sorted.sort();
    let tampered = sorted[sorted.len() / 2];
    let archive = with_entry_flipped(&bundle, &format!("oci/blobs/sha256/{tampered}"), &dir.path().join("tampered"));

    let registry = Distribution::start();
    let out = load(&archive, &registry.host(), &[]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains(&format!("oci/blobs/sha256/{tampered}: content digest")), "{stderr}");
    assert!(stderr.contains("no image was loaded"), "{stderr}");
    assert_refused_cleanly(&registry, "big/app", &bom, &blobs, tampered);

    // The genuine bundle then loads, reusing whatever verified blobs the refused run left.
    let s = summary(&load(&bundle, &registry.host(), &[]));
    let counts = &s["images"][0]["blobs"];
    assert_eq!(counts["uploaded"].as_u64().unwrap() + counts["present"].as_u64().unwrap(), 7, "{s}");
}

#[test]
fn a_dead_registry_is_a_network_error() {
    let port = free_port();
    let out = load(&case("good"), &format!("127.0.0.1:{port}"), &["--retries", "1"]);
    assert_eq!(out.status.code(), Some(3), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&format!("127.0.0.1:{port}")), "{}", text(&out.stderr));
}

/// A bundle with one image of `layers` incompressible layers of `layer_mib` MiB each,
/// signed with the fixture key.
pub fn big_bundle(dir: &Path, layers: usize, layer_mib: usize) -> PathBuf {
    let layout = dir.join("layout");
    let blobs = layout.join("blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let mut seed = 0x2545_F491_4F6C_DD1Du64;
    let put = |bytes: &[u8]| {
        let d = genesis_bundle::sha256(bytes);
        std::fs::write(blobs.join(d.hex()), bytes).unwrap();
        serde_json::json!({"digest": d.to_string(), "size": bytes.len()})
    };
    let mut descs = Vec::new();
    for _ in 0..layers {
        let mut data = Vec::with_capacity(layer_mib << 20);
        while data.len() < layer_mib << 20 {
            seed ^= seed << 13;
            seed ^= seed >> 7;
            seed ^= seed << 17;
            data.extend_from_slice(&seed.to_le_bytes());
        }
        let mut d = put(&data);
        d["mediaType"] = "application/vnd.oci.image.layer.v1.tar".into();
        descs.push(d);
    }
    let mut config = put(br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#);
    config["mediaType"] = "application/vnd.oci.image.config.v1+json".into();
    let manifest = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config, "layers": descs})).unwrap();
    let mut top = put(&manifest);
    top["mediaType"] = "application/vnd.oci.image.manifest.v1+json".into();
    top["annotations"] = serde_json::json!({"org.opencontainers.image.ref.name": "1"});
    std::fs::write(
        layout.join("index.json"),
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "manifests": [top]})).unwrap(),
    )
    .unwrap();
    std::fs::write(layout.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("bundle.yaml"),
        "apiVersion: genesis.dev/v1alpha1\nkind: Bundle\nmetadata: {name: big, version: '1'}\nspec:\n  images: [{name: big, image: 'oci:layout:1', ref: 'example.com/big/app:1'}]\n  output: {dir: out}\n",
    )
    .unwrap();
    let spec = genesis_build::BundleSpec::load(&dir.join("bundle.yaml")).unwrap();
    let key = genesis_trust::PrivateKey::from_pem_file(&crate::fixtures().join("keys/test.key")).unwrap();
    genesis_build::build(&spec, &key, &Default::default()).unwrap().archive
}

#[test]
fn a_load_cut_by_a_registry_crash_finishes_on_rerun_sending_only_the_rest() {
    let dir = tempfile::tempdir().unwrap();
    let bundle = big_bundle(dir.path(), 6, 40);
    let mut registry = Distribution::start();
    let key = test_pub();
    let mut child = Command::new(env!("CARGO_BIN_EXE_bundle-loader"))
        .args([
            "load",
            bundle.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--registry",
            &registry.host(),
            "--plain-http",
            "--quiet",
            "--concurrency",
            "1",
            "--retries",
            "1",
        ])
        .stdout(Stdio::null())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while registry.stored_blobs() < 2 {
        assert!(start.elapsed() < Duration::from_secs(60), "no blob ever reached the registry");
        assert!(child.try_wait().unwrap().is_none(), "load finished before the crash");
        std::thread::sleep(Duration::from_millis(5));
    }
    registry.kill();
    let status = child.wait().unwrap();
    let mut stderr = String::new();
    child.stderr.take().unwrap().read_to_string(&mut stderr).unwrap();
    assert_eq!(status.code(), Some(3), "{stderr}");
    let stored = registry.stored_blobs();
    assert!((2..7).contains(&stored), "{stored} blobs stored before the crash");

    registry.restart();
    // What the repository holds after the crash, asked the way any client would (a blob
    // written to storage but not yet linked to the repository counts as missing).
    let bom = crate::bom_of(&bundle);
    let top = bom["images"][0]["digest"].as_str().unwrap().to_owned();
    let blobs: Vec<String> = bom["files"]
        .as_array()
        .unwrap()
        .iter()
        .filter_map(|f| f["path"].as_str().unwrap().strip_prefix("oci/blobs/sha256/").map(|h| format!("sha256:{h}")))
        .filter(|d| *d != top)
        .collect();
    assert_eq!(blobs.len(), 7);
    let present_before = blobs
        .iter()
        .filter(|d| {
            let url = format!("http://{}/v2/big/app/blobs/{d}", registry.host());
            Command::new("curl").args(["-sfI", &url]).status().unwrap().success()
        })
        .count();
    assert!((1..7).contains(&present_before), "{present_before} blobs survived the crash");

    let rerun = summary(&load(&bundle, &registry.host(), &[]));
    let counts = &rerun["images"][0]["blobs"];
    assert_eq!(counts["present"].as_u64().unwrap() as usize, present_before, "{rerun}");
    assert_eq!(counts["uploaded"].as_u64().unwrap() as usize, 7 - present_before, "{rerun}");
    let _ = std::io::stdout().flush();
}

/// A TCP proxy to `upstream` that answers its first `failures` connections with a 500 and
/// forwards every later one untouched.
fn flaky_proxy(upstream: u16, failures: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for (n, conn) in listener.incoming().enumerate() {
            let Ok(mut client) = conn else { return };
            if n < failures {
                let mut head = [0u8; 4096];
                let _ = client.read(&mut head);
                let _ = client
                    .write_all(b"HTTP/1.1 500 Internal Server Error\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                continue;
            }
            let Ok(server) = TcpStream::connect(("127.0.0.1", upstream)) else { return };
            let (mut c2, mut s2) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || std::io::copy(&mut c2, &mut s2));
            std::thread::spawn(move || {
                let mut server = server;
                std::io::copy(&mut server, &mut client)
            });
        }
    });
    port
}

#[test]
fn two_server_errors_then_success_the_retry_wins() {
    let registry = Distribution::start();
    let proxy = flaky_proxy(registry.port, 2);
    let out = load(&case("good"), &format!("127.0.0.1:{proxy}"), &["--retries", "3"]);
    let s = summary(&out);
    assert_eq!(s["images"][0]["blobs"]["uploaded"], 4);
    assert!(text(&out.stderr).contains("retrying"), "{}", text(&out.stderr));
}

#[test]
fn tls_by_default_with_a_custom_ca() {
    let pki = tempfile::tempdir().unwrap();
    let (ca, cert, key) = genesis_testkit::test_pki(pki.path());
    let registry = Distribution::start_with(Some((cert, key)));
    let load = |extra: &[&str]| crate::load_into(&case("good"), &registry.host(), &[&["--quiet"][..], extra].concat());

    let refused = load(&["--retries", "1"]);
    assert_eq!(refused.status.code(), Some(3), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).to_lowercase().contains("certificate"), "{}", text(&refused.stderr));

    let ok = load(&["--ca-file", ca.to_str().unwrap()]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("1 images and 1 charts loaded"), "{}", text(&ok.stdout));
}

#[test]
fn manifests_out_rewrites_carried_images_to_the_registry() {
    let registry = Distribution::start();
    let out_dir = tempfile::tempdir().unwrap();
    let manifests = out_dir.path().join("manifests");
    let destination = format!("{}/mirror", registry.host());
    let s = summary(&load(&case("good"), &destination, &["--manifests-out", manifests.to_str().unwrap()]));
    assert_eq!(s["manifestsOut"]["rewrittenReferences"], 1);
    let target = s["images"][0]["target"].as_str().unwrap();
    let deployment = std::fs::read_to_string(manifests.join("deployment.yaml")).unwrap();
    assert!(deployment.contains(&format!("image: {target}")), "{deployment}");
    assert!(deployment.contains("genesis.dev/original-images"), "{deployment}");
    assert!(deployment.contains("registry.example.com/demo/app:1.0"), "{deployment}");
    let names: Vec<String> = crate::listing(&manifests);
    assert_eq!(names, ["deployment.yaml", "namespace.yaml", "service.yaml"]);
}

/// A release of many images loads them side by side once the bundle checked out: every image
/// lands whole under its own tag, each summary in the order of the BOM, and a re-load finds
/// everything in place in one pass and sends nothing.
#[test]
fn forty_images_load_side_by_side_each_whole_under_its_tag_and_a_reload_sends_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let refs: Vec<String> = (0..40).map(|k| format!("example.com/team-{k:02}/app:1")).collect();
    let bundle = fixture_image_under(dir.path(), &refs);
    let registry = Distribution::start();

    let s = summary(&load(&bundle, &registry.host(), &[]));
    let loaded = s["images"].as_array().unwrap();
    assert_eq!(loaded.len(), 40);
    let first = skopeo_raw(&format!("{}/team-00/app:1", registry.host()));
    for (k, image) in loaded.iter().enumerate() {
        assert_eq!(image["source"], format!("example.com/team-{k:02}/app:1"), "in the BOM's order");
        let blobs = &image["blobs"];
        assert_eq!(blobs["uploaded"].as_u64().unwrap() + blobs["mounted"].as_u64().unwrap(), 4, "{image}");
        // The tag serves the index the BOM pins, and each child it names is there.
        let by_tag = registry_get(&registry, &format!("team-{k:02}/app/manifests/1"));
        assert_eq!(by_tag, first, "team-{k:02}");
        let index: serde_json::Value = serde_json::from_slice(&by_tag).unwrap();
        for child in index["manifests"].as_array().unwrap() {
            let digest = child["digest"].as_str().unwrap();
            let raw = registry_get(&registry, &format!("team-{k:02}/app/manifests/{digest}"));
            assert_eq!(genesis_bundle::sha256(&raw).to_string(), digest);
        }
    }
    let uploaded: u64 = loaded.iter().map(|i| i["blobs"]["uploaded"].as_u64().unwrap()).sum();
    assert_eq!(uploaded, 4, "each blob crossed once; the other repositories mounted it");

    // Each image's tag already names its pinned index: one question per image, no HEAD per
    // blob, nothing written.
    let before = registry.requests().len();
    let rerun = load(&bundle, &registry.host(), &[]);
    assert!(text(&rerun.stderr).contains("payload not re-read"), "{}", text(&rerun.stderr));
    let again = summary(&rerun);
    for image in again["images"].as_array().unwrap() {
        assert_eq!(image["blobs"]["present"], 4, "{image}");
    }
    let asked: Vec<String> = registry.requests().split_off(before).into_iter().filter(|r| r != "GET /v2/").collect();
    let expected: Vec<String> = (0..40).map(|k| format!("HEAD /v2/team-{k:02}/app/manifests/1")).collect();
    let mut sorted = asked.clone();
    sorted.sort();
    assert_eq!(sorted, expected, "{asked:#?}");
}

/// A bundle built in `dir`, signed with the fixture key, of the fixture image (two platforms,
/// four blobs) under each of `refs`, in that order.
fn fixture_image_under(dir: &Path, refs: &[String]) -> PathBuf {
    let layout = crate::fixtures().join("images/app");
    let images: String = refs
        .iter()
        .enumerate()
        .map(|(k, r)| format!("    - {{name: i{k:02}, image: 'oci:{}:1.0', ref: '{r}'}}\n", layout.display()))
        .collect();
    let spec = format!(
        "apiVersion: genesis.dev/v1alpha1\nkind: Bundle\nmetadata: {{name: images, version: '1'}}\nspec:\n  images:\n{images}  output: {{dir: out}}\n"
    );
    std::fs::write(dir.join("bundle.yaml"), spec).unwrap();
    let spec = genesis_build::BundleSpec::load(&dir.join("bundle.yaml")).unwrap();
    let key = genesis_trust::PrivateKey::from_pem_file(&crate::fixtures().join("keys/test.key")).unwrap();
    genesis_build::build(&spec, &key, &Default::default()).unwrap().archive
}

/// The body of `GET /v2/PATH` from `registry`, any manifest type accepted.
fn registry_get(registry: &Distribution, path: &str) -> Vec<u8> {
    let out = Command::new("curl")
        .args(["-sf", "-H"])
        .arg(format!(
            "Accept: {}, {}, {}",
            genesis_types::media_types::OCI_INDEX,
            genesis_types::media_types::OCI_MANIFEST,
            "application/vnd.docker.distribution.manifest.list.v2+json"
        ))
        .arg(format!("http://{}/v2/{path}", registry.host()))
        .output()
        .unwrap();
    assert!(out.status.success(), "GET {path}: {}", text(&out.stderr));
    out.stdout
}

#[test]
fn a_blob_already_pushed_to_another_repository_is_mounted_not_uploaded() {
    let dir = tempfile::tempdir().unwrap();
    let refs = ["example.com/team-a/app:1".to_owned(), "example.com/team-b/app:1".to_owned()];
    let bundle = fixture_image_under(dir.path(), &refs);
    let registry = Distribution::start();
    let s = summary(&load(&bundle, &registry.host(), &[]));
    assert_eq!(s["images"][0]["blobs"]["uploaded"], 4, "{s}");
    assert_eq!(s["images"][1]["blobs"]["mounted"], 4, "{s}");
    assert_eq!(s["images"][1]["blobs"]["uploaded"], 0, "{s}");
    assert_eq!(
        skopeo_raw(&format!("{}/team-b/app:1", registry.host())),
        skopeo_raw(&format!("{}/team-a/app:1", registry.host()))
    );
}

#[test]
fn a_referrer_loaded_into_a_registry_with_the_referrers_api_is_listed_by_it() {
    let dir = tempfile::tempdir().unwrap();
    let (bundle, image, artifact) = crate::serve::bundle_with_referrer(dir.path());
    let registry = genesis_testkit::Ocireg::start();
    let s = summary(&load(&bundle, &registry.host(), &[]));
    assert_eq!(s["images"].as_array().unwrap().len(), 2);
    let out = Command::new("curl")
        .args(["-sf", &format!("http://{}/v2/demo/app/referrers/{image}", registry.host())])
        .output()
        .unwrap();
    assert!(out.status.success());
    let index: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let listed: Vec<&str> =
        index["manifests"].as_array().unwrap().iter().map(|m| m["digest"].as_str().unwrap()).collect();
    assert_eq!(listed, [artifact.as_str()]);
    // With the API there, no fallback tag is written.
    let tags = Command::new("curl")
        .args(["-s", &format!("http://{}/v2/demo/app/tags/list", registry.host())])
        .output()
        .unwrap();
    assert!(!text(&tags.stdout).contains(&image.replace(':', "-")), "{}", text(&tags.stdout));
}

#[test]
fn basic_auth_from_flags_or_a_docker_config() {
    let pki = tempfile::tempdir().unwrap();
    let (ca, cert, key) = genesis_testkit::test_pki(pki.path());
    let htpasswd = pki.path().join("htpasswd");
    let made = Command::new("htpasswd")
        .args(["-Bbc"])
        .arg(&htpasswd)
        .args(["genesis", "s3cret"])
        .output()
        .expect("htpasswd (apache2-utils) must be installed");
    assert!(made.status.success(), "{}", text(&made.stderr));
    let registry = genesis_testkit::Distribution::start_full(Some((cert, key)), Some(htpasswd));
    let host = registry.host();
    let load = |extra: &[&str]| {
        crate::load_into(&case("good"), &host, &[&["--quiet", "--ca-file", ca.to_str().unwrap()][..], extra].concat())
    };

    let anonymous = load(&["--retries", "1"]);
    assert_eq!(anonymous.status.code(), Some(3), "{}", text(&anonymous.stderr));
    assert!(text(&anonymous.stderr).contains("authentication required"), "{}", text(&anonymous.stderr));

    let wrong = load(&["--username", "genesis", "--password", "nope"]);
    assert_eq!(wrong.status.code(), Some(3), "{}", text(&wrong.stderr));

    let ok = load(&["--username", "genesis", "--password", "s3cret"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));

    // The same credentials from a Docker config.json.
    let config = pki.path().join("config.json");
    std::fs::write(&config, format!(r#"{{"auths": {{"{host}": {{"auth": "Z2VuZXNpczpzM2NyZXQ="}}}}}}"#)).unwrap();
    let from_file = load(&["--authfile", config.to_str().unwrap()]);
    assert_eq!(from_file.status.code(), Some(0), "{}", text(&from_file.stderr));
}

#[test]
fn charts_are_pushed_as_oci_helm_charts_byte_for_byte() {
    let registry = Distribution::start();
    let destination = format!("{}/mirror", registry.host());
    let first = summary(&load(&case("good"), &destination, &[]));
    let chart = &first["charts"][0];
    assert_eq!(chart["name"], "web");
    assert_eq!(chart["version"], "0.1.0");
    assert_eq!(chart["url"], format!("oci://{destination}/charts/web").as_str());

    // What `helm pull oci://…/charts/web --version 0.1.0` reads: Helm's media types, and the
    // .tgz the signed BOM lists, unchanged.
    let manifest: serde_json::Value =
        serde_json::from_slice(&skopeo_raw(&format!("{destination}/charts/web:0.1.0"))).unwrap();
    assert_eq!(manifest["config"]["mediaType"], "application/vnd.cncf.helm.config.v1+json");
    assert_eq!(manifest["layers"][0]["mediaType"], "application/vnd.cncf.helm.chart.content.v1.tar+gzip");
    let bom = crate::bom_of(&case("good"));
    let tgz = bom["files"].as_array().unwrap().iter().find(|f| f["path"] == "charts/web-0.1.0.tgz").unwrap();
    assert_eq!(manifest["layers"][0]["digest"], tgz["sha256"]);
    let layer = Command::new("curl")
        .args([
            "-sf",
            &format!("http://{}/v2/mirror/charts/web/blobs/{}", registry.host(), tgz["sha256"].as_str().unwrap()),
        ])
        .output()
        .unwrap();
    assert!(layer.status.success());
    assert_eq!(genesis_bundle::sha256(&layer.stdout).to_string(), tgz["sha256"].as_str().unwrap());

    // A rerun finds the chart there and pushes the same manifest.
    let again = summary(&load(&case("good"), &destination, &[]));
    assert_eq!(again["charts"][0]["digest"], chart["digest"]);
}

#[test]
fn flux_sources_of_carried_charts_are_pointed_at_the_pushed_charts() {
    // The demo inputs plus a HelmRelease of the carried chart and its HelmRepository.
    let dir = tempfile::tempdir().unwrap();
    for entry in ["bundle.yaml", "images", "charts", "manifests"] {
        assert!(
            Command::new("cp").arg("-r").arg(crate::fixtures().join(entry)).arg(dir.path()).status().unwrap().success()
        );
    }
    std::fs::write(
        dir.path().join("manifests/flux.yaml"),
        "apiVersion: helm.toolkit.fluxcd.io/v2\nkind: HelmRelease\nmetadata: {name: web, namespace: demo}\nspec:\n  chart:\n    spec: {chart: web, version: 0.1.0, sourceRef: {kind: HelmRepository, name: vendor}}\n---\napiVersion: source.toolkit.fluxcd.io/v1\nkind: HelmRepository\nmetadata: {name: vendor, namespace: demo}\nspec: {url: 'https://charts.vendor.example'}\n",
    )
    .unwrap();
    let spec = genesis_build::BundleSpec::load(&dir.path().join("bundle.yaml")).unwrap();
    let key = genesis_trust::PrivateKey::from_pem_file(&crate::fixtures().join("keys/test.key")).unwrap();
    let options = genesis_build::BuildOptions { output_dir: Some(dir.path().join("out")), ..Default::default() };
    let bundle = genesis_build::build(&spec, &key, &options).unwrap().archive;

    let registry = Distribution::start();
    let manifests = dir.path().join("rewritten");
    summary(&load(&bundle, &registry.host(), &["--manifests-out", manifests.to_str().unwrap()]));
    let flux = std::fs::read_to_string(manifests.join("flux.yaml")).unwrap();
    assert!(flux.contains(&format!("url: oci://{}/charts", registry.host())), "{flux}");
    assert!(flux.contains("type: oci"), "{flux}");
    assert!(flux.contains("genesis.dev/original-url: https://charts.vendor.example"), "{flux}");
}
