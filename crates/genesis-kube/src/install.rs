//! The loader's use case, whole: a verified bundle into the cluster-local registry and, when
//! a cluster is given, onto the cluster. Anti-rollback against the cluster's install record
//! first; then the images (the payload checked in the same pass, or not re-read when the
//! registry has every blob) and the charts; the manifests rewritten to them; server-side
//! apply, readiness, and the record of what was installed, anti-rollback judged again just
//! before the apply and the record replaced only as it was judged. [`install`] is the one
//! entry point, so an embedder gets every step, in order, and skips none.

use std::path::{Path, PathBuf};
use std::time::Duration;

use genesis_bundle::ProgressCounter;
use genesis_registry::charts::LoadedChart;
use genesis_registry::load::{DEFAULT_CONCURRENCY, LoadedImage};
use genesis_registry::{Destination, LoadPlan, LoadSummary, Registry, RegistryError};
use genesis_trust::{AcceptedSigner, AttestationReport, SignedBom, TrustError, VerifiedBundle, VerifyReport};
use genesis_types::{Classify as _, ErrorClass};

use crate::record::RecordedBundle;
use crate::rewrite::{self, ImageMap, RewrittenManifest};
use crate::rollback::Guard;
use crate::{ApplyOptions, ApplyReport, Cluster, InstallRecord, KubeError, Readiness, Refusal, Result, Verification};

/// Where an install pushes the bundle's images and charts.
#[derive(Clone)]
pub struct InstallTarget {
    /// A client of the registry.
    pub registry: Registry,
    /// The registry and the repository prefix the images land under.
    pub destination: Destination,
}

/// What [`install`] does on the cluster, when it is given one.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum ApplyMode {
    /// Ask the API server what would change, and change nothing on the cluster: nothing
    /// applied, no install record written, and the bundle not recorded as installed in the
    /// policy's anti-rollback state either. The images and charts are still pushed to the
    /// registry: a dry run is about the cluster.
    DryRun,
    /// Apply, and record what was installed.
    #[default]
    Apply,
    /// Apply and record, then wait up to this long until every Deployment, StatefulSet,
    /// DaemonSet, Job and Flux HelmRelease applied is ready.
    ApplyAndWait(Duration),
}

/// How an install goes.
#[derive(Debug, Clone)]
pub struct InstallOptions {
    /// Blobs uploaded at once per image.
    pub concurrency: usize,
    /// Also write the bundle's manifests, every carried image rewritten to the registry, into
    /// this directory, which must not exist (it appears whole or not at all).
    pub manifests_out: Option<PathBuf>,
    /// What to do on the cluster, when there is one.
    pub apply: ApplyMode,
    /// Install even when the cluster's install record names a newer version of the bundle,
    /// the same version with another BOM, or cannot be compared with it. Anti-rollback then
    /// no longer holds: an older release, without the fixes of the newer one, may replace
    /// it. [`InstallProgress::downgrade_allowed`] hears each time this lets a bundle through.
    pub allow_downgrade: bool,
}

impl Default for InstallOptions {
    /// [`DEFAULT_CONCURRENCY`], no manifests written, [`ApplyMode::Apply`], anti-rollback on.
    fn default() -> Self {
        InstallOptions {
            concurrency: DEFAULT_CONCURRENCY,
            manifests_out: None,
            apply: ApplyMode::Apply,
            allow_downgrade: false,
        }
    }
}

/// How far an install verified the bundle, told before it is recorded as installed.
#[derive(Debug)]
pub enum Evidence<'a> {
    /// The whole payload was checked, in the pass that uploaded the missing blobs.
    PayloadChecked(&'a VerifyReport),
    /// The registry had every blob: the signature and the attestations the policy judged were
    /// checked, the rest of the payload not re-read.
    PayloadNotReread {
        /// Who signed the BOM inside the archive: a key or a keyless identity.
        signer: &'a AcceptedSigner,
        /// The registry that had every blob.
        registry: &'a str,
        /// What the attestation check established.
        attestations: &'a AttestationReport,
        /// What the report and the install record say was verified.
        verification: &'a Verification,
    },
}

/// What an install tells its caller while it works, for a display: the library prints
/// nothing. Every method does nothing unless implemented; `()` shows nothing at all.
pub trait InstallProgress: Sync {
    /// Anti-rollback let a bundle through because [`InstallOptions::allow_downgrade`] said so;
    /// `_note` says what it let through.
    fn downgrade_allowed(&self, _note: &str) {}
    /// The pass that checks the payload and uploads the missing blobs starts. `_counters`:
    /// the payload bytes checked (`loading`), then each image's blob bytes in place in the
    /// registry, by image reference.
    fn payload_pass_started(&self, _counters: Vec<(String, ProgressCounter)>) {}
    /// That pass ended, whatever its outcome.
    fn payload_pass_ended(&self) {}
    /// The bundle verified as far as this install reads it.
    fn verified(&self, _evidence: &Evidence<'_>) {}
}

impl InstallProgress for () {}

/// Everything an install did.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallReport {
    /// The registry the images went to.
    pub registry: String,
    /// What was verified of the bundle.
    pub verification: Verification,
    /// Each image as pushed.
    pub images: Vec<LoadedImage>,
    /// Each chart as pushed.
    pub charts: Vec<LoadedChart>,
    /// The rewritten manifests written, when [`InstallOptions::manifests_out`] asked.
    pub manifests_out: Option<ManifestsOut>,
    /// What happened on the cluster, when there was one.
    pub apply: Option<Applied>,
}

