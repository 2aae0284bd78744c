//! What the report holds: every image, chart and manifest of the BOM, the checks in the
//! verifier's order, the provenance's materials, the SBOM's totals, the four safeguards.

use std::collections::BTreeMap;

use genesis_report::{Format, NOT_DECLARED, Outcome, ReleaseReport, ReportError, SbomTotals, UNSPECIFIED, render};
use genesis_types::{Classify as _, ErrorClass};

use crate::checked;

#[test]
fn every_image_chart_and_manifest_of_the_bom_is_in_the_report_and_its_html_page() {
    let checked = checked();
    let bom = checked.bom();
    let report = ReleaseReport::of(&checked, "trusted key test.pub").unwrap();
    assert_eq!((report.name.as_str(), report.version.as_str()), ("demo", "0.1.0"));
    assert_eq!(report.created, "2025-01-01T00:00:00Z");
    assert_eq!(report.images, bom.images);
    assert_eq!(report.charts, bom.charts);
    assert_eq!(report.manifests, bom.manifests);
    assert!(!report.images.is_empty() && !report.charts.is_empty() && !report.manifests.is_empty());
    assert_eq!(report.archive.file, "demo-0.1.0.tar.zst");
    assert_eq!(report.archive.sha256, checked.report().archive_sha256);
    assert_eq!(report.bom.blake3, checked.report().head.bom_blake3);
    assert_eq!(report.signer, checked.report().head.signer);
    assert!(report.countersigners.is_empty(), "the fixture has no countersignature");
    assert!(serde_json::to_value(&report).unwrap().get("countersigners").is_none(), "left out when empty");

    let html = String::from_utf8(render(&report, Format::Html).unwrap()).unwrap();
    for image in &bom.images {
        assert!(html.contains(&image.reference), "{} in the page", image.reference);
        assert!(html.contains(&image.digest.to_string()), "{} in the page", image.digest);
        assert!(html.contains(&image.platforms.join(", ")), "{:?} in the page", image.platforms);
    }
    for chart in &bom.charts {
        assert!(html.contains(&chart.name) && html.contains(chart.path.as_str()), "{} in the page", chart.path);
    }
    for manifest in &bom.manifests {
        assert!(html.contains(manifest.path.as_str()), "{} in the page", manifest.path);
    }
}

#[test]
fn the_checks_are_listed_in_the_order_the_verifier_makes_them_and_all_passed() {
    let report = ReleaseReport::of(&checked(), "trusted key test.pub").unwrap();
    let order: Vec<&str> = report.checks.iter().map(|c| c.what.as_str()).collect();
    assert_eq!(
        order,
        [
            "BOM signature",
            "BOM",
            "SLSA provenance",
            "Payload",
            "SBOM",
            "Digest sidecar (.sha256)",
            "Detached signature (.sig)",
            "Sigstore bundle (.cosign.bundle)",
        ]
    );
    for check in &report.checks {
        assert_eq!(check.outcome, Outcome::Passed, "{check:?}: the good fixture carries every sidecar");
    }
    assert!(report.checks[0].evidence.contains(&report.signer.to_string()), "{:?}", report.checks[0]);
    assert!(report.checks[5].evidence.contains(&report.archive.sha256.to_string()), "{:?}", report.checks[5]);
}

#[test]
fn the_provenance_lists_the_builder_the_spec_and_every_material() {
    let report = ReleaseReport::of(&checked(), "trusted key test.pub").unwrap();
    let provenance = report.provenance.as_ref().expect("the fixture carries provenance");
    assert_eq!(provenance.builder_id, "https://genesis.dev/bundle-builder@v0.1.0");
    assert!(provenance.spec_sha256.as_deref().is_some_and(|d| d.starts_with("sha256:")), "{provenance:?}");
    let materials: Vec<(&str, &str)> = provenance.materials.iter().map(|m| (m.name.as_str(), m.uri.as_str())).collect();
    assert_eq!(materials, [("app", "oci:images/app:1.0"), ("web", "charts/web-0.1.0.tgz")]);
    assert_eq!(provenance.materials[0].sha256.as_deref(), Some(report.images[0].digest.to_string().as_str()));
    assert_eq!(provenance.dependencies, provenance.materials.len());
}

