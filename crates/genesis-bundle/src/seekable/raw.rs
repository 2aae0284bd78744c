//! Zstd frames made only of raw blocks (RFC 8878 §3.1.1.2, `Raw_Block`: the block's bytes
//! stored as they are), for bytes that compression would not shrink: layers already gzip- or
//! zstd-compressed, noise (decision 0041). Any zstd decoder reads such a frame; a reader that
//! knows the layout reads any byte range of it straight from the file, with no decoder, no
//! frame buffer and no cache.
//!
//! The writer's frames have one fixed layout: the magic number, a descriptor (a 4-byte content
//! size, a content checksum, no dictionary, not single-segment), a 128 KiB window, then blocks
//! of 128 KiB each behind their 3-byte headers (the last one shorter), then the checksum zstd
//! computed over the same bytes. The reader accepts that layout and any other frame whose
//! blocks are all raw and all of the frame's block size but the last, as zstd itself writes
//! them for incompressible bytes; anything else is decompressed as before.

use std::io;
use std::sync::atomic::{AtomicU64, Ordering};

use super::{MAX_FRAME_SIZE, ZSTD_MAGIC};

/// The largest block of a zstd frame (`Block_Maximum_Size` is at most 128 KiB), and the size
/// of every block but the last in the frames written here.
pub(crate) const MAX_BLOCK: usize = 128 << 10;
/// Frame header descriptor of the frames written here: `Frame_Content_Size_flag` 2 (4 bytes),
/// `Single_Segment_flag` 0, `Content_Checksum_flag` 1, `Dictionary_ID_flag` 0.
const DESCRIPTOR: u8 = 0b1000_0100;
/// Window descriptor of the frames written here: 128 KiB (exponent 7, mantissa 0). Raw blocks
/// refer to nothing before them, so a streaming decoder needs no more window than one block.
const WINDOW: u8 = 7 << 3;
/// Header bytes of the frames written here: magic, descriptor, window, content size.
const HEADER_LEN: usize = 4 + 1 + 1 + 4;
/// The longest frame header: magic 4, descriptor 1, window 1, dictionary ID 4, content size 8.
const MAX_HEADER_LEN: usize = 18;
/// A block header: `Last_Block` (1 bit), `Block_Type` (2 bits, 0 for raw), `Block_Size` (21).
const BLOCK_HEADER_LEN: u64 = 3;
/// The content checksum after the last block: the low 32 bits of XXH64 of the content.
const CHECKSUM_LEN: u64 = 4;
/// The most blocks of a frame the reader walks when it checks a frame: a frame of
/// [`MAX_FRAME_SIZE`] in blocks of [`MAX_BLOCK`]. A frame of more (smaller) blocks is
/// decompressed instead, so that the check of one frame stays a bounded number of reads.
const MAX_BLOCKS: u64 = (MAX_FRAME_SIZE as u64).div_ceil(MAX_BLOCK as u64);

/// The raw frame holding `content`, whose zstd content checksum (the low 32 bits of XXH64,
/// little-endian) is `checksum`. `content` is at most [`MAX_FRAME_SIZE`] bytes.
pub(crate) fn encode(content: &[u8], checksum: [u8; 4]) -> Vec<u8> {
    debug_assert!(content.len() <= MAX_FRAME_SIZE as usize);
    let blocks = content.len().div_ceil(MAX_BLOCK).max(1);
    let mut out = Vec::with_capacity(HEADER_LEN + blocks * BLOCK_HEADER_LEN as usize + content.len() + 4);
    out.extend_from_slice(&ZSTD_MAGIC);
    out.push(DESCRIPTOR);
    out.push(WINDOW);
    out.extend_from_slice(&(content.len() as u32).to_le_bytes());
    let mut rest = content;
    loop {
        let (block, tail) = rest.split_at(rest.len().min(MAX_BLOCK));
        let last = tail.is_empty();
        let header = ((block.len() as u32) << 3) | u32::from(last);
        out.extend_from_slice(&header.to_le_bytes()[..BLOCK_HEADER_LEN as usize]);
        out.extend_from_slice(block);
        rest = tail;
        if last {
            break;
        }
    }
    out.extend_from_slice(&checksum);
    out
}

/// Positioned reads of a frame's bytes: the archive (a file or parts), or memory (tests).
pub(crate) trait ReadAt {
    /// Fills `buf` from `offset`, or fails.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
}

