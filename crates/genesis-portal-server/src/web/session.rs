//! Who is signed in (decision 0038), for both areas: the customer's sessions, made by a
//! license key, and the vendor's, made by an admin token, each with a cookie of its own
//! (`genesis-session`, `genesis-admin-session`). A session is a row of the `sessions` table
//! named by the SHA-256 of 32 random bytes the browser holds in an `HttpOnly;
//! SameSite=Strict` cookie, so portals sharing a database share sessions and a copy of the
//! table signs no one in. Under secure cookies (the portal serves TLS, or its public URL is
//! https) every cookie is `Secure` and carries the `__Host-` prefix, so no sibling host can
//! plant one. Every request checks the license key (or admin token) behind the session again:
//! revoked, expired or gone, the row is deleted and the browser is sent to the sign-in page,
//! which says why with a fixed sentence (the flash cookie carries a fixed code, never text).
//! Every POST carries the session's CSRF token, compared in constant time, and is refused when
//! its `Origin` is another site; the sign-in forms, before any session, use a double-submit
//! cookie instead (`genesis-signin`). The sign-in and sign-out routes of both areas are here,
//! one copy parameterised by the kind of session.

use std::convert::Infallible;
use std::future::Future;

use axum::extract::{FromRequestParts, OptionalFromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Form, Router};
use genesis_portal_client::protocol::Scope;
use genesis_web::html::{csrf_field, date};
use genesis_web::{cookie, secret};
use maud::html;

use super::page::{Area, Chrome, PageError, SignedIn, SignedInSlot, Site, page, see_other};
use crate::api::{AppState, Caller, Shared};
use crate::error::PortalServerError;
use crate::store::{AdminRecord, Session, SessionKind, action, key_hash};

/// The sign-in forms' double-submit token, for both areas.
const SIGN_IN_COOKIE: &str = "genesis-signin";
/// How long the sign-in page may say why the last session ended, in seconds.
const FLASH_SECONDS: i64 = 300;

/// What sets the two kinds of session apart.
struct Rules {
    /// Whose pages it opens.
    area: Area,
    /// Its cookie (`__Host-` prefixed under secure cookies).
    cookie: &'static str,
    /// The cookie that tells its sign-in page why the last session ended.
    flash: &'static str,
    /// Its sign-in page.
    sign_in: &'static str,
    /// How long it lasts from sign-in, in hours (absolute, not renewed by use).
    hours: i64,
}

impl Rules {
    /// How long a session lasts from sign-in, in seconds.
    fn lifetime(&self) -> i64 {
        self.hours * 3600
    }
}

/// The rules of `kind`'s sessions.
fn rules(kind: SessionKind) -> &'static Rules {
    const CUSTOMER: Rules = Rules {
        area: Area::Customer,
        cookie: "genesis-session",
        flash: "genesis-flash",
        sign_in: "/portal/sign-in",
        hours: 12,
    };
    const VENDOR: Rules = Rules {
        area: Area::Vendor,
        cookie: "genesis-admin-session",
        flash: "genesis-admin-flash",
        sign_in: "/admin/sign-in",
        hours: 8,
    };
    match kind {
        SessionKind::Customer => &CUSTOMER,
        SessionKind::Vendor => &VENDOR,
    }
}

/// A signed-in customer: the caller their license key makes (checked again at this request).
pub(crate) struct CustomerSession {
    /// The key's organisation, id and scopes, as the API's bearer authentication makes them.
    pub(crate) caller: Caller,
    /// The session's CSRF token, for the page's forms.
    pub(crate) csrf: String,
}

/// A signed-in vendor: the admin whose token signed in (not revoked at this request).
pub(crate) struct VendorSession {
    /// The admin.
    pub(crate) admin: AdminRecord,
    /// The session's CSRF token, for the page's forms.
    pub(crate) csrf: String,
    /// The session's row, to check it again after a long upload.
    id_hash: String,
    /// When the session ends (Unix time): an upload must have arrived by then.
    pub(crate) expires: i64,
}

/// How the audit log names an admin: `admin:<name>`.
fn admin_actor(admin: &AdminRecord) -> String {
    format!("admin:{}", admin.name)
}

