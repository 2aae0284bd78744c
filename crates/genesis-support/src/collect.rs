//! What a support bundle holds, read from the cluster through its API server with the
//! caller's credentials (read-only: `get` and `list`, nothing else) and from files the
//! caller names, every byte through the [`Redactor`] before it is kept. What the credentials
//! may not read is a warning, and the collection goes on.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::{Path, PathBuf};

use genesis_kube::{Cluster, KubeError};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Node, Pod, Secret, Service};
use kube::api::{Api, ApiResource, DynamicObject, ListParams};
use serde::de::DeserializeOwned;
use serde_json::{Value, json};

use crate::redact::{RedactionReport, Redactor};
use crate::{Result, SupportError};

/// The largest pre-flight report read (a report is a few kilobytes).
pub const MAX_PREFLIGHT: u64 = 16 << 20;

/// How much of a log is kept: its last 16 MiB, from the first line that begins in them.
pub const MAX_LOG: u64 = 16 << 20;

/// Objects asked for per list request; the lists are read page by page.
const PAGE: u32 = 500;

/// What to collect.
#[derive(Debug, Clone)]
pub struct Options {
    /// Namespaces to collect, besides those the install records name.
    pub namespaces: Vec<String>,
    /// What every collected byte goes through.
    pub redactor: Redactor,
    /// A pre-flight run's JSON report, kept as `preflight.json`.
    pub preflight: Option<PathBuf>,
    /// Logs kept as `logs/<name>` (the console's own log, …): a plain file name, and the file.
    pub extra_logs: Vec<(String, PathBuf)>,
}

/// What was collected, redacted: the archive's files, ready for [`crate::write_archive`].
#[derive(Debug, Clone)]
pub struct Collected {
    /// Path in the archive → content, `README.txt` and `redaction-report.json` included.
    pub files: BTreeMap<String, Vec<u8>>,
    /// How many values each rule replaced.
    pub report: RedactionReport,
    /// The namespaces collected, sorted (as the archive names them: redacted too).
    pub namespaces: Vec<String>,
    /// What could not be collected (a list the credentials may not read, a namespace that
    /// does not exist, a log cut to its end), redacted; also in `README.txt`.
    pub warnings: Vec<String>,
}

