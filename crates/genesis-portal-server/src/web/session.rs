//! Who is signed in (decision 0038). A session is a row of the `sessions` table named by the
//! SHA-256 of 32 random bytes the browser holds in an `HttpOnly; SameSite=Strict` cookie
//! (`__Host-genesis-session` and `Secure` when the portal serves TLS, else
//! `genesis-session`), so portals sharing a database share sessions and a copy of the table
//! signs no one in. Every request checks the license key (or admin token) behind the session
//! again: revoked, expired or gone, the row is deleted and the browser is sent to the sign-in
//! page, which says why. Every POST carries the session's CSRF token, compared in constant
//! time, and is refused when its `Origin` is another site; the sign-in forms, before any
//! session, use a double-submit cookie instead (`genesis-signin`).

use std::fmt::Write as _;

use axum::extract::FromRequestParts;
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use maud::html;

use super::page::{Area, Chrome, PageError, csrf_field, date, page, see_other};
use crate::api::{AppState, Caller, Shared};
use crate::store::{AdminRecord, Session, SessionKind};

/// The session cookie over plain HTTP.
const SESSION_COOKIE: &str = "genesis-session";
/// The session cookie under TLS: the `__Host-` prefix makes the browser refuse it unless it
/// is `Secure`, for `Path=/` and without `Domain`, so no sibling host can plant one.
const SECURE_SESSION_COOKIE: &str = "__Host-genesis-session";
/// The sign-in forms' double-submit token.
const SIGN_IN_COOKIE: &str = "genesis-signin";
/// Why a session ended, for the sign-in page to say once (hex of the text, read only to be
/// shown escaped).
const FLASH_COOKIE: &str = "genesis-flash";
/// The longest reason the flash cookie carries, in bytes.
const FLASH_MAX: usize = 400;

/// A signed-in customer: the caller their license key makes (checked again at this request).
pub(crate) struct CustomerSession {
    /// The key's organisation, id and scopes, as the API's bearer authentication makes them.
    pub(crate) caller: Caller,
    /// The session's CSRF token, for the page's forms.
    pub(crate) csrf: String,
    /// The session's row, for sign-out.
    pub(crate) id_hash: String,
}

/// A signed-in vendor: the admin whose token signed in (not revoked at this request).
pub(crate) struct VendorSession {
    /// The admin.
    pub(crate) admin: AdminRecord,
    /// The session's CSRF token, for the page's forms.
    pub(crate) csrf: String,
    /// The session's row, for sign-out.
    pub(crate) id_hash: String,
}

impl CustomerSession {
    /// The frame of a customer's page: organisation and key id, and the sign-out form.
    pub(crate) fn chrome<'a>(&'a self, title: &'a str) -> Chrome<'a> {
        let who = format!("{} · key {}", self.caller.org, self.caller.key_id);
        Chrome { title, area: Area::Customer, signed_in: Some((who, &self.csrf)) }
    }
}

impl VendorSession {
    /// The frame of a vendor's page: the admin's name, and the sign-out form.
    pub(crate) fn chrome<'a>(&'a self, title: &'a str) -> Chrome<'a> {
        let who = format!("admin {}", self.admin.name);
        Chrome { title, area: Area::Vendor, signed_in: Some((who, &self.csrf)) }
    }
}

/// The form of a POST that carries only its CSRF token (sign-out, revoke).
#[derive(Debug, serde::Deserialize)]
pub(crate) struct CsrfForm {
    /// The token the page put in the form; missing reads as empty, which never matches.
    #[serde(default)]
    pub(crate) csrf: String,
}

fn sign_in_path(kind: SessionKind) -> &'static str {
    match kind {
        SessionKind::Customer => "/portal/sign-in",
        SessionKind::Vendor => "/admin/sign-in",
    }
}

/// How long a session lasts from sign-in, in seconds (absolute, not renewed by use).
fn lifetime(kind: SessionKind) -> i64 {
    match kind {
        SessionKind::Customer => 12 * 3600,
        SessionKind::Vendor => 8 * 3600,
    }
}

fn session_cookie(secure: bool) -> &'static str {
    if secure { SECURE_SESSION_COOKIE } else { SESSION_COOKIE }
}

