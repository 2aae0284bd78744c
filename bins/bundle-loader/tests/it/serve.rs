//! `serve` answers real clients (skopeo, curl) from the archive: manifests by tag and
//! digest with their exact bytes, blobs with ranges, tags, catalog, referrers, 405 on
//! writes, and HTTPS with a CA of the test's own.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};

use crate::registry::free_port;
use crate::{case, test_pub, text};

/// A running `bundle-loader serve`; killed on drop.
pub struct Server {
    child: Child,
    pub port: u16,
}

impl Server {
    pub fn start(bundle: &Path, tls: Option<(&Path, &Path)>) -> Server {
        let port = free_port();
        let key = test_pub();
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_bundle-loader"));
        cmd.args([
            "serve",
            bundle.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--quiet",
            "--listen",
            &format!("127.0.0.1:{port}"),
        ]);
        if let Some((cert, key)) = tls {
            cmd.arg("--tls-cert").arg(cert).arg("--tls-key").arg(key);
        }
        let child = cmd.stdout(Stdio::null()).stderr(Stdio::null()).spawn().unwrap();
        let start = std::time::Instant::now();
        while std::net::TcpStream::connect(("127.0.0.1", port)).is_err() {
            assert!(start.elapsed() < std::time::Duration::from_secs(20), "serve never listened");
            std::thread::sleep(std::time::Duration::from_millis(20));
        }
        Server { child, port }
    }
}

impl Drop for Server {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

fn curl(args: &[&str]) -> (String, Vec<u8>) {
    let out = Command::new("curl").args(["-s", "-D", "-"]).args(args).output().expect("curl must be installed");
    let raw = out.stdout;
    let split = raw.windows(4).position(|w| w == b"\r\n\r\n").map_or(raw.len(), |i| i + 4);
    (String::from_utf8_lossy(&raw[..split]).into_owned(), raw[split..].to_vec())
}

fn bom_image_digest() -> String {
    let mut r = genesis_bundle::ArchiveReader::open_head(&case("good"), &Default::default()).unwrap();
    let bom: serde_json::Value = serde_json::from_slice(&r.read_head().unwrap().bom).unwrap();
    bom["images"][0]["digest"].as_str().unwrap().to_owned()
}

#[test]
fn skopeo_copies_the_whole_index_from_serve() {
    let server = Server::start(&case("good"), None);
    let tmp = tempfile::tempdir().unwrap();
    let layout = tmp.path().join("copy");
    let out = Command::new("skopeo")
        .args(["copy", "-q", "--all", "--src-tls-verify=false"])
        .arg(format!("docker://127.0.0.1:{}/demo/app:1.0", server.port))
        .arg(format!("oci:{}:app", layout.display()))
        .output()
        .expect("skopeo must be installed");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(layout.join("index.json")).unwrap()).unwrap();
    assert_eq!(index["manifests"][0]["digest"], bom_image_digest().as_str());
}

