//! `bundle-loader load`: push every image of a bundle into a registry with the same
//! manifest bytes and digests. Blobs the registry has are skipped (HEAD); the rest are
//! uploaded from the bytes of the verification pass itself, each completed only once it
//! matched its signed digest, and the manifests follow only when the whole bundle checked
//! out. Blobs already pushed to another repository in this run are mounted. An interrupted
//! load, run again, sends only what is missing.
//!
//! A delta bundle (decision 0043) leaves out the blobs its base carries: before anything is
//! pushed, the plan asks the registry for each of them in every repository the bundle's
//! images go to, refuses the load naming each one no repository holds and the base to load
//! first, and mounts one an image needs from another of those repositories that holds it.

use std::collections::{BTreeMap, BTreeSet, HashMap, HashSet};
use std::sync::Arc;

use bytes::Bytes;
use futures_util::StreamExt as _;
use genesis_bundle::{ArchiveIndex, BundleError, ProgressCounter, RequiredBlob, Requires, image_top, layout_path};
use genesis_trust::{AttestedBundle, CheckedBundle, SignedBom, VerifiedBundle};
use genesis_types::{Descriptor, Digest, ImageIndex, ImageManifest, ImageReference, MAX_MANIFEST, media_types};
use tokio::sync::Semaphore;

use crate::stream_upload::{self, UploadSink};
use crate::{Manifest, PushOutcome, Registry, RegistryError, Result};

/// Where images go: a registry and an optional repository prefix (`HOST[:PORT][/PREFIX]`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Destination {
    /// `HOST[:PORT]`.
    pub host: String,
    /// Repository prefix without slashes at either end; empty for none.
    pub prefix: String,
}

impl std::str::FromStr for Destination {
    type Err = RegistryError;

    fn from_str(s: &str) -> Result<Self> {
        let s = s.trim_end_matches('/');
        let (host, prefix) = s.split_once('/').unwrap_or((s, ""));
        if host.is_empty() || host.contains("://") || s.contains("://") {
            return Err(RegistryError::Invalid(format!("{s:?}: expected HOST[:PORT][/PREFIX], without a scheme")));
        }
        Ok(Destination { host: host.to_owned(), prefix: prefix.to_owned() })
    }
}

impl Destination {
    /// The repository an image reference lands in.
    pub fn repository(&self, reference: &ImageReference) -> String {
        if self.prefix.is_empty() {
            reference.repository().to_owned()
        } else {
            format!("{}/{}", self.prefix, reference.repository())
        }
    }
}

/// How many blobs upload at once, over the whole load.
pub const DEFAULT_CONCURRENCY: usize = 4;

/// How many images have their blobs placed and manifests pushed at once once the bundle
/// checked out: a release of hundreds of small images waits on round trips (a HEAD and a PUT
/// per manifest, a tag), not on bytes, so they overlap; each image still goes children first,
/// then its index, then its tag.
const IMAGES_AT_ONCE: usize = 16;

/// Bytes of decompressed frames a load keeps while it reads the manifests it plans from (and
/// the blobs it pushes from the archive after the pass): four 4 MiB frames. The images are
/// planned in the order their top manifests lie in the archive, so the tops need one frame
/// at a time; the rest absorbs child manifests of multi-platform images. A cache held through
/// the pass: at 64 MiB a load of 1,000 images kept it full the whole time.
const PLAN_FRAME_CACHE: u64 = 16 << 20;

/// How many presence checks (HEAD) are in flight at once while a load is planned: the one pass
/// that tells a re-load it has nothing to send.
const PRESENCE_CHECKS_AT_ONCE: usize = 32;

/// Counts of what happened to the blobs of one image.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BlobCounts {
    /// Already in the registry.
    pub present: u64,
    /// Mounted from another repository.
    pub mounted: u64,
    /// Uploaded.
    pub uploaded: u64,
    /// Bytes uploaded.
    pub uploaded_bytes: u64,
}

/// One image as loaded.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadedImage {
    /// The reference manifests use (`ref` in the spec).
    pub source: String,
    /// `HOST/REPO@sha256:…` in the destination.
    pub target: String,
    /// `HOST/REPO:TAG`, when the source has a tag.
    pub tagged: Option<String>,
    /// Manifests and indexes pushed (or found present).
    pub manifests: u64,
    /// What happened to the blobs.
    pub blobs: BlobCounts,
}

