//! The zip archives OSV exports (`<ecosystem>/all.zip`, one JSON record per entry), read
//! for what they hold and no more: the central directory (zip64 included, as Go's
//! `archive/zip` writes it past 65 535 entries) and entries stored or deflated, each checked
//! against its declared size and CRC-32. Encrypted entries, other compression methods and
//! multi-disk archives are refused.
//!
//! The format's facts are PKWARE's APPNOTE.TXT (6.3.10): end of central directory record
//! (4.3.16), zip64 end record and locator (4.3.14, 4.3.15), central directory header
//! (4.3.12), local file header (4.3.7), zip64 extended information extra field (4.5.3).
//!
//! Why our own reader rather than the `zip` crate: we need read-only, two methods and the
//! caps below, in about two hundred lines over `flate2` (already in the workspace), where
//! the crate brings its own dependency tree and a history of API breaks between majors;
//! and every size we act on is checked here against the caller's limits before anything
//! is inflated.

use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom};

use flate2::Crc;
use flate2::read::DeflateDecoder;

const END_SIGNATURE: u32 = 0x0605_4b50;
const ZIP64_LOCATOR_SIGNATURE: u32 = 0x0706_4b50;
const ZIP64_END_SIGNATURE: u32 = 0x0606_4b50;
const CENTRAL_SIGNATURE: u32 = 0x0201_4b50;
const LOCAL_SIGNATURE: u32 = 0x0403_4b50;
/// The end record's fixed part; a comment of at most 65 535 bytes follows it.
const END_LEN: usize = 22;

/// One entry of the central directory.
#[derive(Debug, Clone)]
pub(crate) struct Entry {
    /// Its name (a path inside the archive).
    pub(crate) name: String,
    /// Its size once inflated, as declared.
    pub(crate) size: u64,
    method: u16,
    flags: u16,
    crc32: u32,
    compressed_size: u64,
    header_offset: u64,
}

/// What went wrong reading an archive.
#[derive(Debug)]
pub(crate) enum ZipError {
    /// Reading the file failed.
    Io(io::Error),
    /// The archive is corrupt or uses what we do not read.
    Corrupt(String),
    /// It declares more entries than allowed.
    TooManyEntries(u64),
}

impl From<io::Error> for ZipError {
    fn from(e: io::Error) -> ZipError {
        ZipError::Io(e)
    }
}

fn corrupt(reason: impl Into<String>) -> ZipError {
    ZipError::Corrupt(reason.into())
}

/// Little-endian fields of a byte slice, read with bounds checks.
struct Fields<'a>(&'a [u8]);

impl Fields<'_> {
    fn bytes<const N: usize>(&self, at: usize) -> Result<[u8; N], ZipError> {
        self.0
            .get(at..at.saturating_add(N))
            .and_then(|b| <[u8; N]>::try_from(b).ok())
            .ok_or_else(|| corrupt("a record runs past its end"))
    }
    fn u16(&self, at: usize) -> Result<u16, ZipError> {
        self.bytes(at).map(u16::from_le_bytes)
    }
    fn u32(&self, at: usize) -> Result<u32, ZipError> {
        self.bytes(at).map(u32::from_le_bytes)
    }
    fn u64(&self, at: usize) -> Result<u64, ZipError> {
        self.bytes(at).map(u64::from_le_bytes)
    }
}

/// The entries of the archive `file` (of `len` bytes), from its central directory; more
/// than `max_entries` is refused before the directory is read.
pub(crate) fn entries(file: &mut File, len: u64, max_entries: u64) -> Result<Vec<Entry>, ZipError> {
    // The end record is in the last 22 + 65 535 bytes.
    let tail_len = len.min((END_LEN + usize::from(u16::MAX)) as u64);
    let tail_start = len - tail_len;
    let tail = read_at(file, tail_start, tail_len)?;
    let end = (0..=tail.len().saturating_sub(END_LEN))
        .rev()
        .find(|&i| tail.get(i..i + 4) == Some(&END_SIGNATURE.to_le_bytes()[..]))
        .ok_or_else(|| corrupt("no end of central directory record (not a zip archive)"))?;
    let record = Fields(&tail[end..]);
    if record.u16(4)? != 0 || record.u16(6)? != 0 {
        return Err(corrupt("a multi-disk archive"));
    }
    let mut count = u64::from(record.u16(10)?);
    let mut directory_len = u64::from(record.u32(12)?);
    let mut directory_start = u64::from(record.u32(16)?);
    let end_at = tail_start + end as u64;

    // A zip64 locator, when present, sits right before the end record.
    if end_at >= 20 {
        let locator = read_at(file, end_at - 20, 20)?;
        let locator = Fields(&locator);
        if locator.u32(0)? == ZIP64_LOCATOR_SIGNATURE {
            let zip64_at = locator.u64(8)?;
            if zip64_at.checked_add(56).is_none_or(|e| e > end_at) {
                return Err(corrupt("the zip64 end record is outside the archive"));
            }
            let zip64 = read_at(file, zip64_at, 56)?;
            let zip64 = Fields(&zip64);
            if zip64.u32(0)? != ZIP64_END_SIGNATURE {
                return Err(corrupt("no zip64 end record where its locator points"));
            }
            count = zip64.u64(32)?;
            directory_len = zip64.u64(40)?;
            directory_start = zip64.u64(48)?;
        }
    }
    if count > max_entries {
        return Err(ZipError::TooManyEntries(count));
    }
    if directory_start.checked_add(directory_len).is_none_or(|e| e > end_at) {
        return Err(corrupt("the central directory is outside the archive"));
    }
    let directory = read_at(file, directory_start, directory_len)?;
    let mut entries = Vec::with_capacity(usize::try_from(count).unwrap_or(0).min(1 << 20));
    let mut at = 0_usize;
    for _ in 0..count {
        let header = Fields(directory.get(at..).unwrap_or(&[]));
        if header.u32(0)? != CENTRAL_SIGNATURE {
            return Err(corrupt(format!("no central directory header at offset {}", directory_start + at as u64)));
        }
        let (name_len, extra_len, comment_len) =
            (usize::from(header.u16(28)?), usize::from(header.u16(30)?), usize::from(header.u16(32)?));
        let name_bytes =
            header.0.get(46..46 + name_len).ok_or_else(|| corrupt("an entry name runs past the directory"))?;
        let extra = header
            .0
            .get(46 + name_len..46 + name_len + extra_len)
            .ok_or_else(|| corrupt("an extra field runs past the directory"))?;
        let mut entry = Entry {
            name: String::from_utf8_lossy(name_bytes).into_owned(),
            size: u64::from(header.u32(24)?),
            method: header.u16(10)?,
            flags: header.u16(8)?,
            crc32: header.u32(16)?,
            compressed_size: u64::from(header.u32(20)?),
            header_offset: u64::from(header.u32(42)?),
        };
        apply_zip64(&mut entry, extra)?;
        entries.push(entry);
        at += 46 + name_len + extra_len + comment_len;
    }
    // Each entry has its own bytes before the directory: entries sharing one local header
    // would let a small archive read as millions of records.
    let mut offsets: Vec<u64> = entries.iter().map(|e| e.header_offset).collect();
    offsets.sort_unstable();
    if offsets.windows(2).any(|pair| pair[0] == pair[1]) {
        return Err(corrupt("two entries share one local header"));
    }
    if offsets.last().is_some_and(|last| *last >= directory_start) {
        return Err(corrupt("an entry's local header lies in or after the central directory"));
    }
    Ok(entries)
}

