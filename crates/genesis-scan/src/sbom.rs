//! The packages of a CycloneDX SBOM, read back for matching: each component's package URL
//! gives its ecosystem, name, version, architecture and distribution. This is how `genesis
//! scan` reads the package SBOMs a bundle carries (and any other CycloneDX document with
//! purls), so that a scan needs the SBOM, not the images' layers.

use std::path::Path;

use genesis_inventory::{Distro, Package, PackageKind};
use serde_json::Value;

use crate::ScanError;

/// What one SBOM describes: its distribution, when it names one, and its packages.
#[derive(Debug, Clone, PartialEq, Eq, Default)]
pub struct SbomPackages {
    /// The operating system component (`type: operating-system`), else the `distro`
    /// qualifier of the first distribution package.
    pub distro: Option<Distro>,
    /// Every component (nested ones too) whose purl is of an ecosystem we match.
    pub packages: Vec<Package>,
    /// Components with a purl of another type, which no ecosystem here matches.
    pub skipped: usize,
    /// The gaps of the inventory the document was written from (`genesis:note` properties of
    /// its `metadata`): package metadata seen but not read.
    pub notes: Vec<String>,
    /// The platform (`linux/amd64`, `linux/arm/v7`) of the image the document describes,
    /// from the `os`, `arch` and `variant` qualifiers of its `metadata.component`'s purl.
    pub platform: Option<String>,
}

/// Reads the packages of the CycloneDX JSON `bytes` (from `origin`, for errors).
pub fn packages_in_cyclonedx(bytes: &[u8], origin: &Path) -> Result<SbomPackages, ScanError> {
    let refuse = |reason: String| ScanError::Input { path: origin.to_owned(), reason };
    let doc: Value = serde_json::from_slice(bytes).map_err(|e| refuse(format!("not JSON: {e}")))?;
    if doc.get("bomFormat").and_then(Value::as_str) != Some("CycloneDX") {
        return Err(refuse("not a CycloneDX document (no \"bomFormat\": \"CycloneDX\")".into()));
    }
    let mut components = Vec::new();
    collect(doc.get("components"), &mut components);
    let mut found =
        SbomPackages { platform: described_platform(&doc), notes: metadata_notes(&doc), ..SbomPackages::default() };
    for c in components {
        if c.get("type").and_then(Value::as_str) == Some("operating-system") && found.distro.is_none() {
            found.distro = c.get("name").and_then(Value::as_str).map(|id| Distro {
                id: id.to_owned(),
                version_id: c.get("version").and_then(Value::as_str).map(str::to_owned),
                version_codename: None,
                pretty_name: None,
            });
            continue;
        }
        let Some(purl) = c.get("purl").and_then(Value::as_str) else { continue };
        match package(c, purl) {
            Some(p) => found.packages.push(p),
            None => found.skipped += 1,
        }
    }
    if found.distro.is_none() {
        found.distro = found.packages.iter().find_map(|p| distro_qualifier(&p.purl));
    }
    found.packages.sort();
    found.packages.dedup();
    Ok(found)
}

/// The `genesis:note` properties of `doc`'s metadata.
fn metadata_notes(doc: &Value) -> Vec<String> {
    let properties = doc.get("metadata").and_then(|m| m.get("properties")).and_then(Value::as_array);
    properties
        .into_iter()
        .flatten()
        .filter(|p| p.get("name").and_then(Value::as_str) == Some("genesis:note"))
        .filter_map(|p| p.get("value").and_then(Value::as_str).map(str::to_owned))
        .collect()
}

/// The platform of the image `doc` describes, when its purl says one.
fn described_platform(doc: &Value) -> Option<String> {
    let purl = doc.get("metadata")?.get("component")?.get("purl")?.as_str()?;
    let purl: purl::GenericPurl<String> = purl.parse().ok()?;
    let q = purl.qualifiers();
    let (os, arch) = (q.get("os")?, q.get("arch")?);
    Some(match q.get("variant") {
        Some(variant) => format!("{os}/{arch}/{variant}"),
        None => format!("{os}/{arch}"),
    })
}

/// Every component of `list`, and theirs, depth first.
fn collect<'a>(list: Option<&'a Value>, out: &mut Vec<&'a Value>) {
    for c in list.and_then(Value::as_array).into_iter().flatten() {
        out.push(c);
        collect(c.get("components"), out);
    }
}

