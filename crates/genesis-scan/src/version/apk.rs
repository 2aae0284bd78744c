//! Alpine's version ordering, as apk-tools defines it (`src/version.c` and the vectors of
//! `test/unit/version.data` in alpinelinux/apk-tools): a version is
//! `digits{.digits}[letter]{_suffix[digits]}[~hash][-rdigits]`, read as a sequence of tokens
//! of increasing kind, and two versions are compared token by token:
//!
//! - numbers by value, except that a dot-separated number with a leading zero (in either
//!   version) compares as text, as Gentoo does (`1.01` < `1.1` < `1.10`);
//! - the letter by its byte;
//! - suffixes in the order `_alpha` < `_beta` < `_pre` < `_rc` < (none) < `_cvs` < `_svn` <
//!   `_git` < `_hg` < `_p`;
//! - the commit hash (`~` and lowercase hex digits) as text; the `-r` revision by value.
//!
//! When one version runs out of tokens, or reaches a token of another kind, first: a
//! pre-release suffix (`_alpha` to `_rc`) there makes its version the older; otherwise the
//! version whose token comes later in the list above is the older (`1.0` < `1.0.1`, `1.0-r1` <
//! `1.0.1`, `1.0_p1` < `1.0a`).
//!
//! A version that breaks the grammar is compared the way apk compares it: its tokens up to
//! the break as usual, the break itself as a token kind after all others; [`is_valid`] says
//! false for it.

use std::cmp::Ordering;

use super::{cmp_digits, split_digits};

/// Compares two Alpine versions.
pub(super) fn compare(a: &str, b: &str) -> Ordering {
    let (mut a, mut b) = (Tokens::new(a), Tokens::new(b));
    loop {
        let (x, y) = (a.next_token(), b.next_token());
        if x.kind != y.kind || x.kind >= Kind::End {
            return cmp_ends(&x, &y);
        }
        let order = cmp_tokens(&x, &y);
        if order.is_ne() {
            return order;
        }
    }
}

/// Whether `v` follows apk's version grammar.
pub(super) fn is_valid(v: &str) -> bool {
    let mut tokens = Tokens::new(v);
    loop {
        match tokens.next_token().kind {
            Kind::End => return true,
            Kind::Invalid => return false,
            _ => {}
        }
    }
}

/// The kinds of token, in the order the grammar allows them.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Kind {
    /// The leading number.
    InitialNumber,
    /// A number after a dot.
    Number,
    /// The letter after the numbers.
    Letter,
    /// `_alpha`, `_p`...
    Suffix,
    /// The number of a suffix (`_rc2`).
    SuffixNumber,
    /// `~` and hex digits.
    CommitHash,
    /// The number of `-r`.
    Revision,
    /// The end of the version.
    End,
    /// What breaks the grammar.
    Invalid,
}

/// The suffixes, oldest first; the release itself sits between `Rc` and `Cvs`.
#[derive(Debug, Clone, Copy, PartialEq, Eq, PartialOrd, Ord)]
enum Suffix {
    Alpha,
    Beta,
    Pre,
    Rc,
    Cvs,
    Svn,
    Git,
    Hg,
    P,
}

impl Suffix {
    fn from_name(name: &str) -> Option<Suffix> {
        Some(match name {
            "alpha" => Suffix::Alpha,
            "beta" => Suffix::Beta,
            "pre" => Suffix::Pre,
            "rc" => Suffix::Rc,
            "cvs" => Suffix::Cvs,
            "svn" => Suffix::Svn,
            "git" => Suffix::Git,
            "hg" => Suffix::Hg,
            "p" => Suffix::P,
            _ => return None,
        })
    }

    /// Whether the suffix marks a version older than the release it is attached to.
    fn is_pre_release(self) -> bool {
        self <= Suffix::Rc
    }
}

/// One token of a version: its kind, its text (digits, the letter, the hash) and, for a
/// suffix, which one.
struct Token<'a> {
    kind: Kind,
    text: &'a str,
    suffix: Option<Suffix>,
}

impl<'a> Token<'a> {
    fn new(kind: Kind, text: &'a str) -> Self {
        Token { kind, text, suffix: None }
    }
}

/// Reads a version token by token, each checked against the kind of the one before.
struct Tokens<'a> {
    rest: &'a str,
    previous: Option<Kind>,
}

impl<'a> Tokens<'a> {
    fn new(version: &'a str) -> Self {
        Tokens { rest: version, previous: None }
    }

