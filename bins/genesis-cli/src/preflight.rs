//! `genesis preflight -f preflight.yaml`: a PASS/WARN/FAIL table with causes and remedies;
//! exit 1 on any FAIL (or DEGRADED: a Service the file names that the API server cannot
//! resolve). Nothing is remediated.

use std::path::PathBuf;

use anyhow::Context as _;
use genesis_cli_support::{OutputFormat, exit, outln, print_json};
use genesis_preflight::{ApiResolver, PreflightSpec, Report, Status, run};

/// [`genesis_preflight::Remedy::ClusterCredentials`] in this binary's words.
const CLUSTER_CREDENTIALS: &str = "pass --kubeconfig or set KUBECONFIG";

/// Arguments of `preflight`.
#[derive(Debug, clap::Args)]
pub struct PreflightArgs {
    /// The preflight file: what to check (postgres, redis, dns, tls, registry, disk).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: PathBuf,
    /// For the `kubernetes` checks and the Services the file names: the kubeconfig (else
    /// KUBECONFIG, else the in-cluster service account).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// Runs the checks: exit 0 when none failed or was degraded, 1 otherwise.
pub fn run_checks(args: &PreflightArgs) -> anyhow::Result<u8> {
    let spec = PreflightSpec::load(&args.file)?;
    let mut endpoints = spec.endpoints();
    if spec.needs_api_server() {
        endpoints.push("the Kubernetes API server (--kubeconfig, KUBECONFIG or the in-cluster service account)".into());
    }
    genesis_cli_support::announce_endpoints("genesis preflight", &endpoints);
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    let kubeconfig = args.kubeconfig.as_deref();
    let checks = runtime.block_on(run(&spec, kubeconfig, &ApiResolver::new(kubeconfig)));
    match args.output {
        OutputFormat::Json => print_json(&Report::new(&checks, CLUSTER_CREDENTIALS))?,
        OutputFormat::Text => {
            let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
            for c in &checks {
                outln!("{}  {:width$}  {}", c.status, c.name, c.detail)?;
                let step = c.remedy.step(CLUSTER_CREDENTIALS);
                if !step.is_empty() {
                    outln!("      {:width$}  remedy: {}", "", step)?;
                }
            }
            let count = |s| checks.iter().filter(|c| c.status == s).count();
            let degraded = match count(Status::Degraded) {
                0 => String::new(),
                n => format!(", {n} degraded"),
            };
            outln!(
                "{} passed, {} warnings, {} failed{degraded}",
                count(Status::Pass),
                count(Status::Warn),
                count(Status::Fail)
            )?;
        }
    }
    let ready = checks.iter().all(|c| matches!(c.status, Status::Pass | Status::Warn));
    Ok(if ready { exit::OK } else { exit::VERIFICATION_FAILED })
}
