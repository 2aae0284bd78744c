//! What every request of the console shares: the cluster connection, how the console runs,
//! the sessions, its own log, and each tab's state (dependencies discovered, the last
//! pre-flight, the bundles ready to install, installs under way, finished support bundles,
//! opt-in advice).
//! All of it lives in this process's memory: one replica serves, and a restart forgets it
//! (what must outlive a restart, the install records, lives in the cluster).

use std::sync::Arc;
use std::time::Duration;

use crate::auth::Sessions;
use crate::config::ConsoleConfig;
use crate::log::ConsoleLog;

/// How long a dependency resolved through the API server (`namespace/service:port-name`) is
/// trusted before it is resolved again (seed 002's bounded TTL).
const DISCOVERY_TTL: Duration = Duration::from_secs(30);

/// The console's state, shared by every request.
pub struct AppState {
    /// The cluster, reached with the console's own credentials: to review tokens and access,
    /// and to read and change what a user's rights allow.
    pub cluster: genesis_kube::Cluster,
    /// How the console runs.
    pub config: ConsoleConfig,
    /// Whether the console serves TLS itself.
    pub tls: bool,
    /// Who is signed in.
    pub sessions: Sessions,
    /// The console's own log, last 1 MiB, for the support bundle.
    pub log: ConsoleLog,
    /// In-cluster dependencies resolved through the API server, and which are degraded.
    pub discovery: crate::discovery::Discovery,
    /// The last pre-flight run and its results.
    pub preflight: crate::preflight::LastRun,
    /// The bundles ready to install (the directory's and the landing bucket's), verified.
    pub bundles: crate::bundles::Catalog,
    /// The installs under way and finished (one at a time).
    pub installs: crate::install::Installs,
    /// Finished support bundles, kept an hour for their download.
    pub support: crate::support::Archives,
    /// Opt-in advice: its endpoint when the advice Secret configured one at start, and each
    /// session's conversation.
    pub advice: crate::advice::Advice,
}

/// The state as handlers receive it.
pub type Shared = Arc<AppState>;

impl AppState {
    /// The state of a console on `cluster` run as `config` says, its log kept in `log`:
    /// no sessions, nothing discovered or run yet.
    pub fn new(cluster: genesis_kube::Cluster, config: ConsoleConfig, log: ConsoleLog) -> AppState {
        AppState {
            cluster,
            tls: config.tls.is_some(),
            sessions: Sessions::new(config.review_interval),
            log,
            discovery: crate::discovery::Discovery::new(DISCOVERY_TTL),
            preflight: crate::preflight::LastRun::default(),
            bundles: crate::bundles::Catalog::new(&config.bundles_dir, config.landing_bucket.clone()),
            installs: crate::install::Installs::default(),
            support: crate::support::Archives::new(),
            advice: crate::advice::Advice::default(),
            config,
        }
    }
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// A console's state for unit tests: plain HTTP on loopback, namespace `genesis`, a
    /// bundles directory that does not exist, a cluster at an address nothing answers on
    /// (connecting makes no request; a test that asks the API server fails). Needs a Tokio
    /// runtime, as a kube client does.
    pub(crate) async fn state() -> AppState {
        let dir = tempfile::tempdir().expect("a temporary directory");
        let kubeconfig = dir.path().join("kubeconfig");
        std::fs::write(
            &kubeconfig,
            "apiVersion: v1\nkind: Config\nclusters:\n- name: c\n  cluster: {server: 'https://127.0.0.1:1'}\n\
             users:\n- name: u\n  user: {token: unit-test}\ncontexts:\n- name: c\n  context: {cluster: c, user: u}\n\
             current-context: c\n",
        )
        .expect("writing a kubeconfig");
        let cluster = genesis_kube::Cluster::connect(Some(&kubeconfig)).await.expect("a client of the kubeconfig");
        let config = ConsoleConfig { bundles_dir: dir.path().join("bundles"), ..ConsoleConfig::default() };
        AppState::new(cluster, config, ConsoleLog::default())
    }

    #[tokio::test]
    async fn a_new_console_serves_its_config_without_tls() {
        let state = state().await;
        assert!(!state.tls);
        assert_eq!(state.config.namespace, "genesis");
        assert!(state.log.snapshot().is_empty());
    }
}
