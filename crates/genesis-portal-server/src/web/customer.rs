//! The customer's pages under `/portal`: sign in with the license key, the releases the
//! organisation is entitled to, each with its files, hashes, signer, SBOM, provenance and the
//! exact commands to pull and verify it, the license file, and the air-gap export packs.
//! Everything is read through the caller the session's key makes, with the API's own
//! functions (`crate::api`): a page shows and serves exactly what the API would to that key,
//! so another organisation's release, export or download answers 403 or 404 here as there.

use std::fmt::Write as _;

use axum::Form;
use axum::Router;
use axum::extract::{Path, State};
use axum::http::{HeaderMap, Method, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use genesis_portal_client::human_size;
use genesis_portal_client::protocol::{ArtifactKind, Scope};
use genesis_web::html::Column::{Numeric, Text};
use genesis_web::html::{count, csrf_field, date, segment, table};
use genesis_web::{attachment, inline};
use maud::{Markup, html};

use super::bundle::{artifacts_table, bundle_facts, bundles_section, no_record};
use super::page::{ExportStage, PageError, Site, page, see_other, shell_word};
use super::session::{self, CustomerSession, check_csrf};
use crate::api::{
    Caller, Delivery, ExportRefusal, ListedRelease, Shared, artifact_download, caller_export, entitled_listing,
    entitled_release, export_download, license_for_caller, request_export,
};
use crate::facts::BundleFacts;
use crate::store::{Export, Release, SessionKind, StoredArtifact};

/// The customer's start page.
pub(crate) const HOME: &str = "/portal";

/// Seconds between the reloads of an export's page while its pack is built.
const EXPORT_REFRESH_SECS: u32 = 5;

/// The customer's routes.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route(HOME, get(home))
        .route("/portal/releases/{product}/{version}", get(release))
        .route("/portal/releases/{product}/{version}/files/{name}", get(download))
        .route("/portal/releases/{product}/{version}/bundles/{name}/{view}", get(bundle_page))
        .route("/portal/license", get(license))
        .route("/portal/exports", get(exports).post(new_export))
        .route("/portal/exports/{id}", get(export))
        .route("/portal/exports/{id}/download", get(download_export))
        .merge(session::routes(SessionKind::Customer))
}

fn release_href(product: &str, version: &str) -> String {
    format!("/portal/releases/{}/{}", segment(product), segment(version))
}

fn export_href(id: &str) -> String {
    format!("/portal/exports/{}", segment(id))
}

// ---- the start page

async fn home(State(state): State<Shared>, session: CustomerSession) -> Result<Response, PageError> {
    let caller = &session.caller;
    // A key with only the export scopes still signs in: it is told what it cannot list.
    let releases =
        if caller.require(Scope::ReleasesRead).is_ok() { Some(entitled_listing(&state, caller).await?) } else { None };
    let body = home_body(caller, releases.as_deref(), state.license_key.is_some());
    Ok(page(session.chrome("Your releases"), StatusCode::OK, body))
}

fn home_body(caller: &Caller, releases: Option<&[ListedRelease]>, issues_licenses: bool) -> Markup {
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
                                "published " (date(r.published)) " · " (count(listed.bundles, "bundle", "bundles"))
                                ", " (human_size(listed.size))
                            }
                        }
                    }
                }
                @if releases.is_empty() {
                    p.notice {
                        "No release is published for your organisation yet. When your vendor publishes one "
                        "you are entitled to, it is listed here and by " code.cmd { "genesis releases" } "."
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
    site: Site,
    Path((product, version)): Path<(String, String)>,
) -> Result<Response, PageError> {
    let caller = &session.caller;
    caller.require(Scope::ReleasesRead)?;
    let release = entitled_release(&state, caller, &product, &version).await?;
    let artifacts = state.store.artifacts(&product, &version).await?;
    let facts = state.store.bundle_facts(&product, &version).await?;
    // The pack's page needs `export:read` as much as the request `export:write`.
    let may_export = caller.scopes.contains(&Scope::ExportWrite) && caller.scopes.contains(&Scope::ExportRead);
    let shown = ReleaseShown {
        release: &release,
        artifacts: &artifacts,
        facts: &facts,
        login: &site.login_command(),
        export_csrf: may_export.then_some(session.csrf.as_str()),
    };
    let title = format!("{product} {version}");
    Ok(page(session.chrome(&title), StatusCode::OK, release_body(&shown)))
}

/// What a release's page shows.
struct ReleaseShown<'a> {
    release: &'a Release,
    artifacts: &'a [StoredArtifact],
    facts: &'a [BundleFacts],
    /// `genesis login` for this portal.
    login: &'a str,
    /// The session's CSRF token when the key may request an export pack and read it.
    export_csrf: Option<&'a str>,
}

