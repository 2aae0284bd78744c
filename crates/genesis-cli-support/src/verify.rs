//! `verify` and `extract`: the same one-pass verification, rendered as seed-000-style lines
//! or JSON.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use genesis_trust::{
    CheckedBundle, PublicKey, Sidecar, TrustError, TrustPolicy, UnverifiedBundle, VerifiedBundle, VerifyReport,
};

use crate::exit::{self, VERIFICATION_FAILED};
use crate::{LimitArgs, OutputFormat, print_json, progress};

/// Arguments of `verify`.
#[derive(Debug, Clone, clap::Args)]
pub struct VerifyArgs {
    /// The bundle archive (`NAME-VERSION.tar.zst`).
    pub bundle: PathBuf,
    /// Trusted public key (SPKI PEM, as cosign.pub). Repeat to trust several; one must
    /// have signed the bundle. Required unless --policy names keys: there is no default trust.
    #[arg(long = "key", value_name = "PUB", required_unless_present = "policy", conflicts_with = "policy")]
    pub keys: Vec<PathBuf>,
    /// Trust policy file (keys, accepted names, semver range, anti-rollback state).
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
    /// No progress bar.
    #[arg(long, short)]
    pub quiet: bool,
    /// Limits on the archive.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Arguments of `extract`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExtractArgs {
    /// Verification inputs.
    #[command(flatten)]
    pub verify: VerifyArgs,
    /// Where to put the payload; must not exist. It appears only once everything verified.
    #[arg(long, value_name = "DIR")]
    pub output_dir: PathBuf,
}

/// The flag of [`VerifyArgs`] that gets past a trust error, for a binary's
/// [`exit::Errors::hint`].
pub fn hint(e: &TrustError) -> Option<String> {
    matches!(e, TrustError::NoTrustedKey).then(|| "pass --key PUB".to_owned())
}

fn policy(args: &VerifyArgs) -> Result<TrustPolicy, TrustError> {
    if let Some(file) = &args.policy {
        return genesis_trust::policy_file::load(file);
    }
    let keys = args.keys.iter().map(|p| PublicKey::from_pem_file(p)).collect::<Result<Vec<_>, _>>()?;
    TrustPolicy::from_keys(keys)
}

/// Opens a bundle, verifies its BOM signature and checks its payload in one pass, with a
/// progress bar: what `serve` and `export` start with.
pub fn verify_and_check_payload(args: &VerifyArgs) -> Result<CheckedBundle, TrustError> {
    check_with_progress(verify_signature(args)?, args)
}

/// Opens a bundle and verifies its BOM signature only; the payload is still to be checked.
pub fn verify_signature(args: &VerifyArgs) -> Result<VerifiedBundle, TrustError> {
    let policy = policy(args)?;
    UnverifiedBundle::open(&args.bundle, &args.limits.limits())?.verify(&policy)
}

/// Checks the payload of a bundle whose signature verified, with a progress bar.
fn check_with_progress(bundle: VerifiedBundle, args: &VerifyArgs) -> Result<CheckedBundle, TrustError> {
    let _bar = progress::show(bundle.progress(), "verifying", args.quiet);
    bundle.check()
}

/// What a command that acts on a bundle (`load`, `serve`, `export`) does with a trust error:
/// a verification failure is printed with what was therefore not done and gives exit code
/// 1 (see [`print_refusal`]); any other error (an unreadable key, a missing file) is passed on.
pub fn report_trust_error(args: &VerifyArgs, e: TrustError, consequence: &str) -> anyhow::Result<u8> {
    if !e.is_verification_failure() {
        return Err(e).with_context(|| format!("cannot verify {}", args.bundle.display()));
    }
    Ok(print_refusal(&args.bundle, &e, consequence))
}

/// Prints on stderr that `bundle` failed verification, why, and what was therefore not done;
/// returns exit code 1.
pub fn print_refusal(bundle: &Path, reason: &dyn std::fmt::Display, consequence: &str) -> u8 {
    eprintln!("✗ {}: verification failed: {reason}\n  {consequence}", bundle.display());
    VERIFICATION_FAILED
}

