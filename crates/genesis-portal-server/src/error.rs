//! The error type of this crate, over the three the binary matches for its hints
//! (`ConfigError`, `LookupError`, and the object store's `genesis_objstore::ObjStoreError`),
//! grouped by where the portal failed: its configuration, its metadata database, its artifact
//! store, what the vendor asked of it, the export packs it builds, and what it wraps.

use std::borrow::Cow;
use std::error::Error;
use std::ffi::OsString;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};

use genesis_bundle::BundleError;
use genesis_objstore::ObjStoreError;
use genesis_registry::RegistryError;
use genesis_trust::TrustError;
use genesis_types::{Classify, ErrorClass};

use crate::config::ConfigError;
use crate::store::LookupError;

/// What can go wrong serving the portal or running one of the vendor's admin use cases.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum PortalServerError {
    // ---- configuration and names
    /// The portal's configuration cannot work.
    #[error(transparent)]
    Config(#[from] ConfigError),
    /// An organisation or key named is not there.
    #[error(transparent)]
    Lookup(#[from] LookupError),

    // ---- the metadata database
    /// The database URL names a database the portal does not keep its metadata in.
    #[error("the metadata database is {backend}: the portal keeps its metadata in SQLite or PostgreSQL")]
    UnsupportedDatabase {
        /// The database sqlx connected to.
        backend: String,
    },
    /// The metadata database failed an operation.
    #[error("{action}")]
    Database {
        /// What was being done.
        action: Cow<'static, str>,
        /// The cause.
        #[source]
        source: sqlx::Error,
    },
    /// A value does not convert between a column of the metadata database and its type in
    /// the portal: a row the portal did not write, or a size past what the column holds.
    #[error("column {column} of the metadata database: a value of the wrong type or range")]
    Column {
        /// `table.column`.
        column: &'static str,
        /// Why it does not convert.
        #[source]
        source: Box<dyn Error + Send + Sync>,
    },

    // ---- the artifact store
    /// The object store (S3 or Azure Blob): its configuration cannot work, its client could
    /// not be set up, or it failed an operation.
    #[error(transparent)]
    ObjStore(#[from] ObjStoreError),
    /// An artifact of a release could not be stored.
    #[error("storing {name}")]
    StoringArtifact {
        /// The artifact's name.
        name: String,
        /// Why the store failed.
        #[source]
        source: Box<PortalServerError>,
    },
    /// A key the directory artifact store refuses: one with an empty, `.` or `..` component
    /// would name a file outside the place of its release or export. Names are checked before
    /// they make a key; this is the store's own check behind them.
    #[error("`{key}` is not a key of the artifact store: it has an empty, `.` or `..` component")]
    UnsafeStoreKey {
        /// The key.
        key: String,
    },
    /// A file could not be copied into the directory artifact store.
    #[error("copying {} into the store", local.display())]
    CopyIntoStore {
        /// The file.
        local: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },

    // ---- what the vendor asked for
    /// An organisation name that cannot be part of a key.
    #[error("organisation `{org}`: use lower-case letters, digits and `-` (at most 40), it becomes part of every key")]
    BadOrgName {
        /// The name given.
        org: String,
    },
    /// An admin name that cannot stand in the audit log.
    #[error("admin name `{name}`: use letters, digits and `.-_@` (at most 64), it names the admin in the audit log")]
    BadAdminName {
        /// The name given.
        name: String,
    },
    /// A product name that cannot be part of a URL or of an artifact's key.
    #[error(
        "product `{product}`: use lower-case letters, digits and `-._` (at most 64, starting with a letter or a \
         digit), it names the release in URLs and in the artifact store"
    )]
    BadProductName {
        /// The name given.
        product: String,
    },
    /// An admin of this name exists already, revoked or not: the audit log names admins by
    /// name, so a name stays one person's.
    #[error(
        "an admin named `{name}` exists already (a revoked admin keeps their name, so that the audit log names one \
         person): choose another name"
    )]
    AdminExists {
        /// The name given.
        name: String,
    },
    /// The organisation exists already.
    #[error("organisation `{org}` already exists")]
    OrgExists {
        /// The name given.
        org: String,
    },
    /// An entitlement's versions are not a semver range.
    #[error("`{versions}` is not a semver range (e.g. `>=3.2, <4`)")]
    NotSemverRange {
        /// The range given.
        versions: String,
        /// Why it does not parse.
        #[source]
        source: semver::Error,
    },
    /// A release's version is not semver.
    #[error("version `{version}` is not semver (e.g. 3.2.10)")]
    NotSemver {
        /// The version given.
        version: String,
        /// Why it does not parse.
        #[source]
        source: semver::Error,
    },
    /// Another publication of the release is under way (here or in a portal sharing the
    /// database): two would overwrite each other's files.
    #[error(
        "{product} {version} is being published by {actor} since {since}; wait for that publication to end \
         (a claim left by a publisher that died is taken over after {stale_hours} h)"
    )]
    ReleaseBeingPublished {
        /// Product.
        product: String,
        /// Version.
        version: String,
        /// Who publishes it, as the audit log names them.
        actor: String,
        /// Since when (RFC 3339).
        since: String,
        /// Hours after which a claim counts as left behind.
        stale_hours: i64,
    },

    /// The release is published already: releases are immutable.
    #[error("{product} {version} is already published; releases are immutable, publish a new version")]
    ReleaseExists {
        /// Product.
        product: String,
        /// Version.
        version: String,
    },

    // ---- a publication refused
    /// A file's name is not one a release may carry.
    #[error("{}: not a publishable file name (letters, digits, `.-_+`, not hidden)", path.display())]
    UnpublishableName {
        /// The file.
        path: PathBuf,
    },
    /// Two files given have the same name.
    #[error("`{name}` is given twice")]
    GivenTwice {
        /// The name.
        name: String,
    },
    /// None of the files is a bundle.
    #[error(
        "no bundle (NAME.tar.zst, or a split one's NAME.tar.zst.parts.json) among the files: a release is its bundles"
    )]
    NoBundle,
    /// A bundle's sidecar was given from another directory than the bundle.
    #[error("{}: a bundle's sidecar must sit beside it ({})", given.display(), beside.display())]
    SidecarElsewhere {
        /// Where it was given.
        given: PathBuf,
        /// Where it belongs.
        beside: PathBuf,
    },
    /// A bundle lacks the sidecars `genesis pull` promises.
    #[error(
        "{bundle}: a bundle is published with its `.sha256` and its `.sig` or `.cosign.bundle` \
         (as `bundle-builder create` writes them beside it)"
    )]
    MissingSidecars {
        /// The bundle's name.
        bundle: String,
    },
    /// A name an air-gap export pack could not carry.
    #[error("`{name}`: refused, an air-gap export pack could not carry this name")]
    UnpackableName {
        /// The name.
        name: String,
        /// Why the pack's tar header cannot hold it.
        #[source]
        source: Box<BundleError>,
    },
    /// A sidecar was given without its bundle.
    #[error("`{name}` is a sidecar of `{bundle}`, which is not published with it")]
    OrphanSidecar {
        /// The sidecar's name.
        name: String,
        /// The bundle it belongs to.
        bundle: String,
    },
    /// One bundle given both as its archive and as its parts manifest.
    #[error("{archive} is given both whole and as parts ({archive}.parts.json): publish one of the two")]
    ArchiveAndParts {
        /// The archive's name.
        archive: String,
    },
    /// A parts manifest lists a part that is not beside it.
    #[error(
        "{}: lists the part {part}, which is not beside it; a split bundle is published with all \
         its parts (as `genesis split` or `bundle-builder create --max-part-size` wrote them)",
        manifest.display()
    )]
    MissingPart {
        /// The parts manifest.
        manifest: PathBuf,
        /// The part's name.
        part: String,
    },
    /// A split bundle with neither its manifest's signature nor the archive's sidecars.
    #[error(
        "{manifest}: a split bundle is published with its manifest's signature (`.parts.json.sig` or \
         `.parts.json.cosign.bundle`, as `bundle-builder create --max-part-size` and `genesis split --key` \
         write them) or with the archive's `.sha256` and `.sig` or `.cosign.bundle`"
    )]
    UnsignedParts {
        /// The parts manifest's name.
        manifest: String,
    },
    /// A part given that no parts manifest published with it lists.
    #[error("`{name}` is a part that no parts manifest published with it lists (NAME.tar.zst.parts.json)")]
    StrayPart {
        /// The part's name.
        name: String,
    },
    /// A parts manifest that is not one (malformed, of another archive's name).
    #[error("a split bundle's parts manifest is refused")]
    BadPartsManifest(#[source] Box<BundleError>),
    /// A bundle does not verify with the vendor key.
    #[error("{}: refused, it does not verify with the vendor key", path.display())]
    BundleRefused {
        /// The bundle.
        path: PathBuf,
        /// The verifier's refusal.
        #[source]
        source: Box<TrustError>,
    },
    /// A bundle is of another version than the release.
    #[error("{}: a bundle of version {found}, not {version}", path.display())]
    WrongVersion {
        /// The bundle.
        path: PathBuf,
        /// The version its BOM names.
        found: String,
        /// The release's version.
        version: String,
    },
    /// An evidence report given beside a bundle whose `.sha256` does not list it: it
    /// describes other bytes.
    #[error(
        "{}: refused, the bundle's .sha256 does not list it, so it is not this archive's report \
         (build with `bundle-builder create --report`, or leave the report out)",
        report.display()
    )]
    UnlistedReport {
        /// The report.
        report: PathBuf,
    },

    // ---- export packs and this portal's instance
    /// A bundle of the release did not verify again while its pack was built.
    #[error("verifying {bundle}")]
    Reverify {
        /// The bundle's name.
        bundle: String,
        /// The verifier's refusal.
        #[source]
        source: Box<TrustError>,
    },
    /// A bundle's `oci/index.json` is not an OCI index.
    #[error("a bundle's oci/index.json")]
    ImageIndex(#[source] serde_json::Error),
    /// A file in an unpacked bundle has a name that is not UTF-8.
    #[error("non-UTF-8 name {0:?}")]
    NonUtf8Name(OsString),
    /// The pack's timestamp does not fit gzip's header.
    #[error("SOURCE_DATE_EPOCH beyond 2106")]
    EpochPastGzip(#[source] std::num::TryFromIntError),
    /// A file being packed is shorter than when it was listed.
    #[error("{path} ended early")]
    EndedEarly {
        /// Its path in the pack.
        path: String,
    },
    /// Every lock file this portal created was removed by a portal starting at the same time.
    #[error(
        "no lock file of its own under {}: portals starting at the same time removed each one",
        root.display()
    )]
    NoLockFile {
        /// The scratch space.
        root: PathBuf,
    },
    /// Work on the blocking pool panicked.
    #[error("{action}")]
    Panicked {
        /// What was being done.
        action: &'static str,
        /// The panic.
        #[source]
        source: tokio::task::JoinError,
    },

    // ---- what the portal wraps
    /// A key or policy could not be loaded, or a bundle did not verify.
    #[error(transparent)]
    Trust(Box<TrustError>),
    /// A pack entry could not be written in the bundle format's tar.
    #[error(transparent)]
    Bundle(#[from] BundleError),
    /// The TLS certificate or key to serve with could not be loaded.
    #[error(transparent)]
    Tls(Box<RegistryError>),
    /// Reading or writing a local file or directory failed.
    #[error("{action} {}", path.display())]
    Io {
        /// What was being done.
        action: &'static str,
        /// The file or directory.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// The socket to serve on could not be opened.
    #[error("listening on {address}")]
    Listen {
        /// The address.
        address: SocketAddr,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
}

impl PortalServerError {
    /// Wraps an I/O error with what was being done and on which path.
    pub(crate) fn io(action: &'static str, path: &Path) -> impl FnOnce(std::io::Error) -> PortalServerError {
        move |source| PortalServerError::Io { action, path: path.to_owned(), source }
    }

    /// Wraps a metadata database error with what was being done.
    pub(crate) fn database(action: impl Into<Cow<'static, str>>) -> impl FnOnce(sqlx::Error) -> PortalServerError {
        let action = action.into();
        move |source| PortalServerError::Database { action, source }
    }

    /// Wraps the failure to convert a value of `column` (`table.column`).
    pub(crate) fn column<E: Error + Send + Sync + 'static>(
        column: &'static str,
    ) -> impl FnOnce(E) -> PortalServerError {
        move |source| PortalServerError::Column { column, source: Box::new(source) }
    }

    /// Whether the vendor's input caused this error, which a page then shows with its causes
    /// (what the vendor named is not there, a name or a version refused, a release that
    /// exists, a publication the verifier or the release's rules refused), rather than the
    /// portal's own failure (its database, its stores, its files, its configuration), which
    /// only the log explains.
    pub fn is_refusal(&self) -> bool {
        use PortalServerError as E;
        match self {
            E::Lookup(_)
            | E::BadOrgName { .. }
            | E::BadAdminName { .. }
            | E::BadProductName { .. }
            | E::AdminExists { .. }
            | E::OrgExists { .. }
            | E::NotSemverRange { .. }
            | E::NotSemver { .. }
            | E::ReleaseExists { .. }
            | E::ReleaseBeingPublished { .. }
            | E::UnpublishableName { .. }
            | E::GivenTwice { .. }
            | E::NoBundle
            | E::SidecarElsewhere { .. }
            | E::MissingSidecars { .. }
            | E::UnpackableName { .. }
            | E::OrphanSidecar { .. }
            | E::ArchiveAndParts { .. }
            | E::MissingPart { .. }
            | E::StrayPart { .. }
            | E::UnsignedParts { .. }
            | E::BadPartsManifest(_)
            | E::BundleRefused { .. }
            | E::WrongVersion { .. }
            | E::UnlistedReport { .. } => true,
            // The portal's own: its configuration and the vendor key it verifies uploads
            // against (`Trust`), its database, stores and files, its export builds.
            E::Config(_)
            | E::UnsupportedDatabase { .. }
            | E::Database { .. }
            | E::Column { .. }
            | E::ObjStore(_)
            | E::StoringArtifact { .. }
            | E::UnsafeStoreKey { .. }
            | E::CopyIntoStore { .. }
            | E::Reverify { .. }
            | E::ImageIndex(_)
            | E::NonUtf8Name(_)
            | E::EpochPastGzip(_)
            | E::EndedEarly { .. }
            | E::NoLockFile { .. }
            | E::Panicked { .. }
            | E::Trust(_)
            | E::Bundle(_)
            | E::Tls(_)
            | E::Io { .. }
            | E::Listen { .. } => false,
        }
    }

    /// What an export's recorded failure says, which its status answer shows the customer who
    /// asked for the pack: what failed, in the portal's terms. Never the error's own words,
    /// which name the portal's directories, database and store; the server log has those
    /// ([`genesis_types::error_chain`]).
    pub(crate) fn export_failure(&self) -> String {
        format!("the pack could not be built: {}; the portal's log has the cause", self.failed_part())
    }

    /// The part of the portal a failed export build stopped on, in a few words for a customer.
    fn failed_part(&self) -> Cow<'static, str> {
        match self {
            PortalServerError::Reverify { bundle, source } if source.class() == ErrorClass::Verdict => {
                format!("bundle {bundle} failed verification with the key its release was published under").into()
            }
            PortalServerError::Trust(e) if e.class() == ErrorClass::Verdict => {
                "a bundle failed verification with the key its release was published under".into()
            }
            PortalServerError::ImageIndex(_)
            | PortalServerError::NonUtf8Name(_)
            | PortalServerError::UnpackableName { .. }
            | PortalServerError::Bundle(_) => "the release holds a file a pack cannot carry".into(),
            PortalServerError::Database { .. } | PortalServerError::Column { .. } => {
                "the portal's metadata database failed".into()
            }
            PortalServerError::ObjStore(_)
            | PortalServerError::StoringArtifact { .. }
            | PortalServerError::CopyIntoStore { .. } => "the portal's artifact store failed".into(),
            PortalServerError::Io { .. } | PortalServerError::EndedEarly { .. } => "an I/O error on the server".into(),
            _ => "an error on the server".into(),
        }
    }
}

