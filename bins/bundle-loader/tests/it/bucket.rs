//! The S3 diode pipeline on loopback (issue 16 item 4, seed 001): `genesis push` into moto's S3
//! server (the staging bucket), a copy of every object into a second bucket standing in for the
//! diode, then `bundle-loader verify`, `extract` and `load` straight from the landing bucket by
//! ranged GETs, nothing written locally before the verdict; and the same verify through a proxy
//! that closes every connection once it has been idle for a moment, as RustFS-class backends do
//! (seed 002). moto runs here; AWS's own S3 cannot, so moto stands in for both buckets.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};
use std::time::Duration;

use genesis_testkit::services::MotoS3;

use crate::parts::{NAME, split_bundle_in};
use crate::registry::Distribution;
use crate::{listing, test_pub, text};

/// The staging bucket is moto's own; the landing bucket is made beside it.
const LANDING: &str = "landing";

/// `bin ARGS` with the S3 settings of `endpoint` in the environment, as an operator sets them
/// (moto takes any credentials), and TMPDIR an empty folder of the test's, to see that nothing
/// is written there.
fn with_s3(bin: &Path, args: &[&str], endpoint: &str, tmp: &Path) -> Output {
    Command::new(bin)
        .args(args)
        .arg("--s3-allow-http")
        .env("GENESIS_S3_ENDPOINT", endpoint)
        .env("AWS_ACCESS_KEY_ID", "genesis")
        .env("AWS_SECRET_ACCESS_KEY", "moto-accepts-any")
        .env("TMPDIR", tmp)
        .env("RUST_LOG", "warn")
        .output()
        .expect("the binary runs")
}

fn loader_bin() -> PathBuf {
    PathBuf::from(env!("CARGO_BIN_EXE_bundle-loader"))
}

/// `genesis`, built beside `bundle-loader` by the workspace build.
fn genesis_bin() -> PathBuf {
    loader_bin().with_file_name("genesis")
}

/// Copies every object of moto's bucket under `vendor/` into [`LANDING`] under `prefix/` with
/// curl: what crosses a diode. The object named `damaged`, if any, arrives with one byte
/// flipped.
fn diode(s3: &MotoS3, through: &Path, prefix: &str, damaged: Option<&str>) {
    let curl = |args: &[&str]| {
        let out = Command::new("curl").args(args).output().expect("curl must be installed");
        assert!(out.status.success(), "curl {args:?}: {}", text(&out.stderr));
    };
    curl(&["-sf", "-X", "PUT", &format!("{}/{LANDING}", s3.endpoint())]);
    for key in s3.object_keys() {
        let name = key.strip_prefix("vendor/").expect("pushed under vendor/");
        let file = through.join("object");
        curl(&["-sf", "-o", file.to_str().unwrap(), &format!("{}/{}/{key}", s3.endpoint(), MotoS3::BUCKET)]);
        if damaged == Some(name) {
            let mut bytes = std::fs::read(&file).unwrap();
            bytes[1000] ^= 1;
            std::fs::write(&file, bytes).unwrap();
        }
        curl(&["-sSf", "-T", file.to_str().unwrap(), &format!("{}/{LANDING}/{prefix}/{name}", s3.endpoint())]);
    }
}

/// A keep-alive HTTP/1.1 front for `upstream` that closes a client connection once it has been
/// idle for 20 ms, as a backend that bounds its kept-alive connections aggressively does (seed
/// 002: RustFS): a client that sends its next request on a pooled connection meets a closed one.
/// moto answers each request on a connection of its own and closes it, so the front reads each
/// answer whole and passes it on with its length, the client's connection kept open. Returns its
/// port and how many idle connections it closed.
fn impatient_proxy(upstream: u16) -> (u16, Arc<AtomicUsize>) {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    let closed = Arc::new(AtomicUsize::new(0));
    let counted = Arc::clone(&closed);
    std::thread::spawn(move || {
        for client in listener.incoming().flatten() {
            let counted = Arc::clone(&counted);
            std::thread::spawn(move || {
                let mut client = std::io::BufReader::new(client);
                loop {
                    client.get_ref().set_read_timeout(Some(Duration::from_millis(20))).unwrap();
                    let mut head = Vec::new();
                    match read_head(&mut client, &mut head) {
                        Ok(true) => {}
                        Ok(false) => return,
                        Err(_) => {
                            counted.fetch_add(1, Ordering::Relaxed);
                            let _ = client.get_ref().shutdown(Shutdown::Both);
                            return;
                        }
                    }
                    client.get_ref().set_read_timeout(None).unwrap();
                    let head_text = String::from_utf8_lossy(&head).into_owned();
                    let mut body = vec![0u8; content_length(&head_text)];
                    std::io::Read::read_exact(&mut client, &mut body).unwrap();
                    let mut server = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
                    server.write_all(&head).unwrap();
                    server.write_all(&body).unwrap();
                    let mut answer = Vec::new();
                    server.read_to_end(&mut answer).unwrap();
                    let split = answer.windows(4).position(|w| w == b"\r\n\r\n").unwrap() + 4;
                    let (answer_head, answer_body) = answer.split_at(split);
                    let mut kept: Vec<String> = String::from_utf8_lossy(answer_head)
                        .lines()
                        .filter(|l| !l.is_empty() && !l.to_ascii_lowercase().starts_with("connection:"))
                        .map(str::to_owned)
                        .collect();
                    if !kept.iter().any(|l| l.to_ascii_lowercase().starts_with("content-length:")) {
                        kept.push(format!("Content-Length: {}", answer_body.len()));
                    }
                    let reply = format!("{}\r\n\r\n", kept.join("\r\n"));
                    let to = client.get_mut();
                    if to.write_all(reply.as_bytes()).and_then(|()| to.write_all(answer_body)).is_err() {
                        return;
                    }
                }
            });
        }
    });
    (port, closed)
}

