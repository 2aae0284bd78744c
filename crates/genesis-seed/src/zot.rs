//! A ready-to-run [zot](https://zotregistry.dev) registry for an edge site that has none yet
//! to seed into: its `zot-config.json` and a `docker-compose.zot.yml` that runs it. Generated
//! only; nothing is pulled or started (the operator runs `docker compose -f … up -d`).
//!
//! The config follows zot's documented format (its `examples/config-*.json`): storage in the
//! image's own data folder with garbage collection and deduplication; HTTP on every address at
//! the chosen port, which zot reads as a string; `compat: ["docker2s2"]`, without which zot
//! answers 415 to a Docker schema-2 manifest, so a seed of a Docker-format image would fail
//! (the seed keeps the source's bytes and digest, it never converts); the search extension
//! only when asked (without CVE scanning, which would download a vulnerability database). The
//! compose file runs [`ZOT_IMAGE`], a multi-platform image pinned by digest, unless given
//! another, with the config mounted read-only and a host data folder as the registry's
//! storage. It serves plain HTTP without authentication: add TLS and auth to the config before
//! exposing it beyond the host.

use std::path::{Path, PathBuf};

use genesis_types::ImageReference;

use crate::{Result, SeedError};

/// The zot image the compose file runs by default: zot v2.1.18, the full image (search, UI,
/// metrics, sync), pinned by the digest of its multi-platform OCI index (`linux/amd64`,
/// `linux/arm64/v8`), so it runs unchanged on both kinds of edge host and never moves.
//
// Origin of the digest: wimpheling/hephaestus, `deploy/zot/README.md` at commit
// 8d098ba47d57ab350341ce1886f3d24fbe7cb7eb, which records it as "the multi-platform OCI index"
// of v2.1.18 with Linux amd64 and arm64/v8 manifests (and pins it in its smoke tests). It was
// not re-resolved here (no network); `skopeo inspect --raw docker://ghcr.io/project-zot/zot:v2.1.18`
// shows the index and its digest. The tag is kept for the reader: with both, the digest decides.
// v2.1.18 understands `http.compat` (added in v2.1.2).
pub const ZOT_IMAGE: &str =
    "ghcr.io/project-zot/zot:v2.1.18@sha256:6f7bf2b8e43437c7c3a121bc80214845c85f27321e66f2ff4be6bf4220775fd7";

/// The name of the config file [`write_zot`] writes.
pub const ZOT_CONFIG_FILE: &str = "zot-config.json";

/// The name of the compose file [`write_zot`] writes.
pub const ZOT_COMPOSE_FILE: &str = "docker-compose.zot.yml";

/// Where the zot image reads its config and keeps its storage (its Dockerfile's defaults).
const CONFIG_IN_CONTAINER: &str = "/etc/zot/config.json";
const STORAGE_IN_CONTAINER: &str = "/var/lib/registry";

/// What the generated registry looks like.
#[derive(Debug, Clone)]
pub struct ZotOptions {
    /// The port zot listens on, published on the host as the same port.
    pub port: u16,
    /// The host folder that holds the registry's storage. A relative path is relative to the
    /// output folder, where the compose file is: Compose resolves it from there.
    pub data_dir: PathBuf,
    /// The image to run instead of [`ZOT_IMAGE`] (a minimal variant, another version, a
    /// mirror), written as given.
    pub image: Option<String>,
    /// Enables zot's search extension (the GraphQL search API the UI and `zli` use).
    pub enable_search: bool,
}

