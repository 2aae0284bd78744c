//! A sigstore instance for tests, in-process: a Fulcio-like CA, a certificate-transparency log
//! and a Rekor-like transparency log, named in the `trusted_root.json` it writes. It mints what
//! a keyless `cosign sign-blob --bundle` (and `cosign attest-blob --new-bundle-format`) writes:
//! an ephemeral P-256 key, a ten-minute certificate for an OIDC identity carrying an embedded
//! SCT, and a Rekor v1 entry appended to a real RFC 6962 Merkle tree, with its inclusion proof,
//! signed checkpoint and signed entry timestamp. Verification is offline, so no server is
//! needed: no public Fulcio or Rekor is reachable from the tests, and none is contacted.
//!
//! Each [`Fault`] gets one thing wrong, for the refusal tests. No RFC 3161 timestamp authority:
//! the log's signed integration time is the verified time, as for most public-good bundles.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};
use std::time::{Duration, SystemTime, UNIX_EPOCH};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use genesis_trust::PrivateKey;
use serde_json::{Value, json};
use sha2::{Digest as _, Sha256};
use x509_cert::der::asn1::{BitString, Ia5String, OctetString, UtcTime, Utf8StringRef};
use x509_cert::der::oid::ObjectIdentifier;
use x509_cert::der::{Decode as _, Encode as _};
use x509_cert::ext::pkix::name::GeneralName;
use x509_cert::ext::pkix::{
    AuthorityKeyIdentifier, BasicConstraints, ExtendedKeyUsage, KeyUsage, KeyUsages, SubjectAltName,
    SubjectKeyIdentifier,
};
use x509_cert::ext::{AsExtension, Extension};
use x509_cert::name::Name;
use x509_cert::serial_number::SerialNumber;
use x509_cert::spki::{AlgorithmIdentifierOwned, SubjectPublicKeyInfoOwned};
use x509_cert::time::{Time, Validity};
use x509_cert::{Certificate, TbsCertificate, Version};

/// What can be wrong with a minted bundle, for the refusal tests.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum Fault {
    /// Nothing: the bundle verifies.
    None,
    /// The checkpoint is signed by a key the trusted root does not name, under the log's key
    /// hint (a forged tree head).
    ForgedCheckpoint,
    /// The certificate's SCT is signed by a CT log the trusted root does not name.
    SctFromAnotherLog,
    /// The certificate's validity ended before the log integrated the entry.
    ExpiredAtLogTime,
    /// No transparency-log entry and no timestamp: nothing proves when the signature was made.
    NoLogEntry,
}

/// The Fulcio CA, the CT log, the Rekor log with its entries, and the key that signs what the
/// trusted root does not vouch for. See the module documentation.
pub struct LoopbackSigstore {
    trusted_root: PathBuf,
    fulcio: Fulcio,
    ct_log: Key,
    rekor: Key,
    /// A key the trusted root does not name: forged checkpoints, SCTs of another log.
    outsider: Key,
    /// The Rekor log: the RFC 6962 leaf hash of each entry's canonicalized body, in log order.
    log: Vec<[u8; 32]>,
}

/// The host every URL of the instance names; nothing listens there, nothing is contacted.
const HOST: &str = "127.0.0.1";
/// The checkpoint's origin line, Rekor's `<host> - <tree ID>`.
const LOG_ORIGIN: &str = "127.0.0.1 - 1";
/// The CA's subject, `CN=…,O=…`.
const FULCIO_COMMON_NAME: &str = "loopback-fulcio";
const FULCIO_ORGANIZATION: &str = "genesis-test";
const BUNDLE_MEDIA_TYPE: &str = "application/vnd.dev.sigstore.bundle.v0.3+json";
const IN_TOTO: &str = "application/vnd.in-toto+json";
/// Fulcio's certificate lifetime.
const CERTIFICATE_LIFETIME: u64 = 10 * 60;
const ECDSA_WITH_SHA256: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.2.840.10045.4.3.2");
const CODE_SIGNING: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.5.5.7.3.3");
/// Fulcio's OIDC issuer extension (deprecated form: the raw string, not DER).
const OIDC_ISSUER: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.1");
/// Fulcio's OIDC issuer extension, a DER UTF8String.
const OIDC_ISSUER_V2: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.57264.1.8");
/// RFC 6962's embedded SCT list extension.
const SCT_LIST: ObjectIdentifier = ObjectIdentifier::new_unwrap("1.3.6.1.4.1.11129.2.4.2");