/// A `Set-Cookie` value: `Path=/; HttpOnly; SameSite=Strict`, `Secure` when the portal serves
/// TLS, and `Max-Age` when given (0 removes the cookie; none keeps it for the browser's
/// session).
fn set_cookie(name: &str, value: &str, secure: bool, max_age: Option<i64>) -> HeaderValue {
    let mut text = format!("{name}={value}; Path=/; HttpOnly; SameSite=Strict");
    if secure {
        text.push_str("; Secure");
    }
    if let Some(seconds) = max_age {
        let _ = write!(text, "; Max-Age={seconds}");
    }
    HeaderValue::try_from(text).expect("cookie names and values are hex or fixed ASCII")
}

/// The value of the cookie `name` among the request's `Cookie` headers (`a=1; b=2`, one
/// header or several): the first one sent, surrounding quotes removed.
fn cookie<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| n.trim() == name)
        .map(|(_, v)| {
            let v = v.trim();
            v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v)
        })
}

/// A cookie value of ours: 32 bytes, lowercase hex.
fn is_token(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// What the `sessions` table keeps of a session cookie's value.
fn id_hash(token: &str) -> String {
    genesis_bundle::sha256(token.as_bytes()).hex().to_owned()
}

/// Compares two secrets in time that depends on their length only, not on where they differ.
fn same_secret(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

/// Refuses a request whose `Origin` is present and is not this portal: its host and port must
/// be the `Host` header's. The scheme is not compared: behind a TLS-terminating proxy the
/// portal does not know it, and `SameSite=Strict` cookies already tie the session to the site.
fn same_origin(headers: &HeaderMap) -> Result<(), PageError> {
    let Some(origin) = headers.get(header::ORIGIN) else {
        return Ok(());
    };
    let host = headers.get(header::HOST).and_then(|v| v.to_str().ok());
    let authority = origin.to_str().ok().and_then(|o| o.strip_prefix("https://").or_else(|| o.strip_prefix("http://")));
    match (authority, host) {
        (Some(authority), Some(host)) if authority.eq_ignore_ascii_case(host) => Ok(()),
        _ => Err(PageError::new(
            StatusCode::FORBIDDEN,
            "refused: this form was sent from another site than this portal; open the portal's own page and submit it \
             there",
        )),
    }
}

/// Checks a POST of a signed-in page: its `csrf` field must be the session's token, and its
/// `Origin`, when sent, this portal.
pub(crate) fn check_csrf(session_csrf: &str, given: &str, headers: &HeaderMap) -> Result<(), PageError> {
    same_origin(headers)?;
    if session_csrf.is_empty() || !same_secret(session_csrf, given) {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "refused: this form is out of date or did not come from this portal's page; reload the page and submit it \
             again",
        ));
    }
    Ok(())
}

/// The sign-in form's token: the one the browser's `genesis-signin` cookie holds, else a new
/// one with the `Set-Cookie` that gives it (the form and the cookie must then agree, which a
/// page of another site cannot make them do). It takes the state, beyond the brief's
/// signature, to mark the cookie `Secure` under TLS; pages render their sign-in form with
/// [`sign_in_page`], which calls it.
pub(crate) fn sign_in_form_token(state: &AppState, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match cookie(headers, SIGN_IN_COOKIE).filter(|t| is_token(t)) {
        Some(token) => (token.to_owned(), None),
        None => {
            let token = crate::random_hex(32);
            let set = set_cookie(SIGN_IN_COOKIE, &token, state.secure_cookies, None);
            (token, Some(set))
        }
    }
}

/// Checks a sign-in POST: its `csrf` field must equal the `genesis-signin` cookie, and its
/// `Origin`, when sent, be this portal.
pub(crate) fn check_sign_in_token(headers: &HeaderMap, given: &str) -> Result<(), PageError> {
    same_origin(headers)?;
    match cookie(headers, SIGN_IN_COOKIE).filter(|t| is_token(t)) {
        Some(token) if same_secret(token, given) => Ok(()),
        _ => Err(PageError::new(
            StatusCode::FORBIDDEN,
            "the sign-in form is out of date, or this browser does not keep the portal's cookies: allow cookies for \
             this portal and sign in again",
        )),
    }
}

