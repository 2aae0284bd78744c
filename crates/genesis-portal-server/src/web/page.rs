//! What every page of the portal shares: the document around a page's body (head, header with
//! the area's navigation and the sign-out form, main, footer), error pages (with the signed-in
//! header when a session is there), redirects, where the browser reached the portal (for
//! commands and the `Origin` check), export stages and shell words. What the console's pages
//! share with these (security headers, assets, download names, tables, dates, counts, URL
//! segments) is `genesis_web`'s.

use std::borrow::Cow;
use std::convert::Infallible;
use std::sync::{Arc, OnceLock};

use axum::extract::{FromRequestParts, Request};
use axum::http::request::Parts;
use axum::http::{Extensions, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use genesis_portal_client::protocol::ExportState;
use genesis_web::html::{csrf_field, head};
use maud::{DOCTYPE, Markup, html};

use super::{SCRIPT, STYLESHEET};
use crate::api::{AppState, Failure, Shared};
use crate::error::PortalServerError;
use crate::store::Export;

/// Which part of the portal a page belongs to: its header, navigation and sign-out form.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Area {
    /// Open to anyone: the guide, error pages outside `/admin`.
    Public,
    /// The customer's pages under `/portal`.
    Customer,
    /// The vendor's pages under `/admin`.
    Vendor,
}

/// A link of the header's navigation.
struct NavLink {
    href: &'static str,
    label: &'static str,
    /// The id a test or a person's bookmark finds it by, when it has one.
    id: Option<&'static str>,
}

const fn nav(href: &'static str, label: &'static str) -> NavLink {
    NavLink { href, label, id: None }
}

impl Area {
    fn brand(self) -> &'static str {
        match self {
            Area::Vendor => "Genesis Portal · Vendor",
            Area::Public | Area::Customer => "Genesis Downloads",
        }
    }

    /// Where the brand and "back" links lead.
    pub(crate) fn home(self) -> &'static str {
        match self {
            Area::Vendor => "/admin",
            Area::Public | Area::Customer => "/portal",
        }
    }

    /// Where the sign-out form posts (and the sign-out route is).
    pub(crate) fn sign_out(self) -> &'static str {
        match self {
            Area::Vendor => "/admin/sign-out",
            Area::Public | Area::Customer => "/portal/sign-out",
        }
    }

    /// The navigation links. The vendor's carry no ids: the overview's own links carry the
    /// ids `nav-orgs`… and an id names one element of a page.
    fn links(self, signed_in: Option<&SignedIn>) -> Vec<NavLink> {
        match (self, signed_in) {
            (Area::Vendor, Some(_)) => vec![
                nav("/admin", "Overview"),
                nav("/admin/orgs", "Organisations"),
                nav("/admin/releases", "Releases"),
                nav("/admin/exports", "Exports"),
                nav("/admin/audit", "Audit log"),
            ],
            (Area::Vendor, None) => Vec::new(),
            (Area::Customer, Some(who)) => {
                let mut links = vec![nav("/portal", "Releases")];
                if who.exports {
                    links.push(NavLink { href: "/portal/exports", label: "Exports", id: Some("nav-exports") });
                }
                links.push(nav("/portal/guide", "Air-gap workflow"));
                links
            }
            (Area::Public | Area::Customer, _) => {
                vec![nav("/portal/guide", "Air-gap workflow"), nav("/portal/sign-in", "Sign in")]
            }
        }
    }
}

/// Who is signed in, as the header shows them.
#[derive(Debug, Clone)]
pub(crate) struct SignedIn {
    /// "acme · key k_1234" / "admin alice".
    pub(crate) who: String,
    /// The session's CSRF token, for the sign-out form.
    pub(crate) csrf: String,
    /// Whether the navigation links the export packs (a customer's key with `export:read`).
    pub(crate) exports: bool,
}

