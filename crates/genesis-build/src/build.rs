//! The build: resolve every input the spec names, write the BOM, sign it (or check a release
//! pipeline's signatures over it), pack the archive, then write the `.sha256`, `.sig` and
//! `.cosign.bundle` sidecars, and on request the release evidence report. Output files appear
//! atomically.

use std::collections::{BTreeMap, BTreeSet};
use std::fs;
use std::io::{BufWriter, Write};
use std::path::{Path, PathBuf};

use genesis_bundle::scratch::{AtomicFile, Durability, Mode};
use genesis_bundle::{
    BOM_SCHEMA, Bom, ChartEntry, Compression, Content, FileDigest, FileEntry, ImageEntry, ManifestEntry, SbomEntry,
    WriteOptions, rfc3339, sha256, write_signed_bundle,
};
#[cfg(feature = "pull")]
use genesis_registry::RegistryOptions;
use genesis_trust::cosign_image::Signers;
use genesis_trust::provenance::IN_TOTO_PAYLOAD_TYPE;
use genesis_trust::sigstore::pae;
use genesis_trust::{PrivateKey, PublicKey, SignatureSidecars};
use genesis_types::{BundlePath, Descriptor, Digest, ImageIndex, annotations, media_types};

use crate::chart::read_chart;
use crate::delta::{Base, BaseCheck};
use crate::image_refs::{FoundImage, images_in_yaml, unbundled};
use crate::layout::{Layout, ResolvedImage};
use crate::remote::{Pulled, default_cache_dir, hosts};
use crate::signing::{ExternalSignatures, Prepared, Signing};
use crate::spec::{BundleSpec, ImageSource, ImageSpec};
use crate::{BuildError, Result};

/// Settings that come from the environment or command line rather than the spec.
#[derive(Debug, Clone, Default)]
pub struct BuildOptions {
    /// `SOURCE_DATE_EPOCH` from the environment; overrides the spec's field.
    pub source_date_epoch: Option<u64>,
    /// Overrides `spec.output.dir`.
    pub output_dir: Option<PathBuf>,
    /// Counts payload bytes as they are packed, for a progress display.
    pub progress: genesis_bundle::ProgressCounter,
    /// Where registry sources are pulled and narrowed indexes are written
    /// ([`default_cache_dir`] when unset).
    pub cache_dir: Option<PathBuf>,
    /// Keys and keyless identities that must have signed each source image (cosign, in its
    /// registry) before it is pulled; a missing or untrusted signature stops the build, and an
    /// image from a local layout, which has no registry signature, is refused.
    pub signers: Option<Signers>,
    /// How to reach each registry and chart repository the spec pulls from, by host as
    /// [`hosts`] names it; a host not listed is reached with the defaults (TLS with the system
    /// roots, no credentials).
    #[cfg(feature = "pull")]
    pub registries: BTreeMap<String, RegistryOptions>,
    /// Also write the release evidence report, `ARCHIVE.report.pdf`, made from the archive
    /// just written, verified in full with the builder's public key as a recipient would
    /// verify it, and listed in the `.sha256` after the archive. [`build_external`] refuses
    /// it: the report describes the archive's own signature, which the pipeline makes after
    /// the build (`genesis report` writes it then).
    pub report: bool,
    /// When the bundle expires: written into its BOM as `expires`, signed with it, and
    /// verifiers refuse the bundle from then on.
    pub expires: Option<Expiry>,
    /// Run the vulnerability gate on the images' packages and record its verdict in the
    /// BOM; a build whose gate fails writes nothing.
    pub scan: Option<crate::scan::ScanOptions>,
    /// Skip the package inventory of the images, and with it their package SBOMs
    /// (`sbom/images/*.packages.cdx.json`); the bundle SBOM of images, charts and manifests
    /// is still written. For a vendor whose images are scanned by other means, and to measure
    /// what the inventory adds to a build. `genesis scan` fails such a bundle, as it cannot
    /// judge packages nobody listed, and for the same reason the build refuses it with
    /// [`BuildOptions::scan`] ([`BuildOptions::validate`]).
    pub skip_package_sboms: bool,
    /// Build a delta against this earlier bundle (`--base`; an archive, or a split one's parts
    /// manifest or a part; decision 0043): every layer and config it carries is left out and
    /// listed in the BOM as required at the destination. It is verified first as a loader
    /// verifies it, against the signer this build signs as ([`build`]: the key's public half;
    /// [`build_external`]: the pipeline's key or keyless identities), so a delta names only a
    /// base its own vendor signed; [`prepare`], which holds no signer, reads its head only, and
    /// the [`build_external`] that follows checks it. A base that shares no layer or config
    /// with the build gives a full bundle.
    pub base: Option<PathBuf>,
}

impl BuildOptions {
    /// Refuses options that contradict each other. [`build`] calls it first; a caller that
    /// asks for something before building (a key's password) can call it before that.
    pub fn validate(&self) -> Result<()> {
        if self.skip_package_sboms && self.scan.is_some() {
            return Err(BuildError::input(
                "--skip-package-sboms",
                "cannot go with --scan-db: the vulnerability gate judges the package inventory this skips; \
                 drop one of the two",
            ));
        }
        Ok(())
    }
}

/// When a bundle expires (`bundle-builder create --expires`): a date, or a time after the
/// BOM's `created`. The latter comes from `SOURCE_DATE_EPOCH` like `created`, never from the
/// clock, so the same inputs still give the same bytes. Parsed from `2027-01-01T00:00:00Z`
/// (any RFC 3339 date-time) or a whole number of seconds, minutes, hours, days or weeks
/// (`3600s`, `90m`, `12h`, `90d`, `2w`).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Expiry {
    /// At this time, in seconds since the Unix epoch.
    At(u64),
    /// This many seconds after the BOM's `created`.
    After(u64),
}

impl std::str::FromStr for Expiry {
    type Err = String;

