//! The Support bundle tab (seed 000: "attach a redacted bundle to a ticket — pull, never
//! push"): the archive `genesis support-bundle` writes (`genesis_support`, decision 0039),
//! made by the console for the signed-in user and downloaded by them alone. It holds the
//! cluster's version and nodes, the install records, the namespaces the user chose (the
//! installed bundles' are offered), this console's own log and its last pre-flight results,
//! every byte redacted before it is kept; the page shows its SHA-256 and the redaction report
//! by rule and count. Nothing is sent anywhere.
//!
//! Making one takes `create supportbundles.console.genesis.dev`; then the console reads the
//! cluster with its own credentials, but only the lists the user may `list` themselves (a
//! SubjectAccessReview for each of [`genesis_support::Options::listings`]): the others are
//! withheld, not read, and named in the archive's README and on the page. The console's own
//! log goes in only for a user who may `get logs.console.genesis.dev` (it tells who did what
//! in the console), and the last pre-flight results only for one who may `get preflights`;
//! either left out is named on the page.
//!
//! Collecting asks the API server for some ten lists per namespace and redacts every value,
//! which takes seconds on a busy cluster: the archive is made in the background, and its page
//! reloads itself every two seconds (and says so, in a live region) until it is ready, as the
//! portal's export pages do; a browser that goes away does not stop it. Finished archives are
//! files in a temporary folder of the console (readable by it alone), kept an hour from when
//! they were asked for, five at most, and removed when they expire or the console stops. A
//! download is read from that file as it is sent, never held whole in memory.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::body::{Body, Bytes};
use axum::extract::{Path as UrlPath, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use genesis_kube::{Access, UserInfo};
use genesis_support::{Input, Listing, Options, RedactionReport, Redactor};
use genesis_web::html::{Column, count, csrf_field, date, table};
use maud::{Markup, html};

use crate::auth::{Signed, console_access};
use crate::page::{PageError, Tab, page, see_other};
use crate::state::{AppState, Shared};
use crate::status::install_records_access;

/// The console's virtual resource a support bundle is: RBAC grants `create` on it.
const SUPPORT_BUNDLES: &str = "supportbundles";
/// How long an archive is kept, from when it was asked for.
const KEPT: Duration = Duration::from_secs(3600);
/// The most archives kept (those being made included).
const MAX_ARCHIVES: usize = 5;
/// How often the page of an archive being made reloads itself.
const REFRESH_SECONDS: u32 = 2;
/// The console's own log in the archive: `logs/console.log`.
const CONSOLE_LOG: &str = "console.log";
/// The console's virtual resource its own log is: RBAC grants `get` on it to whoever may have
/// it in a support bundle.
const LOGS: &str = "logs";
/// The most bytes of an archive read at once for its download.
const DOWNLOAD_CHUNK: u64 = 256 * 1024;

/// `GET /support`, `POST /support/bundles`, `GET /support/bundles/{id}` and its download.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/support", get(form))
        .route("/support/bundles", post(make))
        .route("/support/bundles/{id}", get(archive))
        .route("/support/bundles/{id}/download", get(download))
}

/// The support bundles of this console: being made, or made and kept for their download.
#[derive(Default)]
pub struct Archives {
    kept: Mutex<Kept>,
}

/// What [`Archives`] holds.
#[derive(Default)]
struct Kept {
    /// The folder the archives are written in, made with the first: a console that makes
    /// none writes nothing. Removed, with what it holds, when the console stops.
    dir: Option<tempfile::TempDir>,
    /// Oldest first.
    archives: Vec<Archive>,
}

/// One support bundle.
struct Archive {
    /// 32 random bytes, hex: its page's and download's name, which no one guesses.
    id: String,
    /// Who asked for it: the only one who sees or downloads it.
    owner: Owner,
    /// When it was asked for.
    started: Instant,
    /// The same, in seconds since the Unix epoch, for the page and the file's name.
    started_unix: u64,
    /// Its folder, which holds the archive and its `.sha256`.
    dir: PathBuf,
    stage: Stage,
}

/// A user as an archive's owner: their name and uid, whatever groups they have today.
#[derive(Debug, Clone, PartialEq, Eq)]
struct Owner {
    name: String,
    uid: String,
}

