//! Registry-to-registry copies ([`CopySession`]): the fixture index (linux/amd64 and
//! linux/arm64) pushed by skopeo into one Distribution and copied to another keeps its
//! digests and bytes as skopeo reads them; what is present is not sent again; a blob served
//! wrong never lands and leaves no manifest; signatures and referrers travel along.

use std::io::{self, Write as _};
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicBool, Ordering::SeqCst};

use genesis_bundle::{ProgressCounter, sha256};
use genesis_registry::resolver::cosign_signature;
use genesis_registry::{CopiedImage, CopySession, CopyStats, Registry, RegistryError, RegistryOptions, fallback_tag};
use genesis_testkit::http::{StandIn, respond, runtime};
use genesis_testkit::{Distribution, Ocireg, attach_referrer, cosign_sign, push_fixture_image, text};
use genesis_trust::PublicKey;
use genesis_trust::cosign_image::Signers;
use genesis_types::{Classify as _, ErrorClass};

use crate::fixtures;

/// A plain-HTTP client of the registry at `host`.
fn client(host: &str) -> Registry {
    Registry::new(host, &RegistryOptions { plain_http: true, ..Default::default() }).unwrap()
}

/// Copies `demo/app:1.0` of `source` to `repo:1.0` of `destination` in `session`, counting
/// the bytes sent in `progress`.
fn copy_with(
    session: &CopySession,
    source: &str,
    destination: &str,
    repo: &str,
    progress: &ProgressCounter,
) -> Result<CopiedImage, RegistryError> {
    let (source, destination) = (client(source), client(destination));
    runtime().block_on(session.copy_image(&source, "demo/app", "1.0", &destination, repo, Some("1.0"), progress))
}

fn copy(session: &CopySession, source: &str, destination: &str, repo: &str) -> Result<CopiedImage, RegistryError> {
    copy_with(session, source, destination, repo, &ProgressCounter::default())
}

/// The manifest or index at `reference` (`HOST/REPO:TAG` or `HOST/REPO@DIGEST`), as skopeo
/// reads it.
fn skopeo_raw(reference: &str) -> Vec<u8> {
    let out = Command::new("skopeo")
        .args(["inspect", "--raw", "--tls-verify=false", &format!("docker://{reference}")])
        .output()
        .expect("skopeo must be installed");
    assert!(out.status.success(), "{reference}: {}", text(&out.stderr));
    out.stdout
}

/// A fixture blob (a manifest, a config, a layer) by digest, parsed.
fn fixture_json(digest: &str) -> serde_json::Value {
    let path = fixtures().join("images/app/blobs/sha256").join(digest.trim_start_matches("sha256:"));
    serde_json::from_slice(&std::fs::read(path).unwrap()).unwrap()
}

/// The digest of the fixture's top index, tagged `1.0`.
fn fixture_top() -> String {
    let layout: serde_json::Value =
        serde_json::from_slice(&std::fs::read(fixtures().join("images/app/index.json")).unwrap()).unwrap();
    layout["manifests"][0]["digest"].as_str().unwrap().to_owned()
}

/// The digests of the fixture's manifests, the index first.
fn fixture_manifests() -> Vec<String> {
    let top = fixture_top();
    let children = fixture_json(&top)["manifests"].as_array().unwrap().clone();
    std::iter::once(top).chain(children.iter().map(|c| c["digest"].as_str().unwrap().to_owned())).collect()
}

/// The first layer of the fixture's linux/amd64 image.
fn fixture_layer() -> String {
    let amd64 = fixture_json(&fixture_top())["manifests"][0]["digest"].as_str().unwrap().to_owned();
    fixture_json(&amd64)["layers"][0]["digest"].as_str().unwrap().to_owned()
}

