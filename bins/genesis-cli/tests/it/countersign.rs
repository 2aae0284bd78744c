//! `genesis countersign` (seed 002: a customer co-signs; the vendor's signature is always
//! required): the good fixture bundle, signed by the vendor (`keys/test.key`), countersigned
//! by a customer (`keys/other.key`, and cosign's encrypted `interop/cosign-key/cosign.key`)
//! under `require: {allOf: [{signedBy: vendor.pub}, {signedBy: customer.pub}]}`. It verifies
//! with `genesis verify`, `bundle-loader verify` and `verify --dir` after `extract`, and is
//! refused without the countersignature, with a tampered one, and with the customer key not a
//! cosigner; a bundle signed inside by the customer key alone is refused. The archive and
//! the vendor's sidecars keep their bytes.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::text;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

const ARCHIVE: &str = "demo-0.1.0.tar.zst";

/// A folder with the good bundle and its sidecars, the vendor's public key (`vendor.pub`),
/// the customer's key pair (`customer.key`, `customer.pub`) and a policy (`trust.yaml`) that
/// trusts the vendor, takes the customer as a cosigner and requires both.
fn setup() -> tempfile::TempDir {
    let dir = tempfile::tempdir().unwrap();
    let good = fixtures().join("bundles/good");
    for entry in std::fs::read_dir(&good).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.path().join(entry.file_name())).unwrap();
    }
    let keys = fixtures().join("keys");
    for (from, to) in [("test.pub", "vendor.pub"), ("other.key", "customer.key"), ("other.pub", "customer.pub")] {
        std::fs::copy(keys.join(from), dir.path().join(to)).unwrap();
    }
    policy(dir.path(), "cosigners: [customer.pub]\n");
    dir
}

/// Writes `trust.yaml` in `dir`: the vendor's key, `cosigners`, and the all-of requirement.
fn policy(dir: &Path, cosigners: &str) {
    let require = "require: {allOf: [{signedBy: vendor.pub}, {signedBy: customer.pub}]}\n";
    std::fs::write(dir.join("trust.yaml"), format!("keys: [vendor.pub]\n{cosigners}{require}")).unwrap();
}

/// `genesis ARGS…` run in `dir`, with no installed policy and `GENESIS_KEY_PASSWORD` when
/// given.
fn genesis_in(dir: &Path, args: &[&str], password: Option<&str>) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_genesis"));
    command.args(args).current_dir(dir).env_remove("GENESIS_POLICY").env("HOME", dir).env_remove("XDG_CONFIG_HOME");
    command.env_remove("GENESIS_KEY_PASSWORD");
    if let Some(password) = password {
        command.env("GENESIS_KEY_PASSWORD", password);
    }
    command.output().unwrap()
}

fn countersign(dir: &Path, key: &str, extra: &[&str]) -> Output {
    genesis_in(dir, &[&["countersign", ARCHIVE, "--key", key, "--policy", "trust.yaml"][..], extra].concat(), None)
}

fn verify(dir: &Path, extra: &[&str]) -> Output {
    genesis_in(dir, &[&["verify", ARCHIVE, "--policy", "trust.yaml", "--quiet"][..], extra].concat(), None)
}

/// The file name a countersignature by the public key `key` (a file in `dir`) has: the
/// SHA-256 of its DER, as openssl and sha256sum compute it.
fn countersignature_of(dir: &Path, key: &str) -> PathBuf {
    let out = Command::new("sh")
        .arg("-c")
        .arg(format!("openssl pkey -pubin -in {key} -outform DER | sha256sum"))
        .current_dir(dir)
        .output()
        .expect("openssl and sha256sum must be installed");
    assert!(out.status.success(), "{}", text(&out.stderr));
    let hex = text(&out.stdout).split_whitespace().next().unwrap().to_owned();
    dir.join(format!("{ARCHIVE}.countersig/{hex}.sigstore.json"))
}