    fn from_str(text: &str) -> std::result::Result<Expiry, String> {
        if let Some(at) = genesis_bundle::parse_rfc3339(text) {
            return Ok(Expiry::At(at));
        }
        let refused =
            || format!("{text:?} is neither an RFC 3339 date (2027-01-01T00:00:00Z) nor a duration (90d, 12h, 2w)");
        let Some((last, _)) = text.char_indices().next_back() else { return Err(refused()) };
        let (count, unit) = text.split_at(last);
        let unit = match unit {
            "s" => 1,
            "m" => 60,
            "h" => 3600,
            "d" => 86_400,
            "w" => 7 * 86_400,
            _ => return Err(refused()),
        };
        if count.is_empty() || !count.bytes().all(|b| b.is_ascii_digit()) {
            return Err(refused());
        }
        match count.parse::<u64>().ok().and_then(|n| n.checked_mul(unit)) {
            Some(0) => Err(format!("{text:?} is no time at all: a bundle would expire as it is built")),
            Some(seconds) if seconds <= genesis_bundle::LAST_RFC3339_SECOND => Ok(Expiry::After(seconds)),
            _ => Err(format!("{text:?} ends after 9999-12-31T23:59:59Z, the last date a BOM can state")),
        }
    }
}

impl Expiry {
    /// The date it names for a BOM `created` at `created`, RFC 3339; refused unless it is
    /// after `created` and a date RFC 3339 can state.
    fn date(self, created: u64) -> Result<String> {
        let refused = |reason: String| BuildError::input("--expires", reason);
        let at = match self {
            Expiry::At(at) => at,
            Expiry::After(seconds) => created.saturating_add(seconds),
        };
        if at <= created {
            return Err(refused(format!(
                "{} is not after the bundle's created time {} (SOURCE_DATE_EPOCH): the bundle would expire as it is built",
                rfc3339(at),
                rfc3339(created)
            )));
        }
        if at > genesis_bundle::LAST_RFC3339_SECOND {
            return Err(refused(format!(
                "{} is after 9999-12-31T23:59:59Z, the last date a BOM can state",
                rfc3339(at)
            )));
        }
        Ok(rfc3339(at))
    }
}

/// What a build produced.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct BuildOutput {
    /// The archive.
    pub archive: PathBuf,
    /// `ARCHIVE.sha256`.
    pub sha256_file: PathBuf,
    /// `ARCHIVE.sig`; none from [`build_external`], where the pipeline signs the archive.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signature_file: Option<PathBuf>,
    /// `ARCHIVE.cosign.bundle`: the same signature as a key-signed sigstore bundle; none from
    /// [`build_external`].
    #[serde(skip_serializing_if = "Option::is_none")]
    pub cosign_bundle_file: Option<PathBuf>,
    /// `ARCHIVE.report.pdf`, the release evidence report, when [`BuildOptions::report`] asked
    /// for it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub report_file: Option<PathBuf>,
    /// SHA-256 of the archive.
    pub sha256: Digest,
    /// Size of the archive.
    pub size: u64,
    /// SHA-256 of the BOM.
    pub bom_sha256: Digest,
    /// When the bundle expires, as its BOM states it; absent when it does not.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Payload files.
    pub files: usize,
    /// Payload bytes.
    pub payload_bytes: u64,
    /// For a delta bundle: the base it needs and the blobs it leaves out (count, bytes);
    /// absent for a full bundle.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub requires: Option<genesis_bundle::RequiresSummary>,
}

/// Everything a bundle will contain, before packing.
struct Plan {
    bom: Bom,
    contents: BTreeMap<BundlePath, Content>,
    /// Each image's platform manifests, for the SBOM.
    platform_manifests: BTreeMap<String, Vec<(genesis_types::Platform, Digest)>>,
}

fn bundle_path(s: &str, origin: &Path) -> Result<BundlePath> {
    let p: BundlePath = s.parse().map_err(|e| BuildError::input(origin, format!("{e}")))?;
    genesis_bundle::check_encodable(p.as_str()).map_err(|e| BuildError::input(origin, e.to_string()))?;
    Ok(p)
}

impl Plan {
    fn add(&mut self, path: BundlePath, size: u64, sha256: Digest, content: Content, origin: &Path) -> Result<()> {
        if self.contents.contains_key(&path) {
            return Err(BuildError::input(origin, format!("{path} is already in the bundle from another input")));
        }
        self.bom.files.push(FileEntry { path: path.clone(), size, sha256 });
        self.contents.insert(path, content);
        Ok(())
    }

    fn add_file(&mut self, path: BundlePath, source: &Path) -> Result<()> {
        let file = genesis_bundle::digest_io::sha256_file(source)
            .map_err(|e| BuildError::input(source, format!("unreadable: {e}")))?;
        self.add(path, file.len, file.digest(), Content::File(source.to_owned()), source)
    }

    fn add_bytes(&mut self, path: &str, bytes: Vec<u8>) -> Result<()> {
        let p = bundle_path(path, Path::new(path))?;
        let digest = sha256(&bytes);
        self.add(p, bytes.len() as u64, digest, Content::Bytes(bytes), Path::new(path))
    }
}

fn plan(
    spec: &BundleSpec,
    epoch: u64,
    expires: Option<String>,
    options: &BuildOptions,
    pulled: &Pulled,
    cache: &Path,
    base: Option<&Base>,
) -> Result<Plan> {
    let mut plan = Plan {
        bom: Bom {
            schema: BOM_SCHEMA.into(),
            name: spec.metadata.name.to_string(),
            version: spec.metadata.version.to_string(),
            created: rfc3339(epoch),
            expires,
            files: Vec::new(),
            images: Vec::new(),
            charts: Vec::new(),
            manifests: Vec::new(),
            sboms: Vec::new(),
            scan: None,
            requires: None,
        },
        contents: BTreeMap::new(),
        platform_manifests: BTreeMap::new(),
    };
    let inventories = plan_images(spec, &mut plan, pulled, cache, options.skip_package_sboms, base)?;
    let mut found = plan_charts(spec, &mut plan, pulled)?;
    found.extend(plan_manifests(spec, &mut plan)?);
    check_images_bundled(spec, &plan.bom, &found)?;
    plan.bom.files.sort_by(|a, b| a.path.cmp(&b.path));
    plan.bom.manifests.sort_by(|a, b| a.path.cmp(&b.path));
    let package_sboms = crate::sbom::package_sboms(&plan.bom, &inventories);
    let sbom = crate::sbom::bundle_sbom(&plan.bom, &plan.platform_manifests, &package_sboms);
    plan.add_bytes(crate::sbom::BUNDLE_SBOM_PATH, sbom)?;
    plan.bom.sboms.push(SbomEntry {
        path: bundle_path(crate::sbom::BUNDLE_SBOM_PATH, Path::new(crate::sbom::BUNDLE_SBOM_PATH))?,
        media_type: crate::sbom::CYCLONEDX_JSON.into(),
        describes: "bundle".into(),
    });
    for package_sbom in package_sboms {
        let path = bundle_path(&package_sbom.path, Path::new(&package_sbom.path))?;
        plan.add_bytes(&package_sbom.path, package_sbom.document)?;
        plan.bom.sboms.push(SbomEntry {
            path,
            media_type: crate::sbom::CYCLONEDX_JSON.into(),
            describes: package_sbom.image,
        });
    }
    if let Some(scan) = &options.scan {
        plan.bom.scan = Some(crate::scan::gate(&plan.bom, &inventories, scan, &plan.bom.created)?);
    }
    plan.bom.files.sort_by(|a, b| a.path.cmp(&b.path));
    plan.bom.validate()?;
    Ok(plan)
}

