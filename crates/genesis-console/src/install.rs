//! Installing a verified bundle from the Bundles tab: what `bundle-loader load --apply
//! --wait` does, through the same library call ([`genesis_kube::install`], no shell-out):
//! anti-rollback against the cluster's install record, the images into the cluster-local
//! registry (`--registry`), the manifests applied with the console's service account, the
//! install recorded, the workloads waited for. A bundle of the landing bucket is installed
//! where it lies, its archive read by ranged GETs as the verification read it: nothing is
//! copied into the bundles directory first.
//!
//! The console acts with its own rights, so it lends them to nobody: before anything starts,
//! the signed-in user must be allowed `create installs.console.genesis.dev` and, for every
//! object the bundle's manifests apply, `create` and `patch` of its resource in its namespace
//! (one SubjectAccessReview each); the first right missing is named on a 403 page, and
//! nothing is pushed or applied. A bundle with an object in the console's own namespace or in
//! [`INSTALL_NAMESPACE`] is refused whoever installs it, naming the object
//! ([`refuse_protected`]). A downgrade (anti-rollback would refuse) needs the form's explicit
//! confirmation. Two installs never run at once: a second is answered 409, naming who installs
//! what since when.
//!
//! An install runs in the background; its progress goes into an event log the install's
//! page shows (`GET /installs/{id}`, refreshed every 2 s without JavaScript) and streams as
//! server-sent events (`GET /installs/{id}/events`: `progress`, `phase`, `object`, `done`,
//! `failed`), replayed from the start, or from after `Last-Event-ID`, so a reconnect loses
//! nothing. Installs are kept in memory (the last [`KEPT`]); what was installed is in the
//! cluster's install records, which the Status tab reads.

use std::collections::{BTreeMap, VecDeque};
use std::convert::Infallible;
use std::sync::{Arc, Mutex, MutexGuard, PoisonError};
use std::time::Duration;

use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode};
use axum::response::sse::{Event as SseEvent, KeepAlive, Sse};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use genesis_bundle::ProgressCounter;
use genesis_kube::rewrite::{ImageMap, rewritten_manifests};
use genesis_kube::{
    Access, AppliedObject, ApplyMode, Evidence, INSTALL_NAMESPACE, InstallOptions, InstallProgress, InstallReport,
    InstallTarget, KubeError, Outcome, Refusal,
};
use genesis_portal_client::human_size;
use genesis_registry::{Destination, Registry, RegistryOptions};
use genesis_trust::{Limits, SignedBom as _, TrustError, TrustPolicy, UnverifiedBundle};
use genesis_types::{Classify as _, ErrorClass, error_chain};
use genesis_web::html::{Column, csrf_field, date, table};
use maud::{Markup, html};
use tokio::sync::watch;

use crate::auth::{Signed, console_access};
use crate::bundles::{Facts, Located, Row, Source, Trust, TrustConfig, Verdict, read_trust};
use crate::config::ConsoleConfig;
use crate::page::{PageError, Tab, page, see_other};
use crate::state::{AppState, Shared};

/// How long an install waits for the workloads it applied to be ready (`load --wait`'s
/// default).
const WAIT: Duration = Duration::from_secs(300);

/// How many installs the console remembers, the running one among them.
const KEPT: usize = 50;

/// How often the payload pass's byte count is looked at for a `progress` event.
const SAMPLE_EVERY: Duration = Duration::from_millis(500);

/// What the install form says when the console has no registry to install into.
const NO_REGISTRY: &str = "No cluster-local registry is configured, so nothing can be installed from here.";
const NO_REGISTRY_FIX: &str = "start the console with --registry HOST[:PORT] (the registry installs push the images \
                               to), with --registry-plain-http for one without TLS or --registry-ca FILE for one \
                               with a private CA";

/// `POST /bundles/{file}/install`, `POST /bundles/landing/{file}/install`, `GET
/// /installs/{id}` and its event stream.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/bundles/{file}/install", post(start_from_directory))
        .route("/bundles/landing/{file}/install", post(start_from_landing_bucket))
        .route("/installs/{id}", get(show))
        .route("/installs/{id}/events", get(events))
}

/// The installs this console started, and the one running: at most one at a time.
#[derive(Default)]
pub struct Installs {
    ledger: Mutex<Ledger>,
}

#[derive(Default)]
struct Ledger {
    running: Option<Arc<Install>>,
    /// The most recent first.
    recent: VecDeque<Arc<Install>>,
}

impl Installs {
    fn ledger(&self) -> MutexGuard<'_, Ledger> {
        self.ledger.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// Makes `install` the running one; when another runs, that one.
    fn begin(&self, install: Install) -> Result<Arc<Install>, Arc<Install>> {
        let mut ledger = self.ledger();
        if let Some(running) = &ledger.running {
            return Err(Arc::clone(running));
        }
        let install = Arc::new(install);
        ledger.running = Some(Arc::clone(&install));
        ledger.recent.push_front(Arc::clone(&install));
        ledger.recent.truncate(KEPT);
        Ok(install)
    }

    /// `install` ended: another may start.
    fn release(&self, install: &Install) {
        let mut ledger = self.ledger();
        if ledger.running.as_ref().is_some_and(|running| running.id == install.id) {
            ledger.running = None;
        }
    }

    /// The install `id`, if the console remembers it.
    pub(crate) fn get(&self, id: &str) -> Option<Arc<Install>> {
        self.ledger().recent.iter().find(|install| install.id == id).cloned()
    }

    /// The install running now, if one is.
    pub(crate) fn running(&self) -> Option<Arc<Install>> {
        self.ledger().running.clone()
    }
}

/// One install: what it installs, for whom, and its event log.
pub(crate) struct Install {
    id: String,
    /// Where the bundle waits.
    source: Source,
    /// Its archive's name there.
    file: String,
    name: String,
    version: String,
    /// SHA-256 of the BOM the user was authorised for: the install checks it installs that one.
    bom_sha256: String,
    /// Who started it (the TokenReview's user name).
    user: String,
    /// When (seconds since the Unix epoch).
    started: u64,
    /// The registry the images go to.
    registry: String,
    log: Mutex<Log>,
    /// The number of events, for the streams that follow the log.
    changed: watch::Sender<usize>,
}

/// Where an install stands.
#[derive(Debug, Clone, Copy, Default, PartialEq, Eq)]
enum InstallState {
    #[default]
    Running,
    Succeeded,
    Failed,
}

impl InstallState {
    /// The word the page and tests read (`#install-state`).
    fn word(self) -> &'static str {
        match self {
            InstallState::Running => "running",
            InstallState::Succeeded => "succeeded",
            InstallState::Failed => "failed",
        }
    }

    fn badge(self) -> &'static str {
        match self {
            InstallState::Running => "degraded",
            InstallState::Succeeded => "pass",
            InstallState::Failed => "fail",
        }
    }
}