/// What is collected, every byte through the redactor BEFORE it is kept in memory for the
/// archive:
/// - `cluster/version.json` (the API server's `/version`), `cluster/nodes.json` (the Node
///   objects, `metadata.managedFields` removed);
/// - namespaces: those given, plus every namespace the install records name; per namespace
///   `namespaces/<ns>/{configmaps,daemonsets,deployments,events,pods,services,statefulsets}.json`
///   (`{"apiVersion": "v1", "kind": "List", "items": […]}` as `kubectl get -o json` prints
///   it, objects sorted by name, `metadata.managedFields` removed, a config map's
///   `binaryData` reduced to its size) and `secrets.json` = the Secret names and types only
///   (`[{"name", "type"}]`: never `data`, `stringData`, labels or annotations);
/// - `install-records.json` (the records as `genesis_kube::read_records` reads them);
///   `preflight.json` when given; `logs/<name>` for `extra_logs`;
/// - `redaction-report.json` (the report) and `README.txt` (what the archive holds, what was
///   redacted and how, what was not collected, that nothing was sent anywhere).
///
/// JSON is written pretty, with sorted keys, and a newline at the end, so the same cluster
/// state gives the same bytes. The namespaces given are checked and the local files read
/// first: a wrong name or path fails before the cluster is asked anything. What the credentials may not read (403), or the API server does
/// not serve (404), is a warning; any other failure of the API server ends the collection.
pub async fn collect(cluster: &Cluster, options: &Options) -> Result<Collected> {
    let mut namespaces: BTreeSet<String> = BTreeSet::new();
    for ns in &options.namespaces {
        if !is_namespace_name(ns) {
            return Err(SupportError::Namespace { name: ns.clone() });
        }
        namespaces.insert(ns.clone());
    }
    let mut c = Collector::new(&options.redactor);
    if let Some(path) = &options.preflight {
        let value = read_preflight(path)?;
        c.keep_json("preflight.json".into(), value);
    }
    let mut log_names = BTreeSet::new();
    for (name, path) in &options.extra_logs {
        check_log_name(name)?;
        if !log_names.insert(name.as_str()) {
            return Err(SupportError::LogName { name: name.clone(), reason: "two logs have this name".into() });
        }
        let (text, cut) = read_log(path)?;
        if cut {
            c.warn(format!("logs/{name}: only its last {} MiB are kept", MAX_LOG >> 20));
        }
        c.keep_text(format!("logs/{name}"), &text);
    }

    let client = cluster.client();
    tracing::info!(cluster = cluster.describe(), "collecting a support bundle");
    match client.apiserver_version().await {
        Ok(info) => c.keep_json("cluster/version.json".into(), serde_json::to_value(&info).expect("JSON")),
        Err(e) => c.refused("the API server's version", e)?,
    }
    match list_dynamic(client, &ApiResource::erase::<Node>(&()), None).await {
        Ok(nodes) => c.keep_json("cluster/nodes.json".into(), list_document(nodes)),
        Err(e) => c.refused("nodes", e)?,
    }

    match genesis_kube::read_records(cluster).await {
        Ok(records) => {
            for record in &records {
                namespaces.extend(namespaces_of(&record.objects));
            }
            c.keep_json("install-records.json".into(), serde_json::to_value(&records).expect("JSON"));
        }
        Err(KubeError::Api { source: kube::Error::Api(status), .. }) if status.code == 403 => {
            c.warn(format!("install records: not collected, the API server refused: {}", status.message));
        }
        Err(e @ KubeError::UnreadableRecord { .. }) => c.warn(format!("install records: not collected: {e}")),
        Err(e) => return Err(e.into()),
    }

    let mut shown = BTreeSet::new();
    for ns in &namespaces {
        match Api::<Namespace>::all(client.clone()).get_opt(ns).await {
            Ok(Some(_)) => {}
            Ok(None) => {
                c.warn(format!("namespace {ns}: does not exist, nothing collected from it"));
                continue;
            }
            // May not read the namespace itself: its lists may still be readable.
            Err(kube::Error::Api(status)) if status.code == 403 => {}
            Err(source) => return Err(SupportError::Api { what: format!("namespace {ns}"), source }),
        }
        let name = c.redactor.redact(ns, &mut c.report);
        let mut dir = name.clone();
        let mut n = 1;
        while !shown.insert(dir.clone()) {
            n += 1;
            dir = format!("{name}#{n}");
        }
        for (file, resource) in namespaced_kinds() {
            match list_dynamic(client, &resource, Some(ns)).await {
                Ok(items) => c.keep_json(format!("namespaces/{dir}/{file}.json"), list_document(items)),
                Err(e) => c.refused(&format!("namespace {ns}: {file}"), e)?,
            }
        }
        match list_all(&Api::<Secret>::namespaced(client.clone(), ns)).await {
            Ok(secrets) => c.keep_json(format!("namespaces/{dir}/secrets.json"), secret_names(secrets)),
            Err(e) => c.refused(&format!("namespace {ns}: secrets"), e)?,
        }
    }

    Ok(c.finish(shown.into_iter().collect(), options))
}

/// The namespaced kinds collected, by file name.
fn namespaced_kinds() -> [(&'static str, ApiResource); 7] {
    [
        ("configmaps", ApiResource::erase::<ConfigMap>(&())),
        ("daemonsets", ApiResource::erase::<DaemonSet>(&())),
        ("deployments", ApiResource::erase::<Deployment>(&())),
        ("events", ApiResource::erase::<Event>(&())),
        ("pods", ApiResource::erase::<Pod>(&())),
        ("services", ApiResource::erase::<Service>(&())),
        ("statefulsets", ApiResource::erase::<StatefulSet>(&())),
    ]
}

/// Every object of `api`, read page by page.
async fn list_all<K: Clone + DeserializeOwned + Debug>(api: &Api<K>) -> kube::Result<Vec<K>> {
    let mut items = Vec::new();
    let mut params = ListParams::default().limit(PAGE);
    loop {
        let page = api.list(&params).await?;
        items.extend(page.items);
        match page.metadata.continue_ {
            Some(token) if !token.is_empty() => params = ListParams::default().limit(PAGE).continue_token(&token),
            _ => return Ok(items),
        }
    }
}

/// Every object of `resource` in `namespace` (or cluster-wide), as JSON, sorted by name, with
/// its `apiVersion` and `kind` ([`tidy`]).
async fn list_dynamic(
    client: &kube::Client,
    resource: &ApiResource,
    namespace: Option<&str>,
) -> kube::Result<Vec<Value>> {
    let api: Api<DynamicObject> = match namespace {
        Some(ns) => Api::namespaced_with(client.clone(), ns, resource),
        None => Api::all_with(client.clone(), resource),
    };
    let mut objects = list_all(&api).await?;
    objects.sort_by(|a, b| (&a.metadata.namespace, &a.metadata.name).cmp(&(&b.metadata.namespace, &b.metadata.name)));
    Ok(objects.into_iter().map(|o| tidy(o, resource)).collect())
}

/// An object as `kubectl get -o json` lists it, without what says nothing of its state and
/// much of its size (`metadata.managedFields`), and without a config map's binary data,
/// which no rule can read: each `binaryData` value becomes a note of its size.
fn tidy(object: DynamicObject, resource: &ApiResource) -> Value {
    let DynamicObject { metadata, data, .. } = object;
    let mut map = match data {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    let mut metadata = serde_json::to_value(&metadata).expect("object metadata is JSON");
    if let Some(meta) = metadata.as_object_mut() {
        meta.remove("managedFields");
    }
    map.insert("metadata".into(), metadata);
    map.insert("apiVersion".into(), resource.api_version.clone().into());
    map.insert("kind".into(), resource.kind.clone().into());
    if let Some(binary) = map.get_mut("binaryData").and_then(Value::as_object_mut) {
        for value in binary.values_mut() {
            let len = value.as_str().map_or(0, str::len);
            *value = Value::String(format!("(not collected: {len} characters of base64)"));
        }
    }
    Value::Object(map)
}

/// The list document of `items`.
fn list_document(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "List", "items": items})
}

