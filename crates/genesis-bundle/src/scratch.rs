//! Scratch output: what a process writes beside its target before renaming it into place,
//! named `.<target name>.<kind>-<16 random hex digits>`. The name is random, not the pid:
//! processes in different pid namespaces that share a volume (containers, each its own
//! pid 1) have the same pids. It is created exclusively, and a name that is taken is passed
//! over for another, never removed: it may be another process's live output. The owner holds
//! an exclusive lock (`flock`) on its scratch file or directory for as long as it exists, and
//! the kernel drops the lock with the process, so [`remove_abandoned`] tells the litter of a
//! killed run from the live output of any process, whatever its pid namespace.
//!
//! [`AtomicFile`] is the one write-then-rename of the workspace (exclusive create, write,
//! sync, rename, check what was renamed, sync the directory), and [`atomic_write`] replaces a
//! small file with it, so that neither a concurrent reader nor a crash sees the file half
//! written. What this process is still writing is listed for [`remove_live`], which an
//! interrupt handler calls. Which output waits for the disk is [`Durability`] (decision 0024).

use std::collections::hash_map::RandomState;
use std::fs::{self, File, OpenOptions, Permissions};
use std::hash::{BuildHasher as _, Hasher as _};
use std::io::{self, Write};
use std::os::unix::fs::{DirBuilderExt as _, MetadataExt as _, OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};
use std::sync::{Mutex, MutexGuard, PoisonError};

use rustix::fs::OFlags;

/// The scratch files and directories this process is writing, for [`remove_live`].
static LIVE: Mutex<Live> = Mutex::new(Live { paths: Vec::new(), closed: false });

struct Live {
    paths: Vec<PathBuf>,
    /// Set by [`remove_live`]: the process is about to exit, so no new scratch entry may be
    /// made (one made after the sweep would outlive the process).
    closed: bool,
}

fn live() -> MutexGuard<'static, Live> {
    LIVE.lock().unwrap_or_else(PoisonError::into_inner)
}

/// Removes every scratch file and directory this process is still writing, and returns how
/// many it removed: for an interrupt handler, which exits next, so that an interrupted run
/// leaves nothing half-written. What was already put in place stays. From then on no scratch
/// entry can be made: a thread still downloading or packing gets an `Interrupted` error
/// instead of a file the exit would leave behind.
pub fn remove_live() -> usize {
    let mut live = live();
    live.closed = true;
    let paths = std::mem::take(&mut live.paths);
    paths.iter().filter(|path| remove_entry(path).is_ok()).count()
}

/// A random 64-bit number. `RandomState` is seeded from the operating system's random source,
/// so the names made of it are neither predictable by another user nor shared by processes in
/// different pid namespaces; the count keeps the names of one process apart.
fn random() -> u64 {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let mut hasher = RandomState::new().build_hasher();
    hasher.write_u64(CALLS.fetch_add(1, Ordering::Relaxed));
    hasher.finish()
}

/// Fresh scratch names beside `target`: `.<name>.<kind>-<16 random hex digits>`.
fn scratch_names(target: &Path, kind: &'static str) -> io::Result<impl FnMut() -> PathBuf + use<>> {
    let name = target
        .file_name()
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("{} names no file", target.display())))?;
    let (parent, name) = (parent_of(target), name.to_string_lossy().into_owned());
    Ok(move || parent.join(format!(".{name}.{kind}-{:016x}", random())))
}