#[derive(Default)]
struct Log {
    events: Vec<Event>,
    state: InstallState,
    /// What happened to each object, once the install ended.
    objects: Vec<ObjectRow>,
    /// The payload bytes checked, while the payload pass runs.
    counter: Option<ProgressCounter>,
    /// The percentage the last `progress` event said.
    percent: Option<u64>,
}

impl Log {
    /// A `progress` event, when the whole percentage moved since the last (so a pass makes
    /// at most about a hundred, however long it runs).
    fn progress(&mut self, done: u64, total: u64) {
        let percent = done.saturating_mul(100).checked_div(total).unwrap_or(0);
        if self.percent != Some(percent) {
            self.percent = Some(percent);
            self.events.push(Event::Progress { done, total });
        }
    }
}

/// One entry of an install's event log, and of its stream.
#[derive(Debug, Clone, PartialEq, Eq)]
enum Event {
    /// Payload bytes checked and pushed, of all.
    Progress { done: u64, total: u64 },
    /// A step begins or something happened.
    Phase(String),
    /// What happened to one object.
    Object(ObjectRow),
    /// The install succeeded: a summary.
    Done(String),
    /// The install failed: why, and what to do.
    Failed(String),
}

impl Event {
    /// Its SSE event name.
    fn kind(&self) -> &'static str {
        match self {
            Event::Progress { .. } => "progress",
            Event::Phase(_) => "phase",
            Event::Object(_) => "object",
            Event::Done(_) => "done",
            Event::Failed(_) => "failed",
        }
    }

    /// What it says to a person.
    fn text(&self) -> String {
        match self {
            Event::Progress { done, total } => {
                format!("{} of {} checked and pushed", human_size(*done), human_size(*total))
            }
            Event::Phase(text) | Event::Done(text) | Event::Failed(text) => text.clone(),
            Event::Object(row) => {
                let ready = if row.ready { "ready" } else { "not ready" };
                match row.detail.as_str() {
                    "" => format!("{} {}, {ready}", row.object, row.outcome),
                    detail => format!("{} {}, {ready}: {detail}", row.object, row.outcome),
                }
            }
        }
    }

    /// Its SSE data: `text`, with the fields a script reads.
    fn data(&self) -> serde_json::Value {
        let text = self.text();
        match self {
            Event::Progress { done, total } => serde_json::json!({ "done": done, "total": total, "text": text }),
            Event::Object(row) => serde_json::json!({
                "object": row.object, "outcome": row.outcome, "ready": row.ready, "detail": row.detail, "text": text,
            }),
            _ => serde_json::json!({ "text": text }),
        }
    }
}

/// One object an install applied, as its page and stream show it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct ObjectRow {
    /// `Kind namespace/name`.
    object: String,
    /// `created`, `configured`, `unchanged` or `conflict`.
    outcome: &'static str,
    /// Ready when the install ended: a workload or HelmRelease by its status, anything else
    /// by being applied; nothing when a conflict stopped the install before its wait.
    ready: bool,
    /// The conflict, the readiness, or a note.
    detail: String,
}

/// Where a stream reader is in the log.
enum Step {
    Next(Event),
    Wait,
    End,
}

impl Install {
    fn new(source: Source, file: &str, plan: &Plan, user: &str, registry: &str) -> Install {
        Install {
            id: genesis_web::secret::random_token(),
            source,
            file: file.to_owned(),
            name: plan.name.clone(),
            version: plan.version.clone(),
            bom_sha256: plan.bom_sha256.clone(),
            user: user.to_owned(),
            started: genesis_bundle::unix_now(),
            registry: registry.to_owned(),
            log: Mutex::default(),
            changed: watch::Sender::new(0),
        }
    }

    /// Its id, the last segment of its page's URL.
    pub(crate) fn id(&self) -> &str {
        &self.id
    }

    /// Who installs what since when, in one sentence.
    pub(crate) fn describe(&self) -> String {
        format!(
            "{} {} ({}) is being installed by {} since {}.",
            self.name,
            self.version,
            self.source.named(&self.file),
            self.user,
            date(i64::try_from(self.started).unwrap_or(i64::MAX))
        )
    }

    /// Changes the log with `change`, and wakes the streams when it gained events.
    fn update(&self, change: impl FnOnce(&mut Log)) {
        let (before, after) = {
            let mut log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
            let before = log.events.len();
            change(&mut log);
            (before, log.events.len())
        };
        if after != before {
            self.changed.send_replace(after);
        }
    }

    fn push(&self, event: Event) {
        self.update(|log| log.events.push(event));
    }

    fn phase(&self, text: impl Into<String>) {
        self.push(Event::Phase(text.into()));
    }

    /// A `progress` event from the payload pass's counter, while it runs.
    fn sample(&self) {
        self.update(|log| {
            if let Some(counter) = log.counter.clone() {
                log.progress(counter.done(), counter.total());
            }
        });
    }

    /// Records how the install ended.
    fn finish(&self, outcome: Result<InstallReport, String>) {
        let (state, summary) = match &outcome {
            Ok(report) => summarise(report, &self.name, &self.version),
            Err(why) => (InstallState::Failed, why.clone()),
        };
        tracing::info!(
            install = %self.id, bundle = %self.file, source = self.source.word(), outcome = state.word(), %summary,
            "install ended"
        );
        self.update(|log| {
            if let Ok(report) = &outcome {
                if let Some(applied) = &report.apply
                    && !applied.dropped.is_empty()
                {
                    let dropped = applied.dropped.join(", ");
                    log.events.push(Event::Phase(format!("no longer in this bundle, left in place: {dropped}")));
                }
                log.objects = object_rows(report);
                log.events.extend(log.objects.iter().cloned().map(Event::Object));
            }
            log.counter = None;
            log.state = state;
            log.events.push(if state == InstallState::Succeeded {
                Event::Done(summary)
            } else {
                Event::Failed(summary)
            });
        });
    }

    /// The event at `index` of the log, else whether more may come.
    fn step(&self, index: usize) -> Step {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        match log.events.get(index) {
            Some(event) => Step::Next(event.clone()),
            None if log.state == InstallState::Running => Step::Wait,
            None => Step::End,
        }
    }

    /// The log as it stands.
    fn view(&self) -> (Vec<Event>, InstallState, Vec<ObjectRow>) {
        let log = self.log.lock().unwrap_or_else(PoisonError::into_inner);
        (log.events.clone(), log.state, log.objects.clone())
    }
}

/// The library's progress calls, as events of the log.
impl InstallProgress for Install {
    fn downgrade_allowed(&self, note: &str) {
        self.phase(format!("anti-rollback overridden, as {} confirmed: {note}", self.user));
    }

    fn payload_pass_started(&self, counters: Vec<(String, ProgressCounter)>) {
        self.phase(format!(
            "checking every payload entry against the signed BOM and pushing the blobs {} lacks",
            self.registry
        ));
        // The first counter is the payload's (`loading`); the others count each image's blobs.
        if let Some((_, counter)) = counters.into_iter().next() {
            self.update(|log| {
                log.progress(counter.done(), counter.total());
                log.counter = Some(counter);
            });
        }
    }

