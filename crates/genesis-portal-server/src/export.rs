//! Seed 003's bootstrap pack: a release's bundles, verified again with the key they were
//! published under, unpacked into `charts/`, `images/` (one OCI image layout with every
//! bundle's images) and `signatures/` (the release's sidecars and provenance), plus
//! `pack.json` naming each bundle by digest. Byte-stable: entries sorted by path, the
//! canonical tar headers of the bundle format (0644/0755, uid/gid 0, mtime
//! `SOURCE_DATE_EPOCH`), gzip with the same mtime, fixed level, no file name.

use std::collections::BTreeMap;
use std::convert::Infallible;
use std::fs::{File, TryLockError};
use std::io::{ErrorKind, Read, Write};
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use flate2::{Compression, GzBuilder};
use genesis_bundle::digest_io::DigestAdapter;
use genesis_bundle::{BLOCK, END_OF_ARCHIVE, dir_header, file_header, padding};
use genesis_portal_client::protocol::{ArtifactKind, BOOTSTRAP_PROFILE, ExportState};
use genesis_trust::{PublicKey, SignedBom as _, TrustPolicy, UnverifiedBundle};
use genesis_types::Digest;

use crate::api::AppState;
use crate::artifacts::Artifacts;
use crate::error::{PortalServerError, Result};
use crate::now;
use crate::store::{Export, Release, Store, StoredArtifact};

/// Why an export whose build stopped failed.
const STOPPED_MID_BUILD: &str = "the portal stopped during the build; stage a new export";

/// How often a running build records that it is alive.
const HEARTBEAT: Duration = Duration::from_secs(30);

/// Seconds a pending export's build may go without saying it is alive before any portal on
/// the database fails it: four heartbeats missed.
const SILENT_LIMIT: i64 = 120;

/// What a finished pack is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pack {
    /// SHA-256 over the `sha256sum` lines of every file, sorted by path.
    pub root_hash: Digest,
    /// SHA-256 of the `.tar.gz`.
    pub sha256: Digest,
    /// Its size.
    pub size: u64,
}

/// An organisation and a release: what at most one running build is for.
type BuildKey = (String, String, String);

/// The export builds running in this process: at most one per organisation and release, at
/// most a fixed number per organisation and a fixed number in all, since each re-verifies and
/// unpacks every bundle of its release into scratch space. Kept in memory because a build
/// runs in the process that started it: portals sharing a database each have these limits.
pub struct Builds {
    per_org: usize,
    total: usize,
    running: Mutex<BTreeMap<BuildKey, Export>>,
}

/// The answer to a request for a new build.
pub enum Admission {
    /// Start it: the slot frees itself when dropped, however the build ends.
    Started(Slot),
    /// The organisation's export of that release is being built: this one.
    Running(Export),
    /// The organisation has as many builds running as it may.
    OrgFull,
    /// The portal has as many builds running as it may, across organisations.
    PortalFull,
}

/// A running build's place in [`Builds`].
pub struct Slot {
    builds: Arc<Builds>,
    key: BuildKey,
}

impl Drop for Slot {
    fn drop(&mut self) {
        self.builds.lock().remove(&self.key);
    }
}

impl Builds {
    /// At most `per_org` builds at once per organisation, and `total` in all.
    pub fn new(per_org: usize, total: usize) -> Builds {
        Builds { per_org, total, running: Mutex::new(BTreeMap::new()) }
    }

    fn lock(&self) -> MutexGuard<'_, BTreeMap<BuildKey, Export>> {
        // Every critical section is one map operation: a panic cannot leave it half-done.
        self.running.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Admits a build of `export` (a new, pending export), unless its organisation is
    /// building that release already, or it or the portal is at its limit.
    pub fn admit(self: &Arc<Self>, export: &Export) -> Admission {
        let mut running = self.lock();
        let key = (export.org.clone(), export.product.clone(), export.version.clone());
        if let Some(building) = running.get(&key) {
            return Admission::Running(building.clone());
        }
        if running.keys().filter(|(org, _, _)| *org == export.org).count() >= self.per_org {
            return Admission::OrgFull;
        }
        if running.len() >= self.total {
            return Admission::PortalFull;
        }
        running.insert(key.clone(), export.clone());
        Admission::Started(Slot { builds: Arc::clone(self), key })
    }

