//! `bundle-loader serve`: a read-only OCI registry that serves a checked bundle straight
//! from its `.tar.zst` through the seek table, with no second copy on disk.
//!
//! Routing and responses are plain functions over `http` types ([`route`]); the hyper
//! server is a thin executor. Blobs are sent as slices of the decompressed frames; a bundle
//! file changed after verification ends a response with an error instead of serving it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::convert::Infallible;
use std::io;
use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;
use genesis_bundle::{ArchiveIndex, ArchiveRange, image_top};
use genesis_trust::{CheckedBundle, SignedBom as _};
use genesis_types::{Descriptor, Digest, ImageIndex, ImageManifest, ImageReference, MAX_MANIFEST, media_types};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::time::Instant;

use crate::{RegistryError, Result};

/// Response body type of the server.
pub type Body = BoxBody<Bytes, std::io::Error>;

/// What a request asks for.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Route {
    /// `/v2/`
    Base,
    /// `/v2/_catalog`
    Catalog,
    /// `/v2/<name>/tags/list`
    Tags(String),
    /// `/v2/<name>/manifests/<reference>`
    Manifest(String, String),
    /// `/v2/<name>/blobs/<digest>`
    Blob(String, String),
    /// `/v2/<name>/referrers/<digest>`
    Referrers(String, String),
    /// Anything else.
    Unknown,
}

/// Parses a request path. Repository names may contain `/`, so the last marker wins.
pub fn route(path: &str) -> Route {
    let Some(rest) = path.strip_prefix("/v2/") else {
        return if path == "/v2" { Route::Base } else { Route::Unknown };
    };
    if rest.is_empty() {
        return Route::Base;
    }
    if rest == "_catalog" {
        return Route::Catalog;
    }
    if let Some(name) = rest.strip_suffix("/tags/list") {
        return Route::Tags(name.to_owned());
    }
    for (marker, make) in [
        ("/manifests/", Route::Manifest as fn(String, String) -> Route),
        ("/blobs/", Route::Blob),
        ("/referrers/", Route::Referrers),
    ] {
        if let Some(i) = rest.rfind(marker) {
            let (name, reference) = (&rest[..i], &rest[i + marker.len()..]);
            if !name.is_empty() && !reference.is_empty() && !reference.contains('/') {
                return make(name.to_owned(), reference.to_owned());
            }
        }
    }
    Route::Unknown
}

/// One manifest the server knows.
#[derive(Debug, Clone)]
struct StoredManifest {
    media_type: String,
    bytes: Bytes,
}

/// One repository: its tags and the digests it may serve.
#[derive(Debug, Clone, Default)]
struct Repository {
    tags: BTreeMap<String, Digest>,
    manifests: BTreeSet<Digest>,
    blobs: BTreeSet<Digest>,
}

/// The content of a checked bundle, indexed for serving.
pub struct Served {
    index: ArchiveIndex,
    repositories: BTreeMap<String, Repository>,
    manifests: Manifests,
}

/// Reads a manifest's bytes, checked against its digest.
type ReadManifest<'a> = &'a dyn Fn(&Digest) -> Result<Vec<u8>>;

/// How deep indexes may nest below an image's top manifest.
const MAX_NESTING: u32 = 4;

/// The manifests of the served images, each read once, and the referrers among them.
#[derive(Default)]
struct Manifests {
    stored: HashMap<Digest, StoredManifest>,
    /// Manifests with a `subject`, by the subject's digest.
    referrers: HashMap<Digest, Vec<Descriptor>>,
}

impl Manifests {
    /// Records `top` and every manifest below it as `repo`'s. An index may list a child many
    /// times and children may be shared, so each manifest is read once and walked once per
    /// depth it is reached at: a signed graph cannot make start-up repeat work exponentially,
    /// and the nesting limit still holds on every path.
    fn walk(&mut self, top: &Descriptor, repo: &mut Repository, read: ReadManifest<'_>) -> Result<()> {
        self.visit(top, repo, 0, &mut HashSet::new(), read)
    }

