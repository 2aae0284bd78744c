//! The portal over HTTPS: the client trusts the CA it is told to, and nothing else; a login
//! to another portal does not inherit the CA file or plain HTTP of the last one.

use genesis_testkit::pki::TlsPki;
use genesis_testkit::text;

use crate::{Backend, Client, Portal};

#[test]
fn the_client_pulls_over_https_trusting_only_the_given_ca() {
    let mut portal = Portal::new(Backend::default());
    let key = portal.org_with_key("acme", &["releases:read"]);
    let _files = portal.publish_demo("acme", &[]);
    let pki = TlsPki::write(portal.dir.path());
    portal.serve_with(&["--tls-cert", pki.valid.0.to_str().unwrap(), "--tls-key", pki.valid.1.to_str().unwrap()]);
    let url = format!("https://127.0.0.1:{}", portal.port);
    let client = Client::new();

    let untrusted = client.login(&url, &key);
    assert_eq!(untrusted.status.code(), Some(3), "{}", text(&untrusted.stderr));
    let other_ca = client
        .command()
        .args(["login", "--portal", &url, "--ca-file"])
        .arg(&pki.other_ca)
        .env("GENESIS_LICENSE_KEY", &key)
        .output()
        .unwrap();
    assert_eq!(other_ca.status.code(), Some(3), "a certificate from another CA is refused: {}", text(&other_ca.stderr));

    let login = client
        .command()
        .args(["login", "--portal", &url, "--ca-file"])
        .arg(&pki.ca)
        .env("GENESIS_LICENSE_KEY", &key)
        .output()
        .unwrap();
    assert!(login.status.success(), "{}", text(&login.stderr));
    let out = tempfile::tempdir().unwrap();
    let pull = client.run(&["pull", "0.1.0", "-o", out.path().to_str().unwrap()]);
    assert!(pull.status.success(), "the CA is remembered with the login: {}", text(&pull.stderr));
    assert!(out.path().join("demo-0.1.0.tar.zst").exists());
}

#[test]
fn a_new_portal_starts_from_the_secure_defaults() {
    let portals: Vec<_> = (0..2)
        .map(|_| {
            let mut portal = Portal::new(Backend::default());
            let key = portal.org_with_key("acme", &["releases:read"]);
            portal.serve();
            (portal, key)
        })
        .collect();
    let pki = TlsPki::write(portals[0].0.dir.path());
    let ca = pki.ca.to_str().unwrap();
    let client = Client::new();
    let login = |(portal, key): &(Portal, String), extra: &[&str]| {
        let out = client
            .command()
            .args(["login", "--portal", &portal.url()])
            .args(extra)
            .env("GENESIS_LICENSE_KEY", key)
            .output()
            .unwrap();
        assert!(out.status.success(), "{}", text(&out.stderr));
        let stored = std::fs::read(client.config.path().join("credentials.json")).unwrap();
        serde_json::from_slice::<serde_json::Value>(&stored).unwrap()
    };

    let first = login(&portals[0], &["--plain-http", "--ca-file", ca]);
    assert_eq!((first["plainHttp"].as_bool(), first["caFile"].as_str()), (Some(true), Some(ca)), "{first}");
    let again = login(&portals[0], &[]);
    assert_eq!(
        (again["plainHttp"].as_bool(), again["caFile"].as_str()),
        (Some(true), Some(ca)),
        "same portal: {again}"
    );
    let other = login(&portals[1], &[]);
    assert_eq!(other["plainHttp"], false, "another portal inherits plain HTTP: {other}");
    assert!(other["caFile"].is_null(), "another portal inherits the CA file: {other}");
}
