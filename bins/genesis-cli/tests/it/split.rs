//! `genesis split` and `genesis join` (decision 0042) on a real bundle larger than a part:
//! parts cut between zstd frames that `cat` and `sha256sum -c` take as they are, read in
//! place by `genesis verify` whichever of their names is given, a frame larger than a part
//! cut inside and said so, `join` refusing a damaged part and writing nothing, and a signed
//! manifest reported signed and refused, by its `.sig`, once edited.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use serde_json::{Value, json};

use crate::text;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// `genesis ARGS…` in `dir`.
fn genesis_in(dir: &Path, args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_genesis")).args(args).current_dir(dir).output().unwrap()
}

const MIB: u64 = 1 << 20;
const NAME: &str = "noise-1.tar.zst";
/// What every zstd frame starts with.
const ZSTD_MAGIC: [u8; 4] = [0x28, 0xb5, 0x2f, 0xfd];
/// What the seek table, a skippable frame, starts with.
const SEEK_TABLE_MAGIC: [u8; 4] = [0x5e, 0x2a, 0x4d, 0x18];

/// `out/noise-1.tar.zst` under `dir` (with its .sha256, .sig and .cosign.bundle), signed with
/// the test key, of one image whose layer is `len` bytes of noise from `seed`: zstd cannot
/// shrink them, so they are stored in frames of 4 MiB, a bundle larger than the smallest part
/// (the fixtures are a few KiB).
fn noise_bundle(dir: &Path, len: usize, seed: u64) -> PathBuf {
    let image = genesis_testkit::layered_spec::Image {
        name: "app",
        reference: "example.com/demo/app:1",
        layers: &[(len, seed)],
    };
    genesis_testkit::layered_spec::write(dir, "noise", "1", &[image]);
    let spec = genesis_build::BundleSpec::load(&dir.join("bundle.yaml")).unwrap();
    let key = genesis_trust::PrivateKey::from_pem_file(&fixtures().join("keys/test.key")).unwrap();
    let archive = genesis_build::build(&spec, &key, &Default::default()).unwrap().archive;
    assert_eq!(archive, dir.join("out").join(NAME));
    archive
}

/// The parts manifest of `archive`'s name in `dir`.
fn manifest_in(dir: &Path) -> PathBuf {
    dir.join(format!("{NAME}.parts.json"))
}