/// The sign-in page of `area` (the customer's license key, or the vendor's admin token),
/// answered with `status`: the form with a fresh double-submit token, `error` (why the last
/// attempt was refused) in `#sign-in-error`, and, once, why the last session ended in
/// `#session-ended`.
pub(crate) fn sign_in_page(
    state: &AppState,
    headers: &HeaderMap,
    area: Area,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let (token, set_token) = sign_in_form_token(state, headers);
    let ended = cookie(headers, FLASH_COOKIE).and_then(read_flash);
    let (title, action, field, label, hint) = match area {
        Area::Vendor => (
            "Vendor sign-in",
            "/admin/sign-in",
            "token",
            "Admin token",
            html! {
                "The " code { "gat_…" } " token " code { "genesis-portal admin create" } " printed for you, once."
            },
        ),
        Area::Public | Area::Customer => (
            "Sign in",
            "/portal/sign-in",
            "key",
            "License key",
            html! {
                "Your license key, " code { "sk_…" } ", as your vendor gave it: the key " code { "genesis login" }
                " takes."
            },
        ),
    };
    let hint_id = format!("{field}-hint");
    let body = html! {
        h1 { (title) }
        @if let Some(reason) = &ended {
            p #session-ended .notice role="status" { "You were signed out: " (reason) }
        }
        @if let Some(error) = error {
            p #sign-in-error .error role="alert" { (error) }
        }
        form #sign-in-form method="post" action=(action) {
            (csrf_field(&token))
            label for=(field) { (label) }
            input type="password" name=(field) id=(field) autocomplete="off" spellcheck="false" required
                aria-describedby=(hint_id);
            p.hint id=(hint_id) { (hint) }
            button #sign-in type="submit" { "Sign in" }
        }
        @if !matches!(area, Area::Vendor) {
            p {
                "New here? The " a href="/portal/guide" { "Air-gap workflow" }
                " explains how a release travels from this portal to your cluster."
            }
        }
    };
    let mut response = page(Chrome { title, area, signed_in: None }, status, body);
    let headers = response.headers_mut();
    if let Some(set_token) = set_token {
        headers.append(header::SET_COOKIE, set_token);
    }
    if ended.is_some() {
        headers.append(header::SET_COOKIE, set_cookie(FLASH_COOKIE, "", state.secure_cookies, Some(0)));
    }
    response
}

fn flash(reason: &str) -> String {
    let mut end = reason.len().min(FLASH_MAX);
    while !reason.is_char_boundary(end) {
        end -= 1;
    }
    hex::encode(&reason.as_bytes()[..end])
}

fn read_flash(value: &str) -> Option<String> {
    String::from_utf8(hex::decode(value).ok()?).ok().filter(|text| !text.is_empty() && text.len() <= FLASH_MAX)
}

/// Signs in: a new session of `kind` for `subject` (a key id or an admin id), its cookie, and
/// `303` to `to`. The sign-in form's token is dropped with it.
pub(crate) async fn start_session(
    state: &AppState,
    kind: SessionKind,
    subject: &str,
    to: &str,
) -> Result<Response, PageError> {
    let token = crate::random_hex(32);
    let max_age = lifetime(kind);
    let session =
        Session { kind, subject: subject.to_owned(), csrf: crate::random_hex(32), expires: crate::now() + max_age };
    state.store.insert_session(&id_hash(&token), &session).await?;
    let secure = state.secure_cookies;
    let mut response = see_other(to);
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, set_cookie(session_cookie(secure), &token, secure, Some(max_age)));
    headers.append(header::SET_COOKIE, set_cookie(SIGN_IN_COOKIE, "", secure, Some(0)));
    Ok(response)
}

/// Signs out: the session's row deleted, its cookie removed, and `303` to `to`.
pub(crate) async fn end_session(state: &AppState, id_hash: &str, to: &str) -> Result<Response, PageError> {
    state.store.delete_session(id_hash).await?;
    let mut response = see_other(to);
    let secure = state.secure_cookies;
    response.headers_mut().append(header::SET_COOKIE, set_cookie(session_cookie(secure), "", secure, Some(0)));
    Ok(response)
}