/// The package a component's purl names, when it is of an ecosystem we match.
fn package(component: &Value, purl_text: &str) -> Option<Package> {
    let purl: purl::GenericPurl<String> = purl_text.parse().ok()?;
    let kind = PackageKind::from_purl_type(purl.package_type().as_str())?;
    let version = purl.version()?.to_owned();
    // npm scopes and Go module paths are part of the name; a distribution's namespace is
    // its vendor, not part of the package's name.
    let name = match (kind, purl.namespace()) {
        (PackageKind::Npm | PackageKind::Golang, Some(namespace)) => format!("{namespace}/{}", purl.name()),
        _ => purl.name().to_owned(),
    };
    let property = |key: &str| {
        component.get("properties").and_then(Value::as_array)?.iter().find_map(|p| {
            (p.get("name").and_then(Value::as_str) == Some(key)).then(|| p.get("value")?.as_str().map(str::to_owned))?
        })
    };
    let qualifiers = purl.qualifiers();
    let source = property("genesis:source").or_else(|| qualifiers.get("upstream").map(str::to_owned));
    // An rpm purl carries the epoch as a qualifier; the version compared is `epoch:version`.
    let version = match (kind, qualifiers.get("epoch")) {
        (PackageKind::Rpm, Some(epoch)) if !epoch.is_empty() && epoch != "0" => format!("{epoch}:{version}"),
        _ => version,
    };
    let licenses = component
        .get("licenses")
        .and_then(Value::as_array)
        .into_iter()
        .flatten()
        .filter_map(|l| {
            let text =
                l.get("expression").or_else(|| l.get("license").and_then(|x| x.get("id").or_else(|| x.get("name"))));
            text.and_then(Value::as_str).map(str::to_owned)
        })
        .collect();
    Some(Package {
        kind,
        name,
        version,
        source,
        arch: qualifiers.get("arch").map(str::to_owned),
        licenses,
        purl: purl_text.to_owned(),
        found_in: property("genesis:foundIn").unwrap_or_default(),
        layer: property("genesis:layer").unwrap_or_default(),
    })
}

/// The distribution a purl's `distro` qualifier names (`debian-12`, `alpine-3.18.4`).
fn distro_qualifier(purl_text: &str) -> Option<Distro> {
    let purl: purl::GenericPurl<String> = purl_text.parse().ok()?;
    let distro = purl.qualifiers().get("distro")?;
    let (id, version) = distro.rsplit_once('-').filter(|(_, v)| v.starts_with(|c: char| c.is_ascii_digit()))?;
    Some(Distro { id: id.to_owned(), version_id: Some(version.to_owned()), version_codename: None, pretty_name: None })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn packages_come_back_from_their_purls_with_distro_source_and_epoch() {
        let doc = serde_json::json!({
            "bomFormat": "CycloneDX", "specVersion": "1.5",
            "metadata": {"component": {"type": "container", "name": "app (linux/arm/v7)",
                "purl": "pkg:oci/app@sha256:00?arch=arm&os=linux&variant=v7&repository_url=r.example/app"}},
            "components": [
                {"type": "container", "name": "app", "components": [
                    {"type": "library", "name": "openssl", "version": "3.0.11-1~deb12u2",
                     "purl": "pkg:deb/debian/openssl@3.0.11-1~deb12u2?arch=amd64&distro=debian-12",
                     "properties": [{"name": "genesis:source", "value": "openssl-src"},
                                    {"name": "genesis:layer", "value": "sha256:aa"}]}
                ]},
                {"type": "library", "name": "bash", "purl": "pkg:rpm/rocky/bash@5.1.8-6.el9?arch=x86_64&epoch=1&distro=rocky-9.3"},
                {"type": "library", "name": "x", "purl": "pkg:npm/%40types/node@20.1.0", "licenses": [{"license": {"id": "MIT"}}]},
                {"type": "library", "name": "y", "purl": "pkg:golang/golang.org/x/net@v0.17.0"},
                {"type": "library", "name": "z", "purl": "pkg:maven/org.example/z@1.0"}
            ]
        });
        let found = packages_in_cyclonedx(doc.to_string().as_bytes(), Path::new("sbom.json")).unwrap();
        assert_eq!(found.skipped, 1, "the maven package is of no ecosystem matched here");
        let by_name = |n: &str| found.packages.iter().find(|p| p.name == n).unwrap();
        let openssl = by_name("openssl");
        assert_eq!(
            (openssl.kind, openssl.source.as_deref(), openssl.layer.as_str()),
            (PackageKind::Deb, Some("openssl-src"), "sha256:aa")
        );
        assert_eq!(by_name("bash").version, "1:5.1.8-6.el9");
        assert_eq!(by_name("@types/node").licenses, ["MIT"]);
        assert_eq!(by_name("golang.org/x/net").version, "v0.17.0");
        assert_eq!(found.platform.as_deref(), Some("linux/arm/v7"));
        let distro = found.distro.unwrap();
        assert_eq!((distro.id.as_str(), distro.version_id.as_deref()), ("debian", Some("12")));
    }

    #[test]
    fn a_document_that_is_not_cyclonedx_is_refused_by_name() {
        let err = packages_in_cyclonedx(br#"{"spdxVersion": "SPDX-2.3"}"#, Path::new("x.json")).unwrap_err();
        assert!(err.to_string().contains("x.json"), "{err}");
    }
}
