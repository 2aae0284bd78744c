//! The good bundle verifies, and independent tools agree with what we wrote and extracted.
//! A missing tool is a failure, not a skip: `.ci/run` installs them.

use std::path::Path;
use std::process::Command;

use crate::{ARCHIVE, case, extract, listing, test_pub, text, verify};

fn tool(program: &str, args: &[&str], dir: &Path) -> String {
    let out = Command::new(program)
        .args(args)
        .current_dir(dir)
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed (.ci/run installs it): {e}"));
    assert!(out.status.success(), "{program} {args:?} failed: {}{}", text(&out.stdout), text(&out.stderr));
    text(&out.stdout)
}

#[test]
fn verify_reports_each_fact_in_text_and_json() {
    let out = verify(&case("good"), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    assert!(t.contains("✓ signature OK (key SHA256:"), "{t}");
    assert!(t.contains("✓ sha256 match"), "{t}");
    assert!(t.contains("✓ detached signature OK"), "{t}");
    assert!(t.contains("✓ sigstore bundle OK"), "{t}");
    assert!(t.contains("✓ 16 entries match the BOM"), "{t}");
    assert!(t.contains("✓ SLSA provenance present (build: https://genesis.dev/bundle-builder@v"), "{t}");
    assert!(t.contains("✓ SBOM present (sbom/bundle.cdx.json"), "{t}");

    let out = verify(&case("good"), &["--output", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verified"], true);
    let r = &v["report"];
    assert_eq!(r["name"], "demo");
    assert_eq!(r["files"], 16);
    assert_eq!(r["sbom"], "sbom/bundle.cdx.json");
    assert_eq!(r["provenance"]["buildType"], "https://genesis.dev/bundle-builder/build/v1");
    assert_eq!(r["provenance"]["dependencies"], 2, "the image and the chart");
    assert_eq!(r["sha256Sidecar"]["status"], "match");
    assert_eq!(r["signatureSidecar"]["status"], "match");
    assert_eq!(r["cosignBundleSidecar"]["status"], "match");
    let sidecar = std::fs::read_to_string(format!("{}.sha256", case("good").display())).unwrap();
    assert_eq!(r["archiveSha256"].as_str().unwrap(), format!("sha256:{}", &sidecar[..64]));
}

#[test]
fn absent_sidecars_are_reported_not_required() {
    let dir = tempfile::tempdir().unwrap();
    let lone = dir.path().join(ARCHIVE);
    std::fs::copy(case("good"), &lone).unwrap();
    let out = verify(&lone, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("! no sha256 sidecar"));
    assert!(text(&out.stdout).contains("! no detached signature"));
}

#[test]
fn sidecars_are_accepted_by_sha256sum_and_openssl() {
    let dir = case("good").parent().unwrap().to_owned();
    assert!(tool("sha256sum", &["-c", &format!("{ARCHIVE}.sha256")], &dir).contains(": OK"));
    let tmp = tempfile::tempdir().unwrap();
    let der = tmp.path().join("sig.der");
    let b64 = std::fs::read_to_string(dir.join(format!("{ARCHIVE}.sig"))).unwrap();
    let decoded = Command::new("base64")
        .arg("-d")
        .stdin(std::fs::File::open(dir.join(format!("{ARCHIVE}.sig"))).unwrap())
        .output()
        .unwrap();
    assert!(decoded.status.success() && !b64.contains('\n'));
    std::fs::write(&der, decoded.stdout).unwrap();
    let out = tool(
        "openssl",
        &["dgst", "-sha256", "-verify", test_pub().to_str().unwrap(), "-signature", der.to_str().unwrap(), ARCHIVE],
        &dir,
    );
    assert!(out.contains("Verified OK"), "{out}");
}

#[test]
fn tar_and_zstd_read_the_archive_in_canonical_order() {
    let dir = case("good").parent().unwrap().to_owned();
    tool("zstd", &["-q", "-t", ARCHIVE], &dir);
    let listing = tool("tar", &["--zstd", "-tvf", ARCHIVE], &dir);
    let paths: Vec<&str> = listing.lines().map(|l| l.split_whitespace().last().unwrap()).collect();
    assert_eq!(&paths[..3], ["bom.json", "bom.json.sig", "provenance/bundle.intoto.json"]);
    let mut sorted = paths[3..].to_vec();
    sorted.sort();
    assert_eq!(paths[3..], sorted[..]);
    for line in listing.lines() {
        assert!(line.contains(" 0/0 ") && line.contains("2025-01-01 00:00"), "{line}");
        assert!(line.starts_with("-rw-r--r--") || line.starts_with("drwxr-xr-x"), "{line}");
    }
}

#[test]
fn extracted_layout_is_read_by_skopeo_and_umoci_with_matching_digests() {
    let tmp = tempfile::tempdir().unwrap();
    let out_dir = tmp.path().join("x");
    let out = extract(&case("good"), &out_dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(listing(&out_dir), ["bom.json", "bom.json.sig", "charts", "manifests", "oci", "provenance", "sbom"]);
    let bom = crate::bom_of(&case("good"));
    let image = &bom["images"][0];
    let digest = image["digest"].as_str().unwrap();
    let layout = format!("oci:{}:{}", out_dir.join("oci").display(), image["ref"].as_str().unwrap());

    // skopeo reads the index whole; its bytes hash to the BOM's digest.
    let raw = Command::new("skopeo").args(["inspect", "--raw", &layout]).output().expect("skopeo must be installed");
    assert!(raw.status.success(), "{}", text(&raw.stderr));
    assert_eq!(genesis_bundle::sha256(&raw.stdout).to_string(), digest);
    let inspected: serde_json::Value =
        serde_json::from_str(&tool("skopeo", &["inspect", &layout], tmp.path())).unwrap();
    assert_eq!(inspected["Digest"], digest);

    // umoci refuses an index tag ("tag is ambiguous"), so take one platform with skopeo
    // first, as operators do, then let umoci stat and unpack it.
    let single = tmp.path().join("single");
    tool(
        "skopeo",
        &["copy", "-q", "--override-arch", "arm64", &layout, &format!("oci:{}:app", single.display())],
        tmp.path(),
    );
    let index: serde_json::Value = serde_json::from_slice(&std::fs::read(single.join("index.json")).unwrap()).unwrap();
    let arm64 = bom["images"][0]["platforms"].as_array().unwrap();
    assert!(arm64.iter().any(|p| p == "linux/arm64"));
    let child: serde_json::Value =
        serde_json::from_slice(&std::fs::read(out_dir.join("oci/blobs/sha256").join(&digest[7..])).unwrap()).unwrap();
    let arm_digest = child["manifests"]
        .as_array()
        .unwrap()
        .iter()
        .find(|m| m["platform"]["architecture"] == "arm64")
        .unwrap()["digest"]
        .clone();
    assert_eq!(index["manifests"][0]["digest"], arm_digest, "skopeo kept the manifest bytes");
    let stat = tool("umoci", &["stat", "--image", &format!("{}:app", single.display())], tmp.path());
    assert!(stat.contains("genesis fixtures"), "{stat}");
    let bundle = tmp.path().join("unpacked");
    tool(
        "umoci",
        &["unpack", "--rootless", "--image", &format!("{}:app", single.display()), bundle.to_str().unwrap()],
        tmp.path(),
    );
    assert_eq!(std::fs::read_to_string(bundle.join("rootfs/hello.txt")).unwrap(), "hello from linux/arm64\n");
}
