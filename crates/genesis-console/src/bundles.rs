//! The Bundles tab: the bundles of `--bundles-dir` (a PersistentVolume, filled by copying
//! archives and their sidecars into it, or from the browser through [`crate::upload`]) and,
//! with `--landing-bucket`, those of a landing bucket (seed 001's diode delivers there), each
//! verified in full — BOM signature, every payload entry, the sidecars, the policy's
//! constraints — with the trust configuration of ConfigMap `genesis-trust` before the tab
//! offers it for installation. A bundle is an archive `NAME.tar.zst`, or the parts manifest
//! `NAME.tar.zst.parts.json` of a split one (decision 0042) whose archive is not there; a
//! bundle of the bucket is read where it lies, by ranged GETs, never copied into the directory.
//!
//! Verifying reads the whole archive, minutes for a bundle of gigabytes, so it runs in the
//! background, one bundle at a time (the disk, the network and the cores are the cluster's, not
//! ours), and the pages show where each stands: `verifying`, `verified`, `refused` (with the
//! verifier's reason) or `untrusted` (no usable trust configured), the same for both sources.
//! What a verification found is kept for as long as what it read and the trust configuration
//! stay as they were: the key is the size and modification time of each file (the size and
//! ETag of each object) — the archive or its parts and manifest, and the sidecars — and a hash
//! of the ConfigMap's data, so a sidecar uploaded after its archive, a replaced file or object
//! or a changed policy each verify the bundle again. The trust configuration is read from the
//! API server on every use: changing it needs no restart.

use std::collections::{BTreeMap, BTreeSet, VecDeque};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::Router;
use axum::extract::{Path as UrlPath, State};
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::get;
use genesis_bundle::{ArchiveFile, BundleError, PARTS_MANIFEST_SUFFIX};
use genesis_objstore::{BucketFolder, ObjectStorage, ObjectStoreConfig};
use genesis_portal_client::human_size;
use genesis_trust::{
    CheckedBundle, Limits, PublicKey, Sidecar, TrustError, TrustPolicy, UnverifiedBundle, VerifiedBundle,
};
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

/// How long a listing of the landing bucket may take before the tab is shown without it.
const LANDING_PATIENCE: Duration = Duration::from_secs(20);

/// What to do when the landing bucket cannot be listed or opened.
const LANDING_FIX: &str = "check the console's --landing-bucket, --s3-endpoint (or GENESIS_S3_ENDPOINT) and its \
                           credentials, AWS_ACCESS_KEY_ID and AWS_SECRET_ACCESS_KEY (Secret genesis-landing-bucket in \
                           the cluster), and that the endpoint answers; the bundles directory is listed meanwhile";

/// `GET /bundles`, `GET /bundles/{file}` and `GET /bundles/landing/{file}`, with the upload
/// routes beside them.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/bundles", get(list))
        .route("/bundles/{file}", get(bundle_in_directory))
        .route("/bundles/landing/{file}", get(bundle_in_landing_bucket))
        .merge(crate::upload::routes())
}

/// Where a bundle waits: the pages, the cache of verdicts and the install tell the two apart,
/// and treat them alike otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
pub(crate) enum Source {
    /// `--bundles-dir`.
    Directory,
    /// `--landing-bucket`.
    Landing,
}

impl Source {
    /// What the pages call it.
    pub(crate) fn label(self) -> &'static str {
        match self {
            Source::Directory => "bundles directory",
            Source::Landing => "landing bucket",
        }
    }

    /// The word pages and tests read (`data-source`).
    pub(crate) fn word(self) -> &'static str {
        match self {
            Source::Directory => "directory",
            Source::Landing => "landing",
        }
    }

    /// The page of its bundle `file`: `/bundles/FILE`, or `/bundles/landing/FILE`. An archive's
    /// name never is `landing`, so the two never meet.
    pub(crate) fn page(self, file: &str) -> String {
        match self {
            Source::Directory => format!("/bundles/{}", segment(file)),
            Source::Landing => format!("/bundles/landing/{}", segment(file)),
        }
    }

    /// Its bundle `file` in a sentence: the directory's by its name alone, as ever.
    pub(crate) fn named(self, file: &str) -> String {
        match self {
            Source::Directory => file.to_owned(),
            Source::Landing => format!("{file} of the landing bucket"),
        }
    }
}

