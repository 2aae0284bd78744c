//! Countersignatures (seed 002: "a bundle MAY carry signatures from multiple authorities
//! (vendor, customer, integrator)"): a key-signed sigstore bundle (v0.3, no log entry) over the
//! exact bytes of a bundle's `bom.json`, kept beside the archive as
//! `ARCHIVE.countersig/HEX.sigstore.json`, HEX being the SHA-256 of the signer's public key
//! (its SPKI DER; `openssl pkey -pubin -outform DER | sha256sum`). Beside, not inside: the
//! archive keeps its bytes, so the vendor's `.sha256`, `.sig` and `.cosign.bundle` stay valid,
//! and a customer countersigns in the secure room without rebuilding anything. `cosign
//! verify-blob --key customer.pub --bundle FILE --insecure-ignore-tlog bom.json` reads one.
//!
//! A countersignature adds its signer to the evidence a policy's `require` judges (`signedBy`),
//! and never stands in for the signature inside the archive, which is always required: it is
//! checked first, and only by the policy's `keys` and identities. Each countersignature is
//! checked with the head, before the payload is read: one whose key the policy trusts (its
//! `keys` or its `cosigners`) must verify, one that does not or does not read is an attack and
//! fails the verification naming its file, and one by a key the policy does not know is left
//! out, said in the report. `extract` copies them into the tree (`countersig/`), where `verify
//! --dir` judges them alike.

use std::ffi::OsStr;
use std::fs::File;
use std::io::Read as _;
use std::os::unix::ffi::OsStrExt as _;
use std::os::unix::fs::DirBuilderExt as _;
use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, STANDARD_NO_PAD};
use genesis_bundle::{ArchiveReader, BundleError, Limits, RemoteFolder};
use rustix::fs::{Dir, OFlags};
use rustix::io::Errno;
use sha2::{Digest as _, Sha256};

use crate::policy::TrustPolicy;
use crate::sigstore::{Artifact, LogPolicy, Signer, SigstoreBundle, key_bundle, verify_bundle};
use crate::verify::{HeadReport, verify_head};
use crate::{AcceptedSigner, PrivateKey, PublicKey, Result, TrustError};

/// The folder of an extracted tree holding the countersignatures `extract` copied, beside the
/// head.
pub(crate) const TREE_FOLDER: &str = genesis_bundle::COUNTERSIGNATURE_FOLDER;

/// What the name of a countersignature file ends with.
const SUFFIX: &str = ".sigstore.json";

/// Most countersignatures a bundle may have: a vendor's customers and integrators are a few,
/// and each is read and verified before the payload.
const MAX_COUNTERSIGNATURES: usize = 16;

/// Most entries of a countersignature folder looked at, scratch files of interrupted writes
/// included.
const MAX_ENTRIES: usize = 64;

/// How a countersignature is named, for the error that refuses another name.
const NAMING: &str = "a countersignature is named after its signer's key: the SHA-256 of the public key's DER in \
                      lowercase hex, then .sigstore.json";

/// Where the countersignatures of `archive` are: the folder `ARCHIVE.countersig` beside it.
pub fn countersignature_folder(archive: &Path) -> PathBuf {
    genesis_bundle::path_with_suffix(archive, ".countersig")
}

/// The file name of a countersignature by `key`: `HEX.sigstore.json`.
pub fn countersignature_name(key: &PublicKey) -> String {
    format!("{}{SUFFIX}", hex::encode(key_id(key)))
}

/// The SHA-256 of `key`'s SPKI DER: what its sigstore hint says in base64, its fingerprint in
/// unpadded base64 and a countersignature's name in hex.
fn key_id(key: &PublicKey) -> [u8; 32] {
    let id = STANDARD.decode(key.hint()).ok().and_then(|id| <[u8; 32]>::try_from(id).ok());
    id.expect("a key's hint is a SHA-256 in base64")
}

/// The fingerprint (`SHA256:…`) of the key whose SPKI DER has the SHA-256 `id`.
fn fingerprint_of(id: &[u8; 32]) -> String {
    format!("SHA256:{}", STANDARD_NO_PAD.encode(id))
}

