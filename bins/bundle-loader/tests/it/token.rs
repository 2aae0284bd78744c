//! Bearer-token authentication against Distribution configured with `auth: token`: the
//! registry answers 401 with a Bearer challenge, the client fetches a token from the realm
//! (a token server this test runs, issuing ES256 JWTs with an x5c chain the registry trusts)
//! and retries. The token server checks the client's basic credentials, as real ones do; a
//! realm on plain HTTP gets them only when plain HTTP is enabled.

use std::io::{BufRead, BufReader, Write};
use std::net::TcpListener;

use base64::Engine as _;
use base64::engine::general_purpose::{STANDARD, URL_SAFE_NO_PAD};
use genesis_testkit::http::{StandIn, respond};
use p256::ecdsa::signature::Signer;

use crate::{case, text};

/// A token server on loopback: `GET /token?…` with basic `genesis:s3cret` gets a JWT for the
/// requested scope; anything else gets 401.
fn token_server(key_pem: &str, cert_der: Vec<u8>) -> u16 {
    use p256::pkcs8::DecodePrivateKey;
    let key = p256::ecdsa::SigningKey::from_pkcs8_pem(key_pem).unwrap();
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || {
        for stream in listener.incoming() {
            let Ok(mut stream) = stream else { return };
            let mut reader = BufReader::new(stream.try_clone().unwrap());
            let mut request_line = String::new();
            reader.read_line(&mut request_line).unwrap();
            let mut authorized = false;
            loop {
                let mut line = String::new();
                reader.read_line(&mut line).unwrap();
                if line.trim().is_empty() {
                    break;
                }
                if line.to_ascii_lowercase().starts_with("authorization: basic ") {
                    authorized = line.trim().ends_with(&STANDARD.encode("genesis:s3cret"));
                }
            }
            if !authorized {
                let _ =
                    stream.write_all(b"HTTP/1.1 401 Unauthorized\r\nContent-Length: 0\r\nConnection: close\r\n\r\n");
                continue;
            }
            let query = request_line
                .split_whitespace()
                .nth(1)
                .unwrap_or_default()
                .split_once('?')
                .map_or("", |(_, q)| q)
                .to_owned();
            let param = |name: &str| {
                query
                    .split('&')
                    .find_map(|kv| kv.strip_prefix(&format!("{name}=")))
                    .map(|v| v.replace("%3A", ":").replace("%2F", "/").replace("%2C", ","))
            };
            let access: Vec<serde_json::Value> = param("scope")
                .into_iter()
                .filter_map(|s| {
                    let mut parts = s.splitn(3, ':');
                    let (kind, name, actions) = (parts.next()?, parts.next()?, parts.next()?);
                    Some(serde_json::json!({"type": kind, "name": name, "actions": actions.split(',').collect::<Vec<_>>()}))
                })
                .collect();
            let now = std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).unwrap().as_secs();
            let header = serde_json::json!({"typ": "JWT", "alg": "ES256", "x5c": [STANDARD.encode(&cert_der)]});
            let claims = serde_json::json!({
                "iss": "genesis-test-issuer", "sub": "genesis", "aud": param("service").unwrap_or_default(),
                "exp": now + 300, "nbf": now - 10, "iat": now, "jti": format!("{now}"), "access": access
            });
            let signing_input = format!(
                "{}.{}",
                URL_SAFE_NO_PAD.encode(header.to_string()),
                URL_SAFE_NO_PAD.encode(claims.to_string())
            );
            let signature: p256::ecdsa::Signature = key.sign(signing_input.as_bytes());
            let token = format!("{signing_input}.{}", URL_SAFE_NO_PAD.encode(signature.to_bytes()));
            let body = serde_json::json!({"token": token}).to_string();
            let _ = stream.write_all(format!("HTTP/1.1 200 OK\r\nContent-Type: application/json\r\nContent-Length: {}\r\nConnection: close\r\n\r\n{body}", body.len()).as_bytes());
        }
    });
    port
}

#[test]
fn bearer_tokens_from_the_registrys_realm() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    genesis_testkit::self_signed_p256(d, "token", "/CN=genesis-test-issuer");
    genesis_testkit::openssl(d, &["x509", "-in", "token.crt", "-outform", "DER", "-out", "token.der"]);
    let port = token_server(
        &std::fs::read_to_string(d.join("token.key")).unwrap(),
        std::fs::read(d.join("token.der")).unwrap(),
    );
    let auth = format!(
        "auth:\n  token: {{realm: 'http://127.0.0.1:{port}/token', service: genesis-registry, issuer: genesis-test-issuer, rootcertbundle: {}}}\n",
        d.join("token.crt").display()
    );
    let registry = genesis_testkit::Distribution::start_configured(None, &auth);
    let load = |extra: &[&str]| {
        crate::load_into(
            &case("good"),
            &registry.host(),
            &[&["--plain-http", "--quiet", "--retries", "1"][..], extra].concat(),
        )
    };

    let anonymous = load(&[]);
    assert_eq!(anonymous.status.code(), Some(3), "{}", text(&anonymous.stderr));
    assert!(text(&anonymous.stderr).contains("token endpoint"), "{}", text(&anonymous.stderr));

    let ok = load(&["--username", "genesis", "--password", "s3cret", "--output", "json"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    let v: serde_json::Value = serde_json::from_slice(&ok.stdout).unwrap();
    assert_eq!(v["images"][0]["blobs"]["uploaded"], 4);
    // The token service is on a host the command line does not name: the run names it.
    let realm = format!("http://127.0.0.1:{port}");
    let announced =
        format!("bundle-loader: network: contacting token service {realm} named by registry {}", registry.host());
    assert_eq!(text(&ok.stderr).matches(&announced).count(), 1, "{}", text(&ok.stderr));
    assert!(v["endpoints"].as_array().unwrap().contains(&serde_json::json!(realm)), "{v}");
}

#[test]
fn a_plain_http_token_realm_of_a_tls_registry_gets_no_credentials() {
    let dir = tempfile::tempdir().unwrap();
    let d = dir.path();
    let (ca, cert, key) = genesis_testkit::test_pki(d);
    genesis_testkit::self_signed_p256(d, "token", "/CN=genesis-test-issuer");
    let realm = StandIn::start(|_, conn| respond(conn, "401 Unauthorized", &[], b""));
    let auth = format!(
        "auth:\n  token: {{realm: '{}/token', service: genesis-registry, issuer: genesis-test-issuer, rootcertbundle: {}}}\n",
        realm.url(),
        d.join("token.crt").display()
    );
    let registry = genesis_testkit::Distribution::start_configured(Some((cert, key)), &auth);

    let out = crate::load_into(
        &case("good"),
        &registry.host(),
        &["--ca-file", ca.to_str().unwrap(), "--username", "genesis", "--password", "s3cret", "--quiet"],
    );
    assert!(!out.status.success(), "{}", text(&out.stderr));
    let refusal = format!("refusing the token realm {}/token", realm.url());
    assert!(text(&out.stderr).contains(&refusal), "{}", text(&out.stderr));
    assert!(realm.seen().is_empty(), "the credentials went over plain HTTP: {:?}", realm.seen());
}
