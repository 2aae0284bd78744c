//! The customer's pages under `/portal`: sign in with the license key, the releases the
//! organisation is entitled to, each with its files, hashes, signer, SBOM, provenance and the
//! exact commands to pull and verify it, the license file, and the air-gap export packs.
//! Everything is read through the caller the session's key makes, with the API's own
//! functions (`crate::api`): a page shows and serves exactly what the API would to that key,
//! so another organisation's release, export or download answers 403 or 404 here as there.

use std::borrow::Cow;
use std::fmt::Write as _;

use axum::Form;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use genesis_portal_client::protocol::{ArtifactKind, Scope};
use maud::{Markup, html};

use super::page::{
    Area, PageError, attachment, csrf_field, date, export_state, human_size, inline, page, portal_url, see_other,
    segment,
};
use super::session::{
    CsrfForm, CustomerSession, check_csrf, check_sign_in_token, end_session, sign_in_page, start_session,
};
use crate::api::{
    Caller, ExportRefusal, Shared, artifact_download, caller_export, entitled_release, entitled_releases,
    export_download, license_for_caller, request_export,
};
use crate::facts::BundleFacts;
use crate::store::{Export, Release, SessionKind, StoredArtifact, action, key_hash};

/// The customer's start page.
pub(crate) const HOME: &str = "/portal";
const SIGN_IN: &str = "/portal/sign-in";

/// The customer's routes.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route(HOME, get(home))
        .route(SIGN_IN, get(sign_in_form).post(sign_in))
        .route("/portal/sign-out", post(sign_out))
        .route("/portal/releases/{product}/{version}", get(release))
        .route("/portal/releases/{product}/{version}/files/{name}", get(download))
        .route("/portal/releases/{product}/{version}/bundles/{name}/sbom", get(sbom))
        .route("/portal/releases/{product}/{version}/bundles/{name}/provenance", get(provenance))
        .route("/portal/license", get(license))
        .route("/portal/exports", get(exports).post(new_export))
        .route("/portal/exports/{id}", get(export))
        .route("/portal/exports/{id}/download", get(download_export))
}

fn release_href(product: &str, version: &str) -> String {
    format!("/portal/releases/{}/{}", segment(product), segment(version))
}

fn export_href(id: &str) -> String {
    format!("/portal/exports/{}", segment(id))
}

// ---- sign-in and sign-out

async fn sign_in_form(State(state): State<Shared>, headers: HeaderMap) -> Response {
    sign_in_page(&state, &headers, Area::Customer, StatusCode::OK, None)
}

#[derive(serde::Deserialize)]
struct SignIn {
    #[serde(default)]
    key: String,
    #[serde(default)]
    csrf: String,
}

/// `POST /portal/sign-in`: the key checked as the API checks a bearer key; refused, the form
/// again with the reason (401), else a session and the start page. The key is never logged.
async fn sign_in(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<SignIn>,
) -> Result<Response, PageError> {
    let refused = |status, reason: &str| Ok(sign_in_page(&state, &headers, Area::Customer, status, Some(reason)));
    if let Err(e) = check_sign_in_token(&headers, &form.csrf) {
        return refused(e.status, &e.message);
    }
    let Some(record) = state.store.key_by_hash(&key_hash(form.key.trim())).await? else {
        tracing::info!("customer sign-in refused: unknown license key");
        return refused(StatusCode::UNAUTHORIZED, "unknown license key: paste the whole key, which starts with sk_");
    };
    let caller = match Caller::from_record(record) {
        Ok(caller) => caller,
        Err(failure) => {
            tracing::info!(reason = %failure.message, "customer sign-in refused");
            return refused(failure.status, &failure.message);
        }
    };
    state.store.audit_now(&caller.actor(), action::SIGN_IN, Some(&caller.org), &caller.key_id).await?;
    tracing::info!(org = %caller.org, keyId = %caller.key_id, "customer signed in");
    start_session(&state, SessionKind::Customer, &caller.key_id, HOME).await
}

