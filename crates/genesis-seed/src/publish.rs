//! `publish-index`: a catalog roll-up published as an OCI artifact that refers to an image
//! (its `subject`), so that one Referrers query on that image lists the whole seeded set.
//! Registries without the Referrers API find it at the `<tag>-catalog` tag instead.

use std::collections::BTreeMap;
use std::path::Path;
use std::sync::Arc;

use bytes::Bytes;
use genesis_bundle::{ProgressCounter, sha256};
use genesis_registry::{BlobSource, Manifest, Registry, RegistryError};
use genesis_types::{Descriptor, ImageReference, media_types};

use crate::manifest::{ROLLUP_FILE, read_rollup};
use crate::seed::Connections;
use crate::{Result, SeedError};

/// The artifact type of a published roll-up, and the media type of its one layer (the
/// roll-up's bytes, exactly as written).
pub const CATALOG_ARTIFACT_TYPE: &str = "application/vnd.genesis.catalog-seed.v1+json";
/// What a tag that does not exist yet is made to hold, so the artifact has a subject: an OCI
/// index of no manifests.
const EMPTY_INDEX: &[u8] =
    concat!(r#"{"schemaVersion":2,"mediaType":"application/vnd.oci.image.index.v1+json","#, r#""manifests":[]}"#)
        .as_bytes();

/// A published roll-up.
#[derive(Debug, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Published {
    /// The artifact manifest's digest.
    pub digest: String,
    /// [`CATALOG_ARTIFACT_TYPE`].
    pub artifact_type: &'static str,
    /// How it is found: `referrers API`, or `<tag>-catalog tag`.
    pub via: String,
    /// The digest of the manifest it refers to.
    pub subject: String,
    /// Whether that manifest is an empty index made for it, the tag not existing before.
    pub subject_created: bool,
}

/// Bytes held in memory, as an upload's source.
struct InMemory(Bytes);

impl BlobSource for InMemory {
    fn open(&self) -> std::io::Result<Box<dyn std::io::Read + Send>> {
        Ok(Box::new(std::io::Cursor::new(self.0.clone())))
    }
}

/// The OCI image manifest of the artifact, fields in the spec's order.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct ArtifactManifest<'a> {
    schema_version: u32,
    media_type: &'static str,
    artifact_type: &'static str,
    config: &'a Descriptor,
    layers: [&'a Descriptor; 1],
    subject: &'a Descriptor,
    annotations: BTreeMap<&'static str, &'a str>,
}

fn descriptor(media_type: &str, digest: genesis_types::Digest, size: usize) -> Descriptor {
    Descriptor {
        media_type: media_type.to_owned(),
        digest,
        size: size as u64,
        platform: None,
        artifact_type: None,
        annotations: BTreeMap::new(),
    }
}

/// The manifest `to` names, as the artifact's subject: by digest it must exist; at a tag
/// that does not exist yet, an empty OCI index is put there first. Whether it was created.
async fn subject(registry: &Registry, to: &ImageReference) -> Result<(Manifest, bool)> {
    let repo = to.repository();
    let unresolvable =
        |source| SeedError::Unresolvable { side: "destination", reference: to.to_string(), source: Box::new(source) };
    if let Some(digest) = to.digest() {
        return registry.get_manifest(repo, &digest.to_string()).await.map(|m| (m, false)).map_err(unresolvable);
    }
    let tag = to.tag().unwrap_or("latest");
    match registry.get_manifest(repo, tag).await {
        Ok(manifest) => Ok((manifest, false)),
        Err(RegistryError::NotFound(_)) => {
            let index = Manifest {
                bytes: Bytes::from_static(EMPTY_INDEX),
                media_type: media_types::OCI_INDEX.to_owned(),
                digest: sha256(EMPTY_INDEX),
            };
            registry.put_manifest(repo, tag, &index).await?;
            tracing::info!(repo, tag, digest = %index.digest, "created an empty index as the catalog's subject");
            Ok((index, true))
        }
        Err(e) => Err(unresolvable(e)),
    }
}

