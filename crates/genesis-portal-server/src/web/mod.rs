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
use axum::response::Response;
use axum::routing::get;
use genesis_web::Asset;

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

/// The one stylesheet: genesis-web's base rules, then the portal's own (portal.css).
pub(crate) static STYLESHEET: LazyLock<Asset> =
    LazyLock::new(|| Asset::stylesheet("portal", include_str!("assets/portal.css")));

/// The one script: copy buttons and upload progress, nothing a page needs to be read.
pub(crate) static SCRIPT: LazyLock<Asset> =
    LazyLock::new(|| Asset::new("portal", "js", include_str!("assets/portal.js"), genesis_web::JS));

/// `GET /assets/{file}`: the stylesheet or the script under its current name, else 404.
async fn asset(Path(file): Path<String>) -> Response {
    genesis_web::serve_asset(&[&*STYLESHEET, &*SCRIPT], &file)
}

#[cfg(test)]
mod tests {
    use super::{SCRIPT, STYLESHEET};

    #[test]
    fn assets_are_named_after_their_content() {
        // The name is the hash of what is served: the shared base, then portal.css.
        let served = [genesis_web::BASE_CSS, include_str!("assets/portal.css")].concat();
        assert_eq!(STYLESHEET.body(), served.as_bytes());
        let css = genesis_bundle::sha256(STYLESHEET.body());
        assert_eq!(STYLESHEET.path, format!("/assets/portal-{}.css", &css.hex()[..8]));
        assert!(SCRIPT.path.starts_with("/assets/portal-") && SCRIPT.path.ends_with(".js"), "{}", SCRIPT.path);
        assert_eq!(SCRIPT.path.len(), "/assets/portal-12345678.js".len());
    }

    #[tokio::test]
    async fn the_stylesheet_and_the_script_are_served_under_their_names() {
        for (asset, content_type) in
            [(&*STYLESHEET, "text/css; charset=utf-8"), (&*SCRIPT, "text/javascript; charset=utf-8")]
        {
            let file = asset.path.trim_start_matches("/assets/").to_owned();
            let response = super::asset(axum::extract::Path(file)).await;
            assert_eq!(response.status(), 200, "{}", asset.path);
            assert_eq!(response.headers()["content-type"], content_type);
        }
        let stale = super::asset(axum::extract::Path("portal-00000000.css".to_owned())).await;
        assert_eq!(stale.status(), 404);
    }
}