/// A countersignature refused, naming its file.
fn refused(path: &Path, reason: String) -> TrustError {
    TrustError::SidecarFormat { path: path.to_owned(), reason }
}

/// The countersignatures of a bundle, or of the tree `extract` wrote from it, read and not
/// yet verified.
#[derive(Debug, Clone, Default)]
pub(crate) struct Countersignatures {
    files: Vec<Countersignature>,
}

/// One countersignature file as read.
#[derive(Debug, Clone)]
struct Countersignature {
    /// Where it was read, to name it.
    path: PathBuf,
    /// Its file name, `HEX.sigstore.json` when it is well named.
    name: String,
    bytes: Vec<u8>,
}

/// What the countersignatures established.
#[derive(Debug, Default)]
pub(crate) struct Countersigned {
    /// The trusted keys whose countersignatures verified, in the order of their files.
    pub(crate) signers: Vec<AcceptedSigner>,
    /// The countersignatures left out, and why, for the report's warnings.
    pub(crate) ignored: Vec<String>,
}

impl Countersignatures {
    /// Reads the countersignatures beside `archive`: every `*.sigstore.json` of
    /// `ARCHIVE.countersig/` in name order, each a regular file no larger than a signature may
    /// be in `limits`. None when the folder is absent. Neither the folder nor a file in it is
    /// followed if it is a symbolic link (the operator named the archive, not what its
    /// neighbours point at, and `countersign` would write where the folder's link leads), and
    /// each file is opened from the folder open, so one swapped for a link meanwhile is refused
    /// too. Other names (the scratch file of a write under way) are no countersignatures.
    pub(crate) fn beside(archive: &Path, limits: &Limits) -> Result<Countersignatures> {
        let folder = countersignature_folder(archive);
        let flags = OFlags::RDONLY | OFlags::DIRECTORY | OFlags::NOFOLLOW | OFlags::CLOEXEC;
        let fd = match rustix::fs::open(&folder, flags, rustix::fs::Mode::empty()) {
            Ok(fd) => fd,
            Err(e) if e == Errno::NOENT => return Ok(Countersignatures::default()),
            Err(e) => return Err(not_opened(&folder, e, "folder")),
        };
        let mut names = Vec::new();
        for entry in Dir::read_from(&fd).map_err(|e| not_opened(&folder, e, "folder"))? {
            let entry = entry.map_err(|e| not_opened(&folder, e, "folder"))?;
            let name = entry.file_name().to_bytes();
            if !matches!(name, b"." | b"..") {
                count_entry(&folder, names.len())?;
                names.push(OsStr::from_bytes(name).to_owned());
            }
        }
        names.sort();
        let mut found = Countersignatures::default();
        for name in &names {
            found.add(&folder, name, |path| {
                let flags = OFlags::RDONLY | OFlags::NOFOLLOW | OFlags::NONBLOCK | OFlags::NOCTTY | OFlags::CLOEXEC;
                let file = rustix::fs::openat(&fd, name.as_os_str(), flags, rustix::fs::Mode::empty())
                    .map_err(|e| not_opened(path, e, "file"))?;
                read_file(File::from(file), path, limits.max_signature_size)
            })?;
        }
        Ok(found)
    }

