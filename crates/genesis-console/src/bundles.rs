//! The Bundles tab: the bundles of `--bundles-dir` (a PersistentVolume, filled by copying
//! archives and their sidecars into it, or from the browser through [`crate::upload`]), each
//! verified in full — BOM signature, every payload entry, the sidecars, the policy's
//! constraints — with the trust configuration of ConfigMap `genesis-trust` before the tab
//! offers it for installation.
//!
//! Verifying reads the whole archive, minutes for a bundle of gigabytes, so it runs in the
//! background, one bundle at a time (the disk and the cores are the cluster's, not ours), and
//! the pages show where each stands: `verifying`, `verified`, `refused` (with the verifier's
//! reason) or `untrusted` (no usable trust configured). What a verification found is kept
//! for as long as the archive, its sidecars and the trust configuration stay as they were:
//! the key is their sizes and modification times and a hash of the ConfigMap's data, so a
//! sidecar uploaded after its archive, a replaced file or a changed policy each verify the
//! bundle again. The trust configuration is read from the API server on every use: changing
//! it needs no restart.

use std::collections::{BTreeMap, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use genesis_portal_client::human_size;
use genesis_trust::{CheckedBundle, Limits, PublicKey, Sidecar, TrustPolicy, UnverifiedBundle, VerifiedBundle};
use genesis_web::html::{Column, count, segment, table};
use k8s_openapi::api::core::v1::ConfigMap;
use kube::api::Api;
use maud::{Markup, html};

use crate::auth::{Signed, console_access};
use crate::config::TRUST_CONFIG;
use crate::page::{PageError, Tab, page};
use crate::state::{AppState, Shared};
use crate::upload::Uploads;

/// The key of ConfigMap [`TRUST_CONFIG`] holding a trust policy file (the format of
/// `bundle-loader verify --policy`).
const POLICY_KEY: &str = "policy.yaml";
/// The key of ConfigMap [`TRUST_CONFIG`] holding one vendor public key (SPKI PEM, as
/// `cosign.pub`).
const VENDOR_KEY: &str = "vendor.pub";

/// What a bundle archive's name ends with.
const ARCHIVE_SUFFIX: &str = ".tar.zst";

/// The longest file name taken: room for `NAME-VERSION.tar.zst.cosign.bundle`.
const MAX_NAME: usize = 200;

/// `GET /bundles` and `GET /bundles/{file}`, with the upload routes beside them.
pub(crate) fn routes() -> Router<Shared> {
    Router::new().route("/bundles", get(list)).route("/bundles/{file}", get(bundle)).merge(crate::upload::routes())
}

/// Whether `name` is a file name the bundles directory may hold: one path segment of
/// letters, digits and `._+-`, not hidden (`.uploads` is the console's own), at most
/// [`MAX_NAME`] bytes. So `../x`, `a/b`, a NUL or a name the shell would read otherwise
/// never reach the file system.
fn plain_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= MAX_NAME
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+'))
}

/// Whether `name` is a bundle archive's: a [`plain_name`] ending in `.tar.zst` after a stem.
pub(crate) fn is_archive_name(name: &str) -> bool {
    plain_name(name) && name.len() > ARCHIVE_SUFFIX.len() && name.ends_with(ARCHIVE_SUFFIX)
}

/// The sidecars the verifier reads beside `archive` (`.sha256`, `.sig`, `.cosign.bundle`),
/// named as `genesis_trust` names them, so that the console takes exactly the files the
/// verifier looks for.
fn sidecars_of(archive: &Path) -> [PathBuf; 3] {
    let (sha256, signature) = genesis_trust::sidecar_paths(archive);
    [sha256, signature, genesis_trust::cosign_bundle_path(archive)]
}

/// The archive whose sidecar `name` is, when it is one.
pub(crate) fn archive_of_sidecar(name: &str) -> Option<&str> {
    if !plain_name(name) {
        return None;
    }
    let end = name.rfind(".tar.zst.")? + ARCHIVE_SUFFIX.len();
    let archive = &name[..end];
    let sidecar = Path::new(name);
    (is_archive_name(archive) && sidecars_of(Path::new(archive)).iter().any(|p| p == sidecar)).then_some(archive)
}

/// The trust bundles are verified with, as ConfigMap `genesis-trust` gives it.
pub(crate) enum TrustConfig {
    /// A usable policy (boxed: it is large beside the other variant).
    Trusted(Box<Trust>),
    /// None, or none usable: why, and what to do. Every bundle is shown `untrusted` with it.
    Untrusted(String),
}

