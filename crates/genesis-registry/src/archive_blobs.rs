//! Blobs read straight out of a verified `.tar.zst` through its seek table: no second copy
//! on disk. Every read is hashed again by whoever consumes it (the uploader, the server),
//! so a file changed after verification is still caught.

use std::collections::HashMap;
use std::fs::File;
use std::io::{self, Read};
use std::path::{Path, PathBuf};

use genesis_bundle::seekable::SeekableFile;
use genesis_bundle::{Bom, ImageEntry, Limits};
use genesis_types::{Descriptor, Digest, ImageIndex};

use crate::{BlobSource, RegistryError, Result};

/// Where every payload file of a bundle lies in its decompressed tar stream.
#[derive(Debug, Clone)]
pub struct ArchiveIndex {
    path: PathBuf,
    limits: Limits,
    entries: HashMap<String, (u64, u64)>,
}

impl ArchiveIndex {
    /// Walks the tar headers of a seekable zstd bundle (only frames holding headers are
    /// decompressed) and checks that every BOM file is there with its size.
    pub fn open(path: &Path, bom: &Bom, limits: &Limits) -> Result<ArchiveIndex> {
        let mut s = open_seekable(path, limits)?;
        let entries: HashMap<String, (u64, u64)> =
            s.entries(limits)?.into_iter().map(|(h, offset)| (h.path, (offset, h.size))).collect();
        for f in &bom.files {
            match entries.get(f.path.as_str()) {
                Some(&(_, size)) if size == f.size => {}
                _ => return Err(genesis_bundle::BundleError::MissingEntry { path: f.path.clone() }.into()),
            }
        }
        Ok(ArchiveIndex { path: path.to_owned(), limits: limits.clone(), entries })
    }

    /// Offset and size of a file.
    pub fn locate(&self, path: &str) -> Option<(u64, u64)> {
        self.entries.get(path).copied()
    }

    /// A range of the decompressed archive (a file's bytes, from [`ArchiveIndex::locate`]).
    pub fn range(&self, offset: u64, size: u64) -> ArchiveRange {
        ArchiveRange { path: self.path.clone(), limits: self.limits.clone(), offset, size }
    }

    /// A blob of the bundle's OCI layout (`oci/blobs/<alg>/<hex>`).
    pub fn blob(&self, digest: &Digest) -> Option<ArchiveRange> {
        let (offset, size) = self.locate(&format!("oci/{}", digest.blob_path()))?;
        Some(self.range(offset, size))
    }

    /// The bundle's `oci/index.json`, checked against the BOM; `None` when it has none.
    pub fn layout_index(&self, bom: &Bom) -> Result<Option<ImageIndex>> {
        let Some(f) = bom.files.iter().find(|f| f.path.as_str() == "oci/index.json") else { return Ok(None) };
        let bytes = self.read_checked("oci/index.json", &f.sha256, crate::MAX_MANIFEST as u64)?;
        serde_json::from_slice(&bytes).map(Some).map_err(|e| RegistryError::Invalid(format!("oci/index.json: {e}")))
    }

    /// Reads a small blob whole, checking it against its digest.
    pub fn read_verified(&self, digest: &Digest, max: u64) -> Result<Vec<u8>> {
        self.read_checked(&format!("oci/{}", digest.blob_path()), digest, max)
    }

    /// Reads a small file whole, checking it against the SHA-256 the verified BOM lists.
    pub fn read_checked(&self, path: &str, sha256: &Digest, max: u64) -> Result<Vec<u8>> {
        let (offset, size) =
            self.locate(path).ok_or_else(|| RegistryError::NotFound(format!("{path} in the bundle")))?;
        if size > max {
            return Err(RegistryError::Invalid(format!("{path}: {size} bytes, more than {max}")));
        }
        let range = self.range(offset, size);
        let mut bytes = Vec::with_capacity(size as usize);
        range
            .open_at(0, size)
            .and_then(|mut r| r.read_to_end(&mut bytes))
            .map_err(RegistryError::io("reading", self.path.display()))?;
        let actual = genesis_bundle::sha256(&bytes);
        if &actual != sha256 {
            return Err(RegistryError::DigestMismatch {
                what: format!("{path} in the bundle"),
                expected: sha256.clone(),
                actual,
            });
        }
        Ok(bytes)
    }
}

/// The descriptor of `image` in the layout's index.
pub fn image_top(layout: &ImageIndex, image: &ImageEntry) -> Result<Descriptor> {
    layout
        .manifests
        .iter()
        .find(|d| d.digest == image.digest)
        .cloned()
        .ok_or_else(|| RegistryError::Invalid(format!("image {} is not in oci/index.json", image.reference)))
}

fn open_seekable(path: &Path, limits: &Limits) -> Result<SeekableFile> {
    let file = File::open(path).map_err(RegistryError::io("opening", path.display()))?;
    if genesis_bundle::seekable::is_seekable_zstd(&file).map_err(RegistryError::io("reading", path.display()))? {
        Ok(SeekableFile::open(file, limits)?)
    } else {
        Err(RegistryError::Invalid(format!(
            "{}: loading and serving read blobs in place from a zstd bundle; this one is gzip or plain tar \
             (extract it with `bundle-loader extract`, or rebuild with compression: zstd)",
            path.display()
        )))
    }
}

/// A byte range of the decompressed archive.
#[derive(Debug, Clone)]
pub struct ArchiveRange {
    path: PathBuf,
    limits: Limits,
    /// Offset in the decompressed stream.
    pub offset: u64,
    /// Length.
    pub size: u64,
}

impl ArchiveRange {
    /// A reader of `len` bytes starting `skip` bytes into the range.
    pub fn open_at(&self, skip: u64, len: u64) -> io::Result<RangeReader> {
        let file = open_seekable(&self.path, &self.limits).map_err(io::Error::other)?;
        Ok(RangeReader {
            file,
            pos: self.offset + skip,
            end: self.offset + skip + len.min(self.size.saturating_sub(skip)),
        })
    }
}

impl BlobSource for ArchiveRange {
    fn open(&self) -> io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(self.open_at(0, self.size)?))
    }
}

/// Sequential reads over a range of a seekable archive.
pub struct RangeReader {
    file: SeekableFile,
    pos: u64,
    end: u64,
}

impl Read for RangeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min((self.end - self.pos).min(1 << 20) as usize);
        if n == 0 {
            return Ok(0);
        }
        self.file.read_exact_at(self.pos, &mut buf[..n]).map_err(io::Error::other)?;
        self.pos += n as u64;
        Ok(n)
    }
}