impl Owner {
    fn of(user: &UserInfo) -> Owner {
        Owner { name: user.name.clone(), uid: user.uid.clone() }
    }
}

/// Where a support bundle stands.
#[derive(Debug, Clone)]
enum Stage {
    /// Being collected, redacted and written.
    Making,
    /// Written.
    Ready(Arc<Made>),
    /// Not made: why.
    Failed(String),
}

/// A support bundle written.
#[derive(Debug)]
struct Made {
    /// The archive.
    path: PathBuf,
    /// Its name, the download's: `genesis-support-<UTC time>.tar.gz`.
    file_name: String,
    /// Its SHA-256, hex, as its `.sha256` says and `sha256sum` prints.
    sha256: String,
    /// Its size in bytes.
    size: u64,
    /// How many values each rule replaced.
    report: RedactionReport,
    /// The namespaces collected.
    namespaces: Vec<String>,
    /// What could not be collected.
    warnings: Vec<String>,
    /// What the user may not read, left out.
    withheld: Vec<String>,
}

/// What a page shows of an archive.
#[derive(Debug, Clone)]
struct View {
    id: String,
    started_unix: u64,
    stage: Stage,
}

impl Archives {
    /// None yet; no folder made.
    pub fn new() -> Archives {
        Archives::default()
    }

    fn kept(&self) -> std::sync::MutexGuard<'_, Kept> {
        self.kept.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new archive of `owner`, being made from `now` (`unix`): its id and the folder to
    /// write it in. Archives an hour old go first, then, when [`MAX_ARCHIVES`] are kept, the
    /// oldest finished one; when all are being made, the request is refused.
    fn start(&self, owner: &UserInfo, now: Instant, unix: u64) -> Result<(String, PathBuf), PageError> {
        let mut kept = self.kept();
        kept.expire(now);
        if kept.archives.len() >= MAX_ARCHIVES {
            let Some(oldest) = kept.archives.iter().position(|a| !matches!(a.stage, Stage::Making)) else {
                return Err(PageError::new(
                    StatusCode::TOO_MANY_REQUESTS,
                    format!("{MAX_ARCHIVES} support bundles are being made already."),
                    "wait until one is ready (its page says so), then ask again",
                ));
            };
            let archive = kept.archives.remove(oldest);
            remove(&archive.dir);
        }
        if kept.dir.is_none() {
            let dir = tempfile::Builder::new().prefix("genesis-console-support-").tempdir().map_err(|e| {
                PageError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    format!("The console cannot make a folder for support bundles in its temporary directory: {e}."),
                    "give the console a writable temporary directory (TMPDIR, or an emptyDir mounted at /tmp) and \
                     try again",
                )
            })?;
            kept.dir = Some(dir);
        }
        let id = genesis_web::secret::random_token();
        let dir = kept.dir.as_ref().map(|d| d.path().join(&id)).unwrap_or_default();
        std::fs::create_dir(&dir).map_err(|e| {
            PageError::new(
                StatusCode::INTERNAL_SERVER_ERROR,
                format!("The console cannot make the support bundle's folder {}: {e}.", dir.display()),
                "check the space and permissions of the console's temporary directory, then try again",
            )
        })?;
        let archive = Archive {
            id: id.clone(),
            owner: Owner::of(owner),
            started: now,
            started_unix: unix,
            dir: dir.clone(),
            stage: Stage::Making,
        };
        kept.archives.push(archive);
        Ok((id, dir))
    }

    /// Archive `id` made, or not; one that expired meanwhile is removed.
    fn finish(&self, id: &str, outcome: Result<Made, String>, dir: &Path) {
        let mut kept = self.kept();
        match kept.archives.iter_mut().find(|a| a.id == id) {
            Some(archive) => {
                archive.stage = match outcome {
                    Ok(made) => Stage::Ready(Arc::new(made)),
                    Err(why) => Stage::Failed(why),
                }
            }
            None => remove(dir),
        }
    }

    /// Archive `id` as `user` may see it at `now`: only their own, and not once expired.
    fn view(&self, id: &str, user: &UserInfo, now: Instant) -> Option<View> {
        let mut kept = self.kept();
        kept.expire(now);
        let owner = Owner::of(user);
        let archive = kept.archives.iter().find(|a| a.id == id && a.owner == owner)?;
        Some(View { id: archive.id.clone(), started_unix: archive.started_unix, stage: archive.stage.clone() })
    }
}

