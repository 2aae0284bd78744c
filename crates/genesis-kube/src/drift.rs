//! What became of the objects an install applied, for the console's Status tab: each one
//! present or missing, ready or not (workloads and Flux HelmReleases as [`crate::judge`]
//! reads them, any other object once it exists), and whether anyone but the loader changed
//! it since the install.
//!
//! Drift is read from the object's own `metadata.managedFields`, where the API server keeps,
//! per field manager, the fields it wrote and when it last changed them: an entry of a
//! manager other than the loader's (`genesis`, the field manager of every apply), on the
//! object rather than its status, changed after the record's `appliedAt`, says that manager
//! changed the object since the install. So no copy of what was applied is kept or compared.
//! It is what the API server knows of who wrote what, not a comparison of values: a change
//! undone by hand still shows, with who made it and when; and a change within the second the
//! install was recorded in does not (managedFields keep whole seconds). A status written by a
//! controller is no drift: the `status` subresource's entries are left out, and so are those
//! that hold nothing but `status` on API servers older than 1.22, which do not name the
//! subresource. A controller that writes the object itself (an autoscaler's `scale`, the
//! deployment controller's revision annotation on a rollout) is drift, named as its manager.
//!
//! Install records name each object `Kind namespace/name`; the API version that finds it is
//! in the record's `apiObjects` since they were kept. An older record's kinds are looked up
//! in the API server's discovery, and one that several API groups serve is left unknown
//! rather than guessed.

use std::collections::HashMap;

use kube::api::ApiResource;
use kube::discovery::Scope;
use serde_json::Value;

use crate::apply::FIELD_MANAGER;
use crate::{Access, Cluster, InstallRecord, KubeError, RecordedObject, Result, UserInfo};

/// What became of one object an install applied.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ObjectState {
    /// `Kind namespace/name`, as the install record lists it.
    pub object: String,
    /// Its kind.
    pub kind: String,
    /// Its namespace, for a namespaced object.
    pub namespace: Option<String>,
    /// Its name.
    pub name: String,
    /// Whether it is ready, when it was read: a workload or HelmRelease as its status says,
    /// any other object once it exists, a missing one not. `None` when it was not read
    /// ([`Drift::Withheld`], [`Drift::Unknown`]).
    pub ready: Option<bool>,
    /// What its status says, or why it was not read or found.
    pub detail: String,
    /// How it compares with the install.
    pub drift: Drift,
}

/// How an object compares with the install that applied it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Drift {
    /// There, and changed by no one else since the install.
    None,
    /// There, and changed since the install by these managers, the latest first.
    Changed(Vec<Change>),
    /// Not in the cluster (or its API is no longer served).
    Missing,
    /// Not read: the viewer may not `get` it.
    Withheld,
    /// Not looked for: the record does not say which API serves it (see the module's
    /// documentation), or names no object; or not read: the API server refused it to this
    /// client (the console's own rights do not reach it).
    Unknown,
}

impl Drift {
    /// `none`, `changed`, `missing`, `withheld` or `unknown`: the word the pages show.
    pub fn as_str(&self) -> &'static str {
        match self {
            Drift::None => "none",
            Drift::Changed(_) => "changed",
            Drift::Missing => "missing",
            Drift::Withheld => "withheld",
            Drift::Unknown => "unknown",
        }
    }
}

/// A change another field manager made to an object after its install.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Change {
    /// The field manager (`kubectl-edit`, `kubectl-patch`, a controller's name, …).
    pub manager: String,
    /// `Apply` or `Update`, as the API server recorded it.
    pub operation: String,
    /// When it last changed the fields it manages, in seconds since the Unix epoch.
    pub at: u64,
}

