//! The Zstandard seekable format: a sequence of independent zstd frames closed by a seek
//! table in a skippable frame (zstd `contrib/seekable_format`). Plain `zstd -d` skips the
//! table; we use it to decompress frames on every core and to read any byte range
//! without decompressing what precedes it. Bytes that zstd would not shrink are stored in
//! frames of raw blocks ([`raw`]), which a reader of a range reads straight from the file.

mod raw;
mod spare;

use std::collections::BTreeMap;
use std::io::{self, Read, Write};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::digest_io::FileDigest;
use crate::tar::{BLOCK, Header, padding, parse_header};
use crate::{ArchiveFile, BundleError, Limits, Result};

pub use spare::FrameBuf;
pub(crate) use spare::SpareBuffers;

/// Skippable-frame magic used by the seekable format.
const SKIPPABLE_MAGIC: u32 = 0x184D_2A5E;
/// What every zstd frame starts with (its magic number, little-endian).
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// Magic closing the seek table footer.
const SEEKABLE_MAGIC: u32 = 0x8F92_EAB1;
/// Footer: frame count (4), descriptor (1), magic (4).
const FOOTER_LEN: usize = 9;
/// Largest decompressed frame we accept when reading: the writer uses [`FRAME_SIZE`], and
/// the seekable format caps frames at 1 GiB; we stay far below to bound memory.
pub const MAX_FRAME_SIZE: u32 = 16 << 20;
/// Decompressed size at which the writer cuts frames. Small entries share frames up to
/// this size; a larger entry is cut into frames of exactly this size.
pub const FRAME_SIZE: usize = 4 << 20;
/// The zstd level every bundle is written with: part of the byte-stability contract.
pub const LEVEL: i32 = 3;
/// A frame that zstd at [`LEVEL`] shrinks by less than 1 part in this many (2 %) is written
/// as raw blocks instead (decision 0041): part of the byte-stability contract too.
const RAW_BELOW_ONE_IN: u64 = 50;

/// One frame's sizes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub struct FrameEntry {
    /// Compressed size in bytes.
    pub compressed: u32,
    /// Decompressed size in bytes.
    pub decompressed: u32,
}

/// A parsed seek table with the offsets derived from it.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SeekTable {
    /// The frames in order.
    pub frames: Vec<FrameEntry>,
}

impl SeekTable {
    /// The skippable frame that stores this table (no per-frame checksums: every entry's
    /// content is bound by SHA-256 in the BOM, and each frame carries zstd's own checksum,
    /// a frame of raw blocks included).
    pub fn encode(&self) -> Vec<u8> {
        let body = self.frames.len() * 8 + FOOTER_LEN;
        let mut out = Vec::with_capacity(8 + body);
        out.extend_from_slice(&SKIPPABLE_MAGIC.to_le_bytes());
        out.extend_from_slice(&(body as u32).to_le_bytes());
        for f in &self.frames {
            out.extend_from_slice(&f.compressed.to_le_bytes());
            out.extend_from_slice(&f.decompressed.to_le_bytes());
        }
        out.extend_from_slice(&(self.frames.len() as u32).to_le_bytes());
        out.push(0);
        out.extend_from_slice(&SEEKABLE_MAGIC.to_le_bytes());
        out
    }

    /// Total compressed bytes of all frames (the seek table's own frame excluded).
    pub fn compressed_len(&self) -> u64 {
        self.frames.iter().map(|f| u64::from(f.compressed)).sum()
    }

    /// Total decompressed bytes.
    pub fn decompressed_len(&self) -> u64 {
        self.frames.iter().map(|f| u64::from(f.decompressed)).sum()
    }

    /// Reads and checks the table at the end of a file: the frames must tile the file
    /// exactly, every frame must be within [`MAX_FRAME_SIZE`] and the compressed size zstd
    /// can give it, and the declared sizes must respect the limits, so a decompression bomb
    /// or a forged frame size is refused before any work or allocation.
    pub fn read_from(file: &ArchiveFile, limits: &Limits) -> Result<SeekTable> {
        let file_len = file.len().map_err(|e| from_io(e, "reading archive metadata"))?;
        let table = match Self::parse_at_end(file, file_len, limits)? {
            Some(t) => t,
            None => return Err(Self::explain_missing_table(file, file_len, limits)),
        };
        table.check(limits)?;
        Ok(table)
    }

    /// Parses a table whose footer ends exactly at `end`, checking that its frames tile
    /// `[0, end)`. `Ok(None)` if there is no footer there. The frame count is checked
    /// against the file and [`max_frames`] before the table is read into memory.
    fn parse_at_end(file: &ArchiveFile, end: u64, limits: &Limits) -> Result<Option<SeekTable>> {
        if end < (8 + FOOTER_LEN) as u64 {
            return Ok(None);
        }
        let mut footer = [0u8; FOOTER_LEN];
        read_exact_at(file, &mut footer, end - FOOTER_LEN as u64)?;
        if u32::from_le_bytes(footer[5..9].try_into().expect("4 bytes")) != SEEKABLE_MAGIC {
            return Ok(None);
        }
        let corrupt = |detail: &str| BundleError::Corrupt { detail: format!("seek table: {detail}") };
        if footer[4] != 0 {
            return Err(corrupt("unsupported descriptor (checksums or reserved bits set)"));
        }
        // At most 2^32 - 1 entries of 8 bytes: no overflow in u64.
        let count = u64::from(u32::from_le_bytes(footer[..4].try_into().expect("4 bytes")));
        let body = count * 8 + FOOTER_LEN as u64;
        if body + 8 > end {
            return Err(corrupt("frame count larger than the file"));
        }
        let limit = max_frames(limits);
        if count > limit {
            return Err(BundleError::LimitExceeded {
                what: "zstd frame count (the entry count and decompressed size limits bound it)",
                actual: count,
                limit,
            });
        }
        let start = end - body - 8;
        let mut raw = vec![0u8; (body + 8) as usize];
        read_exact_at(file, &mut raw, start)?;
        if u32::from_le_bytes(raw[..4].try_into().expect("4 bytes")) != SKIPPABLE_MAGIC
            || u64::from(u32::from_le_bytes(raw[4..8].try_into().expect("4 bytes"))) != body
        {
            return Err(corrupt("skippable frame header does not match its footer"));
        }
        let frames: Vec<FrameEntry> = raw[8..8 + count as usize * 8]
            .chunks_exact(8)
            .map(|c| FrameEntry {
                compressed: u32::from_le_bytes(c[..4].try_into().expect("4 bytes")),
                decompressed: u32::from_le_bytes(c[4..].try_into().expect("4 bytes")),
            })
            .collect();
        let table = SeekTable { frames };
        if table.compressed_len() != start {
            return Err(BundleError::Truncated {
                detail: format!(
                    "seek table describes {} bytes of frames but {start} precede it",
                    table.compressed_len()
                ),
            });
        }
        Ok(Some(table))
    }