/// A usable trust configuration.
#[derive(Clone)]
pub(crate) struct Trust {
    /// The policy.
    pub(crate) policy: TrustPolicy,
    /// Where it came from and whom it trusts, for the pages and the install's events.
    pub(crate) given: String,
    /// SHA-256 of the ConfigMap's data: a verification holds while it stays the same.
    hash: String,
}

impl TrustConfig {
    /// What a verification found holds while this stays the same.
    fn hash(&self) -> String {
        match self {
            TrustConfig::Trusted(trust) => trust.hash.clone(),
            TrustConfig::Untrusted(why) => format!("untrusted: {why}"),
        }
    }
}

/// Reads ConfigMap `genesis-trust` from the console's namespace, with the console's own
/// rights (`get` on that ConfigMap): the trust is the cluster's configuration, not the
/// signed-in user's. An API server that cannot answer is an error page; a ConfigMap absent
/// or unusable is [`TrustConfig::Untrusted`].
pub(crate) async fn read_trust(state: &AppState) -> Result<TrustConfig, PageError> {
    let namespace = &state.config.namespace;
    let maps: Api<ConfigMap> = Api::namespaced(state.cluster.client().clone(), namespace);
    let found = maps.get_opt(TRUST_CONFIG).await.map_err(|source| genesis_kube::KubeError::Api {
        object: format!("ConfigMap {namespace}/{TRUST_CONFIG}"),
        source,
    })?;
    Ok(trust_from(namespace, found.and_then(|map| map.data).as_ref()))
}

/// The trust a ConfigMap's `data` gives: `policy.yaml` when present (the files it names,
/// such as `keys: [vendor.pub]`, are the ConfigMap's other keys), else the one key of
/// `vendor.pub`; neither, or one that does not load, is untrusted, saying why and what to do.
pub(crate) fn trust_from(namespace: &str, data: Option<&BTreeMap<String, String>>) -> TrustConfig {
    let place = format!("ConfigMap {namespace}/{TRUST_CONFIG}");
    let Some(data) = data.filter(|d| d.contains_key(POLICY_KEY) || d.contains_key(VENDOR_KEY)) else {
        return TrustConfig::Untrusted(format!(
            "no trust configured: create {place} with the key {POLICY_KEY} (a trust policy file) or {VENDOR_KEY} \
             (the vendor's public key), e.g. `kubectl create configmap {TRUST_CONFIG} -n {namespace} \
             --from-file={VENDOR_KEY}=cosign.pub`; nothing can be installed until then"
        ));
    };
    // Errors name the ConfigMap's keys as paths below this made-up origin.
    let origin = PathBuf::from(format!("configmap/{namespace}/{TRUST_CONFIG}"));
    let loaded = match data.get(POLICY_KEY) {
        Some(text) => {
            let file = |name: &Path| name.to_str().and_then(|key| data.get(key)).map(|v| v.clone().into_bytes());
            genesis_trust::policy_file::load_from_str(text, &origin.join(POLICY_KEY), &file)
                .map(|policy| (policy, POLICY_KEY))
        }
        None => PublicKey::from_pem(&data[VENDOR_KEY], &origin.join(VENDOR_KEY))
            .and_then(|key| TrustPolicy::from_keys(vec![key]))
            .map(|policy| (policy, VENDOR_KEY)),
    };
    match loaded {
        Ok((policy, key)) => {
            let given = format!("{place} ({key}: {})", policy.describe());
            // The map's JSON is canonical: a BTreeMap's keys come sorted.
            let bytes = serde_json::to_vec(data).unwrap_or_default();
            TrustConfig::Trusted(Box::new(Trust { policy, given, hash: genesis_bundle::sha256(&bytes).to_string() }))
        }
        Err(e) => TrustConfig::Untrusted(format!(
            "the trust configuration in {place} is unusable: {}; correct it (nothing can be installed until then)",
            genesis_types::error_chain(&e)
        )),
    }
}

/// The bundles of `--bundles-dir` and where the verification of each stands.
pub struct Catalog {
    dir: PathBuf,
    shelf: Arc<Mutex<Shelf>>,
    uploads: Uploads,
}

