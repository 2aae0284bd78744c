//! `genesis verify BUNDLE` with no trust flags: the installed policy, found in order
//! (`GENESIS_POLICY`, then `$XDG_CONFIG_HOME/genesis/trust.yaml` or `~/.config/…`, then
//! `/etc/genesis/trust.yaml`, then one embedded at build time), named on stderr and in JSON;
//! none found, a refusal naming each place. Each run gets its own HOME and XDG_CONFIG_HOME,
//! so the user's real configuration never takes part; /etc is the host's, so the one test
//! that needs it absent says so and stops when it is there.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use crate::text;

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// The fixture bundle, signed by `keys/test.pub`.
fn good() -> PathBuf {
    fixtures().join("bundles/good/demo-0.1.0.tar.zst")
}

/// Writes a policy at `path` trusting the fixture key `key` (`test.pub` signed the bundle,
/// `other.pub` did not), with `extra` lines.
fn policy_at(path: &Path, key: &str, extra: &str) -> PathBuf {
    std::fs::create_dir_all(path.parent().unwrap()).unwrap();
    let key = fixtures().join("keys").join(key);
    std::fs::write(path, format!("keys: ['{}']\n{extra}", key.display())).unwrap();
    path.to_owned()
}

/// `genesis verify BUNDLE ARGS…` with HOME set to `home`, GENESIS_POLICY and
/// XDG_CONFIG_HOME removed, then `vars` set.
fn verify(home: &Path, vars: &[(&str, &Path)], args: &[&str]) -> Output {
    let mut command = Command::new(env!("CARGO_BIN_EXE_genesis"));
    command.arg("verify").arg(good()).args(args);
    command.env_remove("GENESIS_POLICY").env_remove("XDG_CONFIG_HOME").env("HOME", home);
    for (name, value) in vars {
        command.env(name, value);
    }
    command.output().unwrap()
}

fn json(out: &Output) -> serde_json::Value {
    serde_json::from_slice(&out.stdout).unwrap_or_else(|e| panic!("{e}: {}", text(&out.stdout)))
}

