//! End-to-end tests of `bundle-builder`: byte-stable output (the golden hash), spec
//! errors, keys other tools read, every compression, `inspect`, the release evidence
//! report of `create --report`, two-phase builds signed outside the builder, `resign`,
//! bundles delivered as parts (`create --max-part-size`), and delta bundles (`create --base`).

// Test helpers are not a public API, and a panic is how a test reports failure.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod attestations;
mod delta;
mod external_signing;
mod golden;
mod parts;
mod pull;
mod report;
mod resign;
mod spec_errors;
mod workflow;
mod zarf;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

pub use genesis_testkit::copy_inputs;

pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

pub fn builder(args: &[&str], cwd: &Path, envs: &[(&str, &str)]) -> Output {
    let mut cmd = Command::new(env!("CARGO_BIN_EXE_bundle-builder"));
    cmd.args(args).current_dir(cwd).env_remove("SOURCE_DATE_EPOCH");
    for (k, v) in envs {
        cmd.env(k, v);
    }
    cmd.output().expect("bundle-builder runs")
}

pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

pub fn sha256_file(p: &Path) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(std::fs::read(p).unwrap()))
}

/// Names in a directory, or nothing when it does not exist.
pub fn listing_or_empty(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir)
        .map(|rd| rd.map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect())
        .unwrap_or_default()
}
