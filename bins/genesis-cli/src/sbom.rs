//! `genesis sbom`: write a verified bundle's SBOMs out for any scanner (`trivy sbom`, `grype
//! sbom:`), after its signature is checked: one CycloneDX document with the bundle's
//! components and every package the builder inventoried in its images (seed 000's
//! `sbom-3.2.10.cdx.json`), or one image's packages with `--image`. Each document is read
//! from the archive in place and checked against the SHA-256 the signed BOM lists for it.
//! A merged document describes what was merged (its `metadata.component`): the bundle made
//! of its images, or the image made of its platforms, each platform with the notes of its
//! inventory. An image the bundle carries no package SBOM of says so in its component, and
//! is named on stderr: a scanner would read it as an image without packages.

use std::path::PathBuf;

use anyhow::Context as _;
use genesis_bundle::{ArchiveIndex, Bom, ImageEntry, SbomEntry};
use genesis_cli_support::verify::{VerifyArgs, report_trust_error, verify_signature};
use genesis_cli_support::{OutputFormat, exit, outln, print_json};
use genesis_trust::SignedBom as _;
use serde_json::Value;

/// The largest SBOM document read whole.
const MAX_SBOM: u64 = 64 << 20;

/// Arguments of `sbom`.
#[derive(Debug, clap::Args)]
pub struct SbomArgs {
    /// Verification inputs, as for `genesis verify`.
    #[command(flatten)]
    pub verify: VerifyArgs,
    /// Where to write the document (atomically); default `sbom-VERSION.cdx.json` here.
    #[arg(short = 'o', long = "output-file", value_name = "FILE")]
    pub output_file: Option<PathBuf>,
    /// Only this image's packages (its name in the bundle's BOM), every platform of it: the
    /// document describes the image, made of one component per platform.
    #[arg(long, value_name = "NAME")]
    pub image: Option<String>,
}

/// Runs `sbom`: exit 0 written, 1 verification refused (nothing written).
pub fn run(args: &SbomArgs) -> anyhow::Result<u8> {
    let bundle_path = args.verify.bundle();
    let verified = match verify_signature(&args.verify) {
        Ok(v) => v,
        Err(e) => return report_trust_error(&args.verify, e, "no SBOM was written"),
    };
    let bom = verified.bom();
    let index = verified
        .archive_index(&args.verify.limits.limits())
        .with_context(|| format!("reading the SBOMs of {} in place", bundle_path.display()))?;
    let read = |entry: &SbomEntry| -> anyhow::Result<Value> {
        let bytes = read_sbom(bom, &index, entry)?;
        serde_json::from_slice(&bytes).with_context(|| format!("{} is not JSON", entry.path))
    };
    let packages: Vec<&SbomEntry> =
        bom.package_sboms().filter(|e| args.image.as_deref().is_none_or(|image| e.describes == image)).collect();
    let (document, uninventoried) = match &args.image {
        Some(name) => {
            let (Some(image), Some((first, rest))) =
                (bom.images.iter().find(|i| i.name == *name), packages.split_first())
            else {
                anyhow::bail!(
                    "{} has no package SBOM for an image named {name:?}; its images: {}",
                    bundle_path.display(),
                    bom.images.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ")
                );
            };
            let rest = rest.iter().map(|entry| read(entry)).collect::<anyhow::Result<Vec<_>>>()?;
            (image_document(image, read(first)?, rest), Vec::new())
        }
        None => {
            let bundle_sbom = bom
                .bundle_sbom()
                .with_context(|| format!("{} lists no SBOM of the bundle in its BOM", bundle_path.display()))?;
            let documents = packages
                .iter()
                .map(|entry| anyhow::Ok((entry.describes.as_str(), read(entry)?)))
                .collect::<anyhow::Result<Vec<_>>>()?;
            bundle_document(&bom.images, read(bundle_sbom)?, documents)
        }
    };
    let target = args.output_file.clone().unwrap_or_else(|| PathBuf::from(format!("sbom-{}.cdx.json", bom.version)));
    let mut bytes = serde_json::to_vec_pretty(&document)?;
    bytes.push(b'\n');
    genesis_bundle::scratch::atomic_write(&target, &bytes).with_context(|| format!("writing {}", target.display()))?;
    let uninventoried: Vec<&str> = uninventoried.iter().map(|image| image.name.as_str()).collect();
    if !uninventoried.is_empty() {
        // Exit 0 all the same: the bundle is as it was signed; the warning is for the human.
        eprintln!(
            "! no package SBOM in the bundle for image(s) {}: the document lists none of their packages \
             (built with --skip-package-sboms?); their components say so",
            uninventoried.join(", ")
        );
    }
    match args.verify.output {
        OutputFormat::Json => print_json(&serde_json::json!({
            "written": target,
            "packageSboms": packages.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
            "notInventoried": uninventoried,
        }))?,
        OutputFormat::Text => {
            eprintln!("✓ signature OK ({}); each SBOM checked against the signed BOM", verified.signer());
            outln!("wrote {} ({} package SBOMs merged)", target.display(), packages.len())?;
        }
    }
    Ok(exit::OK)
}

