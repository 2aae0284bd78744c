//! The first Ctrl-C removes whatever partial output the command registered, then exits
//! with 130, so an interrupted run leaves nothing half-written.

use std::path::PathBuf;
use std::sync::Mutex;

static PARTIAL: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Installs the handler. Call once at start.
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        if let Ok(paths) = PARTIAL.lock() {
            for p in paths.iter() {
                let _ = std::fs::remove_dir_all(p);
                let _ = std::fs::remove_file(p);
            }
        }
        eprintln!("interrupted: partial output removed");
        std::process::exit(130);
    });
}

/// Registers a path to remove if the run is interrupted.
pub fn remove_on_interrupt(path: PathBuf) {
    if let Ok(mut paths) = PARTIAL.lock() {
        paths.push(path);
    }
}
