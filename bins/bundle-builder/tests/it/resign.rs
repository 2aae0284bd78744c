//! `resign` (decision 0036): a built bundle moved to another key without rebuilding. The
//! result is the archive `create` writes with the new key; `genesis verify` accepts it with
//! the new key and refuses it with the old; the payload's compressed frames are the old
//! archive's, byte for byte (GNU `cmp` on the ranges the seek tables give); a tampered bundle
//! and a pipeline's wrong signature are refused before anything is written, the signature
//! before the payload is read; the countersignatures beside the bundle follow it, and those of
//! an earlier bundle at the output go; links to the bundle, gzip bundles and bundles without
//! provenance are refused, and a failure while writing leaves no scratch file.

use std::fs::File;
use std::io::{BufWriter, Write as _};
use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use genesis_bundle::test_support::SeekTable;
use genesis_bundle::{BOM_SCHEMA, Bom, Compression, Content, FileEntry, WriteOptions};
use sha2::Digest as _;

use crate::{builder, copy_inputs, listing_or_empty, sha256_file, text};

const ARCHIVE: &str = "demo-0.1.0.tar.zst";

/// A binary built beside `bundle-builder` by a workspace build (`genesis`, `bundle-loader`),
/// run in `cwd` with no installed policy.
fn sibling(name: &str, args: &[&str], cwd: &Path) -> Output {
    let bin = Path::new(env!("CARGO_BIN_EXE_bundle-builder")).with_file_name(name);
    assert!(bin.exists(), "{} is missing: run the workspace's tests (`cargo nextest run --workspace`)", bin.display());
    let mut command = Command::new(bin);
    command.args(args).current_dir(cwd).env_remove("GENESIS_POLICY").env("HOME", cwd).env_remove("XDG_CONFIG_HOME");
    command.output().unwrap()
}

/// Runs a tool and requires it to succeed; a missing one fails, naming its package.
fn tool(program: &str, package: &str, args: &[&str], cwd: &Path) -> Output {
    let out = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("{program} cannot start ({e}): install the Debian package {package}"));
    assert!(out.status.success(), "{program} {args:?}: {}{}", text(&out.stdout), text(&out.stderr));
    out
}

fn run_ok(args: &[&str], cwd: &Path) -> Output {
    let out = builder(args, cwd, &[]);
    assert_eq!(out.status.code(), Some(0), "{args:?}: {}{}", text(&out.stdout), text(&out.stderr));
    out
}

/// Key pairs `old/` and `new/` in `dir`.
fn keys(dir: &Path) {
    for name in ["old", "new"] {
        run_ok(&["keygen", "--output-dir", name], dir);
    }
}

/// `genesis verify ARCHIVE --key PUB`'s exit code.
fn verify_with(dir: &Path, archive: &str, public: &str) -> Option<i32> {
    let out = sibling("genesis", &["verify", archive, "--key", public, "--quiet"], dir);
    out.status.code()
}

/// Each frame's (offset, compressed size, decompressed size), from the archive's seek table.
fn frames(archive: &Path) -> Vec<(u64, u64, u32)> {
    let table = SeekTable::read_from(&File::open(archive).unwrap().into(), &Default::default()).unwrap();
    let mut offset = 0;
    table
        .frames
        .iter()
        .map(|f| {
            let frame = (offset, u64::from(f.compressed), f.decompressed);
            offset += u64::from(f.compressed);
            frame
        })
        .collect()
}

/// Checks with GNU `cmp` that the frames from the second on are the same bytes in both
/// archives (the first holds the head, which re-signing changes); returns how many (none
/// when the whole bundle fits one frame).
fn payload_frames_identical(old: &Path, new: &Path) -> usize {
    let (old_frames, new_frames) = (frames(old), frames(new));
    assert_eq!(old_frames.len(), new_frames.len(), "as many frames");
    if old_frames.len() == 1 {
        return 0;
    }
    let sizes = |f: &[(u64, u64, u32)]| f[1..].iter().map(|&(_, c, d)| (c, d)).collect::<Vec<_>>();
    assert_eq!(sizes(&old_frames), sizes(&new_frames), "the same payload frames");
    let length: u64 = old_frames[1..].iter().map(|&(_, c, _)| c).sum();
    let skip = format!("{}:{}", old_frames[1].0, new_frames[1].0);
    let (old, new) = (old.to_str().unwrap(), new.to_str().unwrap());
    tool("cmp", "diffutils", &["-i", &skip, "-n", &length.to_string(), old, new], Path::new("."));
    old_frames.len() - 1
}

