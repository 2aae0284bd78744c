//! Zarf package definitions (`zarf.yaml`), for sites that carry software across the gap with
//! [Zarf](https://zarf.dev): `zarf package create` pulls what the definition names into one
//! tarball, `zarf package deploy` pushes it into the edge registry and cluster. Generated only;
//! nothing is pulled and no tarball is built here.
//!
//! [`zarf_definition`] is the one writer: typed values serialised to YAML, never text pasted
//! together. A definition is `kind: ZarfPackageConfig` (no `apiVersion`, which Zarf reads as
//! `zarf.dev/v1alpha1`), `metadata` (name, version, description) and one required component,
//! named after the package, with the images, charts and manifests. It validates against
//! Zarf's published JSON schema (pinned in `fixtures/schemas/`), and everything Zarf checks in
//! code beyond the schema (its `validate.go`) is checked here first and refused naming the
//! culprit, rather than left for `zarf package create` to find: names Zarf turns into paths,
//! tags and Helm releases, a namespace for every chart, files for the manifests.
//! [`zarf_package`] is the seed catalog's case: images only.

use std::collections::BTreeSet;
use std::path::{Path, PathBuf};

use genesis_types::ImageReference;

use crate::{Result, SeedError};

/// The file name Zarf reads a package definition from.
pub const ZARF_FILE: &str = "zarf.yaml";

/// Zarf's limit on chart and manifest names (`ZarfMaxChartNameLength`): they become Helm
/// release and chart names with a prefix.
const MAX_CHART_NAME: usize = 40;

/// What the package's component carries.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub struct ZarfContents {
    /// Image references Zarf pulls at `zarf package create` (normalised and deduplicated by
    /// [`zarf_definition`]).
    pub images: Vec<String>,
    /// Helm charts Zarf installs at deploy.
    pub charts: Vec<ZarfChart>,
    /// Kubernetes manifests Zarf applies at deploy.
    pub manifests: Vec<ZarfManifest>,
}

/// A Helm chart of the component.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ZarfChart {
    /// Its name in Zarf, also the name of the Helm release Zarf installs: a DNS-1035 label
    /// (lowercase letters, digits, `-`, starting with a letter) of at most 40 characters.
    pub name: String,
    /// The namespace Zarf installs it into (Zarf requires one).
    pub namespace: String,
    /// Where Zarf takes it from.
    #[serde(flatten)]
    pub source: ZarfChartSource,
}

/// Where Zarf takes a chart from.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(untagged)]
pub enum ZarfChartSource {
    /// A chart folder or packaged `.tgz` on disk, relative to the `zarf.yaml`'s folder (or
    /// absolute); its `Chart.yaml` gives the version.
    Local {
        /// The path, as written.
        #[serde(rename = "localPath")]
        local_path: String,
    },
    /// A chart repository (`https://…`, with its `index.yaml`) or OCI repository
    /// (`oci://HOST/PATH/NAME`), and the exact version to pull.
    Remote {
        /// The repository.
        url: String,
        /// The chart version.
        version: String,
    },
}

/// Kubernetes manifests of the component, which Zarf deploys as one generated chart.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
pub struct ZarfManifest {
    /// Its name (at most 40 characters, no `/` or `\`), unique in the component.
    pub name: String,
    /// YAML files, deployed in this order: paths relative to the `zarf.yaml`'s folder (or
    /// absolute).
    pub files: Vec<String>,
}

#[derive(serde::Serialize)]
struct Definition {
    kind: &'static str,
    metadata: Metadata,
    components: Vec<Component>,
}

#[derive(serde::Serialize)]
struct Metadata {
    name: String,
    version: String,
    description: String,
}

#[derive(serde::Serialize)]
struct Component {
    name: String,
    required: bool,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    images: Vec<String>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    charts: Vec<ZarfChart>,
    #[serde(skip_serializing_if = "Vec::is_empty")]
    manifests: Vec<ZarfManifest>,
}