    /// No footer at the end: either bytes were appended after a good table, or the file
    /// was cut short. Look back for a footer to tell which. Only the footer nearest the
    /// end is tried: each try may read a whole table, and the tail of a hostile file can
    /// hold the footer magic a hundred thousand times.
    fn explain_missing_table(file: &ArchiveFile, file_len: u64, limits: &Limits) -> BundleError {
        const LOOK_BACK: u64 = 1 << 20;
        let truncated = BundleError::Truncated {
            detail: "no zstd seek table at the end (cut short, or not written by Genesis)".into(),
        };
        let from = file_len.saturating_sub(LOOK_BACK);
        let mut tail = vec![0u8; (file_len - from) as usize];
        if read_exact_at(file, &mut tail, from).is_err() {
            return truncated;
        }
        let magic = SEEKABLE_MAGIC.to_le_bytes();
        let Some(i) = tail.windows(magic.len()).rposition(|w| w == magic) else { return truncated };
        let end = from + (i + magic.len()) as u64;
        match Self::parse_at_end(file, end, limits) {
            Ok(Some(_)) => BundleError::TrailingData { bytes: file_len - end },
            _ => truncated,
        }
    }

    /// Checks every frame and the totals against the limits. A frame's compressed size is
    /// bounded by what zstd can write for its decompressed size, so no reader ever
    /// allocates more than [`max_compressed_frame`] for a frame the table describes.
    fn check(&self, limits: &Limits) -> Result<()> {
        for (i, f) in self.frames.iter().enumerate() {
            if f.decompressed > MAX_FRAME_SIZE {
                return Err(BundleError::LimitExceeded {
                    what: "decompressed size of one zstd frame",
                    actual: u64::from(f.decompressed),
                    limit: u64::from(MAX_FRAME_SIZE),
                });
            }
            let bound = compress_bound(f.decompressed);
            if f.compressed == 0 || u64::from(f.compressed) > bound {
                return Err(BundleError::Corrupt {
                    detail: format!(
                        "seek table: frame {i} claims {} compressed bytes for {} decompressed, \
                         which no zstd frame takes (1 to {bound})",
                        f.compressed, f.decompressed
                    ),
                });
            }
        }
        let (c, d) = (self.compressed_len(), self.decompressed_len());
        if d > limits.max_total_size {
            return Err(BundleError::LimitExceeded {
                what: "decompressed archive size",
                actual: d,
                limit: limits.max_total_size,
            });
        }
        if !limits.ratio_ok(c, d) {
            return Err(BundleError::LimitExceeded {
                what: "decompression ratio",
                actual: d / c.max(1),
                limit: limits.max_ratio,
            });
        }
        Ok(())
    }
}

/// Most compressed bytes zstd writes for `decompressed` bytes (`ZSTD_compressBound`, frame
/// header and checksum included). A seek table entry claiming more is forged.
pub fn compress_bound(decompressed: u32) -> u64 {
    zstd::zstd_safe::compress_bound(decompressed as usize) as u64
}

/// The largest compressed frame a reader accepts, and so the largest buffer it allocates
/// for one: [`compress_bound`] of [`MAX_FRAME_SIZE`] (16 MiB + 64 KiB).
pub fn max_compressed_frame() -> u64 {
    compress_bound(MAX_FRAME_SIZE)
}

/// Most frames an archive within `limits` has: the writer cuts a frame at an entry that
/// does not fit the current one or after [`FRAME_SIZE`] bytes, and closes the last. The
/// table is read whole, so this bounds its memory (8 bytes a frame) before it is read.
pub fn max_frames(limits: &Limits) -> u64 {
    limits.max_entries.saturating_add(limits.max_total_size / FRAME_SIZE as u64).saturating_add(1)
}

