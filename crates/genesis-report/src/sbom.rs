//! The totals of a CycloneDX SBOM: its components counted by type and by licence, nested
//! ones included (an image index's per-platform manifests sit inside the index).

use std::collections::BTreeMap;

use serde_json::Value;

use crate::ReportError;

/// The licence of a component that declares none.
pub const NOT_DECLARED: &str = "none declared";
/// The type of a component that states none.
pub const UNSPECIFIED: &str = "unspecified";

/// How many components an SBOM lists, by type and by licence.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
#[non_exhaustive]
pub struct SbomTotals {
    /// The document's path inside the bundle.
    pub path: String,
    /// Every component, nested ones included.
    pub components: usize,
    /// Components by their `type` ([`UNSPECIFIED`] when they state none).
    pub by_type: BTreeMap<String, usize>,
    /// Components by licence: the SPDX expression, or the licence ids and names a component
    /// lists, sorted and joined with `, ` ([`NOT_DECLARED`] when it lists none). Each
    /// component counts once, so these add up to [`SbomTotals::components`].
    pub by_licence: BTreeMap<String, usize>,
}

impl SbomTotals {
    /// Counts the components of the CycloneDX JSON `document` found at `path`.
    pub fn from_cyclonedx(path: &str, document: &[u8]) -> Result<SbomTotals, ReportError> {
        let refuse = |reason: String| ReportError::Sbom { path: path.to_owned(), reason };
        let doc: Value = serde_json::from_slice(document).map_err(|e| refuse(format!("not JSON ({e})")))?;
        if doc["bomFormat"] != "CycloneDX" {
            return Err(refuse(format!("not a CycloneDX document (bomFormat {})", doc["bomFormat"])));
        }
        let mut totals =
            SbomTotals { path: path.to_owned(), components: 0, by_type: BTreeMap::new(), by_licence: BTreeMap::new() };
        totals.count(&doc["components"]);
        Ok(totals)
    }

    /// Counts `components` and what they nest. The depth is bounded by the JSON parser's
    /// recursion limit.
    fn count(&mut self, components: &Value) {
        for component in components.as_array().into_iter().flatten() {
            self.components += 1;
            let kind = component["type"].as_str().unwrap_or(UNSPECIFIED);
            *self.by_type.entry(kind.to_owned()).or_default() += 1;
            *self.by_licence.entry(licence_of(component)).or_default() += 1;
            self.count(&component["components"]);
        }
    }
}

/// A component's licence as [`SbomTotals::by_licence`] counts it.
fn licence_of(component: &Value) -> String {
    let mut names: Vec<&str> = component["licenses"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|l| l["expression"].as_str().or(l["license"]["id"].as_str()).or(l["license"]["name"].as_str()))
        .collect();
    names.sort_unstable();
    names.dedup();
    if names.is_empty() { NOT_DECLARED.to_owned() } else { names.join(", ") }
}
