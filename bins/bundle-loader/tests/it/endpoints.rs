//! Every run says first, on stderr and whatever `RUST_LOG` says, the out-of-boundary
//! endpoints it may contact, and its JSON report lists them.

use std::process::{Command, Output};

use genesis_testkit::Distribution;

use crate::{case, test_pub, text};

/// `bundle-loader ARGS` with every log filtered out.
fn without_logs(args: &[&str]) -> Output {
    Command::new(env!("CARGO_BIN_EXE_bundle-loader")).args(args).env("RUST_LOG", "off").output().unwrap()
}

/// The first line on stderr and the JSON report on stdout.
fn announced(out: &Output) -> (String, serde_json::Value) {
    let stderr = text(&out.stderr);
    assert_eq!(out.status.code(), Some(0), "{stderr}");
    let report = serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)));
    (stderr.lines().next().unwrap_or_default().to_owned(), report)
}

#[test]
fn a_load_names_its_registry_first_whatever_rust_log_says_and_in_its_json_report() {
    let registry = Distribution::start();
    let (bundle, key) = (case("good"), test_pub());
    let out = without_logs(&[
        "load",
        bundle.to_str().unwrap(),
        "--key",
        key.to_str().unwrap(),
        "--registry",
        &registry.host(),
        "--plain-http",
        "--output",
        "json",
    ]);
    let (line, report) = announced(&out);
    let endpoint = format!("http://{}", registry.host());
    assert_eq!(line, format!("bundle-loader: network: this run contacts only {endpoint}"));
    assert_eq!(report["endpoints"], serde_json::json!([endpoint]), "{report}");
}

#[test]
fn an_offline_verification_says_it_contacts_nothing() {
    let (bundle, key) = (case("good"), test_pub());
    let out = without_logs(&["verify", bundle.to_str().unwrap(), "--key", key.to_str().unwrap(), "--output", "json"]);
    let (line, report) = announced(&out);
    assert_eq!(line, "bundle-loader: network: this run contacts nothing");
    assert_eq!(report["endpoints"], serde_json::json!([]), "{report}");
    assert_eq!(report["verified"], true, "{report}");
}
