//! What is installed: one ConfigMap per bundle name in `genesis-system`, written with
//! server-side apply after a successful apply, read by `bundle-loader status` and by the next
//! load (for anti-rollback, and to report objects the new bundle no longer has). A ConfigMap rather than a CRD of
//! our own: it needs no installation step, survives without us, and `kubectl get cm -n
//! genesis-system -l app.kubernetes.io/managed-by=genesis` shows it to anyone. The record is
//! JSON under the `record` key of its data.

use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, ListParams, Patch, PatchParams};

use crate::apply::{AppliedObject, FIELD_MANAGER};
use crate::{Cluster, KubeError, Result, Verification};

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
    /// What the load verified of the bundle (how much of its payload was read, its SBOM,
    /// provenance and sidecars); empty in records written before it was kept, and read from
    /// the one line records kept before it had fields.
    #[serde(default, deserialize_with = "Verification::from_record")]
    pub verification: Verification,
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
/// previous one, if there is one that can be read. Only [`crate::install()`] records, once
/// anti-rollback let the bundle through.
pub(crate) async fn record_install(cluster: &Cluster, record: &InstallRecord) -> Result<Option<InstallRecord>> {
    let params = PatchParams::apply(FIELD_MANAGER);
    let namespaces: Api<Namespace> = Api::all(cluster.client().clone());
    let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": INSTALL_NAMESPACE}});
    namespaces
        .patch(INSTALL_NAMESPACE, &params, &Patch::Apply(&ns))
        .await
        .map_err(api_error("Namespace genesis-system"))?;
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), INSTALL_NAMESPACE);
    let name = config_map_name(&record.name);
    // An unreadable record is replaced (anti-rollback refused it unless told otherwise); it
    // says nothing of the objects it applied.
    let previous = match maps.get_opt(&name).await.map_err(api_error(&name))? {
        Some(cm) => parse(&cm).inspect_err(|e| tracing::warn!(error = %e, "replacing the install record")).ok(),
        None => None,
    };
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

/// Every install record in the cluster, by bundle name. One that cannot be read is an
/// error naming it, never left out.
pub async fn read_records(cluster: &Cluster) -> Result<Vec<InstallRecord>> {
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), INSTALL_NAMESPACE);
    let list = maps.list(&ListParams::default().labels(&format!("{LABEL}=genesis"))).await;
    let list = match list {
        Ok(l) => l,
        Err(kube::Error::Api(s)) if s.code == 404 => return Ok(Vec::new()),
        Err(e) => return Err(api_error("install records")(e)),
    };
    let mut records = list.items.iter().map(parse).collect::<Result<Vec<_>>>()?;
    records.sort_by(|a, b| a.name.cmp(&b.name));
    Ok(records)
}

/// The install record of bundle `name`, if the cluster has one: read from its place
/// whatever its labels, and an error naming it when it is there but cannot be read, so
/// that anti-rollback never takes a damaged record for "nothing installed".
pub async fn read_record(cluster: &Cluster, name: &str) -> Result<Option<InstallRecord>> {
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), INSTALL_NAMESPACE);
    let map = config_map_name(name);
    let Some(cm) = maps.get_opt(&map).await.map_err(api_error(&map))? else { return Ok(None) };
    let record = parse(&cm)?;
    if record.name != name {
        return Err(unreadable(&cm, format!("it records bundle {:?}, not {name:?}", record.name)));
    }
    Ok(Some(record))
}

/// The record a ConfigMap holds as JSON under its `record` key.
fn parse(cm: &ConfigMap) -> Result<InstallRecord> {
    let json =
        cm.data.as_ref().and_then(|d| d.get("record")).ok_or_else(|| unreadable(cm, "no `record` key".into()))?;
    serde_json::from_str(json).map_err(|e| unreadable(cm, format!("`record` is not an install record ({e})")))
}

fn unreadable(cm: &ConfigMap, reason: String) -> KubeError {
    let (namespace, name) = (cm.metadata.namespace.as_deref(), cm.metadata.name.as_deref());
    let record = format!("{}/{}", namespace.unwrap_or(INSTALL_NAMESPACE), name.unwrap_or("?"));
    KubeError::UnreadableRecord { record, reason }
}

impl InstallRecord {
    /// The record of applying `objects` for a bundle, after verifying what `verification`
    /// says.
    pub(crate) fn new(
        name: &str,
        version: &str,
        bom_digest: &str,
        applied_at: String,
        verification: Verification,
        objects: &[AppliedObject],
    ) -> Self {
        InstallRecord {
            name: name.to_owned(),
            version: version.to_owned(),
            bom_digest: bom_digest.to_owned(),
            applied_at,
            verification,
            objects: objects.iter().map(AppliedObject::display_name).collect(),
        }
    }

    /// Where the record is kept: `namespace/name` of its ConfigMap.
    pub fn location(&self) -> String {
        format!("{INSTALL_NAMESPACE}/{}", config_map_name(&self.name))
    }

    /// Objects `previous` applied that this record no longer has.
    pub fn dropped_since(&self, previous: &InstallRecord) -> Vec<String> {
        previous.objects.iter().filter(|o| !self.objects.contains(o)).cloned().collect()
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn config_map(data: serde_json::Value) -> ConfigMap {
        serde_json::from_value(serde_json::json!({
            "metadata": {"name": "genesis-bundle-demo", "namespace": INSTALL_NAMESPACE}, "data": data,
        }))
        .unwrap()
    }

    #[test]
    fn a_record_that_cannot_be_read_is_an_error_naming_its_config_map() {
        let record =
            r#"{"name": "demo", "version": "0.1.0", "bomDigest": "sha256:00", "appliedAt": "t", "objects": []}"#;
        assert_eq!(parse(&config_map(serde_json::json!({ "record": record }))).unwrap().version, "0.1.0");
        for data in
            [serde_json::json!({}), serde_json::json!({"record": "garbage"}), serde_json::json!({"record": "{}"})]
        {
            let e = parse(&config_map(data.clone())).unwrap_err().to_string();
            assert!(e.starts_with("install record genesis-system/genesis-bundle-demo is unreadable: "), "{data}: {e}");
        }
    }

    #[test]
    fn a_record_written_before_verification_had_fields_reads_its_line() {
        let old = r#"{"name": "demo", "version": "0.1.0", "bomDigest": "sha256:00", "appliedAt": "t",
            "verification": "payload: p; sbom: verified; provenance: none; sidecars: not checked", "objects": []}"#;
        let record: InstallRecord = serde_json::from_str(old).unwrap();
        assert_eq!(
            record.verification.to_string(),
            "payload: p; sbom: verified; provenance: none; sidecars: not checked"
        );
        let again: InstallRecord = serde_json::from_str(&serde_json::to_string(&record).unwrap()).unwrap();
        assert_eq!(again, record);
    }
}
