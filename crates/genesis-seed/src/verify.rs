//! The four steps a seeded destination passes before its seed manifest is written (seed
//! 004's bundle pipeline, for an image): (1) signature, (2) digest, (3) fingerprint, (4)
//! policy. Everything is read back from the destination; nothing that was sent is trusted.
//! Any step that does not pass fails the seed ([`SeedError::Verification`]).

use genesis_registry::{Manifest, Registry, RegistryError};
use genesis_trust::cosign_image::Signers;
use genesis_trust::policy_file::{Constraints, Release, lenient_version};
use genesis_types::{Classify as _, Digest, ErrorClass};

use crate::{Result, SeedError};

/// Largest `<tag>-lock` document read.
pub const MAX_LOCK: u64 = 64 << 10;

/// One step of the verification, as it passed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Step {
    /// `signature`, `digest`, `fingerprint` or `policy`.
    pub step: &'static str,
    /// What was checked, against what.
    pub detail: String,
}

/// The BLAKE3 of a manifest's bytes, lowercase hex: its fingerprint (step 3), and what a
/// `<tag>-lock` sidecar pins.
pub fn fingerprint(manifest: &[u8]) -> String {
    blake3::hash(manifest).to_hex().to_string()
}

fn failed(step: &'static str, detail: impl Into<String>) -> SeedError {
    SeedError::Verification { step, detail: detail.into() }
}

/// A registry error met during `step`: a connection or registry that failed is that failure
/// (nothing was judged); anything else (missing, malformed or untrusted content) fails the
/// step, closed.
fn refused_at(step: &'static str, e: RegistryError) -> SeedError {
    if e.class() == ErrorClass::Network { SeedError::from(e) } else { failed(step, e.to_string()) }
}

/// What the destination is judged by, taken from [`crate::Trust::Verify`].
pub(crate) struct Judge<'a> {
    pub signers: &'a Signers,
    pub constraints: &'a Constraints,
    /// The constraints come from a policy file: the tag is a version to judge. A bare key
    /// has no version rule.
    pub policy: bool,
}

/// The destination as read back.
pub(crate) struct Destination<'a> {
    pub registry: &'a Registry,
    pub repository: &'a str,
    /// Its tag; `None` when the destination is named by digest.
    pub tag: Option<&'a str>,
    /// The top manifest, as the destination serves it at the tag (or digest).
    pub served: &'a Manifest,
    /// [`fingerprint`] of `served`.
    pub fingerprint: &'a str,
}

/// A passed verification: its steps, and the release to record once the seed is kept.
pub(crate) struct Verified {
    pub steps: Vec<Step>,
    release: Option<semver::Version>,
}

impl Verified {
    /// Records the release in the policy's anti-rollback state, when it has one; checked
    /// again under the state's lock, so a later version recorded meanwhile fails step 4.
    pub(crate) fn record(&self, judge: &Judge<'_>, destination: &Destination<'_>) -> Result<()> {
        let Some(version) = &self.release else { return Ok(()) };
        let release = Release { name: destination.repository, version, fingerprint: destination.fingerprint };
        judge.constraints.record_release(&release).map_err(|e| policy_refusal(e, destination))
    }
}

/// A trust error of step 4: a refusal by the policy fails the step; an unreadable state file
/// is what it is.
fn policy_refusal(e: genesis_trust::TrustError, destination: &Destination<'_>) -> SeedError {
    if e.class() == ErrorClass::Verdict {
        failed("policy", format!("{}: {e}", destination.repository))
    } else {
        SeedError::from(e)
    }
}

