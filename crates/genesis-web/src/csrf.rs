//! That a form's POST came from this server's own page. A signed-in form carries the
//! session's token (the server compares it with [`crate::secret::same`]); a sign-in form comes
//! before any session, so it uses a double-submit token instead: the same random value in a
//! cookie and in the form, which a page of another site can neither read nor set. Either way a
//! POST whose `Origin` names another site is refused as well.

use http::{HeaderMap, HeaderValue, header};

use crate::{cookie, secret};

/// Whether the request's `Origin` is absent (a browser may leave it out of a same-origin
/// request) or is `own_origin` (`scheme://host[:port]`), ASCII case ignored. An `Origin` of
/// `null` (a sandboxed frame, or a page under `Referrer-Policy: no-referrer`) is another site.
pub fn origin_allowed(headers: &HeaderMap, own_origin: &str) -> bool {
    match headers.get(header::ORIGIN) {
        None => true,
        Some(origin) => origin.to_str().is_ok_and(|origin| origin.eq_ignore_ascii_case(own_origin)),
    }
}

/// Whether `origin` (an `Origin` header's value) is `http://` or `https://` followed by `host`
/// (the request's `Host`, `host[:port]`), ASCII case ignored: the check of a server that does
/// not know the scheme the browser used, because a TLS-terminating proxy stands in front of
/// it. `SameSite=Strict` cookies already tie the session to the site.
pub fn origin_names_host(origin: &str, host: &str) -> bool {
    let authority = origin.strip_prefix("https://").or_else(|| origin.strip_prefix("http://"));
    authority.is_some_and(|authority| authority.eq_ignore_ascii_case(host))
}

/// The sign-in form's token: the one the browser's cookie `cookie_name` (prefixed as
/// [`cookie::name`] says under `secure`) holds, else a new one with the `Set-Cookie` that gives
/// it, for the response carrying the form. The form and the cookie must then agree
/// ([`check_sign_in_token`]), which a page of another site cannot make them do.
pub fn sign_in_token(cookie_name: &str, secure: bool, headers: &HeaderMap) -> (String, Option<HeaderValue>) {
    match cookie::get(headers, &cookie::name(cookie_name, secure)).filter(|t| secret::is_token(t)) {
        Some(token) => (token.to_owned(), None),
        None => {
            let token = secret::random_token();
            let set = cookie::set(cookie_name, &token, secure, None);
            (token, Some(set))
        }
    }
}

/// Whether a sign-in POST's form token `given` equals its cookie `cookie_name` (as
/// [`sign_in_token`] gave them). This checks the pair only: the caller checks the `Origin` too
/// ([`origin_allowed`]), and removes the cookie once signed in.
pub fn check_sign_in_token(cookie_name: &str, secure: bool, headers: &HeaderMap, given: &str) -> bool {
    cookie::get(headers, &cookie::name(cookie_name, secure))
        .filter(|t| secret::is_token(t))
        .is_some_and(|token| secret::same(token, given))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cookie::tests::{TOKEN, headers};

    #[test]
    fn a_post_must_come_from_our_origin_when_it_names_one() {
        let own = "https://console.example:8443";
        assert!(origin_allowed(&HeaderMap::new(), own), "no Origin: allowed");
        assert!(origin_allowed(&headers(&[("origin", own)]), own));
        assert!(origin_allowed(&headers(&[("origin", "HTTPS://Console.Example:8443")]), own));
        for origin in [
            "https://evil.example",
            "http://console.example:8443",
            "https://console.example",
            "https://console.example:8443.evil",
            "null",
            "console.example:8443",
        ] {
            assert!(!origin_allowed(&headers(&[("origin", origin)]), own), "{origin}");
        }
    }

    #[test]
    fn behind_a_proxy_the_origin_must_name_the_host_under_either_scheme() {
        assert!(origin_names_host("http://portal.example:8480", "portal.example:8480"));
        assert!(origin_names_host("https://portal.example", "Portal.Example"));
        for origin in [
            "https://evil.example",
            "http://portal.example:8481",
            "null",
            "portal.example:8480",
            "ftp://portal.example:8480",
            "https://portal.example:8480.evil",
        ] {
            assert!(!origin_names_host(origin, "portal.example:8480"), "{origin}");
        }
    }

    #[test]
    fn a_sign_in_form_reuses_the_browser_s_token_or_sets_a_new_one() {
        let with_cookie = headers(&[("cookie", &format!("genesis-signin={TOKEN}"))]);
        assert_eq!(sign_in_token("genesis-signin", false, &with_cookie), (TOKEN.to_owned(), None));
        let (fresh, set) = sign_in_token("genesis-signin", true, &with_cookie);
        assert!(secret::is_token(&fresh) && fresh != TOKEN, "only the prefixed cookie counts under TLS");
        let set = set.expect("a new token is set");
        assert_eq!(
            set.to_str().unwrap(),
            format!("__Host-genesis-signin={fresh}; Path=/; HttpOnly; SameSite=Strict; Secure")
        );
        let junk = headers(&[("cookie", "genesis-signin=<script>")]);
        let (fresh, set) = sign_in_token("genesis-signin", false, &junk);
        assert!(secret::is_token(&fresh) && set.is_some(), "a cookie not of our form is replaced");
    }

    #[test]
    fn a_sign_in_needs_the_cookie_and_the_field_to_agree() {
        let with_cookie = headers(&[("cookie", &format!("genesis-signin={TOKEN}"))]);
        assert!(check_sign_in_token("genesis-signin", false, &with_cookie, TOKEN));
        assert!(!check_sign_in_token("genesis-signin", false, &with_cookie, ""));
        assert!(!check_sign_in_token("genesis-signin", true, &with_cookie, TOKEN), "the prefixed name only");
        let prefixed = headers(&[("cookie", &format!("__Host-genesis-signin={TOKEN}"))]);
        assert!(check_sign_in_token("genesis-signin", true, &prefixed, TOKEN));
        assert!(!check_sign_in_token("genesis-signin", false, &HeaderMap::new(), TOKEN), "no cookie");
        let junk = headers(&[("cookie", "genesis-signin=")]);
        assert!(!check_sign_in_token("genesis-signin", false, &junk, ""), "empty equals empty is still no token");
    }
}