/// To the sign-in page of `kind`, the session cookie removed and `reason` kept for that page.
fn signed_out(state: &AppState, kind: SessionKind, reason: &str) -> Response {
    let secure = state.secure_cookies;
    let mut response = see_other(sign_in_path(kind));
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, set_cookie(session_cookie(secure), "", secure, Some(0)));
    headers.append(header::SET_COOKIE, set_cookie(FLASH_COOKIE, &flash(reason), secure, Some(300)));
    response
}

/// Ends a session whose key or token no longer holds: its row deleted, then as [`signed_out`].
async fn ended(state: &AppState, id_hash: &str, kind: SessionKind, reason: &str) -> Response {
    tracing::info!(reason, "session ended: its credential no longer holds");
    match state.store.delete_session(id_hash).await {
        Ok(()) => signed_out(state, kind, reason),
        Err(e) => PageError::from(e).into_response(),
    }
}

/// The request's session of `kind` and its row's name; else the response that sends the
/// browser to sign in: no cookie, a session that has ended (said on the sign-in page), or a
/// session of the other kind (left alone: it is valid where it belongs).
async fn current(state: &AppState, headers: &HeaderMap, kind: SessionKind) -> Result<(Session, String), Response> {
    let Some(token) = cookie(headers, session_cookie(state.secure_cookies)).filter(|t| is_token(t)) else {
        return Err(see_other(sign_in_path(kind)));
    };
    let id_hash = id_hash(token);
    match state.store.session(&id_hash, crate::now()).await {
        Err(e) => Err(PageError::from(e).into_response()),
        Ok(None) => {
            let hours = lifetime(kind) / 3600;
            let reason =
                format!("your session ended (a session lasts {hours} hours, and signing out ends it); sign in again");
            Err(signed_out(state, kind, &reason))
        }
        Ok(Some(session)) if session.kind == kind => Ok((session, id_hash)),
        Ok(Some(_)) => Err(see_other(sign_in_path(kind))),
    }
}

/// A customer's session, its license key checked as the API checks a bearer key.
impl FromRequestParts<Shared> for CustomerSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<CustomerSession, Response> {
        let (session, id_hash) = current(state, &parts.headers, SessionKind::Customer).await?;
        let record = state.store.key_by_id(&session.subject).await.map_err(|e| PageError::from(e).into_response())?;
        let Some(record) = record else {
            let reason = format!("license key {} no longer exists; ask your vendor for a new key", session.subject);
            return Err(ended(state, &id_hash, SessionKind::Customer, &reason).await);
        };
        match Caller::from_record(record) {
            Ok(caller) => Ok(CustomerSession { caller, csrf: session.csrf, id_hash }),
            Err(refused) => Err(ended(state, &id_hash, SessionKind::Customer, &refused.message).await),
        }
    }
}