/// Runs the four steps against `destination`, whose manifest must be the source's
/// (`source_digest`, `source_bytes`).
pub(crate) async fn verify(
    judge: &Judge<'_>,
    destination: &Destination<'_>,
    source_digest: &Digest,
    source_bytes: &[u8],
) -> Result<Verified> {
    let (registry, repo, served) = (destination.registry, destination.repository, destination.served);
    let mut steps = Vec::with_capacity(4);

    // (1) signature: a cosign signature over the digest the destination serves.
    let signer = genesis_registry::resolver::cosign_signature(registry, repo, &served.digest, judge.signers)
        .await
        .map_err(|e| refused_at("signature", e))?;
    steps.push(Step {
        step: "signature",
        detail: format!("cosign signature on {} verifies with {signer}", served.digest),
    });

    // (2) digest: the destination serves the source's manifest, byte for byte.
    if served.digest != *source_digest || &served.bytes[..] != source_bytes {
        return Err(failed(
            "digest",
            format!(
                "the destination serves {} ({} bytes), the source {source_digest} ({} bytes)",
                served.digest,
                served.bytes.len(),
                source_bytes.len()
            ),
        ));
    }
    steps.push(Step {
        step: "digest",
        detail: format!(
            "{} at the destination, byte for byte the source's ({} bytes)",
            served.digest,
            served.bytes.len()
        ),
    });

    // (3) fingerprint: the BLAKE3 of those bytes, and the one a `<tag>-lock` pins.
    let fingerprint = destination.fingerprint;
    let detail = match destination.tag {
        None => format!("blake3:{fingerprint} recorded; a digest destination has no <tag>-lock sidecar to compare"),
        Some(tag) => {
            let lock_tag = format!("{tag}-lock");
            match read_lock(registry, repo, &lock_tag).await? {
                None => format!("blake3:{fingerprint} recorded; no {repo}:{lock_tag} sidecar at the destination"),
                Some(lock) => {
                    if lock.blake3 != fingerprint {
                        return Err(failed(
                            "fingerprint",
                            format!(
                                "{repo}:{lock_tag} pins blake3:{}, the destination manifest is blake3:{fingerprint}",
                                lock.blake3
                            ),
                        ));
                    }
                    if let Some(pinned) = lock.digest.filter(|d| *d != served.digest) {
                        return Err(failed(
                            "fingerprint",
                            format!("{repo}:{lock_tag} pins {pinned}, the destination manifest is {}", served.digest),
                        ));
                    }
                    format!("blake3:{fingerprint} equals the one {repo}:{lock_tag} pins")
                }
            }
        }
    };
    steps.push(Step { step: "fingerprint", detail });

    // (4) policy: the destination repository as the name, the tag as the version.
    let (detail, release) = if !judge.policy {
        ("no policy: a public key alone has no name, version or anti-rollback rule".to_owned(), None)
    } else {
        let tag = destination.tag.ok_or_else(|| {
            failed("policy", "a policy judges the tag as the version, and the destination is named by digest")
        })?;
        let version = lenient_version(tag).map_err(|why| failed("policy", why))?;
        let release = Release { name: repo, version: &version, fingerprint };
        let decisions = judge.constraints.check_release(&release).map_err(|e| policy_refusal(e, destination))?;
        let detail = if decisions.is_empty() {
            format!("{repo} {version}: the policy has no name, version or anti-rollback rule")
        } else {
            format!("{repo} {version}: {}", decisions.join("; "))
        };
        (detail, Some(version))
    };
    steps.push(Step { step: "policy", detail });
    Ok(Verified { steps, release })
}

/// What a `<tag>-lock` sidecar pins.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Lock {
    /// BLAKE3 of the top manifest, lowercase hex.
    pub blake3: String,
    /// The top manifest's digest, when the lock names one.
    pub digest: Option<Digest>,
}

