//! The vendor's pages under `/admin` (decision 0038): sign-in with an admin token,
//! organisations, their license keys (created and shown once, listed by prefix, revoked after
//! a confirmation) and entitlements, releases with what publishing verified, publishing by
//! upload, the export builds, and the audit log. Every change goes through the admin use cases
//! the CLI runs (`admin::*_in`; `publish_into`, in a task of its own), recorded in the audit log
//! as `admin:<name>`; every form posts the session's CSRF token.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::multipart::Multipart;
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, State};
use axum::handler::Handler as _;
use axum::http::StatusCode;
use axum::response::Response;
use axum::routing::{get, post};
use genesis_portal_client::Entitlement;
use genesis_portal_client::protocol::Scope;
use genesis_registry::serve::BodyDeadline;
use genesis_web::html::Column::{Numeric, Text};
use genesis_web::html::{count, csrf_field, date, segment, table};
use maud::{Markup, html};

use super::bundle::{artifacts_table, bundles_section};
use super::page::{Chrome, ExportStage, PageError, Site, page, see_other};
use super::session::{self, CsrfForm, VendorSession, check_csrf};
use super::upload::{self, UPLOAD_LIMIT, UploadError};
use crate::admin::{self, KeyState, NewKey};
use crate::api::Shared;
use crate::error::PortalServerError;
use crate::publish::publish_detached;
use crate::store::{AuditEntry, KeyRecord, SessionKind};

/// The vendor's routes.
pub(crate) fn routes() -> axum::Router<Shared> {
    axum::Router::new()
        .route("/admin", get(overview))
        .route("/admin/orgs", get(orgs).post(create_org))
        .route("/admin/orgs/{org}", get(org))
        .route("/admin/orgs/{org}/keys", post(create_key))
        .route("/admin/orgs/{org}/entitlements", post(entitle))
        .route("/admin/keys/{id}/revoke", get(confirm_revoke).post(revoke_key))
        // The upload alone may be large: every other form keeps axum's 2 MiB.
        .route("/admin/releases", get(releases).post(publish.layer(DefaultBodyLimit::max(UPLOAD_LIMIT))))
        .route("/admin/releases/{product}/{version}", get(release))
        .route("/admin/exports", get(exports))
        .route("/admin/audit", get(audit))
        .merge(session::routes(SessionKind::Vendor))
}

/// An admin use case's error as a page. What the vendor asked that cannot be done (a name the
/// portal refuses, an organisation that exists, a range or version that is not semver, a
/// bundle that does not verify) is said with its causes, and what is not there is 404; the
/// rest is the portal's own failure, logged and not shown.
fn vendor_error(e: PortalServerError) -> PageError {
    match refusal_status(&e) {
        Some(status) => PageError::new(status, genesis_types::error_chain(&e)),
        None => PageError::from(e),
    }
}

/// The status of an error that refuses what the vendor asked; `None` for the portal's own.
fn refusal_status(e: &PortalServerError) -> Option<StatusCode> {
    match e {
        PortalServerError::Lookup(_) => Some(StatusCode::NOT_FOUND),
        e if e.is_refusal() => Some(StatusCode::UNPROCESSABLE_ENTITY),
        _ => None,
    }
}

// ---- overview

/// Audit entries the overview shows.
const RECENT_ACTIVITY: u32 = 10;

