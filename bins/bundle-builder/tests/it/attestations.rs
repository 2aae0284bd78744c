//! What the builder attests about a bundle: the CycloneDX SBOM (judged by CycloneDX's own
//! Python library, `cargo xtask test-deps` installs it).

use std::path::{Path, PathBuf};
use std::process::Command;

use super::{builder, copy_inputs, fixtures, text};

/// Builds the fixture spec in `dir` and extracts the archive with GNU tar into `dir/x`.
fn build_and_untar(dir: &Path) -> PathBuf {
    copy_inputs(dir);
    let key = fixtures().join("keys/test.key");
    let out =
        builder(&["create", "-f", "bundle.yaml", "--key", key.to_str().unwrap(), "--output-dir", "out"], dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let x = dir.join("x");
    std::fs::create_dir_all(&x).unwrap();
    let tar =
        Command::new("tar").arg("--zstd").arg("-xf").arg(dir.join("out/demo-0.1.0.tar.zst")).arg("-C").arg(&x).status();
    assert!(tar.unwrap().success());
    x
}

/// CycloneDX's strict JSON-schema validation of `doc` for spec 1.5: `Ok` or the errors.
fn cyclonedx_validate(doc: &Path) -> Result<(), String> {
    let python = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-venv/bin/python");
    assert!(python.exists(), "the test venv is missing: run `cargo xtask test-deps` (cargo xtask ci does)");
    let script = "import sys\n\
from cyclonedx.validation.json import JsonStrictValidator\n\
from cyclonedx.schema import SchemaVersion\n\
errors = JsonStrictValidator(SchemaVersion.V1_5).validate_str(open(sys.argv[1]).read())\n\
print(errors or 'valid'); sys.exit(1 if errors else 0)\n";
    let out = Command::new(python).arg("-c").arg(script).arg(doc).output().unwrap();
    if out.status.success() { Ok(()) } else { Err(format!("{}{}", text(&out.stdout), text(&out.stderr))) }
}

#[test]
fn the_sbom_is_valid_cyclonedx_and_lists_every_image_platform_chart_and_manifest() {
    let dir = tempfile::tempdir().unwrap();
    let x = build_and_untar(dir.path());
    let sbom_path = x.join("sbom/bundle.cdx.json");
    cyclonedx_validate(&sbom_path).unwrap();

    let bom: serde_json::Value = serde_json::from_slice(&std::fs::read(x.join("bom.json")).unwrap()).unwrap();
    assert_eq!(bom["sboms"][0]["path"], "sbom/bundle.cdx.json");
    assert_eq!(bom["sboms"][0]["describes"], "bundle");
    let sbom: serde_json::Value = serde_json::from_slice(&std::fs::read(&sbom_path).unwrap()).unwrap();
    assert_eq!(sbom["specVersion"], "1.5");
    assert_eq!(sbom["metadata"]["component"]["name"], "demo");
    let components = sbom["components"].as_array().unwrap();
    let named = |name: &str| components.iter().find(|c| c["name"] == name).unwrap_or_else(|| panic!("no {name}"));

    let image = named("app");
    let digest = bom["images"][0]["digest"].as_str().unwrap();
    assert_eq!(
        image["purl"].as_str().unwrap().split('?').next().unwrap(),
        format!("pkg:oci/app@{}", digest.replace(':', "%3A"))
    );
    let platforms: Vec<&str> =
        image["components"].as_array().unwrap().iter().map(|c| c["purl"].as_str().unwrap()).collect();
    assert_eq!(platforms.len(), 2, "{platforms:?}");
    assert!(
        platforms.iter().any(|p| p.contains("arch=amd64&os=linux"))
            && platforms.iter().any(|p| p.contains("arch=arm64"))
    );
    // Each platform component names a manifest the bundle really carries.
    for c in image["components"].as_array().unwrap() {
        let blob = x.join("oci/blobs/sha256").join(c["hashes"][0]["content"].as_str().unwrap());
        assert!(blob.exists(), "{}", blob.display());
    }

    // Charts and manifests carry the same SHA-256 the signed BOM lists.
    let file_sha = |path: &str| {
        bom["files"].as_array().unwrap().iter().find(|f| f["path"] == path).unwrap()["sha256"]
            .as_str()
            .unwrap()
            .to_owned()
    };
    assert_eq!(
        format!("sha256:{}", named("web")["hashes"][0]["content"].as_str().unwrap()),
        file_sha("charts/web-0.1.0.tgz")
    );
    for m in bom["manifests"].as_array().unwrap() {
        let path = m["path"].as_str().unwrap();
        assert_eq!(format!("sha256:{}", named(path)["hashes"][0]["content"].as_str().unwrap()), file_sha(path));
    }

    // The validator is not a rubber stamp: a broken hash algorithm is refused.
    let broken = dir.path().join("broken.cdx.json");
    std::fs::write(&broken, std::fs::read_to_string(&sbom_path).unwrap().replacen("\"SHA-256\"", "\"SHA-999\"", 1))
        .unwrap();
    assert!(cyclonedx_validate(&broken).is_err());
}
