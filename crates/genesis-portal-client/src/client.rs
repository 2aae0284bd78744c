//! The portal client `genesis login / releases / pull` use: bearer-key calls, and downloads
//! that hash while they stream, resume with `Range`, and land atomically.

use std::collections::HashSet;
use std::io::Write as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use futures_util::StreamExt as _;
use genesis_bundle::ProgressCounter;
use genesis_bundle::digest_io::{DigestAdapter, sha256_file};
use genesis_bundle::scratch::{Durability, persist};
use genesis_http::{BodyError, MAX_ERROR_BODY, read_limited};
use genesis_types::{Classify, Digest, ErrorClass};
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_RANGE, ETAG, IF_RANGE, LOCATION, RANGE};

use crate::protocol::{
    API, ApiError, Artifact, ArtifactKind, BOOTSTRAP_PACK, ExportRequest, ExportState, ExportStatus, ReleaseDetail,
    ReleaseSummary, WhoAmI, valid_artifact_name,
};

/// What went wrong talking to the portal.
#[derive(Debug, thiserror::Error)]
pub enum PortalError {
    /// The portal could not be reached or the connection broke.
    #[error("cannot reach the portal at {url}: {source}")]
    Transport {
        /// The URL.
        url: String,
        /// The cause.
        #[source]
        source: reqwest::Error,
    },
    /// 401: the key is unknown, expired or revoked.
    #[error("the portal refused the license key: {0}")]
    Unauthorized(String),
    /// 403: the key lacks the scope or the entitlement.
    #[error("the portal denied access: {0}")]
    Forbidden(String),
    /// 404.
    #[error("not found on the portal: {0}")]
    NotFound(String),
    /// Any other unexpected answer.
    #[error("the portal answered {status} to {url}: {message}")]
    Status {
        /// The URL.
        url: String,
        /// The status.
        status: StatusCode,
        /// The body's message.
        message: String,
    },
    /// A download the portal sent to an origin it did not declare at login: not contacted.
    #[error(
        "the portal {portal} sent the download to {origin}, which it did not declare at login (declared: {}); {origin} \
         was not contacted. If the vendor moved the portal's downloads there, run `genesis login` again to see and \
         accept its origins",
        if declared.is_empty() { "none".to_owned() } else { declared.join(", ") }
    )]
    UndeclaredOrigin {
        /// The portal.
        portal: String,
        /// Where it sent the download (`scheme://host[:port]`).
        origin: String,
        /// The origins it declared at login.
        declared: Vec<String>,
    },
    /// The object store the portal sent a download to could not be reached or the
    /// connection broke.
    #[error("cannot reach the object store at {url}, where the portal sent the download: {source}")]
    StoreTransport {
        /// The object's URL, without its query (the presigned signature).
        url: String,
        /// The cause, without the URL it would show with its query.
        #[source]
        source: reqwest::Error,
    },
    /// The object store the portal sent a download to answered with an error.
    #[error("the object store answered {status} to {url}, where the portal sent the download: {message}")]
    StoreStatus {
        /// The object's URL, without its query (the presigned signature).
        url: String,
        /// The status.
        status: StatusCode,
        /// The start of the body (S3 says why in XML).
        message: String,
    },
    /// Downloaded bytes do not match the digest the portal published.
    #[error(
        "{name}: the download does not match the published digest (expected {expected}, got {actual}); it was discarded"
    )]
    DigestMismatch {
        /// The artifact.
        name: String,
        /// Published SHA-256.
        expected: Digest,
        /// What arrived.
        actual: Digest,
    },
    /// A bundle's `.sha256` sidecar names another digest than the one the portal published
    /// for the bundle (what it names need not even be a digest).
    #[error(
        "{}: the download does not match the published digest (expected {published}, got sha256:{claimed}); it was discarded",
        sidecar.display()
    )]
    SidecarMismatch {
        /// The sidecar.
        sidecar: PathBuf,
        /// The bundle's published SHA-256.
        published: Digest,
        /// The first word of the sidecar.
        claimed: String,
    },
    /// A bundle's `.sha256` sidecar lists a further file (the release evidence report) that
    /// the release does not publish with the digest listed.
    #[error(
        "{}: lists {name} as {listed} but the release publishes {}; the release's files disagree",
        sidecar.display(),
        published.as_ref().map_or_else(|| "no such file".to_owned(), |d| format!("it as {d}"))
    )]
    ListedFileMismatch {
        /// The sidecar.
        sidecar: PathBuf,
        /// The file it lists.
        name: String,
        /// The SHA-256 it lists for the file.
        listed: Digest,
        /// The file's published SHA-256, when the release has such a file.
        published: Option<Digest>,
    },
    /// The portal's listing of a release does not hold together: a file named twice, a kind
    /// its name contradicts, or a release evidence report its bundle's `.sha256` does not list.
    #[error("the release's listing is refused: {0}")]
    ListingRefused(String),
    /// One file of a release could not be downloaded.
    #[error("downloading {name}")]
    Download {
        /// The artifact.
        name: String,
        /// Why.
        #[source]
        source: Box<PortalError>,
    },
    /// A local file could not be read or written.
    #[error("{context} {path}: {source}")]
    Io {
        /// What we were doing.
        context: &'static str,
        /// The file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// Something we cannot work with (bad URL, unsafe artifact name, malformed answer).
    #[error("{0}")]
    Invalid(String),
    /// A portal URL that is neither `https://` nor an allowed `http://`.
    #[error("portal URL `{url}`: scheme `{scheme}`; use https:// (plain http only to loopback or when allowed)")]
    Scheme {
        /// The URL.
        url: String,
        /// Its scheme.
        scheme: String,
    },
    /// A release version that several entitled products have, and no product was named.
    #[error("release {version} exists for several products ({})", products.join(", "))]
    AmbiguousRelease {
        /// The version.
        version: String,
        /// The products that have it.
        products: Vec<String>,
    },
    /// No login is stored: nothing to reach a portal with.
    #[error("not logged in to a portal ({} does not exist)", path.display())]
    NotLoggedIn {
        /// Where the login would be.
        path: PathBuf,
    },
    /// The stored login cannot be read back.
    #[error("{} is damaged: log in again", path.display())]
    DamagedCredentials {
        /// The credentials file.
        path: PathBuf,
        /// Why it does not parse.
        #[source]
        source: serde_json::Error,
    },
}

