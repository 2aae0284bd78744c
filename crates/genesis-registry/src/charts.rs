//! A bundle's Helm charts pushed to the registry as OCI Helm charts — the layout `helm push`
//! writes and `helm pull oci://…` reads: a config blob of type
//! `application/vnd.cncf.helm.config.v1+json`, the chart `.tgz` exactly as carried as the one
//! `application/vnd.cncf.helm.chart.content.v1.tar+gzip` layer, tagged with the chart version
//! in `[PREFIX/]charts/NAME`. The `.tgz` streams from the archive and is checked against the
//! signed BOM's digest on its way.

use std::io::Read;
use std::sync::Arc;

use bytes::Bytes;
use genesis_trust::SignedBom;
use genesis_types::media_types;

use crate::load::Destination;
use crate::{BlobSource, Manifest, Registry, RegistryError, Result};

/// Media type of a Helm chart's config blob.
pub const HELM_CONFIG: &str = "application/vnd.cncf.helm.config.v1+json";
/// Media type of a Helm chart's content layer.
pub const HELM_CHART_CONTENT: &str = "application/vnd.cncf.helm.chart.content.v1.tar+gzip";

/// One chart as pushed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct LoadedChart {
    /// Chart name.
    pub name: String,
    /// Chart version (the tag).
    pub version: String,
    /// `oci://HOST/REPO` to give `helm pull` (with `--version`) or a Flux `HelmRepository`.
    pub url: String,
    /// Digest of the pushed manifest.
    pub digest: String,
}

struct InMemory(Bytes);

impl BlobSource for InMemory {
    fn open(&self) -> std::io::Result<Box<dyn Read + Send>> {
        Ok(Box::new(std::io::Cursor::new(self.0.clone())))
    }
}

/// The repository charts of `name` go to under `destination`.
pub fn chart_repository(destination: &Destination, name: &str) -> String {
    if destination.prefix.is_empty() {
        format!("charts/{name}")
    } else {
        format!("{}/charts/{name}", destination.prefix)
    }
}

/// Pushes every chart of the verified `bundle`.
pub async fn push_charts(
    bundle: &dyn SignedBom,
    registry: &Registry,
    destination: &Destination,
) -> Result<Vec<LoadedChart>> {
    let bom = bundle.signed_bom();
    if bom.charts.is_empty() {
        return Ok(Vec::new());
    }
    let index = bundle.archive_index(&Default::default())?;
    let progress = genesis_bundle::ProgressCounter::default();
    let mut loaded = Vec::new();
    for chart in &bom.charts {
        let version = chart.version.clone().ok_or_else(|| {
            RegistryError::Invalid(format!(
                "chart {} has no version in the BOM: an OCI chart needs one as its tag",
                chart.name
            ))
        })?;
        let file = bom.file(chart.path.as_str()).expect("a valid BOM lists every chart");
        let (offset, size) = index
            .locate(chart.path.as_str())
            .ok_or_else(|| RegistryError::NotFound(format!("{} in the bundle", chart.path)))?;
        let repo = chart_repository(destination, &chart.name);
        let layer = index.range(offset, size);
        registry.push_blob(&repo, &file.sha256, size, Arc::new(layer), None, &progress).await?;
        let config =
            serde_json::to_vec(&serde_json::json!({ "apiVersion": "v2", "name": chart.name, "version": version }))
                .expect("JSON");
        let config_digest = genesis_bundle::sha256(&config);
        let config_size = config.len() as u64;
        registry
            .push_blob(&repo, &config_digest, config_size, Arc::new(InMemory(Bytes::from(config))), None, &progress)
            .await?;
        let manifest = serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": media_types::OCI_MANIFEST,
            "config": { "mediaType": HELM_CONFIG, "digest": config_digest.to_string(), "size": config_size },
            "layers": [ { "mediaType": HELM_CHART_CONTENT, "digest": file.sha256.to_string(), "size": size } ],
        }))
        .expect("JSON");
        let digest = genesis_bundle::sha256(&manifest);
        let manifest = Manifest { bytes: Bytes::from(manifest), media_type: media_types::OCI_MANIFEST.into(), digest };
        // Helm tags a version's `+` as `_` (tags cannot hold `+`).
        registry.put_manifest(&repo, &version.replace('+', "_"), &manifest).await?;
        tracing::info!(chart = %chart.name, %version, repo, "pushed the chart");
        loaded.push(LoadedChart {
            name: chart.name.clone(),
            version,
            url: format!("oci://{}/{repo}", registry.host()),
            digest: manifest.digest.to_string(),
        });
    }
    Ok(loaded)
}
