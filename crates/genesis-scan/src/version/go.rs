//! Go's module version ordering, as `golang.org/x/mod/semver` defines it and the Go Modules
//! Reference (go.dev/ref/mod, "Versions" and "Pseudo-versions") describes it: semver 2.0.0
//! precedence over `vMAJOR.MINOR.PATCH[-pre][+build]`, where `v1` and `v1.2` are shorthands
//! for `v1.0.0` and `v1.2.0`. Build metadata is ignored, so `v2.0.0+incompatible` equals
//! `v2.0.0`. A pseudo-version is an ordinary pre-release and sorts as one:
//! `v1.2.4-0.20191109021931-daa7c04131f5` after `v1.2.3` and before `v1.2.4-rc1` and `v1.2.4`,
//! `v0.0.0-20191109021931-daa7c04131f5` before every tagged `v0` version, pseudo-versions of
//! one base in the order of their timestamps.
//!
//! The leading `v` is optional here, because OSV's Go records write versions without it
//! (`1.2.3`, and `0` for "since the beginning") while a binary's build info writes them with
//! it. Numbers beyond 64 bits, which Go would accept and no module uses, are not. A string
//! that is no Go version sorts below every version, as `semver.Compare` sorts it (see
//! [`cmp_parsed`]).

use std::cmp::Ordering;

use ::semver::Version;

use super::cmp_parsed;

/// Compares two Go module versions.
pub(super) fn compare(a: &str, b: &str) -> Ordering {
    cmp_parsed(a, b, parse, Version::cmp_precedence)
}

/// Whether `v` is a Go module version (with or without its leading `v`).
pub(super) fn is_valid(v: &str) -> bool {
    parse(v).is_some()
}

/// Reads a Go version, expanding the shorthands `1` and `1.2`.
fn parse(v: &str) -> Option<Version> {
    let v = v.strip_prefix('v').unwrap_or(v);
    let shorthand = v.bytes().all(|b| b.is_ascii_digit() || b == b'.');
    let version = match v.split('.').count() {
        1 if shorthand => Version::parse(&format!("{v}.0.0")),
        2 if shorthand => Version::parse(&format!("{v}.0")),
        _ => Version::parse(v),
    };
    version.ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn shorthands_and_the_missing_v_read_as_the_full_version() {
        assert_eq!(compare("v1", "v1.0.0"), Ordering::Equal);
        assert_eq!(compare("v1.2", "1.2.0"), Ordering::Equal);
        assert_eq!(compare("0", "v0.0.1"), Ordering::Less);
    }

    #[test]
    fn what_go_refuses_is_not_valid() {
        for v in ["", "v", "v01.2.3", "v1.2.3-01", "v1.", "v1-pre", "v1.2-pre", "v1.2.3.4", "V1.2.3", "v1.2.3+"] {
            assert!(!is_valid(v), "{v:?}");
        }
    }
}