/// The manifest at `path`, read.
fn read_manifest(path: &Path) -> Value {
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The parts the manifest at `path` lists, as paths beside it.
fn parts_of(path: &Path) -> Vec<PathBuf> {
    let dir = path.parent().unwrap();
    let manifest = read_manifest(path);
    manifest["parts"].as_array().unwrap().iter().map(|p| dir.join(p["name"].as_str().unwrap())).collect()
}

fn key(name: &str) -> String {
    fixtures().join("keys").join(name).to_str().unwrap().to_owned()
}

#[test]
fn parts_fall_on_frame_boundaries_and_are_the_archive_to_cat_and_sha256sum() {
    let dir = tempfile::tempdir().unwrap();
    let archive = noise_bundle(dir.path(), 12 << 20, 1);
    let original = std::fs::read(&archive).unwrap();
    let out = genesis_in(
        dir.path(),
        &["split", archive.to_str().unwrap(), "--part-size", "5MiB", "--out", "carried", "--output", "json"],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let report: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["split"]["cutInsideFrames"], 0, "{report}");
    assert_eq!(report["split"]["signatureFiles"], json!([]), "{report}");

    let carried = dir.path().join("carried");
    let manifest = manifest_in(&carried);
    let parts = parts_of(&manifest);
    assert!(parts.len() >= 3, "12 MiB of frames of 4 MiB in parts of 5 MiB: {parts:?}");
    // Every part within the size, and every cut between frames: each part starts with a
    // frame, or the last one with the seek table.
    for (i, part) in parts.iter().enumerate() {
        let bytes = std::fs::read(part).unwrap();
        assert!(bytes.len() as u64 <= 5 * MIB, "{}: {} bytes", part.display(), bytes.len());
        let magic: [u8; 4] = bytes[..4].try_into().unwrap();
        let last = i == parts.len() - 1;
        assert!(magic == ZSTD_MAGIC || (last && magic == SEEK_TABLE_MAGIC), "{} starts {magic:02x?}", part.display());
    }

    // `sha256sum -c` of the manifest's list, in the folder the parts were carried to.
    let list: String = read_manifest(&manifest)["parts"]
        .as_array()
        .unwrap()
        .iter()
        .map(|p| {
            let hex = p["sha256"].as_str().unwrap().strip_prefix("sha256:").unwrap();
            format!("{hex}  {}\n", p["name"].as_str().unwrap())
        })
        .collect();
    std::fs::write(carried.join("parts.sha256"), list).unwrap();
    let check = Command::new("sha256sum").args(["-c", "parts.sha256"]).current_dir(&carried).output().unwrap();
    assert!(check.status.success(), "{}{}", text(&check.stdout), text(&check.stderr));
    assert_eq!(text(&check.stdout).matches(": OK").count(), parts.len(), "{}", text(&check.stdout));

    // `cat` of the parts, in the order the shell sorts them, is the archive byte for byte.
    let cat =
        Command::new("sh").args(["-c", &format!("cat {NAME}.part-* > joined")]).current_dir(&carried).status().unwrap();
    assert!(cat.success());
    assert!(std::fs::read(carried.join("joined")).unwrap() == original, "cat of the parts is not the archive");

    // The archive's sidecars were copied beside the parts: they still hold for them.
    for suffix in [".sha256", ".sig", ".cosign.bundle"] {
        let copied = carried.join(format!("{NAME}{suffix}"));
        let source = archive.with_file_name(format!("{NAME}{suffix}"));
        assert_eq!(std::fs::read(&copied).unwrap(), std::fs::read(&source).unwrap(), "{}", copied.display());
    }
}

#[test]
fn verify_reads_the_parts_in_place_from_the_manifest_a_part_or_the_archives_name() {
    let dir = tempfile::tempdir().unwrap();
    let archive = noise_bundle(dir.path(), 12 << 20, 2);
    let out = genesis_in(dir.path(), &["split", archive.to_str().unwrap(), "--part-size", "5MiB"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(stdout.contains("! manifest unsigned"), "{stdout}");
    assert!(!stdout.contains("inside a zstd frame"), "{stdout}");
    std::fs::remove_file(&archive).unwrap();

    let folder = archive.parent().unwrap();
    let manifest = manifest_in(folder);
    let count = parts_of(&manifest).len();
    for given in [manifest.clone(), folder.join(format!("{NAME}.part-000")), archive.clone()] {
        let given = given.to_str().unwrap();
        let json = genesis_in(dir.path(), &["verify", given, "--key", &key("test.pub"), "--quiet", "--output", "json"]);
        assert_eq!(json.status.code(), Some(0), "{given}: {}", text(&json.stderr));
        let v: Value = serde_json::from_slice(&json.stdout).unwrap();
        assert_eq!(v["report"]["parts"]["parts"], count, "{given}: {v}");
        assert_eq!(v["report"]["parts"]["signed"], false, "{given}: {v}");
        assert_eq!(v["report"]["parts"]["manifest"], manifest.to_str().unwrap(), "{given}: {v}");

        let out = genesis_in(dir.path(), &["verify", given, "--key", &key("test.pub"), "--quiet"]);
        assert_eq!(out.status.code(), Some(0), "{given}: {}", text(&out.stderr));
        let stdout = text(&out.stdout);
        let line = format!("✓ parts: {count} read in place, each checked (manifest unsigned: archive hashed too)");
        assert!(stdout.contains(&line), "{given}: {stdout}");
        // The archive's own sidecars, named after it, hold for the parts.
        assert!(stdout.contains(&format!("✓ sha256 match ({NAME}.sha256")), "{given}: {stdout}");
        assert!(stdout.contains(&format!("✓ detached signature OK ({NAME}.sig)")), "{given}: {stdout}");
    }
}

#[test]
fn a_frame_larger_than_the_part_is_cut_inside_and_the_split_says_what_no_longer_holds() {
    let dir = tempfile::tempdir().unwrap();
    let archive = noise_bundle(dir.path(), 6 << 20, 3);
    let out = genesis_in(dir.path(), &["split", archive.to_str().unwrap(), "--part-size", "1MiB", "--out", "small"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let stdout = text(&out.stdout);
    assert!(
        stdout.contains("parts start or end inside a zstd frame: a frame is larger than the part size"),
        "{stdout}"
    );
    let manifest = manifest_in(&dir.path().join("small"));
    for part in parts_of(&manifest) {
        assert!(std::fs::metadata(&part).unwrap().len() <= MIB, "{}", part.display());
    }
    // Still read in place, each part checked.
    let out = genesis_in(dir.path(), &["verify", manifest.to_str().unwrap(), "--key", &key("test.pub"), "--quiet"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

    // Sizes that are no size, or below the smallest part, are refused before anything is written.
    for size in ["1.5GiB", "4G", "1000KB"] {
        let out = genesis_in(dir.path(), &["split", archive.to_str().unwrap(), "--part-size", size, "--out", "none"]);
        assert_eq!(out.status.code(), Some(2), "{size}: {}", text(&out.stderr));
        assert!(!dir.path().join("none").join(format!("{NAME}.parts.json")).exists(), "{size}");
    }
    // A split bundle is not split again, and its parts are left as they are.
    let before = std::fs::read(&manifest).unwrap();
    let out = genesis_in(dir.path(), &["split", manifest.to_str().unwrap(), "--part-size", "2MiB"]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("join it first"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(&manifest).unwrap(), before);
    assert!(parts_of(&manifest).iter().all(|p| p.exists()));
}

#[test]
fn join_writes_the_archive_and_refuses_a_damaged_part_naming_it_and_writing_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let archive = noise_bundle(dir.path(), 12 << 20, 4);
    let original = std::fs::read(&archive).unwrap();
    let out = genesis_in(dir.path(), &["split", archive.to_str().unwrap(), "--part-size", "5MiB", "--out", "parts"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let folder = dir.path().join("parts");
    let manifest = manifest_in(&folder);

    let out = genesis_in(dir.path(), &["join", manifest.to_str().unwrap(), "--output", "json"]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let joined = folder.join(NAME);
    assert!(std::fs::read(&joined).unwrap() == original, "the joined archive is not the original");
    let v: Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(v["sha256"], genesis_bundle::sha256(&original).to_string());
    // Never over a file that is there.
    let again = genesis_in(dir.path(), &["join", manifest.to_str().unwrap()]);
    assert_eq!(again.status.code(), Some(2), "{}", text(&again.stderr));
    assert!(text(&again.stderr).contains("exists already"), "{}", text(&again.stderr));
    // One archive file is no parts to join.
    let single = genesis_in(dir.path(), &["join", archive.to_str().unwrap(), "-o", "x.tar.zst"]);
    assert_eq!(single.status.code(), Some(2), "{}", text(&single.stderr));
    assert!(text(&single.stderr).contains("is one archive file, not parts"), "{}", text(&single.stderr));

    // One byte flipped in the middle part: refused, the part named, nothing written.
    let parts = parts_of(&manifest);
    let middle = &parts[parts.len() / 2];
    let mut bytes = std::fs::read(middle).unwrap();
    let at = bytes.len() / 2;
    bytes[at] ^= 0x01;
    std::fs::write(middle, &bytes).unwrap();
    let target = dir.path().join("rejoined.tar.zst");
    let out = genesis_in(dir.path(), &["join", manifest.to_str().unwrap(), "-o", target.to_str().unwrap()]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(middle.to_str().unwrap()) && stderr.contains("has SHA-256"), "{stderr}");
    assert!(!target.exists(), "a refused join wrote its output");
    let leftovers: Vec<_> = std::fs::read_dir(dir.path())
        .unwrap()
        .map(|e| e.unwrap().file_name().to_string_lossy().into_owned())
        .filter(|n| n.contains("rejoined"))
        .collect();
    assert!(leftovers.is_empty(), "scratch files left: {leftovers:?}");
}

#[test]
fn a_signed_manifest_is_reported_signed_and_one_edited_after_signing_is_refused_naming_its_signature() {
    let dir = tempfile::tempdir().unwrap();
    let archive = noise_bundle(dir.path(), 12 << 20, 5);
    let out = genesis_in(
        dir.path(),
        &["split", archive.to_str().unwrap(), "--part-size", "5MiB", "--out", "signed", "--key", &key("test.key")],
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("✓ manifest signed with key"), "{}", text(&out.stdout));
    let folder = dir.path().join("signed");
    let manifest = manifest_in(&folder);
    let signature = folder.join(format!("{NAME}.parts.json.sig"));
    assert!(signature.exists() && folder.join(format!("{NAME}.parts.json.cosign.bundle")).exists());

    let given = manifest.to_str().unwrap();
    let json = genesis_in(dir.path(), &["verify", given, "--key", &key("test.pub"), "--quiet", "--output", "json"]);
    assert_eq!(json.status.code(), Some(0), "{}", text(&json.stderr));
    let v: Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["report"]["parts"]["signed"], true, "{v}");
    assert_eq!(v["report"]["parts"]["signatureSidecar"]["status"], "match", "{v}");
    let out = genesis_in(dir.path(), &["verify", given, "--key", &key("test.pub"), "--quiet"]);
    assert!(
        text(&out.stdout).contains("each checked (manifest signed by a key the policy trusts"),
        "{}",
        text(&out.stdout)
    );

    // The last part's hash changed in the manifest after it was signed: the signature refuses it.
    let mut edited = read_manifest(&manifest);
    let last = edited["parts"].as_array().unwrap().len() - 1;
    edited["parts"][last]["sha256"] = json!(genesis_bundle::sha256(b"another part").to_string());
    let mut bytes = serde_json::to_vec_pretty(&edited).unwrap();
    bytes.push(b'\n');
    std::fs::write(&manifest, bytes).unwrap();
    let out = genesis_in(dir.path(), &["verify", given, "--key", &key("test.pub"), "--quiet"]);
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    assert!(stderr.contains(signature.to_str().unwrap()), "{stderr}");
}
