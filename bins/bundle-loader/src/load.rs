//! `bundle-loader load`: verify, then push every image into the cluster-local registry, and
//! with `--apply` server-side apply the bundle's manifests (images rewritten to that registry).

use anyhow::Context as _;
use genesis_cli_support::registry::RegistryArgs;
use genesis_cli_support::verify::{VerifyArgs, refuse, refused, verify_signature};
use genesis_cli_support::{OutputFormat, exit, out, outln, print_json, progress};
use genesis_kube::rewrite::{self, ImageMap};
use genesis_kube::{ApplyOptions, ApplyReport, Cluster, InstallRecord, Outcome};
use genesis_registry::{Destination, LoadPlan, RegistryError, load::DEFAULT_CONCURRENCY};
use genesis_trust::SignedBom;
use genesis_types::{Classify as _, ErrorClass};

/// Arguments of `load`.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Verification inputs.
    #[command(flatten)]
    pub verify: VerifyArgs,
    /// Destination: HOST[:PORT][/PREFIX]. Images keep their repository path under PREFIX.
    #[arg(long, value_name = "HOST[:PORT][/PREFIX]")]
    pub registry: Destination,
    /// Connection settings.
    #[command(flatten)]
    pub connection: RegistryArgs,
    /// Blobs uploaded at once per image.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// After loading, write the bundle's manifests here with every carried image rewritten
    /// to `HOST/REPO@sha256:…` (originals kept in the `genesis.dev/original-images`
    /// annotation), ready for `kubectl apply -f`. The directory must not exist.
    #[arg(long, value_name = "DIR")]
    pub manifests_out: Option<std::path::PathBuf>,
    /// After loading, apply the manifests to the cluster with server-side apply (field manager
    /// `genesis`): Namespaces and CRDs first (each waited for until Established), every
    /// carried image rewritten to the registry by digest; conflicts reported, never forced.
    #[arg(long)]
    pub apply: bool,
    /// With --apply: ask the API server what would change and print the objects; change nothing.
    #[arg(long, requires = "apply")]
    pub dry_run: bool,
    /// With --apply: then wait until every Deployment, StatefulSet, DaemonSet, Job and Flux
    /// HelmRelease applied is ready (observed generation, replicas, Ready condition), and
    /// report each one; exit 1 if some are not by --timeout.
    #[arg(long, requires = "apply", conflicts_with = "dry_run")]
    pub wait: bool,
    /// With --wait: how long to wait, in seconds.
    #[arg(long, value_name = "SECONDS", default_value_t = 300, requires = "wait")]
    pub timeout: u64,
    /// With --apply: apply even when the cluster records a newer version of this bundle as
    /// installed (anti-rollback is otherwise enforced from the cluster's install record).
    #[arg(long, requires = "apply")]
    pub allow_downgrade: bool,
    /// With --apply: the kubeconfig to use (else KUBECONFIG, else the in-cluster service account).
    #[arg(long, value_name = "FILE", requires = "apply")]
    pub kubeconfig: Option<std::path::PathBuf>,
}

const NOT_LOADED: &str = "no image was loaded";

