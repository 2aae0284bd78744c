//! What every page shares: the document around a page's body (head, header with the area's
//! navigation and the sign-out form, main, footer), the security headers, error pages,
//! redirects, download names, and the small formatters (sizes, dates, URL segments).

use std::borrow::Cow;
use std::fmt::Write as _;

use axum::extract::Request;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::middleware::Next;
use axum::response::{IntoResponse, Redirect, Response};
use genesis_portal_client::protocol::ExportState;
use maud::{DOCTYPE, Markup, html};

use super::{SCRIPT, STYLESHEET};
use crate::api::{AppState, Failure};
use crate::error::PortalServerError;
use crate::store::Export;

/// What a page's every response carries. `connect-src 'self'` beyond decision 0038's list: the
/// upload progress of the publish form is an `XMLHttpRequest` to the portal itself, which
/// `default-src 'none'` alone would block.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
                                       connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Which part of the portal a page belongs to: its header, navigation and sign-out form.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Area {
    /// Open to anyone: the guide, error pages outside `/admin`.
    Public,
    /// The customer's pages under `/portal`.
    Customer,
    /// The vendor's pages under `/admin`.
    Vendor,
}

impl Area {
    fn brand(self) -> &'static str {
        match self {
            Area::Vendor => "Genesis Portal · Vendor",
            Area::Public | Area::Customer => "Genesis Downloads",
        }
    }

    /// Where the brand and "back" links lead.
    fn home(self) -> &'static str {
        match self {
            Area::Vendor => "/admin",
            Area::Public | Area::Customer => "/portal",
        }
    }

    fn sign_out(self) -> &'static str {
        match self {
            Area::Vendor => "/admin/sign-out",
            Area::Public | Area::Customer => "/portal/sign-out",
        }
    }

    /// The navigation links (no ids: a page's own links carry the ids tests look for).
    fn links(self, signed_in: bool) -> &'static [(&'static str, &'static str)] {
        match (self, signed_in) {
            (Area::Vendor, true) => &[
                ("/admin", "Overview"),
                ("/admin/orgs", "Organisations"),
                ("/admin/releases", "Releases"),
                ("/admin/exports", "Exports"),
                ("/admin/audit", "Audit log"),
            ],
            (Area::Vendor, false) => &[],
            (Area::Customer, true) => &[("/portal", "Releases"), ("/portal/guide", "Air-gap workflow")],
            (Area::Public | Area::Customer, _) => {
                &[("/portal/guide", "Air-gap workflow"), ("/portal/sign-in", "Sign in")]
            }
        }
    }
}

/// The frame of a page.
pub(crate) struct Chrome<'a> {
    /// The document's title (the page's `h1` is its body's own).
    pub(crate) title: &'a str,
    /// Whose navigation the header shows.
    pub(crate) area: Area,
    /// Who is signed in ("acme · key k_1234" / "admin alice") and the CSRF token for the
    /// sign-out form; None on public and sign-in pages.
    pub(crate) signed_in: Option<(String, &'a str)>,
}

/// A whole page: doctype, head (title, viewport, stylesheet, script), header with the area's
/// navigation and sign-out form, `main` holding `body` (which has the page's one `h1`),
/// footer; the security headers and `Cache-Control: no-store`. Every page is marked no-store,
/// not only the signed-in ones: a sign-in page carries a fresh form token and an error page a
/// caller's message, neither of which a shared cache should keep.
pub(crate) fn page(chrome: Chrome<'_>, status: StatusCode, body: Markup) -> Response {
    let mut response = (status, document(&chrome, body)).into_response();
    let headers = response.headers_mut();
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Not `no-referrer`: under it a browser sends `Origin: null` with a form's POST, and the
    // CSRF check could no longer tell our own forms from a sandboxed frame's.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    response
}

