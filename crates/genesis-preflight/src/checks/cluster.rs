//! Cluster prerequisites, read through the API server with the loader's credential rules.

use genesis_kube::Cluster;

use super::bounded;
use crate::{Check, Remedy};

/// cert-manager's CRDs, the ones an install's Certificates and Issuers need.
const CERT_MANAGER_CRDS: &[&str] =
    &["certificates.cert-manager.io", "issuers.cert-manager.io", "clusterissuers.cert-manager.io"];

/// Every cert-manager CRD is installed and Established.
pub async fn cert_manager(kubeconfig: Option<&std::path::Path>) -> Check {
    let name = "kubernetes cert-manager";
    let remedy = "install cert-manager (its CRDs) in the cluster before this bundle";
    bounded(name, "check the API server address and credentials", async {
        let cluster = match Cluster::connect(kubeconfig).await {
            Ok(c) => c,
            Err(e) => return Check::fail(name, e.to_string(), Remedy::ClusterCredentials),
        };
        let mut missing = Vec::new();
        for crd in CERT_MANAGER_CRDS {
            match genesis_kube::crd_established(&cluster, crd).await {
                Ok(Some(true)) => {}
                Ok(Some(false)) => missing.push(format!("{crd} (not Established)")),
                Ok(None) => missing.push((*crd).to_owned()),
                Err(e) => return Check::fail(name, e.to_string(), "check the API server address and credentials"),
            }
        }
        if missing.is_empty() {
            Check::pass(name, format!("CRDs {} Established on {}", CERT_MANAGER_CRDS.join(", "), cluster.describe()))
        } else {
            Check::fail(name, format!("missing on {}: {}", cluster.describe(), missing.join(", ")), remedy)
        }
    })
    .await
}