/// The frame of a page.
pub(crate) struct Chrome<'a> {
    /// The document's title (the page's `h1` is its body's own).
    pub(crate) title: &'a str,
    /// Whose navigation the header shows.
    pub(crate) area: Area,
    /// Who is signed in; None on public and sign-in pages.
    pub(crate) signed_in: Option<SignedIn>,
}

/// A whole page: doctype, head (title, viewport, stylesheet, script), header with the area's
/// navigation and sign-out form, `main` holding `body` (which has the page's one `h1`),
/// footer; the security headers and `Cache-Control: no-store`. Every page is marked no-store,
/// not only the signed-in ones: a sign-in page carries a fresh form token and an error page a
/// caller's message, neither of which a shared cache should keep.
pub(crate) fn page(chrome: Chrome<'_>, status: StatusCode, body: Markup) -> Response {
    let mut response = (status, document(&chrome, body)).into_response();
    genesis_web::secure_headers(response.headers_mut(), true);
    response
}

fn document(chrome: &Chrome<'_>, body: Markup) -> Markup {
    let area = chrome.area;
    let links = area.links(chrome.signed_in.as_ref());
    html! {
        (DOCTYPE)
        html lang="en" {
            (head(chrome.title, area.brand(), &STYLESHEET, &SCRIPT))
            body {
                a.skip href="#main" { "Skip to content" }
                header.site {
                    div.bar {
                        a.brand href=(area.home()) { (area.brand()) }
                        @if !links.is_empty() {
                            nav aria-label="Main" {
                                ul {
                                    @for link in &links {
                                        li { a id=[link.id] href=(link.href) { (link.label) } }
                                    }
                                }
                            }
                        }
                        @if let Some(signed_in) = &chrome.signed_in {
                            div.who {
                                span.identity { (signed_in.who) }
                                form.sign-out method="post" action=(area.sign_out()) {
                                    (csrf_field(&signed_in.csrf))
                                    button #sign-out type="submit" { "Sign out" }
                                }
                            }
                        }
                    }
                }
                main #main { (body) }
                footer.site {
                    p {
                        (area.brand()) " · genesis-portal " (env!("CARGO_PKG_VERSION"))
                        " · every page and asset comes from this portal; it contacts nothing else"
                    }
                }
            }
        }
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

/// Where the browser reached this portal, and where a form's POST came from. With
/// `serve --public-url` (a proxy in front) that URL is the portal's address; else the
/// request's `Host` (the URI's authority under HTTP/2, which sends no `Host`) with the scheme
/// the portal itself speaks.
pub(crate) struct Site {
    /// The URL customers reach the portal by, when the vendor gave one.
    public_url: Option<url::Url>,
    /// Whether the portal serves TLS itself: the scheme without a public URL.
    tls: bool,
    /// The request's `Host`, or the authority of its URI.
    host: Option<String>,
    /// The request's `Origin`, when it sent one.
    origin: Option<String>,
}

impl Site {
    /// The site of a request: `public_url` and `tls` as the portal was started, `host` and
    /// `origin` as the request sent them.
    pub(crate) fn new(public_url: Option<url::Url>, tls: bool, host: Option<String>, origin: Option<String>) -> Site {
        Site { public_url, tls, host, origin }
    }

    /// This portal's URL for commands to copy: the public URL, else the scheme and the `Host`
    /// when that is a plain host name, address and port (a proxy's `X-Forwarded-*` is not
    /// trusted); else a placeholder to fill in, so a forged `Host` never lands in a command a
    /// person pastes into a shell.
    fn portal_url(&self) -> String {
        if let Some(url) = &self.public_url {
            return url.as_str().trim_end_matches('/').to_owned();
        }
        let scheme = if self.tls { "https" } else { "http" };
        let host = self
            .host
            .as_deref()
            .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b)));
        match host {
            Some(host) => format!("{scheme}://{host}"),
            None => "https://PORTAL".to_owned(),
        }
    }

    /// `genesis login` for this portal: with `--plain-http` when its URL is plain `http://`
    /// and not loopback, which `genesis` refuses without that flag (it sends the key in
    /// the clear).
    pub(crate) fn login_command(&self) -> String {
        let portal = self.portal_url();
        let plain = url::Url::parse(&portal).is_ok_and(|url| {
            url.scheme() == "http" && !matches!(url.host_str(), Some("localhost" | "127.0.0.1" | "[::1]"))
        });
        let flag = if plain { " --plain-http" } else { "" };
        format!("genesis login --portal {}{flag}", shell_word(&portal))
    }

    /// Refuses a POST whose `Origin` is present and is not this portal: the public URL's
    /// origin when the vendor gave one, else an origin whose host and port are the `Host`'s.
    /// Without a public URL the scheme is not compared: behind a TLS-terminating proxy the
    /// portal does not know it, and `SameSite=Strict` cookies already tie the session to the
    /// site.
    pub(crate) fn check_origin(&self) -> Result<(), PageError> {
        let Some(origin) = self.origin.as_deref() else {
            return Ok(());
        };
        let same = match &self.public_url {
            Some(url) => origin.eq_ignore_ascii_case(&url.origin().ascii_serialization()),
            None => self.host.as_deref().is_some_and(|host| genesis_web::origin_names_host(origin, host)),
        };
        if same {
            return Ok(());
        }
        let message = match &self.public_url {
            Some(url) => format!(
                "refused: this form was not sent from this portal's pages at {}; open the portal there and submit it \
                 again",
                url.origin().ascii_serialization()
            ),
            None => "refused: this form was sent from another site than this portal; open the portal's own page and \
                     submit it there"
                .to_owned(),
        };
        Err(PageError::new(StatusCode::FORBIDDEN, message))
    }
}

