//! The gap-host's side of the vendor portal: `genesis login / logout / releases / pull` and
//! `genesis license fetch / verify`. The only network endpoint is the portal the operator
//! logged in to; each command that contacts it says so first, and `logout`, `license verify`
//! and every other command contact nothing.

use std::io::{BufRead as _, IsTerminal as _};
use std::path::PathBuf;
use std::sync::{Mutex, PoisonError};
use std::time::Duration;

use anyhow::{Context as _, bail};
use genesis_bundle::ProgressCounter;
use genesis_cli_support::{OutputFormat, exit, outln, print_json, progress};
use genesis_portal_client::protocol::ExportRequest;
use genesis_portal_client::{
    CredentialStore, Credentials, Downloaded, License, PortalClient, PortalError, PullProgress, PulledRelease,
    human_size,
};
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
    let elsewhere = client.foreign_origins(&me.download_origins);
    if !elsewhere.is_empty() {
        outln!(
            "the portal sends downloads to {} too (its object store); `genesis pull` fetches from there and from no \
             other host the portal names, until the next login",
            elsewhere.join(", ")
        )?;
    }
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

/// A pull's progress on stderr: one bar labelled `label` while the files download (hidden
/// with `--quiet`, with `--output json`, or off a terminal).
struct StderrProgress {
    label: &'static str,
    quiet: bool,
    bar: Mutex<Option<progress::Bar>>,
}

impl StderrProgress {
    fn new(label: &'static str, quiet: bool, output: OutputFormat) -> StderrProgress {
        StderrProgress { label, quiet: quiet || output == OutputFormat::Json, bar: Mutex::new(None) }
    }
}

impl PullProgress for StderrProgress {
    fn downloads_started(&self, bytes: ProgressCounter) {
        *self.bar.lock().unwrap_or_else(PoisonError::into_inner) = Some(progress::show(bytes, self.label, self.quiet));
    }

    fn downloads_ended(&self) {
        self.bar.lock().unwrap_or_else(PoisonError::into_inner).take();
    }
}

/// `genesis pull VERSION`: every file of the release, hashed while downloading, resumed
/// after an interruption, renamed into place only when its SHA-256 matches.
pub fn pull(args: &PullArgs) -> anyhow::Result<u8> {
    let client = client(&stored_credentials()?)?;
    let progress = StderrProgress::new("pull", args.quiet, args.output);
    let pulled = runtime()?.block_on(client.pull_release(
        &args.version,
        args.product.as_deref(),
        &args.output_dir,
        &progress,
    ))?;
    print_pulled(&pulled, args)
}

/// Prints what `pull` did: each file and how it came, and what to run next.
fn print_pulled(pulled: &PulledRelease, args: &PullArgs) -> anyhow::Result<u8> {
    let release = &pulled.release;
    match args.output {
        OutputFormat::Json => print_json(&serde_json::json!({
            "product": release.product,
            "version": release.version,
            "signer": release.signer,
            "files": pulled.files.iter().map(|f| serde_json::json!({
                "name": f.artifact.name, "kind": f.artifact.kind, "size": f.artifact.size,
                "sha256": f.artifact.sha256.hex(), "path": f.path,
                "outcome": match f.outcome { Downloaded::AlreadyPresent => "present", Downloaded::Fetched { resumed_from: 0 } => "fetched", Downloaded::Fetched { .. } => "resumed" },
            })).collect::<Vec<_>>(),
        }))?,
        OutputFormat::Text => {
            for f in &pulled.files {
                let how = match f.outcome {
                    Downloaded::AlreadyPresent => "already here".to_owned(),
                    Downloaded::Fetched { resumed_from: 0 } => "fetched".to_owned(),
                    Downloaded::Fetched { resumed_from } => format!("resumed after {}", human_size(resumed_from)),
                };
                let a = &f.artifact;
                outln!("✓ {}  {}  sha256:{}  ({how})", a.name, human_size(a.size), a.sha256.hex())?;
            }
            outln!(
                "pulled {} {} into {} (signed by {})",
                release.product,
                release.version,
                args.output_dir.display(),
                release.signer
            )?;
            for f in pulled.files.iter().filter(|f| f.artifact.kind.is_bundle_entry()) {
                outln!("next: genesis verify {} --key VENDOR.pub", f.path.display())?;
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
    let request = ExportRequest { product: args.product.clone(), version: args.version.clone() };
    let progress = StderrProgress::new("pack", args.quiet, args.output);
    let exported = runtime()?.block_on(client.export_pack(
        &request,
        &args.output_dir,
        Duration::from_millis(500),
        Duration::from_secs(args.timeout),
        &progress,
    ))?;
    let (status, pack, path) = (&exported.status, &exported.pack, &exported.path);
    match args.output {
        OutputFormat::Json => {
            print_json(&serde_json::json!({ "status": status, "path": path, "sha256File": exported.sha256_file }))?
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
            runtime()?.block_on(client.fetch_license_to(out))?;
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