impl LoopbackSigstore {
    /// A fresh instance; writes `dir/trusted_root.json` (media type
    /// application/vnd.dev.sigstore.trustedroot+json;version=0.1) naming its CA, CT log and
    /// Rekor log.
    pub fn new(dir: &Path) -> LoopbackSigstore {
        // Every window opens a day back, so a certificate issued (and expired) minutes ago is
        // still inside them.
        let start = unix_now() - 24 * 60 * 60;
        let sigstore = LoopbackSigstore {
            trusted_root: dir.join("trusted_root.json"),
            fulcio: Fulcio::new(start),
            ct_log: Key::generate(),
            rekor: Key::generate(),
            outsider: Key::generate(),
            // Other signers' entries come first, as in a public log, so that even the first
            // inclusion proof has hashes to check.
            log: (0..5).map(|i| leaf_hash(format!("an entry another signer logged ({i})").as_bytes())).collect(),
        };
        let start = rfc3339(start);
        let log = |key: &Key| {
            json!({
                "baseUrl": format!("http://{HOST}"),
                "hashAlgorithm": "SHA2_256",
                "publicKey": {
                    "rawBytes": STANDARD.encode(&key.spki),
                    "keyDetails": "PKIX_ECDSA_P256_SHA_256",
                    "validFor": {"start": start},
                },
                "logId": {"keyId": STANDARD.encode(key.id())},
            })
        };
        let root = json!({
            "mediaType": "application/vnd.dev.sigstore.trustedroot+json;version=0.1",
            "tlogs": [log(&sigstore.rekor)],
            "certificateAuthorities": [{
                "subject": {"organization": FULCIO_ORGANIZATION, "commonName": FULCIO_COMMON_NAME},
                "uri": format!("http://{HOST}"),
                "certChain": {"certificates": [{"rawBytes": STANDARD.encode(&sigstore.fulcio.certificate)}]},
                "validFor": {"start": start},
            }],
            "ctlogs": [log(&sigstore.ct_log)],
            "timestampAuthorities": [],
        });
        std::fs::write(&sigstore.trusted_root, serde_json::to_vec_pretty(&root).unwrap()).unwrap();
        sigstore
    }

    /// Path of its trusted_root.json.
    pub fn trusted_root(&self) -> &Path {
        &self.trusted_root
    }

    /// A keyless signature over `blob` as `cosign sign-blob --bundle` makes it: an ephemeral
    /// P-256 key, a short-lived certificate for SAN `identity` (URI if it contains "://", else
    /// e-mail) recording `issuer` in Fulcio's OIDC-issuer extensions, with an embedded SCT; a
    /// hashedrekord entry in the log with its inclusion proof, signed checkpoint and signed
    /// entry timestamp. Returns the sigstore bundle v0.3 JSON.
    pub fn sign_blob(&mut self, blob: &[u8], identity: &str, issuer: &str) -> String {
        self.sign_blob_with(blob, identity, issuer, Fault::None)
    }

    /// [`LoopbackSigstore::sign_blob`] with one thing wrong.
    pub fn sign_blob_with(&mut self, blob: &[u8], identity: &str, issuer: &str, fault: Fault) -> String {
        let (signer, certificate, now) = self.keyless(identity, issuer, fault);
        let signature = STANDARD.encode(signer.sign(blob));
        let digest = Sha256::digest(blob);
        // Keys in sorted order throughout: the log's bodies are RFC 8785 canonical JSON.
        let body = json!({
            "apiVersion": "0.0.1",
            "kind": "hashedrekord",
            "spec": {
                "data": {"hash": {"algorithm": "sha256", "value": hex::encode(digest)}},
                "signature": {
                    "content": signature,
                    "publicKey": {"content": STANDARD.encode(pem(&certificate))},
                },
            },
        });
        let content = json!({
            "messageDigest": {"algorithm": "SHA2_256", "digest": STANDARD.encode(digest)},
            "signature": signature,
        });
        self.bundle(&certificate, "hashedrekord", &body, ("messageSignature", content), now, fault)
    }

