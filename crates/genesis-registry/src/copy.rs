//! Copying an image from one registry to another with the same digests and bytes, and with
//! no local disk: every manifest of an index (all platforms) and every blob, the child
//! manifests by digest (children before the indexes listing them), the top by digest, and
//! the tag last, so a destination never names an image it does not hold whole. What makes
//! the image trustworthy travels with it: for each of its manifests (`cosign sign
//! --recursive` signs every platform's), the cosign tags of its digest (`sha256-<hex>.sig`,
//! `.att`, `.sbom`) and its OCI referrers. Signatures and attestations are added to the ones
//! the destination has, as cosign adds one; a referrer whose `subject` is not the manifest it
//! is listed for is left behind.
//!
//! A source is not trusted to be reasonable: a copy reads at most [`MAX_MANIFESTS`] manifests
//! of an image, [`MAX_TREE_BYTES`] of them, a few at a time, and carries at most
//! [`MAX_REFERRERS`] referrers; beyond, it refuses the image.
//!
//! A blob the destination has (HEAD) is skipped; one on the same registry, or already put in
//! another repository of the destination by this session, is mounted; any other streams from
//! the source's GET into the destination's upload in 1 MiB pieces, hashed on the way, its
//! last piece withheld until the digest matched ([`Registry::stream_blob`]), so a blob the
//! source serves wrong never completes its upload. A mount the registry refuses becomes an
//! upload. A transient failure retries that blob with a new GET; a manifest the destination
//! has (HEAD by digest) is not sent again. So a copy killed half-way, run again, sends only
//! what is missing.
//!
//! ```no_run
//! # async fn run(source: genesis_registry::Registry, edge: genesis_registry::Registry)
//! # -> genesis_registry::Result<()> {
//! use genesis_registry::CopySession;
//!
//! let session = CopySession::new(8);
//! let progress = genesis_bundle::ProgressCounter::default();
//! let copied = session.copy_image(&source, "demo/app", "1.0", &edge, "demo/app", Some("1.0"), &progress).await?;
//! println!("{} ({}), {} bytes sent", copied.digest, copied.platforms.join(", "), copied.stats.bytes_sent);
//! # Ok(())
//! # }
//! ```

use std::collections::{BTreeMap, HashMap, HashSet};
use std::sync::{Arc, Mutex};
use std::time::Duration;

use bytes::Bytes;
use futures_util::{StreamExt as _, TryStreamExt as _};
use genesis_bundle::ProgressCounter;
use genesis_types::{Digest, ImageIndex, ImageManifest, MAX_MANIFEST, Platform, media_types};

use crate::client::PushState;
use crate::{Manifest, PushOutcome, Registry, RegistryError, Result};

/// Pieces of one blob (1 MiB each) queued between its download and its upload: what a blob
/// in flight holds in memory, beside the piece the download withholds.
const QUEUED_PIECES: usize = 4;
/// Indexes nested deeper than this are refused, as a load refuses them.
const MAX_DEPTH: usize = 4;
/// Most manifests (indexes included) one image may have, and each thing carried with it: a
/// multi-platform image has a few dozen. An index listing more is refused before they are
/// fetched.
pub const MAX_MANIFESTS: usize = 1024;
/// Most bytes of manifests one image may have (each is at most 4 MiB).
pub const MAX_TREE_BYTES: u64 = 64 << 20;
/// Most referrers carried with one image, over all its manifests.
pub const MAX_REFERRERS: usize = 256;
/// Manifests of an index fetched at once.
const MANIFEST_FETCHES: usize = 8;
/// Docker's image config, which names the platform of a single-platform image as OCI's does.
const DOCKER_CONFIG: &str = "application/vnd.docker.container.image.v1+json";
/// The tags cosign attaches to a digest (`<alg>-<hex>.<suffix>`), with what each holds and
/// whether cosign adds to it (a layer per signature or attestation) or replaces it.
const COSIGN_TAGS: [(&str, &str, bool); 3] =
    [("sig", "cosign signature", true), ("att", "cosign attestations", true), ("sbom", "cosign SBOM", false)];

