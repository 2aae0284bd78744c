//! An opened object store: what is done with its objects. Everything streams: an upload never
//! holds a whole file in memory, a download holds what its reader has not taken yet.

use std::fmt;
use std::ops::Range;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt as _, TryStreamExt as _};
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectMeta, ObjectStore, WriteMultipart};
use tokio::io::AsyncReadExt as _;

use crate::error::{ObjStoreError, Result};

/// An object's size and version, as a lookup found it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectVersion {
    /// Its size in bytes.
    pub size: u64,
    /// Its ETag, when the store gives one.
    pub e_tag: Option<String>,
}

/// A stream of a stored object's bytes.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// Bytes per read of a local file being uploaded.
const CHUNK: usize = 256 << 10;
/// Most objects one listing takes: a folder of bundles holds a few per release, and a listing
/// of millions (each page a request, every key in memory) is refused rather than waited for.
pub const MAX_LISTED: usize = 10_000;
/// Part size of multipart uploads, unless the file needs larger ones ([`part_size`]).
const PART: usize = 16 << 20;
/// Most parts one multipart upload may have: S3's limit (Azure takes 50,000 blocks).
const MAX_UPLOAD_PARTS: u64 = 10_000;

/// The part size for a file of `len` bytes: [`PART`], or in whole MiB the least that keeps it
/// within [`MAX_UPLOAD_PARTS`] parts. With 16 MiB parts alone, an archive over 156 GiB failed
/// at its 10,001st part, after hours of upload.
fn part_size(len: u64) -> usize {
    let needed = len.div_ceil(MAX_UPLOAD_PARTS).next_multiple_of(1 << 20);
    usize::try_from(needed).unwrap_or(usize::MAX).max(PART)
}

/// An S3 bucket or Azure Blob container, every key under the prefix its URL names, reached
/// only as [`ObjectStoreConfig::open`](crate::ObjectStoreConfig::open) set it up. Cheap to
/// clone: clones share one client.
#[derive(Clone)]
pub struct ObjectStorage {
    /// The store, its keys under the configured prefix.
    store: Arc<dyn ObjectStore>,
    /// The store's URL (`s3://BUCKET[/PREFIX]`, `az://CONTAINER[/PREFIX]`), no `/` at its
    /// end: errors name an object by its address, this and its key.
    url: String,
}

/// The URL only: the client's own `Debug` could show the credential it holds.
impl fmt::Debug for ObjectStorage {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.debug_struct("ObjectStorage").field("url", &self.url).finish_non_exhaustive()
    }
}

impl ObjectStorage {
    /// `store`, named by `url` in errors.
    pub(crate) fn new(store: Arc<dyn ObjectStore>, url: &str) -> ObjectStorage {
        ObjectStorage { store, url: url.trim_end_matches('/').to_owned() }
    }

    /// The store's URL, as configured (without a `/` at its end).
    pub fn url(&self) -> &str {
        &self.url
    }

    /// Where `key` is, as errors name it: the store's URL and the key.
    fn address(&self, key: &str) -> String {
        format!("{}/{key}", self.url)
    }

    /// Stores the file at `local` under `key`, streaming, in parts of 16 MiB (larger for a file
    /// over 156 GiB: [`part_size`]), at most two in flight; a reader never sees a partial object (S3: a multipart upload completes
    /// atomically; Azure: blocks stay uncommitted, unseen, until the block list commits
    /// them). A failed upload is aborted, so its parts are not left in the bucket.
    pub async fn put_file(&self, key: &str, local: &Path) -> Result<()> {
        let address = self.address(key);
        let len = tokio::fs::metadata(local).await.map_err(ObjStoreError::io("reading", local))?.len();
        let upload = self.store.put_multipart(&ObjectPath::from(key)).await.map_err(|source| {
            ObjStoreError::Operation { action: format!("starting the upload of {address}"), source }
        })?;
        let mut writer = WriteMultipart::new_with_chunk_size(upload, part_size(len));
        match upload_file(&mut writer, &address, local).await {
            Ok(()) => {
                writer.finish().await.map_err(|source| ObjStoreError::Operation {
                    action: format!("completing the upload of {address}"),
                    source,
                })?;
                Ok(())
            }
            Err(e) => {
                // The parts sent so far would stay in the bucket, unseen but paid for.
                if let Err(abort) = writer.abort().await {
                    tracing::warn!(object = %address, error = %abort, "aborting a failed upload");
                }
                Err(e)
            }
        }
    }

