//! Split bundles (decision 0042): an archive carried as parts, `NAME.tar.zst.part-000` …, with
//! a parts manifest `NAME.tar.zst.parts.json` giving each part's size and SHA-256. Readers take
//! the parts in place as one file ([`ArchiveFile`]): a positioned read goes to the part that
//! holds its offset, and the one sequential pass of a verification ([`SequentialReader`])
//! checks each part's hash as its last byte passes. Nothing is joined or copied first.

use std::fs::File;
use std::io::{self, Read};
use std::os::unix::fs::FileExt as _;
use std::path::{Path, PathBuf};
use std::sync::Arc;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering};

use genesis_types::Algorithm;
use genesis_types::Digest;
use sha2::{Digest as _, Sha256};

use crate::digest_io::{FileDigest, open_regular};
use crate::stamp::{FileStamp, StampItem};
use crate::{BundleError, Result};

/// The `schema` of a parts manifest.
pub const PARTS_SCHEMA: &str = "genesis.dev/parts/v1";
/// What follows the archive's name in its parts manifest's name.
pub const PARTS_MANIFEST_SUFFIX: &str = ".parts.json";
/// The smallest part size a split accepts: below it a bundle becomes thousands of files.
pub const MIN_PART_SIZE: u64 = 1 << 20;
/// Most parts one manifest may list: every part is held open while the archive is read, and a
/// FAT32 folder holds about 16,000 such names (a 100 GiB archive in 10 MiB parts is 10,240).
pub const MAX_PARTS: usize = 10_000;
/// Longest archive name a manifest may give (its parts add `.part-NNNN`).
const MAX_NAME: usize = 200;
/// Open files kept for everything else a reader does besides holding its parts open.
const RESERVED_FILES: u64 = 64;
/// Largest parts manifest read: [`MAX_PARTS`] entries of at most about 400 bytes.
const MAX_MANIFEST_SIZE: u64 = 16 << 20;

/// The parts manifest: the whole archive, the BOM it carries, and its parts in order.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartsManifest {
    /// Always [`PARTS_SCHEMA`].
    pub schema: String,
    /// The archive the parts make when concatenated.
    pub archive: WholeArchive,
    /// SHA-256 of the archive's `bom.json`: which release the parts belong to.
    pub bom: Digest,
    /// The parts, in order.
    pub parts: Vec<PartEntry>,
}

/// The archive a parts manifest describes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct WholeArchive {
    /// Its file name (no directory), e.g. `platform-1.2.0.tar.zst`.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// SHA-256 of all its bytes.
    pub sha256: Digest,
}

/// One part.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct PartEntry {
    /// Its file name: [`part_name`] of the archive's name and its index.
    pub name: String,
    /// Its size in bytes.
    pub size: u64,
    /// SHA-256 of its bytes.
    pub sha256: Digest,
}

/// The name of part `index` of `count` of the archive named `archive`: three digits, more when
/// there are more than a thousand parts, so that the names sort in order.
pub fn part_name(archive: &str, index: usize, count: usize) -> String {
    let width = count.saturating_sub(1).to_string().len().max(3);
    format!("{archive}.part-{index:0width$}")
}

/// Where the parts manifest of `archive` lies: beside it, named after it.
pub fn manifest_path(archive: &Path) -> PathBuf {
    crate::path_with_suffix(archive, PARTS_MANIFEST_SUFFIX)
}

impl PartsManifest {
    /// The manifest as written: pretty JSON, fields in a fixed order, one trailing newline.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("a manifest serialises");
        out.push(b'\n');
        out
    }

    /// Parses and checks a manifest read from `path` (named in errors): its schema, that each
    /// part is named after the archive and its index (so no manifest names a file outside its
    /// folder), that no part is empty, and that the sizes add up to the archive's.
    pub fn parse(bytes: &[u8], path: &Path) -> Result<PartsManifest> {
        let refuse = |detail: String| BundleError::PartsManifest { path: path.to_owned(), detail };
        let manifest: PartsManifest =
            serde_json::from_slice(bytes).map_err(|e| refuse(format!("not a parts manifest ({e})")))?;
        if manifest.schema != PARTS_SCHEMA {
            return Err(refuse(format!("schema {:?}, this tool reads {PARTS_SCHEMA:?}", manifest.schema)));
        }
        let name = &manifest.archive.name;
        let portable = |b: u8| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-');
        if name.is_empty() || name.len() > MAX_NAME || name.starts_with('.') || !name.bytes().all(portable) {
            return Err(refuse(format!(
                "archive name {:?} is not a file name of at most {MAX_NAME} letters, digits and . _ + -",
                crate::escape_controls(name)
            )));
        }
        for digest in std::iter::once(&manifest.archive.sha256)
            .chain([&manifest.bom])
            .chain(manifest.parts.iter().map(|p| &p.sha256))
        {
            if digest.algorithm() != Algorithm::Sha256 {
                return Err(refuse(format!("{digest} is not a SHA-256")));
            }
        }
        let count = manifest.parts.len();
        if count == 0 || count > MAX_PARTS {
            return Err(refuse(format!("lists {count} parts (1 to {MAX_PARTS})")));
        }
        let mut total = 0u64;
        for (i, part) in manifest.parts.iter().enumerate() {
            let expected = part_name(name, i, count);
            if part.name != expected {
                return Err(refuse(format!("part {i} is named {:?}, not {expected:?}", part.name)));
            }
            if part.size == 0 {
                return Err(refuse(format!("part {:?} is empty", part.name)));
            }
            total = total.checked_add(part.size).ok_or_else(|| refuse("part sizes overflow".into()))?;
        }
        if total != manifest.archive.size {
            return Err(refuse(format!(
                "its parts add up to {total} bytes, the archive is {} bytes",
                manifest.archive.size
            )));
        }
        Ok(manifest)
    }

    /// Reads and checks the manifest at `path`.
    pub fn read(path: &Path) -> Result<PartsManifest> {
        PartsManifest::parse(&read_manifest(path)?, path)
    }
}