/// A blob on one destination registry: the registry's endpoint and the blob's digest.
type BlobKey = (String, Digest);

/// What the copies of one run share (the entries of a catalog run concurrently): a bound
/// on the blobs in flight across all of them, a lock per destination blob so that two
/// copies never upload one blob twice, and where the session put each blob, to mount it
/// from there into another repository of the same registry.
#[derive(Debug)]
pub struct CopySession {
    /// Blobs of one copy started at once (the semaphore bounds them across copies).
    concurrency: usize,
    /// One permit per blob in flight, across every copy of the session.
    slots: tokio::sync::Semaphore,
    /// Held while a blob or manifest is being placed in a destination: a second copy of the
    /// same one waits, then finds it present.
    placing: Mutex<HashMap<BlobKey, Arc<tokio::sync::Mutex<()>>>>,
    /// The repository of each destination the session put (or found) each blob in.
    placed: Mutex<HashMap<BlobKey, String>>,
}

/// What one copy did, summed over the image and what it carried.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct CopyStats {
    /// Blobs streamed from the source to the destination.
    pub blobs_uploaded: usize,
    /// Blobs mounted from another repository of the destination.
    pub blobs_mounted: usize,
    /// Blobs the destination repository already had.
    pub blobs_present: usize,
    /// Bytes of blob data sent to the destination (manifests are not counted: a few KiB).
    pub bytes_sent: u64,
    /// Manifests and indexes put by digest.
    pub manifests_pushed: usize,
    /// Manifests and indexes the destination already had.
    pub manifests_present: usize,
}

impl CopyStats {
    /// Adds `other`'s counts to these (the images of a catalog, for a total).
    pub fn add(&mut self, other: &CopyStats) {
        self.blobs_uploaded += other.blobs_uploaded;
        self.blobs_mounted += other.blobs_mounted;
        self.blobs_present += other.blobs_present;
        self.bytes_sent += other.bytes_sent;
        self.manifests_pushed += other.manifests_pushed;
        self.manifests_present += other.manifests_present;
    }
}

/// An image as copied.
#[derive(Debug, Clone)]
pub struct CopiedImage {
    /// The digest of the top manifest, the same on both registries.
    pub digest: Digest,
    /// The top manifest's media type.
    pub media_type: String,
    /// The top manifest, its exact bytes.
    pub manifest: Bytes,
    /// The platforms of an index's manifests (`linux/amd64`, `linux/arm64/v8`), or of a
    /// single image's config; empty for an artifact, which names none.
    pub platforms: Vec<String>,
    /// What the copy did, what it carried included.
    pub stats: CopyStats,
    /// What travelled with the image, e.g. `cosign signature sha256-….sig`,
    /// `referrer sha256:…`.
    pub carried: Vec<String>,
}

/// Where one copy reads and writes.
struct Route<'a> {
    source: &'a Registry,
    source_repo: &'a str,
    destination: &'a Registry,
    destination_repo: &'a str,
    /// Counts the blob bytes sent.
    progress: &'a ProgressCounter,
}

/// The manifests of an image as read from the source, each after every manifest it lists
/// and the top last (the order they are pushed in), and its blobs with their sizes.
struct Tree {
    manifests: Vec<Manifest>,
    blobs: BTreeMap<Digest, u64>,
}

impl Tree {
    fn top(&self) -> &Manifest {
        self.manifests.last().expect("a tree has its top manifest")
    }
}

impl CopySession {
    /// A session with at most `concurrency` blobs in flight (at least one), across every
    /// copy it makes.
    pub fn new(concurrency: usize) -> CopySession {
        let concurrency = concurrency.max(1);
        CopySession {
            concurrency,
            slots: tokio::sync::Semaphore::new(concurrency),
            placing: Mutex::default(),
            placed: Mutex::default(),
        }
    }

