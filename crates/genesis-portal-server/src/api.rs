//! The HTTP API (axum): bearer-key authentication, scopes and entitlements, release listing,
//! downloads with `Range`/`ETag`/`Last-Modified`/304, the license file, seed 003's air-gap
//! export endpoints (with their quota headers), `/metrics` and `/healthz`. Logs name the
//! key's id, never the key.
//!
//! The customers' web pages (`crate::web`) do what the API does through the same
//! `pub(crate)` functions here (entitlements, downloads, the license, exports), so the two
//! cannot drift apart in what they allow; downloads and export requests are audited there,
//! once for both.

use std::ops::Range;
use std::sync::Arc;
use std::time::{Duration, UNIX_EPOCH};

use axum::Json;
use axum::body::Body;
use axum::extract::{FromRequestParts, MatchedPath, Path, Request, State};
use axum::http::{HeaderMap, HeaderName, HeaderValue, Method, StatusCode, Uri, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use futures_util::StreamExt as _;
use genesis_objstore::Presigner;
use genesis_portal_client::Entitlement;
use genesis_portal_client::protocol::{
    API, ApiError, Artifact, ArtifactKind, BOOTSTRAP_PROFILE, ExportRequest, ExportState, ExportStatus, ReleaseDetail,
    ReleaseSummary, Scope, WhoAmI, valid_product_name,
};
use genesis_trust::{PrivateKey, PublicKey};
use url::Url;

use crate::artifacts::Artifacts;
use crate::config::{ConfigError, PortalConfig};
use crate::error::PortalServerError;
use crate::export::{Admission, Builds, Instance};
use crate::metrics::{Metrics, RequestLabels};
use crate::store::{Export, KeyRecord, Release, Store, action, key_hash};
use crate::{now, when};

/// How the API behaves, beyond the data it serves.
#[derive(Debug)]
pub struct ApiConfig {
    /// The key that signs the license files `GET /v1/license` hands out; without it the
    /// portal issues none.
    pub license_key: Option<PrivateKey>,
    /// The one timestamp inside export packs (`SOURCE_DATE_EPOCH`).
    pub source_date_epoch: u64,
    /// Export packs an organisation may have building at once; more are answered 429.
    pub max_exports_per_org: usize,
    /// Export packs the portal may have building at once, across organisations; more are
    /// answered 429. Each build unpacks a release into scratch space: this bounds the disk it
    /// takes.
    pub max_exports: usize,
    /// Seconds a built export pack is kept; then it is deleted and its status answers 410.
    pub export_ttl_secs: i64,
    /// The router is served over HTTPS: [`serve`](fn@crate::serve) sets it when it serves TLS
    /// itself. The web pages' cookies are then `Secure`, their names `__Host-` prefixed.
    pub tls: bool,
    /// The URL customers reach the portal by when a proxy stands in front of it
    /// (`https://downloads.example.com`: a scheme, a host, a port maybe, no path, see
    /// [`parse_public_url`]): the pages' commands name it and their forms' `Origin` must be
    /// its origin. When it is `https`, the cookies are `Secure` and `__Host-` even if the
    /// portal itself speaks plain HTTP to the proxy. Without it the pages use the request's
    /// `Host`.
    pub public_url: Option<Url>,
    /// The vendor key bundles published by upload on the vendor's pages must verify against
    /// (as `genesis-portal publish --key`); without it those pages publish nothing.
    pub publish_key: Option<PublicKey>,
}

/// What every handler shares: the portal's stores, its metrics and the export builds running.
pub struct AppState {
    /// Metadata.
    pub(crate) store: Store,
    /// Artifact bytes.
    pub(crate) artifacts: Artifacts,
    /// Metrics.
    pub(crate) metrics: Arc<Metrics>,
    /// The key that signs license files, when the vendor configured one.
    pub(crate) license_key: Option<PrivateKey>,
    /// This portal among those sharing its database or data directory, and its scratch space
    /// for export builds.
    pub(crate) instance: Instance,
    /// The one timestamp inside export packs (`SOURCE_DATE_EPOCH`).
    pub(crate) source_date_epoch: u64,
    /// The export builds running now.
    pub(crate) builds: Arc<Builds>,
    /// Seconds a finished export is kept.
    pub(crate) export_ttl_secs: i64,
    /// Whether the web pages' cookies are `Secure` (and their names `__Host-` prefixed):
    /// browsers reach the portal over HTTPS, its own or its proxy's.
    pub(crate) secure_cookies: bool,
    /// The URL customers reach the portal by, when a proxy stands in front of it.
    pub(crate) public_url: Option<Url>,
    /// The vendor key uploaded bundles must verify against, when publishing by upload is on.
    pub(crate) publish_key: Option<PublicKey>,
    /// The client that mints presigned URLs on the S3 store's public endpoint, when the
    /// portal has one: API downloads are then redirected there.
    pub(crate) presigner: Option<Presigner>,
}

impl AppState {
    /// Opens the portal's metadata database and artifact store, claims a scratch directory of
    /// its own, and cleans up after the portals sharing them that were stopped mid-build: their
    /// scratch directories are removed and their exports still pending failed (they would never
    /// finish), while the builds of portals still running are left alone. The state [`router`]
    /// serves.
    pub async fn open(portal: &PortalConfig, config: ApiConfig) -> crate::Result<Arc<AppState>> {
        if let Some(url) = &config.public_url {
            check_public_url(url)?;
        }
        // A browser that reached the portal over HTTPS, its own or a proxy's, sends a `Secure`
        // cookie back: decided here, and only here.
        let secure_cookies = config.tls || config.public_url.as_ref().is_some_and(|url| url.scheme() == "https");
        // Contacts nothing: a configuration it refuses is refused before anything else is.
        let presigner = portal.open_presigner()?;
        let scratch = portal.data_dir()?.join("scratch");
        let store = portal.open_store().await?;
        let artifacts = portal.open_artifacts().await?;
        let instance = Instance::start(&store, scratch).await?;
        Ok(Arc::new(AppState {
            store,
            artifacts,
            metrics: Arc::new(Metrics::new()),
            license_key: config.license_key,
            instance,
            source_date_epoch: config.source_date_epoch,
            builds: Arc::new(Builds::new(config.max_exports_per_org, config.max_exports)),
            export_ttl_secs: config.export_ttl_secs,
            secure_cookies,
            public_url: config.public_url,
            publish_key: config.publish_key,
            presigner,
        }))
    }
}

/// What `genesis-portal serve` does without flags: plain HTTP, no license signing key, no
/// publishing by upload, seed 003's pinned pack timestamp, two export builds per organisation
/// and four in all, packs kept a day.
impl Default for ApiConfig {
    fn default() -> ApiConfig {
        ApiConfig {
            license_key: None,
            source_date_epoch: crate::DEFAULT_SOURCE_DATE_EPOCH,
            max_exports_per_org: 2,
            max_exports: 4,
            export_ttl_secs: 86_400,
            tls: false,
            public_url: None,
            publish_key: None,
        }
    }
}

/// Reads a public URL ([`ApiConfig::public_url`]): `http://` or `https://`, a host and maybe a
/// port, nothing else. The pages live at the root of their host (`/portal`, `/admin`), so a
/// proxy must pass them at the same paths: a URL with a path would name pages that are not
/// there.
pub fn parse_public_url(text: &str) -> crate::Result<Url> {
    let url = Url::parse(text).map_err(|_| ConfigError::NotAPublicUrl { url: text.to_owned(), reason: "not a URL" })?;
    check_public_url(&url)?;
    Ok(url)
}

/// Refuses a public URL that is not `http(s)://HOST[:PORT]`.
fn check_public_url(url: &Url) -> Result<(), ConfigError> {
    let reason = if !matches!(url.scheme(), "https" | "http") || !url.has_host() {
        "expected https://HOST[:PORT]"
    } else if !url.username().is_empty() || url.password().is_some() || url.query().is_some() {
        "remove the user info and the query: the URL is shown on the pages"
    } else if url.fragment().is_some() {
        "remove the fragment"
    } else if url.path() != "/" {
        "remove the path: the pages are at the root of their host (/portal, /admin), and a proxy passes them there"
    } else {
        return Ok(());
    };
    // Shown without a password it might carry.
    let mut shown = url.clone();
    let _ = shown.set_password(None);
    Err(ConfigError::NotAPublicUrl { url: shown.into(), reason })
}

/// The state every handler, of the API and of the pages, is given.
pub(crate) type Shared = Arc<AppState>;

/// The portal's routes: the API of [`genesis_portal_client::protocol`], the web pages,
/// `/metrics` and `/healthz`, every request counted and logged by its route template.
pub fn router(state: Arc<AppState>) -> axum::Router {
    axum::Router::new()
        .route("/healthz", get(|| async { "ok\n" }))
        .route("/metrics", get(metrics))
        .route("/v1/whoami", get(whoami))
        .route("/v1/releases", get(list_releases))
        .route("/v1/releases/{product}/{version}", get(release_detail))
        .route("/v1/releases/{product}/{version}/artifacts/{name}", get(download_artifact))
        .route("/v1/license", get(license_file))
        .route("/v1/exports/airgap/bootstrap", post(start_export))
        .route("/v1/exports/airgap/bootstrap/{id}", get(export_status))
        .route("/v1/exports/airgap/bootstrap/{id}/download", get(download_export))
        .merge(crate::web::routes())
        .layer(axum::middleware::from_fn_with_state(Arc::clone(&state), track))
        .with_state(state)
}

/// An error answer: status plus an [`ApiError`] body (the pages render it as a page).
#[derive(Debug)]
pub(crate) struct Failure {
    /// The answer's status.
    pub(crate) status: StatusCode,
    /// The [`ApiError`] code.
    pub(crate) code: &'static str,
    /// What went wrong and what to do, for the customer.
    pub(crate) message: String,
}

impl Failure {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> Failure {
        Failure { status, code, message: message.into() }
    }
    fn unauthorized(message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::UNAUTHORIZED, "unauthorized", message)
    }
    fn forbidden(message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::FORBIDDEN, "forbidden", message)
    }
    fn not_found(message: impl Into<String>) -> Failure {
        Failure::new(StatusCode::NOT_FOUND, "not_found", message)
    }
}

