//! `bundle-loader load`: verify, then push every image into the cluster-local registry.

use anyhow::Context as _;
use genesis_app::registry::RegistryArgs;
use genesis_app::verify::{VerifyArgs, check_bundle};
use genesis_app::{OutputFormat, exit, print_json, progress};
use genesis_registry::{Destination, load::DEFAULT_CONCURRENCY};

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

/// Runs `load`.
pub fn run(args: &LoadArgs) -> anyhow::Result<u8> {
    genesis_app::announce_endpoints("bundle-loader", &[&args.connection.endpoint(&args.registry.host)]);
    let checked = match check_bundle(&args.verify) {
        Ok(c) => c,
        Err(e) if e.is_verification_failure() => {
            eprintln!("✗ {}: verification failed: {e}\n  nothing was loaded", args.verify.bundle.display());
            return Ok(exit::VERIFICATION_FAILED);
        }
        Err(e) => return Err(e).with_context(|| format!("cannot verify {}", args.verify.bundle.display())),
    };
    if args.verify.output == OutputFormat::Text {
        eprint!("{}", genesis_app::verify::render_text(checked.report()));
    }
    let registry = args.connection.client(&args.registry.host)?;
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let progress = genesis_bundle::Progress::default();
    let summary = {
        let _bar = progress::show(progress.clone(), "loading", args.verify.quiet);
        runtime.block_on(genesis_registry::load(&checked, &registry, &args.registry, args.concurrency, &progress))?
    };
    let rewritten = match &args.manifests_out {
        Some(dir) => {
            let map = genesis_registry::rewrite::ImageMap::from_summary(&summary);
            Some((dir, genesis_registry::rewrite::write_rewritten_manifests(&checked, &map, dir)?))
        }
        None => None,
    };
    match args.verify.output {
        OutputFormat::Json => print_json(&serde_json::json!({
            "registry": summary.registry,
            "images": summary.images,
            "manifestsOut": rewritten.as_ref().map(|(d, n)| serde_json::json!({"dir": d, "rewrittenReferences": n})),
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
            if let Some((dir, n)) = &rewritten {
                println!("✓ manifests written to {} ({n} image references rewritten)", dir.display());
            }
        }
    }
    Ok(exit::OK)
}
