//! `genesis report`: verify a bundle as `genesis verify` does, then write its release evidence
//! report (`genesis-report`, decision 0028), a PDF or one HTML page. A bundle that fails
//! verification gets no report.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use genesis_bundle::BundleLocation;
use genesis_cli_support::policy::PolicySource;
use genesis_cli_support::verify::{VerifyArgs, render_text, report_trust_error, trust, verify_and_check_payload_with};
use genesis_cli_support::{OutputFormat, exit, outln, print_json};
use genesis_report::{Format, default_path, policy_of_files, write_report};

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

/// Runs `report`: exit 0 written, 1 verification refused (and nothing written); a target that
/// is the bundle, one of its sidecars or the report its `.sha256` lists is refused (exit 2).
pub fn run(args: &ReportArgs) -> anyhow::Result<u8> {
    let format = if args.html { Format::Html } else { Format::Pdf };
    let bundle = args.verify.bundle();
    // A split bundle's report and sidecars are named after its archive, whichever of its
    // files was given.
    let location = BundleLocation::of(bundle);
    let archive = location.archive();
    let target = args.output_file.clone().unwrap_or_else(|| default_path(archive, format));
    // The report must not take the place of what it reports on.
    let (sha256, sig) = genesis_trust::sidecar_paths(archive);
    let protected = [
        (bundle.to_path_buf(), "the bundle itself"),
        (archive.to_path_buf(), "the bundle itself"),
        (genesis_bundle::manifest_path(archive), "the bundle's parts manifest"),
        (sha256, "the bundle's .sha256 sidecar"),
        (sig, "the bundle's .sig sidecar"),
        (genesis_trust::cosign_bundle_path(archive), "the bundle's .cosign.bundle sidecar"),
    ];
    if let Some((_, what)) = protected.iter().find(|(path, _)| same_path(path, &target)) {
        anyhow::bail!(
            "{} is {what}: a report there would replace it; write it elsewhere with -o FILE",
            target.display()
        );
    }
    let trust = match trust(&args.verify) {
        Ok(t) => t,
        Err(e) => return report_trust_error(&args.verify, e, "no report was written"),
    };
    let checked = match verify_and_check_payload_with(&args.verify, &trust) {
        Ok(c) => c,
        Err(e) => return report_trust_error(&args.verify, e, "no report was written"),
    };
    // The vendor's report, which the release's `.sha256` lists and the verification just
    // checked, is not replaced: this report names another policy, and the list would fail.
    if checked.report().sha256_listed.iter().any(|listed| same_path(listed, &target)) {
        anyhow::bail!(
            "{} is the release's own report, listed in its .sha256: writing another there would break that list; \
             write this one elsewhere with -o FILE",
            target.display()
        );
    }
    // The policy found without flags is named as a given one is.
    let policy = match &trust.source {
        Some(PolicySource::File(file)) => policy_of_files(Some(file), &[]),
        Some(PolicySource::Embedded(name)) => {
            format!("{} (embedded in the binary)", policy_of_files(Some(Path::new(name)), &[]))
        }
        None => policy_of_files(None, &args.verify.keys),
    };
    let written = write_report(&checked, &policy, &target, format)
        .with_context(|| format!("writing the report of {}", bundle.display()))?;
    match args.verify.output {
        OutputFormat::Json => print_json(&serde_json::json!({ "written": written }))?,
        OutputFormat::Text => {
            eprint!("{}", render_text(checked.report()));
            outln!("wrote {}", written.display())?;
        }
    }
    Ok(exit::OK)
}

/// Whether `a` and `b` name the same file, however each is spelt (`./`, `..`, a symbolic
/// link): each is canonicalized where it exists, and otherwise its folder is.
fn same_path(a: &Path, b: &Path) -> bool {
    resolved(a) == resolved(b)
}

/// `path` made absolute and free of links: itself when it exists, else its folder with its
/// name; as given when neither exists.
fn resolved(path: &Path) -> PathBuf {
    if let Ok(path) = std::fs::canonicalize(path) {
        return path;
    }
    let folder = match path.parent() {
        Some(folder) if !folder.as_os_str().is_empty() => folder,
        _ => Path::new("."),
    };
    match (std::fs::canonicalize(folder), path.file_name()) {
        (Ok(folder), Some(name)) => folder.join(name),
        _ => path.to_owned(),
    }
}
