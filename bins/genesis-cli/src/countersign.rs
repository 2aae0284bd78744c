//! `genesis countersign`: a customer's (or an integrator's) signature over a bundle's BOM,
//! beside the archive (seed 002: co-signatures required by configuration). The bundle is
//! verified first with the operator's policy, found as `genesis verify` finds it: nobody
//! countersigns what they could not verify.

use std::path::PathBuf;

use anyhow::Context as _;
use genesis_bundle::BundleLocation;
use genesis_cli_support::{LimitArgs, OutputFormat, exit, outln, print_json};
use genesis_trust::PrivateKey;

/// Arguments of `countersign`.
#[derive(Debug, clap::Args)]
pub struct CountersignArgs {
    /// The bundle archive (`NAME-VERSION.tar.zst`), or a split one's parts manifest or a
    /// part. It is not changed: the countersignature
    /// goes to `BUNDLE.countersig/`, so the vendor's .sha256, .sig and .cosign.bundle stay
    /// valid.
    pub bundle: PathBuf,
    /// The countersigning private key: PKCS#8 PEM or a cosign encrypted key (password from
    /// GENESIS_KEY_PASSWORD or a prompt). Its public key must be one of the policy's
    /// cosigners.
    #[arg(long, value_name = "KEY")]
    pub key: PathBuf,
    /// Trust policy file the bundle is verified with first. Without it, the installed policy:
    /// the file GENESIS_POLICY names, else $XDG_CONFIG_HOME/genesis/trust.yaml (~/.config/…),
    /// else /etc/genesis/trust.yaml, else one embedded at build time.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
    /// Limits on the archive.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Runs `countersign`: exit 0 written, 1 when the bundle does not verify (nothing is
/// written), 2 for unusable input.
pub fn run(args: &CountersignArgs) -> anyhow::Result<u8> {
    let bundle = &args.bundle;
    let (policy, source) = genesis_cli_support::policy::find(args.policy.as_deref())
        .with_context(|| format!("cannot countersign {}", bundle.display()))?;
    eprintln!("policy: {source}");
    let key = PrivateKey::from_pem_file_with_password(&args.key, &genesis_cli_support::password::for_reading)?;
    // A split bundle given by its manifest or a part is countersigned beside the archive's
    // name, where every verifier looks (`ARCHIVE.countersig/`).
    let archive = BundleLocation::of(bundle);
    match genesis_trust::countersign(archive.archive(), &key, &policy, &args.limits.limits()) {
        Ok(done) => {
            match args.output {
                OutputFormat::Json => print_json(
                    &serde_json::json!({ "countersigned": true, "policy": source.to_string(), "report": done }),
                )?,
                OutputFormat::Text => outln!(
                    "✓ {} {} countersigned by {}: wrote {}",
                    done.head.name,
                    done.head.version,
                    done.countersigner,
                    done.countersignature.display()
                )?,
            }
            Ok(exit::OK)
        }
        Err(e) if e.is_verification_failure() => {
            match args.output {
                OutputFormat::Json => print_json(&serde_json::json!({
                    "countersigned": false,
                    "bundle": bundle,
                    "policy": source.to_string(),
                    "error": e.to_string(),
                }))?,
                OutputFormat::Text => {
                    eprintln!("✗ {}: not countersigned: {e}", bundle.display());
                }
            }
            Ok(exit::VERIFICATION_FAILED)
        }
        Err(e) => Err(e).with_context(|| format!("cannot countersign {}", bundle.display())),
    }
}