/// Whether `name` is a file name the bundles directory may hold, or an object name of the
/// landing bucket's folder the console takes: one path segment of letters, digits and `._+-`,
/// not hidden (`.uploads` is the console's own), at most [`MAX_NAME`] bytes. So `../x`, `a/b`,
/// a NUL or a name the shell would read otherwise never reach the file system, a URL or a
/// page unescaped.
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

/// The archive a listed name stands for: itself when it is an archive's, the archive of a
/// parts manifest `NAME.tar.zst.parts.json`; else none.
fn archive_named_by(name: &str) -> Option<&str> {
    if is_archive_name(name) {
        return Some(name);
    }
    name.strip_suffix(PARTS_MANIFEST_SUFFIX).filter(|archive| is_archive_name(archive))
}

/// Whether verifying the bundle `archive` reads the file or object `name` beside it: the
/// archive, its sidecars, its parts manifest and that manifest's sidecars, its parts
/// (`NAME.tar.zst.part-NNN`).
fn read_for(archive: &str, name: &str) -> bool {
    let Some(rest) = name.strip_prefix(archive) else { return false };
    let manifest = format!("{archive}{PARTS_MANIFEST_SUFFIX}");
    let sidecar = |of: &str| sidecars_of(Path::new(of)).iter().any(|p| p.to_str() == Some(name));
    rest.is_empty()
        || rest == PARTS_MANIFEST_SUFFIX
        || rest.strip_prefix(".part-").is_some_and(|n| !n.is_empty() && n.bytes().all(|b| b.is_ascii_digit()))
        || sidecar(archive)
        || sidecar(&manifest)
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

/// The bundles of `--bundles-dir` and `--landing-bucket`, and where the verification of each
/// stands.
pub struct Catalog {
    places: Places,
    /// The landing bucket's store for its listings, opened at the first.
    landing_store: tokio::sync::OnceCell<ObjectStorage>,
    shelf: Arc<Mutex<Shelf>>,
    uploads: Uploads,
}

/// Where the catalog's bundles lie, to open one of them again on any thread.
#[derive(Debug, Clone)]
pub(crate) struct Places {
    dir: PathBuf,
    landing: Option<ObjectStoreConfig>,
}

/// A bundle of the catalog by where it lies and its archive's name: what verifications and
/// installs open.
#[derive(Debug, Clone)]
pub(crate) struct Located {
    places: Places,
    /// Where it waits.
    pub(crate) source: Source,
    /// Its archive's name.
    pub(crate) file: String,
}

impl Located {
    /// Opens the bundle as the readers take it: the directory's archive (or its parts) as a
    /// file, the landing bucket's object (or its parts) in place, read by ranged GETs, each
    /// pinned to the version (ETag) found now, its sidecars read from the same folder. Nothing
    /// is copied anywhere. Blocks: call it on a blocking thread.
    pub(crate) fn open(&self) -> Result<ArchiveFile, BundleError> {
        match (self.source, &self.places.landing) {
            (Source::Directory, _) => ArchiveFile::open(&self.places.dir.join(&self.file)),
            (Source::Landing, Some(config)) => {
                let folder = BucketFolder::open(config).map_err(|e| {
                    BundleError::io("opening", self.shown())(std::io::Error::other(genesis_types::error_chain(&e)))
                })?;
                ArchiveFile::open_remote(Arc::new(folder), &self.file)
            }
            (Source::Landing, None) => Err(BundleError::io("opening", self.shown())(std::io::Error::other(
                "the console has no landing bucket (--landing-bucket)",
            ))),
        }
    }

    /// Where it is, for the log: a path, or `s3://BUCKET/PREFIX/NAME`.
    pub(crate) fn shown(&self) -> String {
        match (self.source, &self.places.landing) {
            (Source::Landing, Some(config)) => format!("{}/{}", config.url.trim_end_matches('/'), self.file),
            _ => self.places.dir.join(&self.file).display().to_string(),
        }
    }
}

/// What the catalog knows, and the verifications waiting to run.
#[derive(Default)]
struct Shelf {
    /// By where the bundle waits and its archive's name.
    entries: BTreeMap<(Source, String), Entry>,
    queue: VecDeque<Job>,
    /// Whether a task is working through `queue`.
    working: bool,
}

struct Entry {
    key: Key,
    verdict: Verdict,
}

/// What a verification's verdict holds for: the files or objects it read and the trust it
/// used.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Key {
    /// The stamp of each file or object of the bundle that is there, by name.
    files: Vec<Stamp>,
    trust: String,
}

