//! Replacing the head of a seekable zstd archive (`bom.json`, its signature, the provenance)
//! without recompressing its payload: how a bundle is re-signed (decision 0036).
//!
//! The new archive is the one [`crate::write_bundle`] writes for the same BOM and payload
//! under the new head: its frames are planned with the writer's own cut rule, and every
//! planned frame that holds the same payload bytes as a frame of the old archive is that
//! frame, copied byte for byte (zstd at a fixed level is deterministic, so the same zstd
//! version compressing those bytes again gives the same frame; another version may give
//! another, equally valid one). Only frames that hold head bytes are compressed afresh, and
//! those the new head's length moves: small entries share a frame with the head, so a head a
//! tar block longer or shorter can shift where the next frames are cut, until an entry too
//! large to share a frame starts one in both archives.
//!
//! Nothing here judges a signature. The caller gives the head its verification judged, which
//! must be the head this file holds, and at the end the SHA-256 that verification hashed; the
//! old archive is read once, front to back, hashed as it is copied, and a rewrite of any other
//! bytes fails at the end, so its output (a scratch file) is dropped.

use std::fs::File;
use std::io::{Read, Write};
use std::path::Path;

use genesis_types::Digest;

use crate::archive::{Head, from_io};
use crate::bom::{Bom, ExpectedEntry};
use crate::digest_io::{DigestAdapter, FileDigest, sha256};
use crate::seekable::{FRAME_SIZE, FrameEntry, SeekTable, decompress_frame, new_compressor};
use crate::tar::{self, BLOCK, END_OF_ARCHIVE};
use crate::writer::closes_frame_before;
use crate::{ArchiveFile, BundleError, Limits, ProgressCounter, Result};

/// A seekable zstd archive opened to have its head replaced: the frames that hold its head
/// decompressed and found to hold the head given, the rest of the file not yet read.
pub struct HeadRewrite {
    /// The archive, read front to back once and hashed on the way.
    file: DigestAdapter<File>,
    /// Its seek table, as read when it was opened: the frames are copied as it cuts them.
    table: SeekTable,
    /// The head, as the archive carries it.
    head: Head,
    /// The mtime of the head's entries, which the new head's take.
    mtime: u64,
    /// The encoded length of each payload entry, in order.
    payload_entries: Vec<u64>,
    /// How many of the archive's frames are read.
    frames_read: usize,
    /// Payload bytes the frames read so far hold beyond the head, not yet written.
    pending: Vec<u8>,
}

/// What [`HeadRewrite::write`] wrote.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Rewritten {
    /// The SHA-256 and length of the new archive.
    pub archive: FileDigest,
    /// The frames of the new archive.
    pub frames: u64,
    /// Of those, the frames copied from the old archive byte for byte.
    pub frames_copied: u64,
    /// The compressed bytes those frames hold.
    pub bytes_copied: u64,
}

