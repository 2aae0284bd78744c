//! `genesis-portal publish VERSION FILE… --key PUB`: a release is accepted only when every
//! bundle verifies against the vendor key (BOM signature, every entry, the sidecars), names
//! the version being published, and travels with the sidecars `genesis pull` promises
//! (`.sha256`, and `.sig` or `.cosign.bundle`; the release evidence report `.report.pdf` when
//! the `.sha256` lists one). Files are stored first and the release row written last, in one
//! transaction with what the verification established of each bundle ([`BundleFacts`]): a
//! publication that fails half-way publishes nothing.
//!
//! The vendor's upload page publishes through the same [`publish_into`], in a task of its own
//! ([`publish_detached`]) so that a request that goes away (the browser closed, the connection
//! timed out while a large bundle verifies) does not stop a publication half-way. A release is
//! claimed in the database before its files are stored, so two publications of it (a second
//! upload while the first verifies, the CLI beside the pages) never overwrite each other's
//! files.

use std::collections::{BTreeMap, BTreeSet};
use std::path::{Path, PathBuf};
use std::sync::Arc;

use genesis_bundle::{PARTS_MANIFEST_SUFFIX, PartsManifest};
use genesis_portal_client::protocol::{ArtifactKind, archive_name_of_entry, valid_artifact_name};
use genesis_trust::{CheckedBundle, PublicKey, SignedBom as _, TrustPolicy, UnverifiedBundle};
use genesis_types::Digest;
use tempfile::TempDir;

use crate::admin::{check_product_name, cli_actor};
use crate::api::Shared;
use crate::artifacts::Artifacts;
use crate::config::PortalConfig;
use crate::error::{PortalServerError, Result};
use crate::facts::BundleFacts;
use crate::store::{Release, Store, StoredArtifact, action};
use crate::{export, now, when};

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
    // Refused before the database is opened.
    check_product_name(p.product)?;
    let store = portal.open_store().await?;
    let artifacts = portal.open_artifacts().await?;
    publish_into(&store, &artifacts, p, now(), &cli_actor()).await
}

/// Verifies, stores and records a release published at `published` (Unix time) by `actor`
/// (as the audit log names them), with the facts of its bundles.
pub(crate) async fn publish_into(
    store: &Store,
    artifacts: &Artifacts,
    p: Publication<'_>,
    published: i64,
    actor: &str,
) -> Result<Vec<StoredArtifact>> {
    check_product_name(p.product)?;
    semver::Version::parse(p.version)
        .map_err(|source| PortalServerError::NotSemver { version: p.version.to_owned(), source })?;
    let started = now();
    if let Some((holder, since)) =
        store.claim_publication(p.product, p.version, actor, started, started - STALE_CLAIM_HOURS * 3600).await?
    {
        return Err(PortalServerError::ReleaseBeingPublished {
            product: p.product.to_owned(),
            version: p.version.to_owned(),
            actor: holder,
            since: when(since),
            stale_hours: STALE_CLAIM_HOURS,
        });
    }
    let published_or_not = publish_claimed(store, artifacts, &p, published, actor).await;
    store.end_publication_claim(p.product, p.version, started).await?;
    published_or_not
}

/// Hours after which a publication claim counts as left by a publisher that died: longer
/// than any verification of a release takes.
const STALE_CLAIM_HOURS: i64 = 6;

