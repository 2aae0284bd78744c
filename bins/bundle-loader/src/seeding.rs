//! `bundle-loader registry …`: seeding edge registries from each other (seed 004). The flags
//! become a [`genesis_seed`] request (connections per host, how the destination is trusted),
//! whose outcome is printed as text or JSON; the copy, the fail-closed verification and the
//! audit files are the library's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::Arc;

use anyhow::Context as _;
use genesis_cli_support::registry::RegistryArgs;
use genesis_cli_support::{OutputFormat, exit, outln, print_json};
use genesis_registry::RegistryOptions;
use genesis_registry::copy::{CopiedImage, CopyStats};
use genesis_seed::manifest::{SEED_LOCK_FILE, SEED_MANIFEST_FILE};
use genesis_seed::zot::ZotOptions;
use genesis_seed::{
    Catalog, CatalogOutcome, Connections, EntryStatus, SeedError, SeedOutcome, SeedProgress, SeedRequest, Seeder, Trust,
};
use genesis_types::ImageReference;

/// The commands of `registry`.
#[derive(Debug, clap::Subcommand)]
pub enum RegistryCommand {
    /// Copy one image (every platform, its signature, attestations, SBOM and referrers) to
    /// another registry with identical digests, verify the destination fail-closed, and write
    /// seed-manifest.json and seed.lock.
    Seed(SeedArgs),
    /// Seed every entry of a catalog file, each into its own subdirectory of --out, and
    /// roll the results up in catalog-seed-manifest.json.
    SeedCatalog(SeedCatalogArgs),
    /// Re-seed a peer edge registry from another, repository by repository: only what the
    /// peer lacks crosses.
    Sync(SyncArgs),
    /// Publish a catalog roll-up as an OCI artifact referring to an image, so one Referrers
    /// query lists the catalog.
    PublishIndex(PublishIndexArgs),
    /// Write a Zot registry configuration and a compose file to run it (starts nothing).
    BootstrapZot(BootstrapZotArgs),
    /// Write a Zarf package definition (zarf.yaml) listing a catalog's source images.
    Package(PackageArgs),
}

/// How the destination is judged: a key, a policy, or explicitly not at all.
#[derive(Debug, clap::Args)]
pub struct TrustArgs {
    /// Cosign public key (SPKI PEM) the destination's signature must verify with.
    #[arg(long, value_name = "PUB", visible_alias = "pub-key", conflicts_with = "policy")]
    pub key: Option<PathBuf>,
    /// Trust policy file: its keys verify the signature, and its names, semver range and
    /// anti-rollback state judge the destination tag.
    #[arg(long, value_name = "FILE")]
    pub policy: Option<PathBuf>,
    /// Do not verify the destination (development only): the seed manifest records
    /// `verified: false`.
    #[arg(long, conflicts_with_all = ["key", "policy"])]
    pub skip_verify: bool,
}

/// What every copying command shares.
#[derive(Debug, clap::Args)]
pub struct CommonArgs {
    /// Connection settings, for every registry of the run.
    #[command(flatten)]
    pub connection: RegistryArgs,
    /// Blobs in flight at once, across every image of the run.
    #[arg(long, value_name = "N", default_value_t = 8, value_parser = clap::value_parser!(u16).range(1..))]
    pub concurrency: u16,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
    /// No progress lines on stderr (warnings still show).
    #[arg(long, short)]
    pub quiet: bool,
}

