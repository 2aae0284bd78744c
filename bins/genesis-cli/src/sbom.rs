//! `genesis sbom`: write a verified bundle's SBOMs out for any scanner (`trivy sbom`, `grype
//! sbom:`), after its signature is checked: one CycloneDX document with the bundle's
//! components and every package the builder inventoried in its images (seed 000's
//! `sbom-3.2.10.cdx.json`), or one image's packages with `--image`. Each document is read
//! from the archive in place and checked against the SHA-256 the signed BOM lists for it.
//! A merged document describes what was merged (its `metadata.component`): the bundle, or
//! the image made of its platforms.

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
    let document = match &args.image {
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
            image_document(image, read(first)?, rest)
        }
        None => {
            let bundle_sbom = bom
                .bundle_sbom()
                .with_context(|| format!("{} lists no SBOM of the bundle in its BOM", bundle_path.display()))?;
            let mut document = read(bundle_sbom)?;
            for entry in &packages {
                merge(&mut document, read(entry)?);
            }
            document
        }
    };
    let target = args.output_file.clone().unwrap_or_else(|| PathBuf::from(format!("sbom-{}.cdx.json", bom.version)));
    let mut bytes = serde_json::to_vec_pretty(&document)?;
    bytes.push(b'\n');
    genesis_bundle::scratch::atomic_write(&target, &bytes).with_context(|| format!("writing {}", target.display()))?;
    match args.verify.output {
        OutputFormat::Json => print_json(&serde_json::json!({
            "written": target,
            "packageSboms": packages.iter().map(|e| e.path.as_str()).collect::<Vec<_>>(),
        }))?,
        OutputFormat::Text => {
            eprintln!("✓ signature OK (key {}); each SBOM checked against the signed BOM", verified.key());
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

/// The image as a CycloneDX container component, made of `platforms`.
fn image_component(image: &ImageEntry, platforms: Vec<Value>) -> Value {
    let digest = &image.digest;
    serde_json::json!({
        "type": "container",
        "name": image.name,
        "version": digest.to_string(),
        // Both digest algorithms of OCI are SHA-2, named by their length in CycloneDX.
        "hashes": [{"alg": format!("SHA-{}", digest.algorithm().hex_len() * 4), "content": digest.hex()}],
        "properties": [{"name": "genesis:ref", "value": image.reference}],
        "components": platforms,
    })
}

/// What a package SBOM describes (one platform of an image), with its metadata's
/// properties (the notes of its inventory) added to the component's own.
fn platform_component(document: &Value) -> Option<Value> {
    let metadata = document.get("metadata")?;
    let mut component = metadata.get("component")?.clone();
    let notes = metadata.get("properties").and_then(Value::as_array).filter(|notes| !notes.is_empty());
    if let (Some(notes), Some(fields)) = (notes, component.as_object_mut()) {
        let properties = fields.entry("properties").or_insert_with(|| Value::Array(Vec::new()));
        if let Some(properties) = properties.as_array_mut() {
            properties.extend(notes.iter().cloned());
        }
    }
    Some(component)
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
        let platforms = described["components"].as_array().unwrap();
        let names: Vec<&str> = platforms.iter().filter_map(|p| p["name"].as_str()).collect();
        assert_eq!(names, ["app (linux/amd64)", "app (linux/arm64)"]);
        for (platform, arch) in platforms.iter().zip(["amd64", "arm64"]) {
            let note = json!({"name": "genesis:note", "value": format!("{arch}: rpmdb not read")});
            assert_eq!(platform["properties"], json!([note]), "each platform keeps its own notes");
        }
        assert!(merged["metadata"].get("properties").is_none(), "no platform's notes speak for the image");
        assert!(merged.get("serialNumber").is_none(), "the merge is neither platform's document");
        let components: Vec<&str> =
            merged["components"].as_array().unwrap().iter().filter_map(|c| c["name"].as_str()).collect();
        assert_eq!(components, ["debian", "libssl3", "libssl3"], "the shared operating system once");
        genesis_testkit::schema::validate_cyclonedx_1_5(&serde_json::to_vec(&merged).unwrap()).unwrap();
    }

    #[test]
    fn the_package_sbom_of_an_image_of_one_platform_is_written_as_the_bom_signs_it() {
        let only = package_sbom("amd64", 'a', "amd64: rpmdb not read");
        assert_eq!(image_document(&image(), only.clone(), Vec::new()), only);
    }
}