/// Adds every chart of the spec to the plan, checking that each is the chart the spec
/// names; returns the images their default values refer to.
fn plan_charts(spec: &BundleSpec, plan: &mut Plan, pulled: &Pulled) -> Result<Vec<FoundImage>> {
    let mut found = Vec::new();
    for chart in &spec.spec.charts {
        let source = match &chart.source {
            crate::spec::ChartSource::Path(p) => spec.resolve(p),
            _ => pulled.charts.get(chart.name.as_str()).cloned().ok_or_else(|| {
                BuildError::input(
                    chart.source.describe(),
                    format!("chart {} was not pulled (run the pull step first)", chart.name),
                )
            })?,
        };
        let contents = read_chart(&source)?;
        if let Some(values) = &contents.values {
            let name = format!("charts/{} values.yaml", chart_file_name(&source));
            found.extend(
                images_in_yaml(values, &name)
                    .map_err(|e| BuildError::input(&source, format!("values.yaml: invalid YAML: {e}")))?,
            );
        }
        let meta = contents.meta;
        if meta.name != chart.name.as_str() {
            return Err(BuildError::input(
                &source,
                format!("the spec calls this chart {:?} but its Chart.yaml says {:?}", chart.name.as_str(), meta.name),
            ));
        }
        let path = bundle_path(&format!("charts/{}", chart_file_name(&source)), &source)?;
        plan.add_file(path.clone(), &source)?;
        plan.bom.charts.push(ChartEntry {
            name: meta.name,
            version: Some(meta.version),
            source: chart.source.describe(),
            path,
        });
    }
    Ok(found)
}

/// Adds every manifest file of the spec to the plan, each checked to be YAML; returns the
/// images they refer to.
fn plan_manifests(spec: &BundleSpec, plan: &mut Plan) -> Result<Vec<FoundImage>> {
    let mut found = Vec::new();
    for m in &spec.spec.manifests {
        let source = spec.resolve(&m.path);
        for (rel, file) in manifest_files(&source)? {
            found.extend(check_yaml(&file, &format!("manifests/{rel}"))?);
            let path = bundle_path(&format!("manifests/{rel}"), &file)?;
            plan.add_file(path.clone(), &file)?;
            plan.bom.manifests.push(ManifestEntry { path });
        }
    }
    Ok(found)
}

/// One image manifest or index the bundle carries under `oci/`: a spec image, a referrer
/// of one (a signature, an SBOM, an attestation) or its cosign signature.
struct CarriedImage {
    /// Its name in the BOM.
    name: String,
    /// The source text of the spec image it belongs to.
    source: String,
    resolved: ResolvedImage,
    /// The reference it is known by (`reference` in the BOM, `ref.name` in `index.json`).
    reference: String,
}

/// Adds every image of the spec to the plan: each in the BOM and the bundle's OCI layout
/// (`oci/index.json` and every blob once), with its referrers and signature. Returns the
/// packages of each spec image, per platform; none with `skip_inventory`. With a `base`, the
/// layers and configs it holds are left out of the layout and required of it in the BOM
/// (decision 0043).
fn plan_images(
    spec: &BundleSpec,
    plan: &mut Plan,
    pulled: &Pulled,
    cache: &Path,
    skip_inventory: bool,
    base: Option<&Base>,
) -> Result<Vec<crate::inventory::ImageInventory>> {
    if spec.spec.images.is_empty() {
        return Ok(Vec::new());
    }
    let mut carried = Vec::new();
    for image in &spec.spec.images {
        carried.extend(carried_images(spec, image, plan, pulled, cache)?);
    }
    let inventories = if skip_inventory {
        Vec::new()
    } else {
        // Only the spec's own images hold filesystems: their referrers and signatures do not.
        crate::inventory::inventory_images(
            carried
                .iter()
                .filter(|c| spec.spec.images.iter().any(|image| image.name.as_str() == c.name))
                .map(|c| (c.name.as_str(), &c.resolved)),
        )?
    };
    let mut blobs: BTreeMap<Digest, (u64, PathBuf)> = BTreeMap::new();
    let mut manifests: BTreeSet<Digest> = BTreeSet::new();
    let mut index = ImageIndex {
        schema_version: 2,
        media_type: Some(media_types::OCI_INDEX.into()),
        manifests: Vec::new(),
        annotations: BTreeMap::new(),
    };
    for CarriedImage { name, source, resolved, reference } in carried {
        let top = Descriptor {
            annotations: BTreeMap::from([(annotations::REF_NAME.to_owned(), reference.clone())]),
            platform: None,
            ..resolved.top.clone()
        };
        plan.platform_manifests.insert(name.clone(), resolved.platform_manifests.clone());
        plan.bom.images.push(ImageEntry {
            name,
            source,
            reference,
            digest: top.digest.clone(),
            source_digest: resolved.source_digest.clone(),
            media_type: top.media_type.clone(),
            platforms: resolved.platforms.iter().map(ToString::to_string).collect(),
        });
        index.manifests.push(top);
        blobs.extend(resolved.blobs);
        manifests.extend(resolved.manifests);
    }
    let blobs = match base {
        Some(base) => {
            let (carried, requires) = crate::delta::split_blobs(blobs, &manifests, base)?;
            match &requires {
                Some(r) => {
                    tracing::info!(base = %r.base, blobs = r.blobs.len(), bytes = r.bytes(), "delta: blobs of the base left out")
                }
                None => {
                    tracing::warn!(base = %base.bundle, "the base holds no layer or config of this build: a full bundle")
                }
            }
            plan.bom.requires = requires;
            carried
        }
        None => blobs,
    };
    add_blobs(plan, blobs)?;
    let mut index_json = serde_json::to_vec_pretty(&index).expect("an index always serialises");
    index_json.push(b'\n');
    plan.add_bytes("oci/index.json", index_json)?;
    plan.add_bytes("oci/oci-layout", b"{\"imageLayoutVersion\":\"1.0.0\"}\n".to_vec())?;
    Ok(inventories)
}

