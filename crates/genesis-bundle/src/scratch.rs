//! Scratch output: what a process writes beside its target before renaming it into place,
//! named `.<target name>.<kind>-<pid>` so that each run owns its own and a later run can tell
//! which ones were abandoned by a process that was killed. [`AtomicFile`] is the one
//! write-then-rename of the workspace (exclusive create, write, sync, rename, sync the
//! directory), and [`atomic_write`] replaces a small file with it, so that neither a
//! concurrent reader nor a crash sees the file half written. Which output waits for the disk
//! is [`Durability`] (decision 0024).

use std::fs::{self, File, OpenOptions, Permissions};
use std::io::{self, Write};
use std::os::unix::fs::{OpenOptionsExt as _, PermissionsExt as _};
use std::path::{Path, PathBuf};
use std::sync::atomic::{AtomicU64, Ordering};

/// The scratch path of `target` for this process, e.g. `.demo.tar.zst.partial-4242`.
pub fn scratch_path(target: &Path, kind: &str) -> Option<PathBuf> {
    let name = target.file_name()?.to_string_lossy();
    Some(parent_of(target).join(format!(".{name}.{kind}-{}", std::process::id())))
}

fn parent_of(target: &Path) -> PathBuf {
    match target.parent() {
        Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
        _ => PathBuf::from("."),
    }
}

/// Creates the scratch file `path` for writing, exclusively (`O_CREAT|O_EXCL`): whatever sits
/// at the name (a symlink planted in a shared folder to aim the write at another file, or what
/// an earlier process with the same pid left) is never opened, let alone written through. A
/// scratch name belongs to this process, so such an entry is unlinked (the entry itself, never
/// what a link points at) and the creation tried once more; where it cannot be unlinked
/// (another user's entry in a sticky folder such as `/tmp`), the error says what is in the way.
pub fn create(path: &Path) -> io::Result<File> {
    create_with_mode(path, 0o666)
}

/// [`create`], with the file's permission bits `mode` (less the umask) from the start.
fn create_with_mode(path: &Path, mode: u32) -> io::Result<File> {
    let create_new = || OpenOptions::new().write(true).create_new(true).mode(mode).open(path);
    match create_new() {
        Err(e) if e.kind() == io::ErrorKind::AlreadyExists => {
            fs::remove_file(path).map_err(|e| {
                io::Error::new(e.kind(), format!("{} is in the way and cannot be removed ({e})", path.display()))
            })?;
            create_new()
        }
        other => other,
    }
}

