//! Stylesheets and scripts compiled into the binary (a server that runs air-gapped fetches
//! nothing from a CDN), served under names carrying the first 8 hex digits of their SHA-256:
//! the name changes whenever the content does, so a browser may keep an asset for a year and a
//! new build is never met with a stale copy. A product's stylesheet is [`BASE_CSS`], the rules
//! both products' pages share, followed by its own ([`Asset::stylesheet`]).

use std::borrow::Cow;

use axum::body::Bytes;
use axum::response::{IntoResponse, Response};
use http::{StatusCode, header};

/// The `Content-Type` of a stylesheet.
pub const CSS: &str = "text/css; charset=utf-8";

/// The `Content-Type` of a script.
pub const JS: &str = "text/javascript; charset=utf-8";

/// What the portal's and the console's stylesheets share (`assets/base.css`): the colours,
/// type, header, main and footer, messages, the frame of [`crate::html::table`], forms and
/// buttons. A product's sheet sets `--band`, `--page-width` and `--field-width` on `:root`.
pub const BASE_CSS: &str = include_str!("assets/base.css");

/// A file compiled into the binary, served at [`Asset::path`].
#[derive(Debug, Clone)]
pub struct Asset {
    /// Where pages link to it: `/assets/<stem>-<hash>.<extension>`.
    pub path: String,
    /// What is served: a `&'static str` kept as is, or a built `String` (cheap to clone per
    /// response either way).
    body: Bytes,
    content_type: &'static str,
}

impl Asset {
    /// `body` (usually an `include_str!`) served as `content_type` ([`CSS`], [`JS`]) under
    /// `/assets/<stem>-<first 8 hex digits of its SHA-256>.<extension>`; `stem` names the
    /// server ("portal", "console"), `extension` the kind ("css", "js").
    pub fn new(stem: &str, extension: &str, body: impl Into<Cow<'static, str>>, content_type: &'static str) -> Asset {
        let body = body.into();
        let hash = crate::secret::hash(&body);
        let body = match body {
            Cow::Borrowed(text) => Bytes::from_static(text.as_bytes()),
            Cow::Owned(text) => Bytes::from(text),
        };
        Asset { path: format!("/assets/{stem}-{}.{extension}", &hash[..8]), body, content_type }
    }

    /// A product's stylesheet: [`BASE_CSS`] followed by `own`, the product's rules (after the
    /// base's, so that where the two differ the product's win), named after the whole.
    pub fn stylesheet(stem: &str, own: &str) -> Asset {
        Asset::new(stem, "css", [BASE_CSS, own].concat(), CSS)
    }

    /// What is served, the bytes its name is the hash of.
    pub fn body(&self) -> &[u8] {
        &self.body
    }
}

/// `GET /assets/{file}`: the asset among `assets` whose path is `/assets/{file}`, cacheable as
/// immutable, else 404 (an old name is not answered with new content: the page asking for it
/// is itself stale).
pub fn serve_asset(assets: &[&Asset], file: &str) -> Response {
    let path = format!("/assets/{file}");
    match assets.iter().find(|asset| asset.path == path) {
        Some(asset) => (
            [
                (header::CONTENT_TYPE, asset.content_type),
                (header::CACHE_CONTROL, "public, max-age=31536000, immutable"),
                (header::X_CONTENT_TYPE_OPTIONS, "nosniff"),
            ],
            asset.body.clone(),
        )
            .into_response(),
        None => (StatusCode::NOT_FOUND, "no such asset\n").into_response(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const BODY: &str = "body { margin: 0 }\n";

    #[test]
    fn an_asset_is_named_after_its_content() {
        let sheet = Asset::new("portal", "css", BODY, CSS);
        assert_eq!(sheet.path, "/assets/portal-b4d5deb2.css");
        let changed = Asset::new("portal", "css", "body { margin: 1px }\n", CSS);
        assert_ne!(changed.path, sheet.path, "new content, new name");
        let script = Asset::new("console", "js", "", JS);
        assert_eq!(script.path, "/assets/console-e3b0c442.js", "SHA-256 of nothing");
    }

    #[test]
    fn a_stylesheet_is_the_base_then_the_product_s_own_rules_named_after_both() {
        let sheet = Asset::stylesheet("console", BODY);
        assert_eq!(sheet.body(), [BASE_CSS, BODY].concat().as_bytes());
        assert_eq!(sheet.path, Asset::new("console", "css", [BASE_CSS, BODY].concat(), CSS).path);
        assert_eq!(&sheet.path["/assets/console-".len()..][..8], &crate::secret::hash(&[BASE_CSS, BODY].concat())[..8]);
        assert_ne!(sheet.path, Asset::new("console", "css", BODY, CSS).path, "the base is in the name");
        assert_ne!(sheet.path, Asset::stylesheet("console", "body { margin: 1px }\n").path, "so is the product's part");
        let response = serve_asset(&[&sheet], sheet.path.trim_start_matches("/assets/"));
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["content-type"], "text/css; charset=utf-8");
        for var in ["--band", "--page-width", "--field-width"] {
            assert!(BASE_CSS.contains(&format!("var({var})")), "the base uses {var}, which each product sets");
        }
    }

    #[test]
    fn an_asset_is_served_immutable_under_its_name_only() {
        let sheet = Asset::new("portal", "css", BODY, CSS);
        let script = Asset::new("portal", "js", "", JS);
        let assets = [&sheet, &script];
        let response = serve_asset(&assets, sheet.path.trim_start_matches("/assets/"));
        assert_eq!(response.status(), 200);
        assert_eq!(response.headers()["cache-control"], "public, max-age=31536000, immutable");
        assert_eq!(response.headers()["content-type"], "text/css; charset=utf-8");
        assert_eq!(response.headers()["x-content-type-options"], "nosniff");
        let js = serve_asset(&assets, script.path.trim_start_matches("/assets/"));
        assert_eq!(js.headers()["content-type"], "text/javascript; charset=utf-8");
        assert_eq!(serve_asset(&assets, "portal-00000000.css").status(), 404, "a stale name");
        assert_eq!(serve_asset(&assets, "../Cargo.toml").status(), 404);
        assert_eq!(serve_asset(&[], "portal.css").status(), 404);
    }
}
