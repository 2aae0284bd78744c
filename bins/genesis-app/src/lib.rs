//! Glue shared by the three binaries, so each behaves the same way: exit codes, `--output
//! text|json`, logging, Ctrl-C cleanup, and the `verify` and `extract` commands that both
//! `genesis` and `bundle-loader` offer. Nothing here decides trust; it renders what
//! `genesis-trust` decided.

pub mod exit;
pub mod interrupt;
pub mod password;
pub mod progress;
pub mod registry;
pub mod verify;

use std::io::Write;

use clap::ValueEnum;

/// How a command reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum OutputFormat {
    /// Lines for a human.
    #[default]
    Text,
    /// One JSON document on stdout.
    Json,
}

/// Limits on untrusted archives, as flags.
#[derive(Debug, Clone, clap::Args)]
pub struct LimitArgs {
    /// Largest bom.json accepted, in bytes.
    #[arg(long, default_value_t = genesis_bundle::Limits::default().max_bom_size)]
    pub max_bom_size: u64,
    /// Most entries in the archive.
    #[arg(long, default_value_t = genesis_bundle::Limits::default().max_entries)]
    pub max_entries: u64,
    /// Largest decompressed size, in bytes.
    #[arg(long, default_value_t = genesis_bundle::Limits::default().max_total_size)]
    pub max_total_size: u64,
    /// Largest decompressed/compressed ratio.
    #[arg(long, default_value_t = genesis_bundle::Limits::default().max_ratio)]
    pub max_ratio: u64,
}

impl LimitArgs {
    /// The library limits these flags describe.
    pub fn limits(&self) -> genesis_bundle::Limits {
        genesis_bundle::Limits {
            max_bom_size: self.max_bom_size,
            max_entries: self.max_entries,
            max_total_size: self.max_total_size,
            max_ratio: self.max_ratio,
            ..genesis_bundle::Limits::default()
        }
    }
}

/// Sets up `tracing` on stderr, filtered by `RUST_LOG` (default `warn`).
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    let _ =
        tracing_subscriber::fmt().with_env_filter(filter).with_writer(std::io::stderr).with_target(false).try_init();
}

/// Logs, before any work, every out-of-boundary endpoint this run may contact, so an
/// operator can audit egress from the first log line. An empty list is logged as `none`.
pub fn announce_endpoints(tool: &str, endpoints: &[&str]) {
    let list = if endpoints.is_empty() { "none".to_owned() } else { endpoints.join(", ") };
    tracing::info!(tool, endpoints = %list, "network endpoints this run may contact: {list}");
}

/// Prints a value as pretty JSON on stdout.
pub fn print_json(value: &impl serde::Serialize) -> std::io::Result<()> {
    let mut out = std::io::stdout().lock();
    serde_json::to_writer_pretty(&mut out, value)?;
    writeln!(out)
}
