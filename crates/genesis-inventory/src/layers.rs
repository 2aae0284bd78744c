//! The image's filesystem as its layers leave it, reduced to the files the inventory reads.
//!
//! Layers apply in order as the OCI image spec says (`layer.md`, "Applying Changesets" and
//! "Whiteouts"): a path a later layer writes replaces what lower layers put there (a
//! directory replaces a file; a file, link or device replaces a directory and everything
//! under it); `.wh.NAME` deletes NAME and everything under it from lower layers, and
//! `.wh..wh..opq` everything lower layers put in its directory; neither touches what its own
//! layer writes. Each layer is read once, as a stream, and only files of interest are kept:
//! package databases and os-release as bytes (their purls wait for the distribution), the
//! rest already parsed (Python and npm metadata, ELF executables, copyright licences), so
//! memory follows the package metadata, not the image.

use std::collections::BTreeMap;
use std::io::{self, Read};
use std::ops::Bound;

use flate2::read::MultiGzDecoder;
use tar::EntryType;

use crate::error::InventoryError;
use crate::package::{FoundFile, Package};
use crate::{apk, binary, dpkg, npm, python, rpm};

/// A file of interest larger than this is not read (a note says so). The largest real ones
/// are rpmdb.sqlite files of full RPM distributions, tens of MiB.
pub(crate) const MAX_FILE_BYTES: u64 = 64 << 20;

/// The package-database bytes one inventory keeps, across all layers, until it parses them.
pub(crate) const MAX_KEPT_BYTES: u64 = 256 << 20;

/// What is read after a tar archive's end marker: its padding (up to a 10 KiB record) and
/// the compressor's own end, whose check (gzip's CRC, zstd's frame) catches a layer cut
/// short after its last entry.
const MAX_TRAILING_BYTES: u64 = 1 << 20;

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const ELF_MAGIC: &[u8] = b"\x7fELF";

/// The prefix of a whiteout's name, and the name of an opaque directory's marker.
const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

const OS_RELEASE: [&str; 2] = ["etc/os-release", "usr/lib/os-release"];
const RPM_SQLITE: [&str; 2] = ["var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite"];

/// A package database, kept whole and parsed once every layer is applied: its purls name
/// the image's distribution, which a later layer may still change.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Database {
    Dpkg,
    Apk,
    RpmSqlite,
}

/// What the inventory keeps of one file of interest.
#[derive(Debug, Clone)]
pub(crate) enum Content {
    /// An os-release file's bytes.
    OsRelease(Vec<u8>),
    /// A symbolic link at an os-release path, and its target as written.
    Symlink(String),
    /// A package database's bytes.
    Database(Database, Vec<u8>),
    /// The licences a machine-readable Debian copyright file states.
    Licenses(Vec<String>),
    /// The packages parsed from the file when its layer was read, and the sentences about
    /// what in it was not inventoried.
    Found { packages: Vec<Package>, notes: Vec<String> },
    /// A file seen but not read, and the sentence saying why.
    NotRead(String),
}

impl Content {
    fn kept_bytes(&self) -> u64 {
        match self {
            Content::OsRelease(bytes) | Content::Database(_, bytes) => bytes.len() as u64,
            // What a binary or a metadata file was found to hold counts too: a hard link copies
            // it, and a crafted binary can list hundreds of thousands of packages.
            Content::Found { packages, notes } => {
                packages.iter().map(package_bytes).sum::<u64>() + notes.iter().map(|n| n.len() as u64).sum::<u64>()
            }
            Content::Licenses(licenses) => licenses.iter().map(|l| l.len() as u64).sum(),
            Content::Symlink(_) | Content::NotRead(_) => 0,
        }
    }

    /// Whether keeping it would tell nothing: a file with no package, licence or note.
    fn says_nothing(&self) -> bool {
        match self {
            Content::Licenses(licenses) => licenses.is_empty(),
            Content::Found { packages, notes } => packages.is_empty() && notes.is_empty(),
            Content::OsRelease(_) | Content::Symlink(_) | Content::Database(..) | Content::NotRead(_) => false,
        }
    }
}

/// A file of interest and the layer that last wrote it (an index into [`Image::layers`]).
#[derive(Debug)]
pub(crate) struct File {
    pub(crate) layer: usize,
    pub(crate) content: Content,
}

