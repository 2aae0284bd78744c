//! `genesis sbom`: write a verified bundle's SBOMs out for any scanner (`trivy sbom`, `grype
//! sbom:`), after its signature is checked: one CycloneDX document with the bundle's
//! components and every package the builder inventoried in its images (seed 000's
//! `sbom-3.2.10.cdx.json`), or one image's packages with `--image`. Each document is read
//! from the archive in place and checked against the SHA-256 the signed BOM lists for it.

use std::path::PathBuf;

use anyhow::Context as _;
use genesis_bundle::{ArchiveIndex, Bom, SbomEntry};
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
    /// Only this image's packages (its name in the bundle's BOM), every platform of it.
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
    // The document the others merge into: the image's first package SBOM, or the bundle's.
    let (base, rest) = match &args.image {
        Some(image) => packages.split_first().map(|(first, rest)| (*first, rest)).with_context(|| {
            format!(
                "{} has no package SBOM for an image named {image:?}; its images: {}",
                bundle_path.display(),
                bom.images.iter().map(|i| i.name.as_str()).collect::<Vec<_>>().join(", ")
            )
        })?,
        None => {
            let bundle_sbom = bom
                .bundle_sbom()
                .with_context(|| format!("{} lists no SBOM of the bundle in its BOM", bundle_path.display()))?;
            (bundle_sbom, &packages[..])
        }
    };
    let mut document = read(base)?;
    for entry in rest {
        merge(&mut document, read(entry)?);
    }
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
