//! A client of the OCI distribution API: token and basic auth, TLS by default (system roots
//! or a custom CA), plain HTTP only when asked, retries with backoff per request, digests
//! verified on everything read, monolithic or chunked uploads, cross-repository mounts.

use std::collections::{BTreeMap, HashMap, HashSet};
use std::io::{Read, Write as _};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use bytes::Bytes;
use genesis_bundle::digest_io::DigestAdapter;
use genesis_bundle::{ArchiveRange, sha256};
use genesis_http::{MAX_ERROR_BODY, read_limited};
use genesis_types::{Digest, MAX_MANIFEST, media_types};
use reqwest::header::{
    ACCEPT, AUTHORIZATION, CONTENT_LENGTH, CONTENT_RANGE, CONTENT_TYPE, HeaderValue, LOCATION, WWW_AUTHENTICATE,
};
use reqwest::{RequestBuilder, Response, StatusCode, Url};

use crate::{RegistryError, Result};

/// Blobs larger than this are uploaded in chunks of this size.
pub const CHUNK: u64 = 32 << 20;
/// Size of the pieces an upload's bytes arrive in ([`ChunkReceiver`]): [`CHUNK`] is a
/// multiple of it, so a piece never straddles two request bodies.
pub(crate) const PIECE: usize = 1 << 20;
/// Largest answer read from a token endpoint: a JSON object holding a token of a few KiB.
const MAX_TOKEN_RESPONSE: usize = 1 << 20;
/// Redirects followed for one request (a blob download is often sent on to storage).
const MAX_REDIRECTS: usize = 5;
/// Longest silence while waiting for a response or its next bytes: a server that stops
/// sending fails the request (a transient error) instead of hanging the run.
const READ_TIMEOUT: Duration = Duration::from_secs(120);
/// Docker Hub's registry API host. References name Docker Hub `docker.io` (what `nginx`
/// normalises to) or, in older configurations, `index.docker.io`; neither serves the
/// distribution API, which every Docker-compatible client reaches here.
const DOCKER_HUB_API: &str = "registry-1.docker.io";
/// Media types accepted when fetching a manifest.
const MANIFEST_ACCEPT: &str = "application/vnd.oci.image.index.v1+json, application/vnd.oci.image.manifest.v1+json, \
     application/vnd.docker.distribution.manifest.list.v2+json, application/vnd.docker.distribution.manifest.v2+json";

/// A username and password (or token) for one registry.
#[derive(Clone, PartialEq, Eq)]
pub struct Credentials {
    /// User name.
    pub username: String,
    /// Password or token.
    pub password: String,
}

impl std::fmt::Debug for Credentials {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Credentials({}, ****)", self.username)
    }
}

impl Credentials {
    /// Reads the entry for `host` from a Docker `config.json` (`auths.<host>.auth`, base64
    /// `user:password`; Docker Hub's under the key `docker login` writes). `None` when the
    /// file has no entry for the host.
    pub fn from_docker_config(path: &Path, host: &str) -> Result<Option<Credentials>> {
        let text = std::fs::read_to_string(path).map_err(RegistryError::io("reading", path.display()))?;
        let v: serde_json::Value = serde_json::from_str(&text)
            .map_err(|e| RegistryError::Invalid(format!("{}: not a Docker config.json: {e}", path.display())))?;
        let auths = &v["auths"];
        let hub = api_host(host) == DOCKER_HUB_API;
        let Some(entry) = auths
            .get(host)
            .or_else(|| auths.get(format!("https://{host}")))
            .or_else(|| hub.then(|| auths.get("https://index.docker.io/v1/")).flatten())
        else {
            return Ok(None);
        };
        let auth = entry["auth"].as_str().unwrap_or_default();
        let decoded = STANDARD.decode(auth).ok().and_then(|b| String::from_utf8(b).ok()).ok_or_else(|| {
            RegistryError::Invalid(format!("{}: auths.{host}.auth is not base64 user:password", path.display()))
        })?;
        let (username, password) = decoded
            .split_once(':')
            .ok_or_else(|| RegistryError::Invalid(format!("{}: auths.{host}.auth has no ':'", path.display())))?;
        Ok(Some(Credentials { username: username.into(), password: password.into() }))
    }

    /// The default Docker config file: `$DOCKER_CONFIG/config.json`, else `~/.docker/config.json`.
    pub fn default_docker_config() -> Option<PathBuf> {
        let dir = std::env::var_os("DOCKER_CONFIG")
            .map(PathBuf::from)
            .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".docker")))?;
        Some(dir.join("config.json")).filter(|p| p.exists())
    }
}

/// How to reach one registry.
#[derive(Debug, Clone, Default)]
pub struct RegistryOptions {
    /// Use `http://` instead of TLS. Only when the operator says so (`--plain-http`).
    pub plain_http: bool,
    /// Trust only this CA bundle (PEM) instead of the system roots.
    pub ca_file: Option<PathBuf>,
    /// Credentials for basic auth and token requests.
    pub credentials: Option<Credentials>,
    /// Retries of one request after a transient failure (default 3 when zero).
    pub retries: u32,
}

/// A manifest as fetched: its exact bytes, its media type and its digest.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Manifest {
    /// The bytes, exactly as served.
    pub bytes: Bytes,
    /// `Content-Type` (or the `mediaType` field when the header is missing).
    pub media_type: String,
    /// SHA-256 of the bytes.
    pub digest: Digest,
}

/// What happened to one blob on push.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum PushOutcome {
    /// The registry already had it (HEAD answered 200).
    Present,
    /// Mounted from another repository of the same registry.
    Mounted,
    /// Uploaded.
    Uploaded,
}

/// Where a blob's bytes come from for an upload; opened again for every attempt.
pub trait BlobSource: Send + Sync {
    /// A fresh reader over the whole blob.
    fn open(&self) -> std::io::Result<Box<dyn Read + Send>>;
}

/// A blob read in place from a verified bundle's archive.
impl BlobSource for ArchiveRange {
    fn open(&self) -> std::io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(self.open_at(0, self.size)?))
    }
}

/// Downloads a URL (a chart repository's `index.yaml` or a chart) of at most `max` bytes,
/// with the same TLS, plain-HTTP, timeout and redirect rules as a registry. Credentials go
/// to the URL's origin alone: with credentials, a redirect off that origin is refused (they
/// were configured for it, and a redirect cannot shed them on every path); without, it is
/// followed and announced.
pub async fn fetch_url(url: &str, options: &RegistryOptions, max: usize) -> Result<Bytes> {
    let home = Url::parse(url).map_err(|e| RegistryError::Invalid(format!("`{url}` is not a URL: {e}")))?;
    if home.scheme() == "http" && !options.plain_http {
        return Err(RegistryError::PlainHttp { url: url.to_owned() });
    }
    let off_origin = if options.credentials.is_some() { OffOrigin::Refuse } else { OffOrigin::Announce };
    let http = http_client(&Egress::new(home.clone()), options, off_origin)?;
    let mut req = http.get(home);
    if let Some(c) = &options.credentials {
        req = req.basic_auth(&c.username, Some(&c.password));
    }
    let resp = req.send().await.map_err(|e| RegistryError::Transport { url: url.to_owned(), source: e })?;
    if resp.status() == StatusCode::NOT_FOUND {
        return Err(RegistryError::NotFound(url.to_owned()));
    }
    let resp = expect(resp, &[StatusCode::OK], "GET", url).await?;
    read_limited(resp, max).await.map_err(RegistryError::body(url))
}

/// The host serving the distribution API of the registry a reference names: the name
/// itself, except Docker Hub's names, which map to [`DOCKER_HUB_API`].
fn api_host(registry: &str) -> &str {
    match registry {
        genesis_types::DEFAULT_REGISTRY | "index.docker.io" => DOCKER_HUB_API,
        other => other,
    }
}

/// The base URL of the registry a reference names (`HOST[:PORT]`): where its requests go,
/// and what a start-up announcement names.
pub fn endpoint(registry: &str, plain_http: bool) -> String {
    format!("{}://{}", if plain_http { "http" } else { "https" }, api_host(registry))
}

/// A client for one registry host.
#[derive(Clone)]
pub struct Registry {
    host: String,
    /// The registry's base URL (`egress.home`) and the endpoints beyond it this client
    /// announced.
    egress: Egress,
    plain_http: bool,
    http: reqwest::Client,
    credentials: Option<Credentials>,
    /// The `Authorization` value per scope, sent to the registry's own origin only.
    auth: Arc<Mutex<HashMap<String, HeaderValue>>>,
    retries: u32,
}

impl std::fmt::Debug for Registry {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "Registry({})", self.endpoint())
    }
}

/// `Www-Authenticate: Bearer realm="…",service="…",scope="…"` parameters.
fn challenge_params(header: &str) -> HashMap<String, String> {
    let mut out = HashMap::new();
    let rest = header.split_once(' ').map_or("", |(_, r)| r);
    let mut chars = rest.chars().peekable();
    while chars.peek().is_some() {
        let key: String = chars
            .by_ref()
            .take_while(|&c| c != '=')
            .collect::<String>()
            .trim()
            .trim_start_matches(',')
            .trim()
            .to_owned();
        let value: String = if chars.peek() == Some(&'"') {
            chars.next();
            let v = chars.by_ref().take_while(|&c| c != '"').collect();
            while chars.peek().is_some_and(|&c| c != ',') {
                chars.next();
            }
            chars.next();
            v
        } else {
            chars.by_ref().take_while(|&c| c != ',').collect()
        };
        if !key.is_empty() {
            out.insert(key.to_ascii_lowercase(), value);
        }
    }
    out
}

