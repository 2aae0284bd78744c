//! Reading a bundle: detect the compression, decompress (in parallel for seekable zstd),
//! walk the tar stream strictly, and hash the archive file on the way.

use std::io::{self, BufRead as _, BufReader, Read, Write};
use std::path::Path;

use flate2::read::GzDecoder;
use genesis_types::{BundlePath, Digest};

use crate::digest_io::{DigestAdapter, FileDigest};
use crate::parts::SequentialReader;
use crate::seekable::{ParallelFrameReader, SeekTable};
use crate::stamp::FileStamp;
use crate::tar::{self, BLOCK, EntryKind, Header};
use crate::{
    ArchiveFile, BOM_PATH, BundleError, Limits, PROVENANCE_PATH, ProgressCounter, Result, SIGNATURE_PATH,
    SIGSTORE_PROVENANCE_PATH, SIGSTORE_SIGNATURE_PATH,
};

/// How the tar stream of a bundle is compressed.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum Compression {
    /// Seekable zstd (the default).
    Zstd,
    /// gzip, for content guards that only inspect gzip.
    Gzip,
    /// A plain tar.
    None,
}

impl Compression {
    /// The name used in specs and reports: `zstd`, `gzip` or `none`.
    pub fn name(self) -> &'static str {
        match self {
            Compression::Zstd => "zstd",
            Compression::Gzip => "gzip",
            Compression::None => "none",
        }
    }

    /// The file name extension, including the leading dot.
    pub fn extension(self) -> &'static str {
        match self {
            Compression::Zstd => ".tar.zst",
            Compression::Gzip => ".tar.gz",
            Compression::None => ".tar",
        }
    }

    fn sniff(magic: &[u8]) -> Compression {
        match magic {
            [0x28, 0xb5, 0x2f, 0xfd, ..] => Compression::Zstd,
            [0x1f, 0x8b, ..] => Compression::Gzip,
            _ => Compression::None,
        }
    }
}

/// Maps an I/O error to a [`BundleError`], unwrapping ours when a reader carried one and
/// calling an unexpected end of file what it is: truncation.
pub(crate) fn from_io(e: io::Error, action: &'static str) -> BundleError {
    if e.kind() == io::ErrorKind::UnexpectedEof {
        return BundleError::Truncated { detail: format!("unexpected end of data while {action}") };
    }
    if e.get_ref().is_some_and(|inner| inner.is::<BundleError>()) {
        let inner = e.into_inner().expect("checked above");
        return *inner.downcast::<BundleError>().expect("checked above");
    }
    BundleError::Io { action, path: "archive".into(), source: e }
}

enum Source {
    Zstd(ParallelFrameReader),
    ZstdHead(Box<zstd::stream::read::Decoder<'static, BufReader<SequentialReader>>>),
    Gzip(Box<GzDecoder<BufReader<SequentialReader>>>),
    Plain(Box<BufReader<SequentialReader>>),
}

impl Source {
    fn compressed_so_far(&self) -> Option<u64> {
        match self {
            Source::Gzip(g) => Some(g.get_ref().get_ref().passed()),
            _ => None,
        }
    }
}

impl Read for Source {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        match self {
            Source::Zstd(r) => r.read(buf),
            Source::ZstdHead(r) => r.read(buf),
            // flate2 calls a stream that is not gzip invalid input or data: a corrupt
            // archive, not a failure to read the file.
            Source::Gzip(r) => r.read(buf).map_err(|e| match e.kind() {
                io::ErrorKind::InvalidData | io::ErrorKind::InvalidInput => {
                    io::Error::other(BundleError::Corrupt { detail: format!("gzip: {e}") })
                }
                _ => e,
            }),
            Source::Plain(r) => r.read(buf),
        }
    }
}

/// A strict, streaming reader of a bundle archive.
pub struct ArchiveReader {
    source: Source,
    limits: Limits,
    compression: Compression,
    decompressed: u64,
    entries: u64,
    progress: ProgressCounter,
    /// A header read ahead by [`ArchiveReader::read_head`] that was not part of the head.
    peeked: Option<Header>,
    /// The archive, kept open to stamp it again at the end of the pass.
    file: ArchiveFile,
    stamp: FileStamp,
}

impl ArchiveReader {
    /// Opens a bundle for a full pass: seekable zstd is decompressed on every core.
    pub fn open(path: &Path, limits: &Limits) -> Result<Self> {
        Self::open_with(path, limits, false)
    }

    /// Opens a bundle to read only its first entries (the BOM and its signature), without
    /// decompressing ahead.
    pub fn open_head(path: &Path, limits: &Limits) -> Result<Self> {
        Self::open_with(path, limits, true)
    }

