//! `genesis split` and `genesis join` (decision 0042): a bundle cut into parts for media and
//! guards with a file size limit, cut between zstd frames, with a parts manifest that every
//! reader takes in place of the archive; and the one file again, every part checked first.

use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use genesis_bundle::scratch::{AtomicFile, Durability, Mode};
use genesis_bundle::{ArchiveReader, BundleLocation, MIN_PART_SIZE, PartsManifest};
use genesis_cli_support::split::{
    SplitReport, frames_note, parse_size, part_lines, remove_earlier_split, sign_manifest,
};
use genesis_cli_support::{LimitArgs, OutputFormat, exit, outln, print_json};
use genesis_trust::PrivateKey;

/// Arguments of `split`.
#[derive(Debug, clap::Args)]
pub struct SplitArgs {
    /// The bundle archive (`NAME-VERSION.tar.zst`). It is not changed.
    pub bundle: PathBuf,
    /// The largest part: bytes, or a whole number with a unit: 700MB, 4700MB (a DVD), 100MiB,
    /// 4095MiB (a FAT32 stick holds files of 4 GiB less one byte). At least 1MiB.
    #[arg(long, value_name = "SIZE", value_parser = parse_size)]
    pub part_size: u64,
    /// Folder for the parts and their manifest (made if missing); default: the bundle's
    /// folder. The archive's sidecars (.sha256, .sig, .cosign.bundle, the files its .sha256
    /// lists, its countersignatures) are copied there too: they still hold for the parts.
    #[arg(long, value_name = "DIR")]
    pub out: Option<PathBuf>,
    /// Sign the parts manifest with this key as `bundle-builder create` signs an archive
    /// (NAME.parts.json.sig and NAME.parts.json.cosign.bundle): PKCS#8 PEM, or a cosign
    /// encrypted key (password from GENESIS_KEY_PASSWORD or a prompt). A signature beside the
    /// manifest must verify: a verifier whose policy does not trust this key refuses the
    /// bundle, so sign only with a key the receiving sites trust. Without it the manifest is
    /// unsigned: transfer metadata, while the bundle's own signature still covers every byte.
    #[arg(long, value_name = "KEY")]
    pub key: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
    /// Limits on the archive, whose head is read for its BOM's digest.
    #[command(flatten)]
    pub limits: LimitArgs,
}