#[test]
fn the_fixture_sbom_is_counted_by_type_with_nested_components_and_no_licence_declared() {
    let report = ReleaseReport::of(&checked(), "trusted key test.pub").unwrap();
    let sbom = report.sbom.as_ref().expect("the fixture carries an SBOM");
    assert_eq!(sbom.path, "sbom/bundle.cdx.json");
    // The image index, its two per-platform manifests, the chart and three manifests.
    assert_eq!(sbom.components, 7);
    let by_type: Vec<(&str, usize)> = sbom.by_type.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    assert_eq!(by_type, [("application", 1), ("container", 3), ("file", 3)]);
    assert_eq!(sbom.by_licence, BTreeMap::from([(NOT_DECLARED.to_owned(), 7)]));
}

#[test]
fn sbom_totals_count_each_component_once_under_its_type_and_its_licences() {
    let document = serde_json::json!({
        "bomFormat": "CycloneDX",
        "specVersion": "1.5",
        "components": [
            { "type": "library", "name": "a", "licenses": [ { "license": { "id": "MIT" } } ] },
            { "type": "library", "name": "b", "licenses": [ { "expression": "MIT OR Apache-2.0" } ] },
            { "type": "library", "name": "c",
              "licenses": [ { "license": { "id": "MIT" } }, { "license": { "name": "Apache-2.0" } } ] },
            { "type": "container", "name": "d", "components": [
                { "type": "library", "name": "e", "licenses": [ { "license": { "name": "Vendor EULA" } } ] },
                { "name": "f" }
            ] }
        ]
    });
    let totals = SbomTotals::from_cyclonedx("sbom/bundle.cdx.json", &serde_json::to_vec(&document).unwrap()).unwrap();
    assert_eq!(totals.components, 6);
    let by_type: Vec<(&str, usize)> = totals.by_type.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    assert_eq!(by_type, [("container", 1), ("library", 4), (UNSPECIFIED, 1)]);
    let by_licence: Vec<(&str, usize)> = totals.by_licence.iter().map(|(k, n)| (k.as_str(), *n)).collect();
    assert_eq!(
        by_licence,
        [("Apache-2.0, MIT", 1), ("MIT", 1), ("MIT OR Apache-2.0", 1), ("Vendor EULA", 1), (NOT_DECLARED, 2)]
    );
    assert_eq!(totals.by_licence.values().sum::<usize>(), totals.components);
}

#[test]
fn an_sbom_that_is_not_cyclonedx_json_is_refused_as_a_verdict() {
    for document in [&b"not json"[..], &br#"{"spdxVersion": "SPDX-2.3"}"#[..]] {
        let e = SbomTotals::from_cyclonedx("sbom/bundle.cdx.json", document).unwrap_err();
        assert!(matches!(&e, ReportError::Sbom { path, .. } if path == "sbom/bundle.cdx.json"), "{e:?}");
        assert_eq!(e.class(), ErrorClass::Verdict);
    }
}

#[test]
fn the_four_safeguards_each_say_what_the_evidence_shows_and_what_it_does_not() {
    let report = ReleaseReport::of(&checked(), "trusted key test.pub").unwrap();
    let sections: Vec<&str> = report.safeguards.iter().map(|s| s.section).collect();
    assert_eq!(sections, ["§164.312(c)(1)", "§164.312(e)(1)", "§164.312(b)", "§164.312(d)"]);
    for safeguard in &report.safeguards {
        assert!(!safeguard.shows.is_empty() && !safeguard.does_not_show.is_empty(), "{safeguard:?}");
    }
    let authentication = &report.safeguards[3];
    assert!(authentication.shows[0].contains(&report.signer.to_string()), "{authentication:?}");
    assert!(authentication.shows[0].contains("trusted key test.pub"), "{authentication:?}");
}

