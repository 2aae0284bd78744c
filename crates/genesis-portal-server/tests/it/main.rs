//! The portal's router called directly, without a socket: what an embedder gets from the
//! library. The `genesis-portal` binary's tests cover the same API end to end.

// Test helpers are not a public API, and a panic is how a test reports failure.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

use std::path::Path;

use axum::body::Body;
use axum::http::{Request, StatusCode, header};
use axum::response::Response;
use genesis_portal_server::{ApiConfig, AppState, PortalConfig, router};
use tower::ServiceExt as _;

/// The router of a portal on its embedded defaults in `dir`.
async fn portal(dir: &Path) -> axum::Router {
    let portal = PortalConfig { data_dir: Some(dir.to_owned()), ..PortalConfig::default() };
    router(AppState::open(&portal, ApiConfig::default()).await.unwrap())
}

async fn get(router: &axum::Router, path: &str) -> Response {
    router.clone().oneshot(Request::get(path).body(Body::empty()).unwrap()).await.unwrap()
}

#[tokio::test]
async fn the_health_check_answers_and_whoami_without_a_key_is_refused_with_a_bearer_challenge() {
    let dir = tempfile::tempdir().unwrap();
    let router = portal(dir.path()).await;
    let health = get(&router, "/healthz").await;
    assert_eq!(health.status(), StatusCode::OK);
    assert_eq!(&axum::body::to_bytes(health.into_body(), 1 << 10).await.unwrap()[..], b"ok\n");
    let whoami = get(&router, "/v1/whoami").await;
    assert_eq!(whoami.status(), StatusCode::UNAUTHORIZED);
    assert_eq!(whoami.headers()[header::WWW_AUTHENTICATE], "Bearer realm=\"genesis-portal\"");
}