    /// How many builds an organisation may run at once.
    pub fn limit(&self) -> usize {
        self.per_org
    }

    /// How many builds the portal may run at once, across organisations.
    pub fn total(&self) -> usize {
        self.total
    }

    /// How many more builds `org` may start now: within its own limit and the portal's.
    pub fn remaining(&self, org: &str) -> usize {
        let running = self.lock();
        let org_left = self.per_org.saturating_sub(running.keys().filter(|(o, _, _)| o == org).count());
        org_left.min(self.total.saturating_sub(running.len()))
    }

    /// `org`'s export `id` while it is being built (it may not be recorded yet).
    pub fn running(&self, org: &str, id: &str) -> Option<Export> {
        self.lock().values().find(|e| e.org == org && e.id == id).cloned()
    }
}

/// Builds an export in the background, holding its slot, and records the outcome; the
/// status endpoint shows it. A failure is recorded as what failed, in the portal's terms
/// ([`PortalServerError::export_failure`]), since the customer reads it; the server log has
/// the whole chain, paths and all. The scratch space is gone before the outcome is recorded.
/// While it runs, the build records every [`HEARTBEAT`] that it is alive.
pub async fn build(state: Arc<AppState>, mut export: Export, release: Release, slot: Slot) {
    let started = std::time::Instant::now();
    let built = tokio::select! {
        built = build_and_store(&state, &export, &release) => built,
        never = heartbeat(&state.store, &export.id) => match never {},
    };
    // Free the slot first: once the outcome is visible, a new export of the release may start.
    drop(slot);
    match built {
        Ok(pack) => {
            export.status = ExportState::Ready;
            export.root_hash = Some(pack.root_hash.clone());
            export.sha256 = Some(pack.sha256.clone());
            export.size = Some(pack.size);
            let elapsed = started.elapsed().as_millis() as u64;
            state.metrics.exports_completed.inc();
            state.metrics.export_duration_ms.observe(elapsed as f64);
            tracing::info!(exportId = %export.id, profile = BOOTSTRAP_PROFILE, rootHash = %pack.root_hash.hex(),
                artifactSha256 = %pack.sha256.hex(), durationMs = elapsed, "export ready");
        }
        Err(e) => {
            state.metrics.exports_failed.inc();
            tracing::error!(exportId = %export.id, profile = BOOTSTRAP_PROFILE, error = %genesis_types::error_chain(&e), "export failed");
            export.status = ExportState::Failed;
            export.error = Some(e.export_failure());
        }
    }
    export.finished = Some(now());
    if let Err(e) = state.store.finish_export(&export).await {
        tracing::error!(exportId = %export.id, error = %genesis_types::error_chain(&e), "recording the export's outcome");
    }
}

/// Records that export `id`'s build is alive every [`HEARTBEAT`], for as long as it is
/// polled. Portals sharing the database fail a pending export whose build fell silent for
/// [`SILENT_LIMIT`]; a failure to record is logged, and the next beat tries again.
async fn heartbeat(store: &Store, id: &str) -> Infallible {
    // The export was recorded alive as of its creation.
    let mut beats = tokio::time::interval_at(tokio::time::Instant::now() + HEARTBEAT, HEARTBEAT);
    loop {
        beats.tick().await;
        if let Err(e) = store.beat_export(id, now()).await {
            tracing::warn!(exportId = %id, error = %genesis_types::error_chain(&e), "recording that the export's build is alive");
        }
    }
}

