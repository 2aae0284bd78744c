//! Crowds of raw TCP clients, for tests of servers under pressure: sockets that send
//! nothing, downloads that stop reading, and a plain HTTP/1.1 `GET` that tells an answer from
//! a connection closed unanswered.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::time::{Duration, Instant};

/// Raises this process's soft limit on open files to its hard limit, so a test can hold
/// more than the usual 1,024 sockets; processes it starts afterwards inherit the limit.
pub fn raise_open_files_limit() {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let limit = getrlimit(Resource::Nofile);
    if let Some(max) = limit.maximum {
        setrlimit(Resource::Nofile, Rlimit { current: Some(max), maximum: Some(max) }).expect("raising RLIMIT_NOFILE");
    }
}

/// `n` connections to `port` that send nothing; those the server refused are left out.
pub fn idle_sockets(port: u16, n: usize) -> Vec<TcpStream> {
    (0..n).filter_map(|_| TcpStream::connect(("127.0.0.1", port)).ok()).collect()
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
