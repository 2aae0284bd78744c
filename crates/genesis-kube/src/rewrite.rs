//! Image-reference rewriting for the loader: a reference the bundle carries becomes
//! `HOST/REPO@sha256:…` in the cluster-local registry; a reference it does not carry is left
//! alone (the build sweep already refused unbundled images); the original is kept in an
//! annotation where the object can hold one.

use std::collections::BTreeMap;
use std::path::Path;

use genesis_bundle::{BundleError, Limits, Staging};
use genesis_registry::LoadSummary;
use genesis_registry::charts::LoadedChart;
use genesis_trust::SignedBom;
use genesis_types::ImageReference;
use serde_yaml_ng::Value;

use crate::{KubeError, Result};

/// Annotation that keeps the references an object had before rewriting, as a JSON object
/// from field path to original reference.
pub const ORIGINAL_IMAGES_ANNOTATION: &str = "genesis.dev/original-images";

/// Source references of a load and where they landed.
#[derive(Debug, Clone, Default)]
pub struct ImageMap {
    entries: Vec<(ImageReference, String, String)>,
}

impl ImageMap {
    /// The map a load produced: each source reference to its `HOST/REPO@digest` target.
    pub fn from_summary(summary: &LoadSummary) -> ImageMap {
        let entries = summary
            .images
            .iter()
            .filter_map(|i| {
                let source: ImageReference = i.source.parse().ok()?;
                let (repo, digest) = i.target.rsplit_once('@')?;
                Some((source, repo.to_owned(), digest.to_owned()))
            })
            .collect();
        ImageMap { entries }
    }

    /// The target of `reference`, when the bundle carries it: same registry and repository,
    /// and the same tag (`latest` when none) or the same digest.
    pub fn rewrite(&self, reference: &str) -> Option<String> {
        let r: ImageReference = reference.parse().ok()?;
        self.entries.iter().find_map(|(source, repo, digest)| {
            let same_repo = source.registry() == r.registry() && source.repository() == r.repository();
            let same = match r.digest() {
                Some(d) => d.to_string() == *digest,
                None => r.tag().unwrap_or("latest") == source.tag().unwrap_or("latest"),
            };
            (same_repo && same).then(|| format!("{repo}@{digest}"))
        })
    }

    /// Rewrites the images of one Kubernetes object in place: containers, init and
    /// ephemeral containers of every pod template (Pod, Deployment, StatefulSet, DaemonSet,
    /// ReplicaSet, Job, CronJob), and `image:` strings in a Flux HelmRelease's values.
    /// Returns how many references changed; the originals go into
    /// [`ORIGINAL_IMAGES_ANNOTATION`].
    pub fn rewrite_object(&self, object: &mut Value) -> usize {
        let kind = object.get("kind").and_then(Value::as_str).unwrap_or_default().to_owned();
        let mut originals = BTreeMap::new();
        let pod_spec_path: &[&str] = match kind.as_str() {
            "Pod" => &["spec"],
            "Deployment" | "StatefulSet" | "DaemonSet" | "ReplicaSet" | "Job" => &["spec", "template", "spec"],
            "CronJob" => &["spec", "jobTemplate", "spec", "template", "spec"],
            "HelmRelease" => &["spec", "values"],
            _ => return 0,
        };
        let Some(target) = pod_spec_path.iter().try_fold(&mut *object, |v, k| v.get_mut(*k)) else { return 0 };
        let prefix = pod_spec_path.join(".");
        if kind == "HelmRelease" {
            self.rewrite_values(target, &prefix, &mut originals);
        } else {
            for list in ["containers", "initContainers", "ephemeralContainers"] {
                let Some(Value::Sequence(items)) = target.get_mut(list) else { continue };
                for (i, c) in items.iter_mut().enumerate() {
                    self.rewrite_field(c, &format!("{prefix}.{list}[{i}].image"), &mut originals);
                }
            }
        }
        let changed = originals.len();
        if changed > 0 {
            annotate(object, &originals);
        }
        changed
    }

    fn rewrite_field(&self, holder: &mut Value, path: &str, originals: &mut BTreeMap<String, String>) {
        let Some(Value::String(s)) = holder.get_mut("image") else { return };
        if let Some(new) = self.rewrite(s) {
            originals.insert(path.to_owned(), std::mem::replace(s, new));
        }
    }

