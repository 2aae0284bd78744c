//! `bundle-builder`: the vendor's tool. Generates keys, builds signed byte-stable bundles
//! from a spec (signed here, or in two phases with the release pipeline signing), re-signs
//! them with another key without rebuilding, inspects a bundle's BOM without unpacking it,
//! and describes a spec as a Zarf package definition.

// Stdout is written through `genesis_cli_support::out!`, `outln!` and `print_json`, which a
// closed pipe ends quietly; `println!` would panic.
#![deny(clippy::print_stdout)]

mod create;
mod resign;
mod zarf;

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use genesis_build::BuildError;
use genesis_bundle::{ArchiveReader, Bom, BundleError};
use genesis_cli_support::registry;
use genesis_cli_support::{LimitArgs, OutputFormat, exit, interrupt, out, outln, print_json};
use genesis_registry::RegistryError;
use genesis_seed::SeedError;
use genesis_trust::TrustError;

/// Build, sign and inspect Genesis bundles.
#[derive(Debug, Parser)]
#[command(name = "bundle-builder", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Write a new signing key pair: DIR/genesis.key (PKCS#8 PEM) and DIR/genesis.pub
    /// (SPKI PEM, the shape of cosign.pub). Never overwrites.
    Keygen {
        /// Folder for the two files.
        #[arg(long, value_name = "DIR")]
        output_dir: PathBuf,
        /// Write the private key encrypted in cosign's format (ENCRYPTED SIGSTORE PRIVATE KEY),
        /// with the password from GENESIS_KEY_PASSWORD or a prompt, so cosign can use it too.
        #[arg(long)]
        encrypt: bool,
    },
    /// Build a signed bundle from a spec file: NAME-VERSION.tar.zst plus .sha256, .sig and
    /// .cosign.bundle (and .report.pdf with --report), or with --max-part-size its parts and
    /// their signed parts manifest instead. Signed here with --key, or, after
    /// `prepare`, with the signatures the release pipeline made (--public-key,
    /// --bom-signature, --provenance-signature): then the archive's .sig and .cosign.bundle
    /// are the pipeline's to make.
    /// SOURCE_DATE_EPOCH (environment, else spec.sourceDateEpoch, else 0) sets every
    /// timestamp, so the same inputs give the same bytes.
    Create(Box<create::CreateArgs>),
    /// Resolve and pull what a spec names and write what a release pipeline signs with its
    /// own tool (cosign with a key file or a KMS, any ECDSA P-256 signer), building no
    /// bundle: DIR/bom.json, DIR/provenance.pae and DIR/provenance.intoto.json (to read).
    /// Then `create` with the signatures, the same flags and the same SOURCE_DATE_EPOCH.
    Prepare(Box<create::PrepareArgs>),
    /// Re-sign a built bundle with another key without rebuilding it: verified in full first
    /// (--key-for-verify or --policy, else the installed policy), then written again with the
    /// same BOM and provenance statement signed anew, its payload's compressed frames copied
    /// byte for byte, with .sha256, .sig and .cosign.bundle. Signed here with --key, or in
    /// two phases: --prepare, then --public-key with the pipeline's signatures.
    Resign(Box<resign::ResignArgs>),
    /// Show a bundle's name, version, images, charts and manifests from its BOM, reading only
    /// the head of the archive. Informational: it does not verify the signature.
    Inspect {
        /// The bundle archive, or a split one's parts manifest or a part.
        bundle: PathBuf,
        /// Report format.
        #[arg(long, value_enum, default_value_t)]
        output: OutputFormat,
        /// Limits on the archive.
        #[command(flatten)]
        limits: LimitArgs,
    },
    /// Write a Zarf package definition (zarf.yaml) of a spec's registry images, charts and
    /// manifests, for a site that carries software with Zarf. Generates only: pulls nothing.
    ZarfDefinition(zarf::Args),
}

/// The library errors this binary meets, for the exit code, and the flags that get past them.
const ERRORS: exit::Errors = exit::Errors {
    classes: &[
        exit::classify::<BundleError>,
        exit::classify::<TrustError>,
        exit::classify::<BuildError>,
        exit::classify::<RegistryError>,
        exit::classify::<SeedError>,
    ],
    hint,
};

