//! keygen, create, inspect and every compression, checked with independent tools and the
//! `genesis-trust` verifier a third party would embed.

use std::path::Path;
use std::process::Command;

use genesis_trust::{PublicKey, TrustError, TrustPolicy, UnverifiedBundle};

use crate::{builder, copy_inputs, text};

fn verify_and_extract(archive: &Path, public: &Path, target: &Path) -> genesis_trust::VerifyReport {
    let policy = TrustPolicy::from_keys(vec![PublicKey::from_pem_file(public).unwrap()]).unwrap();
    UnverifiedBundle::open(archive, &Default::default()).unwrap().verify(&policy).unwrap().extract(target).unwrap()
}

#[test]
fn keygen_writes_keys_openssl_reads_and_never_overwrites() {
    let dir = tempfile::tempdir().unwrap();
    let out = builder(&["keygen", "--output-dir", "k"], dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let key = dir.path().join("k/genesis.key");
    let public = dir.path().join("k/genesis.pub");
    use std::os::unix::fs::PermissionsExt;
    assert_eq!(std::fs::metadata(&key).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&key).unwrap().starts_with("-----BEGIN PRIVATE KEY-----"));
    assert!(std::fs::read_to_string(&public).unwrap().starts_with("-----BEGIN PUBLIC KEY-----"));
    let pk = Command::new("openssl").args(["pkey", "-in", key.to_str().unwrap(), "-pubout"]).output().unwrap();
    assert!(pk.status.success(), "{}", text(&pk.stderr));
    assert_eq!(text(&pk.stdout), std::fs::read_to_string(&public).unwrap());
    let again = builder(&["keygen", "--output-dir", "k"], dir.path(), &[]);
    assert_eq!(again.status.code(), Some(2));
    assert!(text(&again.stderr).contains("never overwrites"), "{}", text(&again.stderr));
}

#[test]
fn every_compression_builds_verifies_and_extracts() {
    for (compression, ext, tar_flag) in
        [("zstd", "tar.zst", "--zstd"), ("gzip", "tar.gz", "--gzip"), ("none", "tar", "--no-auto-compress")]
    {
        let dir = tempfile::tempdir().unwrap();
        copy_inputs(dir.path());
        let spec = dir.path().join("bundle.yaml");
        let s = std::fs::read_to_string(&spec)
            .unwrap()
            .replace("compression: zstd", &format!("compression: {compression}"));
        std::fs::write(&spec, s).unwrap();
        assert_eq!(builder(&["keygen", "--output-dir", "k"], dir.path(), &[]).status.code(), Some(0));
        let out =
            builder(&["create", "-f", "bundle.yaml", "--key", "k/genesis.key", "--output-dir", "out"], dir.path(), &[]);
        assert_eq!(out.status.code(), Some(0), "{compression}: {}", text(&out.stderr));
        let archive = dir.path().join(format!("out/demo-0.1.0.{ext}"));
        let report = verify_and_extract(&archive, &dir.path().join("k/genesis.pub"), &dir.path().join("x"));
        assert_eq!(report.files, 16, "{compression}");
        assert!(matches!(report.sha256_sidecar, genesis_trust::Sidecar::Match { .. }));
        let listing = Command::new("tar").args([tar_flag, "-tf"]).arg(&archive).output().unwrap();
        assert!(listing.status.success(), "{compression}: {}", text(&listing.stderr));
        assert!(text(&listing.stdout).starts_with("bom.json\nbom.json.sig\n"), "{compression}");
        let sums = Command::new("sha256sum")
            .args(["-c", &format!("demo-0.1.0.{ext}.sha256")])
            .current_dir(dir.path().join("out"))
            .output()
            .unwrap();
        assert!(sums.status.success(), "{compression}");
    }
}