    /// Reads the countersignatures beside the remote archive `archive` in its bucket `bucket`:
    /// every `*.sigstore.json` of `ARCHIVE.countersig/` in name order, each no larger than a
    /// signature may be in `limits`. None when the folder holds none.
    pub(crate) fn in_bucket(bucket: &dyn RemoteFolder, archive: &Path, limits: &Limits) -> Result<Countersignatures> {
        let folder = countersignature_folder(archive);
        let folder_name = folder.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
        let names = bucket.list(&folder_name).map_err(|e| refused(&folder, e.to_string()))?;
        let mut found = Countersignatures::default();
        for (count, name) in names.iter().enumerate() {
            count_entry(&folder, count)?;
            found.add(&folder, OsStr::new(name), |path| {
                let max = limits.max_signature_size;
                let object = bucket
                    .object(&format!("{folder_name}/{name}"))
                    .map_err(|e| refused(path, e.to_string()))?
                    .ok_or_else(|| refused(path, "listed, then gone".into()))?;
                if object.len() > max {
                    return Err(refused(path, format!("larger than {max} bytes, more than a countersignature can be")));
                }
                let mut bytes = vec![0u8; object.len() as usize];
                object.read_exact_at(&mut bytes, 0).map_err(|e| refused(path, e.to_string()))?;
                Ok(bytes)
            })?;
        }
        Ok(found)
    }

    /// Adds the file `name` of `folder`, read by `read`, when it is named as a countersignature
    /// (`*.sigstore.json`); refuses one more than a bundle may have, naming the folder.
    pub(crate) fn add(
        &mut self,
        folder: &Path,
        name: &OsStr,
        read: impl FnOnce(&Path) -> Result<Vec<u8>>,
    ) -> Result<()> {
        let Some(name) = name.to_str().filter(|n| n.ends_with(SUFFIX)) else { return Ok(()) };
        if self.files.len() == MAX_COUNTERSIGNATURES {
            let reason = format!("more than {MAX_COUNTERSIGNATURES} countersignatures, the most a bundle may have");
            return Err(refused(folder, reason));
        }
        let path = folder.join(name);
        let bytes = read(&path)?;
        self.files.push(Countersignature { path, name: name.to_owned(), bytes });
        Ok(())
    }

    /// Each by its file name, with its bytes as read.
    pub(crate) fn files(&self) -> impl Iterator<Item = (&str, &[u8])> {
        self.files.iter().map(|f| (f.name.as_str(), f.bytes.as_slice()))
    }

    /// Their paths in a tree `extract` wrote (`countersig/NAME`), which the tree may hold
    /// beside its head.
    pub(crate) fn tree_paths(&self) -> Vec<String> {
        self.files.iter().map(|f| format!("{TREE_FOLDER}/{}", f.name)).collect()
    }

    /// Writes each into the staging folder of `extract` under [`TREE_FOLDER`], byte for byte,
    /// so that the tree it becomes is judged with the countersignatures its bundle was.
    pub(crate) fn write_into(&self, staging: &mut genesis_bundle::Staging) -> Result<()> {
        for file in &self.files {
            staging.write_beside_payload(&format!("{TREE_FOLDER}/{}", file.name), &file.bytes)?;
        }
        Ok(())
    }

    /// Verifies each over `bom`, the exact bytes the vendor signed, in the air-gap key mode
    /// (the signature alone decides: a countersignature is made offline). Each must read as a
    /// key-signed sigstore bundle named after its key; one by a key `policy` trusts (its keys
    /// or its cosigners) must verify with it inside the key's validity window and counts as
    /// that signer, unless it is `vendor`, who signed inside the archive already and is not
    /// listed twice; one by another key is left out, said in the warnings. Any other outcome
    /// is an error naming the file. Each file is named after its key, so no signer comes twice.
    pub(crate) fn verify(&self, bom: &[u8], policy: &TrustPolicy, vendor: &AcceptedSigner) -> Result<Countersigned> {
        let mut out = Countersigned::default();
        for file in &self.files {
            let (id, bundle) = file.read()?;
            let Some(key) = trusted_keys(policy).find(|key| key_id(key) == id) else {
                let fingerprint = fingerprint_of(&id);
                out.ignored.push(format!("countersignature by {fingerprint} ignored: not a trusted cosigner"));
                continue;
            };
            verify_bundle(&bundle, Artifact::Bytes(bom), Signer::Key(key), None, LogPolicy::IgnoreUnsafe).map_err(
                |e| {
                    let why = match e {
                        TrustError::BomSignatureInvalid { .. } => "its signature does not match".to_owned(),
                        other => other.to_string(),
                    };
                    let reason = format!(
                        "countersignature does not verify over this bundle's bom.json with key {}, the key it is \
                         named after ({why}): it was altered or made for another bundle; remove it, or countersign \
                         again",
                        key.fingerprint()
                    );
                    refused(&file.path, reason)
                },
            )?;
            in_window(policy, key)?;
            let signer = AcceptedSigner::key(key);
            if signer == *vendor {
                tracing::info!(signer = %signer, file = %file.path.display(), "countersignature by the vendor's own key");
                continue;
            }
            tracing::info!(signer = %signer, file = %file.path.display(), "countersignature accepted");
            out.signers.push(signer);
        }
        Ok(out)
    }