/// Everything a load did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct LoadSummary {
    /// The destination registry.
    pub registry: String,
    /// One entry per image of the bundle.
    pub images: Vec<LoadedImage>,
}

/// What must be pushed for one image, in push order.
struct ImagePlan {
    reference: ImageReference,
    /// Where it goes in the destination.
    repository: String,
    source: String,
    top: Digest,
    /// Every blob (config, layer) with its size.
    blobs: BTreeMap<Digest, u64>,
    /// Manifests, children before parents; the last is the top.
    manifests: Vec<Manifest>,
    /// Whether the registry already holds the image whole: its tag (or, without one, its
    /// digest) names the pinned top manifest ([`LoadPlan::new`]).
    in_place: bool,
    /// Bytes of its blobs in place in the registry (present, uploaded or mounted).
    progress: ProgressCounter,
}

fn plan_image(index: &ArchiveIndex, source: &str, top: &Descriptor, destination: &Destination) -> Result<ImagePlan> {
    let reference: ImageReference = source.parse().map_err(|e| RegistryError::Invalid(format!("{e}")))?;
    let mut plan = ImagePlan {
        repository: destination.repository(&reference),
        reference,
        source: source.to_owned(),
        top: top.digest.clone(),
        blobs: BTreeMap::new(),
        manifests: Vec::new(),
        in_place: false,
        progress: ProgressCounter::default(),
    };
    walk(index, top, &mut plan, 0)?;
    Ok(plan)
}

fn walk(index: &ArchiveIndex, d: &Descriptor, plan: &mut ImagePlan, depth: u32) -> Result<()> {
    if depth > 4 {
        return Err(RegistryError::Invalid("indexes nested more than 4 deep".into()));
    }
    if plan.manifests.iter().any(|m| m.digest == d.digest) {
        return Ok(());
    }
    let bytes = index.read_verified(&d.digest, MAX_MANIFEST as u64)?;
    let invalid = |e: serde_json::Error| RegistryError::Invalid(format!("{} ({}): {e}", d.digest, d.media_type));
    if media_types::is_index(&d.media_type) {
        let idx: ImageIndex = serde_json::from_slice(&bytes).map_err(invalid)?;
        for child in &idx.manifests {
            walk(index, child, plan, depth + 1)?;
        }
    } else if media_types::is_manifest(&d.media_type) {
        let m: ImageManifest = serde_json::from_slice(&bytes).map_err(invalid)?;
        for blob in std::iter::once(&m.config).chain(&m.layers) {
            plan.blobs.insert(blob.digest.clone(), blob.size);
        }
    } else {
        return Err(RegistryError::Invalid(format!("{}: unsupported media type {}", d.digest, d.media_type)));
    }
    plan.manifests.push(Manifest {
        bytes: Bytes::from(bytes),
        media_type: d.media_type.clone(),
        digest: d.digest.clone(),
    });
    Ok(())
}

/// Reads the OCI index and every manifest of a bundle whose BOM is trusted: each manifest is
/// reached by digest from the signed BOM and checked against that digest, so the plan is
/// trustworthy without reading any layer.
fn plan_all(bundle: &dyn SignedBom, destination: &Destination) -> Result<(Arc<ArchiveIndex>, Vec<ImagePlan>)> {
    let bom = bundle.signed_bom();
    // Manifests lie among the blobs in digest order, so consecutive reads of one image's
    // manifests hit frames all over the archive: cached, each frame is decompressed once,
    // not once per manifest in it.
    let index = Arc::new(bundle.archive_index(&Default::default())?.with_frame_cache(PLAN_FRAME_CACHE));
    let layout = index.layout_index()?.unwrap_or_else(|| ImageIndex {
        schema_version: 2,
        media_type: None,
        manifests: vec![],
        annotations: Default::default(),
    });
    let tops = bom.images.iter().map(|image| image_top(&layout, image)).collect::<genesis_bundle::Result<Vec<_>>>()?;
    // Read in archive order, each frame decompressed about once; planned in the BOM's order.
    let mut order: Vec<usize> = (0..tops.len()).collect();
    order.sort_by_key(|&i| index.locate(&layout_path(&tops[i].digest)).map(|(offset, _)| offset));
    let mut plans = order
        .into_iter()
        .map(|i| Ok((i, plan_image(&index, &bom.images[i].reference, &tops[i], destination)?)))
        .collect::<Result<Vec<_>>>()?;
    plans.sort_by_key(|(i, _)| *i);
    Ok((index, plans.into_iter().map(|(_, plan)| plan).collect()))
}

