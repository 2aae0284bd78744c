//! `bundle-loader serve`: a read-only OCI registry that serves a checked bundle straight
//! from its `.tar.zst` through the seek table, with no second copy on disk.
//!
//! Routing and responses are plain functions over `http` types ([`route`]); the hyper
//! server is a thin executor. Blobs are sent as slices of the decompressed frames, or, where
//! the bundle stores them in frames of raw blocks (compressed layers), as their bytes read
//! straight from the file (decision 0041); a bundle file changed after verification ends a
//! response with an error instead of serving it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::convert::Infallible;
use std::io;
use std::net::{IpAddr, Ipv6Addr, SocketAddr};
use std::num::NonZeroUsize;
use std::path::Path;
use std::pin::Pin;
use std::sync::atomic::{AtomicBool, AtomicU64, AtomicUsize, Ordering};
use std::sync::{Arc, Mutex};
use std::task::{Context, Poll};
use std::time::Duration;

use bytes::Bytes;
use futures_util::StreamExt as _;
use genesis_bundle::{ArchiveIndex, ArchiveRange, FrameBuf, image_top};
use genesis_trust::{CheckedBundle, SignedBom as _};
use genesis_types::{Descriptor, Digest, ImageIndex, ImageManifest, ImageReference, MAX_MANIFEST, media_types};
use http::{HeaderValue, Method, Request, Response, StatusCode, header};
use http_body_util::combinators::BoxBody;
use http_body_util::{BodyExt, Full, StreamBody};
use hyper::body::Frame;
use hyper::service::Service as _;
use tokio::io::{AsyncRead, AsyncWrite, ReadBuf};
use tokio::sync::{OwnedSemaphorePermit, Semaphore};
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

/// One manifest the server knows, and what it lists.
#[derive(Debug, Clone)]
struct StoredManifest {
    media_type: String,
    bytes: Bytes,
    below: Below,
}

/// What a manifest lists, parsed once however many images share it.
#[derive(Debug, Clone)]
enum Below {
    /// An index's manifests.
    Manifests(Arc<[Descriptor]>),
    /// An image manifest's config and layers.
    Blobs(Arc<[Digest]>),
    /// Nothing: another media type.
    Nothing,
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
    memory: FrameMemory,
}

/// Reads a manifest's bytes, checked against its digest.
type ReadManifest<'a> = &'a dyn Fn(&Digest) -> Result<Vec<u8>>;

/// How deep indexes may nest below an image's top manifest.
const MAX_NESTING: u32 = 4;

/// The manifests of the served images, each read and parsed once, and the referrers among
/// them.
#[derive(Default)]
struct Manifests {
    stored: HashMap<Digest, StoredManifest>,
    /// Manifests with a `subject`, by the subject's digest.
    referrers: HashMap<Digest, Vec<Descriptor>>,
}

impl Manifests {
    /// Records `top` and every manifest below it as `repo`'s. An index may list a child many
    /// times and children may be shared, within an image and between images, so each
    /// manifest is read and parsed once, and walked once per depth it is reached at in each
    /// image: a signed graph cannot make start-up repeat work exponentially, images sharing
    /// an index graph do not parse it again each, and the nesting limit still holds on every
    /// path.
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
        let below = match self.stored.get(&d.digest) {
            Some(m) => m.below.clone(),
            None => self.store(d, read)?,
        };
        match below {
            Below::Manifests(children) => {
                for child in children.iter() {
                    self.visit(child, repo, depth + 1, seen, read)?;
                }
            }
            Below::Blobs(blobs) => repo.blobs.extend(blobs.iter().cloned()),
            Below::Nothing => {}
        }
        Ok(())
    }

    /// Reads the manifest `d` describes, keeps it with what it lists, and records it as a
    /// referrer when it has a `subject`.
    fn store(&mut self, d: &Descriptor, read: ReadManifest<'_>) -> Result<Below> {
        let bytes = Bytes::from(read(&d.digest)?);
        let invalid = |e: serde_json::Error| RegistryError::Invalid(format!("{}: {e}", d.digest));
        let below = if media_types::is_index(&d.media_type) {
            let idx: ImageIndex = serde_json::from_slice(&bytes).map_err(invalid)?;
            Below::Manifests(idx.manifests.into())
        } else if media_types::is_manifest(&d.media_type) {
            let m: ImageManifest = serde_json::from_slice(&bytes).map_err(invalid)?;
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
            Below::Blobs(std::iter::once(&m.config).chain(&m.layers).map(|b| b.digest.clone()).collect())
        } else {
            Below::Nothing
        };
        let stored = StoredManifest { media_type: d.media_type.clone(), bytes, below: below.clone() };
        self.stored.insert(d.digest.clone(), stored);
        Ok(below)
    }
}