impl HeadRewrite {
    /// Opens the archive at `path`, whose head is `head` (the one its verification judged) and
    /// whose BOM is `bom`, within `limits`: reads its seek table, checks that its frames hold
    /// that head, the payload the BOM lists and the end-of-archive marker and nothing else,
    /// then decompresses the frames that hold the head and checks they are `head`'s bytes.
    /// Only a seekable zstd archive has frames to copy; any other is refused here.
    ///
    /// Its length is checked before any frame is decompressed: verification takes zeros after
    /// the end-of-archive marker for padding, and a head's length read off the table would put
    /// them all in memory here.
    pub fn open(path: &Path, head: &Head, bom: &Bom, limits: &Limits) -> Result<HeadRewrite> {
        if let crate::BundleLocation::Parts { manifest, .. } = crate::BundleLocation::of(path) {
            return Err(BundleError::Unusable(format!(
                "{} is split into parts: join them first (`genesis join {}`), then re-sign the archive",
                path.display(),
                manifest.display()
            )));
        }
        let file = File::open(path).map_err(BundleError::io("opening", path))?;
        let table = SeekTable::read_from(
            &ArchiveFile::single(file.try_clone().map_err(BundleError::io("opening", path))?, path.to_owned()),
            limits,
        )?;
        let payload_entries: Vec<u64> = bom.expected_entries().iter().map(entry_len).collect();
        let head_len: u64 = head.entries().iter().map(|(_, data)| file_entry_len(data.len() as u64)).sum();
        let written_len = head_len + payload_entries.iter().sum::<u64>() + END_OF_ARCHIVE.len() as u64;
        if table.decompressed_len() != written_len {
            return Err(BundleError::Corrupt {
                detail: format!(
                    "its frames hold {} bytes, and its head, the payload its BOM lists and the end-of-archive \
                     marker {written_len}: not the archive a build writes (bytes were added or cut), so its frames \
                     are not copied; rebuild it",
                    table.decompressed_len()
                ),
            });
        }
        let mut rewrite = HeadRewrite {
            file: DigestAdapter::new(file),
            table,
            head: head.clone(),
            mtime: 0,
            payload_entries,
            frames_read: 0,
            pending: Vec::new(),
        };
        let mut decompressor = zstd::bulk::Decompressor::new().map_err(|e| from_io(e, "starting zstd"))?;
        while (rewrite.pending.len() as u64) < head_len {
            let raw = rewrite.read_decompressed(&mut decompressor)?;
            rewrite.pending.extend(raw);
        }
        let payload = rewrite.pending.split_off(head_len as usize);
        let region = std::mem::replace(&mut rewrite.pending, payload);
        rewrite.mtime = region.first_chunk::<BLOCK>().and_then(tar::mtime).unwrap_or(0);
        // The head verification judged must be the bytes this pass hashes: what is signed
        // anew is then what the final digest check vouches for.
        let parsed = encode_head(&rewrite.head, rewrite.mtime)?;
        if parsed != region {
            return Err(BundleError::ChangedSinceVerification {
                what: "the archive's head".into(),
                expected: sha256(&parsed),
                actual: sha256(&region),
            });
        }
        Ok(rewrite)
    }

    /// Writes to `out` the archive with `new_head`, whose BOM must be this archive's byte for
    /// byte (another signature, another provenance), counting payload bytes in `progress`: the
    /// frames the canonical framing of the new archive shares with the old are copied, the
    /// others compressed, then the new seek table follows. Fails, after writing, when the old
    /// archive did not hash to `verified` (the SHA-256 its verification computed) or its seek
    /// table is no longer the one the frames were copied by: `out` must be a scratch file the
    /// caller drops on error.
    pub fn write<W: Write>(
        mut self,
        verified: &Digest,
        new_head: &Head,
        out: W,
        progress: &ProgressCounter,
    ) -> Result<(W, Rewritten)> {
        if new_head.bom != self.head.bom {
            return Err(BundleError::ChangedSinceVerification {
                what: "the re-signed head's bom.json".into(),
                expected: sha256(&self.head.bom),
                actual: sha256(&new_head.bom),
            });
        }
        let head = encode_head(new_head, self.mtime)?;
        let head_entries = new_head.entries().into_iter().map(|(_, data)| file_entry_len(data.len() as u64));
        let plan = plan_frames(head_entries.chain(self.payload_entries.iter().copied()));
        progress.set_total(plan.iter().sum::<u64>() - head.len() as u64);
        let write_err = |e| from_io(e, "writing the archive");
        let mut out = DigestAdapter::new(out);
        let mut compressor = new_compressor().map_err(|e| from_io(e, "starting zstd"))?;
        let mut decompressor = zstd::bulk::Decompressor::new().map_err(|e| from_io(e, "starting zstd"))?;
        let (mut table, mut frames_copied, mut bytes_copied) = (SeekTable::default(), 0u64, 0u64);
        // `start` and `end` are offsets in the new tar stream; `payload` is how far into the
        // payload the frames written so far reach, `self.pending` what was read beyond that.
        let (mut start, mut payload) = (0u64, 0u64);
        for len in plan {
            let end = start + len;
            let head_part = head.get(start as usize..(end as usize).min(head.len())).unwrap_or_default();
            let payload_end = end.saturating_sub(head.len() as u64);
            let same_as_next = self.table.frames.get(self.frames_read).is_some_and(|old| {
                head_part.is_empty() && self.pending.is_empty() && payload + u64::from(old.decompressed) == payload_end
            });
            let frame = if same_as_next {
                let frame = self.read_frame()?.0;
                frames_copied += 1;
                bytes_copied += frame.len() as u64;
                frame
            } else {
                while (self.pending.len() as u64) < payload_end - payload {
                    let raw = self.read_decompressed(&mut decompressor)?;
                    self.pending.extend(raw);
                }
                let mut raw = Vec::with_capacity(len as usize);
                raw.extend_from_slice(head_part);
                raw.extend(self.pending.drain(..(payload_end - payload) as usize));
                compressor.compress(&raw).map_err(write_err)?
            };
            out.write_all(&frame).map_err(write_err)?;
            table.frames.push(FrameEntry { compressed: frame.len() as u32, decompressed: len as u32 });
            progress.add(payload_end - payload);
            (start, payload) = (end, payload_end);
        }
        if self.frames_read != self.table.frames.len() || !self.pending.is_empty() {
            return Err(BundleError::Corrupt {
                detail: "the archive's frames hold more than its head and the payload its BOM lists".into(),
            });
        }
        self.read_table()?;
        self.check_verified(verified)?;
        out.write_all(&table.encode()).map_err(write_err)?;
        out.flush().map_err(write_err)?;
        let archive = out.digest();
        let frames = table.frames.len() as u64;
        Ok((out.into_inner(), Rewritten { archive, frames, frames_copied, bytes_copied }))
    }