/// Arguments of `join`.
#[derive(Debug, clap::Args)]
pub struct JoinArgs {
    /// The parts: their manifest (`NAME.tar.zst.parts.json`), a part, or the archive's name
    /// beside them.
    pub parts: PathBuf,
    /// The archive to write; it appears only whole, once every part checked. Default: the
    /// archive's name beside the parts. Never overwritten: an existing file is refused.
    #[arg(short = 'o', long = "output-file", value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// The folder `path` is in: its parent, or `.` for a bare name.
fn folder_of(path: &Path) -> PathBuf {
    path.parent().filter(|p| !p.as_os_str().is_empty()).unwrap_or(Path::new(".")).to_owned()
}

/// Whether two folders are the same, however each is spelt.
fn same_folder(a: &Path, b: &Path) -> bool {
    match (std::fs::canonicalize(a), std::fs::canonicalize(b)) {
        (Ok(a), Ok(b)) => a == b,
        _ => a == b,
    }
}

/// Runs `split`: exit 0 written; 2 for unusable input (a bundle already split, a size below
/// 1 MiB), with nothing of an earlier split removed before the bundle is known to be one.
pub fn split(args: &SplitArgs) -> anyhow::Result<u8> {
    let bundle = &args.bundle;
    // Checked before anything in the folder is touched: the earlier split removed below would
    // be this one's source.
    if let BundleLocation::Parts { manifest, .. } = BundleLocation::of(bundle) {
        anyhow::bail!(
            "{} is a split bundle (its parts manifest is {}): join it first with `genesis join`, then split the \
             archive again",
            bundle.display(),
            manifest.display()
        );
    }
    if args.part_size < MIN_PART_SIZE {
        anyhow::bail!(
            "--part-size {} is below the smallest part, {MIN_PART_SIZE} bytes (1MiB): a bundle in parts that small is \
             thousands of files",
            args.part_size
        );
    }
    let name = bundle
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{} has no file name in UTF-8", bundle.display()))?
        .to_owned();
    // The key (and its password) before anything is written.
    let key = args
        .key
        .as_deref()
        .map(|key| PrivateKey::from_pem_file_with_password(key, &genesis_cli_support::password::for_reading))
        .transpose()?;
    let limits = args.limits.limits();
    // A bundle at all, and how it is compressed, before the folder is touched.
    let compression = ArchiveReader::open_head(bundle, &limits)
        .with_context(|| format!("cannot split {}", bundle.display()))?
        .compression();
    let source_dir = folder_of(bundle);
    let out_dir = args.out.clone().unwrap_or_else(|| source_dir.clone());
    std::fs::create_dir_all(&out_dir).with_context(|| format!("cannot create {}", out_dir.display()))?;
    let removed = remove_earlier_split(&out_dir, &name)
        .with_context(|| format!("cannot remove an earlier split of {name} from {}", out_dir.display()))?;
    let split = genesis_bundle::split_archive(bundle, &out_dir, args.part_size, &limits)
        .with_context(|| format!("cannot split {}", bundle.display()))?;
    let signature_files = match &key {
        Some(key) => {
            let (sig, cosign_bundle) =
                sign_manifest(key, &split).with_context(|| format!("cannot sign {}", split.manifest_path.display()))?;
            vec![sig, cosign_bundle]
        }
        None => Vec::new(),
    };
    let copied = if same_folder(&source_dir, &out_dir) { Vec::new() } else { copy_sidecars(bundle, &name, &out_dir)? };
    let signed_by = key.as_ref().map(|k| k.public_key().fingerprint().to_string());
    match args.output {
        OutputFormat::Json => print_json(&serde_json::json!({
            "split": SplitReport::new(&split, args.part_size, signature_files),
            "signedBy": signed_by,
            "copiedSidecars": copied,
            "removedEarlier": removed,
        }))?,
        OutputFormat::Text => {
            outln!(
                "✓ split {} ({} bytes) into {} parts of at most {} bytes in {}",
                bundle.display(),
                split.manifest.archive.size,
                split.manifest.parts.len(),
                args.part_size,
                out_dir.display()
            )?;
            for line in part_lines(&split) {
                outln!("{line}")?;
            }
            if let Some(note) = frames_note(&split, compression) {
                outln!("{note}")?;
            }
            match &signed_by {
                Some(fingerprint) => {
                    let files: Vec<String> = signature_files.iter().map(|p| p.display().to_string()).collect();
                    outln!(
                        "✓ manifest signed with key {fingerprint}: {} (a verifier counts it when its policy trusts \
                         that key)",
                        files.join(", ")
                    )?;
                }
                None => outln!(
                    "! manifest unsigned: it is transfer metadata; the bundle's own signature still covers every byte \
                     a reader uses, and readers hash the whole archive against the manifest (sign it with --key to \
                     spare that)"
                )?,
            }
            if !copied.is_empty() {
                let names: Vec<String> = copied.iter().map(|p| p.display().to_string()).collect();
                outln!("  copied the archive's sidecars: {}", names.join(", "))?;
            }
            if !removed.is_empty() {
                outln!("  removed {} files of an earlier split of {name} from {}", removed.len(), out_dir.display())?;
            }
            let manifest = split.manifest_path.display();
            outln!(
                "  carry every part, the manifest (with its signatures) and the archive's sidecars; `genesis verify \
                 {manifest}` reads the parts in place, `genesis join {manifest}` makes the one file again"
            )?;
        }
    }
    Ok(exit::OK)
}

/// Copies the sidecars of `bundle` (named `name`) into `out_dir`, where its parts went
/// ([`genesis_cli_support::bucket::sidecars`]): they describe the archive's bytes, which the
/// parts are. Returns what was copied.
fn copy_sidecars(bundle: &Path, name: &str, out_dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut copied = Vec::new();
    for (from, relative) in genesis_cli_support::bucket::sidecars(bundle, name)? {
        let to = out_dir.join(&relative);
        if let Some(parent) = to.parent() {
            std::fs::create_dir_all(parent).with_context(|| format!("cannot create {}", parent.display()))?;
        }
        let bytes = std::fs::read(&from).with_context(|| format!("reading {}", from.display()))?;
        genesis_bundle::scratch::atomic_write(&to, &bytes).with_context(|| format!("writing {}", to.display()))?;
        copied.push(to);
    }
    Ok(copied)
}

/// Runs `join`: exit 0 written; 1 when a part is damaged, short or of another bundle (named,
/// and nothing written); 2 for unusable input (one archive file, an existing output).
pub fn join(args: &JoinArgs) -> anyhow::Result<u8> {
    let given = &args.parts;
    let BundleLocation::Parts { archive, manifest } = BundleLocation::of(given) else {
        anyhow::bail!(
            "{} is one archive file, not parts: there is no {} beside it",
            given.display(),
            genesis_bundle::manifest_path(given).display()
        );
    };
    let target = args.output_file.clone().unwrap_or(archive);
    if std::fs::symlink_metadata(&target).is_ok() {
        anyhow::bail!(
            "{} exists already: join writes a new file and never overwrites one; remove it, or write elsewhere with \
             -o FILE",
            target.display()
        );
    }
    let mut file = AtomicFile::create(&target, Mode::OfTarget)
        .with_context(|| format!("cannot create a scratch file beside {}", target.display()))?;
    let joined = {
        let mut out = BufWriter::with_capacity(1 << 20, &mut file);
        let joined =
            genesis_bundle::join_parts(given, &mut out).with_context(|| format!("cannot join {}", given.display()))?;
        out.flush().with_context(|| format!("writing {}", target.display()))?;
        joined
    };
    file.commit(Durability::CheckedOnRead).with_context(|| format!("writing {}", target.display()))?;
    let parts = PartsManifest::read(&manifest).map(|m| m.parts.len()).unwrap_or_default();
    match args.output {
        OutputFormat::Json => print_json(&serde_json::json!({
            "joined": target,
            "manifest": manifest,
            "parts": parts,
            "size": joined.len,
            "sha256": joined.digest(),
        }))?,
        OutputFormat::Text => {
            outln!(
                "✓ joined {parts} parts into {} ({} bytes, {}), each part checked against {}",
                target.display(),
                joined.len,
                joined.digest(),
                manifest.display()
            )?;
            outln!(
                "  the manifest's signature is not checked here: `genesis verify {}` checks the bundle",
                target.display()
            )?;
        }
    }
    Ok(exit::OK)
}
