//! An interrupted extraction leaves nothing behind, and a run killed outright (SIGKILL, no
//! cleanup possible) does not stop the next run from finishing the job.
//!
//! The process is paused at a known point without timing games: the `.sha256` sidecar is a
//! FIFO, and the verifier opens sidecars only after the whole payload is in staging, so it
//! blocks there, every file written, nothing committed.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{ARCHIVE, case, listing, test_pub, text};

fn paused_extract(bundle_dir: &Path, target: &Path) -> (Child, PathBuf) {
    let archive = bundle_dir.join(ARCHIVE);
    let child = Command::new(env!("CARGO_BIN_EXE_bundle-loader"))
        .args(["extract", archive.to_str().unwrap(), "--key", test_pub().to_str().unwrap(), "--output-dir"])
        .arg(target)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let staging = target.with_file_name(format!(".out.staging-{}", child.id()));
    let last_entry = staging.join("oci/oci-layout");
    let start = Instant::now();
    while !last_entry.exists() {
        assert!(start.elapsed() < Duration::from_secs(30), "extract never reached the sidecars");
        std::thread::sleep(Duration::from_millis(5));
    }
    (child, staging)
}

fn bundle_with_fifo_sidecar(dir: &Path) {
    std::fs::copy(case("good"), dir.join(ARCHIVE)).unwrap();
    let fifo = dir.join(format!("{ARCHIVE}.sha256"));
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
}

fn signal(child: &Child, sig: &str) {
    assert!(Command::new("kill").args([sig, &child.id().to_string()]).status().unwrap().success());
}

#[test]
fn ctrl_c_removes_the_staging_directory() {
    let bundles = tempfile::tempdir().unwrap();
    bundle_with_fifo_sidecar(bundles.path());
    let parent = tempfile::tempdir().unwrap();
    let target = parent.path().join("out");
    let (child, staging) = paused_extract(bundles.path(), &target);
    assert!(staging.join("manifests/service.yaml").exists());
    signal(&child, "-INT");
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(130), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("interrupted"), "{}", text(&out.stderr));
    assert!(listing(parent.path()).is_empty(), "left {:?}", listing(parent.path()));
}

#[test]
fn a_run_after_a_killed_run_completes_and_clears_its_litter() {
    let bundles = tempfile::tempdir().unwrap();
    bundle_with_fifo_sidecar(bundles.path());
    let parent = tempfile::tempdir().unwrap();
    let target = parent.path().join("out");
    let (mut child, staging) = paused_extract(bundles.path(), &target);
    signal(&child, "-KILL");
    child.wait().unwrap();
    assert!(staging.exists(), "SIGKILL leaves the staging directory");
    assert!(!target.exists());

    std::fs::remove_file(bundles.path().join(format!("{ARCHIVE}.sha256"))).unwrap();
    let archive = bundles.path().join(ARCHIVE);
    let out = crate::extract(&archive, &target);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(listing(parent.path()), ["out"], "the abandoned staging directory is gone");
}