/// Builds the pack in a scratch directory of its own and stores it. The scratch directory is
/// removed however the build ends, on a blocking thread: the unpacked bundles can be large.
async fn build_and_store(state: &AppState, export: &Export, release: &Release) -> Result<Pack> {
    let scratch = state.instance.scratch().to_owned();
    let work = blocking(move || {
        std::fs::create_dir_all(&scratch).map_err(PortalServerError::io("creating", &scratch))?;
        let work = tempfile::tempdir_in(&scratch)
            .map_err(PortalServerError::io("creating the export's scratch directory in", &scratch))?;
        let inputs = work.path().join("in");
        std::fs::create_dir(&inputs).map_err(PortalServerError::io("creating", &inputs))?;
        Ok(work)
    })
    .await?;
    let built = pack_and_store(state, export, release, work.path()).await;
    // Whatever the build's outcome, a failure to clean up is the portal's to log, not the
    // export's (the next portal to start after this one stops empties its scratch directory).
    let id = export.id.clone();
    let removed = tokio::task::spawn_blocking(move || work.close()).await.map_err(std::io::Error::other);
    if let Err(e) = removed.and_then(|closed| closed) {
        tracing::warn!(exportId = %id, error = %e, "removing the export's scratch directory");
    }
    built
}

/// Gathers a release's artifacts into `work/in`, writes the pack beside and stores it.
async fn pack_and_store(state: &AppState, export: &Export, release: &Release, work: &Path) -> Result<Pack> {
    let inputs = work.join("in");
    let artifacts = state.store.artifacts(&release.product, &release.version).await?;
    // The bundles and their sidecars side by side, as the verifier expects them.
    for a in &artifacts {
        let key = Artifacts::release_key(&release.product, &release.version, &a.name);
        let local = state.artifacts.local_copy(&key, &inputs).await?;
        let target = inputs.join(&a.name);
        if local != target {
            // A copy when the store is on another file system: a whole bundle.
            blocking(move || link_or_copy(&local, &target).map_err(PortalServerError::io("copying into", &target)))
                .await?;
        }
    }
    let key = PublicKey::from_pem(&release.signer_pem, Path::new("the release's signer key"))?;
    let out = work.join("pack.tar.gz");
    let meta =
        PackMeta { product: release.product.clone(), version: release.version.clone(), epoch: state.source_date_epoch };
    let out_for_pack = out.clone();
    let pack = blocking(move || write_pack(&inputs, &artifacts, &key, &meta, &out_for_pack)).await?;
    state.artifacts.put_file(&Artifacts::export_key(&export.org, &export.id), &out).await?;
    Ok(pack)
}

/// Runs file-system work on the blocking pool, off the threads that serve requests; a panic
/// there fails the build.
async fn blocking<T: Send + 'static>(work: impl FnOnce() -> Result<T> + Send + 'static) -> Result<T> {
    tokio::task::spawn_blocking(work)
        .await
        .map_err(|source| PortalServerError::Panicked { action: "running a build step", source })?
}

/// At start and then every `min(retention, 1 min)`: fails the pending exports whose build
/// fell silent (its portal stopped, on this host or another), and deletes the packs of exports
/// finished more than the retention time ago (their status then answers 410).
pub async fn sweep(state: Arc<AppState>) {
    let every = Duration::from_secs(u64::try_from(state.export_ttl_secs).unwrap_or(60).clamp(1, 60));
    let mut ticks = tokio::time::interval(every);
    loop {
        ticks.tick().await;
        if let Err(e) = fail_silent(&state.store).await {
            tracing::error!(error = %genesis_types::error_chain(&e), "failing exports whose build fell silent");
        }
        if let Err(e) = expire(&state).await {
            tracing::error!(error = %genesis_types::error_chain(&e), "expiring exports");
        }
    }
}

/// Fails the pending exports whose build has not said it is alive for [`SILENT_LIMIT`].
async fn fail_silent(store: &Store) -> Result<()> {
    let failed = store.fail_silent_exports(now() - SILENT_LIMIT, now(), STOPPED_MID_BUILD).await?;
    if failed > 0 {
        tracing::warn!(exports = failed, "exports whose build fell silent are failed: their portal stopped");
    }
    Ok(())
}

/// One sweep. An export that cannot be expired is logged and left for the next sweep: it
/// holds up none of the others.
async fn expire(state: &AppState) -> Result<()> {
    for (org, id) in state.store.exports_finished_by(now() - state.export_ttl_secs).await? {
        if let Err(e) = expire_one(state, &org, &id).await {
            tracing::error!(exportId = %id, org = %org, error = %genesis_types::error_chain(&e),
                "expiring an export failed; the next sweep tries again");
        }
    }
    Ok(())
}

