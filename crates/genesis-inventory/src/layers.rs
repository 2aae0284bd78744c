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
//! memory follows the package metadata, not the image. Every file, link and note kept counts
//! against one budget ([`MAX_KEPT_BYTES`]); an image that leaves more is not inventoried.
//!
//! Symbolic links are followed as a container runtime and then the processes in the
//! container follow them: an entry is written where the links its own layer applied before
//! it lead its directory, and a package database or os-release is read where the final
//! image's links lead from its path. So every link is kept (its target), and a file named as
//! a package database or os-release is kept wherever it is ([`Content::IfLinked`]) until
//! [`Overlay::finish`] knows whether a link leads a reader there (`var/lib/dpkg` → `/opt/d`
//! makes `opt/d/status` dpkg's).
//!
//! Where container runtimes would write an entry differently, or the inventory cannot tell
//! where they would, the entry is skipped and a note says so (a gap, which fails the gate
//! unless its policy allows gaps), never a silent choice: an entry whose directory is
//! reached through a link an earlier layer wrote (overlayfs snapshotters unpack a layer into
//! an empty directory, where that link is not, while the native snapshotter follows it), a
//! hard link to a file an earlier layer wrote, a link, whiteout or file of interest whose
//! name is not UTF-8, a name or link target longer than Linux's `PATH_MAX`.

use std::collections::{BTreeMap, BTreeSet, HashSet};
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

/// The bytes one inventory keeps, across all layers, until it parses them: package
/// databases, what files were found to hold, every link, every path kept and every note.
pub(crate) const MAX_KEPT_BYTES: u64 = 256 << 20;

/// What one kept file costs beside its path and content: its node in the map, the [`File`]
/// and the [`Content`] around them (a few pointers and lengths each).
const ENTRY_OVERHEAD: u64 = 64;

/// The longest path Linux creates or follows (`PATH_MAX`): a longer entry name or link target
/// fails with `ENAMETOOLONG` in every runtime, so the inventory does not resolve one either.
const PATH_MAX: usize = 4096;

/// What is read after a tar archive's end marker: its padding (up to a 10 KiB record) and
/// the compressor's own end, whose check (gzip's CRC, zstd's frame) catches a layer cut
/// short after its last entry.
const MAX_TRAILING_BYTES: u64 = 1 << 20;

/// The most symbolic links followed in resolving one path, as Linux follows
/// (`MAXSYMLINKS`): past it a path does not resolve (a loop never does).
const MAX_LINK_HOPS: usize = 40;

const GZIP_MAGIC: &[u8] = &[0x1f, 0x8b];
const ZSTD_MAGIC: &[u8] = &[0x28, 0xb5, 0x2f, 0xfd];
const ELF_MAGIC: &[u8] = b"\x7fELF";

/// The prefix of a whiteout's name, and the name of an opaque directory's marker.
const WHITEOUT: &str = ".wh.";
const OPAQUE: &str = ".wh..wh..opq";

const OS_RELEASE: [&str; 2] = ["etc/os-release", "usr/lib/os-release"];
const DPKG_STATUS: &str = "var/lib/dpkg/status";
/// distroless's dpkg database: a directory of one control stanza per package.
const DPKG_STATUS_DIR: &str = "var/lib/dpkg/status.d";
const RPM_SQLITE: [&str; 2] = ["var/lib/rpm/rpmdb.sqlite", "usr/lib/sysimage/rpm/rpmdb.sqlite"];
/// The rpmdb's write-ahead logs: packages recorded only there are not read, so one that
/// holds anything is noted.
const RPM_WAL: [&str; 2] = ["var/lib/rpm/rpmdb.sqlite-wal", "usr/lib/sysimage/rpm/rpmdb.sqlite-wal"];

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
    /// A symbolic link, and its target as written (`None` when that is not UTF-8: no kept
    /// path lies behind it).
    Symlink(Option<String>),
    /// A package database's bytes.
    Database(Database, Vec<u8>),
    /// The licences a machine-readable Debian copyright file states.
    Licenses(Vec<String>),
    /// The packages parsed from the file when its layer was read, and the sentences about
    /// what in it was not inventoried.
    Found { packages: Vec<Package>, notes: Vec<String> },
    /// A file seen but not read, and the sentence saying why.
    NotRead(String),
    /// What is kept of a file named as a package database or os-release at a path nothing
    /// reads unless a symbolic link leads there ([`read_through_links`]): it counts only if
    /// one does, which [`Overlay::finish`] settles.
    IfLinked(Box<Content>),
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
            // Every link is kept, and a layer can hold millions.
            Content::Symlink(target) => target.as_ref().map_or(0, |target| target.len() as u64),
            Content::IfLinked(content) => content.kept_bytes(),
            Content::NotRead(note) => note.len() as u64,
        }
    }

    /// Whether keeping it would tell nothing: a file with no package, licence or note.
    fn says_nothing(&self) -> bool {
        match self {
            Content::Licenses(licenses) => licenses.is_empty(),
            Content::Found { packages, notes } => packages.is_empty() && notes.is_empty(),
            Content::IfLinked(content) => content.says_nothing(),
            Content::OsRelease(_) | Content::Symlink(_) | Content::Database(..) | Content::NotRead(_) => false,
        }
    }
}

/// What keeping `content` at `path` counts against [`MAX_KEPT_BYTES`]: the path and the
/// entry around it too, since a layer can hold millions of links that keep nothing else.
fn share(path: &str, content: &Content) -> u64 {
    path.len() as u64 + ENTRY_OVERHEAD + content.kept_bytes()
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
    /// Each file of interest, and each symbolic link, by the path it really has (no leading
    /// slash, no link on the way).
    pub(crate) files: BTreeMap<String, File>,
    /// The layers' digests, in order.
    pub(crate) layers: Vec<String>,
    /// A sentence for each entry skipped, link not followed or path not resolved, in the
    /// order met.
    pub(crate) notes: Vec<String>,
    /// Where the image's os-release is read ([`Overlay::os_release_at`]).
    pub(crate) os_release_path: Option<String>,
}

impl Image {
    /// The image's os-release bytes, from where a reader in the container finds them
    /// ([`Overlay::os_release_at`]).
    pub(crate) fn os_release(&self) -> Option<&[u8]> {
        match &self.files.get(self.os_release_path.as_deref()?)?.content {
            Content::OsRelease(bytes) => Some(bytes.as_slice()),
            _ => None,
        }
    }
}

/// Whose view of the symbolic links a path is resolved in.
#[derive(Debug, Clone, Copy)]
enum Resolving {
    /// A runtime writing an entry of this layer (an index into [`Image::layers`]). It
    /// follows the links its layer wrote before the entry, but runtimes disagree on links of
    /// earlier layers: containerd's overlayfs snapshotter and moby's overlay2 unpack the
    /// layer into an empty directory, where such a link is not (the entry lands in a new
    /// directory that hides the link in the merged image), while containerd's native
    /// snapshotter unpacks into a copy of the image so far and follows it.
    Entry { layer: usize },
    /// A process in the final image reading a path: every link is followed.
    Image,
}

/// Why a path does not resolve as [`Resolving`] says it does.
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
enum PathError {
    #[error("more symbolic links on the way than Linux follows (40), or a loop of them")]
    TooManyLinks,
    #[error("a symbolic link on the way has a target that is not UTF-8")]
    TargetNotUtf8,
    #[error("it resolves to a path longer than {PATH_MAX} bytes (PATH_MAX)")]
    TooLong,
    #[error(
        "its directory is reached through the symbolic link {link} (to {target}) that an earlier layer wrote: \
         the native snapshotter writes it where the link leads, containerd's overlayfs snapshotter and moby's \
         overlay2 in a new directory that hides the link"
    )]
    EarlierLayerLink {
        /// The link's path.
        link: String,
        /// Its target as written.
        target: String,
    },
}

