//! Pulling registry sources into the local blob cache before the (synchronous) plan: every
//! manifest and blob is checked against its digest while it downloads and lands in the cache
//! only then, so the plan reads registry images exactly like OCI layouts. A cosign signature
//! stored under the `sha256-<hex>.sig` tag is pulled too, so it survives the trip.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use futures_util::StreamExt as _;
use genesis_registry::{Registry, RegistryError};
use genesis_types::{Descriptor, Digest, ImageIndex, ImageManifest, ImageReference, Platform, media_types};

use crate::layout::write_blob;
use crate::spec::{BundleSpec, ImageSource};
use crate::{BuildError, Result};

/// Blobs downloaded at once.
const CONCURRENCY: usize = 4;

/// What the pull step found: for each registry source (as written in the spec), the
/// descriptor of its top manifest or index in the cache, and its cosign signature if any.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct Pulled {
    /// Source text to top descriptor.
    pub images: BTreeMap<String, Descriptor>,
    /// Source text to the top descriptor of its `sha256-<hex>.sig` signature image.
    pub signatures: BTreeMap<String, Descriptor>,
}

/// The default cache: `$XDG_CACHE_HOME/genesis`, else `~/.cache/genesis`.
pub fn default_cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("genesis")
}

/// Every registry host a spec pulls from.
pub fn registries(spec: &BundleSpec) -> Vec<String> {
    let mut hosts: Vec<String> = spec
        .spec
        .images
        .iter()
        .filter_map(|i| match &i.image {
            ImageSource::Registry { reference, .. } => Some(reference.registry().to_owned()),
            ImageSource::OciLayout { .. } => None,
        })
        .collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

fn registry_error(e: RegistryError) -> BuildError {
    BuildError::Registry(Box::new(e))
}

/// Pulls every registry source of `spec` into `cache`, through clients made by `connect`.
pub async fn pull(spec: &BundleSpec, cache: &Path, connect: &dyn Fn(&str) -> Result<Registry>) -> Result<Pulled> {
    let mut pulled = Pulled::default();
    for image in &spec.spec.images {
        let ImageSource::Registry { reference, text } = &image.image else { continue };
        let registry = connect(reference.registry())?;
        let platforms: Vec<Platform> = image.platforms.iter().map(|p| p.0.clone()).collect();
        let top = pull_image(&registry, reference, &platforms, cache).await?;
        tracing::info!(source = %text, digest = %top.digest, "pulled");
        let sig_tag = format!("{}-{}.sig", top.digest.algorithm().name(), top.digest.hex());
        match registry.get_manifest(reference.repository(), &sig_tag).await {
            Ok(_) => {
                let sig_ref: ImageReference = format!("{}/{}:{sig_tag}", reference.registry(), reference.repository())
                    .parse()
                    .map_err(|e| BuildError::input(cache, format!("{e}")))?;
                let sig = pull_image(&registry, &sig_ref, &[], cache).await?;
                tracing::info!(source = %text, signature = %sig_tag, "carrying the cosign signature");
                pulled.signatures.insert(text.clone(), sig);
            }
            Err(RegistryError::NotFound(_)) => {}
            Err(e) => return Err(registry_error(e)),
        }
        pulled.images.insert(text.clone(), top);
    }
    Ok(pulled)
}

/// Pulls one image (manifests, then blobs a few at a time) and returns its top descriptor.
async fn pull_image(
    registry: &Registry,
    reference: &ImageReference,
    platforms: &[Platform],
    cache: &Path,
) -> Result<Descriptor> {
    let repo = reference.repository();
    let wanted = reference
        .digest()
        .map(ToString::to_string)
        .or_else(|| reference.tag().map(str::to_owned))
        .unwrap_or_else(|| "latest".into());
    let top_manifest = registry.get_manifest(repo, &wanted).await.map_err(registry_error)?;
    let top = Descriptor {
        media_type: top_manifest.media_type.clone(),
        digest: top_manifest.digest.clone(),
        size: top_manifest.bytes.len() as u64,
        platform: None,
        artifact_type: None,
        annotations: BTreeMap::new(),
    };
    write_blob(&cache.join(top.digest.blob_path()), &top_manifest.bytes)?;
    let mut blobs: BTreeMap<Digest, u64> = BTreeMap::new();
    let mut manifests = vec![(top.clone(), top_manifest.bytes.to_vec())];
    while let Some((d, bytes)) = manifests.pop() {
        let invalid = |e: serde_json::Error| BuildError::input(cache, format!("{repo}@{}: {e}", d.digest));
        if media_types::is_index(&d.media_type) {
            let index: ImageIndex = serde_json::from_slice(&bytes).map_err(invalid)?;
            for child in index.manifests {
                let selected = platforms.is_empty() || child.platform.as_ref().is_some_and(|p| platforms.contains(p));
                if !selected {
                    continue;
                }
                let m = registry.get_manifest(repo, &child.digest.to_string()).await.map_err(registry_error)?;
                write_blob(&cache.join(child.digest.blob_path()), &m.bytes)?;
                manifests.push((child, m.bytes.to_vec()));
            }
        } else if media_types::is_manifest(&d.media_type) {
            let m: ImageManifest = serde_json::from_slice(&bytes).map_err(invalid)?;
            for b in std::iter::once(&m.config).chain(&m.layers) {
                blobs.insert(b.digest.clone(), b.size);
            }
        }
    }
    let results: Vec<Result<()>> = futures_util::stream::iter(blobs.into_iter().map(|(digest, size)| async move {
        let path = cache.join(digest.blob_path());
        if std::fs::metadata(&path).is_ok_and(|m| m.len() == size) {
            return Ok(());
        }
        download(registry, repo, &digest, size, &path).await
    }))
    .buffer_unordered(CONCURRENCY)
    .collect()
    .await;
    results.into_iter().collect::<Result<Vec<()>>>()?;
    Ok(top)
}

/// Downloads a blob to a scratch file and renames it into the cache only once its digest
/// checked out; a bad blob leaves nothing.
async fn download(registry: &Registry, repo: &str, digest: &Digest, size: u64, path: &Path) -> Result<()> {
    let parent = path.parent().expect("blob paths have a folder");
    std::fs::create_dir_all(parent).map_err(|e| BuildError::input(parent, format!("cannot create: {e}")))?;
    let tmp =
        genesis_bundle::scratch::scratch_path(path, &format!("download-{}", digest.hex().get(..8).unwrap_or("x")))
            .expect("blob paths have a name");
    let mut file = std::io::BufWriter::new(
        std::fs::File::create(&tmp).map_err(|e| BuildError::input(&tmp, format!("cannot create: {e}")))?,
    );
    let result = registry.get_blob(repo, digest, size, &mut file).await;
    let result = result.map_err(registry_error).and_then(|()| {
        use std::io::Write as _;
        file.flush().map_err(|e| BuildError::input(&tmp, format!("cannot write: {e}")))
    });
    drop(file);
    match result {
        Ok(()) => std::fs::rename(&tmp, path).map_err(|e| BuildError::input(path, format!("cannot write: {e}"))),
        Err(e) => {
            let _ = std::fs::remove_file(&tmp);
            Err(e)
        }
    }
}