    /// Copies `reference` (tag or digest) of `source_repo` on `source` to `destination_repo`
    /// on `destination`: every manifest of an index (all platforms) and every blob, then
    /// child manifests by digest, the top manifest by digest, and `tag` last when given.
    /// Also carries what is attached to each of its manifests: the cosign
    /// `sha256-<hex>.sig`, `.att` and `.sbom` tags, and OCI referrers (Referrers API, or the
    /// `sha256-<hex>` tag-schema index; written to the destination as its own index when the
    /// destination has no Referrers API). Blob bytes sent are added to `progress` as they go
    /// (its total is left to the caller, who may share it between copies).
    #[allow(clippy::too_many_arguments)] // The contract of the seeding crates: two ends and a tag.
    pub async fn copy_image(
        &self,
        source: &Registry,
        source_repo: &str,
        reference: &str,
        destination: &Registry,
        destination_repo: &str,
        tag: Option<&str>,
        progress: &ProgressCounter,
    ) -> Result<CopiedImage> {
        let route = Route { source, source_repo, destination, destination_repo, progress };
        let image = read_tree(&route, source.get_manifest(source_repo, reference).await?).await?;
        let top = image.top();
        let platforms = platforms(&route, top).await?;
        let mut stats = self.copy_tree(&route, &image).await?;

        let mut carried = Vec::new();
        let mut referrers_left = MAX_REFERRERS;
        for subject in &image.manifests {
            stats.add(&self.carry(&route, subject, &mut carried, &mut referrers_left).await?);
        }

        if let Some(tag) = tag {
            tag_manifest(&route, tag, top).await?;
        }
        tracing::info!(
            source = %format!("{}/{source_repo}", source.host()),
            destination = %format!("{}/{destination_repo}", destination.host()),
            digest = %top.digest,
            uploaded = stats.blobs_uploaded,
            mounted = stats.blobs_mounted,
            present = stats.blobs_present,
            bytes_sent = stats.bytes_sent,
            "copied"
        );
        Ok(CopiedImage {
            digest: top.digest.clone(),
            media_type: top.media_type.clone(),
            manifest: top.bytes.clone(),
            platforms,
            stats,
            carried,
        })
    }

    /// Carries what is attached to `subject`, one manifest of the image: its cosign tags and
    /// its referrers, counting these against `referrers_left`; names each in `carried`.
    async fn carry(
        &self,
        route: &Route<'_>,
        subject: &Manifest,
        carried: &mut Vec<String>,
        referrers_left: &mut usize,
    ) -> Result<CopyStats> {
        let (source, source_repo) = (route.source, route.source_repo);
        let mut stats = CopyStats::default();
        for (suffix, what, appends) in COSIGN_TAGS {
            let cosign_tag = format!("{}-{}.{suffix}", subject.digest.algorithm().name(), subject.digest.hex());
            let attached = match source.get_manifest(source_repo, &cosign_tag).await {
                Ok(manifest) => read_tree(route, manifest).await?,
                Err(RegistryError::NotFound(_)) => continue,
                Err(e) => return Err(e),
            };
            if appends {
                stats.add(&self.append_cosign(route, &cosign_tag, &attached).await?);
            } else {
                stats.add(&self.copy_tree(route, &attached).await?);
                tag_manifest(route, &cosign_tag, attached.top()).await?;
            }
            carried.push(format!("{what} {cosign_tag}"));
        }

        let (referrers, _) = source.referrers(source_repo, &subject.digest).await?;
        *referrers_left = referrers_left.checked_sub(referrers.len()).ok_or_else(|| {
            RegistryError::Invalid(format!(
                "{}/{source_repo}: the image's manifests have more than {MAX_REFERRERS} referrers (those of {} \
                 passed it), the most a copy carries; refusing to copy it",
                source.host(),
                subject.digest
            ))
        })?;
        for referrer in referrers {
            let manifest = match source.get_manifest(source_repo, &referrer.digest.to_string()).await {
                Ok(manifest) => manifest,
                // The tag schema's index outlives the manifests it lists when they are
                // deleted: a dangling entry is nothing to carry.
                Err(RegistryError::NotFound(_)) => {
                    tracing::warn!(repo = source_repo, subject = %subject.digest, referrer = %referrer.digest, "a listed referrer is missing from the source; not carried");
                    continue;
                }
                Err(e) => return Err(e),
            };
            // A listing (a tag-schema index is anyone's to write) may name a manifest that
            // refers to another: carried, it would be listed at the destination for what it
            // does not refer to, or for nothing.
            let refers_to = serde_json::from_slice::<serde_json::Value>(&manifest.bytes)
                .ok()
                .and_then(|v| v["subject"]["digest"].as_str().and_then(|d| d.parse::<Digest>().ok()));
            if refers_to.as_ref() != Some(&subject.digest) {
                let refers_to = refers_to.map_or_else(|| "nothing".to_owned(), |d| d.to_string());
                tracing::warn!(repo = source_repo, subject = %subject.digest, referrer = %referrer.digest, %refers_to, "a listed referrer refers to another manifest; not carried");
                continue;
            }
            let attached = read_tree(route, manifest).await?;
            stats.add(&self.copy_tree(route, &attached).await?);
            crate::load::index_referrer(route.destination, route.destination_repo, attached.top()).await?;
            carried.push(format!("referrer {}", referrer.digest));
        }
        Ok(stats)
    }

