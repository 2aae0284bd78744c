//! Runtime export for clusters without a registry: the images of a verified bundle written
//! as one archive a container runtime imports — an OCI image layout in a tar
//! (`ctr images import`, `podman load`, k3s air-gap images) or a `docker save` archive. Names
//! come from the BOM (`org.opencontainers.image.ref.name` / `RepoTags`). Blobs stream from the
//! bundle through its seek table and are hashed again on the way out, so bytes that changed
//! on disk since verification never reach the runtime. The tar is deterministic (ustar,
//! mtime 0, mode 0644, sorted blobs).

use std::collections::BTreeMap;
use std::io::{self, Read, Write};

use genesis_types::{Descriptor, Digest, ImageIndex, ImageManifest, MAX_MANIFEST, Platform, annotations, media_types};

use crate::archive_index::{ArchiveIndex, image_top};
use crate::digest_io::DigestAdapter;
use crate::tar::{BLOCK, END_OF_ARCHIVE, file_header, padding};
use crate::{Bom, BundleError, Result};

/// The archive format a runtime imports.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum RuntimeFormat {
    /// An OCI image layout in a tar (multi-platform indexes kept unless a platform is chosen).
    OciArchive,
    /// `docker save`'s format: `manifest.json` with `RepoTags`, one platform per image.
    DockerArchive,
}

/// One image written to the export.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportedImage {
    /// The name the runtime will show.
    pub name: String,
    /// The manifest or index the archive points at (the bundle's own digest: unchanged).
    pub digest: Digest,
    /// The image config (what `podman images` and `docker images` call the image ID), for a
    /// single-platform export.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub config: Option<Digest>,
    /// The platforms it carries.
    pub platforms: Vec<String>,
}

/// Whether a layer media type is a filesystem layer a runtime unpacks.
fn is_filesystem_layer(media_type: &str) -> bool {
    media_type.starts_with("application/vnd.oci.image.layer.")
        || media_type.starts_with("application/vnd.docker.image.rootfs.")
}

/// One image chosen for export: the descriptor to name, and its single-platform manifests.
struct Chosen {
    name: String,
    top: Descriptor,
    manifests: Vec<(Option<Platform>, Descriptor, ImageManifest)>,
}

