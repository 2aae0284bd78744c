//! The gap-host's use cases over the [`PortalClient`]: a release pulled into a folder, a
//! bootstrap pack exported and downloaded with its `.sha256`, the license file fetched. One
//! entry point each, so that an embedder and `genesis pull / export-pack / license fetch`
//! take the same steps; progress goes to a [`PullProgress`] and what was done comes back as a
//! value for the caller to render.

use std::collections::HashMap;
use std::path::{Path, PathBuf};
use std::time::Duration;

use genesis_bundle::ProgressCounter;
use genesis_bundle::scratch::atomic_write;
use genesis_types::Digest;

use crate::client::{Downloaded, PortalClient, PortalError, Result, io};
use crate::protocol::{Artifact, ArtifactKind, ExportRequest, ExportStatus, ReleaseDetail};

/// What a pull tells its caller while it downloads, for a display: the library prints
/// nothing. Every method does nothing unless implemented; `()` shows nothing at all.
pub trait PullProgress: Sync {
    /// The downloads start. `_bytes` counts the bytes in place, out of the total of every
    /// file (set before this call).
    fn downloads_started(&self, _bytes: ProgressCounter) {}
    /// They ended, whatever their outcome.
    fn downloads_ended(&self) {}
}

impl PullProgress for () {}

/// A release pulled into a folder ([`PortalClient::pull_release`]).
#[derive(Debug, Clone)]
pub struct PulledRelease {
    /// The release as the portal published it.
    pub release: ReleaseDetail,
    /// Each of its files, in the release's order.
    pub files: Vec<PulledFile>,
}

/// One file of a pulled release.
#[derive(Debug, Clone)]
pub struct PulledFile {
    /// The file as the portal published it.
    pub artifact: Artifact,
    /// Where it is now.
    pub path: PathBuf,
    /// Whether it was fetched, resumed or already there.
    pub outcome: Downloaded,
}

/// A bootstrap pack exported and downloaded ([`PortalClient::export_pack`]).
#[derive(Debug, Clone)]
pub struct ExportedPack {
    /// The export as the portal reported it when ready.
    pub status: ExportStatus,
    /// The pack as published.
    pub pack: Artifact,
    /// Where the pack is now.
    pub path: PathBuf,
    /// Its `sha256sum -c` sidecar, beside it.
    pub sha256_file: PathBuf,
}

impl PortalClient {
    /// Pulls every file of release `version` (of `product`, or of the one entitled product
    /// that has that version) into `dir`, created when missing: each one
    /// [`PortalClient::download`]ed (hashed while it streams, resumed after an interruption,
    /// renamed into place only when its SHA-256 matches), then each bundle's `.sha256` sidecar
    /// checked against the digests the portal published, for the bundle and for every further
    /// file it lists (the release evidence report, when the release has one), so that a
    /// release whose metadata and sidecars disagree is not handed on. A listing that names a
    /// file twice or gives one another kind than its name tells is refused before anything is
    /// written.
    ///
    /// A split bundle (decision 0042) is pulled part by part, each part a download of its own
    /// that resumes where it stopped. Its parts manifest comes first and must list exactly the
    /// parts the release publishes, with their published sizes and digests, before any part
    /// is fetched; its `.sha256` then names the whole archive the manifest describes.
    pub async fn pull_release(
        &self,
        version: &str,
        product: Option<&str>,
        dir: &Path,
        progress: &dyn PullProgress,
    ) -> Result<PulledRelease> {
        let release = self.release(version, product).await?;
        check_listing(&release.artifacts)?;
        std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
        let bytes = ProgressCounter::default();
        bytes.set_total(release.artifacts.iter().map(|a| a.size).sum());
        progress.downloads_started(bytes.clone());
        let pulled = self.download_release(&release.artifacts, dir, &bytes).await;
        progress.downloads_ended();
        let (files, split) = pulled?;
        check_sha256_sidecars(dir, &release.artifacts, &split)?;
        Ok(PulledRelease { release, files })
    }

