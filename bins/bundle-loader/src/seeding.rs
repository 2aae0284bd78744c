//! `bundle-loader registry …`: seeding edge registries from each other (seed 004). The flags
//! become a [`genesis_seed`] request (connections per host, how the destination is trusted),
//! whose outcome is printed as text or JSON; the copy, the fail-closed verification and the
//! audit files are the library's.

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};

use anyhow::Context as _;
use genesis_bundle::ProgressCounter;
use genesis_cli_support::registry::RegistryArgs;
use genesis_cli_support::{OutputFormat, exit, outln, print_json, progress};
use genesis_registry::RegistryError;
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
#[command(
    mut_arg("username", |a| a.help(DESTINATION_ONLY)),
    mut_arg("password", |a| a.help("Password or token for the destination registry only (see --username)")),
    mut_arg("authfile", |a| a.help(AUTHFILE)),
)]
pub struct CommonArgs {
    /// Connection settings: TLS for every registry of the run, credentials as --username says.
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

/// `--username` of a copying command: the destination's only.
const DESTINATION_ONLY: &str = "User name for the destination registry only (the password comes from \
     GENESIS_REGISTRY_PASSWORD). Never sent to a source registry, which gets only its own entry of the Docker \
     config (--authfile)";

/// `--authfile` of a copying command: the only credentials a source gets.
const AUTHFILE: &str = "Docker config.json whose entry for each registry is its credentials (default: \
     $DOCKER_CONFIG or ~/.docker); the only credentials a source registry gets";

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
        SeedError::Unresolvable { side, source, .. }
            if *side == "source" && matches!(**source, RegistryError::Unauthorized { .. }) =>
        {
            Some(
                "a source registry gets only its own entry of the Docker config (--authfile): --username/--password \
                 go to the destination only"
                    .to_owned(),
            )
        }
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
    /// Announces the registries of a run and sets up their connections ([`connect`]).
    fn connect(&self, sources: &[&str], destinations: &[&str]) -> anyhow::Result<Connections> {
        connect(&self.connection, sources, destinations)
    }

    /// A seeder over `connections` reporting on stderr, and that report.
    fn seeder(&self, connections: Connections) -> (Seeder, Arc<StderrProgress>) {
        let progress = Arc::new(StderrProgress { quiet: self.quiet, bar: Mutex::new(None) });
        let seeder = Seeder::new(connections, usize::from(self.concurrency), progress.clone());
        (seeder, progress)
    }

    /// The total line of a run, on stderr.
    fn total(&self, stats: &CopyStats) {
        if !self.quiet {
            eprintln!("total: {}", stats_text(stats));
        }
    }
}

/// Announces the registries of a run (each once, sources first) and sets up one connection
/// pool per registry. `--username`/`--password` go to the destinations only: a source gets
/// only its own entry of the Docker config, so a hostile source that asks for credentials
/// never collects the edge registry's. A registry that is both is a destination.
fn connect(connection: &RegistryArgs, sources: &[&str], destinations: &[&str]) -> anyhow::Result<Connections> {
    let mut hosts: Vec<&str> = Vec::new();
    for &host in sources.iter().chain(destinations) {
        if !hosts.contains(&host) {
            hosts.push(host);
        }
    }
    let endpoints: Vec<String> = hosts.iter().map(|h| connection.endpoint(h)).collect();
    genesis_cli_support::announce_endpoints("bundle-loader", &endpoints);
    let options = hosts
        .iter()
        .map(|&host| {
            let options = if destinations.contains(&host) {
                connection.options(host)?
            } else {
                connection.source_options(host)?
            };
            Ok((host.to_owned(), options))
        })
        .collect::<anyhow::Result<BTreeMap<_, _>>>()?;
    // Every host the run contacts is in `options`: the default serves none, so it carries no
    // credentials.
    Ok(Connections::new(options, connection.without_credentials()))
}

/// A multi-threaded runtime for one command.
fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")
}

fn seed(args: &SeedArgs) -> anyhow::Result<u8> {
    // Announced first, refused next: setting up connections contacts nothing.
    let connections = args.common.connect(&[args.from.registry()], &[args.to.registry()])?;
    let trust = args.trust.trust()?.ok_or_else(|| fail_closed("seed"))?;
    warn_skip_verify(Some(&trust));
    let (seeder, progress) = args.common.seeder(connections);
    let request = SeedRequest {
        from: args.from.clone(),
        to: args.to.clone(),
        copy_policy: args.copy_policy,
        out: args.out.clone(),
    };
    let runtime = runtime()?;
    let outcome = progress
        .showing(seeder.progress_counter(), "seeding", || runtime.block_on(seeder.seed(&request, &trust)))
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
    let name = args.catalog.display().to_string();
    let connections = connect_catalog(&catalog, &name, &args.common)?;
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
    run_catalog(&catalog, &name, connections, &args.out, args.keep_going, trust.as_ref(), &args.common, "seeding")
}

fn sync(args: &SyncArgs) -> anyhow::Result<u8> {
    let catalog = Catalog::sync(&args.from_registry, &args.to_registry, &args.repos, args.copy_policy)?;
    let name = format!("sync {} → {}", args.from_registry, args.to_registry);
    let connections = connect_catalog(&catalog, &name, &args.common)?;
    let trust = args.trust.trust()?.ok_or_else(|| fail_closed("sync"))?;
    run_catalog(&catalog, &name, connections, &args.out, args.keep_going, Some(&trust), &args.common, "syncing")
}

