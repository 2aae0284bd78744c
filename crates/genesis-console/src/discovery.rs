//! Where the dependencies the pre-flight configuration names by Service are (seed 002,
//! "Service discovery"): asked of the Kubernetes API server, which every air-gapped cluster
//! has, rather than of DNS, which it may restrict ([`genesis_kube::resolve_service`]: the
//! port by its name in the Service's port spec, never a constant).
//!
//! - **Cached, for a bounded time.** An answer is kept for the TTL (30 s), so a run of every
//!   check, then a re-run of one row, asks the API server once per Service, while a Service
//!   that moves is followed within the TTL.
//! - **Dropped on failure.** A check that fails against a cached endpoint drops it
//!   ([`Discovery::invalidate`], through [`genesis_preflight::Resolver::forget`]): the next
//!   check asks again instead of hitting a stale address until the TTL runs out.
//! - **Overridden by the environment.** `GENESIS_ENDPOINT_<NAMESPACE>_<SERVICE>_<PORT>`
//!   (uppercase, `-` and `.` as `_`) = `host:port` wins over the API server, so an operator
//!   can short-circuit discovery during an incident (set on the Deployment, it takes a
//!   restart: the environment of a running process does not change).
//! - **Degraded, never down.** A reference that does not resolve is a pre-flight row with
//!   status `degraded` and the reason, and is listed by [`Discovery::degraded`] (the
//!   console's `/healthz` says `degraded`) until a later resolution succeeds or the
//!   configuration no longer names it; the console keeps serving.

use std::collections::{BTreeMap, HashMap};
use std::future::Future;
use std::sync::{Mutex, MutexGuard, PoisonError};
use std::time::{Duration, Instant};

use genesis_kube::{Cluster, Endpoint};
use genesis_preflight::{Resolver, ServiceRef, Unresolved};

/// The endpoints the pre-flight checks resolved, and the references that last failed.
pub struct Discovery {
    ttl: Duration,
    state: Mutex<Known>,
}

/// What [`Discovery`] knows.
#[derive(Default)]
struct Known {
    /// Resolved endpoints, and when they were asked for.
    endpoints: HashMap<ServiceRef, (Endpoint, Instant)>,
    /// The references whose last resolution failed, and why.
    failed: BTreeMap<ServiceRef, String>,
}

impl Discovery {
    /// Nothing known yet; answers kept for `ttl` (30 s in the console: seed 002 asks for 30
    /// to 60).
    pub fn new(ttl: Duration) -> Discovery {
        Discovery { ttl, state: Mutex::default() }
    }

    fn known(&self) -> MutexGuard<'_, Known> {
        self.state.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Where `service` is: its environment override, else an answer younger than the TTL,
    /// else what the API server of `cluster` answers now (kept on success).
    pub async fn resolve(&self, cluster: &Cluster, service: &ServiceRef) -> Result<Endpoint, Unresolved> {
        let ask = move || async move {
            genesis_kube::resolve_service(cluster, &service.namespace, &service.name, &service.port)
                .await
                .map_err(|e| Unresolved::from_kube(service, &e))
        };
        self.resolve_with(service, |name| std::env::var(name).ok(), Instant::now(), ask).await
    }

    /// [`Discovery::resolve`] at `now`, with the environment `env` and the API server `ask`.
    async fn resolve_with<F, Fut>(
        &self,
        service: &ServiceRef,
        env: impl Fn(&str) -> Option<String>,
        now: Instant,
        ask: F,
    ) -> Result<Endpoint, Unresolved>
    where
        F: FnOnce() -> Fut,
        Fut: Future<Output = Result<Endpoint, Unresolved>>,
    {
        let variable = override_variable(service);
        let overridden = env(&variable);
        let from_env = overridden.is_some();
        let answer = match overridden {
            Some(value) => parse_endpoint(&value).ok_or_else(|| Unresolved {
                reason: format!("{variable}={value:?} is not host:port"),
                remedy: format!("set {variable} to host:port ([v6]:port), or unset it; then restart the console")
                    .into(),
            }),
            None => {
                let cached = {
                    let known = self.known();
                    known
                        .endpoints
                        .get(service)
                        .filter(|(_, at)| now.saturating_duration_since(*at) < self.ttl)
                        .cloned()
                };
                match cached {
                    Some((endpoint, _)) => return Ok(endpoint),
                    None => ask().await,
                }
            }
        };
        let mut known = self.known();
        match &answer {
            Ok(endpoint) => {
                known.failed.remove(service);
                // An override is the operator's, not the Service's: kept nowhere.
                if !from_env {
                    known.endpoints.insert(service.clone(), (endpoint.clone(), now));
                }
            }
            Err(unresolved) => {
                known.failed.insert(service.clone(), unresolved.reason.clone());
            }
        }
        answer
    }

