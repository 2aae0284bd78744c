//! Where artifact bytes live: a directory (the default, in the data directory), any
//! S3-compatible object store, or Azure Blob Storage. All stream: an upload never holds a
//! whole file in memory, and a download holds at most a few chunks per client however large
//! the file. The two object stores are one code path ([`Artifacts::Object`], a
//! [`genesis_objstore::ObjectStorage`]); only how the client is built differs.

use std::io::SeekFrom;
use std::ops::Range;
use std::path::{Path, PathBuf};

use bytes::Bytes;
use futures_util::StreamExt as _;
use genesis_bundle::scratch::{AtomicFile, Durability, Mode};
use genesis_objstore::{ByteStream, ObjectStorage, ObjectStoreConfig};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _, AsyncWriteExt as _};

use crate::error::{PortalServerError, Result};

/// Bytes per read of a stored file and per item of a download stream.
const CHUNK: usize = 256 << 10;
/// Chunks buffered ahead of a slow client, per download: with [`CHUNK`] this bounds a
/// download's memory to about 1 MiB.
const CHUNKS_AHEAD: usize = 4;

/// The artifact store.
#[derive(Clone)]
pub enum Artifacts {
    /// Files under a directory, keyed by relative path.
    Dir(PathBuf),
    /// An object store (S3 or compatible, Azure Blob), its keys under the configured prefix.
    Object(ObjectStorage),
}

impl Artifacts {
    /// The store `object_store` names, else `data_dir/artifacts`.
    pub async fn open(object_store: Option<&ObjectStoreConfig>, data_dir: &Path) -> Result<Artifacts> {
        match object_store {
            Some(config) => Ok(Artifacts::Object(config.open().await?)),
            None => {
                let dir = data_dir.join("artifacts");
                std::fs::create_dir_all(&dir).map_err(PortalServerError::io("creating", &dir))?;
                Ok(Artifacts::Dir(dir))
            }
        }
    }

    /// Where a release's artifact lives.
    pub fn release_key(product: &str, version: &str, name: &str) -> String {
        format!("releases/{product}/{version}/{name}")
    }

    /// Where an export's pack lives.
    pub fn export_key(org: &str, id: &str) -> String {
        format!("exports/{org}/{id}/{}", genesis_portal_client::protocol::BOOTSTRAP_PACK)
    }

    /// Stores the file at `local` under `key`, streaming; a reader never sees a partial
    /// object (directory: written beside, then renamed; S3: a multipart upload completes
    /// atomically; Azure: blocks stay uncommitted, unseen, until the block list commits them).
    pub async fn put_file(&self, key: &str, local: &Path) -> Result<()> {
        match self {
            Artifacts::Dir(dir) => {
                let (target, local) = (dir_path(dir, key)?, local.to_owned());
                tokio::task::spawn_blocking(move || copy_into(&local, &target))
                    .await
                    .map_err(|source| PortalServerError::Panicked { action: "copying a file into the store", source })?
            }
            Artifacts::Object(store) => Ok(store.put_file(key, local).await?),
        }
    }

    /// Deletes `key`; nothing to do when it is absent.
    pub async fn delete(&self, key: &str) -> Result<()> {
        match self {
            Artifacts::Dir(dir) => {
                let path = dir_path(dir, key)?;
                match tokio::fs::remove_file(&path).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                    Err(e) => return Err(PortalServerError::io("deleting", &path)(e)),
                }
                // Its directory, when that is now empty (an export's holds its pack only).
                if let Some(parent) = path.parent() {
                    let _ = tokio::fs::remove_dir(parent).await;
                }
                Ok(())
            }
            Artifacts::Object(store) => Ok(store.delete(key).await?),
        }
    }

    /// The bytes of `key` in `range` (all of it when `None`).
    pub async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<ByteStream> {
        match self {
            Artifacts::Dir(dir) => {
                let path = dir_path(dir, key)?;
                let mut file = tokio::fs::File::open(&path).await.map_err(PortalServerError::io("opening", &path))?;
                let len = file.metadata().await.map_err(PortalServerError::io("reading", &path))?.len();
                let range = range.unwrap_or(0..len);
                file.seek(SeekFrom::Start(range.start)).await.map_err(PortalServerError::io("reading", &path))?;
                Ok(read_in_chunks(file, range.end - range.start))
            }
            Artifacts::Object(store) => Ok(store.get(key, range).await?),
        }
    }

    /// A local file with the bytes of `key`: the stored file itself for a directory store,
    /// else a download into `scratch`.
    pub async fn local_copy(&self, key: &str, scratch: &Path) -> Result<PathBuf> {
        if let Artifacts::Dir(dir) = self {
            return dir_path(dir, key);
        }
        let name = key.rsplit('/').next().unwrap_or(key);
        let target = scratch.join(name);
        let mut out = tokio::fs::File::create(&target).await.map_err(PortalServerError::io("creating", &target))?;
        let mut stream = self.get(key, None).await?;
        while let Some(chunk) = stream.next().await {
            // The stream's error carries the object store's.
            let chunk = chunk.map_err(PortalServerError::io("downloading to", &target))?;
            out.write_all(&chunk).await.map_err(PortalServerError::io("writing", &target))?;
        }
        out.flush().await.map_err(PortalServerError::io("writing", &target))?;
        Ok(target)
    }
}