impl Served {
    /// Indexes a checked bundle: repositories and tags from the BOM's image references,
    /// manifests (kept in memory, each checked against its digest), blobs (located in the
    /// archive, read through a cache of up to `frame_cache` bytes of decompressed frames, or,
    /// in frames of raw blocks, straight from the file), referrers (manifests with a
    /// `subject`). Besides the cache, the responses in progress hold at most 256 MiB of
    /// decompressed frames, one frame each at most: past it, a response waits for its next
    /// frame until another response releases one, or, after a second, takes over the frame of
    /// one whose client has stopped reading ([`FrameMemory`]).
    pub fn new(bundle: &CheckedBundle, frame_cache: u64) -> Result<Served> {
        // A delta leaves out the blobs its base carries: a pull of its images would fail on
        // them (decision 0043).
        bundle.bom().require_full("serve")?;
        let index = bundle.archive_index(&Default::default())?.pinned(bundle.stamp()).with_frame_cache(frame_cache);
        let mut repositories = BTreeMap::<String, Repository>::new();
        let mut manifests = Manifests::default();
        if let Some(layout) = index.layout_index()? {
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
        Ok(Served { index, repositories, manifests, memory: FrameMemory::new(FRAME_MEMORY) })
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
pub async fn respond(served: &Arc<Served>, req: &Request<RequestBody>) -> Response<Body> {
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
        Route::Blob(name, digest) => {
            blob(served, &name, &digest, req.headers().get(header::RANGE), head, req.extensions().get::<Client>())
        }
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

fn blob(
    served: &Served,
    name: &str,
    digest: &str,
    range: Option<&HeaderValue>,
    head: bool,
    client: Option<&Client>,
) -> Response<Body> {
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
    let body = if head { empty() } else { stream_range(source, start, len, served.memory.clone(), client.cloned()) };
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

/// Bytes of decompressed frames that responses may hold at once: 64 frames of 4 MiB.
const FRAME_MEMORY: u64 = 256 << 20;

/// The decompressed frames that responses hold, within a budget counted in KiB. A response
/// reserves a frame's size before the frame is decompressed (or taken from the cache), and
/// holds it until the last piece of the frame has been written out or dropped: a client that
/// stops reading holds one frame, and responses past the budget wait for one to be released
/// instead of holding more. A frame several responses share counts once for each, so the
/// budget bounds what clients can make the server hold whoever decompressed it; the frame
/// cache has its own budget beside this one.
///
/// Clients that stop reading would hold the budget until the idle timeout, so, as for a
/// place among the responses in progress, a response that has waited [`QUIET`] makes room,
/// every [`QUIET`] until it has its frame: it closes a connection (not its own) holding frame
/// memory whose responses have waited on their client for [`QUIET`]
/// ([`Connections::make_room_for_frames`]). Memory that clients release by reading is taken
/// in turn; memory taken back from a connection closed goes to the response that began
/// waiting last, so that a newcomer does not wait behind every stalled download of a flood
/// while they are found out, a budget's worth a second.
#[derive(Clone)]
struct FrameMemory {
    free_kib: Arc<Semaphore>,
    total_kib: u32,
    /// Responses that have waited [`QUIET`], in the order they began waiting.
    heirs: Arc<Mutex<Vec<Heir>>>,
}

/// Where the frame memory a connection closed to make room held goes once released: to a
/// response waiting for frame memory.
type Heir = tokio::sync::mpsc::UnboundedSender<OwnedSemaphorePermit>;

impl FrameMemory {
    fn new(bytes: u64) -> FrameMemory {
        let total_kib = u32::try_from(bytes / 1024).unwrap_or(u32::MAX).max(1);
        FrameMemory { free_kib: Arc::new(Semaphore::new(total_kib as usize)), total_kib, heirs: Arc::default() }
    }

    /// Reserves `bytes` of frame for a response of `client` once they are free, making room
    /// for them after [`QUIET`] (a stream alone, with no `client`, waits). A frame larger
    /// than the whole budget takes all of it, so that every frame is served in turn.
    async fn reserve(&self, bytes: u32, client: Option<&Client>) -> Reserved {
        let kib = bytes.div_ceil(1024).min(self.total_kib);
        let acquire =
            async { Arc::clone(&self.free_kib).acquire_many_owned(kib).await.expect("the semaphore is never closed") };
        let permit = match client {
            Some(client) => self.acquire_making_room(kib, acquire, client).await,
            None => acquire.await,
        };
        Reserved::new(permit, client.map(|c| Arc::clone(&c.conn)))
    }

    /// `kib` from `acquire`, in turn; or, once it has waited [`QUIET`], listed as an heir and
    /// making room every [`QUIET`], from connections closed to make room for the newest heir.
    async fn acquire_making_room(
        &self,
        kib: u32,
        acquire: impl Future<Output = OwnedSemaphorePermit>,
        client: &Client,
    ) -> OwnedSemaphorePermit {
        let mut acquire = std::pin::pin!(acquire);
        if let Ok(permit) = tokio::time::timeout(QUIET, &mut acquire).await {
            return permit;
        }
        let (heir, mut inherited) = tokio::sync::mpsc::unbounded_channel();
        let _listed = Listed::new(&self.heirs, heir);
        let mut taken_over: Option<OwnedSemaphorePermit> = None;
        let mut room = tokio::time::interval(QUIET);
        loop {
            tokio::select! {
                permit = &mut acquire => return permit,
                Some(permit) = inherited.recv() => {
                    let mut held = match taken_over.take() {
                        Some(mut held) => {
                            held.merge(permit);
                            held
                        }
                        None => permit,
                    };
                    if let Some(excess) = held.num_permits().checked_sub(kib as usize) {
                        drop(held.split(excess)); // back to the budget
                        return held;
                    }
                    taken_over = Some(held);
                }
                _ = room.tick() => {
                    let newest = self.heirs.lock().expect("not poisoned").last().cloned();
                    if let Some(newest) = newest {
                        client.connections.make_room_for_frames(&client.conn, newest);
                    }
                }
            }
        }
    }

    /// Bytes reserved now.
    #[cfg(test)]
    fn held(&self) -> u64 {
        let free = u32::try_from(self.free_kib.available_permits()).expect("at most the total");
        u64::from(self.total_kib - free) * 1024
    }
}

/// A response listed among the heirs of [`FrameMemory`] until dropped.
struct Listed<'a> {
    heirs: &'a Mutex<Vec<Heir>>,
    heir: Heir,
}

impl<'a> Listed<'a> {
    fn new(heirs: &'a Mutex<Vec<Heir>>, heir: Heir) -> Listed<'a> {
        heirs.lock().expect("not poisoned").push(heir.clone());
        Listed { heirs, heir }
    }
}

impl Drop for Listed<'_> {
    fn drop(&mut self) {
        self.heirs.lock().expect("not poisoned").retain(|h| !h.same_channel(&self.heir));
    }
}

/// Frame memory a response holds, counted on its connection: released when dropped, or handed
/// to the heir named when the connection was closed to make room.
struct Reserved {
    permit: Option<OwnedSemaphorePermit>,
    holder: Option<Arc<Conn>>,
}

impl Reserved {
    fn new(permit: OwnedSemaphorePermit, holder: Option<Arc<Conn>>) -> Reserved {
        if let Some(conn) = &holder {
            conn.frames_held.fetch_add(1, Ordering::SeqCst);
        }
        Reserved { permit: Some(permit), holder }
    }
}

impl Reserved {
    /// Keeps only what `bytes` need of the reservation and releases the rest at once.
    fn shrink_to(&mut self, bytes: usize) {
        let keep = bytes.div_ceil(1024);
        if let Some(permit) = &mut self.permit
            && let Some(excess) = permit.num_permits().checked_sub(keep).filter(|&n| n > 0)
        {
            drop(permit.split(excess));
        }
    }
}

impl Drop for Reserved {
    fn drop(&mut self) {
        let Some(conn) = &self.holder else { return };
        conn.frames_held.fetch_sub(1, Ordering::SeqCst);
        let heir = conn.frames_heir.lock().expect("not poisoned").clone();
        if let (Some(heir), Some(permit)) = (heir, self.permit.take()) {
            // An heir that has stopped waiting hands it back, dropped: released.
            let _ = heir.send(permit);
        }
    }
}

/// A decompressed frame shared with the archive's cache (or the part of a raw frame read for
/// the response), sent as it is, with the memory reserved for it: released, and `_gone`
/// closed, when the last of its pieces is dropped.
struct SharedFrame {
    frame: Arc<FrameBuf>,
    _reserved: Reserved,
    _gone: tokio::sync::oneshot::Sender<()>,
}

impl AsRef<[u8]> for SharedFrame {
    fn as_ref(&self) -> &[u8] {
        &self.frame
    }
}

/// Streams `len` bytes from `start` of a blob, decompressed frame by frame and sent without
/// copying, within `memory` (making room in it for a response of `client`, see
/// [`FrameMemory`]). Each frame is decompressed in a short call on the blocking pool
/// and handed to the response by an async task: a client that stops reading holds that task
/// and one frame, never a blocking thread, so slow readers cannot starve the pool every other
/// response needs. A frame of raw blocks is not decompressed: the part of it in the range is
/// read from the file in the same short call (kept in the frame cache only in room it has
/// free, decision 0045), and held and sent as a decompressed frame is. The bundle was hashed
/// in full when the server started, each raw frame's bytes among the rest; from then on its
/// stamp is checked when a blob is opened and before its last bytes go out
/// ([`ArchiveIndex::pinned`]), so a file changed since ends the response with an error
/// instead of serving it. zstd checks a compressed frame's content
/// checksum as it decompresses it; a raw frame's is not computed here (a range need not cover
/// whole frames), and damage to the disk under it after start reaches the client, whose
/// digest check of the blob refuses it (decision 0041).
fn stream_range(source: ArchiveRange, start: u64, len: u64, memory: FrameMemory, client: Option<Client>) -> Body {
    let (tx, rx) = tokio::sync::mpsc::channel::<io::Result<Bytes>>(2);
    tokio::spawn(async move {
        if let Err(e) = send_frames(source, start, len, &memory, client.as_ref(), &tx).await {
            tracing::error!(error = %e, "reading a blob from the bundle failed; aborting the response");
            let _ = tx.send(Err(e)).await;
        }
    });
    let stream = futures_util::stream::unfold(rx, |mut rx| async move { rx.recv().await.map(|item| (item, rx)) });
    BodyExt::boxed(StreamBody::new(stream.map(|r| r.map(Frame::data))))
}

/// Sends the frames of a range into `tx`, until the last or until the client has gone. A
/// frame is decompressed (or a raw frame's part read) once its size is reserved in `memory`,
/// and not before the last piece of the one before has been written out: a response holds
/// one frame at a time.
async fn send_frames(
    source: ArchiveRange,
    start: u64,
    len: u64,
    memory: &FrameMemory,
    client: Option<&Client>,
    tx: &tokio::sync::mpsc::Sender<io::Result<Bytes>>,
) -> io::Result<()> {
    let mut frames = on_blocking_pool(move || source.frames_at(start, len)).await?;
    while let Some(frame_len) = frames.next_frame_len() {
        let mut reserved = tokio::select! {
            reserved = memory.reserve(frame_len, client) => reserved,
            () = tx.closed() => return Ok(()), // the client has gone
        };
        let turn = DECOMPRESSING.acquire().await.map_err(io::Error::other)?;
        let (rest, next) = on_blocking_pool(move || {
            let next = frames.next();
            Ok((frames, next))
        })
        .await?;
        drop(turn);
        frames = rest;
        let Some((frame, part)) = next.transpose()? else { return Ok(()) };
        // A small part of a large frame (a small blob among others in it): copied out, so
        // that while the response waits on its client it holds, and reserves, its part and
        // not the whole frame (which the cache keeps, within its own budget, or drops).
        let (frame, part) = if part.len().saturating_mul(4) < frame.len() {
            let copy = Arc::new(frame.copy_of(part));
            reserved.shrink_to(copy.len());
            let len = copy.len();
            (copy, 0..len)
        } else {
            (frame, part)
        };
        let (gone, all_gone) = tokio::sync::oneshot::channel::<()>();
        let frame = Bytes::from_owner(SharedFrame { frame, _reserved: reserved, _gone: gone }).slice(part);
        for at in (0..frame.len()).step_by(SEND_PIECE) {
            if tx.send(Ok(frame.slice(at..frame.len().min(at + SEND_PIECE)))).await.is_err() {
                return Ok(()); // the client has gone
            }
        }
        drop(frame);
        // Never sent: completes (with an error) once every piece has been dropped.
        let _ = all_gone.await;
    }
    Ok(())
}

/// Frames read for responses at once (decompressed, or read from the file or the cache),
/// whatever the number of responses: decompressing is work for the CPU, so more at once than
/// it has cores would only hold more decompressed frames in memory.
static DECOMPRESSING: std::sync::LazyLock<tokio::sync::Semaphore> = std::sync::LazyLock::new(|| {
    tokio::sync::Semaphore::new(std::thread::available_parallelism().map_or(2, std::num::NonZero::get))
});

/// The most of a frame handed to the protocol at once, so that a client's progress is seen
/// piece by piece, not once per 4 MiB frame (see [`accept_loop`], "Who makes room").
const SEND_PIECE: usize = 64 << 10;

/// Runs `f` on the blocking pool; a panic there fails the one response.
async fn on_blocking_pool<T: Send + 'static>(f: impl FnOnce() -> io::Result<T> + Send + 'static) -> io::Result<T> {
    tokio::task::spawn_blocking(f).await.map_err(io::Error::other)?
}

/// A certificate chain and key for HTTPS, with the provider of every TLS configuration of
/// Genesis ([`genesis_http::provider`]).
pub fn tls_acceptor(cert: &Path, key: &Path) -> Result<tokio_rustls::TlsAcceptor> {
    let read = |p: &Path| std::fs::read(p).map_err(RegistryError::io("reading", p.display()));
    let certs = rustls_pemfile::certs(&mut read(cert)?.as_slice())
        .collect::<std::result::Result<Vec<_>, _>>()
        .map_err(RegistryError::io("parsing", cert.display()))?;
    let key = rustls_pemfile::private_key(&mut read(key)?.as_slice())
        .map_err(RegistryError::io("parsing", key.display()))?
        .ok_or_else(|| RegistryError::Invalid(format!("{}: no private key", key.display())))?;
    let config = rustls::ServerConfig::builder_with_provider(genesis_http::provider())
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
        hyper::service::service_fn(move |req: Request<RequestBody>| {
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

/// What a server grants its clients: how many connections and responses at once, and how
/// long it waits on each. The defaults keep a server answering while anyone who can connect
/// opens sockets and sends nothing, trickles a request or its body, stops reading, opens
/// HTTP/2 streams it gives no flow-control credit, or keeps every connection it may open
/// busy. A timeout of `Duration::MAX` means none.
///
/// **Descriptors.** A connection holds a socket; a response in progress may hold an open
/// file (a portal artifact; `serve` reads its bundle through one descriptor that every
/// response shares); the process needs some more (64: the listener, the runtime, logs, a
/// database, sockets accepted only to be closed). So `max_connections + max_streams + 64`
/// must stay within the open-file limit (`RLIMIT_NOFILE`, `ulimit -n`): the defaults need
/// 864 of the usual 1,024. [`accept_loop`] checks this when it starts: it raises the soft
/// limit towards the hard one when that is enough, and else lowers both caps in proportion,
/// with a warning.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct ServerLimits {
    /// Connections served at once. Past it, a new connection takes the place of one (see
    /// [`accept_loop`]): of the peer holding the most connections when the newcomer's holds
    /// at least two fewer, else one that has been waiting on its client for a second; else
    /// it is closed at once. So open sockets cannot lock clients out, and descriptors do not
    /// run out. Default 400.
    pub max_connections: NonZeroUsize,
    /// Connections one peer may hold at once: an IPv4 address, or an IPv6 /64 (what one host
    /// is usually given). Past it, a new connection of that peer takes the place of one of its
    /// own that has been waiting on its client for a second, else it is closed at once. So
    /// one address cannot take every place. Default an eighth of `max_connections`
    /// ([`ServerLimits::connections_per_peer`]), 50.
    pub max_connections_per_peer: NonZeroUsize,
    /// Responses in progress at once, over every connection: an HTTP/1.1 connection carries
    /// one at a time, an HTTP/2 connection up to [`MAX_STREAMS_PER_CONNECTION`]. Past it, a
    /// request waits up to a second for a place (a connection that holds responses and has
    /// been waiting on its client for a second is closed to make one) and is else answered
    /// `503` with `Retry-After`. Default 400, as many as connections, so that only HTTP/2
    /// multiplexing meets it.
    pub max_streams: NonZeroUsize,
    /// Time a client has to send a request's headers (HTTP/1), on a new connection or between
    /// the requests of a kept-alive one. Default 30 s.
    pub header_read_timeout: Duration,
    /// Time a client has to send a request's body, from the request's headers. Default 30 s.
    pub body_read_timeout: Duration,
    /// Time a client has to complete the TLS handshake. Default 10 s.
    pub tls_handshake_timeout: Duration,
    /// Time a connection may move no byte either way before it is closed: a client that sends
    /// nothing, or stops reading its response. Default 60 s.
    pub idle_timeout: Duration,
}

impl Default for ServerLimits {
    fn default() -> ServerLimits {
        let max_connections = NonZeroUsize::new(400).expect("not zero");
        ServerLimits {
            max_connections,
            max_connections_per_peer: ServerLimits::connections_per_peer(max_connections),
            max_streams: NonZeroUsize::new(400).expect("not zero"),
            header_read_timeout: Duration::from_secs(30),
            body_read_timeout: Duration::from_secs(30),
            tls_handshake_timeout: Duration::from_secs(10),
            idle_timeout: Duration::from_secs(60),
        }
    }
}

/// Descriptors a server needs besides its connections and responses (see [`ServerLimits`]).
const RESERVED_FILES: u64 = 64;

impl ServerLimits {
    /// The connections one peer may hold by default, of `max_connections`: an eighth, at
    /// least one.
    pub fn connections_per_peer(max_connections: NonZeroUsize) -> NonZeroUsize {
        NonZeroUsize::new(max_connections.get() / 8).unwrap_or(NonZeroUsize::MIN)
    }

    /// Descriptors these limits may hold at once.
    fn open_files(&self) -> u64 {
        (self.max_connections.get() as u64).saturating_add(self.max_streams.get() as u64).saturating_add(RESERVED_FILES)
    }

    /// These limits within `files` descriptors: unchanged when they fit, else connections and
    /// responses lowered in proportion (at least one of each), and a peer's connections with
    /// them.
    fn within_open_files(self, files: u64) -> ServerLimits {
        if self.open_files() <= files {
            return self;
        }
        let room = u128::from(files.saturating_sub(RESERVED_FILES));
        let (connections, streams) = (self.max_connections.get() as u128, self.max_streams.get() as u128);
        let fitted_connections = room * connections / (connections + streams);
        let fitted_streams = room - fitted_connections;
        let at_least_one =
            |n: u128| NonZeroUsize::new(usize::try_from(n).unwrap_or(usize::MAX)).unwrap_or(NonZeroUsize::MIN);
        let per_peer = self.max_connections_per_peer.get() as u128;
        ServerLimits {
            max_connections: at_least_one(fitted_connections),
            max_connections_per_peer: at_least_one(per_peer * fitted_connections / connections),
            max_streams: at_least_one(fitted_streams),
            ..self
        }
    }
}

/// `limits` within this process's open-file limit: when they need more descriptors than the
/// soft limit allows, it is raised towards the hard limit; when that is not enough, the caps
/// are lowered to fit, with a warning. Without it, `accept` fails once the descriptors run
/// out, and nothing makes room.
fn fit_open_files(limits: ServerLimits) -> ServerLimits {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let needed = limits.open_files();
    let Rlimit { current, maximum } = getrlimit(Resource::Nofile);
    let mut soft = current.unwrap_or(u64::MAX);
    if soft < needed {
        let raised = maximum.map_or(needed, |hard| hard.min(needed));
        if raised > soft && setrlimit(Resource::Nofile, Rlimit { current: Some(raised), maximum }).is_ok() {
            tracing::info!(from = soft, to = raised, "raised the open-file limit for the server's connections");
            soft = raised;
        }
    }
    let fitted = limits.within_open_files(soft);
    if fitted != limits {
        tracing::warn!(
            "the open-file limit ({soft}) is below the {needed} descriptors that {} connections and {} responses \
             at once need: serving at most {} connections and {} responses; raise the limit (ulimit -n) to {needed} \
             for the limits asked",
            limits.max_connections,
            limits.max_streams,
            fitted.max_connections,
            fitted.max_streams,
        );
    }
    fitted
}

/// Streams one HTTP/2 connection may carry at once (hyper's default is 200): with
/// [`ServerLimits::max_streams`], what bounds the responses one client holds open.
pub const MAX_STREAMS_PER_CONNECTION: u32 = 16;

/// How long to wait before accepting again after `accept` failed (out of descriptors, say),
/// so the loop does not spin while the cause lasts.
const ACCEPT_BACKOFF: Duration = Duration::from_millis(100);

/// How long a connection must have been waiting on its client before a newcomer may take its
/// place (unless the newcomer's peer holds far fewer connections than the connection's, see
/// [`accept_loop`]): a client that is being served, or that is taking its response, is not
/// cut for a newcomer.
const QUIET: Duration = Duration::from_secs(1);

/// How long a request waits for a place among the responses in progress before it is
/// answered 503.
const STREAM_WAIT: Duration = Duration::from_secs(1);

/// How often, at most, the server says at warn what it turned away.
const WARN_EVERY: Duration = Duration::from_secs(10);

/// Where a deadline goes that an `Instant` cannot hold: 30 years on, as tokio's own.
const FAR_FUTURE: Duration = Duration::from_secs(30 * 365 * 24 * 60 * 60);

/// `timeout` after `at`; [`FAR_FUTURE`] after it when an `Instant` cannot hold that (a
/// timeout of `Duration::MAX`, which means none).
fn deadline_after(at: Instant, timeout: Duration) -> Instant {
    at.checked_add(timeout).unwrap_or_else(|| at + FAR_FUTURE)
}

type BoxError = Box<dyn std::error::Error + Send + Sync>;

/// Accepts connections on `listener` until the task is dropped, each over TLS when `tls` is
/// given, each served over HTTP/1.1 or HTTP/2 by the service `make` returns for its peer,
/// within `limits` (first fitted to the open-file limit, see [`ServerLimits`]). Shared by
/// every server we run. Nothing a client does ends the loop: a failed `accept` is logged and
/// tried again shortly (out of descriptors, after closing a connection that waits on its
/// client), and a failed or timed-out handshake or connection drops that connection only.
///
/// **Who makes room.** Past a cap, the connection closed is one that has been *waiting on
/// its client* for a second. That time runs from the client's last step (the connection
/// accepted, a request or a piece of its body received, a piece of a response taken, a write
/// the client held up drained, a response ended) and stops while the server itself works on
/// a response (waiting for a request's body is not its work, and nothing is while a write
/// waits for the client). So a client that trickles a request it never completes, stalls in
/// a request body, idles between requests, stops reading, or holds HTTP/2 streams open
/// without flow-control credit (pinging or not) makes room, and a download waiting on a slow
/// server does not. Past the responses allowed, the
/// same holds of a connection's responses, counting only their own steps from the place each
/// took (not requests received, waiting for a place, or ended): asking for more does not make
/// up for responses a client does not take; and so past the frame memory a service's
/// responses share, among connections holding some (`FrameMemory`). Among those waiting, a
/// connection of the peer holding the most connections goes first.
///
/// **One peer cannot lock the others out.** A peer is an IPv4 address or an IPv6 /64, and
/// holds at most [`ServerLimits::max_connections_per_peer`] connections: past it, its
/// newcomer takes the place of one of its own connections that waits on its client, else is
/// closed. When every connection is in use, a newcomer whose peer holds at least two fewer
/// connections than the peer holding the most takes the place of that peer's connection that
/// has waited longest on its client, a second or not: a peer keeping all its connections busy
/// gives way to others, and two peers cannot take a place back and forth.
///
/// What is turned away is logged at warn, at most every 10 s, with counts.
///
/// **Request bodies.** The service reads each request's body as a [`RequestBody`], which must
/// arrive whole within [`ServerLimits::body_read_timeout`].
pub async fn accept_loop<S, B>(
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    limits: ServerLimits,
    make: impl Fn(SocketAddr) -> S,
) -> Infallible
where
    S: hyper::service::Service<Request<RequestBody>, Response = Response<B>> + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Into<BoxError> + Send + 'static,
    B: hyper::body::Body + Send + 'static,
    B::Data: Send,
    B::Error: Into<BoxError>,
{
    let limits = fit_open_files(limits);
    let connections = Arc::new(Connections::new(&limits));
    let mut http = hyper_util::server::conn::auto::Builder::new(hyper_util::rt::TokioExecutor::new());
    // hyper adds the header timeout to an `Instant` as it is.
    http.http1()
        .timer(hyper_util::rt::TokioTimer::new())
        .header_read_timeout(limits.header_read_timeout.min(FAR_FUTURE));
    // No HTTP/2 keep-alive: the idle timeout already closes a peer that vanished (no byte
    // moves), and the server's own PINGs would count as bytes moved and keep idle
    // connections open for as long as their clients answer.
    http.http2().max_concurrent_streams(MAX_STREAMS_PER_CONNECTION);
    let http = Arc::new(http);
    loop {
        let (socket, peer) = match listener.accept().await {
            Ok(accepted) => accepted,
            Err(e) => {
                connections.accept_failed(&e);
                tokio::time::sleep(ACCEPT_BACKOFF).await;
                continue;
            }
        };
        let admitted = match connections.admit(peer.ip()) {
            Ok(admitted) => admitted,
            Err(refusal) => {
                tracing::debug!(%peer, "connection closed unanswered: {refusal}");
                continue;
            }
        };
        let io = TimedSocket::new(socket, Arc::clone(&admitted.conn), limits.idle_timeout);
        let service = Counting {
            inner: Arc::new(make(peer)),
            conn: Arc::clone(&admitted.conn),
            connections: Arc::clone(&connections),
            body_read_timeout: limits.body_read_timeout,
        };
        let (tls, http, handshake) = (tls.clone(), Arc::clone(&http), limits.tls_handshake_timeout);
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
                    tracing::debug!(%peer, "connection closed to make room");
                }
            }
        });
    }
}

/// The connections a server holds, at most `max` and at most `max_per_peer` of one peer, and
/// its places for responses in progress.
struct Connections {
    max: usize,
    max_per_peer: usize,
    epoch: Instant,
    next_id: AtomicU64,
    open: Mutex<HashMap<u64, Arc<Conn>>>,
    streams: Arc<Semaphore>,
    turned_away: Mutex<TurnedAway>,
}

impl Connections {
    fn new(limits: &ServerLimits) -> Connections {
        Connections {
            max: limits.max_connections.get(),
            max_per_peer: limits.max_connections_per_peer.get(),
            epoch: Instant::now(),
            next_id: AtomicU64::new(0),
            open: Mutex::default(),
            streams: Arc::new(Semaphore::new(limits.max_streams.get().min(Semaphore::MAX_PERMITS))),
            turned_away: Mutex::default(),
        }
    }

