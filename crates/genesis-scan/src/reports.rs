//! Another scanner's JSON report read as findings, so that a site that already runs trivy or
//! grype gates on its results with the same policy, exceptions and output as a scan of ours.
//!
//! Which scanner wrote a report is told by its shape: trivy's (`trivy image -f json`,
//! `trivy sbom -f json`) has `SchemaVersion` 2 with `ArtifactName` and `Results`; grype's
//! (`grype -o json`) has `matches` and a `descriptor` naming grype. Field meanings follow
//! their documented formats (trivy's `pkg/types` report, grype's `presenter/models`
//! document).
//!
//! How a report maps onto a [`Finding`]:
//!
//! | Finding | trivy | grype |
//! | --- | --- | --- |
//! | id | `VulnerabilityID` | `vulnerability.id` |
//! | aliases | `VendorIDs` (DSA-…, RHSA-…) | `relatedVulnerabilities[].id` |
//! | package, installed | `PkgName`, `InstalledVersion` | `artifact.name`, `artifact.version` |
//! | fixed | `FixedVersion` | `matchDetails[].fix.suggestedVersion`, else `fix.versions` joined by `, ` when `fix.state` is `fixed` |
//! | severity | `Severity` | `vulnerability.severity` (`Negligible` reads as low) |
//! | score | highest CVSS v3 score in `CVSS` | highest CVSS v3 `baseScore` in `cvss`, else in the related records' |
//! | image | `ArtifactName (os/arch)` from `Metadata.ImageConfig` | `source.target.userInput (os/arch)` |
//! | purl | `PkgIdentifier.PURL` | `artifact.purl` |
//! | summary | `Title` | `vulnerability.description` |
//! | kind | the purl's type, else `Results[].Type` | the purl's type, else `artifact.type` |
//!
//! A finding in an ecosystem a [`Finding`] cannot name (Java archives, Ruby gems, .NET, PHP,
//! binaries without a package manager…) refuses the whole report, listing them: the verdict is
//! signed and counts by severity, and a gate that dropped a critical finding in a JAR would
//! pass what the report fails. Sites with such images gate on the report with the scanner's
//! own `--ignore`/`--exit-code` until the finding model carries those ecosystems.

use std::collections::BTreeMap;
use std::io::Read;
use std::path::Path;

use genesis_inventory::PackageKind;
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::error::ScanError;
use crate::finding::{Finding, Severity};

/// The largest report read (256 MiB): a report on a large image with every finding runs to
/// tens of MiB.
pub const MAX_REPORT: u64 = 256 * 1024 * 1024;

/// Reads a trivy or grype JSON report as findings, in the report's order.
pub fn read_report(path: &Path) -> Result<Vec<Finding>, ScanError> {
    let bytes = read_capped(path, MAX_REPORT)?;
    parse_report(&bytes).map_err(|reason| ScanError::Input { path: path.to_owned(), reason })
}

/// Reads a file of at most `cap` bytes, naming the file in the error: every input may come
/// from across the gap.
pub(crate) fn read_capped(path: &Path, cap: u64) -> Result<Vec<u8>, ScanError> {
    let io =
        |action: &'static str| move |source: std::io::Error| ScanError::Io { action, path: path.to_owned(), source };
    let file = std::fs::File::open(path).map_err(io("opening"))?;
    let mut bytes = Vec::new();
    file.take(cap.saturating_add(1)).read_to_end(&mut bytes).map_err(io("reading"))?;
    if bytes.len() as u64 > cap {
        return Err(ScanError::Input {
            path: path.to_owned(),
            reason: format!("it is over {cap} bytes, the most read of such a file"),
        });
    }
    Ok(bytes)
}

/// The findings of a report's bytes, or why it is refused.
fn parse_report(bytes: &[u8]) -> Result<Vec<Finding>, String> {
    if bytes.trim_ascii_start().starts_with(b"[") {
        return Err("a JSON array, the report format of trivy before 0.20; run a current trivy with -f json".into());
    }
    let shape: Shape = serde_json::from_slice(bytes).map_err(|e| format!("not a JSON report: {e}"))?;
    let findings = match shape {
        Shape { schema_version: Some(version), .. } => {
            if version.as_u64() != Some(2) {
                return Err(format!("a trivy report of SchemaVersion {version}, where this reads version 2"));
            }
            let report: TrivyReport =
                serde_json::from_slice(bytes).map_err(|e| format!("not a trivy JSON report: {e}"))?;
            report.findings()?
        }
        Shape { matches: Some(_), descriptor: Some(Descriptor { name }), .. } if name == "grype" => {
            let report: GrypeReport =
                serde_json::from_slice(bytes).map_err(|e| format!("not a grype JSON report: {e}"))?;
            report.findings()?
        }
        _ => {
            return Err("neither a trivy JSON report (SchemaVersion, ArtifactName, Results) nor a grype one \
                        (matches, descriptor.name \"grype\")"
                .into());
        }
    };
    refuse_unnamed_ecosystems(findings)
}