/// Reads an HTTP head (to its blank line) into `head`: `false` at a clean end of the connection.
fn read_head(from: &mut impl std::io::BufRead, head: &mut Vec<u8>) -> std::io::Result<bool> {
    loop {
        let n = from.read_until(b'\n', head)?;
        if n == 0 {
            return Ok(false);
        }
        if head.ends_with(b"\r\n\r\n") {
            return Ok(true);
        }
    }
}

/// The `Content-Length` of a request head, 0 without one.
fn content_length(head: &str) -> usize {
    head.lines()
        .find_map(|l| l.to_ascii_lowercase().strip_prefix("content-length:").map(|v| v.trim().parse().unwrap()))
        .unwrap_or(0)
}

#[test]
fn a_split_bundle_pushed_to_staging_crosses_to_landing_and_is_verified_extracted_and_loaded_from_there() {
    let dir = tempfile::tempdir().unwrap();
    let (manifest, layer) = split_bundle_in(dir.path(), 12 << 20, 31, 5 << 20);
    let tmp = tempfile::tempdir().unwrap();
    let s3 = MotoS3::start();
    let staging = format!("s3://{}/vendor/", MotoS3::BUCKET);

    let push = ["push", manifest.to_str().unwrap(), &staging, "--output", "json"];
    let out = with_s3(&genesis_bin(), &push, &s3.endpoint(), tmp.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&s3.endpoint()), "the endpoint is announced: {}", text(&out.stderr));
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let objects = report["objects"].as_array().unwrap();
    assert!(objects.iter().all(|o| o["sent"] == true), "{report}");
    let keys = s3.object_keys();
    for part in genesis_bundle::PartsManifest::read(&manifest).unwrap().parts {
        assert!(keys.contains(&format!("vendor/{}", part.name)), "{keys:?}");
    }
    let again = with_s3(&genesis_bin(), &push, &s3.endpoint(), tmp.path());
    let report: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    // A second run sends no part again, and the manifest and signatures that vouch for them
    // anew.
    for object in report["objects"].as_array().unwrap() {
        let is_part = object["object"].as_str().unwrap().contains(".part-");
        assert_eq!(object["sent"], !is_part, "{report}");
    }

    diode(&s3, dir.path(), "vendor", None);
    let landed = format!("s3://{LANDING}/vendor/{NAME}");
    let key = test_pub();
    let verify = ["verify", &landed, "--key", key.to_str().unwrap(), "--output", "json"];
    let out = with_s3(&loader_bin(), &verify, &s3.endpoint(), tmp.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("contacts only {}", s3.endpoint())), "{stderr}");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["report"]["parts"]["parts"].as_u64(), Some(3), "{report}");
    assert!(listing(tmp.path()).is_empty(), "written locally: {:?}", listing(tmp.path()));

    // Through a backend that drops idle connections, the same verdict.
    let (proxy, closed) = impatient_proxy(s3.port);
    let out = with_s3(&loader_bin(), &verify, &format!("http://127.0.0.1:{proxy}"), tmp.path());
    assert_eq!(out.status.code(), Some(0), "through the proxy: {}", text(&out.stderr));
    assert!(closed.load(Ordering::Relaxed) > 0, "the proxy closed no idle connection");

    let registry = Distribution::start();
    let destination = format!("{}/mirror", registry.host());
    let load = ["load", &landed, "--key", key.to_str().unwrap(), "--registry", &destination, "--plain-http", "--quiet"];
    let out = with_s3(&loader_bin(), &load, &s3.endpoint(), tmp.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let pulled = Command::new("curl")
        .args(["-sfL", &format!("http://{}/v2/mirror/demo/app/blobs/{layer}", registry.host())])
        .output()
        .unwrap();
    assert_eq!(genesis_bundle::sha256(&pulled.stdout).to_string(), layer);

    // A part damaged on the way: named, nothing extracted.
    let part = format!("{NAME}.part-001");
    diode(&s3, dir.path(), "damaged", Some(&part));
    let landed = format!("s3://{LANDING}/damaged/{NAME}");
    let target = dir.path().join("extracted");
    let extract = ["extract", &landed, "--key", key.to_str().unwrap(), "--output-dir", target.to_str().unwrap()];
    let out = with_s3(&loader_bin(), &extract, &s3.endpoint(), tmp.path());
    assert!(!out.status.success());
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("s3://{LANDING}/damaged/{part}")) && stderr.contains("has SHA-256"), "{stderr}");
    assert!(!target.exists());
}