/// Replaces the 32-bit fields that are 0xFFFFFFFF by the zip64 extended information extra
/// field's values, which hold those fields only, in the order size, compressed size, offset.
fn apply_zip64(entry: &mut Entry, mut extra: &[u8]) -> Result<(), ZipError> {
    const MAX32: u64 = u32::MAX as u64;
    while extra.len() >= 4 {
        let id = u16::from_le_bytes([extra[0], extra[1]]);
        let len = usize::from(u16::from_le_bytes([extra[2], extra[3]]));
        let data = extra.get(4..4 + len).ok_or_else(|| corrupt("an extra field runs past its entry"))?;
        if id == 0x0001 {
            let data = Fields(data);
            let mut at = 0;
            for field in [&mut entry.size, &mut entry.compressed_size, &mut entry.header_offset] {
                if *field == MAX32 {
                    *field = data.u64(at)?;
                    at += 8;
                }
            }
            return Ok(());
        }
        extra = &extra[4 + len..];
    }
    if [entry.size, entry.compressed_size, entry.header_offset].contains(&MAX32) {
        return Err(corrupt(format!("entry {} needs zip64 sizes and has none", entry.name)));
    }
    Ok(())
}

/// Reads `entry` of the archive `file` (of `len` bytes) into `out`, inflated, checked
/// against its declared size and CRC-32: an entry that inflates past its declared size is
/// refused after at most one byte more, so the caller's check of the declared size bounds
/// what is inflated.
pub(crate) fn read(file: &mut File, len: u64, entry: &Entry, out: &mut Vec<u8>) -> Result<(), ZipError> {
    if entry.flags & 1 != 0 {
        return Err(corrupt("the entry is encrypted"));
    }
    let header = read_at(file, entry.header_offset, 30)?;
    let header = Fields(&header);
    if header.u32(0)? != LOCAL_SIGNATURE {
        return Err(corrupt("no local header where the directory points"));
    }
    let data_at = entry.header_offset + 30 + u64::from(header.u16(26)?) + u64::from(header.u16(28)?);
    if data_at.checked_add(entry.compressed_size).is_none_or(|e| e > len) {
        return Err(corrupt("the entry's data runs past the archive"));
    }
    file.seek(SeekFrom::Start(data_at))?;
    let data = Read::take(&mut *file, entry.compressed_size);
    out.clear();
    let limit = entry.size.saturating_add(1);
    match entry.method {
        0 => data.take(limit).read_to_end(out)?,
        8 => DeflateDecoder::new(data).take(limit).read_to_end(out)?,
        method => return Err(corrupt(format!("compression method {method} (only stored and deflate are read)"))),
    };
    if out.len() as u64 != entry.size {
        let how = if out.len() as u64 > entry.size { "past" } else { "short of" };
        return Err(corrupt(format!("the entry inflates {how} its declared size of {} bytes", entry.size)));
    }
    let mut crc = Crc::new();
    crc.update(out.as_slice());
    if crc.sum() != entry.crc32 {
        return Err(corrupt("the entry's CRC-32 does not match"));
    }
    Ok(())
}

/// `len` bytes of `file` from `offset`; fewer is an error (a truncated archive).
fn read_at(file: &mut File, offset: u64, len: u64) -> Result<Vec<u8>, ZipError> {
    file.seek(SeekFrom::Start(offset))?;
    let mut buf = Vec::new();
    Read::take(&mut *file, len).read_to_end(&mut buf)?;
    if (buf.len() as u64) < len {
        return Err(corrupt("the archive is truncated"));
    }
    Ok(buf)
}
