//! The gap-host's side of the vendor portal: `genesis login / logout / releases / pull` and
//! `genesis license fetch / verify`. The only network endpoint is the portal the operator
//! logged in to; each command that contacts it says so first, and `logout`, `license verify`
//! and every other command contact nothing.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::PathBuf;

use anyhow::{Context as _, bail};
use genesis_bundle::ProgressCounter;
use genesis_cli_support::{OutputFormat, exit, outln, print_json};
use genesis_portal_client::protocol::ArtifactKind;
use genesis_portal_client::{CredentialStore, Credentials, Downloaded, License, PortalClient, PortalError};
use genesis_trust::PublicKey;

/// The environment variable a key can come from instead of a prompt.
const KEY_ENV: &str = "GENESIS_LICENSE_KEY";

/// The stored login, or what to run to make one.
fn stored_credentials() -> anyhow::Result<Credentials> {
    match CredentialStore::from_env()?.load() {
        Err(PortalError::NotLoggedIn { .. }) => {
            bail!("not logged in to a portal: run `genesis login --portal https://PORTAL` first")
        }
        loaded => Ok(loaded?),
    }
}

/// A client of the credentials' portal, announced before it contacts anything.
fn client(credentials: &Credentials) -> anyhow::Result<PortalClient> {
    let client = credentials.client()?;
    genesis_cli_support::announce_endpoints("genesis", &[client.base().to_owned()]);
    Ok(client)
}

fn runtime() -> anyhow::Result<tokio::runtime::Runtime> {
    tokio::runtime::Builder::new_multi_thread()
        .worker_threads(2)
        .enable_all()
        .build()
        .context("starting the async runtime")
}

/// Arguments of `login`.
#[derive(Debug, clap::Args)]
pub struct LoginArgs {
    /// The portal (https://…); remembered. Defaults to the portal of the last login.
    #[arg(long, value_name = "URL", env = "GENESIS_PORTAL")]
    portal: Option<String>,
    /// Trust only this CA bundle for the portal's TLS (a private CA); remembered for this portal.
    #[arg(long, value_name = "FILE")]
    ca_file: Option<PathBuf>,
    /// Allow plain http:// to a portal that is not on loopback; remembered for this portal.
    #[arg(long)]
    plain_http: bool,
}

/// The key: `GENESIS_LICENSE_KEY`, else a line on stdin when it is not a terminal, else a
/// prompt that does not echo.
fn read_key() -> anyhow::Result<String> {
    if let Ok(key) = std::env::var(KEY_ENV) {
        return Ok(key.trim().to_owned());
    }
    if !std::io::stdin().is_terminal() {
        let mut line = String::new();
        std::io::stdin().lock().read_line(&mut line).context("reading the key from stdin")?;
        return Ok(line.trim().to_owned());
    }
    Ok(rpassword::prompt_password("License key (sk_…): ").context("reading the key")?.trim().to_owned())
}

/// `genesis login`: checks the key with the portal, then stores it.
pub fn login(args: &LoginArgs) -> anyhow::Result<u8> {
    let store = CredentialStore::from_env()?;
    let portal = store
        .login_settings(args.portal.as_deref(), args.ca_file.clone(), args.plain_http)
        .context("no portal: pass --portal https://PORTAL (the vendor's download portal)")?;
    let credentials = Credentials::new(portal, &read_key()?)?;
    let client = client(&credentials)?;
    let me = runtime()?.block_on(store.login(&credentials, &client))?;
    let scopes: Vec<_> = me.scopes.iter().map(|s| s.as_str()).collect();
    outln!(
        "logged in to {} as {} (key {}, {}, expires {}); saved to {}",
        client.base(),
        me.org,
        me.key_id,
        scopes.join(", "),
        me.expires,
        store.path().display()
    )?;
    Ok(exit::OK)
}

/// `genesis logout`: forgets the key (contacts nothing).
pub fn logout() -> anyhow::Result<u8> {
    let store = CredentialStore::from_env()?;
    if store.remove()? {
        outln!("logged out: removed {}", store.path().display())?;
    } else {
        outln!("not logged in")?;
    }
    Ok(exit::OK)
}

/// Arguments of `releases`.
#[derive(Debug, clap::Args)]
pub struct ReleasesArgs {
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
}

fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// `genesis releases`: the versions the key is entitled to.
pub fn releases(args: &ReleasesArgs) -> anyhow::Result<u8> {
    let client = client(&stored_credentials()?)?;
    let releases = runtime()?.block_on(client.releases())?;
    match args.output {
        OutputFormat::Json => print_json(&releases)?,
        OutputFormat::Text => {
            outln!("{:<12} {:<12} {:<22} {:>7} {:>10}", "PRODUCT", "VERSION", "PUBLISHED", "BUNDLES", "SIZE")?;
            for r in &releases {
                outln!(
                    "{:<12} {:<12} {:<22} {:>7} {:>10}",
                    r.product,
                    r.version,
                    r.published,
                    r.bundles,
                    human_size(r.size)
                )?;
            }
            if releases.is_empty() {
                outln!("(no release you are entitled to)")?;
            }
        }
    }
    Ok(exit::OK)
}

/// Arguments of `pull`.
#[derive(Debug, clap::Args)]
pub struct PullArgs {
    /// The release version, e.g. 3.2.10.
    version: String,
    /// The product, when several have this version.
    #[arg(long)]
    product: Option<String>,
    /// Where to write the files.
    #[arg(long, short = 'o', default_value = ".", value_name = "DIR")]
    output_dir: PathBuf,
    /// No progress bar.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
}

/// `genesis pull VERSION`: every file of the release, hashed while downloading, resumed
/// after an interruption, renamed into place only when its SHA-256 matches.
pub fn pull(args: &PullArgs) -> anyhow::Result<u8> {
    let client = client(&stored_credentials()?)?;
    std::fs::create_dir_all(&args.output_dir).with_context(|| format!("creating {}", args.output_dir.display()))?;
    let runtime = runtime()?;
    let release = runtime.block_on(client.release(&args.version, args.product.as_deref()))?;
    let progress = ProgressCounter::default();
    progress.set_total(release.artifacts.iter().map(|a| a.size).sum());
    let quiet = args.quiet || args.output == OutputFormat::Json;
    let bar = genesis_cli_support::progress::show(progress.clone(), "pull", quiet);
    let mut outcomes = Vec::new();
    for artifact in &release.artifacts {
        let outcome = runtime.block_on(client.download(artifact, &args.output_dir, &progress));
        let outcome = outcome.with_context(|| format!("downloading {}", artifact.name))?;
        outcomes.push((artifact, outcome));
    }
    drop(bar);
    genesis_portal_client::check_sha256_sidecars(&args.output_dir, &release.artifacts)?;
    match args.output {
        OutputFormat::Json => print_json(&serde_json::json!({
            "product": release.product,
            "version": release.version,
            "signer": release.signer,
            "files": outcomes.iter().map(|(a, o)| serde_json::json!({
                "name": a.name, "kind": a.kind, "size": a.size, "sha256": a.sha256.hex(),
                "path": args.output_dir.join(&a.name),
                "outcome": match o { Downloaded::AlreadyPresent => "present", Downloaded::Fetched { resumed_from: 0 } => "fetched", Downloaded::Fetched { .. } => "resumed" },
            })).collect::<Vec<_>>(),
        }))?,
        OutputFormat::Text => {
            for (a, o) in &outcomes {
                let how = match o {
                    Downloaded::AlreadyPresent => "already here".to_owned(),
                    Downloaded::Fetched { resumed_from: 0 } => "fetched".to_owned(),
                    Downloaded::Fetched { resumed_from } => format!("resumed after {}", human_size(*resumed_from)),
                };
                outln!("✓ {}  {}  sha256:{}  ({how})", a.name, human_size(a.size), a.sha256.hex())?;
            }
            outln!(
                "pulled {} {} into {} (signed by {})",
                release.product,
                release.version,
                args.output_dir.display(),
                release.signer
            )?;
            for a in release.artifacts.iter().filter(|a| a.kind == ArtifactKind::Bundle) {
                outln!("next: genesis verify {} --key VENDOR.pub", args.output_dir.join(&a.name).display())?;
            }
        }
    }
    Ok(exit::OK)
}

/// Arguments of `export-pack`.
#[derive(Debug, clap::Args)]
pub struct ExportPackArgs {
    /// The release version.
    version: String,
    /// The product (`genesis` when left out).
    #[arg(long)]
    product: Option<String>,
    /// Where to write `bootstrap-pack-v1.tar.gz` and its `.sha256`.
    #[arg(long, short = 'o', default_value = ".", value_name = "DIR")]
    output_dir: PathBuf,
    /// How long to wait for the portal to build the pack, in seconds.
    #[arg(long, default_value_t = 600)]
    timeout: u64,
    /// No progress bar.
    #[arg(long, short = 'q')]
    quiet: bool,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
}