/// A failure of the portal's own stores or files is internal: the client learns nothing of it,
/// the log has it.
impl From<PortalServerError> for Failure {
    fn from(e: PortalServerError) -> Failure {
        tracing::error!(error = %genesis_types::error_chain(&e), "internal error");
        Failure::new(StatusCode::INTERNAL_SERVER_ERROR, "internal", "internal error; the portal's log has the cause")
    }
}

impl IntoResponse for Failure {
    fn into_response(self) -> Response {
        let mut response =
            (self.status, Json(ApiError { error: self.code.into(), message: self.message })).into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            response
                .headers_mut()
                .insert(header::WWW_AUTHENTICATE, HeaderValue::from_static("Bearer realm=\"genesis-portal\""));
        }
        response
    }
}

/// The authenticated caller: the key's organisation, id and scopes.
pub(crate) struct Caller {
    /// The key's organisation.
    pub(crate) org: String,
    /// The key's id.
    pub(crate) key_id: String,
    /// What the key may do.
    pub(crate) scopes: Vec<Scope>,
    /// Unix time the key expires.
    pub(crate) expires: i64,
}

impl Caller {
    /// Refuses (403) a caller whose key lacks `scope`.
    pub(crate) fn require(&self, scope: Scope) -> Result<(), Failure> {
        if self.scopes.contains(&scope) {
            Ok(())
        } else {
            Err(Failure::forbidden(format!(
                "key {} lacks the `{scope}` scope; ask the vendor for a key with it",
                self.key_id
            )))
        }
    }

    /// The caller a stored key makes, refused (401, the reason) when revoked or expired:
    /// the bearer extractor and the session extractor share it.
    pub(crate) fn from_record(record: KeyRecord) -> Result<Caller, Failure> {
        if let Some(revoked) = record.revoked {
            return Err(Failure::unauthorized(format!(
                "license key {} was revoked on {}; ask the vendor for a new key",
                record.id,
                when(revoked)
            )));
        }
        if record.expires <= now() {
            return Err(Failure::unauthorized(format!(
                "license key {} expired on {}; ask the vendor for a new key",
                record.id,
                when(record.expires)
            )));
        }
        tracing::debug!(org = %record.org, keyId = %record.id, "authenticated");
        Ok(Caller { org: record.org, key_id: record.id, scopes: record.scopes, expires: record.expires })
    }

    /// How the audit log names the caller: `key:<key id>`.
    pub(crate) fn actor(&self) -> String {
        format!("key:{}", self.key_id)
    }
}

impl FromRequestParts<Shared> for Caller {
    type Rejection = Failure;