    /// The same for a DSSE envelope over `statement` (payload type
    /// application/vnd.in-toto+json), as `cosign attest-blob --statement …
    /// --new-bundle-format` makes it: a dsse entry in the log.
    pub fn attest(&mut self, statement: &[u8], identity: &str, issuer: &str) -> String {
        let (signer, certificate, now) = self.keyless(identity, issuer, Fault::None);
        let signature = STANDARD.encode(signer.sign(&genesis_trust::sigstore::pae(IN_TOTO, statement)));
        let envelope = json!({
            "payload": STANDARD.encode(statement),
            "payloadType": IN_TOTO,
            "signatures": [{"sig": signature}],
        });
        let body = json!({
            "apiVersion": "0.0.1",
            "kind": "dsse",
            "spec": {
                "envelopeHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(envelope.to_string()))},
                "payloadHash": {"algorithm": "sha256", "value": hex::encode(Sha256::digest(statement))},
                "signatures": [{
                    "signature": signature,
                    "verifier": STANDARD.encode(pem(&certificate)),
                }],
            },
        });
        self.bundle(&certificate, "dsse", &body, ("dsseEnvelope", envelope), now, Fault::None)
    }

    /// An ephemeral key, Fulcio's certificate for it, and the time it was issued at.
    fn keyless(&self, identity: &str, issuer: &str, fault: Fault) -> (Key, Vec<u8>, u64) {
        let signer = Key::generate();
        let now = unix_now();
        let validity = match fault {
            Fault::ExpiredAtLogTime => (now - 2 * CERTIFICATE_LIFETIME, now - CERTIFICATE_LIFETIME),
            _ => (now, now + CERTIFICATE_LIFETIME),
        };
        let ct_log = if fault == Fault::SctFromAnotherLog { &self.outsider } else { &self.ct_log };
        let certificate = self.fulcio.issue(&signer, identity, issuer, validity, ct_log);
        (signer, certificate, now)
    }

    /// The v0.3 bundle of `content` (`messageSignature` or `dsseEnvelope`) signed under
    /// `certificate`, with `body` logged at `integrated_time` unless the fault is that it is not.
    fn bundle(
        &mut self,
        certificate: &[u8],
        kind: &str,
        body: &Value,
        (content_name, content): (&str, Value),
        integrated_time: u64,
        fault: Fault,
    ) -> String {
        let entries = match fault {
            Fault::NoLogEntry => Vec::new(),
            _ => vec![self.append(kind, body, integrated_time, fault)],
        };
        let mut bundle = json!({
            "mediaType": BUNDLE_MEDIA_TYPE,
            "verificationMaterial": {
                "certificate": {"rawBytes": STANDARD.encode(certificate)},
                "tlogEntries": entries,
                "timestampVerificationData": {},
            },
        });
        bundle[content_name] = content;
        bundle.to_string()
    }

