//! Who a signature was accepted from, in one type for every place that says it: the reports
//! print it, install records and the anti-rollback state keep it, a policy's `signedBy`
//! matches it. A key is known by its fingerprint and a keyless signer by the identity its
//! certificate names, never by the certificate: a Fulcio certificate lives ten minutes, the
//! identity is what the policy trusts.

use crate::PublicKey;

/// Who a verified signature over a BOM is from: what reports print, install records and the
/// anti-rollback state keep, and a policy's `signedBy` matches.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
#[serde(tag = "kind", rename_all = "camelCase")]
pub enum AcceptedSigner {
    /// A trusted key, by fingerprint ("SHA256:…", as KeyFingerprint displays).
    Key {
        /// The key's fingerprint.
        fingerprint: String,
    },
    /// A keyless certificate: its SAN and the OIDC issuer it records.
    Identity {
        /// The certificate's subject alternative name (an e-mail or a URI).
        subject: String,
        /// The OIDC issuer the certificate records.
        issuer: String,
    },
}

impl AcceptedSigner {
    /// The signer `key` is.
    pub fn key(key: &PublicKey) -> AcceptedSigner {
        AcceptedSigner::Key { fingerprint: key.fingerprint().to_string() }
    }
}

impl std::fmt::Display for AcceptedSigner {
    /// `key SHA256:…` or `identity SAN (issuer ISS)`, as a verdict on a blob says its signer.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        match self {
            AcceptedSigner::Key { fingerprint } => write!(f, "key {fingerprint}"),
            AcceptedSigner::Identity { subject, issuer } => write_identity(f, subject, issuer),
        }
    }
}

/// How an identity reads in every message and report, `identity SUBJECT (issuer ISS)`: the
/// SAN of a certificate that signed, or a policy's subject (exact, or `/pattern/`).
pub(crate) fn write_identity(
    f: &mut std::fmt::Formatter<'_>,
    subject: &dyn std::fmt::Display,
    issuer: &str,
) -> std::fmt::Result {
    write!(f, "identity {subject} (issuer {issuer})")
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The JSON an install record keeps, and the text a report prints, for each kind.
    #[test]
    fn a_signer_reads_as_its_kind_in_json_and_text() {
        let key = crate::PrivateKey::generate().public_key();
        let signer = AcceptedSigner::key(&key);
        assert_eq!(signer.to_string(), format!("key {}", key.fingerprint()));
        assert_eq!(
            serde_json::to_value(&signer).unwrap(),
            serde_json::json!({"kind": "key", "fingerprint": key.fingerprint().to_string()})
        );
        let identity = AcceptedSigner::Identity { subject: "ci@acme.example".into(), issuer: "https://idp".into() };
        assert_eq!(identity.to_string(), "identity ci@acme.example (issuer https://idp)");
        let json = serde_json::json!({"kind": "identity", "subject": "ci@acme.example", "issuer": "https://idp"});
        assert_eq!(serde_json::to_value(&identity).unwrap(), json);
        assert_eq!(serde_json::from_value::<AcceptedSigner>(json).unwrap(), identity);
    }
}
