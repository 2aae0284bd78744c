//! Journeys in a real browser: Debian's Chromium, headless, driven by PyPI's Selenium through
//! a Python script beside a binary's tests (`bins/*/tests/browser/*.py`). The scripts share
//! one driver, `browser/genesis_browser.py` in this crate (the Chromium that reaches nothing
//! but the server under test, the checks every page passes, screenshots, downloads, the
//! failure report), which [`journey`] puts on their `PYTHONPATH`. Screenshots land under
//! `target/screenshots/`, for people (and CI's artifacts) to look at.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::text;

/// Where the tests build: the journeys' Python environment and the screenshots are there.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target")
}

/// The Python that runs the journeys, once Selenium and Chromium are found: a missing one
/// fails the test, naming what installs it.
pub fn browser_python() -> PathBuf {
    let python = target_dir().join("test-venv/bin/python");
    let selenium = Command::new(&python).args(["-c", "import selenium"]).output();
    assert!(
        selenium.is_ok_and(|out| out.status.success()),
        "{} has no Selenium: run `cargo xtask test-deps` (cargo xtask ci does)",
        python.display()
    );
    for (tool, package) in [("/usr/lib/chromium/chromium", "chromium"), ("/usr/bin/chromedriver", "chromium-driver")] {
        assert!(Path::new(tool).exists(), "{tool} is missing: install Debian's {package} (.ci/run does)");
    }
    python
}

/// The folder `target/screenshots/UNDER` (e.g. `portal/embedded`), emptied of an earlier
/// run's shots: a journey numbers its shots on from those already there.
pub fn screenshots(under: &str) -> PathBuf {
    let shots = target_dir().join("screenshots").join(under);
    let _ = std::fs::remove_dir_all(&shots);
    shots
}

/// Runs the journey `script` with `args`, which must succeed (else the test fails with what
/// the script printed); the screenshots it saved, as it reported them (`screenshot: PATH`).
pub fn journey(script: &Path, args: &[&str]) -> Vec<PathBuf> {
    let mut cmd = Command::new(browser_python());
    cmd.arg(script)
        .args(args)
        // The shared driver, genesis_browser.py; the script's own folder Python adds itself.
        .env("PYTHONPATH", Path::new(env!("CARGO_MANIFEST_DIR")).join("browser"))
        // Selenium Manager never looks for a browser or driver to download.
        .env("SE_OFFLINE", "true")
        // No __pycache__ left in the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for proxy in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"] {
        cmd.env_remove(proxy);
    }
    let out = cmd.output().unwrap();
    let stdout = text(&out.stdout);
    let name = script.file_name().map_or_else(|| script.display().to_string(), |n| n.to_string_lossy().into_owned());
    assert!(out.status.success(), "{name}:\n{stdout}{}", text(&out.stderr));
    stdout.lines().filter_map(|line| line.strip_prefix("screenshot: ")).map(PathBuf::from).collect()
}

/// Width and height of a PNG, which it must be.
pub fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    png_header_size(&bytes).unwrap_or_else(|| panic!("{} is not a PNG", path.display()))
}

/// Width and height from a PNG's header (its IHDR chunk comes first), if `bytes` start as one.
fn png_header_size(bytes: &[u8]) -> Option<(u32, u32)> {
    if !bytes.starts_with(b"\x89PNG\r\n\x1a\n") || bytes.len() < 24 {
        return None;
    }
    let be = |at: usize| u32::from_be_bytes([bytes[at], bytes[at + 1], bytes[at + 2], bytes[at + 3]]);
    Some((be(16), be(20)))
}

/// The screenshots in `shots` are exactly those the journeys `saved`, at least `least` of
/// them, each a PNG 1280 pixels wide (390, a phone's, for `*-phone.png`).
pub fn check_shots(shots: &Path, mut saved: Vec<PathBuf>, least: usize) {
    let mut on_disk: Vec<PathBuf> = std::fs::read_dir(shots).unwrap().map(|e| e.unwrap().path()).collect();
    on_disk.sort();
    saved.sort();
    assert_eq!(on_disk, saved, "the screenshots on disk are the ones the journeys saved");
    assert!(saved.len() >= least, "only {} screenshots", saved.len());
    for shot in &saved {
        let (width, _) = png_size(shot);
        let phone = shot.to_str().unwrap().ends_with("-phone.png");
        assert_eq!(width, if phone { 390 } else { 1280 }, "{}", shot.display());
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The first 24 bytes of a 1280 x 2000 PNG: signature, IHDR length and type, width, height.
    const HEADER: &[u8] = b"\x89PNG\r\n\x1a\n\0\0\0\x0dIHDR\0\0\x05\x00\0\0\x07\xd0";

    #[test]
    fn a_png_says_its_size_in_its_header() {
        assert_eq!(png_header_size(HEADER), Some((1280, 2000)));
        assert_eq!(png_header_size(&HEADER[..23]), None, "cut short");
        assert_eq!(png_header_size(b"GIF89a\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0\0"), None);
    }

    #[test]
    fn the_shared_driver_is_where_journeys_are_told_it_is() {
        let driver = Path::new(env!("CARGO_MANIFEST_DIR")).join("browser/genesis_browser.py");
        assert!(driver.is_file(), "{} is missing", driver.display());
    }
}
