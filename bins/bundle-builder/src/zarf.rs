//! `bundle-builder zarf-definition`: a Zarf package definition (`zarf.yaml`) of what a bundle
//! spec names, so a site that standardised on Zarf can carry what we describe
//! (`zarf package create DIR`, then `zarf package deploy`). Generated only: nothing is pulled
//! or packed, and the one writer of `zarf.yaml` is `genesis_seed::zarf`.
//!
//! How the spec maps, and what is refused because Zarf could not do what the bundle does:
//! - An image from a registry (`docker://REF` or `REF`) is a component image: REF normalised,
//!   with its digest when the spec pins one. Zarf pulls only the platform it builds for, so
//!   the spec's `platforms` have no counterpart.
//! - An image whose `ref` (the name manifests use) is another reference than its source is
//!   refused: Zarf pushes an image under the name it pulled it by and rewrites the cluster's
//!   references by that name, so the manifests' name would not resolve.
//! - An image from an OCI layout (`oci:DIR[:REF]`) is refused, naming it and why: Zarf pulls
//!   images from registries, and its `imageArchives` read only a tar of a layout whose index
//!   names every image by a full reference (a skopeo layout names a bare tag). Push the image
//!   to a registry and name it there.
//! - A packaged chart (`path:`) is a chart with `localPath`; a chart from a repository is one
//!   with `url` and `version` (`oci://HOST/PATH/NAME` for an OCI repository). A repository
//!   chart pinned by `digest` is refused: a Zarf chart has no digest, so Zarf would take
//!   whatever the repository serves for that version; give the `.tgz` as `path:` instead.
//!   Zarf installs each chart as a Helm release of its name in `--namespace` (default: the
//!   package name), where `bundle-loader load` only pushes charts for Flux to reconcile.
//! - Every manifest file (folders expanded as `create` does, in the same order) goes in one
//!   `manifests` entry.
//!
//! Paths are written relative to the output folder, against which Zarf resolves them.

use std::path::{Component, Path, PathBuf};

use anyhow::{Context as _, anyhow, bail};
use genesis_build::BundleSpec;
use genesis_build::spec::{ChartSource, ChartSpec, ImageSource, ImageSpec};
use genesis_cli_support::{OutputFormat, exit, outln, print_json};
use genesis_seed::zarf::{
    ZarfChart, ZarfChartSource, ZarfContents, ZarfManifest, write_zarf, zarf_definition, zarf_name,
};

/// Arguments of `zarf-definition`.
#[derive(Debug, clap::Args)]
pub struct Args {
    /// The bundle spec (YAML). Relative paths in it are relative to its folder.
    #[arg(short = 'f', long = "file", value_name = "SPEC")]
    spec: PathBuf,
    /// Folder for zarf.yaml (created if needed; a zarf.yaml there is replaced). Paths in it
    /// are relative to this folder.
    #[arg(short = 'o', long = "output-dir", visible_alias = "out", value_name = "DIR", default_value = ".")]
    output_dir: PathBuf,
    /// The namespace Zarf installs the spec's charts into (a Kubernetes namespace name); by
    /// default the package name.
    #[arg(long, value_name = "NS")]
    namespace: Option<String>,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
}

/// What was written, for `--output json`.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct Written {
    zarf_yaml: PathBuf,
    name: String,
    version: String,
    images: usize,
    charts: usize,
    manifest_files: usize,
}

