//! Files read straight out of a bundle's `.tar.zst` through its seek table, with no second
//! copy on disk: what `load`, `serve` and the runtime export read blobs, manifests and charts
//! with. An index is opened against a BOM taken on trust, so the way in for everyone but the
//! verifier is `genesis_trust::SignedBom::archive_index`, on a bundle whose signature
//! verified ([`crate::danger::open_index`] is the unchecked one). A file changed after
//! verification is still caught: the uploader hashes what it reads, every small file read
//! whole is checked against its digest, and an index pinned to the stamp of the checked file
//! (the server's) refuses a file with another stamp. The archive is opened once, with the
//! index: every read is a positioned read of that one descriptor, so readers at once (a
//! server's responses) take no descriptor and no read of the seek table each.
//!
//! A range's bytes in a frame of raw blocks (what the writer stores for bytes zstd would not
//! shrink: compressed layers) are read straight from the file, skipping the block headers:
//! nothing is decompressed and the frame cache is not used (decision 0041).

use std::collections::HashMap;
use std::io::{self, Read};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};

use genesis_types::{Descriptor, Digest, ImageIndex, MAX_MANIFEST};

use crate::seekable::{FrameBuf, MAX_FRAME_SIZE, SeekableArchive, SeekableFile, is_seekable_zstd};
use crate::{ArchiveFile, Bom, BundleError, FileEntry, FileStamp, ImageEntry, Limits, Result};

/// Where a bundle's OCI image layout keeps its index.
const LAYOUT_INDEX_PATH: &str = "oci/index.json";

/// Where every payload file of a bundle lies in its decompressed tar stream.
#[derive(Debug, Clone)]
pub struct ArchiveIndex {
    path: PathBuf,
    archive: Arc<SeekableArchive>,
    entries: HashMap<String, (u64, u64)>,
    /// The BOM's entry for `oci/index.json` (path, size, SHA-256), kept from the BOM the
    /// index was opened against so that the layout index is read against that BOM and no
    /// other.
    layout_index: Option<FileEntry>,
    stamp: Option<FileStamp>,
    cache: Option<Arc<FrameCache>>,
}

/// Walks the tar headers of the seekable zstd archive at `path` (only frames holding headers
/// are decompressed) and checks that every file of `bom` is there with its size; keeps
/// `bom`'s entry for `oci/index.json` for [`ArchiveIndex::layout_index`]. `bom` is taken on
/// trust: reached through [`crate::danger`].
pub fn open_index(path: &Path, bom: &Bom, limits: &Limits) -> Result<ArchiveIndex> {
    open_index_over(ArchiveFile::open(path)?, bom, limits)
}

/// [`open_index`] of an archive already open: a file, parts, or a remote object.
pub fn open_index_over(file: ArchiveFile, bom: &Bom, limits: &Limits) -> Result<ArchiveIndex> {
    let path = file.path().to_owned();
    let mut s = open_seekable(file, limits)?;
    let entries: HashMap<String, (u64, u64)> =
        s.entries(limits)?.into_iter().map(|(h, offset)| (h.path, (offset, h.size))).collect();
    for f in &bom.files {
        match entries.get(f.path.as_str()) {
            Some(&(_, size)) if size == f.size => {}
            _ => return Err(BundleError::MissingEntry { path: f.path.clone() }),
        }
    }
    let layout_index = bom.file(LAYOUT_INDEX_PATH).cloned();
    Ok(ArchiveIndex { path, archive: Arc::clone(s.archive()), entries, layout_index, stamp: None, cache: None })
}

impl ArchiveIndex {
    /// Pins every later read to the archive as it was checked: a file whose stamp differs
    /// (written or truncated since, or replaced before the index opened it) is refused when a
    /// range is opened and when its last bytes are read. A file put in its place later is
    /// never read: the index reads the one it opened.
    pub fn pinned(self, stamp: FileStamp) -> ArchiveIndex {
        ArchiveIndex { stamp: Some(stamp), ..self }
    }

