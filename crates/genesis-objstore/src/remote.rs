//! A bucket folder as the bundle readers see one (`genesis_bundle::RemoteFolder`): objects
//! read by ranged GETs from synchronous code, so that `verify`, `extract` and `load` read an
//! archive straight from a landing bucket and write nothing locally before the verdict.
//!
//! The readers' one sequential pass reads frames in order; a reader that keeps reading where it
//! stopped gets the next windows fetched ahead, [`AHEAD`] at a time, so the bucket's latency
//! overlaps decompression. Any other read is one ranged GET of what it asks. Every GET names
//! the version (ETag) the object had when it was found, so a replaced object fails.

use std::collections::BTreeMap;
use std::io;
use std::ops::Range;
use std::sync::{Arc, Mutex, PoisonError};

use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _};
use genesis_bundle::{RemoteFolder, RemoteObject};
use tokio::runtime::{Handle, Runtime};
use tokio::task::JoinHandle;

use crate::storage::{ObjectStorage, ObjectVersion};

/// Bytes of one read-ahead window.
const WINDOW: u64 = 8 << 20;
/// Windows fetched ahead of a sequential reader: at most 32 MiB in memory per object.
const AHEAD: u64 = 4;
/// Lookups (HEAD) in flight at once when a split bundle's parts are found: each is a round
/// trip, and a bundle may have thousands of parts.
const LOOKUPS_AT_ONCE: usize = 16;

/// The runtime a folder's requests run on, shut down without waiting when the last reader
/// goes: it may go on a thread of another runtime (a `load`), where waiting would panic.
#[derive(Debug)]
struct Reader(Option<Runtime>);

impl Reader {
    fn start() -> io::Result<Reader> {
        Ok(Reader(Some(tokio::runtime::Builder::new_multi_thread().worker_threads(2).enable_all().build()?)))
    }

    fn handle(&self) -> &Handle {
        self.0.as_ref().expect("running until dropped").handle()
    }

    fn spawn<F: Future<Output: Send + 'static> + Send + 'static>(&self, future: F) -> JoinHandle<F::Output> {
        self.handle().spawn(future)
    }
}

impl Drop for Reader {
    fn drop(&mut self) {
        if let Some(runtime) = self.0.take() {
            runtime.shutdown_background();
        }
    }
}

/// The objects under `prefix` of a bucket, for the bundle readers.
#[derive(Debug, Clone)]
pub struct BucketFolder {
    storage: ObjectStorage,
    /// Keys' common prefix, without `/` at either end (empty: the store's root).
    prefix: String,
    runtime: Arc<Reader>,
}

impl BucketFolder {
    /// Opens the store `config` names (its URL: `s3://BUCKET[/PREFIX]`) as a folder, from
    /// synchronous code: the store's client lives on the folder's own runtime.
    pub fn open(config: &crate::ObjectStoreConfig) -> crate::Result<BucketFolder> {
        let runtime =
            Reader::start().map_err(|e| crate::ObjStoreError::Task(format!("starting the bucket reader: {e}")))?;
        let opening = config.clone();
        let storage = run(runtime.handle(), async move { opening.open().await })
            .ok_or_else(|| crate::ObjStoreError::Task("the bucket reader stopped".into()))??;
        Ok(BucketFolder { storage, prefix: String::new(), runtime: Arc::new(runtime) })
    }

    fn key(&self, name: &str) -> String {
        if self.prefix.is_empty() { name.to_owned() } else { format!("{}/{name}", self.prefix) }
    }
}

/// Runs `future` on `handle` and waits for its output from this thread, whatever runs on it
/// (a runtime's worker included, where `block_on` would panic). `None` if the task died.
fn run<T: Send + 'static>(handle: &Handle, future: impl Future<Output = T> + Send + 'static) -> Option<T> {
    let (sent, received) = std::sync::mpsc::sync_channel(1);
    handle.spawn(async move {
        let _ = sent.send(future.await);
    });
    received.recv().ok()
}

/// [`run`] of an object store call, its error an I/O error for the bundle readers.
fn wait<T: Send + 'static>(
    handle: &Handle,
    future: impl Future<Output = crate::Result<T>> + Send + 'static,
) -> io::Result<T> {
    run(handle, future).ok_or_else(|| io::Error::other("the bucket reader stopped"))?.map_err(io::Error::other)
}

impl BucketFolder {
    /// The object `name`, found at `version` (`None`: there is none).
    fn object_at(&self, name: &str, version: Option<ObjectVersion>) -> io::Result<Option<Arc<dyn RemoteObject>>> {
        let Some(version) = version else {
            return Ok(None);
        };
        if version.e_tag.is_none() {
            // Every read names the version it expects (`If-Match`): without an ETag, an object
            // replaced after its verification could be read unnoticed (by `serve`).
            return Err(io::Error::other(format!(
                "{}/{name}: the store gives no ETag, so a replaced object could not be told; use a store that does",
                self.url()
            )));
        }
        Ok(Some(Arc::new(BucketObject {
            storage: self.storage.clone(),
            key: self.key(name),
            version,
            runtime: Arc::clone(&self.runtime),
            ahead: Mutex::new(ReadAhead::default()),
        })))
    }
}

impl RemoteFolder for BucketFolder {
    fn object(&self, name: &str) -> io::Result<Option<Arc<dyn RemoteObject>>> {
        let (storage, key) = (self.storage.clone(), self.key(name));
        let version = wait(self.runtime.handle(), async move { storage.stat(&key).await })?;
        self.object_at(name, version)
    }

