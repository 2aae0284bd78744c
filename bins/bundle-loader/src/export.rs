//! `bundle-loader export`: verify, then write the bundle's images as one archive a container
//! runtime imports (`ctr -n k8s.io images import`, `podman load`, k3s' air-gap images folder).

use std::io::BufWriter;
use std::path::PathBuf;

use anyhow::Context as _;
use genesis_bundle::RuntimeFormat;
use genesis_bundle::scratch::{AtomicFile, Durability, Mode};
use genesis_cli_support::verify::{VerifyArgs, report_trust_error};
use genesis_cli_support::{OutputFormat, exit, outln, print_json};
use genesis_types::Platform;

use crate::serve::verify_full_bundle;

/// The archive formats of `--format`.
#[derive(Debug, Clone, Copy, clap::ValueEnum)]
pub enum Format {
    /// An OCI image layout in a tar.
    OciArchive,
    /// `docker save`'s archive (one platform per image).
    DockerArchive,
}

/// Arguments of `export`.
#[derive(Debug, clap::Args)]
pub struct ExportArgs {
    /// Verification inputs.
    #[command(flatten)]
    pub verify: VerifyArgs,
    /// Archive format.
    #[arg(long, value_enum)]
    pub format: Format,
    /// Export only this platform of multi-platform images (os/arch[/variant]); required for
    /// a docker archive of a multi-platform image.
    #[arg(long, value_name = "PLATFORM")]
    pub platform: Option<Platform>,
    /// The archive to write (atomically: it appears only when complete).
    #[arg(short = 'o', long = "output-file", value_name = "FILE")]
    pub output_file: PathBuf,
}

/// Runs `export`: exit 0 written, 1 verification refused.
pub fn run(args: &ExportArgs) -> anyhow::Result<u8> {
    let checked = match verify_full_bundle(&args.verify, "export")? {
        Ok(c) => c,
        Err(e) => return report_trust_error(&args.verify, e, "nothing was exported"),
    };
    let limits = args.verify.limits.limits();
    let format = match args.format {
        Format::OciArchive => RuntimeFormat::OciArchive,
        Format::DockerArchive => RuntimeFormat::DockerArchive,
    };
    let target = &args.output_file;
    // A scratch file of its own beside the target, created exclusively: the output folder may
    // be shared, and nothing planted at a scratch name is written through. Dropped on an
    // error, or the run interrupted, it is removed.
    let file = AtomicFile::create(target, Mode::OfTarget)
        .with_context(|| format!("creating a scratch file beside {}", target.display()))?;
    let partial = file.scratch_path().to_owned();
    let mut out = BufWriter::with_capacity(1 << 20, file);
    let images = checked.export_images(&limits, format, args.platform.as_ref(), &mut out)?;
    let file =
        out.into_inner().map_err(|e| e.into_error()).with_context(|| format!("writing {}", partial.display()))?;
    // Not synced, like every output its reader checks (decision 0024).
    file.commit(Durability::CheckedOnRead).with_context(|| format!("renaming into {}", target.display()))?;
    match args.verify.output {
        OutputFormat::Json => print_json(&serde_json::json!({ "archive": target, "images": images }))?,
        OutputFormat::Text => {
            eprint!("{}", genesis_cli_support::verify::render_text(checked.report()));
            for image in &images {
                outln!("✓ {} ({}, {})", image.name, image.digest, image.platforms.join(", "))?;
            }
            outln!("wrote {}", target.display())?;
        }
    }
    Ok(exit::OK)
}
