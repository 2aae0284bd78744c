//! Image references in YAML manifests and chart values, for the build's sweep: every image a
//! manifest or a chart's default values refers to must be in the bundle, or the build fails
//! listing what is missing (an image "usually pulled from upstream" is exactly what breaks an
//! air-gapped install). An explicit allow-list exempts an image.

use genesis_types::ImageReference;

/// One image reference found in a YAML document.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct FoundImage {
    /// The reference as written.
    pub reference: String,
    /// Where: file and path inside the document.
    pub origin: String,
}

/// Collects the image references in YAML text: every `image: "ref"` string, and every
/// `image: {registry, repository, tag, digest}` map as Helm charts write them. A document
/// that does not parse is an error, never skipped: the images it names would go unchecked.
pub fn images_in_yaml(text: &str, file: &str) -> Result<Vec<FoundImage>, serde_yaml_ng::Error> {
    let mut out = Vec::new();
    for (n, doc) in serde_yaml_ng::Deserializer::from_str(text).enumerate() {
        let value = <serde_yaml_ng::Value as serde::Deserialize>::deserialize(doc)?;
        walk(&value, &format!("{file}#{n}"), &mut out);
    }
    Ok(out)
}

fn walk(value: &serde_yaml_ng::Value, path: &str, out: &mut Vec<FoundImage>) {
    use serde_yaml_ng::Value;
    match value {
        Value::Mapping(map) => {
            for (k, v) in map {
                let key = k.as_str().unwrap_or_default();
                let here = format!("{path}.{key}");
                if key == "image"
                    && let Some(reference) = image_value(v)
                {
                    out.push(FoundImage { reference, origin: here });
                    continue;
                }
                walk(v, &here, out);
            }
        }
        Value::Sequence(items) => {
            for (i, v) in items.iter().enumerate() {
                walk(v, &format!("{path}[{i}]"), out);
            }
        }
        Value::Tagged(t) => walk(&t.value, path, out),
        _ => {}
    }
}

/// `image: "ref"` or `image: {registry?, repository, tag?, digest?}`.
fn image_value(v: &serde_yaml_ng::Value) -> Option<String> {
    if let Some(s) = v.as_str() {
        return (!s.is_empty()).then(|| s.to_owned());
    }
    let field =
        |k: &str| v.get(k).and_then(|x| x.as_str().map(str::to_owned).or_else(|| x.as_f64().map(|f| f.to_string())));
    let repository = field("repository")?;
    let mut reference = match field("registry").filter(|r| !r.is_empty()) {
        Some(registry) => format!("{registry}/{repository}"),
        None => repository,
    };
    if let Some(tag) = field("tag").filter(|t| !t.is_empty()) {
        reference = format!("{reference}:{tag}");
    }
    if let Some(digest) = field("digest").filter(|d| !d.is_empty()) {
        reference = format!("{reference}@{digest}");
    }
    Some(reference)
}

/// The references among `found` that neither a bundled image nor the allow-list covers. A
/// bundled image covers a reference with the same registry, repository and tag, or the same
/// repository pinned to its digest.
pub fn unbundled<'a>(
    found: &'a [FoundImage],
    bundled: &[(ImageReference, genesis_types::Digest)],
    allowed: &[ImageReference],
) -> Vec<&'a FoundImage> {
    found
        .iter()
        .filter(|f| {
            let Ok(r) = f.reference.parse::<ImageReference>() else { return true };
            let same_repo = |b: &ImageReference| b.registry() == r.registry() && b.repository() == r.repository();
            let covered = bundled.iter().any(|(b, digest)| {
                same_repo(b)
                    && (r.digest() == Some(digest)
                        || (r.digest().is_none() && r.tag().unwrap_or("latest") == b.tag().unwrap_or("latest")))
            });
            let exempt = allowed.iter().any(|a| same_repo(a) && (a.tag().is_none() || a.tag() == r.tag()));
            !covered && !exempt
        })
        .collect()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn finds_strings_and_helm_maps() {
        let text = "kind: Deployment\nspec:\n  template:\n    spec:\n      containers:\n        - name: a\n          image: nginx:1.27\n      initContainers:\n        - image: busybox\n---\nimage:\n  registry: quay.io\n  repository: x/y\n  tag: 2\n";
        let found: Vec<String> = images_in_yaml(text, "f").unwrap().into_iter().map(|f| f.reference).collect();
        assert_eq!(found, ["nginx:1.27", "busybox", "quay.io/x/y:2"]);
        assert_eq!(images_in_yaml(text, "f").unwrap()[0].origin, "f#0.spec.template.spec.containers[0].image");
    }

    #[test]
    fn a_document_that_does_not_parse_is_an_error_not_skipped() {
        let text = "image: nginx:1.27\n---\nimage: [unclosed\n---\nimage: busybox\n";
        let e = images_in_yaml(text, "f").unwrap_err().to_string();
        assert!(e.contains("line 3"), "{e}");
    }

    #[test]
    fn unbundled_truth_table() {
        let d = genesis_types::Digest::from_sha256_bytes([7; 32]);
        let bundled = vec![("docker.io/library/nginx:1.27".parse().unwrap(), d.clone())];
        let allowed = vec!["quay.io/allowed/img".parse().unwrap()];
        let cases = [
            ("nginx:1.27", false),
            ("docker.io/library/nginx:1.27", false),
            (&*format!("nginx@{d}"), false),
            ("nginx:1.28", true),
            ("nginx", true),
            ("ghcr.io/library/nginx:1.27", true),
            ("quay.io/allowed/img:any", false),
            ("not a reference", true),
        ];
        for (reference, missing) in cases {
            let found = [FoundImage { reference: reference.into(), origin: "o".into() }];
            assert_eq!(unbundled(&found, &bundled, &allowed).len() == 1, missing, "{reference}");
        }
    }
}