    /// Reads the next frame's compressed bytes, with its seek table entry.
    fn read_frame(&mut self) -> Result<(Vec<u8>, FrameEntry)> {
        let entry = *self.table.frames.get(self.frames_read).ok_or_else(|| BundleError::Truncated {
            detail: "the archive's frames end before its head and payload do".into(),
        })?;
        let mut frame = vec![0u8; entry.compressed as usize];
        self.file.read_exact(&mut frame).map_err(|e| from_io(e, "reading the archive"))?;
        self.frames_read += 1;
        Ok((frame, entry))
    }

    /// Reads and decompresses the next frame.
    fn read_decompressed(&mut self, decompressor: &mut zstd::bulk::Decompressor<'static>) -> Result<Vec<u8>> {
        let (frame, entry) = self.read_frame()?;
        let index = self.frames_read as u64 - 1;
        decompress_frame(decompressor, &frame, entry.decompressed, index)
            .map_err(|e| from_io(e, "decompressing a frame"))
    }

    /// Reads the rest of the file after the frames, which must be the seek table read at open
    /// and nothing more: the frames were copied as that table cut them, and a table swapped
    /// since (put back before the end, the whole file would still hash as verified) described
    /// other frames than the verification decompressed.
    fn read_table(&mut self) -> Result<()> {
        let expected = self.table.encode();
        let mut rest = Vec::with_capacity(expected.len());
        let read = Read::by_ref(&mut self.file).take(expected.len() as u64 + 1).read_to_end(&mut rest);
        read.map_err(|e| from_io(e, "reading the archive"))?;
        if rest != expected {
            return Err(BundleError::ChangedSinceVerification {
                what: "the archive's seek table".into(),
                expected: sha256(&expected),
                actual: sha256(&rest),
            });
        }
        Ok(())
    }

    /// Checks that the file, read to its end, hashed to `verified`.
    fn check_verified(&self, verified: &Digest) -> Result<()> {
        let actual = self.file.digest().digest();
        if actual != *verified {
            return Err(BundleError::ChangedSinceVerification {
                what: "the archive".into(),
                expected: verified.clone(),
                actual,
            });
        }
        Ok(())
    }
}

/// Bytes a file entry of `size` bytes takes in the tar stream: header, data, padding.
fn file_entry_len(size: u64) -> u64 {
    BLOCK as u64 + size + tar::padding(size) as u64
}

/// Bytes an entry of the payload takes in the tar stream.
fn entry_len(entry: &ExpectedEntry<'_>) -> u64 {
    match entry {
        ExpectedEntry::Dir(_) => BLOCK as u64,
        ExpectedEntry::File(f) => file_entry_len(f.size),
    }
}

