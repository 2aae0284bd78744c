//! Exit codes that mean what they say: a reader that closes stdout ends the output quietly
//! and never turns a failure into success, an upload the registry cuts off is a network
//! error, and so is a cluster that cannot be reached; an archive damaged where only a read
//! through its seek table finds it is refused as a verification failure.

use std::collections::BTreeMap;
use std::fs::{File, OpenOptions};
use std::io::{self, BufRead as _, BufReader, Read as _, Write as _};
use std::net::{Shutdown, TcpListener, TcpStream};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Output, Stdio};
use std::time::Duration;

use genesis_bundle::danger::SeekableFile;
use genesis_bundle::{BOM_SCHEMA, Bom, Compression, Content, FileEntry, ManifestEntry, WriteOptions, rfc3339, sha256};
use genesis_types::BundlePath;

use crate::{case, loader, test_pub, text};

/// `bundle-loader ARGS` writing into a pipe whose reader has already gone, as in
/// `bundle-loader … | true` when `true` is done first.
fn into_closed_pipe(args: &[&str]) -> Output {
    let (reader, writer) = std::io::pipe().unwrap();
    drop(reader);
    Command::new(env!("CARGO_BIN_EXE_bundle-loader"))
        .args(args)
        .env("RUST_LOG", "warn")
        .stdout(writer)
        .stderr(Stdio::piped())
        .output()
        .unwrap()
}

fn verify_args<'a>(bundle: &'a str, key: &'a str, output: &'a str) -> [&'a str; 6] {
    ["verify", bundle, "--key", key, "--output", output]
}

#[test]
fn a_failed_verification_whose_report_meets_a_closed_pipe_still_exits_1() {
    let (bundle, key) = (case("blob-byte-changed"), test_pub());
    for output in ["json", "text"] {
        let out = into_closed_pipe(&verify_args(bundle.to_str().unwrap(), key.to_str().unwrap(), output));
        assert_eq!(out.status.code(), Some(1), "{output}: {}", text(&out.stderr));
    }
}

#[test]
fn a_verified_bundle_whose_report_meets_a_closed_pipe_exits_0_quietly() {
    let (bundle, key) = (case("good"), test_pub());
    for output in ["json", "text"] {
        let out = into_closed_pipe(&verify_args(bundle.to_str().unwrap(), key.to_str().unwrap(), output));
        let stderr = text(&out.stderr);
        assert_eq!(out.status.code(), Some(0), "{output}: {stderr}");
        assert!(!stderr.contains("error") && !stderr.contains("panicked"), "{output}: {stderr}");
    }
}

/// Uploads up to this size are taken whole by [`registry_that_cuts_off_large_uploads`].
const TAKEN_WHOLE: u64 = 1 << 20;

/// A registry stand-in on loopback that has no blob, takes small uploads whole and cuts a
/// large one off mid-body, as a registry that dies or a proxy with a body limit does.
fn registry_that_cuts_off_large_uploads() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || answer_until_a_large_upload(stream));
        }
    });
    port
}

fn answer_until_a_large_upload(mut stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request).unwrap_or(0) == 0 {
            return;
        }
        let mut length = 0u64;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end().to_ascii_lowercase();
            if line.is_empty() {
                break;
            }
            if let Some(value) = line.strip_prefix("content-length:") {
                length = value.trim().parse().unwrap();
            }
        }
        if length > TAKEN_WHOLE {
            cut_off(reader, stream);
            return;
        }
        if io::copy(&mut (&mut reader).take(length), &mut io::sink()).unwrap_or(0) != length {
            return;
        }
        let mut words = request.split_whitespace();
        let answer = match (words.next(), words.next()) {
            (Some("GET"), Some("/v2/")) => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
            (Some("POST"), _) => "HTTP/1.1 202 Accepted\r\nLocation: /v2/uploads/1\r\nContent-Length: 0\r\n\r\n",
            (Some("PUT"), _) => "HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n",
            _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        };
        if stream.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

/// Cuts off an upload whose head has been read, so that the client's next write fails with
/// a broken pipe (EPIPE): the socket is shut both ways and closed with body bytes unread, so
/// the kernel sends FIN, which half-closes the client's socket, then RST, which a
/// half-closed socket reports as EPIPE to its next write. The client also reads while it
/// writes, and a read after the FIN sees the end of the stream instead, so the stand-in
/// makes a write the likely next call: it stops reading for a moment (the client fills the
/// socket buffers and queues more of the blob), then takes one MiB, and closes while the
/// client is writing that backlog. The exit code must be 3 whichever the client meets.
fn cut_off(mut reader: BufReader<TcpStream>, stream: TcpStream) {
    std::thread::sleep(Duration::from_millis(250));
    let _ = io::copy(&mut (&mut reader).take(1 << 20), &mut io::sink());
    let _ = stream.shutdown(Shutdown::Both);
    // Dropping both handles closes the socket.
}

