//! `cargo xtask <task>`: the one task runner (matklad's cargo-xtask pattern).
//!
//! - `check-deps`: the offline crates and the fixture generator pull in no async or network
//!   crate, and xtask itself links no `genesis-` crate.
//! - `fixtures [--check]`: regenerate `fixtures/` (or check it is up to date) with the
//!   `genesis-fixtures` package.
//! - `bench [--size-mib N] [--runs N] [--seed-only]`: whole-process figures beside tar/zstd/openssl,
//!   skopeo, Distribution, moto's S3 and curl on the same input.
//! - `demo`: the main job on the fixtures (keygen, create, inspect, verify, extract).
//! - `test-deps`: the test clients that come from PyPI (a venv under `target/`).
//! - `tools`: test servers built from Debian sources (`target/tools/ocireg`, `target/tools/kube-apiserver`).
//! - `ci`: everything CI runs after installing packages.

mod bench;
mod bench_scale;
mod check_deps;
mod demo;
mod tools;

use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};
use sha2::{Digest as _, Sha256};

fn main() -> anyhow::Result<()> {
    let args: Vec<String> = std::env::args().skip(1).collect();
    let root = workspace_root();
    match args.first().map(String::as_str) {
        Some("check-deps") => check_deps::run(&root),
        Some("fixtures") => fixtures(&root, args.iter().any(|a| a == "--check")),
        Some("bench") => bench::run(&root, &args[1..]),
        Some("demo") => demo::run(&root),
        Some("test-deps") => test_deps(&root),
        Some("tools") => tools::run(&root),
        Some("ci") => ci(&root),
        _ => {
            bail!(
                "usage: cargo xtask <check-deps | fixtures [--check] | bench [--size-mib N] [--runs N] [--seed-only | \
                 --core-only] [--workload half-text | compressed-layers | many-images | scale] [--images N] \
                 [--blobs-per-image N] [--rss-sizes-mib A,B,…] | demo | test-deps | tools | ci>"
            )
        }
    }
}

fn workspace_root() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).parent().expect("xtask is in the workspace").to_owned()
}

/// The cargo that runs this task (`$CARGO`), else `cargo` from the PATH.
pub fn cargo() -> String {
    std::env::var("CARGO").unwrap_or_else(|_| "cargo".into())
}

/// Builds exactly what `cargo build --release --workspace` builds and returns the folder of
/// the release binaries. Every task that runs the binaries builds them this way: a `-p` list
/// would unify features differently and compile the dependencies a second time.
pub fn release_build(root: &Path) -> anyhow::Result<PathBuf> {
    let cargo = cargo();
    run_cmd(Command::new(&cargo).current_dir(root).args(["build", "-q", "--release", "--workspace"]))?;
    Ok(release_dir(root))
}

/// Where cargo puts the release binaries: `$CARGO_TARGET_DIR/release` (relative to the
/// workspace when relative), else `target/release`.
fn release_dir(root: &Path) -> PathBuf {
    std::env::var_os("CARGO_TARGET_DIR").map_or_else(|| root.join("target"), |d| root.join(d)).join("release")
}

/// Regenerates `fixtures/`, or with `check` fails when it is stale, by running the
/// `genesis-fixtures` package: the generator links the genesis crates, so it builds (in the
/// dev profile) only when asked for, never to start `cargo xtask`.
fn fixtures(root: &Path, check: bool) -> anyhow::Result<()> {
    let mut cmd = Command::new(cargo());
    cmd.current_dir(root).args(["run", "-q", "-p", "genesis-fixtures", "--"]);
    if check {
        cmd.arg("--check");
    }
    run_cmd(&mut cmd)
}

/// The lowercase hex SHA-256 of `bytes`.
pub fn sha256_hex(bytes: &[u8]) -> String {
    hex::encode(Sha256::digest(bytes))
}

/// Runs a command, failing with its name if it fails.
pub fn run_cmd(cmd: &mut Command) -> anyhow::Result<()> {
    let status = cmd.status().with_context(|| format!("starting {cmd:?}"))?;
    if !status.success() {
        bail!("{cmd:?} failed with {status}");
    }
    Ok(())
}