/// Where a spec image is read from: the spec's OCI layout, or the pull cache for a registry
/// source. Returns that store, the image's top descriptor in it, and the reference manifests
/// use for it.
fn locate_image(
    spec: &BundleSpec,
    image: &ImageSpec,
    pulled: &Pulled,
    cache: &Path,
) -> Result<(Layout, Descriptor, String)> {
    match &image.image {
        ImageSource::OciLayout { dir, reference, .. } => {
            let dir = spec.resolve(dir);
            let layout = Layout::open(&dir)?;
            let top = layout.find(reference.as_deref())?;
            let Some(r) = &image.reference else {
                return Err(BuildError::input(
                    &dir,
                    format!(
                        "image {}: `ref` is required for an oci: source (it is the name manifests use)",
                        image.name
                    ),
                ));
            };
            Ok((layout, top, r.parsed.to_string()))
        }
        ImageSource::Registry { reference, text } => {
            let top = pulled.images.get(text).cloned().ok_or_else(|| {
                BuildError::input(
                    cache,
                    format!("image {}: {text} was not pulled (run the pull step first)", image.name),
                )
            })?;
            let canonical = image.reference.as_ref().map_or_else(|| reference.to_string(), |r| r.parsed.to_string());
            Ok((Layout::store(cache), top, canonical))
        }
    }
}

/// A spec image and what travels with it: the referrers the pull step found (an SBOM among
/// them also goes into the plan as a file under `sbom/images/`) and its cosign signature.
fn carried_images(
    spec: &BundleSpec,
    image: &ImageSpec,
    plan: &mut Plan,
    pulled: &Pulled,
    cache: &Path,
) -> Result<Vec<CarriedImage>> {
    let (store, top, canonical) = locate_image(spec, image, pulled, cache)?;
    // Signatures and referrers land in the same repository as the image.
    let r = canonical_ref(&canonical)?;
    let platforms: Vec<_> = image.platforms.iter().map(|p| p.0.clone()).collect();
    let resolved = store.resolve(&top, &platforms, cache)?;
    let source = image.image.text();
    let mut carried =
        vec![CarriedImage { name: image.name.to_string(), source: source.to_owned(), resolved, reference: canonical }];
    for referrer in pulled.referrers.get(source).into_iter().flatten() {
        let by_digest = format!("{}/{}@{}", r.registry(), r.repository(), referrer.digest);
        let name = format!("{}.referrer-{}", image.name, &referrer.digest.hex()[..12]);
        let resolved = Layout::store(cache).resolve(referrer, &[], cache)?;
        if let Some(sbom) = crate::sbom::carried_sbom(referrer, &resolved)? {
            let path = format!("sbom/images/{}.{}{}", image.name, &referrer.digest.hex()[..12], sbom.extension);
            let path = bundle_path(&path, &sbom.file)?;
            plan.add(path.clone(), sbom.size, sbom.digest.clone(), Content::File(sbom.file.clone()), &sbom.file)?;
            plan.bom.sboms.push(SbomEntry { path, media_type: sbom.media_type, describes: image.name.to_string() });
        }
        carried.push(CarriedImage { name, source: source.to_owned(), resolved, reference: by_digest });
    }
    if let Some(sig) = pulled.signatures.get(source) {
        let tag = format!("{}-{}.sig", top.digest.algorithm().name(), top.digest.hex());
        carried.push(CarriedImage {
            name: format!("{}.sig", image.name),
            source: source.to_owned(),
            resolved: Layout::store(cache).resolve(sig, &[], cache)?,
            reference: format!("{}/{}:{tag}", r.registry(), r.repository()),
        });
    }
    Ok(carried)
}

/// Adds each blob of the bundle's OCI layout once, as `oci/blobs/ALG/HEX`.
fn add_blobs(plan: &mut Plan, blobs: BTreeMap<Digest, (u64, PathBuf)>) -> Result<()> {
    for (digest, (size, source)) in blobs {
        let path = bundle_path(&format!("oci/{}", digest.blob_path()), &source)?;
        // A sha256 blob is named by its digest; the writer checks the bytes while packing,
        // so the input is read once. Other algorithms are hashed here.
        if digest.algorithm() == genesis_types::Algorithm::Sha256 {
            plan.add(path, size, digest, Content::File(source.clone()), &source)?;
        } else {
            plan.add_file(path, &source)?;
        }
    }
    Ok(())
}

fn chart_file_name(path: &Path) -> String {
    path.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default()
}

fn canonical_ref(s: &str) -> Result<genesis_types::ImageReference> {
    s.parse().map_err(|e| BuildError::input(s, format!("{e}")))
}

/// The manifest files under `source` (a file, or a folder walked in sorted order), each
/// with its path relative to the folder: what a spec's `manifests` entry names, in the order
/// the bundle carries them.
pub fn manifest_files(source: &Path) -> Result<Vec<(String, PathBuf)>> {
    let meta = fs::metadata(source).map_err(|e| BuildError::input(source, format!("unreadable: {e}")))?;
    if meta.is_file() {
        let name = source.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        return Ok(vec![(name, source.to_owned())]);
    }
    let mut out = Vec::new();
    let mut stack = vec![(String::new(), source.to_owned())];
    while let Some((prefix, dir)) = stack.pop() {
        let mut entries: Vec<_> = fs::read_dir(&dir)
            .map_err(|e| BuildError::input(&dir, format!("unreadable: {e}")))?
            .collect::<std::io::Result<_>>()
            .map_err(|e| BuildError::input(&dir, format!("unreadable: {e}")))?;
        entries.sort_by_key(|e| e.file_name());
        for e in entries {
            let name =
                e.file_name().into_string().map_err(|n| BuildError::input(dir.join(&n), "file name is not UTF-8"))?;
            let rel = if prefix.is_empty() { name.clone() } else { format!("{prefix}/{name}") };
            let path = e.path();
            let meta = fs::metadata(&path).map_err(|err| BuildError::input(&path, format!("unreadable: {err}")))?;
            if meta.is_dir() {
                stack.push((rel, path));
            } else if [".yaml", ".yml", ".json"].iter().any(|x| name.ends_with(x)) {
                out.push((rel, path));
            }
        }
    }
    out.sort();
    if out.is_empty() {
        return Err(BuildError::input(source, "no .yaml, .yml or .json files"));
    }
    Ok(out)
}

