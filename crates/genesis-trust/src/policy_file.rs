//! The trust policy file an operator owns (`--policy trust.yaml`): the keys it trusts, the
//! bundle names it accepts, the versions it accepts, and anti-rollback against what was
//! installed here before. Each decision is reported with its evidence.
//!
//! The same file judges an image seeded to an edge registry ([`load_image_policy`]), as a
//! [`Release`]: the destination repository is its name, its tag read leniently
//! ([`lenient_version`]: `v1.2` is 1.2.0) its version, the BLAKE3 of its manifest its
//! fingerprint. A bundle's version is read strictly: its BOM states a semantic version.
//!
//! ```yaml
//! keys: [vendor.pub]                 # bundle BOMs (seeded images) must be signed by one; relative to this file
//!   # or with a validity window (RFC 3339, both optional and included; judged by the clock):
//!   # - { path: vendor-2026.pub, notBefore: "2026-01-01T00:00:00Z", notAfter: "2027-01-01T00:00:00Z" }
//! cosigners: [customer.pub]          # optional; keys trusted for countersignatures only (never as the
//!                                    # vendor), in either form of `keys`
//! identities:                        # keyless signers (source images at build time, seeded images)
//!   - { issuer: "https://token.actions.githubusercontent.com",
//!       subjectRegExp: "https://github.com/acme/.*" }   # or subject: exact SAN
//! bundleIdentities:                  # keyless signers of bundle BOMs, as `identities` names them; never
//!                                    # those, which admit images and are often broad patterns
//!   - { issuer: "https://token.actions.githubusercontent.com",
//!       subject: "https://github.com/acme/release/.github/workflows/release.yml@refs/tags/v1.0.0" }
//! trustedRoot: trusted_root.json     # required with either list; pinned, never fetched
//! names: ["genesis-*"]               # optional; * matches any run of characters
//! versions: ">=3.0.0, <4.0.0"        # optional; semver requirement
//! antiRollback: { state: installed.json }   # optional; refuse versions below the installed one,
//!                                    # and a re-release of the installed version with another BOM
//!                                    # (writers take turns through installed.json.lock beside it)
//! require: [sbom, provenance]        # optional; attestations and signers, with allOf/anyOf/threshold
//!                                    # (bundles only: an image policy with it is refused); signedBy
//!                                    # names a key by fingerprint or by its file, relative to this file
//! ```

use std::collections::BTreeMap;
use std::fmt;
use std::path::{Path, PathBuf};

use genesis_bundle::{Bom, BundleError};
use genesis_types::Digest;

use crate::cosign_image::Signers;
use crate::requirement::{Evidence, Requirement};
use crate::sigstore::{CertificateIdentity, SubjectMatcher, TrustedRoot};
use crate::{AcceptedSigner, KeyValidity, PublicKey, Result, TrustError, TrustPolicy};

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    keys: Vec<KeyEntry>,
    #[serde(default)]
    cosigners: Vec<KeyEntry>,
    #[serde(default)]
    identities: Vec<RawIdentity>,
    #[serde(default)]
    bundle_identities: Vec<RawIdentity>,
    #[serde(default)]
    trusted_root: Option<PathBuf>,
    #[serde(default)]
    names: Vec<String>,
    #[serde(default)]
    versions: Option<String>,
    #[serde(default)]
    anti_rollback: Option<AntiRollback>,
    #[serde(default)]
    require: Option<Requirement>,
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawIdentity {
    issuer: String,
    #[serde(default)]
    subject: Option<String>,
    #[serde(default)]
    subject_reg_exp: Option<String>,
}

/// One of `keys`: a key file, or a mapping with its file and its validity window. Read by
/// hand rather than as an untagged enum, so that a typo in the mapping (`notafter`) is named
/// with the fields expected, not as "data did not match any variant".
#[derive(Debug)]
enum KeyEntry {
    Path(PathBuf),
    Windowed(WindowedKey),
}

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct WindowedKey {
    path: PathBuf,
    #[serde(default)]
    not_before: Option<String>,
    #[serde(default)]
    not_after: Option<String>,
}

impl<'de> serde::Deserialize<'de> for KeyEntry {
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<KeyEntry, D::Error> {
        struct Entry;
        impl<'de> serde::de::Visitor<'de> for Entry {
            type Value = KeyEntry;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a key file, or { path: FILE, notBefore: DATE, notAfter: DATE }")
            }

            fn visit_str<E: serde::de::Error>(self, path: &str) -> std::result::Result<KeyEntry, E> {
                Ok(KeyEntry::Path(PathBuf::from(path)))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> std::result::Result<KeyEntry, A::Error> {
                serde::Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map))
                    .map(KeyEntry::Windowed)
            }
        }
        deserializer.deserialize_any(Entry)
    }
}

impl KeyEntry {
    /// The key file, as the policy writes it.
    fn path(&self) -> &Path {
        match self {
            KeyEntry::Path(path) | KeyEntry::Windowed(WindowedKey { path, .. }) => path,
        }
    }

    /// The key's validity window, `None` when it has none; `policy` names the policy file in
    /// errors, and the file in the window is named relative to it; `list` is the list the entry
    /// is in (`keys`, `cosigners`), for errors.
    fn validity(&self, policy: &Path, list: &str) -> Result<Option<KeyValidity>> {
        let KeyEntry::Windowed(window) = self else { return Ok(None) };
        let date = |field: &str, text: &Option<String>| {
            text.as_deref()
                .map(|text| {
                    genesis_bundle::parse_rfc3339(text).ok_or_else(|| {
                        policy_error(
                            policy,
                            format!(
                                "{list}: {field} {text:?} of {} is not an RFC 3339 date such as 2027-01-01T00:00:00Z",
                                window.path.display()
                            ),
                        )
                    })
                })
                .transpose()
        };
        let (not_before, not_after) = (date("notBefore", &window.not_before)?, date("notAfter", &window.not_after)?);
        if let (Some(from), Some(until)) = (not_before, not_after)
            && from > until
        {
            return Err(policy_error(
                policy,
                format!(
                    "{list}: the window of {} ends before it begins (notAfter is before notBefore)",
                    window.path.display()
                ),
            ));
        }
        Ok(Some(KeyValidity { file: resolve(policy, &window.path), not_before, not_after }))
    }
}

#[derive(Debug, serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct AntiRollback {
    state: PathBuf,
}

/// The constraints of a policy beyond its keys.
#[derive(Debug, Clone, Default)]
pub struct Constraints {
    names: Vec<String>,
    versions: Option<semver::VersionReq>,
    state: Option<PathBuf>,
    require: Option<Requirement>,
    /// Keys trusted for countersignatures only, each with its validity window.
    cosigners: Vec<(PublicKey, Option<KeyValidity>)>,
}

/// What a policy judges: a bundle (its BOM's name and version, the BLAKE3 of the BOM) or an
/// image seeded to a registry (its destination repository, its tag as a version, the BLAKE3
/// of its manifest).
#[derive(Debug, Clone, Copy)]
pub struct Release<'a> {
    /// A bundle or an image: each has its own anti-rollback records.
    pub kind: ReleaseKind,
    /// Matched against `names` as it is; its anti-rollback record is keyed by it and its
    /// kind ([`ReleaseKind`]).
    pub name: &'a str,
    /// Matched against `versions`, and compared with the recorded one.
    pub version: &'a semver::Version,
    /// BLAKE3 hex of what was signed: the same version with another fingerprint is another
    /// release under an old number.
    pub fingerprint: &'a str,
}

/// What an anti-rollback record keeps of a bundle's verification beyond its version and
/// BLAKE3: whose signatures were accepted and its SHA-256, for an audit after the fact.
#[derive(Debug, Clone, Copy)]
pub struct InstallAudit<'a> {
    /// Whose signature inside the archive was accepted: the vendor's.
    pub signer: &'a AcceptedSigner,
    /// The countersignatures accepted beside it.
    pub countersigners: &'a [AcceptedSigner],
    /// The SHA-256 of the BOM.
    pub bom_sha256: &'a Digest,
}

/// Which kind of release a [`Release`] is. Anti-rollback keeps their records apart: an image
/// seeded to `demo` and a bundle named `demo` are two release lines, and one's version never
/// refuses the other's.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum ReleaseKind {
    /// A bundle, recorded under its name (the state's first format, unchanged).
    Bundle,
    /// An image seeded to a registry, recorded as `image:<repository>`. No bundle name
    /// collides with it: the builder allows no `:` in a name.
    Image,
}