/// How the bytes of a regular file at some path are kept, when they are of interest.
enum Reading {
    /// Read as the file its path names.
    AtPath(Interest),
    /// Named as a package database or os-release at a path read only when a symbolic link
    /// leads there: kept as [`Content::IfLinked`].
    ThroughLinks(Interest),
}

/// How a regular file at `path` is kept, if it is: as the file of interest its path names,
/// else as the one a symbolic link would make it ([`read_through_links`]).
fn reading_of(path: &str) -> Option<Reading> {
    if let Some(interest) = Interest::of(path) {
        return Some(Reading::AtPath(interest));
    }
    read_through_links(path).and_then(|read_as| Interest::of(&read_as)).map(Reading::ThroughLinks)
}

/// The layers applied so far.
#[derive(Debug, Default)]
pub(crate) struct Overlay {
    image: Image,
    /// What [`share`] counts of `image`, with its notes and `cleared`.
    kept_bytes: u64,
    /// The directories under which the layer being applied has already removed what lower
    /// layers put (by an opaque marker or a whiteout), so that a marker repeated in it does
    /// not walk them again.
    cleared: HashSet<String>,
}

impl Overlay {
    /// Applies the next layer, reading `reader` once to its end.
    pub(crate) fn apply(&mut self, digest: String, reader: impl Read) -> Result<(), InventoryError> {
        let index = self.image.layers.len();
        let unreadable = |source: io::Error| InventoryError::Layer { layer: digest.clone(), source: broken(source) };
        let mut archive = tar::Archive::new(decompress(reader).map_err(unreadable)?);
        for entry in archive.entries().map_err(unreadable)? {
            self.entry(index, &digest, &mut entry.map_err(unreadable)?)?;
            self.check_budget(&digest)?;
        }
        self.read_end(&digest, archive.into_inner()).map_err(unreadable)?;
        self.check_budget(&digest)?;
        let cleared: u64 = self.cleared.drain().map(|dir| dir.len() as u64 + ENTRY_OVERHEAD).sum();
        self.kept_bytes = self.kept_bytes.saturating_sub(cleared);
        self.image.layers.push(digest);
        Ok(())
    }

    /// What every layer left, each package database and the os-release taken where their
    /// readers read them ([`Overlay::settle_reads`]).
    ///
    /// # Errors
    /// [`InventoryError::Layer`], naming the last layer, when the notes this adds take what
    /// is kept past [`MAX_KEPT_BYTES`].
    pub(crate) fn finish(mut self) -> Result<Image, InventoryError> {
        self.settle_reads();
        if let Some(last) = self.image.layers.last() {
            self.check_budget(last)?;
        }
        Ok(self.image)
    }

    /// Fails the inventory once what it keeps is past [`MAX_KEPT_BYTES`], as for a layer that
    /// cannot be read: a part of the image's files, links or notes is no inventory of it.
    fn check_budget(&self, digest: &str) -> Result<(), InventoryError> {
        if self.kept_bytes <= MAX_KEPT_BYTES {
            return Ok(());
        }
        Err(refused(
            digest,
            format!(
                "the files, links and notes the inventory keeps from the image's layers up to this one exceed its \
                 {MAX_KEPT_BYTES}-byte memory budget"
            ),
        ))
    }