/// What the layers leave.
#[derive(Debug, Default)]
pub(crate) struct Image {
    /// Each file of interest, by path (no leading slash).
    pub(crate) files: BTreeMap<String, File>,
    /// The layers' digests, in order.
    pub(crate) layers: Vec<String>,
    /// A sentence for each entry skipped or link not followed, in the order met.
    pub(crate) notes: Vec<String>,
}

impl Image {
    /// The image's os-release bytes: `etc/os-release` when it is there (os-release(5): it
    /// takes precedence), else `usr/lib/os-release`, following one symbolic link between the
    /// two, as distributions ship one as a link to the other.
    pub(crate) fn os_release(&self) -> Option<&[u8]> {
        OS_RELEASE.iter().find_map(|path| self.os_release_at(path, 1))
    }

    fn os_release_at(&self, path: &str, hops: usize) -> Option<&[u8]> {
        match &self.files.get(path)?.content {
            Content::OsRelease(bytes) => Some(bytes.as_slice()),
            Content::Symlink(target) if hops > 0 => self.os_release_at(&resolve_symlink(path, target), hops - 1),
            _ => None,
        }
    }
}

/// The layers applied so far.
#[derive(Debug, Default)]
pub(crate) struct Overlay {
    image: Image,
    /// The bytes of [`Content::kept_bytes`] held in `image`.
    kept_bytes: u64,
}

impl Overlay {
    /// Applies the next layer, reading `reader` once to its end.
    pub(crate) fn apply(&mut self, digest: String, reader: impl Read) -> Result<(), InventoryError> {
        let index = self.image.layers.len();
        let unreadable = |source: io::Error| InventoryError::Layer { layer: digest.clone(), source };
        let mut archive = tar::Archive::new(decompress(reader).map_err(unreadable)?);
        for entry in archive.entries().map_err(unreadable)? {
            self.entry(index, &digest, &mut entry.map_err(unreadable)?)?;
        }
        self.read_end(&digest, archive.into_inner()).map_err(unreadable)?;
        self.image.layers.push(digest);
        Ok(())
    }

    /// What every layer left.
    pub(crate) fn finish(self) -> Image {
        self.image
    }

    fn entry<R: Read>(
        &mut self,
        index: usize,
        digest: &str,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<(), InventoryError> {
        if let Some(reason) = read_otherwise_by_runtimes(entry) {
            let source = io::Error::new(io::ErrorKind::InvalidData, reason);
            return Err(InventoryError::Layer { layer: digest.to_owned(), source });
        }
        let kind = entry.header().entry_type();
        if kind == EntryType::XGlobalHeader {
            return Ok(()); // metadata for the whole archive, not a file
        }
        // A path that is not UTF-8 cannot name a file of interest, nor a directory holding
        // one: every path kept is UTF-8.
        let Ok(raw) = String::from_utf8(entry.path_bytes().into_owned()) else { return Ok(()) };
        let path = match normalise(&raw) {
            Ok(path) => path,
            Err(reason) => {
                self.note(InventoryError::UnsafePath { layer: digest.to_owned(), path: raw, reason });
                return Ok(());
            }
        };
        if path.is_empty() {
            return Ok(()); // the root directory
        }
        let (dir, name) = path.rsplit_once('/').unwrap_or(("", path.as_str()));
        if name == OPAQUE {
            self.remove_tree(dir, index);
            return Ok(());
        }
        if let Some(deleted) = name.strip_prefix(WHITEOUT) {
            // Other `.wh..wh.` names are aufs's own bookkeeping, not whiteouts.
            if !deleted.starts_with(WHITEOUT) {
                let deleted = join(dir, deleted);
                self.remove_file(&deleted, index);
                self.remove_tree(&deleted, index);
            }
            return Ok(());
        }
        // This entry replaces whatever was at its path, even earlier in its own layer.
        self.remove_file(&path, index + 1);
        if kind == EntryType::Directory {
            return Ok(());
        }
        self.remove_tree(&path, index + 1);
        match kind {
            EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                self.regular(index, digest, path, entry)
            }
            EntryType::Link => {
                self.hard_link(index, digest, path, entry);
                Ok(())
            }
            EntryType::Symlink => {
                let target = entry.link_name_bytes().and_then(|target| String::from_utf8(target.into_owned()).ok());
                if OS_RELEASE.contains(&path.as_str()) {
                    if let Some(target) = target {
                        self.insert(path, index, Content::Symlink(target));
                    }
                } else if matches!(Interest::of(&path), Some(Interest::Read(FileKind::Database(_)))) {
                    // A database a link stands in for is not followed (it may point anywhere):
                    // said, so that the gate does not pass the image as if it had none.
                    let to = target.map(|t| format!(" to {t}")).unwrap_or_default();
                    let note = format!(
                        "{path} is a symbolic link{to}: a package database is read only as a file, so not inventoried"
                    );
                    self.insert(path, index, Content::NotRead(note));
                }
                Ok(())
            }
            _ => Ok(()), // devices and fifos: they only replace
        }
    }