async fn expire_one(state: &AppState, org: &str, id: &str) -> Result<()> {
    // A failed build may have stored its pack before failing: delete whatever is there.
    state.artifacts.delete(&Artifacts::export_key(org, id)).await?;
    state.store.expire_export(id, now()).await?;
    tracing::info!(exportId = %id, org = %org, "export expired: its pack is deleted");
    Ok(())
}

/// This portal process among the portals sharing a database or a data directory: its id,
/// which names it as the builder of its exports, and its scratch directory `ROOT/ID`, kept
/// while the process lives by an exclusive lock (`flock`) on `ROOT/ID.lock`. The kernel drops
/// the lock when the process ends, however it ends (on NFS, when its lease runs out): a lock
/// file no one holds was left by a portal that stopped, with its builds.
pub struct Instance {
    id: String,
    scratch: PathBuf,
    /// The lock file, open: the lock lasts as long as this descriptor.
    _lock: File,
}

/// How many names a starting portal tries: one clearing the scratch space at the same moment
/// may lock a new lock file before its owner does, and remove it.
const CLAIM_ATTEMPTS: usize = 4;

impl Instance {
    /// Starts this portal's instance under `root`, and cleans up after the portals that
    /// stopped: each one's pending exports are failed, then its scratch directory removed; and
    /// the exports whose build fell silent are failed.
    pub async fn start(store: &Store, root: PathBuf) -> Result<Instance> {
        let (instance, stopped) = blocking(move || {
            let instance = Instance::claim(&root)?;
            Ok((instance, LeftBehind::find(&root)?))
        })
        .await?;
        for left in stopped {
            // Failed first: a start cut short here finds the lock file again.
            if let Some(owner) = left.owner.as_deref() {
                let failed = store.fail_exports_of(owner, now(), STOPPED_MID_BUILD).await?;
                if failed > 0 {
                    tracing::warn!(
                        exports = failed,
                        portal = owner,
                        "exports left pending by a stopped portal are failed"
                    );
                }
            }
            blocking(move || left.remove()).await?;
        }
        fail_silent(store).await?;
        Ok(instance)
    }

    /// A new id, its lock file locked, and its scratch directory.
    fn claim(root: &Path) -> Result<Instance> {
        std::fs::create_dir_all(root).map_err(PortalServerError::io("creating", root))?;
        for _ in 0..CLAIM_ATTEMPTS {
            let id = format!("portal-{}", crate::random_hex(12));
            let lock_path = root.join(format!("{id}.lock"));
            let lock = File::options()
                .read(true)
                .write(true)
                .create_new(true)
                .open(&lock_path)
                .map_err(PortalServerError::io("creating", &lock_path))?;
            // Locked, and still at its name: no portal clearing the space took it first.
            if try_lock(&lock).map_err(PortalServerError::io("locking", &lock_path))? && is_at(&lock, &lock_path) {
                let scratch = root.join(&id);
                std::fs::create_dir(&scratch).map_err(PortalServerError::io("creating", &scratch))?;
                return Ok(Instance { id, scratch, _lock: lock });
            }
        }
        Err(PortalServerError::NoLockFile { root: root.to_owned() })
    }

    /// The id export rows name as their builder.
    pub fn id(&self) -> &str {
        &self.id
    }

    /// The scratch directory, for this instance's builds alone.
    pub fn scratch(&self) -> &Path {
        &self.scratch
    }
}

/// What a portal that stopped left in the scratch space: its lock file, held by the portal
/// cleaning up until it is removed, and its scratch directory; or a directory without a lock
/// file, a build's from before scratch directories were per portal.
struct LeftBehind {
    /// The id of the portal that stopped.
    owner: Option<String>,
    dir: PathBuf,
    lock: Option<(PathBuf, File)>,
}