async fn overview(State(state): State<Shared>, session: VendorSession) -> Result<Response, PageError> {
    let orgs = state.store.orgs().await?.len();
    let releases = state.store.releases().await?.len();
    // The exports building, and none besides.
    let building = state.store.recent_exports(0).await?.len();
    let recent = state.store.audit_log(RECENT_ACTIVITY).await?;
    let body = html! {
        h1 { "Vendor overview" }
        ul .cards {
            li { a #nav-orgs href="/admin/orgs" { "Organisations" } span .count { (orgs) } }
            li { a #nav-releases href="/admin/releases" { "Releases" } span .count { (releases) } }
            li { a #nav-exports href="/admin/exports" { "Exports" } span .count { (building) " building" } }
            li { a #nav-audit href="/admin/audit" { "Audit log" } }
        }
        h2 { "Recent activity" }
        (audit_table("recent-activity", &recent))
    };
    Ok(page(session.chrome("Vendor overview"), StatusCode::OK, body))
}

// ---- organisations

fn org_url(org: &str) -> String {
    format!("/admin/orgs/{}", segment(org))
}

fn revoke_url(id: &str) -> String {
    format!("/admin/keys/{}/revoke", segment(id))
}

async fn orgs(State(state): State<Shared>, session: VendorSession) -> Result<Response, PageError> {
    let downloads: BTreeMap<String, u64> = state.store.downloads_per_org().await?.into_iter().collect();
    let mut rows = Vec::new();
    for org in state.store.orgs().await? {
        let keys = state.store.keys(&org).await?;
        let active = keys.iter().filter(|k| matches!(k.state(), KeyState::Active(_))).count();
        let entitlements = state.store.entitlements(&org).await?.len();
        let downloaded = downloads.get(&org).copied().unwrap_or(0);
        rows.push((org, active, entitlements, downloaded));
    }
    let body = html! {
        h1 { "Organisations" }
        (table(
            "orgs",
            &[Text("Name"), Numeric("Active keys"), Numeric("Entitlements"), Numeric("Downloads")],
            html! {
                @for (org, active, entitlements, downloaded) in &rows {
                    tr data-org=(org) {
                        th scope="row" { a href=(org_url(org)) { (org) } }
                        td .num { (active) } td .num { (entitlements) } td .num { (downloaded) }
                    }
                }
            },
        ))
        @if rows.is_empty() { p .empty { "No organisation yet: create the first below." } }
        h2 { "New organisation" }
        form #org-form method="post" action="/admin/orgs" {
            (csrf_field(&session.csrf))
            label for="name" { "Name" }
            input #name type="text" name="name" required maxlength="40" pattern="[a-z0-9-]+"
                aria-describedby="name-hint";
            p #name-hint .hint { "Lower-case letters, digits and " code { "-" } ": it becomes part of every key." }
            button #create-org type="submit" { "Create organisation" }
        }
    };
    Ok(page(session.chrome("Organisations"), StatusCode::OK, body))
}

#[derive(serde::Deserialize)]
struct NewOrg {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    name: String,
}

async fn create_org(
    State(state): State<Shared>,
    session: VendorSession,
    site: Site,
    Form(form): Form<NewOrg>,
) -> Result<Response, PageError> {
    check_csrf(&session.csrf, &form.csrf, &site)?;
    let name = form.name.trim();
    admin::create_org_in(&state.store, name, &session.actor()).await.map_err(vendor_error)?;
    Ok(see_other(&org_url(name)))
}

#[derive(serde::Deserialize)]
struct KeyFilter {
    #[serde(default)]
    prefix: String,
}

/// Whether `key` is one the key filter's `filter` finds: its id or its prefix starts with it
/// (everything when it is empty).
fn key_matches(key: &KeyRecord, filter: &str) -> bool {
    key.id.starts_with(filter) || key.prefix.as_deref().is_some_and(|p| p.starts_with(filter))
}

/// An organisation's page: its downloads, its keys (those [`key_matches`] finds) with the
/// filter and the form that makes keys, and its entitlements with the form that adds one.
async fn org(
    State(state): State<Shared>,
    session: VendorSession,
    Path(org): Path<String>,
    Query(filter): Query<KeyFilter>,
) -> Result<Response, PageError> {
    state.store.require_org(&org).await.map_err(vendor_error)?;
    let filter = filter.prefix.trim();
    let keys: Vec<_> = state.store.keys(&org).await?.into_iter().filter(|k| key_matches(k, filter)).collect();
    let entitlements = state.store.entitlements(&org).await?;
    let downloads = state.store.downloads_of(&org).await?;
    let body = html! {
        h1 { "Organisation " (org) }
        p { (count(downloads, "download", "downloads")) " (" a href="/admin/audit" { "audit log" } ")" }
        (keys_section(&org, &keys, filter))
        (key_form(&org, &session.csrf))
        (entitlements_section(&org, &entitlements, &session.csrf))
    };
    Ok(page(session.chrome(&org), StatusCode::OK, body))
}

/// The organisation's keys (`#keys`), each active one with its revoke link, and the filter
/// by prefix or id (`#key-filter`).
fn keys_section(org: &str, keys: &[KeyRecord], filter: &str) -> Markup {
    let url = org_url(org);
    // A prefix is `sk_<org>_` and 6 hex digits: a longer filter would be (part of) a key,
    // which must never land in a URL.
    let prefix_len = format!("sk_{org}_").len() + 6;
    html! {
        h2 { "License keys" }
        form #key-filter method="get" action=(url) {
            label for="prefix" { "Key prefix or id" }
            input #prefix type="search" name="prefix" value=(filter) maxlength=(prefix_len)
                placeholder={ "sk_" (org) "_3f9a1c" };
            button type="submit" { "Filter" }
            @if !filter.is_empty() { " " a href=(url) { "Show all" } }
        }
        (table(
            "keys",
            &[Text("Id"), Text("Prefix"), Text("Scopes"), Text("Expires"), Text("State"), Text("Action")],
            html! {
                @for key in keys {
                    tr data-key-id=(key.id) {
                        th scope="row" { code { (key.id) } }
                        td { @match &key.prefix { Some(p) => { code { (p) "…" } } None => { "—" } } }
                        td { (key.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) }
                        td .when { (date(key.expires)) }
                        @match key.state() {
                            KeyState::Active(_) => {
                                td { span .state { "active" } }
                                td {
                                    a .revoke href=(revoke_url(&key.id)) {
                                        "Revoke" span .visually-hidden { " " (key.id) }
                                    }
                                }
                            }
                            KeyState::Revoked(at) => { td { span .state { "revoked" } " on " (date(at)) } td {} }
                            KeyState::Expired(at) => { td { span .state { "expired" } " on " (date(at)) } td {} }
                        }
                    }
                }
            },
        ))
        @if keys.is_empty() { p .empty { @if filter.is_empty() { "No key yet." } @else { "No key matches." } } }
    }
}

/// The form that makes a key (`#key-form`).
fn key_form(org: &str, csrf: &str) -> Markup {
    html! {
        h3 { "New key" }
        form #key-form method="post" action={ (org_url(org)) "/keys" } {
            (csrf_field(csrf))
            fieldset {
                legend { "Scopes" }
                @for scope in Scope::ALL {
                    label {
                        input type="checkbox" name="scope" value=(scope.as_str()) checked[scope == Scope::ReleasesRead];
                        " " (scope.as_str())
                    }
                }
            }
            label for="expires_in_days" { "Valid for (days)" }
            input #expires_in_days type="number" name="expires_in_days" value="365" min="1" required;
            button #create-key type="submit" { "Create key" }
        }
    }
}

/// The organisation's entitlements (`#entitlements`) and the form that adds one
/// (`#entitle-form`).
fn entitlements_section(org: &str, entitlements: &[Entitlement], csrf: &str) -> Markup {
    html! {
        h2 { "Entitlements" }
        (table(
            "entitlements",
            &[Text("Product"), Text("Versions")],
            html! {
                @for e in entitlements {
                    tr { th scope="row" { (e.product) } td { code { (e.versions) } } }
                }
            },
        ))
        @if entitlements.is_empty() { p .empty { "None yet: " (org) " sees no release until it is entitled to one." } }
        form #entitle-form method="post" action={ (org_url(org)) "/entitlements" } {
            (csrf_field(csrf))
            label for="product" { "Product" }
            input #product type="text" name="product" value="genesis" required;
            label for="versions" { "Versions (a semver range)" }
            input #versions type="text" name="versions" placeholder=">=3.2, <4" required;
            button #entitle type="submit" { "Entitle" }
        }
    }
}

