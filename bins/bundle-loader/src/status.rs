//! `bundle-loader status`: the bundles applied to the cluster, from their install records.

use std::path::PathBuf;

use anyhow::Context as _;
use genesis_cli_support::{OutputFormat, exit, outln, print_json};
use genesis_kube::Cluster;

/// Arguments of `status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The kubeconfig to use (else KUBECONFIG, else the in-cluster service account).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// Lists the install records.
pub fn run(args: &StatusArgs) -> anyhow::Result<u8> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    let cluster = runtime.block_on(Cluster::connect(args.kubeconfig.as_deref()))?;
    genesis_cli_support::announce_endpoints("bundle-loader", &[cluster.describe().to_owned()]);
    let records = runtime.block_on(genesis_kube::read_records(&cluster))?;
    match args.output {
        OutputFormat::Json => print_json(&serde_json::json!({ "bundles": records }))?,
        OutputFormat::Text if records.is_empty() => outln!("no bundle has been applied to {}", cluster.describe())?,
        OutputFormat::Text => {
            for r in &records {
                outln!(
                    "{} {}  applied {}  BOM {}  ({} objects)",
                    r.name,
                    r.version,
                    r.applied_at,
                    r.bom_digest,
                    r.objects.len()
                )?;
            }
        }
    }
    Ok(exit::OK)
}