/// Publishes the roll-up at `rollup` as an artifact referring to `to` (a tag, made an empty
/// OCI index if it does not exist, or a digest): the roll-up's bytes as its config and its
/// one layer, then the manifest by digest, with [`CATALOG_ARTIFACT_TYPE`] and `to` as
/// its subject. Without the Referrers API at the registry it is also tagged `<tag>-catalog`,
/// so `to` must then be a tag. A file that is no `catalog-seed.v1` roll-up is refused before
/// anything is sent.
pub async fn publish_index(connections: &Connections, rollup: &Path, to: &ImageReference) -> Result<Published> {
    let (bytes, parsed) = read_rollup(rollup)?;
    let registry = connections.registry(to.registry())?;
    let repo = to.repository();
    let (subject_manifest, subject_created) = subject(&registry, to).await?;
    let (_, referrers_api) = registry.referrers(repo, &subject_manifest.digest).await?;
    let fallback = match (referrers_api, to.digest(), to.tag()) {
        (true, _, _) => None,
        (false, None, tag) => Some(format!("{}-catalog", tag.unwrap_or("latest"))),
        (false, Some(_), _) => {
            return Err(SeedError::Input {
                what: to.to_string(),
                reason: format!(
                    "{} has no Referrers API, and the <tag>-catalog tag that stands in for it needs a tag reference, \
                     not a digest",
                    to.registry()
                ),
            });
        }
    };

    let progress = ProgressCounter::default();
    // The roll-up is the config as well as the one layer (one blob): registries that list
    // referrers by their config's media type (OCI 1.0 artifacts, go-containerregistry's
    // registry) and those that read `artifactType` (OCI 1.1) both list it as a catalog.
    let config = descriptor(CATALOG_ARTIFACT_TYPE, sha256(&bytes), bytes.len());
    let mut layer = config.clone();
    layer.annotations.insert("org.opencontainers.image.title".to_owned(), ROLLUP_FILE.to_owned());
    let source = Arc::new(InMemory(Bytes::from(bytes)));
    registry.push_blob(repo, &config.digest, config.size, source, None, &progress).await?;
    let subject =
        descriptor(&subject_manifest.media_type, subject_manifest.digest.clone(), subject_manifest.bytes.len());
    // The roll-up's own time, not now: publishing the same roll-up again gives the same digest.
    let annotations = BTreeMap::from([("org.opencontainers.image.created", parsed.seeded_at.as_str())]);
    let artifact = ArtifactManifest {
        schema_version: 2,
        media_type: media_types::OCI_MANIFEST,
        artifact_type: CATALOG_ARTIFACT_TYPE,
        config: &config,
        layers: [&layer],
        subject: &subject,
        annotations,
    };
    let artifact = Bytes::from(serde_json::to_vec(&artifact).expect("a manifest is JSON"));
    let manifest =
        Manifest { digest: sha256(&artifact), bytes: artifact, media_type: media_types::OCI_MANIFEST.to_owned() };
    registry.put_manifest(repo, &manifest.digest.to_string(), &manifest).await?;
    let via = match fallback {
        None => "referrers API".to_owned(),
        Some(tag) => {
            registry.put_manifest(repo, &tag, &manifest).await?;
            format!("{tag} tag")
        }
    };
    let digest = &manifest.digest;
    tracing::info!(repo, %digest, subject = %subject.digest, via = %via, "published the catalog roll-up");
    Ok(Published {
        digest: manifest.digest.to_string(),
        artifact_type: CATALOG_ARTIFACT_TYPE,
        via,
        subject: subject.digest.to_string(),
        subject_created,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_subject_made_for_a_new_tag_is_an_empty_oci_index() {
        let index: genesis_types::ImageIndex = serde_json::from_slice(EMPTY_INDEX).unwrap();
        assert_eq!((index.schema_version, index.media_type.as_deref()), (2, Some(media_types::OCI_INDEX)));
        assert!(index.manifests.is_empty());
    }

    #[test]
    fn a_file_that_is_no_rollup_is_refused_before_any_registry_is_contacted() {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("catalog-seed-manifest.json");
        std::fs::write(&path, r#"{"schema_version": "catalog-seed.v1", "anything": "else"}"#).unwrap();
        // A registry that does not exist: reaching it would fail otherwise.
        let to: ImageReference = "unreachable.invalid/site-catalog:v1".parse().unwrap();
        let connections = Connections::new(BTreeMap::new(), genesis_registry::RegistryOptions::default());
        let refused = ready(publish_index(&connections, &path, &to)).unwrap_err();
        assert!(matches!(refused, SeedError::NotRollup { .. }), "{refused:?}");
        assert!(refused.to_string().contains("not a catalog-seed.v1 roll-up"), "{refused}");
    }

    /// The output of a future that finishes without waiting (this one fails before any
    /// I/O), polled once without a runtime.
    fn ready<F: std::future::Future>(future: F) -> F::Output {
        let mut context = std::task::Context::from_waker(std::task::Waker::noop());
        match std::pin::pin!(future).poll(&mut context) {
            std::task::Poll::Ready(output) => output,
            std::task::Poll::Pending => panic!("the future waited"),
        }
    }
}
