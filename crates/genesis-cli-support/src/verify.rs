//! `verify` and `extract`: the same one-pass verification, rendered as seed-000-style lines
//! or JSON.

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use genesis_trust::sigstore::{CertificateIdentity, SubjectMatcher, TrustedRoot};
use genesis_trust::{
    AcceptedSigner, CheckedBundle, HeadReport, Keyless, PartsReport, PublicKey, Sidecar, TrustError, TrustPolicy,
    UnverifiedBundle, VerifiedBundle, VerifyReport,
};

use crate::exit::{self, VERIFICATION_FAILED};
use crate::policy::PolicySource;
use crate::{LimitArgs, OutputFormat, print_json, progress};

/// Arguments of `verify`.
#[derive(Debug, Clone, clap::Args)]
#[command(group(root_needs_identity()))]
pub struct VerifyArgs {
    /// The bundle archive (`NAME-VERSION.tar.zst`); for a split bundle, its parts manifest
    /// (`NAME-VERSION.tar.zst.parts.json`), a part, or the archive's name beside its parts:
    /// the parts are read in place, each checked against its SHA-256.
    // Optional only to `verify --dir` (`crate::tree::VerifyCommandArgs`), which reads a
    // folder instead; read it with `VerifyArgs::bundle`.
    #[arg(required = true)]
    pub bundle: Option<PathBuf>,
    /// Trusted public key (SPKI PEM, as cosign.pub). Repeat to trust several; one must
    /// have signed the bundle. Without --key, a keyless identity and --policy, the installed
    /// policy is used: the file GENESIS_POLICY names, else
    /// $XDG_CONFIG_HOME/genesis/trust.yaml (~/.config/…), else /etc/genesis/trust.yaml, else
    /// one embedded at build time; with none, the command refuses: there is no default trust.
    #[arg(long = "key", value_name = "PUB", conflicts_with = "policy")]
    pub keys: Vec<PathBuf>,
    /// A keyless signer the bundle may be signed by instead (or beside --key), as cosign
    /// names it.
    #[command(flatten)]
    pub keyless: KeylessArgs,
    /// Trust policy file (keys, bundle identities, accepted names, semver range, anti-rollback
    /// state).
    #[arg(long, value_name = "FILE", conflicts_with_all = KEYLESS_FLAGS)]
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
    /// How the bucket of an `s3://BUCKET/PREFIX/NAME.tar.zst` bundle is reached: it is read
    /// in place by ranged GETs, nothing written locally before the verdict.
    #[command(flatten)]
    pub bucket: crate::bucket::BucketArgs,
}

impl VerifyArgs {
    /// The bundle archive. Every command that takes these arguments requires it, except
    /// `verify --dir`, which verifies a folder instead and never reads this.
    pub fn bundle(&self) -> &Path {
        self.bundle.as_deref().unwrap_or(Path::new(""))
    }

    /// What reading the bundle contacts: its bucket's endpoint, or nothing.
    pub fn endpoints(&self) -> Vec<String> {
        self.bucket.endpoints(self.bundle())
    }

    /// Opens the bundle: a file, parts, or (`s3://…`) an archive in a bucket.
    pub fn open(&self) -> Result<UnverifiedBundle, TrustError> {
        let limits = self.limits.limits();
        if crate::bucket::in_bucket(self.bundle()) {
            return UnverifiedBundle::open_file(self.bucket.open(self.bundle())?, &limits);
        }
        UnverifiedBundle::open(self.bundle(), &limits)
    }
}

/// The ids of [`KeylessArgs`]' flags, which a policy file replaces.
pub const KEYLESS_FLAGS: [&str; 4] =
    ["certificate_identity", "certificate_identity_regexp", "certificate_oidc_issuer", "trusted_root"];

/// The group of [`KeylessArgs`]' identity flags (`--certificate-identity` or `-regexp`),
/// which the issuer and the root require.
const CERTIFICATE_SUBJECT: &str = "certificate_subject";

/// `--trusted-root` without an identity flag, refused when the command line is read rather
/// than ignored: for a command whose root serves only a keyless identity (every one but
/// `verify-blob`, where it also checks a key-signed bundle's log entry).
pub fn root_needs_identity() -> clap::ArgGroup {
    clap::ArgGroup::new("root_needs_identity").arg("trusted_root").requires(CERTIFICATE_SUBJECT)
}

