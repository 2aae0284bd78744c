//! What a support bundle holds, read from the cluster through its API server with the
//! caller's credentials (read-only: `get` and `list`, nothing else) and from files (or bytes)
//! the caller gives, every byte through the [`Redactor`] before it is kept. What the
//! credentials may not read is a warning, and the collection goes on; what the person the
//! archive is made for may not read (the console's signed-in user) is withheld: not read at
//! all, and named in the archive.

use std::collections::{BTreeMap, BTreeSet};
use std::fmt::Debug;
use std::io::{Read as _, Seek as _, SeekFrom};
use std::path::PathBuf;

use genesis_kube::{Cluster, KubeError};
use k8s_openapi::api::apps::v1::{DaemonSet, Deployment, StatefulSet};
use k8s_openapi::api::core::v1::{ConfigMap, Event, Namespace, Node, Pod, Secret, Service};
use kube::Resource as _;
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

/// The media type of a table, as `kubectl get` asks for one: the API server prints each
/// object's columns.
const TABLE: &str = "application/json;as=Table;v=v1;g=meta.k8s.io";

/// What to collect.
#[derive(Debug, Clone)]
pub struct Options {
    /// Namespaces to collect.
    pub namespaces: Vec<String>,
    /// Whether to collect, besides `namespaces`, every namespace the install records name:
    /// `genesis support-bundle` does; the console collects the namespaces its user chose.
    pub recorded_namespaces: bool,
    /// What every collected byte goes through.
    pub redactor: Redactor,
    /// A pre-flight run's JSON report, kept as `preflight.json`.
    pub preflight: Option<Input>,
    /// Logs kept as `logs/<name>` (the console's own log, …): a plain file name, and the log.
    pub extra_logs: Vec<(String, Input)>,
    /// Lists not to read: those the person the archive is made for may not read, which the
    /// console finds by a SubjectAccessReview for each of [`Options::listings`] (the
    /// console's own credentials read the cluster, and must lend no one what they may not
    /// see). Each is left out, and named in `README.txt` and [`Collected::withheld`].
    pub withheld: BTreeSet<Listing>,
}

/// Something to include that is not read from the cluster.
#[derive(Debug, Clone)]
pub enum Input {
    /// A file, read when collecting.
    File(PathBuf),
    /// Bytes the caller holds (the console keeps its own log and its last pre-flight run in
    /// memory): redacted like a file's content, and written nowhere before.
    Held(Vec<u8>),
}

impl Input {
    /// What messages call it: the file's path, or `bytes given in memory`.
    pub fn describe(&self) -> String {
        match self {
            Input::File(path) => path.display().to_string(),
            Input::Held(_) => "bytes given in memory".to_owned(),
        }
    }
}

/// One list [`collect()`] reads from the cluster: a resource in a namespace, or of the whole
/// cluster. What a caller authorises for someone before the collection, and withholds
/// ([`Options::withheld`]) when they may not `list` it.
#[derive(Debug, Clone, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct Listing {
    /// The API group: empty for the core group, `apps`.
    pub group: String,
    /// The resource, plural, as RBAC names it (`pods`).
    pub resource: String,
    /// The namespace; `None` for a list of the whole cluster (the nodes).
    pub namespace: Option<String>,
}

impl Listing {
    fn of(resource: &ApiResource, namespace: Option<&str>) -> Listing {
        Listing {
            group: resource.group.clone(),
            resource: resource.plural.clone(),
            namespace: namespace.map(str::to_owned),
        }
    }

    /// The nodes.
    fn nodes() -> Listing {
        Listing::of(&ApiResource::erase::<Node>(&()), None)
    }

    /// The install records: the config maps of [`genesis_kube::INSTALL_NAMESPACE`].
    fn install_records() -> Listing {
        Listing::of(&ApiResource::erase::<ConfigMap>(&()), Some(genesis_kube::INSTALL_NAMESPACE))
    }

    /// The Secrets of `namespace`, read by name and type only.
    fn secrets(namespace: &str) -> Listing {
        Listing::of(&ApiResource::erase::<Secret>(&()), Some(namespace))
    }
}