/// Writes [`ZOT_CONFIG_FILE`] and [`ZOT_COMPOSE_FILE`] into `out` (created if needed; files
/// already there are replaced), each atomically; returns their paths.
pub fn write_zot(out: &Path, options: &ZotOptions) -> Result<Vec<PathBuf>> {
    let config = zot_config(options)?;
    let compose = zot_compose(options)?;
    std::fs::create_dir_all(out).map_err(SeedError::io("creating", out))?;
    let mut written = Vec::new();
    for (name, bytes) in [(ZOT_CONFIG_FILE, config), (ZOT_COMPOSE_FILE, compose)] {
        let path = out.join(name);
        genesis_bundle::scratch::atomic_write(&path, &bytes).map_err(SeedError::io("writing", &path))?;
        written.push(path);
    }
    Ok(written)
}

/// The config file's bytes: pretty JSON and a final newline.
fn zot_config(options: &ZotOptions) -> Result<Vec<u8>> {
    if options.port == 0 {
        return Err(input("zot port 0", "the registry needs a fixed port to be published and reached"));
    }
    let mut config = serde_json::json!({
        "distSpecVersion": "1.1.1",
        "storage": { "rootDirectory": STORAGE_IN_CONTAINER, "gc": true, "dedupe": true },
        "http": { "address": "0.0.0.0", "port": options.port.to_string(), "compat": ["docker2s2"] },
        "log": { "level": "info" },
    });
    if options.enable_search {
        config["extensions"] = serde_json::json!({ "search": { "enable": true } });
    }
    let mut bytes = serde_json::to_vec_pretty(&config).expect("a JSON value is JSON");
    bytes.push(b'\n');
    Ok(bytes)
}

/// The compose file's bytes.
fn zot_compose(options: &ZotOptions) -> Result<Vec<u8>> {
    let image = match &options.image {
        Some(image) => {
            image.parse::<ImageReference>().map_err(|e| input(format!("zot image {image:?}"), e.to_string()))?;
            image.as_str()
        }
        None => ZOT_IMAGE,
    };
    let port = options.port;
    let data = host_path(&options.data_dir)?;
    let compose = serde_json::json!({
        "services": {
            "zot": {
                "image": image,
                "ports": [format!("{port}:{port}")],
                "volumes": [
                    format!("./{ZOT_CONFIG_FILE}:{CONFIG_IN_CONTAINER}:ro"),
                    format!("{data}:{STORAGE_IN_CONTAINER}"),
                ],
                "restart": "unless-stopped",
            }
        }
    });
    Ok(serde_yaml_ng::to_string(&compose).expect("a JSON value is YAML").into_bytes())
}

/// `data_dir` as the host side of a short-syntax Compose volume: a path Compose binds (an
/// absolute path, or one starting `./` or `../`; anything else would name a volume).
fn host_path(data_dir: &Path) -> Result<String> {
    let what = || format!("zot data folder {}", data_dir.display());
    let text = data_dir.to_str().ok_or_else(|| input(what(), "is not UTF-8, and the compose file is text"))?;
    if text.is_empty() {
        return Err(input(what(), "is empty: name the host folder for the registry's storage"));
    }
    if text.contains(':') {
        return Err(input(what(), "contains ':', which would split the volume's host:container pair"));
    }
    Ok(if data_dir.is_absolute() || text.starts_with("./") || text.starts_with("../") {
        text.to_owned()
    } else {
        format!("./{text}")
    })
}