/// What the key form asks for: the scopes ticked (the checkboxes post one `scope` field
/// each, which a struct cannot hold) and the days the key is valid; refused (422) without a
/// scope, with one the portal does not know, or without a whole number of days from 1.
fn key_request(fields: &[(String, String)]) -> Result<(Vec<Scope>, u32), PageError> {
    let unprocessable = |message: String| PageError::new(StatusCode::UNPROCESSABLE_ENTITY, message);
    let scopes = fields
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.parse::<Scope>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(unprocessable)?;
    if scopes.is_empty() {
        let known: Vec<_> = Scope::ALL.iter().map(|s| s.as_str()).collect();
        return Err(unprocessable(format!("tick at least one scope for the key ({})", known.join(", "))));
    }
    let days = fields.iter().find(|(k, _)| k == "expires_in_days").map_or("", |(_, v)| v.trim());
    let days =
        days.parse::<u32>().ok().filter(|d| *d >= 1).ok_or_else(|| {
            unprocessable(format!("a key is valid for a whole number of days, at least 1, not `{days}`"))
        })?;
    Ok((scopes, days))
}

/// `POST /admin/orgs/{org}/keys`: the key made, shown on a page of its own, once.
async fn create_key(
    State(state): State<Shared>,
    session: VendorSession,
    site: Site,
    Path(org): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let csrf = fields.iter().find(|(k, _)| k == "csrf").map_or("", |(_, v)| v.as_str());
    check_csrf(&session.csrf, csrf, &site)?;
    let (scopes, days) = key_request(&fields)?;
    let new = admin::create_key_in(&state.store, &org, &scopes, days, &session.actor()).await.map_err(vendor_error)?;
    tracing::info!(adminId = %session.admin.id, org = %org, keyId = %new.record.id, "key created on the vendor's pages");
    let title = format!("New key for {org}");
    Ok(page(session.chrome(&title), StatusCode::OK, key_created(&org, &new)))
}