/// `name` made a legal Zarf package name (`^[a-z0-9][a-z0-9-]*$`): letters lowercased, every
/// run of anything else one `-`, none at either end (`"Site A!"` is `site-a`). Refused when
/// nothing is left.
pub fn zarf_name(name: &str) -> Result<String> {
    let mut out = String::with_capacity(name.len());
    for c in name.chars() {
        if c.is_ascii_alphanumeric() {
            out.push(c.to_ascii_lowercase());
        } else if !out.is_empty() && !out.ends_with('-') {
            out.push('-');
        }
    }
    if out.ends_with('-') {
        out.pop();
    }
    if out.is_empty() {
        return Err(input(
            format!("package name {name:?}"),
            "has no letter or digit to make a Zarf package name of ([a-z0-9][a-z0-9-]*)",
        ));
    }
    Ok(out)
}

/// The `zarf.yaml` text of a package of `images` (a seed catalog's `from` references): the
/// package and its one component named [`zarf_name`]`(name)`, at `version`.
pub fn zarf_package(name: &str, version: &str, images: &[String]) -> Result<String> {
    if images.is_empty() {
        return Err(input(format!("package {name:?}"), "lists no image: a Zarf package of a catalog needs one"));
    }
    let contents = ZarfContents { images: images.to_vec(), ..ZarfContents::default() };
    zarf_definition(name, version, "Container images for an edge registry, from a Genesis seed catalog", contents)
}

/// The `zarf.yaml` text of a package named [`zarf_name`]`(name)` at `version`, with one
/// required component of the same name carrying `contents`. Refuses, naming it, whatever
/// Zarf would refuse: a version that is not a plain token (it names the tarball and the OCI
/// tag), an image reference that does not parse, a chart or manifest name Zarf cannot use or
/// uses twice, a chart without a namespace (or from a repository without a version), a
/// manifest entry without files, and a package that carries nothing.
pub fn zarf_definition(name: &str, version: &str, description: &str, contents: ZarfContents) -> Result<String> {
    let name = zarf_name(name)?;
    check_version(version)?;
    let ZarfContents { images, charts, manifests } = contents;
    if images.is_empty() && charts.is_empty() && manifests.is_empty() {
        return Err(input(format!("package {name}"), "carries nothing: no image, chart or manifest"));
    }
    let mut seen = BTreeSet::new();
    let mut normalised = Vec::with_capacity(images.len());
    for image in &images {
        let reference =
            image.parse::<ImageReference>().map_err(|e| input(format!("image {image:?}"), e.to_string()))?;
        // Written normalised (`nginx` is `docker.io/library/nginx`), as Zarf's lint asks, and once.
        let text = reference.to_string();
        if seen.insert(text.clone()) {
            normalised.push(text);
        }
    }
    check_charts(&charts)?;
    check_manifests(&manifests)?;
    let definition = Definition {
        kind: "ZarfPackageConfig",
        metadata: Metadata { name: name.clone(), version: version.to_owned(), description: description.to_owned() },
        components: vec![Component { name, required: true, images: normalised, charts, manifests }],
    };
    Ok(serde_yaml_ng::to_string(&definition).expect("plain structs are YAML"))
}

/// Writes `definition` (a [`zarf_definition`] text) as [`ZARF_FILE`] into `out` (created if
/// needed; a file already there is replaced), atomically; returns its path.
pub fn write_zarf(out: &Path, definition: &str) -> Result<PathBuf> {
    std::fs::create_dir_all(out).map_err(SeedError::io("creating", out))?;
    let path = out.join(ZARF_FILE);
    genesis_bundle::scratch::atomic_write(&path, definition.as_bytes()).map_err(SeedError::io("writing", &path))?;
    Ok(path)
}

/// A package version names the tarball (`zarf-package-NAME-ARCH-VERSION.tar.zst`) and the tag
/// it is published under: a token of letters, digits, `.`, `_`, `+` and `-`.
fn check_version(version: &str) -> Result<()> {
    let ok = version.len() <= 128
        && version.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
        && version.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'+' | b'-'));
    if ok {
        Ok(())
    } else {
        Err(input(
            format!("package version {version:?}"),
            "must be letters, digits, '.', '_', '+' or '-', starting with a letter or digit, at most 128 (it names the Zarf tarball and tag)",
        ))
    }
}

