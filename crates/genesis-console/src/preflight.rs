//! The Pre-flight tab (seed 000, step D): the checks of `genesis preflight` — PostgreSQL,
//! Redis, cert-manager, DNS, TLS chains, the image registry, disk — run on demand from the
//! configuration in ConfigMap `genesis-preflight` (key `preflight.yaml`, `genesis
//! preflight`'s format), which the tab also edits. The rows are the library's own
//! ([`genesis_preflight::Planned::run`]), so the console and the CLI judge alike; a row can be
//! run again alone by its id, and the results download as the CLI's JSON report.
//!
//! Dependencies named by their Service are resolved through [`crate::discovery`]: one that
//! cannot be is a `degraded` row with the reason, never an error page. The console looks
//! Services up with its own rights, so a run needs the runner's own `get` of each Service it
//! names (a SubjectAccessReview each). Before a run, the console's log names every endpoint
//! the configuration names, as `genesis preflight` announces them. Runs go one at a time: one
//! asked for while another is under way is refused (409), not queued behind it; each runs in a
//! task of its own that a browser leaving does not stop, and each check is bounded by the
//! library's timeouts. The configuration is read again for every run (changing it needs no
//! restart), with the console's own rights; it is shown only to whoever may `get` that
//! ConfigMap (it may hold passwords in URLs), and saved only for whoever may `update` it (and
//! `create` ConfigMaps in the namespace when it is not there yet), after it parsed.

use std::collections::BTreeMap;
use std::sync::{Arc, Mutex, PoisonError};
use std::time::Duration;

use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use genesis_kube::{Access, KubeError};
use genesis_preflight::{Check, Planned, PreflightSpec, Report, Status};
use genesis_web::html::{Column, count, csrf_field, date, segment, table};
use k8s_openapi::api::core::v1::ConfigMap;
use k8s_openapi::apimachinery::pkg::apis::meta::v1::ObjectMeta;
use kube::api::{Api, PostParams};
use maud::{Markup, html};

use crate::auth::{CsrfForm, Signed, console_access};
use crate::config::PREFLIGHT_CONFIG;
use crate::page::{PageError, Tab, page, see_other};
use crate::state::{AppState, Shared};

/// The tab.
const PATH: &str = "/preflight";
/// The key of ConfigMap [`PREFLIGHT_CONFIG`] that holds the configuration.
const CONFIG_KEY: &str = "preflight.yaml";
/// [`genesis_preflight::Remedy::ClusterCredentials`] in the console's words.
const CLUSTER_CREDENTIALS: &str = "give the console credentials for the cluster: run it in the cluster with its \
                                   ServiceAccount (deploy/console/deployment.yaml), or start it with --kubeconfig";
/// How long a POST waits for its run before the browser is sent back to the tab, which then
/// says a run is in progress: less than the 60 s a connection may stay silent.
const WAIT_FOR_RUN: Duration = Duration::from_secs(40);

/// The tab's routes.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route(PATH, get(show))
        .route("/preflight/run", post(run_all))
        .route("/preflight/checks/{id}/run", post(run_one))
        .route("/preflight/results.json", get(results_json))
        .route("/preflight/config", post(save_config))
}

// ---- the last run

/// The last pre-flight run: its rows (a row run again alone replaced in place), when it
/// finished and who ran it; and the turn that lets runs go one at a time. In memory only: a
/// restarted console has no results until someone runs the checks.
#[derive(Default)]
pub struct LastRun {
    last: Mutex<Option<Run>>,
    /// Held by the run under way: while it is, another run is refused ([`LastRun::start`]).
    turn: Arc<tokio::sync::Mutex<()>>,
}

/// A run of every check, and the rows run again since.
#[derive(Debug, Clone)]
struct Run {
    rows: Vec<Row>,
    /// When the run of every check finished (Unix seconds).
    finished: i64,
    /// Who ran it (the user's name).
    by: String,
}

/// One row, and when and by whom it was last run.
#[derive(Debug, Clone)]
struct Row {
    check: Check,
    at: i64,
    by: String,
    /// Run again on its own since the run of every check (within the same second, too).
    alone: bool,
}

impl LastRun {
    fn last(&self) -> Option<Run> {
        self.last.lock().unwrap_or_else(PoisonError::into_inner).clone()
    }

    /// Whether a run is under way.
    fn running(&self) -> bool {
        self.turn.try_lock().is_err()
    }

    /// The turn of a new run, held until it ends; refused (409) while another is under way,
    /// rather than queued behind it: each run may hold connections for minutes, and a queue
    /// of them would be a way to make the console contact the configuration's endpoints
    /// again and again.
    fn start(&self) -> Result<tokio::sync::OwnedMutexGuard<()>, PageError> {
        Arc::clone(&self.turn).try_lock_owned().map_err(|_| {
            PageError::new(
                StatusCode::CONFLICT,
                "A pre-flight run is already under way, so yours was not started (runs are not queued).",
                "wait until it ends (the Pre-flight tab then shows its results), and run again if you still need to",
            )
        })
    }

