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
        let credentials = match (&self.username, &self.password) {
            (Some(u), Some(p)) => Some(Credentials { username: u.clone(), password: p.clone() }),
            (Some(_), None) | (None, Some(_)) => anyhow::bail!("give both --username and --password (or neither)"),
            (None, None) => match self.authfile.clone().or_else(Credentials::default_docker_config) {
                Some(file) => Credentials::from_docker_config(&file, host)?,
                None => None,
            },
        };
        Ok(RegistryOptions {
            plain_http: self.plain_http,
            ca_file: self.ca_file.clone(),
            credentials,
            retries: self.retries,
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
        _ => None,
    }
}