    /// Puts `bytes` as the countersignature named `name` of `folder`, in place of one of that
    /// name already read.
    fn put(&mut self, folder: &Path, name: String, bytes: Vec<u8>) -> Result<()> {
        self.files.retain(|f| f.name != name);
        self.add(folder, OsStr::new(&name), |_| Ok(bytes))
    }
}

impl Countersigned {
    /// `e`, a refusal of the head by the policy's constraints, saying also which
    /// countersignatures were left out: the first thing to know when a required signer is
    /// missing.
    pub(crate) fn explain(&self, e: TrustError) -> TrustError {
        match e {
            TrustError::PolicyViolation { rule, detail } if !self.ignored.is_empty() => {
                TrustError::PolicyViolation { rule, detail: format!("{detail}; {}", self.ignored.join("; ")) }
            }
            other => other,
        }
    }
}

impl Countersignature {
    /// The key it is named after (the SHA-256 of its SPKI DER) and the sigstore bundle it is.
    /// Refused: a name that is not `HEX.sigstore.json`, a file that is not JSON or not a
    /// sigstore bundle, one signed with a certificate, one of a DSSE envelope rather than a
    /// signature over the BOM, and one whose public-key hint names another key than its name.
    fn read(&self) -> Result<([u8; 32], SigstoreBundle)> {
        let refuse = |reason: String| refused(&self.path, format!("not a countersignature: {reason}"));
        let stem = self.name.strip_suffix(SUFFIX).unwrap_or_default();
        let id = Some(stem)
            .filter(|stem| stem.len() == 64 && stem.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')))
            .and_then(|stem| hex::decode(stem).ok())
            .and_then(|id| <[u8; 32]>::try_from(id).ok())
            .ok_or_else(|| refuse(NAMING.to_owned()))?;
        let doc: serde_json::Value =
            serde_json::from_slice(&self.bytes).map_err(|e| refuse(format!("not JSON ({e})")))?;
        if let Some(hint) = doc["verificationMaterial"]["publicKey"]["hint"].as_str()
            && STANDARD.decode(hint).ok().as_deref() != Some(&id[..])
        {
            return Err(refuse(format!("its public-key hint {hint:?} names another key than its file name")));
        }
        let bundle = SigstoreBundle::from_json(doc).map_err(|e| refuse(e.to_string()))?;
        if bundle.has_certificate() {
            return Err(refuse(
                "it is signed with a certificate (keyless); a countersignature is signed with a key".into(),
            ));
        }
        if bundle.message_signature().map_err(|e| refuse(e.to_string()))?.is_none() {
            return Err(refuse("it holds a DSSE envelope, not a signature over bom.json".into()));
        }
        Ok((id, bundle))
    }
}

/// The keys `policy` trusts for a countersignature: its keys and its cosigners.
fn trusted_keys(policy: &TrustPolicy) -> impl Iterator<Item = &PublicKey> {
    policy.keys().iter().chain(policy.constraints().cosigners().iter().map(|(key, _)| key))
}

/// `Ok` when `key` is inside a validity window `policy` gives it now, as one of its keys or as
/// a cosigner; otherwise the error naming the key, its file and the date: a key outside its
/// window verifies nothing, countersignatures included.
fn in_window(policy: &TrustPolicy, key: &PublicKey) -> Result<()> {
    let mut outside = match policy.signer(|k| k == key) {
        Ok(Some(_)) => return Ok(()),
        Ok(None) => None,
        Err(e) => Some(e),
    };
    let now = crate::policy::now();
    for (_, validity) in policy.constraints().cosigners().iter().filter(|(k, _)| k == key) {
        match validity.as_ref().map_or(Ok(()), |v| v.check(key, now)) {
            Ok(()) => return Ok(()),
            Err(e) => {
                outside.get_or_insert(e);
            }
        }
    }
    Err(outside.expect("the key is one the policy trusts, as a key or a cosigner"))
}

/// Reads the countersignature open as `file` (at `path`, to name it) whole, refusing
/// anything but a regular file (a FIFO would hold the verification, a device never end) and a
/// file above `max` bytes.
fn read_file(file: File, path: &Path, max: u64) -> Result<Vec<u8>> {
    let refuse = |reason: String| refused(path, reason);
    let kind = file.metadata().map_err(|e| refuse(e.to_string()))?.file_type();
    if !kind.is_file() {
        return Err(refuse("not a regular file, which a countersignature is".into()));
    }
    let mut bytes = Vec::new();
    file.take(max.saturating_add(1)).read_to_end(&mut bytes).map_err(|e| refuse(e.to_string()))?;
    if bytes.len() as u64 > max {
        return Err(refuse(format!("larger than {max} bytes, more than a countersignature can be")));
    }
    Ok(bytes)
}

/// The refusal of the countersignature `what` (`folder`, `file`) at `path` that did not open:
/// a symbolic link is said as one, never followed (opened without following, a link fails as
/// a loop, or as no folder where one is asked for).
fn not_opened(path: &Path, e: Errno, what: &str) -> TrustError {
    if e != Errno::LOOP && e != Errno::NOTDIR {
        return BundleError::Io { action: "reading", path: path.to_owned(), source: e.into() }.into();
    }
    if std::fs::symlink_metadata(path).is_ok_and(|m| m.file_type().is_symlink()) {
        let reason = format!(
            "a symbolic link, refused without following it: a countersignature {what} is read where it is; put \
             the {what} itself there"
        );
        return refused(path, reason);
    }
    refused(path, "not a folder: countersignatures are files in a folder of this name".into())
}

/// Refuses the entry after the `seen` first of the countersignature folder `folder` when
/// there were as many as such a folder may hold: one cap for the folder beside an archive and
/// the one in a tree, each read whole before a countersignature is.
pub(crate) fn count_entry(folder: &Path, seen: usize) -> Result<()> {
    if seen < MAX_ENTRIES {
        return Ok(());
    }
    let reason =
        format!("more than {MAX_ENTRIES} entries, where at most {MAX_COUNTERSIGNATURES} countersignatures belong");
    Err(refused(folder, reason))
}

/// What [`countersign`] did.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct Countersigning {
    /// The archive countersigned, unchanged.
    pub bundle: PathBuf,
    /// The countersignature written: `ARCHIVE.countersig/HEX.sigstore.json`.
    pub countersignature: PathBuf,
    /// Who countersigned.
    pub countersigner: AcceptedSigner,
    /// What verifying the head established, the new countersignature counted: the vendor's
    /// signer, every countersigner, the BOM's digests and the policy's decisions.
    #[serde(flatten)]
    pub head: HeadReport,
}

