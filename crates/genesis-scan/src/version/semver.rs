//! npm's and Cargo's version ordering: Semantic Versioning 2.0.0 precedence (semver.org §11:
//! major, minor and patch as numbers; a pre-release below its release, its dot-separated
//! identifiers compared numerically when all digits, else as ASCII text, numeric below
//! text, and more identifiers above fewer; build metadata ignored), read by the `semver`
//! crate.
//!
//! With npm's leniency (node-semver's `clean`): blanks around the version and a leading `v`
//! or `=` are ignored. A string that is still not semver is read the way node-semver's loose
//! mode and `coerce` read one: one to three numbers, leading zeros allowed and a missing
//! minor or patch read as 0 (`1.2` is `1.2.0`), then an optional semver pre-release and
//! build. [`is_valid`] says false for those; a string not even that sorts below every
//! version (see [`cmp_parsed`]).

use std::cmp::Ordering;

use ::semver::{Prerelease, Version};

use super::cmp_parsed;

/// Compares two npm or Cargo versions.
pub(super) fn compare(a: &str, b: &str) -> Ordering {
    cmp_parsed(a, b, lenient, Version::cmp_precedence)
}

/// Whether `v` is a semantic version, once blanks and a leading `v` or `=` are set aside.
pub(super) fn is_valid(v: &str) -> bool {
    Version::parse(clean(v)).is_ok()
}

/// `v` without the blanks around it and its leading `v`s and `=`s.
fn clean(v: &str) -> &str {
    v.trim().trim_start_matches(['v', '='])
}

/// Reads a version strictly, or else loosely (see the module's documentation).
fn lenient(v: &str) -> Option<Version> {
    let v = clean(v);
    if let Ok(version) = Version::parse(v) {
        return Some(version);
    }
    let v = v.split_once('+').map_or(v, |(v, _build)| v);
    let (core, pre) = match v.split_once('-') {
        Some((core, pre)) => (core, Prerelease::new(pre).ok().filter(|pre| !pre.is_empty())?),
        None => (v, Prerelease::EMPTY),
    };
    let mut numbers = core.split('.').map(loose_number);
    let major = numbers.next().flatten()?;
    let minor = numbers.next().unwrap_or(Some(0))?;
    let patch = numbers.next().unwrap_or(Some(0))?;
    if numbers.next().is_some() {
        return None;
    }
    Some(Version { pre, ..Version::new(major, minor, patch) })
}

/// A number of the loose reading: ASCII digits only (`parse` alone would take a `+` too).
fn loose_number(n: &str) -> Option<u64> {
    n.bytes().all(|b| b.is_ascii_digit()).then(|| n.parse().ok())?
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn loose_versions_are_read_as_node_semver_coerces_them() {
        assert_eq!(compare("1.2", "1.2.0"), Ordering::Equal);
        assert_eq!(compare("01.2.3", "1.2.3"), Ordering::Equal);
        assert_eq!(compare("1.2-beta", "1.2.0-alpha"), Ordering::Greater);
        assert_eq!(compare("1", "0.9.9"), Ordering::Greater);
        assert!(!is_valid("1.2"));
    }

    #[test]
    fn what_is_not_even_a_loose_version_sorts_below_every_version() {
        for junk in ["latest", "", "1.2.3.4", "1.x", "1.2.3-", "99999999999999999999999.0.0"] {
            assert_eq!(compare(junk, "0.0.0-0"), Ordering::Less, "{junk:?}");
            assert!(!is_valid(junk), "{junk:?}");
        }
    }
}