/// A file as a directory listing sees it, or an object as a bucket listing does.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Stamp {
    name: String,
    size: u64,
    version: Version,
}

/// Which content a name holds, as far as a listing tells.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Version {
    /// A file's modification time, in nanoseconds since the Unix epoch.
    Modified(u128),
    /// An object's ETag (none when the store gives none: its size alone then tells).
    ETag(Option<String>),
}

/// One bundle as a listing found it.
#[derive(Debug)]
struct Found {
    /// Its archive's name.
    file: String,
    /// The archive's size, or its parts' together.
    size: u64,
    /// What verifying it reads that is there ([`read_for`]), by name.
    stamps: Vec<Stamp>,
}

/// A verification to run.
struct Job {
    bundle: Located,
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

/// One bundle of the directory or the landing bucket.
#[derive(Clone)]
pub(crate) struct Row {
    /// Where it waits.
    pub(crate) source: Source,
    /// Its archive's name.
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

/// What a look at the catalog found.
pub(crate) struct Refreshed {
    /// Each bundle with where it stands: the directory's, then the landing bucket's, each
    /// sorted by name.
    pub(crate) rows: Vec<Row>,
    /// Why the landing bucket could not be listed, when it could not: its bundles are left
    /// out this time, their verdicts kept.
    pub(crate) landing_problem: Option<String>,
}

impl Catalog {
    /// The catalog of `dir` (`--bundles-dir`) and of the landing bucket `landing`, empty
    /// until a page asks: nothing is read, listed or verified before then.
    pub fn new(dir: &Path, landing: Option<ObjectStoreConfig>) -> Catalog {
        Catalog {
            places: Places { dir: dir.to_owned(), landing },
            landing_store: tokio::sync::OnceCell::new(),
            shelf: Arc::default(),
            uploads: Uploads::new(dir),
        }
    }

    /// The bundles directory.
    pub(crate) fn dir(&self) -> &Path {
        &self.places.dir
    }

    /// The landing bucket, `s3://BUCKET[/PREFIX]`, when there is one.
    pub(crate) fn landing_url(&self) -> Option<&str> {
        self.places.landing.as_ref().map(|config| config.url.as_str())
    }

    /// The bundle `file` of `source`, to open.
    pub(crate) fn locate(&self, source: Source, file: &str) -> Located {
        Located { places: self.places.clone(), source, file: file.to_owned() }
    }

    /// The partial uploads into the directory.
    pub(crate) fn uploads(&self) -> &Uploads {
        &self.uploads
    }

