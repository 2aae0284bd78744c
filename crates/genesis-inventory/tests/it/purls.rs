//! Every purl the inventory writes is canonical for packageurl-python (PyPI), the purl
//! project's own implementation: parsed and written back, it is the same string.

use std::io::Write;
use std::process::{Command, Stdio};

use genesis_inventory::{PackageKind, purl};

use crate::Entry::{Dir, File};
use crate::{ALPINE_OS_RELEASE, APK_INSTALLED, BASE, debian_base, inventory_of, layer, purls};

/// Reads purls a line each; prints each one packageurl-python writes differently.
const ROUND_TRIP: &str = r#"
import sys
from packageurl import PackageURL
for line in sys.stdin.read().splitlines():
    again = PackageURL.from_string(line).to_string()
    if again != line:
        print(f"{line} -> {again}")
"#;

#[test]
fn packageurl_python_reads_every_purl_back_to_the_same_string() {
    let alpine = layer(&[
        File("etc/os-release", ALPINE_OS_RELEASE),
        Dir("lib/apk/db"),
        File("lib/apk/db/installed", APK_INSTALLED),
    ]);
    let mut all: Vec<String> = [debian_base(), alpine]
        .into_iter()
        .flat_map(|blob| purls(&inventory_of(&[(BASE, blob)])).into_iter().map(str::to_owned).collect::<Vec<_>>())
        .collect();
    assert_eq!(all.len(), 8);
    all.extend([
        purl(
            PackageKind::Rpm,
            Some("rocky"),
            "openssl-libs",
            "3.0.7-25.el9_3",
            &[("arch", "x86_64"), ("epoch", "1"), ("distro", "rocky-9.3")],
        ),
        purl(PackageKind::Pypi, None, "Django_Allauth", "0.58.2", &[]),
        purl(PackageKind::Npm, Some("@angular"), "core", "17.0.0-rc.1", &[]),
        purl(PackageKind::Golang, Some("github.com/Azure/go-autorest"), "autorest", "v0.11.29", &[]),
        purl(PackageKind::Golang, Some("golang.org/x"), "net", "v0.0.0-20220722155237-a158d28d115b", &[]),
        purl(PackageKind::Cargo, None, "serde_json", "1.0.108+extra", &[]),
        purl(
            PackageKind::Deb,
            Some("ubuntu"),
            "libc6",
            "2.35-0ubuntu3.4",
            &[("arch", "amd64"), ("distro", "ubuntu-22.04")],
        ),
    ]);

    // The test venv `cargo xtask test-deps` makes holds packageurl-python.
    let venv = concat!(env!("CARGO_MANIFEST_DIR"), "/../../target/test-venv/bin/python3");
    let mut python = Command::new(venv)
        .args(["-c", ROUND_TRIP])
        .stdin(Stdio::piped())
        .stdout(Stdio::piped())
        .stderr(Stdio::piped())
        .spawn()
        .expect("this test needs target/test-venv with packageurl-python: run `cargo xtask test-deps`");
    python.stdin.take().unwrap().write_all(all.join("\n").as_bytes()).unwrap();
    let output = python.wait_with_output().unwrap();
    assert!(
        output.status.success(),
        "python3 with packageurl-python (pip install packageurl-python) must run: {}",
        String::from_utf8_lossy(&output.stderr)
    );
    assert_eq!(String::from_utf8_lossy(&output.stdout), "", "purls packageurl-python writes otherwise");
}
