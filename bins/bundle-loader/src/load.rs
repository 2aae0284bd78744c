//! `bundle-loader load`: verify, then push every image into the cluster-local registry.

use anyhow::Context as _;
use genesis_app::registry::RegistryArgs;
use genesis_app::verify::{VerifyArgs, check_verified, refuse, refused, verify_signature};
use genesis_app::{OutputFormat, exit, print_json, progress};
use genesis_registry::{Destination, RegistryError, load::DEFAULT_CONCURRENCY};

/// Arguments of `load`.
#[derive(Debug, clap::Args)]
pub struct LoadArgs {
    /// Verification inputs.
    #[command(flatten)]
    pub verify: VerifyArgs,
    /// Destination: HOST[:PORT][/PREFIX]. Images keep their repository path under PREFIX.
    #[arg(long, value_name = "HOST[:PORT][/PREFIX]")]
    pub registry: Destination,
    /// Connection settings.
    #[command(flatten)]
    pub connection: RegistryArgs,
    /// Blobs uploaded at once per image.
    #[arg(long, default_value_t = DEFAULT_CONCURRENCY)]
    pub concurrency: usize,
    /// After loading, write the bundle's manifests here with every carried image rewritten
    /// to `HOST/REPO@sha256:…` (originals kept in the `genesis.dev/original-images`
    /// annotation), ready for `kubectl apply -f`. The directory must not exist.
    #[arg(long, value_name = "DIR")]
    pub manifests_out: Option<std::path::PathBuf>,
}

const NOT_LOADED: &str = "nothing was loaded";

/// Runs `load`: verify the BOM signature; if the registry already has every blob, push the
/// manifests (checked against the signed digests) without reading the payload; otherwise
/// check the whole bundle first, then push what is missing.
pub fn run(args: &LoadArgs) -> anyhow::Result<u8> {
    genesis_app::announce_endpoints("bundle-loader", &[&args.connection.endpoint(&args.registry.host)]);
    let verified = match verify_signature(&args.verify) {
        Ok(v) => v,
        Err(e) => return refuse(&args.verify, e, NOT_LOADED),
    };
    let registry = args.connection.client(&args.registry.host)?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let present = match runtime.block_on(genesis_registry::load_if_present(&verified, &registry, &args.registry)) {
        Err(e @ (RegistryError::DigestMismatch { .. } | RegistryError::Bundle(_))) => {
            return Ok(refused(&args.verify.bundle, &e, NOT_LOADED));
        }
        other => other?,
    };
    let summary = match present {
        Some(summary) => {
            eprintln!(
                "✓ signature OK (key {}); every blob is already in {}: payload not re-read",
                verified.key(),
                summary.registry
            );
            verified.mark_installed()?;
            if let Some(dir) = &args.manifests_out {
                let map = genesis_registry::rewrite::ImageMap::from_summary(&summary);
                let n = genesis_registry::rewrite::write_rewritten_manifests(&verified, &map, dir)?;
                return report(args, &summary, Some((dir, n)));
            }
            summary
        }
        None => {
            let checked = match check_verified(verified, &args.verify) {
                Ok(c) => c,
                Err(e) => return refuse(&args.verify, e, NOT_LOADED),
            };
            if args.verify.output == OutputFormat::Text {
                eprint!("{}", genesis_app::verify::render_text(checked.report()));
            }
            let progress = genesis_bundle::Progress::default();
            let _bar = progress::show(progress.clone(), "loading", args.verify.quiet);
            let summary = runtime.block_on(genesis_registry::load(
                &checked,
                &registry,
                &args.registry,
                args.concurrency,
                &progress,
            ))?;
            checked.mark_installed()?;
            if let Some(dir) = &args.manifests_out {
                let map = genesis_registry::rewrite::ImageMap::from_summary(&summary);
                let n = genesis_registry::rewrite::write_rewritten_manifests(&checked, &map, dir)?;
                return report(args, &summary, Some((dir, n)));
            }
            summary
        }
    };
    report(args, &summary, None)
}

fn report(
    args: &LoadArgs,
    summary: &genesis_registry::LoadSummary,
    rewritten: Option<(&std::path::PathBuf, usize)>,
) -> anyhow::Result<u8> {
    match args.verify.output {
        OutputFormat::Json => print_json(&serde_json::json!({
            "registry": summary.registry,
            "images": summary.images,
            "manifestsOut": rewritten.map(|(d, n)| serde_json::json!({"dir": d, "rewrittenReferences": n})),
        }))?,
        OutputFormat::Text => {
            for image in &summary.images {
                let b = &image.blobs;
                println!(
                    "✓ {} -> {} ({} uploaded, {} mounted, {} already present; {} bytes sent)",
                    image.source, image.target, b.uploaded, b.mounted, b.present, b.uploaded_bytes
                );
            }
            println!("{} images loaded into {}", summary.images.len(), summary.registry);
            if let Some((dir, n)) = rewritten {
                println!("✓ manifests written to {} ({n} image references rewritten)", dir.display());
            }
        }
    }
    Ok(exit::OK)
}