/// Countersigns the bundle `archive` with `key`. Its head is verified against `policy` first,
/// as a verification would judge it once the countersignature is there: the vendor's signature
/// inside the archive, the BOM, every countersignature already beside it, and the policy's
/// constraints with this one counted (so a policy that requires it is met by it). A customer
/// never countersigns what they could not verify. A key `policy` trusts neither as a key nor as
/// a cosigner is refused, and so is the key that signed inside the archive: a countersignature
/// by either would count for nothing. Then the key-signed sigstore bundle over the BOM's exact
/// bytes is written, atomically, to `ARCHIVE.countersig/HEX.sigstore.json` (a folder, never
/// written through a link); the archive and its sidecars are not touched. The signature is
/// deterministic (RFC 6979): a second run with the same key writes the same bytes.
pub fn countersign(archive: &Path, key: &PrivateKey, policy: &TrustPolicy, limits: &Limits) -> Result<Countersigning> {
    let public = key.public_key();
    if !trusted_keys(policy).any(|k| *k == public) {
        return Err(TrustError::PolicyViolation {
            rule: "cosigners".to_owned(),
            detail: format!(
                "key {} is neither a cosigner nor a key of this policy: a countersignature by it would count for \
                 nothing; add its public key to the policy's cosigners",
                public.fingerprint()
            ),
        });
    }
    let head = ArchiveReader::open(archive, limits)?.read_head()?;
    let digest: [u8; 32] = Sha256::digest(&head.bom).into();
    let mut bytes = serde_json::to_vec_pretty(&key_bundle(&public, &digest, &key.sign_sha256_digest(&digest)))
        .expect("a sigstore bundle is JSON");
    bytes.push(b'\n');
    let folder = countersignature_folder(archive);
    let name = countersignature_name(&public);
    let mut countersignatures = Countersignatures::beside(archive, limits)?;
    countersignatures.put(&folder, name.clone(), bytes.clone())?;
    let signed = verify_head(archive, &head, policy, limits, &countersignatures)?;
    let countersigner = AcceptedSigner::key(&public);
    if signed.signer == countersigner {
        return Err(TrustError::PolicyViolation {
            rule: "cosigners".to_owned(),
            detail: format!(
                "{countersigner} signed this bundle's BOM inside the archive already: a countersignature by it would \
                 count for nothing; countersign with another key"
            ),
        });
    }
    if let Err(e) = std::fs::DirBuilder::new().mode(0o755).create(&folder)
        && e.kind() != std::io::ErrorKind::AlreadyExists
    {
        return Err(BundleError::io("creating", &folder)(e).into());
    }
    let path = folder.join(&name);
    // Through the folder's descriptor: a link put in its place is refused, never written through.
    genesis_bundle::scratch::atomic_write_in_folder(&folder, &name, &bytes, 0o644).map_err(|e| {
        match e.raw_os_error().map(Errno::from_raw_os_error) {
            Some(Errno::LOOP | Errno::NOTDIR) => {
                refused(&folder, "replaced by a link or a file while countersigning".into())
            }
            _ => BundleError::io("writing", &path)(e).into(),
        }
    })?;
    tracing::info!(signer = %countersigner, file = %path.display(), "countersignature written");
    Ok(Countersigning { bundle: archive.to_owned(), countersignature: path, countersigner, head: signed.report() })
}

