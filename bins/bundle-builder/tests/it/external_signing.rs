//! Two-phase builds (decision 0033): `prepare` writes what a release pipeline signs, the
//! pipeline signs it with its own tool (here openssl, as any ECDSA P-256 signer would: the
//! private key never reaches the builder), and `create --public-key --bom-signature
//! --provenance-signature` assembles the bundle. `bundle-loader` verifies it and coreutils'
//! `sha256sum` checks its `.sha256`; a missing tool is a failure, not a skip.

use std::path::Path;
use std::process::{Command, Output};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use sha2::Digest as _;

use crate::{builder, copy_inputs, listing_or_empty, sha256_file, text};

const ARCHIVE: &str = "demo-0.1.0.tar.zst";

/// Runs a tool a pipeline or an operator would run, and requires it to succeed.
fn tool(program: &str, args: &[&str], cwd: &Path) -> Output {
    let out = Command::new(program)
        .args(args)
        .current_dir(cwd)
        .output()
        .unwrap_or_else(|e| panic!("{program} must be installed (.ci/run installs it): {e}"));
    assert!(out.status.success(), "{program} {args:?}: {}{}", text(&out.stdout), text(&out.stderr));
    out
}

/// Copies the fixture inputs into `dir`, makes a key pair in `dir/k` (PKCS#8, which openssl
/// signs with) and runs `prepare` into `dir/work` with `extra` arguments; its output.
fn prepare(dir: &Path, extra: &[&str]) -> Output {
    copy_inputs(dir);
    let keygen = builder(&["keygen", "--output-dir", "k"], dir, &[]);
    assert_eq!(keygen.status.code(), Some(0), "{}", text(&keygen.stderr));
    let mut args = vec!["prepare", "-f", "bundle.yaml", "-o", "work"];
    args.extend_from_slice(extra);
    let out = builder(&args, dir, &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    for file in ["bom.json", "provenance.pae", "provenance.intoto.json"] {
        assert!(dir.join("work").join(file).is_file(), "prepare wrote work/{file}");
    }
    assert!(!dir.join("out").exists() && !dir.join("dist").exists(), "prepare builds no bundle");
    out
}

/// Signs `file` as a pipeline's own signer does, with openssl (ECDSA-SHA256, ASN.1 DER) and
/// the private key `keygen` wrote, and writes the signature to `out` in base64 on one line,
/// as `cosign sign-blob --output-signature` does.
fn openssl_sign(dir: &Path, file: &str, out: &str) {
    let der = format!("{out}.der");
    tool("openssl", &["dgst", "-sha256", "-sign", "k/genesis.key", "-out", &der, file], dir);
    tool("openssl", &["base64", "-A", "-in", &der, "-out", out], dir);
}

/// `create` with the pipeline's signatures and no private key, into `dir/out`.
fn create_external(dir: &Path, bom_signature: &str, provenance_signature: &str) -> Output {
    let args = [
        "create",
        "-f",
        "bundle.yaml",
        "--public-key",
        "k/genesis.pub",
        "--bom-signature",
        bom_signature,
        "--provenance-signature",
        provenance_signature,
        "--output-dir",
        "out",
        "--quiet",
    ];
    builder(&args, dir, &[])
}

/// What an external `create` leaves: an archive `bundle-loader verify` accepts with the
/// vendor's public key, its provenance verified too; only the `.sha256` beside it, which
/// `sha256sum -c` accepts (the `.sig` and `.cosign.bundle` are the pipeline's to make); the
/// BOM and provenance statement `prepare` wrote, byte for byte.
fn check_bundle(dir: &Path) {
    let loader = Path::new(env!("CARGO_BIN_EXE_bundle-builder")).with_file_name("bundle-loader");
    assert!(
        loader.exists(),
        "{} is missing: run the workspace's tests (`cargo nextest run --workspace`)",
        loader.display()
    );
    let archive = format!("out/{ARCHIVE}");
    let verify = Command::new(&loader)
        .args(["verify", &archive, "--key", "k/genesis.pub", "--output", "json", "--quiet"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert_eq!(verify.status.code(), Some(0), "{}{}", text(&verify.stdout), text(&verify.stderr));
    let v: serde_json::Value = serde_json::from_slice(&verify.stdout).unwrap();
    assert_eq!(v["verified"], true);
    let report = &v["report"];
    assert_eq!(report["provenance"]["buildType"], "https://genesis.dev/bundle-builder/build/v1", "{v}");
    assert_eq!(report["sha256Sidecar"]["status"], "match", "{v}");
    assert_eq!(report["signatureSidecar"]["status"], "absent", "{v}");
    assert_eq!(report["cosignBundleSidecar"]["status"], "absent", "{v}");

    let out = dir.join("out");
    let mut names = listing_or_empty(&out);
    names.sort();
    assert_eq!(names, [ARCHIVE.to_owned(), format!("{ARCHIVE}.sha256")], "no .sig or .cosign.bundle");
    let sums = tool("sha256sum", &["-c", &format!("{ARCHIVE}.sha256")], &out);
    assert_eq!(text(&sums.stdout), format!("{ARCHIVE}: OK\n"));

    let head = dir.join("head");
    std::fs::create_dir_all(&head).unwrap();
    let archive_path = dir.join(&archive);
    let archive_arg = archive_path.to_str().unwrap();
    tool("tar", &["--zstd", "-xf", archive_arg, "bom.json", "provenance/bundle.intoto.json"], &head);
    assert_eq!(std::fs::read(head.join("bom.json")).unwrap(), std::fs::read(dir.join("work/bom.json")).unwrap());
    let envelope: serde_json::Value =
        serde_json::from_slice(&std::fs::read(head.join("provenance/bundle.intoto.json")).unwrap()).unwrap();
    let payload = STANDARD.decode(envelope["payload"].as_str().unwrap()).unwrap();
    assert_eq!(payload, std::fs::read(dir.join("work/provenance.intoto.json")).unwrap());
}

#[test]
fn prepare_then_signatures_made_with_openssl_give_a_bundle_bundle_loader_verifies() {
    let dir = tempfile::tempdir().unwrap();
    let prepared = prepare(dir.path(), &[]);
    let said = text(&prepared.stdout);
    for expected in [
        "work/bom.json (sha256:",
        "cosign sign-blob --key KEY --bundle work/bom.json.sigstore.json work/bom.json",
        "bundle-builder create -f bundle.yaml --public-key PUB --bom-signature work/bom.json.sigstore.json",
    ] {
        assert!(said.contains(expected), "{expected:?} in {said}");
    }
    openssl_sign(dir.path(), "work/bom.json", "work/bom.json.sig");
    openssl_sign(dir.path(), "work/provenance.pae", "work/provenance.pae.sig");

    let out = create_external(dir.path(), "work/bom.json.sig", "work/provenance.pae.sig");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let said = text(&out.stdout);
    assert!(said.contains("(the pipeline's signatures, verified)"), "{said}");
    assert!(said.contains("sign the archive yourself: cosign sign-blob --key KEY"), "{said}");
    assert!(said.contains(&format!("{ARCHIVE}.cosign.bundle")), "{said}");
    check_bundle(dir.path());
}

/// The BOM signature as the sigstore bundle `cosign sign-blob --key … --bundle` writes
/// (v0.3: the signature, the digest, the key's hint), built here by hand.
#[test]
fn a_bom_signature_given_as_a_sigstore_bundle_is_carried_too() {
    let dir = tempfile::tempdir().unwrap();
    let prepared = prepare(dir.path(), &["--output", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&prepared.stdout).unwrap();
    assert_eq!(v["bom"], "work/bom.json", "{v}");
    assert_eq!(v["provenancePae"], "work/provenance.pae", "{v}");
    assert_eq!(v["next"].as_array().unwrap().len(), 4, "{v}");

    openssl_sign(dir.path(), "work/bom.json", "work/bom.json.sig");
    openssl_sign(dir.path(), "work/provenance.pae", "work/provenance.pae.sig");
    let public = genesis_trust::PublicKey::from_pem_file(&dir.path().join("k/genesis.pub")).unwrap();
    let bom = std::fs::read(dir.path().join("work/bom.json")).unwrap();
    let signature = std::fs::read_to_string(dir.path().join("work/bom.json.sig")).unwrap();
    let bundle = serde_json::json!({
        "mediaType": "application/vnd.dev.sigstore.bundle.v0.3+json",
        "verificationMaterial": { "publicKey": { "hint": public.hint() } },
        "messageSignature": {
            "messageDigest": { "algorithm": "SHA2_256", "digest": STANDARD.encode(sha2::Sha256::digest(&bom)) },
            "signature": signature.trim(),
        }
    });
    std::fs::write(dir.path().join("work/bom.json.sigstore.json"), serde_json::to_vec_pretty(&bundle).unwrap())
        .unwrap();

    let out = create_external(dir.path(), "work/bom.json.sigstore.json", "work/provenance.pae.sig");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    check_bundle(dir.path());
}

#[test]
fn a_signature_over_another_file_is_refused_naming_the_bom_and_nothing_is_written() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path(), &[]);
    openssl_sign(dir.path(), "work/provenance.pae", "work/provenance.pae.sig");

    // The provenance's signature, valid with the key, given as the BOM's.
    let out = create_external(dir.path(), "work/provenance.pae.sig", "work/provenance.pae.sig");
    assert_eq!(out.status.code(), Some(1), "{}{}", text(&out.stdout), text(&out.stderr));
    let said = text(&out.stderr);
    assert!(said.contains("BOM signature") && said.contains("bom.json"), "{said}");
    assert!(listing_or_empty(&dir.path().join("out")).is_empty(), "nothing written");
}

/// A one-step build with the key, and a two-phase build given that build's own signatures
/// (the BOM's `bom.json.sig` entry, the provenance envelope's `sig`): the same archive, byte
/// for byte, as the builder signs deterministically (RFC 6979) and assembles the same way.
#[test]
fn the_archive_is_byte_identical_to_a_one_step_build_whose_signatures_it_carries() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path(), &[]);
    let one_step = builder(
        &["create", "-f", "bundle.yaml", "--key", "k/genesis.key", "--output-dir", "key", "--quiet"],
        dir.path(),
        &[],
    );
    assert_eq!(one_step.status.code(), Some(0), "{}", text(&one_step.stderr));

    let signed = dir.path().join("signed");
    std::fs::create_dir_all(&signed).unwrap();
    let archive = dir.path().join("key").join(ARCHIVE);
    tool(
        "tar",
        &["--zstd", "-xf", archive.to_str().unwrap(), "bom.json.sig", "provenance/bundle.intoto.json"],
        &signed,
    );
    let envelope: serde_json::Value =
        serde_json::from_slice(&std::fs::read(signed.join("provenance/bundle.intoto.json")).unwrap()).unwrap();
    std::fs::write(signed.join("provenance.sig"), envelope["signatures"][0]["sig"].as_str().unwrap()).unwrap();

    let out = create_external(dir.path(), "signed/bom.json.sig", "signed/provenance.sig");
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(sha256_file(&dir.path().join("out").join(ARCHIVE)), sha256_file(&archive));
}

