//! `genesis preflight -f preflight.yaml`: a PASS/WARN/FAIL table with causes and remedies;
//! exit 1 on any FAIL. Nothing is remediated.

use std::path::PathBuf;

use anyhow::Context as _;
use genesis_cli_support::{OutputFormat, exit, outln, print_json};
use genesis_preflight::{Check, PreflightSpec, Remedy, Status, run};

/// Arguments of `preflight`.
#[derive(Debug, clap::Args)]
pub struct PreflightArgs {
    /// The preflight file: what to check (postgres, redis, dns, tls, registry, disk).
    #[arg(short = 'f', long = "file", value_name = "FILE")]
    pub file: PathBuf,
    /// For the `kubernetes` checks: the kubeconfig (else KUBECONFIG, else the in-cluster
    /// service account).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// Runs the checks: exit 0 when none failed, 1 otherwise.
pub fn run_checks(args: &PreflightArgs) -> anyhow::Result<u8> {
    let spec = PreflightSpec::load(&args.file)?;
    let mut endpoints = spec.endpoints();
    if spec.kubernetes.is_some() {
        endpoints.push("the Kubernetes API server (--kubeconfig, KUBECONFIG or the in-cluster service account)".into());
    }
    genesis_cli_support::announce_endpoints("genesis preflight", &endpoints);
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    let checks = runtime.block_on(run(&spec, args.kubeconfig.as_deref()));
    match args.output {
        OutputFormat::Json => {
            print_json(&serde_json::json!({ "checks": checks.iter().map(json_row).collect::<Vec<_>>() }))?
        }
        OutputFormat::Text => {
            let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
            for c in &checks {
                outln!("{}  {:width$}  {}", c.status, c.name, c.detail)?;
                let step = remedy(c);
                if !step.is_empty() {
                    outln!("      {:width$}  remedy: {}", "", step)?;
                }
            }
            let count = |s| checks.iter().filter(|c| c.status == s).count();
            outln!("{} passed, {} warnings, {} failed", count(Status::Pass), count(Status::Warn), count(Status::Fail))?;
        }
    }
    Ok(if checks.iter().any(|c| c.status == Status::Fail) { exit::VERIFICATION_FAILED } else { exit::OK })
}

/// A row of the JSON report.
fn json_row(c: &Check) -> serde_json::Value {
    serde_json::json!({ "name": c.name, "status": c.status, "detail": c.detail, "remedy": remedy(c) })
}

/// What to do about a row, in this binary's words: the library's step, or the flag the
/// library leaves to the binary (empty when nothing is to be done).
fn remedy(check: &Check) -> &str {
    match &check.remedy {
        Remedy::Nothing => "",
        Remedy::Step(step) => step,
        Remedy::ClusterCredentials => "pass --kubeconfig or set KUBECONFIG",
    }
}