/// The site of every request, never refused: without a `Host` the commands show a
/// placeholder URL, and [`Site::check_origin`] refuses a POST that names an `Origin`.
impl FromRequestParts<Shared> for Site {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Site, Infallible> {
        let text = |name: header::HeaderName| parts.headers.get(name).and_then(|v| v.to_str().ok()).map(str::to_owned);
        let host = text(header::HOST).or_else(|| parts.uri.authority().map(|a| a.as_str().to_owned()));
        // Without a public URL the cookies are secure exactly when the portal serves TLS.
        Ok(Site::new(state.public_url.clone(), state.secure_cookies, host, text(header::ORIGIN)))
    }
}

/// What a page shows of an export: its build's state, or `Expired` once its pack is deleted
/// or due to be (as the API answers 410 then).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum ExportStage {
    /// Being built.
    Pending,
    /// Built and kept: it downloads.
    Ready,
    /// The build failed.
    Failed,
    /// Its pack is deleted.
    Expired,
}

impl ExportStage {
    /// Where `export` stands now.
    pub(crate) fn of(state: &AppState, export: &Export) -> ExportStage {
        if export.expired.is_some() || state.export_expires(export).is_some_and(|due| due <= crate::now()) {
            return ExportStage::Expired;
        }
        match export.status {
            ExportState::Pending => ExportStage::Pending,
            ExportState::Ready => ExportStage::Ready,
            ExportState::Failed => ExportStage::Failed,
        }
    }

    /// The word the pages show (and `#export-status` holds).
    pub(crate) fn as_str(self) -> &'static str {
        match self {
            ExportStage::Pending => "pending",
            ExportStage::Ready => "ready",
            ExportStage::Failed => "failed",
            ExportStage::Expired => "expired",
        }
    }

    /// The stage as a coloured word.
    pub(crate) fn badge(self) -> Markup {
        html! { span class={ "status status-" (self.as_str()) } { (self.as_str()) } }
    }
}

/// `303 See Other` to `to` (what axum's `Redirect::to` answers): where every form's POST leads.
pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// An error as a page: what every page handler returns on error. It names the cause and what
/// to do (the messages of [`Failure`]s are written so), and links back to the area's start.
#[derive(Debug, Clone)]
pub(crate) struct PageError {
    /// The answer's status.
    pub(crate) status: StatusCode,
    /// What went wrong, for the person reading (escaped like every value).
    pub(crate) message: String,
}

