//! Python's version ordering, from PEP 440 (now the PyPA "Version specifiers"
//! specification): `[N!]N(.N)*[{a|b|rc}N][.postN][.devN][+local]`, with the spellings its
//! normalisation section accepts (case-insensitive; a leading `v`; `alpha`, `beta`, `c`,
//! `pre` and `preview` for `a`, `b` and `rc`; `rev` and `r` for `post`, and `1.0-1` for
//! `1.0.post1`; `-`, `_` or `.` before or inside each of those, or nothing; a missing number
//! read as 0).
//!
//! Versions compare by epoch, then release (trailing zeros ignored: `1.0` = `1.0.0`), then
//! pre-release (`a` < `b` < `rc` < none, except that a development release of a final
//! release, `1.0.dev1`, sorts before its pre-releases), then post-release (none first), then
//! development release (after everything else when absent), then local version (none
//! first; segments compared one by one, numbers by value and above any text). This is the
//! sort key of PyPA's `packaging` library, which the tests use as the judge.
//!
//! A string that is not a PEP 440 version sorts below every version that is (PEP 440 gives
//! no order for it, and `packaging` refuses it since version 22).

use std::cmp::Ordering;

use super::{cmp_digits, cmp_parsed, split_digits};

/// Compares two Python versions.
pub(super) fn compare(a: &str, b: &str) -> Ordering {
    cmp_parsed(a, b, parse, Ord::cmp)
}

/// Whether `v` is a PEP 440 version in one of its accepted spellings.
pub(super) fn is_valid(v: &str) -> bool {
    parse(v).is_some()
}

/// What a version is ordered by; the fields in order of significance.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
struct Key<'a> {
    epoch: Number<'a>,
    /// Without trailing zeros (`1.0` is `1`).
    release: Vec<Number<'a>>,
    pre: Pre<'a>,
    post: Option<Number<'a>>,
    dev: Dev<'a>,
    local: Option<Vec<Local<'a>>>,
}

/// A number written in decimal, of any length.
#[derive(Debug, PartialEq, Eq)]
struct Number<'a>(&'a str);

impl<'a> Number<'a> {
    fn new(digits: &'a str) -> Self {
        Number(digits.trim_start_matches('0'))
    }

    fn is_zero(&self) -> bool {
        self.0.is_empty()
    }
}

impl Ord for Number<'_> {
    fn cmp(&self, other: &Self) -> Ordering {
        cmp_digits(self.0, other.0)
    }
}

impl PartialOrd for Number<'_> {
    fn partial_cmp(&self, other: &Self) -> Option<Ordering> {
        Some(self.cmp(other))
    }
}

/// The pre-release part of the key.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Pre<'a> {
    /// No pre- or post-release but a development release: before every pre-release.
    DevelopmentOfFinal,
    /// A pre-release: alpha, beta or release candidate, and its number.
    Release(Phase, Number<'a>),
    /// No pre-release.
    Final,
}

/// The pre-release phases, in order.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Phase {
    Alpha,
    Beta,
    ReleaseCandidate,
}

/// The development-release part of the key: a development release comes first.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Dev<'a> {
    Development(Number<'a>),
    NotDevelopment,
}

/// A segment of a local version label: text (lowercased) sorts before numbers.
#[derive(Debug, PartialEq, Eq, PartialOrd, Ord)]
enum Local<'a> {
    Text(String),
    Number(Number<'a>),
}

/// Spellings of the pre-release phases, each before any of its own prefixes.
const PHASES: [(&str, Phase); 8] = [
    ("alpha", Phase::Alpha),
    ("beta", Phase::Beta),
    ("preview", Phase::ReleaseCandidate),
    ("pre", Phase::ReleaseCandidate),
    ("rc", Phase::ReleaseCandidate),
    ("a", Phase::Alpha),
    ("b", Phase::Beta),
    ("c", Phase::ReleaseCandidate),
];

/// Spellings of a post-release, each before any of its own prefixes.
const POST: [&str; 3] = ["post", "rev", "r"];