    /// Lists the directory and the landing bucket and returns each bundle with where it
    /// stands; a bundle new or changed since its last verification (what it reads, or
    /// `trust`) is queued for one, which starts in the background if none is running. Uploads
    /// abandoned for a day are removed on the way. A landing bucket that cannot be listed is
    /// said in [`Refreshed::landing_problem`], not an error: the directory's bundles are
    /// still there.
    pub(crate) async fn refresh(&self, trust: &TrustConfig) -> Result<Refreshed, PageError> {
        self.uploads.sweep().await;
        let dir = self.places.dir.clone();
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
                format!("the console cannot read the bundles directory {}: {e}", self.places.dir.display()),
                "check that the volume behind --bundles-dir is mounted and readable by the console",
            )
        })?;
        let mut listings = vec![(Source::Directory, listed)];
        let mut landing_problem = None;
        match self.list_landing().await {
            None => {}
            Some(Ok(found)) => listings.push((Source::Landing, found)),
            Some(Err(why)) => {
                let bucket = self.landing_url().unwrap_or_default();
                tracing::warn!(bucket, reason = %why, "the landing bucket cannot be listed");
                landing_problem = Some(why);
            }
        }
        Ok(Refreshed { rows: self.shelve(listings, trust), landing_problem })
    }

    /// The landing bucket's bundles, `None` without a landing bucket; why not, when it cannot
    /// be listed (within [`LANDING_PATIENCE`]).
    async fn list_landing(&self) -> Option<Result<Vec<Found>, String>> {
        let config = self.places.landing.as_ref()?;
        let listing = async {
            let storage = self.landing_store.get_or_try_init(|| config.open()).await?;
            storage.list_versions("").await
        };
        let listed = match tokio::time::timeout(LANDING_PATIENCE, listing).await {
            Ok(Ok(objects)) => objects,
            Ok(Err(e)) => return Some(Err(genesis_types::error_chain(&e))),
            Err(_) => {
                return Some(Err(format!("listing {} took longer than {} s", config.url, LANDING_PATIENCE.as_secs())));
            }
        };
        // Keys in sub-folders (`NAME.countersig/…`) are no plain name, and left out.
        let stamps = listed
            .into_iter()
            .map(|(name, version)| Stamp { name, size: version.size, version: Version::ETag(version.e_tag) })
            .collect();
        Some(Ok(bundles_among(stamps)))
    }

    /// Records what `listings` found, each source's bundles in order: one that kept its key
    /// keeps its verdict, any other is queued for verification with `trust` (or is untrusted
    /// without one). What a listed source no longer holds is forgotten; what a source that
    /// could not be listed held is kept for its next listing.
    fn shelve(&self, listings: Vec<(Source, Vec<Found>)>, trust: &TrustConfig) -> Vec<Row> {
        let trust_hash = trust.hash();
        let mut shelf = self.shelf.lock().unwrap_or_else(PoisonError::into_inner);
        shelf.entries.retain(|(source, file), _| match listings.iter().find(|(listed, _)| listed == source) {
            Some((_, found)) => found.iter().any(|bundle| bundle.file == *file),
            None => true,
        });
        let mut rows = Vec::new();
        for (source, found) in listings {
            for Found { file, size, stamps } in found {
                let key = Key { files: stamps, trust: trust_hash.clone() };
                let at = (source, file.clone());
                let current =
                    shelf.entries.get(&at).filter(|entry| entry.key == key).map(|entry| entry.verdict.clone());
                let verdict = match (current, trust) {
                    (Some(verdict), _) => verdict,
                    (None, TrustConfig::Untrusted(why)) => Verdict::Untrusted(why.clone()),
                    (None, TrustConfig::Trusted(trust)) => {
                        let bundle = self.locate(source, &file);
                        shelf.queue.push_back(Job { bundle, key: key.clone(), trust: (**trust).clone() });
                        Verdict::Verifying
                    }
                };
                shelf.entries.insert(at, Entry { key, verdict: verdict.clone() });
                rows.push(Row { source, file, size, verdict });
            }
        }
        if !shelf.working && !shelf.queue.is_empty() {
            shelf.working = true;
            tokio::spawn(verify_queued(Arc::clone(&self.shelf)));
        }
        rows
    }
}

/// The bundles of `dir`: its regular files of a plain name ([`bundles_among`]). A directory
/// not there yet is empty: the first upload makes it.
fn list_dir(dir: &Path) -> std::io::Result<Vec<Found>> {
    let entries = match std::fs::read_dir(dir) {
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Vec::new()),
        entries => entries?,
    };
    let mut stamps = Vec::new();
    for entry in entries {
        let Ok(name) = entry?.file_name().into_string() else { continue };
        if plain_name(&name) {
            stamps.extend(stamp(&dir.join(&name))?);
        }
    }
    Ok(bundles_among(stamps))
}