/// What the catalog knows, and the verifications waiting to run.
#[derive(Default)]
struct Shelf {
    /// By archive file name.
    entries: BTreeMap<String, Entry>,
    queue: VecDeque<Job>,
    /// Whether a task is working through `queue`.
    working: bool,
}

struct Entry {
    key: Key,
    verdict: Verdict,
}

/// What a verification's verdict holds for: the files it read and the trust it used.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    /// The archive's stamp, then each sidecar's that is there.
    files: Vec<Stamp>,
    trust: String,
}

/// A file as a directory listing sees it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    name: String,
    size: u64,
    /// Nanoseconds since the Unix epoch.
    modified: u128,
}

/// A verification to run.
struct Job {
    file: String,
    key: Key,
    trust: Trust,
}

/// Where a bundle stands.
#[derive(Clone)]
pub(crate) enum Verdict {
    /// Waiting for, or in, its verification.
    Verifying,
    /// Verified in full: what the verification established.
    Verified(Arc<Facts>),
    /// Refused by the verifier (or not readable): why.
    Refused(String),
    /// Not verified, for want of a usable trust configuration: why.
    Untrusted(String),
}

impl Verdict {
    /// The word pages and tests read (`data-state`).
    pub(crate) fn word(&self) -> &'static str {
        match self {
            Verdict::Verifying => "verifying",
            Verdict::Verified(_) => "verified",
            Verdict::Refused(_) => "refused",
            Verdict::Untrusted(_) => "untrusted",
        }
    }

    /// The class of its badge (text and colour, never colour alone).
    fn badge(&self) -> &'static str {
        match self {
            Verdict::Verifying => "degraded",
            Verdict::Verified(_) => "pass",
            Verdict::Refused(_) => "fail",
            Verdict::Untrusted(_) => "warn",
        }
    }
}

/// One bundle of the directory.
#[derive(Clone)]
pub(crate) struct Row {
    /// Its archive's file name.
    pub(crate) file: String,
    /// Its archive's size.
    pub(crate) size: u64,
    /// Where its verification stands.
    pub(crate) verdict: Verdict,
}

/// What a full verification established of a bundle, as the pages show it.
pub(crate) struct Facts {
    /// Name, from the signed BOM.
    pub(crate) name: String,
    /// Version, from the signed BOM.
    pub(crate) version: String,
    /// SHA-256 of `bom.json`: what an install checks it still installs.
    pub(crate) bom_sha256: String,
    /// Who signed the BOM, then each countersigner.
    signers: Vec<String>,
    /// The SLSA provenance's builder, when the bundle carries provenance.
    builder: Option<String>,
    /// The SBOM's component count, or why it cannot be counted; `None` without an SBOM.
    sbom: Option<Result<usize, String>>,
    /// The vulnerability scan the BOM records, in one line; `None` when it records none.
    scan: Option<String>,
    archive_sha256: String,
    /// Images, charts and manifests, and the payload checked.
    contents: String,
    /// The sidecars, each checked or absent.
    sidecars: Vec<String>,
    /// What the policy decided beyond the signature, and what it left out.
    decisions: Vec<String>,
    /// When the signed BOM expires, if it does.
    expires: Option<String>,
    /// The trust it was verified with.
    trust: String,
}

impl Facts {
    fn of(checked: &CheckedBundle, trust: &str) -> Facts {
        let r = checked.report();
        let head = &r.head;
        let signers = std::iter::once(&head.signer)
            .chain(&head.countersigners)
            .map(|s| genesis_bundle::escape_controls(&s.to_string()))
            .collect();
        let sbom = match (&head.sbom, checked.sbom()) {
            (Some(path), Some(document)) => Some(
                genesis_report::SbomTotals::from_cyclonedx(path, document)
                    .map(|totals| totals.components)
                    .map_err(|e| genesis_types::error_chain(&e)),
            ),
            _ => None,
        };
        let sidecars = [
            ("SHA-256 sidecar", &r.sha256_sidecar),
            ("detached signature", &r.signature_sidecar),
            ("sigstore bundle", &r.cosign_bundle_sidecar),
        ]
        .into_iter()
        .map(|(what, sidecar)| match sidecar {
            Sidecar::Match { path } => format!("{what} checked ({})", file_name(path)),
            Sidecar::Absent { path } => format!("no {what} ({} not found)", file_name(path)),
        })
        .collect();
        Facts {
            name: head.name.clone(),
            version: head.version.clone(),
            bom_sha256: head.bom_sha256.to_string(),
            signers,
            builder: head.provenance.as_ref().map(|p| p.builder_id.clone()),
            sbom,
            scan: r.scan.as_ref().map(scan_summary),
            archive_sha256: r.archive_sha256.to_string(),
            contents: format!(
                "{}, {}, {}; {} checked ({})",
                count(r.images, "image", "images"),
                count(r.charts, "chart", "charts"),
                count(r.manifests, "manifest", "manifests"),
                count(r.files, "file", "files"),
                human_size(r.payload_bytes)
            ),
            sidecars,
            decisions: head.policy.iter().chain(&head.ignored).cloned().collect(),
            expires: r.expires.clone(),
            trust: trust.to_owned(),
        }
    }
}