    /// Puts the source's cosign `tag` (a signature or attestations manifest: a layer each) in
    /// the destination the way cosign adds a signature: the layers the destination's tag
    /// lacks (by digest) appended to it, so that what was signed at the destination (a site's
    /// own signature) stays beside what is carried. Nothing is written when it lacks none.
    /// The tag is read and written back under its lock, so two copies at once keep both.
    async fn append_cosign(&self, route: &Route<'_>, tag: &str, attached: &Tree) -> Result<CopyStats> {
        let (destination, repo) = (route.destination, route.destination_repo);
        let _writing = destination.lock_tag(repo, tag).await;
        let current = match destination.get_manifest(repo, tag).await {
            Ok(current) => current,
            Err(RegistryError::NotFound(_)) => {
                let stats = self.copy_tree(route, attached).await?;
                destination.put_manifest(repo, tag, attached.top()).await?;
                return Ok(stats);
            }
            Err(e) => return Err(e),
        };
        let Some((merged, added)) = appended(route, tag, &current, attached.top())? else {
            return Ok(CopyStats { manifests_present: 1, ..CopyStats::default() });
        };
        let blobs =
            attached.blobs.iter().filter(|(digest, _)| added.contains(*digest)).map(|(d, &size)| (d.clone(), size));
        let merged = Tree { manifests: vec![merged], blobs: blobs.collect() };
        let stats = self.copy_tree(route, &merged).await?;
        destination.put_manifest(repo, tag, merged.top()).await?;
        tracing::info!(repo, tag, added = added.len(), "added the carried layers to the destination's cosign tag");
        Ok(stats)
    }

    /// Places every blob of `tree` in the destination (a few at once), then puts its
    /// manifests by digest, children first, each unless the destination has it.
    async fn copy_tree(&self, route: &Route<'_>, tree: &Tree) -> Result<CopyStats> {
        let placed: Vec<(PushOutcome, u64)> = futures_util::stream::iter(&tree.blobs)
            .map(|(digest, &size)| async move {
                Ok::<_, RegistryError>((self.place_blob(route, digest, size).await?, size))
            })
            .buffer_unordered(self.concurrency)
            .try_collect()
            .await?;
        let mut stats = CopyStats::default();
        for (outcome, size) in placed {
            match outcome {
                PushOutcome::Present => stats.blobs_present += 1,
                PushOutcome::Mounted => stats.blobs_mounted += 1,
                PushOutcome::Uploaded => {
                    stats.blobs_uploaded += 1;
                    stats.bytes_sent += size;
                }
            }
        }
        let (destination, repo) = (route.destination, route.destination_repo);
        for manifest in &tree.manifests {
            // Under the digest's lock, as a blob: another copy of the same image that found
            // the manifest missing first is done putting it before this one asks, so a parent
            // never goes out while its child is still on its way.
            let lock = self.lock_of(&(destination.endpoint().to_owned(), manifest.digest.clone()));
            let _placing = lock.lock().await;
            if destination.has_manifest(repo, &manifest.digest).await? {
                stats.manifests_present += 1;
            } else {
                destination.put_manifest(repo, &manifest.digest.to_string(), manifest).await?;
                stats.manifests_pushed += 1;
            }
        }
        Ok(stats)
    }