/// Whether a file starts with a zstd frame (the seek table is checked when it is opened).
pub fn is_seekable_zstd(file: &ArchiveFile) -> io::Result<bool> {
    let mut magic = [0u8; 4];
    match file.read_exact_at(&mut magic, 0) {
        Ok(()) => Ok(magic == ZSTD_MAGIC),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

fn read_exact_at(file: &ArchiveFile, buf: &mut [u8], offset: u64) -> Result<()> {
    file.read_exact_at(buf, offset).map_err(|e| from_io(e, "reading the archive"))
}

fn from_io(e: io::Error, action: &'static str) -> BundleError {
    crate::archive::from_io(e, action)
}

fn worker_count() -> usize {
    std::thread::available_parallelism().map_or(2, |n| n.get()).clamp(1, 8)
}

type Job = (u64, Vec<u8>);
type Compressed = (u64, io::Result<(Vec<u8>, u32)>);

/// Compresses frames on one worker per core while a writer thread puts them in order,
/// writes them and records the seek table, so the caller's thread only reads and hashes
/// input. Memory stays bounded: at most three frames per worker are in flight.
pub struct SeekableWriter<W: Write + Send + 'static> {
    jobs: Option<SyncSender<Job>>,
    workers: Vec<JoinHandle<()>>,
    writer: Option<JoinHandle<io::Result<(W, SeekTable)>>>,
    submitted: u64,
}

impl<W: Write + Send + 'static> SeekableWriter<W> {
    /// Starts the compression workers and the writer thread.
    pub fn new(out: W) -> Self {
        let n = worker_count();
        let (job_tx, job_rx) = sync_channel::<Job>(n);
        let (res_tx, results) = sync_channel::<Compressed>(2 * n);
        let job_rx = Arc::new(Mutex::new(job_rx));
        let workers = (0..n)
            .map(|_| {
                let job_rx = Arc::clone(&job_rx);
                let res_tx = res_tx.clone();
                std::thread::spawn(move || compress_jobs(&job_rx, &res_tx))
            })
            .collect();
        let writer = std::thread::spawn(move || write_in_order(out, &results));
        SeekableWriter { jobs: Some(job_tx), workers, writer: Some(writer), submitted: 0 }
    }

    /// Queues one frame's decompressed bytes (at most [`MAX_FRAME_SIZE`]). Blocks while
    /// the workers are busy.
    pub fn push_frame(&mut self, raw: Vec<u8>) -> io::Result<()> {
        debug_assert!(raw.len() <= MAX_FRAME_SIZE as usize);
        let jobs = self.jobs.as_ref().expect("not finished");
        if jobs.send((self.submitted, raw)).is_err() {
            // The writer failed and the pipeline wound down: report its error.
            return Err(self.join_writer().err().unwrap_or_else(|| io::Error::other("compression stopped")));
        }
        self.submitted += 1;
        Ok(())
    }

    fn join_writer(&mut self) -> io::Result<(W, SeekTable)> {
        self.jobs = None;
        for w in self.workers.drain(..) {
            let _ = w.join();
        }
        match self.writer.take().map(JoinHandle::join) {
            Some(Ok(r)) => r,
            _ => Err(io::Error::other("archive writer stopped")),
        }
    }

    /// Waits for every frame, writes the seek table and returns the sink and the table.
    pub fn finish(mut self) -> io::Result<(W, SeekTable)> {
        let (mut out, table) = self.join_writer()?;
        if table.frames.len() as u64 != self.submitted {
            return Err(io::Error::other("a compression worker stopped early"));
        }
        out.write_all(&table.encode())?;
        out.flush()?;
        Ok((out, table))
    }
}

impl<W: Write + Send + 'static> Drop for SeekableWriter<W> {
    /// Abandoned before [`finish`](Self::finish) (an error elsewhere), the pipeline winds
    /// down before the caller goes on, so the sink is dropped now and not whenever the writer
    /// thread gets to it: a scratch file that removes itself on drop is gone before the error
    /// reaches the user, and before the process exits.
    fn drop(&mut self) {
        if self.writer.is_some() {
            let _ = self.join_writer();
        }
    }
}

fn compress_jobs(jobs: &Mutex<Receiver<Job>>, results: &SyncSender<Compressed>) {
    let mut compressor = match new_compressor() {
        Ok(c) => c,
        Err(e) => {
            let _ = results.send((u64::MAX, Err(e)));
            return;
        }
    };
    loop {
        let job = jobs.lock().map(|rx| rx.recv());
        let Ok(Ok((seq, raw))) = job else { return };
        let len = raw.len() as u32;
        if results.send((seq, compressor.compress(&raw).map(|c| (c, len)))).is_err() {
            return;
        }
    }
}

/// Receives compressed frames in any order and writes them in sequence.
fn write_in_order<W: Write>(mut out: W, results: &Receiver<Compressed>) -> io::Result<(W, SeekTable)> {
    let mut table = SeekTable::default();
    let mut pending = BTreeMap::new();
    let mut next = 0u64;
    for (seq, res) in results {
        pending.insert(seq, res?);
        while let Some((compressed, raw_len)) = pending.remove(&next) {
            out.write_all(&compressed)?;
            table.frames.push(FrameEntry { compressed: compressed.len() as u32, decompressed: raw_len });
            next += 1;
        }
    }
    Ok((out, table))
}

pub(crate) fn new_compressor() -> io::Result<FrameCompressor> {
    let mut c = zstd::bulk::Compressor::new(LEVEL)?;
    c.include_checksum(true)?;
    c.include_contentsize(true)?;
    c.include_dictid(false)?;
    Ok(FrameCompressor(c))
}