    fn regular<R: Read>(
        &mut self,
        index: usize,
        digest: &str,
        path: String,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<(), InventoryError> {
        let file = FoundFile { path: &path, layer: digest, distro: None };
        let content = match Interest::of(&path) {
            Some(Interest::Read(kind)) => read_file(kind, &file, entry)?,
            Some(Interest::NotInventoried(note)) => Content::NotRead(note.to_owned()),
            None if entry.header().mode().is_ok_and(|mode| mode & 0o111 != 0) => {
                let Some(content) = inspect_executable(&file, entry)? else { return Ok(()) };
                content
            }
            // The rpmdb is read as its main file holds it (immutable): packages only in a
            // write-ahead log left beside it are not, and that is said.
            None if entry.size() > 0 && RPM_SQLITE.iter().any(|db| path.strip_suffix("-wal") == Some(db)) => {
                Content::NotRead(format!(
                    "{path}: the rpm database's write-ahead log is not read, so packages recorded only there are \
                     not inventoried"
                ))
            }
            None => return Ok(()),
        };
        self.insert(path, index, content);
        Ok(())
    }

    /// A hard link names an earlier entry of its own layer: when that entry was kept, the
    /// link keeps the same content under its own path; a link to a file of interest the
    /// inventory did not keep is noted.
    fn hard_link<R: Read>(&mut self, index: usize, digest: &str, path: String, entry: &tar::Entry<'_, R>) {
        let target =
            entry.link_name_bytes().map(|target| String::from_utf8_lossy(&target).into_owned()).unwrap_or_default();
        let kept = hard_link_target(&target)
            .ok()
            .and_then(|target| self.image.files.get(&target))
            .filter(|file| file.layer == index)
            .map(|file| file.content.clone());
        match kept {
            Some(content) => {
                let content = moved_to(content, &path);
                self.insert(path, index, content);
            }
            None if Interest::of(&path).is_some() => {
                self.note(InventoryError::UnresolvedLink { layer: digest.to_owned(), path, target });
            }
            None => {}
        }
    }

    /// Reads what follows the tar archive's end marker, so that the decompressor reaches and
    /// checks its own end; more than [`MAX_TRAILING_BYTES`] is left unread, with a note.
    fn read_end(&mut self, digest: &str, mut rest: impl Read) -> io::Result<()> {
        let read = io::copy(&mut rest.by_ref().take(MAX_TRAILING_BYTES + 1), &mut io::sink())?;
        if read > MAX_TRAILING_BYTES {
            self.note(InventoryError::TrailingData { layer: digest.to_owned(), limit: MAX_TRAILING_BYTES });
        }
        Ok(())
    }

    fn insert(&mut self, path: String, layer: usize, content: Content) {
        if content.says_nothing() {
            return;
        }
        let content = if self.kept_bytes + content.kept_bytes() > MAX_KEPT_BYTES {
            Content::NotRead(InventoryError::OverBudget { path: path.clone(), limit: MAX_KEPT_BYTES }.to_string())
        } else {
            content
        };
        self.kept_bytes += content.kept_bytes();
        if let Some(old) = self.image.files.insert(path, File { layer, content }) {
            self.kept_bytes = self.kept_bytes.saturating_sub(old.content.kept_bytes());
        }
    }

    /// Removes the file at `path` unless layer `keep_from` or a later one wrote it.
    fn remove_file(&mut self, path: &str, keep_from: usize) {
        if self.image.files.get(path).is_some_and(|file| file.layer < keep_from) {
            self.forget(path);
        }
    }

    /// Removes every file under the directory `dir` (the whole image for the root), except
    /// those layer `keep_from` or a later one wrote.
    fn remove_tree(&mut self, dir: &str, keep_from: usize) {
        let prefix = if dir.is_empty() { String::new() } else { format!("{dir}/") };
        let doomed: Vec<String> = self
            .image
            .files
            .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
            .take_while(|(path, _)| path.starts_with(&prefix))
            .filter(|(_, file)| file.layer < keep_from)
            .map(|(path, _)| path.clone())
            .collect();
        for path in doomed {
            self.forget(&path);
        }
    }

    fn forget(&mut self, path: &str) {
        if let Some(file) = self.image.files.remove(path) {
            self.kept_bytes = self.kept_bytes.saturating_sub(file.content.kept_bytes());
        }
    }

    fn note(&mut self, error: InventoryError) {
        self.image.notes.push(error.to_string());
    }
}

/// Why a path is a file of interest.
enum Interest {
    /// It is read, as this kind of file.
    Read(FileKind),
    /// Its presence is noted and it is not read (an RPM database in a format we do not
    /// read), with the sentence saying so.
    NotInventoried(&'static str),
}

#[derive(Debug, Clone, Copy)]
enum FileKind {
    OsRelease,
    Database(Database),
    Copyright,
    PythonMetadata,
    NpmPackage,
}

impl Interest {
    fn of(path: &str) -> Option<Self> {
        let kind = if OS_RELEASE.contains(&path) {
            FileKind::OsRelease
        } else if dpkg::is_database(path) {
            FileKind::Database(Database::Dpkg)
        } else if path == apk::DATABASE {
            FileKind::Database(Database::Apk)
        } else if RPM_SQLITE.contains(&path) {
            FileKind::Database(Database::RpmSqlite)
        } else if dpkg::copyright_package(path).is_some() {
            FileKind::Copyright
        } else if path.ends_with(".dist-info/METADATA") || path.ends_with(".egg-info/PKG-INFO") {
            FileKind::PythonMetadata
        } else if npm::is_package_json(path) {
            FileKind::NpmPackage
        } else {
            return rpm::NOT_INVENTORIED
                .iter()
                .find(|&&(known, _)| known == path)
                .map(|&(_, note)| Interest::NotInventoried(note));
        };
        Some(Interest::Read(kind))
    }
}

/// What a parser said of one file, as kept content: its packages, or its error as a note.
fn parsed(result: Result<Vec<Package>, InventoryError>) -> Content {
    match result {
        Ok(packages) => Content::Found { packages, notes: Vec::new() },
        Err(error) => Content::Found { packages: Vec::new(), notes: vec![error.to_string()] },
    }
}

/// What is kept of a file of interest of `kind`: its bytes, or what its parser found; a note
/// when it is larger than [`MAX_FILE_BYTES`].
fn read_file<R: Read>(
    kind: FileKind,
    file: &FoundFile<'_>,
    entry: &mut tar::Entry<'_, R>,
) -> Result<Content, InventoryError> {
    let declared = entry.size();
    let Some(bytes) = read_capped(entry, declared).map_err(|source| InventoryError::read(file, source))? else {
        let size = declared.max(MAX_FILE_BYTES + 1);
        let too_large = InventoryError::TooLarge { path: file.path.to_owned(), size, limit: MAX_FILE_BYTES };
        return Ok(Content::NotRead(too_large.to_string()));
    };
    Ok(match kind {
        FileKind::OsRelease => Content::OsRelease(bytes),
        FileKind::Database(database) => Content::Database(database, bytes),
        FileKind::Copyright => Content::Licenses(dpkg::copyright_licenses(&bytes)),
        FileKind::PythonMetadata => {
            parsed(python::parse_metadata(&bytes, file).map(|found| found.into_iter().collect()))
        }
        FileKind::NpmPackage => parsed(npm::parse_package_json(&bytes, file).map(|found| found.into_iter().collect())),
    })
}

/// An executable whose first bytes say ELF goes to [`binary::inspect`], its peeked bytes
/// chained back in front; whatever of the entry it leaves unread, the tar reader skips when
/// it moves to the next entry. Any other executable is `None`: nothing to keep.
fn inspect_executable<R: Read>(
    file: &FoundFile<'_>,
    entry: &mut tar::Entry<'_, R>,
) -> Result<Option<Content>, InventoryError> {
    let mut head = Vec::with_capacity(ELF_MAGIC.len());
    let peeked = entry.by_ref().take(ELF_MAGIC.len() as u64).read_to_end(&mut head);
    peeked.map_err(|source| InventoryError::read(file, source))?;
    if head != ELF_MAGIC {
        return Ok(None);
    }
    match binary::inspect(&mut head.as_slice().chain(&mut *entry), file) {
        Ok((packages, notes)) => Ok(Some(Content::Found { packages, notes })),
        Err(error) if error.fails_inventory() => Err(error),
        Err(error) => Ok(Some(parsed(Err(error)))),
    }
}

/// Content copied to a hard link's path: its packages are found there too.
fn moved_to(content: Content, path: &str) -> Content {
    match content {
        Content::Found { mut packages, notes } => {
            for package in &mut packages {
                path.clone_into(&mut package.found_in);
            }
            Content::Found { packages, notes }
        }
        other => other,
    }
}

/// The entry's bytes, or `None` when it holds more than [`MAX_FILE_BYTES`]: by the size its
/// header declares (then nothing is read), or as read (a sparse entry expands past it).
fn read_capped(entry: &mut impl Read, declared: u64) -> io::Result<Option<Vec<u8>>> {
    if declared > MAX_FILE_BYTES {
        return Ok(None);
    }
    let mut bytes = Vec::new();
    entry.take(MAX_FILE_BYTES + 1).read_to_end(&mut bytes)?;
    Ok((bytes.len() as u64 <= MAX_FILE_BYTES).then_some(bytes))
}

/// The layer's tar stream, decompressed as its first bytes say: gzip (`1f 8b`), zstd
/// (`28 b5 2f fd`), or a plain tar; the bytes peeked are put back in front.
fn decompress<'r>(mut reader: impl Read + 'r) -> io::Result<Box<dyn Read + 'r>> {
    let mut head = Vec::with_capacity(ZSTD_MAGIC.len());
    reader.by_ref().take(ZSTD_MAGIC.len() as u64).read_to_end(&mut head)?;
    let gzip = head.starts_with(GZIP_MAGIC);
    let zstd = head.starts_with(ZSTD_MAGIC);
    let stream = io::Cursor::new(head).chain(reader);
    let decoded: Box<dyn Read + 'r> = if gzip {
        // Multi-member, as Go's gzip reader (which writes and reads most layers) is.
        Box::new(MultiGzDecoder::new(stream))
    } else if zstd {
        Box::new(zstd::stream::read::Decoder::new(stream)?)
    } else {
        Box::new(stream)
    };
    Ok(decoded)
}