impl PageError {
    /// An error page of `status` saying `message`.
    pub(crate) fn new(status: StatusCode, message: impl Into<String>) -> PageError {
        PageError { status, message: message.into() }
    }

    fn render(&self, area: Area, signed_in: Option<SignedIn>) -> Response {
        let title = match self.status {
            StatusCode::BAD_REQUEST => "Bad request",
            StatusCode::UNAUTHORIZED => "Not signed in",
            StatusCode::FORBIDDEN => "Not allowed",
            StatusCode::NOT_FOUND => "Not found",
            StatusCode::CONFLICT => "Not ready",
            StatusCode::GONE => "Expired",
            StatusCode::UNPROCESSABLE_ENTITY => "Refused",
            StatusCode::TOO_MANY_REQUESTS => "Busy",
            s if s.is_server_error() => "Something went wrong",
            s => s.canonical_reason().unwrap_or("Error"),
        };
        let body = html! {
            h1 { (title) }
            p.error role="alert" { (self.message) }
            p { a href=(area.home()) { "Back to the start page" } }
        };
        page(Chrome { title, area, signed_in }, self.status, body)
    }
}

impl From<Failure> for PageError {
    fn from(failure: Failure) -> PageError {
        PageError { status: failure.status, message: failure.message }
    }
}

/// A failure of the portal's own stores: logged (by [`Failure`]'s conversion), the page says
/// only that it happened.
impl From<PortalServerError> for PageError {
    fn from(e: PortalServerError) -> PageError {
        PageError::from(Failure::from(e))
    }
}

/// Rendered as a public page; [`error_pages`] renders it again with the header of the area it
/// was raised in and of who is signed in there (the error does not know them, the request
/// does).
impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut response = self.render(Area::Public, None);
        response.extensions_mut().insert(self);
        response
    }
}

/// Who is signed in at a request, for its error page: the session extractors fill it once
/// they have checked the session, [`error_pages`] reads it.
#[derive(Debug, Clone, Default)]
pub(crate) struct SignedInSlot(Arc<OnceLock<(Area, SignedIn)>>);

impl SignedInSlot {
    /// Notes in a request's `extensions` that `signed_in` is signed in to `area`.
    pub(crate) fn fill(extensions: &Extensions, area: Area, signed_in: SignedIn) {
        if let Some(slot) = extensions.get::<SignedInSlot>() {
            let _ = slot.0.set((area, signed_in));
        }
    }
}

