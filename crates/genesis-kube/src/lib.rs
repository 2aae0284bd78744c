//! The Kubernetes loader: server-side apply of a bundle's (rewritten) manifests with field
//! manager `genesis` — Namespaces first, then CustomResourceDefinitions (waiting until each
//! is Established), then everything else — reporting for each object whether it was
//! created, changed or left as it was, and every conflict with the field and the manager
//! that owns it, never forced. What was applied is recorded in the cluster.
//!
//! Credentials: the in-cluster service account by default; a kubeconfig only when the caller
//! names one or `KUBECONFIG` is set.

mod apply;
mod crds;
mod readiness;
mod record;

use std::path::Path;

use kube::api::{Api, ApiResource, DynamicObject};
use kube::core::GroupVersionKind;
use kube::discovery::Scope;

pub use apply::{AppliedObject, ApplyOptions, ApplyReport, Outcome, apply};
pub use crds::crd_established;
pub use readiness::{Readiness, judge, wait_ready};
pub use record::{INSTALL_NAMESPACE, InstallRecord, read_records, record_install};

/// What can go wrong talking to the cluster.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KubeError {
    /// No usable credentials or configuration.
    #[error("connecting to the cluster: {0}")]
    Connect(String),
    /// A manifest is not a Kubernetes object.
    #[error("{object}: {reason}")]
    Object {
        /// Which document.
        object: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The API server refused or failed a request.
    #[error("{object}: {source}")]
    Api {
        /// The object concerned.
        object: String,
        /// The client's error.
        #[source]
        source: kube::Error,
    },
    /// A CRD did not become Established in time.
    #[error("CustomResourceDefinition {name} not Established after {seconds} s")]
    NotEstablished {
        /// The CRD.
        name: String,
        /// How long we waited.
        seconds: u64,
    },
}

/// Shorthand for this crate's results.
pub type Result<T, E = KubeError> = std::result::Result<T, E>;

/// A connection to the cluster, and where its credentials came from.
pub struct Cluster {
    client: kube::Client,
    origin: String,
}

impl Cluster {
    /// Connects with `kubeconfig` when given, else the file `KUBECONFIG` names, else the
    /// in-cluster service account. Never `~/.kube/config` by surprise.
    pub async fn connect(kubeconfig: Option<&Path>) -> Result<Cluster> {
        let connect = |e: &dyn std::fmt::Display| KubeError::Connect(e.to_string());
        let options = kube::config::KubeConfigOptions::default();
        let (config, origin) = match kubeconfig {
            Some(path) => {
                let file = kube::config::Kubeconfig::read_from(path).map_err(|e| connect(&e))?;
                let config = kube::Config::from_custom_kubeconfig(file, &options).await.map_err(|e| connect(&e))?;
                (config, format!("kubeconfig {}", path.display()))
            }
            None if std::env::var_os("KUBECONFIG").is_some() => {
                let config = kube::Config::from_kubeconfig(&options).await.map_err(|e| connect(&e))?;
                (config, "kubeconfig from KUBECONFIG".to_owned())
            }
            None => (
                kube::Config::incluster().map_err(|e| {
                    KubeError::Connect(format!(
                        "not running in a cluster ({e}); pass --kubeconfig FILE or set KUBECONFIG"
                    ))
                })?,
                "in-cluster service account".to_owned(),
            ),
        };
        let server = config.cluster_url.to_string();
        let client = kube::Client::try_from(config).map_err(|e| connect(&e))?;
        Ok(Cluster { client, origin: format!("{server} ({origin})") })
    }

    /// The API server and where the credentials came from, for the endpoint announcement.
    pub fn describe(&self) -> &str {
        &self.origin
    }

    /// The underlying client.
    pub fn client(&self) -> &kube::Client {
        &self.client
    }

    /// Discovers `kind` of `api_version` (`group/version`, or `version` for the core group):
    /// its resource, and whether it is namespaced.
    async fn discover(&self, api_version: &str, kind: &str) -> kube::Result<(ApiResource, bool)> {
        let (group, version) = api_version.rsplit_once('/').unwrap_or(("", api_version));
        let gvk = GroupVersionKind::gvk(group, version, kind);
        let (resource, caps) = kube::discovery::pinned_kind(&self.client, &gvk).await?;
        Ok((resource, caps.scope == Scope::Namespaced))
    }

    /// The API of objects of `resource`: those in `namespace`, or cluster-scoped ones.
    fn dynamic_api(&self, resource: &ApiResource, namespace: Option<&str>) -> Api<DynamicObject> {
        match namespace {
            Some(ns) => Api::namespaced_with(self.client.clone(), ns, resource),
            None => Api::all_with(self.client.clone(), resource),
        }
    }
}