pub(crate) type Result<T, E = PortalError> = std::result::Result<T, E>;

/// A portal that cannot be reached or answers unexpectedly is a network failure; a refused key,
/// a denied entitlement and a download that does not match its digest are verdicts.
impl Classify for PortalError {
    fn class(&self) -> ErrorClass {
        match self {
            PortalError::Transport { .. }
            | PortalError::Status { .. }
            | PortalError::StoreTransport { .. }
            | PortalError::StoreStatus { .. } => ErrorClass::Network,
            PortalError::Unauthorized(_)
            | PortalError::Forbidden(_)
            | PortalError::UndeclaredOrigin { .. }
            | PortalError::DigestMismatch { .. }
            | PortalError::SidecarMismatch { .. }
            | PortalError::ListedFileMismatch { .. }
            | PortalError::ListingRefused(_) => ErrorClass::Verdict,
            PortalError::Download { source, .. } => source.class(),
            PortalError::NotFound(_) => ErrorClass::NotFound,
            PortalError::Io { source, .. } => source.class(),
            PortalError::Invalid(_)
            | PortalError::Scheme { .. }
            | PortalError::AmbiguousRelease { .. }
            | PortalError::NotLoggedIn { .. }
            | PortalError::DamagedCredentials { .. } => ErrorClass::Input,
        }
    }
}

/// Turns an I/O error on `path` into [`PortalError::Io`].
pub(crate) fn io(context: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PortalError {
    let path = path.to_owned();
    move |source| PortalError::Io { context, path, source }
}

/// Largest JSON answer read from the portal (release lists and details, export status).
const MAX_JSON: usize = 4 << 20;
/// Largest license file read from the portal: a DSSE envelope of a few KiB.
const MAX_LICENSE: usize = 1 << 20;
/// Redirects followed, all within the portal's origin.
const MAX_REDIRECTS: usize = 10;

/// A client of one portal with one license key.
#[derive(Clone)]
pub struct PortalClient {
    base: String,
    /// `base` parsed: its origin is the only one the client contacts with the key.
    base_url: reqwest::Url,
    key: String,
    http: reqwest::Client,
    /// Plain `http://` was allowed beyond loopback, for the portal and where it sends
    /// downloads alike.
    allow_http: bool,
    /// The origins the portal may send a download to, as it declared them at login (its own
    /// among them; [`PortalClient::with_download_origins`]).
    download_origins: Vec<String>,
    /// The client of those origins: no key, no redirect followed, the same trusted roots.
    store_http: reqwest::Client,
    /// The download origins announced so far (each once, before it is first contacted).
    announced: Arc<Mutex<HashSet<String>>>,
}

impl std::fmt::Debug for PortalClient {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        // Never the key.
        write!(f, "PortalClient({})", self.base)
    }
}

/// How one artifact download went.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Downloaded {
    /// The file was already there with the published digest: nothing was fetched.
    AlreadyPresent,
    /// Fetched; `resumed_from` bytes came from an earlier interrupted download.
    Fetched {
        /// Bytes kept from the partial file.
        resumed_from: u64,
    },
}

impl PortalClient {
    /// A client for the portal at `base` (`https://…`; `http://` only for loopback or with
    /// `allow_http`), trusting `ca_file` alone when given, else the system roots.
    pub fn new(base: &str, key: &str, ca_file: Option<&Path>, allow_http: bool) -> Result<PortalClient> {
        let base = base.trim_end_matches('/').to_owned();
        let url = reqwest::Url::parse(&base).map_err(|e| PortalError::Invalid(format!("portal URL `{base}`: {e}")))?;
        if !scheme_allowed(&url, allow_http) {
            return Err(PortalError::Scheme { url: base, scheme: url.scheme().to_owned() });
        }
        let tls = genesis_http::root_store(ca_file)
            .and_then(genesis_http::tls_config)
            .map_err(|e| PortalError::Invalid(e.to_string()))?;
        let http = genesis_http::client_builder(
            Duration::from_secs(60),
            same_origin_redirects(url.clone()),
            Some(tls.clone()),
        )
        .build()
        .map_err(|e| PortalError::Invalid(format!("HTTP client: {e}")))?;
        // The object store's client trusts what the portal's does (a private CA given for the
        // portal is the one its store's public endpoint is expected under too).
        let store_http =
            genesis_http::client_builder(Duration::from_secs(60), reqwest::redirect::Policy::none(), Some(tls))
                .build()
                .map_err(|e| PortalError::Invalid(format!("HTTP client: {e}")))?;
        Ok(PortalClient {
            base,
            base_url: url,
            key: key.to_owned(),
            http,
            allow_http,
            download_origins: Vec::new(),
            store_http,
            announced: Arc::default(),
        })
    }

    /// The client, following a download the portal redirects off its own origin (to a
    /// presigned URL of its object store) only to one of `origins`, those it declared at login
    /// (`scheme://host[:port]`, [`WhoAmI::download_origins`]); without any, downloads come
    /// from the portal alone.
    pub fn with_download_origins(mut self, origins: &[String]) -> PortalClient {
        self.download_origins = origins.to_vec();
        self
    }