/// `create` with `args` refused as a usage error (exit 2) whose message holds each of
/// `expected`, before anything is written.
fn refused(dir: &Path, args: &[&str], expected: &[&str]) {
    let mut all = vec!["create", "-f", "bundle.yaml", "--output-dir", "out"];
    all.extend_from_slice(args);
    let out = builder(&all, dir, &[]);
    assert_eq!(out.status.code(), Some(2), "{args:?}: {}", text(&out.stderr));
    let said = text(&out.stderr);
    for e in expected {
        assert!(said.contains(e), "{args:?}: {e:?} in {said}");
    }
    assert!(!dir.join("out").exists(), "{args:?}: nothing written");
}

#[test]
fn create_takes_a_key_or_the_three_signature_flags_and_never_both() {
    let tmp = tempfile::tempdir().unwrap();
    let dir = tmp.path();
    copy_inputs(dir);
    refused(
        dir,
        &["--key", "k/genesis.key", "--bom-signature", "b.sig"],
        &["cannot be used with", "--key", "--bom-signature"],
    );
    refused(dir, &[], &["--key", "--public-key"]);
    refused(dir, &["--public-key", "k/genesis.pub"], &["--bom-signature", "--provenance-signature"]);
    refused(dir, &["--bom-signature", "b.sig", "--provenance-signature", "p.sig"], &["--public-key"]);
}

