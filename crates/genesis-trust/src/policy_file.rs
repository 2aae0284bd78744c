//! The trust policy file an operator owns (`--policy trust.yaml`): the keys it trusts, the
//! bundle names it accepts, the versions it accepts, and anti-rollback against what was
//! installed here before. Each decision is reported with its evidence.
//!
//! ```yaml
//! keys: [vendor.pub]                 # bundle BOMs must be signed by one; relative to this file
//! identities:                        # keyless signers (source images at build time)
//!   - { issuer: "https://token.actions.githubusercontent.com",
//!       subjectRegExp: "https://github.com/acme/.*" }   # or subject: exact SAN
//! trustedRoot: trusted_root.json     # required with identities; pinned, never fetched
//! names: ["genesis-*"]               # optional; * matches any run of characters
//! versions: ">=3.0.0, <4.0.0"        # optional; semver requirement
//! antiRollback: { state: installed.json }   # optional; refuse versions below the installed one,
//!                                    # and a re-release of the installed version with another BOM
//!                                    # (writers take turns through installed.json.lock beside it)
//! require: [sbom, provenance]        # optional; attestations and signers, with allOf/anyOf/threshold
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use genesis_bundle::{Bom, BundleError};

use crate::cosign_image::Signers;
use crate::requirement::{Evidence, Requirement};
use crate::sigstore::{CertificateIdentity, SubjectMatcher, TrustedRoot};
use crate::{PublicKey, Result, TrustError, TrustPolicy};

#[derive(Debug, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
struct RawPolicy {
    #[serde(default)]
    keys: Vec<PathBuf>,
    #[serde(default)]
    identities: Vec<RawIdentity>,
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
}

/// What the state file records: the last version installed of each bundle name, with the
/// BLAKE3 fingerprint of its BOM (seed 004's step 3).
#[derive(Debug, Default, serde::Serialize, serde::Deserialize)]
struct Installed {
    bundles: BTreeMap<String, InstalledBundle>,
}

