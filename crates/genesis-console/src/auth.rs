//! Who is signed in, and what they may do (decision 0040). A person signs in with a
//! Kubernetes bearer token, which the API server reviews (TokenReview), and gets a session
//! only when that account may use the console at all (`get consoles.console.genesis.dev` in
//! its namespace, a SubjectAccessReview): any other token the cluster accepts signs no one
//! in. Sign-ins ask at most [`SIGN_INS_PER_ADDRESS_PER_SECOND`] TokenReviews a second for one
//! client address (the connection's peer: people come through a port-forward, a Pod from its
//! own address) and [`SIGN_INS_PER_SECOND`] for all together, and are refused (429) beyond, so
//! pasted tokens cannot flood the API server and one client cannot lock the others out. The
//! session that follows lives in this process's memory only, named by the SHA-256 of 32
//! random bytes an `HttpOnly; SameSite=Strict` cookie holds (`__Host-` prefixed and `Secure`
//! when browsers use HTTPS). One replica serves, so memory is enough, and a restart signs
//! everyone out. A session keeps the token, never written anywhere and never printed (its
//! `Debug` redacts it), to review it again, and the account's right to use the console with
//! it, when its last review is older than a minute: a deleted ServiceAccount, a revoked or
//! expired token, or a removed binding signs the session out at its next request, and the
//! sign-in page says why. Sessions last 8 hours at most and end after 30 idle
//! minutes. One account keeps at most [`MAX_SESSIONS_PER_USER`], its own oldest dropped first,
//! so signing in again and again ends no one else's session; at most 10,000 are kept in all,
//! the oldest dropped first.
//!
//! Every action is authorised by a SubjectAccessReview for the signed-in user, never by the
//! console's own rights: the console's actions are virtual resources of the API group
//! `console.genesis.dev` in its namespace, granted with ordinary RBAC, and an action that
//! reads or changes cluster objects also needs the user's own right on them. Every POST
//! carries the session's CSRF token and is refused when its `Origin` is another site; the
//! sign-in form, before any session, uses a double-submit cookie, as the portal's does.

use std::collections::HashMap;
use std::net::{IpAddr, Ipv4Addr, Ipv6Addr, SocketAddr};
use std::sync::{Mutex, PoisonError};
use std::time::{Duration, Instant};

use axum::extract::{ConnectInfo, FromRequestParts, State};
use axum::http::request::Parts;
use axum::http::{HeaderMap, HeaderValue, StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::{get, post};
use axum::{Extension, Form, Router};
use futures_util::StreamExt as _;
use genesis_kube::{Access, UserInfo};
use genesis_web::html::csrf_field;
use genesis_web::{cookie, secret};
use maud::html;

use crate::page::{PageError, SignedSlot, public_page, see_other};
use crate::state::{AppState, Shared};

/// The API group of the console's virtual resources (`consoles`, `preflights`, `bundles`,
/// `installs`, `supportbundles`, `logs`, `advice`), which RBAC grants like any other.
pub const CONSOLE_GROUP: &str = "console.genesis.dev";
/// The console's virtual resource whose `get` lets an account sign in at all.
pub const CONSOLES: &str = "consoles";
/// The session cookie (`__Host-` prefixed when browsers use HTTPS).
const SESSION_COOKIE: &str = "genesis-console";
/// The sign-in form's double-submit cookie.
const SIGN_IN_COOKIE: &str = "genesis-console-signin";
/// The cookie that tells the sign-in page, once, why the last session ended: a fixed code.
const FLASH_COOKIE: &str = "genesis-console-flash";
/// Where people sign in.
const SIGN_IN: &str = "/sign-in";
/// How long a session lasts from sign-in, whatever its use.
const LIFETIME: Duration = Duration::from_secs(8 * 3600);
/// How long a session lasts unused.
const IDLE: Duration = Duration::from_secs(30 * 60);
/// The most sessions kept; past it the oldest is dropped.
const MAX_SESSIONS: usize = 10_000;
/// The most sessions one account keeps; past it that account's oldest is dropped.
const MAX_SESSIONS_PER_USER: usize = 16;
/// The most TokenReviews sign-ins ask for in one second, all clients together.
const SIGN_INS_PER_SECOND: u32 = 50;
/// The most TokenReviews the sign-ins of one client address ([`client_of`]) ask for in one
/// second: a client pasting tokens in a loop takes this much of [`SIGN_INS_PER_SECOND`], and
/// leaves the rest to the others.
const SIGN_INS_PER_ADDRESS_PER_SECOND: u32 = 5;
/// How long the sign-in page may say why the last session ended, in seconds.
const FLASH_SECONDS: i64 = 300;
/// SubjectAccessReviews asked at once for one action.
const REVIEWS_AT_ONCE: usize = 16;

/// A signed-in person at one request: who the API server says they are, and the session's
/// CSRF token for the page's forms.
#[derive(Debug, Clone)]
pub struct Signed {
    /// The user their token authenticates as.
    pub user: UserInfo,
    /// The session's CSRF token.
    pub csrf: String,
}

/// A bearer token held in memory: never printed, whatever prints what holds it.
#[derive(Clone)]
struct Token(String);

impl std::fmt::Debug for Token {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str("Token(<redacted>)")
    }
}

/// One session.
#[derive(Debug)]
struct Session {
    token: Token,
    user: UserInfo,
    csrf: String,
    started: Instant,
    last_seen: Instant,
    reviewed: Instant,
}

