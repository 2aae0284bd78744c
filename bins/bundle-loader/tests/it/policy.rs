//! The operator's trust policy file: accepted names and versions, anti-rollback against the
//! last installed version (and its BOM's BLAKE3 fingerprint, with its signer and SHA-256 for
//! audits), required attestations and signers, keys' validity windows, bundles' signed
//! expiry, and the BLAKE3 fingerprint reported for audits.

use std::path::{Path, PathBuf};
use std::process::Command;

use crate::{case, fixtures, loader, text};

fn policy(dir: &Path, extra: &str) -> PathBuf {
    let path = dir.join("trust.yaml");
    std::fs::write(&path, format!("keys: ['{}']\n{extra}", fixtures().join("keys/test.pub").display())).unwrap();
    path
}

fn verify(bundle: &Path, policy: &Path) -> std::process::Output {
    loader(&["verify", bundle.to_str().unwrap(), "--policy", policy.to_str().unwrap()])
}

#[test]
fn names_and_versions_are_checked_after_the_signature() {
    let dir = tempfile::tempdir().unwrap();
    let ok = verify(&case("good"), &policy(dir.path(), "names: ['dem*']\nversions: '>=0.1.0, <1.0.0'\n"));
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("✓ policy: name demo accepted"), "{}", text(&ok.stdout));
    assert!(text(&ok.stdout).contains("✓ policy: version 0.1.0 within"), "{}", text(&ok.stdout));

    let name = verify(&case("good"), &policy(dir.path(), "names: ['genesis-*']\n"));
    assert_eq!(name.status.code(), Some(1), "{}", text(&name.stderr));
    assert!(text(&name.stderr).contains("policy refuses the bundle (names)"), "{}", text(&name.stderr));

    let version = verify(&case("good"), &policy(dir.path(), "versions: '>=1.0.0'\n"));
    assert_eq!(version.status.code(), Some(1), "{}", text(&version.stderr));
    assert!(text(&version.stderr).contains("0.1.0 is outside >=1.0.0"), "{}", text(&version.stderr));

    let typo = verify(&case("good"), &policy(dir.path(), "version: '>=1.0.0'\n"));
    assert_eq!(typo.status.code(), Some(2), "{}", text(&typo.stderr));
    assert!(text(&typo.stderr).contains("unknown field `version`"), "{}", text(&typo.stderr));
}

/// The demo bundle rebuilt at another version, signed with the fixture key (also used by the
/// loader's cluster anti-rollback test).
pub fn demo_at(version: &str, dir: &Path) -> PathBuf {
    demo_built(dir, version, None)
}

/// The demo bundle rebuilt at `version` (and `SOURCE_DATE_EPOCH`), signed with the fixture key.
fn demo_built(dir: &Path, version: &str, epoch: Option<u64>) -> PathBuf {
    demo_built_with(dir, version, genesis_build::BuildOptions { source_date_epoch: epoch, ..Default::default() })
}

/// The demo bundle rebuilt at `version` with `options`, into `dir/out`, signed with the
/// fixture key.
fn demo_built_with(dir: &Path, version: &str, options: genesis_build::BuildOptions) -> PathBuf {
    for entry in ["bundle.yaml", "images", "charts", "manifests"] {
        let status = Command::new("cp").arg("-r").arg(fixtures().join(entry)).arg(dir).status().unwrap();
        assert!(status.success());
    }
    let spec = dir.join("bundle.yaml");
    let text = std::fs::read_to_string(&spec).unwrap().replace("version: 0.1.0", &format!("version: {version}"));
    std::fs::write(&spec, text).unwrap();
    let spec = genesis_build::BundleSpec::load(&spec).unwrap();
    let key = genesis_trust::PrivateKey::from_pem_file(&fixtures().join("keys/test.key")).unwrap();
    let options = genesis_build::BuildOptions { output_dir: Some(dir.join("out")), ..options };
    genesis_build::build(&spec, &key, &options).unwrap().archive
}