impl LeftBehind {
    /// The lock files under `root` no one holds, with their directories, and the directories
    /// without a lock file. A portal creates its lock file before its directory, and one
    /// cleaning up removes the directory before the lock file: a directory without one is
    /// never a live portal's.
    fn find(root: &Path) -> Result<Vec<LeftBehind>> {
        let mut left = Vec::new();
        for entry in std::fs::read_dir(root).map_err(PortalServerError::io("reading", root))? {
            let entry = entry.map_err(PortalServerError::io("reading", root))?;
            let (name, path) = (entry.file_name(), entry.path());
            let kind = entry.file_type().map_err(PortalServerError::io("reading", &path))?;
            if kind.is_dir() {
                let mut lock_name = name;
                lock_name.push(".lock");
                if !root.join(lock_name).exists() {
                    left.push(LeftBehind { owner: None, dir: path, lock: None });
                }
                continue;
            }
            let Some(owner) = name.to_str().and_then(|name| name.strip_suffix(".lock")).filter(|_| kind.is_file())
            else {
                continue;
            };
            let lock = match File::options().read(true).write(true).open(&path) {
                Ok(lock) => lock,
                // Removed meanwhile by another portal cleaning up.
                Err(e) if e.kind() == ErrorKind::NotFound => continue,
                Err(e) => return Err(PortalServerError::io("opening", &path)(e)),
            };
            // Held: its portal runs. Moved: another portal cleaning up removed it first.
            if try_lock(&lock).map_err(PortalServerError::io("locking", &path))? && is_at(&lock, &path) {
                let dir = root.join(owner);
                left.push(LeftBehind { owner: Some(owner.to_owned()), dir, lock: Some((path, lock)) });
            }
        }
        Ok(left)
    }

    /// Removes the directory, then the lock file (held until then).
    fn remove(self) -> Result<()> {
        cleared(&self.dir, std::fs::remove_dir_all(&self.dir))?;
        if let Some((path, _held)) = &self.lock {
            cleared(path, std::fs::remove_file(path))?;
        }
        Ok(())
    }
}

/// The outcome of removing `path`: one already gone (another portal removed it) is fine.
fn cleared(path: &Path, removed: std::io::Result<()>) -> Result<()> {
    match removed {
        Err(e) if e.kind() == ErrorKind::NotFound => Ok(()),
        removed => removed.map_err(PortalServerError::io("clearing", path)),
    }
}

/// Takes `file`'s exclusive lock unless another descriptor holds it: whether it did.
fn try_lock(file: &File) -> std::io::Result<bool> {
    match file.try_lock() {
        Ok(()) => Ok(true),
        Err(TryLockError::WouldBlock) => Ok(false),
        Err(TryLockError::Error(e)) => Err(e),
    }
}

/// Whether `path` names the file `file` has open.
fn is_at(file: &File, path: &Path) -> bool {
    match (file.metadata(), std::fs::symlink_metadata(path)) {
        (Ok(open), Ok(named)) => (open.dev(), open.ino()) == (named.dev(), named.ino()),
        _ => false,
    }
}

/// Where a pack carries a release artifact, if it does: the sidecars (the release evidence
/// report among them, which the `.sha256` beside it lists), a split bundle's parts manifest
/// (which its signatures sign) and provenance under `signatures/` (bundles are carried
/// unpacked, their parts left out).
pub fn pack_path(kind: ArtifactKind, name: &str) -> Option<String> {
    matches!(
        kind,
        ArtifactKind::Sha256
            | ArtifactKind::PartsManifest
            | ArtifactKind::Signature
            | ArtifactKind::CosignBundle
            | ArtifactKind::Report
            | ArtifactKind::Provenance
    )
    .then(|| format!("signatures/{name}"))
}

fn link_or_copy(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::hard_link(from, to).or_else(|_| std::fs::copy(from, to).map(drop))
}

/// What the pack says about itself in `pack.json`.
#[derive(Debug, Clone)]
pub struct PackMeta {
    /// Product.
    pub product: String,
    /// Version.
    pub version: String,
    /// `SOURCE_DATE_EPOCH`: every mtime in the pack.
    pub epoch: u64,
}

