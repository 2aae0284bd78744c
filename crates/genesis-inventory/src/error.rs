//! The one error type of this crate.
//!
//! Three of its variants fail a whole inventory: a layer whose bytes cannot be read past
//! some point ([`InventoryError::Layer`], [`InventoryError::Read`]) leaves everything after
//! it unknown, and a machine that cannot write a temporary file ([`InventoryError::TempFile`])
//! would inventory the next image no better. The others concern one file or one entry:
//! [`crate::inventory`] turns them into a sentence of [`crate::Inventory::notes`] and goes on,
//! so one odd file never hides the rest of an image.

use std::io;

use crate::package::FoundFile;

/// Why an image, or one file in it, could not be inventoried.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum InventoryError {
    /// A layer's compression or tar stream is broken (corrupt, truncated, not a tar).
    #[error(
        "layer {layer} is unreadable (its compression or tar stream is broken): {source}; check the blob against its digest"
    )]
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
    /// The package databases already kept fill the memory one inventory allows.
    #[error("{path} is not read: the package databases kept so far fill the {limit}-byte budget of one inventory")]
    OverBudget {
        /// The file, without a leading slash.
        path: String,
        /// The budget.
        limit: u64,
    },
    /// A layer entry whose directory does not resolve through the image's symbolic links (a
    /// loop, too many links); the entry is skipped.
    #[error("layer {layer}: entry {path:?} is skipped: {reason}")]
    UnsafePath {
        /// The layer's digest.
        layer: String,
        /// The path as the tar entry writes it.
        path: String,
        /// Why it is refused.
        reason: &'static str,
    },
    /// A hard link to a file of interest whose target the inventory does not hold.
    #[error("layer {layer}: {path} is a hard link to {target}, which the inventory cannot follow: not inventoried")]
    UnresolvedLink {
        /// The layer's digest.
        layer: String,
        /// The link, without a leading slash.
        path: String,
        /// Its target as the entry writes it.
        target: String,
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