/// The page that shows a new key, its one showing: the key to copy, what it may do, and a
/// plain warning that a reload makes another key.
fn key_created(org: &str, new: &NewKey) -> Markup {
    let record = &new.record;
    html! {
        h1 { "New key for " (org) }
        p .notice role="alert" {
            "Copy this key now and hand it to " (org) ": it will not be shown again. The portal keeps only its hash."
        }
        div .commands {
            pre { code #new-key { (new.key) } }
            button .copy type="button" data-copy="new-key" hidden { "Copy key" }
        }
        dl .facts {
            dt { "Id" } dd { code { (record.id) } }
            dt { "Scopes" } dd { (record.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) }
            dt { "Valid until" } dd { (date(record.expires)) }
        }
        p .notice {
            "Do not reload this page: a reload sends the form again and makes another key. Once the key is "
            "copied, go back to the organisation."
        }
        p { a #back-to-org .button href=(org_url(org)) { "Back to " (org) } }
    }
}

#[derive(serde::Deserialize)]
struct Entitle {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    product: String,
    #[serde(default)]
    versions: String,
}

async fn entitle(
    State(state): State<Shared>,
    session: VendorSession,
    site: Site,
    Path(org): Path<String>,
    Form(form): Form<Entitle>,
) -> Result<Response, PageError> {
    check_csrf(&session.csrf, &form.csrf, &site)?;
    let (product, versions) = (form.product.trim(), form.versions.trim());
    if product.is_empty() {
        return Err(PageError::new(StatusCode::UNPROCESSABLE_ENTITY, "name the product to entitle to (e.g. genesis)"));
    }
    admin::entitle_in(&state.store, &org, product, versions, &session.actor()).await.map_err(vendor_error)?;
    Ok(see_other(&org_url(&org)))
}

/// `GET /admin/keys/{id}/revoke`: what revoking the key means, and the form that does it
/// (`#revoke-form`, `#confirm-revoke`).
async fn confirm_revoke(
    State(state): State<Shared>,
    session: VendorSession,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let key = state
        .store
        .key_by_id(&id)
        .await?
        .ok_or_else(|| PageError::new(StatusCode::NOT_FOUND, format!("no license key {id}")))?;
    let org = org_url(&key.org);
    let scopes = key.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ");
    let body = html! {
        h1 { "Revoke " code { (key.id) } " of " (key.org) "?" }
        p {
            "Key " code { (key.id) }
            @if let Some(prefix) = &key.prefix { " (" code { (prefix) "…" } ")" }
            " of " a href=(org) { (key.org) } ", with " (scopes) "."
        }
        @match key.state() {
            KeyState::Active(until) => {
                p .notice {
                    "Valid until " (date(until)) ". Revoking it takes effect at once and cannot be undone: every "
                    "request with it is refused, and a browser signed in with it is signed out at its next page. "
                    (key.org) " will need a new key."
                }
                form #revoke-form method="post" action=(revoke_url(&key.id)) {
                    (csrf_field(&session.csrf))
                    button #confirm-revoke .danger type="submit" { "Revoke " (key.id) }
                    " " a href=(org) { "Cancel" }
                }
            }
            KeyState::Revoked(at) => p {
                "It was revoked on " (date(at)) ": there is nothing left to do. " a href=(org) { "Back" }
            },
            KeyState::Expired(at) => p {
                "It expired on " (date(at)) ": it opens nothing any more. " a href=(org) { "Back" }
            },
        }
    };
    let title = format!("Revoke {id}");
    Ok(page(session.chrome(&title), StatusCode::OK, body))
}

/// `POST /admin/keys/{id}/revoke`: the key revoked (its sessions end with it), then its
/// organisation's page.
async fn revoke_key(
    State(state): State<Shared>,
    session: VendorSession,
    site: Site,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&session.csrf, &form.csrf, &site)?;
    let record = admin::revoke_key_in(&state.store, &id, &session.actor()).await.map_err(vendor_error)?;
    tracing::info!(adminId = %session.admin.id, org = %record.org, keyId = %record.id, "key revoked on the vendor's pages");
    Ok(see_other(&org_url(&record.org)))
}

