//! Uploading blobs from the bytes of the verification pass, so a load reads and
//! decompresses the bundle once instead of twice (verify, then push).
//!
//! [`UploadSink`] is the [`PayloadSink`] of that pass: each blob the registry lacks gets an
//! upload fed with the bytes as they are checked, and its last chunk is sent only once the
//! verifier says the blob matched its signed digest, so a byte that failed its check never
//! completes an upload. Memory stays bounded: bytes queued for the network are leased from
//! a fixed budget, and the pass waits when it is spent.

use std::collections::HashMap;
use std::io::{self, Write};
use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, Condvar, Mutex};

use bytes::Bytes;
use genesis_bundle::PayloadSink;
use genesis_types::{BundlePath, Digest};
use tokio::sync::mpsc::Sender;
use tokio::task::JoinHandle;

use crate::client::PIECE;
use crate::{Registry, Result};

/// A quantity that blocking code waits for (bytes queued, uploads open).
struct Budget {
    free: Mutex<u64>,
    freed: Condvar,
    total: u64,
}

impl Budget {
    fn new(total: u64) -> Arc<Budget> {
        Arc::new(Budget { free: Mutex::new(total), freed: Condvar::new(), total })
    }

    /// Waits until `n` (at most the whole budget) is free and takes it until the lease drops.
    fn lease(self: &Arc<Self>, n: u64) -> Lease {
        let n = n.min(self.total);
        let mut free = self.free.lock().expect("not poisoned");
        while *free < n {
            free = self.freed.wait(free).expect("not poisoned");
        }
        *free -= n;
        Lease { budget: Arc::clone(self), n }
    }
}

struct Lease {
    budget: Arc<Budget>,
    n: u64,
}

impl Drop for Lease {
    fn drop(&mut self) {
        *self.budget.free.lock().expect("not poisoned") += self.n;
        self.budget.freed.notify_all();
    }
}

/// A chunk's bytes with the lease that pays for them: dropped (by the HTTP client, once
/// written to the socket) they give the memory back.
struct Leased {
    bytes: Vec<u8>,
    _lease: Lease,
}

impl AsRef<[u8]> for Leased {
    fn as_ref(&self) -> &[u8] {
        &self.bytes
    }
}

/// One blob to stream: where it goes.
#[derive(Debug, Clone)]
pub(crate) struct Target {
    pub digest: Digest,
    pub size: u64,
    pub repo: String,
    /// The count of the image's bytes in place, for a display.
    pub progress: genesis_bundle::ProgressCounter,
}

/// An upload started by the pass, for the loader to await.
pub(crate) struct Started {
    pub target: Target,
    pub task: JoinHandle<Result<()>>,
}

/// The upload whose bytes are all queued but the last chunk, held until the verdict.
struct Open {
    tx: Sender<io::Result<Bytes>>,
    held: Option<Bytes>,
}

impl Open {
    fn send(&mut self, chunk: Bytes) {
        if let Some(previous) = self.held.replace(chunk) {
            // A closed channel means the upload already failed: its bytes are dropped here
            // and the blob is pushed again after the pass.
            let _ = self.tx.blocking_send(Ok(previous));
        }
    }

    fn complete(mut self) {
        if let Some(last) = self.held.take() {
            let _ = self.tx.blocking_send(Ok(last));
        }
    }

    fn abort(self) {
        let _ = self.tx.blocking_send(Err(io::Error::other("the bytes did not match the signed BOM")));
    }
}

/// The sink of a load's verification pass. Must live on a blocking thread: it waits for
/// memory and upload slots.
pub(crate) struct UploadSink {
    registry: Registry,
    runtime: tokio::runtime::Handle,
    targets: HashMap<String, Target>,
    memory: Arc<Budget>,
    slots: Arc<Budget>,
    open: Option<Open>,
    started: Vec<Started>,
    stop: Arc<AtomicBool>,
}

impl UploadSink {
    /// Streams each blob of `targets` (keyed by its path in the bundle) to its repository,
    /// at most `concurrency` uploads at once and `memory` bytes queued.
    pub fn new(registry: Registry, targets: HashMap<String, Target>, concurrency: usize, memory: u64) -> Self {
        UploadSink {
            registry,
            runtime: tokio::runtime::Handle::current(),
            targets,
            memory: Budget::new(memory.max(PIECE as u64)),
            slots: Budget::new(concurrency.max(1) as u64),
            open: None,
            started: Vec::new(),
            stop: Arc::default(),
        }
    }

    /// The uploads started, once the pass is over (an upload still open is aborted), and
    /// whether the sink stopped the pass because the registry refused one.
    pub fn finish(mut self) -> (Vec<Started>, bool) {
        (std::mem::take(&mut self.started), self.stop.load(Ordering::Relaxed))
    }

