//! The one error type of this crate: what could not be read, and which file (or which entry
//! of which zip archive) it was, so that an operator can find the bad input.

use std::io;

use std::path::{Path, PathBuf};

/// Everything that can stop a scan before it judges: an input that cannot be read, a
/// database record that is not OSV, a zip archive that is corrupt or too large.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum ScanError {
    /// Reading a file or a directory failed.
    #[error("{action} {}: {source}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// An input is not of the kind expected (not a CycloneDX document, not a database).
    #[error("{}: {reason}", path.display())]
    Input {
        /// The input.
        path: PathBuf,
        /// What is wrong with it.
        reason: String,
    },
    /// A database record is not JSON of the OSV schema's shape.
    #[error("{}: not an OSV record: {source}", at(path, entry.as_deref()))]
    Malformed {
        /// The file the record is in.
        path: PathBuf,
        /// The record's entry, when the file is a zip archive.
        entry: Option<String>,
        /// What the JSON parser found.
        #[source]
        source: serde_json::Error,
    },
    /// A database record parses but breaks the OSV schema's rules (an event with two
    /// versions, a range with no `introduced`, a `modified` that is not a timestamp).
    #[error("{}: invalid OSV record: {reason}", at(path, entry.as_deref()))]
    InvalidRecord {
        /// The file the record is in.
        path: PathBuf,
        /// The record's entry, when the file is a zip archive.
        entry: Option<String>,
        /// Which rule it breaks.
        reason: String,
    },
    /// A zip archive (an OSV `all.zip` export) is corrupt or uses what we do not read.
    #[error("{}: unreadable zip archive: {reason}", at(path, entry.as_deref()))]
    Zip {
        /// The archive.
        path: PathBuf,
        /// The entry concerned, when the fault is in one.
        entry: Option<String>,
        /// What is wrong.
        reason: String,
    },
    /// An input is larger than a limit allows: a record, an archive's entry count, the
    /// database's total size (the defence against zip bombs and endless files).
    #[error(
        "{}: {what} is {actual}, over the limit of {limit}; the database may be corrupt or hostile (raise the limit only if you trust its source)",
        at(path, entry.as_deref())
    )]
    LimitExceeded {
        /// The file.
        path: PathBuf,
        /// The entry, when the file is a zip archive.
        entry: Option<String>,
        /// Which limit.
        what: &'static str,
        /// The value found.
        actual: u64,
        /// The bound.
        limit: u64,
    },
    /// The paths given hold no OSV record at all: a scan against nothing would pass
    /// everything.
    #[error("no OSV record found in {}; give a directory of OSV JSON records or OSV all.zip exports", list(paths))]
    EmptyDatabase {
        /// The paths given.
        paths: Vec<PathBuf>,
    },
}

impl genesis_types::Classify for ScanError {
    /// A file that cannot be read is classed by its cause (missing, denied); everything else
    /// is an input to fix: a database, report or exception document that is not what it
    /// should be.
    fn class(&self) -> genesis_types::ErrorClass {
        match self {
            ScanError::Io { source, .. } => source.class(),
            _ => genesis_types::ErrorClass::Input,
        }
    }
}

/// `path` or `path!entry` (the notation of jar URLs), naming a record inside an archive.
fn at(path: &Path, entry: Option<&str>) -> String {
    match entry {
        Some(entry) => format!("{}!{entry}", path.display()),
        None => path.display().to_string(),
    }
}

/// The paths, comma-separated.
fn list(paths: &[PathBuf]) -> String {
    paths.iter().map(|p| p.display().to_string()).collect::<Vec<_>>().join(", ")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_record_inside_an_archive_is_named_by_archive_and_entry() {
        let e = ScanError::InvalidRecord {
            path: PathBuf::from("/db/Debian/all.zip"),
            entry: Some("DSA-5678-1.json".into()),
            reason: "range with no introduced event".into(),
        };
        assert_eq!(
            e.to_string(),
            "/db/Debian/all.zip!DSA-5678-1.json: invalid OSV record: range with no introduced event"
        );
    }
}