/// What a load has to do, worked out from the signed BOM and the registry before any
/// payload byte is read: each image's manifests and blobs (manifests checked against the
/// signed digests), and which blobs each destination repository already has.
pub struct LoadPlan {
    /// SHA-256 of the BOM of the bundle planned.
    bom_sha256: Digest,
    index: Arc<ArchiveIndex>,
    images: Vec<ImagePlan>,
    /// `(repository, blob)` pairs the registry answered HEAD for.
    present: HashSet<(String, Digest)>,
    /// For a delta: the blobs it requires of its base, which it does not carry.
    required: HashSet<Digest>,
    /// For a delta: each `(repository, blob)` pair an image needs, of a blob the bundle
    /// requires, that its repository lacks, with the repository of the bundle's that holds
    /// it, to mount it from.
    mounts: HashMap<(String, Digest), String>,
    /// For a delta: the base it needs, for the error of a mount the registry refuses.
    base: Option<genesis_bundle::BaseBundle>,
}

impl LoadPlan {
    /// Plans the load of `bundle` into `destination`, asking the registry (HEAD, many at a
    /// time) which images it holds whole and, of the others, which blobs it has.
    ///
    /// An image whose tag (or, untagged, whose digest) already names the top manifest the BOM
    /// pins is taken as whole without a HEAD per blob: a registry accepts a manifest only once
    /// the blobs and child manifests it names are there, and a load tags an image only after
    /// every manifest of it is in. So a re-load of a release of hundreds of images asks one
    /// question per image, not one per blob.
    ///
    /// For a delta bundle (decision 0043), every blob an image references must be carried or
    /// required of its base with the size the manifest gives it, and every blob required must
    /// be in one of the repositories the images go to: asked here (HEAD), before anything is
    /// pushed, and refused naming each one missing and the base to load first.
    pub async fn new(bundle: &dyn SignedBom, registry: &Registry, destination: &Destination) -> Result<LoadPlan> {
        let (index, mut images) = plan_all(bundle, destination)?;
        let requires = bundle.signed_bom().requires.as_ref();
        if let Some(requires) = requires {
            check_references(&index, requires, &images)?;
        }
        let whole = futures_util::stream::iter(images.iter().map(|image| async move {
            match image.reference.tag() {
                Some(tag) => Ok::<_, RegistryError>(
                    registry.tag_digest(&image.repository, tag).await?.as_ref() == Some(&image.top),
                ),
                None => registry.has_manifest(&image.repository, &image.top).await,
            }
        }))
        .buffered(PRESENCE_CHECKS_AT_ONCE)
        .collect::<Vec<_>>()
        .await;
        for (image, whole) in images.iter_mut().zip(whole) {
            image.in_place = whole?;
        }
        let assumed: HashSet<(String, Digest)> = blob_pairs(images.iter().filter(|i| i.in_place)).collect();
        let mut pairs: BTreeSet<(String, Digest)> = blob_pairs(images.iter().filter(|i| !i.in_place)).collect();
        if let Some(requires) = requires {
            // Each blob required of the base, in every repository of the bundle: one that holds
            // it is where the others mount it from.
            let repositories: BTreeSet<&String> = images.iter().map(|i| &i.repository).collect();
            pairs.extend(
                requires
                    .blobs
                    .iter()
                    .flat_map(|b| repositories.iter().map(move |repo| (repo.to_string(), b.digest.clone()))),
            );
            pairs.retain(|pair| !assumed.contains(pair));
        }
        let answers = futures_util::stream::iter(pairs.into_iter().map(|(repo, digest)| async move {
            let required = requires.is_some_and(|r| r.blob(&digest).is_some());
            let has = match registry.has_blob(&repo, &digest).await {
                // A presence check is only a shortcut: a registry that cannot say (a blob a
                // crash left half-stored answers 500 to HEAD) gets the verified blob again,
                // and its upload says whether the registry can take it. Not a blob a delta
                // requires of its base: there are no bytes to send, so the answer decides.
                Err(RegistryError::Status { status, .. }) if status >= 500 && !required => {
                    tracing::warn!(%repo, %digest, status, "the registry could not say whether it has this blob; uploading it");
                    false
                }
                answer => answer?,
            };
            Ok::<_, RegistryError>(has.then_some((repo, digest)))
        }))
        .buffer_unordered(PRESENCE_CHECKS_AT_ONCE)
        .collect::<Vec<_>>()
        .await;
        let mut present = assumed;
        for answer in answers {
            present.extend(answer?);
        }
        let mounts = match requires {
            Some(requires) => mounts_of_required(registry, requires, &images, &present)?,
            None => HashMap::new(),
        };
        for image in &images {
            image.progress.set_total(image.blobs.values().sum());
            for (digest, size) in &image.blobs {
                if present.contains(&(image.repository.clone(), digest.clone())) {
                    image.progress.add(*size);
                }
            }
        }
        Ok(LoadPlan {
            bom_sha256: bundle.bom_sha256().clone(),
            index,
            images,
            present,
            required: requires.map(|r| r.blobs.iter().map(|b| b.digest.clone()).collect()).unwrap_or_default(),
            mounts,
            base: requires.map(|r| r.base.clone()),
        })
    }

