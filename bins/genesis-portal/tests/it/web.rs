//! The portal's web pages. In a real browser: Debian's Chromium, headless, driven by PyPI's
//! Selenium through the journeys in `tests/browser/` (a customer, another organisation's
//! customer, the vendor with a customer beside), on the embedded defaults and on PostgreSQL +
//! S3 (moto), every page saved as a screenshot under `target/screenshots/portal/` for people
//! to look at. And with curl, without a browser: the session cookie's flags over HTTP and
//! TLS, CSRF tokens and Origin checks, the security headers, the assets' caching.

use std::path::{Path, PathBuf};
use std::process::Command;

use genesis_testkit::pki::TlsPki;
use genesis_testkit::services::{MotoS3, Postgres};
use genesis_testkit::text;

use crate::{Backend, Portal, fixtures, header, release_files, status};

/// Where the tests build: the journeys' Python environment and the screenshots are there.
fn target_dir() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target")
}

/// The Python that runs the journeys, once Selenium and Chromium are found: a missing one
/// fails the test, naming what installs it.
fn browser_python() -> PathBuf {
    let python = target_dir().join("test-venv/bin/python");
    let selenium = Command::new(&python).args(["-c", "import selenium"]).output();
    assert!(
        selenium.is_ok_and(|out| out.status.success()),
        "{} has no Selenium: run `cargo xtask test-deps` (cargo xtask ci does)",
        python.display()
    );
    for (tool, package) in [("/usr/lib/chromium/chromium", "chromium"), ("/usr/bin/chromedriver", "chromium-driver")] {
        assert!(Path::new(tool).exists(), "{tool} is missing: install Debian's {package} (.ci/run does)");
    }
    python
}

/// Runs the journey `tests/browser/SCRIPT` against the portal at `url` with `options`,
/// saving screenshots into `shots`; the screenshots it saved.
fn journey(script: &str, url: &str, shots: &Path, options: &[(&str, &str)]) -> Vec<PathBuf> {
    let mut cmd = Command::new(browser_python());
    cmd.arg(Path::new(env!("CARGO_MANIFEST_DIR")).join("tests/browser").join(script))
        .args(["--portal", url, "--screenshots", arg(shots)])
        .args(options.iter().flat_map(|&(option, value)| [option, value]))
        // Selenium Manager never looks for a browser or driver to download.
        .env("SE_OFFLINE", "true")
        // No __pycache__ left in the source tree.
        .env("PYTHONDONTWRITEBYTECODE", "1");
    for proxy in ["HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY", "http_proxy", "https_proxy", "all_proxy"] {
        cmd.env_remove(proxy);
    }
    let out = cmd.output().unwrap();
    let stdout = text(&out.stdout);
    assert!(out.status.success(), "{script}:\n{stdout}{}", text(&out.stderr));
    stdout.lines().filter_map(|line| line.strip_prefix("screenshot: ")).map(PathBuf::from).collect()
}

fn arg(path: &Path) -> &str {
    path.to_str().unwrap()
}

/// Width and height of a PNG, which it must be.
fn png_size(path: &Path) -> (u32, u32) {
    let bytes = std::fs::read(path).unwrap_or_else(|e| panic!("{}: {e}", path.display()));
    assert!(bytes.starts_with(b"\x89PNG\r\n\x1a\n") && bytes.len() > 24, "{} is not a PNG", path.display());
    let be = |at: usize| u32::from_be_bytes(bytes[at..at + 4].try_into().unwrap());
    (be(16), be(20))
}

