//! ECDSA P-256 keys in the PEM forms cosign uses: PKCS#8 private keys and SPKI public keys.
//! Signing is deterministic (RFC 6979), so the same key and message always give the same
//! signature bytes, which is what makes a signed bundle byte-stable.

use std::fmt;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use p256::ecdsa::signature::hazmat::{PrehashSigner, PrehashVerifier};
use p256::ecdsa::signature::{Signer, Verifier};
use p256::ecdsa::{DerSignature, Signature, SigningKey, VerifyingKey};
use p256::pkcs8::{DecodePrivateKey, DecodePublicKey, EncodePrivateKey, EncodePublicKey, LineEnding};
use sha2::{Digest as _, Sha256};

use crate::{Result, TrustError};

/// A private signing key (ECDSA P-256).
pub struct PrivateKey {
    key: SigningKey,
}

impl fmt::Debug for PrivateKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PrivateKey({})", self.public_key().fingerprint())
    }
}

fn read_pem(path: &Path) -> Result<String> {
    std::fs::read_to_string(path).map_err(|source| TrustError::KeyIo { path: path.to_owned(), source })
}

impl PrivateKey {
    /// Generates a fresh key from the operating system's random source.
    pub fn generate() -> PrivateKey {
        PrivateKey { key: SigningKey::random(&mut rand_core::OsRng) }
    }

    /// Reads an unencrypted PKCS#8 PEM (`-----BEGIN PRIVATE KEY-----`) file.
    pub fn from_pem_file(path: &Path) -> Result<PrivateKey> {
        Self::from_pem(&read_pem(path)?, path)
    }

    /// Reads a PKCS#8 PEM or a cosign encrypted key (asking `password` only for the latter).
    pub fn from_pem_file_with_password(
        path: &Path,
        password: &dyn Fn() -> std::result::Result<Vec<u8>, String>,
    ) -> Result<PrivateKey> {
        let pem = read_pem(path)?;
        if !crate::cosign_key::is_encrypted(&pem) {
            return Self::from_pem(&pem, path);
        }
        let fail = |reason: String| TrustError::KeyFormat { path: path.to_owned(), reason };
        let der = crate::cosign_key::decrypt(&pem, &password().map_err(fail)?).map_err(fail)?;
        SigningKey::from_pkcs8_der(&der).map(|key| PrivateKey { key }).map_err(|_| {
            fail("the decrypted key is not a PKCS#8 ECDSA P-256 key (a SEC1 'EC PRIVATE KEY' inside, which cosign refuses too)".into())
        })
    }

    /// The key encrypted in cosign's format (`ENCRYPTED SIGSTORE PRIVATE KEY`), so the same
    /// key works with `cosign sign-blob --key`.
    pub fn to_encrypted_pem(&self, password: &[u8]) -> String {
        let der = self.key.to_pkcs8_der().expect("a P-256 key always encodes");
        crate::cosign_key::encrypt(der.as_bytes(), password)
    }

    /// Parses an unencrypted PKCS#8 PEM; `origin` names it in errors.
    pub fn from_pem(pem: &str, origin: &Path) -> Result<PrivateKey> {
        let reason = if crate::cosign_key::is_encrypted(pem) {
            "a cosign encrypted key: it needs a password (GENESIS_KEY_PASSWORD or the prompt)".to_owned()
        } else if pem.contains("ENCRYPTED") {
            "an encrypted PKCS#8 key; decrypt it with `openssl pkcs8` or use a cosign key".to_owned()
        } else if pem.contains("BEGIN EC PRIVATE KEY") {
            "a SEC1 'EC PRIVATE KEY'; convert it with `openssl pkcs8 -topk8 -nocrypt`".to_owned()
        } else {
            match SigningKey::from_pkcs8_pem(pem) {
                Ok(key) => return Ok(PrivateKey { key }),
                Err(e) => format!("not a PKCS#8 ECDSA P-256 private key ({e})"),
            }
        };
        Err(TrustError::KeyFormat { path: origin.to_owned(), reason })
    }

    /// The PKCS#8 PEM encoding.
    pub fn to_pem(&self) -> String {
        self.key.to_pkcs8_pem(LineEnding::LF).expect("a P-256 key always encodes").to_string()
    }

    /// The matching public key.
    pub fn public_key(&self) -> PublicKey {
        PublicKey { key: *self.key.verifying_key() }
    }

    /// Signs `message` with ECDSA-SHA256 (RFC 6979 nonce), returning the ASN.1 DER bytes.
    pub fn sign(&self, message: &[u8]) -> Vec<u8> {
        let sig: DerSignature = self.key.sign(message);
        sig.as_bytes().to_vec()
    }

    /// Signs a SHA-256 digest computed elsewhere (e.g. while streaming an archive), giving
    /// the same bytes as [`PrivateKey::sign`] over the original message.
    pub fn sign_sha256_digest(&self, digest: &[u8; 32]) -> Vec<u8> {
        let sig: Signature = self.key.sign_prehash(digest).expect("a 32-byte prehash always signs");
        sig.to_der().as_bytes().to_vec()
    }
}

/// A public verification key (ECDSA P-256).
#[derive(Clone, PartialEq, Eq)]
pub struct PublicKey {
    key: VerifyingKey,
}

impl fmt::Debug for PublicKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "PublicKey({})", self.fingerprint())
    }
}

/// Where a verified signature came from: the key's fingerprint.
#[derive(Debug, Clone, PartialEq, Eq, Hash, serde::Serialize)]
#[serde(transparent)]
pub struct KeyFingerprint(String);

