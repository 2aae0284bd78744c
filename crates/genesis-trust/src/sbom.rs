//! The bundle SBOM against the signed BOM: every image, chart and manifest the BOM lists
//! must appear in the SBOM with the same SHA-256. An SBOM that forgets a component would
//! hide it from every scanner downstream, so an incomplete one fails verification.

use std::collections::BTreeSet;
use std::io::Write;

use genesis_bundle::danger::SeekableFile;
use genesis_bundle::{ArchiveFile, Bom, BundleError, FileStamp, Limits, PayloadSink};
use genesis_types::BundlePath;

use crate::{Result, TrustError};

/// The largest SBOM the verifier reads into memory.
pub(crate) const MAX_SBOM: usize = 64 << 20;

/// A sink that passes every file on to `inner` and keeps a copy of the one at `path`.
pub(crate) struct Capture<'a> {
    pub(crate) inner: &'a mut dyn PayloadSink,
    pub(crate) path: Option<BundlePath>,
    pub(crate) bytes: Vec<u8>,
}

struct Tee<'a> {
    inner: Box<dyn Write + 'a>,
    copy: &'a mut Vec<u8>,
}

impl Write for Tee<'_> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        if self.copy.len() + n > MAX_SBOM {
            return Err(std::io::Error::other(format!("SBOM larger than {MAX_SBOM} bytes")));
        }
        self.copy.extend_from_slice(&buf[..n]);
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

impl PayloadSink for Capture<'_> {
    fn dir(&mut self, path: &str) -> genesis_bundle::Result<()> {
        self.inner.dir(path)
    }
    fn file(&mut self, path: &BundlePath) -> genesis_bundle::Result<Box<dyn Write + '_>> {
        let inner = self.inner.file(path)?;
        if self.path.as_ref() == Some(path) { Ok(Box::new(Tee { inner, copy: &mut self.bytes })) } else { Ok(inner) }
    }
    fn verified(&mut self, path: &BundlePath) -> genesis_bundle::Result<()> {
        self.inner.verified(path)
    }
}

/// Reads the SBOM at `path` out of the seekable archive `archive` by random access and
/// checks it as the full pass does: its size and SHA-256 against the BOM, then
/// [`check_complete`]. `stamp` is the archive's when its head was read: a file changed or
/// replaced since is refused.
pub(crate) fn check_in_archive(
    archive: &ArchiveFile,
    stamp: FileStamp,
    limits: &Limits,
    bom: &Bom,
    path: &BundlePath,
) -> Result<()> {
    let missing = || BundleError::MissingEntry { path: path.clone() };
    let listed = bom.file(path.as_str()).ok_or_else(missing)?;
    if listed.size > MAX_SBOM as u64 {
        return Err(
            BundleError::LimitExceeded { what: "SBOM size", actual: listed.size, limit: MAX_SBOM as u64 }.into()
        );
    }
    let file = archive.try_clone().map_err(BundleError::io("opening", archive.path()))?;
    if file.stamp().map_err(BundleError::io("reading metadata of", archive.path()))? != stamp {
        let detail = "the archive file changed since its signature was verified".to_owned();
        return Err(BundleError::Corrupt { detail }.into());
    }
    let mut seekable = SeekableFile::open(file, limits)?;
    let (header, offset) =
        seekable.entries(limits)?.into_iter().find(|(h, _)| h.path == path.as_str()).ok_or_else(missing)?;
    if header.size != listed.size {
        return Err(BundleError::SizeMismatch { path: path.clone(), expected: listed.size, actual: header.size }.into());
    }
    let mut sbom = vec![0u8; listed.size as usize];
    seekable.read_exact_at(offset, &mut sbom)?;
    let actual = genesis_bundle::sha256(&sbom);
    if actual != listed.sha256 {
        return Err(BundleError::DigestMismatch { path: path.clone(), expected: listed.sha256.clone(), actual }.into());
    }
    check_complete(bom, &sbom, path)
}

/// Checks that the CycloneDX `sbom` names every image, chart and manifest of `bom` by its
/// SHA-256.
pub(crate) fn check_complete(bom: &Bom, sbom: &[u8], path: &BundlePath) -> Result<()> {
    let doc: serde_json::Value = serde_json::from_slice(sbom)
        .map_err(|e| TrustError::Bundle(BundleError::BomInvalid(format!("{path} is not JSON ({e})"))))?;
    let mut hashes = BTreeSet::new();
    collect_hashes(&doc["components"], &mut hashes);
    let file_sha = |p: &BundlePath| bom.file(p.as_str()).map(|f| f.sha256.hex().to_owned());
    let mut missing = Vec::new();
    for image in &bom.images {
        if !hashes.contains(image.digest.hex()) {
            missing.push(format!("image {} ({})", image.name, image.digest));
        }
    }
    for chart in &bom.charts {
        if !file_sha(&chart.path).is_some_and(|h| hashes.contains(&h)) {
            missing.push(format!("chart {}", chart.path));
        }
    }
    for manifest in &bom.manifests {
        if !file_sha(&manifest.path).is_some_and(|h| hashes.contains(&h)) {
            missing.push(format!("manifest {}", manifest.path));
        }
    }
    if missing.is_empty() { Ok(()) } else { Err(TrustError::SbomIncomplete { path: path.to_string(), missing }) }
}

fn collect_hashes(components: &serde_json::Value, out: &mut BTreeSet<String>) {
    for c in components.as_array().into_iter().flatten() {
        for h in c["hashes"].as_array().into_iter().flatten() {
            if h["alg"] == "SHA-256"
                && let Some(v) = h["content"].as_str()
            {
                out.insert(v.to_ascii_lowercase());
            }
        }
        collect_hashes(&c["components"], out);
    }
}