    /// Deletes `key`; nothing to do when it is absent.
    pub async fn delete(&self, key: &str) -> Result<()> {
        match self.store.delete(&ObjectPath::from(key)).await {
            Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
            Err(e) => Err(ObjStoreError::operation(format!("deleting {}", self.address(key)))(e)),
        }
    }

    /// The bytes of `key` in `range` (all of it when `None`), as they arrive: one ranged GET.
    pub async fn get(&self, key: &str, range: Option<Range<u64>>) -> Result<ByteStream> {
        let options = GetOptions { range: range.map(GetRange::Bounded), ..GetOptions::default() };
        let result = self
            .store
            .get_opts(&ObjectPath::from(key), options)
            .await
            .map_err(ObjStoreError::operation(format!("reading {}", self.address(key))))?;
        Ok(result.into_stream().map_err(std::io::Error::other).boxed())
    }

    /// The size and version (ETag) of `key`, `None` when it is absent.
    pub async fn stat(&self, key: &str) -> Result<Option<ObjectVersion>> {
        match self.store.head(&ObjectPath::from(key)).await {
            Ok(meta) => Ok(Some(ObjectVersion { size: meta.size, e_tag: meta.e_tag })),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(ObjStoreError::operation(format!("looking up {}", self.address(key)))(e)),
        }
    }

    /// The bytes of `key` in `range`, whole, from the version `version` only: a ranged GET
    /// with `If-Match` (when the store gave an ETag), so that an object replaced between two
    /// reads fails rather than mixing versions.
    pub async fn read_range(&self, key: &str, range: Range<u64>, version: &ObjectVersion) -> Result<Bytes> {
        let options = GetOptions {
            range: Some(GetRange::Bounded(range.clone())),
            if_match: version.e_tag.clone(),
            ..GetOptions::default()
        };
        let action = || format!("reading bytes {}..{} of {}", range.start, range.end, self.address(key));
        let result =
            self.store.get_opts(&ObjectPath::from(key), options).await.map_err(ObjStoreError::operation(action()))?;
        let bytes = result.bytes().await.map_err(ObjStoreError::operation(action()))?;
        if bytes.len() as u64 != range.end - range.start {
            return Err(ObjStoreError::Operation {
                action: action(),
                source: object_store::Error::Generic {
                    store: "S3",
                    source: format!("{} bytes came back", bytes.len()).into(),
                },
            });
        }
        Ok(bytes)
    }

    /// The size of `key` in bytes, `None` when it is absent.
    pub async fn head(&self, key: &str) -> Result<Option<u64>> {
        match self.store.head(&ObjectPath::from(key)).await {
            Ok(meta) => Ok(Some(meta.size)),
            Err(object_store::Error::NotFound { .. }) => Ok(None),
            Err(e) => Err(ObjStoreError::operation(format!("looking up {}", self.address(key)))(e)),
        }
    }

    /// Every object under `prefix` (whole path segments: `a/b` lists `a/b/c`, not `a/bc`; an
    /// empty prefix lists them all) as its key and its size, in key order.
    pub async fn list(&self, prefix: &str) -> Result<Vec<(String, u64)>> {
        let listed = self.list_versions(prefix).await?;
        Ok(listed.into_iter().map(|(key, version)| (key, version.size)).collect())
    }