/// The sessions of this process, by the SHA-256 of their cookie's value.
pub struct Sessions {
    map: Mutex<HashMap<String, Session>>,
    review_interval: Duration,
    /// [`MAX_SESSIONS`], fewer in tests.
    max: usize,
    /// The TokenReviews sign-ins asked for in the current second.
    sign_ins: Mutex<SignIns>,
}

/// The TokenReviews of sign-ins in the current second: of all clients, and of each client
/// address. Each is counted from the first of its second.
#[derive(Debug, Default)]
struct SignIns {
    /// When the current second of all sign-ins began, and how many TokenReviews they asked for.
    all: Option<(Instant, u32)>,
    /// The same for each client address ([`client_of`]). An address is kept only while its
    /// second lasts, and only a review granted adds one, so there are never more than the
    /// reviews granted within a second: twice [`SIGN_INS_PER_SECOND`] at most.
    by_address: HashMap<IpAddr, (Instant, u32)>,
}

/// Why a sign-in may not ask the API server about its token now.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Busy {
    /// Its client address asked for [`SIGN_INS_PER_ADDRESS_PER_SECOND`] reviews this second.
    Address,
    /// All clients together asked for [`SIGN_INS_PER_SECOND`] reviews this second.
    All,
}

/// The client a connection from `addr` counts as: an IPv4 address (IPv4-mapped IPv6
/// included), or an IPv6 /64, the block one host is usually given, so that a host cannot pass
/// for many by cycling through the addresses of its prefix (as the accept loop counts peers).
fn client_of(addr: IpAddr) -> IpAddr {
    match addr.to_canonical() {
        IpAddr::V6(v6) => IpAddr::V6(Ipv6Addr::from(u128::from(v6) & !(u128::MAX >> 64))),
        v4 => v4,
    }
}

/// What a request's session cookie leads to.
#[derive(Debug)]
enum Lookup {
    /// A session, its token reviewed recently enough.
    Current(Signed),
    /// A session whose token must be reviewed again before it is used.
    Review(Token),
    /// No session, or one that has just ended.
    Ended(Ended),
}

impl Sessions {
    /// No sessions; each reviews its token again once its last review is older than
    /// `review_interval`.
    pub fn new(review_interval: Duration) -> Sessions {
        Sessions { map: Mutex::default(), review_interval, max: MAX_SESSIONS, sign_ins: Mutex::default() }
    }

    /// Whether a sign-in from `client` at `now` may ask the API server about its token: at
    /// most [`SIGN_INS_PER_ADDRESS_PER_SECOND`] in each second of its client address, and
    /// [`SIGN_INS_PER_SECOND`] in each second of all clients together, each second counted
    /// from its first review. A refused sign-in counts for nothing.
    fn may_review(&self, client: IpAddr, now: Instant) -> Result<(), Busy> {
        let current = |start: Instant| now.saturating_duration_since(start) < Duration::from_secs(1);
        let mut sign_ins = self.sign_ins.lock().unwrap_or_else(PoisonError::into_inner);
        let SignIns { all, by_address } = &mut *sign_ins;
        by_address.retain(|_, (start, _)| current(*start));
        let client = client_of(client);
        if by_address.get(&client).is_some_and(|(_, asked)| *asked >= SIGN_INS_PER_ADDRESS_PER_SECOND) {
            return Err(Busy::Address);
        }
        match &mut *all {
            Some((start, asked)) if current(*start) => {
                if *asked >= SIGN_INS_PER_SECOND {
                    return Err(Busy::All);
                }
                *asked += 1;
            }
            _ => *all = Some((now, 1)),
        }
        by_address.entry(client).and_modify(|(_, asked)| *asked += 1).or_insert((now, 1));
        Ok(())
    }

    fn map(&self) -> std::sync::MutexGuard<'_, HashMap<String, Session>> {
        self.map.lock().unwrap_or_else(PoisonError::into_inner)
    }

    /// A new session of `user`, whose token is `token`; the cookie's value and the session's
    /// CSRF token. Ended sessions are dropped; then `user`'s oldest when they have
    /// [`MAX_SESSIONS_PER_USER`], else the oldest of all when the sessions are full.
    fn start(&self, token: String, user: UserInfo, now: Instant) -> (String, Signed) {
        let cookie = secret::random_token();
        let csrf = secret::random_token();
        let session = Session {
            token: Token(token),
            user: user.clone(),
            csrf: csrf.clone(),
            started: now,
            last_seen: now,
            reviewed: now,
        };
        let mut map = self.map();
        map.retain(|_, s| ended(s, now).is_none());
        let oldest = |of_user: bool| {
            let candidates =
                map.iter().filter(|(_, s)| !of_user || (s.user.name == user.name && s.user.uid == user.uid));
            (candidates.clone().count(), candidates.min_by_key(|(_, s)| s.started).map(|(id, _)| id.clone()))
        };
        let dropped = match oldest(true) {
            (theirs, first) if theirs >= MAX_SESSIONS_PER_USER => first,
            _ if map.len() >= self.max => oldest(false).1,
            _ => None,
        };
        if let Some(dropped) = dropped {
            map.remove(&dropped);
        }
        map.insert(secret::hash(&cookie), session);
        (cookie, Signed { user, csrf })
    }

    /// The session named `id` at `now`: current (and now seen), due for a review, or ended
    /// (and dropped).
    fn lookup(&self, id: &str, now: Instant) -> Lookup {
        let mut map = self.map();
        let Some(session) = map.get_mut(id) else {
            return Lookup::Ended(Ended::Unknown);
        };
        if let Some(why) = ended(session, now) {
            map.remove(id);
            return Lookup::Ended(why);
        }
        if now.saturating_duration_since(session.reviewed) >= self.review_interval {
            return Lookup::Review(session.token.clone());
        }
        session.last_seen = now;
        Lookup::Current(Signed { user: session.user.clone(), csrf: session.csrf.clone() })
    }

    /// Notes that session `id`'s token was reviewed at `now` and authenticates `user`; the
    /// session as it now is, or None when it ended meanwhile (signed out).
    fn reviewed(&self, id: &str, user: UserInfo, now: Instant) -> Option<Signed> {
        let mut map = self.map();
        let session = map.get_mut(id)?;
        session.user = user;
        session.reviewed = now;
        session.last_seen = now;
        Some(Signed { user: session.user.clone(), csrf: session.csrf.clone() })
    }

    /// The CSRF token of session `id`, when there is one: for a sign-out, which needs no
    /// review of the token.
    fn csrf_of(&self, id: &str) -> Option<String> {
        self.map().get(id).map(|session| session.csrf.clone())
    }

    /// Ends session `id`; whether it was there.
    fn end(&self, id: &str) -> bool {
        self.map().remove(id).is_some()
    }
}