/// cosign's flags for a keyless signer (`cosign verify-blob --certificate-identity …`): a
/// Fulcio certificate's SAN and OIDC issuer, checked with its log entry or timestamp offline
/// against the pinned sigstore root. Every command that verifies takes them the same way.
/// The issuer without an identity flag is refused when the command line is read, and so is
/// the root with [`root_needs_identity`].
#[derive(Debug, Clone, Default, clap::Args)]
#[command(group(
    clap::ArgGroup::new(CERTIFICATE_SUBJECT).args(["certificate_identity", "certificate_identity_regexp"])
))]
pub struct KeylessArgs {
    /// Keyless: the certificate's identity (SAN), exactly.
    #[arg(
        long,
        value_name = "ID",
        conflicts_with = "certificate_identity_regexp",
        requires_all = ["certificate_oidc_issuer", "trusted_root"]
    )]
    pub certificate_identity: Option<String>,
    /// Keyless: a regular expression the whole SAN must match (anchored at both ends).
    #[arg(long, value_name = "REGEX", requires_all = ["certificate_oidc_issuer", "trusted_root"])]
    pub certificate_identity_regexp: Option<String>,
    /// Keyless: the OIDC issuer recorded in the certificate, exactly.
    #[arg(long, value_name = "ISS", requires = CERTIFICATE_SUBJECT)]
    pub certificate_oidc_issuer: Option<String>,
    /// The pinned sigstore trusted_root.json (Fulcio, Rekor, CT logs, TSAs): keyless
    /// certificates and log entries are checked against it, never against anything fetched.
    #[arg(long, value_name = "ROOT")]
    pub trusted_root: Option<PathBuf>,
}

impl KeylessArgs {
    /// The identity the flags name (`--certificate-identity` or `-regexp`, with the issuer),
    /// `None` without one; a pattern that is not a regular expression is refused.
    pub fn identity(&self) -> Result<Option<CertificateIdentity>, TrustError> {
        let subject = match (&self.certificate_identity, &self.certificate_identity_regexp) {
            (Some(exact), _) => SubjectMatcher::Exact(exact.clone()),
            (None, Some(pattern)) => SubjectMatcher::regex(pattern)?,
            (None, None) => return Ok(None),
        };
        let issuer = self.certificate_oidc_issuer.clone().expect("clap requires the issuer with an identity");
        Ok(Some(CertificateIdentity { subject, issuer }))
    }

    /// The root `--trusted-root` names, read.
    pub fn root(&self) -> Result<Option<TrustedRoot>, TrustError> {
        self.trusted_root.as_deref().map(TrustedRoot::from_file).transpose()
    }

    /// The keyless signer the flags name, with its root; `None` without an identity.
    pub fn keyless(&self) -> Result<Option<Keyless>, TrustError> {
        let Some(identity) = self.identity()? else { return Ok(None) };
        let root = self.root()?.expect("clap requires --trusted-root with an identity");
        Ok(Some(Keyless { identities: vec![identity], root }))
    }
}

/// Arguments of `extract`.
#[derive(Debug, Clone, clap::Args)]
pub struct ExtractArgs {
    /// Verification inputs.
    #[command(flatten)]
    pub verify: VerifyArgs,
    /// Where to put the payload and the head it was verified against (bom.json, its
    /// signature, the provenance), for `verify --dir`; must not exist. It appears only once
    /// everything verified.
    #[arg(long, value_name = "DIR")]
    pub output_dir: PathBuf,
}

/// The flag of [`VerifyArgs`] that gets past a trust error, for a binary's
/// [`exit::Errors::hint`].
pub fn hint(e: &TrustError) -> Option<String> {
    match e {
        TrustError::NoTrustedKey => Some(
            "pass --key PUB, or --certificate-identity ID --certificate-oidc-issuer ISS --trusted-root ROOT".to_owned(),
        ),
        TrustError::NoPolicy { .. } => Some(
            "pass --key PUB, a keyless identity (--certificate-identity, --certificate-oidc-issuer, --trusted-root) \
             or --policy FILE, or install a policy at one of the places looked at"
                .to_owned(),
        ),
        _ => None,
    }
}

/// What a run verifies with: the keys `--key` names and the keyless identity of cosign's
/// flags, or a policy, and where it came from.
#[derive(Debug)]
pub struct Trust {
    /// The signers and constraints a bundle must satisfy.
    pub policy: TrustPolicy,
    /// Where the policy came from (`None` for `--key` and the keyless flags).
    pub source: Option<PolicySource>,
}