    /// [`list`](Self::list) with each object's version, its size and ETag as the listing gives
    /// them: one request a page of keys where a lookup of each would be one request an object
    /// (the console's landing bucket, listed at every look at its Bundles tab).
    pub async fn list_versions(&self, prefix: &str) -> Result<Vec<(String, ObjectVersion)>> {
        let prefix = prefix.trim_matches('/');
        let under = (!prefix.is_empty()).then(|| ObjectPath::from(prefix));
        let listed = match &under {
            Some(_) => format!("listing {}/", self.address(prefix)),
            None => format!("listing {}/", self.url),
        };
        let found: Vec<ObjectMeta> = self
            .store
            .list(under.as_ref())
            .take(MAX_LISTED + 1)
            .try_collect()
            .await
            .map_err(ObjStoreError::operation(listed.clone()))?;
        if found.len() > MAX_LISTED {
            return Err(ObjStoreError::TooManyObjects { listing: listed, most: MAX_LISTED });
        }
        let mut objects: Vec<(String, ObjectVersion)> = found
            .into_iter()
            .map(|meta| (meta.location.as_ref().to_owned(), ObjectVersion { size: meta.size, e_tag: meta.e_tag }))
            .collect();
        objects.sort_unstable_by(|a, b| a.0.cmp(&b.0));
        Ok(objects)
    }
}

/// Sends the file at `local` into `writer`, read a chunk at a time on the blocking pool
/// (tokio's file), at most two parts in flight. `address` names the object in errors.
async fn upload_file(writer: &mut WriteMultipart, address: &str, local: &Path) -> Result<()> {
    let mut file = tokio::fs::File::open(local).await.map_err(ObjStoreError::io("reading", local))?;
    let mut buf = vec![0; CHUNK];
    loop {
        let n = file.read(&mut buf).await.map_err(ObjStoreError::io("reading", local))?;
        if n == 0 {
            return Ok(());
        }
        // The action is formatted only on a failure: this runs once a chunk.
        writer
            .wait_for_capacity(2)
            .await
            .map_err(|source| ObjStoreError::Operation { action: format!("uploading {address}"), source })?;
        writer.write(&buf[..n]);
    }
}

#[cfg(test)]
mod tests {
    use object_store::memory::InMemory;
    use object_store::prefix::PrefixStore;

    use super::*;

    /// Parts stay 16 MiB up to 10,000 of them (156.25 GiB), then grow by whole MiB just enough
    /// that no file needs more than 10,000.
    #[test]
    fn a_file_of_any_size_goes_up_in_at_most_ten_thousand_parts() {
        const MIB: u64 = 1 << 20;
        assert_eq!(part_size(0), PART);
        assert_eq!(part_size(10_000 * 16 * MIB), PART);
        assert_eq!(part_size(10_000 * 16 * MIB + 1), 17 << 20);
        assert_eq!(part_size(200 << 30), 21 << 20);
        for len in [1, 16 * MIB, 156 << 30, 10_000 * 16 * MIB + 1, 200 << 30, 5 << 40] {
            let part = part_size(len) as u64;
            assert!(len.div_ceil(part) <= MAX_UPLOAD_PARTS, "{len} bytes in parts of {part}");
            assert_eq!(part % MIB, 0, "{len}");
        }
    }

    /// A store under the prefix `vendor`, in memory.
    fn storage() -> ObjectStorage {
        ObjectStorage::new(Arc::new(PrefixStore::new(InMemory::new(), "vendor")), "s3://bucket/vendor/")
    }

    async fn read(storage: &ObjectStorage, key: &str, range: Option<Range<u64>>) -> Vec<u8> {
        let chunks: Vec<Bytes> = storage.get(key, range).await.unwrap().try_collect().await.unwrap();
        chunks.concat()
    }