#[test]
fn anti_rollback_refuses_an_older_version_than_the_installed_one() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy(dir.path(), "antiRollback: {state: installed.json}\n");
    let first = loader(&[
        "extract",
        case("good").to_str().unwrap(),
        "--policy",
        policy.to_str().unwrap(),
        "--output-dir",
        dir.path().join("x").to_str().unwrap(),
    ]);
    assert_eq!(first.status.code(), Some(0), "{}", text(&first.stderr));
    let state: serde_json::Value =
        serde_json::from_slice(&std::fs::read(dir.path().join("installed.json")).unwrap()).unwrap();
    assert_eq!(state["bundles"]["demo"]["version"], "0.1.0");
    // Which key signed it and the BOM's SHA-256 and BLAKE3, for an audit without verifying again.
    let signer = genesis_trust::PublicKey::from_pem_file(&crate::test_pub()).unwrap().fingerprint();
    assert_eq!(state["bundles"]["demo"]["signers"], serde_json::json!([{"kind": "key", "fingerprint": signer}]));
    let bom = crate::bom_bytes(&case("good"));
    assert_eq!(state["bundles"]["demo"]["bomSha256"], genesis_bundle::sha256(&bom).to_string());
    assert_eq!(state["bundles"]["demo"]["bomBlake3"], crate::b3sum(&bom));

    let older_dir = tempfile::tempdir().unwrap();
    let older = demo_at("0.0.9", older_dir.path());
    let refused = verify(&older, &policy);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert!(
        text(&refused.stderr).contains("demo 0.0.9 is older than the installed 0.1.0"),
        "{}",
        text(&refused.stderr)
    );

    let same = verify(&case("good"), &policy);
    assert_eq!(same.status.code(), Some(0), "{}", text(&same.stderr));
    assert!(text(&same.stdout).contains("not a rollback: installed 0.1.0"), "{}", text(&same.stdout));

    // The installed version re-released with other content: its BOM's BLAKE3 differs.
    let rerelease_dir = tempfile::tempdir().unwrap();
    let rerelease = demo_built(rerelease_dir.path(), "0.1.0", Some(1_700_000_000));
    let refused = verify(&rerelease, &policy);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("same version, different content"), "{}", text(&refused.stderr));
}

/// An empty anti-rollback state (what a crash during a non-atomic write left) is not "nothing
/// installed": every bundle is refused, with the file named and the way out.
#[test]
fn an_unreadable_anti_rollback_state_refuses_every_bundle_naming_the_file() {
    let dir = tempfile::tempdir().unwrap();
    let policy = policy(dir.path(), "antiRollback: {state: installed.json}\n");
    let state = dir.path().join("installed.json");
    std::fs::write(&state, b"").unwrap();
    let refused = verify(&case("good"), &policy);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    let stderr = text(&refused.stderr);
    assert!(stderr.contains(&format!("the state {} is unreadable", state.display())), "{stderr}");
    assert!(stderr.contains("restore it from a backup"), "{stderr}");
    assert_eq!(std::fs::read(&state).unwrap(), b"", "the state is left for the operator");
}

#[test]
fn an_empty_requirement_list_in_the_policy_is_refused_naming_the_field() {
    let dir = tempfile::tempdir().unwrap();
    for (require, why) in
        [("{allOf: []}", "require: allOf is empty"), ("[]", "require: a list of requirements is empty")]
    {
        let refused = verify(&case("good"), &policy(dir.path(), &format!("require: {require}\n")));
        assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
        assert!(text(&refused.stderr).contains(why), "{}", text(&refused.stderr));
    }
}

#[test]
fn required_attestations_and_signers_are_judged_with_their_evidence() {
    let dir = tempfile::tempdir().unwrap();
    let key = genesis_trust::PublicKey::from_pem_file(&fixtures().join("keys/test.pub")).unwrap().fingerprint();
    let other_pub = fixtures().join("keys/other.pub");
    let other = genesis_trust::PublicKey::from_pem_file(&other_pub).unwrap().fingerprint();
    let cosigner = format!("cosigners: ['{}']\n", other_pub.display());
    let ok = verify(
        &case("good"),
        &policy(
            dir.path(),
            &format!(
                "{cosigner}require: [sbom, {{threshold: 2, of: [provenance, {{signedBy: '{key}'}}, {{signedBy: '{other}'}}]}}]\n"
            ),
        ),
    );
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert!(
        text(&ok.stdout).contains("✓ policy: requirements met: all of [✓ SBOM present; ✓ 2 of 3 held"),
        "{}",
        text(&ok.stdout)
    );

    let unmet = verify(&case("good"), &policy(dir.path(), &format!("{cosigner}require: [{{signedBy: '{other}'}}]\n")));
    assert_eq!(unmet.status.code(), Some(1), "{}", text(&unmet.stderr));
    assert!(text(&unmet.stderr).contains("policy refuses the bundle (require)"), "{}", text(&unmet.stderr));
    assert!(text(&unmet.stderr).contains(&format!("✗ not signed by {other}")), "{}", text(&unmet.stderr));

    // A signer no signature could ever meet is a mistake in the policy, refused as it loads.
    let never = verify(&case("good"), &policy(dir.path(), "require: [{signedBy: 'SHA256:someone-else'}]\n"));
    assert_eq!(never.status.code(), Some(2), "{}", text(&never.stderr));
    assert!(
        text(&never.stderr).contains("require: signedBy SHA256:someone-else: not a key fingerprint"),
        "{}",
        text(&never.stderr)
    );
}

#[test]
fn the_bom_fingerprint_is_its_blake3_as_b3sum_computes_it() {
    let out = loader(&[
        "verify",
        case("good").to_str().unwrap(),
        "--key",
        crate::test_pub().to_str().unwrap(),
        "--output",
        "json",
    ]);
    let v: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let ours = v["report"]["bomBlake3"].as_str().unwrap().to_owned();
    let bom = Command::new("tar").args(["--zstd", "-xOf"]).arg(case("good")).arg("bom.json").output().unwrap();
    assert!(bom.status.success());
    assert_eq!(crate::b3sum(&bom.stdout), ours);
}

