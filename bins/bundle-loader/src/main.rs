//! `bundle-loader`: runs on the air-gapped side. Re-verifies a bundle (zero-trust the
//! carrier), unpacks it, or loads its images into the cluster-local registry, only once
//! everything verified. `registry …` seeds edge registries from each other (`seeding`).

// Stdout is written through `genesis_cli_support::out!`, `outln!` and `print_json`, which a
// closed pipe ends quietly; `println!` would panic.
#![deny(clippy::print_stdout)]

mod export;
mod load;
mod resolve;
mod seeding;
mod serve;
mod status;

use std::error::Error;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use genesis_bundle::BundleError;
use genesis_cli_support::tree::VerifyCommandArgs;
use genesis_cli_support::verify::{self, ExtractArgs};
use genesis_cli_support::{exit, registry, tree};
use genesis_kube::KubeError;
use genesis_registry::RegistryError;
use genesis_seed::SeedError;
use genesis_trust::TrustError;

/// Verify, unpack and load Genesis bundles, fail-closed.
#[derive(Debug, Parser)]
#[command(name = "bundle-loader", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify a bundle: BOM signature, every entry, sidecars; or with --dir a folder
    /// `extract` wrote, against the head it holds. Exit 1 on any failure.
    Verify(VerifyCommandArgs),
    /// Verify a bundle and unpack its payload, with its head (bom.json, its signature, the
    /// provenance), into a new directory, which appears only when everything verified;
    /// `verify --dir` verifies it again later.
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
    /// Seed edge registries from each other: copy, verify fail-closed, record.
    #[command(subcommand)]
    Registry(seeding::RegistryCommand),
}

/// The library errors this binary meets, for the exit code, and the flags that get past them.
const ERRORS: exit::Errors = exit::Errors {
    classes: &[
        exit::classify::<BundleError>,
        exit::classify::<TrustError>,
        exit::classify::<RegistryError>,
        exit::classify::<KubeError>,
        exit::classify::<SeedError>,
    ],
    hint,
};

/// The flag of this binary that gets past one error of a chain (library messages name none).
fn hint(cause: &(dyn Error + 'static)) -> Option<String> {
    if let Some(e) = cause.downcast_ref::<RegistryError>() {
        return registry::hint(e);
    }
    if let Some(e) = cause.downcast_ref::<TrustError>() {
        return verify::hint(e);
    }
    if let Some(e) = cause.downcast_ref::<SeedError>() {
        return seeding::hint(e);
    }
    if let Some(BundleError::OnePlatformNeeded { platforms, .. }) = cause.downcast_ref::<BundleError>() {
        return Some(format!("pass --platform (one of {platforms:?})"));
    }
    match cause.downcast_ref::<KubeError>()? {
        KubeError::NotInCluster { .. } => Some("pass --kubeconfig FILE or set KUBECONFIG".to_owned()),
        // `load` meets the registry's and the verifier's errors inside the install's.
        KubeError::Registry(e) => registry::hint(e),
        KubeError::Trust(e) => verify::hint(e),
        _ => None,
    }
}

fn main() -> ExitCode {
    genesis_cli_support::allocator::bound_arenas();
    genesis_cli_support::init_logging();
    genesis_cli_support::interrupt::install();
    let cli = Cli::parse();
    // A bundle in a bucket is read from its endpoint; the commands with more to contact
    // announce it themselves, once they know it all.
    let reads = match &cli.command {
        Command::Verify(args) => Some(&args.verify),
        Command::Extract(args) => Some(&args.verify),
        Command::Serve(args) => Some(&args.verify),
        Command::Export(args) => Some(&args.verify),
        Command::Load(_) | Command::Resolve(_) | Command::Status(_) | Command::Registry(_) => None,
    };
    if let Some(verify) = reads {
        genesis_cli_support::announce_endpoints("bundle-loader", &verify.endpoints());
    }
    exit::run(&ERRORS, || match &cli.command {
        Command::Verify(args) => tree::run(args),
        Command::Extract(args) => verify::run(&args.verify, Some(&args.output_dir)),
        Command::Load(args) => load::run(args),
        Command::Serve(args) => serve::run(args),
        Command::Resolve(args) => resolve::run(args),
        Command::Export(args) => export::run(args),
        Command::Status(args) => status::run(args),
        Command::Registry(command) => seeding::run(command),
    })
}
