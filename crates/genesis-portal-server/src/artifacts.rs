//! Where artifact bytes live: a directory (the default, in the data directory) or any
//! S3-compatible object store. Both stream: an upload never holds a whole file in memory,
//! and a download holds at most a few chunks per client however large the file.

use std::io::SeekFrom;
use std::ops::Range;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::time::Duration;

use anyhow::Context as _;
use bytes::Bytes;
use futures_util::stream::BoxStream;
use futures_util::{StreamExt as _, TryStreamExt as _};
use genesis_bundle::scratch::{AtomicFile, Durability, Mode};
use object_store::aws::AmazonS3Builder;
use object_store::client::{ClientOptions, HttpClient, HttpConnector};
use object_store::path::Path as ObjectPath;
use object_store::{GetOptions, GetRange, ObjectStore, WriteMultipart};
use tokio::io::{AsyncReadExt as _, AsyncSeekExt as _};

use crate::config::ConfigError;

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

/// The variable holding the S3 secret access key (never a flag: command lines are visible
/// to every local user).
const SECRET_ACCESS_KEY: &str = "GENESIS_PORTAL_S3_SECRET_ACCESS_KEY";
/// The variable holding an optional S3 session token.
const SESSION_TOKEN: &str = "GENESIS_PORTAL_S3_SESSION_TOKEN";

/// An S3-compatible bucket to keep artifacts in, reached with only what is given here (and
/// the secrets in `GENESIS_PORTAL_S3_*` variables). Nothing comes from `AWS_*` variables,
/// instance metadata, container or web-identity credentials, or proxy variables: the portal
/// contacts the one endpoint it announces, with the credentials it was given.
#[derive(Debug, Clone)]
pub struct S3Config {
    /// The bucket, as `s3://BUCKET`.
    pub url: String,
    /// The S3 endpoint (MinIO, Ceph, moto, …); AWS's `https://s3.REGION.amazonaws.com` when
    /// `None`.
    pub endpoint: Option<String>,
    /// The bucket's region.
    pub region: String,
    /// The access key id. The secret access key is read from
    /// `GENESIS_PORTAL_S3_SECRET_ACCESS_KEY` (and a session token, if any, from
    /// `GENESIS_PORTAL_S3_SESSION_TOKEN`), never from an argument: command lines are visible
    /// to every local user.
    pub access_key_id: Option<String>,
    /// Allow a plain `http://` endpoint. Requests are still signed, but artifacts and export
    /// packs cross the network unencrypted and unauthenticated: only for a network you trust.
    pub allow_http: bool,
}

impl S3Config {
    /// The S3 endpoint the portal contacts.
    pub fn endpoint(&self) -> String {
        self.endpoint.clone().unwrap_or_else(|| format!("https://s3.{}.amazonaws.com", self.region))
    }
}

/// A non-empty environment variable.
fn env_value(name: &str) -> Option<String> {
    std::env::var(name).ok().filter(|v| !v.is_empty())
}

/// The S3 HTTP client. Unlike object_store's default connector it ignores `HTTP(S)_PROXY`
/// and `ALL_PROXY` and follows no redirect (an S3 API never needs one to another host), so
/// requests go to the announced endpoint and nowhere else. It builds the client from its own
/// settings alone (object_store's client options are not consulted), so it is where plain
/// HTTP is allowed or not.
#[derive(Debug)]
struct DirectConnector {
    allow_http: bool,
}

impl HttpConnector for DirectConnector {
    fn connect(&self, _: &ClientOptions) -> object_store::Result<HttpClient> {
        let client = reqwest::Client::builder()
            .no_proxy()
            // A redirect is answered as what it is, an error naming its status.
            .redirect(reqwest::redirect::Policy::none())
            .https_only(!self.allow_http)
            .http1_only()
            .connect_timeout(Duration::from_secs(5))
            // A stalled read fails; a long transfer that keeps moving does not.
            .read_timeout(Duration::from_secs(30))
            // Content-Encoding would hide the objects' real lengths (object_store does the same).
            .no_gzip()
            .no_brotli()
            .no_zstd()
            .no_deflate()
            .build()
            .map_err(|e| object_store::Error::Generic { store: "S3", source: Box::new(e) })?;
        Ok(HttpClient::new(client))
    }
}