/// Refuses a manifest that is not valid YAML, naming the line, so the mistake surfaces at
/// build time rather than in the secure room; returns the images it refers to.
fn check_yaml(path: &Path, name: &str) -> Result<Vec<FoundImage>> {
    let text = fs::read_to_string(path).map_err(|e| BuildError::input(path, format!("unreadable: {e}")))?;
    images_in_yaml(&text, name).map_err(|e| BuildError::input(path, format!("invalid YAML: {e}")))
}

/// The sweep: fails the build when a manifest or chart refers to an image the bundle does
/// not carry and the spec does not exempt.
fn check_images_bundled(spec: &BundleSpec, bom: &Bom, found: &[FoundImage]) -> Result<()> {
    let bundled: Vec<_> =
        bom.images.iter().filter_map(|i| Some((i.reference.parse().ok()?, i.digest.clone()))).collect();
    let allowed: Vec<_> = spec.spec.allow_unbundled_images.iter().map(|r| r.parsed.clone()).collect();
    let missing: Vec<String> =
        unbundled(found, &bundled, &allowed).into_iter().map(|f| format!("{} ({})", f.reference, f.origin)).collect();
    if missing.is_empty() { Ok(()) } else { Err(BuildError::UnbundledImages { missing }) }
}

/// Starts writing an output file under a scratch name of its own beside it, after removing
/// what killed runs left there; dropped uncommitted, or the run interrupted, the scratch file
/// goes. Created exclusively: the output folder may be shared, and nothing planted at a
/// scratch name is written through.
pub(crate) fn create_output(target: &Path) -> Result<AtomicFile> {
    genesis_bundle::scratch::remove_abandoned(target, "partial");
    AtomicFile::create(target, Mode::OfTarget)
        .map_err(|e| BuildError::input(target, format!("cannot create a scratch file beside it: {e}")))
}

/// Renames a written output file into place. No fsync: a bundle or sidecar cut short by a
/// power loss is caught by every verification (the seek table, the sidecars and the BOM all
/// disagree with it), like `tar` and `zstd`.
fn commit_output(file: AtomicFile, target: &Path) -> Result<()> {
    file.commit(Durability::CheckedOnRead).map_err(|e| BuildError::input(target, format!("cannot write: {e}")))
}

pub(crate) fn write_atomically(target: &Path, bytes: &[u8]) -> Result<()> {
    let mut file = create_output(target)?;
    file.write_all(bytes).map_err(|e| BuildError::input(file.scratch_path(), format!("cannot write: {e}")))?;
    commit_output(file, target)
}

/// Where [`build`] writes the archive: `OUTPUT_DIR/NAME-VERSION.tar.zst` (or `.tar.gz`,
/// `.tar`).
pub fn archive_path(spec: &BundleSpec, options: &BuildOptions) -> PathBuf {
    let out_dir = options.output_dir.clone().unwrap_or_else(|| spec.resolve(&spec.spec.output.dir));
    let compression: Compression = spec.spec.output.compression;
    out_dir.join(format!("{}-{}{}", spec.metadata.name, spec.metadata.version, compression.extension()))
}

/// Builds the bundle `spec` describes, signed with `key`: the one-step way from a spec to a
/// bundle on disk ([`prepare`] then [`build_external`] is the two-step way, for a key the
/// builder does not hold). Registry images and repository charts are pulled into the cache
/// first, each checked against its digest (and its source signature against
/// [`BuildOptions::signers`] when given); then the BOM is written and signed, the archive
/// packed, and its `.sha256`, `.sig` and `.cosign.bundle` sidecars written, each file
/// appearing atomically. With [`BuildOptions::report`], the release evidence report follows,
/// and the `.sha256` is written again to list it.
///
/// A spec that pulls needs the `pull` feature (else [`BuildError::PullNotBuilt`]) and runs
/// the pull on an async runtime of its own: from async code, call this in
/// `tokio::task::spawn_blocking`. A spec of local sources only touches no network.
pub fn build(spec: &BundleSpec, key: &PrivateKey, options: &BuildOptions) -> Result<BuildOutput> {
    pack(spec, Signing::Key(key), options)
}

/// Resolves, pulls and plans as `build` does, and returns what would be signed, writing no bundle.
pub fn prepare(spec: &BundleSpec, options: &BuildOptions) -> Result<Prepared> {
    resolve(spec, options, None).map(|resolved| resolved.prepared)
}

/// `build` with the pipeline's signatures instead of a key: refuses (writing nothing) a
/// signature that does not verify over this build's BOM or provenance, naming which and
/// saying to prepare and sign again from the same spec and inputs. Writes the archive
/// (byte-identical to `build` with a key whose signatures these are) and its `.sha256`; the
/// archive's `.sig` and `.cosign.bundle` are the pipeline's to make (`cosign sign-blob`
/// over the archive), and stale ones from an earlier build are removed. Refuses
/// [`BuildOptions::report`] before anything else: the report would say the archive has no
/// signature of its own, as the pipeline signs it only after.
pub fn build_external(
    spec: &BundleSpec,
    signatures: &ExternalSignatures,
    options: &BuildOptions,
) -> Result<BuildOutput> {
    if options.report {
        return Err(BuildError::input(
            "--report",
            format!(
                "cannot go with a pipeline's signatures: the report is written after the archive's own signature \
                 (.sig, .cosign.bundle), which the pipeline makes after this build; build without --report, sign \
                 the archive, then run `genesis report {} --key PUB` with the vendor's public key",
                archive_path(spec, options).display()
            ),
        ));
    }
    pack(spec, Signing::External(signatures), options)
}

