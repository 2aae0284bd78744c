//! What is installed: one ConfigMap per bundle name in `genesis-system`, written after a
//! successful apply, read by `bundle-loader status` and by the next install (for
//! anti-rollback, and to report objects the new bundle no longer has). A ConfigMap rather
//! than a CRD of our own: it needs no installation step, survives without us, and `kubectl
//! get cm -n genesis-system -l app.kubernetes.io/managed-by=genesis` shows it to anyone. The
//! record is JSON under the `record` key of its data. It is written only at the version it
//! was read at, so that an install never overwrites a record it did not judge.

use std::collections::BTreeMap;

use genesis_trust::{AcceptedSigner, SignedBom as _, VerifiedBundle};
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, ListParams, Patch, PatchParams, PostParams};

use crate::apply::{AppliedObject, FIELD_MANAGER};
use crate::{Cluster, KubeError, Result, Verification};

/// Namespace of the install records.
pub const INSTALL_NAMESPACE: &str = "genesis-system";
const LABEL: &str = "app.kubernetes.io/managed-by";
/// The annotation naming the bundle of a record, whatever the name of its ConfigMap.
pub(crate) const BUNDLE_ANNOTATION: &str = "genesis.dev/bundle-name";

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
    /// BLAKE3 of its BOM, hex (`b3sum` of `bom.json`); empty in records written before it
    /// was kept.
    #[serde(default)]
    pub bom_blake3: String,
    /// Whose signatures over its BOM were accepted: the vendor's, then each countersigner's.
    /// Kept so that who signed what is installed can be audited without verifying it again
    /// (seed 002); empty in records written before they were kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub signers: Vec<RecordedSigner>,
    /// When it was applied (RFC 3339, UTC).
    pub applied_at: String,
    /// What the load verified of the bundle (how much of its payload was read, its SBOM,
    /// provenance and sidecars); empty in records written before it was kept, and read from
    /// the one line records kept before it had fields.
    #[serde(default, deserialize_with = "Verification::from_record")]
    pub verification: Verification,
    /// `Kind namespace/name` of every object it applied.
    pub objects: Vec<String>,
    /// The same objects with their API versions, which `objects` does not say, so that a
    /// reader (the console's Status tab) finds each one without guessing its API group;
    /// empty in records written before they were kept.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub api_objects: Vec<RecordedObject>,
}

/// One object an install applied, as a reader finds it again.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct RecordedObject {
    /// `apiVersion`.
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// Namespace, for a namespaced object.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
}

/// One signer an install record keeps: a kind this version knows, or one a later version
/// wrote (a new kind of signer), kept as its JSON. So a cluster's records stay readable to
/// every loader that may list them or judge anti-rollback from them, and a signer never read
/// is still shown, never dropped from an audit.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
pub enum RecordedSigner {
    /// A key or a keyless identity.
    Known(AcceptedSigner),
    /// A signer of a kind this version does not know, as the record has it.
    Other(serde_json::Value),
}

impl std::fmt::Display for RecordedSigner {
    /// As [`AcceptedSigner`] says it; another kind as its JSON, which says its kind.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            RecordedSigner::Known(signer) => std::fmt::Display::fmt(signer, f),
            RecordedSigner::Other(raw) => write!(f, "a signer unknown to this version: {raw}"),
        }
    }
}

/// The name of the ConfigMap holding the install record of bundle `name`. The API server
/// reads any name but writes only DNS-1123 subdomains, so a bundle name that makes one after
/// `genesis-bundle-` keeps it (and the records written under it before); any other
/// (uppercase, `_`, `+`, too long) is named by the first 128 bits of its SHA-256, the bundle's
/// name kept in the record and in [`BUNDLE_ANNOTATION`]. A name that another one hashes to
/// finds a record naming another bundle, which is unreadable to it, never taken for its own.
pub(crate) fn record_name(bundle: &str) -> String {
    let plain = format!("genesis-bundle-{bundle}");
    if is_object_name(&plain) {
        return plain;
    }
    let digest = genesis_bundle::sha256(bundle.as_bytes());
    format!("genesis-bundle-{}", &digest.hex()[..32])
}