/// What a client contacts: its home origin, which the run announced with its
/// configuration, and the endpoints it learns from answers (a token realm, an upload
/// `Location`, a redirect) on other origins. Each of those is announced once per client
/// before it is contacted, as a warning under [`genesis_types::EGRESS_TARGET`].
#[derive(Debug, Clone)]
struct Egress {
    home: Url,
    learned: Arc<Mutex<HashSet<String>>>,
}

impl Egress {
    fn new(home: Url) -> Egress {
        Egress { home, learned: Arc::default() }
    }

    /// Whether `url` is on the home origin (scheme, host and port).
    fn is_home(&self, url: &Url) -> bool {
        url.origin() == self.home.origin()
    }

    /// Announces the origin of `url`, `what` it is and who named it, unless it is home or
    /// was announced before.
    fn announce(&self, url: &Url, what: &str, named_by: &str) {
        if self.is_home(url) {
            return;
        }
        let endpoint = url.origin().ascii_serialization();
        if self.learned.lock().expect("not poisoned").insert(endpoint.clone()) {
            tracing::warn!(target: genesis_types::EGRESS_TARGET, %endpoint, "contacting {what} {endpoint} named by {named_by}");
        }
    }
}

/// What a client does with a redirect off its home origin.
#[derive(Debug, Clone, Copy)]
enum OffOrigin {
    /// Refuses it: the request carries credentials configured for the home origin alone.
    Refuse,
    /// Follows it and announces the new origin. reqwest drops `Authorization` on a redirect
    /// to another host or port; one to the same host and port keeps it, and can only change
    /// the scheme to `https` (or to `http` where plain HTTP is enabled for home anyway).
    Announce,
}

/// Follows at most [`MAX_REDIRECTS`] redirects: any within the home origin (plain HTTP only
/// where plain HTTP is enabled), none elsewhere to plain HTTP unless it is enabled; one off
/// the home origin is refused or announced, as `off_origin` says.
fn redirect_policy(egress: Egress, plain_http: bool, off_origin: OffOrigin) -> reqwest::redirect::Policy {
    genesis_http::redirects(egress.home.clone(), MAX_REDIRECTS, move |attempt| {
        let to = attempt.url().clone();
        let from = attempt.previous().last().unwrap_or(&egress.home).origin().ascii_serialization();
        if to.scheme() != "https" && !plain_http {
            attempt.error(format!("refusing a redirect to {to}: plain HTTP is not enabled"))
        } else {
            match off_origin {
                OffOrigin::Refuse => attempt.error(format!(
                    "refusing a redirect from {from} to {to}: the credentials configured for {} go nowhere else",
                    egress.home.origin().ascii_serialization()
                )),
                OffOrigin::Announce => {
                    egress.announce(&to, "host", &format!("a redirect from {from}"));
                    attempt.follow()
                }
            }
        }
    })
}

/// The HTTP client of requests to `egress`'s home, as `genesis_http` builds them: TLS with
/// the roots `options` names unless home is plain HTTP, [`READ_TIMEOUT`]s,
/// [`redirect_policy`], our user agent.
fn http_client(egress: &Egress, options: &RegistryOptions, off_origin: OffOrigin) -> Result<reqwest::Client> {
    let tls = if egress.home.scheme() == "https" {
        let roots = genesis_http::root_store(options.ca_file.as_deref());
        Some(roots.and_then(genesis_http::tls_config).map_err(RegistryError::tls)?)
    } else {
        None
    };
    let redirect = redirect_policy(egress.clone(), options.plain_http, off_origin);
    genesis_http::client_builder(READ_TIMEOUT, redirect, tls)
        .user_agent(genesis_http::USER_AGENT)
        .build()
        .map_err(|e| RegistryError::Invalid(format!("HTTP client: {e}")))
}

fn transport(e: reqwest::Error) -> RegistryError {
    RegistryError::Transport { url: e.url().map(ToString::to_string).unwrap_or_default(), source: e }
}

impl Registry {
    /// A client for `host` (`HOST[:PORT]`; Docker Hub's names reach `registry-1.docker.io`).
    /// A redirect elsewhere (a blob sent on to storage) is followed without the registry's
    /// authorization and announced.
    pub fn new(host: &str, options: &RegistryOptions) -> Result<Registry> {
        let base = endpoint(host, options.plain_http);
        let base = Url::parse(&base)
            .map_err(|e| RegistryError::Invalid(format!("registry `{host}` is not a HOST[:PORT] ({base}: {e})")))?;
        let egress = Egress::new(base);
        let http = http_client(&egress, options, OffOrigin::Announce)?;
        Ok(Registry {
            host: host.to_owned(),
            egress,
            plain_http: options.plain_http,
            http,
            credentials: options.credentials.clone(),
            auth: Arc::default(),
            retries: if options.retries == 0 { 3 } else { options.retries },
        })
    }

    /// Retries of one request after a transient failure.
    pub(crate) fn retries(&self) -> u32 {
        self.retries
    }

    /// The registry host, as references name it.
    pub fn host(&self) -> &str {
        &self.host
    }