// ---- releases

fn release_url(product: &str, version: &str) -> String {
    format!("/admin/releases/{}/{}", segment(product), segment(version))
}

async fn releases(State(state): State<Shared>, session: VendorSession) -> Result<Response, PageError> {
    releases_page(&state, &session, StatusCode::OK, None).await
}

/// A publication the portal refused: what the form held, and why.
struct Attempt<'a> {
    product: &'a str,
    version: &'a str,
    reason: &'a str,
}

/// The releases, with the publish form (or how to turn it on), and the reason the last
/// publication was refused.
async fn releases_page(
    state: &Shared,
    session: &VendorSession,
    status: StatusCode,
    refused: Option<Attempt<'_>>,
) -> Result<Response, PageError> {
    let mut rows = Vec::new();
    for release in state.store.releases().await? {
        let artifacts = state.store.artifacts(&release.product, &release.version).await?;
        let facts = state.store.bundle_facts(&release.product, &release.version).await?;
        let bundles: Vec<_> = artifacts.iter().filter(|a| a.kind.is_bundle_entry()).collect();
        let verified = !bundles.is_empty() && bundles.iter().all(|b| facts.iter().any(|f| f.bundle == b.name));
        rows.push((release, bundles.len(), verified));
    }
    let body = html! {
        h1 { "Releases" }
        (table(
            "releases",
            &[
                Text("Product"),
                Text("Version"),
                Text("Published"),
                Text("Signer"),
                Numeric("Bundles"),
                Text("Verification"),
            ],
            html! {
                @for (release, bundles, verified) in &rows {
                    tr data-version=(release.version) {
                        th scope="row" { (release.product) }
                        td { a href=(release_url(&release.product, &release.version)) { (release.version) } }
                        td .when { (date(release.published)) }
                        td { code { (release.signer) } }
                        td .num { (bundles) }
                        td .verification { @if *verified { "Verified" } @else { "No record" } }
                    }
                }
            },
        ))
        @if rows.is_empty() { p .empty { "No release published yet." } }
        h2 { "Publish a release" }
        @if state.publish_key.is_some() {
            @if let Some(refused) = &refused {
                p #publish-error .error role="alert" { (refused.reason) }
            }
            (publish_form(session, refused.as_ref()))
        } @else {
            (publishing_off())
        }
    };
    Ok(page(session.chrome("Releases"), status, body))
}

