//! `bundle-loader`: runs on the air-gapped side. Re-verifies a bundle (zero-trust the
//! carrier), unpacks it, or loads its images into the cluster-local registry, only once
//! everything verified.

// Stdout is written through `genesis_app::out!`, `outln!` and `print_json`, which a closed
// pipe ends quietly; `println!` would panic.
#![deny(clippy::print_stdout)]

mod export;
mod load;
mod resolve;
mod serve;
mod status;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use genesis_app::verify::{self, ExtractArgs, VerifyArgs};

/// Verify, unpack and load Genesis bundles, fail-closed.
#[derive(Debug, Parser)]
#[command(name = "bundle-loader", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify a bundle: BOM signature, every entry, sidecars. Exit 1 on any failure.
    Verify(VerifyArgs),
    /// Verify a bundle and unpack its payload into a new directory, which appears only when
    /// everything verified.
    Extract(ExtractArgs),
    /// Verify a bundle, then push every image to a registry with identical manifest bytes and
    /// digests, skipping blobs the registry has.
    Load(load::LoadArgs),
    /// Verify a bundle, then serve it as a read-only OCI registry straight from the archive.
    Serve(serve::ServeArgs),
    /// Verify a bundle, then write its images as one archive a container runtime imports
    /// (`ctr images import`, `podman load`, k3s air-gap images), for clusters without a registry.
    Export(export::ExportArgs),
    /// List the bundles applied to the cluster (name, version, BOM digest, time, objects).
    Status(status::StatusArgs),
    /// Resolve an image reference through the layered resolver: the local registry, then
    /// the configured fallbacks (signed images only), then fail closed.
    Resolve(resolve::ResolveArgs),
}

fn main() -> ExitCode {
    genesis_app::init_logging();
    genesis_app::interrupt::install();
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Load(_) | Command::Resolve(_) | Command::Status(_)) {
        genesis_app::announce_endpoints("bundle-loader", &[]);
    }
    genesis_app::exit::run(|| match &cli.command {
        Command::Verify(args) => verify::run(args, None),
        Command::Extract(args) => verify::run(&args.verify, Some(&args.output_dir)),
        Command::Load(args) => load::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Resolve(args) => resolve::run(args),
        Command::Export(args) => export::run(args),
        Command::Status(args) => status::run(args),
    })
}
