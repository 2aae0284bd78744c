//! Re-signing a bundle without rebuilding it (decision 0036), to rotate or retire a signing
//! key. The archive is verified in full with the caller's policy first (its BOM signature,
//! provenance and constraints, then every payload entry and its sidecars), so a re-signed
//! bundle never vouches for bytes nobody verified. Then the same BOM is signed with the new
//! key, the same provenance statement in a new DSSE envelope, and the archive is written again
//! around them with its payload's zstd frames copied byte for byte ([`HeadRewrite`]), then its
//! sidecars as a build writes them, and the countersignatures beside it, which sign the BOM
//! and so still hold. The result is the archive a build of the same spec and inputs with the
//! new key writes (with the same zstd version).
//!
//! What can fail without reading the payload fails first: the output, the archive's form (a
//! seekable zstd archive as a build writes it, with provenance), the head being the one
//! verified, and a pipeline's signatures. Then the payload pass, and only then is anything
//! signed with the new key.
//!
//! A release pipeline that keeps its key elsewhere re-signs in two phases, like a build:
//! [`prepare_resign`] returns what to sign (the BOM and the provenance's PAE, the very bytes
//! `prepare` gave for the build: re-signing changes neither), and [`resign_external`] checks
//! and carries the pipeline's signatures.

use std::fs;
use std::io::BufWriter;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};
use std::time::Instant;

use genesis_bundle::{Compression, Head, HeadRewrite, Limits, ProgressCounter, Staging};
use genesis_trust::provenance::IN_TOTO_PAYLOAD_TYPE;
use genesis_trust::sigstore::pae;
use genesis_trust::{PrivateKey, SignedBom as _, TrustPolicy, UnverifiedBundle, VerifiedBundle};
use genesis_types::Digest;

use crate::build::{create_output, publish};
use crate::signing::{ExternalSignatures, Prepared, Signing};
use crate::{BuildError, BuildOutput, Result};

/// How a bundle is re-signed, beside the key or the signatures.
#[derive(Debug, Clone)]
pub struct ResignOptions {
    /// Where the re-signed archive goes: a file, or a folder where it keeps the bundle's file
    /// name (one that exists, or any path ending in `/`, made if missing). Never the bundle
    /// itself: it stays as it was, whatever happens to the new one.
    pub output: PathBuf,
    /// Limits on the archive, while it is verified and while it is copied.
    pub limits: Limits,
    /// Counts the payload bytes written into the new archive, for a progress display; the
    /// verification counts its own ([`UnverifiedBundle::progress`]).
    pub progress: ProgressCounter,
}

/// What a re-signing did.
#[derive(Debug, Clone, PartialEq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ResignOutput {
    /// The bundle re-signed, left as it was.
    pub source: PathBuf,
    /// SHA-256 of that archive, as its verification hashed it.
    pub source_sha256: Digest,
    /// The new archive and its sidecars, as a build reports them.
    #[serde(flatten)]
    pub written: BuildOutput,
    /// The folder of countersignatures carried beside the new archive, when the bundle had
    /// any: they sign the BOM, which re-signing keeps.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub countersignatures: Option<PathBuf>,
    /// The zstd frames of the new archive.
    pub frames: u64,
    /// Of those, the frames copied from the old archive byte for byte: all but the head's,
    /// and those a head of another length moved (decision 0036).
    pub frames_copied: u64,
    /// The compressed bytes those frames hold.
    pub bytes_copied: u64,
    /// Seconds the verification of the old archive took.
    pub verify_seconds: f64,
    /// Seconds the new archive and its sidecars took.
    pub write_seconds: f64,
}

/// Re-signs `bundle` with `key` once it verified in full with `policy`: writes the archive
/// with its BOM signed by `key` and its provenance statement signed anew, the payload's
/// frames copied, then its `.sha256`, `.sig` and `.cosign.bundle`, and the bundle's
/// countersignature folder, each file or folder appearing atomically. Nothing is written (but
/// the output's folder, made first) when the bundle fails its verification, or when the
/// archive changes on disk before it is copied. For a key rotated or retired, not a key
/// compromised: a signature by a stolen key proves nothing, so a bundle verified with it is
/// rebuilt from its inputs instead.
pub fn resign(
    bundle: UnverifiedBundle,
    policy: &TrustPolicy,
    key: &PrivateKey,
    options: &ResignOptions,
) -> Result<ResignOutput> {
    run(bundle, policy, Signing::Key(key), options)
}

