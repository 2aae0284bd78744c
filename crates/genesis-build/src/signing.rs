//! Signing a bundle without holding its key, in two phases. [`prepare`](crate::prepare)
//! writes what would be signed; the release pipeline signs it with its own tool (cosign with
//! a key file or a KMS, an HSM, any ECDSA P-256 signer); [`build_external`](crate::build_external)
//! checks each signature against the vendor's public key and carries it. The pipeline signs
//! two blobs, the BOM and the provenance's DSSE pre-authentication encoding, rather than
//! producing a DSSE envelope itself: any blob signer can sign a blob, and the envelope the
//! builder assembles around the signature is byte-identical to a one-step build's.

use std::borrow::Cow;
use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use genesis_trust::{PrivateKey, PublicKey, TrustError};

use crate::{BuildError, Result};

/// What the pipeline signs as the BOM: the archive's first entry, byte for byte.
const BOM_FILE: &str = "bom.json";
/// What the pipeline signs for the provenance: its DSSE PAE.
const PROVENANCE_PAE_FILE: &str = "provenance.pae";
/// The provenance statement the PAE wraps, for people to read before they sign.
const PROVENANCE_STATEMENT_FILE: &str = "provenance.intoto.json";

/// Signatures a release pipeline made itself over what `prepare` wrote, with its own tool
/// (cosign sign-blob with a key file or a KMS, or any ECDSA P-256 signer): the builder
/// checks each against `public_key` and carries it, holding no private key.
#[derive(Debug, Clone)]
pub struct ExternalSignatures {
    /// The key the signatures verify with (the vendor's public key, as in the trust policy).
    pub public_key: PublicKey,
    /// ASN.1 DER ECDSA-SHA256 signature over the exact BOM bytes (`bom.json`).
    pub bom: Vec<u8>,
    /// ASN.1 DER ECDSA-SHA256 signature over the provenance's DSSE pre-authentication
    /// encoding (`provenance.pae`).
    pub provenance: Vec<u8>,
}

impl ExternalSignatures {
    /// Refuses a signature that does not verify with `public_key` over what this build signs:
    /// carried unchecked, it would make a bundle no recipient accepts, found only there.
    fn check(&self, prepared: &Prepared) -> Result<()> {
        for (what, file, message, signature) in [
            ("BOM", BOM_FILE, &prepared.bom, &self.bom),
            ("provenance", PROVENANCE_PAE_FILE, &prepared.provenance_pae, &self.provenance),
        ] {
            if !self.public_key.verifies(message, signature) {
                return Err(BuildError::ExternalSignature {
                    what,
                    reason: format!(
                        "does not verify with key {} over this build's {file}: sign the {file} that \
                         `bundle-builder prepare` wrote from this same spec and inputs, with the key this \
                         public key belongs to",
                        self.public_key.fingerprint()
                    ),
                });
            }
        }
        Ok(())
    }
}

/// How a build signs: with a key it holds, or with a pipeline's signatures.
#[derive(Debug, Clone, Copy)]
pub(crate) enum Signing<'a> {
    /// `build`: the builder signs with this key.
    Key(&'a PrivateKey),
    /// `build_external`: the pipeline signed; the builder checks and carries.
    External(&'a ExternalSignatures),
}

impl<'a> Signing<'a> {
    /// The public key and the BOM and provenance signatures over `prepared`: made here with
    /// the key (RFC 6979, so the same bytes a pipeline signing with that key gives), or the
    /// pipeline's, refused unless each verifies. Called before anything is written.
    pub(crate) fn signatures(self, prepared: &Prepared) -> Result<Cow<'a, ExternalSignatures>> {
        match self {
            Signing::Key(key) => Ok(Cow::Owned(ExternalSignatures {
                public_key: key.public_key(),
                bom: key.sign(&prepared.bom),
                provenance: key.sign(&prepared.provenance_pae),
            })),
            Signing::External(signatures) => {
                signatures.check(prepared)?;
                Ok(Cow::Borrowed(signatures))
            }
        }
    }

    /// Whose key signed, as the release evidence report names the key it verified with.
    pub(crate) fn whose_key(self) -> &'static str {
        match self {
            Signing::Key(_) => "the builder's own key",
            Signing::External(_) => "the release pipeline's key",
        }
    }
}

