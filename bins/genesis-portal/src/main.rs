//! `genesis-portal`: the vendor portal's reference server and its admin commands. On the
//! embedded defaults it needs nothing installed: SQLite and a directory under `--data-dir`.
//! For scale, `--database-url postgres://…` and `--object-store s3://BUCKET`.

// Stdout is written through `genesis_app::out!`, `outln!` and `print_json`, which a closed
// pipe ends quietly; `println!` would panic.
#![deny(clippy::print_stdout)]

mod api;
mod artifacts;
mod export;
mod metrics;
mod publish;
mod store;

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::{Path, PathBuf};
use std::process::ExitCode;
use std::sync::Arc;
use std::time::UNIX_EPOCH;

use anyhow::{Context as _, bail};
use clap::{Parser, Subcommand};
use genesis_app::{OutputFormat, exit, outln, print_json};
use genesis_bundle::rfc3339;
use genesis_portal::License;
use genesis_portal::protocol::{Scope, valid_org_name};
use genesis_registry::serve::ServerLimits;
use genesis_trust::{PrivateKey, PublicKey};
use rand_core::RngCore as _;

use crate::artifacts::{Artifacts, ObjectStoreArgs};
use crate::store::{KeyRecord, Store, key_hash, redact};

/// 2025-01-01T00:00:00Z, seed 003's pinned pack timestamp.
const DEFAULT_SOURCE_DATE_EPOCH: u64 = 1_735_689_600;

/// The Genesis vendor portal: serve releases to licensed organisations, and administer it.
#[derive(Debug, Parser)]
#[command(name = "genesis-portal", version, about)]
struct Cli {
    /// The portal's data directory: SQLite database and artifacts by default, scratch space.
    #[arg(long, value_name = "DIR", env = "GENESIS_PORTAL_DATA_DIR", global = true)]
    data_dir: Option<PathBuf>,
    /// Metadata in this database instead of DATA_DIR/portal.db (postgres://… or sqlite://…).
    #[arg(long, value_name = "URL", env = "GENESIS_PORTAL_DATABASE_URL", global = true, hide_env_values = true)]
    database_url: Option<String>,
    #[command(flatten)]
    object_store: ObjectStoreArgs,
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API.
    Serve(ServeArgs),
    /// Organisations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// License keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// Entitle an organisation to a version range of a product.
    Entitle {
        /// The organisation.
        #[arg(long)]
        org: String,
        /// A semver range, e.g. `>=3.2, <4`.
        #[arg(long)]
        versions: String,
        /// The product.
        #[arg(long, default_value = "genesis")]
        product: String,
    },
    /// Publish a release: every bundle is verified against the vendor key first.
    Publish {
        /// The release version (semver).
        version: String,
        /// Bundles (their sidecars beside them are added), SBOMs, provenance, other files.
        #[arg(required = true)]
        files: Vec<PathBuf>,
        /// The vendor's public key (PEM).
        #[arg(long, value_name = "PUB")]
        key: PathBuf,
        /// The product.
        #[arg(long, default_value = "genesis")]
        product: String,
        /// Report format.
        #[arg(long, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// Offline license files.
    #[command(subcommand)]
    License(LicenseCommand),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on.
    #[arg(long, default_value = "127.0.0.1:8480")]
    listen: SocketAddr,
    /// A private key (PEM, cosign-encrypted or not) that signs the license files `GET
    /// /v1/license` hands out; without it the portal issues none.
    #[arg(long, value_name = "KEY")]
    license_signing_key: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM); with --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The one timestamp inside export packs.
    #[arg(long, env = "SOURCE_DATE_EPOCH", default_value_t = DEFAULT_SOURCE_DATE_EPOCH)]
    source_date_epoch: u64,
    /// Export packs an organisation may have building at once; more are answered 429 with
    /// Retry-After (each build re-verifies and unpacks every bundle of its release).
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..))]
    max_exports_per_org: u16,
    /// How long a built export pack is kept; then it is deleted and its status answers 410.
    #[arg(long, value_name = "SECONDS", default_value_t = 86_400, value_parser = clap::value_parser!(i64).range(1..))]
    export_ttl_secs: i64,
    /// Connections served at once. Past it, a new connection takes the place of one that has
    /// been quiet for a second (an idle socket, a client that stopped reading), else it is
    /// closed; each connection may hold a socket and an open file, so keep twice this under
    /// the open-file limit (`ulimit -n`).
    #[arg(long, value_name = "N", default_value_t = ServerLimits::default().max_connections)]
    max_connections: NonZeroUsize,
}