/// The names and types of `secrets`, sorted by name: nothing of their data, labels or
/// annotations (`kubectl.kubernetes.io/last-applied-configuration` would hold the data).
fn secret_names(mut secrets: Vec<Secret>) -> Value {
    secrets.sort_by(|a, b| a.metadata.name.cmp(&b.metadata.name));
    secrets.into_iter().map(|s| json!({"name": s.metadata.name, "type": s.type_})).collect()
}

/// The namespaces an install record's objects (`Kind namespace/name`, or `Kind name` for a
/// cluster-scoped one) are in or are.
fn namespaces_of(objects: &[String]) -> BTreeSet<String> {
    objects
        .iter()
        .filter_map(|object| {
            let (kind, rest) = object.split_once(' ')?;
            match rest.split_once('/') {
                Some((ns, _)) => Some(ns.to_owned()),
                None => (kind == "Namespace").then(|| rest.to_owned()),
            }
        })
        .filter(|ns| is_namespace_name(ns))
        .collect()
}

/// A DNS-1123 label, what a namespace is named: 1 to 63 lowercase letters, digits or `-`,
/// beginning and ending with a letter or digit.
fn is_namespace_name(name: &str) -> bool {
    let b = name.as_bytes();
    let alphanumeric = |c: &u8| c.is_ascii_lowercase() || c.is_ascii_digit();
    (1..=63).contains(&b.len())
        && b.iter().all(|c| alphanumeric(c) || *c == b'-')
        && b.first().is_some_and(alphanumeric)
        && b.last().is_some_and(alphanumeric)
}

/// A log's name is one plain file name.
fn check_log_name(name: &str) -> Result<()> {
    if name.is_empty() || name == "." || name == ".." || name.contains(['/', '\0']) {
        return Err(SupportError::LogName {
            name: name.to_owned(),
            reason: "give a plain file name (no `/`, not empty, not `.` or `..`)".into(),
        });
    }
    Ok(())
}

/// The pre-flight report at `path`, parsed.
fn read_preflight(path: &Path) -> Result<Value> {
    let reading = |source| SupportError::Read { path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(reading)?;
    let size = file.metadata().map_err(reading)?.len();
    if size > MAX_PREFLIGHT {
        return Err(SupportError::TooLarge { path: path.to_owned(), size, limit: MAX_PREFLIGHT });
    }
    let mut bytes = Vec::new();
    file.take(MAX_PREFLIGHT).read_to_end(&mut bytes).map_err(reading)?;
    serde_json::from_slice(&bytes).map_err(|source| SupportError::Preflight { path: path.to_owned(), source })
}

/// The log at `path` as text (bytes that are not UTF-8 replaced), and whether it was cut: of
/// a larger one, its last [`MAX_LOG`] bytes from the first whole line.
fn read_log(path: &Path) -> Result<(String, bool)> {
    let reading = |source| SupportError::Read { path: path.to_owned(), source };
    let mut file = std::fs::File::open(path).map_err(reading)?;
    let size = file.metadata().map_err(reading)?.len();
    let cut = size > MAX_LOG;
    if cut {
        file.seek(SeekFrom::Start(size - MAX_LOG)).map_err(reading)?;
    }
    let mut bytes = Vec::new();
    file.take(MAX_LOG).read_to_end(&mut bytes).map_err(reading)?;
    if cut {
        let start = bytes.iter().position(|&b| b == b'\n').map_or(bytes.len(), |i| i + 1);
        bytes.drain(..start);
    }
    Ok((String::from_utf8_lossy(&bytes).into_owned(), cut))
}

/// The archive's files as they are collected, each redacted as it arrives.
struct Collector<'a> {
    redactor: &'a Redactor,
    files: BTreeMap<String, Vec<u8>>,
    report: RedactionReport,
    warnings: Vec<String>,
}