    /// Where its requests go (`https://registry-1.docker.io` for `docker.io`), for the
    /// start-up announcement.
    pub fn endpoint(&self) -> &str {
        self.egress.home.as_str().trim_end_matches('/')
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.endpoint())
    }

    /// Whether `url` is on the registry's own origin (scheme, host and port): the only
    /// place its authorization goes.
    fn is_own(&self, url: &Url) -> bool {
        self.egress.is_home(url)
    }

    /// Resolves a `Location` header against the registry. It may name another host (a
    /// storage backend), but not plain HTTP unless that is enabled.
    fn location(&self, resp: &Response) -> Result<String> {
        let bad_answer = |detail: String| RegistryError::BadAnswer { url: resp.url().to_string(), detail };
        let loc = resp
            .headers()
            .get(LOCATION)
            .and_then(|v| v.to_str().ok())
            .ok_or_else(|| bad_answer("upload response without Location".into()))?;
        let url =
            self.egress.home.join(loc).map_err(|e| bad_answer(format!("upload Location `{loc}` is not a URL: {e}")))?;
        if url.scheme() != "https" && !self.plain_http {
            return Err(RegistryError::Invalid(format!(
                "{}: refusing the upload Location {url}: plain HTTP is not enabled for this registry",
                self.host
            )));
        }
        self.egress.announce(&url, "upload host", &format!("registry {}", self.host));
        Ok(url.into())
    }

    /// Sends `req`, with the authorization cached for `scope` when it goes to the
    /// registry's own origin: a request elsewhere (an upload `Location` on another host)
    /// carries none.
    async fn execute(&self, scope: &str, req: RequestBuilder) -> Result<Response> {
        let (http, request) = req.build_split();
        let mut request = request.map_err(transport)?;
        if self.is_own(request.url())
            && let Some(auth) = self.cached_auth(scope)
        {
            request.headers_mut().insert(AUTHORIZATION, auth);
        }
        http.execute(request).await.map_err(transport)
    }

    fn cached_auth(&self, scope: &str) -> Option<HeaderValue> {
        self.auth.lock().expect("not poisoned").get(scope).cloned()
    }

    /// Sends a request built by `make` (called again for each attempt), with the cached
    /// authorization for `scope`; answers a 401 challenge of the registry once; retries
    /// transient failures with exponential backoff.
    async fn send(&self, scope: &str, make: &(dyn Fn() -> RequestBuilder + Sync)) -> Result<Response> {
        let mut attempt = 0;
        let mut challenged = false;
        loop {
            let failure = match self.execute(scope, make()).await {
                Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED && !challenged && self.is_own(resp.url()) => {
                    challenged = true;
                    self.answer_challenge(scope, &resp).await?;
                    continue;
                }
                Ok(resp) if resp.status() == StatusCode::UNAUTHORIZED => {
                    let detail = if self.is_own(resp.url()) {
                        "credentials refused".to_owned()
                    } else {
                        format!("{} asked for credentials, which go only to the registry itself", resp.url())
                    };
                    return Err(RegistryError::Unauthorized { registry: self.host.clone(), detail });
                }
                Ok(resp) if resp.status().is_server_error() || resp.status() == StatusCode::TOO_MANY_REQUESTS => {
                    status_error(resp, "").await
                }
                Ok(resp) => return Ok(resp),
                Err(e) => e,
            };
            if attempt >= self.retries || !failure.is_transient() {
                return Err(failure);
            }
            attempt += 1;
            let delay = Duration::from_millis(200 << attempt.min(6));
            tracing::warn!(registry = %self.host, attempt, error = %failure, "retrying after {delay:?}");
            tokio::time::sleep(delay).await;
        }
    }

    async fn answer_challenge(&self, scope: &str, resp: &Response) -> Result<()> {
        let header = resp.headers().get(WWW_AUTHENTICATE).and_then(|v| v.to_str().ok()).unwrap_or("").to_owned();
        let unauthorized = |detail: String| RegistryError::Unauthorized { registry: self.host.clone(), detail };
        let basic = self
            .credentials
            .as_ref()
            .map(|c| format!("Basic {}", STANDARD.encode(format!("{}:{}", c.username, c.password))));
        let value = if header.to_ascii_lowercase().starts_with("basic") {
            basic.ok_or_else(|| unauthorized(header.clone()))?
        } else if header.to_ascii_lowercase().starts_with("bearer") {
            let params = challenge_params(&header);
            let realm =
                params.get("realm").ok_or_else(|| unauthorized(format!("bearer challenge without realm: {header}")))?;
            let realm_url = self.realm_url(realm)?;
            self.egress.announce(&realm_url, "token service", &format!("registry {}", self.host));
            tracing::info!(registry = %self.host, realm, "requesting a token");
            let mut req = self.http.get(realm_url).query(&[("scope", scope)]);
            if let Some(service) = params.get("service") {
                req = req.query(&[("service", service)]);
            }
            if let Some(b) = &basic {
                req = req.header(AUTHORIZATION, b);
            }
            let resp = req.send().await.map_err(|e| RegistryError::Transport { url: realm.clone(), source: e })?;
            if !resp.status().is_success() {
                return Err(unauthorized(format!("token endpoint {realm} answered {}", resp.status())));
            }
            let bytes = read_limited(resp, MAX_TOKEN_RESPONSE).await.map_err(RegistryError::body(realm))?;
            let body: serde_json::Value = serde_json::from_slice(&bytes)
                .map_err(|e| unauthorized(format!("token endpoint {realm} returned no JSON: {e}")))?;
            let token = body["token"].as_str().or_else(|| body["access_token"].as_str()).unwrap_or_default();
            if token.is_empty() {
                return Err(unauthorized(format!("token endpoint {realm} returned no token")));
            }
            format!("Bearer {token}")
        } else {
            return Err(unauthorized(if header.is_empty() { "401 without a challenge".into() } else { header }));
        };
        let mut value = HeaderValue::from_str(&value)
            .map_err(|_| unauthorized("the token endpoint returned a token that is not a header value".into()))?;
        value.set_sensitive(true);
        self.auth.lock().expect("not poisoned").insert(scope.to_owned(), value);
        Ok(())
    }

    /// The token realm a registry's challenge names, if it may receive the credentials:
    /// HTTPS on any host (where Docker clients send them too), plain HTTP only when plain
    /// HTTP is enabled for this registry.
    fn realm_url(&self, realm: &str) -> Result<Url> {
        let url = Url::parse(realm).map_err(|e| RegistryError::BadAnswer {
            url: self.endpoint().to_owned(),
            detail: format!("the token realm `{realm}` of its challenge is not a URL: {e}"),
        })?;
        match url.scheme() {
            "https" => Ok(url),
            "http" if self.plain_http => Ok(url),
            _ => Err(RegistryError::Invalid(format!(
                "{}: refusing the token realm {realm}: credentials and tokens travel over TLS (https://), plain HTTP \
                 only when it is enabled for this registry",
                self.host
            ))),
        }
    }

    fn pull_scope(repo: &str) -> String {
        format!("repository:{repo}:pull")
    }

    fn push_scope(repo: &str) -> String {
        format!("repository:{repo}:pull,push")
    }

    /// `GET /v2/`: reachable, and authenticated if the registry requires it.
    pub async fn ping(&self) -> Result<()> {
        let url = self.url("/v2/");
        let resp = self.send("registry:catalog:*", &|| self.http.get(&url)).await?;
        expect(resp, &[StatusCode::OK], "GET", &url).await.map(drop)
    }

    /// Whether the repository has the blob.
    pub async fn has_blob(&self, repo: &str, digest: &Digest) -> Result<bool> {
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
        let resp = self.send(&Self::pull_scope(repo), &|| self.http.head(&url)).await?;
        match resp.status() {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(status_error(resp, &url).await),
        }
    }

    /// Whether the repository has a manifest with this digest.
    pub async fn has_manifest(&self, repo: &str, digest: &Digest) -> Result<bool> {
        let url = self.url(&format!("/v2/{repo}/manifests/{digest}"));
        let resp = self.send(&Self::pull_scope(repo), &|| self.http.head(&url).header(ACCEPT, MANIFEST_ACCEPT)).await?;
        match resp.status() {
            StatusCode::OK => Ok(true),
            StatusCode::NOT_FOUND => Ok(false),
            _ => Err(status_error(resp, &url).await),
        }
    }

    /// The digest the registry says `tag` names (HEAD, its `Docker-Content-Digest`); `None`
    /// when the tag is absent or the registry does not say. A re-load asks before it writes a
    /// tag, which costs a registry a write and a sync for every image of a release.
    pub async fn tag_digest(&self, repo: &str, tag: &str) -> Result<Option<Digest>> {
        let url = self.url(&format!("/v2/{repo}/manifests/{tag}"));
        let resp = self.send(&Self::pull_scope(repo), &|| self.http.head(&url).header(ACCEPT, MANIFEST_ACCEPT)).await?;
        match resp.status() {
            StatusCode::OK => Ok(resp
                .headers()
                .get("docker-content-digest")
                .and_then(|v| v.to_str().ok())
                .and_then(|v| v.parse().ok())),
            StatusCode::NOT_FOUND => Ok(None),
            _ => Err(status_error(resp, &url).await),
        }
    }

    /// Fetches a manifest by tag or digest, keeping its exact bytes; the digest is checked
    /// against the reference (when it is one) and against `Docker-Content-Digest`.
    pub async fn get_manifest(&self, repo: &str, reference: &str) -> Result<Manifest> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let resp = self.send(&Self::pull_scope(repo), &|| self.http.get(&url).header(ACCEPT, MANIFEST_ACCEPT)).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Err(RegistryError::NotFound(format!("{}/{repo}:{reference}", self.host)));
        }
        let resp = expect(resp, &[StatusCode::OK], "GET", &url).await?;
        let header_digest =
            resp.headers().get("docker-content-digest").and_then(|v| v.to_str().ok()).map(str::to_owned);
        let content_type = resp.headers().get(CONTENT_TYPE).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let bytes = read_limited(resp, MAX_MANIFEST).await.map_err(RegistryError::body(&url))?;
        let digest = sha256(&bytes);
        for claimed in [Some(reference.to_owned()), header_digest].into_iter().flatten() {
            if let Ok(expected) = claimed.parse::<Digest>()
                && expected != digest
            {
                return Err(RegistryError::DigestMismatch {
                    what: format!("manifest {repo}@{reference}"),
                    expected,
                    actual: digest,
                });
            }
        }
        let media_type = match content_type
            .filter(|c| media_types::is_index(c) || media_types::is_manifest(c) || c.starts_with("application/vnd."))
        {
            Some(c) => c,
            None => serde_json::from_slice::<serde_json::Value>(&bytes)
                .ok()
                .and_then(|v| v["mediaType"].as_str().map(str::to_owned))
                .ok_or_else(|| RegistryError::BadAnswer { url, detail: "manifest without a media type".into() })?,
        };
        Ok(Manifest { bytes, media_type, digest })
    }

    /// Stores a manifest under `reference` (a tag or its digest).
    pub async fn put_manifest(&self, repo: &str, reference: &str, manifest: &Manifest) -> Result<()> {
        let url = self.url(&format!("/v2/{repo}/manifests/{reference}"));
        let resp = self
            .send(&Self::push_scope(repo), &|| {
                self.http.put(&url).header(CONTENT_TYPE, &manifest.media_type).body(manifest.bytes.clone())
            })
            .await?;
        let resp = expect(resp, &[StatusCode::CREATED, StatusCode::OK], "PUT", &url).await?;
        if let Some(d) = resp.headers().get("docker-content-digest").and_then(|v| v.to_str().ok())
            && let Ok(d) = d.parse::<Digest>()
            && d != manifest.digest
        {
            return Err(RegistryError::DigestMismatch {
                what: format!("stored manifest {repo}:{reference}"),
                expected: manifest.digest.clone(),
                actual: d,
            });
        }
        Ok(())
    }

    /// Streams a blob into `sink`, checking size and digest; the caller keeps the bytes only
    /// if this returns `Ok`.
    pub async fn get_blob(
        &self,
        repo: &str,
        digest: &Digest,
        size: u64,
        sink: &mut (dyn std::io::Write + Send),
    ) -> Result<()> {
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
        let resp = self.send(&Self::pull_scope(repo), &|| self.http.get(&url)).await?;
        let mut resp = expect(resp, &[StatusCode::OK], "GET", &url).await?;
        let mut sink = DigestAdapter::new(sink).expecting(digest, Some(size));
        while let Some(chunk) =
            resp.chunk().await.map_err(|e| RegistryError::Transport { url: url.clone(), source: e })?
        {
            if sink.passed() + chunk.len() as u64 > size {
                return Err(RegistryError::Oversized { what: format!("blob {repo}@{digest}"), expected: size });
            }
            sink.write_all(&chunk).map_err(RegistryError::io("writing", &url))?;
        }
        if let Err(mismatch) = sink.finish() {
            return Err(RegistryError::DigestMismatch {
                what: format!("blob {repo}@{digest} ({} of {size} bytes)", mismatch.actual_len),
                expected: digest.clone(),
                actual: mismatch.actual,
            });
        }
        Ok(())
    }

    /// Streams a blob into `pieces` for an upload ([`Registry::upload_stream`]): pieces of
    /// 1 MiB but the last, hashed on the way. The end of the blob (the last full piece and
    /// what follows) is withheld until size and digest matched: on a mismatch an `Err` item
    /// goes in its place, so the upload fails before the registry can commit the blob, and
    /// the mismatch is returned. Any other failure drops `pieces` early, which fails the
    /// upload the same way. A receiver that hangs up (its upload failed) stops the download
    /// with `Ok`: the upload's own error says what went wrong. Memory stays at a few pieces
    /// whatever the blob's size.
    pub async fn stream_blob(
        &self,
        repo: &str,
        digest: &Digest,
        size: u64,
        pieces: tokio::sync::mpsc::Sender<std::io::Result<Bytes>>,
    ) -> Result<()> {
        let url = self.url(&format!("/v2/{repo}/blobs/{digest}"));
        let what = || format!("blob {}/{repo}@{digest}", self.host);
        let refuse = |e: RegistryError| {
            // Best effort: a full queue ends on the dropped sender, as short, which fails too.
            let _ = pieces.try_send(Err(std::io::Error::other(e.to_string())));
            e
        };
        let resp = self.send(&Self::pull_scope(repo), &|| self.http.get(&url)).await?;
        let mut resp = expect(resp, &[StatusCode::OK], "GET", &url).await?;
        let mut hash = DigestAdapter::new(std::io::sink()).expecting(digest, Some(size));
        let mut piece = Vec::with_capacity(PIECE);
        let mut held: Option<Bytes> = None;
        while let Some(chunk) =
            resp.chunk().await.map_err(|e| RegistryError::Transport { url: url.clone(), source: e })?
        {
            if hash.passed() + chunk.len() as u64 > size {
                return Err(refuse(RegistryError::Oversized { what: what(), expected: size }));
            }
            hash.write_all(&chunk).map_err(RegistryError::io("hashing", &url))?;
            let mut rest = &chunk[..];
            while !rest.is_empty() {
                let n = (PIECE - piece.len()).min(rest.len());
                piece.extend_from_slice(&rest[..n]);
                rest = &rest[n..];
                if piece.len() == PIECE {
                    let full = Bytes::from(std::mem::replace(&mut piece, Vec::with_capacity(PIECE)));
                    if let Some(previous) = held.replace(full)
                        && pieces.send(Ok(previous)).await.is_err()
                    {
                        return Ok(());
                    }
                }
            }
        }
        if let Err(mismatch) = hash.finish() {
            return Err(refuse(RegistryError::DigestMismatch {
                what: format!("{} ({} of {size} bytes)", what(), mismatch.actual_len),
                expected: digest.clone(),
                actual: mismatch.actual,
            }));
        }
        let last = (!piece.is_empty()).then(|| Bytes::from(piece));
        for verified in held.into_iter().chain(last) {
            if pieces.send(Ok(verified)).await.is_err() {
                return Ok(());
            }
        }
        Ok(())
    }

    /// Pushes one blob unless the repository has it: HEAD first, then a cross-repository
    /// mount from `mount_from` when given, else an upload (monolithic up to [`CHUNK`],
    /// chunked above). The whole blob is retried on a transient failure.
    pub async fn push_blob(
        &self,
        repo: &str,
        digest: &Digest,
        size: u64,
        source: Arc<dyn BlobSource>,
        mount_from: Option<&str>,
        progress: &genesis_bundle::ProgressCounter,
    ) -> Result<PushOutcome> {
        if self.has_blob(repo, digest).await? {
            progress.add(size);
            return Ok(PushOutcome::Present);
        }
        let mut attempt = 0;
        let mut push = PushState::new(progress);
        loop {
            let Some(location) = self.begin_upload(repo, digest, mount_from).await? else {
                progress.add(size);
                return Ok(PushOutcome::Mounted);
            };
            let reader = source.open().map_err(|e| read_failure(digest, e))?;
            let chunks = spawn_reader(reader, digest.clone(), size);
            match self.upload(repo, location, digest, size, chunks, &mut push).await {
                Ok(()) => return Ok(PushOutcome::Uploaded),
                Err(e) if e.is_transient() && attempt < self.retries => {
                    attempt += 1;
                    tracing::warn!(registry = %self.host, %digest, attempt, error = %e, "upload failed, retrying this blob");
                    push.retry();
                    tokio::time::sleep(Duration::from_millis(200 << attempt.min(6))).await;
                }
                Err(e) => return Err(e),
            }
        }
    }

    /// Uploads a blob the repository lacks from bytes that arrive once, on `chunks`: 1 MiB
    /// each but the last, an `Err` item (or a short stream) aborting the upload before the
    /// registry commits it. Not retried: the bytes cannot be replayed, so the caller retries
    /// with [`Registry::push_blob`] from a source it can read again.
    pub async fn upload_stream(&self, repo: &str, digest: &Digest, size: u64, chunks: ChunkReceiver) -> Result<()> {
        let location = self.begin_upload(repo, digest, None).await?.expect("no mount asked");
        let progress = genesis_bundle::ProgressCounter::default();
        self.upload(repo, location, digest, size, chunks, &mut PushState::new(&progress)).await
    }

    /// Starts an upload session (`POST …/blobs/uploads/`), or mounts the blob from
    /// `mount_from`: `None` when the mount did it, else the session's location. A registry
    /// that refuses the mount outright (403 where the token may not read the other
    /// repository, 404 where mounts stay within a namespace, …) instead of opening an upload
    /// as the spec has it gets a plain upload session: the mount only saves sending bytes.
    /// A transient failure is returned, as for any request.
    pub(crate) async fn begin_upload(
        &self,
        repo: &str,
        digest: &Digest,
        mount_from: Option<&str>,
    ) -> Result<Option<String>> {
        let scope = Self::push_scope(repo);
        if let Some(from) = mount_from {
            let url = self.url(&format!("/v2/{repo}/blobs/uploads/?mount={digest}&from={from}"));
            let refusal = match self.send(&scope, &|| self.http.post(&url).header(CONTENT_LENGTH, 0)).await {
                Ok(resp) if resp.status() == StatusCode::CREATED => return Ok(None),
                Ok(resp) if resp.status() == StatusCode::ACCEPTED => return self.location(&resp).map(Some),
                Ok(resp) => resp.status().to_string(),
                Err(e @ RegistryError::Unauthorized { .. }) => e.to_string(),
                Err(e) => return Err(e),
            };
            tracing::warn!(registry = %self.host, repo, %digest, from, %refusal, "mount refused; uploading the blob instead");
        }
        let url = self.url(&format!("/v2/{repo}/blobs/uploads/"));
        let resp = self.send(&scope, &|| self.http.post(&url).header(CONTENT_LENGTH, 0)).await?;
        let resp = expect(resp, &[StatusCode::ACCEPTED], "POST", &url).await?;
        self.location(&resp).map(Some)
    }

    /// Mounts a blob into `repo` from `from`, another repository of this registry, sending no
    /// bytes: `Ok(true)` once the registry mounted it (201). `Ok(false)` when it would not: it
    /// refused the mount (403, 404, …) or opened an upload session instead, which is then
    /// cancelled, as the caller has no bytes to send to it — a blob a delta bundle requires of
    /// its base (decision 0043). A transient failure or a server error is returned, as for any
    /// request.
    pub async fn mount_blob(&self, repo: &str, digest: &Digest, from: &str) -> Result<bool> {
        let scope = Self::push_scope(repo);
        let url = self.url(&format!("/v2/{repo}/blobs/uploads/?mount={digest}&from={from}"));
        let resp = match self.send(&scope, &|| self.http.post(&url).header(CONTENT_LENGTH, 0)).await {
            Ok(resp) => resp,
            Err(e @ RegistryError::Unauthorized { .. }) => {
                tracing::warn!(registry = %self.host, repo, %digest, from, refusal = %e, "mount refused");
                return Ok(false);
            }
            Err(e) => return Err(e),
        };
        match resp.status() {
            StatusCode::CREATED => Ok(true),
            StatusCode::ACCEPTED => {
                // An upload session nothing will be sent to: cancelled, as a client that gives
                // up on an upload does (`DELETE <location>`); a registry that keeps it expires
                // it.
                if let Ok(location) = self.location(&resp) {
                    let cancelled = self.send(&scope, &|| self.http.delete(&location)).await;
                    if let Err(e) = cancelled {
                        tracing::warn!(registry = %self.host, repo, %digest, error = %e, "could not cancel an upload session");
                    }
                }
                tracing::warn!(registry = %self.host, repo, %digest, from, "the registry opened an upload instead of mounting");
                Ok(false)
            }
            status if status.is_server_error() => Err(status_error(resp, &url).await),
            status => {
                tracing::warn!(registry = %self.host, repo, %digest, from, %status, "mount refused");
                Ok(false)
            }
        }
    }

    /// Waits until no other task of this process is changing `tag` of `repo` on this
    /// registry (reading it, adding to it, writing it back: a referrers index, a cosign
    /// signature given another layer) and holds it until the returned lock is dropped.
    /// Registries have no compare-and-swap on tags, so two such writers at once would each
    /// write back what they read without the other's addition; within one process (the
    /// concurrent copies of a catalog) they take turns.
    pub(crate) async fn lock_tag(&self, repo: &str, tag: &str) -> TagLock {
        let key = (self.endpoint().to_owned(), repo.to_owned(), tag.to_owned());
        let lock = Arc::clone(TAG_LOCKS.lock().unwrap_or_else(PoisonError::into_inner).entry(key.clone()).or_default());
        TagLock { key, guard: Some(lock.lock_owned().await) }
    }

    /// Sends a blob's bytes to an upload session: one monolithic PUT up to [`CHUNK`], else
    /// PATCHes of [`CHUNK`] and a closing PUT with the digest. A request whose body met a
    /// bundle error (the reader's verdict on the blob's bytes) fails the upload with it.
    pub(crate) async fn upload(
        &self,
        repo: &str,
        mut location: String,
        digest: &Digest,
        size: u64,
        chunks: ChunkReceiver,
        push: &mut PushState<'_>,
    ) -> Result<()> {
        let scope = &Self::push_scope(repo);
        let chunks: Chunks =
            Arc::new(UploadBytes { chunks: tokio::sync::Mutex::new(chunks), verdict: Mutex::default() });
        let unread = |sent: RegistryError| match chunks.verdict.lock().expect("not poisoned").take() {
            Some(verdict) => RegistryError::Bundle(verdict),
            None => sent,
        };
        if size <= CHUNK {
            let body = body_from(&chunks, size, push.counters());
            let url = with_digest(&location, digest);
            let resp = self
                .send_once(
                    scope,
                    digest,
                    &mut push.token_renewed,
                    self.http
                        .put(&url)
                        .header(CONTENT_LENGTH, size)
                        .header(CONTENT_TYPE, "application/octet-stream")
                        .body(body),
                )
                .await
                .map_err(unread)?;
            expect(resp, &[StatusCode::CREATED], "PUT", &url).await?;
            return Ok(());
        }
        let mut offset = 0u64;
        while offset < size {
            let len = CHUNK.min(size - offset);
            let body = body_from(&chunks, len, push.counters());
            let resp = self
                .send_once(
                    scope,
                    digest,
                    &mut push.token_renewed,
                    self.http
                        .patch(&location)
                        .header(CONTENT_LENGTH, len)
                        .header(CONTENT_RANGE, format!("{}-{}", offset, offset + len - 1))
                        .header(CONTENT_TYPE, "application/octet-stream")
                        .body(body),
                )
                .await
                .map_err(unread)?;
            let resp = expect(resp, &[StatusCode::ACCEPTED, StatusCode::NO_CONTENT], "PATCH", &location).await?;
            location = self.location(&resp)?;
            offset += len;
        }
        let url = with_digest(&location, digest);
        let resp = self
            .send_once(scope, digest, &mut push.token_renewed, self.http.put(&url).header(CONTENT_LENGTH, 0))
            .await?;
        expect(resp, &[StatusCode::CREATED], "PUT", &url).await?;
        Ok(())
    }

    /// Sends a request of the upload of `digest`, whose body cannot be replayed: one
    /// attempt, with the cached auth. A 401 from the registry (its token expired during a
    /// long upload) renews the token and fails with [`RegistryError::TokenRenewed`], a
    /// transient error: the blob is sent again from the start. A second 401 before a request
    /// of this push was accepted with the renewed token (`token_renewed`, kept by the push) is
    /// a refusal, not an expiry: the credentials do not allow the push, and sending the blob
    /// again would not change that.
    async fn send_once(
        &self,
        scope: &str,
        digest: &Digest,
        token_renewed: &mut bool,
        req: RequestBuilder,
    ) -> Result<Response> {
        let resp = self.execute(scope, req).await?;
        if resp.status() == StatusCode::UNAUTHORIZED && self.is_own(resp.url()) {
            if *token_renewed {
                return Err(RegistryError::Unauthorized {
                    registry: self.host.clone(),
                    detail: format!(
                        "credentials refused: the upload of {digest} was answered 401 again with a renewed token, \
                         so they do not allow pushing to this repository"
                    ),
                });
            }
            self.answer_challenge(scope, &resp).await?;
            *token_renewed = true;
            return Err(RegistryError::TokenRenewed { registry: self.host.clone(), digest: digest.clone() });
        }
        if resp.status().is_success() {
            *token_renewed = false;
        }
        if resp.status().is_server_error() {
            return Err(status_error(resp, "").await);
        }
        Ok(resp)
    }

    /// The manifests that refer to `digest` (their `subject`): the Referrers API when the
    /// registry has it, else the `sha256-<hex>` tag schema of OCI 1.1. `None` means the
    /// registry has no Referrers API (whatever the tag schema holds is returned as `Some`).
    pub async fn referrers(&self, repo: &str, digest: &Digest) -> Result<(Vec<genesis_types::Descriptor>, bool)> {
        let url = self.url(&format!("/v2/{repo}/referrers/{digest}"));
        let resp =
            self.send(&Self::pull_scope(repo), &|| self.http.get(&url).header(ACCEPT, media_types::OCI_INDEX)).await?;
        let api = resp.status() == StatusCode::OK;
        let bytes = if api {
            read_limited(resp, MAX_MANIFEST).await.map_err(RegistryError::body(&url))?
        } else {
            let tag = fallback_tag(digest);
            match self.get_manifest(repo, &tag).await {
                Ok(m) => m.bytes,
                Err(RegistryError::NotFound(_)) => return Ok((Vec::new(), false)),
                Err(e) => return Err(e),
            }
        };
        let index: genesis_types::ImageIndex = serde_json::from_slice(&bytes)
            .map_err(|e| RegistryError::BadAnswer { url, detail: format!("referrers of {repo}@{digest}: {e}") })?;
        Ok((index.manifests, api))
    }

    /// Tags of a repository.
    pub async fn tags(&self, repo: &str) -> Result<Vec<String>> {
        let url = self.url(&format!("/v2/{repo}/tags/list"));
        let resp = self.send(&Self::pull_scope(repo), &|| self.http.get(&url)).await?;
        if resp.status() == StatusCode::NOT_FOUND {
            return Ok(Vec::new());
        }
        let resp = expect(resp, &[StatusCode::OK], "GET", &url).await?;
        let bytes = read_limited(resp, MAX_MANIFEST).await.map_err(RegistryError::body(&url))?;
        let v: serde_json::Value = serde_json::from_slice(&bytes)
            .map_err(|e| RegistryError::BadAnswer { url, detail: format!("not a tag list: {e}") })?;
        Ok(v["tags"]
            .as_array()
            .map(|a| a.iter().filter_map(|t| t.as_str().map(str::to_owned)).collect())
            .unwrap_or_default())
    }
}

