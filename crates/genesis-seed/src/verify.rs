//! The four steps a seed passes before a destination tag names the image and its seed
//! manifest is written (seed 004's bundle pipeline, for an image): (1) signature, (2) digest,
//! (3) fingerprint, (4) policy. What can be judged before anything is written is judged on the
//! pinned source (`admit`: its signature, and the policy), so that a refused image never
//! reaches the destination. The copy, untagged, is then read back from the destination by its
//! digest (`verify`): nothing that was sent is trusted. Only then are the tags put, and the
//! image's tag read back (`check_tagged`). Any step that does not pass fails the seed
//! ([`SeedError::Verification`]).

use genesis_registry::{Manifest, Registry, RegistryError};
use genesis_trust::cosign_image::Signers;
use genesis_trust::policy_file::{Constraints, Release, ReleaseKind, lenient_version};
use genesis_types::{Classify as _, Digest, ErrorClass};

use crate::{Result, SeedError};

/// Largest `<tag>-lock` document read.
pub const MAX_LOCK: u64 = 64 << 10;
/// The annotation in which an image's manifest (or index) states its version. Unlike the
/// tag, it is covered by the signature, so the policy reads it against the tag.
pub const VERSION_ANNOTATION: &str = "org.opencontainers.image.version";

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

/// A registry error met during `step` (`at` says where, as a prefix of the detail): a
/// connection or registry that failed is that failure (nothing was judged); anything else
/// (missing, malformed or untrusted content) fails the step, closed.
fn refused_at(step: &'static str, at: &str, e: RegistryError) -> SeedError {
    if e.class() == ErrorClass::Network { SeedError::from(e) } else { failed(step, format!("{at}{e}")) }
}

/// What the destination is judged by, taken from [`crate::Trust::Verify`].
pub(crate) struct Judge<'a> {
    pub signers: &'a Signers,
    pub constraints: &'a Constraints,
    /// The constraints come from a policy file: the tag is a version to judge. A bare key
    /// has no version rule.
    pub policy: bool,
}

/// What the source passed before anything was copied: who signed it, and the policy's step
/// with the release it admits.
pub(crate) struct Admitted {
    source_signer: String,
    policy: Step,
    release: Option<semver::Version>,
}

/// Judges the pinned source before anything is written: (1) a cosign signature on its
/// digest at the source by one of the signers, and (4) the policy, the destination repository
/// as the name and the destination tag as the version. An image refused here is never
/// copied, and the destination stays as it was.
pub(crate) async fn admit(
    judge: &Judge<'_>,
    source: &Registry,
    source_repo: &str,
    pinned: &Manifest,
    dest_repo: &str,
    dest_tag: Option<&str>,
) -> Result<Admitted> {
    let source_signer =
        genesis_registry::resolver::cosign_signature(source, source_repo, &pinned.digest, judge.signers)
            .await
            .map_err(|e| refused_at("signature", "at the source, before copying: ", e))?;
    let (policy, release) = judge_policy(judge, dest_repo, dest_tag, &pinned.bytes)?;
    Ok(Admitted { source_signer, policy, release })
}

/// Step 4 on the signed manifest `manifest`: with a policy, the tag read as a version (and
/// as the version the signed manifest states, when it states one) and judged by the
/// policy's names, versions and anti-rollback; with a bare key, no rule.
fn judge_policy(
    judge: &Judge<'_>,
    repo: &str,
    tag: Option<&str>,
    manifest: &[u8],
) -> Result<(Step, Option<semver::Version>)> {
    if !judge.policy {
        let detail = "no policy: a public key alone has no name, version or anti-rollback rule".to_owned();
        return Ok((Step { step: "policy", detail }, None));
    }
    let tag = tag.ok_or_else(|| {
        failed("policy", "a policy judges the tag as the version, and the destination is named by digest")
    })?;
    let version = lenient_version(tag).map_err(|why| failed("policy", why))?;
    let origin = match stated_version(manifest).map_err(|why| failed("policy", why))? {
        Some(stated) => {
            let signed = lenient_version(&stated).map_err(|why| {
                failed("policy", format!("the signed {VERSION_ANNOTATION} annotation is not a version: {why}"))
            })?;
            if signed != version {
                return Err(failed(
                    "policy",
                    format!(
                        "{repo}: tag {tag} reads as {version}, but the signed manifest's {VERSION_ANNOTATION} \
                         annotation says {stated:?} ({signed}): the tag does not name the version that was signed"
                    ),
                ));
            }
            format!("the version of tag {tag}, as the signed {VERSION_ANNOTATION} annotation states")
        }
        None => format!("version read from tag {tag} (unsigned: the manifest has no {VERSION_ANNOTATION} annotation)"),
    };
    let fingerprint = fingerprint(manifest);
    let release = Release { kind: ReleaseKind::Image, name: repo, version: &version, fingerprint: &fingerprint };
    let decisions = judge.constraints.check_release(&release).map_err(|e| policy_refusal(e, repo))?;
    let rules = if decisions.is_empty() {
        "the policy has no name, version or anti-rollback rule".to_owned()
    } else {
        decisions.join("; ")
    };
    Ok((Step { step: "policy", detail: format!("{repo} {version} ({origin}): {rules}") }, Some(version)))
}

