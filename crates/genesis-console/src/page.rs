//! What every page shares: the document around a page's body (header "Genesis Control
//! Plane" with who is signed in and the sign-out form, the tabs, main, footer), the security
//! headers and assets of genesis-web (the portal's, decision 0038), redirects, and error
//! pages ([`PageError`]) that say what happened and what to do, with the signed-in header
//! when the request had a session.

use std::sync::atomic::{AtomicBool, Ordering};
use std::sync::{Arc, LazyLock, OnceLock};

use axum::extract::{Path, Request};
use axum::http::{Extensions, StatusCode};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use genesis_web::Asset;
use genesis_web::html::{csrf_field, head};
use maud::{DOCTYPE, Markup, html};

use crate::auth::Signed;

/// The product's name, as the header and every title say it.
const PRODUCT: &str = "Genesis Control Plane";

/// The one stylesheet: genesis-web's base rules, then the console's own (console.css), the
/// classes every tab uses.
pub(crate) static STYLESHEET: LazyLock<Asset> =
    LazyLock::new(|| Asset::stylesheet("console", include_str!("assets/console.css")));

/// The one script: keyboard and progress niceties (console.js), the chunked, resumable
/// upload (console-upload.js) and the install's live progress (console-install.js). Nothing a
/// page needs to be read or used: each has a fallback without JavaScript.
pub(crate) static SCRIPT: LazyLock<Asset> = LazyLock::new(|| {
    let script = concat!(
        include_str!("assets/console.js"),
        include_str!("assets/console-upload.js"),
        include_str!("assets/console-install.js")
    );
    Asset::new("console", "js", script, genesis_web::JS)
});

/// `GET /assets/{file}`: an asset under its current name, immutable; else 404.
pub(crate) async fn asset(Path(file): Path<String>) -> Response {
    genesis_web::serve_asset(&[&*STYLESHEET, &*SCRIPT], &file)
}

/// A tab of the console, in the order the navigation shows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Tab {
    /// `/preflight`: the customer's infrastructure checked before anything installs.
    Preflight,
    /// `/bundles`: bundles verified and ready to install, uploads, installs.
    Bundles,
    /// `/status`: what is installed, its readiness and drift.
    Status,
    /// `/support`: the redacted support bundle.
    Support,
    /// `/advice`: opt-in advice, in the navigation only when this run has it (`show_advice_tab`).
    Advice,
}

/// Whether the navigation shows the Advice tab: set once, at start, when the advice Secret
/// configured an endpoint (one console per process).
static ADVICE_TAB: AtomicBool = AtomicBool::new(false);

/// Shows the Advice tab from now on.
pub(crate) fn show_advice_tab() {
    ADVICE_TAB.store(true, Ordering::Relaxed);
}

impl Tab {
    const ALL: [Tab; 5] = [Tab::Preflight, Tab::Bundles, Tab::Status, Tab::Support, Tab::Advice];

    /// Whether the navigation shows it.
    fn shown(self) -> bool {
        self != Tab::Advice || ADVICE_TAB.load(Ordering::Relaxed)
    }

    /// Where the tab is.
    fn path(self) -> &'static str {
        match self {
            Tab::Preflight => "/preflight",
            Tab::Bundles => "/bundles",
            Tab::Status => "/status",
            Tab::Support => "/support",
            Tab::Advice => "/advice",
        }
    }

    /// The id of its link, which tests and people's bookmarks find it by.
    fn id(self) -> &'static str {
        match self {
            Tab::Preflight => "tab-preflight",
            Tab::Bundles => "tab-bundles",
            Tab::Status => "tab-status",
            Tab::Support => "tab-support",
            Tab::Advice => "tab-advice",
        }
    }

    fn label(self) -> &'static str {
        match self {
            Tab::Preflight => "Pre-flight",
            Tab::Bundles => "Bundles",
            Tab::Status => "Status",
            Tab::Support => "Support bundle",
            Tab::Advice => "Advice",
        }
    }

    /// The tab a request path belongs to (`/bundles/demo/install` to Bundles), for the
    /// navigation of an error page.
    fn of_path(path: &str) -> Option<Tab> {
        Tab::ALL
            .into_iter()
            .find(|tab| path.strip_prefix(tab.path()).is_some_and(|rest| rest.is_empty() || rest.starts_with('/')))
    }
}

/// A whole page of a signed-in person: layout, tabs with `tab` current, `body` (which holds
/// the page's one `h1`) answered with `status`, the security headers, never cached.
pub fn page(signed: &Signed, tab: Tab, title: &str, status: StatusCode, body: Markup) -> Response {
    respond(status, document(title, Some((signed, Some(tab))), body))
}