/// The state of every object `record` lists, in its order, read with the console's (this
/// client's) credentials. With a `viewer`, an object is read only when a
/// SubjectAccessReview says the viewer may `get` it: one they may not is [`Drift::Withheld`]
/// and nothing of it is read; without one, the client's own rights decide. One object the
/// API server refuses to this client (403) is [`Drift::Unknown`], and one it does not find
/// (404) [`Drift::Missing`]: that object's matter, not the page's. An API server that fails a
/// request otherwise is an error.
pub async fn object_states(
    cluster: &Cluster,
    record: &InstallRecord,
    viewer: Option<&UserInfo>,
) -> Result<Vec<ObjectState>> {
    let applied_at = genesis_bundle::parse_rfc3339(&record.applied_at);
    let mut resources = Resources::default();
    let mut states = Vec::with_capacity(record.objects.len());
    for object in &record.objects {
        let Some((kind, namespace, name)) = parse_listed(object) else {
            states.push(unread(object, "", None, "", Drift::Unknown, "the record names no object here".into()));
            continue;
        };
        let api_version = record.api_objects.iter().find(|o| o.is(kind, namespace, name)).map(|o| &o.api_version);
        let not_read = |drift, detail| unread(object, kind, namespace, name, drift, detail);
        let (resource, namespaced) = match resources.find(cluster, api_version.map(String::as_str), kind).await? {
            Found::One(resource, namespaced) => (resource, namespaced),
            Found::Missing(detail) => {
                states.push(ObjectState { ready: Some(false), ..not_read(Drift::Missing, detail) });
                continue;
            }
            Found::Unknown(detail) => {
                states.push(not_read(Drift::Unknown, detail));
                continue;
            }
        };
        let namespace = match (namespaced, namespace) {
            (true, Some(ns)) => Some(ns),
            (false, _) => None,
            (true, None) => {
                let detail = format!("the record names no namespace, and {kind} objects are namespaced");
                states.push(not_read(Drift::Unknown, detail));
                continue;
            }
        };
        if let Some(viewer) = viewer {
            let access = Access {
                verb: "get".into(),
                group: resource.group.clone(),
                resource: resource.plural.clone(),
                namespace: namespace.map(str::to_owned),
                name: Some(name.to_owned()),
            };
            if !crate::may(cluster, viewer, &access).await? {
                let detail = match namespace {
                    Some(ns) => format!("your account may not get {kind} in {ns}"),
                    None => format!("your account may not get {kind}"),
                };
                states.push(not_read(Drift::Withheld, detail));
                continue;
            }
        }
        let api = cluster.dynamic_api(&resource, namespace);
        let found = match api.get_opt(name).await {
            Ok(found) => found,
            Err(source) => match unreadable(&source) {
                Some(Drift::Missing) => None,
                Some(drift) => {
                    let detail = match namespace {
                        Some(ns) => format!("not read: the console's own account may not get {kind} in {ns}"),
                        None => format!("not read: the console's own account may not get {kind}"),
                    };
                    states.push(not_read(drift, detail));
                    continue;
                }
                None => return Err(KubeError::Api { object: object.clone(), source }),
            },
        };
        let state = match found {
            None => ObjectState { ready: Some(false), ..not_read(Drift::Missing, "not found".into()) },
            Some(found) => {
                let value = serde_json::to_value(&found).expect("an object is JSON");
                let (ready, detail) =
                    if crate::readiness::watched(kind) { crate::judge(kind, &value) } else { (true, "present".into()) };
                let changes = changes_since(&value, applied_at);
                let drift = if changes.is_empty() { Drift::None } else { Drift::Changed(changes) };
                ObjectState { ready: Some(ready), detail, drift, ..not_read(Drift::None, String::new()) }
            }
        };
        states.push(state);
    }
    Ok(states)
}

/// What a failed read of one object says of it when the failure is that object's own: refused
/// to this client (403), [`Drift::Unknown`]; not found (404, as when its API went away
/// since discovery), [`Drift::Missing`]. None for a failure of the API server itself.
fn unreadable(error: &kube::Error) -> Option<Drift> {
    match error {
        kube::Error::Api(status) if status.code == 403 => Some(Drift::Unknown),
        kube::Error::Api(status) if status.code == 404 => Some(Drift::Missing),
        _ => None,
    }
}

/// The state of an object not read: `ready` unknown.
fn unread(object: &str, kind: &str, namespace: Option<&str>, name: &str, drift: Drift, detail: String) -> ObjectState {
    ObjectState {
        object: object.to_owned(),
        kind: kind.to_owned(),
        namespace: namespace.map(str::to_owned),
        name: name.to_owned(),
        ready: None,
        detail,
        drift,
    }
}

