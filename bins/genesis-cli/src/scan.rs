//! `genesis scan`: the vulnerability gate before the boundary (`genesis-scan`). Either a
//! bundle, verified first, whose package SBOMs are matched against an OSV database carried
//! across the gap, or another scanner's report (trivy or grype JSON); then the same policy
//! (the severity that fails, OpenVEX exceptions, the database's age) and the same output.
//! Exit 1 when the policy fails.

use std::path::PathBuf;
use std::time::Duration;

use anyhow::Context as _;
use clap::ValueEnum;
use genesis_cli_support::verify::{
    KEYLESS_FLAGS, KeylessArgs, VerifyArgs, report_trust_error, root_needs_identity, verify_signature,
};
use genesis_cli_support::{LimitArgs, OutputFormat, exit, out, print_json};
use genesis_scan::{Database, DbInfo, Exceptions, Finding, Policy, ScanError, Severity, Verdict};
use genesis_trust::SignedBom as _;

/// How `scan` reports.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default, ValueEnum)]
pub enum ScanOutput {
    /// The table of findings and the verdict.
    #[default]
    Text,
    /// The verdict as one JSON document.
    Json,
    /// SARIF 2.1.0, for code-scanning dashboards.
    Sarif,
}

/// Arguments of `scan`.
#[derive(Debug, clap::Args)]
#[command(group(root_needs_identity()))]
pub struct ScanArgs {
    /// The bundle to scan (verified first, as `genesis verify` does its signature).
    #[arg(required_unless_present = "report", conflicts_with = "report")]
    pub bundle: Option<PathBuf>,
    /// OSV database: a per-ecosystem `all.zip` export or a folder of OSV JSON records.
    /// Repeat for several ecosystems.
    #[arg(long = "db", value_name = "DIR|ZIP", required_unless_present = "report")]
    pub databases: Vec<PathBuf>,
    /// Judge this trivy or grype JSON report instead of scanning a bundle.
    #[arg(long, value_name = "FILE", conflicts_with = "databases")]
    pub report: Option<PathBuf>,
    /// The severity from which a finding without an exception fails the gate.
    #[arg(long, value_name = "SEVERITY", default_value_t = genesis_scan::DEFAULT_FAIL_ON)]
    pub fail_on: Severity,
    /// Let findings of unknown severity (records with no CVSS vector and no rating) pass
    /// without an exception; by default they fail the gate whatever --fail-on says.
    #[arg(long)]
    pub allow_unknown_severity: bool,
    /// Let images whose inventory has gaps (package metadata seen but not read, as their
    /// package SBOMs' notes say) pass; by default each gap fails the gate.
    #[arg(long)]
    pub allow_incomplete_inventory: bool,
    /// OpenVEX document whose not_affected and fixed statements except findings. Repeatable.
    #[arg(long = "ignore", value_name = "VEX")]
    pub exceptions: Vec<PathBuf>,
    /// The oldest database accepted, by its newest record (`7d`, `12h`), or `none`.
    #[arg(long, value_name = "AGE", default_value = "7d", value_parser = max_age)]
    pub max_db_age: MaxAge,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    pub output: ScanOutput,
    /// Trusted public key of the bundle (as for `genesis verify`).
    #[arg(long = "key", value_name = "PUB", conflicts_with = "policy")]
    pub keys: Vec<PathBuf>,
    /// A keyless signer the bundle may be signed by (as for `genesis verify`).
    #[command(flatten)]
    pub keyless: KeylessArgs,
    /// Trust policy file of the bundle (as for `genesis verify`).
    #[arg(long, value_name = "FILE", conflicts_with_all = KEYLESS_FLAGS)]
    pub policy: Option<PathBuf>,
    /// Limits on the archive.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// `--max-db-age`: a duration, or none.
#[derive(Debug, Clone, Copy)]
pub struct MaxAge(Option<Duration>);

fn max_age(text: &str) -> Result<MaxAge, String> {
    if text == "none" {
        return Ok(MaxAge(None));
    }
    genesis_scan::parse_duration(text).map(|d| MaxAge(Some(d)))
}

/// Runs `scan`: exit 0 when the gate passes, 1 when it fails or the bundle fails
/// verification.
pub fn run(args: &ScanArgs) -> anyhow::Result<u8> {
    let exceptions = if args.exceptions.is_empty() {
        None
    } else {
        Some(Exceptions::load_all(&args.exceptions).map_err(flag_input("--ignore", &args.exceptions, VEX))?)
    };
    let policy = Policy {
        fail_on: args.fail_on,
        max_db_age: args.max_db_age.0,
        exceptions,
        allow_unknown: args.allow_unknown_severity,
        allow_incomplete: args.allow_incomplete_inventory,
    };
    let now = genesis_bundle::rfc3339(genesis_bundle::unix_now());
    let verdict = match (&args.report, &args.bundle) {
        (Some(report), _) => {
            let findings = genesis_scan::read_report(report).map_err(flag_input(
                "--report",
                std::slice::from_ref(report),
                REPORT,
            ))?;
            genesis_scan::judge(findings, &policy, None, &now)
        }
        (None, Some(bundle)) => {
            let verify = VerifyArgs {
                bundle: Some(bundle.clone()),
                keys: args.keys.clone(),
                keyless: args.keyless.clone(),
                policy: args.policy.clone(),
                output: if args.output == ScanOutput::Text { OutputFormat::Text } else { OutputFormat::Json },
                quiet: true,
                limits: args.limits.clone(),
                bucket: Default::default(),
            };
            let Some(scanned) = scan_bundle(&verify, &args.databases, policy.allow_incomplete)? else {
                return Ok(exit::VERIFICATION_FAILED);
            };
            let mut verdict = genesis_scan::judge(scanned.findings, &policy, Some(scanned.db), &now);
            verdict.refuse_unscanned(scanned.unscanned);
            verdict
        }
        (None, None) => anyhow::bail!("name a bundle to scan, or a report to judge with --report"),
    };
    render(&verdict, args.output)?;
    Ok(if verdict.passed { exit::OK } else { exit::VERIFICATION_FAILED })
}

/// What a bundle's scan found, and what it could not judge.
struct Scanned {
    findings: Vec<Finding>,
    /// What was not judged, a sentence each: packages never looked up (no OSV ecosystem, or
    /// none of its records in the database), versions that cannot be ordered, images with no
    /// package SBOM.
    unscanned: Vec<String>,
    db: DbInfo,
}

/// Verifies the bundle's signature, then matches the packages of every package SBOM it
/// carries (each checked against the signed BOM) against the databases. `None` when the
/// verification failed, which is then reported.
fn scan_bundle(verify: &VerifyArgs, databases: &[PathBuf], allow_incomplete: bool) -> anyhow::Result<Option<Scanned>> {
    let bundle = verify.bundle();
    let verified = match verify_signature(verify) {
        Ok(v) => v,
        Err(e) => return report_trust_error(verify, e, "nothing was scanned").map(|_| None),
    };
    let db = Database::open(databases).map_err(flag_input("--db", databases, DATABASE))?;
    let bom = verified.bom();
    let index = verified
        .archive_index(&verify.limits.limits())
        .with_context(|| format!("reading the package SBOMs of {} in place", bundle.display()))?;
    let mut findings = Vec::new();
    // An image the builder wrote no package SBOM for (a bundle from before the inventory)
    // has nothing to scan: said, never passed as clean.
    let mut unscanned: Vec<String> = bom
        .images
        .iter()
        .filter(|image| !bom.package_sboms().any(|sbom| sbom.describes == image.name))
        .map(|image| format!("{}: no package SBOM in the bundle, so none of its packages was scanned", image.reference))
        .collect();
    let mut scanned = 0;
    for entry in bom.package_sboms() {
        let bytes = crate::sbom::read_sbom(bom, &index, entry)?;
        let sbom = genesis_scan::packages_in_cyclonedx(&bytes, std::path::Path::new(entry.path.as_str()))?;
        let image = bom.image_label(&entry.describes, sbom.platform.as_deref());
        let scan = genesis_scan::scan(&db, &image, sbom.distro.as_ref(), &sbom.packages);
        unscanned.extend(scan.unscanned.iter().chain(&scan.unordered).map(|sentence| format!("{image}: {sentence}")));
        if !allow_incomplete {
            unscanned.extend(sbom.notes.iter().map(|note| format!("{image}: {note}")));
        }
        scanned += sbom.packages.len();
        findings.extend(scan.findings);
    }
    eprintln!(
        "✓ signature OK ({}); {scanned} packages of {} package SBOMs matched against {} OSV records",
        verified.signer(),
        bom.package_sboms().count(),
        db.records()
    );
    let db = DbInfo { digest: db.digest(), newest_modified: db.newest_modified().map(str::to_owned) };
    Ok(Some(Scanned { findings, unscanned, db }))
}

/// What `--db` takes.
const DATABASE: &str = "an OSV all.zip export or a directory of OSV JSON records";
/// What `--report` takes.
const REPORT: &str = "a trivy or grype JSON report";
/// What `--ignore` takes.
const VEX: &str = "an OpenVEX JSON document";

/// How the error of reading what `flag` named is said. When a file the flag gave (one of
/// `given`) is itself what could not be opened or read (a mistyped path, a directory for a
/// file), with the flag and what it `takes`: "--db nope: no such file or directory (give an
/// OSV all.zip export or a directory of OSV JSON records)", since the library's message
/// names the file but cannot know the flag. Any other error (a file inside a database
/// directory, a document that is not what it should be) as the library says it.
fn flag_input<'a>(flag: &'a str, given: &'a [PathBuf], takes: &'a str) -> impl FnOnce(ScanError) -> anyhow::Error + 'a {
    move |error| match error {
        ScanError::Io { path, source, .. } if given.contains(&path) => {
            let message = format!("{flag} {}: {} (give {takes})", path.display(), os_reason(&source));
            // The I/O error stays the cause, so the exit code still says what it was (4 for
            // a missing file).
            anyhow::Error::new(source).context(message)
        }
        error => error.into(),
    }
}

