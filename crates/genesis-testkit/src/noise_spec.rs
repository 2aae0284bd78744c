//! A bundle spec larger than the fixtures: one image whose layer is noise, for the tests of
//! what only a bundle of several zstd frames shows (split bundles, decision 0042).

use std::path::Path;

use serde_json::json;

/// Writes under `dir` an OCI layout (`layout/`) of one image whose layer is `len` bytes of
/// [`genesis_bundle::test_support::noise`] from `seed` (zstd cannot shrink them, so they are
/// stored in raw frames of 4 MiB), and `bundle.yaml`, a spec of bundle `noise` version `1`
/// carrying it as `example.com/demo/app:1`, written to `out/`.
pub fn write(dir: &Path, len: usize, seed: u64) {
    let blobs = dir.join("layout/blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let blob = |bytes: &[u8], media_type: &str| {
        let digest = genesis_bundle::sha256(bytes);
        std::fs::write(blobs.join(digest.hex()), bytes).unwrap();
        json!({"mediaType": media_type, "digest": digest.to_string(), "size": bytes.len()})
    };
    let layer = blob(&genesis_bundle::test_support::noise(len, seed), "application/vnd.oci.image.layer.v1.tar");
    let config = blob(
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
        "application/vnd.oci.image.config.v1+json",
    );
    let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config, "layers": [layer]});
    let mut image = blob(&serde_json::to_vec(&manifest).unwrap(), "application/vnd.oci.image.manifest.v1+json");
    image["annotations"] = json!({"org.opencontainers.image.ref.name": "1"});
    let index = json!({"schemaVersion": 2, "manifests": [image]});
    std::fs::write(dir.join("layout/index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("layout/oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("bundle.yaml"),
        "apiVersion: genesis.dev/v1alpha1\nkind: Bundle\nmetadata: {name: noise, version: '1'}\nspec:\n  images:\n    \
         - {name: app, image: 'oci:layout:1', ref: 'example.com/demo/app:1'}\n  output: {dir: out}\n",
    )
    .unwrap();
}
