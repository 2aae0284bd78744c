//! Exit codes that mean what they say: a reader that closes stdout ends the output quietly
//! and never turns a failure into success, an upload the registry cuts off is a network
//! error, and so is a cluster that cannot be reached.

use std::io::{BufRead as _, BufReader, Write as _};
use std::net::{TcpListener, TcpStream};
use std::process::{Command, Output, Stdio};

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

/// A registry stand-in on loopback that answers like a registry without any blob until an
/// upload sends its bytes, then hangs up on it with the body unread: a registry (or the
/// network) dropping the connection mid-upload.
fn registry_that_hangs_up_on_uploads() -> u16 {
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(stream) = stream else { return };
            std::thread::spawn(move || answer_until_an_upload(stream));
        }
    });
    port
}

fn answer_until_an_upload(mut stream: TcpStream) {
    let mut reader = BufReader::new(stream.try_clone().unwrap());
    loop {
        let mut request = String::new();
        if reader.read_line(&mut request).unwrap_or(0) == 0 {
            return;
        }
        let mut body = false;
        loop {
            let mut line = String::new();
            if reader.read_line(&mut line).unwrap_or(0) == 0 {
                return;
            }
            let line = line.trim_end().to_ascii_lowercase();
            if line.is_empty() {
                break;
            }
            let length = line.strip_prefix("content-length:").map(|v| v.trim() != "0");
            body |= length.unwrap_or(false) || line.starts_with("transfer-encoding:");
        }
        if body {
            return;
        }
        let mut words = request.split_whitespace();
        let answer = match (words.next(), words.next()) {
            (Some("GET"), Some("/v2/")) => "HTTP/1.1 200 OK\r\nContent-Length: 2\r\n\r\n{}",
            (Some("POST"), _) => "HTTP/1.1 202 Accepted\r\nLocation: /v2/uploads/1\r\nContent-Length: 0\r\n\r\n",
            _ => "HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n",
        };
        if stream.write_all(answer.as_bytes()).is_err() {
            return;
        }
    }
}

#[test]
fn an_upload_the_registry_cuts_off_is_a_network_error_not_success() {
    let port = registry_that_hangs_up_on_uploads();
    let out = crate::load_into(&case("good"), &format!("127.0.0.1:{port}"), &["--plain-http", "--retries", "1"]);
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(3), "{stderr}");
    assert!(stderr.contains(&format!("127.0.0.1:{port}")), "{stderr}");
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