impl<'a> Collector<'a> {
    fn new(redactor: &'a Redactor) -> Self {
        Collector { redactor, files: BTreeMap::new(), report: RedactionReport::default(), warnings: Vec::new() }
    }

    /// Keeps `value`, redacted, as pretty JSON with sorted keys.
    fn keep_json(&mut self, path: String, value: Value) {
        let value = self.redactor.redact_json(value, &mut self.report);
        self.files.insert(path, pretty(value));
    }

    /// Keeps `text`, redacted.
    fn keep_text(&mut self, path: String, text: &str) {
        let text = self.redactor.redact(text, &mut self.report);
        self.files.insert(path, text.into_bytes());
    }

    /// Notes, redacted, what could not be collected.
    fn warn(&mut self, message: String) {
        let message = self.redactor.redact(&message, &mut self.report);
        tracing::warn!(%message, "support bundle");
        self.warnings.push(message);
    }

    /// What the API server refused (403) or does not serve (404) is a warning; any other
    /// failure is the collection's.
    fn refused(&mut self, what: &str, e: kube::Error) -> Result<()> {
        match &e {
            kube::Error::Api(status) if status.code == 403 => {
                self.warn(format!("{what}: not collected, the API server refused: {}", status.message));
                Ok(())
            }
            kube::Error::Api(status) if status.code == 404 => {
                self.warn(format!("{what}: not collected, the API server does not serve it: {}", status.message));
                Ok(())
            }
            _ => Err(SupportError::Api { what: what.to_owned(), source: e }),
        }
    }

    /// The collection with its report and README.
    fn finish(mut self, namespaces: Vec<String>, options: &Options) -> Collected {
        let readme = readme(&self.files, &namespaces, &self.report, &self.warnings, self.redactor, options);
        self.files.insert("README.txt".into(), readme.into_bytes());
        let report = serde_json::to_value(&self.report).expect("JSON");
        self.files.insert("redaction-report.json".into(), pretty(report));
        Collected { files: self.files, report: self.report, namespaces, warnings: self.warnings }
    }
}

/// Pretty JSON with sorted keys and a final newline.
fn pretty(mut value: Value) -> Vec<u8> {
    value.sort_all_objects();
    let mut out = serde_json::to_vec_pretty(&value).expect("a JSON value is JSON");
    out.push(b'\n');
    out
}