impl ReleaseShown<'_> {
    fn bundles(&self) -> Vec<&str> {
        self.artifacts.iter().filter(|a| a.kind.is_bundle_entry()).map(|a| a.name.as_str()).collect()
    }
}

fn release_body(shown: &ReleaseShown<'_>) -> Markup {
    let r = shown.release;
    let base = release_href(&r.product, &r.version);
    html! {
        h1 { (r.product) " " (r.version) }
        p.lede {
            "Published " (date(r.published)) ". Its bundles verified against the vendor key "
            code #signer { (r.signer) } " before the portal published them."
        }
        h2 { "Files" }
        (artifacts_table(shown.artifacts, Some(&base)))
        (bundles_section(shown.artifacts, shown.facts, Some(&base)))
        (commands_section(shown))
        @if let Some(csrf) = shown.export_csrf {
            (export_section(r, csrf))
        }
    }
}

/// The commands that pull and verify the release, with the copy button.
fn commands_section(shown: &ReleaseShown<'_>) -> Markup {
    let r = shown.release;
    html! {
        h2 { "Pull and verify" }
        p {
            "On the gap-host: log in once with your license key, pull the release, then verify each bundle "
            "with " code { "vendor.pub" } ", the vendor's public key as you received it from the vendor "
            "(not from this portal: a key from the place that serves the bundles would prove nothing). Its "
            "fingerprint must be the one above. The "
            a href="/portal/guide" { "Air-gap workflow" } " goes on from there."
        }
        div.commands {
            pre #commands { (commands(shown.login, &r.product, &r.version, &shown.bundles())) }
            button.copy type="button" data-copy="commands" hidden { "Copy commands" }
        }
    }
}

