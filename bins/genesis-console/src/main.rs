//! `genesis-console`: the in-cluster Control Plane console's server, over the
//! `genesis-console-server` library. In the cluster it runs as its ServiceAccount with the
//! manifests of `deploy/console/`; outside, with `--kubeconfig`. Its first line on stderr
//! names everything it may contact; its log lines follow, and the last megabyte of them is
//! kept for the support bundle.

// The server writes nothing to stdout: its announcement and log go to stderr.
#![deny(clippy::print_stdout)]

use std::error::Error;
use std::net::SocketAddr;
use std::path::PathBuf;
use std::process::ExitCode;
use std::time::Duration;

use anyhow::Context as _;
use clap::{Parser, Subcommand};
use genesis_cli_support::bucket::BucketArgs;
use genesis_cli_support::exit::{self, Errors};
use genesis_console_server::{Console, ConsoleConfig, ConsoleError, ConsoleLog, TlsFiles};
use genesis_kube::KubeError;
use tracing_subscriber::fmt::writer::MakeWriterExt as _;

/// The library errors this binary meets, for the exit-code table, and the flags that get past
/// them.
const ERRORS: Errors = Errors { classes: &[exit::classify::<ConsoleError>, exit::classify::<KubeError>], hint };

/// The flag of this binary that gets past one error of a chain (library messages name none).
fn hint(cause: &(dyn Error + 'static)) -> Option<String> {
    let hint = match cause.downcast_ref::<ConsoleError>()? {
        ConsoleError::PlainHttp { .. } => {
            "pass --tls-cert PEM and --tls-key PEM (the Secret genesis-console-tls in the cluster), or \
             --insecure-plain-http when a TLS-terminating proxy or service mesh stands in front of the console, or \
             --listen 127.0.0.1:PORT"
        }
        ConsoleError::Listen { .. } => "pass --listen ADDRESS:PORT with an address of this host and a free port",
        ConsoleError::Tls(_) => "pass --tls-cert and --tls-key naming a PEM certificate chain and its private key",
        ConsoleError::Kube(KubeError::NotInCluster { .. } | KubeError::Connect(_)) => {
            "pass --kubeconfig FILE (or set KUBECONFIG), or run the console in the cluster with deploy/console/"
        }
        _ => return None,
    };
    Some(hint.to_owned())
}

/// The Genesis Control Plane console: pre-flight, verified install, status and a redacted
/// support bundle for the cluster it runs in, in a browser.
#[derive(Debug, Parser)]
#[command(name = "genesis-console", version, about)]
struct Cli {
    #[command(subcommand)]
    command: Command,
}

#[derive(Debug, Subcommand)]
enum Command {
    /// Serve the console's pages. People sign in with a Kubernetes bearer token; every
    /// action is authorised by the API server for them (deploy/console/rbac.yaml).
    Serve(ServeArgs),
}

#[derive(Debug, clap::Args)]
struct ServeArgs {
    /// Address to listen on. Plain HTTP is served only on loopback, unless
    /// --insecure-plain-http; the Deployment listens on 0.0.0.0:8443 with TLS.
    #[arg(long, value_name = "ADDRESS:PORT", default_value = genesis_console_server::DEFAULT_LISTEN)]
    listen: SocketAddr,
    /// Serve HTTPS with this certificate chain (PEM); with --tls-key. The console's cookies
    /// are then `Secure`.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    tls_cert: Option<PathBuf>,
    /// The certificate's private key (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    tls_key: Option<PathBuf>,
    /// Serve plain HTTP on an address other than loopback, because a TLS-terminating proxy
    /// or service mesh stands in front and browsers reach the console over HTTPS. Bearer
    /// tokens and session cookies cross the hop from the proxy to the console unencrypted:
    /// only where that hop is trusted.
    #[arg(long, conflicts_with = "tls_cert")]
    insecure_plain_http: bool,
    /// The kubeconfig to reach the cluster with; else KUBECONFIG, else the in-cluster
    /// ServiceAccount.
    #[arg(long, value_name = "FILE")]
    kubeconfig: Option<PathBuf>,
    /// The console's namespace: its ConfigMaps (genesis-preflight, genesis-trust) and the
    /// namespace RBAC grants its actions in.
    #[arg(long, value_name = "NAMESPACE", default_value = genesis_console_server::DEFAULT_NAMESPACE)]
    namespace: String,
    /// Where bundles wait to be installed, and uploads land (a PersistentVolume in the
    /// cluster).
    #[arg(long, value_name = "DIR", default_value = genesis_console_server::DEFAULT_BUNDLES_DIR)]
    bundles_dir: PathBuf,
    /// A landing bucket whose bundles the Bundles tab lists beside the directory's, verified
    /// and installed where they lie (read by ranged GETs, never copied into the directory):
    /// s3://BUCKET[/PREFIX]. Reached at --s3-endpoint with AWS_ACCESS_KEY_ID and
    /// AWS_SECRET_ACCESS_KEY (in the cluster, from the Secret genesis-landing-bucket).
    #[arg(long, value_name = "s3://BUCKET[/PREFIX]", value_parser = landing_bucket)]
    landing_bucket: Option<String>,
    #[command(flatten)]
    bucket: BucketArgs,
    /// The cluster-local registry installs push images and charts to: HOST[:PORT].
    #[arg(long, value_name = "HOST[:PORT]")]
    registry: Option<String>,
    /// Talk plain HTTP to that registry instead of TLS.
    #[arg(long, requires = "registry")]
    registry_plain_http: bool,
    /// Trust this CA bundle (PEM) for that registry's certificate instead of the system
    /// roots.
    #[arg(long, value_name = "PEM", requires = "registry")]
    registry_ca: Option<PathBuf>,
    /// The Secret of the console's namespace that turns opt-in advice on: an
    /// OpenAI-compatible endpoint, its key and model (Azure OpenAI's AZURE_OPENAI_ENDPOINT,
    /// _KEY, _DEPLOYMENT, _API_VERSION, or OPENAI_BASE_URL, OPENAI_API_KEY, OPENAI_MODEL). Read
    /// once at start; without it nothing about advice is contacted.
    #[arg(long, value_name = "NAME", default_value = genesis_console_server::DEFAULT_ADVICE_SECRET)]
    advice_secret: String,
    /// How old a session's last TokenReview may be before its token is reviewed again
    /// (tests shorten it).
    #[arg(long, value_name = "SECONDS", hide = true, default_value_t = genesis_console_server::REVIEW_INTERVAL.as_secs(),
          value_parser = clap::value_parser!(u64).range(1..))]
    review_interval_seconds: u64,
}

