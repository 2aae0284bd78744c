//! Seed 003's bootstrap pack: a release's bundles, verified again with the key they were
//! published under, unpacked into `charts/`, `images/` (one OCI image layout with every
//! bundle's images) and `signatures/` (the release's sidecars and provenance), plus
//! `pack.json` naming each bundle by digest. Byte-stable: entries sorted by path, the
//! canonical tar headers of the bundle format (0644/0755, uid/gid 0, mtime
//! `SOURCE_DATE_EPOCH`), gzip with the same mtime, fixed level, no file name.

use std::collections::BTreeMap;
use std::io::Write;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::{Context as _, bail};
use flate2::{Compression, GzBuilder};
use genesis_bundle::tar::{BLOCK, END_OF_ARCHIVE, dir_header, file_header, padding};
use genesis_portal::protocol::{ArtifactKind, BOOTSTRAP_PROFILE, ExportState};
use genesis_trust::{PublicKey, TrustPolicy, UnverifiedBundle};
use sha2::{Digest as _, Sha256};

use crate::api::AppState;
use crate::artifacts::Artifacts;
use crate::store::{Export, Release, StoredArtifact};

/// What a finished pack is.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Pack {
    /// SHA-256 over the `sha256sum` lines of every file, sorted by path.
    pub root_hash: String,
    /// SHA-256 of the `.tar.gz`.
    pub sha256: String,
    /// Its size.
    pub size: u64,
}

/// Builds an export in the background and records the outcome; the status endpoint shows it.
pub async fn build(state: Arc<AppState>, mut export: Export, release: Release) {
    let started = std::time::Instant::now();
    match build_and_store(&state, &export, &release).await {
        Ok(pack) => {
            export.status = ExportState::Ready;
            export.root_hash = Some(pack.root_hash.clone());
            export.sha256 = Some(pack.sha256.clone());
            export.size = Some(pack.size);
            let elapsed = started.elapsed().as_millis() as u64;
            state.metrics.exports_completed.inc();
            state.metrics.export_duration_ms.observe(elapsed as f64);
            tracing::info!(exportId = %export.id, profile = BOOTSTRAP_PROFILE, rootHash = %pack.root_hash,
                artifactSha256 = %pack.sha256, durationMs = elapsed, "export ready");
        }
        Err(e) => {
            export.status = ExportState::Failed;
            export.error = Some(format!("{e:#}"));
            state.metrics.exports_failed.inc();
            tracing::error!(exportId = %export.id, profile = BOOTSTRAP_PROFILE, error = %format!("{e:#}"), "export failed");
        }
    }
    if let Err(e) = state.store.finish_export(&export).await {
        tracing::error!(exportId = %export.id, error = %format!("{e:#}"), "recording the export's outcome");
    }
}

async fn build_and_store(state: &AppState, export: &Export, release: &Release) -> anyhow::Result<Pack> {
    std::fs::create_dir_all(&state.scratch)?;
    let work = tempfile::tempdir_in(&state.scratch).context("creating the export's scratch directory")?;
    let inputs = work.path().join("in");
    std::fs::create_dir(&inputs)?;
    let artifacts = state.store.artifacts(&release.product, &release.version).await?;
    // The bundles and their sidecars side by side, as the verifier expects them.
    for a in &artifacts {
        let key = Artifacts::release_key(&release.product, &release.version, &a.name);
        let local = state.artifacts.local_copy(&key, &inputs).await?;
        if local != inputs.join(&a.name) {
            link_or_copy(&local, &inputs.join(&a.name))?;
        }
    }
    let key = PublicKey::from_pem(&release.signer_pem, Path::new("the release's signer key"))?;
    let out = work.path().join("pack.tar.gz");
    let meta =
        PackMeta { product: release.product.clone(), version: release.version.clone(), epoch: state.source_date_epoch };
    let (inputs_for_pack, out_for_pack) = (inputs.clone(), out.clone());
    let pack =
        tokio::task::spawn_blocking(move || write_pack(&inputs_for_pack, &artifacts, &key, &meta, &out_for_pack))
            .await??;
    state.artifacts.put_file(&Artifacts::export_key(&export.org, &export.id), &out).await?;
    Ok(pack)
}