impl ReadAt for crate::ArchiveFile {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        crate::ArchiveFile::read_exact_at(self, buf, offset)
    }
}

impl ReadAt for [u8] {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        let from = usize::try_from(offset).map_err(|_| io::ErrorKind::UnexpectedEof)?;
        let src = self.get(from..).and_then(|s| s.get(..buf.len())).ok_or(io::ErrorKind::UnexpectedEof)?;
        buf.copy_from_slice(src);
        Ok(())
    }
}

/// Where the bytes of an all-raw frame lie, relative to its start: `header` bytes of frame
/// header, then blocks of `block` bytes each (the last one `content` fills, at most `block`),
/// each behind its 3-byte header, then the checksum if there is one.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) struct Layout {
    header: u64,
    block: u64,
    content: u64,
    checksum: bool,
}

impl Layout {
    /// Reads the header of the frame of `len` bytes at `start` holding `content` bytes (its
    /// seek table entry), and returns the layout its blocks have if they are all raw: `None`
    /// when the header is not a zstd frame's, names a dictionary, has reserved bits set, gives
    /// another content size, or when raw blocks of the frame's block size would not fill
    /// exactly `len` bytes. One read of at most 18 bytes; no block header is read.
    pub(crate) fn from_header<R: ReadAt + ?Sized>(
        src: &R,
        start: u64,
        len: u64,
        content: u64,
    ) -> io::Result<Option<Layout>> {
        let mut head = [0u8; MAX_HEADER_LEN];
        let n = (len as usize).min(MAX_HEADER_LEN);
        src.read_exact_at(&mut head[..n], start)?;
        let Some(layout) = parse_header(&head[..n], content) else { return Ok(None) };
        Ok((layout.blocks() <= MAX_BLOCKS && layout.frame_len() == len).then_some(layout))
    }

    /// How many blocks: at least one (a frame of no content has one empty block).
    fn blocks(&self) -> u64 {
        if self.content == 0 { 1 } else { self.content.div_ceil(self.block) }
    }

    /// The frame's whole length under this layout.
    fn frame_len(&self) -> u64 {
        self.header + self.blocks() * BLOCK_HEADER_LEN + self.content + if self.checksum { CHECKSUM_LEN } else { 0 }
    }

    /// Where block `i`'s header lies, from the frame's start.
    fn block_header_at(&self, i: u64) -> u64 {
        self.header + i * (self.block + BLOCK_HEADER_LEN)
    }

    /// Block `i`'s size: `block`, or what is left for the last.
    fn block_size(&self, i: u64) -> u64 {
        if i + 1 < self.blocks() { self.block } else { self.content - i * self.block }
    }

    /// Reads every block header of the frame at `start` and checks that each is a raw block,
    /// of the size this layout gives it, marked last exactly when it is: then the frame holds
    /// nothing but its content's bytes, where this layout says. At most [`MAX_BLOCKS`] reads
    /// of 3 bytes; a header that names another type, size or end is found at its read, so a
    /// compressed frame costs one read here, and no block header can point the reader past
    /// the frame.
    pub(crate) fn check_blocks<R: ReadAt + ?Sized>(&self, src: &R, start: u64) -> io::Result<bool> {
        let blocks = self.blocks();
        for i in 0..blocks {
            let mut h = [0u8; 4];
            src.read_exact_at(&mut h[..BLOCK_HEADER_LEN as usize], start + self.block_header_at(i))?;
            let h = u32::from_le_bytes(h);
            let (last, kind, size) = (h & 1 == 1, (h >> 1) & 3, u64::from(h >> 3));
            if kind != 0 || last != (i + 1 == blocks) || size != self.block_size(i) {
                return Ok(false);
            }
        }
        Ok(true)
    }

    /// Fills `buf` with the content bytes from `within`, read from the block payloads of the
    /// frame at `start` (the block headers skipped), one read per block touched. Every read
    /// lies inside the frame this layout was read for: `within + buf.len()` is checked
    /// against the content, and the blocks tile the frame.
    pub(crate) fn read<R: ReadAt + ?Sized>(
        &self,
        src: &R,
        start: u64,
        within: u64,
        mut buf: &mut [u8],
    ) -> io::Result<()> {
        if within.checked_add(buf.len() as u64).is_none_or(|end| end > self.content) {
            return Err(io::Error::new(
                io::ErrorKind::UnexpectedEof,
                format!("read of {} bytes at {within} past a raw frame of {}", buf.len(), self.content),
            ));
        }
        let mut at = within;
        while !buf.is_empty() {
            let (i, skip) = (at / self.block, at % self.block);
            let n = buf.len().min((self.block_size(i) - skip) as usize);
            let (part, rest) = buf.split_at_mut(n);
            src.read_exact_at(part, start + self.block_header_at(i) + BLOCK_HEADER_LEN + skip)?;
            buf = rest;
            at += n as u64;
        }
        Ok(())
    }
}