/// Compresses the frames of an archive, the writer's and re-signing's alike: zstd at
/// [`LEVEL`] with the content size and checksum, or, when that shrinks the bytes by less than
/// 2 % ([`RAW_BELOW_ONE_IN`]: layers already gzip- or zstd-compressed, noise), the frame of
/// raw blocks holding them as they are, with the checksum zstd computed ([`raw::encode`]).
/// The choice follows from zstd's output alone, so the same bytes give the same frame on
/// every machine (with the same zstd, as every compressed frame does).
pub(crate) struct FrameCompressor(zstd::bulk::Compressor<'static>);

impl FrameCompressor {
    /// The frame holding `bytes`.
    pub(crate) fn compress(&mut self, bytes: &[u8]) -> io::Result<Vec<u8>> {
        let compressed = self.0.compress(bytes)?;
        if !stored_raw(compressed.len(), bytes.len()) {
            return Ok(compressed);
        }
        // With its checksum flag set, a zstd frame ends with the checksum of its content.
        let checksum = *compressed.last_chunk::<4>().ok_or_else(|| io::Error::other("zstd wrote no checksum"))?;
        Ok(raw::encode(bytes, checksum))
    }
}

/// Whether `len` bytes that zstd compresses to `compressed` are stored as raw blocks: when
/// compression saves less than one byte in [`RAW_BELOW_ONE_IN`].
fn stored_raw(compressed: usize, len: usize) -> bool {
    (compressed as u64) * RAW_BELOW_ONE_IN > (len as u64) * (RAW_BELOW_ONE_IN - 1)
}

/// Decompresses frame `index` (`frame`, the bytes its seek table entry gives it), refusing
/// anything but one zstd frame that fills the entry and holds the `expected` bytes the table
/// declared. zstd alone would decompress two frames given together and pass over a skippable
/// frame of any bytes: an entry holding either would carry bytes the BOM's digests never see
/// through every verification, into what `serve` sends and `resign` copies.
pub(crate) fn decompress_frame(
    d: &mut zstd::bulk::Decompressor<'static>,
    frame: &[u8],
    expected: u32,
    index: u64,
) -> io::Result<Vec<u8>> {
    decompress_frame_into(d, frame, expected, index, Vec::with_capacity(expected as usize))
}

/// [`decompress_frame`] into `out`, a buffer with room for `expected` bytes (what it held is
/// overwritten).
fn decompress_frame_into(
    d: &mut zstd::bulk::Decompressor<'static>,
    frame: &[u8],
    expected: u32,
    index: u64,
    mut out: Vec<u8>,
) -> io::Result<Vec<u8>> {
    check_frame(frame, expected, index)?;
    let n = d.decompress_to_buffer(frame, &mut out).map_err(|e| corrupt_frame(index, e))?;
    if n != expected as usize {
        return Err(corrupt_frame(index, format!("holds {n} bytes, its seek table entry says {expected}")));
    }
    Ok(out)
}

/// `BLOCK` bytes of frame `index` (checked as [`decompress_frame`] checks it) from `within`,
/// decompressing only what comes before them.
fn decompress_prefix(frame: &[u8], expected: u32, index: u64, within: u64, block: &mut [u8; BLOCK]) -> io::Result<()> {
    check_frame(frame, expected, index)?;
    let mut decoder = zstd::stream::read::Decoder::with_buffer(frame)?;
    io::copy(&mut (&mut decoder).take(within), &mut io::sink()).map_err(|e| corrupt_frame(index, e))?;
    decoder.read_exact(block).map_err(|e| corrupt_frame(index, e))
}

/// The window a zstd frame's header declares (its window descriptor), `None` for a
/// single-segment frame, whose window is its content size, or a header cut short.
pub(crate) fn declared_window(frame: &[u8]) -> Option<u64> {
    let descriptor = *frame.get(4)?;
    if descriptor & 0x20 != 0 {
        return None;
    }
    let w = *frame.get(5)?;
    let base = 1u64 << (10 + u32::from(w >> 3));
    Some(base + base / 8 * u64::from(w & 7))
}

/// A frame found corrupt, as an I/O error carrying the bundle error.
fn corrupt_frame(index: u64, detail: impl std::fmt::Display) -> io::Error {
    io::Error::other(BundleError::Corrupt { detail: format!("zstd frame {index}: {detail}") })
}

/// Refuses anything in `frame` (frame `index`'s bytes as its seek table entry gives them)
/// but one zstd frame that fills the entry and declares the `expected` bytes, if any.
fn check_frame(frame: &[u8], expected: u32, index: u64) -> io::Result<()> {
    let corrupt = |detail: String| corrupt_frame(index, detail);
    if !frame.starts_with(&ZSTD_MAGIC) {
        return Err(corrupt(
            "does not start with a zstd frame's magic number (a skippable frame, or other bytes)".into(),
        ));
    }
    // No frame of ours needs a window larger than a frame: refusing one keeps every decoder
    // (the one-shot decode of verification, the streaming one of `header_at`) to frames they
    // all accept, and its buffer within the frame bound.
    if let Some(window) = declared_window(frame)
        && window > u64::from(MAX_FRAME_SIZE)
    {
        return Err(corrupt(format!(
            "declares a window of {window} bytes, more than the {MAX_FRAME_SIZE} a frame may hold"
        )));
    }
    match zstd::zstd_safe::find_frame_compressed_size(frame) {
        Ok(len) if len == frame.len() => {}
        Ok(len) => {
            return Err(corrupt(format!(
                "ends after {len} of the {} bytes its seek table entry gives it, which hold more than one frame",
                frame.len()
            )));
        }
        Err(code) => return Err(corrupt(zstd::zstd_safe::get_error_name(code).to_owned())),
    }
    match zstd::zstd_safe::get_frame_content_size(frame) {
        Ok(Some(size)) if size != u64::from(expected) => {
            Err(corrupt(format!("its header gives {size} bytes, its seek table entry says {expected}")))
        }
        Ok(_) => Ok(()),
        Err(e) => Err(corrupt(e.to_string())),
    }
}

/// Reads a seekable archive front to back, decompressing frames on every core, and hashes
/// the compressed file on the way so the sidecars can be checked in the same pass.
pub struct ParallelFrameReader {
    results: Receiver<(u64, io::Result<Vec<u8>>)>,
    feeder: Option<JoinHandle<io::Result<FileDigest>>>,
    pending: BTreeMap<u64, Vec<u8>>,
    current: Vec<u8>,
    pos: usize,
    next: u64,
    frames: u64,
}

impl ParallelFrameReader {
    /// Starts reading `file` from its start according to `table`, checking each part of a
    /// split archive as it passes.
    pub fn new(file: &ArchiveFile, table: SeekTable) -> Result<Self> {
        let file = file.sequential().map_err(|e| from_io(e, "opening the archive"))?;
        let n = worker_count();
        let (job_tx, job_rx) = sync_channel::<(u64, Vec<u8>, u32)>(n);
        let (res_tx, results) = sync_channel(n);
        let job_rx = Arc::new(Mutex::new(job_rx));
        for _ in 0..n {
            let job_rx = Arc::clone(&job_rx);
            let res_tx = res_tx.clone();
            std::thread::spawn(move || {
                let mut d = match zstd::bulk::Decompressor::new() {
                    Ok(d) => d,
                    Err(e) => {
                        let _ = res_tx.send((0, Err(e)));
                        return;
                    }
                };
                loop {
                    let job = job_rx.lock().map(|rx| rx.recv());
                    let Ok(Ok((seq, frame, expected))) = job else { return };
                    if res_tx.send((seq, decompress_frame(&mut d, &frame, expected, seq))).is_err() {
                        return;
                    }
                }
            });
        }
        let frames = table.frames.len() as u64;
        let feeder = std::thread::spawn(move || -> io::Result<FileDigest> {
            let mut file = file;
            for (seq, f) in table.frames.iter().enumerate() {
                let mut buf = vec![0u8; f.compressed as usize];
                file.read_exact(&mut buf)?;
                if job_tx.send((seq as u64, buf, f.decompressed)).is_err() {
                    return Err(io::Error::other("decompression stopped"));
                }
            }
            // The table was read at open: anything longer is a file that grew since.
            let expected = table.encode();
            let mut rest = Vec::with_capacity(expected.len());
            Read::by_ref(&mut file).take(expected.len() as u64 + 1).read_to_end(&mut rest)?;
            if rest != expected {
                return Err(io::Error::other(BundleError::Corrupt {
                    detail: "archive changed while it was read".into(),
                }));
            }
            file.finish()
        });
        Ok(ParallelFrameReader {
            results,
            feeder: Some(feeder),
            pending: BTreeMap::new(),
            current: Vec::new(),
            pos: 0,
            next: 0,
            frames,
        })
    }

    /// Waits for the feeder and returns the whole file's digest. Call after reading to
    /// the end of the decompressed stream.
    pub fn finish(mut self) -> Result<FileDigest> {
        let feeder = self.feeder.take().expect("finish called once");
        match feeder.join() {
            Ok(r) => r.map_err(|e| from_io(e, "reading the archive")),
            Err(_) => Err(BundleError::Corrupt { detail: "archive reader panicked".into() }),
        }
    }

    fn fill(&mut self) -> io::Result<bool> {
        if self.next == self.frames {
            return Ok(false);
        }
        loop {
            if let Some(buf) = self.pending.remove(&self.next) {
                self.current = buf;
                self.pos = 0;
                self.next += 1;
                return Ok(true);
            }
            match self.results.recv() {
                Ok((seq, res)) => {
                    self.pending.insert(seq, res?);
                }
                Err(_) => {
                    // Workers are gone: the feeder failed. Surface its error.
                    let err = match self.feeder.take().map(JoinHandle::join) {
                        Some(Ok(Err(e))) => e,
                        _ => io::Error::other("decompression workers stopped"),
                    };
                    return Err(err);
                }
            }
        }
    }
}

impl Read for ParallelFrameReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        while self.pos == self.current.len() {
            if !self.fill()? {
                return Ok(0);
            }
        }
        let n = buf.len().min(self.current.len() - self.pos);
        buf[..n].copy_from_slice(&self.current[self.pos..self.pos + n]);
        self.pos += n;
        Ok(n)
    }
}

