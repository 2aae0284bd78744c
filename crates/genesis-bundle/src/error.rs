//! The one error type of this crate, grouped by the phase that failed.

use std::io;
use std::path::PathBuf;

use genesis_types::{BundlePath, Classify, Digest, ErrorClass};

/// Everything that can go wrong reading, checking, writing or extracting a bundle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum BundleError {
    // ---- I/O
    /// Reading or writing a file failed.
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

    // ---- container (compression layer)
    /// The archive ends before its end marker.
    #[error("archive is truncated: {detail}")]
    Truncated {
        /// Where the end came.
        detail: String,
    },
    /// Bytes follow the end of the archive.
    #[error("archive has {bytes} bytes of trailing data after its end")]
    TrailingData {
        /// How many extra bytes.
        bytes: u64,
    },
    /// The compressed container is malformed.
    #[error("corrupt archive: {detail}")]
    Corrupt {
        /// What is wrong.
        detail: String,
    },
    /// A configured size or ratio limit was exceeded.
    #[error("limit exceeded: {what} ({actual} > {limit}); raise it only if you trust the source")]
    LimitExceeded {
        /// Which limit.
        what: &'static str,
        /// The value found.
        actual: u64,
        /// The configured bound.
        limit: u64,
    },

    // ---- tar entries
    /// An entry type that bundles never contain (links, devices, fifos, extensions).
    #[error("entry {path:?} is a {kind}, which bundles never contain")]
    ForbiddenEntryType {
        /// The entry's raw path.
        path: String,
        /// Human name of the type.
        kind: &'static str,
    },
    /// An entry path that could escape the output directory or is not UTF-8.
    #[error("unsafe entry path {path:?}: {reason}")]
    UnsafePath {
        /// The raw path (lossy if not UTF-8).
        path: String,
        /// Why it is refused.
        reason: String,
    },
    /// The first two entries are not `bom.json` and its signature.
    #[error("not a signed Genesis bundle: {detail}")]
    NotSigned {
        /// What was found instead.
        detail: String,
    },

    // ---- BOM and payload checks
    /// The BOM is not valid JSON of the expected shape.
    #[error("bom.json is malformed: {0}")]
    BomMalformed(#[source] serde_json::Error),
    /// The BOM is valid JSON but inconsistent.
    #[error("bom.json is invalid: {0}")]
    BomInvalid(String),
    /// An archive entry the BOM does not list.
    #[error("entry {path:?} is not listed in the BOM")]
    UnknownEntry {
        /// The entry.
        path: String,
    },
    /// An entry appears twice.
    #[error("entry {path:?} appears more than once")]
    DuplicateEntry {
        /// The entry.
        path: String,
    },
    /// Entries are not in canonical order.
    #[error("entry {path:?} is out of canonical order (after {previous:?})")]
    OutOfOrder {
        /// The entry.
        path: String,
        /// The one before it.
        previous: String,
    },
    /// A file the BOM lists is absent from the archive.
    #[error("{path} is listed in the BOM but missing from the archive")]
    MissingEntry {
        /// The missing file.
        path: BundlePath,
    },
    /// An entry's size differs from the BOM.
    #[error("{path}: size {actual} does not match the BOM ({expected})")]
    SizeMismatch {
        /// The entry.
        path: BundlePath,
        /// Size in the BOM.
        expected: u64,
        /// Size in the archive.
        actual: u64,
    },
    /// An entry's content hash differs from the BOM.
    #[error("{path}: content digest {actual} does not match the BOM ({expected})")]
    DigestMismatch {
        /// The entry.
        path: BundlePath,
        /// Digest in the BOM.
        expected: Digest,
        /// Digest of the bytes read.
        actual: Digest,
    },

    // ---- reading a verified bundle in place (load, serve, export)
    /// Files are read in place only from a seekable zstd archive.
    #[error(
        "{}: loading and serving read blobs in place from a zstd bundle; this one is gzip or plain tar \
         (extract it with `bundle-loader extract`, or rebuild with compression: zstd)",
        path.display()
    )]
    NotSeekable {
        /// The archive.
        path: PathBuf,
    },
    /// A file read again after verification no longer hashes to its signed digest: the
    /// archive changed on disk since.
    #[error("{what}: content is {actual}, expected {expected}")]
    ChangedSinceVerification {
        /// Which file.
        what: String,
        /// Its signed digest.
        expected: Digest,
        /// The digest of the bytes read.
        actual: Digest,
    },
    /// What was asked of the bundle's images cannot be done with what it carries: no image or
    /// no runnable one, none of the platform asked for, or a layout, manifest or blob that
    /// does not parse or does not match what describes it.
    #[error("{0}")]
    Unusable(String),
    /// A file or blob the caller named is not in the archive.
    #[error("{0} not found")]
    NotFound(String),

    // ---- split bundles (decision 0042)
    /// The parts manifest cannot be used: malformed, of another schema, or naming parts it
    /// may not name.
    #[error("parts manifest {}: {detail}", path.display())]
    PartsManifest {
        /// The manifest.
        path: PathBuf,
        /// What is wrong with it.
        detail: String,
    },
    /// A part the manifest lists is missing or cannot be read.
    #[error("part {} cannot be read ({source}); copy it again from the source medium", path.display())]
    PartUnreadable {
        /// The part.
        path: PathBuf,
        /// The cause.
        #[source]
        source: io::Error,
    },
    /// A part is shorter or longer than the manifest lists.
    #[error("part {} is {actual} bytes, the parts manifest lists {expected}; copy it again from the source medium", path.display())]
    PartSize {
        /// The part.
        path: PathBuf,
        /// The size listed.
        expected: u64,
        /// The size found.
        actual: u64,
    },
    /// A part's bytes are not the ones the manifest lists: damaged, or a part of another bundle.
    #[error(
        "part {} has SHA-256 {actual}, the parts manifest lists {expected}: it is damaged or belongs to another bundle; copy it again from the source medium",
        path.display()
    )]
    PartDigest {
        /// The part.
        path: PathBuf,
        /// The digest listed.
        expected: Digest,
        /// The digest of the bytes read.
        actual: Digest,
    },

    // ---- delta bundles (decision 0043)
    /// What needs every blob of a bundle's images (`serve`, `export`) was asked of a delta
    /// bundle, which leaves out the blobs its base carries.
    #[error(
        "{action} needs every blob of the bundle's images, and {name} {version} is a delta bundle: it leaves out \
         {blobs} blob(s) ({bytes} bytes) that its base {base} carries; load {} {} and then this bundle into a \
         registry, or {action} a full bundle",
        base.name,
        base.version
    )]
    DeltaBundle {
        /// What was asked (`serve`, `export`).
        action: &'static str,
        /// The delta's name.
        name: String,
        /// The delta's version.
        version: String,
        /// Its base, as its BOM names it: the bundle to load first.
        base: Box<crate::BaseBundle>,
        /// How many blobs it leaves out.
        blobs: u64,
        /// Their bytes.
        bytes: u64,
    },

    // ---- writing
    /// An input changed or did not match its claimed digest while it was packed.
    #[error("input {path} changed while packing or does not match its digest {expected}")]
    InputChanged {
        /// The input.
        path: PathBuf,
        /// The expected digest.
        expected: Digest,
    },
    /// A path the canonical tar header cannot carry: ustar holds at most 155 bytes of
    /// directories and 100 of name, and canonical archives use no PAX or GNU extensions.
    #[error("{path:?} does not fit a tar header (at most 155 bytes of directories, then 100 after a `/`); shorten it")]
    UnencodablePath {
        /// The path.
        path: String,
    },
    /// A timestamp past what a tar header's 11 octal digits hold (the year 2242).
    #[error("timestamp {mtime} does not fit a tar header (at most {max}); check SOURCE_DATE_EPOCH")]
    UnencodableMtime {
        /// The timestamp (seconds since 1970).
        mtime: u64,
        /// The largest one a header holds.
        max: u64,
    },
    /// Extraction target already exists.
    #[error("output directory {} already exists; remove it or choose another", path.display())]
    OutputExists {
        /// The directory.
        path: PathBuf,
    },
    /// The output was renamed into place, but its directory could not be synced afterwards:
    /// the files are there and whole, and a power cut could still undo the rename.
    #[error(
        "{} is in place but not yet durable (syncing its directory failed: {source}); run `sync` before relying on it",
        path.display()
    )]
    NotDurable {
        /// The output, in place.
        path: PathBuf,
        /// Why its directory did not sync.
        #[source]
        source: io::Error,
    },
    /// A runtime archive that holds one platform per image (`docker save`'s) was asked for a
    /// multi-platform image without choosing a platform.
    #[error("{image} is a multi-platform image and a docker archive holds one platform per image")]
    OnePlatformNeeded {
        /// The image.
        image: String,
        /// The platforms it has (`os/arch[/variant]`), to choose from.
        platforms: Vec<String>,
    },
}

