//! Registry-to-registry copies ([`CopySession`]): the fixture index (linux/amd64 and
//! linux/arm64) pushed by skopeo into one Distribution and copied to another keeps its
//! digests and bytes as skopeo reads them; what is present is not sent again; a blob served
//! wrong never lands and leaves no manifest; signatures and referrers travel along, added to
//! what the destination has; a hostile source meets limits.

use std::io::{self, Write as _};
use std::net::TcpStream;
use std::process::Command;
use std::sync::atomic::{AtomicBool, AtomicUsize, Ordering::SeqCst};

use genesis_bundle::{ProgressCounter, sha256};
use genesis_registry::copy::MAX_MANIFESTS;
use genesis_registry::resolver::cosign_signature;
use genesis_registry::{
    CopiedImage, CopySession, CopyStats, Manifest, Registry, RegistryError, RegistryOptions, fallback_tag,
};
use genesis_testkit::http::{StandIn, forward, respond, runtime};
use genesis_testkit::{
    Distribution, Ocireg, attach_referrer, cosign_sign, push_artifact, push_fixture_image, put_manifest, text,
};
use genesis_trust::PublicKey;
use genesis_trust::cosign_image::Signers;
use genesis_types::media_types::{OCI_INDEX, OCI_MANIFEST};
use genesis_types::{Classify as _, Digest, ErrorClass};

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

/// The digest of the fixture's linux/amd64 manifest.
fn fixture_amd64() -> String {
    fixture_json(&fixture_top())["manifests"][0]["digest"].as_str().unwrap().to_owned()
}

/// The first layer of the fixture's linux/amd64 image.
fn fixture_layer() -> String {
    fixture_json(&fixture_amd64())["layers"][0]["digest"].as_str().unwrap().to_owned()
}

/// The descriptor of `manifest`, as an index or a `subject` names it.
fn descriptor(manifest: &Manifest) -> serde_json::Value {
    serde_json::json!({"mediaType": manifest.media_type, "digest": manifest.digest.to_string(), "size": manifest.bytes.len()})
}