/// The largest signature file read: a cosign signature is about 100 bytes and a key-signed
/// sigstore bundle under 2 KiB; anything near this is the wrong file.
const MAX_SIGNATURE_FILE: u64 = 64 << 10;

/// Why a sigstore bundle carrying a certificate is refused.
const KEYLESS: &str = "a keyless signature (the bundle carries a certificate), and this builder does not verify \
                       keyless signatures yet: sign with a key (`cosign sign-blob --key cosign.key`, or \
                       `--key awskms://…`) and give its public key";

/// Reads a signature file as a pipeline writes it: cosign sign-blob's base64 output
/// (`--output-signature`, whitespace ignored), or a sigstore bundle JSON
/// (`--bundle`, `messageSignature.signature`) whose verification material is a public key
/// hint; a bundle carrying a certificate (keyless) is refused with a message saying keyless
/// signatures are not verified by this builder yet and to sign with a key. Returns DER bytes.
pub fn read_signature(path: &Path) -> Result<Vec<u8>> {
    let refused = |reason: String| BuildError::SignatureFile { path: path.to_owned(), reason };
    let file = genesis_bundle::digest_io::open_regular(path).map_err(|e| refused(format!("cannot read: {e}")))?;
    let mut bytes = Vec::new();
    file.take(MAX_SIGNATURE_FILE + 1).read_to_end(&mut bytes).map_err(|e| refused(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > MAX_SIGNATURE_FILE {
        return Err(refused(format!(
            "larger than {} KiB, so not a signature: give the file `cosign sign-blob` wrote",
            MAX_SIGNATURE_FILE >> 10
        )));
    }
    let (encoded, what) = if bytes.trim_ascii_start().starts_with(b"{") {
        (bundle_signature(&bytes).map_err(refused)?.into_bytes(), "the bundle's messageSignature.signature is")
    } else {
        (bytes, "neither a sigstore bundle nor a cosign signature (base64 ASN.1 DER ECDSA):")
    };
    genesis_trust::decode_signature(&encoded, "signature").map_err(|e| match e {
        TrustError::SignatureFormat { reason, .. } => refused(format!("{what} {reason}")),
        other => refused(other.to_string()),
    })
}

/// The base64 signature of a key-signed sigstore bundle, or why the document is not one.
fn bundle_signature(bytes: &[u8]) -> std::result::Result<String, String> {
    let doc: serde_json::Value = serde_json::from_slice(bytes)
        .map_err(|e| format!("neither a sigstore bundle nor a signature: bad JSON ({e})"))?;
    let material = &doc["verificationMaterial"];
    if material.get("certificate").is_some() || material.get("x509CertificateChain").is_some() {
        return Err(KEYLESS.to_owned());
    }
    if doc.get("base64Signature").is_some() {
        return Err("cosign's legacy bundle format, which this builder does not read: give the signature itself \
                    (`cosign sign-blob --output-signature FILE`) or a sigstore bundle (`--new-bundle-format`)"
            .to_owned());
    }
    doc["messageSignature"]["signature"].as_str().map(str::to_owned).ok_or_else(|| {
        "a sigstore bundle without messageSignature.signature: sign the file as a blob \
         (`cosign sign-blob --key … --bundle FILE`), not as an attestation"
            .to_owned()
    })
}

/// What a pipeline signs, written by `prepare` and re-derived by `build_external`.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Prepared {
    /// The BOM's exact bytes, the archive's first entry.
    pub bom: Vec<u8>,
    /// DSSE PAE("application/vnd.in-toto+json", statement): what the provenance signature covers.
    pub provenance_pae: Vec<u8>,
    /// The in-toto statement itself (the DSSE payload), for people to read.
    pub provenance_statement: Vec<u8>,
}

/// Where [`Prepared::write_to`] wrote each file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct PreparedFiles {
    /// `bom.json`: sign it for `--bom-signature`.
    pub bom: PathBuf,
    /// `provenance.pae`: sign it for `--provenance-signature`.
    pub provenance_pae: PathBuf,
    /// `provenance.intoto.json`: the statement the PAE wraps, to read, not to sign.
    pub provenance_statement: PathBuf,
}

