//! `genesis-portal`: the vendor portal's reference server and its admin commands, over the
//! `genesis-portal-server` library. On the embedded defaults it needs nothing installed:
//! SQLite and a directory under `--data-dir`. For scale, `--database-url postgres://…` and
//! `--object-store s3://BUCKET` or `az://CONTAINER`.

// Stdout is written through `genesis_cli_support::out!`, `outln!` and `print_json`, which a
// closed pipe ends quietly; `println!` would panic.
#![deny(clippy::print_stdout)]

use std::error::Error;
use std::io::Write as _;
use std::net::SocketAddr;
use std::path::{Path, PathBuf};
use std::process::ExitCode;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use genesis_bundle::rfc3339;
use genesis_cli_support::exit::{self, Errors};
use genesis_cli_support::server::ServerArgs;
use genesis_cli_support::{OutputFormat, json_report, outln, print_json};
use genesis_objstore::{AzureConfig, ObjStoreError, ObjectStoreConfig, ObjectStoreKind, S3Config, SecretVariables};
use genesis_portal_client::protocol::Scope;
use genesis_portal_server::admin::{self, KeyState, Publication};
use genesis_portal_server::{
    ApiConfig, ConfigError, LookupError, PortalConfig, PortalServerError, ServeConfig, TlsFiles,
};
use genesis_trust::{PrivateKey, PublicKey};

/// The library errors this binary meets, for the exit-code table, and the flags and commands
/// that get past them.
const ERRORS: Errors =
    Errors { classes: &[exit::classify::<genesis_trust::TrustError>, exit::classify::<PortalServerError>], hint };

/// The flag or command of this binary that gets past one error of a chain (library messages
/// name none).
fn hint(cause: &(dyn Error + 'static)) -> Option<String> {
    if let Some(store) = cause.downcast_ref::<ObjStoreError>() {
        return object_store_hint(store).map(str::to_owned);
    }
    match cause.downcast_ref::<PortalServerError>()? {
        PortalServerError::Lookup(missing) => lookup_hint(missing),
        PortalServerError::Config(config) => config_hint(config).map(str::to_owned),
        PortalServerError::ObjStore(store) => object_store_hint(store).map(str::to_owned),
        PortalServerError::AdminExists { .. } => Some("see `genesis-portal admin list`".to_owned()),
        _ => None,
    }
}

/// The command that creates or lists what a lookup did not find.
fn lookup_hint(missing: &LookupError) -> Option<String> {
    match missing {
        LookupError::NoOrg { org } => Some(format!("create it with `genesis-portal org create {org}`")),
        LookupError::NoActiveKey { .. } => Some("see `genesis-portal key list --org ORG`".to_owned()),
        LookupError::NoActiveAdmin { .. } => Some("see `genesis-portal admin list`".to_owned()),
        _ => None,
    }
}

/// The flag that gets past a configuration that cannot work.
fn config_hint(config: &ConfigError) -> Option<&'static str> {
    let hint = match config {
        ConfigError::NoDataDir => "pass --data-dir DIR (or set GENESIS_PORTAL_DATA_DIR)",
        ConfigError::UnverifiedDatabase { .. } => "pass --database-allow-insecure for a network you trust",
        ConfigError::PresignWithoutObjectStore { .. } => {
            "pass --object-store s3://BUCKET[/PREFIX] with --s3-public-endpoint, or leave --s3-public-endpoint out"
        }
        ConfigError::NotAPublicUrl { .. } => {
            "pass --public-url https://HOST[:PORT], the URL customers' browsers reach the portal by (or set \
             GENESIS_PORTAL_PUBLIC_URL)"
        }
        _ => return None,
    };
    Some(hint)
}