    fn objects(&self, names: &[&str]) -> io::Result<Vec<Option<Arc<dyn RemoteObject>>>> {
        let storage = self.storage.clone();
        let keys: Vec<String> = names.iter().map(|name| self.key(name)).collect();
        let versions = wait(self.runtime.handle(), async move {
            futures_util::stream::iter(keys.into_iter().map(|key| {
                let storage = storage.clone();
                async move { storage.stat(&key).await }
            }))
            .buffered(LOOKUPS_AT_ONCE)
            .try_collect::<Vec<_>>()
            .await
        })?;
        names.iter().zip(versions).map(|(name, version)| self.object_at(name, version)).collect()
    }

    fn list(&self, name: &str) -> io::Result<Vec<String>> {
        let folder = self.key(name);
        let storage = self.storage.clone();
        let under = folder.clone();
        let listed = wait(self.runtime.handle(), async move { storage.list(&under).await })?;
        let mut names: Vec<String> = listed
            .into_iter()
            .filter_map(|(key, _)| key.strip_prefix(&format!("{folder}/")).map(str::to_owned))
            .filter(|rest| !rest.contains('/'))
            .collect();
        names.sort();
        Ok(names)
    }

    fn url(&self) -> String {
        if self.prefix.is_empty() {
            self.storage.url().to_owned()
        } else {
            format!("{}/{}", self.storage.url(), self.prefix)
        }
    }
}

/// One object of a [`BucketFolder`].
#[derive(Debug)]
struct BucketObject {
    storage: ObjectStorage,
    key: String,
    version: ObjectVersion,
    runtime: Arc<Reader>,
    ahead: Mutex<ReadAhead>,
}

/// The windows fetched ahead of the sequential reader, by index, and where it stopped.
#[derive(Debug, Default)]
struct ReadAhead {
    /// Where the last read ended: a read starting there is the sequential reader's.
    stopped: u64,
    windows: BTreeMap<u64, JoinHandle<crate::Result<Bytes>>>,
}

impl BucketObject {
    /// Starts the GET of `range` on the runtime.
    fn fetch(&self, range: Range<u64>) -> JoinHandle<crate::Result<Bytes>> {
        let (storage, key, version) = (self.storage.clone(), self.key.clone(), self.version.clone());
        self.runtime.spawn(async move { storage.read_range(&key, range, &version).await })
    }

    fn window(&self, index: u64) -> Range<u64> {
        let start = index.saturating_mul(WINDOW).min(self.version.size);
        start..index.saturating_add(1).saturating_mul(WINDOW).min(self.version.size)
    }

    /// The bytes of window `index`, fetched ahead or now; the next windows are started.
    fn window_bytes(&self, ahead: &mut ReadAhead, index: u64) -> io::Result<Bytes> {
        let last = self.version.size.div_ceil(WINDOW);
        for next in index..(index + AHEAD).min(last) {
            ahead.windows.entry(next).or_insert_with(|| self.fetch(self.window(next)));
        }
        // Windows behind the reader are not read again, and those ahead of it beyond the read-
        // ahead (left by a reader that went back) are not kept either: 32 MiB at most.
        ahead.windows.retain(|&i, fetch| {
            let keep = i >= index && i < index.saturating_add(AHEAD);
            if !keep {
                fetch.abort();
            }
            keep
        });
        let fetch = ahead.windows.remove(&index).expect("started above");
        let handle = self.runtime.handle().clone();
        wait(&handle, async move { fetch.await.map_err(|e| crate::ObjStoreError::Task(e.to_string()))? })
    }
}

impl RemoteObject for BucketObject {
    fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        let end = offset.checked_add(buf.len() as u64).filter(|&end| end <= self.version.size);
        let Some(end) = end else {
            return Err(io::Error::new(io::ErrorKind::UnexpectedEof, format!("read past the end of {}", self.key)));
        };
        let mut ahead = self.ahead.lock().unwrap_or_else(PoisonError::into_inner);
        if offset != ahead.stopped {
            // Not the sequential reader (yet): one GET of what is asked; a reader that goes
            // on from here is.
            ahead.stopped = end;
            drop(ahead);
            let (storage, key, version) = (self.storage.clone(), self.key.clone(), self.version.clone());
            let bytes =
                wait(self.runtime.handle(), async move { storage.read_range(&key, offset..end, &version).await })?;
            buf.copy_from_slice(&bytes);
            return Ok(());
        }
        while !buf.is_empty() {
            let index = offset / WINDOW;
            let window = self.window_bytes(&mut ahead, index)?;
            let within = (offset - index * WINDOW) as usize;
            let n = buf.len().min(window.len() - within);
            buf[..n].copy_from_slice(&window[within..within + n]);
            buf = &mut buf[n..];
            offset += n as u64;
            if within + n < window.len() {
                // The reader stops inside this window: keep it for the next read.
                let rest = window.slice(..);
                let handle = self.runtime.spawn(async move { Ok(rest) });
                ahead.windows.insert(index, handle);
            }
        }
        ahead.stopped = end;
        Ok(())
    }

    fn len(&self) -> u64 {
        self.version.size
    }

    fn identity(&self) -> Vec<u8> {
        let mut identity = self.version.size.to_le_bytes().to_vec();
        identity.extend_from_slice(self.version.e_tag.as_deref().unwrap_or_default().as_bytes());
        identity
    }
}
