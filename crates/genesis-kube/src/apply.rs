//! Server-side apply in dependency order.

use std::time::Duration;

use kube::api::{ApiResource, DynamicObject, Patch, PatchParams};

use crate::{Cluster, KubeError, Result};

/// The field manager every apply uses.
pub const FIELD_MANAGER: &str = "genesis";

/// How long a CRD may take to become Established.
const ESTABLISHED_TIMEOUT: Duration = Duration::from_secs(60);

/// How to apply.
#[derive(Debug, Clone, Copy, Default)]
pub struct ApplyOptions {
    /// Ask the server what it would do, change nothing.
    pub dry_run: bool,
}

/// What happened to one object.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "lowercase")]
pub enum Outcome {
    /// It did not exist.
    Created,
    /// It existed and changed.
    Configured,
    /// It existed and the apply changed nothing.
    Unchanged,
    /// Another field manager owns fields we set: nothing was changed.
    Conflict,
}

/// One applied object.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct AppliedObject {
    /// `apiVersion`.
    #[serde(rename = "apiVersion")]
    pub api_version: String,
    /// `kind`.
    pub kind: String,
    /// Namespace, for namespaced objects.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub namespace: Option<String>,
    /// Name.
    pub name: String,
    /// What happened.
    pub outcome: Outcome,
    /// For a conflict: the fields and the manager that owns them, as the server said.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub conflict: Option<String>,
    /// For a dry run: the object as the server would store it.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub result: Option<serde_json::Value>,
    /// Anything the reader should know about this outcome.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub note: Option<String>,
}

impl AppliedObject {
    /// `Kind namespace/name`.
    pub fn display_name(&self) -> String {
        match &self.namespace {
            Some(ns) => format!("{} {ns}/{}", self.kind, self.name),
            None => format!("{} {}", self.kind, self.name),
        }
    }
}

/// Everything one apply did.
#[derive(Debug, Clone, Default, PartialEq, Eq, serde::Serialize)]
pub struct ApplyReport {
    /// Each object, in the order applied.
    pub objects: Vec<AppliedObject>,
}

impl ApplyReport {
    /// Whether nothing changed (a re-run of the same bundle).
    pub fn unchanged(&self) -> bool {
        self.objects.iter().all(|o| o.outcome == Outcome::Unchanged)
    }

    /// The conflicts, if any.
    pub fn conflicts(&self) -> impl Iterator<Item = &AppliedObject> {
        self.objects.iter().filter(|o| o.outcome == Outcome::Conflict)
    }
}

/// Namespaces, then CRDs, then the rest; the file order otherwise.
fn phase(object: &serde_json::Value) -> u8 {
    match object["kind"].as_str() {
        Some("Namespace") => 0,
        Some("CustomResourceDefinition") => 1,
        _ => 2,
    }
}

fn describe(object: &serde_json::Value) -> String {
    format!("{} {}", object["kind"].as_str().unwrap_or("?"), object["metadata"]["name"].as_str().unwrap_or("?"))
}

/// Applies `objects` (parsed manifests) to the cluster in dependency order.
pub async fn apply(cluster: &Cluster, objects: Vec<serde_json::Value>, options: ApplyOptions) -> Result<ApplyReport> {
    let mut ordered: Vec<serde_json::Value> = objects;
    ordered.sort_by_key(phase);
    // Kinds whose CRD this very apply creates: a dry run cannot ask the server about them.
    let bundled_kinds: Vec<(String, String)> = ordered
        .iter()
        .filter(|o| o["kind"] == "CustomResourceDefinition")
        .filter_map(|o| {
            Some((o["spec"]["group"].as_str()?.to_owned(), o["spec"]["names"]["kind"].as_str()?.to_owned()))
        })
        .collect();
    let mut report = ApplyReport::default();
    for object in ordered {
        let applied = apply_one(cluster, &object, options, &bundled_kinds).await?;
        let is_crd = object["kind"] == "CustomResourceDefinition";
        let established_needed = is_crd && !options.dry_run && applied.outcome != Outcome::Conflict;
        let name = applied.name.clone();
        report.objects.push(applied);
        if established_needed {
            wait_established(cluster, &name).await?;
        }
    }
    Ok(report)
}