    fn entry<R: Read>(
        &mut self,
        index: usize,
        digest: &str,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<(), InventoryError> {
        if let Some(reason) = read_otherwise_by_runtimes(entry) {
            return Err(refused(digest, reason));
        }
        let kind = entry.header().entry_type();
        if kind == EntryType::XGlobalHeader {
            return Ok(()); // metadata for the whole archive, not a file
        }
        let raw = entry.path_bytes().into_owned();
        // Cleaned as bytes, as Go cleans them: `x/\xff/../etc/os-release` is a UTF-8 path.
        let cleaned = clean(&raw);
        if let Some(reason) = too_long(&cleaned, kind, entry) {
            self.skip(digest, &raw, reason.to_owned());
            return Ok(());
        }
        let named = match String::from_utf8(cleaned) {
            Ok(named) => named,
            Err(error) => return self.name_not_utf8(digest, &raw, error.as_bytes(), kind, entry),
        };
        if named.is_empty() {
            return Ok(()); // the root directory
        }
        let path = match self.real_path(&named, index) {
            Ok(path) => path,
            Err(error) => {
                self.skip(digest, &raw, error.to_string());
                return Ok(());
            }
        };
        let (dir, name) = split(&path);
        if name == OPAQUE {
            self.clear_lower_tree(dir, index);
            return Ok(());
        }
        if let Some(deleted) = name.strip_prefix(WHITEOUT) {
            // containerd refuses the layer (`validateWhiteout`): what such a whiteout deletes
            // depends on the runtime.
            if matches!(deleted, "" | "." | "..") {
                return Err(refused(
                    digest,
                    format!(
                        "the whiteout {:?} names no file in its directory, and containerd refuses such a layer",
                        shown(&raw)
                    ),
                ));
            }
            // Other `.wh..wh.` names are aufs's own bookkeeping, not whiteouts.
            if !deleted.starts_with(WHITEOUT) {
                let deleted = join(dir, deleted);
                self.remove_file(&deleted, index);
                self.clear_lower_tree(&deleted, index);
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
            EntryType::Link => self.hard_link(index, digest, path, entry),
            EntryType::Symlink => {
                // Kept whatever it points to: any link may lead an entry or a database path.
                let target = entry.link_name_bytes().and_then(|target| String::from_utf8(target.into_owned()).ok());
                self.insert(path, index, Content::Symlink(target));
                Ok(())
            }
            _ => Ok(()), // devices and fifos: they only replace
        }
    }

    /// An entry whose cleaned name is not UTF-8. Every path kept is UTF-8, so it replaces
    /// nothing kept; but what runtimes make of it may matter, and the inventory cannot place
    /// it: a link there may lead a later entry or a reader anywhere (`\xff` → `/var/lib/dpkg`
    /// makes `\xff/status` dpkg's status), a whiteout may delete what such a link leads to,
    /// and a file named as one the inventory reads, or an ELF executable, is not read. Those
    /// are notes; anything else is passed over.
    fn name_not_utf8<R: Read>(
        &mut self,
        digest: &str,
        raw: &[u8],
        cleaned: &[u8],
        kind: EntryType,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<(), InventoryError> {
        let lossy = String::from_utf8_lossy(cleaned);
        let reason = if split(&lossy).1.starts_with(WHITEOUT) {
            Some("a whiteout whose name is not UTF-8, which the inventory cannot apply")
        } else {
            match kind {
                EntryType::Symlink | EntryType::Link => {
                    Some("a link whose name is not UTF-8, which the inventory cannot keep or follow")
                }
                EntryType::Regular | EntryType::Continuous | EntryType::GNUSparse => {
                    let file = FoundFile { path: &lossy, layer: digest, distro: None };
                    let executable_elf = is_executable(entry.header())
                        && peek_magic(entry).map_err(|source| InventoryError::read(&file, source))? == ELF_MAGIC;
                    (executable_elf || reading_of(&lossy).is_some())
                        .then_some("a file the inventory reads, whose name is not UTF-8, so it is not read")
                }
                _ => None,
            }
        };
        if let Some(reason) = reason {
            self.skip(digest, raw, reason.to_owned());
        }
        Ok(())
    }

    /// A regular file: read when its path is of interest, else inspected when it is an ELF
    /// executable, else kept as a [`Content::IfLinked`] when it is named as a database or
    /// os-release. An ELF executable is a binary whatever its name: renaming a Go binary
    /// `status` does not hide it, and no package manager reads an ELF file as its database.
    fn regular<R: Read>(
        &mut self,
        index: usize,
        digest: &str,
        path: String,
        entry: &mut tar::Entry<'_, R>,
    ) -> Result<(), InventoryError> {
        let file = FoundFile { path: &path, layer: digest, distro: None };
        let size = entry.size();
        let content = match reading_of(&path) {
            Some(reading @ Reading::AtPath(_)) => read_as(reading, &file, size, entry)?,
            reading => {
                let head = if is_executable(entry.header()) {
                    peek_magic(entry).map_err(|source| InventoryError::read(&file, source))?
                } else {
                    Vec::new()
                };
                // The bytes peeked go back in front of the rest.
                let mut bytes = head.as_slice().chain(&mut *entry);
                match reading {
                    _ if head == ELF_MAGIC => Some(inspect_binary(&file, &mut bytes)?),
                    Some(reading) => read_as(reading, &file, size, &mut bytes)?,
                    None => None,
                }
            }
        };
        if let Some(content) = content {
            self.insert(path, index, content);
        }
        Ok(())
    }

    /// A hard link names an earlier entry of its own layer: when that entry was kept, the
    /// link keeps what the same file holds at the link's own path ([`linked_content`]); a
    /// link to a file of interest the inventory did not keep is noted. A target with a `..`
    /// component is not followed: the runtimes resolve it differently (containerd's
    /// `hardlinkRootPath` follows symbolic links before it applies the `..`, moby joins and
    /// cleans the name first), so with `s` a link, `s/../x` is one file to one runtime and
    /// another to the other. A target an earlier layer wrote is a note whatever the link's
    /// path: the native snapshotter links it (a link to a lower symbolic link is another
    /// link, which may lead anything written after it), overlayfs snapshotters cannot.
    fn hard_link<R: Read>(
        &mut self,
        index: usize,
        digest: &str,
        path: String,
        entry: &tar::Entry<'_, R>,
    ) -> Result<(), InventoryError> {
        let raw = entry.link_name_bytes().unwrap_or_default();
        let unresolved = |path: String, reason| InventoryError::UnresolvedLink {
            layer: digest.to_owned(),
            path,
            target: shown(&raw),
            reason,
        };
        let target = hard_link_target(&raw).and_then(|target| self.real_path(&target, index).ok());
        // The target's content when its own layer wrote it, `None` when an earlier one did.
        let kept = target
            .and_then(|target| self.image.files.get(&target))
            .map(|file| (file.layer == index).then(|| file.content.clone()));
        match kept {
            Some(Some(content)) => {
                let file = FoundFile { path: &path, layer: digest, distro: None };
                if let Some(content) = linked_content(content, &file)? {
                    self.insert(path, index, content);
                }
            }
            Some(None) => self.note(unresolved(path, EARLIER_LAYER)),
            None => match reading_of(&path) {
                Some(Reading::AtPath(_)) => self.note(unresolved(path, NOT_FOLLOWED)),
                // A database may be read here through links: then the link's note stands.
                Some(Reading::ThroughLinks(_)) => {
                    let note = unresolved(path.clone(), NOT_FOLLOWED).to_string();
                    self.insert(path, index, Content::IfLinked(Box::new(Content::NotRead(note))));
                }
                None => {}
            },
        }
        Ok(())
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

    /// `path` (cleaned, from the root) with its directory resolved through the symbolic
    /// links a runtime writing an entry of `layer` follows ([`Resolving::Entry`]; containerd's
    /// `fs.RootPath`, the kernel inside moby's chroot). Its last component is not followed:
    /// an entry replaces what stands there.
    fn real_path(&self, path: &str, layer: usize) -> Result<String, PathError> {
        let (dir, name) = split(path);
        Ok(join(&self.resolve(dir, Resolving::Entry { layer })?, name))
    }

    /// `path` with each of its components resolved through the symbolic links kept, as the
    /// kernel resolves a path in a container: an absolute target from the root, a relative one
    /// from the link's directory, then the rest of the path, `..` applied to where the links
    /// led and stopping at the root; at most [`MAX_LINK_HOPS`] links, and no longer than
    /// [`PATH_MAX`]. The path resolved so far is built once, each component appended or cut
    /// in place, so a long path costs its length, not its length squared.
    fn resolve(&self, path: &str, resolving: Resolving) -> Result<String, PathError> {
        let mut pending: Vec<&str> = path.split('/').rev().collect();
        let mut resolved = String::new();
        // Where each component of `resolved` starts (its `/` included), for `..` to cut it.
        let mut starts: Vec<usize> = Vec::new();
        let mut hops = 0;
        while let Some(part) = pending.pop() {
            match part {
                "" | "." => {}
                ".." => resolved.truncate(starts.pop().unwrap_or(0)),
                part => {
                    let start = resolved.len();
                    if start > 0 {
                        resolved.push('/');
                    }
                    resolved.push_str(part);
                    if resolved.len() > PATH_MAX {
                        return Err(PathError::TooLong);
                    }
                    let Some(File { layer, content: Content::Symlink(target) }) = self.image.files.get(&resolved)
                    else {
                        starts.push(start);
                        continue;
                    };
                    if let Resolving::Entry { layer: writing } = resolving
                        && *layer < writing
                    {
                        let target = target.as_deref().unwrap_or("a path that is not UTF-8").to_owned();
                        return Err(PathError::EarlierLayerLink { link: resolved, target });
                    }
                    hops += 1;
                    if hops > MAX_LINK_HOPS {
                        return Err(PathError::TooManyLinks);
                    }
                    let target = target.as_deref().ok_or(PathError::TargetNotUtf8)?;
                    if target.starts_with('/') {
                        resolved.clear();
                        starts.clear();
                    } else {
                        resolved.truncate(start);
                    }
                    pending.extend(target.split('/').rev());
                }
            }
        }
        Ok(resolved)
    }

    /// Settles what is read as a package database or os-release, now that the image's
    /// symbolic links are final: each database path is resolved through them as its package
    /// manager in the container resolves it, the os-release as [`Overlay::os_release_at`]
    /// finds it, and a file kept as [`Content::IfLinked`] counts only where one of them
    /// leads; the others go (a file named `status` that no link leads to is no database).
    fn settle_reads(&mut self) {
        let mut read_at: BTreeSet<String> = database_files()
            .filter_map(|database| self.database_at(database, "a package database is read only as a file"))
            .collect();
        let status_dir = self.database_at(DPKG_STATUS_DIR, "dpkg's status.d is read only as a directory");
        if let Some(dir) = &status_dir {
            self.note_links_in_status_dir(dir);
        }
        self.image.os_release_path = self.os_release_at();
        read_at.extend(self.image.os_release_path.clone());
        let mut freed = 0;
        let files = std::mem::take(&mut self.image.files);
        self.image.files = files
            .into_iter()
            .filter_map(|(path, file)| match file.content {
                Content::IfLinked(content) => {
                    let read = read_at.contains(&path) || status_dir.as_deref() == Some(split(&path).0);
                    if !read {
                        freed += share(&path, &content);
                    }
                    read.then_some((path, File { layer: file.layer, content: *content }))
                }
                _ => Some((path, file)),
            })
            .collect();
        self.kept_bytes = self.kept_bytes.saturating_sub(freed);
    }

    /// Where the image's os-release is read (os-release(5)): at `etc/os-release` when a file
    /// is there, else at `usr/lib/os-release`, each resolved through the final image's links
    /// as a reader in the container resolves it (its own last component too: distributions
    /// ship one path as a link to the other). A path that does not resolve, or that leads to
    /// a file of another name (which the inventory does not keep, so it cannot tell whether
    /// it is there), is a note, and ends the search: what a reader finds is not known.
    fn os_release_at(&mut self) -> Option<String> {
        for path in OS_RELEASE {
            let unknown = match self.resolve(path, Resolving::Image) {
                Ok(real) if self.image.files.contains_key(&real) => return Some(real),
                Ok(real) if split(&real).1 == split(path).1 => continue, // no such file
                Ok(real) => format!("{path} leads to {real}, a file the inventory does not keep"),
                Err(error) => format!("{path} does not resolve through the image's symbolic links ({error})"),
            };
            self.push_note(format!("{unknown}: the image's distribution is not read from it"));
            return None;
        }
        None
    }

    /// Where `database` (a path from the root) is read in the final image: its directory
    /// resolved through the symbolic links. `None`, with a note, when that does not resolve,
    /// or when a link stands at that place ([`Overlay::link_at`]).
    fn database_at(&mut self, database: &str, reads: &str) -> Option<String> {
        let (dir, name) = split(database);
        match self.resolve(dir, Resolving::Image) {
            Ok(dir) => {
                let real = join(&dir, name);
                (!self.link_at(database, &real, reads)).then_some(real)
            }
            Err(error) => {
                self.push_note(format!(
                    "{database} does not resolve through the image's symbolic links ({error}): a package database \
                     there is not inventoried"
                ));
                None
            }
        }
    }

    /// Notes each entry of dpkg's status.d (found at `dir`) that is a symbolic link.
    fn note_links_in_status_dir(&mut self, dir: &str) {
        let links: Vec<String> = files_under(&self.image.files, dir)
            .filter(|(path, file)| split(path).0 == dir && matches!(file.content, Content::Symlink(_)))
            .map(|(path, _)| path.clone())
            .collect();
        for real in links {
            let database = join(DPKG_STATUS_DIR, split(&real).1);
            if dpkg::is_database(&database) {
                self.link_at(&database, &real, "a package database is read only as a file");
            }
        }
    }

    /// Whether a symbolic link stands at `real`, where `database` is read: it is not followed
    /// (it may lead anywhere, where the inventory kept nothing too), and becomes a note saying
    /// so, so that the gate does not pass the image as if it had no database.
    fn link_at(&mut self, database: &str, real: &str, reads: &str) -> bool {
        let Some(File { layer, content: Content::Symlink(target) }) = self.image.files.get(real) else { return false };
        let to = target.as_ref().map(|target| format!(" to {target}")).unwrap_or_default();
        let at = if real == database { String::new() } else { format!(" (at {real})") };
        let note = format!("{database}{at} is a symbolic link{to}: {reads}, so not inventoried");
        let layer = *layer;
        self.insert(real.to_owned(), layer, Content::NotRead(note));
        true
    }

    /// Keeps `content` at `path`, in place of what was there. Content that would take what
    /// is kept past [`MAX_KEPT_BYTES`] is kept as a note saying so instead; the note and the
    /// path count too, and [`Overlay::check_budget`] fails the inventory once they are past it.
    fn insert(&mut self, path: String, layer: usize, content: Content) {
        if content.says_nothing() {
            return;
        }
        let replaced = self.image.files.get(&path).map_or(0, |old| share(&path, &old.content));
        let held = self.kept_bytes.saturating_sub(replaced);
        let content = if held + share(&path, &content) > MAX_KEPT_BYTES {
            let note =
                Content::NotRead(InventoryError::OverBudget { path: path.clone(), limit: MAX_KEPT_BYTES }.to_string());
            // A file that may be no database stays one that may be no note.
            match content {
                Content::IfLinked(_) => Content::IfLinked(Box::new(note)),
                _ => note,
            }
        } else {
            content
        };
        self.kept_bytes = held + share(&path, &content);
        self.image.files.insert(path, File { layer, content });
    }

    /// Removes the file at `path` unless layer `keep_from` or a later one wrote it.
    fn remove_file(&mut self, path: &str, keep_from: usize) {
        if self.image.files.get(path).is_some_and(|file| file.layer < keep_from) {
            self.forget(path);
        }
    }

    /// Removes what layers below `layer` put under the directory `dir`, once a layer: after
    /// that nothing of theirs is left there, so an opaque marker or whiteout repeated in the
    /// same layer would walk the directory for nothing.
    fn clear_lower_tree(&mut self, dir: &str, layer: usize) {
        if self.cleared.contains(dir) {
            return;
        }
        self.kept_bytes += dir.len() as u64 + ENTRY_OVERHEAD;
        self.cleared.insert(dir.to_owned());
        self.remove_tree(dir, layer);
    }

    /// Removes every file under the directory `dir` (the whole image for the root), except
    /// those layer `keep_from` or a later one wrote.
    fn remove_tree(&mut self, dir: &str, keep_from: usize) {
        let doomed: Vec<String> = files_under(&self.image.files, dir)
            .filter(|(_, file)| file.layer < keep_from)
            .map(|(path, _)| path.clone())
            .collect();
        for path in doomed {
            self.forget(&path);
        }
    }

    fn forget(&mut self, path: &str) {
        if let Some(file) = self.image.files.remove(path) {
            self.kept_bytes = self.kept_bytes.saturating_sub(share(path, &file.content));
        }
    }

    /// Notes that the entry of layer `digest` named `raw` is skipped, and why.
    fn skip(&mut self, digest: &str, raw: &[u8], reason: String) {
        self.note(InventoryError::SkippedEntry { layer: digest.to_owned(), path: shown(raw), reason });
    }

    fn note(&mut self, error: InventoryError) {
        self.push_note(error.to_string());
    }

    fn push_note(&mut self, note: String) {
        self.kept_bytes += note.len() as u64;
        self.image.notes.push(note);
    }
}

/// The files kept under the directory `dir` (all of them for the root), in path order.
fn files_under<'a>(
    files: &'a BTreeMap<String, File>,
    dir: &str,
) -> impl Iterator<Item = (&'a String, &'a File)> + use<'a> {
    let prefix = if dir.is_empty() { String::new() } else { format!("{dir}/") };
    files
        .range::<str, _>((Bound::Included(prefix.as_str()), Bound::Unbounded))
        .take_while(move |(path, _)| path.starts_with(&prefix))
}

/// Why a path is a file of interest.
enum Interest {
    /// It is read, as this kind of file.
    Read(FileKind),
    /// Its presence is noted and it is not read (an RPM database in a format we do not
    /// read), with the sentence saying so.
    NotInventoried(&'static str),
    /// The rpmdb's write-ahead log: noted when it holds anything.
    WriteAheadLog,
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
        } else if RPM_WAL.contains(&path) {
            return Some(Interest::WriteAheadLog);
        } else {
            return rpm::NOT_INVENTORIED
                .iter()
                .find(|&&(known, _)| known == path)
                .map(|&(_, note)| Interest::NotInventoried(note));
        };
        Some(Interest::Read(kind))
    }
}

/// Every path at which a package database, or a file the inventory notes in the place of one,
/// is read: dpkg's status, apk's installed, the rpmdb in both its places with its write-ahead
/// log, and the rpm databases in formats not read. (dpkg's status.d is a directory of them.)
fn database_files() -> impl Iterator<Item = &'static str> {
    [DPKG_STATUS, apk::DATABASE]
        .into_iter()
        .chain(RPM_SQLITE)
        .chain(RPM_WAL)
        .chain(rpm::NOT_INVENTORIED.iter().map(|&(path, _)| path))
}

