//! Signing a bundle without holding its key, in two phases. [`prepare`](crate::prepare)
//! writes what would be signed; the release pipeline signs it with its own tool (cosign with
//! a key file or a KMS, an HSM, any ECDSA P-256 signer); [`build_external`](crate::build_external)
//! checks each signature against the vendor's public key and carries it. The pipeline signs
//! two blobs, the BOM and the provenance's DSSE pre-authentication encoding, rather than
//! producing a DSSE envelope itself: any blob signer can sign a blob, and the envelope the
//! builder assembles around the signature is byte-identical to a one-step build's.
//!
//! A pipeline that signs keyless (cosign with a Fulcio certificate and a Rekor entry) makes
//! sigstore bundles instead, the BOM's with `cosign sign-blob --bundle` and the provenance's
//! with `cosign attest-blob --statement` (a DSSE bundle of the statement itself): their
//! certificates and the log's proofs are the signatures' evidence, so the builder checks each
//! against the vendor's identities and pinned root and carries it verbatim, as
//! `bom.sigstore.json` and `provenance/bundle.sigstore.json` (decision 0034).

use std::fs;
use std::io::Read as _;
use std::path::{Path, PathBuf};

use genesis_bundle::{Head, HeadForm};
use genesis_trust::provenance::{IN_TOTO_PAYLOAD_TYPE, envelope};
use genesis_trust::sigstore::{Artifact, MessageSignature, SignedContent, SigstoreBundle};
use genesis_trust::{AcceptedSigner, Keyless, PrivateKey, PublicKey, TrustError, TrustPolicy, encode_signature};
use genesis_types::Digest;

use crate::{BuildError, Result};

/// What the pipeline signs as the BOM: the archive's first entry, byte for byte.
const BOM_FILE: &str = "bom.json";
/// What the pipeline signs for the provenance: its DSSE PAE.
const PROVENANCE_PAE_FILE: &str = "provenance.pae";
/// The provenance statement the PAE wraps, for people to read before they sign.
const PROVENANCE_STATEMENT_FILE: &str = "provenance.intoto.json";

/// Signatures a release pipeline made itself over what `prepare` wrote, with its own tool
/// (cosign sign-blob with a key file, a KMS or keyless, or any ECDSA P-256 signer): the
/// builder checks each against `signer` and carries it, holding no private key.
#[derive(Debug, Clone)]
pub struct ExternalSignatures {
    /// Who the signatures must verify as, as the trust policy names the vendor.
    pub signer: PipelineSigner,
    /// The signature over the exact BOM bytes (`bom.json`).
    pub bom: PipelineSignature,
    /// The signature over the provenance: with a key, over its DSSE pre-authentication
    /// encoding (`provenance.pae`); keyless, the DSSE bundle of its statement
    /// (`provenance.intoto.json`).
    pub provenance: PipelineSignature,
}

/// Who a pipeline signs as.
#[derive(Debug, Clone)]
pub enum PipelineSigner {
    /// The vendor's public key.
    Key(PublicKey),
    /// The vendor's keyless identities, with the pinned sigstore root.
    Keyless(Keyless),
}

/// One signature a pipeline made, as [`read_signature`] reads it from its file.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum PipelineSignature {
    /// Made with a key.
    Key {
        /// ASN.1 DER ECDSA-SHA256, what the archive carries.
        der: Vec<u8>,
        /// The digest a sigstore bundle says it signs (its `messageDigest`), when the
        /// signature came in one that says: only to explain a signature that does not verify.
        signed_sha256: Option<Digest>,
    },
    /// A sigstore bundle carrying a certificate (keyless), as the pipeline wrote it (a
    /// leading byte order mark left out): the archive carries these bytes.
    Keyless(Vec<u8>),
}

impl From<Vec<u8>> for PipelineSignature {
    /// A bare signature, which says nothing of what it signs.
    fn from(der: Vec<u8>) -> PipelineSignature {
        PipelineSignature::Key { der, signed_sha256: None }
    }
}