/// The demo release published as `genesis` 0.1.0 and entitled to `acme`, whose customer
/// downloads it, copies its commands, reads its SBOM and provenance and exports it; `globex`,
/// entitled to nothing published, sees none of it; the vendor creates `initech` and a key,
/// entitles it to `demo 0.1.*`, uploads the same bundle as `demo` 0.1.0 (a tampered copy
/// first, refused) and revokes the key under its customer's session. Screenshots go to
/// `target/screenshots/portal/NAME/`.
fn in_a_browser(portal: &mut Portal, name: &str) {
    let release = portal.publish_demo("acme", &[]);
    let scopes = ["releases:read", "export:read", "export:write"];
    let acme = portal.org_with_key("acme", &scopes);
    let globex = portal.org_with_key("globex", &scopes);
    portal.admin_ok(&["entitle", "--org", "globex", "--versions", ">=9"]);
    let token = portal.admin_token("alice");
    let vendor_key = fixtures().join("keys/test.pub");
    portal.serve_with(&["--publish-key", arg(&vendor_key)]);
    let url = portal.url();
    let shots = target_dir().join("screenshots/portal").join(name);
    let _ = std::fs::remove_dir_all(&shots);
    let work = tempfile::tempdir().unwrap();
    let downloads = work.path().join("downloads");
    let acme_seen = work.path().join("acme-seen.json");
    let tampered = work.path().join("tampered");
    std::fs::create_dir(&tampered).unwrap();
    let bundle = release_files(&tampered);
    std::fs::copy(fixtures().join("bundles/blob-byte-changed/demo-0.1.0.tar.zst"), bundle).unwrap();

    let mut saved = journey(
        "customer_journey.py",
        &url,
        &shots,
        &[
            ("--key", &acme),
            ("--releases", "0.1.0"),
            ("--release-dir", arg(release.path())),
            ("--downloads", arg(&downloads)),
            ("--record", arg(&acme_seen)),
        ],
    );
    // What the browser saved is what was published, and `sha256sum -c` says so.
    let check =
        Command::new("sha256sum").args(["-c", "demo-0.1.0.tar.zst.sha256"]).current_dir(&downloads).output().unwrap();
    assert!(check.status.success(), "sha256sum -c on the browser's downloads: {}", text(&check.stdout));
    for file in std::fs::read_dir(release.path()).unwrap() {
        let file = file.unwrap();
        let downloaded = std::fs::read(downloads.join(file.file_name())).unwrap();
        assert!(downloaded == std::fs::read(file.path()).unwrap(), "{:?} differs", file.file_name());
    }
    // The export pack the browser saved is the one the API serves.
    let seen: serde_json::Value = serde_json::from_slice(&std::fs::read(&acme_seen).unwrap()).unwrap();
    let export = seen["export"].as_str().unwrap().rsplit('/').next().unwrap().to_owned();
    let (headers, pack) =
        portal.curl(Some(&acme), "GET", &format!("/v1/exports/airgap/bootstrap/{export}/download"), &[]);
    assert_eq!(status(&headers), 200, "{headers}");
    assert!(std::fs::read(downloads.join(format!("genesis-airgap-{export}.tar.gz"))).unwrap() == pack);

    saved.extend(journey(
        "isolation.py",
        &url,
        &shots,
        &[("--key", &globex), ("--other-org", "acme"), ("--foreign", arg(&acme_seen))],
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
    let mut on_disk: Vec<PathBuf> = std::fs::read_dir(&shots).unwrap().map(|e| e.unwrap().path()).collect();
    on_disk.sort();
    saved.sort();
    assert_eq!(on_disk, saved, "the screenshots on disk are the ones the journeys saved");
    assert!(saved.len() >= 30, "only {} screenshots", saved.len());
    for shot in &saved {
        let (width, _) = png_size(shot);
        let phone = shot.to_str().unwrap().ends_with("-release-phone.png");
        assert_eq!(width, if phone { 390 } else { 1280 }, "{}", shot.display());
    }

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
        let mut args: Vec<&str> = vec!["-b", arg(&self.jar), "-c", arg(&self.jar)];
        args.extend(self.extra.iter().map(String::as_str));
        args.extend(more);
        let (headers, body) = self.portal.curl_at(&self.base, None, method, path, &args);
        (headers, text(&body))
    }

    fn get(&self, path: &str) -> (String, String) {
        self.request("GET", path, &[])
    }

    /// A form POST of `fields` (a form's content type even when there are none, as a browser
    /// sends it), with `more` curl arguments (headers).
    fn post(&self, path: &str, fields: &[(&str, &str)], more: &[&str]) -> (String, String) {
        let encoded: Vec<String> = fields.iter().map(|(k, v)| format!("{k}={v}")).collect();
        let mut args: Vec<&str> = Vec::new();
        for field in &encoded {
            args.extend(["--data-urlencode", field]);
        }
        if fields.is_empty() {
            args.extend(["--data", ""]);
        }
        args.extend(more);
        self.request("POST", path, &args)
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
    vendor.sign_in("admin", "token", &token);
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
    // A customer's session is not a vendor's.
    let customer = CurlBrowser::new(&portal, &url, &[]);
    customer.sign_in("portal", "key", &key);
    let (headers, _) = customer.get("/admin/orgs");
    assert_eq!((status(&headers), customer.location(&headers)), (303, "/admin/sign-in".to_owned()));

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
    let headers = browser.sign_in("portal", "key", &key);
    let session = set_cookie(&headers, "__Host-genesis-session");
    for attr in ["Secure", "HttpOnly", "SameSite=Strict", "Path=/"] {
        assert!(has_attr(&session, attr), "{attr}: {session:?}");
    }
    assert!(!session.iter().any(|a| a.to_ascii_lowercase().starts_with("domain=")), "{session:?}");
    // curl keeps a __Host- cookie only when it is Secure, on Path=/ and names no Domain.
    let (headers, page) = browser.get("/portal");
    assert_eq!(status(&headers), 200, "the session cookie came back: {headers}");
    assert!(page.contains("acme"));
}