/// Refuses a manifest that describes an archive of another name than the one it is found
/// under: the sidecars looked for are named after the archive, and a renamed manifest would
/// have them silently missing.
fn check_named_as(archive: &Path, manifest: &PartsManifest) -> Result<()> {
    let found = archive.file_name().and_then(|n| n.to_str()).unwrap_or_default();
    if found == manifest.archive.name {
        return Ok(());
    }
    Err(BundleError::PartsManifest {
        path: manifest_path(archive),
        detail: format!(
            "describes the parts of {}, not of {found}: give it its own name, {}{PARTS_MANIFEST_SUFFIX}, beside them",
            manifest.archive.name, manifest.archive.name
        ),
    })
}

/// Makes room for `parts` open files (every part is held open while the archive is read),
/// raising this process's soft limit towards its hard one if need be; refuses, saying what to
/// do, when even that is too few.
fn open_files_for(parts: usize) -> Result<()> {
    use rustix::process::{Resource, Rlimit, getrlimit, setrlimit};
    let needed = parts as u64 + RESERVED_FILES;
    let Rlimit { current, maximum } = getrlimit(Resource::Nofile);
    if current.is_none_or(|current| current >= needed) {
        return Ok(());
    }
    let raised = maximum.map_or(needed, |maximum| maximum.min(needed));
    if raised >= needed && setrlimit(Resource::Nofile, Rlimit { current: Some(raised), maximum }).is_ok() {
        return Ok(());
    }
    Err(too_many_open_files(parts, maximum.or(current).unwrap_or_default()))
}

fn too_many_open_files(parts: usize, limit: u64) -> BundleError {
    BundleError::Unusable(format!(
        "{parts} parts are read with {parts} files open, more than this process may open ({limit}): raise `ulimit -n`, \
         or split the bundle again with larger parts"
    ))
}

/// Opens the part at `path`: a regular file of its own there. A symbolic link is refused
/// without being followed (a part carried on a medium could point at any local file, whose size
/// and digest the refusal would then print), and so is a FIFO or a device.
fn open_part(path: &Path) -> Result<File> {
    use std::os::unix::fs::OpenOptionsExt as _;

    use rustix::fs::OFlags;
    let flags = OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::NOFOLLOW;
    let unreadable = |source: io::Error| BundleError::PartUnreadable { path: path.to_owned(), source };
    let file = match std::fs::OpenOptions::new().read(true).custom_flags(flags.bits().cast_signed()).open(path) {
        Ok(file) => file,
        Err(e) if e.raw_os_error() == Some(rustix::io::Errno::LOOP.raw_os_error()) => {
            return Err(unreadable(io::Error::new(
                io::ErrorKind::InvalidInput,
                "a symbolic link where a part belongs, which is not followed: copy the part itself",
            )));
        }
        Err(e) if matches!(e.raw_os_error(), Some(n) if n == rustix::io::Errno::MFILE.raw_os_error() || n == rustix::io::Errno::NFILE.raw_os_error()) =>
        {
            return Err(BundleError::Unusable(format!("opening {}: {e}: raise `ulimit -n`", path.display())));
        }
        Err(e) => return Err(unreadable(e)),
    };
    let kind = file.metadata().map_err(unreadable)?.file_type();
    if !kind.is_file() {
        return Err(unreadable(io::Error::new(io::ErrorKind::InvalidInput, "not a regular file, which a part is")));
    }
    Ok(file)
}

/// The bytes of the manifest at `path`: a regular file of at most 16 MiB.
fn read_manifest(path: &Path) -> Result<Vec<u8>> {
    let file = open_regular(path).map_err(BundleError::io("opening", path))?;
    let mut bytes = Vec::new();
    file.take(MAX_MANIFEST_SIZE + 1).read_to_end(&mut bytes).map_err(BundleError::io("reading", path))?;
    if bytes.len() as u64 > MAX_MANIFEST_SIZE {
        return Err(BundleError::PartsManifest {
            path: path.to_owned(),
            detail: format!("larger than {MAX_MANIFEST_SIZE} bytes"),
        });
    }
    Ok(bytes)
}

