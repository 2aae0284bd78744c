//! Re-verifying a tree `extract` wrote, at any later time (`genesis verify --dir DIR`).
//!
//! `extract` puts the bundle's head (`bom.json`, its signature `bom.json.sig` or
//! `bom.sigstore.json`, and the provenance when there is one) beside the payload under the
//! names they have in the archive, byte for byte, so that the tree carries what it was
//! verified against. [`UnverifiedTree::open`] reads that head; [`UnverifiedTree::verify`]
//! judges it exactly as [`crate::UnverifiedBundle::verify`] judges an archive's (the signature
//! before the BOM is parsed, then the provenance and the policy); [`VerifiedTree::check`] then
//! holds the tree to the signed BOM: every file it lists there with its size and SHA-256
//! (hashed as it streams), nothing missing, and nothing added: any other file or folder is an
//! error naming it.
//!
//! The walk goes down from one open folder with `openat`, never through a path, so a symbolic
//! link, a FIFO, a socket or a device anywhere in the tree is refused without being followed
//! or opened, and an entry swapped for another between the look and the open is refused too.
//! Only the folder named is followed if it is a link: the operator named it.
//!
//! What passes is a tree whose bytes are the ones the signer listed. The provenance envelope
//! is outside the BOM (its subject is the BOM's digest), as it is in the archive: a tree
//! without one verifies as a bundle without one does, and a policy that must see one says
//! `require: provenance`.

use std::collections::{BTreeMap, BTreeSet};
use std::ffi::OsStr;
use std::fs::File;
use std::io::Read as _;
use std::os::fd::OwnedFd;
use std::os::unix::ffi::OsStrExt as _;
use std::path::{Path, PathBuf};

use genesis_bundle::digest_io::DigestAdapter;
use genesis_bundle::{BOM_PATH, Bom, BundleError, FileEntry, Head, HeadForm, Limits, ProgressCounter};
use genesis_types::BundlePath;
use rustix::fs::{AtFlags, Dir, FileType, Mode, OFlags};

use crate::countersign::{Countersignatures, TREE_FOLDER, count_entry};
use crate::policy::TrustPolicy;
use crate::verify::{HeadReport, SignedHead, verify_head};
use crate::{Result, TrustError};

/// Opens the tree `extract` wrote at `dir`, verifies its head against `policy` and checks
/// every file against the signed BOM, within `limits`: [`UnverifiedTree::open`], then
/// [`UnverifiedTree::verify`], then [`VerifiedTree::check`].
pub fn verify_tree(dir: &Path, policy: &TrustPolicy, limits: &Limits) -> Result<TreeReport> {
    UnverifiedTree::open(dir, limits)?.verify(policy)?.check()
}

/// A tree `extract` wrote, whose head has been read but whose signature has not been checked.
pub struct UnverifiedTree {
    dir: PathBuf,
    root: OwnedFd,
    head: Head,
    /// The countersignatures `extract` copied beside the head.
    countersignatures: Countersignatures,
    limits: Limits,
}

impl UnverifiedTree {
    /// Opens the folder `dir` and reads its head: `bom.json` and its signature,
    /// `bom.json.sig` or else `bom.sigstore.json` (both required: a tree without them is not
    /// one `extract` wrote), and that form's provenance when there is one, each a regular file
    /// within `limits`. A second signature beside the one read is a file the walk refuses.
    pub fn open(dir: &Path, limits: &Limits) -> Result<UnverifiedTree> {
        let root = rustix::fs::open(dir, OFlags::RDONLY | OFlags::DIRECTORY | OFlags::CLOEXEC, Mode::empty())
            .map_err(|e| io_error("opening", dir, e))?;
        let read = |name: &str, max: u64, what: &'static str| read_head_file(&root, dir, name, max, what);
        let bom = read(BOM_PATH, limits.max_bom_size, "bom.json size")?
            .ok_or_else(|| TrustError::TreeNotExtracted { path: dir.join(BOM_PATH), or: None })?;
        let mut found = None;
        for form in HeadForm::ALL {
            if let Some(signature) = read(form.signature_path(), limits.max_signature_size, "signature size")? {
                found = Some((form, signature));
                break;
            }
        }
        let (form, signature) = found.ok_or_else(|| TrustError::TreeNotExtracted {
            path: dir.join(HeadForm::Cosign.signature_path()),
            or: Some(HeadForm::Sigstore.signature_path()),
        })?;
        let provenance = read(form.provenance_path(), limits.max_bom_size, "provenance size")?;
        let head = Head { bom, signature, provenance, form };
        let countersignatures = read_countersignatures(&root, dir, limits)?;
        Ok(UnverifiedTree { dir: dir.to_owned(), root, head, countersignatures, limits: limits.clone() })
    }

