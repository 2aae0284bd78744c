//! The bundle's CycloneDX SBOM (`sbom/bundle.cdx.json`), written with the `cyclonedx-bom`
//! crate from the BOM the builder has planned: one component per image (with one
//! sub-component per platform manifest), per chart and per manifest, each with its SHA-256.
//! It is byte-stable: the timestamp is the bundle's `created`, the serial number is derived
//! from the BOM, and every list follows the BOM's order.

use std::collections::BTreeMap;

use cyclonedx_bom::external_models::normalized_string::NormalizedString;
use cyclonedx_bom::external_models::uri::Purl;
use cyclonedx_bom::models::bom::{Bom as CycloneDx, SpecVersion, UrnUuid};
use cyclonedx_bom::models::component::{Classification, Component, Components};
use cyclonedx_bom::models::hash::{Hash, HashAlgorithm, HashValue, Hashes};
use cyclonedx_bom::models::metadata::Metadata;
use cyclonedx_bom::models::property::{Properties, Property};
use cyclonedx_bom::models::tool::{Tool, Tools};
use std::path::PathBuf;

use genesis_bundle::{Bom, ChartEntry, ImageEntry};
use genesis_types::{BundlePath, Descriptor, Digest, ImageManifest, Platform, media_types};

use crate::layout::ResolvedImage;
use crate::{BuildError, Result};

/// Where the bundle's SBOM lives.
pub const BUNDLE_SBOM_PATH: &str = "sbom/bundle.cdx.json";
/// The media type of CycloneDX JSON.
pub const CYCLONEDX_JSON: &str = "application/vnd.cyclonedx+json";

/// SPDX JSON's media type.
pub const SPDX_JSON: &str = "application/spdx+json";

/// An SBOM document an image's source carried as an OCI referrer.
pub struct CarriedSbom {
    /// Its media type.
    pub media_type: String,
    /// File name extension for it.
    pub extension: &'static str,
    /// The layer blob in the cache.
    pub file: PathBuf,
    /// Its size.
    pub size: u64,
    /// Its digest (checked when it was pulled, and again while packing).
    pub digest: Digest,
}

/// The SBOM a referrer carries, when its manifest's artifact type (or config media type)
/// says CycloneDX or SPDX JSON: its first layer, which the bundle then also holds as a file
/// under `sbom/images/`.
pub fn carried_sbom(referrer: &Descriptor, resolved: &ResolvedImage) -> Result<Option<CarriedSbom>> {
    let kind = |t: &str| match t {
        CYCLONEDX_JSON => Some(".cdx.json"),
        SPDX_JSON => Some(".spdx.json"),
        _ => None,
    };
    if !media_types::is_manifest(&referrer.media_type) {
        return Ok(None);
    }
    let Some((_, path)) = resolved.blobs.get(&referrer.digest) else { return Ok(None) };
    let bytes = std::fs::read(path).map_err(|e| BuildError::input(path, format!("unreadable: {e}")))?;
    let Ok(manifest) = serde_json::from_slice::<ImageManifest>(&bytes) else { return Ok(None) };
    let media_type = manifest.artifact_type.clone().unwrap_or_else(|| manifest.config.media_type.clone());
    let (Some(extension), Some(layer)) = (kind(&media_type), manifest.layers.first()) else { return Ok(None) };
    let Some((size, file)) = resolved.blobs.get(&layer.digest) else { return Ok(None) };
    Ok(Some(CarriedSbom { media_type, extension, file: file.clone(), size: *size, digest: layer.digest.clone() }))
}

/// The SBOM of the planned `bom` (which must not yet list the SBOM itself). `platforms`
/// gives each image's platform manifests, by image name.
pub fn bundle_sbom(bom: &Bom, platforms: &BTreeMap<String, Vec<(Platform, Digest)>>) -> Vec<u8> {
    let sha256_of = |path: &BundlePath| bom.file(path.as_str()).map(|f| f.sha256.clone());
    let images = bom
        .images
        .iter()
        .map(|image| image_component(image, platforms.get(&image.name).map_or(&[][..], Vec::as_slice)));
    let charts = bom.charts.iter().filter_map(|chart| Some(chart_component(chart, &sha256_of(&chart.path)?)));
    let manifests = bom.manifests.iter().filter_map(|m| Some(manifest_component(&m.path, &sha256_of(&m.path)?)));
    let doc = CycloneDx {
        serial_number: UrnUuid::new(serial_number(bom)).ok(),
        metadata: Some(metadata(bom)),
        components: Some(Components(images.chain(charts).chain(manifests).collect())),
        spec_version: SpecVersion::V1_5,
        ..CycloneDx::default()
    };
    let mut out = Vec::new();
    doc.output_as_json_v1_5(&mut out).expect("a CycloneDX document built from a valid BOM serialises");
    out.push(b'\n');
    out
}