    /// The portal URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    /// The origins among `origins` other than the portal's own: where else downloads may
    /// come from.
    pub fn foreign_origins<'a>(&self, origins: &'a [String]) -> Vec<&'a str> {
        origins
            .iter()
            .filter(|origin| !reqwest::Url::parse(origin).is_ok_and(|url| url.origin() == self.base_url.origin()))
            .map(String::as_str)
            .collect()
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    /// The URL of a path the portal named (an artifact's `download_uri`): only a path on
    /// the portal's own origin, so no answer of the portal sends the client, and its key,
    /// anywhere else.
    fn portal_url(&self, path: &str) -> Result<String> {
        let url = self.url(path);
        let same_origin = reqwest::Url::parse(&url).is_ok_and(|u| u.origin() == self.base_url.origin());
        if !path.starts_with('/') || path.starts_with("//") || !same_origin {
            return Err(PortalError::Invalid(format!(
                "the portal named the download `{path}`, which is not a path on {}; it was not contacted",
                self.base
            )));
        }
        Ok(url)
    }

    async fn send(&self, request: reqwest::RequestBuilder, url: &str) -> Result<reqwest::Response> {
        let response = self.send_with_key(request, url).await?;
        self.check(response, url).await
    }

    /// Sends `request` to the portal with the key.
    async fn send_with_key(&self, request: reqwest::RequestBuilder, url: &str) -> Result<reqwest::Response> {
        request
            .header(AUTHORIZATION, format!("Bearer {}", self.key))
            .send()
            .await
            .map_err(|source| PortalError::Transport { url: url.to_owned(), source })
    }

    /// The portal's answer to `url` when it is a success (or a 304), else the error it says.
    async fn check(&self, response: reqwest::Response, url: &str) -> Result<reqwest::Response> {
        if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
            return Ok(response);
        }
        let status = response.status();
        if status.is_redirection() {
            // Only a redirect off the portal's origin (not followed) or one too many gets here.
            let target = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()).unwrap_or("nowhere");
            let message = format!(
                "a redirect to {target}, outside {}, was not followed: the client contacts only the portal",
                self.base
            );
            return Err(PortalError::Status { url: url.to_owned(), status, message });
        }
        let message = match read_limited(response, MAX_ERROR_BODY).await {
            Ok(body) => serde_json::from_slice::<ApiError>(&body)
                .map(|e| e.message)
                .unwrap_or_else(|_| String::from_utf8_lossy(&body).chars().take(300).collect()),
            Err(e) => e.to_string(),
        };
        Err(match status {
            StatusCode::UNAUTHORIZED => PortalError::Unauthorized(message),
            StatusCode::FORBIDDEN => PortalError::Forbidden(message),
            StatusCode::NOT_FOUND => PortalError::NotFound(message),
            status => PortalError::Status { url: url.to_owned(), status, message },
        })
    }

    async fn get_json<T: serde::de::DeserializeOwned>(&self, path: &str) -> Result<T> {
        let url = self.url(path);
        let response = self.send(self.http.get(&url), &url).await?;
        read_json(response, &url).await
    }

    /// Who the key belongs to; the way to check a key before storing it.
    pub async fn whoami(&self) -> Result<WhoAmI> {
        self.get_json(&format!("{API}/whoami")).await
    }

    /// The releases the key's organisation is entitled to, newest first.
    pub async fn releases(&self) -> Result<Vec<ReleaseSummary>> {
        self.get_json(&format!("{API}/releases")).await
    }

    /// One release. With no product, the one entitled release of that version.
    pub async fn release(&self, version: &str, product: Option<&str>) -> Result<ReleaseDetail> {
        let product = match product {
            Some(p) => p.to_owned(),
            None => {
                let all = self.releases().await?;
                let mut matching: Vec<_> = all.into_iter().filter(|r| r.version == version).collect();
                match matching.len() {
                    0 => return Err(PortalError::NotFound(format!("no release {version} you are entitled to"))),
                    1 => matching.remove(0).product,
                    _ => {
                        let products = matching.into_iter().map(|r| r.product).collect();
                        return Err(PortalError::AmbiguousRelease { version: version.to_owned(), products });
                    }
                }
            }
        };
        self.get_json(&format!("{API}/releases/{product}/{version}")).await
    }

    /// Asks the portal to stage a bootstrap pack of a release (seed 003; scope `export:write`).
    pub async fn start_export(&self, request: &ExportRequest) -> Result<ExportStatus> {
        let url = self.url(&format!("{API}/exports/airgap/bootstrap"));
        let body = serde_json::to_vec(request).map_err(|e| PortalError::Invalid(e.to_string()))?;
        let request = self.http.post(&url).header(reqwest::header::CONTENT_TYPE, "application/json").body(body);
        let response = self.send(request, &url).await?;
        read_json(response, &url).await
    }

    /// An export's status (scope `export:read`).
    pub async fn export_status(&self, export_id: &str) -> Result<ExportStatus> {
        self.get_json(&format!("{API}/exports/airgap/bootstrap/{export_id}")).await
    }

    /// Polls an export every `interval` until it is ready (its status, and its pack as an
    /// [`Artifact`] to [`PortalClient::download`]) or failed (an error with the portal's reason).
    pub async fn wait_for_export(
        &self,
        export_id: &str,
        interval: Duration,
        timeout: Duration,
    ) -> Result<(ExportStatus, Artifact)> {
        let started = std::time::Instant::now();
        loop {
            let status = self.export_status(export_id).await?;
            match status.status {
                ExportState::Ready => {
                    let (Some(sha256), Some(size), Some(download_uri)) =
                        (status.artifact_sha256.clone(), status.size, status.download_uri.clone())
                    else {
                        return Err(PortalError::Invalid(format!("export {export_id} is ready without its digest")));
                    };
                    let pack =
                        Artifact { name: BOOTSTRAP_PACK.into(), kind: ArtifactKind::Other, size, sha256, download_uri };
                    return Ok((status, pack));
                }
                ExportState::Failed => {
                    let reason = status.error.unwrap_or_default();
                    return Err(PortalError::Invalid(format!(
                        "the portal could not build export {export_id}: {reason}"
                    )));
                }
                ExportState::Pending if started.elapsed() > timeout => {
                    return Err(PortalError::Invalid(format!(
                        "export {export_id} still pending after {} s; its status: {API}/exports/airgap/bootstrap/{export_id}",
                        timeout.as_secs()
                    )));
                }
                ExportState::Pending => tokio::time::sleep(interval).await,
            }
        }
    }

    /// The signed offline license file of the key's organisation.
    pub async fn license_file(&self) -> Result<Vec<u8>> {
        let url = self.url(&format!("{API}/license"));
        let response = self.send(self.http.get(&url), &url).await?;
        read_limited(response, MAX_LICENSE).await.map(Vec::from).map_err(body_error(&url))
    }

    /// Downloads `artifact` into `dir` as `dir/NAME`: hashed while it streams, written to a
    /// hidden partial file that a later call resumes with `Range`, renamed into place only
    /// when size and SHA-256 match what the portal published. A mismatch deletes the partial
    /// file (its bytes cannot be trusted to resume from).
    pub async fn download(&self, artifact: &Artifact, dir: &Path, progress: &ProgressCounter) -> Result<Downloaded> {
        if !valid_artifact_name(&artifact.name) {
            return Err(PortalError::Invalid(format!("unsafe artifact name `{}` from the portal", artifact.name)));
        }
        let expected = artifact.sha256.hex();
        let target = dir.join(&artifact.name);
        // Named by digest too, so bytes of another file of the same name are never resumed.
        let partial = dir.join(format!(".{}.{}.partial", artifact.name, &expected[..12]));
        // Only a regular file can be the artifact already; anything else (a FIFO, which would
        // hold the hash, a device) is replaced by the download.
        let regular = std::fs::metadata(&target).is_ok_and(|m| m.is_file());
        if regular && sha256_file(&target).map_err(io("reading", &target))?.digest() == artifact.sha256 {
            progress.add(artifact.size);
            return Ok(Downloaded::AlreadyPresent);
        }
        let kept = match resume_partial(artifact, &partial, &target)? {
            Resume::Completed => {
                progress.add(artifact.size);
                return Ok(Downloaded::Fetched { resumed_from: artifact.size });
            }
            Resume::From(kept) => kept,
        };
        let offset = kept.as_ref().map_or(0, DigestAdapter::passed);
        let url = self.portal_url(&artifact.download_uri)?;
        let mut request = self.http.get(&url);
        if offset > 0 {
            request = request.header(RANGE, format!("bytes={offset}-")).header(IF_RANGE, format!("\"{expected}\""));
        }
        let response = self.send_with_key(request, &url).await?;
        let (response, url, peer) = match self.redirected_download(&response, &url)? {
            Some(target) => {
                let shown = without_query(&target);
                (self.fetch_from_store(target, &shown, offset).await?, shown, Peer::Store)
            }
            None => (self.check(response, &url).await?, url, Peer::Portal),
        };
        let resumed_from = check_resumed_response(&response, &url, offset, peer, expected)?;
        progress.add(resumed_from);
        let file = partial_writer(kept, resumed_from, artifact, &partial)?;
        let left = artifact.size - resumed_from;
        let file = stream_to_file(response, file, progress, (peer, url.as_str()), &partial, left).await?;
        let file = match file.finish() {
            Ok((file, _)) => file,
            Err(mismatch) => {
                let _ = std::fs::remove_file(&partial);
                return Err(PortalError::DigestMismatch {
                    name: artifact.name.clone(),
                    expected: artifact.sha256.clone(),
                    actual: mismatch.actual,
                });
            }
        };
        // Not synced (decision 0024): a file torn by a power loss fails its digest at the next
        // `pull`, which fetches it again, and at `verify`.
        persist(file.get_ref(), &partial, &target, Durability::CheckedOnRead)
            .map_err(io("renaming into place", &target))?;
        Ok(Downloaded::Fetched { resumed_from })
    }
}