/// Trusting the public key `name` of `fixtures/keys`.
fn signers(name: &str) -> Signers {
    let key = PublicKey::from_pem_file(&fixtures().join("keys").join(name)).unwrap();
    Signers { keys: vec![key], ..Signers::default() }
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

/// Pushes the fixture image to `demo/app:1.0` of `host` and attaches `payload` to its index
/// as a referrer of `artifact_type` (the tag schema's way); returns the index and the
/// referrer's digest.
fn image_with_referrer(host: &str, artifact_type: &str, payload: &[u8]) -> (Manifest, String) {
    push_fixture_image(host, "demo/app:1.0");
    let top = runtime().block_on(client(host).get_manifest("demo/app", "1.0")).unwrap();
    let referrer = attach_referrer(host, "demo/app", &descriptor(&top), artifact_type, payload);
    (top, referrer)
}

/// [`image_with_referrer`] with an SPDX document.
fn image_with_sbom(host: &str) -> (Manifest, String) {
    image_with_referrer(host, "application/spdx+json", br#"{"spdxVersion":"SPDX-2.3"}"#)
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
    runtime().block_on(async {
        cosign_signature(&dst, "mirror/app", &top.digest, &signers("test.pub")).await.unwrap();
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

#[test]
fn a_manifest_listed_by_the_top_index_and_by_an_index_within_it_reaches_the_destination_before_either() {
    let (source, destination) = (Distribution::start(), Distribution::start());
    push_fixture_image(&source.host(), "demo/app:1.0");
    let amd64 = fixture_json(&fixture_top())["manifests"][0].clone();
    let index = |manifests: Vec<serde_json::Value>| {
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": manifests}))
            .unwrap()
    };
    // top = [M, I], I = [M]: M is a level deeper under I than under the top.
    let nested = index(vec![amd64.clone()]);
    let nested_digest = sha256(&nested).to_string();
    put_manifest(&source.host(), "demo/app", &nested_digest, OCI_INDEX, &nested);
    let top =
        index(vec![amd64, serde_json::json!({"mediaType": OCI_INDEX, "digest": nested_digest, "size": nested.len()})]);
    put_manifest(&source.host(), "demo/app", "dag", OCI_INDEX, &top);
    let (src, dst) = (client(&source.host()), client(&destination.host()));

    let copied = runtime()
        .block_on(CopySession::new(4).copy_image(
            &src,
            "demo/app",
            "dag",
            &dst,
            "mirror/app",
            Some("dag"),
            &ProgressCounter::default(),
        ))
        .unwrap();

    assert_eq!(copied.stats.manifests_pushed, 3, "{:?}", copied.stats);
    assert_eq!(skopeo_raw(&format!("{}/mirror/app:dag", destination.host())), top);
    assert_eq!(skopeo_raw(&format!("{}/mirror/app@{nested_digest}", destination.host())), nested);
}

#[test]
fn an_index_listing_more_manifests_than_a_copy_takes_is_refused_before_any_is_fetched() {
    let children: Vec<serde_json::Value> = (0..5000u32)
        .map(|i| serde_json::json!({"mediaType": OCI_MANIFEST, "digest": sha256(&i.to_be_bytes()).to_string(), "size": 401}))
        .collect();
    let index =
        serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "mediaType": OCI_INDEX, "manifests": children}))
            .unwrap();
    let source = StandIn::start(move |request, conn| match request.target.as_str() {
        "/v2/demo/app/manifests/1.0" => respond(conn, "200 OK", &[("Content-Type", OCI_INDEX)], &index),
        _ => respond(conn, "404 Not Found", &[], b""),
    });
    let destination = Distribution::start();

    let error = copy(&CopySession::new(4), &format!("127.0.0.1:{}", source.port), &destination.host(), "mirror/app")
        .unwrap_err();

    assert!(error.to_string().contains(&format!("more than {MAX_MANIFESTS} manifests")), "{error}");
    assert_eq!(error.class(), ErrorClass::Input);
    let fetched: Vec<String> =
        source.seen().into_iter().filter(|r| r.target.contains("/manifests/")).map(|r| r.target).collect();
    assert_eq!(fetched, ["/v2/demo/app/manifests/1.0"]);
}

#[test]
fn a_listed_referrer_whose_subject_is_another_image_is_left_behind() {
    let (source, destination) = (Distribution::start(), Distribution::start());
    push_fixture_image(&source.host(), "demo/app:1.0");
    let src = client(&source.host());
    let other = push_artifact(&source.host(), "demo/app", "other", "application/vnd.example.other", b"other");
    let other = runtime().block_on(src.get_manifest("demo/app", &other)).unwrap();
    let stray = attach_referrer(&source.host(), "demo/app", &descriptor(&other), "application/spdx+json", b"{}");
    // The image's tag-schema index lists what refers to the other image.
    let top: Digest = fixture_top().parse().unwrap();
    let listing = runtime().block_on(src.get_manifest("demo/app", &fallback_tag(&other.digest))).unwrap();
    put_manifest(&source.host(), "demo/app", &fallback_tag(&top), OCI_INDEX, &listing.bytes);

    let copied = copy(&CopySession::new(4), &source.host(), &destination.host(), "mirror/app").unwrap();

    assert!(copied.carried.is_empty(), "{:?}", copied.carried);
    let dst = client(&destination.host());
    runtime().block_on(async {
        assert!(!dst.has_manifest("mirror/app", &stray.parse().unwrap()).await.unwrap(), "{stray} was copied");
        for subject in [&top, &other.digest] {
            let listed = dst.get_manifest("mirror/app", &fallback_tag(subject)).await;
            assert!(matches!(listed, Err(RegistryError::NotFound(_))), "{subject}: {listed:?}");
        }
    });
}

#[test]
fn a_signature_the_destination_has_is_kept_and_the_carried_one_added_beside_it() {
    let (source, destination) = (Distribution::start(), Distribution::start());
    let top = fixture_top();
    push_fixture_image(&source.host(), "demo/app:1.0");
    cosign_sign(&source.host(), "demo/app", &top, &fixtures().join("keys/test.key"));
    push_fixture_image(&destination.host(), "mirror/app:1.0");
    cosign_sign(&destination.host(), "mirror/app", &top, &fixtures().join("keys/other.key"));

    let copied = copy(&CopySession::new(4), &source.host(), &destination.host(), "mirror/app").unwrap();

    let signature_tag = format!("{}.sig", top.replace(':', "-"));
    assert_eq!(copied.carried, [format!("cosign signature {signature_tag}")]);
    let dst = client(&destination.host());
    let digest: Digest = top.parse().unwrap();
    runtime().block_on(async {
        for key in ["test.pub", "other.pub"] {
            let signed = cosign_signature(&dst, "mirror/app", &digest, &signers(key)).await;
            assert!(signed.is_ok(), "{key}: {signed:?}");
        }
        let signature = dst.get_manifest("mirror/app", &signature_tag).await.unwrap();
        let layers: serde_json::Value = serde_json::from_slice(&signature.bytes).unwrap();
        assert_eq!(layers["layers"].as_array().unwrap().len(), 2, "{layers}");
    });

    // Both are there: copied again, nothing is written.
    let again = copy(&CopySession::new(4), &source.host(), &destination.host(), "mirror/app").unwrap();
    assert_eq!(again.stats.manifests_pushed, 0, "{:?}", again.stats);
}

#[test]
fn the_signature_of_a_platform_manifest_travels_with_the_image() {
    let (source, destination) = (Distribution::start(), Distribution::start());
    push_fixture_image(&source.host(), "demo/app:1.0");
    let amd64 = fixture_amd64();
    cosign_sign(&source.host(), "demo/app", &amd64, &fixtures().join("keys/test.key"));

    let copied = copy(&CopySession::new(4), &source.host(), &destination.host(), "mirror/app").unwrap();

    assert_eq!(copied.carried, [format!("cosign signature {}.sig", amd64.replace(':', "-"))]);
    let dst = client(&destination.host());
    runtime().block_on(cosign_signature(&dst, "mirror/app", &amd64.parse().unwrap(), &signers("test.pub"))).unwrap();
}

#[test]
fn a_mount_the_destination_refuses_becomes_an_upload() {
    let (source, destination) = (Distribution::start(), Distribution::start());
    push_fixture_image(&source.host(), "demo/app:1.0");
    let upstream = destination.port;
    let refusing = StandIn::start(move |request, conn| {
        if request.method == "POST" && request.target.contains("mount=") {
            return respond(conn, "403 Forbidden", &[], br#"{"errors":[{"code":"DENIED","message":"no mounts"}]}"#);
        }
        forward(request, conn, upstream)
    });
    let edge = format!("127.0.0.1:{}", refusing.port);
    let session = CopySession::new(4);
    copy(&session, &source.host(), &edge, "mirror/app").unwrap();

    // The session mounts what it sent to mirror/app; the registry refuses.
    let other = copy(&session, &source.host(), &edge, "other/app").unwrap();

    assert_eq!(refusing.seen().iter().filter(|r| r.target.contains("mount=")).count(), 4);
    assert_eq!((other.stats.blobs_uploaded, other.stats.blobs_mounted), (4, 0), "{:?}", other.stats);
    assert_eq!(destination.completed_uploads().len(), 8);
    assert_eq!(
        skopeo_raw(&format!("{}/other/app:1.0", destination.host())),
        skopeo_raw(&format!("{}/demo/app:1.0", source.host()))
    );
}

#[test]
fn two_copies_carrying_different_referrers_of_one_image_at_once_both_list_theirs_at_the_destination() {
    let (first, second, destination) = (Distribution::start(), Distribution::start(), Distribution::start());
    let (top, sbom) = image_with_sbom(&first.host());
    let statement = br#"{"_type":"https://in-toto.io/Statement/v1"}"#;
    let (_, provenance) = image_with_referrer(&second.host(), "application/vnd.in-toto+json", statement);
    // The destination takes the image's tag-schema index only once both copies have read it
    // (a PUT before is answered 503, at most twice: the client retries it): two copies that
    // read it at once would each write it back with their own referrer alone.
    let listing = format!("/v2/mirror/app/manifests/{}", fallback_tag(&top.digest));
    let (upstream, reads, refusals) = (destination.port, AtomicUsize::new(0), AtomicUsize::new(0));
    let proxy = StandIn::start(move |request, conn| {
        if request.target == listing {
            if request.method == "GET" {
                reads.fetch_add(1, SeqCst);
            } else if request.method == "PUT" && reads.load(SeqCst) < 2 && refusals.fetch_add(1, SeqCst) < 2 {
                return respond(conn, "503 Service Unavailable", &[], b"");
            }
        }
        forward(request, conn, upstream)
    });
    let (a, b, dst) = (client(&first.host()), client(&second.host()), client(&format!("127.0.0.1:{}", proxy.port)));
    let (session, progress) = (CopySession::new(4), ProgressCounter::default());

    let (from_first, from_second) = runtime().block_on(async {
        tokio::join!(
            session.copy_image(&a, "demo/app", "1.0", &dst, "mirror/app", Some("1.0"), &progress),
            session.copy_image(&b, "demo/app", "1.0", &dst, "mirror/app", Some("1.0"), &progress),
        )
    });

    assert_eq!(from_first.unwrap().carried, [format!("referrer {sbom}")]);
    assert_eq!(from_second.unwrap().carried, [format!("referrer {provenance}")]);
    let (listed, _) = runtime().block_on(client(&destination.host()).referrers("mirror/app", &top.digest)).unwrap();
    let mut listed: Vec<String> = listed.iter().map(|r| r.digest.to_string()).collect();
    listed.sort();
    let mut both = vec![sbom, provenance];
    both.sort();
    assert_eq!(listed, both);
}
