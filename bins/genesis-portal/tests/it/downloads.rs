//! Downloads under stress: a connection cut mid-way then resumed with `Range`, an artifact
//! corrupted on the server, 50 clients at once against bounded server memory, 520 clients
//! that stop reading against everyone else.

use std::io::{Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use genesis_testkit::clients::{get_status, raise_open_files_limit, stalled_downloads};
use genesis_testkit::text;

use crate::{Backend, Client, Portal, sha256_hex, status};

const PAYLOAD: usize = 24 << 20;

/// A release with the demo bundle and a 24 MiB `payload.bin`, served.
fn portal_with_payload() -> (Portal, String, tempfile::TempDir) {
    portal_with_payload_serving(&[])
}

/// [`portal_with_payload`], served with `extra` arguments.
fn portal_with_payload_serving(extra: &[&str]) -> (Portal, String, tempfile::TempDir) {
    let mut portal = Portal::new(Backend::default());
    let payload = portal.dir.path().join("payload.bin");
    // Incompressible and reproducible: a SHA-256 chain.
    let mut bytes = Vec::with_capacity(PAYLOAD);
    let mut block = [7u8; 32];
    while bytes.len() < PAYLOAD {
        block = <sha2::Sha256 as sha2::Digest>::digest(block).into();
        bytes.extend_from_slice(&block);
    }
    std::fs::write(&payload, &bytes).unwrap();
    let key = portal.org_with_key("acme", &["releases:read"]);
    let files = portal.publish_demo("acme", &[&payload]);
    std::fs::rename(&payload, files.path().join("payload.bin")).unwrap();
    portal.serve_with(extra);
    (portal, key, files)
}

/// A TCP proxy to `upstream` that passes at most `limit` response bytes per connection,
/// then cuts it: a network that drops mid-download.
pub(crate) fn cutting_proxy(upstream: u16, limit: usize) -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for client in listener.incoming() {
            let Ok(mut client) = client else { return };
            let mut server = TcpStream::connect(("127.0.0.1", upstream)).unwrap();
            let (mut client_in, mut server_out) = (client.try_clone().unwrap(), server.try_clone().unwrap());
            std::thread::spawn(move || {
                let _ = std::io::copy(&mut client_in, &mut server_out);
            });
            std::thread::spawn(move || {
                let mut passed = 0;
                let mut buf = [0u8; 16 << 10];
                while passed < limit {
                    let n = match server.read(&mut buf[..(limit - passed).min(16 << 10)]) {
                        Ok(0) | Err(_) => break,
                        Ok(n) => n,
                    };
                    if client.write_all(&buf[..n]).is_err() {
                        break;
                    }
                    passed += n;
                }
                let _ = client.shutdown(Shutdown::Both);
                let _ = server.shutdown(Shutdown::Both);
            });
        }
    });
    port
}

/// The hidden partial file of an interrupted download of `name`, if any.
pub(crate) fn partial_of(dir: &Path, name: &str) -> Option<std::path::PathBuf> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().path()).find(|p| {
        let file = p.file_name().unwrap().to_string_lossy();
        file.starts_with(&format!(".{name}.")) && file.ends_with(".partial")
    })
}

fn pull(client: &Client, dir: &Path) -> std::process::Output {
    client.run(&["pull", "0.1.0", "--output-dir", dir.to_str().unwrap()])
}

#[test]
fn a_download_cut_mid_way_resumes_where_it_stopped() {
    let (portal, key, files) = portal_with_payload();
    let proxy = cutting_proxy(portal.port, 10 << 20);
    let client = Client::new();
    assert!(client.login(&format!("http://127.0.0.1:{proxy}"), &key).status.success());
    let out = tempfile::tempdir().unwrap();
    let cut = pull(&client, out.path());
    assert_eq!(cut.status.code(), Some(3), "a broken connection is a network error: {}", text(&cut.stderr));
    assert!(text(&cut.stderr).contains("downloading payload.bin"), "{}", text(&cut.stderr));
    assert!(!out.path().join("payload.bin").exists(), "nothing half-written under the real name");
    let partial = std::fs::metadata(partial_of(out.path(), "payload.bin").unwrap()).unwrap().len();
    assert!(partial > 0 && partial < PAYLOAD as u64, "{partial}");

    let served_before = portal.metric("portal_download_bytes_total");
    assert!(client.login(&portal.url(), &key).status.success());
    let resumed = pull(&client, out.path());
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    assert!(text(&resumed.stdout).contains("payload.bin  24.0 MiB"), "{}", text(&resumed.stdout));
    assert!(text(&resumed.stdout).contains("(resumed after"), "{}", text(&resumed.stdout));
    assert_eq!(sha256_hex(&out.path().join("payload.bin")), sha256_hex(&files.path().join("payload.bin")));
    assert!(partial_of(out.path(), "payload.bin").is_none());
    let served = portal.metric("portal_download_bytes_total") - served_before;
    assert_eq!(served as u64, PAYLOAD as u64 - partial, "only the missing bytes were sent again");

    // Stopped after the last byte but before the rename: nothing is fetched again.
    let sha = sha256_hex(&files.path().join("payload.bin"));
    std::fs::rename(out.path().join("payload.bin"), out.path().join(format!(".payload.bin.{}.partial", &sha[..12])))
        .unwrap();
    let served_before = portal.metric("portal_download_bytes_total");
    let finished = pull(&client, out.path());
    assert!(finished.status.success(), "{}", text(&finished.stderr));
    assert_eq!(sha256_hex(&out.path().join("payload.bin")), sha);
    assert_eq!(portal.metric("portal_download_bytes_total"), served_before);
}

