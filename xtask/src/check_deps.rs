//! Architecture invariants: the offline crates (types, bundle, trust, report, inventory, scan) have no async
//! runtime or network crate in their normal dependency tree, under any feature set; nor has
//! xtask, so `cargo xtask` compiles nothing networked before the release build its tasks drive.

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
    "xtask",
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

pub fn run(root: &Path) -> anyhow::Result<()> {
    let cargo = crate::cargo();
    let mut failures = Vec::new();
    for krate in OFFLINE {
        let out = Command::new(&cargo)
            .current_dir(root)
            .args(["tree", "-e", "normal", "--all-features", "--prefix", "none", "--format", "{p}", "-p", krate])
            .output()
            .context("running cargo tree")?;
        if !out.status.success() {
            bail!("cargo tree -p {krate} failed: {}", String::from_utf8_lossy(&out.stderr));
        }
        let tree = String::from_utf8(out.stdout)?;
        for line in tree.lines() {
            let name = line.split_whitespace().next().unwrap_or_default();
            if FORBIDDEN.contains(&name) {
                failures.push(format!("{krate} depends on {line}"));
            }
        }
        println!("check-deps: {krate}: {} crates, none of {FORBIDDEN:?}", tree.lines().count());
    }
    if !failures.is_empty() {
        failures.sort();
        failures.dedup();
        bail!("crates that must stay offline pull in network or async crates:\n  {}", failures.join("\n  "));
    }
    Ok(())
}
