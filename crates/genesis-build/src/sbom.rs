//! The bundle's CycloneDX SBOM (`sbom/bundle.cdx.json`), written with the `cyclonedx-bom`
//! crate from the BOM the builder has planned: one component per image (with one
//! sub-component per platform manifest), per chart and per manifest, each with its SHA-256.
//! It is byte-stable: the timestamp is the bundle's `created`, the serial number is derived
//! from the BOM, and every list follows the BOM's order.
//!
//! Beside it, one package SBOM per image and platform (`sbom/images/*.packages.cdx.json`):
//! the packages the builder's inventory found in that platform's layers, which is what a
//! scanner needs, as CycloneDX components with their purls. The bundle SBOM links each image
//! (or platform) component to its package SBOM by a CycloneDX 1.5 BOM-Link.

use std::collections::BTreeMap;

use cyclonedx_bom::external_models::normalized_string::NormalizedString;
use cyclonedx_bom::external_models::spdx::SpdxExpression;
use cyclonedx_bom::external_models::uri::Purl;
use cyclonedx_bom::models::bom::{Bom as CycloneDx, SpecVersion, UrnUuid};
use cyclonedx_bom::models::component::{Classification, Component, Components};
use cyclonedx_bom::models::external_reference::{
    BomLink, ExternalReference, ExternalReferenceType, ExternalReferences, Uri,
};
use cyclonedx_bom::models::hash::{Hash, HashAlgorithm, HashValue, Hashes};
use cyclonedx_bom::models::license::{License, LicenseChoice, Licenses};
use cyclonedx_bom::models::metadata::Metadata;
use cyclonedx_bom::models::property::{Properties, Property};
use cyclonedx_bom::models::tool::{Tool, Tools};
use std::path::PathBuf;

use genesis_bundle::{Bom, ChartEntry, ImageEntry};
use genesis_inventory::{Distro, Package};
use genesis_types::{BundlePath, Descriptor, Digest, ImageManifest, Platform, media_types};

use crate::inventory::ImageInventory;
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
/// gives each image's platform manifests, by image name; each of `package_sboms` is linked
/// from the component of the manifest it describes.
pub fn bundle_sbom(
    bom: &Bom,
    platforms: &BTreeMap<String, Vec<(Platform, Digest)>>,
    package_sboms: &[PackageSbom],
) -> Vec<u8> {
    let sha256_of = |path: &BundlePath| bom.file(path.as_str()).map(|f| f.sha256.clone());
    let images = bom.images.iter().map(|image| {
        let links: Vec<&PackageSbom> = package_sboms.iter().filter(|s| s.image == image.name).collect();
        image_component(image, platforms.get(&image.name).map_or(&[][..], Vec::as_slice), &links)
    });
    let charts = bom.charts.iter().filter_map(|chart| Some(chart_component(chart, &sha256_of(&chart.path)?)));
    let manifests = bom.manifests.iter().filter_map(|m| Some(manifest_component(&m.path, &sha256_of(&m.path)?)));
    let doc = CycloneDx {
        serial_number: UrnUuid::new(serial_number(bom)).ok(),
        metadata: Some(metadata(bom, bundle_component(bom))),
        components: Some(Components(images.chain(charts).chain(manifests).collect())),
        spec_version: SpecVersion::V1_5,
        ..CycloneDx::default()
    };
    json_v1_5(doc)
}

/// One image's package SBOM, as [`package_sboms`] makes it: what the bundle carries under
/// `sbom/images/` and what the bundle SBOM links to.
pub struct PackageSbom {
    /// The image it describes, by its name in the BOM.
    pub image: String,
    /// The platform manifest whose layers were inventoried.
    pub manifest: Digest,
    /// Its path in the bundle ([`package_sbom_path`]).
    pub path: String,
    /// Its serial number (`urn:uuid:…`), which the bundle SBOM's BOM-Link names.
    pub serial: String,
    /// The CycloneDX JSON document.
    pub document: Vec<u8>,
}