/// The flag of this binary that gets past one error of a chain (library messages name none).
fn hint(cause: &(dyn Error + 'static)) -> Option<String> {
    match cause.downcast_ref::<BuildError>() {
        Some(BuildError::Registry(e)) => registry::hint(e),
        Some(BuildError::ExternalSignature { .. }) => Some(
            "`prepare` and `create` must be given the same spec, the same build flags (--policy, --expires, \
             --scan-db, --scan-policy, --skip-package-sboms, --base) and the same SOURCE_DATE_EPOCH; `resign --prepare` \
             and `resign` the same bundle"
                .to_owned(),
        ),
        Some(BuildError::SignatureFile { .. }) => Some(
            "--bom-signature and --provenance-signature take what `cosign sign-blob --key …` writes: \
             its --bundle file, or its --output-signature file"
                .to_owned(),
        ),
        _ => cause.downcast_ref::<RegistryError>().and_then(registry::hint),
    }
}

fn main() -> ExitCode {
    genesis_cli_support::allocator::bound_arenas();
    genesis_cli_support::init_logging();
    interrupt::install();
    let cli = Cli::parse();
    // `create` and `prepare` announce the registries and chart repositories of their spec;
    // the rest contact nothing.
    if !matches!(cli.command, Command::Create(_) | Command::Prepare(_)) {
        genesis_cli_support::announce_endpoints("bundle-builder", &[]);
    }
    exit::run(&ERRORS, || match cli.command {
        Command::Keygen { output_dir, encrypt } => keygen(&output_dir, encrypt),
        Command::Create(args) => create::create(*args),
        Command::Prepare(args) => create::prepare(*args),
        Command::Resign(args) => resign::resign(*args),
        Command::Inspect { bundle, output, limits } => inspect(&bundle, output, &limits),
        Command::ZarfDefinition(args) => zarf::run(args),
    })
}

fn keygen(dir: &Path, encrypt: bool) -> anyhow::Result<u8> {
    let password =
        if encrypt { Some(genesis_cli_support::password::for_writing().map_err(anyhow::Error::msg)?) } else { None };
    let (private, public) = genesis_build::keygen(dir, password.as_deref())?;
    outln!("wrote {} (private, mode 0600) and {}", private.display(), public.display())?;
    Ok(exit::OK)
}

#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Inspection<'a> {
    bundle: &'a Path,
    archive_size: u64,
    compression: genesis_bundle::Compression,
    signature_verified: bool,
    bom_sha256: genesis_types::Digest,
    payload_bytes: u64,
    /// For a delta bundle (decision 0043): the base it needs and the bytes it saves (the
    /// blobs it leaves out).
    #[serde(skip_serializing_if = "Option::is_none")]
    requires: Option<genesis_bundle::RequiresSummary>,
    bom: &'a Bom,
}

fn inspect(bundle: &Path, output: OutputFormat, limits: &LimitArgs) -> anyhow::Result<u8> {
    let limits = limits.limits();
    let mut reader = ArchiveReader::open_head(bundle, &limits)?;
    let head = reader.read_head()?;
    let bom = Bom::parse(&head.bom, &limits)?;
    // The archive's length, of one file or of a split one's parts read in place.
    let archive_size =
        reader.archive_file().len().with_context(|| format!("reading the length of {}", bundle.display()))?;
    let report = Inspection {
        bundle,
        archive_size,
        compression: reader.compression(),
        signature_verified: false,
        bom_sha256: genesis_bundle::sha256(&head.bom),
        payload_bytes: bom.payload_size(),
        requires: bom.requires.as_ref().map(genesis_bundle::Requires::summary),
        bom: &bom,
    };
    match output {
        OutputFormat::Json => print_json(&report)?,
        OutputFormat::Text => out!("{}", render_inspection(&report))?,
    }
    Ok(exit::OK)
}

fn render_inspection(r: &Inspection<'_>) -> String {
    let size_of = |p: &genesis_types::BundlePath| r.bom.files.iter().find(|f| &f.path == p).map_or(0, |f| f.size);
    let mut s = format!(
        "bundle    {} {} (created {})\narchive   {} ({} bytes, {})\nbom       {} (signature not checked: run `bundle-loader verify --key PUB`)\npayload   {} files, {} bytes\n",
        r.bom.name,
        r.bom.version,
        r.bom.created,
        r.bundle.display(),
        r.archive_size,
        r.compression.name(),
        r.bom_sha256,
        r.bom.files.len(),
        r.payload_bytes
    );
    if let Some(requires) = &r.requires {
        s.push_str(&format!(
            "delta     needs {} loaded first\nsaved     {} bytes: {} blobs the base carries, left out\n",
            requires.base, requires.bytes, requires.blobs
        ));
    }
    s.push_str(&format!("images    {}\n", r.bom.images.len()));
    for i in &r.bom.images {
        s.push_str(&format!("  {}  {}  [{}]\n", i.reference, i.digest, i.platforms.join(", ")));
    }
    s.push_str(&format!("charts    {}\n", r.bom.charts.len()));
    for c in &r.bom.charts {
        let version = c.version.as_deref().unwrap_or("?");
        s.push_str(&format!("  {} {}  {} ({} bytes)\n", c.name, version, c.path, size_of(&c.path)));
    }
    s.push_str(&format!("manifests {}\n", r.bom.manifests.len()));
    for m in &r.bom.manifests {
        s.push_str(&format!("  {} ({} bytes)\n", m.path, size_of(&m.path)));
    }
    s
}