/// What a path given as a bundle names: an archive file, or the parts of a split one.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum BundleLocation {
    /// One archive file.
    Single(PathBuf),
    /// A split archive.
    Parts {
        /// Where the archive would be if joined: its sidecars are named after it.
        archive: PathBuf,
        /// Its parts manifest.
        manifest: PathBuf,
    },
}

impl BundleLocation {
    /// The parts manifest, or part-000 (any part), names a split archive; so does the archive's
    /// own name when only its manifest is there. Anything else is one archive file.
    pub fn of(path: &Path) -> BundleLocation {
        let named = BundleLocation::named(path);
        let manifest = manifest_path(path);
        if matches!(named, BundleLocation::Single(_)) && !path.exists() && manifest.exists() {
            return BundleLocation::Parts { archive: path.to_owned(), manifest };
        }
        named
    }

    /// What `path` names by its name alone: the parts manifest or a part name parts, anything
    /// else one archive (for a name in a bucket, where no file system is asked).
    pub fn named(path: &Path) -> BundleLocation {
        let Some(name) = path.file_name().and_then(|n| n.to_str()) else {
            return BundleLocation::Single(path.to_owned());
        };
        if let Some(archive) = name.strip_suffix(PARTS_MANIFEST_SUFFIX).filter(|a| !a.is_empty()) {
            return BundleLocation::Parts { archive: path.with_file_name(archive), manifest: path.to_owned() };
        }
        if let Some((archive, index)) = name.rsplit_once(".part-")
            && !archive.is_empty()
            && index.len() >= 3
            && index.bytes().all(|b| b.is_ascii_digit())
        {
            let archive = path.with_file_name(archive);
            return BundleLocation::Parts { manifest: manifest_path(&archive), archive };
        }
        BundleLocation::Single(path.to_owned())
    }

    /// The archive's path, real or, for parts, where it would be if joined.
    pub fn archive(&self) -> &Path {
        match self {
            BundleLocation::Single(p) => p,
            BundleLocation::Parts { archive, .. } => archive,
        }
    }
}

/// An object read by ranges (an S3 object), supplied by a crate that can reach it: this crate
/// reads no network. Its reads are exact: a short object is an error.
pub trait RemoteObject: Send + Sync + std::fmt::Debug {
    /// Fills `buf` with the bytes from `offset`.
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()>;
    /// Its size when it was found.
    fn len(&self) -> u64;
    /// Whether it is empty.
    fn is_empty(&self) -> bool {
        self.len() == 0
    }
    /// What identifies this version of it (its ETag and size): a later read of another
    /// version is refused by the archive's stamp.
    fn identity(&self) -> Vec<u8>;
}

/// The folder of a remote archive (a bucket and prefix): its neighbours, by name.
pub trait RemoteFolder: Send + Sync + std::fmt::Debug {
    /// The object `name` beside the archive, or `None` when there is none.
    fn object(&self, name: &str) -> io::Result<Option<Arc<dyn RemoteObject>>>;
    /// The objects `names` beside the archive, each or `None`, in their order: one
    /// [`object`](Self::object) after another unless the folder can look them up at once (a
    /// bucket's lookups are round trips: a split bundle's parts are many).
    fn objects(&self, names: &[&str]) -> io::Result<Vec<Option<Arc<dyn RemoteObject>>>> {
        names.iter().map(|name| self.object(name)).collect()
    }
    /// The names of the objects in the sub-folder `name` (one level), sorted.
    fn list(&self, name: &str) -> io::Result<Vec<String>>;
    /// How the folder is shown: `s3://bucket/prefix`.
    fn url(&self) -> String;
}

/// The bytes of an archive, from one file or from the parts of a split one, read with
/// positioned reads only: clones share nothing but the open files.
#[derive(Debug)]
pub struct ArchiveFile {
    pieces: Vec<Piece>,
    /// The archive's path, real or where it would be if joined.
    path: PathBuf,
    manifest: Option<Arc<PartsManifest>>,
    /// The manifest's bytes as read, which its signature is checked over.
    manifest_bytes: Arc<[u8]>,
    /// Whether the trust layer accepted the manifest's signature, so that the parts' hashes
    /// alone prove the archive's bytes (decision 0042). Shared with the clones, since the
    /// verification pass starts reading before the signature is checked.
    manifest_signed: Arc<AtomicBool>,
    /// How many parts, from the first, a pass has read and found as listed: a search for the
    /// damaged one starts after them.
    parts_checked: Arc<AtomicUsize>,
    /// The bucket folder of a remote archive, where its sidecars are read.
    folder: Option<Arc<dyn RemoteFolder>>,
}

/// Where a piece's bytes are.
#[derive(Debug)]
enum Bytes {
    /// Shared by every clone of the archive: reads are positioned, so one descriptor serves all.
    Local(Arc<File>),
    Remote(Arc<dyn RemoteObject>),
}

impl Bytes {
    fn read_exact_at(&self, buf: &mut [u8], offset: u64) -> io::Result<()> {
        match self {
            Bytes::Local(file) => file.read_exact_at(buf, offset),
            Bytes::Remote(object) => object.read_exact_at(buf, offset),
        }
    }