impl Kept {
    /// Removes the archives asked for [`KEPT`] ago or more, with their files: one still
    /// being made after an hour is stuck, and goes too.
    fn expire(&mut self, now: Instant) {
        self.archives.retain(|archive| {
            let keep = now.saturating_duration_since(archive.started) < KEPT;
            if !keep {
                remove(&archive.dir);
            }
            keep
        });
    }
}

/// Removes an archive's folder; what cannot be is said in the log and goes with the
/// temporary folder when the console stops.
fn remove(dir: &Path) {
    if let Err(e) = std::fs::remove_dir_all(dir)
        && e.kind() != std::io::ErrorKind::NotFound
    {
        tracing::warn!(dir = %dir.display(), error = %e, "removing a support bundle");
    }
}

/// `GET /support`: the form, offering the installed bundles' namespaces when the user may
/// read the install records.
async fn form(State(state): State<Shared>, signed: Signed) -> Result<Response, PageError> {
    signed.authorize(&state, &console_access(&state, "create", SUPPORT_BUNDLES)).await?;
    let offered = if genesis_kube::may(&state.cluster, &signed.user, &install_records_access()).await? {
        match genesis_kube::read_records(&state.cluster).await {
            Ok(records) => Ok(genesis_support::installed_namespaces(&records)),
            Err(e @ genesis_kube::KubeError::UnreadableRecord { .. }) => {
                Err(format!("The installed bundles' namespaces are not offered: {e}. Name them below."))
            }
            Err(e) => return Err(e.into()),
        }
    } else {
        Err("Your account may not list the install records (config maps in genesis-system), so the installed \
             bundles' namespaces are not offered: name the namespaces to collect below."
            .to_owned())
    };
    Ok(page(&signed, Tab::Support, "Support bundle", StatusCode::OK, form_body(&signed.csrf, &offered)))
}

/// The form: a checkbox per installed bundle's namespace (checked), a field for others,
/// whether to redact IP addresses.
fn form_body(csrf: &str, offered: &Result<BTreeSet<String>, String>) -> Markup {
    html! {
        h1 { "Support bundle" }
        p {
            "A redacted archive of what a vendor needs to help: the cluster's version and nodes, the install \
             records, the chosen namespaces' workloads, pods, events, services and config maps (Secrets by name \
             and type only), the last pre-flight results and this console's own log. Every value passes through \
             the redaction rules before it is kept, and a report counts what each rule replaced, never the values. "
            strong { "Nothing is sent anywhere:" }
            " you download the archive and decide whether to attach it to a support ticket. What your own account \
             may not read is left out, and listed in it."
        }
        form #support-form method="post" action="/support/bundles" {
            (csrf_field(csrf))
            fieldset {
                legend { "Namespaces to collect" }
                @match offered {
                    Ok(namespaces) if namespaces.is_empty() => p.muted { "No installed bundle names a namespace yet." },
                    Ok(namespaces) => {
                        @for ns in namespaces {
                            label {
                                input type="checkbox" name="namespace" value=(ns) id={ "namespace-" (ns) } checked;
                                code { (ns) }
                            }
                        }
                    },
                    Err(why) => p.notice { (why) },
                }
                label for="other-namespaces" { "Other namespaces" }
                input #other-namespaces type="text" name="namespaces" autocomplete="off" spellcheck="false"
                    aria-describedby="other-namespaces-hint";
                p.hint #other-namespaces-hint { "Namespace names, separated by spaces or commas." }
            }
            fieldset {
                legend { "Redaction" }
                label {
                    input #redact-ip type="checkbox" name="redact_ip" value="on";
                    "Also redact IP addresses (node, pod and service addresses)"
                }
            }
            div.actions { button #make-support-bundle .primary type="submit" { "Make the support bundle" } }
        }
    }
}

/// What the form asks for.
#[derive(Debug, PartialEq, Eq)]
struct Request {
    /// The namespaces to collect, each once, in the order given.
    namespaces: Vec<String>,
    /// Whether IP addresses are redacted too.
    redact_ip: bool,
}