/// The package SBOM of each inventory, in their order; an inventory of an image `bom` does
/// not list has none.
pub fn package_sboms(bom: &Bom, inventories: &[ImageInventory]) -> Vec<PackageSbom> {
    inventories
        .iter()
        .filter_map(|inv| {
            let image = bom.images.iter().find(|i| i.name == inv.image)?;
            Some(PackageSbom {
                image: inv.image.clone(),
                manifest: inv.manifest.clone(),
                path: package_sbom_path(&inv.image, inv.platform.as_ref()),
                serial: package_serial(bom, image, inv),
                document: image_package_sbom(bom, image, inv),
            })
        })
        .collect()
}

/// Where an image's package SBOM lives in the bundle:
/// `sbom/images/NAME.OS-ARCH[-VARIANT].packages.cdx.json`, or `sbom/images/NAME.packages.cdx.json`
/// for an image whose single manifest states no platform. The platform comes from the
/// image's index, which anyone may have written: every character but letters, digits, `.`
/// and `_` becomes `_`, so it can neither add a folder nor clash with the separators.
pub fn package_sbom_path(image: &str, platform: Option<&Platform>) -> String {
    let safe = |part: &str| -> String {
        part.chars().map(|c| if c.is_ascii_alphanumeric() || c == '.' || c == '_' { c } else { '_' }).collect()
    };
    let platform = platform.map_or_else(String::new, |p| {
        let variant = p.variant.as_deref().map(|v| format!("-{}", safe(v))).unwrap_or_default();
        format!(".{}-{}{variant}", safe(&p.os), safe(&p.architecture))
    });
    format!("sbom/images/{image}{platform}{}", genesis_bundle::PACKAGE_SBOM_SUFFIX)
}

/// The package SBOM of one platform manifest of `image` (CycloneDX 1.5 JSON): the manifest
/// as the container it describes, the image's distribution as an `operating-system`
/// component, then every package found, sorted, each with its purl, licences, and the layer
/// and file it was found in. What the inventory saw but could not read is stated in the
/// metadata, one `genesis:note` property each. Byte-stable like the bundle SBOM: its
/// timestamp is the bundle's `created` and its serial number is derived from the bundle, the
/// image and the platform.
pub fn image_package_sbom(bom: &Bom, image: &ImageEntry, inv: &ImageInventory) -> Vec<u8> {
    let found = &inv.inventory;
    let mut packages: Vec<&Package> = found.packages.iter().collect();
    packages.sort();
    let os = found.distro.as_ref().map(distro_component);
    let components = os.into_iter().chain(packages.into_iter().map(package_component)).collect();
    let mut described = metadata(bom, platform_component(image, &inv.manifest, inv.platform.as_ref()));
    // `genesis:note`: a gap in the inventory (what `genesis scan` refuses to pass);
    // `genesis:skipped`: a blob with nothing to inventory.
    let notes = found.notes.iter().map(|note| property("genesis:note", note));
    let skipped = inv.skipped.iter().map(|note| property("genesis:skipped", note));
    let properties: Vec<Property> = notes.chain(skipped).collect();
    if !properties.is_empty() {
        described.properties = Some(Properties(properties));
    }
    let doc = CycloneDx {
        serial_number: UrnUuid::new(package_serial(bom, image, inv)).ok(),
        metadata: Some(described),
        components: Some(Components(components)),
        spec_version: SpecVersion::V1_5,
        ..CycloneDx::default()
    };
    json_v1_5(doc)
}

/// `doc` as CycloneDX 1.5 JSON, with a final newline.
fn json_v1_5(doc: CycloneDx) -> Vec<u8> {
    let mut out = Vec::new();
    doc.output_as_json_v1_5(&mut out).expect("a CycloneDX document built from a valid BOM serialises");
    out.push(b'\n');
    out
}