    /// Appends `body` to the log as Rekor v1 does and returns the bundle's entry for it: the
    /// canonicalized body, its index, the log ID (SHA-256 of the log's SPKI), the integrated
    /// time with the signed entry timestamp over them, and the inclusion proof against the new
    /// tree head with its checkpoint (a signed note).
    fn append(&mut self, kind: &str, body: &Value, integrated_time: u64, fault: Fault) -> Value {
        // serde_json writes no whitespace and, without `preserve_order` (not enabled in this
        // workspace), sorts keys: the RFC 8785 form of these ASCII, integer-only documents.
        let body = serde_json::to_vec(body).unwrap();
        let index = self.log.len();
        self.log.push(leaf_hash(&body));
        let body = STANDARD.encode(body);
        let size = self.log.len();
        let root = tree_hash(&self.log);
        let log_id = self.rekor.id();
        let note = format!("{LOG_ORIGIN}\n{size}\n{}\n", STANDARD.encode(root));
        let note_signer = if fault == Fault::ForgedCheckpoint { &self.outsider } else { &self.rekor };
        // A note signature is the key hint (the log ID's first four bytes), then the signature.
        let mut note_signature = log_id[..4].to_vec();
        note_signature.extend(note_signer.sign(note.as_bytes()));
        let checkpoint = format!("{note}\n\u{2014} {HOST} {}\n", STANDARD.encode(note_signature));
        let promise = json!({
            "body": body,
            "integratedTime": integrated_time,
            "logID": hex::encode(log_id),
            "logIndex": index,
        });
        let signed_entry_timestamp = self.rekor.sign(&serde_json::to_vec(&promise).unwrap());
        json!({
            "logIndex": index.to_string(),
            "logId": {"keyId": STANDARD.encode(log_id)},
            "kindVersion": {"kind": kind, "version": "0.0.1"},
            "integratedTime": integrated_time.to_string(),
            "inclusionPromise": {"signedEntryTimestamp": STANDARD.encode(signed_entry_timestamp)},
            "inclusionProof": {
                "logIndex": index.to_string(),
                "rootHash": STANDARD.encode(root),
                "treeSize": size.to_string(),
                "hashes": inclusion_proof(index, &self.log).iter().map(|h| STANDARD.encode(h)).collect::<Vec<_>>(),
                "checkpoint": {"envelope": checkpoint},
            },
            "canonicalizedBody": body,
        })
    }
}

/// sigstore-js (`@sigstore/verify`) verifying a keyless `bundle` over `artifact` against
/// `trusted_root`, with sigstore's default thresholds and the certificate identity policy
/// (exactly this SAN and OIDC issuer): xtask/test-node/verify.js's keyless mode. The script
/// runs from the source tree, since its copy under target/test-node is refreshed only when the
/// npm lock changes; the packages come from target/test-node.
pub fn sigstore_js_keyless(
    bundle: &Path,
    artifact: &Path,
    trusted_root: &Path,
    identity: &str,
    issuer: &str,
) -> Output {
    let workspace = Path::new(env!("CARGO_MANIFEST_DIR")).join("../..");
    let node_dir = workspace.join("target/test-node");
    assert!(
        node_dir.join(".complete").exists(),
        "sigstore-js is missing: run `cargo xtask test-deps` (cargo xtask ci does)"
    );
    Command::new("node")
        .env("NODE_PATH", node_dir.join("node_modules"))
        .arg(workspace.join("xtask/test-node/verify.js"))
        .arg("--keyless")
        .args([bundle, artifact, trusted_root])
        .args([identity, issuer])
        .output()
        .expect("node must be installed")
}

/// A P-256 key and its SubjectPublicKeyInfo DER, by which sigstore names keys.
struct Key {
    private: PrivateKey,
    spki: Vec<u8>,
}

impl Key {
    fn generate() -> Key {
        let private = PrivateKey::generate();
        let pem = private.public_key().to_pem();
        let body: String = pem.lines().filter(|line| !line.starts_with("-----")).collect();
        Key { spki: STANDARD.decode(body).unwrap(), private }
    }

    /// The SHA-256 of the SPKI DER: a log's ID (RFC 6962 §3.2, sigstore's `keyId`) and, for the
    /// CA, the SCT's issuer key hash.
    fn id(&self) -> [u8; 32] {
        Sha256::digest(&self.spki).into()
    }

    /// ECDSA-SHA256 over `message`, ASN.1 DER.
    fn sign(&self, message: &[u8]) -> Vec<u8> {
        self.private.sign(message)
    }

    /// An RFC 5280 key identifier: 160 bits of the SHA-256 of the SPKI (unique per key, which
    /// is all RFC 5280 asks).
    fn key_identifier(&self) -> OctetString {
        OctetString::new(&self.id()[..20]).unwrap()
    }
}

/// The CA: a self-signed P-256 root that issues the signing certificates directly.
struct Fulcio {
    key: Key,
    name: Name,
    certificate: Vec<u8>,
}