/// The fixture spec built with the old key into `dir/a`, reproducibly (its sourceDateEpoch).
fn built_with_old_key(dir: &Path) -> PathBuf {
    copy_inputs(dir);
    keys(dir);
    run_ok(&["create", "-f", "bundle.yaml", "--key", "old/genesis.key", "--output-dir", "a", "--quiet"], dir);
    dir.join("a").join(ARCHIVE)
}

#[test]
fn resign_with_a_new_key_gives_what_create_with_it_gives_and_only_the_new_key_verifies_it() {
    let dir = tempfile::tempdir().unwrap();
    let old = built_with_old_key(dir.path());
    let old_sidecars =
        ["sha256", "sig", "cosign.bundle"].map(|s| std::fs::read(dir.path().join(format!("a/{ARCHIVE}.{s}"))).unwrap());
    let old_sha256 = sha256_file(&old);
    run_ok(
        &["create", "-f", "bundle.yaml", "--key", "new/genesis.key", "--output-dir", "fresh", "--quiet"],
        dir.path(),
    );

    let archive = format!("a/{ARCHIVE}");
    let args = ["resign", &archive, "--key", "new/genesis.key", "--key-for-verify", "old/genesis.pub", "-o", "r"];
    // `-o r` is a folder when one is there (the archive keeps its name in it), else the file.
    std::fs::create_dir(dir.path().join("r")).unwrap();
    let out = run_ok(&[&args[..], &["--output", "json", "--quiet"]].concat(), dir.path());
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["archive"], format!("r/{ARCHIVE}"), "{report}");
    assert_eq!(report["source"], archive, "{report}");
    assert_eq!(report["sourceSha256"], format!("sha256:{old_sha256}"), "{report}");
    assert!(report["frames"].as_u64().unwrap() >= 1 && report["verifySeconds"].is_number(), "{report}");

    for suffix in ["", ".sha256", ".sig", ".cosign.bundle"] {
        let name = format!("{ARCHIVE}{suffix}");
        assert_eq!(
            sha256_file(&dir.path().join("r").join(&name)),
            sha256_file(&dir.path().join("fresh").join(&name)),
            "{name}: byte-identical to a create with the new key"
        );
    }
    let sums = tool("sha256sum", "coreutils", &["-c", &format!("{ARCHIVE}.sha256")], &dir.path().join("r"));
    assert_eq!(text(&sums.stdout), format!("{ARCHIVE}: OK\n"));
    payload_frames_identical(&old, &dir.path().join("r").join(ARCHIVE));

    let resigned = format!("r/{ARCHIVE}");
    assert_eq!(verify_with(dir.path(), &resigned, "new/genesis.pub"), Some(0), "the new key verifies it");
    assert_eq!(verify_with(dir.path(), &resigned, "old/genesis.pub"), Some(1), "the old key no longer does");
    assert_eq!(verify_with(dir.path(), &archive, "old/genesis.pub"), Some(0), "the old bundle is as it was");
    assert_eq!(sha256_file(&old), old_sha256);
    for (s, before) in ["sha256", "sig", "cosign.bundle"].iter().zip(&old_sidecars) {
        assert_eq!(&std::fs::read(dir.path().join(format!("a/{ARCHIVE}.{s}"))).unwrap(), before, ".{s} untouched");
    }

    // The bundle itself is never the output, whether named as the file or as its folder.
    for output in [archive.as_str(), "a"] {
        let out = builder(
            &["resign", &archive, "--key", "new/genesis.key", "--key-for-verify", "old/genesis.pub", "-o", output],
            dir.path(),
            &[],
        );
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains("is the bundle being re-signed"), "{}", text(&out.stderr));
        assert_eq!(sha256_file(&old), old_sha256);
    }
}

