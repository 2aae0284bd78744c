//! The bundle verifier: a typestate that makes skipping verification impossible.
//!
//! [`UnverifiedBundle::open`] reads only the head (the BOM and its signature);
//! [`UnverifiedBundle::verify`] checks the signature against the policy before parsing
//! the BOM and returns a [`VerifiedBundle`], the only type that can stream the payload.
//! No public constructor of `VerifiedBundle` exists (its fields are private), and code
//! that trusts a BOM takes a [`SignedBom`], which only the verified types are. This
//! compiles:
//!
//! ```no_run
//! use genesis_trust::{SignedBom, TrustPolicy, UnverifiedBundle};
//!
//! fn bom_name(bundle: &dyn SignedBom) -> &str {
//!     &bundle.signed_bom().name
//! }
//!
//! fn run(policy: &TrustPolicy) -> genesis_trust::Result<()> {
//!     let bundle = UnverifiedBundle::open(std::path::Path::new("demo.tar.zst"), &Default::default())?;
//!     let bundle = bundle.verify(policy)?;
//!     println!("{}", bom_name(&bundle));
//!     Ok(())
//! }
//! ```
//!
//! and the same code without its `verify` line does not: an [`UnverifiedBundle`] is not a
//! `SignedBom` (the two examples differ in that line alone, so this one fails for that
//! reason only).
//!
//! ```compile_fail
//! use genesis_trust::{SignedBom, TrustPolicy, UnverifiedBundle};
//!
//! fn bom_name(bundle: &dyn SignedBom) -> &str {
//!     &bundle.signed_bom().name
//! }
//!
//! fn run(policy: &TrustPolicy) -> genesis_trust::Result<()> {
//!     let bundle = UnverifiedBundle::open(std::path::Path::new("demo.tar.zst"), &Default::default())?;
//!     println!("{}", bom_name(&bundle));
//!     Ok(())
//! }
//! ```
//!
//! `SignedBom` is sealed, so no other type can claim to be signed. A type with the trait's
//! three required methods compiles:
//!
//! ```
//! use std::path::{Path, PathBuf};
//!
//! use genesis_bundle::Bom;
//! use genesis_types::Digest;
//!
//! struct Forged {
//!     bom: Bom,
//!     path: PathBuf,
//!     digest: Digest,
//! }
//!
//! impl Forged {
//!     fn signed_bom(&self) -> &Bom {
//!         &self.bom
//!     }
//!     fn archive(&self) -> &Path {
//!         &self.path
//!     }
//!     fn bom_sha256(&self) -> &Digest {
//!         &self.digest
//!     }
//! }
//! ```
//!
//! and implementing `SignedBom` with them, the one line that differs, does not:
//!
//! ```compile_fail
//! use std::path::{Path, PathBuf};
//!
//! use genesis_bundle::Bom;
//! use genesis_types::Digest;
//!
//! struct Forged {
//!     bom: Bom,
//!     path: PathBuf,
//!     digest: Digest,
//! }
//!
//! impl genesis_trust::SignedBom for Forged {
//!     fn signed_bom(&self) -> &Bom {
//!         &self.bom
//!     }
//!     fn archive(&self) -> &Path {
//!         &self.path
//!     }
//!     fn bom_sha256(&self) -> &Digest {
//!         &self.digest
//!     }
//! }
//! ```

use std::io::{Read as _, Write};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use genesis_bundle::danger::check_payload;
use genesis_bundle::{
    ArchiveFile, ArchiveIndex, ArchiveReader, Bom, BundleError, Discard, ExportedImage, FileDigest, FileStamp, Head,
    HeadForm, Limits, PayloadSink, RemoteFolder, RuntimeFormat, Staging, sha256,
};
use genesis_types::{Digest, Platform};

use crate::countersign::Countersignatures;
use crate::keys::decode_signature;
use crate::policy::TrustPolicy;
use crate::policy_file::InstallAudit;
use crate::provenance::{ProvenanceSummary, verify_provenance, verify_provenance_bundle};
use crate::requirement::{Attestation, Evidence, ScanEvidence};
use crate::sigstore::{Artifact, SignedContent, SigstoreBundle};
use crate::{AcceptedSigner, Result, TrustError};

/// Decompressed frames an export shares between its blobs: the blobs go out image by image
/// while the archive holds them in digest order, so without a cache each small blob would
/// decompress a 4 MiB frame of its own (a release of 10,000 small blobs: 30 s, not 1).
const EXPORT_FRAME_CACHE: u64 = 64 << 20;

/// A bundle whose head has been read but whose signature has not been checked.
pub struct UnverifiedBundle {
    path: PathBuf,
    reader: ArchiveReader,
    head: Head,
    limits: Limits,
}

impl UnverifiedBundle {
    /// Opens `path` and reads its first two entries, within `limits`. A split bundle's parts
    /// manifest, a part, or the archive's own name beside its parts opens the parts in place
    /// (`genesis_bundle::BundleLocation`); the bundle's path is then the archive's, where its
    /// sidecars are looked for.
    pub fn open(path: &Path, limits: &Limits) -> Result<UnverifiedBundle> {
        UnverifiedBundle::open_file(ArchiveFile::open(path)?, limits)
    }

    /// [`open`](Self::open) of an archive already open: a file, parts, or an archive in a
    /// bucket read by ranges (`ArchiveFile::open_remote`), whose sidecars are then read from
    /// its bucket folder.
    pub fn open_file(file: ArchiveFile, limits: &Limits) -> Result<UnverifiedBundle> {
        let path = file.path().to_owned();
        let mut reader = ArchiveReader::over(file, limits, false)?;
        let head = reader.read_head()?;
        Ok(UnverifiedBundle { path, reader, head, limits: limits.clone() })
    }

    /// The count of payload bytes checked so far, for a progress display. Its total is set
    /// once the BOM is verified.
    pub fn progress(&self) -> genesis_bundle::ProgressCounter {
        self.reader.progress()
    }

    /// Checks the BOM signature against `policy` (by a trusted key inside its validity
    /// window now, or a trusted keyless identity), parses the BOM, refuses it past its signed
    /// `expires`, checks the provenance when there is one, then the policy's constraints.
    pub fn verify(self, policy: &TrustPolicy) -> Result<VerifiedBundle> {
        let countersignatures = match Beside::of(self.reader.archive_file()) {
            Beside::Disk => Countersignatures::beside(&self.path, &self.limits)?,
            Beside::Bucket(folder) => Countersignatures::in_bucket(&*folder, &self.path, &self.limits)?,
        };
        let signed = verify_head(&self.path, &self.head, policy, &self.limits, &countersignatures)?;
        let parts = check_parts_manifest(self.reader.archive_file(), &signed, policy)?;
        self.reader.progress().set_total(signed.bom.payload_size());
        Ok(VerifiedBundle {
            parts,
            path: self.path,
            reader: self.reader,
            head: self.head,
            countersignatures,
            signed,
            policy: policy.clone(),
            limits: self.limits,
        })
    }
}

/// What a head (an archive's, or the one `extract` leaves in a tree) established once its
/// signature verified: the BOM, its digests, the signer, the provenance, the policy's
/// decisions. Only [`verify_head`] makes one.
pub(crate) struct SignedHead {
    pub(crate) bom: Bom,
    pub(crate) bom_digest: Digest,
    pub(crate) bom_blake3: String,
    pub(crate) signer: AcceptedSigner,
    pub(crate) countersigners: Vec<AcceptedSigner>,
    pub(crate) provenance: Option<ProvenanceSummary>,
    pub(crate) decisions: Vec<String>,
    /// The countersignatures left out, and why.
    pub(crate) ignored: Vec<String>,
}

impl SignedHead {
    /// What the report of a bundle and that of a tree both say of this head.
    pub(crate) fn report(&self) -> HeadReport {
        HeadReport {
            name: self.bom.name.clone(),
            version: self.bom.version.clone(),
            signer: self.signer.clone(),
            countersigners: self.countersigners.clone(),
            bom_sha256: self.bom_digest.clone(),
            bom_blake3: self.bom_blake3.clone(),
            policy: self.decisions.clone(),
            ignored: self.ignored.clone(),
            sbom: self.bom.bundle_sbom().map(|s| s.path.to_string()),
            provenance: self.provenance.clone(),
        }
    }
}