async fn sign_out(
    State(state): State<Shared>,
    session: CustomerSession,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    check_csrf(&session.csrf, &form.csrf, &headers)?;
    end_session(&state, &session.id_hash, SIGN_IN).await
}

// ---- the start page

/// An entitled release as the start page lists it.
struct Listed {
    release: Release,
    bundles: usize,
    size: u64,
}

async fn home(State(state): State<Shared>, session: CustomerSession) -> Result<Response, PageError> {
    let caller = &session.caller;
    // A key with only the export scopes still signs in: it is told what it cannot list.
    let releases = if caller.require(Scope::ReleasesRead).is_ok() {
        let mut listed = Vec::new();
        for release in entitled_releases(&state, caller).await? {
            let artifacts = state.store.artifacts(&release.product, &release.version).await?;
            let bundles = artifacts.iter().filter(|a| a.kind == ArtifactKind::Bundle).count();
            listed.push(Listed { bundles, size: artifacts.iter().map(|a| a.size).sum(), release });
        }
        Some(listed)
    } else {
        None
    };
    let body = home_body(caller, releases.as_deref(), state.license_key.is_some());
    Ok(page(session.chrome("Your releases"), StatusCode::OK, body))
}

fn home_body(caller: &Caller, releases: Option<&[Listed]>, issues_licenses: bool) -> Markup {
    let scopes: Vec<&str> = caller.scopes.iter().map(|s| s.as_str()).collect();
    let can_read = caller.scopes.contains(&Scope::ReleasesRead);
    html! {
        h1 { "Your releases" }
        p.lede {
            "Organisation " strong { (caller.org) } ", license key " code { (caller.key_id) }
            " (" (scopes.join(", ")) "), valid until " (date(caller.expires)) "."
        }
        @match releases {
            None => p.notice {
                "Key " code { (caller.key_id) } " cannot list releases: it lacks the "
                code { "releases:read" } " scope. Ask your vendor for a key with it."
            },
            Some(releases) => {
                ul #releases .releases {
                    @for listed in releases {
                        @let r = &listed.release;
                        li.release data-version=(r.version) data-product=(r.product) {
                            a href=(release_href(&r.product, &r.version)) { (r.product) " " (r.version) }
                            span.meta {
                                "published " (date(r.published)) " · " (listed.bundles)
                                @if listed.bundles == 1 { " bundle" } @else { " bundles" }
                                ", " (human_size(listed.size))
                            }
                        }
                    }
                }
                @if releases.is_empty() {
                    p.notice {
                        "No release is published for your organisation yet. When your vendor publishes one "
                        "you are entitled to, it is listed here and by " code { "genesis releases" } "."
                    }
                }
            },
        }
        h2 { "Also here" }
        ul.links {
            @if issues_licenses && can_read {
                li {
                    a #license-download href="/portal/license" { "License file" }
                    ": your organisation's signed offline license; check it without network with "
                    code { "genesis license verify license-" (caller.org) ".json --key vendor.pub" } "."
                }
            }
            @if caller.scopes.contains(&Scope::ExportRead) {
                li {
                    a #exports href="/portal/exports" { "Air-gap export packs" }
                    ": a release's images and charts in one archive, built for you by the portal."
                }
            }
            li {
                a href="/portal/guide" { "Air-gap workflow" }
                ": how a release travels from this portal to your cluster, and what never comes back."
            }
        }
    }
}

// ---- a release

async fn release(
    State(state): State<Shared>,
    session: CustomerSession,
    headers: HeaderMap,
    Path((product, version)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let caller = &session.caller;
    caller.require(Scope::ReleasesRead)?;
    let release = entitled_release(&state, caller, &product, &version).await?;
    let artifacts = state.store.artifacts(&product, &version).await?;
    let facts = state.store.bundle_facts(&product, &version).await?;
    let shown = ReleaseShown {
        release: &release,
        artifacts: &artifacts,
        facts: &facts,
        portal: &portal_url(state.secure_cookies, &headers),
        export_csrf: caller.scopes.contains(&Scope::ExportWrite).then_some(session.csrf.as_str()),
    };
    let title = format!("{product} {version}");
    Ok(page(session.chrome(&title), StatusCode::OK, release_body(&shown)))
}

/// What a release's page shows.
struct ReleaseShown<'a> {
    release: &'a Release,
    artifacts: &'a [StoredArtifact],
    facts: &'a [BundleFacts],
    /// This portal's URL, for `genesis login`.
    portal: &'a str,
    /// The session's CSRF token when the key may request an export pack.
    export_csrf: Option<&'a str>,
}