    /// Shares decompressed frames between every read of [`ArchiveRange::frames_at`], up to
    /// `budget` bytes (0: none). A frame of raw blocks read whole fills room the cache has
    /// free, and is the first to go when a decompressed frame needs the room: it costs only
    /// a read of the file to get again (decision 0045).
    pub fn with_frame_cache(self, budget: u64) -> ArchiveIndex {
        ArchiveIndex { cache: (budget > 0).then(|| Arc::new(FrameCache::new(budget))), ..self }
    }

    /// How many frames the frame cache holds now (0 without one), for tests and metrics.
    pub fn frames_cached(&self) -> usize {
        self.cache.as_ref().map_or(0, |c| c.state().frames.len())
    }

    /// How many frames the readers of this archive have decompressed so far (through the
    /// cache or not), for tests and metrics. Frames of raw blocks read by a range are not:
    /// they are read from the file.
    pub fn frames_decompressed(&self) -> u64 {
        self.archive.frames_decompressed()
    }

    /// How many times ranges of this archive have read (part of) a frame of raw blocks from
    /// the file, for tests and metrics: not when the frame came from the cache.
    pub fn raw_frame_reads(&self) -> u64 {
        self.archive.raw_parts_read()
    }

    /// Offset and size of a file.
    pub fn locate(&self, path: &str) -> Option<(u64, u64)> {
        self.entries.get(path).copied()
    }

    /// A range of the decompressed archive (a file's bytes, from [`ArchiveIndex::locate`]).
    pub fn range(&self, offset: u64, size: u64) -> ArchiveRange {
        ArchiveRange {
            path: self.path.clone(),
            archive: Arc::clone(&self.archive),
            offset,
            size,
            stamp: self.stamp,
            cache: self.cache.clone(),
        }
    }

    /// A blob of the bundle's OCI layout (`oci/blobs/<alg>/<hex>`).
    pub fn blob(&self, digest: &Digest) -> Option<ArchiveRange> {
        let (offset, size) = self.locate(&layout_path(digest))?;
        Some(self.range(offset, size))
    }

    /// The bundle's `oci/index.json`, checked against the SHA-256 the BOM this index was
    /// opened against lists for it; `None` when that BOM lists none.
    pub fn layout_index(&self) -> Result<Option<ImageIndex>> {
        let Some(f) = &self.layout_index else { return Ok(None) };
        let bytes = self.read_checked(f.path.as_str(), &f.sha256, MAX_MANIFEST as u64)?;
        serde_json::from_slice(&bytes).map(Some).map_err(|e| BundleError::Unusable(format!("{LAYOUT_INDEX_PATH}: {e}")))
    }

    /// Reads a small blob whole, checking it against its digest.
    pub fn read_verified(&self, digest: &Digest, max: u64) -> Result<Vec<u8>> {
        self.read_checked(&layout_path(digest), digest, max)
    }

    /// Reads a small file whole, checking it against the SHA-256 the verified BOM lists.
    pub fn read_checked(&self, path: &str, sha256: &Digest, max: u64) -> Result<Vec<u8>> {
        let (offset, size) = self.locate(path).ok_or_else(|| BundleError::NotFound(format!("{path} in the bundle")))?;
        if size > max {
            return Err(BundleError::Unusable(format!("{path}: {size} bytes, more than {max}")));
        }
        let range = self.range(offset, size);
        let mut bytes = Vec::with_capacity(size as usize);
        range
            .open_at(0, size)
            .and_then(|mut r| r.read_to_end(&mut bytes))
            .map_err(BundleError::io("reading", &self.path))?;
        let actual = crate::sha256(&bytes);
        if &actual != sha256 {
            return Err(BundleError::ChangedSinceVerification {
                what: format!("{path} in the bundle"),
                expected: sha256.clone(),
                actual,
            });
        }
        Ok(bytes)
    }
}