/// Arguments of `registry seed`.
#[derive(Debug, clap::Args)]
pub struct SeedArgs {
    /// The source image (tag or digest).
    #[arg(long, value_name = "REF")]
    pub from: ImageReference,
    /// The destination image (tag, or the source digest).
    #[arg(long, value_name = "REF")]
    pub to: ImageReference,
    /// Also copy the `<tag>-lock` and `<tag>-policy` sidecar tags (tag references only).
    #[arg(long)]
    pub copy_policy: bool,
    /// How the destination is judged.
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Where seed-manifest.json and seed.lock are written.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Shared flags.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Arguments of `registry seed-catalog`.
#[derive(Debug, clap::Args)]
pub struct SeedCatalogArgs {
    /// The catalog (YAML: `version: 1`, `entries` of `from`, `to`, `copy_policy`, `pub_key`).
    #[arg(long, value_name = "FILE")]
    pub catalog: PathBuf,
    /// Where each entry's subdirectory and catalog-seed-manifest.json are written.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// Attempt every entry even after one failed, and write the roll-up with each outcome
    /// (the exit code is still 1 if any failed).
    #[arg(long)]
    pub keep_going: bool,
    /// How entries without a `pub_key` are judged (--skip-verify: every entry).
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Shared flags.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Arguments of `registry sync`.
#[derive(Debug, clap::Args)]
pub struct SyncArgs {
    /// The registry to copy from: HOST[:PORT].
    #[arg(long, value_name = "HOST[:PORT]")]
    pub from_registry: String,
    /// The registry to copy to: HOST[:PORT].
    #[arg(long, value_name = "HOST[:PORT]")]
    pub to_registry: String,
    /// The repositories and tags to copy, the same path on both sides.
    #[arg(long, value_name = "REPO:TAG,…", value_delimiter = ',', required = true)]
    pub repos: Vec<String>,
    /// Also copy the `<tag>-lock` and `<tag>-policy` sidecar tags.
    #[arg(long)]
    pub copy_policy: bool,
    /// Attempt every repository even after one failed (the exit code is still 1 if any failed).
    #[arg(long)]
    pub keep_going: bool,
    /// How every destination is judged.
    #[command(flatten)]
    pub trust: TrustArgs,
    /// Where each repository's subdirectory and catalog-seed-manifest.json are written.
    #[arg(long, value_name = "DIR", default_value = ".")]
    pub out: PathBuf,
    /// Shared flags.
    #[command(flatten)]
    pub common: CommonArgs,
}

/// Arguments of `registry publish-index`.
#[derive(Debug, clap::Args)]
pub struct PublishIndexArgs {
    /// The roll-up a seed-catalog or sync wrote (catalog-seed-manifest.json).
    #[arg(long, value_name = "FILE")]
    pub manifest: PathBuf,
    /// The image the roll-up refers to (tag or digest).
    #[arg(long, value_name = "REF")]
    pub to: ImageReference,
    /// Connection settings.
    #[command(flatten)]
    pub connection: RegistryArgs,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// Arguments of `registry bootstrap-zot`.
#[derive(Debug, clap::Args)]
pub struct BootstrapZotArgs {
    /// Where zot-config.json and docker-compose.zot.yml are written.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The port Zot serves on.
    #[arg(long, default_value_t = 5000)]
    pub port: u16,
    /// The host directory that holds the registry's storage.
    #[arg(long, value_name = "DIR", default_value = "./zot-data")]
    pub data_dir: PathBuf,
    /// The Zot image to run instead of the pinned multi-arch default.
    #[arg(long, value_name = "REF")]
    pub image: Option<String>,
    /// Enable Zot's search extension.
    #[arg(long)]
    pub enable_search: bool,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// Arguments of `registry package`.
#[derive(Debug, clap::Args)]
pub struct PackageArgs {
    /// The catalog whose `from` images the package carries.
    #[arg(long, value_name = "FILE")]
    pub catalog: PathBuf,
    /// Where zarf.yaml is written.
    #[arg(long, value_name = "DIR")]
    pub out: PathBuf,
    /// The package name (made Zarf-legal: lower case, digits, `-`).
    #[arg(long)]
    pub name: String,
    /// The package version.
    #[arg(long, default_value = "0.0.0")]
    pub version: String,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// Runs one `registry` command.
pub fn run(command: &RegistryCommand) -> anyhow::Result<u8> {
    match command {
        RegistryCommand::Seed(args) => seed(args),
        RegistryCommand::SeedCatalog(args) => seed_catalog(args),
        RegistryCommand::Sync(args) => sync(args),
        RegistryCommand::PublishIndex(args) => publish_index(args),
        RegistryCommand::BootstrapZot(args) => bootstrap_zot(args),
        RegistryCommand::Package(args) => package(args),
    }
}

/// The flag that gets past a seeding error, for the binary's [`exit::Errors::hint`].
pub fn hint(e: &SeedError) -> Option<String> {
    match e {
        SeedError::Registry(e) | SeedError::Unresolvable { source: e, .. } => genesis_cli_support::registry::hint(e),
        SeedError::Trust(e) => genesis_cli_support::verify::hint(e),
        SeedError::CopyPolicyNeedsTags { .. } => {
            Some("use tag references with --copy-policy, or drop --copy-policy for an image-only seed".to_owned())
        }
        _ => None,
    }
}

/// The error of a run given no way to judge the destination.
fn fail_closed(command: &str) -> anyhow::Error {
    anyhow::anyhow!(
        "registry {command} requires --key (--pub-key), --policy or --skip-verify: verification is fail-closed"
    )
}

impl TrustArgs {
    /// The trust these flags give, `None` when they give none.
    fn trust(&self) -> anyhow::Result<Option<Trust>> {
        Ok(match (&self.key, &self.policy, self.skip_verify) {
            (Some(key), _, _) => Some(Trust::key(key).with_context(|| format!("reading --key {}", key.display()))?),
            (_, Some(policy), _) => {
                Some(Trust::policy(policy).with_context(|| format!("reading --policy {}", policy.display()))?)
            }
            (None, None, true) => Some(Trust::Skip),
            (None, None, false) => None,
        })
    }
}

/// Says loudly, whatever `--quiet` says, that nothing will be verified.
fn warn_skip_verify(trust: Option<&Trust>) {
    if matches!(trust, Some(Trust::Skip)) {
        eprintln!("WARNING: --skip-verify: the destination is NOT verified; the seed manifest records verified: false");
    }
}

impl CommonArgs {
    /// Announces the registries of `hosts` (each once, in order) and sets up one connection
    /// pool per host.
    fn connect(&self, hosts: &[&str]) -> anyhow::Result<Connections> {
        let mut unique: Vec<&str> = Vec::new();
        for &host in hosts {
            if !unique.contains(&host) {
                unique.push(host);
            }
        }
        connect(&self.connection, &unique)
    }