/// An image: a container component named and hashed by its digest, with one sub-component
/// per platform manifest. Each of `package_sboms` is linked from the platform component of
/// its manifest, or from the image's when no platform component has that manifest.
fn image_component(image: &ImageEntry, platforms: &[(Platform, Digest)], package_sboms: &[&PackageSbom]) -> Component {
    let mut c = platform_component(image, &image.digest, None);
    c.properties = Some(Properties(vec![
        property("genesis:ref", &image.reference),
        property("genesis:source", &image.source),
        property("genesis:mediaType", &image.media_type),
    ]));
    c.external_references =
        bom_links(package_sboms.iter().copied().filter(|s| !platforms.iter().any(|(_, digest)| *digest == s.manifest)));
    let children: Vec<Component> = platforms
        .iter()
        .map(|(platform, digest)| {
            let mut p = platform_component(image, digest, Some(platform));
            p.external_references = bom_links(package_sboms.iter().copied().filter(|s| s.manifest == *digest));
            p
        })
        .collect();
    if !children.is_empty() {
        c.components = Some(Components(children));
    }
    c
}

/// The container component of one of an image's manifests (its top manifest or index, or a
/// platform's manifest): named after the image and the platform, versioned and hashed by the
/// manifest's digest.
fn platform_component(image: &ImageEntry, digest: &Digest, platform: Option<&Platform>) -> Component {
    let name = match platform {
        Some(platform) => format!("{} ({platform})", image.name),
        None => image.name.clone(),
    };
    let mut c = component(Classification::Container, &name, &digest.to_string(), digest);
    c.purl = Some(oci_purl(&image.reference, digest, platform));
    c
}

/// CycloneDX 1.5's link from a component to the BOM that describes it further: a BOM-Link
/// (`urn:cdx:SERIAL/1`) to each package SBOM, with its path in the bundle and its SHA-256;
/// `None` when there is none.
fn bom_links<'a>(package_sboms: impl Iterator<Item = &'a PackageSbom>) -> Option<ExternalReferences> {
    let links: Vec<ExternalReference> = package_sboms
        .map(|sbom| ExternalReference {
            external_reference_type: ExternalReferenceType::Bom,
            url: Uri::BomLink(BomLink(format!(
                "urn:cdx:{}/1",
                sbom.serial.strip_prefix("urn:uuid:").unwrap_or(&sbom.serial)
            ))),
            comment: Some(format!("package SBOM {} in the bundle", sbom.path)),
            hashes: Some(sha256_hashes(&genesis_bundle::sha256(&sbom.document))),
        })
        .collect();
    if links.is_empty() { None } else { Some(ExternalReferences(links)) }
}

/// The image's distribution as its own `operating-system` component, named by its
/// os-release `ID` and versioned by its `VERSION_ID`: what trivy reads to know which
/// distribution's advisories apply to the OS packages.
fn distro_component(distro: &Distro) -> Component {
    let mut c = Component::new(Classification::OperatingSystem, &distro.id, "", None);
    c.version = distro.version_id.as_deref().map(NormalizedString::new);
    c.description = distro.pretty_name.as_deref().map(NormalizedString::new);
    if let Some(codename) = &distro.version_codename {
        c.properties = Some(Properties(vec![property("genesis:versionCodename", codename)]));
    }
    c
}

/// One installed package: a library component with its purl, its licences, and where it was
/// found (`genesis:layer`, `genesis:foundIn`) and built from (`genesis:source`).
fn package_component(package: &Package) -> Component {
    let mut c = Component::new(Classification::Library, &package.name, &package.version, None);
    c.purl = package.purl.parse().ok();
    c.licenses = licenses(&package.licenses);
    let mut properties =
        vec![property("genesis:layer", &package.layer), property("genesis:foundIn", &package.found_in)];
    if let Some(source) = &package.source {
        properties.push(property("genesis:source", source));
    }
    c.properties = Some(Properties(properties));
    c
}