/// A registry stand-in serving the fixture image as `demo/app:1.0` (manifests from the
/// layout, 404 for anything else), each blob answered by `blob` with its digest and bytes.
fn fixture_source<F>(blob: F) -> StandIn
where
    F: Fn(&str, Vec<u8>, &mut TcpStream) -> io::Result<()> + Send + 'static,
{
    let blobs = fixtures().join("images/app/blobs/sha256");
    let top = fixture_top();
    StandIn::start(move |request, conn| {
        let read = |digest: &str| std::fs::read(blobs.join(digest.trim_start_matches("sha256:")));
        if let Some(reference) = request.target.strip_prefix("/v2/demo/app/manifests/") {
            let digest = if reference == "1.0" { top.as_str() } else { reference };
            if let Ok(manifest) = read(digest) {
                return respond(conn, "200 OK", &[], &manifest);
            }
        }
        if let Some(digest) = request.target.strip_prefix("/v2/demo/app/blobs/")
            && let Ok(bytes) = read(digest)
        {
            return blob(digest, bytes, conn);
        }
        respond(conn, "404 Not Found", &[], b"")
    })
}

#[test]
fn a_multi_arch_image_arrives_with_its_digest_its_bytes_and_every_platform() {
    let (source, destination) = (Distribution::start(), Distribution::start());
    push_fixture_image(&source.host(), "demo/app:1.0");
    let progress = ProgressCounter::default();

    let copied = copy_with(&CopySession::new(4), &source.host(), &destination.host(), "mirror/app", &progress).unwrap();

    let index = skopeo_raw(&format!("{}/demo/app:1.0", source.host()));
    assert_eq!(skopeo_raw(&format!("{}/mirror/app:1.0", destination.host())), index);
    assert_eq!(copied.digest, sha256(&index));
    assert_eq!(copied.manifest, index);
    assert_eq!(copied.platforms, ["linux/amd64", "linux/arm64"]);
    let mut blob_bytes = 0;
    for child in serde_json::from_slice::<serde_json::Value>(&index).unwrap()["manifests"].as_array().unwrap() {
        let digest = child["digest"].as_str().unwrap();
        let manifest = skopeo_raw(&format!("{}/demo/app@{digest}", source.host()));
        assert_eq!(skopeo_raw(&format!("{}/mirror/app@{digest}", destination.host())), manifest, "{digest}");
        let manifest: serde_json::Value = serde_json::from_slice(&manifest).unwrap();
        let layers = manifest["layers"].as_array().unwrap().iter().map(|l| l["size"].as_u64().unwrap());
        blob_bytes += manifest["config"]["size"].as_u64().unwrap() + layers.sum::<u64>();
    }
    let sent = CopyStats { blobs_uploaded: 4, bytes_sent: blob_bytes, manifests_pushed: 3, ..CopyStats::default() };
    assert_eq!(copied.stats, sent);
    assert_eq!(progress.done(), blob_bytes);
    assert_eq!(destination.completed_uploads().len(), 4);
    assert!(copied.carried.is_empty(), "{:?}", copied.carried);
}

#[test]
fn a_second_copy_sends_nothing_and_another_repository_mounts_what_the_session_sent() {
    let (source, destination) = (Distribution::start(), Distribution::start());
    push_fixture_image(&source.host(), "demo/app:1.0");
    let session = CopySession::new(4);
    copy(&session, &source.host(), &destination.host(), "mirror/app").unwrap();
    let uploads = destination.completed_uploads();

    // A new session: what the destination has is found there, not remembered.
    let again = copy(&CopySession::new(4), &source.host(), &destination.host(), "mirror/app").unwrap();
    assert_eq!(again.stats, CopyStats { blobs_present: 4, manifests_present: 3, ..CopyStats::default() });

    let other = copy(&session, &source.host(), &destination.host(), "other/app").unwrap();
    assert_eq!(other.stats, CopyStats { blobs_mounted: 4, manifests_pushed: 3, ..CopyStats::default() });
    assert_eq!(destination.completed_uploads(), uploads, "a blob was sent again");
    assert_eq!(
        skopeo_raw(&format!("{}/other/app:1.0", destination.host())),
        skopeo_raw(&format!("{}/demo/app:1.0", source.host()))
    );
}

