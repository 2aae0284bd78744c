//! An interrupt's sweep of scratch output, in a test binary of its own: the sweep closes the
//! process to new scratch output, which no other test of this process should see.

use std::io;

use genesis_bundle::scratch::{AtomicFile, Mode, remove_live};

/// Ctrl-C's handler removes what is being written, and a thread that starts a file after the
/// sweep (a download still in flight) gets an error instead of a file the exit would leave.
#[test]
fn after_the_sweep_no_scratch_file_can_be_started() {
    let dir = tempfile::tempdir().unwrap();
    let writing = AtomicFile::create(&dir.path().join("a"), Mode::OfTarget).unwrap();
    assert!(writing.scratch_path().exists());

    assert_eq!(remove_live(), 1);
    assert!(!writing.scratch_path().exists());

    let late = AtomicFile::create(&dir.path().join("b"), Mode::OfTarget).unwrap_err();
    assert_eq!(late.kind(), io::ErrorKind::Interrupted);
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(left.is_empty(), "{left:?}");
}