/// The licences a package's metadata states, in one of the two forms CycloneDX 1.5 allows: a
/// single SPDX expression when the metadata states one licence that parses as one (`MIT`,
/// `GPL-2.0-or-later OR MIT`), else each licence by its name as stated. Several licences
/// are never joined into one expression: metadata that lists several does not say whether
/// they all apply or any one does.
fn licenses(stated: &[String]) -> Option<Licenses> {
    if let [one] = stated
        && let Ok(expression) = SpdxExpression::try_from(one.clone())
    {
        return Some(Licenses(vec![LicenseChoice::Expression(expression)]));
    }
    if stated.is_empty() {
        return None;
    }
    Some(Licenses(stated.iter().map(|name| LicenseChoice::License(License::named_license(name))).collect()))
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

/// The bundle itself, as the component its SBOM describes.
fn bundle_component(bom: &Bom) -> Component {
    let mut bundle =
        Component::new(Classification::Application, &bom.name, &bom.version, Some(format!("bundle:{}", bom.name)));
    bundle.description = Some(NormalizedString::new("Genesis air-gap bundle"));
    bundle
}

/// A document's metadata: the bundle's `created` as its timestamp, the builder as its tool,
/// and `component` as what it describes.
fn metadata(bom: &Bom, component: Component) -> Metadata {
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
        component: Some(component),
        manufacture: None,
        supplier: None,
        licenses: None,
        properties: None,
        lifecycles: None,
    }
}

fn component(kind: Classification, name: &str, version: &str, sha256: &Digest) -> Component {
    let mut c = Component::new(kind, name, version, None);
    c.hashes = Some(sha256_hashes(sha256));
    c
}

