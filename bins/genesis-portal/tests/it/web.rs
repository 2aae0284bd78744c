//! The portal's web pages. In a real browser: Debian's Chromium, headless, driven by PyPI's
//! Selenium through the journeys in `tests/browser/` (a customer, the same customer with
//! JavaScript off, another organisation's customer, the vendor with a customer beside, the
//! vendor on a portal that cannot publish), on the embedded defaults and on PostgreSQL + S3
//! (moto), every page saved as a screenshot under `target/screenshots/portal/` for people to
//! look at. And with curl, without a browser: the cookies' names and flags over HTTP, TLS and
//! behind a TLS proxy (`--public-url`), CSRF tokens and Origin checks, the security headers,
//! the assets' caching, downloads that resume and a HEAD that is no download, sessions ended
//! by a key revoked or expired, product names that are not one path segment.

use std::path::{Path, PathBuf};
use std::process::Command;
use std::time::Duration;

use genesis_testkit::browser;
use genesis_testkit::pki::TlsPki;
use genesis_testkit::services::{MotoS3, Postgres};
use genesis_testkit::text;

use crate::{Backend, Client, Portal, fixtures, header, release_files, status};

/// Runs the journey `tests/browser/SCRIPT` against the portal at `url` with `options`,
/// saving screenshots into `shots`; the screenshots it saved.
fn journey(script: &str, url: &str, shots: &Path, options: &[(&str, &str)]) -> Vec<PathBuf> {
    let mut args = vec!["--portal", url, "--screenshots", arg(shots)];
    args.extend(options.iter().flat_map(|&(option, value)| [option, value]));
    browser::journey(&Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser").join(script), &args)
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// The fixture bundle's SBOM components, in the order the SBOM lists them (nested ones after
/// their parent).
const COMPONENTS: [&str; 7] = [
    "app",
    "app (linux/amd64)",
    "app (linux/arm64)",
    "web",
    "manifests/deployment.yaml",
    "manifests/namespace.yaml",
    "manifests/service.yaml",
];
/// Who built the fixture bundle, as its provenance says.
const BUILDER: &str = "https://genesis.dev/bundle-builder@v0.1.0";
/// What it was built from, as its provenance names the materials.
const MATERIALS: [&str; 2] = ["app", "web"];

/// Publishes the fixture release, copied into `dir`, as `product` 0.1.0 verified with the
/// fixture key; the signer's fingerprint as `publish` reports it (`SHA256:…`).
fn publish_fixture(portal: &Portal, product: &str, dir: &Path) -> String {
    let bundle = release_files(dir);
    let key = fixtures().join("keys/test.pub");
    let out = portal.admin_ok(&[
        "publish",
        "0.1.0",
        arg(&bundle),
        "--product",
        product,
        "--key",
        arg(&key),
        "--output",
        "json",
    ]);
    let report: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let signer = report["signer"].as_str().unwrap_or_else(|| panic!("no signer: {out}")).to_owned();
    assert!(signer.starts_with("SHA256:"), "{signer}");
    signer
}

/// The demo release published as `genesis` 0.1.0, then (a second later, so newer) as `tools`
/// 0.1.0, and as `internal` 0.1.0. `acme` is entitled to `genesis` and `tools`: its customer
/// sees exactly those two, newest first, downloads `genesis` (the license file too), copies its
/// commands, reads its SBOM and provenance and exports it, then does the same with JavaScript
/// off. `globex`, entitled to `genesis` alone, sees it and nothing of acme's own (`tools`, the
/// exports). The vendor creates `initech` and a key, entitles it to `demo 0.1.*`, uploads the
/// same bundle as `demo` 0.1.0 (a tampered copy first, refused) and revokes the key under its
/// customer's session. Screenshots go to `target/screenshots/portal/NAME/`.
fn in_a_browser(portal: &mut Portal, name: &str) {
    let scopes = ["releases:read", "export:read", "export:write"];
    let acme = portal.org_with_key("acme", &scopes);
    let globex = portal.org_with_key("globex", &scopes);
    for (org, product) in [("acme", "genesis"), ("acme", "tools"), ("globex", "genesis")] {
        portal.admin_ok(&["entitle", "--org", org, "--product", product, "--versions", "0.1.*"]);
    }
    let release = tempfile::tempdir().unwrap();
    let signer = publish_fixture(portal, "genesis", release.path());
    // Releases published in the same second are listed by name, which would put `genesis`
    // first: a second later, `tools` is listed first only if the newest comes first.
    std::thread::sleep(Duration::from_millis(1100));
    let others = tempfile::tempdir().unwrap();
    publish_fixture(portal, "tools", others.path());
    publish_fixture(portal, "internal", others.path());
    let token = portal.admin_token("alice");
    let vendor_key = fixtures().join("keys/test.pub");
    portal.serve_with(&["--publish-key", arg(&vendor_key)]);
    let url = portal.url();
    let shots = browser::screenshots(&format!("portal/{name}"));
    let work = tempfile::tempdir().unwrap();
    let downloads = work.path().join("downloads");
    let acme_seen = work.path().join("acme-seen.json");
    let tampered = work.path().join("tampered");
    std::fs::create_dir(&tampered).unwrap();
    let bundle = release_files(&tampered);
    std::fs::copy(fixtures().join("bundles/blob-byte-changed/demo-0.1.0.tar.zst"), bundle).unwrap();

    let mut options = vec![
        ("--key", acme.as_str()),
        ("--releases", "tools/0.1.0,genesis/0.1.0"),
        ("--release", "genesis/0.1.0"),
        ("--release-dir", arg(release.path())),
        ("--signer", signer.as_str()),
        ("--builder", BUILDER),
        ("--downloads", arg(&downloads)),
        ("--record", arg(&acme_seen)),
    ];
    options.extend(COMPONENTS.map(|c| ("--component", c)));
    options.extend(MATERIALS.map(|m| ("--material", m)));
    let mut saved = journey("customer_journey.py", &url, &shots, &options);
    // What the browser saved is what was published, and `sha256sum -c` says so.
    let check =
        Command::new("sha256sum").args(["-c", "demo-0.1.0.tar.zst.sha256"]).current_dir(&downloads).output().unwrap();
    assert!(check.status.success(), "sha256sum -c on the browser's downloads: {}", text(&check.stdout));
    for file in std::fs::read_dir(release.path()).unwrap() {
        let file = file.unwrap();
        let downloaded = std::fs::read(downloads.join(file.file_name())).unwrap();
        assert!(downloaded == std::fs::read(file.path()).unwrap(), "{:?} differs", file.file_name());
    }
    // The license file the browser saved verifies with the vendor key, without network.
    let license = downloads.join("license-acme.json");
    let verified = Client::new().run(&["license", "verify", arg(&license), "--key", arg(&vendor_key)]);
    assert!(verified.status.success(), "genesis license verify: {}", text(&verified.stderr));
    assert!(text(&verified.stdout).contains("for acme"), "{}", text(&verified.stdout));
    // The export pack the browser saved is the one the API serves.
    let seen: serde_json::Value = serde_json::from_slice(&std::fs::read(&acme_seen).unwrap()).unwrap();
    let export = seen["export"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let (headers, pack) =
        portal.curl(Some(&acme), "GET", &format!("/v1/exports/airgap/bootstrap/{export}/download"), &[]);
    assert_eq!(status(&headers), 200, "{headers}");
    assert!(std::fs::read(downloads.join(format!("genesis-airgap-{export}.tar.gz"))).unwrap() == pack);

    let no_script = work.path().join("no-script-downloads");
    saved.extend(journey(
        "no_script_journey.py",
        &url,
        &shots,
        &[
            ("--key", &acme),
            // A release whose pack the customer journey has not built: this export is built
            // anew, so its page is met while the pack is pending whenever the build allows.
            ("--release", "tools/0.1.0"),
            ("--release-dir", arg(release.path())),
            ("--file", "demo-0.1.0.tar.zst"),
            ("--downloads", arg(&no_script)),
        ],
    ));

    saved.extend(journey(
        "isolation.py",
        &url,
        &shots,
        &[("--key", &globex), ("--other-org", "acme"), ("--shared", "genesis/0.1.0"), ("--foreign", arg(&acme_seen))],
    ));

    let vendor_seen = work.path().join("vendor-seen.json");
    saved.extend(journey(
        "vendor_journey.py",
        &url,
        &shots,
        &[
            ("--token", &token),
            ("--admin", "alice"),
            ("--orgs", "acme,globex"),
            ("--org", "initech"),
            ("--product", "demo"),
            ("--versions", "0.1.*"),
            ("--version", "0.1.0"),
            ("--release-dir", arg(release.path())),
            ("--tampered-dir", arg(&tampered)),
            ("--exports", &export),
            ("--downloaders", "acme"),
            ("--record", arg(&vendor_seen)),
        ],
    ));
    let vendor_seen: serde_json::Value = serde_json::from_slice(&std::fs::read(&vendor_seen).unwrap()).unwrap();
    let initech = vendor_seen["key"].as_str().unwrap().to_owned();

    // What the browser did, as the API and the CLI see it: the uploaded release is published
    // (and immutable), the key revoked in the browser is refused.
    let bundle = release.path().join("demo-0.1.0.tar.zst");
    let again = portal.admin(&["publish", "0.1.0", arg(&bundle), "--product", "demo", "--key", arg(&vendor_key)]);
    assert!(text(&again.stderr).contains("releases are immutable"), "{}", text(&again.stderr));
    assert_eq!(status(&portal.curl(Some(&initech), "GET", "/v1/releases", &[]).0), 401);

    // Every page was saved, as a PNG, the phone's 390 pixels wide.
    browser::check_shots(&shots, saved, 38);

    let log = portal.log();
    for secret in [&acme, &globex, &initech, &token] {
        assert!(!log.contains(secret.as_str()), "the server log holds a key or an admin token");
    }
}

#[test]
fn in_a_browser_on_the_embedded_defaults() {
    in_a_browser(&mut Portal::new(Backend::default()), "embedded");
}

#[test]
fn in_a_browser_on_postgresql_and_s3() {
    let pg = Postgres::start();
    let s3 = MotoS3::start();
    let backend = Backend {
        database_url: Some(pg.url()),
        s3: Some((s3.endpoint(), MotoS3::BUCKET.into())),
        ..Backend::default()
    };
    in_a_browser(&mut Portal::new(backend), "postgresql-s3");
    let keys = s3.object_keys();
    assert!(keys.contains(&"releases/demo/0.1.0/demo-0.1.0.tar.zst".to_owned()), "the upload is in S3: {keys:?}");
}

/// curl as a browser: one portal at `base`, one cookie jar, `extra` curl arguments.
struct CurlBrowser<'a> {
    portal: &'a Portal,
    base: String,
    jar: tempfile::TempPath,
    extra: Vec<String>,
}

impl<'a> CurlBrowser<'a> {
    fn new(portal: &'a Portal, base: &str, extra: &[&str]) -> CurlBrowser<'a> {
        let jar = tempfile::NamedTempFile::new_in(portal.dir.path()).unwrap().into_temp_path();
        CurlBrowser { portal, base: base.to_owned(), jar, extra: extra.iter().map(|s| (*s).to_owned()).collect() }
    }

    fn request(&self, method: &str, path: &str, more: &[&str]) -> (String, String) {
        let (headers, body) = self.request_bytes(method, path, more);
        (headers, text(&body))
    }

    /// [`CurlBrowser::request`], the body as it came.
    fn request_bytes(&self, method: &str, path: &str, more: &[&str]) -> (String, Vec<u8>) {
        let mut args: Vec<&str> = vec!["-b", arg(&self.jar), "-c", arg(&self.jar)];
        args.extend(self.extra.iter().map(String::as_str));
        args.extend(more);
        self.portal.curl_at(&self.base, None, method, path, &args)
    }

    fn get(&self, path: &str) -> (String, String) {
        self.request("GET", path, &[])
    }

    /// A form POST of `fields` ([`form`]), with `more` curl arguments (headers).
    fn post(&self, path: &str, fields: &[(&str, &str)], more: &[&str]) -> (String, String) {
        let mut args = form(fields);
        args.extend(more.iter().map(|m| (*m).to_owned()));
        self.request("POST", path, &args.iter().map(String::as_str).collect::<Vec<_>>())
    }

    /// Signs in on `/AREA/sign-in` with `FIELD=secret`; the response's headers.
    fn sign_in(&self, area: &str, field: &str, secret: &str) -> String {
        let (_, page) = self.get(&format!("/{area}/sign-in"));
        let (headers, body) =
            self.post(&format!("/{area}/sign-in"), &[(field, secret), ("csrf", &csrf_of(&page))], &[]);
        assert_eq!(status(&headers), 303, "{headers}{body}");
        assert_eq!(self.location(&headers), format!("/{area}"));
        headers
    }

    /// Where a redirect points, as a path.
    fn location(&self, headers: &str) -> String {
        let location = header(headers, "location").unwrap_or_else(|| panic!("no Location: {headers}"));
        location.strip_prefix(&self.base).unwrap_or(location).to_owned()
    }
}

/// The curl arguments that POST `fields` as a form (a form's content type even when there are
/// none, as a browser sends it).
fn form(fields: &[(&str, &str)]) -> Vec<String> {
    let mut args = Vec::new();
    for (k, v) in fields {
        args.extend(["--data-urlencode".to_owned(), format!("{k}={v}")]);
    }
    if fields.is_empty() {
        args.extend(["--data".to_owned(), String::new()]);
    }
    args
}

/// The value of a page's hidden `csrf` field.
fn csrf_of(page: &str) -> String {
    page.split('<')
        .filter(|tag| tag.starts_with("input") && tag.contains("name=\"csrf\""))
        .find_map(|tag| tag.split("value=\"").nth(1)?.split('"').next())
        .unwrap_or_else(|| panic!("no csrf field in {page}"))
        .to_owned()
}

/// The `Set-Cookie` values of a response.
fn cookies_set(headers: &str) -> Vec<&str> {
    headers
        .lines()
        .filter_map(|l| l.split_once(':').filter(|(n, _)| n.eq_ignore_ascii_case("set-cookie")).map(|(_, v)| v.trim()))
        .collect()
}

/// The `Set-Cookie` of a response naming `cookie`, split at its attributes.
fn set_cookie(headers: &str, cookie: &str) -> Vec<String> {
    let set = cookies_set(headers).into_iter().find(|v| v.starts_with(&format!("{cookie}=")));
    let set = set.unwrap_or_else(|| panic!("no Set-Cookie {cookie}: {headers}"));
    set.split(';').map(|a| a.trim().to_owned()).collect()
}

fn has_attr(cookie: &[String], attr: &str) -> bool {
    cookie.iter().skip(1).any(|a| a.eq_ignore_ascii_case(attr))
}

/// A `__Host-` cookie as a browser keeps it: `Secure`, on `Path=/`, naming no `Domain`; and
/// out of scripts' and other sites' reach.
fn assert_host_only(cookie: &[String]) {
    for attr in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(has_attr(cookie, attr), "{attr}: {cookie:?}");
    }
    assert!(!cookie.iter().any(|a| a.to_ascii_lowercase().starts_with("domain=")), "{cookie:?}");
}

#[test]
fn sessions_and_forms_over_http_resist_forgery() {
    let mut portal = Portal::new(Backend::default());
    let key = portal.org_with_key("acme", &["releases:read"]);
    let token = portal.admin_token("alice");
    portal.serve();
    let url = portal.url();
    let browser = CurlBrowser::new(&portal, &url, &[]);

    // Signed out: / is the portal, the portal its sign-in page, the vendor pages theirs.
    for (path, to) in [("/", "/portal"), ("/portal", "/portal/sign-in"), ("/admin", "/admin/sign-in")] {
        let (headers, _) = browser.get(path);
        assert_eq!((status(&headers), browser.location(&headers)), (303, to.to_owned()), "{path}");
    }

    // A page: the security headers, the key field in a POST form, the assets under a name
    // carrying their hash, cached for ever.
    let (headers, page) = browser.get("/portal/sign-in");
    assert_eq!(status(&headers), 200);
    assert_eq!(
        header(&headers, "content-security-policy"),
        Some(
            "default-src 'none'; style-src 'self'; script-src 'self'; img-src 'self' data:; connect-src 'self'; \
             form-action 'self'; frame-ancestors 'none'; base-uri 'none'"
        )
    );
    assert_eq!(header(&headers, "x-content-type-options"), Some("nosniff"));
    assert_eq!(header(&headers, "referrer-policy"), Some("same-origin"));
    assert_eq!(header(&headers, "x-frame-options"), Some("DENY"));
    assert!(page.to_ascii_lowercase().contains("method=\"post\""), "the key goes in a POST body: {page}");
    let sign_in_cookie = set_cookie(&headers, "genesis-signin");
    assert!(
        has_attr(&sign_in_cookie, "HttpOnly") && has_attr(&sign_in_cookie, "SameSite=Strict"),
        "{sign_in_cookie:?}"
    );
    for (ext, content_type) in [("css", "text/css"), ("js", "text/javascript")] {
        let asset = page
            .split('"')
            .find(|s| s.starts_with("/assets/portal-") && s.ends_with(&format!(".{ext}")))
            .unwrap_or_else(|| panic!("no .{ext} asset in {page}"));
        let hash = &asset["/assets/portal-".len()..asset.len() - ext.len() - 1];
        assert!(hash.len() == 8 && hash.bytes().all(|b| b.is_ascii_hexdigit()), "{asset}");
        let (headers, _) = browser.get(asset);
        assert_eq!(status(&headers), 200, "{asset}");
        assert_eq!(header(&headers, "cache-control"), Some("public, max-age=31536000, immutable"));
        assert!(header(&headers, "content-type").is_some_and(|t| t.starts_with(content_type)), "{headers}");
    }

    // The sign-in form's token must come back as the cookie it was set in.
    let (headers, _) =
        CurlBrowser::new(&portal, &url, &[]).post("/portal/sign-in", &[("key", &key), ("csrf", &csrf_of(&page))], &[]);
    assert_eq!(status(&headers), 403, "a sign-in without its cookie: {headers}");
    assert!(!cookies_set(&headers).iter().any(|c| c.starts_with("genesis-session=")), "{headers}");

    // Signed in: the session cookie, HttpOnly and SameSite=Strict, not Secure on plain HTTP;
    // signed-in pages are not stored.
    let headers = browser.sign_in("portal", "key", &key);
    let session = set_cookie(&headers, "genesis-session");
    assert!(session[0].len() == "genesis-session=".len() + 64, "32 random bytes in hex: {session:?}");
    for attr in ["HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(has_attr(&session, attr), "{attr}: {session:?}");
    }
    assert!(!has_attr(&session, "Secure"), "{session:?}");
    let (headers, page) = browser.get("/portal");
    assert_eq!(status(&headers), 200);
    assert_eq!(header(&headers, "cache-control"), Some("no-store"));
    assert!(page.contains("acme"), "{page}");
    // Signing out needs the token too, then ends the session.
    let (headers, _) = browser.post("/portal/sign-out", &[], &[]);
    assert_eq!(status(&headers), 403, "a sign-out without its token: {headers}");
    assert_eq!(status(&browser.get("/portal").0), 200);
    let (headers, _) = browser.post("/portal/sign-out", &[("csrf", &csrf_of(&page))], &[]);
    assert_eq!((status(&headers), browser.location(&headers)), (303, "/portal/sign-in".to_owned()));
    let (headers, _) = browser.get("/portal");
    assert_eq!((status(&headers), browser.location(&headers)), (303, "/portal/sign-in".to_owned()));

    // The vendor's forms: without the token, or from another origin, a POST is refused and
    // changes nothing; with both it does.
    let vendor = CurlBrowser::new(&portal, &url, &[]);
    let headers = vendor.sign_in("admin", "token", &token);
    // The vendor's session has a cookie of its own, never the customer's.
    let session = set_cookie(&headers, "genesis-admin-session");
    assert!(has_attr(&session, "HttpOnly") && has_attr(&session, "SameSite=Strict"), "{session:?}");
    assert!(!cookies_set(&headers).iter().any(|c| c.starts_with("genesis-session=")), "{headers}");
    let (_, page) = vendor.get("/admin/orgs");
    let csrf = csrf_of(&page);
    let (headers, _) = vendor.post("/admin/orgs", &[("name", "forged")], &[]);
    assert_eq!(status(&headers), 403, "no csrf field: {headers}");
    let (headers, _) =
        vendor.post("/admin/orgs", &[("name", "forged"), ("csrf", "0".repeat(csrf.len()).as_str())], &[]);
    assert_eq!(status(&headers), 403, "a wrong csrf field: {headers}");
    let (headers, _) =
        vendor.post("/admin/orgs", &[("name", "forged"), ("csrf", &csrf)], &["-H", "Origin: http://portal.example"]);
    assert_eq!(status(&headers), 403, "another origin: {headers}");
    assert!(!portal.admin_ok(&["org", "list"]).contains("forged"), "a refused POST created the organisation");
    let (headers, _) =
        vendor.post("/admin/orgs", &[("name", "made"), ("csrf", &csrf)], &["-H", &format!("Origin: {url}")]);
    assert_eq!((status(&headers), vendor.location(&headers)), (303, "/admin/orgs/made".to_owned()));
    assert!(portal.admin_ok(&["org", "list"]).contains("made"));
    // Revoking: the confirmation page changes nothing, and a forged POST revokes nothing.
    let listed = portal.admin_ok(&["key", "list", "--org", "acme"]);
    let id = listed.split_whitespace().next().unwrap().to_owned();
    let revoke = format!("/admin/keys/{id}/revoke");
    let (headers, _) = vendor.get(&revoke);
    assert_eq!(status(&headers), 200, "{headers}");
    let (headers, _) = vendor.post(&revoke, &[], &[]);
    assert_eq!(status(&headers), 403, "a revoke without its csrf field: {headers}");
    let (headers, _) = vendor.post(&revoke, &[("csrf", &csrf)], &["-H", "Origin: http://portal.example"]);
    assert_eq!(status(&headers), 403, "a revoke from another origin: {headers}");
    let (headers, _) = portal.curl(Some(&key), "GET", "/v1/whoami", &[]);
    assert_eq!(status(&headers), 200, "a refused revoke revoked the key: {headers}");
    // A customer's session is not a vendor's, nor a vendor's a customer's.
    let customer = CurlBrowser::new(&portal, &url, &[]);
    customer.sign_in("portal", "key", &key);
    let (headers, _) = customer.get("/admin/orgs");
    assert_eq!((status(&headers), customer.location(&headers)), (303, "/admin/sign-in".to_owned()));
    let (headers, _) = vendor.get("/portal");
    assert_eq!((status(&headers), vendor.location(&headers)), (303, "/portal/sign-in".to_owned()));

    let log = portal.log();
    assert!(!log.contains(&key) && !log.contains(&token), "the server log holds the key or the token");
}

#[test]
fn under_tls_the_session_cookie_is_secure_and_host_only() {
    let mut portal = Portal::new(Backend::default());
    let key = portal.org_with_key("acme", &["releases:read"]);
    let pki = TlsPki::write(portal.dir.path());
    portal.serve_with(&["--tls-cert", arg(&pki.valid.0), "--tls-key", arg(&pki.valid.1)]);
    let url = format!("https://127.0.0.1:{}", portal.port);
    let browser = CurlBrowser::new(&portal, &url, &["--cacert", arg(&pki.ca)]);

    let (headers, _) = browser.get("/portal/sign-in");
    assert_eq!(status(&headers), 200, "{headers}");
    assert_host_only(&set_cookie(&headers, "__Host-genesis-signin"));
    let headers = browser.sign_in("portal", "key", &key);
    assert_host_only(&set_cookie(&headers, "__Host-genesis-session"));
    // curl keeps a __Host- cookie only when it is Secure, on Path=/ and names no Domain.
    let (headers, page) = browser.get("/portal");
    assert_eq!(status(&headers), 200, "the session cookie came back: {headers}");
    assert!(page.contains("acme"));
}

#[test]
fn without_a_vendor_key_the_pages_publish_nothing() {
    let mut portal = Portal::new(Backend::default());
    let token = portal.admin_token("alice");
    portal.serve();
    let url = portal.url();
    let shots = browser::screenshots("portal/publishing-off");
    let saved = journey("publishing_off.py", &url, &shots, &[("--token", &token)]);
    browser::check_shots(&shots, saved, 1);

    // A publication posted all the same (the form's fields, without files: a portal that
    // cannot publish answers before it reads any) is answered 409, on a page that says why.
    let vendor = CurlBrowser::new(&portal, &url, &[]);
    vendor.sign_in("admin", "token", &token);
    let (_, page) = vendor.get("/admin/releases");
    let csrf = format!("csrf={}", csrf_of(&page));
    let (headers, page) =
        vendor.request("POST", "/admin/releases", &["-F", &csrf, "-F", "product=genesis", "-F", "version=0.1.0"]);
    assert_eq!(status(&headers), 409, "{headers}{page}");
    assert!(page.contains("<h1") && page.contains("--publish-key"), "{page}");
}

#[test]
fn a_download_in_the_pages_resumes_and_a_head_is_no_download() {
    let mut portal = Portal::new(Backend::default());
    let files = portal.publish_demo("acme", &[]);
    let key = portal.org_with_key("acme", &["releases:read"]);
    let token = portal.admin_token("alice");
    portal.serve();
    let url = portal.url();
    let customer = CurlBrowser::new(&portal, &url, &[]);
    customer.sign_in("portal", "key", &key);
    let vendor = CurlBrowser::new(&portal, &url, &[]);
    vendor.sign_in("admin", "token", &token);
    let path = "/portal/releases/genesis/0.1.0/files/demo-0.1.0.tar.zst";
    let bundle = std::fs::read(files.path().join("demo-0.1.0.tar.zst")).unwrap();

    let (headers, body) = customer.request_bytes("GET", path, &[]);
    assert_eq!(status(&headers), 200, "{headers}");
    assert!(body == bundle, "the download is the published bundle");
    assert_eq!(header(&headers, "content-disposition"), Some("attachment; filename=\"demo-0.1.0.tar.zst\""));
    let etag = header(&headers, "etag").unwrap_or_else(|| panic!("no ETag: {headers}")).to_owned();

    // Resumed, while the file is the one it began with: the bytes asked for.
    let if_range = format!("If-Range: {etag}");
    let (headers, body) = customer.request_bytes("GET", path, &["-H", "Range: bytes=100-1099", "-H", &if_range]);
    assert_eq!(status(&headers), 206, "{headers}");
    let range = format!("bytes 100-1099/{}", bundle.len());
    assert_eq!(header(&headers, "content-range"), Some(range.as_str()), "{headers}");
    assert!(body == bundle[100..1100], "the range is the bundle's bytes 100 to 1099");
    // Resumed against another file: the whole file again.
    let stale = ["-H", "Range: bytes=100-1099", "-H", "If-Range: \"0000\""];
    let (headers, body) = customer.request_bytes("GET", path, &stale);
    assert_eq!(status(&headers), 200, "{headers}");
    assert!(body == bundle);

    // Two whole downloads; the resumed one is the first again. A HEAD downloads nothing.
    assert_eq!(downloads_of(&vendor, "acme"), 2);
    let (headers, _) = customer.request_bytes("HEAD", path, &["--head"]);
    assert_eq!(status(&headers), 200, "{headers}");
    assert_eq!(header(&headers, "content-length"), Some(bundle.len().to_string().as_str()), "{headers}");
    assert_eq!(downloads_of(&vendor, "acme"), 2, "a HEAD was counted as a download");
}

/// How many downloads the vendor's audit page counts for `org`.
fn downloads_of(vendor: &CurlBrowser<'_>, org: &str) -> u64 {
    let (headers, page) = vendor.get("/admin/audit");
    assert_eq!(status(&headers), 200, "{headers}");
    let rows = table_rows(&page, "downloads-per-org");
    rows.iter()
        .find(|row| row[0] == org)
        .map_or(0, |row| row[1].parse::<u64>().unwrap_or_else(|e| panic!("{e}: {row:?}")))
}

#[test]
fn behind_a_tls_proxy_the_cookies_are_secure_and_the_origin_is_the_public_one() {
    let mut portal = Portal::new(Backend::default());
    let _files = portal.publish_demo("acme", &[]);
    let key = portal.org_with_key("acme", &["releases:read"]);
    let token = portal.admin_token("alice");
    let public = "https://downloads.example.com";
    portal.serve_with(&["--public-url", public]);
    let url = portal.url();
    // No cookie jar: the portal speaks plain HTTP to the proxy, over which no client sends
    // a Secure cookie back, so each request carries its cookie by hand as the browser
    // (talking HTTPS to the proxy) would.
    let curl = |method: &str, path: &str, more: &[&str]| {
        let (headers, body) = portal.curl(None, method, path, more);
        (headers, text(&body))
    };

    let mut cookies = Vec::new();
    for (area, field, secret, session) in
        [("portal", "key", &key, "__Host-genesis-session"), ("admin", "token", &token, "__Host-genesis-admin-session")]
    {
        let sign_in = format!("/{area}/sign-in");
        let (headers, page) = curl("GET", &sign_in, &[]);
        assert_eq!(status(&headers), 200, "{headers}");
        let sign_in_cookie = set_cookie(&headers, "__Host-genesis-signin");
        assert_host_only(&sign_in_cookie);
        let cookie = format!("Cookie: {}", sign_in_cookie[0]);
        let fields = form(&[(field, secret), ("csrf", &csrf_of(&page))]);
        let post = |origin: &str| {
            let origin = format!("Origin: {origin}");
            let mut args: Vec<&str> = fields.iter().map(String::as_str).collect();
            args.extend(["-H", &cookie, "-H", &origin]);
            curl("POST", &sign_in, &args)
        };
        // The portal's own address is not where its pages are: the public URL is.
        let (headers, body) = post(&url);
        assert_eq!(status(&headers), 403, "a sign-in from {url}: {headers}{body}");
        let (headers, body) = post(public);
        assert_eq!(status(&headers), 303, "a sign-in from {public}: {headers}{body}");
        let session = set_cookie(&headers, session);
        assert_host_only(&session);
        cookies.push(format!("Cookie: {}", session[0]));
    }

    // The commands name the portal as customers reach it.
    let (headers, page) = curl("GET", "/portal/releases/genesis/0.1.0", &["-H", &cookies[0]]);
    assert_eq!(status(&headers), 200, "the session cookie came back: {headers}");
    assert!(page.contains(&format!("genesis login --portal {public}\n")), "{page}");
    let (headers, _) = curl("GET", "/admin", &["-H", &cookies[1]]);
    assert_eq!(status(&headers), 200, "the vendor's session cookie came back: {headers}");
}

/// A new key of `org` (`key create` with `more` arguments): the key and its id.
fn new_key(portal: &Portal, org: &str, more: &[&str]) -> (String, String) {
    let out = portal.admin_ok(&[&["key", "create", "--org", org, "--output", "json"], more].concat());
    let created: serde_json::Value = serde_json::from_str(&out).unwrap_or_else(|e| panic!("{e}: {out}"));
    let field = |name: &str| created[name].as_str().unwrap_or_else(|| panic!("no {name}: {out}")).to_owned();
    (field("key"), field("id"))
}

#[test]
fn a_key_revoked_or_expired_ends_its_session_and_the_sign_in_page_says_so() {
    let mut portal = Portal::new(Backend::default());
    portal.admin_ok(&["org", "create", "acme"]);
    let (key, id) = new_key(&portal, "acme", &[]);
    let (expired, _) = new_key(&portal, "acme", &["--expires-in-days", "0"]);
    portal.serve();
    let url = portal.url();

    let browser = CurlBrowser::new(&portal, &url, &[]);
    browser.sign_in("portal", "key", &key);
    assert_eq!(status(&browser.get("/portal").0), 200);
    portal.admin_ok(&["key", "revoke", &id]);
    // The next request ends the session, and the sign-in page says why, once.
    let (headers, _) = browser.get("/portal");
    assert_eq!((status(&headers), browser.location(&headers)), (303, "/portal/sign-in".to_owned()));
    let flashed =
        cookies_set(&headers).into_iter().any(|c| c.split(';').next().is_some_and(|v| v.ends_with("=revoked")));
    assert!(flashed, "the reason travels as the code `revoked`, nothing else: {headers}");
    let (headers, page) = browser.get("/portal/sign-in");
    assert_eq!(status(&headers), 200, "{headers}");
    let ended = element_text(&page, "session-ended").unwrap_or_else(|| panic!("no #session-ended: {page}"));
    assert!(ended.contains("revoked") && ended.contains("vendor"), "{ended}");
    let (_, page) = browser.get("/portal/sign-in");
    assert_eq!(element_text(&page, "session-ended"), None, "the reason is said once");
    let (headers, _) = browser.get("/portal");
    assert_eq!((status(&headers), browser.location(&headers)), (303, "/portal/sign-in".to_owned()));

    // A key that has expired signs no one in, and the form says why.
    let late = CurlBrowser::new(&portal, &url, &[]);
    let (_, page) = late.get("/portal/sign-in");
    let (headers, page) = late.post("/portal/sign-in", &[("key", &expired), ("csrf", &csrf_of(&page))], &[]);
    assert_eq!(status(&headers), 401, "{headers}");
    let refusal = element_text(&page, "sign-in-error").unwrap_or_else(|| panic!("no #sign-in-error: {page}"));
    assert!(refusal.contains("expired"), "{refusal}");
    assert!(!page.contains(&expired), "the refused key is written back into the page");
    assert!(!headers.contains("genesis-session="), "{headers}");
}

#[test]
fn a_product_that_is_not_one_path_segment_is_refused() {
    let portal = Portal::new(Backend::default());
    portal.admin_ok(&["org", "create", "acme"]);
    let files = tempfile::tempdir().unwrap();
    let bundle = release_files(files.path());
    let key = fixtures().join("keys/test.pub");
    for product in ["../x", "a/b", "..", "Genesis"] {
        let published = portal.admin(&["publish", "0.1.0", arg(&bundle), "--product", product, "--key", arg(&key)]);
        assert!(!published.status.success(), "{product} was published");
        assert!(text(&published.stderr).contains(&format!("product `{product}`")), "{}", text(&published.stderr));
        let entitled = portal.admin(&["entitle", "--org", "acme", "--product", product, "--versions", "*"]);
        assert!(!entitled.status.success(), "acme was entitled to {product}");
        assert!(text(&entitled.stderr).contains(&format!("product `{product}`")), "{}", text(&entitled.stderr));
    }
    // Nothing was stored, inside the portal's directory or beside it.
    assert_eq!(files_named(portal.dir.path(), "demo-0.1.0.tar.zst"), Vec::<PathBuf>::new());
}

/// The files named `name` under `dir`, at any depth.
fn files_named(dir: &Path, name: &str) -> Vec<PathBuf> {
    let mut found = Vec::new();
    for entry in std::fs::read_dir(dir).unwrap() {
        let path = entry.unwrap().path();
        if path.is_dir() {
            found.extend(files_named(&path, name));
        } else if path.file_name().is_some_and(|n| n == name) {
            found.push(path);
        }
    }
    found
}

/// The text of an HTML fragment as a browser shows it, near enough: tags dropped, the
/// entities maud writes decoded, white space collapsed.
fn html_text(fragment: &str) -> String {
    let mut shown = String::new();
    let mut in_tag = false;
    for c in fragment.chars() {
        match c {
            '<' => in_tag = true,
            '>' if in_tag => in_tag = false,
            c if !in_tag => shown.push(c),
            _ => {}
        }
    }
    let decoded = shown
        .replace("&lt;", "<")
        .replace("&gt;", ">")
        .replace("&quot;", "\"")
        .replace("&#39;", "'")
        .replace("&amp;", "&");
    decoded.split_whitespace().collect::<Vec<_>>().join(" ")
}

/// The text of the element with id `id` of a page (one that holds no element of its own
/// kind), if the page has it.
fn element_text(page: &str, id: &str) -> Option<String> {
    let at = page.find(&format!("id=\"{id}\""))?;
    let open = page[..at].rfind('<')?;
    let tag: String = page[open + 1..].chars().take_while(char::is_ascii_alphanumeric).collect();
    let start = at + page[at..].find('>')? + 1;
    let end = start + page[start..].find(&format!("</{tag}>"))?;
    Some(html_text(&page[start..end]))
}

/// The body rows of the table with id `id` of a page, each as its cells' texts (`th` and
/// `td`).
fn table_rows(page: &str, id: &str) -> Vec<Vec<String>> {
    let at = page.find(&format!("id=\"{id}\"")).unwrap_or_else(|| panic!("no table {id}: {page}"));
    let table = &page[at..];
    let table = &table[..table.find("</table>").unwrap_or(table.len())];
    let Some((_, body)) = table.split_once("<tbody") else {
        return Vec::new();
    };
    body.split("</tr>").map(cells).filter(|row| !row.is_empty()).collect()
}

/// The texts of a table row's `th` and `td` cells.
fn cells(row: &str) -> Vec<String> {
    let mut found = Vec::new();
    let mut rest = row;
    while let Some(open) = rest.find("<t") {
        let tag = &rest[open + 2..];
        let close = match tag.chars().next() {
            Some('d') => "</td>",
            Some('h') => "</th>",
            _ => "",
        };
        if close.is_empty() || !tag[1..].starts_with([' ', '>']) {
            rest = tag;
            continue;
        }
        let start = tag.find('>').map_or(tag.len(), |end| end + 1);
        let end = tag[start..].find(close).map_or(tag.len(), |end| start + end);
        found.push(html_text(&tag[start..end]));
        rest = &tag[end..];
    }
    found
}

#[test]
fn pages_are_read_as_a_browser_shows_them() {
    let page = r#"<p class="notice" id="session-ended">You were <b>signed out</b>: a &amp; b</p>
        <table id="t"><thead><tr><th scope="col">Org</th><th>N</th></tr></thead>
        <tbody><tr data-org="acme"><th scope="row"><a href="/x">acme</a></th><td class="num"> 2 </td></tr>
        <tr><td>globex</td><td>0</td></tr></tbody></table>"#;
    assert_eq!(element_text(page, "session-ended").as_deref(), Some("You were signed out: a & b"));
    assert_eq!(element_text(page, "nothing"), None);
    assert_eq!(table_rows(page, "t"), [["acme", "2"], ["globex", "0"]]);
}