impl ServeArgs {
    /// The library's configuration these flags describe.
    fn config(self) -> ConsoleConfig {
        ConsoleConfig {
            listen: self.listen,
            tls: self.tls_cert.zip(self.tls_key).map(|(cert, key)| TlsFiles { cert, key }),
            insecure_plain_http: self.insecure_plain_http,
            kubeconfig: self.kubeconfig,
            namespace: self.namespace,
            bundles_dir: self.bundles_dir,
            landing_bucket: self.landing_bucket.map(|url| self.bucket.config(&url)),
            registry: self.registry,
            registry_plain_http: self.registry_plain_http,
            registry_ca: self.registry_ca,
            review_interval: Duration::from_secs(self.review_interval_seconds),
            advice_secret: self.advice_secret,
        }
    }
}

/// `--landing-bucket`: a folder of an S3 bucket, `s3://BUCKET[/PREFIX]`, kept without a `/`
/// at its end.
fn landing_bucket(given: &str) -> Result<String, String> {
    let url = given.trim_end_matches('/');
    match url.strip_prefix("s3://") {
        Some(rest) if !rest.is_empty() && !rest.starts_with('/') => Ok(url.to_owned()),
        _ => Err(format!("expected s3://BUCKET[/PREFIX], not {given}")),
    }
}

fn main() -> ExitCode {
    genesis_cli_support::allocator::bound_arenas();
    let cli = Cli::parse();
    let log = ConsoleLog::default();
    init_logging(&log);
    exit::run(&ERRORS, || {
        let runtime =
            tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the runtime")?;
        runtime.block_on(run(cli, log))
    })
}

/// Log lines on stderr, filtered by `RUST_LOG` (default `info`: sign-ins, refusals, installs),
/// each also kept in `log` for the support bundle. Plain text without colours, as `kubectl
/// logs` and a support bundle show it.
fn init_logging(log: &ConsoleLog) {
    let filter = tracing_subscriber::EnvFilter::try_from_default_env()
        .unwrap_or_else(|_| tracing_subscriber::EnvFilter::new("info"));
    let _ = tracing_subscriber::fmt()
        .with_env_filter(filter)
        .with_ansi(false)
        .with_target(false)
        .with_writer(std::io::stderr.and(log.clone()))
        .try_init();
}

async fn run(cli: Cli, log: ConsoleLog) -> anyhow::Result<u8> {
    match cli.command {
        Command::Serve(args) => {
            let console = Console::bind(args.config(), log).await?;
            genesis_cli_support::announce_endpoints("genesis-console", &console.endpoints());
            // The advice Secret, named by the line above, is read now: the endpoint it names
            // is said before anything can contact it.
            if let Some(advice) = console.read_advice().await {
                eprintln!("genesis-console: network: {advice}");
            }
            console.serve(stopped()).await;
            tracing::info!("stopped serving");
        }
    }
    Ok(exit::OK)
}