/// A vendor's session, its admin token checked not revoked.
impl FromRequestParts<Shared> for VendorSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<VendorSession, Response> {
        let (session, id_hash) = current(state, &parts.headers, SessionKind::Vendor).await?;
        let admin = state.store.admin_by_id(&session.subject).await.map_err(|e| PageError::from(e).into_response())?;
        let reason = match admin {
            Some(admin) => match admin.revoked {
                None => return Ok(VendorSession { admin, csrf: session.csrf, id_hash }),
                Some(revoked) => format!("admin token {} was revoked on {}", admin.id, date(revoked)),
            },
            None => format!("admin {} no longer exists", session.subject),
        };
        Err(ended(state, &id_hash, SessionKind::Vendor, &reason).await)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(name.parse::<header::HeaderName>().unwrap(), value.parse().unwrap());
        }
        headers
    }

    const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn cookies_are_read_from_every_cookie_header() {
        let h = headers(&[("cookie", "a=1; genesis-signin=x"), ("cookie", "b=2;c=\"3\"")]);
        assert_eq!(cookie(&h, "a"), Some("1"));
        assert_eq!(cookie(&h, "genesis-signin"), Some("x"));
        assert_eq!(cookie(&h, "b"), Some("2"));
        assert_eq!(cookie(&h, "c"), Some("3"), "quotes removed");
        assert_eq!(cookie(&h, "genesis"), None, "no prefix match");
        assert_eq!(cookie(&headers(&[("cookie", "x=1; x=2")]), "x"), Some("1"), "the first sent");
        assert_eq!(cookie(&headers(&[("cookie", "junk; ;=; y = 5 ")]), "y"), Some("5"));
        assert_eq!(cookie(&HeaderMap::new(), "x"), None);
    }

    #[test]
    fn only_our_tokens_are_taken_for_sessions() {
        assert!(is_token(TOKEN));
        assert!(!is_token(&TOKEN.to_uppercase()));
        assert!(!is_token(&TOKEN[1..]));
        assert!(!is_token(""));
    }

    #[test]
    fn cookies_set_are_http_only_strict_and_secure_under_tls() {
        assert_eq!(
            set_cookie(session_cookie(true), TOKEN, true, Some(43_200)),
            format!("__Host-genesis-session={TOKEN}; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=43200")
                .as_str()
        );
        assert_eq!(
            set_cookie(session_cookie(false), "", false, Some(0)),
            "genesis-session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        );
        assert_eq!(
            set_cookie(SIGN_IN_COOKIE, "ab", false, None),
            "genesis-signin=ab; Path=/; HttpOnly; SameSite=Strict"
        );
    }

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same_secret(TOKEN, TOKEN));
        assert!(!same_secret(TOKEN, &TOKEN[1..]));
        assert!(!same_secret(TOKEN, &format!("{}0", &TOKEN[..63])));
        assert!(same_secret("", ""), "callers refuse empty tokens themselves");
    }

    #[test]
    fn a_post_from_another_origin_is_refused_and_the_scheme_is_not_compared() {
        assert!(same_origin(&headers(&[("host", "portal.example:8480")])).is_ok(), "no Origin: allowed");
        assert!(
            same_origin(&headers(&[("host", "portal.example:8480"), ("origin", "http://portal.example:8480")])).is_ok()
        );
        assert!(same_origin(&headers(&[("host", "Portal.Example"), ("origin", "https://portal.example")])).is_ok());
        for origin in [
            "https://evil.example",
            "http://portal.example:8481",
            "null",
            "portal.example:8480",
            "https://portal.example:8480.evil",
        ] {
            let refused = same_origin(&headers(&[("host", "portal.example:8480"), ("origin", origin)]));
            assert_eq!(refused.unwrap_err().status, StatusCode::FORBIDDEN, "{origin}");
        }
        assert!(same_origin(&headers(&[("origin", "https://portal.example")])).is_err(), "no Host to compare with");
    }

    #[test]
    fn a_post_needs_the_session_token() {
        let host = headers(&[("host", "p")]);
        assert!(check_csrf(TOKEN, TOKEN, &host).is_ok());
        assert_eq!(check_csrf(TOKEN, "", &host).unwrap_err().status, StatusCode::FORBIDDEN);
        assert!(check_csrf(TOKEN, &TOKEN.replace('0', "1"), &host).is_err());
        assert!(check_csrf("", "", &host).is_err(), "a session without a token accepts nothing");
        let foreign = headers(&[("host", "p"), ("origin", "https://q")]);
        assert!(check_csrf(TOKEN, TOKEN, &foreign).is_err(), "the right token from another site");
    }

    #[test]
    fn a_sign_in_needs_the_cookie_and_the_field_to_agree() {
        let with_cookie = headers(&[("host", "p"), ("cookie", &format!("genesis-signin={TOKEN}"))]);
        assert!(check_sign_in_token(&with_cookie, TOKEN).is_ok());
        assert!(check_sign_in_token(&with_cookie, "").is_err());
        assert!(check_sign_in_token(&headers(&[("host", "p")]), TOKEN).is_err(), "no cookie");
        let junk = headers(&[("host", "p"), ("cookie", "genesis-signin=")]);
        assert!(check_sign_in_token(&junk, "").is_err(), "empty equals empty is still no token");
    }

    #[test]
    fn a_flash_round_trips_and_junk_reads_as_nothing() {
        let reason = "license key k_1 was revoked on 2026-01-02T03:04:05Z";
        assert_eq!(read_flash(&flash(reason)).as_deref(), Some(reason));
        let long = "é".repeat(FLASH_MAX);
        let kept = read_flash(&flash(&long)).unwrap();
        assert!(kept.len() <= FLASH_MAX && long.starts_with(&kept));
        assert_eq!(read_flash("zz"), None);
        assert_eq!(read_flash(""), None);
        assert_eq!(read_flash("ff"), None, "not UTF-8");
    }
}