/// What every entry point shares: the spec's sources pulled and planned, and the bytes to sign.
struct Resolved {
    plan: Plan,
    /// `SOURCE_DATE_EPOCH`: the BOM's `created` and every entry's mtime.
    epoch: u64,
    prepared: Prepared,
}

/// Validates the options, reads the base of a delta (verified against the signer of
/// `signing`; `None`, for `prepare`, reads its head only), pulls what the spec names (unless
/// it is all local and no source signature is to be checked), plans the bundle and derives the
/// BOM and provenance bytes.
fn resolve(spec: &BundleSpec, options: &BuildOptions, signing: Option<Signing<'_>>) -> Result<Resolved> {
    options.validate()?;
    // Before anything is pulled: a base that does not verify stops the build at once.
    let base = match &options.base {
        Some(path) => {
            let check = match signing {
                Some(signing) => BaseCheck::of(signing)?,
                None => BaseCheck::HeadOnly,
            };
            Some(crate::delta::read_base(path, &check)?)
        }
        None => None,
    };
    let cache = options.cache_dir.clone().unwrap_or_else(default_cache_dir);
    // With signers, the pull step runs even for local sources: it refuses unsigned ones.
    let pulled = if hosts(spec).is_empty() && options.signers.is_none() {
        Pulled::default()
    } else {
        pull(spec, options, &cache)?
    };
    let epoch = options.source_date_epoch.or(spec.spec.source_date_epoch).unwrap_or(0);
    let expires = options.expires.map(|e| e.date(epoch)).transpose()?;
    let plan = plan(spec, epoch, expires, options, &pulled, &cache, base.as_ref())?;
    let bom = plan.bom.to_bytes();
    let provenance_statement =
        crate::provenance::provenance_statement(spec, &plan.bom, &sha256(&bom), &pulled.verified_signers);
    let provenance_pae = pae(IN_TOTO_PAYLOAD_TYPE, &provenance_statement);
    Ok(Resolved { plan, epoch, prepared: Prepared { bom, provenance_pae, provenance_statement } })
}

#[cfg(feature = "pull")]
fn pull(spec: &BundleSpec, options: &BuildOptions, cache: &Path) -> Result<Pulled> {
    crate::pull::pull_sources(spec, cache, &options.registries, options.signers.as_ref())
}

#[cfg(not(feature = "pull"))]
fn pull(spec: &BundleSpec, _options: &BuildOptions, _cache: &Path) -> Result<Pulled> {
    Err(BuildError::PullNotBuilt { hosts: hosts(spec) })
}

/// Resolves the spec, signs (or checks the pipeline's signatures) before anything is
/// written, and packs the archive and its sidecars.
fn pack(spec: &BundleSpec, signing: Signing<'_>, options: &BuildOptions) -> Result<BuildOutput> {
    let Resolved { plan, epoch, prepared } = resolve(spec, options, Some(signing))?;
    let head = signing.head(&prepared)?;
    options.progress.set_total(plan.bom.payload_size());

    let archive = archive_path(spec, options);
    let out_dir = archive.parent().expect("joined onto a folder");
    fs::create_dir_all(out_dir).map_err(|e| BuildError::input(out_dir, format!("cannot create: {e}")))?;
    let compression = spec.spec.output.compression;
    tracing::info!(archive = %archive.display(), files = plan.bom.files.len(), "packing bundle");

    let file = create_output(&archive)?;
    let scratch = file.scratch_path().to_owned();
    let write_options = WriteOptions { compression, mtime: epoch, progress: options.progress.clone() };
    let (out, digest) =
        write_signed_bundle(BufWriter::with_capacity(1 << 20, file), &plan.bom, &head, &plan.contents, write_options)?;
    let file = out.into_inner().map_err(|e| BuildError::input(&scratch, format!("cannot write: {}", e.error())))?;
    let Published { sha256_file, archive_line, signature_file, cosign_bundle_file } =
        publish(file, &archive, &digest, signing)?;
    let report_file = match signing {
        // `build_external` refused a report: the pipeline signs the archive after.
        Signing::Key(key) if options.report => {
            Some(write_report(&archive, &key.public_key(), &sha256_file, &archive_line)?)
        }
        _ => None,
    };
    Ok(BuildOutput {
        archive,
        sha256_file,
        signature_file,
        cosign_bundle_file,
        report_file,
        sha256: digest.digest(),
        size: digest.len,
        bom_sha256: sha256(&head.bom),
        expires: plan.bom.expires.clone(),
        files: plan.bom.files.len(),
        payload_bytes: plan.bom.payload_size(),
        requires: plan.bom.requires.as_ref().map(genesis_bundle::Requires::summary),
    })
}

/// Where [`publish`] wrote an archive's sidecars.
pub(crate) struct Published {
    /// `ARCHIVE.sha256`.
    pub(crate) sha256_file: PathBuf,
    /// Its line for the archive, which a release evidence report's line follows.
    pub(crate) archive_line: String,
    /// `ARCHIVE.sig`, with a key.
    pub(crate) signature_file: Option<PathBuf>,
    /// `ARCHIVE.cosign.bundle`, with a key.
    pub(crate) cosign_bundle_file: Option<PathBuf>,
}

/// Renames a written archive (`file`, of `digest`) into place at `archive`, once the sidecars
/// an earlier build left there are gone ([`remove_earlier_sidecars`]), then writes its
/// `.sha256` and, signed with a key, its `.sig` and `.cosign.bundle`: how a build and a
/// re-signing (`crate::resign`) deliver an archive.
pub(crate) fn publish(
    file: AtomicFile,
    archive: &Path,
    digest: &FileDigest,
    signing: Signing<'_>,
) -> Result<Published> {
    remove_earlier_sidecars(archive)?;
    commit_output(file, archive)?;
    let file_name = archive.file_name().expect("has a name").to_string_lossy();
    let (sha256_file, _) = genesis_trust::sidecar_paths(archive);
    let archive_line = format!("{}  {file_name}\n", digest.digest().hex());
    write_atomically(&sha256_file, archive_line.as_bytes())?;
    let (signature_file, cosign_bundle_file) = sign_archive(signing, archive, &digest.sha256)?;
    Ok(Published { sha256_file, archive_line, signature_file, cosign_bundle_file })
}