    async fn from_request_parts(parts: &mut http::request::Parts, state: &Shared) -> Result<Caller, Failure> {
        let key = parts
            .headers
            .get(header::AUTHORIZATION)
            .and_then(|v| v.to_str().ok())
            .and_then(|v| v.strip_prefix("Bearer "))
            .ok_or_else(|| {
                Failure::unauthorized("no license key: send `Authorization: Bearer sk_…` (`genesis login`)")
            })?;
        let record = state
            .store
            .key_by_hash(&key_hash(key.trim()))
            .await?
            .ok_or_else(|| Failure::unauthorized("unknown license key"))?;
        Caller::from_record(record)
    }
}

/// Counts and logs every request by route template and status (never a header).
async fn track(State(state): State<Shared>, request: Request, next: Next) -> Response {
    let route = request.extensions().get::<MatchedPath>().map_or("unmatched", |m| m.as_str()).to_owned();
    let method = request.method().clone();
    let started = std::time::Instant::now();
    let response = next.run(request).await;
    let status = response.status().as_u16();
    state.metrics.requests.get_or_create(&RequestLabels { route: route.clone(), status }).inc();
    tracing::info!(%method, %route, status, elapsedMs = started.elapsed().as_millis() as u64, "request");
    response
}

async fn metrics(State(state): State<Shared>) -> impl IntoResponse {
    ([(header::CONTENT_TYPE, "text/plain; version=0.0.4; charset=utf-8")], state.metrics.render())
}

async fn whoami(State(state): State<Shared>, caller: Caller, uri: Uri, headers: HeaderMap) -> Json<WhoAmI> {
    let download_origins = state.download_origins(&uri, &headers);
    Json(WhoAmI {
        org: caller.org,
        key_id: caller.key_id,
        scopes: caller.scopes,
        expires: when(caller.expires),
        download_origins,
    })
}

impl AppState {
    /// The origins (`scheme://host[:port]`) an API download may send a client to: the
    /// portal's own (its public URL's, else the one the request reached, by its `Host`), and
    /// the S3 store's public endpoint's when downloads are presigned there. `genesis login`
    /// keeps them, and `genesis pull` follows a download to no other.
    fn download_origins(&self, uri: &Uri, headers: &HeaderMap) -> Vec<String> {
        let own = match &self.public_url {
            Some(url) => Some(url.origin().ascii_serialization()),
            None => {
                let host = header_text(headers, header::HOST).or_else(|| uri.authority().map(|a| a.as_str()));
                // Without a public URL the portal serves TLS itself exactly when its cookies
                // are secure.
                let scheme = if self.secure_cookies { "https" } else { "http" };
                host.and_then(|host| Url::parse(&format!("{scheme}://{host}")).ok())
                    .filter(Url::has_host)
                    .map(|url| url.origin().ascii_serialization())
            }
        };
        own.into_iter().chain(self.presigner.as_ref().map(|p| p.origin().to_owned())).collect()
    }
}

fn covers(entitlements: &[Entitlement], release: &Release) -> bool {
    entitlements.iter().any(|e| e.covers(&release.product, &release.version))
}

/// The release, when it exists (404) and the caller's organisation is entitled to it (403).
/// The scope is the caller's to check: reading a release needs `releases:read`, requesting
/// its export `export:write`.
pub(crate) async fn entitled_release(
    state: &AppState,
    caller: &Caller,
    product: &str,
    version: &str,
) -> Result<Release, Failure> {
    let release = state
        .store
        .release(product, version)
        .await?
        .ok_or_else(|| Failure::not_found(format!("no release {product} {version}")))?;
    if !covers(&state.store.entitlements(&caller.org).await?, &release) {
        return Err(Failure::forbidden(format!(
            "organisation `{}` is not entitled to {product} {version}",
            caller.org
        )));
    }
    Ok(release)
}

/// The releases the caller's organisation is entitled to, newest first (`releases:read`).
pub(crate) async fn entitled_releases(state: &AppState, caller: &Caller) -> Result<Vec<Release>, Failure> {
    caller.require(Scope::ReleasesRead)?;
    let entitlements = state.store.entitlements(&caller.org).await?;
    Ok(state.store.releases().await?.into_iter().filter(|r| covers(&entitlements, r)).collect())
}

/// An entitled release as a listing shows it: `GET /v1/releases` and the customer's start page.
pub(crate) struct ListedRelease {
    pub(crate) release: Release,
    /// How many bundles it has.
    pub(crate) bundles: usize,
    /// The bytes of all its files.
    pub(crate) size: u64,
}

/// The caller's entitled releases, newest first, each with its bundle count and size.
pub(crate) async fn entitled_listing(state: &AppState, caller: &Caller) -> Result<Vec<ListedRelease>, Failure> {
    let mut listed = Vec::new();
    for release in entitled_releases(state, caller).await? {
        let artifacts = state.store.artifacts(&release.product, &release.version).await?;
        let bundles = artifacts.iter().filter(|a| a.kind.is_bundle_entry()).count();
        listed.push(ListedRelease { bundles, size: artifacts.iter().map(|a| a.size).sum(), release });
    }
    Ok(listed)
}

async fn list_releases(State(state): State<Shared>, caller: Caller) -> Result<Json<Vec<ReleaseSummary>>, Failure> {
    let listed = entitled_listing(&state, &caller).await?;
    Ok(Json(
        listed
            .into_iter()
            .map(|l| ReleaseSummary {
                bundles: l.bundles,
                size: l.size,
                published: when(l.release.published),
                product: l.release.product,
                version: l.release.version,
            })
            .collect(),
    ))
}

async fn release_detail(
    State(state): State<Shared>,
    caller: Caller,
    Path((product, version)): Path<(String, String)>,
) -> Result<Json<ReleaseDetail>, Failure> {
    caller.require(Scope::ReleasesRead)?;
    let release = entitled_release(&state, &caller, &product, &version).await?;
    let artifacts = state
        .store
        .artifacts(&product, &version)
        .await?
        .into_iter()
        .map(|a| Artifact {
            download_uri: format!("{API}/releases/{product}/{version}/artifacts/{}", a.name),
            name: a.name,
            kind: a.kind,
            size: a.size,
            sha256: a.sha256,
        })
        .collect();
    Ok(Json(ReleaseDetail {
        product: release.product,
        version: release.version,
        published: when(release.published),
        signer: release.signer,
        artifacts,
    }))
}

async fn download_artifact(
    State(state): State<Shared>,
    caller: Caller,
    Path((product, version, name)): Path<(String, String, String)>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    artifact_download(&state, &caller, &product, &version, &name, &method, &headers, Delivery::Presigned).await
}