    fn payload_pass_ended(&self) {
        self.update(|log| {
            if let Some(counter) = log.counter.take() {
                log.progress(counter.done(), counter.total());
            }
        });
    }

    fn verified(&self, evidence: &Evidence<'_>) {
        self.phase(match evidence {
            Evidence::PayloadChecked(report) => format!(
                "verified: every payload entry matched the signed BOM ({}, {}), signed by {}",
                genesis_web::html::count(report.files, "file", "files"),
                human_size(report.payload_bytes),
                genesis_bundle::escape_controls(&report.head.signer.to_string())
            ),
            Evidence::PayloadNotReread { signer, registry, .. } => format!(
                "verified: signature OK ({}); {registry} already holds every blob, so the payload was not read again",
                genesis_bundle::escape_controls(&signer.to_string())
            ),
        });
        self.phase(format!(
            "applying the manifests (server-side apply, field manager genesis), recording the install, then waiting \
             up to {} minutes for the workloads to be ready",
            WAIT.as_secs() / 60
        ));
    }
}

/// How an install that ran to its end came out, and its summary.
fn summarise(report: &InstallReport, name: &str, version: &str) -> (InstallState, String) {
    let Some(applied) = &report.apply else {
        return (InstallState::Failed, "nothing was applied to the cluster".to_owned());
    };
    let count = |outcome: Outcome| applied.report.objects.iter().filter(|o| o.outcome == outcome).count();
    if report.succeeded() {
        let text = format!(
            "installed {name} {version}: {} created, {} configured, {} unchanged; {} pushed to {}; every workload \
             ready",
            count(Outcome::Created),
            count(Outcome::Configured),
            count(Outcome::Unchanged),
            genesis_web::html::count(report.images.len(), "image", "images"),
            report.registry
        );
        return (InstallState::Succeeded, text);
    }
    let conflicts: Vec<String> = applied.report.conflicts().map(AppliedObject::display_name).collect();
    let text = if conflicts.is_empty() {
        let waiting: Vec<&str> = applied.readiness.iter().filter(|r| !r.ready).map(|r| r.object.as_str()).collect();
        format!(
            "applied and recorded, but not ready after {} minutes: {}; look at their events (kubectl describe), then \
             at the Status tab",
            WAIT.as_secs() / 60,
            waiting.join(", ")
        )
    } else {
        format!(
            "not applied, and not recorded: another field manager owns fields this bundle sets on {} (never forced); \
             resolve the ownership, then install again",
            conflicts.join(", ")
        )
    };
    (InstallState::Failed, text)
}

/// Each object the install applied, with its readiness.
fn object_rows(report: &InstallReport) -> Vec<ObjectRow> {
    let Some(applied) = &report.apply else { return Vec::new() };
    // A conflict ends the install before its wait: then nothing is known to be ready.
    let waited = applied.report.conflicts().next().is_none();
    applied
        .report
        .objects
        .iter()
        .map(|o| {
            let object = o.display_name();
            let readiness = applied.readiness.iter().find(|r| r.object == object);
            let outcome = match o.outcome {
                Outcome::Created => "created",
                Outcome::Configured => "configured",
                Outcome::Unchanged => "unchanged",
                Outcome::Conflict => "conflict",
            };
            let (ready, detail) = match (readiness, &o.conflict) {
                (_, Some(conflict)) => (false, conflict.clone()),
                (Some(r), None) => (r.ready, r.detail.clone()),
                (None, None) if waited => (true, o.note.clone().unwrap_or_default()),
                (None, None) => (false, "not waited for: the apply met a conflict".to_owned()),
            };
            ObjectRow { object, outcome, ready, detail }
        })
        .collect()
}

/// An object a bundle's manifests apply, as they name it.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Manifested {
    api_version: String,
    kind: String,
    namespace: Option<String>,
    name: String,
}

/// The bundle as verified for its install, and the objects it applies.
struct Plan {
    name: String,
    version: String,
    bom_sha256: String,
    objects: Vec<Manifested>,
    /// The kinds its own CustomResourceDefinitions define, by (group, kind): their resource
    /// and whether they are namespaced. The cluster cannot name them before they are applied.
    defined: DefinedKinds,
}

/// The kinds a bundle's CustomResourceDefinitions define, by (group, kind): their resource
/// and whether they are namespaced.
type DefinedKinds = BTreeMap<(String, String), (String, bool)>;

/// Verifies `bundle`'s signature with `policy` and reads its manifests, checked against the
/// signed BOM, as the install will (the loader's reading), where the bundle lies.
fn plan(bundle: &Located, policy: &TrustPolicy) -> Result<Plan, String> {
    let verified = bundle
        .open()
        .map_err(TrustError::from)
        .and_then(|file| UnverifiedBundle::open_file(file, &Limits::default()))
        .and_then(|bundle| bundle.verify(policy))
        .map_err(|e| error_chain(&e))?;
    let manifests = rewritten_manifests(&verified, &ImageMap::default(), &[]).map_err(|e| error_chain(&e))?;
    let mut documents = Vec::new();
    for manifest in &manifests {
        for object in &manifest.objects {
            let json = serde_json::to_value(object)
                .map_err(|e| format!("manifests/{}: not a JSON-shaped object ({e})", manifest.path))?;
            documents.push(json);
        }
    }
    let (objects, defined) = objects_of(&documents)?;
    let bom = verified.bom();
    Ok(Plan {
        name: bom.name.clone(),
        version: bom.version.clone(),
        bom_sha256: verified.bom_sha256().to_string(),
        objects,
        defined,
    })
}

/// The objects of `documents` and the kinds their CustomResourceDefinitions define. An
/// object without `apiVersion`, `kind` or `metadata.name` is refused, as the apply would.
fn objects_of(documents: &[serde_json::Value]) -> Result<(Vec<Manifested>, DefinedKinds), String> {
    let mut objects = Vec::new();
    let mut defined = BTreeMap::new();
    for doc in documents {
        let field = |value: &serde_json::Value, what: &str| {
            value.as_str().map(str::to_owned).ok_or_else(|| format!("an object of the manifests has no {what}: {doc}"))
        };
        let object = Manifested {
            api_version: field(&doc["apiVersion"], "apiVersion")?,
            kind: field(&doc["kind"], "kind")?,
            namespace: doc["metadata"]["namespace"].as_str().map(str::to_owned),
            name: field(&doc["metadata"]["name"], "metadata.name")?,
        };
        if object.kind == "CustomResourceDefinition" {
            let spec = &doc["spec"];
            if let (Some(group), Some(kind), Some(plural)) =
                (spec["group"].as_str(), spec["names"]["kind"].as_str(), spec["names"]["plural"].as_str())
            {
                defined.insert((group.to_owned(), kind.to_owned()), (plural.to_owned(), spec["scope"] != "Cluster"));
            }
        }
        objects.push(object);
    }
    Ok((objects, defined))
}

