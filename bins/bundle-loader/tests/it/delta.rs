//! Delta bundles (decision 0043) against a real Distribution registry: a delta loads into a
//! registry that holds its base, sending only the blobs it carries and mounting the base's
//! blobs into the repositories that lack them; into an empty registry, or with a BOM whose
//! required blob disagrees with the manifest that references it, it is refused before anything
//! is pushed; `serve` and `export` refuse it, naming its base.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use genesis_bundle::{Bom, Compression, Content, WriteOptions};
use genesis_testkit::Distribution;
use genesis_testkit::layered_spec::{self, Image};

use crate::{test_pub, text};

/// 1 MiB of noise per layer.
const LAYER: usize = 1 << 20;

/// Release 1 of `layered`, one image of two layers (seeds 1, 3: noise makes a seed odd), and release 2 built against it
/// as a delta: that image with its second layer changed (seed 5), and a second image, in
/// another repository, sharing the first layer (seed 1, seed 7). Both signed with the fixture
/// key; returns (release 1, release 2).
fn releases(dir: &Path) -> (PathBuf, PathBuf) {
    let key = genesis_trust::PrivateKey::from_pem_file(&crate::fixtures().join("keys/test.key")).unwrap();
    let build = |base: Option<PathBuf>| {
        let spec = genesis_build::BundleSpec::load(&dir.join("bundle.yaml")).unwrap();
        let options = genesis_build::BuildOptions {
            output_dir: Some(dir.join("out")),
            skip_package_sboms: true,
            base,
            ..Default::default()
        };
        genesis_build::build(&spec, &key, &options).unwrap()
    };
    layered_spec::write(
        dir,
        "layered",
        "1",
        &[Image { name: "app", reference: "example.com/demo/app:1", layers: &[(LAYER, 1), (LAYER, 3)] }],
    );
    let v1 = build(None).archive;
    layered_spec::write(
        dir,
        "layered",
        "2",
        &[
            Image { name: "app", reference: "example.com/demo/app:2", layers: &[(LAYER, 1), (LAYER, 5)] },
            Image { name: "worker", reference: "example.com/demo/worker:2", layers: &[(LAYER, 1), (LAYER, 7)] },
        ],
    );
    let v2 = build(Some(v1.clone()));
    let requires = v2.requires.expect("release 2 is a delta");
    assert_eq!(requires.blobs, 2, "the shared layer and the config");
    (v1, v2.archive)
}

/// `bundle-loader load BUNDLE --key test.pub --registry HOST --plain-http --output json --quiet`.
fn load(bundle: &Path, host: &str) -> Output {
    crate::load_into(bundle, host, &["--plain-http", "--output", "json", "--quiet"])
}

fn loaded(out: &Output) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The BOM of `archive`, parsed.
fn bom(archive: &Path) -> Bom {
    Bom::parse(&crate::bom_bytes(archive), &Default::default()).unwrap()
}

/// The requests that write to a registry (anything but GET and HEAD), as `METHOD PATH`.
fn writes(requests: &[String]) -> Vec<&String> {
    requests.iter().filter(|r| !r.starts_with("GET ") && !r.starts_with("HEAD ")).collect()
}