/// The layout a frame header gives raw blocks, for a frame of `content` bytes: the header's
/// length, its `Block_Maximum_Size` (the window, at most 128 KiB; a single-segment frame's
/// window is its content size) and its checksum flag. `None` for what this reader leaves to
/// zstd: no zstd magic, a header cut short, reserved bit set, a dictionary ID field, a content
/// size other than `content`, a block size of 0 for content.
fn parse_header(b: &[u8], content: u64) -> Option<Layout> {
    if b.get(..4)? != ZSTD_MAGIC {
        return None;
    }
    let descriptor = *b.get(4)?;
    let (fcs_flag, single_segment) = (descriptor >> 6, descriptor & 0x20 != 0);
    if descriptor & 0x08 != 0 || descriptor & 0x03 != 0 {
        return None; // reserved bit, or a dictionary ID
    }
    let window = super::declared_window(b);
    // A window past a frame's bound is refused by zstd's checks (`check_frame`), as
    // libzstd itself refuses a window log over 31: left to them.
    if window.is_some_and(|w| w > u64::from(super::MAX_FRAME_SIZE)) {
        return None;
    }
    let mut at = if single_segment { 5 } else { 6 };
    let fcs_len = match fcs_flag {
        0 => usize::from(single_segment),
        1 => 2,
        2 => 4,
        _ => 8,
    };
    let fcs = b.get(at..at + fcs_len)?;
    let declared = match fcs_len {
        0 => None,
        1 => Some(u64::from(fcs[0])),
        2 => Some(u64::from(u16::from_le_bytes([fcs[0], fcs[1]])) + 256),
        4 => Some(u64::from(u32::from_le_bytes(fcs.try_into().ok()?))),
        _ => Some(u64::from_le_bytes(fcs.try_into().ok()?)),
    };
    at += fcs_len;
    if declared.is_some_and(|d| d != content) {
        return None;
    }
    // A single-segment frame's window is its content size (it always declares one).
    let block = window.or(declared)?.min(MAX_BLOCK as u64);
    if block == 0 && content > 0 {
        return None;
    }
    Some(Layout { header: at as u64, block: block.max(1), content, checksum: descriptor & 0x04 != 0 })
}

/// Whether each frame of an archive is all-raw, found the first time it is asked and kept:
/// two bits a frame (checked, raw), set once and never cleared, so readers at once need no
/// lock (two that check the same frame at once find the same answer).
#[derive(Debug)]
pub(crate) struct RawFrames {
    checked: Vec<AtomicU64>,
    raw: Vec<AtomicU64>,
}

impl RawFrames {
    /// Nothing known yet about `frames` frames.
    pub(crate) fn new(frames: usize) -> RawFrames {
        let words = frames.div_ceil(64);
        RawFrames {
            checked: (0..words).map(|_| AtomicU64::new(0)).collect(),
            raw: (0..words).map(|_| AtomicU64::new(0)).collect(),
        }
    }

    /// What was found for frame `idx`: `None` before it is checked.
    pub(crate) fn get(&self, idx: usize) -> Option<bool> {
        let (word, bit) = (idx / 64, 1u64 << (idx % 64));
        if self.checked.get(word)?.load(Ordering::Acquire) & bit == 0 {
            return None;
        }
        Some(self.raw[word].load(Ordering::Relaxed) & bit != 0)
    }

    /// Records what was found for frame `idx`.
    pub(crate) fn set(&self, idx: usize, raw: bool) {
        let (word, bit) = (idx / 64, 1u64 << (idx % 64));
        if word >= self.checked.len() {
            return;
        }
        if raw {
            self.raw[word].fetch_or(bit, Ordering::Relaxed);
        }
        self.checked[word].fetch_or(bit, Ordering::Release);
    }
}

#[cfg(test)]
mod tests {
    use std::io::Write as _;
    use std::process::{Command, Stdio};

    use super::*;
    use crate::test_support::noise;

