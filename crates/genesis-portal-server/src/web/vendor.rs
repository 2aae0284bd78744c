//! The vendor's pages under `/admin` (decision 0038): sign-in with an admin token,
//! organisations, their license keys (created and shown once, listed by prefix, revoked) and
//! entitlements, releases with what publishing verified, publishing by upload, the export
//! builds, and the audit log. Every change goes through the admin use cases the CLI runs
//! (`admin::*_in`, `publish_into`), recorded in the audit log as `admin:<name>`; every form
//! posts the session's CSRF token.

use std::collections::BTreeMap;

use axum::Form;
use axum::extract::multipart::Multipart;
use axum::extract::{DefaultBodyLimit, Extension, Path, Query, State};
use axum::handler::Handler as _;
use axum::http::{HeaderMap, StatusCode};
use axum::response::Response;
use axum::routing::{get, post};
use genesis_portal_client::protocol::{ArtifactKind, Scope};
use genesis_registry::serve::BodyDeadline;
use maud::{Markup, html};

use super::page::{Area, PageError, csrf_field, date, export_state, human_size, page, see_other, segment};
use super::session::{
    CsrfForm, VendorSession, check_csrf, check_sign_in_token, end_session, sign_in_page, start_session,
};
use super::upload::{self, UPLOAD_LIMIT, UploadError};
use crate::admin::{self, KeyState, NewKey};
use crate::api::Shared;
use crate::error::PortalServerError;
use crate::facts::BundleFacts;
use crate::now;
use crate::publish::{Publication, publish_into};
use crate::store::{AdminRecord, SessionKind, action, key_hash};

/// The vendor's routes.
pub(crate) fn routes() -> axum::Router<Shared> {
    axum::Router::new()
        .route("/admin/sign-in", get(sign_in_form).post(sign_in))
        .route("/admin/sign-out", post(sign_out))
        .route("/admin", get(overview))
        .route("/admin/orgs", get(orgs).post(create_org))
        .route("/admin/orgs/{org}", get(org))
        .route("/admin/orgs/{org}/keys", post(create_key))
        .route("/admin/orgs/{org}/entitlements", post(entitle))
        .route("/admin/keys/{id}/revoke", post(revoke_key))
        // The upload alone may be large: every other form keeps axum's 2 MiB.
        .route("/admin/releases", get(releases).post(publish.layer(DefaultBodyLimit::max(UPLOAD_LIMIT))))
        .route("/admin/releases/{product}/{version}", get(release))
        .route("/admin/exports", get(exports))
        .route("/admin/audit", get(audit))
}

/// The audit log's name for an admin.
fn actor(admin: &AdminRecord) -> String {
    format!("admin:{}", admin.name)
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
    use PortalServerError as E;
    match e {
        E::Lookup(_) => Some(StatusCode::NOT_FOUND),
        E::BadOrgName { .. }
        | E::OrgExists { .. }
        | E::NotSemverRange { .. }
        | E::NotSemver { .. }
        | E::ReleaseExists { .. }
        | E::UnpublishableName { .. }
        | E::GivenTwice { .. }
        | E::NoBundle
        | E::SidecarElsewhere { .. }
        | E::MissingSidecars { .. }
        | E::UnpackableName { .. }
        | E::OrphanSidecar { .. }
        | E::BundleRefused { .. }
        | E::WrongVersion { .. }
        | E::UnlistedReport { .. }
        | E::Trust(_) => Some(StatusCode::UNPROCESSABLE_ENTITY),
        _ => None,
    }
}

// ---- sign-in and sign-out

async fn sign_in_form(State(state): State<Shared>, headers: HeaderMap) -> Response {
    sign_in_page(&state, &headers, Area::Vendor, StatusCode::OK, None)
}

#[derive(serde::Deserialize)]
struct SignIn {
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
}