#[test]
fn a_delta_loads_into_a_registry_holding_its_base_sending_only_its_new_blobs() {
    let dir = tempfile::tempdir().unwrap();
    let (v1, v2) = releases(dir.path());
    let registry = Distribution::start();
    let host = registry.host();
    let first = loaded(&load(&v1, &host));
    assert_eq!(first["images"][0]["blobs"]["uploaded"], 3, "two layers and the config");
    let uploaded_before = registry.completed_uploads().len();

    let second = loaded(&load(&v2, &host));
    let images = second["images"].as_array().unwrap();
    let image = |source: &str| images.iter().find(|i| i["source"] == source).unwrap_or_else(|| panic!("{second}"));
    assert_eq!(
        image("example.com/demo/app:2")["blobs"],
        serde_json::json!({"present": 2, "mounted": 0, "uploaded": 1, "uploadedBytes": LAYER}),
        "the shared layer and config are in demo/app already; its new layer is sent: {second}"
    );
    assert_eq!(
        image("example.com/demo/worker:2")["blobs"],
        serde_json::json!({"present": 0, "mounted": 2, "uploaded": 1, "uploadedBytes": LAYER}),
        "the base's blobs are mounted from demo/app into demo/worker, its own layer sent: {second}"
    );
    // Exactly the two new layers were uploaded: nothing of the base went over the wire.
    let uploads: BTreeSet<String> = registry.completed_uploads()[uploaded_before..].iter().cloned().collect();
    let required: BTreeSet<String> = bom(&v2).requires.unwrap().blobs.iter().map(|b| b.digest.to_string()).collect();
    assert_eq!(uploads.len(), 2, "{uploads:?}");
    assert!(uploads.is_disjoint(&required), "{uploads:?} {required:?}");

    // Each image pulled back whole by another client: every layer there, with its digest.
    for reference in ["demo/app:2", "demo/worker:2"] {
        let out_dir = dir.path().join(reference.replace([':', '/'], "-"));
        let copy = Command::new("skopeo")
            .args(["copy", "--src-tls-verify=false", &format!("docker://{host}/{reference}")])
            .arg(format!("dir:{}", out_dir.display()))
            .output()
            .expect("skopeo must be installed");
        assert!(copy.status.success(), "{reference}: {}", text(&copy.stderr));
        let manifest: serde_json::Value =
            serde_json::from_slice(&crate::registry::skopeo_raw(&format!("{host}/{reference}"))).unwrap();
        let layers = manifest["layers"].as_array().unwrap();
        assert_eq!(layers.len(), 2);
        for layer in layers.iter().chain(std::iter::once(&manifest["config"])) {
            let digest = layer["digest"].as_str().unwrap();
            let bytes = std::fs::read(out_dir.join(digest.strip_prefix("sha256:").unwrap())).unwrap();
            assert_eq!(genesis_bundle::sha256(&bytes).to_string(), digest, "{reference}");
        }
    }
}

#[test]
fn a_delta_into_a_registry_without_its_base_is_refused_before_anything_is_pushed() {
    let dir = tempfile::tempdir().unwrap();
    let (_, v2) = releases(dir.path());
    let registry = Distribution::start();
    let out = load(&v2, &registry.host());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(4), "what the registry lacks is not found: {stderr}");
    for blob in bom(&v2).requires.unwrap().blobs {
        assert!(stderr.contains(&format!("{} ({} bytes)", blob.digest, blob.size)), "names {}: {stderr}", blob.digest);
    }
    assert!(stderr.contains("this delta bundle requires of its base layered 1"), "{stderr}");
    assert!(stderr.contains("load layered 1 into"), "{stderr}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));

    // Nothing written: no upload begun, no manifest, no tag; nothing stored, no repository.
    let requests = registry.requests();
    assert!(writes(&requests).is_empty(), "{:?}", writes(&requests));
    assert_eq!(registry.stored_blobs(), 0);
    let catalog =
        Command::new("curl").args(["-sf", &format!("http://{}/v2/_catalog", registry.host())]).output().unwrap();
    assert!(catalog.status.success(), "{}", text(&catalog.stderr));
    let catalog: serde_json::Value = serde_json::from_slice(&catalog.stdout).unwrap();
    assert_eq!(catalog["repositories"], serde_json::json!([]), "{catalog}");
}

/// A delta whose signed BOM requires the shared layer with one byte more than the manifest
/// that references it gives: the load is refused as the verdict on the bundle it is, before
/// anything is pushed, naming the blob and both sizes.
#[test]
fn a_required_blob_whose_size_differs_from_the_manifests_reference_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let (v1, v2) = releases(dir.path());
    let forged = forge_required_size(&v2, &dir.path().join("forged"));
    let registry = Distribution::start();
    loaded(&load(&v1, &registry.host()));
    let before = registry.requests().len();

    let out = load(&forged, &registry.host());
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    let layer = bom(&v2).requires.unwrap().blobs.into_iter().find(|b| b.size == LAYER as u64).unwrap();
    let expected = format!(
        "requires.blobs lists {} with {} bytes, but image example.com/demo/app:2 references it with {} bytes",
        layer.digest,
        layer.size + 1,
        layer.size
    );
    assert!(stderr.contains(&expected), "{stderr}");
    assert!(stderr.contains("no image was loaded"), "{stderr}");
    let requests = registry.requests();
    assert!(writes(&requests[before..]).is_empty(), "{:?}", writes(&requests[before..]));

    // The genuine delta, the same registry: loaded.
    loaded(&load(&v2, &registry.host()));
}