impl CustomerSession {
    /// The frame of a customer's page: organisation and key id, the navigation the key's
    /// scopes allow, and the sign-out form.
    pub(crate) fn chrome<'a>(&self, title: &'a str) -> Chrome<'a> {
        Chrome { title, area: Area::Customer, signed_in: Some(self.signed_in()) }
    }
}

impl VendorSession {
    /// The frame of a vendor's page: the admin's name, and the sign-out form.
    pub(crate) fn chrome<'a>(&self, title: &'a str) -> Chrome<'a> {
        Chrome { title, area: Area::Vendor, signed_in: Some(self.signed_in()) }
    }

    /// How the audit log names this admin: `admin:<name>`.
    pub(crate) fn actor(&self) -> String {
        admin_actor(&self.admin)
    }

    /// Checks the session again, after a wait as long as an upload's: it may have been signed
    /// out, or its admin revoked, meanwhile. Else the response that ends it, as at a request.
    pub(crate) async fn recheck(&self, state: &AppState) -> Result<(), Response> {
        resume::<VendorSession>(state, self.id_hash.clone()).await.map(drop)
    }
}

/// The form of a POST that carries only its CSRF token (sign-out, revoke).
#[derive(Debug, serde::Deserialize)]
pub(crate) struct CsrfForm {
    /// The token the page put in the form; missing reads as empty, which never matches.
    #[serde(default)]
    pub(crate) csrf: String,
}

/// Checks a POST of a signed-in page: its `Origin`, when sent, must be this portal and its
/// `csrf` field the session's token.
pub(crate) fn check_csrf(session_csrf: &str, given: &str, site: &Site) -> Result<(), PageError> {
    site.check_origin()?;
    if session_csrf.is_empty() || !secret::same(session_csrf, given) {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "refused: this form is out of date or did not come from this portal's page; reload the page and submit it \
             again",
        ));
    }
    Ok(())
}

/// Checks a sign-in POST: its `Origin`, when sent, must be this portal and its `csrf` field
/// equal the sign-in cookie.
fn check_sign_in_token(secure: bool, site: &Site, headers: &HeaderMap, given: &str) -> Result<(), PageError> {
    site.check_origin()?;
    if genesis_web::check_sign_in_token(SIGN_IN_COOKIE, secure, headers, given) {
        return Ok(());
    }
    Err(PageError::new(
        StatusCode::FORBIDDEN,
        "the sign-in form is out of date, or this browser does not keep the portal's cookies: allow cookies for this \
         portal and sign in again",
    ))
}

/// Why a session ended before the person signed out, as the sign-in page says it once: a
/// fixed code in the flash cookie, shown as a fixed sentence.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// The license key or admin token was revoked.
    Revoked,
    /// The license key expired.
    Expired,
    /// The key or the admin is no longer in the database.
    Gone,
    /// The session itself is over: it lasted its hours, or was signed out elsewhere.
    Over,
}

impl Ended {
    const ALL: [Ended; 4] = [Ended::Revoked, Ended::Expired, Ended::Gone, Ended::Over];

    /// The flash cookie's value.
    fn code(self) -> &'static str {
        match self {
            Ended::Revoked => "revoked",
            Ended::Expired => "expired",
            Ended::Gone => "gone",
            Ended::Over => "over",
        }
    }

    fn from_code(code: &str) -> Option<Ended> {
        Ended::ALL.into_iter().find(|e| e.code() == code)
    }

    /// What the sign-in page of `kind` says.
    fn sentence(self, kind: SessionKind) -> String {
        let (credential, next) = match kind {
            SessionKind::Customer => ("license key", "Ask your vendor for a new key."),
            SessionKind::Vendor => {
                ("admin token", "Ask another admin for a new one (genesis-portal admin create --name NAME).")
            }
        };
        match self {
            Ended::Revoked => format!("You were signed out: your {credential} was revoked. {next}"),
            Ended::Expired => format!("You were signed out: your {credential} expired. {next}"),
            Ended::Gone => format!("You were signed out: your {credential} no longer exists. {next}"),
            Ended::Over => format!(
                "You were signed out: your session ended (a session lasts {} hours, and signing out ends it). Sign in \
                 again.",
                rules(kind).hours
            ),
        }
    }
}