#[test]
fn a_tampered_payload_or_the_wrong_trust_is_refused_before_anything_is_written() {
    let dir = tempfile::tempdir().unwrap();
    big_layout(dir.path(), 12 << 20);
    keys(dir.path());
    run_ok(&["create", "-f", "bundle.yaml", "--key", "old/genesis.key", "--skip-package-sboms", "--quiet"], dir.path());
    let archive = "out/big-1.0.0.tar.zst";
    let resign = |archive: &str, trust: &str, out: &str| {
        let args = ["resign", archive, "--key", "new/genesis.key", "--key-for-verify", trust, "-o", out, "--quiet"];
        builder(&args, dir.path(), &[])
    };
    let written = || {
        let mut names = listing_or_empty(dir.path());
        names.sort();
        names
    };
    let before = written();

    let out = resign(archive, "new/genesis.pub", "wrong-trust.tar.zst");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(written(), before, "nothing written");

    // One byte of the last frame's compressed payload flipped, in a copy without sidecars:
    // the head verifies, and the payload check refuses it.
    let old = dir.path().join(archive);
    let &(offset, size, _) = frames(&old).last().unwrap();
    assert!(offset > 0, "the payload has frames of its own");
    let mut bytes = std::fs::read(&old).unwrap();
    bytes[(offset + size / 2) as usize] ^= 0x55;
    std::fs::write(dir.path().join("tampered.tar.zst"), &bytes).unwrap();
    let before = written();
    let out = resign("tampered.tar.zst", "old/genesis.pub", "resigned.tar.zst");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert_eq!(written(), before, "nothing written, no scratch file left");

    let out = resign(archive, "old/genesis.pub", "resigned.tar.zst");
    assert_eq!(out.status.code(), Some(0), "the bundle itself re-signs: {}", text(&out.stderr));
}

/// Signs `file` as a pipeline's own signer does, with openssl and the private key `key`
/// (ECDSA-SHA256, ASN.1 DER), base64 on one line as `cosign sign-blob --output-signature`.
fn openssl_sign(dir: &Path, key: &str, file: &str, out: &str) {
    let der = format!("{out}.der");
    tool("openssl", "openssl", &["dgst", "-sha256", "-sign", key, "-out", &der, file], dir);
    tool("openssl", "openssl", &["base64", "-A", "-in", &der, "-out", out], dir);
}

#[test]
fn a_pipeline_resigns_in_two_phases_and_its_wrong_signature_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let old = built_with_old_key(dir.path());
    let archive = format!("a/{ARCHIVE}");
    let prepared =
        run_ok(&["resign", &archive, "--prepare", "-o", "work", "--key-for-verify", "old/genesis.pub"], dir.path());
    let said = text(&prepared.stdout);
    assert!(said.contains("cosign sign-blob --key KEY --bundle work/bom.json.sigstore.json work/bom.json"), "{said}");
    assert!(
        said.contains(&format!(
            "bundle-builder resign {archive} -o OUT --key-for-verify old/genesis.pub --public-key PUB"
        )),
        "{said}"
    );
    // What the pipeline signs is what `prepare` gives for the build: re-signing changes neither.
    run_ok(&["prepare", "-f", "bundle.yaml", "-o", "build-work"], dir.path());
    for file in ["bom.json", "provenance.pae", "provenance.intoto.json"] {
        assert_eq!(
            std::fs::read(dir.path().join("work").join(file)).unwrap(),
            std::fs::read(dir.path().join("build-work").join(file)).unwrap(),
            "{file}"
        );
    }

    let external = |bom: &str, provenance: &str, out: &str| {
        let args = [
            "resign",
            &archive,
            "--public-key",
            "new/genesis.pub",
            "--bom-signature",
            bom,
            "--provenance-signature",
            provenance,
            "--key-for-verify",
            "old/genesis.pub",
            "-o",
            out,
        ];
        builder(&args, dir.path(), &[])
    };
    // The old key's signature over the BOM, given as the new key's.
    openssl_sign(dir.path(), "old/genesis.key", "work/bom.json", "work/bom-by-old.sig");
    openssl_sign(dir.path(), "new/genesis.key", "work/provenance.pae", "work/provenance.pae.sig");
    let out = external("work/bom-by-old.sig", "work/provenance.pae.sig", "refused");
    assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("does not verify with key"), "{}", text(&out.stderr));
    assert!(!dir.path().join("refused").exists(), "nothing written");

    openssl_sign(dir.path(), "new/genesis.key", "work/bom.json", "work/bom.json.sig");
    std::fs::create_dir(dir.path().join("r")).unwrap();
    let out = external("work/bom.json.sig", "work/provenance.pae.sig", "r");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(text(&out.stdout).contains("sign the archive yourself: cosign sign-blob"), "{}", text(&out.stdout));
    let mut names = listing_or_empty(&dir.path().join("r"));
    names.sort();
    assert_eq!(
        names,
        [ARCHIVE.to_owned(), format!("{ARCHIVE}.sha256")],
        "the archive's own signature is the pipeline's"
    );
    let resigned = format!("r/{ARCHIVE}");
    assert_eq!(verify_with(dir.path(), &resigned, "new/genesis.pub"), Some(0));
    assert_eq!(verify_with(dir.path(), &resigned, "old/genesis.pub"), Some(1));
    payload_frames_identical(&old, &dir.path().join(&resigned));
}