    fn open_with(path: &Path, limits: &Limits, head_only: bool) -> Result<Self> {
        ArchiveReader::over(ArchiveFile::open(path)?, limits, head_only)
    }

    /// Opens an archive already open (a file, or the parts of a split one): a full pass, or
    /// with `head_only` a read of its first entries.
    pub fn over(file: ArchiveFile, limits: &Limits, head_only: bool) -> Result<Self> {
        let path = file.path().to_owned();
        let stamp = file.stamp().map_err(BundleError::io("reading metadata of", &path))?;
        let mut magic = [0u8; 4];
        let n = file.read_prefix(&mut magic).map_err(BundleError::io("reading", &path))?;
        let compression = Compression::sniff(&magic[..n]);
        let sequential = || file.sequential().map_err(BundleError::io("opening", &path));
        let source = match compression {
            Compression::Zstd => {
                let table = SeekTable::read_from(&file, limits)?;
                if head_only {
                    let d = zstd::stream::read::Decoder::new(sequential()?).map_err(|e| from_io(e, "starting zstd"))?;
                    Source::ZstdHead(Box::new(d))
                } else {
                    Source::Zstd(ParallelFrameReader::new(&file, table)?)
                }
            }
            Compression::Gzip => Source::Gzip(Box::new(GzDecoder::new(BufReader::new(sequential()?)))),
            Compression::None => Source::Plain(Box::new(BufReader::new(sequential()?))),
        };
        Ok(ArchiveReader {
            source,
            limits: limits.clone(),
            compression,
            decompressed: 0,
            entries: 0,
            progress: ProgressCounter::default(),
            peeked: None,
            file,
            stamp,
        })
    }

    /// The archive: one file, or the parts of a split one.
    pub fn archive_file(&self) -> &ArchiveFile {
        &self.file
    }

    /// The archive file's stamp when it was opened.
    pub fn stamp(&self) -> FileStamp {
        self.stamp
    }

    /// The count of payload entry bytes read so far (the head's are not counted), shared
    /// with whoever displays progress.
    pub fn progress(&self) -> ProgressCounter {
        self.progress.clone()
    }

    /// The compression found.
    pub fn compression(&self) -> Compression {
        self.compression
    }

    /// Reads the next header, validating its type and path. `None` at the end marker,
    /// after checking that nothing but zero padding follows it.
    pub fn next_header(&mut self) -> Result<Option<Header>> {
        if let Some(h) = self.peeked.take() {
            return Ok(Some(h));
        }
        let mut block = [0u8; BLOCK];
        if !self.read_block(&mut block)? {
            return Err(BundleError::Truncated { detail: "no end-of-archive marker".into() });
        }
        let Some(h) = tar::parse_header(&block)? else {
            if !self.read_block(&mut block)? || block.iter().any(|&b| b != 0) {
                return Err(BundleError::Truncated { detail: "incomplete end-of-archive marker".into() });
            }
            self.expect_only_zeros()?;
            return Ok(None);
        };
        self.entries += 1;
        if self.entries > self.limits.max_entries {
            return Err(BundleError::LimitExceeded {
                what: "entry count",
                actual: self.entries,
                limit: self.limits.max_entries,
            });
        }
        let unsafe_path = |reason: String| BundleError::UnsafePath { path: h.path.clone(), reason };
        let checked = match h.kind {
            EntryKind::File => h.path.parse::<BundlePath>().map(drop),
            EntryKind::Dir => match h.path.strip_suffix('/') {
                Some(p) => p.parse::<BundlePath>().map(drop),
                None => return Err(unsafe_path("directory entry without trailing '/'".into())),
            },
        };
        checked.map_err(|e| unsafe_path(e.to_string()))?;
        Ok(Some(h))
    }

    fn read_block(&mut self, block: &mut [u8; BLOCK]) -> Result<bool> {
        let got = tar::read_block(&mut self.source, block)?;
        if got {
            self.account(BLOCK as u64)?;
        }
        Ok(got)
    }

    fn account(&mut self, n: u64) -> Result<()> {
        self.decompressed += n;
        if self.decompressed > self.limits.max_total_size {
            return Err(BundleError::LimitExceeded {
                what: "decompressed archive size",
                actual: self.decompressed,
                limit: self.limits.max_total_size,
            });
        }
        if let Some(c) = self.source.compressed_so_far()
            && !self.limits.ratio_ok(c, self.decompressed)
        {
            return Err(BundleError::LimitExceeded {
                what: "decompression ratio",
                actual: self.decompressed / c.max(1),
                limit: self.limits.max_ratio,
            });
        }
        Ok(())
    }

