//! `genesis report`: verify a bundle as `genesis verify` does, then write its release evidence
//! report (`genesis-report`, decision 0028), a PDF or one HTML page. A bundle that fails
//! verification gets no report.

use std::os::unix::fs::MetadataExt as _;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use genesis_cli_support::verify::{VerifyArgs, render_text, report_trust_error, verify_and_check_payload};
use genesis_cli_support::{OutputFormat, exit, outln, print_json};
use genesis_report::{Format, default_path, write_report};

/// Arguments of `report`.
#[derive(Debug, clap::Args)]
pub struct ReportArgs {
    /// Verification inputs, as for `genesis verify`.
    #[command(flatten)]
    pub verify: VerifyArgs,
    /// The report to write (atomically: it appears only when complete); default: beside the
    /// bundle, BUNDLE.report.pdf (BUNDLE.report.html with --html).
    #[arg(short = 'o', long = "output-file", value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// Write one self-contained HTML page instead of a PDF.
    #[arg(long)]
    pub html: bool,
}

/// Runs `report`: exit 0 written, 1 verification refused (and nothing written).
pub fn run(args: &ReportArgs) -> anyhow::Result<u8> {
    let checked = match verify_and_check_payload(&args.verify) {
        Ok(c) => c,
        Err(e) => return report_trust_error(&args.verify, e, "no report was written"),
    };
    let format = if args.html { Format::Html } else { Format::Pdf };
    let target = args.output_file.clone().unwrap_or_else(|| default_path(&args.verify.bundle, format));
    // The vendor's report, which the release's `.sha256` lists and the verification just
    // checked, is not replaced: this report names another policy, and the list would fail.
    if checked.report().sha256_listed.iter().any(|listed| same_file(listed, &target)) {
        anyhow::bail!(
            "{} is the release's own report, listed in its .sha256: writing another there would break that list; \
             write this one elsewhere with -o FILE",
            target.display()
        );
    }
    let written = write_report(&checked, &policy_given(&args.verify), &target, format)
        .with_context(|| format!("writing the report of {}", args.verify.bundle.display()))?;
    match args.verify.output {
        OutputFormat::Json => print_json(&serde_json::json!({ "written": written }))?,
        OutputFormat::Text => {
            eprint!("{}", render_text(checked.report()));
            outln!("wrote {}", written.display())?;
        }
    }
    Ok(exit::OK)
}

/// How the trust policy was given, as the report states it: the policy file, or the keys.
fn policy_given(args: &VerifyArgs) -> String {
    match &args.policy {
        Some(file) => format!("policy file {}", file.display()),
        None => {
            let keys: Vec<String> = args.keys.iter().map(|k| k.display().to_string()).collect();
            format!("trusted key{} {}", if keys.len() == 1 { "" } else { "s" }, keys.join(", "))
        }
    }
}

/// Whether `a` and `b` name the same existing file.
fn same_file(a: &Path, b: &Path) -> bool {
    match (std::fs::metadata(a), std::fs::metadata(b)) {
        (Ok(a), Ok(b)) => a.dev() == b.dev() && a.ino() == b.ino(),
        _ => false,
    }
}
