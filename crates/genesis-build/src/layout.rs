//! Reading images out of an OCI image layout on disk (skopeo's `oci:DIR:REF`), walking
//! indexes and manifests down to every blob. Blobs are never re-encoded: the bundle gets the
//! same bytes, so every digest survives.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::path::{Path, PathBuf};

use genesis_types::{Descriptor, Digest, ImageIndex, ImageManifest, MAX_MANIFEST, Platform, annotations, media_types};

use crate::{BuildError, Result};

/// One image resolved from a layout: its top descriptor, platforms and every blob.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ResolvedImage {
    /// Descriptor of the top-level manifest or index.
    pub top: Descriptor,
    /// The digest of the index this one was narrowed from, when platforms were selected.
    pub source_digest: Option<Digest>,
    /// Platforms the image carries.
    pub platforms: Vec<Platform>,
    /// Each platform's image manifest digest (what the SBOM lists per platform).
    pub platform_manifests: Vec<(Platform, Digest)>,
    /// Every blob reachable from `top` (including `top`), with its size and source file.
    pub blobs: BTreeMap<Digest, (u64, PathBuf)>,
    /// The digests among `blobs` of the manifests and indexes walked (`top` among them): what
    /// is not a layer or a config. A delta bundle always carries these (decision 0043).
    pub manifests: BTreeSet<Digest>,
}

impl ResolvedImage {
    fn record_platform(&mut self, platform: Option<Platform>, manifest: &Digest) {
        if let Some(p) = platform {
            self.platform_manifests.push((p.clone(), manifest.clone()));
            self.platforms.push(p);
        }
    }
}

/// An OCI image layout folder.
pub struct Layout {
    dir: PathBuf,
    index: ImageIndex,
}

impl Layout {
    /// Opens a layout, checking `oci-layout` and reading `index.json`.
    pub fn open(dir: &Path) -> Result<Layout> {
        let marker = read_json::<serde_json::Value>(&dir.join("oci-layout"))?;
        if marker.get("imageLayoutVersion").and_then(|v| v.as_str()) != Some("1.0.0") {
            return Err(BuildError::input(dir.join("oci-layout"), "not an OCI image layout 1.0.0"));
        }
        let index = read_json::<ImageIndex>(&dir.join("index.json"))?;
        Ok(Layout { dir: dir.to_owned(), index })
    }

    /// The layout's folder.
    pub fn dir(&self) -> &Path {
        &self.dir
    }

    /// A store over any folder holding `blobs/<alg>/<hex>` (a layout, or the pull cache).
    pub fn store(dir: &Path) -> Layout {
        Layout {
            dir: dir.to_owned(),
            index: ImageIndex {
                schema_version: 2,
                media_type: None,
                manifests: vec![],
                annotations: Default::default(),
            },
        }
    }

    /// The descriptor of the image named `reference` (its `ref.name` annotation), or of the
    /// only image when no name is given.
    pub fn find(&self, reference: Option<&str>) -> Result<Descriptor> {
        let index_path = self.dir.join("index.json");
        let candidates: Vec<&Descriptor> = match reference {
            Some(r) => self
                .index
                .manifests
                .iter()
                .filter(|d| d.annotations.get(annotations::REF_NAME).map(String::as_str) == Some(r))
                .collect(),
            None => self.index.manifests.iter().collect(),
        };
        match candidates.as_slice() {
            [one] => {
                let mut top = (*one).clone();
                top.annotations.clear();
                Ok(top)
            }
            [] => {
                let names: Vec<&str> = self
                    .index
                    .manifests
                    .iter()
                    .filter_map(|d| d.annotations.get(annotations::REF_NAME).map(String::as_str))
                    .collect();
                Err(BuildError::input(
                    index_path,
                    format!("no image named {:?}; the layout has {names:?}", reference.unwrap_or_default()),
                ))
            }
            _ => Err(BuildError::input(index_path, "several images match; name one with oci:DIR:REF")),
        }
    }