/// Writes the runnable images `bom` lists (cosign signatures and other artifacts are left
/// out: a runtime cannot run them), read through `index`, to `out` in `format`, narrowed to
/// `platform` when given. A docker archive holds one platform per image, so an index needs
/// `platform`. `bom` is taken on trust: reached through [`crate::danger`].
pub fn export_images(
    index: &ArchiveIndex,
    bom: &Bom,
    format: RuntimeFormat,
    platform: Option<&Platform>,
    out: &mut dyn Write,
) -> Result<Vec<ExportedImage>> {
    // A delta leaves out the blobs its base carries: a runtime would get images it cannot run.
    bom.require_full("export")?;
    let chosen = choose_all(index, bom, format, platform)?;
    let mut tar = TarWriter { out };
    match format {
        RuntimeFormat::OciArchive => {
            tar.file("oci-layout", br#"{"imageLayoutVersion":"1.0.0"}"#)?;
            tar.file("index.json", &serde_json::to_vec(&oci_layout_index(&chosen)).expect("an index is JSON"))?;
        }
        RuntimeFormat::DockerArchive => {
            tar.file("manifest.json", &serde_json::to_vec(&docker_manifest(&chosen)).expect("JSON"))?;
        }
    }
    for (digest, size) in &blobs_to_export(&chosen, format) {
        let range = index.blob(digest).ok_or_else(|| BundleError::NotFound(format!("blob {digest} in the bundle")))?;
        if range.size != *size {
            return Err(BundleError::Unusable(format!(
                "blob {digest}: {} bytes in the bundle, {size} described",
                range.size
            )));
        }
        let reader = range.open_at(0, range.size).map_err(BundleError::io("reading", "the bundle"))?;
        tar.blob(&digest.blob_path(), *size, reader, digest)?;
    }
    tar.out.write_all(&END_OF_ARCHIVE).map_err(BundleError::io("writing", "the export"))?;
    Ok(chosen.iter().map(Chosen::exported).collect())
}

/// What to export of each image `bom` lists, in its order, read through `index`: at least
/// one image must be runnable.
fn choose_all(
    index: &ArchiveIndex,
    bom: &Bom,
    format: RuntimeFormat,
    platform: Option<&Platform>,
) -> Result<Vec<Chosen>> {
    let layout = index.layout_index()?.ok_or_else(|| BundleError::Unusable("the bundle carries no images".into()))?;
    let mut chosen = Vec::new();
    for image in &bom.images {
        let top = image_top(&layout, image)?;
        if let Some(c) = choose(index, image.reference.clone(), top, format, platform)? {
            chosen.push(c);
        }
    }
    if chosen.is_empty() {
        return Err(BundleError::Unusable("the bundle carries no runnable image".into()));
    }
    Ok(chosen)
}

/// Every blob the export holds, once, with its size: for an OCI archive the manifests and
/// indexes too, for a docker archive only configs and layers.
fn blobs_to_export(chosen: &[Chosen], format: RuntimeFormat) -> BTreeMap<Digest, u64> {
    let mut blobs = BTreeMap::new();
    for c in chosen {
        if format == RuntimeFormat::OciArchive {
            blobs.insert(c.top.digest.clone(), c.top.size);
        }
        for (_, d, m) in &c.manifests {
            if format == RuntimeFormat::OciArchive {
                blobs.insert(d.digest.clone(), d.size);
            }
            for b in std::iter::once(&m.config).chain(&m.layers) {
                blobs.insert(b.digest.clone(), b.size);
            }
        }
    }
    blobs
}

/// The `index.json` of an OCI archive: each image's top descriptor under its name, as the
/// OCI annotation and containerd's.
fn oci_layout_index(chosen: &[Chosen]) -> ImageIndex {
    let manifests = chosen
        .iter()
        .map(|c| {
            let mut top = c.top.clone();
            top.annotations.insert(annotations::REF_NAME.to_owned(), c.name.clone());
            top.annotations.insert("io.containerd.image.name".to_owned(), c.name.clone());
            top
        })
        .collect();
    ImageIndex {
        schema_version: 2,
        media_type: Some(media_types::OCI_INDEX.into()),
        manifests,
        annotations: BTreeMap::new(),
    }
}

/// The `manifest.json` of a docker archive: one entry per image manifest, tagged with its
/// image's name.
fn docker_manifest(chosen: &[Chosen]) -> Vec<serde_json::Value> {
    chosen
        .iter()
        .flat_map(|c| {
            c.manifests.iter().map(move |(_, _, m)| {
                serde_json::json!({
                    "Config": m.config.digest.blob_path(),
                    "RepoTags": [c.name],
                    "Layers": m.layers.iter().map(|l| l.digest.blob_path()).collect::<Vec<_>>(),
                })
            })
        })
        .collect()
}

impl Chosen {
    /// What the caller is told about this image once it is written.
    fn exported(&self) -> ExportedImage {
        ExportedImage {
            name: self.name.clone(),
            digest: self.top.digest.clone(),
            config: (self.manifests.len() == 1).then(|| self.manifests[0].2.config.digest.clone()),
            platforms: self.manifests.iter().filter_map(|(p, _, _)| p.as_ref().map(ToString::to_string)).collect(),
        }
    }
}

/// Picks what to export of one bundle image, or `None` when it is not runnable.
fn choose(
    index: &ArchiveIndex,
    name: String,
    top: Descriptor,
    format: RuntimeFormat,
    platform: Option<&Platform>,
) -> Result<Option<Chosen>> {
    let read = |d: &Descriptor| index.read_verified(&d.digest, MAX_MANIFEST as u64);
    let invalid = |d: &Descriptor, e: serde_json::Error| BundleError::Unusable(format!("{}: {e}", d.digest));
    let mut manifests = Vec::new();
    let mut top = top;
    if media_types::is_index(&top.media_type) {
        let idx: ImageIndex = serde_json::from_slice(&read(&top)?).map_err(|e| invalid(&top, e))?;
        let children: Vec<&Descriptor> = idx
            .manifests
            .iter()
            .filter(|c| {
                media_types::is_manifest(&c.media_type) && platform.is_none_or(|p| c.platform.as_ref() == Some(p))
            })
            .collect();
        if children.is_empty() {
            let available: Vec<String> =
                idx.manifests.iter().filter_map(|c| c.platform.as_ref().map(ToString::to_string)).collect();
            return Err(BundleError::Unusable(format!(
                "{name} has no {} image; it has {available:?}",
                platform.map_or_else(|| "single-platform".to_owned(), ToString::to_string)
            )));
        }
        if format == RuntimeFormat::DockerArchive && platform.is_none() && children.len() > 1 {
            return Err(BundleError::OnePlatformNeeded {
                image: name.clone(),
                platforms: children.iter().filter_map(|c| c.platform.as_ref().map(ToString::to_string)).collect(),
            });
        }
        for c in &children {
            let m: ImageManifest = serde_json::from_slice(&read(c)?).map_err(|e| invalid(c, e))?;
            manifests.push((c.platform.clone(), (*c).clone(), m));
        }
        if platform.is_some() {
            // Narrowed to one platform: the runtime gets that manifest itself.
            top = manifests[0].1.clone();
        }
    } else if media_types::is_manifest(&top.media_type) {
        let m: ImageManifest = serde_json::from_slice(&read(&top)?).map_err(|e| invalid(&top, e))?;
        manifests.push((top.platform.clone(), top.clone(), m));
    } else {
        return Ok(None);
    }
    if !manifests
        .iter()
        .all(|(_, _, m)| !m.layers.is_empty() && m.layers.iter().all(|l| is_filesystem_layer(&l.media_type)))
    {
        return Ok(None);
    }
    top.platform = None;
    top.annotations.clear();
    Ok(Some(Chosen { name, top, manifests }))
}

struct TarWriter<'a> {
    out: &'a mut dyn Write,
}

