//! The detached signatures written beside a file signed with a key: what `bundle-builder
//! create` writes beside the archive, and beside a split archive's parts manifest (decision
//! 0042). One function makes both, so there is one way a file is signed, and the verifier
//! checks both the same way (`ARCHIVE.sig`, `ARCHIVE.cosign.bundle`).

use std::path::{Path, PathBuf};

use crate::{PrivateKey, encode_signature};

/// The two sidecars of a file signed with a key, as the bytes to write beside it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct SignatureSidecars {
    /// `FILE.sig`: the DER signature in base64, as `cosign sign-blob --output-signature`
    /// writes it.
    pub signature: Vec<u8>,
    /// `FILE.cosign.bundle`: the same signature as a key-signed sigstore bundle (v0.3) with
    /// no log entry, as `cosign sign-blob --bundle --tlog-upload=false` writes it.
    pub cosign_bundle: Vec<u8>,
}

impl SignatureSidecars {
    /// Signs the file whose SHA-256 is `sha256` with `key`; the same key and file give the
    /// same bytes (RFC 6979).
    pub fn sign(key: &PrivateKey, sha256: &[u8; 32]) -> SignatureSidecars {
        let der = key.sign_sha256_digest(sha256);
        let bundle = crate::sigstore::key_bundle(&key.public_key(), sha256, &der);
        let mut cosign_bundle = serde_json::to_vec_pretty(&bundle).expect("a sigstore bundle is JSON");
        cosign_bundle.push(b'\n');
        SignatureSidecars { signature: encode_signature(&der), cosign_bundle }
    }

    /// Where they go beside `file`, where the verifier looks for them: `FILE.sig` and
    /// `FILE.cosign.bundle`.
    pub fn paths(file: &Path) -> (PathBuf, PathBuf) {
        (crate::sidecar_paths(file).1, crate::cosign_bundle_path(file))
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn both_sidecars_verify_with_the_public_key_and_sit_beside_the_file() {
        let key = PrivateKey::generate();
        let digest = [7u8; 32];
        let sidecars = SignatureSidecars::sign(&key, &digest);
        let der = crate::decode_signature(&sidecars.signature, "test").unwrap();
        assert!(key.public_key().verifies_sha256_digest(&digest, &der));
        let bundle: serde_json::Value = serde_json::from_slice(&sidecars.cosign_bundle).unwrap();
        assert_eq!(bundle["mediaType"], "application/vnd.dev.sigstore.bundle.v0.3+json");
        assert_eq!(SignatureSidecars::sign(&key, &digest), sidecars, "deterministic");
        let (sig, cosign) = SignatureSidecars::paths(Path::new("/d/a.tar.zst.parts.json"));
        assert_eq!(sig, Path::new("/d/a.tar.zst.parts.json.sig"));
        assert_eq!(cosign, Path::new("/d/a.tar.zst.parts.json.cosign.bundle"));
    }
}