fn link_or_copy(from: &Path, to: &Path) -> std::io::Result<()> {
    std::fs::hard_link(from, to).or_else(|_| std::fs::copy(from, to).map(drop))
}

/// What the pack says about itself in `pack.json`.
#[derive(Debug, Clone)]
pub struct PackMeta {
    /// Product.
    pub product: String,
    /// Version.
    pub version: String,
    /// `SOURCE_DATE_EPOCH`: every mtime in the pack.
    pub epoch: u64,
}

/// Verifies every bundle in `inputs` with `key`, then writes the pack to `out`.
pub fn write_pack(
    inputs: &Path,
    artifacts: &[StoredArtifact],
    key: &PublicKey,
    meta: &PackMeta,
    out: &Path,
) -> anyhow::Result<Pack> {
    let policy = TrustPolicy::from_keys(vec![key.clone()])?;
    let unpacked = inputs.join(".unpacked");
    std::fs::create_dir(&unpacked)?;
    let mut files: BTreeMap<String, Source> = BTreeMap::new();
    let mut index_entries = Vec::new();
    let mut bundles = Vec::new();
    for bundle in artifacts.iter().filter(|a| a.kind == ArtifactKind::Bundle) {
        let target = unpacked.join(&bundle.name);
        let report = UnverifiedBundle::open(&inputs.join(&bundle.name), &genesis_bundle::Limits::default())?
            .verify(&policy)?
            .extract(&target)
            .with_context(|| format!("verifying {}", bundle.name))?;
        bundles.push(serde_json::json!({
            "name": bundle.name, "sha256": bundle.sha256, "bomSha256": report.bom_sha256.hex(), "signer": report.key.to_string(),
        }));
        add_tree(&mut files, &target.join("charts"), "charts")?;
        add_tree(&mut files, &target.join("oci/blobs"), "images/blobs")?;
        if let Ok(index) = std::fs::read(target.join("oci/index.json")) {
            let index: serde_json::Value = serde_json::from_slice(&index).context("a bundle's oci/index.json")?;
            index_entries.extend(index["manifests"].as_array().cloned().unwrap_or_default());
        }
    }
    for a in artifacts.iter().filter(|a| {
        matches!(
            a.kind,
            ArtifactKind::Sha256 | ArtifactKind::Signature | ArtifactKind::CosignBundle | ArtifactKind::Provenance
        )
    }) {
        files.insert(format!("signatures/{}", a.name), Source::File(inputs.join(&a.name)));
    }
    index_entries
        .sort_by_key(|m| (m["annotations"]["org.opencontainers.image.ref.name"].to_string(), m["digest"].to_string()));
    index_entries.dedup();
    let index = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": index_entries,
    });
    files.insert("images/index.json".into(), Source::Bytes(pretty(&index)));
    files.insert("images/oci-layout".into(), Source::Bytes(br#"{"imageLayoutVersion":"1.0.0"}"#.to_vec()));
    let pack_json = serde_json::json!({
        "profile": BOOTSTRAP_PROFILE, "product": meta.product, "version": meta.version,
        "sourceDateEpoch": meta.epoch, "bundles": bundles,
    });
    files.insert("pack.json".into(), Source::Bytes(pretty(&pack_json)));
    write_tar_gz(&files, meta.epoch, out)
}

fn pretty(value: &serde_json::Value) -> Vec<u8> {
    let mut out = serde_json::to_vec_pretty(value).expect("JSON");
    out.push(b'\n');
    out
}

/// A pack entry's content.
enum Source {
    File(PathBuf),
    Bytes(Vec<u8>),
}

/// Adds every file under `dir` as `prefix/…` (nothing when `dir` does not exist).
fn add_tree(files: &mut BTreeMap<String, Source>, dir: &Path, prefix: &str) -> anyhow::Result<()> {
    let Ok(entries) = std::fs::read_dir(dir) else {
        return Ok(());
    };
    for entry in entries {
        let entry = entry?;
        let name = entry.file_name().into_string().map_err(|n| anyhow::anyhow!("non-UTF-8 name {n:?}"))?;
        let path = format!("{prefix}/{name}");
        if entry.file_type()?.is_dir() {
            add_tree(files, &entry.path(), &path)?;
        } else {
            files.insert(path, Source::File(entry.path()));
        }
    }
    Ok(())
}

/// Counts and hashes what goes through it.
struct HashingWriter<W> {
    inner: W,
    hasher: Sha256,
    len: u64,
}

impl<W: Write> Write for HashingWriter<W> {
    fn write(&mut self, buf: &[u8]) -> std::io::Result<usize> {
        let n = self.inner.write(buf)?;
        self.hasher.update(&buf[..n]);
        self.len += n as u64;
        Ok(n)
    }
    fn flush(&mut self) -> std::io::Result<()> {
        self.inner.flush()
    }
}

fn write_tar_gz(files: &BTreeMap<String, Source>, epoch: u64, out: &Path) -> anyhow::Result<Pack> {
    let file = std::fs::File::create(out).with_context(|| format!("creating {}", out.display()))?;
    let hashing = HashingWriter { inner: std::io::BufWriter::new(file), hasher: Sha256::new(), len: 0 };
    let mtime = u32::try_from(epoch).context("SOURCE_DATE_EPOCH beyond 2106")?;
    let mut gz = GzBuilder::new().mtime(mtime).operating_system(255).write(hashing, Compression::new(6));
    let mut listing = String::new();
    let mut dirs_written = std::collections::BTreeSet::new();
    for (path, source) in files {
        for (i, _) in path.match_indices('/') {
            let dir = format!("{}/", &path[..i]);
            if dirs_written.insert(dir.clone()) {
                gz.write_all(&dir_header(&dir, epoch))?;
            }
        }
        let digest = match source {
            Source::Bytes(b) => copy_entry(&mut gz, path, &mut b.as_slice(), b.len() as u64, epoch)?,
            Source::File(p) => {
                let len = std::fs::metadata(p)?.len();
                let mut f = std::fs::File::open(p).with_context(|| format!("reading {}", p.display()))?;
                copy_entry(&mut gz, path, &mut f, len, epoch)?
            }
        };
        listing.push_str(&format!("{digest}  {path}\n"));
    }
    gz.write_all(&END_OF_ARCHIVE)?;
    let mut hashing = gz.finish()?;
    hashing.flush()?;
    hashing.inner.into_inner().map_err(|e| e.into_error())?.sync_all()?;
    Ok(Pack {
        root_hash: hex::encode(Sha256::digest(listing.as_bytes())),
        sha256: hex::encode(hashing.hasher.finalize()),
        size: hashing.len,
    })
}

/// Writes one file entry, returning the SHA-256 of its content.
fn copy_entry(
    out: &mut impl Write,
    path: &str,
    content: &mut impl std::io::Read,
    len: u64,
    epoch: u64,
) -> anyhow::Result<String> {
    out.write_all(&file_header(path, len, epoch))?;
    let mut hasher = Sha256::new();
    let mut buf = vec![0; 1 << 20];
    let mut left = len;
    while left > 0 {
        let n = content.read(&mut buf[..left.min(1 << 20) as usize])?;
        if n == 0 {
            bail!("{path} ended early");
        }
        hasher.update(&buf[..n]);
        out.write_all(&buf[..n])?;
        left -= n as u64;
    }
    out.write_all(&[0u8; BLOCK][..padding(len)])?;
    Ok(hex::encode(hasher.finalize()))
}