/// The publish form. The CSRF token comes first, so the server checks it before it reads a
/// file.
fn publish_form(session: &VendorSession, refused: Option<&Attempt<'_>>) -> Markup {
    html! {
        form #publish-form method="post" action="/admin/releases" enctype="multipart/form-data" {
            (csrf_field(&session.csrf))
            label for="product" { "Product" }
            input #product type="text" name="product" value=(refused.map_or("genesis", |r| r.product)) required;
            label for="version" { "Version" }
            input #version type="text" name="version" value=(refused.map_or("", |r| r.version)) placeholder="3.2.10"
                required;
            label for="files" { "Files" }
            input #files type="file" name="files" multiple required aria-describedby="files-hint";
            p #files-hint .hint {
                "Each bundle (" code { "NAME.tar.zst" } ") with its sidecars: its " code { ".sha256" } ", a "
                "signature (" code { ".sig" } " or " code { ".cosign.bundle" } "), and the " code { ".report.pdf" }
                " its " code { ".sha256" } " lists; or a split bundle's parts manifest (" code { "NAME.tar.zst.parts.json" }
                ") with all its parts and its signature; then the release's other files. Every bundle must verify "
                "with the vendor key this portal was started with, as " code.cmd { "genesis-portal publish" }
                " checks."
            }
            // Revealed by the script, which posts the form itself to follow the upload.
            div #upload-status hidden {
                label #upload-label for="upload-progress" { "Uploading the files" }
                progress #upload-progress max="100" value="0" {}
            }
            button #publish type="submit" { "Publish" }
        }
    }
}

/// What the releases page says instead of the form when the portal has no key to verify
/// uploads against.
fn publishing_off() -> Markup {
    html! {
        p #publish-off {
            "Publishing in the browser is off: this portal was started without a vendor key to verify "
            "uploaded bundles against. Start it with " code { "genesis-portal serve --publish-key vendor.pub" }
            " (the key " code.cmd { "genesis-portal publish --key" } " takes), or publish from a shell with "
            code { "genesis-portal publish VERSION FILE… --key vendor.pub" } "."
        }
    }
}

/// What a publication is answered when publishing in the browser is off (409).
fn publishing_off_page(chrome: Chrome<'_>) -> Response {
    let body = html! {
        h1 { "Publishing is off" }
        (publishing_off())
        p { a href="/admin/releases" { "Back to the releases" } }
    };
    page(chrome, StatusCode::CONFLICT, body)
}

/// `POST /admin/releases`: the upload, then the CLI's publication of it, in a task of its
/// own that runs to its end even when the browser goes away.
async fn publish(
    State(state): State<Shared>,
    session: VendorSession,
    site: Site,
    deadline: Option<Extension<BodyDeadline>>,
    multipart: Multipart,
) -> Result<Response, PageError> {
    let Some(key) = state.publish_key.clone() else {
        return Ok(publishing_off_page(session.chrome("Publishing is off")));
    };
    let deadline = deadline.map(|Extension(deadline)| deadline);
    let scratch = state.instance.scratch();
    let session_left = std::time::Duration::from_secs(u64::try_from(session.expires - crate::now()).unwrap_or(0));
    let upload = match upload::receive(multipart, &session.csrf, &site, deadline.as_ref(), session_left, scratch).await
    {
        Ok(upload) => upload,
        Err(UploadError::Request(e)) => return Err(e),
        // Nothing of the form survived but its reason: the vendor chooses the files again.
        Err(UploadError::Refused(e)) => {
            let reason = genesis_types::error_chain(&e);
            let refused = Attempt { product: "genesis", version: "", reason: &reason };
            return releases_page(&state, &session, StatusCode::UNPROCESSABLE_ENTITY, Some(refused)).await;
        }
    };
    // The upload may have taken hours: the session must still hold and its admin not be
    // revoked for what it brought to be published.
    if let Err(ended) = session.recheck(&state).await {
        upload.remove().await;
        return Ok(ended);
    }
    // The verifier names the files it refused by path: the upload's directory is the
    // portal's business, the file's name the vendor's.
    let dir = format!("{}/", upload.dir().display());
    let (product, version) = (upload.product.clone(), upload.version.clone());
    match publish_detached(&state, upload.into_publication(key), session.actor()).await {
        Ok(_) => Ok(see_other(&release_url(&product, &version))),
        Err(e) if e.is_refusal() => {
            let reason = genesis_types::error_chain(&e).replace(&dir, "");
            let refused = Attempt { product: &product, version: &version, reason: &reason };
            releases_page(&state, &session, StatusCode::UNPROCESSABLE_ENTITY, Some(refused)).await
        }
        Err(e) => Err(PageError::from(e)),
    }
}