fn release_body(shown: &ReleaseShown<'_>) -> Markup {
    let r = shown.release;
    let base = release_href(&r.product, &r.version);
    let bundles: Vec<&str> =
        shown.artifacts.iter().filter(|a| a.kind == ArtifactKind::Bundle).map(|a| a.name.as_str()).collect();
    html! {
        h1 { (r.product) " " (r.version) }
        p.lede {
            "Published " (date(r.published)) ". Its bundles verified against the vendor key "
            code #signer { (r.signer) } " before the portal published them."
        }
        h2 { "Files" }
        div.table-wrap {
            table #artifacts {
                thead {
                    tr {
                        th scope="col" { "Name" }
                        th scope="col" { "Kind" }
                        th scope="col" { "Size" }
                        th scope="col" { "SHA-256" }
                        th scope="col" { "Download" }
                    }
                }
                tbody {
                    @for a in shown.artifacts {
                        tr data-artifact=(a.name) {
                            th scope="row" { code { (a.name) } }
                            td { (kind_label(a.kind)) }
                            td.num { (human_size(a.size)) }
                            td { code.digest { (a.sha256.hex()) } }
                            td {
                                a.download href={ (base) "/files/" (segment(&a.name)) } download {
                                    "Download" span.visually-hidden { " " (a.name) }
                                }
                            }
                        }
                    }
                }
            }
        }
        h2 { "Bundles" }
        @for name in &bundles {
            section.bundle {
                h3 { code { (name) } }
                @match shown.facts.iter().find(|f| f.bundle == *name) {
                    Some(f) => p {
                        "Verified " (date(f.verified_at)) ", signed by " code { (f.signer) } ": "
                        (f.files) " files (" (human_size(f.payload_bytes)) "), " (f.images) " images, "
                        (f.charts) " charts, " (f.manifests) " manifests."
                    },
                    None => (no_record()),
                }
                p.actions {
                    a.sbom href={ (base) "/bundles/" (segment(name)) "/sbom" } { "SBOM" }
                    " · "
                    a.provenance href={ (base) "/bundles/" (segment(name)) "/provenance" } { "Provenance" }
                }
            }
        }
        h2 { "Pull and verify" }
        p {
            "On the gap-host: log in once with your license key, pull the release, then verify each bundle "
            "with " code { "vendor.pub" } ", the vendor's public key as you received it from the vendor "
            "(not from this portal: a key from the place that serves the bundles would prove nothing). Its "
            "fingerprint must be the one above. The "
            a href="/portal/guide" { "Air-gap workflow" } " goes on from there."
        }
        div.commands {
            pre #commands { (commands(shown.portal, &r.product, &r.version, &bundles)) }
            button.copy type="button" data-copy="commands" hidden { "Copy commands" }
        }
        @if let Some(csrf) = shown.export_csrf {
            h2 { "Air-gap export pack" }
            p {
                "The portal can build this release's bootstrap pack for you: its images as an OCI layout, "
                "its charts and their signatures in one " code { ".tar.gz" } ", as "
                code {
                    "genesis export-pack " (r.version)
                    @if r.product != "genesis" { " --product " (r.product) }
                }
                " does."
            }
            form #export-form method="post" action="/portal/exports" {
                (csrf_field(csrf))
                input type="hidden" name="product" value=(r.product);
                input type="hidden" name="version" value=(r.version);
                button #request-export type="submit" { "Request an export pack" }
            }
        }
    }
}

/// What a page says of a bundle published before the portal recorded what its verification
/// found.
fn no_record() -> Markup {
    html! {
        p.notice {
            "No verification record: this bundle was published before the portal kept one. "
            code { "genesis verify" } " checks it all the same."
        }
    }
}