impl ExternalSignatures {
    /// The head these signatures give `prepared`, refusing a signature that does not verify
    /// as `signer` over what this build signs: carried unchecked, it would make a bundle no
    /// recipient accepts, found only there. A bundle that names other bytes than this build's
    /// says so: the usual cause is a `prepare` with other inputs or flags.
    fn head(&self, prepared: &Prepared) -> Result<Head> {
        match &self.signer {
            PipelineSigner::Key(key) => {
                let [bom, provenance] = [("BOM", &self.bom), ("provenance", &self.provenance)]
                    .map(|(what, signature)| key_signature(what, signature));
                let (bom, provenance) = (bom?, provenance?);
                check_key(key, "BOM", BOM_FILE, &prepared.bom, bom)?;
                check_key(key, "provenance", PROVENANCE_PAE_FILE, &prepared.provenance_pae, provenance)?;
                Ok(keyed_head(key, prepared, bom.der, provenance.der))
            }
            PipelineSigner::Keyless(keyless) => self.keyless_head(keyless, prepared),
        }
    }

    /// The head of a keyless pipeline's sigstore bundles, each checked with `keyless` as a
    /// verifier checks them: the BOM's a signature over `bom.json` (an attestation naming it,
    /// the provenance's bundle given in its place, is refused); the provenance's a DSSE bundle
    /// of this build's statement, byte for byte, by the same identity.
    fn keyless_head(&self, keyless: &Keyless, prepared: &Prepared) -> Result<Head> {
        let policy = TrustPolicy::from_signers(Vec::new(), Some(keyless.clone()))?;
        let (bom_bytes, bom) = keyless_bundle("BOM", &self.bom)?;
        let bom_artifact = Artifact::Bytes(&prepared.bom);
        let signer = judge_keyless(&policy, "BOM", &bom, bom_artifact, SignedContent::Message, BOM_FILE)?;
        let (provenance_bytes, provenance) = keyless_bundle("provenance", &self.provenance)?;
        // A DSSE bundle binds to the artifact through its statement's subject: the BOM.
        let provenance_signer = judge_keyless(
            &policy,
            "provenance",
            &provenance,
            bom_artifact,
            SignedContent::Attestation,
            PROVENANCE_STATEMENT_FILE,
        )?;
        if provenance.dsse_payload().as_ref() != Some(&prepared.provenance_statement) {
            return Err(BuildError::ExternalSignature {
                what: "provenance",
                reason: format!(
                    "is not an attestation of this build's {PROVENANCE_STATEMENT_FILE}: attest that file as it is \
                     (`cosign attest-blob --statement {PROVENANCE_STATEMENT_FILE}`)"
                ),
            });
        }
        if provenance_signer != signer {
            return Err(BuildError::ExternalSignature {
                what: "provenance",
                reason: format!(
                    "is signed by {provenance_signer}, and the BOM by {signer}: sign both as the same identity"
                ),
            });
        }
        Ok(Head {
            bom: prepared.bom.clone(),
            signature: bom_bytes.to_vec(),
            provenance: Some(provenance_bytes.to_vec()),
            form: HeadForm::Sigstore,
        })
    }
}

/// The keyless sigstore bundle `signature` is, read, and its bytes; or why a key's signature
/// is refused here.
fn keyless_bundle<'s>(what: &'static str, signature: &'s PipelineSignature) -> Result<(&'s [u8], SigstoreBundle)> {
    let refused = |reason: String| BuildError::ExternalSignature { what, reason };
    let PipelineSignature::Keyless(bytes) = signature else {
        return Err(refused(
            "was made with a key, and the vendor is given as a keyless identity: give the key's public key, or \
             sign keyless"
                .to_owned(),
        ));
    };
    let bundle = SigstoreBundle::from_slice(bytes).map_err(|e| refused(trust_reason(e)))?;
    Ok((bytes, bundle))
}

/// Who of `policy`'s identities signed `bundle`, which must sign `content`, over `artifact`
/// (this build's `file`), as a verifier judges it; refused naming the file to sign again.
fn judge_keyless(
    policy: &TrustPolicy,
    what: &'static str,
    bundle: &SigstoreBundle,
    artifact: Artifact<'_>,
    content: SignedContent,
    file: &str,
) -> Result<AcceptedSigner> {
    policy.sigstore_signer(bundle, artifact, content, file).map_err(|e| BuildError::ExternalSignature {
        what,
        reason: format!(
            "does not verify over this build's {file}: {}; sign the {file} that `bundle-builder prepare` wrote \
             from this same spec and inputs, as the identity the vendor signs with",
            trust_reason(e)
        ),
    })
}