/// Why `session` has ended at `now`, if it has.
fn ended(session: &Session, now: Instant) -> Option<Ended> {
    if now.saturating_duration_since(session.started) >= LIFETIME {
        Some(Ended::Lifetime)
    } else if now.saturating_duration_since(session.last_seen) >= IDLE {
        Some(Ended::Idle)
    } else {
        None
    }
}

/// Why a session ended before the person signed out, as the sign-in page says it once: a
/// fixed code in the flash cookie, read back as a fixed sentence (never text a cookie could
/// plant).
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
enum Ended {
    /// The console does not know the session: signed out elsewhere, or the console
    /// restarted.
    Unknown,
    /// It lasted its 8 hours.
    Lifetime,
    /// It went unused for 30 minutes.
    Idle,
    /// The API server no longer accepts its token.
    Refused,
    /// The account may no longer use the console (`get consoles`).
    NoRight,
}

impl Ended {
    const ALL: [Ended; 5] = [Ended::Unknown, Ended::Lifetime, Ended::Idle, Ended::Refused, Ended::NoRight];

    fn code(self) -> &'static str {
        match self {
            Ended::Unknown => "unknown",
            Ended::Lifetime => "lifetime",
            Ended::Idle => "idle",
            Ended::Refused => "refused",
            Ended::NoRight => "no-right",
        }
    }

    fn from_code(code: &str) -> Option<Ended> {
        Ended::ALL.into_iter().find(|e| e.code() == code)
    }

    fn sentence(self) -> &'static str {
        match self {
            Ended::Unknown => {
                "You were signed out: the console no longer knows your session (it was signed out, or the console \
                 restarted: sessions live in its memory). Sign in again."
            }
            Ended::Lifetime => "You were signed out: a session lasts 8 hours. Sign in again.",
            Ended::Idle => "You were signed out after 30 minutes without use. Sign in again.",
            Ended::Refused => {
                "You were signed out: the API server no longer accepts your token (it expired or was revoked, or its \
                 ServiceAccount was deleted). Sign in with a new token."
            }
            Ended::NoRight => {
                "You were signed out: your account may no longer use this console (it lost get \
                 consoles.console.genesis.dev in the console's namespace, which the roles genesis-console-viewer and \
                 genesis-console-operator grant). Ask a cluster admin to bind one of them to it, then sign in again."
            }
        }
    }
}

/// The sign-in and sign-out routes: `GET`/`POST /sign-in`, `POST /sign-out`.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route(
            SIGN_IN,
            get(|State(state): State<Shared>, headers: HeaderMap| async move {
                sign_in_page(&state, &headers, StatusCode::OK, None)
            })
            .post(sign_in),
        )
        .route("/sign-out", post(sign_out))
}

/// The sign-in form as posted.
#[derive(serde::Deserialize)]
struct SignInForm {
    /// The bearer token; missing reads as empty.
    #[serde(default)]
    token: String,
    /// The double-submit token; missing reads as empty, which never matches.
    #[serde(default)]
    csrf: String,
}

/// The form of a POST that carries only its CSRF token.
#[derive(Debug, serde::Deserialize)]
pub struct CsrfForm {
    /// The token the page put in the form; missing reads as empty, which never matches.
    #[serde(default)]
    pub csrf: String,
}

/// The sign-in page, answered with `status`: the form with a fresh double-submit token,
/// `error` (why the last attempt was refused) in `#sign-in-error`, and, once, why the last
/// session ended in `#session-ended`.
fn sign_in_page(state: &AppState, headers: &HeaderMap, status: StatusCode, error: Option<&str>) -> Response {
    let secure = state.config.browsers_use_https();
    let (token, set_token) = genesis_web::sign_in_token(SIGN_IN_COOKIE, secure, headers);
    let ended = cookie::get(headers, &cookie::name(FLASH_COOKIE, secure)).and_then(Ended::from_code);
    let body = html! {
        h1 { "Sign in" }
        @if let Some(ended) = ended {
            p #session-ended .notice role="status" { (ended.sentence()) }
        }
        @if let Some(error) = error {
            p #sign-in-error .error role="alert" { (error) }
        }
        form #sign-in-form method="post" action=(SIGN_IN) {
            (csrf_field(&token))
            label for="token" { "Kubernetes bearer token" }
            input type="password" name="token" id="token" autocomplete="off" spellcheck="false" required
                aria-describedby="token-hint";
            p.hint #token-hint {
                "A token the cluster's API server accepts for your account, for example from "
                code { "kubectl create token NAME -n NAMESPACE" } ". The API server reviews it; the console keeps \
                it in memory for your session only and writes it nowhere."
            }
            div.actions { button #sign-in .primary type="submit" { "Sign in" } }
        }
    };
    let mut response = public_page("Sign in", status, body);
    let headers = response.headers_mut();
    if let Some(set_token) = set_token {
        headers.append(header::SET_COOKIE, set_token);
    }
    if ended.is_some() {
        headers.append(header::SET_COOKIE, cookie::set(FLASH_COOKIE, "", secure, Some(0)));
    }
    response
}

