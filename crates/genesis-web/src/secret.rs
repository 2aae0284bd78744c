//! The secrets a browser holds for a server (session cookies, CSRF and sign-in form tokens):
//! 32 random bytes from the operating system, written as lowercase hex, kept by the server
//! only as their SHA-256 where a copy of its store must sign no one in, and compared in time
//! that does not tell an attacker how much of a guess was right.

use rand_core::RngCore as _;
use sha2::{Digest as _, Sha256};

/// 32 random bytes from the operating system, lowercase hex (64 characters).
pub fn random_token() -> String {
    let mut bytes = [0; 32];
    rand_core::OsRng.fill_bytes(&mut bytes);
    hex::encode(bytes)
}

/// Whether `value` has the form of a [`random_token`]: 64 lowercase hex digits. A cookie of
/// any other form is not ours and is ignored before it is hashed or looked up.
pub fn is_token(value: &str) -> bool {
    value.len() == 64 && value.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f'))
}

/// What a server keeps of `token`: its SHA-256, lowercase hex.
pub fn hash(token: &str) -> String {
    hex::encode(Sha256::digest(token.as_bytes()))
}

/// Whether two secrets are equal, in time that depends on their length only, not on where they
/// differ. Two empty strings are equal: callers refuse an empty token themselves.
pub fn same(a: &str, b: &str) -> bool {
    a.len() == b.len() && a.bytes().zip(b.bytes()).fold(0u8, |diff, (x, y)| diff | (x ^ y)) == 0
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::cookie::tests::TOKEN;

    #[test]
    fn only_our_tokens_are_taken_for_sessions() {
        assert!(is_token(TOKEN));
        assert!(!is_token(&TOKEN.to_uppercase()));
        assert!(!is_token(&TOKEN[1..]));
        assert!(!is_token(""));
        let fresh = random_token();
        assert!(is_token(&fresh), "{fresh}");
        assert_ne!(fresh, random_token());
    }

    #[test]
    fn a_token_is_kept_as_its_sha256() {
        assert_eq!(hash(""), "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855");
        assert_eq!(hash("abc"), "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad");
        assert!(is_token(&hash(TOKEN)), "a hash has a token's form, and is not the token");
        assert_ne!(hash(TOKEN), TOKEN);
    }

    #[test]
    fn secrets_compare_equal_only_when_equal() {
        assert!(same(TOKEN, TOKEN));
        assert!(!same(TOKEN, &TOKEN[1..]));
        assert!(!same(TOKEN, &format!("{}0", &TOKEN[..63])));
        assert!(same("", ""), "callers refuse empty tokens themselves");
    }
}