impl PortalClient {
    /// Where the portal's answer `response` to the download request `url` sends the
    /// download: a presigned URL of its object store, on an origin it declared at login,
    /// announced here before it is contacted. `None` when the answer is not a redirect off
    /// the portal (it is then checked as any answer). A redirect to an undeclared origin, or
    /// to plain `http://` where that is not allowed, is refused without contacting it.
    fn redirected_download(&self, response: &reqwest::Response, url: &str) -> Result<Option<reqwest::Url>> {
        if !response.status().is_redirection() {
            return Ok(None);
        }
        let Some(location) = response.headers().get(LOCATION).and_then(|v| v.to_str().ok()) else {
            return Ok(None);
        };
        let Ok(target) = reqwest::Url::parse(url).and_then(|url| url.join(location)) else {
            return Ok(None);
        };
        if target.origin() == self.base_url.origin() {
            // One redirect too many within the portal: refused as such.
            return Ok(None);
        }
        let origin = target.origin().ascii_serialization();
        let declared = self
            .download_origins
            .iter()
            .any(|declared| reqwest::Url::parse(declared).is_ok_and(|d| d.origin() == target.origin()));
        if !declared || !target.has_host() {
            return Err(PortalError::UndeclaredOrigin {
                portal: self.base.clone(),
                origin,
                declared: self.download_origins.clone(),
            });
        }
        if !scheme_allowed(&target, self.allow_http) {
            return Err(PortalError::Invalid(format!(
                "the portal sent the download to {origin}, which is not https:// (plain http:// only to loopback, or \
                 after `genesis login --plain-http`); it was not contacted"
            )));
        }
        if self.announced.lock().unwrap_or_else(PoisonError::into_inner).insert(origin.clone()) {
            tracing::warn!(
                target: genesis_types::EGRESS_TARGET,
                endpoint = %origin,
                "contacting {origin}, the object store the portal {} sends downloads to (declared at login)",
                self.base
            );
        }
        Ok(Some(target))
    }