/// The flag that gets past an object store configuration that cannot work.
fn object_store_hint(store: &ObjStoreError) -> Option<&'static str> {
    let hint = match store {
        ObjStoreError::NotABucket { .. } => "pass --object-store s3://BUCKET[/PREFIX] or az://CONTAINER[/PREFIX]",
        ObjStoreError::PlainHttpEndpoint { store: ObjectStoreKind::S3, .. } => {
            "pass --s3-allow-http for a network you trust"
        }
        ObjStoreError::PlainHttpEndpoint { store: ObjectStoreKind::Azure, .. } => {
            "pass --azure-allow-http for a network you trust"
        }
        ObjStoreError::NotAnEndpoint { store: ObjectStoreKind::S3, .. } => "pass --s3-endpoint https://HOST[:PORT]",
        ObjStoreError::NotAnEndpoint { store: ObjectStoreKind::Azure, .. } => {
            "pass --azure-endpoint https://ACCOUNT.blob.core.windows.net (the account's blob endpoint)"
        }
        ObjStoreError::NoAccessKeyId { .. } => {
            "set GENESIS_PORTAL_S3_ACCESS_KEY_ID (or pass --s3-access-key-id) and GENESIS_PORTAL_S3_SECRET_ACCESS_KEY"
        }
        ObjStoreError::NoAzureAccount { .. } => "pass --azure-account NAME (or set GENESIS_PORTAL_AZURE_ACCOUNT)",
        ObjStoreError::NotPresignable { .. } => {
            "leave --s3-public-endpoint out: only an s3:// object store hands out presigned URLs"
        }
        _ => return None,
    };
    Some(hint)
}

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
    /// Connect to a PostgreSQL server across a network as the URL's sslmode says (disable,
    /// prefer, require, verify-ca): the metadata, license key hashes and the keys releases are
    /// verified against included, may then cross the network unencrypted or to an impostor.
    /// Only for a network you trust; without it such a URL is refused, and one naming no
    /// sslmode is reached with sslmode=verify-full.
    #[arg(long, global = true)]
    database_allow_insecure: bool,
    #[command(flatten)]
    object_store: ObjectStoreArgs,
    #[command(subcommand)]
    command: Command,
}

