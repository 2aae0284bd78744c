//! Scratch output: what a process writes beside its target before renaming it into place,
//! named `.<target name>.<kind>-<pid>` so that each run owns its own and a later run can tell
//! which ones were abandoned by a process that was killed; and [`atomic_write`], the one way
//! to replace a small file so that neither a concurrent reader nor a crash sees it half
//! written.

use std::fs::{self, File, OpenOptions};
use std::io::{self, Write};
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
    let create_new = || OpenOptions::new().write(true).create_new(true).open(path);
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

/// Writes `bytes` to `target` so that a reader, a concurrent writer or a crash sees the old
/// content or the new, never an empty or partial file: a scratch file beside it, created
/// exclusively (`O_EXCL`: never an existing file or a planted symlink) under a name unique to
/// this call, is written, synced, renamed over `target`, and the directory is synced so that
/// the rename itself survives a power cut. Concurrent writers of one target do not lock each
/// other out: the last rename wins, whole. A caller that reads, changes and writes a file
/// back serialises those steps itself (with a lock).
pub fn atomic_write(target: &Path, bytes: &[u8]) -> io::Result<()> {
    static CALLS: AtomicU64 = AtomicU64::new(0);
    let scratch = scratch_path(target, "partial")
        .ok_or_else(|| io::Error::new(io::ErrorKind::InvalidInput, format!("{} names no file", target.display())))?;
    // `.<name>.partial-<pid>-<call>`: unique among the threads of this process, and still
    // recognised by `remove_abandoned` once the process is gone.
    let mut tmp = scratch.into_os_string();
    tmp.push(format!("-{}", CALLS.fetch_add(1, Ordering::Relaxed)));
    let tmp = PathBuf::from(tmp);
    let written = OpenOptions::new().write(true).create_new(true).open(&tmp).and_then(|mut file| {
        file.write_all(bytes)?;
        file.sync_all()?;
        fs::rename(&tmp, target)
    });
    if let Err(e) = written {
        let _ = fs::remove_file(&tmp);
        return Err(e);
    }
    sync_parent(target)
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
}