    /// Asks the object store for `target` (a presigned URL, shown as `shown`), from byte
    /// `offset` on when resuming: without the key (the URL carries its own authorization, and
    /// the key is the portal's alone), following no redirect.
    async fn fetch_from_store(&self, target: reqwest::Url, shown: &str, offset: u64) -> Result<reqwest::Response> {
        let mut request = self.store_http.get(target);
        if offset > 0 {
            // No `If-Range`: the store's ETag is its own, not the published SHA-256. The bytes
            // are checked against that as they arrive, resumed or not.
            request = request.header(RANGE, format!("bytes={offset}-"));
        }
        let response = request
            .send()
            .await
            .map_err(|source| PortalError::StoreTransport { url: shown.to_owned(), source: source.without_url() })?;
        let status = response.status();
        if status.is_success() {
            return Ok(response);
        }
        let message = match read_limited(response, MAX_ERROR_BODY).await {
            Ok(body) => String::from_utf8_lossy(&body).chars().take(300).collect(),
            Err(e) => e.to_string(),
        };
        Err(PortalError::StoreStatus { url: shown.to_owned(), status, message })
    }
}

/// Whether `url` may be contacted: `https://`, or `http://` to loopback or when allowed.
fn scheme_allowed(url: &reqwest::Url, allow_http: bool) -> bool {
    let loopback = url.host_str().is_some_and(|h| h == "localhost" || h == "127.0.0.1" || h == "[::1]");
    match url.scheme() {
        "https" => true,
        "http" => allow_http || loopback,
        _ => false,
    }
}

/// `url` as it may be shown: without its query and fragment, where a presigned URL carries
/// its signature.
fn without_query(url: &reqwest::Url) -> String {
    let mut shown = url.clone();
    shown.set_query(None);
    shown.set_fragment(None);
    shown.into()
}

/// Who sends a download's bytes: the portal, or the object store it sent the download to.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Peer {
    /// The portal.
    Portal,
    /// The object store, at a presigned URL.
    Store,
}

impl Peer {
    /// A broken transfer from this peer at `url`.
    fn transport(self, url: &str, source: reqwest::Error) -> PortalError {
        match self {
            Peer::Portal => PortalError::Transport { url: url.to_owned(), source },
            Peer::Store => PortalError::StoreTransport { url: url.to_owned(), source: source.without_url() },
        }
    }
}

/// Follows redirects only within the portal's origin. One elsewhere is not followed but
/// answered as is, and [`PortalClient`] refuses it: the client contacts the portal alone.
fn same_origin_redirects(portal: reqwest::Url) -> reqwest::redirect::Policy {
    genesis_http::redirects(portal, MAX_REDIRECTS, |attempt| attempt.stop())
}

/// Turns a failure to read the portal's answer to `url` ([`read_limited`], through which
/// every answer this client keeps in memory is read) into a [`PortalError`].
fn body_error(url: &str) -> impl FnOnce(BodyError) -> PortalError {
    let url = url.to_owned();
    move |e| match e {
        BodyError::Transport(source) => PortalError::Transport { url, source },
        BodyError::TooLarge { limit } => {
            PortalError::Invalid(format!("{url}: the portal's answer is larger than {limit} bytes"))
        }
    }
}

/// Reads a JSON answer of at most [`MAX_JSON`] bytes.
async fn read_json<T: serde::de::DeserializeOwned>(response: reqwest::Response, url: &str) -> Result<T> {
    let body = read_limited(response, MAX_JSON).await.map_err(body_error(url))?;
    serde_json::from_slice(&body).map_err(|e| PortalError::Invalid(format!("{url}: unexpected answer ({e})")))
}

/// Opens the partial file of an interrupted download, to resume it (`None` when there is
/// none). Its name is predictable and its folder may be shared, so nothing planted there is
/// read or written through: the open does not follow a symlink (`O_NOFOLLOW`), and it must
/// be a regular file with no other name (a hard link would aim the appended bytes at
/// another file). It is opened for appending, so resumed bytes land after the kept ones.
fn open_partial(path: &Path) -> std::io::Result<Option<std::fs::File>> {
    use std::os::unix::fs::{MetadataExt as _, OpenOptionsExt as _};
    let refuse = |what: &str| {
        std::io::Error::other(format!(
            "{what} sits where the partial download belongs and is never used; remove it to download again"
        ))
    };
    let opened = std::fs::OpenOptions::new()
        .read(true)
        .append(true)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits().cast_signed())
        .open(path);
    let file = match opened {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(_) if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) => {
            return Err(refuse("a symbolic link"));
        }
        Err(e) => return Err(e),
    };
    let meta = file.metadata()?;
    if !meta.is_file() {
        return Err(refuse("something other than a regular file"));
    }
    if meta.nlink() != 1 {
        return Err(refuse("a file with another name (a hard link)"));
    }
    Ok(Some(file))
}

/// Hashes what the partial file of `artifact` holds and what is appended to it, which must
/// come to the published digest and size.
fn expecting_artifact(file: std::fs::File, artifact: &Artifact) -> DigestAdapter<std::fs::File> {
    DigestAdapter::new(file).expecting(&artifact.sha256, Some(artifact.size))
}

/// What an interrupted download of an artifact left to go on from.
enum Resume {
    /// Its partial file was complete (the previous run stopped between the last byte and the
    /// rename) and is now in place.
    Completed,
    /// Its partial file, the kept bytes hashed, to append the rest to; `None` when there is
    /// none.
    From(Option<DigestAdapter<std::fs::File>>),
}

/// Opens the partial file of `artifact` at `partial` ([`open_partial`]) and hashes the bytes
/// it kept; one that holds the whole artifact is renamed into place as `target`. A partial
/// file longer than the artifact, or as long with other bytes, is kept to be overwritten
/// (nothing of it is resumed).
fn resume_partial(artifact: &Artifact, partial: &Path, target: &Path) -> Result<Resume> {
    let Some(file) = open_partial(partial).map_err(io("opening", partial))? else {
        return Ok(Resume::From(None));
    };
    let mut kept = DigestAdapter::new(file);
    if kept.get_ref().metadata().map_err(io("reading", partial))?.len() <= artifact.size {
        kept.drain().map_err(io("reading", partial))?;
    }
    let kept = kept.expecting(&artifact.sha256, Some(artifact.size));
    if kept.passed() == artifact.size && kept.passed() > 0 {
        // Complete but not renamed (the previous run stopped in between).
        if kept.check().is_ok() {
            persist(kept.get_ref(), partial, target, Durability::CheckedOnRead)
                .map_err(io("renaming into place", target))?;
            return Ok(Resume::Completed);
        }
        return Ok(Resume::From(Some(expecting_artifact(kept.into_inner(), artifact))));
    }
    Ok(Resume::From(Some(kept)))
}

