//! Stand-ins for HTTP servers on loopback, for tests of what a client sends where and what
//! it does with hostile answers: each request is recorded (method, target, headers, body)
//! and answered by a closure the test gives, over the raw TCP stream, to write anything to.

use std::io::{self, BufRead as _, BufReader, Read as _, Write as _};
use std::net::{TcpListener, TcpStream};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;
use std::time::Duration;

use crate::free_port;

/// How much of a request body a stand-in records; the rest is read and dropped.
const RECORDED_BODY: usize = 1 << 20;

/// One request as a stand-in received it.
#[derive(Debug, Clone)]
pub struct Request {
    /// `GET`, `POST`, ….
    pub method: String,
    /// The request target, e.g. `/v1/whoami`.
    pub target: String,
    /// Header names (lowercase) and values, in order.
    pub headers: Vec<(String, String)>,
    /// The body (its first MiB), sent with a length or chunked.
    pub body: Vec<u8>,
}

impl Request {
    /// The value of header `name` (lowercase), if sent.
    pub fn header(&self, name: &str) -> Option<&str> {
        self.headers.iter().find(|(n, _)| n == name).map(|(_, v)| v.as_str())
    }
}

/// A server on a free loopback port that records every request and answers it with the
/// test's closure, one connection at a time, closing each after one answer; stopped on drop.
pub struct StandIn {
    pub port: u16,
    seen: Arc<Mutex<Vec<Request>>>,
    stop: Arc<AtomicBool>,
    thread: Option<JoinHandle<()>>,
}

impl StandIn {
    /// Starts a stand-in whose every request is answered by `answer` (what it returns is
    /// ignored: the connection is closed either way).
    pub fn start<F>(answer: F) -> StandIn
    where
        F: Fn(&Request, &mut TcpStream) -> io::Result<()> + Send + 'static,
    {
        let listener = loop {
            if let Ok(listener) = TcpListener::bind(("127.0.0.1", free_port())) {
                break listener;
            }
        };
        let port = listener.local_addr().unwrap().port();
        let seen = Arc::new(Mutex::new(Vec::new()));
        let stop = Arc::new(AtomicBool::new(false));
        let thread = {
            let (seen, stop) = (Arc::clone(&seen), Arc::clone(&stop));
            std::thread::spawn(move || {
                for conn in listener.incoming() {
                    if stop.load(Ordering::SeqCst) {
                        return;
                    }
                    let Ok(mut conn) = conn else { continue };
                    let Some(request) = read_request(&conn) else { continue };
                    seen.lock().unwrap().push(request.clone());
                    let _ = answer(&request, &mut conn);
                    let _ = conn.shutdown(std::net::Shutdown::Both);
                }
            })
        };
        StandIn { port, seen, stop, thread: Some(thread) }
    }

    /// `http://127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Every request received so far, in order.
    pub fn seen(&self) -> Vec<Request> {
        self.seen.lock().unwrap().clone()
    }
}

impl Drop for StandIn {
    fn drop(&mut self) {
        self.stop.store(true, Ordering::SeqCst);
        // Wakes the accept loop so that it sees the flag.
        let _ = TcpStream::connect(("127.0.0.1", self.port));
        if let Some(thread) = self.thread.take() {
            let _ = thread.join();
        }
    }
}

/// Reads a request line, headers and the whole body (so that answering early never resets
/// the connection under a client still sending); `None` when the client sent no request.
fn read_request(conn: &TcpStream) -> Option<Request> {
    conn.set_read_timeout(Some(Duration::from_secs(10))).ok()?;
    let mut reader = BufReader::new(conn);
    let mut line = String::new();
    reader.read_line(&mut line).ok()?;
    let mut parts = line.split_whitespace();
    let (method, target) = (parts.next()?.to_owned(), parts.next()?.to_owned());
    let mut headers = Vec::new();
    loop {
        let mut line = String::new();
        if reader.read_line(&mut line).ok()? == 0 || line.trim().is_empty() {
            break;
        }
        if let Some((name, value)) = line.split_once(':') {
            headers.push((name.trim().to_ascii_lowercase(), value.trim().to_owned()));
        }
    }
    let mut request = Request { method, target, headers, body: Vec::new() };
    let mut body = Vec::new();
    if request.header("transfer-encoding").is_some_and(|t| t.eq_ignore_ascii_case("chunked")) {
        loop {
            let mut size = String::new();
            reader.read_line(&mut size).ok()?;
            let size = u64::from_str_radix(size.trim().split(';').next()?.trim(), 16).ok()?;
            if size == 0 {
                // Trailers, up to the empty line.
                while reader.read_line(&mut String::new()).ok()? > 2 {}
                break;
            }
            keep(reader.by_ref().take(size), &mut body)?;
            reader.read_line(&mut String::new()).ok()?;
        }
    } else {
        let length = request.header("content-length").and_then(|n| n.parse::<u64>().ok()).unwrap_or(0);
        keep(reader.by_ref().take(length), &mut body)?;
    }
    request.body = body;
    Some(request)
}