#[test]
fn a_copy_within_one_registry_mounts_every_blob_from_the_source_repository() {
    let registry = Distribution::start();
    push_fixture_image(&registry.host(), "demo/app:1.0");
    let uploads = registry.completed_uploads();

    let copied = copy(&CopySession::new(4), &registry.host(), &registry.host(), "edge/app").unwrap();

    assert_eq!(copied.stats, CopyStats { blobs_mounted: 4, manifests_pushed: 3, ..CopyStats::default() });
    assert_eq!(registry.completed_uploads(), uploads, "a blob was uploaded");
    assert_eq!(
        skopeo_raw(&format!("{}/edge/app:1.0", registry.host())),
        skopeo_raw(&format!("{}/demo/app:1.0", registry.host()))
    );
}

#[test]
fn two_copies_of_one_image_at_once_upload_each_blob_once() {
    let (source, destination) = (Distribution::start(), Distribution::start());
    push_fixture_image(&source.host(), "demo/app:1.0");
    let (src, dst) = (client(&source.host()), client(&destination.host()));
    let session = CopySession::new(4);
    let progress = ProgressCounter::default();

    let (a, b) = runtime().block_on(async {
        tokio::join!(
            session.copy_image(&src, "demo/app", "1.0", &dst, "mirror/app", Some("1.0"), &progress),
            session.copy_image(&src, "demo/app", "1.0", &dst, "mirror/app", Some("1.0"), &progress),
        )
    });

    let (a, b) = (a.unwrap().stats, b.unwrap().stats);
    assert_eq!((a.blobs_uploaded + b.blobs_uploaded, a.blobs_present + b.blobs_present), (4, 4), "{a:?} {b:?}");
    assert_eq!(destination.completed_uploads().len(), 4);
}

#[test]
fn a_blob_the_source_serves_wrong_is_refused_without_a_retry_and_its_image_never_reaches_the_destination() {
    let bad = fixture_layer();
    let wrong = bad.clone();
    let source = fixture_source(move |digest, mut bytes, conn| {
        if digest == wrong {
            bytes[0] ^= 0xff;
        }
        respond(conn, "200 OK", &[], &bytes)
    });
    let destination = Distribution::start();

    let error = copy(&CopySession::new(4), &format!("127.0.0.1:{}", source.port), &destination.host(), "mirror/app")
        .unwrap_err();

    match &error {
        RegistryError::DigestMismatch { what, .. } => assert!(what.contains(&bad), "{what}"),
        other => panic!("{other}"),
    }
    assert_eq!(error.class(), ErrorClass::Verdict);
    let asked = source.seen().iter().filter(|r| r.target.ends_with(&bad)).count();
    assert_eq!(asked, 1, "the blob was asked for again");
    assert!(!destination.stored_blob_hexes().contains(&bad.trim_start_matches("sha256:").to_owned()));
    let dst = client(&destination.host());
    runtime().block_on(async {
        for digest in fixture_manifests() {
            assert!(!dst.has_manifest("mirror/app", &digest.parse().unwrap()).await.unwrap(), "{digest}");
        }
        let tagged = dst.get_manifest("mirror/app", "1.0").await;
        assert!(matches!(tagged, Err(RegistryError::NotFound(_))), "{tagged:?}");
    });
}

#[test]
fn a_download_cut_short_starts_its_blob_again_and_the_copy_completes() {
    let layer = fixture_layer();
    let cut = AtomicBool::new(false);
    let source = {
        let layer = layer.clone();
        fixture_source(move |digest, bytes, conn| {
            if digest == layer && !cut.swap(true, SeqCst) {
                // Announces the whole blob and sends half of it.
                let head = format!("HTTP/1.1 200 OK\r\nContent-Length: {}\r\nConnection: close\r\n\r\n", bytes.len());
                conn.write_all(head.as_bytes())?;
                return conn.write_all(&bytes[..bytes.len() / 2]);
            }
            respond(conn, "200 OK", &[], &bytes)
        })
    };
    let destination = Distribution::start();
    let progress = ProgressCounter::default();

    let copied = copy_with(
        &CopySession::new(4),
        &format!("127.0.0.1:{}", source.port),
        &destination.host(),
        "mirror/app",
        &progress,
    )
    .unwrap();

    assert_eq!(source.seen().iter().filter(|r| r.target.ends_with(&layer)).count(), 2);
    assert_eq!(copied.stats.blobs_uploaded, 4);
    assert_eq!(progress.done(), copied.stats.bytes_sent, "bytes of the failed attempt still count");
    let index =
        std::fs::read(fixtures().join("images/app/blobs/sha256").join(fixture_top().trim_start_matches("sha256:")))
            .unwrap();
    assert_eq!(skopeo_raw(&format!("{}/mirror/app:1.0", destination.host())), index);
}