/// What verifying a head established, the same for a bundle ([`VerifyReport`]) and for a
/// tree extracted from it ([`crate::TreeReport`]): each report holds one, flattened, so its
/// JSON has these keys at its top level right after `bundle` or `dir`, and code that renders
/// a head takes this alone. The expiry and the scan the signed BOM records are the head's
/// too, but each report keeps them as its last fields: flattened here, they would move to
/// another place in the JSON both print.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct HeadReport {
    /// Bundle name from the BOM.
    pub name: String,
    /// Bundle version from the BOM.
    pub version: String,
    /// Who signed the BOM inside the archive (the vendor: always required): a trusted key,
    /// or a keyless identity.
    pub signer: AcceptedSigner,
    /// The countersignatures over the BOM beside the archive that verified, when there are.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub countersigners: Vec<AcceptedSigner>,
    /// SHA-256 of `bom.json`.
    pub bom_sha256: Digest,
    /// BLAKE3 fingerprint of `bom.json` (`b3sum` of it), recorded for audits.
    pub bom_blake3: String,
    /// What the policy decided beyond the signature, with its evidence.
    pub policy: Vec<String>,
    /// What the verification left out, a warning each: the countersignatures by keys the
    /// policy does not trust.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<String>,
    /// The bundle's SBOM, when the BOM lists one; checked against the BOM when the payload
    /// is.
    pub sbom: Option<String>,
    /// The verified SLSA provenance, when the bundle or the tree carries one.
    pub provenance: Option<ProvenanceSummary>,
}

/// Judges the head of `origin` (an archive or an extracted tree, named in the log): the BOM
/// signature against `policy` before the BOM is parsed (`bom.json.sig` by a trusted key
/// inside its validity window now; `bom.sigstore.json` by a trusted keyless identity, its
/// certificate judged at its log entry's or timestamp's time, or by a trusted key), then its
/// signed `expires`, the provenance when there is one (signed by the same signer), and the
/// policy's constraints, which count the `countersignatures` that verify as signers too. The
/// one judgement of a head: a bundle and the tree extracted from it pass or fail it alike.
pub(crate) fn verify_head(
    origin: &Path,
    head: &Head,
    policy: &TrustPolicy,
    limits: &Limits,
    countersignatures: &Countersignatures,
) -> Result<SignedHead> {
    let signature_path = head.form.signature_path();
    // The key that signed a `bom.json.sig`, which signs its DSSE provenance envelope too.
    let (signer, key) = match head.form {
        HeadForm::Cosign => {
            let der = decode_signature(&head.signature, signature_path)?;
            let key = policy
                .signer(|k| k.verifies(&head.bom, &der))?
                .ok_or_else(|| TrustError::BomSignatureInvalid { tried: policy.describe_keys() })?;
            (AcceptedSigner::key(key), Some(key))
        }
        HeadForm::Sigstore => {
            let bundle = sigstore_bundle(&head.signature, signature_path)?;
            let bom = Artifact::Bytes(&head.bom);
            (policy.sigstore_signer(&bundle, bom, SignedContent::Message, signature_path)?, None)
        }
    };
    tracing::info!(signer = %signer, bundle = %origin.display(), "BOM signature accepted");
    let bom = Bom::parse(&head.bom, limits)?;
    // Read only now: the expiry is signed with the rest of the BOM.
    crate::policy::check_expiry(&bom, crate::policy::now())?;
    let bom_digest = sha256(&head.bom);
    let bom_blake3 = blake3::hash(&head.bom).to_hex().to_string();
    // A provenance that is present but wrong fails the bundle: never ignored.
    let provenance = match (head.provenance.as_deref(), key) {
        (None, _) => None,
        (Some(envelope), Some(key)) => Some(verify_provenance(envelope, &bom_digest, key)?),
        (Some(bundle), None) => {
            let bundle = sigstore_bundle(bundle, head.form.provenance_path())?;
            Some(verify_provenance_bundle(&bundle, &bom_digest, policy, &signer)?)
        }
    };
    let mut evidence = Evidence::default();
    evidence.add_signer(&signer);
    // Countersignatures over the same BOM bytes count as signers for `require`; one that does
    // not hold fails the head here, before any constraint is judged or payload byte read.
    let countersigned = countersignatures.verify(&head.bom, policy, &signer)?;
    countersigned.signers.iter().for_each(|countersigner| evidence.add_signer(countersigner));
    if bom.bundle_sbom().is_some() {
        evidence.attestations.insert(Attestation::Sbom);
    }
    if provenance.is_some() {
        evidence.attestations.insert(Attestation::Provenance);
    }
    evidence.scan = bom.scan.as_ref().map(|scan| ScanEvidence::of(scan, crate::policy::now()));
    let decisions = policy.constraints().check(&bom, &bom_blake3, &evidence).map_err(|e| countersigned.explain(e))?;
    let (countersigners, ignored) = (countersigned.signers, countersigned.ignored);
    Ok(SignedHead { bom, bom_digest, bom_blake3, signer, countersigners, provenance, decisions, ignored })
}

/// The sigstore bundle a head carries as its entry `name`, read; not yet verified.
fn sigstore_bundle(bytes: &[u8], name: &str) -> Result<SigstoreBundle> {
    SigstoreBundle::from_slice(bytes)
        .map_err(|e| TrustError::BundleRefused { reason: format!("{name}: {}", crate::policy::reason(e)) })
}

/// A bundle whose BOM is signed by a trusted key or identity. Its payload is checked against
/// that BOM as it streams, by [`VerifiedBundle::check`] or [`VerifiedBundle::extract`].
pub struct VerifiedBundle {
    path: PathBuf,
    reader: ArchiveReader,
    /// What its parts manifest established, for a split bundle.
    parts: Option<PartsReport>,
    /// The head's bytes, which `extract` writes beside the payload.
    head: Head,
    /// The countersignatures read beside the archive, which `extract` writes beside the head.
    countersignatures: Countersignatures,
    /// What verifying the head established.
    signed: SignedHead,
    policy: TrustPolicy,
    limits: Limits,
}

/// A bundle whose BOM signature verified: [`VerifiedBundle`] (payload not yet read) or
/// [`CheckedBundle`] (payload checked). Code that only needs the signed BOM and to read
/// files it checks against that BOM's digests takes this. Sealed: those two are the only
/// implementations there can be, so a BOM nobody verified never passes for one.
pub trait SignedBom: sealed::Sealed {
    /// The verified BOM.
    fn signed_bom(&self) -> &Bom;
    /// The archive.
    fn archive(&self) -> &Path;
    /// SHA-256 of the BOM's exact bytes.
    fn bom_sha256(&self) -> &Digest;
    /// The archive as it was opened: a file, parts, or a remote object.
    fn archive_file(&self) -> &ArchiveFile;

    /// Where every file of the signed BOM lies in the archive, to read files in place through
    /// its seek table (seekable zstd archives only), within `limits`; every file the BOM
    /// lists must be there with its size. A small file read whole is checked against its
    /// signed digest, and a blob that streams is hashed by whoever reads it. Outside
    /// `genesis_bundle::danger`, the only way to an [`ArchiveIndex`].
    fn archive_index(&self, limits: &Limits) -> genesis_bundle::Result<ArchiveIndex> {
        let file =
            self.archive_file().try_clone().map_err(genesis_bundle::BundleError::io("opening", self.archive()))?;
        genesis_bundle::danger::open_index_over(file, self.signed_bom(), limits)
    }
}

/// The seal of [`SignedBom`]: a public trait in a private module, which other crates can
/// neither name nor implement.
mod sealed {
    pub trait Sealed {}
    impl Sealed for super::VerifiedBundle {}
    impl Sealed for super::CheckedBundle {}
}

impl SignedBom for VerifiedBundle {
    fn signed_bom(&self) -> &Bom {
        &self.signed.bom
    }
    fn archive(&self) -> &Path {
        &self.path
    }
    fn bom_sha256(&self) -> &Digest {
        &self.signed.bom_digest
    }
    fn archive_file(&self) -> &ArchiveFile {
        self.reader.archive_file()
    }
}