/// An artifact of an entitled release (`releases:read`) as [`serve_object`] answers a `method`
/// (`GET`, or the `HEAD` axum answers with the same handler) with `headers`, its bytes
/// delivered as `delivery` says; a download it starts is recorded in the audit log (actor
/// `key:<id>`, subject `product/version/name`), here, once for the API and the pages.
#[allow(clippy::too_many_arguments)]
pub(crate) async fn artifact_download(
    state: &AppState,
    caller: &Caller,
    product: &str,
    version: &str,
    name: &str,
    method: &Method,
    headers: &HeaderMap,
    delivery: Delivery,
) -> Result<Response, Failure> {
    caller.require(Scope::ReleasesRead)?;
    let release = entitled_release(state, caller, product, version).await?;
    let artifact = state
        .store
        .artifacts(product, version)
        .await?
        .into_iter()
        .find(|a| a.name == name)
        .ok_or_else(|| Failure::not_found(format!("{product} {version} has no artifact `{name}`")))?;
    let object = Object {
        key: Artifacts::release_key(product, version, name),
        sha256: artifact.sha256,
        size: artifact.size,
        modified: release.published,
        // A browser opens the release evidence report rather than saving an unknown file.
        content_type: if artifact.kind == ArtifactKind::Report {
            "application/pdf"
        } else {
            "application/octet-stream"
        },
    };
    let served = serve_object(state, method, headers, object, delivery).await?;
    if served.starts_download {
        let subject = format!("{product}/{version}/{name}");
        state.store.audit_now(&caller.actor(), action::DOWNLOAD, Some(&caller.org), &subject).await?;
    }
    Ok(served.response)
}

/// How long a presigned download URL works: long enough for a client to start the download it
/// was minted for (it is used at once, and a transfer under way outlives it), short enough
/// that a URL copied out of a log or a terminal soon opens nothing. A resumed or repeated
/// download asks the portal again, with the key, for a fresh one.
const PRESIGNED_URL_LIFETIME: Duration = Duration::from_secs(15 * 60);

/// How a download's bytes reach the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Delivery {
    /// The portal streams them (the web pages: a browser saves the file under the name the
    /// portal gives it, or shows the evidence report, which a presigned URL of the bare
    /// object cannot say).
    Streamed,
    /// A `GET` is answered `307 Temporary Redirect` to a URL of the object presigned for the
    /// S3 store's public endpoint when the portal has one (the API: `genesis pull` follows it
    /// to an origin the portal declared at login); else they are streamed.
    Presigned,
}

/// A stored object to serve.
struct Object {
    key: String,
    sha256: genesis_types::Digest,
    size: u64,
    modified: i64,
    content_type: &'static str,
}

/// The byte range a `Range` header asks for: `Ok(None)` for the whole object (no header, a
/// multi-range or a syntax we ignore, as RFC 9110 allows), `Err` when unsatisfiable.
fn requested_range(value: &str, size: u64) -> Result<Option<Range<u64>>, ()> {
    let Some(spec) = value.trim().strip_prefix("bytes=") else {
        return Ok(None);
    };
    if spec.contains(',') {
        return Ok(None);
    }
    let Some((first, last)) = spec.split_once('-') else {
        return Ok(None);
    };
    let range = match (first.trim().parse::<u64>().ok(), last.trim().parse::<u64>().ok()) {
        (Some(first), _) if first >= size => return Err(()),
        (Some(first), Some(last)) if last >= first => first..last.saturating_add(1).min(size),
        (Some(first), None) if last.trim().is_empty() => first..size,
        (None, Some(suffix)) if first.trim().is_empty() && suffix > 0 && size > 0 => size.saturating_sub(suffix)..size,
        (None, Some(_)) if first.trim().is_empty() => return Err(()),
        _ => return Ok(None),
    };
    Ok(Some(range))
}

fn header_text(headers: &HeaderMap, name: header::HeaderName) -> Option<&str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

/// An answer of [`serve_object`], and whether it starts a download: the whole object, or a
/// range from its first byte. A download resumed (a later range) or revalidated (304) is the
/// same download again, not another; a `HEAD` downloads nothing.
struct Served {
    response: Response,
    starts_download: bool,
}

/// Serves an object with `ETag` (its SHA-256), `Last-Modified`, 304 on a matching
/// `If-None-Match`, and single `Range`s (honoured only when an `If-Range` matches too). A
/// `HEAD` gets the headers a `GET` would, and the object is not read. With
/// [`Delivery::Presigned`] and a presigner, a `GET` that would be answered with bytes is
/// answered with a redirect to a presigned URL of the object instead (the client asks the
/// store for the same range there).
async fn serve_object(
    state: &AppState,
    method: &Method,
    headers: &HeaderMap,
    object: Object,
    delivery: Delivery,
) -> Result<Served, Failure> {
    let etag = format!("\"{}\"", object.sha256.hex());
    let last_modified =
        httpdate::fmt_http_date(UNIX_EPOCH + Duration::from_secs(u64::try_from(object.modified).unwrap_or(0)));
    let common = |builder: http::response::Builder| {
        builder
            .header(header::ETAG, &etag)
            .header(header::LAST_MODIFIED, &last_modified)
            .header(header::ACCEPT_RANGES, "bytes")
    };
    if header_text(headers, header::IF_NONE_MATCH)
        .is_some_and(|v| v.split(',').any(|t| t.trim() == etag || t.trim() == "*" || t.trim() == format!("W/{etag}")))
    {
        let response = common(Response::builder().status(StatusCode::NOT_MODIFIED)).body(Body::empty()).expect("valid");
        return Ok(Served { response, starts_download: false });
    }
    let if_range_holds = header_text(headers, header::IF_RANGE).is_none_or(|v| v.trim() == etag);
    let range = match header_text(headers, header::RANGE).filter(|_| if_range_holds) {
        Some(value) => match requested_range(value, object.size) {
            Ok(range) => range,
            Err(()) => {
                let response = common(Response::builder().status(StatusCode::RANGE_NOT_SATISFIABLE))
                    .header(header::CONTENT_RANGE, format!("bytes */{}", object.size))
                    .body(Body::empty())
                    .expect("valid");
                return Ok(Served { response, starts_download: false });
            }
        },
        None => None,
    };
    let head = method == Method::HEAD;
    let starts_download = !head && range.as_ref().is_none_or(|r| r.start == 0);
    if let (false, Delivery::Presigned, Some(presigner)) = (head, delivery, &state.presigner) {
        let location =
            presigner.presign_get(&object.key, PRESIGNED_URL_LIFETIME).await.map_err(PortalServerError::from)?;
        state.metrics.presigned_downloads.inc();
        let response = common(Response::builder().status(StatusCode::TEMPORARY_REDIRECT))
            .header(header::LOCATION, location.as_str())
            // The URL expires: no cache keeps it.
            .header(header::CACHE_CONTROL, "no-store")
            .body(Body::empty())
            .expect("valid response");
        return Ok(Served { response, starts_download });
    }
    let body = if head {
        // axum sends a `HEAD` no body: none is read.
        Body::empty()
    } else {
        let stream = state.artifacts.get(&object.key, range.clone()).await?;
        let counted = state.metrics.download_bytes.clone();
        let in_flight = InFlight::enter(&state.metrics);
        Body::from_stream(stream.map(move |chunk| {
            let _held = &in_flight;
            if let Ok(bytes) = &chunk {
                counted.inc_by(bytes.len() as u64);
            }
            chunk
        }))
    };
    let builder = common(Response::builder()).header(header::CONTENT_TYPE, object.content_type);
    let response = match range {
        Some(r) => builder
            .status(StatusCode::PARTIAL_CONTENT)
            .header(header::CONTENT_RANGE, format!("bytes {}-{}/{}", r.start, r.end - 1, object.size))
            .header(header::CONTENT_LENGTH, r.end - r.start),
        None => builder.status(StatusCode::OK).header(header::CONTENT_LENGTH, object.size),
    };
    Ok(Served { response: response.body(body).expect("valid response"), starts_download })
}