fn kind_label(kind: ArtifactKind) -> &'static str {
    match kind {
        ArtifactKind::Bundle => "bundle",
        ArtifactKind::Sha256 => "SHA-256 checksums",
        ArtifactKind::Signature => "signature",
        ArtifactKind::CosignBundle => "sigstore bundle",
        ArtifactKind::Report => "evidence report (PDF)",
        ArtifactKind::Sbom => "SBOM",
        ArtifactKind::Provenance => "provenance",
        ArtifactKind::Other => "file",
    }
}

/// A word as a POSIX shell reads it literally: as is when it holds only characters no shell
/// treats specially, else single-quoted.
pub(crate) fn shell_word(word: &str) -> Cow<'_, str> {
    if !word.is_empty() && word.bytes().all(|b| b.is_ascii_alphanumeric() || b"-._+:/@%=,".contains(&b)) {
        Cow::Borrowed(word)
    } else {
        Cow::Owned(format!("'{}'", word.replace('\'', r"'\''")))
    }
}

/// The commands that pull and verify a release on the gap-host, as `genesis` takes them:
/// `genesis pull` names the product only when it is not the default (`genesis`), and writes
/// each bundle with its sidecars into the current folder, where the checks read them.
fn commands(portal: &str, product: &str, version: &str, bundles: &[&str]) -> String {
    let mut text = format!(
        "genesis login --portal {}\ngenesis releases\ngenesis pull {}",
        shell_word(portal),
        shell_word(version)
    );
    if product != "genesis" {
        let _ = write!(text, " --product {}", shell_word(product));
    }
    for bundle in bundles {
        let _ = write!(
            text,
            "\ngenesis verify {} --key vendor.pub\nsha256sum -c {}",
            shell_word(&format!("./{bundle}")),
            shell_word(&format!("{bundle}.sha256"))
        );
    }
    text
}

/// `GET …/files/{name}`: the artifact as the API serves it (Range, ETag, 304; the download
/// audited there), saved under its name; the evidence report is shown in the browser.
async fn download(
    State(state): State<Shared>,
    session: CustomerSession,
    headers: HeaderMap,
    Path((product, version, name)): Path<(String, String, String)>,
) -> Result<Response, PageError> {
    let response = artifact_download(&state, &session.caller, &product, &version, &name, &headers).await?;
    Ok(match ArtifactKind::of(&name) {
        ArtifactKind::Report => inline(response, &name),
        _ => attachment(response, &name),
    })
}

// ---- SBOM and provenance

/// What publishing recorded of the bundle `name` of an entitled release: 404 when the release
/// has no such bundle, `None` when it was published before the portal recorded facts.
async fn facts_of(
    state: &Shared,
    caller: &Caller,
    product: &str,
    version: &str,
    name: &str,
) -> Result<Option<BundleFacts>, PageError> {
    caller.require(Scope::ReleasesRead)?;
    entitled_release(state, caller, product, version).await?;
    let artifacts = state.store.artifacts(product, version).await?;
    if !artifacts.iter().any(|a| a.name == name && a.kind == ArtifactKind::Bundle) {
        return Err(PageError::new(StatusCode::NOT_FOUND, format!("{product} {version} has no bundle `{name}`")));
    }
    Ok(state.store.bundle_facts(product, version).await?.into_iter().find(|f| f.bundle == name))
}

/// The header of a bundle's SBOM or provenance page: what it is of, and the way back.
fn bundle_heading(what: &str, product: &str, version: &str, name: &str) -> Markup {
    html! {
        h1 { (what) " of " code { (name) } }
        p.lede { "A bundle of " a href=(release_href(product, version)) { (product) " " (version) } "." }
    }
}