    fn visit(
        &mut self,
        d: &Descriptor,
        repo: &mut Repository,
        depth: u32,
        seen: &mut HashSet<(Digest, u32)>,
        read: ReadManifest<'_>,
    ) -> Result<()> {
        if depth > MAX_NESTING {
            return Err(RegistryError::Invalid(format!("indexes nested more than {MAX_NESTING} deep")));
        }
        if !seen.insert((d.digest.clone(), depth)) {
            return Ok(());
        }
        repo.manifests.insert(d.digest.clone());
        let (bytes, first) = match self.stored.get(&d.digest) {
            Some(m) => (m.bytes.clone(), false),
            None => (Bytes::from(read(&d.digest)?), true),
        };
        let invalid = |e: serde_json::Error| RegistryError::Invalid(format!("{}: {e}", d.digest));
        if media_types::is_index(&d.media_type) {
            let idx: ImageIndex = serde_json::from_slice(&bytes).map_err(invalid)?;
            for child in &idx.manifests {
                self.visit(child, repo, depth + 1, seen, read)?;
            }
        } else if media_types::is_manifest(&d.media_type) {
            let m: ImageManifest = serde_json::from_slice(&bytes).map_err(invalid)?;
            repo.blobs.extend(std::iter::once(&m.config).chain(&m.layers).map(|b| b.digest.clone()));
            if first && let Some(subject) = &m.subject {
                let artifact_type = serde_json::from_slice::<serde_json::Value>(&bytes)
                    .ok()
                    .and_then(|v| v["artifactType"].as_str().map(str::to_owned))
                    .or_else(|| Some(m.config.media_type.clone()));
                let descriptor = Descriptor {
                    media_type: d.media_type.clone(),
                    digest: d.digest.clone(),
                    size: d.size,
                    platform: None,
                    artifact_type,
                    annotations: d.annotations.clone(),
                };
                self.referrers.entry(subject.digest.clone()).or_default().push(descriptor);
            }
        }
        if first {
            self.stored.insert(d.digest.clone(), StoredManifest { media_type: d.media_type.clone(), bytes });
        }
        Ok(())
    }
}

impl Served {
    /// Indexes a checked bundle: repositories and tags from the BOM's image references,
    /// manifests (kept in memory, each checked against its digest), blobs (located in the
    /// archive, read through a cache of up to `frame_cache` bytes of decompressed frames),
    /// referrers (manifests with a `subject`).
    pub fn new(bundle: &CheckedBundle, frame_cache: u64) -> Result<Served> {
        let index = bundle.archive_index(&Default::default())?.pinned(bundle.stamp()).with_frame_cache(frame_cache);
        let mut repositories = BTreeMap::<String, Repository>::new();
        let mut manifests = Manifests::default();
        if let Some(layout) = index.layout_index(bundle.bom())? {
            let read = |digest: &Digest| index.read_verified(digest, MAX_MANIFEST as u64).map_err(RegistryError::from);
            for image in &bundle.bom().images {
                let reference: ImageReference =
                    image.reference.parse().map_err(|e| RegistryError::Invalid(format!("{e}")))?;
                let top = image_top(&layout, image)?;
                let repo = repositories.entry(reference.repository().to_owned()).or_default();
                if let Some(tag) = reference.tag() {
                    repo.tags.insert(tag.to_owned(), top.digest.clone());
                }
                manifests.walk(&top, repo, &read)?;
            }
        }
        Ok(Served { index, repositories, manifests })
    }

    /// Repository names, sorted.
    pub fn repositories(&self) -> Vec<String> {
        self.repositories.keys().cloned().collect()
    }
}

fn full(bytes: impl Into<Bytes>) -> Body {
    Full::new(bytes.into()).map_err(|never| match never {}).boxed()
}

fn empty() -> Body {
    full(Bytes::new())
}

/// An OCI error response.
fn error(status: StatusCode, code: &str, message: &str) -> Response<Body> {
    let body = serde_json::json!({ "errors": [ { "code": code, "message": message, "detail": {} } ] });
    let mut r = Response::new(full(serde_json::to_vec(&body).expect("json")));
    *r.status_mut() = status;
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static("application/json"));
    r
}

fn json(value: &serde_json::Value, content_type: &'static str) -> Response<Body> {
    let mut r = Response::new(full(serde_json::to_vec(value).expect("json")));
    r.headers_mut().insert(header::CONTENT_TYPE, HeaderValue::from_static(content_type));
    r
}

/// `bytes=START-END`, `bytes=START-`, `bytes=-SUFFIX` for a blob of `size` bytes.
fn parse_range(value: &str, size: u64) -> Option<(u64, u64)> {
    let spec = value.strip_prefix("bytes=")?;
    if spec.contains(',') {
        return None;
    }
    let (a, b) = spec.split_once('-')?;
    let (start, end) = match (a.trim(), b.trim()) {
        ("", suffix) => {
            let n: u64 = suffix.parse().ok()?;
            (size.checked_sub(n.min(size))?, size.checked_sub(1)?)
        }
        (s, "") => (s.parse().ok()?, size.checked_sub(1)?),
        (s, e) => (s.parse().ok()?, e.parse::<u64>().ok()?.min(size.checked_sub(1)?)),
    };
    (start <= end && end < size).then_some((start, end))
}