/// The fingerprint `SHA256:…` of the public key file `key` in `dir`.
fn fingerprint(dir: &Path, key: &str) -> String {
    genesis_trust::PublicKey::from_pem_file(&dir.join(key)).unwrap().fingerprint().to_string()
}

/// The bytes of the archive and of each vendor sidecar.
fn vendor_files(dir: &Path) -> Vec<(String, Vec<u8>)> {
    ["", ".sha256", ".sig", ".cosign.bundle"]
        .iter()
        .map(|suffix| {
            let name = format!("{ARCHIVE}{suffix}");
            let bytes = std::fs::read(dir.join(&name)).unwrap();
            (name, bytes)
        })
        .collect()
}

/// Exit 1 with stderr saying each of `said`.
fn refused(out: &Output, said: &[&str]) {
    let err = text(&out.stderr);
    assert_eq!(out.status.code(), Some(1), "{err}{}", text(&out.stdout));
    for said in said {
        assert!(err.contains(said), "{said} not in {err}");
    }
}

#[test]
fn a_countersignature_meets_an_all_of_policy_and_leaves_the_archive_as_it_was() {
    let dir = setup();
    let dir = dir.path();
    let before = vendor_files(dir);
    let customer = fingerprint(dir, "customer.pub");

    // Without the countersignature the vendor's signature alone does not meet the policy.
    let not_signed = format!("✗ not signed by {customer}");
    refused(&verify(dir, &[]), &["policy refuses the bundle (require)", not_signed.as_str()]);

    let out = countersign(dir, "customer.key", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let file = countersignature_of(dir, "customer.pub");
    let said = text(&out.stdout);
    assert_eq!(
        said,
        format!("✓ demo 0.1.0 countersigned by key {customer}: wrote {ARCHIVE}.countersig/{}\n", name(&file))
    );
    assert!(text(&out.stderr).contains("policy: trust.yaml"), "{}", text(&out.stderr));
    let written = std::fs::read(&file).unwrap();
    // Deterministic: a second run writes the same bytes.
    let again = countersign(dir, "customer.key", &["--output", "json"]);
    assert_eq!(again.status.code(), Some(0), "{}", text(&again.stderr));
    assert_eq!(std::fs::read(&file).unwrap(), written);
    let v: serde_json::Value = serde_json::from_slice(&again.stdout).unwrap();
    assert_eq!(v["countersigned"], true);
    assert_eq!(v["report"]["countersigner"], serde_json::json!({"kind": "key", "fingerprint": customer}));
    assert_eq!(v["report"]["countersignature"], format!("{ARCHIVE}.countersig/{}", name(&file)));

    // The archive and the vendor's sidecars are untouched, and sha256sum still agrees.
    assert_eq!(vendor_files(dir), before);
    let sums = Command::new("sha256sum").arg("-c").arg(format!("{ARCHIVE}.sha256")).current_dir(dir).output().unwrap();
    assert!(sums.status.success(), "{}", text(&sums.stdout));

    let ok = verify(dir, &[]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    let t = text(&ok.stdout);
    assert!(t.contains(&format!("✓ countersignature OK (key {customer}) over the same bom.json")), "{t}");
    assert!(t.contains("✓ detached signature OK") && t.contains("✓ sigstore bundle OK"), "{t}");
    assert!(t.contains("requirements met: all of [✓ signed by"), "{t}");
    let json = verify(dir, &["--output", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["report"]["countersigners"], serde_json::json!([{"kind": "key", "fingerprint": customer}]));
    assert_eq!(v["report"]["signer"]["fingerprint"], fingerprint(dir, "vendor.pub"));

    // The countersignature is a sigstore bundle over bom.json that verify-blob reads as cosign
    // verify-blob does, the air-gap way.
    let tar = Command::new("tar").args(["--zstd", "-xf", ARCHIVE, "bom.json"]).current_dir(dir).output().unwrap();
    assert!(tar.status.success(), "{}", text(&tar.stderr));
    let file_arg = file.to_str().unwrap();
    let blob = ["verify-blob", "bom.json", "--key", "customer.pub", "--bundle", file_arg, "--insecure-ignore-tlog"];
    let blob = genesis_in(dir, &blob, None);
    assert_eq!(blob.status.code(), Some(0), "{}", text(&blob.stderr));

    // bundle-loader counts it too, and extract carries it into the tree for verify --dir.
    let loader = Path::new(env!("CARGO_BIN_EXE_genesis")).with_file_name("bundle-loader");
    assert!(loader.exists(), "{} is missing: run the workspace's tests", loader.display());
    let loaded = Command::new(&loader)
        .args(["verify", ARCHIVE, "--policy", "trust.yaml", "--quiet", "--output", "json"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert_eq!(loaded.status.code(), Some(0), "{}", text(&loaded.stderr));
    let v: serde_json::Value = serde_json::from_slice(&loaded.stdout).unwrap();
    assert_eq!(v["report"]["countersigners"][0]["fingerprint"], customer);
    let extract = Command::new(&loader)
        .args(["extract", ARCHIVE, "--policy", "trust.yaml", "--quiet", "--output-dir", "tree"])
        .current_dir(dir)
        .output()
        .unwrap();
    assert_eq!(extract.status.code(), Some(0), "{}", text(&extract.stderr));
    assert_eq!(std::fs::read(dir.join("tree/countersig").join(name(&file))).unwrap(), written);
    let tree = genesis_in(dir, &["verify", "--dir", "tree", "--policy", "trust.yaml", "--quiet"], None);
    assert_eq!(tree.status.code(), Some(0), "{}", text(&tree.stderr));
    assert!(text(&tree.stdout).contains(&format!("✓ countersignature OK (key {customer})")), "{}", text(&tree.stdout));
    std::fs::remove_dir_all(dir.join("tree/countersig")).unwrap();
    let bare = genesis_in(dir, &["verify", "--dir", "tree", "--policy", "trust.yaml", "--quiet"], None);
    refused(&bare, &[not_signed.as_str()]);
}

/// The file name of `path`.
fn name(path: &Path) -> String {
    path.file_name().unwrap().to_string_lossy().into_owned()
}

/// A countersignature altered after it was written fails the verification naming it; one by
/// a key the policy does not take as a cosigner is left out, said in the refusal, and
/// `countersign` refuses that key; a cosign encrypted key countersigns too.
#[test]
fn a_tampered_or_untrusted_countersignature_never_counts() {
    let dir = setup();
    let dir = dir.path();
    let out = countersign(dir, "customer.key", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let file = countersignature_of(dir, "customer.pub");
    let written = std::fs::read_to_string(&file).unwrap();
    let mut bundle: serde_json::Value = serde_json::from_str(&written).unwrap();
    let signature = bundle["messageSignature"]["signature"].as_str().unwrap().to_owned();
    // Another valid signature by the same key, over other bytes.
    let other = genesis_trust::PrivateKey::from_pem_file(&dir.join("customer.key")).unwrap().sign(b"another bom");
    bundle["messageSignature"]["signature"] =
        String::from_utf8(genesis_trust::encode_signature(&other)).unwrap().into();
    assert_ne!(bundle["messageSignature"]["signature"].as_str(), Some(signature.as_str()));
    std::fs::write(&file, serde_json::to_vec_pretty(&bundle).unwrap()).unwrap();
    let named = name(&file);
    let said = [
        named.as_str(),
        "countersignature does not verify over this bundle's bom.json",
        "its signature does not match",
    ];
    refused(&verify(dir, &[]), &said);
    std::fs::write(&file, &written).unwrap();
    assert_eq!(verify(dir, &[]).status.code(), Some(0));

    // The customer's key not a cosigner: its countersignature counts for nothing, said as a
    // warning, and countersign refuses to make one; a policy requiring it would never be met,
    // and does not load.
    std::fs::write(dir.join("trust.yaml"), "keys: [vendor.pub]\nrequire: {signedBy: vendor.pub}\n").unwrap();
    let customer = fingerprint(dir, "customer.pub");
    let ignored = format!("countersignature by {customer} ignored: not a trusted cosigner");
    let ok = verify(dir, &[]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    let t = text(&ok.stdout);
    assert!(t.contains(&format!("\n! {ignored}\n")) && !t.contains(&format!("✓ policy: {ignored}")), "{t}");
    assert!(!t.contains("✓ countersignature OK"), "{t}");
    let json = verify(dir, &["--output", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["report"]["ignored"], serde_json::json!([ignored]));
    assert!(v["report"].get("countersigners").is_none(), "{v}");
    refused(&countersign(dir, "customer.key", &[]), &["is neither a cosigner nor a key of this policy"]);
    assert_eq!(std::fs::read_to_string(&file).unwrap(), written, "nothing was written");
    policy(dir, "");
    let unloadable = verify(dir, &[]);
    assert_eq!(unloadable.status.code(), Some(2), "{}", text(&unloadable.stderr));
    let never_met = format!("require: signedBy customer.pub: key {customer} is in neither keys nor cosigners");
    assert!(text(&unloadable.stderr).contains(&never_met), "{}", text(&unloadable.stderr));

    // A cosign encrypted key (password `hello`) countersigns as cosign would sign.
    std::fs::remove_dir_all(dir.join(format!("{ARCHIVE}.countersig"))).unwrap();
    let interop = fixtures().join("interop/cosign-key");
    std::fs::copy(interop.join("cosign.key"), dir.join("cosign.key")).unwrap();
    std::fs::copy(interop.join("cosign.pub"), dir.join("customer.pub")).unwrap();
    policy(dir, "cosigners: [{path: customer.pub, notAfter: '2999-01-01T00:00:00Z'}]\n");
    refused(&verify(dir, &[]), &["✗ not signed by"]);
    let args = ["countersign", ARCHIVE, "--key", "cosign.key", "--policy", "trust.yaml"];
    let out = genesis_in(dir, &args, Some("hello"));
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert!(countersignature_of(dir, "customer.pub").exists());
    assert_eq!(verify(dir, &[]).status.code(), Some(0));
}

/// Cosigners never stand in for the vendor: a bundle whose BOM the customer's key signed
/// inside the archive is refused, its countersignature beside it or not.
#[test]
fn a_bundle_signed_inside_by_a_cosigner_alone_is_refused() {
    let dir = setup();
    let dir = dir.path();
    std::fs::copy(fixtures().join("bundles/signed-by-other-key").join(ARCHIVE), dir.join(ARCHIVE)).unwrap();
    for sidecar in [".sha256", ".sig", ".cosign.bundle"] {
        std::fs::remove_file(dir.join(format!("{ARCHIVE}{sidecar}"))).unwrap();
    }
    refused(&verify(dir, &[]), &["BOM signature does not verify against any trusted key"]);
    refused(&countersign(dir, "customer.key", &[]), &["BOM signature does not verify against any trusted key"]);
    assert!(!dir.join(format!("{ARCHIVE}.countersig")).exists(), "nothing countersigned");
}

/// The vendor's own key countersigning would count for nothing, beside the signature it made
/// inside the archive: refused, nothing written.
#[test]
fn the_vendors_own_key_does_not_countersign() {
    let dir = setup();
    let dir = dir.path();
    std::fs::copy(fixtures().join("keys/test.key"), dir.join("vendor.key")).unwrap();
    std::fs::write(dir.join("trust.yaml"), "keys: [vendor.pub]\ncosigners: [customer.pub]\n").unwrap();
    let vendor = fingerprint(dir, "vendor.pub");
    let said = format!("key {vendor} signed this bundle's BOM inside the archive already");
    refused(&countersign(dir, "vendor.key", &[]), &[said.as_str()]);
    assert!(!countersignature_of(dir, "vendor.pub").exists(), "nothing countersigned");
}

/// Countersignatures are read where they are: a `.countersig` folder that is a symbolic link
/// is refused by `countersign` (nothing written where it leads) and by `verify`, and so is a
/// countersignature in the folder that is a link; the folder holds at most 64 entries.
#[test]
fn a_linked_countersignature_folder_or_file_is_refused_unfollowed() {
    let dir = setup();
    let dir = dir.path();
    let folder = dir.join(format!("{ARCHIVE}.countersig"));
    let elsewhere = dir.join("elsewhere");
    std::fs::create_dir(&elsewhere).unwrap();
    std::os::unix::fs::symlink(&elsewhere, &folder).unwrap();
    let link = "a symbolic link, refused without following it";
    refused(&countersign(dir, "customer.key", &[]), &[link]);
    assert_eq!(std::fs::read_dir(&elsewhere).unwrap().count(), 0, "nothing written where the link leads");
    refused(&verify(dir, &[]), &[link]);

    std::fs::remove_file(&folder).unwrap();
    let out = countersign(dir, "customer.key", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let file = countersignature_of(dir, "customer.pub");
    std::fs::rename(&file, elsewhere.join("moved")).unwrap();
    std::os::unix::fs::symlink(elsewhere.join("moved"), &file).unwrap();
    refused(&verify(dir, &[]), &[link, name(&file).as_str()]);
    refused(&countersign(dir, "customer.key", &[]), &[link]);

    std::fs::remove_file(&file).unwrap();
    std::fs::rename(elsewhere.join("moved"), &file).unwrap();
    assert_eq!(verify(dir, &[]).status.code(), Some(0));
    for n in 0..64 {
        std::fs::write(folder.join(format!(".partial-{n:02}")), b"").unwrap();
    }
    refused(&verify(dir, &[]), &["more than 64 entries, where at most 16 countersignatures belong"]);
}

/// A countersignature is bound to the exact BOM it signed: copied beside another bundle of
/// the same name and version, by the same vendor, it fails that bundle's verification,
/// naming it.
#[test]
fn a_countersignature_copied_beside_another_bundle_is_refused() {
    let dir = setup();
    let dir = dir.path();
    let out = countersign(dir, "customer.key", &[]);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let file = countersignature_of(dir, "customer.pub");

    // demo 0.1.0 built again at another date: another BOM, signed by the same vendor key.
    let build = dir.join("rebuild");
    std::fs::create_dir(&build).unwrap();
    for entry in ["bundle.yaml", "images", "charts", "manifests"] {
        let status = Command::new("cp").arg("-r").arg(fixtures().join(entry)).arg(&build).status().unwrap();
        assert!(status.success());
    }
    let spec = genesis_build::BundleSpec::load(&build.join("bundle.yaml")).unwrap();
    let key = genesis_trust::PrivateKey::from_pem_file(&fixtures().join("keys/test.key")).unwrap();
    let options = genesis_build::BuildOptions {
        source_date_epoch: Some(1_700_000_000),
        output_dir: Some(dir.join("other")),
        ..Default::default()
    };
    let other = genesis_build::build(&spec, &key, &options).unwrap().archive;
    assert_eq!(other, dir.join("other").join(ARCHIVE));
    let copied = dir.join(format!("other/{ARCHIVE}.countersig"));
    std::fs::create_dir(&copied).unwrap();
    std::fs::copy(&file, copied.join(name(&file))).unwrap();
    let out = genesis_in(dir, &["verify", &format!("other/{ARCHIVE}"), "--policy", "trust.yaml", "--quiet"], None);
    refused(&out, &[name(&file).as_str(), "countersignature does not verify over this bundle's bom.json"]);
}
