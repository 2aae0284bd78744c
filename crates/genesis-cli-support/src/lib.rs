//! Glue shared by the binaries, so each behaves the same way: exit codes, `--output
//! text|json`, logging, progress bars, Ctrl-C cleanup, and the `verify` and `extract` commands
//! that both `genesis` and `bundle-loader` offer, and what the commands that split a bundle
//! into parts share. Nothing here decides trust; it renders what
//! `genesis-trust` decided.
//!
//! It links only the offline crates: each binary names the library error types it links for
//! the exit-code table ([`exit::Errors`]), and the registry connection flags and the server
//! limit flags are behind the `registry` and `server` features, so no binary links a library
//! through this crate that it does not use.
//!
//! ```
//! use genesis_cli_support::{exit, outln, verify};
//! use genesis_trust::TrustError;
//!
//! /// The library errors this binary meets, and the flags that get past them.
//! const ERRORS: exit::Errors = exit::Errors {
//!     classes: &[exit::classify::<genesis_bundle::BundleError>, exit::classify::<TrustError>],
//!     hint,
//! };
//!
//! /// The flag of this binary that gets past one error of a chain.
//! fn hint(cause: &(dyn std::error::Error + 'static)) -> Option<String> {
//!     cause.downcast_ref::<TrustError>().and_then(verify::hint)
//! }
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

pub use genesis_allocator as allocator;
pub mod bucket;
pub mod exit;
pub mod interrupt;
pub mod password;
pub mod policy;
pub mod progress;
#[cfg(feature = "registry")]
pub mod registry;
#[cfg(feature = "server")]
pub mod server;
pub mod split;
pub mod tree;
pub mod verify;

use std::io::Write as _;
use std::sync::{Mutex, PoisonError};

use clap::ValueEnum;
use tracing_subscriber::Layer as _;
use tracing_subscriber::filter::{FilterExt as _, LevelFilter, Targets};
use tracing_subscriber::layer::SubscriberExt as _;
use tracing_subscriber::util::SubscriberInitExt as _;

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

/// Sets up `tracing` on stderr, filtered by `RUST_LOG` (default `warn`), and the
/// announcement of the endpoints libraries learn while the run goes on, which no filter hides.
pub fn init_logging() {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("warn"));
    // Announcements are printed once, as announcements, not logged again.
    let not_announcements =
        Targets::new().with_default(LevelFilter::TRACE).with_target(genesis_types::EGRESS_TARGET, LevelFilter::OFF);
    let log = tracing_subscriber::fmt::layer()
        .with_writer(std::io::stderr)
        .with_target(false)
        .with_filter(filter.and(not_announcements));
    let _ = tracing_subscriber::registry().with(log).with(learned_endpoints()).try_init();
}

/// What this run announced: the tool's name and the endpoints it contacts, for the JSON
/// report. `None` until the first announcement.
static ANNOUNCED: Mutex<Option<Announced>> = Mutex::new(None);

struct Announced {
    /// Empty until [`announce_endpoints`].
    tool: String,
    endpoints: Vec<String>,
}

/// Says, before the first connection and whatever `RUST_LOG` says, every out-of-boundary
/// endpoint this run may contact, so that an operator can audit egress from the first line:
/// one line on stderr in a stable format (README.md, "Network endpoints"),
/// `TOOL: network: this run contacts only A, B` or `TOOL: network: this run contacts nothing`.
/// JSON reports carry the same list ([`print_json`]), with the endpoints learned on the way
/// (see [`init_logging`]). Call it once per run.
pub fn announce_endpoints(tool: &str, endpoints: &[String]) {
    eprintln!("{}", announcement(tool, endpoints));
    *ANNOUNCED.lock().unwrap_or_else(PoisonError::into_inner) =
        Some(Announced { tool: tool.to_owned(), endpoints: endpoints.to_vec() });
}

/// Names an endpoint learned while the run goes on (a token service a registry names, a
/// chart host an index names, where a redirect leads), before it is contacted: one line on
/// stderr, `TOOL: network: WHY`, and an entry in the JSON report's `endpoints`. An endpoint
/// already named is not named again. Libraries announce theirs as `tracing` events under
/// [`genesis_types::EGRESS_TARGET`], which [`init_logging`] sends here.
fn announce_learned(endpoint: &str, why: &str) {
    let mut announced = ANNOUNCED.lock().unwrap_or_else(PoisonError::into_inner);
    let announced = announced.get_or_insert_with(|| Announced { tool: String::new(), endpoints: Vec::new() });
    if announced.endpoints.iter().any(|e| e == endpoint) {
        return;
    }
    announced.endpoints.push(endpoint.to_owned());
    match announced.tool.as_str() {
        "" => eprintln!("network: {why}"),
        tool => eprintln!("{tool}: network: {why}"),
    }
}