/// A policy trusting the fixture key inside a window of its own (`notBefore`, `notAfter`),
/// in the mapping form of `keys`.
fn windowed_policy(dir: &Path, window: &str) -> PathBuf {
    let path = dir.join("trust.yaml");
    let key = fixtures().join("keys/test.pub");
    std::fs::write(&path, format!("keys:\n  - {{ path: '{}', {window} }}\n", key.display())).unwrap();
    path
}

/// Seed 002: a key outside its window verifies nothing. The good fixture, signed by the
/// fixture key, is refused once the key's notAfter has passed or before its notBefore, with
/// exit code 1 and an error naming the key (fingerprint and file) and the date; inside the
/// window it verifies.
#[test]
fn a_key_outside_its_validity_window_verifies_nothing_naming_the_key_and_the_date() {
    let dir = tempfile::tempdir().unwrap();
    let fingerprint = genesis_trust::PublicKey::from_pem_file(&crate::test_pub()).unwrap().fingerprint().to_string();
    for (window, bound, date) in [
        ("notAfter: '2001-01-01T00:00:00Z'", "notAfter", "2001-01-01T00:00:00Z"),
        ("notBefore: '2999-01-01T00:00:00Z'", "notBefore", "2999-01-01T00:00:00Z"),
    ] {
        let refused = verify(&case("good"), &windowed_policy(dir.path(), window));
        assert_eq!(refused.status.code(), Some(1), "{window}: {}", text(&refused.stderr));
        let stderr = text(&refused.stderr);
        for named in [fingerprint.as_str(), "keys/test.pub", bound, date] {
            assert!(stderr.contains(named), "{window}: {named} not in {stderr}");
        }
        let target = dir.path().join("x");
        let extract = loader(&[
            "extract",
            case("good").to_str().unwrap(),
            "--policy",
            dir.path().join("trust.yaml").to_str().unwrap(),
            "--output-dir",
            target.to_str().unwrap(),
        ]);
        assert_eq!(extract.status.code(), Some(1), "{window}: {}", text(&extract.stderr));
        assert!(!target.exists(), "{window}: nothing is extracted with an expired key");
    }
    let inside = verify(
        &case("good"),
        &windowed_policy(dir.path(), "notBefore: '2000-01-01T00:00:00Z', notAfter: '2999-01-01T00:00:00Z'"),
    );
    assert_eq!(inside.status.code(), Some(0), "{}", text(&inside.stderr));
}

/// The demo bundle built at `SOURCE_DATE_EPOCH` `epoch` with `--expires` `expires`.
fn demo_expiring(dir: &Path, epoch: u64, expires: &str) -> PathBuf {
    let expires: genesis_build::Expiry = expires.parse().unwrap();
    let options =
        genesis_build::BuildOptions { source_date_epoch: Some(epoch), expires: Some(expires), ..Default::default() };
    demo_built_with(dir, "0.1.0", options)
}

/// A bundle built in 1970 to expire a day later (`SOURCE_DATE_EPOCH=86400`, `--expires 1d`)
/// is refused, after its signature verified, naming the date its signed BOM states; one
/// expiring in 2999 verifies, and the report shows its expiry in text and JSON.
#[test]
fn a_bundle_past_its_signed_expiry_is_refused_naming_the_date() {
    let dir = tempfile::tempdir().unwrap();
    let expired = demo_expiring(dir.path(), 86_400, "1d");
    assert_eq!(crate::bom_of(&expired)["expires"], "1970-01-03T00:00:00Z");
    let refused = crate::verify(&expired, &[]);
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("the bundle expired at 1970-01-03T00:00:00Z"), "{}", text(&refused.stderr));
    let json = crate::verify(&expired, &["--output", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["verified"], false);
    assert!(v["error"].as_str().unwrap().contains("expired at 1970-01-03T00:00:00Z"), "{v}");

    let later = tempfile::tempdir().unwrap();
    let current = demo_expiring(later.path(), 1_700_000_000, "2999-01-01T00:00:00Z");
    let ok = crate::verify(&current, &[]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert!(
        text(&ok.stdout).contains("✓ not expired (the signed BOM expires 2999-01-01T00:00:00Z)"),
        "{}",
        text(&ok.stdout)
    );
    let json = crate::verify(&current, &["--output", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(v["verified"], true, "{v}");
    assert_eq!(v["report"]["expires"], "2999-01-01T00:00:00Z", "{v}");
    // A bundle built without --expires has none in its BOM or its report.
    let plain = crate::verify(&case("good"), &["--output", "json"]);
    let v: serde_json::Value = serde_json::from_slice(&plain.stdout).unwrap();
    assert!(v["report"].get("expires").is_none(), "{v}");
    assert!(crate::bom_of(&case("good")).get("expires").is_none());
}