    /// A folder of more objects than a listing takes is refused, saying so, not listed whole.
    #[tokio::test]
    async fn a_listing_of_more_objects_than_it_takes_is_refused() {
        let store = Arc::new(InMemory::new());
        for i in 0..=MAX_LISTED {
            store.put(&ObjectPath::from(format!("landing/{i:05}")), Bytes::from_static(b"x").into()).await.unwrap();
        }
        let storage = ObjectStorage::new(store.clone(), "s3://bucket/");
        let e = storage.list_versions("landing").await.unwrap_err();
        assert!(matches!(e, ObjStoreError::TooManyObjects { most: MAX_LISTED, .. }), "{e}");
        store.delete(&ObjectPath::from("landing/00000")).await.unwrap();
        assert_eq!(storage.list_versions("landing").await.unwrap().len(), MAX_LISTED);
    }

    /// A file goes up as a multipart upload and comes back whole or by range; its size and the listing
    /// under a prefix (keys relative to the store's own prefix, whole segments) agree; a
    /// deleted or never stored object is absent, and deleting it again is no error.
    #[tokio::test]
    async fn an_object_is_stored_read_by_range_sized_listed_and_deleted() {
        let dir = tempfile::tempdir().unwrap();
        let local = dir.path().join("bundle.tar.zst");
        let bytes: Vec<u8> = (0..(CHUNK * 3 + 17)).map(|i| (i % 251) as u8).collect();
        std::fs::write(&local, &bytes).unwrap();
        let storage = storage();
        assert_eq!(storage.url(), "s3://bucket/vendor");
        storage.put_file("releases/demo/1.0.0/bundle.tar.zst", &local).await.unwrap();
        storage.put_file("releases/demo/1.0.0/bundle.tar.zst.sha256", &local).await.unwrap();
        storage.put_file("releases/demo-extra/1.0.0/notes.txt", &local).await.unwrap();

        let key = "releases/demo/1.0.0/bundle.tar.zst";
        assert_eq!(read(&storage, key, None).await, bytes);
        assert_eq!(read(&storage, key, Some(5..CHUNK as u64 + 9)).await, &bytes[5..CHUNK + 9]);
        assert_eq!(storage.head(key).await.unwrap(), Some(bytes.len() as u64));
        assert_eq!(storage.head("releases/demo/1.0.0/absent").await.unwrap(), None);
        let size = bytes.len() as u64;
        assert_eq!(
            storage.list("releases/demo/").await.unwrap(),
            [(key.to_owned(), size), (format!("{key}.sha256"), size)]
        );
        assert_eq!(storage.list("").await.unwrap().len(), 3);
        // The listing's versions are the lookups'.
        let versions = storage.list_versions("releases/demo/").await.unwrap();
        assert_eq!(versions[0], (key.to_owned(), storage.stat(key).await.unwrap().unwrap()));
        assert!(versions[0].1.e_tag.is_some(), "{versions:?}");

        storage.delete(key).await.unwrap();
        storage.delete(key).await.unwrap();
        assert_eq!(storage.head(key).await.unwrap(), None);
        let e = storage.get(key, None).await.err().unwrap();
        assert_eq!(e.to_string(), "reading s3://bucket/vendor/releases/demo/1.0.0/bundle.tar.zst");
        assert_eq!(genesis_types::Classify::class(&e), genesis_types::ErrorClass::NotFound);
    }

    /// A local file that cannot be read fails the upload, naming the file, and leaves no
    /// object behind.
    #[tokio::test]
    async fn an_upload_of_a_missing_file_fails_naming_it_and_stores_nothing() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.tar.zst");
        let storage = storage();
        let e = storage.put_file("releases/demo/1.0.0/missing.tar.zst", &missing).await.unwrap_err();
        assert!(matches!(&e, ObjStoreError::Io { action: "reading", path, .. } if *path == missing), "{e:?}");
        assert!(storage.list("").await.unwrap().is_empty());
    }

    /// The client's `Debug` (which could show its credential) is never printed.
    #[test]
    fn debug_shows_the_url_only() {
        assert_eq!(format!("{:?}", storage()), "ObjectStorage { url: \"s3://bucket/vendor\", .. }");
    }
}
