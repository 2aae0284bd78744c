//! Bundle specs of images with several layers of noise, for the tests of what two releases
//! that share layers show (delta bundles, decision 0043).

use std::path::Path;

use serde_json::json;

/// One image of a [`write`] spec.
pub struct Image<'a> {
    /// Its name in the spec (and the `ref.name` of the layout's index).
    pub name: &'a str,
    /// The reference manifests use for it (`example.com/demo/app:2`).
    pub reference: &'a str,
    /// Its layers, each `(bytes, seed)` of [`genesis_bundle::test_support::noise`]: the same
    /// pair gives the same layer, and so the same digest, in every release.
    pub layers: &'a [(usize, u64)],
}

/// Writes under `dir` an OCI layout (`layout/`, added to: blobs of earlier calls stay, its
/// index names these images only) of `images`, each with its noise layers and one config
/// shared by all (the same bytes, so the same digest), and `bundle.yaml`, a spec of bundle
/// `name` version `version` carrying them, written to `out/` (`out/NAME-VERSION.tar.zst`).
/// Called once per release in the same `dir`, it gives releases that share the layers of
/// equal `(bytes, seed)`.
pub fn write(dir: &Path, name: &str, version: &str, images: &[Image<'_>]) {
    let blobs = dir.join("layout/blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let blob = |bytes: &[u8], media_type: &str| {
        let digest = genesis_bundle::sha256(bytes);
        std::fs::write(blobs.join(digest.hex()), bytes).unwrap();
        json!({"mediaType": media_type, "digest": digest.to_string(), "size": bytes.len()})
    };
    let config = blob(
        br#"{"architecture":"amd64","os":"linux","rootfs":{"type":"layers","diff_ids":[]}}"#,
        "application/vnd.oci.image.config.v1+json",
    );
    let mut tops = Vec::new();
    let mut spec_images = String::new();
    for image in images {
        let layers: Vec<serde_json::Value> = image
            .layers
            .iter()
            .map(|&(len, seed)| {
                blob(&genesis_bundle::test_support::noise(len, seed), "application/vnd.oci.image.layer.v1.tar")
            })
            .collect();
        let manifest = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
                              "config": config, "layers": layers});
        let mut top = blob(&serde_json::to_vec(&manifest).unwrap(), "application/vnd.oci.image.manifest.v1+json");
        top["annotations"] = json!({"org.opencontainers.image.ref.name": image.name});
        tops.push(top);
        spec_images.push_str(&format!(
            "    - {{name: {}, image: 'oci:layout:{}', ref: '{}'}}\n",
            image.name, image.name, image.reference
        ));
    }
    let index = json!({"schemaVersion": 2, "manifests": tops});
    std::fs::write(dir.join("layout/index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("layout/oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    std::fs::write(
        dir.join("bundle.yaml"),
        format!(
            "apiVersion: genesis.dev/v1alpha1\nkind: Bundle\nmetadata: {{name: {name}, version: '{version}'}}\nspec:\n  \
             images:\n{spec_images}  output: {{dir: out}}\n"
        ),
    )
    .unwrap();
}