/// The sign-in page of `kind` (the customer's license key, or the vendor's admin token),
/// answered with `status`: the form with a fresh double-submit token, `error` (why the last
/// attempt was refused) in `#sign-in-error`, and, once, why the last session ended in
/// `#session-ended`.
fn sign_in_page(
    state: &AppState,
    headers: &HeaderMap,
    kind: SessionKind,
    status: StatusCode,
    error: Option<&str>,
) -> Response {
    let secure = state.secure_cookies;
    let (token, set_token) = genesis_web::sign_in_token(SIGN_IN_COOKIE, secure, headers);
    let ended = cookie::get(headers, &cookie::name(rules(kind).flash, secure)).and_then(Ended::from_code);
    let (title, field, label, hint) = match kind {
        SessionKind::Vendor => (
            "Vendor sign-in",
            "token",
            "Admin token",
            html! {
                "The " code { "gat_…" } " token " code.cmd { "genesis-portal admin create" } " printed for you, once."
            },
        ),
        SessionKind::Customer => (
            "Sign in",
            "key",
            "License key",
            html! {
                "Your license key, " code { "sk_…" } ", as your vendor gave it: the key " code.cmd { "genesis login" }
                " takes."
            },
        ),
    };
    let hint_id = format!("{field}-hint");
    let body = html! {
        h1 { (title) }
        @if let Some(ended) = ended {
            p #session-ended .notice role="status" { (ended.sentence(kind)) }
        }
        @if let Some(error) = error {
            p #sign-in-error .error role="alert" { (error) }
        }
        form #sign-in-form method="post" action=(rules(kind).sign_in) {
            (csrf_field(&token))
            label for=(field) { (label) }
            input type="password" name=(field) id=(field) autocomplete="off" spellcheck="false" required
                aria-describedby=(hint_id);
            p.hint id=(hint_id) { (hint) }
            button #sign-in type="submit" { "Sign in" }
        }
        @if kind == SessionKind::Customer {
            p {
                "New here? The " a href="/portal/guide" { "Air-gap workflow" }
                " explains how a release travels from this portal to your cluster."
            }
        }
    };
    let mut response = page(Chrome { title, area: rules(kind).area, signed_in: None }, status, body);
    let headers = response.headers_mut();
    if let Some(set_token) = set_token {
        headers.append(header::SET_COOKIE, set_token);
    }
    if ended.is_some() {
        headers.append(header::SET_COOKIE, cookie::set(rules(kind).flash, "", secure, Some(0)));
    }
    response
}

/// The sign-in and sign-out routes of `kind`: `GET`/`POST /portal/sign-in` and
/// `POST /portal/sign-out` for customers, the same under `/admin` for vendors.
pub(crate) fn routes(kind: SessionKind) -> Router<Shared> {
    Router::new()
        .route(
            rules(kind).sign_in,
            get(move |State(state): State<Shared>, headers: HeaderMap| async move {
                sign_in_page(&state, &headers, kind, StatusCode::OK, None)
            })
            .post(
                move |State(state): State<Shared>, site: Site, headers: HeaderMap, Form(form): Form<SignIn>| {
                    sign_in(state, site, headers, form, kind)
                },
            ),
        )
        .route(
            rules(kind).area.sign_out(),
            post(move |State(state): State<Shared>, site: Site, headers: HeaderMap, Form(form): Form<CsrfForm>| {
                sign_out(state, site, headers, form, kind)
            }),
        )
}

/// The sign-in form: `key` on the customer's, `token` on the vendor's.
#[derive(serde::Deserialize)]
struct SignIn {
    #[serde(default)]
    key: String,
    #[serde(default)]
    token: String,
    #[serde(default)]
    csrf: String,
}

/// Who a license key or admin token signs in as.
struct Principal {
    /// The session's subject: the key's or the admin's id.
    subject: String,
    /// How the audit log names them.
    actor: String,
    /// The key's organisation; none for an admin.
    org: Option<String>,
}