/// What the portal's verification of a bundle found, under its SBOM or provenance.
fn verification(facts: &BundleFacts) -> Markup {
    html! {
        h2 { "Verification" }
        dl.facts {
            dt { "Verified" }
            dd { (date(facts.verified_at)) ", when the release was published" }
            dt { "Signer" }
            dd { code { (facts.signer) } }
            dt { "BOM SHA-256" }
            dd { code.digest { (facts.bom_sha256) } }
            dt { "Contents" }
            dd {
                (facts.files) " files, " (human_size(facts.payload_bytes)) ": " (facts.images) " images, "
                (facts.charts) " charts, " (facts.manifests) " manifests, each checked against the signed BOM"
            }
            @if !facts.policy.is_empty() {
                dt { "Policy" }
                dd { ul { @for decision in &facts.policy { li { (decision) } } } }
            }
        }
    }
}

async fn sbom(
    State(state): State<Shared>,
    session: CustomerSession,
    Path((product, version, name)): Path<(String, String, String)>,
) -> Result<Response, PageError> {
    let facts = facts_of(&state, &session.caller, &product, &version, &name).await?;
    let body = html! {
        (bundle_heading("SBOM", &product, &version, &name))
        @match &facts {
            None => (no_record()),
            Some(f) => {
                @match &f.sbom {
                    None => p.notice { "This bundle carries no SBOM." },
                    Some(sbom) => {
                        p {
                            (sbom.format) ", " (sbom.components.len())
                            " components, as the bundle's signed SBOM lists them."
                        }
                        div.table-wrap {
                            table #components {
                                thead {
                                    tr {
                                        th scope="col" { "Name" }
                                        th scope="col" { "Version" }
                                        th scope="col" { "Type" }
                                        th scope="col" { "Package URL" }
                                    }
                                }
                                tbody {
                                    @for c in &sbom.components {
                                        tr {
                                            th scope="row" { (c.name) }
                                            td { @if let Some(v) = &c.version { code { (v) } } }
                                            td { (c.kind) }
                                            td { @if let Some(purl) = &c.purl { code { (purl) } } }
                                        }
                                    }
                                }
                            }
                        }
                    },
                }
                (verification(f))
            },
        }
        p {
            "For your vulnerability scanner, " code { "genesis sbom ./" (name) " --key vendor.pub" }
            " writes the SBOM out of the bundle itself, after checking its signature."
        }
    };
    let title = format!("SBOM of {name}");
    Ok(page(session.chrome(&title), StatusCode::OK, body))
}

async fn provenance(
    State(state): State<Shared>,
    session: CustomerSession,
    Path((product, version, name)): Path<(String, String, String)>,
) -> Result<Response, PageError> {
    let facts = facts_of(&state, &session.caller, &product, &version, &name).await?;
    let body = html! {
        (bundle_heading("Provenance", &product, &version, &name))
        @match &facts {
            None => (no_record()),
            Some(f) => {
                @match &f.provenance {
                    None => p.notice { "This bundle carries no provenance." },
                    Some(prov) => {
                        p { "The bundle's SLSA provenance, signed with it: who built it, how, and from what." }
                        dl.facts {
                            dt { "Builder" }
                            dd { code #builder { (prov.builder_id) } }
                            dt { "Build type" }
                            dd { code #build-type { (prov.build_type) } }
                            @if let Some(spec) = &prov.spec_sha256 {
                                dt { "Spec SHA-256" }
                                dd { code.digest { (spec) } }
                            }
                        }
                        h2 { "Materials" }
                        div.table-wrap {
                            table #materials {
                                thead {
                                    tr {
                                        th scope="col" { "Name" }
                                        th scope="col" { "URI" }
                                        th scope="col" { "SHA-256" }
                                    }
                                }
                                tbody {
                                    @for m in &prov.materials {
                                        tr {
                                            th scope="row" { (m.name) }
                                            td { code { (m.uri) } }
                                            td { @if let Some(sha) = &m.sha256 { code.digest { (sha) } } }
                                        }
                                    }
                                }
                            }
                        }
                    },
                }
                (verification(f))
            },
        }
    };
    let title = format!("Provenance of {name}");
    Ok(page(session.chrome(&title), StatusCode::OK, body))
}

// ---- the license file

async fn license(State(state): State<Shared>, session: CustomerSession) -> Result<Response, PageError> {
    let signed = license_for_caller(&state, &session.caller).await?;
    let response = ([(header::CONTENT_TYPE, "application/json")], signed).into_response();
    Ok(attachment(response, &format!("license-{}.json", session.caller.org)))
}

// ---- export packs

async fn exports(State(state): State<Shared>, session: CustomerSession) -> Result<Response, PageError> {
    session.caller.require(Scope::ExportRead)?;
    let exports = state.store.exports_of(&session.caller.org).await?;
    let body = html! {
        h1 { "Air-gap export packs" }
        p.lede {
            "Packs your organisation asked for, newest first. A pack is kept for a while after it is built, "
            "then deleted; ask for a new one from the release's page."
        }
        div.table-wrap {
            table #exports {
                thead {
                    tr {
                        th scope="col" { "Export" }
                        th scope="col" { "Release" }
                        th scope="col" { "Status" }
                        th scope="col" { "Size" }
                        th scope="col" { "Requested" }
                    }
                }
                tbody {
                    @for e in &exports {
                        @let status = export_state(&state, e);
                        tr data-export=(e.id) {
                            th scope="row" { a href=(export_href(&e.id)) { code { (e.id) } } }
                            td { (e.product) " " (e.version) }
                            td { span class={ "status status-" (status) } { (status) } }
                            td.num { @if let Some(size) = e.size { (human_size(size)) } }
                            td { (date(e.created)) }
                        }
                    }
                }
            }
        }
        @if exports.is_empty() {
            p.notice { "No export pack yet: request one from a release's page." }
        }
    };
    Ok(page(session.chrome("Air-gap export packs"), StatusCode::OK, body))
}

