//! The portal client `genesis login / releases / pull` use: bearer-key calls, and downloads
//! that hash while they stream, resume with `Range`, and land atomically.

use std::io::{Read as _, Write as _};
use std::path::{Path, PathBuf};
use std::time::Duration;

use futures_util::StreamExt as _;
use genesis_bundle::Progress;
use reqwest::StatusCode;
use reqwest::header::{AUTHORIZATION, CONTENT_RANGE, ETAG, IF_RANGE, RANGE};
use sha2::{Digest as _, Sha256};

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
    /// Downloaded bytes do not match the digest the portal published.
    #[error(
        "{name}: the download does not match the published digest (expected sha256:{expected}, got sha256:{actual}); it was discarded"
    )]
    DigestMismatch {
        /// The artifact.
        name: String,
        /// Published SHA-256.
        expected: String,
        /// What arrived.
        actual: String,
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
}

type Result<T, E = PortalError> = std::result::Result<T, E>;

fn io(context: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PortalError {
    let path = path.to_owned();
    move |source| PortalError::Io { context, path, source }
}

/// A client of one portal with one license key.
#[derive(Clone)]
pub struct PortalClient {
    base: String,
    key: String,
    http: reqwest::Client,
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
        let loopback = url.host_str().is_some_and(|h| h == "localhost" || h == "127.0.0.1" || h == "[::1]");
        match url.scheme() {
            "https" => {}
            "http" if allow_http || loopback => {}
            other => {
                return Err(PortalError::Invalid(format!(
                    "portal URL `{base}`: scheme `{other}`; use https:// (plain http only to loopback or with --plain-http)"
                )));
            }
        }
        let _ = rustls::crypto::ring::default_provider().install_default();
        let tls = genesis_registry::tls_config(ca_file).map_err(|e| PortalError::Invalid(e.to_string()))?;
        let http = reqwest::Client::builder()
            .connect_timeout(Duration::from_secs(15))
            .read_timeout(Duration::from_secs(60))
            .no_proxy()
            .use_preconfigured_tls(tls)
            .build()
            .map_err(|e| PortalError::Invalid(format!("HTTP client: {e}")))?;
        Ok(PortalClient { base, key: key.to_owned(), http })
    }

    /// The portal URL.
    pub fn base(&self) -> &str {
        &self.base
    }

    fn url(&self, path: &str) -> String {
        format!("{}{path}", self.base)
    }

    async fn send(&self, request: reqwest::RequestBuilder, url: &str) -> Result<reqwest::Response> {
        let response = request
            .header(AUTHORIZATION, format!("Bearer {}", self.key))
            .send()
            .await
            .map_err(|source| PortalError::Transport { url: url.to_owned(), source })?;
        if response.status().is_success() || response.status() == StatusCode::NOT_MODIFIED {
            return Ok(response);
        }
        let status = response.status();
        let body = response.bytes().await.unwrap_or_default();
        let message = serde_json::from_slice::<ApiError>(&body)
            .map(|e| e.message)
            .unwrap_or_else(|_| String::from_utf8_lossy(&body).chars().take(300).collect());
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
        let body = response.bytes().await.map_err(|source| PortalError::Transport { url: url.clone(), source })?;
        serde_json::from_slice(&body).map_err(|e| PortalError::Invalid(format!("{url}: unexpected answer ({e})")))
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
                        let products: Vec<_> = matching.iter().map(|r| r.product.as_str()).collect();
                        return Err(PortalError::Invalid(format!(
                            "release {version} exists for several products ({}): name one with --product",
                            products.join(", ")
                        )));
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
        let body = response.bytes().await.map_err(|source| PortalError::Transport { url: url.clone(), source })?;
        serde_json::from_slice(&body).map_err(|e| PortalError::Invalid(format!("{url}: unexpected answer ({e})")))
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
        Ok(response.bytes().await.map_err(|source| PortalError::Transport { url, source })?.to_vec())
    }

    /// Downloads `artifact` into `dir` as `dir/NAME`: hashed while it streams, written to a
    /// hidden partial file that a later call resumes with `Range`, renamed into place only
    /// when size and SHA-256 match what the portal published. A mismatch deletes the partial
    /// file (its bytes cannot be trusted to resume from).
    pub async fn download(&self, artifact: &Artifact, dir: &Path, progress: &Progress) -> Result<Downloaded> {
        if !valid_artifact_name(&artifact.name) {
            return Err(PortalError::Invalid(format!("unsafe artifact name `{}` from the portal", artifact.name)));
        }
        if artifact.sha256.len() != 64
            || !artifact.sha256.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b))
        {
            return Err(PortalError::Invalid(format!(
                "{}: the portal's digest `{}` is not SHA-256 hex",
                artifact.name, artifact.sha256
            )));
        }
        let target = dir.join(&artifact.name);
        // Named by digest too, so bytes of another file of the same name are never resumed.
        let partial = dir.join(format!(".{}.{}.partial", artifact.name, &artifact.sha256[..12]));
        if target.exists() && sha256_file(&target).map_err(io("reading", &target))?.0 == artifact.sha256 {
            progress.add(artifact.size);
            return Ok(Downloaded::AlreadyPresent);
        }
        let (mut hasher, mut offset) = match std::fs::metadata(&partial) {
            Ok(m) if m.len() <= artifact.size => hash_file(&partial).map_err(io("reading", &partial))?,
            _ => (Sha256::new(), 0),
        };
        if offset == artifact.size && offset > 0 {
            // Complete but not renamed (the previous run stopped in between).
            if hex::encode(hasher.clone().finalize()) == artifact.sha256 {
                std::fs::rename(&partial, &target).map_err(io("renaming into place", &target))?;
                progress.add(offset);
                return Ok(Downloaded::Fetched { resumed_from: offset });
            }
            (hasher, offset) = (Sha256::new(), 0);
        }
        let url = self.url(&artifact.download_uri);
        let mut request = self.http.get(&url);
        if offset > 0 {
            request =
                request.header(RANGE, format!("bytes={offset}-")).header(IF_RANGE, format!("\"{}\"", artifact.sha256));
        }
        let response = self.send(request, &url).await?;
        let resumed_from = match response.status() {
            StatusCode::PARTIAL_CONTENT if content_range_start(&response) == Some(offset) => offset,
            StatusCode::PARTIAL_CONTENT => {
                return Err(PortalError::Invalid(format!("{url}: the portal resumed at another offset than {offset}")));
            }
            _ => {
                // A full answer: the partial file (if any) is not resumable.
                hasher = Sha256::new();
                offset = 0;
                0
            }
        };
        if let Some(etag) = response.headers().get(ETAG).and_then(|v| v.to_str().ok())
            && etag.trim_matches('"') != artifact.sha256
        {
            return Err(PortalError::Invalid(format!(
                "{url}: the portal's ETag {etag} is not the published digest {}",
                artifact.sha256
            )));
        }
        progress.add(offset);
        let file = std::fs::OpenOptions::new()
            .create(true)
            .write(true)
            .truncate(offset == 0)
            .append(offset > 0)
            .open(&partial)
            .map_err(io("creating", &partial))?;
        let written = stream_to_file(response, file, &mut hasher, progress, &url, &partial).await?;
        let actual = hex::encode(hasher.finalize());
        if offset + written != artifact.size || actual != artifact.sha256 {
            let _ = std::fs::remove_file(&partial);
            return Err(PortalError::DigestMismatch {
                name: artifact.name.clone(),
                expected: artifact.sha256.clone(),
                actual,
            });
        }
        std::fs::rename(&partial, &target).map_err(io("renaming into place", &target))?;
        Ok(Downloaded::Fetched { resumed_from })
    }
}