// The verifier's and the registry's errors are large: boxed, so that every result of this
// crate stays small.
impl From<TrustError> for PortalServerError {
    fn from(e: TrustError) -> Self {
        PortalServerError::Trust(Box::new(e))
    }
}

impl From<RegistryError> for PortalServerError {
    fn from(e: RegistryError) -> Self {
        PortalServerError::Tls(Box::new(e))
    }
}

/// What the vendor asked for and a publication refused are input, a missing organisation or
/// key is not found, and a refused bundle keeps the verifier's class; a database failure is
/// what sqlx says it is (`database_class`); what the portal wraps (the object store's errors
/// among them: its configuration is input, its failures the network's, an object not there
/// not found), and an I/O error, say themselves.
impl Classify for PortalServerError {
    fn class(&self) -> ErrorClass {
        match self {
            PortalServerError::Config(e) => e.class(),
            PortalServerError::Lookup(e) => e.class(),
            PortalServerError::Database { source, .. } => database_class(source),
            PortalServerError::ObjStore(e) => e.class(),
            PortalServerError::UnsupportedDatabase { .. }
            | PortalServerError::Column { .. }
            | PortalServerError::BadOrgName { .. }
            | PortalServerError::BadAdminName { .. }
            | PortalServerError::BadProductName { .. }
            | PortalServerError::AdminExists { .. }
            | PortalServerError::UnsafeStoreKey { .. }
            | PortalServerError::OrgExists { .. }
            | PortalServerError::NotSemverRange { .. }
            | PortalServerError::NotSemver { .. }
            | PortalServerError::ReleaseExists { .. }
            | PortalServerError::ReleaseBeingPublished { .. }
            | PortalServerError::UnpublishableName { .. }
            | PortalServerError::GivenTwice { .. }
            | PortalServerError::NoBundle
            | PortalServerError::SidecarElsewhere { .. }
            | PortalServerError::MissingSidecars { .. }
            | PortalServerError::OrphanSidecar { .. }
            | PortalServerError::ArchiveAndParts { .. }
            | PortalServerError::MissingPart { .. }
            | PortalServerError::StrayPart { .. }
            | PortalServerError::UnsignedParts { .. }
            | PortalServerError::WrongVersion { .. }
            | PortalServerError::UnlistedReport { .. }
            | PortalServerError::ImageIndex(_)
            | PortalServerError::NonUtf8Name(_)
            | PortalServerError::EpochPastGzip(_)
            | PortalServerError::EndedEarly { .. }
            | PortalServerError::NoLockFile { .. }
            | PortalServerError::Panicked { .. } => ErrorClass::Input,
            PortalServerError::StoringArtifact { source, .. } => source.class(),
            PortalServerError::UnpackableName { source, .. } => source.class(),
            PortalServerError::BundleRefused { source, .. } | PortalServerError::Reverify { source, .. } => {
                source.class()
            }
            PortalServerError::BadPartsManifest(source) => source.class(),
            PortalServerError::Trust(e) => e.class(),
            PortalServerError::Bundle(e) => e.class(),
            PortalServerError::Tls(e) => e.class(),
            PortalServerError::CopyIntoStore { source, .. }
            | PortalServerError::Io { source, .. }
            | PortalServerError::Listen { source, .. } => source.class(),
        }
    }
}

