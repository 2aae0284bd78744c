//! The trust policy: what a verifier accepts. There is no `Default`: a policy exists only
//! once the operator has named at least one key.

use crate::keys::{KeyFingerprint, PublicKey};
use crate::{Result, TrustError};

/// The keys a bundle's BOM may be signed by. Any one of them suffices.
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    keys: Vec<PublicKey>,
    constraints: crate::policy_file::Constraints,
}

impl TrustPolicy {
    /// A policy trusting each of `keys`. Refuses an empty list: no key, no trust.
    pub fn from_keys(keys: Vec<PublicKey>) -> Result<TrustPolicy> {
        if keys.is_empty() {
            return Err(TrustError::NoTrustedKey);
        }
        Ok(TrustPolicy { keys, constraints: Default::default() })
    }

    /// The same keys, with the name, version and anti-rollback constraints of a policy file.
    pub fn with_constraints(mut self, constraints: crate::policy_file::Constraints) -> TrustPolicy {
        self.constraints = constraints;
        self
    }

    /// The constraints beyond the keys.
    pub fn constraints(&self) -> &crate::policy_file::Constraints {
        &self.constraints
    }

    /// The trusted keys.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// The first trusted key that verifies `der` over `message`.
    pub fn key_for(&self, message: &[u8], der: &[u8]) -> Option<&PublicKey> {
        self.keys.iter().find(|k| k.verifies(message, der))
    }

    /// The first trusted key that verifies `der` over a message with SHA-256 `digest`.
    pub fn key_for_digest(&self, digest: &[u8; 32], der: &[u8]) -> Option<KeyFingerprint> {
        self.keys.iter().find(|k| k.verifies_sha256_digest(digest, der)).map(PublicKey::fingerprint)
    }

    /// Fingerprints of every trusted key, for error messages.
    pub fn describe(&self) -> String {
        self.keys.iter().map(|k| k.fingerprint().to_string()).collect::<Vec<_>>().join(", ")
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::PrivateKey;

    #[test]
    fn any_of_truth_table() {
        let (a, b, c) = (PrivateKey::generate(), PrivateKey::generate(), PrivateKey::generate());
        let sig = a.sign(b"m");
        assert!(TrustPolicy::from_keys(vec![]).is_err());
        let cases = [
            (vec![a.public_key()], true),
            (vec![b.public_key()], false),
            (vec![b.public_key(), a.public_key()], true),
            (vec![b.public_key(), c.public_key()], false),
        ];
        for (keys, ok) in cases {
            let p = TrustPolicy::from_keys(keys).unwrap();
            assert_eq!(p.key_for(b"m", &sig).is_some(), ok);
        }
    }
}