    /// Records `checks`, run by `by` at `at`: as the last run when they are `whole` (every
    /// check of the configuration), else each in place of the row of its id (appended when
    /// the last run has none, as after a change of the configuration).
    fn record(&self, checks: Vec<Check>, whole: bool, by: &str, at: i64) {
        let rows = checks.into_iter().map(|check| Row { check, at, by: by.to_owned(), alone: !whole });
        let mut last = self.last.lock().unwrap_or_else(PoisonError::into_inner);
        match &mut *last {
            Some(run) if !whole => {
                for row in rows {
                    match run.rows.iter_mut().find(|r| r.check.id == row.check.id) {
                        Some(old) => *old = row,
                        None => run.rows.push(row),
                    }
                }
            }
            _ => *last = Some(Run { rows: rows.collect(), finished: at, by: by.to_owned() }),
        }
    }

    /// The last run's rows as `genesis preflight --output json` reports them (the same
    /// encoder, [`Report`]), for the download and the support bundle; None before any run.
    pub fn json(&self) -> Option<Vec<u8>> {
        let run = self.last()?;
        let checks: Vec<Check> = run.rows.into_iter().map(|row| row.check).collect();
        let mut json = serde_json::to_vec_pretty(&Report::new(&checks, CLUSTER_CREDENTIALS)).ok()?;
        json.push(b'\n');
        Some(json)
    }

    /// The last result of check `id` and its remedy in the console's words, for advice on
    /// it; None when the last run has no such row.
    pub(crate) fn result(&self, id: &str) -> Option<(Check, String)> {
        let row = self.last()?.rows.into_iter().find(|row| row.check.id == id)?;
        let remedy = row.check.remedy.step(CLUSTER_CREDENTIALS).to_owned();
        Some((row.check, remedy))
    }
}

// ---- the configuration

/// `verb` on ConfigMap [`PREFLIGHT_CONFIG`] in the console's namespace: what a user needs to
/// see the configuration (`get`) or change it (`update`).
fn config_access(state: &AppState, verb: &str) -> Access {
    Access {
        verb: verb.to_owned(),
        group: String::new(),
        resource: "configmaps".to_owned(),
        namespace: Some(state.config.namespace.clone()),
        name: Some(PREFLIGHT_CONFIG.to_owned()),
    }
}

/// The API of the console's namespace's ConfigMaps, and the error of a request about ours.
fn config_maps(state: &AppState) -> (Api<ConfigMap>, impl Fn(kube::Error) -> KubeError + Copy + '_) {
    let namespace = &state.config.namespace;
    let failed = move |source: kube::Error| KubeError::Api {
        object: format!("ConfigMap {namespace}/{PREFLIGHT_CONFIG}"),
        source,
    };
    (Api::namespaced(state.cluster.client().clone(), namespace), failed)
}

/// The configuration as the ConfigMap holds it, read with the console's own rights; None
/// when there is no ConfigMap or no key [`CONFIG_KEY`] in it.
async fn read_config(state: &AppState) -> Result<Option<String>, PageError> {
    let (maps, failed) = config_maps(state);
    let found = maps.get_opt(PREFLIGHT_CONFIG).await.map_err(failed)?;
    Ok(found.and_then(|map| map.data).and_then(|mut data| data.remove(CONFIG_KEY)))
}

/// The configuration to run: refused (422) when there is none or it does not parse.
async fn configured_spec(state: &AppState) -> Result<PreflightSpec, PageError> {
    let place = format!("ConfigMap {}/{PREFLIGHT_CONFIG}", state.config.namespace);
    let Some(text) = read_config(state).await? else {
        return Err(PageError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("There is no pre-flight configuration: {place} has no key {CONFIG_KEY}."),
            "write one in the Configuration form of the Pre-flight tab and save it",
        ));
    };
    PreflightSpec::parse(&text).map_err(|e| {
        PageError::new(
            StatusCode::UNPROCESSABLE_ENTITY,
            format!("The pre-flight configuration in {place} cannot be used: {e}"),
            "correct it in the Configuration form of the Pre-flight tab and save it",
        )
    })
}