/// Who `secret` signs in as, checked as the API checks a bearer key (a customer) or as the
/// admin tokens are (a vendor); else why it is refused.
async fn authenticate(state: &AppState, kind: SessionKind, secret: &str) -> crate::Result<Result<Principal, String>> {
    let hash = key_hash(secret);
    Ok(match kind {
        SessionKind::Customer => match state.store.key_by_hash(&hash).await? {
            None => Err("unknown license key: paste the whole key, which starts with sk_".to_owned()),
            Some(record) => Caller::from_record(record)
                .map(|caller| Principal {
                    subject: caller.key_id.clone(),
                    actor: caller.actor(),
                    org: Some(caller.org),
                })
                .map_err(|refused| refused.message),
        },
        SessionKind::Vendor => match state.store.admin_by_hash(&hash).await? {
            None => Err("unknown admin token: paste the whole `gat_…` token, or ask another admin for a new one \
                         (`genesis-portal admin create --name NAME`)"
                .to_owned()),
            Some(admin) => match admin.revoked {
                Some(revoked) => Err(format!(
                    "admin token {} ({}) was revoked on {}; ask another admin for a new one (`genesis-portal admin \
                     create --name NAME`)",
                    admin.id,
                    admin.name,
                    date(revoked)
                )),
                None => Ok(Principal { subject: admin.id.clone(), actor: admin_actor(&admin), org: None }),
            },
        },
    })
}

/// `POST …/sign-in`: refused, the form again with the reason (401, or 403 for a form that
/// is not this portal's), else a session and the area's start page. The secret is never
/// logged.
async fn sign_in(
    state: Shared,
    site: Site,
    headers: HeaderMap,
    form: SignIn,
    kind: SessionKind,
) -> Result<Response, PageError> {
    let refused = |status, reason: &str| Ok(sign_in_page(&state, &headers, kind, status, Some(reason)));
    if let Err(e) = check_sign_in_token(state.secure_cookies, &site, &headers, &form.csrf) {
        return refused(e.status, &e.message);
    }
    let secret = match kind {
        SessionKind::Customer => &form.key,
        SessionKind::Vendor => &form.token,
    };
    let who = match authenticate(&state, kind, secret.trim()).await? {
        Ok(who) => who,
        Err(reason) => {
            tracing::info!(?kind, reason = %reason, "sign-in refused");
            return refused(StatusCode::UNAUTHORIZED, &reason);
        }
    };
    state.store.audit_now(&who.actor, action::SIGN_IN, who.org.as_deref(), &who.subject).await?;
    tracing::info!(?kind, subject = %who.subject, "signed in");
    let token = secret::random_token();
    let max_age = rules(kind).lifetime();
    let session = Session { kind, subject: who.subject, csrf: secret::random_token(), expires: crate::now() + max_age };
    state.store.insert_session(&secret::hash(&token), &session).await?;
    let secure = state.secure_cookies;
    let mut response = see_other(rules(kind).area.home());
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, cookie::set(rules(kind).cookie, &token, secure, Some(max_age)));
    headers.append(header::SET_COOKIE, cookie::set(SIGN_IN_COOKIE, "", secure, Some(0)));
    Ok(response)
}

/// `POST …/sign-out`: the session's row deleted (its key need not hold any more), its cookie
/// removed, and the sign-in page.
async fn sign_out(
    state: Shared,
    site: Site,
    headers: HeaderMap,
    form: CsrfForm,
    kind: SessionKind,
) -> Result<Response, PageError> {
    if let Some(id_hash) = cookie_id_hash(&state, &headers, kind)
        && let Some(session) = stored(&state, &id_hash, kind).await?
    {
        check_csrf(&session.csrf, &form.csrf, &site)?;
        state.store.delete_session(&id_hash).await?;
    }
    Ok(signed_out(&state, kind, None))
}

/// To the sign-in page of `kind`, the session cookie removed and, when it ended on its own,
/// why, kept for that page.
fn signed_out(state: &AppState, kind: SessionKind, ended: Option<Ended>) -> Response {
    let secure = state.secure_cookies;
    let mut response = see_other(rules(kind).sign_in);
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, cookie::set(rules(kind).cookie, "", secure, Some(0)));
    if let Some(ended) = ended {
        headers.append(header::SET_COOKIE, cookie::set(rules(kind).flash, ended.code(), secure, Some(FLASH_SECONDS)));
    }
    response
}

/// Ends a session whose key or token no longer holds: its row deleted, then as [`signed_out`].
async fn end(state: &AppState, id_hash: &str, kind: SessionKind, ended: Ended) -> Response {
    tracing::info!(?kind, reason = ended.code(), "session ended: its credential no longer holds");
    match state.store.delete_session(id_hash).await {
        Ok(()) => signed_out(state, kind, Some(ended)),
        Err(e) => PageError::from(e).into_response(),
    }
}