/// The group of an `apiVersion` (empty for the core group's `v1`).
fn group_of(api_version: &str) -> &str {
    api_version.rsplit_once('/').map_or("", |(group, _)| group)
}

/// What the user must be allowed for the install of `plan`: `create` and `patch` (server-side
/// apply creates or patches) of each object's resource in its namespace ([`namespace_of`]), in
/// the order the objects come, once each; then what writing the install record takes
/// ([`record_accesses`]). The first object in a namespace no bundle may touch refuses the
/// install ([`refuse_protected`]), before any right on the objects is asked about.
async fn accesses(state: &AppState, plan: &Plan) -> Result<Vec<Access>, PageError> {
    let mut resources: BTreeMap<(String, String), (String, String, bool)> = BTreeMap::new();
    let mut accesses = Vec::new();
    for object in &plan.objects {
        let key = (object.api_version.clone(), object.kind.clone());
        let (resource, group, namespaced) = match resources.get(&key) {
            Some(found) => found.clone(),
            None => {
                let found = resource_of(state, plan, object).await?;
                resources.insert(key, found.clone());
                found
            }
        };
        let namespace = namespace_of(object, namespaced);
        refuse_protected(object, (group.as_str(), resource.as_str()), namespace.as_deref(), &state.config.namespace)?;
        for (verb, name) in [("create", None), ("patch", Some(object.name.clone()))] {
            let access = Access {
                verb: verb.to_owned(),
                group: group.clone(),
                resource: resource.clone(),
                namespace: namespace.clone(),
                name,
            };
            if !accesses.contains(&access) {
                accesses.push(access);
            }
        }
    }
    for access in record_accesses() {
        if !accesses.contains(&access) {
            accesses.push(access);
        }
    }
    Ok(accesses)
}

/// The namespace the apply puts `object` in: its own, `default` for a namespaced object that
/// names none (as the apply does), none for a cluster-scoped one.
fn namespace_of(object: &Manifested, namespaced: bool) -> Option<String> {
    namespaced.then(|| object.namespace.clone().unwrap_or_else(|| "default".to_owned()))
}

/// Refuses to install `object` (of resource `group`/`resource`, applied in `namespace`) when
/// it lies in the console's own namespace `console_namespace` (its Deployment and
/// ServiceAccount, the trust root `genesis-trust`, the pre-flight configuration) or in
/// [`INSTALL_NAMESPACE`] (the install records anti-rollback goes by), whoever installs it: a
/// person with the installer's rights bound there by mistake could otherwise replace the
/// console, its trust or its records through a bundle. A Namespace lies in itself, as RBAC
/// authorises a request on it. The refusal names the object.
fn refuse_protected(
    object: &Manifested,
    (group, resource): (&str, &str),
    namespace: Option<&str>,
    console_namespace: &str,
) -> Result<(), PageError> {
    let within = if group.is_empty() && resource == "namespaces" { Some(object.name.as_str()) } else { namespace };
    let Some(within) = within.filter(|ns| *ns == console_namespace || *ns == INSTALL_NAMESPACE) else {
        return Ok(());
    };
    let named = match namespace {
        Some(namespace) => format!("{} {namespace}/{}", object.kind, object.name),
        None => format!("{} {}", object.kind, object.name),
    };
    let what_lives_there = if within == console_namespace {
        "the console's own namespace, where its Deployment, its ServiceAccount and the trust root genesis-trust live"
    } else {
        "where the install records live"
    };
    Err(PageError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!("the bundle applies {named}, in {within}, {what_lives_there}: the console installs nothing there"),
        format!(
            "have the bundle's vendor move the object to another namespace; a cluster admin who means it applies it \
             with bundle-loader instead. Never bind genesis-console-installer in {console_namespace} or \
             {INSTALL_NAMESPACE}"
        ),
    ))
}

/// What the install record takes, which the console writes with its own rights once the
/// objects are applied (`genesis_kube`'s record): `create` and `update` of ConfigMaps in
/// [`INSTALL_NAMESPACE`], and `patch` of that Namespace, which it applies first. A request on
/// a Namespace is authorised in that namespace, so a Role there can grant all three.
fn record_accesses() -> [Access; 3] {
    let access = |verb: &str, resource: &str, name: Option<&str>| Access {
        verb: verb.to_owned(),
        group: String::new(),
        resource: resource.to_owned(),
        namespace: Some(INSTALL_NAMESPACE.to_owned()),
        name: name.map(str::to_owned),
    };
    [
        access("create", "configmaps", None),
        access("update", "configmaps", None),
        access("patch", "namespaces", Some(INSTALL_NAMESPACE)),
    ]
}

/// The resource, group and scope of `object`'s kind: by the cluster's discovery, else by a
/// CustomResourceDefinition of the bundle itself.
async fn resource_of(state: &AppState, plan: &Plan, object: &Manifested) -> Result<(String, String, bool), PageError> {
    let discovered = genesis_kube::resource_of(&state.cluster, &object.api_version, &object.kind).await;
    let e = match discovered {
        Ok(found) => return Ok(found),
        Err(e) => e,
    };
    let group = group_of(&object.api_version);
    if let Some((plural, namespaced)) = plan.defined.get(&(group.to_owned(), object.kind.clone())) {
        return Ok((plural.clone(), group.to_owned(), *namespaced));
    }
    if e.class() != ErrorClass::NotFound {
        return Err(e.into());
    }
    Err(PageError::new(
        StatusCode::UNPROCESSABLE_ENTITY,
        format!(
            "the cluster does not know {} ({}), which the bundle applies to {}, and the bundle does not define it",
            object.kind, object.api_version, object.name
        ),
        "install what defines the kind (its CustomResourceDefinition) first, then install the bundle again",
    ))
}

/// A downgrade the install would need confirmed.
struct Downgrade {
    /// Why anti-rollback refuses the bundle, as the install would say it.
    reason: String,
    /// The version the record says is installed, when it can be read.
    installed: Option<String>,
}

impl Downgrade {
    /// The confirmation's label, the versions spelled out.
    fn confirmation(&self, name: &str, version: &str) -> String {
        match &self.installed {
            Some(installed) => format!(
                "Install {name} {version} anyway, in place of the installed {installed}: anti-rollback does not \
                 protect this install"
            ),
            None => format!(
                "Install {name} {version} anyway, without anti-rollback: the cluster's install record cannot be \
                 compared with it"
            ),
        }
    }
}

