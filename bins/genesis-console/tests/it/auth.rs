//! Signing in and out, sessions, CSRF, refusals, TLS and the console's start: people are
//! ServiceAccounts with a token from the TokenRequest API, reviewed by the real API server.

use std::time::{Duration, Instant};

use genesis_testkit::kube::KubeApiserver;
use genesis_testkit::pki::TlsPki;
use genesis_testkit::{free_port, text};
use serde_json::json;

use crate::status::cluster_role;
use crate::{
    Browserless, Console, Reply, apply, console_command, delete_user, install_console_rbac, unbind, user_name,
    user_token,
};

/// The session cookie's `Set-Cookie` of a reply, split at its attributes.
fn session_cookie<'a>(reply: &'a Reply, name: &str) -> Vec<&'a str> {
    let set = reply.cookies_set().into_iter().find(|c| c.starts_with(&format!("{name}=")));
    set.unwrap_or_else(|| panic!("no Set-Cookie {name}: {}", reply.head)).split(';').map(str::trim).collect()
}

/// The console's stderr and every `Location` a test saw hold none of `tokens`.
fn nowhere(console: &Console, locations: &[&Reply], tokens: &[&str]) {
    let stderr = console.stderr();
    for token in tokens {
        assert!(!stderr.contains(token), "a token is in the console's log: {stderr}");
        for reply in locations {
            assert!(!reply.head.contains(token), "a token is in a header: {}", reply.head);
        }
    }
}

