//! `bundle-loader serve`: a read-only OCI registry that serves a checked bundle straight
//! from its `.tar.zst` through the seek table, with no second copy on disk.
//!
//! Routing and responses are plain functions over `http` types ([`route`]); the hyper
//! server is a thin executor. Blobs are sent as slices of the decompressed frames; a bundle
//! file changed after verification ends a response with an error instead of serving it.

use std::collections::{BTreeMap, BTreeSet, HashMap};
use std::convert::Infallible;
use std::net::SocketAddr;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt as _;
use genesis_trust::CheckedBundle;
use genesis_types::{Descriptor, Digest, ImageIndex, ImageManifest, ImageReference, media_types};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;

use crate::archive_blobs::{ArchiveIndex, ArchiveRange, image_top};
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
    manifests: HashMap<Digest, StoredManifest>,
    referrers: HashMap<Digest, Vec<Descriptor>>,
}

impl Served {
    /// Indexes a checked bundle: repositories and tags from the BOM's image references,
    /// manifests (kept in memory, each checked against its digest), blobs (located in the
    /// archive, read through a cache of up to `frame_cache` bytes of decompressed frames),
    /// referrers (manifests with a `subject`).
    pub fn new(bundle: &CheckedBundle, frame_cache: u64) -> Result<Served> {
        let index = ArchiveIndex::open(bundle.path(), bundle.bom(), &Default::default())?
            .pinned(bundle.stamp())
            .with_frame_cache(frame_cache);
        let mut served =
            Served { index, repositories: BTreeMap::new(), manifests: HashMap::new(), referrers: HashMap::new() };
        let Some(layout) = served.index.layout_index(bundle.bom())? else { return Ok(served) };
        for image in &bundle.bom().images {
            let reference: ImageReference =
                image.reference.parse().map_err(|e| RegistryError::Invalid(format!("{e}")))?;
            let top = image_top(&layout, image)?;
            let mut repo = served.repositories.remove(reference.repository()).unwrap_or_default();
            if let Some(tag) = reference.tag() {
                repo.tags.insert(tag.to_owned(), top.digest.clone());
            }
            served.walk(&top, &mut repo, 0)?;
            served.repositories.insert(reference.repository().to_owned(), repo);
        }
        Ok(served)
    }

    fn walk(&mut self, d: &Descriptor, repo: &mut Repository, depth: u32) -> Result<()> {
        if depth > 4 {
            return Err(RegistryError::Invalid("indexes nested more than 4 deep".into()));
        }
        repo.manifests.insert(d.digest.clone());
        let bytes = Bytes::from(self.index.read_verified(&d.digest, crate::MAX_MANIFEST as u64)?);
        let invalid = |e: serde_json::Error| RegistryError::Invalid(format!("{}: {e}", d.digest));
        if media_types::is_index(&d.media_type) {
            let idx: ImageIndex = serde_json::from_slice(&bytes).map_err(invalid)?;
            for child in &idx.manifests {
                self.walk(child, repo, depth + 1)?;
            }
        } else if media_types::is_manifest(&d.media_type) {
            let m: ImageManifest = serde_json::from_slice(&bytes).map_err(invalid)?;
            repo.blobs.extend(std::iter::once(&m.config).chain(&m.layers).map(|b| b.digest.clone()));
            if let Some(subject) = &m.subject {
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
        self.manifests.insert(d.digest.clone(), StoredManifest { media_type: d.media_type.clone(), bytes });
        Ok(())
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
    let Some(m) = digest.as_ref().and_then(|d| served.manifests.get(d)) else {
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
    let filter = query.and_then(|q| q.split('&').find_map(|kv| kv.strip_prefix("artifactType="))).map(str::to_owned);
    let list: Vec<&Descriptor> = served
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

/// Streams `len` bytes from `start` of a blob, decompressed frame by frame on a blocking
/// thread and sent without copying. The bundle was hashed in full when the server started;
/// from then on its stamp is checked when a blob is opened and before its last bytes go
/// out ([`ArchiveIndex::pinned`]), and zstd checks each frame's content checksum, so a file
/// changed or damaged since ends the response with an error instead of serving it.
fn stream_range(source: ArchiveRange, start: u64, len: u64) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<std::io::Result<Bytes>>(2);
    tokio::task::spawn_blocking(move || {
        let frames = match source.frames_at(start, len) {
            Ok(f) => f,
            Err(e) => {
                let _ = tx.blocking_send(Err(e));
                return;
            }
        };
        for slice in frames {
            let item = slice.map(|(frame, part)| Bytes::from_owner(SharedFrame(frame)).slice(part));
            if let Err(e) = &item {
                tracing::error!(error = %e, "reading a blob from the bundle failed; aborting the response");
            }
            let failed = item.is_err();
            if tx.blocking_send(item).is_err() || failed {
                return;
            }
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    BodyExt::boxed(StreamBody::new(stream.map(|r| r.map(Frame::data))))
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

/// Serves `served` on `listener` until the task is dropped.
pub async fn serve(
    served: Arc<Served>,
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
) -> Result<()> {
    accept_loop(listener, tls, move |peer| {
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

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Accepts connections on `listener` until the task is dropped, each over TLS when `tls` is
/// given (a failed handshake drops that connection only), each served over HTTP/1.1 or
/// HTTP/2 by the service `make` returns for its peer. Shared by every server we run.
pub async fn accept_loop<S, B>(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    make: impl Fn(SocketAddr) -> S,
) -> Result<()>
where
    S: hyper::service::Service<Request<hyper::body::Incoming>, Response = Response<B>> + Send + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError>,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    loop {
        let (stream, peer) = listener.accept().await.map_err(RegistryError::io("accepting", "listener"))?;
        let (service, tls) = (make(peer), tls.clone());
        tokio::spawn(async move {
            let builder = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
            let result = match tls {
                Some(acceptor) => match acceptor.accept(stream).await {
                    Ok(s) => builder.serve_connection(hyper_util::rt::TokioIo::new(s), service).await,
                    Err(e) => {
                        tracing::debug!(%peer, error = %e, "TLS handshake failed");
                        return;
                    }
                },
                None => builder.serve_connection(hyper_util::rt::TokioIo::new(stream), service).await,
            };
            if let Err(e) = result {
                tracing::debug!(%peer, error = %e, "connection ended");
            }
        });
    }
}

/// Binds `addr`.
pub async fn bind(addr: SocketAddr) -> Result<tokio::net::TcpListener> {
    tokio::net::TcpListener::bind(addr).await.map_err(RegistryError::io("listening on", addr))
}

#[cfg(test)]
mod tests {
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
}
