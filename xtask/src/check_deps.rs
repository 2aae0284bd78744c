//! Architecture invariants: the offline crates (types, bundle, trust, report, inventory, scan)
//! and the fixture generator have no async runtime or network crate in their normal dependency
//! tree, under any feature set; xtask has none either and, stricter, links no `genesis-` crate
//! at all, so a cold `cargo xtask demo` compiles a handful of small crates, not the product in
//! the dev profile, before the one release build its tasks drive (decision 0022).

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, bail};

/// Crates whose normal dependency tree holds none of [`FORBIDDEN`].
const OFFLINE: &[&str] = &[
    "genesis-types",
    "genesis-bundle",
    "genesis-trust",
    "genesis-report",
    "genesis-inventory",
    "genesis-scan",
    "genesis-fixtures",
];
const FORBIDDEN: &[&str] = &[
    "tokio",
    "hyper",
    "reqwest",
    "axum",
    "kube",
    "kube-client",
    "h2",
    "async-std",
    "genesis-http",
    "genesis-registry",
];
/// The task runner, whose normal dependency tree holds none of [`FORBIDDEN`] and no crate
/// named `genesis-*`.
const TASK_RUNNER: &str = "xtask";

pub fn run(root: &Path) -> anyhow::Result<()> {
    let mut failures = Vec::new();
    for krate in OFFLINE {
        let tree = normal_tree(root, krate)?;
        failures.extend(
            tree.iter().filter(|line| FORBIDDEN.contains(&name(line))).map(|line| format!("{krate} depends on {line}")),
        );
        println!("check-deps: {krate}: {} crates, none of {FORBIDDEN:?}", tree.len());
    }
    if !failures.is_empty() {
        failures.sort();
        failures.dedup();
        bail!("crates that must stay offline pull in network or async crates:\n  {}", failures.join("\n  "));
    }
    let tree = normal_tree(root, TASK_RUNNER)?;
    let mut offending: Vec<&str> = tree
        .iter()
        .filter(|line| FORBIDDEN.contains(&name(line)) || name(line).starts_with("genesis-"))
        .map(String::as_str)
        .collect();
    if !offending.is_empty() {
        offending.sort_unstable();
        offending.dedup();
        bail!(
            "{TASK_RUNNER} must link no genesis- crate and nothing networked (a fixture that needs the \
             genesis crates belongs in genesis-fixtures), but depends on:\n  {}",
            offending.join("\n  ")
        );
    }
    println!("check-deps: {TASK_RUNNER}: {} crates, no genesis- crate, none of {FORBIDDEN:?}", tree.len());
    Ok(())
}

/// The packages of `krate`'s normal dependency tree under all features, one `name version
/// (source)` line each.
fn normal_tree(root: &Path, krate: &str) -> anyhow::Result<Vec<String>> {
    let out = Command::new(crate::cargo())
        .current_dir(root)
        .args(["tree", "-e", "normal", "--all-features", "--prefix", "none", "--format", "{p}", "-p", krate])
        .output()
        .context("running cargo tree")?;
    if !out.status.success() {
        bail!("cargo tree -p {krate} failed: {}", String::from_utf8_lossy(&out.stderr));
    }
    Ok(String::from_utf8(out.stdout)?.lines().map(str::to_owned).collect())
}

/// The package name a `cargo tree` line starts with.
fn name(line: &str) -> &str {
    line.split_whitespace().next().unwrap_or_default()
}