fn file_name(path: &Path) -> String {
    path.file_name().map_or_else(|| path.display().to_string(), |n| n.to_string_lossy().into_owned())
}

/// The recorded scan in one line: its verdict against its threshold, the findings without an
/// exception by severity (highest first), the excepted ones, and what it covered as of when.
fn scan_summary(scan: &genesis_bundle::ScanSummary) -> String {
    let counts = scan.counts_line();
    format!(
        "{} (failOn {}): {counts} without an exception, {} excepted; {} packages as of {}",
        if scan.passed { "passed" } else { "FAILED" },
        scan.fail_on,
        scan.excepted,
        scan.packages,
        scan.as_of
    )
}

impl Catalog {
    /// The catalog of `dir` (`--bundles-dir`), empty until a page asks: nothing is read or
    /// verified before then.
    pub fn new(dir: &Path) -> Catalog {
        Catalog { dir: dir.to_owned(), shelf: Arc::default(), uploads: Uploads::new(dir) }
    }

    /// The bundles directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.dir
    }

    /// The partial uploads into the directory.
    pub(crate) fn uploads(&self) -> &Uploads {
        &self.uploads
    }

    /// Lists the directory and returns each bundle with where it stands, sorted by file name;
    /// a bundle new or changed since its last verification (its files or `trust`) is queued
    /// for one, which starts in the background if none is running. Uploads abandoned for a
    /// day are removed on the way.
    pub(crate) async fn refresh(&self, trust: &TrustConfig) -> Result<Vec<Row>, PageError> {
        self.uploads.sweep().await;
        let dir = self.dir.clone();
        let listed = tokio::task::spawn_blocking(move || list_dir(&dir)).await.map_err(|e| {
            PageError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("listing the bundles directory stopped unexpectedly: {e}"),
                "reload the page; if it happens again, the console's log says more",
            )
        })?;
        let listed = listed.map_err(|e| {
            PageError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("the console cannot read the bundles directory {}: {e}", self.dir.display()),
                "check that the volume behind --bundles-dir is mounted and readable by the console",
            )
        })?;
        let trust_hash = trust.hash();
        let mut shelf = self.shelf.lock().unwrap_or_else(PoisonError::into_inner);
        shelf.entries.retain(|file, _| listed.iter().any(|(listed, _)| listed == file));
        let mut rows = Vec::with_capacity(listed.len());
        for (file, files) in listed {
            let size = files.first().map_or(0, |archive| archive.size);
            let key = Key { files, trust: trust_hash.clone() };
            let current = shelf.entries.get(&file).filter(|entry| entry.key == key).map(|entry| entry.verdict.clone());
            let verdict = match (current, trust) {
                (Some(verdict), _) => verdict,
                (None, TrustConfig::Untrusted(why)) => Verdict::Untrusted(why.clone()),
                (None, TrustConfig::Trusted(trust)) => {
                    shelf.queue.push_back(Job { file: file.clone(), key: key.clone(), trust: (**trust).clone() });
                    Verdict::Verifying
                }
            };
            shelf.entries.insert(file.clone(), Entry { key, verdict: verdict.clone() });
            rows.push(Row { file, size, verdict });
        }
        if !shelf.working && !shelf.queue.is_empty() {
            shelf.working = true;
            tokio::spawn(verify_queued(Arc::clone(&self.shelf), self.dir.clone()));
        }
        Ok(rows)
    }
}

