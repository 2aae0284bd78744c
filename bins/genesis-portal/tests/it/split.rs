//! Split releases (decision 0042, issue 16): a bundle built in parts by
//! `bundle-builder create --max-part-size` is published as its parts manifest, verified across
//! its parts by the portal, pulled part by part by `genesis pull` (a cut download resumes in
//! the part it stopped in, the parts already in place are not fetched again), and verified in
//! place by `genesis verify`. A split bundle missing a part, with a damaged one, without a
//! signature, given beside its whole archive, or a part given alone is refused before anything
//! is stored.

use std::path::{Path, PathBuf};
use std::process::Command;

use genesis_testkit::layered_spec::Image;
use genesis_testkit::text;

use crate::downloads::{cutting_proxy, partial_of};
use crate::{Backend, Client, Portal, fixtures, sha256_hex, workspace_bin};

const MANIFEST: &str = "noise-1.0.0.tar.zst.parts.json";

/// `out/` under `dir`: bundle `noise` 1.0.0 of one image with a 12 MiB layer of noise, built by
/// `bundle-builder create --max-part-size 5MiB` (parts of whole 4 MiB zstd frames, a manifest
/// signed with the test key); the folder.
fn split_release(dir: &Path) -> PathBuf {
    let image = Image { name: "app", reference: "example.com/demo/app:1", layers: &[(12 << 20, 3)] };
    genesis_testkit::layered_spec::write(dir, "noise", "1.0.0", &[image]);
    let key = fixtures().join("keys/test.key");
    let built = Command::new(workspace_bin("bundle-builder"))
        .args(["create", "-f", "bundle.yaml", "--max-part-size", "5MiB", "--key"])
        .arg(key)
        .current_dir(dir)
        .output()
        .unwrap();
    assert!(built.status.success(), "bundle-builder: {}", text(&built.stderr));
    dir.join("out")
}

/// The names of the files in `dir`, sorted.
fn names_in(dir: &Path) -> Vec<String> {
    let mut names: Vec<String> =
        std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect();
    names.sort();
    names
}

/// The bytes of every file in `dir`, whole or partial.
fn bytes_in(dir: &Path) -> u64 {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().metadata().unwrap().len()).sum()
}

#[test]
fn a_split_release_is_pulled_part_by_part_resumed_in_the_part_it_stopped_in_and_verifies_in_place() {
    let mut portal = Portal::new(Backend::default());
    let work = tempfile::tempdir().unwrap();
    let release = split_release(work.path());
    let parts: Vec<String> = names_in(&release).into_iter().filter(|n| n.contains(".part-")).collect();
    assert!(parts.len() >= 3, "12 MiB of noise in parts of at most 5 MiB: {parts:?}");

    let key = portal.org_with_key("acme", &["releases:read", "export:read", "export:write"]);
    portal.admin_ok(&["entitle", "--org", "acme", "--versions", "1.0.*"]);
    let published = portal.publish("1.0.0", &[&release.join(MANIFEST)], "test.pub");
    assert!(published.status.success(), "publish: {}", text(&published.stderr));
    let stdout = text(&published.stdout);
    for name in names_in(&release) {
        assert!(stdout.contains(&name), "{name} is published with the manifest: {stdout}");
    }
    portal.serve();

    // A network that drops after 7.5 MiB: the manifest and part-000 arrive, part-001 is cut.
    let client = Client::new();
    let proxy = cutting_proxy(portal.port, 15 << 19);
    assert!(client.login(&format!("http://127.0.0.1:{proxy}"), &key).status.success());
    let out = tempfile::tempdir().unwrap();
    let pull = |client: &Client| client.run(&["pull", "1.0.0", "--output-dir", out.path().to_str().unwrap()]);
    let cut = pull(&client);
    assert_eq!(cut.status.code(), Some(3), "{}", text(&cut.stderr));
    assert!(text(&cut.stderr).contains(&format!("downloading {}", parts[1])), "{}", text(&cut.stderr));
    assert!(out.path().join(MANIFEST).exists(), "the manifest comes first");
    assert_eq!(sha256_hex(&out.path().join(&parts[0])), sha256_hex(&release.join(&parts[0])));
    assert!(partial_of(out.path(), &parts[1]).is_some(), "part-001 stopped half-way");

    let in_place = bytes_in(out.path());
    let total: u64 = names_in(&release).iter().map(|n| std::fs::metadata(release.join(n)).unwrap().len()).sum();
    let served_before = portal.metric("portal_download_bytes_total");
    assert!(client.login(&portal.url(), &key).status.success());
    let resumed = pull(&client);
    assert!(resumed.status.success(), "{}", text(&resumed.stderr));
    let report = text(&resumed.stdout);
    assert!(report.lines().any(|l| l.contains(&parts[0]) && l.contains("(already here)")), "{report}");
    assert!(report.lines().any(|l| l.contains(&parts[1]) && l.contains("(resumed after")), "{report}");
    assert!(report.lines().any(|l| l.contains(&parts[2]) && l.contains("(fetched)")), "{report}");
    let served = portal.metric("portal_download_bytes_total") - served_before;
    assert_eq!(served as u64, total - in_place, "only what was not in place was sent");
    assert_eq!(names_in(out.path()), names_in(&release), "every file, no partial left");
    let next = format!("next: genesis verify {}", out.path().join(MANIFEST).display());
    assert!(report.contains(&next), "{report}");

    let key_path = fixtures().join("keys/test.pub");
    let verify = Command::new(workspace_bin("genesis"))
        .args(["verify", out.path().join(MANIFEST).to_str().unwrap(), "--key", key_path.to_str().unwrap()])
        .output()
        .unwrap();
    assert!(verify.status.success(), "{}{}", text(&verify.stdout), text(&verify.stderr));

    // The bootstrap pack opens the bundle across its parts and names it by its archive, with
    // the archive's digest, as its sidecars do; the manifest its signatures sign goes along.
    let packed = tempfile::tempdir().unwrap();
    let export = client.run(&["export-pack", "1.0.0", "--output-dir", packed.path().to_str().unwrap()]);
    assert!(export.status.success(), "{}", text(&export.stderr));
    let pack = packed.path().join("bootstrap-pack-v1.tar.gz");
    let listing = text(&Command::new("tar").arg("-tzf").arg(&pack).output().unwrap().stdout);
    assert!(listing.lines().any(|l| l == format!("signatures/{MANIFEST}")), "{listing}");
    assert!(!listing.contains(".part-"), "parts are not carried: {listing}");
    let meta = Command::new("tar").arg("-xzOf").arg(&pack).arg("pack.json").output().unwrap();
    let meta: serde_json::Value = serde_json::from_slice(&meta.stdout).unwrap();
    let manifest: serde_json::Value = serde_json::from_slice(&std::fs::read(release.join(MANIFEST)).unwrap()).unwrap();
    assert_eq!(meta["bundles"][0]["name"], "noise-1.0.0.tar.zst", "{meta}");
    assert_eq!(
        format!("sha256:{}", meta["bundles"][0]["sha256"].as_str().unwrap()),
        manifest["archive"]["sha256"].as_str().unwrap()
    );
}