async fn release(
    State(state): State<Shared>,
    session: VendorSession,
    Path((product, version)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let release = state
        .store
        .release(&product, &version)
        .await?
        .ok_or_else(|| PageError::new(StatusCode::NOT_FOUND, format!("no release {product} {version}")))?;
    let artifacts = state.store.artifacts(&product, &version).await?;
    let facts = state.store.bundle_facts(&product, &version).await?;
    let title = format!("{product} {version}");
    let body = html! {
        h1 { (title) }
        dl .facts {
            dt { "Published" } dd { (date(release.published)) }
            dt { "Signer" } dd #signer { code { (release.signer) } }
        }
        h2 { "Artifacts" }
        (artifacts_table(&artifacts, None))
        (bundles_section(&artifacts, &facts, None))
    };
    Ok(page(session.chrome(&title), StatusCode::OK, body))
}

// ---- exports and audit

/// Exports the exports page shows besides those building.
const RECENT_EXPORTS: u32 = 100;

async fn exports(State(state): State<Shared>, session: VendorSession) -> Result<Response, PageError> {
    let exports = state.store.recent_exports(RECENT_EXPORTS).await?;
    let body = html! {
        h1 { "Exports" }
        p { "The exports building now and the last " (RECENT_EXPORTS) ", newest first." }
        (table(
            "exports",
            &[
                Text("Id"),
                Text("Organisation"),
                Text("Release"),
                Text("Status"),
                Text("Created"),
                Text("Finished"),
                Text("Error"),
            ],
            html! {
                @for e in &exports {
                    tr data-export-id=(e.id) {
                        th scope="row" { code { (e.id) } }
                        td { a href=(org_url(&e.org)) { (e.org) } }
                        td { (e.product) " " (e.version) }
                        td { (ExportStage::of(&state, e).badge()) }
                        td .when { (date(e.created)) }
                        td .when { @if let Some(finished) = e.finished { (date(finished)) } }
                        td { @if let Some(error) = &e.error { (error) } }
                    }
                }
            },
        ))
        @if exports.is_empty() { p .empty { "No export yet." } }
    };
    Ok(page(session.chrome("Exports"), StatusCode::OK, body))
}

/// Entries of the audit log its page shows.
const AUDIT_PAGE: u32 = 500;

async fn audit(State(state): State<Shared>, session: VendorSession) -> Result<Response, PageError> {
    let entries = state.store.audit_log(AUDIT_PAGE).await?;
    let downloads = state.store.downloads_per_org().await?;
    let body = html! {
        h1 { "Audit log" }
        h2 { "Downloads per organisation" }
        (table(
            "downloads-per-org",
            &[Text("Organisation"), Numeric("Downloads")],
            html! {
                @for (org, count) in &downloads {
                    tr data-org=(org) { th scope="row" { a href=(org_url(org)) { (org) } } td .num { (count) } }
                }
            },
        ))
        @if downloads.is_empty() { p .empty { "No download yet." } }
        h2 { "Who did what" }
        p { "The last " (AUDIT_PAGE) " entries, newest first." }
        (audit_table("audit", &entries))
    };
    Ok(page(session.chrome("Audit log"), StatusCode::OK, body))
}

/// Audit entries as a table with id `id`, a row each, headed by when it happened.
fn audit_table(id: &str, entries: &[AuditEntry]) -> Markup {
    html! {
        (table(
            id,
            &[Text("When"), Text("Actor"), Text("Action"), Text("Organisation"), Text("Subject")],
            html! {
                @for e in entries {
                    tr {
                        th .when scope="row" { (date(e.at)) }
                        td .actor { code { (e.actor) } }
                        td { (e.action) }
                        td { @if let Some(org) = &e.org { (org) } }
                        td { code { (e.subject) } }
                    }
                }
            },
        ))
        @if entries.is_empty() { p .empty { "Nothing recorded yet." } }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn fields(pairs: &[(&str, &str)]) -> Vec<(String, String)> {
        pairs.iter().map(|(k, v)| ((*k).to_owned(), (*v).to_owned())).collect()
    }

    #[test]
    fn the_key_form_asks_for_known_scopes_and_whole_days() {
        let asked = key_request(&fields(&[
            ("csrf", "t"),
            ("scope", "releases:read"),
            ("scope", "export:read"),
            ("expires_in_days", " 30 "),
        ]));
        assert_eq!(asked.unwrap(), (vec![Scope::ReleasesRead, Scope::ExportRead], 30));
        let refused = |pairs: &[(&str, &str)]| key_request(&fields(pairs)).unwrap_err();
        let none = refused(&[("expires_in_days", "30")]);
        assert_eq!(none.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(
            none.message.contains("at least one scope") && none.message.contains("export:write"),
            "{}",
            none.message
        );
        let unknown = refused(&[("scope", "admin:all"), ("expires_in_days", "30")]);
        assert_eq!(unknown.status, StatusCode::UNPROCESSABLE_ENTITY);
        assert!(unknown.message.contains("admin:all"), "{}", unknown.message);
        for days in ["0", "abc", "", "-1", "1.5"] {
            let bad = refused(&[("scope", "releases:read"), ("expires_in_days", days)]);
            assert_eq!(bad.status, StatusCode::UNPROCESSABLE_ENTITY, "{days}");
            assert!(bad.message.contains(&format!("not `{days}`")), "{days}: {}", bad.message);
        }
        assert!(key_request(&fields(&[("scope", "releases:read")])).is_err(), "no days field");
    }

    fn key(id: &str, prefix: Option<&str>) -> KeyRecord {
        KeyRecord {
            id: id.to_owned(),
            org: "acme".to_owned(),
            scopes: vec![Scope::ReleasesRead],
            expires: 0,
            revoked: None,
            prefix: prefix.map(str::to_owned),
        }
    }

    #[test]
    fn the_key_filter_finds_keys_by_the_start_of_their_id_or_prefix() {
        let new = key("k_1eb6ad146b60", Some("sk_acme_3f9a1c"));
        let old = key("k_77aa00", None);
        assert!(key_matches(&new, "") && key_matches(&old, ""), "no filter: every key");
        assert!(key_matches(&new, "sk_acme_3f9a1c"));
        assert!(key_matches(&new, "sk_acme_3f"));
        assert!(key_matches(&new, "k_1eb6"));
        assert!(!key_matches(&new, "sk_acme_3f9a1d"));
        assert!(!key_matches(&new, "3f9a1c"), "the start only");
        assert!(key_matches(&old, "k_77") && !key_matches(&old, "sk_acme_"), "a key without a prefix: by its id");
    }

    #[test]
    fn a_new_key_is_shown_once_with_a_warning_against_reloading() {
        let new = NewKey { key: "sk_acme_3f9a1cdeadbeef".to_owned(), record: key("k_1", Some("sk_acme_3f9a1c")) };
        let text = key_created("acme", &new).into_string();
        assert!(text.contains(r#"<code id="new-key">sk_acme_3f9a1cdeadbeef</code>"#), "{text}");
        assert!(text.contains("will not be shown again") && text.contains("Do not reload"), "{text}");
        assert!(text.contains(r#"href="/admin/orgs/acme""#), "links back to the organisation: {text}");
    }
}
