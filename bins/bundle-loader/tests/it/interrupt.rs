//! What a run leaves beside its output: a killed run's staging directory is cleared by the
//! next run, another live run's is not, and a sidecar that would hold the run (a FIFO) is
//! refused at once rather than waited on, with nothing extracted. (Ctrl-C removing what a run
//! is writing is tested on `bundle-builder`, whose registry pulls can be held open.)

use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use crate::{ARCHIVE, case, listing, test_pub, text};

fn bundle_with_fifo_sidecar(dir: &Path) {
    std::fs::copy(case("good"), dir.join(ARCHIVE)).unwrap();
    let fifo = dir.join(format!("{ARCHIVE}.sha256"));
    assert!(Command::new("mkfifo").arg(&fifo).status().unwrap().success());
}

#[test]
fn a_fifo_sidecar_is_refused_at_once_and_nothing_is_extracted() {
    let bundles = tempfile::tempdir().unwrap();
    bundle_with_fifo_sidecar(bundles.path());
    let parent = tempfile::tempdir().unwrap();
    let target = parent.path().join("out");
    let mut child = Command::new(env!("CARGO_BIN_EXE_bundle-loader"))
        .args(["extract", bundles.path().join(ARCHIVE).to_str().unwrap(), "--key", test_pub().to_str().unwrap()])
        .arg("--output-dir")
        .arg(&target)
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .unwrap();
    let start = Instant::now();
    while child.try_wait().unwrap().is_none() {
        if start.elapsed() > Duration::from_secs(30) {
            let _ = child.kill();
            panic!("extract waited on the FIFO sidecar");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
    let out = child.wait_with_output().unwrap();
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(&format!("{ARCHIVE}.sha256: a FIFO where a regular file belongs")), "{stderr}");
    assert!(listing(parent.path()).is_empty(), "left {:?}", listing(parent.path()));
}

/// A run killed outright (SIGKILL, a power cut) leaves its staging directory, unlocked: the
/// kernel drops a lock with its process. Another run's staging directory, in this pid
/// namespace or another (a container sharing the volume, whose pids mean nothing here), is
/// locked while it is written. The next run clears the first and leaves the second alone,
/// whatever their names say.
#[test]
fn a_run_clears_a_killed_runs_staging_and_leaves_a_live_ones_alone() {
    let parent = tempfile::tempdir().unwrap();
    let target = parent.path().join("out");
    let killed = parent.path().join(".out.staging-4000000000");
    let live = parent.path().join(".out.staging-4000000001");
    for dir in [&killed, &live] {
        std::fs::create_dir_all(dir.join("manifests")).unwrap();
        std::fs::write(dir.join("manifests/service.yaml"), b"half written").unwrap();
    }
    let writer = std::fs::File::open(&live).unwrap();
    writer.lock().unwrap();

    let out = crate::extract(&case("good"), &target);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(listing(parent.path()), [".out.staging-4000000001", "out"], "the killed run's staging is gone");
    assert_eq!(std::fs::read(live.join("manifests/service.yaml")).unwrap(), b"half written");
    drop(writer);
}