    /// `content` as the writer stores it raw, with the checksum zstd computes for it.
    fn raw_frame(content: &[u8]) -> Vec<u8> {
        let mut c = zstd::bulk::Compressor::new(3).unwrap();
        c.include_checksum(true).unwrap();
        let compressed = c.compress(content).unwrap();
        encode(content, *compressed.last_chunk::<4>().unwrap())
    }

    /// The layout the reader finds for a frame held in memory, blocks checked.
    fn found(frame: &[u8], content: u64) -> Option<Layout> {
        let layout = Layout::from_header(frame, 0, frame.len() as u64, content).unwrap()?;
        layout.check_blocks(frame, 0).unwrap().then_some(layout)
    }

    fn read_all(frame: &[u8], layout: &Layout, within: u64, len: usize) -> Vec<u8> {
        let mut out = vec![0u8; len];
        layout.read(frame, 0, within, &mut out).unwrap();
        out
    }

    #[test]
    fn a_raw_frame_is_read_back_identical_by_zstd_and_by_the_raw_reader() {
        for len in
            [0, 1, 255, 256, 65_791, 65_792, MAX_BLOCK - 1, MAX_BLOCK, MAX_BLOCK + 1, 4 << 20, (4 << 20) + 12_345]
        {
            let content = noise(len, len as u64 + 7);
            let frame = raw_frame(&content);
            // The zstd library, checksum included.
            let decoded = zstd::stream::decode_all(frame.as_slice()).unwrap();
            assert_eq!(decoded, content, "{len} bytes: the zstd library");
            assert_eq!(zstd::zstd_safe::get_frame_content_size(&frame).unwrap(), Some(len as u64));
            // Within what zstd can write for its size, so the seek table's check accepts it.
            assert!(frame.len() as u64 <= super::super::compress_bound(len as u32), "{len} bytes");
            // The raw reader, whole and from the middle of a block across the next.
            let layout = found(&frame, len as u64).unwrap_or_else(|| panic!("{len} bytes: not found raw"));
            assert_eq!(read_all(&frame, &layout, 0, len), content);
            if len > MAX_BLOCK + 10 {
                let (from, n) = (MAX_BLOCK as u64 - 10, len - MAX_BLOCK);
                assert_eq!(read_all(&frame, &layout, from, n), content[from as usize..from as usize + n]);
            }
        }
        // The zstd command-line tool, which checks the content checksum.
        let content = noise((1 << 20) + 3, 11);
        let mut zstd = Command::new("zstd")
            .args(["-d", "-c", "-q"])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .spawn()
            .expect("the zstd command-line tool (Debian package zstd)");
        let frame = raw_frame(&content);
        let mut stdin = zstd.stdin.take().unwrap();
        let writer = std::thread::spawn(move || stdin.write_all(&frame));
        let out = zstd.wait_with_output().unwrap();
        writer.join().unwrap().unwrap();
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert_eq!(out.stdout, content);
    }

    #[test]
    fn a_checksum_that_does_not_match_is_caught_by_zstd() {
        let content = noise(1000, 3);
        let mut frame = raw_frame(&content);
        let at = frame.len() - 1;
        frame[at] ^= 1;
        assert!(zstd::stream::decode_all(frame.as_slice()).is_err());
    }

    #[test]
    fn the_all_raw_frames_zstd_writes_for_noise_are_found_too() {
        for len in [100_000, 4 << 20] {
            let content = noise(len, 5);
            let frame = zstd::bulk::Compressor::new(3).unwrap().compress(&content).unwrap();
            let layout = found(&frame, len as u64).expect("zstd stores noise in raw blocks");
            assert_eq!(read_all(&frame, &layout, 1, len - 1), content[1..]);
        }
        // Compressed blocks are not raw: left to zstd.
        let text = b"a line of text, again and again\n".repeat(10_000);
        let frame = zstd::bulk::Compressor::new(3).unwrap().compress(&text).unwrap();
        assert_eq!(found(&frame, text.len() as u64), None);
    }