/// The row name (SHA-256) of the request's session cookie of `kind`, when it sends one.
fn cookie_id_hash(state: &AppState, headers: &HeaderMap, kind: SessionKind) -> Option<String> {
    cookie::get(headers, &cookie::name(rules(kind).cookie, state.secure_cookies))
        .filter(|t| secret::is_token(t))
        .map(secret::hash)
}

/// The session of `kind` stored under `id_hash`, when there is one and it has not ended.
async fn stored(state: &AppState, id_hash: &str, kind: SessionKind) -> crate::Result<Option<Session>> {
    Ok(state.store.session(id_hash, crate::now()).await?.filter(|session| session.kind == kind))
}

/// A session of one kind, as its credential, checked again, makes it.
trait Signed: Sized {
    /// Its kind.
    const KIND: SessionKind;

    /// The session `session` (row `id_hash`) with its credential checked again; else why it
    /// ended.
    fn check(
        state: &AppState,
        session: Session,
        id_hash: String,
    ) -> impl Future<Output = crate::Result<Result<Self, Ended>>> + Send;

    /// Who the header shows.
    fn signed_in(&self) -> SignedIn;
}

impl Signed for CustomerSession {
    const KIND: SessionKind = SessionKind::Customer;

    async fn check(state: &AppState, session: Session, _id_hash: String) -> crate::Result<Result<Self, Ended>> {
        let Some(record) = state.store.key_by_id(&session.subject).await? else {
            return Ok(Err(Ended::Gone));
        };
        let why = if record.revoked.is_some() { Ended::Revoked } else { Ended::Expired };
        let caller = Caller::from_record(record).map_err(|_| why);
        Ok(caller.map(|caller| CustomerSession { caller, csrf: session.csrf }))
    }

    fn signed_in(&self) -> SignedIn {
        SignedIn {
            who: format!("{} · key {}", self.caller.org, self.caller.key_id),
            csrf: self.csrf.clone(),
            exports: self.caller.scopes.contains(&Scope::ExportRead),
        }
    }
}

impl Signed for VendorSession {
    const KIND: SessionKind = SessionKind::Vendor;

    async fn check(state: &AppState, session: Session, id_hash: String) -> crate::Result<Result<Self, Ended>> {
        Ok(match state.store.admin_by_id(&session.subject).await? {
            None => Err(Ended::Gone),
            Some(admin) if admin.revoked.is_some() => Err(Ended::Revoked),
            Some(admin) => Ok(VendorSession { admin, csrf: session.csrf, id_hash, expires: session.expires }),
        })
    }

    fn signed_in(&self) -> SignedIn {
        SignedIn { who: format!("admin {}", self.admin.name), csrf: self.csrf.clone(), exports: false }
    }
}

/// The session stored under `id_hash`, its credential checked again; else the response that
/// sends the browser to sign in, saying why.
async fn resume<S: Signed>(state: &AppState, id_hash: String) -> Result<S, Response> {
    let internal = |e: PortalServerError| PageError::from(e).into_response();
    let Some(session) = stored(state, &id_hash, S::KIND).await.map_err(internal)? else {
        return Err(signed_out(state, S::KIND, Some(Ended::Over)));
    };
    match S::check(state, session, id_hash.clone()).await.map_err(internal)? {
        Ok(signed) => Ok(signed),
        Err(ended) => Err(end(state, &id_hash, S::KIND, ended).await),
    }
}

/// The request's session of kind `S`; else the response that sends the browser to sign in
/// (saying why when it held a session that ended). The header of an error page the request
/// ends on shows who is signed in.
async fn extract<S: Signed>(parts: &Parts, state: &AppState) -> Result<S, Response> {
    let Some(id_hash) = cookie_id_hash(state, &parts.headers, S::KIND) else {
        return Err(see_other(rules(S::KIND).sign_in));
    };
    let signed = resume::<S>(state, id_hash).await?;
    SignedInSlot::fill(&parts.extensions, rules(S::KIND).area, signed.signed_in());
    Ok(signed)
}