    /// Each image's reference with the count of its blob bytes in place in the registry,
    /// for a display.
    pub fn progress(&self) -> Vec<(String, ProgressCounter)> {
        self.images.iter().map(|i| (i.source.clone(), i.progress.clone())).collect()
    }

    /// Whether the registry has every blob: then only the manifests are needed and the
    /// payload need not be read at all ([`push_manifests_only`]).
    pub fn complete(&self) -> bool {
        blob_pairs(&self.images).all(|pair| self.present.contains(&pair))
    }
}

/// For a delta bundle: refuses, before the registry is asked anything, a blob an image
/// references that the bundle neither carries nor requires of its base, one it requires with
/// another size than the manifest that references it gives, and one it requires that no image
/// references. A required blob is accepted in place of a carried one under these terms only.
fn check_references(index: &ArchiveIndex, requires: &Requires, images: &[ImagePlan]) -> Result<()> {
    let mut referenced: HashSet<&Digest> = HashSet::new();
    for image in images {
        for (digest, &size) in &image.blobs {
            referenced.insert(digest);
            if index.locate(&layout_path(digest)).is_some() {
                continue;
            }
            match requires.blob(digest) {
                Some(required) if required.size == size => {}
                Some(required) => {
                    return Err(BundleError::BomInvalid(format!(
                        "requires.blobs lists {digest} with {} bytes, but image {} references it with {size} bytes: \
                         the BOM and the image's manifest disagree, so the blob the base left is not the one this \
                         image needs",
                        required.size, image.source
                    ))
                    .into());
                }
                None => {
                    return Err(BundleError::BomInvalid(format!(
                        "image {} references blob {digest} ({size} bytes), which this delta bundle neither carries \
                         nor requires of its base {}",
                        image.source, requires.base
                    ))
                    .into());
                }
            }
        }
    }
    if let Some(unreferenced) = requires.blobs.iter().find(|b| !referenced.contains(&b.digest)) {
        return Err(BundleError::BomInvalid(format!(
            "requires.blobs lists {} ({} bytes), which no image of the bundle references",
            unreferenced.digest, unreferenced.size
        ))
        .into());
    }
    Ok(())
}