/// Where a blob lies in a bundle: `oci/blobs/<alg>/<hex>`.
pub fn layout_path(digest: &Digest) -> String {
    format!("oci/{}", digest.blob_path())
}

/// The descriptor of `image` in the layout's index.
pub fn image_top(layout: &ImageIndex, image: &ImageEntry) -> Result<Descriptor> {
    layout
        .manifests
        .iter()
        .find(|d| d.digest == image.digest)
        .cloned()
        .ok_or_else(|| BundleError::Unusable(format!("image {} is not in oci/index.json", image.reference)))
}

fn open_seekable(file: ArchiveFile, limits: &Limits) -> Result<SeekableFile> {
    if is_seekable_zstd(&file).map_err(BundleError::io("reading", file.path()))? {
        SeekableFile::open(file, limits)
    } else {
        Err(BundleError::NotSeekable { path: file.path().to_owned() })
    }
}

/// A byte range of the decompressed archive.
#[derive(Debug, Clone)]
pub struct ArchiveRange {
    path: PathBuf,
    archive: Arc<SeekableArchive>,
    /// Offset in the decompressed stream.
    pub offset: u64,
    /// Length.
    pub size: u64,
    stamp: Option<FileStamp>,
    cache: Option<Arc<FrameCache>>,
}

impl ArchiveRange {
    fn open_file(&self) -> io::Result<SeekableFile> {
        let file = SeekableFile::over(Arc::clone(&self.archive)).map_err(io::Error::other)?;
        self.check_stamp(&file)?;
        Ok(file)
    }

    fn check_stamp(&self, file: &SeekableFile) -> io::Result<()> {
        match self.stamp {
            Some(expected) if file.file().stamp()? != expected => Err(io::Error::other(format!(
                "{} changed on disk since it was verified; verify it again",
                self.path.display()
            ))),
            _ => Ok(()),
        }
    }

    /// A reader of `len` bytes starting `skip` bytes into the range.
    pub fn open_at(&self, skip: u64, len: u64) -> io::Result<RangeReader> {
        let (pos, end) = self.bounds(skip, len);
        Ok(RangeReader { file: self.open_file()?, pos, end, cache: self.cache.clone() })
    }

    /// `len` bytes starting `skip` bytes into the range, as parts of decompressed frames (or,
    /// in a frame of raw blocks, the part in the range read from the file): what a server
    /// sends without copying.
    pub fn frames_at(&self, skip: u64, len: u64) -> io::Result<FrameSlices> {
        let (pos, end) = self.bounds(skip, len);
        Ok(FrameSlices { file: self.open_file()?, pos, end, range: self.clone() })
    }

    fn bounds(&self, skip: u64, len: u64) -> (u64, u64) {
        (self.offset + skip, self.offset + skip + len.min(self.size.saturating_sub(skip)))
    }
}

/// Sequential reads over a range of a seekable archive, one frame at a time: a frame of raw
/// blocks straight from the file; another through the index's frame cache when it has one
/// (many small files read one after another, each a new reader, share their frames), else
/// through the one frame the reader keeps.
pub struct RangeReader {
    file: SeekableFile,
    pos: u64,
    end: u64,
    cache: Option<Arc<FrameCache>>,
}

impl Read for RangeReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min((self.end - self.pos).min(1 << 20) as usize);
        if n == 0 {
            return Ok(0);
        }
        let file = &mut self.file;
        let (idx, start) = file.frame_index(self.pos).map_err(io::Error::other)?;
        let within = self.pos - start;
        let n = n.min((u64::from(file.table().frames[idx].decompressed) - within) as usize);
        if file.is_raw(idx).map_err(io::Error::other)? {
            file.read_raw(idx, within, &mut buf[..n]).map_err(io::Error::other)?;
        } else {
            let frame = match &self.cache {
                Some(cache) => cache.get(idx, Kept::Always, || file.decompress(idx).map(Arc::new)),
                None => file.frame(idx),
            }
            .map_err(io::Error::other)?;
            buf[..n].copy_from_slice(&frame[within as usize..within as usize + n]);
        }
        self.pos += n as u64;
        Ok(n)
    }
}

