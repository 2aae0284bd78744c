//! `genesis push`: a bundle, and what travels with it, into a folder of a bucket — the first leg
//! of the S3 diode pipeline (seed 001: create → S3 staging bucket → diode → S3 landing bucket →
//! verify → load). `bundle-loader verify|extract|load s3://…` reads it there in place.

use std::path::PathBuf;

use genesis_bundle::{BundleLocation, PartsManifest};
use genesis_cli_support::bucket::{BucketArgs, sidecars};
use genesis_cli_support::{OutputFormat, exit, outln, print_json};

/// Arguments of `push`.
#[derive(Debug, clap::Args)]
pub struct PushArgs {
    /// The bundle: its archive, or for a split bundle its parts manifest (or a part), whose
    /// parts are sent with it.
    pub bundle: PathBuf,
    /// The bucket folder to push to: s3://BUCKET/PREFIX/.
    pub target: String,
    /// How the bucket is reached.
    #[command(flatten)]
    pub bucket: BucketArgs,
    /// Send every file again, even the archive or parts already there with their size.
    #[arg(long)]
    pub force: bool,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// Runs `push`: every file is sent as one upload that completes whole (an interrupted run
/// leaves no partial object); a re-run does not send the archive or a part again when an
/// object of its name and size is there (`--force` does), and sends the rest anew. The parts go
/// before their manifest, so a reader of the bucket never finds a manifest whose parts are
/// missing. Exit 0 when every file is there.
pub fn run(args: &PushArgs) -> anyhow::Result<u8> {
    genesis_cli_support::announce_endpoints("genesis", &[args.bucket.config(&args.target).s3.endpoint()]);
    let location = BundleLocation::of(&args.bundle);
    let archive = location.archive().to_owned();
    let name = archive
        .file_name()
        .and_then(|n| n.to_str())
        .ok_or_else(|| anyhow::anyhow!("{}: not a bundle's file name", archive.display()))?
        .to_owned();
    let folder = archive.parent().map(PathBuf::from).unwrap_or_default();
    let mut files = match &location {
        BundleLocation::Single(path) => vec![(path.clone(), name.clone())],
        BundleLocation::Parts { manifest, .. } => {
            let listed = PartsManifest::read(manifest)?;
            let manifest_name = format!("{name}{}", genesis_bundle::PARTS_MANIFEST_SUFFIX);
            let mut files: Vec<(PathBuf, String)> =
                listed.parts.iter().map(|part| (folder.join(&part.name), part.name.clone())).collect();
            files.push((manifest.clone(), manifest_name.clone()));
            files.extend(sidecars(manifest, &manifest_name)?);
            files
        }
    };
    files.extend(sidecars(&archive, &name)?);
    // The archive and its parts resume; what vouches for them is always sent anew.
    let part_prefix = format!("{name}.part-");
    let resumable = |object: &str| !args.force && (object == name || object.starts_with(&part_prefix));
    let text = args.output == OutputFormat::Text;
    let pushed = args.bucket.push(&files, &args.target, &resumable, |done| {
        if text {
            let what = if done.sent { "sent" } else { "already there" };
            let _ = outln!("  {} ({} bytes): {what}", done.object, done.size);
        }
    })?;
    let sent = pushed.iter().filter(|p| p.sent).count();
    match args.output {
        OutputFormat::Json => print_json(&serde_json::json!({ "target": args.target, "objects": pushed }))?,
        OutputFormat::Text => outln!(
            "✓ {} objects in {} ({sent} sent, {} already there)",
            pushed.len(),
            args.target.trim_end_matches('/'),
            pushed.len() - sent
        )?,
    }
    Ok(exit::OK)
}