impl TarWriter<'_> {
    fn file(&mut self, path: &str, data: &[u8]) -> Result<()> {
        let header = file_header(path, data.len() as u64, 0)?;
        [&header[..], data, &[0u8; BLOCK][..padding(data.len() as u64)]]
            .into_iter()
            .try_for_each(|part| self.out.write_all(part))
            .map_err(BundleError::io("writing", "the export"))
    }

    /// Copies `size` bytes of `reader` as `path`, failing when they do not hash to `digest`.
    fn blob(&mut self, path: &str, size: u64, reader: impl io::Read, digest: &Digest) -> Result<()> {
        let write_err = |e: io::Error| BundleError::io("writing", "the export")(e);
        self.out.write_all(&file_header(path, size, 0)?).map_err(write_err)?;
        let mut reader = DigestAdapter::new(reader);
        let mut buf = vec![0u8; 1 << 20];
        let mut left = size;
        while left > 0 {
            let n = reader
                .read(&mut buf[..left.min(1 << 20) as usize])
                .map_err(BundleError::io("reading", "the bundle"))?;
            if n == 0 {
                return Err(BundleError::Unusable(format!("blob {digest} ends early in the bundle")));
            }
            self.out.write_all(&buf[..n]).map_err(write_err)?;
            left -= n as u64;
        }
        let actual = reader.digest().digest();
        if &actual != digest {
            return Err(BundleError::ChangedSinceVerification {
                what: format!("blob {digest} in the bundle"),
                expected: digest.clone(),
                actual,
            });
        }
        self.out.write_all(&[0u8; BLOCK][..padding(size)]).map_err(write_err)
    }
}
