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
//! require: [sbom, provenance]        # optional; attestations and signers, with allOf/anyOf/threshold
//! ```

use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use genesis_bundle::Bom;

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
        let version = || {
            semver::Version::parse(&bom.version)
                .map_err(|e| violation("versions", format!("{:?} is not a semantic version ({e})", bom.version)))
        };
        if let Some(req) = &self.versions {
            if !req.matches(&version()?) {
                return Err(violation("versions", format!("{} is outside {req}", bom.version)));
            }
            decisions.push(format!("version {} within {req}", bom.version));
        }
        if let Some(state) = &self.state {
            let installed = read_state(state)?;
            if let Some(entry) = installed.bundles.get(&bom.name) {
                let previous = entry.version();
                if let InstalledBundle::Recorded { version, bom_blake3: recorded } = entry
                    && *version == bom.version
                    && recorded != bom_blake3
                {
                    return Err(violation(
                        "antiRollback",
                        format!(
                            "{} {} is installed with BOM blake3:{recorded}, this one is blake3:{bom_blake3}: same version, different content ({})",
                            bom.name,
                            bom.version,
                            state.display()
                        ),
                    ));
                }
                let previous_version = semver::Version::parse(previous).map_err(|e| {
                    violation(
                        "antiRollback",
                        format!("{}: installed version {previous:?} unreadable ({e})", state.display()),
                    )
                })?;
                if version()? < previous_version {
                    return Err(violation(
                        "antiRollback",
                        format!(
                            "{} {} is older than the installed {previous} ({})",
                            bom.name,
                            bom.version,
                            state.display()
                        ),
                    ));
                }
                decisions.push(format!("not a rollback: installed {previous}, this {}", bom.version));
            } else {
                decisions.push(format!("no earlier install of {} recorded", bom.name));
            }
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

    /// Records `bom` as installed in the anti-rollback state (atomically), when the policy
    /// has one. Call after a successful extract or load.
    pub fn record_installed(&self, bom: &Bom, bom_blake3: &str) -> Result<()> {
        let Some(state) = &self.state else { return Ok(()) };
        let mut installed = read_state(state)?;
        let entry = InstalledBundle::Recorded { version: bom.version.clone(), bom_blake3: bom_blake3.to_owned() };
        installed.bundles.insert(bom.name.clone(), entry);
        let io = |source| TrustError::KeyIo { path: state.clone(), source };
        let tmp =
            genesis_bundle::scratch::scratch_path(state, "partial").unwrap_or_else(|| state.with_extension("partial"));
        std::fs::write(&tmp, serde_json::to_vec_pretty(&installed).expect("json")).map_err(io)?;
        std::fs::rename(&tmp, state).map_err(io)
    }
}

fn read_state(state: &Path) -> Result<Installed> {
    match std::fs::read(state) {
        Ok(bytes) => serde_json::from_slice(&bytes)
            .map_err(|e| policy_error(state, format!("anti-rollback state unreadable: {e}"))),
        Err(e) if e.kind() == std::io::ErrorKind::NotFound => Ok(Installed::default()),
        Err(source) => Err(TrustError::KeyIo { path: state.to_owned(), source }),
    }
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
}