/// Reads a version in any spelling PEP 440 accepts. Where a separator could belong to two
/// parts, taking it for the first is the only reading that can succeed, so no backtracking
/// is needed.
fn parse(v: &str) -> Option<Key<'_>> {
    let mut c = Cursor(v.trim());
    c.keyword(&["v"]);
    let epoch = c.attempt(|c| c.number().filter(|_| c.byte(b'!'))).unwrap_or("");
    let mut release = vec![Number::new(c.number()?)];
    while let Some(n) = c.attempt(|c| if c.byte(b'.') { c.number() } else { None }) {
        release.push(Number::new(n));
    }
    while release.last().is_some_and(Number::is_zero) {
        release.pop();
    }
    let pre = c.attempt(|c| {
        c.separator();
        let phase = PHASES[c.keyword(&PHASES.map(|(name, _)| name))?].1;
        c.separator();
        Some((phase, c.number().unwrap_or("")))
    });
    let post = c.attempt(|c| if c.byte(b'-') { c.number() } else { None }).or_else(|| {
        c.attempt(|c| {
            c.separator();
            c.keyword(&POST)?;
            c.separator();
            Some(c.number().unwrap_or(""))
        })
    });
    let dev = c.attempt(|c| {
        c.separator();
        c.keyword(&["dev"])?;
        c.separator();
        Some(c.number().unwrap_or(""))
    });
    let local = if c.byte(b'+') { Some(local_label(std::mem::take(&mut c.0))?) } else { None };
    if !c.0.is_empty() {
        return None;
    }
    Some(Key {
        epoch: Number::new(epoch),
        release,
        pre: match (pre, &post, &dev) {
            (Some((phase, n)), _, _) => Pre::Release(phase, Number::new(n)),
            (None, None, Some(_)) => Pre::DevelopmentOfFinal,
            (None, _, _) => Pre::Final,
        },
        post: post.map(Number::new),
        dev: dev.map_or(Dev::NotDevelopment, |n| Dev::Development(Number::new(n))),
        local,
    })
}

/// The segments of a local version label (`ubuntu-1.2`): ASCII alphanumerics separated by
/// single `.`, `-` or `_`.
fn local_label(label: &str) -> Option<Vec<Local<'_>>> {
    label
        .split(['.', '-', '_'])
        .map(|segment| {
            if segment.is_empty() || !segment.bytes().all(|b| b.is_ascii_alphanumeric()) {
                None
            } else if segment.bytes().all(|b| b.is_ascii_digit()) {
                Some(Local::Number(Number::new(segment)))
            } else {
                Some(Local::Text(segment.to_ascii_lowercase()))
            }
        })
        .collect()
}

/// What is left of the version being read.
struct Cursor<'a>(&'a str);

impl<'a> Cursor<'a> {
    /// Runs `part`, and puts the cursor back where it was when `part` finds nothing.
    fn attempt<T>(&mut self, part: impl FnOnce(&mut Self) -> Option<T>) -> Option<T> {
        let start = self.0;
        let found = part(self);
        if found.is_none() {
            self.0 = start;
        }
        found
    }

    /// The leading digits, if any.
    fn number(&mut self) -> Option<&'a str> {
        let (digits, rest) = split_digits(self.0);
        self.0 = rest;
        Some(digits).filter(|d| !d.is_empty())
    }

    /// Whether the next byte is `b`, taking it if so.
    fn byte(&mut self, b: u8) -> bool {
        let found = self.0.as_bytes().first() == Some(&b);
        if found {
            self.0 = &self.0[1..];
        }
        found
    }

    /// Takes one `-`, `_` or `.` if one is next.
    fn separator(&mut self) {
        self.0 = self.0.strip_prefix(|c: char| matches!(c, '-' | '_' | '.')).unwrap_or(self.0);
    }

    /// The index of the first of `words` the rest starts with, ignoring case, taking it.
    fn keyword(&mut self, words: &[&str]) -> Option<usize> {
        let i = words.iter().position(|w| self.0.get(..w.len()).is_some_and(|s| s.eq_ignore_ascii_case(w)))?;
        self.0 = &self.0[words[i].len()..];
        Some(i)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_specifications_summary_ordering_holds() {
        // The "Summary of permitted suffixes and relative ordering" example of PEP 440.
        let ordered = [
            "1.dev0",
            "1.0.dev456",
            "1.0a1",
            "1.0a2.dev456",
            "1.0a12.dev456",
            "1.0a12",
            "1.0b1.dev456",
            "1.0b2",
            "1.0b2.post345.dev456",
            "1.0b2.post345",
            "1.0rc1.dev456",
            "1.0rc1",
            "1.0",
            "1.0+abc.5",
            "1.0+abc.7",
            "1.0+5",
            "1.0.post456.dev34",
            "1.0.post456",
            "1.0.15",
            "1.1.dev1",
        ];
        for pair in ordered.windows(2) {
            assert_eq!(compare(pair[0], pair[1]), Ordering::Less, "{} < {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn other_spellings_normalise_to_the_same_version() {
        for (a, b) in [
            ("1.0-post1", "1.0.post1"),
            ("1.0.RC1", "1.0rc1"),
            ("1.0c1", "1.0rc1"),
            ("v1.0-1", "1.0.post1"),
            ("1.0_alpha-2", "1.0a2"),
            ("1!2.0", "1!2.0.0"),
            ("1.0.dev", "1.0.dev0"),
            ("1.0+Ubuntu-1", "1.0+ubuntu.1"),
        ] {
            assert_eq!(compare(a, b), Ordering::Equal, "{a} = {b}");
        }
    }

    #[test]
    fn strings_that_are_not_versions_are_refused() {
        for v in ["", "1.0-foo", "1..0", "1.0+", "1.0+a..b", "a1", "1.0a1a", "1.0 2", "0x1"] {
            assert!(!is_valid(v), "{v:?}");
        }
    }
}
