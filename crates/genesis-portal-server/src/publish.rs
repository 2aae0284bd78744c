//! `genesis-portal publish VERSION FILE… --key PUB`: a release is accepted only when every
//! bundle verifies against the vendor key (BOM signature, every entry, the sidecars), names
//! the version being published, and travels with the sidecars `genesis pull` promises
//! (`.sha256`, and `.sig` or `.cosign.bundle`; the release evidence report `.report.pdf` when
//! the `.sha256` lists one). Files are stored first and the release row written last, in one
//! transaction: a publication that fails half-way publishes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use genesis_portal_client::protocol::{ArtifactKind, valid_artifact_name};
use genesis_trust::{PublicKey, TrustPolicy, UnverifiedBundle};
use genesis_types::Digest;

use crate::artifacts::Artifacts;
use crate::config::PortalConfig;
use crate::error::{PortalServerError, Result};
use crate::store::{Release, Store, StoredArtifact};
use crate::{export, now};

/// The sidecar suffixes of a bundle, in the order `genesis pull` lists them. The report is
/// optional: older bundles have none.
const SIDECARS: [&str; 4] = [".sha256", ".sig", ".cosign.bundle", REPORT];

/// The suffix of a bundle's release evidence report (`bundle-builder create --report`).
const REPORT: &str = ".report.pdf";

/// What to publish.
pub struct Publication<'a> {
    /// Product.
    pub product: &'a str,
    /// Version (semver).
    pub version: &'a str,
    /// The files to publish: bundles (their sidecars beside them are added), SBOMs,
    /// provenance, other files.
    pub files: &'a [PathBuf],
    /// The vendor key the bundles must verify against.
    pub key: &'a PublicKey,
}

/// `genesis-portal publish`: verifies, stores and records a release in `portal`; returns its
/// artifacts.
pub async fn publish(portal: &PortalConfig, p: Publication<'_>) -> Result<Vec<StoredArtifact>> {
    let store = portal.open_store().await?;
    let artifacts = portal.open_artifacts().await?;
    publish_into(&store, &artifacts, p, now()).await
}

/// Verifies, stores and records a release published at `published` (Unix time).
async fn publish_into(
    store: &Store,
    artifacts: &Artifacts,
    p: Publication<'_>,
    published: i64,
) -> Result<Vec<StoredArtifact>> {
    semver::Version::parse(p.version)
        .map_err(|source| PortalServerError::NotSemver { version: p.version.to_owned(), source })?;
    if store.release(p.product, p.version).await?.is_some() {
        return Err(PortalServerError::ReleaseExists { product: p.product.to_owned(), version: p.version.to_owned() });
    }
    let files = collect_files(p.files)?;
    let policy = TrustPolicy::from_keys(vec![p.key.clone()])?;
    let mut stored = Vec::new();
    for (name, path) in &files {
        let kind = ArtifactKind::of(name);
        let (sha256, size) = if kind == ArtifactKind::Bundle {
            verify_bundle(path, &policy, p.version, files.get(&format!("{name}{REPORT}")))?
        } else {
            let file = genesis_bundle::digest_io::sha256_file(path).map_err(PortalServerError::io("reading", path))?;
            (file.digest(), file.len)
        };
        stored.push(StoredArtifact { name: name.clone(), kind, size, sha256 });
    }
    for a in &stored {
        let key = Artifacts::release_key(p.product, p.version, &a.name);
        artifacts
            .put_file(&key, &files[&a.name])
            .await
            .map_err(|source| PortalServerError::StoringArtifact { name: a.name.clone(), source: Box::new(source) })?;
    }
    let release = Release {
        product: p.product.to_owned(),
        version: p.version.to_owned(),
        published,
        signer: p.key.fingerprint().to_string(),
        signer_pem: p.key.to_pem(),
    };
    store.insert_release(&release, &stored).await?;
    Ok(stored)
}

/// The files by name, each bundle's sidecars added from beside it; refuses unsafe or
/// duplicate names, names an export pack could not carry, sidecars without their bundle, and
/// bundles without their sidecars.
fn collect_files(given: &[PathBuf]) -> Result<BTreeMap<String, PathBuf>> {
    let mut files = BTreeMap::new();
    for path in given {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        if !valid_artifact_name(&name) {
            return Err(PortalServerError::UnpublishableName { path: path.clone() });
        }
        if files.insert(name.clone(), path.clone()).is_some() {
            return Err(PortalServerError::GivenTwice { name });
        }
    }
    let bundles: Vec<(String, PathBuf)> = files
        .iter()
        .filter(|(n, _)| ArtifactKind::of(n) == ArtifactKind::Bundle)
        .map(|(n, p)| (n.clone(), p.clone()))
        .collect();
    if bundles.is_empty() {
        return Err(PortalServerError::NoBundle);
    }
    for (name, path) in &bundles {
        for suffix in SIDECARS {
            let sidecar = PathBuf::from(format!("{}{suffix}", path.display()));
            let sidecar_name = format!("{name}{suffix}");
            match files.get(&sidecar_name) {
                Some(given) if given != &sidecar => {
                    return Err(PortalServerError::SidecarElsewhere { given: given.clone(), beside: sidecar });
                }
                Some(_) => {}
                None if sidecar.exists() => {
                    files.insert(sidecar_name, sidecar);
                }
                None => {}
            }
        }
        let has = |suffix: &str| files.contains_key(&format!("{name}{suffix}"));
        if !has(".sha256") || !(has(".sig") || has(".cosign.bundle")) {
            return Err(PortalServerError::MissingSidecars { bundle: name.clone() });
        }
    }
    for name in files.keys() {
        let kind = ArtifactKind::of(name);
        if let Some(entry) = export::pack_path(kind, name) {
            genesis_bundle::check_encodable(&entry)
                .map_err(|source| PortalServerError::UnpackableName { name: name.clone(), source: Box::new(source) })?;
        }
        if matches!(
            kind,
            ArtifactKind::Sha256 | ArtifactKind::Signature | ArtifactKind::CosignBundle | ArtifactKind::Report
        ) {
            let bundle = SIDECARS.iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
            if !files.contains_key(bundle) {
                return Err(PortalServerError::OrphanSidecar { name: name.clone(), bundle: bundle.to_owned() });
            }
        }
    }
    Ok(files)
}

/// Verifies a whole bundle (BOM signature, every entry, sidecars, and the files its `.sha256`
/// lists), that it is a bundle of `version`, and that its evidence report, when one is
/// published with it (`report`), is the one its `.sha256` lists; its archive SHA-256 and size.
fn verify_bundle(path: &Path, policy: &TrustPolicy, version: &str, report: Option<&PathBuf>) -> Result<(Digest, u64)> {
    let checked = UnverifiedBundle::open(path, &genesis_bundle::Limits::default())
        .and_then(|b| b.verify(policy))
        .and_then(|b| b.check())
        .map_err(|source| PortalServerError::BundleRefused { path: path.to_owned(), source: Box::new(source) })?;
    let verified = checked.report();
    if verified.head.version != version {
        return Err(PortalServerError::WrongVersion {
            path: path.to_owned(),
            found: verified.head.version.clone(),
            version: version.to_owned(),
        });
    }
    // A report beside the archive that its `.sha256` does not list describes other bytes (an
    // earlier build's): nothing vouches for it.
    if let Some(report) = report.filter(|r| !verified.sha256_listed.contains(r)) {
        return Err(PortalServerError::UnlistedReport { report: report.clone() });
    }
    Ok((verified.archive_sha256.clone(), verified.archive_size))
}