    /// Checks the BOM signature against `policy`, parses the BOM, checks the provenance
    /// envelope when there is one, then the policy's constraints: what
    /// [`crate::UnverifiedBundle::verify`] does with an archive's head.
    pub fn verify(self, policy: &TrustPolicy) -> Result<VerifiedTree> {
        let signed = verify_head(&self.dir, &self.head, policy, &self.limits, &self.countersignatures)?;
        let progress = ProgressCounter::default();
        progress.set_total(signed.bom.payload_size());
        Ok(VerifiedTree {
            dir: self.dir,
            root: self.root,
            head: self.head.entries().into_iter().map(|(name, _)| name).collect(),
            countersignatures: self.countersignatures.tree_paths(),
            signed,
            limits: self.limits,
            progress,
        })
    }
}

/// A tree whose BOM is signed by a trusted key or identity; its files are still to be
/// checked, by [`VerifiedTree::check`]. No public constructor.
pub struct VerifiedTree {
    dir: PathBuf,
    root: OwnedFd,
    /// The names of the head's files, which the walk finds beside the payload.
    head: Vec<&'static str>,
    /// The countersignatures' paths in the tree, which the walk finds beside the head.
    countersignatures: Vec<String>,
    signed: SignedHead,
    limits: Limits,
    progress: ProgressCounter,
}

impl VerifiedTree {
    /// The verified BOM.
    pub fn bom(&self) -> &Bom {
        &self.signed.bom
    }

    /// The count of payload bytes hashed so far, for a progress display; its total is the
    /// BOM's payload size.
    pub fn progress(&self) -> ProgressCounter {
        self.progress.clone()
    }

    /// Walks the whole tree: every file the BOM lists must be there, a regular file with the
    /// BOM's size and SHA-256 (the bundle's SBOM also complete, as the archive's pass checks
    /// it), and nothing else but the head may be: a file or folder the BOM does not imply is
    /// refused, naming it, as is a symbolic link, a FIFO, a socket or a device anywhere.
    pub fn check(self) -> Result<TreeReport> {
        let bom = &self.signed.bom;
        let mut head: Vec<&str> = self.head;
        head.extend(self.countersignatures.iter().map(String::as_str));
        let mut folders: BTreeSet<String> = bom.files.iter().flat_map(|f| parent_folders(f.path.as_str())).collect();
        folders.extend(head.iter().flat_map(|h| parent_folders(h)));
        let mut walk = Walk {
            dir: &self.dir,
            bom,
            files: bom.files.iter().map(|f| (f.path.as_str(), f)).collect(),
            folders,
            head,
            found: BTreeSet::new(),
            entries: 0,
            limits: &self.limits,
            progress: &self.progress,
            sbom: bom.bundle_sbom().map(|s| &s.path),
            bytes: 0,
            buf: vec![0u8; 256 << 10],
        };
        walk.folder(&self.root, "")?;
        if let Some(missing) = bom.files.iter().find(|f| !walk.found.contains(f.path.as_str())) {
            return Err(TrustError::TreeFileMissing { path: self.dir.join(missing.path.as_str()) });
        }
        let (files, payload_bytes) = (walk.found.len() as u64, walk.bytes);
        Ok(TreeReport {
            dir: self.dir,
            head: self.signed.report(),
            files,
            payload_bytes,
            images: bom.images.len(),
            charts: bom.charts.len(),
            manifests: bom.manifests.len(),
            expires: bom.expires.clone(),
            scan: bom.scan.as_ref().map(genesis_bundle::ScanRecord::summary),
        })
    }
}