/// Keeps `portal_downloads_in_flight` up while a download's body is alive.
struct InFlight(prometheus_client::metrics::gauge::Gauge);

impl InFlight {
    fn enter(metrics: &Metrics) -> InFlight {
        metrics.downloads_in_flight.inc();
        InFlight(metrics.downloads_in_flight.clone())
    }
}

impl Drop for InFlight {
    fn drop(&mut self) {
        self.0.dec();
    }
}

async fn license_file(State(state): State<Shared>, caller: Caller) -> Result<Response, Failure> {
    let license = license_for_caller(&state, &caller).await?;
    Ok(([(header::CONTENT_TYPE, "application/json")], license).into_response())
}

/// The signed license file of the caller's organisation (`releases:read`), valid as long as
/// the key; 404 when the portal was started without a license signing key.
pub(crate) async fn license_for_caller(state: &AppState, caller: &Caller) -> Result<Vec<u8>, Failure> {
    caller.require(Scope::ReleasesRead)?;
    let key = state.license_key.as_ref().ok_or_else(|| {
        Failure::not_found("this portal issues no license files: it was started without a license signing key")
    })?;
    let license = crate::admin::license_for(&state.store, &caller.org, caller.expires).await?;
    Ok(license.sign(key))
}

/// Seconds a client over its export limit is asked to wait: a pack build takes seconds to
/// minutes.
const EXPORT_RETRY_AFTER_SECS: u32 = 30;

/// Seed 003's quota headers, on every export answer: how many builds the organisation may run
/// at once, and how many it may still start now.
fn quota_headers(builds: &Builds, org: &str) -> HeaderMap {
    let mut headers = HeaderMap::new();
    headers.insert(HeaderName::from_static("x-ratelimit-limit"), HeaderValue::from(builds.limit()));
    headers.insert(HeaderName::from_static("x-ratelimit-remaining"), HeaderValue::from(builds.remaining(org)));
    headers
}

impl AppState {
    /// When a finished export's pack is (or was) deleted: what the API's status, its 410 and
    /// the pages all go by.
    pub(crate) fn export_expires(&self, export: &Export) -> Option<i64> {
        export.finished.map(|finished| finished.saturating_add(self.export_ttl_secs))
    }
}

fn export_status_body(state: &AppState, export: &Export) -> ExportStatus {
    let ready = export.status == ExportState::Ready;
    ExportStatus {
        export_id: export.id.clone(),
        profile: BOOTSTRAP_PROFILE.into(),
        status: export.status,
        product: export.product.clone(),
        version: export.version.clone(),
        root_hash: export.root_hash.clone(),
        artifact_sha256: export.sha256.clone(),
        size: export.size,
        download_uri: ready.then(|| format!("{API}/exports/airgap/bootstrap/{}/download", export.id)),
        error: export.error.clone(),
        expires: state.export_expires(export).map(when),
    }
}

/// The answer to a request for an export: `status` (`202 Accepted` for a build, `200 OK` for
/// a pack ready), the export's status, where to poll it, and the quota headers.
fn export_answer(state: &AppState, status: StatusCode, export: &Export) -> Response {
    let location = format!("{API}/exports/airgap/bootstrap/{}", export.id);
    let body = export_status_body(state, export);
    (status, quota_headers(&state.builds, &export.org), [(header::LOCATION, location)], Json(body)).into_response()
}

/// `429 Too Many Requests` with `Retry-After` and the quota headers.
fn too_many_exports(state: &AppState, org: &str, message: String) -> Response {
    let error = ApiError { error: "too_many_exports".into(), message };
    let retry_after = [(header::RETRY_AFTER, EXPORT_RETRY_AFTER_SECS.to_string())];
    (StatusCode::TOO_MANY_REQUESTS, quota_headers(&state.builds, org), retry_after, Json(error)).into_response()
}

async fn start_export(
    State(state): State<Shared>,
    caller: Caller,
    Json(request): Json<ExportRequest>,
) -> Result<Response, Failure> {
    let product = request.product.unwrap_or_else(|| "genesis".into());
    match request_export(&state, &caller, product, request.version).await {
        Ok((status, export)) => Ok(export_answer(&state, status, &export)),
        Err(ExportRefusal::Failure(failure)) => Err(failure),
        Err(ExportRefusal::TooMany { message }) => Ok(too_many_exports(&state, &caller.org, message)),
    }
}

/// Why a request for an export was not answered with one.
pub(crate) enum ExportRefusal {
    /// Refused as any request is (scope, entitlement, an internal error).
    Failure(Failure),
    /// The organisation's or the portal's builds are at their limit: try again later.
    TooMany {
        /// Which limit, and when to retry.
        message: String,
    },
}

impl From<Failure> for ExportRefusal {
    fn from(failure: Failure) -> ExportRefusal {
        ExportRefusal::Failure(failure)
    }
}

impl From<PortalServerError> for ExportRefusal {
    fn from(e: PortalServerError) -> ExportRefusal {
        ExportRefusal::Failure(e.into())
    }
}

