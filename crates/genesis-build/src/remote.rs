//! What a spec needs from the network, known without touching it: the hosts it pulls from,
//! where pulled content is cached, and what the pull step found there. Offline, so a build
//! without the `pull` feature can tell a spec it cannot build from one it can.

use std::collections::BTreeMap;
use std::path::PathBuf;

use genesis_types::{Descriptor, Digest};

use crate::spec::{BundleSpec, ChartSource, ImageSource};

/// What the pull step found: for each registry source (as written in the spec), the
/// descriptor of its top manifest or index in the cache, and its cosign signature if any.
/// The plan reads these from the cache exactly like an OCI layout.
#[derive(Debug, Clone, Default, PartialEq, Eq)]
pub(crate) struct Pulled {
    /// Source text to top descriptor.
    pub(crate) images: BTreeMap<String, Descriptor>,
    /// Source text to the top descriptor of its `sha256-<hex>.sig` signature image.
    pub(crate) signatures: BTreeMap<String, Descriptor>,
    /// Chart name to the downloaded, checked `.tgz` in the cache.
    pub(crate) charts: BTreeMap<String, PathBuf>,
    /// Source text to the manifests that refer to it (OCI referrers: signatures, SBOMs,
    /// attestations), each pulled whole.
    pub(crate) referrers: BTreeMap<String, Vec<Descriptor>>,
    /// Source text to the digest whose cosign signature verified and who signed it, when the
    /// build checked source signatures.
    pub(crate) verified_signers: BTreeMap<String, (Digest, String)>,
}

/// Every host a spec pulls from (registries, chart repositories), as
/// [`BuildOptions::registries`](crate::BuildOptions) names them: what a caller announces
/// before the build contacts them. Empty for a spec of local sources only.
pub fn hosts(spec: &BundleSpec) -> Vec<String> {
    let images = spec.spec.images.iter().filter_map(|i| match &i.image {
        ImageSource::Registry { reference, .. } => Some(reference.registry()),
        ImageSource::OciLayout { .. } => None,
    });
    let charts = spec.spec.charts.iter().filter_map(|c| match &c.source {
        ChartSource::Repo { url, .. } => Some(url_host(url)),
        ChartSource::Oci { reference } => Some(reference.registry()),
        ChartSource::Path(_) => None,
    });
    let mut hosts: Vec<String> = images.chain(charts).map(str::to_owned).collect();
    hosts.sort();
    hosts.dedup();
    hosts
}

/// The `HOST[:PORT]` of a chart repository URL.
pub(crate) fn url_host(url: &str) -> &str {
    let rest = url.split_once("://").map_or(url, |(_, r)| r);
    rest.split('/').next().unwrap_or(rest)
}

/// The default cache: `$XDG_CACHE_HOME/genesis`, else `~/.cache/genesis`.
pub fn default_cache_dir() -> PathBuf {
    std::env::var_os("XDG_CACHE_HOME")
        .map(PathBuf::from)
        .or_else(|| std::env::var_os("HOME").map(|h| PathBuf::from(h).join(".cache")))
        .unwrap_or_else(std::env::temp_dir)
        .join("genesis")
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn hosts_lists_each_registry_and_chart_repository_once_and_nothing_local() {
        let spec = BundleSpec::parse(
            "apiVersion: genesis.dev/v1alpha1\nkind: Bundle\nmetadata: {name: demo, version: 0.1.0}\nspec:\n  images:\n    \
             - {name: app, image: 'registry.example.com/demo/app:1.0'}\n    \
             - {name: db, image: 'docker://registry.example.com/demo/db:2'}\n    \
             - {name: web, image: 'oci:images/web:1.0', ref: 'registry.example.com/demo/web:1.0'}\n  charts:\n    \
             - {name: a, repo: 'https://charts.example:8443/stable', version: 1.0.0}\n    \
             - {name: b, repo: 'oci://quay.example/charts', version: 2.0.0}\n    \
             - {name: c, path: charts/c-1.0.0.tgz}\n  output: {dir: dist}\n",
        )
        .unwrap();
        assert_eq!(hosts(&spec), ["charts.example:8443", "quay.example", "registry.example.com"]);
    }
}
