//! Registry connection flags shared by every command that talks to a registry.

use std::path::PathBuf;

use anyhow::Context as _;
use genesis_registry::{Credentials, Registry, RegistryError, RegistryOptions};

/// How to reach a registry.
#[derive(Debug, Clone, clap::Args)]
pub struct RegistryArgs {
    /// Talk plain HTTP to the registry instead of TLS. The only switch that allows it.
    #[arg(long, visible_alias = "allow-insecure-registry")]
    pub plain_http: bool,
    /// Trust this CA bundle (PEM) for the registry's certificate instead of the system roots.
    #[arg(long, value_name = "PEM")]
    pub ca_file: Option<PathBuf>,
    /// Registry user name (the password comes from GENESIS_REGISTRY_PASSWORD).
    #[arg(long, env = "GENESIS_REGISTRY_USERNAME")]
    pub username: Option<String>,
    /// Registry password or token.
    #[arg(long, env = "GENESIS_REGISTRY_PASSWORD", hide_env_values = true)]
    pub password: Option<String>,
    /// Docker config.json to read credentials from (default: $DOCKER_CONFIG or ~/.docker).
    #[arg(long, value_name = "FILE")]
    pub authfile: Option<PathBuf>,
    /// Retries of one request after a transient failure.
    #[arg(long, default_value_t = 3)]
    pub retries: u32,
}

impl RegistryArgs {
    /// A client for `host` with these settings.
    pub fn client(&self, host: &str) -> anyhow::Result<Registry> {
        Registry::new(host, &self.options(host)?).with_context(|| format!("setting up a client for {host}"))
    }

    /// The connection options for `host`: these flags, and credentials from the flags or
    /// the Docker config.
    pub fn options(&self, host: &str) -> anyhow::Result<RegistryOptions> {
        let credentials = match self.flag_credentials()? {
            None => self.docker_config_credentials(host)?,
            given => given,
        };
        Ok(RegistryOptions { credentials, ..self.without_credentials() })
    }

    /// The connection options for a registry a run reads from on behalf of another it writes
    /// to (a seed's source): these flags, and credentials from `host`'s own entry of the
    /// Docker config alone. `--username`/`--password` are the written registry's: a source
    /// that asks for credentials never gets them.
    pub fn source_options(&self, host: &str) -> anyhow::Result<RegistryOptions> {
        Ok(RegistryOptions { credentials: self.docker_config_credentials(host)?, ..self.without_credentials() })
    }

    /// These flags' connection options, with no credentials.
    pub fn without_credentials(&self) -> RegistryOptions {
        RegistryOptions {
            plain_http: self.plain_http,
            ca_file: self.ca_file.clone(),
            credentials: None,
            retries: self.retries,
        }
    }

    /// The credentials of `--username` and `--password`, given both or neither.
    fn flag_credentials(&self) -> anyhow::Result<Option<Credentials>> {
        match (&self.username, &self.password) {
            (Some(u), Some(p)) => Ok(Some(Credentials { username: u.clone(), password: p.clone() })),
            (Some(_), None) | (None, Some(_)) => anyhow::bail!("give both --username and --password (or neither)"),
            (None, None) => Ok(None),
        }
    }

    /// `host`'s entry of the Docker config (`--authfile`, else the default one), if any.
    fn docker_config_credentials(&self, host: &str) -> anyhow::Result<Option<Credentials>> {
        Ok(match self.authfile.clone().or_else(Credentials::default_docker_config) {
            Some(file) => Credentials::from_docker_config(&file, host)?,
            None => None,
        })
    }

    /// Where requests to `host` go, for the endpoint announcement (the same URL the client
    /// uses: Docker Hub's names are `https://registry-1.docker.io`).
    pub fn endpoint(&self, host: &str) -> String {
        genesis_registry::endpoint(host, self.plain_http)
    }
}

/// The flag of [`RegistryArgs`] that gets past a registry error, for a binary's
/// [`crate::exit::Errors::hint`].
pub fn hint(e: &RegistryError) -> Option<String> {
    match e {
        RegistryError::Unauthorized { .. } => {
            Some("pass --username/--password or a Docker config.json with --authfile".to_owned())
        }
        RegistryError::PlainHttp { .. } => Some("plain HTTP needs --plain-http".to_owned()),
        RegistryError::Transport { url, source, .. } if url.starts_with("https://") && met_plain_http(source) => {
            Some("if the registry speaks plain HTTP, pass --plain-http (--allow-insecure-registry)".to_owned())
        }
        _ => None,
    }
}

/// Whether a TLS connection failed the way it does against a server that speaks plain HTTP:
/// rustls reads the server's HTTP answer to its ClientHello as a TLS record of no known type,
/// "received corrupt message of type InvalidContentType", deep in the transport error's chain.
fn met_plain_http(error: &(dyn std::error::Error + 'static)) -> bool {
    const SIGNS: [&str; 3] = ["invalidcontenttype", "corrupt message", "tls handshake"];
    std::iter::successors(Some(error), |e| e.source()).any(|e| {
        let text = e.to_string().to_ascii_lowercase();
        SIGNS.iter().any(|sign| text.contains(sign))
    })
}