/// A tag of one repository of one registry (endpoint, repository, tag).
type TagKey = (String, String, String);

/// The tags being changed in this process ([`Registry::lock_tag`]), each while someone holds
/// or awaits its lock.
static TAG_LOCKS: Mutex<BTreeMap<TagKey, Arc<tokio::sync::Mutex<()>>>> = Mutex::new(BTreeMap::new());

/// Holds a tag for a read-modify-write ([`Registry::lock_tag`]) until dropped.
pub(crate) struct TagLock {
    key: TagKey,
    guard: Option<tokio::sync::OwnedMutexGuard<()>>,
}

impl Drop for TagLock {
    fn drop(&mut self) {
        let mut locks = TAG_LOCKS.lock().unwrap_or_else(PoisonError::into_inner);
        drop(self.guard.take());
        // Forgotten when no one else holds or awaits it, so the map stays as small as the
        // writes in progress.
        if locks.get(&self.key).is_some_and(|lock| Arc::strong_count(lock) == 1) {
            locks.remove(&self.key);
        }
    }
}

/// The OCI 1.1 referrers tag schema: `<alg>-<hex>`, truncated to a valid tag.
pub fn fallback_tag(digest: &Digest) -> String {
    let tag = format!("{}-{}", digest.algorithm().name(), digest.hex());
    tag.chars().take(128).collect()
}

