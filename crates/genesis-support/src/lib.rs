//! The customer's support bundle (seed 000: "attach a redacted bundle to a ticket — pull,
//! never push"): what a vendor needs to help, collected, redacted and archived on the
//! customer's side, and never sent anywhere by this crate.
//!
//! [`collect()`] reads the cluster through its API server (read-only) and the files (or
//! bytes) the caller gives, passing every byte through a [`Redactor`] before keeping it, and
//! leaves out the lists the caller withholds (what the console's user may not read);
//! [`write_archive`] packs the result as a deterministic `.tar.gz` beside its `.sha256`.
//! The redactor replaces what its rules match by `[REDACTED:<rule>]` and counts it by rule
//! in a [`RedactionReport`], which never holds a value:
//!
//! ```
//! use genesis_support::{RedactionReport, Redactor};
//!
//! let redactor = Redactor::builtin(false);
//! let mut report = RedactionReport::default();
//! let text = redactor.redact("reach jane@example.com at 555-123-4567", &mut report);
//! assert_eq!(text, "reach [REDACTED:email] at [REDACTED:phone]");
//! assert_eq!((report.count("email"), report.count("phone"), report.total()), (1, 1, 2));
//! ```
//!
//! The whole flow, as a command or the console runs it:
//!
//! ```no_run
//! # async fn run() -> Result<(), Box<dyn std::error::Error>> {
//! use genesis_support::{Input, Options, Redactor, collect, write_archive};
//!
//! let cluster = genesis_kube::Cluster::connect(None).await?;
//! let options = Options {
//!     namespaces: vec!["demo".into()],
//!     recorded_namespaces: true,
//!     redactor: Redactor::builtin(false).with_rules_file("rules.yaml".as_ref())?,
//!     preflight: Some(Input::File("preflight.json".into())),
//!     extra_logs: Vec::new(),
//!     withheld: Default::default(),
//! };
//! let collected = collect(&cluster, &options).await?;
//! let written = write_archive(&collected.files, "support.tar.gz".as_ref())?;
//! println!("{} {}", written.sha256, collected.report.total());
//! # Ok(())
//! # }
//! ```

mod archive;
mod collect;
mod error;
mod redact;
mod tidy;

pub use archive::{Written, write_archive};
pub use collect::{
    Collected, Input, Listing, MAX_LOG, MAX_PREFLIGHT, Options, collect, installed_namespaces, is_namespace_name,
};
pub use error::{Result, SupportError};
pub use redact::{RedactionReport, Redactor, Rule};