    /// Reads what is there from `offset`, up to `buf`'s length: 0 at the end.
    fn read_at(&self, buf: &mut [u8], offset: u64) -> io::Result<usize> {
        match self {
            Bytes::Local(file) => file.read_at(buf, offset),
            Bytes::Remote(object) => {
                let n = buf.len().min(usize::try_from(object.len().saturating_sub(offset)).unwrap_or(usize::MAX));
                object.read_exact_at(&mut buf[..n], offset)?;
                Ok(n)
            }
        }
    }

    fn try_clone(&self) -> io::Result<Bytes> {
        Ok(match self {
            Bytes::Local(file) => Bytes::Local(Arc::clone(file)),
            Bytes::Remote(object) => Bytes::Remote(Arc::clone(object)),
        })
    }

    fn stamp_item(&self) -> StampItem<'_> {
        match self {
            Bytes::Local(file) => StampItem::File(file),
            Bytes::Remote(object) => StampItem::Identity(object.identity()),
        }
    }
}

#[derive(Debug)]
struct Piece {
    file: Bytes,
    path: PathBuf,
    /// Offset of its first byte in the archive.
    start: u64,
    len: u64,
    /// Its listed SHA-256 (parts only).
    sha256: Option<Digest>,
}

impl ArchiveFile {
    /// Opens what `path` names ([`BundleLocation::of`]). Every part must be a regular file of
    /// the size its manifest lists; the first that is not is named.
    pub fn open(path: &Path) -> Result<ArchiveFile> {
        match BundleLocation::of(path) {
            BundleLocation::Single(path) => {
                let file = File::open(&path).map_err(BundleError::io("opening", &path))?;
                Ok(ArchiveFile::single(file, path))
            }
            BundleLocation::Parts { archive, manifest } => {
                let bytes = read_manifest(&manifest)?;
                let listed = PartsManifest::parse(&bytes, &manifest)?;
                ArchiveFile::parts(archive, listed, bytes)
            }
        }
    }

    /// One archive file already open; `path` names it in errors. Its length is read from the
    /// file at each [`len`](Self::len), so a file that grows or shrinks is seen to.
    pub fn single(file: File, path: PathBuf) -> ArchiveFile {
        let piece = Piece { file: Bytes::Local(Arc::new(file)), path: path.clone(), start: 0, len: 0, sha256: None };
        ArchiveFile::assemble(vec![piece], path, None)
    }

    /// An archive of `pieces`, split when `manifest` (parsed, and its bytes) is given.
    fn assemble(pieces: Vec<Piece>, path: PathBuf, manifest: Option<(PartsManifest, Vec<u8>)>) -> ArchiveFile {
        let (manifest, manifest_bytes) = match manifest {
            Some((parsed, bytes)) => (Some(Arc::new(parsed)), Arc::from(bytes)),
            None => (None, Arc::from([])),
        };
        ArchiveFile {
            pieces,
            path,
            manifest,
            manifest_bytes,
            manifest_signed: Arc::default(),
            parts_checked: Arc::default(),
            folder: None,
        }
    }

    fn parts(archive: PathBuf, manifest: PartsManifest, bytes: Vec<u8>) -> Result<ArchiveFile> {
        check_named_as(&archive, &manifest)?;
        open_files_for(manifest.parts.len())?;
        let mut pieces = Vec::with_capacity(manifest.parts.len());
        let mut start = 0;
        for part in &manifest.parts {
            let path = archive.with_file_name(&part.name);
            let file = open_part(&path)?;
            let actual =
                file.metadata().map_err(|source| BundleError::PartUnreadable { path: path.clone(), source })?.len();
            if actual != part.size {
                return Err(BundleError::PartSize { path, expected: part.size, actual });
            }
            pieces.push(Piece {
                file: Bytes::Local(Arc::new(file)),
                path,
                start,
                len: part.size,
                sha256: Some(part.sha256.clone()),
            });
            start += part.size;
        }
        Ok(ArchiveFile::assemble(pieces, archive, Some((manifest, bytes))))
    }

