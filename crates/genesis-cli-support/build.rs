//! Embeds a vendor's trust policy in every binary built with this crate, for vendors who ship
//! a branded verifier (README "Trust policy"): `GENESIS_EMBEDDED_POLICY=/abs/trust.yaml cargo
//! build --release`. The policy's text and the files it names (its `keys` and `cosigners`, the
//! key files its `signedBy`s name, its `trustedRoot`) are compiled in with
//! `include_str!`/`include_bytes!`, and `src/policy.rs` reads them from memory, after the
//! operator's installed policies. Unset or empty, the generated code is `None`: no embedded
//! policy, and no trust without one installed.

use std::path::{Path, PathBuf};

const VAR: &str = "GENESIS_EMBEDDED_POLICY";

fn main() {
    println!("cargo:rerun-if-changed=build.rs");
    println!("cargo:rerun-if-env-changed={VAR}");
    let out = PathBuf::from(std::env::var_os("OUT_DIR").expect("cargo sets OUT_DIR")).join("embedded_policy.rs");
    let code = match std::env::var_os(VAR).filter(|v| !v.is_empty()) {
        None => "None".to_owned(),
        Some(policy) => embed(Path::new(&policy)),
    };
    std::fs::write(&out, format!("{code}\n")).unwrap_or_else(|e| panic!("writing {}: {e}", out.display()));
}

/// The expression `Some(Embedded { … })` for the policy file at `policy`. Refuses (the build
/// fails, naming the file) what would only fail later, on the operator's host: a relative
/// path, a policy that is not YAML, a key file that is missing or holds a private key.
fn embed(policy: &Path) -> String {
    if !policy.is_absolute() {
        // A build script runs in its crate's directory, not where cargo was started.
        panic!("{VAR}={}: name the policy by an absolute path", policy.display());
    }
    println!("cargo:rerun-if-changed={}", policy.display());
    let text = std::fs::read_to_string(policy).unwrap_or_else(|e| panic!("{VAR}: reading {}: {e}", policy.display()));
    let doc: serde_yaml_ng::Value = serde_yaml_ng::from_str(&text)
        .unwrap_or_else(|e| panic!("{VAR}: {} is not a trust policy: {e}", policy.display()));
    let base = policy.parent().expect("an absolute file path has a parent");
    let listed = |list: &str| doc.get(list).and_then(serde_yaml_ng::Value::as_sequence).is_some_and(|l| !l.is_empty());
    if !listed("keys") && !listed("bundleIdentities") {
        panic!("{VAR}: {} trusts no bundle signer: name keys or bundleIdentities", policy.display());
    }
    let mut named = Vec::new();
    // A key entry is a path, or a mapping with its `path` and validity window.
    for list in ["keys", "cosigners"] {
        for entry in doc.get(list).and_then(serde_yaml_ng::Value::as_sequence).into_iter().flatten() {
            let name = entry.as_str().or_else(|| entry.get("path").and_then(serde_yaml_ng::Value::as_str));
            named.extend(name.map(str::to_owned));
        }
    }
    if let Some(require) = doc.get("require") {
        let mut signed_by = Vec::new();
        signed_by_files(require, &mut signed_by);
        // The reader refuses a signedBy key the policy does not trust: so does the build.
        let file = |name: &String| std::fs::canonicalize(resolve(base, name)).ok();
        let trusted: Vec<_> = named.iter().map(file).collect();
        if let Some(stranger) = signed_by.iter().find(|name| !trusted.contains(&file(name))) {
            panic!("{VAR}: {} requires signedBy {stranger}, which is in neither keys nor cosigners", policy.display());
        }
    }
    named.extend(doc.get("trustedRoot").and_then(serde_yaml_ng::Value::as_str).map(str::to_owned));
    named.sort();
    named.dedup();
    let files: Vec<String> = named
        .iter()
        .map(|name| {
            let path = resolve(base, name);
            println!("cargo:rerun-if-changed={}", path.display());
            let bytes = std::fs::read(&path).unwrap_or_else(|e| {
                panic!("{VAR}: {} names {name}, which cannot be read ({}: {e})", policy.display(), path.display())
            });
            if String::from_utf8_lossy(&bytes).contains("PRIVATE KEY") {
                panic!(
                    "{VAR}: {name} holds a private key; a policy names public keys, and a binary ships to customers"
                );
            }
            format!("({}, include_bytes!({}) as &[u8])", literal(name), literal(&utf8(&path)))
        })
        .collect();
    let name = policy.file_name().map(|n| n.to_string_lossy().into_owned()).unwrap_or_default();
    format!(
        "Some(crate::policy::Embedded {{ name: {}, text: include_str!({}), files: &[{}] }})",
        literal(&name),
        literal(&utf8(policy)),
        files.join(", ")
    )
}

/// The key files the `signedBy`s of a `require` name, at any depth, as the policy's reader
/// takes them ([`genesis_types::signed_by_names_key_file`]).
fn signed_by_files(requirement: &serde_yaml_ng::Value, named: &mut Vec<String>) {
    match requirement {
        serde_yaml_ng::Value::Sequence(parts) => parts.iter().for_each(|part| signed_by_files(part, named)),
        serde_yaml_ng::Value::Mapping(map) => {
            for (key, value) in map {
                match (key.as_str(), value.as_str()) {
                    (Some("signedBy"), Some(name)) if genesis_types::signed_by_names_key_file(name) => {
                        named.push(name.to_owned());
                    }
                    _ => signed_by_files(value, named),
                }
            }
        }
        _ => {}
    }
}

/// A path the policy writes, relative to the policy's directory.
fn resolve(base: &Path, name: &str) -> PathBuf {
    let path = Path::new(name);
    if path.is_absolute() { path.to_owned() } else { base.join(path) }
}

/// `include_bytes!` takes a string literal.
fn utf8(path: &Path) -> String {
    path.to_str().unwrap_or_else(|| panic!("{VAR}: {} is not a UTF-8 path", path.display())).to_owned()
}

/// A Rust string literal of `s` (`Debug` escapes quotes, backslashes and controls).
fn literal(s: &str) -> String {
    format!("{s:?}")
}