/// The bundles among the files or objects `stamps` of one folder, whatever their order, as
/// both sources list them: one per archive `NAME.tar.zst` and per parts manifest
/// `NAME.tar.zst.parts.json` (once when both are there: the archive is read then), sorted by
/// the archive's name, each with the stamps of what verifying it reads ([`read_for`]). Names
/// that are not [`plain_name`]s are left out, so none reaches a path or URL.
fn bundles_among(stamps: Vec<Stamp>) -> Vec<Found> {
    let by_name: BTreeMap<String, Stamp> =
        stamps.into_iter().filter(|s| plain_name(&s.name)).map(|s| (s.name.clone(), s)).collect();
    let archives: BTreeSet<&str> = by_name.keys().filter_map(|name| archive_named_by(name)).collect();
    archives
        .into_iter()
        .map(|archive| {
            // Every name that starts with the archive's follows it, in order.
            let stamps: Vec<Stamp> = by_name
                .range(archive.to_owned()..)
                .take_while(|(name, _)| name.starts_with(archive))
                .filter(|(name, _)| read_for(archive, name))
                .map(|(_, stamp)| stamp.clone())
                .collect();
            let size = match by_name.get(archive) {
                Some(whole) => whole.size,
                None => stamps
                    .iter()
                    .filter(|s| s.name.len() > archive.len() && s.name[archive.len()..].starts_with(".part-"))
                    .map(|s| s.size)
                    .sum(),
            };
            Found { file: archive.to_owned(), size, stamps }
        })
        .collect()
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
    Ok(Some(Stamp { name: file_name(path), size: meta.len(), version: Version::Modified(modified) }))
}

/// Works through the queue, one verification at a time on a blocking thread, recording each
/// verdict unless the bundle changed meanwhile (its entry's key moved on); stops when the
/// queue is empty.
async fn verify_queued(shelf: Arc<Mutex<Shelf>>) {
    loop {
        let job = {
            let mut held = shelf.lock().unwrap_or_else(PoisonError::into_inner);
            loop {
                match held.queue.pop_front() {
                    None => {
                        held.working = false;
                        return;
                    }
                    Some(job)
                        if held
                            .entries
                            .get(&(job.bundle.source, job.bundle.file.clone()))
                            .is_some_and(|entry| entry.key == job.key) =>
                    {
                        break job;
                    }
                    Some(_) => {}
                }
            }
        };
        let Job { bundle, key, trust } = job;
        let at = (bundle.source, bundle.file.clone());
        tracing::info!(bundle = %bundle.shown(), "verifying");
        let verdict = tokio::task::spawn_blocking(move || verify(&bundle, &trust)).await;
        let mut held = shelf.lock().unwrap_or_else(PoisonError::into_inner);
        match verdict {
            Ok(verdict) => {
                if let Some(entry) = held.entries.get_mut(&at)
                    && entry.key == key
                {
                    entry.verdict = verdict;
                }
            }
            // Forgotten, so that the next page verifies it again.
            Err(e) => {
                tracing::error!(file = %at.1, source = at.0.word(), error = %e, "a verification stopped unexpectedly");
                held.entries.remove(&at);
            }
        }
    }
}

/// Verifies `bundle` in full with `trust`: what the loader's `verify` checks, reading it where
/// it lies.
fn verify(bundle: &Located, trust: &Trust) -> Verdict {
    let checked = bundle
        .open()
        .map_err(TrustError::from)
        .and_then(|file| UnverifiedBundle::open_file(file, &Limits::default()))
        .and_then(|unverified| unverified.verify(&trust.policy))
        .and_then(VerifiedBundle::check);
    match checked {
        Ok(checked) => {
            tracing::info!(bundle = %bundle.shown(), "verified");
            Verdict::Verified(Arc::new(Facts::of(&checked, &trust.given)))
        }
        Err(e) => {
            let reason = genesis_types::error_chain(&e);
            tracing::warn!(bundle = %bundle.shown(), %reason, "refused");
            Verdict::Refused(reason)
        }
    }
}