    /// Drops what is known of `service`'s endpoint: the next check asks the API server again.
    pub fn invalidate(&self, service: &ServiceRef) {
        self.known().endpoints.remove(service);
    }

    /// Forgets every reference but `services` (what the configuration names now), so a
    /// dependency taken out of the configuration no longer counts as degraded.
    pub fn retain(&self, services: &[&ServiceRef]) {
        let mut known = self.known();
        known.endpoints.retain(|service, _| services.contains(&service));
        known.failed.retain(|service, _| services.contains(&service));
    }

    /// The dependencies whose last resolution failed, each with why
    /// (`data/postgres:sql: Service data/postgres: no such Service in namespace data`), in
    /// order; empty when discovery is healthy.
    pub fn degraded(&self) -> Vec<String> {
        self.known().failed.iter().map(|(service, reason)| format!("{service}: {reason}")).collect()
    }

    /// The resolver the pre-flight checks use: this discovery, asking `cluster`.
    pub(crate) fn resolver<'a>(&'a self, cluster: &'a Cluster) -> ThroughCluster<'a> {
        ThroughCluster { discovery: self, cluster }
    }
}

/// A [`Discovery`] asking one cluster: what [`genesis_preflight::Planned::run`] resolves
/// through.
pub(crate) struct ThroughCluster<'a> {
    discovery: &'a Discovery,
    cluster: &'a Cluster,
}

impl Resolver for ThroughCluster<'_> {
    async fn resolve(&self, service: &ServiceRef) -> Result<Endpoint, Unresolved> {
        self.discovery.resolve(self.cluster, service).await
    }

    fn forget(&self, service: &ServiceRef) {
        self.discovery.invalidate(service);
    }
}

/// The environment variable whose `host:port` overrides `service`:
/// `GENESIS_ENDPOINT_<NAMESPACE>_<SERVICE>_<PORT>`, uppercase, `-` and `.` as `_`.
fn override_variable(service: &ServiceRef) -> String {
    let part = |s: &str| s.to_ascii_uppercase().replace(['-', '.'], "_");
    format!("GENESIS_ENDPOINT_{}_{}_{}", part(&service.namespace), part(&service.name), part(&service.port))
}

/// `host:port` or `[v6]:port`, the port from 1 to 65535, the host not empty.
fn parse_endpoint(value: &str) -> Option<Endpoint> {
    let (host, port) = value.trim().rsplit_once(':')?;
    let host = match host.strip_prefix('[') {
        Some(bracketed) => bracketed.strip_suffix(']')?,
        None if host.contains(':') => return None,
        None => host,
    };
    let port = port.parse::<u16>().ok().filter(|p| *p > 0)?;
    (!host.is_empty()).then(|| Endpoint { host: host.to_owned(), port })
}

#[cfg(test)]
mod tests {
    use std::cell::Cell;

    use super::*;

    fn service(namespace: &str, name: &str, port: &str) -> ServiceRef {
        ServiceRef { namespace: namespace.into(), name: name.into(), port: port.into() }
    }

    fn at(host: &str, port: u16) -> Endpoint {
        Endpoint { host: host.into(), port }
    }

    /// An API server that answers `answer` and counts how often it is asked.
    fn api(
        asked: &Cell<u32>,
        answer: Result<Endpoint, Unresolved>,
    ) -> impl FnOnce() -> std::future::Ready<Result<Endpoint, Unresolved>> {
        move || {
            asked.set(asked.get() + 1);
            std::future::ready(answer)
        }
    }

    fn no_env(_: &str) -> Option<String> {
        None
    }

    fn missing() -> Unresolved {
        Unresolved {
            reason: "Service data/postgres: no such Service in namespace data".into(),
            remedy: "create it".into(),
        }
    }

    #[tokio::test]
    async fn an_answer_is_kept_for_the_ttl_then_asked_again() {
        let discovery = Discovery::new(Duration::from_secs(30));
        let db = service("data", "postgres", "sql");
        let asked = Cell::new(0);
        let start = Instant::now();
        let first = discovery.resolve_with(&db, no_env, start, api(&asked, Ok(at("10.96.0.12", 5432)))).await;
        assert_eq!(first, Ok(at("10.96.0.12", 5432)));
        let later = start + Duration::from_secs(29);
        let cached = discovery.resolve_with(&db, no_env, later, api(&asked, Ok(at("10.96.0.99", 5432)))).await;
        assert_eq!((cached, asked.get()), (Ok(at("10.96.0.12", 5432)), 1), "within the TTL, from the cache");
        let expired = start + Duration::from_secs(30);
        let asked_again = discovery.resolve_with(&db, no_env, expired, api(&asked, Ok(at("10.96.0.99", 5432)))).await;
        assert_eq!((asked_again, asked.get()), (Ok(at("10.96.0.99", 5432)), 2), "after the TTL, the API server");
    }