/// The `create` a `prepare` prints carries the build flags it was given, so that, run as
/// printed, it builds the bytes that were signed.
#[test]
fn the_create_prepare_prints_carries_its_build_flags_and_builds_what_was_signed() {
    let dir = tempfile::tempdir().unwrap();
    let flags = ["--expires", "3650d", "--skip-package-sboms"];
    let prepared = prepare(dir.path(), &[&flags[..], &["--output", "json"][..]].concat());
    let v: serde_json::Value = serde_json::from_slice(&prepared.stdout).unwrap();
    let create = v["next"][2].as_str().unwrap().to_owned();
    let expected = "bundle-builder create -f bundle.yaml --expires 3650d --skip-package-sboms --public-key PUB \
                    --bom-signature work/bom.json.sigstore.json --provenance-signature work/provenance.pae.sigstore.json";
    assert_eq!(create, expected, "{v}");
    let printed = builder(&[&["prepare", "-f", "bundle.yaml", "-o", "work"][..], &flags[..]].concat(), dir.path(), &[]);
    assert_eq!(printed.status.code(), Some(0), "{}", text(&printed.stderr));
    assert!(text(&printed.stdout).contains(&format!("  {expected}\n")), "{}", text(&printed.stdout));

    // Signed where the printed commands put the signatures, and run as printed.
    openssl_sign(dir.path(), "work/bom.json", "work/bom.json.sigstore.json");
    openssl_sign(dir.path(), "work/provenance.pae", "work/provenance.pae.sigstore.json");
    let mut args: Vec<&str> =
        create.split(' ').skip(1).map(|word| if word == "PUB" { "k/genesis.pub" } else { word }).collect();
    args.extend(["--output-dir", "out", "--quiet"]);
    let out = builder(&args, dir.path(), &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    check_bundle(dir.path());
}

/// The report describes the archive's own signature, which the pipeline makes after
/// `create`: asked for with the pipeline's signatures, it is refused, naming the command
/// that writes it once the archive is signed.
#[test]
fn a_report_is_refused_with_the_pipelines_signatures_naming_genesis_report() {
    let dir = tempfile::tempdir().unwrap();
    prepare(dir.path(), &[]);
    openssl_sign(dir.path(), "work/bom.json", "work/bom.json.sig");
    openssl_sign(dir.path(), "work/provenance.pae", "work/provenance.pae.sig");
    refused(
        dir.path(),
        &[
            "--public-key",
            "k/genesis.pub",
            "--bom-signature",
            "work/bom.json.sig",
            "--provenance-signature",
            "work/provenance.pae.sig",
            "--report",
        ],
        &[
            "--report: cannot go with a pipeline's signatures",
            format!("`genesis report out/{ARCHIVE} --key PUB`").as_str(),
        ],
    );
}