#[test]
fn inspect_reads_the_bom_in_text_and_json() {
    let good = crate::fixtures().join("bundles/good/demo-0.1.0.tar.zst");
    let out = builder(&["inspect", good.to_str().unwrap()], Path::new("/"), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let t = text(&out.stdout);
    for expected in [
        "demo 0.1.0",
        "registry.example.com/demo/app:1.0",
        "linux/amd64, linux/arm64",
        "web 0.1.0",
        "manifests/deployment.yaml",
        "signature not checked",
    ] {
        assert!(t.contains(expected), "{expected:?} in {t}");
    }
    let out = builder(&["inspect", good.to_str().unwrap(), "--output", "json"], Path::new("/"), &[]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["bom"]["images"][0]["platforms"], serde_json::json!(["linux/amd64", "linux/arm64"]));
    assert_eq!(v["signatureVerified"], false);
    assert_eq!(v["compression"], "zstd");
    assert_eq!(v["bom"]["charts"][0]["version"], "0.1.0");
}

/// `create --expires` signs an expiry into the BOM. A duration counts from the created time
/// SOURCE_DATE_EPOCH sets, so the same inputs still give the same bytes; a date must follow
/// the created time; what is neither is refused before anything is written. A verifier
/// refuses the bundle once the date has passed, naming it, and reports it before.
#[test]
fn create_expires_signs_an_expiry_into_the_bom() {
    let dir = tempfile::tempdir().unwrap();
    copy_inputs(dir.path());
    assert_eq!(builder(&["keygen", "--output-dir", "k"], dir.path(), &[]).status.code(), Some(0));
    let create = |expires: &str, out: &str| {
        let args = ["create", "-f", "bundle.yaml", "--key", "k/genesis.key", "--output-dir", out, "--expires", expires];
        builder(&args, dir.path(), &[("SOURCE_DATE_EPOCH", "86400")])
    };
    let public = dir.path().join("k/genesis.pub");

    let past = create("1d", "past");
    assert_eq!(past.status.code(), Some(0), "{}", text(&past.stderr));
    assert!(text(&past.stdout).contains("  expires 1970-01-03T00:00:00Z"), "{}", text(&past.stdout));
    let archive = dir.path().join("past/demo-0.1.0.tar.zst");
    let inspect = builder(&["inspect", archive.to_str().unwrap(), "--output", "json"], dir.path(), &[]);
    let v: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(v["bom"]["created"], "1970-01-02T00:00:00Z");
    assert_eq!(v["bom"]["expires"], "1970-01-03T00:00:00Z");
    let policy = TrustPolicy::from_keys(vec![PublicKey::from_pem_file(&public).unwrap()]).unwrap();
    match UnverifiedBundle::open(&archive, &Default::default()).unwrap().verify(&policy) {
        Err(e) => {
            assert!(
                matches!(&e, TrustError::BundleExpired { expires, .. } if expires == "1970-01-03T00:00:00Z"),
                "{e}"
            );
            assert!(e.to_string().contains("expired at 1970-01-03T00:00:00Z"), "{e}");
        }
        Ok(_) => panic!("a bundle that expired in 1970 verified"),
    }
    let again = create("1d", "again");
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert_eq!(
        crate::sha256_file(&archive),
        crate::sha256_file(&dir.path().join("again/demo-0.1.0.tar.zst")),
        "the same inputs and expiry give the same bytes"
    );

    let future = create("2999-01-01T00:00:00Z", "future");
    assert_eq!(future.status.code(), Some(0), "{}", text(&future.stderr));
    let report = verify_and_extract(&dir.path().join("future/demo-0.1.0.tar.zst"), &public, &dir.path().join("x"));
    assert_eq!(report.expires.as_deref(), Some("2999-01-01T00:00:00Z"));

    for (expires, why) in [
        ("soon", r#""soon" is neither an RFC 3339 date"#),
        ("0d", "is no time at all"),
        ("1970-01-01T12:00:00Z", "is not after the bundle's created time 1970-01-02T00:00:00Z"),
    ] {
        let refused = create(expires, "refused");
        assert_eq!(refused.status.code(), Some(2), "{expires}: {}", text(&refused.stderr));
        assert!(text(&refused.stderr).contains(why), "{expires}: {}", text(&refused.stderr));
        assert!(!dir.path().join("refused").exists(), "{expires}: nothing written");
    }
}

#[test]
fn cosign_encrypted_keys_sign_bundles() {
    let dir = tempfile::tempdir().unwrap();
    copy_inputs(dir.path());
    let pw = [("GENESIS_KEY_PASSWORD", "correct horse")];
    let out = builder(&["keygen", "--encrypt", "--output-dir", "k"], dir.path(), &pw);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(
        std::fs::read_to_string(dir.path().join("k/genesis.key"))
            .unwrap()
            .starts_with("-----BEGIN ENCRYPTED SIGSTORE PRIVATE KEY-----")
    );

    let create = |envs: &[(&str, &str)], key: &str| {
        builder(&["create", "-f", "bundle.yaml", "--key", key, "--output-dir", "out", "--quiet"], dir.path(), envs)
    };
    let wrong = create(&[("GENESIS_KEY_PASSWORD", "battery staple")], "k/genesis.key");
    assert_eq!(wrong.status.code(), Some(2), "{}", text(&wrong.stderr));
    assert!(text(&wrong.stderr).contains("wrong password"), "{}", text(&wrong.stderr));
    let ok = create(&pw, "k/genesis.key");
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    let report = verify_and_extract(
        &dir.path().join("out/demo-0.1.0.tar.zst"),
        &dir.path().join("k/genesis.pub"),
        &dir.path().join("x"),
    );
    assert_eq!(report.files, 16);

    // A key made by cosign itself (fixtures/interop), verified with its cosign.pub.
    std::fs::remove_dir_all(dir.path().join("out")).unwrap();
    let cosign_key = crate::fixtures().join("interop/cosign-key/cosign.key");
    let ok = create(&[("GENESIS_KEY_PASSWORD", "hello")], cosign_key.to_str().unwrap());
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    let report = verify_and_extract(
        &dir.path().join("out/demo-0.1.0.tar.zst"),
        &crate::fixtures().join("interop/cosign-key/cosign.pub"),
        &dir.path().join("y"),
    );
    assert_eq!(report.files, 16);
}

#[test]
fn symlinks_planted_at_the_scratch_names_in_the_output_folder_are_never_written_through() {
    let dir = tempfile::tempdir().unwrap();
    copy_inputs(dir.path());
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"keep").unwrap();
    std::fs::create_dir(dir.path().join("out")).unwrap();
    let key = crate::fixtures().join("keys/test.key");
    // `exec` keeps the shell's pid, so `$$` names the scratch files a pid-named build would
    // use, `.<output>.partial-<pid>` for the archive and its signature, planted as links.
    // Scratch names are random now: the links are never written through, and go as litter.
    let out = Command::new("sh")
        .arg("-c")
        .arg(
            r#"for f in demo-0.1.0.tar.zst demo-0.1.0.tar.zst.sig; do ln -s "$1" "out/.$f.partial-$$" || exit 9; done
               exec "$0" create -f bundle.yaml --key "$2" --output-dir out"#,
        )
        .arg(env!("CARGO_BIN_EXE_bundle-builder"))
        .arg(&victim)
        .arg(&key)
        .current_dir(dir.path())
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep", "the victim is untouched");
    for entry in std::fs::read_dir(dir.path().join("out")).unwrap() {
        let entry = entry.unwrap();
        assert!(entry.file_type().unwrap().is_file(), "{:?} is a file of its own", entry.file_name());
        assert!(!entry.file_name().to_string_lossy().starts_with('.'), "{:?} left behind", entry.file_name());
    }
}
