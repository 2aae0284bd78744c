//! The release evidence report of the fixture bundle (fixtures/bundles/good, signed with
//! fixtures/keys/test.pub), through the public API: what the model holds, and how a long
//! release is laid out, read back by poppler's `pdftotext` and checked by `qpdf`.

// Test helpers are not a public API, and a panic is how a test reports failure.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod layout;
mod model;

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use genesis_trust::{CheckedBundle, Limits, PublicKey, TrustPolicy, UnverifiedBundle};

/// The committed fixtures (fixtures/README.md).
fn fixtures_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// The good fixture bundle, verified and checked with its key, as an embedder does.
fn checked() -> CheckedBundle {
    let key = PublicKey::from_pem_file(&fixtures_dir().join("keys/test.pub")).unwrap();
    let policy = TrustPolicy::from_keys(vec![key]).unwrap();
    let archive = fixtures_dir().join("bundles/good/demo-0.1.0.tar.zst");
    UnverifiedBundle::open(&archive, &Limits::default()).unwrap().verify(&policy).unwrap().check().unwrap()
}

/// The text of `pdf`, page by page, as `pdftotext -layout` reads it (pages end with a form
/// feed).
fn pages_of(pdf: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = run(Command::new("pdftotext").args(["-layout", "-enc", "UTF-8"]).arg(&file).arg("-"), "poppler-utils");
    let text = String::from_utf8(out.stdout).unwrap();
    let mut pages: Vec<String> = text.split('\u{c}').map(str::to_owned).collect();
    // The text ends with a form feed: nothing follows the last page.
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    pages
}

/// Fails unless `qpdf --check` finds `pdf` well formed, without a warning.
fn assert_well_formed(pdf: &[u8]) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = run(Command::new("qpdf").arg("--check").arg(&file), "qpdf");
    let said = String::from_utf8_lossy(&out.stdout);
    assert!(said.contains("No syntax or stream encoding errors"), "{said}");
}

/// The width of the pages of `pdf` and each word `pdftotext -bbox` finds on them, with where
/// it starts and ends across the page.
fn word_extents(pdf: &[u8]) -> (f32, Vec<(f32, f32, String)>) {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = run(Command::new("pdftotext").args(["-bbox", "-enc", "UTF-8"]).arg(&file).arg("-"), "poppler-utils");
    let html = String::from_utf8(out.stdout).unwrap();
    let attribute = |tag: &str, name: &str| -> f32 {
        let start = tag.find(&format!("{name}=\"")).unwrap_or_else(|| panic!("{name} in {tag}")) + name.len() + 2;
        let end = start + tag[start..].find('"').unwrap();
        tag[start..end].parse().unwrap()
    };
    let page = html.split("<page ").nth(1).expect("pdftotext -bbox lists a page");
    let words = html
        .split("<word ")
        .skip(1)
        .map(|word| {
            let text = word.split_once('>').and_then(|(_, rest)| rest.split_once("</word>")).unwrap().0;
            (attribute(word, "xMin"), attribute(word, "xMax"), text.to_owned())
        })
        .collect();
    (attribute(page, "width"), words)
}

/// Runs `command`, a tool from the Debian package `package` that reads a PDF, to success. A
/// missing tool fails the test, naming its package.
fn run(command: &mut Command, package: &str) -> Output {
    let program = command.get_program().to_string_lossy().into_owned();
    let out = command
        .output()
        .unwrap_or_else(|e| panic!("{program} cannot start ({e}): install the Debian package {package}"));
    assert!(
        out.status.success(),
        "{program}: {}{}",
        String::from_utf8_lossy(&out.stdout),
        String::from_utf8_lossy(&out.stderr)
    );
    out
}

/// `text` without white space: digests and paths wrap across lines in the PDF.
fn squeezed(text: &str) -> String {
    text.split_whitespace().collect()
}
