//! `bundle-loader`: runs on the air-gapped side. Re-verifies a bundle (zero-trust the
//! carrier) and unpacks it only once everything verified.

use std::process::ExitCode;

use clap::{Parser, Subcommand};
use genesis_app::verify::{self, ExtractArgs, VerifyArgs};

/// Verify and unpack Genesis bundles, offline and fail-closed.
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
}

fn main() -> ExitCode {
    genesis_app::init_logging("bundle-loader");
    genesis_app::interrupt::install();
    let cli = Cli::parse();
    genesis_app::exit::run(|| match &cli.command {
        Command::Verify(args) => verify::run(args, None),
        Command::Extract(args) => verify::run(&args.verify, Some(&args.output_dir)),
    })
}
