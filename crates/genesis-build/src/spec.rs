//! The bundle spec file (`apiVersion: genesis.dev/v1alpha1`, `kind: Bundle`). Every field
//! is checked while it is parsed, so an error names the field and its line.

use std::fmt;
use std::path::{Path, PathBuf};
use std::str::FromStr;

use genesis_bundle::Compression;
use genesis_types::{Algorithm, Digest, ImageReference};

use crate::{BuildError, Result};

/// The only `apiVersion` accepted.
pub const API_VERSION: &str = "genesis.dev/v1alpha1";

/// A parsed spec, with relative paths still relative to [`BundleSpec::base_dir`].
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BundleSpec {
    /// Must be [`API_VERSION`].
    pub api_version: ApiVersion,
    /// Must be `Bundle`.
    pub kind: Kind,
    /// Name and version.
    pub metadata: Metadata,
    /// What goes in.
    pub spec: Contents,
    /// Folder of the spec file: relative paths resolve against it.
    #[serde(skip)]
    pub base_dir: PathBuf,
    /// SHA-256 of the spec file's bytes (recorded in the provenance), when read from a file.
    #[serde(skip)]
    pub source_sha256: Option<genesis_types::Digest>,
}

/// The `apiVersion` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct ApiVersion;

/// The `kind` field.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Kind;

fn exact<'de, D: serde::Deserializer<'de>>(d: D, want: &str, field: &str) -> std::result::Result<(), D::Error> {
    let s = String::deserialize(d)?;
    if s == want { Ok(()) } else { Err(serde::de::Error::custom(format!("{field}: expected {want:?}, found {s:?}"))) }
}

use serde::Deserialize as _;

impl<'de> serde::Deserialize<'de> for ApiVersion {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        exact(d, API_VERSION, "apiVersion").map(|()| ApiVersion)
    }
}

impl<'de> serde::Deserialize<'de> for Kind {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        exact(d, "Bundle", "kind").map(|()| Kind)
    }
}

/// Bundle name and version, which also name the output file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Metadata {
    /// Lowercase name: `[a-z0-9][a-z0-9._-]*`.
    pub name: Token,
    /// Version: `[A-Za-z0-9][A-Za-z0-9._+-]*`, e.g. `0.1.0`.
    pub version: Token,
}

/// A name or version safe to put in a file name.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Token(String);

impl Token {
    /// The text.
    pub fn as_str(&self) -> &str {
        &self.0
    }
}

impl fmt::Display for Token {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for Token {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        let ok = s.len() <= 128
            && s.bytes().next().is_some_and(|b| b.is_ascii_alphanumeric())
            && s.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'_' | b'-' | b'+'));
        if ok {
            Ok(Token(s))
        } else {
            Err(serde::de::Error::custom(format!(
                "{s:?} is not a valid name or version (letters, digits, '.', '_', '-', '+'; at most 128)"
            )))
        }
    }
}

/// The `spec:` section.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Contents {
    /// Timestamp of every entry, unless `SOURCE_DATE_EPOCH` is set in the environment.
    #[serde(default)]
    pub source_date_epoch: Option<u64>,
    /// Container images.
    #[serde(default)]
    pub images: Vec<ImageSpec>,
    /// Helm charts.
    #[serde(default)]
    pub charts: Vec<ChartSpec>,
    /// Kubernetes manifests (files or folders).
    #[serde(default)]
    pub manifests: Vec<ManifestSpec>,
    /// Image references manifests or charts may use without the bundle carrying them.
    #[serde(default)]
    pub allow_unbundled_images: Vec<Reference>,
    /// Where and how to write.
    pub output: OutputSpec,
}

/// One image.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ImageSpec {
    /// Short name.
    pub name: Token,
    /// Where to take it from (skopeo transport syntax).
    pub image: ImageSource,
    /// The reference manifests and charts use for it; defaults to `image` for a registry
    /// source.
    #[serde(rename = "ref", default)]
    pub reference: Option<Reference>,
    /// Keep only these platforms of a multi-arch index (`os/arch[/variant]`); default all.
    #[serde(default)]
    pub platforms: Vec<PlatformSpec>,
}