    /// Opens the archive `name` in the remote `folder`: the object itself, or, when `name` is
    /// a parts manifest or a part, or only `name.parts.json` is there, its parts in place (each
    /// object of its listed size). Its sidecars are read from the same folder.
    pub fn open_remote(folder: Arc<dyn RemoteFolder>, name: &str) -> Result<ArchiveFile> {
        let shown = |name: &str| PathBuf::from(format!("{}/{name}", folder.url()));
        let unreadable = |name: &str| {
            let path = shown(name);
            move |source: io::Error| BundleError::PartUnreadable { path, source }
        };
        let located = BundleLocation::named(Path::new(name));
        let (archive, manifest) = match &located {
            BundleLocation::Parts { archive, manifest } => (archive.to_string_lossy().into_owned(), Some(manifest)),
            BundleLocation::Single(_) => (name.to_owned(), None),
        };
        let single = match manifest {
            Some(_) => None,
            None => folder.object(&archive).map_err(BundleError::io("reading", shown(&archive)))?,
        };
        let mut file = match single {
            Some(object) => {
                let piece =
                    Piece { file: Bytes::Remote(object), path: shown(&archive), start: 0, len: 0, sha256: None };
                ArchiveFile::assemble(vec![piece], shown(&archive), None)
            }
            None => {
                let manifest_name = format!("{archive}{PARTS_MANIFEST_SUFFIX}");
                let Some(object) =
                    folder.object(&manifest_name).map_err(BundleError::io("reading", shown(&manifest_name)))?
                else {
                    return Err(BundleError::Io {
                        action: "opening",
                        path: shown(&archive),
                        source: io::Error::new(
                            io::ErrorKind::NotFound,
                            "no such object, and no parts manifest beside it",
                        ),
                    });
                };
                if object.len() > MAX_MANIFEST_SIZE {
                    return Err(BundleError::PartsManifest {
                        path: shown(&manifest_name),
                        detail: format!("larger than {MAX_MANIFEST_SIZE} bytes"),
                    });
                }
                let mut bytes = vec![0u8; object.len() as usize];
                object.read_exact_at(&mut bytes, 0).map_err(BundleError::io("reading", shown(&manifest_name)))?;
                let listed = PartsManifest::parse(&bytes, &shown(&manifest_name))?;
                check_named_as(&shown(&archive), &listed)?;
                let names: Vec<&str> = listed.parts.iter().map(|p| p.name.as_str()).collect();
                let objects =
                    folder.objects(&names).map_err(BundleError::io("looking up the parts of", shown(&archive)))?;
                let mut pieces = Vec::with_capacity(listed.parts.len());
                let mut start = 0;
                for (part, object) in listed.parts.iter().zip(objects) {
                    let object = object.ok_or_else(|| unreadable(&part.name)(io::ErrorKind::NotFound.into()))?;
                    if object.len() != part.size {
                        return Err(BundleError::PartSize {
                            path: shown(&part.name),
                            expected: part.size,
                            actual: object.len(),
                        });
                    }
                    pieces.push(Piece {
                        file: Bytes::Remote(object),
                        path: shown(&part.name),
                        start,
                        len: part.size,
                        sha256: Some(part.sha256.clone()),
                    });
                    start += part.size;
                }
                ArchiveFile::assemble(pieces, shown(&archive), Some((listed, bytes)))
            }
        };
        file.folder = Some(folder);
        Ok(file)
    }

    /// The bucket folder a remote archive lies in, where its sidecars are; `None` on disk.
    pub fn remote_folder(&self) -> Option<&Arc<dyn RemoteFolder>> {
        self.folder.as_ref()
    }

    /// The archive's path: the file, or for parts where it would be if joined.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The parts manifest, for a split archive.
    pub fn manifest(&self) -> Option<&PartsManifest> {
        self.manifest.as_deref()
    }

    /// The parts manifest's bytes as read (empty for one file): what its signature signs.
    pub fn manifest_bytes(&self) -> &[u8] {
        &self.manifest_bytes
    }

    /// Records that the trust policy accepted the manifest's signature: from here on the
    /// verification pass, already under way, hashes each part only and takes the archive's
    /// SHA-256 from the manifest (decision 0042). Only the trust layer calls this, after
    /// checking that signature over [`manifest_bytes`](Self::manifest_bytes); called on an
    /// unchecked manifest, the parts are still each checked, but the archive's SHA-256 reported
    /// is only the manifest's word.
    pub fn set_manifest_signed(&self) {
        if self.manifest.is_some() {
            self.manifest_signed.store(true, Ordering::Release);
        }
    }

    /// Whether [`set_manifest_signed`](Self::set_manifest_signed) was called.
    pub fn manifest_signed(&self) -> bool {
        self.manifest_signed.load(Ordering::Acquire)
    }

    /// The archive's length: the file's now, or the parts' listed sizes.
    pub fn len(&self) -> io::Result<u64> {
        match (&self.manifest, &self.pieces[0].file) {
            (Some(m), _) => Ok(m.archive.size),
            (None, Bytes::Local(file)) => Ok(file.metadata()?.len()),
            (None, Bytes::Remote(object)) => Ok(object.len()),
        }
    }

    /// Whether the archive holds no bytes.
    pub fn is_empty(&self) -> io::Result<bool> {
        self.len().map(|n| n == 0)
    }

    /// Fills `buf` from `offset`, across parts where it spans them; an end of file before
    /// `buf` is full is [`io::ErrorKind::UnexpectedEof`].
    pub fn read_exact_at(&self, mut buf: &mut [u8], mut offset: u64) -> io::Result<()> {
        if self.manifest.is_none() {
            return self.pieces[0].file.read_exact_at(buf, offset);
        }
        while !buf.is_empty() {
            let i = self.pieces.partition_point(|p| p.start + p.len <= offset);
            let piece = self.pieces.get(i).ok_or(io::ErrorKind::UnexpectedEof)?;
            let within = offset - piece.start;
            let n = buf.len().min((piece.len - within) as usize);
            piece.file.read_exact_at(&mut buf[..n], within).map_err(|e| part_error(piece, false, e))?;
            buf = &mut buf[n..];
            offset += n as u64;
        }
        Ok(())
    }

