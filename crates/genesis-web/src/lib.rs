//! What the vendor portal's pages (decision 0038) and the in-cluster console's share, so each
//! rule of the web is written once: a stylesheet or script compiled into the binary and served
//! under a name carrying a hash of its content ([`Asset`], [`serve_asset`]), each product's
//! stylesheet starting with the rules both share ([`BASE_CSS`]); the headers every
//! page carries ([`secure_headers`]: a Content-Security-Policy that forbids inline script and
//! style, so an injection past maud's escaping still would not run); the cookies sessions ride
//! on ([`cookie`]: `HttpOnly; SameSite=Strict`, `Secure` and `__Host-` under TLS); the secrets
//! they hold ([`secret`]: random, hashed before they are kept, compared in constant time); the
//! checks that a form's POST came from our own page ([`origin_allowed`], or
//! [`origin_names_host`] behind a TLS-terminating proxy, and the double-submit token of a
//! sign-in form that comes before any session: [`sign_in_token`], [`check_sign_in_token`]);
//! download names ([`attachment`], [`inline`]); and the small HTML
//! pieces and formatters every page uses ([`html`]).
//!
//! Nothing here contacts anything, keeps state or knows who is signed in: the servers own
//! their sessions and pages, and call these.
//!
//! ```
//! use genesis_web::{Asset, BASE_CSS, cookie, html, secret};
//!
//! let sheet = Asset::stylesheet("console", "nav#tabs a { display: block }");
//! assert!(sheet.path.starts_with("/assets/console-") && sheet.path.ends_with(".css"));
//! assert!(sheet.body().starts_with(BASE_CSS.as_bytes()));
//! let response = genesis_web::serve_asset(&[&sheet], sheet.path.trim_start_matches("/assets/"));
//! assert_eq!(response.status(), 200);
//!
//! // A session cookie carries a random token; the server keeps only its hash.
//! let token = secret::random_token();
//! assert!(secret::is_token(&token));
//! let kept = secret::hash(&token);
//! assert_ne!(kept, token);
//! let set = cookie::set("genesis-console", &token, true, Some(8 * 3600));
//! assert!(set.to_str()?.starts_with("__Host-genesis-console="));
//!
//! assert_eq!(html::count(2, "bundle", "bundles"), "2 bundles");
//! assert_eq!(html::date(0), "1970-01-01 00:00 UTC");
//! # Ok::<(), Box<dyn std::error::Error>>(())
//! ```

mod asset;
pub mod cookie;
mod csrf;
mod headers;
pub mod html;
pub mod secret;

pub use asset::{Asset, BASE_CSS, CSS, JS, serve_asset};
pub use csrf::{check_sign_in_token, origin_allowed, origin_names_host, sign_in_token};
pub use headers::{attachment, inline, secure_headers};
