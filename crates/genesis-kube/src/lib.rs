//! The Kubernetes loader. [`install()`] is the use case an embedder calls: a verified bundle,
//! refused when the cluster records a newer version of it, pushed into the cluster-local
//! registry, then applied and recorded as installed.
//!
//! ```no_run
//! # async fn run(bundle: genesis_trust::VerifiedBundle, target: genesis_kube::InstallTarget)
//! # -> genesis_kube::Result<()> {
//! let cluster = genesis_kube::Cluster::connect(None).await?;
//! let report = genesis_kube::install(bundle, &target, Some(&cluster), &Default::default(), &()).await?;
//! assert!(report.succeeded());
//! # Ok(())
//! # }
//! ```
//!
//! Applying is server-side apply of the bundle's (rewritten) manifests with field manager
//! `genesis` — Namespaces first, then CustomResourceDefinitions (waiting until each is
//! Established), then everything else — reporting for each object whether it was created,
//! changed or left as it was, and every conflict with the field and the manager that owns
//! it, never forced. What was applied is recorded in the cluster.
//!
//! Before applying, [`rewrite`] reads the manifests back from the verified bundle and points
//! every carried image at the registry the bundle was loaded into, and [`flux`] the Flux
//! sources of carried charts.
//!
//! Credentials: the in-cluster service account by default; a kubeconfig only when the caller
//! names one or `KUBECONFIG` names a file (empty counts as unset).

mod access;
mod apply;
mod crds;
mod discover;
mod drift;
pub mod flux;
mod install;
mod readiness;
mod record;
pub mod rewrite;
mod rollback;
mod verification;

use std::path::{Path, PathBuf};

use genesis_types::{Classify, ErrorClass};
use kube::api::{Api, ApiResource, DynamicObject};
use kube::config::Kubeconfig;
use kube::core::GroupVersionKind;
use kube::discovery::Scope;

pub use access::{Access, UserInfo, may, resource_of, review_token};
pub use apply::{AppliedObject, ApplyOptions, ApplyReport, Outcome, apply};
pub use crds::crd_established;
pub use discover::{Endpoint, resolve_service};
pub use drift::{Change, Drift, ObjectState, object_states};
pub use install::{
    Applied, ApplyMode, Evidence, InstallOptions, InstallProgress, InstallReport, InstallTarget, ManifestsOut, install,
};
pub use readiness::{Readiness, judge, wait_ready};
pub use record::{INSTALL_NAMESPACE, InstallRecord, RecordedObject, RecordedSigner, read_record, read_records};
pub use rollback::downgrade_reason;
pub use verification::Verification;