/// The head's entries in the canonical tar encoding, every one with `mtime`.
fn encode_head(head: &Head, mtime: u64) -> Result<Vec<u8>> {
    let mut out = Vec::new();
    for (path, data) in head.entries() {
        out.extend_from_slice(&tar::file_header(path, data.len() as u64, mtime)?);
        out.extend_from_slice(data);
        out.resize(out.len() + tar::padding(data.len() as u64), 0);
    }
    Ok(out)
}

/// The decompressed sizes of the frames [`crate::write_bundle`] cuts a tar stream into, for
/// entries of these encoded lengths in order, then the end-of-archive marker.
fn plan_frames(entries: impl IntoIterator<Item = u64>) -> Vec<u64> {
    let mut framing = Framing::default();
    for len in entries {
        framing.entry(len);
    }
    framing.write(END_OF_ARCHIVE.len() as u64);
    if framing.filled > 0 {
        framing.close();
    }
    framing.frames
}

/// The writer's framing, on lengths alone.
#[derive(Default)]
struct Framing {
    /// The frames closed so far.
    frames: Vec<u64>,
    /// Bytes in the frame being filled.
    filled: u64,
}

impl Framing {
    /// An entry of `len` encoded bytes: it closes the frame it does not fit
    /// ([`closes_frame_before`]), then fills frames.
    fn entry(&mut self, len: u64) {
        if closes_frame_before(self.filled, len) {
            self.close();
        }
        self.write(len);
    }

    /// `len` bytes, closing each frame as it reaches [`FRAME_SIZE`].
    fn write(&mut self, mut len: u64) {
        while len > 0 {
            let n = len.min(FRAME_SIZE as u64 - self.filled);
            self.filled += n;
            len -= n;
            if self.filled == FRAME_SIZE as u64 {
                self.close();
            }
        }
    }

    fn close(&mut self) {
        self.frames.push(std::mem::take(&mut self.filled));
    }
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeMap;

    use genesis_types::BundlePath;

    use super::*;
    use crate::{BOM_SCHEMA, Compression, Content, FileEntry, HeadForm, WriteOptions, rfc3339, write_bundle};

    const MTIME: u64 = 1_735_689_600;

    /// A payload whose first file exactly fills the frame of a head `head_len` bytes long,
    /// then a blob of several frames and a small file.
    fn payload(head_len: u64) -> (Bom, BTreeMap<BundlePath, Content>) {
        let near = FRAME_SIZE as u64 - head_len - 2 * BLOCK as u64;
        let files: [(&str, Vec<u8>); 3] =
            [("a/near", noise(near as usize, 1)), ("b/blob", noise(9 << 20, 2)), ("c/tail.txt", b"tail\n".to_vec())];
        let mut bom = Bom {
            schema: BOM_SCHEMA.into(),
            name: "t".into(),
            version: "1".into(),
            created: rfc3339(MTIME),
            expires: None,
            files: vec![],
            images: vec![],
            charts: vec![],
            manifests: vec![],
            sboms: vec![],
            scan: None,
            requires: None,
        };
        let mut contents = BTreeMap::new();
        for (path, data) in files {
            let path: BundlePath = path.parse().unwrap();
            bom.files.push(FileEntry { path: path.clone(), size: data.len() as u64, sha256: sha256(&data) });
            contents.insert(path, Content::Bytes(data));
        }
        (bom, contents)
    }

