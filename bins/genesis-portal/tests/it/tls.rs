//! The portal over HTTPS: the client trusts the CA it is told to, and nothing else.

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