    /// Fills as much of `buf` as the archive has from its start; returns how much.
    pub fn read_prefix(&self, buf: &mut [u8]) -> io::Result<usize> {
        let n = buf.len().min(usize::try_from(self.len()?).unwrap_or(usize::MAX));
        self.read_exact_at(&mut buf[..n], 0)?;
        Ok(n)
    }

    /// The stamp of every file the archive is read from: equal later only if none was
    /// written, truncated or replaced.
    pub fn stamp(&self) -> io::Result<FileStamp> {
        let items: Vec<StampItem<'_>> = self.pieces.iter().map(|p| p.file.stamp_item()).collect();
        FileStamp::folded(&items)
    }

    /// Another handle on the same files.
    pub fn try_clone(&self) -> io::Result<ArchiveFile> {
        let pieces = self
            .pieces
            .iter()
            .map(|p| {
                Ok(Piece {
                    file: p.file.try_clone()?,
                    path: p.path.clone(),
                    start: p.start,
                    len: p.len,
                    sha256: p.sha256.clone(),
                })
            })
            .collect::<io::Result<_>>()?;
        Ok(ArchiveFile {
            pieces,
            path: self.path.clone(),
            manifest: self.manifest.clone(),
            manifest_bytes: Arc::clone(&self.manifest_bytes),
            manifest_signed: Arc::clone(&self.manifest_signed),
            parts_checked: Arc::clone(&self.parts_checked),
            folder: self.folder.clone(),
        })
    }

    /// A front-to-back reader of the archive's bytes that checks each part's SHA-256 as its
    /// last byte passes, and hashes the whole archive unless a signed manifest makes that
    /// redundant ([`SequentialReader::finish`]).
    pub fn sequential(&self) -> io::Result<SequentialReader> {
        let whole = Some(Sha256::new());
        Ok(SequentialReader { archive: self.try_clone()?, index: 0, within: 0, part: Sha256::new(), whole, passed: 0 })
    }

    /// A reader of the parts from the first one no pass has found as listed yet, checking
    /// each, hashing nothing else.
    fn unchecked_parts(&self) -> io::Result<SequentialReader> {
        let index = self.parts_checked.load(Ordering::Acquire);
        let archive = self.try_clone()?;
        Ok(SequentialReader { archive, index, within: 0, part: Sha256::new(), whole: None, passed: 0 })
    }
}

impl ArchiveFile {
    /// For a split archive whose pass failed: the error naming the first part whose bytes
    /// are not the ones its manifest lists (or that cannot be read), so that the operator is
    /// told which part to copy again rather than which file inside it broke. A damaged frame
    /// can be decompressed, and the file it holds refused, before the end of its part is read
    /// and the part's hash checked. `None` for one file, or when every part checks.
    pub fn first_damaged_part(&self) -> Option<BundleError> {
        self.manifest.as_ref()?;
        let mut reader = match self.unchecked_parts() {
            Ok(reader) => reader,
            Err(e) => return Some(crate::archive::from_io(e, "reading the parts")),
        };
        match io::copy(&mut reader, &mut io::sink()) {
            Ok(_) => None,
            Err(e) => Some(crate::archive::from_io(e, "reading the parts")),
        }
    }
}

/// A read of `piece` that failed, naming the part (the one file of an archive needs no
/// naming: its errors name the archive).
fn part_error(piece: &Piece, single: bool, e: io::Error) -> io::Error {
    if single {
        return e;
    }
    io::Error::other(BundleError::PartUnreadable { path: piece.path.clone(), source: e })
}

/// An archive file already open, named `archive` in errors.
impl From<File> for ArchiveFile {
    fn from(file: File) -> ArchiveFile {
        ArchiveFile::single(file, PathBuf::from("archive"))
    }
}

/// Reads an [`ArchiveFile`] front to back; see [`ArchiveFile::sequential`].
pub struct SequentialReader {
    archive: ArchiveFile,
    index: usize,
    within: u64,
    part: Sha256,
    whole: Option<Sha256>,
    passed: u64,
}

impl SequentialReader {
    /// Reads to the end (checking the remaining parts) and returns the archive's SHA-256 and
    /// length: computed, or for a split archive with a signed manifest the manifest's, which
    /// every part's checked hash then proves. A split archive whose computed SHA-256 differs
    /// from its manifest's is refused.
    pub fn finish(mut self) -> io::Result<FileDigest> {
        io::copy(&mut self, &mut io::sink())?;
        let Some(manifest) = self.archive.manifest.clone() else {
            let hasher = self.whole.take().expect("a single file is always hashed");
            return Ok(FileDigest { sha256: hasher.finalize().into(), len: self.passed });
        };
        let listed = || {
            let mut sha256 = [0u8; 32];
            hex::decode_to_slice(manifest.archive.sha256.hex(), &mut sha256).map_err(io::Error::other)?;
            Ok(FileDigest { sha256, len: manifest.archive.size })
        };
        match self.whole.take() {
            None => listed(),
            Some(hasher) => {
                let computed = FileDigest { sha256: hasher.finalize().into(), len: self.passed };
                if computed.digest() != manifest.archive.sha256 || computed.len != manifest.archive.size {
                    return Err(io::Error::other(BundleError::PartsManifest {
                        path: manifest_path(&self.archive.path),
                        detail: format!(
                            "its parts checked, but together they hash to {}, not the {} it lists for the archive",
                            computed.digest(),
                            manifest.archive.sha256
                        ),
                    }));
                }
                Ok(computed)
            }
        }
    }