    /// `len` bytes that do not compress (xorshift64 from `seed`): a payload of repeated bytes
    /// would exceed the reader's decompression-ratio limit.
    fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed.wrapping_mul(0x9E37_79B9_7F4A_7C15) | 1;
        (0..len)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state as u8
            })
            .collect()
    }

    /// [`payload`] for a head of the BOM and a signature of `signature` bytes: the BOM states
    /// the first file's size, so its length is found by trying.
    fn payload_filling_the_head_frame(signature: usize) -> (Bom, BTreeMap<BundlePath, Content>) {
        let mut head_len = 0;
        loop {
            let (bom, contents) = payload(head_len);
            let len = file_entry_len(bom.to_bytes().len() as u64) + file_entry_len(signature as u64);
            if len == head_len {
                return (bom, contents);
            }
            head_len = len;
        }
    }

    fn archive(bom: &Bom, signature: &[u8], contents: &BTreeMap<BundlePath, Content>) -> Vec<u8> {
        let options =
            WriteOptions { compression: Compression::Zstd, mtime: MTIME, progress: ProgressCounter::default() };
        write_bundle(Vec::new(), bom, &bom.to_bytes(), signature, None, contents, options).unwrap().0
    }

    /// The head [`archive`] writes for `bom` and `signature`.
    fn head_of(bom: &Bom, signature: &[u8]) -> Head {
        Head { bom: bom.to_bytes(), signature: signature.to_vec(), provenance: None, form: HeadForm::Cosign }
    }

    /// Writes `bytes` as `dir/name`; returns the path and the seek table.
    fn saved(dir: &Path, name: &str, bytes: &[u8]) -> (std::path::PathBuf, SeekTable) {
        let path = dir.join(name);
        std::fs::write(&path, bytes).unwrap();
        let table = SeekTable::read_from(&File::open(&path).unwrap().into(), &Limits::default()).unwrap();
        (path, table)
    }

    /// A signature a tar block longer pushes the first file out of the head's frame: the
    /// frames up to the blob are compressed again, the blob's are copied, and the archive is
    /// byte for byte the one the writer makes with the new signature.
    #[test]
    fn a_longer_head_gives_the_writers_archive_and_copies_the_frames_it_shares() {
        let dir = tempfile::tempdir().unwrap();
        let (short, long) = (vec![b's'; 96], vec![b'l'; 600]);
        let (bom, contents) = payload_filling_the_head_frame(short.len());
        let old = archive(&bom, &short, &contents);
        let (old_path, old_table) = saved(dir.path(), "old.tar.zst", &old);
        let head = [file_entry_len(bom.to_bytes().len() as u64), file_entry_len(short.len() as u64)];
        let planned = plan_frames(head.into_iter().chain(bom.expected_entries().iter().map(entry_len)));
        let written: Vec<u64> = old_table.frames.iter().map(|f| u64::from(f.decompressed)).collect();
        assert_eq!(planned, written, "the plan is the writer's framing");
        assert_eq!(written[0], FRAME_SIZE as u64, "the first file fills the head's frame");

        let rewrite = HeadRewrite::open(&old_path, &head_of(&bom, &short), &bom, &Limits::default()).unwrap();
        let progress = ProgressCounter::default();
        let new_head = head_of(&bom, &long);
        let (new, rewritten) = rewrite.write(&sha256(&old), &new_head, Vec::new(), &progress).unwrap();
        let fresh = archive(&bom, &long, &contents);
        assert!(new == fresh, "byte-identical to a fresh write with the new signature");
        assert_eq!(rewritten.archive.digest(), sha256(&fresh));
        assert!(progress.total() > 9 << 20 && progress.done() == progress.total(), "every payload byte counted");

        let (_, new_table) = saved(dir.path(), "new.tar.zst", &new);
        assert_eq!(rewritten.frames, new_table.frames.len() as u64);
        assert_ne!(new_table.frames[0], old_table.frames[0], "the first file left the head's frame");
        // The blob's three frames, the last with the small file, are the old ones.
        let last_three = |t: &SeekTable| t.frames[t.frames.len() - 3..].to_vec();
        assert_eq!(last_three(&new_table), last_three(&old_table));
        assert_eq!(rewritten.frames_copied, 3);
        let copied = last_three(&old_table).iter().map(|f| u64::from(f.compressed)).sum::<u64>() as usize;
        assert_eq!(rewritten.bytes_copied, copied as u64);
        let (new_end, old_end) = (new.len() - new_table.encode().len(), old.len() - old_table.encode().len());
        assert!(new[new_end - copied..new_end] == old[old_end - copied..old_end], "copied byte for byte");
    }

    /// An archive other than the one verified is refused once read, and so is a head other
    /// than the archive's.
    #[test]
    fn an_archive_that_is_not_the_verified_one_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (bom, contents) = payload(64 << 10);
        let old = archive(&bom, b"signature", &contents);
        let (path, _) = saved(dir.path(), "old.tar.zst", &old);
        let head = head_of(&bom, b"signature");
        let open = || HeadRewrite::open(&path, &head, &bom, &Limits::default()).unwrap();
        let new_head = head_of(&bom, b"new");
        let e = open().write(&sha256(b"another archive"), &new_head, Vec::new(), &ProgressCounter::default());
        let e = e.unwrap_err();
        assert!(matches!(&e, BundleError::ChangedSinceVerification { what, .. } if what == "the archive"), "{e}");
        open().write(&sha256(&old), &new_head, Vec::new(), &ProgressCounter::default()).unwrap();

        // A head that is not this archive's BOM's is no re-signing of it.
        let other_bom = Head { bom: b"{}".to_vec(), ..new_head.clone() };
        let e = open().write(&sha256(&old), &other_bom, Vec::new(), &ProgressCounter::default()).unwrap_err();
        assert!(matches!(e, BundleError::ChangedSinceVerification { .. }), "{e}");

        // A head of the same length that is not the one the archive holds is refused at open.
        let Err(e) = HeadRewrite::open(&path, &head_of(&bom, b"signaturX"), &bom, &Limits::default()) else {
            panic!("another head accepted");
        };
        assert!(
            matches!(&e, BundleError::ChangedSinceVerification { what, .. } if what == "the archive's head"),
            "{e}"
        );
    }

    /// Zeros after the end-of-archive marker pass verification (tar pads with them), but no
    /// build writes them: an archive whose frames hold more than its head, payload and marker
    /// is refused from its seek table, before any frame is decompressed into memory.
    #[test]
    fn an_archive_with_frames_of_zeros_after_its_end_is_refused_before_they_are_read() {
        let dir = tempfile::tempdir().unwrap();
        let (bom, contents) = payload(64 << 10);
        let old = archive(&bom, b"signature", &contents);
        let (_, mut table) = saved(dir.path(), "old.tar.zst", &old);
        let mut bytes = old[..old.len() - table.encode().len()].to_vec();
        let zeros = new_compressor().unwrap().compress(&vec![0u8; FRAME_SIZE]).unwrap();
        for _ in 0..16 {
            bytes.extend_from_slice(&zeros);
            table.frames.push(FrameEntry { compressed: zeros.len() as u32, decompressed: FRAME_SIZE as u32 });
        }
        bytes.extend_from_slice(&table.encode());
        let (path, _) = saved(dir.path(), "padded.tar.zst", &bytes);
        let Err(e) = HeadRewrite::open(&path, &head_of(&bom, b"signature"), &bom, &Limits::default()) else {
            panic!("an archive with 64 MiB of zeros after its end accepted");
        };
        match e {
            BundleError::Corrupt { detail } => {
                assert!(detail.contains(&format!("its frames hold {} bytes", table.decompressed_len())), "{detail}");
                assert!(detail.ends_with("rebuild it"), "{detail}");
            }
            other => panic!("{other}"),
        }
    }

    /// The frames are copied as the seek table read at open cuts them: a table swapped for
    /// another that tiles the same bytes, then put back before the end (the whole file then
    /// hashes as verified), is refused.
    #[test]
    fn a_seek_table_swapped_while_the_archive_is_copied_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let (bom, contents) = payload(64 << 10);
        let old = archive(&bom, b"signature", &contents);
        let (path, table) = saved(dir.path(), "old.tar.zst", &old);
        let frames = table.frames.len();
        assert!(frames >= 3, "the blob has frames of its own");
        // The last two frames, copied whole, cut one byte elsewhere.
        let mut lying = table.clone();
        lying.frames[frames - 2].compressed += 1;
        lying.frames[frames - 1].compressed -= 1;
        let frames_end = old.len() - table.encode().len();
        std::fs::write(&path, [&old[..frames_end], &lying.encode()[..]].concat()).unwrap();
        let head = head_of(&bom, b"signature");
        let rewrite = HeadRewrite::open(&path, &head, &bom, &Limits::default()).unwrap();
        std::fs::write(&path, &old).unwrap();
        let new_head = head_of(&bom, b"new");
        let e = rewrite.write(&sha256(&old), &new_head, Vec::new(), &ProgressCounter::default()).unwrap_err();
        assert!(
            matches!(&e, BundleError::ChangedSinceVerification { what, .. } if what == "the archive's seek table"),
            "{e}"
        );
    }
}