#[derive(Debug, serde::Serialize, serde::Deserialize)]
#[serde(untagged)]
enum InstalledBundle {
    Recorded {
        version: String,
        #[serde(rename = "bomBlake3")]
        bom_blake3: String,
    },
    /// The first state format: the version alone.
    VersionOnly(String),
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

/// Reads a policy file for bundle verification: it must trust at least one key.
pub fn load(path: &Path) -> Result<TrustPolicy> {
    let (signers, constraints) = read(path)?;
    Ok(TrustPolicy::from_keys(signers.keys)?.with_constraints(constraints))
}

/// Reads the signers a policy file trusts (keys and keyless identities), for checking source
/// image signatures at build time.
pub fn load_signers(path: &Path) -> Result<Signers> {
    let (signers, _) = read(path)?;
    if signers.is_empty() {
        return Err(policy_error(path, "trusts no key and no identity".into()));
    }
    Ok(signers)
}

fn read(path: &Path) -> Result<(Signers, Constraints)> {
    let text = std::fs::read_to_string(path).map_err(|source| TrustError::KeyIo { path: path.to_owned(), source })?;
    let raw: RawPolicy =
        serde_yaml_ng::from_str(&text).map_err(|e| policy_error(path, format!("not a trust policy: {e}")))?;
    if let Some(require) = &raw.require {
        require.validate().map_err(|e| policy_error(path, format!("require: {e}")))?;
    }
    let base = path.parent().unwrap_or(Path::new("."));
    let resolve = |p: &Path| if p.is_absolute() { p.to_owned() } else { base.join(p) };
    let keys = raw.keys.iter().map(|k| PublicKey::from_pem_file(&resolve(k))).collect::<Result<Vec<_>>>()?;
    let identities = raw
        .identities
        .into_iter()
        .map(|i| {
            let subject = match (i.subject, i.subject_reg_exp) {
                (Some(exact), None) => SubjectMatcher::Exact(exact),
                (None, Some(pattern)) => SubjectMatcher::regex(&pattern)?,
                _ => {
                    return Err(policy_error(
                        path,
                        "each identity needs exactly one of subject or subjectRegExp".into(),
                    ));
                }
            };
            Ok(CertificateIdentity { subject, issuer: i.issuer })
        })
        .collect::<Result<Vec<_>>>()?;
    let root = raw.trusted_root.as_deref().map(|r| TrustedRoot::from_file(&resolve(r))).transpose()?;
    if !identities.is_empty() && root.is_none() {
        return Err(policy_error(path, "identities need trustedRoot: the pinned sigstore trusted_root.json".into()));
    }
    let versions = match &raw.versions {
        Some(v) => Some(semver::VersionReq::parse(v).map_err(|e| policy_error(path, format!("versions {v:?}: {e}")))?),
        None => None,
    };
    let constraints = Constraints {
        names: raw.names,
        versions,
        state: raw.anti_rollback.map(|a| resolve(&a.state)),
        require: raw.require,
    };
    Ok((Signers { keys, identities, root }, constraints))
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
    /// Checks a verified BOM (whose BLAKE3 fingerprint is `bom_blake3`) and the evidence
    /// gathered about it against the constraints; returns the decisions taken.
    pub fn check(&self, bom: &Bom, bom_blake3: &str, evidence: &Evidence) -> Result<Vec<String>> {
        let violation = |rule: &str, detail: String| TrustError::PolicyViolation { rule: rule.to_owned(), detail };
        let mut decisions = Vec::new();
        if !self.names.is_empty() {
            if !self.names.iter().any(|p| glob(p, &bom.name)) {
                return Err(violation("names", format!("{:?} matches none of {:?}", bom.name, self.names)));
            }
            decisions.push(format!("name {} accepted by {:?}", bom.name, self.names));
        }
        if let Some(req) = &self.versions {
            if !req.matches(&bom_version(bom)?) {
                return Err(violation("versions", format!("{} is outside {req}", bom.version)));
            }
            decisions.push(format!("version {} within {req}", bom.version));
        }
        if let Some(state) = &self.state {
            decisions.push(not_a_rollback(&read_state(state)?, bom, bom_blake3, state)?);
        }
        if let Some(require) = &self.require {
            let (ok, why) = require.evaluate(evidence);
            if !ok {
                return Err(violation("require", why));
            }
            decisions.push(format!("requirements met: {why}"));
        }
        Ok(decisions)
    }

    /// Records `bom` as installed in the anti-rollback state, when the policy has one. Call
    /// after a successful extract or load. Under a lock, the state is read again, the bundle
    /// checked against it again (another run may have recorded a later version since
    /// [`Constraints::check`]), and the file replaced atomically: runs finishing together
    /// each add their record, and a crash leaves the old state or the new, never an empty one.
    pub fn record_installed(&self, bom: &Bom, bom_blake3: &str) -> Result<()> {
        let Some(state) = &self.state else { return Ok(()) };
        let _lock = lock_state(state)?;
        let mut installed = read_state(state)?;
        not_a_rollback(&installed, bom, bom_blake3, state)?;
        let entry = InstalledBundle::Recorded { version: bom.version.clone(), bom_blake3: bom_blake3.to_owned() };
        installed.bundles.insert(bom.name.clone(), entry);
        genesis_bundle::scratch::remove_abandoned(state, "partial");
        let bytes = serde_json::to_vec_pretty(&installed).expect("the state is JSON");
        genesis_bundle::scratch::atomic_write(state, &bytes)
            .map_err(BundleError::io("writing the anti-rollback state", state))?;
        Ok(())
    }
}

/// The BOM's version, for the versions and anti-rollback rules.
fn bom_version(bom: &Bom) -> Result<semver::Version> {
    semver::Version::parse(&bom.version).map_err(|e| TrustError::PolicyViolation {
        rule: "versions".to_owned(),
        detail: format!("{:?} is not a semantic version ({e})", bom.version),
    })
}

/// Refuses `bom` when `installed` (read from `state`) records a later version of its name,
/// or the same version with another BOM; otherwise says why it is no rollback.
fn not_a_rollback(installed: &Installed, bom: &Bom, bom_blake3: &str, state: &Path) -> Result<String> {
    let violation = |detail: String| TrustError::PolicyViolation { rule: "antiRollback".to_owned(), detail };
    let Some(entry) = installed.bundles.get(&bom.name) else {
        return Ok(format!("no earlier install of {} recorded", bom.name));
    };
    let previous = entry.version();
    if let InstalledBundle::Recorded { version, bom_blake3: recorded } = entry
        && *version == bom.version
        && recorded != bom_blake3
    {
        return Err(violation(format!(
            "{} {} is installed with BOM blake3:{recorded}, this one is blake3:{bom_blake3}: same version, different content ({})",
            bom.name,
            bom.version,
            state.display()
        )));
    }
    let previous_version = semver::Version::parse(previous)
        .map_err(|e| violation(format!("{}: installed version {previous:?} unreadable ({e})", state.display())))?;
    if bom_version(bom)? < previous_version {
        return Err(violation(format!(
            "{} {} is older than the installed {previous} ({})",
            bom.name,
            bom.version,
            state.display()
        )));
    }
    Ok(format!("not a rollback: installed {previous}, this {}", bom.version))
}

/// Takes the lock that makes reading, changing and writing the state one step, held until
/// the file returned is dropped. It is a file beside the state (`<state>.lock`), not the
/// state itself: the state is replaced by a rename, and a lock on a replaced file would
/// exclude no one. A symlink planted at the lock's name is not followed (`O_NOFOLLOW`), so
/// taking the lock never creates or opens a file elsewhere.
fn lock_state(state: &Path) -> Result<std::fs::File> {
    use std::os::unix::fs::OpenOptionsExt as _;
    let mut path = state.as_os_str().to_owned();
    path.push(".lock");
    let path = PathBuf::from(path);
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
            files: vec![],
            images: vec![],
            charts: vec![],
            manifests: vec![],
            sboms: vec![],
        }
    }

    fn with_state(state: &Path) -> Constraints {
        Constraints { state: Some(state.to_owned()), ..Constraints::default() }
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
                        constraints.record_installed(&bom(&format!("b{t}-{i}"), "1.0.0"), "b3").unwrap();
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
        constraints.record_installed(&bom("demo", "2.0.0"), "b3-new").unwrap();
        let refused = constraints.record_installed(&older, "b3-old").unwrap_err().to_string();
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
            assert!(constraints.record_installed(&bom("demo", "0.1.0"), "b3").is_err());
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
