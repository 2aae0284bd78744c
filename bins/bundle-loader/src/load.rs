//! `bundle-loader load`: the flags become the arguments of [`genesis_kube::install`] (verify,
//! push every image into the cluster-local registry, and with `--apply` server-side apply the
//! bundle's manifests, images rewritten to that registry), whose report is printed as text or
//! JSON.

use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use anyhow::Context as _;
use genesis_bundle::{ProgressCounter, escape_controls};
use genesis_cli_support::registry::RegistryArgs;
use genesis_cli_support::verify::{self, VerifyArgs, print_refusal, report_trust_error, verify_signature};
use genesis_cli_support::{OutputFormat, exit, out, outln, print_json, progress};
use genesis_kube::{
    Applied, ApplyMode, Cluster, Evidence, InstallOptions, InstallProgress, InstallReport, InstallTarget, KubeError,
    Outcome, Refusal,
};
use genesis_registry::Destination;
use genesis_registry::load::DEFAULT_CONCURRENCY;

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

/// Runs `load`: verifies the BOM signature, installs the bundle as the flags say, and prints
/// the report. A refused bundle is reported with what was therefore not done (exit 1).
pub fn run(args: &LoadArgs) -> anyhow::Result<u8> {
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    // Connecting reads the credentials only: the cluster is first contacted by the
    // anti-rollback check, once the BOM signature verified and before any image is pushed.
    let cluster = match args.apply {
        true => Some(runtime.block_on(Cluster::connect(args.kubeconfig.as_deref()))?),
        false => None,
    };
    let mut endpoints = args.verify.endpoints();
    endpoints.push(args.connection.endpoint(&args.registry.host));
    endpoints.extend(cluster.as_ref().map(|c| c.describe().to_owned()));
    genesis_cli_support::announce_endpoints("bundle-loader", &endpoints);
    let verified = match verify_signature(&args.verify) {
        Ok(v) => v,
        Err(e) => return report_trust_error(&args.verify, e, NOT_LOADED),
    };
    let target =
        InstallTarget { registry: args.connection.client(&args.registry.host)?, destination: args.registry.clone() };
    let stderr = StderrProgress { output: args.verify.output, quiet: args.verify.quiet, bars: Mutex::new(None) };
    let installed =
        runtime.block_on(genesis_kube::install(verified, &target, cluster.as_ref(), &options(args), &stderr));
    match installed {
        Ok(report) => print_report(&report, args.verify.output),
        Err(KubeError::Refused(refusal)) => {
            // Library messages name no flag: the one that gets past anti-rollback is added here.
            const ALLOW: &str = "; pass --allow-downgrade to do it anyway";
            let (hint, not_done) = match &refusal {
                Refusal::Downgrade { .. } => (ALLOW, NOT_LOADED),
                Refusal::Overtaken { .. } => (ALLOW, "the images were loaded; nothing was applied"),
                _ => ("", NOT_LOADED),
            };
            Ok(print_refusal(args.verify.bundle(), &format!("{refusal}{hint}"), not_done))
        }
        Err(e) => Err(e.into()),
    }
}

/// The install options the flags ask for.
fn options(args: &LoadArgs) -> InstallOptions {
    let apply = match (args.dry_run, args.wait) {
        (true, _) => ApplyMode::DryRun,
        (false, true) => ApplyMode::ApplyAndWait(Duration::from_secs(args.timeout)),
        (false, false) => ApplyMode::Apply,
    };
    InstallOptions {
        concurrency: args.concurrency,
        manifests_out: args.manifests_out.clone(),
        apply,
        allow_downgrade: args.allow_downgrade,
    }
}

/// The install's progress on stderr: a bar for the payload pass and one per image (hidden
/// with `--quiet` or off a terminal), the verification in text, and a downgrade let through.
struct StderrProgress {
    output: OutputFormat,
    quiet: bool,
    bars: Mutex<Option<progress::Bar>>,
}

impl InstallProgress for StderrProgress {
    fn downgrade_allowed(&self, note: &str) {
        eprintln!("! {note} (--allow-downgrade)");
    }

    fn payload_pass_started(&self, counters: Vec<(String, ProgressCounter)>) {
        *self.bars.lock().unwrap_or_else(PoisonError::into_inner) = Some(progress::show_many(counters, self.quiet));
    }

    fn payload_pass_ended(&self) {
        self.bars.lock().unwrap_or_else(PoisonError::into_inner).take();
    }

    fn verified(&self, evidence: &Evidence<'_>) {
        let text = self.output == OutputFormat::Text;
        match evidence {
            Evidence::PayloadChecked(report) if text => eprint!("{}", verify::render_text(report)),
            Evidence::PayloadChecked(_) => {}
            Evidence::PayloadNotReread { signer, registry, attestations, verification } => {
                // Escaped, as the full report's lines are: a keyless signer is its
                // certificate's text.
                let say = |line: String| eprintln!("{}", escape_controls(&line));
                say(format!("✓ signature OK ({signer}); every blob is already in {registry}: payload not re-read"));
                if text {
                    attestations.policy.iter().for_each(|decision| say(format!("✓ policy: {decision}")));
                    attestations.ignored.iter().for_each(|ignored| say(format!("! {ignored}")));
                    say(format!("  {verification}"));
                }
            }
        }
    }
}

/// Prints the report; exit 1 when the cluster did not take everything (a conflict, a
/// workload not ready in time).
fn print_report(report: &InstallReport, output: OutputFormat) -> anyhow::Result<u8> {
    match output {
        // As a `Value`, whose keys print in the order this report always had.
        OutputFormat::Json => print_json(&serde_json::to_value(report)?)?,
        OutputFormat::Text => {
            for image in &report.images {
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
            for chart in &report.charts {
                outln!("✓ chart {} {} -> {} ({})", chart.name, chart.version, chart.url, chart.digest)?;
            }
            outln!(
                "{} images and {} charts loaded into {}",
                report.images.len(),
                report.charts.len(),
                report.registry
            )?;
            if let Some(written) = &report.manifests_out {
                outln!(
                    "✓ manifests written to {} ({} image references rewritten)",
                    written.dir.display(),
                    written.rewritten_references
                )?;
            }
            if let Some(a) = &report.apply {
                print_applied(a)?;
            }
        }
    }
    Ok(if report.succeeded() { exit::OK } else { exit::VERIFICATION_FAILED })
}

fn print_applied(a: &Applied) -> anyhow::Result<()> {
    for o in &a.report.objects {
        let (mark, word) = match o.outcome {
            Outcome::Created => ("✓", "created"),
            Outcome::Configured => ("✓", "configured"),
            Outcome::Unchanged => ("=", "unchanged"),
            Outcome::Conflict => ("✗", "conflict"),
        };
        let would = if a.dry_run && o.outcome != Outcome::Conflict { " (dry run)" } else { "" };
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