async fn sign_in(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Result<Response, PageError> {
    check_sign_in_token(&headers, &form.csrf)?;
    let refused = |message: String| {
        Ok(sign_in_page(&state, &headers, Area::Vendor, StatusCode::UNAUTHORIZED, Some(message.as_str())))
    };
    let Some(admin) = state.store.admin_by_hash(&key_hash(form.token.trim())).await? else {
        tracing::info!("admin sign-in refused: unknown token");
        return refused(
            "unknown admin token: paste the whole `gat_…` token, or ask for a new one \
             (`genesis-portal admin create --name NAME`)"
                .into(),
        );
    };
    if let Some(revoked) = admin.revoked {
        tracing::info!(adminId = %admin.id, "admin sign-in refused: the token is revoked");
        return refused(format!("admin token {} ({}) was revoked on {}", admin.id, admin.name, date(revoked)));
    }
    state.store.audit_now(&actor(&admin), action::SIGN_IN, None, &admin.id).await?;
    tracing::info!(adminId = %admin.id, "admin signed in");
    start_session(&state, SessionKind::Vendor, &admin.id, "/admin").await
}

async fn sign_out(
    State(state): State<Shared>,
    session: VendorSession,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&session.csrf, &form.csrf, &headers)?;
    end_session(&state, &session.id_hash, "/admin/sign-in").await
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
        div .table-wrap {
            table #orgs {
                thead { tr { th { "Name" } th { "Active keys" } th { "Entitlements" } th { "Downloads" } } }
                tbody {
                    @for (org, active, entitlements, downloaded) in &rows {
                        tr data-org=(org) {
                            td { a href=(org_url(org)) { (org) } }
                            td .num { (active) } td .num { (entitlements) } td .num { (downloaded) }
                        }
                    }
                }
            }
        }
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

fn org_url(org: &str) -> String {
    format!("/admin/orgs/{}", segment(org))
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
    headers: HeaderMap,
    Form(form): Form<NewOrg>,
) -> Result<Response, PageError> {
    check_csrf(&session.csrf, &form.csrf, &headers)?;
    let name = form.name.trim();
    admin::create_org_in(&state.store, name, &actor(&session.admin)).await.map_err(vendor_error)?;
    Ok(see_other(&org_url(name)))
}

#[derive(serde::Deserialize)]
struct KeyFilter {
    #[serde(default)]
    prefix: String,
}

async fn org(
    State(state): State<Shared>,
    session: VendorSession,
    Path(org): Path<String>,
    Query(filter): Query<KeyFilter>,
) -> Result<Response, PageError> {
    org_page(&state, &session, &org, filter.prefix.trim(), None).await
}

/// An organisation's page: its keys (those whose prefix or id starts with `filter`), the
/// forms that make keys and entitlements, and a key just made, shown this once.
async fn org_page(
    state: &Shared,
    session: &VendorSession,
    org: &str,
    filter: &str,
    new_key: Option<&NewKey>,
) -> Result<Response, PageError> {
    state.store.require_org(org).await.map_err(vendor_error)?;
    let keys: Vec<_> = state
        .store
        .keys(org)
        .await?
        .into_iter()
        .filter(|k| k.id.starts_with(filter) || k.prefix.as_deref().is_some_and(|p| p.starts_with(filter)))
        .collect();
    let entitlements = state.store.entitlements(org).await?;
    let downloads = state.store.downloads_per_org().await?.into_iter().find(|(o, _)| o == org).map_or(0, |(_, n)| n);
    let url = org_url(org);
    // A prefix is `sk_<org>_` and 6 hex digits: a longer filter would be (part of) a key,
    // which must never land in a URL.
    let prefix_len = format!("sk_{org}_").len() + 6;
    let body = html! {
        h1 { "Organisation " (org) }
        @if let Some(new) = new_key {
            section .new-key aria-labelledby="new-key-title" {
                h2 #new-key-title { "New key " (new.record.id) }
                p .notice role="alert" {
                    "Copy this key now and hand it to " (org) ": it will not be shown again. "
                    "The portal keeps only its hash."
                }
                div .commands {
                    pre { code #new-key { (new.key) } }
                    button .copy type="button" data-copy="new-key" hidden { "Copy key" }
                }
            }
        }
        p { "Downloads: " (downloads) " (" a href="/admin/audit" { "audit log" } ")" }
        h2 { "License keys" }
        form #key-filter method="get" action=(url) {
            label for="prefix" { "Key prefix or id" }
            input #prefix type="search" name="prefix" value=(filter) maxlength=(prefix_len)
                placeholder={ "sk_" (org) "_3f9a1c" };
            button type="submit" { "Filter" }
            @if !filter.is_empty() { " " a href=(url) { "Show all" } }
        }
        div .table-wrap {
            table #keys {
                thead { tr { th { "Id" } th { "Prefix" } th { "Scopes" } th { "Expires" } th { "State" } th { "Action" } } }
                tbody {
                    @for key in &keys {
                        tr data-key-id=(key.id) {
                            td { code { (key.id) } }
                            td { @match &key.prefix { Some(p) => { code { (p) "…" } } None => { "—" } } }
                            td { (key.scopes.iter().map(|s| s.as_str()).collect::<Vec<_>>().join(", ")) }
                            td { (date(key.expires)) }
                            @match key.state() {
                                KeyState::Active(_) => {
                                    td { span .state { "active" } }
                                    td {
                                        form .revoke method="post" action={ "/admin/keys/" (segment(&key.id)) "/revoke" } {
                                            (csrf_field(&session.csrf))
                                            button .revoke type="submit" { "Revoke" }
                                        }
                                    }
                                }
                                KeyState::Revoked(at) => { td { span .state { "revoked" } " on " (date(at)) } td {} }
                                KeyState::Expired(at) => { td { span .state { "expired" } " on " (date(at)) } td {} }
                            }
                        }
                    }
                }
            }
        }
        @if keys.is_empty() { p .empty { @if filter.is_empty() { "No key yet." } @else { "No key matches." } } }
        h3 { "New key" }
        form #key-form method="post" action={ (url) "/keys" } {
            (csrf_field(&session.csrf))
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
        h2 { "Entitlements" }
        div .table-wrap {
            table #entitlements {
                thead { tr { th { "Product" } th { "Versions" } } }
                tbody {
                    @for e in &entitlements {
                        tr { td { (e.product) } td { code { (e.versions) } } }
                    }
                }
            }
        }
        @if entitlements.is_empty() { p .empty { "None yet: " (org) " sees no release until it is entitled to one." } }
        form #entitle-form method="post" action={ (url) "/entitlements" } {
            (csrf_field(&session.csrf))
            label for="product" { "Product" }
            input #product type="text" name="product" value="genesis" required;
            label for="versions" { "Versions (a semver range)" }
            input #versions type="text" name="versions" placeholder=">=3.2, <4" required;
            button #entitle type="submit" { "Entitle" }
        }
    };
    Ok(page(session.chrome(org), StatusCode::OK, body))
}