/// The version a manifest or index states in its [`VERSION_ANNOTATION`], if it states one.
fn stated_version(manifest: &[u8]) -> std::result::Result<Option<String>, String> {
    let value: serde_json::Value =
        serde_json::from_slice(manifest).map_err(|e| format!("the signed manifest is not JSON ({e})"))?;
    match value.get("annotations").and_then(|a| a.get(VERSION_ANNOTATION)) {
        None => Ok(None),
        Some(serde_json::Value::String(stated)) => Ok(Some(stated.clone())),
        Some(other) => Err(format!("the signed manifest's {VERSION_ANNOTATION} annotation is {other}, not a string")),
    }
}

/// A trust error of step 4: a refusal by the policy fails the step; an unreadable state file
/// is what it is.
fn policy_refusal(e: genesis_trust::TrustError, repo: &str) -> SeedError {
    if e.class() == ErrorClass::Verdict { failed("policy", format!("{repo}: {e}")) } else { SeedError::from(e) }
}

/// Where step 3 finds the lock that will sit beside the destination tag.
#[derive(Debug, Clone, Copy)]
pub(crate) enum LockAt<'a> {
    /// The destination is named by digest: no tag, so no `<tag>-lock`.
    NoTag,
    /// The `<tag>-lock` this seed copied (`tag`), read by its digest, its tag being put only
    /// once the steps passed. It must read: a lock copied is never taken for absent.
    Copied { tag: &'a str, digest: &'a Digest },
    /// No lock was copied: the destination's own `<tag>-lock` tag, if it has one.
    Tag(&'a str),
}

/// The destination as read back, by digest, before any tag names it.
pub(crate) struct Destination<'a> {
    pub registry: &'a Registry,
    pub repository: &'a str,
    /// The top manifest, as the destination serves it by the source's digest.
    pub served: &'a Manifest,
    /// Where its lock is read.
    pub lock: LockAt<'a>,
}

/// A passed verification: its steps, and the release to record once the seed is kept.
pub(crate) struct Verified {
    pub steps: Vec<Step>,
    /// [`fingerprint`] of the destination's manifest.
    pub fingerprint: String,
    release: Option<semver::Version>,
}

impl Verified {
    /// Records the release (an image seeded to `repository`) in the policy's anti-rollback
    /// state, when it has one; checked again under the state's lock, so a later version
    /// recorded meanwhile fails step 4.
    pub(crate) fn record(&self, judge: &Judge<'_>, repository: &str) -> Result<()> {
        let Some(version) = &self.release else { return Ok(()) };
        let release = Release { kind: ReleaseKind::Image, name: repository, version, fingerprint: &self.fingerprint };
        judge.constraints.record_release(&release).map_err(|e| policy_refusal(e, repository))
    }
}

