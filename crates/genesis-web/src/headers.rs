//! The headers a page carries, and the name a download is saved under.

use std::fmt::Write as _;

use axum::response::Response;
use http::{HeaderMap, HeaderValue, header};

use crate::html::percent_encode;

/// What every page carries: nothing but this server's own stylesheet, script and (data:)
/// images, forms posted only to it, and no framing. `connect-src 'self'` beyond decision
/// 0038's list: the portal's upload progress and the console's chunked upload are requests to
/// the server itself, and the console's install progress an `EventSource`, all of which
/// `default-src 'none'` alone would block.
const CONTENT_SECURITY_POLICY: &str = "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; \
                                       connect-src 'self'; form-action 'self'; frame-ancestors 'none'; base-uri 'none'";

/// Sets the security headers of a page: a Content-Security-Policy that allows only this
/// server's own stylesheet, script, images and connections and forbids inline script and
/// style, so an injection that got past maud's escaping would still not run; `nosniff`,
/// `Referrer-Policy: same-origin`, `X-Frame-Options: DENY`, and `Cache-Control: no-store` when
/// `signed_in`, so no shared cache keeps what one person saw. A page carrying a per-browser
/// form token or a caller's message should pass `true` too: the portal does for every page.
pub fn secure_headers(headers: &mut HeaderMap, signed_in: bool) {
    headers.insert(header::CONTENT_SECURITY_POLICY, HeaderValue::from_static(CONTENT_SECURITY_POLICY));
    headers.insert(header::X_CONTENT_TYPE_OPTIONS, HeaderValue::from_static("nosniff"));
    // Not `no-referrer`: under it a browser sends `Origin: null` with a form's POST, and the
    // CSRF check could no longer tell our own forms from a sandboxed frame's.
    headers.insert(header::REFERRER_POLICY, HeaderValue::from_static("same-origin"));
    headers.insert(header::X_FRAME_OPTIONS, HeaderValue::from_static("DENY"));
    if signed_in {
        headers.insert(header::CACHE_CONTROL, HeaderValue::from_static("no-store"));
    }
}

/// `response` as a download saved under `filename`.
pub fn attachment(response: Response, filename: &str) -> Response {
    disposition(response, "attachment", filename)
}

/// `response` shown by the browser (a PDF report), saved under `filename` if the user saves it.
pub fn inline(response: Response, filename: &str) -> Response {
    disposition(response, "inline", filename)
}

/// `Content-Disposition` with `filename` quoted so no name can end the header's parameter:
/// an ASCII fallback (`"` `\` and anything not printable ASCII become `_`), plus the exact
/// name as RFC 8187 `filename*` when the two differ.
fn disposition(mut response: Response, kind: &str, filename: &str) -> Response {
    let fallback: String = filename
        .chars()
        .map(|c| if c == ' ' || (c.is_ascii_graphic() && c != '"' && c != '\\') { c } else { '_' })
        .collect();
    let mut value = format!("{kind}; filename=\"{fallback}\"");
    if fallback != filename {
        let attr_char = |b: u8| b.is_ascii_alphanumeric() || b"!#$&+-.^_`|~".contains(&b);
        let _ = write!(value, "; filename*=UTF-8''{}", percent_encode(filename, attr_char));
    }
    let value = HeaderValue::try_from(value).expect("only printable ASCII is written");
    response.headers_mut().insert(header::CONTENT_DISPOSITION, value);
    response
}

#[cfg(test)]
mod tests {
    use axum::response::IntoResponse as _;
    use http::StatusCode;

    use super::*;

    #[test]
    fn a_page_forbids_inline_script_framing_and_foreign_forms() {
        let mut headers = HeaderMap::new();
        secure_headers(&mut headers, false);
        let csp = headers[header::CONTENT_SECURITY_POLICY].to_str().unwrap();
        for directive in [
            "default-src 'none'",
            "style-src 'self'",
            "script-src 'self'",
            "img-src 'self' data:",
            "connect-src 'self'",
            "form-action 'self'",
            "frame-ancestors 'none'",
            "base-uri 'none'",
        ] {
            assert!(csp.contains(directive), "{directive} missing from {csp}");
        }
        assert!(!csp.contains("unsafe"), "{csp}");
        assert_eq!(headers[header::X_CONTENT_TYPE_OPTIONS], "nosniff");
        assert_eq!(headers[header::REFERRER_POLICY], "same-origin");
        assert_eq!(headers[header::X_FRAME_OPTIONS], "DENY");
        assert!(headers.get(header::CACHE_CONTROL).is_none(), "a public page may be cached");
        secure_headers(&mut headers, true);
        assert_eq!(headers[header::CACHE_CONTROL], "no-store");
        assert_eq!(headers.get_all(header::CONTENT_SECURITY_POLICY).iter().count(), 1, "set, not appended");
    }

    fn disposition_of(filename: &str) -> String {
        let response = attachment(StatusCode::OK.into_response(), filename);
        response.headers()[header::CONTENT_DISPOSITION].to_str().unwrap().to_owned()
    }

    #[test]
    fn a_download_name_is_quoted_so_nothing_escapes_the_parameter() {
        assert_eq!(disposition_of("demo-0.1.0.tar.zst"), r#"attachment; filename="demo-0.1.0.tar.zst""#);
        assert_eq!(
            disposition_of("a\"b\\c.tar.zst"),
            r#"attachment; filename="a_b_c.tar.zst"; filename*=UTF-8''a%22b%5Cc.tar.zst"#
        );
        assert_eq!(
            disposition_of("x\r\nSet-Cookie: y=1"),
            r#"attachment; filename="x__Set-Cookie: y=1"; filename*=UTF-8''x%0D%0ASet-Cookie%3A%20y%3D1"#
        );
        assert_eq!(
            disposition_of("résumé;.pdf"),
            "attachment; filename=\"r_sum_;.pdf\"; filename*=UTF-8''r%C3%A9sum%C3%A9%3B.pdf"
        );
        let shown = inline(StatusCode::OK.into_response(), "demo-0.1.0.tar.zst.report.pdf");
        assert_eq!(shown.headers()[header::CONTENT_DISPOSITION], r#"inline; filename="demo-0.1.0.tar.zst.report.pdf""#);
    }
}
