//! The packages in each image the bundle carries, per platform: every filesystem layer of a
//! platform manifest, in order, handed to `genesis-inventory`, which applies them (whiteouts
//! honoured) and reads the package databases left standing. What the package SBOMs under
//! `sbom/images/` are written from.
//!
//! The layers are the blobs the builder already holds for the bundle: nothing is pulled or
//! unpacked to disk. A blob is not re-hashed here; packing checks every blob against its
//! digest, so one changed in the cache since it was resolved still fails the build.

use std::fs::File;
use std::io::Read;
use std::num::NonZeroUsize;
use std::path::Path;
use std::sync::atomic::{AtomicUsize, Ordering};

use genesis_inventory::{Inventory, InventoryError, Layer};
use genesis_types::{Digest, ImageIndex, ImageManifest, MAX_MANIFEST, Platform, media_types};

use crate::layout::ResolvedImage;
use crate::{BuildError, Result};

/// At most this many manifests are inventoried at once. Decompressing layers is CPU-bound,
/// and the machines this was sized on have two cores: more workers than cores only add
/// memory.
const MAX_WORKERS: usize = 2;

/// The packages of one platform manifest of an image.
pub struct ImageInventory {
    /// The image's name in the BOM.
    pub image: String,
    /// The manifest's platform; `None` for a single-manifest image whose config states none.
    pub platform: Option<Platform>,
    /// The manifest whose layers were read.
    pub manifest: Digest,
    /// What its layers hold; its notes say what was seen but not inventoried, each a gap the
    /// vulnerability gate refuses unless its policy allows an incomplete inventory.
    pub inventory: Inventory,
    /// The manifest's blobs that are not filesystem layers (attestations, artifacts), a
    /// sentence each: nothing to inventory in them, so no gap.
    pub skipped: Vec<String>,
    /// Why its layers could not be read, when they could not (a layer that is not a tar, or
    /// corrupt): its inventory is then empty but for that note, and the vulnerability gate
    /// refuses to judge an image it could not read.
    pub unreadable: Option<String>,
}

/// Inventories every platform manifest of each image, given by its name in the BOM and as
/// resolved: an index's platform manifests in the index's order, or a single manifest. Up to
/// two manifests are read at once; the result keeps the order of the input. A layer that
/// cannot be read or decoded leaves its image uninventoried, with a note naming the layer
/// (the image is still carried as its source holds it: inventory is not a judgement of it,
/// and packing checks every blob against its digest); only a failure of this machine (a
/// scratch file) fails the build.
pub fn inventory_images<'a>(
    images: impl IntoIterator<Item = (&'a str, &'a ResolvedImage)>,
) -> Result<Vec<ImageInventory>> {
    let mut jobs = Vec::new();
    for (image, resolved) in images {
        for (platform, manifest) in manifests(resolved) {
            jobs.extend(Job::read(image, resolved, platform, manifest)?);
        }
    }
    tracing::info!(manifests = jobs.len(), "inventorying the packages of each image");
    in_parallel(&jobs, |job| job.run()).into_iter().collect()
}

/// The manifests of an image to inventory, each with its platform: an index's platform
/// manifests, or the image's own manifest, with the platform its config states if any.
fn manifests(resolved: &ResolvedImage) -> Vec<(Option<Platform>, Digest)> {
    let top = &resolved.top;
    if media_types::is_index(&top.media_type) {
        resolved.platform_manifests.iter().map(|(platform, digest)| (Some(platform.clone()), digest.clone())).collect()
    } else {
        let platform = resolved.platform_manifests.iter().find(|(_, digest)| *digest == top.digest);
        vec![(platform.map(|(platform, _)| platform.clone()), top.digest.clone())]
    }
}

/// Whether a layer's media type is a filesystem changeset: the OCI image spec's
/// `application/vnd.oci.image.layer.v1.tar[+gzip|+zstd]` (and its non-distributable
/// variants) or Docker's `application/vnd.docker.image.rootfs.diff.tar[.gzip]`. Anything else
/// (an artifact's content, a Helm chart, an attestation, a Windows foreign layer) is not.
fn is_filesystem_layer(media_type: &str) -> bool {
    media_type.starts_with("application/vnd.oci.image.layer.")
        || media_type.starts_with("application/vnd.docker.image.rootfs.diff.tar")
}

/// One platform manifest to inventory.
struct Job<'a> {
    image: &'a str,
    platform: Option<Platform>,
    manifest: Digest,
    manifest_path: &'a Path,
    /// Its filesystem layers, in order: digest and blob file.
    layers: Vec<(Digest, &'a Path)>,
    /// A note for each blob left out because it is not a filesystem layer.
    skipped: Vec<String>,
}

