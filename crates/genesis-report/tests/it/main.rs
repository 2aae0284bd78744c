//! The release evidence report of the fixture bundle (fixtures/bundles/good, signed with
//! fixtures/keys/test.pub), through the public API: what the model holds, and how a long
//! release is laid out, read back by poppler's `pdftotext`.

// Test helpers are not a public API, and a panic is how a test reports failure.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod layout;
mod model;

use std::path::{Path, PathBuf};
use std::process::Command;

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
/// feed). A missing `pdftotext` fails the test, naming its package.
fn pages_of(pdf: &[u8]) -> Vec<String> {
    let dir = tempfile::tempdir().unwrap();
    let file = dir.path().join("report.pdf");
    std::fs::write(&file, pdf).unwrap();
    let out = Command::new("pdftotext")
        .args(["-layout", "-enc", "UTF-8"])
        .arg(&file)
        .arg("-")
        .output()
        .unwrap_or_else(|e| panic!("pdftotext cannot start ({e}): install the Debian package poppler-utils"));
    assert!(out.status.success(), "pdftotext: {}", String::from_utf8_lossy(&out.stderr));
    let text = String::from_utf8(out.stdout).unwrap();
    let mut pages: Vec<String> = text.split('\u{c}').map(str::to_owned).collect();
    // The text ends with a form feed: nothing follows the last page.
    if pages.last().is_some_and(|p| p.trim().is_empty()) {
        pages.pop();
    }
    pages
}

/// `text` without white space: digests and paths wrap across lines in the PDF.
fn squeezed(text: &str) -> String {
    text.split_whitespace().collect()
}