impl Options {
    /// Every list [`collect()`] reads for these options: the nodes, the install records (the
    /// config maps of `genesis-system`) and, in each of `namespaces`, every kind collected
    /// and the Secrets. Not those of the namespaces the install records name, which are known
    /// only once the records are read: a caller that withholds lists names its namespaces
    /// itself, with `recorded_namespaces` off. (The API server's `/version`, which every
    /// client may read, is no list.)
    pub fn listings(&self) -> Vec<Listing> {
        let mut listings = vec![Listing::nodes(), Listing::install_records()];
        let namespaces: BTreeSet<&String> = self.namespaces.iter().collect();
        for ns in namespaces {
            listings.extend(namespaced_kinds().iter().map(|(_, resource)| Listing::of(resource, Some(ns.as_str()))));
            listings.push(Listing::secrets(ns));
        }
        listings
    }
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
    /// The lists [`Options::withheld`] left out, as `nodes`, `install records` or
    /// `namespace NS: RESOURCE`; also in `README.txt`.
    pub withheld: Vec<String>,
}

/// What is collected, every byte through the redactor BEFORE it is kept in memory for the
/// archive:
/// - `cluster/version.json` (the API server's `/version`), `cluster/nodes.json` (the Node
///   objects, `metadata.managedFields` removed);
/// - namespaces: those given, plus every namespace the install records name when
///   `recorded_namespaces`; per namespace
///   `namespaces/<ns>/{configmaps,daemonsets,deployments,events,pods,services,statefulsets}.json`
///   (`{"apiVersion": "v1", "kind": "List", "items": […]}` as `kubectl get -o json` prints
///   it, objects sorted by name, without what is never kept (managed fields, the
///   last-applied annotation, binary data, a Helm release's data, termination messages))
///   and `secrets.json` = the Secret names and types only (`[{"name", "type"}]`, read as a
///   table: their data, labels and annotations never leave the API server);
/// - `install-records.json` (the records as `genesis_kube::read_records` reads them);
///   `preflight.json` when given; `logs/<name>` for `extra_logs`;
/// - but none of the lists `withheld` names, which are not read (and a namespace all of whose
///   lists are is not looked at at all);
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
    if let Some(input) = &options.preflight {
        let value = read_preflight(input)?;
        c.keep_json("preflight.json".into(), value);
    }
    let mut log_names = BTreeSet::new();
    for (name, input) in &options.extra_logs {
        check_log_name(name)?;
        if !log_names.insert(name.as_str()) {
            return Err(SupportError::LogName { name: name.clone(), reason: "two logs have this name".into() });
        }
        let (text, cut) = read_log(input)?;
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
    let withheld = |listing: &Listing| options.withheld.contains(listing);
    if withheld(&Listing::nodes()) {
        c.withhold("nodes".into());
    } else {
        match list_dynamic(client, &ApiResource::erase::<Node>(&()), None).await {
            Ok(nodes) => c.keep_json("cluster/nodes.json".into(), list_document(nodes)),
            Err(e) => c.refused("nodes", e)?,
        }
    }

    if withheld(&Listing::install_records()) {
        c.withhold("install records".into());
    } else {
        match genesis_kube::read_records(cluster).await {
            Ok(records) => {
                if options.recorded_namespaces {
                    namespaces.extend(installed_namespaces(&records));
                }
                c.keep_json("install-records.json".into(), serde_json::to_value(&records).expect("JSON"));
            }
            Err(KubeError::Api { source: kube::Error::Api(status), .. }) if status.code == 403 => {
                c.warn_about("install records", "the API server refused", &status.message);
            }
            Err(e @ KubeError::UnreadableRecord { .. }) => c.warn(format!("install records: not collected: {e}")),
            Err(e) => return Err(e.into()),
        }
    }

    let mut shown = BTreeSet::new();
    for ns in &namespaces {
        let kinds = namespaced_kinds();
        let readable = |listing: Listing| !withheld(&listing);
        let any_readable = kinds.iter().any(|(_, resource)| readable(Listing::of(resource, Some(ns.as_str()))))
            || readable(Listing::secrets(ns));
        if !any_readable {
            // Nothing there may be read: not even whether the namespace exists is asked.
            for file in kinds.iter().map(|(file, _)| *file).chain(["secrets"]) {
                c.withhold(format!("namespace {ns}: {file}"));
            }
            continue;
        }
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
        for (file, resource) in kinds {
            if withheld(&Listing::of(&resource, Some(ns.as_str()))) {
                c.withhold(format!("namespace {ns}: {file}"));
                continue;
            }
            match list_dynamic(client, &resource, Some(ns)).await {
                Ok(items) => c.keep_json(format!("namespaces/{dir}/{file}.json"), list_document(items)),
                Err(e) => c.refused(&format!("namespace {ns}: {file}"), e)?,
            }
        }
        if withheld(&Listing::secrets(ns)) {
            c.withhold(format!("namespace {ns}: secrets"));
            continue;
        }
        match secret_names(client, ns).await {
            Ok(secrets) => c.keep_json(format!("namespaces/{dir}/secrets.json"), secrets),
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

/// An object as `kubectl get -o json` lists it, without what [`crate::tidy`] leaves out:
/// `metadata.managedFields` (nothing of its state, much of its size), the
/// `kubectl.kubernetes.io/last-applied-configuration` annotation, a config map's binary
/// data, a Helm release's data and a pod's termination messages, each replaced by a note.
fn tidy(object: DynamicObject, resource: &ApiResource) -> Value {
    let DynamicObject { metadata, data, .. } = object;
    let mut map = match data {
        Value::Object(map) => map,
        _ => serde_json::Map::new(),
    };
    let metadata = serde_json::to_value(&metadata).expect("object metadata is JSON");
    map.insert("metadata".into(), metadata);
    map.insert("apiVersion".into(), resource.api_version.clone().into());
    map.insert("kind".into(), resource.kind.clone().into());
    crate::tidy::tidy_object(&mut map);
    Value::Object(map)
}

/// The list document of `items`.
fn list_document(items: Vec<Value>) -> Value {
    json!({"apiVersion": "v1", "kind": "List", "items": items})
}

/// The names and types of the Secrets in `namespace`, sorted by name, read as `kubectl get
/// secrets` reads them: as a table (`Accept: …;as=Table`) without the objects
/// (`includeObject=None`), whose rows hold each Secret's name, type, number of keys and age.
/// Their data, labels and annotations (`kubectl.kubernetes.io/last-applied-configuration`
/// holds the data too) never leave the API server: a list, even of metadata only, would
/// bring the annotations.
async fn secret_names(client: &kube::Client, namespace: &str) -> kube::Result<Value> {
    let url = Secret::url_path(&(), Some(namespace));
    let mut secrets = Vec::new();
    let mut params = ListParams::default().limit(PAGE);
    loop {
        let mut request = kube::core::Request::new(url.clone()).list(&params).map_err(kube::Error::BuildRequest)?;
        request.headers_mut().insert("accept", TABLE.parse().expect("the table media type is a header value"));
        let uri = format!("{}&includeObject=None", request.uri());
        *request.uri_mut() = uri.parse().expect("a list request's URI with one more parameter is a URI");
        let table: Table = client.request(request).await?;
        secrets.extend(table.names_and_types());
        match table.metadata.and_then(|m| m.continue_) {
            Some(token) if !token.is_empty() => params = ListParams::default().limit(PAGE).continue_token(&token),
            _ => break,
        }
    }
    secrets.sort_by(|a, b| a.0.cmp(&b.0));
    Ok(secrets.into_iter().map(|(name, type_)| json!({"name": name, "type": type_})).collect())
}

/// A table as the API server prints a list (`meta.k8s.io/v1` `Table`): what is read of it.
#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct Table {
    #[serde(default)]
    column_definitions: Option<Vec<TableColumn>>,
    #[serde(default)]
    rows: Option<Vec<TableRow>>,
    #[serde(default)]
    metadata: Option<TableMeta>,
}

#[derive(Debug, serde::Deserialize)]
struct TableColumn {
    name: String,
}

#[derive(Debug, serde::Deserialize)]
struct TableRow {
    #[serde(default)]
    cells: Vec<Value>,
}

#[derive(Debug, serde::Deserialize)]
struct TableMeta {
    #[serde(default, rename = "continue")]
    continue_: Option<String>,
}

impl Table {
    /// The `Name` and `Type` cells of each row (the type `null` when there is no such
    /// column); a row without a name is skipped.
    fn names_and_types(&self) -> Vec<(String, Value)> {
        let columns = self.column_definitions.as_deref().unwrap_or_default();
        let column = |name: &str| columns.iter().position(|c| c.name == name);
        let (Some(name), type_) = (column("Name"), column("Type")) else { return Vec::new() };
        let rows = self.rows.as_deref().unwrap_or_default();
        rows.iter()
            .filter_map(|row| {
                let secret = row.cells.get(name)?.as_str()?.to_owned();
                let type_ = type_.and_then(|i| row.cells.get(i)).filter(|t| t.is_string()).cloned();
                Some((secret, type_.unwrap_or(Value::Null)))
            })
            .collect()
    }
}

/// The namespaces the objects of install records are in or are: those of the installed
/// bundles, which `genesis support-bundle` collects and the console offers.
pub fn installed_namespaces(records: &[genesis_kube::InstallRecord]) -> BTreeSet<String> {
    records.iter().flat_map(|record| namespaces_of(&record.objects)).collect()
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
/// beginning and ending with a letter or digit. [`collect()`] refuses any other name in
/// [`Options::namespaces`]; a caller checks a form with it first.
pub fn is_namespace_name(name: &str) -> bool {
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

/// The pre-flight report `input` holds, parsed.
fn read_preflight(input: &Input) -> Result<Value> {
    let too_large = |size| SupportError::TooLarge { input: input.describe(), size, limit: MAX_PREFLIGHT };
    let read;
    let bytes = match input {
        Input::File(path) => {
            let reading = |source| SupportError::Read { path: path.to_owned(), source };
            let file = std::fs::File::open(path).map_err(reading)?;
            let size = file.metadata().map_err(reading)?.len();
            if size > MAX_PREFLIGHT {
                return Err(too_large(size));
            }
            let mut bytes = Vec::new();
            file.take(MAX_PREFLIGHT).read_to_end(&mut bytes).map_err(reading)?;
            read = bytes;
            &read
        }
        Input::Held(bytes) if bytes.len() as u64 > MAX_PREFLIGHT => return Err(too_large(bytes.len() as u64)),
        Input::Held(bytes) => bytes,
    };
    serde_json::from_slice(bytes).map_err(|source| SupportError::Preflight { input: input.describe(), source })
}

/// The log `input` holds as text (bytes that are not UTF-8 replaced), and whether it was
/// cut: of a larger one, its last [`MAX_LOG`] bytes from the first whole line.
fn read_log(input: &Input) -> Result<(String, bool)> {
    let (mut bytes, cut) = match input {
        Input::File(path) => {
            let reading = |source| SupportError::Read { path: path.to_owned(), source };
            let mut file = std::fs::File::open(path).map_err(reading)?;
            let size = file.metadata().map_err(reading)?.len();
            let cut = size > MAX_LOG;
            if cut {
                file.seek(SeekFrom::Start(size - MAX_LOG)).map_err(reading)?;
            }
            let mut bytes = Vec::new();
            file.take(MAX_LOG).read_to_end(&mut bytes).map_err(reading)?;
            (bytes, cut)
        }
        Input::Held(held) => {
            let start = held.len().saturating_sub(MAX_LOG as usize);
            (held[start..].to_vec(), start > 0)
        }
    };
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
    withheld: Vec<String>,
}

impl<'a> Collector<'a> {
    fn new(redactor: &'a Redactor) -> Self {
        Collector {
            redactor,
            files: BTreeMap::new(),
            report: RedactionReport::default(),
            warnings: Vec::new(),
            withheld: Vec::new(),
        }
    }

    /// Notes that `what` (our own words: `nodes`, a namespace given and a resource) was
    /// withheld, not read.
    fn withhold(&mut self, what: String) {
        tracing::info!(%what, "support bundle: withheld");
        self.withheld.push(what);
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
        self.noted(message);
    }

    /// Notes that `what` (our own words: a kind, a namespace the API accepted) could not be
    /// collected, and why: only the API server's `reason` is redacted, as it may name a user;
    /// redacting our own words would read `secrets: not collected` as a secret given.
    fn warn_about(&mut self, what: &str, how: &str, reason: &str) {
        let reason = self.redactor.redact(reason, &mut self.report);
        self.noted(format!("{what}: not collected, {how}: {reason}"));
    }

    fn noted(&mut self, message: String) {
        tracing::warn!(%message, "support bundle");
        self.warnings.push(message);
    }

    /// What the API server refused (403) or does not serve (404) is a warning; any other
    /// failure is the collection's.
    fn refused(&mut self, what: &str, e: kube::Error) -> Result<()> {
        match &e {
            kube::Error::Api(status) if status.code == 403 => {
                self.warn_about(what, "the API server refused", &status.message);
                Ok(())
            }
            kube::Error::Api(status) if status.code == 404 => {
                self.warn_about(what, "the API server does not serve it", &status.message);
                Ok(())
            }
            _ => Err(SupportError::Api { what: what.to_owned(), source: e }),
        }
    }

    /// The collection with its report and README.
    fn finish(mut self, namespaces: Vec<String>, options: &Options) -> Collected {
        let readme = readme(&self, &namespaces, options);
        self.files.insert("README.txt".into(), readme.into_bytes());
        let report = serde_json::to_value(&self.report).expect("JSON");
        self.files.insert("redaction-report.json".into(), pretty(report));
        Collected {
            files: self.files,
            report: self.report,
            namespaces,
            warnings: self.warnings,
            withheld: self.withheld,
        }
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
/// collected or withheld. Made of the collection's redacted parts and fixed text only.
fn readme(collected: &Collector<'_>, namespaces: &[String], options: &Options) -> String {
    let Collector { files, report, warnings, withheld, redactor } = collected;
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
         - the data of Secrets, their labels and annotations: only their names and types, read\n\
         \x20 as a table, so that the data never left the API server;\n\
         - the logs of pods, and the termination messages in pods' status (which may be the end\n\
         \x20 of a container's log): this version collects only the logs the operator named;\n\
         - the kubectl.kubernetes.io/last-applied-configuration annotation (the whole object as\n\
         \x20 kubectl apply last sent it, a Secret's data included): a note of its size instead;\n\
         - the binary data of config maps, and the data of the config maps Helm keeps a release\n\
         \x20 in (owner=helm: the chart's values and rendered manifests, Secrets included): only\n\
         \x20 their size;\n\
         - managedFields;\n\
         - the same, and a Secret's data, in JSON text found inside a value.\n\
         \nRedaction\n\
         ---------\n\
         Every value was passed through these rules before it was kept, each match replaced by\n\
         [REDACTED:<rule>] (for a password in a URL or a key in a connection string, only the\n\
         secret part). A value given under a key that names a secret (password, pass, pwd,\n\
         passphrase, secret, token, api key, access key, private key, credential, auth, sas,\n\
         sig: DB_PASSWORD, apiKey, an env entry named AWS_SECRET_ACCESS_KEY, --db-password) was\n\
         replaced whole, as a credential. JSON text inside a value (an annotation holding an\n\
         object) was read and redacted as JSON, and written back compact. Values replaced:\n",
    );
    for name in redactor.rule_names() {
        out.push_str(&format!("  {name:<24} {}\n", report.count(name)));
    }
    out.push_str(&format!("  {:<24} {}\n", "total", report.total()));
    out.push_str(
        "\nThe rules find values by their shape: e-mail addresses, telephone numbers, US social\n\
         security numbers, JSON Web Tokens and bearer tokens, private keys, cloud access keys,\n\
         passwords and tokens in URLs, tokens known by their prefix; and secrets by the key they\n\
         are given under. They cannot find what has neither: names of people, addresses, dates\n\
         of birth, diagnoses or any other health information written as free text in a config\n\
         map, an annotation, an event or a log; a\n\
         secret under a key that does not say it is one; a secret encoded (base64, gzip) other\n\
         than as a PEM private key. Event messages are kept, redacted by these rules only: a\n\
         failed exec probe's message holds the probe's output. Look at the files before sharing\n\
         this archive.\n",
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
    if !withheld.is_empty() {
        out.push_str(
            "\nWithheld\n--------\n\
             Not read: the person this archive was made for may not read these (the Control Plane\n\
             console reads for its user only what that user's own account may read):\n",
        );
        for what in withheld {
            out.push_str(&format!("- {what}\n"));
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
    fn an_object_is_kept_as_kubectl_lists_it_without_what_is_never_collected() {
        let applied = r#"{"data":{"password":"hunter2"}}"#;
        let object: DynamicObject = serde_json::from_value(json!({
            "metadata": {"name": "cfg", "namespace": "demo", "managedFields": [{"manager": "kubectl"}],
                         "annotations": {"note": "x", "kubectl.kubernetes.io/last-applied-configuration": applied}},
            "data": {"a": "b"},
            "binaryData": {"blob": "AAAA"},
        }))
        .unwrap();
        let value = tidy(object, &ApiResource::erase::<ConfigMap>(&()));
        assert_eq!(
            value,
            json!({
                "apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "cfg", "namespace": "demo", "annotations": {
                    "note": "x",
                    "kubectl.kubernetes.io/last-applied-configuration":
                        "(not collected: the object as `kubectl apply` last sent it, 31 characters)",
                }},
                "data": {"a": "b"},
                "binaryData": {"blob": "(not collected: 4 characters of base64)"},
            })
        );
        // The kind is known before the object is tidied: a pod loses its termination messages.
        let pod = tidy(
            serde_json::from_value(json!({
                "metadata": {"name": "api"},
                "status": {"containerStatuses": [{"name": "api", "lastState": {"terminated": {"message": "hunter2"}}}]},
            }))
            .unwrap(),
            &ApiResource::erase::<Pod>(&()),
        );
        assert!(!pod.to_string().contains("hunter2"), "{pod}");
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
    fn secrets_are_read_as_a_table_of_names_and_types() {
        // What kube-apiserver answers `GET …/secrets?includeObject=None` with
        // `Accept: application/json;as=Table;v=v1;g=meta.k8s.io`.
        let table: Table = serde_json::from_value(json!({
            "kind": "Table", "apiVersion": "meta.k8s.io/v1",
            "metadata": {"resourceVersion": "42", "continue": "next-page"},
            "columnDefinitions": [
                {"name": "Name", "type": "string", "format": "name", "description": "", "priority": 0},
                {"name": "Type", "type": "string", "format": "", "description": "", "priority": 0},
                {"name": "Data", "type": "string", "format": "", "description": "", "priority": 0},
                {"name": "Age", "type": "string", "format": "", "description": "", "priority": 0},
            ],
            "rows": [
                {"cells": ["z-db", "Opaque", 1, "5m"], "object": null},
                {"cells": ["a-tls", "kubernetes.io/tls", 2, "1d"]},
                {"cells": [7, "Opaque", 0, "1d"]},
            ],
        }))
        .unwrap();
        assert_eq!(
            table.names_and_types(),
            [("z-db".to_owned(), json!("Opaque")), ("a-tls".to_owned(), json!("kubernetes.io/tls"))]
        );
        assert_eq!(table.metadata.and_then(|m| m.continue_).as_deref(), Some("next-page"));
        // An empty table, and one without a Type column.
        let empty: Table =
            serde_json::from_value(json!({"kind": "Table", "columnDefinitions": null, "rows": null})).unwrap();
        assert!(empty.names_and_types().is_empty() && empty.metadata.is_none());
        let untyped: Table =
            serde_json::from_value(json!({"columnDefinitions": [{"name": "Name"}], "rows": [{"cells": ["db"]}]}))
                .unwrap();
        assert_eq!(untyped.names_and_types(), [("db".to_owned(), Value::Null)]);
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
        c.keep_json("preflight.json".into(), read_preflight(&Input::File(preflight.clone())).unwrap());
        let kept = String::from_utf8(c.files["preflight.json"].clone()).unwrap();
        assert!(kept.contains("postgres://app:[REDACTED:connection-password]@db:5432/app") && !kept.contains("s3cr3t"));

        std::fs::write(&preflight, "PASS postgres").unwrap();
        assert!(matches!(read_preflight(&Input::File(preflight.clone())), Err(SupportError::Preflight { .. })));
        let missing = read_preflight(&Input::File(dir.path().join("nothing.json"))).unwrap_err();
        assert!(matches!(&missing, SupportError::Read { .. }), "{missing}");

        let log = dir.path().join("console.log");
        let line = "jane@example.com signed in\n";
        let lines = (MAX_LOG as usize / line.len()) + 10;
        std::fs::write(&log, format!("first line\n{}", line.repeat(lines))).unwrap();
        let (text, cut) = read_log(&Input::File(log.clone())).unwrap();
        assert!(cut && text.len() as u64 <= MAX_LOG && text.starts_with("jane@") && text.ends_with("signed in\n"));
        std::fs::write(&log, "short\n").unwrap();
        assert_eq!(read_log(&Input::File(log)).unwrap(), ("short\n".to_owned(), false));
    }

    #[test]
    fn the_readme_says_what_is_in_the_archive_and_what_redaction_cannot_do() {
        let redactor = Redactor::builtin(false);
        let options = Options {
            namespaces: vec!["demo".into()],
            recorded_namespaces: true,
            redactor: redactor.clone(),
            preflight: None,
            extra_logs: vec![("console.log".into(), Input::File(PathBuf::from("/var/log/console.log")))],
            withheld: BTreeSet::new(),
        };
        let mut c = Collector::new(&redactor);
        c.keep_text("logs/console.log".into(), "mail jane@example.com");
        c.keep_json("cluster/version.json".into(), json!({"gitVersion": "v1.33.0"}));
        c.warn_about("namespace demo: secrets", "the API server refused", "User \"jane@example.com\" cannot list");
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
            "kubectl.kubernetes.io/last-applied-configuration annotation",
            "termination messages",
            "owner=helm",
            "replaced whole, as a credential",
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
        assert!(collected.withheld.is_empty() && !readme.contains("Withheld"), "{readme}");
    }

    /// What the console holds in memory (its log, its last pre-flight run) is read as a file
    /// would be: the pre-flight results must be JSON, a long log keeps its last whole lines.
    #[test]
    fn bytes_held_in_memory_are_read_as_files_are() {
        let report = br#"{"checks": [{"name": "redis", "status": "FAIL"}]}"#.to_vec();
        assert_eq!(read_preflight(&Input::Held(report)).unwrap()["checks"][0]["status"], "FAIL");
        let e = read_preflight(&Input::Held(b"FAIL redis".to_vec())).unwrap_err();
        assert!(e.to_string().starts_with("bytes given in memory: not a JSON pre-flight report: "), "{e}");
        let huge = vec![b' '; MAX_PREFLIGHT as usize + 1];
        assert!(matches!(read_preflight(&Input::Held(huge)), Err(SupportError::TooLarge { .. })));

        let line = "GET /status 200\n";
        let log = format!("first line\n{}", line.repeat(MAX_LOG as usize / line.len() + 10));
        let (text, cut) = read_log(&Input::Held(log.into_bytes())).unwrap();
        assert!(cut && text.len() as u64 <= MAX_LOG && text.starts_with("GET") && text.ends_with("200\n"));
        assert_eq!(read_log(&Input::Held(b"short\n".to_vec())).unwrap(), ("short\n".to_owned(), false));
    }

    /// The lists a caller authorises for someone are exactly those `collect` reads: the
    /// nodes, the install records, and eight per namespace given (each once).
    #[test]
    fn the_listings_are_every_list_collect_reads() {
        let options = Options {
            namespaces: vec!["emr".into(), "demo".into(), "emr".into()],
            recorded_namespaces: false,
            redactor: Redactor::builtin(false),
            preflight: None,
            extra_logs: Vec::new(),
            withheld: BTreeSet::new(),
        };
        let listing = |group: &str, resource: &str, namespace: Option<&str>| Listing {
            group: group.into(),
            resource: resource.into(),
            namespace: namespace.map(str::to_owned),
        };
        let listings = options.listings();
        assert_eq!(listings.len(), 2 + 2 * 8);
        assert_eq!(listings[..2], [listing("", "nodes", None), listing("", "configmaps", Some("genesis-system"))]);
        let demo: Vec<Listing> = listings.iter().filter(|l| l.namespace.as_deref() == Some("demo")).cloned().collect();
        assert_eq!(
            demo,
            [
                listing("", "configmaps", Some("demo")),
                listing("apps", "daemonsets", Some("demo")),
                listing("apps", "deployments", Some("demo")),
                listing("", "events", Some("demo")),
                listing("", "pods", Some("demo")),
                listing("", "services", Some("demo")),
                listing("apps", "statefulsets", Some("demo")),
                listing("", "secrets", Some("demo")),
            ]
        );
        assert_eq!(listings.iter().filter(|l| l.namespace.as_deref() == Some("emr")).count(), 8);
    }

    #[test]
    fn what_was_withheld_is_named_in_the_readme() {
        let redactor = Redactor::builtin(false);
        let options = Options {
            namespaces: vec!["emr".into()],
            recorded_namespaces: false,
            redactor: redactor.clone(),
            preflight: None,
            extra_logs: Vec::new(),
            withheld: BTreeSet::new(),
        };
        let mut c = Collector::new(&redactor);
        c.withhold("nodes".into());
        c.withhold("namespace emr: pods".into());
        let collected = c.finish(vec!["emr".into()], &options);
        assert_eq!(collected.withheld, ["nodes", "namespace emr: pods"]);
        let readme = String::from_utf8(collected.files["README.txt"].clone()).unwrap();
        assert!(readme.contains("\nWithheld\n--------\nNot read: the person this archive was made for"), "{readme}");
        assert!(readme.ends_with("- nodes\n- namespace emr: pods\n"), "{readme}");
        assert_eq!(collected.report.total(), 0, "our own words are not redacted");
    }
}