impl<'a> Job<'a> {
    /// Reads the platform manifest `manifest` of `image`; `None` when it is a nested index
    /// (its own platform manifests are listed beside it).
    fn read(
        image: &'a str,
        resolved: &'a ResolvedImage,
        platform: Option<Platform>,
        manifest: Digest,
    ) -> Result<Option<Job<'a>>> {
        let blob = move |digest: &Digest| -> Result<(u64, &'a Path)> {
            let (size, path) = resolved.blobs.get(digest).ok_or_else(|| {
                BuildError::input(format!("image {image}"), format!("blob {digest} is not among the image's blobs"))
            })?;
            Ok((*size, path.as_path()))
        };
        let (size, manifest_path) = blob(&manifest)?;
        if size > MAX_MANIFEST as u64 {
            return Err(BuildError::input(
                manifest_path,
                format!("image {image}: manifest {manifest} is larger than {MAX_MANIFEST} bytes"),
            ));
        }
        let bytes = std::fs::read(manifest_path)
            .map_err(|e| BuildError::input(manifest_path, format!("image {image}: manifest unreadable: {e}")))?;
        let parsed: ImageManifest = match serde_json::from_slice(&bytes) {
            Ok(parsed) => parsed,
            Err(_) if serde_json::from_slice::<ImageIndex>(&bytes).is_ok() => return Ok(None),
            Err(e) => {
                return Err(BuildError::input(
                    manifest_path,
                    format!("image {image}: manifest {manifest} is malformed: {e}"),
                ));
            }
        };
        let mut layers = Vec::new();
        let mut skipped = Vec::new();
        for layer in &parsed.layers {
            if is_filesystem_layer(&layer.media_type) {
                layers.push((layer.digest.clone(), blob(&layer.digest)?.1));
            } else {
                skipped.push(format!(
                    "blob {} ({}) is not a filesystem layer: not inventoried",
                    layer.digest, layer.media_type
                ));
            }
        }
        Ok(Some(Job { image, platform, manifest, manifest_path, layers, skipped }))
    }

    /// `image app (linux/amd64)`, for messages.
    fn describe(&self) -> String {
        match &self.platform {
            Some(platform) => format!("image {} ({platform})", self.image),
            None => format!("image {}", self.image),
        }
    }

    fn run(&self) -> Result<ImageInventory> {
        let layers = self
            .layers
            .iter()
            .map(|(digest, path)| Layer { digest: digest.to_string(), reader: LayerBlob { path, file: None } });
        let (inventory, unreadable) = match genesis_inventory::inventory(layers) {
            Ok(inventory) => (inventory, None),
            Err(e @ (InventoryError::Layer { .. } | InventoryError::Read { .. })) => {
                let why = format!("{}: {e}", self.describe());
                tracing::warn!("{why}: its packages are not inventoried");
                let note = format!("{e}: this image's packages are not inventoried");
                (Inventory { distro: None, packages: Vec::new(), notes: vec![note] }, Some(why))
            }
            Err(e) => return Err(BuildError::input(self.manifest_path, format!("{}: {e}", self.describe()))),
        };
        Ok(ImageInventory {
            image: self.image.to_owned(),
            platform: self.platform.clone(),
            manifest: self.manifest.clone(),
            inventory,
            skipped: self.skipped.clone(),
            unreadable,
        })
    }
}

/// A layer blob, opened when first read: an image of many layers holds no file open before
/// its turn.
struct LayerBlob<'a> {
    path: &'a Path,
    file: Option<File>,
}

impl Read for LayerBlob<'_> {
    fn read(&mut self, buf: &mut [u8]) -> std::io::Result<usize> {
        let file = match self.file.take() {
            Some(file) => file,
            None => File::open(self.path)?,
        };
        self.file.insert(file).read(buf)
    }
}