/// Just enough of a report to tell whose it is.
#[derive(Deserialize)]
struct Shape {
    #[serde(rename = "SchemaVersion", default)]
    schema_version: Option<serde_json::Value>,
    #[serde(default)]
    matches: Option<IgnoredAny>,
    #[serde(default)]
    descriptor: Option<Descriptor>,
}

#[derive(Deserialize)]
struct Descriptor {
    #[serde(default)]
    name: String,
}

/// A finding read from a report, or one whose ecosystem a [`Finding`] cannot name.
enum Reported {
    Found(Finding),
    Unnamed { ecosystem: String, id: String, package: String, installed: String },
}

impl Reported {
    /// A finding in a package of the scanner's type `scanner_type` (trivy's `Results[].Type`,
    /// grype's `artifact.type`), which a [`Finding`] cannot name.
    fn unnamed(scanner_type: &str, id: String, package: String, installed: String) -> Reported {
        let ecosystem = if scanner_type.is_empty() { "(no type)" } else { scanner_type };
        Reported::Unnamed { ecosystem: ecosystem.to_owned(), id, package, installed }
    }
}

/// The findings, or a refusal listing every ecosystem a [`Finding`] cannot name, with a count
/// and an example of each.
fn refuse_unnamed_ecosystems(read: Vec<Reported>) -> Result<Vec<Finding>, String> {
    let mut findings = Vec::new();
    let mut unnamed: BTreeMap<String, (usize, String)> = BTreeMap::new();
    for item in read {
        match item {
            Reported::Found(finding) => findings.push(finding),
            Reported::Unnamed { ecosystem, id, package, installed } => {
                unnamed.entry(ecosystem).or_insert_with(|| (0, format!("{id} in {package} {installed}"))).0 += 1;
            }
        }
    }
    if unnamed.is_empty() {
        return Ok(findings);
    }
    let list: Vec<String> =
        unnamed.iter().map(|(ecosystem, (count, example))| format!("{ecosystem} ({count}, e.g. {example})")).collect();
    Err(format!(
        "findings in ecosystems the gate cannot represent: {}; the report is refused rather than gated without them",
        list.join("; ")
    ))
}

/// The ecosystem a package URL's type names, when a [`Finding`] can name it.
fn kind_of_purl(purl: &str) -> Option<PackageKind> {
    let kind = purl.strip_prefix("pkg:")?.trim_start_matches('/').split('/').next()?;
    PackageKind::from_purl_type(&kind.to_ascii_lowercase())
}

/// The image a report is about, with its platform when the report states it.
fn image_label(name: &str, os: &str, architecture: &str) -> String {
    if os.is_empty() || architecture.is_empty() { name.to_owned() } else { format!("{name} ({os}/{architecture})") }
}

/// A rating as the scanner writes it; missing or empty is unknown.
fn severity(rating: Option<&str>, id: &str, package: &str) -> Result<Severity, String> {
    match rating.map(str::trim).filter(|r| !r.is_empty()) {
        None => Ok(Severity::Unknown),
        Some(rating) => rating.parse().map_err(|e| format!("{id} in {package}: {e}")),
    }
}

/// A CVSS base score as a finding keeps it: a number from 0 to 10, or none.
fn score(value: f64) -> Option<f32> {
    (0.0..=10.0).contains(&value).then_some(value as f32)
}

/// An optional text, `None` when empty.
fn text(value: Option<String>) -> Option<String> {
    value.map(|v| v.trim().to_owned()).filter(|v| !v.is_empty())
}