/// Verifies every bundle in `inputs` with `key`, then writes the pack to `out`.
pub fn write_pack(
    inputs: &Path,
    artifacts: &[StoredArtifact],
    key: &PublicKey,
    meta: &PackMeta,
    out: &Path,
) -> Result<Pack> {
    let policy = TrustPolicy::from_keys(vec![key.clone()])?;
    let unpacked = inputs.join(".unpacked");
    std::fs::create_dir(&unpacked).map_err(PortalServerError::io("creating", &unpacked))?;
    let mut files: BTreeMap<String, Source> = BTreeMap::new();
    let mut index_entries = Vec::new();
    let mut bundles = Vec::new();
    for bundle in artifacts.iter().filter(|a| a.kind.is_bundle_entry()) {
        let target = unpacked.join(&bundle.name);
        let verified =
            UnverifiedBundle::open(&inputs.join(&bundle.name), &genesis_bundle::Limits::default())?.verify(&policy)?;
        // A split bundle (opened across its parts) is named by its archive, as its sidecars are.
        let (name, sha256) = match verified.archive_file().manifest() {
            Some(manifest) => (manifest.archive.name.clone(), manifest.archive.sha256.clone()),
            None => (bundle.name.clone(), bundle.sha256.clone()),
        };
        // A pack's layout must hold every blob its images name: a delta's base is not in it.
        verified.bom().require_full("an export pack").map_err(genesis_trust::TrustError::from)?;
        let report = verified
            .extract(&target)
            .map_err(|source| PortalServerError::Reverify { bundle: bundle.name.clone(), source: Box::new(source) })?;
        bundles.push(serde_json::json!({
            "name": name, "sha256": sha256.hex(), "bomSha256": report.head.bom_sha256.hex(), "signer": report.head.signer.to_string(),
        }));
        add_tree(&mut files, &target.join("charts"), "charts")?;
        add_tree(&mut files, &target.join("oci/blobs"), "images/blobs")?;
        if let Ok(index) = std::fs::read(target.join("oci/index.json")) {
            let index: serde_json::Value = serde_json::from_slice(&index).map_err(PortalServerError::ImageIndex)?;
            index_entries.extend(index["manifests"].as_array().cloned().unwrap_or_default());
        }
    }
    for a in artifacts {
        if let Some(path) = pack_path(a.kind, &a.name) {
            files.insert(path, Source::File(inputs.join(&a.name)));
        }
    }
    index_entries
        .sort_by_key(|m| (m["annotations"]["org.opencontainers.image.ref.name"].to_string(), m["digest"].to_string()));
    index_entries.dedup();
    let index = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": index_entries,
    });
    files.insert("images/index.json".into(), Source::Bytes(pretty(&index)));
    files.insert("images/oci-layout".into(), Source::Bytes(br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()));
    let pack_json = serde_json::json!({
        "profile": BOOTSTRAP_PROFILE, "product": meta.product, "version": meta.version,
        "sourceDateEpoch": meta.epoch, "bundles": bundles,
    });
    files.insert("pack.json".into(), Source::Bytes(pretty(&pack_json)));
    write_tar_gz(&files, meta.epoch, out)
}

fn pretty(value: &serde_json::Value) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(value).expect("JSON");
    out.push(b'\n');
    out
}

/// A pack entry's content.
enum Source {
    File(PathBuf),
    Bytes(Vec<u8>),
}

/// Adds every file under `dir` as `prefix/…` (nothing when `dir` does not exist).
fn add_tree(files: &mut BTreeMap<String, Source>, dir: &Path, prefix: &str) -> Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry.map_err(PortalServerError::io("reading", dir))?;
        let name = entry.file_name().into_string().map_err(PortalServerError::NonUtf8Name)?;
        let path = format!("{prefix}/{name}");
        let entry_path = entry.path();
        if entry.file_type().map_err(PortalServerError::io("reading", &entry_path))?.is_dir() {
            add_tree(files, &entry_path, &path)?;
        } else {
            files.insert(path, Source::File(entry_path));
        }
    }
    Ok(())
}