/// An image: a container component named and hashed by its digest, with one sub-component
/// per platform manifest.
fn image_component(image: &ImageEntry, platforms: &[(Platform, Digest)]) -> Component {
    let mut c = component(Classification::Container, &image.name, &image.digest.to_string(), &image.digest);
    c.purl = Some(oci_purl(&image.reference, &image.digest, None));
    c.properties = Some(Properties(vec![
        property("genesis:ref", &image.reference),
        property("genesis:source", &image.source),
        property("genesis:mediaType", &image.media_type),
    ]));
    let children: Vec<Component> = platforms
        .iter()
        .map(|(platform, digest)| {
            let mut p = component(
                Classification::Container,
                &format!("{} ({platform})", image.name),
                &digest.to_string(),
                digest,
            );
            p.purl = Some(oci_purl(&image.reference, digest, Some(platform)));
            p
        })
        .collect();
    if !children.is_empty() {
        c.components = Some(Components(children));
    }
    c
}

/// A chart: an application component with the chart's version and the SHA-256 of its file.
fn chart_component(chart: &ChartEntry, sha256: &Digest) -> Component {
    let version = chart.version.as_deref().unwrap_or("unknown");
    let mut c = component(Classification::Application, &chart.name, version, sha256);
    c.properties = Some(Properties(vec![
        property("genesis:path", chart.path.as_str()),
        property("genesis:source", &chart.source),
    ]));
    c
}

/// A manifest file: a file component named by its path in the bundle, without a version.
fn manifest_component(path: &BundlePath, sha256: &Digest) -> Component {
    let mut c = component(Classification::File, path.as_str(), &sha256.to_string(), sha256);
    c.version = None;
    c
}

/// The document's metadata: the bundle's `created` as its timestamp, the builder as its tool,
/// and the bundle itself as the component it describes.
fn metadata(bom: &Bom) -> Metadata {
    let mut bundle =
        Component::new(Classification::Application, &bom.name, &bom.version, Some(format!("bundle:{}", bom.name)));
    bundle.description = Some(NormalizedString::new("Genesis air-gap bundle"));
    Metadata {
        timestamp: cyclonedx_bom::external_models::date_time::DateTime::try_from(bom.created.clone()).ok(),
        tools: Some(Tools::List(vec![Tool {
            vendor: Some(NormalizedString::new("Genesis")),
            name: Some(NormalizedString::new("bundle-builder")),
            version: Some(NormalizedString::new(env!("CARGO_PKG_VERSION"))),
            hashes: None,
            external_references: None,
        }])),
        authors: None,
        component: Some(bundle),
        manufacture: None,
        supplier: None,
        licenses: None,
        properties: None,
        lifecycles: None,
    }
}

fn component(kind: Classification, name: &str, version: &str, sha256: &Digest) -> Component {
    let mut c = Component::new(kind, name, version, None);
    c.hashes = Some(Hashes(vec![Hash { alg: HashAlgorithm::SHA_256, content: HashValue(sha256.hex().to_owned()) }]));
    c
}

fn property(name: &str, value: &str) -> Property {
    Property { name: name.to_owned(), value: NormalizedString::new(value) }
}

/// `pkg:oci/NAME@sha256%3A…?repository_url=REGISTRY/REPO[&arch=…&os=…][&tag=…]` (purl spec, type oci).
fn oci_purl(reference: &str, digest: &Digest, platform: Option<&Platform>) -> Purl {
    let parsed: Option<genesis_types::ImageReference> = reference.parse().ok();
    let (repository_url, tag) = match &parsed {
        Some(r) => (format!("{}/{}", r.registry(), r.repository()), r.tag().map(str::to_owned)),
        None => (reference.to_owned(), None),
    };
    let name = repository_url.rsplit('/').next().unwrap_or(&repository_url).to_lowercase();
    let mut builder = purl::GenericPurlBuilder::new("oci".to_owned(), name).with_version(digest.to_string());
    let mut qualifiers = vec![("repository_url", repository_url.clone())];
    if let Some(p) = platform {
        qualifiers.push(("arch", p.architecture.clone()));
        qualifiers.push(("os", p.os.clone()));
        if let Some(v) = &p.variant {
            qualifiers.push(("variant", v.clone()));
        }
    }
    if let Some(tag) = tag {
        qualifiers.push(("tag", tag));
    }
    for (k, v) in qualifiers {
        builder = builder.with_qualifier(k, v).expect("qualifier names are fixed and valid");
    }
    // The purl spec's OCI examples percent-encode the digest's colon (`sha256%3A…`).
    let text = builder
        .build()
        .map(|p| {
            p.to_string().replacen(
                &format!("@{}:", digest.algorithm().name()),
                &format!("@{}%3A", digest.algorithm().name()),
                1,
            )
        })
        .unwrap_or_else(|_| format!("pkg:oci/{repository_url}"));
    text.parse().expect("Purl::from_str accepts any text")
}

/// A UUID-shaped serial number derived from the BOM (RFC 4122 version 8, "custom"), so a
/// rebuild gives the same document and two different bundles never share one.
fn serial_number(bom: &Bom) -> String {
    let d = genesis_bundle::sha256(&bom.to_bytes());
    let h = d.hex();
    let variant = (u8::from_str_radix(&h[16..18], 16).unwrap_or(0) & 0x3f) | 0x80;
    format!("urn:uuid:{}-{}-8{}-{variant:02x}{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[18..20], &h[20..32])
}