/// Checks the answer of `peer` to a download that asked to resume at `offset` (0: the whole
/// file was asked for) and returns where its body starts in the file: `offset` when it
/// resumed there (`206` with that `Content-Range`), 0 when it sent the whole file. Refused: a
/// resume at another offset, and a portal's `ETag` other than the published digest
/// `expected` (an object store's is its own, never the SHA-256).
fn check_resumed_response(
    response: &reqwest::Response,
    url: &str,
    offset: u64,
    peer: Peer,
    expected: &str,
) -> Result<u64> {
    let starts_at = match response.status() {
        StatusCode::PARTIAL_CONTENT if content_range_start(response) == Some(offset) => offset,
        StatusCode::PARTIAL_CONTENT => {
            return Err(PortalError::Invalid(format!("{url}: the download resumed at another offset than {offset}")));
        }
        _ => 0,
    };
    if peer == Peer::Portal
        && let Some(etag) = response.headers().get(ETAG).and_then(|v| v.to_str().ok())
        && etag.trim_matches('"') != expected
    {
        return Err(PortalError::Invalid(format!(
            "{url}: the portal's ETag {etag} is not the published digest {expected}"
        )));
    }
    Ok(starts_at)
}

/// The partial file the body of a download is appended to: the `kept` one when the body
/// resumes it (`resumed_from` > 0), the kept one emptied when the portal sent the whole file,
/// else a new one.
fn partial_writer(
    kept: Option<DigestAdapter<std::fs::File>>,
    resumed_from: u64,
    artifact: &Artifact,
    partial: &Path,
) -> Result<DigestAdapter<std::fs::File>> {
    match kept {
        Some(kept) if resumed_from > 0 => Ok(kept),
        Some(kept) => {
            // A full answer: the partial file is not resumable; start over in the same file.
            let file = kept.into_inner();
            file.set_len(0).map_err(io("truncating", partial))?;
            Ok(expecting_artifact(file, artifact))
        }
        // Exclusively: whatever was planted at the name since is refused.
        None => Ok(expecting_artifact(
            std::fs::OpenOptions::new().append(true).create_new(true).open(partial).map_err(io("creating", partial))?,
            artifact,
        )),
    }
}

fn content_range_start(response: &reqwest::Response) -> Option<u64> {
    let value = response.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    value.strip_prefix("bytes ")?.split('-').next()?.parse().ok()
}

/// The partial file of a download, appended to through a buffer and hashed as it is written.
type PartialWriter = DigestAdapter<std::io::BufWriter<std::fs::File>>;

/// Bytes of body gathered before they go to the writer thread as one batch: handed over chunk
/// by chunk (a few KiB each), every hand-over woke the writer, and those wake-ups cost more CPU
/// than the hashing on a machine whose two cores also run the portal.
const WRITE_BATCH: usize = 1 << 20;

/// Streams the body into `file`, hashing and writing on a blocking thread so that receiving,
/// hashing and writing overlap on two cores, and hands the file back for its digest to be
/// checked. Bytes received before a broken connection are flushed to the partial file, so the
/// next run resumes after them. A body longer than the `limit` bytes the published size leaves
/// is stopped there.
async fn stream_to_file(
    response: reqwest::Response,
    file: DigestAdapter<std::fs::File>,
    progress: &ProgressCounter,
    (peer, url): (Peer, &str),
    partial: &Path,
    limit: u64,
) -> Result<PartialWriter> {
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<Vec<bytes::Bytes>>(4);
    let writer_path = partial.to_owned();
    let writer_progress = progress.clone();
    let writer = tokio::task::spawn_blocking(move || -> Result<PartialWriter> {
        let mut out = file.map_inner(|file| std::io::BufWriter::with_capacity(WRITE_BATCH, file));
        while let Some(batch) = receiver.blocking_recv() {
            for chunk in batch {
                out.write_all(&chunk).map_err(io("writing", &writer_path))?;
                writer_progress.add(chunk.len() as u64);
            }
        }
        out.flush().map_err(io("writing", &writer_path))?;
        Ok(out)
    });
    let mut body = response.bytes_stream();
    let (mut received, mut batch, mut batched) = (0u64, Vec::new(), 0usize);
    let mut failure = None;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(chunk) => {
                received += chunk.len() as u64;
                if received > limit {
                    failure = Some(PortalError::Invalid(format!(
                        "{url}: the answer held more than the {limit} bytes its published size leaves; the \
                         download was stopped"
                    )));
                    break;
                }
                batched += chunk.len();
                batch.push(chunk);
                if batched >= WRITE_BATCH {
                    batched = 0;
                    if sender.send(std::mem::take(&mut batch)).await.is_err() {
                        break; // the writer failed; its error is reported below
                    }
                }
            }
            Err(source) => {
                failure = Some(peer.transport(url, source));
                break;
            }
        }
    }
    // What arrived before the end, or before a failure, is written: a re-run resumes after it.
    // Past the limit nothing more is kept than before it.
    if !batch.is_empty() {
        let _ = sender.send(batch).await;
    }
    drop(sender);
    let written = writer.await.map_err(|e| PortalError::Invalid(format!("writer thread: {e}")))??;
    if let Some(e) = failure {
        return Err(e);
    }
    Ok(written)
}

#[cfg(test)]
mod tests {
    use genesis_testkit::http::{StandIn, respond, runtime, stream_body};

    use super::*;

    /// What a hostile portal stand-in sends as an endless body.
    const ENDLESS: u64 = 100 << 20;