/// The kind, namespace and name of `Kind namespace/name` or `Kind name` (a cluster-scoped
/// object), as records list objects; `None` when the record (a ConfigMap anyone who may edit
/// it can write) names nothing that is one API path segment, so that no name read from it
/// reaches another path of the API server.
fn parse_listed(object: &str) -> Option<(&str, Option<&str>, &str)> {
    let (kind, rest) = object.split_once(' ')?;
    let (namespace, name) = match rest.split_once('/') {
        Some((ns, name)) => (Some(ns), name),
        None => (None, rest),
    };
    let kind_ok =
        kind.starts_with(|c: char| c.is_ascii_alphabetic()) && kind.chars().all(|c| c.is_ascii_alphanumeric());
    (kind_ok && is_segment(name) && namespace.is_none_or(is_segment)).then_some((kind, namespace, name))
}

/// Whether `text` is one path segment of an API URL as it stands, with nothing a URL reads
/// otherwise: not empty, not `.` or `..`, without `/`, `%`, `?`, `#` or a space.
fn is_segment(text: &str) -> bool {
    !text.is_empty() && text != "." && text != ".." && !text.contains(['/', '%', '?', '#', ' '])
}

/// What managedFields say other managers changed after `applied_at` (every change they
/// recorded when it is `None`: a record whose time cannot be read), on the object and not
/// its status, the latest first. See the module's documentation.
fn changes_since(object: &Value, applied_at: Option<u64>) -> Vec<Change> {
    let Some(entries) = object["metadata"]["managedFields"].as_array() else { return Vec::new() };
    let mut changes: Vec<Change> = entries
        .iter()
        .filter_map(|entry| {
            let manager = entry["manager"].as_str().unwrap_or_default();
            if manager == FIELD_MANAGER || on_status(entry) {
                return None;
            }
            let at = genesis_bundle::parse_rfc3339(entry["time"].as_str()?)?;
            if applied_at.is_some_and(|applied| at <= applied) {
                return None;
            }
            let operation = entry["operation"].as_str().unwrap_or_default().to_owned();
            Some(Change { manager: manager.to_owned(), operation, at })
        })
        .collect();
    changes.sort_by(|a, b| b.at.cmp(&a.at).then_with(|| a.manager.cmp(&b.manager)));
    changes
}

/// Whether a managedFields entry is a write of the status: the `status` subresource's, or,
/// where the API server does not name subresources (before 1.22), one that holds nothing
/// but `status`.
fn on_status(entry: &Value) -> bool {
    match entry["subresource"].as_str() {
        Some(subresource) if !subresource.is_empty() => subresource == "status",
        _ => entry["fieldsV1"].as_object().is_some_and(|fields| fields.len() == 1 && fields.contains_key("f:status")),
    }
}

impl RecordedObject {
    /// Whether this is the object of `kind` `namespace/name`.
    fn is(&self, kind: &str, namespace: Option<&str>, name: &str) -> bool {
        self.kind == kind && self.namespace.as_deref() == namespace && self.name == name
    }
}

/// Where to find the objects of a kind.
#[derive(Clone)]
enum Found {
    /// Its resource, and whether it is namespaced.
    One(ApiResource, bool),
    /// No API serves it: why.
    Missing(String),
    /// It cannot be told which API serves it: why.
    Unknown(String),
}

/// The resources of the kinds asked for, each discovered once per page.
#[derive(Default)]
struct Resources {
    /// By API version and kind.
    pinned: HashMap<(String, String), Found>,
    /// Every resource the API server serves, with whether it is namespaced, read when the
    /// first kind without an API version is asked for.
    served: Option<Vec<(ApiResource, bool)>>,
}