/// Reads the `<tag>-lock` sidecar at the destination: `None` when there is none. One that is
/// there but cannot be read fails step 3: it is not taken for absent.
async fn read_lock(registry: &Registry, repo: &str, lock_tag: &str) -> Result<Option<Lock>> {
    let unreadable = |why: String| failed("fingerprint", format!("{repo}:{lock_tag}: {why}"));
    let manifest = match registry.get_manifest(repo, lock_tag).await {
        Ok(m) => m,
        Err(RegistryError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(refused_at("fingerprint", e)),
    };
    let m: genesis_types::ImageManifest =
        serde_json::from_slice(&manifest.bytes).map_err(|e| unreadable(format!("not an OCI image manifest ({e})")))?;
    let layer = m.layers.first().ok_or_else(|| unreadable("no layer".into()))?;
    if layer.size > MAX_LOCK {
        return Err(unreadable(format!("its layer is {} bytes, a lock is at most {MAX_LOCK}", layer.size)));
    }
    let mut document = Vec::new();
    registry
        .get_blob(repo, &layer.digest, layer.size, &mut document)
        .await
        .map_err(|e| refused_at("fingerprint", e))?;
    parse_lock(&document).map(Some).map_err(unreadable)
}

/// Parses a lock document: a JSON object with `"blake3": "<64 hex>"` (a `blake3:` prefix
/// allowed) and optionally `"digest": "sha256:…"`; other fields are the lock's own business.
pub(crate) fn parse_lock(document: &[u8]) -> std::result::Result<Lock, String> {
    let value: serde_json::Value = serde_json::from_slice(document).map_err(|e| format!("not JSON ({e})"))?;
    let blake3 = value.get("blake3").and_then(serde_json::Value::as_str).ok_or("no \"blake3\" string field")?;
    let hex = blake3.strip_prefix("blake3:").unwrap_or(blake3);
    if hex.len() != 64 || !hex.bytes().all(|b| b.is_ascii_digit() || (b'a'..=b'f').contains(&b)) {
        return Err(format!("\"blake3\" is {blake3:?}, not 64 lowercase hex digits"));
    }
    let digest = match value.get("digest") {
        None | Some(serde_json::Value::Null) => None,
        Some(d) => Some(
            d.as_str()
                .ok_or("\"digest\" is not a string")?
                .parse::<Digest>()
                .map_err(|e| format!("\"digest\": {e}"))?,
        ),
    };
    Ok(Lock { blake3: hex.to_owned(), digest })
}

#[cfg(test)]
mod tests {
    use super::*;

    const B3: &str = "af1349b9f5f9a1a6a0404dea36dcc9499bcb25c9adc112b7cc9a93cae41f3262";
    const DIGEST: &str = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";

    #[test]
    fn the_fingerprint_is_the_blake3_hex_of_the_manifest_bytes() {
        assert_eq!(fingerprint(b""), B3);
    }

    #[test]
    fn a_lock_pins_a_blake3_with_or_without_its_prefix_and_optionally_a_digest() {
        let plain = format!(r#"{{"blake3": "{B3}"}}"#);
        assert_eq!(parse_lock(plain.as_bytes()), Ok(Lock { blake3: B3.into(), digest: None }));
        let full = format!(r#"{{"blake3": "blake3:{B3}", "digest": "{DIGEST}", "bundle": "demo"}}"#);
        assert_eq!(parse_lock(full.as_bytes()), Ok(Lock { blake3: B3.into(), digest: Some(DIGEST.parse().unwrap()) }));
    }

    #[test]
    fn a_lock_that_pins_nothing_readable_is_refused_with_the_reason() {
        for (document, why) in [
            ("[]".to_owned(), "no \"blake3\" string field"),
            ("{".to_owned(), "not JSON"),
            (r#"{"blake3": 7}"#.to_owned(), "no \"blake3\" string field"),
            (format!(r#"{{"blake3": "{}"}}"#, B3.to_uppercase()), "not 64 lowercase hex digits"),
            (format!(r#"{{"blake3": "{}"}}"#, &B3[1..]), "not 64 lowercase hex digits"),
            (format!(r#"{{"blake3": "{B3}", "digest": "sha256:12"}}"#), "\"digest\": invalid digest"),
            (format!(r#"{{"blake3": "{B3}", "digest": 12}}"#), "\"digest\" is not a string"),
        ] {
            let refused = parse_lock(document.as_bytes()).unwrap_err();
            assert!(refused.contains(why), "{document}: {refused}");
        }
    }
}