impl Request {
    /// The form's fields (a checkbox's `namespace` may come many times): the checked
    /// namespaces and those typed in `namespaces`; a name that is no namespace's is refused.
    fn from_fields(fields: &[(String, String)]) -> Result<Request, PageError> {
        let mut namespaces: Vec<String> = Vec::new();
        let typed = fields.iter().filter(|(k, _)| k == "namespaces").flat_map(|(_, v)| v.split([' ', ',', '\t', '\n']));
        let checked = fields.iter().filter(|(k, _)| k == "namespace").map(|(_, v)| v.as_str());
        for ns in checked.chain(typed).map(str::trim).filter(|ns| !ns.is_empty()) {
            if !genesis_support::is_namespace_name(ns) {
                return Err(PageError::bad_request(format!(
                    "{ns:?} is no namespace name: a namespace is named with 1 to 63 lowercase letters, digits and `-`."
                )));
            }
            if !namespaces.iter().any(|n| n == ns) {
                namespaces.push(ns.to_owned());
            }
        }
        let redact_ip = fields.iter().any(|(k, v)| k == "redact_ip" && v == "on");
        Ok(Request { namespaces, redact_ip })
    }
}

/// `POST /support/bundles`: starts making the archive in the background, and sends the
/// browser to its page.
async fn make(
    State(state): State<Shared>,
    signed: Signed,
    headers: HeaderMap,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let csrf = fields.iter().find(|(k, _)| k == "csrf").map_or("", |(_, v)| v.as_str());
    signed.check_post(csrf, &headers, &state, &console_access(&state, "create", SUPPORT_BUNDLES)).await?;
    let request = Request::from_fields(&fields)?;
    let started = genesis_bundle::unix_now();
    let (id, dir) = state.support.start(&signed.user, Instant::now(), started)?;
    tracing::info!(user = %signed.user.name, namespaces = ?request.namespaces, "making a support bundle");
    let user = signed.user.clone();
    let (task_state, task_id) = (Arc::clone(&state), id.clone());
    tokio::spawn(async move {
        let outcome = collect_and_write(&task_state, &user, &dir, request, started).await;
        match &outcome {
            Ok(made) => tracing::info!(user = %user.name, sha256 = %made.sha256, "support bundle made"),
            Err(why) => tracing::warn!(user = %user.name, error = %why, "support bundle not made"),
        }
        task_state.support.finish(&task_id, outcome, &dir);
    });
    Ok(see_other(&format!("/support/bundles/{id}")))
}

/// Collects what `user` may read of what `request` asks for, redacted, with the console's
/// log and last pre-flight run when `user` may read those, and writes the archive in `dir`;
/// what went wrong, said for the page, when it could not.
async fn collect_and_write(
    state: &AppState,
    user: &UserInfo,
    dir: &Path,
    request: Request,
    started: u64,
) -> Result<Made, String> {
    // The console's own log and last pre-flight are the console's, not the cluster's: each
    // needs its own right, and the console's reading of them is not lent.
    let (to_log, to_preflight) = (console_access(state, "get", LOGS), console_access(state, "get", "preflights"));
    let (may_log, may_preflight) = tokio::join!(
        genesis_kube::may(&state.cluster, user, &to_log),
        genesis_kube::may(&state.cluster, user, &to_preflight),
    );
    let unanswered = |e: genesis_kube::KubeError| genesis_types::error_chain(&e);
    let (may_log, may_preflight) = (may_log.map_err(unanswered)?, may_preflight.map_err(unanswered)?);
    let preflight = state.preflight.json();
    let mut left_out = Vec::new();
    if preflight.is_some() && !may_preflight {
        left_out.push(format!("the last pre-flight results: your account may not {}", to_preflight.describe()));
    }
    if !may_log {
        left_out.push(format!("the console's own log: your account may not {}", to_log.describe()));
    }
    let mut options = Options {
        namespaces: request.namespaces,
        recorded_namespaces: false,
        redactor: Redactor::builtin(request.redact_ip),
        preflight: preflight.filter(|_| may_preflight).map(Input::Held),
        extra_logs: if may_log {
            vec![(CONSOLE_LOG.to_owned(), Input::Held(state.log.snapshot()))]
        } else {
            Vec::new()
        },
        withheld: BTreeSet::new(),
    };
    for listing in options.listings() {
        let may = genesis_kube::may(&state.cluster, user, &list_access(&listing)).await;
        if !may.map_err(|e| genesis_types::error_chain(&e))? {
            options.withheld.insert(listing);
        }
    }
    let collected =
        genesis_support::collect(&state.cluster, &options).await.map_err(|e| genesis_types::error_chain(&e))?;
    let file_name = format!("genesis-support-{}.tar.gz", stamp(started));
    let path = dir.join(&file_name);
    let files = collected.files;
    let writing = path.clone();
    let written = tokio::task::spawn_blocking(move || genesis_support::write_archive(&files, &writing))
        .await
        .map_err(|e| format!("writing the archive stopped: {e}"))?
        .map_err(|e| genesis_types::error_chain(&e))?;
    let mut withheld = collected.withheld;
    withheld.extend(left_out);
    Ok(Made {
        path,
        file_name,
        sha256: written.sha256.hex().to_owned(),
        size: written.size,
        report: collected.report,
        namespaces: collected.namespaces,
        warnings: collected.warnings,
        withheld,
    })
}