/// Runs `load`: verify the BOM signature; if the registry already has every blob, check the
/// attestations the policy judged (the SBOM, read by random access) and push the manifests
/// (checked against the signed digests) without reading the rest of the payload;
/// otherwise check the whole bundle, uploading the missing blobs in the same pass, and push
/// the manifests once it checked out. Then, as asked, write the rewritten manifests and
/// apply them.
pub fn run(args: &LoadArgs) -> anyhow::Result<u8> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    // Connecting reads the credentials only: the cluster is first contacted after the load.
    let cluster = match args.apply {
        true => Some(runtime.block_on(Cluster::connect(args.kubeconfig.as_deref()))?),
        false => None,
    };
    let mut endpoints = vec![args.connection.endpoint(&args.registry.host)];
    endpoints.extend(cluster.as_ref().map(|c| c.describe().to_owned()));
    genesis_cli_support::announce_endpoints("bundle-loader", &endpoints);
    let verified = match verify_signature(&args.verify) {
        Ok(v) => v,
        Err(e) => return refuse(&args.verify, e, NOT_LOADED),
    };
    if let Some(cluster) = &cluster
        && let Some(refusal) = runtime.block_on(downgrade(cluster, verified.signed_bom(), args.allow_downgrade))?
    {
        return Ok(refused(&args.verify.bundle, &refusal, NOT_LOADED));
    }
    let registry = args.connection.client(&args.registry.host)?;
    // The plan reads the manifests from the archive: one that is damaged, or changed since its
    // signature was checked, is a refusal like any other.
    let plan = match runtime.block_on(LoadPlan::new(&verified, &registry, &args.registry)) {
        Err(e) if e.class() == ErrorClass::Verdict => {
            return Ok(refused(&args.verify.bundle, &e, NOT_LOADED));
        }
        other => other?,
    };
    let (summary, bundle, verification): (_, Box<dyn SignedBom>, _) = if plan.complete() {
        let attested = match verified.check_attestations() {
            Ok(a) => a,
            Err(e) => return refuse(&args.verify, e, NOT_LOADED),
        };
        let summary = runtime.block_on(genesis_registry::push_manifests_only(plan, &registry))?;
        let verification = Verification::payload_not_reread(&attested);
        eprintln!(
            "✓ signature OK (key {}); every blob is already in {}: payload not re-read",
            verified.key(),
            summary.registry
        );
        if args.verify.output == OutputFormat::Text {
            for decision in &attested.policy {
                eprintln!("✓ policy: {decision}");
            }
            eprintln!("  {verification}");
        }
        verified.mark_installed(&attested)?;
        (summary, Box::new(verified), verification)
    } else {
        // One pass: the payload is checked and the missing blobs uploaded from it. A bar for
        // the pass, then one per image: its blob bytes in place in the registry.
        let bars = std::iter::once(("loading".to_owned(), verified.progress())).chain(plan.progress()).collect();
        let _bars = progress::show_many(bars, args.verify.quiet);
        let (checked, summary) =
            match runtime.block_on(genesis_registry::load(verified, plan, &registry, args.concurrency)) {
                Err(RegistryError::Refused(e)) => return refuse(&args.verify, *e, NOT_LOADED),
                other => other?,
            };
        if args.verify.output == OutputFormat::Text {
            eprint!("{}", genesis_cli_support::verify::render_text(checked.report()));
        }
        checked.mark_installed()?;
        let verification = Verification::payload_checked(checked.report());
        (summary, Box::new(checked), verification)
    };
    let charts = runtime.block_on(genesis_registry::charts::push_charts(&*bundle, &registry, &args.registry))?;
    // Read back and rewritten once, for whichever of --manifests-out and --apply asks.
    let manifests = if args.manifests_out.is_some() || cluster.is_some() {
        rewrite::rewritten_manifests(&*bundle, &ImageMap::from_summary(&summary), &charts)?
    } else {
        Vec::new()
    };
    let rewritten = match &args.manifests_out {
        Some(dir) => Some((dir, rewrite::write_rewritten_manifests(&manifests, dir)?)),
        None => None,
    };
    let applied = match &cluster {
        Some(cluster) => {
            let mut applied =
                runtime.block_on(apply_manifests(cluster, &*bundle, &manifests, &verification, args.dry_run))?;
            if args.wait && applied.report.conflicts().next().is_none() {
                let timeout = std::time::Duration::from_secs(args.timeout);
                applied.readiness =
                    runtime.block_on(genesis_kube::wait_ready(cluster, &applied.report.objects, timeout))?;
            }
            Some(applied)
        }
        None => None,
    };
    report(args, &summary, &verification, &charts, rewritten, applied.as_ref())
}

/// What a load verified of the bundle, in its report and in the cluster's install record:
/// a re-load that did not read the payload again says so.
#[derive(Debug)]
struct Verification {
    /// How much of the payload was read.
    payload: &'static str,
    /// The bundle's SBOM: `verified` (read and checked against the signed BOM) or `none`.
    sbom: &'static str,
    /// The SLSA provenance: `verified` or `none`.
    provenance: &'static str,
    /// The archive's `.sha256`, `.sig` and `.cosign.bundle`, which sign the whole file.
    sidecars: &'static str,
}

impl Verification {
    fn payload_checked(report: &genesis_trust::VerifyReport) -> Verification {
        let payload = "every entry checked against the signed BOM";
        Verification::new(payload, report.sbom.is_some(), report.provenance.is_some(), "checked when present")
    }