    /// Downloads a release's `artifacts` into `dir`: the parts manifests first, checked
    /// against the listing ([`check_parts_listed`]), then the rest; the files in the listing's
    /// order, and the whole-archive digest of each split bundle, by its archive's name.
    async fn download_release(
        &self,
        artifacts: &[Artifact],
        dir: &Path,
        bytes: &ProgressCounter,
    ) -> Result<(Vec<PulledFile>, HashMap<String, Digest>)> {
        let (manifests, rest): (Vec<&Artifact>, Vec<&Artifact>) =
            artifacts.iter().partition(|a| a.kind == ArtifactKind::PartsManifest);
        let mut files = self.download_each(&manifests, dir, bytes).await?;
        let split = check_parts_listed(dir, artifacts)?;
        files.extend(self.download_each(&rest, dir, bytes).await?);
        let listed: HashMap<&str, usize> = artifacts.iter().enumerate().map(|(i, a)| (a.name.as_str(), i)).collect();
        files.sort_by_key(|f| listed.get(f.artifact.name.as_str()).copied());
        Ok((files, split))
    }

    /// Downloads `artifacts` into `dir` one after the other; a failure names the file.
    async fn download_each(
        &self,
        artifacts: &[&Artifact],
        dir: &Path,
        bytes: &ProgressCounter,
    ) -> Result<Vec<PulledFile>> {
        let mut files = Vec::with_capacity(artifacts.len());
        for &artifact in artifacts {
            let outcome = self
                .download(artifact, dir, bytes)
                .await
                .map_err(|e| PortalError::Download { name: artifact.name.clone(), source: Box::new(e) })?;
            files.push(PulledFile { artifact: artifact.clone(), path: dir.join(&artifact.name), outcome });
        }
        Ok(files)
    }

    /// Has the portal stage the bootstrap pack (seed 003) that `request` names, polls it every
    /// `poll_interval` for at most `timeout`, downloads it into `dir` (created when missing)
    /// like [`PortalClient::pull_release`] does a file, and writes its `sha256sum -c` sidecar
    /// beside it.
    pub async fn export_pack(
        &self,
        request: &ExportRequest,
        dir: &Path,
        poll_interval: Duration,
        timeout: Duration,
        progress: &dyn PullProgress,
    ) -> Result<ExportedPack> {
        std::fs::create_dir_all(dir).map_err(io("creating", dir))?;
        let started = self.start_export(request).await?;
        let (status, pack) = self.wait_for_export(&started.export_id, poll_interval, timeout).await?;
        let bytes = ProgressCounter::default();
        bytes.set_total(pack.size);
        progress.downloads_started(bytes.clone());
        let downloaded = self.download(&pack, dir, &bytes).await;
        progress.downloads_ended();
        downloaded?;
        let path = dir.join(&pack.name);
        // The output folder may be shared: written through a scratch file of this run and
        // renamed, the sidecar never follows a symlink planted at its name to another file.
        let sha256_file = dir.join(format!("{}.sha256", pack.name));
        atomic_write(&sha256_file, format!("{}  {}\n", pack.sha256.hex(), pack.name).as_bytes())
            .map_err(io("writing", &sha256_file))?;
        Ok(ExportedPack { status, pack, path, sha256_file })
    }

    /// Fetches the signed offline license file of the key's organisation
    /// ([`PortalClient::license_file`]) and writes it to `path`, replacing the file there
    /// whole and never writing through a symlink planted at the name.
    pub async fn fetch_license_to(&self, path: &Path) -> Result<()> {
        let bytes = self.license_file().await?;
        atomic_write(path, &bytes).map_err(io("writing", path))
    }
}

/// Checks a release's listing before any of it is written: each file named once (two
/// downloads to one name would leave either), and each of the kind its name tells
/// ([`ArtifactKind::of`]). The checks after the download go by kind: a bundle listed as
/// `other` would skip its `.sha256`, a report listed so would skip being vouched for.
fn check_listing(artifacts: &[Artifact]) -> Result<()> {
    let mut names = std::collections::BTreeSet::new();
    for artifact in artifacts {
        let refuse = |reason: String| PortalError::ListingRefused(format!("{}: {reason}", artifact.name));
        if !names.insert(artifact.name.as_str()) {
            return Err(refuse("listed twice".to_owned()));
        }
        let named = ArtifactKind::of(&artifact.name);
        if artifact.kind != named {
            return Err(refuse(format!("listed as {:?} but its name makes it {named:?}", artifact.kind)));
        }
    }
    // One bundle whole and as parts: nothing would tie the two together.
    if let Some(split) = artifacts.iter().find(|a| {
        a.kind == ArtifactKind::PartsManifest && names.contains(crate::protocol::archive_name_of_entry(&a.name))
    }) {
        return Err(PortalError::ListingRefused(format!(
            "{}: the release lists this bundle both whole and as parts",
            split.name
        )));
    }
    Ok(())
}

