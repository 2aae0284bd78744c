//! Every case of `fixtures/bundles/` (fixtures/README.md) through the library path an embedder
//! calls (README.md, "Embedding the verifier"): open, verify with a policy of the test key,
//! then check or extract. The good bundle verifies, checks and extracts to exactly the files
//! its BOM lists and its head; every other case is refused with its own error by both `check` and
//! `extract`, and `extract` leaves nothing behind.

use std::collections::BTreeMap;
use std::path::Path;

use genesis_trust::{Limits, Sidecar, TrustError, cosign_bundle_path, sidecar_paths};
use genesis_types::Digest;
use sha2::Digest as _;

use crate::{fixture_bundle, fixtures_dir, verified};

/// Every case but `good`: each must be refused as [`is_its_refusal`] says.
const REFUSED: &[&str] = &[
    "unsigned",
    "signed-by-other-key",
    "bom-byte-changed",
    "signature-from-other-bundle",
    "blob-byte-changed",
    "chart-byte-changed",
    "manifest-byte-changed",
    "entry-not-in-bom",
    "bom-entry-missing",
    "duplicate-entry",
    "path-dotdot",
    "path-absolute",
    "path-not-utf8",
    "symlink-entry",
    "hardlink-entry",
    "device-entry",
    "truncated",
    "trailing-garbage",
    "decompression-bomb",
    "blob-name-mismatch",
    "oversized-bom",
    "provenance-from-other-bundle",
    "provenance-tampered",
    "sbom-entry-missing",
    "sha256-sidecar-mismatch",
    "sig-sidecar-other-key",
    "cosign-bundle-other-key",
];

/// Whether `error` is the refusal fixtures/README.md names for `case`: its variant, and the
/// entry, limit or sidecar it is about.
fn is_its_refusal(case: &str, error: &TrustError) -> bool {
    use genesis_trust::{BundleError as B, TrustError as T};
    let archive = fixture_bundle(case);
    let (sha256_sidecar, sig_sidecar) = sidecar_paths(&archive);
    match (case, error) {
        ("unsigned", T::Bundle(B::NotSigned { .. })) => true,
        ("signed-by-other-key" | "bom-byte-changed" | "signature-from-other-bundle", T::BomSignatureInvalid { .. }) => {
            true
        }
        ("blob-byte-changed", T::Bundle(B::DigestMismatch { path, .. })) => {
            path.as_str().starts_with("oci/blobs/sha256/")
        }
        ("chart-byte-changed", T::Bundle(B::DigestMismatch { path, .. })) => path.as_str() == "charts/web-0.1.0.tgz",
        ("manifest-byte-changed", T::Bundle(B::DigestMismatch { path, .. })) => {
            path.as_str() == "manifests/service.yaml"
        }
        ("entry-not-in-bom", T::Bundle(B::UnknownEntry { path })) => path == "manifests/zz-extra.yaml",
        ("bom-entry-missing", T::Bundle(B::MissingEntry { path })) => path.as_str() == "manifests/service.yaml",
        ("duplicate-entry", T::Bundle(B::DuplicateEntry { path })) => path == "manifests/service.yaml",
        ("path-dotdot", T::Bundle(B::UnsafePath { path, .. })) => path == "../evil.yaml",
        ("path-absolute", T::Bundle(B::UnsafePath { path, .. })) => path == "/etc/evil.yaml",
        ("path-not-utf8", T::Bundle(B::UnsafePath { reason, .. })) => reason == "not UTF-8",
        ("symlink-entry", T::Bundle(B::ForbiddenEntryType { kind, .. })) => *kind == "symbolic link",
        ("hardlink-entry", T::Bundle(B::ForbiddenEntryType { kind, .. })) => *kind == "hard link",
        ("device-entry", T::Bundle(B::ForbiddenEntryType { kind, .. })) => *kind == "character device",
        ("truncated", T::Bundle(B::Truncated { .. })) => true,
        // "GARBAGE AFTER THE SEEK TABLE\n"
        ("trailing-garbage", T::Bundle(B::TrailingData { bytes })) => *bytes == 29,
        ("decompression-bomb", T::Bundle(B::LimitExceeded { what, .. })) => *what == "decompression ratio",
        ("blob-name-mismatch", T::Bundle(B::BomInvalid(reason))) => reason.contains("a blob's name must be its digest"),
        ("oversized-bom", T::Bundle(B::LimitExceeded { what, actual, limit })) => {
            *what == "bom.json size" && *limit == Limits::default().max_bom_size && *actual == limit + 1
        }
        ("provenance-from-other-bundle", T::ProvenanceRefused { reason }) => reason.starts_with("its subject"),
        ("provenance-tampered", T::ProvenanceRefused { reason }) => {
            reason.starts_with("its signature does not verify with the bundle key")
        }
        ("sbom-entry-missing", T::SbomIncomplete { missing, .. }) => *missing == ["manifest manifests/service.yaml"],
        ("sha256-sidecar-mismatch", T::SidecarDigestMismatch { path, .. }) => *path == sha256_sidecar,
        ("sig-sidecar-other-key", T::SidecarSignatureInvalid { path, .. }) => *path == sig_sidecar,
        ("cosign-bundle-other-key", T::SidecarSignatureInvalid { path, .. }) => *path == cosign_bundle_path(&archive),
        _ => false,
    }
}