    /// Ends the open upload with an error: its blob got no verdict.
    fn abort_open(&mut self) {
        if let Some(open) = self.open.take() {
            open.abort();
        }
    }
}

impl Drop for UploadSink {
    fn drop(&mut self) {
        self.abort_open();
    }
}

impl PayloadSink for UploadSink {
    fn dir(&mut self, _: &str) -> genesis_bundle::Result<()> {
        Ok(())
    }

    fn file(&mut self, path: &BundlePath) -> genesis_bundle::Result<Box<dyn Write + '_>> {
        self.abort_open();
        let Some(target) = self.targets.get(path.as_str()).cloned() else { return Ok(Box::new(io::sink())) };
        let slot = self.slots.lease(1);
        let capacity = (self.memory.total as usize / PIECE) + 2;
        let (tx, rx) = tokio::sync::mpsc::channel(capacity);
        let (registry, stop) = (self.registry.clone(), Arc::clone(&self.stop));
        let t = target.clone();
        let task = self.runtime.spawn(async move {
            let _slot = slot;
            let result = registry.upload_stream(&t.repo, &t.digest, t.size, rx).await;
            if result.as_ref().is_err_and(|e| !e.is_transient()) {
                stop.store(true, Ordering::Relaxed);
            }
            result
        });
        let target_size = target.size;
        self.started.push(Started { target, task });
        self.open = Some(Open { tx, held: None });
        Ok(Box::new(UploadWriter { sink: self, buf: None, left: target_size }))
    }

    fn verified(&mut self, _path: &BundlePath) -> genesis_bundle::Result<()> {
        // Only the file just written can be open: it is the one that matched.
        if let Some(open) = self.open.take() {
            open.complete();
        }
        Ok(())
    }
}

/// Cuts a blob's bytes into leased [`PIECE`]s for its upload, or smaller pieces for what is
/// left of a blob smaller than that: a release of thousands of small blobs leases and
/// allocates what they hold, not a megabyte each.
struct UploadWriter<'a> {
    sink: &'a mut UploadSink,
    /// The piece being filled, its lease, and the length at which it goes.
    buf: Option<(Vec<u8>, Lease, usize)>,
    /// Bytes of the blob not yet written, by its signed size.
    left: u64,
}

impl UploadWriter<'_> {
    fn push(&mut self) {
        if let Some((bytes, lease, _)) = self.buf.take()
            && let Some(open) = self.sink.open.as_mut()
        {
            open.send(Bytes::from_owner(Leased { bytes, _lease: lease }));
        }
    }
}

impl Write for UploadWriter<'_> {
    fn write(&mut self, data: &[u8]) -> io::Result<usize> {
        if self.sink.stop.load(Ordering::Relaxed) {
            return Err(io::Error::other("stopped: the registry refused an upload"));
        }
        let memory = &self.sink.memory;
        // More bytes than the signed size fail the pass; until then they go in whole pieces.
        let len = if self.left == 0 { PIECE } else { PIECE.min(usize::try_from(self.left).unwrap_or(PIECE)) };
        let (buf, _, len) = self.buf.get_or_insert_with(|| (Vec::with_capacity(len), memory.lease(len as u64), len));
        let n = data.len().min(*len - buf.len());
        buf.extend_from_slice(&data[..n]);
        let full = buf.len() == *len;
        self.left = self.left.saturating_sub(n as u64);
        if full {
            self.push();
        }
        Ok(n)
    }

    fn flush(&mut self) -> io::Result<()> {
        Ok(())
    }
}

impl Drop for UploadWriter<'_> {
    fn drop(&mut self) {
        self.push();
    }
}

#[cfg(test)]
mod tests {
    use std::io::{BufRead, BufReader, Read};
    use std::net::TcpListener;
    use std::sync::mpsc;

    use super::*;
    use crate::RegistryOptions;