    /// A seeder over `connections` reporting on stderr.
    fn seeder(&self, connections: Connections) -> Seeder {
        Seeder::new(connections, usize::from(self.concurrency), Arc::new(StderrProgress { quiet: self.quiet }))
    }

    /// The total line of a run, on stderr.
    fn total(&self, stats: &CopyStats) {
        if !self.quiet {
            eprintln!("total: {}", stats_text(stats));
        }
    }
}

/// Announces `hosts` (distinct) and sets up one connection pool per host with `connection`.
fn connect(connection: &RegistryArgs, hosts: &[&str]) -> anyhow::Result<Connections> {
    let endpoints: Vec<String> = hosts.iter().map(|h| connection.endpoint(h)).collect();
    genesis_cli_support::announce_endpoints("bundle-loader", &endpoints);
    let options = hosts
        .iter()
        .map(|h| Ok(((*h).to_owned(), connection.options(h)?)))
        .collect::<anyhow::Result<BTreeMap<_, _>>>()?;
    // Every host the run contacts is in `options`: the default serves none, so it carries no
    // credentials.
    let default = RegistryOptions {
        plain_http: connection.plain_http,
        ca_file: connection.ca_file.clone(),
        credentials: None,
        retries: connection.retries,
    };
    Ok(Connections::new(options, default))
}

/// A multi-threaded runtime for one command.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

fn seed(args: &SeedArgs) -> anyhow::Result<u8> {
    let trust = args.trust.trust()?.ok_or_else(|| fail_closed("seed"))?;
    let connections = args.common.connect(&[args.from.registry(), args.to.registry()])?;
    warn_skip_verify(Some(&trust));
    let seeder = args.common.seeder(connections);
    let request = SeedRequest {
        from: args.from.clone(),
        to: args.to.clone(),
        copy_policy: args.copy_policy,
        out: args.out.clone(),
    };
    let outcome = runtime()?
        .block_on(seeder.seed(&request, &trust))
        .with_context(|| format!("seeding {} to {}: no seed manifest was written", args.from, args.to))?;
    args.common.total(&outcome.copy);
    match args.common.output {
        OutputFormat::Json => print_json(&outcome)?,
        OutputFormat::Text => print_seeded(&outcome, &args.out)?,
    }
    Ok(exit::OK)
}

/// The verification steps, what was seeded, and the files written.
fn print_seeded(outcome: &SeedOutcome, out: &Path) -> std::io::Result<()> {
    let m = &outcome.manifest;
    for step in &outcome.verification {
        outln!("✓ {}: {}", step.step, step.detail)?;
    }
    let unverified = if m.verified { "" } else { " (NOT verified: --skip-verify)" };
    outln!("seeded {} → {}@{}{unverified}", m.source_ref, m.dest_ref, m.dest_digest)?;
    for file in [SEED_MANIFEST_FILE, SEED_LOCK_FILE] {
        outln!("wrote {}", out.join(file).display())?;
    }
    Ok(())
}

fn seed_catalog(args: &SeedCatalogArgs) -> anyhow::Result<u8> {
    let catalog = Catalog::load(&args.catalog)?;
    let trust = args.trust.trust()?;
    if trust.is_none()
        && let Some((n, entry)) = catalog.entries.iter().enumerate().find(|(_, e)| e.pub_key.is_none())
    {
        anyhow::bail!(
            "{}: entry {} ({}) has no pub_key, and registry seed-catalog requires --key (--pub-key), --policy or \
             --skip-verify for it: verification is fail-closed",
            args.catalog.display(),
            n + 1,
            entry.from
        );
    }
    let name = args.catalog.display().to_string();
    run_catalog(&catalog, &name, &args.out, args.keep_going, trust.as_ref(), &args.common)
}

fn sync(args: &SyncArgs) -> anyhow::Result<u8> {
    let trust = args.trust.trust()?.ok_or_else(|| fail_closed("sync"))?;
    let catalog = Catalog::sync(&args.from_registry, &args.to_registry, &args.repos, args.copy_policy)?;
    let name = format!("sync {} → {}", args.from_registry, args.to_registry);
    run_catalog(&catalog, &name, &args.out, args.keep_going, Some(&trust), &args.common)
}

/// Seeds every entry of `catalog` and prints a line per entry, the roll-up and the bytes sent;
/// exit 1 when an entry failed.
fn run_catalog(
    catalog: &Catalog,
    name: &str,
    out: &Path,
    keep_going: bool,
    trust: Option<&Trust>,
    common: &CommonArgs,
) -> anyhow::Result<u8> {
    let references = catalog
        .entries
        .iter()
        .flat_map(|e| [&e.from, &e.to])
        .map(|r| r.parse::<ImageReference>().with_context(|| format!("{name}: {r} is not an image reference")))
        .collect::<anyhow::Result<Vec<_>>>()?;
    let hosts: Vec<&str> = references.iter().map(ImageReference::registry).collect();
    let connections = common.connect(&hosts)?;
    warn_skip_verify(trust);
    let seeder = common.seeder(connections);
    let outcome = runtime()?.block_on(seeder.seed_catalog(catalog, name, out, keep_going, trust))?;
    common.total(&outcome.copy);
    match common.output {
        OutputFormat::Json => print_json(&outcome)?,
        OutputFormat::Text => print_catalog(&outcome, out)?,
    }
    Ok(if outcome.failed > 0 { exit::VERIFICATION_FAILED } else { exit::OK })
}

/// A line per entry, the roll-up, and the total.
fn print_catalog(outcome: &CatalogOutcome, out: &Path) -> std::io::Result<()> {
    let entries = &outcome.manifest.entries;
    for e in entries {
        match e.status {
            EntryStatus::Seeded => {
                let unverified = if e.verified { "" } else { " (NOT verified: --skip-verify)" };
                let digest = e.dest_digest.as_deref().unwrap_or_default();
                let dir = out.join(&e.dir);
                outln!("✓ seeded {} → {}@{digest}{unverified} ({})", e.from, e.to, dir.display())?;
            }
            EntryStatus::Failed => {
                outln!("✗ failed {} → {}: {}", e.from, e.to, e.error.as_deref().unwrap_or("unknown error"))?;
            }
            EntryStatus::NotAttempted => outln!("- not attempted {} → {}", e.from, e.to)?,
        }
    }
    match &outcome.rollup {
        Some(path) => outln!("roll-up: {}", path.display())?,
        None => outln!("no roll-up written: an entry failed (--keep-going attempts every entry and writes one)")?,
    }
    let seeded = entries.iter().filter(|e| e.status == EntryStatus::Seeded).count();
    outln!(
        "{seeded} of {} entries seeded, {} failed; {} bytes sent",
        entries.len(),
        outcome.failed,
        outcome.copy.bytes_sent
    )
}

fn publish_index(args: &PublishIndexArgs) -> anyhow::Result<u8> {
    let connections = connect(&args.connection, &[args.to.registry()])?;
    let published = runtime()?
        .block_on(genesis_seed::publish_index(&connections, &args.manifest, &args.to))
        .with_context(|| format!("publishing {} on {}", args.manifest.display(), args.to))?;
    match args.output {
        OutputFormat::Json => print_json(&published)?,
        OutputFormat::Text => {
            outln!(
                "published {} on {} as {} {} (via the {})",
                args.manifest.display(),
                args.to,
                published.artifact_type,
                published.digest,
                published.via
            )?;
            if published.subject_created {
                outln!(
                    "{} did not exist: it is now an empty index ({}) the roll-up refers to",
                    args.to,
                    published.subject
                )?;
            }
        }
    }
    Ok(exit::OK)
}

fn bootstrap_zot(args: &BootstrapZotArgs) -> anyhow::Result<u8> {
    genesis_cli_support::announce_endpoints("bundle-loader", &[]);
    let options = ZotOptions {
        port: args.port,
        data_dir: args.data_dir.clone(),
        image: args.image.clone(),
        enable_search: args.enable_search,
    };
    let written = genesis_seed::zot::write_zot(&args.out, &options)?;
    print_written(&written, args.output)?;
    if args.output == OutputFormat::Text {
        let compose = args.out.join(genesis_seed::zot::ZOT_COMPOSE_FILE);
        outln!("start it with: docker compose -f {} up -d", compose.display())?;
    }
    Ok(exit::OK)
}

fn package(args: &PackageArgs) -> anyhow::Result<u8> {
    genesis_cli_support::announce_endpoints("bundle-loader", &[]);
    let catalog = Catalog::load(&args.catalog)?;
    let name = genesis_seed::zarf::zarf_name(&args.name)?;
    let images: Vec<String> = catalog.entries.iter().map(|e| e.from.clone()).collect();
    let definition = genesis_seed::zarf::zarf_package(&name, &args.version, &images)?;
    let written = genesis_seed::zarf::write_zarf(&args.out, &definition)?;
    print_written(&[written], args.output)?;
    if args.output == OutputFormat::Text {
        outln!(
            "package {name} {} with {} images; then: zarf package create {}",
            args.version,
            images.len(),
            args.out.display()
        )?;
    }
    Ok(exit::OK)
}

/// The files a generating command wrote.
fn print_written(written: &[PathBuf], output: OutputFormat) -> std::io::Result<()> {
    match output {
        OutputFormat::Json => print_json(&serde_json::json!({ "written": written })),
        OutputFormat::Text => written.iter().try_for_each(|file| outln!("wrote {}", file.display())),
    }
}

/// The copy's progress on stderr: a line when an image starts and when it is done, warnings.
struct StderrProgress {
    quiet: bool,
}

impl SeedProgress for StderrProgress {
    fn copying(&self, from: &str, to: &str) {
        if !self.quiet {
            eprintln!("copying {from} → {to}");
        }
    }

    fn copied(&self, from: &str, image: &CopiedImage) {
        if !self.quiet {
            eprintln!("copied {from}: {}", stats_text(&image.stats));
        }
    }

    fn warning(&self, message: &str) {
        eprintln!("warning: {message}");
    }
}

/// `N blobs sent (X MiB), M mounted, K already present, P manifests pushed`.
fn stats_text(s: &CopyStats) -> String {
    format!(
        "{} blobs sent ({:.1} MiB), {} mounted, {} already present, {} manifests pushed",
        s.blobs_uploaded,
        s.bytes_sent as f64 / f64::from(1u32 << 20),
        s.blobs_mounted,
        s.blobs_present,
        s.manifests_pushed
    )
}