/// Runs steps 1 to 3 against `destination`, whose manifest must be the source's
/// (`source_digest`, `source_bytes`), and adds the policy step `admitted` passed.
pub(crate) async fn verify(
    judge: &Judge<'_>,
    destination: &Destination<'_>,
    admitted: Admitted,
    source_digest: &Digest,
    source_bytes: &[u8],
) -> Result<Verified> {
    let (registry, repo, served) = (destination.registry, destination.repository, destination.served);
    let mut steps = Vec::with_capacity(4);

    // (1) signature: verified on the source before copying, and again over the digest the
    // destination serves.
    let signer = genesis_registry::resolver::cosign_signature(registry, repo, &served.digest, judge.signers)
        .await
        .map_err(|e| refused_at("signature", "at the destination: ", e))?;
    steps.push(Step {
        step: "signature",
        detail: format!(
            "cosign signature on {} verifies with {} at the source (before copying) and with {signer} at the \
             destination",
            served.digest, admitted.source_signer
        ),
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

    // (3) fingerprint: the BLAKE3 of those bytes, and the one the lock beside the tag pins.
    let fingerprint = fingerprint(&served.bytes);
    let detail = match destination.lock {
        LockAt::NoTag => {
            format!("blake3:{fingerprint} recorded; a digest destination has no <tag>-lock sidecar to compare")
        }
        LockAt::Copied { tag, digest } => {
            let named = format!("{repo}:{tag} (copied, read back as {repo}@{digest})");
            let lock = read_lock(registry, repo, &digest.to_string(), &named)
                .await?
                .ok_or_else(|| failed("fingerprint", format!("{named}: the destination does not serve it")))?;
            compare_lock(&lock, &named, &fingerprint, &served.digest)?
        }
        LockAt::Tag(tag) => {
            let named = format!("{repo}:{tag}");
            match read_lock(registry, repo, tag, &named).await? {
                None => format!("blake3:{fingerprint} recorded; no {named} sidecar at the destination"),
                Some(lock) => compare_lock(&lock, &named, &fingerprint, &served.digest)?,
            }
        }
    };
    steps.push(Step { step: "fingerprint", detail });

    // (4) policy: judged on the source before copying; the destination serves those bytes.
    steps.push(admitted.policy);
    Ok(Verified { steps, fingerprint, release: admitted.release })
}

/// The destination tag, read back once put, must serve the digest that passed the steps: a
/// registry that keeps something else there (or a writer that put something else since)
/// fails the seed.
pub(crate) fn check_tagged(repo: &str, tag: &str, tagged: &Digest, verified: &Digest) -> Result<()> {
    if tagged != verified {
        return Err(failed(
            "digest",
            format!("once tagged, {repo}:{tag} serves {tagged}, not the verified {verified}"),
        ));
    }
    Ok(())
}

/// Step 3's comparison of what `lock` (`named`) pins with the destination manifest.
fn compare_lock(lock: &Lock, named: &str, fingerprint: &str, digest: &Digest) -> Result<String> {
    if lock.blake3 != fingerprint {
        return Err(failed(
            "fingerprint",
            format!("{named} pins blake3:{}, the destination manifest is blake3:{fingerprint}", lock.blake3),
        ));
    }
    if let Some(pinned) = lock.digest.as_ref().filter(|d| *d != digest) {
        return Err(failed("fingerprint", format!("{named} pins {pinned}, the destination manifest is {digest}")));
    }
    Ok(format!("blake3:{fingerprint} equals the one {named} pins"))
}

/// What a `<tag>-lock` sidecar pins.
#[derive(Debug, PartialEq, Eq)]
pub(crate) struct Lock {
    /// BLAKE3 of the top manifest, lowercase hex.
    pub blake3: String,
    /// The top manifest's digest, when the lock names one.
    pub digest: Option<Digest>,
}

/// Reads the lock at `reference` (its tag, or its digest) in the destination repository,
/// `named` so in errors: `None` when the destination has no such manifest. One that is there
/// but cannot be read fails step 3: it is not taken for absent.
async fn read_lock(registry: &Registry, repo: &str, reference: &str, named: &str) -> Result<Option<Lock>> {
    let unreadable = |why: String| failed("fingerprint", format!("{named}: {why}"));
    let manifest = match registry.get_manifest(repo, reference).await {
        Ok(m) => m,
        Err(RegistryError::NotFound(_)) => return Ok(None),
        Err(e) => return Err(refused_at("fingerprint", "", e)),
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
        .map_err(|e| refused_at("fingerprint", "", e))?;
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

    /// The tag is unsigned, the version annotation signed: under a policy they must agree,
    /// and without the annotation the step says where the version came from.
    #[test]
    fn a_policy_reads_the_tag_against_the_signed_version_annotation() {
        let (signers, constraints) = (Signers::default(), Constraints::default());
        let judge = Judge { signers: &signers, constraints: &constraints, policy: true };
        let annotated = br#"{"schemaVersion": 2, "annotations": {"org.opencontainers.image.version": "1.0.0"}}"#;
        let refused = judge_policy(&judge, "demo/app", Some("v2.0.0"), annotated).unwrap_err().to_string();
        for named in ["at step policy", "tag v2.0.0 reads as 2.0.0", "says \"1.0.0\""] {
            assert!(refused.contains(named), "{named}: {refused}");
        }
        let (step, version) = judge_policy(&judge, "demo/app", Some("v1"), annotated).unwrap();
        assert_eq!(version, Some(semver::Version::new(1, 0, 0)));
        assert!(step.detail.contains("as the signed org.opencontainers.image.version annotation states"), "{step:?}");
        let (step, _) = judge_policy(&judge, "demo/app", Some("v1"), br#"{"schemaVersion": 2}"#).unwrap();
        assert!(step.detail.contains("read from tag v1 (unsigned"), "{step:?}");
        let bare = Judge { policy: false, ..judge };
        assert_eq!(judge_policy(&bare, "demo/app", Some("latest"), annotated).unwrap().1, None);
    }

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