    /// A registry stand-in on loopback that reports, for each blob PUT, how many body bytes
    /// arrived before the request ended and whether it was complete (real registries also
    /// check the digest, which would hide what the sink itself withholds); with `refuse`,
    /// every upload is refused with a 403.
    fn recording_registry(refuse: bool) -> (u16, mpsc::Receiver<(u64, bool)>) {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let (tx, rx) = mpsc::channel();
        std::thread::spawn(move || {
            for conn in listener.incoming() {
                let (Ok(conn), tx) = (conn, tx.clone()) else { return };
                std::thread::spawn(move || {
                    let mut reader = BufReader::new(conn.try_clone().unwrap());
                    let mut conn = conn;
                    loop {
                        let mut head = Vec::new();
                        let mut line = String::new();
                        while reader.read_line(&mut line).unwrap_or(0) > 2 {
                            head.push(std::mem::take(&mut line));
                        }
                        let Some(request) = head.first() else { return };
                        let length: u64 = head
                            .iter()
                            .find_map(|h| h.to_ascii_lowercase().strip_prefix("content-length:")?.trim().parse().ok())
                            .unwrap_or(0);
                        if request.starts_with("POST") && refuse {
                            let _ = conn.write_all(b"HTTP/1.1 403 Forbidden\r\nContent-Length: 0\r\n\r\n");
                            continue;
                        }
                        if request.starts_with("POST") {
                            let _ = conn.write_all(
                                b"HTTP/1.1 202 Accepted\r\nLocation: /v2/r/blobs/uploads/1?s=1\r\nContent-Length: 0\r\n\r\n",
                            );
                            continue;
                        }
                        let received = io::copy(&mut (&mut reader).take(length), &mut io::sink()).unwrap_or(0);
                        let _ = tx.send((received, received == length));
                        if received < length {
                            return;
                        }
                        let _ = conn.write_all(b"HTTP/1.1 201 Created\r\nContent-Length: 0\r\n\r\n");
                    }
                });
            }
        });
        (port, rx)
    }

    /// Writes `blob` through a sink as the verification pass would, calling `verified` at
    /// the end or not; returns what the registry saw and the upload's result.
    fn stream(blob: &[u8], verdict: bool) -> ((u64, bool), Result<()>) {
        let (port, seen) = recording_registry(false);
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        let options = RegistryOptions { plain_http: true, retries: 1, ..Default::default() };
        let registry = Registry::new(&format!("127.0.0.1:{port}"), &options).unwrap();
        let path: BundlePath = "oci/blobs/sha256/ab".parse().unwrap();
        let target = Target {
            digest: genesis_bundle::sha256(blob),
            size: blob.len() as u64,
            repo: "r".into(),
            progress: Default::default(),
        };
        let blob = blob.to_vec();
        let started = runtime.block_on(async {
            let sink = UploadSink::new(registry, HashMap::from([(path.to_string(), target)]), 2, 4 << 20);
            tokio::task::spawn_blocking(move || {
                let mut sink = sink;
                sink.file(&path).unwrap().write_all(&blob).unwrap();
                if verdict {
                    sink.verified(&path).unwrap();
                }
                sink.finish()
            })
            .await
            .unwrap()
        });
        let result = runtime.block_on(async { started.0.into_iter().next().unwrap().task.await.unwrap() });
        (seen.recv_timeout(std::time::Duration::from_secs(10)).unwrap(), result)
    }

    #[test]
    fn a_verified_blob_is_sent_whole() {
        let blob = vec![7u8; 3 * PIECE + 5];
        let (seen, result) = stream(&blob, true);
        assert_eq!(seen, (blob.len() as u64, true));
        result.unwrap();
    }

    #[test]
    fn a_blob_without_its_verdict_never_completes_its_upload() {
        let blob = vec![7u8; 3 * PIECE + 5];
        let (seen, result) = stream(&blob, false);
        assert!(!seen.1, "the registry received the whole blob");
        assert!(seen.0 < blob.len() as u64);
        assert!(result.is_err());
    }

    #[test]
    fn an_upload_the_registry_refuses_stops_the_pass() {
        let (port, _) = recording_registry(true);
        let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().unwrap();
        let options = RegistryOptions { plain_http: true, retries: 1, ..Default::default() };
        let registry = Registry::new(&format!("127.0.0.1:{port}"), &options).unwrap();
        let path: BundlePath = "oci/blobs/sha256/ab".parse().unwrap();
        let blob = vec![7u8; 64 * PIECE];
        let target = Target {
            digest: genesis_bundle::sha256(&blob),
            size: blob.len() as u64,
            repo: "r".into(),
            progress: Default::default(),
        };
        let (written, stopped, result) = runtime.block_on(async {
            let sink = UploadSink::new(registry, HashMap::from([(path.to_string(), target)]), 2, 4 << 20);
            let (written, (started, stopped)) = tokio::task::spawn_blocking(move || {
                let mut sink = sink;
                let written = sink.file(&path).unwrap().write_all(&blob);
                (written, sink.finish())
            })
            .await
            .unwrap();
            (written, stopped, started.into_iter().next().unwrap().task.await.unwrap())
        });
        assert!(written.unwrap_err().to_string().contains("refused an upload"));
        assert!(stopped);
        let refusal = result.unwrap_err();
        assert!(!refusal.is_transient() && refusal.to_string().contains("403"), "{refusal}");
    }
}