/// The endpoints announced so far, once the run announced its own.
fn announced_endpoints() -> Option<Vec<String>> {
    let announced = ANNOUNCED.lock().unwrap_or_else(PoisonError::into_inner);
    announced.as_ref().filter(|a| !a.tool.is_empty()).map(|a| a.endpoints.clone())
}

/// The layer that hands the events under [`genesis_types::EGRESS_TARGET`] to
/// [`announce_learned`], whatever `RUST_LOG` says.
fn learned_endpoints<S>() -> impl tracing_subscriber::Layer<S>
where
    S: tracing::Subscriber + for<'a> tracing_subscriber::registry::LookupSpan<'a>,
{
    LearnedEndpoints.with_filter(Targets::new().with_target(genesis_types::EGRESS_TARGET, LevelFilter::WARN))
}

/// See [`learned_endpoints`].
struct LearnedEndpoints;

impl<S: tracing::Subscriber> tracing_subscriber::Layer<S> for LearnedEndpoints {
    fn on_event(&self, event: &tracing::Event<'_>, _: tracing_subscriber::layer::Context<'_, S>) {
        let mut fields = EgressFields::default();
        event.record(&mut fields);
        if let Some(endpoint) = fields.endpoint {
            announce_learned(&endpoint, &fields.message);
        }
    }
}

/// The fields of an event under [`genesis_types::EGRESS_TARGET`]: the endpoint, and the
/// message saying what it is and who named it.
#[derive(Default)]
struct EgressFields {
    endpoint: Option<String>,
    message: String,
}

impl tracing::field::Visit for EgressFields {
    fn record_str(&mut self, field: &tracing::field::Field, value: &str) {
        match field.name() {
            "endpoint" => self.endpoint = Some(value.to_owned()),
            "message" => self.message = value.to_owned(),
            _ => {}
        }
    }

    fn record_debug(&mut self, field: &tracing::field::Field, value: &dyn std::fmt::Debug) {
        match field.name() {
            "endpoint" => self.endpoint = Some(format!("{value:?}")),
            "message" => self.message = format!("{value:?}"),
            _ => {}
        }
    }
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

/// Prints a report as pretty JSON on stdout (through [`write_stdout`]): [`json_report`].
pub fn print_json(report: &impl serde::Serialize) -> std::io::Result<()> {
    let text = json_report(report)?;
    outln!("{text}")
}

/// A report as pretty JSON, as [`print_json`] prints it. A report that is a JSON object also
/// carries `endpoints`: the list this run announced it may contact.
pub fn json_report(report: &impl serde::Serialize) -> serde_json::Result<String> {
    /// The report's own fields, then `endpoints`.
    #[derive(serde::Serialize)]
    struct WithEndpoints<'a, T> {
        #[serde(flatten)]
        report: &'a T,
        endpoints: &'a [String],
    }
    match announced_endpoints() {
        Some(endpoints) if serde_json::to_value(report)?.is_object() => {
            serde_json::to_string_pretty(&WithEndpoints { report, endpoints: &endpoints })
        }
        _ => serde_json::to_string_pretty(report),
    }
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

    #[test]
    fn an_endpoint_a_library_learns_is_named_once_and_joins_the_json_report() {
        use tracing_subscriber::layer::SubscriberExt as _;
        announce_endpoints("genesis", &["https://registry.example".into()]);
        let subscriber = tracing_subscriber::registry().with(learned_endpoints());
        tracing::subscriber::with_default(subscriber, || {
            for _ in 0..2 {
                tracing::warn!(
                    target: genesis_types::EGRESS_TARGET,
                    endpoint = "https://auth.example",
                    "contacting token service https://auth.example named by registry registry.example"
                );
            }
            tracing::warn!(endpoint = "https://elsewhere.example", "a warning of another target");
        });
        let report: serde_json::Value = serde_json::from_str(&json_report(&serde_json::json!({})).unwrap()).unwrap();
        assert_eq!(report["endpoints"], serde_json::json!(["https://registry.example", "https://auth.example"]));
    }
}