fn with_digest(location: &str, digest: &Digest) -> String {
    let sep = if location.contains('?') { '&' } else { '?' };
    format!("{location}{sep}digest={digest}")
}

/// Reads a blob on a blocking thread in [`PIECE`]s, hashing it; the last item is an error
/// if the bytes do not match the digest, which aborts the upload before it completes.
fn spawn_reader(reader: Box<dyn Read + Send>, digest: Digest, size: u64) -> ChunkReceiver {
    let (tx, rx) = tokio::sync::mpsc::channel(4);
    tokio::task::spawn_blocking(move || {
        let mut reader = DigestAdapter::new(reader);
        let mut left = size;
        while left > 0 {
            let mut buf = vec![0u8; (PIECE as u64).min(left) as usize];
            if let Err(e) = reader.read_exact(&mut buf) {
                let _ = tx.blocking_send(Err(e));
                return;
            }
            left -= buf.len() as u64;
            if left == 0 {
                let actual = reader.digest().digest();
                if actual != digest {
                    let changed = genesis_bundle::BundleError::ChangedSinceVerification {
                        what: format!("blob {digest}"),
                        expected: digest.clone(),
                        actual,
                    };
                    let _ = tx.blocking_send(Err(std::io::Error::other(changed)));
                    return;
                }
            }
            if tx.blocking_send(Ok(Bytes::from(buf))).is_err() {
                return;
            }
        }
    });
    rx
}