fn document(chrome: &Chrome<'_>, body: Markup) -> Markup {
    let area = chrome.area;
    let links = area.links(chrome.signed_in.is_some());
    html! {
        (DOCTYPE)
        html lang="en" {
            head {
                meta charset="utf-8";
                meta name="viewport" content="width=device-width, initial-scale=1";
                title { (chrome.title) " · " (area.brand()) }
                link rel="stylesheet" href=(STYLESHEET.path);
                script src=(SCRIPT.path) defer {}
            }
            body {
                a.skip href="#main" { "Skip to content" }
                header.site {
                    div.bar {
                        a.brand href=(area.home()) { (area.brand()) }
                        @if !links.is_empty() {
                            nav aria-label="Main" {
                                ul {
                                    @for (href, label) in links {
                                        li { a href=(href) { (label) } }
                                    }
                                }
                            }
                        }
                        @if let Some((who, csrf)) = &chrome.signed_in {
                            div.who {
                                span.identity { (who) }
                                form.sign-out method="post" action=(area.sign_out()) {
                                    (csrf_field(csrf))
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

/// The hidden form field every POST form carries (checked by `session::check_csrf`).
pub(crate) fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// A size for people: `812 B`, `1.4 MiB`.
pub(crate) fn human_size(bytes: u64) -> String {
    const UNITS: [&str; 5] = ["B", "KiB", "MiB", "GiB", "TiB"];
    let mut value = bytes as f64;
    let mut unit = 0;
    while value >= 1024.0 && unit < UNITS.len() - 1 {
        value /= 1024.0;
        unit += 1;
    }
    if unit == 0 { format!("{bytes} B") } else { format!("{value:.1} {}", UNITS[unit]) }
}

/// A Unix time for people, to the minute: `2026-11-30 09:12 UTC`.
pub(crate) fn date(unix: i64) -> String {
    let stamp = crate::when(unix);
    match stamp.split_once('T') {
        Some((day, time)) => format!("{day} {} UTC", time.get(..5).unwrap_or(time)),
        None => stamp,
    }
}

/// A value as one URL path segment: percent-encoded but for letters, digits and `-._~+` (the
/// names the portal publishes keep their look; anything else cannot break out of the segment).
pub(crate) fn segment(text: &str) -> Cow<'_, str> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-._~+".contains(&b);
    if text.bytes().all(plain) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if plain(b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    Cow::Owned(out)
}

/// This portal's URL as the browser reached it, for commands to copy: `https://` when the
/// portal serves TLS (a proxy's `X-Forwarded-Proto` is not trusted), and the `Host` header
/// when it is a plain host name, address and port; else a placeholder to fill in, so a
/// forged `Host` never lands in a command a person pastes into a shell.
pub(crate) fn portal_url(secure: bool, headers: &HeaderMap) -> String {
    let scheme = if secure { "https" } else { "http" };
    let host = headers
        .get(header::HOST)
        .and_then(|v| v.to_str().ok())
        .filter(|h| !h.is_empty() && h.bytes().all(|b| b.is_ascii_alphanumeric() || b"-.:[]".contains(&b)));
    match host {
        Some(host) => format!("{scheme}://{host}"),
        None => "https://PORTAL".to_owned(),
    }
}

/// The word an export's status is shown as: `pending`, `ready`, `failed`, or `expired` once
/// its pack is deleted or due to be (as the API answers 410 then).
pub(crate) fn export_state(state: &AppState, export: &Export) -> &'static str {
    let due = export.finished.map(|finished| finished.saturating_add(state.export_ttl_secs));
    if export.expired.is_some() || due.is_some_and(|due| due <= crate::now()) {
        return "expired";
    }
    match export.status {
        ExportState::Pending => "pending",
        ExportState::Ready => "ready",
        ExportState::Failed => "failed",
    }
}

/// `303 See Other` to `to` (what axum's `Redirect::to` answers): where every form's POST leads.
pub(crate) fn see_other(to: &str) -> Response {
    Redirect::to(to).into_response()
}

/// `response` as a download saved under `filename`.
pub(crate) fn attachment(response: Response, filename: &str) -> Response {
    disposition(response, "attachment", filename)
}

/// `response` shown by the browser (a PDF report), saved under `filename` if the user saves it.
pub(crate) fn inline(response: Response, filename: &str) -> Response {
    disposition(response, "inline", filename)
}

/// `Content-Disposition` with `filename` quoted so no name can end the header's parameter:
/// an ASCII fallback (`"` `\` and anything not printable ASCII become `_`), plus the exact
/// name as RFC 8187 `filename*` when the two differ.
fn disposition(mut response: Response, kind: &str, filename: &str) -> Response {
    let fallback: String = filename
        .chars()
        .map(|c| if c == ' ' || (c.is_ascii_graphic() && c != '"' && c != '\\') { c } else { '_' })
        .collect();
    let mut value = format!("{kind}; filename=\"{fallback}\"");
    if fallback != filename {
        value.push_str("; filename*=UTF-8''");
        for b in filename.bytes() {
            if b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b) {
                value.push(char::from(b));
            } else {
                let _ = write!(value, "%{b:02X}");
            }
        }
    }
    let value = HeaderValue::try_from(value).expect("only printable ASCII is written");
    response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
    response
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

    fn render(&self, area: Area) -> Response {
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
        page(Chrome { title, area, signed_in: None }, self.status, body)
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

/// Rendered as a public page; [`vendor_error_pages`] renders it again with the vendor's
/// header when it was raised under `/admin` (the error does not know where, the request does).
impl IntoResponse for PageError {
    fn into_response(self) -> Response {
        let mut response = self.render(Area::Public);
        response.extensions_mut().insert(self);
        response
    }
}

/// Middleware: an error page answered under `/admin` gets the vendor's header and a link back
/// to `/admin`.
pub(crate) async fn vendor_error_pages(request: Request, next: Next) -> Response {
    let vendor = request.uri().path().starts_with("/admin");
    let mut response = next.run(request).await;
    match response.extensions_mut().remove::<PageError>() {
        Some(error) if vendor => error.render(Area::Vendor),
        _ => response,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

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
        let who = "<script>alert(1)</script> · key k_1".to_owned();
        let chrome = Chrome { title: "<b>t</b>", area: Area::Customer, signed_in: Some((who, "tok\"en")) };
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
    fn signed_out_vendor_pages_have_no_navigation() {
        let chrome = Chrome { title: "Vendor sign-in", area: Area::Vendor, signed_in: None };
        let text = document(&chrome, html! {}).into_string();
        assert!(!text.contains("<nav"), "{text}");
        assert!(!text.contains("sign-out"), "{text}");
    }

    fn disposition_of(filename: &str) -> String {
        let response = attachment(StatusCode::OK.into_response(), filename);
        response.headers()[header::CONTENT_DISPOSITION].to_str().unwrap().to_owned()
    }

    #[test]
    fn a_download_name_is_quoted_so_nothing_escapes_the_parameter() {
        assert_eq!(disposition_of("demo-0.1.0.tar.zst"), r#"attachment; filename="demo-0.1.0.tar.zst""#);
        assert_eq!(
            disposition_of("a\"b\\c.tar.zst"),
            r#"attachment; filename="a_b_c.tar.zst"; filename*=UTF-8''a%22b%5Cc.tar.zst"#
        );
        assert_eq!(
            disposition_of("x\r\nSet-Cookie: y=1"),
            r#"attachment; filename="x__Set-Cookie: y=1"; filename*=UTF-8''x%0D%0ASet-Cookie%3A%20y%3D1"#
        );
        assert_eq!(
            disposition_of("résumé;.pdf"),
            "attachment; filename=\"r_sum_;.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%3B.pdf"
        );
        let shown = inline(StatusCode::OK.into_response(), "demo-0.1.0.tar.zst.report.pdf");
        assert_eq!(shown.headers()[header::CONTENT_DISPOSITION], r#"inline; filename="demo-0.1.0.tar.zst.report.pdf""#);
    }

    #[test]
    fn sizes_dates_and_segments_read_as_people_and_urls_expect() {
        assert_eq!(human_size(0), "0 B");
        assert_eq!(human_size(1023), "1023 B");
        assert_eq!(human_size(1536), "1.5 KiB");
        assert_eq!(human_size(3 << 30), "3.0 GiB");
        assert_eq!(date(0), "1970-01-01 00:00 UTC");
        assert_eq!(date(1_764_494_000), "2025-11-30 09:13 UTC");
        assert_eq!(segment("3.2.10+build.1"), "3.2.10+build.1");
        assert_eq!(segment("a/b c?"), "a%2Fb%20c%3F");
    }

    #[test]
    fn the_portal_url_is_the_host_the_browser_used_or_a_placeholder() {
        let with_host = |host: &str| {
            let mut headers = HeaderMap::new();
            headers.insert(header::HOST, host.parse().unwrap());
            headers
        };
        assert_eq!(portal_url(true, &with_host("downloads.example.com")), "https://downloads.example.com");
        assert_eq!(portal_url(false, &with_host("127.0.0.1:8480")), "http://127.0.0.1:8480");
        assert_eq!(portal_url(false, &with_host("[::1]:8480")), "http://[::1]:8480");
        assert_eq!(portal_url(true, &with_host("evil.example;rm -rf ~")), "https://PORTAL");
        assert_eq!(portal_url(true, &HeaderMap::new()), "https://PORTAL");
    }

    #[test]
    fn an_error_page_says_what_failed_and_keeps_its_status() {
        let error = PageError::new(StatusCode::NOT_FOUND, "no release genesis 9.9.9");
        let response = error.clone().into_response();
        assert_eq!(response.status(), StatusCode::NOT_FOUND);
        assert!(response.extensions().get::<PageError>().is_some(), "kept for the vendor's rendering");
        let vendor = error.render(Area::Vendor);
        assert_eq!(vendor.status(), StatusCode::NOT_FOUND);
    }
}