impl Fulcio {
    fn new(not_before: u64) -> Fulcio {
        let key = Key::generate();
        let name: Name = format!("CN={FULCIO_COMMON_NAME},O={FULCIO_ORGANIZATION}").parse().unwrap();
        let extensions = vec![
            extension(&BasicConstraints { ca: true, path_len_constraint: None }, &name),
            extension(&KeyUsage(KeyUsages::KeyCertSign | KeyUsages::CRLSign), &name),
            extension(&SubjectKeyIdentifier(key.key_identifier()), &name),
        ];
        let validity = (not_before, not_before + 10 * 365 * 24 * 60 * 60);
        let tbs = tbs_certificate(&name, name.clone(), &key, validity, extensions);
        let certificate = sign_certificate(tbs, &key);
        Fulcio { key, name, certificate }
    }

    /// A signing certificate for `signer` as Fulcio issues it: empty subject, the identity in
    /// a critical SAN, code signing, the OIDC issuer in both of Fulcio's extensions, and the
    /// SCT `ct_log` signs over the precertificate (this TBS without the SCT extension, with
    /// the CA's key hash), embedded last.
    fn issue(&self, signer: &Key, identity: &str, issuer: &str, validity: (u64, u64), ct_log: &Key) -> Vec<u8> {
        let subject = Name::default();
        let san = Ia5String::new(identity).unwrap();
        let san = if identity.contains("://") {
            GeneralName::UniformResourceIdentifier(san)
        } else {
            GeneralName::Rfc822Name(san)
        };
        let extensions = vec![
            extension(&KeyUsage(KeyUsages::DigitalSignature.into()), &subject),
            extension(&ExtendedKeyUsage(vec![CODE_SIGNING]), &subject),
            extension(&SubjectKeyIdentifier(signer.key_identifier()), &subject),
            extension(
                &AuthorityKeyIdentifier { key_identifier: Some(self.key.key_identifier()), ..Default::default() },
                &subject,
            ),
            extension(&SubjectAltName(vec![san]), &subject),
            raw_extension(OIDC_ISSUER, issuer.as_bytes().to_vec()),
            raw_extension(OIDC_ISSUER_V2, Utf8StringRef::new(issuer).unwrap().to_der().unwrap()),
        ];
        let mut tbs = tbs_certificate(&self.name, subject, signer, validity, extensions);
        let sct = signed_certificate_timestamp(ct_log, validity.0 * 1000, &self.key, &tbs.to_der().unwrap());
        let list = tls_u16_prefixed(&tls_u16_prefixed(&sct));
        let sct_list = raw_extension(SCT_LIST, OctetString::new(list).unwrap().to_der().unwrap());
        tbs.extensions.get_or_insert_with(Vec::new).push(sct_list);
        sign_certificate(tbs, &self.key)
    }
}

/// RFC 6962 §3.2: a v1 SCT by `log` over a precertificate entry (`precert_tbs`, issued under
/// the key `issuer`) at `timestamp_ms`, TLS-encoded.
fn signed_certificate_timestamp(log: &Key, timestamp_ms: u64, issuer: &Key, precert_tbs: &[u8]) -> Vec<u8> {
    // version v1, signature_type certificate_timestamp, timestamp, entry_type precert_entry
    let mut signed = vec![0, 0];
    signed.extend(timestamp_ms.to_be_bytes());
    signed.extend(1u16.to_be_bytes());
    signed.extend(issuer.id());
    signed.extend(&u32::try_from(precert_tbs.len()).unwrap().to_be_bytes()[1..]);
    signed.extend(precert_tbs);
    signed.extend(0u16.to_be_bytes()); // no CT extensions
    let mut sct = vec![0];
    sct.extend(log.id());
    sct.extend(timestamp_ms.to_be_bytes());
    sct.extend(0u16.to_be_bytes()); // no CT extensions
    sct.extend([4, 3]); // sha256, ecdsa
    sct.extend(tls_u16_prefixed(&log.sign(&signed)));
    sct
}

/// A TLS `opaque<0..2^16-1>`: the length, then the bytes.
fn tls_u16_prefixed(bytes: &[u8]) -> Vec<u8> {
    let mut out = u16::try_from(bytes.len()).unwrap().to_be_bytes().to_vec();
    out.extend_from_slice(bytes);
    out
}

fn extension<E: AsExtension>(value: &E, subject: &Name) -> Extension {
    value.to_extension(subject, &[]).unwrap()
}

/// A non-critical extension whose value is `value` as is.
fn raw_extension(oid: ObjectIdentifier, value: Vec<u8>) -> Extension {
    Extension { extn_id: oid, critical: false, extn_value: OctetString::new(value).unwrap() }
}