/// Whether the cluster's install record of `name` makes anti-rollback refuse `version` (BOM
/// `bom_sha256`), judged as the install judges it.
async fn anti_rollback(
    state: &AppState,
    name: &str,
    version: &str,
    bom_sha256: &str,
) -> Result<Option<Downgrade>, PageError> {
    match genesis_kube::read_record(&state.cluster, name).await {
        Ok(None) => Ok(None),
        Ok(Some(record)) => {
            let reason = genesis_kube::downgrade_reason(&record, name, version, bom_sha256, state.cluster.describe());
            Ok(reason.map(|reason| Downgrade { reason, installed: Some(record.version) }))
        }
        Err(e @ KubeError::UnreadableRecord { .. }) => Ok(Some(Downgrade { reason: e.to_string(), installed: None })),
        Err(e) => Err(e.into()),
    }
}

/// Where installs push: `--registry` with its connection flags.
fn install_target(config: &ConsoleConfig) -> Result<InstallTarget, PageError> {
    let Some(registry) = config.registry.as_deref() else {
        return Err(PageError::new(StatusCode::CONFLICT, NO_REGISTRY, NO_REGISTRY_FIX));
    };
    let misconfigured = |e: genesis_registry::RegistryError| {
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("the console's --registry {registry} is unusable: {}", error_chain(&e)),
            "correct --registry (and --registry-ca) in the console's Deployment",
        )
    };
    let destination: Destination = registry.parse().map_err(misconfigured)?;
    let options = RegistryOptions {
        plain_http: config.registry_plain_http,
        ca_file: config.registry_ca.clone(),
        ..RegistryOptions::default()
    };
    let client = Registry::new(&destination.host, &options).map_err(misconfigured)?;
    Ok(InstallTarget { registry: client, destination })
}

/// The install part of a verified bundle's page: the form `#install-form`, with the
/// confirmation `#confirm-downgrade` when anti-rollback would refuse the bundle; or, without
/// a registry, what to configure.
pub(crate) async fn install_section(
    state: &AppState,
    signed: &Signed,
    row: &Row,
    facts: &Facts,
) -> Result<Markup, PageError> {
    let Some(registry) = state.config.registry.as_deref() else {
        return Ok(html! {
            h2 { "Install" }
            div.notice #no-registry { p { (NO_REGISTRY) } p { "To install: " (NO_REGISTRY_FIX) "." } }
        });
    };
    let downgrade = anti_rollback(state, &facts.name, &facts.version, &facts.bom_sha256).await?;
    let running = state.installs.running();
    Ok(html! {
        h2 { "Install" }
        @if let Some(running) = &running {
            div.notice #install-running {
                p { (running.describe()) " " a href={ "/installs/" (running.id) } { "Follow it" } }
            }
        }
        form #install-form method="post" action={ (row.source.page(&row.file)) "/install" } {
            (csrf_field(&signed.csrf))
            p {
                @if row.source == Source::Landing {
                    "Reads the bundle where it lies in the landing bucket (nothing is copied into the bundles "
                    "directory), pushes its images into "
                } @else {
                    "Pushes the bundle's images into "
                }
                code { (registry) } ", applies its manifests to "
                code { (state.cluster.describe()) } " with server-side apply (field manager " code { "genesis" }
                "), records the install and waits up to " (WAIT.as_secs() / 60) " minutes until its workloads are "
                "ready. Your account needs the rights to create and change each object the bundle applies."
            }
            @if let Some(downgrade) = &downgrade {
                div.notice #downgrade {
                    p #downgrade-reason { (downgrade.reason) }
                    p {
                        input #confirm-downgrade type="checkbox" name="confirm_downgrade" value="yes" required;
                        " "
                        label for="confirm-downgrade" { (downgrade.confirmation(&facts.name, &facts.version)) }
                    }
                }
            }
            div.actions {
                button.primary #install-button type="submit" { "Install " (facts.name) " " (facts.version) }
            }
        }
    })
}

/// The install form.
#[derive(serde::Deserialize)]
struct InstallForm {
    csrf: String,
    /// Present when the downgrade's confirmation was ticked.
    #[serde(default)]
    confirm_downgrade: Option<String>,
}

/// `POST /bundles/{file}/install`: [`start`] for a bundle of the bundles directory.
async fn start_from_directory(
    State(state): State<Shared>,
    signed: Signed,
    headers: HeaderMap,
    UrlPath(file): UrlPath<String>,
    Form(form): Form<InstallForm>,
) -> Result<Response, PageError> {
    start(state, signed, headers, Source::Directory, file, form).await
}

/// `POST /bundles/landing/{file}/install`: [`start`] for a bundle of the landing bucket.
async fn start_from_landing_bucket(
    State(state): State<Shared>,
    signed: Signed,
    headers: HeaderMap,
    UrlPath(file): UrlPath<String>,
    Form(form): Form<InstallForm>,
) -> Result<Response, PageError> {
    start(state, signed, headers, Source::Landing, file, form).await
}

/// Checks the rights (`create installs`, then `create` and `patch` of every object), the
/// downgrade's confirmation and that no install runs; starts the install of the bundle `file`
/// of `source` and sends the browser to its page.
async fn start(
    state: Shared,
    signed: Signed,
    headers: HeaderMap,
    source: Source,
    file: String,
    form: InstallForm,
) -> Result<Response, PageError> {
    signed.check_post(&form.csrf, &headers, &state, &console_access(&state, "create", "installs")).await?;
    let target = install_target(&state.config)?;
    let row = crate::bundles::find(&state, source, &file).await?;
    let Verdict::Verified(facts) = &row.verdict else {
        return Err(PageError::new(
            StatusCode::CONFLICT,
            format!("{file} is {}: only a bundle that verified can be installed", row.verdict.word()),
            "open the bundle's page: it says why, or shows when its verification is done",
        ));
    };
    let trust = match read_trust(&state).await? {
        TrustConfig::Trusted(trust) => trust,
        TrustConfig::Untrusted(why) => {
            return Err(PageError::new(StatusCode::CONFLICT, why, "configure the trust first"));
        }
    };
    let bundle = state.bundles.locate(row.source, &row.file);
    let planned = {
        let (bundle, policy) = (bundle.clone(), trust.policy.clone());
        tokio::task::spawn_blocking(move || plan(&bundle, &policy)).await
    };
    let cannot = |why: String| {
        PageError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("{file} cannot be installed: {why}"),
            "open the bundle's page, where it is verified again",
        )
    };
    let planned =
        planned.map_err(|e| cannot(format!("reading its manifests stopped unexpectedly ({e})")))?.map_err(cannot)?;
    if planned.bom_sha256 != facts.bom_sha256 {
        return Err(cannot(format!(
            "it changed since it was verified (its BOM is now {}, was {})",
            planned.bom_sha256, facts.bom_sha256
        )));
    }
    signed.authorize_all(&state, &accesses(&state, &planned).await?).await?;
    let downgrade = anti_rollback(&state, &planned.name, &planned.version, &planned.bom_sha256).await?;
    let confirmed = form.confirm_downgrade.is_some();
    if let Some(downgrade) = downgrade
        && !confirmed
    {
        return Err(PageError::new(
            StatusCode::CONFLICT,
            downgrade.reason,
            "tick the confirmation on the bundle's page to install it anyway, or install a newer version",
        ));
    }
    let install = Install::new(row.source, &row.file, &planned, &signed.user.name, &target.destination.host);
    let install = state.installs.begin(install).map_err(|running| {
        PageError::new(
            StatusCode::CONFLICT,
            running.describe(),
            format!("wait until it finishes (its page is /installs/{}): two installs never run at once", running.id),
        )
    })?;
    tracing::info!(
        install = %install.id, user = %install.user, bundle = %bundle.shown(), downgrade = confirmed, "install started"
    );
    launch(Arc::clone(&state), Arc::clone(&install), bundle, *trust, target, confirmed);
    Ok(see_other(&format!("/installs/{}", install.id)))
}

