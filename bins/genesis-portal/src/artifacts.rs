//! Where artifact bytes live: a directory (the default, in the data directory) or any
//! S3-compatible object store. Both stream: an upload never holds a whole file in memory,
//! and a download holds at most a few chunks per client however large the file.

use std::io::{Read as _, Seek as _, SeekFrom};
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt as _, TryStreamExt as _};
use object_store::aws::AmazonS3Builder;
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, WriteMultipart};

/// A stream of a stored object's bytes.
pub type ByteStream = BoxStream<'static, std::io::Result<Bytes>>;

/// Bytes per read of a stored file and per item of a download stream.
const CHUNK: usize = 256 << 10;
/// Chunks buffered ahead of a slow client, per download: with [`CHUNK`] this bounds a
/// download's memory to about 1 MiB.
const CHUNKS_AHEAD: usize = 4;
/// Part size of multipart uploads to an object store.
const PART: usize = 16 << 20;

/// The artifact store.
#[derive(Clone)]
pub enum Artifacts {
    /// Files under a directory, keyed by relative path.
    Dir(PathBuf),
    /// An object store (S3 or compatible).
    Object(Arc<dyn ObjectStore>),
}

/// How to reach an S3-compatible store, from the command line and the standard `AWS_*`
/// environment (credentials, region).
#[derive(Debug, Clone, clap::Args)]
pub struct ObjectStoreArgs {
    /// Keep artifacts in an S3-compatible bucket (`s3://BUCKET`) instead of DATA_DIR/artifacts.
    /// Credentials and region come from the standard AWS_* environment variables.
    #[arg(long, value_name = "s3://BUCKET", env = "GENESIS_PORTAL_OBJECT_STORE", global = true)]
    pub object_store: Option<String>,
    /// The S3 endpoint (for MinIO, Ceph, moto and other S3-compatible servers).
    #[arg(long, value_name = "URL", env = "GENESIS_PORTAL_S3_ENDPOINT", global = true)]
    pub s3_endpoint: Option<String>,
}

impl Artifacts {
    /// The store the arguments name: the bucket when given, else `data_dir/artifacts`.
    pub fn open(args: &ObjectStoreArgs, data_dir: &Path) -> anyhow::Result<Artifacts> {
        let Some(url) = &args.object_store else {
            let dir = data_dir.join("artifacts");
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            return Ok(Artifacts::Dir(dir));
        };
        let bucket = url
            .strip_prefix("s3://")
            .filter(|b| !b.is_empty() && !b.contains('/'))
            .with_context(|| format!("--object-store `{url}`: expected s3://BUCKET"))?;
        let mut builder = AmazonS3Builder::from_env().with_bucket_name(bucket);
        if let Some(endpoint) = &args.s3_endpoint {
            builder = builder.with_endpoint(endpoint).with_allow_http(endpoint.starts_with("http://"));
        }
        if std::env::var_os("AWS_REGION").is_none() && std::env::var_os("AWS_DEFAULT_REGION").is_none() {
            builder = builder.with_region("us-east-1");
        }
        Ok(Artifacts::Object(Arc::new(builder.build().context("configuring the S3 object store")?)))
    }

    /// Where a release's artifact lives.
    pub fn release_key(product: &str, version: &str, name: &str) -> String {
        format!("releases/{product}/{version}/{name}")
    }

    /// Where an export's pack lives.
    pub fn export_key(org: &str, id: &str) -> String {
        format!("exports/{org}/{id}/{}", genesis_portal::protocol::BOOTSTRAP_PACK)
    }

    /// Stores the file at `local` under `key`, streaming; a reader never sees a partial
    /// object (directory: written beside, then renamed; S3: a multipart upload completes
    /// atomically).
    pub async fn put_file(&self, key: &str, local: &Path) -> anyhow::Result<()> {
        match self {
            Artifacts::Dir(dir) => {
                let target = dir.join(key);
                let parent = target.parent().context("an artifact key has a parent")?.to_owned();
                let local = local.to_owned();
                tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                    std::fs::create_dir_all(&parent)?;
                    let staging = tempfile::NamedTempFile::new_in(&parent)?;
                    std::fs::copy(&local, staging.path())
                        .with_context(|| format!("copying {} into the store", local.display()))?;
                    staging.as_file().sync_all()?;
                    staging.persist(&target)?;
                    Ok(())
                })
                .await?
            }
            Artifacts::Object(store) => {
                let upload = store
                    .put_multipart(&ObjectPath::from(key))
                    .await
                    .with_context(|| format!("starting the upload of {key}"))?;
                let mut writer = WriteMultipart::new_with_chunk_size(upload, PART);
                let mut file = std::fs::File::open(local).with_context(|| format!("reading {}", local.display()))?;
                let mut buf = vec![0; PART];
                loop {
                    let n = file.read(&mut buf)?;
                    if n == 0 {
                        break;
                    }
                    writer.wait_for_capacity(2).await.with_context(|| format!("uploading {key}"))?;
                    writer.write(&buf[..n]);
                }
                writer.finish().await.with_context(|| format!("completing the upload of {key}"))?;
                Ok(())
            }
        }
    }

    /// The bytes of `key` in `range` (all of it when `None`).
    pub async fn get(&self, key: &str, range: Option<Range<u64>>) -> anyhow::Result<ByteStream> {
        match self {
            Artifacts::Dir(dir) => {
                let path = dir.join(key);
                let mut file = std::fs::File::open(&path).with_context(|| format!("opening {}", path.display()))?;
                let len = file.metadata()?.len();
                let range = range.unwrap_or(0..len);
                file.seek(SeekFrom::Start(range.start))?;
                Ok(read_in_chunks(file, range.end - range.start))
            }
            Artifacts::Object(store) => {
                let options = GetOptions { range: range.map(GetRange::Bounded), ..GetOptions::default() };
                let result =
                    store.get_opts(&ObjectPath::from(key), options).await.with_context(|| format!("reading {key}"))?;
                Ok(result.into_stream().map_err(std::io::Error::other).boxed())
            }
        }
    }

    /// A local file with the bytes of `key`: the stored file itself for a directory store,
    /// else a download into `scratch`.
    pub async fn local_copy(&self, key: &str, scratch: &Path) -> anyhow::Result<PathBuf> {
        if let Artifacts::Dir(dir) = self {
            return Ok(dir.join(key));
        }
        let name = key.rsplit('/').next().unwrap_or(key);
        let target = scratch.join(name);
        let mut out = tokio::fs::File::create(&target).await?;
        let mut stream = self.get(key, None).await?;
        while let Some(chunk) = stream.next().await {
            tokio::io::AsyncWriteExt::write_all(&mut out, &chunk?).await?;
        }
        tokio::io::AsyncWriteExt::flush(&mut out).await?;
        Ok(target)
    }
}

/// Streams `len` bytes of `file` from its current position, read on a blocking thread a
/// chunk at a time and handed over through a small bounded channel (backpressure: a slow
/// client pauses the reader, it does not grow a buffer).
fn read_in_chunks(mut file: std::fs::File, len: u64) -> ByteStream {
    let (sender, receiver) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(CHUNKS_AHEAD);
    tokio::task::spawn_blocking(move || {
        let mut left = len;
        while left > 0 {
            let mut buf = vec![0; CHUNK.min(usize::try_from(left).unwrap_or(CHUNK))];
            let item = match file.read(&mut buf) {
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
            if sender.blocking_send(item).is_err() || failed {
                return; // the client went away, or the read failed and was reported
            }
        }
    });
    futures_util::stream::unfold(receiver, |mut r| async move { r.recv().await.map(|item| (item, r)) }).boxed()
}