impl SignedBom for CheckedBundle {
    fn signed_bom(&self) -> &Bom {
        &self.bom
    }
    fn archive(&self) -> &Path {
        &self.report.bundle
    }
    fn bom_sha256(&self) -> &Digest {
        &self.report.head.bom_sha256
    }
    fn archive_file(&self) -> &ArchiveFile {
        &self.file
    }
}

/// A bundle whose every entry matched its signed BOM in a full pass: what `serve` and
/// `export` take, and what a load must hold before it pushes a manifest. Like
/// [`VerifiedBundle`], it has no public constructor.
#[derive(Debug, Clone)]
pub struct CheckedBundle {
    bom: Bom,
    report: VerifyReport,
    /// The archive as the pass read it, which later reads open again.
    file: Arc<ArchiveFile>,
    constraints: crate::policy_file::Constraints,
    stamp: FileStamp,
    /// The bundle's SBOM as the pass read and checked it.
    sbom: Option<Arc<[u8]>>,
}

impl CheckedBundle {
    /// The verified BOM.
    pub fn bom(&self) -> &Bom {
        &self.bom
    }

    /// Records this bundle as installed in the policy's anti-rollback state, if it has one.
    pub fn mark_installed(&self) -> Result<()> {
        let head = &self.report.head;
        let audit =
            InstallAudit { signer: &head.signer, countersigners: &head.countersigners, bom_sha256: &head.bom_sha256 };
        self.constraints.record_installed(&self.bom, &head.bom_blake3, audit)
    }

    /// What the verification established.
    pub fn report(&self) -> &VerifyReport {
        &self.report
    }

    /// The archive.
    pub fn path(&self) -> &Path {
        &self.report.bundle
    }

    /// The archive file's stamp while it was checked: a file with another stamp is no
    /// longer the one checked.
    pub fn stamp(&self) -> FileStamp {
        self.stamp
    }

    /// The bundle's SBOM ([`VerifyReport::sbom`]) as the pass read it: it matched its signed
    /// SHA-256 and names every image, chart and manifest of the BOM. `None` when the BOM
    /// lists none. Kept so that a reader of it (the release report) needs no second pass.
    pub fn sbom(&self) -> Option<&[u8]> {
        self.sbom.as_deref()
    }

    /// Writes the runnable images of this bundle (cosign signatures and other artifacts are
    /// left out: a runtime cannot run them), read from its archive within `limits`, to `out`
    /// as one archive a container runtime imports, in `format`, narrowed to `platform` when
    /// given. A docker archive holds one platform per image, so a multi-platform image needs
    /// `platform`. Every blob is hashed again on its way out, so bytes changed on disk since
    /// the check never reach the runtime.
    pub fn export_images(
        &self,
        limits: &Limits,
        format: RuntimeFormat,
        platform: Option<&Platform>,
        out: &mut dyn Write,
    ) -> genesis_bundle::Result<Vec<ExportedImage>> {
        let index = self.archive_index(limits)?.with_frame_cache(EXPORT_FRAME_CACHE);
        genesis_bundle::danger::export_images(&index, &self.bom, format, platform, out)
    }
}

/// What the parts manifest of a split bundle established (decision 0042).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct PartsReport {
    /// The parts manifest.
    pub manifest: PathBuf,
    /// How many parts were read in place, each checked against its listed SHA-256.
    pub parts: usize,
    /// The manifest's `.sig` sidecar, checked with the BOM's policy.
    pub signature_sidecar: Sidecar,
    /// The manifest's `.cosign.bundle` sidecar, checked with the BOM's policy.
    pub cosign_bundle_sidecar: Sidecar,
    /// Who signed the `.cosign.bundle` sidecar, when it was signed keyless.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cosign_bundle_identity: Option<AcceptedSigner>,
    /// Whether a signature over the manifest verified: its part hashes then prove the
    /// archive, and the archive's SHA-256 is the one it records; otherwise the archive was
    /// hashed as well and matched it.
    pub signed: bool,
}

/// For a split bundle: refuses a parts manifest of another release (its BOM digest is not
/// the signed BOM's), checks the manifest's signature sidecars with the policy, and once one
/// verified lets the pass under way hash each part only. `None` for one archive file.
fn check_parts_manifest(file: &ArchiveFile, signed: &SignedHead, policy: &TrustPolicy) -> Result<Option<PartsReport>> {
    let Some(manifest) = file.manifest() else { return Ok(None) };
    let path = genesis_bundle::manifest_path(file.path());
    if manifest.bom != signed.bom_digest {
        return Err(BundleError::PartsManifest {
            detail: format!(
                "lists the BOM {}, but the archive its parts make carries {}: the manifest belongs to another release",
                manifest.bom, signed.bom_digest
            ),
            path,
        }
        .into());
    }
    let digest = FileDigest::of(file.manifest_bytes());
    let beside = Beside::of(file);
    let signature_sidecar = check_signature_sidecar(&beside, &path, &digest, policy)?;
    let (cosign_bundle_sidecar, cosign_bundle_identity) = check_cosign_bundle_sidecar(&beside, &path, &digest, policy)?;
    let signed = [&signature_sidecar, &cosign_bundle_sidecar].iter().any(|s| matches!(s, Sidecar::Match { .. }));
    if signed {
        file.set_manifest_signed();
    }
    Ok(Some(PartsReport {
        manifest: path,
        parts: manifest.parts.len(),
        signature_sidecar,
        cosign_bundle_sidecar,
        cosign_bundle_identity,
        signed,
    }))
}

/// State of one sidecar file beside the archive.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase", tag = "status")]
pub enum Sidecar {
    /// Present and consistent.
    Match {
        /// The sidecar file.
        path: PathBuf,
    },
    /// Not present.
    Absent {
        /// Where it was looked for.
        path: PathBuf,
    },
}

/// What [`VerifiedBundle::check_attestations`] established, the payload not streamed. Only
/// that method makes one.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct AttestationReport {
    /// What the policy decided beyond the signature, with its evidence.
    pub policy: Vec<String>,
    /// What the verification left out, a warning each (see [`HeadReport::ignored`]).
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub ignored: Vec<String>,
    /// The bundle's SBOM, read from the archive and checked against its signed SHA-256 and
    /// the BOM; `None` when the BOM lists none.
    pub sbom: Option<String>,
    /// The SLSA provenance, verified with the head; `None` when the bundle carries none.
    pub provenance: Option<ProvenanceSummary>,
}

/// A bundle whose attestations [`VerifiedBundle::check_attestations`] checked, its payload
/// not streamed: what a re-load that finds every blob already in the registry holds. Only
/// that method makes one, borrowing the bundle it checked, so the bundle it records as
/// installed is that one and no other.
pub struct AttestedBundle<'a> {
    bundle: &'a VerifiedBundle,
    report: AttestationReport,
}

impl<'a> AttestedBundle<'a> {
    /// The bundle whose attestations were checked.
    pub fn bundle(&self) -> &'a VerifiedBundle {
        self.bundle
    }

    /// What the check established.
    pub fn report(&self) -> &AttestationReport {
        &self.report
    }

    /// Records the bundle, whose payload was not read, as installed in the policy's
    /// anti-rollback state, if it has one.
    pub fn mark_installed(&self) -> Result<()> {
        let (signed, policy) = (&self.bundle.signed, &self.bundle.policy);
        let audit = InstallAudit {
            signer: &signed.signer,
            countersigners: &signed.countersigners,
            bom_sha256: &signed.bom_digest,
        };
        policy.constraints().record_installed(&signed.bom, &signed.bom_blake3, audit)
    }
}

impl std::fmt::Debug for AttestedBundle<'_> {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("AttestedBundle").field("bundle", &self.bundle.path).field("report", &self.report).finish()
    }
}

