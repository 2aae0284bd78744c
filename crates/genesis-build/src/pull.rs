//! Pulling registry sources into the local blob cache before the (synchronous) plan: every
//! manifest and blob is checked against its digest while it downloads and lands in the cache
//! only then, so the plan reads registry images exactly like OCI layouts. A cosign signature
//! stored under the `sha256-<hex>.sig` tag is pulled too, so it survives the trip.
//! Compiled with the `pull` feature only: the one networked part of this crate.

use std::collections::BTreeMap;
use std::path::Path;

use futures_util::StreamExt as _;
use genesis_bundle::scratch::{AtomicFile, Durability, Mode};
use genesis_registry::resolver::cosign_signature;
use genesis_registry::{Registry, RegistryError, RegistryOptions};
use genesis_trust::cosign_image::Signers;
use genesis_types::{Descriptor, Digest, ImageIndex, ImageManifest, ImageReference, Platform, media_types};

use crate::chart_repo;
use crate::layout::write_blob;
use crate::remote::{Pulled, url_host};
use crate::spec::{BundleSpec, ChartSource, ImageSource};
use crate::{BuildError, Result};

/// Blobs downloaded at once.
const CONCURRENCY: usize = 4;

/// Largest chart downloaded.
const MAX_CHART: usize = 64 << 20;

/// Pulls every registry image and repository chart of `spec` into `cache`, on an async
/// runtime of its own, reaching each host with its `registries` entry. With `signers`, source
/// image signatures are checked first (see [`pull`]).
pub(crate) fn pull_sources(
    spec: &BundleSpec,
    cache: &Path,
    registries: &BTreeMap<String, RegistryOptions>,
    signers: Option<&Signers>,
) -> Result<Pulled> {
    let runtime = tokio::runtime::Builder::new_multi_thread().enable_all().build().map_err(BuildError::Runtime)?;
    runtime.block_on(async {
        let mut pulled = pull(spec, cache, registries, signers).await?;
        pull_charts(spec, cache, registries, &mut pulled).await?;
        Ok::<_, BuildError>(pulled)
    })
}

/// The options for `host`: the caller's, else the defaults (TLS with the system roots, no
/// credentials).
fn options_for(registries: &BTreeMap<String, RegistryOptions>, host: &str) -> RegistryOptions {
    registries.get(host).cloned().unwrap_or_default()
}

fn connect(registries: &BTreeMap<String, RegistryOptions>, host: &str) -> Result<Registry> {
    Registry::new(host, &options_for(registries, host)).map_err(registry_error)
}

/// Pulls the charts of `spec` that come from repositories into `cache/charts/`.
async fn pull_charts(
    spec: &BundleSpec,
    cache: &Path,
    registries: &BTreeMap<String, RegistryOptions>,
    pulled: &mut Pulled,
) -> Result<()> {
    for chart in &spec.spec.charts {
        let name = chart.name.as_str();
        let (version, bytes, expected) = match &chart.source {
            ChartSource::Path(_) => continue,
            ChartSource::Repo { url, version } => {
                let opts = options_for(registries, url_host(url));
                let index_url = format!("{url}/index.yaml");
                let index = genesis_registry::fetch_url(&index_url, &opts, chart_repo::MAX_INDEX)
                    .await
                    .map_err(registry_error)?;
                let found = chart_repo::find(&index, url, name, version, chart.digest.as_ref())?;
                let chart_options = chart_repo::download_options(&found.url, url, name, &opts);
                let bytes = genesis_registry::fetch_url(found.url.as_str(), &chart_options, MAX_CHART)
                    .await
                    .map_err(registry_error)?;
                (version.clone(), bytes, found.digest)
            }
            ChartSource::Oci { reference } => {
                let registry = connect(registries, reference.registry())?;
                let repo = reference.repository();
                let tag = reference.tag().unwrap_or("latest");
                let m = registry.get_manifest(repo, tag).await.map_err(registry_error)?;
                let manifest: ImageManifest = serde_json::from_slice(&m.bytes)
                    .map_err(|e| BuildError::input(reference.to_string(), format!("not a Helm chart artifact: {e}")))?;
                let layer =
                    manifest.layers.iter().find(|l| l.media_type == HELM_CHART_LAYER).ok_or_else(|| {
                        BuildError::input(reference.to_string(), format!("no {HELM_CHART_LAYER} layer"))
                    })?;
                if layer.size > MAX_CHART as u64 {
                    return Err(BuildError::input(reference.to_string(), "chart larger than 64 MiB"));
                }
                let mut bytes = Vec::new();
                registry.get_blob(repo, &layer.digest, layer.size, &mut bytes).await.map_err(registry_error)?;
                (tag.to_owned(), bytes::Bytes::from(bytes), layer.digest.clone())
            }
        };
        let actual = genesis_bundle::sha256(&bytes);
        // What the source lists (the index entry, the registry's layer) and the spec's pin
        // must both hold.
        if let Some(expected) = std::iter::once(expected).chain(chart.digest.clone()).find(|d| *d != actual) {
            return Err(registry_error(RegistryError::DigestMismatch {
                what: format!("chart {name} {version}"),
                expected,
                actual,
            }));
        }
        let path = cache.join("charts").join(format!("{name}-{version}.tgz"));
        write_blob(&path, &bytes)?;
        tracing::info!(chart = name, version, "pulled chart");
        pulled.charts.insert(name.to_owned(), path);
    }
    Ok(())
}