/// The SBOM document `entry` of `bom`, read in place through `index` and checked against the
/// SHA-256 the signed BOM lists for it.
pub fn read_sbom(bom: &Bom, index: &ArchiveIndex, entry: &SbomEntry) -> anyhow::Result<Vec<u8>> {
    let path = entry.path.as_str();
    let file = bom.file(path).with_context(|| format!("{path} is listed as an SBOM but not as a file"))?;
    Ok(index.read_checked(path, &file.sha256, MAX_SBOM)?)
}

/// The note on the component of an image the bundle carries no package SBOM of.
const NOT_INVENTORIED: &str = "packages not inventoried: the bundle carries no package SBOM of this image \
     (built with --skip-package-sboms, or before the inventory), so this document lists none of its packages";

/// The bundle SBOM `bundle` with the package SBOMs `packages` merged in, each with the name
/// of the image it describes, and the images of the bundle (`images`) whose package SBOM it
/// lacks. The packages are merged as [`merge`] does, and what the document describes (the
/// bundle, its `metadata.component`) is made of one component per image, each made of its
/// platforms' components with the notes of their inventories, as [`image_document`] does for
/// one image: without them a gap in an inventory would not reach the scanner. An image
/// without a package SBOM gets a `genesis:note` saying its packages were not inventoried,
/// since its `pkg:oci` component alone reads as an image without packages. A bundle without
/// images gets its SBOM as signed.
fn bundle_document<'a>(
    images: &'a [ImageEntry],
    bundle: Value,
    packages: Vec<(&str, Value)>,
) -> (Value, Vec<&'a ImageEntry>) {
    let mut uninventoried = Vec::new();
    let mut parts = Vec::with_capacity(images.len());
    for image in images {
        let own: Vec<&Value> =
            packages.iter().filter(|(describes, _)| *describes == image.name).map(|(_, document)| document).collect();
        let mut component = image_component(image, own.iter().copied().filter_map(platform_component).collect());
        if own.is_empty() {
            add_properties(&mut component, &[serde_json::json!({"name": "genesis:note", "value": NOT_INVENTORIED})]);
            uninventoried.push(image);
        }
        parts.push(component);
    }
    let mut document = bundle;
    for (_, package) in packages {
        merge(&mut document, package);
    }
    if !parts.is_empty()
        && let Some(doc) = document.as_object_mut()
    {
        // No longer the document signed under that serial number.
        doc.remove("serialNumber");
        // The builder always writes what the bundle SBOM describes; a document without it
        // has nowhere to nest the images, and keeps its own components.
        if let Some(described) =
            doc.get_mut("metadata").and_then(|m| m.get_mut("component")).and_then(Value::as_object_mut)
        {
            described.insert("components".to_owned(), Value::Array(parts));
        }
    }
    (document, uninventoried)
}

