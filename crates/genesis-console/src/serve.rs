//! `genesis-console serve`: the console's router on a socket, HTTPS with the customer's
//! certificate or plain HTTP where that is allowed ([`ConsoleConfig::check`]), within the
//! registry server's connection limits, until told to stop; the endpoints it contacts, for
//! the egress line the binary prints before anything is contacted, and the advice endpoint
//! read after it; and `/healthz`.

use std::net::SocketAddr;
use std::sync::Arc;

use axum::Extension;
use axum::extract::{ConnectInfo, State};
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
    /// its credentials come from), the cluster-local registry installs push to, the landing
    /// bucket's S3 endpoint when there is one, the endpoint the advice Secret names (known
    /// once [`Console::read_advice`] has read it), and what the pre-flight configuration
    /// names, known only when a pre-flight reads it.
    pub fn endpoints(&self) -> Vec<String> {
        endpoints(&self.state)
    }

    /// Reads the advice Secret ([`ConsoleConfig::advice_secret`]) once, after the egress line
    /// named it: reading it asks the API server. When it configures an endpoint, opt-in advice
    /// is on for this run, and the answer names that endpoint for a second egress line, which
    /// the caller prints before serving (nothing contacts the endpoint before a signed-in
    /// person sends a question). None when advice stays off: no Secret, or one that cannot be
    /// read or used (the log says why); the console serves either way. A Secret created or
    /// changed later is read at the next start.
    pub async fn read_advice(&self) -> Option<String> {
        let endpoint = crate::advice::start(&self.state).await?;
        crate::page::show_advice_tab();
        let config = &self.state.config;
        Some(format!(
            "opt-in advice: this run also contacts {endpoint} (Secret {}/{}), only when a signed-in person sends a \
             question",
            config.namespace, config.advice_secret
        ))
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
        // Each connection's requests carry its peer (`ConnectInfo`): sign-ins are throttled
        // per client address (auth.rs).
        let accepting = accept_loop(listener, tls, ServerLimits::default(), move |peer| {
            hyper_util::service::TowerToHyperService::new(router.clone().layer(Extension(ConnectInfo(peer))))
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
    if let Some(landing) = &config.landing_bucket {
        endpoints.push(format!("{} (the landing bucket {})", landing.s3.endpoint(), landing.url));
    }
    endpoints.push(format!(
        "the endpoint Secret {}/{} names for opt-in advice, if it exists at start",
        config.namespace, config.advice_secret
    ));
    endpoints.push(format!("and what ConfigMap {}/{PREFLIGHT_CONFIG} names, when a pre-flight runs", config.namespace));
    endpoints
}

/// `GET /healthz`, for the liveness probe and people: `ok`, or `degraded` when a dependency
/// cannot be resolved. Nothing more: anyone who reaches the port may ask, without signing in,
/// so which dependency and why (Service names, addresses, ports) is said only on the
/// Pre-flight tab, to people signed in. Degraded is still 200: restarting the console would
/// not bring a dependency back (seed 002).
pub(crate) async fn healthz(State(state): State<Shared>) -> Response {
    let text = if state.discovery.degraded().is_empty() { "ok\n" } else { "degraded\n" };
    ([(header::CONTENT_TYPE, "text/plain; charset=utf-8"), (header::CACHE_CONTROL, "no-store")], text).into_response()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn the_egress_line_names_the_api_server_the_registry_the_advice_secret_and_the_preflight_config() {
        let mut state = crate::state::tests::state().await;
        let named = endpoints(&state);
        assert!(named[0].starts_with("https://127.0.0.1:1/ (kubeconfig "), "{named:?}");
        assert_eq!(
            named[1],
            "the endpoint Secret genesis/genesis-holmes-creds names for opt-in advice, if it exists at start"
        );
        assert_eq!(named[2], "and what ConfigMap genesis/genesis-preflight names, when a pre-flight runs");
        state.config.registry = Some("registry.genesis.svc:5000".to_owned());
        assert_eq!(
            endpoints(&state)[1],
            "https://registry.genesis.svc:5000 (the cluster-local registry installs push to)"
        );
        state.config.registry_plain_http = true;
        assert!(endpoints(&state)[1].starts_with("http://registry.genesis.svc:5000 "));
        let landing = genesis_objstore::ObjectStoreConfig {
            url: "s3://landing/vendor".to_owned(),
            s3: genesis_objstore::S3Config {
                endpoint: Some("https://minio.storage.svc:9000".to_owned()),
                region: "us-east-1".to_owned(),
                access_key_id: None,
                secrets: genesis_objstore::SecretVariables::AWS,
                allow_http: false,
            },
            azure: genesis_objstore::AzureConfig { account: None, endpoint: None, allow_http: false },
        };
        state.config.landing_bucket = Some(landing);
        assert_eq!(
            endpoints(&state)[2],
            "https://minio.storage.svc:9000 (the landing bucket s3://landing/vendor)",
            "after the registry, before the advice Secret"
        );
    }

    #[tokio::test]
    async fn healthz_says_degraded_and_nothing_of_which_dependency_or_where() {
        let state = Arc::new(crate::state::tests::state().await);
        let db = genesis_preflight::ServiceRef::try_from("data/postgres:sql".to_owned()).unwrap();
        // Nothing answers at the test cluster's address: the Service cannot be resolved.
        state.discovery.resolve(&state.cluster, &db).await.unwrap_err();
        assert!(!state.discovery.degraded().is_empty());
        let response = healthz(State(Arc::clone(&state))).await;
        let body = axum::body::to_bytes(response.into_body(), 1024).await.unwrap();
        assert_eq!(String::from_utf8_lossy(&body), "degraded\n");
    }

    #[tokio::test]
    async fn plain_http_on_an_open_address_is_refused_before_anything_is_contacted() {
        let config = ConsoleConfig { listen: "0.0.0.0:0".parse().unwrap(), ..ConsoleConfig::default() };
        let refused = Console::bind(config, ConsoleLog::default()).await.err().unwrap();
        assert!(matches!(refused, ConsoleError::PlainHttp { .. }), "{refused}");
    }
}
