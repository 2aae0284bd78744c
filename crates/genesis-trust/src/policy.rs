//! The trust policy: what a verifier accepts. There is no `Default`: a policy exists only
//! once the operator has named at least one key or keyless identity, and an identity only
//! with the pinned sigstore root its certificates and log entries are checked against.
//!
//! Time enters in two places, both judged against the clock at verification (seed 002:
//! "expiry per the key's notAfter"), never against the BOM's `created`, which the signer
//! writes: a key outside the validity window its policy gives it verifies nothing, and a
//! bundle past its signed `expires` is refused. A stockpiled bundle is re-signed before
//! delivery, not given a pass. A keyless certificate is judged at the time its transparency
//! log entry or timestamp proves (sigstore's rule: it lives minutes), never by the clock.

use std::path::PathBuf;

use genesis_bundle::{Bom, BundleError, rfc3339};

use crate::keys::{KeyFingerprint, PublicKey};
use crate::sigstore::{
    Artifact, CertificateIdentity, LogPolicy, SignedContent, Signer, SigstoreBundle, TrustedRoot, verify_bundle,
    verify_identities,
};
use crate::{AcceptedSigner, Result, TrustError};

/// The keys and keyless identities a bundle's BOM may be signed by. Any one of them suffices:
/// a key inside its validity window when it has one, an identity by a certificate the pinned
/// root vouches for.
#[derive(Debug, Clone)]
pub struct TrustPolicy {
    keys: Vec<PublicKey>,
    /// The validity window of each key, in the order of `keys`; `None` for a key without one.
    validity: Vec<Option<KeyValidity>>,
    keyless: Option<Keyless>,
    constraints: crate::policy_file::Constraints,
}

/// The keyless signers a policy trusts with bundles (a policy file's `bundleIdentities`, or
/// cosign's `--certificate-identity` and `--certificate-oidc-issuer`), with the pinned sigstore root
/// (`trustedRoot`, `--trusted-root`) their certificates, SCTs and log entries are checked
/// against: the one never goes without the other, and the root is never fetched.
#[derive(Debug, Clone)]
pub struct Keyless {
    /// Who may sign: a certificate's SAN and OIDC issuer.
    pub identities: Vec<CertificateIdentity>,
    /// The pinned `trusted_root.json`.
    pub root: TrustedRoot,
}

/// When a trusted key verifies: from `not_before` to `not_after`, both included, in seconds
/// since the Unix epoch (a policy file's `notBefore` and `notAfter`). Outside, it verifies
/// nothing, and the error names the key, its file and the date.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct KeyValidity {
    /// The key's file, as the policy names it, for errors.
    pub file: PathBuf,
    /// The first second at which the key verifies.
    pub not_before: Option<u64>,
    /// The last second at which the key verifies.
    pub not_after: Option<u64>,
}

impl KeyValidity {
    /// `Ok` when `key` (whose window this is) verifies at `now`; otherwise the error naming
    /// it, its file, the bound it is outside of and that bound's date.
    pub fn check(&self, key: &PublicKey, now: u64) -> Result<()> {
        let outside = |bound: &'static str, date: u64| -> Result<()> {
            Err(TrustError::KeyOutsideValidity {
                key: key.fingerprint(),
                file: self.file.clone(),
                bound,
                date: rfc3339(date),
                now: rfc3339(now),
            })
        };
        match (self.not_before, self.not_after) {
            (Some(not_before), _) if now < not_before => outside("notBefore", not_before),
            (_, Some(not_after)) if now > not_after => outside("notAfter", not_after),
            _ => Ok(()),
        }
    }
}

/// Seconds since the Unix epoch by the system clock: the time keys and expiries are judged at.
pub(crate) fn now() -> u64 {
    genesis_bundle::unix_now()
}

impl TrustPolicy {
    /// A policy trusting each of `keys`, at any time. Refuses an empty list: no key, no trust.
    pub fn from_keys(keys: Vec<PublicKey>) -> Result<TrustPolicy> {
        TrustPolicy::from_keys_with_validity(keys.into_iter().map(|key| (key, None)).collect())
    }