impl KeyFingerprint {
    /// The fingerprint as text, `SHA256:` and the base64.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for KeyFingerprint {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl PublicKey {
    /// Reads an SPKI PEM (`-----BEGIN PUBLIC KEY-----`, the form of `cosign.pub`).
    pub fn from_pem_file(path: &Path) -> Result<PublicKey> {
        Self::from_pem(&read_pem(path)?, path)
    }

    /// Parses an SPKI PEM; `origin` names it in errors.
    pub fn from_pem(pem: &str, origin: &Path) -> Result<PublicKey> {
        VerifyingKey::from_public_key_pem(pem)
            .or_else(|e| {
                // Keys published by other tools often put the body on one long line, which
                // strict PEM (64-column lines) refuses; the DER inside is what matters.
                let body: String = pem.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
                let der = STANDARD.decode(body).map_err(|_| e)?;
                VerifyingKey::from_public_key_der(&der).map_err(|_| e)
            })
            .map(|key| PublicKey { key })
            .map_err(|e| TrustError::KeyFormat {
                path: origin.to_owned(),
                reason: if pem.contains("PRIVATE KEY") {
                    "this is a private key; pass the public key (genesis.pub / cosign.pub)".into()
                } else {
                    format!("not an SPKI PEM ECDSA P-256 public key ({e})")
                },
            })
    }

    /// The SPKI PEM encoding.
    pub fn to_pem(&self) -> String {
        self.key.to_public_key_pem(LineEnding::LF).expect("a P-256 key always encodes")
    }

    /// `SHA256:` and the unpadded base64 SHA-256 of the SPKI DER, as OpenSSH prints
    /// fingerprints. The base64 part, padded, is sigstore's `publicKey.hint`.
    pub fn fingerprint(&self) -> KeyFingerprint {
        let der = self.key.to_public_key_der().expect("a P-256 key always encodes");
        KeyFingerprint(format!("SHA256:{}", STANDARD_NO_PAD.encode(Sha256::digest(der.as_bytes()))))
    }

    /// sigstore's `publicKey.hint`: standard base64 of the SHA-256 of the SPKI DER (what
    /// cosign puts in key-signed bundles).
    pub fn hint(&self) -> String {
        let der = self.key.to_public_key_der().expect("a P-256 key always encodes");
        STANDARD.encode(Sha256::digest(der.as_bytes()))
    }

    /// Whether `der` is a valid ECDSA-SHA256 signature of `message` by this key.
    pub fn verifies(&self, message: &[u8], der: &[u8]) -> bool {
        Signature::from_der(der).is_ok_and(|sig| self.key.verify(message, &sig).is_ok())
    }

    /// Whether `der` is a valid signature over a message whose SHA-256 is `digest`.
    pub fn verifies_sha256_digest(&self, digest: &[u8; 32], der: &[u8]) -> bool {
        Signature::from_der(der).is_ok_and(|sig| self.key.verify_prehash(digest, &sig).is_ok())
    }
}

/// Encodes a DER signature the way `cosign sign-blob` writes it: standard base64, no
/// newline.
pub fn encode_signature(der: &[u8]) -> Vec<u8> {
    STANDARD.encode(der).into_bytes()
}

/// Decodes a cosign-style signature file: base64 of an ASN.1 DER ECDSA signature, with
/// surrounding whitespace (a trailing newline from `> file`) ignored, or the raw DER bytes
/// (`cosign sign-blob --b64=false`).
pub fn decode_signature(text: &[u8], what: &str) -> Result<Vec<u8>> {
    let err = |reason: String| TrustError::SignatureFormat { what: what.to_owned(), reason };
    if text.first() == Some(&0x30) && Signature::from_der(text).is_ok() {
        return Ok(text.to_vec());
    }
    let trimmed = std::str::from_utf8(text).map_err(|_| err("neither base64 text nor DER".into()))?.trim();
    let der = STANDARD.decode(trimmed).map_err(|e| err(format!("bad base64 ({e})")))?;
    Signature::from_der(&der).map_err(|_| err("not an ASN.1 DER ECDSA signature (raw r||s is not accepted)".into()))?;
    Ok(der)
}

/// Paths of the two files [`PrivateKey::generate`] output is saved to.
pub fn key_pair_paths(dir: &Path) -> (PathBuf, PathBuf) {
    (dir.join("genesis.key"), dir.join("genesis.pub"))
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn signatures_are_deterministic_and_verify() {
        let k = PrivateKey::generate();
        let a = k.sign(b"bom");
        assert_eq!(a, k.sign(b"bom"));
        assert_eq!(a, k.sign_sha256_digest(&Sha256::digest(b"bom").into()));
        let pubk = k.public_key();
        assert!(pubk.verifies(b"bom", &a));
        assert!(!pubk.verifies(b"bon", &a));
        assert!(!PrivateKey::generate().public_key().verifies(b"bom", &a));
    }

    #[test]
    fn pem_round_trip_and_signature_encoding() {
        let k = PrivateKey::generate();
        let again = PrivateKey::from_pem(&k.to_pem(), Path::new("k")).unwrap();
        assert_eq!(k.public_key(), again.public_key());
        let p = PublicKey::from_pem(&k.public_key().to_pem(), Path::new("p")).unwrap();
        assert_eq!(p.fingerprint(), k.public_key().fingerprint());
        let der = k.sign(b"x");
        let mut text = encode_signature(&der);
        text.push(b'\n');
        assert_eq!(decode_signature(&text, "sig").unwrap(), der);
        assert!(PublicKey::from_pem(&k.to_pem(), Path::new("k")).is_err());
    }
}
