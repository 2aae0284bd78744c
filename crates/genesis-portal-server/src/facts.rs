//! What publishing a release recorded of each bundle it verified: the verification's result,
//! the components of the bundle's SBOM and the summary of its provenance. The portal's pages
//! show them (the SBOM and provenance of a bundle, the verification of a release) without
//! opening the bundle again: a bundle is gigabytes, and its facts do not change once
//! verified. They are kept as one JSON text per bundle (`bundle_facts`), so a field added
//! later costs no schema change.

use genesis_trust::provenance::ProvenanceSummary;
use genesis_trust::{AcceptedSigner, CheckedBundle};
use serde_json::Value;

/// What the verification of one bundle established when its release was published.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct BundleFacts {
    /// The bundle's artifact name (`demo-0.1.0.tar.zst`).
    pub bundle: String,
    /// Unix time of the verification (the publication's).
    pub verified_at: i64,
    /// Who signed its BOM: a key or a keyless identity.
    pub signer: AcceptedSigner,
    /// SHA-256 of its `bom.json`, `sha256:<hex>`.
    pub bom_sha256: String,
    /// Payload files checked against the BOM.
    pub files: u64,
    /// Payload bytes checked.
    pub payload_bytes: u64,
    /// Images the BOM lists.
    pub images: usize,
    /// Charts the BOM lists.
    pub charts: usize,
    /// Manifests the BOM lists.
    pub manifests: usize,
    /// What the trust policy decided beyond the signature, with its evidence.
    pub policy: Vec<String>,
    /// The components of its SBOM; `None` when the bundle carries none.
    pub sbom: Option<SbomFacts>,
    /// Its verified SLSA provenance; `None` when the bundle carries none.
    pub provenance: Option<ProvenanceFacts>,
}

/// A bundle's SBOM, as a page lists it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SbomFacts {
    /// The document's format and version, as it states them (`CycloneDX 1.5`).
    pub format: String,
    /// Its components, nested ones (an image index's per-platform images) after their parent.
    pub components: Vec<Component>,
}

/// One component of an SBOM.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Component {
    /// Its name.
    pub name: String,
    /// Its version, when it states one (an image's is its digest).
    pub version: Option<String>,
    /// Its CycloneDX `type` (`container`, `application`, `file`, …).
    pub kind: String,
    /// Its package URL, when it has one.
    pub purl: Option<String>,
}

/// A bundle's verified provenance, as a page shows it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ProvenanceFacts {
    /// `runDetails.builder.id`.
    pub builder_id: String,
    /// `buildDefinition.buildType`.
    pub build_type: String,
    /// The SHA-256 of the spec file the build ran from, when recorded.
    pub spec_sha256: Option<String>,
    /// What the build took in (`resolvedDependencies`), in the statement's order.
    pub materials: Vec<MaterialFacts>,
}

/// One material of a build.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct MaterialFacts {
    /// Its name (an image's or a chart's short name from the spec).
    pub name: String,
    /// Where the builder took it from.
    pub uri: String,
    /// Its SHA-256 as `sha256:<hex>`, when recorded.
    pub sha256: Option<String>,
}

/// The type of a component that states none.
const UNSPECIFIED: &str = "unspecified";

impl BundleFacts {
    /// The facts of `checked`, published as `bundle` and verified at `verified_at`.
    pub(crate) fn of(bundle: &str, checked: &CheckedBundle, verified_at: i64) -> BundleFacts {
        let report = checked.report();
        let head = &report.head;
        BundleFacts {
            bundle: bundle.to_owned(),
            verified_at,
            signer: head.signer.clone(),
            bom_sha256: head.bom_sha256.to_string(),
            files: report.files,
            payload_bytes: report.payload_bytes,
            images: report.images,
            charts: report.charts,
            manifests: report.manifests,
            policy: head.policy.clone(),
            sbom: checked.sbom().map(SbomFacts::from_cyclonedx),
            provenance: head.provenance.as_ref().map(ProvenanceFacts::from),
        }
    }
}