#[cfg(test)]
mod tests {
    use super::*;

    /// A countersignature's name is the hex of what the key's hint and fingerprint say in
    /// base64, so any of the three finds the key.
    #[test]
    fn a_countersignature_is_named_by_the_sha256_of_its_key() {
        let key = PrivateKey::generate().public_key();
        let name = countersignature_name(&key);
        let stem = name.strip_suffix(".sigstore.json").unwrap();
        assert_eq!(stem.len(), 64);
        assert_eq!(STANDARD.encode(hex::decode(stem).unwrap()), key.hint());
        assert_eq!(fingerprint_of(&key_id(&key)), key.fingerprint().to_string());
        assert_eq!(
            countersignature_folder(Path::new("out/demo-0.1.0.tar.zst")),
            Path::new("out/demo-0.1.0.tar.zst.countersig")
        );
    }

    /// The countersignature of `key` over `bom`, named after `key`.
    fn signed_by(key: &PrivateKey, bom: &[u8]) -> Countersignature {
        let digest: [u8; 32] = Sha256::digest(bom).into();
        let bundle = key_bundle(&key.public_key(), &digest, &key.sign(bom));
        let name = countersignature_name(&key.public_key());
        Countersignature { path: PathBuf::from(&name), name, bytes: serde_json::to_vec(&bundle).unwrap() }
    }

