//! `bundle-builder`: the vendor's tool. Generates keys, builds signed byte-stable bundles
//! from a spec, inspects a bundle's BOM without unpacking it, and describes a spec as a Zarf
//! package definition.

// Stdout is written through `genesis_cli_support::out!`, `outln!` and `print_json`, which a
// closed pipe ends quietly; `println!` would panic.
#![deny(clippy::print_stdout)]

mod zarf;

use std::error::Error;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use genesis_build::{BuildError, BuildOptions, BundleSpec};
use genesis_bundle::{ArchiveReader, Bom, BundleError};
use genesis_cli_support::registry::{self, RegistryArgs};
use genesis_cli_support::{LimitArgs, OutputFormat, exit, interrupt, out, outln, print_json};
use genesis_registry::RegistryError;
use genesis_seed::SeedError;
use genesis_trust::{PrivateKey, TrustError};

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
    /// .cosign.bundle (and .report.pdf with --report).
    /// SOURCE_DATE_EPOCH (environment, else spec.sourceDateEpoch, else 0) sets every
    /// timestamp, so the same inputs give the same bytes.
    Create(Box<CreateArgs>),
    /// Show a bundle's name, version, images, charts and manifests from its BOM, reading only
    /// the head of the archive. Informational: it does not verify the signature.
    Inspect {
        /// The bundle archive.
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

/// Arguments of `create`.
#[derive(Debug, clap::Args)]
struct CreateArgs {
    /// The bundle spec (YAML). Relative paths in it are relative to its folder.
    #[arg(short = 'f', long = "file", value_name = "SPEC")]
    spec: PathBuf,
    /// The signing key: PKCS#8 PEM, or a cosign encrypted key (password from
    /// GENESIS_KEY_PASSWORD or a prompt).
    #[arg(long, value_name = "KEY")]
    key: PathBuf,
    /// Write here instead of spec.output.dir.
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// Cache of pulled blobs (default $XDG_CACHE_HOME/genesis or ~/.cache/genesis).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// How to reach the registries images are pulled from.
    #[command(flatten)]
    registry: RegistryArgs,
    /// A trust policy file whose keys and keyless identities (with its trustedRoot) must
    /// have signed each source image (cosign, in its registry) before it is pulled; a
    /// missing or untrusted signature stops the build.
    #[arg(long, value_name = "POLICY")]
    policy: Option<PathBuf>,
    /// Also write the release evidence report, NAME-VERSION.tar.zst.report.pdf, made from the
    /// bundle verified afresh with this key, and list it in the .sha256 (so `sha256sum -c`
    /// checks it too). Same bundle and SOURCE_DATE_EPOCH, same report bytes.
    #[arg(long)]
    report: bool,
    /// Expire the bundle: an RFC 3339 date (2027-01-01T00:00:00Z) or a duration after its
    /// created time, which SOURCE_DATE_EPOCH sets (90d, 12h, 2w). Written into the signed BOM;
    /// verifiers refuse the bundle from then on, and it is re-signed or rebuilt to deliver it.
    #[arg(long, value_name = "DATE|DURATION")]
    expires: Option<genesis_build::Expiry>,
    /// Run the vulnerability gate before signing: match every package inventoried in the
    /// images against this OSV database (an `all.zip` export or a folder of records;
    /// repeatable), record the verdict in the signed BOM, and write nothing when it fails.
    #[arg(long = "scan-db", value_name = "DIR|ZIP")]
    scan_db: Vec<PathBuf>,
    /// The gate's policy: `failOn` (default high), `maxDbAge` (default 7d), `vex` (OpenVEX
    /// exception documents, relative to the file). Needs --scan-db.
    #[arg(long, value_name = "FILE", requires = "scan_db")]
    scan_policy: Option<PathBuf>,
    /// Skip the package inventory of the images, and their package SBOMs
    /// (sbom/images/*.packages.cdx.json), as Zarf's `package create --skip-sbom` does; the
    /// bundle's SBOM of images, charts and manifests is still written. `genesis scan` fails
    /// such a bundle, having no packages to judge; refused with --scan-db.
    #[arg(long)]
    skip_package_sboms: bool,
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
        _ => cause.downcast_ref::<RegistryError>().and_then(registry::hint),
    }
}

