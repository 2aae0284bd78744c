//! The layered resolver: the cluster-local registry first, then an opt-in list of
//! fallback registries whose images must carry a cosign signature by a trusted key, then
//! fail closed. There is no public default layer. Every resolution says which layer
//! answered and can be appended to an audit file as one JSON line.

use std::io::Write as _;
use std::path::{Path, PathBuf};

use genesis_trust::PublicKey;
use genesis_trust::cosign_image::{SIGNATURE_ANNOTATION, Signers, verify_signature_layer};
use genesis_types::{Digest, ImageReference};

use crate::{Registry, RegistryError, RegistryOptions, Result};

/// One registry layer as configured.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct LayerConfig {
    /// `HOST[:PORT]`.
    pub registry: String,
    /// Plain HTTP instead of TLS.
    #[serde(default)]
    pub plain_http: bool,
    /// CA bundle for the registry's certificate.
    #[serde(default)]
    pub ca_file: Option<PathBuf>,
    /// Docker config.json with credentials for it.
    #[serde(default)]
    pub authfile: Option<PathBuf>,
    /// Keys whose cosign signature an image must carry (required for fallbacks).
    #[serde(default)]
    pub trusted_keys: Vec<PathBuf>,
}

/// The resolver configuration file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ResolverConfig {
    /// Layer 1: the cluster-local registry.
    pub local: LayerConfig,
    /// Layer 2: fallbacks, tried in order. Empty (the default) means fail closed after
    /// layer 1.
    #[serde(default)]
    pub fallbacks: Vec<LayerConfig>,
    /// Append one JSON line per resolution here.
    #[serde(default)]
    pub audit: Option<PathBuf>,
}

impl ResolverConfig {
    /// Reads a YAML configuration; relative paths resolve against its folder.
    pub fn load(path: &Path) -> Result<ResolverConfig> {
        let text = std::fs::read_to_string(path).map_err(RegistryError::io("reading", path.display()))?;
        let mut config: ResolverConfig =
            serde_yaml_ng::from_str(&text).map_err(|e| RegistryError::Invalid(format!("{}: {e}", path.display())))?;
        let base = path.parent().unwrap_or(Path::new("."));
        let fix = |p: &mut PathBuf| {
            if p.is_relative() {
                *p = base.join(&*p);
            }
        };
        for layer in std::iter::once(&mut config.local).chain(&mut config.fallbacks) {
            layer.ca_file.as_mut().map(fix);
            layer.authfile.as_mut().map(fix);
            layer.trusted_keys.iter_mut().for_each(fix);
        }
        if let Some(f) = config.fallbacks.iter().find(|f| f.trusted_keys.is_empty()) {
            return Err(RegistryError::Invalid(format!(
                "{}: fallback {} has no trustedKeys; a fallback must be held to the same signature discipline",
                path.display(),
                f.registry
            )));
        }
        config.audit.as_mut().map(fix);
        Ok(config)
    }
}

/// Which layer answered.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub enum Layer {
    /// The cluster-local registry.
    Local,
    /// A configured fallback.
    Fallback,
}

/// A successful resolution.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct Resolution {
    /// What was asked.
    pub reference: String,
    /// Which layer answered.
    pub layer: Layer,
    /// `HOST/REPO@sha256:…` to pull.
    pub resolved: String,
    /// The manifest digest.
    pub digest: Digest,
    /// The key whose signature a fallback image carried.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub signed_by: Option<String>,
}

struct ResolverLayer {
    registry: Registry,
    policy: Option<Signers>,
}

/// The resolver.
pub struct Resolver {
    local: ResolverLayer,
    fallbacks: Vec<ResolverLayer>,
    audit: Option<PathBuf>,
}

fn layer(config: &LayerConfig) -> Result<ResolverLayer> {
    let credentials = match &config.authfile {
        Some(f) => crate::Credentials::from_docker_config(f, &config.registry)?,
        None => None,
    };
    let options =
        RegistryOptions { plain_http: config.plain_http, ca_file: config.ca_file.clone(), credentials, retries: 2 };
    let policy = if config.trusted_keys.is_empty() {
        None
    } else {
        let keys = config
            .trusted_keys
            .iter()
            .map(|k| PublicKey::from_pem_file(k))
            .collect::<std::result::Result<Vec<_>, _>>()
            .map_err(|e| RegistryError::Invalid(e.to_string()))?;
        Some(Signers { keys, ..Signers::default() })
    };
    Ok(ResolverLayer { registry: Registry::new(&config.registry, &options)?, policy })
}

impl Resolver {
    /// Builds the resolver a configuration describes.
    pub fn new(config: &ResolverConfig) -> Result<Resolver> {
        Ok(Resolver {
            local: layer(&config.local)?,
            fallbacks: config.fallbacks.iter().map(layer).collect::<Result<_>>()?,
            audit: config.audit.clone(),
        })
    }