/// Answers one request.
pub async fn respond(served: &Arc<Served>, req: &Request<hyper::body::Incoming>) -> Response<Body> {
    let head = req.method() == Method::HEAD;
    if req.method() != Method::GET && !head {
        let mut r = error(
            StatusCode::METHOD_NOT_ALLOWED,
            "UNSUPPORTED",
            "this registry serves a verified bundle and is read-only",
        );
        r.headers_mut().insert(header::ALLOW, HeaderValue::from_static("GET, HEAD"));
        return r;
    }
    let mut response = match route(req.uri().path()) {
        Route::Base => json(&serde_json::json!({}), "application/json"),
        Route::Catalog => json(&serde_json::json!({ "repositories": served.repositories() }), "application/json"),
        Route::Tags(name) => match served.repositories.get(&name) {
            Some(repo) => json(
                &serde_json::json!({ "name": name, "tags": repo.tags.keys().collect::<Vec<_>>() }),
                "application/json",
            ),
            None => error(StatusCode::NOT_FOUND, "NAME_UNKNOWN", "repository name not known to registry"),
        },
        Route::Manifest(name, reference) => manifest(served, &name, &reference),
        Route::Referrers(name, digest) => referrers(served, &name, &digest, req.uri().query()),
        Route::Blob(name, digest) => blob(served, &name, &digest, req.headers().get(header::RANGE), head),
        Route::Unknown => error(StatusCode::NOT_FOUND, "NOT_FOUND", "no such endpoint"),
    };
    response.headers_mut().insert("docker-distribution-api-version", HeaderValue::from_static("registry/2.0"));
    if head {
        *response.body_mut() = empty();
    }
    response
}

fn manifest(served: &Served, name: &str, reference: &str) -> Response<Body> {
    let Some(repo) = served.repositories.get(name) else {
        return error(StatusCode::NOT_FOUND, "NAME_UNKNOWN", "repository name not known to registry");
    };
    let digest = match reference.parse::<Digest>() {
        Ok(d) if repo.manifests.contains(&d) => Some(d),
        Ok(_) => None,
        Err(_) => repo.tags.get(reference).cloned(),
    };
    let Some(m) = digest.as_ref().and_then(|d| served.manifests.stored.get(d)) else {
        return error(StatusCode::NOT_FOUND, "MANIFEST_UNKNOWN", "manifest unknown");
    };
    let mut r = Response::new(full(m.bytes.clone()));
    let h = r.headers_mut();
    h.insert(
        header::CONTENT_TYPE,
        HeaderValue::from_str(&m.media_type).unwrap_or(HeaderValue::from_static("application/json")),
    );
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(m.bytes.len()));
    h.insert(
        "docker-content-digest",
        HeaderValue::from_str(&digest.expect("found").to_string()).expect("digest is ASCII"),
    );
    r
}

fn referrers(served: &Served, name: &str, digest: &str, query: Option<&str>) -> Response<Body> {
    if !served.repositories.contains_key(name) {
        return error(StatusCode::NOT_FOUND, "NAME_UNKNOWN", "repository name not known to registry");
    }
    let Ok(subject) = digest.parse::<Digest>() else {
        return error(StatusCode::BAD_REQUEST, "DIGEST_INVALID", "invalid digest");
    };
    let filter = artifact_type_filter(query);
    let list: Vec<&Descriptor> = served
        .manifests
        .referrers
        .get(&subject)
        .into_iter()
        .flatten()
        .filter(|d| filter.as_ref().is_none_or(|f| d.artifact_type.as_deref() == Some(f.as_str())))
        .collect();
    let mut r = json(
        &serde_json::json!({ "schemaVersion": 2, "mediaType": media_types::OCI_INDEX, "manifests": list }),
        media_types::OCI_INDEX,
    );
    if filter.is_some() {
        r.headers_mut().insert("oci-filters-applied", HeaderValue::from_static("artifactType"));
    }
    r
}

/// The `artifactType` a referrers query filters on, percent-decoded (clients send
/// `application%2Fvnd.example%2Bjson`); a literal `+` stays a `+`, as media types need.
fn artifact_type_filter(query: Option<&str>) -> Option<String> {
    let value = query?.split('&').find_map(|kv| kv.strip_prefix("artifactType="))?;
    Some(percent_encoding::percent_decode_str(value).decode_utf8_lossy().into_owned())
}

fn blob(served: &Served, name: &str, digest: &str, range: Option<&HeaderValue>, head: bool) -> Response<Body> {
    let Some(repo) = served.repositories.get(name) else {
        return error(StatusCode::NOT_FOUND, "NAME_UNKNOWN", "repository name not known to registry");
    };
    let Ok(digest) = digest.parse::<Digest>() else {
        return error(StatusCode::BAD_REQUEST, "DIGEST_INVALID", "invalid digest");
    };
    let known = repo.blobs.contains(&digest) || repo.manifests.contains(&digest);
    let Some(source) = served.index.blob(&digest).filter(|_| known) else {
        return error(StatusCode::NOT_FOUND, "BLOB_UNKNOWN", "blob unknown to registry");
    };
    let size = source.size;
    let (status, start, len) = match range.and_then(|v| v.to_str().ok()) {
        Some(v) => match parse_range(v, size) {
            Some((s, e)) => (StatusCode::PARTIAL_CONTENT, s, e - s + 1),
            None => {
                let mut r = error(StatusCode::RANGE_NOT_SATISFIABLE, "BLOB_UNKNOWN", "range not satisfiable");
                r.headers_mut()
                    .insert(header::CONTENT_RANGE, HeaderValue::from_str(&format!("bytes */{size}")).expect("ascii"));
                return r;
            }
        },
        None => (StatusCode::OK, 0, size),
    };
    let body = if head { empty() } else { stream_range(source, start, len) };
    let mut r = Response::new(body);
    *r.status_mut() = status;
    let h = r.headers_mut();
    h.insert(header::CONTENT_TYPE, HeaderValue::from_static("application/octet-stream"));
    h.insert(header::CONTENT_LENGTH, HeaderValue::from(len));
    h.insert(header::ACCEPT_RANGES, HeaderValue::from_static("bytes"));
    h.insert("docker-content-digest", HeaderValue::from_str(&digest.to_string()).expect("ascii"));
    if status == StatusCode::PARTIAL_CONTENT {
        h.insert(
            header::CONTENT_RANGE,
            HeaderValue::from_str(&format!("bytes {start}-{}/{size}", start + len - 1)).expect("ascii"),
        );
    }
    r
}