// trivy: `Report`, `Result` and `DetectedVulnerability` of its pkg/types, fields by their JSON
// names (PascalCase, with `omitempty` on most: absent and null read as empty).

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyReport {
    #[serde(default)]
    artifact_name: String,
    #[serde(default)]
    metadata: Option<TrivyMetadata>,
    #[serde(default)]
    results: Option<Vec<TrivyResult>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyMetadata {
    #[serde(default)]
    image_config: Option<ImageConfig>,
}

/// The platform fields of the image's OCI config, as trivy copies it (lowercase keys).
#[derive(Deserialize, Default)]
struct ImageConfig {
    #[serde(default)]
    architecture: String,
    #[serde(default)]
    os: String,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyResult {
    #[serde(default)]
    target: String,
    #[serde(rename = "Type", default)]
    kind: String,
    #[serde(default)]
    vulnerabilities: Option<Vec<TrivyVulnerability>>,
}

#[derive(Deserialize)]
#[serde(rename_all = "PascalCase")]
struct TrivyVulnerability {
    #[serde(rename = "VulnerabilityID")]
    id: String,
    #[serde(rename = "VendorIDs", default)]
    vendor_ids: Option<Vec<String>>,
    #[serde(default)]
    pkg_name: String,
    #[serde(default)]
    pkg_identifier: Option<TrivyPackageIdentifier>,
    #[serde(default)]
    installed_version: String,
    #[serde(default)]
    fixed_version: Option<String>,
    #[serde(default)]
    severity: Option<String>,
    #[serde(rename = "CVSS", default)]
    cvss: Option<BTreeMap<String, TrivyCvss>>,
    #[serde(default)]
    title: Option<String>,
}

#[derive(Deserialize)]
struct TrivyPackageIdentifier {
    #[serde(rename = "PURL", default)]
    purl: Option<String>,
}

#[derive(Deserialize)]
struct TrivyCvss {
    #[serde(rename = "V3Score", default)]
    v3_score: Option<f64>,
}

impl TrivyReport {
    fn findings(self) -> Result<Vec<Reported>, String> {
        let config = self.metadata.and_then(|m| m.image_config).unwrap_or_default();
        let mut read = Vec::new();
        for result in self.results.unwrap_or_default() {
            // The artifact is the image as the user named it (a file for `trivy sbom`); a report
            // without one (the field is optional) is named by each result's target.
            let name = if self.artifact_name.is_empty() { &result.target } else { &self.artifact_name };
            let image = image_label(name, &config.os, &config.architecture);
            for v in result.vulnerabilities.unwrap_or_default() {
                let purl = v.pkg_identifier.and_then(|p| p.purl).unwrap_or_default();
                let Some(kind) = kind_of_purl(&purl).or_else(|| kind_of_trivy_type(&result.kind)) else {
                    read.push(Reported::unnamed(&result.kind, v.id, v.pkg_name, v.installed_version));
                    continue;
                };
                let severity = severity(v.severity.as_deref(), &v.id, &v.pkg_name)?;
                let score =
                    v.cvss.unwrap_or_default().values().filter_map(|c| c.v3_score.and_then(score)).reduce(f32::max);
                let aliases = v.vendor_ids.unwrap_or_default().into_iter().filter(|alias| *alias != v.id).collect();
                read.push(Reported::Found(Finding {
                    aliases,
                    package: v.pkg_name,
                    kind,
                    installed: v.installed_version,
                    fixed: text(v.fixed_version),
                    severity,
                    score,
                    severity_from: None,
                    image: image.clone(),
                    purl,
                    summary: text(v.title),
                    id: v.id,
                }));
            }
        }
        Ok(read)
    }
}

/// The ecosystem of a trivy result's `Type` (its OS families and language analysers), for a
/// finding without a package URL.
fn kind_of_trivy_type(kind: &str) -> Option<PackageKind> {
    match kind {
        "debian" | "ubuntu" => Some(PackageKind::Deb),
        "alpine" | "wolfi" | "chainguard" => Some(PackageKind::Apk),
        "redhat"
        | "centos"
        | "rocky"
        | "alma"
        | "fedora"
        | "oracle"
        | "amazon"
        | "photon"
        | "cbl-mariner"
        | "azurelinux"
        | "opensuse"
        | "opensuse.leap"
        | "opensuse.tumbleweed"
        | "suse linux enterprise server"
        | "suse linux enterprise micro" => Some(PackageKind::Rpm),
        "python-pkg" | "pip" | "pipenv" | "poetry" | "uv" => Some(PackageKind::Pypi),
        "node-pkg" | "npm" | "yarn" | "pnpm" | "bun" => Some(PackageKind::Npm),
        "gomod" | "gobinary" => Some(PackageKind::Golang),
        "cargo" | "rustbinary" => Some(PackageKind::Cargo),
        _ => None,
    }
}

// grype: the `Document` of its presenter/models, fields by their JSON names (camelCase).

#[derive(Deserialize)]
struct GrypeReport {
    #[serde(default)]
    matches: Option<Vec<GrypeMatch>>,
    #[serde(default)]
    source: Option<GrypeSource>,
}

#[derive(Deserialize)]
struct GrypeSource {
    /// An image's metadata (`userInput`, `os`, `architecture`…), or a directory's path.
    #[serde(default)]
    target: Option<serde_json::Value>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GrypeMatch {
    vulnerability: GrypeVulnerability,
    #[serde(default)]
    related_vulnerabilities: Option<Vec<GrypeRelated>>,
    #[serde(default)]
    match_details: Option<Vec<GrypeMatchDetail>>,
    artifact: GrypeArtifact,
}

#[derive(Deserialize)]
struct GrypeVulnerability {
    id: String,
    #[serde(default)]
    severity: Option<String>,
    #[serde(default)]
    description: Option<String>,
    #[serde(default)]
    cvss: Option<Vec<GrypeCvss>>,
    #[serde(default)]
    fix: Option<GrypeFix>,
}

#[derive(Deserialize)]
struct GrypeRelated {
    id: String,
    #[serde(default)]
    cvss: Option<Vec<GrypeCvss>>,
}

#[derive(Deserialize)]
struct GrypeCvss {
    #[serde(default)]
    version: String,
    #[serde(default)]
    metrics: Option<GrypeMetrics>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GrypeMetrics {
    #[serde(default)]
    base_score: Option<f64>,
}

#[derive(Deserialize)]
struct GrypeFix {
    #[serde(default)]
    versions: Option<Vec<String>>,
    #[serde(default)]
    state: String,
}

#[derive(Deserialize)]
struct GrypeMatchDetail {
    #[serde(default)]
    fix: Option<GrypeSuggestedFix>,
}

#[derive(Deserialize)]
#[serde(rename_all = "camelCase")]
struct GrypeSuggestedFix {
    #[serde(default)]
    suggested_version: Option<String>,
}

#[derive(Deserialize)]
struct GrypeArtifact {
    name: String,
    version: String,
    #[serde(rename = "type", default)]
    kind: String,
    #[serde(default)]
    purl: Option<String>,
}

/// The highest CVSS v3 base score among these.
fn grype_score(cvss: Option<&[GrypeCvss]>) -> Option<f32> {
    cvss.unwrap_or_default()
        .iter()
        .filter(|c| c.version.starts_with('3'))
        .filter_map(|c| c.metrics.as_ref()?.base_score.and_then(score))
        .reduce(f32::max)
}

impl GrypeReport {
    fn findings(self) -> Result<Vec<Reported>, String> {
        let image = match self.source.and_then(|s| s.target) {
            Some(serde_json::Value::String(path)) => path,
            Some(target) => {
                let field =
                    |key: &str| target.get(key).and_then(serde_json::Value::as_str).unwrap_or_default().to_owned();
                image_label(&field("userInput"), &field("os"), &field("architecture"))
            }
            None => String::new(),
        };
        let mut read = Vec::new();
        for m in self.matches.unwrap_or_default() {
            let (v, artifact) = (m.vulnerability, m.artifact);
            let purl = artifact.purl.unwrap_or_default();
            let Some(kind) = kind_of_purl(&purl).or_else(|| kind_of_grype_type(&artifact.kind)) else {
                read.push(Reported::unnamed(&artifact.kind, v.id, artifact.name, artifact.version));
                continue;
            };
            let related = m.related_vulnerabilities.unwrap_or_default();
            let severity = severity(v.severity.as_deref(), &v.id, &artifact.name)?;
            let score = grype_score(v.cvss.as_deref())
                .or_else(|| related.iter().filter_map(|r| grype_score(r.cvss.as_deref())).reduce(f32::max));
            let suggested = m.match_details.unwrap_or_default().into_iter().find_map(|d| d.fix?.suggested_version);
            let fixed = match v.fix {
                Some(fix) if fix.state == "fixed" => {
                    text(suggested).or_else(|| text(Some(fix.versions.unwrap_or_default().join(", "))))
                }
                _ => None,
            };
            let mut aliases: Vec<String> = related.into_iter().map(|r| r.id).filter(|id| *id != v.id).collect();
            aliases.dedup();
            read.push(Reported::Found(Finding {
                aliases,
                package: artifact.name,
                kind,
                installed: artifact.version,
                fixed,
                severity,
                score,
                severity_from: None,
                image: image.clone(),
                purl,
                summary: text(v.description),
                id: v.id,
            }));
        }
        Ok(read)
    }
}

/// The ecosystem of a grype artifact's `type` (syft's package types), for a finding without a
/// package URL.
fn kind_of_grype_type(kind: &str) -> Option<PackageKind> {
    match kind {
        "deb" => Some(PackageKind::Deb),
        "apk" => Some(PackageKind::Apk),
        "rpm" => Some(PackageKind::Rpm),
        "python" => Some(PackageKind::Pypi),
        "npm" => Some(PackageKind::Npm),
        "go-module" => Some(PackageKind::Golang),
        "rust-crate" => Some(PackageKind::Cargo),
        _ => None,
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use super::*;
    use crate::fixtures::data;

    fn refusal(json: &str) -> String {
        parse_report(json.as_bytes()).expect_err("the report is refused")
    }

    fn by_id<'a>(findings: &'a [Finding], id: &str) -> &'a Finding {
        findings.iter().find(|f| f.id == id).unwrap_or_else(|| panic!("{id} among the findings"))
    }

    #[test]
    fn a_trivy_image_report_reads_as_findings() {
        let findings = read_report(&data("trivy-debian-12.json")).unwrap();
        assert_eq!(findings.len(), 5);
        let zlib = by_id(&findings, "CVE-2023-45853");
        assert_eq!(
            zlib,
            &Finding {
                id: "CVE-2023-45853".into(),
                aliases: vec![],
                package: "zlib1g".into(),
                kind: PackageKind::Deb,
                installed: "1:1.2.13.dfsg-1".into(),
                fixed: None,
                severity: Severity::Critical,
                score: Some(9.8),
                severity_from: None,
                image: "debian:12 (linux/amd64)".into(),
                purl: "pkg:deb/debian/zlib1g@1:1.2.13.dfsg-1?arch=amd64&distro=debian-12.5".into(),
                summary: Some(
                    "zlib: integer overflow and resultant heap-based buffer overflow in zipOpenNewFileInZip4_6".into()
                ),
            }
        );
        let glibc = by_id(&findings, "CVE-2024-2961");
        assert_eq!(glibc.aliases, ["DSA-5673-1"]);
        assert_eq!(glibc.fixed.as_deref(), Some("2.36-9+deb12u6"));
        let requests = by_id(&findings, "CVE-2024-35195");
        assert_eq!((requests.kind, requests.severity), (PackageKind::Pypi, Severity::Medium));
        assert_eq!(requests.purl, "pkg:pypi/requests@2.31.0");
    }

    #[test]
    fn a_grype_image_report_reads_as_findings() {
        let findings = read_report(&data("grype-debian-12.json")).unwrap();
        assert_eq!(findings.len(), 5);
        let requests = by_id(&findings, "GHSA-9wx4-h78v-vm56");
        assert_eq!(requests.aliases, ["CVE-2024-35195"]);
        assert_eq!(requests.kind, PackageKind::Pypi);
        assert_eq!(requests.fixed.as_deref(), Some("2.32.0"));
        assert_eq!(requests.image, "debian:12 (linux/amd64)");
        let coreutils = by_id(&findings, "CVE-2016-2781");
        assert_eq!(coreutils.severity, Severity::Low, "grype's negligible");
        assert_eq!(coreutils.fixed, None, "wont-fix");
        let glibc = by_id(&findings, "CVE-2024-2961");
        assert_eq!(glibc.fixed.as_deref(), Some("2.36-9+deb12u6"));
        let zlib = by_id(&findings, "CVE-2023-45853");
        assert_eq!(
            (zlib.severity, zlib.score),
            (Severity::Critical, Some(9.8)),
            "the score from the related NVD record"
        );
    }

    #[test]
    fn grype_names_the_fix_it_suggests_over_every_fixed_version() {
        let report = |details: &str| {
            format!(
                r#"{{"matches": [{{"vulnerability": {{"id": "GHSA-1", "severity": "High",
                    "fix": {{"versions": ["1.2.1", "2.1.3", "3.4.0"], "state": "fixed"}}}},
                    "matchDetails": [{details}],
                    "artifact": {{"name": "lib", "version": "2.0.0", "type": "npm", "purl": "pkg:npm/lib@2.0.0"}}}}],
                    "descriptor": {{"name": "grype"}}}}"#
            )
        };
        let suggested = report(r#"{"type": "exact-direct-match", "fix": {"suggestedVersion": "2.1.3"}}"#);
        assert_eq!(parse_report(suggested.as_bytes()).unwrap()[0].fixed.as_deref(), Some("2.1.3"));
        let every = report(r#"{"type": "exact-direct-match"}"#);
        assert_eq!(parse_report(every.as_bytes()).unwrap()[0].fixed.as_deref(), Some("1.2.1, 2.1.3, 3.4.0"));
    }

    #[test]
    fn findings_in_an_ecosystem_a_finding_cannot_name_refuse_the_report() {
        let trivy = r#"{"SchemaVersion": 2, "ArtifactName": "shop:1", "Results": [
            {"Target": "app/lib/log4j-core-2.14.1.jar", "Class": "lang-pkgs", "Type": "jar", "Vulnerabilities": [
              {"VulnerabilityID": "CVE-2021-44228", "PkgName": "org.apache.logging.log4j:log4j-core",
               "PkgIdentifier": {"PURL": "pkg:maven/org.apache.logging.log4j/log4j-core@2.14.1"},
               "InstalledVersion": "2.14.1", "FixedVersion": "2.15.0", "Severity": "CRITICAL"}]}]}"#;
        let why = refusal(trivy);
        assert!(why.contains("jar (1, e.g. CVE-2021-44228 in org.apache.logging.log4j:log4j-core 2.14.1)"), "{why}");
        let grype = r#"{"matches": [{"vulnerability": {"id": "CVE-2023-24329", "severity": "High"},
            "artifact": {"name": "python", "version": "3.11.2", "type": "binary", "purl": "pkg:generic/python@3.11.2"}}],
            "descriptor": {"name": "grype"}}"#;
        assert!(refusal(grype).contains("binary (1, e.g. CVE-2023-24329 in python 3.11.2)"));
    }

    #[test]
    fn a_report_of_neither_scanner_is_refused_clearly() {
        assert!(refusal(r#"{"bomFormat": "CycloneDX"}"#).contains("neither a trivy JSON report"));
        assert!(refusal(r#"{"matches": [], "descriptor": {"name": "other"}}"#).contains("neither"));
        assert!(refusal(r#"[{"Target": "x", "Vulnerabilities": null}]"#).contains("trivy before 0.20"));
        assert!(refusal(r#"{"SchemaVersion": 1, "Results": []}"#).contains("SchemaVersion 1"));
        assert!(refusal("not json").contains("not a JSON report"));
        let odd = r#"{"SchemaVersion": 2, "Results": [{"Type": "debian", "Vulnerabilities": [
            {"VulnerabilityID": "CVE-1", "PkgName": "a", "InstalledVersion": "1", "Severity": "SEVERE"}]}]}"#;
        assert!(refusal(odd).contains("CVE-1 in a: \"severe\" is not a severity"), "{}", refusal(odd));
        let missing = r#"{"SchemaVersion": 2, "Results": [{"Type": "debian", "Vulnerabilities": [{"PkgName": "a"}]}]}"#;
        assert!(refusal(missing).contains("missing field `VulnerabilityID`"));
    }

    #[test]
    fn a_clean_report_has_no_findings() {
        assert!(
            parse_report(br#"{"SchemaVersion": 2, "ArtifactName": "debian:12", "ArtifactType": "container_image"}"#)
                .unwrap()
                .is_empty()
        );
        assert!(
            parse_report(br#"{"matches": [], "source": null, "descriptor": {"name": "grype"}}"#).unwrap().is_empty()
        );
    }

    #[test]
    fn a_file_that_cannot_be_read_is_named() {
        let dir = tempfile::tempdir().unwrap();
        let missing = dir.path().join("missing.json");
        let error = read_report(&missing).unwrap_err();
        assert!(matches!(&error, ScanError::Io { action: "opening", path, .. } if *path == missing), "{error:?}");
        let big = dir.path().join("big.json");
        std::fs::write(&big, vec![b' '; 2048]).unwrap();
        let error = read_capped(&big, 1024).unwrap_err();
        assert!(matches!(&error, ScanError::Input { reason, .. } if reason.contains("over 1024 bytes")), "{error:?}");
    }
}
