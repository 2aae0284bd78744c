//! `genesis`: the gap-host and auditor tool: `login`, `releases` and `pull` from the vendor
//! portal, `verify` and `verify-blob` (offline and fail-closed), `split` and `join` (a bundle
//! as parts for size-limited media and guards), `countersign` (a customer's
//! signature beside a verified bundle), `report` (a verified bundle's release evidence
//! report), `license verify` (offline), `preflight` (is the environment ready for an
//! install), and `support-bundle` (a redacted archive of the cluster's state for a support
//! ticket).

// Stdout is written through `genesis_cli_support::out!`, `outln!` and `print_json`, which a
// closed pipe ends quietly; `println!` would panic.
#![deny(clippy::print_stdout)]

mod countersign;
mod portal;
mod preflight;
mod push;
mod report;
mod sbom;
mod scan;
mod split;
mod support_bundle;
mod verify_blob;

use std::error::Error;
use std::process::ExitCode;

use clap::{Parser, Subcommand};
use genesis_bundle::BundleError;
use genesis_cli_support::exit;
use genesis_cli_support::tree::VerifyCommandArgs;
use genesis_cli_support::{tree, verify};
use genesis_kube::KubeError;
use genesis_portal_client::{LicenseError, PortalError};
use genesis_preflight::SpecError;
use genesis_report::ReportError;
use genesis_support::SupportError;
use genesis_trust::TrustError;

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
    /// .sha256/.sig sidecars when present; or with --dir a folder `bundle-loader extract`
    /// wrote, against the head it holds. Exit 1 on any failure.
    Verify(VerifyCommandArgs),
    /// Cut a bundle into parts of at most --part-size for media or guards with a file size
    /// limit: NAME.tar.zst.part-000 … cut between zstd frames, and the parts manifest
    /// NAME.tar.zst.parts.json (each part's size and SHA-256), signed with --key or unsigned.
    /// Every command that takes a bundle takes the manifest or a part and reads the parts in
    /// place; `cat NAME.tar.zst.part-* > NAME.tar.zst` and `sha256sum` work as well.
    Split(split::SplitArgs),
    /// Send a bundle (its archive or its parts, the manifest and the signatures beside them)
    /// into a bucket folder, s3://BUCKET/PREFIX/: the S3 staging bucket of an S3 diode. Each
    /// object is one upload that completes whole; a re-run sends only what is not there.
    /// `bundle-loader verify|extract|load s3://BUCKET/PREFIX/NAME.tar.zst` reads it in place.
    Push(push::PushArgs),
    /// Make the one archive file of a split bundle again (from its manifest, a part, or the
    /// archive's name), every part checked against the manifest before a byte is written.
    Join(split::JoinArgs),
    /// Verify a bundle's head with the installed policy (or --policy), then sign its BOM with
    /// a customer's key beside the archive, in BUNDLE.countersig/ (a key-signed sigstore
    /// bundle, no log entry): a policy that requires that signer counts it. The archive and
    /// the vendor's sidecars are not changed.
    Countersign(countersign::CountersignArgs),
    /// Verify a bundle as `verify` does, then write its release evidence report (PDF, or HTML
    /// with --html): digests, signer, checks, provenance, contents, SBOM totals, and the HIPAA
    /// Security Rule safeguards the evidence supports. A bundle that fails gets no report.
    Report(report::ReportArgs),
    /// Verify a bundle's signature, then write its SBOMs out for any scanner: one CycloneDX
    /// document of the bundle and every package inventoried in its images (or one image's,
    /// with --image), each checked against the signed BOM.
    Sbom(sbom::SbomArgs),
    /// The vulnerability gate: match every package of a verified bundle against an OSV
    /// database carried across the gap (or judge a trivy/grype report) under a policy;
    /// exit 1 when it fails, with the table of findings.
    Scan(scan::ScanArgs),
    /// Verify any artifact against a cosign signature, a sigstore bundle or a DSSE envelope,
    /// with a public key, offline (cosign's flag names).
    VerifyBlob(verify_blob::VerifyBlobArgs),
    /// Log in to the vendor portal with a license key (prompted, from stdin, or from
    /// GENESIS_LICENSE_KEY); the key is checked, then kept in the config dir (mode 0600).
    Login(portal::LoginArgs),
    /// Forget the stored license key.
    Logout,
    /// List the releases your license key is entitled to.
    Releases(portal::ReleasesArgs),
    /// Download every file of a release (bundles and their sidecars), hashed, resumable.
    Pull(portal::PullArgs),
    /// Have the portal build the air-gap bootstrap pack of a release (images as an OCI
    /// layout, charts, signatures) and download it with its .sha256.
    ExportPack(portal::ExportPackArgs),
    /// Offline license files: fetch one from the portal, verify one without network.
    #[command(subcommand)]
    License(portal::LicenseCommand),
    /// Check that the environment is ready for an install: PostgreSQL, Redis, DNS, TLS
    /// chains, the registry, disk space. PASS/WARN/FAIL with remedies; exit 1 on any FAIL.
    Preflight(preflight::PreflightArgs),
    /// Collect what a vendor needs to help (cluster version, nodes, the installed bundles'
    /// namespaces, install records, pre-flight results; Secrets by name only), every value
    /// redacted by rule, into a deterministic archive with its .sha256. Nothing is sent.
    SupportBundle(support_bundle::SupportBundleArgs),
}