impl SbomFacts {
    /// The components of a CycloneDX JSON document. The verifier has read it already (it is
    /// JSON, matches its signed SHA-256 and names every image, chart and manifest), so it is
    /// read leniently here: a field missing or of another type is left out, never an error.
    fn from_cyclonedx(document: &[u8]) -> SbomFacts {
        let doc: Value = serde_json::from_slice(document).unwrap_or_default();
        let format = match (text(&doc, "bomFormat"), text(&doc, "specVersion")) {
            (Some(format), Some(version)) => format!("{format} {version}"),
            (Some(format), None) => format,
            (None, _) => "an SBOM that states no format".to_owned(),
        };
        let mut components = Vec::new();
        collect(&doc, &mut components);
        SbomFacts { format, components }
    }
}

/// The components of `parent` (a document or a component), each followed by its own, depth
/// first. The depth is bounded by the JSON parser's recursion limit.
fn collect(parent: &Value, out: &mut Vec<Component>) {
    for c in parent.get("components").and_then(Value::as_array).into_iter().flatten() {
        out.push(Component {
            name: text(c, "name").unwrap_or_default(),
            version: text(c, "version"),
            kind: text(c, "type").unwrap_or_else(|| UNSPECIFIED.to_owned()),
            purl: text(c, "purl"),
        });
        collect(c, out);
    }
}

/// The string `field` of `v`, when it has one.
fn text(v: &Value, field: &str) -> Option<String> {
    v.get(field).and_then(Value::as_str).map(str::to_owned)
}

impl From<&ProvenanceSummary> for ProvenanceFacts {
    fn from(p: &ProvenanceSummary) -> ProvenanceFacts {
        ProvenanceFacts {
            builder_id: p.builder_id.clone(),
            build_type: p.build_type.clone(),
            spec_sha256: p.spec_sha256.clone(),
            materials: p
                .materials
                .iter()
                .map(|m| MaterialFacts { name: m.name.clone(), uri: m.uri.clone(), sha256: m.sha256.clone() })
                .collect(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::{Component, SbomFacts};

    fn component(name: &str, version: Option<&str>, kind: &str, purl: Option<&str>) -> Component {
        Component {
            name: name.into(),
            version: version.map(str::to_owned),
            kind: kind.into(),
            purl: purl.map(str::to_owned),
        }
    }

    /// An image index's per-platform images follow it; a component missing a field, or with
    /// one of another type, is listed with what it has.
    #[test]
    fn an_sbom_lists_its_components_nested_ones_after_their_parent() {
        let document = serde_json::json!({
            "bomFormat": "CycloneDX", "specVersion": "1.5",
            "components": [
                {"type": "container", "name": "app", "version": "sha256:ab", "purl": "pkg:oci/app@sha256%3Aab",
                 "components": [{"type": "container", "name": "app (linux/amd64)", "version": "sha256:cd"}]},
                {"type": "application", "name": "web", "version": "0.1.0"},
                {"name": "odd", "version": 3},
            ],
        });
        let sbom = SbomFacts::from_cyclonedx(&serde_json::to_vec(&document).unwrap());
        assert_eq!(sbom.format, "CycloneDX 1.5");
        assert_eq!(
            sbom.components,
            [
                component("app", Some("sha256:ab"), "container", Some("pkg:oci/app@sha256%3Aab")),
                component("app (linux/amd64)", Some("sha256:cd"), "container", None),
                component("web", Some("0.1.0"), "application", None),
                component("odd", None, "unspecified", None),
            ]
        );
    }

    #[test]
    fn a_document_without_components_or_format_lists_none_and_says_so() {
        let sbom = SbomFacts::from_cyclonedx(b"{}");
        assert_eq!((sbom.format.as_str(), sbom.components.len()), ("an SBOM that states no format", 0));
    }
}