impl Artifacts {
    /// The store `s3` names, else `data_dir/artifacts`.
    pub fn open(s3: Option<&S3Config>, data_dir: &Path) -> anyhow::Result<Artifacts> {
        let Some(s3) = s3 else {
            let dir = data_dir.join("artifacts");
            std::fs::create_dir_all(&dir).with_context(|| format!("creating {}", dir.display()))?;
            return Ok(Artifacts::Dir(dir));
        };
        let (url, endpoint) = (&s3.url, s3.endpoint());
        let bucket = url
            .strip_prefix("s3://")
            .filter(|b| !b.is_empty() && !b.contains('/'))
            .ok_or_else(|| ConfigError::NotABucket { url: url.clone() })?;
        match endpoint.split_once("://").map(|(scheme, _)| scheme) {
            Some("https") => {}
            Some("http") if s3.allow_http => {}
            Some("http") => return Err(ConfigError::PlainHttpEndpoint { endpoint: endpoint.clone() }.into()),
            _ => return Err(ConfigError::NotAnEndpoint { endpoint: endpoint.clone() }.into()),
        }
        let access_key_id = s3
            .access_key_id
            .clone()
            .filter(|id| !id.is_empty())
            .ok_or_else(|| ConfigError::NoAccessKeyId { url: url.clone() })?;
        let secret = env_value(SECRET_ACCESS_KEY)
            .ok_or_else(|| ConfigError::NoSecretAccessKey { url: url.clone(), access_key_id: access_key_id.clone() })?;
        // Static credentials, so object_store never falls back to a provider chain.
        let mut builder = AmazonS3Builder::new()
            .with_bucket_name(bucket)
            .with_region(&s3.region)
            .with_endpoint(&endpoint)
            .with_access_key_id(access_key_id)
            .with_secret_access_key(secret)
            .with_http_connector(DirectConnector { allow_http: s3.allow_http });
        if let Some(token) = env_value(SESSION_TOKEN) {
            builder = builder.with_token(token);
        }
        Ok(Artifacts::Object(Arc::new(builder.build().context("configuring the S3 object store")?)))
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
    /// atomically).
    pub async fn put_file(&self, key: &str, local: &Path) -> anyhow::Result<()> {
        match self {
            Artifacts::Dir(dir) => {
                let target = dir.join(key);
                let parent = target.parent().context("an artifact key has a parent")?.to_owned();
                let local = local.to_owned();
                tokio::task::spawn_blocking(move || -> anyhow::Result<()> {
                    std::fs::create_dir_all(&parent)?;
                    let mut staging = AtomicFile::create(&target, Mode::OfTarget)?;
                    let mut source = std::fs::File::open(&local)
                        .with_context(|| format!("copying {} into the store", local.display()))?;
                    std::io::copy(&mut source, staging.as_file_mut())
                        .with_context(|| format!("copying {} into the store", local.display()))?;
                    staging.commit(Durability::Synced)?;
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
                match upload_file(&mut writer, key, local).await {
                    Ok(()) => {
                        writer.finish().await.with_context(|| format!("completing the upload of {key}"))?;
                        Ok(())
                    }
                    Err(e) => {
                        // The parts sent so far would stay in the bucket, unseen but paid for.
                        if let Err(abort) = writer.abort().await {
                            tracing::warn!(key = %key, error = %abort, "aborting a failed upload");
                        }
                        Err(e)
                    }
                }
            }
        }
    }

    /// Deletes `key`; nothing to do when it is absent.
    pub async fn delete(&self, key: &str) -> anyhow::Result<()> {
        match self {
            Artifacts::Dir(dir) => {
                let path = dir.join(key);
                match tokio::fs::remove_file(&path).await {
                    Ok(()) => {}
                    Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(()),
                    Err(e) => return Err(e).with_context(|| format!("deleting {}", path.display())),
                }
                // Its directory, when that is now empty (an export's holds its pack only).
                if let Some(parent) = path.parent() {
                    let _ = tokio::fs::remove_dir(parent).await;
                }
                Ok(())
            }
            Artifacts::Object(store) => match store.delete(&ObjectPath::from(key)).await {
                Ok(()) | Err(object_store::Error::NotFound { .. }) => Ok(()),
                Err(e) => Err(e).with_context(|| format!("deleting {key}")),
            },
        }
    }

    /// The bytes of `key` in `range` (all of it when `None`).
    pub async fn get(&self, key: &str, range: Option<Range<u64>>) -> anyhow::Result<ByteStream> {
        match self {
            Artifacts::Dir(dir) => {
                let path = dir.join(key);
                let mut file =
                    tokio::fs::File::open(&path).await.with_context(|| format!("opening {}", path.display()))?;
                let len = file.metadata().await?.len();
                let range = range.unwrap_or(0..len);
                file.seek(SeekFrom::Start(range.start)).await?;
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

/// Sends the file at `local` into `writer`, read a chunk at a time on the blocking pool
/// (tokio's file), at most two parts in flight.
async fn upload_file(writer: &mut WriteMultipart, key: &str, local: &Path) -> anyhow::Result<()> {
    let mut file = tokio::fs::File::open(local).await.with_context(|| format!("reading {}", local.display()))?;
    let mut buf = vec![0; CHUNK];
    loop {
        let n = file.read(&mut buf).await.with_context(|| format!("reading {}", local.display()))?;
        if n == 0 {
            return Ok(());
        }
        writer.wait_for_capacity(2).await.with_context(|| format!("uploading {key}"))?;
        writer.write(&buf[..n]);
    }
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