fn parent_of(target: &Path) -> PathBuf {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// How many names a scratch creation tries. Each is random, so a second try is only needed
/// when someone planted an entry at the first or a cleanup took the one just made.
const ATTEMPTS: usize = 8;

/// A scratch file or directory of this process: created under a fresh name, locked and
/// listed for [`remove_live`] for as long as it exists. Dropped before it is put in place, it
/// is removed.
#[derive(Debug)]
pub(crate) struct Scratch {
    path: PathBuf,
    /// Open on the scratch file or directory, holding its lock.
    handle: File,
    in_place: bool,
}

impl Scratch {
    /// Creates a scratch entry with `create` under the first free name of `names`, locks it,
    /// and checks that the name still holds it (a cleanup in another process may have taken
    /// it for litter before the lock). `create` must create exclusively: an entry already at
    /// a name is an `AlreadyExists` error, and left as it is.
    fn create(mut names: impl FnMut() -> PathBuf, create: impl Fn(&Path) -> io::Result<File>) -> io::Result<Scratch> {
        let mut tried = Vec::new();
        for _ in 0..ATTEMPTS {
            // Held from creation to listing, so [`remove_live`] either finds the entry or
            // runs first and the entry is never made.
            let mut live = live();
            if live.closed {
                return Err(io::Error::new(io::ErrorKind::Interrupted, "interrupted: no new output is started"));
            }
            let path = names();
            let handle = match create(&path) {
                Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
                    tried.push(path);
                    continue;
                }
                other => other?,
            };
            let locked = match handle.try_lock() {
                Ok(()) => true,
                Err(fs::TryLockError::WouldBlock) => false,
                Err(fs::TryLockError::Error(e)) => {
                    let _ = remove_entry(&path);
                    return Err(io::Error::new(e.kind(), format!("cannot lock {}: {e}", path.display())));
                }
            };
            if locked && holds(&path, &handle)? {
                live.paths.push(path.clone());
                return Ok(Scratch { path, handle, in_place: false });
            }
            // Taken for litter meanwhile, by a cleanup that removes it: another name.
            tried.push(path);
        }
        let tried: Vec<String> = tried.iter().map(|p| p.display().to_string()).collect();
        Err(io::Error::new(
            io::ErrorKind::AlreadyExists,
            format!("no free scratch name: {} are taken by entries this process did not make", tried.join(", ")),
        ))
    }

    /// A scratch directory beside `target` (mode 0700), for a tree staged whole.
    pub(crate) fn dir(target: &Path) -> io::Result<Scratch> {
        Scratch::create(scratch_names(target, "staging")?, |path| {
            fs::DirBuilder::new().mode(0o700).create(path)?;
            // Not through a symlink or into a FIFO put at the name since.
            let flags = OFlags::DIRECTORY | OFlags::NOFOLLOW;
            OpenOptions::new().read(true).custom_flags(flags.bits().cast_signed()).open(path).inspect_err(|_| {
                let _ = fs::remove_dir(path);
            })
        })
    }

    /// The scratch file or directory.
    pub(crate) fn path(&self) -> &Path {
        &self.path
    }

    /// Renames the scratch entry to `target` ([`rename_checked`]); from then on it is the
    /// target, removed neither on drop nor by [`remove_live`].
    pub(crate) fn rename_to(&mut self, target: &Path) -> io::Result<()> {
        rename_checked(&self.handle, &self.path, target)?;
        self.in_place();
        Ok(())
    }

    fn in_place(&mut self) {
        self.in_place = true;
        live().paths.retain(|p| *p != self.path);
    }
}

impl Drop for Scratch {
    fn drop(&mut self) {
        // Only what the name still holds: never what someone put there since.
        if !self.in_place && holds(&self.path, &self.handle).unwrap_or(false) {
            let _ = remove_entry(&self.path);
        }
        live().paths.retain(|p| *p != self.path);
    }
}

/// Whether `path` names the file or directory `handle` is open on (the same device and
/// inode), not following a symlink at `path`.
fn holds(path: &Path, handle: &File) -> io::Result<bool> {
    let open = handle.metadata()?;
    match fs::symlink_metadata(path) {
        Ok(named) => Ok((named.dev(), named.ino()) == (open.dev(), open.ino())),
        Err(e) if e.kind() == io::ErrorKind::NotFound => Ok(false),
        Err(e) => Err(e),
    }
}

/// Removes the entry at `path`: a directory with all it holds, a symlink itself (never what
/// it points at).
fn remove_entry(path: &Path) -> io::Result<()> {
    if fs::symlink_metadata(path)?.is_dir() { fs::remove_dir_all(path) } else { fs::remove_file(path) }
}

/// The permissions of a file put in place by [`AtomicFile`] or [`atomic_write`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// The read, write and execute bits of the regular file it replaces, when this user owns
    /// that file; otherwise (no file, a symlink at the name, another owner's file) `0666`
    /// less the umask. Setuid, setgid and sticky bits are never kept, and neither are the
    /// bits of a file someone else put at the name.
    OfTarget,
    /// Exactly these bits, e.g. `0o600` for a secret or `0o755` for a program. The scratch
    /// file is created with them, so its content is never readable more widely.
    Exactly(u32),
}