/// For a delta bundle, once the registry said which repositories of the bundle hold which
/// blobs (`present`): refuses the load when a blob the bundle requires of its base is in none
/// of them, naming each such blob and the base; otherwise returns, for each image that needs
/// a required blob its repository lacks, a repository of the bundle's that holds it, to mount
/// it from (the first by name, so the same registry state gives the same mounts).
fn mounts_of_required(
    registry: &Registry,
    requires: &Requires,
    images: &[ImagePlan],
    present: &HashSet<(String, Digest)>,
) -> Result<HashMap<(String, Digest), String>> {
    let repositories: BTreeSet<&String> = images.iter().map(|i| &i.repository).collect();
    let holder = |digest: &Digest| -> Option<String> {
        repositories
            .iter()
            .find(|repo| present.contains(&(repo.to_string(), digest.clone())))
            .map(|repo| repo.to_string())
    };
    let missing: Vec<RequiredBlob> = requires.blobs.iter().filter(|b| holder(&b.digest).is_none()).cloned().collect();
    if !missing.is_empty() {
        return Err(RegistryError::BaseBlobsMissing {
            registry: registry.host().to_owned(),
            repositories: repositories.into_iter().cloned().collect(),
            base: Box::new(requires.base.clone()),
            missing,
        });
    }
    let mut mounts = HashMap::new();
    for image in images {
        for digest in image.blobs.keys().filter(|d| requires.blob(d).is_some()) {
            let pair = (image.repository.clone(), digest.clone());
            if !present.contains(&pair)
                && let Some(from) = holder(digest)
            {
                mounts.insert(pair, from);
            }
        }
    }
    Ok(mounts)
}

/// Every `(repository, blob)` pair `images` need.
fn blob_pairs<'a>(images: impl IntoIterator<Item = &'a ImagePlan>) -> impl Iterator<Item = (String, Digest)> {
    images.into_iter().flat_map(|p| p.blobs.keys().map(|d| (p.repository.clone(), d.clone())))
}

/// The fast path of a re-load: the registry has every blob of a bundle whose BOM signature
/// verified, so only the manifests (checked against the signed digests) are pushed. It takes
/// the bundle's [`AttestedBundle`], the proof that the attestations the policy judged were
/// checked (the SBOM read and matched), which a load that does not read the payload would
/// otherwise skip; the plan must be of that same bundle.
///
/// Images only: nothing here knows a cluster's install record, so an install onto a cluster
/// goes through `genesis_kube::install`, which judges anti-rollback before and after this.
///
/// ```no_run
/// # async fn run(
/// #     bundle: genesis_trust::VerifiedBundle,
/// #     registry: genesis_registry::Registry,
/// #     destination: genesis_registry::Destination,
/// # ) -> Result<(), Box<dyn std::error::Error>> {
/// let plan = genesis_registry::LoadPlan::new(&bundle, &registry, &destination).await?;
/// let attested = bundle.check_attestations()?;
/// genesis_registry::push_manifests_only(plan, &attested, &registry).await?;
/// # Ok(())
/// # }
/// ```
///
/// Without the attestations checked, it does not compile:
///
/// ```compile_fail
/// # async fn run(
/// #     bundle: genesis_trust::VerifiedBundle,
/// #     registry: genesis_registry::Registry,
/// #     destination: genesis_registry::Destination,
/// # ) -> Result<(), Box<dyn std::error::Error>> {
/// let plan = genesis_registry::LoadPlan::new(&bundle, &registry, &destination).await?;
/// genesis_registry::push_manifests_only(plan, &registry).await?;
/// # Ok(())
/// # }
/// ```
pub async fn push_manifests_only(
    plan: LoadPlan,
    attested: &AttestedBundle<'_>,
    registry: &Registry,
) -> Result<LoadSummary> {
    let checked = attested.bundle().bom_sha256();
    if *checked != plan.bom_sha256 {
        return Err(RegistryError::Invalid(format!(
            "the load plan is of the bundle whose BOM is {}, the attestations checked are of {checked}: plan and check the same bundle",
            plan.bom_sha256
        )));
    }
    if !plan.complete() {
        return Err(RegistryError::Invalid("the registry lacks blobs of this bundle: a full load is needed".into()));
    }
    let images = futures_util::stream::iter(plan.images.into_iter().map(|image| {
        let blobs = BlobCounts { present: image.blobs.len() as u64, ..BlobCounts::default() };
        push_manifests(registry, image, blobs)
    }))
    .buffered(IMAGES_AT_ONCE)
    .collect::<Vec<_>>()
    .await
    .into_iter()
    .collect::<Result<Vec<_>>>()?;
    Ok(LoadSummary { registry: registry.host().to_owned(), images })
}