    fn now_ms(&self) -> u64 {
        millis(self.epoch.elapsed())
    }

    /// Admits a new connection from `addr`: at once, or in place of the connection
    /// [`admission`] chooses; else says why not.
    fn admit(self: &Arc<Self>, addr: IpAddr) -> std::result::Result<Admitted, Refusal> {
        let (peer, now) = (peer_of(addr), self.now_ms());
        let mut open = self.open.lock().expect("not poisoned");
        let evicted = match admission(&standings(&open, now), peer, self.max, self.max_per_peer) {
            Admission::Free => false,
            Admission::InPlaceOf(id) => close(&mut open, id),
            Admission::Refused(refusal) => {
                drop(open);
                self.note(Turned::Refused(refusal));
                return Err(refusal);
            }
        };
        let conn = Arc::new(Conn::new(self.next_id.fetch_add(1, Ordering::Relaxed), peer, self.epoch, now));
        open.insert(conn.id, Arc::clone(&conn));
        drop(open);
        if evicted {
            self.note(Turned::Evicted);
        }
        Ok(Admitted { connections: Arc::clone(self), conn })
    }

    /// Closes the connection [`victim`] chooses (by its responses, when `for_a_response`), if
    /// there is one.
    fn make_room(&self, for_a_response: bool) {
        let mut open = self.open.lock().expect("not poisoned");
        let closed = victim(&standings(&open, self.now_ms()), for_a_response).is_some_and(|id| close(&mut open, id));
        drop(open);
        if closed {
            self.note(Turned::Evicted);
        }
    }

    /// Closes the connection [`victim`] chooses by its responses among those holding frame
    /// memory but `own` (a response waiting on its own client just waits), naming `heir` as
    /// where that memory goes once released; the frame memory's `make_room(true)`.
    fn make_room_for_frames(&self, own: &Conn, heir: Heir) {
        let mut open = self.open.lock().expect("not poisoned");
        let now = self.now_ms();
        let holding: Vec<Standing> = open
            .values()
            .filter(|c| c.id != own.id && c.frames_held.load(Ordering::SeqCst) > 0)
            .map(|c| c.standing(now))
            .collect();
        let Some(id) = victim(&holding, true) else { return };
        *open[&id].frames_heir.lock().expect("not poisoned") = Some(heir);
        close(&mut open, id);
        drop(open);
        self.note(Turned::Evicted);
    }

    /// A place among the responses in progress: at once when one is free; else, after
    /// closing a connection whose responses wait on its client (if one's do), the first
    /// freed within [`STREAM_WAIT`]; else none.
    async fn stream_permit(&self) -> Option<OwnedSemaphorePermit> {
        if let Ok(permit) = Arc::clone(&self.streams).try_acquire_owned() {
            return Some(permit);
        }
        self.make_room(true);
        match tokio::time::timeout(STREAM_WAIT, Arc::clone(&self.streams).acquire_owned()).await {
            Ok(Ok(permit)) => Some(permit),
            Ok(Err(_)) | Err(_) => {
                self.note(Turned::Busy);
                None
            }
        }
    }

    /// `accept` failed: counted and logged; out of descriptors, a connection waiting on its
    /// client is closed so that a later `accept` finds one free.
    fn accept_failed(&self, e: &io::Error) {
        use rustix::io::Errno;
        if Errno::from_io_error(e).is_some_and(|n| n == Errno::MFILE || n == Errno::NFILE) {
            self.make_room(false);
        }
        self.note(Turned::AcceptFailed(e));
    }

    /// Counts `what`, and says at warn what was turned away, at most every [`WARN_EVERY`].
    fn note(&self, what: Turned<'_>) {
        let mut t = self.turned_away.lock().expect("not poisoned");
        match what {
            Turned::Refused(Refusal::Full) => t.refused += 1,
            Turned::Refused(Refusal::PeerFull) => t.refused_peer_full += 1,
            Turned::Evicted => t.evicted += 1,
            Turned::Busy => t.busy += 1,
            Turned::AcceptFailed(e) => {
                t.accept_failed += 1;
                t.last_accept_error = Some(e.to_string());
            }
        }
        if t.said_at.is_some_and(|at| at.elapsed() < WARN_EVERY) {
            return;
        }
        tracing::warn!(
            "the server is at its limits; since it last said so: {} new connections closed unanswered, {} more \
             because their peer held as many connections as one peer may, {} connections closed to make room, {} \
             requests answered 503, {} accepts failed (last error: {}); if these are clients, raise the limits",
            t.refused,
            t.refused_peer_full,
            t.evicted,
            t.busy,
            t.accept_failed,
            t.last_accept_error.as_deref().unwrap_or("none"),
        );
        *t = TurnedAway { said_at: Some(Instant::now()), ..TurnedAway::default() };
    }
}

/// Where each connection of `open` stands at `now` ms.
fn standings(open: &HashMap<u64, Arc<Conn>>, now: u64) -> Vec<Standing> {
    open.values().map(|c| c.standing(now)).collect()
}

/// Closes connection `id` of `open`; whether it was open.
fn close(open: &mut HashMap<u64, Arc<Conn>>, id: u64) -> bool {
    open.remove(&id).inspect(|conn| conn.evicted.notify_one()).is_some()
}

/// The peer a connection from `addr` counts against: an IPv4 address (IPv4-mapped IPv6
/// included), or an IPv6 /64, the block one host is usually given, so that a host cannot pass
/// for many by cycling through the addresses of its prefix.
fn peer_of(addr: IpAddr) -> IpAddr {
    match addr.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u128::MAX >> 64))),
        v4 => v4,
    }
}

