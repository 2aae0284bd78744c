//! The first Ctrl-C removes whatever partial output the run is still writing (every scratch
//! file and staging directory open in [`genesis_bundle::scratch`], under the random names
//! only this process knows), then exits with 130, so an interrupted run leaves nothing
//! half-written.

use std::sync::atomic::{AtomicBool, Ordering};

/// The exit code of an interrupted run (128 + SIGINT), as shells report it.
pub const INTERRUPTED: u8 = 130;

static BEGUN: AtomicBool = AtomicBool::new(false);

/// Whether the handler has started: an error a worker meets from then on (its output was
/// removed under it, or it could start no new output) is the interrupt's doing, and the run
/// ends as interrupted, not with that error.
pub fn begun() -> bool {
    BEGUN.load(Ordering::SeqCst)
}

/// Installs the handler. Call once at start.
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        BEGUN.store(true, Ordering::SeqCst);
        if genesis_bundle::scratch::remove_live() > 0 {
            eprintln!("interrupted: partial output removed");
        } else {
            eprintln!("interrupted");
        }
        std::process::exit(INTERRUPTED.into());
    });
}