/// Pushes the fixture image to `demo/app:1.0` of `host` and attaches an SPDX document to its
/// index as a referrer (the tag schema's way); returns the index and the referrer's digest.
fn image_with_sbom(host: &str) -> (genesis_registry::Manifest, String) {
    push_fixture_image(host, "demo/app:1.0");
    let top = runtime().block_on(client(host).get_manifest("demo/app", "1.0")).unwrap();
    let subject =
        serde_json::json!({"mediaType": top.media_type, "digest": top.digest.to_string(), "size": top.bytes.len()});
    let sbom = attach_referrer(host, "demo/app", &subject, "application/spdx+json", br#"{"spdxVersion":"SPDX-2.3"}"#);
    (top, sbom)
}

#[test]
fn a_cosign_signature_and_a_referrer_travel_with_the_image_and_verify_at_the_destination() {
    let (source, destination) = (Distribution::start(), Distribution::start());
    let (top, sbom) = image_with_sbom(&source.host());
    cosign_sign(&source.host(), "demo/app", &top.digest.to_string(), &fixtures().join("keys/test.key"));

    let copied = copy(&CopySession::new(4), &source.host(), &destination.host(), "mirror/app").unwrap();

    let signature_tag = format!("sha256-{}.sig", top.digest.hex());
    assert_eq!(copied.carried, [format!("cosign signature {signature_tag}"), format!("referrer {sbom}")]);
    let (src, dst) = (client(&source.host()), client(&destination.host()));
    let key = PublicKey::from_pem_file(&fixtures().join("keys/test.pub")).unwrap();
    let signers = Signers { keys: vec![key], ..Signers::default() };
    runtime().block_on(async {
        cosign_signature(&dst, "mirror/app", &top.digest, &signers).await.unwrap();
        let signature = dst.get_manifest("mirror/app", &signature_tag).await.unwrap();
        assert_eq!(signature.bytes, src.get_manifest("demo/app", &signature_tag).await.unwrap().bytes);
        let (referrers, api) = dst.referrers("mirror/app", &top.digest).await.unwrap();
        assert!(!api, "Distribution has no Referrers API: the tag schema lists the referrer");
        assert_eq!(referrers.iter().map(|r| r.digest.to_string()).collect::<Vec<_>>(), std::slice::from_ref(&sbom));
        assert_eq!(referrers[0].artifact_type.as_deref(), Some("application/spdx+json"));
    });

    // Carried again, nothing is sent again.
    let again = copy(&CopySession::new(4), &source.host(), &destination.host(), "mirror/app").unwrap();
    assert_eq!(again.stats.bytes_sent + again.stats.manifests_pushed as u64, 0, "{:?}", again.stats);
}

#[test]
fn a_referrer_copied_to_a_registry_with_the_referrers_api_is_listed_by_that_api() {
    let (source, destination) = (Distribution::start(), Ocireg::start());
    let (top, sbom) = image_with_sbom(&source.host());

    let copied = copy(&CopySession::new(4), &source.host(), &destination.host(), "mirror/app").unwrap();

    assert_eq!(copied.carried, [format!("referrer {sbom}")]);
    let dst = client(&destination.host());
    runtime().block_on(async {
        let (referrers, api) = dst.referrers("mirror/app", &top.digest).await.unwrap();
        assert!(api);
        assert_eq!(referrers.iter().map(|r| r.digest.to_string()).collect::<Vec<_>>(), std::slice::from_ref(&sbom));
        let schema = dst.get_manifest("mirror/app", &fallback_tag(&top.digest)).await;
        assert!(matches!(schema, Err(RegistryError::NotFound(_))), "a tag-schema index beside the API: {schema:?}");
    });
}