    /// A countersignature by a cosigner counts; one by a key the policy does not know is left
    /// out and said; one altered, renamed to another key, or not a bundle at all fails,
    /// naming its file.
    #[test]
    fn a_trusted_countersignature_counts_an_unknown_one_is_said_and_a_bad_one_fails() {
        let (vendor, customer, stranger) = (PrivateKey::generate(), PrivateKey::generate(), PrivateKey::generate());
        let constraints =
            crate::policy_file::Constraints::default().with_cosigners(vec![(customer.public_key(), None)]);
        let policy = TrustPolicy::from_keys(vec![vendor.public_key()]).unwrap().with_constraints(constraints);
        let bom = b"{\"name\": \"demo\"}";
        let vendor_signer = AcceptedSigner::key(&vendor.public_key());
        let of = |files: Vec<Countersignature>| Countersignatures { files }.verify(bom, &policy, &vendor_signer);

        let counted = of(vec![signed_by(&customer, bom), signed_by(&stranger, bom)]).unwrap();
        assert_eq!(counted.signers, [AcceptedSigner::key(&customer.public_key())]);
        let said =
            format!("countersignature by {} ignored: not a trusted cosigner", stranger.public_key().fingerprint());
        assert_eq!(counted.ignored, [said]);

        // The vendor's own key countersigning verifies, and is not listed again beside the
        // signature inside the archive.
        let again = of(vec![signed_by(&vendor, bom), signed_by(&customer, bom)]).unwrap();
        assert_eq!(again.signers, [AcceptedSigner::key(&customer.public_key())]);
        assert!(again.ignored.is_empty(), "{:?}", again.ignored);

        let mut altered = signed_by(&customer, b"another bom");
        altered.path = PathBuf::from("altered.sigstore.json");
        let mut renamed = signed_by(&customer, bom);
        renamed.name = countersignature_name(&vendor.public_key());
        let mut garbage = signed_by(&customer, bom);
        garbage.bytes = b"{\"mediaType\": 3".to_vec();
        let mut misnamed = signed_by(&customer, bom);
        misnamed.name = "customer.sigstore.json".into();
        for (file, said) in [
            (altered, "does not verify over this bundle's bom.json"),
            (renamed, "names another key than its file name"),
            (garbage, "not JSON"),
            (misnamed, "named after its signer's key"),
        ] {
            let path = file.path.clone();
            let e = of(vec![file]).unwrap_err();
            assert!(matches!(&e, TrustError::SidecarFormat { path: p, .. } if *p == path), "{e:?}");
            assert!(e.to_string().contains(said), "{said}: {e}");
            assert!(e.is_verification_failure(), "{e}");
        }
    }

    /// A cosigner outside its validity window verifies nothing: its countersignature fails,
    /// naming the key and the date.
    #[test]
    fn a_cosigner_outside_its_window_fails_naming_the_date() {
        let (vendor, customer) = (PrivateKey::generate(), PrivateKey::generate());
        let window = crate::KeyValidity { file: "customer.pub".into(), not_before: None, not_after: Some(0) };
        let constraints =
            crate::policy_file::Constraints::default().with_cosigners(vec![(customer.public_key(), Some(window))]);
        let policy = TrustPolicy::from_keys(vec![vendor.public_key()]).unwrap().with_constraints(constraints);
        let vendor = AcceptedSigner::key(&vendor.public_key());
        let e = Countersignatures { files: vec![signed_by(&customer, b"bom")] }
            .verify(b"bom", &policy, &vendor)
            .unwrap_err();
        assert!(matches!(&e, TrustError::KeyOutsideValidity { bound: "notAfter", .. }), "{e:?}");
        assert!(e.to_string().contains("1970-01-01T00:00:00Z"), "{e}");
    }