/// Writes an OCI layout of one image whose single layer is a tar of one file of `size`
/// bytes that zstd compresses about thirty-fold, fast (each 512 bytes: 16 that vary, the
/// rest a fixed text), and a spec bundling it; returns the spec's path.
fn big_layout(dir: &Path, size: u64) -> PathBuf {
    let blobs = dir.join("layout/blobs/sha256");
    std::fs::create_dir_all(&blobs).unwrap();
    let scratch = blobs.join("layer");
    let mut layer = BufWriter::with_capacity(8 << 20, File::create(&scratch).unwrap());
    let mut hasher = sha2::Sha256::new();
    let mut put = |bytes: &[u8]| {
        layer.write_all(bytes).unwrap();
        hasher.update(bytes);
    };
    put(&genesis_bundle::file_header("data/blob.bin", size, 0).unwrap());
    let text = b"genesis resign copies the payload frames of a seekable archive byte for byte. ";
    let mut chunk = [0u8; 1 << 20];
    for (i, b) in chunk.iter_mut().enumerate() {
        *b = text[i % text.len()];
    }
    let mut written = 0u64;
    let mut n = 0u64;
    while written < size {
        for block in chunk.chunks_exact_mut(512) {
            block[..8].copy_from_slice(&n.wrapping_mul(0x9E37_79B9_7F4A_7C15).to_le_bytes());
            block[8..16].copy_from_slice(&n.to_le_bytes());
            n += 1;
        }
        let take = (size - written).min(chunk.len() as u64) as usize;
        put(&chunk[..take]);
        written += take as u64;
    }
    put(&[0u8; 512][..genesis_bundle::padding(size)]);
    put(&genesis_bundle::END_OF_ARCHIVE);
    layer.flush().unwrap();
    drop(layer);
    let layer_hex = hex::encode(hasher.finalize());
    let layer_size = std::fs::metadata(&scratch).unwrap().len();
    std::fs::rename(&scratch, blobs.join(&layer_hex)).unwrap();

    let blob = |bytes: Vec<u8>| {
        let hex = hex::encode(sha2::Sha256::digest(&bytes));
        std::fs::write(blobs.join(&hex), &bytes).unwrap();
        (format!("sha256:{hex}"), bytes.len())
    };
    let (config, config_size) = blob(
        serde_json::to_vec(
            &serde_json::json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}),
        )
        .unwrap(),
    );
    let (manifest, manifest_size) = blob(
        serde_json::to_vec(&serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": config, "size": config_size},
            "layers": [{"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": format!("sha256:{layer_hex}"), "size": layer_size}],
        }))
        .unwrap(),
    );
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": manifest, "size": manifest_size,
        "annotations": {"org.opencontainers.image.ref.name": "big"}}]});
    std::fs::write(dir.join("layout/index.json"), serde_json::to_vec(&index).unwrap()).unwrap();
    std::fs::write(dir.join("layout/oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#).unwrap();
    let spec = dir.join("bundle.yaml");
    std::fs::write(
        &spec,
        "apiVersion: genesis.dev/v1alpha1\nkind: Bundle\nmetadata: { name: big, version: 1.0.0 }\nspec:\n  \
         sourceDateEpoch: 1735689600\n  images:\n    - { name: big, image: \"oci:layout:big\", ref: registry.example.com/big/app:1 }\n  \
         output: { dir: out }\n",
    )
    .unwrap();
    spec
}

/// The issue's case: a 1 GiB bundle re-signed by copying its payload's frames (256 and
/// more), checked with `cmp` on their byte ranges, and verified with the new key. In the
/// `big-bundles` nextest group: it takes two cores and a GiB of disk for some seconds, under
/// the target folder (`CARGO_TARGET_TMPDIR`) rather than `/tmp`, which may be memory.
#[test]
fn a_one_gib_bundle_is_resigned_by_copying_its_payload_frames() {
    let dir = tempfile::tempdir_in(env!("CARGO_TARGET_TMPDIR")).unwrap();
    big_layout(dir.path(), 1 << 30);
    keys(dir.path());
    run_ok(&["create", "-f", "bundle.yaml", "--key", "old/genesis.key", "--skip-package-sboms", "--quiet"], dir.path());
    let old = dir.path().join("out/big-1.0.0.tar.zst");
    std::fs::remove_dir_all(dir.path().join("layout")).unwrap();

    let out = run_ok(
        &[
            "resign",
            "out/big-1.0.0.tar.zst",
            "--key",
            "new/genesis.key",
            "--key-for-verify",
            "old/genesis.pub",
            "-o",
            "r.tar.zst",
            "--output",
            "json",
            "--quiet",
        ],
        dir.path(),
    );
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let new = dir.path().join("r.tar.zst");
    let copied = payload_frames_identical(&old, &new);
    assert!(copied >= 256, "a GiB of payload is at least 256 frames of 4 MiB: {copied}");
    assert_eq!(report["framesCopied"], copied as u64, "{report}");
    assert_eq!(report["frames"], copied as u64 + 1, "only the head's frame compressed again: {report}");
    assert!(report["payloadBytes"].as_u64().unwrap() > 1 << 30, "{report}");
    assert_eq!(verify_with(dir.path(), "r.tar.zst", "new/genesis.pub"), Some(0));
    assert_eq!(verify_with(dir.path(), "r.tar.zst", "old/genesis.pub"), Some(1));
}

/// Names in `dir`, sorted.
fn sorted_listing(dir: &Path) -> Vec<String> {
    let mut names = listing_or_empty(dir);
    names.sort();
    names
}

#[test]
fn countersignatures_follow_the_bundle_and_those_of_an_earlier_one_go() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let old = built_with_old_key(dir);
    let old_sha256 = sha256_file(&old);
    run_ok(&["keygen", "--output-dir", "customer"], dir);
    std::fs::write(dir.join("countersign.yaml"), "keys: [old/genesis.pub]\ncosigners: [customer/genesis.pub]\n")
        .unwrap();
    let archive = format!("a/{ARCHIVE}");
    let out = sibling(
        "genesis",
        &["countersign", &archive, "--key", "customer/genesis.key", "--policy", "countersign.yaml"],
        dir,
    );
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let source_folder = dir.join(format!("{archive}.countersig"));
    let countersignatures = sorted_listing(&source_folder);
    assert_eq!(countersignatures.len(), 1, "{countersignatures:?}");

    // `-o` ending in `/` is a folder, made when missing; the countersignatures come along.
    let args = ["resign", &archive, "--key", "new/genesis.key", "--key-for-verify", "old/genesis.pub"];
    let out = run_ok(&[&args[..], &["-o", "out/resigned/", "--output", "json", "--quiet"]].concat(), dir);
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let resigned = format!("out/resigned/{ARCHIVE}");
    assert_eq!(report["archive"], resigned, "{report}");
    assert_eq!(report["countersignatures"], format!("{resigned}.countersig"), "{report}");
    let carried = dir.join(format!("{resigned}.countersig"));
    assert_eq!(sorted_listing(&carried), countersignatures);
    for name in &countersignatures {
        assert_eq!(std::fs::read(carried.join(name)).unwrap(), std::fs::read(source_folder.join(name)).unwrap());
    }
    // They sign the BOM, which re-signing keeps: the re-signed bundle meets a policy that
    // requires both the new key and the customer.
    std::fs::write(
        dir.join("both.yaml"),
        "keys: [new/genesis.pub]\ncosigners: [customer/genesis.pub]\n\
         require: {allOf: [{signedBy: new/genesis.pub}, {signedBy: customer/genesis.pub}]}\n",
    )
    .unwrap();
    let out = sibling("genesis", &["verify", &resigned, "--policy", "both.yaml", "--quiet"], dir);
    assert_eq!(out.status.code(), Some(0), "{}{}", text(&out.stdout), text(&out.stderr));
    assert_eq!(sha256_file(&old), old_sha256, "the bundle itself is untouched");
    assert_eq!(sorted_listing(&source_folder), countersignatures);

    // An earlier bundle's countersignatures at the output go before the new archive appears,
    // whether `create` or `resign` writes it.
    let stale = |folder: &str| {
        let folder = dir.join(folder);
        std::fs::create_dir_all(&folder).unwrap();
        std::fs::write(folder.join(format!("{}.sigstore.json", "0".repeat(64))), b"{}").unwrap();
    };
    stale(&format!("b/{ARCHIVE}.countersig"));
    run_ok(&["create", "-f", "bundle.yaml", "--key", "new/genesis.key", "--output-dir", "b", "--quiet"], dir);
    assert_eq!(
        sorted_listing(&dir.join("b")),
        [ARCHIVE.to_owned(), format!("{ARCHIVE}.cosign.bundle"), format!("{ARCHIVE}.sha256"), format!("{ARCHIVE}.sig")]
    );
    stale(&format!("c/{ARCHIVE}.countersig"));
    let b = format!("b/{ARCHIVE}");
    run_ok(
        &["resign", &b, "--key", "old/genesis.key", "--key-for-verify", "new/genesis.pub", "-o", "c", "--quiet"],
        dir,
    );
    assert!(!dir.join(format!("c/{ARCHIVE}.countersig")).exists(), "the stale countersignatures are gone");
    assert_eq!(verify_with(dir, &format!("c/{ARCHIVE}"), "old/genesis.pub"), Some(0));
}