/// What choosing a connection to close needs to know of one, at one instant.
#[derive(Debug, Clone, Copy)]
struct Standing {
    id: u64,
    /// Its peer ([`peer_of`]).
    peer: IpAddr,
    /// How long it has been waiting on its client ([`Conn::waiting_on_client`]).
    waiting: Duration,
    /// How long its responses have been waiting on the client to take them; `None` when it
    /// has none in progress ([`Conn::responses_waiting_on_client`]).
    responses_waiting: Option<Duration>,
}

/// How many connections each peer holds.
fn per_peer(standings: &[Standing]) -> HashMap<IpAddr, usize> {
    let mut held = HashMap::new();
    for s in standings {
        *held.entry(s.peer).or_default() += 1;
    }
    held
}

/// The connection to close to make room: among those that have been waiting on their client
/// for [`QUIET`] (to make room for a response, those whose responses have), one of the peer
/// holding the most connections (one client's flood goes before another's single
/// connection), and of those the one waiting longest.
fn victim(standings: &[Standing], for_a_response: bool) -> Option<u64> {
    let held = per_peer(standings);
    let waiting = |s: &Standing| if for_a_response { s.responses_waiting } else { Some(s.waiting) };
    standings
        .iter()
        .filter_map(|s| waiting(s).filter(|w| *w >= QUIET).map(|w| (s, w)))
        .max_by_key(|(s, w)| (held[&s.peer], *w))
        .map(|(s, _)| s.id)
}

/// What admitting a new connection takes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Admission {
    /// A place is free.
    Free,
    /// The connection with this id is closed to make one.
    InPlaceOf(u64),
    /// None is made.
    Refused(Refusal),
}

/// Why a new connection was closed unanswered.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Refusal {
    /// Every connection allowed is in use, and none may make room.
    Full,
    /// Its peer holds every connection one peer may, and none of them may make room.
    PeerFull,
}

impl std::fmt::Display for Refusal {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(match self {
            Refusal::Full => "every connection allowed is in use and none may make room",
            Refusal::PeerFull => "its peer holds as many connections as one peer may, and none waits on its client",
        })
    }
}

/// What admitting a newcomer from `peer` takes, given where the open connections stand (see
/// [`accept_loop`]): at its peer's cap, the place of one of its own that [`victim`] chooses;
/// below the server's cap, a free place; else, when its peer holds at least two fewer
/// connections than the peer holding the most, the place of that peer's connection that has
/// waited longest on its client, a second or not; else the place [`victim`] chooses.
fn admission(standings: &[Standing], peer: IpAddr, max: usize, max_per_peer: usize) -> Admission {
    let chosen = |id: Option<u64>, refusal: Refusal| id.map_or(Admission::Refused(refusal), Admission::InPlaceOf);
    let held = per_peer(standings);
    let holding = held.get(&peer).copied().unwrap_or(0);
    if holding >= max_per_peer {
        let own: Vec<Standing> = standings.iter().filter(|s| s.peer == peer).copied().collect();
        return chosen(victim(&own, false), Refusal::PeerFull);
    }
    if standings.len() < max {
        return Admission::Free;
    }
    let most = held.values().copied().max().unwrap_or(0);
    if holding + 2 <= most {
        let longest = standings.iter().filter(|s| held[&s.peer] == most).max_by_key(|s| s.waiting);
        return chosen(longest.map(|s| s.id), Refusal::Full);
    }
    chosen(victim(standings, false), Refusal::Full)
}

/// Something the server turned away.
enum Turned<'a> {
    /// A new connection closed unanswered.
    Refused(Refusal),
    /// A connection closed to make room.
    Evicted,
    /// A request answered 503: every response allowed is in progress.
    Busy,
    /// `accept` failed.
    AcceptFailed(&'a io::Error),
}

/// What the server turned away since it last said so, and when that was.
#[derive(Default)]
struct TurnedAway {
    refused: u64,
    refused_peer_full: u64,
    evicted: u64,
    busy: u64,
    accept_failed: u64,
    last_accept_error: Option<String>,
    said_at: Option<Instant>,
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

/// One admitted connection: its peer, when a byte last moved on it, how long it has been
/// waiting on its client, and the signal that closes it.
struct Conn {
    id: u64,
    /// Its peer ([`peer_of`]).
    peer: IpAddr,
    epoch: Instant,
    /// Milliseconds from `epoch` to the last byte moved either way (for the idle timeout).
    active_ms: AtomicU64,
    /// Milliseconds from `epoch` to the client's last step: a request or a piece of its body
    /// received, a response ended, or one of the steps of `responses_ms`.
    progress_ms: AtomicU64,
    /// Milliseconds from `epoch` to the last step of the client's responses: a place taken
    /// for one, a piece of one taken, a write the client held up drained, the server done
    /// working on a request.
    responses_ms: AtomicU64,
    /// Responses that hold a place among the responses in progress and have not ended.
    responding: AtomicUsize,
    /// Requests the server is working on: a service call under way, or a response body that
    /// has not produced its next piece yet.
    working: AtomicUsize,
    /// Requests whose body a service waits for: while its call is under way, that is waiting
    /// on the client, not work.
    awaiting_body: AtomicUsize,
    /// A write has waited for the client since its last step: whatever the server is doing,
    /// the client is not taking what it has been sent (say a response that sends its next
    /// frame once the last has gone out).
    write_held_up: AtomicBool,
    /// Frames its responses hold reserved in the frame memory ([`Reserved`]).
    frames_held: AtomicUsize,
    /// Where that memory goes once released, when the connection was closed to make room
    /// for a response waiting for frame memory.
    frames_heir: Mutex<Option<Heir>>,
    /// Notified when the connection is closed to make room.
    evicted: tokio::sync::Notify,
}

impl Conn {
    fn new(id: u64, peer: IpAddr, epoch: Instant, now: u64) -> Conn {
        Conn {
            id,
            peer,
            epoch,
            active_ms: AtomicU64::new(now),
            progress_ms: AtomicU64::new(now),
            responses_ms: AtomicU64::new(now),
            responding: AtomicUsize::new(0),
            working: AtomicUsize::new(0),
            awaiting_body: AtomicUsize::new(0),
            write_held_up: AtomicBool::new(false),
            frames_held: AtomicUsize::new(0),
            frames_heir: Mutex::new(None),
            evicted: tokio::sync::Notify::new(),
        }
    }

    fn now_ms(&self) -> u64 {
        millis(self.epoch.elapsed())
    }

    /// A byte moved.
    fn touch(&self) {
        self.active_ms.store(self.now_ms(), Ordering::Relaxed);
    }

    fn last_active(&self) -> Instant {
        self.epoch + Duration::from_millis(self.active_ms.load(Ordering::Relaxed))
    }

    /// The client's responses moved: from now on the connection waits on it again.
    fn progress(&self) {
        let now = self.now_ms();
        self.responses_ms.store(now, Ordering::SeqCst);
        self.progress_ms.store(now, Ordering::SeqCst);
    }

    /// A request or a piece of its body received, or a response ended: a step of the
    /// connection, not of its responses (a 503, or a response that failed, ends without the
    /// client taking it).
    fn request_step(&self) {
        self.progress_ms.store(self.now_ms(), Ordering::SeqCst);
    }

    /// A request was received; its response ends when the guard is dropped.
    fn begin_request(self: &Arc<Self>) -> InFlight {
        self.request_step();
        InFlight(Arc::clone(self))
    }

    /// A request took its place among the responses in progress: its response waits on the
    /// client from now on, until the guard is dropped.
    fn begin_response(self: &Arc<Self>) -> Responding {
        self.responses_ms.store(self.now_ms(), Ordering::SeqCst);
        self.responding.fetch_add(1, Ordering::SeqCst);
        Responding(Arc::clone(self))
    }

    /// The server works on a request until the guard is dropped.
    fn begin_work(self: &Arc<Self>) -> Working {
        self.working.fetch_add(1, Ordering::SeqCst);
        Working(Arc::clone(self))
    }

    /// A service waits for a request's body until the guard is dropped.
    fn await_body(self: &Arc<Self>) -> AwaitingBody {
        self.awaiting_body.fetch_add(1, Ordering::SeqCst);
        AwaitingBody(Arc::clone(self))
    }

    /// How long the connection has been waiting on its client at `now` ms: since the client's
    /// last step, and not at all while the server works on one of its requests (a slow
    /// response is the server's delay, not the client's; a request body is the client's)
    /// unless a write waits for the client.
    fn waiting_on_client(&self, now: u64) -> Duration {
        self.waited_since(&self.progress_ms, now)
    }

    /// How long the connection's responses have been waiting on the client at `now` ms,
    /// counted as [`Conn::waiting_on_client`] but from their last step only: requests the
    /// client keeps sending do not make up for responses it does not take. `None` when no
    /// response of it holds a place among the responses in progress: a request waiting for
    /// one has none yet.
    fn responses_waiting_on_client(&self, now: u64) -> Option<Duration> {
        (self.responding.load(Ordering::SeqCst) > 0).then(|| self.waited_since(&self.responses_ms, now))
    }

    fn waited_since(&self, step_ms: &AtomicU64, now: u64) -> Duration {
        let working = self.working.load(Ordering::SeqCst) > self.awaiting_body.load(Ordering::SeqCst);
        if working && !self.write_held_up.load(Ordering::SeqCst) {
            return Duration::ZERO;
        }
        Duration::from_millis(now.saturating_sub(step_ms.load(Ordering::SeqCst)))
    }

    fn standing(&self, now: u64) -> Standing {
        Standing {
            id: self.id,
            peer: self.peer,
            waiting: self.waiting_on_client(now),
            responses_waiting: self.responses_waiting_on_client(now),
        }
    }
}

/// A request on its connection, until its response ends: both are steps of the client.
struct InFlight(Arc<Conn>);

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.request_step();
    }
}

/// A response holding its place among the responses in progress, counted on its connection.
struct Responding(Arc<Conn>);

impl Drop for Responding {
    fn drop(&mut self) {
        self.0.responding.fetch_sub(1, Ordering::SeqCst);
    }
}

/// The server working on a request of its connection, which meanwhile waits on no client.
struct Working(Arc<Conn>);

impl Drop for Working {
    fn drop(&mut self) {
        // The step first: the connection must not look as if it had waited all along.
        self.0.progress();
        self.0.working.fetch_sub(1, Ordering::SeqCst);
    }
}

/// A service waiting for its request's body, which is waiting on the client.
struct AwaitingBody(Arc<Conn>);

impl Drop for AwaitingBody {
    fn drop(&mut self) {
        self.0.awaiting_body.fetch_sub(1, Ordering::SeqCst);
    }
}

fn millis(d: Duration) -> u64 {
    u64::try_from(d.as_millis()).unwrap_or(u64::MAX)
}

/// A response's place among the responses in progress ([`ServerLimits::max_streams`]), held
/// until it ends.
struct Slot {
    _permit: OwnedSemaphorePermit,
    _responding: Responding,
}

/// The connection a request came on, with the server's connections: what its response needs
/// to make room for itself in the frame memory ([`FrameMemory::reserve`]). [`Counting`] gives
/// it to each request as an extension.
#[derive(Clone)]
struct Client {
    conn: Arc<Conn>,
    connections: Arc<Connections>,
}