/// The file of `key` in the directory store `dir`. A key with an empty, `.` or `..` component
/// (an absolute one starts with an empty component) is refused: it could name a file outside
/// the place of its release or export, or outside `dir`. The names that make keys are checked
/// before (products, versions, artifact names, export ids); this is the store's own check
/// behind them. Object stores need none: their keys are names, not paths, and `object_store`
/// encodes `.` and `..` components.
fn dir_path(dir: &Path, key: &str) -> Result<PathBuf> {
    if key.split('/').any(|component| matches!(component, "" | "." | "..")) {
        return Err(PortalServerError::UnsafeStoreKey { key: key.to_owned() });
    }
    Ok(dir.join(key))
}

/// Copies the file at `local` to `target` in the directory store: written beside under a
/// scratch name, then renamed into place, so a reader never sees part of it.
fn copy_into(local: &Path, target: &Path) -> Result<()> {
    // A key names a file under the store's directory: it always has a parent.
    if let Some(parent) = target.parent() {
        std::fs::create_dir_all(parent).map_err(PortalServerError::io("creating", parent))?;
    }
    let mut staging = AtomicFile::create(target, Mode::OfTarget).map_err(PortalServerError::io("creating", target))?;
    let copying = |source| PortalServerError::CopyIntoStore { local: local.to_owned(), source };
    let mut source = std::fs::File::open(local).map_err(copying)?;
    std::io::copy(&mut source, staging.as_file_mut()).map_err(copying)?;
    staging.commit(Durability::Synced).map_err(PortalServerError::io("writing", target))
}

/// Streams `len` bytes of `file` from its current position, a chunk at a time through a
/// small bounded channel (backpressure: a slow client pauses the reader, it does not grow a
/// buffer). tokio's file does each read on the blocking pool and returns, so a client that
/// stops reading holds an async task, never a blocking thread every other request needs.
fn read_in_chunks(mut file: tokio::fs::File, len: u64) -> ByteStream {
    let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(CHUNKS_AHEAD);
    tokio::spawn(async move {
        let mut left = len;
        while left > 0 {
            let mut buf = vec![0; CHUNK.min(usize::try_from(left).unwrap_or(CHUNK))];
            let item = match file.read(&mut buf).await {
                Ok(0) => Err(std::io::Error::new(
                    std::io::ErrorKind::UnexpectedEof,
                    "the stored file is shorter than recorded",
                )),
                Ok(n) => {
                    buf.truncate(n);
                    left -= n as u64;
                    Ok(Bytes::from(buf))
                }
                Err(e) => Err(e),
            };
            let failed = item.is_err();
            if sender.send(item).await.is_err() || failed {
                return; // the client went away, or the read failed and was reported
            }
        }
    });
    futures_util::stream::unfold(receiver, |mut r| async move { r.recv().await.map(|item| (item, r)) }).boxed()
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The directory store refuses a key that could name a file outside its release's place
    /// or outside the store, for every operation, and touches nothing; a plain key works.
    #[tokio::test]
    async fn the_directory_store_refuses_a_key_with_an_empty_dot_or_dot_dot_component() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path().join("artifacts");
        let store = Artifacts::open(None, dir.path()).await.unwrap();
        let local = dir.path().join("local.txt");
        std::fs::write(&local, b"bytes").unwrap();
        let outside = dir.path().join("outside.txt");
        std::fs::write(&outside, b"kept").unwrap();
        for key in [
            "releases/../../outside.txt",
            "releases/../x/1.0/a",
            "releases/./x/1.0/a",
            "releases//1.0/a",
            "releases/x/1.0/",
            "/outside.txt",
            "..",
            "",
        ] {
            let refused = |e: PortalServerError| matches!(&e, PortalServerError::UnsafeStoreKey { key: k } if k == key);
            assert!(refused(store.put_file(key, &local).await.unwrap_err()), "put {key:?}");
            assert!(refused(store.get(key, None).await.err().unwrap()), "get {key:?}");
            assert!(refused(store.delete(key).await.unwrap_err()), "delete {key:?}");
            assert!(refused(store.local_copy(key, dir.path()).await.unwrap_err()), "local copy {key:?}");
        }
        assert_eq!(std::fs::read(&outside).unwrap(), b"kept");
        assert_eq!(std::fs::read_dir(&root).unwrap().count(), 0, "nothing was stored");
        let key = Artifacts::release_key("genesis", "1.0.0", "notes.txt");
        store.put_file(&key, &local).await.unwrap();
        assert_eq!(store.local_copy(&key, dir.path()).await.unwrap(), root.join(&key));
        store.delete(&key).await.unwrap();
    }
}