/// An entry's path from the image root, as container runtimes resolve it: containerd
/// (`archive/tar.go`, `applyNaive`) and moby (`pkg/archive/archive.go`, `Unpack`) both clean
/// the name lexically with Go's `filepath.Clean` before joining it to their root, so empty and
/// `.` components go, a `..` removes the component before it (`usr/../var/lib/dpkg/status` is
/// `var/lib/dpkg/status`), and a `..` at the root of a rooted name stays there (`/../x` is
/// `/x`). A relative name whose `..` climbs above the root (`../x`, `a/../../x`) is refused:
/// moby refuses such a layer (its `breakoutError`) while containerd clamps the path to its root,
/// so what the entry names in the image depends on the runtime, and the note makes it a gap.
/// Whiteouts are told by the name that results, as both runtimes tell them.
fn normalise(raw: &str) -> Result<String, &'static str> {
    resolve_dots(raw, raw.starts_with('/'))
}

/// The entry a hard link names, from the image root. Unlike an entry's own name, a link
/// target that climbs above the root is refused even when it starts with `/`: moby joins the
/// target to its root before cleaning it (`createTarFile`), so `/../x` leaves its root there
/// and the layer is refused, while containerd (`hardlinkRootPath`) clamps it to `x`.
fn hard_link_target(raw: &str) -> Result<String, &'static str> {
    resolve_dots(raw, false)
}

