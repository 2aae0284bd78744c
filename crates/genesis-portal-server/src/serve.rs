//! `genesis-portal serve`: the API on a socket, plain or TLS, within the connection limits of
//! the registry's server, until told to stop.

use std::net::SocketAddr;
use std::num::NonZeroUsize;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use genesis_registry::serve::{ServerLimits, accept_loop, tls_acceptor};

use crate::api::{ApiConfig, AppState, router};
use crate::config::PortalConfig;
use crate::export;

/// How the server listens, and how its API behaves.
#[derive(Debug)]
pub struct ServeConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Serve HTTPS with this certificate and key, else plain HTTP.
    pub tls: Option<TlsFiles>,
    /// Connections served at once (see [`default_max_connections`]).
    pub max_connections: NonZeroUsize,
    /// How the API behaves.
    pub api: ApiConfig,
}

/// A certificate chain and its private key, both PEM.
#[derive(Debug, Clone)]
pub struct TlsFiles {
    /// The certificate chain.
    pub cert: PathBuf,
    /// The certificate's private key.
    pub key: PathBuf,
}

/// Connections served at once unless told otherwise, as the registry's server: past it, a new
/// connection takes the place of one that has been quiet for a second (an idle socket, a
/// client that stopped reading), else it is closed. Each connection may hold a socket and an
/// open file, so keep twice this under the open-file limit.
pub fn default_max_connections() -> NonZeroUsize {
    ServerLimits::default().max_connections
}

/// Serves `portal`'s API until `shutdown` completes, deleting expired export packs meanwhile.
pub async fn serve(
    portal: &PortalConfig,
    config: ServeConfig,
    shutdown: impl Future<Output = ()>,
) -> anyhow::Result<()> {
    let ServeConfig { listen, tls, max_connections, api } = config;
    let state = AppState::open(portal, api).await?;
    let tls = tls.map(|files| tls_acceptor(&files.cert, &files.key)).transpose()?;
    let listener = tokio::net::TcpListener::bind(listen).await.with_context(|| format!("listening on {listen}"))?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    tracing::info!(listen = %format!("{scheme}://{}", listener.local_addr()?), "genesis-portal serving");
    tokio::spawn(export::expire_finished(Arc::clone(&state)));
    let router = router(state);
    let limits = ServerLimits { max_connections, ..ServerLimits::default() };
    let accepting =
        accept_loop(listener, tls, limits, move |_peer| hyper_util::service::TowerToHyperService::new(router.clone()));
    tokio::select! {
        never = accepting => match never {},
        () = shutdown => {}
    }
    Ok(())
}
