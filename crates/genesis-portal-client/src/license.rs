//! Offline license files: what an organisation is entitled to, until when, signed by the
//! vendor's key as a DSSE envelope. `genesis license verify` checks one with no network, so
//! a site that cannot reach the portal can still show what it is licensed for. A license
//! gates downloads, never the operation of an installed cluster: no tool here refuses to run
//! for want of one.

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use genesis_trust::provenance::sign_envelope;
use genesis_trust::sigstore::verify_dsse;
use genesis_trust::{PrivateKey, PublicKey};
use genesis_types::{Classify, ErrorClass};
use serde::{Deserialize, Serialize};
use time::OffsetDateTime;
use time::format_description::well_known::Rfc3339;

/// DSSE payload type of a license.
pub const LICENSE_PAYLOAD_TYPE: &str = "application/vnd.genesis.license.v1+json";
/// The `schema` every license carries.
pub const LICENSE_SCHEMA: &str = "https://genesis.dev/license/v1";

/// What the organisation may download.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct Entitlement {
    /// The product, e.g. `genesis`.
    pub product: String,
    /// A semver requirement, e.g. `>=3.2, <4`.
    pub versions: String,
}

impl Entitlement {
    /// Whether this entitlement covers `version` of `product`. A requirement that does not
    /// parse covers nothing (fail closed).
    pub fn covers(&self, product: &str, version: &str) -> bool {
        let (Ok(req), Ok(version)) = (semver::VersionReq::parse(&self.versions), semver::Version::parse(version))
        else {
            return false;
        };
        self.product == product && req.matches(&version)
    }
}

/// The signed content of a license file.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct License {
    /// Always [`LICENSE_SCHEMA`].
    pub schema: String,
    /// A unique identifier, for the vendor's records.
    pub license_id: String,
    /// The organisation.
    pub org: String,
    /// What it may download.
    pub entitlements: Vec<Entitlement>,
    /// When it was issued (RFC 3339).
    pub issued: String,
    /// When it stops being valid (RFC 3339).
    pub expires: String,
}

/// Why a license file was refused.
#[derive(Debug, thiserror::Error)]
pub enum LicenseError {
    /// Not a DSSE envelope of a license.
    #[error("not a Genesis license file: {0}")]
    Format(String),
    /// The signature does not verify with the key.
    #[error("the license signature does not verify with key {0}: it was not issued with that key, or was edited")]
    Signature(String),
    /// Past its expiry.
    #[error(
        "the license of `{org}` expired on {expires}; ask the vendor for a new one (installed clusters keep running)"
    )]
    Expired {
        /// The organisation.
        org: String,
        /// When it expired.
        expires: String,
    },
}

/// Every refusal of a license file is a verdict on it.
impl Classify for LicenseError {
    fn class(&self) -> ErrorClass {
        match self {
            LicenseError::Format(_) | LicenseError::Signature(_) | LicenseError::Expired { .. } => ErrorClass::Verdict,
        }
    }
}

impl License {
    /// Signs the license with the vendor key: the license file's bytes.
    pub fn sign(&self, key: &PrivateKey) -> Vec<u8> {
        let payload = serde_json::to_vec(self).expect("a license is JSON");
        sign_envelope(key, LICENSE_PAYLOAD_TYPE, &payload)
    }

    /// Verifies a license file's signature with `key` and its expiry against `now`.
    pub fn verify(file: &[u8], key: &PublicKey, now: OffsetDateTime) -> Result<License, LicenseError> {
        let envelope: serde_json::Value =
            serde_json::from_slice(file).map_err(|e| LicenseError::Format(format!("not JSON ({e})")))?;
        let payload_type =
            verify_dsse(&envelope, key, None).map_err(|_| LicenseError::Signature(key.fingerprint().to_string()))?;
        if payload_type != LICENSE_PAYLOAD_TYPE {
            return Err(LicenseError::Format(format!("payload type `{payload_type}`, not `{LICENSE_PAYLOAD_TYPE}`")));
        }
        let payload = envelope["payload"]
            .as_str()
            .and_then(|p| STANDARD.decode(p).ok())
            .ok_or_else(|| LicenseError::Format("payload is not base64".into()))?;
        let license: License =
            serde_json::from_slice(&payload).map_err(|e| LicenseError::Format(format!("payload: {e}")))?;
        if license.schema != LICENSE_SCHEMA {
            return Err(LicenseError::Format(format!("schema `{}`", license.schema)));
        }
        let expires = OffsetDateTime::parse(&license.expires, &Rfc3339)
            .map_err(|e| LicenseError::Format(format!("expires `{}`: {e}", license.expires)))?;
        if expires <= now {
            return Err(LicenseError::Expired { org: license.org, expires: license.expires });
        }
        Ok(license)
    }