/// `delta` with its BOM changed to require the shared layer with one byte more, signed again
/// with the fixture key (as a vendor's mistake would be signed), its payload the same: the
/// files extracted with the real `tar` and packed again.
fn forge_required_size(delta: &Path, dir: &Path) -> PathBuf {
    let files = dir.join("files");
    std::fs::create_dir_all(&files).unwrap();
    let untar = Command::new("tar").arg("--zstd").arg("-xf").arg(delta).arg("-C").arg(&files).status().unwrap();
    assert!(untar.success());
    let mut bom = bom(delta);
    let requires = bom.requires.as_mut().unwrap();
    let layer = requires.blobs.iter_mut().find(|b| b.size == LAYER as u64).unwrap();
    layer.size += 1;
    let bom_bytes = bom.to_bytes();
    let bom = Bom::parse(&bom_bytes, &Default::default()).unwrap();
    let key = genesis_trust::PrivateKey::from_pem_file(&crate::fixtures().join("keys/test.key")).unwrap();
    let signature = genesis_trust::encode_signature(&key.sign(&bom_bytes));
    let contents: std::collections::BTreeMap<_, _> =
        bom.files.iter().map(|f| (f.path.clone(), Content::File(files.join(f.path.as_str())))).collect();
    let archive = dir.join("layered-2.tar.zst");
    let options = WriteOptions { compression: Compression::Zstd, mtime: 0, progress: Default::default() };
    genesis_bundle::write_bundle(
        std::fs::File::create(&archive).unwrap(),
        &bom,
        &bom_bytes,
        &signature,
        None,
        &contents,
        options,
    )
    .unwrap();
    archive
}

/// `serve` and `export` need every blob of the images: a delta is refused once its signature
/// verified, naming its base, and nothing is served or written.
#[test]
fn serve_and_export_refuse_a_delta_naming_its_base() {
    let dir = tempfile::tempdir().unwrap();
    let (_, v2) = releases(dir.path());
    let key = test_pub();
    let (bundle, key) = (v2.to_str().unwrap(), key.to_str().unwrap());
    let target = dir.path().join("images.tar");
    let port = genesis_testkit::free_port().to_string();
    let listen = format!("127.0.0.1:{port}");
    for (action, args) in [
        ("export", vec!["export", bundle, "--key", key, "--format", "oci-archive", "-o", target.to_str().unwrap()]),
        ("serve", vec!["serve", bundle, "--key", key, "--listen", listen.as_str()]),
    ] {
        let out = crate::loader(&args);
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(2), "{action}: {stderr}");
        assert!(stderr.contains(&format!("{action} needs every blob of the bundle's images")), "{stderr}");
        assert!(stderr.contains("load layered 1 and then this bundle into a registry"), "{stderr}");
    }
    assert!(!target.exists(), "nothing was exported");
}

/// `verify` states the base a delta needs, in text and in JSON.
#[test]
fn verify_states_the_base_a_delta_needs() {
    let dir = tempfile::tempdir().unwrap();
    let (v1, v2) = releases(dir.path());
    let base_bom = genesis_bundle::sha256(&crate::bom_bytes(&v1)).to_string();
    let out = crate::verify(&v2, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = format!("{}{}", text(&out.stdout), text(&out.stderr));
    let requires = bom(&v2).requires.unwrap();
    let line =
        format!("! delta bundle: load layered 1 (BOM {base_bom}) first (2 blobs, {} bytes, left out", requires.bytes());
    assert!(said.contains(&line), "{said}");
    let json = crate::verify(&v2, &["--output", "json"]);
    assert_eq!(json.status.code(), Some(0), "{}", text(&json.stderr));
    let report: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(
        report["report"]["requires"],
        serde_json::json!({"base": {"name": "layered", "version": "1", "bomSha256": base_bom}, "blobs": 2,
                           "bytes": requires.bytes()})
    );
    // A full bundle's report has no such key.
    let full = crate::verify(&v1, &["--output", "json"]);
    let full: serde_json::Value = serde_json::from_slice(&full.stdout).unwrap();
    assert_eq!(full["verified"], true, "{full}");
    assert!(full["report"].get("requires").is_none(), "{full}");
}
