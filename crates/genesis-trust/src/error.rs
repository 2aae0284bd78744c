//! The one error type of this crate, grouped by phase.

use std::path::PathBuf;

use genesis_bundle::BundleError;
use genesis_types::{Classify, Digest, ErrorClass};

/// What can go wrong loading keys, signing or verifying.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum TrustError {
    // ---- keys
    /// A key file could not be read.
    #[error("reading key {}: {source}", path.display())]
    KeyIo {
        /// The key file.
        path: PathBuf,
        /// The cause.
        #[source]
        source: std::io::Error,
    },
    /// A key file is not a key Genesis can use.
    #[error("key {}: {reason}", path.display())]
    KeyFormat {
        /// The key file (or `<memory>`).
        path: PathBuf,
        /// What is wrong and what to do.
        reason: String,
    },
    /// A trust policy was built without any trusted key.
    #[error("no trusted key (there is no default trust)")]
    NoTrustedKey,
    /// No trust was named, and no policy is installed where one is looked for, nor embedded.
    #[error("no trust policy given and none found (looked at {}); there is no default trust", looked.join(", "))]
    NoPolicy {
        /// Each place looked at, in order, with what was found there.
        looked: Vec<String>,
    },

    // ---- signatures
    /// The signature bytes are not a base64 DER ECDSA signature.
    #[error("{what} is not a base64 DER ECDSA signature: {reason}")]
    SignatureFormat {
        /// Which signature.
        what: String,
        /// Why it was refused.
        reason: String,
    },
    /// No trusted key verifies the BOM signature.
    #[error(
        "BOM signature does not verify against any trusted key (tried {tried}); the bundle is unsigned by a key you trust or was altered"
    )]
    BomSignatureInvalid {
        /// Fingerprints of the keys tried.
        tried: String,
    },
    /// The trusted key that verifies a signature is outside the validity window its trust
    /// policy gives it (`notBefore`, `notAfter`): there it verifies nothing.
    #[error(
        "key {key} ({}) verifies nothing now: its {bound} in the trust policy is {date} and it is now {now}; \
         have the bundle re-signed with a key valid now, or correct the key's window in the policy",
        file.display()
    )]
    KeyOutsideValidity {
        /// The key's fingerprint.
        key: crate::KeyFingerprint,
        /// Its file, as the policy names it.
        file: PathBuf,
        /// The bound it is outside of: `notBefore` or `notAfter`.
        bound: &'static str,
        /// That bound, RFC 3339.
        date: String,
        /// The time of the verification, RFC 3339.
        now: String,
    },
    /// The BOM's signed `expires` has passed.
    #[error(
        "the bundle expired at {expires} (its signed BOM says so) and it is now {now}; an expired bundle is \
         never given a pass: ask its vendor for one re-signed or rebuilt with a later expiry"
    )]
    BundleExpired {
        /// The BOM's `expires`, RFC 3339.
        expires: String,
        /// The time of the verification, RFC 3339.
        now: String,
    },
    /// The bundle is signed by a trusted key but the policy refuses it.
    #[error("policy refuses the bundle ({rule}): {detail}")]
    PolicyViolation {
        /// Which rule.
        rule: String,
        /// Why, with the evidence.
        detail: String,
    },
    /// A sigstore bundle or DSSE envelope was refused.
    #[error("sigstore bundle refused: {reason}")]
    BundleRefused {
        /// Why.
        reason: String,
    },
    /// A sigstore bundle verifies only with what the caller did not give: another kind of
    /// signer, the transparency log ignored, or the pinned trusted root.
    #[error("sigstore bundle refused: {0}")]
    BundleNeeds(crate::sigstore::Needs),
    /// The detached `.sig` beside the archive does not verify.
    #[error("{}: detached signature does not verify against any trusted key (tried {tried})", path.display())]
    SidecarSignatureInvalid {
        /// The sidecar.
        path: PathBuf,
        /// Fingerprints of the keys tried.
        tried: String,
    },
    /// The `.sha256` beside the archive names another digest.
    #[error("{}: says {expected} but the archive is {actual}", path.display())]
    SidecarDigestMismatch {
        /// The sidecar.
        path: PathBuf,
        /// What the sidecar says.
        expected: String,
        /// What the archive hashes to.
        actual: Digest,
    },
    /// A sidecar file is malformed.
    #[error("{}: {reason}", path.display())]
    SidecarFormat {
        /// The sidecar.
        path: PathBuf,
        /// What is wrong.
        reason: String,
    },
    /// A file the `.sha256` beside the archive lists after it (the release evidence report)
    /// is not beside the archive.
    #[error(
        "{}: listed in {} but not found; keep the files the list names beside the archive, as `sha256sum -c` expects them",
        path.display(),
        list.display()
    )]
    ListedFileMissing {
        /// The listed file, where it was looked for.
        path: PathBuf,
        /// The `.sha256` that lists it.
        list: PathBuf,
    },
    /// A file the `.sha256` beside the archive lists after it (the release evidence report)
    /// has other bytes than the list says. What it hashes to is not told: a list crafted to
    /// name some file would otherwise learn its digest.
    #[error(
        "{}: {} says {expected} but the file has other bytes; it was altered or replaced",
        path.display(),
        list.display()
    )]
    ListedFileMismatch {
        /// The listed file.
        path: PathBuf,
        /// The `.sha256` that lists it.
        list: PathBuf,
        /// What the list says.
        expected: Digest,
    },

    /// The bundle's SBOM leaves out something the BOM lists.
    #[error("SBOM {path} is incomplete: it does not list {}", missing.join(", "))]
    SbomIncomplete {
        /// The SBOM.
        path: String,
        /// What the BOM lists and the SBOM does not.
        missing: Vec<String>,
    },
    /// The bundle's provenance envelope is present but does not hold.
    #[error("SLSA provenance refused: {reason}")]
    ProvenanceRefused {
        /// What is wrong.
        reason: String,
    },

    // ---- extracted trees (`verify --dir`)
    /// A tree lacks the head `extract` writes beside the payload.
    #[error(
        "{}{} not found: the folder holds no signed head, so it is not a tree `extract` wrote (or one written before \
         extract kept the head); extract the bundle again",
        path.display(),
        or.map(|name| format!(" or {name}")).unwrap_or_default()
    )]
    TreeNotExtracted {
        /// The head file looked for.
        path: PathBuf,
        /// The other name it may have beside it, looked for too: a signature is `bom.json.sig`
        /// or `bom.sigstore.json`.
        or: Option<&'static str>,
    },
    /// A tree holds a file or folder that neither its BOM nor its head has.
    #[error("{}: not in the BOM; it was added to the tree after extraction", path.display())]
    TreeFileAdded {
        /// The file or folder.
        path: PathBuf,
    },
    /// A file the BOM lists is not in the tree.
    #[error("{}: listed in the BOM but missing from the tree", path.display())]
    TreeFileMissing {
        /// Where it belongs.
        path: PathBuf,
    },
    /// A file of the tree has another size than the BOM says.
    #[error("{}: size {actual} does not match the BOM ({expected}); the file was changed after extraction", path.display())]
    TreeSizeMismatch {
        /// The file.
        path: PathBuf,
        /// The size the BOM lists.
        expected: u64,
        /// The file's size.
        actual: u64,
    },
    /// A file of the tree has other bytes than the BOM says.
    #[error(
        "{}: content digest {actual} does not match the BOM ({expected}); the file was changed after extraction",
        path.display()
    )]
    TreeDigestMismatch {
        /// The file.
        path: PathBuf,
        /// The SHA-256 the BOM lists.
        expected: Digest,
        /// The file's.
        actual: Digest,
    },
    /// An entry of a tree that is not a regular file or a folder (a symbolic link, a FIFO, a
    /// socket, a device), or one replaced while it was checked.
    #[error("{}: {reason}", path.display())]
    TreeEntryRefused {
        /// The entry.
        path: PathBuf,
        /// What it is.
        reason: String,
    },

    // ---- bundle
    /// The bundle itself was refused.
    #[error(transparent)]
    Bundle(#[from] BundleError),
}