impl Release<'_> {
    /// The key of its record in the anti-rollback state.
    fn key(&self) -> String {
        match self.kind {
            ReleaseKind::Bundle => self.name.to_owned(),
            ReleaseKind::Image => format!("image:{}", self.name),
        }
    }
}

/// What the state file records: the last version installed of each release (a bundle's
/// name, or `image:<repository>` for an image seeded to a registry), with the BLAKE3
/// fingerprint of its BOM or manifest (seed 004's step 3), under the field name the first
/// records had.
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Installed {
    bundles: BTreeMap<String, InstalledBundle>,
}

#[derive(Debug, serde::Serialize)]
#[serde(untagged)]
enum InstalledBundle {
    Recorded {
        version: String,
        #[serde(rename = "bomBlake3")]
        bom_blake3: String,
        /// Whose signatures over the installed bundle's BOM were accepted, the vendor's first,
        /// for an audit after the fact (seed 002); absent from records of images and of
        /// earlier versions.
        #[serde(skip_serializing_if = "Vec::is_empty")]
        signers: Vec<AcceptedSigner>,
        /// The SHA-256 of the installed bundle's BOM, beside its BLAKE3; absent likewise.
        #[serde(rename = "bomSha256", skip_serializing_if = "Option::is_none")]
        bom_sha256: Option<String>,
    },
    /// The first state format: the version alone.
    VersionOnly(String),
}

/// A record of the state as written, fields by their names.
#[derive(serde::Deserialize)]
#[serde(rename_all = "camelCase")]
struct RecordedFields {
    version: String,
    bom_blake3: String,
    #[serde(default)]
    signers: Option<Vec<AcceptedSigner>>,
    /// What records written before keyless signers and countersignatures kept: one key's
    /// fingerprint. It reads as that key; `signers` beside it wins.
    #[serde(default)]
    signer: Option<String>,
    #[serde(default)]
    bom_sha256: Option<String>,
}

impl<'de> serde::Deserialize<'de> for InstalledBundle {
    /// Read by hand rather than untagged, so that a record that does not read is refused
    /// naming its field (a signer of an unknown kind, a missing `bomBlake3`), not as "data did
    /// not match any variant".
    fn deserialize<D: serde::Deserializer<'de>>(deserializer: D) -> std::result::Result<InstalledBundle, D::Error> {
        struct Entry;
        impl<'de> serde::de::Visitor<'de> for Entry {
            type Value = InstalledBundle;

            fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
                f.write_str("a version, or { version, bomBlake3, signers, bomSha256 }")
            }

            fn visit_str<E: serde::de::Error>(self, version: &str) -> std::result::Result<InstalledBundle, E> {
                Ok(InstalledBundle::VersionOnly(version.to_owned()))
            }

            fn visit_map<A: serde::de::MapAccess<'de>>(self, map: A) -> std::result::Result<InstalledBundle, A::Error> {
                let fields: RecordedFields =
                    serde::Deserialize::deserialize(serde::de::value::MapAccessDeserializer::new(map))?;
                let key = |fingerprint| vec![AcceptedSigner::Key { fingerprint }];
                Ok(InstalledBundle::Recorded {
                    version: fields.version,
                    bom_blake3: fields.bom_blake3,
                    signers: fields.signers.or_else(|| fields.signer.map(key)).unwrap_or_default(),
                    bom_sha256: fields.bom_sha256,
                })
            }
        }
        deserializer.deserialize_any(Entry)
    }
}

impl InstalledBundle {
    fn version(&self) -> &str {
        match self {
            InstalledBundle::Recorded { version, .. } | InstalledBundle::VersionOnly(version) => version,
        }
    }
}

fn policy_error(path: &Path, reason: String) -> TrustError {
    TrustError::KeyFormat { path: path.to_owned(), reason }
}

/// Reads a policy file for bundle verification: it must trust at least one key or keyless
/// identity. A key with a validity window verifies only inside it, judged when a signature is.
pub fn load(path: &Path) -> Result<TrustPolicy> {
    bundle_policy(read(path)?, path)
}

/// The policy for bundle verification of what a policy file says: its keys and its
/// `bundleIdentities`, never its `identities`, which judge images. Those are often broad
/// patterns (every workflow of an organisation may sign its images), and a bundle's signer is
/// trusted only where the operator named it as one. A policy at `path` trusting no one with
/// bundles but with `identities` is refused saying so: written before `bundleIdentities`,
/// it meant them for bundles too.
fn bundle_policy(policy: PolicyFile, path: &Path) -> Result<TrustPolicy> {
    let PolicyFile { signers, validity, bundle_identities, constraints } = policy;
    if signers.keys.is_empty() && bundle_identities.is_empty() && !signers.identities.is_empty() {
        return Err(policy_error(
            path,
            "trusts no bundle signer: its identities judge images only; name the keyless signers of bundles \
             in bundleIdentities"
                .into(),
        ));
    }
    let keys = signers.keys.into_iter().zip(validity).collect();
    // `parse` refused identities without their root.
    let keyless = signers.root.map(|root| crate::Keyless { identities: bundle_identities, root });
    Ok(TrustPolicy::from_signers(keys, keyless)?.with_constraints(constraints))
}

/// What a policy file says, read.
struct PolicyFile {
    /// Its keys (for bundles and images alike), the `identities` that judge images, and the
    /// pinned root of every identity.
    signers: Signers,
    /// The validity window of each key, in the order of `signers.keys`.
    validity: Vec<Option<KeyValidity>>,
    /// The keyless identities trusted with bundles (`bundleIdentities`).
    bundle_identities: Vec<CertificateIdentity>,
    constraints: Constraints,
}

/// Reads a policy for bundle verification, as [`load`] does, from its text and the files it
/// names held in memory: a policy a vendor embedded in a binary at build time. `origin` (a
/// made-up path such as `<embedded>/trust.yaml`) names it, and the files beside it, in
/// errors; `file` gives the bytes of each file the policy names (its keys, its trustedRoot)
/// by the path as the policy writes it. Nothing is read from disk, so a relative
/// `antiRollback.state`, relative to no directory, is refused: an embedded policy names its
/// state by an absolute path.
pub fn load_from_str(text: &str, origin: &Path, file: &dyn Fn(&Path) -> Option<Vec<u8>>) -> Result<TrustPolicy> {
    bundle_policy(parse(text, origin, &Files::Memory(file))?, origin)
}

/// Where the files a policy names are read from.
enum Files<'a> {
    /// Beside the policy file, on disk: a relative path is relative to its directory.
    Disk,
    /// In memory with the policy text ([`load_from_str`]), by the path the policy writes.
    Memory(&'a dyn Fn(&Path) -> Option<Vec<u8>>),
}

impl Files<'_> {
    /// The text of the file the policy at `origin` names `name`, and the path that names it
    /// in errors.
    fn read(&self, origin: &Path, name: &Path) -> Result<(String, PathBuf)> {
        let path = resolve(origin, name);
        let text = match self {
            Files::Disk => {
                std::fs::read_to_string(&path).map_err(|source| TrustError::KeyIo { path: path.clone(), source })
            }
            Files::Memory(file) => {
                let bytes = file(name)
                    .ok_or_else(|| policy_error(&path, "is named by the policy but was not embedded with it".into()))?;
                String::from_utf8(bytes).map_err(|_| policy_error(&path, "is not UTF-8 text".into()))
            }
        }?;
        Ok((text, path))
    }

    fn key(&self, origin: &Path, name: &Path) -> Result<PublicKey> {
        let (pem, path) = self.read(origin, name)?;
        PublicKey::from_pem(&pem, &path)
    }

    fn trusted_root(&self, origin: &Path, name: &Path) -> Result<TrustedRoot> {
        let (json, path) = self.read(origin, name)?;
        TrustedRoot::from_json(&json, &path)
    }

    /// The anti-rollback state, a file the verifier reads and writes at run time.
    fn state(&self, origin: &Path, name: &Path) -> Result<PathBuf> {
        match self {
            Files::Memory(_) if name.is_relative() => Err(policy_error(
                origin,
                format!(
                    "antiRollback.state {}: an embedded policy names its state by an absolute path",
                    name.display()
                ),
            )),
            _ => Ok(resolve(origin, name)),
        }
    }
}

