//! License keys: expired, revoked, malformed and other organisations' keys are refused, a
//! refused login stores nothing, and a key whose one-time secret nobody could read is an error.

use std::process::Stdio;

use genesis_testkit::text;

use crate::{Backend, Client, Portal, status};

fn published_portal() -> (Portal, tempfile::TempDir) {
    let portal = Portal::new(Backend::default());
    let files = portal.publish_demo("acme", &[]);
    (portal, files)
}

#[test]
fn an_expired_key_is_refused_and_nothing_is_stored() {
    let (mut portal, _files) = published_portal();
    let expired = portal.admin_ok(&["key", "create", "--org", "acme", "--expires-in-days", "0"]).trim().to_owned();
    portal.serve();
    let client = Client::new();
    let login = client.login(&portal.url(), &expired);
    assert_eq!(login.status.code(), Some(1), "{}", text(&login.stderr));
    assert!(text(&login.stderr).contains("expired on"), "{}", text(&login.stderr));
    assert!(!client.config.path().join("credentials.json").exists());
    let (headers, body) = portal.curl(Some(&expired), "GET", "/v1/releases", &[]);
    assert_eq!(status(&headers), 401);
    assert!(text(&body).contains("ask the vendor for a new key"));
}

#[test]
fn a_revoked_key_stops_working_on_the_next_request() {
    let (mut portal, _files) = published_portal();
    let key = portal.admin_ok(&["key", "create", "--org", "acme"]).trim().to_owned();
    portal.serve();
    let client = Client::new();
    assert!(client.login(&portal.url(), &key).status.success());
    assert!(client.run(&["releases"]).status.success());
    let list = portal.admin_ok(&["key", "list", "--org", "acme"]);
    let id = list.split_whitespace().next().unwrap().to_owned();
    assert!(list.contains("active until"), "{list}");
    assert!(!list.contains(&key), "key list never shows a key");
    portal.admin_ok(&["key", "revoke", &id]);
    assert!(portal.admin_ok(&["key", "list", "--org", "acme"]).contains("revoked"));
    let refused = client.run(&["releases"]);
    assert_eq!(refused.status.code(), Some(1));
    assert!(text(&refused.stderr).contains(&format!("license key {id} was revoked")), "{}", text(&refused.stderr));
    let again = portal.admin(&["key", "revoke", &id]);
    assert!(!again.status.success(), "revoking twice says so");
}

#[test]
fn another_organisations_key_sees_none_of_its_releases() {
    let (mut portal, _files) = published_portal();
    let beta = portal.org_with_key("beta", &["releases:read"]);
    portal.serve();
    let (_, body) = portal.curl(Some(&beta), "GET", "/v1/releases", &[]);
    assert_eq!(serde_json::from_slice::<serde_json::Value>(&body).unwrap(), serde_json::json!([]));
    let (headers, _) = portal.curl(Some(&beta), "GET", "/v1/releases/genesis/0.1.0", &[]);
    assert_eq!(status(&headers), 403);
    let (headers, _) =
        portal.curl(Some("sk_acme_0123456789abcdef0123456789abcdef0123456789abcdef"), "GET", "/v1/releases", &[]);
    assert_eq!(status(&headers), 401, "a well-formed but unknown key");
}

#[test]
fn without_a_portal_or_with_a_malformed_key_nothing_is_contacted() {
    let client = Client::new();
    let releases = client.run(&["releases"]);
    assert_eq!(releases.status.code(), Some(2));
    assert!(
        text(&releases.stderr).contains("not logged in to a portal: run `genesis login --portal"),
        "{}",
        text(&releases.stderr)
    );
    assert!(!text(&releases.stderr).contains("contacts only"));
    let login = client.run(&["login"]);
    assert_eq!(login.status.code(), Some(2));
    assert!(text(&login.stderr).contains("no portal: pass --portal"), "{}", text(&login.stderr));
    let typo = client.login("http://127.0.0.1:9", "hello");
    assert_eq!(typo.status.code(), Some(2));
    assert!(text(&typo.stderr).contains("not a license key"), "{}", text(&typo.stderr));
    assert!(!text(&typo.stderr).contains("contacts only"), "refused before any connection");
    let org = Portal::new(Backend::default()).admin(&["org", "create", "Bad_Name"]);
    assert!(text(&org.stderr).contains("lower-case letters"), "{}", text(&org.stderr));
}