/// Runs `install` in the background to its end, whatever the browser does. The library's
/// install holds what only one thread may use across its awaits, so it runs on a blocking
/// thread of its own, driven by the console's runtime; a task samples its progress meanwhile.
fn launch(
    state: Shared,
    install: Arc<Install>,
    bundle: Located,
    trust: Trust,
    target: InstallTarget,
    allow_downgrade: bool,
) {
    let runtime = tokio::runtime::Handle::current();
    tokio::spawn(async move {
        let sampling = tokio::spawn(sample(Arc::clone(&install)));
        let work = {
            let (state, install) = (Arc::clone(&state), Arc::clone(&install));
            tokio::task::spawn_blocking(move || {
                runtime.block_on(run(&state, &install, &bundle, &trust, &target, allow_downgrade))
            })
        };
        let outcome = work.await.unwrap_or_else(|e| Err(format!("the install stopped unexpectedly: {e}")));
        sampling.abort();
        install.finish(outcome);
        state.installs.release(&install);
    });
}

/// Looks at the payload pass's byte count every [`SAMPLE_EVERY`], until aborted.
async fn sample(install: Arc<Install>) {
    let mut every = tokio::time::interval(SAMPLE_EVERY);
    loop {
        every.tick().await;
        install.sample();
    }
}

/// The install itself: the bundle verified again where it lies (it must be the one
/// authorised), then [`genesis_kube::install`] with the console's cluster, applying and
/// waiting; a bundle of the landing bucket is read from there throughout.
async fn run(
    state: &AppState,
    install: &Install,
    bundle: &Located,
    trust: &Trust,
    target: &InstallTarget,
    allow_downgrade: bool,
) -> Result<InstallReport, String> {
    install.phase(format!("verifying the signature of {} with {}", install.source.named(&install.file), trust.given));
    let verified = bundle
        .open()
        .map_err(TrustError::from)
        .and_then(|file| UnverifiedBundle::open_file(file, &Limits::default()))
        .and_then(|unverified| unverified.verify(&trust.policy))
        .map_err(|e| error_chain(&e))?;
    let bom_sha256 = verified.bom_sha256().to_string();
    if bom_sha256 != install.bom_sha256 {
        return Err(format!(
            "{} changed since this install was authorised (its BOM is now {bom_sha256}, was {}): start the install \
             again from the bundle's page",
            install.file, install.bom_sha256
        ));
    }
    install.phase("signature verified; checking anti-rollback against the cluster's install record");
    let options = InstallOptions { apply: ApplyMode::ApplyAndWait(WAIT), allow_downgrade, ..InstallOptions::default() };
    genesis_kube::install(verified, target, Some(&state.cluster), &options, install).await.map_err(|e| failure(&e))
}

/// Why an install failed, and what to do.
fn failure(e: &KubeError) -> String {
    match e {
        KubeError::Refused(Refusal::Downgrade { .. } | Refusal::Overtaken { .. }) => {
            format!("{}; to install it anyway, tick the downgrade's confirmation on the bundle's page", error_chain(e))
        }
        _ => error_chain(e),
    }
}

fn find_install(state: &AppState, id: &str) -> Result<Arc<Install>, PageError> {
    state.installs.get(id).ok_or_else(|| {
        PageError::not_found(format!(
            "no install {id}: the console remembers its last {KEPT} installs until it restarts; the Status tab shows \
             what is installed"
        ))
    })
}

/// `GET /installs/{id}` (`get installs`): `#install-state`, the progress, the events
/// `#install-events` and, once it ended, `table#install-objects`. While it runs, the page
/// looks again every 2 s without JavaScript; with it, console-install.js follows the event
/// stream instead.
async fn show(
    State(state): State<Shared>,
    signed: Signed,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, PageError> {
    signed.authorize(&state, &console_access(&state, "get", "installs")).await?;
    let install = find_install(&state, &id)?;
    let (events, install_state, objects) = install.view();
    let running = install_state == InstallState::Running;
    let payload = events.iter().rev().find_map(|event| match event {
        Event::Progress { done, total } => Some((*done, *total)),
        _ => None,
    });
    let title = format!("Install of {} {}", install.name, install.version);
    let body = html! {
        @if running {
            noscript { meta http-equiv="refresh" content="2"; }
        }
        section #install data-state=(install_state.word()) data-events={ "/installs/" (install.id) "/events" }
            data-seen=(events.len()) {
            h1 { (title) }
            dl.facts {
                dt { "Bundle" } dd {
                    a href=(install.source.page(&install.file)) { code { (install.file) } }
                    @if install.source == Source::Landing { " (landing bucket)" }
                }
                dt { "Started by" } dd #install-user { (install.user) }
                dt { "Started" } dd { (date(i64::try_from(install.started).unwrap_or(i64::MAX))) }
                dt { "Registry" } dd { code { (install.registry) } }
                dt { "State" } dd { span #install-state class=(install_state.badge()) { (install_state.word()) } }
            }
            @match payload {
                Some((done, total)) => {
                    progress #install-progress max=(total.max(1)) value=(done) aria-describedby="install-bytes" {
                        (human_size(done))
                    }
                    p.muted #install-bytes { (Event::Progress { done, total }.text()) }
                },
                None if running => progress #install-progress aria-label="Install progress" {},
                None => {},
            }
            h2 { "Events" }
            ol #install-events aria-live="polite" {
                @for event in events.iter().filter(|e| !matches!(e, Event::Progress { .. })) {
                    li data-event=(event.kind()) { (event.text()) }
                }
            }
            @if !running {
                h2 { "Objects" }
                (objects_table(&objects))
                @if objects.is_empty() {
                    p { "No object was applied." }
                }
                p { a href="/status" { "The Status tab" } " shows what the cluster runs now." }
            }
        }
    };
    Ok(page(&signed, Tab::Bundles, &title, StatusCode::OK, body))
}