/// Writes `text` as the configuration, in place of what the ConfigMap held under
/// [`CONFIG_KEY`] (its other keys kept), or as a new ConfigMap when `signed` may also
/// `create` ConfigMaps in the namespace (checked here: `update` of one that is not there
/// grants nothing, and the console's own right to create is not lent).
async fn write_config(state: &AppState, signed: &Signed, text: &str) -> Result<(), PageError> {
    let (maps, failed) = config_maps(state);
    let found = maps.get_opt(PREFLIGHT_CONFIG).await.map_err(failed)?;
    if found.is_none() {
        let create = Access { name: None, ..config_access(state, "create") };
        signed.authorize(state, &create).await?;
    }
    let written = match found {
        Some(mut map) => {
            map.data.get_or_insert_default().insert(CONFIG_KEY.to_owned(), text.to_owned());
            // The resourceVersion read makes this refused if someone saved meanwhile.
            maps.replace(PREFLIGHT_CONFIG, &PostParams::default(), &map).await
        }
        None => {
            let map = ConfigMap {
                metadata: ObjectMeta {
                    name: Some(PREFLIGHT_CONFIG.to_owned()),
                    namespace: Some(state.config.namespace.clone()),
                    ..ObjectMeta::default()
                },
                data: Some(BTreeMap::from([(CONFIG_KEY.to_owned(), text.to_owned())])),
                ..ConfigMap::default()
            };
            maps.create(&PostParams::default(), &map).await
        }
    };
    match written {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 409 => Err(PageError::new(
            StatusCode::CONFLICT,
            "The pre-flight configuration was saved by someone else while you edited it; yours was not saved.",
            "open the Pre-flight tab again, then make your change to what it shows and save",
        )),
        Err(e) => Err(failed(e).into()),
    }
}

// ---- running

/// Checks that `signed` may run `planned` from `spec` and starts it: the runner's own `get`
/// of every Service the checks name ([`service_accesses`]), then the run's turn
/// ([`LastRun::start`]), then the endpoints named in the console's log ([`announce`]), then
/// [`run`]. A run of every check (`whole`) also forgets the dependencies the configuration no
/// longer names, which are then no longer degraded.
async fn start_run(
    state: &Shared,
    signed: &Signed,
    spec: &PreflightSpec,
    planned: Vec<Planned>,
    whole: bool,
) -> Result<(), PageError> {
    signed.authorize_all(state, &service_accesses(&planned)).await?;
    let turn = state.preflight.start()?;
    if whole {
        state.discovery.retain(&planned.iter().filter_map(Planned::service).collect::<Vec<_>>());
    }
    announce(spec, &planned, whole, &signed.user.name);
    run(state, turn, planned, whole, &signed.user.name).await
}

/// `get services NAME in NAMESPACE` for each Service `planned` names, each once: what the
/// person who runs the checks needs, since the console looks the Services up (and says what
/// it found: their ports, their addresses) with its own rights.
fn service_accesses(planned: &[Planned]) -> Vec<Access> {
    let mut accesses: Vec<Access> = Vec::new();
    for service in planned.iter().filter_map(Planned::service) {
        let access = Access {
            verb: "get".to_owned(),
            group: String::new(),
            resource: "services".to_owned(),
            namespace: Some(service.namespace.clone()),
            name: Some(service.name.clone()),
        };
        if !accesses.contains(&access) {
            accesses.push(access);
        }
    }
    accesses
}

/// Says in the console's log, before a run contacts anything, what it may contact: the
/// endpoints `spec` names (passwords left out), as `genesis preflight` announces them before
/// its checks, at the level and under the target ([`genesis_types::EGRESS_TARGET`]) each
/// Service's endpoint is announced with once resolved.
fn announce(spec: &PreflightSpec, planned: &[Planned], whole: bool, by: &str) {
    let endpoints = spec.endpoints();
    let named = if endpoints.is_empty() { "no network endpoint".to_owned() } else { endpoints.join(", ") };
    let which = if whole {
        format!("this pre-flight run contacts only {named}")
    } else {
        let ids: Vec<&str> = planned.iter().map(Planned::id).collect();
        format!("this pre-flight run of {} contacts only what it names among {named}", ids.join(", "))
    };
    tracing::warn!(target: genesis_types::EGRESS_TARGET, user = %by, "network: {which}");
}

