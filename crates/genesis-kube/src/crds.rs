//! Reading CustomResourceDefinitions: whether one is installed and Established.

use k8s_openapi::apiextensions_apiserver::pkg::apis::apiextensions::v1::CustomResourceDefinition;
use kube::api::Api;

use crate::{Cluster, KubeError, Result};

/// `None` when the CRD is not installed, else whether its Established condition is True.
pub async fn crd_established(cluster: &Cluster, name: &str) -> Result<Option<bool>> {
    let api: Api<CustomResourceDefinition> = Api::all(cluster.client().clone());
    let crd = api
        .get_opt(name)
        .await
        .map_err(|source| KubeError::Api { object: format!("CustomResourceDefinition {name}"), source })?;
    Ok(crd.map(|crd| {
        crd.status
            .and_then(|s| s.conditions)
            .is_some_and(|c| c.iter().any(|c| c.type_ == "Established" && c.status == "True"))
    }))
}
