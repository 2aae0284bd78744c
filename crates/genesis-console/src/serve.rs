//! `genesis-console serve`: the console's router on a socket, HTTPS with the customer's
//! certificate or plain HTTP where that is allowed ([`ConsoleConfig::check`]), within the
//! registry server's connection limits, until told to stop; the endpoints it contacts, for
//! the egress line the binary prints before anything is contacted; and `/healthz`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::extract::State;
use axum::http::header;
use axum::response::{IntoResponse, Response};
use genesis_registry::serve::{ServerLimits, accept_loop, tls_acceptor};

use crate::config::{ConsoleConfig, PREFLIGHT_CONFIG};
use crate::error::{ConsoleError, Result};
use crate::log::ConsoleLog;
use crate::state::{AppState, Shared};

/// A console ready to serve: its configuration checked, its certificate loaded, its cluster
/// client made (no request sent yet) and its socket bound.
pub struct Console {
    state: Shared,
    listener: tokio::net::TcpListener,
    tls: Option<tokio_rustls::TlsAcceptor>,
    address: SocketAddr,
}

impl Console {
    /// Checks `config` (plain HTTP only where allowed), loads its TLS certificate and key,
    /// makes the cluster client from its credentials and binds its address. Nothing is
    /// contacted yet: the caller announces [`Console::endpoints`] first.
    pub async fn bind(config: ConsoleConfig, log: ConsoleLog) -> Result<Console> {
        config.check()?;
        let tls = match &config.tls {
            Some(files) => Some(tls_acceptor(&files.cert, &files.key).map_err(|e| ConsoleError::Tls(Box::new(e)))?),
            None => None,
        };
        let cluster = genesis_kube::Cluster::connect(config.kubeconfig.as_deref()).await?;
        let listening = |source| ConsoleError::Listen { address: config.listen, source };
        let listener = tokio::net::TcpListener::bind(config.listen).await.map_err(listening)?;
        let address = listener.local_addr().map_err(listening)?;
        Ok(Console { state: Arc::new(AppState::new(cluster, config, log)), listener, tls, address })
    }

    /// Everything the console may contact, for the egress line: the API server (and where
    /// its credentials come from), the cluster-local registry installs push to, and what the
    /// pre-flight configuration names, known only when a pre-flight reads it.
    pub fn endpoints(&self) -> Vec<String> {
        endpoints(&self.state)
    }

    /// Serves until `shutdown` completes.
    pub async fn serve(self, shutdown: impl Future<Output = ()>) {
        let Console { state, listener, tls, address } = self;
        let scheme = if tls.is_some() { "https" } else { "http" };
        if state.config.plain_http_beyond_loopback() {
            tracing::warn!(
                listen = %address,
                "serving plain HTTP on an address other hosts reach: only safe behind a TLS-terminating proxy or \
                 service mesh, as --insecure-plain-http says; bearer tokens and session cookies cross the hop to it \
                 unencrypted"
            );
        }
        tracing::info!(listen = %format!("{scheme}://{address}"), "genesis-console serving");
        let router = crate::router(state);
        let accepting = accept_loop(listener, tls, ServerLimits::default(), move |_peer| {
            hyper_util::service::TowerToHyperService::new(router.clone())
        });
        tokio::select! {
            never = accepting => match never {},
            () = shutdown => {}
        }
    }
}

/// See [`Console::endpoints`].
fn endpoints(state: &AppState) -> Vec<String> {
    let config = &state.config;
    let mut endpoints = vec![state.cluster.describe().to_owned()];
    if let Some(registry) = &config.registry {
        let scheme = if config.registry_plain_http { "http" } else { "https" };
        endpoints.push(format!("{scheme}://{registry} (the cluster-local registry installs push to)"));
    }
    endpoints.push(format!("and what ConfigMap {}/{PREFLIGHT_CONFIG} names, when a pre-flight runs", config.namespace));
    endpoints
}

/// `GET /healthz`, for the liveness probe and people: `ok`, or `degraded: …` naming each
/// dependency that cannot be resolved. Degraded is still 200: a missing dependency is shown
/// on the pages, and restarting the console would not bring it back (seed 002).
pub(crate) async fn healthz(State(state): State<Shared>) -> Response {
    let degraded = state.discovery.degraded();
    let text = if degraded.is_empty() { "ok\n".to_owned() } else { format!("degraded: {}\n", degraded.join("; ")) };
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], text).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_egress_line_names_the_api_server_the_registry_and_the_preflight_config() {
        let mut state = crate::state::tests::state().await;
        let named = endpoints(&state);
        assert!(named[0].starts_with("https://127.0.0.1:1/ (kubeconfig "), "{named:?}");
        assert_eq!(named[1], "and what ConfigMap genesis/genesis-preflight names, when a pre-flight runs");
        state.config.registry = Some("registry.genesis.svc:5000".to_owned());
        assert_eq!(
            endpoints(&state)[1],
            "https://registry.genesis.svc:5000 (the cluster-local registry installs push to)"
        );
        state.config.registry_plain_http = true;
        assert!(endpoints(&state)[1].starts_with("http://registry.genesis.svc:5000 "));
    }

    #[tokio::test]
    async fn plain_http_on_an_open_address_is_refused_before_anything_is_contacted() {
        let config = ConsoleConfig { listen: "0.0.0.0:0".parse().unwrap(), ..ConsoleConfig::default() };
        let refused = Console::bind(config, ConsoleLog::default()).await.err().unwrap();
        assert!(matches!(refused, ConsoleError::PlainHttp { .. }), "{refused}");
    }
}