/// What can go wrong talking to the cluster, preparing the manifests it is given, or
/// installing a bundle.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum KubeError {
    /// No usable credentials or configuration.
    #[error("connecting to the cluster: {0}")]
    Connect(String),
    /// No kubeconfig was named (by the caller or `KUBECONFIG`) and this process does not
    /// run in a pod, so there are no credentials at all.
    #[error("connecting to the cluster: not running in a cluster ({reason}) and no kubeconfig given")]
    NotInCluster {
        /// Why the in-cluster service account is not usable.
        reason: String,
    },
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
    /// An install record is in the cluster but cannot be read: what it says is unknown, so
    /// it is never taken for "nothing installed".
    #[error("install record {record} is unreadable: {reason}; repair or delete it")]
    UnreadableRecord {
        /// `namespace/name` of its ConfigMap.
        record: String,
        /// What is wrong with it.
        reason: String,
    },
    /// The install record changed after the install applied its manifests and before it
    /// could record them: another install of the bundle's name recorded meanwhile, and its
    /// record is left as it wrote it. The cluster may hold objects of both installs.
    #[error(
        "install record {record} changed while this install applied its manifests: {reason}; the cluster may hold objects of both installs: check them, then install again"
    )]
    RecordChanged {
        /// `namespace/name` of its ConfigMap.
        record: String,
        /// What it now says that this install may not replace, or why it was not replaced.
        reason: String,
    },
    /// A Service named as a dependency gives no endpoint: it is not there, has no port of
    /// the name asked for, or nothing to connect to.
    #[error("Service {service}: {reason}")]
    Unresolved {
        /// `namespace/name`.
        service: String,
        /// What is missing (the ports it has, when a port is).
        reason: String,
    },
    /// A CRD did not become Established in time.
    #[error("CustomResourceDefinition {name} not Established after {seconds} s")]
    NotEstablished {
        /// The CRD.
        name: String,
        /// How long we waited.
        seconds: u64,
    },
    /// The bundle's manifests could not be read back, or the rewritten ones written.
    #[error(transparent)]
    Bundle(#[from] genesis_bundle::BundleError),
    /// [`install()`] refused the bundle: nothing was applied or recorded, and, but for
    /// [`Refusal::Overtaken`], no image loaded.
    #[error(transparent)]
    Refused(#[from] Refusal),
    /// The bundle could not be verified, for a reason that is no verdict on it (an archive
    /// that can no longer be read).
    #[error("cannot verify {}", bundle.display())]
    Unverifiable {
        /// The archive.
        bundle: PathBuf,
        /// Why.
        #[source]
        source: Box<genesis_trust::TrustError>,
    },
    /// The bundle could not be recorded as installed in the policy's anti-rollback state.
    #[error(transparent)]
    Trust(Box<genesis_trust::TrustError>),
    /// The registry failed an install.
    #[error(transparent)]
    Registry(Box<genesis_registry::RegistryError>),
}

// The verifier's and the registry's errors are large: boxed, so that every result of this
// crate stays small.
impl From<genesis_trust::TrustError> for KubeError {
    fn from(e: genesis_trust::TrustError) -> Self {
        KubeError::Trust(Box::new(e))
    }
}

impl From<genesis_registry::RegistryError> for KubeError {
    fn from(e: genesis_registry::RegistryError) -> Self {
        KubeError::Registry(Box::new(e))
    }
}

/// Why [`install()`] refused a bundle: before loading any image, or, for
/// [`Refusal::Overtaken`], before applying anything.
#[derive(Debug, thiserror::Error)]
#[non_exhaustive]
pub enum Refusal {
    /// Anti-rollback: the cluster's install record names a newer version of the bundle, or
    /// anti-rollback cannot compare with it (the record cannot be read, a version is not
    /// semver), and no downgrade was allowed.
    #[error("policy refuses the bundle (antiRollback): {reason}")]
    Downgrade {
        /// What was found, on which record.
        reason: String,
    },
    /// Anti-rollback, checked again once the images were loaded, just before the apply:
    /// another install recorded, meanwhile, what this bundle may not replace (the same
    /// findings as [`Refusal::Downgrade`]). The images are in the registry; nothing was
    /// applied or recorded.
    #[error("policy refuses the bundle (antiRollback): {reason}; recorded while this install loaded its images")]
    Overtaken {
        /// What was found, on which record.
        reason: String,
    },
    /// The bundle failed its verification: an attestation the policy judged, or an entry
    /// of the payload.
    #[error(transparent)]
    Verification(Box<genesis_trust::TrustError>),
    /// What planning the load read from the archive (its image manifests) is damaged or
    /// does not match its signed digest.
    #[error(transparent)]
    Content(Box<genesis_registry::RegistryError>),
}

/// A cluster that cannot be reached, fails a request or does not finish in time is a network
/// failure (a 404 says what was named does not exist); credentials and manifests are the
/// caller's input; a damaged install record is refused, as anti-rollback cannot be judged,
/// and so are a record another install changed under this one and a refused bundle; a
/// bundle read back, the verifier and the registry say themselves.
impl Classify for KubeError {
    fn class(&self) -> ErrorClass {
        match self {
            KubeError::Connect(_) | KubeError::NotInCluster { .. } | KubeError::Object { .. } => ErrorClass::Input,
            KubeError::Api { source: kube::Error::Api(status), .. } if status.code == 404 => ErrorClass::NotFound,
            KubeError::Unresolved { .. } => ErrorClass::NotFound,
            KubeError::Api { .. } | KubeError::NotEstablished { .. } => ErrorClass::Network,
            KubeError::UnreadableRecord { .. } | KubeError::RecordChanged { .. } | KubeError::Refused(_) => {
                ErrorClass::Verdict
            }
            KubeError::Bundle(e) => e.class(),
            KubeError::Unverifiable { source: e, .. } | KubeError::Trust(e) => e.class(),
            KubeError::Registry(e) => e.class(),
        }
    }
}

/// Shorthand for this crate's results.
pub type Result<T, E = KubeError> = std::result::Result<T, E>;

/// A connection to the cluster, and where its credentials came from.
pub struct Cluster {
    client: kube::Client,
    origin: String,
}

impl Cluster {
    /// Connects with `kubeconfig` when given, else the files `KUBECONFIG` names, else the
    /// in-cluster service account. Never `~/.kube/config` by surprise: a `KUBECONFIG` that
    /// names no file (empty, or only separators) counts as unset.
    pub async fn connect(kubeconfig: Option<&Path>) -> Result<Cluster> {
        let connect = |e: &dyn std::fmt::Display| KubeError::Connect(e.to_string());
        // Read here rather than by `Config::from_kubeconfig`, which falls back to
        // `~/.kube/config` whenever `KUBECONFIG` names no file.
        let file = match kubeconfig {
            Some(path) => Some((Kubeconfig::read_from(path), format!("kubeconfig {}", path.display()))),
            None => Kubeconfig::from_env().transpose().map(|file| (file, "kubeconfig from KUBECONFIG".to_owned())),
        };
        let (config, origin) = match file {
            Some((file, origin)) => {
                let file = file.map_err(|e| connect(&e))?;
                let options = kube::config::KubeConfigOptions::default();
                (kube::Config::from_custom_kubeconfig(file, &options).await.map_err(|e| connect(&e))?, origin)
            }
            None => (
                kube::Config::incluster().map_err(|e| KubeError::NotInCluster { reason: e.to_string() })?,
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

#[cfg(test)]
mod tests {
    use kube::core::Status;

    use super::*;

    #[test]
    fn a_cluster_that_fails_a_request_is_a_network_error_and_a_404_is_not_found() {
        let api = |source| KubeError::Api { object: "ConfigMap genesis-system/x".into(), source };
        let status = |code, reason| kube::Error::Api(Status::failure("refused", reason).with_code(code).boxed());
        for (e, class) in [
            (api(status(404, "NotFound")), ErrorClass::NotFound),
            (api(status(500, "InternalError")), ErrorClass::Network),
            (api(status(403, "Forbidden")), ErrorClass::Network),
            (api(kube::Error::LinesCodecMaxLineLengthExceeded), ErrorClass::Network),
            (KubeError::NotEstablished { name: "widgets.example.com".into(), seconds: 60 }, ErrorClass::Network),
            (
                KubeError::Unresolved { service: "data/postgres".into(), reason: "no port named sql".into() },
                ErrorClass::NotFound,
            ),
            (KubeError::Connect("no kubeconfig".into()), ErrorClass::Input),
            (KubeError::NotInCluster { reason: "no service account token".into() }, ErrorClass::Input),
            (KubeError::Object { object: "manifests/a.yaml".into(), reason: "no kind".into() }, ErrorClass::Input),
            (
                KubeError::UnreadableRecord { record: "genesis-system/x".into(), reason: "no record".into() },
                ErrorClass::Verdict,
            ),
            (
                KubeError::RecordChanged { record: "genesis-system/x".into(), reason: "x 2.0.0 is installed".into() },
                ErrorClass::Verdict,
            ),
        ] {
            assert_eq!(e.class(), class, "{e}");
        }
    }
}