/// Runs `zarf-definition`.
pub fn run(args: Args) -> anyhow::Result<u8> {
    let Args { spec: spec_path, output_dir, namespace, output } = args;
    let spec = BundleSpec::load(&spec_path)?;
    let name = zarf_name(spec.metadata.name.as_str())?;
    let images = spec.spec.images.iter().map(zarf_image).collect::<anyhow::Result<Vec<_>>>()?;
    std::fs::create_dir_all(&output_dir).with_context(|| format!("creating {}", output_dir.display()))?;
    let base = output_dir.canonicalize().with_context(|| format!("reading {}", output_dir.display()))?;
    let namespace = namespace.unwrap_or_else(|| name.clone());
    let charts =
        spec.spec.charts.iter().map(|c| zarf_chart(&spec, c, &base, &namespace)).collect::<anyhow::Result<Vec<_>>>()?;
    let mut files = Vec::new();
    for entry in &spec.spec.manifests {
        for (_, file) in genesis_build::manifest_files(&spec.resolve(&entry.path))? {
            files.push(relative(&base, &file)?);
        }
    }
    let written = Written {
        zarf_yaml: output_dir.join(genesis_seed::zarf::ZARF_FILE),
        name: name.clone(),
        version: spec.metadata.version.to_string(),
        images: images.len(),
        charts: charts.len(),
        manifest_files: files.len(),
    };
    let manifests = if files.is_empty() { Vec::new() } else { vec![ZarfManifest { name: "manifests".into(), files }] };
    let description = format!(
        "Genesis bundle {} {}: its registry images, charts and manifests",
        spec.metadata.name, spec.metadata.version
    );
    let text = zarf_definition(&name, &written.version, &description, ZarfContents { images, charts, manifests })?;
    write_zarf(&output_dir, &text)?;
    match output {
        OutputFormat::Json => print_json(&written)?,
        OutputFormat::Text => {
            outln!(
                "✓ wrote {} ({} images, {} charts, {} manifest files)",
                written.zarf_yaml.display(),
                written.images,
                written.charts,
                written.manifest_files
            )?;
            outln!("  next: zarf package create {}", output_dir.display())?;
        }
    }
    Ok(exit::OK)
}

/// The reference Zarf pulls an image of the spec by, or why it cannot.
fn zarf_image(image: &ImageSpec) -> anyhow::Result<String> {
    match &image.image {
        ImageSource::Registry { reference, text } => {
            if let Some(named) = image.reference.as_ref().filter(|r| r.parsed != *reference) {
                bail!(
                    "image {}: manifests name it {} but it is pulled from {text}; Zarf pushes an image under the name \
                     it pulled it by and rewrites references by that name, so {} would not resolve in the cluster: \
                     pull it by the reference the manifests use (and drop `ref`)",
                    image.name,
                    named.text,
                    named.text
                );
            }
            Ok(reference.to_string())
        }
        ImageSource::OciLayout { text, .. } => bail!(
            "image {} comes from a local OCI layout ({text}), which Zarf cannot pull: Zarf takes images from \
             registries, and its imageArchives only from a tar whose index names each image by a full reference; \
             push the image to a registry and name it there (docker://REF)",
            image.name
        ),
    }
}

/// A chart of the spec as Zarf takes it, or why it cannot.
fn zarf_chart(spec: &BundleSpec, chart: &ChartSpec, base: &Path, namespace: &str) -> anyhow::Result<ZarfChart> {
    if let Some(digest) = &chart.digest {
        bail!(
            "chart {} is pinned to {digest}, and a Zarf chart has no digest: Zarf would install whatever {} serves \
             for that version; give the chart's .tgz as `path:` instead",
            chart.name,
            chart.source.describe()
        );
    }
    let source = match &chart.source {
        ChartSource::Path(path) => ZarfChartSource::Local { local_path: relative(base, &spec.resolve(path))? },
        ChartSource::Repo { url, version } => ZarfChartSource::Remote { url: url.clone(), version: version.clone() },
        ChartSource::Oci { reference } => ZarfChartSource::Remote {
            url: format!("oci://{}/{}", reference.registry(), reference.repository()),
            version: reference.tag().unwrap_or_default().to_owned(),
        },
    };
    Ok(ZarfChart { name: chart.name.to_string(), namespace: namespace.to_owned(), source })
}

/// `target` relative to `base` (an absolute folder without symlinks): how Zarf resolves a
/// path in `zarf.yaml`, against the file's folder.
fn relative(base: &Path, target: &Path) -> anyhow::Result<String> {
    let target = target.canonicalize().with_context(|| format!("reading {}", target.display()))?;
    let common = base.components().zip(target.components()).take_while(|(a, b)| a == b).count();
    let path: PathBuf = std::iter::repeat_n(Component::ParentDir, base.components().count() - common)
        .chain(target.components().skip(common))
        .collect();
    path.into_os_string()
        .into_string()
        .map_err(|p| anyhow!("{} is not UTF-8, and zarf.yaml names paths as text", Path::new(&p).display()))
}