/// The bytes of one blob for an upload, in order: pieces of [`PIECE`] bytes (the last may
/// be shorter); an `Err` item aborts the upload.
pub type ChunkReceiver = tokio::sync::mpsc::Receiver<std::io::Result<Bytes>>;

/// The bytes of one upload for its requests' bodies, and the bundle error that stopped them,
/// if one did: reqwest reports a body's error as a failed request, a transport error worth a
/// retry, where a blob that reads otherwise than its digest (or from a damaged frame) is a
/// verdict that sending it again would not change. The upload returns the verdict instead.
struct UploadBytes {
    chunks: tokio::sync::Mutex<ChunkReceiver>,
    verdict: Mutex<Option<genesis_bundle::BundleError>>,
}

type Chunks = Arc<UploadBytes>;

/// What one push of a blob carries across its upload attempts, and no further: a push that
/// fails leaves nothing behind for the next push of the same blob.
pub(crate) struct PushState<'a> {
    /// Counts the bytes sent.
    progress: &'a genesis_bundle::ProgressCounter,
    /// The bytes the current attempt sent, taken back from `progress` when it is retried:
    /// `progress` may count other uploads at the same time, so its own count cannot say.
    attempt: genesis_bundle::ProgressCounter,
    /// The token was renewed after a 401, and no request of the push has been accepted with
    /// it since ([`Registry::send_once`]).
    token_renewed: bool,
}

impl<'a> PushState<'a> {
    /// A push whose bytes sent are counted in `progress`.
    pub(crate) fn new(progress: &'a genesis_bundle::ProgressCounter) -> Self {
        PushState { progress, attempt: Default::default(), token_renewed: false }
    }

    /// Starts another attempt of the push: the bytes the failed one sent no longer count.
    pub(crate) fn retry(&mut self) {
        self.progress.sub(self.attempt.done());
        self.attempt = Default::default();
    }

    /// The counters a request body adds the bytes it sends to.
    fn counters(&self) -> [genesis_bundle::ProgressCounter; 2] {
        [self.progress.clone(), self.attempt.clone()]
    }
}

/// The failure to open blob `digest` for an upload. A bundle error it carries (a damaged
/// frame) is returned as itself: a verdict, which opening it again would not change.
fn read_failure(digest: &Digest, e: std::io::Error) -> RegistryError {
    match e.downcast::<genesis_bundle::BundleError>() {
        Ok(bundle) => RegistryError::Bundle(bundle),
        Err(e) => RegistryError::io("reading blob", digest)(e),
    }
}

/// A request body that takes the next `len` bytes from the reader's chunks, counting them
/// in each of `progress`. They come in [`PIECE`]s, so a piece never straddles two bodies;
/// bodies are sent one after another, so they never contend for the receiver.
fn body_from(chunks: &Chunks, len: u64, progress: [genesis_bundle::ProgressCounter; 2]) -> reqwest::Body {
    let state = (Arc::clone(chunks), len, progress);
    reqwest::Body::wrap_stream(futures_util::stream::unfold(state, |(chunks, left, progress)| async move {
        if left == 0 {
            return None;
        }
        let item = match chunks.chunks.lock().await.recv().await {
            Some(Ok(b)) => {
                progress.iter().for_each(|p| p.add(b.len() as u64));
                Ok(b)
            }
            Some(Err(e)) => match e.downcast::<genesis_bundle::BundleError>() {
                Ok(verdict) => {
                    *chunks.verdict.lock().expect("not poisoned") = Some(verdict);
                    Err(std::io::Error::other("the blob failed its check"))
                }
                Err(e) => Err(e),
            },
            None => Err(std::io::Error::other("blob ended early")),
        };
        let left = match &item {
            Ok(b) => left.saturating_sub(b.len() as u64),
            Err(_) => 0,
        };
        Some((item, (chunks, left, progress)))
    }))
}

async fn status_error(resp: Response, url: &str) -> RegistryError {
    let status = resp.status().as_u16();
    let url = if url.is_empty() { resp.url().to_string() } else { url.to_owned() };
    let body = match read_limited(resp, MAX_ERROR_BODY).await {
        Ok(bytes) => String::from_utf8_lossy(&bytes).chars().take(300).collect(),
        Err(e) => format!("(body not read: {e})"),
    };
    RegistryError::Status { method: String::new(), url, status, body }
}