/// PyPI packages the tests drive: the `oras` client (serve tests) and CycloneDX's own
/// library, whose JSON-schema validation judges the SBOM we write, moto's S3 server (the
/// portal's object-store tests), and `jsonschema`, which judges the `zarf.yaml` we write
/// against Zarf's schema (`genesis_testkit::schema`; the version CycloneDX's extra resolves)
/// and the SARIF the vulnerability gate writes against SARIF's, and `packageurl-python`, the
/// purl specification's reference parser, which reads back every package URL we write, and
/// Selenium, which drives Debian's Chromium through the portal's web pages
/// (`bins/genesis-portal/tests/browser/`).
const PY_TEST_PACKAGES: &[&str] = &[
    "oras==0.2.43",
    "cyclonedx-python-lib[json-validation]==11.12.0",
    "moto[server]==5.2.5",
    "jsonschema==4.26.0",
    "packageurl-python==0.17.6",
    "selenium==4.51.0",
];

/// Creates `target/test-venv` with the PyPI clients and `target/test-node` with the npm
/// packages the tests run (sigstore-js, a verifier; Azurite, the Azure Storage emulator the
/// portal's Azure Blob backend is tested against, as xtask/test-node/package-lock.json pins
/// them), each again when its pinned list changes.
fn test_deps(root: &Path) -> anyhow::Result<()> {
    let node = root.join("target/test-node");
    let lock = std::fs::read_to_string(root.join("xtask/test-node/package-lock.json"))?;
    if !std::fs::read_to_string(node.join(".complete")).is_ok_and(|done| done == lock) {
        std::fs::create_dir_all(&node)?;
        for file in ["package.json", "package-lock.json", "verify.js"] {
            std::fs::copy(root.join("xtask/test-node").join(file), node.join(file))?;
        }
        run_cmd(Command::new("npm").args(["ci", "--silent", "--no-audit", "--no-fund"]).current_dir(&node))
            .map_err(|e| e.context("installing sigstore-js and Azurite needs node and npm"))?;
        std::fs::write(node.join(".complete"), lock)?;
        println!("test-deps: {} ready", node.display());
    }
    test_venv(root)?;
    Ok(())
}

/// Creates `target/test-venv` with the PyPI clients (again when [`PY_TEST_PACKAGES`] changes)
/// and returns its folder: for `test-deps`, and for the bench's S3 rows, which run its
/// `moto_server`.
pub fn test_venv(root: &Path) -> anyhow::Result<PathBuf> {
    let venv = root.join("target/test-venv");
    let wanted = PY_TEST_PACKAGES.join("\n");
    if std::fs::read_to_string(venv.join(".complete")).is_ok_and(|done| done == wanted) {
        return Ok(venv);
    }
    if !venv.join("bin/pip").exists() {
        run_cmd(Command::new("python3").args(["-m", "venv"]).arg(&venv))?;
    }
    run_cmd(Command::new(venv.join("bin/pip")).args(["install", "-q"]).args(PY_TEST_PACKAGES))?;
    std::fs::write(venv.join(".complete"), wanted)?;
    println!("test-deps: {} ready", venv.display());
    Ok(venv)
}

/// Everything CI runs after installing packages, cheapest and most likely to fail first:
/// formatting, dependency invariants, licences, fixtures and clippy run before the minutes of
/// test-tool set-up (npm, pip, the servers built from source) and the test suite.
fn ci(root: &Path) -> anyhow::Result<()> {
    let cargo = cargo();
    run_cmd(Command::new(&cargo).current_dir(root).args(["fmt", "--all", "--check"]))?;
    check_deps::run(root)?;
    // Licences, duplicate versions and sources (deny.toml). The advisory database needs
    // GitHub, which this environment cannot reach.
    run_cmd(Command::new(&cargo).current_dir(root).args(["deny", "check", "bans", "licenses", "sources"]))?;
    fixtures(root, true)?;
    run_cmd(Command::new(&cargo).current_dir(root).args([
        "clippy",
        "--workspace",
        "--all-targets",
        "--",
        "-D",
        "warnings",
    ]))?;
    // genesis-build without its `pull` feature, as genesis-fixtures links it: a workspace build
    // always turns `pull` on, so only these compile and test the offline configuration.
    let offline_build = ["-p", "genesis-build", "--no-default-features"];
    run_cmd(
        Command::new(&cargo)
            .current_dir(root)
            .args(["clippy", "--all-targets"])
            .args(offline_build)
            .args(["--", "-D", "warnings"]),
    )?;
    test_deps(root)?;
    tools::run(root)?;
    run_cmd(Command::new(&cargo).current_dir(root).args(["nextest", "run", "--workspace", "--no-fail-fast"]))?;
    run_cmd(Command::new(&cargo).current_dir(root).args(["nextest", "run"]).args(offline_build))?;
    run_cmd(Command::new(&cargo).current_dir(root).args(["test", "--workspace", "--doc"]))?;
    Ok(())
}