/// The class of a metadata database failure: an I/O error says itself (a refused connection
/// is the network's, an unwritable SQLite file the caller's); a server that does not answer
/// in time or fails its TLS handshake is the network's; anything else the database or sqlx
/// reports (a login or a statement refused, a URL sqlx cannot use) is about the database the
/// portal was given.
fn database_class(e: &sqlx::Error) -> ErrorClass {
    match e {
        sqlx::Error::Io(source) => source.class(),
        sqlx::Error::PoolTimedOut | sqlx::Error::Tls(_) => ErrorClass::Network,
        // sqlx's error is non-exhaustive: what it adds is about the database given.
        _ => ErrorClass::Input,
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = PortalServerError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_bundle_keeps_the_verifier_s_class_and_a_refused_publication_is_input() {
        let refused = TrustError::BomSignatureInvalid { tried: "SHA256:x".into() };
        let no_key = TrustError::NoTrustedKey;
        let unreachable = sqlx::Error::Io(std::io::ErrorKind::ConnectionRefused.into());
        for (e, class) in [
            (
                PortalServerError::BundleRefused { path: "a.tar.zst".into(), source: Box::new(refused) },
                ErrorClass::Verdict,
            ),
            (PortalServerError::from(no_key), ErrorClass::Input),
            (
                PortalServerError::ReleaseExists { product: "genesis".into(), version: "1.0.0".into() },
                ErrorClass::Input,
            ),
            (PortalServerError::from(LookupError::NoOrg { org: "acme".into() }), ErrorClass::NotFound),
            (PortalServerError::from(ConfigError::NoDataDir), ErrorClass::Input),
            (PortalServerError::from(ObjStoreError::NoAzureAccount { url: "az://c".into() }), ErrorClass::Input),
            (PortalServerError::database("opening the metadata database")(unreachable), ErrorClass::Network),
            (PortalServerError::database("listing the organisations")(sqlx::Error::PoolTimedOut), ErrorClass::Network),
            (PortalServerError::database("listing the organisations")(sqlx::Error::RowNotFound), ErrorClass::Input),
            (
                PortalServerError::io("creating", Path::new("scratch"))(std::io::ErrorKind::NotFound.into()),
                ErrorClass::NotFound,
            ),
        ] {
            assert_eq!(e.class(), class, "{e}");
        }
    }

    /// An export's recorded failure is shown to the customer: it says which part of the
    /// portal failed, never the server's paths, which the log keeps.
    #[test]
    fn an_export_failure_says_what_failed_in_the_portal_s_terms_and_no_server_path() {
        let scratch = Path::new("/srv/portal/scratch/portal-1/.tmpAbC/in/demo-0.1.0.tar.zst");
        let refused = || Box::new(TrustError::BomSignatureInvalid { tried: "SHA256:x".into() });
        let cases = [
            (
                PortalServerError::Reverify { bundle: "demo-0.1.0.tar.zst".into(), source: refused() },
                "bundle demo-0.1.0.tar.zst failed verification with the key its release was published under",
            ),
            (
                PortalServerError::Trust(refused()),
                "a bundle failed verification with the key its release was published under",
            ),
            (
                PortalServerError::io("copying into", scratch)(std::io::ErrorKind::NotFound.into()),
                "an I/O error on the server",
            ),
            (
                PortalServerError::io("packing", Path::new("charts/demo.tgz"))(std::io::Error::other("disk full")),
                "an I/O error on the server",
            ),
            (
                PortalServerError::database("listing the release's artifacts")(sqlx::Error::PoolTimedOut),
                "the portal's metadata database failed",
            ),
            (PortalServerError::EndedEarly { path: "images/blobs/sha256/ab".into() }, "an I/O error on the server"),
            (
                PortalServerError::from(TrustError::KeyFormat { path: scratch.to_owned(), reason: "not PEM".into() }),
                "an error on the server",
            ),
        ];
        for (e, part) in cases {
            let said = e.export_failure();
            assert_eq!(said, format!("the pack could not be built: {part}; the portal's log has the cause"), "{e}");
            assert!(!said.contains("/srv/portal") && !said.contains("disk full"), "{said}");
        }
        let logged = genesis_types::error_chain(&PortalServerError::io("copying into", scratch)(
            std::io::ErrorKind::NotFound.into(),
        ));
        assert!(logged.starts_with("copying into /srv/portal/scratch/"), "the log keeps the path: {logged}");
    }

    /// What the vendor asked for that the portal refuses is said to them; what failed in the
    /// portal itself, even while publishing, is not theirs to fix.
    #[test]
    fn only_errors_the_vendor_s_input_caused_are_refusals() {
        let refused = || Box::new(TrustError::BomSignatureInvalid { tried: "SHA256:x".into() });
        let disk_full = || std::io::Error::other("disk full");
        for refusal in [
            PortalServerError::from(LookupError::NoOrg { org: "acme".into() }),
            PortalServerError::BadOrgName { org: "Acme".into() },
            PortalServerError::BadAdminName { name: "a b".into() },
            PortalServerError::BadProductName { product: "../x".into() },
            PortalServerError::AdminExists { name: "alice".into() },
            PortalServerError::OrgExists { org: "acme".into() },
            PortalServerError::ReleaseExists { product: "genesis".into(), version: "1.0.0".into() },
            PortalServerError::NoBundle,
            PortalServerError::MissingSidecars { bundle: "demo-0.1.0.tar.zst".into() },
            PortalServerError::BundleRefused { path: "demo-0.1.0.tar.zst".into(), source: refused() },
            PortalServerError::WrongVersion {
                path: "demo-0.1.0.tar.zst".into(),
                found: "0.1.0".into(),
                version: "0.2.0".into(),
            },
        ] {
            assert!(refusal.is_refusal(), "{refusal}");
        }
        for own in [
            PortalServerError::io("reading", Path::new("/srv/portal/scratch/up/demo.tar.zst"))(disk_full()),
            PortalServerError::CopyIntoStore { local: "demo.tar.zst".into(), source: disk_full() },
            PortalServerError::StoringArtifact {
                name: "demo-0.1.0.tar.zst".into(),
                source: Box::new(PortalServerError::UnsafeStoreKey { key: "releases/../x".into() }),
            },
            PortalServerError::database("recording the release")(sqlx::Error::PoolTimedOut),
            PortalServerError::from(TrustError::NoTrustedKey),
            PortalServerError::from(ConfigError::NoDataDir),
            PortalServerError::Reverify { bundle: "demo-0.1.0.tar.zst".into(), source: refused() },
        ] {
            assert!(!own.is_refusal(), "{own}");
        }
    }

    #[test]
    fn an_error_with_its_causes_is_one_line() {
        let e = PortalServerError::io("creating", Path::new("/srv/portal"))(std::io::Error::other("disk on fire"));
        assert_eq!(genesis_types::error_chain(&e), "creating /srv/portal: disk on fire");
    }
}