    /// Every endpoint the resolver may contact, for the start-up announcement.
    pub fn endpoints(&self) -> Vec<String> {
        std::iter::once(&self.local).chain(&self.fallbacks).map(|l| l.registry.endpoint().to_owned()).collect()
    }

    /// Resolves `reference`: local first, then each fallback (whose answer must carry a
    /// trusted cosign signature), then an error. The outcome is logged and audited.
    pub async fn resolve(&self, reference: &str) -> Result<Resolution> {
        let r: ImageReference = reference.parse().map_err(|e| RegistryError::Invalid(format!("{e}")))?;
        let wanted = r
            .digest()
            .map(ToString::to_string)
            .or_else(|| r.tag().map(str::to_owned))
            .unwrap_or_else(|| "latest".into());
        let mut tried = Vec::new();
        for (kind, l) in
            std::iter::once((Layer::Local, &self.local)).chain(self.fallbacks.iter().map(|f| (Layer::Fallback, f)))
        {
            match l.registry.get_manifest(r.repository(), &wanted).await {
                Ok(m) => {
                    let signed_by = match &l.policy {
                        Some(policy) => match cosign_signature(&l.registry, r.repository(), &m.digest, policy).await {
                            Ok(key) => Some(key),
                            Err(e) => {
                                tracing::warn!(reference, registry = l.registry.host(), error = %e, "fallback image refused");
                                tried.push(format!("{}: {e}", l.registry.host()));
                                continue;
                            }
                        },
                        None => None,
                    };
                    let resolution = Resolution {
                        reference: reference.to_owned(),
                        layer: kind,
                        resolved: format!("{}/{}@{}", l.registry.host(), r.repository(), m.digest),
                        digest: m.digest,
                        signed_by,
                    };
                    tracing::info!(reference, layer = ?kind, resolved = %resolution.resolved, "resolved");
                    self.audit(&serde_json::to_value(&resolution).expect("json"))?;
                    return Ok(resolution);
                }
                Err(RegistryError::NotFound(_)) => tried.push(format!("{}: not found", l.registry.host())),
                Err(e) => return Err(e),
            }
        }
        let reason = format!(
            "{reference}: not resolvable ({}); failing closed, no public registry is consulted",
            tried.join("; ")
        );
        tracing::warn!(reference, "{reason}");
        self.audit(&serde_json::json!({ "reference": reference, "layer": "none", "outcome": reason }))?;
        Err(RegistryError::NotFound(reason))
    }

    fn audit(&self, record: &serde_json::Value) -> Result<()> {
        let Some(path) = &self.audit else { return Ok(()) };
        let mut record = record.clone();
        record["time"] = genesis_bundle::rfc3339(genesis_bundle::unix_now()).into();
        let mut f = std::fs::OpenOptions::new()
            .create(true)
            .append(true)
            .open(path)
            .map_err(RegistryError::io("opening", path.display()))?;
        writeln!(f, "{record}").map_err(RegistryError::io("writing", path.display()))
    }
}

/// Verifies the cosign signature of `digest` stored under the `sha256-<hex>.sig` tag: some
/// layer's simple-signing payload must name the digest and be signed by one of `signers` (a
/// key, or a keyless identity checked against the pinned root). Returns who signed.
pub async fn cosign_signature(registry: &Registry, repo: &str, digest: &Digest, signers: &Signers) -> Result<String> {
    let tag = format!("{}-{}.sig", digest.algorithm().name(), digest.hex());
    let manifest = registry.get_manifest(repo, &tag).await.map_err(|e| match e {
        RegistryError::NotFound(_) => RegistryError::Invalid(format!("no cosign signature ({repo}:{tag})")),
        other => other,
    })?;
    let m: genesis_types::ImageManifest =
        serde_json::from_slice(&manifest.bytes).map_err(|e| RegistryError::Invalid(format!("{repo}:{tag}: {e}")))?;
    let mut reasons = Vec::new();
    for layer in m.layers.iter().filter(|l| l.annotations.contains_key(SIGNATURE_ANNOTATION)) {
        if layer.size > 1 << 20 {
            reasons.push(format!("layer {} is larger than a signature payload", layer.digest));
            continue;
        }
        let mut payload = Vec::new();
        registry.get_blob(repo, &layer.digest, layer.size, &mut payload).await?;
        match verify_signature_layer(&payload, &layer.annotations, digest, signers) {
            Ok(signer) => return Ok(signer),
            Err(e) => reasons.push(e.to_string()),
        }
    }
    Err(RegistryError::Invalid(format!(
        "{repo}:{tag}: no trusted signature over {digest} ({})",
        if reasons.is_empty() { "no signature layers".to_owned() } else { reasons.join("; ") }
    )))
}