#[test]
fn a_symlink_planted_at_the_partial_file_is_refused_and_what_it_points_at_untouched() {
    let (portal, key, files) = portal_with_payload();
    let client = Client::new();
    assert!(client.login(&portal.url(), &key).status.success());
    let out = tempfile::tempdir().unwrap();
    let victim = out.path().join("victim");
    std::fs::write(&victim, b"keep").unwrap();
    // The partial file's name is predictable: `.NAME.<12 hex of its digest>.partial`.
    let sha = sha256_hex(&files.path().join("payload.bin"));
    std::os::unix::fs::symlink(&victim, out.path().join(format!(".payload.bin.{}.partial", &sha[..12]))).unwrap();
    let pulled = pull(&client, out.path());
    assert_ne!(pulled.status.code(), Some(0), "{}", text(&pulled.stdout));
    assert!(
        text(&pulled.stderr).contains("a symbolic link sits where the partial download belongs"),
        "{}",
        text(&pulled.stderr)
    );
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep", "nothing was written through the link");
    assert!(!out.path().join("payload.bin").exists());
}

#[test]
fn an_artifact_corrupted_on_the_server_is_caught_and_discarded() {
    let (portal, key, _files) = portal_with_payload();
    let stored = portal.dir.path().join("data/artifacts/releases/genesis/0.1.0/payload.bin");
    let mut bytes = std::fs::read(&stored).unwrap();
    bytes[PAYLOAD / 2] ^= 1;
    std::fs::write(&stored, bytes).unwrap();
    let client = Client::new();
    assert!(client.login(&portal.url(), &key).status.success());
    let out = tempfile::tempdir().unwrap();
    let pull = pull(&client, out.path());
    assert_eq!(pull.status.code(), Some(1), "{}", text(&pull.stderr));
    assert!(
        text(&pull.stderr).contains("payload.bin: the download does not match the published digest"),
        "{}",
        text(&pull.stderr)
    );
    assert!(!out.path().join("payload.bin").exists());
    assert!(
        partial_of(out.path(), "payload.bin").is_none(),
        "bytes that failed their digest are not kept to resume from"
    );
}

#[test]
fn an_if_range_that_no_longer_matches_gets_the_whole_file() {
    let (portal, key, _files) = portal_with_payload();
    let path = "/v1/releases/genesis/0.1.0/artifacts/payload.bin";
    let (headers, body) = portal.curl(Some(&key), "GET", path, &["-H", "Range: bytes=10-", "-H", "If-Range: \"0000\""]);
    assert_eq!(status(&headers), 200);
    assert_eq!(body.len(), PAYLOAD);
}

fn vm_hwm_kib(pid: u32) -> u64 {
    let status = std::fs::read_to_string(format!("/proc/{pid}/status")).unwrap();
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .unwrap()
        .trim()
        .trim_end_matches(" kB")
        .trim()
        .parse()
        .unwrap()
}

#[test]
fn fifty_concurrent_downloads_keep_server_memory_bounded() {
    // All fifty come from 127.0.0.1, exactly the default share of one peer: room for them all.
    let (portal, key, files) = portal_with_payload_serving(&["--max-connections-per-peer", "100"]);
    let expected = sha256_hex(&files.path().join("payload.bin"));
    let url = format!("{}/v1/releases/genesis/0.1.0/artifacts/payload.bin", portal.url());
    // Each download is hashed as it arrives (curl | sha256sum), never written to disk: 1.2
    // GiB of scratch files once filled a CI disk and failed the test for the wrong reason.
    let auth = format!("Authorization: Bearer {key}");
    let children: Vec<_> = (0..50)
        .map(|_| {
            Command::new("bash")
                .args(["-c", r#"set -o pipefail; curl -sSf -H "$1" "$2" | sha256sum"#, "download", &auth, &url])
                .stdout(Stdio::piped())
                .stderr(Stdio::piped())
                .spawn()
                .unwrap()
        })
        .collect();
    for (i, child) in children.into_iter().enumerate() {
        let done = child.wait_with_output().unwrap();
        assert!(done.status.success(), "download {i}: {}server log:\n{}", text(&done.stderr), portal.log());
        assert_eq!(text(&done.stdout).split_whitespace().next(), Some(expected.as_str()), "download {i}");
    }
    let peak_mib = vm_hwm_kib(portal.pid()) / 1024;
    // 50 x 24 MiB = 1.2 GiB went out; each download holds about 1 MiB of chunks.
    assert!(peak_mib < 160, "server peak RSS {peak_mib} MiB");
    assert_eq!(portal.metric("portal_downloads_in_flight"), 0.0);
}

#[test]
fn downloads_that_stop_reading_do_not_stall_other_clients() {
    // The portal inherits the limit: 1,000 connections and 1,000 responses at once.
    raise_open_files_limit(2_100);
    // More stalled downloads than the blocking pool has threads (512), all let in (all from
    // one address): what is tested is how a response waits for its client, not the
    // connection limits.
    let (portal, key, _files) =
        portal_with_payload_serving(&["--max-connections", "1000", "--max-connections-per-peer", "1000"]);
    let auth = format!("Authorization: Bearer {key}");
    let request =
        format!("GET /v1/releases/genesis/0.1.0/artifacts/payload.bin HTTP/1.1\r\nHost: 127.0.0.1\r\n{auth}\r\n\r\n");
    let stalled = stalled_downloads(portal.port, &request, 520);
    let started = Instant::now();
    for path in ["/healthz", "/v1/releases/genesis/0.1.0/artifacts/demo-0.1.0.tar.zst"] {
        let status = get_status(portal.port, path, &[auth.as_str()]).unwrap_or_default();
        assert!(status.starts_with("HTTP/1.1 200"), "{path} with 520 stalled downloads: {status:?}");
    }
    assert!(started.elapsed() < Duration::from_secs(10), "answered in {:?}", started.elapsed());
    drop(stalled);
}