fn input(what: impl Into<String>, reason: impl Into<String>) -> SeedError {
    SeedError::Input { what: what.into(), reason: reason.into() }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn options() -> ZotOptions {
        ZotOptions { port: 5000, data_dir: PathBuf::from("zot-data"), image: None, enable_search: false }
    }

    /// Writes with `options` into a fresh folder: the config as JSON, the compose as YAML.
    fn written(options: &ZotOptions) -> (serde_json::Value, serde_json::Value) {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("edge");
        let files = write_zot(&out, options).unwrap();
        assert_eq!(files, [out.join(ZOT_CONFIG_FILE), out.join(ZOT_COMPOSE_FILE)]);
        let config = serde_json::from_slice(&std::fs::read(&files[0]).unwrap()).unwrap();
        let compose = serde_yaml_ng::from_slice(&std::fs::read(&files[1]).unwrap()).unwrap();
        (config, compose)
    }

    #[test]
    fn the_config_has_storage_with_gc_and_dedupe_http_on_the_port_as_a_string_and_no_extension_unless_asked() {
        let (config, _) = written(&ZotOptions { port: 5123, ..options() });
        assert_eq!(config["distSpecVersion"], "1.1.1");
        assert_eq!(
            config["storage"],
            serde_json::json!({ "rootDirectory": "/var/lib/registry", "gc": true, "dedupe": true })
        );
        assert_eq!(config["http"]["address"], "0.0.0.0");
        assert_eq!(config["http"]["port"], "5123");
        assert_eq!(config["http"]["compat"], serde_json::json!(["docker2s2"]));
        assert_eq!(config["log"]["level"], "info");
        assert!(config.get("extensions").is_none(), "{config}");

        let (config, _) = written(&ZotOptions { enable_search: true, ..options() });
        assert_eq!(config["extensions"], serde_json::json!({ "search": { "enable": true } }));
    }

    #[test]
    fn the_compose_service_runs_the_pinned_image_on_the_port_with_the_config_read_only_and_the_data_folder_mounted() {
        let (_, compose) = written(&options());
        let zot = &compose["services"]["zot"];
        assert_eq!(zot["image"], ZOT_IMAGE);
        assert!(ZOT_IMAGE.contains("@sha256:") && !ZOT_IMAGE.contains("zot-linux-"), "{ZOT_IMAGE}");
        assert_eq!(zot["ports"], serde_json::json!(["5000:5000"]));
        assert_eq!(
            zot["volumes"],
            serde_json::json!(["./zot-config.json:/etc/zot/config.json:ro", "./zot-data:/var/lib/registry"])
        );
        assert_eq!(zot["restart"], "unless-stopped");
    }

    #[test]
    fn an_image_override_and_an_absolute_data_folder_are_written_as_given() {
        let image = "registry.local:5000/zot-minimal:v2.1.18";
        let (_, compose) =
            written(&ZotOptions { data_dir: PathBuf::from("/srv/zot"), image: Some(image.into()), ..options() });
        assert_eq!(compose["services"]["zot"]["image"], image);
        assert_eq!(compose["services"]["zot"]["volumes"][1], "/srv/zot:/var/lib/registry");
        let (_, compose) = written(&ZotOptions { data_dir: PathBuf::from("../zot"), ..options() });
        assert_eq!(compose["services"]["zot"]["volumes"][1], "../zot:/var/lib/registry");
    }

    #[test]
    fn files_already_there_are_replaced() {
        let dir = tempfile::tempdir().unwrap();
        std::fs::write(dir.path().join(ZOT_CONFIG_FILE), "old").unwrap();
        write_zot(dir.path(), &options()).unwrap();
        let config: serde_json::Value =
            serde_json::from_slice(&std::fs::read(dir.path().join(ZOT_CONFIG_FILE)).unwrap()).unwrap();
        assert_eq!(config["http"]["port"], "5000");
    }

    #[test]
    fn a_port_of_zero_a_data_folder_with_a_colon_and_a_malformed_image_are_refused_and_nothing_is_written() {
        let dir = tempfile::tempdir().unwrap();
        let out = dir.path().join("edge");
        for (bad, expected) in [
            (ZotOptions { port: 0, ..options() }, "fixed port"),
            (ZotOptions { data_dir: PathBuf::from("data:rw"), ..options() }, "':'"),
            (ZotOptions { data_dir: PathBuf::new(), ..options() }, "is empty"),
            (ZotOptions { image: Some("Not An Image".into()), ..options() }, "zot image"),
        ] {
            let e = write_zot(&out, &bad).unwrap_err();
            assert!(matches!(e, SeedError::Input { .. }) && e.to_string().contains(expected), "{e}");
            assert!(!out.exists());
        }
    }
}