/// Everything a successful verification established, with its evidence.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct VerifyReport {
    /// The archive verified.
    pub bundle: PathBuf,
    /// What its head established: name, version, signer, BOM digests, policy decisions,
    /// SBOM and provenance, as the report of a tree extracted from it says them.
    #[serde(flatten)]
    pub head: HeadReport,
    /// SHA-256 of the archive file.
    pub archive_sha256: Digest,
    /// Size of the archive file.
    pub archive_size: u64,
    /// Payload files checked against the BOM.
    pub files: u64,
    /// Payload bytes checked.
    pub payload_bytes: u64,
    /// Images, charts and manifests the BOM lists.
    pub images: usize,
    /// Charts the BOM lists.
    pub charts: usize,
    /// Manifests the BOM lists.
    pub manifests: usize,
    /// For a split bundle read in place, its parts manifest and what checked it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub parts: Option<PartsReport>,
    /// The `.sha256` sidecar.
    pub sha256_sidecar: Sidecar,
    /// The files beside the archive that its `.sha256` list names after the archive (the
    /// release evidence report `bundle-builder create --report` writes), each found there with
    /// its listed SHA-256; empty when the list names the archive alone.
    #[serde(skip_serializing_if = "Vec::is_empty")]
    pub sha256_listed: Vec<PathBuf>,
    /// The `.sig` sidecar, checked with the same policy as the BOM.
    pub signature_sidecar: Sidecar,
    /// The `.cosign.bundle` sidecar (a sigstore bundle over the archive), checked with the same
    /// policy.
    pub cosign_bundle_sidecar: Sidecar,
    /// Who signed the `.cosign.bundle` sidecar, when it was signed keyless; absent for a
    /// key-signed one (a key of the policy) and when there is none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cosign_bundle_identity: Option<AcceptedSigner>,
    /// Where the payload was extracted, for `extract`.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub extracted_to: Option<PathBuf>,
    /// When the bundle expires, as its signed BOM states it; absent when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// The vulnerability scan the signed BOM records; absent when it records none.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub scan: Option<genesis_bundle::ScanSummary>,
    /// For a delta bundle (decision 0043): the base it needs loaded first, and the blobs it
    /// leaves out (count and bytes), as its signed BOM states them; absent for a full bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requires: Option<genesis_bundle::RequiresSummary>,
}

impl VerifiedBundle {
    /// The verified BOM.
    pub fn bom(&self) -> &Bom {
        &self.signed.bom
    }

    /// The BLAKE3 of the BOM's exact bytes, hex (`b3sum` of `bom.json`): what anti-rollback
    /// and the cluster's install record keep beside its SHA-256.
    pub fn bom_blake3(&self) -> &str {
        &self.signed.bom_blake3
    }

    /// The archive.
    pub fn path(&self) -> &Path {
        &self.path
    }

    /// The count of payload bytes checked so far, for a progress display.
    pub fn progress(&self) -> genesis_bundle::ProgressCounter {
        self.reader.progress()
    }

    /// Who signed its BOM inside the archive: a trusted key or a keyless identity.
    pub fn signer(&self) -> &AcceptedSigner {
        &self.signed.signer
    }

    /// The countersignatures over its BOM that verified beside the archive.
    pub fn countersigners(&self) -> &[AcceptedSigner] {
        &self.signed.countersigners
    }

    /// The head whose signature verified (`bom.json`, its signature, the provenance), byte for
    /// byte as the archive carries it: what re-signing signs anew and checks the archive for.
    pub fn head(&self) -> &Head {
        &self.head
    }

    /// The countersignature files read beside the archive, by name (`HEX.sigstore.json`) with
    /// their bytes as verification read them, those it left out (a key the policy does not
    /// know) included: what a re-signed copy of the archive, with the same BOM, carries.
    pub fn countersignature_files(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.countersignatures.files()
    }

    /// Streams the whole payload, checking every entry and the sidecars, keeping nothing.
    /// The result is the proof `serve` and `export` ask for.
    pub fn check(self) -> Result<CheckedBundle> {
        self.check_with(&mut Discard)
    }

    /// Like [`VerifiedBundle::check`], handing every payload file to `sink` as it streams
    /// (the loader uploads blobs in the same pass). The sink hears which files matched the
    /// BOM; the bundle as a whole is checked only when this returns `Ok`.
    pub fn check_with(self, sink: &mut dyn PayloadSink) -> Result<CheckedBundle> {
        let bom = self.signed.bom.clone();
        let constraints = self.policy.constraints().clone();
        let Pass { report, stamp, sbom, file } = self.run(sink)?;
        Ok(CheckedBundle { bom, report, file, constraints, stamp, sbom: sbom.map(Arc::from) })
    }

    /// Checks what the policy judged without streaming the payload, for a re-load that does
    /// not read it again: the SBOM the BOM lists for the bundle is read by random access
    /// (only the frames holding it are decompressed; seekable zstd archives, the ones a load
    /// reads in place) and checked as the full pass checks it, against its signed SHA-256
    /// and for completeness against the BOM. The provenance was verified with the head. So
    /// `require: sbom` never passes on an SBOM nobody read. Not checked: the other payload
    /// files, and the sidecars, which sign the whole archive. What it returns is the one way
    /// to record this bundle as installed without reading its payload.
    pub fn check_attestations(&self) -> Result<AttestedBundle<'_>> {
        let signed = &self.signed;
        let sbom = match signed.bom.bundle_sbom() {
            Some(entry) => {
                let stamp = self.reader.stamp();
                crate::sbom::check_in_archive(
                    self.reader.archive_file(),
                    stamp,
                    &self.limits,
                    &signed.bom,
                    &entry.path,
                )?;
                Some(entry.path.to_string())
            }
            None => None,
        };
        let report = AttestationReport {
            policy: signed.decisions.clone(),
            ignored: signed.ignored.clone(),
            sbom,
            provenance: signed.provenance.clone(),
        };
        Ok(AttestedBundle { bundle: self, report })
    }

    /// Streams the whole payload into a staging directory beside `target`, adds the head
    /// (`bom.json`, its signature and the provenance envelope, byte for byte under their
    /// archive names) and the countersignatures beside the archive (in `countersig/`) so that
    /// the tree can be verified again on its own ([`crate::UnverifiedTree`]), and renames it to
    /// `target` only when every entry and sidecar checked out; otherwise nothing remains.
    pub fn extract(self, target: &Path) -> Result<VerifyReport> {
        let mut staging = Staging::begin(target)?;
        let constraints = self.policy.constraints().clone();
        let bom = self.signed.bom.clone();
        let head = self.head.clone();
        let countersignatures = self.countersignatures.clone();
        let mut report = self.run(&mut staging)?.report;
        staging.write_head(&head)?;
        countersignatures.write_into(&mut staging)?;
        report.extracted_to = Some(staging.commit()?);
        let verified = &report.head;
        let (signer, countersigners) = (&verified.signer, &verified.countersigners);
        let audit = InstallAudit { signer, countersigners, bom_sha256: &verified.bom_sha256 };
        constraints.record_installed(&bom, &verified.bom_blake3, audit)?;
        Ok(report)
    }

    /// Streams the payload into `sink`, then checks the sidecars.
    fn run(self, sink: &mut dyn PayloadSink) -> Result<Pass> {
        let bom = &self.signed.bom;
        let sbom_path = bom.bundle_sbom().map(|s| s.path.clone());
        let mut capture = crate::sbom::Capture { inner: sink, path: sbom_path, bytes: Vec::new() };
        let beside = Beside::of(self.reader.archive_file());
        let file = Arc::new(
            self.reader.archive_file().try_clone().map_err(genesis_bundle::BundleError::io("opening", &self.path))?,
        );
        let summary = check_payload(self.reader, bom, &mut capture).map_err(|e| {
            // A damaged part is named as such, whichever of its files broke first; the parts
            // the pass found as listed are not read again, and an error that is no verdict on
            // the bytes (a full disk, a registry gone) is not a reason to read any.
            let on_the_bytes = genesis_types::Classify::class(&e) == genesis_types::ErrorClass::Verdict;
            on_the_bytes.then(|| file.first_damaged_part()).flatten().unwrap_or(e)
        })?;
        let sbom = match &capture.path {
            Some(path) => {
                crate::sbom::check_complete(bom, &capture.bytes, path)?;
                Some(capture.bytes)
            }
            None => None,
        };
        let archive = summary.archive;
        let (sha256_sidecar, sha256_listed) = check_sha256_sidecar(&beside, &self.path, &archive)?;
        let signature_sidecar = check_signature_sidecar(&beside, &self.path, &archive, &self.policy)?;
        let (cosign_bundle_sidecar, cosign_bundle_identity) =
            check_cosign_bundle_sidecar(&beside, &self.path, &archive, &self.policy)?;
        let report = VerifyReport {
            bundle: self.path,
            head: self.signed.report(),
            archive_sha256: Digest::from_sha256_bytes(archive.sha256),
            archive_size: archive.len,
            files: summary.files,
            payload_bytes: summary.bytes,
            images: bom.images.len(),
            charts: bom.charts.len(),
            manifests: bom.manifests.len(),
            parts: self.parts,
            sha256_sidecar,
            sha256_listed,
            signature_sidecar,
            cosign_bundle_sidecar,
            cosign_bundle_identity,
            extracted_to: None,
            expires: bom.expires.clone(),
            scan: bom.scan.as_ref().map(genesis_bundle::ScanRecord::summary),
            requires: bom.requires.as_ref().map(genesis_bundle::Requires::summary),
        };
        Ok(Pass { report, stamp: summary.stamp, sbom, file })
    }
}