#[test]
fn a_split_bundle_that_does_not_hold_together_is_refused_before_anything_is_stored() {
    let portal = Portal::new(Backend::default());
    let work = tempfile::tempdir().unwrap();
    let release = split_release(work.path());
    let part = |i: usize| release.join(format!("noise-1.0.0.tar.zst.part-00{i}"));
    let stored = portal.dir.path().join("data/artifacts/releases");
    let refused = |files: &[&Path], expected: &str| {
        let out = portal.publish("1.0.0", files, "test.pub");
        // 2 for files that do not make a release, 1 for a bundle that does not verify.
        assert!(matches!(out.status.code(), Some(1 | 2)), "{expected}: {}", text(&out.stderr));
        assert!(text(&out.stderr).contains(expected), "{expected}: {}", text(&out.stderr));
        assert!(!stored.exists(), "{expected}: nothing stored");
    };
    let manifest = release.join(MANIFEST);

    // A part given without its manifest says which bundle it is of by nothing.
    let demo = tempfile::tempdir().unwrap();
    let bundle = crate::release_files(demo.path());
    refused(&[&bundle, &part(0)], "noise-1.0.0.tar.zst.part-000` is a part that no parts manifest");

    // A damaged part: the verification across the parts names it.
    let kept = std::fs::read(part(1)).unwrap();
    let mut damaged = kept.clone();
    damaged[1000] ^= 1;
    std::fs::write(part(1), &damaged).unwrap();
    refused(&[&manifest], "part-001");
    std::fs::write(part(1), &kept).unwrap();

    // A missing part.
    std::fs::rename(part(2), work.path().join("away")).unwrap();
    refused(&[&manifest], "lists the part noise-1.0.0.tar.zst.part-002, which is not beside it");
    std::fs::rename(work.path().join("away"), part(2)).unwrap();

    // Neither the manifest's signature nor the archive's sidecars.
    let signatures = ["noise-1.0.0.tar.zst.parts.json.sig", "noise-1.0.0.tar.zst.parts.json.cosign.bundle"];
    for name in signatures {
        std::fs::rename(release.join(name), work.path().join(name)).unwrap();
    }
    refused(&[&manifest], "a split bundle is published with its manifest's signature");
    for name in signatures {
        std::fs::rename(work.path().join(name), release.join(name)).unwrap();
    }

    // The archive whole beside its parts: one of the two.
    let whole = release.join("noise-1.0.0.tar.zst");
    let joined = Command::new(workspace_bin("genesis")).arg("join").arg(&manifest).output().unwrap();
    assert!(joined.status.success(), "{}", text(&joined.stderr));
    refused(&[&manifest, &whole], "noise-1.0.0.tar.zst is given both whole and as parts");
    std::fs::remove_file(&whole).unwrap();

    let published = portal.publish("1.0.0", &[&manifest], "test.pub");
    assert!(published.status.success(), "the parts as built: {}", text(&published.stderr));
}