/// A page before any session (sign-in, errors of requests without one): no tabs, no user.
pub(crate) fn public_page(title: &str, status: StatusCode, body: Markup) -> Response {
    respond(status, document(title, None, body))
}

/// `303 See Other` to `to`: where a form's POST sends the browser, and where `/` leads.
pub fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// `document` answered with `status` and the security headers, never cached: a signed-in
/// page shows what one person may see, a sign-in page carries a per-browser form token, and
/// an error page a caller's words, none of which a shared cache should keep.
fn respond(status: StatusCode, document: Markup) -> Response {
    let mut response = (status, document).into_response();
    genesis_web::secure_headers(response.headers_mut(), true);
    response
}

/// The document: head (title, viewport, stylesheet, script), header with the product, who is
/// signed in (`#user`) and the sign-out form (`#sign-out`), the tabs (`nav#tabs`, the current
/// one `aria-current=page`), `main`, footer.
fn document(title: &str, signed: Option<(&Signed, Option<Tab>)>, body: Markup) -> Markup {
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(title, PRODUCT, &STYLESHEET, &SCRIPT))
            body {
                a.skip href="#main" { "Skip to content" }
                header.site {
                    div.bar {
                        a.brand href="/" { (PRODUCT) }
                        @if let Some((signed, _)) = signed {
                            div.who {
                                span #user { (signed.user.name) }
                                form #sign-out method="post" action="/sign-out" {
                                    (csrf_field(&signed.csrf))
                                    button.secondary type="submit" { "Sign out" }
                                }
                            }
                        }
                    }
                    @if let Some((_, current)) = signed {
                        nav #tabs aria-label="Console" {
                            ul {
                                @for tab in Tab::ALL.into_iter().filter(|tab| tab.shown()) {
                                    li {
                                        a id=(tab.id()) href=(tab.path())
                                            aria-current=[(current == Some(tab)).then_some("page")] { (tab.label()) }
                                    }
                                }
                            }
                        }
                    }
                }
                main #main { (body) }
                footer.site {
                    p {
                        (PRODUCT) " · genesis-console " (env!("CARGO_PKG_VERSION"))
                        " · every page and asset comes from this console, which contacts only the Kubernetes API \
                           server and what its configuration names"
                    }
                }
            }
        }
    }
}

/// What the page of a refusal tells a person to do about a console action.
const OPERATOR_FIX: &str = "ask a cluster admin to bind you the role genesis-console-operator: its Role in the console's namespace and its ClusterRole (deploy/console/rbac.yaml)";

/// An error as a page: what every handler returns on error, a full page whose `#error` says
/// what happened and what to do, with the status it is answered with.
#[derive(Debug, Clone)]
pub struct PageError {
    /// The answer's status.
    pub(crate) status: StatusCode,
    /// What happened.
    pub(crate) what: String,
    /// What to do about it.
    pub(crate) fix: String,
    /// A refusal by the user's rights: the page also carries `#forbidden`.
    forbidden: bool,
}

impl PageError {
    /// An error page of `status` saying `what` happened and `fix`, what to do.
    pub fn new(status: StatusCode, what: impl Into<String>, fix: impl Into<String>) -> PageError {
        PageError { status, what: what.into(), fix: fix.into(), forbidden: false }
    }

    /// 403: the signed-in user may not do `access`. A console action is granted by the
    /// operator ClusterRole we ship; a right on the cluster's own objects by whatever Role
    /// the cluster's admin binds.
    pub fn forbidden(access: &genesis_kube::Access) -> PageError {
        let fix = if access.group == crate::auth::CONSOLE_GROUP {
            OPERATOR_FIX.to_owned()
        } else {
            format!(
                "ask a cluster admin to grant your account {} (a Role or ClusterRole bound to you)",
                access.describe()
            )
        };
        PageError {
            status: StatusCode::FORBIDDEN,
            what: format!("Your account may not {}.", access.describe()),
            fix,
            forbidden: true,
        }
    }

    /// 400: the form or request cannot be used.
    pub fn bad_request(what: impl Into<String>) -> PageError {
        PageError::new(StatusCode::BAD_REQUEST, what, "check the form and try again")
    }

    /// 404: what was asked for is not there.
    pub fn not_found(what: impl Into<String>) -> PageError {
        PageError::new(StatusCode::NOT_FOUND, what, "go back to the tab and pick one that is listed")
    }