impl Prepared {
    /// Writes `bom.json`, `provenance.pae` and `provenance.intoto.json` into `dir` (created
    /// if missing), each atomically; returns their paths.
    pub fn write_to(&self, dir: &Path) -> Result<PreparedFiles> {
        fs::create_dir_all(dir).map_err(|e| BuildError::input(dir, format!("cannot create: {e}")))?;
        let files = PreparedFiles {
            bom: dir.join(BOM_FILE),
            provenance_pae: dir.join(PROVENANCE_PAE_FILE),
            provenance_statement: dir.join(PROVENANCE_STATEMENT_FILE),
        };
        for (path, bytes) in [
            (&files.bom, &self.bom),
            (&files.provenance_pae, &self.provenance_pae),
            (&files.provenance_statement, &self.provenance_statement),
        ] {
            crate::build::write_atomically(path, bytes)?;
        }
        Ok(files)
    }
}

#[cfg(test)]
mod tests {
    use genesis_trust::encode_signature;

    use super::*;
    use crate::{BuildOptions, BundleSpec, build, build_external, prepare};

    /// A bundle of one local manifest, with a fixed `SOURCE_DATE_EPOCH`: no network, and the
    /// same BOM bytes on every build.
    fn spec(dir: &Path) -> BundleSpec {
        fs::create_dir_all(dir.join("manifests")).unwrap();
        fs::write(
            dir.join("manifests/config.yaml"),
            "apiVersion: v1\nkind: ConfigMap\nmetadata: {name: demo}\ndata: {greeting: hello}\n",
        )
        .unwrap();
        fs::write(
            dir.join("bundle.yaml"),
            "apiVersion: genesis.dev/v1alpha1\nkind: Bundle\nmetadata: {name: demo, version: 0.1.0}\nspec:\n  \
             sourceDateEpoch: 1735689600\n  manifests: [ {path: manifests/} ]\n  output: {dir: dist}\n",
        )
        .unwrap();
        BundleSpec::load(&dir.join("bundle.yaml")).unwrap()
    }

    fn options(dir: &Path, out: &str) -> BuildOptions {
        BuildOptions { output_dir: Some(dir.join(out)), cache_dir: Some(dir.join("cache")), ..BuildOptions::default() }
    }

    /// What a pipeline signing with `key` gives for `prepared` (RFC 6979: what `build` signs).
    fn signed_by(key: &PrivateKey, prepared: &Prepared) -> ExternalSignatures {
        ExternalSignatures {
            public_key: key.public_key(),
            bom: key.sign(&prepared.bom),
            provenance: key.sign(&prepared.provenance_pae),
        }
    }

    #[test]
    fn a_pipelines_signatures_give_the_archive_a_build_with_its_key_gives_and_stale_sidecars_go() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(dir.path());
        let key = PrivateKey::generate();
        let one_step = build(&spec, &key, &options(dir.path(), "a")).unwrap();

        // An earlier build with a key left `.sig` and `.cosign.bundle` where the external one writes.
        let earlier = build(&spec, &PrivateKey::generate(), &options(dir.path(), "b")).unwrap();
        let prepared = prepare(&spec, &options(dir.path(), "b")).unwrap();
        let two_step = build_external(&spec, &signed_by(&key, &prepared), &options(dir.path(), "b")).unwrap();