/// [`resign`] with a release pipeline's signatures over what [`prepare_resign`] returned:
/// each is checked over the bundle's BOM and provenance before anything is written. Writes
/// the archive and its `.sha256`; the archive's own `.sig` and `.cosign.bundle` are the
/// pipeline's to make, and stale ones beside the output are removed.
pub fn resign_external(
    bundle: UnverifiedBundle,
    policy: &TrustPolicy,
    signatures: &ExternalSignatures,
    options: &ResignOptions,
) -> Result<ResignOutput> {
    run(bundle, policy, Signing::External(signatures), options)
}

/// What a pipeline signs to re-sign `bundle`, once it verified in full with `policy`: the
/// BOM's exact bytes and the PAE of its provenance statement, as [`Prepared::write_to`] writes
/// them for the pipeline. A bundle [`resign_external`] would refuse before its payload is read
/// is refused here alike.
pub fn prepare_resign(bundle: UnverifiedBundle, policy: &TrustPolicy, limits: &Limits) -> Result<Prepared> {
    let verified = bundle.verify(policy)?;
    let (prepared, _) = open_rewrite(&verified, limits)?;
    verified.check()?;
    Ok(prepared)
}

fn run(
    bundle: UnverifiedBundle,
    policy: &TrustPolicy,
    signing: Signing<'_>,
    options: &ResignOptions,
) -> Result<ResignOutput> {
    let started = Instant::now();
    let verified = bundle.verify(policy)?;
    let source = verified.path().to_owned();
    // Before the payload pass, what fails without it: the output (its scratch file made), the
    // archive's form and head, a pipeline's signatures.
    let archive = target(&source, &options.output)?;
    let file = create_output(&archive)?;
    let (prepared, rewrite) = open_rewrite(&verified, &options.limits)?;
    let pipeline_head = match signing {
        Signing::External(_) => Some(signing.head(&prepared)?),
        Signing::Key(_) => None,
    };
    let countersignatures: Vec<(String, Vec<u8>)> =
        verified.countersignature_files().map(|(name, bytes)| (name.to_owned(), bytes.to_vec())).collect();
    let checked = verified.check()?;
    let verify_seconds = started.elapsed().as_secs_f64();

    let started = Instant::now();
    // Signed with the key only now, the whole bundle verified.
    let head = match pipeline_head {
        Some(head) => head,
        None => signing.head(&prepared)?,
    };
    tracing::info!(source = %source.display(), archive = %archive.display(), "re-signing bundle");
    let scratch = file.scratch_path().to_owned();
    let out = BufWriter::with_capacity(1 << 20, file);
    let verified_sha256 = &checked.report().archive_sha256;
    let (out, rewritten) = rewrite.write(verified_sha256, &head, out, &options.progress)?;
    let file = out.into_inner().map_err(|e| BuildError::input(&scratch, format!("cannot write: {}", e.error())))?;
    // Staged before the archive appears, moved beside it right after: a failure to write them
    // leaves no re-signed bundle without its countersignatures.
    let countersignatures = stage_countersignatures(&archive, &countersignatures)?;
    let published = publish(file, &archive, &rewritten.archive, signing)?;
    tracing::info!(
        frames = rewritten.frames,
        copied = rewritten.frames_copied,
        bytes = rewritten.bytes_copied,
        "payload frames copied"
    );
    let countersignatures = countersignatures.map(Staging::commit).transpose()?;

    let bom = checked.bom();
    Ok(ResignOutput {
        source,
        source_sha256: checked.report().archive_sha256.clone(),
        written: BuildOutput {
            archive,
            sha256_file: published.sha256_file,
            signature_file: published.signature_file,
            cosign_bundle_file: published.cosign_bundle_file,
            report_file: None,
            sha256: rewritten.archive.digest(),
            size: rewritten.archive.len,
            bom_sha256: checked.bom_sha256().clone(),
            expires: bom.expires.clone(),
            files: bom.files.len(),
            payload_bytes: bom.payload_size(),
            requires: bom.requires.as_ref().map(genesis_bundle::Requires::summary),
        },
        countersignatures,
        frames: rewritten.frames,
        frames_copied: rewritten.frames_copied,
        bytes_copied: rewritten.bytes_copied,
        verify_seconds,
        write_seconds: started.elapsed().as_secs_f64(),
    })
}