/// One image's package SBOMs, one per platform (`first` and the `rest`), as one document.
/// A single one is written as it is, the very document the BOM signs. Several are merged and
/// the result describes the image, not the platform that came first: its
/// `metadata.component` is the image, named and versioned by its digest as the bundle SBOM
/// names it, whose own `components` are each platform's component (CycloneDX 1.5's way of
/// saying what a component is made of), each with the notes of its inventory (a gap, a blob
/// skipped), which its document's metadata held.
fn image_document(image: &ImageEntry, first: Value, rest: Vec<Value>) -> Value {
    if rest.is_empty() {
        return first;
    }
    let platforms: Vec<Value> = std::iter::once(&first).chain(&rest).filter_map(platform_component).collect();
    let mut merged = first;
    for other in rest {
        merge(&mut merged, other);
    }
    if let Some(metadata) = merged.get_mut("metadata").and_then(Value::as_object_mut) {
        // The first platform's notes: each platform's are now on its own component.
        metadata.remove("properties");
        metadata.insert("component".to_owned(), image_component(image, platforms));
    }
    merged
}

/// The image as a CycloneDX container component, made of `platforms` (none: no
/// `components`).
fn image_component(image: &ImageEntry, platforms: Vec<Value>) -> Value {
    let digest = &image.digest;
    let mut component = serde_json::json!({
        "type": "container",
        "name": image.name,
        "version": digest.to_string(),
        // Both digest algorithms of OCI are SHA-2, named by their length in CycloneDX.
        "hashes": [{"alg": format!("SHA-{}", digest.algorithm().hex_len() * 4), "content": digest.hex()}],
        "properties": [{"name": "genesis:ref", "value": image.reference}],
    });
    if !platforms.is_empty()
        && let Some(fields) = component.as_object_mut()
    {
        fields.insert("components".to_owned(), Value::Array(platforms));
    }
    component
}

/// What a package SBOM describes (one platform of an image), with its metadata's
/// properties (the notes of its inventory) added to the component's own.
fn platform_component(document: &Value) -> Option<Value> {
    let metadata = document.get("metadata")?;
    let mut component = metadata.get("component")?.clone();
    if let Some(notes) = metadata.get("properties").and_then(Value::as_array) {
        add_properties(&mut component, notes);
    }
    Some(component)
}

/// Appends `properties` to those of `component` (none: it is left as it is).
fn add_properties(component: &mut Value, properties: &[Value]) {
    if properties.is_empty() {
        return;
    }
    if let Some(fields) = component.as_object_mut()
        && let Some(list) = fields.entry("properties").or_insert_with(|| Value::Array(Vec::new())).as_array_mut()
    {
        list.extend(properties.iter().cloned());
    }
}

