//! Flux sources pointed at the charts a load pushed, so a HelmRelease reconciles from the
//! cluster-local registry: the HelmRepository a HelmRelease uses for a carried chart becomes
//! an OCI repository at `oci://REGISTRY[/PREFIX]/charts`, and an OCIRepository whose URL names
//! a carried chart gets that chart's URL. Sources for charts the bundle does not carry are
//! left alone. The original URL is kept in an annotation.

use genesis_registry::charts::LoadedChart;
use serde_yaml_ng::Value;

/// Annotation that keeps a source's URL before it was pointed at the local registry.
pub const ORIGINAL_URL_ANNOTATION: &str = "genesis.dev/original-url";

fn str_at<'a>(v: &'a Value, path: &[&str]) -> Option<&'a str> {
    path.iter().try_fold(v, |v, key| v.get(*key))?.as_str()
}

fn set_url(object: &mut Value, url: &str, oci_type: bool) -> bool {
    let Some(spec) = object.get_mut("spec").and_then(Value::as_mapping_mut) else { return false };
    let old = spec.get("url").and_then(Value::as_str).unwrap_or_default().to_owned();
    if old == url {
        return false;
    }
    spec.insert("url".into(), url.into());
    if oci_type {
        spec.insert("type".into(), "oci".into());
    }
    let Some(meta) = object.get_mut("metadata").and_then(Value::as_mapping_mut) else { return true };
    let annotations = meta.entry("annotations".into()).or_insert_with(|| Value::Mapping(Default::default()));
    if let Some(a) = annotations.as_mapping_mut() {
        a.entry(ORIGINAL_URL_ANNOTATION.into()).or_insert_with(|| old.into());
    }
    true
}

/// Points the Flux sources among `objects` at `charts`; returns how many changed.
pub fn point_flux_sources(objects: &mut [&mut Value], charts: &[LoadedChart]) -> usize {
    let carried = |name: &str| charts.iter().find(|c| c.name == name);
    // HelmRepositories (namespace, name) that serve a carried chart to some HelmRelease.
    let mut repositories: Vec<(String, String, String)> = Vec::new();
    for o in objects.iter() {
        if str_at(o, &["kind"]) != Some("HelmRelease") {
            continue;
        }
        let chart_spec = ["spec", "chart", "spec"];
        let Some(chart) = str_at(o, &[&chart_spec[..], &["chart"]].concat()).and_then(carried) else { continue };
        if str_at(o, &[&chart_spec[..], &["sourceRef", "kind"]].concat()) != Some("HelmRepository") {
            continue;
        }
        let Some(name) = str_at(o, &[&chart_spec[..], &["sourceRef", "name"]].concat()) else { continue };
        let namespace = str_at(o, &[&chart_spec[..], &["sourceRef", "namespace"]].concat())
            .or_else(|| str_at(o, &["metadata", "namespace"]))
            .unwrap_or("default");
        let base = chart.url.rsplit_once('/').map_or(chart.url.as_str(), |(base, _)| base);
        repositories.push((namespace.to_owned(), name.to_owned(), base.to_owned()));
    }
    let mut changed = 0;
    for o in objects.iter_mut() {
        let namespace = str_at(o, &["metadata", "namespace"]).unwrap_or("default").to_owned();
        let name = str_at(o, &["metadata", "name"]).unwrap_or_default().to_owned();
        match str_at(o, &["kind"]) {
            Some("HelmRepository") => {
                if let Some((_, _, url)) = repositories.iter().find(|(ns, n, _)| *ns == namespace && *n == name)
                    && set_url(o, url, true)
                {
                    changed += 1;
                }
            }
            Some("OCIRepository") => {
                let named = str_at(o, &["spec", "url"]).and_then(|u| u.rsplit('/').next()).and_then(carried);
                if let Some(chart) = named
                    && set_url(o, &chart.url, false)
                {
                    changed += 1;
                }
            }
            _ => {}
        }
    }
    changed
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn helm_and_oci_repositories_of_carried_charts_point_at_the_registry() {
        let charts = vec![LoadedChart {
            name: "web".into(),
            version: "0.1.0".into(),
            url: "oci://reg.local:5000/charts/web".into(),
            digest: "sha256:x".into(),
        }];
        let docs = "kind: HelmRelease\nmetadata: {name: web, namespace: apps}\nspec:\n  chart:\n    spec: {chart: web, version: 0.1.0, sourceRef: {kind: HelmRepository, name: vendor}}\n\
---\nkind: HelmRepository\nmetadata: {name: vendor, namespace: apps}\nspec: {url: 'https://charts.vendor.example'}\n\
---\nkind: HelmRepository\nmetadata: {name: other, namespace: apps}\nspec: {url: 'https://other.example'}\n\
---\nkind: OCIRepository\nmetadata: {name: web-oci, namespace: apps}\nspec: {url: 'oci://ghcr.io/vendor/charts/web'}\n";
        let mut values: Vec<Value> = serde_yaml_ng::Deserializer::from_str(docs)
            .map(|d| <Value as serde::Deserialize>::deserialize(d).unwrap())
            .collect();
        let mut refs: Vec<&mut Value> = values.iter_mut().collect();
        assert_eq!(point_flux_sources(&mut refs, &charts), 2);
        assert_eq!(str_at(&values[1], &["spec", "url"]), Some("oci://reg.local:5000/charts"));
        assert_eq!(str_at(&values[1], &["spec", "type"]), Some("oci"));
        assert_eq!(
            str_at(&values[1], &["metadata", "annotations", ORIGINAL_URL_ANNOTATION]),
            Some("https://charts.vendor.example")
        );
        assert_eq!(str_at(&values[2], &["spec", "url"]), Some("https://other.example"), "not used for a carried chart");
        assert_eq!(str_at(&values[3], &["spec", "url"]), Some("oci://reg.local:5000/charts/web"));
    }
}