/// The frames of a range, each with the part of it inside the range. The file's stamp is
/// checked again before the last part is handed out, so a range read while the file was
/// changed ends in an error instead of its last bytes. A frame handed out is not kept here
/// (the cache may keep it): what the caller holds of it is all it holds. A frame of raw
/// blocks is handed out as the part of it in the range, read from the file into a buffer of
/// its own; the cache keeps it only when the range covers it whole and the cache has room free
/// ([`ArchiveIndex::with_frame_cache`]).
pub struct FrameSlices {
    file: SeekableFile,
    pos: u64,
    end: u64,
    range: ArchiveRange,
}

impl FrameSlices {
    /// The most bytes the next call of `next` hands out in one buffer, known before it reads
    /// anything (so a server can reserve the memory first): the decompressed size of its frame,
    /// or, for a frame already known to be raw blocks, the part of it in the range, which is
    /// all that is read of it; `None` when nothing is left.
    pub fn next_frame_len(&self) -> Option<u32> {
        (self.pos < self.end).then(|| {
            let Some((idx, start, f)) = self
                .file
                .frame_index(self.pos)
                .ok()
                .and_then(|(idx, start)| Some((idx, start, self.file.table().frames.get(idx)?)))
            else {
                // Past the table, `next` fails; a frame is never larger than this.
                return MAX_FRAME_SIZE;
            };
            if self.file.known_raw(idx) {
                let to = self.end.min(start + u64::from(f.decompressed));
                (to - self.pos) as u32
            } else {
                f.decompressed
            }
        })
    }
}

impl Iterator for FrameSlices {
    type Item = io::Result<(Arc<FrameBuf>, std::ops::Range<usize>)>;

    fn next(&mut self) -> Option<Self::Item> {
        if self.pos >= self.end {
            return None;
        }
        let (file, pos, end) = (&mut self.file, self.pos, self.end);
        let frame = file.frame_index(pos).and_then(|(idx, start)| {
            if file.is_raw(idx)? {
                let frame_end = start + u64::from(file.table().frames[idx].decompressed);
                if let Some(cache) = self.range.cache.as_ref().filter(|_| pos == start && end >= frame_end) {
                    let size = frame_end - start;
                    let whole = || file.read_raw_part(idx, 0, size as usize).map(Arc::new);
                    return Ok((start, cache.get_in_free_room(idx, size, whole)?));
                }
                // Only the part in the range, read from the file: it starts at `pos`.
                let part = file.read_raw_part(idx, pos - start, (end.min(frame_end) - pos) as usize)?;
                return Ok((pos, Arc::new(part)));
            }
            let frame = match &self.range.cache {
                Some(cache) => cache.get(idx, Kept::Always, || file.decompress(idx).map(Arc::new))?,
                None => Arc::new(file.decompress(idx)?),
            };
            Ok((start, frame))
        });
        let item = frame.map_err(io::Error::other).and_then(|(start, frame)| {
            let from = (self.pos - start) as usize;
            let to = frame.len().min((self.end - start) as usize);
            self.pos = start + to as u64;
            if self.pos >= self.end {
                self.range.check_stamp(&self.file)?;
            }
            Ok((frame, from..to))
        });
        if item.is_err() {
            self.pos = self.end;
        }
        Some(item)
    }
}

/// Decompressed frames shared by every response of a server, so a layer pulled by many
/// nodes (at once or one after another) is decompressed once while it stays cached. Frames
/// past the budget go least recently used first, frames of raw blocks before any other; two
/// readers of a frame that is not cached wait for one decompression.
struct FrameCache {
    budget: u64,
    state: Mutex<CacheState>,
}