#[derive(Debug, Subcommand)]
enum OrgCommand {
    /// Create an organisation (lower-case letters, digits, `-`).
    Create {
        /// Its name.
        name: String,
    },
    /// List organisations.
    List,
}

#[derive(Debug, Subcommand)]
enum KeyCommand {
    /// Create a license key; it is printed once and stored only as a hash.
    Create {
        /// The organisation.
        #[arg(long)]
        org: String,
        /// What it may do (repeatable): releases:read (the default), export:read, export:write.
        #[arg(long = "scope", value_name = "SCOPE")]
        scopes: Vec<Scope>,
        /// Days until it expires.
        #[arg(long, default_value_t = 365)]
        expires_in_days: u32,
        /// Report format.
        #[arg(long, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// List an organisation's keys (ids, never the keys).
    List {
        /// The organisation.
        #[arg(long)]
        org: String,
    },
    /// Revoke a key by id; it is refused from the next request on.
    Revoke {
        /// The key id (`k_…`).
        id: String,
    },
}

#[derive(Debug, Subcommand)]
enum LicenseCommand {
    /// Issue a signed offline license file for an organisation's entitlements.
    Issue {
        /// The organisation.
        #[arg(long)]
        org: String,
        /// The vendor's private key (PEM; GENESIS_KEY_PASSWORD for an encrypted one).
        #[arg(long, value_name = "KEY")]
        signing_key: PathBuf,
        /// Days until it expires.
        #[arg(long, default_value_t = 365)]
        valid_days: u32,
        /// Where to write it.
        #[arg(long, short = 'o', value_name = "FILE")]
        out: PathBuf,
    },
}

/// `n` random bytes, hex.
pub fn random_hex(n: usize) -> String {
    let mut bytes = vec![0; n];
    rand_core::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// The current Unix time.
pub fn now() -> i64 {
    std::time::SystemTime::now().duration_since(UNIX_EPOCH).map_or(0, |d| d.as_secs() as i64)
}

/// A Unix time as RFC 3339.
pub fn when(unix: i64) -> String {
    rfc3339(u64::try_from(unix).unwrap_or(0))
}

/// The license of `org`'s entitlements, issued now and valid until `expires`: what both
/// `license issue` and `GET /v1/license` sign.
pub async fn license_for(store: &Store, org: &str, expires: i64) -> anyhow::Result<License> {
    Ok(License {
        schema: genesis_portal::license::LICENSE_SCHEMA.into(),
        license_id: format!("lic_{}", random_hex(8)),
        org: org.to_owned(),
        entitlements: store.entitlements(org).await?,
        issued: when(now()),
        expires: when(expires),
    })
}

fn data_dir(cli: &Cli) -> anyhow::Result<&Path> {
    let dir =
        cli.data_dir.as_deref().context("no data directory: pass --data-dir DIR (or set GENESIS_PORTAL_DATA_DIR)")?;
    std::fs::create_dir_all(dir).with_context(|| format!("creating {}", dir.display()))?;
    Ok(dir)
}

async fn open_store(cli: &Cli) -> anyhow::Result<Store> {
    let url = match &cli.database_url {
        Some(url) => url.clone(),
        None => format!("sqlite://{}?mode=rwc", data_dir(cli)?.join("portal.db").display()),
    };
    Store::open(&url).await
}

fn load_private_key(path: &Path) -> anyhow::Result<PrivateKey> {
    Ok(PrivateKey::from_pem_file_with_password(path, &genesis_app::password::for_reading)?)
}

/// The network endpoints a run may contact: the database unless it is SQLite, the S3 endpoint.
fn endpoints(cli: &Cli) -> Vec<String> {
    let database = cli.database_url.as_deref().filter(|url| !url.starts_with("sqlite:")).map(redact);
    database.into_iter().chain(cli.object_store.endpoint()).collect()
}

fn main() -> ExitCode {
    let cli = Cli::parse();
    if matches!(cli.command, Command::Serve(_)) {
        // The server logs JSON lines for the vendor's log pipeline.
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let _ = tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    } else {
        genesis_app::init_logging();
    }
    exit::run(|| {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
        runtime.block_on(run(&cli))
    })
}

async fn run(cli: &Cli) -> anyhow::Result<u8> {
    genesis_app::announce_endpoints("genesis-portal", &endpoints(cli));
    match &cli.command {
        Command::Serve(args) => serve(cli, args).await,
        Command::Org(OrgCommand::Create { name }) => {
            if !valid_org_name(name) {
                bail!(
                    "organisation `{name}`: use lower-case letters, digits and `-` (at most 40), it becomes part of every key"
                );
            }
            open_store(cli).await?.create_org(name, now()).await?;
            outln!("created organisation {name}")?;
            Ok(exit::OK)
        }
        Command::Org(OrgCommand::List) => {
            for org in open_store(cli).await?.orgs().await? {
                outln!("{org}")?;
            }
            Ok(exit::OK)
        }
        Command::Key(KeyCommand::Create { org, scopes, expires_in_days, output }) => {
            let store = open_store(cli).await?;
            store.require_org(org).await?;
            let mut scopes = if scopes.is_empty() { vec![Scope::ReleasesRead] } else { scopes.clone() };
            scopes.dedup();
            let key = format!("sk_{org}_{}", random_hex(24));
            let record = KeyRecord {
                id: format!("k_{}", random_hex(6)),
                org: org.clone(),
                scopes,
                expires: now() + i64::from(*expires_in_days) * 86_400,
                revoked: None,
            };
            store.insert_key(&record, &key_hash(&key), now()).await?;
            let scopes: Vec<_> = record.scopes.iter().map(|s| s.as_str()).collect();
            let expires = rfc3339(record.expires as u64);
            match output {
                OutputFormat::Json => print_json(&serde_json::json!({
                    "key": key, "id": record.id, "org": org, "scopes": scopes, "expires": expires,
                }))?,
                OutputFormat::Text => {
                    outln!("{key}")?;
                    eprintln!(
                        "key {} for {org} ({}), expires {expires}. It is shown once: the portal keeps only its hash.",
                        record.id,
                        scopes.join(", ")
                    );
                }
            }
            Ok(exit::OK)
        }
        Command::Key(KeyCommand::List { org }) => {
            let store = open_store(cli).await?;
            store.require_org(org).await?;
            for k in store.keys(org).await? {
                let scopes: Vec<_> = k.scopes.iter().map(|s| s.as_str()).collect();
                let state = match k.revoked {
                    Some(t) => format!("revoked {}", rfc3339(t as u64)),
                    None if k.expires <= now() => format!("expired {}", rfc3339(k.expires as u64)),
                    None => format!("active until {}", rfc3339(k.expires as u64)),
                };
                outln!("{}  {:40}  {state}", k.id, scopes.join(","))?;
            }
            Ok(exit::OK)
        }
        Command::Key(KeyCommand::Revoke { id }) => {
            open_store(cli).await?.revoke_key(id, now()).await?;
            outln!("revoked {id}")?;
            Ok(exit::OK)
        }
        Command::Entitle { org, versions, product } => {
            semver::VersionReq::parse(versions)
                .with_context(|| format!("`{versions}` is not a semver range (e.g. `>=3.2, <4`)"))?;
            let store = open_store(cli).await?;
            store.require_org(org).await?;
            store.entitle(org, product, versions).await?;
            outln!("{org} is entitled to {product} {versions}")?;
            Ok(exit::OK)
        }
        Command::Publish { version, files, key, product, output } => {
            let key = PublicKey::from_pem_file(key)?;
            let store = open_store(cli).await?;
            let artifacts = Artifacts::open(&cli.object_store, data_dir(cli)?)?;
            let publication = publish::Publication { product, version, files, key: &key, now: now() };
            let stored = publish::publish(&store, &artifacts, publication).await?;
            match output {
                OutputFormat::Json => print_json(&serde_json::json!({
                    "product": product, "version": version, "signer": key.fingerprint().to_string(),
                    "artifacts": stored.iter().map(|a| serde_json::json!({"name": a.name, "kind": a.kind, "size": a.size, "sha256": a.sha256})).collect::<Vec<_>>(),
                }))?,
                OutputFormat::Text => {
                    for a in &stored {
                        outln!("  {:?}  {}  {} bytes  sha256:{}", a.kind, a.name, a.size, a.sha256)?;
                    }
                    outln!(
                        "published {product} {version} ({} files, verified with {})",
                        stored.len(),
                        key.fingerprint()
                    )?;
                }
            }
            Ok(exit::OK)
        }
        Command::License(LicenseCommand::Issue { org, signing_key, valid_days, out }) => {
            let key = load_private_key(signing_key)?;
            let store = open_store(cli).await?;
            store.require_org(org).await?;
            let license = license_for(&store, org, now() + i64::from(*valid_days) * 86_400).await?;
            std::fs::write(out, license.sign(&key)).with_context(|| format!("writing {}", out.display()))?;
            outln!(
                "wrote {} ({org}, {} entitlements, expires {})",
                out.display(),
                license.entitlements.len(),
                license.expires
            )?;
            Ok(exit::OK)
        }
    }
}

async fn serve(cli: &Cli, args: &ServeArgs) -> anyhow::Result<u8> {
    let dir = data_dir(cli)?;
    let store = open_store(cli).await?;
    let artifacts = Artifacts::open(&cli.object_store, dir)?;
    let license_key = args.license_signing_key.as_deref().map(load_private_key).transpose()?;
    let scratch = dir.join("scratch");
    export::clear_scratch(&scratch)?;
    let state = Arc::new(api::AppState {
        store,
        artifacts,
        metrics: Arc::new(metrics::Metrics::new()),
        license_key,
        scratch,
        source_date_epoch: args.source_date_epoch,
        builds: Arc::new(export::Builds::new(usize::from(args.max_exports_per_org))),
        export_ttl_secs: args.export_ttl_secs,
    });
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(cert), Some(key)) => Some(genesis_registry::serve::tls_acceptor(cert, key)?),
        _ => None,
    };
    let listener =
        tokio::net::TcpListener::bind(args.listen).await.with_context(|| format!("listening on {}", args.listen))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(listen = %format!("{scheme}://{}", listener.local_addr()?), "genesis-portal serving");
    tokio::spawn(export::expire_finished(Arc::clone(&state)));
    let router = api::router(state);
    let limits = ServerLimits { max_connections: args.max_connections, ..ServerLimits::default() };
    let accepting = genesis_registry::serve::accept_loop(listener, tls, limits, move |_peer| {
        hyper_util::service::TowerToHyperService::new(router.clone())
    });
    tokio::select! {
        never = accepting => match never {},
        _ = tokio::signal::ctrl_c() => tracing::info!("interrupted: stopped serving"),
    }
    Ok(exit::OK)
}
