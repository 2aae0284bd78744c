//! The registry client against real registries on loopback (Distribution, and the
//! Referrers-API registry of `cargo xtask tools`), with skopeo as the independent reader of
//! what arrived, and scripted stand-ins for sources that misbehave.

// Test helpers are not a public API, and a panic is how a test reports failure.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod copy;

use std::path::{Path, PathBuf};

/// The committed fixtures (fixtures/README.md).
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}