#[test]
fn manifests_blobs_ranges_tags_and_catalog() {
    let server = Server::start(&case("good"), None);
    let base = format!("http://127.0.0.1:{}/v2", server.port);
    let digest = bom_image_digest();

    let (head, body) = curl(&[&format!("{base}/demo/app/manifests/1.0")]);
    assert!(head.starts_with("HTTP/1.1 200"), "{head}");
    assert!(head.to_lowercase().contains("content-type: application/vnd.oci.image.index.v1+json"), "{head}");
    assert!(head.to_lowercase().contains(&format!("docker-content-digest: {digest}")), "{head}");
    assert_eq!(genesis_bundle::sha256(&body).to_string(), digest);
    let (_, by_digest) = curl(&[&format!("{base}/demo/app/manifests/{digest}")]);
    assert_eq!(by_digest, body);

    // A layer, whole and by range.
    let index: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let child = index["manifests"][0]["digest"].as_str().unwrap();
    let (_, manifest) = curl(&[&format!("{base}/demo/app/manifests/{child}")]);
    let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
    let layer = manifest["layers"][0]["digest"].as_str().unwrap();
    let (head, whole) = curl(&[&format!("{base}/demo/app/blobs/{layer}")]);
    assert!(head.starts_with("HTTP/1.1 200") && head.to_lowercase().contains("accept-ranges: bytes"), "{head}");
    assert_eq!(genesis_bundle::sha256(&whole).to_string(), layer);
    let (head, part) = curl(&["-H", "Range: bytes=10-19", &format!("{base}/demo/app/blobs/{layer}")]);
    assert!(head.starts_with("HTTP/1.1 206"), "{head}");
    assert!(head.to_lowercase().contains(&format!("content-range: bytes 10-19/{}", whole.len())), "{head}");
    assert_eq!(part, whole[10..20]);
    let (head, _) = curl(&["-I", &format!("{base}/demo/app/blobs/{layer}")]);
    assert!(head.to_lowercase().contains(&format!("content-length: {}", whole.len())), "{head}");

    let (_, tags) = curl(&[&format!("{base}/demo/app/tags/list")]);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&tags).unwrap(),
        serde_json::json!({"name": "demo/app", "tags": ["1.0"]})
    );
    let (_, catalog) = curl(&[&format!("{base}/_catalog")]);
    assert_eq!(
        serde_json::from_slice::<serde_json::Value>(&catalog).unwrap(),
        serde_json::json!({"repositories": ["demo/app"]})
    );
    let (head, _) = curl(&[&format!("{base}/demo/app/manifests/2.0")]);
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
    let (head, _) = curl(&[&format!("{base}/other/manifests/1.0")]);
    assert!(head.starts_with("HTTP/1.1 404"), "{head}");
}

#[test]
fn writes_are_refused_with_an_oci_error() {
    let server = Server::start(&case("good"), None);
    for (method, path) in [
        ("PUT", "demo/app/manifests/1.0"),
        ("POST", "demo/app/blobs/uploads/"),
        ("DELETE", "demo/app/manifests/1.0"),
        ("PATCH", "demo/app/blobs/uploads/x"),
    ] {
        let (head, body) = curl(&["-X", method, &format!("http://127.0.0.1:{}/v2/{path}", server.port)]);
        assert!(head.starts_with("HTTP/1.1 405"), "{method}: {head}");
        let v: serde_json::Value = serde_json::from_slice(&body).unwrap();
        assert_eq!(v["errors"][0]["code"], "UNSUPPORTED", "{method}");
    }
}

/// A CA and a leaf certificate for 127.0.0.1 (rustls refuses a CA used as a leaf).
pub fn test_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let run = |args: &[&str]| {
        let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl must be installed");
        assert!(out.status.success(), "openssl {args:?}: {}", text(&out.stderr));
    };
    run(&[
        "req",
        "-x509",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "ca.key",
        "-out",
        "ca.crt",
        "-days",
        "2",
        "-subj",
        "/CN=genesis test CA",
    ]);
    run(&[
        "req",
        "-newkey",
        "ec",
        "-pkeyopt",
        "ec_paramgen_curve:P-256",
        "-nodes",
        "-keyout",
        "leaf.key",
        "-out",
        "leaf.csr",
        "-subj",
        "/CN=127.0.0.1",
    ]);
    std::fs::write(
        dir.join("leaf.ext"),
        "basicConstraints=CA:FALSE\nextendedKeyUsage=serverAuth\nsubjectAltName=IP:127.0.0.1\n",
    )
    .unwrap();
    run(&[
        "x509",
        "-req",
        "-in",
        "leaf.csr",
        "-CA",
        "ca.crt",
        "-CAkey",
        "ca.key",
        "-CAcreateserial",
        "-out",
        "leaf.crt",
        "-days",
        "2",
        "-extfile",
        "leaf.ext",
    ]);
    (dir.join("ca.crt"), dir.join("leaf.crt"), dir.join("leaf.key"))
}

#[test]
fn serves_https_with_the_given_certificate() {
    let pki = tempfile::tempdir().unwrap();
    let (ca, cert, key) = test_pki(pki.path());
    let server = Server::start(&case("good"), Some((&cert, &key)));
    let url = format!("https://127.0.0.1:{}/v2/demo/app/tags/list", server.port);
    let (head, body) = curl(&["--cacert", ca.to_str().unwrap(), &url]);
    assert!(head.starts_with("HTTP/"), "{head}");
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap()["tags"], serde_json::json!(["1.0"]));
    let (head, _) = curl(&[&url]);
    assert!(head.is_empty(), "an unknown CA must be refused, got {head}");
}