fn sha256_hashes(sha256: &Digest) -> Hashes {
    Hashes(vec![Hash { alg: HashAlgorithm::SHA_256, content: HashValue(sha256.hex().to_owned()) }])
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

/// A UUID-shaped serial number derived from the BOM, so a rebuild gives the same document
/// and two different bundles never share one.
fn serial_number(bom: &Bom) -> String {
    urn_uuid(&genesis_bundle::sha256(&bom.to_bytes()))
}

/// The serial number of an image's package SBOM, derived from what identifies it: the
/// bundle's name, version and `created`, the image and the platform manifest. Not from the
/// whole BOM, which still grows after the package SBOMs are written: the bundle SBOM,
/// written later, links to this same number.
fn package_serial(bom: &Bom, image: &ImageEntry, inv: &ImageInventory) -> String {
    let platform = inv.platform.as_ref().map(ToString::to_string).unwrap_or_default();
    let identity = format!(
        "{}\n{}\n{}\n{}\n{}\n{platform}\n{}\n",
        bom.name, bom.version, bom.created, image.name, image.digest, inv.manifest
    );
    urn_uuid(&genesis_bundle::sha256(identity.as_bytes()))
}

/// A UUID URN made from a digest (RFC 4122 version 8, "custom").
fn urn_uuid(d: &Digest) -> String {
    let h = d.hex();
    let variant = (u8::from_str_radix(&h[16..18], 16).unwrap_or(0) & 0x3f) | 0x80;
    format!("urn:uuid:{}-{}-8{}-{variant:02x}{}-{}", &h[0..8], &h[8..12], &h[13..16], &h[18..20], &h[20..32])
}

#[cfg(test)]
pub(crate) mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use cyclonedx_bom::validation::Validate;
    use genesis_inventory::{Inventory, PackageKind};

    use super::*;

    pub(crate) fn digest(fill: char) -> Digest {
        format!("sha256:{}", fill.to_string().repeat(64)).parse().unwrap()
    }

    pub(crate) fn platform(text: &str) -> Platform {
        text.parse().unwrap()
    }

    /// A bundle of two images: `app`, an index for two platforms, and `db`, a single manifest
    /// that states no platform.
    pub(crate) fn bom() -> Bom {
        let image = |name: &str, digest: Digest, media_type: &str, platforms: &[&str]| ImageEntry {
            name: name.into(),
            source: format!("oci:layouts/{name}:1.0"),
            reference: format!("registry.example.com/demo/{name}:1.0"),
            digest,
            source_digest: None,
            media_type: media_type.into(),
            platforms: platforms.iter().map(|p| (*p).to_owned()).collect(),
        };
        Bom {
            schema: genesis_bundle::BOM_SCHEMA.into(),
            name: "demo".into(),
            version: "1.0.0".into(),
            created: "2024-05-01T00:00:00Z".into(),
            expires: None,
            files: Vec::new(),
            images: vec![
                image("app", digest('a'), media_types::OCI_INDEX, &["linux/amd64", "linux/arm64/v8"]),
                image("db", digest('e'), media_types::OCI_MANIFEST, &[]),
            ],
            charts: Vec::new(),
            manifests: Vec::new(),
            sboms: Vec::new(),
            scan: None,
            requires: None,
        }
    }

    fn package(kind: PackageKind, name: &str, version: &str, purl: &str, licenses: &[&str]) -> Package {
        Package {
            kind,
            name: name.into(),
            version: version.into(),
            source: None,
            arch: None,
            licenses: licenses.iter().map(|l| (*l).to_owned()).collect(),
            purl: purl.into(),
            found_in: "usr/lib/somewhere".into(),
            layer: digest('c').to_string(),
        }
    }

    /// The packages of a Debian image with Python, npm and Rust software in it, not in order,
    /// and what the inventory could not read.
    pub(crate) fn inventory(image: &str, platform: Option<Platform>, manifest: Digest) -> ImageInventory {
        let mut libssl = package(
            PackageKind::Deb,
            "libssl3",
            "3.0.11-1~deb12u2",
            "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12",
            &[],
        );
        libssl.source = Some("openssl".into());
        libssl.found_in = "var/lib/dpkg/status".into();
        let packages = vec![
            package(PackageKind::Cargo, "serde", "1.0.190", "pkg:cargo/serde@1.0.190", &["MIT OR Apache-2.0"]),
            package(PackageKind::Pypi, "requests", "2.31.0", "pkg:pypi/requests@2.31.0", &["Apache-2.0"]),
            libssl,
            package(
                PackageKind::Npm,
                "@babel/core",
                "7.23.0",
                "pkg:npm/%40babel/core@7.23.0",
                &["MIT", "see LICENSE in the package"],
            ),
        ];
        ImageInventory {
            image: image.into(),
            platform,
            manifest,
            unreadable: None,
            skipped: Vec::new(),
            inventory: Inventory {
                distro: Some(Distro {
                    id: "debian".into(),
                    version_id: Some("12".into()),
                    version_codename: Some("bookworm".into()),
                    pretty_name: Some("Debian GNU/Linux 12 (bookworm)".into()),
                }),
                packages,
                notes: vec![
                    "var/lib/rpm/Packages is an RPM BerkeleyDB database: not inventoried".into(),
                    "usr/local/bin/tool is a Go binary without build information: not inventoried".into(),
                ],
            },
        }
    }

    /// CycloneDX's own validators, both: the Rust crate's model checks and the Python
    /// library's strict JSON-schema validation.
    fn assert_valid(document: &[u8]) {
        let parsed = CycloneDx::parse_from_json_v1_5(document).unwrap();
        let checked = parsed.validate_version(SpecVersion::V1_5);
        assert!(checked.passed(), "{checked:?}");
        genesis_testkit::schema::validate_cyclonedx_1_5(document).unwrap();
    }

    #[test]
    fn a_package_sbom_is_valid_cyclonedx_with_every_package_purl_licence_and_note() {
        let bom = bom();
        let inv = inventory("app", Some(platform("linux/arm64/v8")), digest('b'));
        let document = image_package_sbom(&bom, &bom.images[0], &inv);
        assert_valid(&document);

        let doc: serde_json::Value = serde_json::from_slice(&document).unwrap();
        assert_eq!(doc["specVersion"], "1.5");
        assert_eq!(doc["metadata"]["timestamp"], "2024-05-01T00:00:00Z");
        let image = &doc["metadata"]["component"];
        assert_eq!((image["type"].as_str(), image["name"].as_str()), (Some("container"), Some("app (linux/arm64/v8)")));
        assert_eq!(image["hashes"][0]["content"], digest('b').hex());
        let purl = image["purl"].as_str().unwrap();
        assert!(purl.starts_with(&format!("pkg:oci/app@sha256%3A{}?", digest('b').hex())), "{purl}");
        assert!(purl.contains("arch=arm64") && purl.contains("variant=v8"), "{purl}");
        let notes: Vec<&str> = doc["metadata"]["properties"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| {
                assert_eq!(p["name"], "genesis:note");
                p["value"].as_str().unwrap()
            })
            .collect();
        assert_eq!(notes, inv.inventory.notes);

        let components = doc["components"].as_array().unwrap();
        let os = &components[0];
        let text = |field: &str| os[field].as_str();
        assert_eq!(
            [text("type"), text("name"), text("version"), text("description")],
            [Some("operating-system"), Some("debian"), Some("12"), Some("Debian GNU/Linux 12 (bookworm)")]
        );
        // Every package, sorted as the inventory sorts them (by ecosystem, then name).
        let purls: Vec<&str> = components[1..].iter().map(|c| c["purl"].as_str().unwrap()).collect();
        assert_eq!(
            purls,
            [
                "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12",
                "pkg:pypi/requests@2.31.0",
                "pkg:npm/%40babel/core@7.23.0",
                "pkg:cargo/serde@1.0.190",
            ]
        );
        assert!(components[1..].iter().all(|c| c["type"] == "library"));
        let libssl = &components[1];
        let properties: Vec<(&str, &str)> = libssl["properties"]
            .as_array()
            .unwrap()
            .iter()
            .map(|p| (p["name"].as_str().unwrap(), p["value"].as_str().unwrap()))
            .collect();
        let layer = digest('c').to_string();
        assert_eq!(
            properties,
            [
                ("genesis:layer", layer.as_str()),
                ("genesis:foundIn", "var/lib/dpkg/status"),
                ("genesis:source", "openssl")
            ]
        );
        // A single SPDX expression stays one; several licences, or one that is not SPDX, are
        // each named as stated; none stated, none written.
        assert!(libssl.get("licenses").is_none(), "{libssl}");
        assert_eq!(components[2]["licenses"], serde_json::json!([{ "expression": "Apache-2.0" }]));
        assert_eq!(
            components[3]["licenses"],
            serde_json::json!([{ "license": { "name": "MIT" } }, { "license": { "name": "see LICENSE in the package" } }])
        );
        assert_eq!(components[4]["licenses"], serde_json::json!([{ "expression": "MIT OR Apache-2.0" }]));
    }

    #[test]
    fn a_package_sbom_is_byte_stable_and_its_serial_number_is_its_own_per_image_and_platform() {
        let bom = bom();
        let arm64 = inventory("app", Some(platform("linux/arm64/v8")), digest('b'));
        let first = image_package_sbom(&bom, &bom.images[0], &arm64);
        assert_eq!(first, image_package_sbom(&bom, &bom.images[0], &arm64));

        let serial = |document: &[u8]| {
            let doc: serde_json::Value = serde_json::from_slice(document).unwrap();
            doc["serialNumber"].as_str().unwrap().to_owned()
        };
        let amd64 = inventory("app", Some(platform("linux/amd64")), digest('d'));
        let serials = [
            serial(&first),
            serial(&image_package_sbom(&bom, &bom.images[0], &amd64)),
            serial(&bundle_sbom(&bom, &BTreeMap::new(), &[])),
        ];
        assert!(serials.iter().all(|s| s.starts_with("urn:uuid:") && s.len() == 45), "{serials:?}");
        assert!(serials[0] != serials[1] && serials[1] != serials[2] && serials[0] != serials[2], "{serials:?}");
        let mut later = bom.clone();
        later.created = "2024-06-01T00:00:00Z".into();
        assert_ne!(serial(&image_package_sbom(&later, &later.images[0], &arm64)), serials[0]);
    }

    #[test]
    fn the_bundle_sbom_links_each_manifest_to_its_package_sbom_by_bom_link_path_and_sha256() {
        let bom = bom();
        let (amd64, arm64) = (platform("linux/amd64"), platform("linux/arm64/v8"));
        let inventories = [
            inventory("app", Some(arm64.clone()), digest('b')),
            inventory("app", Some(amd64.clone()), digest('d')),
            inventory("db", None, digest('e')),
        ];
        let sboms = package_sboms(&bom, &inventories);
        let paths: Vec<&str> = sboms.iter().map(|s| s.path.as_str()).collect();
        assert_eq!(
            paths,
            [
                "sbom/images/app.linux-arm64-v8.packages.cdx.json",
                "sbom/images/app.linux-amd64.packages.cdx.json",
                "sbom/images/db.packages.cdx.json",
            ]
        );
        let platforms = BTreeMap::from([("app".to_owned(), vec![(amd64, digest('d')), (arm64, digest('b'))])]);
        let document = bundle_sbom(&bom, &platforms, &sboms);
        assert_valid(&document);

        let doc: serde_json::Value = serde_json::from_slice(&document).unwrap();
        let link_of = |component: &serde_json::Value| {
            let links = component["externalReferences"].as_array().unwrap();
            assert_eq!(links.len(), 1, "{component}");
            links[0].clone()
        };
        let expected = |sbom: &PackageSbom| {
            let package_doc: serde_json::Value = serde_json::from_slice(&sbom.document).unwrap();
            assert_eq!(package_doc["serialNumber"], sbom.serial);
            serde_json::json!({
                "type": "bom",
                "url": format!("urn:cdx:{}/1", sbom.serial.strip_prefix("urn:uuid:").unwrap()),
                "comment": format!("package SBOM {} in the bundle", sbom.path),
                "hashes": [{ "alg": "SHA-256", "content": genesis_bundle::sha256(&sbom.document).hex() }],
            })
        };
        let (app, db) = (&doc["components"][0], &doc["components"][1]);
        assert!(app.get("externalReferences").is_none(), "an index links from its platforms: {app}");
        assert_eq!(link_of(&app["components"][0]), expected(&sboms[1]), "linux/amd64");
        assert_eq!(link_of(&app["components"][1]), expected(&sboms[0]), "linux/arm64/v8");
        assert_eq!(link_of(db), expected(&sboms[2]), "a single manifest links from the image itself");

        let unlinked = String::from_utf8(bundle_sbom(&bom, &platforms, &[])).unwrap();
        assert!(!unlinked.contains("externalReferences"), "{unlinked}");
    }

    #[test]
    fn a_package_sbom_path_names_image_and_platform_and_cannot_leave_its_folder() {
        assert_eq!(package_sbom_path("db", None), "sbom/images/db.packages.cdx.json");
        assert_eq!(
            package_sbom_path("app", Some(&platform("linux/arm64/v8"))),
            "sbom/images/app.linux-arm64-v8.packages.cdx.json"
        );
        let hostile = Platform {
            architecture: "../../x".into(),
            os: "linux/evil".into(),
            variant: Some("a b".into()),
            os_version: None,
        };
        let path = package_sbom_path("app", Some(&hostile));
        assert_eq!(path, "sbom/images/app.linux_evil-.._.._x-a_b.packages.cdx.json");
        assert!(path.parse::<BundlePath>().is_ok(), "{path}");
    }
}