    fn rewrite_values(&self, v: &mut Value, path: &str, originals: &mut BTreeMap<String, String>) {
        match v {
            Value::Mapping(map) => {
                if map.get("image").is_some_and(Value::is_string) {
                    self.rewrite_field(v, &format!("{path}.image"), originals);
                }
                if let Value::Mapping(map) = v {
                    for (k, child) in map.iter_mut() {
                        let key = k.as_str().unwrap_or_default().to_owned();
                        if key != "image" || !child.is_string() {
                            self.rewrite_values(child, &format!("{path}.{key}"), originals);
                        }
                    }
                }
            }
            Value::Sequence(items) => {
                for (i, child) in items.iter_mut().enumerate() {
                    self.rewrite_values(child, &format!("{path}[{i}]"), originals);
                }
            }
            _ => {}
        }
    }
}

fn annotate(object: &mut Value, originals: &BTreeMap<String, String>) {
    let Value::Mapping(root) = object else { return };
    let metadata = root.entry("metadata".into()).or_insert_with(|| Value::Mapping(Default::default()));
    let Value::Mapping(metadata) = metadata else { return };
    let annotations = metadata.entry("annotations".into()).or_insert_with(|| Value::Mapping(Default::default()));
    if let Value::Mapping(a) = annotations {
        a.insert(ORIGINAL_IMAGES_ANNOTATION.into(), serde_json::to_string(originals).expect("json").into());
    }
}

/// Rewrites every object of a multi-document YAML text; returns the objects and the count of
/// references changed.
fn rewrite_documents(map: &ImageMap, text: &str) -> std::result::Result<(Vec<Value>, usize), serde_yaml_ng::Error> {
    let mut objects = Vec::new();
    let mut changed = 0;
    for doc in serde_yaml_ng::Deserializer::from_str(text) {
        let mut value = <Value as serde::Deserialize>::deserialize(doc)?;
        if value.is_null() {
            continue;
        }
        changed += map.rewrite_object(&mut value);
        objects.push(value);
    }
    Ok((objects, changed))
}

/// Rewrites every object of a multi-document YAML text; returns the new text and the count
/// of references changed.
pub fn rewrite_yaml(map: &ImageMap, text: &str) -> std::result::Result<(String, usize), serde_yaml_ng::Error> {
    let (objects, changed) = rewrite_documents(map, text)?;
    Ok((yaml_stream(&objects)?, changed))
}

/// Objects as one multi-document YAML text.
fn yaml_stream(objects: &[Value]) -> std::result::Result<String, serde_yaml_ng::Error> {
    let mut out = String::new();
    for value in objects {
        if !out.is_empty() {
            out.push_str("---\n");
        }
        out.push_str(&serde_yaml_ng::to_string(value)?);
    }
    Ok(out)
}

/// One manifest file of a bundle, its objects rewritten to the loaded images.
pub struct RewrittenManifest {
    /// Path under `manifests/`.
    pub path: String,
    /// Its objects, in file order.
    pub objects: Vec<Value>,
    /// How many image references changed.
    pub changed: usize,
}

/// Every manifest of a verified bundle (each read back and checked against the signed BOM),
/// rewritten to the loaded images, with Flux sources pointed at the loaded `charts`.
pub fn rewritten_manifests(
    bundle: &dyn SignedBom,
    map: &ImageMap,
    charts: &[LoadedChart],
) -> Result<Vec<RewrittenManifest>> {
    let bom = bundle.signed_bom();
    let index = bundle.archive_index(&Default::default())?;
    let mut out = Vec::new();
    for m in &bom.manifests {
        let file = bom.file(m.path.as_str()).expect("a valid BOM lists every manifest");
        let bytes = index.read_checked(m.path.as_str(), &file.sha256, Limits::default().max_bom_size)?;
        let text = String::from_utf8(bytes).map_err(|_| BundleError::Unusable(format!("{} is not UTF-8", m.path)))?;
        let (objects, changed) = rewrite_documents(map, &text)
            .map_err(|e| KubeError::Object { object: m.path.to_string(), reason: e.to_string() })?;
        let path = m.path.as_str().strip_prefix("manifests/").unwrap_or(m.path.as_str()).to_owned();
        out.push(RewrittenManifest { path, objects, changed });
    }
    let mut all: Vec<&mut Value> = out.iter_mut().flat_map(|m| m.objects.iter_mut()).collect();
    crate::flux::point_flux_sources(&mut all, charts);
    Ok(out)
}