impl FromRequestParts<Shared> for CustomerSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<CustomerSession, Response> {
        extract(parts, state).await
    }
}

impl FromRequestParts<Shared> for VendorSession {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<VendorSession, Response> {
        extract(parts, state).await
    }
}

/// A customer's session where a page is open to all (the guide): the signed-in header when
/// the session holds, else none, and nothing ended (the customer's own next page does that).
impl OptionalFromRequestParts<Shared> for CustomerSession {
    type Rejection = Infallible;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Option<CustomerSession>, Infallible> {
        let Some(id_hash) = cookie_id_hash(state, &parts.headers, SessionKind::Customer) else {
            return Ok(None);
        };
        let Ok(Some(session)) = stored(state, &id_hash, SessionKind::Customer).await else {
            return Ok(None);
        };
        Ok(CustomerSession::check(state, session, id_hash).await.ok().and_then(Result::ok))
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

    fn site(origin: Option<&str>) -> Site {
        Site::new(None, false, Some("p".to_owned()), origin.map(str::to_owned))
    }

    const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn each_kind_of_session_has_cookies_and_a_lifetime_of_its_own() {
        let (customer, vendor) = (rules(SessionKind::Customer), rules(SessionKind::Vendor));
        assert_eq!(
            [customer.cookie, customer.flash, customer.sign_in],
            ["genesis-session", "genesis-flash", "/portal/sign-in"]
        );
        assert_eq!(
            [vendor.cookie, vendor.flash, vendor.sign_in],
            ["genesis-admin-session", "genesis-admin-flash", "/admin/sign-in"]
        );
        assert_eq!((customer.lifetime(), vendor.lifetime()), (43_200, 28_800));
    }

    #[test]
    fn a_post_needs_the_session_token_from_this_portal() {
        assert!(check_csrf(TOKEN, TOKEN, &site(None)).is_ok());
        assert!(check_csrf(TOKEN, TOKEN, &site(Some("http://p"))).is_ok());
        assert_eq!(check_csrf(TOKEN, "", &site(None)).unwrap_err().status, StatusCode::FORBIDDEN);
        assert!(check_csrf(TOKEN, &TOKEN.replace('0', "1"), &site(None)).is_err());
        assert!(check_csrf("", "", &site(None)).is_err(), "a session without a token accepts nothing");
        assert!(check_csrf(TOKEN, TOKEN, &site(Some("https://q"))).is_err(), "the right token from another site");
    }

    #[test]
    fn a_sign_in_needs_the_cookie_and_the_field_to_agree_from_this_portal() {
        let with_cookie = headers(&[("cookie", &format!("genesis-signin={TOKEN}"))]);
        assert!(check_sign_in_token(false, &site(None), &with_cookie, TOKEN).is_ok());
        let prefixed = headers(&[("cookie", &format!("__Host-genesis-signin={TOKEN}"))]);
        assert!(check_sign_in_token(true, &site(None), &prefixed, TOKEN).is_ok());
        let refused = check_sign_in_token(false, &site(None), &with_cookie, "").unwrap_err();
        assert_eq!(refused.status, StatusCode::FORBIDDEN);
        assert!(refused.message.contains("allow cookies"), "{}", refused.message);
        assert!(check_sign_in_token(false, &site(None), &HeaderMap::new(), TOKEN).is_err(), "no cookie");
        assert!(check_sign_in_token(false, &site(Some("https://q")), &with_cookie, TOKEN).is_err(), "another site");
    }

    #[test]
    fn a_flash_is_a_fixed_code_read_back_as_a_fixed_sentence() {
        for ended in Ended::ALL {
            assert_eq!(Ended::from_code(ended.code()), Some(ended));
        }
        assert_eq!(Ended::from_code("license key k_1 was revoked"), None);
        assert_eq!(Ended::from_code(""), None);
        assert_eq!(
            Ended::Revoked.sentence(SessionKind::Customer),
            "You were signed out: your license key was revoked. Ask your vendor for a new key."
        );
        assert!(Ended::Expired.sentence(SessionKind::Customer).contains("expired"));
        assert!(Ended::Revoked.sentence(SessionKind::Vendor).contains("admin token was revoked"));
        assert!(Ended::Over.sentence(SessionKind::Vendor).contains("8 hours"));
    }
}