/// The key form: checkboxes post `scope` once per scope ticked, which a struct cannot hold.
async fn create_key(
    State(state): State<Shared>,
    session: VendorSession,
    headers: HeaderMap,
    Path(org): Path<String>,
    Form(fields): Form<Vec<(String, String)>>,
) -> Result<Response, PageError> {
    let field = |name: &str| fields.iter().find(|(k, _)| k == name).map_or("", |(_, v)| v.as_str());
    check_csrf(&session.csrf, field("csrf"), &headers)?;
    let unprocessable = |message: String| PageError::new(StatusCode::UNPROCESSABLE_ENTITY, message);
    let scopes = fields
        .iter()
        .filter(|(k, _)| k == "scope")
        .map(|(_, v)| v.parse::<Scope>())
        .collect::<Result<Vec<_>, _>>()
        .map_err(unprocessable)?;
    let days = field("expires_in_days");
    let days =
        days.trim().parse::<u32>().ok().filter(|d| *d >= 1).ok_or_else(|| {
            unprocessable(format!("a key is valid for a whole number of days, at least 1, not `{days}`"))
        })?;
    let new =
        admin::create_key_in(&state.store, &org, &scopes, days, &actor(&session.admin)).await.map_err(vendor_error)?;
    tracing::info!(adminId = %session.admin.id, org = %org, keyId = %new.record.id, "key created on the vendor's pages");
    org_page(&state, &session, &org, "", Some(&new)).await
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
    headers: HeaderMap,
    Path(org): Path<String>,
    Form(form): Form<Entitle>,
) -> Result<Response, PageError> {
    check_csrf(&session.csrf, &form.csrf, &headers)?;
    let (product, versions) = (form.product.trim(), form.versions.trim());
    if product.is_empty() {
        return Err(PageError::new(StatusCode::UNPROCESSABLE_ENTITY, "name the product to entitle to (e.g. genesis)"));
    }
    admin::entitle_in(&state.store, &org, product, versions, &actor(&session.admin)).await.map_err(vendor_error)?;
    Ok(see_other(&org_url(&org)))
}