/// Writes the archive's `.sig` and `.cosign.bundle` with the key, and returns where. A
/// pipeline signs the archive itself after the build, so then none is written (those an
/// earlier build left are gone already: [`remove_earlier_sidecars`]).
fn sign_archive(signing: Signing<'_>, archive: &Path, digest: &[u8; 32]) -> Result<(Option<PathBuf>, Option<PathBuf>)> {
    let Signing::Key(key) = signing else { return Ok((None, None)) };
    // The one way a file is signed with a key: a split archive's parts manifest is too.
    let (signature_file, cosign_bundle_file) = SignatureSidecars::paths(archive);
    let sidecars = SignatureSidecars::sign(key, digest);
    write_atomically(&signature_file, &sidecars.signature)?;
    write_atomically(&cosign_bundle_file, &sidecars.cosign_bundle)?;
    Ok((Some(signature_file), Some(cosign_bundle_file)))
}

/// Writes the release evidence report of the `archive` just written and its sidecars, then
/// lists it in `sha256_file` after `archive_line`; returns where it is. The archive is opened
/// afresh and verified in full (BOM signature, every entry, the sidecars) with the builder's
/// `public` key, as a recipient verifies it: the report describes what a verification
/// established, never what the build meant to write. The `.sha256` names the report only once
/// the report is in place, so no list ever names a file not yet there.
fn write_report(archive: &Path, public: &PublicKey, sha256_file: &Path, archive_line: &str) -> Result<PathBuf> {
    let policy_text = format!("the builder's own key (fingerprint {})", public.fingerprint());
    let policy = genesis_trust::TrustPolicy::from_keys(vec![public.clone()])?;
    tracing::info!(archive = %archive.display(), "verifying the bundle for its evidence report");
    let checked =
        genesis_trust::UnverifiedBundle::open(archive, &genesis_bundle::Limits::default())?.verify(&policy)?.check()?;
    let written =
        genesis_report::write_report(&checked, &policy_text, &report_path(archive), genesis_report::Format::Pdf)?;
    let report = genesis_bundle::digest_io::sha256_file(&written)
        .map_err(|e| BuildError::input(&written, format!("unreadable: {e}")))?;
    let name = written.file_name().expect("a report file has a name").to_string_lossy();
    write_atomically(sha256_file, format!("{archive_line}{}  {name}\n", report.digest().hex()).as_bytes())?;
    Ok(written)
}

/// `ARCHIVE.report.pdf`: where [`build`] writes the release evidence report of `archive`.
fn report_path(archive: &Path) -> PathBuf {
    genesis_bundle::path_with_suffix(archive, genesis_report::PDF_SUFFIX)
}

/// Removes the `.sha256`, `.sig`, `.cosign.bundle`, report and countersignature folder
/// (`.countersig/`, decision 0035) an earlier build left beside `archive`, which describe or
/// sign other bytes than the archive about to take its place: a portal publishes a bundle with
/// the sidecars found beside it, and a stale `.sig`, or a countersignature over another BOM,
/// fails every verification. Called before the new archive is renamed into place, so neither a
/// moment nor a crash nor a removal that fails leaves it beside another build's sidecars; this
/// build writes its own after it (a re-signing carries the countersignatures of the bundle it
/// re-signs, whose BOM it keeps).
fn remove_earlier_sidecars(archive: &Path) -> Result<()> {
    let (sha256_file, signature_file) = genesis_trust::sidecar_paths(archive);
    for (path, what) in [
        (sha256_file, "checksum list"),
        (signature_file, "signature"),
        (genesis_trust::cosign_bundle_path(archive), "cosign bundle"),
        (report_path(archive), "report"),
    ] {
        match fs::remove_file(&path) {
            Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
                return Err(BuildError::input(&path, format!("cannot remove the {what} of an earlier build: {e}")));
            }
            _ => {}
        }
    }
    // A folder, removed whole; a link or a file put at its name, removed itself.
    let folder = genesis_trust::countersignature_folder(archive);
    let removed = match fs::symlink_metadata(&folder) {
        Ok(found) if found.is_dir() => fs::remove_dir_all(&folder),
        Ok(_) => fs::remove_file(&folder),
        Err(e) => Err(e),
    };
    match removed {
        Err(e) if e.kind() != std::io::ErrorKind::NotFound => {
            Err(BuildError::input(&folder, format!("cannot remove the countersignatures of an earlier build: {e}")))
        }
        _ => Ok(()),
    }
}

/// Writes a fresh key pair as `genesis.key` (PKCS#8 PEM, or cosign's encrypted format when a
/// password is given; mode 0600) and `genesis.pub` (SPKI PEM) in `dir`, refusing to
/// overwrite either.
pub fn keygen(dir: &Path, password: Option<&[u8]>) -> Result<(PathBuf, PathBuf)> {
    use std::os::unix::fs::OpenOptionsExt;
    fs::create_dir_all(dir).map_err(|e| BuildError::input(dir, format!("cannot create: {e}")))?;
    let key = PrivateKey::generate();
    let (private, public) = genesis_trust::key_pair_paths(dir);
    let private_pem = match password {
        Some(p) => key.to_encrypted_pem(p),
        None => key.to_pem(),
    };
    for (path, text, mode) in [(&private, private_pem, 0o600), (&public, key.public_key().to_pem(), 0o644)] {
        let mut f = fs::OpenOptions::new()
            .write(true)
            .create_new(true)
            .mode(mode)
            .open(path)
            .map_err(|e| BuildError::input(path, format!("cannot create ({e}); keygen never overwrites a key")))?;
        f.write_all(text.as_bytes()).map_err(|e| BuildError::input(path, format!("cannot write: {e}")))?;
    }
    Ok((private, public))
}

#[cfg(test)]
mod expiry_tests {
    use super::*;

