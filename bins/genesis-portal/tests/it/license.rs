//! Offline license files: issued by the vendor (admin command or API), verified by
//! `genesis license verify` with the vendor key and no network.

use base64::Engine as _;
use genesis_testkit::text;

use crate::{Backend, Client, Portal, fixtures};

fn verify(client: &Client, file: &std::path::Path, key: &str) -> std::process::Output {
    client.run(&["license", "verify", file.to_str().unwrap(), "--key", fixtures().join(key).to_str().unwrap()])
}

/// `license issue --org acme` signed by the fixture key, valid `days`, into `file`.
fn issue(portal: &Portal, file: &std::path::Path, days: &str) {
    let signing = fixtures().join("keys/test.key");
    let mut cmd = ["license", "issue", "--org", "acme", "--valid-days", days, "--out"].map(str::to_owned).to_vec();
    cmd.push(file.display().to_string());
    cmd.extend(["--signing-key".to_owned(), signing.display().to_string()]);
    portal.admin_ok(&cmd.iter().map(String::as_str).collect::<Vec<_>>());
}

#[test]
fn issued_license_files_verify_offline_and_refuse_other_keys_edits_and_expiry() {
    let portal = Portal::new(Backend::default());
    portal.admin_ok(&["org", "create", "acme"]);
    portal.admin_ok(&["entitle", "--org", "acme", "--versions", ">=3.2, <4"]);
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("acme.license.json");
    issue(&portal, &file, "365");
    let client = Client::new();

    let ok = verify(&client, &file, "keys/test.pub");
    assert!(ok.status.success(), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("for acme"), "{}", text(&ok.stdout));
    assert!(text(&ok.stdout).contains("entitled to genesis >=3.2, <4"));

    let other = verify(&client, &file, "keys/other.pub");
    assert_eq!(other.status.code(), Some(1));
    assert!(text(&other.stderr).contains("does not verify"), "{}", text(&other.stderr));

    let mut envelope: serde_json::Value = serde_json::from_slice(&std::fs::read(&file).unwrap()).unwrap();
    let engine = base64::engine::general_purpose::STANDARD;
    let mut payload: serde_json::Value =
        serde_json::from_slice(&engine.decode(envelope["payload"].as_str().unwrap()).unwrap()).unwrap();
    payload["entitlements"][0]["versions"] = "*".into();
    envelope["payload"] = engine.encode(serde_json::to_vec(&payload).unwrap()).into();
    let edited = dir.path().join("edited.json");
    std::fs::write(&edited, serde_json::to_vec(&envelope).unwrap()).unwrap();
    assert_eq!(verify(&client, &edited, "keys/test.pub").status.code(), Some(1));

    let expired = dir.path().join("expired.json");
    issue(&portal, &expired, "0");
    let late = verify(&client, &expired, "keys/test.pub");
    assert_eq!(late.status.code(), Some(1));
    assert!(text(&late.stderr).contains("expired on"), "{}", text(&late.stderr));
    assert!(text(&late.stderr).contains("installed clusters keep running"));
}

#[test]
fn the_portal_hands_out_the_license_of_the_keys_organisation() {
    let mut portal = Portal::new(Backend::default());
    let key = portal.org_with_key("acme", &["releases:read"]);
    portal.admin_ok(&["entitle", "--org", "acme", "--versions", "1.*"]);
    portal.serve();
    let client = Client::new();
    assert!(client.login(&portal.url(), &key).status.success());
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("license.json");
    let fetch = client.run(&["license", "fetch", "-o", file.to_str().unwrap()]);
    assert!(fetch.status.success(), "{}", text(&fetch.stderr));
    let json = client.run(&[
        "license",
        "verify",
        file.to_str().unwrap(),
        "--key",
        fixtures().join("keys/test.pub").to_str().unwrap(),
        "--output",
        "json",
    ]);
    let license: serde_json::Value = serde_json::from_slice(&json.stdout).unwrap();
    assert_eq!(license["org"], "acme");
    assert_eq!(license["entitlements"], serde_json::json!([{ "product": "genesis", "versions": "1.*" }]));
}