/// The hasher state and length of a file's bytes (an interrupted download's, to resume).
fn hash_file(path: &Path) -> std::io::Result<(Sha256, u64)> {
    let mut file = std::fs::File::open(path)?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 20];
    let mut len = 0;
    loop {
        let n = file.read(&mut buf)?;
        if n == 0 {
            return Ok((hasher, len));
        }
        hasher.update(&buf[..n]);
        len += n as u64;
    }
}

/// SHA-256 (hex) and length of a file.
pub fn sha256_file(path: &Path) -> std::io::Result<(String, u64)> {
    let (hasher, len) = hash_file(path)?;
    Ok((hex::encode(hasher.finalize()), len))
}

fn content_range_start(response: &reqwest::Response) -> Option<u64> {
    let value = response.headers().get(CONTENT_RANGE)?.to_str().ok()?;
    value.strip_prefix("bytes ")?.split('-').next()?.parse().ok()
}

/// Streams the body into `file`, hashing and writing on a blocking thread so that receiving,
/// hashing and writing overlap on two cores. Bytes received before a broken connection are
/// flushed to the partial file, so the next run resumes after them.
async fn stream_to_file(
    response: reqwest::Response,
    file: std::fs::File,
    hasher: &mut Sha256,
    progress: &Progress,
    url: &str,
    partial: &Path,
) -> Result<u64> {
    let (sender, mut receiver) = tokio::sync::mpsc::channel::<bytes::Bytes>(32);
    let mut owned_hasher = std::mem::take(hasher);
    let writer_path = partial.to_owned();
    let writer_progress = progress.clone();
    let writer = tokio::task::spawn_blocking(move || -> Result<(Sha256, u64)> {
        let mut out = std::io::BufWriter::with_capacity(1 << 20, file);
        let mut written = 0u64;
        while let Some(chunk) = receiver.blocking_recv() {
            owned_hasher.update(&chunk);
            out.write_all(&chunk).map_err(io("writing", &writer_path))?;
            written += chunk.len() as u64;
            writer_progress.add(chunk.len() as u64);
        }
        // No fsync, as for bundles (ARCHITECTURE.md, "Atomic output"): a file torn by a power
        // loss fails its digest on the next `pull`, which fetches it again, and `verify`.
        out.into_inner().map_err(|e| io("writing", &writer_path)(e.into_error()))?;
        Ok((owned_hasher, written))
    });
    let mut body = response.bytes_stream();
    let mut transport_error = None;
    while let Some(chunk) = body.next().await {
        match chunk {
            Ok(chunk) => {
                if sender.send(chunk).await.is_err() {
                    break; // the writer failed; its error is reported below
                }
            }
            Err(source) => {
                transport_error = Some(PortalError::Transport { url: url.to_owned(), source });
                break;
            }
        }
    }
    drop(sender);
    let (finished, written) = writer.await.map_err(|e| PortalError::Invalid(format!("writer thread: {e}")))??;
    if let Some(e) = transport_error {
        return Err(e);
    }
    *hasher = finished;
    Ok(written)
}