/// A decompressed frame shared with the archive's cache, sent as it is.
struct SharedFrame(Arc<Vec<u8>>);

impl AsRef<[u8]> for SharedFrame {
    fn as_ref(&self) -> &[u8] {
        &self.0
    }
}

/// Streams `len` bytes from `start` of a blob, decompressed frame by frame and sent without
/// copying. Each frame is decompressed in a short call on the blocking pool and handed to the
/// response by an async task: a client that stops reading holds that task, never a blocking
/// thread, so slow readers cannot starve the pool every other response needs. The bundle was
/// hashed in full when the server started; from then on its stamp is checked when a blob is
/// opened and before its last bytes go out ([`ArchiveIndex::pinned`]), and zstd checks each
/// frame's content checksum, so a file changed or damaged since ends the response with an
/// error instead of serving it.
fn stream_range(source: ArchiveRange, start: u64, len: u64) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(2);
    tokio::spawn(async move {
        if let Err(e) = send_frames(source, start, len, &tx).await {
            tracing::error!(error = %e, "reading a blob from the bundle failed; aborting the response");
            let _ = tx.send(Err(e)).await;
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    BodyExt::boxed(StreamBody::new(stream.map(|r| r.map(Frame::data))))
}

/// Sends the frames of a range into `tx`, until the last or until the client has gone.
async fn send_frames(
    source: ArchiveRange,
    start: u64,
    len: u64,
    tx: &tokio::sync::mpsc::Sender<io::Result<Bytes>>,
) -> io::Result<()> {
    let mut frames = on_blocking_pool(move || source.frames_at(start, len)).await?;
    loop {
        let (rest, next) = on_blocking_pool(move || {
            let next = frames.next();
            Ok((frames, next))
        })
        .await?;
        frames = rest;
        let Some((frame, part)) = next.transpose()? else { return Ok(()) };
        if tx.send(Ok(Bytes::from_owner(SharedFrame(frame)).slice(part))).await.is_err() {
            return Ok(()); // the client has gone
        }
    }
}

/// Runs `f` on the blocking pool; a panic there fails the one response.
async fn on_blocking_pool<T: Send + 'static>(f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(io::Error::other)?
}

/// A certificate chain and key for HTTPS.
pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<tokio_rustls::TlsAcceptor> {
    let read = |p: &Path| std::fs::read(p).map_err(RegistryError::io("reading", p.display()));
    let certs = rustls_pemfile::certs(&mut read(cert)?.as_slice())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(RegistryError::io("parsing", cert.display()))?;
    let key = rustls_pemfile::private_key(&mut read(key)?.as_slice())
        .map_err(RegistryError::io("parsing", key.display()))?
        .ok_or_else(|| RegistryError::Invalid(format!("{}: no private key", key.display())))?;
    let provider = Arc::new(rustls::crypto::ring::default_provider());
    let config = rustls::ServerConfig::builder_with_provider(provider)
        .with_safe_default_protocol_versions()
        .map_err(|e| RegistryError::Invalid(format!("TLS: {e}")))?
        .with_no_client_auth()
        .with_single_cert(certs, key)
        .map_err(|e| RegistryError::Invalid(format!("TLS certificate: {e}")))?;
    Ok(tokio_rustls::TlsAcceptor::from(Arc::new(config)))
}

/// Serves `served` on `listener` within `limits` until the task is dropped.
pub async fn serve(
    served: Arc<Served>,
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: ServerLimits,
) -> Infallible {
    accept_loop(listener, tls, limits, move |peer| {
        let served = Arc::clone(&served);
        hyper::service::service_fn(move |req: Request<hyper::body::Incoming>| {
            let served = Arc::clone(&served);
            async move {
                let response = respond(&served, &req).await;
                tracing::debug!(%peer, method = %req.method(), path = req.uri().path(), status = response.status().as_u16(), "request");
                Ok::<_, Infallible>(response)
            }
        })
    })
    .await
}

/// What a server grants its clients: how many connections at once, and how long it waits on
/// each. The defaults keep a server answering while anyone who can connect opens sockets and
/// sends nothing, trickles bytes, or stops reading.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Connections served at once. Past it, a new connection takes the place of the one that
    /// has moved no byte for longest, if that one has been quiet for a second (an idle socket,
    /// a client that stopped reading); else the new connection is closed at once. So open
    /// sockets cannot lock clients out, and descriptors do not run out. Default 400: with a
    /// socket and an open file each, 800 descriptors, under the usual limit of 1,024.
    pub max_connections: NonZeroUsize,
    /// Time a client has to send a request's headers (HTTP/1), on a new connection or between
    /// the requests of a kept-alive one. Default 30 s.
    pub header_read_timeout: Duration,
    /// Time a client has to complete the TLS handshake. Default 10 s.
    pub tls_handshake_timeout: Duration,
    /// Time a connection may move no byte either way before it is closed: a client that sends
    /// nothing, or stops reading its response. Default 60 s.
    pub idle_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> ServerLimits {
        ServerLimits {
            max_connections: NonZeroUsize::new(400).expect("not zero"),
            header_read_timeout: Duration::from_secs(30),
            tls_handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// How long to wait before accepting again after `accept` failed (out of descriptors, say),
/// so the loop does not spin while the cause lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How long a connection must have moved no byte before a newcomer may take its place past
/// [`ServerLimits::max_connections`]: a transfer that is moving is never cut for a newcomer.
const QUIET: Duration = Duration::from_secs(1);

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Accepts connections on `listener` until the task is dropped, each over TLS when `tls` is
/// given, each served over HTTP/1.1 or HTTP/2 by the service `make` returns for its peer,
/// within `limits`. Shared by every server we run. Nothing a client does ends the loop: a
/// failed `accept` is logged and tried again shortly, and a failed or timed-out handshake or
/// connection drops that connection only.
pub async fn accept_loop<S, B>(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: ServerLimits,
    make: impl Fn(SocketAddr) -> S,
) -> Infallible
where
    S: hyper::service::Service<Request<hyper::body::Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let connections = Arc::new(Connections::new(limits.max_connections));
    let mut http = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    http.http1().timer(hyper_util::rt::TokioTimer::new()).header_read_timeout(limits.header_read_timeout);
    let http = Arc::new(http);
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                tracing::warn!(error = %e, "accepting a connection failed; trying again shortly");
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let Some(admitted) = connections.admit() else {
            tracing::debug!(%peer, "connection closed: every connection allowed is in use");
            continue;
        };
        let io = TimedSocket::new(socket, Arc::clone(&admitted.conn), limits.idle_timeout);
        let (service, tls, http, handshake) =
            (make(peer), tls.clone(), Arc::clone(&http), limits.tls_handshake_timeout);
        tokio::spawn(async move {
            let served = async move {
                let result = match tls {
                    Some(acceptor) => match tokio::time::timeout(handshake, acceptor.accept(io)).await {
                        Ok(Ok(s)) => http.serve_connection(hyper_util::rt::TokioIo::new(s), service).await,
                        Ok(Err(e)) => {
                            tracing::debug!(%peer, error = %e, "TLS handshake failed");
                            return;
                        }
                        Err(_) => {
                            tracing::debug!(%peer, "TLS handshake timed out");
                            return;
                        }
                    },
                    None => http.serve_connection(hyper_util::rt::TokioIo::new(io), service).await,
                };
                if let Err(e) = result {
                    tracing::debug!(%peer, error = %e, "connection ended");
                }
            };
            tokio::select! {
                () = served => {}
                () = admitted.conn.evicted.notified() => {
                    tracing::debug!(%peer, "connection closed to make room for a new one");
                }
            }
        });
    }
}

/// The connections a server holds, at most `max`.
struct Connections {
    max: usize,
    epoch: Instant,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Conn>>>,
}

impl Connections {
    fn new(max: NonZeroUsize) -> Connections {
        Connections { max: max.get(), epoch: Instant::now(), next_id: AtomicU64::new(0), open: Mutex::default() }
    }

    /// Admits a new connection: below the limit at once; at it, in place of the connection
    /// that has been quiet longest if that one has been quiet for [`QUIET`]; else not at all.
    fn admit(self: &Arc<Self>) -> Option<Admitted> {
        let now = millis(self.epoch.elapsed());
        let mut open = self.open.lock().expect("not poisoned");
        if open.len() >= self.max {
            let (&id, quietest) = open.iter().min_by_key(|(_, c)| c.active_ms.load(Ordering::Relaxed))?;
            if now.saturating_sub(quietest.active_ms.load(Ordering::Relaxed)) < millis(QUIET) {
                return None;
            }
            quietest.evicted.notify_one();
            open.remove(&id);
        }
        let conn = Arc::new(Conn {
            id: self.next_id.fetch_add(1, Ordering::Relaxed),
            epoch: self.epoch,
            active_ms: AtomicU64::new(now),
            evicted: tokio::sync::Notify::new(),
        });
        open.insert(conn.id, Arc::clone(&conn));
        Some(Admitted { connections: Arc::clone(self), conn })
    }
}

/// A connection counted against the limit until it is dropped.
struct Admitted {
    connections: Arc<Connections>,
    conn: Arc<Conn>,
}

impl Drop for Admitted {
    fn drop(&mut self) {
        self.connections.open.lock().expect("not poisoned").remove(&self.conn.id);
    }
}

/// One admitted connection: when a byte last moved on it, and the signal that closes it.
struct Conn {
    id: u64,
    epoch: Instant,
    /// Milliseconds from `epoch` to the last byte moved (or to the accept).
    active_ms: AtomicU64,
    /// Notified when a newcomer takes this connection's place.
    evicted: tokio::sync::Notify,
}

impl Conn {
    fn touch(&self) {
        self.active_ms.store(millis(self.epoch.elapsed()), Ordering::Relaxed);
    }

    fn last_active(&self) -> Instant {
        self.epoch + Duration::from_millis(self.active_ms.load(Ordering::Relaxed))
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A connection's socket that records when a byte last moved either way, and fails a read or
/// a write still waiting [`ServerLimits::idle_timeout`] after that: a client that sends
/// nothing, or stops reading its response, is disconnected. TLS runs over it, so the
/// handshake and the encrypted bytes count too.
struct TimedSocket {
    socket: tokio::net::TcpStream,
    conn: Arc<Conn>,
    idle_timeout: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl TimedSocket {
    fn new(socket: tokio::net::TcpStream, conn: Arc<Conn>, idle_timeout: Duration) -> TimedSocket {
        let timer = Box::pin(tokio::time::sleep_until(conn.last_active() + idle_timeout));
        TimedSocket { socket, conn, idle_timeout, timer }
    }

    /// What a read or a write of the socket returned: bytes moved are activity; a wait fails
    /// once nothing has moved for the idle timeout.
    fn track<T>(&mut self, cx: &mut Context<'_>, polled: Poll<io::Result<T>>, moved: bool) -> Poll<io::Result<T>> {
        if moved {
            self.conn.touch();
        } else if polled.is_pending() {
            let deadline = self.conn.last_active() + self.idle_timeout;
            if self.timer.deadline() != deadline {
                self.timer.as_mut().reset(deadline);
            }
            if self.timer.as_mut().poll(cx).is_ready() {
                return Poll::Ready(Err(io::Error::new(io::ErrorKind::TimedOut, "no byte moved for the idle timeout")));
            }
        }
        polled
    }
}

impl AsyncRead for TimedSocket {
    fn poll_read(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &mut ReadBuf<'_>) -> Poll<io::Result<()>> {
        let this = self.get_mut();
        let before = buf.filled().len();
        let polled = Pin::new(&mut this.socket).poll_read(cx, buf);
        let moved = buf.filled().len() > before;
        this.track(cx, polled, moved)
    }
}

impl AsyncWrite for TimedSocket {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.socket).poll_write(cx, buf);
        let moved = matches!(polled, Poll::Ready(Ok(n)) if n > 0);
        this.track(cx, polled, moved)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.socket).poll_write_vectored(cx, bufs);
        let moved = matches!(polled, Poll::Ready(Ok(n)) if n > 0);
        this.track(cx, polled, moved)
    }

    fn is_write_vectored(&self) -> bool {
        self.socket.is_write_vectored()
    }

    fn poll_flush(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().socket).poll_flush(cx)
    }

    fn poll_shutdown(self: Pin<&mut Self>, cx: &mut Context<'_>) -> Poll<io::Result<()>> {
        Pin::new(&mut self.get_mut().socket).poll_shutdown(cx)
    }
}

