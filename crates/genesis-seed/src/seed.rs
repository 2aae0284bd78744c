//! `seed`: one image from a source registry to a destination, digest-preserving, with what
//! makes it trustworthy (signatures, attestations, referrers, and on request its policy
//! sidecars). Judged on the source before anything is written, copied untagged, read back
//! from the destination by digest and verified fail-closed ([`crate::verify`]); only then
//! tagged, and its seed manifest and lock written.

use std::collections::{BTreeMap, HashMap};
use std::path::{Path, PathBuf};
use std::sync::{Arc, Mutex};

use genesis_bundle::ProgressCounter;
use genesis_registry::copy::{CopiedImage, CopySession, CopyStats};
use genesis_registry::{Manifest, Registry, RegistryError, RegistryOptions};
use genesis_trust::PublicKey;
use genesis_trust::cosign_image::Signers;
use genesis_trust::policy_file::{Constraints, load_image_policy};
use genesis_types::ImageReference;

use crate::manifest::{SEED_SCHEMA, SeedManifest, lock_line, write_seed};
use crate::verify::{self, Destination, Judge, LockAt, Step};
use crate::{Result, SeedError};

/// Registry clients per host, one connection pool per host for the whole run: every copy
/// and read-back of a run to one host shares its connections and its tokens.
pub struct Connections {
    options: BTreeMap<String, RegistryOptions>,
    default: RegistryOptions,
    clients: Mutex<HashMap<String, Registry>>,
}

impl Connections {
    /// Clients made with `options` for the hosts it names, and with `default` for any other.
    pub fn new(options: BTreeMap<String, RegistryOptions>, default: RegistryOptions) -> Connections {
        Connections { options, default, clients: Mutex::default() }
    }

    /// The client of `host` (`HOST[:PORT]`), made on first use.
    pub fn registry(&self, host: &str) -> Result<Registry> {
        let mut clients = self.clients.lock().expect("not poisoned");
        if let Some(client) = clients.get(host) {
            return Ok(client.clone());
        }
        let client = Registry::new(host, self.options.get(host).unwrap_or(&self.default))?;
        clients.insert(host.to_owned(), client.clone());
        Ok(client)
    }

    /// Where requests to `host` go, for the endpoint announcement.
    pub fn endpoint(&self, host: &str) -> String {
        genesis_registry::endpoint(host, self.options.get(host).unwrap_or(&self.default).plain_http)
    }
}

/// How the destination is judged. There is no default: a caller that was given neither a
/// key nor a policy has [`SeedError::NoTrust`], not a `Trust`.
#[derive(Debug, Clone)]
pub enum Trust {
    /// The four steps: a cosign signature by one of `signers`, the digest, the fingerprint,
    /// and `constraints` on the destination repository and tag.
    Verify {
        /// Who may have signed the image (boxed: a trusted root is large, and `Skip` is not).
        signers: Box<Signers>,
        /// Names, version range and anti-rollback (empty for a bare key).
        constraints: Constraints,
        /// The key or policy file, as the seed manifest records it.
        signing_key_ref: String,
        /// Whether the constraints come from a policy file, which judges the tag as a
        /// version; a bare key has no version rule, and any tag passes step 4.
        policy: bool,
    },
    /// Nothing is verified (development only). The seed manifest says `verified: false`
    /// and names no key, and every outcome carries a warning.
    Skip,
}

impl Trust {
    /// Verification with one cosign public key (SPKI PEM), and no version rule.
    pub fn key(path: &Path) -> Result<Trust> {
        let key = PublicKey::from_pem_file(path)?;
        Ok(Trust::Verify {
            signers: Box::new(Signers { keys: vec![key], ..Signers::default() }),
            constraints: Constraints::default(),
            signing_key_ref: path.display().to_string(),
            policy: false,
        })
    }

    /// This trust with the cosign public key at `path` as its only signer, for a catalog
    /// entry that names its own key: the key replaces who may sign, never what is accepted,
    /// so a policy's names, version range and anti-rollback still judge the entry.
    pub fn with_key(&self, path: &Path) -> Result<Trust> {
        let mut trust = Trust::key(path)?;
        if let (Trust::Verify { constraints, policy: true, .. }, Trust::Verify { constraints: own, policy, .. }) =
            (self, &mut trust)
        {
            *own = constraints.clone();
            *policy = true;
        }
        Ok(trust)
    }

    /// Verification with a trust policy file: its keys and identities, its names, version
    /// range and anti-rollback state.
    pub fn policy(path: &Path) -> Result<Trust> {
        let (signers, constraints) = load_image_policy(path)?;
        Ok(Trust::Verify {
            signers: Box::new(signers),
            constraints,
            signing_key_ref: path.display().to_string(),
            policy: true,
        })
    }
}