fn main() -> ExitCode {
    genesis_cli_support::init_logging();
    interrupt::install();
    let cli = Cli::parse();
    // `create` announces the registries and chart repositories of its spec; the rest contact nothing.
    if !matches!(cli.command, Command::Create(_)) {
        genesis_cli_support::announce_endpoints("bundle-builder", &[]);
    }
    exit::run(&ERRORS, || match cli.command {
        Command::Keygen { output_dir, encrypt } => keygen(&output_dir, encrypt),
        Command::Create(args) => create(*args),
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

fn source_date_epoch() -> anyhow::Result<Option<u64>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => Ok(Some(
            v.trim()
                .parse()
                .with_context(|| format!("SOURCE_DATE_EPOCH={v:?} is not a whole number of seconds since 1970"))?,
        )),
        Err(_) => Ok(None),
    }
}

fn create(args: CreateArgs) -> anyhow::Result<u8> {
    let CreateArgs {
        spec: spec_path,
        key,
        output_dir,
        output,
        quiet,
        cache_dir,
        registry,
        policy,
        report,
        expires,
        scan_db,
        scan_policy,
        skip_package_sboms,
    } = args;
    let spec = BundleSpec::load(&spec_path)?;
    let signers = policy.as_deref().map(genesis_trust::policy_file::load_signers).transpose()?;
    let hosts = genesis_build::hosts(&spec);
    let endpoints: Vec<String> = hosts.iter().map(|h| registry.endpoint(h)).collect();
    genesis_cli_support::announce_endpoints("bundle-builder", &endpoints);
    let registries: std::collections::BTreeMap<String, _> =
        hosts.iter().map(|h| Ok((h.clone(), registry.options(h)?))).collect::<anyhow::Result<_>>()?;
    let options = BuildOptions {
        source_date_epoch: source_date_epoch()?,
        output_dir,
        cache_dir,
        signers,
        registries,
        report,
        expires,
        scan: (!scan_db.is_empty()).then_some(genesis_build::ScanOptions { databases: scan_db, policy: scan_policy }),
        skip_package_sboms,
        ..Default::default()
    };
    // Flags that contradict each other are refused before the key's password is asked for.
    options.validate()?;
    let key = PrivateKey::from_pem_file_with_password(&key, &genesis_cli_support::password::for_reading)?;
    let out = {
        let _bar = genesis_cli_support::progress::show(options.progress.clone(), "packing", quiet);
        genesis_build::build(&spec, &key, &options)?
    };
    match output {
        OutputFormat::Json => print_json(&out)?,
        OutputFormat::Text => {
            outln!("✓ built {} ({} bytes, {} files)", out.archive.display(), out.size, out.files)?;
            outln!("  sha256 {}", out.sha256)?;
            outln!("  bom    {} signed by {}", out.bom_sha256, key.public_key().fingerprint())?;
            if let Some(expires) = &out.expires {
                outln!("  expires {expires}")?;
            }
            outln!(
                "  wrote  {}, {} and {}",
                out.sha256_file.display(),
                out.signature_file.display(),
                out.cosign_bundle_file.display()
            )?;
            if let Some(report) = &out.report_file {
                outln!("  report {} (listed in {})", report.display(), out.sha256_file.display())?;
            }
        }
    }
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
    bom: &'a Bom,
}

fn inspect(bundle: &Path, output: OutputFormat, limits: &LimitArgs) -> anyhow::Result<u8> {
    let limits = limits.limits();
    let mut reader = ArchiveReader::open_head(bundle, &limits)?;
    let head = reader.read_head()?;
    let bom = Bom::parse(&head.bom, &limits)?;
    let archive_size = std::fs::metadata(bundle).with_context(|| format!("reading {}", bundle.display()))?.len();
    let report = Inspection {
        bundle,
        archive_size,
        compression: reader.compression(),
        signature_verified: false,
        bom_sha256: genesis_bundle::sha256(&head.bom),
        payload_bytes: bom.payload_size(),
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