/// Runs `planned` in a task of its own, holding `turn` until it ends, and records its rows
/// ([`LastRun::record`]). Waits for it at most [`WAIT_FOR_RUN`]: a browser that leaves, or a
/// run that outlasts the wait, does not stop it, and the tab then shows it in progress.
async fn run(
    state: &Shared,
    turn: tokio::sync::OwnedMutexGuard<()>,
    planned: Vec<Planned>,
    whole: bool,
    by: &str,
) -> Result<(), PageError> {
    let state = Arc::clone(state);
    let by = by.to_owned();
    let task = tokio::spawn(async move {
        let _turn = turn;
        let resolver = state.discovery.resolver(&state.cluster);
        let kubeconfig = state.config.kubeconfig.as_deref();
        let mut checks = Vec::with_capacity(planned.len());
        for planned in &planned {
            checks.push(planned.run(kubeconfig, &resolver).await);
        }
        let failed = checks.iter().filter(|c| !matches!(c.status, Status::Pass | Status::Warn)).count();
        tracing::info!(user = %by, checks = checks.len(), failed, whole, "pre-flight run");
        let now = i64::try_from(genesis_bundle::unix_now()).unwrap_or(i64::MAX);
        state.preflight.record(checks, whole, &by, now);
    });
    match tokio::time::timeout(WAIT_FOR_RUN, task).await {
        Ok(Err(stopped)) => Err(PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            format!("The pre-flight run stopped before it finished: {stopped}"),
            "run it again; if it stops again, take a support bundle, whose console log says why",
        )),
        Ok(Ok(())) | Err(_) => Ok(()),
    }
}

/// `POST /preflight/run`: every check of the configuration.
async fn run_all(
    State(state): State<Shared>,
    signed: Signed,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    signed.check_post(&form.csrf, &headers, &state, &console_access(&state, "create", "preflights")).await?;
    let spec = configured_spec(&state).await?;
    let planned = spec.plan();
    start_run(&state, &signed, &spec, planned, true).await?;
    Ok(see_other(PATH))
}

/// `POST /preflight/checks/{id}/run`: the one check of that id, as the configuration now
/// plans it.
async fn run_one(
    State(state): State<Shared>,
    signed: Signed,
    Path(id): Path<String>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    signed.check_post(&form.csrf, &headers, &state, &console_access(&state, "create", "preflights")).await?;
    let spec = configured_spec(&state).await?;
    let Some(planned) = spec.plan().into_iter().find(|p| p.id() == id) else {
        return Err(PageError::not_found(format!(
            "The pre-flight configuration has no check {id:?}: it changed since the page was shown."
        )));
    };
    start_run(&state, &signed, &spec, vec![planned], false).await?;
    Ok(see_other(PATH))
}

/// `GET /preflight/results.json`: the last run as `genesis preflight --output json` writes
/// it, as a download.
async fn results_json(State(state): State<Shared>, signed: Signed) -> Result<Response, PageError> {
    signed.authorize(&state, &console_access(&state, "get", "preflights")).await?;
    let Some(json) = state.preflight.json() else {
        return Err(PageError::new(
            StatusCode::NOT_FOUND,
            "No pre-flight has run since the console started: there are no results to download.",
            "run pre-flight on the Pre-flight tab first",
        ));
    };
    let mut response = ([(header::CONTENT_TYPE, "application/json")], json).into_response();
    genesis_web::secure_headers(response.headers_mut(), true);
    Ok(genesis_web::attachment(response, "preflight.json"))
}

// ---- the page

/// The configuration form as posted.
#[derive(serde::Deserialize)]
struct ConfigForm {
    /// Missing reads as empty, which never matches.
    #[serde(default)]
    csrf: String,
    /// The configuration's text.
    #[serde(default)]
    spec: String,
}

/// `GET /preflight`.
async fn show(State(state): State<Shared>, signed: Signed) -> Result<Response, PageError> {
    tab(&state, &signed, StatusCode::OK, None).await
}

/// `POST /preflight/config`: the configuration saved once it parses; else the tab again,
/// answered 422, with the text as submitted and why it was refused (`#config-error`),
/// nothing saved.
async fn save_config(
    State(state): State<Shared>,
    signed: Signed,
    headers: HeaderMap,
    Form(form): Form<ConfigForm>,
) -> Result<Response, PageError> {
    signed.check_post(&form.csrf, &headers, &state, &config_access(&state, "update")).await?;
    // A browser sends a textarea's lines ended by CR LF.
    let text = form.spec.replace("\r\n", "\n");
    if let Err(e) = PreflightSpec::parse(&text) {
        let refused = Shown::Refused { text, error: e.to_string() };
        return tab(&state, &signed, StatusCode::UNPROCESSABLE_ENTITY, Some(refused)).await;
    }
    write_config(&state, &signed, &text).await?;
    tracing::info!(user = %signed.user.name, "pre-flight configuration saved");
    Ok(see_other(PATH))
}

