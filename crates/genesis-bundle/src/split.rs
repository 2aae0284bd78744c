//! Writing a split bundle (decision 0042): the archive cut into parts on zstd frame boundaries,
//! and its parts manifest. Each part is written under a scratch name and renamed into place,
//! the manifest last, so a run that fails leaves no manifest naming parts that are not whole.

use std::io::{self, Write};
use std::path::{Path, PathBuf};

use sha2::{Digest as _, Sha256};

use crate::archive::Compression;
use crate::digest_io::FileDigest;
use crate::parts::{MAX_PARTS, MIN_PART_SIZE, PARTS_SCHEMA, PartEntry, WholeArchive, manifest_path, part_name};
use crate::scratch::{AtomicFile, Durability, Mode, atomic_write};
use crate::seekable::SeekTable;
use crate::{ArchiveFile, ArchiveReader, BundleError, Limits, PartsManifest, Result, sha256};

/// What a split wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Split {
    /// The manifest as written.
    pub manifest: PartsManifest,
    /// Where it was written.
    pub manifest_path: PathBuf,
    /// Parts that start or end inside a zstd frame: a frame larger than the part size (or an
    /// archive with no frames, gzip or plain tar) had to be cut inside.
    pub cut_inside_frames: usize,
}

/// Lengths of the parts of an archive made of `units` (its frames' compressed sizes in order,
/// then its seek table) cut into parts of at most `max` bytes: each cut at the last unit
/// boundary that keeps the part within `max`; a unit larger than `max` is cut inside, at
/// `max`. Returns the part lengths and how many parts start or end inside a unit.
fn cut(units: &[u64], max: u64) -> (Vec<u64>, usize) {
    let mut parts = Vec::new();
    let (mut current, mut inside) = (0u64, 0usize);
    for &unit in units {
        if current > 0 && current + unit > max {
            parts.push(current);
            current = 0;
        }
        let mut left = unit;
        while left > max {
            // Only a unit larger than `max` gets here, and it starts a part of its own.
            parts.push(max);
            inside += 1;
            left -= max;
        }
        current += left;
        if left < unit {
            // The tail of a unit cut inside starts this part mid-unit.
            inside += 1;
        }
    }
    if current > 0 {
        parts.push(current);
    }
    (parts, inside)
}