/// `genesis export-pack VERSION`: has the portal stage seed 003's bootstrap pack of a
/// release, waits for it, downloads it like `pull` (hashed, resumable, atomic) and writes a
/// `sha256sum -c` sidecar beside it.
pub fn export_pack(args: &ExportPackArgs) -> anyhow::Result<u8> {
    let client = client(&stored_credentials()?)?;
    std::fs::create_dir_all(&args.output_dir).with_context(|| format!("creating {}", args.output_dir.display()))?;
    let runtime = runtime()?;
    let request =
        genesis_portal_client::protocol::ExportRequest { product: args.product.clone(), version: args.version.clone() };
    let started = runtime.block_on(client.start_export(&request))?;
    let timeout = std::time::Duration::from_secs(args.timeout);
    let interval = std::time::Duration::from_millis(500);
    let (status, pack) = runtime.block_on(client.wait_for_export(&started.export_id, interval, timeout))?;
    let progress = ProgressCounter::default();
    progress.set_total(pack.size);
    let bar =
        genesis_cli_support::progress::show(progress.clone(), "pack", args.quiet || args.output == OutputFormat::Json);
    runtime.block_on(client.download(&pack, &args.output_dir, &progress))?;
    drop(bar);
    let path = args.output_dir.join(&pack.name);
    // The output folder may be shared: written through a scratch file of this run and
    // renamed, the sidecar never follows a symlink planted at its name to another file.
    let sidecar = args.output_dir.join(format!("{}.sha256", pack.name));
    genesis_bundle::scratch::atomic_write(&sidecar, format!("{}  {}\n", pack.sha256.hex(), pack.name).as_bytes())
        .with_context(|| format!("writing {}", sidecar.display()))?;
    match args.output {
        OutputFormat::Json => {
            print_json(&serde_json::json!({ "status": status, "path": path, "sha256File": sidecar }))?
        }
        OutputFormat::Text => {
            outln!("✓ {} ({}, sha256:{})", path.display(), human_size(pack.size), pack.sha256.hex())?;
            outln!(
                "  export {} of {} {}: rootHash {}",
                status.export_id,
                status.product,
                status.version,
                status.root_hash.as_ref().map(|d| d.hex()).unwrap_or_default()
            )?;
        }
    }
    Ok(exit::OK)
}

/// `genesis license …`.
#[derive(Debug, clap::Subcommand)]
pub enum LicenseCommand {
    /// Download the organisation's signed offline license file from the portal.
    Fetch {
        /// Where to write it.
        #[arg(long, short = 'o', value_name = "FILE", default_value = "genesis-license.json")]
        out: PathBuf,
    },
    /// Check a license file offline: signature with the vendor key, expiry.
    Verify {
        /// The license file.
        file: PathBuf,
        /// The vendor's public key (PEM).
        #[arg(long, value_name = "PUB")]
        key: PathBuf,
        /// Report format.
        #[arg(long, value_enum, default_value_t)]
        output: OutputFormat,
    },
}

/// Runs a `license` subcommand.
pub fn license(command: &LicenseCommand) -> anyhow::Result<u8> {
    match command {
        LicenseCommand::Fetch { out } => {
            let client = client(&stored_credentials()?)?;
            let bytes = runtime()?.block_on(client.license_file())?;
            std::fs::write(out, bytes).with_context(|| format!("writing {}", out.display()))?;
            outln!(
                "wrote {}; check it with `genesis license verify {} --key VENDOR.pub`",
                out.display(),
                out.display()
            )?;
            Ok(exit::OK)
        }
        LicenseCommand::Verify { file, key, output } => {
            genesis_cli_support::announce_endpoints("genesis", &[]);
            let key = PublicKey::from_pem_file(key)?;
            let bytes = std::fs::read(file).with_context(|| format!("reading {}", file.display()))?;
            let license = License::verify(&bytes, &key, time_now())?;
            match output {
                OutputFormat::Json => print_json(&license)?,
                OutputFormat::Text => {
                    outln!("✓ license {} for {} signed by {}", license.license_id, license.org, key.fingerprint())?;
                    outln!("  valid until {} (issued {})", license.expires, license.issued)?;
                    for e in &license.entitlements {
                        outln!("  entitled to {} {}", e.product, e.versions)?;
                    }
                }
            }
            Ok(exit::OK)
        }
    }
}

fn time_now() -> time::OffsetDateTime {
    time::OffsetDateTime::now_utc()
}