/// Every regular file under `dir`, by its path relative to `dir`, with its size and SHA-256;
/// anything but files and directories fails the test.
fn files_under(dir: &Path) -> BTreeMap<String, (u64, Digest)> {
    fn walk(root: &Path, dir: &Path, files: &mut BTreeMap<String, (u64, Digest)>) {
        for entry in std::fs::read_dir(dir).unwrap() {
            let path = entry.unwrap().path();
            let kind = std::fs::symlink_metadata(&path).unwrap().file_type();
            if kind.is_dir() {
                walk(root, &path, files);
            } else {
                assert!(kind.is_file(), "{} is neither a file nor a directory", path.display());
                let bytes = std::fs::read(&path).unwrap();
                let digest = Digest::from_sha256_bytes(sha2::Sha256::digest(&bytes).into());
                let relative = path.strip_prefix(root).unwrap().to_str().unwrap().to_owned();
                files.insert(relative, (bytes.len() as u64, digest));
            }
        }
    }
    let mut files = BTreeMap::new();
    walk(dir, dir, &mut files);
    files
}

/// The names in `dir`.
fn listing(dir: &Path) -> Vec<String> {
    std::fs::read_dir(dir).unwrap().map(|e| e.unwrap().file_name().to_string_lossy().into_owned()).collect()
}

#[test]
fn every_case_directory_has_its_expected_outcome_here() {
    let mut cases = listing(&fixtures_dir().join("bundles"));
    cases.sort();
    let mut known: Vec<&str> = REFUSED.iter().copied().chain(["good"]).collect();
    known.sort();
    assert_eq!(cases, known, "a case in fixtures/bundles/ needs its expected refusal in REFUSED and is_its_refusal");
}

#[test]
fn the_good_bundle_verifies_checks_and_extracts_to_exactly_its_bom() {
    let checked = verified("good").unwrap().check().unwrap();
    let report = checked.report();
    assert_eq!((report.head.name.as_str(), report.head.version.as_str()), ("demo", "0.1.0"));
    assert_eq!(report.files, checked.bom().files.len() as u64);
    let archive = fixture_bundle("good");
    let (sha256_sidecar, sig_sidecar) = sidecar_paths(&archive);
    assert_eq!(report.sha256_sidecar, Sidecar::Match { path: sha256_sidecar });
    assert_eq!(report.signature_sidecar, Sidecar::Match { path: sig_sidecar });
    assert_eq!(report.cosign_bundle_sidecar, Sidecar::Match { path: cosign_bundle_path(&archive) });

    let parent = tempfile::tempdir().unwrap();
    let target = parent.path().join("demo");
    let extracted = verified("good").unwrap().extract(&target).unwrap();
    assert_eq!(extracted.extracted_to.as_deref(), Some(target.as_path()));
    assert_eq!(extracted.archive_sha256, report.archive_sha256);
    let mut expected: BTreeMap<String, (u64, Digest)> =
        checked.bom().files.iter().map(|f| (f.path.as_str().to_owned(), (f.size, f.sha256.clone()))).collect();
    // Beside the payload, the head, byte for byte as the archive holds it.
    let head = genesis_bundle::ArchiveReader::open_head(&archive, &Limits::default()).unwrap().read_head().unwrap();
    let provenance = head.provenance.expect("the good bundle carries a provenance");
    for (name, bytes) in
        [("bom.json", &head.bom), ("bom.json.sig", &head.signature), ("provenance/bundle.intoto.json", &provenance)]
    {
        let digest = Digest::from_sha256_bytes(sha2::Sha256::digest(bytes).into());
        expected.insert(name.to_owned(), (bytes.len() as u64, digest));
    }
    assert_eq!(files_under(&target), expected);
    assert_eq!(listing(parent.path()), ["demo"], "only the target, no staging directory");
}

#[test]
fn every_other_case_is_refused_with_its_own_error_by_check_and_by_extract_leaving_nothing() {
    let mut failures = Vec::new();
    for &case in REFUSED {
        match verified(case).and_then(|bundle| bundle.check()) {
            Ok(_) => failures.push(format!("{case}: check accepted it")),
            Err(e) if !is_its_refusal(case, &e) => failures.push(format!("{case}: check refused it with {e:?}")),
            Err(_) => {}
        }
        let parent = tempfile::tempdir().unwrap();
        match verified(case).and_then(|bundle| bundle.extract(&parent.path().join("out"))) {
            Ok(_) => failures.push(format!("{case}: extract accepted it")),
            Err(e) if !is_its_refusal(case, &e) => failures.push(format!("{case}: extract refused it with {e:?}")),
            Err(_) => {}
        }
        if !listing(parent.path()).is_empty() {
            failures.push(format!("{case}: extract left {:?}", listing(parent.path())));
        }
    }
    assert!(failures.is_empty(), "{failures:#?}");
}