/// The library errors this binary meets, for the exit code, and the flags that get past them.
const ERRORS: exit::Errors = exit::Errors {
    classes: &[
        exit::classify::<BundleError>,
        exit::classify::<TrustError>,
        exit::classify::<PortalError>,
        exit::classify::<LicenseError>,
        exit::classify::<SpecError>,
        exit::classify::<ReportError>,
        exit::classify::<KubeError>,
        exit::classify::<SupportError>,
    ],
    hint,
};

/// The flag or command of this binary that gets past one error of a chain (library messages
/// name none).
fn hint(cause: &(dyn Error + 'static)) -> Option<String> {
    if let Some(e) = cause.downcast_ref::<TrustError>() {
        return verify::hint(e);
    }
    if let Some(KubeError::NotInCluster { .. }) = cause.downcast_ref::<KubeError>() {
        return Some("pass --kubeconfig FILE or set KUBECONFIG".to_owned());
    }
    match cause.downcast_ref::<PortalError>()? {
        PortalError::Scheme { .. } => Some("plain http only to loopback or with --plain-http".to_owned()),
        PortalError::AmbiguousRelease { .. } => Some("name one with --product".to_owned()),
        PortalError::DamagedCredentials { .. } => Some("run `genesis login` again".to_owned()),
        _ => None,
    }
}

fn main() -> ExitCode {
    genesis_cli_support::allocator::bound_arenas();
    genesis_cli_support::init_logging();
    genesis_cli_support::interrupt::install();
    let cli = Cli::parse();
    // Commands with endpoints announce their own; the rest contact nothing.
    // A bundle in a bucket is read from its endpoint.
    let reads = match &cli.command {
        Command::Verify(args) => Some(&args.verify),
        Command::Report(args) => Some(&args.verify),
        Command::Sbom(args) => Some(&args.verify),
        _ => None,
    };
    if let Some(verify) = reads {
        genesis_cli_support::announce_endpoints("genesis", &verify.endpoints());
    }
    if matches!(
        cli.command,
        Command::Split(_)
            | Command::Join(_)
            | Command::Countersign(_)
            | Command::Scan(_)
            | Command::VerifyBlob(_)
            | Command::Logout
    ) {
        genesis_cli_support::announce_endpoints("genesis", &[]);
    }
    exit::run(&ERRORS, || match &cli.command {
        Command::Verify(args) => tree::run(args),
        Command::Split(args) => split::split(args),
        Command::Push(args) => push::run(args),
        Command::Join(args) => split::join(args),
        Command::Countersign(args) => countersign::run(args),
        Command::Report(args) => report::run(args),
        Command::Sbom(args) => sbom::run(args),
        Command::Scan(args) => scan::run(args),
        Command::VerifyBlob(args) => verify_blob::run(args),
        Command::Preflight(args) => preflight::run_checks(args),
        Command::SupportBundle(args) => support_bundle::run(args),
        Command::Login(args) => portal::login(args),
        Command::Logout => portal::logout(),
        Command::Releases(args) => portal::releases(args),
        Command::Pull(args) => portal::pull(args),
        Command::ExportPack(args) => portal::export_pack(args),
        Command::License(command) => portal::license(command),
    })
}
