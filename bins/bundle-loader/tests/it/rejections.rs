//! Every fixture case is refused with its own error, by `verify` and by `extract`, and
//! `extract` leaves no output directory and no staging directory behind.

use crate::{case, extract, listing, loader, text, verify};

/// (fixture case, what the error must say: fragments in that order, `…` standing for what
/// lies between them, such as a digest).
const CASES: &[(&str, &str)] = &[
    (
        "unsigned",
        "not a signed Genesis bundle: the second entry is \"provenance/bundle.intoto.json\", expected bom.json.sig",
    ),
    ("signed-by-other-key", "BOM signature does not verify against any trusted key"),
    ("bom-byte-changed", "BOM signature does not verify against any trusted key"),
    ("blob-byte-changed", "content digest sha256:"),
    ("chart-byte-changed", "charts/web-0.1.0.tgz: content digest"),
    ("manifest-byte-changed", "manifests/service.yaml: content digest"),
    ("entry-not-in-bom", "entry \"manifests/zz-extra.yaml\" is not listed in the BOM"),
    ("bom-entry-missing", "manifests/service.yaml is listed in the BOM but missing from the archive"),
    ("duplicate-entry", "entry \"manifests/service.yaml\" appears more than once"),
    ("path-dotdot", "unsafe entry path \"../evil.yaml\""),
    ("path-absolute", "unsafe entry path \"/etc/evil.yaml\""),
    ("path-not-utf8", "not UTF-8"),
    ("symlink-entry", "is a symbolic link"),
    ("hardlink-entry", "is a hard link"),
    ("device-entry", "is a character device"),
    ("truncated", "archive is truncated"),
    ("trailing-garbage", "bytes of trailing data"),
    ("decompression-bomb", "limit exceeded: decompression ratio"),
    ("blob-name-mismatch", "bom.json is invalid: oci/blobs/sha256/…a blob's name must be its digest"),
    ("oversized-bom", "limit exceeded: bom.json size (16777217 > 16777216)"),
    ("signature-from-other-bundle", "BOM signature does not verify against any trusted key"),
    ("provenance-from-other-bundle", "SLSA provenance refused: its subject"),
    ("provenance-tampered", "SLSA provenance refused: its signature does not verify with the bundle key"),
    ("sbom-entry-missing", "SBOM sbom/bundle.cdx.json is incomplete: it does not list manifest manifests/service.yaml"),
    ("sha256-sidecar-mismatch", ".sha256: says"),
    ("sig-sidecar-other-key", ".sig: detached signature does not verify"),
    ("cosign-bundle-other-key", ".cosign.bundle: detached signature does not verify"),
];

/// Whether `stderr` says `expected`, a line of [`CASES`].
fn says(stderr: &str, expected: &str) -> bool {
    let mut rest = stderr;
    expected.split('…').all(|fragment| match rest.find(fragment) {
        Some(at) => {
            rest = &rest[at + fragment.len()..];
            true
        }
        None => false,
    })
}

#[test]
fn verify_refuses_every_case_with_its_error() {
    for (name, expected) in CASES {
        let out = verify(&case(name), &[]);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out.stderr));
        assert!(says(&text(&out.stderr), expected), "{name}: expected {expected:?} in {}", text(&out.stderr));
        assert!(out.stdout.is_empty(), "{name}: nothing on stdout for a failure in text mode");
    }
}

#[test]
fn extract_refuses_every_case_and_leaves_nothing() {
    for (name, expected) in CASES {
        let parent = tempfile::tempdir().unwrap();
        let target = parent.path().join("out");
        let out = extract(&case(name), &target);
        assert_eq!(out.status.code(), Some(1), "{name}: {}", text(&out.stderr));
        assert!(says(&text(&out.stderr), expected), "{name}: {}", text(&out.stderr));
        assert!(listing(parent.path()).is_empty(), "{name}: left {:?}", listing(parent.path()));
    }
}

#[test]
fn json_failure_report_names_the_cause() {
    let out = verify(&case("blob-byte-changed"), &["--output", "json"]);
    assert_eq!(out.status.code(), Some(1));
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["verified"], false);
    assert!(v["error"].as_str().unwrap().contains("does not match the BOM"));
}

/// No flag and no policy installed (an empty HOME; /etc is the host's, so a host with one
/// skips) or embedded: refused, naming the places looked at and the flags.
#[test]
fn there_is_no_default_trust() {
    if std::path::Path::new("/etc/genesis/trust.yaml").exists()
        || option_env!("GENESIS_EMBEDDED_POLICY").is_some_and(|v| !v.is_empty())
    {
        eprintln!("skipped: this host has /etc/genesis/trust.yaml, or the binary embeds a policy");
        return;
    }
    let home = tempfile::tempdir().unwrap();
    let out = std::process::Command::new(env!("CARGO_BIN_EXE_bundle-loader"))
        .args(["verify", case("good").to_str().unwrap()])
        .env_remove("GENESIS_POLICY")
        .env_remove("XDG_CONFIG_HOME")
        .env("HOME", home.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("no trust policy given and none found"), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("--key"), "{}", text(&out.stderr));
}

#[test]
fn a_key_that_is_not_a_public_key_is_an_input_error() {
    let private = crate::fixtures().join("keys/test.key");
    let out = loader(&["verify", case("good").to_str().unwrap(), "--key", private.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("this is a private key"), "{}", text(&out.stderr));
}

#[test]
fn a_missing_bundle_is_not_found() {
    let out = verify(std::path::Path::new("/nonexistent/demo.tar.zst"), &[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("/nonexistent/demo.tar.zst"), "{}", text(&out.stderr));
}

#[test]
fn limits_are_configurable() {
    let good = case("good");
    for (flag, value, expected) in [
        ("--max-bom-size", "1000", "bom.json size"),
        ("--max-total-size", "4096", "decompressed archive size"),
        ("--max-entries", "5", "entry count"),
    ] {
        let out = verify(&good, &[flag, value]);
        assert_eq!(out.status.code(), Some(1), "{flag}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(expected), "{flag}: {}", text(&out.stderr));
    }
}

#[test]
fn an_existing_output_dir_is_refused_untouched() {
    let parent = tempfile::tempdir().unwrap();
    let target = parent.path().join("out");
    std::fs::create_dir(&target).unwrap();
    std::fs::write(target.join("keep"), b"mine").unwrap();
    let out = extract(&case("good"), &target);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("already exists"));
    assert_eq!(listing(&target), ["keep"]);
    assert_eq!(listing(parent.path()), ["out"]);
}