/// Reads all of `part`, adding to `body` what fits in [`RECORDED_BODY`].
fn keep(mut part: impl io::Read, body: &mut Vec<u8>) -> Option<()> {
    let mut buf = vec![0u8; 64 << 10];
    loop {
        let n = part.read(&mut buf).ok()?;
        if n == 0 {
            return Some(());
        }
        let room = RECORDED_BODY.saturating_sub(body.len()).min(n);
        body.extend_from_slice(&buf[..room]);
    }
}

/// A runtime for a client under test: two workers (the machine has two cores), I/O and
/// timers.
pub fn runtime() -> tokio::runtime::Runtime {
    tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build().unwrap()
}

/// Writes a whole response: `status` (e.g. `200 OK`), `headers`, and `body` with its length
/// and `Connection: close`.
pub fn respond(conn: &mut TcpStream, status: &str, headers: &[(&str, &str)], body: &[u8]) -> io::Result<()> {
    let mut head = format!("HTTP/1.1 {status}\r\nContent-Length: {}\r\nConnection: close\r\n", body.len());
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    conn.write_all(head.as_bytes())?;
    conn.write_all(body)
}

/// Answers `request` the way the server on `upstream` does: sends it on, on a connection of
/// its own closed after the answer, and copies the answer back byte for byte. For stand-ins
/// that watch, hold or rewrite some of the traffic to a real server. A body goes on as the
/// stand-in recorded it, so one larger than it keeps (1 MiB) is refused, never cut short.
pub fn forward(request: &Request, conn: &mut TcpStream, upstream: u16) -> io::Result<()> {
    let whole = match request.header("content-length").and_then(|n| n.parse::<usize>().ok()) {
        Some(length) => length == request.body.len(),
        None => request.body.len() < RECORDED_BODY,
    };
    if !whole {
        return Err(io::Error::other(format!(
            "{} {}: body larger than a stand-in keeps",
            request.method, request.target
        )));
    }
    let mut server = TcpStream::connect(("127.0.0.1", upstream))?;
    let mut head = format!("{} {} HTTP/1.1\r\n", request.method, request.target);
    for (name, value) in &request.headers {
        if !matches!(name.as_str(), "connection" | "keep-alive" | "content-length" | "transfer-encoding") {
            head.push_str(&format!("{name}: {value}\r\n"));
        }
    }
    head.push_str(&format!("Content-Length: {}\r\nConnection: close\r\n\r\n", request.body.len()));
    server.write_all(head.as_bytes())?;
    server.write_all(&request.body)?;
    io::copy(&mut server, conn)?;
    Ok(())
}

/// Answers `status` with a body of up to `len` bytes of `byte` and no announced length (it
/// ends when the connection does), written until the client hangs up. Returns how many body
/// bytes the client took.
pub fn stream_body(conn: &mut TcpStream, status: &str, byte: u8, len: u64) -> u64 {
    if conn.write_all(format!("HTTP/1.1 {status}\r\nConnection: close\r\n\r\n").as_bytes()).is_err() {
        return 0;
    }
    let chunk = [byte; 64 << 10];
    let mut written = 0u64;
    while written < len {
        let n = usize::try_from(len - written).map_or(chunk.len(), |left| left.min(chunk.len()));
        match conn.write(&chunk[..n]) {
            Ok(0) | Err(_) => break,
            Ok(n) => written += n as u64,
        }
    }
    written
}