/// Binds `addr`.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(RegistryError::io("listening on", addr))
}

#[cfg(test)]
mod tests {
    use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
    use tokio::net::TcpStream;

    use super::*;

    #[test]
    fn routes_nested_repository_names() {
        assert_eq!(route("/v2/"), Route::Base);
        assert_eq!(route("/v2/_catalog"), Route::Catalog);
        assert_eq!(route("/v2/a/b/c/tags/list"), Route::Tags("a/b/c".into()));
        assert_eq!(route("/v2/a/manifests/b/manifests/1.0"), Route::Manifest("a/manifests/b".into(), "1.0".into()));
        assert_eq!(route("/v2/x/blobs/sha256:ab"), Route::Blob("x".into(), "sha256:ab".into()));
        assert_eq!(route("/v2/x/referrers/sha256:ab"), Route::Referrers("x".into(), "sha256:ab".into()));
        assert_eq!(route("/v3/x"), Route::Unknown);
        assert_eq!(route("/v2/manifests/x"), Route::Unknown);
    }

    #[test]
    fn ranges() {
        assert_eq!(parse_range("bytes=0-9", 100), Some((0, 9)));
        assert_eq!(parse_range("bytes=90-", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=-10", 100), Some((90, 99)));
        assert_eq!(parse_range("bytes=50-500", 100), Some((50, 99)));
        assert_eq!(parse_range("bytes=100-", 100), None);
        assert_eq!(parse_range("bytes=5-1", 100), None);
        assert_eq!(parse_range("bytes=0-1,5-6", 100), None);
        assert_eq!(parse_range("items=0-1", 100), None);
    }

    #[test]
    fn the_referrers_artifact_type_filter_is_percent_decoded() {
        let filter = |q: &str| artifact_type_filter(Some(q));
        assert_eq!(
            filter("artifactType=application%2Fvnd.example%2Bjson").as_deref(),
            Some("application/vnd.example+json")
        );
        assert_eq!(
            filter("n=1&artifactType=application/vnd.example+json").as_deref(),
            Some("application/vnd.example+json")
        );
        assert_eq!(filter("n=1"), None);
        assert_eq!(artifact_type_filter(None), None);
    }

    fn descriptor(media_type: &str, bytes: &[u8]) -> Descriptor {
        Descriptor {
            media_type: media_type.to_owned(),
            digest: genesis_bundle::sha256(bytes),
            size: bytes.len() as u64,
            platform: None,
            artifact_type: None,
            annotations: BTreeMap::new(),
        }
    }

    /// `value` as a manifest of `media_type`, kept in `store`; its descriptor.
    fn put(store: &mut HashMap<Digest, Vec<u8>>, media_type: &str, value: &serde_json::Value) -> Descriptor {
        let bytes = serde_json::to_vec(value).expect("json");
        let d = descriptor(media_type, &bytes);
        store.insert(d.digest.clone(), bytes);
        d
    }

    #[test]
    fn an_index_graph_with_shared_children_is_walked_reading_each_manifest_once() {
        let mut store = HashMap::new();
        let config = descriptor(media_types::OCI_CONFIG, b"config");
        let layer = descriptor(media_types::OCI_LAYER_GZIP, b"layer");
        let leaf = put(
            &mut store,
            media_types::OCI_MANIFEST,
            &serde_json::json!({ "schemaVersion": 2, "config": config, "layers": [layer] }),
        );
        // Three levels of two indexes, each listing both indexes of the level below 50 times
        // over, under a top index that lists the last level 50 times over: 100^4 paths.
        let mut level = vec![leaf];
        for depth in 0..3 {
            level = (0..2)
                .map(|i| {
                    let children: Vec<&Descriptor> = level.iter().cycle().take(100).collect();
                    let index = serde_json::json!({
                        "schemaVersion": 2, "manifests": children, "annotations": { "at": format!("{depth}.{i}") }
                    });
                    put(&mut store, media_types::OCI_INDEX, &index)
                })
                .collect();
        }
        let children: Vec<&Descriptor> = level.iter().cycle().take(100).collect();
        let top =
            put(&mut store, media_types::OCI_INDEX, &serde_json::json!({ "schemaVersion": 2, "manifests": children }));

        let reads = std::cell::RefCell::new(HashMap::<Digest, usize>::new());
        let read = |d: &Digest| -> Result<Vec<u8>> {
            let mut reads = reads.borrow_mut();
            let n = reads.entry(d.clone()).or_default();
            *n += 1;
            assert_eq!(*n, 1, "{d} was read again");
            Ok(store[d].clone())
        };
        let (mut manifests, mut repo) = (Manifests::default(), Repository::default());
        manifests.walk(&top, &mut repo, &read).expect("the graph is served");
        assert_eq!(reads.borrow().len(), 8, "the top, six indexes and the leaf");
        assert_eq!(repo.manifests.len(), 8);
        assert_eq!(manifests.stored.len(), 8);
        assert_eq!(repo.blobs, BTreeSet::from([config.digest, layer.digest]));
    }

    #[test]
    fn indexes_nested_past_the_limit_are_refused() {
        let mut store = HashMap::new();
        let config = descriptor(media_types::OCI_CONFIG, b"config");
        let leaf =
            put(&mut store, media_types::OCI_MANIFEST, &serde_json::json!({ "schemaVersion": 2, "config": config }));
        let mut chain = vec![leaf];
        for _ in 0..=MAX_NESTING {
            let below = chain.last().expect("the leaf at least").clone();
            chain.push(put(
                &mut store,
                media_types::OCI_INDEX,
                &serde_json::json!({ "schemaVersion": 2, "manifests": [below] }),
            ));
        }
        let read = |d: &Digest| -> Result<Vec<u8>> { Ok(store[d].clone()) };
        let walk = |top: &Descriptor| Manifests::default().walk(top, &mut Repository::default(), &read);
        assert!(walk(&chain[MAX_NESTING as usize]).is_ok(), "a manifest under 4 indexes is served");
        let refused = walk(&chain[MAX_NESTING as usize + 1]).expect_err("a manifest under 5 indexes is refused");
        assert!(refused.to_string().contains("nested more than 4 deep"), "{refused}");
    }

    /// A server answering `ok` to every request, on a free loopback port, within `limits`.
    async fn ok_server(limits: ServerLimits, tls: Option<tokio_rustls::TlsAcceptor>) -> SocketAddr {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        tokio::spawn(accept_loop(listener, tls, limits, |_peer| {
            hyper::service::service_fn(|_req: Request<hyper::body::Incoming>| async {
                Ok::<_, Infallible>(Response::new(full("ok")))
            })
        }));
        addr
    }

    /// The status line answering `GET /` on a new connection; `None` when the server closed
    /// the connection without an answer.
    async fn get(addr: SocketAddr) -> Option<String> {
        let mut c = TcpStream::connect(addr).await.ok()?;
        c.write_all(b"GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n").await.ok()?;
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut answer)).await.ok()?.ok()?;
        String::from_utf8_lossy(&answer).lines().next().map(str::to_owned)
    }