/// Pushes the manifests of one image (children first, by digest; a manifest already there is
/// written again, the same bytes) and its tag; nothing for an image the registry holds whole.
async fn push_manifests(registry: &Registry, plan: ImagePlan, blobs: BlobCounts) -> Result<LoadedImage> {
    let repo = plan.repository.clone();
    let top = plan.manifests.last().expect("a plan has its top manifest");
    if !plan.in_place {
        for m in &plan.manifests {
            registry.put_manifest(&repo, &m.digest.to_string(), m).await?;
        }
        index_referrer(registry, &repo, top).await?;
        if let Some(tag) = plan.reference.tag() {
            registry.put_manifest(&repo, tag, top).await?;
        }
    }
    let tagged = plan.reference.tag().map(|tag| format!("{}/{repo}:{tag}", registry.host()));
    let target = format!("{}/{repo}@{}", registry.host(), plan.top);
    tracing::info!(image = %plan.source, %target, "loaded");
    Ok(LoadedImage { source: plan.source, target, tagged, manifests: plan.manifests.len() as u64, blobs })
}

/// Makes a manifest with a `subject` discoverable where the registry has no Referrers API,
/// by adding it to the `sha256-<hex>` tag index of OCI 1.1 (as oras and cosign do). The
/// index is read, added to and written back holding the tag's lock, so that the concurrent
/// copies of a run adding referrers of one subject never write over each other's.
pub(crate) async fn index_referrer(registry: &Registry, repo: &str, manifest: &Manifest) -> Result<()> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&manifest.bytes) else { return Ok(()) };
    let Some(subject) = value.get("subject").and_then(|s| serde_json::from_value::<Descriptor>(s.clone()).ok()) else {
        return Ok(());
    };
    let tag = crate::fallback_tag(&subject.digest);
    let _writing = registry.lock_tag(repo, &tag).await;
    let (mut listed, api) = registry.referrers(repo, &subject.digest).await?;
    if api || listed.iter().any(|d| d.digest == manifest.digest) {
        return Ok(());
    }
    let artifact_type =
        value["artifactType"].as_str().or_else(|| value["config"]["mediaType"].as_str()).map(str::to_owned);
    let annotations = value["annotations"]
        .as_object()
        .map(|m| m.iter().filter_map(|(k, v)| Some((k.clone(), v.as_str()?.to_owned()))).collect())
        .unwrap_or_default();
    listed.push(Descriptor {
        media_type: manifest.media_type.clone(),
        digest: manifest.digest.clone(),
        size: manifest.bytes.len() as u64,
        platform: None,
        artifact_type,
        annotations,
    });
    let index = ImageIndex {
        schema_version: 2,
        media_type: Some(media_types::OCI_INDEX.into()),
        manifests: listed,
        annotations: Default::default(),
    };
    let bytes = serde_json::to_vec(&index).map_err(|e| RegistryError::Invalid(e.to_string()))?;
    let digest = genesis_bundle::sha256(&bytes);
    let tag_index = Manifest { bytes: Bytes::from(bytes), media_type: media_types::OCI_INDEX.into(), digest };
    registry.put_manifest(repo, &tag, &tag_index).await?;
    tracing::info!(repo, subject = %subject.digest, referrer = %manifest.digest, "indexed a referrer under the fallback tag");
    Ok(())
}

/// Bytes of blob data a load may hold queued for the network while it reads ahead.
pub const STREAM_MEMORY: u64 = 16 << 20;

/// Checks `bundle` in full and pushes its images to the registry in the same pass: every
/// blob the plan found missing is uploaded from the bytes being checked (at most
/// `concurrency` at once), each completed only once it matched its signed digest; the
/// manifests and tags follow only when the whole bundle checked out. Blobs another
/// repository of the run has are mounted; an upload that failed on the way is retried
/// from the archive. A bundle that fails its check leaves no manifest or tag, and no blob
/// but ones that matched their signed digests.
pub async fn load(
    bundle: VerifiedBundle,
    plan: LoadPlan,
    registry: &Registry,
    concurrency: usize,
) -> Result<(CheckedBundle, LoadSummary)> {
    tracing::info!(registry = registry.host(), images = plan.images.len(), "loading images");
    let (streamed, targets) = stream_targets(&plan);
    let sink = UploadSink::new(registry.clone(), targets, concurrency, STREAM_MEMORY);
    let (checked, failed) = check_while_uploading(bundle, sink, registry).await?;

    // Retries (read again from the archive) and mounts, then each image's manifests: images
    // overlap, their blob operations under one bound for the whole load.
    let LoadPlan { index, images, present, required, mounts, base, .. } = plan;
    retry_uploads(failed, &index, registry).await?;
    let blob_slots = Semaphore::new(concurrency.max(1));
    let delta = Delta { required: &required, mounts: &mounts, base: base.as_ref() };
    let (index, present, streamed, blob_slots, delta) = (&index, &present, &streamed, &blob_slots, &delta);
    let images = futures_util::stream::iter(images.into_iter().map(|image| async move {
        let counts = place_unstreamed_blobs(&image, index, present, streamed, delta, registry, blob_slots).await?;
        push_manifests(registry, image, counts).await
    }))
    .buffered(IMAGES_AT_ONCE)
    .collect::<Vec<_>>()
    .await
    .into_iter()
    .collect::<Result<Vec<_>>>()?;
    Ok((checked, LoadSummary { registry: registry.host().to_owned(), images }))
}