/// The policy GENESIS_POLICY names is used, and named; it goes before the user's, and
/// --key and --policy go before it.
#[test]
fn genesis_policy_is_used_before_the_user_policy_and_named() {
    let dir = tempfile::tempdir().unwrap();
    let (home, xdg) = (dir.path().join("home"), dir.path().join("xdg"));
    let trusting = policy_at(&dir.path().join("named.yaml"), "test.pub", "");
    let refusing = policy_at(&xdg.join("genesis/trust.yaml"), "other.pub", "");
    let vars = [("XDG_CONFIG_HOME", xdg.as_path()), ("GENESIS_POLICY", trusting.as_path())];

    let ok = verify(&home, &vars, &[]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert!(text(&ok.stderr).contains(&format!("policy: {}\n", trusting.display())), "{}", text(&ok.stderr));
    let ok = verify(&home, &vars, &["--output", "json"]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert_eq!(json(&ok)["policy"], trusting.display().to_string());

    // Without it, the user's policy judges (and refuses: it trusts another key).
    let user = verify(&home, &vars[..1], &[]);
    assert_eq!(user.status.code(), Some(1), "{}", text(&user.stderr));
    assert!(text(&user.stderr).contains(&format!("policy: {}\n", refusing.display())), "{}", text(&user.stderr));
    assert!(text(&user.stderr).contains("BOM signature does not verify"), "{}", text(&user.stderr));

    // Flags go first: --key uses no policy (JSON says null), --policy the file it names.
    let refused_by_env = [("XDG_CONFIG_HOME", xdg.as_path()), ("GENESIS_POLICY", refusing.as_path())];
    let key = fixtures().join("keys/test.pub");
    let by_key = verify(&home, &refused_by_env, &["--key", key.to_str().unwrap(), "--output", "json"]);
    assert_eq!(by_key.status.code(), Some(0), "{}", text(&by_key.stderr));
    assert!(!text(&by_key.stderr).contains("policy:"), "{}", text(&by_key.stderr));
    assert_eq!(json(&by_key)["policy"], serde_json::Value::Null);
    let by_flag = verify(&home, &refused_by_env, &["--policy", trusting.to_str().unwrap()]);
    assert_eq!(by_flag.status.code(), Some(0), "{}", text(&by_flag.stderr));
    assert!(text(&by_flag.stderr).contains(&format!("policy: {}\n", trusting.display())), "{}", text(&by_flag.stderr));
}

/// A file GENESIS_POLICY names must be there: a typo does not fall through to another
/// policy the operator did not choose.
#[test]
fn a_missing_genesis_policy_file_is_refused_not_skipped() {
    let dir = tempfile::tempdir().unwrap();
    let (home, xdg) = (dir.path().join("home"), dir.path().join("xdg"));
    policy_at(&xdg.join("genesis/trust.yaml"), "test.pub", "");
    let missing = dir.path().join("typo.yaml");
    let out = verify(&home, &[("XDG_CONFIG_HOME", xdg.as_path()), ("GENESIS_POLICY", missing.as_path())], &[]);
    assert_eq!(out.status.code(), Some(4), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains(&missing.display().to_string()), "{}", text(&out.stderr));
    assert!(!text(&out.stderr).contains("policy: "), "{}", text(&out.stderr));
}

/// With GENESIS_POLICY unset, `$XDG_CONFIG_HOME/genesis/trust.yaml` is used, its rules
/// applied; with XDG_CONFIG_HOME unset or empty, `~/.config/genesis/trust.yaml`.
#[test]
fn the_user_policy_is_found_under_xdg_config_home_or_home() {
    let dir = tempfile::tempdir().unwrap();
    let (home, xdg) = (dir.path().join("home"), dir.path().join("xdg"));
    let in_xdg = policy_at(&xdg.join("genesis/trust.yaml"), "test.pub", "names: ['dem*']\n");
    let ok = verify(&home, &[("XDG_CONFIG_HOME", xdg.as_path())], &[]);
    assert_eq!(ok.status.code(), Some(0), "{}", text(&ok.stderr));
    assert!(text(&ok.stderr).contains(&format!("policy: {}\n", in_xdg.display())), "{}", text(&ok.stderr));
    assert!(text(&ok.stdout).contains("✓ policy: name demo accepted"), "{}", text(&ok.stdout));

    let in_home = policy_at(&home.join(".config/genesis/trust.yaml"), "test.pub", "names: ['other-*']\n");
    for vars in [&[][..], &[("XDG_CONFIG_HOME", Path::new(""))][..]] {
        let refused = verify(&home, vars, &["--output", "json"]);
        assert_eq!(refused.status.code(), Some(1), "{vars:?}: {}", text(&refused.stderr));
        let report = json(&refused);
        assert_eq!(report["policy"], in_home.display().to_string(), "{vars:?}");
        assert!(report["error"].as_str().unwrap().contains("policy refuses the bundle (names)"), "{report}");
    }
}

/// Nothing installed and nothing embedded: refused as a usage error, naming each place
/// looked at and the flags that give trust.
#[test]
fn with_no_policy_anywhere_the_refusal_names_each_place_looked_at() {
    if Path::new("/etc/genesis/trust.yaml").exists()
        || option_env!("GENESIS_EMBEDDED_POLICY").is_some_and(|v| !v.is_empty())
    {
        eprintln!("skipped: this host has /etc/genesis/trust.yaml, or the binary embeds a policy");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let home = dir.path().join("home");
    let out = verify(&home, &[], &[]);
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    let stderr = text(&out.stderr);
    let user = home.join(".config/genesis/trust.yaml").display().to_string();
    for place in [
        "GENESIS_POLICY (unset)",
        user.as_str(),
        "/etc/genesis/trust.yaml",
        "a policy embedded at build time (this binary has none)",
    ] {
        assert!(stderr.contains(place), "{place} not named: {stderr}");
    }
    assert!(stderr.contains("hint: pass --key PUB, a keyless identity"), "{stderr}");
    assert!(stderr.contains("or --policy FILE"), "{stderr}");
    assert!(out.stdout.is_empty(), "{}", text(&out.stdout));
}

/// A binary built with GENESIS_EMBEDDED_POLICY uses that policy when none is installed,
/// and names it. Only such a build can check it: others skip (README "Trust policy").
#[test]
fn an_embedded_policy_is_used_when_none_is_installed() {
    if option_env!("GENESIS_EMBEDDED_POLICY").is_none_or(str::is_empty) || Path::new("/etc/genesis/trust.yaml").exists()
    {
        eprintln!("skipped: built without GENESIS_EMBEDDED_POLICY, or this host has /etc/genesis/trust.yaml");
        return;
    }
    let dir = tempfile::tempdir().unwrap();
    let out = verify(&dir.path().join("home"), &[], &["--output", "json"]);
    assert!(text(&out.stderr).contains("policy: embedded in this binary ("), "{}", text(&out.stderr));
    assert!(json(&out)["policy"].as_str().unwrap().starts_with("embedded in this binary ("), "{}", text(&out.stdout));
}