/// `POST /sign-in`: the form's token reviewed by the API server; refused, the form again
/// with the API server's reason (401; 403 for a form that is not this console's, or for an
/// account without `get consoles`; 429 past [`SIGN_INS_PER_ADDRESS_PER_SECOND`] for the
/// client's address or [`SIGN_INS_PER_SECOND`] in all); else a session and the first tab. The
/// token is never logged. The client's address is the connection's peer, which the accept
/// loop hands every request ([`crate::serve`]); a request without one (the router called in
/// process, as unit tests do) counts as from `0.0.0.0`.
async fn sign_in(
    State(state): State<Shared>,
    peer: Option<Extension<ConnectInfo<SocketAddr>>>,
    headers: HeaderMap,
    Form(form): Form<SignInForm>,
) -> Response {
    let refused = |status, reason: &str| sign_in_page(&state, &headers, status, Some(reason));
    let secure = state.config.browsers_use_https();
    if !same_site(&state, &headers) || !genesis_web::check_sign_in_token(SIGN_IN_COOKIE, secure, &headers, &form.csrf) {
        return refused(
            StatusCode::FORBIDDEN,
            "The sign-in form is out of date, came from another site, or this browser does not keep the console's \
             cookies: allow cookies for this console and sign in again.",
        );
    }
    let token = form.token.trim();
    if token.is_empty() {
        return refused(StatusCode::UNAUTHORIZED, "No token was given: paste your bearer token and sign in.");
    }
    let client = peer.map_or(IpAddr::V4(Ipv4Addr::UNSPECIFIED), |Extension(ConnectInfo(peer))| peer.ip());
    if let Err(busy) = state.sessions.may_review(client, Instant::now()) {
        match busy {
            Busy::Address => tracing::warn!(
                client = %client,
                "sign-in refused: more than {SIGN_INS_PER_ADDRESS_PER_SECOND} sign-ins in one second from this address"
            ),
            Busy::All => tracing::warn!("sign-in refused: more than {SIGN_INS_PER_SECOND} sign-ins in one second"),
        }
        let mut response = refused(
            StatusCode::TOO_MANY_REQUESTS,
            "Too many sign-ins at once: the console asks the API server about a few tokens a second at most. Wait a \
             moment and sign in again.",
        );
        response.headers_mut().insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
        return response;
    }
    let user = match genesis_kube::review_token(&state.cluster, token).await {
        Ok(Ok(user)) => user,
        Ok(Err(reason)) => {
            tracing::info!(reason = %reason, "sign-in refused: the API server did not accept the token");
            return refused(StatusCode::UNAUTHORIZED, &format!("The API server did not accept this token: {reason}"));
        }
        Err(e) => {
            let said = genesis_types::error_chain(&e);
            tracing::warn!(error = %said, "sign-in failed: the token could not be reviewed");
            return refused(
                StatusCode::BAD_GATEWAY,
                &format!(
                    "The console could not ask the API server about this token: {said}. Check that the API server \
                     is reachable and that the console's ServiceAccount may create TokenReviews \
                     (deploy/console/rbac.yaml), then sign in again."
                ),
            );
        }
    };
    // Only an account that may use the console gets a session: any other the cluster knows
    // would otherwise take a share of the sessions.
    let may_use = console_access(&state, "get", CONSOLES);
    match genesis_kube::may(&state.cluster, &user, &may_use).await {
        Ok(true) => {}
        Ok(false) => {
            tracing::info!(user = %user.name, access = %may_use.describe(), "sign-in refused: no right to use the console");
            return refused(
                StatusCode::FORBIDDEN,
                &format!(
                    "The API server knows this token as {}, but that account may not use this console: it needs {}, \
                     which the roles genesis-console-operator and genesis-console-viewer grant \
                     (their Roles in the console's namespace, deploy/console/rbac.yaml). Ask a cluster admin to bind one of them to it, then sign in again.",
                    user.name,
                    may_use.describe()
                ),
            );
        }
        Err(e) => {
            let said = genesis_types::error_chain(&e);
            tracing::warn!(error = %said, "sign-in failed: the account's right to use the console could not be checked");
            return refused(
                StatusCode::BAD_GATEWAY,
                &format!(
                    "The console could not ask the API server whether this account may use it: {said}. Check that the \
                     API server is reachable and that the console's ServiceAccount may create SubjectAccessReviews \
                     (deploy/console/rbac.yaml), then sign in again."
                ),
            );
        }
    }
    tracing::info!(user = %user.name, "signed in");
    let (cookie_value, _) = state.sessions.start(token.to_owned(), user, Instant::now());
    let mut response = see_other("/");
    let headers = response.headers_mut();
    let lifetime = i64::try_from(LIFETIME.as_secs()).unwrap_or(i64::MAX);
    headers.append(header::SET_COOKIE, cookie::set(SESSION_COOKIE, &cookie_value, secure, Some(lifetime)));
    headers.append(header::SET_COOKIE, cookie::set(SIGN_IN_COOKIE, "", secure, Some(0)));
    response
}