/// The bits [`Mode::OfTarget`] keeps of the file at `target`, if any.
fn kept_bits(target: &Path) -> Option<u32> {
    let meta = fs::symlink_metadata(target).ok().filter(fs::Metadata::is_file)?;
    (meta.uid() == rustix::process::geteuid().as_raw()).then_some(meta.mode() & 0o777)
}

/// Whether putting a file in place waits for the disk (decision 0024).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Durability {
    /// The data is synced before the rename and the directory after it: for files nothing
    /// else would find damaged after a power cut (the anti-rollback state, credentials,
    /// cached blobs).
    Synced,
    /// The rename alone: for output that every reader verifies anyway (a bundle and its
    /// sidecars, a runtime export, a download), so writing gigabytes does not wait for the
    /// disk; a file torn by a power cut fails its next verification.
    CheckedOnRead,
}

/// A file being written under a scratch name beside its target, renamed over the target by
/// [`AtomicFile::commit`]; dropped uncommitted (an error, a panic), it removes the scratch
/// file, so the target is the old file or the whole new one, never a part. An interrupt
/// handler removes it through [`remove_live`].
#[derive(Debug)]
pub struct AtomicFile {
    scratch: Scratch,
    target: PathBuf,
}

impl AtomicFile {
    /// Starts replacing `target` through a scratch file of this call alone beside it,
    /// `.<name>.partial-<random>`: concurrent writers of one target, in this process or
    /// another, do not get in each other's way, and the last commit wins, whole.
    pub fn create(target: &Path, mode: Mode) -> io::Result<AtomicFile> {
        Self::create_named(target, mode, scratch_names(target, "partial")?)
    }

    /// [`AtomicFile::create`] under the first free name of `names`.
    fn create_named(target: &Path, mode: Mode, names: impl FnMut() -> PathBuf) -> io::Result<AtomicFile> {
        let bits = match mode {
            Mode::Exactly(bits) => Some(bits),
            Mode::OfTarget => kept_bits(target),
        };
        let scratch = Scratch::create(names, |path| {
            OpenOptions::new().write(true).create_new(true).mode(bits.unwrap_or(0o666)).open(path)
        })?;
        // Exactly the bits asked for or kept, whatever the umask took away at creation.
        if let Some(bits) = bits {
            scratch.handle.set_permissions(Permissions::from_mode(bits))?;
        }
        Ok(AtomicFile { scratch, target: target.to_owned() })
    }

    /// The scratch file's path.
    pub fn scratch_path(&self) -> &Path {
        &self.scratch.path
    }

    /// The scratch file, for writers that take a [`File`].
    pub fn as_file_mut(&mut self) -> &mut File {
        &mut self.scratch.handle
    }

    /// Renames the written file over the target ([`persist`]).
    pub fn commit(mut self, durability: Durability) -> io::Result<()> {
        persist(&self.scratch.handle, &self.scratch.path, &self.target, durability)?;
        self.scratch.in_place();
        Ok(())
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.scratch.handle.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.scratch.handle.flush()
    }
}

/// Puts the completely written `file`, open at `scratch`, in place as `target` with one
/// rename, checked ([`rename_checked`]); with [`Durability::Synced`], its data reaches the
/// disk before the rename and the rename before this returns. The last step of every
/// write-then-rename ([`AtomicFile`], and a resumable download that keeps its partial file
/// between runs).
pub fn persist(file: &File, scratch: &Path, target: &Path, durability: Durability) -> io::Result<()> {
    if durability == Durability::Synced {
        file.sync_all()?;
    }
    rename_checked(file, scratch, target)?;
    match durability {
        Durability::Synced => sync_parent(target),
        Durability::CheckedOnRead => Ok(()),
    }
}

/// Renames `scratch` to `target` once the name is checked to still hold the file `handle` is
/// open on. A rename moves whatever is at the name at that moment, and in a shared folder
/// someone may have swapped another file or directory in since the last write: that one is
/// never published, and the error says so. Checked before the rename, not after it: by then a
/// concurrent writer of the same target may rightly have replaced ours, and removing the
/// target would lose their file. What remains is the instant between check and rename, on a
/// random name.
pub(crate) fn rename_checked(handle: &File, scratch: &Path, target: &Path) -> io::Result<()> {
    if !holds(scratch, handle)? {
        return Err(io::Error::other(format!(
            "{} was swapped for another file before its rename to {}; nothing was published",
            scratch.display(),
            target.display()
        )));
    }
    fs::rename(scratch, target)
}