/// What a full pass over a bundle established ([`VerifiedBundle::run`]).
struct Pass {
    report: VerifyReport,
    /// The archive's stamp as the pass read it.
    stamp: FileStamp,
    /// The SBOM's bytes, when the BOM lists one.
    sbom: Option<Vec<u8>>,
    /// The archive as the pass read it.
    file: Arc<ArchiveFile>,
}

/// The largest sidecar read: a digest line, a signature, a key-signed sigstore bundle.
const MAX_SIDECAR: u64 = 64 << 10;

/// Reads the sidecar at `path`, `None` when there is none. It must be a regular file (a
/// symlink to one is followed: sidecars are linked beside archives), checked on the open
/// handle, and is read through a limit: a FIFO planted there would otherwise hold the
/// verification until something writes to it, and a link to `/dev/zero` would fill memory.
fn read_sidecar(path: &Path) -> Result<Option<Vec<u8>>> {
    let refuse = |reason: String| TrustError::SidecarFormat { path: path.to_owned(), reason };
    let file = match genesis_bundle::digest_io::open_regular(path) {
        Ok(file) => file,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(None),
        Err(e) if e.kind() == std::io::ErrorKind::InvalidInput => {
            return Err(refuse(format!("{e}; remove it, or put the sidecar file itself there")));
        }
        Err(e) => return Err(refuse(e.to_string())),
    };
    let mut bytes = Vec::new();
    file.take(MAX_SIDECAR + 1).read_to_end(&mut bytes).map_err(|e| refuse(e.to_string()))?;
    if bytes.len() as u64 > MAX_SIDECAR {
        return Err(refuse(format!("larger than {} KiB", MAX_SIDECAR >> 10)));
    }
    Ok(Some(bytes))
}

/// Where an archive's sidecars are read: beside it on disk, or beside it in its bucket folder
/// (an archive read from a landing bucket with ranged reads).
#[derive(Debug, Clone)]
pub(crate) enum Beside {
    /// In the archive's folder on disk.
    Disk,
    /// In the bucket folder the archive lies in.
    Bucket(Arc<dyn RemoteFolder>),
}

impl Beside {
    /// Where the sidecars of `file` are.
    pub(crate) fn of(file: &ArchiveFile) -> Beside {
        file.remote_folder().map_or(Beside::Disk, |folder| Beside::Bucket(Arc::clone(folder)))
    }

    /// The sidecar at `path` (beside the archive), `None` when there is none; at most
    /// [`MAX_SIDECAR`] bytes.
    fn read(&self, path: &Path) -> Result<Option<Vec<u8>>> {
        let Beside::Bucket(folder) = self else { return read_sidecar(path) };
        let refuse = |reason: String| TrustError::SidecarFormat { path: path.to_owned(), reason };
        let Some(object) = folder.object(&file_name(path)).map_err(|e| refuse(e.to_string()))? else {
            return Ok(None);
        };
        if object.len() > MAX_SIDECAR {
            return Err(refuse(format!("larger than {} KiB", MAX_SIDECAR >> 10)));
        }
        let mut bytes = vec![0u8; object.len() as usize];
        object.read_exact_at(&mut bytes, 0).map_err(|e| refuse(e.to_string()))?;
        Ok(Some(bytes))
    }

    /// The SHA-256 of `file`, which the `.sha256` list `list` names beside the archive.
    fn sha256_of_listed(&self, file: &Path, list: &Path) -> Result<Digest> {
        let Beside::Bucket(folder) = self else { return sha256_of_listed(file, list) };
        let refuse = |reason: String| TrustError::SidecarFormat { path: file.to_owned(), reason };
        let object = folder
            .object(&file_name(file))
            .map_err(|e| refuse(e.to_string()))?
            .ok_or_else(|| TrustError::ListedFileMissing { path: file.to_owned(), list: list.to_owned() })?;
        let mut hasher = genesis_bundle::digest_io::DigestAdapter::new(std::io::sink());
        let mut buf = vec![0u8; 1 << 20];
        let mut offset = 0;
        while offset < object.len() {
            let n = buf.len().min((object.len() - offset) as usize);
            object.read_exact_at(&mut buf[..n], offset).map_err(|e| refuse(e.to_string()))?;
            std::io::Write::write_all(&mut hasher, &buf[..n]).map_err(|e| refuse(e.to_string()))?;
            offset += n as u64;
        }
        Ok(hasher.digest().digest())
    }
}

/// The last component of a sidecar's path: its object name in the bucket folder.
fn file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

/// Checks `ARCHIVE.sha256` (`sha256sum` format) when present: its first line against the
/// archive, then each further line against the file it names beside the archive, as
/// `sha256sum -c` run in the archive's folder would (`bundle-builder create --report` lists the
/// release evidence report there). A listed file that is missing or altered fails the check,
/// naming it. Returns the sidecar's state and the further files checked.
fn check_sha256_sidecar(beside: &Beside, archive: &Path, digest: &FileDigest) -> Result<(Sidecar, Vec<PathBuf>)> {
    let path = genesis_bundle::path_with_suffix(archive, ".sha256");
    let Some(bytes) = beside.read(&path)? else {
        return Ok((Sidecar::Absent { path }, Vec::new()));
    };
    let text = String::from_utf8_lossy(&bytes);
    let claimed = text.split_whitespace().next().unwrap_or_default().to_ascii_lowercase();
    let actual = Digest::from_sha256_bytes(digest.sha256);
    if claimed.len() != 64 {
        return Err(TrustError::SidecarFormat { path, reason: "not in `sha256sum` format".into() });
    }
    if claimed != actual.hex() {
        return Err(TrustError::SidecarDigestMismatch { path, expected: claimed, actual });
    }
    let archive_name = archive.file_name().map(|n| n.to_string_lossy()).unwrap_or_default();
    let listed = listed_files(&text, &archive_name)
        .map_err(|reason| TrustError::SidecarFormat { path: path.clone(), reason })?;
    let folder = archive.parent().unwrap_or(Path::new(""));
    let mut checked = Vec::with_capacity(listed.len());
    for ListedFile { name, sha256: expected } in listed {
        let file = folder.join(name);
        if beside.sha256_of_listed(&file, &path)? != expected {
            // The file's own digest is left out: it would tell what a file the list was
            // crafted to name holds.
            return Err(TrustError::ListedFileMismatch { path: file, list: path, expected });
        }
        checked.push(file);
    }
    Ok((Sidecar::Match { path }, checked))
}

