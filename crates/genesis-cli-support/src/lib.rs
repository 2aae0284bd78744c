//! Glue shared by the binaries, so each behaves the same way: exit codes, `--output
//! text|json`, logging, progress bars, Ctrl-C cleanup, and the `verify` and `extract` commands
//! that both `genesis` and `bundle-loader` offer. Nothing here decides trust; it renders what
//! `genesis-trust` decided.
//!
//! It links only the offline crates: each binary names the library error types it links for
//! the exit-code table ([`exit::Errors`]), and the registry connection flags are behind the
//! `registry` feature, so no binary links a library through this crate that it does not use.
//!
//! ```
//! use genesis_cli_support::{exit, outln};
//!
//! /// The library errors this binary meets, and the flags that get past them.
//! const ERRORS: exit::Errors = exit::Errors {
//!     classes: &[exit::classify::<genesis_bundle::BundleError>, exit::classify::<genesis_trust::TrustError>],
//!     hint: exit::no_hint,
//! };
//!
//! fn main() -> std::process::ExitCode {
//!     exit::run(&ERRORS, || {
//!         outln!("done")?;
//!         Ok(exit::OK)
//!     })
//! }
//! ```

// Stdout is written through `out!`, `outln!` and `print_json`, which a closed pipe ends
// quietly; `println!` would panic.
#![deny(clippy::print_stdout)]

pub mod exit;
pub mod interrupt;
pub mod password;
pub mod progress;
#[cfg(feature = "registry")]
pub mod registry;
pub mod verify;

use std::io::Write as _;
use std::sync::OnceLock;

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

/// The endpoints this run announced, for the JSON report.
static ANNOUNCED: OnceLock<Vec<String>> = OnceLock::new();

/// Says, before the first connection and whatever `RUST_LOG` says, every out-of-boundary
/// endpoint this run may contact, so that an operator can audit egress from the first line:
/// one line on stderr in a stable format (README.md, "Network endpoints"),
/// `TOOL: network: this run contacts only A, B` or `TOOL: network: this run contacts nothing`.
/// JSON reports carry the same list ([`print_json`]). Call it once per run.
pub fn announce_endpoints(tool: &str, endpoints: &[String]) {
    eprintln!("{}", announcement(tool, endpoints));
    let _ = ANNOUNCED.set(endpoints.to_vec());
}

fn announcement(tool: &str, endpoints: &[String]) -> String {
    match endpoints {
        [] => format!("{tool}: network: this run contacts nothing"),
        _ => format!("{tool}: network: this run contacts only {}", endpoints.join(", ")),
    }
}

/// Writes to stdout. A reader that went away (`| head`, `| true`) ends the output quietly:
/// the rest is dropped and the command keeps its own exit code, so a failed verification
/// still exits 1 and only a finished command 0. Any other write error (a full disk behind
/// `>`) is returned. `println!` would panic instead: the binaries print through [`out!`] and
/// [`outln!`].
pub fn write_stdout(text: std::fmt::Arguments<'_>) -> std::io::Result<()> {
    match std::io::stdout().lock().write_fmt(text) {
        Err(e) if e.kind() == std::io::ErrorKind::BrokenPipe => Ok(()),
        written => written,
    }
}

/// `print!` through [`write_stdout`]: an `std::io::Result<()>`, never a panic.
#[macro_export]
macro_rules! out {
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!($($arg)*))
    };
}

/// `println!` through [`write_stdout`]: an `std::io::Result<()>`, never a panic.
#[macro_export]
macro_rules! outln {
    () => {
        $crate::write_stdout(format_args!("\n"))
    };
    ($($arg:tt)*) => {
        $crate::write_stdout(format_args!("{}\n", format_args!($($arg)*)))
    };
}

/// Prints a report as pretty JSON on stdout (through [`write_stdout`]). A report that is a
/// JSON object also carries `endpoints`: the list this run announced it may contact.
pub fn print_json(report: &impl serde::Serialize) -> std::io::Result<()> {
    /// The report's own fields, then `endpoints`.
    #[derive(serde::Serialize)]
    struct WithEndpoints<'a, T> {
        #[serde(flatten)]
        report: &'a T,
        endpoints: &'a [String],
    }
    let text = match ANNOUNCED.get() {
        Some(endpoints) if serde_json::to_value(report)?.is_object() => {
            serde_json::to_string_pretty(&WithEndpoints { report, endpoints })?
        }
        _ => serde_json::to_string_pretty(report)?,
    };
    outln!("{text}")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_announcement_is_one_line_naming_every_endpoint_or_nothing() {
        assert_eq!(announcement("genesis", &[]), "genesis: network: this run contacts nothing");
        assert_eq!(
            announcement("bundle-loader", &["http://127.0.0.1:5000".into(), "https://10.0.0.1:6443/".into()]),
            "bundle-loader: network: this run contacts only http://127.0.0.1:5000, https://10.0.0.1:6443/"
        );
    }
}