/// The permissions of a file put in place by [`AtomicFile`] or [`atomic_write`].
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Mode {
    /// Those of the regular file it replaces (never those of a symlink at the name); a new
    /// file gets `0666` less the umask.
    OfTarget,
    /// Exactly these bits, e.g. `0o600` for a secret or `0o755` for a program. The scratch
    /// file is created with them, so its content is never readable more widely.
    Exactly(u32),
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

/// How many [`AtomicFile::create`] calls this process made: the last part of their scratch
/// names.
static CALLS: AtomicU64 = AtomicU64::new(0);

/// A file being written under a scratch name beside its target, renamed over the target by
/// [`AtomicFile::commit`]; dropped uncommitted (an error, a panic), it removes the scratch
/// file, so the target is the old file or the whole new one, never a part. The scratch file
/// is created exclusively ([`create`]: never an existing file or a planted symlink).
#[derive(Debug)]
pub struct AtomicFile {
    file: File,
    scratch: PathBuf,
    target: PathBuf,
    committed: bool,
}

impl AtomicFile {
    /// Starts replacing `target` through a scratch file of this call alone,
    /// `.<name>.partial-<pid>-<call>`: concurrent writers of one target do not lock each other
    /// out, and the last commit wins, whole.
    pub fn create(target: &Path, mode: Mode) -> io::Result<AtomicFile> {
        let scratch = scratch_path(target, "partial").ok_or_else(|| {
            io::Error::new(io::ErrorKind::InvalidInput, format!("{} names no file", target.display()))
        })?;
        // Still recognised by `remove_abandoned` once the process is gone.
        let mut unique = scratch.into_os_string();
        unique.push(format!("-{}", CALLS.fetch_add(1, Ordering::Relaxed)));
        Self::create_at(target, PathBuf::from(unique), mode)
    }

    /// Starts replacing `target` through `scratch`, a name beside it that the caller knows
    /// (one a signal handler removes, such as [`scratch_path`]`(target, "partial")`).
    pub fn create_at(target: &Path, scratch: PathBuf, mode: Mode) -> io::Result<AtomicFile> {
        let bits = match mode {
            Mode::Exactly(bits) => Some(bits),
            Mode::OfTarget => {
                fs::symlink_metadata(target).ok().filter(|m| m.is_file()).map(|m| m.permissions().mode() & 0o7777)
            }
        };
        let file = create_with_mode(&scratch, bits.unwrap_or(0o666))?;
        let file = AtomicFile { file, scratch, target: target.to_owned(), committed: false };
        // Exactly the bits asked for or kept, whatever the umask took away at creation.
        if let Some(bits) = bits {
            file.file.set_permissions(Permissions::from_mode(bits))?;
        }
        Ok(file)
    }

    /// The scratch file's path.
    pub fn scratch_path(&self) -> &Path {
        &self.scratch
    }

    /// The scratch file, for writers that take a [`File`].
    pub fn as_file_mut(&mut self) -> &mut File {
        &mut self.file
    }

    /// Renames the written file over the target ([`persist`]).
    pub fn commit(mut self, durability: Durability) -> io::Result<()> {
        let persisted = persist(&self.file, &self.scratch, &self.target, durability);
        self.committed = persisted.is_ok();
        persisted
    }
}

impl Write for AtomicFile {
    fn write(&mut self, buf: &[u8]) -> io::Result<usize> {
        self.file.write(buf)
    }

    fn flush(&mut self) -> io::Result<()> {
        self.file.flush()
    }
}

impl Drop for AtomicFile {
    fn drop(&mut self) {
        if !self.committed {
            let _ = fs::remove_file(&self.scratch);
        }
    }
}

/// Puts the completely written `file`, open at `scratch`, in place as `target` with one
/// rename; with [`Durability::Synced`], its data reaches the disk before the rename and the
/// rename before this returns. The last step of every write-then-rename ([`AtomicFile`], and
/// a resumable download that keeps its partial file between runs).
pub fn persist(file: &File, scratch: &Path, target: &Path, durability: Durability) -> io::Result<()> {
    if durability == Durability::Synced {
        file.sync_all()?;
    }
    fs::rename(scratch, target)?;
    match durability {
        Durability::Synced => sync_parent(target),
        Durability::CheckedOnRead => Ok(()),
    }
}

/// Writes `bytes` to `target` so that a reader, a concurrent writer or a crash sees the old
/// content or the new, never an empty or partial file: an [`AtomicFile`] of this call alone,
/// synced ([`Durability::Synced`]), keeping the permissions of the file it replaces. A caller
/// that reads, changes and writes a file back serialises those steps itself (with a lock).
pub fn atomic_write(target: &Path, bytes: &[u8]) -> io::Result<()> {
    atomic_write_with_mode(target, bytes, Mode::OfTarget)
}

/// [`atomic_write`] with the permissions `mode`.
pub fn atomic_write_with_mode(target: &Path, bytes: &[u8], mode: Mode) -> io::Result<()> {
    let mut file = AtomicFile::create(target, mode)?;
    file.write_all(bytes)?;
    file.commit(Durability::Synced)
}

/// Makes the directory entry of `path` (a file just created or renamed there) durable:
/// without this, a power cut can undo a rename whose file data was already on disk.
pub fn sync_parent(path: &Path) -> io::Result<()> {
    File::open(parent_of(path))?.sync_all()
}

/// Removes scratch output of `target` left by processes that no longer run (killed by
/// SIGKILL or a power cut, when no cleanup could happen). Live processes' scratch output is
/// left alone. Best effort: a failure here only leaves litter.
pub fn remove_abandoned(target: &Path, kind: &str) {
    let Some(name) = target.file_name().map(|n| n.to_string_lossy().into_owned()) else { return };
    let prefix = format!(".{name}.{kind}-");
    let Ok(entries) = fs::read_dir(parent_of(target)) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        // `<pid>`, or `<pid>-<call>` for `atomic_write`'s scratch files.
        let pid = file_name.strip_prefix(&prefix).and_then(|p| p.split('-').next()?.parse::<u32>().ok());
        let Some(pid) = pid else { continue };
        if pid != std::process::id() && !Path::new("/proc").join(pid.to_string()).exists() {
            tracing::info!(path = %entry.path().display(), "removing output abandoned by a killed run");
            let _ = fs::remove_dir_all(entry.path()).or_else(|_| fs::remove_file(entry.path()));
        }
    }
}