    /// Puts one blob in the destination repository unless it is there: mounted from the
    /// source repository on the same registry, or from where this session put it, else
    /// streamed. The blob's lock first, then a slot: whoever holds a slot holds its lock
    /// already, so the two never wait on each other.
    async fn place_blob(&self, route: &Route<'_>, digest: &Digest, size: u64) -> Result<PushOutcome> {
        let (source, destination, repo) = (route.source, route.destination, route.destination_repo);
        let key: BlobKey = (destination.endpoint().to_owned(), digest.clone());
        let lock = self.lock_of(&key);
        let _placing = lock.lock().await;
        let _slot = self.slots.acquire().await.expect("the session never closes its semaphore");
        let outcome = if destination.has_blob(repo, digest).await? {
            PushOutcome::Present
        } else {
            let mount_from = if source.endpoint() == destination.endpoint() {
                Some(route.source_repo.to_owned())
            } else {
                self.placed_elsewhere(&key, repo)
            };
            self.transfer(route, digest, size, mount_from.as_deref()).await?
        };
        self.placed.lock().expect("not poisoned").insert(key, repo.to_owned());
        Ok(outcome)
    }

    /// Another repository of the destination this session put the blob in, to mount it from.
    fn placed_elsewhere(&self, key: &BlobKey, repo: &str) -> Option<String> {
        self.placed.lock().expect("not poisoned").get(key).filter(|placed| *placed != repo).cloned()
    }

    /// The lock of one destination blob.
    fn lock_of(&self, key: &BlobKey) -> Arc<tokio::sync::Mutex<()>> {
        let mut placing = self.placing.lock().expect("not poisoned");
        Arc::clone(placing.entry(key.clone()).or_insert_with(|| Arc::new(tokio::sync::Mutex::new(()))))
    }

    /// Mounts the blob from `mount_from`, or (when the registry opens an upload instead, or
    /// refuses the mount) streams it from the source: the GET feeds the upload piece by
    /// piece. A transient failure of either end starts the blob again, up to the clients'
    /// retries; a blob that does not match its digest is the source's fault, and sending it
    /// again would not help.
    async fn transfer(
        &self,
        route: &Route<'_>,
        digest: &Digest,
        size: u64,
        mount_from: Option<&str>,
    ) -> Result<PushOutcome> {
        let (source, destination) = (route.source, route.destination);
        let retries = source.retries().max(destination.retries());
        let mut push = PushState::new(route.progress);
        let mut attempt = 0;
        loop {
            let Some(location) = destination.begin_upload(route.destination_repo, digest, mount_from).await? else {
                return Ok(PushOutcome::Mounted);
            };
            let (pieces, queued) = tokio::sync::mpsc::channel(QUEUED_PIECES);
            let (got, sent) = tokio::join!(
                source.stream_blob(route.source_repo, digest, size, pieces),
                destination.upload(route.destination_repo, location, digest, size, queued, &mut push),
            );
            // The download's failure first: the upload failed because of it.
            match got.and(sent) {
                Ok(()) => return Ok(PushOutcome::Uploaded),
                Err(e) if e.is_transient() && attempt < retries => {
                    attempt += 1;
                    tracing::warn!(source = source.host(), destination = destination.host(), %digest, attempt, error = %e, "copy of a blob failed, starting it again");
                    push.retry();
                    tokio::time::sleep(Duration::from_millis(200 << attempt.min(6))).await;
                }
                Err(e) => return Err(e),
            }
        }
    }
}