impl TrustError {
    /// Whether this is a verdict on the bundle or its signatures (exit code 1) rather than
    /// a problem with the caller's input such as an unreadable key or a missing file.
    pub fn is_verification_failure(&self) -> bool {
        self.class() == ErrorClass::Verdict
    }
}

/// A refusal of the bundle, a signature or a sidecar is a verdict; the keys and the policy
/// are the caller's input.
impl Classify for TrustError {
    fn class(&self) -> ErrorClass {
        match self {
            TrustError::KeyIo { source, .. } => source.class(),
            TrustError::KeyFormat { .. } | TrustError::NoTrustedKey | TrustError::NoPolicy { .. } => ErrorClass::Input,
            TrustError::SignatureFormat { .. }
            | TrustError::BomSignatureInvalid { .. }
            | TrustError::KeyOutsideValidity { .. }
            | TrustError::BundleExpired { .. }
            | TrustError::PolicyViolation { .. }
            | TrustError::BundleRefused { .. }
            | TrustError::BundleNeeds(_)
            | TrustError::SidecarSignatureInvalid { .. }
            | TrustError::SidecarDigestMismatch { .. }
            | TrustError::SidecarFormat { .. }
            | TrustError::ListedFileMissing { .. }
            | TrustError::ListedFileMismatch { .. }
            | TrustError::SbomIncomplete { .. }
            | TrustError::ProvenanceRefused { .. }
            | TrustError::TreeNotExtracted { .. }
            | TrustError::TreeFileAdded { .. }
            | TrustError::TreeFileMissing { .. }
            | TrustError::TreeSizeMismatch { .. }
            | TrustError::TreeDigestMismatch { .. }
            | TrustError::TreeEntryRefused { .. } => ErrorClass::Verdict,
            TrustError::Bundle(b) => b.class(),
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = TrustError> = std::result::Result<T, E>;

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_refused_signature_is_a_verdict_and_an_unusable_key_is_input() {
        let tampered = BundleError::Truncated { detail: "in a header".into() };
        let missing_key = TrustError::KeyIo { path: "k.pub".into(), source: std::io::ErrorKind::NotFound.into() };
        for (e, class) in [
            (TrustError::BomSignatureInvalid { tried: "SHA256:x".into() }, ErrorClass::Verdict),
            (TrustError::PolicyViolation { rule: "names".into(), detail: "other".into() }, ErrorClass::Verdict),
            (TrustError::Bundle(tampered), ErrorClass::Verdict),
            (TrustError::Bundle(BundleError::OutputExists { path: "out".into() }), ErrorClass::Input),
            (TrustError::NoTrustedKey, ErrorClass::Input),
            (TrustError::NoPolicy { looked: vec!["/etc/genesis/trust.yaml".into()] }, ErrorClass::Input),
            (TrustError::KeyFormat { path: "k.pub".into(), reason: "not PEM".into() }, ErrorClass::Input),
            (missing_key, ErrorClass::NotFound),
        ] {
            assert_eq!(e.class(), class, "{e}");
            assert_eq!(e.is_verification_failure(), class == ErrorClass::Verdict, "{e}");
        }
    }
}
