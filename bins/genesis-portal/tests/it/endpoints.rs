//! Every admin command says first, on stderr and whatever `RUST_LOG` says, the network
//! endpoints it may contact: none on the embedded defaults, the database (where it connects,
//! never its password) when it is PostgreSQL.

use std::net::TcpListener;

use genesis_testkit::text;

use crate::{Backend, Portal};

/// The first line an admin command writes on stderr with every log filtered out, and its
/// output.
fn first_line(portal: &Portal, args: &[&str]) -> (String, std::process::Output) {
    let out = portal.command().args(args).env("RUST_LOG", "off").output().unwrap();
    (text(&out.stderr).lines().next().unwrap_or_default().to_owned(), out)
}

#[test]
fn an_admin_command_on_the_embedded_defaults_says_it_contacts_nothing() {
    let portal = Portal::new(Backend::default());
    let (line, out) = first_line(&portal, &["org", "create", "acme"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(line, "genesis-portal: network: this run contacts nothing");
    let (line, out) = first_line(&portal, &["key", "create", "--org", "acme", "--output", "json"]);
    assert!(out.status.success(), "{}", text(&out.stderr));
    assert_eq!(line, "genesis-portal: network: this run contacts nothing");
    let report: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(report["endpoints"], serde_json::json!([]), "{report}");
}

#[test]
fn an_admin_command_names_its_postgresql_database_first_without_the_password() {
    // A "database" that hangs up on every connection: the command fails at once, after
    // saying where it was going.
    let listener = TcpListener::bind("127.0.0.1:0").unwrap();
    let port = listener.local_addr().unwrap().port();
    std::thread::spawn(move || listener.incoming().for_each(drop));
    let announced = format!("postgres://genesis@127.0.0.1:{port}/portal");
    for database_url in [
        format!("postgres://genesis:s3cret@127.0.0.1:{port}/portal"),
        // Password parameters are left out; the host and port parameters, which are where
        // sqlx connects, are what is named.
        format!(
            "postgres://genesis@db.example.invalid:5432/portal?password=s3cret&sslpassword=s3cret&host=127.0.0.1&port={port}"
        ),
    ] {
        let portal = Portal::new(Backend { database_url: Some(database_url.clone()), ..Backend::default() });
        let (line, out) = first_line(&portal, &["org", "list"]);
        assert!(!out.status.success(), "{database_url}");
        assert_eq!(line, format!("genesis-portal: network: this run contacts only {announced}"), "{database_url}");
        assert!(!text(&out.stderr).contains("s3cret"), "{database_url}: {}", text(&out.stderr));
    }
}
