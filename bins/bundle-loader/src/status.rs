//! `bundle-loader status`: the bundles applied to the cluster, from their install records:
//! each one's version, who signed it and its BOM's digests, so that what is installed, and
//! by whose signature, is audited without verifying the bundle again (seed 002).

use std::path::PathBuf;

use anyhow::Context as _;
use genesis_cli_support::{OutputFormat, exit, outln, print_json};
use genesis_kube::Cluster;
use genesis_trust::AcceptedSigner;

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
                outln!("{} {}  applied {}  ({} objects)", r.name, r.version, r.applied_at, r.objects.len())?;
                outln!("  signed by {}", signed_by(&r.signers))?;
                match r.bom_blake3.as_str() {
                    "" => outln!("  BOM {}", r.bom_digest)?,
                    blake3 => outln!("  BOM {} blake3:{blake3}", r.bom_digest)?,
                }
            }
        }
    }
    Ok(exit::OK)
}

/// Who signed an installed bundle, as its record keeps it: the vendor, then each
/// countersigner.
fn signed_by(signers: &[AcceptedSigner]) -> String {
    match signers.split_first() {
        None => "(not recorded: installed by an earlier version)".to_owned(),
        Some((vendor, [])) => vendor.to_string(),
        Some((vendor, countersigners)) => {
            let countersigners: Vec<String> = countersigners.iter().map(ToString::to_string).collect();
            format!("{vendor}, countersigned by {}", countersigners.join(", "))
        }
    }
}
