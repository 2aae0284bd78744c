//! The Genesis bundle format v1: one tar stream with `bom.json` first, its signature
//! second, then every payload file in canonical order, compressed as seekable zstd
//! (or gzip, or not at all).
//!
//! This crate writes and reads that format. It knows nothing about keys: the reader hands
//! out the raw BOM and signature bytes ([`Head`]) and checks the payload against a BOM the
//! caller has already verified. `genesis-trust` puts the two together so that a payload is
//! never streamed against an unverified BOM, and hands out the readers of a verified bundle:
//! its files in place through the seek table ([`ArchiveIndex`]) and its images as an archive
//! a container runtime imports ([`RuntimeFormat`]).
//!
//! Two mechanisms here serve the whole workspace: [`digest_io::DigestAdapter`], the one way a
//! stream is hashed (and checked) while it passes, and [`scratch`], the one way a file is
//! written under a scratch name and renamed into place.
//!
//! ```
//! use genesis_bundle::{Bom, Limits, BOM_SCHEMA, rfc3339};
//!
//! let bom = Bom {
//!     schema: BOM_SCHEMA.into(),
//!     name: "demo".into(),
//!     version: "0.1.0".into(),
//!     created: rfc3339(0),
//!     expires: None,
//!     files: vec![],
//!     images: vec![],
//!     charts: vec![],
//!     manifests: vec![],
//!     sboms: vec![],
//!     scan: None,
//!     requires: None,
//! };
//! let bytes = bom.to_bytes();
//! assert_eq!(Bom::parse(&bytes, &Limits::default())?, bom);
//! # Ok::<(), genesis_bundle::BundleError>(())
//! ```

mod archive;
mod archive_index;
mod bom;
mod check;
pub mod digest_io;
mod error;
mod export;
mod head_rewrite;
mod limits;
mod parts;
mod progress;
pub mod scratch;
mod seekable;
mod split;
mod stamp;
mod tar;
mod writer;

pub use archive::{ArchiveReader, Compression, Head, HeadForm};
pub use archive_index::{ArchiveIndex, ArchiveRange, FrameSlices, RangeReader, image_top, layout_path};
pub use bom::{
    BOM_PATH, BOM_SCHEMA, BaseBundle, Bom, COUNTERSIGNATURE_FOLDER, ChartEntry, ExpectedEntry, FileEntry, HEAD_PATHS,
    ImageEntry, LAST_RFC3339_SECOND, ManifestEntry, PACKAGE_SBOM_SUFFIX, PROVENANCE_PATH, RequiredBlob, Requires,
    RequiresSummary, SIGNATURE_PATH, SIGSTORE_PROVENANCE_PATH, SIGSTORE_SIGNATURE_PATH, SbomEntry, ScanDatabase,
    ScanFinding, ScanRecord, ScanSummary, VexDocument, VexStatement, VexStatus, cut_chars, escape_controls,
    parse_rfc3339, rfc3339, unix_now,
};
pub use check::{Discard, PayloadSink, PayloadSummary, Staging};
pub use digest_io::{FileDigest, sha256};
pub use error::{BundleError, Result};
pub use export::{ExportedImage, RuntimeFormat};
pub use head_rewrite::{HeadRewrite, Rewritten};
pub use limits::Limits;
pub use parts::{
    ArchiveFile, BundleLocation, MAX_PARTS, MIN_PART_SIZE, PARTS_MANIFEST_SUFFIX, PARTS_SCHEMA, PartEntry,
    PartsManifest, RemoteFolder, RemoteObject, SequentialReader, WholeArchive, manifest_path, part_name,
};
pub use progress::ProgressCounter;
// The seekable zstd writer, for tools that write archives in the bundle's framing (the
// fixture generator, tests that forge a bundle).
pub use seekable::{FRAME_SIZE, FrameBuf, SeekableWriter};
pub use split::{Split, join_parts, split_archive};
pub use stamp::FileStamp;
// The canonical tar encoding, for writers of other archives in the same form (the portal's
// release exports, fixtures) and for checking that a path fits it before packing.
pub use tar::{BLOCK, END_OF_ARCHIVE, check_encodable, dir_header, file_header, padding};
pub use writer::{Content, WriteOptions, write_bundle, write_signed_bundle};

/// `path` with `suffix` added to its file name, byte for byte (`NAME.tar.zst` and `.sig`:
/// `NAME.tar.zst.sig`): how a bundle's sidecars, parts manifest, report, countersignature
/// folder and lock files are named after the file they belong to, in any folder, UTF-8 or not.
pub fn path_with_suffix(path: &std::path::Path, suffix: &str) -> std::path::PathBuf {
    let mut name = path.as_os_str().to_owned();
    name.push(suffix);
    std::path::PathBuf::from(name)
}

/// Entry points that work on a BOM whose signature nobody has checked, or on archive bytes
/// nobody has checked at all. They exist for the verifier (`genesis-trust`), which calls
/// them only after the BOM's signature verified; its sealed entry points to the readers here
/// are `genesis_trust::SignedBom::archive_index` and `genesis_trust::CheckedBundle::export_images`.
/// What no longer holds when they are called directly: a payload that passes matches its
/// own BOM, which anyone could have written, so nothing they yield is trusted. To read a
/// bundle, verify it with `genesis_trust::UnverifiedBundle::verify`.
pub mod danger {
    pub use crate::archive_index::{open_index, open_index_over};
    pub use crate::check::check_payload;
    pub use crate::export::export_images;
    // Random access to the decompressed bytes of any seekable archive: the verifier reads
    // single files with it, tests the archive's framing.
    pub use crate::seekable::SeekableFile;
}

/// The raw codecs under the format, for the tests that forge hostile archives: the tar
/// header parser and the seek table; and [`test_support::noise`], the bytes tests store in
/// frames of raw blocks. Not part of the API and free to change in any release; archives are
/// written with [`crate::file_header`] and [`crate::SeekableWriter`], bundles read through
/// `genesis_trust`.
#[doc(hidden)]
pub mod test_support {
    pub use crate::seekable::{
        FrameEntry, MAX_FRAME_SIZE, SeekTable, compress_bound, max_compressed_frame, max_frames,
    };
    pub use crate::tar::{EntryKind, Header, parse_header};

    /// `len` bytes zstd cannot shrink, so the writer stores them as raw blocks: xorshift64
    /// from `seed` (made odd), each state's 8 bytes little-endian, the same for the same
    /// arguments.
    pub fn noise(len: usize, seed: u64) -> Vec<u8> {
        let mut state = seed | 1;
        let mut out = Vec::with_capacity(len + 8);
        while out.len() < len {
            state ^= state << 13;
            state ^= state >> 7;
            state ^= state << 17;
            out.extend_from_slice(&state.to_le_bytes());
        }
        out.truncate(len);
        out
    }
}