    /// Walks the image at `top` down to every blob. With `platforms`, an index is narrowed to
    /// the children for those platforms: the narrowed index is written into `scratch` (it is
    /// new content with a new digest) and `ResolvedImage::source_digest` keeps the original.
    pub fn resolve(&self, top: &Descriptor, platforms: &[Platform], scratch: &Path) -> Result<ResolvedImage> {
        let mut image = ResolvedImage {
            top: top.clone(),
            source_digest: None,
            platforms: Vec::new(),
            platform_manifests: Vec::new(),
            blobs: BTreeMap::new(),
            manifests: BTreeSet::new(),
        };
        if !platforms.is_empty() && media_types::is_index(&top.media_type) {
            let path = self.blob(top)?;
            let mut index: ImageIndex = read_verified_json(&path, top)?;
            let available: Vec<String> =
                index.manifests.iter().filter_map(|c| c.platform.as_ref().map(ToString::to_string)).collect();
            index.manifests.retain(|c| c.platform.as_ref().is_some_and(|p| platforms.contains(p)));
            let missing: Vec<String> = platforms
                .iter()
                .filter(|p| !index.manifests.iter().any(|c| c.platform.as_ref() == Some(*p)))
                .map(ToString::to_string)
                .collect();
            if !missing.is_empty() {
                return Err(BuildError::input(&path, format!("the image has no {missing:?}; it has {available:?}")));
            }
            let bytes = serde_json::to_vec(&index).expect("an index always serialises");
            let digest = genesis_bundle::sha256(&bytes);
            let narrowed_path = scratch.join(digest.blob_path());
            write_blob(&narrowed_path, &bytes)?;
            image.blobs.insert(digest.clone(), (bytes.len() as u64, narrowed_path));
            image.manifests.insert(digest.clone());
            image.source_digest = Some(top.digest.clone());
            image.top = Descriptor { digest, size: bytes.len() as u64, ..top.clone() };
            for child in &index.manifests {
                image.record_platform(child.platform.clone(), &child.digest);
                self.walk(child, &mut image, 1)?;
            }
        } else {
            self.walk(top, &mut image, 0)?;
        }
        image.platforms.sort();
        image.platforms.dedup();
        Ok(image)
    }

    fn blob(&self, d: &Descriptor) -> Result<PathBuf> {
        let path = self.dir.join(d.digest.blob_path());
        let meta =
            fs::metadata(&path).map_err(|e| BuildError::input(&path, format!("blob {} unreadable: {e}", d.digest)))?;
        if meta.len() != d.size {
            return Err(BuildError::input(
                &path,
                format!("blob is {} bytes but its descriptor says {}", meta.len(), d.size),
            ));
        }
        Ok(path)
    }

    fn walk(&self, d: &Descriptor, image: &mut ResolvedImage, depth: u32) -> Result<()> {
        if depth > 4 {
            return Err(BuildError::input(&self.dir, "indexes nested more than 4 deep"));
        }
        let path = self.blob(d)?;
        image.blobs.insert(d.digest.clone(), (d.size, path.clone()));
        image.manifests.insert(d.digest.clone());
        if media_types::is_index(&d.media_type) {
            let index: ImageIndex = read_verified_json(&path, d)?;
            for child in &index.manifests {
                image.record_platform(child.platform.clone(), &child.digest);
                self.walk(child, image, depth + 1)?;
            }
        } else if media_types::is_manifest(&d.media_type) {
            let manifest: ImageManifest = read_verified_json(&path, d)?;
            for blob in std::iter::once(&manifest.config).chain(&manifest.layers) {
                let p = self.blob(blob)?;
                image.blobs.insert(blob.digest.clone(), (blob.size, p));
            }
            if depth == 0 && manifest.config.media_type == media_types::OCI_CONFIG {
                let config_path = self.blob(&manifest.config)?;
                if let Ok(p) = read_verified_json::<Platform>(&config_path, &manifest.config) {
                    image.record_platform(Some(p), &d.digest);
                }
            }
        }
        Ok(())
    }
}

/// Writes a blob atomically (an exclusive scratch file, then rename), creating its folder.
pub fn write_blob(path: &Path, bytes: &[u8]) -> Result<()> {
    let parent = path.parent().expect("blob paths have a folder");
    fs::create_dir_all(parent).map_err(|e| BuildError::input(parent, format!("cannot create: {e}")))?;
    genesis_bundle::scratch::atomic_write(path, bytes)
        .map_err(|e| BuildError::input(path, format!("cannot write: {e}")))
}

fn read_json<T: serde::de::DeserializeOwned>(path: &Path) -> Result<T> {
    let bytes = fs::read(path).map_err(|e| BuildError::input(path, format!("unreadable: {e}")))?;
    serde_json::from_slice(&bytes).map_err(|e| BuildError::input(path, format!("malformed: {e}")))
}

/// Reads a small JSON blob, checking its digest before parsing it.
fn read_verified_json<T: serde::de::DeserializeOwned>(path: &Path, d: &Descriptor) -> Result<T> {
    if d.size > MAX_MANIFEST as u64 {
        return Err(BuildError::input(path, format!("manifest larger than {MAX_MANIFEST} bytes")));
    }
    let bytes = fs::read(path).map_err(|e| BuildError::input(path, format!("unreadable: {e}")))?;
    let actual = genesis_bundle::sha256(&bytes);
    if actual != d.digest {
        return Err(BuildError::input(path, format!("content is {actual}, not {}", d.digest)));
    }
    serde_json::from_slice(&bytes).map_err(|e| BuildError::input(path, format!("malformed {}: {e}", d.media_type)))
}
