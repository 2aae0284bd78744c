//! The Zstandard seekable format: a sequence of independent zstd frames closed by a seek
//! table in a skippable frame (zstd `contrib/seekable_format`). Plain `zstd -d` skips the
//! table; we use it to decompress frames on every core and to read any byte range
//! without decompressing what precedes it.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Seek, SeekFrom, Write};
use std::os::unix::fs::FileExt;
use std::sync::mpsc::{Receiver, SyncSender, sync_channel};
use std::sync::{Arc, Mutex};
use std::thread::JoinHandle;

use crate::digest_io::{DigestAdapter, FileDigest};
use crate::tar::{BLOCK, Header, padding, parse_header};
use crate::{BundleError, Limits, Result};

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
    /// content is bound by SHA-256 in the BOM, and each frame carries zstd's own checksum).
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
    pub fn read_from(file: &File, limits: &Limits) -> Result<SeekTable> {
        let file_len = file.metadata().map_err(|e| from_io(e, "reading archive metadata"))?.len();
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
    fn parse_at_end(file: &File, end: u64, limits: &Limits) -> Result<Option<SeekTable>> {
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
    fn explain_missing_table(file: &File, file_len: u64, limits: &Limits) -> BundleError {
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
pub fn is_seekable_zstd(file: &File) -> io::Result<bool> {
    let mut magic = [0u8; 4];
    match file.read_exact_at(&mut magic, 0) {
        Ok(()) => Ok(magic == ZSTD_MAGIC),
        Err(e) if e.kind() == io::ErrorKind::UnexpectedEof => Ok(false),
        Err(e) => Err(e),
    }
}

fn read_exact_at(file: &File, buf: &mut [u8], offset: u64) -> Result<()> {
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

pub(crate) fn new_compressor() -> io::Result<zstd::bulk::Compressor<'static>> {
    let mut c = zstd::bulk::Compressor::new(LEVEL)?;
    c.include_checksum(true)?;
    c.include_contentsize(true)?;
    c.include_dictid(false)?;
    Ok(c)
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
    let corrupt =
        |detail: String| io::Error::other(BundleError::Corrupt { detail: format!("zstd frame {index}: {detail}") });
    if !frame.starts_with(&ZSTD_MAGIC) {
        return Err(corrupt(
            "does not start with a zstd frame's magic number (a skippable frame, or other bytes)".into(),
        ));
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
            return Err(corrupt(format!("its header gives {size} bytes, its seek table entry says {expected}")));
        }
        Ok(_) => {}
        Err(e) => return Err(corrupt(e.to_string())),
    }
    let mut out = Vec::with_capacity(expected as usize);
    let n = d.decompress_to_buffer(frame, &mut out).map_err(|e| corrupt(e.to_string()))?;
    if n != expected as usize {
        return Err(corrupt(format!("holds {n} bytes, its seek table entry says {expected}")));
    }
    Ok(out)
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
    /// Starts reading `file` (positioned anywhere) according to `table`.
    pub fn new(mut file: File, table: SeekTable) -> Result<Self> {
        file.seek(SeekFrom::Start(0)).map_err(|e| from_io(e, "seeking in the archive"))?;
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
            let mut file = DigestAdapter::new(file);
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
            Ok(file.digest())
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
/// the table each ([`SeekableFile::over`]).
#[derive(Debug)]
pub(crate) struct SeekableArchive {
    file: File,
    table: SeekTable,
    /// Start offsets of each frame: (compressed, decompressed).
    starts: Vec<(u64, u64)>,
}

impl SeekableArchive {
    fn open(file: File, limits: &Limits) -> Result<SeekableArchive> {
        let table = SeekTable::read_from(&file, limits)?;
        let mut starts = Vec::with_capacity(table.frames.len());
        let (mut c, mut d) = (0u64, 0u64);
        for f in &table.frames {
            starts.push((c, d));
            c += u64::from(f.compressed);
            d += u64::from(f.decompressed);
        }
        Ok(SeekableArchive { file, table, starts })
    }
}

/// Random access to the decompressed bytes of a seekable archive: reads a range by
/// decompressing only the frames that hold it. The base of `serve` and of single-blob reads.
pub struct SeekableFile {
    archive: Arc<SeekableArchive>,
    decompressor: zstd::bulk::Decompressor<'static>,
    cache: Option<(usize, Arc<Vec<u8>>)>,
    frames_decompressed: u64,
}

impl SeekableFile {
    /// Opens a file and reads its seek table.
    pub fn open(file: File, limits: &Limits) -> Result<Self> {
        SeekableFile::over(Arc::new(SeekableArchive::open(file, limits)?))
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
    pub fn file(&self) -> &File {
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
    /// decompressed offset of its data. Only frames that hold a header are decompressed:
    /// the middle of a large blob is skipped.
    pub fn entries(&mut self, limits: &Limits) -> Result<Vec<(Header, u64)>> {
        let mut out = Vec::new();
        let mut offset = 0u64;
        let end_of_data = self.archive.table.decompressed_len();
        let mut block = [0u8; BLOCK];
        loop {
            self.read_exact_at(offset, &mut block)?;
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

    /// Frame `idx` decompressed (the last one asked for is kept). Shared, so a server can
    /// send it without copying.
    pub fn frame(&mut self, idx: usize) -> Result<Arc<Vec<u8>>> {
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
    /// compressed bytes are read into a buffer freed on return, so an idle reader holds none.
    pub(crate) fn decompress(&mut self, idx: usize) -> Result<Vec<u8>> {
        let entry = *self.archive.table.frames.get(idx).ok_or_else(|| BundleError::Truncated {
            detail: format!("frame {idx} of {}", self.archive.table.frames.len()),
        })?;
        let mut compressed = vec![0u8; entry.compressed as usize];
        read_exact_at(&self.archive.file, &mut compressed, self.archive.starts[idx].0)?;
        let out = decompress_frame(&mut self.decompressor, &compressed, entry.decompressed, idx as u64)
            .map_err(|e| from_io(e, "decompressing a frame"))?;
        self.frames_decompressed += 1;
        Ok(out)
    }
}