/// The SHA-256 of `file`, which the `.sha256` list `list` names beside the archive. It must be
/// a regular file of its own there: a symbolic link is refused without being followed (the
/// list would vouch for, and the check read, a file elsewhere), and the file opened must be
/// the one looked at, so that a link swapped in between is not read either.
fn sha256_of_listed(file: &Path, list: &Path) -> Result<Digest> {
    use std::os::unix::fs::MetadataExt as _;
    let refuse = |reason: String| TrustError::SidecarFormat { path: file.to_owned(), reason };
    let named = match std::fs::symlink_metadata(file) {
        Ok(named) => named,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => {
            return Err(TrustError::ListedFileMissing { path: file.to_owned(), list: list.to_owned() });
        }
        Err(e) => return Err(refuse(e.to_string())),
    };
    if named.file_type().is_symlink() {
        return Err(refuse(format!(
            "a symbolic link, which a file {} lists must not be: put the file itself beside the archive",
            list.display()
        )));
    }
    let opened = genesis_bundle::digest_io::open_regular(file).map_err(|e| refuse(e.to_string()))?;
    let meta = opened.metadata().map_err(|e| refuse(e.to_string()))?;
    if (meta.dev(), meta.ino()) != (named.dev(), named.ino()) {
        return Err(refuse("replaced while it was checked".to_owned()));
    }
    let mut reader = genesis_bundle::digest_io::DigestAdapter::new(opened);
    reader.drain().map_err(|e| refuse(e.to_string()))?;
    Ok(reader.digest().digest())
}

/// Most lines a `.sha256` list may have: the archive's and a few files beside it (the release
/// evidence report). More is not a list `bundle-builder` writes, and each line costs a read.
const MAX_LISTED_LINES: usize = 8;

/// The sidecars of an archive, which a `.sha256` list does not name as further files: they are
/// checked their own way, the list itself cannot vouch for itself.
const SIDECAR_SUFFIXES: [&str; 3] = [".sha256", ".sig", ".cosign.bundle"];

/// A file a `.sha256` list names after the archive's own line (the release evidence report
/// `bundle-builder create --report` lists), with the SHA-256 it must have.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ListedFile {
    /// Its name beside the archive: one plain file name.
    pub name: String,
    /// The SHA-256 the list gives it.
    pub sha256: Digest,
}

/// The files the text of `archive`'s `.sha256` list names after its first line (the
/// archive's, which the verifier checks against the archive itself). Each further line is
/// `HEX  NAME` or `HEX *NAME` (`sha256sum`'s text and binary modes, a trailing `\r` of a CRLF
/// list dropped) with NAME one plain file name, so that a check reads only files beside the
/// archive; each name once, and neither the archive nor one of its sidecars. At most 8 lines,
/// blank lines skipped. `Err` says what is wrong, naming the line (from 1).
pub fn listed_files(text: &str, archive: &str) -> std::result::Result<Vec<ListedFile>, String> {
    let lines = text.lines().enumerate().map(|(index, line)| (index + 1, line.strip_suffix('\r').unwrap_or(line)));
    let lines: Vec<_> = lines.filter(|(_, line)| !line.trim().is_empty()).take(MAX_LISTED_LINES + 1).collect();
    if lines.len() > MAX_LISTED_LINES {
        return Err(format!("more than {MAX_LISTED_LINES} lines, the most a list beside an archive may have"));
    }
    let mut listed: Vec<ListedFile> = Vec::with_capacity(lines.len());
    for (number, line) in lines.into_iter().skip(1) {
        let file = listed_line(line)
            .ok_or_else(|| format!("line {number} is not `SHA256  FILE` naming a file beside the archive"))?;
        let rest = file.name.strip_prefix(archive);
        if rest.is_some_and(|rest| rest.is_empty() || SIDECAR_SUFFIXES.contains(&rest)) {
            return Err(format!("line {number} names {}, the archive or one of its sidecars", file.name));
        }
        if listed.iter().any(|earlier| earlier.name == file.name) {
            return Err(format!("line {number} names {} again", file.name));
        }
        listed.push(file);
    }
    Ok(listed)
}

/// One further line of a `.sha256` list, `None` unless it names a plain file name.
fn listed_line(line: &str) -> Option<ListedFile> {
    let (hex, rest) = line.split_once(' ')?;
    let name = rest.strip_prefix(' ').or_else(|| rest.strip_prefix('*'))?;
    if matches!(name, "" | "." | "..") || name.contains(['/', '\\']) {
        return None;
    }
    let sha256 = Digest::from_sha256_hex(&hex.to_ascii_lowercase()).ok()?;
    Some(ListedFile { name: name.to_owned(), sha256 })
}

/// Checks `ARCHIVE.sig` (cosign `sign-blob` format) when present, with the BOM's policy.
fn check_signature_sidecar(
    beside: &Beside,
    archive: &Path,
    digest: &FileDigest,
    policy: &TrustPolicy,
) -> Result<Sidecar> {
    let path = genesis_bundle::path_with_suffix(archive, ".sig");
    let Some(bytes) = beside.read(&path)? else {
        return Ok(Sidecar::Absent { path });
    };
    let der = decode_signature(&bytes, &path.display().to_string())?;
    match policy.signer(|k| k.verifies_sha256_digest(&digest.sha256, &der))? {
        Some(_) => Ok(Sidecar::Match { path }),
        None => Err(TrustError::SidecarSignatureInvalid { path, tried: policy.describe_keys() }),
    }
}

/// Checks `ARCHIVE.cosign.bundle` when present: a signature over the archive's bytes (an
/// attestation naming it is refused, as the BOM's signature refuses one), key-signed with
/// the policy's keys, the signature alone deciding, or keyless (`cosign sign-blob --bundle`
/// in a pipeline) with the policy's identities and pinned root, as the BOM's is. Returns the
/// sidecar's state and, when it was signed keyless, by whom.
fn check_cosign_bundle_sidecar(
    beside: &Beside,
    archive: &Path,
    digest: &FileDigest,
    policy: &TrustPolicy,
) -> Result<(Sidecar, Option<AcceptedSigner>)> {
    let path = cosign_bundle_path(archive);
    let Some(bytes) = beside.read(&path)? else {
        return Ok((Sidecar::Absent { path }, None));
    };
    let doc: serde_json::Value = serde_json::from_slice(&bytes)
        .map_err(|e| TrustError::SidecarFormat { path: path.clone(), reason: format!("not JSON ({e})") })?;
    let signer = match SigstoreBundle::from_json(doc) {
        Ok(bundle) if bundle.has_certificate() => {
            let archive = Artifact::Sha256(&digest.sha256);
            let what = path.display().to_string();
            let identity = policy.sigstore_signer(&bundle, archive, SignedContent::Message, &what)?;
            return Ok((Sidecar::Match { path }, Some(identity)));
        }
        Ok(bundle) => {
            bundle
                .check_content(SignedContent::Message)
                .map_err(|e| TrustError::SidecarFormat { path: path.clone(), reason: crate::policy::reason(e) })?;
            policy.signer(|k| crate::sigstore::verify_bundle_digest(&bundle, &digest.sha256, k).is_ok())?
        }
        Err(_) => None,
    };
    if signer.is_some() {
        Ok((Sidecar::Match { path }, None))
    } else {
        Err(TrustError::SidecarSignatureInvalid { path, tried: policy.describe_keys() })
    }
}

/// Where `bundle-builder create` writes the sigstore bundle of `archive`.
pub fn cosign_bundle_path(archive: &Path) -> PathBuf {
    genesis_bundle::path_with_suffix(archive, ".cosign.bundle")
}

/// Paths of the sidecars `bundle-builder create` writes beside `archive`.
pub fn sidecar_paths(archive: &Path) -> (PathBuf, PathBuf) {
    (genesis_bundle::path_with_suffix(archive, ".sha256"), genesis_bundle::path_with_suffix(archive, ".sig"))
}

#[cfg(test)]
mod tests {
    use std::time::Duration;

    use genesis_testkit::sigstore::LoopbackSigstore;

    use super::*;

    /// Reads `path` as a sidecar on another thread, so that one that hangs fails the test
    /// instead of holding it.
    fn read_within_seconds(path: PathBuf) -> Result<Option<Vec<u8>>> {
        let (sent, read) = std::sync::mpsc::channel();
        std::thread::spawn(move || sent.send(read_sidecar(&path)));
        read.recv_timeout(Duration::from_secs(10)).expect("the sidecar is read or refused at once")
    }