impl BundleError {
    /// Wraps an I/O error with what was being done and on which path.
    pub fn io(action: &'static str, path: impl Into<PathBuf>) -> impl FnOnce(io::Error) -> BundleError {
        let path = path.into();
        move |source| BundleError::Io { action, path, source }
    }
}

/// Anything wrong with the archive is a verdict on it; what the caller asked for (a path that
/// cannot be read or written, an input or a name that cannot be packed, images the bundle
/// cannot give) is input; a file it named that the archive lacks is not found.
impl Classify for BundleError {
    fn class(&self) -> ErrorClass {
        match self {
            // A range of the archive read through `Read` carries the archive's own error
            // inside the `io::Error` (a damaged frame): that error decides, not the kind.
            BundleError::Io { source, .. } => match source.get_ref().and_then(|e| e.downcast_ref::<BundleError>()) {
                Some(carried) => carried.class(),
                None => source.class(),
            },
            BundleError::Truncated { .. }
            | BundleError::TrailingData { .. }
            | BundleError::Corrupt { .. }
            | BundleError::LimitExceeded { .. }
            | BundleError::ForbiddenEntryType { .. }
            | BundleError::UnsafePath { .. }
            | BundleError::NotSigned { .. }
            | BundleError::BomMalformed(_)
            | BundleError::BomInvalid(_)
            | BundleError::UnknownEntry { .. }
            | BundleError::DuplicateEntry { .. }
            | BundleError::OutOfOrder { .. }
            | BundleError::MissingEntry { .. }
            | BundleError::SizeMismatch { .. }
            | BundleError::DigestMismatch { .. }
            | BundleError::ChangedSinceVerification { .. }
            | BundleError::PartsManifest { .. }
            | BundleError::PartSize { .. }
            | BundleError::PartDigest { .. } => ErrorClass::Verdict,
            BundleError::PartUnreadable { source, .. } => source.class(),
            BundleError::NotSeekable { .. } | BundleError::Unusable(_) | BundleError::DeltaBundle { .. } => {
                ErrorClass::Input
            }
            BundleError::NotFound(_) => ErrorClass::NotFound,
            BundleError::NotDurable { source, .. } => source.class(),
            BundleError::InputChanged { .. }
            | BundleError::UnencodablePath { .. }
            | BundleError::UnencodableMtime { .. }
            | BundleError::OutputExists { .. }
            | BundleError::OnePlatformNeeded { .. } => ErrorClass::Input,
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = BundleError> = std::result::Result<T, E>;

impl BundleError {
    /// The part of a split bundle to copy again from the source medium, when this is a part
    /// that is missing, unreadable, short, long or damaged: what a guard's automation reads
    /// from a failure report to ask for that one file again.
    pub fn part_to_copy_again(&self) -> Option<&std::path::Path> {
        match self {
            BundleError::PartUnreadable { path, .. }
            | BundleError::PartSize { path, .. }
            | BundleError::PartDigest { path, .. } => Some(path),
            _ => None,
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_archive_is_a_verdict_and_a_local_file_problem_is_input_or_not_found() {
        let missing = BundleError::io("opening", "x.tar.zst")(io::ErrorKind::NotFound.into());
        let unreadable = BundleError::io("opening", "x.tar.zst")(io::ErrorKind::PermissionDenied.into());
        let damaged_range = BundleError::io("reading", "x.tar.zst")(io::Error::other(BundleError::Corrupt {
            detail: "zstd frame: checksum mismatch".into(),
        }));
        for (e, class) in [
            (BundleError::Truncated { detail: "in a header".into() }, ErrorClass::Verdict),
            (BundleError::UnknownEntry { path: "extra".into() }, ErrorClass::Verdict),
            (BundleError::LimitExceeded { what: "entries", actual: 2, limit: 1 }, ErrorClass::Verdict),
            (BundleError::OutputExists { path: "out".into() }, ErrorClass::Input),
            (BundleError::NotDurable { path: "out".into(), source: io::ErrorKind::Other.into() }, ErrorClass::Input),
            (BundleError::OnePlatformNeeded { image: "web".into(), platforms: vec![] }, ErrorClass::Input),
            (BundleError::NotSeekable { path: "x.tar.gz".into() }, ErrorClass::Input),
            (BundleError::Unusable("the bundle carries no images".into()), ErrorClass::Input),
            (BundleError::NotFound("blob sha256:00 in the bundle".into()), ErrorClass::NotFound),
            (missing, ErrorClass::NotFound),
            (unreadable, ErrorClass::Input),
            (damaged_range, ErrorClass::Verdict),
        ] {
            assert_eq!(e.class(), class, "{e}");
        }
    }
}