/// The path a file at `path` is read as when symbolic links lead a reader to it: a file of a
/// directory named `status.d` as one of dpkg's status.d, else a file with the name of a
/// database file or of os-release as that file. Links above such a file keep the names below
/// them (`var/lib/dpkg` → `/opt/d` makes `opt/d/status` dpkg's status), so nothing else can
/// be one; whether a link leads there is known only once every layer is applied.
fn read_through_links(path: &str) -> Option<String> {
    let (dir, name) = split(path);
    if split(dir).1 == split(DPKG_STATUS_DIR).1 {
        let database = join(DPKG_STATUS_DIR, name);
        return dpkg::is_database(&database).then_some(database);
    }
    database_files().chain(OS_RELEASE).find(|read| split(read).1 == name).map(str::to_owned)
}

/// What is kept of a regular file that `reading` says is of interest, declaring `size`
/// bytes, read from `reader`.
fn read_as(
    reading: Reading,
    file: &FoundFile<'_>,
    size: u64,
    reader: &mut impl Read,
) -> Result<Option<Content>, InventoryError> {
    match reading {
        Reading::AtPath(interest) => interesting_content(interest, file, size, reader),
        Reading::ThroughLinks(interest) => {
            Ok(interesting_content(interest, file, size, reader)?.map(|content| Content::IfLinked(Box::new(content))))
        }
    }
}