/// The trust `args` name: the keys of `--key` and the identity of `--certificate-identity`
/// (with its issuer and `--trusted-root`), the file of `--policy`, or with none of them the
/// installed or embedded policy ([`crate::policy::find`]). A policy's source is printed on
/// stderr (`policy: /etc/genesis/trust.yaml`) before anything is verified with it.
pub fn trust(args: &VerifyArgs) -> Result<Trust, TrustError> {
    let keyless = args.keyless.keyless()?;
    if !args.keys.is_empty() || keyless.is_some() {
        let keys = args
            .keys
            .iter()
            .map(|p| Ok((PublicKey::from_pem_file(p)?, None)))
            .collect::<Result<Vec<_>, TrustError>>()?;
        return Ok(Trust { policy: TrustPolicy::from_signers(keys, keyless)?, source: None });
    }
    let (policy, source) = crate::policy::find(args.policy.as_deref())?;
    eprintln!("policy: {source}");
    Ok(Trust { policy, source: Some(source) })
}

/// Opens a bundle, verifies its BOM signature and checks its payload in one pass, with a
/// progress bar: what `serve` and `export` start with.
pub fn verify_and_check_payload(args: &VerifyArgs) -> Result<CheckedBundle, TrustError> {
    check_with_progress(verify_signature(args)?, args)
}

/// [`verify_and_check_payload`] with the trust already chosen ([`trust`]), for a command that
/// also reports which policy it verified with.
pub fn verify_and_check_payload_with(args: &VerifyArgs, trust: &Trust) -> Result<CheckedBundle, TrustError> {
    check_with_progress(verify_with(args, &trust.policy)?, args)
}

/// Opens a bundle and verifies its BOM signature only; the payload is still to be checked.
pub fn verify_signature(args: &VerifyArgs) -> Result<VerifiedBundle, TrustError> {
    verify_with(args, &trust(args)?.policy)
}

fn verify_with(args: &VerifyArgs, policy: &TrustPolicy) -> Result<VerifiedBundle, TrustError> {
    args.open()?.verify(policy)
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
        return Err(e).with_context(|| format!("cannot verify {}", args.bundle().display()));
    }
    Ok(print_refusal(args.bundle(), &e, consequence))
}

/// Prints on stderr that `bundle` failed verification, why, and what was therefore not done;
/// returns exit code 1.
pub fn print_refusal(bundle: &Path, reason: &dyn std::fmt::Display, consequence: &str) -> u8 {
    eprintln!("✗ {}: verification failed: {reason}\n  {consequence}", bundle.display());
    VERIFICATION_FAILED
}

fn run_verification(
    args: &VerifyArgs,
    policy: &TrustPolicy,
    target: Option<&Path>,
) -> Result<VerifyReport, TrustError> {
    let bundle = verify_with(args, policy)?;
    let label = if target.is_some() { "extracting" } else { "verifying" };
    let _bar = progress::show(bundle.progress(), label, args.quiet);
    match target {
        Some(dir) => bundle.extract(dir),
        None => bundle.check().map(|checked| checked.report().clone()),
    }
}

/// Runs `verify`, or `extract` when `target` is given, and renders the outcome. A
/// verification failure is reported (as text on stderr or JSON on stdout) and gives exit
/// code 1; input errors propagate. JSON names the policy used (`"policy"`, null for
/// `--key`).
pub fn run(args: &VerifyArgs, target: Option<&Path>) -> anyhow::Result<u8> {
    let subject = Subject { field: "bundle", path: args.bundle() };
    let trust = trust(args).with_context(|| format!("cannot verify {}", subject.path.display()))?;
    let not_done = target.map(|_| "nothing was extracted");
    let verified = run_verification(args, &trust.policy, target);
    report_outcome(args, &subject, trust.source.as_ref(), verified, render_text, not_done)
}

/// What was verified, as a JSON failure report names it (`"bundle"` or `"dir"`).
pub(crate) struct Subject<'a> {
    pub field: &'static str,
    pub path: &'a Path,
}