/// The form that asks the portal for the release's export pack.
fn export_section(r: &Release, csrf: &str) -> Markup {
    html! {
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

/// The commands that pull and verify a release on the gap-host, as `genesis` takes them:
/// `login` (this portal's), then `genesis pull` naming the product only when it is not the
/// default (`genesis`), which writes each bundle with its sidecars into the current folder,
/// where the checks read them. A split bundle is verified by its parts manifest, which checks
/// every part; it has no one archive for `sha256sum -c`.
fn commands(login: &str, product: &str, version: &str, bundles: &[&str]) -> String {
    let mut text = format!("{login}\ngenesis releases\ngenesis pull {}", shell_word(version));
    if product != "genesis" {
        let _ = write!(text, " --product {}", shell_word(product));
    }
    for bundle in bundles {
        let _ = write!(text, "\ngenesis verify {} --key vendor.pub", shell_word(&format!("./{bundle}")));
        if ArtifactKind::of(bundle) == ArtifactKind::Bundle {
            let _ = write!(text, "\nsha256sum -c {}", shell_word(&format!("{bundle}.sha256")));
        }
    }
    text
}

/// `GET …/files/{name}`: the artifact as the API serves it (Range, ETag, 304; the download
/// audited there), saved under its name; the evidence report is shown in the browser.
async fn download(
    State(state): State<Shared>,
    session: CustomerSession,
    method: Method,
    headers: HeaderMap,
    Path((product, version, name)): Path<(String, String, String)>,
) -> Result<Response, PageError> {
    let response =
        artifact_download(&state, &session.caller, &product, &version, &name, &method, &headers, Delivery::Streamed)
            .await?;
    Ok(match ArtifactKind::of(&name) {
        ArtifactKind::Report => inline(response, &name),
        _ => attachment(response, &name),
    })
}

// ---- SBOM and provenance

/// Which page of a bundle: its SBOM's components, or its provenance's builder and materials.
#[derive(Debug, Clone, Copy)]
enum BundleView {
    Sbom,
    Provenance,
}

/// `GET …/bundles/{name}/sbom` and `…/provenance`: a bundle's SBOM or provenance page, from
/// what publishing recorded of the bundle `name` of an entitled release: 404 when the release
/// has no such bundle, a notice when it was published before the portal recorded facts; then
/// what its verification found.
async fn bundle_page(
    State(state): State<Shared>,
    session: CustomerSession,
    Path((product, version, name, view)): Path<(String, String, String, String)>,
) -> Result<Response, PageError> {
    let view = match view.as_str() {
        "sbom" => BundleView::Sbom,
        "provenance" => BundleView::Provenance,
        _ => return Err(PageError::new(StatusCode::NOT_FOUND, format!("a bundle has no page `{view}`"))),
    };
    let (product, version, name) = (product.as_str(), version.as_str(), name.as_str());
    let caller = &session.caller;
    caller.require(Scope::ReleasesRead)?;
    entitled_release(&state, caller, product, version).await?;
    let artifacts = state.store.artifacts(product, version).await?;
    if !artifacts.iter().any(|a| a.name == name && a.kind.is_bundle_entry()) {
        return Err(PageError::new(StatusCode::NOT_FOUND, format!("{product} {version} has no bundle `{name}`")));
    }
    let facts = state.store.bundle_facts(product, version).await?.into_iter().find(|f| f.bundle == name);
    let what = match view {
        BundleView::Sbom => "SBOM",
        BundleView::Provenance => "Provenance",
    };
    let body = html! {
        h1 { (what) " of " code { (name) } }
        p.lede { "A bundle of " a href=(release_href(product, version)) { (product) " " (version) } "." }
        @match &facts {
            None => (no_record()),
            Some(f) => {
                @match view {
                    BundleView::Sbom => (sbom_body(f)),
                    BundleView::Provenance => (provenance_body(f)),
                }
                h2 { "Verification" }
                (bundle_facts(f))
            },
        }
        @if let BundleView::Sbom = view {
            p {
                "For your vulnerability scanner, " code { "genesis sbom ./" (name) " --key vendor.pub" }
                " writes the SBOM out of the bundle itself, after checking its signature."
            }
        }
    };
    let title = format!("{what} of {name}");
    Ok(page(session.chrome(&title), StatusCode::OK, body))
}

/// The components of the bundle's SBOM (`#components`).
fn sbom_body(f: &BundleFacts) -> Markup {
    html! {
        @match &f.sbom {
            None => p.notice { "This bundle carries no SBOM." },
            Some(sbom) => {
                p {
                    (sbom.format) ", " (count(sbom.components.len(), "component", "components"))
                    ", as the bundle's signed SBOM lists them."
                }
                (table(
                    "components",
                    &[Text("Name"), Text("Version"), Text("Type"), Text("Package URL")],
                    html! {
                        @for c in &sbom.components {
                            tr {
                                th scope="row" { (c.name) }
                                td { @if let Some(v) = &c.version { code { (v) } } }
                                td { (c.kind) }
                                td { @if let Some(purl) = &c.purl { code { (purl) } } }
                            }
                        }
                    },
                ))
            },
        }
    }
}

/// The builder (`#builder`), build type (`#build-type`) and materials (`#materials`) of the
/// bundle's provenance.
fn provenance_body(f: &BundleFacts) -> Markup {
    html! {
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
                (table(
                    "materials",
                    &[Text("Name"), Text("URI"), Text("SHA-256")],
                    html! {
                        @for m in &prov.materials {
                            tr {
                                th scope="row" { (m.name) }
                                td { code { (m.uri) } }
                                td { @if let Some(sha) = &m.sha256 { code.digest { (sha) } } }
                            }
                        }
                    },
                ))
            },
        }
    }
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
        (table(
            "exports",
            &[Text("Export"), Text("Release"), Text("Status"), Numeric("Size"), Text("Requested")],
            html! {
                @for e in &exports {
                    tr data-export=(e.id) {
                        th scope="row" { a href=(export_href(&e.id)) { code { (e.id) } } }
                        td { (e.product) " " (e.version) }
                        td { (ExportStage::of(&state, e).badge()) }
                        td.num { @if let Some(size) = e.size { (human_size(size)) } }
                        td.when { (date(e.created)) }
                    }
                }
            },
        ))
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
/// shows its status (whose page needs `export:read`: the form is offered only with both).
async fn new_export(
    State(state): State<Shared>,
    session: CustomerSession,
    site: Site,
    Form(form): Form<ExportForm>,
) -> Result<Response, PageError> {
    check_csrf(&session.csrf, &form.csrf, &site)?;
    let product = if form.product.is_empty() { "genesis".to_owned() } else { form.product };
    let (_, export) = request_export(&state, &session.caller, product, form.version).await?;
    Ok(see_other(&export_href(&export.id)))
}

/// `GET /portal/exports/{id}`: the status, reloading every few seconds while the pack is
/// built; the download and its hashes once ready.
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
        Ok(export) => export_body(export, ExportStage::of(&state, export), state.export_expires(export)),
        Err(message) => html! {
            h1 { "Export " code { (id) } }
            p { "Status: " strong #export-status .status.status-expired { "expired" } }
            p.notice { (message) }
        },
    };
    Ok(page(session.chrome(&title), StatusCode::OK, body))
}