/// The bundle archives of `dir` (regular files with an archive's name), each with the stamp
/// of the archive and of each sidecar there, sorted by name. A directory not there yet is
/// empty: the first upload makes it.
fn list_dir(dir: &Path) -> std::io::Result<Vec<(String, Vec<Stamp>)>> {
    let entries = match std::fs::read_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        entries => entries?,
    };
    let mut listed = Vec::new();
    for entry in entries {
        let Ok(file) = entry?.file_name().into_string() else { continue };
        if !is_archive_name(&file) {
            continue;
        }
        let archive = dir.join(&file);
        let Some(own) = stamp(&archive)? else { continue };
        let mut files = vec![own];
        for sidecar in sidecars_of(&archive) {
            files.extend(stamp(&sidecar)?);
        }
        listed.push((file, files));
    }
    listed.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(listed)
}

/// The stamp of the regular file at `path` (followed through a symlink), `None` when there is
/// none: a file removed while the directory was listed is simply not there.
fn stamp(path: &Path) -> std::io::Result<Option<Stamp>> {
    let meta = match std::fs::metadata(path) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        meta => meta?,
    };
    if !meta.is_file() {
        return Ok(None);
    }
    let modified = meta.modified()?.duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_nanos());
    Ok(Some(Stamp { name: file_name(path), size: meta.len(), modified }))
}

/// Works through the queue, one verification at a time on a blocking thread, recording each
/// verdict unless the bundle changed meanwhile (its entry's key moved on); stops when the
/// queue is empty.
async fn verify_queued(shelf: Arc<Mutex<Shelf>>, dir: PathBuf) {
    loop {
        let job = {
            let mut held = shelf.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                match held.queue.pop_front() {
                    None => {
                        held.working = false;
                        return;
                    }
                    Some(job) if held.entries.get(&job.file).is_some_and(|entry| entry.key == job.key) => break job,
                    Some(_) => {}
                }
            }
        };
        let Job { file, key, trust } = job;
        let path = dir.join(&file);
        tracing::info!(bundle = %path.display(), "verifying");
        let verdict = tokio::task::spawn_blocking(move || verify(&path, &trust)).await;
        let mut held = shelf.lock().unwrap_or_else(PoisonError::into_inner);
        match verdict {
            Ok(verdict) => {
                if let Some(entry) = held.entries.get_mut(&file)
                    && entry.key == key
                {
                    entry.verdict = verdict;
                }
            }
            // Forgotten, so that the next page verifies it again.
            Err(e) => {
                tracing::error!(%file, error = %e, "a verification stopped unexpectedly");
                held.entries.remove(&file);
            }
        }
    }
}

/// Verifies the bundle at `path` in full with `trust`: what the loader's `verify` checks.
fn verify(path: &Path, trust: &Trust) -> Verdict {
    let checked = UnverifiedBundle::open(path, &Limits::default())
        .and_then(|bundle| bundle.verify(&trust.policy))
        .and_then(VerifiedBundle::check);
    match checked {
        Ok(checked) => {
            tracing::info!(bundle = %path.display(), "verified");
            Verdict::Verified(Arc::new(Facts::of(&checked, &trust.given)))
        }
        Err(e) => {
            let reason = genesis_types::error_chain(&e);
            tracing::warn!(bundle = %path.display(), %reason, "refused");
            Verdict::Refused(reason)
        }
    }
}

/// `GET /bundles` (`list bundles`): the table `#bundles`, a row per archive
/// (`tr[data-bundle=FILE][data-state=…]`), and the upload form.
async fn list(State(state): State<Shared>, signed: Signed) -> Result<Response, PageError> {
    signed.authorize(&state, &console_access(&state, "list", "bundles")).await?;
    let trust = read_trust(&state).await?;
    let rows = state.bundles.refresh(&trust).await?;
    let verifying = rows.iter().any(|row| matches!(row.verdict, Verdict::Verifying));
    let dir = state.bundles.dir().display().to_string();
    let body = html! {
        // Without JavaScript the page looks again while a bundle verifies; with it, the
        // upload script does, unless an upload is under way.
        @if verifying {
            noscript { meta http-equiv="refresh" content="5"; }
        }
        h1 { "Bundles" }
        p.muted {
            "The bundles in " code { (dir) } ", each verified in full with the trust of ConfigMap "
            code { (state.config.namespace) "/" (TRUST_CONFIG) } " before it can be installed."
        }
        @if let TrustConfig::Untrusted(why) = &trust {
            div.notice #trust-notice { p { (why) } }
        }
        @if let Some(install) = state.installs.running() {
            div.notice #install-running {
                p {
                    (install.describe()) " "
                    a href={ "/installs/" (install.id()) } { "Follow the install" }
                }
            }
        }
        @if rows.is_empty() {
            p #no-bundles {
                "No bundle here yet: upload one below, or copy " code { "NAME-VERSION.tar.zst" }
                " with its sidecars into the volume."
            }
        } @else {
            (bundles_table(&rows))
        }
        (upload_form(&signed))
    };
    Ok(page(&signed, Tab::Bundles, "Bundles", StatusCode::OK, body))
}