/// Asks for a pack of an entitled release (`export:write`): the organisation's pack of it
/// while one is kept (200), the build of it under way (202), or a new build started (202).
/// Each is recorded in the audit log (subject `product/version export-id`).
pub(crate) async fn request_export(
    state: &Shared,
    caller: &Caller,
    product: String,
    version: String,
) -> Result<(StatusCode, Export), ExportRefusal> {
    caller.require(Scope::ExportWrite)?;
    if !valid_product_name(&product) {
        return Err(Failure::new(
            StatusCode::BAD_REQUEST,
            "bad_request",
            format!("`{product}` is not a product name (lower-case letters, digits and `-._`, e.g. genesis)"),
        )
        .into());
    }
    let release = entitled_release(state, caller, &product, &version).await?;
    // Packs are deterministic: the organisation's pack of the release, while it is kept, is the
    // one a new build would make.
    let since = now() - state.export_ttl_secs;
    if let Some(id) = state.store.ready_export(&caller.org, &product, &version, since).await?
        && let Some(ready) = state.store.export(&caller.org, &id).await?
    {
        tracing::info!(exportId = %ready.id, org = %ready.org, keyId = %caller.key_id,
            "export requested while a pack of the release is ready: answered with that export");
        audit_export_request(state, caller, &ready).await?;
        return Ok((StatusCode::OK, ready));
    }
    let export = Export::pending(format!("exp_{}", crate::random_hex(12)), caller.org.clone(), product, version, now());
    let slot = match state.builds.admit(&export) {
        Admission::Started(slot) => slot,
        Admission::Running(building) => {
            tracing::info!(exportId = %building.id, org = %building.org, keyId = %caller.key_id,
                "export requested while the same release is being built: answered with that export");
            audit_export_request(state, caller, &building).await?;
            return Ok((StatusCode::ACCEPTED, building));
        }
        Admission::OrgFull => {
            let limit = state.builds.limit();
            tracing::info!(org = %export.org, keyId = %caller.key_id, limit, "export refused: the organisation's limit is reached");
            let message = format!(
                "organisation `{}` has {limit} export(s) building, its limit; retry after {EXPORT_RETRY_AFTER_SECS} s",
                export.org
            );
            return Err(ExportRefusal::TooMany { message });
        }
        Admission::PortalFull => {
            let limit = state.builds.total();
            tracing::warn!(org = %export.org, keyId = %caller.key_id, limit, "export refused: the portal's limit is reached");
            let message = format!(
                "the portal has {limit} export(s) building, its limit across organisations; retry after \
                 {EXPORT_RETRY_AFTER_SECS} s"
            );
            return Err(ExportRefusal::TooMany { message });
        }
    };
    state.store.insert_export(&export, state.instance.id()).await?;
    tracing::info!(exportId = %export.id, profile = BOOTSTRAP_PROFILE, org = %export.org, keyId = %caller.key_id, "export requested");
    audit_export_request(state, caller, &export).await?;
    tokio::spawn(crate::export::build(Arc::clone(state), export.clone(), release, slot));
    Ok((StatusCode::ACCEPTED, export))
}

/// Records in the audit log that the caller asked for `export`.
async fn audit_export_request(state: &AppState, caller: &Caller, export: &Export) -> Result<(), Failure> {
    let subject = format!("{}/{} {}", export.product, export.version, export.id);
    state.store.audit_now(&caller.actor(), action::EXPORT_REQUEST, Some(&caller.org), &subject).await?;
    Ok(())
}

/// The caller's export `id` (`export:read`): 404 when it has none, 410 once its pack has
/// expired.
pub(crate) async fn caller_export(state: &AppState, caller: &Caller, id: &str) -> Result<Export, Failure> {
    caller.require(Scope::ExportRead)?;
    let export = match state.store.export(&caller.org, id).await? {
        Some(export) => export,
        // Admitted a moment ago and not recorded yet: a concurrent request got its id.
        None => state.builds.running(&caller.org, id).ok_or_else(|| Failure::not_found(format!("no export {id}")))?,
    };
    match (export.expired, state.export_expires(&export)) {
        (Some(deleted), _) => Err(gone(id, deleted)),
        (None, Some(due)) if due <= now() => Err(gone(id, due)),
        _ => Ok(export),
    }
}

fn gone(id: &str, since: i64) -> Failure {
    Failure::new(
        StatusCode::GONE,
        "gone",
        format!("export {id} expired on {}: its pack is deleted; stage a new export", when(since)),
    )
}

async fn export_status(
    State(state): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
) -> Result<Response, Failure> {
    let export = caller_export(&state, &caller, &id).await?;
    Ok((quota_headers(&state.builds, &caller.org), Json(export_status_body(&state, &export))).into_response())
}

async fn download_export(
    State(state): State<Shared>,
    caller: Caller,
    Path(id): Path<String>,
    method: Method,
    headers: HeaderMap,
) -> Result<Response, Failure> {
    let mut response = export_download(&state, &caller, &id, &method, &headers, Delivery::Presigned).await?;
    response.headers_mut().extend(quota_headers(&state.builds, &caller.org));
    Ok(response)
}

/// The pack of the caller's export `id` (`export:read`) as [`serve_object`] answers `method`
/// with `headers`, its bytes delivered as `delivery` says, 409 while it is not ready; a
/// download it starts is recorded in the audit log (subject
/// `product/version/genesis-airgap-ID.tar.gz`), once for the API and the pages.
pub(crate) async fn export_download(
    state: &AppState,
    caller: &Caller,
    id: &str,
    method: &Method,
    headers: &HeaderMap,
    delivery: Delivery,
) -> Result<Response, Failure> {
    let export = caller_export(state, caller, id).await?;
    let (Some(sha256), Some(size)) = (export.sha256, export.size) else {
        return Err(Failure::new(
            StatusCode::CONFLICT,
            "not_ready",
            format!("export {id} is {}; poll its status until it is ready", serde_json::json!(export.status)),
        ));
    };
    let object = Object {
        key: Artifacts::export_key(&export.org, id),
        sha256,
        size,
        modified: export.created,
        content_type: "application/gzip",
    };
    let served = serve_object(state, method, headers, object, delivery).await?;
    if served.starts_download {
        let subject = format!("{}/{}/genesis-airgap-{id}.tar.gz", export.product, export.version);
        state.store.audit_now(&caller.actor(), action::DOWNLOAD, Some(&caller.org), &subject).await?;
    }
    Ok(served.response)
}

#[cfg(test)]
mod tests {
    use std::path::Path;
    use std::sync::Arc;