impl InstallReport {
    /// Whether the cluster took everything: no conflict left an object as it was, and every
    /// workload waited for is ready. True without a cluster.
    pub fn succeeded(&self) -> bool {
        !self
            .apply
            .as_ref()
            .is_some_and(|a| a.report.conflicts().next().is_some() || a.readiness.iter().any(|r| !r.ready))
    }
}

/// The rewritten manifests an install wrote.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ManifestsOut {
    /// Where.
    pub dir: PathBuf,
    /// How many image references were rewritten.
    pub rewritten_references: usize,
}

/// What an install did on the cluster.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Applied {
    /// The API server and where the credentials came from.
    pub cluster: String,
    /// Whether it was a dry run.
    pub dry_run: bool,
    /// Each object and what happened to it.
    #[serde(flatten)]
    pub report: ApplyReport,
    /// Objects the previous install of the bundle applied that this one no longer has (left
    /// in place).
    pub dropped: Vec<String>,
    /// With [`ApplyMode::ApplyAndWait`]: each workload's and HelmRelease's state when the
    /// wait ended.
    pub readiness: Vec<Readiness>,
}

/// Installs a verified bundle: refuses it when `cluster` records a newer version of it, the
/// same version with another BOM, or one it cannot compare (unless
/// [`InstallOptions::allow_downgrade`]); pushes its images to `target` — checking the whole
/// payload in the same pass, or, when the registry has every blob, the attestations the
/// policy judged only — and its charts; records it as installed in the policy's
/// anti-rollback state (not in a dry run on `cluster`); writes the rewritten manifests when
/// asked; and on `cluster`, judges its install record again, applies the manifests as
/// `options` say and records the install in place of the record judged.
///
/// This is the embedder's entry point. `genesis_registry::load` and
/// `genesis_registry::push_manifests_only` load images only: they know nothing of the
/// cluster's install record, so anti-rollback against it holds only through here.
///
/// A bundle refused, before anything was applied, is [`KubeError::Refused`]; an install
/// record another install changed between the apply and its recording is
/// [`KubeError::RecordChanged`].
pub async fn install(
    bundle: VerifiedBundle,
    target: &InstallTarget,
    cluster: Option<&Cluster>,
    options: &InstallOptions,
    progress: &dyn InstallProgress,
) -> Result<InstallReport> {
    // What anti-rollback judges and the install record will say of the bundle (who signed
    // it among the rest), taken before the load consumes it.
    let recorded = RecordedBundle::of(&bundle);
    let mut guard = cluster.map(|c| Guard::new(c, &recorded, options.allow_downgrade, progress));
    if let Some(guard) = &mut guard {
        guard.check().await?;
    }
    // A dry run on the cluster records nothing, here or in the policy's state.
    let mark_installed = cluster.is_none() || options.apply != ApplyMode::DryRun;
    let InstallTarget { registry, destination } = target;
    // The plan reads the manifests from the archive: one that is damaged, or changed since its
    // signature was checked, is a refusal like any other.
    let plan = match LoadPlan::new(&bundle, registry, destination).await {
        Err(e) if e.class() == ErrorClass::Verdict => return Err(Refusal::Content(Box::new(e)).into()),
        other => other?,
    };
    let Loaded { summary, bundle, verification } = if plan.complete() {
        load_manifests_only(bundle, plan, registry, mark_installed, progress).await?
    } else {
        load_checking(bundle, plan, registry, options.concurrency, mark_installed, progress).await?
    };
    let charts = genesis_registry::charts::push_charts(&*bundle, registry, destination).await?;
    // Read back and rewritten once, for whichever of `manifests_out` and the cluster asks.
    let manifests = if options.manifests_out.is_some() || cluster.is_some() {
        rewrite::rewritten_manifests(&*bundle, &ImageMap::from_summary(&summary), &charts)?
    } else {
        Vec::new()
    };
    let manifests_out = match &options.manifests_out {
        Some(dir) => {
            let rewritten_references = rewrite::write_rewritten_manifests(&manifests, dir)?;
            Some(ManifestsOut { dir: dir.clone(), rewritten_references })
        }
        None => None,
    };
    let apply = match (cluster, &mut guard) {
        (Some(cluster), Some(guard)) => {
            Some(apply_and_record(cluster, guard, &recorded, &manifests, &verification, options.apply).await?)
        }
        _ => None,
    };
    Ok(InstallReport { registry: summary.registry, verification, images: summary.images, charts, manifests_out, apply })
}