    fn payload_not_reread(attested: &genesis_trust::AttestationReport) -> Verification {
        let payload = "not re-read, every blob already in the registry under its signed digest";
        Verification::new(payload, attested.sbom.is_some(), attested.provenance.is_some(), "not checked")
    }

    fn new(payload: &'static str, sbom: bool, provenance: bool, sidecars: &'static str) -> Verification {
        let state = |verified: bool| if verified { "verified" } else { "none" };
        Verification { payload, sbom: state(sbom), provenance: state(provenance), sidecars }
    }

    fn json(&self) -> serde_json::Value {
        serde_json::json!({
            "payload": self.payload, "sbom": self.sbom, "provenance": self.provenance, "sidecars": self.sidecars,
        })
    }
}

impl std::fmt::Display for Verification {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "payload: {}; sbom: {}; provenance: {}; sidecars: {}",
            self.payload, self.sbom, self.provenance, self.sidecars
        )
    }
}

/// Anti-rollback from the cluster's install record of this bundle name: a newer version
/// installed is a refusal, and so is a record or a version it cannot compare (never taken
/// for "nothing installed"), unless allowed, which is said.
async fn downgrade(
    cluster: &Cluster,
    bom: &genesis_bundle::Bom,
    allowed: bool,
) -> anyhow::Result<Option<anyhow::Error>> {
    let (reason, note) = match genesis_kube::read_record(cluster, &bom.name).await {
        Ok(None) => return Ok(None),
        Ok(Some(installed)) => match (semver::Version::parse(&installed.version), semver::Version::parse(&bom.version))
        {
            (Ok(theirs), Ok(ours)) if ours >= theirs => return Ok(None),
            (Ok(theirs), Ok(ours)) => (
                format!(
                    "{} {ours} is older than {theirs}, installed on {} (applied {})",
                    bom.name,
                    cluster.describe(),
                    installed.applied_at
                ),
                format!("downgrading {} from {theirs} to {ours}", bom.name),
            ),
            (Err(e), _) => not_compared(format!(
                "install record {}: the installed version {:?} is not a semantic version ({e})",
                installed.location(),
                installed.version
            )),
            (Ok(theirs), Err(e)) => not_compared(format!(
                "{} {:?} is not a semantic version ({e}), so it cannot be compared with {theirs}, installed on {} (install record {})",
                bom.name,
                bom.version,
                cluster.describe(),
                installed.location()
            )),
        },
        Err(e @ genesis_kube::KubeError::UnreadableRecord { .. }) => not_compared(e.to_string()),
        Err(e) => return Err(e.into()),
    };
    if allowed {
        eprintln!("! {note} (--allow-downgrade)");
        return Ok(None);
    }
    Ok(Some(anyhow::anyhow!(
        "policy refuses the bundle (antiRollback): {reason}; pass --allow-downgrade to do it anyway"
    )))
}

/// A reason anti-rollback cannot judge, and what is said when `--allow-downgrade` goes ahead.
fn not_compared(reason: String) -> (String, String) {
    let note = format!("{reason}: anti-rollback not checked");
    (reason, note)
}

/// What `--apply` did: the apply report and the objects an earlier version applied that this
/// one no longer has (reported, left in place).
struct Applied {
    report: ApplyReport,
    dropped: Vec<String>,
    cluster: String,
    /// With `--wait`: each workload's and HelmRelease's state when the wait ended.
    readiness: Vec<genesis_kube::Readiness>,
}

async fn apply_manifests(
    cluster: &Cluster,
    bundle: &dyn SignedBom,
    manifests: &[rewrite::RewrittenManifest],
    verification: &Verification,
    dry_run: bool,
) -> anyhow::Result<Applied> {
    let mut objects = Vec::new();
    for m in manifests {
        for o in &m.objects {
            objects.push(
                serde_json::to_value(o).with_context(|| format!("manifests/{}: not a JSON-shaped object", m.path))?,
            );
        }
    }
    let report = genesis_kube::apply(cluster, objects, ApplyOptions { dry_run }).await?;
    let mut dropped = Vec::new();
    if !dry_run && report.conflicts().next().is_none() {
        let bom = bundle.signed_bom();
        let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs());
        let record = InstallRecord::new(
            &bom.name,
            &bom.version,
            &bundle.bom_sha256().to_string(),
            genesis_bundle::rfc3339(now),
            verification.to_string(),
            &report.objects,
        );
        if let Some(previous) = genesis_kube::record_install(cluster, &record).await? {
            dropped = record.dropped_since(&previous);
        }
    }
    Ok(Applied { report, dropped, cluster: cluster.describe().to_owned(), readiness: Vec::new() })
}