/// The tab, answered `status`: its configuration as stored, or `refused` as just submitted;
/// the last run; the forms the user may use.
async fn tab(
    state: &AppState,
    signed: &Signed,
    status: StatusCode,
    refused: Option<Shown>,
) -> Result<Response, PageError> {
    signed.authorize(state, &console_access(state, "get", "preflights")).await?;
    let (to_run, to_read) = (console_access(state, "create", "preflights"), config_access(state, "get"));
    let to_advise = console_access(state, "create", crate::advice::ADVICE);
    let (may_run, may_read, may_advise) = tokio::join!(
        genesis_kube::may(&state.cluster, &signed.user, &to_run),
        genesis_kube::may(&state.cluster, &signed.user, &to_read),
        // Asked only when advice is on in this run.
        async {
            if state.advice.enabled() {
                genesis_kube::may(&state.cluster, &signed.user, &to_advise).await
            } else {
                Ok(false)
            }
        },
    );
    let (may_run, may_read, may_advise) = (may_run?, may_read?, may_advise?);
    let config = match refused {
        Some(refused) => refused,
        None if !may_read => Shown::Hidden,
        None => match read_config(state).await? {
            None => Shown::Absent,
            Some(text) => {
                let invalid = PreflightSpec::parse(&text).err().map(|e| e.to_string());
                Shown::Stored { text, invalid }
            }
        },
    };
    let view = View {
        csrf: &signed.csrf,
        namespace: &state.config.namespace,
        config,
        last: state.preflight.last(),
        running: state.preflight.running(),
        may_run,
        may_advise,
    };
    Ok(page(signed, Tab::Preflight, "Pre-flight", status, body(&view)))
}

/// What the tab shows.
struct View<'a> {
    /// The session's CSRF token, for the forms.
    csrf: &'a str,
    /// The console's namespace, where the configuration's ConfigMap is.
    namespace: &'a str,
    config: Shown,
    last: Option<Run>,
    running: bool,
    /// Whether the user may run the checks.
    may_run: bool,
    /// Whether advice is on and the user may ask for it: an "Explain" form on each row that
    /// did not pass.
    may_advise: bool,
}

/// The configuration as the tab shows it.
enum Shown {
    /// The user may not read the ConfigMap.
    Hidden,
    /// The ConfigMap holds none.
    Absent,
    /// As stored, and why it cannot be used when it cannot.
    Stored { text: String, invalid: Option<String> },
    /// As just submitted, and why it was refused.
    Refused { text: String, error: String },
}

/// The word of a status: its badge's class and its row's `data-status`.
fn status_word(status: Status) -> &'static str {
    match status {
        Status::Pass => "pass",
        Status::Warn => "warn",
        Status::Fail => "fail",
        Status::Degraded => "degraded",
    }
}

fn body(view: &View<'_>) -> Markup {
    let usable = !matches!(view.config, Shown::Absent | Shown::Stored { invalid: Some(_), .. });
    html! {
        h1 { "Pre-flight" }
        p.lede {
            "Checks that the infrastructure the platform relies on is ready before anything is installed: "
            "PostgreSQL, Redis, cert-manager, DNS, TLS chains, the image registry, disk. The checks only look; "
            "nothing is changed, and each gives up after 5 seconds."
        }
        @if let Shown::Absent = view.config {
            p #preflight-no-config .notice {
                "There is no pre-flight configuration yet: ConfigMap " code { (view.namespace) "/" (PREFLIGHT_CONFIG) }
                " has no key " code { (CONFIG_KEY) } ". Write one in the form below and save it, or create it with "
                code {
                    "kubectl create configmap " (PREFLIGHT_CONFIG) " -n " (view.namespace) " --from-file="
                    (CONFIG_KEY)
                }
                "."
            }
        }
        h2 { "Results" }
        @if view.running {
            p #preflight-running .notice role="status" aria-live="polite" {
                "A pre-flight run is in progress; its results replace these when it ends. "
                a href=(PATH) { "Reload the page" } " to see them."
            }
        }
        @match &view.last {
            None => p #preflight-none .muted { "No pre-flight has run since the console started." },
            Some(run) => {
                p #preflight-summary {
                    "Last run finished " (date(run.finished)) ", started by " span.mono { (run.by) } ": "
                    (summary(&run.rows)) "."
                }
                (results(run, view))
                p {
                    a #preflight-json href="/preflight/results.json" download="preflight.json" {
                        "Download the results (JSON)"
                    }
                    " — the report of " code { "genesis preflight --output json" } ", for a support ticket or a "
                    "record."
                }
            }
        }
        @if !view.may_run {
            p #preflight-view-only .notice {
                "Your account may see the results but not run the checks, which needs "
                code { "create preflights.console.genesis.dev in " (view.namespace) } "."
            }
        } @else if usable {
            form #run-preflight method="post" action="/preflight/run" {
                (csrf_field(view.csrf))
                div.actions { button.primary type="submit" { "Run pre-flight" } }
            }
        }
        h2 { "Configuration" }
        (config_section(view))
    }
}

/// `3 passed, 1 warning, 1 failed, 1 degraded`.
fn summary(rows: &[Row]) -> String {
    let n = |status| rows.iter().filter(|r| r.check.status == status).count();
    let mut parts = vec![
        format!("{} passed", n(Status::Pass)),
        count(n(Status::Warn), "warning", "warnings"),
        format!("{} failed", n(Status::Fail)),
    ];
    if n(Status::Degraded) > 0 {
        parts.push(format!("{} degraded", n(Status::Degraded)));
    }
    parts.join(", ")
}