    #[tokio::test]
    async fn an_invalidated_answer_is_asked_again_at_once() {
        let discovery = Discovery::new(Duration::from_secs(30));
        let db = service("data", "postgres", "sql");
        let asked = Cell::new(0);
        let now = Instant::now();
        discovery.resolve_with(&db, no_env, now, api(&asked, Ok(at("10.96.0.12", 5432)))).await.unwrap();
        discovery.invalidate(&db);
        let moved = discovery.resolve_with(&db, no_env, now, api(&asked, Ok(at("10.96.0.40", 5432)))).await;
        assert_eq!((moved, asked.get()), (Ok(at("10.96.0.40", 5432)), 2));
        discovery.invalidate(&service("data", "redis", "resp"));
        let kept = discovery.resolve_with(&db, no_env, now, api(&asked, Ok(at("10.96.0.1", 1)))).await;
        assert_eq!((kept, asked.get()), (Ok(at("10.96.0.40", 5432)), 2), "only the one invalidated is dropped");
    }

    #[tokio::test]
    async fn the_environment_wins_over_the_cache_and_the_api_server() {
        let discovery = Discovery::new(Duration::from_secs(30));
        let db = service("data-1", "postgres.primary", "sql");
        assert_eq!(override_variable(&db), "GENESIS_ENDPOINT_DATA_1_POSTGRES_PRIMARY_SQL");
        let asked = Cell::new(0);
        let now = Instant::now();
        discovery.resolve_with(&db, no_env, now, api(&asked, Ok(at("10.96.0.12", 5432)))).await.unwrap();
        let env =
            |name: &str| (name == "GENESIS_ENDPOINT_DATA_1_POSTGRES_PRIMARY_SQL").then(|| "[fd00::5]:6432".to_owned());
        let overridden = discovery.resolve_with(&db, env, now, api(&asked, Ok(at("10.96.0.13", 5432)))).await;
        assert_eq!((overridden, asked.get()), (Ok(at("fd00::5", 6432)), 1), "the API server is not asked");
        let after = discovery.resolve_with(&db, no_env, now, api(&asked, Ok(at("10.96.0.13", 5432)))).await;
        assert_eq!(after, Ok(at("10.96.0.12", 5432)), "an override is not cached as the Service's answer");

        let wrong = |_: &str| Some("db.internal".to_owned());
        let refused =
            discovery.resolve_with(&db, wrong, now, api(&asked, Ok(at("10.96.0.13", 5432)))).await.unwrap_err();
        assert_eq!(refused.reason, "GENESIS_ENDPOINT_DATA_1_POSTGRES_PRIMARY_SQL=\"db.internal\" is not host:port");
        assert_eq!(asked.get(), 1, "a wrong override is not taken for no override");
    }

    #[tokio::test]
    async fn a_failed_resolution_is_degraded_until_one_succeeds_or_the_reference_is_gone() {
        let discovery = Discovery::new(Duration::from_secs(30));
        let (db, cache) = (service("data", "postgres", "sql"), service("data", "redis", "resp"));
        let asked = Cell::new(0);
        let now = Instant::now();
        assert!(discovery.degraded().is_empty());
        assert_eq!(discovery.resolve_with(&db, no_env, now, api(&asked, Err(missing()))).await, Err(missing()));
        discovery.resolve_with(&cache, no_env, now, api(&asked, Err(missing()))).await.unwrap_err();
        assert_eq!(
            discovery.degraded(),
            [
                "data/postgres:sql: Service data/postgres: no such Service in namespace data",
                "data/redis:resp: Service data/postgres: no such Service in namespace data"
            ]
        );
        discovery.resolve_with(&db, no_env, now, api(&asked, Ok(at("10.96.0.12", 5432)))).await.unwrap();
        assert_eq!(discovery.degraded().len(), 1, "{:?}", discovery.degraded());
        discovery.retain(&[&db]);
        assert!(discovery.degraded().is_empty(), "{:?}", discovery.degraded());
        let kept = discovery.resolve_with(&db, no_env, now, api(&asked, Err(missing()))).await;
        assert_eq!(kept, Ok(at("10.96.0.12", 5432)), "retained while named");
    }

    #[test]
    fn an_override_is_host_and_port() {
        assert_eq!(parse_endpoint("db.internal:5432"), Some(at("db.internal", 5432)));
        assert_eq!(parse_endpoint(" 10.0.0.5:6379\n"), Some(at("10.0.0.5", 6379)));
        assert_eq!(parse_endpoint("[::1]:5432"), Some(at("::1", 5432)));
        for wrong in ["db.internal", ":5432", "db:0", "db:65536", "db:x", "::1:5432", "[::1:5432", "[]:5432"] {
            assert_eq!(parse_endpoint(wrong), None, "{wrong}");
        }
    }
}
