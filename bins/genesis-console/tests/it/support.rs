//! The support bundle button on the run's real kube-apiserver, with the PHI-like values and
//! secrets `genesis support-bundle`'s test plants (`genesis_testkit::phi`): none of them is
//! in any byte of the archive the console makes (extracted by `tar`, decompressed by `zcat`);
//! its redaction report counts exactly what was planted (plus what it redacted in the
//! console's own log, which is inside), and the page shows the same counts; the SHA-256 the
//! page shows is `sha256sum`'s of the download. A user who may not list pods in the
//! namespace gets them withheld (not read, named on the page and in the README), the rest
//! collected, and, without `get logs`, no console log (named on the page); they cannot see or
//! download the first user's archive; and someone without the right to make one is refused.

use std::collections::BTreeMap;
use std::path::Path;
use std::process::Command;
use std::time::{Duration, Instant};

use genesis_testkit::kube::KubeApiserver;
use genesis_testkit::phi::{
    NS, assert_absent, counts, extract, never_kept, occurrences, planted_counts, planted_objects,
};
use genesis_testkit::text;
use serde_json::{Value, json};

use crate::status::{cluster_role, get, sign_in_rule};
use crate::{Browserless, Console, apply, install_console_rbac, user_token};

/// Asks the console, as `client`, for a support bundle of `namespaces` and waits until its
/// page says it is ready; the path of its page, and the page.
fn make_support_bundle(client: &Browserless, namespaces: &str) -> (String, String) {
    let (status, form) = get(client, "/support");
    assert_eq!(status, 200, "{form}");
    assert!(form.contains(r#"<form id="support-form" method="post" action="/support/bundles">"#), "{form}");
    let response = client.post_form("/support/bundles", &[("namespaces", namespaces)]);
    assert_eq!(response.status().as_u16(), 303, "{}{}", response.head, response.text().unwrap_or_default());
    let location = response.location().unwrap_or_default().to_owned();
    assert!(location.starts_with("/support/bundles/"), "{location}");
    let deadline = Instant::now() + Duration::from_secs(120);
    loop {
        let (status, page) = get(client, &location);
        assert_eq!(status, 200, "{page}");
        if page.contains(r#"id="support-sha256""#) {
            return (location, page);
        }
        assert!(!page.contains(r#"id="error""#), "the support bundle was not made: {page}");
        // While it is made, the page reloads itself and says so to screen readers.
        assert!(page.contains(r#"<meta http-equiv="refresh" content="2">"#), "{page}");
        assert!(page.contains(r#"aria-live="polite""#), "{page}");
        assert!(Instant::now() < deadline, "the support bundle is not ready after 2 minutes: {page}");
        std::thread::sleep(Duration::from_millis(300));
    }
}

/// What follows `marker` on `page` up to the next `<`.
fn after<'a>(page: &'a str, marker: &str) -> &'a str {
    let start = page.find(marker).unwrap_or_else(|| panic!("no {marker:?} in {page}")) + marker.len();
    let rest = &page[start..];
    &rest[..rest.find('<').unwrap_or(rest.len())]
}

/// Downloads the archive whose page is `location` into `dir` under the name the console
/// gives it; its path.
fn download(client: &Browserless, location: &str, dir: &Path) -> std::path::PathBuf {
    let response = client.get(&format!("{location}/download"));
    assert_eq!(response.status().as_u16(), 200);
    let disposition = response.headers()["content-disposition"].to_str().unwrap().to_owned();
    let name = disposition.split("filename=\"").nth(1).and_then(|rest| rest.split('"').next()).unwrap_or_default();
    assert!(name.starts_with("genesis-support-") && name.ends_with("Z.tar.gz"), "{disposition}");
    let path = dir.join(name);
    std::fs::write(&path, response.bytes().unwrap()).unwrap();
    path
}

/// `sha256sum FILE`'s digest.
fn sha256sum(file: &Path) -> String {
    let out = Command::new("sha256sum").arg(file).output().unwrap();
    assert!(out.status.success(), "{}", text(&out.stderr));
    text(&out.stdout).split_whitespace().next().unwrap().to_owned()
}

/// How many `[REDACTED:<rule>]` each of `rules` left in `bytes`, those that left none out.
fn placeholders(bytes: &[u8], rules: &[String]) -> BTreeMap<String, u64> {
    let left = |rule: &String| occurrences(bytes, &format!("[REDACTED:{rule}]"));
    rules.iter().map(|rule| (rule.clone(), left(rule))).filter(|(_, n)| *n > 0).collect()
}

#[test]
fn planted_phi_is_in_no_byte_of_the_console_s_support_bundle_and_what_is_withheld_is_named() {
    let api = &KubeApiserver::start();
    install_console_rbac(api);
    let mut objects = planted_objects();
    // Someone who may make a support bundle and read the namespace, but not its pods; and
    // someone who may read the namespace but not make one.
    objects.push(cluster_role(
        "support-without-pods",
        json!([
            sign_in_rule(),
            {"apiGroups": ["console.genesis.dev"], "resources": ["supportbundles"], "verbs": ["create"]},
            {"apiGroups": [""], "resources": ["configmaps", "events", "services", "secrets", "nodes", "namespaces"],
             "verbs": ["get", "list"]},
            {"apiGroups": ["apps"], "resources": ["deployments", "daemonsets", "statefulsets"], "verbs": ["get", "list"]},
        ]),
    ));
    objects.push(cluster_role(
        "reader",
        json!([sign_in_rule(), {"apiGroups": ["", "apps"], "resources": ["*"], "verbs": ["get", "list"]}]),
    ));
    apply(api, objects);
    let console = Console::start(api, &[]);
    let admin_token = user_token(api, "admin", "cluster-admin");
    let admin = Browserless::sign_in(&console, &admin_token);

    let (location, page) = make_support_bundle(&admin, NS);
    let shown = after(&page, r#"<code class="mono" id="support-sha256">"#).to_owned();
    assert_eq!(shown.len(), 64, "{page}");
    assert!(page.contains("Nothing was sent anywhere") && !page.contains("support-withheld"), "{page}");
    let dir = tempfile::tempdir().unwrap();
    let archive = download(&admin, &location, dir.path());
    assert_eq!(sha256sum(&archive), shown, "the page's SHA-256 is the download's");

    let files = extract(&archive);
    for expected in [
        "README.txt",
        "redaction-report.json",
        "cluster/version.json",
        "cluster/nodes.json",
        "logs/console.log",
        "namespaces/emr/configmaps.json",
        "namespaces/emr/deployments.json",
        "namespaces/emr/events.json",
        "namespaces/emr/pods.json",
        "namespaces/emr/secrets.json",
    ] {
        assert!(files.contains_key(expected), "{expected} missing from {:?}", files.keys().collect::<Vec<_>>());
    }
    // No planted value, and not the token of whoever signed in, in any byte.
    assert_absent(&archive, &files, &[&never_kept()[..], &[admin_token.as_str()][..]].concat());
    // The console's own log is inside: it says this support bundle was asked for.
    let log = text(&files["logs/console.log"]);
    assert!(log.contains("making a support bundle"), "{log}");
    // The report counts what was planted, and whatever the rules replaced in the console's
    // log besides (each replacement leaves its placeholder there).
    let report: Value = serde_json::from_slice(&files["redaction-report.json"]).unwrap();
    let rules: Vec<String> = report["rules"].as_object().unwrap().keys().cloned().collect();
    let mut expected = planted_counts();
    for (rule, n) in placeholders(&files["logs/console.log"], &rules) {
        *expected.entry(rule).or_default() += n;
    }
    let archived = counts(&report);
    assert_eq!(archived, expected, "{}", text(&files["redaction-report.json"]));
    // The page shows the same counts, by rule.
    for (rule, n) in report["rules"].as_object().unwrap() {
        let shown =
            format!(r#"<tr data-rule="{rule}"><th scope="row"><code>{rule}</code></th><td class="num">{n}</td></tr>"#);
        assert!(page.contains(&shown), "{shown} not on the page: {page}");
    }

    // Someone who may not list pods in the namespace, nor get the console's log: pods
    // withheld, not read, named on the page and in the README; the log left out, named on the
    // page; the rest collected.
    let blind_token = user_token(api, "no-pods", "support-without-pods");
    let blind = Browserless::sign_in(&console, &blind_token);
    let (own, page) = make_support_bundle(&blind, NS);
    assert!(page.contains(r#"<ul id="support-withheld"><li>namespace emr: pods</li>"#), "{page}");
    assert!(page.contains("own log: your account may not get logs.console.genesis.dev in genesis</li>"), "{page}");
    let no_pods = dir.path().join("no-pods");
    std::fs::create_dir(&no_pods).unwrap();
    let theirs = download(&blind, &own, &no_pods);
    let files = extract(&theirs);
    assert!(!files.contains_key("namespaces/emr/pods.json"), "{:?}", files.keys().collect::<Vec<_>>());
    assert!(!files.contains_key("logs/console.log"), "{:?}", files.keys().collect::<Vec<_>>());
    assert!(files.contains_key("namespaces/emr/configmaps.json") && files.contains_key("namespaces/emr/secrets.json"));
    let readme = text(&files["README.txt"]);
    assert!(readme.contains("\nWithheld\n--------\n") && readme.contains("- namespace emr: pods\n"), "{readme}");
    assert_absent(&theirs, &files, &never_kept());

    // The first user's archive is theirs alone: to another, no such page, no download.
    for path in [location.clone(), format!("{location}/download")] {
        let (status, page) = get(&blind, &path);
        assert_eq!(status, 404, "{path}: {page}");
        assert!(!page.contains(&shown), "{page}");
    }

    // Someone who may read the namespace but not make a support bundle is refused, naming
    // the right.
    let viewer_token = user_token(api, "viewer", "reader");
    let viewer = Browserless::sign_in(&console, &viewer_token);
    let (status, page) = get(&viewer, "/support");
    assert_eq!(status, 403, "{page}");
    assert!(page.contains(r#"id="forbidden""#), "{page}");
    assert!(page.contains("create supportbundles.console.genesis.dev in genesis"), "{page}");
    let refused = viewer.post_form("/support/bundles", &[("namespaces", NS)]);
    assert_eq!(refused.status().as_u16(), 403);
}