/// The table `#install-objects`: a row per object
/// (`tr[data-object="Kind ns/name"][data-outcome][data-ready]`).
fn objects_table(objects: &[ObjectRow]) -> Markup {
    use Column::Text;
    let rows = html! {
        @for o in objects {
            tr data-object=(o.object) data-outcome=(o.outcome) data-ready=(o.ready) {
                th scope="row" { code { (o.object) } }
                td { span class=(if o.outcome == "conflict" { "fail" } else { "pass" }) { (o.outcome) } }
                td {
                    span class=(if o.ready { "pass" } else { "fail" }) { (if o.ready { "ready" } else { "not ready" }) }
                }
                td { (o.detail) }
            }
        }
    };
    table("install-objects", &[Text("Object"), Text("Outcome"), Text("Ready"), Text("Detail")], rows)
}

/// `GET /installs/{id}/events` (`get installs`): the event log as server-sent events, each
/// with its index as id, from the start (or after `Last-Event-ID`) and then as they come,
/// ending after `done` or `failed`.
async fn events(
    State(state): State<Shared>,
    signed: Signed,
    headers: HeaderMap,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, PageError> {
    signed.authorize(&state, &console_access(&state, "get", "installs")).await?;
    let install = find_install(&state, &id)?;
    let from = headers
        .get("last-event-id")
        .and_then(|v| v.to_str().ok())
        .and_then(|v| v.trim().parse::<usize>().ok())
        .map_or(0, |seen| seen.saturating_add(1));
    // Subscribed before the log is read: an event pushed in between wakes the stream.
    let changed = install.changed.subscribe();
    let stream = futures_util::stream::unfold((install, from, changed), |(install, index, mut changed)| async move {
        loop {
            match install.step(index) {
                Step::Next(event) => {
                    let sse =
                        SseEvent::default().event(event.kind()).id(index.to_string()).data(event.data().to_string());
                    return Some((Ok::<_, Infallible>(sse), (install, index + 1, changed)));
                }
                Step::End => return None,
                Step::Wait => {
                    if changed.changed().await.is_err() {
                        return None;
                    }
                }
            }
        }
    });
    let mut response = Sse::new(stream).keep_alive(KeepAlive::default()).into_response();
    genesis_web::secure_headers(response.headers_mut(), true);
    Ok(response)
}

#[cfg(test)]
mod tests {
    use genesis_kube::{Applied, ApplyReport, Readiness, Verification};

    use super::*;

    fn applied(kind: &str, name: &str, outcome: Outcome, conflict: Option<&str>) -> AppliedObject {
        AppliedObject {
            api_version: "apps/v1".into(),
            kind: kind.into(),
            namespace: Some("demo".into()),
            name: name.into(),
            outcome,
            conflict: conflict.map(str::to_owned),
            result: None,
            note: None,
        }
    }

    fn report(objects: Vec<AppliedObject>, readiness: Vec<Readiness>) -> InstallReport {
        InstallReport {
            registry: "127.0.0.1:5000".into(),
            verification: Verification::default(),
            images: Vec::new(),
            charts: Vec::new(),
            manifests_out: None,
            apply: Some(Applied {
                cluster: "https://127.0.0.1:6443 (kubeconfig)".into(),
                dry_run: false,
                report: ApplyReport { objects },
                dropped: Vec::new(),
                readiness,
            }),
        }
    }

    fn ready(object: &str, ready: bool) -> Readiness {
        Readiness { object: object.into(), ready, detail: if ready { "1/1 ready" } else { "0/1 ready" }.into() }
    }

    #[test]
    fn an_install_succeeds_when_nothing_conflicts_and_every_workload_is_ready() {
        let objects = vec![
            applied("Deployment", "app", Outcome::Created, None),
            applied("Service", "app", Outcome::Unchanged, None),
        ];
        let done = report(objects.clone(), vec![ready("Deployment demo/app", true)]);
        let (state, text) = summarise(&done, "demo", "0.1.0");
        assert_eq!(state, InstallState::Succeeded);
        assert!(
            text.starts_with("installed demo 0.1.0: 1 created, 0 configured, 1 unchanged; 0 images pushed"),
            "{text}"
        );
        let rows = object_rows(&done);
        assert_eq!(
            rows[0],
            ObjectRow {
                object: "Deployment demo/app".into(),
                outcome: "created",
                ready: true,
                detail: "1/1 ready".into()
            }
        );
        assert!(rows[1].ready, "an object without a status to wait for is ready once applied");

        let waiting = report(objects, vec![ready("Deployment demo/app", false)]);
        let (state, text) = summarise(&waiting, "demo", "0.1.0");
        assert_eq!(state, InstallState::Failed);
        assert!(text.contains("not ready after 5 minutes: Deployment demo/app"), "{text}");
        assert!(!object_rows(&waiting)[0].ready);
    }

    #[test]
    fn a_conflict_fails_the_install_and_nothing_is_known_ready() {
        let conflicted = report(
            vec![
                applied("Deployment", "app", Outcome::Conflict, Some("conflict with \"kubectl\": .spec.replicas")),
                applied("Service", "app", Outcome::Created, None),
            ],
            Vec::new(),
        );
        let (state, text) = summarise(&conflicted, "demo", "0.1.0");
        assert_eq!(state, InstallState::Failed);
        assert!(text.contains("on Deployment demo/app (never forced)"), "{text}");
        let rows = object_rows(&conflicted);
        assert_eq!((rows[0].outcome, rows[0].ready), ("conflict", false));
        assert!(rows[0].detail.contains(".spec.replicas"));
        assert_eq!(rows[1].detail, "not waited for: the apply met a conflict");
    }

    #[test]
    fn progress_events_come_once_per_whole_percent() {
        let mut log = Log::default();
        for done in [0, 1, 5, 10, 10, 999, 1000] {
            log.progress(done, 1000);
        }
        let said: Vec<u64> = log
            .events
            .iter()
            .map(|e| match e {
                Event::Progress { done, .. } => *done,
                other => panic!("{other:?}"),
            })
            .collect();
        assert_eq!(said, [0, 10, 999, 1000]);
        log.progress(0, 0);
        assert_eq!(log.events.len(), 5, "an unknown total counts as 0 %");
    }

    #[test]
    fn the_objects_a_bundle_applies_and_the_kinds_it_defines_are_read_from_its_manifests() {
        let documents = [
            serde_json::json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "demo"}}),
            serde_json::json!({"apiVersion": "apiextensions.k8s.io/v1", "kind": "CustomResourceDefinition",
                "metadata": {"name": "widgets.example.com"},
                "spec": {"group": "example.com", "scope": "Namespaced",
                    "names": {"kind": "Widget", "plural": "widgets"}}}),
            serde_json::json!({"apiVersion": "example.com/v1", "kind": "Widget",
                "metadata": {"name": "w", "namespace": "demo"}}),
        ];
        let (objects, defined) = objects_of(&documents).unwrap();
        assert_eq!(objects.len(), 3);
        assert_eq!(objects[2].namespace.as_deref(), Some("demo"));
        assert_eq!(defined[&("example.com".to_owned(), "Widget".to_owned())], ("widgets".to_owned(), true));
        assert_eq!(group_of("apps/v1"), "apps");
        assert_eq!(group_of("v1"), "");
        let nameless = [serde_json::json!({"apiVersion": "v1", "kind": "ConfigMap", "metadata": {}})];
        assert!(objects_of(&nameless).unwrap_err().contains("has no metadata.name"));
    }

    #[test]
    fn a_second_install_waits_for_the_first_to_end() {
        let installs = Installs::default();
        let plan = Plan {
            name: "demo".into(),
            version: "0.1.0".into(),
            bom_sha256: "sha256:00".into(),
            objects: Vec::new(),
            defined: BTreeMap::new(),
        };
        let first = installs
            .begin(Install::new(Source::Directory, "demo-0.1.0.tar.zst", &plan, "alice", "reg:5000"))
            .ok()
            .expect("the first install begins");
        let Err(running) =
            installs.begin(Install::new(Source::Directory, "demo-0.1.0.tar.zst", &plan, "bob", "reg:5000"))
        else {
            panic!("two installs ran at once")
        };
        assert_eq!(running.id, first.id);
        assert!(running.describe().starts_with("demo 0.1.0 (demo-0.1.0.tar.zst) is being installed by alice since "));
        installs.release(&first);
        assert!(installs.running().is_none());
        assert!(
            installs.begin(Install::new(Source::Directory, "demo-0.1.0.tar.zst", &plan, "bob", "reg:5000")).is_ok()
        );
        assert!(installs.get(&first.id).is_some(), "an ended install is still shown");
        let landed = Install::new(Source::Landing, "demo-0.1.0.tar.zst", &plan, "carol", "reg:5000");
        assert!(
            landed
                .describe()
                .starts_with("demo 0.1.0 (demo-0.1.0.tar.zst of the landing bucket) is being installed by "),
            "{}",
            landed.describe()
        );
    }

    #[tokio::test]
    async fn the_event_stream_replays_the_log_then_follows_it_to_its_end() {
        let plan = Plan {
            name: "demo".into(),
            version: "0.1.0".into(),
            bom_sha256: "sha256:00".into(),
            objects: Vec::new(),
            defined: BTreeMap::new(),
        };
        let install = Install::new(Source::Directory, "demo-0.1.0.tar.zst", &plan, "alice", "reg:5000");
        install.phase("one");
        let mut changed = install.changed.subscribe();
        assert!(matches!(install.step(0), Step::Next(Event::Phase(ref t)) if t == "one"));
        assert!(matches!(install.step(1), Step::Wait));
        install.finish(Err("refused".into()));
        changed.changed().await.unwrap();
        assert!(matches!(install.step(1), Step::Next(Event::Failed(ref t)) if t == "refused"));
        assert!(matches!(install.step(2), Step::End));
        assert_eq!(install.view().1, InstallState::Failed);
    }

    #[test]
    fn a_bundle_with_an_object_in_the_console_s_namespace_or_genesis_system_is_refused_naming_it() {
        let object = |api_version: &str, kind: &str, namespace: Option<&str>, name: &str| Manifested {
            api_version: api_version.into(),
            kind: kind.into(),
            namespace: namespace.map(str::to_owned),
            name: name.into(),
        };
        // Each object planned, with its resource and scope as discovery would say.
        let planned = |console: &str| {
            [
                (object("v1", "Namespace", None, "demo"), ("", "namespaces"), false),
                (object("apps/v1", "Deployment", Some("demo"), "app"), ("apps", "deployments"), true),
                (object("v1", "Service", None, "app"), ("", "services"), true),
                (
                    object("apiextensions.k8s.io/v1", "CustomResourceDefinition", None, "widgets.example.com"),
                    ("apiextensions.k8s.io", "customresourcedefinitions"),
                    false,
                ),
                (object("v1", "ConfigMap", Some("genesis"), "genesis-trust"), ("", "configmaps"), true),
                (object("apps/v1", "Deployment", Some("genesis"), "genesis-console"), ("apps", "deployments"), true),
                (object("v1", "ConfigMap", Some("genesis-system"), "genesis-bundle-demo"), ("", "configmaps"), true),
                (object("v1", "Namespace", None, "genesis"), ("", "namespaces"), false),
                (object("v1", "Namespace", None, "genesis-system"), ("", "namespaces"), false),
            ]
            .into_iter()
            .map(|(object, resource, namespaced)| {
                let namespace = namespace_of(&object, namespaced);
                let said = refuse_protected(&object, resource, namespace.as_deref(), console).err();
                (namespace, said.map(|refused| (refused.status, refused.what)))
            })
            .collect::<Vec<_>>()
        };
        let said = planned("genesis");
        let in_genesis = "the console's own namespace, where its Deployment, its ServiceAccount and the trust root \
                          genesis-trust live: the console installs nothing there";
        let in_records = "where the install records live: the console installs nothing there";
        let refused = |what: String| Some((StatusCode::UNPROCESSABLE_ENTITY, what));
        assert_eq!(said[0], (None, None));
        assert_eq!(said[1], (Some("demo".into()), None));
        assert_eq!(said[2], (Some("default".into()), None), "a namespaced object naming none goes to default");
        assert_eq!(said[3], (None, None));
        assert_eq!(
            said[4].1,
            refused(format!("the bundle applies ConfigMap genesis/genesis-trust, in genesis, {in_genesis}"))
        );
        assert_eq!(
            said[5].1,
            refused(format!("the bundle applies Deployment genesis/genesis-console, in genesis, {in_genesis}"))
        );
        assert_eq!(
            said[6].1,
            refused(format!(
                "the bundle applies ConfigMap genesis-system/genesis-bundle-demo, in genesis-system, {in_records}"
            ))
        );
        assert_eq!(said[7].1, refused(format!("the bundle applies Namespace genesis, in genesis, {in_genesis}")));
        assert_eq!(
            said[8].1,
            refused(format!("the bundle applies Namespace genesis-system, in genesis-system, {in_records}"))
        );
        // A console in namespace default refuses what lands there unnamed; genesis is then
        // another namespace, genesis-system still the records'.
        let elsewhere = planned("default");
        assert!(elsewhere[2].1.as_ref().is_some_and(|(_, what)| what.contains("Service default/app, in default")));
        assert_eq!(elsewhere[4].1, None);
        assert!(elsewhere[6].1.is_some());
        let trust = object("v1", "ConfigMap", Some("genesis"), "genesis-trust");
        let refusal = refuse_protected(&trust, ("", "configmaps"), Some("genesis"), "genesis").unwrap_err();
        assert!(
            refusal.fix.contains("Never bind genesis-console-installer in genesis or genesis-system"),
            "{}",
            refusal.fix
        );
    }

    #[test]
    fn the_install_record_needs_the_user_s_rights_in_genesis_system() {
        let said: Vec<String> = record_accesses().iter().map(Access::describe).collect();
        assert_eq!(
            said,
            [
                "create configmaps in genesis-system",
                "update configmaps in genesis-system",
                "patch namespaces genesis-system in genesis-system",
            ]
        );
    }
}