/// The rows: `tr[data-check=ID][data-status=…]`, each with its re-run form when the user may
/// run the checks, and its "Explain" form (`form.explain`, opt-in advice) when it did not
/// pass and the user may ask for advice.
fn results(run: &Run, view: &View<'_>) -> Markup {
    let mut columns =
        vec![Column::Text("Check"), Column::Text("Status"), Column::Text("Detail"), Column::Text("Remedy")];
    if view.may_run {
        columns.push(Column::Text("Run again"));
    }
    if view.may_advise {
        columns.push(Column::Text("Advice"));
    }
    let rows = html! {
        @for row in &run.rows {
            @let check = &row.check;
            @let word = status_word(check.status);
            tr data-check=(check.id) data-status=(word) {
                th scope="row" { (check.name) }
                td { span class=(word) { (check.status) } }
                td {
                    (check.detail)
                    @if row.alone {
                        br;
                        span.muted { "run again " (date(row.at)) " by " (row.by) }
                    }
                }
                td { (check.remedy.step(CLUSTER_CREDENTIALS)) }
                @if view.may_run {
                    td {
                        form.rerun method="post" action=(format!("/preflight/checks/{}/run", segment(&check.id))) {
                            (csrf_field(view.csrf))
                            button.secondary type="submit" aria-label=(format!("Run the check {} again", check.name)) {
                                "Re-run"
                            }
                        }
                    }
                }
                @if view.may_advise {
                    td {
                        @if check.status != Status::Pass {
                            form.explain method="post" action="/advice/explain" {
                                (csrf_field(view.csrf))
                                input type="hidden" name="check" value=(check.id);
                                button.secondary type="submit"
                                    aria-label=(format!("Explain the result of {} with opt-in advice", check.name)) {
                                    "Explain"
                                }
                            }
                        }
                    }
                }
            }
        }
    };
    table("preflight-results", &columns, rows)
}

/// The editor, or why it is not shown.
fn config_section(view: &View<'_>) -> Markup {
    let (text, error) = match &view.config {
        Shown::Hidden => {
            return html! {
                p #preflight-config-hidden .notice {
                    "Your account may not read ConfigMap " code { (view.namespace) "/" (PREFLIGHT_CONFIG) }
                    ", which may hold passwords, so the configuration is not shown: reading it needs "
                    code { "get configmaps " (PREFLIGHT_CONFIG) " in " (view.namespace) } ", changing it "
                    code { "update" } "."
                }
            };
        }
        Shown::Absent => ("", None),
        Shown::Stored { text, invalid } => (text.as_str(), invalid.as_deref()),
        Shown::Refused { text, error } => (text.as_str(), Some(error.as_str())),
    };
    html! {
        form #preflight-config method="post" action="/preflight/config" {
            (csrf_field(view.csrf))
            label for="spec" { (CONFIG_KEY) ", in " code { "genesis preflight" } "'s format" }
            textarea #spec name="spec" rows="18" spellcheck="false" aria-describedby="spec-hint"
                aria-invalid=[error.map(|_| "true")]
                placeholder="postgres: { url: \"postgres://genesis@db/genesis\", service: \"data/postgres:sql\" }" {
                (text)
            }
            @if let Some(error) = error {
                p #config-error .error role="alert" { "Not saved: " (error) }
            }
            div #spec-hint .hint {
                p {
                    "Every part is optional: " code { "postgres" } ", " code { "redis" } ", " code { "kubernetes" }
                    ", " code { "dns" } ", " code { "tls" } ", " code { "registry" } ", " code { "disk" }
                    ". It is checked before it is saved."
                }
                p {
                    "A dependency running in the cluster may be named by its Service: "
                    code { "service: NAMESPACE/SERVICE:PORT-NAME" } " on " code { "postgres" } ", " code { "redis" }
                    ", " code { "registry" } " or a " code { "tls" } " entry. The console asks the API server where "
                    "that Service's port of that name is, keeps the answer 30 seconds, and connects there; "
                    code { "GENESIS_ENDPOINT_NAMESPACE_SERVICE_PORT=host:port" }
                    " in the console's environment (uppercase, " code { "-" } " as " code { "_" } ") overrides it."
                }
                p { "Files it names (CA bundles, an authfile, a bundle) are read in the console's container." }
            }
            div.actions { button #save-config .secondary type="submit" { "Save configuration" } }
        }
    }
}

#[cfg(test)]
mod tests {
    use genesis_preflight::Remedy;

    use super::*;