/// An open archive and its seek table, read once and shared by every reader of it: a reader
/// reads the file with positioned reads, so many at once take no descriptor and no read of
/// the table each ([`SeekableFile::over`]). Which frames are all raw blocks is found as they
/// are first read by a range and kept here, for every reader.
#[derive(Debug)]
pub(crate) struct SeekableArchive {
    file: ArchiveFile,
    table: SeekTable,
    /// Start offsets of each frame: (compressed, decompressed).
    starts: Vec<(u64, u64)>,
    /// Which frames are made of raw blocks only, as far as checked.
    raw: raw::RawFrames,
    /// Frames decompressed by every reader of the archive (for tests and metrics).
    decompressed: AtomicU64,
    /// Parts of raw frames read from the file for ranges (for tests and metrics).
    raw_parts_read: AtomicU64,
    /// Frame buffers its readers have dropped, for their next reads.
    spares: Arc<SpareBuffers>,
}

impl SeekableArchive {
    fn open(file: ArchiveFile, limits: &Limits) -> Result<SeekableArchive> {
        let table = SeekTable::read_from(&file, limits)?;
        let mut starts = Vec::with_capacity(table.frames.len());
        let (mut c, mut d) = (0u64, 0u64);
        for f in &table.frames {
            starts.push((c, d));
            c += u64::from(f.compressed);
            d += u64::from(f.decompressed);
        }
        let raw = raw::RawFrames::new(table.frames.len());
        Ok(SeekableArchive {
            file,
            table,
            starts,
            raw,
            decompressed: AtomicU64::new(0),
            raw_parts_read: AtomicU64::new(0),
            spares: Arc::default(),
        })
    }

    /// Frames decompressed so far by every reader of the archive.
    pub(crate) fn frames_decompressed(&self) -> u64 {
        self.decompressed.load(Ordering::Relaxed)
    }

    /// Parts of raw frames read from the file so far for ranges, by every reader.
    pub(crate) fn raw_parts_read(&self) -> u64 {
        self.raw_parts_read.load(Ordering::Relaxed)
    }

    fn entry(&self, idx: usize) -> Result<FrameEntry> {
        self.table
            .frames
            .get(idx)
            .copied()
            .ok_or_else(|| BundleError::Truncated { detail: format!("frame {idx} of {}", self.table.frames.len()) })
    }

    /// Whether frame `idx` is made of raw blocks only (its bytes stored as they are, in blocks
    /// of one size but the last): found from its frame and block headers the first time it is
    /// asked (one read of its header; then, only if raw blocks of that header's size would
    /// fill the frame exactly, one read of 3 bytes per block, at most 128), and kept.
    fn is_raw(&self, idx: usize) -> Result<bool> {
        if let Some(known) = self.raw.get(idx) {
            return Ok(known);
        }
        let (entry, start) = (self.entry(idx)?, self.starts[idx].0);
        let (len, content) = (u64::from(entry.compressed), u64::from(entry.decompressed));
        let found = raw::Layout::from_header(&self.file, start, len, content)
            .and_then(|layout| layout.map_or(Ok(false), |layout| layout.check_blocks(&self.file, start)))
            .map_err(|e| from_io(e, "reading the archive"))?;
        self.raw.set(idx, found);
        Ok(found)
    }