/// The blobs the verification pass uploads, keyed by their path in the bundle: each blob
/// the registry lacks streams to the first repository lacking it; the others mount it.
/// Also returns, for each streamed blob, the repository it streams to.
fn stream_targets(plan: &LoadPlan) -> (HashMap<Digest, String>, HashMap<String, stream_upload::Target>) {
    let mut streamed: HashMap<Digest, String> = HashMap::new();
    let mut targets = HashMap::new();
    for image in &plan.images {
        for (digest, &size) in &image.blobs {
            let repo = &image.repository;
            // A blob a delta requires of its base is not in the payload: it is mounted.
            if plan.required.contains(digest)
                || plan.present.contains(&(repo.clone(), digest.clone()))
                || streamed.contains_key(digest)
            {
                continue;
            }
            let path = layout_path(digest);
            streamed.insert(digest.clone(), repo.clone());
            let target = stream_upload::Target {
                digest: digest.clone(),
                size,
                repo: repo.clone(),
                progress: image.progress.clone(),
            };
            targets.insert(path, target);
        }
    }
    (streamed, targets)
}

/// Runs the verification pass of `bundle` on a blocking thread, `sink` uploading from its
/// bytes, and waits for every upload the pass started. Returns the checked bundle and the
/// uploads that failed on the way, to be retried from the archive.
async fn check_while_uploading(
    bundle: VerifiedBundle,
    sink: UploadSink,
    registry: &Registry,
) -> Result<(CheckedBundle, Vec<stream_upload::Target>)> {
    let (checked, (started, stopped)) = tokio::task::spawn_blocking(move || {
        let mut sink = sink;
        let checked = bundle.check_with(&mut sink);
        (checked, sink.finish())
    })
    .await
    .map_err(|e| RegistryError::Invalid(format!("the verification pass stopped: {e}")))?;
    // A pass that failed on its own is a refusal; one the sink stopped ends with the
    // registry's answer to the upload that failed.
    if checked.is_err() && !stopped {
        started.iter().for_each(|s| s.task.abort());
    }
    let mut failed = Vec::new();
    let mut refused_upload = None;
    for started in started {
        match started.task.await {
            Ok(Ok(())) => started.target.progress.add(started.target.size),
            Ok(Err(e)) if e.is_transient() => {
                tracing::warn!(registry = registry.host(), digest = %started.target.digest, error = %e, "upload failed, retrying this blob");
                failed.push(started.target);
            }
            Ok(Err(e)) => {
                refused_upload.get_or_insert(e);
            }
            Err(e) if e.is_cancelled() => {}
            Err(e) => return Err(RegistryError::Invalid(format!("an upload task stopped: {e}"))),
        }
    }
    if let Some(e) = refused_upload
        && (checked.is_ok() || stopped)
    {
        return Err(e);
    }
    let checked = checked.map_err(|e| RegistryError::Refused(Box::new(e)))?;
    Ok((checked, failed))
}

/// Pushes again, read from the archive, each blob whose streamed upload failed on the way.
async fn retry_uploads(failed: Vec<stream_upload::Target>, index: &ArchiveIndex, registry: &Registry) -> Result<()> {
    for target in failed {
        let source = index
            .blob(&target.digest)
            .ok_or_else(|| RegistryError::NotFound(format!("blob {} in the bundle", target.digest)))?;
        registry.push_blob(&target.repo, &target.digest, target.size, Arc::new(source), None, &target.progress).await?;
    }
    Ok(())
}