/// An I/O error as the rest of a message words it: the system's description in lowercase,
/// without its number ("no such file or directory", not "No such file or directory (os
/// error 2)").
fn os_reason(error: &std::io::Error) -> String {
    let text = error.to_string();
    let reason = text.split_once(" (os error ").map_or(text.as_str(), |(reason, _)| reason);
    let mut chars = reason.chars();
    chars.next().map(|first| first.to_lowercase().chain(chars).collect()).unwrap_or_default()
}

fn render(verdict: &Verdict, output: ScanOutput) -> anyhow::Result<()> {
    match output {
        ScanOutput::Text => out!("{}", genesis_scan::text(verdict))?,
        ScanOutput::Json => print_json(verdict)?,
        ScanOutput::Sarif => print_json(&genesis_scan::sarif(verdict, env!("CARGO_PKG_VERSION")))?,
    }
    Ok(())
}

#[cfg(test)]
mod tests {
    use std::path::Path;

    use super::*;

    /// The message and the causes of `error`, as `main` prints them.
    fn said(error: &anyhow::Error) -> Vec<String> {
        error.chain().map(ToString::to_string).collect()
    }

    #[test]
    fn an_input_that_cannot_be_opened_is_named_by_its_flag_with_what_the_flag_takes() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("nope");
        let given = [missing.clone()];
        let error = Database::open(&given).map_err(flag_input("--db", &given, DATABASE)).unwrap_err();
        let headline = format!(
            "--db {}: no such file or directory (give an OSV all.zip export or a directory of OSV JSON records)",
            missing.display()
        );
        assert_eq!(said(&error)[0], headline);
        assert_eq!(
            error.downcast_ref::<std::io::Error>().map(std::io::Error::kind),
            Some(std::io::ErrorKind::NotFound),
            "the cause stays, for the exit code"
        );