/// The key's signature `signature` is, or why a keyless one is refused here.
fn key_signature<'s>(what: &'static str, signature: &'s PipelineSignature) -> Result<KeySignature<'s>> {
    match signature {
        PipelineSignature::Key { der, signed_sha256 } => {
            Ok(KeySignature { der, signed_sha256: signed_sha256.as_ref() })
        }
        PipelineSignature::Keyless(_) => Err(BuildError::ExternalSignature {
            what,
            reason: "is a keyless signature (a sigstore bundle with a certificate), and the vendor is given as a \
                     public key: give the identity it was signed as, its OIDC issuer and the pinned sigstore root"
                .to_owned(),
        }),
    }
}

/// A key's signature, borrowed from a [`PipelineSignature::Key`].
#[derive(Clone, Copy)]
struct KeySignature<'s> {
    der: &'s [u8],
    signed_sha256: Option<&'s Digest>,
}

/// Refuses `signature` unless `key` verifies it over `message` (this build's `file`).
fn check_key(
    key: &PublicKey,
    what: &'static str,
    file: &str,
    message: &[u8],
    signature: KeySignature<'_>,
) -> Result<()> {
    if key.verifies(message, signature.der) {
        return Ok(());
    }
    let digest = genesis_bundle::sha256(message);
    let other_bytes = match signature.signed_sha256 {
        Some(signed) if *signed != digest => format!(" (this bundle signs {signed}; this build's {file} is {digest})"),
        _ => String::new(),
    };
    Err(BuildError::ExternalSignature {
        what,
        reason: format!(
            "does not verify with key {} over this build's {file}{other_bytes}: sign the {file} that \
             `bundle-builder prepare` wrote from this same spec and inputs, with the key this public key belongs to",
            key.fingerprint()
        ),
    })
}