/// `GET /bundles` (`list bundles`): the table `#bundles`, a row per bundle
/// (`tr[data-bundle=FILE][data-state=…][data-source=directory|landing]`), `#landing-notice`
/// when the landing bucket cannot be listed, and the upload form.
async fn list(State(state): State<Shared>, signed: Signed) -> Result<Response, PageError> {
    signed.authorize(&state, &console_access(&state, "list", "bundles")).await?;
    let trust = read_trust(&state).await?;
    let Refreshed { rows, landing_problem } = state.bundles.refresh(&trust).await?;
    let verifying = rows.iter().any(|row| matches!(row.verdict, Verdict::Verifying));
    let dir = state.bundles.dir().display().to_string();
    let landing = state.bundles.landing_url();
    let body = html! {
        // Without JavaScript the page looks again while a bundle verifies; with it, the
        // upload script does, unless an upload is under way.
        @if verifying {
            noscript { meta http-equiv="refresh" content="5"; }
        }
        h1 { "Bundles" }
        p.muted {
            "The bundles in " code { (dir) }
            @if let Some(landing) = landing {
                " and in the landing bucket " code { (landing) } " (read there, never copied)"
            }
            ", each verified in full with the trust of ConfigMap "
            code { (state.config.namespace) "/" (TRUST_CONFIG) } " before it can be installed."
        }
        @if let TrustConfig::Untrusted(why) = &trust {
            div.notice #trust-notice { p { (why) } }
        }
        @if let Some(why) = &landing_problem {
            div.notice #landing-notice {
                p { "The landing bucket cannot be listed, so its bundles are not shown: " (why) }
                p { "What to do: " (LANDING_FIX) "." }
            }
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
                " with its sidecars into the volume"
                @if landing.is_some() { " or the landing bucket" }
                "."
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
            tr data-bundle=(row.file) data-state=(row.verdict.word()) data-source=(row.source.word()) {
                th scope="row" { a href=(row.source.page(&row.file)) { code { (row.file) } } }
                td { (row.source.label()) }
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
        Text("From"),
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

/// `GET /bundles/{file}` (`list bundles`): [`bundle`] of the bundles directory.
async fn bundle_in_directory(
    State(state): State<Shared>,
    signed: Signed,
    UrlPath(file): UrlPath<String>,
) -> Result<Response, PageError> {
    bundle(&state, &signed, Source::Directory, &file).await
}

/// `GET /bundles/landing/{file}` (`list bundles`): [`bundle`] of the landing bucket.
async fn bundle_in_landing_bucket(
    State(state): State<Shared>,
    signed: Signed,
    UrlPath(file): UrlPath<String>,
) -> Result<Response, PageError> {
    bundle(&state, &signed, Source::Landing, &file).await
}

/// The page of the bundle `file` of `source`: what verifying it established and, once it
/// verified, the install form ([`crate::install::install_section`]).
async fn bundle(state: &AppState, signed: &Signed, source: Source, file: &str) -> Result<Response, PageError> {
    signed.authorize(state, &console_access(state, "list", "bundles")).await?;
    let row = find(state, source, file).await?;
    let verdict_line = html! {
        p { "State: " span #bundle-state class=(row.verdict.badge()) { (row.verdict.word()) } }
    };
    let body = match &row.verdict {
        Verdict::Verified(facts) => {
            let install = crate::install::install_section(state, signed, &row, facts).await?;
            html! {
                h1 { (facts.name) " " (facts.version) }
                (verdict_line)
                (facts_list(state, &row, facts))
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
    Ok(page(signed, Tab::Bundles, &row.file, StatusCode::OK, body))
}

/// The bundle `file` of `source` as it stands now, its verification queued when needed. A
/// landing bucket that cannot be listed now is a 503 saying why, not a bundle missing.
pub(crate) async fn find(state: &AppState, source: Source, file: &str) -> Result<Row, PageError> {
    let missing = || {
        PageError::not_found(format!(
            "there is no bundle {file} in the {}: the Bundles tab lists those there are",
            source.label()
        ))
    };
    if !is_archive_name(file) {
        return Err(missing());
    }
    let trust = read_trust(state).await?;
    let Refreshed { rows, landing_problem } = state.bundles.refresh(&trust).await?;
    if let (Source::Landing, Some(why)) = (source, landing_problem) {
        return Err(PageError::new(
            StatusCode::SERVICE_UNAVAILABLE,
            format!("the landing bucket cannot be listed now: {why}"),
            LANDING_FIX,
        ));
    }
    rows.into_iter().find(|row| row.source == source && row.file == file).ok_or_else(missing)
}

/// What verifying established, as a description list.
fn facts_list(state: &AppState, row: &Row, facts: &Facts) -> Markup {
    let from = match (row.source, state.bundles.landing_url()) {
        (Source::Landing, Some(url)) => format!("the landing bucket {url}, read there by ranged GETs"),
        _ => format!("the bundles directory {}", state.bundles.dir().display()),
    };
    html! {
        dl.facts #bundle-facts {
            dt { "Archive" } dd { code { (row.file) } ", " (human_size(row.size)) }
            dt { "From" } dd #bundle-source data-source=(row.source.word()) { (from) }
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

    /// Each bundle found, with the names of what its key stamps.
    fn names(found: &[Found]) -> Vec<(&str, Vec<&str>)> {
        found.iter().map(|f| (f.file.as_str(), f.stamps.iter().map(|s| s.name.as_str()).collect())).collect()
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
        assert_eq!(
            names(&listed),
            [("a.tar.zst", vec!["a.tar.zst", "a.tar.zst.sig"]), ("b.tar.zst", vec!["b.tar.zst"])]
        );
        assert_eq!((listed[0].size, listed[0].stamps[0].size), (9, 9));
        assert!(matches!(listed[0].stamps[0].version, Version::Modified(_)));
        assert!(list_dir(&dir.path().join("absent")).unwrap().is_empty(), "a directory not there yet is empty");
    }

    fn object(name: &str, size: u64, e_tag: &str) -> Stamp {
        Stamp { name: name.to_owned(), size, version: Version::ETag(Some(e_tag.to_owned())) }
    }

    #[test]
    fn a_bucket_s_bundles_are_its_archives_and_manifests_once_each_with_what_verifying_reads() {
        let listed = bundles_among(vec![
            // A split bundle: its manifest, its parts, the sidecars of both.
            object("split.tar.zst.parts.json", 700, "m"),
            object("split.tar.zst.part-001", 10, "p1"),
            object("split.tar.zst.part-000", 20, "p0"),
            object("split.tar.zst.sig", 1, "s"),
            object("split.tar.zst.parts.json.sig", 1, "ms"),
            object("split.tar.zst.parts.json.cosign.bundle", 1, "mc"),
            // An archive beside its own manifest: one bundle, the archive read.
            object("both.tar.zst", 30, "a"),
            object("both.tar.zst.parts.json", 700, "m2"),
            object("both.tar.zst.sha256", 1, "h"),
            // Another bundle whose name starts with the first's, and what is no bundle's.
            object("both.tar.zst.tar.zst", 5, "x"),
            object("both.tar.zst.notes", 1, "n"),
            object("split.tar.zst.part-x", 1, "px"),
            object("sub/inner.tar.zst", 9, "i"),
            object("../up.tar.zst", 9, "u"),
            object("a b.tar.zst", 9, "sp"),
            object(".hidden.tar.zst.parts.json", 9, "hd"),
            object("lonely.tar.zst.sig", 1, "l"),
        ]);
        assert_eq!(
            names(&listed),
            [
                ("both.tar.zst", vec!["both.tar.zst", "both.tar.zst.parts.json", "both.tar.zst.sha256"]),
                ("both.tar.zst.tar.zst", vec!["both.tar.zst.tar.zst"]),
                (
                    "split.tar.zst",
                    vec![
                        "split.tar.zst.part-000",
                        "split.tar.zst.part-001",
                        "split.tar.zst.parts.json",
                        "split.tar.zst.parts.json.cosign.bundle",
                        "split.tar.zst.parts.json.sig",
                        "split.tar.zst.sig",
                    ]
                ),
            ]
        );
        let sizes: Vec<u64> = listed.iter().map(|f| f.size).collect();
        assert_eq!(sizes, [30, 5, 30], "the archive's size, or its parts' together");
        // A replaced object changes the key: verified again.
        let again = bundles_among(vec![object("both.tar.zst", 30, "b")]);
        assert_ne!(again[0].stamps, bundles_among(vec![object("both.tar.zst", 30, "a")])[0].stamps);
    }

    #[test]
    fn a_bundle_s_page_is_its_source_s() {
        assert_eq!(Source::Directory.page("demo-0.1.0.tar.zst"), "/bundles/demo-0.1.0.tar.zst");
        assert_eq!(Source::Landing.page("demo_1+b.tar.zst"), "/bundles/landing/demo_1+b.tar.zst");
        assert!(!is_archive_name("landing"), "no archive's page is the landing bucket's folder");
        assert_eq!(Source::Landing.named("a.tar.zst"), "a.tar.zst of the landing bucket");
        assert!(Source::Directory < Source::Landing, "the directory's bundles are listed first");
    }
}