/// One seed: what to copy where, and where its files go.
#[derive(Debug, Clone)]
pub struct SeedRequest {
    /// The source (tag or digest).
    pub from: ImageReference,
    /// The destination (a tag; or a digest, which must be the source's).
    pub to: ImageReference,
    /// Also replicate the `<tag>-lock` and `<tag>-policy` sidecars (tags on both sides).
    pub copy_policy: bool,
    /// Where `seed-manifest.json` and `seed.lock` are written (created if needed).
    pub out: PathBuf,
}

/// What a seed did.
#[derive(Debug, Clone, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct SeedOutcome {
    /// The seed manifest written.
    pub manifest: SeedManifest,
    /// What the copy sent, mounted and found present (the image and its sidecars).
    pub copy: CopyStats,
    /// The steps passed, in order; empty when verification was skipped.
    pub verification: Vec<Step>,
    /// BLAKE3 hex of the destination's top manifest.
    pub fingerprint: String,
    /// What the operator should know: a sidecar not found, verification skipped.
    pub warnings: Vec<String>,
}

/// What a seed tells its caller while it runs, for a display: the library prints nothing.
pub trait SeedProgress: Send + Sync {
    /// An image starts copying.
    fn copying(&self, from: &str, to: &str);
    /// Its copy finished (the image, not yet its sidecars or verification).
    fn copied(&self, from: &str, image: &CopiedImage);
    /// Something the operator should know, e.g. a missing sidecar or a skipped verification.
    fn warning(&self, message: &str);
}

/// Seeds images (one, or a catalog's) over one set of connections and one copy session, so
/// that concurrent entries share what was already sent.
pub struct Seeder {
    connections: Connections,
    session: CopySession,
    progress: Arc<dyn SeedProgress>,
    sent: ProgressCounter,
}

/// The tag a reference names for a destination or its sidecars: its tag, else `latest`
/// unless it is pinned by digest.
pub(crate) fn tag_of(reference: &ImageReference) -> Option<&str> {
    reference.tag().or(if reference.digest().is_none() { Some("latest") } else { None })
}

/// What to fetch a reference by: its digest when pinned, else its tag.
fn fetch_reference(reference: &ImageReference) -> String {
    match reference.digest() {
        Some(digest) => digest.to_string(),
        None => tag_of(reference).unwrap_or("latest").to_owned(),
    }
}

/// The tag the policy sidecars of `reference` are named after.
fn sidecar_tag(reference: &ImageReference) -> Result<&str> {
    match (reference.tag(), reference.digest()) {
        (Some(tag), _) => Ok(tag),
        (None, None) => Ok("latest"),
        (None, Some(_)) => Err(SeedError::CopyPolicyNeedsTags { reference: reference.to_string() }),
    }
}

fn unresolvable(side: &'static str, reference: &ImageReference) -> impl FnOnce(RegistryError) -> SeedError {
    let reference = reference.to_string();
    move |source| SeedError::Unresolvable { side, reference, source: Box::new(source) }
}

/// Now, as a seed manifest records it: RFC 3339, UTC, whole seconds.
pub(crate) fn now() -> String {
    genesis_bundle::rfc3339(genesis_bundle::unix_now())
}

impl Seeder {
    /// A seeder over `connections`, with at most `concurrency` blobs in flight across every
    /// copy it runs, reporting to `progress`.
    pub fn new(connections: Connections, concurrency: usize, progress: Arc<dyn SeedProgress>) -> Seeder {
        Seeder {
            connections,
            session: CopySession::new(concurrency.max(1)),
            progress,
            sent: ProgressCounter::default(),
        }
    }

    /// The connections the seeder copies over.
    pub fn connections(&self) -> &Connections {
        &self.connections
    }

    /// Bytes the copies of this seeder have moved so far, for a progress display.
    pub fn progress_counter(&self) -> &ProgressCounter {
        &self.sent
    }

    fn warn(&self, warnings: &mut Vec<String>, message: String) {
        tracing::warn!("{message}");
        self.progress.warning(&message);
        warnings.push(message);
    }

