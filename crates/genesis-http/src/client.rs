//! The HTTP half: how a reqwest client of Genesis is built, and where its redirects go.

use std::time::Duration;

use reqwest::Url;
use reqwest::redirect::{Action, Attempt, Policy};

use crate::tls::install_provider;

/// The `User-Agent` of Genesis's requests.
pub const USER_AGENT: &str = concat!("genesis/", env!("CARGO_PKG_VERSION"));
/// Longest wait for a connection.
const CONNECT_TIMEOUT: Duration = Duration::from_secs(15);

/// The start of every HTTP client of Genesis: the provider installed (reqwest has none of its
/// own), a connect timeout, `read_timeout` as the longest silence while a response or its next
/// bytes are awaited (a server that stops sending fails the request instead of hanging the
/// run), `redirect`, no proxy from the environment (a run contacts the endpoints it announced
/// and nothing in between), and `tls` when given. The caller adds the rest ([`USER_AGENT`],
/// where it sends one) and builds it.
pub fn client_builder(
    read_timeout: Duration,
    redirect: Policy,
    tls: Option<rustls::ClientConfig>,
) -> reqwest::ClientBuilder {
    install_provider();
    let builder = reqwest::Client::builder()
        .connect_timeout(CONNECT_TIMEOUT)
        .read_timeout(read_timeout)
        .redirect(redirect)
        .no_proxy();
    match tls {
        Some(tls) => builder.use_preconfigured_tls(tls),
        None => builder,
    }
}

/// A redirect policy: at most `max` redirects, those within `home`'s origin (scheme, host and
/// port) followed, and each one elsewhere decided by `off_origin` (stop, follow, refuse).
pub fn redirects<F>(home: Url, max: usize, off_origin: F) -> Policy
where
    F: Fn(Attempt<'_>) -> Action + Send + Sync + 'static,
{
    Policy::custom(move |attempt| {
        if attempt.previous().len() > max {
            attempt.error("too many redirects")
        } else if attempt.url().origin() == home.origin() {
            attempt.follow()
        } else {
            off_origin(attempt)
        }
    })
}