/// Splits the bundle archive at `archive` into parts of at most `max_part` bytes written into
/// `out_dir` with its parts manifest (unsigned: signing it is the caller's, with the bundle's
/// key). The archive's head is read for its BOM's digest; nothing else is verified here, since
/// every reader of the parts verifies them.
pub fn split_archive(archive: &Path, out_dir: &Path, max_part: u64, limits: &Limits) -> Result<Split> {
    if max_part < MIN_PART_SIZE {
        return Err(BundleError::Unusable(format!(
            "a part size of {max_part} bytes is below the smallest, {MIN_PART_SIZE} (1 MiB)"
        )));
    }
    let source = ArchiveFile::open(archive)?;
    if source.manifest().is_some() {
        return Err(BundleError::Unusable(format!(
            "{} is already split; join it first (`genesis join`) to split it again",
            archive.display()
        )));
    }
    let name = archive
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| BundleError::Unusable(format!("{} has no file name in UTF-8", archive.display())))?
        .to_owned();
    let len = source.len().map_err(BundleError::io("reading metadata of", archive))?;
    let before = source.stamp().map_err(BundleError::io("reading metadata of", archive))?;
    let mut head = ArchiveReader::open_head(archive, limits)?;
    let bom = sha256(&head.read_head()?.bom);
    let units = match head.compression() {
        Compression::Zstd => {
            let table = SeekTable::read_from(&source, limits)?;
            let mut units: Vec<u64> = table.frames.iter().map(|f| u64::from(f.compressed)).collect();
            let table_len = len.checked_sub(table.compressed_len()).ok_or_else(|| BundleError::Corrupt {
                detail: format!("{} changed while it was split", archive.display()),
            })?;
            units.push(table_len);
            units
        }
        Compression::Gzip | Compression::None => vec![len],
    };
    let (lengths, cut_inside_frames) = cut(&units, max_part);
    let count = lengths.len();
    if count > MAX_PARTS {
        return Err(BundleError::Unusable(format!(
            "{count} parts of {max_part} bytes would be more than a manifest lists ({MAX_PARTS}): choose a part size of at \
             least {} bytes",
            len.div_ceil(MAX_PARTS as u64)
        )));
    }
    let mut whole = Sha256::new();
    let mut parts = Vec::with_capacity(count);
    let mut offset = 0u64;
    let mut buf = vec![0u8; 1 << 20];
    for (i, &part_len) in lengths.iter().enumerate() {
        let part = part_name(&name, i, count);
        let target = out_dir.join(&part);
        let mut out = AtomicFile::create(&target, Mode::OfTarget).map_err(BundleError::io("creating", &target))?;
        let mut hasher = Sha256::new();
        let end = offset + part_len;
        while offset < end {
            let n = buf.len().min((end - offset) as usize);
            source.read_exact_at(&mut buf[..n], offset).map_err(BundleError::io("reading", archive))?;
            hasher.update(&buf[..n]);
            whole.update(&buf[..n]);
            out.write_all(&buf[..n]).map_err(BundleError::io("writing", &target))?;
            offset += n as u64;
        }
        out.commit(Durability::CheckedOnRead).map_err(BundleError::io("writing", &target))?;
        let digest = FileDigest { sha256: hasher.finalize().into(), len: part_len };
        parts.push(PartEntry { name: part, size: part_len, sha256: digest.digest() });
    }
    let whole = FileDigest { sha256: whole.finalize().into(), len };
    if source.stamp().ok() != Some(before) {
        return Err(BundleError::Corrupt { detail: format!("{} changed while it was split", archive.display()) });
    }
    let manifest = PartsManifest {
        schema: PARTS_SCHEMA.into(),
        archive: WholeArchive { name: name.clone(), size: len, sha256: whole.digest() },
        bom,
        parts,
    };
    let manifest_path = manifest_path(&out_dir.join(&name));
    atomic_write(&manifest_path, &manifest.to_bytes()).map_err(BundleError::io("writing", &manifest_path))?;
    Ok(Split { manifest, manifest_path, cut_inside_frames })
}

/// Writes the archive the parts at `parts` (the manifest, a part, or the archive's name)
/// make, to `out`, after checking every part: sizes when opened, hashes in a first pass, so
/// nothing is written from a bad part. Returns the archive's SHA-256 and length.
pub fn join_parts(parts: &Path, out: &mut dyn Write) -> Result<FileDigest> {
    let source = ArchiveFile::open(parts)?;
    if source.manifest().is_none() {
        return Err(BundleError::Unusable(format!("{} is one archive file, not parts", parts.display())));
    }
    let checked =
        source.sequential().and_then(|r| r.finish()).map_err(|e| crate::archive::from_io(e, "reading the parts"))?;
    let mut reader = source.sequential().map_err(|e| crate::archive::from_io(e, "reading the parts"))?;
    io::copy(&mut reader, out).map_err(|e| crate::archive::from_io(e, "joining the parts"))?;
    let again = reader.finish().map_err(|e| crate::archive::from_io(e, "joining the parts"))?;
    if again != checked {
        return Err(BundleError::Corrupt { detail: "a part changed while the parts were joined".into() });
    }
    Ok(again)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn cuts_fall_between_frames_and_inside_only_a_frame_larger_than_a_part() {
        assert_eq!(cut(&[4, 4, 4, 1], 10), (vec![8, 5], 0));
        assert_eq!(cut(&[4, 4, 2, 1], 10), (vec![10, 1], 0));
        // A 25-byte frame in parts of 10: 10, 10, then 5 with what follows.
        assert_eq!(cut(&[3, 25, 2], 10), (vec![3, 10, 10, 7], 3));
        assert_eq!(cut(&[30], 10), (vec![10, 10, 10], 3));
        for (units, max) in [(vec![1u64, 9, 9, 30, 2, 1], 9u64), (vec![5; 40], 12)] {
            let (parts, _) = cut(&units, max);
            assert_eq!(parts.iter().sum::<u64>(), units.iter().sum::<u64>());
            assert!(parts.iter().all(|&p| p > 0 && p <= max), "{parts:?}");
        }
    }
}