/// Writes rewritten manifests (from [`rewritten_manifests`]) under `target` (which must not
/// exist; it appears whole or not at all). Returns how many references changed.
pub fn write_rewritten_manifests(manifests: &[RewrittenManifest], target: &Path) -> Result<usize> {
    let staging = Staging::begin(target)?;
    let mut changed = 0;
    for m in manifests {
        changed += m.changed;
        let text =
            yaml_stream(&m.objects).map_err(|e| KubeError::Object { object: m.path.clone(), reason: e.to_string() })?;
        let dest = staging.path().join(&m.path);
        if let Some(parent) = dest.parent() {
            std::fs::create_dir_all(parent).map_err(BundleError::io("creating", parent))?;
        }
        std::fs::write(&dest, text).map_err(BundleError::io("writing", &dest))?;
    }
    staging.commit()?;
    Ok(changed)
}

#[cfg(test)]
mod tests {
    use genesis_registry::load::{BlobCounts, LoadedImage};

    use super::*;

    fn map() -> ImageMap {
        let d = format!("sha256:{}", "a".repeat(64));
        ImageMap::from_summary(&LoadSummary {
            registry: "reg.local:5000".into(),
            images: vec![LoadedImage {
                source: "docker.io/library/nginx:1.27".into(),
                target: format!("reg.local:5000/library/nginx@{d}"),
                tagged: None,
                manifests: 1,
                blobs: BlobCounts::default(),
            }],
        })
    }

    #[test]
    fn rewrites_only_carried_images() {
        let m = map();
        let d = format!("sha256:{}", "a".repeat(64));
        assert_eq!(m.rewrite("nginx:1.27"), Some(format!("reg.local:5000/library/nginx@{d}")));
        assert_eq!(m.rewrite("docker.io/library/nginx:1.27").as_deref(), m.rewrite("nginx:1.27").as_deref());
        assert_eq!(m.rewrite(&format!("nginx@{d}")), m.rewrite("nginx:1.27"));
        assert_eq!(m.rewrite("nginx:1.28"), None);
        assert_eq!(m.rewrite("quay.io/library/nginx:1.27"), None);
    }

    #[test]
    fn rewrites_every_pod_template_and_keeps_the_originals() {
        let text = "kind: CronJob\nmetadata: {name: c}\nspec:\n  jobTemplate:\n    spec:\n      template:\n        spec:\n          initContainers: [{name: i, image: 'nginx:1.27'}]\n          containers: [{name: a, image: 'nginx:1.27'}, {name: b, image: 'busybox'}]\n---\nkind: ConfigMap\ndata: {image: 'nginx:1.27'}\n---\nkind: HelmRelease\nspec:\n  values:\n    sidecar: {image: 'nginx:1.27'}\n";
        let (out, changed) = rewrite_yaml(&map(), text).unwrap();
        assert_eq!(changed, 3);
        let docs: Vec<Value> = serde_yaml_ng::Deserializer::from_str(&out)
            .map(|d| <Value as serde::Deserialize>::deserialize(d).unwrap())
            .collect();
        let spec = &docs[0]["spec"]["jobTemplate"]["spec"]["template"]["spec"];
        assert!(spec["containers"][0]["image"].as_str().unwrap().starts_with("reg.local:5000/library/nginx@sha256:"));
        assert_eq!(spec["containers"][1]["image"], "busybox");
        let originals: BTreeMap<String, String> =
            serde_json::from_str(docs[0]["metadata"]["annotations"][ORIGINAL_IMAGES_ANNOTATION].as_str().unwrap())
                .unwrap();
        assert_eq!(originals["spec.jobTemplate.spec.template.spec.initContainers[0].image"], "nginx:1.27");
        assert_eq!(docs[1]["data"]["image"], "nginx:1.27", "only workloads are rewritten");
        assert!(docs[2]["spec"]["values"]["sidecar"]["image"].as_str().unwrap().starts_with("reg.local:5000/"));
    }
}