fn write_tar_gz(files: &BTreeMap<String, Source>, epoch: u64, out: &Path) -> Result<Pack> {
    let file = std::fs::File::create(out).map_err(PortalServerError::io("creating", out))?;
    let writing = || PortalServerError::io("writing", out);
    let hashing = DigestAdapter::new(std::io::BufWriter::new(file));
    let mtime = u32::try_from(epoch).map_err(PortalServerError::EpochPastGzip)?;
    let mut gz = GzBuilder::new().mtime(mtime).operating_system(255).write(hashing, Compression::new(6));
    let mut listing = String::new();
    let mut dirs_written = std::collections::BTreeSet::new();
    for (path, source) in files {
        for (i, _) in path.match_indices('/') {
            let dir = format!("{}/", &path[..i]);
            if dirs_written.insert(dir.clone()) {
                gz.write_all(&dir_header(&dir, epoch)?).map_err(writing())?;
            }
        }
        let digest = match source {
            Source::Bytes(b) => copy_entry(&mut gz, path, &mut b.as_slice(), b.len() as u64, epoch)?,
            Source::File(p) => {
                let len = std::fs::metadata(p).map_err(PortalServerError::io("reading", p))?.len();
                let mut f = std::fs::File::open(p).map_err(PortalServerError::io("reading", p))?;
                copy_entry(&mut gz, path, &mut f, len, epoch)?
            }
        };
        listing.push_str(&format!("{digest}  {path}\n"));
    }
    gz.write_all(&END_OF_ARCHIVE).map_err(writing())?;
    let mut hashing = gz.finish().map_err(writing())?;
    hashing.flush().map_err(writing())?;
    let packed = hashing.digest();
    let file = hashing.into_inner().into_inner().map_err(|e| e.into_error()).map_err(writing())?;
    file.sync_all().map_err(writing())?;
    Ok(Pack { root_hash: genesis_bundle::sha256(listing.as_bytes()), sha256: packed.digest(), size: packed.len })
}