/// The archive's `README.txt`: what it holds, what was redacted and how, what was not
/// collected. Made of the collection's redacted parts and fixed text only.
fn readme(
    files: &BTreeMap<String, Vec<u8>>,
    namespaces: &[String],
    report: &RedactionReport,
    warnings: &[String],
    redactor: &Redactor,
    options: &Options,
) -> String {
    let has = |path: &str| files.contains_key(path);
    let mut out = String::from(
        "Genesis support bundle\n\
         ======================\n\n\
         This archive was written on the customer's side, from what the cluster's API server\n\
         showed the credentials it was given (reading only) and from files the operator named.\n\
         Nothing was sent anywhere: whoever holds this file decides whether to attach it to a\n\
         support ticket, after looking at what it holds.\n\n\
         Contents\n\
         --------\n\
         README.txt                      this file\n\
         redaction-report.json           how many values each redaction rule replaced, never the values\n",
    );
    let mut line = |path: &str, what: &str| out.push_str(&format!("{path:<31} {what}\n"));
    if has("cluster/version.json") {
        line("cluster/version.json", "the API server's version");
    }
    if has("cluster/nodes.json") {
        line("cluster/nodes.json", "the nodes (metadata.managedFields removed)");
    }
    if has("install-records.json") {
        line("install-records.json", "what Genesis installed, as its install records say");
    }
    if has("preflight.json") {
        line("preflight.json", "the pre-flight results given");
    }
    for (name, _) in &options.extra_logs {
        line(&format!("logs/{name}"), "a log given");
    }
    if !namespaces.is_empty() {
        line(
            "namespaces/NS/KIND.json",
            "per namespace: config maps, daemon sets, deployments, events, pods, services, stateful sets",
        );
        line("namespaces/NS/secrets.json", "per namespace: the Secrets' names and types, nothing else");
        out.push_str(&format!("\nNamespaces: {}\n", namespaces.join(", ")));
    }
    out.push_str(
        "\nNever collected\n\
         ---------------\n\
         - the data of Secrets, their labels and annotations: only their names and types;\n\
         - the logs of pods: this version collects only the logs the operator named;\n\
         - the binary data of config maps: only its size.\n\
         \nRedaction\n\
         ---------\n\
         Every value was passed through these rules before it was kept, each match replaced by\n\
         [REDACTED:<rule>] (for a password or a key, only the secret part). Values replaced:\n",
    );
    for name in redactor.rule_names() {
        out.push_str(&format!("  {name:<24} {}\n", report.count(name)));
    }
    out.push_str(&format!("  {:<24} {}\n", "total", report.total()));
    out.push_str(
        "\nThe rules find values by their shape: e-mail addresses, telephone numbers, US social\n\
         security numbers, JSON Web Tokens and bearer tokens, private keys, cloud access keys,\n\
         passwords in connection strings and under keys named for a password. They cannot find\n\
         what has no shape: names of people, addresses, dates of birth, diagnoses or any other\n\
         health information written as free text in a config map, an annotation, an event or a\n\
         log. Look at the files before sharing this archive.\n",
    );
    out.push_str(if redactor.redacts_ip_addresses() {
        "IP addresses were redacted.\n"
    } else {
        "IP addresses were not redacted.\n"
    });
    if !warnings.is_empty() {
        out.push_str("\nNot collected\n-------------\n");
        for warning in warnings {
            out.push_str(&format!("- {warning}\n"));
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn install_records_name_the_namespaces_of_their_objects() {
        let objects: Vec<String> = [
            "Namespace demo",
            "Deployment demo/web",
            "Service other/web",
            "ClusterRole reader",
            "CustomResourceDefinition widgets.example.com",
            "ConfigMap Bad_Name/x",
            "garbage",
        ]
        .map(String::from)
        .into();
        assert_eq!(namespaces_of(&objects).into_iter().collect::<Vec<_>>(), ["demo", "other"]);
    }

    #[test]
    fn namespaces_and_log_names_are_checked() {
        for good in ["demo", "a", "genesis-system", "x1"] {
            assert!(is_namespace_name(good), "{good}");
        }
        let long = "a".repeat(64);
        for bad in ["", "Demo", "-demo", "demo-", "a/b", "a.b", long.as_str()] {
            assert!(!is_namespace_name(bad), "{bad}");
        }
        assert!(check_log_name("console.log").is_ok());
        for bad in ["", ".", "..", "a/b", "/etc/passwd", "a\0b"] {
            assert!(matches!(check_log_name(bad), Err(SupportError::LogName { .. })), "{bad:?}");
        }
    }

    #[test]
    fn an_object_is_kept_as_kubectl_lists_it_without_managed_fields_or_binary_data() {
        let object: DynamicObject = serde_json::from_value(json!({
            "metadata": {"name": "cfg", "namespace": "demo", "managedFields": [{"manager": "kubectl"}],
                         "annotations": {"note": "x"}},
            "data": {"a": "b"},
            "binaryData": {"blob": "AAAA"},
        }))
        .unwrap();
        let value = tidy(object, &ApiResource::erase::<ConfigMap>(&()));
        assert_eq!(
            value,
            json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "cfg", "namespace": "demo", "annotations": {"note": "x"}},
                "data": {"a": "b"},
                "binaryData": {"blob": "(not collected: 4 characters of base64)"},
            })
        );
        let deployment = tidy(
            serde_json::from_value(json!({"metadata": {"name": "web"}})).unwrap(),
            &ApiResource::erase::<Deployment>(&()),
        );
        assert_eq!(
            (deployment["apiVersion"].as_str(), deployment["kind"].as_str()),
            (Some("apps/v1"), Some("Deployment"))
        );
    }

    #[test]
    fn secrets_are_kept_by_name_and_type_only() {
        let applied = r#"{"data":{"password":"aHVudGVyMg=="}}"#;
        let secret = |name: &str| -> Secret {
            serde_json::from_value(json!({
                "metadata": {"name": name, "labels": {"app": "db"},
                             "annotations": {"kubectl.kubernetes.io/last-applied-configuration": applied}},
                "type": "Opaque",
                "data": {"password": "aHVudGVyMg=="},
            }))
            .unwrap()
        };
        let value = secret_names(vec![secret("z-db"), secret("a-tls")]);
        assert_eq!(value, json!([{"name": "a-tls", "type": "Opaque"}, {"name": "z-db", "type": "Opaque"}]));
    }

    #[test]
    fn json_is_written_pretty_with_sorted_keys() {
        let bytes = pretty(json!({"b": 1, "a": {"d": 2, "c": 3}}));
        assert_eq!(
            String::from_utf8(bytes).unwrap(),
            "{\n  \"a\": {\n    \"c\": 3,\n    \"d\": 2\n  },\n  \"b\": 1\n}\n"
        );
    }

    #[test]
    fn local_files_are_redacted_and_a_long_log_keeps_its_end() {
        let dir = tempfile::tempdir().unwrap();
        let preflight = dir.path().join("preflight.json");
        std::fs::write(
            &preflight,
            r#"{"checks": [{"name": "postgres", "detail": "postgres://app:s3cr3t@db:5432/app"}]}"#,
        )
        .unwrap();
        let redactor = Redactor::builtin(false);
        let mut c = Collector::new(&redactor);
        c.keep_json("preflight.json".into(), read_preflight(&preflight).unwrap());
        let kept = String::from_utf8(c.files["preflight.json"].clone()).unwrap();
        assert!(kept.contains("postgres://app:[REDACTED:connection-password]@db:5432/app") && !kept.contains("s3cr3t"));

        std::fs::write(&preflight, "PASS postgres").unwrap();
        assert!(matches!(read_preflight(&preflight), Err(SupportError::Preflight { .. })));
        let missing = read_preflight(&dir.path().join("nothing.json")).unwrap_err();
        assert!(matches!(&missing, SupportError::Read { .. }), "{missing}");

        let log = dir.path().join("console.log");
        let line = "jane@example.com signed in\n";
        let lines = (MAX_LOG as usize / line.len()) + 10;
        std::fs::write(&log, format!("first line\n{}", line.repeat(lines))).unwrap();
        let (text, cut) = read_log(&log).unwrap();
        assert!(cut && text.len() as u64 <= MAX_LOG && text.starts_with("jane@") && text.ends_with("signed in\n"));
        std::fs::write(&log, "short\n").unwrap();
        assert_eq!(read_log(&log).unwrap(), ("short\n".to_owned(), false));
    }

    #[test]
    fn the_readme_says_what_is_in_the_archive_and_what_redaction_cannot_do() {
        let redactor = Redactor::builtin(false);
        let options = Options {
            namespaces: vec!["demo".into()],
            redactor: redactor.clone(),
            preflight: None,
            extra_logs: vec![("console.log".into(), PathBuf::from("/var/log/console.log"))],
        };
        let mut c = Collector::new(&redactor);
        c.keep_text("logs/console.log".into(), "mail jane@example.com");
        c.keep_json("cluster/version.json".into(), json!({"gitVersion": "v1.33.0"}));
        c.warn(
            "namespace demo: secrets: not collected, the API server refused: User \"jane@example.com\" cannot list"
                .into(),
        );
        let collected = c.finish(vec!["demo".into()], &options);
        let readme = String::from_utf8(collected.files["README.txt"].clone()).unwrap();
        for said in [
            "Nothing was sent anywhere",
            "cluster/version.json",
            "logs/console.log",
            "Namespaces: demo",
            "  email                    2\n",
            "  total                    2\n",
            "free text",
            "IP addresses were not redacted.",
            "User \"[REDACTED:email]\" cannot list",
        ] {
            assert!(readme.contains(said), "{said:?} not in:\n{readme}");
        }
        assert!(!readme.contains("jane@example.com") && !readme.contains("cluster/nodes.json"), "{readme}");
        assert_eq!(collected.report.count("email"), 2);
        assert_eq!(collected.warnings.len(), 1);
        let report: Value = serde_json::from_slice(&collected.files["redaction-report.json"]).unwrap();
        assert_eq!((report["total"].as_u64(), report["rules"]["email"].as_u64()), (Some(2), Some(2)));
    }
}
