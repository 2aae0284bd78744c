//! `genesis-portal publish VERSION FILE… --key PUB`: a release is accepted only when every
//! bundle verifies against the vendor key (BOM signature, every entry, the sidecars), names
//! the version being published, and travels with the sidecars `genesis pull` promises
//! (`.sha256`, and `.sig` or `.cosign.bundle`; the release evidence report `.report.pdf` when
//! the `.sha256` lists one). Files are stored first and the release row written last, in one
//! transaction: a publication that fails half-way publishes nothing.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use genesis_portal_client::protocol::{ArtifactKind, valid_artifact_name};
use genesis_trust::{PublicKey, TrustPolicy, UnverifiedBundle};
use genesis_types::Digest;

use crate::artifacts::Artifacts;
use crate::config::PortalConfig;
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
pub async fn publish(portal: &PortalConfig, p: Publication<'_>) -> anyhow::Result<Vec<StoredArtifact>> {
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
) -> anyhow::Result<Vec<StoredArtifact>> {
    semver::Version::parse(p.version)
        .with_context(|| format!("version `{}` is not semver (e.g. 3.2.10)", p.version))?;
    if store.release(p.product, p.version).await?.is_some() {
        bail!("{} {} is already published; releases are immutable, publish a new version", p.product, p.version);
    }
    let files = collect_files(p.files)?;
    let policy = TrustPolicy::from_keys(vec![p.key.clone()])?;
    let mut stored = Vec::new();
    for (name, path) in &files {
        let kind = ArtifactKind::of(name);
        let (sha256, size) = if kind == ArtifactKind::Bundle {
            verify_bundle(path, &policy, p.version, files.get(&format!("{name}{REPORT}")))?
        } else {
            let file =
                genesis_bundle::digest_io::sha256_file(path).with_context(|| format!("reading {}", path.display()))?;
            (file.digest(), file.len)
        };
        stored.push(StoredArtifact { name: name.clone(), kind, size, sha256 });
    }
    for a in &stored {
        let key = Artifacts::release_key(p.product, p.version, &a.name);
        artifacts.put_file(&key, &files[&a.name]).await.with_context(|| format!("storing {}", a.name))?;
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
fn collect_files(given: &[PathBuf]) -> anyhow::Result<BTreeMap<String, PathBuf>> {
    let mut files = BTreeMap::new();
    for path in given {
        let name = path.file_name().and_then(|n| n.to_str()).unwrap_or_default().to_owned();
        if !valid_artifact_name(&name) {
            bail!("{}: not a publishable file name (letters, digits, `.-_+`, not hidden)", path.display());
        }
        if files.insert(name.clone(), path.clone()).is_some() {
            bail!("`{name}` is given twice");
        }
    }
    let bundles: Vec<(String, PathBuf)> = files
        .iter()
        .filter(|(n, _)| ArtifactKind::of(n) == ArtifactKind::Bundle)
        .map(|(n, p)| (n.clone(), p.clone()))
        .collect();
    if bundles.is_empty() {
        bail!("no bundle (NAME.tar.zst) among the files: a release is its bundles");
    }
    for (name, path) in &bundles {
        for suffix in SIDECARS {
            let sidecar = PathBuf::from(format!("{}{suffix}", path.display()));
            let sidecar_name = format!("{name}{suffix}");
            match files.get(&sidecar_name) {
                Some(given) if given != &sidecar => {
                    bail!("{}: a bundle's sidecar must sit beside it ({})", given.display(), sidecar.display())
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
            bail!(
                "{name}: a bundle is published with its `.sha256` and its `.sig` or `.cosign.bundle` \
                 (as `bundle-builder create` writes them beside it)"
            );
        }
    }
    for name in files.keys() {
        let kind = ArtifactKind::of(name);
        if let Some(entry) = export::pack_path(kind, name) {
            genesis_bundle::check_encodable(&entry)
                .with_context(|| format!("`{name}`: refused, an air-gap export pack could not carry this name"))?;
        }
        if matches!(
            kind,
            ArtifactKind::Sha256 | ArtifactKind::Signature | ArtifactKind::CosignBundle | ArtifactKind::Report
        ) {
            let bundle = SIDECARS.iter().find_map(|s| name.strip_suffix(s)).unwrap_or(name);
            if !files.contains_key(bundle) {
                bail!("`{name}` is a sidecar of `{bundle}`, which is not published with it");
            }
        }
    }
    Ok(files)
}

/// Verifies a whole bundle (BOM signature, every entry, sidecars, and the files its `.sha256`
/// lists), that it is a bundle of `version`, and that its evidence report, when one is
/// published with it (`report`), is the one its `.sha256` lists; its archive SHA-256 and size.
fn verify_bundle(
    path: &Path,
    policy: &TrustPolicy,
    version: &str,
    report: Option<&PathBuf>,
) -> anyhow::Result<(Digest, u64)> {
    let checked = UnverifiedBundle::open(path, &genesis_bundle::Limits::default())
        .and_then(|b| b.verify(policy))
        .and_then(|b| b.check())
        .with_context(|| format!("{}: refused, it does not verify with the vendor key", path.display()))?;
    let verified = checked.report();
    if verified.version != version {
        bail!("{}: a bundle of version {}, not {version}", path.display(), verified.version);
    }
    // A report beside the archive that its `.sha256` does not list describes other bytes (an
    // earlier build's): nothing vouches for it.
    if let Some(report) = report.filter(|r| !verified.sha256_listed.contains(r)) {
        bail!(
            "{}: refused, the bundle's .sha256 does not list it, so it is not this archive's report \
             (build with `bundle-builder create --report`, or leave the report out)",
            report.display()
        );
    }
    Ok((verified.archive_sha256.clone(), verified.archive_size))
}
