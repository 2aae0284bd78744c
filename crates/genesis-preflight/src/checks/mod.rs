//! The checks, run one after the other, each bounded by a timeout so a silent server is a
//! FAIL row rather than a hang.

mod cluster;
mod disk;
mod network;
mod services;

use std::future::Future;
use std::time::Duration;

use crate::{Check, PreflightSpec};

/// How long one check may take.
const TIMEOUT: Duration = Duration::from_secs(5);

/// Runs every check the spec names, in the file's order of sections; cluster checks use
/// `kubeconfig` (else `KUBECONFIG`, else the in-cluster service account).
pub async fn run(spec: &PreflightSpec, kubeconfig: Option<&std::path::Path>) -> Vec<Check> {
    let mut checks = Vec::new();
    if let Some(p) = &spec.postgres {
        checks.push(services::postgres(&p.url).await);
    }
    if let Some(r) = &spec.redis {
        checks.push(services::redis(&r.url).await);
    }
    if let Some(k) = &spec.kubernetes
        && k.cert_manager
    {
        checks.push(cluster::cert_manager(kubeconfig).await);
    }
    for name in &spec.dns {
        checks.push(network::dns(name).await);
    }
    for t in &spec.tls {
        checks.push(network::tls(t).await);
    }
    if let Some(r) = &spec.registry {
        checks.push(network::registry(r).await);
    }
    if let Some(d) = &spec.disk {
        checks.push(disk::free_space(d));
    }
    checks
}

/// `work`, or a FAIL row named `name` when it does not finish within [`TIMEOUT`].
async fn bounded(name: &str, remedy: &str, work: impl Future<Output = Check>) -> Check {
    match tokio::time::timeout(TIMEOUT, work).await {
        Ok(check) => check,
        Err(_) => Check::fail(name, format!("no answer within {} s", TIMEOUT.as_secs()), remedy),
    }
}