/// Media type of the chart layer of a Helm OCI artifact.
const HELM_CHART_LAYER: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

fn registry_error(e: RegistryError) -> BuildError {
    BuildError::Registry(Box::new(e))
}

/// Pulls every registry source of `spec` into `cache`, reaching each registry with its
/// `registries` entry. With `signers`, each image's cosign signature in its source registry
/// must verify against them before anything of the image is downloaded; a failure stops the
/// pull (never "store and warn"), and an image from a local layout, which has no registry
/// signature, is refused.
async fn pull(
    spec: &BundleSpec,
    cache: &Path,
    registries: &BTreeMap<String, RegistryOptions>,
    signers: Option<&Signers>,
) -> Result<Pulled> {
    let mut pulled = Pulled::default();
    for image in &spec.spec.images {
        let ImageSource::Registry { reference, text } = &image.image else {
            if signers.is_some() {
                return Err(BuildError::input(
                    image.image.text(),
                    format!(
                        "image {}: the policy requires a verified source signature, and an OCI layout source has none; pull it from its registry",
                        image.name
                    ),
                ));
            }
            continue;
        };
        let registry = connect(registries, reference.registry())?;
        // With signers, what is pulled is pinned to the digest whose signature verified, so a
        // tag moved in between cannot slip another image in.
        let pinned: ImageReference;
        let reference = if let Some(signers) = signers {
            let wanted = reference.digest().map(ToString::to_string).or_else(|| reference.tag().map(str::to_owned));
            let manifest = registry
                .get_manifest(reference.repository(), wanted.as_deref().unwrap_or("latest"))
                .await
                .map_err(registry_error)?;
            let signer = cosign_signature(&registry, reference.repository(), &manifest.digest, signers)
                .await
                .map_err(|e| BuildError::input(text, format!("image {}: source signature refused: {e}", image.name)))?;
            tracing::info!(source = %text, digest = %manifest.digest, %signer, "source signature verified");
            pulled.verified_signers.insert(text.clone(), (manifest.digest.clone(), signer));
            pinned = format!("{}/{}@{}", reference.registry(), reference.repository(), manifest.digest)
                .parse()
                .map_err(|e| BuildError::input(text, format!("{e}")))?;
            &pinned
        } else {
            reference
        };
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
        let (referrers, _) = registry.referrers(reference.repository(), &top.digest).await.map_err(registry_error)?;
        let mut carried = Vec::new();
        for r in referrers {
            let by_digest: ImageReference = format!("{}/{}@{}", reference.registry(), reference.repository(), r.digest)
                .parse()
                .map_err(|e| BuildError::input(cache, format!("{e}")))?;
            carried.push(pull_image(&registry, &by_digest, &[], cache).await?);
            tracing::info!(source = %text, referrer = %r.digest, "carrying a referrer");
        }
        if !carried.is_empty() {
            pulled.referrers.insert(text.clone(), carried);
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
    let file = AtomicFile::create(path, Mode::OfTarget)
        .map_err(|e| BuildError::input(path, format!("cannot create a scratch file beside it: {e}")))?;
    let tmp = file.scratch_path().to_owned();
    let mut file = std::io::BufWriter::new(file);
    registry.get_blob(repo, digest, size, &mut file).await.map_err(registry_error)?;
    let file = file.into_inner().map_err(|e| BuildError::input(&tmp, format!("cannot write: {}", e.error())))?;
    // Not synced: the build checks every blob against its digest while packing it.
    file.commit(Durability::CheckedOnRead).map_err(|e| BuildError::input(path, format!("cannot write: {e}")))
}