/// A bundle of one file, signed with the private key `key` (a file in `dir`) and without
/// provenance, as bundles were before decision 0018: written as `dir/np/ARCHIVE`.
fn without_provenance(dir: &Path, key: &str) -> String {
    let key = genesis_trust::PrivateKey::from_pem_file(&dir.join(key)).unwrap();
    let data = b"kind: ConfigMap\n".to_vec();
    let path: genesis_types::BundlePath = "docs/readme.txt".parse().unwrap();
    let bom = Bom {
        schema: BOM_SCHEMA.into(),
        name: "demo".into(),
        version: "0.1.0".into(),
        created: genesis_bundle::rfc3339(1_735_689_600),
        expires: None,
        files: vec![FileEntry { path: path.clone(), size: data.len() as u64, sha256: genesis_bundle::sha256(&data) }],
        images: vec![],
        charts: vec![],
        manifests: vec![],
        sboms: vec![],
        scan: None,
        requires: None,
    };
    let bom_bytes = bom.to_bytes();
    let signature = genesis_trust::encode_signature(&key.sign(&bom_bytes));
    let contents: std::collections::BTreeMap<_, _> = [(path, Content::Bytes(data))].into_iter().collect();
    std::fs::create_dir_all(dir.join("np")).unwrap();
    let out = File::create(dir.join("np").join(ARCHIVE)).unwrap();
    let options = WriteOptions { compression: Compression::Zstd, mtime: 1_735_689_600, progress: Default::default() };
    genesis_bundle::write_bundle(out, &bom, &bom_bytes, &signature, None, &contents, options).unwrap();
    format!("np/{ARCHIVE}")
}