    /// Only `*.sigstore.json` files are countersignatures (a write's scratch file is not), in
    /// name order, and no more than a bundle may have.
    #[test]
    fn the_folder_beside_the_archive_is_read_in_name_order_within_its_limits() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("demo.tar.zst");
        assert!(Countersignatures::beside(&archive, &Limits::default()).unwrap().files.is_empty());
        let folder = countersignature_folder(&archive);
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("b.sigstore.json"), b"b").unwrap();
        std::fs::write(folder.join("a.sigstore.json"), b"a").unwrap();
        std::fs::write(folder.join(".b.sigstore.json.partial-x"), b"scratch").unwrap();
        let read = Countersignatures::beside(&archive, &Limits::default()).unwrap();
        assert_eq!(read.tree_paths(), ["countersig/a.sigstore.json", "countersig/b.sigstore.json"]);
        for n in 0..MAX_COUNTERSIGNATURES {
            std::fs::write(folder.join(format!("{n:02}.sigstore.json")), b"x").unwrap();
        }
        let e = Countersignatures::beside(&archive, &Limits::default()).unwrap_err();
        assert!(e.to_string().contains("more than 16 countersignatures"), "{e}");
        let small = Limits { max_signature_size: 0, ..Limits::default() };
        std::fs::remove_dir_all(&folder).unwrap();
        std::fs::create_dir(&folder).unwrap();
        std::fs::write(folder.join("a.sigstore.json"), b"a").unwrap();
        let e = Countersignatures::beside(&archive, &small).unwrap_err();
        assert!(e.to_string().contains("larger than 0 bytes"), "{e}");

        // Past the entries a folder may hold, scratch files included, it is refused unread.
        for n in 0..MAX_ENTRIES {
            std::fs::write(folder.join(format!(".scratch-{n:02}")), b"x").unwrap();
        }
        let e = Countersignatures::beside(&archive, &Limits::default()).unwrap_err();
        assert!(matches!(&e, TrustError::SidecarFormat { path, .. } if *path == folder), "{e:?}");
        assert!(e.to_string().contains("more than 64 entries, where at most 16 countersignatures belong"), "{e}");
    }

    /// Neither the folder nor a countersignature in it is followed if it is a symbolic link,
    /// wherever it leads: each is refused, naming it, as a verification failure; a link under
    /// another name is no countersignature and is left alone, as a scratch file is.
    #[test]
    fn a_linked_folder_or_countersignature_is_refused_unfollowed() {
        let dir = tempfile::tempdir().unwrap();
        let archive = dir.path().join("demo.tar.zst");
        let folder = countersignature_folder(&archive);
        let elsewhere = dir.path().join("elsewhere");
        std::fs::create_dir(&elsewhere).unwrap();
        std::fs::write(elsewhere.join("a.sigstore.json"), b"a").unwrap();
        std::os::unix::fs::symlink(&elsewhere, &folder).unwrap();
        let e = Countersignatures::beside(&archive, &Limits::default()).unwrap_err();
        assert!(matches!(&e, TrustError::SidecarFormat { path, .. } if *path == folder), "{e:?}");
        assert!(e.to_string().contains("a symbolic link, refused without following it"), "{e}");
        assert!(e.is_verification_failure(), "{e}");

        std::fs::remove_file(&folder).unwrap();
        std::fs::write(&folder, b"not a folder").unwrap();
        let e = Countersignatures::beside(&archive, &Limits::default()).unwrap_err();
        assert!(e.to_string().contains("not a folder"), "{e}");

        std::fs::remove_file(&folder).unwrap();
        std::fs::create_dir(&folder).unwrap();
        std::os::unix::fs::symlink(elsewhere.join("a.sigstore.json"), folder.join("other-name")).unwrap();
        assert!(Countersignatures::beside(&archive, &Limits::default()).unwrap().files.is_empty());
        let link = folder.join("a.sigstore.json");
        std::os::unix::fs::symlink(elsewhere.join("a.sigstore.json"), &link).unwrap();
        let e = Countersignatures::beside(&archive, &Limits::default()).unwrap_err();
        assert!(matches!(&e, TrustError::SidecarFormat { path, .. } if *path == link), "{e:?}");
        assert!(e.to_string().contains("a symbolic link, refused without following it"), "{e}");
    }
}