/// A platform as written in a spec (`linux/arm64`).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct PlatformSpec(pub genesis_types::Platform);

impl<'de> serde::Deserialize<'de> for PlatformSpec {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d)?.parse().map(PlatformSpec).map_err(serde::de::Error::custom)
    }
}

/// An image reference as written in a spec, validated.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Reference {
    /// As written.
    pub text: String,
    /// Parsed.
    pub parsed: ImageReference,
}

impl<'de> serde::Deserialize<'de> for Reference {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        let text = String::deserialize(d)?;
        let parsed = text.parse().map_err(serde::de::Error::custom)?;
        Ok(Reference { text, parsed })
    }
}

/// Where an image comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ImageSource {
    /// A registry reference, by tag or digest (`docker://REF` or just `REF`).
    Registry {
        /// The parsed reference.
        reference: ImageReference,
        /// As written in the spec.
        text: String,
    },
    /// `oci:DIR[:REF]`: an OCI image layout on disk, as skopeo names it.
    OciLayout {
        /// The layout folder, relative to the spec.
        dir: PathBuf,
        /// The `org.opencontainers.image.ref.name` to pick, if the layout holds several.
        reference: Option<String>,
        /// As written in the spec.
        text: String,
    },
}

impl ImageSource {
    /// The source as written in the spec.
    pub fn text(&self) -> &str {
        match self {
            ImageSource::OciLayout { text, .. } | ImageSource::Registry { text, .. } => text,
        }
    }
}

impl FromStr for ImageSource {
    type Err = String;

    fn from_str(s: &str) -> std::result::Result<Self, String> {
        if let Some(rest) = s.strip_prefix("oci:") {
            let (dir, reference) = match rest.split_once(':') {
                Some((d, r)) => (d, Some(r.to_owned())),
                None => (rest, None),
            };
            if dir.is_empty() {
                return Err(format!("{s:?}: oci: needs a layout folder, e.g. oci:images/app:1.0"));
            }
            return Ok(ImageSource::OciLayout { dir: PathBuf::from(dir), reference, text: s.to_owned() });
        }
        let bare = s.strip_prefix("docker://").unwrap_or(s);
        match bare.parse::<ImageReference>() {
            Ok(reference) => Ok(ImageSource::Registry { reference, text: s.to_owned() }),
            Err(e) => Err(format!("{s:?}: not an image source (oci:DIR[:REF], docker://REF or REF): {e}")),
        }
    }
}

impl<'de> serde::Deserialize<'de> for ImageSource {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> std::result::Result<Self, D::Error> {
        String::deserialize(d)?.parse().map_err(serde::de::Error::custom)
    }
}

/// One chart: a packaged `.tgz` on disk, or a version from a chart repository (`https://…`
/// with an `index.yaml`, or `oci://REGISTRY/PATH` as `helm pull oci://` reads it).
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(try_from = "RawChartSpec")]
pub struct ChartSpec {
    /// Chart name; must match the chart's `Chart.yaml`.
    pub name: Token,
    /// Where it comes from.
    pub source: ChartSource,
    /// The SHA-256 of the `.tgz` (`sha256:<hex>`), for a chart from a repository: the check
    /// on the download when the repository's index gives none, and one more when it does.
    pub digest: Option<Digest>,
}

/// Where a chart comes from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ChartSource {
    /// A packaged chart (`.tgz`), relative to the spec.
    Path(PathBuf),
    /// An HTTP(S) chart repository and a version.
    Repo {
        /// The repository URL (its `index.yaml` is beside it).
        url: String,
        /// The exact version.
        version: String,
    },
    /// An OCI registry: `REGISTRY/PATH/NAME:VERSION`.
    Oci {
        /// The chart's reference.
        reference: ImageReference,
    },
}

impl ChartSource {
    /// As recorded in the BOM.
    pub fn describe(&self) -> String {
        match self {
            ChartSource::Path(p) => p.display().to_string(),
            ChartSource::Repo { url, version } => format!("{url} {version}"),
            ChartSource::Oci { reference } => format!("oci://{reference}"),
        }
    }
}

