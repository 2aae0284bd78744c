//! What the unit tests share: the sample files under `tests/data` and the time they are
//! judged at.

use std::path::{Path, PathBuf};

/// The time the tests judge at, fixed so that a database's age and whether an exception has
/// expired are the same on every run.
pub(crate) const NOW: &str = "2026-03-01T00:00:00Z";

/// The path of the sample file `name` under the crate's `tests/data`.
pub(crate) fn data(name: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/data").join(name)
}
