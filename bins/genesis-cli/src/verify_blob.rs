//! `genesis verify-blob`: cosign's flags, for auditors checking any artifact offline.

use std::path::PathBuf;

use anyhow::Context as _;
use genesis_app::{OutputFormat, exit, print_json};
use genesis_trust::sigstore::{LogPolicy, verify_bundle, verify_dsse};
use genesis_trust::{PublicKey, TrustError, decode_signature};

/// Arguments of `verify-blob` (cosign's names).
#[derive(Debug, clap::Args)]
pub struct VerifyBlobArgs {
    /// The artifact.
    pub file: PathBuf,
    /// Public key (SPKI PEM, e.g. cosign.pub).
    #[arg(long, value_name = "PUB", required_unless_present = "certificate_identity")]
    pub key: Option<PathBuf>,
    /// Detached signature (base64 or DER), as `cosign sign-blob` writes it.
    #[arg(long, value_name = "SIG", conflicts_with = "bundle", required_unless_present = "bundle")]
    pub signature: Option<PathBuf>,
    /// Sigstore bundle (v0.1–v0.3) or DSSE envelope.
    #[arg(long, value_name = "BUNDLE")]
    pub bundle: Option<PathBuf>,
    /// Accept a bundle without transparency-log entry or timestamp (the air-gap key mode).
    /// Nothing then proves when the signature was made or that it was published.
    #[arg(long)]
    pub insecure_ignore_tlog: bool,
    /// Keyless: the expected certificate identity (not available in this version).
    #[arg(long, requires = "certificate_oidc_issuer")]
    pub certificate_identity: Option<String>,
    /// Keyless: the expected OIDC issuer.
    #[arg(long)]
    pub certificate_oidc_issuer: Option<String>,
    /// Keyless: the pinned trusted_root.json.
    #[arg(long)]
    pub trusted_root: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

fn verdict(args: &VerifyBlobArgs) -> anyhow::Result<Result<serde_json::Value, TrustError>> {
    let Some(key_path) = &args.key else {
        anyhow::bail!("keyless verification (--certificate-identity) is not available in this version; use --key");
    };
    let key = PublicKey::from_pem_file(key_path)?;
    let artifact = std::fs::read(&args.file).with_context(|| format!("reading {}", args.file.display()))?;
    if let Some(sig) = &args.signature {
        let text = std::fs::read(sig).with_context(|| format!("reading {}", sig.display()))?;
        let checked = decode_signature(&text, &sig.display().to_string()).and_then(|der| {
            if key.verifies(&artifact, &der) {
                Ok(serde_json::json!({"key": key.fingerprint(), "content": "signature"}))
            } else {
                Err(TrustError::SidecarSignatureInvalid { path: sig.clone(), tried: key.fingerprint().to_string() })
            }
        });
        return Ok(checked);
    }
    let path = args.bundle.as_ref().expect("clap requires --signature or --bundle");
    let doc: serde_json::Value =
        serde_json::from_slice(&std::fs::read(path).with_context(|| format!("reading {}", path.display()))?)
            .with_context(|| format!("{} is not JSON", path.display()))?;
    if doc.get("payloadType").is_some() {
        return Ok(verify_dsse(&doc, &key, Some(&artifact))
            .map(|t| serde_json::json!({"key": key.fingerprint(), "content": format!("dsseEnvelope ({t})")})));
    }
    let log = if args.insecure_ignore_tlog { LogPolicy::IgnoreUnsafe } else { LogPolicy::Require };
    Ok(verify_bundle(&doc, &artifact, &key, log).map(|v| serde_json::to_value(v).expect("json")))
}

/// Runs `verify-blob`: exit 0 verified, 1 refused, 2 bad input.
pub fn run(args: &VerifyBlobArgs) -> anyhow::Result<u8> {
    match verdict(args)? {
        Ok(v) => {
            match args.output {
                OutputFormat::Json => print_json(&serde_json::json!({"verified": true, "report": v}))?,
                OutputFormat::Text => println!(
                    "✓ Verified OK ({}, key {})",
                    v["content"].as_str().unwrap_or_default(),
                    v["key"].as_str().unwrap_or_default()
                ),
            }
            Ok(exit::OK)
        }
        Err(e) => {
            match args.output {
                OutputFormat::Json => print_json(&serde_json::json!({"verified": false, "error": e.to_string()}))?,
                OutputFormat::Text => eprintln!("✗ {}: {e}", args.file.display()),
            }
            Ok(exit::VERIFICATION_FAILED)
        }
    }
}