/// Everything a successful [`VerifiedTree::check`] established: the fields of a bundle's
/// [`crate::VerifyReport`] that a tree has (the archive and its sidecars are not there).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct TreeReport {
    /// The folder verified.
    pub dir: PathBuf,
    /// What the tree's head (its `bom.json`, signature and provenance) established, as a
    /// bundle's report says it of the archive's.
    #[serde(flatten)]
    pub head: HeadReport,
    /// Files found with the BOM's size and SHA-256: every one it lists.
    pub files: u64,
    /// Their bytes.
    pub payload_bytes: u64,
    /// Images the BOM lists.
    pub images: usize,
    /// Charts the BOM lists.
    pub charts: usize,
    /// Manifests the BOM lists.
    pub manifests: usize,
    /// When the bundle expires, as its signed BOM states it; absent when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// The vulnerability scan the signed BOM records; absent when it records none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan: Option<genesis_bundle::ScanSummary>,
}

/// The folders `path` (`/`-separated) lies in, outermost first, without trailing `/`.
fn parent_folders(path: &str) -> impl Iterator<Item = String> + '_ {
    path.match_indices('/').map(move |(i, _)| path[..i].to_owned())
}

/// The tree held to the BOM: what may be there, and what was found.
struct Walk<'a> {
    /// The folder named, for error messages.
    dir: &'a Path,
    bom: &'a Bom,
    /// The payload files, by path.
    files: BTreeMap<&'a str, &'a FileEntry>,
    /// The folders the payload and the head imply.
    folders: BTreeSet<String>,
    /// The head's files in the tree, and the countersignatures beside them.
    head: Vec<&'a str>,
    /// The payload files found with their signed bytes.
    found: BTreeSet<&'a str>,
    /// Entries listed so far, bounded by `limits.max_entries` as an archive's are.
    entries: u64,
    limits: &'a Limits,
    progress: &'a ProgressCounter,
    /// The bundle's SBOM, kept while hashed to check it lists all the BOM does.
    sbom: Option<&'a BundlePath>,
    bytes: u64,
    buf: Vec<u8>,
}

impl<'a> Walk<'a> {
    /// Checks the folder open at `fd`, `prefix` in the tree (`""` for the top), and the
    /// folders in it, in name order.
    fn folder(&mut self, fd: &OwnedFd, prefix: &str) -> Result<()> {
        let at = if prefix.is_empty() { self.dir.to_owned() } else { self.dir.join(prefix) };
        let mut names = Vec::new();
        for entry in Dir::read_from(fd).map_err(|e| io_error("reading", &at, e))? {
            let entry = entry.map_err(|e| io_error("reading", &at, e))?;
            let name = entry.file_name();
            if matches!(name.to_bytes(), b"." | b"..") {
                continue;
            }
            self.entries += 1;
            if self.entries > self.limits.max_entries {
                let (actual, limit) = (self.entries, self.limits.max_entries);
                return Err(BundleError::LimitExceeded { what: "entry count", actual, limit }.into());
            }
            names.push(name.to_owned());
        }
        names.sort();
        for name in &names {
            let name = OsStr::from_bytes(name.as_bytes());
            let path = at.join(name);
            // A name that is not UTF-8 is no BOM's: it is refused as added, unopened.
            let Some(rel) =
                name.to_str().map(|n| if prefix.is_empty() { n.to_owned() } else { format!("{prefix}/{n}") })
            else {
                return Err(TrustError::TreeFileAdded { path });
            };
            match open_entry(fd, name, &path)? {
                // Gone since it was listed: missing, if the BOM lists it.
                None => {}
                Some(Opened::Folder(child)) if self.folders.contains(&rel) => self.folder(&child, &rel)?,
                Some(Opened::Folder(_)) => return Err(TrustError::TreeFileAdded { path }),
                Some(Opened::File(file, size)) => match self.files.get(rel.as_str()) {
                    Some(&entry) => self.file(file, size, entry, &path)?,
                    None if self.head.iter().any(|h| *h == rel) => {}
                    None => return Err(TrustError::TreeFileAdded { path }),
                },
            }
        }
        Ok(())
    }