/// `run` over every job on up to [`MAX_WORKERS`] threads (never more than the machine has
/// cores, nor than there are jobs), the results in the order of the jobs.
fn in_parallel<T: Sync, R: Send>(jobs: &[T], run: impl Fn(&T) -> R + Sync) -> Vec<R> {
    let cores = std::thread::available_parallelism().map_or(1, NonZeroUsize::get);
    let workers = jobs.len().min(cores).min(MAX_WORKERS);
    if workers <= 1 {
        return jobs.iter().map(run).collect();
    }
    let next = AtomicUsize::new(0);
    let (next, run) = (&next, &run);
    let mut done: Vec<(usize, R)> = std::thread::scope(|scope| {
        let handles: Vec<_> = (0..workers)
            .map(|_| {
                scope.spawn(move || {
                    let mut mine = Vec::new();
                    loop {
                        let index = next.fetch_add(1, Ordering::Relaxed);
                        let Some(job) = jobs.get(index) else { return mine };
                        mine.push((index, run(job)));
                    }
                })
            })
            .collect();
        handles.into_iter().flat_map(|h| h.join().unwrap_or_else(|panic| std::panic::resume_unwind(panic))).collect()
    });
    done.sort_by_key(|(index, _)| *index);
    done.into_iter().map(|(_, result)| result).collect()
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::collections::BTreeMap;
    use std::io::Write as _;
    use std::path::PathBuf;

    use genesis_types::Descriptor;

    use super::*;

    /// Two stanzas of a dpkg status file as a Debian 12 system writes it (taken from
    /// `/var/lib/dpkg/status` of one, descriptions shortened).
    const DPKG_STATUS: &str = "\
Package: tzdata
Status: install ok installed
Priority: required
Section: localization
Installed-Size: 2565
Maintainer: GNU Libc Maintainers <debian-glibc@lists.debian.org>
Architecture: all
Multi-Arch: foreign
Version: 2025b-0+deb12u2
Provides: tzdata-bookworm
Depends: debconf (>= 0.5) | debconf-2.0
Description: time zone and daylight-saving time data
 This package contains data required for the implementation of

Package: libzstd1
Status: install ok installed
Priority: optional
Section: libs
Installed-Size: 785
Maintainer: RPM packaging team <team+pkg-rpm@tracker.debian.org>
Architecture: amd64
Multi-Arch: same
Source: libzstd
Version: 1.5.4+dfsg2-5+deb12u1
Depends: libc6 (>= 2.34)
Description: fast lossless compression algorithm
 Zstd, short for Zstandard, is a fast lossless compression algorithm.
";

    const OS_RELEASE: &str = "\
PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"
NAME=\"Debian GNU/Linux\"
VERSION_ID=\"12\"
VERSION=\"12 (bookworm)\"
VERSION_CODENAME=bookworm
ID=debian
";

    /// Blobs written into a folder, gathered as a resolved image's are.
    struct Blobs {
        dir: tempfile::TempDir,
        blobs: BTreeMap<Digest, (u64, PathBuf)>,
    }

    impl Blobs {
        fn new() -> Blobs {
            Blobs { dir: tempfile::tempdir().unwrap(), blobs: BTreeMap::new() }
        }

        fn add(&mut self, media_type: &str, bytes: &[u8]) -> Descriptor {
            let digest = genesis_bundle::sha256(bytes);
            let path = self.dir.path().join(digest.hex());
            std::fs::write(&path, bytes).unwrap();
            self.blobs.insert(digest.clone(), (bytes.len() as u64, path));
            Descriptor {
                media_type: media_type.into(),
                digest,
                size: bytes.len() as u64,
                platform: None,
                artifact_type: None,
                annotations: BTreeMap::new(),
            }
        }

        fn manifest(&mut self, layers: &[&Descriptor]) -> Descriptor {
            let config = self.add(media_types::OCI_CONFIG, b"{}");
            let manifest = serde_json::json!({
                "schemaVersion": 2,
                "mediaType": media_types::OCI_MANIFEST,
                "config": config,
                "layers": layers,
            });
            self.add(media_types::OCI_MANIFEST, &serde_json::to_vec(&manifest).unwrap())
        }
    }

    fn tar(files: &[(&str, &str)]) -> Vec<u8> {
        let mut tar = tar::Builder::new(Vec::new());
        for (path, text) in files {
            let mut header = tar::Header::new_gnu();
            header.set_size(text.len() as u64);
            header.set_mode(0o644);
            tar.append_data(&mut header, path, text.as_bytes()).unwrap();
        }
        tar.into_inner().unwrap()
    }

    fn gzip(bytes: &[u8]) -> Vec<u8> {
        let mut gz = flate2::write::GzEncoder::new(Vec::new(), flate2::Compression::fast());
        gz.write_all(bytes).unwrap();
        gz.finish().unwrap()
    }

    fn platform(text: &str) -> Platform {
        text.parse().unwrap()
    }

    #[test]
    fn each_platform_of_an_index_is_inventoried_from_its_own_layers_in_order_with_skipped_blobs_noted() {
        let mut blobs = Blobs::new();
        // amd64: the distribution in one layer, the packages in a gzip layer above it, and an
        // attestation blob that is no filesystem.
        let os = blobs.add("application/vnd.oci.image.layer.v1.tar", &tar(&[("etc/os-release", OS_RELEASE)]));
        let status = blobs.add(media_types::OCI_LAYER_GZIP, &gzip(&tar(&[("var/lib/dpkg/status", DPKG_STATUS)])));
        let attestation = blobs.add("application/vnd.in-toto+json", b"{}");
        let amd64 = blobs.manifest(&[&os, &status, &attestation]);
        // arm64: one Docker layer holding only tzdata's stanza.
        let tzdata_only = DPKG_STATUS.split("\n\n").next().unwrap().to_owned() + "\n";
        let arm64_layer = blobs.add(
            "application/vnd.docker.image.rootfs.diff.tar.gzip",
            &gzip(&tar(&[("etc/os-release", OS_RELEASE), ("var/lib/dpkg/status", tzdata_only.as_str())])),
        );
        let arm64 = blobs.manifest(&[&arm64_layer]);
        let index = blobs.add(media_types::OCI_INDEX, b"{}");
        let resolved = ResolvedImage {
            top: index,
            source_digest: None,
            platforms: vec![platform("linux/amd64"), platform("linux/arm64/v8")],
            platform_manifests: vec![
                (platform("linux/amd64"), amd64.digest.clone()),
                (platform("linux/arm64/v8"), arm64.digest.clone()),
            ],
            blobs: blobs.blobs.clone(),
            manifests: Default::default(),
        };

        let found = inventory_images([("app", &resolved)]).unwrap();

        let summary: Vec<_> = found
            .iter()
            .map(|i| {
                let packages: Vec<_> =
                    i.inventory.packages.iter().map(|p| (p.name.as_str(), p.layer.as_str())).collect();
                (i.image.as_str(), i.platform.as_ref().map(ToString::to_string), i.manifest.clone(), packages)
            })
            .collect();
        let (status, arm64_layer) = (status.digest.to_string(), arm64_layer.digest.to_string());
        assert_eq!(
            summary,
            [
                (
                    "app",
                    Some("linux/amd64".to_owned()),
                    amd64.digest,
                    vec![("libzstd1", status.as_str()), ("tzdata", status.as_str())]
                ),
                ("app", Some("linux/arm64/v8".to_owned()), arm64.digest, vec![("tzdata", arm64_layer.as_str())]),
            ]
        );
        let libzstd = &found[0].inventory.packages[0];
        assert!(libzstd.purl.starts_with("pkg:deb/debian/libzstd1@1.5.4"), "{}", libzstd.purl);
        assert_eq!(libzstd.source.as_deref(), Some("libzstd"));
        assert_eq!(found[0].inventory.distro.as_ref().map(|d| d.id.as_str()), Some("debian"));
        let note = format!("blob {} (application/vnd.in-toto+json) is not a filesystem layer", attestation.digest);
        assert!(found[0].skipped.iter().any(|n| n.contains(&note)), "{:?}", found[0].skipped);
        assert!(found[0].inventory.notes.is_empty(), "a skipped blob is no gap: {:?}", found[0].inventory.notes);
        assert!(found[1].skipped.is_empty());
    }

    #[test]
    fn a_single_manifest_image_is_one_inventory_and_a_corrupt_layer_leaves_it_unread_naming_the_layer() {
        let mut blobs = Blobs::new();
        let good = blobs.add("application/vnd.oci.image.layer.v1.tar", &tar(&[("etc/os-release", OS_RELEASE)]));
        let manifest = blobs.manifest(&[&good]);
        let resolved = |top: &Descriptor, blobs: &Blobs| ResolvedImage {
            top: top.clone(),
            source_digest: None,
            platforms: Vec::new(),
            platform_manifests: Vec::new(),
            blobs: blobs.blobs.clone(),
            manifests: Default::default(),
        };
        let image = resolved(&manifest, &blobs);
        let found = inventory_images([("app", &image)]).unwrap();
        assert_eq!(found.len(), 1);
        assert_eq!((found[0].platform.as_ref(), &found[0].manifest), (None, &manifest.digest));

        // A gzip stream cut short after its header.
        let mut cut = gzip(&tar(&[("var/lib/dpkg/status", DPKG_STATUS)]));
        cut.truncate(20);
        let corrupt = blobs.add(media_types::OCI_LAYER_GZIP, &cut);
        let manifest = blobs.manifest(&[&good, &corrupt]);
        let image = resolved(&manifest, &blobs);
        let found = inventory_images([("web", &image)]).unwrap();
        let why = found[0].unreadable.as_deref().expect("a corrupt layer was inventoried");
        assert!(why.starts_with("image web: ") && why.contains(&corrupt.digest.to_string()), "{why}");
        assert!(found[0].inventory.packages.is_empty() && found[0].inventory.distro.is_none());
        let note = &found[0].inventory.notes[0];
        assert!(note.contains(&corrupt.digest.to_string()) && note.ends_with("not inventoried"), "{note}");
    }
}