impl Resources {
    /// The resource of `kind` at `api_version`, or, for a record that kept none, the one
    /// API group that serves `kind`.
    async fn find(&mut self, cluster: &Cluster, api_version: Option<&str>, kind: &str) -> Result<Found> {
        let Some(api_version) = api_version else { return self.by_kind(cluster, kind).await };
        let key = (api_version.to_owned(), kind.to_owned());
        if let Some(found) = self.pinned.get(&key) {
            return Ok(found.clone());
        }
        let parts: Vec<&str> = api_version.split('/').collect();
        let found = if parts.len() > 2 || !parts.iter().all(|part| is_segment(part)) {
            Found::Unknown(format!("the record gives it the API version {api_version:?}, which is none"))
        } else {
            match cluster.discover(api_version, kind).await {
                Ok((resource, namespaced)) => Found::One(resource, namespaced),
                Err(kube::Error::Api(status)) if status.code == 404 => {
                    Found::Missing(format!("the API server no longer serves {api_version}"))
                }
                Err(kube::Error::Discovery(_)) => {
                    Found::Missing(format!("the API server serves no kind {kind} in {api_version}"))
                }
                Err(source) => return Err(KubeError::Api { object: format!("{kind} in {api_version}"), source }),
            }
        };
        self.pinned.insert(key, found.clone());
        Ok(found)
    }