/// Writes one file entry, returning the SHA-256 of its content.
fn copy_entry(
    out: &mut impl Write,
    path: &str,
    content: &mut impl std::io::Read,
    len: u64,
    epoch: u64,
) -> Result<String> {
    let header = file_header(path, len, epoch)?;
    // Whether reading the content or writing the pack failed, the entry is what is named.
    let packing = || PortalServerError::io("packing", Path::new(path));
    out.write_all(&header).map_err(packing())?;
    let mut content = DigestAdapter::new(content);
    let mut buf = vec![0; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = content.read(&mut buf[..left.min(1 << 20) as usize]).map_err(packing())?;
        if n == 0 {
            return Err(PortalServerError::EndedEarly { path: path.to_owned() });
        }
        out.write_all(&buf[..n]).map_err(packing())?;
        left -= n as u64;
    }
    out.write_all(&[0u8; BLOCK][..padding(len)]).map_err(packing())?;
    Ok(content.digest().digest().hex().to_owned())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::api::ApiConfig;
    use crate::config::PortalConfig;

    fn pending(org: &str, product: &str) -> Export {
        Export::pending(format!("exp_{org}_{product}"), org.into(), product.into(), "0.1.0".into(), 0)
    }

    #[test]
    fn builds_are_admitted_within_the_organisation_s_limit_and_the_portal_s() {
        let builds = Arc::new(Builds::new(2, 3));
        let Admission::Started(first) = builds.admit(&pending("acme", "a")) else { panic!("acme's first build") };
        assert!(matches!(builds.admit(&pending("acme", "a")), Admission::Running(e) if e.id == "exp_acme_a"));
        let Admission::Started(_second) = builds.admit(&pending("acme", "b")) else { panic!("acme's second build") };
        assert!(matches!(builds.admit(&pending("acme", "c")), Admission::OrgFull));
        let Admission::Started(_third) = builds.admit(&pending("beta", "a")) else { panic!("beta's first build") };
        assert_eq!((builds.remaining("beta"), builds.remaining("gamma")), (0, 0), "the portal is full");
        assert!(matches!(builds.admit(&pending("gamma", "a")), Admission::PortalFull));
        drop(first);
        assert_eq!((builds.remaining("acme"), builds.remaining("gamma")), (1, 1));
        assert!(matches!(builds.admit(&pending("gamma", "a")), Admission::Started(_)));
    }

    #[test]
    fn a_name_no_tar_header_holds_fails_the_pack_instead_of_panicking() {
        let dir = tempfile::tempdir().unwrap();
        let name = format!("{}.intoto.json", "p".repeat(120));
        std::fs::write(dir.path().join(&name), b"{}").unwrap();
        let artifact = StoredArtifact {
            name: name.clone(),
            kind: ArtifactKind::Provenance,
            size: 2,
            sha256: genesis_bundle::sha256(b"{}"),
        };
        let key = PublicKey::from_pem_file(&Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/keys/test.pub"))
            .unwrap();
        let meta = PackMeta { product: "genesis".into(), version: "0.1.0".into(), epoch: 0 };
        let failed = write_pack(dir.path(), &[artifact], &key, &meta, &dir.path().join("pack.tar.gz")).unwrap_err();
        assert!(
            format!("{failed:#}").contains(&format!("\"signatures/{name}\" does not fit a tar header")),
            "{failed:#}"
        );
    }

    /// A build that fails records what failed for the customer, who reads it in the export's
    /// status, and not the server's paths: here the artifact store lost the release's bundle,
    /// and copying it into the build's scratch space failed.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_failed_build_records_what_failed_and_no_server_path() {
        let dir = tempfile::tempdir().unwrap();
        let portal = PortalConfig { data_dir: Some(dir.path().to_owned()), ..PortalConfig::default() };
        let state = AppState::open(&portal, ApiConfig::default()).await.unwrap();
        let release = Release {
            product: "genesis".into(),
            version: "0.1.0".into(),
            published: 0,
            signer: "SHA256:x".into(),
            signer_pem: String::new(),
        };
        let bundle = StoredArtifact {
            name: "demo-0.1.0.tar.zst".into(),
            kind: ArtifactKind::Bundle,
            size: 1,
            sha256: genesis_bundle::sha256(b"x"),
        };
        state.store.insert_release(&release, &[bundle], &[]).await.unwrap();
        let export = Export { created: now(), ..pending("acme", "genesis") };
        state.store.insert_export(&export, state.instance.id()).await.unwrap();
        let Admission::Started(slot) = state.builds.admit(&export) else { panic!("the build is not admitted") };

        build(Arc::clone(&state), export.clone(), release, slot).await;
        let failed = state.store.export("acme", &export.id).await.unwrap().unwrap();
        assert_eq!(
            (failed.status, failed.error.as_deref()),
            (
                ExportState::Failed,
                Some("the pack could not be built: an I/O error on the server; the portal's log has the cause")
            )
        );
    }

    /// Portals sharing a data directory and its database, as at scale they share PostgreSQL:
    /// one starting leaves the builds of one running alone, and cleans up after one that
    /// stopped.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_portal_starting_fails_and_clears_only_what_stopped_portals_left() {
        let dir = tempfile::tempdir().unwrap();
        let portal = PortalConfig { data_dir: Some(dir.path().to_owned()), ..PortalConfig::default() };
        let first = AppState::open(&portal, ApiConfig::default()).await.unwrap();
        let building = Export { created: now(), ..pending("acme", "a") };
        first.store.insert_export(&building, first.instance.id()).await.unwrap();
        let work = first.instance.scratch().join(".tmpBUILD");
        std::fs::create_dir(&work).unwrap();

        let second = AppState::open(&portal, ApiConfig::default()).await.unwrap();
        let export = second.store.export("acme", &building.id).await.unwrap().unwrap();
        assert_eq!(export.status, ExportState::Pending, "a running portal's build was failed: {export:?}");
        assert!(work.exists(), "a running portal's build lost its scratch space");

        // As a kill would: the process gone, and its lock with it.
        let stopped = first.instance.scratch().to_owned();
        drop(first);
        let third = AppState::open(&portal, ApiConfig::default()).await.unwrap();
        let export = third.store.export("acme", &building.id).await.unwrap().unwrap();
        assert_eq!((export.status, export.error.as_deref()), (ExportState::Failed, Some(STOPPED_MID_BUILD)));
        assert!(!stopped.exists(), "the stopped portal's scratch directory is left");
        assert!(second.instance.scratch().is_dir() && third.instance.scratch().is_dir());
        assert_ne!(second.instance.id(), third.instance.id());
    }
}