fn ecdsa_with_sha256() -> AlgorithmIdentifierOwned {
    AlgorithmIdentifierOwned { oid: ECDSA_WITH_SHA256, parameters: None }
}

/// A v3 TBS certificate signed with ECDSA-SHA256, its serial drawn from the subject's key
/// (unique per certificate as the key is, and positive).
fn tbs_certificate(
    issuer: &Name,
    subject_name: Name,
    subject: &Key,
    (not_before, not_after): (u64, u64),
    extensions: Vec<Extension>,
) -> TbsCertificate {
    let mut serial = subject.id()[..16].to_vec();
    serial[0] &= 0x7f;
    TbsCertificate {
        version: Version::V3,
        serial_number: SerialNumber::new(&serial).unwrap(),
        signature: ecdsa_with_sha256(),
        issuer: issuer.clone(),
        validity: Validity { not_before: utc_time(not_before), not_after: utc_time(not_after) },
        subject: subject_name,
        subject_public_key_info: SubjectPublicKeyInfoOwned::from_der(&subject.spki).unwrap(),
        issuer_unique_id: None,
        subject_unique_id: None,
        extensions: Some(extensions),
    }
}

fn sign_certificate(tbs: TbsCertificate, issuer: &Key) -> Vec<u8> {
    let signature = issuer.sign(&tbs.to_der().unwrap());
    let certificate = Certificate {
        tbs_certificate: tbs,
        signature_algorithm: ecdsa_with_sha256(),
        signature: BitString::from_bytes(&signature).unwrap(),
    };
    certificate.to_der().unwrap()
}

fn utc_time(unix: u64) -> Time {
    Time::UtcTime(UtcTime::from_unix_duration(Duration::from_secs(unix)).unwrap())
}

fn rfc3339(unix: u64) -> String {
    x509_cert::der::DateTime::from_unix_duration(Duration::from_secs(unix)).unwrap().to_string()
}

fn unix_now() -> u64 {
    SystemTime::now().duration_since(UNIX_EPOCH).unwrap().as_secs()
}

fn pem(der: &[u8]) -> String {
    let base64 = STANDARD.encode(der);
    let lines: Vec<&str> = base64.as_bytes().chunks(64).map(|line| std::str::from_utf8(line).unwrap()).collect();
    format!("-----BEGIN CERTIFICATE-----\n{}\n-----END CERTIFICATE-----\n", lines.join("\n"))
}

/// RFC 6962 §2.1: the hash of a leaf…
fn leaf_hash(entry: &[u8]) -> [u8; 32] {
    Sha256::new().chain_update([0u8]).chain_update(entry).finalize().into()
}

/// …of an inner node…
fn node_hash(left: &[u8; 32], right: &[u8; 32]) -> [u8; 32] {
    Sha256::new().chain_update([1u8]).chain_update(left).chain_update(right).finalize().into()
}

/// …and of a tree (MTH), over its leaves' hashes.
fn tree_hash(leaves: &[[u8; 32]]) -> [u8; 32] {
    match leaves {
        [leaf] => *leaf,
        _ => {
            let k = split(leaves.len());
            node_hash(&tree_hash(&leaves[..k]), &tree_hash(&leaves[k..]))
        }
    }
}

/// RFC 6962 §2.1.1 PATH(m, D[n]): the sibling hashes from leaf `index` up to the root.
fn inclusion_proof(index: usize, leaves: &[[u8; 32]]) -> Vec<[u8; 32]> {
    if leaves.len() == 1 {
        return Vec::new();
    }
    let k = split(leaves.len());
    let (mut path, sibling) = if index < k {
        (inclusion_proof(index, &leaves[..k]), tree_hash(&leaves[k..]))
    } else {
        (inclusion_proof(index - k, &leaves[k..]), tree_hash(&leaves[..k]))
    };
    path.push(sibling);
    path
}

/// The largest power of two below `n` (n ≥ 2), where RFC 6962 splits a tree.
fn split(n: usize) -> usize {
    let mut k = 1;
    while k * 2 < n {
        k *= 2;
    }
    k
}