/// The right to list what `listing` names, as a SubjectAccessReview asks it.
fn list_access(listing: &Listing) -> Access {
    Access {
        verb: "list".to_owned(),
        group: listing.group.clone(),
        resource: listing.resource.clone(),
        namespace: listing.namespace.clone(),
        name: None,
    }
}

/// A time as a file name takes it: `20261130T120000Z` (UTC, ISO 8601's basic format).
fn stamp(unix: u64) -> String {
    genesis_bundle::rfc3339(unix).replace(['-', ':'], "")
}

/// The archive the user asked for, by the id in a URL: another's, an expired one or no such
/// one are all "not found" (an id says nothing of whose it is).
fn find(state: &AppState, id: &str, user: &UserInfo) -> Result<View, PageError> {
    let found = genesis_web::secret::is_token(id).then(|| state.support.view(id, user, Instant::now())).flatten();
    found.ok_or_else(|| {
        PageError::new(
            StatusCode::NOT_FOUND,
            "There is no such support bundle of yours: it expired (archives are kept an hour), the console \
             restarted, or it is another person's.",
            "make a new one on the Support bundle tab",
        )
    })
}

/// `GET /support/bundles/{id}`: the archive being made (the page reloads itself), or made
/// (its SHA-256, the download, the redaction report, what was withheld), or not made (why).
async fn archive(
    State(state): State<Shared>,
    signed: Signed,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, PageError> {
    let view = find(&state, &id, &signed.user)?;
    Ok(page(&signed, Tab::Support, "Support bundle", StatusCode::OK, archive_body(&view)))
}

/// The page of an archive.
fn archive_body(view: &View) -> Markup {
    let href = format!("/support/bundles/{}", view.id);
    html! {
        @if matches!(view.stage, Stage::Making) {
            // In the body rather than the head: browsers act on it wherever it is.
            meta http-equiv="refresh" content=(REFRESH_SECONDS);
        }
        h1 { "Support bundle" }
        p.muted { "Asked for " (date(i64::try_from(view.started_unix).unwrap_or(i64::MAX))) "." }
        @match &view.stage {
            Stage::Making => {
                p #support-progress role="status" aria-live="polite" {
                    "Collecting and redacting: this page reloads by itself every "
                    (count(REFRESH_SECONDS, "second", "seconds")) " until the archive is ready. "
                    a href=(href) { "Reload now" }
                }
                progress aria-label="Making the support bundle" {}
            },
            Stage::Failed(why) => {
                div #error .error role="alert" {
                    p.what { "The support bundle could not be made: " (why) }
                    p.fix { "What to do: check that the API server is reachable, then " a href="/support" { "try again" } "." }
                }
            },
            Stage::Ready(made) => (ready(&href, made)),
        }
    }
}