/// The service of one connection: each request's body is read as a [`RequestBody`], and each
/// request is counted on the connection while its response lasts, and takes a place among
/// the responses in progress ([`ServerLimits::max_streams`]) or is answered 503.
struct Counting<S> {
    inner: Arc<S>,
    conn: Arc<Conn>,
    connections: Arc<Connections>,
    body_read_timeout: Duration,
}

impl<S, B> hyper::service::Service<Request<hyper::body::Incoming>> for Counting<S>
where
    S: hyper::service::Service<Request<RequestBody>, Response = Response<B>> + Send + Sync + 'static,
    S::Future: Send + 'static,
    S::Error: Send + 'static,
    B: Send + 'static,
{
    type Response = Response<Counted<B>>;
    type Error = S::Error;
    type Future = Pin<Box<dyn Future<Output = std::result::Result<Response<Counted<B>>, S::Error>> + Send>>;

    fn call(&self, req: Request<hyper::body::Incoming>) -> Self::Future {
        let request = self.conn.begin_request();
        let deadline = BodyDeadline(Arc::new(Mutex::new(deadline_after(Instant::now(), self.body_read_timeout))));
        let mut req = req.map(|body| RequestBody::new(body, Arc::clone(&self.conn), deadline.clone()));
        req.extensions_mut()
            .insert(Client { conn: Arc::clone(&self.conn), connections: Arc::clone(&self.connections) });
        req.extensions_mut().insert(deadline);
        Box::pin(counted(Arc::clone(&self.inner), Arc::clone(&self.connections), req, request))
    }
}

/// Answers `req` with `inner` once it has a place among the responses in progress, else 503.
/// The server works on it from the place taken until `inner` has answered, but for the time
/// `inner` waits for the request's body. Waiting for a place is neither the server's work nor
/// a step of the connection's responses: a connection cannot shield itself by asking for
/// more, and a request waiting for a place does not make its connection one whose responses
/// wait on the client.
async fn counted<S, B>(
    inner: Arc<S>,
    connections: Arc<Connections>,
    req: Request<RequestBody>,
    request: InFlight,
) -> std::result::Result<Response<Counted<B>>, S::Error>
where
    S: hyper::service::Service<Request<RequestBody>, Response = Response<B>>,
{
    let Some(permit) = connections.stream_permit().await else {
        return Ok(busy(request));
    };
    let slot = Slot { _permit: permit, _responding: request.0.begin_response() };
    let working = request.0.begin_work();
    let response = inner.call(req).await?;
    drop(working);
    Ok(response.map(|body| Counted {
        body: Some(Box::pin(body)),
        request: Some(request),
        slot: Some(slot),
        working: None,
    }))
}

/// The answer when every response allowed is in progress: `503` with `Retry-After`, after
/// which OCI clients try again.
fn busy<B>(request: InFlight) -> Response<Counted<B>> {
    let mut r = Response::new(Counted { body: None, request: Some(request), slot: None, working: None });
    *r.status_mut() = StatusCode::SERVICE_UNAVAILABLE;
    r.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    r
}

/// A response body that keeps its request in flight and its place among the responses in
/// progress until it ends or is dropped. While the body keeps the protocol waiting (the
/// server producing its next piece) the connection waits on no client; each piece the
/// protocol takes is the client's step (HTTP/2 takes one only once the client has granted
/// the window for it).
struct Counted<B> {
    /// `None` for the server's own empty answer.
    body: Option<Pin<Box<B>>>,
    request: Option<InFlight>,
    slot: Option<Slot>,
    /// Held while the body's last answer was `Pending`.
    working: Option<Working>,
}

impl<B: hyper::body::Body> hyper::body::Body for Counted<B> {
    type Data = B::Data;
    type Error = B::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<B::Data>, B::Error>>> {
        let this = self.get_mut();
        let Some(body) = this.body.as_mut() else { return Poll::Ready(None) };
        let polled = body.as_mut().poll_frame(cx);
        match &polled {
            Poll::Pending => {
                if this.working.is_none() {
                    this.working = this.request.as_ref().map(|r| r.0.begin_work());
                }
            }
            Poll::Ready(Some(Ok(_))) => {
                this.working = None;
                if let Some(r) = &this.request {
                    r.0.progress();
                }
            }
            Poll::Ready(None | Some(Err(_))) => {
                this.body = None;
                this.working = None;
                this.request = None;
                this.slot = None;
            }
        }
        polled
    }

    fn is_end_stream(&self) -> bool {
        self.body.as_ref().is_none_or(|body| body.is_end_stream())
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.as_ref().map_or_else(|| hyper::body::SizeHint::with_exact(0), |body| body.size_hint())
    }
}

/// A request's body as the service of [`accept_loop`] reads it. While the service waits for
/// it, its connection waits on the client, not on the server; each piece received is a step
/// of the client; and the whole body must arrive within [`ServerLimits::body_read_timeout`]
/// of the request's headers, else reading it fails with [`io::ErrorKind::TimedOut`]. So a
/// client trickling a body, or stalling in one, holds neither a connection nor a place among
/// the responses in progress for long.
pub struct RequestBody {
    body: hyper::body::Incoming,
    conn: Arc<Conn>,
    deadline: BodyDeadline,
    /// Set once the body has kept the service waiting.
    timer: Option<Pin<Box<tokio::time::Sleep>>>,
    /// Held while the body's last answer was `Pending`.
    awaiting: Option<AwaitingBody>,
}

impl RequestBody {
    fn new(body: hyper::body::Incoming, conn: Arc<Conn>, deadline: BodyDeadline) -> RequestBody {
        RequestBody { body, conn, deadline, timer: None, awaiting: None }
    }
}

/// When a request's body must have arrived, in the request's extensions: a service that has
/// authenticated a request allowed to send a large body (a vendor uploading a release of
/// gigabytes) extends it, while every other request keeps
/// [`ServerLimits::body_read_timeout`], which it could not extend before it is known.
#[derive(Clone, Debug)]
pub struct BodyDeadline(Arc<Mutex<Instant>>);

impl BodyDeadline {
    /// Moves the deadline to `from_now` after now, when that is later than it is.
    pub fn extend(&self, from_now: Duration) {
        let extended = deadline_after(Instant::now(), from_now);
        let mut deadline = self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner);
        *deadline = (*deadline).max(extended);
    }

    fn get(&self) -> Instant {
        *self.0.lock().unwrap_or_else(std::sync::PoisonError::into_inner)
    }
}

impl hyper::body::Body for RequestBody {
    type Data = Bytes;
    type Error = io::Error;

    fn poll_frame(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
    ) -> Poll<Option<std::result::Result<Frame<Bytes>, io::Error>>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.body).poll_frame(cx);
        if polled.is_pending() {
            let deadline = this.deadline.get();
            let timer = this.timer.get_or_insert_with(|| Box::pin(tokio::time::sleep_until(deadline)));
            if timer.deadline() != deadline {
                timer.as_mut().reset(deadline);
            }
            if timer.as_mut().poll(cx).is_pending() {
                if this.awaiting.is_none() {
                    this.awaiting = Some(this.conn.await_body());
                }
                return Poll::Pending;
            }
            this.awaiting = None;
            return Poll::Ready(Some(Err(io::Error::new(
                io::ErrorKind::TimedOut,
                "the request body did not arrive within the time the server allows for it",
            ))));
        }
        this.awaiting = None;
        if matches!(polled, Poll::Ready(Some(Ok(_)) | None)) {
            this.conn.request_step();
        }
        polled.map(|frame| frame.map(|piece| piece.map_err(io::Error::other)))
    }

    fn is_end_stream(&self) -> bool {
        self.body.is_end_stream()
    }

    fn size_hint(&self) -> hyper::body::SizeHint {
        self.body.size_hint()
    }
}

/// A connection's socket that records when a byte last moved either way, and fails a read or
/// a write still waiting [`ServerLimits::idle_timeout`] after that: a client that sends
/// nothing, or stops reading its response, is disconnected. A write that had to wait for the
/// client and then drains is the client's step ([`Conn::progress`]): it is reading. TLS runs
/// over it, so the handshake and the encrypted bytes count too.
struct TimedSocket {
    socket: tokio::net::TcpStream,
    conn: Arc<Conn>,
    idle_timeout: Duration,
    timer: Pin<Box<tokio::time::Sleep>>,
}

impl TimedSocket {
    fn new(socket: tokio::net::TcpStream, conn: Arc<Conn>, idle_timeout: Duration) -> TimedSocket {
        let timer = Box::pin(tokio::time::sleep_until(deadline_after(conn.last_active(), idle_timeout)));
        TimedSocket { socket, conn, idle_timeout, timer }
    }

    /// What a read or a write of the socket returned: bytes moved are activity; a wait fails
    /// once nothing has moved for the idle timeout.
    fn track<T>(
        &mut self,
        cx: &mut Context<'_>,
        polled: Poll<io::Result<T>>,
        moved: bool,
        writing: bool,
    ) -> Poll<io::Result<T>> {
        if moved {
            self.conn.touch();
            if writing && self.conn.write_held_up.swap(false, Ordering::SeqCst) {
                self.conn.progress();
            }
        } else if polled.is_pending() {
            if writing {
                self.conn.write_held_up.store(true, Ordering::SeqCst);
            }
            let deadline = deadline_after(self.conn.last_active(), self.idle_timeout);
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
        this.track(cx, polled, moved, false)
    }
}

impl AsyncWrite for TimedSocket {
    fn poll_write(self: Pin<&mut Self>, cx: &mut Context<'_>, buf: &[u8]) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.socket).poll_write(cx, buf);
        let moved = matches!(polled, Poll::Ready(Ok(n)) if n > 0);
        this.track(cx, polled, moved, true)
    }

    fn poll_write_vectored(
        self: Pin<&mut Self>,
        cx: &mut Context<'_>,
        bufs: &[io::IoSlice<'_>],
    ) -> Poll<io::Result<usize>> {
        let this = self.get_mut();
        let polled = Pin::new(&mut this.socket).poll_write_vectored(cx, bufs);
        let moved = matches!(polled, Poll::Ready(Ok(n)) if n > 0);
        this.track(cx, polled, moved, true)
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
    use futures_util::StreamExt as _;
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

    #[test]
    fn images_that_share_an_index_graph_do_not_parse_it_again() {
        let mut store = HashMap::new();
        let config = descriptor(media_types::OCI_CONFIG, b"config");
        let leaf =
            put(&mut store, media_types::OCI_MANIFEST, &serde_json::json!({ "schemaVersion": 2, "config": config }));
        let shared =
            put(&mut store, media_types::OCI_INDEX, &serde_json::json!({ "schemaVersion": 2, "manifests": [leaf] }));
        let tops: Vec<Descriptor> = (0..2)
            .map(|image| {
                let top = serde_json::json!({
                    "schemaVersion": 2, "manifests": [shared], "annotations": { "image": image.to_string() }
                });
                put(&mut store, media_types::OCI_INDEX, &top)
            })
            .collect();
        let read = |d: &Digest| -> Result<Vec<u8>> { Ok(store[d].clone()) };
        let mut manifests = Manifests::default();
        manifests.walk(&tops[0], &mut Repository::default(), &read).expect("the first image is served");
        // Were the shared manifests parsed again for the second image, these bytes would fail it.
        for d in [&shared.digest, &leaf.digest] {
            manifests.stored.get_mut(d).expect("kept").bytes = Bytes::from_static(b"not json");
        }
        let mut second = Repository::default();
        manifests.walk(&tops[1], &mut second, &read).expect("the shared graph is not parsed again");
        assert_eq!(second.manifests, BTreeSet::from([tops[1].digest.clone(), shared.digest.clone(), leaf.digest]));
        assert_eq!(second.blobs, BTreeSet::from([config.digest]));
    }

    #[test]
    fn room_is_made_by_the_peer_holding_most_connections_among_those_waiting_on_their_client() {
        let (a, b) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]));
        let ms = Duration::from_millis;
        let standing = |id, peer, waiting_ms, responses_waiting_ms: Option<u64>| Standing {
            id,
            peer,
            waiting: ms(waiting_ms),
            responses_waiting: responses_waiting_ms.map(ms),
        };
        // b holds three connections; a's one has waited longest.
        let standings = [
            standing(1, a, 5_000, None),
            standing(2, b, 1_500, None),
            standing(3, b, 200, Some(1_200)),
            standing(4, b, 200, Some(300)),
        ];
        assert_eq!(victim(&standings, false), Some(2), "the longest waiting of the peer holding most connections");
        assert_eq!(
            victim(&standings, true),
            Some(3),
            "for a response, one whose responses wait, though it has just sent a request"
        );
        let busy = [standing(1, a, 999, Some(999)), standing(2, b, 10, None)];
        assert_eq!(victim(&busy, false), None, "none has waited a second on its client");
        assert_eq!(victim(&busy, true), None, "no response has waited a second on its client");
    }

