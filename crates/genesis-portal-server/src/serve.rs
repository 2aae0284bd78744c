//! `genesis-portal serve`: the API and the web pages on a socket, plain or TLS, within the
//! connection limits of the registry's server, until told to stop.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use genesis_registry::serve::{ServerLimits, accept_loop, tls_acceptor};

use crate::api::{ApiConfig, AppState, router};
use crate::config::PortalConfig;
use crate::error::{PortalServerError, Result};
use crate::export;

/// How the server listens, and how its API behaves.
#[derive(Debug)]
pub struct ServeConfig {
    /// Address to listen on.
    pub listen: SocketAddr,
    /// Serve HTTPS with this certificate and key, else plain HTTP.
    pub tls: Option<TlsFiles>,
    /// How many clients are served at once, and how long each is waited on.
    pub limits: ServerLimits,
    /// How the API and the pages behave; its [`ApiConfig::tls`] is set here, true exactly
    /// when `tls` is given.
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

/// Serves `portal`'s API and pages until `shutdown` completes, meanwhile failing exports whose
/// build fell silent and deleting expired export packs.
pub async fn serve(portal: &PortalConfig, config: ServeConfig, shutdown: impl Future<Output = ()>) -> Result<()> {
    let ServeConfig { listen, tls, limits, mut api } = config;
    // Whether the pages' cookies are `Secure` follows from this (and the public URL).
    api.tls = tls.is_some();
    let state = AppState::open(portal, api).await?;
    let tls = tls.map(|files| tls_acceptor(&files.cert, &files.key)).transpose()?;
    let listening = |source| PortalServerError::Listen { address: listen, source };
    let listener = tokio::net::TcpListener::bind(listen).await.map_err(listening)?;
    let scheme = if tls.is_some() { "https" } else { "http" };
    let bound = listener.local_addr().map_err(listening)?;
    tracing::info!(listen = %format!("{scheme}://{bound}"), "genesis-portal serving");
    tokio::spawn(export::sweep(Arc::clone(&state)));
    let router = router(state);
    let accepting =
        accept_loop(listener, tls, limits, move |_peer| hyper_util::service::TowerToHyperService::new(router.clone()));
    tokio::select! {
        never = accepting => match never {},
        () = shutdown => {}
    }
    Ok(())
}