/// A path a policy file names, relative to the policy's directory.
fn resolve(origin: &Path, name: &Path) -> PathBuf {
    if name.is_absolute() { name.to_owned() } else { origin.parent().unwrap_or(Path::new(".")).join(name) }
}

/// Reads the signers a policy file trusts with images (keys and keyless `identities`), for
/// checking source image signatures at build time.
pub fn load_signers(path: &Path) -> Result<Signers> {
    read_with_signers(path).map(|(signers, _)| signers)
}

/// Reads a policy file for judging images seeded to a registry: the signers their cosign
/// signatures must verify with (at least one), and the constraints
/// [`Constraints::check_release`] applies. A policy with `require` is refused: nothing
/// gathers an image's attestations as evidence, and a requirement silently skipped would pass
/// images the operator meant to refuse.
pub fn load_image_policy(path: &Path) -> Result<(Signers, Constraints)> {
    let (signers, constraints) = read_with_signers(path)?;
    if constraints.require.is_some() {
        return Err(policy_error(
            path,
            "require: attestation requirements are judged for bundles only, not for seeded images; \
             use a policy without require for registry seeding"
                .into(),
        ));
    }
    Ok((signers, constraints))
}

/// Reads a policy file that must trust someone, key or keyless identity. Keys outside their
/// validity window now are left out, each with a warning, so that they verify nothing; when
/// that leaves no one to trust, the first of them is the error.
fn read_with_signers(path: &Path) -> Result<(Signers, Constraints)> {
    let PolicyFile { mut signers, validity, constraints, .. } = read(path)?;
    let now = crate::policy::now();
    let mut outside = Vec::new();
    signers.keys = std::mem::take(&mut signers.keys)
        .into_iter()
        .zip(validity)
        .filter(|(key, validity)| match validity.as_ref().map_or(Ok(()), |v| v.check(key, now)) {
            Ok(()) => true,
            Err(e) => {
                tracing::warn!(policy = %path.display(), "{e}");
                outside.push(e);
                false
            }
        })
        .map(|(key, _)| key)
        .collect();
    if signers.is_empty() {
        let nobody = || policy_error(path, "trusts no key and no identity".into());
        return Err(outside.into_iter().next().unwrap_or_else(nobody));
    }
    Ok((signers, constraints))
}

/// Reads an image tag as a version: an optional `v`, one to three numbers (the missing ones
/// are 0) and an optional pre-release, so `v1` is 1.0.0, `1.2` is 1.2.0 and `v1.2.3-rc.1` is
/// 1.2.3-rc.1. Anything else (`latest`, `v1.2.3.4`) is refused with the reason, for the
/// caller to name in its own error.
pub fn lenient_version(tag: &str) -> std::result::Result<semver::Version, String> {
    let refused = |why: String| format!("tag {tag:?} is not a version ({why}); v1, 1.2 or v1.2.3-rc.1 would be");
    let bare = tag.strip_prefix('v').unwrap_or(tag);
    let (core, suffix) = bare.find(['-', '+']).map_or((bare, ""), |i| bare.split_at(i));
    let numbers: Vec<&str> = core.split('.').collect();
    if numbers.len() > 3 || numbers.iter().any(|n| n.is_empty() || !n.bytes().all(|b| b.is_ascii_digit())) {
        return Err(refused("one to three numbers separated by dots expected".into()));
    }
    let padded = [numbers.as_slice(), &["0", "0"][..3 - numbers.len()]].concat().join(".");
    semver::Version::parse(&format!("{padded}{suffix}")).map_err(|e| refused(e.to_string()))
}

/// Reads a policy file.
fn read(path: &Path) -> Result<PolicyFile> {
    let text = std::fs::read_to_string(path).map_err(|source| TrustError::KeyIo { path: path.to_owned(), source })?;
    parse(&text, path, &Files::Disk)
}

/// Reads the text of the policy at `path`, with the files it names from `files`.
fn parse(text: &str, path: &Path, files: &Files<'_>) -> Result<PolicyFile> {
    let raw: RawPolicy =
        serde_yaml_ng::from_str(text).map_err(|e| policy_error(path, format!("not a trust policy: {e}")))?;
    if let Some(require) = &raw.require {
        require.validate().map_err(|e| policy_error(path, format!("require: {e}")))?;
    }
    let windowed = |list: &str, entries: &[KeyEntry]| {
        entries
            .iter()
            .map(|k| -> Result<_> { Ok((files.key(path, k.path())?, k.validity(path, list)?)) })
            .collect::<Result<Vec<_>>>()
    };
    let (keys, validity): (Vec<_>, Vec<_>) = windowed("keys", &raw.keys)?.into_iter().unzip();
    let cosigners = windowed("cosigners", &raw.cosigners)?;
    let read_identities = |list: &str, entries: Vec<RawIdentity>| {
        entries
            .into_iter()
            .map(|i| {
                let subject = match (i.subject, i.subject_reg_exp) {
                    (Some(exact), None) => SubjectMatcher::Exact(exact),
                    (None, Some(pattern)) => SubjectMatcher::regex(&pattern)?,
                    _ => {
                        return Err(policy_error(
                            path,
                            format!("{list}: each identity needs exactly one of subject or subjectRegExp"),
                        ));
                    }
                };
                Ok(CertificateIdentity { subject, issuer: i.issuer })
            })
            .collect::<Result<Vec<_>>>()
    };
    let identities = read_identities("identities", raw.identities)?;
    let bundle_identities = read_identities("bundleIdentities", raw.bundle_identities)?;
    let root = raw.trusted_root.as_deref().map(|r| files.trusted_root(path, r)).transpose()?;
    for (list, named) in [("identities", &identities), ("bundleIdentities", &bundle_identities)] {
        if !named.is_empty() && root.is_none() {
            let reason = format!("{list} need trustedRoot: the pinned sigstore trusted_root.json");
            return Err(policy_error(path, reason));
        }
    }
    let mut require = raw.require;
    if let Some(require) = &mut require {
        let trusted: Vec<&PublicKey> = keys.iter().chain(cosigners.iter().map(|(key, _)| key)).collect();
        resolve_signed_by(require, path, files, &trusted, &bundle_identities)?;
    }
    let versions = match &raw.versions {
        Some(v) => Some(semver::VersionReq::parse(v).map_err(|e| policy_error(path, format!("versions {v:?}: {e}")))?),
        None => None,
    };
    let constraints = Constraints {
        names: raw.names,
        versions,
        state: raw.anti_rollback.map(|a| files.state(path, &a.state)).transpose()?,
        require,
        cosigners,
    };
    Ok(PolicyFile { signers: Signers { keys, identities, root }, validity, bundle_identities, constraints })
}

/// Reads each `signedBy` of `require` as the signer evidence names, refusing, with the value
/// as the policy at `path` writes it, one no signature could ever meet: a key file (relative
/// to the policy, read from `files`) becomes its key's fingerprint; a fingerprint must read as
/// one (`SHA256:` and the 43 characters of unpadded base64 a key's has); either must name a
/// key of `trusted` (its `keys` and `cosigners`: no signature by another key is accepted); an
/// identity (`identity SAN (issuer ISS)`) must be one of `identities` admits, the only
/// keyless signer a bundle's signature is accepted from.
fn resolve_signed_by(
    require: &mut Requirement,
    path: &Path,
    files: &Files<'_>,
    trusted: &[&PublicKey],
    identities: &[CertificateIdentity],
) -> Result<()> {
    require.visit_signed_by(&mut |signed_by: &mut String| -> Result<()> {
        let written = signed_by.clone();
        let refused = |why: String| policy_error(path, format!("require: signedBy {written}: {why}"));
        if let Some(identity) = written.strip_prefix("identity ") {
            let Some((subject, issuer)) = identity.strip_suffix(')').and_then(|i| i.rsplit_once(" (issuer ")) else {
                return Err(refused("not an identity as reports print one: identity SAN (issuer ISS)".into()));
            };
            if !identities.iter().any(|i| i.issuer == issuer && i.subject.matches(subject)) {
                return Err(refused(
                    "no keyless identity this policy trusts with bundles admits it, so no signature ever meets it; \
                     trust that identity, or name another signer"
                        .into(),
                ));
            }
            return Ok(());
        }
        let fingerprint = if genesis_types::signed_by_names_key_file(&written) {
            let key = files
                .key(path, Path::new(&written))
                .map_err(|e| refused(format!("neither a key fingerprint (SHA256:…) nor a public key file: {e}")))?;
            key.fingerprint().to_string()
        } else if is_fingerprint(&written) {
            written.clone()
        } else {
            return Err(refused(
                "not a key fingerprint: SHA256: then the 43 characters of unpadded base64 a key's fingerprint has"
                    .into(),
            ));
        };
        if !trusted.iter().any(|key| key.fingerprint().as_str() == fingerprint) {
            return Err(refused(format!(
                "key {fingerprint} is in neither keys nor cosigners, so no signature by it is ever accepted and this \
                 is never met; add its public key to cosigners"
            )));
        }
        *signed_by = fingerprint;
        Ok(())
    })
}

