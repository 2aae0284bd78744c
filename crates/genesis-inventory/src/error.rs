//! The one error type of this crate.
//!
//! Three of its variants fail a whole inventory: a layer whose bytes cannot be read past
//! some point ([`InventoryError::Layer`], [`InventoryError::Read`]) leaves everything after
//! it unknown (as does one read otherwise than runtimes read it, or past the memory
//! budget), and a machine that cannot write a temporary file ([`InventoryError::TempFile`])
//! would inventory the next image no better. The others concern one file or one entry:
//! [`crate::inventory`] turns them into a sentence of [`crate::Inventory::notes`] and goes on,
//! so one odd file never hides the rest of an image.

use std::io;

use crate::package::FoundFile;

/// Why an image, or one file in it, could not be inventoried.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InventoryError {
    /// A layer cannot be inventoried: its compression or tar stream is broken (corrupt,
    /// truncated, not a tar), container runtimes would read it otherwise than this crate, or
    /// the image's layers up to it leave more than the inventory's memory budget. The cause
    /// says which.
    #[error("layer {layer} cannot be inventoried: {source}")]
    Layer {
        /// The layer's digest.
        layer: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// Reading a file's bytes out of its layer failed part way.
    #[error("layer {layer}: reading {path} failed: {source}")]
    Read {
        /// The layer's digest.
        layer: String,
        /// The file, without a leading slash.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A database SQLite must open by path could not be written to a temporary file: a
    /// problem of this machine (its temporary directory, its disk), not of the image.
    #[error("writing {path} to a temporary file for SQLite failed: {source}; check the temporary directory (TMPDIR)")]
    TempFile {
        /// The file, without a leading slash.
        path: String,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A file's package metadata does not parse.
    #[error("{path}: malformed package metadata: {reason}; its packages are not inventoried")]
    Malformed {
        /// The file, without a leading slash.
        path: String,
        /// What is wrong, and where in the file.
        reason: String,
    },
    /// A file of interest is larger than the inventory reads.
    #[error("{path} holds {size} bytes, over the {limit}-byte limit of one file: not inventoried")]
    TooLarge {
        /// The file, without a leading slash.
        path: String,
        /// Its size as its layer declares it (or at least that much, when it was counted).
        size: u64,
        /// The limit.
        limit: u64,
    },
    /// What the inventory already keeps fills the memory one inventory allows.
    #[error("{path} is not read: what the inventory keeps so far fills the {limit}-byte budget of one inventory")]
    OverBudget {
        /// The file, without a leading slash.
        path: String,
        /// The budget.
        limit: u64,
    },
    /// A layer entry the inventory skips because it cannot tell where container runtimes
    /// write it, or they would not agree: its directory does not resolve (a loop, too many
    /// links) or is reached through a link an earlier layer wrote, its name is not UTF-8 and
    /// it may matter, or it is longer than `PATH_MAX`.
    #[error("layer {layer}: entry {path:?} is skipped: {reason}")]
    SkippedEntry {
        /// The layer's digest.
        layer: String,
        /// The name as the tar entry writes it (as UTF-8 where it is, and cut when long).
        path: String,
        /// Why it is skipped.
        reason: String,
    },
    /// A hard link to a file of interest whose target the inventory does not hold, or to a
    /// file an earlier layer wrote, which runtimes link differently.
    #[error("layer {layer}: {path} is a hard link to {target}, which {reason}: not inventoried")]
    UnresolvedLink {
        /// The layer's digest.
        layer: String,
        /// The link, without a leading slash.
        path: String,
        /// Its target as the entry writes it (as UTF-8 where it is, and cut when long).
        target: String,
        /// Why the target is not followed.
        reason: &'static str,
    },
    /// More data than a tar archive's padding follows its end; it is not read.
    #[error("layer {layer}: more than {limit} bytes follow the end of its tar archive; they are not read")]
    TrailingData {
        /// The layer's digest.
        layer: String,
        /// How much is read after the end.
        limit: u64,
    },
}

impl InventoryError {
    /// Reading `file`'s bytes out of its layer failed part way: the layer's stream broke.
    pub(crate) fn read(file: &FoundFile<'_>, source: io::Error) -> InventoryError {
        InventoryError::Read { layer: file.layer.to_owned(), path: file.path.to_owned(), source }
    }

    /// Whether it fails the whole inventory (the layer's stream broke, or this machine
    /// failed) rather than one file, which a note reports instead.
    pub(crate) fn fails_inventory(&self) -> bool {
        matches!(self, Self::Layer { .. } | Self::Read { .. } | Self::TempFile { .. })
    }
}