/// The table `#bundles`.
fn bundles_table(rows: &[Row]) -> Markup {
    use Column::{Numeric, Text};
    let body = html! {
        @for row in rows {
            tr data-bundle=(row.file) data-state=(row.verdict.word()) {
                th scope="row" { a href={ "/bundles/" (segment(&row.file)) } { code { (row.file) } } }
                @match &row.verdict {
                    Verdict::Verified(facts) => {
                        td { (facts.name) }
                        td { (facts.version) }
                        td.mono { (facts.signers[0]) }
                        td { (facts.builder.as_deref().unwrap_or("no provenance")) }
                        td.num { (sbom_cell(&facts.sbom)) }
                        td { (facts.scan.as_deref().unwrap_or("none recorded")) }
                    },
                    Verdict::Verifying => td.muted colspan="6" { "Being verified: the facts appear once it is." },
                    Verdict::Refused(why) | Verdict::Untrusted(why) => td.reason colspan="6" { (why) },
                }
                td.num { (human_size(row.size)) }
                td { span class=(row.verdict.badge()) { (row.verdict.word()) } }
            }
        }
    };
    let columns = [
        Text("Bundle"),
        Text("Name"),
        Text("Version"),
        Text("Signer"),
        Text("Provenance builder"),
        Numeric("SBOM components"),
        Text("Vulnerability scan"),
        Numeric("Size"),
        Text("State"),
    ];
    table("bundles", &columns, body)
}

fn sbom_cell(sbom: &Option<Result<usize, String>>) -> String {
    match sbom {
        Some(Ok(components)) => components.to_string(),
        Some(Err(why)) => format!("not counted: {why}"),
        None => "no SBOM".to_owned(),
    }
}

/// The upload form `#upload-form`: without JavaScript a plain multipart POST of the chosen
/// files; with it (console-upload.js) the same files in resumable pieces, its progress in
/// `#upload-progress` and `#upload-status`. `csrf` comes first: the server refuses a body
/// before reading a file of it unless the token checks out.
fn upload_form(signed: &Signed) -> Markup {
    html! {
        h2 #upload { "Upload a bundle" }
        form #upload-form method="post" action="/uploads/form" enctype="multipart/form-data" {
            (genesis_web::html::csrf_field(&signed.csrf))
            p {
                label for="upload-file" {
                    "The bundle archive (" code { "NAME-VERSION.tar.zst" } ") and its sidecars ("
                    code { ".sha256" } ", " code { ".sig" } ", " code { ".cosign.bundle" } ")"
                }
                input #upload-file type="file" name="file" multiple required
                    accept=".zst,.sha256,.sig,.bundle";
            }
            div.actions { button.primary type="submit" { "Upload" } }
            progress #upload-progress max="100" value="0" hidden aria-label="Upload progress" {}
            p #upload-status role="status" aria-live="polite" {}
        }
        p.muted {
            "With JavaScript the files go in 8 MiB pieces, and an upload cut off (a dropped port-forward) "
            "resumes where it stopped when the same file is chosen again. Without it they go in one request, "
            "fine for small bundles."
        }
    }
}