/// Appends the components of `other` to those of `document`, each once (CycloneDX wants its
/// components unique: two platforms of an image share their operating system). The result
/// describes more than either, so it keeps no serial number of theirs.
fn merge(document: &mut Value, other: Value) {
    let added = other.get("components").and_then(Value::as_array).cloned().unwrap_or_default();
    if let Some(doc) = document.as_object_mut() {
        doc.remove("serialNumber");
        let components = doc.entry("components").or_insert_with(|| Value::Array(Vec::new()));
        if let Some(list) = components.as_array_mut() {
            let mut seen: std::collections::BTreeSet<String> = list.iter().map(Value::to_string).collect();
            list.extend(added.into_iter().filter(|component| seen.insert(component.to_string())));
        }
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    const INDEX: &str = "sha256:1111111111111111111111111111111111111111111111111111111111111111";
    const WEB: &str = "sha256:2222222222222222222222222222222222222222222222222222222222222222";

    fn image() -> ImageEntry {
        ImageEntry {
            name: "app".into(),
            source: "oci:fixtures/app".into(),
            reference: "registry.example.com/demo/app:1.0".into(),
            digest: INDEX.parse().unwrap(),
            source_digest: None,
            media_type: "application/vnd.oci.image.index.v1+json".into(),
            platforms: vec!["linux/amd64".into(), "linux/arm64".into()],
        }
    }

    /// A second image of the bundle, of one platform.
    fn web() -> ImageEntry {
        ImageEntry {
            name: "web".into(),
            reference: "registry.example.com/demo/web:1.0".into(),
            digest: WEB.parse().unwrap(),
            media_type: "application/vnd.oci.image.manifest.v1+json".into(),
            platforms: vec!["linux/amd64".into()],
            ..image()
        }
    }

    /// The bundle SBOM of `images` in the builder's shape: the bundle as `metadata.component`,
    /// each image as a `pkg:oci` component.
    fn bundle_sbom(images: &[ImageEntry]) -> Value {
        let components: Vec<Value> = images
            .iter()
            .map(|image| {
                json!({
                    "type": "container",
                    "name": image.name,
                    "version": image.digest.to_string(),
                    "purl": format!(
                        "pkg:oci/{}@sha256%3A{}?repository_url=registry.example.com/demo/{}",
                        image.name,
                        image.digest.hex(),
                        image.name
                    ),
                })
            })
            .collect();
        json!({
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "version": 1,
            "serialNumber": "urn:uuid:cccccccc-0000-8000-8000-000000000000",
            "metadata": {
                "timestamp": "2024-05-01T00:00:00Z",
                "component": {
                    "type": "application",
                    "bom-ref": "bundle:demo",
                    "name": "demo",
                    "version": "0.1.0",
                    "description": "Genesis air-gap bundle",
                },
            },
            "components": components,
        })
    }

    /// The names of the `components` of `value`.
    fn names(value: &Value) -> Vec<&str> {
        value["components"].as_array().into_iter().flatten().filter_map(|c| c["name"].as_str()).collect()
    }

    /// The package SBOM of one platform of `app`, in the builder's shape: its platform as
    /// `metadata.component`, a note of its inventory, the operating system and one package.
    fn package_sbom(arch: &str, fill: char, note: &str) -> Value {
        let manifest = fill.to_string().repeat(64);
        json!({
            "bomFormat": "CycloneDX",
            "specVersion": "1.5",
            "version": 1,
            "serialNumber": format!("urn:uuid:{}-0000-8000-8000-000000000000", fill.to_string().repeat(8)),
            "metadata": {
                "timestamp": "2024-05-01T00:00:00Z",
                "component": {
                    "type": "container",
                    "name": format!("app (linux/{arch})"),
                    "version": format!("sha256:{manifest}"),
                    "hashes": [{"alg": "SHA-256", "content": manifest}],
                    "purl": format!(
                        "pkg:oci/app@sha256%3A{manifest}?arch={arch}&os=linux&repository_url=registry.example.com/demo/app"
                    ),
                },
                "properties": [{"name": "genesis:note", "value": note}],
            },
            "components": [
                {"type": "operating-system", "name": "debian"},
                {
                    "type": "library",
                    "name": "libssl3",
                    "version": "3.0.11-1~deb12u2",
                    "purl": format!("pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch={arch}&distro=debian-12"),
                },
            ],
        })
    }

    #[test]
    fn the_platforms_of_an_image_merge_into_a_document_that_describes_the_image_made_of_them() {
        let merged = image_document(
            &image(),
            package_sbom("amd64", 'a', "amd64: rpmdb not read"),
            vec![package_sbom("arm64", 'b', "arm64: rpmdb not read")],
        );
        let described = &merged["metadata"]["component"];
        assert_eq!((described["type"].as_str(), described["name"].as_str()), (Some("container"), Some("app")));
        assert_eq!(described["version"], INDEX);
        assert_eq!(described["hashes"][0], json!({"alg": "SHA-256", "content": INDEX.trim_start_matches("sha256:")}));
        assert_eq!(names(described), ["app (linux/amd64)", "app (linux/arm64)"]);
        for (platform, arch) in described["components"].as_array().unwrap().iter().zip(["amd64", "arm64"]) {
            let note = json!({"name": "genesis:note", "value": format!("{arch}: rpmdb not read")});
            assert_eq!(platform["properties"], json!([note]), "each platform keeps its own notes");
        }
        assert!(merged["metadata"].get("properties").is_none(), "no platform's notes speak for the image");
        assert!(merged.get("serialNumber").is_none(), "the merge is neither platform's document");
        assert_eq!(names(&merged), ["debian", "libssl3", "libssl3"], "the shared operating system once");
        genesis_testkit::schema::validate_cyclonedx_1_5(&serde_json::to_vec(&merged).unwrap()).unwrap();
    }

    #[test]
    fn the_package_sbom_of_an_image_of_one_platform_is_written_as_the_bom_signs_it() {
        let only = package_sbom("amd64", 'a', "amd64: rpmdb not read");
        assert_eq!(image_document(&image(), only.clone(), Vec::new()), only);
    }

    #[test]
    fn the_bundle_document_is_made_of_its_images_each_made_of_its_platforms_with_their_notes() {
        let images = [image()];
        let packages = vec![
            ("app", package_sbom("amd64", 'a', "amd64: rpmdb not read")),
            ("app", package_sbom("arm64", 'b', "arm64: rpmdb not read")),
        ];
        let (merged, uninventoried) = bundle_document(&images, bundle_sbom(&images), packages);
        assert!(uninventoried.is_empty());
        let described = &merged["metadata"]["component"];
        assert_eq!(described["bom-ref"], "bundle:demo", "the document still describes the bundle");
        assert_eq!(names(described), ["app"]);
        let app = &described["components"][0];
        assert_eq!((app["type"].as_str(), app["version"].as_str()), (Some("container"), Some(INDEX)));
        assert_eq!(names(app), ["app (linux/amd64)", "app (linux/arm64)"]);
        for (platform, arch) in app["components"].as_array().unwrap().iter().zip(["amd64", "arm64"]) {
            let note = json!({"name": "genesis:note", "value": format!("{arch}: rpmdb not read")});
            assert_eq!(platform["properties"], json!([note]), "each platform keeps the notes of its inventory");
        }
        assert_eq!(names(&merged), ["app", "debian", "libssl3", "libssl3"], "the bundle's and every package");
        assert!(merged.get("serialNumber").is_none(), "no longer the document signed under it");
        genesis_testkit::schema::validate_cyclonedx_1_5(&serde_json::to_vec(&merged).unwrap()).unwrap();
    }

    /// A bundle built with `--skip-package-sboms` (or an image inventoried by no one) would
    /// otherwise read as images without packages.
    #[test]
    fn an_image_without_a_package_sbom_says_its_packages_were_not_inventoried() {
        let images = [image(), web()];
        let packages = vec![("app", package_sbom("amd64", 'a', "amd64: rpmdb not read"))];
        let (merged, uninventoried) = bundle_document(&images, bundle_sbom(&images), packages);
        let uninventoried: Vec<&str> = uninventoried.iter().map(|i| i.name.as_str()).collect();
        assert_eq!(uninventoried, ["web"]);
        let not_inventoried = json!({"name": "genesis:note", "value": NOT_INVENTORIED});
        let parts = &merged["metadata"]["component"]["components"];
        let (inventoried, skipped) = (&parts[0], &parts[1]);
        assert_eq!(skipped["name"], "web");
        assert!(skipped["properties"].as_array().unwrap().contains(&not_inventoried), "{skipped}");
        assert!(skipped.get("components").is_none(), "{skipped}");
        assert!(!inventoried["properties"].as_array().unwrap().contains(&not_inventoried), "{inventoried}");
        genesis_testkit::schema::validate_cyclonedx_1_5(&serde_json::to_vec(&merged).unwrap()).unwrap();

        // No package SBOM at all: every image says so.
        let (merged, uninventoried) = bundle_document(&images, bundle_sbom(&images), Vec::new());
        assert_eq!(uninventoried.len(), 2);
        for image in merged["metadata"]["component"]["components"].as_array().unwrap() {
            assert!(image["properties"].as_array().unwrap().contains(&not_inventoried), "{image}");
        }
        assert_eq!(names(&merged), ["app", "web"], "the bundle's own components, as signed");
        genesis_testkit::schema::validate_cyclonedx_1_5(&serde_json::to_vec(&merged).unwrap()).unwrap();
    }

    #[test]
    fn the_sbom_of_a_bundle_without_images_is_written_as_the_bom_signs_it() {
        let signed = bundle_sbom(&[]);
        let (merged, uninventoried) = bundle_document(&[], signed.clone(), Vec::new());
        assert_eq!(merged, signed);
        assert!(uninventoried.is_empty());
    }
}