#[derive(serde::Deserialize)]
struct ExportForm {
    #[serde(default)]
    csrf: String,
    #[serde(default)]
    product: String,
    #[serde(default)]
    version: String,
}

/// A refused export request as the page says it: 429 when the builds are at their limit.
impl From<ExportRefusal> for PageError {
    fn from(refusal: ExportRefusal) -> PageError {
        match refusal {
            ExportRefusal::Failure(failure) => failure.into(),
            ExportRefusal::TooMany { message } => PageError::new(StatusCode::TOO_MANY_REQUESTS, message),
        }
    }
}

/// `POST /portal/exports`: asks for a pack as `POST /v1/exports/airgap/bootstrap` does, then
/// shows its status.
async fn new_export(
    State(state): State<Shared>,
    session: CustomerSession,
    headers: HeaderMap,
    Form(form): Form<ExportForm>,
) -> Result<Response, PageError> {
    check_csrf(&session.csrf, &form.csrf, &headers)?;
    let product = if form.product.is_empty() { "genesis".to_owned() } else { form.product };
    let (_, export) = request_export(&state, &session.caller, product, form.version).await?;
    Ok(see_other(&export_href(&export.id)))
}

/// `GET /portal/exports/{id}`: the status, reloading every 2 s while the pack is built; the
/// download and its hashes once ready.
async fn export(
    State(state): State<Shared>,
    session: CustomerSession,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let found = match caller_export(&state, &session.caller, &id).await {
        Ok(export) => Ok(export),
        // Its pack is deleted: the page says so rather than failing.
        Err(gone) if gone.status == StatusCode::GONE => Err(gone.message),
        Err(failure) => return Err(failure.into()),
    };
    let title = format!("Export {id}");
    let body = match &found {
        Ok(export) => export_body(export, export_state(&state, export), state.export_ttl_secs),
        Err(message) => html! {
            h1 { "Export " code { (id) } }
            p { "Status: " strong #export-status .status.status-expired { "expired" } }
            p.notice { (message) }
        },
    };
    Ok(page(session.chrome(&title), StatusCode::OK, body))
}

fn export_body(export: &Export, status: &str, ttl_secs: i64) -> Markup {
    let file = format!("genesis-airgap-{}.tar.gz", export.id);
    html! {
        @if status == "pending" {
            // In the body rather than the head: browsers act on it wherever it is.
            meta http-equiv="refresh" content="2";
        }
        h1 { "Export " code { (export.id) } }
        p {
            "Status: " strong #export-status class={ "status status-" (status) } { (status) }
            " · the bootstrap pack of "
            a href=(release_href(&export.product, &export.version)) { (export.product) " " (export.version) }
            ", requested " (date(export.created)) "."
        }
        @match status {
            "pending" => p { "The portal is building the pack; this page reloads every 2 seconds." },
            "failed" => p.error role="alert" { (export.error.as_deref().unwrap_or("the build failed")) },
            _ => {}
        }
        @if let (Some(sha256), Some(size)) = (&export.sha256, export.size) {
            dl.facts {
                dt { "Size" }
                dd { (human_size(size)) }
                dt { "SHA-256" }
                dd { code.digest { (sha256.hex()) } }
                @if let Some(root) = &export.root_hash {
                    dt { "Root hash" }
                    dd { code.digest { (root) } }
                }
                @if let Some(finished) = export.finished {
                    dt { "Kept until" }
                    dd { (date(finished.saturating_add(ttl_secs))) }
                }
            }
            p {
                a #export-download .button href={ (export_href(&export.id)) "/download" } download {
                    "Download " (file)
                }
            }
            p { "Check what you saved: " code { "echo '" (sha256.hex()) "  " (file) "' | sha256sum -c" } }
        }
    }
}

