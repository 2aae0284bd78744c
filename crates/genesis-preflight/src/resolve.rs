//! Where a dependency named by its Service is: the caller decides how to find out. `genesis
//! preflight` asks the API server for each reference ([`ApiResolver`]); the console keeps what
//! it learned for a while and lets an environment variable override it (seed 002). Either
//! way, a reference that does not resolve is a row of its own ([`Unresolved`], shown as
//! [`crate::Status::Degraded`]), never an error that stops the run.

use std::future::Future;
use std::path::Path;

use genesis_kube::{Cluster, Endpoint, KubeError};

use crate::{Remedy, ServiceRef};

/// Resolves the Service references of a preflight file for the checks.
pub trait Resolver: Sync {
    /// Where `service` is now, or why that is unknown.
    fn resolve(&self, service: &ServiceRef) -> impl Future<Output = Result<Endpoint, Unresolved>> + Send;

    /// A check against the endpoint `service` resolved to has failed: a resolver that keeps
    /// endpoints drops this one, so that the next check asks again (the Service may have
    /// moved). Every failure counts, not only a refused connection: a check cannot tell a
    /// moved endpoint from one that refuses it (an address given to another Service answers,
    /// and then refuses), and asking again costs one read of a Service. A resolver that keeps
    /// nothing does nothing.
    fn forget(&self, _service: &ServiceRef) {}
}

/// Why a Service reference gave no endpoint: the detail and the remedy of its row.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Unresolved {
    /// What is missing or failed: `Service data/postgres: no port named sql: the ports it has
    /// are postgresql (5432)`.
    pub reason: String,
    /// What to do about it.
    pub remedy: Remedy,
}

impl Unresolved {
    /// What an error of connecting to the API server, or of
    /// [`genesis_kube::resolve_service`], means for `service`.
    pub fn from_kube(service: &ServiceRef, e: &KubeError) -> Unresolved {
        let remedy = match e {
            KubeError::Connect(_) | KubeError::NotInCluster { .. } => Remedy::ClusterCredentials,
            KubeError::Unresolved { .. } => format!(
                "create Service {}/{} with a port named {}, or correct the reference {service}",
                service.namespace, service.name, service.port
            )
            .into(),
            _ => format!(
                "check that the API server answers and that these credentials may get Services in namespace {}",
                service.namespace
            )
            .into(),
        };
        Unresolved { reason: e.to_string(), remedy }
    }
}

/// Asks the API server for every reference (a run of `genesis preflight` resolves each once),
/// connecting on first use with [`Cluster::connect`]'s rules: the kubeconfig given, else
/// `KUBECONFIG`, else the in-cluster service account. Keeps nothing.
pub struct ApiResolver<'a> {
    kubeconfig: Option<&'a Path>,
    cluster: tokio::sync::OnceCell<Cluster>,
}

impl<'a> ApiResolver<'a> {
    /// A resolver that connects with `kubeconfig` when it is first asked.
    pub fn new(kubeconfig: Option<&'a Path>) -> ApiResolver<'a> {
        ApiResolver { kubeconfig, cluster: tokio::sync::OnceCell::new() }
    }
}

impl Resolver for ApiResolver<'_> {
    async fn resolve(&self, service: &ServiceRef) -> Result<Endpoint, Unresolved> {
        let unresolved = |e: KubeError| Unresolved::from_kube(service, &e);
        let cluster = self.cluster.get_or_try_init(|| Cluster::connect(self.kubeconfig)).await.map_err(unresolved)?;
        genesis_kube::resolve_service(cluster, &service.namespace, &service.name, &service.port)
            .await
            .map_err(unresolved)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn postgres() -> ServiceRef {
        ServiceRef { namespace: "data".into(), name: "postgres".into(), port: "sql".into() }
    }

    #[test]
    fn an_unresolved_reference_says_what_to_do_by_cause() {
        let missing = KubeError::Unresolved { service: "data/postgres".into(), reason: "no port named sql".into() };
        let unresolved = Unresolved::from_kube(&postgres(), &missing);
        assert_eq!(unresolved.reason, "Service data/postgres: no port named sql");
        assert_eq!(
            unresolved.remedy,
            Remedy::Step(
                "create Service data/postgres with a port named sql, or correct the reference data/postgres:sql".into()
            )
        );
        let no_credentials = KubeError::NotInCluster { reason: "no service account token".into() };
        assert_eq!(Unresolved::from_kube(&postgres(), &no_credentials).remedy, Remedy::ClusterCredentials);
        let refused = KubeError::Object { object: "Service data/postgres".into(), reason: "forbidden".into() };
        let step = Unresolved::from_kube(&postgres(), &refused).remedy;
        assert!(step.step("").contains("may get Services in namespace data"), "{step:?}");
    }
}
