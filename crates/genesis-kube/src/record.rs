//! What is installed: one ConfigMap per bundle name in `genesis-system`, written with
//! server-side apply after a successful apply, read by `bundle-loader status` and by the next
//! load (to report objects the new bundle no longer has). A ConfigMap rather than a CRD of
//! our own: it needs no installation step, survives without us, and `kubectl get cm -n
//! genesis-system -l app.kubernetes.io/managed-by=genesis` shows it to anyone. The record is
//! JSON under the `record` key of its data.

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, Patch, PatchParams};

use crate::apply::{AppliedObject, FIELD_MANAGER};
use crate::{Cluster, KubeError, Result};

/// Namespace of the install records.
pub const INSTALL_NAMESPACE: &str = "genesis-system";
const LABEL: &str = "app.kubernetes.io/managed-by";

/// One installed bundle.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct InstallRecord {
    /// Bundle name.
    pub name: String,
    /// Bundle version.
    pub version: String,
    /// SHA-256 of its BOM.
    pub bom_digest: String,
    /// When it was applied (RFC 3339, UTC).
    pub applied_at: String,
    /// `Kind namespace/name` of every object it applied.
    pub objects: Vec<String>,
}

fn config_map_name(bundle: &str) -> String {
    format!("genesis-bundle-{bundle}")
}

fn api_error(object: &str) -> impl FnOnce(kube::Error) -> KubeError + '_ {
    move |source| KubeError::Api { object: object.to_owned(), source }
}

/// Records `record` (replacing the previous record of the same bundle name) and returns the
/// previous one, if any.
pub async fn record_install(cluster: &Cluster, record: &InstallRecord) -> Result<Option<InstallRecord>> {
    let params = PatchParams::apply(FIELD_MANAGER);
    let namespaces: Api<Namespace> = Api::all(cluster.client().clone());
    let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": INSTALL_NAMESPACE}});
    namespaces
        .patch(INSTALL_NAMESPACE, &params, &Patch::Apply(&ns))
        .await
        .map_err(api_error("Namespace genesis-system"))?;
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), INSTALL_NAMESPACE);
    let name = config_map_name(&record.name);
    let previous = maps.get_opt(&name).await.map_err(api_error(&name))?.and_then(|cm| parse(&cm));
    let cm = serde_json::json!({
        "apiVersion": "v1",
        "kind": "ConfigMap",
        "metadata": {
            "name": name,
            "namespace": INSTALL_NAMESPACE,
            "labels": { LABEL: "genesis" },
        },
        "data": { "record": serde_json::to_string(record).expect("a record is JSON") },
    });
    maps.patch(&name, &params, &Patch::Apply(&cm)).await.map_err(api_error(&name))?;
    Ok(previous)
}

/// Every install record in the cluster, by bundle name.
pub async fn read_records(cluster: &Cluster) -> Result<Vec<InstallRecord>> {
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), INSTALL_NAMESPACE);
    let list = maps.list(&ListParams::default().labels(&format!("{LABEL}=genesis"))).await;
    let list = match list {
        Ok(l) => l,
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(Vec::new()),
        Err(e) => return Err(api_error("install records")(e)),
    };
    let mut records: Vec<InstallRecord> = list.items.iter().filter_map(parse).collect();
    records.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(records)
}

fn parse(cm: &ConfigMap) -> Option<InstallRecord> {
    serde_json::from_str(cm.data.as_ref()?.get("record")?).ok()
}

impl InstallRecord {
    /// The record of applying `objects` for a bundle.
    pub fn new(name: &str, version: &str, bom_digest: &str, applied_at: String, objects: &[AppliedObject]) -> Self {
        InstallRecord {
            name: name.to_owned(),
            version: version.to_owned(),
            bom_digest: bom_digest.to_owned(),
            applied_at,
            objects: objects.iter().map(AppliedObject::display_name).collect(),
        }
    }

    /// Objects `previous` applied that this record no longer has.
    pub fn dropped_since(&self, previous: &InstallRecord) -> Vec<String> {
        previous.objects.iter().filter(|o| !self.objects.contains(o)).cloned().collect()
    }
}