#[test]
fn login_reads_the_key_from_the_environment_and_stores_it_for_the_user_alone() {
    use std::os::unix::fs::PermissionsExt as _;
    let (mut portal, _files) = published_portal();
    let key = portal.admin_ok(&["key", "create", "--org", "acme"]).trim().to_owned();
    portal.serve();
    let client = Client::new();
    let login =
        client.command().args(["login", "--portal", &portal.url()]).env("GENESIS_LICENSE_KEY", &key).output().unwrap();
    assert!(login.status.success(), "{}", text(&login.stderr));
    let stored = client.config.path().join("credentials.json");
    assert_eq!(std::fs::metadata(&stored).unwrap().permissions().mode() & 0o777, 0o600);
    assert!(std::fs::read_to_string(&stored).unwrap().contains(&key));
    let logout = client.run(&["logout"]);
    assert!(logout.status.success());
    assert!(!stored.exists());
}

/// The key ids `key list --org acme` shows.
fn key_ids(portal: &Portal) -> Vec<String> {
    let list = portal.admin_ok(&["key", "list", "--org", "acme"]);
    list.lines().filter_map(|l| l.split_whitespace().next()).map(str::to_owned).collect()
}

#[test]
fn a_key_whose_secret_meets_a_closed_pipe_fails_the_command_and_names_the_key_to_revoke() {
    let portal = Portal::new(Backend::default());
    portal.admin_ok(&["org", "create", "acme"]);
    for output in ["text", "json"] {
        let before = key_ids(&portal);
        // As in `genesis-portal key create … | true` when `true` is done first.
        let (reader, writer) = std::io::pipe().unwrap();
        drop(reader);
        let out = portal
            .command()
            .args(["key", "create", "--org", "acme", "--output", output])
            .env("RUST_LOG", "off")
            .stdout(writer)
            .stderr(Stdio::piped())
            .output()
            .unwrap();
        let stderr = text(&out.stderr);
        assert!(!out.status.success(), "{output}: the secret was lost and the command succeeded: {stderr}");
        let created: Vec<String> = key_ids(&portal).into_iter().filter(|id| !before.contains(id)).collect();
        let [id] = created.as_slice() else { panic!("{output}: one key created, not {created:?}") };
        assert!(
            stderr.contains(&format!("key {id} was created but its secret could not be shown"))
                && stderr.contains(&format!("`genesis-portal key revoke {id}`")),
            "{output}: {stderr}"
        );
    }
}

#[test]
fn an_admin_token_is_shown_once_listed_never_and_revoked_by_id() {
    let portal = Portal::new(Backend::default());
    let token = portal.admin_ok(&["admin", "create", "--name", "alice"]).trim().to_owned();
    assert!(token.starts_with("gat_") && token.len() == 4 + 48, "{token}");
    let json = portal.admin_ok(&["admin", "create", "--name", "bob", "--output", "json"]);
    let bob: serde_json::Value = serde_json::from_str(&json).unwrap();
    assert!(bob["token"].as_str().unwrap().starts_with("gat_"), "{bob}");
    assert_eq!(bob["name"], "bob");
    let list = portal.admin_ok(&["admin", "list"]);
    assert!(
        !list.contains(&token) && !list.contains(bob["token"].as_str().unwrap()),
        "admin list shows a token: {list}"
    );
    let alice = list.lines().find(|l| l.contains("alice")).unwrap_or_else(|| panic!("{list}"));
    let id = alice.split_whitespace().next().unwrap().to_owned();
    assert!(id.starts_with("a_") && alice.contains("active since"), "{list}");
    assert_eq!(list.lines().count(), 2, "{list}");

    portal.admin_ok(&["admin", "revoke", &id]);
    let list = portal.admin_ok(&["admin", "list"]);
    assert!(list.lines().any(|l| l.starts_with(&id) && l.contains("revoked")), "{list}");
    let again = portal.admin(&["admin", "revoke", &id]);
    assert!(!again.status.success(), "revoking twice says so");
    assert!(text(&again.stderr).contains("genesis-portal admin list"), "{}", text(&again.stderr));
    let bad = portal.admin(&["admin", "create", "--name", "alice smith"]);
    assert!(text(&bad.stderr).contains("letters, digits"), "{}", text(&bad.stderr));
}

#[test]
fn a_key_is_listed_by_its_first_characters_never_whole() {
    let portal = Portal::new(Backend::default());
    let key = portal.org_with_key("acme", &["releases:read"]);
    let list = portal.admin_ok(&["key", "list", "--org", "acme"]);
    let prefix = &key[.."sk_acme_".len() + 6];
    assert!(list.contains(&format!("{prefix}…")), "{list}");
    assert!(!list.contains(&key), "key list never shows a key: {list}");
}