    /// A FIFO would hold the verification until something writes to it, and a link to
    /// `/dev/zero` would fill memory: both are refused at once, saying what they are.
    #[test]
    fn a_fifo_or_a_device_as_sidecar_is_refused_at_once() {
        let dir = tempfile::tempdir().unwrap();
        let fifo = dir.path().join("demo.tar.zst.sha256");
        assert!(std::process::Command::new("mkfifo").arg(&fifo).status().unwrap().success());
        let zero = dir.path().join("demo.tar.zst.sig");
        std::os::unix::fs::symlink("/dev/zero", &zero).unwrap();
        for (path, what) in [(fifo, "a FIFO"), (zero, "a device")] {
            let e = read_within_seconds(path.clone()).unwrap_err();
            assert!(matches!(&e, TrustError::SidecarFormat { path: p, .. } if *p == path), "{e:?}");
            assert!(e.to_string().contains(&format!("{what} where a regular file belongs")), "{e}");
        }
    }

    /// A regular file is read, through a symlink too, up to the limit and no further.
    #[test]
    fn a_sidecar_is_read_through_a_link_and_refused_past_its_limit() {
        let dir = tempfile::tempdir().unwrap();
        let file = dir.path().join("elsewhere.sha256");
        std::fs::write(&file, b"digest  demo.tar.zst\n").unwrap();
        let link = dir.path().join("demo.tar.zst.sha256");
        std::os::unix::fs::symlink(&file, &link).unwrap();
        assert_eq!(read_within_seconds(link).unwrap().unwrap(), b"digest  demo.tar.zst\n");
        assert!(read_within_seconds(dir.path().join("absent")).unwrap().is_none());
        let large = dir.path().join("large.sig");
        std::fs::write(&large, vec![b'x'; MAX_SIDECAR as usize + 1]).unwrap();
        let e = read_within_seconds(large).unwrap_err();
        assert!(e.to_string().contains("larger than 64 KiB"), "{e}");
    }

    /// A folder holding an archive and its report; the archive's digest.
    fn archive_and_report() -> (tempfile::TempDir, PathBuf, PathBuf, FileDigest) {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("demo-0.1.0.tar.zst");
        std::fs::write(&archive, b"archive bytes").unwrap();
        let report = dir.path().join("demo-0.1.0.tar.zst.report.pdf");
        std::fs::write(&report, b"%PDF-1.7 report bytes").unwrap();
        let digest = genesis_bundle::digest_io::sha256_file(&archive).unwrap();
        (dir, archive, report, digest)
    }

    /// The `sha256sum` line of `file`, by its name.
    fn line(file: &Path) -> String {
        let name = file.file_name().unwrap().to_str().unwrap();
        format!("{}  {name}\n", genesis_bundle::digest_io::sha256_file(file).unwrap().digest().hex())
    }

    /// The `.sha256` list checks every file it names, as `sha256sum -c` does: the archive on
    /// its first line, then a report beside it, which must be there with the listed bytes; a
    /// line that would name a file elsewhere is refused. An altered report is named with the
    /// digest listed, never its own: a list crafted to name a file must not learn its digest.
    #[test]
    fn a_listed_report_is_checked_beside_the_archive_and_named_when_missing_or_altered() {
        let (_dir, archive, report, digest) = archive_and_report();
        let list = genesis_bundle::path_with_suffix(&archive, ".sha256");
        std::fs::write(&list, line(&archive) + &line(&report)).unwrap();
        assert_eq!(
            check_sha256_sidecar(&Beside::Disk, &archive, &digest).unwrap(),
            (Sidecar::Match { path: list.clone() }, vec![report.clone()])
        );

        let listed = genesis_bundle::digest_io::sha256_file(&report).unwrap().digest();
        std::fs::write(&report, b"%PDF-1.7 report bytez").unwrap();
        let actual = genesis_bundle::digest_io::sha256_file(&report).unwrap().digest();
        let e = check_sha256_sidecar(&Beside::Disk, &archive, &digest).unwrap_err();
        assert!(matches!(&e, TrustError::ListedFileMismatch { path, .. } if *path == report), "{e:?}");
        assert!(e.to_string().contains("demo-0.1.0.tar.zst.report.pdf: "), "{e}");
        assert!(e.to_string().contains(listed.hex()), "{e}");
        assert!(!format!("{e} {e:?}").contains(actual.hex()), "the file's own digest is not told: {e:?}");
        assert!(e.is_verification_failure());

        std::fs::remove_file(&report).unwrap();
        let e = check_sha256_sidecar(&Beside::Disk, &archive, &digest).unwrap_err();
        assert!(matches!(&e, TrustError::ListedFileMissing { path, .. } if *path == report), "{e:?}");
        assert!(e.is_verification_failure());

        for elsewhere in ["../demo-0.1.0.tar.zst.report.pdf", "/etc/passwd", "sub/report.pdf"] {
            std::fs::write(&list, line(&archive) + &format!("{}  {elsewhere}\n", "0".repeat(64))).unwrap();
            let e = check_sha256_sidecar(&Beside::Disk, &archive, &digest).unwrap_err();
            assert!(matches!(&e, TrustError::SidecarFormat { path, .. } if *path == list), "{elsewhere}: {e:?}");
            assert!(e.to_string().contains("line 2 is not"), "{e}");
        }

        std::fs::write(&list, line(&archive)).unwrap();
        assert_eq!(
            check_sha256_sidecar(&Beside::Disk, &archive, &digest).unwrap(),
            (Sidecar::Match { path: list }, vec![])
        );
    }

    /// A list names the archive and at most seven files beside it: eight lines are checked,
    /// a ninth refuses the list, naming the limit, before any file is read.
    #[test]
    fn a_sha256_list_of_more_than_eight_lines_is_refused_naming_the_limit() {
        let (dir, archive, _, digest) = archive_and_report();
        let notes: Vec<PathBuf> = (1..=8)
            .map(|n| {
                let note = dir.path().join(format!("demo-0.1.0.tar.zst.note{n}.txt"));
                std::fs::write(&note, format!("note {n}")).unwrap();
                note
            })
            .collect();
        let list = genesis_bundle::path_with_suffix(&archive, ".sha256");
        std::fs::write(&list, line(&archive) + &notes[..7].iter().map(|n| line(n)).collect::<String>()).unwrap();
        assert_eq!(check_sha256_sidecar(&Beside::Disk, &archive, &digest).unwrap().1, notes[..7]);

        std::fs::write(&list, line(&archive) + &notes.iter().map(|n| line(n)).collect::<String>()).unwrap();
        let e = check_sha256_sidecar(&Beside::Disk, &archive, &digest).unwrap_err();
        assert!(matches!(&e, TrustError::SidecarFormat { path, .. } if *path == list), "{e:?}");
        assert!(e.to_string().contains("more than 8 lines"), "{e}");
    }

    /// Each further line names a file of its own once: the archive again (which would read as
    /// a second, vouched-for file), one of its sidecars, or a report listed twice refuses the
    /// list, naming the line.
    #[test]
    fn a_list_naming_the_archive_a_sidecar_or_a_file_twice_is_refused() {
        let (_dir, archive, report, digest) = archive_and_report();
        let list = genesis_bundle::path_with_suffix(&archive, ".sha256");
        let sig = genesis_bundle::path_with_suffix(&archive, ".sig");
        std::fs::write(&sig, b"a signature").unwrap();
        for (text, said) in [
            (line(&archive) + &line(&archive), "line 2 names demo-0.1.0.tar.zst, the archive or one of its sidecars"),
            (line(&archive) + &line(&sig), "line 2 names demo-0.1.0.tar.zst.sig, the archive"),
            (line(&archive) + &line(&report) + &line(&report), "line 3 names demo-0.1.0.tar.zst.report.pdf again"),
        ] {
            std::fs::write(&list, &text).unwrap();
            let e = check_sha256_sidecar(&Beside::Disk, &archive, &digest).unwrap_err();
            assert!(matches!(&e, TrustError::SidecarFormat { path, .. } if *path == list), "{text}: {e:?}");
            assert!(e.to_string().contains(said), "{text}: {e}");
        }
    }

