//! What `genesis split` and `bundle-builder create --max-part-size` share (decision 0042):
//! the size their flag takes, clearing what an earlier split of the same archive left in the
//! folder, signing the parts manifest the way the archive is signed, and the lines and JSON
//! that report a split.

use std::path::{Path, PathBuf};

use genesis_bundle::{Compression, PARTS_MANIFEST_SUFFIX, PartEntry, Split, WholeArchive};
use genesis_trust::{PrivateKey, SignatureSidecars};
use genesis_types::Digest;

/// A size as a flag gives it: bytes (`1048576`), or a whole number with a unit, decimal
/// (`KB`, `MB`, `GB`, `TB`: powers of 1000, as media are sold) or binary (`KiB`, `MiB`, `GiB`,
/// `TiB`: powers of 1024, as FAT32's 4 GiB limit is stated), in any case; `B` is bytes.
pub fn parse_size(text: &str) -> Result<u64, String> {
    let trimmed = text.trim();
    let digits = trimmed.bytes().take_while(u8::is_ascii_digit).count();
    let (number, unit) = trimmed.split_at(digits);
    let refused = || {
        format!(
            "{text:?} is not a size: give bytes (1048576) or a whole number with a unit, e.g. 700MB, 100MiB, 4GiB \
             (KB MB GB TB count in powers of 1000, KiB MiB GiB TiB in powers of 1024)"
        )
    };
    if number.is_empty() {
        return Err(refused());
    }
    let multiplier: u64 = match unit.trim().to_ascii_lowercase().as_str() {
        "" | "b" => 1,
        "kb" => 1_000,
        "mb" => 1_000_000,
        "gb" => 1_000_000_000,
        "tb" => 1_000_000_000_000,
        "kib" => 1 << 10,
        "mib" => 1 << 20,
        "gib" => 1 << 30,
        "tib" => 1 << 40,
        _ => return Err(refused()),
    };
    number
        .parse::<u64>()
        .ok()
        .and_then(|n| n.checked_mul(multiplier))
        .ok_or_else(|| format!("{text:?} is more bytes than 64 bits count"))
}

/// Removes from `dir` what an earlier split of the archive named `archive_name` left there:
/// its parts (`NAME.part-000` …), its parts manifest and the manifest's `.sig` and
/// `.cosign.bundle`. A new split with fewer parts would otherwise leave stale ones that
/// `cat NAME.part-* > NAME` would join in, and a signature over another manifest that every
/// verification refuses. Returns what was removed, sorted.
pub fn remove_earlier_split(dir: &Path, archive_name: &str) -> std::io::Result<Vec<PathBuf>> {
    let manifest = format!("{archive_name}{PARTS_MANIFEST_SUFFIX}");
    let part_prefix = format!("{archive_name}.part-");
    let mut removed = Vec::new();
    let entries = match std::fs::read_dir(dir) {
        Ok(entries) => entries,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(removed),
        Err(e) => return Err(e),
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name();
        let Some(name) = name.to_str() else { continue };
        let part = name
            .strip_prefix(&part_prefix)
            .is_some_and(|index| index.len() >= 3 && index.bytes().all(|b| b.is_ascii_digit()));
        let listing = name.strip_prefix(&manifest).is_some_and(|rest| matches!(rest, "" | ".sig" | ".cosign.bundle"));
        // A link at such a name goes itself, never what it points at; a folder is nobody's part.
        if (part || listing) && !entry.file_type()?.is_dir() {
            std::fs::remove_file(entry.path())?;
            removed.push(entry.path());
        }
    }
    removed.sort();
    Ok(removed)
}

/// Signs the parts manifest `split` wrote with `key`, as `bundle-builder create` signs the
/// archive ([`SignatureSidecars`], over the manifest's bytes as they are on disk), and writes
/// the signatures beside it: `NAME.parts.json.sig` and `NAME.parts.json.cosign.bundle`.
/// Returns where.
pub fn sign_manifest(key: &PrivateKey, split: &Split) -> std::io::Result<(PathBuf, PathBuf)> {
    let written = genesis_bundle::digest_io::sha256_file(&split.manifest_path)?;
    let (signature_file, cosign_bundle_file) = SignatureSidecars::paths(&split.manifest_path);
    let sidecars = SignatureSidecars::sign(key, &written.sha256);
    genesis_bundle::scratch::atomic_write(&signature_file, &sidecars.signature)?;
    genesis_bundle::scratch::atomic_write(&cosign_bundle_file, &sidecars.cosign_bundle)?;
    Ok((signature_file, cosign_bundle_file))
}

/// What a split wrote, for `--output json`.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SplitReport<'a> {
    /// The parts manifest.
    pub manifest: &'a Path,
    /// The archive the parts make: its name, size and SHA-256.
    pub archive: &'a WholeArchive,
    /// SHA-256 of the BOM the archive carries.
    pub bom: &'a Digest,
    /// Each part: its name, size and SHA-256.
    pub parts: &'a [PartEntry],
    /// The largest part allowed.
    pub part_size: u64,
    /// Parts that start or end inside a zstd frame (see [`frames_note`]).
    pub cut_inside_frames: usize,
    /// The manifest's `.sig` and `.cosign.bundle`; empty when it is unsigned.
    pub signature_files: Vec<PathBuf>,
}