    #[test]
    fn a_newcomer_takes_a_place_from_the_peer_holding_far_more_connections_busy_or_not() {
        let (a, b, c) = (IpAddr::from([10, 0, 0, 1]), IpAddr::from([10, 0, 0, 2]), IpAddr::from([10, 0, 0, 3]));
        let busy = |id: u64, peer: IpAddr| Standing {
            id,
            peer,
            waiting: Duration::from_millis(100 * id),
            responses_waiting: None,
        };
        let quiet = |id: u64, peer: IpAddr| Standing { waiting: Duration::from_secs(5), ..busy(id, peer) };
        // a keeps three connections busy, b one, of the four the server holds.
        let full = [busy(1, a), busy(2, a), busy(3, a), busy(4, b)];
        assert_eq!(admission(&full[..3], c, 4, 4), Admission::Free, "below the cap");
        assert_eq!(
            admission(&full, c, 4, 4),
            Admission::InPlaceOf(3),
            "the connection of the peer holding the most that has waited longest on its client"
        );
        assert_eq!(admission(&full, b, 4, 4), Admission::InPlaceOf(3), "b holds two fewer than a");
        assert_eq!(admission(&full, a, 4, 4), Admission::Refused(Refusal::Full), "none of a's is quiet");
        let one_apart = [busy(1, a), busy(2, a), busy(3, b)];
        assert_eq!(
            admission(&one_apart, b, 3, 3),
            Admission::Refused(Refusal::Full),
            "two peers do not take a place back and forth"
        );
        assert_eq!(admission(&one_apart, c, 3, 3), Admission::InPlaceOf(2));
        let even = [quiet(1, b), busy(2, a)];
        assert_eq!(admission(&even, a, 2, 2), Admission::InPlaceOf(1), "else a connection that is quiet");
        // At its own cap, a peer's newcomer takes the place of one of its own that is quiet.
        let capped = [busy(1, a), quiet(2, a), quiet(3, b)];
        assert_eq!(admission(&capped, a, 10, 2), Admission::InPlaceOf(2));
        assert_eq!(admission(&capped[..1], a, 10, 1), Admission::Refused(Refusal::PeerFull));
        assert_eq!(admission(&capped, c, 10, 2), Admission::Free);
    }

    #[test]
    fn a_peer_is_an_ipv4_address_or_an_ipv6_64() {
        let v6 = |s: &str| IpAddr::V6(s.parse().expect("an IPv6 address"));
        assert_eq!(peer_of(v6("2001:db8:1:2:aaaa::1")), peer_of(v6("2001:db8:1:2:bbbb::2")));
        assert_ne!(peer_of(v6("2001:db8:1:2::1")), peer_of(v6("2001:db8:1:3::1")));
        assert_eq!(peer_of(v6("::ffff:10.0.0.1")), IpAddr::from([10, 0, 0, 1]), "IPv4-mapped");
        assert_ne!(peer_of(IpAddr::from([10, 0, 0, 1])), peer_of(IpAddr::from([10, 0, 0, 2])));
    }

    #[test]
    fn a_connection_waits_on_its_client_only_while_the_server_is_not_working_for_it() {
        let conn = Arc::new(Conn::new(0, IpAddr::from([127, 0, 0, 1]), Instant::now(), 0));
        // How long the connection will have waited on its client `ms` from now.
        let waited_in = |ms: u64| conn.waiting_on_client(conn.now_ms() + ms).as_millis();
        let responses_waited_in = |ms: u64| conn.responses_waiting_on_client(conn.now_ms() + ms).map(|d| d.as_millis());
        let restarted = 1_500..2_500;
        assert!(waited_in(1_500) >= 1_500, "accepted, and nothing received since");
        assert_eq!(responses_waited_in(1_500), None, "no response in progress");
        let request = conn.begin_request();
        assert!(restarted.contains(&waited_in(1_500)), "the clock restarts when a request is received");
        assert_eq!(responses_waited_in(1_500), None, "a request waiting for a place has no response in progress");
        let slot = conn.begin_response();
        assert!(
            responses_waited_in(1_500).is_some_and(|w| restarted.contains(&w)),
            "the clock of its responses starts when it takes its place"
        );
        let working = conn.begin_work();
        assert_eq!(waited_in(60_000), 0, "the server is working on the response");
        assert_eq!(responses_waited_in(60_000), Some(0));
        let body = conn.await_body();
        assert!(waited_in(1_500) >= 1_500, "a service waiting for the request's body waits on the client");
        drop(body);
        assert_eq!(waited_in(60_000), 0);
        conn.write_held_up.store(true, Ordering::SeqCst);
        assert!(waited_in(1_500) >= 1_500, "a write the client holds up waits on the client");
        conn.write_held_up.store(false, Ordering::SeqCst);
        drop(working);
        assert!(restarted.contains(&waited_in(1_500)), "the clock restarts when the server's work is done");
        assert!(responses_waited_in(1_500).is_some_and(|w| restarted.contains(&w)));
        drop(slot);
        assert_eq!(responses_waited_in(1_500), None, "its place is released");
        drop(request);
        assert!(restarted.contains(&waited_in(1_500)), "and when a response has ended");
    }

    #[test]
    fn requests_received_are_no_step_of_the_responses() {
        let ten_seconds_ago = Instant::now().checked_sub(Duration::from_secs(10)).expect("the clock has run 10 s");
        let conn = Arc::new(Conn::new(0, IpAddr::from([127, 0, 0, 1]), ten_seconds_ago, 0));
        let _slot = conn.begin_response();
        // Its response took its place when the connection was accepted, and nothing of it has
        // been taken since.
        conn.responses_ms.store(0, Ordering::SeqCst);
        let _another = conn.begin_request();
        let now = conn.now_ms();
        assert!(conn.waiting_on_client(now) < Duration::from_secs(5), "the connection stepped");
        let responses = conn.responses_waiting_on_client(now);
        assert!(responses.is_some_and(|w| w >= Duration::from_secs(10)), "its response did not: {responses:?}");
    }

    #[test]
    fn limits_that_need_more_descriptors_than_allowed_are_lowered_in_proportion() {
        let n = |n| NonZeroUsize::new(n).expect("not zero");
        let asked = ServerLimits { max_connections: n(2000), max_streams: n(2000), ..ServerLimits::default() };
        let fitted = asked.within_open_files(256);
        assert_eq!((fitted.max_connections, fitted.max_streams), (n(96), n(96)));
        assert!(fitted.open_files() <= 256, "{fitted:?}");
        assert_eq!(fitted.idle_timeout, asked.idle_timeout);
        let per_peer = ServerLimits { max_connections_per_peer: n(250), ..asked }.within_open_files(256);
        assert_eq!(per_peer.max_connections_per_peer, n(12), "a peer's connections are lowered with them");
        let tiny = asked.within_open_files(10);
        assert_eq!((tiny.max_connections, tiny.max_streams, tiny.max_connections_per_peer), (n(1), n(1), n(1)));
        assert_eq!(ServerLimits::default().within_open_files(1024), ServerLimits::default(), "the defaults fit 1,024");
    }

    /// A server on a free loopback port, within `limits`, answering `ok` to every request but
    /// three: `/hold`, whose answer it never finishes producing; `/body`, answered once its
    /// body has arrived whole (`200`), or when reading it failed (`408`); and `/extend`,
    /// answered as `/body` once it has moved the body's deadline 10 s away, as a service does
    /// for a request it authenticated to send a large body.
    async fn ok_server(limits: ServerLimits, tls: Option<tokio_rustls::TlsAcceptor>) -> SocketAddr {
        let (listener, addr) = listen().await;
        tokio::spawn(accept_loop(listener, tls, limits, |_peer| {
            hyper::service::service_fn(|req: Request<RequestBody>| async move {
                let path = req.uri().path().to_owned();
                let response = match path.as_str() {
                    "/hold" => {
                        let never = futures_util::stream::pending::<io::Result<Frame<Bytes>>>();
                        Response::new(BodyExt::boxed(StreamBody::new(never)))
                    }
                    "/body" | "/extend" => {
                        if path == "/extend"
                            && let Some(deadline) = req.extensions().get::<BodyDeadline>()
                        {
                            deadline.extend(Duration::from_secs(10));
                        }
                        let mut r = Response::new(empty());
                        if req.into_body().collect().await.is_err() {
                            *r.status_mut() = StatusCode::REQUEST_TIMEOUT;
                        }
                        r
                    }
                    _ => Response::new(full("ok")),
                };
                Ok::<_, Infallible>(response)
            })
        }));
        addr
    }

    /// A listener on a free loopback port, and its address.
    async fn listen() -> (tokio::net::TcpListener, SocketAddr) {
        let listener = tokio::net::TcpListener::bind("127.0.0.1:0").await.expect("bind");
        let addr = listener.local_addr().expect("address");
        (listener, addr)
    }

    /// `GET /`, closing the connection after the answer.
    const GET: &[u8] = b"GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n";

    /// The whole answer to `GET /` on a new connection; `None` when the server closed the
    /// connection without one, or took more than 5 s.
    async fn answer(addr: SocketAddr) -> Option<String> {
        answer_to(TcpStream::connect(addr).await.ok()?, GET).await
    }