fn run_verification(args: &VerifyArgs, target: Option<&Path>) -> Result<VerifyReport, TrustError> {
    let bundle = verify_signature(args)?;
    let label = if target.is_some() { "extracting" } else { "verifying" };
    let _bar = progress::show(bundle.progress(), label, args.quiet);
    match target {
        Some(dir) => bundle.extract(dir),
        None => bundle.check().map(|checked| checked.report().clone()),
    }
}

/// Runs `verify`, or `extract` when `target` is given, and renders the outcome. A
/// verification failure is reported (as text on stderr or JSON on stdout) and gives exit
/// code 1; input errors propagate.
pub fn run(args: &VerifyArgs, target: Option<&Path>) -> anyhow::Result<u8> {
    match run_verification(args, target) {
        Ok(report) => {
            match args.output {
                OutputFormat::Json => print_json(&serde_json::json!({ "verified": true, "report": report }))?,
                OutputFormat::Text => crate::out!("{}", render_text(&report))?,
            }
            Ok(exit::OK)
        }
        Err(e) if e.is_verification_failure() => {
            match args.output {
                OutputFormat::Json => print_json(&serde_json::json!({
                    "verified": false,
                    "bundle": args.bundle,
                    "error": e.to_string(),
                }))?,
                OutputFormat::Text => {
                    eprintln!("✗ {}: verification failed: {e}", args.bundle.display());
                    if target.is_some() {
                        eprintln!("  nothing was extracted");
                    }
                }
            }
            Ok(VERIFICATION_FAILED)
        }
        Err(e) => Err(e).with_context(|| format!("cannot verify {}", args.bundle.display())),
    }
}

/// The report as lines in the style of the gap-host runbook (`✓ signature OK …`).
pub fn render_text(r: &VerifyReport) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(format!("✓ signature OK (key {}) over bom.json {}", r.key, r.bom_sha256));
    line(format!("✓ BOM fingerprint blake3:{}", r.bom_blake3));
    match &r.provenance {
        Some(p) => line(format!(
            "✓ SLSA provenance present (build: {}, spec {}, {} resolved dependencies)",
            p.builder_id,
            p.spec_sha256.as_deref().unwrap_or("not recorded"),
            p.dependencies
        )),
        None => line("! no SLSA provenance in the bundle".to_owned()),
    }
    match &r.sbom {
        Some(path) => line(format!("✓ SBOM present ({path}, checked against the BOM)")),
        None => line("! no SBOM in the bundle".to_owned()),
    }
    for decision in &r.policy {
        line(format!("✓ policy: {decision}"));
    }
    match &r.sha256_sidecar {
        Sidecar::Match { path } => {
            let also: String = r.sha256_listed.iter().map(|p| format!(", and {} it lists", file_name(p))).collect();
            line(format!("✓ sha256 match ({}{also})", file_name(path)))
        }
        Sidecar::Absent { path } => {
            line(format!("! no sha256 sidecar ({} not found); archive is {}", file_name(path), r.archive_sha256))
        }
    }
    match &r.signature_sidecar {
        Sidecar::Match { path } => line(format!("✓ detached signature OK ({})", file_name(path))),
        Sidecar::Absent { path } => line(format!("! no detached signature ({} not found)", file_name(path))),
    }
    match &r.cosign_bundle_sidecar {
        Sidecar::Match { path } => {
            line(format!("✓ sigstore bundle OK ({}, key-signed, no transparency log)", file_name(path)))
        }
        Sidecar::Absent { path } => line(format!("! no sigstore bundle ({} not found)", file_name(path))),
    }
    line(format!(
        "✓ {} entries match the BOM ({} bytes: {} images, {} charts, {} manifests)",
        r.files, r.payload_bytes, r.images, r.charts, r.manifests
    ));
    if let Some(dir) = &r.extracted_to {
        line(format!("✓ extracted to {}", dir.display()));
    }
    line(format!("{} {}: verified", r.name, r.version));
    out
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
}