/// Reads the tree under `top` from the source: each index's manifests by digest (checked
/// against it), a level at a time and [`MANIFEST_FETCHES`] at once, and the config and
/// layers of each image manifest. More than [`MAX_MANIFESTS`] manifests are refused before
/// they are fetched, more than [`MAX_TREE_BYTES`] of them as they arrive. Then orders them
/// as a registry takes them, each after all it lists (an index is refused while a manifest
/// it lists is missing), which the levels are not: a manifest may be listed both by the top
/// and by an index within it, a level deeper.
async fn read_tree(route: &Route<'_>, top: Manifest) -> Result<Tree> {
    let (source, repo) = (route.source, route.source_repo);
    let root = top.digest.clone();
    let refuse = |limit: String| {
        RegistryError::Invalid(format!("{}/{repo}@{root}: {limit}; refusing to copy it", source.host()))
    };
    // Each manifest read, with the digests it lists (none for an image manifest).
    let mut read: HashMap<Digest, (Manifest, Vec<Digest>)> = HashMap::new();
    let mut seen = HashSet::from([root.clone()]);
    let mut blobs = BTreeMap::new();
    let mut bytes = top.bytes.len() as u64;
    let mut level = vec![top];
    let mut depth = 0;
    while !level.is_empty() {
        if depth > MAX_DEPTH {
            return Err(refuse(format!("indexes nested more than {MAX_DEPTH} deep")));
        }
        let mut wanted = Vec::new();
        for manifest in level {
            let mut listed = Vec::new();
            if media_types::is_index(&manifest.media_type) {
                let index: ImageIndex = parse(source, repo, &manifest)?;
                listed = index.manifests.into_iter().map(|child| child.digest).collect();
                wanted.extend(listed.iter().filter(|&child| seen.insert(child.clone())).cloned());
                if seen.len() > MAX_MANIFESTS {
                    return Err(refuse(format!("more than {MAX_MANIFESTS} manifests")));
                }
            } else if media_types::is_manifest(&manifest.media_type) {
                let image: ImageManifest = parse(source, repo, &manifest)?;
                for blob in std::iter::once(&image.config).chain(&image.layers) {
                    blobs.insert(blob.digest.clone(), blob.size);
                }
            } else {
                return Err(RegistryError::Invalid(format!(
                    "{}/{repo}@{}: cannot copy a manifest of media type {}",
                    source.host(),
                    manifest.digest,
                    manifest.media_type
                )));
            }
            read.insert(manifest.digest.clone(), (manifest, listed));
        }
        let mut fetched = std::pin::pin!(
            futures_util::stream::iter(&wanted)
                .map(|child| async move { source.get_manifest(repo, &child.to_string()).await })
                .buffered(MANIFEST_FETCHES)
        );
        level = Vec::with_capacity(wanted.len());
        while let Some(manifest) = fetched.try_next().await? {
            bytes += manifest.bytes.len() as u64;
            if bytes > MAX_TREE_BYTES {
                return Err(refuse(format!("more than {} MiB of manifests", MAX_TREE_BYTES >> 20)));
            }
            level.push(manifest);
        }
        depth += 1;
    }
    let mut manifests = Vec::with_capacity(read.len());
    post_order(&root, &mut read, &mut manifests);
    Ok(Tree { manifests, blobs })
}

/// Appends the manifest `digest` of `read` to `pushed` after everything it lists, each
/// manifest once (taken out of `read` as it is reached). The nesting it follows is at most
/// [`MAX_MANIFESTS`] deep.
fn post_order(digest: &Digest, read: &mut HashMap<Digest, (Manifest, Vec<Digest>)>, pushed: &mut Vec<Manifest>) {
    let Some((manifest, listed)) = read.remove(digest) else { return };
    for child in &listed {
        post_order(child, read, pushed);
    }
    pushed.push(manifest);
}

fn parse<T: serde::de::DeserializeOwned>(source: &Registry, repo: &str, manifest: &Manifest) -> Result<T> {
    serde_json::from_slice(&manifest.bytes).map_err(|e| RegistryError::BadAnswer {
        url: format!("{}/{repo}@{}", source.host(), manifest.digest),
        detail: format!("not a valid {}: {e}", manifest.media_type),
    })
}