    fn expect_only_zeros(&mut self) -> Result<()> {
        let mut buf = vec![0u8; 64 << 10];
        let mut extra = 0u64;
        loop {
            let n = self.source.read(&mut buf).map_err(|e| from_io(e, "reading past the end marker"))?;
            if n == 0 {
                return Ok(());
            }
            self.account(n as u64)?;
            if buf[..n].iter().any(|&b| b != 0) {
                extra += n as u64;
                return Err(BundleError::TrailingData { bytes: extra });
            }
        }
    }

    /// Streams the data of the current entry (of `size` bytes) into `sink`, returning its
    /// SHA-256, then skips the block padding.
    pub fn copy_entry(&mut self, size: u64, sink: &mut dyn io::Write) -> Result<Digest> {
        self.copy_data(size, sink, true)
    }

    /// [`copy_entry`](Self::copy_entry), adding the bytes to [`progress`](Self::progress)
    /// when `counted`: the head's entries are not, as the payload's total leaves them out.
    fn copy_data(&mut self, size: u64, sink: &mut dyn io::Write, counted: bool) -> Result<Digest> {
        let mut sink = DigestAdapter::new(sink);
        let mut buf = vec![0u8; (256 << 10).min(size.max(1)) as usize];
        let mut left = size;
        while left > 0 {
            let want = buf.len().min(usize::try_from(left).unwrap_or(usize::MAX));
            let n = self.source.read(&mut buf[..want]).map_err(|e| from_io(e, "reading an entry"))?;
            if n == 0 {
                return Err(BundleError::Truncated { detail: "stream ends inside an entry".into() });
            }
            self.account(n as u64)?;
            if counted {
                self.progress.add(n as u64);
            }
            sink.write_all(&buf[..n]).map_err(|e| BundleError::Io {
                action: "writing extracted data",
                path: "output".into(),
                source: e,
            })?;
            left -= n as u64;
        }
        let mut pad = [0u8; BLOCK];
        let p = tar::padding(size);
        self.source.read_exact(&mut pad[..p]).map_err(|e| from_io(e, "reading entry padding"))?;
        self.account(p as u64)?;
        Ok(sink.digest().digest())
    }

    /// Reads a small entry whole (a head entry, so not counted in [`progress`](Self::progress)),
    /// refusing it above `max` bytes before reading.
    pub fn read_small(&mut self, h: &Header, max: u64, what: &'static str) -> Result<Vec<u8>> {
        if h.size > max {
            return Err(BundleError::LimitExceeded { what, actual: h.size, limit: max });
        }
        let mut out = Vec::with_capacity(h.size as usize);
        self.copy_data(h.size, &mut out, false)?;
        Ok(out)
    }

    /// Reads the head of a bundle: `bom.json` then its signature, `bom.json.sig` or
    /// `bom.sigstore.json` (both mandatory; the name sets the head's [`HeadForm`]), then the
    /// provenance when the next entry is that form's [`HeadForm::provenance_path`]. The other
    /// form's provenance there is refused as what it is: a head mixing the two forms, which
    /// no builder writes (the payload's check would call it a duplicate of a head entry).
    pub fn read_head(&mut self) -> Result<Head> {
        let bom = self.expect_file(&[BOM_PATH], "first")?;
        let bom_bytes = self.read_small(&bom, self.limits.max_bom_size, "bom.json size")?;
        let sig = self.expect_file(&HeadForm::ALL.map(HeadForm::signature_path), "second")?;
        let form = HeadForm::ALL.into_iter().find(|f| f.signature_path() == sig.path).expect("one of their names");
        let signature = self.read_small(&sig, self.limits.max_signature_size, "signature size")?;
        let provenance = match self.next_header()? {
            Some(h) if h.path == form.provenance_path() && h.kind == EntryKind::File => {
                Some(self.read_small(&h, self.limits.max_bom_size, "provenance size")?)
            }
            Some(h) if HeadForm::ALL.iter().any(|f| *f != form && f.provenance_path() == h.path) => {
                return Err(BundleError::NotSigned {
                    detail: format!(
                        "{} follows {}: it is the provenance of the other head form ({} goes with {})",
                        h.path,
                        sig.path,
                        sig.path,
                        form.provenance_path()
                    ),
                });
            }
            other => {
                self.peeked = other;
                None
            }
        };
        Ok(Head { bom: bom_bytes, signature, provenance, form })
    }

