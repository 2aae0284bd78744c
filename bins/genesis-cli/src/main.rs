//! `genesis`: the gap-host and auditor tool: `verify` and `verify-blob` (offline and
//! fail-closed), and `preflight` (is the environment ready for an install).

mod preflight;
mod verify_blob;

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use genesis_app::verify::{self, VerifyArgs};

/// Genesis air-gap delivery: verify bundles before they cross the boundary.
#[derive(Debug, Parser)]
#[command(name = "genesis", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Verify a bundle offline: BOM signature, every entry against the BOM, and the
    /// .sha256/.sig sidecars when present. Exit 1 on any failure.
    Verify(VerifyArgs),
    /// Verify any artifact against a cosign signature, a sigstore bundle or a DSSE envelope,
    /// with a public key, offline (cosign's flag names).
    VerifyBlob(verify_blob::VerifyBlobArgs),
    /// Check that the environment is ready for an install: PostgreSQL, Redis, DNS, TLS
    /// chains, the registry, disk space. PASS/WARN/FAIL with remedies; exit 1 on any FAIL.
    Preflight(preflight::PreflightArgs),
}

fn main() -> ExitCode {
    genesis_app::init_logging();
    genesis_app::interrupt::install();
    let cli = Cli::parse();
    if !matches!(cli.command, Command::Preflight(_)) {
        genesis_app::announce_endpoints("genesis", &[]);
    }
    genesis_app::exit::run(|| match &cli.command {
        Command::Verify(args) => verify::run(args, None),
        Command::VerifyBlob(args) => verify_blob::run(args),
        Command::Preflight(args) => preflight::run_checks(args),
    })
}