#[derive(serde::Deserialize)]
#[serde(deny_unknown_fields)]
struct RawChartSpec {
    name: Token,
    #[serde(default)]
    path: Option<PathBuf>,
    #[serde(default)]
    repo: Option<String>,
    #[serde(default)]
    version: Option<String>,
    #[serde(default)]
    digest: Option<Digest>,
}

impl TryFrom<RawChartSpec> for ChartSpec {
    type Error = String;

    fn try_from(raw: RawChartSpec) -> std::result::Result<Self, String> {
        let name = raw.name;
        let source = match (raw.path, raw.repo, raw.version) {
            (Some(path), None, None) => ChartSource::Path(path),
            (None, Some(repo), Some(version)) => match repo.strip_prefix("oci://") {
                Some(base) => {
                    let reference = format!("{}/{}:{version}", base.trim_end_matches('/'), name.as_str())
                        .parse()
                        .map_err(|e| format!("chart {name}: {e}"))?;
                    ChartSource::Oci { reference }
                }
                None if repo.starts_with("https://") || repo.starts_with("http://") => {
                    ChartSource::Repo { url: repo.trim_end_matches('/').to_owned(), version }
                }
                None => return Err(format!("chart {name}: repo must be https://…, http://… or oci://…, not {repo:?}")),
            },
            (None, Some(_), None) => return Err(format!("chart {name}: a repo needs an exact version")),
            _ => return Err(format!("chart {name}: give either path, or repo and version")),
        };
        match (&raw.digest, &source) {
            (Some(_), ChartSource::Path(_)) => {
                return Err(format!("chart {name}: digest pins a chart from a repo; a path names the file itself"));
            }
            (Some(d), _) if d.algorithm() != Algorithm::Sha256 => {
                return Err(format!("chart {name}: digest must be sha256:<hex> (the SHA-256 of the .tgz), not {d}"));
            }
            _ => {}
        }
        Ok(ChartSpec { name, source, digest: raw.digest })
    }
}

/// One manifest file or folder.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct ManifestSpec {
    /// A YAML file, or a folder whose `.yaml`/`.yml`/`.json` files are all taken.
    pub path: PathBuf,
}

/// Output settings.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct OutputSpec {
    /// Output folder, relative to the spec.
    pub dir: PathBuf,
    /// `zstd` (default), `gzip` or `none`.
    #[serde(default = "default_compression")]
    pub compression: Compression,
    /// Must be `true` when given: Genesis never writes unsigned bundles.
    #[serde(default = "yes", deserialize_with = "must_sign")]
    pub sign: bool,
}

fn default_compression() -> Compression {
    Compression::Zstd
}

fn yes() -> bool {
    true
}

fn must_sign<'de, D: serde::Deserializer<'de>>(d: D) -> std::result::Result<bool, D::Error> {
    if bool::deserialize(d)? {
        Ok(true)
    } else {
        Err(serde::de::Error::custom("sign: false is not supported; every Genesis bundle is signed"))
    }
}

impl BundleSpec {
    /// Reads and parses a spec file.
    pub fn load(path: &Path) -> Result<BundleSpec> {
        let text =
            std::fs::read_to_string(path).map_err(|source| BuildError::SpecIo { path: path.to_owned(), source })?;
        let mut spec = Self::parse(&text).map_err(|message| BuildError::Spec { path: path.to_owned(), message })?;
        spec.base_dir = match path.parent() {
            Some(p) if !p.as_os_str().is_empty() => p.to_owned(),
            _ => PathBuf::from("."),
        };
        spec.source_sha256 = Some(genesis_bundle::sha256(text.as_bytes()));
        Ok(spec)
    }

    /// Parses spec text; the error names the field and the line.
    pub fn parse(text: &str) -> std::result::Result<BundleSpec, String> {
        serde_yaml_ng::from_str(text).map_err(|e| e.to_string())
    }

