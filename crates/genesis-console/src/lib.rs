//! The in-cluster Control Plane console (issue 18, decision 0040), as a library: the web
//! pages an operator opens in the air-gapped cluster (`kubectl port-forward -n genesis
//! svc/genesis-control-plane 8443:443`, then https://localhost:8443) to check the
//! customer's infrastructure before anything installs (Pre-flight), verify and install
//! bundles (Bundles), see what is installed (Status) and take a redacted support bundle
//! (Support bundle); opt-in advice explains a check that did not pass (Advice, only when a
//! Secret configures an endpoint). The `genesis-console` binary parses its flags into a
//! [`ConsoleConfig`] and serves the pages through [`Console`].
//!
//! ```no_run
//! # async fn run() -> genesis_console_server::Result<()> {
//! use genesis_console_server::{Console, ConsoleConfig, ConsoleLog};
//!
//! let console = Console::bind(ConsoleConfig::default(), ConsoleLog::default()).await?;
//! eprintln!("contacts {}", console.endpoints().join(", "));
//! // Reading the advice Secret asks the API server, named above.
//! if let Some(advice) = console.read_advice().await {
//!     eprintln!("{advice}");
//! }
//! console.serve(std::future::pending()).await;
//! # Ok(()) }
//! ```
//!
//! People sign in with a Kubernetes bearer token, which the API server reviews, and every
//! action is authorised by a SubjectAccessReview for them: the console's own
//! rights are never lent to anyone. Pages are rendered on the server with maud and work
//! without JavaScript; the stylesheet and script are compiled in, so nothing comes from
//! outside. What the console contacts is the API server, the cluster-local registry installs
//! push to, the landing bucket's S3 endpoint when one is given, what the pre-flight
//! configuration names ([`Console::endpoints`]), and the advice endpoint when its Secret
//! configures one ([`Console::read_advice`]).

mod advice;
mod auth;
mod bundles;
mod config;
mod discovery;
mod error;
mod install;
mod log;
mod page;
mod preflight;
mod serve;
mod state;
mod status;
mod support;
mod upload;

use axum::Router;
use axum::routing::get;

pub use config::{
    ConsoleConfig, DEFAULT_ADVICE_SECRET, DEFAULT_BUNDLES_DIR, DEFAULT_LISTEN, DEFAULT_NAMESPACE, PREFLIGHT_CONFIG,
    REVIEW_INTERVAL, TRUST_CONFIG, TlsFiles,
};
pub use error::{ConsoleError, Result};
pub use log::{ConsoleLog, LOG_BYTES, LogWriter};
pub use serve::Console;

/// Every page, form and asset of the console: `/` (to the first tab), `/healthz`, the
/// assets, sign-in and sign-out, and each tab's routes; error pages carry the signed-in
/// header, and an unknown path is a 404 page.
fn router(state: state::Shared) -> Router {
    Router::new()
        .route("/", get(|| async { page::see_other("/preflight") }))
        .route("/healthz", get(serve::healthz))
        .route("/assets/{file}", get(page::asset))
        .merge(auth::routes())
        .merge(preflight::routes())
        .merge(bundles::routes())
        .merge(install::routes())
        .merge(status::routes())
        .merge(support::routes())
        .merge(advice::routes())
        .fallback(|| async { page::PageError::not_found("There is no such page in the console.") })
        .layer(axum::middleware::from_fn(page::error_pages))
        .with_state(state)
}

#[cfg(test)]
mod tests {
    use axum::body::Body;
    use axum::http::{Request, StatusCode, header};
    use tower::ServiceExt as _;

    async fn call(request: Request<Body>) -> (StatusCode, axum::http::HeaderMap, String) {
        let state = std::sync::Arc::new(crate::state::tests::state().await);
        let response = super::router(state).oneshot(request).await.unwrap();
        let (parts, body) = response.into_parts();
        let bytes = axum::body::to_bytes(body, usize::MAX).await.unwrap();
        (parts.status, parts.headers, String::from_utf8_lossy(&bytes).into_owned())
    }

    fn get(path: &str) -> Request<Body> {
        Request::get(path).header(header::HOST, "127.0.0.1:8443").body(Body::empty()).unwrap()
    }

    #[tokio::test]
    async fn the_console_opens_on_the_first_tab_and_answers_its_probe() {
        let (status, headers, _) = call(get("/")).await;
        assert_eq!(status, StatusCode::SEE_OTHER);
        assert_eq!(headers[header::LOCATION], "/preflight");
        let (status, _, text) = call(get("/healthz")).await;
        assert_eq!((status, text.as_str()), (StatusCode::OK, "ok\n"));
    }

    #[tokio::test]
    async fn every_tab_wants_a_session_first() {
        for tab in ["/preflight", "/bundles", "/status", "/support"] {
            let (status, headers, _) = call(get(tab)).await;
            assert_eq!(status, StatusCode::SEE_OTHER, "{tab}");
            assert_eq!(headers[header::LOCATION], "/sign-in", "{tab}");
        }
    }

    #[tokio::test]
    async fn the_sign_in_page_posts_a_password_field_with_a_double_submit_token() {
        let (status, headers, text) = call(get("/sign-in")).await;
        assert_eq!(status, StatusCode::OK);
        assert!(text.contains(r#"<form id="sign-in-form" method="post" action="/sign-in">"#), "{text}");
        assert!(text.contains(r#"<input type="password" name="token" id="token" autocomplete="off""#), "{text}");
        assert!(text.contains(r#"name="csrf""#), "{text}");
        let set: Vec<_> = headers.get_all(header::SET_COOKIE).iter().map(|v| v.to_str().unwrap()).collect();
        assert!(set.iter().any(|c| c.starts_with("genesis-console-signin=")), "{set:?}");
        assert!(headers.contains_key(header::CONTENT_SECURITY_POLICY));
    }

    #[tokio::test]
    async fn a_sign_in_without_its_cookie_is_refused_before_the_api_server_is_asked() {
        let request = Request::post("/sign-in")
            .header(header::HOST, "127.0.0.1:8443")
            .header(header::CONTENT_TYPE, "application/x-www-form-urlencoded")
            .body(Body::from("token=tok-SECRET-xyz&csrf=0123"))
            .unwrap();
        let (status, _, text) = call(request).await;
        assert_eq!(status, StatusCode::FORBIDDEN, "{text}");
        assert!(text.contains(r#"id="sign-in-error""#), "{text}");
        assert!(!text.contains("tok-SECRET-xyz"), "the token is not shown back: {text}");
    }

    #[tokio::test]
    async fn an_unknown_page_is_a_404_page() {
        let (status, _, text) = call(get("/nope")).await;
        assert_eq!(status, StatusCode::NOT_FOUND);
        assert!(text.contains(r#"id="error""#), "{text}");
    }
}