#[cfg(test)]
mod tests {
    use std::os::unix::fs::PermissionsExt as _;

    use super::*;

    #[test]
    fn removes_only_dead_processes_scratch() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let dead = dir.path().join(".out.staging-4000000000");
        let live = dir.path().join(format!(".out.staging-{}", std::process::id()));
        let other = dir.path().join(".other.staging-4000000000");
        for d in [&dead, &live, &other] {
            fs::create_dir(d).unwrap();
        }
        remove_abandoned(&target, "staging");
        assert!(!dead.exists());
        assert!(live.exists() && other.exists());
        assert_eq!(scratch_path(&target, "staging"), Some(live));
    }

    #[test]
    fn atomic_write_scratch_files_of_dead_processes_are_removed() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let dead = dir.path().join(".out.partial-4000000000-7");
        let live = dir.path().join(format!(".out.partial-{}-7", std::process::id()));
        for f in [&dead, &live] {
            fs::write(f, b"x").unwrap();
        }
        remove_abandoned(&target, "partial");
        assert!(!dead.exists() && live.exists());
    }

    fn names_in(dir: &Path) -> Vec<String> {
        let mut names: Vec<String> =
            fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
        names.sort();
        names
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
    fn a_scratch_file_is_created_anew_never_through_a_symlink_planted_at_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let victim = dir.path().join("victim");
        fs::write(&victim, b"keep").unwrap();
        let scratch = scratch_path(&dir.path().join("out.tar"), "partial").unwrap();
        std::os::unix::fs::symlink(&victim, &scratch).unwrap();
        create(&scratch).unwrap().write_all(b"new").unwrap();
        assert_eq!(fs::read(&victim).unwrap(), b"keep", "the link is removed, not written through");
        assert!(!fs::symlink_metadata(&scratch).unwrap().file_type().is_symlink());
        assert_eq!(fs::read(&scratch).unwrap(), b"new");
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

    /// A scratch name left by an earlier process with the same pid (pid reuse) is removed
    /// and the write goes on, as [`create`] does, instead of failing.
    #[test]
    fn atomic_write_replaces_a_stale_scratch_file_left_under_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("state.json");
        // The next calls' names: other tests in this process take some of them meanwhile.
        let next = CALLS.load(Ordering::Relaxed);
        for call in next..next + 1000 {
            fs::write(dir.path().join(format!(".state.json.partial-{}-{call}", std::process::id())), b"stale").unwrap();
        }
        atomic_write(&target, b"new").unwrap();
        assert_eq!(fs::read(&target).unwrap(), b"new");
    }

    #[test]
    fn a_replaced_file_keeps_its_permissions_unless_told_otherwise() {
        let dir = tempfile::tempdir().unwrap();
        let target = dir.path().join("out");
        let mode = |p: &Path| fs::metadata(p).unwrap().permissions().mode() & 0o7777;
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
        let mut file =
            AtomicFile::create_at(&target, scratch_path(&target, "partial").unwrap(), Mode::OfTarget).unwrap();
        file.write_all(b"half").unwrap();
        drop(file);
        assert_eq!(names_in(dir.path()), ["out"]);
        let mut file = AtomicFile::create(&target, Mode::OfTarget).unwrap();
        file.write_all(b"new").unwrap();
        file.commit(Durability::CheckedOnRead).unwrap();
        assert_eq!((fs::read(&target).unwrap(), names_in(dir.path())), (b"new".to_vec(), vec!["out".to_owned()]));
    }
}