/// Writes `bytes` to `target` so that a reader, a concurrent writer or a crash sees the old
/// content or the new, never an empty or partial file: an [`AtomicFile`] of this call alone,
/// synced ([`Durability::Synced`]), keeping the permissions of the file it replaces
/// ([`Mode::OfTarget`]). A caller that reads, changes and writes a file back serialises those
/// steps itself (with a lock).
pub fn atomic_write(target: &Path, bytes: &[u8]) -> io::Result<()> {
    atomic_write_with_mode(target, bytes, Mode::OfTarget)
}

/// [`atomic_write`] with the permissions `mode`.
pub fn atomic_write_with_mode(target: &Path, bytes: &[u8], mode: Mode) -> io::Result<()> {
    let mut file = AtomicFile::create(target, mode)?;
    file.write_all(bytes)?;
    file.commit(Durability::Synced)
}

/// [`atomic_write_with_mode`] into `folder` through the folder's own descriptor, opened without
/// following a link, with permissions exactly `mode`: for a folder others can write beside
/// (the countersignatures next to an archive), where a link put in the folder's place must be
/// refused, never written through, and nothing be created or removed anywhere else.
pub fn atomic_write_in_folder(folder: &Path, name: &str, bytes: &[u8], mode: u32) -> io::Result<()> {
    use rustix::fs::{AtFlags, Mode as Permissions};
    let dir = rustix::fs::open(
        folder,
        OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::RDONLY | OFlags::CLOEXEC,
        Permissions::empty(),
    )?;
    let scratch = format!(".{name}.partial-{}", std::process::id());
    // One an earlier run with this process id left when it was killed: never a link's target,
    // as unlinkat removes the name itself.
    let _ = rustix::fs::unlinkat(&dir, scratch.as_str(), AtFlags::empty());
    let created = OFlags::CREATE | OFlags::EXCL | OFlags::WRONLY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
    let fd = rustix::fs::openat(&dir, scratch.as_str(), created, Permissions::from_raw_mode(mode))?;
    let written = (|| -> io::Result<()> {
        rustix::fs::fchmod(&fd, Permissions::from_raw_mode(mode))?;
        let mut file = File::from(fd);
        file.write_all(bytes)?;
        file.sync_all()?;
        rustix::fs::renameat(&dir, scratch.as_str(), &dir, name)?;
        Ok(rustix::fs::fsync(&dir)?)
    })();
    if written.is_err() {
        let _ = rustix::fs::unlinkat(&dir, scratch.as_str(), AtFlags::empty());
    }
    written
}

/// Makes the directory entry of `path` (a file just created or renamed there) durable:
/// without this, a power cut can undo a rename whose file data was already on disk.
pub(crate) fn sync_parent(path: &Path) -> io::Result<()> {
    File::open(parent_of(path))?.sync_all()
}

/// Removes the scratch output of `target` of `kind` (`partial`, `staging`) that nobody is
/// writing any more: left by a run killed outright (SIGKILL, a power cut), when no cleanup
/// could happen. Whether anybody is writing it is its lock: one whose lock can be taken is
/// abandoned, whatever pid namespace, container or host wrote it, and one that is locked is
/// left alone. Anything but a regular file or a directory at a scratch name (a symlink, a
/// FIFO) is never live output and goes too, unopened. Best effort: a failure here only leaves
/// litter.
pub fn remove_abandoned(target: &Path, kind: &str) {
    let Some(name) = target.file_name().map(|n| n.to_string_lossy().into_owned()) else { return };
    let prefix = format!(".{name}.{kind}-");
    let Ok(entries) = fs::read_dir(parent_of(target)) else { return };
    for entry in entries.flatten() {
        if entry.file_name().to_string_lossy().starts_with(&prefix) {
            remove_if_abandoned(&entry.path());
        }
    }
}