async fn download_export(
    State(state): State<Shared>,
    session: CustomerSession,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let response = export_download(&state, &session.caller, &id, &headers).await?;
    Ok(attachment(response, &format!("genesis-airgap-{id}.tar.gz")))
}

#[cfg(test)]
mod tests {
    use super::*;

    fn caller(org: &str, scopes: &[Scope]) -> Caller {
        Caller { org: org.to_owned(), key_id: "k_1234".to_owned(), scopes: scopes.to_vec(), expires: 1_800_000_000 }
    }

    fn release(product: &str, version: &str) -> Release {
        Release {
            product: product.to_owned(),
            version: version.to_owned(),
            published: 1_764_494_000,
            signer: "SHA256:abc".to_owned(),
            signer_pem: String::new(),
        }
    }

    #[test]
    fn the_commands_pull_and_verify_every_bundle_as_genesis_takes_them() {
        assert_eq!(
            commands(
                "https://downloads.example.com",
                "genesis",
                "3.2.10",
                &["ops-3.2.10.tar.zst", "platform-3.2.10.tar.zst"]
            ),
            "genesis login --portal https://downloads.example.com\n\
             genesis releases\n\
             genesis pull 3.2.10\n\
             genesis verify ./ops-3.2.10.tar.zst --key vendor.pub\n\
             sha256sum -c ops-3.2.10.tar.zst.sha256\n\
             genesis verify ./platform-3.2.10.tar.zst --key vendor.pub\n\
             sha256sum -c platform-3.2.10.tar.zst.sha256"
        );
        let other = commands("http://127.0.0.1:8480", "edge", "1.0.0+b.2", &["edge-1.0.0.tar.zst"]);
        assert!(other.contains("\ngenesis pull 1.0.0+b.2 --product edge\n"), "{other}");
    }

    #[test]
    fn anything_a_shell_would_read_is_quoted() {
        assert_eq!(shell_word("./demo-0.1.0.tar.zst"), "./demo-0.1.0.tar.zst");
        assert_eq!(shell_word("http://[::1]:8480"), "'http://[::1]:8480'");
        assert_eq!(shell_word("a b;$(x)'"), r"'a b;$(x)'\'''");
        assert_eq!(shell_word(""), "''");
    }