    /// Checks the file `entry` of the BOM, open as `file` with `size` bytes: the size first,
    /// then the SHA-256 of its bytes as they stream, at most one past the size read.
    fn file(&mut self, file: File, size: u64, entry: &'a FileEntry, path: &Path) -> Result<()> {
        let changed =
            |actual: u64| TrustError::TreeSizeMismatch { path: path.to_owned(), expected: entry.size, actual };
        if size != entry.size {
            return Err(changed(size));
        }
        let sbom = self.sbom.is_some_and(|s| *s == entry.path);
        if sbom && entry.size > crate::sbom::MAX_SBOM as u64 {
            let limit = crate::sbom::MAX_SBOM as u64;
            return Err(BundleError::LimitExceeded { what: "SBOM size", actual: entry.size, limit }.into());
        }
        let mut kept = Vec::new();
        let mut reader = DigestAdapter::new(file.take(entry.size.saturating_add(1)));
        loop {
            let n = match reader.read(&mut self.buf) {
                Ok(0) => break,
                Ok(n) => n,
                Err(e) if e.kind() == std::io::ErrorKind::Interrupted => continue,
                Err(e) => return Err(BundleError::io("reading", path)(e).into()),
            };
            self.progress.add(n as u64);
            if sbom {
                kept.extend_from_slice(&self.buf[..n]);
            }
        }
        let read = reader.digest();
        if read.len != entry.size {
            // It grew or shrank while it was read.
            return Err(changed(read.len));
        }
        let actual = read.digest();
        if actual != entry.sha256 {
            return Err(TrustError::TreeDigestMismatch {
                path: path.to_owned(),
                expected: entry.sha256.clone(),
                actual,
            });
        }
        if sbom {
            crate::sbom::check_complete(self.bom, &kept, &entry.path)?;
        }
        self.found.insert(entry.path.as_str());
        self.bytes += entry.size;
        Ok(())
    }
}

/// An entry of the tree, open.
enum Opened {
    Folder(OwnedFd),
    /// A regular file and its size.
    File(File, u64),
}

/// Opens the entry `name` of the folder open at `parent` (`path` in the tree, for errors) if
/// it is a folder or a regular file, following no symbolic link; `None` when there is none.
/// Anything else is refused without being opened (a FIFO would hold the check, a device
/// could be read forever), saying what it is. The entry opened must be the one looked at:
/// one swapped in between is refused.
fn open_entry(parent: &OwnedFd, name: &OsStr, path: &Path) -> Result<Option<Opened>> {
    let named = match rustix::fs::statat(parent, name, AtFlags::SYMLINK_NOFOLLOW) {
        Ok(named) => named,
        Err(e) if e == rustix::io::Errno::NOENT => return Ok(None),
        Err(e) => return Err(io_error("reading metadata of", path, e)),
    };
    let kind = FileType::from_raw_mode(named.st_mode);
    let flags = match kind {
        FileType::Directory => OFlags::DIRECTORY,
        FileType::RegularFile => OFlags::NONBLOCK | OFlags::NOCTTY,
        other => {
            let reason =
                format!("{}, which an extracted tree never holds; refused without following it", kind_in_words(other));
            return Err(TrustError::TreeEntryRefused { path: path.to_owned(), reason });
        }
    };
    let flags = flags | OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(parent, name, flags, Mode::empty()).map_err(|e| io_error("opening", path, e))?;
    let opened = rustix::fs::fstat(&fd).map_err(|e| io_error("reading metadata of", path, e))?;
    if (opened.st_dev, opened.st_ino) != (named.st_dev, named.st_ino) || FileType::from_raw_mode(opened.st_mode) != kind
    {
        let reason = "replaced while it was checked".to_owned();
        return Err(TrustError::TreeEntryRefused { path: path.to_owned(), reason });
    }
    Ok(Some(match kind {
        FileType::Directory => Opened::Folder(fd),
        _ => Opened::File(File::from(fd), u64::try_from(opened.st_size).unwrap_or_default()),
    }))
}

/// What a file type that is neither a folder nor a regular file is, in words.
fn kind_in_words(kind: FileType) -> &'static str {
    match kind {
        FileType::Symlink => "a symbolic link",
        FileType::Fifo => "a FIFO",
        FileType::Socket => "a socket",
        FileType::CharacterDevice | FileType::BlockDevice => "a device",
        _ => "neither a file nor a folder",
    }
}

