//! `bundle-loader load`: push every image of a checked bundle into a registry with the same
//! manifest bytes and digests. Blobs the registry has are skipped (HEAD), blobs already
//! pushed to another repository in this run are mounted, the rest are uploaded a few at a
//! time straight out of the archive. An interrupted load, run again, sends only what is
//! missing.

use std::collections::{BTreeMap, HashMap};
use std::sync::{Arc, Mutex};

use bytes::Bytes;
use futures_util::StreamExt as _;
use genesis_bundle::Progress;
use genesis_trust::CheckedBundle;
use genesis_types::{Descriptor, Digest, ImageIndex, ImageManifest, ImageReference, media_types};

use crate::archive_blobs::{ArchiveIndex, image_top};
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

/// How many blobs of one image upload at once.
pub const DEFAULT_CONCURRENCY: usize = 4;

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
    source: String,
    top: Digest,
    /// Every blob (config, layer) with its size.
    blobs: BTreeMap<Digest, u64>,
    /// Manifests, children before parents; the last is the top.
    manifests: Vec<Manifest>,
}

fn plan_image(index: &ArchiveIndex, source: &str, top: &Descriptor) -> Result<ImagePlan> {
    let reference: ImageReference = source.parse().map_err(|e| RegistryError::Invalid(format!("{e}")))?;
    let mut plan = ImagePlan {
        reference,
        source: source.to_owned(),
        top: top.digest.clone(),
        blobs: BTreeMap::new(),
        manifests: Vec::new(),
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
    let bytes = index.read_verified(&d.digest, crate::MAX_MANIFEST as u64)?;
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
fn plan_all(path: &std::path::Path, bom: &genesis_bundle::Bom) -> Result<(Arc<ArchiveIndex>, Vec<ImagePlan>)> {
    let index = Arc::new(ArchiveIndex::open(path, bom, &Default::default())?);
    let layout = index.layout_index(bom)?.unwrap_or_else(|| ImageIndex {
        schema_version: 2,
        media_type: None,
        manifests: vec![],
        annotations: Default::default(),
    });
    let mut plans = Vec::new();
    for image in &bom.images {
        plans.push(plan_image(&index, &image.reference, &image_top(&layout, image)?)?);
    }
    Ok((index, plans))
}

/// The fast path of a re-load: when the registry already has every blob of every image of
/// a bundle whose BOM signature verified, only the manifests (checked against the signed
/// digests) are needed, so the payload is not read at all. `None` when a blob is missing:
/// then check the whole bundle and call [`load`].
pub async fn load_if_present(
    bundle: &dyn genesis_trust::SignedBom,
    registry: &Registry,
    destination: &Destination,
) -> Result<Option<LoadSummary>> {
    let (_, plans) = plan_all(bundle.archive(), bundle.signed_bom())?;
    for plan in &plans {
        let repo = destination.repository(&plan.reference);
        let checks = futures_util::stream::iter(plan.blobs.keys().map(|d| registry.has_blob(&repo, d)))
            .buffer_unordered(8)
            .collect::<Vec<_>>()
            .await;
        for present in checks {
            if !present? {
                return Ok(None);
            }
        }
    }
    let mut images = Vec::new();
    for plan in plans {
        let blobs = BlobCounts { present: plan.blobs.len() as u64, ..BlobCounts::default() };
        images.push(push_manifests(registry, destination, plan, blobs).await?);
    }
    Ok(Some(LoadSummary { registry: registry.host().to_owned(), images }))
}

/// Pushes the manifests of one image (children first, by digest) and its tag.
async fn push_manifests(
    registry: &Registry,
    destination: &Destination,
    plan: ImagePlan,
    blobs: BlobCounts,
) -> Result<LoadedImage> {
    let repo = destination.repository(&plan.reference);
    for m in &plan.manifests {
        if !registry.has_manifest(&repo, &m.digest).await? {
            registry.put_manifest(&repo, &m.digest.to_string(), m).await?;
        }
    }
    let top = plan.manifests.last().expect("a plan has its top manifest");
    index_referrer(registry, &repo, top).await?;
    let tagged = match plan.reference.tag() {
        Some(tag) => {
            registry.put_manifest(&repo, tag, top).await?;
            Some(format!("{}/{repo}:{tag}", registry.host()))
        }
        None => None,
    };
    let target = format!("{}/{repo}@{}", registry.host(), plan.top);
    tracing::info!(image = %plan.source, %target, "loaded");
    Ok(LoadedImage { source: plan.source, target, tagged, manifests: plan.manifests.len() as u64, blobs })
}

/// Makes a manifest with a `subject` discoverable where the registry has no Referrers API,
/// by adding it to the `sha256-<hex>` tag index of OCI 1.1 (as oras and cosign do).
async fn index_referrer(registry: &Registry, repo: &str, manifest: &Manifest) -> Result<()> {
    let Ok(value) = serde_json::from_slice::<serde_json::Value>(&manifest.bytes) else { return Ok(()) };
    let Some(subject) = value.get("subject").and_then(|s| serde_json::from_value::<Descriptor>(s.clone()).ok()) else {
        return Ok(());
    };
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
    registry.put_manifest(repo, &crate::fallback_tag(&subject.digest), &tag_index).await?;
    tracing::info!(repo, subject = %subject.digest, referrer = %manifest.digest, "indexed a referrer under the fallback tag");
    Ok(())
}

/// Pushes every image of `bundle` to `destination` through `registry`.
pub async fn load(
    bundle: &CheckedBundle,
    registry: &Registry,
    destination: &Destination,
    concurrency: usize,
    progress: &Progress,
) -> Result<LoadSummary> {
    let (index, plans) = plan_all(bundle.path(), bundle.bom())?;
    progress.set_total(plans.iter().flat_map(|p| p.blobs.values()).sum());
    tracing::info!(registry = registry.host(), images = plans.len(), "loading images");

    let pushed_to: Arc<Mutex<HashMap<Digest, String>>> = Arc::default();
    let mut images = Vec::new();
    for plan in plans {
        let repo = destination.repository(&plan.reference);
        let counts = Arc::new(Mutex::new(BlobCounts::default()));
        let results: Vec<Result<()>> = futures_util::stream::iter(plan.blobs.iter().map(|(digest, &size)| {
            let (index, pushed_to, counts, repo, registry) =
                (Arc::clone(&index), Arc::clone(&pushed_to), Arc::clone(&counts), repo.clone(), registry.clone());
            let progress = progress.clone();
            let digest = digest.clone();
            async move {
                let source = index
                    .blob(&digest)
                    .ok_or_else(|| RegistryError::NotFound(format!("blob {digest} in the bundle")))?;
                let mount_from = pushed_to.lock().expect("not poisoned").get(&digest).filter(|r| **r != repo).cloned();
                let outcome = registry
                    .push_blob(&repo, &digest, size, Arc::new(source), mount_from.as_deref(), &progress)
                    .await?;
                let mut c = counts.lock().expect("not poisoned");
                match outcome {
                    PushOutcome::Present => c.present += 1,
                    PushOutcome::Mounted => c.mounted += 1,
                    PushOutcome::Uploaded => {
                        c.uploaded += 1;
                        c.uploaded_bytes += size;
                    }
                }
                pushed_to.lock().expect("not poisoned").entry(digest).or_insert(repo);
                Ok(())
            }
        }))
        .buffer_unordered(concurrency.max(1))
        .collect()
        .await;
        results.into_iter().collect::<Result<Vec<()>>>()?;
        let blobs = counts.lock().expect("not poisoned").clone();
        images.push(push_manifests(registry, destination, plan, blobs).await?);
    }
    Ok(LoadSummary { registry: registry.host().to_owned(), images })
}