    fn client_of(portal: &StandIn) -> PortalClient {
        PortalClient::new(&portal.url(), "sk_test_key", None, false).unwrap()
    }

    /// A portal stand-in that answers every request with `status` and an endless body, and
    /// a client of it; the channel says how much of the body the client took before it hung
    /// up.
    fn endless_portal(status: &'static str) -> (StandIn, PortalClient, std::sync::mpsc::Receiver<u64>) {
        let (sent, taken) = std::sync::mpsc::channel();
        let portal = StandIn::start(move |_, conn| {
            let _ = sent.send(stream_body(conn, status, b' ', ENDLESS));
            Err(std::io::ErrorKind::ConnectionAborted.into())
        });
        let client = client_of(&portal);
        (portal, client, taken)
    }

    fn artifact(download_uri: &str) -> Artifact {
        let sha256 = genesis_bundle::sha256(b"x");
        Artifact { name: "x".into(), kind: ArtifactKind::Other, size: 1, sha256, download_uri: download_uri.into() }
    }

    #[test]
    fn an_unreachable_portal_is_a_network_error_and_a_refused_key_a_verdict() {
        let status = PortalError::Status { url: "u".into(), status: StatusCode::BAD_GATEWAY, message: String::new() };
        let missing =
            PortalError::Io { context: "reading", path: "x".into(), source: std::io::ErrorKind::NotFound.into() };
        for (e, class) in [
            (status, ErrorClass::Network),
            (PortalError::Unauthorized("revoked".into()), ErrorClass::Verdict),
            (PortalError::Forbidden("not entitled".into()), ErrorClass::Verdict),
            (PortalError::NotFound("release 9.9.9".into()), ErrorClass::NotFound),
            (PortalError::Invalid("not a URL".into()), ErrorClass::Input),
            (missing, ErrorClass::NotFound),
        ] {
            assert_eq!(e.class(), class, "{e}");
        }
    }

    #[test]
    fn answers_are_read_up_to_their_limits_and_no_further() {
        let runtime = runtime();
        let (_portal, client, json_taken) = endless_portal("200 OK");
        let json = runtime.block_on(client.whoami()).unwrap_err().to_string();
        assert!(json.contains(&format!("larger than {MAX_JSON} bytes")), "{json}");
        let (_portal, client, license_taken) = endless_portal("200 OK");
        let license = runtime.block_on(client.license_file()).unwrap_err().to_string();
        assert!(license.contains(&format!("larger than {MAX_LICENSE} bytes")), "{license}");
        let (_portal, client, error_taken) = endless_portal("500 Internal Server Error");
        let error = runtime.block_on(client.releases()).unwrap_err().to_string();
        assert!(error.contains("answered 500"), "{error}");
        assert!(error.contains(&format!("larger than {MAX_ERROR_BODY} bytes")), "{error}");
        let (_portal, client, download_taken) = endless_portal("200 OK");
        let dir = tempfile::tempdir().unwrap();
        let download = runtime.block_on(client.download(&artifact("/v1/x"), dir.path(), &ProgressCounter::default()));
        let download = download.unwrap_err().to_string();
        assert!(download.contains("more than the 1 bytes its published size leaves"), "{download}");
        drop(runtime);
        for taken in [json_taken, license_taken, error_taken, download_taken] {
            let taken = taken.recv_timeout(Duration::from_secs(30)).unwrap();
            assert!(taken < ENDLESS / 4, "the client took {taken} bytes of an endless answer");
        }
    }

    #[test]
    fn a_redirect_off_the_portal_is_not_followed() {
        let elsewhere = StandIn::start(|_, conn| respond(conn, "200 OK", &[], b"{}"));
        let target = format!("{}{API}/whoami", elsewhere.url());
        // The first hop stays on the portal, the second leaves it.
        let portal = StandIn::start(move |request, conn| match request.target.as_str() {
            "/v1/whoami" => respond(conn, "302 Found", &[("Location", "/v1/moved")], b""),
            _ => respond(conn, "302 Found", &[("Location", target.as_str())], b""),
        });
        let error = runtime().block_on(client_of(&portal).whoami()).unwrap_err().to_string();
        assert!(error.contains("was not followed"), "{error}");
        let paths: Vec<_> = portal.seen().into_iter().map(|r| r.target).collect();
        assert_eq!(paths, ["/v1/whoami", "/v1/moved"], "a redirect within the portal is followed");
        assert!(elsewhere.seen().is_empty(), "the client followed the portal elsewhere: {:?}", elsewhere.seen());
    }

    /// A FIFO where the download goes is not hashed as the artifact already there (which
    /// would wait for a writer forever): the download replaces it.
    #[test]
    fn a_fifo_at_the_download_target_is_replaced_not_waited_on() {
        let portal = StandIn::start(|_, conn| respond(conn, "200 OK", &[], b"x"));
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("x");
        assert!(std::process::Command::new("mkfifo").arg(&target).status().unwrap().success());
        let (done, downloaded) = std::sync::mpsc::channel();
        let (client, into) = (client_of(&portal), dir.path().to_owned());
        std::thread::spawn(move || {
            let download = runtime().block_on(client.download(&artifact("/v1/x"), &into, &ProgressCounter::default()));
            let _ = done.send(download.map_err(|e| e.to_string()));
        });
        let download = downloaded.recv_timeout(Duration::from_secs(30)).expect("the download never waits on the FIFO");
        assert!(matches!(download, Ok(Downloaded::Fetched { resumed_from: 0 })), "{download:?}");
        assert!(std::fs::symlink_metadata(&target).unwrap().is_file());
        assert_eq!(std::fs::read(&target).unwrap(), b"x");
    }

    /// A portal stand-in that answers every download with a `307` to `location`.
    fn redirecting_portal(location: String) -> StandIn {
        StandIn::start(move |_, conn| respond(conn, "307 Temporary Redirect", &[("Location", location.as_str())], b""))
    }