/// Whether `text` reads as a key fingerprint: `SHA256:` and a SHA-256 in unpadded base64.
fn is_fingerprint(text: &str) -> bool {
    use base64::Engine as _;
    let digest = text.strip_prefix("SHA256:").map(|b64| base64::engine::general_purpose::STANDARD_NO_PAD.decode(b64));
    matches!(digest, Some(Ok(bytes)) if bytes.len() == 32)
}

/// `*` matches any run of characters; everything else matches itself.
fn glob(pattern: &str, name: &str) -> bool {
    match pattern.split_once('*') {
        None => pattern == name,
        Some((head, rest)) => {
            name.starts_with(head)
                && (0..=name.len() - head.len())
                    .any(|i| name.is_char_boundary(head.len() + i) && glob(rest, &name[head.len() + i..]))
        }
    }
}

impl Constraints {
    /// These constraints with `cosigners`: keys (each with its validity window) whose
    /// countersignatures over a bundle's BOM count as signers for `require`, never as the
    /// signature inside the archive. A policy file's `cosigners` gives them; this is for a
    /// policy built in code.
    pub fn with_cosigners(mut self, cosigners: Vec<(PublicKey, Option<KeyValidity>)>) -> Constraints {
        self.cosigners = cosigners;
        self
    }

    /// The keys trusted for countersignatures only, each with its validity window.
    pub fn cosigners(&self) -> &[(PublicKey, Option<KeyValidity>)] {
        &self.cosigners
    }

    /// Checks a verified BOM (whose BLAKE3 fingerprint is `bom_blake3`) and the evidence
    /// gathered about it against the constraints; returns the decisions taken. Its version
    /// must be a semantic version when a rule reads it (`versions`, `antiRollback`).
    pub fn check(&self, bom: &Bom, bom_blake3: &str, evidence: &Evidence) -> Result<Vec<String>> {
        let mut decisions = if self.reads_version() {
            self.check_release(&bundle_release(bom, &bom_version(bom)?, bom_blake3))?
        } else {
            self.check_name(&bom.name)?.into_iter().collect()
        };
        if let Some(require) = &self.require {
            let (ok, why) = require.evaluate(evidence);
            if !ok {
                return Err(violation("require", why));
            }
            decisions.push(format!("requirements met: {why}"));
        }
        Ok(decisions)
    }

    /// Checks a release against `names`, `versions` and `antiRollback` (not `require`, which
    /// needs a bundle's evidence); returns the decisions taken.
    pub fn check_release(&self, release: &Release<'_>) -> Result<Vec<String>> {
        let mut decisions: Vec<String> = self.check_name(release.name)?.into_iter().collect();
        if let Some(req) = &self.versions {
            if !req.matches(release.version) {
                return Err(violation("versions", format!("{} is outside {req}", release.version)));
            }
            decisions.push(format!("version {} within {req}", release.version));
        }
        if let Some(state) = &self.state {
            decisions.push(not_a_rollback(&read_state(state)?, release, state)?);
        }
        Ok(decisions)
    }

    /// Records `bom` as installed in the anti-rollback state, when the policy has one, with
    /// whose signatures were accepted and its SHA-256 beside its BLAKE3 (`audit`), so that
    /// "who signed this bundle" is answered later without verifying it again (seed 002).
    /// Call after a successful extract or load. See [`Constraints::record_release`].
    pub fn record_installed(&self, bom: &Bom, bom_blake3: &str, audit: InstallAudit<'_>) -> Result<()> {
        if self.state.is_none() {
            return Ok(());
        }
        self.record(&bundle_release(bom, &bom_version(bom)?, bom_blake3), Some(audit))
    }

    /// Records `release` in the anti-rollback state, when the policy has one. Call once it is
    /// installed or seeded. Under a lock, the state is read again, the release checked
    /// against it again (another run may have recorded a later version since
    /// [`Constraints::check_release`]), and the file replaced atomically: runs finishing
    /// together each add their record, and a crash leaves the old state or the new, never an
    /// empty one.
    pub fn record_release(&self, release: &Release<'_>) -> Result<()> {
        self.record(release, None)
    }

    /// [`Constraints::record_release`], with the audit fields of a bundle when given.
    fn record(&self, release: &Release<'_>, audit: Option<InstallAudit<'_>>) -> Result<()> {
        let Some(state) = &self.state else { return Ok(()) };
        let _lock = lock_state(state)?;
        let mut installed = read_state(state)?;
        not_a_rollback(&installed, release, state)?;
        let entry = InstalledBundle::Recorded {
            version: release.version.to_string(),
            bom_blake3: release.fingerprint.to_owned(),
            signers: audit
                .map(|a| std::iter::once(a.signer).chain(a.countersigners).cloned().collect())
                .unwrap_or_default(),
            bom_sha256: audit.map(|a| a.bom_sha256.to_string()),
        };
        installed.bundles.insert(release.key(), entry);
        genesis_bundle::scratch::remove_abandoned(state, "partial");
        let bytes = serde_json::to_vec_pretty(&installed).expect("the state is JSON");
        genesis_bundle::scratch::atomic_write(state, &bytes)
            .map_err(BundleError::io("writing the anti-rollback state", state))?;
        Ok(())
    }

    /// Whether a rule compares versions, so that a BOM's must be a semantic one.
    fn reads_version(&self) -> bool {
        self.versions.is_some() || self.state.is_some()
    }

    /// The `names` rule: the decision when it has patterns, an error when none matches.
    fn check_name(&self, name: &str) -> Result<Option<String>> {
        if self.names.is_empty() {
            return Ok(None);
        }
        if !self.names.iter().any(|p| glob(p, name)) {
            return Err(violation("names", format!("{name:?} matches none of {:?}", self.names)));
        }
        Ok(Some(format!("name {name} accepted by {:?}", self.names)))
    }
}

fn violation(rule: &str, detail: String) -> TrustError {
    TrustError::PolicyViolation { rule: rule.to_owned(), detail }
}

/// A bundle as the release [`Constraints::check_release`] judges.
fn bundle_release<'a>(bom: &'a Bom, version: &'a semver::Version, bom_blake3: &'a str) -> Release<'a> {
    Release { kind: ReleaseKind::Bundle, name: &bom.name, version, fingerprint: bom_blake3 }
}

/// The BOM's version, for the versions and anti-rollback rules.
fn bom_version(bom: &Bom) -> Result<semver::Version> {
    semver::Version::parse(&bom.version)
        .map_err(|e| violation("versions", format!("{:?} is not a semantic version ({e})", bom.version)))
}

/// Refuses `release` when `installed` (read from `state`) records a later version of its
/// name, or the same version with another fingerprint; otherwise says why it is no rollback.
fn not_a_rollback(installed: &Installed, release: &Release<'_>, state: &Path) -> Result<String> {
    let (name, version, fingerprint) = (release.name, release.version.to_string(), release.fingerprint);
    let Some(entry) = installed.bundles.get(&release.key()) else {
        return Ok(format!("no earlier install of {name} recorded"));
    };
    let previous = entry.version();
    if let InstalledBundle::Recorded { version: recorded_version, bom_blake3: recorded, .. } = entry
        && *recorded_version == version
        && recorded != fingerprint
    {
        return Err(violation(
            "antiRollback",
            format!(
                "{name} {version} is installed with blake3:{recorded}, this one is blake3:{fingerprint}: same version, different content ({})",
                state.display()
            ),
        ));
    }
    let previous_version = semver::Version::parse(previous).map_err(|e| {
        violation("antiRollback", format!("{}: installed version {previous:?} unreadable ({e})", state.display()))
    })?;
    if *release.version < previous_version {
        return Err(violation(
            "antiRollback",
            format!("{name} {version} is older than the installed {previous} ({})", state.display()),
        ));
    }
    Ok(format!("not a rollback: installed {previous}, this {version}"))
}