    #[test]
    fn an_expiry_is_a_date_or_a_duration_after_created() {
        let day = 86_400;
        for (text, expiry) in [
            ("2027-01-01T00:00:00Z", Ok(Expiry::At(1_798_761_600))),
            ("2027-01-01T01:00:00+01:00", Ok(Expiry::At(1_798_761_600))),
            ("3600s", Ok(Expiry::After(3600))),
            ("90m", Ok(Expiry::After(90 * 60))),
            ("12h", Ok(Expiry::After(12 * 3600))),
            ("90d", Ok(Expiry::After(90 * day))),
            ("2w", Ok(Expiry::After(14 * day))),
            ("0d", Err("is no time at all")),
            ("99999999999d", Err("ends after 9999-12-31T23:59:59Z")),
            ("d", Err("neither an RFC 3339 date")),
            ("+9d", Err("neither an RFC 3339 date")),
            ("9 d", Err("neither an RFC 3339 date")),
            ("9y", Err("neither an RFC 3339 date")),
            ("9é", Err("neither an RFC 3339 date")),
            ("", Err("neither an RFC 3339 date")),
            ("2027-01-01", Err("neither an RFC 3339 date")),
        ] {
            match (text.parse::<Expiry>(), expiry) {
                (Ok(read), Ok(expected)) => assert_eq!(read, expected, "{text}"),
                (Err(why), Err(said)) => assert!(why.contains(said), "{text}: {why}"),
                (read, expected) => panic!("{text}: {read:?}, expected {expected:?}"),
            }
        }
    }

    /// A duration counts from the BOM's `created` (SOURCE_DATE_EPOCH), not from the clock; a
    /// date at or before `created` is refused, naming both.
    #[test]
    fn an_expiry_dates_from_created_and_must_follow_it() {
        assert_eq!(Expiry::After(86_400).date(86_400).unwrap(), "1970-01-03T00:00:00Z");
        assert_eq!(Expiry::At(1_798_761_600).date(0).unwrap(), "2027-01-01T00:00:00Z");
        let e = Expiry::At(86_400).date(86_400).unwrap_err().to_string();
        assert!(
            e.starts_with(
                "--expires: 1970-01-02T00:00:00Z is not after the bundle's created time 1970-01-02T00:00:00Z"
            ),
            "{e}"
        );
        let e = Expiry::After(genesis_bundle::LAST_RFC3339_SECOND).date(86_400).unwrap_err().to_string();
        assert!(e.contains("the last date a BOM can state"), "{e}");
    }
}

#[cfg(test)]
mod package_sbom_tests {
    use super::*;

    /// Builds a bundle of the fixture image (a Debian root with two packages, two
    /// platforms) under `options`, into `dir`; returns its BOM.
    fn build_fixture(dir: &Path, options: BuildOptions) -> Result<Bom> {
        let layout = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/images/app");
        let spec = BundleSpec::parse(&format!(
            "apiVersion: genesis.dev/v1alpha1\nkind: Bundle\nmetadata: {{name: demo, version: 0.1.0}}\nspec:\n  \
             images: [ {{name: app, image: 'oci:{}:1.0', ref: 'registry.example.com/demo/app:1.0'}} ]\n  \
             output: {{dir: dist}}\n",
            layout.display()
        ))
        .expect("a valid spec");
        let options =
            BuildOptions { output_dir: Some(dir.join("dist")), cache_dir: Some(dir.join("cache")), ..options };
        let out = build(&spec, &PrivateKey::generate(), &options)?;
        let limits = genesis_bundle::Limits::default();
        let head = genesis_bundle::ArchiveReader::open_head(&out.archive, &limits)?.read_head()?;
        Ok(Bom::parse(&head.bom, &limits)?)
    }

    /// The paths of the package SBOMs `bom` lists, as SBOMs and as files, sorted.
    fn package_sboms(bom: &Bom) -> (Vec<&str>, Vec<&str>) {
        let mut listed: Vec<&str> = bom.package_sboms().map(|s| s.path.as_str()).collect();
        listed.sort_unstable();
        let files = bom
            .files
            .iter()
            .map(|f| f.path.as_str())
            .filter(|p| p.ends_with(genesis_bundle::PACKAGE_SBOM_SUFFIX))
            .collect();
        (listed, files)
    }

    #[test]
    fn skipping_package_sboms_leaves_the_inventory_out_and_the_bundle_sbom_in() {
        let dir = tempfile::tempdir().unwrap();
        let full = build_fixture(&dir.path().join("full"), BuildOptions::default()).unwrap();
        let (listed, files) = package_sboms(&full);
        assert!(!listed.is_empty() && listed == files, "the fixture's platforms are inventoried: {listed:?}");

        let skipped = BuildOptions { skip_package_sboms: true, ..BuildOptions::default() };
        let bom = build_fixture(&dir.path().join("skipped"), skipped).unwrap();
        assert_eq!(package_sboms(&bom), (vec![], vec![]), "no sbom/images/*.packages.cdx.json");
        assert!(bom.bundle_sbom().is_some(), "the bundle SBOM of images, charts and manifests stays");
        assert_eq!(bom.images.len(), 1, "the image itself is carried");
    }

    #[test]
    fn skipping_package_sboms_is_refused_with_the_gate_before_anything_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let options = BuildOptions {
            skip_package_sboms: true,
            scan: Some(crate::ScanOptions { databases: vec![dir.path().join("osv")], ..Default::default() }),
            ..BuildOptions::default()
        };
        let e = build_fixture(dir.path(), options).unwrap_err().to_string();
        assert!(e.starts_with("--skip-package-sboms: cannot go with --scan-db: the vulnerability gate judges"), "{e}");
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "nothing written");
    }
}

#[cfg(all(test, not(feature = "pull")))]
mod tests {
    use super::*;

    #[test]
    fn without_the_pull_feature_a_spec_that_pulls_fails_naming_it_and_writes_nothing() {
        let spec = BundleSpec::parse(
            "apiVersion: genesis.dev/v1alpha1\nkind: Bundle\nmetadata: {name: demo, version: 0.1.0}\nspec:\n  \
             images: [ {name: app, image: 'registry.example.com/demo/app:1.0'} ]\n  output: {dir: dist}\n",
        )
        .unwrap();
        let dir = tempfile::tempdir().unwrap();
        let options = BuildOptions {
            output_dir: Some(dir.path().join("dist")),
            cache_dir: Some(dir.path().join("cache")),
            ..Default::default()
        };
        let e = build(&spec, &PrivateKey::generate(), &options).unwrap_err();
        assert!(matches!(&e, BuildError::PullNotBuilt { hosts } if hosts == &["registry.example.com"]), "{e}");
        assert!(e.to_string().contains("`pull` feature"), "{e}");
        assert!(std::fs::read_dir(dir.path()).unwrap().next().is_none(), "nothing written");
    }
}