    /// The one resource of `kind` among every API group's.
    async fn by_kind(&mut self, cluster: &Cluster, kind: &str) -> Result<Found> {
        if self.served.is_none() {
            let discovery = kube::discovery::Discovery::new(cluster.client().clone())
                .run()
                .await
                .map_err(|source| KubeError::Api { object: "the API server's discovery".into(), source })?;
            let served = discovery
                .groups()
                .flat_map(|group| group.resources_by_stability())
                .map(|(resource, caps)| (resource, caps.scope == Scope::Namespaced))
                .collect();
            self.served = Some(served);
        }
        let served = self.served.as_deref().unwrap_or_default();
        let candidates: Vec<&(ApiResource, bool)> = served.iter().filter(|(r, _)| r.kind == kind).collect();
        Ok(match candidates.as_slice() {
            [] => Found::Missing(format!("the API server serves no kind {kind}")),
            [(resource, namespaced)] => Found::One(resource.clone(), *namespaced),
            several => {
                let groups: Vec<&str> = several.iter().map(|(r, _)| r.api_version.as_str()).collect();
                Found::Unknown(format!(
                    "recorded before install records kept API versions, and {kind} is served by {}: install the \
                     bundle again to record which",
                    groups.join(" and ")
                ))
            }
        })
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    /// 2026-01-01T00:00:00Z.
    const APPLIED: u64 = 1_767_225_600;

    fn entry(manager: &str, operation: &str, time: &str, subresource: Option<&str>, fields: Value) -> Value {
        let mut entry = json!({"manager": manager, "operation": operation, "apiVersion": "apps/v1", "time": time,
            "fieldsType": "FieldsV1", "fieldsV1": fields});
        if let Some(subresource) = subresource {
            entry["subresource"] = json!(subresource);
        }
        entry
    }

    fn object(entries: Vec<Value>) -> Value {
        json!({"metadata": {"name": "app", "namespace": "demo", "managedFields": entries}})
    }

    fn spec() -> Value {
        json!({"f:spec": {"f:replicas": {}}})
    }

    /// The managers and times `changes_since` finds in `entries`.
    fn check(entries: Vec<Value>, applied_at: Option<u64>) -> Vec<(String, u64)> {
        changes_since(&object(entries), applied_at).into_iter().map(|c| (c.manager, c.at)).collect()
    }

    #[test]
    fn another_manager_s_change_after_the_install_is_drift() {
        let later = "2026-01-01T00:05:00Z";
        let changed = check(vec![entry("kubectl-patch", "Update", later, None, spec())], Some(APPLIED));
        assert_eq!(changed, [("kubectl-patch".to_owned(), APPLIED + 300)]);
        let change = &changes_since(&object(vec![entry("someone", "Apply", later, None, spec())]), Some(APPLIED))[0];
        assert_eq!((change.operation.as_str(), change.at), ("Apply", APPLIED + 300));
    }

    #[test]
    fn the_loader_s_own_writes_earlier_changes_and_status_writes_are_no_drift() {
        let later = "2026-01-01T00:05:00Z";
        let status = json!({"f:status": {"f:readyReplicas": {}}});
        for (entries, why) in [
            (vec![entry("genesis", "Apply", later, None, spec())], "the loader's own apply"),
            (vec![entry("kubectl-edit", "Update", "2025-12-31T23:59:00Z", None, spec())], "before the install"),
            (vec![entry("kubectl-edit", "Update", "2026-01-01T00:00:00Z", None, spec())], "in the install's second"),
            (vec![entry("kube-controller-manager", "Update", later, Some("status"), status.clone())], "status"),
            (vec![entry("kube-controller-manager", "Update", later, None, status.clone())], "status before 1.22"),
            (vec![entry("someone", "Update", "", None, spec())], "no time to judge by"),
            (vec![], "no entries"),
        ] {
            let found = check(entries, Some(APPLIED));
            assert!(found.is_empty(), "{why}: {found:?}");
        }
        assert!(changes_since(&json!({"metadata": {"name": "app"}}), Some(APPLIED)).is_empty());
    }

    #[test]
    fn a_write_of_another_subresource_or_of_status_and_more_is_drift() {
        let later = "2026-01-01T00:05:00Z";
        let scaled = entry("horizontal-pod-autoscaler", "Update", later, Some("scale"), spec());
        assert_eq!(check(vec![scaled], Some(APPLIED)).len(), 1, "a scale is a change of the spec");
        let both = json!({"f:status": {}, "f:metadata": {"f:labels": {}}});
        assert_eq!(check(vec![entry("someone", "Update", later, None, both)], Some(APPLIED)).len(), 1);
    }

    #[test]
    fn changes_are_listed_the_latest_first_and_all_count_when_the_install_time_is_unreadable() {
        let entries = vec![
            entry("first", "Update", "2026-01-01T00:01:00Z", None, spec()),
            entry("genesis", "Apply", "2026-01-01T00:03:00Z", None, spec()),
            entry("second", "Update", "2026-01-01T00:02:00+00:00", None, spec()),
            entry("early", "Update", "2025-06-01T00:00:00Z", None, spec()),
        ];
        let names = |changes: Vec<(String, u64)>| changes.into_iter().map(|(m, _)| m).collect::<Vec<_>>();
        assert_eq!(names(check(entries.clone(), Some(APPLIED))), ["second", "first"]);
        let unreadable = genesis_bundle::parse_rfc3339("yesterday");
        assert_eq!(names(check(entries, unreadable)), ["second", "first", "early"]);
    }

    #[test]
    fn a_listed_object_names_one_path_segment_each() {
        assert_eq!(parse_listed("Deployment demo/app"), Some(("Deployment", Some("demo"), "app")));
        assert_eq!(parse_listed("ClusterRole system:reader"), Some(("ClusterRole", None, "system:reader")));
        assert_eq!(parse_listed("Namespace demo"), Some(("Namespace", None, "demo")));
        for bad in [
            "Deployment",
            "Deployment demo/a/b",
            "Deployment ../app",
            "Deployment demo/..",
            "Deployment demo/a%2Fb",
            "Deployment /app",
            "Deployment demo/",
            "Deployment demo/app?watch=1",
            "Deploy-ment demo/app",
            " demo/app",
        ] {
            assert_eq!(parse_listed(bad), None, "{bad:?}");
        }
    }

    #[test]
    fn one_object_refused_or_gone_is_that_row_s_matter_and_a_failing_server_the_page_s() {
        let status = |code| kube::Error::Api(kube::core::Status::failure("said no", "Reason").with_code(code).boxed());
        assert_eq!(unreadable(&status(403)), Some(Drift::Unknown));
        assert_eq!(unreadable(&status(404)), Some(Drift::Missing));
        for failing in [status(500), status(401), kube::Error::LinesCodecMaxLineLengthExceeded] {
            assert_eq!(unreadable(&failing), None, "{failing}");
        }
    }

    #[test]
    fn a_recorded_object_is_found_by_kind_namespace_and_name() {
        let recorded = RecordedObject {
            api_version: "apps/v1".into(),
            kind: "Deployment".into(),
            namespace: Some("demo".into()),
            name: "app".into(),
        };
        assert!(recorded.is("Deployment", Some("demo"), "app"));
        assert!(!recorded.is("Deployment", None, "app"));
        assert!(!recorded.is("StatefulSet", Some("demo"), "app"));
        assert_eq!(Drift::Changed(Vec::new()).as_str(), "changed");
        assert_eq!(Drift::Withheld.as_str(), "withheld");
    }
}