#[derive(Default)]
struct CacheState {
    used: u64,
    clock: u64,
    /// Each frame with when it was last used and whether it is raw blocks read from the file.
    frames: HashMap<usize, (u64, Arc<FrameBuf>, Kept)>,
    loading: HashMap<usize, Arc<Mutex<()>>>,
}

impl CacheState {
    fn hit(&mut self, idx: usize) -> Option<Arc<FrameBuf>> {
        self.clock += 1;
        let clock = self.clock;
        self.frames.get_mut(&idx).map(|(used, frame, _)| {
            *used = clock;
            Arc::clone(frame)
        })
    }
}

impl std::fmt::Debug for FrameCache {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "FrameCache({} bytes)", self.budget)
    }
}

impl FrameCache {
    fn new(budget: u64) -> FrameCache {
        FrameCache { budget, state: Mutex::default() }
    }

    /// The cache's state. A panic elsewhere while it was held (a load panics without it)
    /// leaves it consistent, so the lock is taken back rather than failing every later read.
    fn state(&self) -> MutexGuard<'_, CacheState> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Raw frame `idx` of `size` bytes, from the cache, or from `load` and kept if the cache
    /// has that much room free. Readers of a frame that will not be kept each read it, as they
    /// would with no cache, instead of waiting in turn for one another's reads.
    fn get_in_free_room(
        &self,
        idx: usize,
        size: u64,
        load: impl FnOnce() -> Result<Arc<FrameBuf>>,
    ) -> Result<Arc<FrameBuf>> {
        {
            let mut state = self.state();
            if let Some(frame) = state.hit(idx) {
                return Ok(frame);
            }
            if state.used + size > self.budget {
                drop(state);
                return load();
            }
        }
        self.get(idx, Kept::InFreeRoom, load)
    }

    /// Frame `idx`, from the cache or from `load`, then kept as `kept` says.
    fn get(&self, idx: usize, kept: Kept, load: impl FnOnce() -> Result<Arc<FrameBuf>>) -> Result<Arc<FrameBuf>> {
        let loading = {
            let mut state = self.state();
            if let Some(frame) = state.hit(idx) {
                return Ok(frame);
            }
            Arc::clone(state.loading.entry(idx).or_default())
        };
        // Poisoned when a load panicked: the waiter loads the frame itself.
        let _one_at_a_time = loading.lock().unwrap_or_else(PoisonError::into_inner);
        if let Some(frame) = self.state().hit(idx) {
            return Ok(frame);
        }
        let _done = Loading { cache: self, idx, lock: &loading };
        let frame = load()?;
        let mut state = self.state();
        let size = frame.len() as u64;
        let room = match kept {
            Kept::Always => size <= self.budget,
            Kept::InFreeRoom => state.used + size <= self.budget,
        };
        if room {
            while state.used + size > self.budget {
                let victim = state
                    .frames
                    .iter()
                    .min_by_key(|(_, (used, _, kept))| (*kept == Kept::Always, *used))
                    .map(|(i, _)| *i);
                let Some(victim) = victim else { break };
                let (_, evicted, _) = state.frames.remove(&victim).expect("just found");
                state.used -= evicted.len() as u64;
            }
            state.used += size;
            let clock = state.clock;
            // Two loads of a frame can both end here (a reader that came after a failed load
            // loads with a lock of its own): the one replaced is no longer counted.
            if let Some((_, replaced, _)) = state.frames.insert(idx, (clock, Arc::clone(&frame), kept)) {
                state.used -= replaced.len() as u64;
            }
        }
        Ok(frame)
    }
}

/// How a frame loaded into the cache is kept there.
#[derive(Clone, Copy, PartialEq, Eq)]
enum Kept {
    /// Decompressed: kept, making room for it (past the least recently used frames).
    Always,
    /// Raw blocks read from the file: kept only in room the cache has free, and the first
    /// to make room for another frame, as reading it again costs no decompression.
    InFreeRoom,
}