/// The head of a build signed with `key`: the BOM's signature as cosign's base64 and the
/// provenance's in the DSSE envelope, the same bytes whether the builder or a pipeline signed.
fn keyed_head(key: &PublicKey, prepared: &Prepared, bom: &[u8], provenance: &[u8]) -> Head {
    Head {
        bom: prepared.bom.clone(),
        signature: encode_signature(bom),
        provenance: Some(envelope(IN_TOTO_PAYLOAD_TYPE, &prepared.provenance_statement, provenance, &key.hint())),
        form: HeadForm::Cosign,
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

impl Signing<'_> {
    /// The signed head of `prepared`: signed here with the key (RFC 6979, so the same bytes a
    /// pipeline signing with that key gives), or the pipeline's signatures, refused unless
    /// each verifies. Called before anything is written.
    pub(crate) fn head(self, prepared: &Prepared) -> Result<Head> {
        match self {
            Signing::Key(key) => Ok(keyed_head(
                &key.public_key(),
                prepared,
                &key.sign(&prepared.bom),
                &key.sign(&prepared.provenance_pae),
            )),
            Signing::External(signatures) => signatures.head(prepared),
        }
    }
}

/// What Windows editors and PowerShell put before UTF-8 text.
const UTF8_BOM: &[u8] = b"\xEF\xBB\xBF";

/// Reads a signature file as a pipeline writes it: cosign sign-blob's base64 output
/// (`--output-signature`; every ASCII whitespace ignored, so `base64` and `openssl base64`
/// output wrapped at 76 or 64 columns is read too), its raw DER (`--b64=false`), or a
/// sigstore bundle (`--bundle`, cosign 2's legacy one included) as the verifier reads it
/// ([`SigstoreBundle`]); a leading UTF-8 byte order mark is ignored. A bundle a key signed
/// gives its signature; one carrying a certificate (keyless, the BOM's or the provenance's
/// DSSE bundle) is taken whole, to be checked against the vendor's identities and carried as
/// it is. A key-signed bundle of a DSSE envelope is refused: a key signs the PAE as a blob.
/// Read up to the size a verifier reads of an archive's signature entry (64 KiB: a cosign
/// signature is about 100 bytes, a keyless sigstore bundle with its certificate and log
/// proofs under 16 KiB, so anything near it is the wrong file); the provenance's signature
/// is read by [`read_provenance_signature`].
pub fn read_signature(path: &Path) -> Result<PipelineSignature> {
    read_signature_within(path, genesis_bundle::Limits::default().max_signature_size)
}

/// Reads the provenance's signature file as [`read_signature`] reads the BOM's, up to the size
/// a verifier reads of an archive's provenance entry: a keyless pipeline's DSSE bundle carries
/// the whole statement, which grows with every image of the bundle, far past a signature.
pub fn read_provenance_signature(path: &Path) -> Result<PipelineSignature> {
    read_signature_within(path, genesis_bundle::Limits::default().max_bom_size)
}

/// [`read_signature`] of a file of at most `max` bytes.
fn read_signature_within(path: &Path, max: u64) -> Result<PipelineSignature> {
    let refused = |reason: String| BuildError::SignatureFile { path: path.to_owned(), reason };
    let file = genesis_bundle::digest_io::open_regular(path).map_err(|e| refused(format!("cannot read: {e}")))?;
    let mut bytes = Vec::new();
    file.take(max + 1).read_to_end(&mut bytes).map_err(|e| refused(format!("cannot read: {e}")))?;
    if bytes.len() as u64 > max {
        return Err(refused(format!(
            "larger than {} KiB, the most a verifier reads of it in an archive, so not its signature: give the \
             file cosign wrote",
            max >> 10
        )));
    }
    let text = bytes.strip_prefix(UTF8_BOM).unwrap_or(&bytes);
    if text.trim_ascii_start().starts_with(b"{") {
        return bundle_signature(text).map_err(refused);
    }
    // Raw DER (`--b64=false`) first, as it is: its bytes may be whitespace's. Then base64,
    // with every whitespace gone.
    let base64: Vec<u8> = text.iter().copied().filter(|b| !b.is_ascii_whitespace()).collect();
    genesis_trust::decode_signature(&bytes, "signature")
        .or_else(|_| genesis_trust::decode_signature(&base64, "signature"))
        .map(PipelineSignature::from)
        .map_err(|e| {
            refused(format!(
                "neither a sigstore bundle nor a cosign signature (base64 ASN.1 DER ECDSA): {}",
                trust_reason(e)
            ))
        })
}

/// The signature of a key-signed sigstore bundle and the digest it names, or why the
/// document is not one.
fn bundle_signature(text: &[u8]) -> std::result::Result<PipelineSignature, String> {
    let doc: serde_json::Value = serde_json::from_slice(text)
        .map_err(|e| format!("neither a sigstore bundle nor a signature: bad JSON ({e})"))?;
    // cosign 2 writes its legacy bundle without `rekorBundle` when nothing went to the log,
    // which the verifier does not read either: said as such below.
    let legacy = doc.get("base64Signature").is_some();
    let bundle = SigstoreBundle::from_json(doc).map_err(|e| format!("not a sigstore bundle: {}", trust_reason(e)))?;
    if bundle.has_certificate() {
        return Ok(PipelineSignature::Keyless(text.to_vec()));
    }
    match bundle.message_signature() {
        Ok(Some(MessageSignature { signature, sha256 })) => {
            Ok(PipelineSignature::Key { der: signature, signed_sha256: sha256.map(Digest::from_sha256_bytes) })
        }
        Ok(None) => Err("a sigstore bundle of a DSSE envelope, not of a signature over the file: sign the file \
                         as a blob (`cosign sign-blob --key … --bundle FILE`), not as an attestation"
            .to_owned()),
        Err(_) if legacy => Err("cosign's legacy bundle without a log entry (`--tlog-upload=false`), which \
                                 genesis does not read: give a sigstore bundle (cosign 2: `--new-bundle-format`) or \
                                 the signature itself (`--output-signature FILE`)"
            .to_owned()),
        Err(e) => Err(format!("not a sigstore bundle: {}", trust_reason(e))),
    }
}

/// What is wrong, without the trust crate's prefix (`sigstore bundle refused: `, `signature: `)
/// that the message around it already says.
fn trust_reason(e: TrustError) -> String {
    match e {
        TrustError::BundleRefused { reason } | TrustError::SignatureFormat { reason, .. } => reason,
        other => other.to_string(),
    }
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
            signer: PipelineSigner::Key(key.public_key()),
            bom: key.sign(&prepared.bom).into(),
            provenance: key.sign(&prepared.provenance_pae).into(),
        }
    }

    /// `ARCHIVE.report.pdf`, where a build with a report writes it.
    fn report_beside(archive: &Path) -> PathBuf {
        genesis_bundle::path_with_suffix(archive, genesis_report::PDF_SUFFIX)
    }

    /// Standard base64, as cosign writes a signature (and a bundle its fields).
    fn b64(bytes: &[u8]) -> String {
        String::from_utf8(encode_signature(bytes)).unwrap()
    }

    #[test]
    fn a_pipelines_signatures_give_the_archive_a_build_with_its_key_gives_and_stale_sidecars_go() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(dir.path());
        let key = PrivateKey::generate();
        let one_step = build(&spec, &key, &options(dir.path(), "a")).unwrap();

        // An earlier build with a key left `.sig`, `.cosign.bundle` and a report where the
        // external one writes.
        let earlier = build(&spec, &PrivateKey::generate(), &options(dir.path(), "b")).unwrap();
        let earlier_report = report_beside(&earlier.archive);
        fs::write(&earlier_report, b"%PDF- of the earlier archive").unwrap();
        let prepared = prepare(&spec, &options(dir.path(), "b")).unwrap();
        let two_step = build_external(&spec, &signed_by(&key, &prepared), &options(dir.path(), "b")).unwrap();

        assert_eq!(fs::read(&one_step.archive).unwrap(), fs::read(&two_step.archive).unwrap(), "byte-identical");
        assert_eq!(fs::read(&one_step.sha256_file).unwrap(), fs::read(&two_step.sha256_file).unwrap());
        assert_eq!((one_step.sha256, one_step.bom_sha256), (two_step.sha256, two_step.bom_sha256));
        assert_eq!((&two_step.signature_file, &two_step.cosign_bundle_file), (&None, &None));
        for stale in [earlier.signature_file.unwrap(), earlier.cosign_bundle_file.unwrap(), earlier_report] {
            assert!(!stale.exists(), "{} of the earlier build is removed", stale.display());
        }
    }

    /// The earlier build's sidecars go before the new archive takes the old one's place: when
    /// one cannot be removed, the old archive is still there, not the new one beside a stale
    /// signature.
    #[test]
    fn a_stale_sidecar_that_cannot_be_removed_stops_the_build_before_the_new_archive_is_in_place() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(dir.path());
        let earlier = build(&spec, &PrivateKey::generate(), &options(dir.path(), "out")).unwrap();
        let earlier_bytes = fs::read(&earlier.archive).unwrap();
        let signature_file = earlier.signature_file.unwrap();
        fs::remove_file(&signature_file).unwrap();
        fs::create_dir_all(signature_file.join("not-removable")).unwrap();

        let key = PrivateKey::generate();
        let prepared = prepare(&spec, &options(dir.path(), "out")).unwrap();
        let e = build_external(&spec, &signed_by(&key, &prepared), &options(dir.path(), "out")).unwrap_err();
        assert!(e.to_string().contains("cannot remove the signature of an earlier build"), "{e}");
        assert_eq!(fs::read(&earlier.archive).unwrap(), earlier_bytes, "the earlier archive is still in place");
    }

    #[test]
    fn a_report_is_refused_with_a_pipelines_signatures_as_the_pipeline_signs_the_archive_after() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(dir.path());
        let key = PrivateKey::generate();
        let prepared = prepare(&spec, &options(dir.path(), "unused")).unwrap();
        let options = BuildOptions { report: true, ..options(dir.path(), "out") };
        let e = build_external(&spec, &signed_by(&key, &prepared), &options).unwrap_err();
        assert!(matches!(&e, BuildError::Input { .. }), "{e}");
        let text = e.to_string();
        assert!(text.starts_with("--report: cannot go with a pipeline's signatures"), "{text}");
        let archive = crate::archive_path(&spec, &options);
        assert!(text.contains(&format!("`genesis report {} --key PUB`", archive.display())), "{text}");
        assert!(!dir.path().join("out").exists(), "nothing written");
    }

    #[test]
    fn a_signature_that_does_not_verify_is_refused_naming_it_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(dir.path());
        let key = PrivateKey::generate();
        let prepared = prepare(&spec, &options(dir.path(), "unused")).unwrap();
        let other_bytes = ExternalSignatures { bom: key.sign(b"another bom").into(), ..signed_by(&key, &prepared) };
        let other_key = ExternalSignatures {
            provenance: PrivateKey::generate().sign(&prepared.provenance_pae).into(),
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

    /// A bundle that names other bytes than this build's says which: the usual cause, a
    /// `prepare` with other inputs or flags, is then plain.
    #[test]
    fn a_bundle_over_other_bytes_names_both_digests() {
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(dir.path());
        let key = PrivateKey::generate();
        let prepared = prepare(&spec, &options(dir.path(), "unused")).unwrap();
        let signed = genesis_bundle::sha256(b"another bom");
        let bom = PipelineSignature::Key { der: key.sign(b"another bom"), signed_sha256: Some(signed.clone()) };
        let e = build_external(
            &spec,
            &ExternalSignatures { bom, ..signed_by(&key, &prepared) },
            &options(dir.path(), "out"),
        )
        .unwrap_err()
        .to_string();
        let names = format!(
            "over this build's bom.json (this bundle signs {signed}; this build's bom.json is {}): sign the bom.json",
            genesis_bundle::sha256(&prepared.bom)
        );
        assert!(e.contains(&names), "{e}");
    }

    #[test]
    fn signature_files_are_read_as_cosign_base64_and_openssl_write_them() {
        let dir = tempfile::tempdir().unwrap();
        let der = PrivateKey::generate().sign(b"bom");
        let base64 = b64(&der);
        assert!(base64.len() > 76, "long enough to wrap");
        let wrapped = |width: usize, eol: &str| {
            let lines: Vec<&str> =
                base64.as_bytes().chunks(width).map(|line| std::str::from_utf8(line).unwrap()).collect();
            format!("{}{eol}", lines.join(eol)).into_bytes()
        };
        for (name, bytes) in [
            ("one-line.sig", format!("{base64}\n").into_bytes()),
            ("openssl-base64.sig", wrapped(64, "\n")),
            ("base64-crlf.sig", wrapped(76, "\r\n")),
            ("spaced.sig", format!(" \t{}\n", base64.replace('M', "M ")).into_bytes()),
            ("byte-order-mark.sig", [UTF8_BOM, base64.as_bytes(), &b"\r\n"[..]].concat()),
            ("raw.der", der.clone()),
        ] {
            let path = dir.path().join(name);
            fs::write(&path, &bytes).unwrap();
            assert_eq!(read_signature(&path).unwrap(), PipelineSignature::from(der.clone()), "{name}");
        }
    }

    #[test]
    fn key_signed_bundles_are_read_as_the_verifier_reads_them_keyless_ones_whole_and_keyed_dsse_refused() {
        let dir = tempfile::tempdir().unwrap();
        let key = PrivateKey::generate();
        let der = key.sign(b"bom");
        let file = |name: &str, bytes: &[u8]| {
            let path = dir.path().join(name);
            fs::write(&path, bytes).unwrap();
            path
        };
        let expected =
            PipelineSignature::Key { der: der.clone(), signed_sha256: Some(Digest::from_sha256_bytes([7; 32])) };

        // cosign's sigstore bundle (v0.3), with a byte order mark too.
        let bundle =
            serde_json::to_vec_pretty(&genesis_trust::sigstore::key_bundle(&key.public_key(), &[7; 32], &der)).unwrap();
        assert_eq!(read_signature(&file("bom.sigstore.json", &bundle)).unwrap(), expected);
        assert_eq!(
            read_signature(&file("byte-order-mark.sigstore.json", &[UTF8_BOM, &bundle[..]].concat())).unwrap(),
            expected
        );

        // cosign 2's legacy `--bundle` with a key: the digest comes from its log entry.
        let entry = serde_json::json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": { "data": { "hash": { "algorithm": "sha256", "value": "07".repeat(32) } } },
        });
        let legacy = serde_json::json!({
            "base64Signature": b64(&der),
            "cert": b64(key.public_key().to_pem().as_bytes()),
            "rekorBundle": {
                "SignedEntryTimestamp": "MEUCIQ==",
                "Payload": {
                    "body": b64(&serde_json::to_vec(&entry).unwrap()),
                    "integratedTime": 1735689600,
                    "logIndex": 1,
                    "logID": "c0d23d6ad406973f9559f3ba2d1ca01f84147d8ffc5b8445c224f98b9591801d",
                },
            },
        });
        let legacy = file("legacy.cosign-bundle.json", &serde_json::to_vec(&legacy).unwrap());
        assert_eq!(read_signature(&legacy).unwrap(), expected, "a key-signed legacy bundle");

        let signature = b64(&der);
        let keyless_legacy = fs::read(
            Path::new(env!("CARGO_MANIFEST_DIR"))
                .join("../../fixtures/interop/legacy-cosign-bundle/artifact.txt.cosign-bundle.json"),
        )
        .unwrap();
        let keyless = [
            ("certificate.json", serde_json::json!({ "certificate": { "rawBytes": "MIIB" } })),
            (
                "chain.json",
                serde_json::json!({ "x509CertificateChain": { "certificates": [ { "rawBytes": "MIIB" } ] } }),
            ),
        ]
        .map(|(name, material)| {
            let bundle = serde_json::json!({
                "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
                "verificationMaterial": material,
                "messageSignature": { "signature": signature },
            });
            file(name, &serde_json::to_vec(&bundle).unwrap())
        });
        // Keyless: taken whole, to be checked against the vendor's identities and carried.
        for path in keyless.into_iter().chain([file("keyless-legacy.json", &keyless_legacy)]) {
            let bytes = fs::read(&path).unwrap();
            assert_eq!(read_signature(&path).unwrap(), PipelineSignature::Keyless(bytes), "{}", path.display());
        }

        let dsse = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": { "publicKey": { "hint": key.public_key().hint() } },
            "dsseEnvelope": {
                "payloadType": "application/vnd.in-toto+json",
                "payload": "e30=",
                "signatures": [ { "sig": signature } ],
            },
        });
        let dsse = serde_json::to_vec(&dsse).unwrap();
        for (name, bytes, said) in [
            ("garbage.sig", &b"not a signature\n"[..], "neither a sigstore bundle nor a cosign signature"),
            ("dsse.json", &dsse[..], "a sigstore bundle of a DSSE envelope"),
            ("no-log.json", &br#"{"base64Signature": "MEUC", "cert": ""}"#[..], "legacy bundle without a log entry"),
            ("broken.json", &b"{ not json"[..], "bad JSON"),
        ] {
            let path = file(name, bytes);
            let e = read_signature(&path).unwrap_err().to_string();
            assert!(e.starts_with(&format!("{}: ", path.display())) && e.contains(said), "{e}");
        }
    }

    /// The provenance's signature file is read up to the size a verifier reads of the
    /// provenance entry, as a keyless DSSE bundle carries the whole statement; the BOM's only up
    /// to a signature entry's.
    #[test]
    fn a_provenance_bundle_past_a_signatures_size_is_read_and_a_bom_signature_is_not() {
        let dir = tempfile::tempdir().unwrap();
        let statement = serde_json::json!({ "padding": "x".repeat(100 << 10) }).to_string();
        let bundle = serde_json::json!({
            "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
            "verificationMaterial": { "certificate": { "rawBytes": "MIIB" } },
            "dsseEnvelope": {
                "payloadType": "application/vnd.in-toto+json",
                "payload": b64(statement.as_bytes()),
                "signatures": [ { "sig": "MEUC" } ],
            },
        });
        let bytes = serde_json::to_vec(&bundle).unwrap();
        assert!(bytes.len() > 64 << 10);
        let path = dir.path().join("provenance.sigstore.json");
        fs::write(&path, &bytes).unwrap();
        assert_eq!(read_provenance_signature(&path).unwrap(), PipelineSignature::Keyless(bytes));
        let e = read_signature(&path).unwrap_err().to_string();
        assert!(e.contains("larger than 64 KiB, the most a verifier reads of it in an archive"), "{e}");
        let limit = genesis_bundle::Limits::default().max_bom_size;
        fs::write(&path, vec![b' '; limit as usize + 1]).unwrap();
        let e = read_provenance_signature(&path).unwrap_err().to_string();
        assert!(e.contains(&format!("larger than {} KiB", limit >> 10)), "{e}");
    }

    /// A keyless pipeline's sigstore bundles are carried whole once each verifies as the
    /// vendor's identity: the provenance must attest this build's statement, as the BOM's
    /// signer, and the archive then verifies with that identity alone.
    #[test]
    fn keyless_bundles_are_carried_when_they_verify_and_refused_naming_what_differs() {
        use genesis_testkit::sigstore::LoopbackSigstore;
        use genesis_trust::sigstore::{CertificateIdentity, SubjectMatcher, TrustedRoot};

        let (vendor, issuer) = ("release@acme.example", "https://idp.acme.example");
        let dir = tempfile::tempdir().unwrap();
        let spec = spec(dir.path());
        let mut sigstore = LoopbackSigstore::new(dir.path());
        let prepared = prepare(&spec, &options(dir.path(), "unused")).unwrap();
        let identity = CertificateIdentity { subject: SubjectMatcher::Exact(vendor.into()), issuer: issuer.into() };
        let keyless =
            Keyless { identities: vec![identity], root: TrustedRoot::from_file(sigstore.trusted_root()).unwrap() };
        let signed = |bom: String, provenance: String| ExternalSignatures {
            signer: PipelineSigner::Keyless(keyless.clone()),
            bom: PipelineSignature::Keyless(bom.into_bytes()),
            provenance: PipelineSignature::Keyless(provenance.into_bytes()),
        };
        let bom = sigstore.sign_blob(&prepared.bom, vendor, issuer);
        for (provenance, said) in [
            (sigstore.attest(b"{}", vendor, issuer), "no trusted identity verifies it"),
            (sigstore.attest(&prepared.provenance_statement, "other@acme.example", issuer), "no trusted identity"),
        ] {
            let options = options(dir.path(), "out");
            let e = build_external(&spec, &signed(bom.clone(), provenance), &options).unwrap_err();
            assert!(matches!(&e, BuildError::ExternalSignature { what: "provenance", .. }), "{e}");
            assert!(e.to_string().contains(said), "{e}");
            assert!(!options.output_dir.unwrap().exists(), "nothing written");
        }
        let provenance = sigstore.attest(&prepared.provenance_statement, vendor, issuer);
        // The provenance's attestation names the BOM, so it verifies over the BOM's bytes too:
        // given as the BOM's signature, it is refused for what it is.
        let options_out = options(dir.path(), "out");
        let e = build_external(&spec, &signed(provenance.clone(), provenance.clone()), &options_out).unwrap_err();
        assert!(matches!(&e, BuildError::ExternalSignature { what: "BOM", .. }), "{e}");
        assert!(e.to_string().contains("an attestation (a DSSE envelope"), "{e}");
        assert!(!options_out.output_dir.unwrap().exists(), "nothing written");
        let e = build_external(&spec, &signed(bom.clone(), bom.clone()), &options(dir.path(), "out")).unwrap_err();
        assert!(matches!(&e, BuildError::ExternalSignature { what: "provenance", .. }), "{e}");
        assert!(e.to_string().contains("a signature over bytes (a messageSignature)"), "{e}");
        let out = build_external(&spec, &signed(bom, provenance), &options(dir.path(), "out")).unwrap();
        let policy = TrustPolicy::from_signers(Vec::new(), Some(keyless.clone())).unwrap();
        let verified =
            genesis_trust::UnverifiedBundle::open(&out.archive, &Default::default()).unwrap().verify(&policy).unwrap();
        assert_eq!(*verified.signer(), AcceptedSigner::Identity { subject: vendor.into(), issuer: issuer.into() });
        let report = verified.check().unwrap().report().clone();
        assert!(report.head.provenance.is_some());
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
