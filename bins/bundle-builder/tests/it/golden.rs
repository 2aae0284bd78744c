//! Byte stability: the fixture build always hashes to the same value, whatever the working
//! directory, umask, input mtimes and permissions; SOURCE_DATE_EPOCH sets every timestamp.

use std::path::Path;
use std::process::Command;

use crate::{builder, copy_inputs, fixtures, sha256_file, text};

/// SHA-256 of `demo-0.1.0.tar.zst` built from fixtures/bundle.yaml with fixtures/keys/test.key.
/// Changing the format, the compression parameters or the fixtures changes it: regenerate
/// with `cargo xtask fixtures` and update this constant in the same commit.
const GOLDEN: &str = "4938f242437f61840669f8628017dbdfe8f853fea86a39b61b6c7f33b271f0c2";

fn build_in(dir: &Path, cwd: &Path, envs: &[(&str, &str)]) -> String {
    let spec = dir.join("bundle.yaml");
    let out_dir = dir.join("out");
    let key = fixtures().join("keys/test.key");
    let out = builder(
        &[
            "create",
            "-f",
            spec.to_str().unwrap(),
            "--key",
            key.to_str().unwrap(),
            "--output-dir",
            out_dir.to_str().unwrap(),
        ],
        cwd,
        envs,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    sha256_file(&out_dir.join("demo-0.1.0.tar.zst"))
}

#[test]
fn the_fixture_build_has_the_golden_hash() {
    let dir = tempfile::tempdir().unwrap();
    copy_inputs(dir.path());
    assert_eq!(build_in(dir.path(), dir.path(), &[]), GOLDEN);
    assert_eq!(sha256_file(&fixtures().join("bundles/good/demo-0.1.0.tar.zst")), GOLDEN);
}

#[test]
fn same_bytes_across_directories_umasks_mtimes_and_modes() {
    let a = tempfile::tempdir().unwrap();
    copy_inputs(a.path());
    let first = build_in(a.path(), a.path(), &[]);

    let b = tempfile::tempdir().unwrap();
    copy_inputs(b.path());
    let mut stack = vec![b.path().to_owned()];
    while let Some(p) = stack.pop() {
        let meta = std::fs::metadata(&p).unwrap();
        if meta.is_dir() {
            stack.extend(std::fs::read_dir(&p).unwrap().map(|e| e.unwrap().path()));
        } else {
            let f = std::fs::File::options().write(true).open(&p).unwrap();
            f.set_modified(std::time::SystemTime::UNIX_EPOCH + std::time::Duration::from_secs(1_000_000_000)).unwrap();
            std::fs::set_permissions(&p, std::os::unix::fs::PermissionsExt::from_mode(0o600)).unwrap();
        }
    }
    // Another working directory and a restrictive umask, through a shell.
    let spec = b.path().join("bundle.yaml");
    let out_dir = b.path().join("out");
    let status = Command::new("sh")
        .arg("-c")
        .arg(format!(
            "umask 077 && exec '{}' create -f '{}' --key '{}' --output-dir '{}'",
            env!("CARGO_BIN_EXE_bundle-builder"),
            spec.display(),
            fixtures().join("keys/test.key").display(),
            out_dir.display()
        ))
        .current_dir("/")
        .env_remove("SOURCE_DATE_EPOCH")
        .output()
        .unwrap();
    assert!(status.status.success(), "{}", text(&status.stderr));
    let second = sha256_file(&out_dir.join("demo-0.1.0.tar.zst"));
    assert_eq!(first, second);
    for sidecar in ["demo-0.1.0.tar.zst.sig", "demo-0.1.0.tar.zst.sha256"] {
        assert_eq!(
            std::fs::read(a.path().join("out").join(sidecar)).unwrap(),
            std::fs::read(out_dir.join(sidecar)).unwrap()
        );
    }
}

#[test]
fn source_date_epoch_from_the_environment_sets_every_timestamp() {
    let dir = tempfile::tempdir().unwrap();
    copy_inputs(dir.path());
    let hash = build_in(dir.path(), dir.path(), &[("SOURCE_DATE_EPOCH", "86400")]);
    assert_ne!(hash, GOLDEN);
    let listing = Command::new("tar")
        .args(["--zstd", "-tvf", "out/demo-0.1.0.tar.zst"])
        .current_dir(dir.path())
        .output()
        .unwrap();
    let listing = text(&listing.stdout);
    assert!(listing.lines().count() > 10);
    assert!(listing.lines().all(|l| l.contains("1970-01-02 00:00")), "{listing}");
    let out = builder(&["inspect", "out/demo-0.1.0.tar.zst"], dir.path(), &[]);
    assert!(text(&out.stdout).contains("created 1970-01-02T00:00:00Z"), "{}", text(&out.stdout));

    let out = builder(
        &["create", "-f", "bundle.yaml", "--key", fixtures().join("keys/test.key").to_str().unwrap()],
        dir.path(),
        &[("SOURCE_DATE_EPOCH", "yesterday")],
    );
    assert_eq!(out.status.code(), Some(2));
    assert!(text(&out.stderr).contains("SOURCE_DATE_EPOCH"), "{}", text(&out.stderr));
}
