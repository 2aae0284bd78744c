//! Debian's version ordering, from Debian Policy §5.6.12 ("Version") and deb-version(7):
//! `[epoch:]upstream_version[-debian_revision]`, compared epoch first (a number), then the
//! upstream version, then the revision. Each of those two is compared as alternating runs
//! of non-digits, character by character (`~` before everything, even the end of the run;
//! then the end; then letters; then every other character), and of digits, as numbers.
//!
//! Every string is ordered the way `dpkg --compare-versions` orders it, including the ones
//! dpkg only warns about (an upstream version not starting with a digit, a character outside
//! the allowed set); [`is_valid`] says false for those and for the ones dpkg refuses (a
//! missing or non-numeric epoch, an empty revision), which are ordered with their epoch read
//! as 0.

use std::cmp::Ordering;

use super::{cmp_digits, split_digits, starts_with_digit};

/// Compares two Debian versions.
pub(super) fn compare(a: &str, b: &str) -> Ordering {
    let (a, b) = (Version::split(a), Version::split(b));
    cmp_digits(a.epoch, b.epoch)
        .then_with(|| cmp_part(a.upstream, b.upstream))
        .then_with(|| cmp_part(a.revision, b.revision))
}

/// Whether dpkg accepts `v` without an error or a warning: an epoch, when there is one, of
/// digits that fit a C `int` (dpkg reads it into one and refuses a larger one); an upstream
/// version that starts with a digit and holds only alphanumerics and `.+~-:` (a hyphen only
/// when there is a revision, since the revision starts after the last one); a revision,
/// when there is one, not empty and holding only alphanumerics and `.+~`; no blank inside.
pub(super) fn is_valid(v: &str) -> bool {
    let v = trim_blanks(v);
    if v.is_empty() || v.contains(is_blank) {
        return false;
    }
    let rest = match v.split_once(':') {
        Some((epoch, rest)) => {
            if epoch.is_empty() || !epoch.bytes().all(|b| b.is_ascii_digit()) || epoch.parse::<i32>().is_err() {
                return false;
            }
            rest
        }
        None => v,
    };
    let (upstream, revision) = match rest.rsplit_once('-') {
        Some((upstream, revision)) if !revision.is_empty() => (upstream, revision),
        Some(_) => return false,
        None => (rest, ""),
    };
    starts_with_digit(upstream)
        && upstream.bytes().all(|b| b.is_ascii_alphanumeric() || b".+~-:".contains(&b))
        && revision.bytes().all(|b| b.is_ascii_alphanumeric() || b".+~".contains(&b))
}

/// The three parts of a Debian version.
struct Version<'a> {
    /// Digits; empty when the version has no epoch (or one dpkg would refuse), read as 0.
    epoch: &'a str,
    upstream: &'a str,
    /// Empty when the version has none, which compares as `0` would.
    revision: &'a str,
}

impl<'a> Version<'a> {
    /// Splits a version as dpkg does: the epoch before the first colon, the revision after
    /// the last hyphen, blanks around the whole ignored.
    fn split(v: &'a str) -> Self {
        let v = trim_blanks(v);
        let (epoch, rest) = match v.split_once(':') {
            Some((epoch, rest)) if epoch.bytes().all(|b| b.is_ascii_digit()) => (epoch, rest),
            _ => ("", v),
        };
        let (upstream, revision) = rest.rsplit_once('-').unwrap_or((rest, ""));
        Version { epoch, upstream, revision }
    }
}

/// Compares an upstream version or a revision: the leading non-digits of each in
/// [`weight`] order, then the leading digits as numbers (none counts as 0), and so on until
/// both are used up.
fn cmp_part(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (a, b);
    while !a.is_empty() || !b.is_empty() {
        let (a_text, a_rest) = split_text(a);
        let (b_text, b_rest) = split_text(b);
        let order = cmp_text(a_text.as_bytes(), b_text.as_bytes());
        if order.is_ne() {
            return order;
        }
        let (a_number, a_rest) = split_digits(a_rest);
        let (b_number, b_rest) = split_digits(b_rest);
        let order = cmp_digits(a_number, b_number);
        if order.is_ne() {
            return order;
        }
        (a, b) = (a_rest, b_rest);
    }
    Ordering::Equal
}

/// Compares two runs of non-digits character by character; a run that ends weighs as its
/// end, which is below everything but `~`.
fn cmp_text(a: &[u8], b: &[u8]) -> Ordering {
    (0..a.len().max(b.len()))
        .map(|i| weight(a.get(i).copied()).cmp(&weight(b.get(i).copied())))
        .find(|order| order.is_ne())
        .unwrap_or(Ordering::Equal)
}

/// A character's weight in dpkg's order: `~` lowest, then the end of the run, then
/// letters, then everything else (bytes outside ASCII, which dpkg warns about, by their
/// unsigned value).
fn weight(c: Option<u8>) -> i32 {
    match c {
        None => 0,
        Some(b'~') => -1,
        Some(c) if c.is_ascii_alphabetic() => i32::from(c),
        Some(c) => i32::from(c) + 256,
    }
}

/// The longest leading run of non-digits of `s`, and the rest.
fn split_text(s: &str) -> (&str, &str) {
    s.split_at(s.bytes().position(|b| b.is_ascii_digit()).unwrap_or(s.len()))
}

/// Spaces and tabs, which dpkg ignores around a version and refuses inside one.
fn is_blank(c: char) -> bool {
    c == ' ' || c == '\t'
}

/// `v` without the blanks around it.
fn trim_blanks(v: &str) -> &str {
    v.trim_matches(is_blank)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn policy_examples_order_as_the_policy_says() {
        // Debian Policy §5.6.12: `~~` < `~~a` < `~` < (the empty part) < `a`.
        for (a, b) in [("1.0~~", "1.0~~a"), ("1.0~~a", "1.0~"), ("1.0~", "1.0"), ("1.0", "1.0a")] {
            assert_eq!(compare(a, b), Ordering::Less, "{a} < {b}");
        }
    }

    #[test]
    fn a_missing_epoch_is_zero_and_a_missing_revision_is_zero() {
        assert_eq!(compare("0:1.0", "1.0"), Ordering::Equal);
        assert_eq!(compare("1.0-0", "1.0"), Ordering::Equal);
        assert_eq!(compare("1:0.1", "9.9"), Ordering::Greater);
    }

    #[test]
    fn versions_dpkg_refuses_are_not_valid() {
        for v in ["", "1.0-", ":1.0", "x:1.0", "1.0 2", "a1.0", "1.0_1", "1.0-a_b", "2147483648:1"] {
            assert!(!is_valid(v), "{v:?}");
        }
        for v in ["1.0", " 1.0 ", "1:2:3", "2147483647:1", "3.0.11-1~deb12u2", "1.2-3-4"] {
            assert!(is_valid(v), "{v:?}");
        }
    }
}