fn check_charts(charts: &[ZarfChart]) -> Result<()> {
    let mut names = BTreeSet::new();
    for chart in charts {
        let what = || format!("chart {:?}", chart.name);
        if !is_label(&chart.name, MAX_CHART_NAME) || !chart.name.starts_with(|c: char| c.is_ascii_lowercase()) {
            return Err(input(
                what(),
                format!(
                    "Zarf installs a chart as a Helm release of its name, which must be lowercase letters, digits and '-', \
                     starting with a letter and ending with a letter or digit, at most {MAX_CHART_NAME} characters"
                ),
            ));
        }
        if !names.insert(chart.name.as_str()) {
            return Err(input(what(), "appears twice: chart names are unique in a Zarf component"));
        }
        if !is_label(&chart.namespace, 63) {
            return Err(input(
                format!("namespace {:?} of chart {:?}", chart.namespace, chart.name),
                "is not a Kubernetes namespace name (lowercase letters, digits and '-', at most 63 characters)",
            ));
        }
        match &chart.source {
            ZarfChartSource::Local { local_path } if local_path.is_empty() => {
                return Err(input(what(), "has an empty local path"));
            }
            ZarfChartSource::Remote { url, version } if url.is_empty() || !is_clean_token(version) => {
                return Err(input(what(), "needs a repository URL and an exact version without '/' or '\\'"));
            }
            _ => {}
        }
    }
    Ok(())
}

fn check_manifests(manifests: &[ZarfManifest]) -> Result<()> {
    let mut names = BTreeSet::new();
    for manifest in manifests {
        let what = || format!("manifests {:?}", manifest.name);
        if manifest.name.len() > MAX_CHART_NAME || !is_clean_token(&manifest.name) {
            return Err(input(
                what(),
                format!("a Zarf manifest name is at most {MAX_CHART_NAME} characters, without '/' or '\\'"),
            ));
        }
        if !names.insert(manifest.name.as_str()) {
            return Err(input(what(), "appears twice: manifest names are unique in a Zarf component"));
        }
        if manifest.files.is_empty() {
            return Err(input(what(), "lists no file"));
        }
    }
    Ok(())
}

/// A DNS label of at most `max` bytes: lowercase letters, digits and `-`, not starting or
/// ending with `-`.
fn is_label(s: &str, max: usize) -> bool {
    !s.is_empty()
        && s.len() <= max
        && s.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !s.starts_with('-')
        && !s.ends_with('-')
}

/// Non-empty, one path component: Zarf makes a file name of it.
fn is_clean_token(s: &str) -> bool {
    !s.is_empty() && s != "." && s != ".." && !s.contains(['/', '\\'])
}