/// Middleware: an error page gets the header of its area (the vendor's under `/admin`) and,
/// when a session was checked for the request, of who is signed in, with their navigation
/// and sign-out form.
pub(crate) async fn error_pages(mut request: Request, next: Next) -> Response {
    let slot = SignedInSlot::default();
    request.extensions_mut().insert(slot.clone());
    let area = if request.uri().path().starts_with("/admin") { Area::Vendor } else { Area::Public };
    let mut response = next.run(request).await;
    match response.extensions_mut().remove::<PageError>() {
        Some(error) => match slot.0.get() {
            Some((area, signed_in)) => error.render(*area, Some(signed_in.clone())),
            None => error.render(area, None),
        },
        None => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed_in(who: &str, csrf: &str, exports: bool) -> SignedIn {
        SignedIn { who: who.to_owned(), csrf: csrf.to_owned(), exports }
    }

    #[test]
    fn every_page_carries_the_security_headers_and_no_store() {
        let chrome = Chrome { title: "T", area: Area::Public, signed_in: None };
        let response = page(chrome, StatusCode::OK, html! { h1 { "T" } });
        let headers = response.headers();
        assert_eq!(headers[header::CONTENT_TYPE], "text/html; charset=utf-8");
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "style-src 'self'",
            "script-src 'self'",
            "img-src 'self' data:",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "{directive} missing from {csp}");
        }
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::REFERRER_POLICY], "same-origin");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
    }

    #[test]
    fn a_page_escapes_what_it_is_given_and_links_its_assets() {
        let who = signed_in("<script>alert(1)</script> · key k_1", "tok\"en", false);
        let chrome = Chrome { title: "<b>t</b>", area: Area::Customer, signed_in: Some(who) };
        let text = document(&chrome, html! { p { "a < b" } }).into_string();
        assert!(!text.contains("<script>alert"), "{text}");
        assert!(text.contains("&lt;script&gt;alert(1)&lt;/script&gt;"), "{text}");
        assert!(text.contains("<title>&lt;b&gt;t&lt;/b&gt; · Genesis Downloads</title>"), "{text}");
        assert!(text.contains(r#"value="tok&quot;en""#), "{text}");
        assert!(text.contains(&format!(r#"href="{}""#, STYLESHEET.path)), "{text}");
        assert!(text.contains(&format!(r#"<script src="{}" defer></script>"#, SCRIPT.path)), "{text}");
        assert!(text.contains(r#"action="/portal/sign-out""#), "{text}");
        for landmark in ["<header", "<nav", "<main", "<footer"] {
            assert!(text.contains(landmark), "{landmark} missing");
        }
        assert!(!text.contains(" style="), "CSP forbids style attributes");
    }

    #[test]
    fn the_customer_s_navigation_links_exports_only_for_a_key_that_reads_them() {
        let nav_of = |exports| {
            let chrome = Chrome { title: "T", area: Area::Customer, signed_in: Some(signed_in("acme", "t", exports)) };
            document(&chrome, html! {}).into_string()
        };
        assert!(nav_of(true).contains(r#"<a id="nav-exports" href="/portal/exports">Exports</a>"#));
        assert!(!nav_of(false).contains("nav-exports"));
    }

    #[test]
    fn signed_out_vendor_pages_have_no_navigation() {
        let chrome = Chrome { title: "Vendor sign-in", area: Area::Vendor, signed_in: None };
        let text = document(&chrome, html! {}).into_string();
        assert!(!text.contains("<nav"), "{text}");
        assert!(!text.contains("sign-out"), "{text}");
    }

    #[test]
    fn shell_words_read_as_shells_expect() {
        assert_eq!(shell_word("./demo-0.1.0.tar.zst"), "./demo-0.1.0.tar.zst");
        assert_eq!(shell_word("http://[::1]:8480"), "'http://[::1]:8480'");
        assert_eq!(shell_word("a b;$(x)'"), r"'a b;$(x)'\'''");
        assert_eq!(shell_word(""), "''");
    }

    fn site(public_url: Option<&str>, tls: bool, host: Option<&str>, origin: Option<&str>) -> Site {
        Site::new(public_url.map(|u| u.parse().unwrap()), tls, host.map(str::to_owned), origin.map(str::to_owned))
    }

    #[test]
    fn the_portal_url_is_the_public_one_or_the_host_the_browser_used_or_a_placeholder() {
        let public = site(Some("https://downloads.example.com/"), false, Some("10.0.0.5:8480"), None);
        assert_eq!(public.portal_url(), "https://downloads.example.com");
        assert_eq!(site(None, true, Some("downloads.example.com"), None).portal_url(), "https://downloads.example.com");
        assert_eq!(site(None, false, Some("127.0.0.1:8480"), None).portal_url(), "http://127.0.0.1:8480");
        assert_eq!(site(None, false, Some("[::1]:8480"), None).portal_url(), "http://[::1]:8480");
        assert_eq!(site(None, true, Some("evil.example;rm -rf ~"), None).portal_url(), "https://PORTAL");
        assert_eq!(site(None, true, None, None).portal_url(), "https://PORTAL");
    }

    #[test]
    fn the_login_command_allows_plain_http_only_where_genesis_needs_telling() {
        let login = |public, tls, host| site(public, tls, Some(host), None).login_command();
        assert_eq!(login(None, false, "127.0.0.1:8480"), "genesis login --portal http://127.0.0.1:8480");
        assert_eq!(login(None, false, "localhost:8480"), "genesis login --portal http://localhost:8480");
        assert_eq!(login(None, false, "[::1]:8480"), "genesis login --portal 'http://[::1]:8480'");
        assert_eq!(login(None, false, "portal.lan:8480"), "genesis login --portal http://portal.lan:8480 --plain-http");
        assert_eq!(login(None, true, "portal.lan"), "genesis login --portal https://portal.lan");
        assert_eq!(
            login(Some("https://downloads.example.com"), false, "portal.lan:8480"),
            "genesis login --portal https://downloads.example.com"
        );
    }

    #[test]
    fn a_post_from_another_origin_is_refused() {
        let host = Some("portal.example:8480");
        assert!(site(None, false, host, None).check_origin().is_ok(), "no Origin: allowed");
        assert!(site(None, false, host, Some("http://portal.example:8480")).check_origin().is_ok());
        assert!(site(None, true, Some("Portal.Example"), Some("https://portal.example")).check_origin().is_ok());
        for origin in [
            "https://evil.example",
            "http://portal.example:8481",
            "null",
            "portal.example:8480",
            "https://portal.example:8480.evil",
        ] {
            let refused = site(None, false, host, Some(origin)).check_origin();
            assert_eq!(refused.unwrap_err().status, StatusCode::FORBIDDEN, "{origin}");
        }
        assert!(site(None, true, None, Some("https://portal.example")).check_origin().is_err(), "no Host");
    }

    #[test]
    fn behind_a_public_url_a_post_must_come_from_its_origin() {
        let public = Some("https://downloads.example.com");
        let behind = |origin| site(public, false, Some("127.0.0.1:8480"), Some(origin)).check_origin();
        assert!(behind("https://downloads.example.com").is_ok());
        assert!(behind("https://DOWNLOADS.example.com").is_ok());
        let refused = behind("http://127.0.0.1:8480").unwrap_err();
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(refused.message.contains("https://downloads.example.com"), "{}", refused.message);
        assert!(behind("http://downloads.example.com").is_err(), "the scheme counts");
        assert!(behind("https://downloads.example.com:8443").is_err(), "the port counts");
    }

    #[test]
    fn an_export_stage_is_one_of_four_words() {
        let words: Vec<_> = [ExportStage::Pending, ExportStage::Ready, ExportStage::Failed, ExportStage::Expired]
            .into_iter()
            .map(ExportStage::as_str)
            .collect();
        assert_eq!(words, ["pending", "ready", "failed", "expired"]);
        let badge = ExportStage::Ready.badge().into_string();
        assert_eq!(badge, r#"<span class="status status-ready">ready</span>"#);
    }

    async fn text_of(response: Response) -> String {
        let bytes = axum::body::to_bytes(response.into_body(), usize::MAX).await.unwrap();
        String::from_utf8(bytes.to_vec()).unwrap()
    }

    #[tokio::test]
    async fn an_error_page_says_what_failed_escaped_and_keeps_its_status() {
        let error = PageError::new(StatusCode::NOT_FOUND, "no release <b>genesis</b> 9.9.9");
        let response = error.clone().into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(response.extensions().get::<PageError>().is_some(), "kept for the area's rendering");
        let text = text_of(response).await;
        assert!(text.contains("<h1>Not found</h1>"), "{text}");
        assert!(text.contains("no release &lt;b&gt;genesis&lt;/b&gt; 9.9.9"), "{text}");
        assert!(!text.contains("<b>genesis"), "{text}");
        let vendor = error.render(Area::Vendor, Some(signed_in("admin alice", "tok", false)));
        assert_eq!(vendor.status(), StatusCode::NOT_FOUND);
        let text = text_of(vendor).await;
        assert!(text.contains("admin alice") && text.contains(r#"action="/admin/sign-out""#), "{text}");
        assert!(text.contains(r#"href="/admin/orgs""#), "the vendor's navigation: {text}");
    }
}