/// Checks each parts manifest pulled into `dir` against the listing: it describes the archive
/// its name says, and the parts the release publishes of that archive are exactly the ones it
/// lists, each published with the size and digest it gives. The parts then downloaded are the
/// ones `genesis verify` checks against it, and a part the manifest does not know is never
/// fetched. Returns each manifest's whole-archive digest by the archive's name.
fn check_parts_listed(dir: &Path, artifacts: &[Artifact]) -> Result<HashMap<String, Digest>> {
    let published: HashMap<&str, &Artifact> = artifacts.iter().map(|a| (a.name.as_str(), a)).collect();
    let mut listed_parts = std::collections::BTreeSet::new();
    let mut archives = HashMap::new();
    for entry in artifacts.iter().filter(|a| a.kind == ArtifactKind::PartsManifest) {
        let path = dir.join(&entry.name);
        let refuse = |reason: String| PortalError::ListingRefused(format!("{}: {reason}", entry.name));
        let manifest = genesis_bundle::PartsManifest::read(&path).map_err(|e| refuse(e.to_string()))?;
        let archive = crate::protocol::archive_name_of_entry(&entry.name);
        if manifest.archive.name != archive {
            return Err(refuse(format!("describes {}, not {archive}", manifest.archive.name)));
        }
        for part in &manifest.parts {
            let published = published.get(part.name.as_str()).copied();
            if published.map(|a| &a.sha256) != Some(&part.sha256) {
                return Err(PortalError::ListedFileMismatch {
                    sidecar: path,
                    name: part.name.clone(),
                    listed: part.sha256.clone(),
                    published: published.map(|a| a.sha256.clone()),
                });
            }
            if published.is_some_and(|a| a.size != part.size) {
                return Err(refuse(format!(
                    "lists {} as {} bytes; the release publishes another size",
                    part.name, part.size
                )));
            }
            listed_parts.insert(part.name.clone());
        }
        archives.insert(manifest.archive.name, manifest.archive.sha256);
    }
    if let Some(stray) = artifacts.iter().find(|a| a.kind == ArtifactKind::Part && !listed_parts.contains(&a.name)) {
        return Err(PortalError::ListingRefused(format!(
            "{}: no parts manifest of the release lists this part, so nothing says which bundle it is of",
            stray.name
        )));
    }
    Ok(archives)
}

