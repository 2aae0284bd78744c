//! `bundle-loader export` into real runtimes: a containerd daemon (`ctr -n k8s.io images
//! import`) and podman (`podman load`) read what we write, with the names from the BOM and
//! the digests of the bundle.

use std::path::Path;

use genesis_testkit::runtimes::{Containerd, Podman};

use crate::{case, loader, test_pub, text};

const NAME: &str = "registry.example.com/demo/app:1.0";

fn export(bundle: &Path, out: &Path, extra: &[&str]) -> std::process::Output {
    let key = test_pub();
    let base = ["export", bundle.to_str().unwrap(), "--key", key.to_str().unwrap(), "-o", out.to_str().unwrap()];
    loader(&[&base[..], extra, &["--output", "json"]].concat())
}

fn exported(out: &std::process::Output) -> serde_json::Value {
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

#[test]
fn containerd_imports_the_oci_archive_with_the_bom_name_and_digest() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("images.oci.tar");
    let report = exported(&export(&case("good"), &archive, &["--format", "oci-archive"]));
    assert_eq!(report["images"][0]["name"], NAME);
    assert_eq!(report["images"][0]["platforms"], serde_json::json!(["linux/amd64", "linux/arm64"]));

    let containerd = Containerd::start();
    let import = containerd.ctr(&["-n", "k8s.io", "images", "import", "--all-platforms", archive.to_str().unwrap()]);
    assert!(import.status.success(), "{}{}", text(&import.stderr), containerd.log());
    let listed = text(&containerd.ctr(&["-n", "k8s.io", "images", "ls"]).stdout);
    let line = listed.lines().find(|l| l.starts_with(&format!("{NAME} "))).unwrap_or_else(|| panic!("{listed}"));
    assert!(line.contains(&crate::good_image_digest()), "the index digest is the bundle's: {line}");
    assert!(line.contains("linux/amd64") && line.contains("linux/arm64"), "{line}");
    let check = text(&containerd.ctr(&["-n", "k8s.io", "images", "check"]).stdout);
    assert!(check.lines().any(|l| l.starts_with(NAME) && l.contains("complete")), "{check}");
    // The host platform's layers were unpacked: its root filesystem has the file we put there.
    let mnt = dir.path().join("mnt");
    std::fs::create_dir(&mnt).unwrap();
    let mount = containerd.ctr(&["-n", "k8s.io", "images", "mount", NAME, mnt.to_str().unwrap()]);
    assert!(mount.status.success(), "{}", text(&mount.stderr));
    let hello = std::fs::read_to_string(mnt.join("hello.txt"));
    let unmount = containerd.ctr(&["-n", "k8s.io", "images", "unmount", mnt.to_str().unwrap()]);
    assert!(unmount.status.success(), "{}", text(&unmount.stderr));
    assert_eq!(hello.unwrap(), "hello from linux/amd64\n");
}

#[test]
fn podman_loads_the_docker_archive_of_one_platform() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("amd64.docker.tar");
    let report =
        exported(&export(&case("good"), &archive, &["--format", "docker-archive", "--platform", "linux/amd64"]));
    let config = report["images"][0]["config"].as_str().unwrap().to_owned();

    let podman = Podman::default();
    let load = podman.load(&archive);
    assert!(load.status.success(), "{}", text(&load.stderr));
    assert!(text(&load.stdout).contains(&format!("Loaded image: {NAME}")), "{}", text(&load.stdout));
    let inspect = podman.run(&["image", "inspect", NAME]);
    assert!(inspect.status.success(), "{}", text(&inspect.stderr));
    let v: serde_json::Value = serde_json::from_slice(&inspect.stdout).unwrap();
    assert_eq!(format!("sha256:{}", v[0]["Id"].as_str().unwrap()), config, "the image ID is the bundle's config");
    assert_eq!(v[0]["Architecture"], "amd64");
}