/// Announces the registries of `catalog`'s entries and sets up their connections: each
/// entry's `from` a source, its `to` a destination.
fn connect_catalog(catalog: &Catalog, name: &str, common: &CommonArgs) -> anyhow::Result<Connections> {
    let parse =
        |r: &String| r.parse::<ImageReference>().with_context(|| format!("{name}: {r} is not an image reference"));
    let from = catalog.entries.iter().map(|e| parse(&e.from)).collect::<anyhow::Result<Vec<_>>>()?;
    let to = catalog.entries.iter().map(|e| parse(&e.to)).collect::<anyhow::Result<Vec<_>>>()?;
    let sources: Vec<&str> = from.iter().map(ImageReference::registry).collect();
    let destinations: Vec<&str> = to.iter().map(ImageReference::registry).collect();
    common.connect(&sources, &destinations)
}

/// Seeds every entry of `catalog` and prints a line per entry, the roll-up and the bytes sent;
/// exit 1 when an entry failed.
#[allow(clippy::too_many_arguments)] // The flags of two commands, each passed once.
fn run_catalog(
    catalog: &Catalog,
    name: &str,
    connections: Connections,
    out: &Path,
    keep_going: bool,
    trust: Option<&Trust>,
    common: &CommonArgs,
    label: &'static str,
) -> anyhow::Result<u8> {
    warn_skip_verify(trust);
    let (seeder, progress) = common.seeder(connections);
    let runtime = runtime()?;
    let outcome = progress.showing(seeder.progress_counter(), label, || {
        runtime.block_on(seeder.seed_catalog(catalog, name, out, keep_going, trust))
    })?;
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
                // A check mark only for what was verified.
                let (mark, unverified) = if e.verified { ("✓", "") } else { ("!", " (NOT verified: --skip-verify)") };
                let digest = e.dest_digest.as_deref().unwrap_or_default();
                let dir = out.join(&e.dir);
                outln!("{mark} seeded {} → {}@{digest}{unverified} ({})", e.from, e.to, dir.display())?;
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
    let connections = connect(&args.connection, &[], &[args.to.registry()])?;
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
    match args.output {
        // The registry the files describe, and the files.
        OutputFormat::Json => print_json(&serde_json::json!({
            "written": written,
            "port": args.port,
            "image": args.image.as_deref().unwrap_or(genesis_seed::zot::ZOT_IMAGE),
            "dataDir": args.data_dir,
            "enableSearch": args.enable_search,
        }))?,
        OutputFormat::Text => {
            print_written(&written)?;
            let compose = args.out.join(genesis_seed::zot::ZOT_COMPOSE_FILE);
            outln!("start it with: docker compose -f {} up -d", compose.display())?;
        }
    }
    Ok(exit::OK)
}

fn package(args: &PackageArgs) -> anyhow::Result<u8> {
    genesis_cli_support::announce_endpoints("bundle-loader", &[]);
    let catalog = Catalog::load(&args.catalog)?;
    let name = genesis_seed::zarf::zarf_name(&args.name)?;
    let images: Vec<String> = catalog.entries.iter().map(|e| e.from.clone()).collect();
    let definition = genesis_seed::zarf::zarf_package(&name, &args.version, &images)?;
    let written = [genesis_seed::zarf::write_zarf(&args.out, &definition)?];
    match args.output {
        // The package, as `bundle-builder zarf-definition` reports it (its name made
        // Zarf-legal), and the file.
        OutputFormat::Json => print_json(&serde_json::json!({
            "written": written,
            "name": name,
            "version": args.version,
            "images": images.len(),
        }))?,
        OutputFormat::Text => {
            print_written(&written)?;
            outln!(
                "package {name} {} with {} images; then: zarf package create {}",
                args.version,
                images.len(),
                args.out.display()
            )?;
        }
    }
    Ok(exit::OK)
}

/// The files a generating command wrote, a line each.
fn print_written(written: &[PathBuf]) -> std::io::Result<()> {
    written.iter().try_for_each(|file| outln!("wrote {}", file.display()))
}

/// The copy's progress on stderr: a line when an image starts and when it is done, warnings,
/// and while the run copies a count of the bytes sent (off a terminal or with `--quiet`, none).
struct StderrProgress {
    quiet: bool,
    /// Up while the run copies: lines are printed through it.
    bar: Mutex<Option<progress::Bar>>,
}

impl StderrProgress {
    /// Runs `work`, the copy, with the bytes `sent` counts shown as `label`.
    fn showing<T>(&self, sent: &ProgressCounter, label: &'static str, work: impl FnOnce() -> T) -> T {
        *self.bar.lock().unwrap_or_else(PoisonError::into_inner) =
            Some(progress::show(sent.clone(), label, self.quiet));
        let done = work();
        drop(self.bar.lock().unwrap_or_else(PoisonError::into_inner).take());
        done
    }

    /// One line on stderr, above the bytes count when it shows.
    fn line(&self, line: &str) {
        match &*self.bar.lock().unwrap_or_else(PoisonError::into_inner) {
            Some(bar) => bar.suspend(|| eprintln!("{line}")),
            None => eprintln!("{line}"),
        }
    }
}

impl SeedProgress for StderrProgress {
    fn copying(&self, from: &str, to: &str) {
        if !self.quiet {
            self.line(&format!("copying {from} → {to}"));
        }
    }

    fn copied(&self, from: &str, image: &CopiedImage) {
        if !self.quiet {
            self.line(&format!("copied {from}: {}", stats_text(&image.stats)));
        }
    }

    fn warning(&self, message: &str) {
        self.line(&format!("warning: {message}"));
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