/// Checks that each bundle's `.sha256` sidecar in `dir`, when there, names the digest the
/// portal published for the bundle (for a split one, the whole archive's digest its parts
/// manifest gave, in `split`, as [`check_parts_listed`] read it), and that each further file it lists (the release evidence report) is
/// published with the digest listed: the files pulled are then the ones `sha256sum -c` and
/// `genesis verify` check. A malformed further line is left to them, but then vouches for
/// nothing: every report must be listed by its own bundle's `.sha256`, as
/// `genesis-portal publish` requires, or it is refused (an earlier build's report, or
/// another bundle's, describes other bytes).
fn check_sha256_sidecars(dir: &Path, artifacts: &[Artifact], split: &HashMap<String, Digest>) -> Result<()> {
    let mut vouched: Vec<(&str, String)> = Vec::new();
    for entry in artifacts.iter().filter(|a| a.kind.is_bundle_entry()) {
        let archive = crate::protocol::archive_name_of_entry(&entry.name);
        let archive_sha256 =
            if entry.kind == ArtifactKind::PartsManifest { split.get(archive) } else { Some(&entry.sha256) };
        // Every manifest's digest was read when its parts were checked against the listing.
        let Some(archive_sha256) = archive_sha256 else { continue };
        let sidecar = dir.join(format!("{archive}.sha256"));
        // A regular file only, and a `sha256sum` line's worth of it: a FIFO or a device at
        // the name would hold or flood the pull.
        let Ok(file) = genesis_bundle::digest_io::open_regular(&sidecar) else { continue };
        let mut text = String::new();
        if std::io::Read::read_to_string(&mut std::io::Read::take(file, 64 << 10), &mut text).is_err() {
            continue;
        }
        let claimed = text.split_whitespace().next().unwrap_or_default();
        if claimed != archive_sha256.hex() {
            return Err(PortalError::SidecarMismatch {
                sidecar,
                published: archive_sha256.clone(),
                claimed: claimed.to_owned(),
            });
        }
        for listed in genesis_trust::listed_files(&text, archive).unwrap_or_default() {
            let published = artifacts.iter().find(|a| a.name == listed.name).map(|a| a.sha256.clone());
            if published.as_ref() != Some(&listed.sha256) {
                return Err(PortalError::ListedFileMismatch {
                    sidecar,
                    name: listed.name,
                    listed: listed.sha256,
                    published,
                });
            }
            vouched.push((archive, listed.name));
        }
    }
    for report in artifacts.iter().filter(|a| a.kind == ArtifactKind::Report) {
        // Its kind says its name is its bundle's followed by `.report.pdf`.
        let bundle = report.name.strip_suffix(".report.pdf").unwrap_or_default();
        if !vouched.iter().any(|(by, name)| *by == bundle && *name == report.name) {
            return Err(PortalError::ListingRefused(format!(
                "{}: {bundle}.sha256 does not list it, so nothing vouches that it is this bundle's report",
                report.name
            )));
        }
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::sync::Mutex;

    use genesis_testkit::http::{StandIn, respond, runtime};

    use super::*;
    use crate::protocol::API;

    const BUNDLE: &[u8] = b"not really a bundle, but bytes with a digest";

    /// What a pull told its display.
    #[derive(Default)]
    struct Recorded {
        events: Mutex<Vec<&'static str>>,
        bytes: Mutex<Option<ProgressCounter>>,
    }

    impl PullProgress for Recorded {
        fn downloads_started(&self, bytes: ProgressCounter) {
            self.events.lock().unwrap().push("started");
            *self.bytes.lock().unwrap() = Some(bytes);
        }

        fn downloads_ended(&self) {
            self.events.lock().unwrap().push("ended");
        }
    }

    fn artifact(name: &str, bytes: &[u8]) -> Artifact {
        Artifact {
            name: name.to_owned(),
            kind: ArtifactKind::of(name),
            size: bytes.len() as u64,
            sha256: genesis_bundle::sha256(bytes),
            download_uri: format!("{API}/releases/genesis/1.0.0/artifacts/{name}"),
        }
    }

    /// The files of release genesis 1.0.0: a bundle, its `.sha256` sidecar, whose text is
    /// `sidecar`, and the `extra` files.
    fn files_of_release(sidecar: String, extra: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
        let mut files = vec![
            ("demo-1.0.0.tar.zst".to_owned(), BUNDLE.to_vec()),
            ("demo-1.0.0.tar.zst.sha256".to_owned(), sidecar.into_bytes()),
        ];
        files.extend(extra.iter().map(|(name, bytes)| ((*name).to_owned(), bytes.to_vec())));
        files
    }

    /// A portal stand-in serving release genesis 1.0.0: `files`, listed as `artifacts`.
    fn portal_listing(files: Vec<(String, Vec<u8>)>, artifacts: Vec<Artifact>) -> StandIn {
        let release = ReleaseDetail {
            product: "genesis".into(),
            version: "1.0.0".into(),
            published: "2025-01-01T00:00:00Z".into(),
            signer: "SHA256:test".into(),
            artifacts,
        };
        let detail = serde_json::to_vec(&release).unwrap();
        StandIn::start(move |request, conn| {
            if request.target == format!("{API}/releases/genesis/1.0.0") {
                return respond(conn, "200 OK", &[("Content-Type", "application/json")], &detail);
            }
            match files.iter().find(|(name, _)| request.target.ends_with(&format!("/artifacts/{name}"))) {
                Some((_, bytes)) => respond(conn, "200 OK", &[], bytes),
                None => respond(conn, "404 Not Found", &[], b"{\"message\":\"no such file\"}"),
            }
        })
    }

    /// A portal stand-in serving release genesis 1.0.0 ([`files_of_release`]), each file
    /// listed as what it is.
    fn portal_of_release(sidecar: String, extra: &[(&str, &[u8])]) -> (StandIn, Vec<Artifact>) {
        let files = files_of_release(sidecar, extra);
        let artifacts: Vec<_> = files.iter().map(|(name, bytes)| artifact(name, bytes)).collect();
        (portal_listing(files, artifacts.clone()), artifacts)
    }

    /// The `.sha256` list of the bundle, then of each of `listed`.
    fn list_of(listed: &[(&str, &[u8])]) -> String {
        let lines = listed.iter().map(|(name, bytes)| format!("{}  {name}\n", genesis_bundle::sha256(bytes).hex()));
        format!("{}  demo-1.0.0.tar.zst\n", genesis_bundle::sha256(BUNDLE).hex()) + &lines.collect::<String>()
    }

    fn client_of(portal: &StandIn) -> PortalClient {
        PortalClient::new(&portal.url(), "sk_test_key", None, false).unwrap()
    }

    #[test]
    fn a_release_is_pulled_whole_with_its_progress_reported_then_found_in_place() {
        let sidecar = format!("{}  demo-1.0.0.tar.zst\n", genesis_bundle::sha256(BUNDLE).hex());
        let (portal, artifacts) = portal_of_release(sidecar, &[]);
        let client = client_of(&portal);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("pulled");
        let runtime = runtime();
        let progress = Recorded::default();
        let pulled = runtime.block_on(client.pull_release("1.0.0", Some("genesis"), &out, &progress)).unwrap();
        assert_eq!(pulled.release.artifacts, artifacts);
        for (file, artifact) in pulled.files.iter().zip(&artifacts) {
            assert_eq!(file.artifact, *artifact);
            assert_eq!(file.outcome, Downloaded::Fetched { resumed_from: 0 });
            assert_eq!(genesis_bundle::digest_io::sha256_file(&file.path).unwrap().digest(), artifact.sha256);
        }
        assert_eq!(*progress.events.lock().unwrap(), ["started", "ended"]);
        let bytes = progress.bytes.lock().unwrap().clone().unwrap();
        let total: u64 = artifacts.iter().map(|a| a.size).sum();
        assert_eq!((bytes.done(), bytes.total()), (total, total), "every byte counted, out of the release's size");

        let again = runtime.block_on(client.pull_release("1.0.0", Some("genesis"), &out, &())).unwrap();
        assert!(again.files.iter().all(|f| f.outcome == Downloaded::AlreadyPresent), "{:?}", again.files);
    }

    #[test]
    fn a_bundle_whose_sidecar_names_another_digest_is_not_handed_on() {
        let (portal, _) = portal_of_release(format!("{}  demo-1.0.0.tar.zst\n", "0".repeat(64)), &[]);
        let dir = tempfile::tempdir().unwrap();
        let pulled = runtime().block_on(client_of(&portal).pull_release("1.0.0", Some("genesis"), dir.path(), &()));
        let error = pulled.unwrap_err();
        assert!(matches!(error, PortalError::SidecarMismatch { .. }), "{error}");
        assert!(error.to_string().contains("demo-1.0.0.tar.zst.sha256: the download does not match"), "{error}");
    }

    /// The release evidence report the `.sha256` lists is pulled with the bundle; a list that
    /// names a report the release does not publish, or another one, is not handed on.
    #[test]
    fn a_report_the_sidecar_lists_is_pulled_and_one_published_otherwise_is_refused() {
        const REPORT: &[u8] = b"%PDF-1.7 the release evidence report";
        let report = "demo-1.0.0.tar.zst.report.pdf";
        let sidecar = |report_bytes: &[u8]| {
            let bundle = genesis_bundle::sha256(BUNDLE);
            format!("{}  demo-1.0.0.tar.zst\n{}  {report}\n", bundle.hex(), genesis_bundle::sha256(report_bytes).hex())
        };
        let (portal, artifacts) = portal_of_release(sidecar(REPORT), &[(report, REPORT)]);
        assert_eq!(artifacts[2].kind, ArtifactKind::Report);
        let dir = tempfile::tempdir().unwrap();
        let pulled = runtime().block_on(client_of(&portal).pull_release("1.0.0", Some("genesis"), dir.path(), &()));
        assert_eq!(pulled.unwrap().files.len(), 3);
        assert_eq!(std::fs::read(dir.path().join(report)).unwrap(), REPORT);

        for (listed, published) in [(b"another report".as_slice(), vec![(report, REPORT)]), (REPORT, vec![])] {
            let (portal, _) = portal_of_release(sidecar(listed), &published);
            let dir = tempfile::tempdir().unwrap();
            let pulled = runtime().block_on(client_of(&portal).pull_release("1.0.0", Some("genesis"), dir.path(), &()));
            let error = pulled.unwrap_err();
            assert!(matches!(&error, PortalError::ListedFileMismatch { name, .. } if name == report), "{error}");
            assert!(error.to_string().contains("the release's files disagree"), "{error}");
        }
    }

    /// A report its bundle's `.sha256` does not list is vouched for by nothing (an earlier
    /// build's, or another bundle's): `genesis-portal publish` refuses it, and a pull from a
    /// portal that lists one anyway refuses it too.
    #[test]
    fn a_report_its_bundles_sidecar_does_not_list_is_refused() {
        const REPORT: &[u8] = b"%PDF-1.7 an earlier build's report";
        let report = "demo-1.0.0.tar.zst.report.pdf";
        for sidecar in [list_of(&[]), list_of(&[("demo-1.0.0.tar.zst.notes.txt", b"notes")])] {
            let extra: [(&str, &[u8]); 2] = [(report, REPORT), ("demo-1.0.0.tar.zst.notes.txt", b"notes")];
            let (portal, _) = portal_of_release(sidecar.clone(), &extra);
            let dir = tempfile::tempdir().unwrap();
            let pulled = runtime().block_on(client_of(&portal).pull_release("1.0.0", Some("genesis"), dir.path(), &()));
            let error = pulled.unwrap_err();
            assert!(matches!(error, PortalError::ListingRefused(_)), "{sidecar}: {error}");
            assert!(
                error.to_string().contains(&format!("{report}: demo-1.0.0.tar.zst.sha256 does not list it")),
                "{error}"
            );
            assert_eq!(genesis_types::Classify::class(&error), genesis_types::ErrorClass::Verdict, "{error}");
        }
    }

    /// The files of a release of bundle demo 1.0.0 split in two parts: the parts manifest,
    /// then each part as `parts` gives it (name and bytes, the manifest listing the first two).
    fn split_release(parts: &[(&str, &[u8])]) -> Vec<(String, Vec<u8>)> {
        use genesis_bundle::{PARTS_SCHEMA, PartEntry, PartsManifest, WholeArchive};
        let listed = &parts[..2];
        let whole: Vec<u8> = listed.iter().flat_map(|(_, bytes)| bytes.to_vec()).collect();
        let manifest = PartsManifest {
            schema: PARTS_SCHEMA.into(),
            archive: WholeArchive {
                name: "demo-1.0.0.tar.zst".into(),
                size: whole.len() as u64,
                sha256: genesis_bundle::sha256(&whole),
            },
            bom: genesis_bundle::sha256(b"bom"),
            parts: listed
                .iter()
                .map(|(name, bytes)| PartEntry {
                    name: (*name).into(),
                    size: bytes.len() as u64,
                    sha256: genesis_bundle::sha256(bytes),
                })
                .collect(),
        };
        let mut files = vec![("demo-1.0.0.tar.zst.parts.json".to_owned(), manifest.to_bytes())];
        files.extend(parts.iter().map(|(name, bytes)| ((*name).to_owned(), bytes.to_vec())));
        files
    }

    /// A split bundle's parts manifest is fetched first and must list exactly the parts the
    /// release publishes, with their digests: a part published with other bytes, or one the
    /// manifest does not list, refuses the release before any part is downloaded.
    #[test]
    fn a_split_release_whose_listing_and_manifest_disagree_is_refused_before_any_part_is_fetched() {
        let (p0, p1) = ("demo-1.0.0.tar.zst.part-000", "demo-1.0.0.tar.zst.part-001");
        let files = split_release(&[(p0, b"first part"), (p1, b"second part")]);
        let artifacts: Vec<_> = files.iter().map(|(name, bytes)| artifact(name, bytes)).collect();
        let dir = tempfile::tempdir().unwrap();
        let pulled = runtime()
            .block_on(client_of(&portal_listing(files, artifacts)).pull_release(
                "1.0.0",
                Some("genesis"),
                dir.path(),
                &(),
            ))
            .unwrap();
        let names: Vec<&str> = pulled.files.iter().map(|f| f.artifact.name.as_str()).collect();
        assert_eq!(names, ["demo-1.0.0.tar.zst.parts.json", p0, p1], "in the listing's order");
        assert_eq!(std::fs::read(dir.path().join(p1)).unwrap(), b"second part");

        let mut swapped = split_release(&[(p0, b"first part"), (p1, b"second part")]);
        swapped[2].1 = b"another bundle's part".to_vec();
        let stray = split_release(&[(p0, b"first part"), (p1, b"second part"), ("demo-1.0.0.tar.zst.part-002", b"x")]);
        let mut both_forms = split_release(&[(p0, b"first part"), (p1, b"second part")]);
        both_forms.push(("demo-1.0.0.tar.zst".into(), b"first partsecond part".to_vec()));
        for (files, expected) in [
            (swapped, "lists demo-1.0.0.tar.zst.part-001 as sha256:"),
            (stray, "demo-1.0.0.tar.zst.part-002: no parts manifest of the release lists this part"),
            (both_forms, "demo-1.0.0.tar.zst.parts.json: the release lists this bundle both whole and as parts"),
        ] {
            let artifacts: Vec<_> = files.iter().map(|(name, bytes)| artifact(name, bytes)).collect();
            let dir = tempfile::tempdir().unwrap();
            let portal = portal_listing(files, artifacts);
            let client = client_of(&portal);
            let error = runtime().block_on(client.pull_release("1.0.0", Some("genesis"), dir.path(), &())).unwrap_err();
            assert!(error.to_string().contains(expected), "{error}");
            assert_eq!(genesis_types::Classify::class(&error), genesis_types::ErrorClass::Verdict, "{error}");
            let fetched: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
            assert!(fetched.iter().all(|n| n == "demo-1.0.0.tar.zst.parts.json"), "no part fetched: {fetched:?}");
        }
    }

    /// Two entries of one name would both download to it, leaving either: the listing is
    /// refused before anything is written.
    #[test]
    fn a_listing_that_names_a_file_twice_is_refused_before_anything_is_written() {
        let files = files_of_release(list_of(&[]), &[]);
        let mut artifacts: Vec<_> = files.iter().map(|(name, bytes)| artifact(name, bytes)).collect();
        artifacts.push(artifacts[0].clone());
        let portal = portal_listing(files, artifacts);
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("pulled");
        let pulled = runtime().block_on(client_of(&portal).pull_release("1.0.0", Some("genesis"), &out, &()));
        let error = pulled.unwrap_err();
        assert!(matches!(error, PortalError::ListingRefused(_)), "{error}");
        assert!(error.to_string().contains("demo-1.0.0.tar.zst: listed twice"), "{error}");
        assert!(!out.exists(), "nothing is written");
    }

    /// The client tells a file's kind by its name, as the portal does: a bundle listed as
    /// `other` (whose `.sha256` would go unread) or a report listed so (which would need no
    /// list to vouch for it) refuses the listing before anything is written.
    #[test]
    fn a_file_listed_as_another_kind_than_its_name_tells_is_refused_before_anything_is_written() {
        const REPORT: &[u8] = b"%PDF-1.7 a report no list names";
        let wrong_digest = format!("{}  demo-1.0.0.tar.zst\n", "0".repeat(64));
        for (sidecar, extra, relabelled) in [
            (wrong_digest, vec![], "demo-1.0.0.tar.zst"),
            (list_of(&[]), vec![("demo-1.0.0.tar.zst.report.pdf", REPORT)], "demo-1.0.0.tar.zst.report.pdf"),
        ] {
            let files = files_of_release(sidecar, &extra);
            let mut artifacts: Vec<_> = files.iter().map(|(name, bytes)| artifact(name, bytes)).collect();
            for artifact in artifacts.iter_mut().filter(|a| a.name == relabelled) {
                artifact.kind = ArtifactKind::Other;
            }
            let portal = portal_listing(files, artifacts);
            let dir = tempfile::tempdir().unwrap();
            let out = dir.path().join("pulled");
            let pulled = runtime().block_on(client_of(&portal).pull_release("1.0.0", Some("genesis"), &out, &()));
            let error = pulled.unwrap_err();
            assert!(matches!(error, PortalError::ListingRefused(_)), "{relabelled}: {error}");
            assert!(
                error.to_string().contains(&format!("{relabelled}: listed as Other but its name makes it")),
                "{error}"
            );
            assert!(!out.exists(), "nothing is written");
        }
    }
}