    /// Resolves a path from the spec against the spec's folder.
    pub fn resolve(&self, p: &Path) -> PathBuf {
        if p.is_absolute() { p.to_owned() } else { self.base_dir.join(p) }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    const GOOD: &str = r#"apiVersion: genesis.dev/v1alpha1
kind: Bundle
metadata: { name: demo, version: 0.1.0 }
spec:
  images:
    - name: app
      image: "oci:fixtures/images/app:1.0"
      ref: registry.example.com/demo/app:1.0
  charts:    [ { name: web, path: fixtures/charts/web-0.1.0.tgz } ]
  manifests: [ { path: fixtures/manifests/ } ]
  output:    { dir: ./dist, compression: zstd, sign: true }
"#;

    #[test]
    fn parses_the_seed_shape() {
        let s = BundleSpec::parse(GOOD).unwrap();
        assert_eq!(s.metadata.name.as_str(), "demo");
        assert_eq!(s.spec.images[0].image.text(), "oci:fixtures/images/app:1.0");
        assert_eq!(s.spec.output.compression, Compression::Zstd);
    }

    fn error_for(from: &str, to: &str) -> String {
        BundleSpec::parse(&GOOD.replace(from, to)).unwrap_err()
    }

    #[test]
    fn errors_name_the_field_and_line() {
        let e = error_for("      ref:", "      colour: red\n      ref:");
        assert!(e.contains("colour") && e.contains("line 8"), "{e}");
        let e = error_for("compression: zstd", "compression: lz4");
        assert!(e.contains("lz4") && e.contains("line 11"), "{e}");
        let e = error_for("sign: true", "sign: false");
        assert!(e.contains("sign: false") && e.contains("line 11"), "{e}");
        let e = error_for("name: demo", "name: Demo/x");
        assert!(e.contains("Demo/x") && e.contains("line 3"), "{e}");
        let e = error_for("ref: registry.example.com/demo/app:1.0", "ref: UPPER/x");
        assert!(e.contains("spec.images[0]") && e.contains("UPPER/x") && e.contains("line 6"), "{e}");
        let e = error_for("\"oci:fixtures/images/app:1.0\"", "\"docker://Not A Ref\"");
        assert!(e.contains("not an image source") && e.contains("line 6"), "{e}");
        let e = error_for("ref: registry", "platforms: [linux]\n      ref: registry");
        assert!(e.contains("spec.images[0].platforms: invalid platform \"linux\"") && e.contains("line 8"), "{e}");
        let e = error_for("apiVersion: genesis.dev/v1alpha1", "apiVersion: petra.sh/v1alpha1");
        assert!(e.contains("apiVersion") && e.contains("petra.sh"), "{e}");
    }

    #[test]
    fn a_chart_digest_pins_a_chart_from_a_repository_by_sha256() {
        let hex = "ab".repeat(32);
        let chart = |entry: &str| {
            BundleSpec::parse(&GOOD.replace(
                "charts:    [ { name: web, path: fixtures/charts/web-0.1.0.tgz } ]",
                &format!("charts: [ {entry} ]"),
            ))
        };
        let repo = "name: web, repo: 'https://charts.example', version: 0.1.0";
        let pinned = chart(&format!("{{ {repo}, digest: 'sha256:{hex}' }}")).unwrap();
        assert_eq!(pinned.spec.charts[0].digest.as_ref().map(ToString::to_string), Some(format!("sha256:{hex}")));
        assert_eq!(chart(&format!("{{ {repo} }}")).unwrap().spec.charts[0].digest, None);
        let e = chart(&format!("{{ name: web, path: web.tgz, digest: 'sha256:{hex}' }}")).unwrap_err();
        assert!(e.contains("a path names the file itself"), "{e}");
        let e = chart(&format!("{{ {repo}, digest: 'sha512:{}' }}", "ab".repeat(64))).unwrap_err();
        assert!(e.contains("digest must be sha256"), "{e}");
        let e = chart(&format!("{{ {repo}, digest: 'sha256:{}' }}", "AB".repeat(32))).unwrap_err();
        assert!(e.contains("not lowercase hex"), "{e}");
    }
}