/// A made archive: its digest and download, what it holds, the redaction report.
fn ready(href: &str, made: &Made) -> Markup {
    html! {
        p #support-progress role="status" aria-live="polite" {
            "Ready. Nothing was sent anywhere: download it, look at what it holds, and attach it to a support \
             ticket if you decide to."
        }
        dl {
            dt { "SHA-256" }
            dd { code #support-sha256 .mono { (made.sha256) } }
            dt { "Size" }
            dd { (count(made.size, "byte", "bytes")) }
            dt { "Namespaces" }
            dd {
                @if made.namespaces.is_empty() { span.muted { "none" } }
                @else { (made.namespaces.join(", ")) }
            }
        }
        p.actions {
            a #support-download href={ (href) "/download" } download=(made.file_name) {
                "Download " (made.file_name)
            }
        }
        p { "Check what you saved: " code.mono { "echo '" (made.sha256) "  " (made.file_name) "' | sha256sum -c" } }
        h2 { "Redactions" }
        p {
            (count(made.report.total(), "value was", "values were")) " replaced by a redaction rule; the values \
             themselves are in no file. The archive's " code { "README.txt" } " says what the rules find, and what \
             they cannot."
        }
        (table(
            "redaction-report",
            &[Column::Text("Rule"), Column::Numeric("Values replaced")],
            html! {
                @for (rule, n) in made.report.counts() {
                    tr data-rule=(rule) {
                        th scope="row" { code { (rule) } }
                        td.num { (n) }
                    }
                }
            },
        ))
        @if !made.withheld.is_empty() {
            h2 { "Withheld" }
            p { "Your account may not read these, so the console left them out:" }
            ul #support-withheld {
                @for what in &made.withheld { li { (what) } }
            }
        }
        @if !made.warnings.is_empty() {
            h2 { "Not collected" }
            ul #support-warnings {
                @for warning in &made.warnings { li { (warning) } }
            }
        }
    }
}

/// `GET /support/bundles/{id}/download`: the archive, to its maker only, read from its file
/// as it is sent ([`file_body`]).
async fn download(
    State(state): State<Shared>,
    signed: Signed,
    UrlPath(id): UrlPath<String>,
) -> Result<Response, PageError> {
    let view = find(&state, &id, &signed.user)?;
    let Stage::Ready(made) = view.stage else {
        return Err(PageError::new(
            StatusCode::CONFLICT,
            "This support bundle is not ready to download.",
            "open its page, wait until it says it is ready, then download it",
        ));
    };
    let path = made.path.clone();
    let opened = tokio::task::spawn_blocking(move || {
        let file = std::fs::File::open(path)?;
        let size = file.metadata()?.len();
        Ok::<_, std::io::Error>((file, size))
    });
    let (file, size) = opened.await.ok().and_then(Result::ok).ok_or_else(|| {
        PageError::new(
            StatusCode::INTERNAL_SERVER_ERROR,
            "The support bundle's file can no longer be read.",
            "make a new one on the Support bundle tab",
        )
    })?;
    tracing::info!(user = %signed.user.name, sha256 = %made.sha256, "support bundle downloaded");
    let headers = [(header::CONTENT_TYPE, "application/gzip".to_owned()), (header::CONTENT_LENGTH, size.to_string())];
    let response = (headers, file_body(file)).into_response();
    Ok(genesis_web::attachment(response, &made.file_name))
}