/// Reads the head file `name` (`/`-separated) of the tree open at `root` whole, going down
/// one folder at a time as the walk does, and refusing it above `max` bytes before reading;
/// `None` when it is not there as a file.
fn read_head_file(root: &OwnedFd, dir: &Path, name: &str, max: u64, what: &'static str) -> Result<Option<Vec<u8>>> {
    let mut path = dir.to_owned();
    let mut folder: Option<OwnedFd> = None;
    let mut parts = name.split('/').peekable();
    while let Some(part) = parts.next() {
        path.push(part);
        let opened = open_entry(folder.as_ref().unwrap_or(root), OsStr::new(part), &path)?;
        match (opened, parts.peek().is_some()) {
            (Some(Opened::Folder(fd)), true) => folder = Some(fd),
            (Some(Opened::File(file, size)), false) => {
                if size > max {
                    return Err(BundleError::LimitExceeded { what, actual: size, limit: max }.into());
                }
                let mut bytes = Vec::new();
                file.take(max.saturating_add(1)).read_to_end(&mut bytes).map_err(BundleError::io("reading", &path))?;
                if bytes.len() as u64 > max {
                    return Err(BundleError::LimitExceeded { what, actual: bytes.len() as u64, limit: max }.into());
                }
                return Ok(Some(bytes));
            }
            // Absent, or a file where a folder is named or the reverse: the walk names what
            // is there instead.
            _ => return Ok(None),
        }
    }
    Ok(None)
}

/// Reads the countersignatures `extract` copied into the tree open at `root` (`countersig/`,
/// its `*.sigstore.json` files in name order, each a regular file within `limits`' signature
/// size, the folder holding no more entries than one beside an archive may), going down as
/// the walk does; none when the tree has no such folder. Anything else there is a file the
/// walk refuses as added.
fn read_countersignatures(root: &OwnedFd, dir: &Path, limits: &Limits) -> Result<Countersignatures> {
    let mut found = Countersignatures::default();
    let folder = dir.join(TREE_FOLDER);
    let Some(Opened::Folder(fd)) = open_entry(root, OsStr::new(TREE_FOLDER), &folder)? else { return Ok(found) };
    let mut names = Vec::new();
    for entry in Dir::read_from(&fd).map_err(|e| io_error("reading", &folder, e))? {
        let entry = entry.map_err(|e| io_error("reading", &folder, e))?;
        let name = entry.file_name().to_bytes();
        if !matches!(name, b"." | b"..") {
            count_entry(&folder, names.len())?;
            names.push(OsStr::from_bytes(name).to_owned());
        }
    }
    names.sort();
    for name in &names {
        found.add(&folder, name, |path| {
            let rel = format!("{TREE_FOLDER}/{}", name.to_string_lossy());
            read_head_file(root, dir, &rel, limits.max_signature_size, "countersignature size")?
                .ok_or_else(|| TrustError::TreeFileAdded { path: path.to_owned() })
        })?;
    }
    Ok(found)
}

fn io_error(action: &'static str, path: &Path, e: rustix::io::Errno) -> TrustError {
    BundleError::Io { action, path: path.to_owned(), source: e.into() }.into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_folders_of_a_path_are_its_prefixes_before_each_slash() {
        assert_eq!(parent_folders("a/b/c").collect::<Vec<_>>(), ["a", "a/b"]);
        assert_eq!(parent_folders(genesis_bundle::PROVENANCE_PATH).collect::<Vec<_>>(), ["provenance"]);
        assert!(parent_folders(BOM_PATH).next().is_none());
    }

    /// A FIFO would hold the check until something writes to it, a link would lead out of the
    /// tree: each is refused at once, unopened, saying what it is, and a missing entry is
    /// `None`.
    #[test]
    fn entries_other_than_files_and_folders_are_refused_unopened() {
        let dir = tempfile::tempdir().unwrap();
        assert!(std::process::Command::new("mkfifo").arg(dir.path().join("fifo")).status().unwrap().success());
        std::os::unix::fs::symlink("/etc/hostname", dir.path().join("link")).unwrap();
        std::fs::write(dir.path().join("file"), b"bytes").unwrap();
        let root = rustix::fs::open(dir.path(), OFlags::RDONLY | OFlags::DIRECTORY, Mode::empty()).unwrap();
        for (name, said) in [("fifo", "a FIFO"), ("link", "a symbolic link")] {
            let path = dir.path().join(name);
            let e = open_entry(&root, OsStr::new(name), &path).err().unwrap();
            assert!(matches!(&e, TrustError::TreeEntryRefused { path: p, .. } if *p == path), "{e:?}");
            assert!(e.to_string().contains(said), "{e}");
            assert!(e.is_verification_failure(), "{e}");
        }
        assert!(matches!(
            open_entry(&root, OsStr::new("file"), &dir.path().join("file")),
            Ok(Some(Opened::File(_, 5)))
        ));
        assert!(matches!(open_entry(&root, OsStr::new("absent"), &dir.path().join("absent")), Ok(None)));
    }
}