    /// How many bytes have been read.
    pub fn passed(&self) -> u64 {
        self.passed
    }

    /// Checks the part just read to its end against its listed hash.
    fn end_part(&mut self) -> io::Result<()> {
        let piece = &self.archive.pieces[self.index];
        let hasher = std::mem::replace(&mut self.part, Sha256::new());
        if let Some(expected) = &piece.sha256 {
            let actual = Digest::from_sha256_bytes(hasher.finalize().into());
            if &actual != expected {
                return Err(io::Error::other(BundleError::PartDigest {
                    path: piece.path.clone(),
                    expected: expected.clone(),
                    actual,
                }));
            }
        }
        self.index += 1;
        self.within = 0;
        self.archive.parts_checked.fetch_max(self.index, Ordering::AcqRel);
        Ok(())
    }
}

impl Read for SequentialReader {
    fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
        if buf.is_empty() {
            return Ok(0);
        }
        loop {
            let Some(piece) = self.archive.pieces.get(self.index) else { return Ok(0) };
            // A single file is read to its real end (what follows the table is for the
            // reader to refuse); a part to its listed size.
            let single = self.archive.manifest.is_none();
            let want = if single {
                buf.len()
            } else {
                let left = piece.len - self.within;
                if left == 0 {
                    self.end_part()?;
                    continue;
                }
                buf.len().min(usize::try_from(left).unwrap_or(usize::MAX))
            };
            let n = piece.file.read_at(&mut buf[..want], self.within).map_err(|e| part_error(piece, single, e))?;
            if n == 0 {
                if single {
                    self.index += 1;
                    continue;
                }
                return Err(io::Error::other(BundleError::PartSize {
                    path: piece.path.clone(),
                    expected: piece.len,
                    actual: self.within,
                }));
            }
            if piece.sha256.is_some() {
                self.part.update(&buf[..n]);
            }
            if self.whole.is_some() && !single && self.archive.manifest_signed() {
                // The signed manifest's part hashes now prove the archive: one hash per byte.
                self.whole = None;
            }
            if let Some(whole) = &mut self.whole {
                whole.update(&buf[..n]);
            }
            self.within += n as u64;
            self.passed += n as u64;
            if !single && self.within == piece.len {
                // Checked now, so that no byte of a bad part is handed on.
                self.end_part()?;
            }
            return Ok(n);
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn manifest_of(dir: &Path, name: &str, parts: &[&[u8]]) -> PartsManifest {
        let whole: Vec<u8> = parts.concat();
        let count = parts.len();
        let entries = parts
            .iter()
            .enumerate()
            .map(|(i, bytes)| {
                let part = part_name(name, i, count);
                std::fs::write(dir.join(&part), bytes).unwrap();
                PartEntry { name: part, size: bytes.len() as u64, sha256: crate::sha256(bytes) }
            })
            .collect();
        let manifest = PartsManifest {
            schema: PARTS_SCHEMA.into(),
            archive: WholeArchive { name: name.into(), size: whole.len() as u64, sha256: crate::sha256(&whole) },
            bom: crate::sha256(b"bom"),
            parts: entries,
        };
        std::fs::write(manifest_path(&dir.join(name)), manifest.to_bytes()).unwrap();
        manifest
    }

    #[test]
    fn part_names_sort_in_order_and_widen_past_a_thousand() {
        assert_eq!(part_name("a.tar.zst", 7, 12), "a.tar.zst.part-007");
        assert_eq!(part_name("a.tar.zst", 999, 1000), "a.tar.zst.part-999");
        assert_eq!(part_name("a.tar.zst", 7, 1001), "a.tar.zst.part-0007");
    }

    #[test]
    fn the_manifest_part_000_or_the_missing_archive_name_each_open_the_parts() {
        let dir = tempfile::tempdir().unwrap();
        manifest_of(dir.path(), "b.tar.zst", &[b"abc", b"defg"]);
        let archive = dir.path().join("b.tar.zst");
        for given in [manifest_path(&archive), dir.path().join("b.tar.zst.part-000"), archive.clone()] {
            let location = BundleLocation::of(&given);
            assert_eq!(location.archive(), archive, "{}", given.display());
            assert!(matches!(location, BundleLocation::Parts { .. }));
        }
        std::fs::write(&archive, b"abcdefg").unwrap();
        assert_eq!(BundleLocation::of(&archive), BundleLocation::Single(archive));
    }

    #[test]
    fn positioned_reads_span_parts_and_the_pass_checks_each_part() {
        let dir = tempfile::tempdir().unwrap();
        manifest_of(dir.path(), "c.tar.zst", &[b"0123", b"456", b"789ab"]);
        let file = ArchiveFile::open(&dir.path().join("c.tar.zst.parts.json")).unwrap();
        assert_eq!(file.len().unwrap(), 12);
        let mut buf = [0u8; 6];
        file.read_exact_at(&mut buf, 2).unwrap();
        assert_eq!(&buf, b"234567");
        let mut past = [0u8; 2];
        assert_eq!(file.read_exact_at(&mut past, 11).unwrap_err().kind(), io::ErrorKind::UnexpectedEof);
        let mut all = Vec::new();
        let mut reader = file.sequential().unwrap();
        reader.read_to_end(&mut all).unwrap();
        assert_eq!(all, b"0123456789ab");
        let digest = reader.finish().unwrap();
        assert_eq!(digest.digest(), crate::sha256(b"0123456789ab"));
    }

    #[test]
    fn a_damaged_middle_part_is_named_before_any_of_its_bytes_are_handed_on() {
        let dir = tempfile::tempdir().unwrap();
        manifest_of(dir.path(), "d.tar.zst", &[b"0123", b"4567", b"89ab"]);
        let damaged = dir.path().join("d.tar.zst.part-001");
        std::fs::write(&damaged, b"45X7").unwrap();
        let file = ArchiveFile::open(&dir.path().join("d.tar.zst")).unwrap();
        let mut reader = file.sequential().unwrap();
        let mut got = Vec::new();
        let err = reader.read_to_end(&mut got).unwrap_err();
        assert_eq!(got, b"0123", "only the good part is handed on");
        let err = *err.into_inner().unwrap().downcast::<BundleError>().unwrap();
        assert!(matches!(&err, BundleError::PartDigest { path, .. } if path == &damaged), "{err}");
        assert!(err.to_string().contains("copy it again"), "{err}");
    }

    #[test]
    fn a_missing_or_short_part_is_named_when_the_parts_are_opened() {
        let dir = tempfile::tempdir().unwrap();
        manifest_of(dir.path(), "e.tar.zst", &[b"0123", b"4567"]);
        let second = dir.path().join("e.tar.zst.part-001");
        std::fs::write(&second, b"45").unwrap();
        let err = ArchiveFile::open(&dir.path().join("e.tar.zst")).unwrap_err();
        assert!(matches!(&err, BundleError::PartSize { path, expected: 4, actual: 2 } if path == &second), "{err}");
        std::fs::remove_file(&second).unwrap();
        let err = ArchiveFile::open(&dir.path().join("e.tar.zst")).unwrap_err();
        assert!(matches!(&err, BundleError::PartUnreadable { path, .. } if path == &second), "{err}");
    }

    #[test]
    fn a_manifest_that_names_a_file_elsewhere_or_miscounts_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let good = manifest_of(dir.path(), "f.tar.zst", &[b"0123", b"4567"]);
        let path = dir.path().join("f.tar.zst.parts.json");
        let mut outside = good.clone();
        outside.parts[1].name = "../f.tar.zst.part-001".into();
        let mut short = good.clone();
        short.archive.size = 7;
        let mut renamed = good;
        renamed.archive.name = "../g.tar.zst".into();
        for bad in [outside, short, renamed] {
            let err = PartsManifest::parse(&bad.to_bytes(), &path).unwrap_err();
            assert!(matches!(err, BundleError::PartsManifest { .. }), "{err}");
        }
    }

