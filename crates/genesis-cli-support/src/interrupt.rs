//! The first Ctrl-C removes whatever partial output the command registered, then exits
//! with 130, so an interrupted run leaves nothing half-written.

use std::path::PathBuf;
use std::sync::Mutex;

static PARTIAL: Mutex<Vec<PathBuf>> = Mutex::new(Vec::new());

/// Installs the handler. Call once at start.
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        let removed = PARTIAL.lock().map_or(0, |paths| {
            paths.iter().filter(|p| std::fs::remove_dir_all(p).or_else(|_| std::fs::remove_file(p)).is_ok()).count()
        });
        if removed > 0 {
            eprintln!("interrupted: partial output removed");
        } else {
            eprintln!("interrupted");
        }
        std::process::exit(130);
    });
}

/// Registers a path to remove if the run is interrupted.
pub fn remove_on_interrupt(path: PathBuf) {
    if let Ok(mut paths) = PARTIAL.lock() {
        paths.push(path);
    }
}