async fn expect(resp: Response, ok: &[StatusCode], method: &str, url: &str) -> Result<Response> {
    if ok.contains(&resp.status()) {
        return Ok(resp);
    }
    if resp.status() == StatusCode::UNAUTHORIZED || resp.status() == StatusCode::FORBIDDEN {
        return Err(RegistryError::Unauthorized {
            registry: url.to_owned(),
            detail: format!("{method} answered {}", resp.status()),
        });
    }
    match status_error(resp, url).await {
        RegistryError::Status { url, status, body, .. } => {
            Err(RegistryError::Status { method: method.into(), url, status, body })
        }
        other => Err(other),
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering::SeqCst};

    use genesis_testkit::http::{StandIn, respond, runtime, stream_body};
    use genesis_types::{Classify as _, ErrorClass, error_chain};

    use super::*;

    #[test]
    fn parses_bearer_challenges() {
        let p = challenge_params(
            r#"Bearer realm="https://auth.example/token",service="registry.example",scope="repository:a/b:pull,push""#,
        );
        assert_eq!(p["realm"], "https://auth.example/token");
        assert_eq!(p["service"], "registry.example");
        assert_eq!(p["scope"], "repository:a/b:pull,push");
    }

    #[test]
    fn upload_urls_keep_their_state() {
        let d = Digest::from_sha256_bytes([1; 32]);
        assert_eq!(
            with_digest("http://h/v2/a/blobs/uploads/u?_state=x", &d),
            format!("http://h/v2/a/blobs/uploads/u?_state=x&digest={d}")
        );
        assert_eq!(with_digest("http://h/u", &d), format!("http://h/u?digest={d}"));
    }

    /// A blob held in memory, read again for each upload attempt.
    struct Blob(Bytes);

    impl BlobSource for Blob {
        fn open(&self) -> std::io::Result<Box<dyn Read + Send>> {
            Ok(Box::new(std::io::Cursor::new(self.0.clone())))
        }
    }

    /// A plain-HTTP client of a stand-in registry.
    fn client_of(registry: &StandIn, credentials: Option<Credentials>) -> Registry {
        let options = RegistryOptions { plain_http: true, credentials, retries: 3, ..Default::default() };
        Registry::new(&format!("127.0.0.1:{}", registry.port), &options).unwrap()
    }

    fn push(client: &Registry, blob: &Bytes) -> Result<PushOutcome> {
        let (digest, size) = (sha256(blob), blob.len() as u64);
        let source = Arc::new(Blob(blob.clone()));
        let progress = genesis_bundle::ProgressCounter::default();
        runtime().block_on(client.push_blob("r", &digest, size, source, None, &progress))
    }

    #[test]
    fn an_endless_error_body_is_read_up_to_its_limit_and_no_further() {
        const SENT: u64 = 100 << 20;
        let (written, wrote) = std::sync::mpsc::channel();
        let registry = StandIn::start(move |_, conn| {
            written.send(stream_body(conn, "400 Bad Request", b' ', SENT)).unwrap();
            Err(std::io::ErrorKind::ConnectionAborted.into())
        });
        let client = client_of(&registry, None);
        let runtime = runtime();
        let error = runtime.block_on(client.get_manifest("r", "t")).unwrap_err();
        drop(runtime);
        let read = wrote.recv_timeout(Duration::from_secs(30)).unwrap();
        assert!(read < SENT / 4, "the client took {read} bytes of an error body");
        match error {
            RegistryError::Status { status: 400, body, .. } => {
                assert!(body.contains(&format!("larger than {MAX_ERROR_BODY} bytes")), "{body}");
            }
            other => panic!("{other}"),
        }
    }

    #[test]
    fn token_realms_over_plain_http_need_plain_http() {
        let tls = Registry::new("127.0.0.1:1", &RegistryOptions::default()).unwrap();
        let refusal = tls.realm_url("http://127.0.0.1:2/token").unwrap_err().to_string();
        assert!(refusal.contains("refusing the token realm http://127.0.0.1:2/token"), "{refusal}");
        assert!(tls.realm_url("file:///etc/passwd").is_err());
        assert!(tls.realm_url("https://auth.example/token").is_ok());
        let plain = Registry::new("127.0.0.1:1", &RegistryOptions { plain_http: true, ..Default::default() }).unwrap();
        assert!(plain.realm_url("http://127.0.0.1:2/token").is_ok());
    }

    #[test]
    fn an_upload_location_on_another_host_gets_no_authorization() {
        let storage = StandIn::start(|_, conn| respond(conn, "201 Created", &[], b""));
        let location = format!("{}/upload/1?state=x", storage.url());
        let basic = format!("Basic {}", STANDARD.encode("genesis:s3cret"));
        let registry = StandIn::start(move |request, conn| {
            if request.header("authorization") != Some(basic.as_str()) {
                return respond(conn, "401 Unauthorized", &[("WWW-Authenticate", "Basic realm=\"registry\"")], b"");
            }
            match request.method.as_str() {
                "HEAD" => respond(conn, "404 Not Found", &[], b""),
                "POST" => respond(conn, "202 Accepted", &[("Location", location.as_str())], b""),
                _ => respond(conn, "405 Method Not Allowed", &[], b""),
            }
        });
        let credentials = Credentials { username: "genesis".into(), password: "s3cret".into() };
        let client = client_of(&registry, Some(credentials));

        assert_eq!(push(&client, &Bytes::from_static(b"a small blob")).unwrap(), PushOutcome::Uploaded);
        assert!(registry.seen().iter().any(|r| r.method == "POST" && r.header("authorization").is_some()));
        let uploads = storage.seen();
        assert_eq!(uploads.len(), 1, "{uploads:?}");
        assert_eq!(uploads[0].method, "PUT");
        assert_eq!(uploads[0].header("authorization"), None, "the registry's credentials went to another host");
    }

    /// A token service that names its push tokens push1, push2, … (and every other token
    /// `pull`), the challenge of a registry that sends clients to it, and the count of push
    /// tokens issued.
    fn token_service() -> (StandIn, String, Arc<AtomicUsize>) {
        let push_tokens = Arc::new(AtomicUsize::new(0));
        let issued = Arc::clone(&push_tokens);
        let tokens = StandIn::start(move |request, conn| {
            let token = if request.target.contains("push") {
                format!("push{}", issued.fetch_add(1, SeqCst) + 1)
            } else {
                "pull".to_owned()
            };
            respond(
                conn,
                "200 OK",
                &[("Content-Type", "application/json")],
                format!(r#"{{"token":"{token}"}}"#).as_bytes(),
            )
        });
        let challenge = format!(r#"Bearer realm="{}/token",service="stand-in""#, tokens.url());
        (tokens, challenge, push_tokens)
    }

    #[test]
    fn a_token_that_expires_mid_upload_is_renewed_and_the_blob_sent_again() {
        // The registry accepts push1 for two requests only (the upload's POST and first
        // PATCH), as if it expired then.
        let (_tokens, challenge, push_tokens) = token_service();
        let push1_uses = AtomicUsize::new(0);
        let registry = StandIn::start(move |request, conn| {
            let valid = match request.header("authorization") {
                Some("Bearer push1") => push1_uses.fetch_add(1, SeqCst) < 2,
                Some(auth) => auth.starts_with("Bearer "),
                None => false,
            };
            if !valid {
                return respond(conn, "401 Unauthorized", &[("WWW-Authenticate", challenge.as_str())], b"");
            }
            let session = [("Location", "/v2/r/blobs/uploads/1")];
            match request.method.as_str() {
                "HEAD" => respond(conn, "404 Not Found", &[], b""),
                "POST" | "PATCH" => respond(conn, "202 Accepted", &session, b""),
                _ => respond(conn, "201 Created", &[], b""),
            }
        });
        let client = client_of(&registry, None);
        // Larger than one chunk: two PATCHes and a closing PUT.
        let blob = Bytes::from(vec![7u8; CHUNK as usize + PIECE]);

        assert_eq!(push(&client, &blob).unwrap(), PushOutcome::Uploaded);
        assert_eq!(push_tokens.load(SeqCst), 2, "one renewal");
        let requests = registry.seen();
        let put = requests.iter().rfind(|r| r.method == "PUT").unwrap();
        assert_eq!(put.header("authorization"), Some("Bearer push2"));
    }

    #[test]
    fn a_registry_that_keeps_refusing_the_push_is_unauthorized_after_one_renewal() {
        // Any token opens an upload session, and no token may put a blob: the push is refused,
        // not expired.
        let (_tokens, challenge, push_tokens) = token_service();
        let registry = StandIn::start(move |request, conn| {
            if request.header("authorization").is_none_or(|auth| !auth.starts_with("Bearer ")) {
                return respond(conn, "401 Unauthorized", &[("WWW-Authenticate", challenge.as_str())], b"");
            }
            match request.method.as_str() {
                "HEAD" => respond(conn, "404 Not Found", &[], b""),
                "POST" => respond(conn, "202 Accepted", &[("Location", "/v2/r/blobs/uploads/1")], b""),
                _ => respond(conn, "401 Unauthorized", &[("WWW-Authenticate", challenge.as_str())], b""),
            }
        });
        let client = client_of(&registry, None);

        let error = push(&client, &Bytes::from_static(b"a small blob")).unwrap_err();
        assert_eq!(push_tokens.load(SeqCst), 2, "exactly one renewal");
        let puts = registry.seen().iter().filter(|r| r.method == "PUT").count();
        assert_eq!(puts, 2, "the blob was sent once with each token");
        assert!(matches!(error, RegistryError::Unauthorized { .. }), "{error:?}");
        assert_eq!(error.class(), ErrorClass::Network);
        let message = error.to_string();
        assert!(message.contains("credentials refused") && !message.contains("expired"), "{message}");
    }

    #[test]
    fn a_push_after_one_whose_renewed_upload_failed_can_renew_its_token_once_again() {
        // push1 expires mid-upload; the upload sent again with push2 meets a registry fault,
        // and the push gives up. By the next push of the blob, push2 has expired as well.
        let (_tokens, challenge, push_tokens) = token_service();
        let push2_puts = AtomicUsize::new(0);
        let registry = StandIn::start(move |request, conn| {
            let token = request.header("authorization").and_then(|auth| auth.strip_prefix("Bearer "));
            let put = request.method == "PUT";
            let expired = match token {
                None => true,
                Some("push1") => put,
                Some("push2") => put && push2_puts.fetch_add(1, SeqCst) > 0,
                Some(_) => false,
            };
            if expired {
                return respond(conn, "401 Unauthorized", &[("WWW-Authenticate", challenge.as_str())], b"");
            }
            match request.method.as_str() {
                "HEAD" => respond(conn, "404 Not Found", &[], b""),
                "POST" => respond(conn, "202 Accepted", &[("Location", "/v2/r/blobs/uploads/1")], b""),
                _ if token == Some("push2") => respond(conn, "500 Internal Server Error", &[], b""),
                _ => respond(conn, "201 Created", &[], b""),
            }
        });
        // One retry: the renewed attempt is the push's last.
        let options = RegistryOptions { plain_http: true, retries: 1, ..Default::default() };
        let client = Registry::new(&format!("127.0.0.1:{}", registry.port), &options).unwrap();
        let blob = Bytes::from_static(b"a small blob");

        let failed = push(&client, &blob).unwrap_err();
        assert!(matches!(failed, RegistryError::Status { status: 500, .. }), "{failed:?}");
        assert_eq!(push_tokens.load(SeqCst), 2, "one renewal");
        assert_eq!(push(&client, &blob).unwrap(), PushOutcome::Uploaded);
        assert_eq!(push_tokens.load(SeqCst), 3, "one renewal for each push");
    }

    #[test]
    fn a_blob_that_changed_since_verification_fails_its_push_as_a_verdict_without_retrying() {
        let registry = StandIn::start(|request, conn| match request.method.as_str() {
            "HEAD" => respond(conn, "404 Not Found", &[], b""),
            "POST" => respond(conn, "202 Accepted", &[("Location", "/v2/r/blobs/uploads/1")], b""),
            _ => respond(conn, "201 Created", &[], b""),
        });
        let client = client_of(&registry, None);
        // The bytes now read where the verified ones were: as long, another digest.
        let (verified, now) = (b"the blob as verified", b"the blob as modified");
        let progress = genesis_bundle::ProgressCounter::default();
        let (digest, source) = (sha256(verified), Arc::new(Blob(Bytes::from_static(now))));
        let pushed = client.push_blob("r", &digest, verified.len() as u64, source, None, &progress);

        let error = runtime().block_on(pushed).unwrap_err();
        assert!(
            matches!(error, RegistryError::Bundle(genesis_bundle::BundleError::ChangedSinceVerification { .. })),
            "{error:?}"
        );
        assert_eq!(error.class(), ErrorClass::Verdict);
        assert!(!error.is_transient());
        let uploads = registry.seen().iter().filter(|r| r.method == "POST").count();
        assert_eq!(uploads, 1, "the blob was sent again");
    }

    /// Streams blob `digest` of `size` bytes from a registry that serves `served` for it;
    /// returns the result and every item the upload would have received.
    fn stream(served: Vec<u8>, digest: &Digest, size: u64) -> (Result<()>, Vec<std::io::Result<Bytes>>) {
        let registry = StandIn::start(move |_, conn| respond(conn, "200 OK", &[], &served));
        let client = client_of(&registry, None);
        // Room for every piece: the test reads them after the download ended.
        let (pieces, mut queued) = tokio::sync::mpsc::channel(64);
        runtime().block_on(async {
            let result = client.stream_blob("r", digest, size, pieces).await;
            let mut items = Vec::new();
            while let Some(item) = queued.recv().await {
                items.push(item);
            }
            (result, items)
        })
    }

    #[test]
    fn a_streamed_blob_arrives_in_pieces_of_one_mebibyte_in_order() {
        let blob: Vec<u8> = (0..3 * PIECE + 5).map(|i| (i % 251) as u8).collect();
        let (result, items) = stream(blob.clone(), &sha256(&blob), blob.len() as u64);
        result.unwrap();
        let pieces: Vec<Bytes> = items.into_iter().map(Result::unwrap).collect();
        assert_eq!(pieces.iter().map(Bytes::len).collect::<Vec<_>>(), [PIECE, PIECE, PIECE, 5]);
        assert_eq!(pieces.concat(), blob);
    }

    #[test]
    fn a_streamed_blob_that_does_not_match_its_digest_never_gives_its_last_pieces() {
        let blob = vec![7u8; 3 * PIECE + 5];
        let mut served = blob.clone();
        served[3 * PIECE + 4] = 8;
        let (result, items) = stream(served, &sha256(&blob), blob.len() as u64);
        match result.unwrap_err() {
            RegistryError::DigestMismatch { what, .. } => {
                assert!(what.contains(&format!("r@{}", sha256(&blob))), "{what}");
            }
            other => panic!("{other:?}"),
        }
        let (last, sent) = items.split_last().unwrap();
        assert!(last.is_err(), "the upload was not told to fail");
        let sent: usize = sent.iter().map(|item| item.as_ref().unwrap().len()).sum();
        assert_eq!(sent, 2 * PIECE, "the end of the blob went out before its digest was checked");
    }

    /// Runs `run` on a runtime on this thread, and returns what it gave and the endpoints it
    /// announced (the log lines under [`genesis_types::EGRESS_TARGET`]).
    fn announcements<T>(run: impl FnOnce(&tokio::runtime::Runtime) -> T) -> (T, Vec<String>) {
        #[derive(Clone, Default)]
        struct Lines(Arc<Mutex<Vec<u8>>>);
        impl std::io::Write for Lines {
            fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
                self.0.lock().unwrap().extend_from_slice(buf);
                Ok(buf.len())
            }
            fn flush(&mut self) -> std::io::Result<()> {
                Ok(())
            }
        }
        let lines = Lines::default();
        let writer = lines.clone();
        let subscriber = tracing_subscriber::fmt()
            .with_writer(move || writer.clone())
            .with_ansi(false)
            .with_max_level(tracing::Level::WARN)
            .finish();
        // The subscriber sees what happens on this thread: the runtime runs here alone.
        let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
        let out = tracing::subscriber::with_default(subscriber, || run(&runtime));
        let text = String::from_utf8(lines.0.lock().unwrap().clone()).unwrap();
        (out, text.lines().filter(|l| l.contains(genesis_types::EGRESS_TARGET)).map(str::to_owned).collect())
    }

    #[test]
    fn a_token_service_on_another_host_is_announced_once() {
        let (tokens, challenge, _) = token_service();
        let registry = StandIn::start(move |request, conn| match request.header("authorization") {
            Some("Bearer pull") => respond(conn, "404 Not Found", &[], b""),
            _ => respond(conn, "401 Unauthorized", &[("WWW-Authenticate", challenge.as_str())], b""),
        });
        let client = client_of(&registry, None);
        let digest = sha256(b"x");

        let (found, announced) = announcements(|runtime| {
            runtime.block_on(async { (client.has_blob("a", &digest).await, client.has_blob("b", &digest).await) })
        });
        assert!(matches!(found, (Ok(false), Ok(false))), "{found:?}");
        assert_eq!(tokens.seen().len(), 2, "a token for each repository");
        let expected =
            format!("contacting token service {} named by registry 127.0.0.1:{}", tokens.url(), registry.port);
        assert_eq!(announced.len(), 1, "{announced:?}");
        assert!(announced[0].contains(&expected), "{announced:?}");
    }

    /// The error and its causes, as `main` prints them.
    /// An HTTPS server on loopback (a certificate for 127.0.0.1 under `pki`'s CA) that
    /// redirects every request to `location`, on `runtime`; its port.
    fn https_redirect(runtime: &tokio::runtime::Runtime, pki: &genesis_testkit::pki::TlsPki, location: String) -> u16 {
        use tokio::io::{AsyncReadExt as _, AsyncWriteExt as _};
        let acceptor = crate::serve::tls_acceptor(&pki.valid.0, &pki.valid.1).unwrap();
        let listener = runtime.block_on(tokio::net::TcpListener::bind("127.0.0.1:0")).unwrap();
        let port = listener.local_addr().unwrap().port();
        runtime.spawn(async move {
            while let Ok((tcp, _)) = listener.accept().await {
                let Ok(mut tls) = acceptor.accept(tcp).await else { continue };
                let (mut head, mut buf) = (Vec::new(), [0u8; 4096]);
                while !head.windows(4).any(|w| w == b"\r\n\r\n") {
                    match tls.read(&mut buf).await {
                        Ok(0) | Err(_) => break,
                        Ok(n) => head.extend_from_slice(&buf[..n]),
                    }
                }
                let answer = format!(
                    "HTTP/1.1 302 Found\r\nLocation: {location}\r\nContent-Length: 0\r\nConnection: close\r\n\r\n"
                );
                let _ = tls.write_all(answer.as_bytes()).await;
                let _ = tls.shutdown().await;
            }
        });
        port
    }

    #[test]
    fn a_download_redirected_to_plain_http_is_refused_without_plain_http() {
        let dir = tempfile::tempdir().unwrap();
        let pki = genesis_testkit::pki::TlsPki::write(dir.path());
        let plain = StandIn::start(|_, conn| respond(conn, "200 OK", &[], b"chart"));
        let runtime = runtime();
        let port = https_redirect(&runtime, &pki, format!("{}/web.tgz", plain.url()));
        let options = RegistryOptions { ca_file: Some(pki.ca.clone()), ..Default::default() };

        let url = format!("https://127.0.0.1:{port}/web.tgz");
        let error = runtime.block_on(fetch_url(&url, &options, 1 << 20)).unwrap_err();
        let refusal = format!("refusing a redirect to {}/web.tgz: plain HTTP is not enabled", plain.url());
        assert!(error_chain(&error).contains(&refusal), "{}", error_chain(&error));
        assert!(plain.seen().is_empty(), "{:?}", plain.seen());
    }

    #[test]
    fn a_download_with_credentials_is_not_redirected_off_its_origin_and_one_without_is_announced() {
        let elsewhere = StandIn::start(|_, conn| respond(conn, "200 OK", &[], b"chart"));
        let target = format!("{}/web.tgz", elsewhere.url());
        let repo = StandIn::start(move |_, conn| respond(conn, "302 Found", &[("Location", target.as_str())], b""));
        let url = format!("{}/web.tgz", repo.url());
        let credentials = Credentials { username: "builder".into(), password: "s3cret".into() };
        let with = RegistryOptions { plain_http: true, credentials: Some(credentials), ..Default::default() };

        let error = runtime().block_on(fetch_url(&url, &with, 1 << 20)).unwrap_err();
        let refusal = format!("refusing a redirect from {} to {}/web.tgz", repo.url(), elsewhere.url());
        assert!(error_chain(&error).contains(&refusal), "{}", error_chain(&error));
        assert!(elsewhere.seen().is_empty(), "the credentials' request left their origin: {:?}", elsewhere.seen());

        let without = RegistryOptions { plain_http: true, ..Default::default() };
        let (chart, announced) = announcements(|runtime| runtime.block_on(fetch_url(&url, &without, 1 << 20)));
        assert_eq!(chart.unwrap(), Bytes::from_static(b"chart"));
        assert_eq!(elsewhere.seen().len(), 1);
        let expected = format!("contacting host {} named by a redirect from {}", elsewhere.url(), repo.url());
        assert!(announced.len() == 1 && announced[0].contains(&expected), "{announced:?}");
    }

    #[test]
    fn an_unusable_answer_of_the_registry_is_a_network_error() {
        // A manifest with neither a Content-Type nor a mediaType field.
        let registry = StandIn::start(|_, conn| respond(conn, "200 OK", &[], br#"{"schemaVersion":2}"#));
        let error = runtime().block_on(client_of(&registry, None).get_manifest("r", "t")).unwrap_err();
        assert!(matches!(&error, RegistryError::BadAnswer { detail, .. } if detail.contains("without a media type")));
        assert_eq!(error.class(), ErrorClass::Network, "{error}");
    }

    #[test]
    fn docker_hub_names_reach_its_api_host() {
        for hub in ["docker.io", "index.docker.io", "registry-1.docker.io"] {
            assert_eq!(endpoint(hub, false), "https://registry-1.docker.io", "{hub}");
        }
        for other in ["quay.io", "localhost:5000", "registry.example.com:8443"] {
            assert_eq!(api_host(other), other);
        }
        let nginx: genesis_types::ImageReference = "nginx:1.27".parse().unwrap();
        assert_eq!(nginx.registry(), "docker.io", "the name stays Docker's");
        let client = Registry::new(nginx.registry(), &RegistryOptions::default()).unwrap();
        assert_eq!(client.endpoint(), "https://registry-1.docker.io");
        assert_eq!(client.host(), "docker.io");
    }

    #[test]
    fn docker_hub_credentials_are_read_from_the_key_docker_login_writes() {
        let dir = tempfile::tempdir().unwrap();
        let config = dir.path().join("config.json");
        let auth = STANDARD.encode("me:pw");
        std::fs::write(&config, format!(r#"{{"auths":{{"https://index.docker.io/v1/":{{"auth":"{auth}"}}}}}}"#))
            .unwrap();
        let hub = Credentials::from_docker_config(&config, "docker.io").unwrap().unwrap();
        assert_eq!((hub.username.as_str(), hub.password.as_str()), ("me", "pw"));
        assert_eq!(Credentials::from_docker_config(&config, "quay.io").unwrap(), None);
    }
}