fn input(what: impl Into<String>, reason: impl Into<String>) -> SeedError {
    SeedError::Input { what: what.into(), reason: reason.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn yaml(text: &str) -> serde_json::Value {
        serde_yaml_ng::from_str(text).unwrap()
    }

    fn refused(result: Result<String>, expected: &str) {
        match result {
            Err(e @ SeedError::Input { .. }) => assert!(e.to_string().contains(expected), "{e}"),
            other => panic!("expected an input error with {expected:?}, got {other:?}"),
        }
    }

    fn chart(name: &str, namespace: &str) -> ZarfChart {
        ZarfChart {
            name: name.into(),
            namespace: namespace.into(),
            source: ZarfChartSource::Local { local_path: "charts/web-0.1.0.tgz".into() },
        }
    }

    #[test]
    fn a_name_is_lowercased_and_every_run_of_other_characters_becomes_one_hyphen() {
        assert_eq!(zarf_name("Site A!").unwrap(), "site-a");
        assert_eq!(zarf_name("  --Edge__Site.2--  ").unwrap(), "edge-site-2");
        assert_eq!(zarf_name("demo").unwrap(), "demo");
        assert_eq!(zarf_name("Größe").unwrap(), "gr-e");
    }

    #[test]
    fn a_name_with_no_letter_or_digit_is_refused() {
        for name in ["", "!!!", " - "] {
            let e = zarf_name(name).unwrap_err();
            assert!(matches!(e, SeedError::Input { .. }) && e.to_string().contains("no letter or digit"), "{e}");
        }
    }

    #[test]
    fn a_catalog_package_is_one_required_component_of_its_images_normalised_and_once() {
        let images =
            ["nginx:1.27", "registry.example.com/nav-stack:v2", "docker.io/library/nginx:1.27"].map(String::from);
        let doc = yaml(&zarf_package("Site A!", "0.0.0", &images).unwrap());
        assert_eq!(doc["kind"], "ZarfPackageConfig");
        assert!(doc.get("apiVersion").is_none(), "{doc}");
        assert_eq!(doc["metadata"]["name"], "site-a");
        assert_eq!(doc["metadata"]["version"], "0.0.0");
        assert!(doc["metadata"]["description"].is_string());
        assert_eq!(
            doc["components"],
            serde_json::json!([{
                "name": "site-a",
                "required": true,
                "images": ["docker.io/library/nginx:1.27", "registry.example.com/nav-stack:v2"],
            }])
        );
    }

    #[test]
    fn charts_and_manifests_are_written_with_zarfs_field_names() {
        let contents = ZarfContents {
            images: vec![],
            charts: vec![
                chart("web", "demo"),
                ZarfChart {
                    name: "podinfo".into(),
                    namespace: "demo".into(),
                    source: ZarfChartSource::Remote {
                        url: "oci://ghcr.io/stefanprodan/charts/podinfo".into(),
                        version: "6.4.0".into(),
                    },
                },
            ],
            manifests: vec![ZarfManifest { name: "manifests".into(), files: vec!["m/a.yaml".into()] }],
        };
        let doc = yaml(&zarf_definition("demo", "0.1.0", "a bundle", contents).unwrap());
        let component = &doc["components"][0];
        assert!(component.get("images").is_none(), "{component}");
        assert_eq!(
            component["charts"],
            serde_json::json!([
                { "name": "web", "namespace": "demo", "localPath": "charts/web-0.1.0.tgz" },
                { "name": "podinfo", "namespace": "demo", "url": "oci://ghcr.io/stefanprodan/charts/podinfo", "version": "6.4.0" },
            ])
        );
        assert_eq!(component["manifests"], serde_json::json!([{ "name": "manifests", "files": ["m/a.yaml"] }]));
    }

    #[test]
    fn what_zarf_would_refuse_is_refused_here_naming_it() {
        let images =
            |i: &[&str]| ZarfContents { images: i.iter().map(|s| s.to_string()).collect(), ..Default::default() };
        let charts = |c: Vec<ZarfChart>| ZarfContents { charts: c, ..Default::default() };
        refused(zarf_package("site", "0.0.0", &[]), "lists no image");
        refused(zarf_definition("site", "1.0.0", "", ZarfContents::default()), "carries nothing");
        refused(zarf_definition("site", "../1", "", images(&["nginx"])), "package version \"../1\"");
        refused(zarf_definition("site", "", "", images(&["nginx"])), "package version");
        refused(zarf_definition("site", "1", "", images(&["Not An Image"])), "image \"Not An Image\"");
        refused(zarf_definition("site", "1", "", charts(vec![chart("Web_UI", "demo")])), "chart \"Web_UI\"");
        refused(zarf_definition("site", "1", "", charts(vec![chart("1web", "demo")])), "starting with a letter");
        refused(zarf_definition("site", "1", "", charts(vec![chart(&"w".repeat(41), "demo")])), "at most 40");
        refused(zarf_definition("site", "1", "", charts(vec![chart("web", "demo"), chart("web", "x")])), "twice");
        refused(zarf_definition("site", "1", "", charts(vec![chart("web", "")])), "namespace \"\" of chart \"web\"");
        let manifests = |m: ZarfManifest| ZarfContents { manifests: vec![m], ..Default::default() };
        refused(
            zarf_definition("site", "1", "", manifests(ZarfManifest { name: "m".into(), files: vec![] })),
            "lists no file",
        );
        refused(
            zarf_definition("site", "1", "", manifests(ZarfManifest { name: "a/b".into(), files: vec!["x".into()] })),
            "without '/'",
        );
    }

    #[test]
    fn the_file_is_written_into_a_created_folder_and_replaces_one_there() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("zarf");
        let text = zarf_package("site", "1.0.0", &["nginx:1.27".to_owned()]).unwrap();
        assert_eq!(write_zarf(&out, "old").unwrap(), out.join(ZARF_FILE));
        assert_eq!(write_zarf(&out, &text).unwrap(), out.join(ZARF_FILE));
        assert_eq!(std::fs::read_to_string(out.join(ZARF_FILE)).unwrap(), text);
    }
}