#[test]
fn links_to_the_bundle_gzip_bundles_and_bundles_without_provenance_are_refused_leaving_nothing() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    let old = built_with_old_key(dir);
    let old_sha256 = sha256_file(&old);
    let archive = format!("a/{ARCHIVE}");
    let resign = |archive: &str, out: &str| {
        let args = ["resign", archive, "--key", "new/genesis.key", "--key-for-verify", "old/genesis.pub", "-o", out];
        builder(&[&args[..], &["--quiet"]].concat(), dir, &[])
    };
    let refused = |out: &Output, said: &str| {
        assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains(said), "{said} not in {}", text(&out.stderr));
    };

    // A symbolic or a hard link to the bundle is the bundle.
    std::os::unix::fs::symlink(&old, dir.join("link.tar.zst")).unwrap();
    std::fs::hard_link(&old, dir.join("hard.tar.zst")).unwrap();
    for output in ["link.tar.zst", "hard.tar.zst"] {
        refused(&resign(&archive, output), "is the bundle being re-signed");
        assert_eq!(sha256_file(&old), old_sha256);
    }

    // A gzip bundle has no frames to copy, and one without provenance is rebuilt: both are
    // refused as input, nothing written.
    let spec = std::fs::read_to_string(dir.join("bundle.yaml")).unwrap();
    std::fs::write(dir.join("gzip.yaml"), spec.replace("compression: zstd", "compression: gzip")).unwrap();
    run_ok(&["create", "-f", "gzip.yaml", "--key", "old/genesis.key", "--output-dir", "g", "--quiet"], dir);
    let no_provenance = without_provenance(dir, "old/genesis.key");
    let before = sorted_listing(dir);
    refused(&resign("g/demo-0.1.0.tar.gz", "r.tar.zst"), "a gzip archive");
    refused(&resign(&no_provenance, "r.tar.zst"), "carries no provenance");
    assert_eq!(sorted_listing(dir), before, "nothing written");

    // A failure once the archive is written (an earlier `.sha256` that cannot be removed)
    // leaves no scratch file.
    std::fs::create_dir_all(dir.join(format!("w/{ARCHIVE}.sha256/keep"))).unwrap();
    refused(&resign(&archive, "w/"), "cannot remove the checksum list of an earlier build");
    assert_eq!(sorted_listing(&dir.join("w")), [format!("{ARCHIVE}.sha256")]);
}