    fn title(&self) -> &'static str {
        match self.status {
            StatusCode::BAD_REQUEST => "Bad request",
            StatusCode::UNAUTHORIZED => "Not signed in",
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::CONFLICT => "Busy",
            StatusCode::PAYLOAD_TOO_LARGE => "Too large",
            StatusCode::UNPROCESSABLE_ENTITY => "Refused",
            StatusCode::BAD_GATEWAY => "The API server did not answer",
            s if s.is_server_error() => "Something went wrong",
            s => s.canonical_reason().unwrap_or("Error"),
        }
    }

    fn body(&self) -> Markup {
        let said = html! {
            p.what { (self.what) }
            p.fix { "What to do: " (self.fix) }
        };
        html! {
            h1 { (self.title()) }
            div #error .error role="alert" {
                @if self.forbidden { div #forbidden { (said) } } @else { (said) }
            }
            p { a href="/" { "Back to the console" } }
        }
    }

    /// The page, with the header of `signed` when the request had a session.
    fn render(&self, signed: Option<(&Signed, Option<Tab>)>) -> Response {
        let title = self.title();
        match signed {
            Some(signed) => respond(self.status, document(title, Some(signed), self.body())),
            None => public_page(title, self.status, self.body()),
        }
    }
}

/// A failure of the API server: 404 for what it does not have, 403 when the console's own
/// ServiceAccount lacks a right it needs (its RBAC is not applied, or is out of date), else
/// 502. The message names the API server's own words.
impl From<genesis_kube::KubeError> for PageError {
    fn from(e: genesis_kube::KubeError) -> PageError {
        let said = genesis_types::error_chain(&e);
        tracing::warn!(error = %said, "the API server failed a request");
        let code = match &e {
            genesis_kube::KubeError::Api { source: kube::Error::Api(status), .. } => Some(status.code),
            _ => None,
        };
        match code {
            Some(404) => PageError::not_found(format!("The API server has no such object: {said}")),
            Some(403) => PageError::new(
                StatusCode::BAD_GATEWAY,
                format!("The API server refused the console's own request: {said}"),
                "the console's ServiceAccount lacks a right it needs: ask a cluster admin to apply \
                 deploy/console/rbac.yaml of this release",
            ),
            _ => PageError::new(
                StatusCode::BAD_GATEWAY,
                format!("The console could not get an answer from the Kubernetes API server: {said}"),
                "check that the API server is reachable from the console and try again",
            ),
        }
    }
}

/// Rendered without a header; [`error_pages`] renders it again with the header of who is
/// signed in, which the request knows and the error does not.
impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut response = self.render(None);
        response.extensions_mut().insert(self);
        response
    }
}

/// Who is signed in at a request, for its error page: the [`Signed`] extractor fills it once
/// it has checked the session, [`error_pages`] reads it.
#[derive(Clone, Default)]
pub(crate) struct SignedSlot(Arc<OnceLock<Signed>>);

impl SignedSlot {
    /// Notes in a request's `extensions` that `signed` is signed in.
    pub(crate) fn fill(extensions: &Extensions, signed: &Signed) {
        if let Some(slot) = extensions.get::<SignedSlot>() {
            let _ = slot.0.set(signed.clone());
        }
    }
}

/// Middleware: an error page of a request with a session gets the signed-in header and the
/// tabs, the tab of the request's path current.
pub(crate) async fn error_pages(mut request: Request, next: Next) -> Response {
    let slot = SignedSlot::default();
    request.extensions_mut().insert(slot.clone());
    let tab = Tab::of_path(request.uri().path());
    let mut response = next.run(request).await;
    match (response.extensions_mut().remove::<PageError>(), slot.0.get()) {
        (Some(error), Some(signed)) => error.render(Some((signed, tab))),
        (Some(error), None) => error.render(None),
        (None, _) => response,
    }
}

#[cfg(test)]
mod tests {
    use axum::http::header;

    use super::*;

    fn alice() -> Signed {
        let user = genesis_kube::UserInfo {
            name: "system:serviceaccount:genesis-users:<alice>".to_owned(),
            uid: "u".to_owned(),
            groups: Vec::new(),
            extra: Default::default(),
        };
        Signed { user, csrf: "tok\"en".to_owned() }
    }