/// How to reach an S3-compatible store or Azure Blob Storage: only what is given here, as
/// flags or `GENESIS_PORTAL_S3_*` and `GENESIS_PORTAL_AZURE_*` variables. Nothing comes from
/// `AWS_*` or `AZURE_*` variables, instance metadata (managed identity), container, web- or
/// workload-identity credentials, the Azure CLI, or proxy variables: the portal contacts the
/// one endpoint it announces, with the credentials it was given.
#[derive(Debug, Clone, clap::Args)]
struct ObjectStoreArgs {
    /// Keep artifacts in an S3-compatible bucket (s3://BUCKET[/PREFIX]) or an Azure Blob
    /// Storage container (az://CONTAINER[/PREFIX], created when missing) instead of
    /// DATA_DIR/artifacts, every key under PREFIX. The S3 secret key is read from
    /// GENESIS_PORTAL_S3_SECRET_ACCESS_KEY (and a session token, if any, from
    /// GENESIS_PORTAL_S3_SESSION_TOKEN); the Azure credential from
    /// GENESIS_PORTAL_AZURE_ACCESS_KEY (the account's key) or GENESIS_PORTAL_AZURE_SAS_TOKEN (a
    /// SAS token; the container must then exist).
    #[arg(long, value_name = "URL", env = "GENESIS_PORTAL_OBJECT_STORE", global = true)]
    object_store: Option<String>,
    /// The S3 endpoint (MinIO, Ceph, moto, …); AWS's https://s3.REGION.amazonaws.com when left out.
    #[arg(long, value_name = "URL", env = "GENESIS_PORTAL_S3_ENDPOINT", global = true)]
    s3_endpoint: Option<String>,
    /// The bucket's region.
    #[arg(long, value_name = "REGION", env = "GENESIS_PORTAL_S3_REGION", default_value = "us-east-1", global = true)]
    s3_region: String,
    /// The S3 access key id.
    #[arg(long, value_name = "ID", env = "GENESIS_PORTAL_S3_ACCESS_KEY_ID", global = true)]
    s3_access_key_id: Option<String>,
    /// The S3 endpoint clients reach the bucket by, when it is not --s3-endpoint (which may be
    /// an in-cluster address they cannot reach). `serve` then answers API downloads with a
    /// redirect to a URL presigned for this endpoint (valid 15 minutes): the bytes go from the
    /// store to the client, who fetches them from there only if the portal declared this
    /// origin at login. A second client, alike but for its endpoint, mints the URLs and never
    /// sends a request: this endpoint is handed to clients, never contacted by the portal.
    /// Only with an s3:// object store; plain http:// only with --s3-allow-http.
    #[arg(long, value_name = "URL", env = "GENESIS_PORTAL_S3_PUBLIC_ENDPOINT", global = true)]
    s3_public_endpoint: Option<String>,
    /// Allow a plain http:// S3 endpoint. Requests are still signed, but artifacts and export
    /// packs cross the network unencrypted and unauthenticated: only for a network you trust.
    #[arg(long, global = true)]
    s3_allow_http: bool,
    /// The Azure storage account.
    #[arg(long, value_name = "NAME", env = "GENESIS_PORTAL_AZURE_ACCOUNT", global = true)]
    azure_account: Option<String>,
    /// The account's blob endpoint, as a connection string's BlobEndpoint names it (a
    /// sovereign cloud's, Azure Stack Hub's, Azurite's http://127.0.0.1:10000/devstoreaccount1);
    /// https://ACCOUNT.blob.core.windows.net when left out.
    #[arg(long, value_name = "URL", env = "GENESIS_PORTAL_AZURE_ENDPOINT", global = true)]
    azure_endpoint: Option<String>,
    /// Allow a plain http:// Azure endpoint (Azurite). Requests are still signed, but
    /// artifacts and export packs cross the network unencrypted and unauthenticated: only for
    /// a network you trust.
    #[arg(long, global = true)]
    azure_allow_http: bool,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the API and the web pages (customers at /portal, the vendor at /admin).
    Serve(ServeArgs),
    /// Organisations.
    #[command(subcommand)]
    Org(OrgCommand),
    /// License keys.
    #[command(subcommand)]
    Key(KeyCommand),
    /// The vendor's admins, who sign in to the vendor's pages (/admin) with a token.
    #[command(subcommand)]
    Admin(AdminCommand),
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
    /// The vendor's public key (PEM) that bundles published by upload on the vendor's pages
    /// must verify against, as `publish --key`; without it those pages publish nothing.
    #[arg(long, value_name = "PUB")]
    publish_key: Option<PathBuf>,
    /// Serve HTTPS with this certificate chain (PEM); with --tls-key. The web pages' cookies
    /// are then `Secure`.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// The URL customers reach the portal by when a proxy stands in front of it
    /// (https://downloads.example.com, no path): the web pages' commands name it, and their
    /// forms must come from it. When it is https://, the pages' cookies are `Secure` even if
    /// the portal itself serves plain HTTP to the proxy. Without it the pages use the
    /// request's Host.
    #[arg(long, value_name = "URL", env = "GENESIS_PORTAL_PUBLIC_URL")]
    public_url: Option<String>,
    /// The one timestamp inside export packs.
    #[arg(long, env = "SOURCE_DATE_EPOCH", default_value_t = genesis_portal_server::DEFAULT_SOURCE_DATE_EPOCH)]
    source_date_epoch: u64,
    /// Export packs an organisation may have building at once; more are answered 429 with
    /// Retry-After (each build re-verifies and unpacks every bundle of its release).
    #[arg(long, value_name = "N", default_value_t = 2, value_parser = clap::value_parser!(u16).range(1..))]
    max_exports_per_org: u16,
    /// Export packs the portal may have building at once, across organisations; more are
    /// answered 429 with Retry-After (each build unpacks a release into DATA_DIR/scratch: this
    /// bounds the disk builds take).
    #[arg(long, value_name = "N", default_value_t = 4, value_parser = clap::value_parser!(u16).range(1..))]
    max_exports: u16,
    /// How long a built export pack is kept; then it is deleted and its status answers 410.
    #[arg(long, value_name = "SECONDS", default_value_t = 86_400, value_parser = clap::value_parser!(i64).range(1..))]
    export_ttl_secs: i64,
    /// How many clients are served at once.
    #[command(flatten)]
    server: ServerArgs,
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
enum AdminCommand {
    /// Create an admin; their token is printed once and stored only as a hash.
    Create {
        /// Who it is for, as the audit log will name them (letters, digits, `.-_@`).
        #[arg(long)]
        name: String,
        /// Report format.
        #[arg(long, value_enum, default_value_t)]
        output: OutputFormat,
    },
    /// List the admins (ids and names, never the tokens).
    List,
    /// Revoke an admin by id; their token is refused and their sessions end.
    Revoke {
        /// The admin id (`a_…`).
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

impl Cli {
    /// The portal the global flags name.
    fn portal(&self) -> PortalConfig {
        let args = &self.object_store;
        PortalConfig {
            data_dir: self.data_dir.clone(),
            database_url: self.database_url.clone(),
            database_allow_insecure: self.database_allow_insecure,
            object_store: args.object_store.clone().map(|url| ObjectStoreConfig {
                url,
                s3: S3Config {
                    endpoint: args.s3_endpoint.clone(),
                    region: args.s3_region.clone(),
                    access_key_id: args.s3_access_key_id.clone(),
                    secrets: SecretVariables::PORTAL,
                    allow_http: args.s3_allow_http,
                },
                azure: AzureConfig {
                    account: args.azure_account.clone(),
                    endpoint: args.azure_endpoint.clone(),
                    allow_http: args.azure_allow_http,
                },
            }),
            s3_public_endpoint: args.s3_public_endpoint.clone(),
        }
    }
}

fn load_private_key(path: &Path) -> anyhow::Result<PrivateKey> {
    Ok(PrivateKey::from_pem_file_with_password(path, &genesis_cli_support::password::for_reading)?)
}

fn main() -> ExitCode {
    genesis_cli_support::allocator::bound_arenas();
    let cli = Cli::parse();
    if matches!(cli.command, Command::Serve(_)) {
        // The server logs JSON lines for the vendor's log pipeline.
        let filter = tracing_subscriber::EnvFilter::try_from_default_env()
            .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
        let _ = tracing_subscriber::fmt().json().with_env_filter(filter).with_writer(std::io::stderr).try_init();
    } else {
        genesis_cli_support::init_logging();
    }
    exit::run(&ERRORS, || {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
        runtime.block_on(run(&cli))
    })
}

async fn run(cli: &Cli) -> anyhow::Result<u8> {
    let portal = cli.portal();
    genesis_cli_support::announce_endpoints("genesis-portal", &portal.endpoints());
    if matches!(cli.command, Command::Serve(_))
        && let Some(public) = portal.presign_endpoint()
    {
        // Named beside what the portal contacts, so that an operator sees where clients are
        // sent too.
        eprintln!("genesis-portal: network: presigned download URLs name {public}: handed to clients, never contacted");
    }
    match &cli.command {
        Command::Serve(args) => serve(&portal, args).await?,
        Command::Org(command) => org(&portal, command).await?,
        Command::Key(command) => key(&portal, command).await?,
        Command::Admin(command) => admin(&portal, command).await?,
        Command::Entitle { org, versions, product } => {
            admin::entitle(&portal, org, product, versions).await?;
            outln!("{org} is entitled to {product} {versions}")?;
        }
        Command::Publish { version, files, key, product, output } => {
            let key = PublicKey::from_pem_file(key)?;
            publish(&portal, Publication { product, version, files, key: &key }, *output).await?;
        }
        Command::License(LicenseCommand::Issue { org, signing_key, valid_days, out }) => {
            let key = load_private_key(signing_key)?;
            let license = admin::issue_license(&portal, org, &key, *valid_days, out).await?;
            outln!(
                "wrote {} ({org}, {} entitlements, expires {})",
                out.display(),
                license.entitlements.len(),
                license.expires
            )?;
        }
    }
    Ok(exit::OK)
}

/// `serve`, until Ctrl-C.
async fn serve(portal: &PortalConfig, args: &ServeArgs) -> anyhow::Result<()> {
    let config = ServeConfig {
        listen: args.listen,
        tls: args.tls_cert.clone().zip(args.tls_key.clone()).map(|(cert, key)| TlsFiles { cert, key }),
        limits: args.server.limits(),
        api: ApiConfig {
            license_key: args.license_signing_key.as_deref().map(load_private_key).transpose()?,
            source_date_epoch: args.source_date_epoch,
            max_exports_per_org: usize::from(args.max_exports_per_org),
            max_exports: usize::from(args.max_exports),
            export_ttl_secs: args.export_ttl_secs,
            // Set by `serve`, which serves TLS when given the files above.
            tls: false,
            public_url: args.public_url.as_deref().map(genesis_portal_server::parse_public_url).transpose()?,
            publish_key: args.publish_key.as_deref().map(PublicKey::from_pem_file).transpose()?,
        },
    };
    let interrupted = async {
        let _ = tokio::signal::ctrl_c().await;
        tracing::info!("interrupted: stopped serving");
    };
    Ok(genesis_portal_server::serve(portal, config, interrupted).await?)
}

/// `org create` and `org list`.
async fn org(portal: &PortalConfig, command: &OrgCommand) -> anyhow::Result<()> {
    match command {
        OrgCommand::Create { name } => {
            admin::create_org(portal, name).await?;
            outln!("created organisation {name}")?;
        }
        OrgCommand::List => {
            for org in admin::orgs(portal).await? {
                outln!("{org}")?;
            }
        }
    }
    Ok(())
}

/// `key create`, `key list` and `key revoke`.
async fn key(portal: &PortalConfig, command: &KeyCommand) -> anyhow::Result<()> {
    match command {
        KeyCommand::Create { org, scopes, expires_in_days, output } => {
            let new = admin::create_key(portal, org, scopes, *expires_in_days).await?;
            let scopes: Vec<_> = new.record.scopes.iter().map(|s| s.as_str()).collect();
            let expires = rfc3339(new.record.expires as u64);
            let shown = match output {
                OutputFormat::Json => json_report(&serde_json::json!({
                    "key": new.key, "id": new.record.id, "org": org, "scopes": scopes, "expires": expires,
                }))?,
                OutputFormat::Text => new.key.clone(),
            };
            show_secret("key", &new.record.id, &shown)?;
            if *output == OutputFormat::Text {
                eprintln!(
                    "key {} for {org} ({}), expires {expires}. It is shown once: the portal keeps only its hash.",
                    new.record.id,
                    scopes.join(", ")
                );
            }
        }
        KeyCommand::List { org } => {
            for k in admin::keys(portal, org).await? {
                let scopes: Vec<_> = k.scopes.iter().map(|s| s.as_str()).collect();
                let state = match k.state() {
                    KeyState::Revoked(t) => format!("revoked {}", rfc3339(t as u64)),
                    KeyState::Expired(t) => format!("expired {}", rfc3339(t as u64)),
                    KeyState::Active(t) => format!("active until {}", rfc3339(t as u64)),
                };
                // The key's first characters, which the customer's copy starts with.
                let prefix = k.prefix.map_or_else(|| "-".to_owned(), |p| format!("{p}…"));
                outln!("{}  {prefix:16}  {:40}  {state}", k.id, scopes.join(","))?;
            }
        }
        KeyCommand::Revoke { id } => {
            admin::revoke_key(portal, id).await?;
            outln!("revoked {id}")?;
        }
    }
    Ok(())
}

/// `admin create`, `admin list` and `admin revoke`.
async fn admin(portal: &PortalConfig, command: &AdminCommand) -> anyhow::Result<()> {
    match command {
        AdminCommand::Create { name, output } => {
            let new = admin::create_admin(portal, name).await?;
            let created = rfc3339(new.record.created as u64);
            let shown = match output {
                OutputFormat::Json => json_report(&serde_json::json!({
                    "token": new.token, "id": new.record.id, "name": new.record.name, "created": created,
                }))?,
                OutputFormat::Text => new.token.clone(),
            };
            show_secret("admin", &new.record.id, &shown)?;
            if *output == OutputFormat::Text {
                eprintln!(
                    "admin {} ({name}): signs in at /admin/sign-in with this token. It is shown once: the portal \
                     keeps only its hash.",
                    new.record.id
                );
            }
        }
        AdminCommand::List => {
            for a in admin::admins(portal).await? {
                let state = match a.revoked {
                    Some(t) => format!("revoked {}", rfc3339(t as u64)),
                    None => format!("active since {}", rfc3339(a.created as u64)),
                };
                outln!("{}  {:24}  {state}", a.id, a.name)?;
            }
        }
        AdminCommand::Revoke { id } => {
            admin::revoke_admin(portal, id).await?;
            outln!("revoked {id}")?;
        }
    }
    Ok(())
}

/// Writes the secret of a new `noun` (`key` or `admin`, as the command that revokes it is
/// named), a line, to stdout. Unlike every other output, which a closed pipe ends quietly
/// (`outln!`), a secret nobody could read is an error: the portal keeps only its hash, so
/// it is created and lost.
fn show_secret(noun: &str, id: &str, secret: &str) -> anyhow::Result<()> {
    let mut stdout = std::io::stdout().lock();
    writeln!(stdout, "{secret}").and_then(|()| stdout.flush()).with_context(|| {
        format!(
            "{noun} {id} was created but its secret could not be shown; revoke it with \
             `genesis-portal {noun} revoke {id}` and create another"
        )
    })
}

/// `publish`, reporting what was stored.
async fn publish(portal: &PortalConfig, publication: Publication<'_>, output: OutputFormat) -> anyhow::Result<()> {
    let Publication { product, version, key, .. } = publication;
    let stored = admin::publish(portal, publication).await?;
    match output {
        OutputFormat::Json => print_json(&serde_json::json!({
            "product": product, "version": version, "signer": key.fingerprint().to_string(),
            "artifacts": stored.iter().map(|a| serde_json::json!({"name": a.name, "kind": a.kind, "size": a.size, "sha256": a.sha256.hex()})).collect::<Vec<_>>(),
        }))?,
        OutputFormat::Text => {
            for a in &stored {
                outln!("  {:?}  {}  {} bytes  sha256:{}", a.kind, a.name, a.size, a.sha256.hex())?;
            }
            outln!("published {product} {version} ({} files, verified with {})", stored.len(), key.fingerprint())?;
        }
    }
    Ok(())
}