/// Takes the lock that makes reading, changing and writing the state one step, held until
/// the file returned is dropped. It is a file beside the state (`<state>.lock`), not the
/// state itself: the state is replaced by a rename, and a lock on a replaced file would
/// exclude no one. A symlink planted at the lock's name is not followed (`O_NOFOLLOW`), so
/// taking the lock never creates or opens a file elsewhere.
fn lock_state(state: &Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let path = genesis_bundle::path_with_suffix(state, ".lock");
    let file = std::fs::OpenOptions::new()
        .write(true)
        .create(true)
        .truncate(false)
        .custom_flags(rustix::fs::OFlags::NOFOLLOW.bits().cast_signed())
        .open(&path)
        .map_err(BundleError::io("opening the anti-rollback lock", &path))?;
    file.lock().map_err(BundleError::io("locking", &path))?;
    Ok(file)
}

/// Reads the anti-rollback state. Absent, it means a first install. Present but not
/// readable as a state, it refuses every bundle, naming the file and the way out: taken for
/// "nothing installed", it would let any older version back in.
fn read_state(state: &Path) -> Result<Installed> {
    let bytes = match std::fs::read(state) {
        Ok(bytes) => bytes,
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => return Ok(Installed::default()),
        Err(e) => return Err(BundleError::io("reading the anti-rollback state", state)(e).into()),
    };
    serde_json::from_slice(&bytes).map_err(|e| TrustError::PolicyViolation {
        rule: "antiRollback".to_owned(),
        detail: format!(
            "the state {} is unreadable ({e}), so no bundle is accepted: restore it from a backup; \
             to start anti-rollback afresh instead, remove it (every earlier install is then forgotten)",
            state.display()
        ),
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn glob_truth_table() {
        for (p, n, ok) in [
            ("genesis-*", "genesis-ops", true),
            ("genesis-*", "genesis-", true),
            ("genesis-*", "other", false),
            ("*-ops", "genesis-ops", true),
            ("a*b*c", "axxbyyc", true),
            ("a*b*c", "axxbyy", false),
            ("demo", "demo", true),
            ("demo", "demo2", false),
            ("*", "", true),
        ] {
            assert_eq!(glob(p, n), ok, "{p} {n}");
        }
    }

    fn bom(name: &str, version: &str) -> Bom {
        Bom {
            schema: genesis_bundle::BOM_SCHEMA.into(),
            name: name.into(),
            version: version.into(),
            created: genesis_bundle::rfc3339(0),
            expires: None,
            files: vec![],
            images: vec![],
            charts: vec![],
            manifests: vec![],
            sboms: vec![],
            scan: None,
            requires: None,
        }
    }

    fn with_state(state: &Path) -> Constraints {
        Constraints { state: Some(state.to_owned()), ..Constraints::default() }
    }

    /// The BOM's SHA-256 and signer the tests record.
    static BOM_SHA256: std::sync::LazyLock<Digest> = std::sync::LazyLock::new(|| genesis_bundle::sha256(b"bom"));
    static SIGNER: std::sync::LazyLock<AcceptedSigner> =
        std::sync::LazyLock::new(|| AcceptedSigner::Key { fingerprint: "SHA256:signer".into() });

    fn audit() -> InstallAudit<'static> {
        InstallAudit { signer: &SIGNER, countersigners: &[], bom_sha256: &BOM_SHA256 }
    }

    /// Runs finishing together each add their record: none is lost to another's
    /// read-modify-write, and none fails on another's scratch file.
    #[test]
    fn concurrent_installs_each_leave_their_record() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("installed.json");
        let constraints = with_state(&state);
        let (threads, each) = (8, 10);
        let start = std::sync::Barrier::new(threads);
        std::thread::scope(|s| {
            for t in 0..threads {
                let (constraints, start) = (&constraints, &start);
                s.spawn(move || {
                    start.wait();
                    for i in 0..each {
                        constraints.record_installed(&bom(&format!("b{t}-{i}"), "1.0.0"), "b3", audit()).unwrap();
                    }
                });
            }
        });
        assert_eq!(read_state(&state).unwrap().bundles.len(), threads * each);
    }

    /// A run that checked against an older state does not record a version below one another
    /// run recorded since: the check is made again under the lock.
    #[test]
    fn a_record_never_goes_below_one_written_since_the_check() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("installed.json");
        let constraints = with_state(&state);
        let older = bom("demo", "1.0.0");
        constraints.check(&older, "b3-old", &Evidence::default()).unwrap();
        constraints.record_installed(&bom("demo", "2.0.0"), "b3-new", audit()).unwrap();
        let refused = constraints.record_installed(&older, "b3-old", audit()).unwrap_err().to_string();
        assert!(refused.contains("demo 1.0.0 is older than the installed 2.0.0"), "{refused}");
        assert_eq!(read_state(&state).unwrap().bundles["demo"].version(), "2.0.0");
    }

    /// A state that does not parse (say, empty, as a crash used to leave it) refuses every
    /// bundle naming the file and the way out, and stays as it was for the operator: it is
    /// never taken for "nothing installed" and overwritten.
    #[test]
    fn an_unreadable_state_refuses_naming_the_file_and_the_remedy() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("installed.json");
        let constraints = with_state(&state);
        let corrupt: [&[u8]; 2] = [b"", b"{\"bundles\": {\"demo\": "];
        for bytes in corrupt {
            std::fs::write(&state, bytes).unwrap();
            let refused = constraints.check(&bom("demo", "0.1.0"), "b3", &Evidence::default()).unwrap_err();
            assert!(
                matches!(&refused, TrustError::PolicyViolation { rule, .. } if rule == "antiRollback"),
                "{refused}"
            );
            let message = refused.to_string();
            assert!(message.contains(&format!("the state {} is unreadable", state.display())), "{message}");
            assert!(message.contains("restore it from a backup"), "{message}");
            assert!(constraints.record_installed(&bom("demo", "0.1.0"), "b3", audit()).is_err());
            assert_eq!(std::fs::read(&state).unwrap(), bytes, "the state is left for the operator");
        }
    }

    #[test]
    fn a_policy_with_an_empty_requirement_list_or_an_impossible_threshold_is_refused_naming_the_field() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("vendor.pub"), crate::PrivateKey::generate().public_key().to_pem()).unwrap();
        let policy = dir.path().join("trust.yaml");
        for (require, why) in [
            ("{allOf: []}", "require: allOf is empty"),
            ("[]", "require: a list of requirements is empty"),
            ("[sbom, {anyOf: []}]", "require: anyOf is empty"),
            ("{threshold: 0, of: [sbom]}", "require: threshold is 0 but `of` names 1"),
            ("[sbom, {threshold: 3, of: [sbom, provenance]}]", "require: threshold is 3 but `of` names 2"),
        ] {
            std::fs::write(&policy, format!("keys: [vendor.pub]\nrequire: {require}\n")).unwrap();
            let message = load(&policy).unwrap_err().to_string();
            assert!(message.contains(why), "{message}");
        }
        std::fs::write(&policy, "keys: [vendor.pub]\nrequire: {allOf: [sbom]}\n").unwrap();
        load(&policy).unwrap();
    }

    /// `cosigners` take keys in either form of `keys`, trusted only beside them, and a
    /// `signedBy` naming a key file, relative to the policy, is read as that key's
    /// fingerprint; a file that is no public key, or a cosigner's window that does not read,
    /// refuses the policy, naming the field.
    #[test]
    fn cosigners_load_beside_keys_and_signed_by_names_a_key_by_its_file() {
        let (dir, vendor) = two_keys();
        std::fs::create_dir(dir.path().join("customers")).unwrap();
        let customer = crate::PrivateKey::generate().public_key();
        std::fs::write(dir.path().join("customers/customer.pub"), customer.to_pem()).unwrap();
        let policy = dir.path().join("trust.yaml");
        std::fs::write(
            &policy,
            "keys: [vendor.pub]\ncosigners:\n  - other.pub\n  - { path: customers/customer.pub, notAfter: '2999-01-01T00:00:00Z' }\n\
             require: {allOf: [{signedBy: vendor.pub}, {signedBy: customers/customer.pub}]}\n",
        )
        .unwrap();
        let loaded = load(&policy).unwrap();
        assert_eq!(loaded.keys(), [vendor.public_key()], "a cosigner is never a vendor key");
        let cosigners = loaded.constraints().cosigners();
        assert_eq!(cosigners.len(), 2);
        assert_eq!(
            (&cosigners[1].0, cosigners[1].1.as_ref().map(|w| w.file.clone())),
            (&customer, Some(dir.path().join("customers/customer.pub")))
        );
        let signed_by = |fingerprint: String| Requirement::SignedBy { signed_by: fingerprint };
        let expected = Requirement::AllOf {
            all_of: vec![
                signed_by(vendor.public_key().fingerprint().to_string()),
                signed_by(customer.fingerprint().to_string()),
            ],
        };
        assert_eq!(loaded.constraints().require.as_ref(), Some(&expected));

        for (text, said) in [
            (
                "keys: [vendor.pub]\nrequire: {signedBy: absent.pub}\n",
                "require: signedBy absent.pub: neither a key fingerprint",
            ),
            ("keys: [vendor.pub]\nrequire: [{signedBy: trust.yaml}]\n", "require: signedBy trust.yaml: neither"),
            (
                "keys: [vendor.pub]\ncosigners: [{path: other.pub, notAfter: soon}]\n",
                "cosigners: notAfter \"soon\" of other.pub",
            ),
        ] {
            std::fs::write(&policy, text).unwrap();
            let e = load(&policy).unwrap_err();
            assert!(matches!(&e, TrustError::KeyFormat { path, .. } if *path == policy), "{text}: {e:?}");
            assert!(e.to_string().contains(said), "{text}: {e}");
        }
        std::fs::write(&policy, "cosigners: [other.pub]\n").unwrap();
        assert!(matches!(load(&policy), Err(TrustError::NoTrustedKey)), "cosigners alone trust no vendor");
    }

    /// A `signedBy` no signature could ever meet refuses the policy as it loads, naming the
    /// value as the file writes it: a fingerprint that does not read as one, a key (by file or
    /// by fingerprint) in neither keys nor cosigners, an identity no trusted identity admits.
    /// One that can be met loads, a key file read as its fingerprint.
    #[test]
    fn a_signed_by_that_can_never_be_met_refuses_the_policy_naming_it() {
        let (dir, vendor) = two_keys();
        let root =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/interop/trust/trusted_root.public-good.json");
        std::fs::copy(root, dir.path().join("trusted_root.json")).unwrap();
        let stranger = crate::PrivateKey::generate().public_key();
        std::fs::write(dir.path().join("stranger.pub"), stranger.to_pem()).unwrap();
        let fingerprint = |key: &crate::PublicKey| key.fingerprint().to_string();
        let other = fingerprint(&crate::PublicKey::from_pem_file(&dir.path().join("other.pub")).unwrap());
        let (vendor, stranger) = (fingerprint(&vendor.public_key()), fingerprint(&stranger));
        let policy = dir.path().join("trust.yaml");
        let with = |require: &str| {
            let trusts = "keys: [vendor.pub]\ncosigners: [other.pub]\ntrustedRoot: trusted_root.json\n";
            format!(
                "{trusts}bundleIdentities: [{{issuer: 'https://idp', subjectRegExp: 'ci@.*'}}]\nrequire: {require}\n"
            )
        };
        for (require, said) in [
            ("{signedBy: 'SHA256:x'}".to_owned(), "require: signedBy SHA256:x: not a key fingerprint".to_owned()),
            (format!("{{signedBy: '{vendor}='}}"), format!("require: signedBy {vendor}=: not a key fingerprint")),
            (
                "[{signedBy: stranger.pub}]".to_owned(),
                format!("require: signedBy stranger.pub: key {stranger} is in neither keys nor cosigners"),
            ),
            (
                format!("{{anyOf: [sbom, {{signedBy: '{stranger}'}}]}}"),
                format!("require: signedBy {stranger}: key {stranger} is in neither keys nor cosigners"),
            ),
            (
                "{signedBy: 'identity ops@acme (issuer https://idp)'}".to_owned(),
                "require: signedBy identity ops@acme (issuer https://idp): no keyless identity".to_owned(),
            ),
            ("{signedBy: 'identity ci@acme (issuer https://other)'}".to_owned(), "no keyless identity".to_owned()),
            ("{signedBy: 'identity ci@acme'}".to_owned(), "not an identity as reports print one".to_owned()),
        ] {
            std::fs::write(&policy, with(&require)).unwrap();
            let e = load(&policy).unwrap_err();
            assert!(matches!(&e, TrustError::KeyFormat { path, .. } if *path == policy), "{require}: {e:?}");
            assert!(e.to_string().contains(&said), "{require}: {e}");
        }

        let met = format!(
            "[{{signedBy: other.pub}}, {{signedBy: '{vendor}'}}, {{signedBy: 'identity ci@acme (issuer https://idp)'}}]"
        );
        std::fs::write(&policy, with(&met)).unwrap();
        let signed_by = |signed_by: &str| Requirement::SignedBy { signed_by: signed_by.to_owned() };
        let expected = Requirement::List(vec![
            signed_by(&other),
            signed_by(&vendor),
            signed_by("identity ci@acme (issuer https://idp)"),
        ]);
        assert_eq!(load(&policy).unwrap().constraints().require.as_ref(), Some(&expected));
    }

    #[test]
    fn lenient_version_truth_table() {
        for (tag, version) in [
            ("v1", Some("1.0.0")),
            ("1", Some("1.0.0")),
            ("1.2", Some("1.2.0")),
            ("v1.2", Some("1.2.0")),
            ("v1.2.3", Some("1.2.3")),
            ("1.2.3-rc.1", Some("1.2.3-rc.1")),
            ("v1.2.3-rc.1", Some("1.2.3-rc.1")),
            ("1.2-rc.1", Some("1.2.0-rc.1")),
            ("latest", None),
            ("v1.2.3.4", None),
            ("", None),
            ("v", None),
            ("1.x", None),
            ("1..2", None),
            ("-rc.1", None),
            ("v01", None),
        ] {
            let read = lenient_version(tag);
            assert_eq!(read.as_ref().ok().map(ToString::to_string).as_deref(), version, "{tag}: {read:?}");
        }
        let why = lenient_version("latest").unwrap_err();
        assert!(why.starts_with(r#"tag "latest" is not a version"#), "{why}");
    }

    /// An image seeded to `name`.
    fn release<'a>(name: &'a str, version: &'a semver::Version, fingerprint: &'a str) -> Release<'a> {
        Release { kind: ReleaseKind::Image, name, version, fingerprint }
    }

    fn version(text: &str) -> semver::Version {
        semver::Version::parse(text).unwrap()
    }

    fn refused_by(result: Result<impl std::fmt::Debug>, rule: &str) -> String {
        match result {
            Err(TrustError::PolicyViolation { rule: r, detail }) if r == rule => detail,
            other => panic!("expected a {rule} violation, got {other:?}"),
        }
    }

    #[test]
    fn check_release_refuses_a_version_outside_the_versions_range() {
        let constraints = Constraints {
            versions: Some(semver::VersionReq::parse(">=1.0.0, <2.0.0").unwrap()),
            ..Constraints::default()
        };
        let detail = refused_by(constraints.check_release(&release("edge/app", &version("2.0.0"), "b3")), "versions");
        assert_eq!(detail, "2.0.0 is outside >=1.0.0, <2.0.0");
        let decisions = constraints.check_release(&release("edge/app", &version("1.4.0"), "b3")).unwrap();
        assert_eq!(decisions, ["version 1.4.0 within >=1.0.0, <2.0.0"]);
    }

    /// A bundle's version is still read strictly: what a tag may say (`v1.0.0`) is no
    /// semantic version in a BOM.
    #[test]
    fn a_bom_version_that_is_not_semantic_is_still_refused_by_the_versions_rule() {
        let constraints =
            Constraints { versions: Some(semver::VersionReq::parse(">=1.0.0").unwrap()), ..Constraints::default() };
        let detail = refused_by(constraints.check(&bom("demo", "v1.0.0"), "b3", &Evidence::default()), "versions");
        assert!(detail.starts_with(r#""v1.0.0" is not a semantic version"#), "{detail}");
    }

    /// The state file judges seeded images too: an older version is refused, and so is the
    /// recorded version with another fingerprint.
    #[test]
    fn anti_rollback_refuses_an_older_release_and_the_same_version_with_another_fingerprint() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("installed.json");
        std::fs::write(&state, r#"{"bundles": {"image:edge/app": {"version": "1.2.0", "bomBlake3": "aa"}}}"#).unwrap();
        let constraints = with_state(&state);
        let older =
            refused_by(constraints.check_release(&release("edge/app", &version("1.1.0"), "aa")), "antiRollback");
        assert!(older.starts_with("edge/app 1.1.0 is older than the installed 1.2.0"), "{older}");
        let other =
            refused_by(constraints.check_release(&release("edge/app", &version("1.2.0"), "bb")), "antiRollback");
        assert!(other.contains("same version, different content"), "{other}");
        constraints.check_release(&release("edge/app", &version("1.2.0"), "aa")).unwrap();
        constraints.check_release(&release("edge/app", &version("1.3.0"), "cc")).unwrap();
    }

    #[test]
    fn a_recorded_release_refuses_an_older_one_afterwards() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("installed.json");
        let constraints = with_state(&state);
        let decisions = constraints.check_release(&release("edge/app", &version("1.9.0"), "old")).unwrap();
        assert_eq!(decisions, ["no earlier install of edge/app recorded"]);
        constraints.record_release(&release("edge/app", &version("2.0.0"), "new")).unwrap();
        let older =
            refused_by(constraints.check_release(&release("edge/app", &version("1.9.0"), "old")), "antiRollback");
        assert!(older.starts_with("edge/app 1.9.0 is older than the installed 2.0.0"), "{older}");
        refused_by(constraints.record_release(&release("edge/app", &version("1.9.0"), "old")), "antiRollback");
        let recorded = &read_state(&state).unwrap().bundles["image:edge/app"];
        assert!(
            matches!(recorded, InstalledBundle::Recorded { version, bom_blake3, signers, bom_sha256: None } if version == "2.0.0" && bom_blake3 == "new" && signers.is_empty()),
            "{recorded:?}"
        );
    }

    /// An image seeded to `demo` and a bundle named `demo` are two release lines: the image's
    /// 1.0.0 does not refuse the bundle's 0.5.0, and the bundle's record keeps its format.
    #[test]
    fn an_image_release_never_judges_a_bundle_of_the_same_name() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("installed.json");
        let constraints = with_state(&state);
        constraints.record_release(&release("demo", &version("1.0.0"), "image-b3")).unwrap();
        let bundle = bom("demo", "0.5.0");
        let decisions = constraints.check(&bundle, "bundle-b3", &Evidence::default()).unwrap();
        assert_eq!(decisions, ["no earlier install of demo recorded"]);
        constraints.record_installed(&bundle, "bundle-b3", audit()).unwrap();
        let older = refused_by(constraints.check_release(&release("demo", &version("0.9.0"), "b3")), "antiRollback");
        assert!(older.starts_with("demo 0.9.0 is older than the installed 1.0.0"), "{older}");

        let written: serde_json::Value = serde_json::from_slice(&std::fs::read(&state).unwrap()).unwrap();
        assert_eq!(
            written,
            serde_json::json!({"bundles": {
                "demo": {
                    "version": "0.5.0",
                    "bomBlake3": "bundle-b3",
                    "signers": [{"kind": "key", "fingerprint": "SHA256:signer"}],
                    "bomSha256": BOM_SHA256.to_string()
                },
                "image:demo": {"version": "1.0.0", "bomBlake3": "image-b3"}
            }})
        );
    }

    /// `identities` judge images only and `bundleIdentities` bundles only: a policy naming its
    /// identities for images trusts no bundle signer with them, and each list needs the root.
    #[test]
    fn identities_judge_images_and_bundle_identities_bundles() {
        let dir = tempfile::tempdir().unwrap();
        let root =
            Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/interop/trust/trusted_root.public-good.json");
        std::fs::copy(root, dir.path().join("trusted_root.json")).unwrap();
        let policy = dir.path().join("trust.yaml");
        let identity = "[{issuer: 'https://idp', subjectRegExp: 'ci@.*'}]";
        std::fs::write(
            &policy,
            format!(
                "identities: {identity}
trustedRoot: trusted_root.json
"
            ),
        )
        .unwrap();
        let message = load(&policy).unwrap_err().to_string();
        assert!(message.contains("trusts no bundle signer: its identities judge images only"), "{message}");
        let (signers, _) = load_image_policy(&policy).unwrap();
        assert_eq!(signers.identities.len(), 1);

        std::fs::write(
            &policy,
            format!(
                "bundleIdentities: {identity}
trustedRoot: trusted_root.json
"
            ),
        )
        .unwrap();
        let described = load(&policy).unwrap().describe();
        assert_eq!(described, "identity /^(?:ci@.*)$/ (issuer https://idp)");
        let message = load_image_policy(&policy).unwrap_err().to_string();
        assert!(message.contains("trusts no key and no identity"), "bundle identities judge no image: {message}");

        std::fs::write(
            &policy,
            format!(
                "bundleIdentities: {identity}
"
            ),
        )
        .unwrap();
        let message = load(&policy).unwrap_err().to_string();
        assert!(message.contains("bundleIdentities need trustedRoot"), "{message}");
    }

    #[test]
    fn an_image_policy_must_trust_a_signer_and_is_refused_with_attestation_requirements() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join("vendor.pub"), crate::PrivateKey::generate().public_key().to_pem()).unwrap();
        let policy = dir.path().join("trust.yaml");
        std::fs::write(&policy, "versions: \">=1.0.0\"\n").unwrap();
        let message = load_image_policy(&policy).unwrap_err().to_string();
        assert!(message.contains("trusts no key and no identity"), "{message}");
        std::fs::write(&policy, "keys: [vendor.pub]\nrequire: [sbom]\n").unwrap();
        let message = load_image_policy(&policy).unwrap_err().to_string();
        assert!(message.contains("require: attestation requirements are judged for bundles only"), "{message}");
        std::fs::write(&policy, "keys: [vendor.pub]\nversions: \">=1.0.0\"\n").unwrap();
        let (signers, constraints) = load_image_policy(&policy).unwrap();
        assert_eq!(signers.keys.len(), 1);
        refused_by(constraints.check_release(&release("edge/app", &version("0.9.0"), "b3")), "versions");
    }

    /// A folder with the public keys `vendor.pub` and `other.pub`; the private vendor key.
    fn two_keys() -> (tempfile::TempDir, crate::PrivateKey) {
        let dir = tempfile::tempdir().unwrap();
        let vendor = crate::PrivateKey::generate();
        std::fs::write(dir.path().join("vendor.pub"), vendor.public_key().to_pem()).unwrap();
        std::fs::write(dir.path().join("other.pub"), crate::PrivateKey::generate().public_key().to_pem()).unwrap();
        (dir, vendor)
    }

    /// `keys` takes plain files and mappings with a window side by side, in block or flow
    /// style, dates quoted or not. The window judges the key that verifies, by the clock: one
    /// around now accepts, one that closed or has not opened refuses, naming the key, its file,
    /// the bound and its date, and through `key_for` the key verifies nothing.
    #[test]
    fn a_key_in_the_mapping_form_verifies_inside_its_window_only() {
        let (dir, vendor) = two_keys();
        let policy = dir.path().join("trust.yaml");
        let signature = vendor.sign(b"bom");
        let fingerprint = vendor.public_key().fingerprint().to_string();
        let block = |window: &str| format!("keys:\n  - other.pub\n  - path: vendor.pub\n{window}");
        for (text, refused) in [
            ("keys: [other.pub, vendor.pub]\n".to_owned(), None),
            (block(""), None),
            (block("    notBefore: 2000-01-01T00:00:00Z\n    notAfter: 2999-12-31T23:59:59Z\n"), None),
            (block("    notAfter: 2999-01-01T00:00:00+01:00\n"), None),
            (
                "keys:\n  - other.pub\n  - { path: vendor.pub, notBefore: \"2000-01-01T00:00:00Z\", notAfter: \"2999-01-01T00:00:00Z\" }\n".to_owned(),
                None,
            ),
            (block("    notAfter: '2001-01-01T00:00:00Z'\n"), Some(("notAfter", "2001-01-01T00:00:00Z"))),
            (block("    notBefore: \"2999-01-01T00:00:00Z\"\n"), Some(("notBefore", "2999-01-01T00:00:00Z"))),
            (
                block("    notBefore: 2000-01-01T00:00:00Z\n    notAfter: 2001-01-01T00:00:00Z\n"),
                Some(("notAfter", "2001-01-01T00:00:00Z")),
            ),
        ] {
            std::fs::write(&policy, &text).unwrap();
            let loaded = load(&policy).unwrap();
            assert_eq!(loaded.keys().len(), 2, "{text}");
            let judged = loaded.signer(|k| k.verifies(b"bom", &signature));
            match refused {
                None => {
                    let signer = judged.unwrap().map(|k| k.fingerprint().to_string());
                    assert_eq!(signer.as_deref(), Some(fingerprint.as_str()), "{text}");
                }
                Some((bound, date)) => {
                    let e = judged.unwrap_err();
                    assert!(
                        matches!(&e, TrustError::KeyOutsideValidity { file, .. } if *file == dir.path().join("vendor.pub")),
                        "{text}: {e:?}"
                    );
                    let message = e.to_string();
                    for named in [fingerprint.as_str(), "vendor.pub", bound, date] {
                        assert!(message.contains(named), "{text}: {named} not in {message}");
                    }
                    assert!(loaded.key_for(b"bom", &signature).is_none(), "{text}");
                }
            }
        }
    }

    /// A window that does not read refuses the policy, naming the field: a date that is not
    /// RFC 3339, a window that ends before it begins, a misspelt field, no path.
    #[test]
    fn a_key_window_that_does_not_read_is_refused_naming_the_field() {
        let (dir, _) = two_keys();
        let policy = dir.path().join("trust.yaml");
        for (entry, why) in [
            (
                "{path: vendor.pub, notAfter: 'next year'}",
                r#"keys: notAfter "next year" of vendor.pub is not an RFC 3339 date"#,
            ),
            ("{path: vendor.pub, notBefore: '2027-02-30T00:00:00Z'}", "keys: notBefore \"2027-02-30T00:00:00Z\""),
            (
                "{path: vendor.pub, notBefore: '2027-01-01T00:00:00Z', notAfter: '2026-01-01T00:00:00Z'}",
                "keys: the window of vendor.pub ends before it begins",
            ),
            ("{path: vendor.pub, notafter: '2027-01-01T00:00:00Z'}", "unknown field `notafter`"),
            ("{notAfter: '2027-01-01T00:00:00Z'}", "missing field `path`"),
            ("[vendor.pub]", "expected a key file, or { path: FILE, notBefore: DATE, notAfter: DATE }"),
        ] {
            std::fs::write(&policy, format!("keys:\n  - {entry}\n")).unwrap();
            let e = load(&policy).unwrap_err();
            assert!(matches!(&e, TrustError::KeyFormat { path, .. } if *path == policy), "{entry}: {e:?}");
            assert!(e.to_string().contains(why), "{entry}: {e}");
        }
    }

    /// For seeded images and source images at build time, a key outside its window now is
    /// left out of the signers; when no one else is trusted, the policy is refused naming it.
    #[test]
    fn an_image_policy_leaves_out_a_key_outside_its_window() {
        let (dir, vendor) = two_keys();
        let policy = dir.path().join("trust.yaml");
        let expired = "{path: vendor.pub, notAfter: '2001-01-01T00:00:00Z'}";
        std::fs::write(&policy, format!("keys: [other.pub, {expired}]\n")).unwrap();
        let (signers, _) = load_image_policy(&policy).unwrap();
        assert_eq!(signers.keys.len(), 1);
        assert!(!signers.keys.contains(&vendor.public_key()));
        std::fs::write(&policy, format!("keys: [{expired}]\n")).unwrap();
        let e = load_signers(&policy).unwrap_err();
        assert!(matches!(&e, TrustError::KeyOutsideValidity { bound: "notAfter", .. }), "{e:?}");
        assert!(e.to_string().contains("2001-01-01T00:00:00Z"), "{e}");
    }

    /// A state written before records carried their signers and SHA-256 still reads (one
    /// that kept a single key fingerprint as `signer` reads it as that key, and keeps it when
    /// another bundle is recorded), and a bundle recorded over it gets the vendor's signer
    /// then each countersigner.
    #[test]
    fn a_state_without_signers_reads_and_new_records_carry_them() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("installed.json");
        std::fs::write(
            &state,
            r#"{"bundles": {"demo": {"version": "0.1.0", "bomBlake3": "old"}, "legacy": "1.0.0",
                "keyed": {"version": "1.0.0", "bomBlake3": "b3", "signer": "SHA256:old", "bomSha256": "sha256:00"}}}"#,
        )
        .unwrap();
        let constraints = with_state(&state);
        let customer =
            AcceptedSigner::Identity { subject: "ops@customer.example".into(), issuer: "https://idp".into() };
        let countersigners = [customer.clone()];
        let cosigned = InstallAudit { countersigners: &countersigners, ..audit() };
        constraints.record_installed(&bom("demo", "0.2.0"), "new", cosigned).unwrap();
        let installed = read_state(&state).unwrap();
        assert!(
            matches!(&installed.bundles["demo"], InstalledBundle::Recorded { signers, bom_sha256: Some(d), .. }
                if *signers == [SIGNER.clone(), customer.clone()] && *d == BOM_SHA256.to_string()),
            "{installed:?}"
        );
        let old_key = [AcceptedSigner::Key { fingerprint: "SHA256:old".into() }];
        assert!(
            matches!(&installed.bundles["keyed"], InstalledBundle::Recorded { signers, .. } if *signers == old_key),
            "{installed:?}"
        );
        assert!(
            matches!(&installed.bundles["legacy"], InstalledBundle::VersionOnly(v) if v == "1.0.0"),
            "{installed:?}"
        );
    }

    /// A record with both the `signer` of earlier versions and `signers` reads, `signers`
    /// winning; one that does not read is refused naming what is wrong in it, not as "did not
    /// match any variant".
    #[test]
    fn a_state_record_with_signer_and_signers_reads_signers_and_a_bad_one_says_why() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("installed.json");
        std::fs::write(
            &state,
            r#"{"bundles": {"demo": {"version": "1.0.0", "bomBlake3": "b3", "signer": "SHA256:old",
                "signers": [{"kind": "key", "fingerprint": "SHA256:new"}]}}}"#,
        )
        .unwrap();
        let new = [AcceptedSigner::Key { fingerprint: "SHA256:new".into() }];
        let installed = read_state(&state).unwrap();
        assert!(
            matches!(&installed.bundles["demo"], InstalledBundle::Recorded { signers, .. } if *signers == new),
            "{installed:?}"
        );
        for (record, said) in [
            (r#"{"version": "1.0.0", "bomBlake3": "b3", "signers": [{"kind": "tpm"}]}"#, "unknown variant `tpm`"),
            (r#"{"version": "1.0.0"}"#, "missing field `bomBlake3`"),
            ("7", "expected a version, or { version, bomBlake3, signers, bomSha256 }"),
        ] {
            std::fs::write(&state, format!(r#"{{"bundles": {{"demo": {record}}}}}"#)).unwrap();
            let e = read_state(&state).unwrap_err().to_string();
            assert!(e.contains(said) && !e.contains("did not match any variant"), "{record}: {e}");
        }
    }

    #[test]
    fn the_state_lock_never_follows_a_symlink_planted_at_its_name() {
        let dir = tempfile::tempdir().unwrap();
        let state = dir.path().join("installed.json");
        let victim = dir.path().join("victim");
        std::os::unix::fs::symlink(&victim, dir.path().join("installed.json.lock")).unwrap();
        assert!(lock_state(&state).is_err(), "a lock taken through a planted link");
        assert!(!victim.exists(), "the lock created a file where the link points");
    }
}
