//! The Genesis bundle format v1: one tar stream with `bom.json` first, its signature
//! second, then every payload file in canonical order, compressed as seekable zstd
//! (or gzip, or not at all).
//!
//! This crate writes and reads that format. It knows nothing about keys: the reader hands
//! out the raw BOM and signature bytes ([`Head`]) and checks the payload against a BOM the
//! caller has already verified. `genesis-trust` puts the two together so that a payload is
//! never streamed against an unverified BOM.
//!
//! ```
//! use genesis_bundle::{Bom, Limits, BOM_SCHEMA, rfc3339};
//!
//! let bom = Bom {
//!     schema: BOM_SCHEMA.into(),
//!     name: "demo".into(),
//!     version: "0.1.0".into(),
//!     created: rfc3339(0),
//!     files: vec![],
//!     images: vec![],
//!     charts: vec![],
//!     manifests: vec![],
//!     sboms: vec![],
//! };
//! let bytes = bom.to_bytes();
//! assert_eq!(Bom::parse(&bytes, &Limits::default())?, bom);
//! # Ok::<(), genesis_bundle::BundleError>(())
//! ```

mod archive;
mod bom;
mod check;
mod error;
mod limits;
pub mod scratch;
pub mod seekable;
mod stamp;
pub mod tar;
mod writer;

pub use archive::{ArchiveReader, Compression, Head};
pub use bom::{
    BOM_PATH, BOM_SCHEMA, Bom, ChartEntry, ExpectedEntry, FileEntry, ImageEntry, ManifestEntry, PROVENANCE_PATH,
    SIGNATURE_PATH, SbomEntry, rfc3339,
};
pub use check::{Discard, PayloadSink, PayloadSummary, Staging};
pub use error::{BundleError, Result};
pub use limits::{Limits, Progress};
pub use seekable::FileDigest;
pub use stamp::FileStamp;
pub use writer::{Content, WriteOptions, sha256, write_bundle};

/// Entry points that work on a BOM whose signature nobody has checked. They exist for the
/// verifier (`genesis-trust`), which calls them only after the BOM's signature verified.
/// What no longer holds when they are called directly: a payload that passes matches its
/// own BOM, which anyone could have written, so nothing they yield is trusted. To read a
/// bundle, verify it with `genesis_trust::UnverifiedBundle::verify`.
pub mod danger {
    pub use crate::check::check_payload;
}