/// What a hard link at `file.path` keeps of what its target's entry kept: the same bytes are
/// read again as the file at the link's own path is read (a database's kind is its path's:
/// dpkg's status linked at apk's database is read as apk reads it, and linked where nothing
/// reads it is nothing), a note about a possible database stays one only where the link's
/// path may be one, and what was found in the file (an executable's packages) is found at
/// the link's path too.
fn linked_content(content: Content, file: &FoundFile<'_>) -> Result<Option<Content>, InventoryError> {
    let reading = reading_of(file.path);
    Ok(match content {
        Content::OsRelease(bytes) | Content::Database(_, bytes) => match reading {
            Some(reading) => read_as(reading, file, bytes.len() as u64, &mut bytes.as_slice())?,
            None => None,
        },
        Content::IfLinked(content) => match *content {
            bytes @ (Content::OsRelease(_) | Content::Database(..)) => return linked_content(bytes, file),
            note => match reading {
                Some(Reading::AtPath(_)) => Some(note),
                Some(Reading::ThroughLinks(_)) => Some(Content::IfLinked(Box::new(note))),
                None => None,
            },
        },
        other => Some(moved_to(other, file.path)),
    })
}

/// What a parser said of one file, as kept content: its packages, or its error as a note.
fn parsed(result: Result<Vec<Package>, InventoryError>) -> Content {
    match result {
        Ok(packages) => Content::Found { packages, notes: Vec::new() },
        Err(error) => Content::Found { packages: Vec::new(), notes: vec![error.to_string()] },
    }
}

/// What is kept of a file of `interest` that declares `size` bytes, read from `reader`; `None`
/// for an empty write-ahead log, which holds nothing.
fn interesting_content(
    interest: Interest,
    file: &FoundFile<'_>,
    size: u64,
    reader: &mut impl Read,
) -> Result<Option<Content>, InventoryError> {
    Ok(Some(match interest {
        Interest::Read(kind) => read_file(kind, file, size, reader)?,
        Interest::NotInventoried(note) => Content::NotRead(note.to_owned()),
        // The rpmdb is read as its main file holds it (immutable): packages only in a
        // write-ahead log left beside it are not, and that is said.
        Interest::WriteAheadLog if size > 0 => Content::NotRead(format!(
            "{}: the rpm database's write-ahead log is not read, so packages recorded only there are not inventoried",
            file.path
        )),
        Interest::WriteAheadLog => return Ok(None),
    }))
}