#[test]
fn a_pipelines_wrong_signature_is_refused_before_the_payload_is_read() {
    let dir = tempfile::tempdir().unwrap();
    let dir = dir.path();
    big_layout(dir, 12 << 20);
    keys(dir);
    run_ok(&["create", "-f", "bundle.yaml", "--key", "old/genesis.key", "--skip-package-sboms", "--quiet"], dir);
    let archive = "out/big-1.0.0.tar.zst";
    run_ok(&["resign", archive, "--prepare", "-o", "work", "--key-for-verify", "old/genesis.pub"], dir);
    openssl_sign(dir, "old/genesis.key", "work/bom.json", "work/bom-by-old.sig");
    openssl_sign(dir, "new/genesis.key", "work/provenance.pae", "work/provenance.pae.sig");

    // The payload's last frame damaged too: the signature is judged first, so it is what the
    // refusal names, and nothing is written.
    let &(offset, size, _) = frames(&dir.join(archive)).last().unwrap();
    let mut bytes = std::fs::read(dir.join(archive)).unwrap();
    bytes[(offset + size / 2) as usize] ^= 0x55;
    std::fs::write(dir.join("tampered.tar.zst"), &bytes).unwrap();
    let before = sorted_listing(dir);
    let args = [
        "resign",
        "tampered.tar.zst",
        "--public-key",
        "new/genesis.pub",
        "--bom-signature",
        "work/bom-by-old.sig",
        "--provenance-signature",
        "work/provenance.pae.sig",
        "--key-for-verify",
        "old/genesis.pub",
        "-o",
        "r.tar.zst",
        "--quiet",
    ];
    let out = builder(&args, dir, &[]);
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}");
    assert!(err.contains("does not verify with key") && !err.contains("content digest"), "{err}");
    assert_eq!(sorted_listing(dir), before, "nothing written");
}