async fn revoke_key(
    State(state): State<Shared>,
    session: VendorSession,
    headers: HeaderMap,
    Path(id): Path<String>,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&session.csrf, &form.csrf, &headers)?;
    let record = admin::revoke_key_in(&state.store, &id, &actor(&session.admin)).await.map_err(vendor_error)?;
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
        let bundles: Vec<_> = artifacts.iter().filter(|a| a.kind == ArtifactKind::Bundle).collect();
        let verified = !bundles.is_empty() && bundles.iter().all(|b| facts.iter().any(|f| f.bundle == b.name));
        rows.push((release, bundles.len(), verified));
    }
    let body = html! {
        h1 { "Releases" }
        div .table-wrap {
            table #releases {
                thead { tr {
                    th { "Product" } th { "Version" } th { "Published" } th { "Signer" } th { "Bundles" }
                    th { "Verification" }
                } }
                tbody {
                    @for (release, bundles, verified) in &rows {
                        tr data-version=(release.version) {
                            td { (release.product) }
                            td { a href=(release_url(&release.product, &release.version)) { (release.version) } }
                            td { (date(release.published)) }
                            td { code { (release.signer) } }
                            td .num { (bundles) }
                            td .verification { @if *verified { "Verified" } @else { "No record" } }
                        }
                    }
                }
            }
        }
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
                "Each bundle (" code { "NAME.tar.zst" } ") with its sidecars (" code { ".sha256" } ", "
                code { ".sig" } " or " code { ".cosign.bundle" } ", the " code { ".report.pdf" }
                " its " code { ".sha256" } " lists), and the release's other files. Every bundle must verify "
                "with the vendor key this portal was started with, as " code { "genesis-portal publish" } " checks."
            }
            progress #upload-progress max="100" value="0" hidden {}
            button #publish type="submit" { "Publish" }
        }
    }
}

/// What the releases page says instead of the form when the portal has no key to verify
/// uploads against, and what a publication is then answered.
fn publishing_off() -> Markup {
    html! {
        p #publish-off {
            "Publishing in the browser is off: this portal was started without a vendor key to verify "
            "uploaded bundles against. Start it with " code { "genesis-portal serve --publish-key vendor.pub" }
            " (the key " code { "genesis-portal publish --key" } " takes), or publish from a shell with "
            code { "genesis-portal publish VERSION FILE… --key vendor.pub" } "."
        }
    }
}

/// `POST /admin/releases`: the upload, then the CLI's publication of it.
async fn publish(
    State(state): State<Shared>,
    session: VendorSession,
    headers: HeaderMap,
    deadline: Option<Extension<BodyDeadline>>,
    multipart: Multipart,
) -> Result<Response, PageError> {
    let Some(key) = state.publish_key.clone() else {
        return Ok(page(session.chrome("Publishing is off"), StatusCode::CONFLICT, publishing_off()));
    };
    // A signed-in vendor's release takes longer to arrive than any other request body may.
    if let Some(Extension(deadline)) = deadline {
        deadline.extend(upload::UPLOAD_TIME);
    }
    let upload = match upload::receive(multipart, &session.csrf, &headers, state.instance.scratch()).await {
        Ok(upload) => upload,
        Err(UploadError::Request(e)) => return Err(e),
        // Nothing of the form survived but its reason: the vendor chooses the files again.
        Err(UploadError::Refused(e)) => {
            let reason = genesis_types::error_chain(&e);
            let refused = Attempt { product: "genesis", version: "", reason: &reason };
            return releases_page(&state, &session, StatusCode::UNPROCESSABLE_ENTITY, Some(refused)).await;
        }
    };
    let publication =
        Publication { product: &upload.product, version: &upload.version, files: &upload.files, key: &key };
    let published = publish_into(&state.store, &state.artifacts, publication, now(), &actor(&session.admin)).await;
    // The verifier names the files it refused by path: the upload's directory is the
    // portal's business, the file's name the vendor's.
    let dir = format!("{}/", upload.dir().display());
    let (product, version) = (upload.product.clone(), upload.version.clone());
    upload.remove().await;
    match published {
        Ok(stored) => {
            tracing::info!(adminId = %session.admin.id, product = %product, version = %version, files = stored.len(),
                "release published on the vendor's pages");
            Ok(see_other(&release_url(&product, &version)))
        }
        Err(e) if refusal_status(&e).is_some() => {
            let reason = genesis_types::error_chain(&e).replace(&dir, "");
            tracing::info!(adminId = %session.admin.id, product = %product, version = %version, reason = %reason,
                "publication refused");
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
        div .table-wrap {
            table #artifacts {
                thead { tr { th { "Name" } th { "Kind" } th { "Size" } th { "SHA-256" } } }
                tbody {
                    @for a in &artifacts {
                        tr data-artifact=(a.name) {
                            td { code { (a.name) } }
                            td { (wire_name(a.kind)) }
                            td { (human_size(a.size)) }
                            td { code .digest { (a.sha256.hex()) } }
                        }
                    }
                }
            }
        }
        h2 { "Verification" }
        @if facts.is_empty() {
            p #no-record {
                "No record: this release was published before the portal kept what publishing verified. "
                "Its bundles verified then; " code { "genesis verify" } " checks one again."
            }
        }
        @for f in &facts {
            (bundle_facts(f))
        }
    };
    Ok(page(session.chrome(&title), StatusCode::OK, body))
}

