//! One suite, four backends: what a vendor and an operator do, end to end, on the embedded
//! defaults, on PostgreSQL, on an S3-compatible server and on Azure Blob Storage (Azurite);
//! and object stores configured from nothing but the portal's own settings.

use std::path::Path;
use std::process::{Command, Output};

use genesis_testkit::http::{StandIn, forward, respond};
use genesis_testkit::services::{Azurite, MotoS3, Postgres};
use genesis_testkit::text;

use crate::{
    AzureBackend, Backend, Client, Portal, Trap, fixtures, header, release_files, sha256_hex, status, wait_for_export,
};

/// Stages an export of 0.1.0 and downloads it once ready: (status, pack bytes).
fn export_pack(portal: &Portal, key: &str) -> (serde_json::Value, Vec<u8>) {
    let (headers, body) = portal.curl(
        Some(key),
        "POST",
        "/v1/exports/airgap/bootstrap",
        &["-H", "Content-Type: application/json", "-d", r#"{"version":"0.1.0"}"#],
    );
    assert_eq!(status(&headers), 202, "{headers}{}", text(&body));
    let started: serde_json::Value = serde_json::from_slice(&body).unwrap();
    let id = started["exportId"].as_str().unwrap().to_owned();
    let done = wait_for_export(portal, key, &id);
    assert_eq!(done["status"], "ready", "{done}");
    let (headers, pack) = portal.curl(Some(key), "GET", done["downloadUri"].as_str().unwrap(), &[]);
    assert_eq!(status(&headers), 200);
    assert_eq!(header(&headers, "content-type"), Some("application/gzip"));
    assert_eq!(header(&headers, "etag").map(|e| e.trim_matches('"')), done["artifactSha256"].as_str());
    (done, pack)
}

/// The files of release 0.1.0 the vendor published.
const RELEASE_FILES: [&str; 4] =
    ["demo-0.1.0.tar.zst", "demo-0.1.0.tar.zst.sha256", "demo-0.1.0.tar.zst.sig", "demo-0.1.0.tar.zst.cosign.bundle"];

/// Checks that `pulled` holds the files of `published` byte for byte and that the bundle pulled
/// verifies with the fixture key.
fn assert_pulled(client: &Client, pulled: &Path, published: &Path) {
    for name in RELEASE_FILES {
        assert_eq!(sha256_hex(&pulled.join(name)), sha256_hex(&published.join(name)), "{name}");
    }
    let bundle = pulled.join("demo-0.1.0.tar.zst");
    let key = fixtures().join("keys/test.pub");
    let verify = client.run(&["verify", bundle.to_str().unwrap(), "--key", key.to_str().unwrap()]);
    assert!(verify.status.success(), "{}", text(&verify.stdout));
}

/// Checks that a pull of release 0.1.0 that stopped after 2000 bytes of `bundle` (its partial
/// file left) resumes there and ends with the bundle whole.
fn assert_pull_resumes_after_2000_bytes(client: &Client, bundle: &Path) {
    let resumed = tempfile::tempdir().unwrap();
    let sha = sha256_hex(bundle);
    let partial = resumed.path().join(format!(".demo-0.1.0.tar.zst.{}.partial", &sha[..12]));
    std::fs::write(partial, &std::fs::read(bundle).unwrap()[..2000]).unwrap();
    let pull = client.run(&["pull", "0.1.0", "--output-dir", resumed.path().to_str().unwrap(), "--output", "json"]);
    assert!(pull.status.success(), "{}", text(&pull.stderr));
    let pull: serde_json::Value = serde_json::from_slice(&pull.stdout).unwrap();
    let entry = pull["files"].as_array().unwrap().iter().find(|f| f["name"] == "demo-0.1.0.tar.zst").unwrap();
    assert_eq!(entry["outcome"], "resumed", "{pull}");
    assert_eq!(sha256_hex(&resumed.path().join("demo-0.1.0.tar.zst")), sha);
}

fn suite(backend: Backend) {
    let mut portal = Portal::new(backend);
    let files = tempfile::tempdir().unwrap();
    let bundle = release_files(files.path());
    let key = portal.org_with_key("acme", &["releases:read", "export:read", "export:write"]);
    portal.admin_ok(&["entitle", "--org", "acme", "--versions", ">=0.1, <1"]);

    // A tampered bundle is refused at publication and leaves no release behind.
    let tampered_dir = tempfile::tempdir().unwrap();
    let tampered = release_files(tampered_dir.path());
    std::fs::copy(fixtures().join("bundles/blob-byte-changed/demo-0.1.0.tar.zst"), &tampered).unwrap();
    let refused = portal.publish("0.1.0", &[&tampered], "test.pub");
    assert_eq!(refused.status.code(), Some(1), "{}", text(&refused.stderr));
    assert!(text(&refused.stderr).contains("does not verify with the vendor key"), "{}", text(&refused.stderr));
    // So is a good bundle under another version, or signed by a key that is not the vendor's.
    let wrong_version = portal.publish("0.2.0", &[&bundle], "test.pub");
    assert!(
        text(&wrong_version.stderr).contains("a bundle of version 0.1.0, not 0.2.0"),
        "{}",
        text(&wrong_version.stderr)
    );
    let other_key = portal.publish("0.1.0", &[&bundle], "other.pub");
    assert_eq!(other_key.status.code(), Some(1));

    let published = text(&portal.publish("0.1.0", &[&bundle], "test.pub").stdout);
    assert!(published.contains("published genesis 0.1.0 (4 files"), "{published}");
    let again = portal.publish("0.1.0", &[&bundle], "test.pub");
    assert!(text(&again.stderr).contains("releases are immutable"), "{}", text(&again.stderr));
    portal.serve();

    // The operator: login, releases, pull, verify.
    let client = Client::new();
    let login = client.login(&portal.url(), &key);
    assert!(login.status.success(), "{}", text(&login.stderr));
    assert!(text(&login.stdout).contains("as acme"), "{}", text(&login.stdout));
    assert!(text(&login.stderr).contains(&format!("this run contacts only {}", portal.url())));
    let releases = client.run(&["releases", "--output", "json"]);
    let releases: serde_json::Value = serde_json::from_slice(&releases.stdout).unwrap();
    assert_eq!(releases[0]["version"], "0.1.0");
    assert_eq!(releases[0]["bundles"], 1);
    let out = tempfile::tempdir().unwrap();
    let pull = client.run(&["pull", "0.1.0", "--output-dir", out.path().to_str().unwrap()]);
    assert!(pull.status.success(), "{}", text(&pull.stderr));
    assert_pulled(&client, out.path(), files.path());
    let sha256sum =
        Command::new("sha256sum").arg("-c").arg("demo-0.1.0.tar.zst.sha256").current_dir(out.path()).output().unwrap();
    assert!(sha256sum.status.success(), "sha256sum -c: {}", text(&sha256sum.stdout));
    let repull = client.run(&["pull", "0.1.0", "--output-dir", out.path().to_str().unwrap(), "--output", "json"]);
    let repull: serde_json::Value = serde_json::from_slice(&repull.stdout).unwrap();
    assert!(repull["files"].as_array().unwrap().iter().all(|f| f["outcome"] == "present"), "{repull}");
    // A pull that stopped after 2000 bytes of the bundle resumes there: the rest is a Range
    // read of the store.
    assert_pull_resumes_after_2000_bytes(&client, &bundle);

    // Downloads: ETag is the SHA-256, Last-Modified, 304, Range.
    let path = "/v1/releases/genesis/0.1.0/artifacts/demo-0.1.0.tar.zst";
    let (headers, body) = portal.curl(Some(&key), "GET", path, &["-H", "Range: bytes=100-199"]);
    assert_eq!(status(&headers), 206);
    let size = std::fs::metadata(&bundle).unwrap().len();
    assert_eq!(header(&headers, "content-range"), Some(format!("bytes 100-199/{size}").as_str()));
    assert_eq!(body, std::fs::read(&bundle).unwrap()[100..200]);
    let etag = header(&headers, "etag").unwrap().to_owned();
    assert_eq!(etag, format!("\"{}\"", sha256_hex(&bundle)));
    assert!(header(&headers, "last-modified").is_some_and(|v| v.ends_with("GMT")));
    let (headers, body) = portal.curl(Some(&key), "GET", path, &["-H", &format!("If-None-Match: {etag}")]);
    assert_eq!(status(&headers), 304);
    assert!(body.is_empty());
    let (headers, _) = portal.curl(Some(&key), "GET", path, &["-H", &format!("Range: bytes={size}-")]);
    assert_eq!(status(&headers), 416, "a range from the end of the file is unsatisfiable");

    // Scopes and entitlements: 401 without a key, 403 without the scope or the entitlement.
    assert_eq!(status(&portal.curl(None, "GET", "/v1/releases", &[]).0), 401);
    let reader = portal.org_with_key("acme", &["releases:read"]);
    let (headers, body) = portal.curl(
        Some(&reader),
        "POST",
        "/v1/exports/airgap/bootstrap",
        &["-H", "Content-Type: application/json", "-d", r#"{"version":"0.1.0"}"#],
    );
    assert_eq!(status(&headers), 403);
    assert!(text(&body).contains("lacks the `export:write` scope"), "{}", text(&body));
    let beta = portal.org_with_key("beta", &["releases:read", "export:read", "export:write"]);
    let (headers, _) = portal.curl(Some(&beta), "GET", path, &[]);
    assert_eq!(status(&headers), 403, "beta is not entitled");
    let beta_client = Client::new();
    assert!(beta_client.login(&portal.url(), &beta).status.success());
    let beta_pull = beta_client.run(&["pull", "0.1.0", "--output-dir", out.path().join("beta").to_str().unwrap()]);
    assert_eq!(beta_pull.status.code(), Some(4), "no entitled release 0.1.0: {}", text(&beta_pull.stderr));

    // Exports: byte-identical across two builds (two organisations': a second request of one
    // organisation is answered with its ready pack), readable by skopeo, scoped to the
    // organisation.
    let gamma = portal.org_with_key("gamma", &["export:read", "export:write"]);
    portal.admin_ok(&["entitle", "--org", "gamma", "--versions", "0.1.*"]);
    let (first, pack) = export_pack(&portal, &key);
    let (second, pack_again) = export_pack(&portal, &gamma);
    assert_ne!(first["exportId"], second["exportId"]);
    assert_eq!(pack, pack_again, "the pack is byte-stable");
    assert_eq!(first["rootHash"], second["rootHash"]);
    assert_eq!(first["artifactSha256"].as_str().unwrap(), hex::encode(<sha2::Sha256 as sha2::Digest>::digest(&pack)));
    let unpacked = tempfile::tempdir().unwrap();
    std::fs::write(unpacked.path().join("pack.tar.gz"), &pack).unwrap();
    let listing = Command::new("tar").args(["tzvf", "pack.tar.gz"]).current_dir(unpacked.path()).output().unwrap();
    let listing = text(&listing.stdout);
    assert!(listing.lines().all(|l| l.contains(" 0/0 ") && l.contains("2025-01-01 00:00")), "{listing}");
    assert!(listing.lines().filter(|l| l.starts_with('-')).all(|l| l.starts_with("-rw-r--r--")), "{listing}");
    for entry in [
        "charts/web-0.1.0.tgz",
        "images/index.json",
        "images/oci-layout",
        "signatures/demo-0.1.0.tar.zst.sig",
        "pack.json",
    ] {
        assert!(listing.contains(entry), "{entry} missing: {listing}");
    }
    assert!(Command::new("tar").args(["xzf", "pack.tar.gz"]).current_dir(unpacked.path()).status().unwrap().success());
    let skopeo = Command::new("skopeo")
        .args(["inspect", "--raw"])
        .arg(format!("oci:{}:registry.example.com/demo/app:1.0", unpacked.path().join("images").display()))
        .output()
        .unwrap();
    assert!(skopeo.status.success(), "skopeo reads the pack's OCI layout: {}", text(&skopeo.stderr));
    let (headers, _) = portal.curl(
        Some(&beta),
        "GET",
        &format!("/v1/exports/airgap/bootstrap/{}", first["exportId"].as_str().unwrap()),
        &[],
    );
    assert_eq!(status(&headers), 404, "another organisation's export is not found");

    // Observability: metrics, and logs that name the export but never a key.
    assert_eq!(portal.metric("export_bootstrap_completed_total"), 2.0);
    assert!(portal.metric("portal_download_bytes_total") >= (size as usize + pack.len()) as f64);
    // The operator's side of the export API: the same bytes, with a `sha256sum -c` sidecar.
    let packs = tempfile::tempdir().unwrap();
    let export = client.run(&["export-pack", "0.1.0", "-o", packs.path().to_str().unwrap(), "--output", "json"]);
    assert!(export.status.success(), "{}", text(&export.stderr));
    let report: serde_json::Value = serde_json::from_slice(&export.stdout).unwrap();
    assert_eq!(report["status"]["rootHash"], first["rootHash"]);
    assert_eq!(std::fs::read(packs.path().join("bootstrap-pack-v1.tar.gz")).unwrap(), pack);
    let check = Command::new("sha256sum")
        .args(["-c", "bootstrap-pack-v1.tar.gz.sha256"])
        .current_dir(packs.path())
        .output()
        .unwrap();
    assert!(check.status.success(), "{}", text(&check.stdout));
    let reader_client = Client::new();
    assert!(reader_client.login(&portal.url(), &reader).status.success());
    let denied = reader_client.run(&["export-pack", "0.1.0", "-o", packs.path().to_str().unwrap()]);
    assert_eq!(denied.status.code(), Some(1), "{}", text(&denied.stderr));
    assert!(text(&denied.stderr).contains("export:write"), "{}", text(&denied.stderr));

    let log = portal.log();
    assert!(log.contains(&format!("\"exportId\":{}", first["exportId"])), "{log}");
    for k in [&key, &reader, &beta, &gamma] {
        assert!(!log.contains(k.as_str()), "the log holds a key");
    }
}

#[test]
fn on_the_embedded_defaults() {
    suite(Backend::default());
}

#[test]
fn on_postgresql() {
    let pg = Postgres::start();
    suite(Backend { database_url: Some(pg.url()), ..Backend::default() });
}

/// Proxy variables, all naming `proxy`: they are not the portal's configuration, so object
/// store requests must go straight to the store.
fn proxy_env(proxy: &Trap) -> Vec<(String, String)> {
    ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"]
        .map(|name| (name.to_owned(), proxy.url()))
        .to_vec()
}

/// The keys a suite left in an object store, under `prefix`: the release's bundle, and one
/// export pack per organisation, acme's (the one `genesis export-pack` got too) and gamma's.
fn assert_suite_keys(keys: &[String], prefix: &str) {
    assert!(keys.contains(&format!("{prefix}releases/genesis/0.1.0/demo-0.1.0.tar.zst")), "{keys:?}");
    assert!(keys.iter().all(|k| k.starts_with(prefix)), "every key under {prefix}: {keys:?}");
    assert_eq!(
        (
            keys.iter().filter(|k| k.starts_with(&format!("{prefix}exports/acme/"))).count(),
            keys.iter().filter(|k| k.starts_with(&format!("{prefix}exports/"))).count()
        ),
        (1, 2),
        "one pack per organisation: {keys:?}"
    );
}

#[test]
fn on_an_s3_compatible_store() {
    let s3 = MotoS3::start();
    let proxy = Trap::start();
    let env = proxy_env(&proxy);
    suite(Backend { s3: Some((s3.endpoint(), MotoS3::BUCKET.into())), env, ..Backend::default() });
    assert_eq!(proxy.hits(), 0, "the S3 client used a proxy from the environment");
    assert_suite_keys(&s3.object_keys(), "");
}

/// Seed 002's dual client, through moto: the portal reads and writes its bucket at moto's
/// endpoint and answers API downloads with URLs presigned for `--s3-public-endpoint`, the one
/// clients reach, here a second loopback port forwarding to the same moto: where `genesis
/// pull` fetched from shows which endpoint the URLs were minted for. The client follows them
/// only to an origin the portal declared at login, announces it first, resumes there, and
/// verifies what it got as from the portal.
#[test]
fn an_s3_store_sends_downloads_to_its_public_endpoint_declared_at_login() {
    let s3 = MotoS3::start();
    let moto = s3.port;
    let public = StandIn::start(move |request, conn| forward(request, conn, moto));
    let mut portal = Portal::new(Backend { s3: Some((s3.endpoint(), MotoS3::BUCKET.into())), ..Backend::default() });
    let key = portal.org_with_key("acme", &["releases:read"]);
    let files = portal.publish_demo("acme", &[]);
    let bundle = files.path().join("demo-0.1.0.tar.zst");
    let names = RELEASE_FILES;

    // A client that logged in before the portal presigned anything was told of no other origin.
    portal.serve();
    let early = Client::new();
    assert!(early.login(&portal.url(), &key).status.success());
    portal.kill();
    portal.serve_with(&["--s3-public-endpoint", &public.url()]);
    let log = portal.log();
    assert!(log.contains(&format!("this run contacts only {}", s3.endpoint())), "{log}");
    assert!(
        log.contains(&format!(
            "genesis-portal: network: presigned download URLs name {}: handed to clients, never contacted",
            public.url()
        )),
        "{log}"
    );

    // The API: a download is a redirect to the public endpoint (a HEAD is answered here), and
    // whoami declares that origin beside the portal's own.
    let path = "/v1/releases/genesis/0.1.0/artifacts/demo-0.1.0.tar.zst";
    let (headers, body) = portal.curl(Some(&key), "GET", path, &[]);
    assert_eq!(status(&headers), 307, "{headers}");
    assert!(body.is_empty());
    let location = header(&headers, "location").unwrap();
    let object = format!("{}/{}/releases/genesis/0.1.0/demo-0.1.0.tar.zst?", public.url(), MotoS3::BUCKET);
    assert!(location.starts_with(&object), "{location}");
    assert!(location.contains("X-Amz-Expires=900") && location.contains("X-Amz-Signature="), "{location}");
    assert_eq!(header(&headers, "cache-control"), Some("no-store"));
    let (headers, _) = portal.curl(Some(&key), "HEAD", path, &["-I"]);
    assert_eq!(status(&headers), 200, "{headers}");
    let size = std::fs::metadata(&bundle).unwrap().len();
    assert_eq!(header(&headers, "content-length"), Some(size.to_string().as_str()));
    let (_, whoami) = portal.curl(Some(&key), "GET", "/v1/whoami", &[]);
    let whoami: serde_json::Value = serde_json::from_slice(&whoami).unwrap();
    assert_eq!(whoami["downloadOrigins"], serde_json::json!([portal.url(), public.url()]), "{whoami}");
    assert!(public.seen().is_empty(), "nothing fetched yet");

    // The early client refuses the origin it was never told of, and contacts nothing there.
    let refused_dir = tempfile::tempdir().unwrap();
    let refused = early.run(&["pull", "0.1.0", "--output-dir", refused_dir.path().to_str().unwrap()]);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(1), "{stderr}");
    assert!(
        stderr.contains(&format!(
            "sent the download to {}, which it did not declare at login (declared: {})",
            public.url(),
            portal.url()
        )),
        "{stderr}"
    );
    assert!(stderr.contains("run `genesis login` again"), "{stderr}");
    assert!(!stderr.contains("X-Amz-Signature"), "{stderr}");
    assert!(public.seen().is_empty(), "an undeclared origin was contacted: {:?}", public.seen());

    // A new login learns it; the pull announces it, fetches every file there and verifies.
    let client = Client::new();
    let login = client.login(&portal.url(), &key);
    assert!(login.status.success(), "{}", text(&login.stderr));
    assert!(
        text(&login.stdout).contains(&format!("the portal sends downloads to {} too", public.url())),
        "{}",
        text(&login.stdout)
    );
    let streamed_before = portal.metric("portal_download_bytes_total");
    let presigned_before = portal.metric("portal_presigned_downloads_total");
    let out = tempfile::tempdir().unwrap();
    let pull = client.run(&["pull", "0.1.0", "--output-dir", out.path().to_str().unwrap()]);
    let stderr = text(&pull.stderr);
    assert!(pull.status.success(), "{stderr}");
    let announced = format!(
        "genesis: network: contacting {}, the object store the portal {} sends downloads to",
        public.url(),
        portal.url()
    );
    assert_eq!(stderr.matches(&announced).count(), 1, "announced once, before it was contacted: {stderr}");
    assert_pulled(&client, out.path(), files.path());
    let fetched = public.seen();
    assert_eq!(fetched.len(), names.len(), "{fetched:?}");
    let public_host = public.url().trim_start_matches("http://").to_owned();
    for request in &fetched {
        assert!(request.target.starts_with(&format!("/{}/releases/genesis/0.1.0/", MotoS3::BUCKET)), "{request:?}");
        assert!(request.target.contains("X-Amz-Signature="), "{request:?}");
        assert_eq!(request.header("host"), Some(public_host.as_str()), "signed for the public endpoint");
        assert_eq!(request.header("authorization"), None, "the license key went to the object store");
    }
    assert_eq!(portal.metric("portal_download_bytes_total"), streamed_before, "the portal streamed no byte");
    assert_eq!(portal.metric("portal_presigned_downloads_total") - presigned_before, names.len() as f64);

    // A pull that stopped after 2000 bytes of the bundle resumes there, at the object store.
    assert_pull_resumes_after_2000_bytes(&client, &bundle);
    assert!(public.seen().iter().any(|r| r.header("range") == Some("bytes=2000-")), "{:?}", public.seen());
}

/// `--s3-public-endpoint` presigns downloads of an S3 bucket: with artifacts in the data
/// directory or in Azure Blob Storage it is refused, naming what to do.
#[test]
fn a_public_s3_endpoint_without_an_s3_store_is_refused() {
    let serve = ["serve", "--listen", "127.0.0.1:0", "--s3-public-endpoint", "https://files.example.com"];
    let refused = Portal::new(Backend::default()).admin(&serve);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(
        stderr.contains("public S3 endpoint https://files.example.com: presigned downloads come from an S3 bucket"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: pass --object-store s3://BUCKET[/PREFIX] with --s3-public-endpoint"), "{stderr}");

    // Refused before the container is created: the Azure endpoint is never contacted.
    let trap = Trap::start();
    let endpoint = format!("{}/{}", trap.url(), Azurite::ACCOUNT);
    let azure = AzureBackend { endpoint, url: "az://genesis-portal/vendor".into(), sas: None };
    let refused = Portal::new(Backend { azure: Some(azure), ..Backend::default() }).admin(&serve);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert!(stderr.contains("only an S3 store hands out presigned URLs"), "{stderr}");
    assert!(stderr.contains("hint: leave --s3-public-endpoint out"), "{stderr}");
    assert_eq!(trap.hits(), 0);
}

#[test]
fn on_azure_blob_storage_under_a_prefix_in_a_container_the_portal_creates() {
    // Azurite starts with no container: the first publication creates it, every later
    // command finds it there.
    let azurite = Azurite::start();
    let proxy = Trap::start();
    let azure =
        AzureBackend { endpoint: azurite.endpoint(), url: "az://genesis-portal/vendor/artifacts".into(), sas: None };
    suite(Backend { azure: Some(azure), env: proxy_env(&proxy), ..Backend::default() });
    assert_eq!(proxy.hits(), 0, "the Azure client used a proxy from the environment");
    assert_suite_keys(&azurite.blob_names("genesis-portal"), "vendor/artifacts/");
}

#[test]
fn an_azure_sas_token_reaches_a_container_that_exists() {
    let azurite = Azurite::start();
    let backend = |url: &str, sas: Option<String>| Backend {
        azure: Some(AzureBackend { endpoint: azurite.endpoint(), url: url.to_owned(), sas }),
        ..Backend::default()
    };
    // The account key creates the container; a SAS token, a delegation, never tries.
    let with_key = Portal::new(backend("az://genesis-portal/by-key", None));
    with_key.publish_demo("acme", &[]);
    let mut with_sas = Portal::new(backend("az://genesis-portal/by-sas", Some(Azurite::account_sas())));
    let key = with_sas.org_with_key("acme", &["releases:read"]);
    let files = with_sas.publish_demo("acme", &[]);
    with_sas.serve();
    let client = Client::new();
    assert!(client.login(&with_sas.url(), &key).status.success());
    let out = tempfile::tempdir().unwrap();
    let pull = client.run(&["pull", "0.1.0", "--output-dir", out.path().to_str().unwrap()]);
    assert!(pull.status.success(), "{}", text(&pull.stderr));
    let name = "demo-0.1.0.tar.zst";
    assert_eq!(sha256_hex(&out.path().join(name)), sha256_hex(&files.path().join(name)));
    let blobs = azurite.blob_names("genesis-portal");
    for prefix in ["by-key", "by-sas"] {
        assert!(blobs.contains(&format!("{prefix}/releases/genesis/0.1.0/{name}")), "{blobs:?}");
    }
}

#[test]
fn an_s3_endpoint_that_redirects_sends_the_portal_nowhere_else() {
    // Where the endpoint sends every request: a host the portal never announced.
    let elsewhere = Trap::start();
    let location = format!("{}/genesis-portal/elsewhere", elsewhere.url());
    let s3 =
        StandIn::start(move |_, conn| respond(conn, "307 Temporary Redirect", &[("Location", location.as_str())], b""));
    let portal = Portal::new(Backend { s3: Some((s3.url(), "genesis-portal".into())), ..Backend::default() });
    let files = tempfile::tempdir().unwrap();
    let refused = portal.publish("0.1.0", &[&release_files(files.path())], "test.pub");
    let stderr = text(&refused.stderr);
    assert!(!refused.status.success(), "{stderr}");
    assert!(stderr.contains("307 Temporary Redirect"), "the redirect is the error: {stderr}");
    assert!(!s3.seen().is_empty(), "the S3 endpoint was never asked: {stderr}");
    assert_eq!(elsewhere.hits(), 0, "the portal followed a redirect to a host it never announced");
}

/// `publish` of the demo release with only `env` to configure the object store `url`.
fn publish_with_store_env(url: &str, env: &[(&str, String)]) -> Output {
    let mut env: Vec<(String, String)> = env.iter().map(|(k, v)| ((*k).to_owned(), v.clone())).collect();
    env.push(("GENESIS_PORTAL_OBJECT_STORE".into(), url.into()));
    env.push(("RUST_LOG".into(), "off".into()));
    let portal = Portal::new(Backend { env, ..Backend::default() });
    let files = tempfile::tempdir().unwrap();
    portal.publish("0.1.0", &[&release_files(files.path())], "test.pub")
}

#[test]
fn an_s3_store_takes_nothing_from_aws_variables_or_instance_metadata() {
    let trap = Trap::start();
    let aws = [
        ("AWS_ACCESS_KEY_ID", "AKIDTRAP".to_owned()),
        ("AWS_SECRET_ACCESS_KEY", "trap-secret".to_owned()),
        ("AWS_ENDPOINT", trap.url()),
        ("AWS_ALLOW_HTTP", "true".to_owned()),
        ("AWS_ALLOW_INVALID_CERTIFICATES", "true".to_owned()),
        ("AWS_REGION", "eu-west-1".to_owned()),
        ("AWS_METADATA_ENDPOINT", trap.url()),
        ("AWS_CONTAINER_CREDENTIALS_FULL_URI", format!("{}/credentials", trap.url())),
    ];
    let refused = publish_with_store_env("s3://genesis-portal", &aws);
    assert!(!refused.status.success());
    let stderr = text(&refused.stderr);
    assert!(stderr.contains("GENESIS_PORTAL_S3_ACCESS_KEY_ID"), "{stderr}");
    // Neither AWS_ENDPOINT nor AWS_REGION: the endpoint of the portal's own (default) region.
    assert!(stderr.contains("contacts only https://s3.us-east-1.amazonaws.com"), "{stderr}");

    // An access key id of its own does not make the portal borrow the AWS secret either.
    let mut with_id = aws.to_vec();
    with_id.push(("GENESIS_PORTAL_S3_ACCESS_KEY_ID", "portal-test".to_owned()));
    let refused = publish_with_store_env("s3://genesis-portal", &with_id);
    assert!(!refused.status.success());
    assert!(
        text(&refused.stderr)
            .contains("needs GENESIS_PORTAL_S3_SECRET_ACCESS_KEY, the secret of access key portal-test"),
        "{}",
        text(&refused.stderr)
    );
    assert_eq!(trap.hits(), 0, "the portal contacted an endpoint from AWS_* variables");
}

#[test]
fn a_plain_http_s3_endpoint_is_refused_without_s3_allow_http() {
    let trap = Trap::start();
    let refused = publish_with_store_env(
        "s3://genesis-portal",
        &[
            ("GENESIS_PORTAL_S3_ENDPOINT", trap.url()),
            ("GENESIS_PORTAL_S3_ACCESS_KEY_ID", "portal-test".to_owned()),
            ("GENESIS_PORTAL_S3_SECRET_ACCESS_KEY", "portal-test-secret".to_owned()),
        ],
    );
    assert!(!refused.status.success());
    let stderr = text(&refused.stderr);
    assert!(stderr.contains("plain HTTP") && stderr.contains("--s3-allow-http"), "{stderr}");
    assert_eq!(trap.hits(), 0);
    // The endpoint is announced first, refused or not.
    assert_eq!(
        stderr.lines().next(),
        Some(format!("genesis-portal: network: this run contacts only {}", trap.url()).as_str())
    );
}

#[test]
fn an_azure_store_takes_nothing_from_azure_variables_or_instance_metadata() {
    let trap = Trap::start();
    let token = format!("{}/metadata/identity/oauth2/token", trap.url());
    let azure = [
        ("AZURE_STORAGE_ACCOUNT_NAME", "trapaccount".to_owned()),
        ("AZURE_STORAGE_ACCOUNT_KEY", Azurite::KEY.to_owned()),
        ("AZURE_STORAGE_SAS_KEY", "sv=2020-08-04&sig=trap".to_owned()),
        ("AZURE_STORAGE_ENDPOINT", trap.url()),
        ("AZURE_STORAGE_USE_EMULATOR", "true".to_owned()),
        ("AZURITE_BLOB_STORAGE_URL", trap.url()),
        ("AZURE_ALLOW_HTTP", "true".to_owned()),
        ("AZURE_CLIENT_ID", "trap-client".to_owned()),
        ("AZURE_TENANT_ID", "trap-tenant".to_owned()),
        ("AZURE_AUTHORITY_HOST", trap.url()),
        ("MSI_ENDPOINT", token.clone()),
        ("IDENTITY_ENDPOINT", token),
    ];
    let refused = publish_with_store_env("az://genesis-portal", &azure);
    assert_eq!(refused.status.code(), Some(2), "{}", text(&refused.stderr));
    let stderr = text(&refused.stderr);
    assert!(stderr.contains("needs the name of its Azure storage account"), "{stderr}");
    assert!(stderr.contains("hint: pass --azure-account NAME (or set GENESIS_PORTAL_AZURE_ACCOUNT)"), "{stderr}");

    // An account of its own does not make the portal borrow a key, a SAS token or managed
    // identity: it names the variables it reads, after announcing the account's endpoint.
    let mut with_account = azure.to_vec();
    with_account.push(("GENESIS_PORTAL_AZURE_ACCOUNT", "portaltest".to_owned()));
    let refused = publish_with_store_env("az://genesis-portal", &with_account);
    assert_eq!(refused.status.code(), Some(2));
    let stderr = text(&refused.stderr);
    assert_eq!(
        stderr.lines().next(),
        Some("genesis-portal: network: this run contacts only https://portaltest.blob.core.windows.net")
    );
    assert!(
        stderr.contains(
            "az://genesis-portal needs one credential: the access key of storage account portaltest in \
             GENESIS_PORTAL_AZURE_ACCESS_KEY, or a SAS token in GENESIS_PORTAL_AZURE_SAS_TOKEN"
        ),
        "{stderr}"
    );
    assert_eq!(trap.hits(), 0, "the portal contacted an endpoint from AZURE_* variables or instance metadata");
}

#[test]
fn the_azure_endpoint_is_announced_first_and_refused_as_plain_http_without_azure_allow_http() {
    let trap = Trap::start();
    let endpoint = format!("{}/{}", trap.url(), Azurite::ACCOUNT);
    let refused = publish_with_store_env(
        "az://genesis-portal/vendor",
        &[
            ("GENESIS_PORTAL_AZURE_ENDPOINT", format!("{endpoint}/")),
            ("GENESIS_PORTAL_AZURE_ACCOUNT", Azurite::ACCOUNT.to_owned()),
            ("GENESIS_PORTAL_AZURE_ACCESS_KEY", Azurite::KEY.to_owned()),
        ],
    );
    assert_eq!(refused.status.code(), Some(2));
    let stderr = text(&refused.stderr);
    assert_eq!(
        stderr.lines().next(),
        Some(format!("genesis-portal: network: this run contacts only {endpoint}").as_str())
    );
    assert!(stderr.contains("Azure Blob endpoint") && stderr.contains("plain HTTP"), "{stderr}");
    assert!(stderr.contains("hint: pass --azure-allow-http"), "{stderr}");
    assert_eq!(trap.hits(), 0);
}

/// A SAS pasted into the endpoint's query would be announced, logged and sent beside the
/// credential given: it is refused, naming where it belongs, and shown nowhere. An account that
/// is not an account name (it makes the default endpoint's host name) is refused too, and no
/// endpoint made of it is announced.
#[test]
fn an_azure_endpoint_with_a_query_or_an_account_that_is_no_account_name_is_refused_unshown() {
    let trap = Trap::start();
    let endpoint = format!("{}/{}", trap.url().replacen("http://", "https://", 1), Azurite::ACCOUNT);
    let refused = publish_with_store_env(
        "az://genesis-portal",
        &[
            ("GENESIS_PORTAL_AZURE_ENDPOINT", format!("{endpoint}?sv=2022-11-02&sig=SECRET")),
            ("GENESIS_PORTAL_AZURE_ACCOUNT", Azurite::ACCOUNT.to_owned()),
            ("GENESIS_PORTAL_AZURE_ACCESS_KEY", Azurite::KEY.to_owned()),
        ],
    );
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert_eq!(
        stderr.lines().next(),
        Some(format!("genesis-portal: network: this run contacts only {endpoint}").as_str())
    );
    assert!(stderr.contains("remove the query string (a SAS belongs in GENESIS_PORTAL_AZURE_SAS_TOKEN)"), "{stderr}");
    assert!(!stderr.contains("SECRET"), "{stderr}");

    let refused = publish_with_store_env(
        "az://genesis-portal",
        &[
            ("GENESIS_PORTAL_AZURE_ACCOUNT", "x@evil.com/".to_owned()),
            ("GENESIS_PORTAL_AZURE_ACCESS_KEY", Azurite::KEY.to_owned()),
        ],
    );
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "{stderr}");
    assert_eq!(stderr.lines().next(), Some("genesis-portal: network: this run contacts nothing"));
    assert!(
        stderr.contains("Azure storage account `x@evil.com/`: expected 3 to 24 lower-case letters and digits"),
        "{stderr}"
    );
    assert_eq!(trap.hits(), 0);
}

#[test]
fn an_object_store_url_of_another_scheme_or_an_invalid_container_is_refused() {
    for url in ["gs://genesis-portal", "az://Genesis_Portal", "az://genesis-portal/a//b", "s3://"] {
        let refused = publish_with_store_env(url, &[]);
        assert_eq!(refused.status.code(), Some(2), "{url}");
        let stderr = text(&refused.stderr);
        assert!(stderr.contains("expected s3://BUCKET[/PREFIX] or az://CONTAINER[/PREFIX]"), "{url}: {stderr}");
    }
}

#[test]
fn a_postgresql_server_across_a_network_without_verified_tls_is_refused_before_any_connection() {
    // A name that resolves nowhere: had the portal tried to connect, it would fail on that.
    let url = "postgres://u:s3cret@db.example.invalid/x?sslmode=require";
    let portal = Portal::new(Backend { database_url: Some(url.to_owned()), ..Backend::default() });
    let started = std::time::Instant::now();
    let refused = portal.admin(&["org", "list"]);
    let stderr = text(&refused.stderr);
    assert_eq!(refused.status.code(), Some(2), "a refused configuration is a usage error: {stderr}");
    assert!(
        stderr.contains("database postgres://u@db.example.invalid:5432/x: sslmode=require does not verify"),
        "{stderr}"
    );
    assert!(stderr.contains("hint: pass --database-allow-insecure"), "{stderr}");
    assert!(!stderr.contains("s3cret"), "{stderr}");
    assert!(started.elapsed() < std::time::Duration::from_secs(10), "refused only after {:?}", started.elapsed());
}