    /// The whole answer to `request` (which closes the connection) on `c`; `None` when the
    /// server closed the connection without one, or took more than 5 s.
    async fn answer_to(mut c: TcpStream, request: &[u8]) -> Option<String> {
        c.write_all(request).await.ok()?;
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(5), c.read_to_end(&mut answer)).await.ok()?.ok()?;
        (!answer.is_empty()).then(|| String::from_utf8_lossy(&answer).into_owned())
    }

    /// The status line of [`answer`].
    async fn get(addr: SocketAddr) -> Option<String> {
        answer(addr).await?.lines().next().map(str::to_owned)
    }

    /// The status line of the answer to `GET /` on a new connection from the loopback
    /// address `source`.
    async fn get_from(source: [u8; 4], addr: SocketAddr) -> Option<String> {
        answer_to(connect_from(source, addr).await.ok()?, GET).await?.lines().next().map(str::to_owned)
    }

    /// A connection to `addr` from the loopback address `source` (127.0.0.0/8 is all this
    /// host's): another peer for the server, as far as it can tell.
    async fn connect_from(source: [u8; 4], addr: SocketAddr) -> io::Result<TcpStream> {
        let socket = tokio::net::TcpSocket::new_v4()?;
        socket.bind(SocketAddr::from((source, 0)))?;
        socket.connect(addr).await
    }

    /// Asks for `/hold` on `c` and waits for the answer to begin: from then on the server
    /// works on a response it never finishes, so `c` never waits on its client.
    async fn hold(c: &mut TcpStream) {
        c.write_all(b"GET /hold HTTP/1.1\r\nhost: test\r\n\r\n").await.expect("write");
        let mut status = [0u8; 12];
        tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut status))
            .await
            .expect("a response begins")
            .expect("read");
        assert_eq!(&status, b"HTTP/1.1 200");
    }

    /// `n` connections from `peer`, each kept busy with [`hold`].
    async fn busy_connections(peer: [u8; 4], addr: SocketAddr, n: usize) -> Vec<TcpStream> {
        let mut held = Vec::new();
        for _ in 0..n {
            let mut c = connect_from(peer, addr).await.expect("connect");
            hold(&mut c).await;
            held.push(c);
        }
        held
    }

    /// Asks for `path` on the kept-alive connection `c`; the status line of the answer, or
    /// `None` when the server closed `c` first or took more than 5 s.
    async fn status_on(c: &mut TcpStream, path: &str) -> Option<String> {
        c.write_all(format!("GET {path} HTTP/1.1\r\nhost: test\r\n\r\n").as_bytes()).await.ok()?;
        let (mut answer, mut buf) = (Vec::new(), [0u8; 1024]);
        while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
            let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf)).await.ok()?.ok()?;
            if n == 0 {
                return None;
            }
            answer.extend_from_slice(&buf[..n]);
        }
        String::from_utf8_lossy(&answer).lines().next().map(str::to_owned)
    }

    /// Asks for `/` on the kept-alive connection `c` of an [`ok_server`], and reads the answer.
    async fn ask(c: &mut TcpStream) {
        c.write_all(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n").await.expect("write");
        let (mut answer, mut buf) = (Vec::new(), [0u8; 1024]);
        while !answer.ends_with(b"\r\n\r\nok") {
            let n =
                tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf)).await.expect("answered").expect("read");
            assert!(n > 0, "the server closed a connection it was serving");
            answer.extend_from_slice(&buf[..n]);
        }
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
            held.push(TcpStream::connect(addr).await.expect("connect"));
        }
        // While both ask for something every 300 ms, for 2 s (well past the second a new
        // connection has before it counts as waiting), a newcomer is closed unanswered.
        let started = std::time::Instant::now();
        while started.elapsed() < Duration::from_secs(2) {
            for c in &mut held {
                ask(c).await;
            }
            assert_eq!(get(addr).await, None, "a newcomer displaced a connection that is being served");
            tokio::time::sleep(Duration::from_millis(300)).await;
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

    #[tokio::test]
    async fn connections_that_trickle_a_request_they_never_complete_make_room_for_a_newcomer() {
        let limits = ServerLimits { max_connections: NonZeroUsize::new(4).expect("not zero"), ..Default::default() };
        let addr = ok_server(limits, None).await;
        let mut tricklers = Vec::new();
        for _ in 0..4 {
            tricklers.push(TcpStream::connect(addr).await.expect("connect"));
        }
        // A byte of a request every 300 ms on every connection allowed: never silent for a
        // second, never done (a header value that keeps growing).
        let trickling = tokio::spawn(async move {
            for &byte in b"GET / HTTP/1.1\r\nx-trickle: ".iter().chain(std::iter::repeat(&b'a')) {
                for c in &mut tricklers {
                    let _ = c.write_all(&[byte]).await; // fails once the server has closed it
                }
                tokio::time::sleep(Duration::from_millis(300)).await;
            }
        });
        let started = std::time::Instant::now();
        while get(addr).await.as_deref() != Some("HTTP/1.1 200 OK") {
            assert!(started.elapsed() < Duration::from_secs(10), "no newcomer was served past trickling connections");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        trickling.abort();
    }

    #[tokio::test]
    async fn a_download_the_server_is_slow_to_produce_is_not_closed_for_newcomers() {
        const PAUSE: Duration = Duration::from_millis(1500);
        let (listener, addr) = listen().await;
        let limits = ServerLimits { max_connections: NonZeroUsize::MIN, ..Default::default() };
        // The server takes 1.5 s to answer and 1.5 s more between the two pieces of its
        // answer: no byte moves for longer than a connection may wait on its client.
        tokio::spawn(accept_loop(listener, None, limits, |_peer| {
            hyper::service::service_fn(|_req: Request<RequestBody>| async {
                tokio::time::sleep(PAUSE).await;
                let pieces = futures_util::stream::iter([false, true]).then(|pause| async move {
                    if pause {
                        tokio::time::sleep(PAUSE).await;
                    }
                    Ok::<_, io::Error>(Frame::data(Bytes::from_static(b"piece")))
                });
                Ok::<_, Infallible>(Response::new(StreamBody::new(pieces)))
            })
        }));
        let mut download = TcpStream::connect(addr).await.expect("connect");
        download.write_all(b"GET / HTTP/1.1\r\nhost: test\r\nconnection: close\r\n\r\n").await.expect("write");
        // Newcomers keep coming while the server works.
        let newcomers = tokio::spawn(async move {
            for _ in 0..100 {
                let _ = get(addr).await;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
        });
        let mut answer = Vec::new();
        let read = tokio::time::timeout(Duration::from_secs(10), download.read_to_end(&mut answer)).await;
        newcomers.abort();
        read.expect("answered within 10 s").expect("read");
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 200 OK"), "the download was closed for a newcomer: {answer:?}");
        assert_eq!(answer.matches("piece").count(), 2, "the download was cut for a newcomer: {answer:?}");
    }

    #[tokio::test]
    async fn past_the_responses_allowed_a_request_is_answered_503_with_retry_after() {
        let (listener, addr) = listen().await;
        let limits = ServerLimits { max_streams: NonZeroUsize::new(2).expect("not zero"), ..Default::default() };
        // Responses the server never finishes producing.
        tokio::spawn(accept_loop(listener, None, limits, |_peer| {
            hyper::service::service_fn(|_req: Request<RequestBody>| async {
                let never = futures_util::stream::pending::<io::Result<Frame<Bytes>>>();
                Ok::<_, Infallible>(Response::new(StreamBody::new(never)))
            })
        }));
        let mut held = Vec::new();
        for _ in 0..2 {
            let mut c = TcpStream::connect(addr).await.expect("connect");
            c.write_all(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n").await.expect("write");
            let mut status = [0u8; 12];
            tokio::time::timeout(Duration::from_secs(5), c.read_exact(&mut status))
                .await
                .expect("a response begins")
                .expect("read");
            assert_eq!(&status, b"HTTP/1.1 200");
            held.push(c);
        }
        let third = answer(addr).await.expect("a third request is answered");
        assert!(third.starts_with("HTTP/1.1 503"), "{third}");
        assert!(third.to_lowercase().contains("retry-after: 1\r\n"), "{third}");
    }

    #[tokio::test]
    async fn a_peer_keeping_every_connection_busy_gives_way_to_a_newcomer_of_another_peer() {
        let n = |n| NonZeroUsize::new(n).expect("not zero");
        let limits = ServerLimits { max_connections: n(4), max_connections_per_peer: n(8), ..Default::default() };
        let addr = ok_server(limits, None).await;
        // One peer takes every connection, and the server works for each of them.
        let mut held = busy_connections([127, 0, 0, 1], addr, 4).await;
        assert_eq!(get_from([127, 0, 0, 1], addr).await, None, "none of the peer's own waits on its client");
        assert_eq!(
            get_from([127, 0, 0, 2], addr).await.as_deref(),
            Some("HTTP/1.1 200 OK"),
            "another peer was locked out"
        );
        let mut closed = 0;
        for c in &mut held {
            closed += usize::from(closed_within(c, Duration::from_secs(1)).await);
        }
        assert_eq!(closed, 1, "exactly one of the busy peer's connections made room");
    }

    #[tokio::test]
    async fn a_peer_holding_its_share_of_connections_is_refused_more_while_others_are_served() {
        let n = |n| NonZeroUsize::new(n).expect("not zero");
        let limits = ServerLimits { max_connections: n(8), max_connections_per_peer: n(2), ..Default::default() };
        let addr = ok_server(limits, None).await;
        let mut held = busy_connections([127, 0, 0, 1], addr, 2).await;
        assert_eq!(get_from([127, 0, 0, 1], addr).await, None, "a third connection of the peer was served");
        assert_eq!(get_from([127, 0, 0, 2], addr).await.as_deref(), Some("HTTP/1.1 200 OK"));
        for c in &mut held {
            assert!(!closed_within(c, Duration::from_millis(200)).await, "the peer's connections are kept");
        }
    }

    #[tokio::test]
    async fn a_request_waiting_for_a_place_among_the_responses_keeps_its_connection() {
        let addr = ok_server(ServerLimits { max_streams: NonZeroUsize::MIN, ..Default::default() }, None).await;
        let mut waiting = TcpStream::connect(addr).await.expect("connect");
        ask(&mut waiting).await;
        let mut holder = TcpStream::connect(addr).await.expect("connect");
        hold(&mut holder).await;
        // Kept alive past a second, the first connection asks for the place the second holds.
        tokio::time::sleep(QUIET + Duration::from_millis(200)).await;
        assert_eq!(
            status_on(&mut waiting, "/").await.as_deref(),
            Some("HTTP/1.1 503 Service Unavailable"),
            "a request waiting for a place got its own connection closed"
        );
    }

    #[tokio::test]
    async fn a_request_body_trickled_past_the_body_read_timeout_is_cut() {
        let addr =
            ok_server(ServerLimits { body_read_timeout: Duration::from_millis(500), ..Default::default() }, None).await;
        let (mut read, mut write) = TcpStream::connect(addr).await.expect("connect").into_split();
        // A byte of a 1,000-byte body every 100 ms: never idle, done after 100 s.
        let trickling = tokio::spawn(async move {
            write.write_all(b"POST /body HTTP/1.1\r\nhost: test\r\ncontent-length: 1000\r\n\r\n").await?;
            for _ in 0..1000 {
                write.write_all(b"a").await?;
                tokio::time::sleep(Duration::from_millis(100)).await;
            }
            io::Result::Ok(())
        });
        let mut answer = Vec::new();
        let head = async {
            let mut buf = [0u8; 1024];
            while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = read.read(&mut buf).await?;
                if n == 0 {
                    break;
                }
                answer.extend_from_slice(&buf[..n]);
            }
            io::Result::Ok(())
        };
        let answered = tokio::time::timeout(Duration::from_secs(5), head).await;
        trickling.abort();
        answered.expect("answered within 5 s").expect("read");
        let answer = String::from_utf8_lossy(&answer);
        assert!(answer.starts_with("HTTP/1.1 408"), "the body was not cut: {answer:?}");
    }

    /// A body that arrives after the server's deadline for it is refused, unless the service
    /// moved the deadline away ([`BodyDeadline::extend`]) before reading it.
    #[tokio::test]
    async fn a_body_arriving_past_its_deadline_is_refused_unless_the_service_extended_it() {
        let limits = ServerLimits { body_read_timeout: Duration::from_millis(200), ..Default::default() };
        let addr = ok_server(limits, None).await;
        for (path, status) in [("/body", "HTTP/1.1 408 Request Timeout"), ("/extend", "HTTP/1.1 200 OK")] {
            let mut c = TcpStream::connect(addr).await.expect("connect");
            let head = format!("POST {path} HTTP/1.1\r\nhost: test\r\ncontent-length: 2\r\n\r\n");
            c.write_all(head.as_bytes()).await.expect("write");
            // The body, whole, a second after its headers: well past the deadline of 200 ms.
            tokio::time::sleep(Duration::from_secs(1)).await;
            let _ = c.write_all(b"ab").await; // fails once the server has closed the connection
            let (mut answer, mut buf) = (Vec::new(), [0u8; 1024]);
            while !answer.windows(4).any(|w| w == b"\r\n\r\n") {
                let n = tokio::time::timeout(Duration::from_secs(5), c.read(&mut buf))
                    .await
                    .expect("answered within 5 s")
                    .expect("read");
                assert!(n > 0, "{path}: closed without an answer");
                answer.extend_from_slice(&buf[..n]);
            }
            let answer = String::from_utf8_lossy(&answer);
            assert_eq!(answer.lines().next(), Some(status), "{path}: {answer:?}");
        }
    }

    #[tokio::test]
    async fn a_client_that_stalls_in_its_request_body_makes_room_for_a_newcomer() {
        let addr = ok_server(ServerLimits { max_connections: NonZeroUsize::MIN, ..Default::default() }, None).await;
        let mut stalled = TcpStream::connect(addr).await.expect("connect");
        stalled
            .write_all(b"POST /body HTTP/1.1\r\nhost: test\r\ncontent-length: 10\r\n\r\n12345")
            .await
            .expect("write");
        let started = std::time::Instant::now();
        while get(addr).await.as_deref() != Some("HTTP/1.1 200 OK") {
            assert!(started.elapsed() < Duration::from_secs(10), "a client stalled in a request body kept its place");
            tokio::time::sleep(Duration::from_millis(100)).await;
        }
        assert!(closed_within(&mut stalled, Duration::from_secs(1)).await, "the stalled client made room");
    }

    #[tokio::test]
    async fn timeouts_of_duration_max_mean_none() {
        let limits = ServerLimits {
            header_read_timeout: Duration::MAX,
            body_read_timeout: Duration::MAX,
            tls_handshake_timeout: Duration::MAX,
            idle_timeout: Duration::MAX,
            ..Default::default()
        };
        let addr = ok_server(limits, None).await;
        assert_eq!(get(addr).await.as_deref(), Some("HTTP/1.1 200 OK"));
        let post = b"POST /body HTTP/1.1\r\nhost: test\r\nconnection: close\r\ncontent-length: 2\r\n\r\nab";
        let answer = answer_to(TcpStream::connect(addr).await.expect("connect"), post).await;
        assert!(answer.as_deref().is_some_and(|a| a.starts_with("HTTP/1.1 200 OK")), "{answer:?}");
    }

    /// `bytes` as the one file `path` of a bundle written to `dir`, indexed: its index, before
    /// any range of it is opened (a frame cache, if any, goes on first).
    fn one_blob_bundle(dir: &Path, path: &str, bytes: &[u8]) -> ArchiveIndex {
        use genesis_bundle::{BOM_SCHEMA, Bom, Compression, Content, FileEntry, WriteOptions, rfc3339};

        let path: genesis_types::BundlePath = path.parse().expect("a bundle path");
        let bom = Bom {
            schema: BOM_SCHEMA.into(),
            name: "t".into(),
            version: "1".into(),
            created: rfc3339(0),
            expires: None,
            files: vec![FileEntry {
                path: path.clone(),
                size: bytes.len() as u64,
                sha256: genesis_bundle::sha256(bytes),
            }],
            images: vec![],
            charts: vec![],
            manifests: vec![],
            sboms: vec![],
            scan: None,
            requires: None,
        };
        let archive = dir.join("t.tar.zst");
        let contents = BTreeMap::from([(path, Content::Bytes(bytes.to_vec()))]);
        let options = WriteOptions { compression: Compression::Zstd, mtime: 0, progress: Default::default() };
        let file = std::fs::File::create(&archive).expect("create the archive");
        genesis_bundle::write_bundle(file, &bom, &bom.to_bytes(), b"sig", None, &contents, options).expect("written");
        // Repeated bytes (a test's blob) go far past the ratio a real bundle is held to.
        let limits = genesis_bundle::Limits { max_ratio: u64::MAX, ..Default::default() };
        genesis_bundle::danger::open_index(&archive, &bom, &limits).expect("indexed")
    }

    /// A blob of three frames' worth of bytes, in a bundle written to `dir`.
    fn three_frames(dir: &Path) -> ArchiveRange {
        let index = one_blob_bundle(dir, "blobs/big", &vec![7u8; 3 * genesis_bundle::FRAME_SIZE]);
        let (offset, size) = index.locate("blobs/big").expect("in the archive");
        index.range(offset, size)
    }

    /// Which of `downloads` sends its first piece first (within 5 s).
    async fn first_to_start(downloads: &mut [Body]) -> usize {
        let pieces = downloads.iter_mut().map(|d| d.frame());
        let (piece, started, _) =
            tokio::time::timeout(Duration::from_secs(5), futures_util::future::select_all(pieces))
                .await
                .expect("a download starts within 5 s");
        assert!(matches!(piece, Some(Ok(_))), "{piece:?}");
        started
    }

    #[tokio::test]
    async fn downloads_past_the_frame_memory_wait_for_it_instead_of_holding_more() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let blob = three_frames(dir.path());
        let frame = genesis_bundle::FRAME_SIZE as u64;
        let memory = FrameMemory::new(frame);
        // Three downloads, each from another frame, none read past its first piece.
        let mut downloads: Vec<Body> =
            (0..3).map(|i| stream_range(blob.clone(), i * frame, frame, memory.clone(), None)).collect();
        let started = first_to_start(&mut downloads).await;
        let holder = downloads.swap_remove(started);
        for waiting in &mut downloads {
            let piece = tokio::time::timeout(Duration::from_millis(300), waiting.frame()).await;
            assert!(piece.is_err(), "a download past the memory allowed did not wait for it");
        }
        assert_eq!(memory.held(), frame, "the one download started holds one frame");
        drop(holder);
        first_to_start(&mut downloads).await;
        assert_eq!(memory.held(), frame, "the next holds the frame memory released");
    }

    #[tokio::test]
    async fn a_download_holds_one_frame_until_its_pieces_are_written_out() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let blob = three_frames(dir.path());
        let frame = genesis_bundle::FRAME_SIZE as u64;
        let memory = FrameMemory::new(3 * frame);
        let mut download = stream_range(blob, 0, 3 * frame, memory.clone(), None);
        // Pieces taken and kept, as the protocol keeps them until they are written out, until
        // no more come.
        let data = |piece: Option<io::Result<Frame<Bytes>>>| piece.expect("a piece").expect("read").into_data();
        let first = tokio::time::timeout(Duration::from_secs(5), download.frame()).await.expect("a first piece");
        let mut kept = vec![data(first).expect("data")];
        while let Ok(piece) = tokio::time::timeout(Duration::from_millis(500), download.frame()).await {
            kept.push(data(piece).expect("data"));
        }
        let taken: usize = kept.iter().map(Bytes::len).sum();
        assert!(taken as u64 <= frame, "{taken} bytes taken, more than a frame");
        assert_eq!(memory.held(), frame, "the next frame was decompressed while this one's pieces were kept");
        kept.clear();
        let next = tokio::time::timeout(Duration::from_secs(5), download.frame()).await;
        assert!(matches!(next, Ok(Some(Ok(_)))), "the next frame comes once they are gone: {next:?}");
    }

    #[tokio::test]
    async fn a_download_holding_the_frame_memory_whose_client_stopped_reading_is_closed_for_one_waiting_for_it() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let blob = three_frames(dir.path());
        let (frame, size) = (genesis_bundle::FRAME_SIZE as u64, 3 * genesis_bundle::FRAME_SIZE);
        // Room for one frame: a download that holds one holds all of it.
        let memory = FrameMemory::new(frame);
        let (listener, addr) = listen().await;
        let served = memory.clone();
        tokio::spawn(accept_loop(listener, None, ServerLimits::default(), move |_peer| {
            let (blob, memory) = (blob.clone(), served.clone());
            hyper::service::service_fn(move |req: Request<RequestBody>| {
                let client = req.extensions().get::<Client>().cloned();
                let mut r = Response::new(stream_range(blob.clone(), 0, size as u64, memory.clone(), client));
                r.headers_mut().insert(header::CONTENT_LENGTH, HeaderValue::from(size));
                async move { Ok::<_, Infallible>(r) }
            })
        }));
        // A client that takes the head of its answer, then nothing: with a small receive
        // buffer, its download soon holds a frame it cannot send.
        let socket = tokio::net::TcpSocket::new_v4().expect("socket");
        socket.set_recv_buffer_size(4096).expect("a small receive buffer");
        let mut stalled = socket.connect(addr).await.expect("connect");
        stalled.write_all(b"GET / HTTP/1.1\r\nhost: test\r\n\r\n").await.expect("write");
        let mut status = [0u8; 12];
        tokio::time::timeout(Duration::from_secs(5), stalled.read_exact(&mut status))
            .await
            .expect("a response begins")
            .expect("read");
        assert_eq!(&status, b"HTTP/1.1 200");
        let started = std::time::Instant::now();
        while memory.held() < frame {
            assert!(started.elapsed() < Duration::from_secs(5), "the stalled download holds no frame");
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
        // Another download waits for the frame memory, then takes it over.
        let mut waiting = TcpStream::connect(addr).await.expect("connect");
        waiting.write_all(GET).await.expect("write");
        let mut answer = Vec::new();
        tokio::time::timeout(Duration::from_secs(10), waiting.read_to_end(&mut answer))
            .await
            .expect("the waiting download completes within 10 s")
            .expect("read");
        let body = answer.windows(4).position(|w| w == b"\r\n\r\n").map(|head| answer.len() - head - 4);
        assert_eq!(body, Some(size), "the waiting download is served whole");
        assert!(closed_within(&mut stalled, Duration::from_secs(1)).await, "the stalled download made room");
    }

    /// A blob of four frames' worth of bytes, noise and text in turn, in a bundle written to
    /// `dir`, indexed with a frame cache of 64 MiB: `(index, blob, its bytes)`. Its frames, in
    /// order: its tar header and noise (raw), the noise's last bytes and text (compressed),
    /// the text's last bytes and noise (raw), noise (raw), and the noise's last bytes with the
    /// end of the archive (compressed).
    fn mixed_frames(dir: &Path) -> (ArchiveIndex, ArchiveRange, Vec<u8>) {
        use genesis_bundle::FRAME_SIZE;
        use genesis_bundle::test_support::noise;

        let mut bytes = noise(FRAME_SIZE, 1);
        bytes.extend(b"GET /v2/ 200 latency_ms=3 cache=hit\n".iter().cycle().take(FRAME_SIZE));
        bytes.extend(noise(2 * FRAME_SIZE, 2));
        let index = one_blob_bundle(dir, "blobs/mixed", &bytes).with_frame_cache(64 << 20);
        let (offset, size) = index.locate("blobs/mixed").expect("in the archive");
        let blob = index.range(offset, size);
        (index, blob, bytes)
    }

    /// What a response streams of `len` bytes from `start` of `blob`, each piece copied out
    /// and dropped as a client's socket would (a frame's memory is held until every piece of
    /// it is gone, so keeping them all would stall the response).
    async fn streamed(blob: &ArchiveRange, start: u64, len: u64) -> Vec<u8> {
        let mut body = stream_range(blob.clone(), start, len, FrameMemory::new(FRAME_MEMORY), None);
        let mut out = Vec::new();
        let read = async {
            while let Some(piece) = body.frame().await {
                out.extend_from_slice(piece.expect("streamed whole").data_ref().expect("data"));
            }
        };
        tokio::time::timeout(Duration::from_secs(20), read).await.expect("within 20 s");
        out
    }

    #[tokio::test]
    async fn a_range_across_raw_and_compressed_frames_is_served_byte_exact() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (_index, blob, bytes) = mixed_frames(dir.path());
        let frame = genesis_bundle::FRAME_SIZE as u64;
        assert_eq!(streamed(&blob, 0, blob.size).await, bytes, "the whole blob");
        // From inside the first raw frame, across the compressed one, into the next raw one;
        // from a compressed frame into a raw one; across two blocks of a raw frame (its
        // blocks are 128 KiB, and it starts 512 bytes before `3 * frame`); one byte.
        let across_blocks = 3 * frame - 512 + (128 << 10) - 7;
        for (start, len) in [(frame / 2, 2 * frame), (frame + 100, frame), (across_blocks, 20), (17, 1)] {
            let (from, to) = (start as usize, (start + len) as usize);
            assert_eq!(streamed(&blob, start, len).await, bytes[from..to], "{len} bytes from {start}");
        }
    }

    #[tokio::test]
    async fn raw_frames_are_read_from_the_file_and_cached_only_when_read_whole() {
        let dir = tempfile::tempdir().expect("temporary directory");
        let (index, blob, bytes) = mixed_frames(dir.path());
        let frame = genesis_bundle::FRAME_SIZE as u64;
        let decompressed = index.frames_decompressed();
        // Inside the blob's first frame, then inside its third: both raw.
        assert_eq!(streamed(&blob, 1000, frame - 2000).await, bytes[1000..(frame - 1000) as usize]);
        assert_eq!(streamed(&blob, 2 * frame, frame / 2).await, bytes[2 * frame as usize..(5 * frame / 2) as usize]);
        assert_eq!(index.frames_cached(), 0, "part of a raw frame went into the frame cache");
        assert_eq!(index.frames_decompressed(), decompressed, "a raw frame was decompressed");
        // The whole blob: only its two compressed frames are decompressed; they are cached,
        // and so are the two raw frames the blob covers whole (the first holds its header).
        assert_eq!(streamed(&blob, 0, blob.size).await, bytes);
        assert_eq!(index.frames_cached(), 4);
        assert_eq!(index.frames_decompressed(), decompressed + 2);
        // Served again, warm: nothing more is decompressed, and of the raw frames only the
        // first, whose part in the blob was read, is read from the file again.
        let raw_reads = index.raw_frame_reads();
        assert_eq!(streamed(&blob, 0, blob.size).await, bytes);
        assert_eq!(index.frames_decompressed(), decompressed + 2);
        assert_eq!(index.raw_frame_reads(), raw_reads + 1, "the raw frames read whole came from the cache");
    }
}