    /// Whether the license covers `version` of `product`.
    pub fn covers(&self, product: &str, version: &str) -> bool {
        self.entitlements.iter().any(|e| e.covers(product, version))
    }
}

#[cfg(test)]
mod tests {
    use genesis_testkit::fuzz::{damaged, edit};
    use proptest::prelude::*;

    use super::*;

    fn license(expires: &str) -> License {
        License {
            schema: LICENSE_SCHEMA.into(),
            license_id: "lic_1".into(),
            org: "acme".into(),
            entitlements: vec![Entitlement { product: "genesis".into(), versions: ">=3.2, <4".into() }],
            issued: "2026-01-01T00:00:00Z".into(),
            expires: expires.into(),
        }
    }

    fn at(text: &str) -> OffsetDateTime {
        OffsetDateTime::parse(text, &Rfc3339).unwrap()
    }

    #[test]
    fn a_signed_license_verifies_offline_until_it_expires() {
        let key = PrivateKey::generate();
        let file = license("2027-01-01T00:00:00Z").sign(&key);
        let verified = License::verify(&file, &key.public_key(), at("2026-06-01T00:00:00Z")).unwrap();
        assert!(verified.covers("genesis", "3.2.10"));
        assert!(!verified.covers("genesis", "4.0.0"));
        assert!(!verified.covers("other", "3.2.10"));
        let late = License::verify(&file, &key.public_key(), at("2027-01-01T00:00:01Z")).unwrap_err();
        assert!(matches!(late, LicenseError::Expired { .. }), "{late}");
        assert_eq!(late.class(), ErrorClass::Verdict);
    }

    #[test]
    fn another_key_or_an_edit_is_refused() {
        let key = PrivateKey::generate();
        let file = license("2027-01-01T00:00:00Z").sign(&key);
        let other = PrivateKey::generate().public_key();
        assert!(matches!(License::verify(&file, &other, at("2026-06-01T00:00:00Z")), Err(LicenseError::Signature(_))));
        let mut envelope: serde_json::Value = serde_json::from_slice(&file).unwrap();
        let mut edited = license("2099-01-01T00:00:00Z");
        edited.entitlements[0].versions = "*".into();
        envelope["payload"] = STANDARD.encode(serde_json::to_vec(&edited).unwrap()).into();
        let edited = serde_json::to_vec(&envelope).unwrap();
        assert!(matches!(
            License::verify(&edited, &key.public_key(), at("2026-06-01T00:00:00Z")),
            Err(LicenseError::Signature(_))
        ));
    }

    #[test]
    fn an_unparsable_range_covers_nothing() {
        let e = Entitlement { product: "genesis".into(), versions: "three-ish".into() };
        assert!(!e.covers("genesis", "3.0.0"));
    }

    /// A license file signed with the fixture key, byte-stable (RFC 6979 signatures).
    fn signed_file() -> (Vec<u8>, PublicKey) {
        let key = PrivateKey::from_pem_file(
            &std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/keys/test.key"),
        )
        .unwrap();
        (license("2027-01-01T00:00:00Z").sign(&key), key.public_key())
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// With any node replaced or removed, a license file is refused whenever what the
        /// signature covers changed, and never panics the reader.
        #[test]
        fn a_license_file_with_its_signed_content_changed_is_refused(change in edit()) {
            let (file, key) = signed_file();
            let mut envelope: serde_json::Value = serde_json::from_slice(&file).unwrap();
            let pointer = change.apply(&mut envelope);
            let verdict = License::verify(&serde_json::to_vec(&envelope).unwrap(), &key, at("2026-06-01T00:00:00Z"));
            let signed = ["/payload", "/payloadType", "/signatures/0/sig"];
            if signed.iter().any(|s| *s == pointer || s.starts_with(&format!("{pointer}/"))) && !pointer.is_empty() {
                prop_assert!(verdict.is_err(), "{pointer} changed ({change:?}) and the license still verified");
            }
        }

        /// Damaged bytes are refused, or verify to the very license that was signed.
        #[test]
        fn damaged_license_bytes_verify_only_to_the_signed_license(bytes in damaged(signed_file().0)) {
            let (_, key) = signed_file();
            if let Ok(verified) = License::verify(&bytes, &key, at("2026-06-01T00:00:00Z")) {
                prop_assert_eq!(verified, license("2027-01-01T00:00:00Z"));
            }
        }
    }
}