/// [`publish_into`] once the release is claimed.
async fn publish_claimed(
    store: &Store,
    artifacts: &Artifacts,
    p: &Publication<'_>,
    published: i64,
    actor: &str,
) -> Result<Vec<StoredArtifact>> {
    // Checked under the claim: a publication that ended just before it was taken finds its
    // release here, and its files are not overwritten.
    if store.release(p.product, p.version).await?.is_some() {
        return Err(PortalServerError::ReleaseExists { product: p.product.to_owned(), version: p.version.to_owned() });
    }
    let files = collect_files(p.files)?;
    let policy = TrustPolicy::from_keys(vec![p.key.clone()])?;
    let mut facts = Vec::new();
    // What verifying each bundle established of its entry and, for a split one, of its parts
    // (each read in place and checked against its manifest's digest): not hashed again.
    let mut verified: BTreeMap<String, (Digest, u64)> = BTreeMap::new();
    for (name, path) in files.iter().filter(|(n, _)| ArtifactKind::of(n).is_bundle_entry()) {
        // A bundle is read whole (gigabytes): off the runtime's threads, which the portal's
        // server shares when the upload page publishes.
        let (path, policy, version) = (path.clone(), policy.clone(), p.version.to_owned());
        let report = files.get(&format!("{}{REPORT}", archive_name_of_entry(name))).cloned();
        let checked = tokio::task::spawn_blocking(move || verify_bundle(&path, &policy, &version, report.as_ref()))
            .await
            .map_err(|source| PortalServerError::Panicked { action: "verifying a bundle", source })??;
        facts.push(BundleFacts::of(name, &checked, published));
        let archive = checked.archive_file();
        match archive.manifest() {
            Some(manifest) => {
                let bytes = archive.manifest_bytes();
                verified.insert(name.clone(), (genesis_bundle::sha256(bytes), bytes.len() as u64));
                for part in &manifest.parts {
                    verified.insert(part.name.clone(), (part.sha256.clone(), part.size));
                }
            }
            None => {
                let report = checked.report();
                verified.insert(name.clone(), (report.archive_sha256.clone(), report.archive_size));
            }
        }
    }
    let mut stored = Vec::new();
    for (name, path) in &files {
        let kind = ArtifactKind::of(name);
        let (sha256, size) = if let Some(known) = verified.get(name) {
            known.clone()
        } else {
            // An SBOM or other file can be large too: read off the runtime's threads as well.
            let path = path.clone();
            let file = tokio::task::spawn_blocking(move || {
                genesis_bundle::digest_io::sha256_file(&path).map_err(PortalServerError::io("reading", &path))
            })
            .await
            .map_err(|source| PortalServerError::Panicked { action: "hashing a file", source })??;
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
    store.insert_release(&release, &stored, &facts).await?;
    store.audit_now(actor, action::RELEASE_PUBLISH, None, &format!("{}/{}", p.product, p.version)).await?;
    Ok(stored)
}

/// A publication that owns what it publishes, so that it can run in a task of its own
/// ([`publish_detached`]): what the vendor's upload page received.
pub(crate) struct OwnedPublication {
    /// Product.
    pub(crate) product: String,
    /// Version (semver).
    pub(crate) version: String,
    /// The files to publish, as [`Publication::files`].
    pub(crate) files: Vec<PathBuf>,
    /// The vendor key the bundles must verify against.
    pub(crate) key: PublicKey,
    /// The directory the files were uploaded to, kept while the publication runs and removed
    /// once it has ended ([`remove_uploaded`]).
    pub(crate) uploaded: TempDir,
}

/// [`publish_into`] in a task of its own, awaited: the publication runs to its end (unless the
/// portal itself stops), then its uploaded files are removed, even when the request awaiting
/// it goes away meanwhile (a
/// browser closed, a connection timed out while a bundle of gigabytes verifies). A request
/// dropped half-way through `publish_into` would stop it between storing the files and
/// recording the release, leaving files no release names. The outcome is logged here, as
/// nobody may be left to hear it.
pub(crate) async fn publish_detached(
    state: &Shared,
    p: OwnedPublication,
    actor: String,
) -> Result<Vec<StoredArtifact>> {
    let state = Arc::clone(state);
    let publishing = tokio::spawn(async move {
        let OwnedPublication { product, version, files, key, uploaded } = p;
        let publication = Publication { product: &product, version: &version, files: &files, key: &key };
        let published = publish_into(&state.store, &state.artifacts, publication, now(), &actor).await;
        match &published {
            Ok(stored) => {
                tracing::info!(actor = %actor, product = %product, version = %version, files = stored.len(),
                    "release published");
            }
            Err(e) if e.is_refusal() => {
                tracing::info!(actor = %actor, product = %product, version = %version,
                    reason = %genesis_types::error_chain(e), "publication refused");
            }
            Err(e) => {
                tracing::error!(actor = %actor, product = %product, version = %version,
                    error = %genesis_types::error_chain(e), "publication failed");
            }
        }
        remove_uploaded(uploaded).await;
        published
    });
    publishing.await.map_err(|source| PortalServerError::Panicked { action: "publishing a release", source })?
}

/// Removes an upload's directory on a blocking thread (its files can be gigabytes). A failure
/// is the portal's to log, not the vendor's: the next portal to start after this one stops
/// empties its scratch space.
pub(crate) async fn remove_uploaded(dir: TempDir) {
    let path = dir.path().to_owned();
    let removed = tokio::task::spawn_blocking(move || dir.close()).await.map_err(std::io::Error::other);
    if let Err(e) = removed.and_then(|closed| closed) {
        tracing::warn!(path = %path.display(), error = %e, "removing an upload's directory");
    }
}

/// The files by name, each bundle's sidecars added from beside it, and each split bundle's
/// parts and its manifest's signatures; refuses unsafe or duplicate names, names an export
/// pack could not carry, sidecars and parts without their bundle, bundles without their
/// sidecars, a split bundle without all its parts, and one bundle given both whole and split.
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
    let entries: Vec<(String, PathBuf)> = files
        .iter()
        .filter(|(n, _)| ArtifactKind::of(n).is_bundle_entry())
        .map(|(n, p)| (n.clone(), p.clone()))
        .collect();
    if entries.is_empty() {
        return Err(PortalServerError::NoBundle);
    }
    let split = |name: &str| ArtifactKind::of(name) == ArtifactKind::PartsManifest;
    if let Some((name, _)) = entries.iter().find(|(n, _)| split(n) && files.contains_key(archive_name_of_entry(n))) {
        return Err(PortalServerError::ArchiveAndParts { archive: archive_name_of_entry(name).to_owned() });
    }
    let mut listed_parts = BTreeSet::new();
    for (name, path) in &entries {
        let archive = archive_name_of_entry(name);
        let archive_path = path.with_file_name(archive);
        if split(name) {
            let manifest =
                PartsManifest::read(path).map_err(|source| PortalServerError::BadPartsManifest(Box::new(source)))?;
            for part in &manifest.parts {
                if !add_beside(&mut files, &path.with_file_name(&part.name))? {
                    return Err(PortalServerError::MissingPart { manifest: path.clone(), part: part.name.clone() });
                }
                listed_parts.insert(part.name.clone());
            }
            for suffix in [".sig", ".cosign.bundle"] {
                add_beside(&mut files, &genesis_bundle::path_with_suffix(path, suffix))?;
            }
        }
        for suffix in SIDECARS {
            add_beside(&mut files, &genesis_bundle::path_with_suffix(&archive_path, suffix))?;
        }
        let has = |file: &str, suffix: &str| files.contains_key(&format!("{file}{suffix}"));
        let archive_sidecars = has(archive, ".sha256") && (has(archive, ".sig") || has(archive, ".cosign.bundle"));
        if split(name) {
            // `create --max-part-size` leaves no archive sidecars: the signed manifest gives
            // every part's digest, and its signature is the one cosign checks first.
            if !archive_sidecars && !has(name, ".sig") && !has(name, ".cosign.bundle") {
                return Err(PortalServerError::UnsignedParts { manifest: name.clone() });
            }
        } else if !archive_sidecars {
            return Err(PortalServerError::MissingSidecars { bundle: name.clone() });
        }
    }
    for name in files.keys() {
        let kind = ArtifactKind::of(name);
        if let Some(entry) = export::pack_path(kind, name) {
            genesis_bundle::check_encodable(&entry)
                .map_err(|source| PortalServerError::UnpackableName { name: name.clone(), source: Box::new(source) })?;
        }
        if kind == ArtifactKind::Part && !listed_parts.contains(name) {
            return Err(PortalServerError::StrayPart { name: name.clone() });
        }
        if matches!(
            kind,
            ArtifactKind::Sha256 | ArtifactKind::Signature | ArtifactKind::CosignBundle | ArtifactKind::Report
        ) {
            let bundle = SIDECARS.iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
            if !files.contains_key(bundle) && !files.contains_key(&format!("{bundle}{PARTS_MANIFEST_SUFFIX}")) {
                return Err(PortalServerError::OrphanSidecar { name: name.clone(), bundle: bundle.to_owned() });
            }
        }
    }
    Ok(files)
}

/// Adds the file at `beside` (a sidecar or part of a bundle given) under its name unless it was
/// given already, from there; whether the file is now among them. Refuses one given from
/// another folder: the verifier reads a bundle's files side by side.
fn add_beside(files: &mut BTreeMap<String, PathBuf>, beside: &Path) -> Result<bool> {
    let name = beside.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
    match files.get(&name) {
        Some(given) if given != beside => {
            Err(PortalServerError::SidecarElsewhere { given: given.clone(), beside: beside.to_owned() })
        }
        Some(_) => Ok(true),
        None if beside.exists() => {
            files.insert(name, beside.to_owned());
            Ok(true)
        }
        None => Ok(false),
    }
}

/// Verifies a whole bundle (BOM signature, every entry, sidecars, and the files its `.sha256`
/// lists), that it is a bundle of `version`, and that its evidence report, when one is
/// published with it (`report`), is the one its `.sha256` lists; what the verification
/// established (the archive's SHA-256 and size, and the facts the pages show).
fn verify_bundle(path: &Path, policy: &TrustPolicy, version: &str, report: Option<&PathBuf>) -> Result<CheckedBundle> {
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
    Ok(checked)
}

#[cfg(test)]
mod tests {
    use std::path::{Path, PathBuf};

    use std::time::{Duration, Instant};

    use futures_util::FutureExt as _;
    use genesis_trust::{AcceptedSigner, PublicKey};

    use super::{OwnedPublication, Publication, publish_detached, publish_into};
    use crate::api::{ApiConfig, AppState};
    use crate::config::PortalConfig;
    use crate::error::PortalServerError;

    fn fixtures() -> PathBuf {
        Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
    }

    /// The fixture bundle, published: its verification, the components of its SBOM (an image
    /// index's per-platform images after it) and its provenance are recorded with the release,
    /// and the publication is audited with who made it.
    #[tokio::test]
    async fn a_publication_records_what_verifying_its_bundles_established_and_who_published() {
        let dir = tempfile::tempdir().unwrap();
        let portal = PortalConfig { data_dir: Some(dir.path().to_owned()), ..PortalConfig::default() };
        let (store, artifacts) = (portal.open_store().await.unwrap(), portal.open_artifacts().await.unwrap());
        let key = PublicKey::from_pem_file(&fixtures().join("keys/test.pub")).unwrap();
        let files = [fixtures().join("bundles/good/demo-0.1.0.tar.zst")];
        let publication = Publication { product: "genesis", version: "0.1.0", files: &files, key: &key };
        publish_into(&store, &artifacts, publication, 1_700_000_000, "admin:alice").await.unwrap();

        let [facts] = store.bundle_facts("genesis", "0.1.0").await.unwrap().try_into().unwrap();
        assert_eq!((facts.bundle.as_str(), facts.verified_at), ("demo-0.1.0.tar.zst", 1_700_000_000));
        assert_eq!(facts.signer, AcceptedSigner::key(&key));
        assert_eq!((facts.images, facts.charts, facts.manifests), (1, 1, 3));
        assert!(facts.bom_sha256.starts_with("sha256:") && facts.files > 0 && facts.payload_bytes > 0);
        let sbom = facts.sbom.unwrap();
        assert_eq!(sbom.format, "CycloneDX 1.5");
        let names: Vec<&str> = sbom.components.iter().map(|c| c.name.as_str()).collect();
        assert_eq!(
            names,
            [
                "app",
                "app (linux/amd64)",
                "app (linux/arm64)",
                "web",
                "manifests/deployment.yaml",
                "manifests/namespace.yaml",
                "manifests/service.yaml"
            ]
        );
        assert!(sbom.components[0].purl.as_deref().is_some_and(|p| p.starts_with("pkg:oci/app@sha256")));
        let provenance = facts.provenance.unwrap();
        assert_eq!(provenance.builder_id, "https://genesis.dev/bundle-builder@v0.1.0");
        let materials: Vec<(&str, &str)> =
            provenance.materials.iter().map(|m| (m.name.as_str(), m.uri.as_str())).collect();
        assert_eq!(materials, [("app", "oci:images/app:1.0"), ("web", "charts/web-0.1.0.tgz")]);

        let [audited] = store.audit_log(10).await.unwrap().try_into().unwrap();
        assert_eq!(
            (audited.actor.as_str(), audited.action.as_str(), audited.org, audited.subject.as_str()),
            ("admin:alice", "release.publish", None, "genesis/0.1.0")
        );
    }

    /// A product name that is not one plain path segment is refused before anything is read
    /// or stored: it would name the release's place in the artifact store.
    #[tokio::test]
    async fn a_release_of_a_product_that_is_no_plain_name_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let portal = PortalConfig { data_dir: Some(dir.path().to_owned()), ..PortalConfig::default() };
        let (store, artifacts) = (portal.open_store().await.unwrap(), portal.open_artifacts().await.unwrap());
        let key = PublicKey::from_pem_file(&fixtures().join("keys/test.pub")).unwrap();
        let files = [fixtures().join("bundles/good/demo-0.1.0.tar.zst")];
        let publication = Publication { product: "../x", version: "0.1.0", files: &files, key: &key };
        let refused = publish_into(&store, &artifacts, publication, 1, "admin:alice").await.unwrap_err();
        assert!(matches!(&refused, PortalServerError::BadProductName { product } if product == "../x"), "{refused}");
        assert!(store.releases().await.unwrap().is_empty());
        assert_eq!(std::fs::read_dir(dir.path().join("artifacts")).unwrap().count(), 0, "nothing stored");
    }

    /// While a publication of a release runs (its claim held), another is refused before it
    /// stores a byte, naming who publishes and since when; a claim left by a publisher that
    /// died is taken over once stale, and a publication gives its claim up when it ends.
    #[tokio::test]
    async fn two_publications_of_one_release_never_overwrite_each_other() {
        let dir = tempfile::tempdir().unwrap();
        let portal = PortalConfig { data_dir: Some(dir.path().to_owned()), ..PortalConfig::default() };
        let (store, artifacts) = (portal.open_store().await.unwrap(), portal.open_artifacts().await.unwrap());
        let key = PublicKey::from_pem_file(&fixtures().join("keys/test.pub")).unwrap();
        let files = [fixtures().join("bundles/good/demo-0.1.0.tar.zst")];
        let publication = || Publication { product: "genesis", version: "0.1.0", files: &files, key: &key };

        let running = crate::now();
        assert_eq!(store.claim_publication("genesis", "0.1.0", "admin:bob", running, 0).await.unwrap(), None);
        let refused = publish_into(&store, &artifacts, publication(), 1, "admin:alice").await.unwrap_err();
        assert!(
            matches!(&refused, PortalServerError::ReleaseBeingPublished { actor, .. } if actor == "admin:bob"),
            "{refused}"
        );
        assert!(!dir.path().join("artifacts/releases").exists(), "nothing stored beside the running publication");

        // Bob's publisher died 7 h ago: its claim is taken over.
        store.end_publication_claim("genesis", "0.1.0", running).await.unwrap();
        let died = crate::now() - 7 * 3600;
        assert_eq!(store.claim_publication("genesis", "0.1.0", "admin:bob", died, 0).await.unwrap(), None);
        publish_into(&store, &artifacts, publication(), 1, "admin:alice").await.unwrap();
        // Alice's publication gave its claim up: a third one is told the release exists.
        let again = publish_into(&store, &artifacts, publication(), 2, "admin:carol").await.unwrap_err();
        assert!(matches!(again, PortalServerError::ReleaseExists { .. }), "{again}");
    }

    /// The upload page's publication runs in a task of its own: when the request awaiting it
    /// goes away (dropped here after its first poll), the release is still published whole,
    /// and the uploaded files removed after.
    #[tokio::test(flavor = "multi_thread", worker_threads = 2)]
    async fn a_publication_outlives_the_request_that_started_it() {
        let dir = tempfile::tempdir().unwrap();
        let portal = PortalConfig { data_dir: Some(dir.path().to_owned()), ..PortalConfig::default() };
        let state = AppState::open(&portal, ApiConfig::default()).await.unwrap();
        let uploaded = tempfile::tempdir_in(dir.path()).unwrap();
        for suffix in ["", ".sha256", ".sig"] {
            let name = format!("demo-0.1.0.tar.zst{suffix}");
            std::fs::copy(fixtures().join("bundles/good").join(&name), uploaded.path().join(&name)).unwrap();
        }
        let upload_dir = uploaded.path().to_owned();
        let publication = OwnedPublication {
            product: "genesis".into(),
            version: "0.1.0".into(),
            files: vec![upload_dir.join("demo-0.1.0.tar.zst")],
            key: PublicKey::from_pem_file(&fixtures().join("keys/test.pub")).unwrap(),
            uploaded,
        };
        let request = publish_detached(&state, publication, "admin:alice".into());
        assert!(request.now_or_never().is_none(), "verifying a bundle takes longer than a poll");

        let started = Instant::now();
        while state.store.release("genesis", "0.1.0").await.unwrap().is_none() || upload_dir.exists() {
            assert!(started.elapsed() < Duration::from_secs(60), "the publication stopped with its request");
            tokio::time::sleep(Duration::from_millis(50)).await;
        }
        let names: Vec<String> =
            state.store.artifacts("genesis", "0.1.0").await.unwrap().into_iter().map(|a| a.name).collect();
        assert_eq!(names, ["demo-0.1.0.tar.zst", "demo-0.1.0.tar.zst.sha256", "demo-0.1.0.tar.zst.sig"]);
        assert_eq!(state.store.bundle_facts("genesis", "0.1.0").await.unwrap().len(), 1);
    }
}