    #[test]
    fn with_a_signed_manifest_the_pass_hashes_parts_only_and_reports_the_listed_digest() {
        let dir = tempfile::tempdir().unwrap();
        let manifest = manifest_of(dir.path(), "h.tar.zst", &[b"0123", b"4567"]);
        let file = ArchiveFile::open(&dir.path().join("h.tar.zst")).unwrap();
        let mut reader = file.sequential().unwrap();
        file.set_manifest_signed();
        let mut first = [0u8; 1];
        reader.read_exact(&mut first).unwrap();
        assert!(reader.whole.is_none(), "the pass under way stops hashing the whole archive");
        assert_eq!(reader.finish().unwrap().digest(), manifest.archive.sha256);
    }

    #[test]
    fn with_an_unsigned_manifest_parts_that_check_but_do_not_make_its_archive_are_refused() {
        let dir = tempfile::tempdir().unwrap();
        let mut manifest = manifest_of(dir.path(), "i.tar.zst", &[b"0123", b"4567"]);
        manifest.archive.sha256 = crate::sha256(b"another archive");
        std::fs::write(dir.path().join("i.tar.zst.parts.json"), manifest.to_bytes()).unwrap();
        let file = ArchiveFile::open(&dir.path().join("i.tar.zst")).unwrap();
        let err = file.sequential().unwrap().finish().unwrap_err();
        assert!(err.to_string().contains("together they hash to"), "{err}");
    }
}
