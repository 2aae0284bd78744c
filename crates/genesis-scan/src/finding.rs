//! What a scan reports: findings, each a known vulnerability of one installed package.

use genesis_inventory::PackageKind;
pub use genesis_types::Severity;
use serde::{Deserialize, Serialize};

/// A known vulnerability of one installed package.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Finding {
    /// The record's ID: `CVE-…`, `GHSA-…`, `DSA-…`.
    pub id: String,
    /// Its other IDs (a GHSA's CVE).
    pub aliases: Vec<String>,
    /// The package's name, as matched.
    pub package: String,
    /// The package's ecosystem.
    pub kind: PackageKind,
    /// The version installed.
    pub installed: String,
    /// The lowest fixed version above the installed one, when the record names one.
    pub fixed: Option<String>,
    /// Its severity.
    pub severity: Severity,
    /// The CVSS base score computed from the record's vector, when it has one.
    pub score: Option<f32>,
    /// The record the severity was taken from, when the matched record states none of its
    /// own (a Debian advisory's CVE): `CVE-2024-1234`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_from: Option<String>,
    /// The image (name and platform) the package is in.
    pub image: String,
    /// The package's URL.
    pub purl: String,
    /// The record's summary.
    pub summary: Option<String>,
}
