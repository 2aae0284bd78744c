//! Crowds of raw TCP clients, for tests of servers under pressure: sockets that send
//! nothing, downloads that stop reading, and a plain HTTP/1.1 `GET` that tells an answer from
//! a connection closed unanswered; and the server's peak memory once they are done.

use std::io::{Read as _, Write as _};
use std::net::{SocketAddr, TcpStream};
use std::time::{Duration, Instant};

/// Raises this process's soft limit on open files to its hard limit, so a test can hold
/// `at_least` descriptors (more than the usual 1,024 sockets); processes it starts afterwards
/// inherit the limit. Panics, saying why, when the hard limit is lower: the test would
/// otherwise fail for another reason, or pass without testing what it says.
pub fn raise_open_files_limit(at_least: u64) {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let Rlimit { current, maximum } = getrlimit(Resource::Nofile);
    // `None` is no limit.
    if current.is_none_or(|soft| soft >= at_least) {
        return;
    }
    let raised = maximum.unwrap_or(at_least);
    setrlimit(Resource::Nofile, Rlimit { current: Some(raised), maximum })
        .unwrap_or_else(|e| panic!("raising the open-file limit (RLIMIT_NOFILE) to {raised}: {e}"));
    let soft = getrlimit(Resource::Nofile).current;
    assert!(
        soft.is_none_or(|soft| soft >= at_least),
        "this test needs {at_least} open files, and the hard limit allows {raised}: raise it (ulimit -Hn {at_least})"
    );
}

/// `n` connections to `port` that send nothing. Every one must connect (the server may close
/// it afterwards): a test that asked for `n` and got fewer would test something else.
pub fn idle_sockets(port: u16, n: usize) -> Vec<TcpStream> {
    let server = SocketAddr::from(([127, 0, 0, 1], port));
    (0..n)
        .map(|i| {
            TcpStream::connect_timeout(&server, Duration::from_secs(5)).unwrap_or_else(|e| {
                panic!("idle socket {} of {n} did not connect: {e} (open-file limit, or a server not accepting)", i + 1)
            })
        })
        .collect()
}

/// `n` connections to `port` that each send `request` (a whole HTTP/1.1 request), read the
/// first byte of the answer, so the server has started sending it, and then read nothing.
pub fn stalled_downloads(port: u16, request: &str, n: usize) -> Vec<TcpStream> {
    (0..n)
        .map(|i| {
            let mut c = TcpStream::connect(("127.0.0.1", port)).unwrap_or_else(|e| panic!("download {i}: {e}"));
            c.set_read_timeout(Some(Duration::from_secs(20))).unwrap();
            c.write_all(request.as_bytes()).unwrap();
            c.read_exact(&mut [0u8]).unwrap_or_else(|e| panic!("download {i} got no answer: {e}"));
            c
        })
        .collect()
}

/// The status line answering `GET path` (with `headers`, each `Name: value`) on a new
/// connection to `port`, after the whole answer was read; `None` when the server closed the
/// connection unanswered or did not finish answering within 5 s.
pub fn get_status(port: u16, path: &str, headers: &[&str]) -> Option<String> {
    let mut c = TcpStream::connect(("127.0.0.1", port)).ok()?;
    c.set_read_timeout(Some(Duration::from_secs(5))).ok()?;
    let extra: String = headers.iter().map(|h| format!("{h}\r\n")).collect();
    c.write_all(format!("GET {path} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: close\r\n{extra}\r\n").as_bytes())
        .ok()?;
    let mut answer = Vec::new();
    c.read_to_end(&mut answer).ok()?;
    String::from_utf8_lossy(&answer).lines().next().map(str::to_owned)
}

/// [`get_status`], tried again every 100 ms until the server answers or `within` has passed.
pub fn get_status_within(port: u16, path: &str, headers: &[&str], within: Duration) -> Option<String> {
    let start = Instant::now();
    loop {
        if let Some(status) = get_status(port, path, headers) {
            return Some(status);
        }
        if start.elapsed() > within {
            return None;
        }
        std::thread::sleep(Duration::from_millis(100));
    }
}

/// The peak resident set (`VmHWM` in `/proc/PID/status`) of process `pid` so far, in KiB:
/// what a test of a server's memory bound reads once its clients are done, before it stops
/// the server.
pub fn peak_rss_kib(pid: u32) -> u64 {
    let path = format!("/proc/{pid}/status");
    let status = std::fs::read_to_string(&path).unwrap_or_else(|e| panic!("reading {path}: {e}"));
    status
        .lines()
        .find_map(|l| l.strip_prefix("VmHWM:"))
        .and_then(|v| v.trim().trim_end_matches("kB").trim().parse().ok())
        .unwrap_or_else(|| panic!("no VmHWM line in {path}:\n{status}"))
}