#[test]
fn a_report_made_again_under_another_policy_agrees_in_checks_and_digests_not_bytes_as_the_report_says() {
    let checked = checked();
    // The builder's report names the builder's own key; an auditor's, the key file it trusts.
    let builders =
        ReleaseReport::of(&checked, &format!("the builder's own key (fingerprint {})", checked.report().head.signer))
            .unwrap();
    let auditors = ReleaseReport::of(&checked, "trusted key test.pub").unwrap();
    assert_eq!(
        (&builders.archive, &builders.bom, &builders.signer, &builders.checks),
        (&auditors.archive, &auditors.bom, &auditors.signer, &auditors.checks)
    );
    assert_ne!(render(&builders, Format::Pdf).unwrap(), render(&auditors, Format::Pdf).unwrap());

    let audit = &auditors.safeguards[2];
    assert_eq!(audit.section, "§164.312(b)");
    let said = [audit.shows.as_slice(), audit.does_not_show.as_slice()].concat().join(" ");
    for claim in ["the report file itself is not signed", "file published with the release", "genesis report"] {
        assert!(said.contains(claim), "{claim:?} in {said}");
    }
    assert!(said.contains("checks and digests must agree with these, but not its bytes"), "{said}");
    for untrue in ["byte for byte", "regenerate", "and compare"] {
        assert!(!said.contains(untrue), "{untrue:?}: no report made later gives these bytes: {said}");
    }
}

#[test]
fn a_report_is_written_whole_or_not_at_all_and_a_missing_folder_is_not_found() {
    let dir = tempfile::tempdir().unwrap();
    let checked = checked();
    let out = dir.path().join("demo.report.html");
    let written = genesis_report::write_report(&checked, "trusted key test.pub", &out, Format::Html).unwrap();
    assert_eq!(written, out);
    let report = ReleaseReport::of(&checked, "trusted key test.pub").unwrap();
    assert_eq!(std::fs::read(&out).unwrap(), render(&report, Format::Html).unwrap());

    let nowhere = dir.path().join("no/such/folder/demo.report.pdf");
    let e = genesis_report::write_report(&checked, "trusted key test.pub", &nowhere, Format::Pdf).unwrap_err();
    assert!(matches!(&e, ReportError::Write { path, .. } if *path == nowhere), "{e:?}");
    assert_eq!(e.class(), ErrorClass::NotFound);
    let left: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert_eq!(left, [std::ffi::OsString::from("demo.report.html")], "no scratch file is left");
}

/// A bundle countersigned by a cosigner of the policy: its report names the countersigner
/// beside the vendor's signer, on the cover and in the signature section of its page, in a
/// check after the provenance, in the authentication safeguard and in its JSON.
#[test]
fn a_countersigned_bundles_report_names_its_countersigner() {
    use genesis_trust::{AcceptedSigner, Limits, PrivateKey, PublicKey, TrustPolicy, UnverifiedBundle};

    let dir = tempfile::tempdir().unwrap();
    let archive = dir.path().join("demo-0.1.0.tar.zst");
    std::fs::copy(crate::fixtures_dir().join("bundles/good/demo-0.1.0.tar.zst"), &archive).unwrap();
    let vendor = PublicKey::from_pem_file(&crate::fixtures_dir().join("keys/test.pub")).unwrap();
    let customer = PrivateKey::generate();
    let cosigners = vec![(customer.public_key(), None)];
    let constraints = genesis_trust::policy_file::Constraints::default().with_cosigners(cosigners);
    let policy = TrustPolicy::from_keys(vec![vendor]).unwrap().with_constraints(constraints);
    genesis_trust::countersign(&archive, &customer, &policy, &Limits::default()).unwrap();
    let checked =
        UnverifiedBundle::open(&archive, &Limits::default()).unwrap().verify(&policy).unwrap().check().unwrap();
    let report = ReleaseReport::of(&checked, "policy file trust.yaml").unwrap();

    let countersigner = AcceptedSigner::key(&customer.public_key());
    assert_eq!(report.countersigners, std::slice::from_ref(&countersigner));
    let said = countersigner.to_string();
    let check = &report.checks[3];
    assert_eq!((check.what.as_str(), check.outcome), ("Countersignature", Outcome::Passed), "{check:?}");
    assert!(check.evidence.contains(&said), "{check:?}");
    assert!(report.safeguards[3].shows.iter().any(|s| s.contains(&said)), "{:?}", report.safeguards[3]);
    let json = serde_json::to_value(&report).unwrap();
    assert_eq!(
        json["countersigners"],
        serde_json::json!([{"kind": "key", "fingerprint": customer.public_key().fingerprint().to_string()}])
    );
    let html = String::from_utf8(render(&report, Format::Html).unwrap()).unwrap();
    assert_eq!(html.matches("Countersigned by").count(), 2, "on the cover and beside the signature");
    assert!(html.contains(&said), "{said} in the page");
}
