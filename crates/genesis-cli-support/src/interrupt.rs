//! The first Ctrl-C removes whatever partial output the run is still writing (every scratch
//! file and staging directory open in [`genesis_bundle::scratch`], under the random names
//! only this process knows), then exits with 130, so an interrupted run leaves nothing
//! half-written.

/// Installs the handler. Call once at start.
pub fn install() {
    let _ = ctrlc::set_handler(|| {
        if genesis_bundle::scratch::remove_live() > 0 {
            eprintln!("interrupted: partial output removed");
        } else {
            eprintln!("interrupted");
        }
        std::process::exit(130);
    });
}