    use axum::Json;
    use axum::body::Body;
    use axum::extract::FromRequest as _;
    use axum::http::{Method, Request, StatusCode, header};
    use genesis_portal_client::protocol::{ExportRequest, Scope};
    use genesis_testkit::fuzz::{damaged, edit};
    use genesis_trust::PublicKey;
    use proptest::prelude::*;
    use serde_json::{Value, json};
    use tower::ServiceExt as _;

    use super::{ApiConfig, AppState, parse_public_url, requested_range, router};
    use crate::admin::{create_key_in, create_org_in, entitle_in};
    use crate::config::{ConfigError, PortalConfig};
    use crate::error::PortalServerError;
    use crate::publish::{Publication, publish_into};

    #[test]
    fn a_public_url_is_a_scheme_a_host_and_a_port_at_most() {
        for (given, origin) in [
            ("https://downloads.example.com", "https://downloads.example.com"),
            ("https://downloads.example.com/", "https://downloads.example.com"),
            ("https://downloads.example.com:8443", "https://downloads.example.com:8443"),
            ("http://10.0.0.7:8480", "http://10.0.0.7:8480"),
        ] {
            let url = parse_public_url(given).unwrap_or_else(|e| panic!("{given}: {e}"));
            assert_eq!(url.origin().ascii_serialization(), origin, "{given}");
        }
        for (given, reason) in [
            ("downloads.example.com", "not a URL"),
            ("ftp://downloads.example.com", "expected https://HOST[:PORT]"),
            ("https://downloads.example.com/portal", "remove the path"),
            ("https://downloads.example.com/?a=b", "remove the user info and the query"),
            ("https://downloads.example.com/#top", "remove the fragment"),
            ("https://alice:s3cret@downloads.example.com", "remove the user info and the query"),
        ] {
            match parse_public_url(given) {
                Err(PortalServerError::Config(e @ ConfigError::NotAPublicUrl { .. })) => {
                    assert!(e.to_string().contains(reason), "{given}: {e}");
                    assert!(!e.to_string().contains("s3cret"), "{e}");
                }
                other => panic!("{given}: {other:?}"),
            }
        }
    }

    /// The cookies are `Secure` when browsers reach the portal over HTTPS: its own, or that
    /// of the proxy its public URL names.
    #[tokio::test]
    async fn cookies_are_secure_behind_an_https_public_url_or_over_the_portal_s_own_tls() {
        let dir = tempfile::tempdir().unwrap();
        let portal = PortalConfig { data_dir: Some(dir.path().to_owned()), ..PortalConfig::default() };
        for (tls, public_url, secure) in [
            (false, None, false),
            (true, None, true),
            (false, Some("https://downloads.example.com"), true),
            (false, Some("http://portal.internal:8480"), false),
        ] {
            let public_url = public_url.map(|u| parse_public_url(u).unwrap());
            let state = AppState::open(&portal, ApiConfig { tls, public_url, ..ApiConfig::default() }).await.unwrap();
            assert_eq!(state.secure_cookies, secure, "tls {tls}, public URL {:?}", state.public_url);
        }
    }

    /// A public S3 endpoint presigns downloads of an S3 store: without one the portal is
    /// refused before it opens anything, naming the endpoint without what could be a secret.
    #[tokio::test]
    async fn a_public_s3_endpoint_without_an_s3_store_is_refused_before_anything_is_opened() {
        let dir = tempfile::tempdir().unwrap();
        let portal = PortalConfig {
            data_dir: Some(dir.path().join("data")),
            s3_public_endpoint: Some("https://user:s3cret@files.example.com".into()),
            ..PortalConfig::default()
        };
        assert_eq!(portal.presign_endpoint().as_deref(), Some("https://files.example.com"));
        match AppState::open(&portal, ApiConfig::default()).await {
            Err(PortalServerError::Config(e @ ConfigError::PresignWithoutObjectStore { .. })) => {
                assert!(e.to_string().starts_with("public S3 endpoint https://files.example.com: "), "{e}");
            }
            Err(other) => panic!("{other:?}"),
            Ok(_) => panic!("opened"),
        }
        assert!(!dir.path().join("data").exists(), "nothing was opened");
    }

    /// A portal whose organisation `acme` is entitled to the fixture bundle, published as
    /// genesis 0.1.0; and a key of `acme` with `scopes`.
    async fn published(dir: &Path, scopes: &[Scope]) -> (Arc<AppState>, String) {
        let portal = PortalConfig { data_dir: Some(dir.to_owned()), ..PortalConfig::default() };
        let state = AppState::open(&portal, ApiConfig::default()).await.unwrap();
        let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
        let key = PublicKey::from_pem_file(&fixtures.join("keys/test.pub")).unwrap();
        let files = [fixtures.join("bundles/good/demo-0.1.0.tar.zst")];
        let publication = Publication { product: "genesis", version: "0.1.0", files: &files, key: &key };
        publish_into(&state.store, &state.artifacts, publication, 1, "cli:test").await.unwrap();
        create_org_in(&state.store, "acme", "cli:test").await.unwrap();
        entitle_in(&state.store, "acme", "genesis", "*", "cli:test").await.unwrap();
        let key = create_key_in(&state.store, "acme", scopes, 30, "cli:test").await.unwrap().key;
        (state, key)
    }

    /// axum answers a `HEAD` with the `GET` handler: it gets the download's headers, reads
    /// nothing, and is no download in the audit log.
    #[tokio::test]
    async fn a_head_request_is_answered_with_the_download_s_headers_and_is_no_download() {
        let dir = tempfile::tempdir().unwrap();
        let (state, key) = published(dir.path(), &[Scope::ReleasesRead]).await;
        let app = router(Arc::clone(&state));
        let request = |method: Method| {
            Request::builder()
                .method(method)
                .uri("/v1/releases/genesis/0.1.0/artifacts/demo-0.1.0.tar.zst")
                .header(header::AUTHORIZATION, format!("Bearer {key}"))
                .body(Body::empty())
                .unwrap()
        };
        let size = std::fs::metadata(
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/bundles/good/demo-0.1.0.tar.zst"),
        )
        .unwrap()
        .len();

        let head = app.clone().oneshot(request(Method::HEAD)).await.unwrap();
        assert_eq!(head.status(), StatusCode::OK);
        assert_eq!(head.headers()[header::CONTENT_LENGTH], size.to_string().as_str());
        assert!(axum::body::to_bytes(head.into_body(), 1 << 20).await.unwrap().is_empty());
        assert_eq!(state.store.downloads_of("acme").await.unwrap(), 0, "a HEAD is no download");

        let get = app.oneshot(request(Method::GET)).await.unwrap();
        assert_eq!(get.status(), StatusCode::OK);
        assert_eq!(axum::body::to_bytes(get.into_body(), 1 << 20).await.unwrap().len() as u64, size);
        assert_eq!(state.store.downloads_of("acme").await.unwrap(), 1);
    }