/// What is kept of a file of interest of `kind`: its bytes, or what its parser found; a note
/// when it is larger than [`MAX_FILE_BYTES`].
fn read_file(
    kind: FileKind,
    file: &FoundFile<'_>,
    declared: u64,
    reader: &mut impl Read,
) -> Result<Content, InventoryError> {
    let Some(bytes) = read_capped(reader, declared).map_err(|source| InventoryError::read(file, source))? else {
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

/// Whether a header's mode lets anyone execute the file: only executables are looked at as
/// binaries.
fn is_executable(header: &tar::Header) -> bool {
    header.mode().is_ok_and(|mode| mode & 0o111 != 0)
}

/// An entry's first bytes, as many as ELF's magic has (fewer when the entry is shorter).
fn peek_magic(entry: &mut impl Read) -> io::Result<Vec<u8>> {
    let mut head = Vec::with_capacity(ELF_MAGIC.len());
    entry.take(ELF_MAGIC.len() as u64).read_to_end(&mut head)?;
    Ok(head)
}

/// What an ELF executable says it was built from ([`binary::inspect`]); whatever of the entry
/// it leaves unread, the tar reader skips when it moves to the next entry.
fn inspect_binary(file: &FoundFile<'_>, reader: &mut dyn Read) -> Result<Content, InventoryError> {
    match binary::inspect(reader, file) {
        Ok((packages, notes)) => Ok(Content::Found { packages, notes }),
        Err(error) if error.fails_inventory() => Err(error),
        Err(error) => Ok(parsed(Err(error))),
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

/// An entry's name from the image root, cleaned as container runtimes clean it before they
/// resolve it: containerd (`archive/tar.go`, `applyNaive`) with Go's `filepath.Clean`, moby
/// by joining it to `/` inside a chroot of the root (`pkg/chrootarchive`, `UnpackLayer("/",
/// …)`). So empty and `.` components go, a `..` removes the component before it
/// (`usr/../var/lib/dpkg/status` is `var/lib/dpkg/status`), and a `..` with nothing before it
/// stays at the root (`../x` and `/../x` are `x`): containerd clamps such a name to its root
/// (`fs.RootPath`), and moby's `/` is the root. Whiteouts are told by the name that results,
/// as both runtimes tell them. Bytes, as Go's strings are: a name is cleaned before it is
/// known to be UTF-8, so `x/\xff/../etc/os-release` is `etc/os-release`.
fn clean(raw: &[u8]) -> Vec<u8> {
    let mut parts: Vec<&[u8]> = Vec::new();
    for part in raw.split(|&byte| byte == b'/') {
        match part {
            b"" | b"." => {}
            b".." => {
                parts.pop();
            }
            part => parts.push(part),
        }
    }
    parts.join(&b'/')
}

/// Why container runtimes cannot create an entry, if they cannot: its cleaned name, or a
/// symbolic link's target as written, is longer than [`PATH_MAX`] (`ENAMETOOLONG`). Such an
/// entry is not resolved either: a name a megabyte long would cost its length for each of
/// its components.
fn too_long<R: Read>(name: &[u8], kind: EntryType, entry: &tar::Entry<'_, R>) -> Option<&'static str> {
    if name.len() > PATH_MAX {
        return Some("its name is longer than 4096 bytes (PATH_MAX), which container runtimes cannot create");
    }
    let target = if kind == EntryType::Symlink { entry.link_name_bytes().map_or(0, |target| target.len()) } else { 0 };
    (target > PATH_MAX)
        .then_some("its link target is longer than 4096 bytes (PATH_MAX), which container runtimes cannot create")
}

/// The entry a hard link names, from the image root; `None` when the inventory cannot tell
/// which kept file runtimes link: a target with a `..` component, which the runtimes resolve
/// differently ([`Overlay::hard_link`]), one longer than [`PATH_MAX`], or one that is not
/// UTF-8 (no kept file has such a name).
fn hard_link_target(raw: &[u8]) -> Option<String> {
    if raw.split(|&byte| byte == b'/').any(|part| part == b"..") {
        return None;
    }
    let target = clean(raw);
    if target.len() > PATH_MAX {
        return None;
    }
    String::from_utf8(target).ok()
}

/// Why a hard link is not followed: its target is not one the inventory kept and can name.
const NOT_FOLLOWED: &str = "the inventory cannot follow";

/// Why a hard link to a file an earlier layer wrote is not followed ([`Overlay::hard_link`]).
const EARLIER_LAYER: &str = "an earlier layer wrote: the native snapshotter links that file, overlayfs snapshotters \
                             cannot, so runtimes disagree";

/// A name or link target as a note shows it: as UTF-8 where it is, and cut after 256 bytes,
/// with its length, so that a name a megabyte long makes a short note.
fn shown(raw: &[u8]) -> String {
    const SHOWN: usize = 256;
    let text = String::from_utf8_lossy(&raw[..raw.len().min(SHOWN)]);
    if raw.len() > SHOWN { format!("{text}… ({} bytes)", raw.len()) } else { text.into_owned() }
}

/// A path's directory (empty at the root) and last component.
fn split(path: &str) -> (&str, &str) {
    path.rsplit_once('/').unwrap_or(("", path))
}

fn join(dir: &str, name: &str) -> String {
    if dir.is_empty() { name.to_owned() } else { format!("{dir}/{name}") }
}

/// A layer's compression or tar stream broke: said as such, with what broke it.
fn broken(source: io::Error) -> io::Error {
    io::Error::new(
        source.kind(),
        format!("its compression or tar stream is broken ({source}); check the blob against its digest"),
    )
}

/// A layer refused as unreadable, for `reason`: container runtimes would apply it otherwise
/// than it is read here, or not at all, so the gate must not pass it.
fn refused(digest: &str, reason: impl Into<Box<dyn std::error::Error + Send + Sync>>) -> InventoryError {
    InventoryError::Layer { layer: digest.to_owned(), source: io::Error::new(io::ErrorKind::InvalidData, reason) }
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

    /// `clean` of a UTF-8 name, as a string.
    fn normalise(raw: &str) -> String {
        String::from_utf8(clean(raw.as_bytes())).expect("a UTF-8 name cleans to UTF-8")
    }

    #[test]
    fn entry_paths_lose_their_leading_slash_and_dots_and_dot_dot_stops_at_the_root() {
        assert_eq!(normalise("./var/lib/dpkg/status"), "var/lib/dpkg/status");
        assert_eq!(normalise("/etc//os-release"), "etc/os-release");
        assert_eq!(normalise("usr/./lib/"), "usr/lib");
        assert_eq!(normalise("./"), "");
        assert_eq!(normalise("usr/..lib/x.."), "usr/..lib/x..");
        // As Go's filepath.Clean, which containerd applies to every entry's name.
        assert_eq!(normalise("a/../var/lib/dpkg/status"), "var/lib/dpkg/status");
        assert_eq!(normalise("a/b/../../c"), "c");
        assert_eq!(normalise("usr/lib/../../etc/./os-release"), "etc/os-release");
        assert_eq!(normalise("var/lib/dpkg/status/.."), "var/lib/dpkg");
        assert_eq!(normalise("a/.."), "");
        // Climbing out of the root stays at the root, as both runtimes keep it.
        for (climbing, clamped) in [
            ("../etc/os-release", "etc/os-release"),
            ("/../etc/os-release", "etc/os-release"),
            ("/a/../../etc/os-release", "etc/os-release"),
            ("usr/../../etc/passwd", "etc/passwd"),
            ("./../x", "x"),
            ("a/b/../../../x", "x"),
            ("..", ""),
            ("a/../..", ""),
        ] {
            assert_eq!(normalise(climbing), clamped, "{climbing}");
        }
        // Bytes first, as Go cleans them: what is not UTF-8 may go with its `..`.
        assert_eq!(clean(b"x/\xff/../var/lib/dpkg/status"), b"x/var/lib/dpkg/status");
        assert_eq!(clean(b"/\xff//status"), b"\xff/status");
    }

    #[test]
    fn hard_link_targets_with_a_dot_dot_component_too_long_or_not_utf8_are_not_followed() {
        assert_eq!(hard_link_target(b"/var/lib/./dpkg//status").as_deref(), Some("var/lib/dpkg/status"));
        assert_eq!(hard_link_target(b"usr/..lib/x..").as_deref(), Some("usr/..lib/x.."));
        for target in ["usr/../var/lib/dpkg/status", "../var/lib/dpkg/status", "/../x", "s/../x", "a/.."] {
            assert_eq!(hard_link_target(target.as_bytes()), None, "{target}");
        }
        assert_eq!(hard_link_target(b"var/\xff/status"), None);
        assert_eq!(hard_link_target("a/".repeat(PATH_MAX / 2 + 1).as_bytes()), None);
    }

    /// A tar layer of `entries` (name, kind, link target, bytes), each name and target
    /// written into its header as is: the `tar` crate's own setters refuse a name with `..`.
    fn raw_layer(entries: &[(&str, EntryType, &str, &[u8])]) -> Vec<u8> {
        let mut builder = tar::Builder::new(Vec::new());
        for &(name, kind, target, data) in entries {
            let header = raw_header(name.as_bytes(), kind, target.as_bytes(), 0o644, data.len());
            builder.append(&header, data).expect("a tar in memory");
        }
        builder.into_inner().expect("a tar in memory")
    }

    /// A header of `kind` and `mode` for `size` bytes, naming `name` and `target` as they are.
    fn raw_header(name: &[u8], kind: EntryType, target: &[u8], mode: u32, size: usize) -> tar::Header {
        let mut header = tar::Header::new_gnu();
        header.as_old_mut().name[..name.len()].copy_from_slice(name);
        header.as_old_mut().linkname[..target.len()].copy_from_slice(target);
        header.set_entry_type(kind);
        header.set_mode(mode);
        header.set_size(size as u64);
        header.set_cksum();
        header
    }

    /// An ELF executable is inspected whatever its name, so one whose name is not UTF-8,
    /// which the inventory cannot place, is a note; a file that is not executable is nothing.
    #[test]
    fn an_elf_executable_whose_name_is_not_utf8_is_a_note() {
        let mut builder = tar::Builder::new(Vec::new());
        for (name, mode) in [(&b"usr/bin/\xff"[..], 0o755), (&b"usr/bin/\xfe"[..], 0o644)] {
            let header = raw_header(name, EntryType::Regular, b"", mode, ELF_MAGIC.len());
            builder.append(&header, ELF_MAGIC).expect("a tar in memory");
        }
        let found = inventory_of(&builder.into_inner().expect("a tar in memory"));
        assert_eq!(
            found.notes,
            ["layer sha256:0a: entry \"usr/bin/\u{fffd}\" is skipped: a file the inventory reads, whose name is not \
              UTF-8, so it is not read"]
        );
    }

    fn inventory_of(layer: &[u8]) -> crate::Inventory {
        crate::inventory([crate::Layer { digest: "sha256:0a".into(), reader: layer }]).expect("the layer reads")
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
        let found = inventory_of(&layer);
        assert!(found.notes.is_empty(), "{:?}", found.notes);
        let purls: Vec<&str> = found.packages.iter().map(|package| package.purl.as_str()).collect();
        assert_eq!(purls, ["pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12&upstream=zlib"]);
        assert_eq!(found.packages[0].found_in, "var/lib/dpkg/status");
    }

    #[test]
    fn whiteouts_behind_dot_dot_act_on_the_resolved_path_and_hard_links_through_dot_dot_are_noted() {
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
            // A hard link whose target has a `..` is not followed, wherever it would lead.
            ("etc/os-release", EntryType::Link, "usr/share/../lib/os-release", b""),
            ("lib/apk/db/installed", EntryType::Link, "/../usr/lib/os-release", b""),
        ]);
        overlay.apply("sha256:upper".into(), upper.as_slice()).expect("the layer reads");
        let image = overlay.finish().expect("within the budget");
        assert!(!image.files.contains_key("var/lib/dpkg/status"), "whited out");
        assert!(!image.files.contains_key("etc/os-release"), "replaced by the link, which is not followed");
        assert!(!image.files.contains_key("lib/apk/db/installed"));
        assert_eq!(
            image.notes,
            [
                "layer sha256:upper: etc/os-release is a hard link to usr/share/../lib/os-release, which the \
                 inventory cannot follow: not inventoried",
                "layer sha256:upper: lib/apk/db/installed is a hard link to /../usr/lib/os-release, which the \
                 inventory cannot follow: not inventoried",
            ]
        );
    }

    /// containerd resolves the target `s/../var/lib/dpkg/status.d/base` through the link `s`
    /// before its `..` (to `x/var/lib/dpkg/status.d/base`, the real list), a lexical reading
    /// gives `var/lib/dpkg/status.d/base` (a harmless one): the link is a note, and the
    /// harmless list is not taken for dpkg's status.
    #[test]
    fn a_hard_link_whose_target_climbs_back_through_a_symbolic_link_is_a_note() {
        let harmless = b"Package: base-files\nStatus: install ok installed\nArchitecture: amd64\nVersion: 12.4\n";
        let layer = raw_layer(&[
            ("etc/os-release", EntryType::Regular, "", OS_RELEASE_DEBIAN),
            ("s", EntryType::Symlink, "x/y", b""),
            ("var/lib/dpkg/status.d/base", EntryType::Regular, "", harmless),
            ("x/var/lib/dpkg/status.d/base", EntryType::Regular, "", STATUS),
            ("var/lib/dpkg/status", EntryType::Link, "s/../var/lib/dpkg/status.d/base", b""),
        ]);
        let found = inventory_of(&layer);
        assert_eq!(
            found.notes,
            ["layer sha256:0a: var/lib/dpkg/status is a hard link to s/../var/lib/dpkg/status.d/base, which the \
              inventory cannot follow: not inventoried"]
        );
        assert!(found.packages.iter().all(|package| package.found_in != "var/lib/dpkg/status"), "{:?}", found.packages);
    }

    fn link(overlay: &mut Overlay, path: &str, target: &str) {
        overlay.insert(path.into(), 0, Content::Symlink(Some(target.into())));
    }

    /// As the kernel resolves a path: a `..` after a link applies to where the link led, an
    /// absolute target starts again from the root, `..` stops at the root, and a chain of
    /// links resolves up to 40 hops, and no further.
    #[test]
    fn paths_resolve_through_links_as_the_kernel_resolves_them() {
        let mut overlay = Overlay::default();
        link(&mut overlay, "s", "x/y");
        link(&mut overlay, "lib", "usr/lib");
        link(&mut overlay, "usr/lib/apk", "/opt/apk");
        link(&mut overlay, "up", "../../..");
        link(&mut overlay, "etc/os-release", "../usr/lib/os-release");
        let resolve = |overlay: &Overlay, path: &str| overlay.resolve(path, Resolving::Image);
        assert_eq!(resolve(&overlay, "s/../var"), Ok("x/var".to_owned()));
        assert_eq!(resolve(&overlay, "lib/apk/db"), Ok("opt/apk/db".to_owned()));
        assert_eq!(resolve(&overlay, "up/etc"), Ok("etc".to_owned()));
        assert_eq!(resolve(&overlay, "etc/os-release"), Ok("usr/lib/os-release".to_owned()));
        assert_eq!(resolve(&overlay, "../../etc/./x"), Ok("etc/x".to_owned()));
        assert_eq!(overlay.real_path("lib/apk", 0), Ok("usr/lib/apk".to_owned()), "the last component is not followed");

        for hop in 0..MAX_LINK_HOPS {
            link(&mut overlay, &format!("l{hop}"), &format!("l{}", hop + 1));
        }
        assert_eq!(resolve(&overlay, "l0/x"), Ok(format!("l{MAX_LINK_HOPS}/x")));
        link(&mut overlay, &format!("l{MAX_LINK_HOPS}"), "end");
        assert_eq!(resolve(&overlay, "l0/x"), Err(PathError::TooManyLinks), "one link more than Linux follows");
        link(&mut overlay, "loop", "loop");
        assert_eq!(resolve(&overlay, "loop"), Err(PathError::TooManyLinks));
        overlay.insert("bad".into(), 0, Content::Symlink(None));
        assert_eq!(resolve(&overlay, "bad/x"), Err(PathError::TargetNotUtf8));
        link(&mut overlay, "long", &"a/".repeat(PATH_MAX / 2));
        assert_eq!(resolve(&overlay, "long/x"), Err(PathError::TooLong));
    }

    /// A runtime writing an entry follows the links its own layer wrote before it, but not
    /// alike those of earlier layers: crossing one is an error naming it, wherever on the way
    /// (here `opt`, reached through the layer's own `var/lib/dpkg`).
    #[test]
    fn an_entry_resolves_through_its_own_layers_links_and_not_through_an_earlier_layers() {
        let mut overlay = Overlay::default();
        link(&mut overlay, "opt", "/srv");
        overlay.insert("var/lib/dpkg".into(), 1, Content::Symlink(Some("/opt/d".into())));
        overlay.insert("var/lib/apk".into(), 1, Content::Symlink(Some("/srv/apk".into())));
        assert_eq!(overlay.real_path("var/lib/apk/installed", 1), Ok("srv/apk/installed".to_owned()));
        let crossed = Err(PathError::EarlierLayerLink { link: "opt".into(), target: "/srv".into() });
        assert_eq!(overlay.real_path("var/lib/dpkg/status", 1), crossed);
        assert_eq!(overlay.real_path("opt/d/status", 1), crossed);
        assert_eq!(overlay.real_path("opt/d/status", 0), Ok("srv/d/status".to_owned()), "its own layer's link");
        assert_eq!(overlay.resolve("var/lib/dpkg/status", Resolving::Image), Ok("srv/d/status".to_owned()));
    }

    /// What cannot be resolved is said: a database path behind a loop of links, an entry
    /// written under one, and a link standing at dpkg's status.d.
    #[test]
    fn database_paths_and_entries_that_do_not_resolve_are_notes_and_a_link_at_status_d_is_one() {
        let looped = raw_layer(&[
            ("var/lib/dpkg", EntryType::Symlink, "dpkg", b""),
            ("var/lib/dpkg/status", EntryType::Regular, "", STATUS),
        ]);
        let found = inventory_of(&looped);
        assert!(found.packages.is_empty());
        let behind = "more symbolic links on the way than Linux follows (40), or a loop of them";
        assert_eq!(
            found.notes,
            [
                format!("layer sha256:0a: entry \"var/lib/dpkg/status\" is skipped: {behind}"),
                format!(
                    "var/lib/dpkg/status does not resolve through the image's symbolic links ({behind}): a package \
                     database there is not inventoried"
                ),
                format!(
                    "var/lib/dpkg/status.d does not resolve through the image's symbolic links ({behind}): a package \
                     database there is not inventoried"
                ),
            ]
        );

        let linked_dir = raw_layer(&[
            ("var/lib/dpkg/status.d", EntryType::Symlink, "/opt/s", b""),
            ("opt/s/zlib1g", EntryType::Regular, "", STATUS),
        ]);
        let found = inventory_of(&linked_dir);
        assert!(found.packages.is_empty());
        assert_eq!(
            found.notes,
            ["var/lib/dpkg/status.d is a symbolic link to /opt/s: dpkg's status.d is read only as a directory, so \
              not inventoried"]
        );
    }

    /// Every kept file counts its path and entry besides its content. Content that would
    /// take what is kept past the budget is a note instead, and forgetting a file frees its
    /// whole share.
    #[test]
    fn databases_past_the_memory_budget_are_noted_not_kept_and_forgetting_one_frees_its_share() {
        let dpkg = Content::Database(Database::Dpkg, vec![b'x'; 4]);
        let dpkg_share = share("var/lib/dpkg/status", &dpkg);
        assert_eq!(dpkg_share, "var/lib/dpkg/status".len() as u64 + ENTRY_OVERHEAD + 4);
        let mut overlay = Overlay { kept_bytes: MAX_KEPT_BYTES - dpkg_share, ..Overlay::default() };
        overlay.insert("var/lib/dpkg/status".into(), 0, dpkg);
        assert_eq!(overlay.kept_bytes, MAX_KEPT_BYTES);
        assert!(overlay.check_budget("sha256:0a").is_ok(), "the budget itself is within it");
        overlay.insert("lib/apk/db/installed".into(), 0, Content::Database(Database::Apk, vec![b'x'; 5]));
        assert!(
            matches!(&overlay.image.files["lib/apk/db/installed"].content, Content::NotRead(note) if note.contains("budget"))
        );
        overlay.forget("lib/apk/db/installed");
        assert_eq!(overlay.kept_bytes, MAX_KEPT_BYTES);
        overlay.remove_file("var/lib/dpkg/status", 1);
        assert_eq!(overlay.kept_bytes, MAX_KEPT_BYTES - dpkg_share);
    }

    /// Links keep no bytes of interest, but a layer can hold millions: each counts its path,
    /// its target and its entry, as each note counts its sentence; past the budget the layer
    /// is not inventoried (the image counts as unreadable) rather than held in part.
    #[test]
    fn links_and_notes_count_against_the_budget_and_past_it_the_layer_is_not_inventoried() {
        let names: Vec<String> = (0..100).map(|n| format!("usr/bin/link{n}")).collect();
        let entries: Vec<(&str, EntryType, &str, &[u8])> =
            names.iter().map(|name| (name.as_str(), EntryType::Symlink, "t", &b""[..])).collect();
        let layer = raw_layer(&entries);
        let mut overlay = Overlay::default();
        overlay.apply("sha256:0a".into(), layer.as_slice()).expect("within the budget");
        let held = overlay.kept_bytes;
        assert_eq!(held, names.iter().map(|name| name.len() as u64 + ENTRY_OVERHEAD + 1).sum::<u64>());
        overlay.push_note("n".repeat(10));
        assert_eq!(overlay.kept_bytes, held + 10);

        let mut overlay = Overlay { kept_bytes: MAX_KEPT_BYTES - held + 1, ..Overlay::default() };
        let error = overlay.apply("sha256:0b".into(), layer.as_slice()).expect_err("past the budget");
        assert!(matches!(&error, InventoryError::Layer { layer, .. } if layer == "sha256:0b"), "{error:?}");
        assert!(error.to_string().contains("memory budget"), "{error}");
    }

    /// A file that may be no database, past the budget, is a note only if a link leads a
    /// package manager to it.
    #[test]
    fn a_possible_database_past_the_budget_stays_possible() {
        let mut overlay = Overlay { kept_bytes: MAX_KEPT_BYTES, ..Overlay::default() };
        let maybe = || Content::IfLinked(Box::new(Content::Database(Database::Dpkg, vec![b'x'; 4])));
        overlay.insert("opt/d/status".into(), 0, maybe());
        overlay.insert("srv/d/status".into(), 0, maybe());
        overlay.kept_bytes = 0;
        link(&mut overlay, "var/lib/dpkg", "/opt/d");
        let image = overlay.finish().expect("within the budget");
        assert!(!image.files.contains_key("srv/d/status"), "no link leads there");
        assert!(
            matches!(&image.files["opt/d/status"].content, Content::NotRead(note) if note.contains("budget")),
            "{:?}",
            image.files["opt/d/status"]
        );
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
        assert!(found.kept_bytes() >= 1_000 * 64, "{}", found.kept_bytes());
        let mut overlay = Overlay { kept_bytes: MAX_KEPT_BYTES - share("bin/tool", &found), ..Overlay::default() };
        overlay.insert("bin/tool".into(), 0, found.clone());
        assert_eq!(overlay.kept_bytes, MAX_KEPT_BYTES);
        overlay.insert("bin/link".into(), 0, found);
        assert!(matches!(&overlay.image.files["bin/link"].content, Content::NotRead(note) if note.contains("budget")));
    }

    /// A hard link holds what the same bytes are at the link's own path: dpkg's status linked
    /// where nothing reads it is nothing, and linked at apk's database is read as apk reads
    /// it (here, as no apk database at all).
    #[test]
    fn a_hard_link_to_a_database_is_read_as_its_own_path_says() {
        let layer = raw_layer(&[
            ("etc/os-release", EntryType::Regular, "", OS_RELEASE_DEBIAN),
            ("var/lib/dpkg/status", EntryType::Regular, "", STATUS),
            ("usr/share/copy", EntryType::Link, "var/lib/dpkg/status", b""),
            ("lib/apk/db/installed", EntryType::Link, "var/lib/dpkg/status", b""),
        ]);
        let found = inventory_of(&layer);
        let at: Vec<&str> = found.packages.iter().map(|package| package.found_in.as_str()).collect();
        assert_eq!(at, ["var/lib/dpkg/status"]);
        assert_eq!(found.notes.len(), 1, "{:?}", found.notes);
        assert!(found.notes[0].starts_with("lib/apk/db/installed: malformed package metadata"), "{:?}", found.notes);
    }

    /// An opaque marker or a whiteout removes what lower layers put under its directory once
    /// a layer: the directory is remembered (and counted) while the layer is applied, so a
    /// marker repeated in it does not walk it again, and forgotten after.
    #[test]
    fn lower_trees_are_cleared_once_a_layer_and_forgotten_after_it() {
        let mut overlay = Overlay::default();
        let lower = || Content::NotRead("from layer 0".into());
        overlay.insert("d/lower".into(), 0, lower());
        overlay.clear_lower_tree("d", 1);
        assert!(!overlay.image.files.contains_key("d/lower"));
        // Only a lower layer could have put this here: a second walk would remove it.
        overlay.insert("d/lower".into(), 0, lower());
        overlay.clear_lower_tree("d", 1);
        assert!(overlay.image.files.contains_key("d/lower"), "the directory is walked once a layer");

        let mut overlay = Overlay::default();
        let markers = raw_layer(&[
            ("d/.wh..wh..opq", EntryType::Regular, "", b""),
            ("d/.wh..wh..opq", EntryType::Regular, "", b""),
            ("d/.wh.x", EntryType::Regular, "", b""),
        ]);
        overlay.apply("sha256:0a".into(), markers.as_slice()).expect("the layer reads");
        assert!(overlay.cleared.is_empty());
        assert_eq!(overlay.kept_bytes, 0);
    }

    #[test]
    fn files_of_interest_are_known_by_their_paths() {
        let kind = |path: &str| match Interest::of(path) {
            Some(Interest::Read(kind)) => format!("{kind:?}"),
            Some(Interest::NotInventoried(_)) => "noted".to_owned(),
            Some(Interest::WriteAheadLog) => "log".to_owned(),
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
        assert_eq!(kind("usr/lib/sysimage/rpm/rpmdb.sqlite-wal"), "log");
        assert_eq!(kind("usr/share/doc/libssl3/copyright"), "Copyright");
        assert_eq!(kind("usr/lib/python3/dist-packages/six-1.16.0.dist-info/METADATA"), "PythonMetadata");
        assert_eq!(kind("usr/lib/python3.11/site-packages/foo-1.0-py3.11.egg-info/PKG-INFO"), "PythonMetadata");
        assert_eq!(kind("usr/bin/python3"), "none");
        assert_eq!(kind("etc/os-release.bak"), "none");
        for &(path, _) in rpm::NOT_INVENTORIED {
            assert_eq!(kind(path), "noted", "{path}");
        }
        for database in database_files() {
            assert_ne!(kind(database), "none", "{database}");
        }
        assert!(dpkg::is_database(&join(DPKG_STATUS_DIR, "libc6")));
    }

    /// Links above a database keep the names below them, so a file is kept when its name
    /// (and, for status.d, its directory's) is one a package manager reads, or os-release.
    #[test]
    fn files_named_as_databases_are_the_database_a_link_would_make_them() {
        let read_as = |path: &str| read_through_links(path);
        assert_eq!(read_as("srv/etc/os-release").as_deref(), Some("etc/os-release"));
        assert_eq!(read_as("opt/d/status").as_deref(), Some("var/lib/dpkg/status"));
        assert_eq!(read_as("status").as_deref(), Some("var/lib/dpkg/status"));
        assert_eq!(read_as("usr/lib/apk/db/installed").as_deref(), Some("lib/apk/db/installed"));
        assert_eq!(read_as("srv/status.d/libc6").as_deref(), Some("var/lib/dpkg/status.d/libc6"));
        assert_eq!(read_as("srv/status.d/installed").as_deref(), Some("var/lib/dpkg/status.d/installed"));
        assert_eq!(read_as("x/rpmdb.sqlite").as_deref(), Some("var/lib/rpm/rpmdb.sqlite"));
        assert_eq!(read_as("x/rpmdb.sqlite-wal").as_deref(), Some("var/lib/rpm/rpmdb.sqlite-wal"));
        assert_eq!(read_as("x/Packages").as_deref(), Some("var/lib/rpm/Packages"));
        for path in ["srv/status.d/libc6.md5sums", "opt/d/status-old", "usr/bin/python3", "opt/d/status/x"] {
            assert_eq!(read_as(path), None, "{path}");
        }
    }
}