/// Renders the outcome of verifying `subject` with the policy from `source` (`None` for
/// `--key`): the report as text or JSON and exit 0; a verification failure reported (text
/// on stderr, with `not_done` below it, or JSON on stdout) and exit 1; any other error
/// propagated. Shared by bundles and extracted trees.
pub(crate) fn report_outcome<R: serde::Serialize>(
    args: &VerifyArgs,
    subject: &Subject<'_>,
    source: Option<&PolicySource>,
    verified: Result<R, TrustError>,
    text: fn(&R) -> String,
    not_done: Option<&str>,
) -> anyhow::Result<u8> {
    let policy = source.map(ToString::to_string);
    match verified {
        Ok(report) => {
            match args.output {
                OutputFormat::Json => {
                    print_json(&serde_json::json!({ "verified": true, "policy": policy, "report": report }))?
                }
                OutputFormat::Text => crate::out!("{}", text(&report))?,
            }
            Ok(exit::OK)
        }
        Err(e) if e.is_verification_failure() => {
            let part = match &e {
                TrustError::Bundle(b) => b.part_to_copy_again(),
                _ => None,
            };
            match args.output {
                OutputFormat::Json => print_json(&serde_json::json!({
                    "verified": false,
                    subject.field: subject.path,
                    "policy": policy,
                    "error": e.to_string(),
                    "partToCopyAgain": part,
                }))?,
                OutputFormat::Text => {
                    eprintln!("✗ {}: verification failed: {e}", subject.path.display());
                    if let Some(not_done) = not_done {
                        eprintln!("  {not_done}");
                    }
                }
            }
            Ok(VERIFICATION_FAILED)
        }
        Err(e) => Err(e).with_context(|| format!("cannot verify {}", subject.path.display())),
    }
}

/// The head's lines (signature, fingerprint, expiry, provenance, SBOM, scan, policy), found
/// `within` a bundle or a tree: what both reports share in `head`, with the expiry and the
/// scan each keeps beside it ([`HeadReport`] says why). Each line is escaped
/// ([`genesis_bundle::escape_controls`]): a keyless signer's identity is its certificate's
/// text, and a newline or an escape sequence in it would print as the verifier's own words.
pub(crate) fn head_lines(
    h: &HeadReport,
    expires: Option<&str>,
    scan: Option<&genesis_bundle::ScanSummary>,
    within: &str,
) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&genesis_bundle::escape_controls(&s));
        out.push('\n');
    };
    line(match &h.signer {
        AcceptedSigner::Key { fingerprint } => {
            format!("✓ signature OK (key {fingerprint}) over bom.json {}", h.bom_sha256)
        }
        AcceptedSigner::Identity { subject, issuer } => {
            format!("✓ cosign verify OK (identity: {subject}, issuer: {issuer}) over bom.json {}", h.bom_sha256)
        }
    });
    for countersigner in &h.countersigners {
        line(format!("✓ countersignature OK ({countersigner}) over the same bom.json"));
    }
    line(format!("✓ BOM fingerprint blake3:{}", h.bom_blake3));
    if let Some(expires) = expires {
        line(format!("✓ not expired (the signed BOM expires {expires})"));
    }
    match &h.provenance {
        Some(p) => line(format!(
            "✓ SLSA provenance present (build: {}, spec {}, {} resolved dependencies)",
            p.builder_id,
            p.spec_sha256.as_deref().unwrap_or("not recorded"),
            p.dependencies
        )),
        None => line(format!("! no SLSA provenance in the {within}")),
    }
    match &h.sbom {
        Some(path) => line(format!("✓ SBOM present ({path}, checked against the BOM)")),
        None => line(format!("! no SBOM in the {within}")),
    }
    match scan {
        Some(scan) => line(scan_line(scan)),
        None => line(format!("! no vulnerability scan recorded in the {within}'s BOM")),
    }
    for decision in &h.policy {
        line(format!("✓ policy: {decision}"));
    }
    for ignored in &h.ignored {
        line(format!("! {ignored}"));
    }
    out
}

/// The recorded scan in one line: its verdict, its date and database, and its counts.
fn scan_line(scan: &genesis_bundle::ScanSummary) -> String {
    let counts = scan.counts_line();
    let database = scan.database.newest_modified.as_deref().unwrap_or("of unknown date");
    let gaps = match scan.gaps {
        0 => String::new(),
        n => format!("; {n} gaps in the package inventory allowed"),
    };
    let expiry = match scan.first_expiry.as_deref() {
        Some(when) if genesis_bundle::parse_rfc3339(when).is_none_or(|t| t <= genesis_bundle::unix_now()) => {
            format!("; an exception expired on {when}, since the build: a policy requiring this scan counts it again")
        }
        Some(when) => format!("; the first exception expires on {when}"),
        None => String::new(),
    };
    format!(
        "{} vulnerability scan as of {} {} (failOn {}): {counts} without an exception, {} excepted; {} packages, OSV database {database} ({}){gaps}{expiry}",
        if scan.passed { "✓" } else { "✗" },
        scan.as_of,
        if scan.passed { "passed" } else { "FAILED" },
        scan.fail_on,
        scan.excepted,
        scan.packages,
        scan.database.digest,
    )
}