    /// The next token; once the end or a break is reached, that again.
    fn next_token(&mut self) -> Token<'a> {
        let token = match self.previous {
            None => self.number(Kind::InitialNumber),
            Some(previous @ (Kind::End | Kind::Invalid)) => Token::new(previous, ""),
            Some(previous) => self.after(previous),
        };
        self.previous = Some(token.kind);
        token
    }

    /// The token after one of kind `previous`, which is neither the end nor a break.
    fn after(&mut self, previous: Kind) -> Token<'a> {
        let Some(&first) = self.rest.as_bytes().first() else {
            return Token::new(Kind::End, "");
        };
        match first {
            b'a'..=b'z' if previous <= Kind::Number => {
                let (letter, rest) = self.rest.split_at(1);
                self.rest = rest;
                Token::new(Kind::Letter, letter)
            }
            b'.' if previous <= Kind::Number => {
                self.rest = &self.rest[1..];
                self.number(Kind::Number)
            }
            b'0'..=b'9' if previous == Kind::Suffix => self.number(Kind::SuffixNumber),
            b'_' if previous <= Kind::SuffixNumber => {
                let (name, rest) = split_while(&self.rest[1..], |b| b.is_ascii_lowercase());
                self.rest = rest;
                match Suffix::from_name(name) {
                    Some(suffix) => Token { kind: Kind::Suffix, text: name, suffix: Some(suffix) },
                    None => Token::new(Kind::Invalid, name),
                }
            }
            b'~' if previous < Kind::CommitHash => {
                let (hash, rest) = split_while(&self.rest[1..], |b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b));
                self.rest = rest;
                Token::new(if hash.is_empty() { Kind::Invalid } else { Kind::CommitHash }, hash)
            }
            b'-' if previous < Kind::Revision => match self.rest.strip_prefix("-r") {
                Some(rest) => {
                    self.rest = rest;
                    self.number(Kind::Revision)
                }
                None => Token::new(Kind::Invalid, ""),
            },
            _ => Token::new(Kind::Invalid, ""),
        }
    }

    /// A token of `kind` made of the leading digits, a break when there are none.
    fn number(&mut self, kind: Kind) -> Token<'a> {
        let (digits, rest) = split_digits(self.rest);
        self.rest = rest;
        Token::new(if digits.is_empty() { Kind::Invalid } else { kind }, digits)
    }
}

/// The longest leading run of bytes of `s` that `keep` accepts (all ASCII), and the rest.
fn split_while(s: &str, keep: impl Fn(u8) -> bool) -> (&str, &str) {
    s.split_at(s.bytes().position(|b| !keep(b)).unwrap_or(s.len()))
}

/// Compares two tokens of the same kind.
fn cmp_tokens(x: &Token<'_>, y: &Token<'_>) -> Ordering {
    match x.kind {
        Kind::Number if x.text.starts_with('0') || y.text.starts_with('0') => x.text.cmp(y.text),
        Kind::InitialNumber | Kind::Number | Kind::SuffixNumber | Kind::Revision => cmp_digits(x.text, y.text),
        Kind::Suffix => x.suffix.cmp(&y.suffix),
        Kind::Letter | Kind::CommitHash | Kind::End | Kind::Invalid => x.text.cmp(y.text),
    }
}

/// Compares two versions equal up to these tokens, which are of different kinds, or both
/// the end, or both a break.
fn cmp_ends(x: &Token<'_>, y: &Token<'_>) -> Ordering {
    let pre_release = |t: &Token<'_>| t.suffix.is_some_and(Suffix::is_pre_release);
    if x.kind == y.kind {
        Ordering::Equal
    } else if pre_release(x) {
        Ordering::Less
    } else if pre_release(y) {
        Ordering::Greater
    } else {
        y.kind.cmp(&x.kind)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pre_release_suffixes_precede_the_release_and_post_release_ones_follow() {
        let ordered =
            ["1.0_alpha", "1.0_beta2", "1.0_pre", "1.0_rc1", "1.0", "1.0-r1", "1.0_cvs", "1.0_git1", "1.0_p1"];
        for pair in ordered.windows(2) {
            assert_eq!(compare(pair[0], pair[1]), Ordering::Less, "{} < {}", pair[0], pair[1]);
        }
    }

    #[test]
    fn a_leading_zero_makes_a_dotted_number_compare_as_text() {
        assert_eq!(compare("1.01", "1.1"), Ordering::Less);
        assert_eq!(compare("1.09", "1.1"), Ordering::Less);
        assert_eq!(compare("1.10", "1.9"), Ordering::Greater);
    }

    #[test]
    fn the_grammar_is_enforced_token_by_token() {
        for v in ["1", "1.2.3a_rc1_p2~abc123-r10"] {
            assert!(is_valid(v), "{v:?}");
        }
        for v in ["", "a", "1a1", "1_foo", "1-r", "1-r1-r2", "1~", "1~A", "1.2.", "1-1"] {
            assert!(!is_valid(v), "{v:?}");
        }
    }
}