    /// Seeds `req.from` to `req.to` (with its sidecars when `req.copy_policy`), judged as
    /// `trust` says, then writes `seed-manifest.json` and `seed.lock` into `req.out`,
    /// atomically. In this order, so that no destination tag ever names what did not pass:
    /// the source pinned by digest; its signature and the policy judged on the source
    /// (`verify::admit`); the image and its sidecars copied by digest, untagged; the
    /// destination read back by digest and verified (`verify::verify`); only then the
    /// sidecars' tags and the image's tag put, and the tag read back. Any failed step is an
    /// error, no file is written, and a tag the destination had is left as it was unless the
    /// failure came after it was put (the read-back).
    pub async fn seed(&self, req: &SeedRequest, trust: &Trust) -> Result<SeedOutcome> {
        let (from, to) = (&req.from, &req.to);
        let sidecars = if req.copy_policy { Some((sidecar_tag(from)?, sidecar_tag(to)?)) } else { None };
        let mut warnings = Vec::new();
        if matches!(trust, Trust::Skip) {
            let message = format!("verification skipped: {to} will NOT be verified (fail-open, for development only)");
            self.warn(&mut warnings, message);
        }
        let source = self.connections.registry(from.registry())?;
        let destination = self.connections.registry(to.registry())?;
        let repo = to.repository();

        // The source pinned once: a tag moved during the run cannot mix two images.
        let pinned = source
            .get_manifest(from.repository(), &fetch_reference(from))
            .await
            .map_err(unresolvable("source", from))?;
        if let Some(named) = to.digest()
            && *named != pinned.digest
        {
            return Err(SeedError::Input {
                what: to.to_string(),
                reason: format!("the destination names {named}, but the source is {}", pinned.digest),
            });
        }
        let dest_tag = tag_of(to);
        let judge = match trust {
            Trust::Verify { signers, constraints, policy, .. } => Some(Judge { signers, constraints, policy: *policy }),
            Trust::Skip => None,
        };
        let admitted = match &judge {
            Some(judge) => Some(verify::admit(judge, &source, from.repository(), &pinned, repo, dest_tag).await?),
            None => None,
        };

        // Copied by digest and untagged, and so are the sidecars: until every step passed,
        // no destination tag names them.
        let (from_text, to_text) = (from.to_string(), to.to_string());
        self.progress.copying(&from_text, &to_text);
        let image = self
            .session
            .copy_image(&source, from.repository(), &pinned.digest.to_string(), &destination, repo, None, &self.sent)
            .await?;
        self.progress.copied(&from_text, &image);
        let mut copy = image.stats.clone();
        let mut sidecar_tags: Vec<(String, Manifest)> = Vec::new();
        let mut copied_lock = None;
        if let Some((from_tag, to_tag)) = sidecars {
            for kind in ["lock", "policy"] {
                let source_tag = format!("{from_tag}-{kind}");
                let Some(sidecar) =
                    self.copy_sidecar(&source, from.repository(), &source_tag, &destination, repo).await?
                else {
                    let sidecar = format!("{}/{}:{source_tag}", from.registry(), from.repository());
                    let message = format!(
                        "sidecar {sidecar} not found at the source: not replicated (expected when the bundle ships \
                         no governance sidecars)"
                    );
                    self.warn(&mut warnings, message);
                    continue;
                };
                copy.add(&sidecar.stats);
                if kind == "lock" {
                    copied_lock = Some(sidecar.digest.clone());
                }
                sidecar_tags.push((format!("{to_tag}-{kind}"), untagged(&sidecar)));
            }
        }
        let copied_policy = !sidecar_tags.is_empty();

        // Read back by digest: what is judged is what the destination serves.
        let verified = match (&judge, admitted) {
            (Some(judge), Some(admitted)) => {
                let served = destination
                    .get_manifest(repo, &pinned.digest.to_string())
                    .await
                    .map_err(unresolvable("destination", to))?;
                let lock_tag = dest_tag.map(|tag| format!("{tag}-lock"));
                let lock = match (lock_tag.as_deref(), copied_lock.as_ref()) {
                    (None, _) => LockAt::NoTag,
                    (Some(tag), Some(digest)) => LockAt::Copied { tag, digest },
                    (Some(tag), None) => LockAt::Tag(tag),
                };
                let read_back = Destination { registry: &destination, repository: repo, served: &served, lock };
                Some(verify::verify(judge, &read_back, admitted, &pinned.digest, &pinned.bytes).await?)
            }
            _ => None,
        };

        // Only now the tags: the sidecars', then the image's, each with the exact bytes copied.
        for (tag, manifest) in &sidecar_tags {
            destination.put_manifest(repo, tag, manifest).await?;
        }
        if let Some(tag) = dest_tag {
            destination.put_manifest(repo, tag, &untagged(&image)).await?;
        }
        // Read back again: the seed manifest records what the destination serves at `to`.
        let reference = dest_tag.map_or_else(|| pinned.digest.to_string(), str::to_owned);
        let served = destination.get_manifest(repo, &reference).await.map_err(unresolvable("destination", to))?;

        let (verification, fingerprint, signing_key_ref, verified) = match (trust, &judge, verified) {
            (Trust::Verify { signing_key_ref, .. }, Some(judge), Some(passed)) => {
                verify::check_tagged(repo, &reference, &served.digest, &pinned.digest)?;
                passed.record(judge, repo)?;
                (passed.steps, passed.fingerprint, Some(signing_key_ref.clone()), true)
            }
            _ => (Vec::new(), verify::fingerprint(&served.bytes), None, false),
        };

        let manifest = SeedManifest {
            schema_version: SEED_SCHEMA.to_owned(),
            source_ref: from_text,
            source_digest: pinned.digest.to_string(),
            dest_ref: to_text,
            dest_digest: served.digest.to_string(),
            platforms: image.platforms.clone(),
            copied_policy,
            signing_key_ref,
            verified,
            seeded_at: now(),
        };
        write_seed(&req.out, &manifest, &lock_line(to.registry(), repo, &manifest.dest_digest))?;
        let (from, to, digest) = (&manifest.source_ref, &manifest.dest_ref, &manifest.dest_digest);
        tracing::info!(%from, %to, %digest, verified, "seeded");
        Ok(SeedOutcome { manifest, copy, verification, fingerprint, warnings })
    }

