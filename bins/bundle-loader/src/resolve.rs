//! `bundle-loader resolve`: the layered resolver from the command line.

use std::path::PathBuf;

use anyhow::Context as _;
use genesis_cli_support::{OutputFormat, exit, outln, print_json};
use genesis_registry::resolver::{Resolver, ResolverConfig};

/// Arguments of `resolve`.
#[derive(Debug, clap::Args)]
pub struct ResolveArgs {
    /// The image reference to resolve, as manifests write it.
    pub reference: String,
    /// Resolver configuration (YAML: local, fallbacks, audit).
    #[arg(long, value_name = "FILE")]
    pub config: PathBuf,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// Runs `resolve`.
pub fn run(args: &ResolveArgs) -> anyhow::Result<u8> {
    let config = ResolverConfig::load(&args.config)?;
    let resolver = Resolver::new(&config)?;
    let endpoints = resolver.endpoints();
    genesis_cli_support::announce_endpoints("bundle-loader", &endpoints);
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    let resolution = runtime.block_on(resolver.resolve(&args.reference))?;
    match args.output {
        OutputFormat::Json => print_json(&resolution)?,
        OutputFormat::Text => {
            let via = resolution.signed_by.as_ref().map(|k| format!(", signature by {k}")).unwrap_or_default();
            outln!("{} -> {} ({:?} layer{via})", resolution.reference, resolution.resolved, resolution.layer)?;
        }
    }
    Ok(exit::OK)
}