    /// Fills `buf` with frame `idx`'s bytes from `within`, a frame [`is_raw`](Self::is_raw)
    /// found raw: read from its block payloads in the file, nothing decompressed. Its header
    /// is read again for the layout and every read stays inside the frame; a header that gives
    /// no raw layout is refused, but a file rewritten since with another layout of the same
    /// length is for the file stamp and the blobs' digests to catch (decision 0041).
    fn read_raw(&self, idx: usize, within: u64, buf: &mut [u8]) -> Result<()> {
        let (entry, start) = (self.entry(idx)?, self.starts[idx].0);
        let (len, content) = (u64::from(entry.compressed), u64::from(entry.decompressed));
        let layout = raw::Layout::from_header(&self.file, start, len, content)
            .map_err(|e| from_io(e, "reading the archive"))?
            .ok_or_else(|| BundleError::Corrupt {
                detail: format!("zstd frame {idx}: no longer the frame of raw blocks it was when first read"),
            })?;
        layout.read(&self.file, start, within, buf).map_err(|e| from_io(e, "reading the archive"))
    }
}

/// Random access to the decompressed bytes of a seekable archive: reads a range by
/// decompressing only the frames that hold it. The base of `serve` and of single-blob reads.
pub struct SeekableFile {
    archive: Arc<SeekableArchive>,
    decompressor: zstd::bulk::Decompressor<'static>,
    cache: Option<(usize, Arc<FrameBuf>)>,
    frames_decompressed: u64,
}

impl SeekableFile {
    /// Opens an archive (a file, or the parts of a split one) and reads its seek table.
    pub fn open(file: impl Into<ArchiveFile>, limits: &Limits) -> Result<Self> {
        SeekableFile::over(Arc::new(SeekableArchive::open(file.into(), limits)?))
    }

    /// Another reader of an archive already open, with a decompressor of its own.
    pub(crate) fn over(archive: Arc<SeekableArchive>) -> Result<Self> {
        let decompressor = zstd::bulk::Decompressor::new().map_err(|e| from_io(e, "starting zstd"))?;
        Ok(SeekableFile { archive, decompressor, cache: None, frames_decompressed: 0 })
    }

    /// The open archive, for [`SeekableFile::over`].
    pub(crate) fn archive(&self) -> &Arc<SeekableArchive> {
        &self.archive
    }

    /// The open archive.
    pub fn file(&self) -> &ArchiveFile {
        &self.archive.file
    }

    /// The seek table.
    pub fn table(&self) -> &SeekTable {
        &self.archive.table
    }

    /// How many frames have been decompressed so far (for tests and metrics).
    pub fn frames_decompressed(&self) -> u64 {
        self.frames_decompressed
    }

    /// Whether frame `idx` is made of raw blocks only, so that [`read_raw`](Self::read_raw)
    /// reads it: found the first time any reader of the archive asks, then kept.
    pub(crate) fn is_raw(&self, idx: usize) -> Result<bool> {
        self.archive.is_raw(idx)
    }

    /// Whether frame `idx` is already known to be made of raw blocks only (no read: `false`
    /// until a reader has asked [`is_raw`](Self::is_raw)).
    pub(crate) fn known_raw(&self, idx: usize) -> bool {
        self.archive.raw.get(idx) == Some(true)
    }

    /// Fills `buf` with bytes of frame `idx` from `within`, a frame [`is_raw`](Self::is_raw)
    /// found raw, straight from the file.
    pub(crate) fn read_raw(&self, idx: usize, within: u64, buf: &mut [u8]) -> Result<()> {
        self.archive.read_raw(idx, within, buf)
    }

    /// Fills `buf` from decompressed offset `offset`.
    pub fn read_exact_at(&mut self, mut offset: u64, mut buf: &mut [u8]) -> Result<()> {
        while !buf.is_empty() {
            let (idx, start) = self.frame_index(offset)?;
            let frame = self.frame(idx)?;
            let within = (offset - start) as usize;
            let n = buf.len().min(frame.len() - within);
            buf[..n].copy_from_slice(&frame[within..within + n]);
            buf = &mut buf[n..];
            offset += n as u64;
        }
        Ok(())
    }

    /// The index of the frame that holds decompressed `offset`, and the offset it starts at.
    pub fn frame_index(&self, offset: u64) -> Result<(usize, u64)> {
        let idx = self
            .archive
            .starts
            .partition_point(|&(_, d)| d <= offset)
            .checked_sub(1)
            .ok_or_else(|| BundleError::Truncated { detail: "read before the start".into() })?;
        if idx >= self.archive.table.frames.len() || offset >= self.archive.table.decompressed_len() {
            return Err(BundleError::Truncated { detail: format!("read past the end at offset {offset}") });
        }
        Ok((idx, self.archive.starts[idx].1))
    }

