//! The cookies sessions and sign-in forms ride on. Every cookie is `HttpOnly` (no script
//! reads it) and `SameSite=Strict` (no other site's page makes the browser send it) on
//! `Path=/`. Under TLS it is also `Secure` and carries the `__Host-` prefix, which a browser
//! accepts only from a secure origin, for the whole host, without a `Domain`: no sibling host
//! and no plain-HTTP page can plant one.

use std::borrow::Cow;
use std::fmt::Write as _;

use http::{HeaderMap, HeaderValue, header};

/// The name of cookie `name` as set and read: `__Host-` prefixed when `secure`.
pub fn name(name: &str, secure: bool) -> Cow<'_, str> {
    if secure { Cow::Owned(format!("__Host-{name}")) } else { Cow::Borrowed(name) }
}

/// A `Set-Cookie` value for cookie `name` (prefixed as [`name`] says): `Path=/; HttpOnly;
/// SameSite=Strict`, `Secure` when `secure`, and `Max-Age` when given (0 removes the cookie;
/// none keeps it for the browser's session).
///
/// # Panics
///
/// When `name` or `value` holds a byte a header may not: callers pass fixed names and values
/// they made (hex tokens, fixed codes), never text from a request.
pub fn set(name: &str, value: &str, secure: bool, max_age: Option<i64>) -> HeaderValue {
    let mut text = format!("{}={value}; Path=/; HttpOnly; SameSite=Strict", self::name(name, secure));
    if secure {
        text.push_str("; Secure");
    }
    if let Some(seconds) = max_age {
        let _ = write!(text, "; Max-Age={seconds}");
    }
    HeaderValue::try_from(text).expect("cookie names and values are hex or fixed ASCII")
}

/// The value of the cookie `name` (exactly, as [`name`] gives it) among the request's `Cookie`
/// headers (`a=1; b=2`, one header or several): the first one sent, surrounding quotes
/// removed.
pub fn get<'a>(headers: &'a HeaderMap, name: &str) -> Option<&'a str> {
    headers
        .get_all(header::COOKIE)
        .iter()
        .filter_map(|v| v.to_str().ok())
        .flat_map(|v| v.split(';'))
        .filter_map(|pair| pair.trim().split_once('='))
        .find(|(n, _)| n.trim() == name)
        .map(|(_, v)| {
            let v = v.trim();
            v.strip_prefix('"').and_then(|v| v.strip_suffix('"')).unwrap_or(v)
        })
}

#[cfg(test)]
pub(crate) mod tests {
    use super::*;

    /// Request headers holding `pairs`, each appended.
    pub(crate) fn headers(pairs: &[(&str, &str)]) -> HeaderMap {
        let mut headers = HeaderMap::new();
        for (name, value) in pairs {
            headers.append(name.parse::<header::HeaderName>().unwrap(), value.parse().unwrap());
        }
        headers
    }

    pub(crate) const TOKEN: &str = "0123456789abcdef0123456789abcdef0123456789abcdef0123456789abcdef";

    #[test]
    fn cookies_are_read_from_every_cookie_header() {
        let h = headers(&[("cookie", "a=1; genesis-signin=x"), ("cookie", "b=2;c=\"3\"")]);
        assert_eq!(get(&h, "a"), Some("1"));
        assert_eq!(get(&h, "genesis-signin"), Some("x"));
        assert_eq!(get(&h, "b"), Some("2"));
        assert_eq!(get(&h, "c"), Some("3"), "quotes removed");
        assert_eq!(get(&h, "genesis"), None, "no prefix match");
        assert_eq!(get(&headers(&[("cookie", "x=1; x=2")]), "x"), Some("1"), "the first sent");
        assert_eq!(get(&headers(&[("cookie", "junk; ;=; y = 5 ")]), "y"), Some("5"));
        assert_eq!(get(&HeaderMap::new(), "x"), None);
    }

    #[test]
    fn cookies_set_are_http_only_strict_and_secure_and_host_prefixed_under_secure_cookies() {
        assert_eq!(
            set("genesis-session", TOKEN, true, Some(43_200)),
            format!("__Host-genesis-session={TOKEN}; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=43200")
                .as_str()
        );
        assert_eq!(
            set("genesis-admin-session", "", false, Some(0)),
            "genesis-admin-session=; Path=/; HttpOnly; SameSite=Strict; Max-Age=0"
        );
        assert_eq!(set("genesis-signin", "ab", false, None), "genesis-signin=ab; Path=/; HttpOnly; SameSite=Strict");
        assert_eq!(
            set("genesis-signin", "ab", true, None),
            "__Host-genesis-signin=ab; Path=/; HttpOnly; SameSite=Strict; Secure"
        );
        assert_eq!(
            set("genesis-admin-flash", "revoked", true, Some(300)),
            "__Host-genesis-admin-flash=revoked; Path=/; HttpOnly; SameSite=Strict; Secure; Max-Age=300"
        );
        assert_eq!(name("genesis-console", true), "__Host-genesis-console");
        assert_eq!(name("genesis-console", false), "genesis-console");
    }
}
