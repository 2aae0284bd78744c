//! Scratch output: what a process writes beside its target before renaming it into place,
//! named `.<target name>.<kind>-<pid>` so that each run owns its own and a later run can tell
//! which ones were abandoned by a process that was killed.

use std::fs;
use std::path::{Path, PathBuf};

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

/// Removes scratch output of `target` left by processes that no longer run (killed by
/// SIGKILL or a power cut, when no cleanup could happen). Live processes' scratch output is
/// left alone. Best effort: a failure here only leaves litter.
pub fn remove_abandoned(target: &Path, kind: &str) {
    let Some(name) = target.file_name().map(|n| n.to_string_lossy().into_owned()) else { return };
    let prefix = format!(".{name}.{kind}-");
    let Ok(entries) = fs::read_dir(parent_of(target)) else { return };
    for entry in entries.flatten() {
        let file_name = entry.file_name().to_string_lossy().into_owned();
        let Some(pid) = file_name.strip_prefix(&prefix).and_then(|p| p.parse::<u32>().ok()) else { continue };
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
}