/// `POST /sign-out`: the session ended (its token need not hold any more), its cookie
/// removed, and the sign-in page. A form that is not this session's ends nothing.
async fn sign_out(
    State(state): State<Shared>,
    headers: HeaderMap,
    Form(form): Form<CsrfForm>,
) -> Result<Response, PageError> {
    if let Some(id) = session_id(&state, &headers)
        && let Some(csrf) = state.sessions.csrf_of(&id)
    {
        check_form(&csrf, &form.csrf, &headers, &state)?;
        if state.sessions.end(&id) {
            tracing::info!("signed out");
        }
    }
    Ok(signed_out(&state, None))
}

/// To the sign-in page, the session cookie removed and, when the session ended on its own,
/// why, kept for that page.
fn signed_out(state: &AppState, ended: Option<Ended>) -> Response {
    let secure = state.config.browsers_use_https();
    let mut response = see_other(SIGN_IN);
    let headers = response.headers_mut();
    headers.append(header::SET_COOKIE, cookie::set(SESSION_COOKIE, "", secure, Some(0)));
    if let Some(ended) = ended {
        headers.append(header::SET_COOKIE, cookie::set(FLASH_COOKIE, ended.code(), secure, Some(FLASH_SECONDS)));
    }
    response
}

/// The session name (SHA-256) of the request's session cookie, when it sends one of ours.
fn session_id(state: &AppState, headers: &HeaderMap) -> Option<String> {
    let name = cookie::name(SESSION_COOKIE, state.config.browsers_use_https());
    cookie::get(headers, &name).filter(|value| secret::is_token(value)).map(secret::hash)
}

/// Whether a POST came from this console's own pages: its `Origin`, when sent, is this
/// console's, by the `Host` the browser used and the scheme it speaks. Behind a
/// TLS-terminating proxy the console cannot know which scheme the browser used (https
/// through the proxy, http through a port-forward around it), and either is taken:
/// `SameSite=Strict` cookies already tie the session to the site, as on the portal's pages.
fn same_site(state: &AppState, headers: &HeaderMap) -> bool {
    let host = headers.get(header::HOST).and_then(|h| h.to_str().ok()).unwrap_or_default();
    if host.is_empty() {
        // No origin of ours to compare with: only a request that sends none passes.
        return genesis_web::origin_allowed(headers, "");
    }
    match (state.tls, state.config.insecure_plain_http) {
        (true, _) => genesis_web::origin_allowed(headers, &format!("https://{host}")),
        (false, false) => genesis_web::origin_allowed(headers, &format!("http://{host}")),
        (false, true) => headers
            .get(header::ORIGIN)
            .is_none_or(|origin| origin.to_str().is_ok_and(|origin| genesis_web::origin_names_host(origin, host))),
    }
}

/// Checks a signed-in POST: from this console's pages, carrying the session's CSRF token.
fn check_form(session_csrf: &str, given: &str, headers: &HeaderMap, state: &AppState) -> Result<(), PageError> {
    if !same_site(state, headers) {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Refused: this form was sent from another site than this console.",
            "open the console's own page and submit the form again",
        ));
    }
    if session_csrf.is_empty() || !secret::same(session_csrf, given) {
        return Err(PageError::new(
            StatusCode::FORBIDDEN,
            "Refused: this form is out of date or did not come from this console's page.",
            "reload the page and submit the form again",
        ));
    }
    Ok(())
}

impl Signed {
    /// Whether this user may do `access` (a SubjectAccessReview): refused, the 403 page
    /// naming it; the API server unable to answer, a 502 page.
    pub async fn authorize(&self, state: &AppState, access: &Access) -> Result<(), PageError> {
        self.authorize_all(state, std::slice::from_ref(access)).await
    }

    /// Whether this user may do every one of `accesses` (one SubjectAccessReview each, some
    /// at once): the first refused, in the order given, is the 403 page.
    pub async fn authorize_all(&self, state: &AppState, accesses: &[Access]) -> Result<(), PageError> {
        // Owned accesses: a closure over borrowed ones is taken as higher-ranked, and the
        // handlers' futures then fail to be `Send`.
        let reviews = accesses.iter().cloned().map(|access| async move {
            let answer = genesis_kube::may(&state.cluster, &self.user, &access).await;
            (access, answer)
        });
        let mut answers = futures_util::stream::iter(reviews).buffered(REVIEWS_AT_ONCE);
        while let Some((access, answer)) = answers.next().await {
            if !answer? {
                tracing::info!(user = %self.user.name, access = %access.describe(), "refused");
                return Err(PageError::forbidden(&access));
            }
        }
        Ok(())
    }

    /// Checks a POST of this session: its `csrf` field is the session's token (compared in
    /// constant time) and its `Origin`, when sent, this console.
    pub fn check_csrf(&self, given: &str, headers: &HeaderMap, state: &AppState) -> Result<(), PageError> {
        check_form(&self.csrf, given, headers, state)
    }

    /// What every form's POST checks before it acts: [`Signed::check_csrf`], then whether
    /// this user may do `access` ([`Signed::authorize`]), so a forged POST is refused before
    /// any review is asked for.
    pub async fn check_post(
        &self,
        given: &str,
        headers: &HeaderMap,
        state: &AppState,
        access: &Access,
    ) -> Result<(), PageError> {
        self.check_csrf(given, headers, state)?;
        self.authorize(state, access).await
    }
}