        let error = genesis_scan::read_report(&missing).map_err(flag_input("--report", &given, REPORT)).unwrap_err();
        assert!(said(&error)[0].starts_with("--report "), "{:?}", said(&error));
        assert!(said(&error)[0].ends_with(": no such file or directory (give a trivy or grype JSON report)"));

        // A directory where a file is wanted: read, not opened, and still the flag's input.
        let given = [dir.path().to_owned()];
        let error = Exceptions::load_all(&given).map_err(flag_input("--ignore", &given, VEX)).unwrap_err();
        assert!(said(&error)[0].starts_with(&format!("--ignore {}: ", dir.path().display())), "{:?}", said(&error));
        assert!(said(&error)[0].ends_with(" (give an OpenVEX JSON document)"), "{:?}", said(&error));
    }

    #[test]
    fn an_error_about_another_file_or_a_bad_document_is_said_as_the_library_says_it() {
        let dir = tempfile::tempdir().unwrap();
        let report = dir.path().join("report.json");
        std::fs::write(&report, "[]").unwrap();
        let given = [report.clone()];
        let error = genesis_scan::read_report(&report).map_err(flag_input("--report", &given, REPORT)).unwrap_err();
        assert!(said(&error)[0].starts_with(&report.display().to_string()), "{:?}", said(&error));
        let other = Path::new("/elsewhere");
        let error = genesis_scan::read_report(other).map_err(flag_input("--report", &given, REPORT)).unwrap_err();
        assert!(!said(&error)[0].starts_with("--report"), "{:?}", said(&error));
    }

    #[test]
    fn an_os_error_reads_as_part_of_a_sentence() {
        assert_eq!(os_reason(&std::io::Error::from_raw_os_error(2)), "no such file or directory");
        assert_eq!(os_reason(&std::io::Error::other("Disk on fire")), "disk on fire");
    }
}
