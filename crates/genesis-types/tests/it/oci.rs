//! OCI manifests and indexes as registries, layouts and bundles hand them over: generated
//! documents parse and keep their digests; with a node replaced or removed, or bytes
//! damaged, they parse or are refused with an error, never a panic, and whatever parses
//! still holds only well-formed digests.

use genesis_testkit::fuzz::{damaged, edit};
use genesis_types::{Digest, ImageIndex, ImageManifest, ImageReference, Platform};
use proptest::prelude::*;
use serde_json::{Value, json};

fn digest_text() -> impl Strategy<Value = String> + Clone {
    prop_oneof![
        4 => any::<[u8; 32]>().prop_map(|b| Digest::from_sha256_bytes(b).to_string()),
        1 => "sha512:[0-9a-f]{128}",
        1 => "(sha256|sha512|md5|SHA256)?:?[0-9a-fA-F]{0,130}",
        1 => r"\PC{0,20}",
    ]
}

fn well_formed_digest() -> impl Strategy<Value = String> + Clone {
    any::<[u8; 32]>().prop_map(|b| Digest::from_sha256_bytes(b).to_string())
}

fn platform() -> impl Strategy<Value = Value> {
    ("[a-z0-9]{1,8}", "[a-z0-9]{1,8}", proptest::option::of("v[0-9]"))
        .prop_map(|(os, architecture, variant)| json!({"os": os, "architecture": architecture, "variant": variant}))
}

/// A descriptor: well-formed when `digest` gives well-formed digests.
fn descriptor(digest: impl Strategy<Value = String>) -> impl Strategy<Value = Value> {
    let media_type = prop_oneof![
        Just("application/vnd.oci.image.manifest.v1+json".to_owned()),
        Just("application/vnd.oci.image.layer.v1.tar+gzip".to_owned()),
        "[a-z./+-]{0,40}",
    ];
    let annotations = prop::collection::btree_map("[a-z.]{1,12}", r"\PC{0,12}", 0..3);
    (media_type, digest, any::<u64>(), proptest::option::of(platform()), annotations).prop_map(
        |(media_type, digest, size, platform, annotations)| {
            let mut d = json!({"mediaType": media_type, "digest": digest, "size": size});
            if let Some(p) = platform {
                d["platform"] = p;
            }
            if !annotations.is_empty() {
                d["annotations"] = json!(annotations);
            }
            d
        },
    )
}

fn index(digest: impl Strategy<Value = String>) -> impl Strategy<Value = Value> {
    prop::collection::vec(descriptor(digest), 0..5).prop_map(|manifests| {
        json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json", "manifests": manifests})
    })
}

fn manifest(digest: impl Strategy<Value = String> + Clone) -> impl Strategy<Value = Value> {
    (descriptor(digest.clone()), prop::collection::vec(descriptor(digest.clone()), 0..5), proptest::option::of(descriptor(digest)))
        .prop_map(|(config, layers, subject)| {
            let mut m = json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config, "layers": layers});
            if let Some(s) = subject {
                m["subject"] = s;
            }
            m
        })
}

/// Every digest a parsed document holds is well-formed and was in its text.
fn digests_hold(digests: &[&Digest], text: &[u8]) -> Result<(), TestCaseError> {
    let text = String::from_utf8_lossy(text);
    for d in digests {
        let reparsed = d.to_string().parse::<Digest>();
        prop_assert_eq!(reparsed.as_ref(), Ok(*d));
        prop_assert!(text.contains(d.hex()), "{} is not in the document", d);
    }
    Ok(())
}

/// Parses `bytes` as an index and as a manifest: each is parsed or refused, never a panic.
fn parse_both(bytes: &[u8]) -> Result<(), TestCaseError> {
    if let Ok(index) = serde_json::from_slice::<ImageIndex>(bytes) {
        digests_hold(&index.manifests.iter().map(|d| &d.digest).collect::<Vec<_>>(), bytes)?;
    }
    if let Ok(m) = serde_json::from_slice::<ImageManifest>(bytes) {
        let all: Vec<&Digest> =
            std::iter::once(&m.config).chain(&m.layers).chain(&m.subject).map(|d| &d.digest).collect();
        digests_hold(&all, bytes)?;
    }
    Ok(())
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_well_formed_index_parses_and_round_trips(doc in index(well_formed_digest())) {
        let bytes = serde_json::to_vec(&doc).unwrap();
        let parsed: ImageIndex = serde_json::from_slice(&bytes).unwrap();
        prop_assert_eq!(parsed.manifests.len(), doc["manifests"].as_array().unwrap().len());
        let again: ImageIndex = serde_json::from_slice(&serde_json::to_vec(&parsed).unwrap()).unwrap();
        prop_assert_eq!(again, parsed);
    }

    #[test]
    fn a_well_formed_manifest_parses_with_every_blob(doc in manifest(well_formed_digest())) {
        let parsed: ImageManifest = serde_json::from_slice(&serde_json::to_vec(&doc).unwrap()).unwrap();
        prop_assert_eq!(parsed.config.digest.to_string(), doc["config"]["digest"].as_str().unwrap());
        prop_assert_eq!(parsed.layers.len(), doc["layers"].as_array().unwrap().len());
    }

    #[test]
    fn a_document_with_any_digest_text_parses_only_with_well_formed_digests(
        doc in prop_oneof![index(digest_text()), manifest(digest_text())],
    ) {
        parse_both(&serde_json::to_vec(&doc).unwrap())?;
    }

    #[test]
    fn an_edited_document_is_parsed_or_refused(doc in prop_oneof![index(well_formed_digest()), manifest(well_formed_digest())], change in edit()) {
        let mut doc = doc;
        change.apply(&mut doc);
        parse_both(&serde_json::to_vec(&doc).unwrap())?;
    }

    #[test]
    fn damaged_bytes_are_parsed_or_refused(
        bytes in prop_oneof![index(well_formed_digest()), manifest(well_formed_digest())]
            .prop_flat_map(|doc| damaged(serde_json::to_vec(&doc).unwrap())),
    ) {
        parse_both(&bytes)?;
    }

    /// A reference that parses prints as one that parses to the same reference; past the
    /// stated 4096 bytes, none parses.
    #[test]
    fn references_round_trip_and_long_ones_are_refused(
        text in prop_oneof![
            r"([a-z0-9.-]{1,12}(:[0-9]{1,5})?/)?[a-z0-9._/-]{1,30}(:[A-Za-z0-9_.-]{1,20})?(@sha256:[0-9a-f]{64})?",
            r"\PC{0,60}",
        ],
        padding in 0usize..5000,
    ) {
        if let Ok(r) = text.parse::<ImageReference>() {
            prop_assert_eq!(r.to_string().parse::<ImageReference>(), Ok(r));
        }
        let long = format!("{text}{}", "a".repeat(padding));
        prop_assert!(long.len() <= 4096 || long.parse::<ImageReference>().is_err());
    }

    #[test]
    fn platforms_round_trip(text in r"[a-z0-9_./]{0,20}|\PC{0,20}") {
        if let Ok(p) = text.parse::<Platform>() {
            prop_assert_eq!(p.to_string().parse::<Platform>(), Ok(p));
        }
    }
}
