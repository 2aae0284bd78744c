//! The small pieces every page is made of: the CSRF field of a form, a table whose head
//! labels its columns for screen readers, and the formatters that write dates, counts and URL
//! segments the same way on every page. maud escapes every value these are given.

use std::borrow::Cow;
use std::fmt::Write as _;

use maud::{Markup, html};
use time::OffsetDateTime;

/// A page's `<head>`: UTF-8, the viewport for phones, `title · brand`, and the product's
/// one stylesheet and one deferred script, by their content-hashed names.
pub fn head(title: &str, brand: &str, stylesheet: &crate::Asset, script: &crate::Asset) -> Markup {
    html! {
        head {
            meta charset="utf-8";
            meta name="viewport" content="width=device-width, initial-scale=1";
            title { (title) " · " (brand) }
            link rel="stylesheet" href=(stylesheet.path);
            script src=(script.path) defer {}
        }
    }
}

/// The hidden form field every POST form carries: the session's token (or, on a sign-in form,
/// the double-submit token), which the server compares before it acts.
pub fn csrf_field(token: &str) -> Markup {
    html! { input type="hidden" name="csrf" value=(token); }
}

/// A column of a [`table`]: its heading, and whether it holds numbers (aligned right, the
/// heading with them: the caller gives those cells the class `num`).
#[derive(Debug, Clone, Copy)]
pub enum Column {
    /// Words, codes, dates.
    Text(&'static str),
    /// Counts and sizes.
    Numeric(&'static str),
}

/// A table `#id` in a frame (`div.table-wrap`) that scrolls sideways when the table is wider
/// than the screen: a head row of `columns` (`th scope=col`, `th.num` for numbers), then
/// `rows`, each headed by a `th scope=row` of the caller's.
pub fn table(id: &str, columns: &[Column], rows: Markup) -> Markup {
    html! {
        div.table-wrap {
            table id=(id) {
                thead {
                    tr {
                        @for column in columns {
                            @match column {
                                Column::Text(heading) => th scope="col" { (heading) },
                                Column::Numeric(heading) => th.num scope="col" { (heading) },
                            }
                        }
                    }
                }
                tbody { (rows) }
            }
        }
    }
}

/// The last second an RFC 3339 date-time can hold, 9999-12-31T23:59:59Z: dates are clamped to
/// 1970 ..= this, as the RFC 3339 stamps of the API are.
const LAST_SECOND: i64 = 253_402_300_799;

/// A Unix time for people, to the minute: `2026-11-30 09:12 UTC` (before 1970 reads as 1970).
pub fn date(unix: i64) -> String {
    let at = OffsetDateTime::from_unix_timestamp(unix.clamp(0, LAST_SECOND)).unwrap_or(OffsetDateTime::UNIX_EPOCH);
    format!("{:04}-{:02}-{:02} {:02}:{:02} UTC", at.year(), u8::from(at.month()), at.day(), at.hour(), at.minute())
}

/// A count of things: `1 image`, `2 images`, `0 images`.
pub fn count(n: impl std::fmt::Display, one: &str, many: &str) -> String {
    let n = n.to_string();
    let noun = if n == "1" { one } else { many };
    format!("{n} {noun}")
}

/// `text` with every byte `keep` refuses written as `%XX`: the one percent-encoder of the
/// pages (URL path segments, a download's RFC 8187 file name).
pub(crate) fn percent_encode(text: &str, keep: impl Fn(u8) -> bool) -> Cow<'_, str> {
    if text.bytes().all(&keep) {
        return Cow::Borrowed(text);
    }
    let mut out = String::with_capacity(text.len() * 3);
    for b in text.bytes() {
        if keep(b) {
            out.push(char::from(b));
        } else {
            let _ = write!(out, "%{b:02X}");
        }
    }
    Cow::Owned(out)
}

/// A value as one URL path segment: percent-encoded but for letters, digits and `-._~+` (the
/// names of releases, bundles and namespaces keep their look; anything else cannot break out
/// of the segment).
pub fn segment(text: &str) -> Cow<'_, str> {
    percent_encode(text, |b| b.is_ascii_alphanumeric() || b"-._~+".contains(&b))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_table_heads_its_columns_and_aligns_numbers() {
        let text =
            table("t", &[Column::Text("Name"), Column::Numeric("Size")], html! { tr { th scope="row" { "a" } } })
                .into_string();
        let head = r#"<thead><tr><th scope="col">Name</th><th class="num" scope="col">Size</th></tr></thead>"#;
        let rows = r#"<tbody><tr><th scope="row">a</th></tr></tbody>"#;
        assert_eq!(text, format!(r#"<div class="table-wrap"><table id="t">{head}{rows}</table></div>"#));
    }

    #[test]
    fn a_csrf_field_is_hidden_and_escaped() {
        assert_eq!(csrf_field("tok\"en").into_string(), r#"<input type="hidden" name="csrf" value="tok&quot;en">"#);
    }

    #[test]
    fn dates_counts_and_segments_read_as_people_and_urls_expect() {
        assert_eq!(date(0), "1970-01-01 00:00 UTC");
        assert_eq!(date(1_764_494_000), "2025-11-30 09:13 UTC");
        assert_eq!(date(951_825_600), "2000-02-29 12:00 UTC", "a leap day");
        assert_eq!(date(-1), "1970-01-01 00:00 UTC");
        assert_eq!(date(LAST_SECOND), "9999-12-31 23:59 UTC");
        assert_eq!(date(i64::MAX), "9999-12-31 23:59 UTC");
        assert_eq!(count(1usize, "image", "images"), "1 image");
        assert_eq!(count(2usize, "image", "images"), "2 images");
        assert_eq!(count(0u64, "file", "files"), "0 files");
        assert_eq!(segment("3.2.10+build.1"), "3.2.10+build.1");
        assert_eq!(segment("a/b c?"), "a%2Fb%20c%3F");
        assert_eq!(segment("é"), "%C3%A9");
    }
}