/// What a load knows of a delta bundle's base (decision 0043): the blobs it requires of it,
/// and where each image's repository mounts those it lacks from. Empty for a full bundle.
struct Delta<'a> {
    required: &'a HashSet<Digest>,
    mounts: &'a HashMap<(String, Digest), String>,
    base: Option<&'a genesis_bundle::BaseBundle>,
}

/// Mounts into `repo` a blob a delta requires of its base, from the repository of the
/// bundle's the plan found holding it; a registry that will not mount it fails the load
/// before any manifest of the image is pushed, naming the blob and the base.
async fn mount_required(
    registry: &Registry,
    repo: &str,
    digest: &Digest,
    size: u64,
    delta: &Delta<'_>,
    progress: &ProgressCounter,
    blob_slots: &Semaphore,
) -> Result<(PushOutcome, u64)> {
    let missing = || RegistryError::BaseBlobsMissing {
        registry: registry.host().to_owned(),
        repositories: vec![repo.to_owned()],
        base: Box::new(delta.base.cloned().expect("a delta's plan has its base")),
        missing: vec![RequiredBlob { digest: digest.clone(), size }],
    };
    let Some(from) = delta.mounts.get(&(repo.to_owned(), digest.clone())) else { return Err(missing()) };
    let _slot = blob_slots.acquire().await.expect("the load's blob slots are never closed");
    if registry.mount_blob(repo, digest, from).await? {
        tracing::info!(registry = registry.host(), %digest, from = %from, into = %repo, "mounted a blob of the base");
        progress.add(size);
        Ok((PushOutcome::Mounted, size))
    } else {
        Err(RegistryError::MountRefused {
            registry: registry.host().to_owned(),
            blob: Box::new(RequiredBlob { digest: digest.clone(), size }),
            from: from.clone(),
            into: repo.to_owned(),
            base: Box::new(delta.base.cloned().expect("a delta's plan has its base")),
        })
    }
}

/// Puts in place the blobs of one image that the pass did not stream to its repository
/// (mounted from the repository they streamed to, else pushed from the archive; a blob a
/// delta requires of its base mounted from the repository of the bundle's that holds it),
/// each holding one of the load's `blob_slots`, and counts what happened to each of its blobs.
async fn place_unstreamed_blobs(
    image: &ImagePlan,
    index: &ArchiveIndex,
    present: &HashSet<(String, Digest)>,
    streamed: &HashMap<Digest, String>,
    delta: &Delta<'_>,
    registry: &Registry,
    blob_slots: &Semaphore,
) -> Result<BlobCounts> {
    let repo = &image.repository;
    let mut counts = BlobCounts::default();
    let outcomes: Vec<Result<(PushOutcome, u64)>> =
        futures_util::stream::iter(image.blobs.iter().map(|(digest, &size)| {
            let progress = &image.progress;
            let in_registry = present.contains(&(repo.clone(), digest.clone()));
            let first = streamed.get(digest);
            async move {
                if in_registry {
                    return Ok((PushOutcome::Present, size));
                }
                if first == Some(repo) {
                    return Ok((PushOutcome::Uploaded, size));
                }
                if delta.required.contains(digest) {
                    return mount_required(registry, repo, digest, size, delta, progress, blob_slots).await;
                }
                let source = index
                    .blob(digest)
                    .ok_or_else(|| RegistryError::NotFound(format!("blob {digest} in the bundle")))?;
                let _slot = blob_slots.acquire().await.expect("the load's blob slots are never closed");
                let outcome = registry
                    .push_blob(repo, digest, size, Arc::new(source), first.map(String::as_str), progress)
                    .await?;
                Ok((outcome, size))
            }
        }))
        .buffer_unordered(image.blobs.len().max(1))
        .collect()
        .await;
    for outcome in outcomes {
        match outcome? {
            (PushOutcome::Present, _) => counts.present += 1,
            (PushOutcome::Mounted, _) => counts.mounted += 1,
            (PushOutcome::Uploaded, size) => {
                counts.uploaded += 1;
                counts.uploaded_bytes += size;
            }
        }
    }
    Ok(counts)
}