/// A frame being loaded into the cache: however the load ends (done, failed or panicked), it
/// no longer stands in `loading`, so later readers do not wait on a load that is over.
struct Loading<'a> {
    cache: &'a FrameCache,
    idx: usize,
    lock: &'a Arc<Mutex<()>>,
}

impl Drop for Loading<'_> {
    fn drop(&mut self) {
        let mut state = self.cache.state();
        // A reader that came after a failed load may have put a lock of its own there.
        if state.loading.get(&self.idx).is_some_and(|l| Arc::ptr_eq(l, self.lock)) {
            state.loading.remove(&self.idx);
        }
    }
}

#[cfg(test)]
mod tests {
    use std::sync::atomic::{AtomicUsize, Ordering};

    use std::fs::File;

    use super::*;

    fn frame(byte: u8) -> Result<Arc<FrameBuf>> {
        let spares = Arc::<crate::seekable::SpareBuffers>::default();
        Ok(Arc::new(spares.frame(vec![byte; 100])))
    }

    #[test]
    fn concurrent_readers_of_a_frame_wait_for_one_decompression() {
        let cache = Arc::new(FrameCache::new(1000));
        let loads = Arc::new(AtomicUsize::new(0));
        let readers: Vec<_> = (0..8)
            .map(|_| {
                let (cache, loads) = (Arc::clone(&cache), Arc::clone(&loads));
                std::thread::spawn(move || {
                    cache
                        .get(7, Kept::Always, || {
                            loads.fetch_add(1, Ordering::SeqCst);
                            std::thread::sleep(std::time::Duration::from_millis(50));
                            frame(7)
                        })
                        .unwrap()
                })
            })
            .collect();
        for r in readers {
            assert_eq!(r.join().unwrap()[0], 7);
        }
        assert_eq!(loads.load(Ordering::SeqCst), 1);
    }

    #[test]
    fn past_its_budget_the_least_recently_used_frame_goes() {
        let cache = FrameCache::new(300);
        let loads = AtomicUsize::new(0);
        let get = |idx: usize| {
            cache
                .get(idx, Kept::Always, || {
                    loads.fetch_add(1, Ordering::SeqCst);
                    frame(idx as u8)
                })
                .unwrap()
        };
        for idx in [0, 1, 2, 0, 3] {
            get(idx);
        }
        // 3 evicted 1 (0 was used after it); 0, 2 and 3 are still there.
        assert_eq!(loads.load(Ordering::SeqCst), 4);
        for idx in [0, 2, 3] {
            get(idx);
        }
        assert_eq!(loads.load(Ordering::SeqCst), 4);
        get(1);
        assert_eq!(loads.load(Ordering::SeqCst), 5);
        assert!(cache.state.lock().unwrap().used <= 300);
    }

    /// A bundle whose `oci/index.json` is `index`, with its BOM.
    fn bundle_with_layout_index(dir: &Path, index: &[u8]) -> (PathBuf, Bom) {
        use std::collections::BTreeMap;

        use crate::{BOM_SCHEMA, Compression, Content, WriteOptions, rfc3339, write_bundle};

        let path: genesis_types::BundlePath = LAYOUT_INDEX_PATH.parse().unwrap();
        let bom = Bom {
            schema: BOM_SCHEMA.into(),
            name: "t".into(),
            version: "1".into(),
            created: rfc3339(0),
            expires: None,
            files: vec![FileEntry { path: path.clone(), size: index.len() as u64, sha256: crate::sha256(index) }],
            images: vec![],
            charts: vec![],
            manifests: vec![],
            sboms: vec![],
            scan: None,
            requires: None,
        };
        let archive = dir.join("t.tar.zst");
        let contents = BTreeMap::from([(path, Content::Bytes(index.to_vec()))]);
        let options = WriteOptions { compression: Compression::Zstd, mtime: 0, progress: Default::default() };
        write_bundle(File::create(&archive).unwrap(), &bom, &bom.to_bytes(), b"sig", None, &contents, options).unwrap();
        (archive, bom)
    }

