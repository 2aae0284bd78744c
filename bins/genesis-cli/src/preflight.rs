//! `genesis preflight -f preflight.yaml`: a PASS/WARN/FAIL table with causes and remedies;
//! exit 1 on any FAIL. Nothing is remediated.

use std::path::PathBuf;

use anyhow::Context as _;
use genesis_cli_support::{OutputFormat, exit, outln, print_json};
use genesis_preflight::{PreflightSpec, Status, run};

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
    let spec = PreflightSpec::load(&args.file).map_err(anyhow::Error::msg)?;
    let endpoints = spec.endpoints();
    genesis_cli_support::announce_endpoints("genesis preflight", &endpoints);
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    let checks = runtime.block_on(run(&spec, args.kubeconfig.as_deref()));
    match args.output {
        OutputFormat::Json => print_json(&serde_json::json!({ "checks": checks }))?,
        OutputFormat::Text => {
            let width = checks.iter().map(|c| c.name.len()).max().unwrap_or(0);
            for c in &checks {
                outln!("{}  {:width$}  {}", c.status, c.name, c.detail)?;
                if !c.remedy.is_empty() {
                    outln!("      {:width$}  remedy: {}", "", c.remedy)?;
                }
            }
            let count = |s| checks.iter().filter(|c| c.status == s).count();
            outln!("{} passed, {} warnings, {} failed", count(Status::Pass), count(Status::Warn), count(Status::Fail))?;
        }
    }
    Ok(if checks.iter().any(|c| c.status == Status::Fail) { exit::VERIFICATION_FAILED } else { exit::OK })
}