    /// Walks the tar headers through the seek table and returns every entry with the
    /// decompressed offset of its data. Only frames that hold a header are read, and of those
    /// only as far as the header (see [`header_at`](Self::header_at)): the middle of a large
    /// blob is skipped.
    pub fn entries(&mut self, limits: &Limits) -> Result<Vec<(Header, u64)>> {
        let mut out = Vec::new();
        let mut offset = 0u64;
        let end_of_data = self.archive.table.decompressed_len();
        let mut block = [0u8; BLOCK];
        let mut partly_read = None;
        loop {
            self.header_at(offset, &mut block, &mut partly_read)?;
            let Some(h) = parse_header(&block)? else { return Ok(out) };
            if out.len() as u64 >= limits.max_entries {
                return Err(BundleError::LimitExceeded {
                    what: "entry count",
                    actual: out.len() as u64 + 1,
                    limit: limits.max_entries,
                });
            }
            let data = offset + BLOCK as u64;
            // The size is the archive's word: a base-256 field holds up to 2^64 - 1.
            offset = data
                .checked_add(h.size)
                .and_then(|end| end.checked_add(padding(h.size) as u64))
                .filter(|&end| end <= end_of_data)
                .ok_or_else(|| BundleError::Truncated {
                    detail: format!("entry {:?} claims {} bytes, past the end of the archive", h.path, h.size),
                })?;
            out.push((h, data));
        }
    }

    /// The tar header block at `offset`, for [`entries`](Self::entries). The writer starts a
    /// frame at each entry that does not fit the one being filled, so a large blob's header
    /// opens its frame: reading that frame only as far as the header (straight from the file
    /// when it is raw blocks) instead of decompressing it whole makes the walk over a GiB of
    /// layers cost a few KiB of decompression, not a frame per layer (a re-load that finds
    /// every blob in place reads nothing else). A second header in a frame read that way
    /// (`partly_read`) decompresses it whole and keeps it, as small files share frames, so no
    /// frame is read from its start more than twice. A header's bytes are no more trusted
    /// read this way: an entry's size is checked against the signed BOM, and its bytes
    /// against their digest, by whoever reads them.
    fn header_at(&mut self, offset: u64, block: &mut [u8; BLOCK], partly_read: &mut Option<usize>) -> Result<()> {
        let (idx, start) = self.frame_index(offset)?;
        let within = offset - start;
        let kept = matches!(&self.cache, Some((i, _)) if *i == idx);
        let fits = within + BLOCK as u64 <= u64::from(self.archive.entry(idx)?.decompressed);
        if !kept && fits && (self.known_raw(idx) || *partly_read != Some(idx) && self.is_raw(idx)?) {
            // Raw blocks: the header read from the file, however many headers the frame holds.
            *partly_read = Some(idx);
            return self.read_raw(idx, within, block);
        }
        if kept || !fits || *partly_read == Some(idx) {
            return self.read_exact_at(offset, block);
        }
        *partly_read = Some(idx);
        let entry = self.archive.entry(idx)?;
        let mut compressed = vec![0u8; entry.compressed as usize];
        read_exact_at(&self.archive.file, &mut compressed, self.archive.starts[idx].0)?;
        decompress_prefix(&compressed, entry.decompressed, idx as u64, within, block)
            .map_err(|e| from_io(e, "decompressing a frame"))
    }

    /// Frame `idx` decompressed (the last one asked for is kept). Shared, so a server can
    /// send it without copying.
    pub fn frame(&mut self, idx: usize) -> Result<Arc<FrameBuf>> {
        if let Some((i, frame)) = &self.cache
            && *i == idx
        {
            return Ok(Arc::clone(frame));
        }
        let frame = Arc::new(self.decompress(idx)?);
        self.cache = Some((idx, Arc::clone(&frame)));
        Ok(frame)
    }

    /// Frame `idx` decompressed and not kept, for a reader that hands each frame on and does
    /// not come back to it: what it hands on is all the memory the frame holds. The
    /// compressed bytes are read into a buffer given back on return, so an idle reader holds
    /// none; both buffers are the archive's spares ([`SpareBuffers`]).
    pub(crate) fn decompress(&mut self, idx: usize) -> Result<FrameBuf> {
        let entry = self.archive.entry(idx)?;
        let spares = &self.archive.spares;
        let mut compressed = spares.filled(entry.compressed as usize);
        read_exact_at(&self.archive.file, compressed.as_mut_slice(), self.archive.starts[idx].0)?;
        let out = spares.with_capacity(entry.decompressed as usize);
        let out = decompress_frame_into(&mut self.decompressor, &compressed, entry.decompressed, idx as u64, out)
            .map_err(|e| from_io(e, "decompressing a frame"))?;
        self.frames_decompressed += 1;
        self.archive.decompressed.fetch_add(1, Ordering::Relaxed);
        Ok(spares.frame(out))
    }

    /// `len` bytes of frame `idx` from `within`, a frame [`is_raw`](Self::is_raw) found raw,
    /// read from the file into a spare buffer.
    pub(crate) fn read_raw_part(&self, idx: usize, within: u64, len: usize) -> Result<FrameBuf> {
        let mut part = self.archive.spares.filled(len);
        self.read_raw(idx, within, part.as_mut_slice())?;
        self.archive.raw_parts_read.fetch_add(1, Ordering::Relaxed);
        Ok(part)
    }
}

#[cfg(test)]
mod tests {
    use std::fs::File;
    use std::process::Command;

    use super::*;

    #[test]
    fn a_frame_declaring_a_window_past_the_frame_bound_is_refused() {
        // One raw block "abc", no content size, no checksum; window descriptor 0x78: 2^25
        // bytes (32 MiB), which zstd accepts and our frames never need.
        let block = 1u32 | (3 << 3); // last, raw, 3 bytes
        let mut frame = ZSTD_MAGIC.to_vec();
        frame.extend([0x00, 0x78]);
        frame.extend(&block.to_le_bytes()[..3]);
        frame.extend(b"abc");
        assert_eq!(zstd::decode_all(&frame[..]).unwrap(), b"abc", "a valid zstd frame");
        assert_eq!(declared_window(&frame), Some(32 << 20));
        let refused = check_frame(&frame, 3, 7).unwrap_err().to_string();
        assert!(refused.contains("zstd frame 7: declares a window of 33554432 bytes"), "{refused}");
        // The same frame with a 1 MiB window (0x50) passes.
        frame[5] = 0x50;
        check_frame(&frame, 3, 7).unwrap();
    }
    use crate::test_support::noise;