/// `file` as a response body, read [`DOWNLOAD_CHUNK`] bytes at a time on the blocking pool as
/// the client takes them: an archive is never held whole in memory, however many download it
/// at once. A read that fails ends the body with the error (the client sees the download
/// broken off, never a short file taken for whole).
fn file_body(file: std::fs::File) -> Body {
    let chunks = futures_util::stream::unfold(Some(file), |file| async move {
        let file = file?;
        let read = tokio::task::spawn_blocking(move || {
            let mut chunk = Vec::new();
            let read = std::io::Read::read_to_end(&mut std::io::Read::take(&file, DOWNLOAD_CHUNK), &mut chunk);
            read.map(|_| (file, chunk))
        })
        .await
        .unwrap_or_else(|stopped| Err(std::io::Error::other(stopped)));
        match read {
            Ok((_, chunk)) if chunk.is_empty() => None,
            Ok((file, chunk)) => Some((Ok(Bytes::from(chunk)), Some(file))),
            Err(e) => Some((Err(e), None)),
        }
    });
    Body::from_stream(chunks)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str, uid: &str) -> UserInfo {
        UserInfo { name: name.to_owned(), uid: uid.to_owned(), groups: Vec::new(), extra: Default::default() }
    }

    fn made(dir: &Path) -> Made {
        let mut report = RedactionReport::default();
        let redactor = Redactor::builtin(false);
        redactor.redact("mail jane@example.com", &mut report);
        Made {
            path: dir.join("genesis-support-20260101T000000Z.tar.gz"),
            file_name: "genesis-support-20260101T000000Z.tar.gz".into(),
            sha256: "ab".repeat(32),
            size: 2048,
            report,
            namespaces: vec!["emr".into()],
            warnings: vec!["namespace emr: secrets: not collected, the API server refused: no".into()],
            withheld: vec!["namespace emr: pods".into()],
        }
    }

    #[test]
    fn an_archive_is_its_maker_s_alone_and_goes_after_an_hour() {
        let archives = Archives::new();
        let (alice, bob) = (user("alice", "a-1"), user("bob", "b-1"));
        let now = Instant::now();
        let (id, dir) = archives.start(&alice, now, 1_767_225_600).unwrap();
        assert!(genesis_web::secret::is_token(&id) && dir.is_dir(), "{id} {}", dir.display());
        assert!(matches!(archives.view(&id, &alice, now).unwrap().stage, Stage::Making));
        assert!(archives.view(&id, &bob, now).is_none(), "another user");
        assert!(archives.view(&id, &user("alice", "a-2"), now).is_none(), "the same name, another uid");
        archives.finish(&id, Ok(made(&dir)), &dir);
        assert!(matches!(archives.view(&id, &alice, now).unwrap().stage, Stage::Ready(_)));
        let later = now + KEPT;
        assert!(archives.view(&id, &alice, later).is_none());
        assert!(!dir.exists(), "its folder goes with it");
        // Made after it expired: its files go at once.
        let (late, late_dir) = archives.start(&alice, later, 0).unwrap();
        archives.kept().archives.clear();
        archives.finish(&late, Err("stopped".into()), &late_dir);
        assert!(!late_dir.exists());
    }

    #[test]
    fn at_most_five_are_kept_the_oldest_finished_going_first() {
        let archives = Archives::new();
        let alice = user("alice", "a-1");
        let now = Instant::now();
        let started: Vec<(String, PathBuf)> =
            (0..MAX_ARCHIVES).map(|_| archives.start(&alice, now, 0).unwrap()).collect();
        let refused = archives.start(&alice, now, 0).unwrap_err();
        assert_eq!(refused.status, StatusCode::TOO_MANY_REQUESTS, "all five being made");
        let (second, second_dir) = &started[1];
        archives.finish(second, Err("the API server went away".into()), second_dir);
        let (sixth, _) = archives.start(&alice, now, 0).unwrap();
        assert!(archives.view(second, &alice, now).is_none() && !second_dir.exists(), "the finished one went");
        assert!(archives.view(&sixth, &alice, now).is_some() && archives.view(&started[0].0, &alice, now).is_some());
        let folder = archives.kept().dir.as_ref().unwrap().path().to_owned();
        drop(archives);
        assert!(!folder.exists(), "the console's folder goes when it stops");
    }

    #[test]
    fn the_form_s_namespaces_are_checked_and_taken_once() {
        let fields = |pairs: &[(&str, &str)]| -> Vec<(String, String)> {
            pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
        };
        let request = Request::from_fields(&fields(&[
            ("csrf", "x"),
            ("namespace", "emr"),
            ("namespace", "demo"),
            ("namespaces", " billing, emr  ops\t"),
            ("redact_ip", "on"),
        ]))
        .unwrap();
        assert_eq!(
            request,
            Request { namespaces: vec!["emr".into(), "demo".into(), "billing".into(), "ops".into()], redact_ip: true }
        );
        let none = Request::from_fields(&fields(&[("namespaces", "")])).unwrap();
        assert_eq!(none, Request { namespaces: Vec::new(), redact_ip: false });
        let refused = Request::from_fields(&fields(&[("namespaces", "ok ../etc")])).unwrap_err();
        assert_eq!(refused.status, StatusCode::BAD_REQUEST);
        assert!(refused.what.contains("\"../etc\" is no namespace name"), "{}", refused.what);
    }

    #[test]
    fn the_form_offers_the_installed_namespaces_checked() {
        let offered = Ok(BTreeSet::from(["demo".to_owned(), "emr".to_owned()]));
        let text = form_body("tok", &offered).into_string();
        for expected in [
            r#"<form id="support-form" method="post" action="/support/bundles">"#,
            r#"<input type="checkbox" name="namespace" value="demo" id="namespace-demo" checked>"#,
            r#"<input type="checkbox" name="namespace" value="emr" id="namespace-emr" checked>"#,
            r#"<input id="redact-ip" type="checkbox" name="redact_ip" value="on">"#,
            r#"<button class="primary" id="make-support-bundle" type="submit">"#,
            r#"name="csrf" value="tok""#,
        ] {
            assert!(text.contains(expected), "{expected} not in {text}");
        }
        let refused = form_body("tok", &Err("Your account may not list the install records".into())).into_string();
        assert!(
            refused.contains(r#"<p class="notice">Your account may not list the install records</p>"#),
            "{refused}"
        );
    }

    #[test]
    fn an_archive_s_page_reloads_until_it_is_ready_then_shows_its_digest_and_report() {
        let view = |stage| View { id: "f".repeat(64), started_unix: 1_767_225_600, stage };
        let making = archive_body(&view(Stage::Making)).into_string();
        assert!(making.contains(r#"<meta http-equiv="refresh" content="2">"#), "{making}");
        assert!(making.contains(r#"id="support-progress" role="status" aria-live="polite""#), "{making}");
        assert!(!making.contains("support-download"), "{making}");

        let dir = tempfile::tempdir().unwrap();
        let ready = archive_body(&view(Stage::Ready(Arc::new(made(dir.path()))))).into_string();
        assert!(!ready.contains("refresh"), "{ready}");
        let digest = format!(r#"<code class="mono" id="support-sha256">{}</code>"#, "ab".repeat(32));
        let link = format!(
            r#"<a id="support-download" href="/support/bundles/{}/download" download="genesis-support-20260101T000000Z.tar.gz">"#,
            "f".repeat(64)
        );
        for expected in [
            digest.as_str(),
            link.as_str(),
            r#"<tr data-rule="email"><th scope="row"><code>email</code></th><td class="num">1</td></tr>"#,
            r#"<tr data-rule="phone"><th scope="row"><code>phone</code></th><td class="num">0</td></tr>"#,
            "1 value was replaced",
            r#"<ul id="support-withheld"><li>namespace emr: pods</li></ul>"#,
            r#"<ul id="support-warnings">"#,
            "2048 bytes",
        ] {
            assert!(ready.contains(expected), "{expected} not in {ready}");
        }

        let failed = archive_body(&view(Stage::Failed("the API server went <away>".into()))).into_string();
        assert!(failed.contains(r#"<div class="error" id="error" role="alert">"#), "{failed}");
        assert!(failed.contains("the API server went &lt;away&gt;") && !failed.contains("refresh"), "{failed}");
    }

    #[tokio::test]
    async fn a_download_is_read_from_its_file_a_piece_at_a_time() {
        use futures_util::StreamExt as _;
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("genesis-support-20260101T000000Z.tar.gz");
        let bytes: Vec<u8> = (0..600 * 1024u32).map(|i| (i % 251) as u8).collect();
        std::fs::write(&path, &bytes).unwrap();
        let mut pieces = std::pin::pin!(file_body(std::fs::File::open(&path).unwrap()).into_data_stream());
        let (mut received, mut sizes) = (Vec::new(), Vec::new());
        while let Some(piece) = pieces.next().await {
            let piece = piece.unwrap();
            sizes.push(piece.len());
            received.extend_from_slice(&piece);
        }
        assert_eq!(sizes, [256 * 1024, 256 * 1024, 88 * 1024]);
        assert!(received == bytes, "the file, byte for byte");
    }

    #[test]
    fn an_archive_is_named_for_when_it_was_asked_for() {
        assert_eq!(stamp(1_767_225_600), "20260101T000000Z");
        let access = list_access(&Listing {
            group: "apps".into(),
            resource: "deployments".into(),
            namespace: Some("emr".into()),
        });
        assert_eq!(access.describe(), "list deployments.apps in emr");
    }
}
