//! RPM's version ordering: `[epoch:]version[-release]` (rpm's EVR: the epoch is the leading
//! digits when a colon follows them, the release follows the last hyphen), compared epoch
//! first as a number, then version, then release with rpmvercmp as rpm ≥ 4.15 defines it
//! (rpm's `rpmvercmp.c`, described in rpm-version(7)):
//!
//! - the strings are cut into segments, each the longest run of ASCII digits or of ASCII
//!   letters; every other character but `~` and `^` only separates segments;
//! - a numeric segment is newer than an alphabetic one; numbers compare by value (leading
//!   zeros do not count), letters byte by byte;
//! - `~` sorts before everything, even the end of the string (`1.0~rc1` < `1.0`);
//! - `^` sorts after the end of the string but before anything else (`1.0` < `1.0^git1` <
//!   `1.0.1`);
//! - when every segment is equal, the string with segments left over is newer.
//!
//! A version without a release sorts before the same version with any release, as rpm's
//! `labelCompare` orders them (rpm's dependency matching instead ignores the missing
//! release; OSV's RPM records carry one). rpmvercmp orders any string, so [`compare`]
//! needs no fallback; [`is_valid`] says whether rpmbuild would accept the version and
//! release.

use std::cmp::Ordering;

use super::{cmp_digits, split_digits};

/// Compares two RPM EVR strings.
pub(super) fn compare(a: &str, b: &str) -> Ordering {
    let (a, b) = (Evr::split(a), Evr::split(b));
    cmp_digits(a.epoch, b.epoch).then_with(|| rpmvercmp(a.version, b.version)).then_with(|| {
        match (a.release, b.release) {
            (Some(a), Some(b)) => rpmvercmp(a, b),
            (a, b) => a.is_some().cmp(&b.is_some()),
        }
    })
}

/// Whether `evr` has a version, and a release when it has a hyphen, each made only of the
/// characters rpm-version(7) allows in them: ASCII alphanumerics, the separators `._+` and
/// the operators `~^`.
pub(super) fn is_valid(evr: &str) -> bool {
    let evr = Evr::split(evr);
    let allowed = |s: &str| !s.is_empty() && s.bytes().all(|b| b.is_ascii_alphanumeric() || b"._+~^".contains(&b));
    allowed(evr.version) && evr.release.is_none_or(allowed)
}

/// The parts of an RPM EVR string.
struct Evr<'a> {
    /// Digits; empty when there is no epoch, which is the same as 0.
    epoch: &'a str,
    version: &'a str,
    release: Option<&'a str>,
}

impl<'a> Evr<'a> {
    /// Splits `epoch:version-release` as rpm's `parseEVR` does.
    fn split(evr: &'a str) -> Self {
        let (digits, rest) = split_digits(evr);
        let (epoch, rest) = match rest.strip_prefix(':') {
            Some(rest) => (digits, rest),
            None => ("", evr),
        };
        let (version, release) = match rest.rsplit_once('-') {
            Some((version, release)) => (version, Some(release)),
            None => (rest, None),
        };
        Evr { epoch, version, release }
    }
}

/// rpm's comparison of two version (or release) strings. Every cut falls next to an ASCII
/// character, so the slices stay on character boundaries.
fn rpmvercmp(a: &str, b: &str) -> Ordering {
    if a == b {
        return Ordering::Equal;
    }
    let (mut a, mut b) = (a, b);
    loop {
        a = skip_separators(a);
        b = skip_separators(b);
        match (a.as_bytes().first(), b.as_bytes().first()) {
            (Some(b'~'), Some(b'~')) | (Some(b'^'), Some(b'^')) => {
                a = &a[1..];
                b = &b[1..];
            }
            (Some(b'~'), _) => return Ordering::Less,
            (_, Some(b'~')) => return Ordering::Greater,
            // `^` is newer than the end, older than a segment.
            (None, Some(b'^')) | (Some(b'^'), Some(_)) => return Ordering::Less,
            (Some(b'^'), None) | (Some(_), Some(b'^')) => return Ordering::Greater,
            (None, None) => return Ordering::Equal,
            // The one with segments left is newer.
            (None, Some(_)) => return Ordering::Less,
            (Some(_), None) => return Ordering::Greater,
            (Some(first), Some(_)) => {
                let numeric = first.is_ascii_digit();
                let ((a_segment, a_rest), (b_segment, b_rest)) = (split_segment(a, numeric), split_segment(b, numeric));
                if b_segment.is_empty() {
                    // Segments of different types: the numeric one is newer.
                    return if numeric { Ordering::Greater } else { Ordering::Less };
                }
                let order = if numeric { cmp_digits(a_segment, b_segment) } else { a_segment.cmp(b_segment) };
                if order.is_ne() {
                    return order;
                }
                (a, b) = (a_rest, b_rest);
            }
        }
    }
}

/// `s` without its leading separators: everything but ASCII alphanumerics, `~` and `^`.
fn skip_separators(s: &str) -> &str {
    s.trim_start_matches(|c: char| !(c.is_ascii_alphanumeric() || c == '~' || c == '^'))
}

/// The leading segment of `s` (its ASCII digits when `numeric`, else its ASCII letters), and
/// the rest.
fn split_segment(s: &str, numeric: bool) -> (&str, &str) {
    if numeric {
        split_digits(s)
    } else {
        s.split_at(s.bytes().position(|b| !b.is_ascii_alphabetic()).unwrap_or(s.len()))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn tilde_and_caret_order_as_rpm_documents_them() {
        // `~` for pre-releases, `^` for post-release snapshots, as rpm-version(7) has them
        // (rpm 4.18's labelCompare agrees on every pair).
        let ordered = ["1.0~rc1", "1.0~rc1^git1", "1.0", "1.0^git1", "1.0^git2", "1.0.1"];
        for pair in ordered.windows(2) {
            assert_eq!(rpmvercmp(pair[0], pair[1]), Ordering::Less, "{} < {}", pair[0], pair[1]);
            assert_eq!(rpmvercmp(pair[1], pair[0]), Ordering::Greater, "{} > {}", pair[1], pair[0]);
        }
    }

    #[test]
    fn numbers_beat_letters_and_leading_zeros_do_not_count() {
        assert_eq!(rpmvercmp("1.0a", "1.0.1"), Ordering::Less);
        assert_eq!(rpmvercmp("1.010", "1.10"), Ordering::Equal);
        assert_eq!(rpmvercmp("1.0", "1_0"), Ordering::Equal);
        assert_eq!(rpmvercmp("2.0", "10.0"), Ordering::Less);
    }

    #[test]
    fn the_epoch_outweighs_version_and_release_and_a_release_outweighs_none() {
        assert_eq!(compare("1:1.0-1", "9.0-9"), Ordering::Greater);
        assert_eq!(compare("0:1.0-1", "1.0-1"), Ordering::Equal);
        assert_eq!(compare("1.0", "1.0-0"), Ordering::Less);
        assert_eq!(compare("1.0-1.el9", "1.0-1.el9_2"), Ordering::Less);
    }

    #[test]
    fn versions_rpmbuild_refuses_are_not_valid() {
        for v in ["", "1.0-", "-1", "1:", "1.0:2", "1.0 1", "1.0-1-é"] {
            assert!(!is_valid(v), "{v:?}");
        }
        for v in ["1.0", "2:1.0-1.el9_3", "1.0~rc1^git2-0.1", "1_2+3"] {
            assert!(is_valid(v), "{v:?}");
        }
    }
}