    #[test]
    fn the_start_page_escapes_the_organisation_and_lists_entitled_releases() {
        let hostile = caller("<script>alert(1)</script>", &[Scope::ReleasesRead, Scope::ExportRead]);
        let listed = [Listed { release: release("genesis", "3.2.10"), bundles: 2, size: 3 << 20 }];
        let text = home_body(&hostile, Some(&listed), true).into_string();
        assert!(!text.contains("<script>alert"), "{text}");
        assert!(text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{text}");
        assert!(text.contains(r#"<li class="release" data-version="3.2.10" data-product="genesis">"#), "{text}");
        assert!(text.contains(r#"href="/portal/releases/genesis/3.2.10""#), "{text}");
        assert!(text.contains(r#"id="license-download""#) && text.contains(r#"id="exports""#), "{text}");
    }

    #[test]
    fn the_start_page_offers_only_what_the_key_may_do() {
        let export_only = caller("acme", &[Scope::ExportRead]);
        let text = home_body(&export_only, None, true).into_string();
        assert!(text.contains("releases:read"), "says which scope is missing: {text}");
        assert!(!text.contains(r#"id="releases""#) && !text.contains("license-download"), "{text}");
        let reader = caller("acme", &[Scope::ReleasesRead]);
        let text = home_body(&reader, Some(&[]), false).into_string();
        assert!(text.contains(r#"<ul class="releases" id="releases"></ul>"#), "{text}");
        assert!(!text.contains("license-download") && !text.contains(r#"id="exports""#), "{text}");
    }

    #[test]
    fn a_release_page_has_its_files_commands_and_export_form() {
        let r = release("genesis", "3.2.10");
        let artifacts = [
            StoredArtifact {
                name: "demo-3.2.10.tar.zst".to_owned(),
                kind: ArtifactKind::Bundle,
                size: 2048,
                sha256: genesis_bundle::sha256(b"bundle"),
            },
            StoredArtifact {
                name: "demo-3.2.10.tar.zst.sha256".to_owned(),
                kind: ArtifactKind::Sha256,
                size: 90,
                sha256: genesis_bundle::sha256(b"sidecar"),
            },
        ];
        let shown = ReleaseShown {
            release: &r,
            artifacts: &artifacts,
            facts: &[],
            portal: "http://127.0.0.1:8480",
            export_csrf: Some("tok"),
        };
        let text = release_body(&shown).into_string();
        assert!(text.contains(r#"<tr data-artifact="demo-3.2.10.tar.zst">"#), "{text}");
        let digest = genesis_bundle::sha256(b"bundle");
        assert!(text.contains(digest.hex()), "full SHA-256: {text}");
        assert!(
            text.contains(r#"href="/portal/releases/genesis/3.2.10/files/demo-3.2.10.tar.zst" download"#),
            "{text}"
        );
        assert!(text.contains(r#"<code id="signer">SHA256:abc</code>"#), "{text}");
        assert!(
            text.contains(r#"class="sbom" href="/portal/releases/genesis/3.2.10/bundles/demo-3.2.10.tar.zst/sbom""#),
            "{text}"
        );
        assert!(text.contains("genesis login --portal http://127.0.0.1:8480\n"), "{text}");
        assert!(text.contains(r#"data-copy="commands""#), "{text}");
        assert!(text.contains(r#"<form id="export-form" method="post" action="/portal/exports">"#), "{text}");
        assert!(text.contains("No verification record"), "{text}");
        let reader = ReleaseShown { export_csrf: None, ..shown };
        assert!(!release_body(&reader).into_string().contains("export-form"));
    }

    #[test]
    fn an_export_page_refreshes_while_pending_and_offers_the_pack_when_ready() {
        let mut export =
            Export::pending("exp_1".to_owned(), "acme".to_owned(), "genesis".to_owned(), "3.2.10".to_owned(), 0);
        let pending = export_body(&export, "pending", 3600).into_string();
        assert!(pending.contains(r#"<meta http-equiv="refresh" content="2">"#), "{pending}");
        assert!(pending.contains(">pending</strong>"), "{pending}");
        export.sha256 = Some(genesis_bundle::sha256(b"pack"));
        export.size = Some(10);
        export.finished = Some(100);
        let ready = export_body(&export, "ready", 3600).into_string();
        assert!(!ready.contains("refresh"), "{ready}");
        assert!(
            ready.contains(r#"id="export-download""#) && ready.contains(r#"href="/portal/exports/exp_1/download""#),
            "{ready}"
        );
        assert!(ready.contains("genesis-airgap-exp_1.tar.gz"), "{ready}");
    }
}