/// The report as lines in the style of the gap-host runbook (`✓ signature OK …`).
pub fn render_text(r: &VerifyReport) -> String {
    let mut out = head_lines(&r.head, r.expires.as_deref(), r.scan.as_ref(), "bundle");
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    if let Some(parts) = &r.parts {
        line(parts_line(parts));
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
    match (&r.cosign_bundle_sidecar, &r.cosign_bundle_identity) {
        (Sidecar::Match { path }, Some(signer)) => {
            line(format!("✓ sigstore bundle OK ({}, keyless: {signer}, logged)", file_name(path)))
        }
        (Sidecar::Match { path }, None) => {
            line(format!("✓ sigstore bundle OK ({}, key-signed, no transparency log)", file_name(path)))
        }
        (Sidecar::Absent { path }, _) => line(format!("! no sigstore bundle ({} not found)", file_name(path))),
    }
    line(format!(
        "✓ {} entries match the BOM ({} bytes: {} images, {} charts, {} manifests)",
        r.files, r.payload_bytes, r.images, r.charts, r.manifests
    ));
    if let Some(dir) = &r.extracted_to {
        line(format!("✓ extracted to {}", dir.display()));
    }
    if let Some(requires) = &r.requires {
        // Decision 0043: what the destination must hold before this bundle loads.
        line(genesis_bundle::escape_controls(&format!(
            "! delta bundle: load {} first ({} blobs, {} bytes, left out: `load` finds them in the registry)",
            requires.base, requires.blobs, requires.bytes
        )));
    }
    line(format!("{} {}: verified", r.head.name, r.head.version));
    out
}

/// The line of a split bundle read in place (decision 0042): how many parts, and whether a
/// signature over the parts manifest verified (then the parts' hashes prove the archive) or
/// not (then the whole archive was hashed too, and checked against the manifest and the
/// archive's own sidecars).
fn parts_line(parts: &PartsReport) -> String {
    let how = if parts.signed {
        let files: Vec<String> = [&parts.signature_sidecar, &parts.cosign_bundle_sidecar]
            .into_iter()
            .filter_map(|s| match s {
                Sidecar::Match { path } => Some(file_name(path)),
                Sidecar::Absent { .. } => None,
            })
            .collect();
        let by = match &parts.cosign_bundle_identity {
            Some(signer) => format!("keyless: {signer}"),
            None => "a key the policy trusts".to_owned(),
        };
        format!("manifest signed by {by}: {}", files.join(", "))
    } else {
        "manifest unsigned: archive hashed too".to_owned()
    };
    genesis_bundle::escape_controls(&format!("✓ parts: {} read in place, each checked ({how})", parts.parts))
}

fn file_name(p: &Path) -> String {
    p.file_name().map_or_else(|| p.display().to_string(), |n| n.to_string_lossy().into_owned())
}

#[cfg(test)]
mod tests {
    use genesis_bundle::{ScanDatabase, ScanSummary};
    use genesis_types::Severity;

    use super::scan_line;

    fn summary(first_expiry: Option<&str>, gaps: u64) -> ScanSummary {
        ScanSummary {
            as_of: "2025-01-01T00:00:00Z".into(),
            database: ScanDatabase { digest: "sha256:0d".into(), newest_modified: None, records: 1 },
            packages: 3,
            fail_on: Severity::High,
            counts: [(Severity::Medium, 1)].into(),
            excepted: 1,
            gaps,
            passed: true,
            first_expiry: first_expiry.map(str::to_owned),
        }
    }

    /// The verdict shown is the builder's; the line says when an exception it rested on has
    /// lapsed since, which a policy requiring the scan judges again.
    #[test]
    fn the_scan_line_says_when_an_exception_lapses_and_which_gaps_were_allowed() {
        let line = scan_line(&summary(Some("2000-01-01T00:00:00Z"), 0));
        assert!(line.contains("an exception expired on 2000-01-01T00:00:00Z, since the build"), "{line}");
        let line = scan_line(&summary(Some("2999-01-01T00:00:00Z"), 2));
        assert!(
            line.ends_with(
                "; 2 gaps in the package inventory allowed; the first exception expires on 2999-01-01T00:00:00Z"
            ),
            "{line}"
        );
        let line = scan_line(&summary(None, 0));
        assert!(line.ends_with("OSV database of unknown date (sha256:0d)"), "{line}");
    }
}