/// `raw` with empty, `.` and `..` components resolved lexically; a `..` with nothing left to
/// remove stays at the root when `root_stops_climbing`, and is refused otherwise.
fn resolve_dots(raw: &str, root_stops_climbing: bool) -> Result<String, &'static str> {
    let mut parts = Vec::new();
    for part in raw.split('/') {
        match part {
            "" | "." => {}
            ".." => {
                if parts.pop().is_none() && !root_stops_climbing {
                    return Err("a `..` component would leave the image's root");
                }
            }
            part => parts.push(part),
        }
    }
    Ok(parts.join("/"))
}

/// Where a symbolic link at `link` points, from the image root: an absolute target from the
/// root, a relative one from the link's directory; `..` stops at the root, as it does in a
/// container.
fn resolve_symlink(link: &str, target: &str) -> String {
    let dir = if target.starts_with('/') { "" } else { link.rsplit_once('/').map_or("", |(dir, _)| dir) };
    // Rooted, and with `..` stopping at the root: nothing is refused.
    resolve_dots(&format!("/{dir}/{target}"), true).unwrap_or_default()
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() { name.to_owned() } else { format!("{dir}/{name}") }
}

/// Why container runtimes (Go's `archive/tar`, which containerd and moby use) would read
/// `entry` as another file than this reader does, if they would: such a layer is refused as
/// unreadable (and the gate fails for it), since otherwise a crafted header could hide a
/// package database from the inventory that a runtime still writes. Three known differences:
/// a ustar magic whose version is not `00` (Go still reads its name prefix; the `tar` crate
/// does not), an extension header (PAX, GNU long name) in a block the `tar` crate does not
/// recognise as ustar or GNU (Go applies it by its type alone; here it arrives as an entry of
/// its own), and PAX 1.0 sparse files (Go names them by `GNU.sparse.name`).
fn read_otherwise_by_runtimes<R: Read>(entry: &mut tar::Entry<'_, R>) -> Option<&'static str> {
    let header = entry.header();
    let bytes = header.as_bytes();
    if bytes[257..263] == *b"ustar\0" && bytes[263..265] != *b"00" {
        return Some("a ustar header whose version is not 00, whose name container runtimes read otherwise");
    }
    let recognised = header.as_ustar().is_some() || header.as_gnu().is_some();
    let extension = matches!(header.entry_type(), EntryType::XHeader | EntryType::GNULongName | EntryType::GNULongLink);
    if extension && !recognised {
        return Some("an extension header (PAX or GNU long name) in a pre-POSIX block, which container runtimes apply");
    }
    let sparse = entry.pax_extensions().ok().flatten().is_some_and(|mut extensions| {
        extensions.any(|e| e.ok().is_some_and(|e| e.key_bytes().starts_with(b"GNU.sparse.")))
    });
    sparse.then_some("a PAX sparse file, which container runtimes name by its GNU.sparse.name")
}

/// About what `package` holds in memory: its strings, and a fixed share for the rest.
fn package_bytes(package: &Package) -> u64 {
    let strings = [&package.name, &package.version, &package.purl, &package.found_in, &package.layer];
    let optional = [&package.source, &package.arch];
    let text = strings.iter().map(|s| s.len()).sum::<usize>()
        + optional.iter().filter_map(|s| s.as_ref().map(String::len)).sum::<usize>()
        + package.licenses.iter().map(String::len).sum::<usize>();
    text as u64 + 64
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn entry_paths_lose_their_leading_slash_and_dots_resolve_dot_dot_and_refuse_climbing_out() {
        assert_eq!(normalise("./var/lib/dpkg/status"), Ok("var/lib/dpkg/status".to_owned()));
        assert_eq!(normalise("/etc//os-release"), Ok("etc/os-release".to_owned()));
        assert_eq!(normalise("usr/./lib/"), Ok("usr/lib".to_owned()));
        assert_eq!(normalise("./"), Ok(String::new()));
        assert_eq!(normalise("usr/..lib/x.."), Ok("usr/..lib/x..".to_owned()));
        // As Go's filepath.Clean, which containerd and moby apply to every entry's name.
        assert_eq!(normalise("a/../var/lib/dpkg/status"), Ok("var/lib/dpkg/status".to_owned()));
        assert_eq!(normalise("a/b/../../c"), Ok("c".to_owned()));
        assert_eq!(normalise("usr/lib/../../etc/./os-release"), Ok("etc/os-release".to_owned()));
        assert_eq!(normalise("var/lib/dpkg/status/.."), Ok("var/lib/dpkg".to_owned()));
        assert_eq!(normalise("a/.."), Ok(String::new()));
        assert_eq!(normalise("/../etc/os-release"), Ok("etc/os-release".to_owned()), "rooted: `..` stays at the root");
        assert_eq!(normalise("/a/../../etc/os-release"), Ok("etc/os-release".to_owned()));
        for climbing in ["../etc/os-release", "usr/../../etc/passwd", "./../x", "a/b/../../../x", "..", "a/../.."] {
            assert!(normalise(climbing).is_err(), "{climbing}");
        }
    }

    #[test]
    fn hard_link_targets_resolve_dot_dot_but_never_climb_above_the_root_even_from_it() {
        assert_eq!(hard_link_target("usr/../var/lib/dpkg/status"), Ok("var/lib/dpkg/status".to_owned()));
        assert_eq!(hard_link_target("/var/lib/../lib/dpkg/status"), Ok("var/lib/dpkg/status".to_owned()));
        assert!(hard_link_target("../var/lib/dpkg/status").is_err());
        assert!(hard_link_target("/../var/lib/dpkg/status").is_err(), "moby joins before it cleans");
    }

    /// A tar layer of `entries` (name, link target, bytes), each name and target written into
    /// its header as is: the `tar` crate's own setters refuse a name with `..`.
    fn raw_layer(entries: &[(&str, EntryType, &str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for &(name, kind, target, data) in entries {
            let mut header = tar::Header::new_gnu();
            header.as_old_mut().name[..name.len()].copy_from_slice(name.as_bytes());
            header.as_old_mut().linkname[..target.len()].copy_from_slice(target.as_bytes());
            header.set_entry_type(kind);
            header.set_mode(0o644);
            header.set_size(data.len() as u64);
            header.set_cksum();
            builder.append(&header, data).expect("a tar in memory");
        }
        builder.into_inner().expect("a tar in memory")
    }

    const STATUS: &[u8] = b"Package: zlib1g\nStatus: install ok installed\nArchitecture: amd64\nSource: zlib\n\
                            Version: 1:1.2.13.dfsg-1\n";
    const OS_RELEASE_DEBIAN: &[u8] = b"ID=debian\nVERSION_ID=\"12\"\n";

    #[test]
    fn a_database_named_through_dot_dot_is_read_where_runtimes_write_it() {
        let layer = raw_layer(&[
            ("./etc/../etc/os-release", EntryType::Regular, "", OS_RELEASE_DEBIAN),
            ("usr/../var/lib/dpkg/status", EntryType::Regular, "", STATUS),
        ]);
        let found = crate::inventory([crate::Layer { digest: "sha256:0a".into(), reader: layer.as_slice() }])
            .expect("the layer reads");
        assert!(found.notes.is_empty(), "{:?}", found.notes);
        let purls: Vec<&str> = found.packages.iter().map(|package| package.purl.as_str()).collect();
        assert_eq!(purls, ["pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12&upstream=zlib"]);
        assert_eq!(found.packages[0].found_in, "var/lib/dpkg/status");
    }

    #[test]
    fn whiteouts_and_hard_links_behind_dot_dot_act_on_the_resolved_path() {
        let mut overlay = Overlay::default();
        let lower = raw_layer(&[
            ("var/lib/dpkg/status", EntryType::Regular, "", STATUS),
            ("etc/os-release", EntryType::Regular, "", OS_RELEASE_DEBIAN),
        ]);
        overlay.apply("sha256:lower".into(), lower.as_slice()).expect("the layer reads");
        let upper = raw_layer(&[
            // A whiteout whose `..` stays inside the root deletes what its resolved name names.
            ("tmp/../var/lib/dpkg/.wh.status", EntryType::Regular, "", b""),
            ("usr/lib/os-release", EntryType::Regular, "", OS_RELEASE_DEBIAN),
            // A hard link copies the entry its resolved target names; one that climbs out
            // of the root (moby refuses it, containerd clamps it) is a note.
            ("etc/os-release", EntryType::Link, "usr/share/../lib/os-release", b""),
            ("lib/apk/db/installed", EntryType::Link, "/../usr/lib/os-release", b""),
        ]);
        overlay.apply("sha256:upper".into(), upper.as_slice()).expect("the layer reads");
        let image = overlay.finish();
        assert!(!image.files.contains_key("var/lib/dpkg/status"), "whited out");
        assert!(matches!(&image.files["etc/os-release"], File { layer: 1, content: Content::OsRelease(_) }));
        assert!(!image.files.contains_key("lib/apk/db/installed"));
        assert_eq!(
            image.notes,
            ["layer sha256:upper: lib/apk/db/installed is a hard link to /../usr/lib/os-release, which the \
                 inventory cannot follow: not inventoried"]
        );
    }

    #[test]
    fn symlinks_resolve_from_their_directory_or_the_root_and_stop_at_the_root() {
        assert_eq!(resolve_symlink("etc/os-release", "../usr/lib/os-release"), "usr/lib/os-release");
        assert_eq!(resolve_symlink("etc/os-release", "/usr/lib/os-release"), "usr/lib/os-release");
        assert_eq!(resolve_symlink("usr/lib/os-release", "../../etc/./os-release"), "etc/os-release");
        assert_eq!(resolve_symlink("etc/os-release", "../../../../usr/lib/os-release"), "usr/lib/os-release");
        assert_eq!(resolve_symlink("os-release", "x"), "x");
    }

    #[test]
    fn databases_past_the_memory_budget_are_noted_not_kept_and_forgetting_one_frees_its_share() {
        let mut overlay = Overlay { kept_bytes: MAX_KEPT_BYTES - 4, ..Overlay::default() };
        overlay.insert("lib/apk/db/installed".into(), 0, Content::Database(Database::Apk, vec![b'x'; 5]));
        assert!(
            matches!(&overlay.image.files["lib/apk/db/installed"].content, Content::NotRead(note) if note.contains("budget"))
        );
        overlay.insert("var/lib/dpkg/status".into(), 0, Content::Database(Database::Dpkg, vec![b'x'; 4]));
        assert_eq!(overlay.kept_bytes, MAX_KEPT_BYTES);
        overlay.remove_file("var/lib/dpkg/status", 1);
        assert_eq!(overlay.kept_bytes, MAX_KEPT_BYTES - 4);
    }

    /// What a binary was found to hold counts against the budget too: a hard link copies it,
    /// and a crafted binary lists hundreds of thousands of packages, so a thousand links to
    /// one would otherwise hold them a thousand times.
    #[test]
    fn packages_found_in_a_binary_count_against_the_budget_and_their_copies_past_it_are_noted() {
        let package = Package {
            kind: crate::PackageKind::Cargo,
            name: "a".into(),
            version: "0.1.0".into(),
            source: None,
            arch: None,
            licenses: Vec::new(),
            purl: "pkg:cargo/a@0.1.0".into(),
            found_in: "bin/tool".into(),
            layer: "sha256:aa".into(),
        };
        let found = Content::Found { packages: vec![package; 1_000], notes: Vec::new() };
        let share = found.kept_bytes();
        assert!(share >= 1_000 * 64, "{share}");
        let mut overlay = Overlay { kept_bytes: MAX_KEPT_BYTES - share, ..Overlay::default() };
        overlay.insert("bin/tool".into(), 0, found.clone());
        assert_eq!(overlay.kept_bytes, MAX_KEPT_BYTES);
        overlay.insert("bin/link".into(), 0, found);
        assert!(matches!(&overlay.image.files["bin/link"].content, Content::NotRead(note) if note.contains("budget")));
    }

    #[test]
    fn files_of_interest_are_known_by_their_paths() {
        let kind = |path: &str| match Interest::of(path) {
            Some(Interest::Read(kind)) => format!("{kind:?}"),
            Some(Interest::NotInventoried(_)) => "noted".to_owned(),
            None => "none".to_owned(),
        };
        assert_eq!(kind("etc/os-release"), "OsRelease");
        assert_eq!(kind("usr/lib/os-release"), "OsRelease");
        assert_eq!(kind("var/lib/dpkg/status"), "Database(Dpkg)");
        assert_eq!(kind("var/lib/dpkg/status.d/libc6"), "Database(Dpkg)");
        assert_eq!(kind("var/lib/dpkg/status.d/libc6.md5sums"), "none");
        assert_eq!(kind("lib/apk/db/installed"), "Database(Apk)");
        assert_eq!(kind("var/lib/rpm/rpmdb.sqlite"), "Database(RpmSqlite)");
        assert_eq!(kind("usr/lib/sysimage/rpm/rpmdb.sqlite"), "Database(RpmSqlite)");
        assert_eq!(kind("usr/share/doc/libssl3/copyright"), "Copyright");
        assert_eq!(kind("usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA"), "PythonMetadata");
        assert_eq!(kind("usr/lib/python3.11/site-packages/foo-1.0-py3.11.egg-info/PKG-INFO"), "PythonMetadata");
        assert_eq!(kind("usr/bin/python3"), "none");
        assert_eq!(kind("etc/os-release.bak"), "none");
        for &(path, _) in rpm::NOT_INVENTORIED {
            assert_eq!(kind(path), "noted", "{path}");
        }
    }
}