/// Whether `name` is a DNS-1123 subdomain, what the API server takes as a ConfigMap's name:
/// at most 253 characters, dot-separated labels of lowercase letters, digits and `-`, each
/// beginning and ending with a letter or digit.
fn is_object_name(name: &str) -> bool {
    let alphanumeric = |b: &u8| b.is_ascii_lowercase() || b.is_ascii_digit();
    name.len() <= 253
        && name.split('.').all(|label| {
            let bytes = label.as_bytes();
            bytes.iter().all(|b| alphanumeric(b) || *b == b'-')
                && bytes.first().is_some_and(alphanumeric)
                && bytes.last().is_some_and(alphanumeric)
        })
}

fn api_error(object: &str) -> impl FnOnce(kube::Error) -> KubeError + '_ {
    move |source| KubeError::Api { object: object.to_owned(), source }
}

/// The install record of one bundle name as the cluster held it when read.
// One or two exist per install, briefly: boxing the large variant would buy nothing.
#[allow(clippy::large_enum_variant)]
pub(crate) enum Snapshot {
    /// There was none.
    Absent,
    /// Its ConfigMap, at `resource_version`, and what it says: an error naming it when it
    /// cannot be read.
    Held {
        /// The version of the ConfigMap read, at which alone it is replaced.
        resource_version: String,
        /// The record.
        record: Result<InstallRecord>,
    },
}

impl Snapshot {
    /// The record held, if it can be read. An unreadable one (that anti-rollback refused
    /// unless told otherwise) says nothing of the objects it applied.
    pub(crate) fn into_record(self) -> Option<InstallRecord> {
        match self {
            Snapshot::Absent => None,
            Snapshot::Held { record, .. } => {
                record.inspect_err(|e| tracing::warn!(error = %e, "replacing the install record")).ok()
            }
        }
    }
}

/// Reads the install record of bundle `name`: from its place whatever its labels, and
/// unreadable (an error naming it) when it cannot be parsed or records another bundle.
pub(crate) async fn snapshot(cluster: &Cluster, name: &str) -> Result<Snapshot> {
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), INSTALL_NAMESPACE);
    let map = record_name(name);
    let Some(cm) = maps.get_opt(&map).await.map_err(api_error(&map))? else { return Ok(Snapshot::Absent) };
    let Some(resource_version) = cm.metadata.resource_version.clone() else {
        return Err(unreadable(&cm, "the API server gave it no resourceVersion".into()));
    };
    let record = parse(&cm).and_then(|record| {
        if record.name == name {
            Ok(record)
        } else {
            Err(unreadable(&cm, format!("it records bundle {:?}, not {name:?}", record.name)))
        }
    });
    Ok(Snapshot::Held { resource_version, record })
}

