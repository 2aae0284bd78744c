//! `genesis verify-blob`: cosign's flags, for auditors checking any artifact offline.

use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use genesis_cli_support::verify::KeylessArgs;
use genesis_cli_support::{OutputFormat, exit, outln, print_json};
use genesis_trust::sigstore::{LogPolicy, Needs, Signer};
use genesis_trust::{BlobEvidence, BlobPolicy, BlobVerification, PublicKey, TrustError};

/// Arguments of `verify-blob` (cosign's names).
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("signer").required(true).args(["key", "certificate_identity", "certificate_identity_regexp"])))]
pub struct VerifyBlobArgs {
    /// The artifact.
    pub file: PathBuf,
    /// Public key (SPKI PEM, e.g. cosign.pub).
    #[arg(long, value_name = "PUB")]
    pub key: Option<PathBuf>,
    /// Detached signature (base64 or DER), as `cosign sign-blob` writes it.
    #[arg(long, value_name = "SIG", conflicts_with = "bundle", required_unless_present = "bundle", requires = "key")]
    pub signature: Option<PathBuf>,
    /// Sigstore bundle (v0.1–v0.3), cosign's legacy bundle, or a DSSE envelope.
    #[arg(long, value_name = "BUNDLE")]
    pub bundle: Option<PathBuf>,
    /// Accept a bundle without transparency-log entry or timestamp (the air-gap key mode).
    /// Nothing then proves when the signature was made or that it was published.
    #[arg(long)]
    pub insecure_ignore_tlog: bool,
    /// The keyless signer (instead of --key), and the pinned root, also needed for any bundle
    /// whose log entry or timestamp is verified. The `signer` group keeps it apart from --key.
    #[command(flatten)]
    pub keyless: KeylessArgs,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

fn read(path: &Path) -> anyhow::Result<Vec<u8>> {
    std::fs::read(path).with_context(|| format!("reading {}", path.display()))
}

/// The evidence the flags name: the detached signature, or the bundle or DSSE envelope.
fn evidence(args: &VerifyBlobArgs, key: Option<&PublicKey>) -> anyhow::Result<BlobEvidence> {
    if let Some(sig) = &args.signature {
        return Ok(BlobEvidence::Signature { bytes: read(sig)?, path: sig.clone() });
    }
    let path = args.bundle.as_ref().expect("clap requires --signature or --bundle");
    let doc = serde_json::from_slice(&read(path)?).with_context(|| format!("{} is not JSON", path.display()))?;
    let evidence = BlobEvidence::from_json(doc);
    if evidence.needs_key() && key.is_none() {
        bail!("{} is a bare DSSE envelope: it carries no certificate, so verify it with --key", path.display());
    }
    Ok(evidence)
}

/// The library's verdict on the artifact; an error for inputs that cannot be read.
fn verdict(args: &VerifyBlobArgs) -> anyhow::Result<Result<BlobVerification, TrustError>> {
    let key = args.key.as_deref().map(PublicKey::from_pem_file).transpose()?;
    let identity = args.keyless.identity()?;
    let root = args.keyless.root()?;
    let artifact = read(&args.file)?;
    let evidence = evidence(args, key.as_ref())?;
    let signer = match (&key, &identity) {
        (Some(key), _) => Signer::Key(key),
        (None, Some(identity)) => Signer::Identity(identity),
        (None, None) => unreachable!("clap requires a signer"),
    };
    let log = if args.insecure_ignore_tlog { LogPolicy::IgnoreUnsafe } else { LogPolicy::Require };
    let policy = BlobPolicy { signer, root: root.as_ref(), log };
    Ok(genesis_trust::verify_blob(&artifact, evidence, &policy))
}

/// The flag that gets past a refusal, printed under it (library messages name no flags).
fn hint(e: &TrustError) -> Option<&'static str> {
    match e {
        TrustError::BundleNeeds(Needs::Identity) => Some("pass --certificate-identity and --certificate-oidc-issuer"),
        TrustError::BundleNeeds(Needs::Key) => Some("pass --key"),
        TrustError::BundleNeeds(Needs::LogIgnored) => Some("pass --insecure-ignore-tlog"),
        TrustError::BundleNeeds(Needs::Root) => Some("pass --trusted-root trusted_root.json"),
        _ => None,
    }
}

/// Runs `verify-blob`: exit 0 verified, 1 refused, 2 bad input.
pub fn run(args: &VerifyBlobArgs) -> anyhow::Result<u8> {
    match verdict(args)? {
        Ok(v) => {
            match args.output {
                OutputFormat::Json => print_json(&serde_json::json!({"verified": true, "report": v}))?,
                OutputFormat::Text => {
                    outln!("✓ Verified OK ({}, {})", v.content(), v.signer())?;
                    if let Some(time) = v.integrated_time() {
                        outln!("✓ transparency log entry verified (integrated {time})")?;
                    }
                }
            }
            Ok(exit::OK)
        }
        Err(e) => {
            match args.output {
                OutputFormat::Json => {
                    let mut report = serde_json::json!({"verified": false, "error": e.to_string()});
                    if let Some(hint) = hint(&e) {
                        report["hint"] = hint.into();
                    }
                    print_json(&report)?;
                }
                OutputFormat::Text => {
                    eprintln!("✗ {}: {e}", args.file.display());
                    if let Some(hint) = hint(&e) {
                        eprintln!("  hint: {hint}");
                    }
                }
            }
            Ok(exit::VERIFICATION_FAILED)
        }
    }
}