/// Completes on Ctrl-C, or on SIGTERM, which Kubernetes sends a pod it stops (as PID 1 in
/// its container, the console would otherwise ignore it until killed).
async fn stopped() {
    let mut terminate = tokio::signal::unix::signal(tokio::signal::unix::SignalKind::terminate()).ok();
    let terminated = async {
        match terminate.as_mut() {
            Some(signal) => {
                signal.recv().await;
            }
            None => std::future::pending::<()>().await,
        }
    };
    tokio::select! {
        _ = tokio::signal::ctrl_c() => {}
        () = terminated => {}
    }
}

#[cfg(test)]
mod tests {
    use clap::CommandFactory as _;

    use super::*;

    fn serve(args: &[&str]) -> Result<ServeArgs, clap::Error> {
        let cli = Cli::try_parse_from([&["genesis-console", "serve"], args].concat())?;
        let Command::Serve(serve) = cli.command;
        Ok(serve)
    }

    #[test]
    fn the_command_line_is_consistent() {
        Cli::command().debug_assert();
    }

    #[test]
    fn the_defaults_serve_loopback_for_the_genesis_namespace() {
        let config = serve(&[]).unwrap().config();
        assert_eq!(config.listen.to_string(), "127.0.0.1:8443");
        assert_eq!(config.namespace, "genesis");
        assert_eq!(config.bundles_dir, PathBuf::from("/var/lib/genesis/bundles"));
        assert_eq!(config.review_interval, Duration::from_secs(60));
        assert_eq!(config.advice_secret, "genesis-holmes-creds");
        assert_eq!(serve(&["--advice-secret", "aoai-creds"]).unwrap().config().advice_secret, "aoai-creds");
        assert!(config.tls.is_none() && config.registry.is_none() && config.check().is_ok());
        assert!(config.landing_bucket.is_none());
    }

    #[test]
    fn a_landing_bucket_is_a_folder_of_an_s3_bucket_reached_with_the_s3_flags() {
        let config = serve(&[
            "--landing-bucket",
            "s3://landing/vendor/",
            "--s3-endpoint",
            "http://127.0.0.1:9000",
            "--s3-allow-http",
        ])
        .unwrap()
        .config();
        let landing = config.landing_bucket.unwrap();
        assert_eq!(landing.url, "s3://landing/vendor");
        assert_eq!(landing.s3.endpoint(), "http://127.0.0.1:9000");
        assert!(landing.s3.allow_http);
        assert_eq!(landing.s3.secrets.secret_access_key, "AWS_SECRET_ACCESS_KEY");
        for bad in ["landing/vendor", "s3://", "s3:///vendor", "az://landing"] {
            assert!(serve(&["--landing-bucket", bad]).is_err(), "{bad}");
        }
    }

    #[test]
    fn tls_takes_a_certificate_and_its_key_and_excludes_plain_http() {
        assert!(serve(&["--tls-cert", "tls.crt"]).is_err());
        assert!(serve(&["--tls-key", "tls.key"]).is_err());
        assert!(serve(&["--tls-cert", "tls.crt", "--tls-key", "tls.key", "--insecure-plain-http"]).is_err());
        let config =
            serve(&["--tls-cert", "tls.crt", "--tls-key", "tls.key", "--listen", "0.0.0.0:8443"]).unwrap().config();
        assert_eq!(config.tls, Some(TlsFiles { cert: "tls.crt".into(), key: "tls.key".into() }));
        assert!(config.check().is_ok());
    }

    #[test]
    fn plain_http_on_an_open_address_is_refused_with_the_flags_that_fix_it() {
        let refused = serve(&["--listen", "0.0.0.0:8443"]).unwrap().config().check().unwrap_err();
        let said = hint(&refused).unwrap();
        assert!(said.contains("--tls-cert") && said.contains("--insecure-plain-http"), "{said}");
        assert_eq!(exit::code_for(&ERRORS, &anyhow::Error::new(refused)), exit::USAGE);
        assert!(serve(&["--listen", "0.0.0.0:8443", "--insecure-plain-http"]).unwrap().config().check().is_ok());
    }

    #[test]
    fn the_review_interval_is_a_hidden_test_flag_of_whole_seconds() {
        let config = serve(&["--review-interval-seconds", "2"]).unwrap().config();
        assert_eq!(config.review_interval, Duration::from_secs(2));
        assert!(serve(&["--review-interval-seconds", "0"]).is_err());
        let help = Cli::command().find_subcommand_mut("serve").unwrap().render_long_help().to_string();
        assert!(!help.contains("review-interval") && help.contains("--insecure-plain-http"), "{help}");
    }

    #[test]
    fn registry_options_need_a_registry() {
        assert!(serve(&["--registry-plain-http"]).is_err());
        let config = serve(&["--registry", "registry.genesis:5000", "--registry-plain-http"]).unwrap().config();
        assert_eq!(config.registry.as_deref(), Some("registry.genesis:5000"));
        assert!(config.registry_plain_http);
    }
}