    /// Whether the server closes `c` within `within` of its last byte.
    async fn closed_within(c: &mut TcpStream, within: Duration) -> bool {
        let mut buf = [0u8; 1024];
        loop {
            match tokio::time::timeout(within, c.read(&mut buf)).await {
                Err(_) => return false,
                Ok(Ok(0) | Err(_)) => return true,
                Ok(Ok(_)) => {}
            }
        }
    }

    #[tokio::test]
    async fn a_connection_that_sends_nothing_is_closed_after_the_idle_timeout() {
        let addr =
            ok_server(ServerLimits { idle_timeout: Duration::from_millis(300), ..Default::default() }, None).await;
        let mut silent = TcpStream::connect(addr).await.expect("connect");
        assert!(closed_within(&mut silent, Duration::from_secs(10)).await, "a silent connection was kept open");
        assert_eq!(get(addr).await.as_deref(), Some("HTTP/1.1 200 OK"));
    }

    #[tokio::test]
    async fn a_client_that_trickles_its_headers_is_closed_after_the_header_timeout() {
        let limits = ServerLimits { header_read_timeout: Duration::from_millis(500), ..Default::default() };
        let addr = ok_server(limits, None).await;
        let mut slow = TcpStream::connect(addr).await.expect("connect");
        let started = std::time::Instant::now();
        // A header line every 200 ms (too few to hit the header count limit): never idle,
        // never done. A write fails once the server has closed the connection.
        let mut line: &[u8] = b"GET / HTTP/1.1\r\n";
        while slow.write_all(line).await.is_ok() {
            assert!(started.elapsed() < Duration::from_secs(5), "a client trickling its headers was kept 5 s");
            tokio::time::sleep(Duration::from_millis(200)).await;
            line = b"x-trickle: 1\r\n";
        }
    }