/// Removes the scratch entry at `path` if its lock can be taken ([`remove_abandoned`]).
fn remove_if_abandoned(path: &Path) {
    let Ok(meta) = fs::symlink_metadata(path) else { return };
    // Scratch output is a regular file or a directory: anything else at its name (a symlink,
    // a FIFO) is nobody's live output, and goes without being opened.
    if !meta.is_file() && !meta.is_dir() {
        let _ = fs::remove_file(path);
        return;
    }
    // Not through a symlink, nor waiting for a writer, if one was swapped in since.
    let flags = OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY;
    let Ok(handle) = OpenOptions::new().read(true).custom_flags(flags.bits().cast_signed()).open(path) else {
        return;
    };
    // Held until the handle closes, after the removal.
    if handle.try_lock().is_ok() && holds(path, &handle).unwrap_or(false) {
        tracing::info!(path = %path.display(), "removing output abandoned by a killed run");
        let _ = remove_entry(path);
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
    }

    fn mode(path: &Path) -> u32 {
        fs::metadata(path).unwrap().permissions().mode() & 0o7777
    }

    /// Written through the folder's descriptor: the file appears whole with its mode and no
    /// scratch is left; a link in the folder's place is refused and nothing lands where it
    /// points.
    #[test]
    fn a_write_in_a_folder_never_goes_through_a_link_in_its_place() {
        let dir = tempfile::tempdir().unwrap();
        let folder = dir.path().join("x.countersig");
        fs::create_dir(&folder).unwrap();
        atomic_write_in_folder(&folder, "a.json", b"{}\n", 0o644).unwrap();
        assert_eq!(fs::read(folder.join("a.json")).unwrap(), b"{}\n");
        assert_eq!(mode(&folder.join("a.json")), 0o644);
        assert_eq!(names_in(&folder), ["a.json"]);

        let elsewhere = dir.path().join("elsewhere");
        fs::create_dir(&elsewhere).unwrap();
        let linked = dir.path().join("y.countersig");
        std::os::unix::fs::symlink(&elsewhere, &linked).unwrap();
        let refused = atomic_write_in_folder(&linked, "a.json", b"{}\n", 0o644).unwrap_err();
        // Linux says ENOTDIR for a link opened with O_DIRECTORY | O_NOFOLLOW; ELOOP elsewhere.
        let link_refused = [rustix::io::Errno::NOTDIR, rustix::io::Errno::LOOP].map(|e| Some(e.raw_os_error()));
        assert!(link_refused.contains(&refused.raw_os_error()), "{refused}");
        assert!(names_in(&elsewhere).is_empty(), "nothing written where the link points");
    }

    /// The names a test hands [`AtomicFile::create_named`]: `first`, then fresh ones.
    fn names_from(target: &Path, first: Vec<PathBuf>) -> impl FnMut() -> PathBuf + use<> {
        let mut fresh = scratch_names(target, "partial").unwrap();
        let mut first = first.into_iter();
        move || first.next().unwrap_or_else(&mut fresh)
    }

    /// Liveness is the owner's lock, not a pid: a staging directory named after a pid that
    /// runs nowhere here (another pid namespace's, or one hidden by `hidepid`) but locked by
    /// its writer is left alone, and goes once the writer is gone.
    #[test]
    fn abandoned_staging_is_removed_and_a_locked_one_left_alone_whatever_its_pid() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let abandoned = dir.path().join(".out.staging-4000000000");
        let live = dir.path().join(".out.staging-4000000001");
        let other = dir.path().join(".other.staging-4000000000");
        for d in [&abandoned, &live, &other] {
            fs::create_dir(d).unwrap();
        }
        fs::write(live.join("blob"), b"being written").unwrap();
        let writer = File::open(&live).unwrap();
        writer.lock().unwrap();
        remove_abandoned(&target, "staging");
        assert!(!abandoned.exists());
        assert!(live.join("blob").exists() && other.exists());
        drop(writer);
        remove_abandoned(&target, "staging");
        assert!(!live.exists(), "once its writer is gone, it is litter");
    }

    /// Scratch files: the one being written stays, and litter goes, whatever sits at its
    /// name (a file, a FIFO that is not waited on, a symlink removed without touching what
    /// it points at).
    #[test]
    fn abandoned_scratch_files_are_removed_and_one_being_written_kept() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let victim = dir.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        let stale = dir.path().join(".out.partial-4000000000-7");
        fs::write(&stale, b"x").unwrap();
        let fifo = dir.path().join(".out.partial-fifo");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        std::os::unix::fs::symlink(&victim, dir.path().join(".out.partial-link")).unwrap();
        let mut writing = AtomicFile::create(&target, Mode::OfTarget).unwrap();
        writing.write_all(b"new").unwrap();
        remove_abandoned(&target, "partial");
        let scratch = writing.scratch_path().file_name().unwrap().to_string_lossy().into_owned();
        assert_eq!(names_in(dir.path()), [scratch, "victim".to_owned()]);
        assert_eq!(fs::read(&victim).unwrap(), b"keep");
        writing.commit(Durability::CheckedOnRead).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
    }

    /// Two writers of one target whose scratch names come out the same (as pid and count did
    /// for processes in different pid namespaces sharing a volume): the second passes over
    /// the name, never touching the first one's file, and each commit puts its own bytes in
    /// place, whole.
    #[test]
    fn a_writer_whose_scratch_name_is_taken_picks_another_and_never_touches_the_first() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let mut first = AtomicFile::create(&target, Mode::OfTarget).unwrap();
        first.write_all(b"first").unwrap();
        let taken = first.scratch_path().to_owned();
        let mut second =
            AtomicFile::create_named(&target, Mode::OfTarget, names_from(&target, vec![taken.clone()])).unwrap();
        assert_ne!(second.scratch_path(), taken);
        second.write_all(b"second").unwrap();
        assert_eq!(fs::read(&taken).unwrap(), b"first");
        first.commit(Durability::CheckedOnRead).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"first");
        second.commit(Durability::CheckedOnRead).unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"second");
        assert_eq!(names_in(dir.path()), ["out"], "no scratch file is left behind");
    }

    /// Whatever sits at a scratch name (a symlink planted in a shared folder to aim the write
    /// at another file, another process's file) is neither written through nor removed: the
    /// write goes to a fresh name.
    #[test]
    fn an_entry_at_a_scratch_name_is_neither_written_through_nor_removed() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        let target = dir.path().join("out.tar");
        let planted = dir.path().join(".out.tar.partial-planted");
        std::os::unix::fs::symlink(&victim, &planted).unwrap();
        let other = dir.path().join(".out.tar.partial-other");
        fs::write(&other, b"another writer's").unwrap();
        let names = names_from(&target, vec![planted.clone(), other.clone()]);
        let mut file = AtomicFile::create_named(&target, Mode::OfTarget, names).unwrap();
        file.write_all(b"new").unwrap();
        file.commit(Durability::Synced).unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"keep", "the link is not written through");
        assert!(fs::symlink_metadata(&planted).unwrap().file_type().is_symlink());
        assert_eq!(fs::read(&other).unwrap(), b"another writer's");
        assert_eq!(fs::read(&target).unwrap(), b"new");
    }

    /// A rename publishes whatever is at the scratch name: in a shared folder, another file
    /// swapped in after the last write would be put in place. The commit finds that what it
    /// renamed is not its file, removes it and fails.
    #[test]
    fn a_scratch_file_swapped_before_the_commit_is_never_published() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let mut file = AtomicFile::create(&target, Mode::OfTarget).unwrap();
        file.write_all(b"ours").unwrap();
        let swapped = dir.path().join("theirs");
        fs::write(&swapped, b"theirs").unwrap();
        let file_scratch = file.scratch_path().to_owned();
        fs::rename(&swapped, &file_scratch).unwrap();
        let e = file.commit(Durability::Synced).unwrap_err();
        assert!(e.to_string().contains("was swapped for another file"), "{e}");
        assert!(!target.exists(), "the swapped-in file is not published");
        // What was swapped in is not ours to remove: it stays under the scratch name.
        assert_eq!(fs::read(file_scratch).unwrap(), b"theirs");
    }

    /// A replacement keeps the read, write and execute bits of a file this user owns, never
    /// setuid, setgid or sticky; a file of another owner passes on nothing (checked when the
    /// test runs as root, the one user who can make one).
    #[test]
    fn a_replacement_keeps_only_the_rwx_bits_of_its_own_users_file() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("tool");
        fs::write(&target, b"old").unwrap();
        fs::set_permissions(&target, Permissions::from_mode(0o7750)).unwrap();
        atomic_write(&target, b"new").unwrap();
        assert_eq!(mode(&target), 0o750);

        if rustix::process::geteuid().is_root() {
            let fresh = dir.path().join("fresh");
            atomic_write(&fresh, b"new").unwrap();
            let foreign = dir.path().join("foreign");
            fs::write(&foreign, b"old").unwrap();
            fs::set_permissions(&foreign, Permissions::from_mode(0o4707)).unwrap();
            std::os::unix::fs::chown(&foreign, Some(65534), Some(65534)).unwrap();
            atomic_write(&foreign, b"new").unwrap();
            assert_eq!(mode(&foreign), mode(&fresh), "another owner's bits are not kept");
        }
    }

    /// An interrupt handler learns the random names from the list: what is being written is
    /// on it, what was committed or dropped is not.
    #[test]
    fn scratch_output_is_listed_for_an_interrupt_until_it_is_committed_or_dropped() {
        let dir = tempfile::tempdir().unwrap();
        let listed = |path: &Path| live().paths.iter().any(|p| p == path);
        let file = AtomicFile::create(&dir.path().join("a"), Mode::OfTarget).unwrap();
        let staging = crate::Staging::begin(&dir.path().join("b")).unwrap();
        let dropped = AtomicFile::create(&dir.path().join("c"), Mode::OfTarget).unwrap();
        let paths = [file.scratch_path(), staging.path(), dropped.scratch_path()].map(Path::to_owned);
        assert!(paths.iter().all(|p| listed(p)), "{paths:?}");
        file.commit(Durability::CheckedOnRead).unwrap();
        staging.commit().unwrap();
        drop(dropped);
        assert!(!paths.iter().any(|p| listed(p)), "{paths:?}");
        assert_eq!(names_in(dir.path()), ["a", "b"]);
    }

    /// A reader polling the file while it is rewritten sees one whole version or the other,
    /// never an empty or partial file (`fs::write`, which truncates first, fails this). That
    /// the data and the rename reached the disk (`sync_all`) is not observable short of
    /// cutting the power: what is tested is the atomicity.
    #[test]
    fn a_reader_never_sees_a_partial_file_while_it_is_rewritten() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("state.json");
        let versions = [vec![b'a'; 64 << 10], vec![b'b'; 64 << 10]];
        atomic_write(&target, &versions[0]).unwrap();
        std::thread::scope(|s| {
            let writer = s.spawn(|| {
                for i in 0..100 {
                    atomic_write(&target, &versions[i % 2]).unwrap();
                }
            });
            loop {
                let seen = fs::read(&target).unwrap();
                assert!(versions.contains(&seen), "read {} bytes that are neither version", seen.len());
                if writer.is_finished() {
                    break;
                }
            }
        });
        assert_eq!(names_in(dir.path()), ["state.json"], "no scratch file is left behind");
    }

    #[test]
    fn concurrent_writers_of_one_file_each_replace_it_whole() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        std::thread::scope(|s| {
            for t in 0..8u8 {
                let target = &target;
                s.spawn(move || {
                    for _ in 0..20 {
                        atomic_write(target, &[t; 4096]).unwrap();
                    }
                });
            }
        });
        let last = fs::read(&target).unwrap();
        assert!(last.len() == 4096 && last.iter().all(|b| *b == last[0]), "one writer's bytes, whole");
        assert_eq!(names_in(dir.path()), ["out"], "no scratch file is left behind");
    }

    #[test]
    fn atomic_write_never_follows_a_symlink_planted_at_its_target() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        let target = dir.path().join("out");
        std::os::unix::fs::symlink(&victim, &target).unwrap();
        atomic_write(&target, b"new").unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"keep", "the link is replaced, not written through");
        assert_eq!(fs::read(&target).unwrap(), b"new");
    }

    #[test]
    fn a_replaced_file_keeps_its_permissions_unless_told_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        fs::write(&target, b"old").unwrap();
        fs::set_permissions(&target, Permissions::from_mode(0o640)).unwrap();
        atomic_write(&target, b"new").unwrap();
        assert_eq!(mode(&target), 0o640);
        atomic_write_with_mode(&target, b"secret", Mode::Exactly(0o600)).unwrap();
        assert_eq!((mode(&target), fs::read(&target).unwrap()), (0o600, b"secret".to_vec()));
    }

    #[test]
    fn an_atomic_file_dropped_before_its_commit_leaves_the_target_as_it_was() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        fs::write(&target, b"old").unwrap();
        let mut file = AtomicFile::create(&target, Mode::OfTarget).unwrap();
        file.write_all(b"half").unwrap();
        drop(file);
        assert_eq!((fs::read(&target).unwrap(), names_in(dir.path())), (b"old".to_vec(), vec!["out".to_owned()]));
        let mut file = AtomicFile::create(&target, Mode::OfTarget).unwrap();
        file.write_all(b"new").unwrap();
        file.commit(Durability::CheckedOnRead).unwrap();
        assert_eq!((fs::read(&target).unwrap(), names_in(dir.path())), (b"new".to_vec(), vec!["out".to_owned()]));
    }
}