    #[test]
    fn the_layout_index_is_read_against_the_bom_the_index_was_opened_with() {
        let dir = tempfile::tempdir().unwrap();
        let layout = br#"{"schemaVersion":2,"manifests":[]}"#;
        let (archive, bom) = bundle_with_layout_index(dir.path(), layout);
        let limits = Limits::default();
        let read = open_index(&archive, &bom, &limits).unwrap().layout_index().unwrap();
        assert_eq!(read, Some(serde_json::from_slice::<ImageIndex>(layout).unwrap()));

        // Opened against a BOM that lists no layout index, there is none to read.
        let without = Bom { files: vec![], ..bom.clone() };
        assert_eq!(open_index(&archive, &without, &limits).unwrap().layout_index().unwrap(), None);

        // Opened against a BOM with another digest for it, the bytes in the archive are refused.
        let mut other = bom.clone();
        other.files[0].sha256 = crate::sha256(b"another index");
        let refused = open_index(&archive, &other, &limits).unwrap().layout_index().unwrap_err();
        assert!(matches!(refused, BundleError::ChangedSinceVerification { .. }), "{refused:?}");
    }

    #[test]
    fn a_load_that_panicked_does_not_break_later_reads_of_its_frame() {
        let cache = FrameCache::new(300);
        let panicked = std::panic::catch_unwind(std::panic::AssertUnwindSafe(|| {
            cache.get(0, Kept::Always, || panic!("a decompression panicked"))
        }));
        assert!(panicked.is_err());
        assert!(cache.state().loading.is_empty(), "the frame no longer stands as loading");
        assert_eq!(cache.get(0, Kept::Always, || frame(1)).unwrap()[0], 1, "a later read loads the frame");
        assert_eq!(cache.get(0, Kept::Always, || frame(2)).unwrap()[0], 1, "and the cache keeps it");
        assert!(cache.state().loading.is_empty());
    }

    #[test]
    fn a_failed_decompression_is_not_cached() {
        let cache = FrameCache::new(300);
        let failed = cache.get(0, Kept::Always, || Err(BundleError::Corrupt { detail: "bad frame".into() }));
        assert!(failed.is_err());
        assert_eq!(cache.get(0, Kept::Always, || frame(1)).unwrap()[0], 1);
    }

    #[test]
    fn raw_frames_take_only_free_room_and_make_room_first() {
        // Room for three frames of 100 bytes.
        let cache = FrameCache::new(300);
        let get = |idx: usize, kept: Kept, byte: u8| match kept {
            Kept::Always => cache.get(idx, kept, || frame(byte)).unwrap()[0],
            Kept::InFreeRoom => cache.get_in_free_room(idx, 100, || frame(byte)).unwrap()[0],
        };
        get(0, Kept::Always, 10);
        get(1, Kept::InFreeRoom, 11);
        get(2, Kept::InFreeRoom, 12);
        assert_eq!(get(1, Kept::InFreeRoom, 99), 11, "a raw frame is kept in free room");
        // A decompressed frame makes room past the raw frames, though frame 0 is older.
        get(3, Kept::Always, 13);
        assert_eq!(get(0, Kept::Always, 99), 10, "the decompressed frame stayed");
        assert_eq!(get(3, Kept::Always, 99), 13);
        assert_eq!(get(1, Kept::InFreeRoom, 99), 11, "the raw frame used last stayed");
        assert_eq!(get(2, Kept::InFreeRoom, 22), 22, "the other raw frame went");
        // The cache is full again (0, 3 and 1): a raw frame takes no room from them.
        get(4, Kept::InFreeRoom, 14);
        assert_eq!(get(4, Kept::InFreeRoom, 24), 24, "no room was made for a raw frame");
        assert_eq!(cache.state().frames.len(), 3);
    }
}