    /// A policy trusting each of `keys`, each inside its validity window when it has one.
    /// Refuses an empty list.
    pub fn from_keys_with_validity(keys: Vec<(PublicKey, Option<KeyValidity>)>) -> Result<TrustPolicy> {
        TrustPolicy::from_signers(keys, None)
    }

    /// A policy trusting each of `keys` (inside its validity window when it has one) and each
    /// keyless identity of `keyless`. Refuses a policy that trusts no one.
    pub fn from_signers(keys: Vec<(PublicKey, Option<KeyValidity>)>, keyless: Option<Keyless>) -> Result<TrustPolicy> {
        let keyless = keyless.filter(|k| !k.identities.is_empty());
        if keys.is_empty() && keyless.is_none() {
            return Err(TrustError::NoTrustedKey);
        }
        let (keys, validity) = keys.into_iter().unzip();
        Ok(TrustPolicy { keys, validity, keyless, constraints: Default::default() })
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

    /// The trusted keys, whatever their validity windows: to judge a signature, use
    /// [`TrustPolicy::signer`], which applies them.
    pub fn keys(&self) -> &[PublicKey] {
        &self.keys
    }

    /// The first trusted key that verifies `der` over `message` now. A key outside its
    /// validity window verifies nothing; [`TrustPolicy::signer`] says which one was.
    pub fn key_for(&self, message: &[u8], der: &[u8]) -> Option<&PublicKey> {
        self.signer(|k| k.verifies(message, der)).ok().flatten()
    }

    /// The first trusted key that verifies `der` over a message with SHA-256 `digest` now.
    pub fn key_for_digest(&self, digest: &[u8; 32], der: &[u8]) -> Option<KeyFingerprint> {
        self.signer(|k| k.verifies_sha256_digest(digest, der)).ok().flatten().map(PublicKey::fingerprint)
    }

    /// The first trusted key for which `verifies` holds and which is inside its validity
    /// window now. `Ok(None)` when no trusted key verifies; when only keys outside their
    /// window do, the error naming the first of them, its file and the date.
    pub fn signer(&self, verifies: impl FnMut(&PublicKey) -> bool) -> Result<Option<&PublicKey>> {
        self.signer_at(now(), verifies)
    }

    /// [`TrustPolicy::signer`] at `now`, in seconds since the Unix epoch.
    fn signer_at(&self, now: u64, mut verifies: impl FnMut(&PublicKey) -> bool) -> Result<Option<&PublicKey>> {
        let mut outside = None;
        for (key, validity) in self.keys.iter().zip(&self.validity) {
            if !verifies(key) {
                continue;
            }
            match validity.as_ref().map_or(Ok(()), |v| v.check(key, now)) {
                Ok(()) => return Ok(Some(key)),
                Err(e) => {
                    outside.get_or_insert(e);
                }
            }
        }
        outside.map_or(Ok(None), Err)
    }

    /// Who of this policy's signers signed the sigstore `bundle` over `artifact`, which must
    /// sign `content` (a BOM's and an archive's bundles the bytes, a provenance's an
    /// attestation; `what` names the bundle in errors). Signed keyless (a certificate), by a
    /// trusted identity: the certificate chains to the pinned root, was valid at the time the
    /// bundle's transparency log entry or RFC 3161 timestamp proves, and that entry or
    /// timestamp verifies; one with neither is refused, as nothing then proves when its
    /// short-lived certificate signed.
    /// Signed with a key (a public-key hint), by a trusted key inside its validity window now,
    /// the signature alone deciding, as a key-signed `.cosign.bundle` sidecar is judged. When
    /// no trusted key verifies it, the first reason other than a signature that does not
    /// verify (a digest over other bytes, a malformed bundle) is told.
    pub fn sigstore_signer(
        &self,
        bundle: &SigstoreBundle,
        artifact: Artifact<'_>,
        content: SignedContent,
        what: &str,
    ) -> Result<AcceptedSigner> {
        let refused = |reason: String| TrustError::BundleRefused { reason: format!("{what}: {reason}") };
        bundle.check_content(content).map_err(|e| refused(reason(e)))?;
        if !bundle.has_certificate() {
            let mut first = None;
            let verifies =
                |k: &PublicKey| match verify_bundle(bundle, artifact, Signer::Key(k), None, LogPolicy::IgnoreUnsafe) {
                    Ok(_) => true,
                    Err(TrustError::BomSignatureInvalid { .. }) => false,
                    Err(e) => {
                        first.get_or_insert(e);
                        false
                    }
                };
            return match self.signer(verifies)? {
                Some(key) => Ok(AcceptedSigner::key(key)),
                None => Err(refused(format!(
                    "signed with a key, and no trusted key verifies it (tried {}){}",
                    self.describe_keys(),
                    first.map(|e| format!(": {}", reason(e))).unwrap_or_default()
                ))),
            };
        }
        let Some(keyless) = &self.keyless else {
            return Err(refused(format!(
                "signed keyless (the bundle carries a certificate), and the trust policy names no identity \
                 (it trusts {}): trust the signer's identity, its OIDC issuer and the pinned sigstore root",
                self.describe()
            )));
        };
        if !bundle.has_log_or_timestamp() {
            return Err(refused(
                "a keyless signature without a transparency-log entry or a timestamp, which is refused: nothing \
                 proves its short-lived certificate was valid when it signed; sign with the log (cosign's default) \
                 or a timestamp authority"
                    .to_owned(),
            ));
        }
        verify_identities(bundle, artifact, &keyless.identities, &keyless.root)
            .map(|verdict| verdict.accepted().clone())
            .map_err(|e| refused(reason(e)))
    }

    /// Every trusted signer, each said as what it is (`key SHA256:…`, `identity SAN (issuer
    /// ISS)`), for error messages.
    pub fn describe(&self) -> String {
        let identities = self.keyless.as_ref().map_or(&[][..], |k| k.identities.as_slice());
        crate::cosign_image::describe_signers(&self.keys, identities)
    }

    /// The trusted keys by fingerprint, for an error over a signature only a key can verify;
    /// says so when the policy trusts none.
    pub fn describe_keys(&self) -> String {
        if self.keys.is_empty() {
            return "no key: the policy trusts keyless identities only".to_owned();
        }
        self.keys.iter().map(|k| k.fingerprint().to_string()).collect::<Vec<_>>().join(", ")
    }
}

/// What is wrong, without the `sigstore bundle refused: ` a refusal around it says again.
pub(crate) fn reason(e: TrustError) -> String {
    match e {
        TrustError::BundleRefused { reason } => reason,
        other => other.to_string(),
    }
}

/// Refuses a BOM whose signed `expires` is `now` or earlier, naming the date; returns that
/// date when it has one. Call only on a BOM whose signature verified: the date is signed.
pub(crate) fn check_expiry(bom: &Bom, now: u64) -> Result<Option<&str>> {
    let Some(expires) = bom.expires.as_deref() else { return Ok(None) };
    // `Bom::parse` refused a date it cannot read; a BOM built in memory may still hold one.
    let at = genesis_bundle::parse_rfc3339(expires)
        .ok_or_else(|| BundleError::BomInvalid(format!("expires {expires:?} is not an RFC 3339 date")))?;
    if now >= at {
        return Err(TrustError::BundleExpired { expires: expires.to_owned(), now: rfc3339(now) });
    }
    Ok(Some(expires))
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

    fn window(not_before: Option<u64>, not_after: Option<u64>) -> Option<KeyValidity> {
        Some(KeyValidity { file: PathBuf::from("keys/vendor.pub"), not_before, not_after })
    }

    /// A key verifies inside its window, both ends included, and nowhere else: before it the
    /// error names `notBefore`, after it `notAfter`, each with the key, its file and the date.
    #[test]
    fn a_key_verifies_inside_its_window_only_naming_the_bound_outside() {
        let key = PrivateKey::generate();
        let sig = key.sign(b"bom");
        let fingerprint = key.public_key().fingerprint();
        let (from, until) = (1_000_000, 2_000_000);
        let policy =
            TrustPolicy::from_keys_with_validity(vec![(key.public_key(), window(Some(from), Some(until)))]).unwrap();
        let judge = |now| policy.signer_at(now, |k| k.verifies(b"bom", &sig)).map(|k| k.map(PublicKey::fingerprint));
        for inside in [from, from + 1, until - 1, until] {
            assert_eq!(judge(inside).unwrap(), Some(fingerprint.clone()), "{inside}");
        }
        for (now, bound, date) in [(from - 1, "notBefore", from), (until + 1, "notAfter", until)] {
            let e = judge(now).unwrap_err();
            assert!(
                matches!(&e, TrustError::KeyOutsideValidity { key, file, bound: b, date: d, .. }
                    if *key == fingerprint && file == &PathBuf::from("keys/vendor.pub") && *b == bound && *d == rfc3339(date)),
                "{e:?}"
            );
            let message = e.to_string();
            for named in [fingerprint.to_string(), "keys/vendor.pub".into(), bound.into(), rfc3339(date), rfc3339(now)]
            {
                assert!(message.contains(&named), "{named} not in {message}");
            }
            assert!(e.is_verification_failure(), "{e}");
        }
        // Open on either side: only the bound given applies.
        let after_only =
            TrustPolicy::from_keys_with_validity(vec![(key.public_key(), window(None, Some(until)))]).unwrap();
        assert!(after_only.signer_at(0, |k| k.verifies(b"bom", &sig)).unwrap().is_some());
        let before_only =
            TrustPolicy::from_keys_with_validity(vec![(key.public_key(), window(Some(from), None))]).unwrap();
        assert!(before_only.signer_at(u64::MAX, |k| k.verifies(b"bom", &sig)).unwrap().is_some());
    }

    /// The window judges only the key that verifies: another key's expiry refuses nothing, a
    /// valid key listed after an expired one that verifies too (a renewed window) is taken,
    /// and a signature no key verifies is `None`, never an expiry error.
    #[test]
    fn only_the_verifying_keys_windows_count() {
        let (vendor, other) = (PrivateKey::generate(), PrivateKey::generate());
        let sig = vendor.sign(b"bom");
        let verifies = |k: &PublicKey| k.verifies(b"bom", &sig);
        let now = 5_000;
        let expired = window(None, Some(now - 1));
        let policy = TrustPolicy::from_keys_with_validity(vec![
            (other.public_key(), expired.clone()),
            (vendor.public_key(), window(None, Some(now))),
        ])
        .unwrap();
        assert_eq!(policy.signer_at(now, verifies).unwrap(), Some(&vendor.public_key()));
        let renewed = TrustPolicy::from_keys_with_validity(vec![
            (vendor.public_key(), expired.clone()),
            (vendor.public_key(), window(Some(now), None)),
        ])
        .unwrap();
        assert_eq!(renewed.signer_at(now, verifies).unwrap(), Some(&vendor.public_key()));
        let unsigned = TrustPolicy::from_keys_with_validity(vec![(other.public_key(), expired)]).unwrap();
        assert_eq!(unsigned.signer_at(now, verifies).unwrap(), None);
        // `key_for` and `key_for_digest` read the clock: a key whose window closed in 1970
        // verifies nothing through them either.
        let closed = TrustPolicy::from_keys_with_validity(vec![(vendor.public_key(), window(None, Some(0)))]).unwrap();
        assert!(closed.key_for(b"bom", &sig).is_none());
        let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(b"bom").into();
        assert!(closed.key_for_digest(&digest, &sig).is_none());
        assert!(TrustPolicy::from_keys(vec![vendor.public_key()]).unwrap().key_for_digest(&digest, &sig).is_some());
    }

    /// A sigstore bundle is judged by what signed it: a key's by the policy's keys (inside
    /// their windows), a certificate's by its identities and root only, and one without a log
    /// entry or timestamp never; a policy trusts someone, and identities go with their root.
    #[test]
    fn a_sigstore_bundle_is_judged_by_its_kind_of_signer() {
        use genesis_testkit::sigstore::{Fault, LoopbackSigstore};

        use crate::sigstore::SubjectMatcher;
        const MESSAGE: SignedContent = SignedContent::Message;

        let (vendor, issuer) = ("ci@acme.example", "https://idp.acme.example");
        let dir = tempfile::tempdir().unwrap();
        let mut sigstore = LoopbackSigstore::new(dir.path());
        let read = |json: &str| SigstoreBundle::from_json(serde_json::from_str(json).unwrap()).unwrap();
        let identity = CertificateIdentity { subject: SubjectMatcher::Exact(vendor.into()), issuer: issuer.into() };
        let keyless =
            Keyless { identities: vec![identity], root: TrustedRoot::from_file(sigstore.trusted_root()).unwrap() };
        let key = PrivateKey::generate();
        assert!(matches!(TrustPolicy::from_signers(vec![], None), Err(TrustError::NoTrustedKey)));
        let empty = Keyless { identities: vec![], ..keyless.clone() };
        assert!(matches!(TrustPolicy::from_signers(vec![], Some(empty)), Err(TrustError::NoTrustedKey)));
        let both = TrustPolicy::from_signers(vec![(key.public_key(), None)], Some(keyless.clone())).unwrap();
        assert!(both.describe().ends_with(&format!("identity {vendor} (issuer {issuer})")), "{}", both.describe());

        let bom = b"bom";
        let signed = read(&sigstore.sign_blob(bom, vendor, issuer));
        let accepted = both.sigstore_signer(&signed, Artifact::Bytes(bom), MESSAGE, "bom.sigstore.json").unwrap();
        assert_eq!(accepted, AcceptedSigner::Identity { subject: vendor.into(), issuer: issuer.into() });
        assert!(both.sigstore_signer(&signed, Artifact::Bytes(b"other"), MESSAGE, "bom.sigstore.json").is_err());
        let keys_only = TrustPolicy::from_keys(vec![key.public_key()]).unwrap();
        let e = keys_only.sigstore_signer(&signed, Artifact::Bytes(bom), MESSAGE, "bom.sigstore.json").unwrap_err();
        assert!(e.to_string().contains("bom.sigstore.json: signed keyless"), "{e}");
        let unlogged = read(&sigstore.sign_blob_with(bom, vendor, issuer, Fault::NoLogEntry));
        let e = both.sigstore_signer(&unlogged, Artifact::Bytes(bom), MESSAGE, "bom.sigstore.json").unwrap_err();
        assert!(e.to_string().contains("without a transparency-log entry or a timestamp"), "{e}");
        assert!(e.is_verification_failure());

        let digest: [u8; 32] = <sha2::Sha256 as sha2::Digest>::digest(bom).into();
        let keyed = crate::sigstore::key_bundle(&key.public_key(), &digest, &key.sign(bom));
        let keyed = read(&keyed.to_string());
        let accepted = both.sigstore_signer(&keyed, Artifact::Bytes(bom), MESSAGE, "bom.sigstore.json").unwrap();
        assert_eq!(accepted, AcceptedSigner::key(&key.public_key()));
        let other = TrustPolicy::from_keys(vec![PrivateKey::generate().public_key()]).unwrap();
        let e = other.sigstore_signer(&keyed, Artifact::Bytes(bom), MESSAGE, "bom.sigstore.json").unwrap_err();
        let said = e.to_string();
        assert!(said.contains("no trusted key verifies it (tried SHA256:"), "{said}");
        assert!(!said.contains("identity"), "a key's signature is tried with keys only: {said}");
        // Over other bytes: the reason is told, not only that no key verified.
        let e = both.sigstore_signer(&keyed, Artifact::Bytes(b"other"), MESSAGE, "bom.sigstore.json").unwrap_err();
        assert!(e.to_string().contains("messageDigest does not match the artifact"), "{e}");
        let identities_only = TrustPolicy::from_signers(vec![], Some(keyless.clone())).unwrap();
        let e = identities_only.sigstore_signer(&keyed, Artifact::Bytes(bom), MESSAGE, "bom.sigstore.json");
        assert!(e.unwrap_err().to_string().contains("tried no key: the policy trusts keyless identities only"));
    }

    /// Each place takes its one kind of bundle: an attestation naming the BOM is no signature
    /// of the BOM, and a signature over the BOM no provenance, though each verifies over it.
    #[test]
    fn a_bundle_of_the_other_content_kind_is_refused_saying_which_it_is() {
        use genesis_testkit::sigstore::LoopbackSigstore;

        use crate::sigstore::SubjectMatcher;

        let (vendor, issuer) = ("ci@acme.example", "https://idp.acme.example");
        let dir = tempfile::tempdir().unwrap();
        let mut sigstore = LoopbackSigstore::new(dir.path());
        let identity = CertificateIdentity { subject: SubjectMatcher::Exact(vendor.into()), issuer: issuer.into() };
        let root = TrustedRoot::from_file(sigstore.trusted_root()).unwrap();
        let policy = TrustPolicy::from_signers(vec![], Some(Keyless { identities: vec![identity], root })).unwrap();
        let read = |json: &str| SigstoreBundle::from_slice(json.as_bytes()).unwrap();
        let bom = b"{}";
        let digest = hex::encode(<sha2::Sha256 as sha2::Digest>::digest(bom));
        let statement = serde_json::json!({
            "_type": "https://in-toto.io/Statement/v1",
            "subject": [{"name": "bom.json", "digest": {"sha256": digest}}],
            "predicateType": "https://slsa.dev/provenance/v1",
            "predicate": {},
        });
        let attestation = read(&sigstore.attest(statement.to_string().as_bytes(), vendor, issuer));
        let signature = read(&sigstore.sign_blob(bom, vendor, issuer));
        let judge =
            |bundle: &SigstoreBundle, content| policy.sigstore_signer(bundle, Artifact::Bytes(bom), content, "b");
        assert!(judge(&signature, SignedContent::Message).is_ok());
        assert!(judge(&attestation, SignedContent::Attestation).is_ok(), "the attestation itself verifies");
        let e = judge(&attestation, SignedContent::Message).unwrap_err();
        assert!(e.to_string().contains("b: an attestation (a DSSE envelope"), "{e}");
        assert!(e.is_verification_failure(), "{e}");
        let e = judge(&signature, SignedContent::Attestation).unwrap_err();
        assert!(e.to_string().contains("b: a signature over bytes (a messageSignature)"), "{e}");
    }

    fn bom(expires: Option<&str>) -> Bom {
        Bom {
            schema: genesis_bundle::BOM_SCHEMA.into(),
            name: "demo".into(),
            version: "0.1.0".into(),
            created: rfc3339(0),
            expires: expires.map(str::to_owned),
            files: vec![],
            images: vec![],
            charts: vec![],
            manifests: vec![],
            sboms: vec![],
            scan: None,
            requires: None,
        }
    }

    /// A bundle verifies until its `expires` and is refused from that second on, naming the
    /// date; one without `expires` never expires.
    #[test]
    fn a_bundle_is_refused_from_its_expiry_on_naming_the_date() {
        let expires = "1970-01-02T00:00:00Z";
        assert_eq!(check_expiry(&bom(Some(expires)), 86_399).unwrap(), Some(expires));
        for now in [86_400, 86_401, u64::MAX / 2] {
            let e = check_expiry(&bom(Some(expires)), now).unwrap_err();
            assert!(matches!(&e, TrustError::BundleExpired { expires: at, .. } if at == expires), "{e:?}");
            assert!(e.to_string().contains(&format!("expired at {expires}")), "{e}");
            assert!(e.is_verification_failure(), "{e}");
        }
        assert_eq!(check_expiry(&bom(None), u64::MAX / 2).unwrap(), None);
        assert!(matches!(check_expiry(&bom(Some("tomorrow")), 0), Err(TrustError::Bundle(BundleError::BomInvalid(_)))));
    }
}