/// `verb` on the console's virtual resource `resource` (`preflights`, `installs`, …) in its
/// namespace: what RBAC grants for a console action.
pub fn console_access(state: &AppState, verb: &str, resource: &str) -> Access {
    Access {
        verb: verb.to_owned(),
        group: CONSOLE_GROUP.to_owned(),
        resource: resource.to_owned(),
        namespace: Some(state.config.namespace.clone()),
        name: None,
    }
}

/// The request's session, its token reviewed again when due; else the response that sends
/// the browser to sign in (saying why when it held a session that ended). Error pages of the
/// request then show who is signed in.
impl FromRequestParts<Shared> for Signed {
    type Rejection = Response;

    async fn from_request_parts(parts: &mut Parts, state: &Shared) -> Result<Signed, Response> {
        let Some(id) = session_id(state, &parts.headers) else {
            return Err(see_other(SIGN_IN));
        };
        let signed = match state.sessions.lookup(&id, Instant::now()) {
            Lookup::Current(signed) => signed,
            Lookup::Ended(why) => return Err(signed_out(state, Some(why))),
            Lookup::Review(token) => {
                let user = match genesis_kube::review_token(&state.cluster, &token.0).await {
                    Ok(Ok(user)) => user,
                    Ok(Err(reason)) => {
                        tracing::info!(reason = %reason, "session ended: the API server no longer accepts its token");
                        let _ = state.sessions.end(&id);
                        return Err(signed_out(state, Some(Ended::Refused)));
                    }
                    Err(e) => return Err(PageError::from(e).into_response()),
                };
                // The right to sign in is asked again as well: a binding removed ends the
                // session as a revoked token does, not only the next sign-in.
                let may_use = console_access(state, "get", CONSOLES);
                match genesis_kube::may(&state.cluster, &user, &may_use).await {
                    Ok(true) => {}
                    Ok(false) => {
                        tracing::info!(
                            user = %user.name, access = %may_use.describe(),
                            "session ended: the account may no longer use the console"
                        );
                        let _ = state.sessions.end(&id);
                        return Err(signed_out(state, Some(Ended::NoRight)));
                    }
                    Err(e) => return Err(PageError::from(e).into_response()),
                }
                match state.sessions.reviewed(&id, user, Instant::now()) {
                    Some(signed) => signed,
                    None => return Err(signed_out(state, Some(Ended::Unknown))),
                }
            }
        };
        SignedSlot::fill(&parts.extensions, &signed);
        Ok(signed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn user(name: &str) -> UserInfo {
        UserInfo { name: name.to_owned(), uid: String::new(), groups: Vec::new(), extra: Default::default() }
    }

    fn minutes(n: u64) -> Duration {
        Duration::from_secs(n * 60)
    }

    #[test]
    fn a_session_is_found_by_the_hash_of_its_cookie_only() {
        let sessions = Sessions::new(minutes(1));
        let now = Instant::now();
        let (cookie, signed) = sessions.start("the-token".to_owned(), user("alice"), now);
        assert!(secret::is_token(&cookie) && secret::is_token(&signed.csrf));
        assert_ne!(cookie, signed.csrf);
        assert!(matches!(sessions.lookup(&cookie, now), Lookup::Ended(Ended::Unknown)), "the cookie is no name");
        match sessions.lookup(&secret::hash(&cookie), now) {
            Lookup::Current(found) => assert_eq!((found.user.name.as_str(), found.csrf), ("alice", signed.csrf)),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn a_token_is_reviewed_again_once_its_review_is_a_minute_old() {
        let sessions = Sessions::new(minutes(1));
        let start = Instant::now();
        let (cookie, _) = sessions.start("the-token".to_owned(), user("alice"), start);
        let id = secret::hash(&cookie);
        assert!(matches!(sessions.lookup(&id, start + Duration::from_secs(59)), Lookup::Current(_)));
        match sessions.lookup(&id, start + minutes(1)) {
            Lookup::Review(token) => assert_eq!(token.0, "the-token"),
            other => panic!("{other:?}"),
        }
        let reviewed = sessions.reviewed(&id, user("alice"), start + minutes(1)).unwrap();
        assert_eq!(reviewed.user.name, "alice");
        assert!(matches!(sessions.lookup(&id, start + minutes(1) + Duration::from_secs(30)), Lookup::Current(_)));
        assert!(sessions.end(&id));
        assert!(!sessions.end(&id));
        assert!(sessions.reviewed(&id, user("alice"), start + minutes(2)).is_none(), "signed out meanwhile");
    }

    #[test]
    fn a_session_ends_after_8_hours_or_30_idle_minutes() {
        let sessions = Sessions::new(Duration::MAX);
        let start = Instant::now();
        let (cookie, _) = sessions.start("t".to_owned(), user("alice"), start);
        let id = secret::hash(&cookie);
        let mut now = start;
        // In use every 29 minutes, it lasts until its 8 hours are over.
        while now + minutes(29) < start + LIFETIME {
            now += minutes(29);
            assert!(matches!(sessions.lookup(&id, now), Lookup::Current(_)), "{:?}", now - start);
        }
        assert!(matches!(sessions.lookup(&id, start + LIFETIME), Lookup::Ended(Ended::Lifetime)));
        assert!(matches!(sessions.lookup(&id, start + LIFETIME), Lookup::Ended(Ended::Unknown)), "dropped");
        let (idle, _) = sessions.start("t".to_owned(), user("bob"), start);
        let idle = secret::hash(&idle);
        assert!(matches!(sessions.lookup(&idle, start + minutes(30)), Lookup::Ended(Ended::Idle)));
    }

    #[test]
    fn the_oldest_session_makes_room_when_they_are_full() {
        let sessions = Sessions { max: 3, ..Sessions::new(minutes(1)) };
        let start = Instant::now();
        let (first, _) = sessions.start("t".to_owned(), user("first"), start);
        for n in 1..3 {
            sessions.start("t".to_owned(), user("other"), start + Duration::from_secs(n));
        }
        let now = start + Duration::from_secs(20);
        assert!(matches!(sessions.lookup(&secret::hash(&first), now), Lookup::Current(_)), "used last, started first");
        let (newest, _) = sessions.start("t".to_owned(), user("newest"), now);
        assert_eq!(sessions.map().len(), 3);
        assert!(matches!(sessions.lookup(&secret::hash(&first), now), Lookup::Ended(Ended::Unknown)));
        assert!(matches!(sessions.lookup(&secret::hash(&newest), now), Lookup::Current(_)));
    }

    #[test]
    fn an_account_signing_in_again_and_again_drops_only_its_own_oldest_session() {
        let sessions = Sessions::new(minutes(1));
        let start = Instant::now();
        let (bob, _) = sessions.start("t".to_owned(), user("bob"), start);
        let alice: Vec<String> = (0..MAX_SESSIONS_PER_USER as u64)
            .map(|n| sessions.start("t".to_owned(), user("alice"), start + Duration::from_secs(n + 1)).0)
            .collect();
        let now = start + Duration::from_secs(30);
        let (newest, _) = sessions.start("t".to_owned(), user("alice"), now);
        assert_eq!(sessions.map().len(), MAX_SESSIONS_PER_USER + 1, "alice's 16 and bob's");
        assert!(matches!(sessions.lookup(&secret::hash(&alice[0]), now), Lookup::Ended(Ended::Unknown)), "her oldest");
        for kept in [&alice[1], &newest, &bob] {
            assert!(matches!(sessions.lookup(&secret::hash(kept), now), Lookup::Current(_)));
        }
        // The same name with another uid (a ServiceAccount made again) is another account.
        let again = UserInfo { uid: "other".into(), ..user("alice") };
        sessions.start("t".to_owned(), again, now);
        assert_eq!(sessions.map().len(), MAX_SESSIONS_PER_USER + 2);
    }

    fn address(text: &str) -> IpAddr {
        text.parse().unwrap()
    }

    #[test]
    fn one_address_asks_at_most_five_token_reviews_a_second_and_leaves_the_rest_to_others() {
        let sessions = Sessions::new(minutes(1));
        let start = Instant::now();
        let (attacker, person) = (address("10.244.1.7"), address("127.0.0.1"));
        for n in 0..SIGN_INS_PER_ADDRESS_PER_SECOND {
            assert_eq!(sessions.may_review(attacker, start + Duration::from_millis(u64::from(n))), Ok(()), "{n}");
        }
        let later = start + Duration::from_millis(500);
        // Refused sign-ins of the attacker count for nothing, however many.
        for _ in 0..1_000 {
            assert_eq!(sessions.may_review(attacker, later), Err(Busy::Address));
        }
        assert_eq!(sessions.may_review(person, later), Ok(()), "another address still signs in");
        // An IPv4-mapped IPv6 address is the IPv4 one; the addresses of one /64 are one client.
        assert_eq!(sessions.may_review(address("::ffff:10.244.1.7"), later), Err(Busy::Address));
        for n in 0..SIGN_INS_PER_ADDRESS_PER_SECOND {
            let one = address(&format!("fd00:1:2:3::{n:x}"));
            assert_eq!(sessions.may_review(one, later), Ok(()), "{one}");
        }
        assert_eq!(sessions.may_review(address("fd00:1:2:3:ffff::1"), later), Err(Busy::Address));
        assert_eq!(sessions.may_review(address("fd00:1:2:4::1"), later), Ok(()), "another /64");
        // Its next second, the attacker may ask again.
        assert_eq!(sessions.may_review(attacker, start + Duration::from_secs(1)), Ok(()));
    }

    #[test]
    fn all_addresses_together_ask_at_most_fifty_token_reviews_a_second() {
        let sessions = Sessions::new(minutes(1));
        let start = Instant::now();
        let many = |n: u32| IpAddr::V4(Ipv4Addr::from(0x0af4_0000 + n));
        for n in 0..SIGN_INS_PER_SECOND {
            assert_eq!(sessions.may_review(many(n), start + Duration::from_millis(u64::from(n) * 10)), Ok(()), "{n}");
        }
        let last = start + Duration::from_millis(999);
        assert_eq!(sessions.may_review(many(SIGN_INS_PER_SECOND), last), Err(Busy::All), "the 51st in the second");
        assert_eq!(sessions.may_review(many(SIGN_INS_PER_SECOND), start + Duration::from_secs(1)), Ok(()));
        // Addresses whose second is over are forgotten: only the last second's are kept.
        let kept = sessions.sign_ins.lock().unwrap().by_address.len();
        assert!(kept <= 2 * SIGN_INS_PER_SECOND as usize, "{kept}");
    }

    #[test]
    fn a_session_never_prints_its_token() {
        let sessions = Sessions::new(minutes(1));
        let now = Instant::now();
        let (cookie, _) = sessions.start("eyJhbGciOi.secret".to_owned(), user("alice"), now);
        let printed = format!("{:?}", sessions.map().get(&secret::hash(&cookie)).unwrap());
        assert!(!printed.contains("secret") && printed.contains("<redacted>"), "{printed}");
        let due = Sessions::new(Duration::ZERO);
        let (cookie, _) = due.start("eyJhbGciOi.secret".to_owned(), user("alice"), now);
        let lookup = format!("{:?}", due.lookup(&secret::hash(&cookie), now));
        assert!(!lookup.contains("secret"), "{lookup}");
    }

    #[test]
    fn why_a_session_ended_travels_as_a_fixed_code() {
        for ended in Ended::ALL {
            assert_eq!(Ended::from_code(ended.code()), Some(ended));
            assert!(ended.sentence().starts_with("You were signed out"), "{ended:?}");
        }
        assert_eq!(Ended::from_code("<script>"), None);
        assert!(Ended::Refused.sentence().contains("ServiceAccount was deleted"));
        assert!(Ended::NoRight.sentence().contains("may no longer use this console"));
    }

    /// The `Set-Cookie` values of a response.
    fn set_cookies(response: &Response) -> Vec<&str> {
        response.headers().get_all(header::SET_COOKIE).iter().filter_map(|v| v.to_str().ok()).collect()
    }

    fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(name.parse::<header::HeaderName>().unwrap(), value.parse().unwrap());
        }
        headers
    }

    #[tokio::test]
    async fn the_signed_out_response_removes_the_cookie_and_says_why() {
        let state = crate::state::tests::state().await;
        let response = signed_out(&state, Some(Ended::Refused));
        assert_eq!(response.status(), StatusCode::SEE_OTHER);
        assert_eq!(response.headers()[header::LOCATION], "/sign-in");
        let set = set_cookies(&response);
        assert!(set.iter().any(|c| c.starts_with("genesis-console=;") && c.contains("Max-Age=0")), "{set:?}");
        assert!(set.iter().any(|c| c.starts_with("genesis-console-flash=refused;")), "{set:?}");
    }

    #[tokio::test]
    async fn past_the_sign_ins_of_one_second_the_next_is_refused_before_the_api_server_is_asked() {
        let state = std::sync::Arc::new(crate::state::tests::state().await);
        let peer: SocketAddr = "10.244.1.7:40000".parse().unwrap();
        for _ in 0..SIGN_INS_PER_ADDRESS_PER_SECOND {
            assert_eq!(state.sessions.may_review(peer.ip(), Instant::now()), Ok(()));
        }
        let form_token = secret::random_token();
        let cookie = format!("{SIGN_IN_COOKIE}={form_token}");
        let sent = headers(&[("host", "127.0.0.1:8443"), ("cookie", cookie.as_str())]);
        let form = SignInForm { token: "eyJhbGciOi.secret".to_owned(), csrf: form_token };
        let response = sign_in(State(state), Some(Extension(ConnectInfo(peer))), sent, Form(form)).await;
        assert_eq!(response.status(), StatusCode::TOO_MANY_REQUESTS);
        assert_eq!(response.headers()[header::RETRY_AFTER], "1");
    }

    #[tokio::test]
    async fn a_form_must_come_from_this_console_with_the_session_token() {
        let state = crate::state::tests::state().await;
        let token = secret::random_token();
        let host = ("host", "127.0.0.1:8443");
        assert!(check_form(&token, &token, &headers(&[host]), &state).is_ok(), "no Origin");
        assert!(check_form(&token, &token, &headers(&[host, ("origin", "http://127.0.0.1:8443")]), &state).is_ok());
        for origin in ["https://evil.example", "http://127.0.0.1:8444", "null", "https://127.0.0.1:8443"] {
            let refused = check_form(&token, &token, &headers(&[host, ("origin", origin)]), &state).unwrap_err();
            assert_eq!(refused.status, StatusCode::FORBIDDEN, "{origin}");
        }
        assert!(check_form(&token, &token, &headers(&[("origin", "http://127.0.0.1:8443")]), &state).is_err());
        assert!(check_form(&token, "", &headers(&[host]), &state).is_err());
        assert!(check_form(&token, &secret::random_token(), &headers(&[host]), &state).is_err());
        assert!(check_form("", "", &headers(&[host]), &state).is_err(), "a session without a token accepts nothing");
    }

    #[tokio::test]
    async fn behind_tls_a_form_comes_from_https_and_behind_a_proxy_from_either() {
        let mut state = crate::state::tests::state().await;
        let token = secret::random_token();
        let from = |origin, state: &AppState| {
            check_form(&token, &token, &headers(&[("host", "console.example"), ("origin", origin)]), state).is_ok()
        };
        state.tls = true;
        assert!(from("https://console.example", &state) && !from("http://console.example", &state));
        state.tls = false;
        state.config.insecure_plain_http = true;
        assert!(from("https://console.example", &state) && from("http://console.example", &state));
        assert!(!from("https://evil.example", &state));
    }

    #[tokio::test]
    async fn a_console_action_is_a_virtual_resource_in_the_console_namespace() {
        let state = crate::state::tests::state().await;
        let access = console_access(&state, "create", "installs");
        assert_eq!(access.describe(), "create installs.console.genesis.dev in genesis");
        let may_sign_in = console_access(&state, "get", CONSOLES);
        assert_eq!(may_sign_in.describe(), "get consoles.console.genesis.dev in genesis");
    }
}