    /// A portal that sends a download to an origin it did not declare at login is refused
    /// before that origin is contacted, naming it and the origins declared; the presigned
    /// URL's signature is shown nowhere.
    #[test]
    fn a_download_sent_to_an_undeclared_origin_is_refused_without_contacting_it() {
        let store = StandIn::start(|_, conn| respond(conn, "200 OK", &[], b"x"));
        let portal = redirecting_portal(format!("{}/bucket/x?X-Amz-Signature=s3cr3t", store.url()));
        let dir = tempfile::tempdir().unwrap();
        let runtime = runtime();
        let declared = "http://127.0.0.1:1".to_owned();
        for (origins, named) in [(vec![], "declared: none"), (vec![declared.clone()], "declared: http://127.0.0.1:1")] {
            let client = client_of(&portal).with_download_origins(&origins);
            let error = runtime.block_on(client.download(&artifact("/v1/x"), dir.path(), &ProgressCounter::default()));
            let error = error.unwrap_err();
            assert!(
                matches!(&error, PortalError::UndeclaredOrigin { origin, .. } if *origin == store.url()),
                "{error}"
            );
            let message = error.to_string();
            assert!(message.contains(&format!("sent the download to {}", store.url())), "{message}");
            assert!(message.contains(named) && message.contains("run `genesis login` again"), "{message}");
            assert!(!message.contains("s3cr3t"), "{message}");
            assert_eq!(error.class(), ErrorClass::Verdict);
        }
        assert!(store.seen().is_empty(), "the undeclared origin was contacted: {:?}", store.seen());
        assert!(!dir.path().join("x").exists());
    }

    /// A download sent to a declared origin is fetched there, without the key and without
    /// the portal's `If-Range` (the store's ETag is not the SHA-256); an interrupted one
    /// resumes there with `Range`, and the bytes are checked against the published digest
    /// as from the portal.
    #[test]
    fn a_download_sent_to_a_declared_origin_is_fetched_there_without_the_key_and_resumes() {
        let bytes: Vec<u8> = (0..100u8).collect();
        let served = bytes.clone();
        let store = StandIn::start(move |request, conn| {
            let etag = [("ETag", "\"9e107d9d372bb6826bd81d3542a419d6\"")];
            match request
                .header("range")
                .and_then(|r| r.strip_prefix("bytes=")?.strip_suffix('-')?.parse::<usize>().ok())
            {
                Some(start) => {
                    let range = format!("bytes {start}-{}/{}", served.len() - 1, served.len());
                    let headers = [etag[0], ("Content-Range", range.as_str())];
                    respond(conn, "206 Partial Content", &headers, &served[start..])
                }
                None => respond(conn, "200 OK", &etag, &served),
            }
        });
        let portal = redirecting_portal(format!("{}/bucket/payload.bin?X-Amz-Signature=s3cr3t", store.url()));
        let client = client_of(&portal).with_download_origins(&[portal.url(), store.url()]);
        let artifact = Artifact {
            name: "payload.bin".into(),
            kind: ArtifactKind::Other,
            size: bytes.len() as u64,
            sha256: genesis_bundle::sha256(&bytes),
            download_uri: "/v1/payload.bin".into(),
        };
        let dir = tempfile::tempdir().unwrap();
        let partial = dir.path().join(format!(".payload.bin.{}.partial", &artifact.sha256.hex()[..12]));
        std::fs::write(&partial, &bytes[..40]).unwrap();
        let runtime = runtime();
        let downloaded = runtime.block_on(client.download(&artifact, dir.path(), &ProgressCounter::default()));
        assert_eq!(downloaded.unwrap(), Downloaded::Fetched { resumed_from: 40 });
        assert_eq!(std::fs::read(dir.path().join("payload.bin")).unwrap(), bytes);
        let asked = portal.seen();
        assert_eq!(asked.len(), 1);
        assert!(asked[0].header("authorization").is_some_and(|a| a.starts_with("Bearer ")));
        assert_eq!(asked[0].header("range"), Some("bytes=40-"));
        let fetched = store.seen();
        assert_eq!(fetched.len(), 1);
        assert!(fetched[0].target.starts_with("/bucket/payload.bin?X-Amz-Signature="), "{:?}", fetched[0]);
        assert_eq!(fetched[0].header("authorization"), None, "the key went to the object store");
        assert_eq!((fetched[0].header("range"), fetched[0].header("if-range")), (Some("bytes=40-"), None));

        // Bytes from the store that are not the published ones are discarded, as from the portal.
        let liar = StandIn::start(|_, conn| respond(conn, "200 OK", &[], b"not the payload"));
        let portal = redirecting_portal(format!("{}/bucket/payload.bin", liar.url()));
        let client = client_of(&portal).with_download_origins(&[liar.url()]);
        let other = tempfile::tempdir().unwrap();
        let error = runtime.block_on(client.download(&artifact, other.path(), &ProgressCounter::default()));
        assert!(matches!(error, Err(PortalError::DigestMismatch { .. })), "{error:?}");
        assert!(!other.path().join("payload.bin").exists());
    }

    #[test]
    fn a_download_uri_off_the_portal_is_refused_without_contacting_anyone() {
        let elsewhere = StandIn::start(|_, conn| respond(conn, "200 OK", &[], b"x"));
        let portal = StandIn::start(|_, conn| respond(conn, "200 OK", &[], b"x"));
        let client = client_of(&portal);
        let dir = tempfile::tempdir().unwrap();
        let runtime = runtime();
        let other = format!("127.0.0.1:{}", elsewhere.port);
        for uri in [format!("@{other}/x"), format!("http://{other}/x"), format!("//{other}/x"), "x".into()] {
            let error = runtime.block_on(client.download(&artifact(&uri), dir.path(), &ProgressCounter::default()));
            let error = error.unwrap_err().to_string();
            assert!(error.contains("which is not a path on"), "{uri}: {error}");
        }
        assert!(elsewhere.seen().is_empty(), "{:?}", elsewhere.seen());
        assert!(portal.seen().is_empty(), "{:?}", portal.seen());
    }
}