#[test]
fn an_upload_the_registry_cuts_off_is_a_network_error_not_success() {
    // A layer of 32 MiB: still being written when the registry cuts it off. A broken pipe
    // in the chain of a failed upload once counted as a closed stdout, exit 0.
    let dir = tempfile::tempdir().unwrap();
    let (bundle, _, _) = crate::serve::bundle_with_big_layer(dir.path());
    let port = registry_that_cuts_off_large_uploads();
    let host = format!("127.0.0.1:{port}");
    let out = crate::load_into(&bundle, &host, &["--plain-http", "--retries", "1"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    // The error itself, not only the line that announces where the run connects.
    let mut reported = stderr.lines().filter(|l| l.starts_with("error:") || l.trim_start().starts_with("caused by:"));
    assert!(reported.any(|l| l.contains(&host)), "the error names the registry: {stderr}");
}

/// A bundle signed with the test key that holds one Kubernetes manifest of 10 MiB (a
/// ConfigMap of letters, which zstd shrinks little) and no image: its bytes span three zstd
/// frames and more.
fn bundle_with_a_big_manifest(dir: &Path) -> PathBuf {
    let mut state = 0x9e37_79b9_7f4a_7c15_u64;
    let letters: String = (0..10 << 20)
        .map(|_| {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            char::from(b'a' + (state % 26) as u8)
        })
        .collect();
    let yaml = format!("apiVersion: v1\nkind: ConfigMap\nmetadata: {{name: big}}\ndata: {{blob: {letters}}}\n");
    let path: BundlePath = "manifests/big.yaml".parse().unwrap();
    let bom = Bom {
        schema: BOM_SCHEMA.into(),
        name: "big".into(),
        version: "1.0.0".into(),
        created: rfc3339(1_735_689_600),
        expires: None,
        files: vec![FileEntry { path: path.clone(), size: yaml.len() as u64, sha256: sha256(yaml.as_bytes()) }],
        images: vec![],
        charts: vec![],
        manifests: vec![ManifestEntry { path: path.clone() }],
        sboms: vec![],
        scan: None,
        requires: None,
    };
    let bom_bytes = bom.to_bytes();
    let key = genesis_trust::PrivateKey::from_pem_file(&crate::fixtures().join("keys/test.key")).unwrap();
    let signature = genesis_trust::encode_signature(&key.sign(&bom_bytes));
    let contents = BTreeMap::from([(path, Content::Bytes(yaml.into_bytes()))]);
    let archive = dir.join("big-1.0.0.tar.zst");
    let options = WriteOptions { compression: Compression::Zstd, mtime: 1_735_689_600, progress: Default::default() };
    genesis_bundle::write_bundle(
        File::create(&archive).unwrap(),
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

/// Flips a byte in the middle of a zstd frame of `bundle` that holds bytes of `path` and
/// nothing else (no tar header, not the end of the archive), so that reading the archive's
/// entries never decompresses it and reading `path` finds it fails its checksum.
fn damage_a_frame_inside(bundle: &Path, path: &str) {
    let limits = genesis_bundle::Limits::default();
    let mut archive = SeekableFile::open(File::open(bundle).unwrap(), &limits).unwrap();
    let (header, offset) = archive.entries(&limits).unwrap().into_iter().find(|(h, _)| h.path == path).unwrap();
    let (first, _) = archive.frame_index(offset).unwrap();
    let (last, _) = archive.frame_index(offset + header.size - 1).unwrap();
    assert!(first + 1 < last, "{path} has no frame of its own");
    let frames = &archive.table().frames;
    let start: u64 = frames[..=first].iter().map(|f| u64::from(f.compressed)).sum();
    let middle = start + u64::from(frames[first + 1].compressed) / 2;
    let file = OpenOptions::new().read(true).write(true).open(bundle).unwrap();
    let mut byte = [0u8];
    file.read_exact_at(&mut byte, middle).unwrap();
    file.write_all_at(&[byte[0] ^ 0xff], middle).unwrap();
}

#[test]
fn a_frame_found_damaged_only_when_a_manifest_is_read_is_a_verification_failure() {
    // With no image, the registry "has every blob": the load checks the signature, does not
    // read the payload again, and reads the manifest back through the seek table for
    // --manifests-out. The damaged frame fails its checksum there, and that error reaches
    // the loader inside the `io::Error` of a reader, whose kind said "input" (exit 2).
    let dir = tempfile::tempdir().unwrap();
    let bundle = bundle_with_a_big_manifest(dir.path());
    damage_a_frame_inside(&bundle, "manifests/big.yaml");
    let unused = format!("127.0.0.1:{}", genesis_testkit::free_port());
    let rewritten = dir.path().join("rewritten");
    let out = crate::load_into(&bundle, &unused, &["--plain-http", "--manifests-out", rewritten.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{stderr}");
    assert!(stderr.contains("corrupt archive"), "{stderr}");
}

#[test]
fn a_cluster_that_cannot_be_reached_is_a_network_error() {
    let dir = tempfile::tempdir().unwrap();
    let port = genesis_testkit::free_port();
    let kubeconfig = dir.path().join("kubeconfig");
    std::fs::write(
        &kubeconfig,
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: gone\n  cluster: {{server: 'http://127.0.0.1:{port}'}}\n\
             users:\n- name: gone\n  user: {{token: gone}}\ncontexts:\n- name: gone\n  context: {{cluster: gone, user: gone}}\n\
             current-context: gone\n"
        ),
    )
    .unwrap();
    let out = loader(&["status", "--kubeconfig", kubeconfig.to_str().unwrap()]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(&format!("this run contacts only http://127.0.0.1:{port}")), "{stderr}");
}
