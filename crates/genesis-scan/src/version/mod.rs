//! Version ordering, each ecosystem by its own rules: an OSV range is only as right as the
//! comparison that places an installed version in it, and the rules differ where it matters
//! (`1.0~rc1` is older than `1.0` for dpkg and rpm, `1.0-1` is a post-release for PEP 440, a
//! Go pseudo-version sorts below the release it precedes).
//!
//! Each module implements its ecosystem's specification and says where it comes from; the
//! tests judge it against the ecosystem's own tools. Any string is accepted and ordered:
//! dpkg, rpm and apk order every string as their tools do, and a string that is not a
//! PEP 440, semver or Go version sorts below every version that is, and among such strings
//! runs of digits compare as numbers. [`is_valid`] tells the two apart, so that a caller can
//! report what it cannot compare rather than guess.

mod apk;
mod dpkg;
mod go;
mod pep440;
mod rpm;
mod semver;

use std::cmp::Ordering;

use genesis_inventory::PackageKind;

/// Compares two versions of `kind`'s ecosystem with that ecosystem's own ordering: dpkg for
/// Debian packages, rpmvercmp for RPM, apk-tools' for Alpine, PEP 440 for Python, semver
/// precedence for npm and Cargo, Go's module version ordering for Go.
///
/// ```
/// use std::cmp::Ordering;
///
/// use genesis_inventory::PackageKind;
/// use genesis_scan::version::compare;
///
/// assert_eq!(compare(PackageKind::Deb, "3.0.11-1~deb12u2", "3.0.11-1"), Ordering::Less);
/// assert_eq!(compare(PackageKind::Pypi, "1.0.RC1", "1.0rc1"), Ordering::Equal);
/// assert_eq!(compare(PackageKind::Golang, "v0.0.0-20210101000000-abcdef123456", "v0.0.0"), Ordering::Less);
/// ```
pub fn compare(kind: PackageKind, a: &str, b: &str) -> Ordering {
    match kind {
        PackageKind::Deb => dpkg::compare(a, b),
        PackageKind::Apk => apk::compare(a, b),
        PackageKind::Rpm => rpm::compare(a, b),
        PackageKind::Pypi => pep440::compare(a, b),
        PackageKind::Npm | PackageKind::Cargo => semver::compare(a, b),
        PackageKind::Golang => go::compare(a, b),
    }
}

/// Whether `v` is a version `kind`'s ecosystem accepts, so that [`compare`] orders it by the
/// ecosystem's rules rather than by a fallback. A record or package whose version is not
/// valid should be reported as not comparable rather than matched by guesswork.
pub fn is_valid(kind: PackageKind, v: &str) -> bool {
    match kind {
        PackageKind::Deb => dpkg::is_valid(v),
        PackageKind::Apk => apk::is_valid(v),
        PackageKind::Rpm => rpm::is_valid(v),
        PackageKind::Pypi => pep440::is_valid(v),
        PackageKind::Npm | PackageKind::Cargo => semver::is_valid(v),
        PackageKind::Golang => go::is_valid(v),
    }
}

/// Compares two runs of ASCII digits as the numbers they write, however long: leading zeros
/// do not count, and of two numbers without them the longer is the larger.
fn cmp_digits(a: &str, b: &str) -> Ordering {
    let a = a.trim_start_matches('0');
    let b = b.trim_start_matches('0');
    a.len().cmp(&b.len()).then_with(|| a.cmp(b))
}

/// Orders two versions by their parsed form when both parse. A string that does not parse
/// sorts below every one that does (Go's `semver.Compare` does the same), and two such strings
/// in [`cmp_natural`] order, so that the order stays total and deterministic.
fn cmp_parsed<'a, T>(
    a: &'a str,
    b: &'a str,
    parse: impl Fn(&'a str) -> Option<T>,
    cmp: impl Fn(&T, &T) -> Ordering,
) -> Ordering {
    match (parse(a), parse(b)) {
        (Some(a), Some(b)) => cmp(&a, &b),
        (Some(_), None) => Ordering::Greater,
        (None, Some(_)) => Ordering::Less,
        (None, None) => cmp_natural(a, b),
    }
}

/// The order of strings that are no version of their ecosystem: runs of ASCII digits compare
/// as numbers, other runs byte by byte, a string that runs out first is the smaller, and
/// strings equal so far (`01` and `1`) are told apart by their bytes, so that only equal
/// strings compare equal.
fn cmp_natural(a: &str, b: &str) -> Ordering {
    let (mut x, mut y) = (a, b);
    loop {
        let ((x_run, x_rest), (y_run, y_rest)) = (split_run(x), split_run(y));
        let order = match (x_run.is_empty(), y_run.is_empty()) {
            (true, true) => return a.cmp(b),
            (true, false) => return Ordering::Less,
            (false, true) => return Ordering::Greater,
            (false, false) if starts_with_digit(x_run) && starts_with_digit(y_run) => cmp_digits(x_run, y_run),
            (false, false) => x_run.cmp(y_run),
        };
        if order != Ordering::Equal {
            return order;
        }
        (x, y) = (x_rest, y_rest);
    }
}

/// Splits off the longest leading run of ASCII digits, or of anything else.
fn split_run(s: &str) -> (&str, &str) {
    let digits = starts_with_digit(s);
    let end = s.bytes().position(|b| b.is_ascii_digit() != digits).unwrap_or(s.len());
    s.split_at(end)
}

/// Whether `s` starts with an ASCII digit.
fn starts_with_digit(s: &str) -> bool {
    s.bytes().next().is_some_and(|b| b.is_ascii_digit())
}

/// The longest leading run of ASCII digits of `s`, and the rest.
fn split_digits(s: &str) -> (&str, &str) {
    s.split_at(s.bytes().position(|b| !b.is_ascii_digit()).unwrap_or(s.len()))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn digit_runs_compare_as_numbers_of_any_length() {
        assert_eq!(cmp_digits("9", "10"), Ordering::Less);
        assert_eq!(cmp_digits("007", "7"), Ordering::Equal);
        assert_eq!(cmp_digits("", "0"), Ordering::Equal);
        assert_eq!(cmp_digits("123456789012345678901234567890", "123456789012345678901234567889"), Ordering::Greater);
    }

    #[test]
    fn strings_that_are_no_version_sort_naturally_and_equal_only_when_identical() {
        assert_eq!(cmp_natural("build9", "build10"), Ordering::Less);
        assert_eq!(cmp_natural("abc", "abd"), Ordering::Less);
        assert_eq!(cmp_natural("x", "x1"), Ordering::Less);
        assert_eq!(cmp_natural("01", "1"), Ordering::Less);
        assert_eq!(cmp_natural("same", "same"), Ordering::Equal);
        assert_eq!(cmp_natural("", ""), Ordering::Equal);
    }

    #[test]
    fn a_string_that_does_not_parse_sorts_below_every_one_that_does() {
        let parse = |s: &str| s.parse::<u32>().ok();
        assert_eq!(cmp_parsed("junk", "0", parse, Ord::cmp), Ordering::Less);
        assert_eq!(cmp_parsed("7", "junk", parse, Ord::cmp), Ordering::Greater);
        assert_eq!(cmp_parsed("10", "9", parse, Ord::cmp), Ordering::Greater);
        assert_eq!(cmp_parsed("junk2", "junk10", parse, Ord::cmp), Ordering::Less);
    }
}