impl<'a> SplitReport<'a> {
    /// The report of `split`, cut into parts of at most `part_size`, its manifest signed into
    /// `signature_files` (none when unsigned).
    pub fn new(split: &'a Split, part_size: u64, signature_files: Vec<PathBuf>) -> SplitReport<'a> {
        SplitReport {
            manifest: &split.manifest_path,
            archive: &split.manifest.archive,
            bom: &split.manifest.bom,
            parts: &split.manifest.parts,
            part_size,
            cut_inside_frames: split.cut_inside_frames,
            signature_files,
        }
    }
}

/// One line per part, `  NAME  SIZE bytes  sha256:HEX`, then the manifest's.
pub fn part_lines(split: &Split) -> Vec<String> {
    let width = split.manifest.parts.iter().map(|p| p.name.len()).max().unwrap_or(0);
    let mut lines: Vec<String> = split
        .manifest
        .parts
        .iter()
        .map(|p| format!("  {:width$}  {:>13} bytes  {}", p.name, p.size, p.sha256))
        .collect();
    lines.push(format!(
        "  manifest {} (archive {} bytes, {}; bom {})",
        split.manifest_path.display(),
        split.manifest.archive.size,
        split.manifest.archive.sha256,
        split.manifest.bom
    ));
    lines
}

/// What no longer holds when parts start or end inside a zstd frame, for a split of an
/// archive compressed with `compression`; `None` when every cut fell between frames.
pub fn frames_note(split: &Split, compression: Compression) -> Option<String> {
    let n = split.cut_inside_frames;
    if n == 0 {
        return None;
    }
    let what = match compression {
        Compression::Zstd => {
            format!("{n} parts start or end inside a zstd frame: a frame is larger than the part size")
        }
        Compression::Gzip | Compression::None => {
            "the archive is gzip or plain tar, which has no frames to cut between: its parts are cut at the size"
                .to_owned()
        }
    };
    Some(format!(
        "! {what}. A guard that inspects each file on its own sees a partial stream in those parts; every part is \
         still within the size, and every reader still checks each part's SHA-256"
    ))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn sizes_take_bytes_and_decimal_and_binary_units() {
        for (text, bytes) in [
            ("1048576", 1_048_576),
            ("512B", 512),
            ("700MB", 700_000_000),
            ("700mb", 700_000_000),
            ("100MiB", 100 << 20),
            ("4GiB", 4 << 30),
            ("4 GiB", 4 << 30),
            ("4gib", 4 << 30),
            ("2KB", 2_000),
            ("2KiB", 2_048),
            ("1TB", 1_000_000_000_000),
            ("1TiB", 1 << 40),
            (" 4700MB ", 4_700_000_000),
        ] {
            assert_eq!(parse_size(text), Ok(bytes), "{text}");
        }
    }

    #[test]
    fn a_size_without_a_number_a_fraction_or_an_unknown_unit_is_refused_and_so_is_an_overflow() {
        for text in ["", "MiB", "1.5GiB", "4G", "4 gigabytes", "-1", "0x10", "10 MiB extra"] {
            let err = parse_size(text).unwrap_err();
            assert!(err.contains("is not a size") && err.contains("100MiB"), "{text}: {err}");
        }
        for text in ["99999999999999999999", "16777216TiB"] {
            assert!(parse_size(text).unwrap_err().contains("64 bits"), "{text}");
        }
    }

    #[test]
    fn an_earlier_splits_parts_manifest_and_signatures_go_and_nothing_else() {
        let dir = tempfile::tempdir().unwrap();
        let names = [
            "a.tar.zst",
            "a.tar.zst.sha256",
            "a.tar.zst.sig",
            "a.tar.zst.part-000",
            "a.tar.zst.part-1000",
            "a.tar.zst.part-x01",
            "a.tar.zst.parts.json",
            "a.tar.zst.parts.json.sig",
            "a.tar.zst.parts.json.cosign.bundle",
            "a.tar.zst.parts.json.bak",
            "b.tar.zst.part-000",
        ];
        for name in names {
            std::fs::write(dir.path().join(name), b"x").unwrap();
        }
        let removed = remove_earlier_split(dir.path(), "a.tar.zst").unwrap();
        let removed: Vec<_> = removed.iter().map(|p| p.file_name().unwrap().to_str().unwrap()).collect();
        assert_eq!(
            removed,
            [
                "a.tar.zst.part-000",
                "a.tar.zst.part-1000",
                "a.tar.zst.parts.json",
                "a.tar.zst.parts.json.cosign.bundle",
                "a.tar.zst.parts.json.sig"
            ]
        );
        for kept in ["a.tar.zst", "a.tar.zst.sha256", "a.tar.zst.sig", "a.tar.zst.part-x01", "a.tar.zst.parts.json.bak"]
        {
            assert!(dir.path().join(kept).exists(), "{kept}");
        }
        assert!(remove_earlier_split(&dir.path().join("absent"), "a.tar.zst").unwrap().is_empty());
    }
}