/// The platforms of an image: its index's entries (but `unknown/unknown`, which buildx gives
/// its attestation manifests), or the os and architecture of a single image's config.
async fn platforms(route: &Route<'_>, top: &Manifest) -> Result<Vec<String>> {
    let known = |p: &Platform| p.os != "unknown" && p.architecture != "unknown";
    let mut platforms: Vec<String> = Vec::new();
    if media_types::is_index(&top.media_type) {
        let index: ImageIndex = parse(route.source, route.source_repo, top)?;
        for platform in index.manifests.iter().filter_map(|d| d.platform.as_ref()).filter(|&p| known(p)) {
            let name = platform.to_string();
            if !platforms.contains(&name) {
                platforms.push(name);
            }
        }
        return Ok(platforms);
    }
    let image: ImageManifest = parse(route.source, route.source_repo, top)?;
    let config = &image.config;
    let image_config = config.media_type == media_types::OCI_CONFIG || config.media_type == DOCKER_CONFIG;
    if image_config && config.size <= MAX_MANIFEST as u64 {
        let mut bytes = Vec::new();
        route.source.get_blob(route.source_repo, &config.digest, config.size, &mut bytes).await?;
        if let Ok(platform) = serde_json::from_slice::<Platform>(&bytes)
            && known(&platform)
        {
            platforms.push(platform.to_string());
        }
    }
    Ok(platforms)
}

/// `current`, the destination's manifest of a cosign tag, with the layers of `carried` (the
/// source's) it lacks appended, and their digests; `None` when it lacks none. Both must be
/// image manifests with layers, as cosign writes them.
fn appended(
    route: &Route<'_>,
    tag: &str,
    current: &Manifest,
    carried: &Manifest,
) -> Result<Option<(Manifest, HashSet<Digest>)>> {
    let not_cosign = |registry: &Registry, repo: &str| RegistryError::BadAnswer {
        url: format!("{}/{repo}:{tag}", registry.host()),
        detail: "not an image manifest with layers, as cosign writes one: cannot add one to the other".into(),
    };
    let layers = |manifest: &Manifest| {
        serde_json::from_slice::<serde_json::Value>(&manifest.bytes).ok().filter(|v| v["layers"].is_array())
    };
    let mut merged = layers(current).ok_or_else(|| not_cosign(route.destination, route.destination_repo))?;
    let adding = layers(carried).ok_or_else(|| not_cosign(route.source, route.source_repo))?;
    let digest_of = |layer: &serde_json::Value| layer["digest"].as_str().and_then(|d| d.parse::<Digest>().ok());
    let into = merged["layers"].as_array_mut().expect("checked to be an array");
    let mut present: HashSet<Digest> = into.iter().filter_map(digest_of).collect();
    let mut added = HashSet::new();
    for layer in adding["layers"].as_array().expect("checked to be an array") {
        let digest = digest_of(layer).ok_or_else(|| not_cosign(route.source, route.source_repo))?;
        if present.insert(digest.clone()) {
            into.push(layer.clone());
            added.insert(digest);
        }
    }
    if added.is_empty() {
        return Ok(None);
    }
    let bytes = Bytes::from(serde_json::to_vec(&merged).expect("a JSON value serialises"));
    let digest = genesis_bundle::sha256(&bytes);
    Ok(Some((Manifest { bytes, media_type: current.media_type.clone(), digest }, added)))
}

/// Points `tag` of the destination repository at `manifest`, unless it already does.
async fn tag_manifest(route: &Route<'_>, tag: &str, manifest: &Manifest) -> Result<()> {
    let (destination, repo) = (route.destination, route.destination_repo);
    match destination.get_manifest(repo, tag).await {
        Ok(current) if current.digest == manifest.digest => Ok(()),
        Ok(_) | Err(RegistryError::NotFound(_)) => destination.put_manifest(repo, tag, manifest).await,
        Err(e) => Err(e),
    }
}