#[test]
fn podman_and_containerd_load_one_platform_of_the_oci_archive() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("arm64.oci.tar");
    let report = exported(&export(&case("good"), &archive, &["--format", "oci-archive", "--platform", "linux/arm64"]));
    let manifest = report["images"][0]["digest"].as_str().unwrap().to_owned();
    assert_ne!(manifest, crate::good_image_digest(), "narrowed to the arm64 manifest itself");

    let podman = Podman::default();
    let load = podman.load(&archive);
    assert!(load.status.success(), "{}", text(&load.stderr));
    assert!(text(&load.stdout).contains(NAME), "{}", text(&load.stdout));
    let v: serde_json::Value = serde_json::from_slice(&podman.run(&["image", "inspect", NAME]).stdout).unwrap();
    assert_eq!(v[0]["Architecture"], "arm64");

    let containerd = Containerd::start();
    let import = containerd.ctr(&["-n", "k8s.io", "images", "import", "--all-platforms", archive.to_str().unwrap()]);
    assert!(import.status.success(), "{}", text(&import.stderr));
    let listed = text(&containerd.ctr(&["-n", "k8s.io", "images", "ls"]).stdout);
    assert!(listed.lines().any(|l| l.starts_with(&format!("{NAME} ")) && l.contains(&manifest)), "{listed}");
}

#[test]
fn a_docker_archive_of_a_multi_platform_image_needs_a_platform_and_a_bad_bundle_writes_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("x.tar");
    let out = export(&case("good"), &archive, &["--format", "docker-archive"]);
    assert_ne!(out.status.code(), Some(0));
    assert!(
        text(&out.stderr).contains("pass --platform (one of [\"linux/amd64\", \"linux/arm64\"])"),
        "{}",
        text(&out.stderr)
    );
    assert!(!archive.exists());

    let missing = export(&case("good"), &archive, &["--format", "oci-archive", "--platform", "linux/s390x"]);
    assert_ne!(missing.status.code(), Some(0));
    assert!(text(&missing.stderr).contains("has no linux/s390x image"), "{}", text(&missing.stderr));

    let tampered = export(&case("blob-byte-changed"), &archive, &["--format", "oci-archive"]);
    assert_eq!(tampered.status.code(), Some(1), "{}", text(&tampered.stderr));
    assert!(!archive.exists(), "nothing is written for a bundle that does not verify");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path()).unwrap().collect();
    assert!(leftovers.is_empty(), "{leftovers:?}");
}

#[test]
fn a_symlink_planted_at_the_scratch_name_is_never_written_through() {
    let dir = tempfile::tempdir().unwrap();
    let victim = dir.path().join("victim");
    std::fs::write(&victim, b"keep").unwrap();
    // `exec` keeps the shell's pid, so `$$` names the scratch file a pid-named export would
    // use, `.out.tar.partial-<pid>`, planted as a link to the victim. Scratch names are random
    // now; the link is neither written through nor followed, and stays as it was.
    let out = std::process::Command::new("sh")
        .arg("-c")
        .arg(r#"ln -s "$1" ".out.tar.partial-$$" && exec "$0" export "$2" --key "$3" -o out.tar --format oci-archive"#)
        .arg(env!("CARGO_BIN_EXE_bundle-loader"))
        .args([victim.as_os_str(), case("good").as_os_str(), test_pub().as_os_str()])
        .current_dir(dir.path())
        .output()
        .unwrap();
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(&victim).unwrap(), b"keep", "the victim is untouched");
    let archive = dir.path().join("out.tar");
    assert!(std::fs::symlink_metadata(&archive).unwrap().file_type().is_file(), "the archive is a file of its own");
    assert!(std::fs::metadata(&archive).unwrap().len() > 4);
    let mut names: Vec<_> =
        std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name().into_string().unwrap()).collect();
    names.sort();
    let (planted, names): (Vec<_>, Vec<_>) = names.into_iter().partition(|n| n.starts_with(".out.tar.partial-"));
    assert_eq!(names, ["out.tar", "victim"]);
    assert_eq!(planted.len(), 1, "{planted:?}");
    assert_eq!(std::fs::read_link(dir.path().join(&planted[0])).unwrap(), victim);
}