    /// Copies the sidecar the source tags `source_tag` by its digest, untagged; `None` when
    /// the source has no such tag. Only that tag missing means the sidecar is absent:
    /// anything missing below it (a child manifest, a blob) fails the seed, rather than pass
    /// for a sidecar that was never shipped.
    async fn copy_sidecar(
        &self,
        source: &Registry,
        source_repo: &str,
        source_tag: &str,
        destination: &Registry,
        destination_repo: &str,
    ) -> Result<Option<CopiedImage>> {
        let top = match source.get_manifest(source_repo, source_tag).await {
            Ok(top) => top,
            Err(RegistryError::NotFound(_)) => return Ok(None),
            Err(e) => return Err(e.into()),
        };
        let sidecar = self
            .session
            .copy_image(source, source_repo, &top.digest.to_string(), destination, destination_repo, None, &self.sent)
            .await?;
        Ok(Some(sidecar))
    }
}

/// A copied manifest as a destination tag is put with: its exact bytes, media type and digest.
fn untagged(image: &CopiedImage) -> Manifest {
    Manifest { bytes: image.manifest.clone(), media_type: image.media_type.clone(), digest: image.digest.clone() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn reference(text: &str) -> ImageReference {
        text.parse().unwrap()
    }

    #[test]
    fn a_destination_tag_is_its_tag_or_latest_and_none_for_a_bare_digest() {
        let digest = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
        assert_eq!(tag_of(&reference("localhost:5000/app:v1")), Some("v1"));
        assert_eq!(tag_of(&reference("localhost:5000/app")), Some("latest"));
        assert_eq!(tag_of(&reference(&format!("localhost:5000/app@{digest}"))), None);
        assert_eq!(tag_of(&reference(&format!("localhost:5000/app:v1@{digest}"))), Some("v1"));
        assert_eq!(fetch_reference(&reference(&format!("localhost:5000/app:v1@{digest}"))), digest);
        assert_eq!(fetch_reference(&reference("localhost:5000/app:v1")), "v1");
    }

    #[test]
    fn the_policy_sidecars_need_a_tag_on_each_side() {
        let digest = "sha256:2c26b46b68ffc68ff99b453c1d30413413422d706483bfa0f98a5e886266e7ae";
        assert_eq!(sidecar_tag(&reference("localhost:5000/app:v1")).unwrap(), "v1");
        let refused = sidecar_tag(&reference(&format!("localhost:5000/app@{digest}"))).unwrap_err();
        assert!(matches!(&refused, SeedError::CopyPolicyNeedsTags { reference } if reference.ends_with(digest)));
        assert!(refused.to_string().contains("requires tag-based source and destination references"), "{refused}");
    }

    #[test]
    fn a_seed_time_is_rfc3339_utc_in_whole_seconds() {
        let now = now();
        assert_eq!(now.len(), "2026-05-25T00:00:00Z".len(), "{now}");
        assert!(now.ends_with('Z') && now.as_bytes()[10] == b'T', "{now}");
    }

    #[test]
    fn connections_share_one_client_per_host() {
        let plain = RegistryOptions { plain_http: true, ..RegistryOptions::default() };
        let connections =
            Connections::new(BTreeMap::from([("127.0.0.1:5000".to_owned(), plain)]), RegistryOptions::default());
        assert_eq!(connections.endpoint("127.0.0.1:5000"), "http://127.0.0.1:5000");
        assert_eq!(connections.endpoint("registry.example"), "https://registry.example");
        let client = connections.registry("127.0.0.1:5000").unwrap();
        assert_eq!(client.endpoint(), "http://127.0.0.1:5000");
        assert_eq!(connections.clients.lock().unwrap().len(), 1);
        connections.registry("127.0.0.1:5000").unwrap();
        assert_eq!(connections.clients.lock().unwrap().len(), 1);
    }
}