    async fn text_of(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn a_page_has_the_header_tabs_and_sign_out_form_escaped() {
        let response = page(&alice(), Tab::Bundles, "<Bundles>", StatusCode::OK, html! { h1 { "Bundles" } });
        assert_eq!(response.status(), StatusCode::OK);
        assert_eq!(response.headers()[header::CONTENT_TYPE], "text/html; charset=utf-8");
        assert_eq!(response.headers()[header::CACHE_CONTROL], "no-store");
        let text = text_of(response).await;
        assert!(text.contains("<title>&lt;Bundles&gt; · Genesis Control Plane</title>"), "{text}");
        assert!(text.contains(r#"<span id="user">system:serviceaccount:genesis-users:&lt;alice&gt;</span>"#), "{text}");
        assert!(text.contains(r#"<form id="sign-out" method="post" action="/sign-out">"#), "{text}");
        assert!(text.contains(r#"value="tok&quot;en""#), "{text}");
        assert!(text.contains(r#"<nav id="tabs" aria-label="Console">"#), "{text}");
        assert!(text.contains(r#"<a id="tab-bundles" href="/bundles" aria-current="page">Bundles</a>"#), "{text}");
        for tab in ["preflight", "status", "support"] {
            assert!(text.contains(&format!(r#"<a id="tab-{tab}" href="/{tab}">"#)), "{tab}: {text}");
        }
        assert!(!text.contains("tab-advice"), "advice is off unless its Secret configured it: {text}");
        assert!(text.contains(&format!(r#"href="{}""#, STYLESHEET.path)), "{text}");
        assert!(text.contains(&format!(r#"<script src="{}" defer></script>"#, SCRIPT.path)), "{text}");
        assert!(!text.contains(" style="), "CSP forbids style attributes");
    }

    #[tokio::test]
    async fn a_public_page_shows_no_user_and_no_tabs() {
        let text = text_of(public_page("Sign in", StatusCode::OK, html! { h1 { "Sign in" } })).await;
        assert!(!text.contains("id=\"user\"") && !text.contains("<nav") && !text.contains("sign-out"), "{text}");
        assert!(text.contains("Genesis Control Plane"), "{text}");
    }

    #[test]
    fn an_error_page_belongs_to_the_tab_of_its_path() {
        assert_eq!(Tab::of_path("/preflight"), Some(Tab::Preflight));
        assert_eq!(Tab::of_path("/bundles/demo-0.1.0/install"), Some(Tab::Bundles));
        assert_eq!(Tab::of_path("/advice/explain"), Some(Tab::Advice));
        assert_eq!(Tab::of_path("/statusx"), None);
        assert_eq!(Tab::of_path("/sign-in"), None);
    }

    #[tokio::test]
    async fn an_error_says_what_happened_and_what_to_do() {
        let error = PageError::bad_request("no bundle <b>x</b> in the form");
        let response = error.clone().into_response();
        assert_eq!(response.status(), StatusCode::BAD_REQUEST);
        assert!(response.extensions().get::<PageError>().is_some(), "kept for the signed-in rendering");
        let text = text_of(response).await;
        assert!(text.contains(r#"<div class="error" id="error" role="alert">"#), "{text}");
        assert!(text.contains("no bundle &lt;b&gt;x&lt;/b&gt; in the form"), "{text}");
        assert!(text.contains("What to do: check the form and try again"), "{text}");
        assert!(!text.contains("forbidden"), "{text}");
        let signed = text_of(error.render(Some((&alice(), Some(Tab::Support))))).await;
        assert!(signed.contains(r#"id="tab-support" href="/support" aria-current="page""#), "{signed}");
    }

    #[tokio::test]
    async fn a_refusal_names_the_right_and_who_grants_it() {
        let access = |group: &str, resource: &str| genesis_kube::Access {
            verb: "create".to_owned(),
            group: group.to_owned(),
            resource: resource.to_owned(),
            namespace: Some("genesis".to_owned()),
            name: None,
        };
        let refused = PageError::forbidden(&access("console.genesis.dev", "preflights"));
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        let text = text_of(refused.into_response()).await;
        assert!(text.contains(r#"<div id="forbidden">"#), "{text}");
        assert!(text.contains("Your account may not create preflights.console.genesis.dev in genesis."), "{text}");
        assert!(text.contains("role genesis-console-operator: its Role in the console"), "{text}");
        let object = PageError::forbidden(&access("apps", "deployments"));
        assert!(object.fix.contains("create deployments.apps in genesis"), "{}", object.fix);
    }

    #[test]
    fn an_api_server_failure_is_a_bad_gateway_unless_it_is_a_missing_object() {
        let api = |code| genesis_kube::KubeError::Api {
            object: "ConfigMap genesis/genesis-preflight".to_owned(),
            source: kube::Error::Api(kube::core::Status::failure("said no", "Reason").with_code(code).boxed()),
        };
        assert_eq!(PageError::from(api(404)).status, StatusCode::NOT_FOUND);
        let refused = PageError::from(api(403));
        assert_eq!(refused.status, StatusCode::BAD_GATEWAY);
        assert!(refused.fix.contains("deploy/console/rbac.yaml"), "{}", refused.fix);
        let failed = PageError::from(api(500));
        assert_eq!(failed.status, StatusCode::BAD_GATEWAY);
        assert!(failed.what.contains("said no"), "{}", failed.what);
    }
}