/// What re-signing `verified` signs, and its archive opened for rewriting, before its payload
/// is read: only a seekable zstd archive has frames to copy, only one with provenance is
/// re-signed, and the archive must hold the head its verification judged, followed by the
/// payload its BOM lists and nothing else ([`HeadRewrite::open`]).
fn open_rewrite(verified: &VerifiedBundle, limits: &Limits) -> Result<(Prepared, HeadRewrite)> {
    let path = verified.path();
    let compression = genesis_bundle::ArchiveReader::open_head(path, limits)?.compression();
    if compression != Compression::Zstd {
        return Err(BuildError::input(
            path,
            format!(
                "a {} archive: re-signing copies the payload's zstd frames, and it has none; rebuild it with the \
                 new key (built with compression: zstd, it can be re-signed from then on)",
                compression.name()
            ),
        ));
    }
    let prepared = to_sign(verified.head(), path)?;
    let rewrite = HeadRewrite::open(path, verified.head(), verified.bom(), limits)?;
    Ok((prepared, rewrite))
}

/// What re-signing signs: the BOM as it is, and the PAE of the provenance statement `head`
/// carries, which is kept as it is (it names the build and its inputs, not the key).
fn to_sign(head: &Head, archive: &Path) -> Result<Prepared> {
    let provenance = head.provenance.as_deref().ok_or_else(|| {
        BuildError::input(
            archive,
            "carries no provenance: re-signing signs a bundle's BOM and its provenance statement anew, and a \
             bundle built without one is rebuilt instead",
        )
    })?;
    let provenance_statement = genesis_trust::provenance::statement(provenance)?;
    let provenance_pae = pae(IN_TOTO_PAYLOAD_TYPE, &provenance_statement);
    Ok(Prepared { bom: head.bom.clone(), provenance_pae, provenance_statement })
}

/// Stages the countersignature files `files` (name, bytes) for the folder beside the
/// re-signed `archive`, which appears whole or not at all once committed (the folder of an
/// earlier build there goes when the archive is published); `None` when there are none.
fn stage_countersignatures(archive: &Path, files: &[(String, Vec<u8>)]) -> Result<Option<Staging>> {
    if files.is_empty() {
        return Ok(None);
    }
    let mut staging = Staging::begin(&genesis_trust::countersignature_folder(archive))?;
    for (name, bytes) in files {
        staging.write_beside_payload(name, bytes)?;
    }
    Ok(Some(staging))
}

/// Where the re-signed archive of `source` goes: `output`, or `output/NAME` when `output` is
/// a folder (one that exists, or a path ending in `/`, made here). Never `source` itself: the
/// bundle stays as it was, so a re-signing that fails half-way leaves it untouched.
fn target(source: &Path, output: &Path) -> Result<PathBuf> {
    let folder = output.is_dir() || output.as_os_str().as_bytes().ends_with(b"/");
    let target = match source.file_name() {
        Some(name) if folder => output.join(name),
        _ => output.to_owned(),
    };
    let out_dir = target.parent().filter(|dir| !dir.as_os_str().is_empty()).unwrap_or(Path::new("."));
    fs::create_dir_all(out_dir).map_err(|e| BuildError::input(out_dir, format!("cannot create: {e}")))?;
    let identity = |path: &Path| fs::metadata(path).ok().map(|m| (m.dev(), m.ino()));
    if identity(&target).is_some() && identity(&target) == identity(source) {
        return Err(BuildError::input(
            &target,
            "is the bundle being re-signed, which stays as it is: write the re-signed bundle to another file or \
             folder, and move it over the old one afterwards if that is what you want",
        ));
    }
    Ok(target)
}