fn report(
    args: &LoadArgs,
    summary: &genesis_registry::LoadSummary,
    verification: &Verification,
    charts: &[genesis_registry::charts::LoadedChart],
    rewritten: Option<(&std::path::PathBuf, usize)>,
    applied: Option<&Applied>,
) -> anyhow::Result<u8> {
    match args.verify.output {
        OutputFormat::Json => print_json(&serde_json::json!({
            "registry": summary.registry,
            "verification": verification.json(),
            "images": summary.images,
            "charts": charts,
            "manifestsOut": rewritten.map(|(d, n)| serde_json::json!({"dir": d, "rewrittenReferences": n})),
            "apply": applied.map(|a| serde_json::json!({
                "cluster": a.cluster, "dryRun": args.dry_run, "objects": a.report.objects, "dropped": a.dropped,
                "readiness": a.readiness,
            })),
        }))?,
        OutputFormat::Text => {
            for image in &summary.images {
                let b = &image.blobs;
                outln!(
                    "✓ {} -> {} ({} uploaded, {} mounted, {} already present; {} bytes sent)",
                    image.source,
                    image.target,
                    b.uploaded,
                    b.mounted,
                    b.present,
                    b.uploaded_bytes
                )?;
            }
            for chart in charts {
                outln!("✓ chart {} {} -> {} ({})", chart.name, chart.version, chart.url, chart.digest)?;
            }
            outln!("{} images and {} charts loaded into {}", summary.images.len(), charts.len(), summary.registry)?;
            if let Some((dir, n)) = rewritten {
                outln!("✓ manifests written to {} ({n} image references rewritten)", dir.display())?;
            }
            if let Some(a) = applied {
                print_applied(a, args.dry_run)?;
            }
        }
    }
    let failed = applied.is_some_and(|a| a.report.conflicts().next().is_some() || a.readiness.iter().any(|r| !r.ready));
    Ok(if failed { exit::VERIFICATION_FAILED } else { exit::OK })
}

fn print_applied(a: &Applied, dry_run: bool) -> anyhow::Result<()> {
    for o in &a.report.objects {
        let (mark, word) = match o.outcome {
            Outcome::Created => ("✓", "created"),
            Outcome::Configured => ("✓", "configured"),
            Outcome::Unchanged => ("=", "unchanged"),
            Outcome::Conflict => ("✗", "conflict"),
        };
        let would = if dry_run && o.outcome != Outcome::Conflict { " (dry run)" } else { "" };
        outln!("{mark} {} {word}{would}", o.display_name())?;
        if let Some(note) = &o.note {
            outln!("    {note}")?;
        }
        if let Some(c) = &o.conflict {
            outln!(
                "    {c} — not forced: resolve the ownership (or drop the field from the other manager) and load again"
            )?;
        }
        if let Some(result) = &o.result {
            out!("{}", serde_yaml_ng::to_string(result)?)?;
            outln!("---")?;
        }
    }
    for d in &a.dropped {
        outln!("! {d} is no longer in this bundle (left in place)")?;
    }
    for r in &a.readiness {
        outln!("{} {} {}", if r.ready { "✓" } else { "✗" }, r.object, r.detail)?;
    }
    if a.report.unchanged() && !a.report.objects.is_empty() {
        outln!("no change: {} already matches this bundle", a.cluster)?;
    } else {
        let count = |x| a.report.objects.iter().filter(|o| o.outcome == x).count();
        outln!(
            "applied to {}: {} created, {} configured, {} unchanged, {} conflicts",
            a.cluster,
            count(Outcome::Created),
            count(Outcome::Configured),
            count(Outcome::Unchanged),
            count(Outcome::Conflict)
        )?;
    }
    Ok(())
}