    /// The next entry, which must be a file with one of `names`.
    fn expect_file(&mut self, names: &[&str], position: &str) -> Result<Header> {
        let expected = names.join(" or ");
        match self.next_header()? {
            Some(h) if names.contains(&h.path.as_str()) && h.kind == EntryKind::File => Ok(h),
            Some(h) => Err(BundleError::NotSigned {
                detail: format!("the {position} entry is {:?}, expected {expected}", h.path),
            }),
            None => Err(BundleError::NotSigned { detail: format!("the archive ends before {expected}") }),
        }
    }

    /// Ends the pass: returns the SHA-256 and length of the archive file, after checking
    /// nothing follows the compressed stream.
    pub fn finish(self) -> Result<FileDigest> {
        let digest = match self.source {
            Source::Zstd(r) => r.finish()?,
            Source::ZstdHead(_) => {
                return Err(BundleError::Corrupt { detail: "head-only reader cannot hash the file".into() });
            }
            Source::Gzip(g) => {
                // What the decoder above left unread follows the gzip stream.
                let (unread, reader) = drain(g.into_inner()).map_err(|e| from_io(e, "reading the archive"))?;
                if unread > 0 {
                    return Err(BundleError::TrailingData { bytes: unread });
                }
                reader.finish().map_err(|e| from_io(e, "reading the archive"))?
            }
            Source::Plain(buffered) => {
                let (_, reader) = drain(*buffered).map_err(|e| from_io(e, "reading the archive"))?;
                reader.finish().map_err(|e| from_io(e, "reading the archive"))?
            }
        };
        if self.file.stamp().ok() != Some(self.stamp) {
            return Err(BundleError::Corrupt { detail: "the archive file changed while it was read".into() });
        }
        Ok(digest)
    }
}

/// Reads what is left of a buffered archive to its end: how many bytes that was, and the
/// reader under the buffer.
fn drain(mut buffered: BufReader<SequentialReader>) -> io::Result<(u64, SequentialReader)> {
    let mut unread = 0u64;
    loop {
        let n = buffered.fill_buf()?.len();
        if n == 0 {
            return Ok((unread, buffered.into_inner()));
        }
        buffered.consume(n);
        unread += n as u64;
    }
}

/// The head of a bundle, its first two or three entries, as raw bytes: nothing is parsed
/// before the signature is checked.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Head {
    /// The exact bytes of `bom.json`.
    pub bom: Vec<u8>,
    /// The exact bytes of the BOM's signature, in the form `form` says.
    pub signature: Vec<u8>,
    /// The exact bytes of the provenance, in the form `form` says, when the bundle carries
    /// one.
    pub provenance: Option<Vec<u8>>,
    /// How the signature and the provenance are carried, which names their entries.
    pub form: HeadForm,
}

impl Head {
    /// The head's entries, by their names in the archive, in the archive's order.
    pub fn entries(&self) -> Vec<(&'static str, &[u8])> {
        let mut entries =
            vec![(BOM_PATH, self.bom.as_slice()), (self.form.signature_path(), self.signature.as_slice())];
        entries.extend(self.provenance.as_deref().map(|p| (self.form.provenance_path(), p)));
        entries
    }
}

/// How a head carries the BOM's signature and the provenance; the second entry's name says
/// which (DESIGN.md: `bom.json.sig | bom.sigstore.json`).
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum HeadForm {
    /// Signed with a key: `bom.json.sig` (base64 ASN.1 DER ECDSA over the BOM) and
    /// `provenance/bundle.intoto.json` (a DSSE envelope signed with the same key).
    #[default]
    Cosign,
    /// Signed by a release pipeline's sigstore tooling, keyless as a rule: `bom.sigstore.json`
    /// (the sigstore bundle over the BOM) and `provenance/bundle.sigstore.json` (the DSSE
    /// sigstore bundle of the provenance statement), each carried verbatim.
    Sigstore,
}

impl HeadForm {
    /// Both forms, the one of a key first.
    pub const ALL: [HeadForm; 2] = [HeadForm::Cosign, HeadForm::Sigstore];

    /// The name of the BOM's signature in the archive: the second entry.
    pub fn signature_path(self) -> &'static str {
        match self {
            HeadForm::Cosign => SIGNATURE_PATH,
            HeadForm::Sigstore => SIGSTORE_SIGNATURE_PATH,
        }
    }

    /// The name of the provenance in the archive: the third entry, when present.
    pub fn provenance_path(self) -> &'static str {
        match self {
            HeadForm::Cosign => PROVENANCE_PATH,
            HeadForm::Sigstore => SIGSTORE_PROVENANCE_PATH,
        }
    }
}