    fn check(id: &str, name: &str, status: Status, detail: &str, remedy: Remedy) -> Check {
        Check { id: id.to_owned(), name: name.to_owned(), status, detail: detail.to_owned(), remedy }
    }

    fn checks() -> Vec<Check> {
        vec![
            check(
                "postgres",
                "postgres postgres://genesis@10.96.0.12:5432/genesis",
                Status::Pass,
                "connected",
                Remedy::Nothing,
            ),
            check(
                "redis",
                "redis redis://@10.96.0.13:6379 (Service data/redis:resp)",
                Status::Fail,
                "cannot connect",
                "start Redis".into(),
            ),
            check(
                "cert-manager",
                "kubernetes cert-manager",
                Status::Warn,
                "no credentials",
                Remedy::ClusterCredentials,
            ),
            check("dns:<db>", "dns <db>", Status::Degraded, "not checked", "create it".into()),
        ]
    }

    fn view(last: Option<Run>, config: Shown, may_run: bool) -> View<'static> {
        View { csrf: "tok", namespace: "genesis", config, last, running: false, may_run, may_advise: false }
    }

    fn stored(text: &str) -> Shown {
        Shown::Stored { text: text.to_owned(), invalid: None }
    }

    #[test]
    fn a_run_of_one_row_replaces_that_row_and_keeps_the_rest() {
        let last = LastRun::default();
        assert!(last.last().is_none() && last.json().is_none());
        last.record(checks(), true, "alice", 100);
        let mut again = checks()[1].clone();
        again.status = Status::Pass;
        last.record(vec![again], false, "bob", 200);
        let extra = check("disk", "disk /var", Status::Pass, "fits", Remedy::Nothing);
        last.record(vec![extra], false, "bob", 300);
        let run = last.last().unwrap();
        let ids: Vec<_> = run.rows.iter().map(|r| r.check.id.as_str()).collect();
        assert_eq!(ids, ["postgres", "redis", "cert-manager", "dns:<db>", "disk"]);
        assert_eq!((run.finished, run.by.as_str()), (100, "alice"));
        assert_eq!((run.rows[1].check.status, run.rows[1].at, run.rows[1].by.as_str()), (Status::Pass, 200, "bob"));
        last.record(checks()[..1].to_vec(), true, "carol", 400);
        assert_eq!(last.last().unwrap().rows.len(), 1, "a run of every check replaces the last run");
    }

    #[test]
    fn a_run_asked_for_while_one_is_under_way_is_refused_not_queued() {
        let last = LastRun::default();
        let turn = last.start().unwrap();
        assert!(last.running());
        let refused = last.start().unwrap_err();
        assert_eq!(refused.status, StatusCode::CONFLICT);
        assert!(refused.what.contains("already under way"), "{}", refused.what);
        drop(turn);
        assert!(!last.running());
        assert!(last.start().is_ok(), "the next run, once it ended");
    }

    #[test]
    fn a_run_needs_the_runner_s_get_of_each_service_it_names_once() {
        let spec = PreflightSpec::parse(
            "postgres: { url: \"postgres://db\", service: \"data/postgres:sql\" }\n\
             redis: { url: \"redis://cache\", service: \"data/postgres:resp\" }\n\
             registry: { url: \"https://registry\", service: \"infra/registry:https\" }\n\
             dns: [ localhost ]\n",
        )
        .unwrap();
        let planned = spec.plan();
        let described: Vec<String> = service_accesses(&planned).iter().map(Access::describe).collect();
        assert_eq!(described, ["get services postgres in data", "get services registry in infra"]);
        let dns: Vec<Planned> = planned.into_iter().filter(|p| p.service().is_none()).collect();
        assert!(service_accesses(&dns).is_empty(), "a check naming no Service needs no right on one");
    }

    #[test]
    fn the_json_is_the_cli_s_report_with_the_console_s_words() {
        let last = LastRun::default();
        last.record(checks(), true, "alice", 100);
        let json: serde_json::Value = serde_json::from_slice(&last.json().unwrap()).unwrap();
        let rows = json["checks"].as_array().unwrap();
        assert_eq!(rows.len(), 4);
        assert_eq!(rows[1]["id"], "redis");
        assert_eq!(rows[1]["status"], "fail");
        assert_eq!(rows[1]["remedy"], "start Redis");
        assert_eq!(rows[2]["remedy"], CLUSTER_CREDENTIALS);
        assert_eq!(rows[3]["status"], "degraded");
        assert!(CLUSTER_CREDENTIALS.contains("--kubeconfig") && CLUSTER_CREDENTIALS.contains("ServiceAccount"));
    }

    #[test]
    fn each_row_carries_its_id_status_and_a_form_to_run_it_again() {
        let run = Run {
            rows: checks().into_iter().map(|check| Row { check, at: 100, by: "alice".into(), alone: false }).collect(),
            finished: 100,
            by: "alice".into(),
        };
        let text = body(&view(Some(run), stored("postgres: { url: \"postgres://db\" }\n"), true)).into_string();
        assert!(text.contains(r#"<table id="preflight-results">"#), "{text}");
        assert!(text.contains(r#"data-check="redis" data-status="fail""#), "{text}");
        assert!(text.contains(r#"data-check="dns:&lt;db&gt;" data-status="degraded""#), "escaped: {text}");
        assert!(text.contains(r#"<span class="degraded">DEGRADED</span>"#), "{text}");
        assert!(text.contains(r#"<form class="rerun" method="post" action="/preflight/checks/redis/run">"#), "{text}");
        assert!(text.contains(r#"action="/preflight/checks/dns%3A%3Cdb%3E/run""#), "one URL segment: {text}");
        assert!(text.contains(r#"<form id="run-preflight" method="post" action="/preflight/run">"#), "{text}");
        assert!(text.contains(r#"<a id="preflight-json" href="/preflight/results.json""#), "{text}");
        assert!(text.contains("1 passed, 1 warning, 1 failed, 1 degraded"), "{text}");
        assert!(text.contains(CLUSTER_CREDENTIALS), "{text}");
        assert!(!text.contains("run again 1970"), "rows of the run itself carry no note: {text}");
        assert!(text.contains(r#"<textarea id="spec" name="spec""#), "{text}");
        assert!(!text.contains("config-error"), "{text}");
    }

    #[test]
    fn with_advice_each_row_that_did_not_pass_offers_an_explanation() {
        let run = Run {
            rows: checks().into_iter().map(|check| Row { check, at: 100, by: "alice".into(), alone: false }).collect(),
            finished: 100,
            by: "alice".into(),
        };
        let text = body(&View { may_advise: true, ..view(Some(run.clone()), Shown::Hidden, false) }).into_string();
        let explain = r#"<form class="explain" method="post" action="/advice/explain">"#;
        assert_eq!(text.matches(explain).count(), 3, "fail, warn and degraded: {text}");
        assert!(text.contains(r#"<input type="hidden" name="check" value="redis">"#), "{text}");
        assert!(!text.contains(r#"name="check" value="postgres""#), "a row that passed has none: {text}");
        assert!(!body(&view(Some(run), Shown::Hidden, true)).into_string().contains(explain), "advice off");
    }

    #[test]
    fn a_viewer_sees_the_results_without_any_form_to_run_them() {
        let run = Run {
            rows: vec![Row { check: checks().remove(0), at: 200, by: "bob".into(), alone: true }],
            finished: 100,
            by: "alice".into(),
        };
        let text = body(&view(Some(run), Shown::Hidden, false)).into_string();
        assert!(text.contains("data-check=\"postgres\""), "{text}");
        assert!(!text.contains("rerun") && !text.contains("run-preflight"), "{text}");
        assert!(text.contains(r#"id="preflight-view-only""#), "{text}");
        assert!(text.contains("run again 1970-01-01 00:03 UTC by bob"), "{text}");
        assert!(text.contains(r#"id="preflight-config-hidden""#) && !text.contains("<textarea"), "{text}");
    }

    #[test]
    fn without_a_configuration_the_tab_says_how_to_make_one_and_offers_no_run() {
        let text = body(&view(None, Shown::Absent, true)).into_string();
        assert!(text.contains(r#"id="preflight-no-config""#), "{text}");
        assert!(
            text.contains("kubectl create configmap genesis-preflight -n genesis --from-file=preflight.yaml"),
            "{text}"
        );
        assert!(text.contains(r#"id="preflight-none""#) && !text.contains("run-preflight"), "{text}");
        assert!(text.contains(r#"<form id="preflight-config" method="post" action="/preflight/config">"#), "{text}");
    }

    #[test]
    fn a_configuration_that_does_not_parse_is_shown_with_why() {
        let error = PreflightSpec::parse("postgres: [").unwrap_err().to_string();
        let refused = Shown::Refused { text: "postgres: [".into(), error: error.clone() };
        let text = body(&view(None, refused, true)).into_string();
        assert!(
            text.contains(r#"<p class="error" id="config-error" role="alert">Not saved: not a preflight file"#),
            "{text}"
        );
        assert!(text.contains(r#"aria-invalid="true""#), "{text}");
        assert!(text.contains(">postgres: [</textarea>"), "the text as submitted: {text}");
        let invalid = Shown::Stored { text: "postgres: [".into(), invalid: Some(error) };
        let text = body(&view(None, invalid, true)).into_string();
        assert!(text.contains(r#"id="config-error""#) && !text.contains("run-preflight"), "{text}");
    }
}