fn export_body(export: &Export, stage: ExportStage, kept_until: Option<i64>) -> Markup {
    let file = format!("genesis-airgap-{}.tar.gz", export.id);
    let href = export_href(&export.id);
    let status = stage.as_str();
    html! {
        @if stage == ExportStage::Pending {
            // In the body rather than the head: browsers act on it wherever it is.
            meta http-equiv="refresh" content=(EXPORT_REFRESH_SECS);
        }
        h1 { "Export " code { (export.id) } }
        p {
            "Status: " strong #export-status class={ "status status-" (status) } { (status) }
            " · the bootstrap pack of "
            a href=(release_href(&export.product, &export.version)) { (export.product) " " (export.version) }
            ", requested " (date(export.created)) "."
        }
        @match stage {
            ExportStage::Pending => p {
                "The portal is building the pack; this page reloads by itself every "
                (count(EXPORT_REFRESH_SECS, "second", "seconds")) " until it is ready. "
                a #refresh href=(href) { "Refresh now" }
            },
            ExportStage::Failed => p.error role="alert" { (export.error.as_deref().unwrap_or("the build failed")) },
            ExportStage::Ready | ExportStage::Expired => {},
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
                @if let Some(kept_until) = kept_until {
                    dt { "Kept until" }
                    dd { (date(kept_until)) }
                }
            }
            p {
                a #export-download .button href={ (href) "/download" } download {
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
    method: Method,
    headers: HeaderMap,
    Path(id): Path<String>,
) -> Result<Response, PageError> {
    let response = export_download(&state, &session.caller, &id, &method, &headers, Delivery::Streamed).await?;
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
                "genesis login --portal https://downloads.example.com",
                "genesis",
                "3.2.10",
                &["ops-3.2.10.tar.zst", "platform-3.2.10.tar.zst", "media-3.2.10.tar.zst.parts.json"]
            ),
            "genesis login --portal https://downloads.example.com\n\
             genesis releases\n\
             genesis pull 3.2.10\n\
             genesis verify ./ops-3.2.10.tar.zst --key vendor.pub\n\
             sha256sum -c ops-3.2.10.tar.zst.sha256\n\
             genesis verify ./platform-3.2.10.tar.zst --key vendor.pub\n\
             sha256sum -c platform-3.2.10.tar.zst.sha256\n\
             genesis verify ./media-3.2.10.tar.zst.parts.json --key vendor.pub",
            "a split bundle is verified by its parts manifest, and has no one archive for sha256sum"
        );
        let other = commands("genesis login --portal http://127.0.0.1:8480", "edge", "1.0.0+b.2", &["e.tar.zst"]);
        assert!(other.contains("\ngenesis pull 1.0.0+b.2 --product edge\n"), "{other}");
    }

    #[test]
    fn the_start_page_escapes_the_organisation_and_lists_entitled_releases() {
        let hostile = caller("<script>alert(1)</script>", &[Scope::ReleasesRead, Scope::ExportRead]);
        let listed = [
            ListedRelease { release: release("genesis", "3.2.10"), bundles: 2, size: 3 << 20 },
            ListedRelease { release: release("genesis", "3.2.9"), bundles: 1, size: 1 << 20 },
        ];
        let text = home_body(&hostile, Some(&listed), true).into_string();
        assert!(!text.contains("<script>alert"), "{text}");
        assert!(text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{text}");
        assert!(text.contains(r#"<li class="release" data-version="3.2.10" data-product="genesis">"#), "{text}");
        assert!(text.contains(r#"href="/portal/releases/genesis/3.2.10""#), "{text}");
        assert!(text.contains("2 bundles, 3.0 MiB") && text.contains("1 bundle, 1.0 MiB"), "{text}");
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
            login: "genesis login --portal http://127.0.0.1:8480",
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
        let pending = export_body(&export, ExportStage::Pending, None).into_string();
        assert!(pending.contains(r#"<meta http-equiv="refresh" content="5">"#), "{pending}");
        assert!(pending.contains(">pending</strong>"), "{pending}");
        assert!(pending.contains("every 5 seconds"), "{pending}");
        assert!(pending.contains(r#"<a id="refresh" href="/portal/exports/exp_1">Refresh now</a>"#), "{pending}");
        export.sha256 = Some(genesis_bundle::sha256(b"pack"));
        export.size = Some(10);
        export.finished = Some(100);
        let ready = export_body(&export, ExportStage::Ready, Some(3700)).into_string();
        assert!(!ready.contains("refresh"), "{ready}");
        assert!(
            ready.contains(r#"id="export-download""#) && ready.contains(r#"href="/portal/exports/exp_1/download""#),
            "{ready}"
        );
        assert!(ready.contains("genesis-airgap-exp_1.tar.gz"), "{ready}");
    }
}