/// The images loaded, the bundle as verified, and what was verified of it.
struct Loaded {
    summary: LoadSummary,
    bundle: Box<dyn SignedBom>,
    verification: Verification,
}

/// The re-load fast path: the registry has every blob, so the attestations the policy judged
/// are checked and the manifests pushed, the rest of the payload not read. `mark_installed`:
/// whether to record the bundle as installed in the policy's anti-rollback state.
async fn load_manifests_only(
    bundle: VerifiedBundle,
    plan: LoadPlan,
    registry: &Registry,
    mark_installed: bool,
    progress: &dyn InstallProgress,
) -> Result<Loaded> {
    let attested = bundle.check_attestations().map_err(|e| trust_error(bundle.path(), e))?;
    let summary = genesis_registry::push_manifests_only(plan, &attested, registry).await?;
    let verification = Verification::payload_not_reread(attested.report());
    progress.verified(&Evidence::PayloadNotReread {
        signer: bundle.signer(),
        registry: &summary.registry,
        attestations: attested.report(),
        verification: &verification,
    });
    if mark_installed {
        attested.mark_installed()?;
    }
    Ok(Loaded { summary, bundle: Box::new(bundle), verification })
}

/// One pass: the payload is checked and the missing blobs uploaded from it; the manifests
/// follow once the whole bundle checked out. `mark_installed`: whether to record the
/// bundle as installed in the policy's anti-rollback state.
async fn load_checking(
    bundle: VerifiedBundle,
    plan: LoadPlan,
    registry: &Registry,
    concurrency: usize,
    mark_installed: bool,
    progress: &dyn InstallProgress,
) -> Result<Loaded> {
    let path = bundle.path().to_owned();
    progress.payload_pass_started(
        std::iter::once(("loading".to_owned(), bundle.progress())).chain(plan.progress()).collect(),
    );
    let loaded = genesis_registry::load(bundle, plan, registry, concurrency).await;
    progress.payload_pass_ended();
    let (checked, summary) = match loaded {
        Err(RegistryError::Refused(e)) => return Err(trust_error(&path, *e)),
        other => other?,
    };
    progress.verified(&Evidence::PayloadChecked(checked.report()));
    if mark_installed {
        checked.mark_installed()?;
    }
    let verification = Verification::payload_checked(checked.report());
    Ok(Loaded { summary, bundle: Box::new(checked), verification })
}

/// A trust error met while installing: a verification failure refuses the bundle; any other
/// (an archive that can no longer be read) means it could not be verified.
fn trust_error(bundle: &Path, e: TrustError) -> KubeError {
    if e.is_verification_failure() {
        KubeError::Refused(Refusal::Verification(Box::new(e)))
    } else {
        KubeError::Unverifiable { bundle: bundle.to_owned(), source: Box::new(e) }
    }
}

/// Applies the rewritten manifests, once `guard` judged the install record again (another
/// install may have recorded while this one loaded). Unless it was a dry run or met a
/// conflict, records the install of `bundle` in place of the record judged, reporting what
/// that record had that this one drops; then waits for readiness when asked and nothing
/// conflicted.
async fn apply_and_record(
    cluster: &Cluster,
    guard: &mut Guard<'_>,
    bundle: &RecordedBundle,
    manifests: &[RewrittenManifest],
    verification: &Verification,
    mode: ApplyMode,
) -> Result<Applied> {
    let mut objects = Vec::new();
    for m in manifests {
        for o in &m.objects {
            let object = serde_json::to_value(o).map_err(|e| KubeError::Object {
                object: format!("manifests/{}", m.path),
                reason: format!("not a JSON-shaped object ({e})"),
            })?;
            objects.push(object);
        }
    }
    let dry_run = mode == ApplyMode::DryRun;
    let judged = if dry_run { None } else { Some(guard.recheck().await?) };
    let report = crate::apply(cluster, objects, ApplyOptions { dry_run }).await?;
    let conflicted = report.conflicts().next().is_some();
    let mut dropped = Vec::new();
    if let Some(judged) = judged
        && !conflicted
    {
        let applied_at = genesis_bundle::rfc3339(genesis_bundle::unix_now());
        let record = InstallRecord::new(bundle, applied_at, verification.clone(), &report.objects);
        if let Some(previous) = guard.record(&record, judged).await? {
            dropped = record.dropped_since(&previous);
        }
    }
    let readiness = match mode {
        ApplyMode::ApplyAndWait(timeout) if !conflicted => crate::wait_ready(cluster, &report.objects, timeout).await?,
        _ => Vec::new(),
    };
    Ok(Applied { cluster: cluster.describe().to_owned(), dry_run, report, dropped, readiness })
}