#[test]
fn a_good_token_signs_in_to_the_first_tab_and_a_bad_one_gets_the_api_server_s_reason() {
    let api = KubeApiserver::start();
    install_console_rbac(&api);
    let token = user_token(&api, "alice", "genesis-console-operator");
    let console = Console::start(&api, &[]);

    // The egress line first: the API server, and where the credentials come from.
    let stderr = console.stderr();
    let egress = stderr.lines().next().unwrap_or_default();
    let api_server = format!("https://127.0.0.1:{}/ (kubeconfig ", api.port);
    assert!(egress.starts_with("genesis-console: network: this run contacts only "), "{stderr}");
    assert!(egress.contains(&api_server), "{egress}");

    // Signed out, every tab leads to the sign-in page, which posts the token in its body.
    let browser = Browserless::new(&console);
    for tab in ["/", "/preflight", "/bundles", "/status", "/support"] {
        let reply = browser.get(tab);
        assert_eq!(reply.status(), 303, "{tab}: {}", reply.head);
        let to = if tab == "/" { "/preflight" } else { "/sign-in" };
        assert_eq!(reply.location(), Some(to), "{tab}");
    }
    let form = browser.get("/sign-in");
    let page = form.text().unwrap();
    assert!(page.contains(r#"<form id="sign-in-form" method="post" action="/sign-in">"#), "{page}");
    assert!(page.contains(r#"type="password" name="token" id="token" autocomplete="off""#), "{page}");

    // A token the API server does not accept: 401, its reason, no session, the token not
    // shown back.
    let bad = "not-a-token-of-this-cluster";
    let refused = browser.try_sign_in(bad);
    assert_eq!(refused.status(), 401, "{}", refused.head);
    let page = refused.text().unwrap();
    assert!(page.contains(r#"id="sign-in-error""#), "{page}");
    assert!(page.contains("The API server did not accept this token: "), "{page}");
    assert!(!page.contains(bad), "{page}");
    assert!(!refused.cookies_set().iter().any(|c| c.starts_with("genesis-console=")), "{}", refused.head);

    // A token the API server accepts, of an account that may not use the console (no
    // `get consoles`): 403 naming the right, and no session, so it takes no one's place.
    let rule = json!([{"apiGroups": [""], "resources": ["namespaces"], "verbs": ["get"]}]);
    apply(&api, vec![cluster_role("no-console", rule)]);
    let outsider = user_token(&api, "mallory", "no-console");
    let outside = browser.try_sign_in(&outsider);
    assert_eq!(outside.status(), 403, "{}", outside.head);
    let page = outside.text().unwrap();
    assert!(page.contains(r#"id="sign-in-error""#), "{page}");
    assert!(
        page.contains(&user_name("mallory")) && page.contains("get consoles.console.genesis.dev in genesis"),
        "{page}"
    );
    assert!(!page.contains(&outsider), "{page}");
    assert!(!outside.cookies_set().iter().any(|c| c.starts_with("genesis-console=")), "{}", outside.head);
    assert_eq!(browser.get("/preflight").location(), Some("/sign-in"), "not signed in");

    // The operator's token: a session cookie, HttpOnly and SameSite=Strict (not Secure over
    // plain HTTP), then the first tab with the user the API server named in the header.
    let signed = browser.try_sign_in(&token);
    assert_eq!(signed.status(), 303, "{}{}", signed.head, signed.text().unwrap_or_default());
    assert_eq!(signed.location(), Some("/"));
    let cookie = session_cookie(&signed, "genesis-console");
    for attribute in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(&attribute), "{attribute}: {cookie:?}");
    }
    assert!(!cookie.contains(&"Secure"), "{cookie:?}");
    let first = browser.get("/");
    assert_eq!(first.status(), 303);
    assert_eq!(first.location(), Some("/preflight"));
    let tab = browser.get("/preflight");
    assert_eq!(tab.status(), 200, "{}", tab.head);
    let page = tab.text().unwrap();
    assert!(page.contains(&format!(r#"<span id="user">{}</span>"#, user_name("alice"))), "{page}");
    assert!(page.contains(r#"<a id="tab-preflight" href="/preflight" aria-current="page">"#), "{page}");
    assert!(!page.contains(&token), "the page shows the token");
    assert_eq!(tab.headers()["cache-control"], "no-store");

    nowhere(&console, &[&form, &refused, &outside, &signed, &first, &tab], &[&token, bad, &outsider]);
}

#[test]
fn a_deleted_service_account_is_signed_out_at_its_next_request_after_the_review_interval() {
    let api = KubeApiserver::start();
    install_console_rbac(&api);
    let token = user_token(&api, "bob", "genesis-console-viewer");
    let console = Console::start(&api, &["--review-interval-seconds", "2"]);
    let browser = Browserless::sign_in(&console, &token);
    assert_eq!(browser.get("/preflight").status(), 200);

    delete_user(&api, "bob");
    // The API server itself accepts a token it authenticated for 10 s more (its token cache);
    // after that, the console's next review of it, due every 2 s here, ends the session.
    let start = Instant::now();
    let ended = loop {
        let reply = browser.get("/preflight");
        if reply.status() == 303 {
            break reply;
        }
        assert_eq!(reply.status(), 200, "{}", reply.head);
        assert!(start.elapsed() < Duration::from_secs(30), "the session outlived its ServiceAccount");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(ended.location(), Some("/sign-in"));
    let flash = session_cookie(&ended, "genesis-console-flash");
    assert_eq!(flash[0], "genesis-console-flash=refused");
    let page = browser.get("/sign-in").text().unwrap();
    assert!(page.contains(r#"id="session-ended""#), "{page}");
    assert!(page.contains("its ServiceAccount was deleted"), "{page}");
    // Said once: the next sign-in page no longer says it.
    assert!(!browser.get("/sign-in").text().unwrap().contains("session-ended"));
    // The session is gone for good, even once the API server forgets the token.
    assert_eq!(browser.get("/preflight").location(), Some("/sign-in"));
    nowhere(&console, &[&ended], &[&token]);
}

#[test]
fn an_account_that_loses_the_right_to_use_the_console_is_signed_out_at_its_next_review() {
    let api = KubeApiserver::start();
    install_console_rbac(&api);
    let token = user_token(&api, "grace", "genesis-console-viewer");
    let console = Console::start(&api, &["--review-interval-seconds", "2"]);
    let browser = Browserless::sign_in(&console, &token);
    assert_eq!(browser.get("/preflight").status(), 200);

    // Her Role in the console's namespace unbound: no `get consoles` any more (nor `get
    // preflights`, refused at once), while her token stays good. The console's next review of
    // the session, due every 2 s here, asks for the right again and ends the session.
    unbind(&api, "grace", "genesis-console-viewer", "genesis");
    let start = Instant::now();
    let ended = loop {
        let reply = browser.get("/preflight");
        if reply.status() == 303 {
            break reply;
        }
        assert!(matches!(reply.status().as_u16(), 200 | 403), "{}", reply.head);
        assert!(start.elapsed() < Duration::from_secs(30), "the session outlived the right to use the console");
        std::thread::sleep(Duration::from_millis(500));
    };
    assert_eq!(ended.location(), Some("/sign-in"));
    let flash = session_cookie(&ended, "genesis-console-flash");
    assert_eq!(flash[0], "genesis-console-flash=no-right");
    let page = browser.get("/sign-in").text().unwrap();
    assert!(page.contains(r#"id="session-ended""#), "{page}");
    assert!(page.contains("your account may no longer use this console"), "{page}");
    assert_eq!(browser.get("/preflight").location(), Some("/sign-in"), "the session is gone");
    let stderr = console.stderr();
    assert!(stderr.contains("session ended: the account may no longer use the console"), "{stderr}");
    // Signing in again is refused as for any account without the right.
    let again = browser.try_sign_in(&token);
    assert_eq!(again.status(), 403, "{}", again.head);
    assert!(!again.cookies_set().iter().any(|c| c.starts_with("genesis-console=")), "{}", again.head);
    nowhere(&console, &[&ended, &again], &[&token]);
}

#[test]
fn forms_need_the_session_token_from_this_console_and_a_viewer_is_refused_running_checks() {
    let api = KubeApiserver::start();
    install_console_rbac(&api);
    let token = user_token(&api, "carol", "genesis-console-viewer");
    let console = Console::start(&api, &[]);
    let browser = Browserless::sign_in(&console, &token);
    let csrf = browser.csrf();

    // A viewer may see the Pre-flight tab but not run it: 403, naming the right and the
    // ClusterRole that grants it, with the signed-in header kept.
    let refused = browser.post_form("/preflight/run", &[]);
    assert_eq!(refused.status(), 403, "{}", refused.head);
    let page = refused.text().unwrap();
    assert!(page.contains(r#"<div id="forbidden">"#), "{page}");
    assert!(page.contains("create preflights.console.genesis.dev in genesis"), "{page}");
    assert!(page.contains("the role genesis-console-operator: its Role in the console"), "{page}");
    assert!(page.contains(r#"id="user""#) && page.contains(r#"<nav id="tabs""#), "{page}");

    // Sign-out without the token, with another, or from another site ends nothing.
    let other_site = [("Origin", "https://evil.example")];
    let other_port = format!("http://127.0.0.1:{}", free_port());
    let foreign_same_host = [("Origin", other_port.as_str())];
    for (fields, headers) in [
        (vec![], vec![]),
        (vec![("csrf", "0".repeat(64))], vec![]),
        (vec![("csrf", csrf.clone())], other_site.to_vec()),
        (vec![("csrf", csrf.clone())], foreign_same_host.to_vec()),
    ] {
        let fields: Vec<(&str, &str)> = fields.iter().map(|(n, v)| (*n, v.as_str())).collect();
        let reply = browser.post_raw("/sign-out", &fields, &headers);
        assert_eq!(reply.status(), 403, "{fields:?} {headers:?}: {}", reply.head);
        assert!(reply.text().unwrap().contains(r#"id="error""#));
        assert_eq!(browser.get("/preflight").status(), 200, "still signed in after {fields:?} {headers:?}");
    }
    // A sign-in form from another site is refused before the API server hears of the token.
    let stranger = Browserless::new(&console);
    let form = stranger.get("/sign-in").text().unwrap();
    let forged = stranger.post_raw(
        "/sign-in",
        &[("token", token.as_str()), ("csrf", crate::csrf_of(&form).as_str())],
        &[("Origin", "https://evil.example")],
    );
    assert_eq!(forged.status(), 403, "{}", forged.head);
    assert!(!forged.cookies_set().iter().any(|c| c.starts_with("genesis-console=")));

    // Signed out with the session's token, from this console: the session is over.
    let own_origin = console.url.clone();
    let out = browser.post_raw("/sign-out", &[("csrf", csrf.as_str())], &[("Origin", own_origin.as_str())]);
    assert_eq!(out.status(), 303, "{}", out.head);
    assert_eq!(out.location(), Some("/sign-in"));
    assert!(session_cookie(&out, "genesis-console").contains(&"Max-Age=0"));
    assert_eq!(browser.get("/preflight").location(), Some("/sign-in"));
    nowhere(&console, &[&refused, &out, &forged], &[&token]);
}

#[test]
fn plain_http_beyond_loopback_needs_the_flag_and_is_then_warned_about() {
    let api = KubeApiserver::start();
    let kubeconfig = api.kubeconfig();
    let open = format!("0.0.0.0:{}", free_port());
    let out = console_command(&["--listen", &open, "--kubeconfig", kubeconfig.to_str().unwrap()]).output().unwrap();
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains(&format!("refusing to serve plain HTTP on {open}")), "{stderr}");
    assert!(stderr.contains("hint: pass --tls-cert PEM and --tls-key PEM"), "{stderr}");
    assert!(!stderr.contains("network:"), "refused before anything is announced or contacted: {stderr}");

    let console = Console::start(&api, &["--listen", &open, "--insecure-plain-http"]);
    let stderr = console.stderr();
    assert!(stderr.lines().any(|l| l.contains("WARN") && l.contains("plain HTTP")), "{stderr}");
}

#[test]
fn over_tls_the_session_cookie_is_secure_and_host_only() {
    let api = KubeApiserver::start();
    install_console_rbac(&api);
    let token = user_token(&api, "dave", "genesis-console-viewer");
    let pki_dir = tempfile::tempdir().unwrap();
    let pki = TlsPki::write(pki_dir.path());
    let (cert, key) = (pki.valid.0.to_str().unwrap(), pki.valid.1.to_str().unwrap());
    let console = Console::start(&api, &["--tls-cert", cert, "--tls-key", key]);
    assert!(console.url.starts_with("https://"), "{}", console.url);

    // The certificate given is the one served: curl trusts it through its CA alone.
    let browser = Browserless::with_args(&console, &["--cacert", pki.ca.to_str().unwrap()]);
    assert_eq!(browser.get("/healthz").text().unwrap(), "ok\n");
    let refused = std::process::Command::new("curl")
        .args(["-s", "--cacert", pki.other_ca.to_str().unwrap(), &format!("{}/healthz", console.url)])
        .output()
        .unwrap();
    assert!(!refused.status.success(), "a certificate of another CA was accepted");

    let sign_in_form = browser.get("/sign-in");
    let form_cookie = session_cookie(&sign_in_form, "__Host-genesis-console-signin");
    assert!(form_cookie.contains(&"Secure"), "{form_cookie:?}");
    let signed = browser.try_sign_in(&token);
    assert_eq!(signed.status(), 303, "{}{}", signed.head, signed.text().unwrap_or_default());
    let cookie = session_cookie(&signed, "__Host-genesis-console");
    for attribute in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(cookie.contains(&attribute), "{attribute}: {cookie:?}");
    }
    assert!(!cookie.iter().any(|a| a.to_ascii_lowercase().starts_with("domain=")), "{cookie:?}");
    // curl keeps a __Host- cookie only when it is Secure, on Path=/ and names no Domain.
    let tab = browser.get("/preflight");
    assert_eq!(tab.status(), 200, "the session cookie came back: {}", tab.head);
    assert!(tab.text().unwrap().contains(&user_name("dave")));
    nowhere(&console, &[&signed, &tab], &[&token]);
}