/// `GET /bundles/{file}` (`list bundles`): what verifying the bundle established and, once
/// it verified, the install form ([`crate::install::install_section`]).
async fn bundle(
    State(state): State<Shared>,
    signed: Signed,
    UrlPath(file): UrlPath<String>,
) -> Result<Response, PageError> {
    signed.authorize(&state, &console_access(&state, "list", "bundles")).await?;
    let row = find(&state, &file).await?;
    let verdict_line = html! {
        p { "State: " span #bundle-state class=(row.verdict.badge()) { (row.verdict.word()) } }
    };
    let body = match &row.verdict {
        Verdict::Verified(facts) => {
            let install = crate::install::install_section(&state, &signed, &row.file, facts).await?;
            html! {
                h1 { (facts.name) " " (facts.version) }
                (verdict_line)
                (facts_list(&row, facts))
                (install)
            }
        }
        Verdict::Verifying => html! {
            noscript { meta http-equiv="refresh" content="5"; }
            h1 { code { (row.file) } }
            (verdict_line)
            p { "The bundle is being verified in full; this page shows what was found once it is." }
        },
        Verdict::Refused(why) | Verdict::Untrusted(why) => html! {
            h1 { code { (row.file) } }
            (verdict_line)
            div.error { p #refusal { (why) } }
            p { "A bundle that did not verify cannot be installed." }
        },
    };
    Ok(page(&signed, Tab::Bundles, &row.file, StatusCode::OK, body))
}

/// The bundle `file` of the directory as it stands now, its verification queued when needed.
pub(crate) async fn find(state: &AppState, file: &str) -> Result<Row, PageError> {
    let missing = || {
        PageError::not_found(format!(
            "there is no bundle {file} in the bundles directory: the Bundles tab lists those there are"
        ))
    };
    if !is_archive_name(file) {
        return Err(missing());
    }
    let trust = read_trust(state).await?;
    let rows = state.bundles.refresh(&trust).await?;
    rows.into_iter().find(|row| row.file == file).ok_or_else(missing)
}

/// What verifying established, as a description list.
fn facts_list(row: &Row, facts: &Facts) -> Markup {
    html! {
        dl.facts #bundle-facts {
            dt { "Archive" } dd { code { (row.file) } ", " (human_size(row.size)) }
            dt { "Signer" } dd.mono #signer { (facts.signers[0]) }
            @for countersigner in &facts.signers[1..] {
                dt { "Countersigner" } dd.mono { (countersigner) }
            }
            dt { "Verified with" } dd { (facts.trust) }
            dt { "Provenance builder" }
            dd.mono { (facts.builder.as_deref().unwrap_or("no SLSA provenance in the bundle")) }
            dt { "SBOM components" } dd { (sbom_cell(&facts.sbom)) }
            dt { "Vulnerability scan" } dd { (facts.scan.as_deref().unwrap_or("none recorded in the BOM")) }
            dt { "Contents" } dd { (facts.contents) }
            dt { "Archive SHA-256" } dd.mono { (facts.archive_sha256) }
            dt { "BOM SHA-256" } dd.mono { (facts.bom_sha256) }
            @if let Some(expires) = &facts.expires {
                dt { "Expires" } dd { (expires) }
            }
        }
        h2 { "Checks" }
        ul #bundle-checks {
            li { "Signature, every payload entry and the policy's constraints: verified" }
            @for line in facts.sidecars.iter().chain(&facts.decisions) {
                li { (line) }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use genesis_bundle::{ScanDatabase, ScanSummary};
    use genesis_types::Severity;

    use super::*;

    #[test]
    fn only_one_segment_names_of_archives_and_their_sidecars_are_taken() {
        for archive in ["demo-0.1.0.tar.zst", "a.tar.zst", "demo_1+build.tar.zst"] {
            assert!(is_archive_name(archive), "{archive}");
        }
        for not in [
            "",
            ".tar.zst",
            "../evil.tar.zst",
            "/evil.tar.zst",
            "a/b.tar.zst",
            "a\0.tar.zst",
            ".hidden.tar.zst",
            "a b.tar.zst",
            "demo.tar.gz",
            "demo.tar.zst.sha256",
            "..",
            ".uploads",
        ] {
            assert!(!is_archive_name(not), "{not:?}");
        }
        assert!(!is_archive_name(&format!("{}.tar.zst", "a".repeat(MAX_NAME))));
        for (sidecar, archive) in [
            ("demo-0.1.0.tar.zst.sha256", "demo-0.1.0.tar.zst"),
            ("demo-0.1.0.tar.zst.sig", "demo-0.1.0.tar.zst"),
            ("demo-0.1.0.tar.zst.cosign.bundle", "demo-0.1.0.tar.zst"),
            ("a.tar.zst.tar.zst.sig", "a.tar.zst.tar.zst"),
        ] {
            assert_eq!(archive_of_sidecar(sidecar), Some(archive), "{sidecar}");
        }
        for not in ["demo.tar.zst", "demo.tar.zst.exe", "../demo.tar.zst.sig", ".tar.zst.sig", "demo.sig", "x"] {
            assert_eq!(archive_of_sidecar(not), None, "{not}");
        }
    }

    fn data(pairs: &[(&str, &str)]) -> BTreeMap<String, String> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    fn untrusted(config: TrustConfig) -> String {
        match config {
            TrustConfig::Untrusted(why) => why,
            TrustConfig::Trusted(trust) => panic!("trusted: {}", trust.given),
        }
    }

    #[test]
    fn trust_comes_from_the_config_map_s_policy_or_vendor_key_and_is_never_assumed() {
        let why = untrusted(trust_from("genesis", None));
        assert!(why.starts_with("no trust configured: create ConfigMap genesis/genesis-trust"), "{why}");
        let why = untrusted(trust_from("genesis", Some(&data(&[("other", "x")]))));
        assert!(why.contains("--from-file=vendor.pub=cosign.pub"), "{why}");
        let why = untrusted(trust_from("genesis", Some(&data(&[("vendor.pub", "not a key")]))));
        assert!(why.starts_with("the trust configuration in ConfigMap genesis/genesis-trust is unusable: "), "{why}");

        let key = genesis_trust::PrivateKey::generate().public_key();
        let pem = key.to_pem();
        let by_key = match trust_from("genesis", Some(&data(&[("vendor.pub", &pem)]))) {
            TrustConfig::Trusted(trust) => trust,
            TrustConfig::Untrusted(why) => panic!("{why}"),
        };
        assert!(by_key.given.starts_with("ConfigMap genesis/genesis-trust (vendor.pub: "), "{}", by_key.given);
        assert_eq!(by_key.policy.keys()[0].fingerprint(), key.fingerprint());
        // The policy's files are the map's other keys.
        let by_policy = match trust_from(
            "genesis",
            Some(&data(&[("policy.yaml", "keys: [vendor.pub]\n"), ("vendor.pub", &pem)])),
        ) {
            TrustConfig::Trusted(trust) => trust,
            TrustConfig::Untrusted(why) => panic!("{why}"),
        };
        assert!(by_policy.given.starts_with("ConfigMap genesis/genesis-trust (policy.yaml: "), "{}", by_policy.given);
        assert_ne!(by_key.hash, by_policy.hash, "another configuration verifies again");
        let why = untrusted(trust_from("genesis", Some(&data(&[("policy.yaml", "keys: [missing.pub]\n")]))));
        assert!(why.contains("missing.pub"), "{why}");
    }

    #[test]
    fn the_scan_reads_as_its_verdict_its_counts_highest_first_and_its_coverage() {
        let scan = ScanSummary {
            as_of: "2025-01-01T00:00:00Z".into(),
            database: ScanDatabase { digest: "sha256:0d".into(), newest_modified: None, records: 1 },
            packages: 3,
            fail_on: Severity::High,
            counts: [(Severity::Medium, 1), (Severity::Critical, 2)].into(),
            excepted: 1,
            gaps: 0,
            passed: false,
            first_expiry: None,
        };
        assert_eq!(
            scan_summary(&scan),
            "FAILED (failOn high): 2 critical, 1 medium without an exception, 1 excepted; 3 packages as of \
             2025-01-01T00:00:00Z"
        );
    }

    #[test]
    fn a_listing_stamps_each_archive_with_its_sidecars_and_skips_everything_else() {
        let dir = tempfile::tempdir().unwrap();
        for name in ["b.tar.zst", "a.tar.zst", "a.tar.zst.sig", "notes.txt", ".hidden.tar.zst", "c.tar.zst.sha256"] {
            std::fs::write(dir.path().join(name), name).unwrap();
        }
        std::fs::create_dir(dir.path().join("d.tar.zst")).unwrap();
        std::fs::create_dir(dir.path().join(".uploads")).unwrap();
        let listed = list_dir(dir.path()).unwrap();
        let names: Vec<(&str, Vec<&str>)> = listed
            .iter()
            .map(|(file, stamps)| (file.as_str(), stamps.iter().map(|s| s.name.as_str()).collect()))
            .collect();
        assert_eq!(names, [("a.tar.zst", vec!["a.tar.zst", "a.tar.zst.sig"]), ("b.tar.zst", vec!["b.tar.zst"])]);
        assert_eq!(listed[0].1[0].size, 9);
        assert!(list_dir(&dir.path().join("absent")).unwrap().is_empty(), "a directory not there yet is empty");
    }
}