/// Writes `record` in place of what `seen` read: created when there was none, replaced at
/// the version read when there was one. `false` when the record changed since it was read
/// (another install wrote or removed it: 409 or 404), and nothing was written. Only
/// [`crate::install()`] records, once anti-rollback let the bundle through.
pub(crate) async fn write(cluster: &Cluster, record: &InstallRecord, seen: &Snapshot) -> Result<bool> {
    let namespaces: Api<Namespace> = Api::all(cluster.client().clone());
    let ns = serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": INSTALL_NAMESPACE}});
    namespaces
        .patch(INSTALL_NAMESPACE, &PatchParams::apply(FIELD_MANAGER), &Patch::Apply(&ns))
        .await
        .map_err(api_error("Namespace genesis-system"))?;
    let maps: Api<ConfigMap> = Api::namespaced(cluster.client().clone(), INSTALL_NAMESPACE);
    let name = record_name(&record.name);
    let resource_version = match seen {
        Snapshot::Absent => None,
        Snapshot::Held { resource_version, .. } => Some(resource_version.clone()),
    };
    let cm = ConfigMap {
        metadata: ObjectMeta {
            name: Some(name.clone()),
            namespace: Some(INSTALL_NAMESPACE.to_owned()),
            labels: Some(BTreeMap::from([(LABEL.to_owned(), "genesis".to_owned())])),
            annotations: Some(BTreeMap::from([(BUNDLE_ANNOTATION.to_owned(), record.name.clone())])),
            resource_version: resource_version.clone(),
            ..ObjectMeta::default()
        },
        data: Some(BTreeMap::from([("record".to_owned(), serde_json::to_string(record).expect("a record is JSON"))])),
        ..ConfigMap::default()
    };
    let params = PostParams { field_manager: Some(FIELD_MANAGER.to_owned()), ..PostParams::default() };
    let written = match resource_version {
        None => maps.create(&params, &cm).await,
        Some(_) => maps.replace(&name, &params, &cm).await,
    };
    match written {
        Ok(_) => Ok(true),
        Err(kube::Error::Api(status)) if status.code == 409 || status.code == 404 => Ok(false),
        Err(e) => Err(api_error(&name)(e)),
    }
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
    match snapshot(cluster, name).await? {
        Snapshot::Absent => Ok(None),
        Snapshot::Held { record, .. } => record.map(Some),
    }
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

/// What an install record says of the bundle itself, taken from it once its signature
/// verified: its name and version, its BOM's digests, and whose signatures over that BOM
/// were accepted. Anti-rollback judges the record it finds against the first three.
#[derive(Debug)]
pub(crate) struct RecordedBundle {
    pub(crate) name: String,
    pub(crate) version: String,
    /// SHA-256 of the BOM, as records keep it.
    pub(crate) bom_digest: String,
    bom_blake3: String,
    /// The vendor's signer first.
    signers: Vec<RecordedSigner>,
}

impl RecordedBundle {
    /// What the record of installing `bundle` says of it: the vendor's signer first.
    pub(crate) fn of(bundle: &VerifiedBundle) -> RecordedBundle {
        let bom = bundle.bom();
        RecordedBundle {
            name: bom.name.clone(),
            version: bom.version.clone(),
            bom_digest: bundle.bom_sha256().to_string(),
            bom_blake3: bundle.bom_blake3().to_owned(),
            signers: std::iter::once(bundle.signer())
                .chain(bundle.countersigners())
                .cloned()
                .map(RecordedSigner::Known)
                .collect(),
        }
    }
}

impl InstallRecord {
    /// The record of applying `objects` for `bundle`, after verifying what `verification`
    /// says.
    pub(crate) fn new(
        bundle: &RecordedBundle,
        applied_at: String,
        verification: Verification,
        objects: &[AppliedObject],
    ) -> Self {
        InstallRecord {
            name: bundle.name.clone(),
            version: bundle.version.clone(),
            bom_digest: bundle.bom_digest.clone(),
            bom_blake3: bundle.bom_blake3.clone(),
            signers: bundle.signers.clone(),
            applied_at,
            verification,
            objects: objects.iter().map(AppliedObject::display_name).collect(),
            api_objects: objects
                .iter()
                .map(|o| RecordedObject {
                    api_version: o.api_version.clone(),
                    kind: o.kind.clone(),
                    namespace: o.namespace.clone(),
                    name: o.name.clone(),
                })
                .collect(),
        }
    }

    /// Where the record is kept: `namespace/name` of its ConfigMap.
    pub fn location(&self) -> String {
        format!("{INSTALL_NAMESPACE}/{}", record_name(&self.name))
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
    fn a_bundle_name_the_api_server_cannot_take_is_recorded_under_its_hash() {
        // Names that were valid object names keep the record they always had.
        for name in ["demo", "my.app", "app-2", "0"] {
            assert_eq!(record_name(name), format!("genesis-bundle-{name}"));
        }
        let hashed = "genesis-bundle-4de339ce6a64d7c807b68dc79df5ea2a";
        assert_eq!(record_name("MyApp"), hashed, "the first 128 bits of SHA-256(\"MyApp\")");
        let long = "a".repeat(239);
        for name in ["MyApp", "my_app", "app+1", "", "app.", "app-", "a..b", long.as_str()] {
            let derived = record_name(name);
            assert!(is_object_name(&derived) && derived.len() == hashed.len(), "{name:?}: {derived}");
        }
        assert_eq!(record_name(&"a".repeat(238)).len(), 253, "the longest name kept as it is");
    }

    /// Records already on clusters, written before the signers and the BLAKE3 were kept,
    /// read with neither (and are judged by their version and SHA-256 as before); a new
    /// record keeps both, each signer as the anti-rollback state writes it.
    #[test]
    fn a_record_written_before_signers_were_kept_reads_without_them() {
        let old = r#"{"name": "demo", "version": "0.1.0", "bomDigest": "sha256:00", "appliedAt": "t",
            "verification": {"payload": "p", "sbom": "none", "provenance": "none", "sidecars": "not checked"},
            "objects": ["Namespace demo"]}"#;
        let record: InstallRecord = serde_json::from_str(old).unwrap();
        assert_eq!((record.bom_digest.as_str(), record.bom_blake3.as_str()), ("sha256:00", ""));
        assert!(record.signers.is_empty() && record.api_objects.is_empty());
        let written = serde_json::to_string(&record).unwrap();
        assert!(!written.contains("signers") && !written.contains("apiObjects"), "{written}");

        let signers = vec![
            RecordedSigner::Known(AcceptedSigner::Key { fingerprint: "SHA256:vendor".into() }),
            RecordedSigner::Known(AcceptedSigner::Identity {
                subject: "ops@customer.example".into(),
                issuer: "https://idp".into(),
            }),
        ];
        let new = InstallRecord { bom_blake3: "b3".into(), signers, ..record };
        let json = serde_json::to_value(&new).unwrap();
        assert_eq!(json["bomBlake3"], "b3");
        assert_eq!(
            json["signers"],
            serde_json::json!([{"kind": "key", "fingerprint": "SHA256:vendor"},
                {"kind": "identity", "subject": "ops@customer.example", "issuer": "https://idp"}])
        );
        assert_eq!(serde_json::from_value::<InstallRecord>(json).unwrap(), new);
    }

    /// A record a later version wrote, with a kind of signer this one does not know, still
    /// reads: that signer is kept as its JSON, in its place, and shown as such; the others
    /// read as they are.
    #[test]
    fn a_signer_of_an_unknown_kind_is_kept_as_written() {
        let later = r#"{"name": "demo", "version": "0.2.0", "bomDigest": "sha256:00", "appliedAt": "t", "objects": [],
            "signers": [{"kind": "tpm", "quote": "q"}, {"kind": "key", "fingerprint": "SHA256:customer"}]}"#;
        let record = parse(&config_map(serde_json::json!({ "record": later }))).unwrap();
        let unknown = serde_json::json!({"kind": "tpm", "quote": "q"});
        assert_eq!(
            record.signers,
            [
                RecordedSigner::Other(unknown.clone()),
                RecordedSigner::Known(AcceptedSigner::Key { fingerprint: "SHA256:customer".into() })
            ]
        );
        assert_eq!(record.signers[0].to_string(), r#"a signer unknown to this version: {"kind":"tpm","quote":"q"}"#);
        assert_eq!(record.signers[1].to_string(), "key SHA256:customer");
        assert_eq!(serde_json::to_value(&record).unwrap()["signers"][0], unknown);
    }

    /// A record keeps each object's API version beside its `Kind namespace/name`, so that
    /// the Status tab finds it again without guessing its API group.
    #[test]
    fn a_record_keeps_the_api_version_of_each_object() {
        let applied = |api_version: &str, kind: &str, namespace: Option<&str>, name: &str| AppliedObject {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.map(str::to_owned),
            name: name.into(),
            outcome: crate::Outcome::Created,
            conflict: None,
            result: None,
            note: None,
        };
        let bundle = RecordedBundle {
            name: "demo".into(),
            version: "0.1.0".into(),
            bom_digest: "sha256:00".into(),
            bom_blake3: String::new(),
            signers: Vec::new(),
        };
        let objects = [applied("v1", "Namespace", None, "demo"), applied("apps/v1", "Deployment", Some("demo"), "app")];
        let record = InstallRecord::new(&bundle, "t".into(), Verification::default(), &objects);
        assert_eq!(record.objects, ["Namespace demo", "Deployment demo/app"]);
        let json = serde_json::to_value(&record).unwrap();
        assert_eq!(
            json["apiObjects"],
            serde_json::json!([{"apiVersion": "v1", "kind": "Namespace", "name": "demo"},
                {"apiVersion": "apps/v1", "kind": "Deployment", "namespace": "demo", "name": "app"}])
        );
        assert_eq!(serde_json::from_value::<InstallRecord>(json).unwrap(), record);
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