    fn text(len: usize) -> Vec<u8> {
        b"2025-01-01T00:00:00Z INFO request completed status=200\n".iter().copied().cycle().take(len).collect()
    }

    /// Noise with a run of zeros `zeros` long in its middle: zstd compresses the block that
    /// holds them and stores the others raw.
    fn noise_with_zeros(len: usize, zeros: usize) -> Vec<u8> {
        let mut bytes = noise(len, 3);
        bytes[len / 2..len / 2 + zeros].fill(0);
        bytes
    }

    /// `frames` written as a seekable archive in `dir`, and opened.
    fn archive(dir: &std::path::Path, frames: &[Vec<u8>]) -> (std::path::PathBuf, SeekableFile) {
        let path = dir.join("a.zst");
        let mut w = SeekableWriter::new(File::create(&path).unwrap());
        for f in frames {
            w.push_frame(f.clone()).unwrap();
        }
        w.finish().unwrap();
        let limits = Limits { max_ratio: u64::MAX, ..Limits::default() };
        let file = SeekableFile::open(File::open(&path).unwrap(), &limits).unwrap();
        (path, file)
    }

    #[test]
    fn frames_that_compression_shrinks_by_less_than_2_percent_are_stored_raw() {
        assert!(stored_raw(99, 100) && stored_raw(981, 1000) && stored_raw(120, 100));
        assert!(!stored_raw(98, 100) && !stored_raw(979, 1000) && !stored_raw(10, 100));
        let mut c = new_compressor().unwrap();
        let mut plain = zstd::bulk::Compressor::new(LEVEL).unwrap();
        // Noise with 1 % zeros: zstd compresses one block and saves about 1 %, below the line.
        let almost = noise_with_zeros(FRAME_SIZE, FRAME_SIZE / 100);
        assert!(plain.compress(&almost).unwrap().len() < almost.len(), "zstd shrinks it a little");
        let frame = c.compress(&almost).unwrap();
        assert!(
            raw::Layout::from_header(frame.as_slice(), 0, frame.len() as u64, almost.len() as u64).unwrap().is_some()
        );
        // With 5 % zeros, zstd's frame is kept.
        let more = noise_with_zeros(FRAME_SIZE, FRAME_SIZE / 20);
        assert!(c.compress(&more).unwrap() == new_zstd_frame(&more));
        assert_eq!(c.compress(&text(1000)).unwrap(), new_zstd_frame(&text(1000)));
    }

    /// The frame zstd alone writes with the archive's parameters.
    fn new_zstd_frame(bytes: &[u8]) -> Vec<u8> {
        let mut c = zstd::bulk::Compressor::new(LEVEL).unwrap();
        c.include_checksum(true).unwrap();
        c.include_contentsize(true).unwrap();
        c.include_dictid(false).unwrap();
        c.compress(bytes).unwrap()
    }

    #[test]
    fn a_mixed_archive_reads_back_the_same_through_zstd_the_decompressor_and_the_raw_reader() {
        let dir = tempfile::tempdir().unwrap();
        let frames = vec![
            noise(FRAME_SIZE, 1),
            text(FRAME_SIZE),
            noise_with_zeros(FRAME_SIZE, FRAME_SIZE / 100),
            noise(12_345, 2),
            text(700),
        ];
        let (path, mut file) = archive(dir.path(), &frames);
        let raw: Vec<bool> = (0..frames.len()).map(|i| file.is_raw(i).unwrap()).collect();
        assert_eq!(raw, [true, false, true, true, false]);
        let whole = frames.concat();
        // Every frame whole, raw or decompressed, then ranges across frames and blocks.
        for (i, f) in frames.iter().enumerate() {
            assert_eq!(&file.frame(i).unwrap()[..], &f[..], "frame {i} decompressed");
            if raw[i] {
                let mut buf = vec![0u8; f.len()];
                file.read_raw(i, 0, &mut buf).unwrap();
                assert_eq!(&buf, f, "frame {i} read raw");
                assert!(file.known_raw(i));
            }
        }
        let mut buf = vec![0u8; 2 * FRAME_SIZE];
        file.read_exact_at(FRAME_SIZE as u64 / 2, &mut buf).unwrap();
        assert_eq!(buf, whole[FRAME_SIZE / 2..FRAME_SIZE / 2 + 2 * FRAME_SIZE]);
        let mut buf = vec![0u8; 300_000];
        file.read_raw(2, 100_000, &mut buf).unwrap();
        assert_eq!(buf, frames[2][100_000..400_000]);
        // A read past a raw frame's end is refused, not served from the next frame.
        assert!(file.read_raw(3, 12_000, &mut [0u8; 346]).is_err());
        // The zstd command-line tool reads the archive, seek table skipped, checksums checked.
        let out = Command::new("zstd").args(["-d", "-c", "-q"]).arg(&path).output().expect("the zstd tool");
        assert!(out.status.success(), "{}", String::from_utf8_lossy(&out.stderr));
        assert!(out.stdout == whole, "zstd -d reads other bytes");
        let test = Command::new("zstd").args(["-t", "-q"]).arg(&path).status().unwrap();
        assert!(test.success());
        // The streaming decoder of the zstd library too.
        let mut streamed = Vec::new();
        zstd::stream::read::Decoder::new(File::open(&path).unwrap()).unwrap().read_to_end(&mut streamed).unwrap();
        assert!(streamed == whole);
    }

    #[test]
    fn the_same_frames_are_written_as_the_same_bytes() {
        let dir = tempfile::tempdir().unwrap();
        let frames = vec![noise(FRAME_SIZE, 5), text(FRAME_SIZE), noise_with_zeros(FRAME_SIZE, 1000), noise(99, 6)];
        let (first, _) = archive(dir.path(), &frames);
        let first = std::fs::read(first).unwrap();
        let (second, _) = archive(dir.path(), &frames);
        assert!(std::fs::read(second).unwrap() == first);
    }
}