/// What publishing established of one bundle.
fn bundle_facts(f: &BundleFacts) -> Markup {
    html! {
        section .bundle data-bundle=(f.bundle) {
            h3 { code { (f.bundle) } }
            dl .facts {
                dt { "Verified" } dd { (date(f.verified_at)) }
                dt { "Signer" } dd { (f.signer.to_string()) }
                dt { "BOM" } dd { code .digest { (f.bom_sha256) } }
                dt { "Payload" } dd { (f.files) " files, " (human_size(f.payload_bytes)) }
                dt { "Contents" } dd { (f.images) " images, " (f.charts) " charts, " (f.manifests) " manifests" }
                dt { "Policy" }
                dd {
                    @if f.policy.is_empty() { "the signature alone" }
                    @else { ul { @for decision in &f.policy { li { (decision) } } } }
                }
                dt { "SBOM" }
                dd {
                    @match &f.sbom {
                        Some(sbom) => { (sbom.format) ", " (sbom.components.len()) " components" }
                        None => { "none in the bundle" }
                    }
                }
                dt { "Provenance" }
                dd {
                    @match &f.provenance {
                        Some(p) => {
                            "built by " code { (p.builder_id) } " (" code { (p.build_type) } "), "
                            (p.materials.len()) " materials"
                        }
                        None => { "none in the bundle" }
                    }
                }
            }
        }
    }
}

/// An artifact kind as the API spells it (`bundle`, `cosign-bundle`, …).
fn wire_name(value: ArtifactKind) -> String {
    serde_json::to_value(value).ok().and_then(|v| v.as_str().map(str::to_owned)).unwrap_or_default()
}

// ---- exports and audit

/// Exports the exports page shows besides those building.
const RECENT_EXPORTS: u32 = 100;

async fn exports(State(state): State<Shared>, session: VendorSession) -> Result<Response, PageError> {
    let exports = state.store.recent_exports(RECENT_EXPORTS).await?;
    let body = html! {
        h1 { "Exports" }
        p { "The exports building now and the last " (RECENT_EXPORTS) ", newest first." }
        div .table-wrap {
            table #exports {
                thead { tr {
                    th { "Id" } th { "Organisation" } th { "Release" } th { "Status" } th { "Created" }
                    th { "Finished" } th { "Error" }
                } }
                tbody {
                    @for e in &exports {
                        tr data-export-id=(e.id) {
                            td { code { (e.id) } }
                            td { a href=(org_url(&e.org)) { (e.org) } }
                            td { (e.product) " " (e.version) }
                            td {
                                @let status = export_state(&state, e);
                                span class={ "status status-" (status) } { (status) }
                            }
                            td { (date(e.created)) }
                            td { @if let Some(finished) = e.finished { (date(finished)) } }
                            td { @if let Some(error) = &e.error { (error) } }
                        }
                    }
                }
            }
        }
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
        div .table-wrap {
            table #downloads-per-org {
                thead { tr { th { "Organisation" } th { "Downloads" } } }
                tbody {
                    @for (org, count) in &downloads {
                        tr data-org=(org) { td { a href=(org_url(org)) { (org) } } td .num { (count) } }
                    }
                }
            }
        }
        @if downloads.is_empty() { p .empty { "No download yet." } }
        h2 { "Who did what" }
        p { "The last " (AUDIT_PAGE) " entries, newest first." }
        (audit_table("audit", &entries))
    };
    Ok(page(session.chrome("Audit log"), StatusCode::OK, body))
}

/// Audit entries as a table with id `id`.
fn audit_table(id: &str, entries: &[crate::store::AuditEntry]) -> Markup {
    html! {
        div .table-wrap {
            table id=(id) {
                thead { tr { th { "When" } th { "Actor" } th { "Action" } th { "Organisation" } th { "Subject" } } }
                tbody {
                    @for e in entries {
                        tr {
                            td { (date(e.at)) }
                            td { code { (e.actor) } }
                            td { (e.action) }
                            td { @if let Some(org) = &e.org { (org) } }
                            td { code { (e.subject) } }
                        }
                    }
                }
            }
        }
        @if entries.is_empty() { p .empty { "Nothing recorded yet." } }
    }
}