    /// A list written on Windows ends its lines with CRLF, the last one perhaps with a bare
    /// CR: it is read as the same list.
    #[test]
    fn a_crlf_sha256_list_is_read_like_a_unix_one() {
        let (_dir, archive, report, digest) = archive_and_report();
        let list = genesis_bundle::path_with_suffix(&archive, ".sha256");
        let crlf = line(&archive).replace('\n', "\r\n") + &line(&report).replace('\n', "\r");
        std::fs::write(&list, &crlf).unwrap();
        assert_eq!(
            check_sha256_sidecar(&Beside::Disk, &archive, &digest).unwrap(),
            (Sidecar::Match { path: list }, vec![report])
        );
    }

    /// A listed file that is a symbolic link is refused without being followed, even when it
    /// leads to bytes with the listed digest: the list vouches for files beside the archive.
    #[test]
    fn a_listed_file_that_is_a_symlink_is_refused_without_being_followed() {
        let (_dir, archive, report, digest) = archive_and_report();
        let elsewhere = tempfile::tempdir().unwrap();
        let target = elsewhere.path().join("report.pdf");
        std::fs::rename(&report, &target).unwrap();
        std::os::unix::fs::symlink(&target, &report).unwrap();
        let list = genesis_bundle::path_with_suffix(&archive, ".sha256");
        std::fs::write(&list, line(&archive) + &line(&report)).unwrap();
        let e = check_sha256_sidecar(&Beside::Disk, &archive, &digest).unwrap_err();
        assert!(matches!(&e, TrustError::SidecarFormat { path, .. } if *path == report), "{e:?}");
        assert!(e.to_string().contains("a symbolic link"), "{e}");
        assert!(e.is_verification_failure());

        std::fs::remove_file(&target).unwrap();
        let e = check_sha256_sidecar(&Beside::Disk, &archive, &digest).unwrap_err();
        assert!(e.to_string().contains("a symbolic link"), "a dangling link is a link, not a missing file: {e}");
    }

    /// `sha256sum` writes text mode (`HEX  NAME`) and binary mode (`HEX *NAME`), in either case
    /// of hex; both are read, blank lines skipped, and the first line is the archive's.
    #[test]
    fn listed_files_read_both_sha256sum_modes_after_the_archive_line() {
        let text = format!("{}  demo.tar.zst\n\n{} *demo.tar.zst.report.pdf\n", "a".repeat(64), "B".repeat(64));
        let report =
            ListedFile { name: "demo.tar.zst.report.pdf".into(), sha256: Digest::from_sha256_bytes([0xbb; 32]) };
        assert_eq!(listed_files(&text, "demo.tar.zst"), Ok(vec![report]));
        assert_eq!(listed_files(&format!("{}  demo.tar.zst\n", "a".repeat(64)), "demo.tar.zst"), Ok(vec![]));
        let one_space = format!("{}  demo.tar.zst\n{} report.pdf\n", "a".repeat(64), "b".repeat(64));
        assert!(listed_files(&one_space, "demo.tar.zst").unwrap_err().starts_with("line 2 is not"));
    }

    const ISSUER: &str = "https://idp.acme.example";
    const VENDOR: &str = "release@acme.example";
    const OTHER: &str = "nightly@acme.example";
    /// The one payload file of [`bom_and_statement`]'s BOM.
    const DEMO_YAML: &[u8] = b"apiVersion: v1\nkind: ConfigMap\nmetadata: {name: demo}\n";

    /// A small BOM and the provenance statement that names it.
    fn bom_and_statement() -> (Bom, Vec<u8>) {
        let path: genesis_types::BundlePath = "manifests/demo.yaml".parse().unwrap();
        let bom = Bom {
            schema: genesis_bundle::BOM_SCHEMA.into(),
            name: "demo".into(),
            version: "0.1.0".into(),
            created: genesis_bundle::rfc3339(1_735_689_600),
            expires: None,
            files: vec![genesis_bundle::FileEntry {
                path: path.clone(),
                size: DEMO_YAML.len() as u64,
                sha256: sha256(DEMO_YAML),
            }],
            images: vec![],
            charts: vec![],
            manifests: vec![genesis_bundle::ManifestEntry { path }],
            sboms: vec![],
            scan: None,
            requires: None,
        };
        let statement = serde_json::json!({
            "_type": crate::provenance::STATEMENT_V1,
            "subject": [{"name": "bom.json", "digest": {"sha256": sha256(&bom.to_bytes()).hex()}}],
            "predicateType": crate::provenance::SLSA_PROVENANCE_V1,
            "predicate": {"buildDefinition": {"buildType": "test"}, "runDetails": {"builder": {"id": "test"}}},
        });
        (bom, serde_json::to_vec(&statement).unwrap())
    }

    /// The verdict on a keyless bundle whose head carries `signature` as `bom.sigstore.json`
    /// and `provenance` as `provenance/bundle.sigstore.json`, by a policy trusting both
    /// [`VENDOR`] and [`OTHER`] with `sigstore`'s root.
    fn keyless_verdict(
        dir: &Path,
        sigstore: &LoopbackSigstore,
        bom: &Bom,
        signature: String,
        provenance: String,
    ) -> Result<AcceptedSigner> {
        let head = Head {
            bom: bom.to_bytes(),
            signature: signature.into_bytes(),
            provenance: Some(provenance.into_bytes()),
            form: HeadForm::Sigstore,
        };
        let file = &bom.files[0];
        let contents =
            std::collections::BTreeMap::from([(file.path.clone(), genesis_bundle::Content::Bytes(DEMO_YAML.to_vec()))]);
        let archive = dir.join("demo-0.1.0.tar.zst");
        let options = genesis_bundle::WriteOptions {
            compression: genesis_bundle::Compression::Zstd,
            mtime: 1_735_689_600,
            progress: Default::default(),
        };
        let out = std::fs::File::create(&archive).unwrap();
        genesis_bundle::write_signed_bundle(out, bom, &head, &contents, options).unwrap();
        let identity = |subject: &str| crate::sigstore::CertificateIdentity {
            subject: crate::sigstore::SubjectMatcher::Exact(subject.into()),
            issuer: ISSUER.into(),
        };
        let root = crate::sigstore::TrustedRoot::from_file(sigstore.trusted_root()).unwrap();
        let keyless = crate::Keyless { identities: vec![identity(VENDOR), identity(OTHER)], root };
        let policy = TrustPolicy::from_signers(vec![], Some(keyless)).unwrap();
        let verified = UnverifiedBundle::open(&archive, &Limits::default())?.verify(&policy)?;
        Ok(verified.signer().clone())
    }

    /// Both sigstore bundles of a keyless head by the same trusted identity verify; the
    /// provenance by another identity the policy trusts too is refused, as is the provenance's
    /// attestation (which names the BOM, so it verifies over the BOM's bytes) copied into the
    /// place of the BOM's signature.
    #[test]
    fn a_keyless_head_takes_a_signature_of_the_bom_and_a_provenance_by_the_same_identity() {
        let dir = tempfile::tempdir().unwrap();
        let mut sigstore = LoopbackSigstore::new(dir.path());
        let (bom, statement) = bom_and_statement();
        let signature = sigstore.sign_blob(&bom.to_bytes(), VENDOR, ISSUER);
        let provenance = sigstore.attest(&statement, VENDOR, ISSUER);
        let accepted = keyless_verdict(dir.path(), &sigstore, &bom, signature.clone(), provenance.clone()).unwrap();
        assert_eq!(accepted, AcceptedSigner::Identity { subject: VENDOR.into(), issuer: ISSUER.into() });

        let by_other = sigstore.attest(&statement, OTHER, ISSUER);
        let e = keyless_verdict(dir.path(), &sigstore, &bom, signature, by_other).unwrap_err();
        assert!(matches!(e, TrustError::ProvenanceRefused { .. }), "{e:?}");
        let said = format!("signed by identity {OTHER} (issuer {ISSUER}), not by the BOM's signer (identity {VENDOR}");
        assert!(e.to_string().contains(&said), "{e}");

        let e = keyless_verdict(dir.path(), &sigstore, &bom, provenance.clone(), provenance).unwrap_err();
        assert!(matches!(e, TrustError::BundleRefused { .. }), "{e:?}");
        assert!(e.to_string().contains("bom.sigstore.json: an attestation (a DSSE envelope"), "{e}");
        assert!(e.is_verification_failure());
    }
}