        assert_eq!(fs::read(&one_step.archive).unwrap(), fs::read(&two_step.archive).unwrap(), "byte-identical");
        assert_eq!(fs::read(&one_step.sha256_file).unwrap(), fs::read(&two_step.sha256_file).unwrap());
        assert_eq!((one_step.sha256, one_step.bom_sha256), (two_step.sha256, two_step.bom_sha256));
        assert_eq!((&two_step.signature_file, &two_step.cosign_bundle_file), (&None, &None));
        for stale in [earlier.signature_file.unwrap(), earlier.cosign_bundle_file.unwrap()] {
            assert!(!stale.exists(), "{} of the earlier build is removed", stale.display());
        }
    }

    #[test]
    fn a_signature_that_does_not_verify_is_refused_naming_it_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(dir.path());
        let key = PrivateKey::generate();
        let prepared = prepare(&spec, &options(dir.path(), "unused")).unwrap();
        let other_bytes = ExternalSignatures { bom: key.sign(b"another bom"), ..signed_by(&key, &prepared) };
        let other_key = ExternalSignatures {
            provenance: PrivateKey::generate().sign(&prepared.provenance_pae),
            ..signed_by(&key, &prepared)
        };
        for (signatures, refused, file) in
            [(other_bytes, "BOM", "bom.json"), (other_key, "provenance", "provenance.pae")]
        {
            let options = options(dir.path(), "out");
            let e = build_external(&spec, &signatures, &options).unwrap_err();
            assert!(matches!(&e, BuildError::ExternalSignature { what, .. } if *what == refused), "{e}");
            let text = e.to_string();
            assert!(
                text.starts_with(&format!(
                    "the pipeline's {refused} signature does not verify with key {} over this build's {file}: \
                     sign the {file} that `bundle-builder prepare` wrote",
                    key.public_key().fingerprint()
                )),
                "{text}"
            );
            assert!(!options.output_dir.unwrap().exists(), "nothing written");
        }
    }

    #[test]
    fn signature_files_are_read_as_cosign_writes_them_and_keyless_is_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = PrivateKey::generate();
        let der = key.sign(b"bom");
        let file = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            fs::write(&path, bytes).unwrap();
            path
        };
        let mut base64 = encode_signature(&der);
        base64.push(b'\n');
        assert_eq!(read_signature(&file("bom.json.sig", &base64)).unwrap(), der);
        // The bundle's messageDigest is not read: the build checks the signature over the BOM itself.
        let bundle = genesis_trust::sigstore::key_bundle(&key.public_key(), &[0; 32], &der);
        let bundle = file("bom.sigstore.json", &serde_json::to_vec_pretty(&bundle).unwrap());
        assert_eq!(read_signature(&bundle).unwrap(), der, "messageSignature.signature of a key-signed bundle");

        let signature = encode_signature(&der);
        let signature = std::str::from_utf8(&signature).unwrap();
        for (name, material) in [
            ("certificate.json", serde_json::json!({ "certificate": { "rawBytes": "MIIB" } })),
            (
                "chain.json",
                serde_json::json!({ "x509CertificateChain": { "certificates": [ { "rawBytes": "MIIB" } ] } }),
            ),
        ] {
            let keyless = serde_json::json!({
                "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                "verificationMaterial": material,
                "messageSignature": { "signature": signature },
            });
            let path = file(name, &serde_json::to_vec(&keyless).unwrap());
            let e = read_signature(&path).unwrap_err();
            assert!(matches!(e, BuildError::SignatureFile { .. }), "{e}");
            let text = e.to_string();
            assert!(text.starts_with(&format!("{}: a keyless signature", path.display())), "{text}");
            assert!(text.contains("does not verify keyless signatures yet: sign with a key"), "{text}");
        }

        for (name, bytes, said) in [
            ("garbage.sig", &b"not a signature\n"[..], "neither a sigstore bundle nor a cosign signature"),
            ("legacy.json", &br#"{"base64Signature": "MEUC", "cert": ""}"#[..], "cosign's legacy bundle format"),
            ("broken.json", &b"{ not json"[..], "bad JSON"),
        ] {
            let path = file(name, bytes);
            let e = read_signature(&path).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{}: ", path.display())) && e.contains(said), "{e}");
        }
    }

    #[test]
    fn prepared_files_are_what_a_build_signs() {
        let dir = tempfile::tempdir().unwrap();
        let prepared = prepare(&spec(dir.path()), &options(dir.path(), "unused")).unwrap();
        let files = prepared.write_to(&dir.path().join("work/nested")).unwrap();
        assert_eq!(fs::read(&files.bom).unwrap(), prepared.bom);
        assert_eq!(fs::read(&files.provenance_pae).unwrap(), prepared.provenance_pae);
        assert_eq!(fs::read(&files.provenance_statement).unwrap(), prepared.provenance_statement);
        assert_eq!(files.bom.file_name().unwrap(), "bom.json");
        let pae = genesis_trust::sigstore::pae("application/vnd.in-toto+json", &prepared.provenance_statement);
        assert_eq!(prepared.provenance_pae, pae);
        let statement: serde_json::Value = serde_json::from_slice(&prepared.provenance_statement).unwrap();
        assert_eq!(statement["subject"][0]["digest"]["sha256"], genesis_bundle::sha256(&prepared.bom).hex());
        assert!(!dir.path().join("unused").exists(), "prepare writes no bundle");
    }
}
