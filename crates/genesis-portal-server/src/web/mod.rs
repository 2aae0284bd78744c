//! The portal's web pages (decision 0038), on the API's listener and behind its TLS: the
//! customer's under `/portal` (sign in with the license key, the entitled releases with their
//! files, hashes, signer and the commands to pull and verify them, SBOM and provenance, the
//! license file, export packs), the vendor's under `/admin` (organisations, keys,
//! entitlements, releases and publishing by upload, export builds, the audit log), and the
//! "Air-gap workflow" guide. Pages are rendered on the server with maud, which escapes every
//! value it is given, and work without JavaScript; the one stylesheet and the one script are
//! compiled into the binary and served under names carrying a hash of their content, so a
//! browser may keep them for a year and a new build is never met with a stale copy. Nothing
//! here contacts anything: a page adds no endpoint to the portal's egress line.

mod bundle;
mod customer;
mod guide;
mod page;
mod session;
mod upload;
mod vendor;

use std::sync::LazyLock;

use axum::Router;
use axum::extract::Path;
use axum::http::{StatusCode, header};
use axum::response::{IntoResponse, Response};
use axum::routing::get;

use crate::api::Shared;

/// Every page and asset: `/` (to the customer's start page), the assets, the guide, the
/// customer's pages and the vendor's.
pub(crate) fn routes() -> Router<Shared> {
    Router::new()
        .route("/", get(|| async { page::see_other(customer::HOME) }))
        .route("/assets/{file}", get(asset))
        .route(guide::PATH, get(guide::guide))
        .merge(customer::routes())
        .merge(vendor::routes())
        .layer(axum::middleware::from_fn(page::error_pages))
}

/// A file compiled into the binary and served under a name carrying the first 8 hex digits of
/// its SHA-256: the name changes whenever the content does, so it can be cached as immutable.
pub(crate) struct Asset {
    /// Where pages link to it: `/assets/portal-<hash>.css`.
    pub(crate) path: String,
    body: &'static str,
    content_type: &'static str,
}

impl Asset {
    fn new(stem: &str, extension: &str, body: &'static str, content_type: &'static str) -> Asset {
        let hash = genesis_bundle::sha256(body.as_bytes());
        Asset { path: format!("/assets/{stem}-{}.{extension}", &hash.hex()[..8]), body, content_type }
    }
}

/// The one stylesheet.
pub(crate) static STYLESHEET: LazyLock<Asset> =
    LazyLock::new(|| Asset::new("portal", "css", include_str!("assets/portal.css"), "text/css; charset=utf-8"));

/// The one script: copy buttons and upload progress, nothing a page needs to be read.
pub(crate) static SCRIPT: LazyLock<Asset> =
    LazyLock::new(|| Asset::new("portal", "js", include_str!("assets/portal.js"), "text/javascript; charset=utf-8"));

/// `GET /assets/{file}`: an asset under its current name, else 404 (an old name is not
/// answered with new content: the page asking for it is itself stale).
async fn asset(Path(file): Path<String>) -> Response {
    let path = format!("/assets/{file}");
    match [&*STYLESHEET, &*SCRIPT].into_iter().find(|asset| asset.path == path) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            asset.body,
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::{SCRIPT, STYLESHEET};

    #[test]
    fn assets_are_named_after_their_content() {
        let css = genesis_bundle::sha256(include_str!("assets/portal.css").as_bytes());
        assert_eq!(STYLESHEET.path, format!("/assets/portal-{}.css", &css.hex()[..8]));
        assert!(SCRIPT.path.starts_with("/assets/portal-") && SCRIPT.path.ends_with(".js"), "{}", SCRIPT.path);
        assert_eq!(SCRIPT.path.len(), "/assets/portal-12345678.js".len());
    }

    #[tokio::test]
    async fn an_asset_is_served_immutable_under_its_name_only() {
        let file = STYLESHEET.path.trim_start_matches("/assets/").to_owned();
        let response = super::asset(axum::extract::Path(file)).await;
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "public, max-age=31536000, immutable");
        assert_eq!(response.headers()["content-type"], "text/css; charset=utf-8");
        let stale = super::asset(axum::extract::Path("portal-00000000.css".to_owned())).await;
        assert_eq!(stale.status(), 404);
    }
}