async fn apply_one(
    cluster: &Cluster,
    object: &serde_json::Value,
    options: ApplyOptions,
    bundled_kinds: &[(String, String)],
) -> Result<AppliedObject> {
    let what = describe(object);
    let bad = |reason: &str| KubeError::Object { object: what.clone(), reason: reason.to_owned() };
    let api_version = object["apiVersion"].as_str().ok_or_else(|| bad("no apiVersion"))?.to_owned();
    let kind = object["kind"].as_str().ok_or_else(|| bad("no kind"))?.to_owned();
    let name = object["metadata"]["name"].as_str().ok_or_else(|| bad("no metadata.name"))?.to_owned();
    let group = api_version.rsplit_once('/').map_or("", |(g, _)| g).to_owned();
    let api_error = |source| KubeError::Api { object: what.clone(), source };
    let mut applied = AppliedObject {
        api_version,
        kind,
        namespace: object["metadata"]["namespace"].as_str().map(str::to_owned),
        name: name.clone(),
        outcome: Outcome::Created,
        conflict: None,
        result: None,
        note: None,
    };
    let bundled = bundled_kinds.iter().any(|(g, k)| *g == group && *k == applied.kind);
    let (resource, namespaced) =
        match discover(cluster, &applied.api_version, &applied.kind, bundled && !options.dry_run).await {
            Ok(found) => found,
            Err(_) if options.dry_run && bundled => {
                applied.note =
                    Some("not checked by the server: its CustomResourceDefinition comes with this bundle".into());
                return Ok(applied);
            }
            Err(e) => return Err(api_error(e)),
        };
    applied.namespace = namespaced.then(|| object["metadata"]["namespace"].as_str().unwrap_or("default").to_owned());
    let api = cluster.dynamic_api(&resource, applied.namespace.as_deref());
    let before = api.get_opt(&name).await.map_err(api_error)?;
    let mut params = PatchParams::apply(FIELD_MANAGER);
    if options.dry_run {
        params = params.dry_run();
    }
    match api.patch(&name, &params, &Patch::Apply(object)).await {
        Ok(after) => {
            // Compared by content: a no-op apply may still move resourceVersion (1.20 rewrites
            // the managedFields timestamp) and a dry run always gets a fresh one.
            applied.outcome = match &before {
                None => Outcome::Created,
                Some(b) if same_content(b, &after) => Outcome::Unchanged,
                Some(_) => Outcome::Configured,
            };
            if options.dry_run {
                applied.result = Some(serde_json::to_value(&after).expect("an object is JSON"));
            }
        }
        Err(kube::Error::Api(status)) if status.code == 409 => {
            applied.outcome = Outcome::Conflict;
            applied.conflict = Some(status.message.clone());
        }
        Err(e) => return Err(api_error(e)),
    }
    Ok(applied)
}

/// Whether two versions of an object differ only in bookkeeping metadata.
fn same_content(before: &DynamicObject, after: &DynamicObject) -> bool {
    let strip = |o: &DynamicObject| {
        let mut v = serde_json::to_value(o).expect("an object is JSON");
        if let Some(meta) = v["metadata"].as_object_mut() {
            for volatile in ["resourceVersion", "managedFields", "generation", "creationTimestamp", "uid"] {
                meta.remove(volatile);
            }
        }
        v
    };
    strip(before) == strip(after)
}

/// Discovers a kind; one whose CustomResourceDefinition this bundle just applied is asked
/// again for a while: an API server may mark a definition Established a moment before its
/// discovery document lists the kind (not in a dry run: nothing was applied then).
async fn discover(
    cluster: &Cluster,
    api_version: &str,
    kind: &str,
    bundled: bool,
) -> kube::Result<(ApiResource, bool)> {
    let start = tokio::time::Instant::now();
    loop {
        match cluster.discover(api_version, kind).await {
            Err(_) if bundled && start.elapsed() < ESTABLISHED_TIMEOUT => {
                tokio::time::sleep(Duration::from_millis(200)).await;
            }
            found => return found,
        }
    }
}

async fn wait_established(cluster: &Cluster, name: &str) -> Result<()> {
    let start = tokio::time::Instant::now();
    while crate::crd_established(cluster, name).await? != Some(true) {
        if start.elapsed() > ESTABLISHED_TIMEOUT {
            return Err(KubeError::NotEstablished { name: name.to_owned(), seconds: ESTABLISHED_TIMEOUT.as_secs() });
        }
        tokio::time::sleep(Duration::from_millis(200)).await;
    }
    Ok(())
}