    #[test]
    fn a_forged_block_header_is_refused_and_no_read_leaves_the_frame() {
        let len = 3 * MAX_BLOCK + 100;
        let content = noise(len, 9);
        let frame = raw_frame(&content);
        let block_header = |i: usize| HEADER_LEN + i * (MAX_BLOCK + 3);
        let set = |frame: &mut Vec<u8>, at: usize, value: u32| {
            frame[at..at + 3].copy_from_slice(&value.to_le_bytes()[..3]);
        };
        assert!(found(&frame, len as u64).is_some());
        // The first block's header claims far more than the frame holds.
        let mut past = frame.clone();
        set(&mut past, block_header(0), (1 << 20) << 3);
        assert_eq!(found(&past, len as u64), None);
        // The last block's size points past the frame's end.
        let mut last_past = frame.clone();
        set(&mut last_past, block_header(3), (200 << 3) | 1);
        assert_eq!(found(&last_past, len as u64), None);
        // A block one byte longer, the next one shorter: the same total, another layout.
        let mut shifted = frame.clone();
        set(&mut shifted, block_header(0), (MAX_BLOCK as u32 + 1) << 3);
        assert_eq!(found(&shifted, len as u64), None);
        // A compressed or RLE block, a last block marked before the end, one not marked.
        for (i, value) in [(1, ((MAX_BLOCK as u32) << 3) | (2 << 1)), (1, ((MAX_BLOCK as u32) << 3) | (1 << 1))] {
            let mut other = frame.clone();
            set(&mut other, block_header(i), value);
            assert_eq!(found(&other, len as u64), None);
        }
        let mut early = frame.clone();
        set(&mut early, block_header(0), ((MAX_BLOCK as u32) << 3) | 1);
        assert_eq!(found(&early, len as u64), None);
        let mut unmarked = frame.clone();
        set(&mut unmarked, block_header(3), 100 << 3);
        assert_eq!(found(&unmarked, len as u64), None);
        // A header giving another content size, or one the seek table entry does not give.
        assert_eq!(found(&frame, len as u64 + 1), None);
        let mut other_size = frame.clone();
        other_size[6..10].copy_from_slice(&(len as u32 - 1).to_le_bytes());
        assert_eq!(Layout::from_header(other_size.as_slice(), 0, frame.len() as u64, len as u64).unwrap(), None);
        // A frame shorter or longer than its entry (a frame after it, or bytes cut).
        assert_eq!(Layout::from_header(frame.as_slice(), 0, frame.len() as u64 - 1, len as u64).unwrap(), None);
        assert_eq!(Layout::from_header(frame.as_slice(), 0, frame.len() as u64 + 17, len as u64).unwrap(), None);
        // A skippable frame, a reserved bit, a dictionary ID.
        let mut skippable = frame.clone();
        skippable[..4].copy_from_slice(&0x184D_2A50u32.to_le_bytes());
        assert_eq!(found(&skippable, len as u64), None);
        for bit in [0x08, 0x01] {
            let mut flagged = frame.clone();
            flagged[4] |= bit;
            assert_eq!(Layout::from_header(flagged.as_slice(), 0, frame.len() as u64, len as u64).unwrap(), None);
        }
        // A read past the content is refused, not served from the bytes after it.
        let layout = found(&frame, len as u64).unwrap();
        let mut buf = vec![0u8; 2];
        assert!(layout.read(frame.as_slice(), 0, len as u64 - 1, &mut buf).is_err());
    }

    #[test]
    fn a_frame_of_tiny_blocks_is_left_to_zstd() {
        // A valid frame whose 1 KiB window cuts its content into more blocks than a frame of
        // 128 KiB blocks has: its block headers are never walked.
        let content = noise((MAX_BLOCKS as usize + 1) * 1024, 1);
        let mut frame = vec![0x28, 0xb5, 0x2f, 0xfd, 0b1000_0000, 0];
        frame.extend_from_slice(&(content.len() as u32).to_le_bytes());
        for (i, block) in content.chunks(1024).enumerate() {
            let last = (i + 1) * 1024 >= content.len();
            frame.extend_from_slice(&(((block.len() as u32) << 3) | u32::from(last)).to_le_bytes()[..3]);
            frame.extend_from_slice(block);
        }
        let decoded = zstd::stream::decode_all(frame.as_slice()).unwrap();
        assert_eq!(decoded, content, "a valid frame");
        assert_eq!(Layout::from_header(frame.as_slice(), 0, frame.len() as u64, content.len() as u64).unwrap(), None);
    }

    #[test]
    fn what_is_found_of_a_frame_is_kept_per_frame() {
        let frames = RawFrames::new(130);
        assert_eq!(frames.get(129), None);
        frames.set(129, true);
        frames.set(64, false);
        assert_eq!((frames.get(129), frames.get(64), frames.get(0)), (Some(true), Some(false), None));
        assert_eq!(frames.get(130), None, "past the frames, nothing is known");
    }
}