    #[tokio::test]
    async fn a_tls_handshake_that_never_completes_is_dropped_after_the_handshake_timeout() {
        let pki = tempfile::tempdir().expect("temporary directory");
        let (_, cert, key) = genesis_testkit::test_pki(pki.path());
        let limits = ServerLimits { tls_handshake_timeout: Duration::from_millis(500), ..Default::default() };
        let addr = ok_server(limits, Some(tls_acceptor(&cert, &key).expect("TLS acceptor"))).await;
        let mut slow = TcpStream::connect(addr).await.expect("connect");
        let started = std::time::Instant::now();
        // A handshake record announcing 512 bytes, then a byte every 100 ms: never idle, never done.
        let mut bytes: &[u8] = &[0x16, 0x03, 0x01, 0x02, 0x00];
        while slow.write_all(bytes).await.is_ok() {
            assert!(started.elapsed() < Duration::from_secs(10), "a TLS handshake was left pending 10 s");
            tokio::time::sleep(Duration::from_millis(100)).await;
            bytes = &[0x01];
        }
    }

    #[tokio::test]
    async fn past_the_connection_limit_a_newcomer_takes_the_place_of_a_quiet_connection_only() {
        let limits = ServerLimits { max_connections: NonZeroUsize::new(2).expect("not zero"), ..Default::default() };
        let addr = ok_server(limits, None).await;
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut c = TcpStream::connect(addr).await.expect("connect");
            c.write_all(b"GET / HTTP/1.1\r\n").await.expect("write");
            held.push(c);
        }
        // While both keep sending, a newcomer is closed unanswered.
        for _ in 0..3 {
            for c in &mut held {
                c.write_all(b"x-busy: 1\r\n").await.expect("write");
            }
            assert_eq!(get(addr).await, None, "a newcomer displaced a connection that is moving bytes");
        }
        // Once they have been quiet for a second, a newcomer is served in place of one of them.
        let started = std::time::Instant::now();
        while get(addr).await.as_deref() != Some("HTTP/1.1 200 OK") {
            assert!(started.elapsed() < Duration::from_secs(10), "no newcomer was served past quiet connections");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        let mut closed = 0;
        for c in &mut held {
            closed += usize::from(closed_within(c, Duration::from_millis(500)).await);
        }
        assert_eq!(closed, 1, "exactly the connection that made room is closed");
    }
}