    /// `whoami` declares the origins downloads may come from: without a presigner, the
    /// portal's own alone, as the request reached it.
    #[tokio::test]
    async fn whoami_declares_the_portal_s_own_origin_for_downloads() {
        let dir = tempfile::tempdir().unwrap();
        let (state, key) = published(dir.path(), &[Scope::ReleasesRead]).await;
        let request = Request::get("/v1/whoami")
            .header(header::HOST, "portal.example:8480")
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .body(Body::empty())
            .unwrap();
        let answer = router(state).oneshot(request).await.unwrap();
        assert_eq!(answer.status(), StatusCode::OK);
        let body: Value =
            serde_json::from_slice(&axum::body::to_bytes(answer.into_body(), 1 << 20).await.unwrap()).unwrap();
        assert_eq!(body["downloadOrigins"], json!(["http://portal.example:8480"]), "{body}");
    }

    /// A product that is no product name is refused before anything is looked up.
    #[tokio::test]
    async fn an_export_of_a_product_that_is_no_product_name_is_a_bad_request() {
        let dir = tempfile::tempdir().unwrap();
        let (state, key) = published(dir.path(), &[Scope::ExportWrite]).await;
        let request = Request::post("/v1/exports/airgap/bootstrap")
            .header(header::AUTHORIZATION, format!("Bearer {key}"))
            .header(header::CONTENT_TYPE, "application/json")
            .body(Body::from(r#"{"product": "../genesis", "version": "0.1.0"}"#))
            .unwrap();
        let answer = router(state).oneshot(request).await.unwrap();
        assert_eq!(answer.status(), StatusCode::BAD_REQUEST);
        let body: Value =
            serde_json::from_slice(&axum::body::to_bytes(answer.into_body(), 1 << 20).await.unwrap()).unwrap();
        assert_eq!(body["error"], "bad_request");
        assert!(body["message"].as_str().unwrap().contains("`../genesis` is not a product name"), "{body}");
    }

    #[test]
    fn ranges_as_rfc_9110_reads_them() {
        assert_eq!(requested_range("bytes=0-99", 1000), Ok(Some(0..100)));
        assert_eq!(requested_range("bytes=900-", 1000), Ok(Some(900..1000)));
        assert_eq!(requested_range("bytes=-100", 1000), Ok(Some(900..1000)));
        assert_eq!(requested_range("bytes=990-2000", 1000), Ok(Some(990..1000)));
        assert_eq!(requested_range("bytes=1000-", 1000), Err(()));
        assert_eq!(requested_range("bytes=0-1,5-9", 1000), Ok(None), "multi-range: the whole object");
        assert_eq!(requested_range("items=0-1", 1000), Ok(None));
        assert_eq!(requested_range("bytes=5-1", 1000), Ok(None));
    }

    #[test]
    fn a_range_to_the_largest_number_ends_at_the_object_and_nothing_of_an_empty_one_is_satisfiable() {
        assert_eq!(requested_range(&format!("bytes=0-{}", u64::MAX), 10), Ok(Some(0..10)));
        assert_eq!(requested_range("bytes=-5", 0), Err(()));
        assert_eq!(requested_range("bytes=0-", 0), Err(()));
    }

    /// An export request body: well-formed, with a node replaced or removed, or damaged.
    fn export_body() -> impl Strategy<Value = Vec<u8>> {
        let valid = (proptest::option::of(r"\PC{0,12}"), r"\PC{0,12}").prop_map(|(product, version)| {
            serde_json::to_vec(&json!({"product": product, "version": version})).unwrap()
        });
        prop_oneof![
            valid.clone(),
            (valid.clone(), edit()).prop_map(|(body, change)| {
                let mut doc: Value = serde_json::from_slice(&body).unwrap();
                change.apply(&mut doc);
                serde_json::to_vec(&doc).unwrap()
            }),
            valid.prop_flat_map(damaged),
        ]
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// A served range is never empty and never past the object; anything else is the
        /// whole object or unsatisfiable.
        #[test]
        fn any_range_header_gives_a_range_inside_the_object(
            value in prop_oneof![
                r"bytes= ?[0-9]{0,21} ?- ?[0-9]{0,21}(,[0-9]{0,3}-[0-9]{0,3})?",
                (any::<u64>(), any::<u64>()).prop_map(|(first, last)| format!("bytes={first}-{last}")),
                any::<u64>().prop_map(|suffix| format!("bytes=-{suffix}")),
                r"\PC{0,30}",
            ],
            size in prop_oneof![Just(0u64), Just(1u64), 0u64..4096, any::<u64>()],
        ) {
            if let Ok(Some(range)) = requested_range(&value, size) {
                prop_assert!(range.start < range.end && range.end <= size, "{value:?} of {size} bytes gave {range:?}");
            }
        }

        /// What the export endpoint's JSON extractor makes of a body: the request it names, or
        /// a client error, never a panic.
        #[test]
        fn any_export_request_body_is_read_or_refused_as_a_client_error(body in export_body()) {
            match Json::<ExportRequest>::from_bytes(&body) {
                Ok(Json(request)) => {
                    // serde_json skips a field the request does not name without checking its
                    // escapes (a lone surrogate such as "\ud800"), which a `Value` refuses:
                    // such a body is still a valid request, compared where a `Value` reads it.
                    if let Ok(doc) = serde_json::from_slice::<Value>(&body) {
                        prop_assert_eq!(doc["version"].as_str(), Some(request.version.as_str()));
                    }
                }
                Err(rejection) => prop_assert!(rejection.status().is_client_error(), "{rejection}"),
            }
        }
    }

    /// The extractor reads at most axum's default body limit (2 MiB): a larger body is
    /// refused with 413 before it is parsed.
    #[test]
    fn an_export_request_body_past_the_limit_is_refused_unread() {
        let body = format!("{{\"version\": \"{}\"}}", "1".repeat(3 << 20));
        let request = axum::http::Request::builder()
            .method("POST")
            .header(axum::http::header::CONTENT_TYPE, "application/json")
            .body(axum::body::Body::from(body))
            .unwrap();
        let runtime = tokio::runtime::Builder::new_current_thread().build().unwrap();
        let rejection = runtime.block_on(Json::<ExportRequest>::from_request(request, &())).unwrap_err();
        assert_eq!(rejection.status(), axum::http::StatusCode::PAYLOAD_TOO_LARGE, "{rejection}");
    }
}
