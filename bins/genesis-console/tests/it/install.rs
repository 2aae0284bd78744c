//! The Bundles tab and the install against the run's real kube-apiserver, a Distribution as
//! the cluster-local registry: the fixture bundle uploaded in pieces with the upload protocol
//! spoken byte for byte (a piece cut mid-body, `HEAD` for where it stands, resumed), verified
//! and offered for installation; a downgrade only once confirmed; the install (the objects in
//! the API server, images rewritten to the registry, the install record, the event stream);
//! a second install while one runs refused; a tampered bundle refused with the verifier's
//! reason; a user without `create deployments` refused naming that right, nothing applied;
//! names that are not one bundle file refused. No controller runs: the test plays the
//! Deployment controller through the status subresource.

use std::io::{Read as _, Write as _};
use std::net::TcpStream;
use std::path::{Path, PathBuf};
use std::time::{Duration, Instant};

use genesis_testkit::Distribution;
use genesis_testkit::kube::KubeApiserver;
use k8s_openapi::api::apps::v1::Deployment;
use k8s_openapi::api::core::v1::{ConfigMap, Namespace};
use kube::api::{Api, Patch, PatchParams};
use serde_json::{Value, json};

use crate::{Browserless, Console, csrf_of, repo, user_name, user_token};

pub(crate) const ARCHIVE: &str = "demo-0.1.0.tar.zst";

/// A piece of the upload: the fixture (about 6.6 KiB) goes in four.
const PIECE: usize = 2048;

/// How long a bundle may take to verify, an install to end, a cut piece to be counted.
pub(crate) const PATIENCE: Duration = Duration::from_secs(120);

/// The fixture bundle of `case` (fixtures/bundles/CASE/demo-0.1.0.tar.zst).
pub(crate) fn fixture(case: &str) -> PathBuf {
    repo().join("fixtures/bundles").join(case).join(ARCHIVE)
}

/// The console's namespace, and ConfigMap `genesis-trust` trusting the fixture key.
pub(crate) fn trust_the_fixture_key(api: &KubeApiserver) {
    let key = std::fs::read_to_string(repo().join("fixtures/keys/test.pub")).unwrap();
    crate::apply(
        api,
        vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "genesis"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "genesis-trust", "namespace": "genesis"}, "data": {"vendor.pub": key}}),
        ],
    );
}

/// ClusterRole `name`: the console's bundle actions, what the install record takes (`create`
/// and `update` of ConfigMaps, `patch` of Namespace genesis-system: bound cluster-wide, these
/// reach genesis-system), and `create` and `patch` of each of `resources` (group, resource):
/// what installing the demo bundle needs, or part of it.
pub(crate) fn installer_role(api: &KubeApiserver, name: &str, resources: &[(&str, &str)]) {
    let mut rules = vec![
        crate::status::sign_in_rule(),
        json!({"apiGroups": ["console.genesis.dev"], "resources": ["bundles", "installs"],
            "verbs": ["get", "list", "create"]}),
        json!({"apiGroups": [""], "resources": ["configmaps"], "verbs": ["create", "update"]}),
        json!({"apiGroups": [""], "resources": ["namespaces"], "resourceNames": ["genesis-system"],
            "verbs": ["patch"]}),
    ];
    rules.extend(
        resources.iter().map(
            |(group, resource)| json!({"apiGroups": [group], "resources": [resource], "verbs": ["create", "patch"]}),
        ),
    );
    crate::apply(
        api,
        vec![json!({"apiVersion": "rbac.authorization.k8s.io/v1", "kind": "ClusterRole",
            "metadata": {"name": name}, "rules": rules})],
    );
}

/// Everything the demo bundle applies: its Namespace, Deployment and Service.
pub(crate) const DEMO_OBJECTS: [(&str, &str); 3] = [("", "namespaces"), ("apps", "deployments"), ("", "services")];

/// A kube-rs client of the API server as its admin, and the runtime it runs on (its
/// requests are made with that runtime's `block_on`).
pub(crate) fn client(api: &KubeApiserver) -> (kube::Client, tokio::runtime::Runtime) {
    let runtime = tokio::runtime::Builder::new_current_thread().enable_all().build().unwrap();
    let client = runtime.block_on(async {
        let cluster = genesis_kube::Cluster::connect(Some(&api.kubeconfig())).await.unwrap();
        cluster.client().clone()
    });
    (client, runtime)
}

/// The demo bundle's Deployment `app`, waited for until an install has created it; the
/// console's log in the failure when it never appears.
pub(crate) fn demo_deployment_appears(
    runtime: &tokio::runtime::Runtime,
    deployments: &Api<Deployment>,
    console: &Console,
) -> Deployment {
    let start = Instant::now();
    loop {
        if let Some(deployment) = runtime.block_on(deployments.get_opt("app")).unwrap() {
            return deployment;
        }
        assert!(start.elapsed() < PATIENCE, "the Deployment never appeared: {}", console.stderr());
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// Plays the Deployment controller, which no test runs: the status of the demo's `app`, at
/// `generation`, says its one replica is ready.
pub(crate) async fn mark_demo_deployment_ready(deployments: &Api<Deployment>, generation: i64) {
    let status = json!({"status": {"observedGeneration": generation, "replicas": 1, "readyReplicas": 1,
        "updatedReplicas": 1, "availableReplicas": 1}});
    deployments.patch_status("app", &PatchParams::default(), &Patch::Merge(&status)).await.unwrap();
}

/// One answer as it came off the socket.
struct Answer {
    status: u16,
    head: String,
    body: Vec<u8>,
}

impl Answer {
    fn parse(bytes: &[u8]) -> Answer {
        let end = bytes.windows(4).position(|w| w == b"\r\n\r\n").unwrap_or_else(|| panic!("no head in {bytes:?}"));
        let head = String::from_utf8_lossy(&bytes[..end]).into_owned();
        let status = head.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap_or_else(|| panic!("{head}"));
        let rest = &bytes[end + 4..];
        let chunked = head.to_ascii_lowercase().contains("\r\ntransfer-encoding: chunked");
        Answer { status, body: if chunked { dechunk(rest) } else { rest.to_vec() }, head }
    }

    fn header(&self, name: &str) -> Option<&str> {
        self.head.lines().skip(1).find_map(|line| {
            let (key, value) = line.split_once(':')?;
            key.trim().eq_ignore_ascii_case(name).then(|| value.trim())
        })
    }

    /// `NAME=VALUE` of the cookie `name` the answer sets.
    fn cookie(&self, name: &str) -> String {
        let prefix = format!("{name}=");
        self.head
            .lines()
            .filter_map(|line| line.split_once(':'))
            .filter(|(key, _)| key.trim().eq_ignore_ascii_case("set-cookie"))
            .find_map(|(_, value)| value.trim().starts_with(&prefix).then(|| value.trim().split(';').next().unwrap()))
            .unwrap_or_else(|| panic!("no cookie {name} in {}", self.head))
            .to_owned()
    }

    fn text(&self) -> String {
        String::from_utf8_lossy(&self.body).into_owned()
    }

    fn json(&self) -> Value {
        serde_json::from_slice(&self.body).unwrap_or_else(|e| panic!("{e}: {}\n{}", self.head, self.text()))
    }
}

/// A body sent with `Transfer-Encoding: chunked`, whole.
fn dechunk(mut rest: &[u8]) -> Vec<u8> {
    let mut body = Vec::new();
    loop {
        let line_end = rest.windows(2).position(|w| w == b"\r\n").expect("a chunk size line");
        let size = String::from_utf8_lossy(&rest[..line_end]);
        let size = usize::from_str_radix(size.split(';').next().unwrap().trim(), 16).unwrap();
        if size == 0 {
            return body;
        }
        let start = line_end + 2;
        body.extend_from_slice(&rest[start..start + size]);
        rest = &rest[start + size + 2..];
    }
}

/// The head of an HTTP/1.1 request that closes its connection after the answer.
fn request_head(address: &str, method: &str, path: &str, headers: &[(&str, &str)], length: usize) -> String {
    let mut head =
        format!("{method} {path} HTTP/1.1\r\nHost: {address}\r\nConnection: close\r\nContent-Length: {length}\r\n");
    for (name, value) in headers {
        head.push_str(&format!("{name}: {value}\r\n"));
    }
    head.push_str("\r\n");
    head
}

/// One request on a connection of its own, its answer read to the end.
fn exchange(address: &str, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
    let mut stream = TcpStream::connect(address).unwrap();
    stream.set_read_timeout(Some(PATIENCE)).unwrap();
    stream.write_all(request_head(address, method, path, headers, body.len()).as_bytes()).unwrap();
    stream.write_all(body).unwrap();
    let mut bytes = Vec::new();
    stream.read_to_end(&mut bytes).unwrap();
    Answer::parse(&bytes)
}

/// A signed-in session spoken to byte by byte, as curl would but for a piece cut mid-body,
/// which needs the socket: the upload protocol, and the event stream.
struct Raw {
    /// `127.0.0.1:PORT`.
    address: String,
    /// `genesis-console=VALUE`.
    cookie: String,
    /// The session's CSRF token.
    csrf: String,
}

impl Raw {
    /// Signs in to `console` with `token` as its form does.
    fn sign_in(console: &Console, token: &str) -> Raw {
        let address = console.url.strip_prefix("http://").expect("the tests' console speaks plain HTTP").to_owned();
        let form = exchange(&address, "GET", "/sign-in", &[], b"");
        assert_eq!(form.status, 200, "{}", form.head);
        let form_cookie = form.cookie("genesis-console-signin");
        let fields = format!("token={token}&csrf={}", csrf_of(&form.text()));
        let headers = [("Cookie", form_cookie.as_str()), ("Content-Type", "application/x-www-form-urlencoded")];
        let signed = exchange(&address, "POST", "/sign-in", &headers, fields.as_bytes());
        assert_eq!(signed.status, 303, "{}\n{}", signed.head, signed.text());
        let cookie = signed.cookie("genesis-console");
        let page = exchange(&address, "GET", "/bundles", &[("Cookie", cookie.as_str())], b"");
        assert_eq!(page.status, 200, "{}\n{}", page.head, page.text());
        Raw { address, cookie, csrf: csrf_of(&page.text()) }
    }

    /// A request of the session: its cookie and CSRF token sent with `headers`.
    fn send(&self, method: &str, path: &str, headers: &[(&str, &str)], body: &[u8]) -> Answer {
        let mut all = vec![("Cookie", self.cookie.as_str()), ("X-CSRF-Token", self.csrf.as_str())];
        all.extend_from_slice(headers);
        exchange(&self.address, method, path, &all, body)
    }

    /// `POST /uploads` for `name` of `size` bytes.
    fn start_upload(&self, name: &str, size: usize) -> Answer {
        let body = json!({"name": name, "size": size}).to_string();
        self.send("POST", "/uploads", &[("Content-Type", "application/json")], body.as_bytes())
    }

    fn piece(&self, upload: &str, offset: usize, piece: &[u8]) -> Answer {
        let offset = offset.to_string();
        let headers = [("Upload-Offset", offset.as_str()), ("Content-Type", "application/offset+octet-stream")];
        self.send("PATCH", upload, &headers, piece)
    }

    /// What `HEAD` says the upload holds.
    fn offset(&self, upload: &str) -> usize {
        let head = self.send("HEAD", upload, &[], b"");
        assert_eq!(head.status, 200, "{}", head.head);
        head.header("upload-offset").expect("HEAD says Upload-Offset").parse().unwrap()
    }

    /// Uploads `file` as `name` in pieces of [`PIECE`] bytes; with `cut`, the first piece's
    /// connection breaks after that many bytes, and the upload goes on from where `HEAD`
    /// says it stands. Returns the page the console names for the bundle.
    fn upload(&self, file: &Path, name: &str, cut: Option<usize>) -> String {
        let bytes = std::fs::read(file).unwrap();
        let created = self.start_upload(name, bytes.len());
        assert_eq!(created.status, 201, "{}\n{}", created.head, created.text());
        let upload = format!("/uploads/{}", created.json()["id"].as_str().unwrap());
        let mut offset = 0;
        if let Some(cut) = cut {
            self.cut_piece(&upload, &bytes[..PIECE], cut);
            // What arrived before the break was kept and counted: the upload goes on from there.
            let start = Instant::now();
            while self.offset(&upload) != cut {
                assert!(start.elapsed() < PATIENCE, "the cut piece's {cut} bytes were never counted");
                std::thread::sleep(Duration::from_millis(100));
            }
            offset = cut;
            // A piece from where the upload no longer stands: 409, naming where it does (sent
            // empty: the console answers before it would read a body).
            let stale = self.piece(&upload, 0, &[]);
            assert_eq!(stale.status, 409, "{}", stale.head);
            assert_eq!(stale.header("upload-offset"), Some(cut.to_string().as_str()), "{}", stale.head);
        }
        loop {
            let end = (offset + PIECE).min(bytes.len());
            let reply = self.piece(&upload, offset, &bytes[offset..end]);
            assert_eq!(reply.status, 200, "{}\n{}", reply.head, reply.text());
            let reply = reply.json();
            assert_eq!(reply["offset"], end, "{reply}");
            offset = end;
            if reply["done"] == true {
                assert_eq!(offset, bytes.len());
                return reply["location"].as_str().unwrap().to_owned();
            }
            assert_eq!(reply["location"], Value::Null, "{reply}");
        }
    }

    /// Sends `piece` at offset 0 of `upload` as its `Content-Length` says, but only its first
    /// `cut` bytes, then breaks the connection, as a dropped port-forward does.
    fn cut_piece(&self, upload: &str, piece: &[u8], cut: usize) {
        let mut stream = TcpStream::connect(&self.address).unwrap();
        let headers = [("Cookie", self.cookie.as_str()), ("X-CSRF-Token", self.csrf.as_str()), ("Upload-Offset", "0")];
        stream.write_all(request_head(&self.address, "PATCH", upload, &headers, piece.len()).as_bytes()).unwrap();
        stream.write_all(&piece[..cut]).unwrap();
        stream.flush().unwrap();
        std::thread::sleep(Duration::from_millis(500));
        stream.shutdown(std::net::Shutdown::Both).unwrap();
    }
}

/// The `data-state` of `file`'s row of `table#bundles`, once it is no longer `verifying`.
pub(crate) fn verdict(browser: &Browserless, file: &str) -> String {
    let marker = format!("<tr data-bundle=\"{file}\" data-state=\"");
    let start = Instant::now();
    loop {
        let page = browser.get("/bundles");
        assert_eq!(page.status(), 200, "{}", page.head);
        let text = page.text().unwrap();
        let state = text.split(&marker).nth(1).and_then(|rest| rest.split('"').next()).map(str::to_owned);
        match state {
            Some(state) if state != "verifying" => return state,
            _ => assert!(start.elapsed() < PATIENCE, "{file} never verified: {text}"),
        }
        std::thread::sleep(Duration::from_millis(200));
    }
}

/// The text of the element `id="ID"` of `page` (no nested element).
pub(crate) fn text_of(page: &str, id: &str) -> String {
    let after = page.split(&format!("id=\"{id}\"")).nth(1).unwrap_or_else(|| panic!("no #{id} in {page}"));
    after.split_once('>').unwrap().1.split('<').next().unwrap().to_owned()
}

/// The install's page once its state is no longer `running`.
pub(crate) fn ended(browser: &Browserless, install: &str) -> String {
    let start = Instant::now();
    loop {
        let page = browser.get(install);
        assert_eq!(page.status(), 200, "{}", page.head);
        let text = page.text().unwrap();
        if text_of(&text, "install-state") != "running" {
            return text;
        }
        assert!(start.elapsed() < PATIENCE, "the install never ended: {text}");
        std::thread::sleep(Duration::from_millis(250));
    }
}

/// The names and ids of the events of a stream's body, in order.
fn stream_events(body: &str) -> Vec<(String, usize)> {
    let mut events = Vec::new();
    let mut id = None;
    for line in body.lines() {
        if let Some(value) = line.strip_prefix("id:") {
            id = Some(value.trim().parse().unwrap());
        }
        if let Some(name) = line.strip_prefix("event:") {
            events.push((name.trim().to_owned(), usize::MAX));
        }
        if line.is_empty()
            && let (Some(last), Some(seen)) = (events.last_mut(), id.take())
        {
            last.1 = seen;
        }
    }
    events
}

#[test]
fn a_bundle_uploaded_in_pieces_through_a_cut_verifies_and_installs_with_live_events() {
    let api = KubeApiserver::start();
    let registry = Distribution::start();
    trust_the_fixture_key(&api);
    installer_role(&api, "test-installer", &DEMO_OBJECTS);
    let token = user_token(&api, "installer", "test-installer");
    let console = Console::start(&api, &["--registry", &registry.host(), "--registry-plain-http"]);
    let raw = Raw::sign_in(&console, &token);
    let browser = Browserless::sign_in(&console, &token);

    // In pieces, the first cut off mid-body and resumed from where the console says.
    let location = raw.upload(&fixture("good"), ARCHIVE, Some(700));
    assert_eq!(location, format!("/bundles/{ARCHIVE}"));
    let landed = std::fs::read(console.dir.path().join("bundles").join(ARCHIVE)).unwrap();
    assert!(landed == std::fs::read(fixture("good")).unwrap(), "the bundle landed byte for byte");
    assert_eq!(verdict(&browser, ARCHIVE), "verified");
    let listed = browser.get("/bundles").text().unwrap();
    assert!(listed.contains(&format!("href=\"/bundles/{ARCHIVE}\"")), "{listed}");
    assert!(listed.contains("key SHA256:"), "the signer is shown: {listed}");

    // The cluster records a newer version: the install needs the downgrade confirmed.
    let record = json!({"name": "demo", "version": "0.2.0", "bomDigest": "sha256:00",
        "appliedAt": "2026-01-01T00:00:00Z", "objects": []});
    crate::apply(
        &api,
        vec![
            json!({"apiVersion": "v1", "kind": "Namespace", "metadata": {"name": "genesis-system"}}),
            json!({"apiVersion": "v1", "kind": "ConfigMap",
                "metadata": {"name": "genesis-bundle-demo", "namespace": "genesis-system",
                    "labels": {"app.kubernetes.io/managed-by": "genesis"}},
                "data": {"record": record.to_string()}}),
        ],
    );
    let page = browser.get(&location).text().unwrap();
    assert!(page.contains("id=\"install-form\""), "{page}");
    assert!(page.contains("id=\"confirm-downgrade\""), "{page}");
    assert!(text_of(&page, "downgrade-reason").starts_with("demo 0.1.0 is older than 0.2.0, installed on "), "{page}");
    let unconfirmed = browser.post_form(&format!("{location}/install"), &[]);
    assert_eq!(unconfirmed.status(), 409, "{}", unconfirmed.head);
    assert!(unconfirmed.text().unwrap().contains("demo 0.1.0 is older than 0.2.0"));
    let (admin, runtime) = client(&api);
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    assert!(runtime.block_on(namespaces.get_opt("demo")).unwrap().is_none(), "nothing is applied unconfirmed");

    let started = browser.post_form(&format!("{location}/install"), &[("confirm_downgrade", "yes")]);
    assert_eq!(started.status(), 303, "{}\n{}", started.head, started.text().unwrap());
    let install = started.location().unwrap().to_owned();
    assert!(install.starts_with("/installs/"), "{install}");

    // No controller runs: the install waits for the Deployment, meanwhile a second is refused.
    let deployments: Api<Deployment> = Api::namespaced(admin.clone(), "demo");
    let deployment = demo_deployment_appears(&runtime, &deployments, &console);
    let running = browser.get(&install).text().unwrap();
    assert_eq!(text_of(&running, "install-state"), "running", "{running}");
    assert!(running.contains("http-equiv=\"refresh\""), "without JavaScript the page looks again: {running}");
    let second = browser.post_form(&format!("{location}/install"), &[("confirm_downgrade", "yes")]);
    assert_eq!(second.status(), 409, "{}", second.head);
    let busy = second.text().unwrap();
    let installer = user_name("installer");
    assert!(busy.contains(&format!("demo 0.1.0 ({ARCHIVE}) is being installed by {installer} since ")), "{busy}");

    // Played controller: the Deployment is ready, and the install ends.
    runtime.block_on(mark_demo_deployment_ready(&deployments, deployment.metadata.generation.unwrap()));
    let page = ended(&browser, &install);
    assert_eq!(text_of(&page, "install-state"), "succeeded", "{page}\n{}", console.stderr());
    for (object, outcome) in
        [("Namespace demo", "created"), ("Deployment demo/app", "created"), ("Service demo/app", "created")]
    {
        let row = format!("<tr data-object=\"{object}\" data-outcome=\"{outcome}\" data-ready=\"true\">");
        assert!(page.contains(&row), "{row}: {page}");
    }

    // The image is the cluster-local registry's, by digest; the record is the install's.
    let deployment = runtime.block_on(deployments.get("app")).unwrap();
    let image = deployment.spec.unwrap().template.spec.unwrap().containers[0].image.clone().unwrap();
    assert!(image.starts_with(&format!("{}/demo/app@sha256:", registry.host())), "{image}");
    let records: Api<ConfigMap> = Api::namespaced(admin, "genesis-system");
    let record = runtime.block_on(records.get("genesis-bundle-demo")).unwrap();
    let record: Value = serde_json::from_str(&record.data.unwrap()["record"]).unwrap();
    assert_eq!((record["name"].as_str(), record["version"].as_str()), (Some("demo"), Some("0.1.0")), "{record}");
    assert_eq!(record["objects"].as_array().unwrap().len(), 3, "{record}");

    // The event stream replays the whole install: progress, the overridden anti-rollback,
    // each object, then done; after Last-Event-ID, only what follows.
    let stream = raw.send("GET", &format!("{install}/events"), &[], b"");
    assert_eq!(stream.status, 200, "{}", stream.head);
    assert!(stream.header("content-type").is_some_and(|t| t.starts_with("text/event-stream")), "{}", stream.head);
    let body = stream.text();
    let events = stream_events(&body);
    let names: Vec<&str> = events.iter().map(|(name, _)| name.as_str()).collect();
    let first = |name: &str| names.iter().position(|n| *n == name).unwrap_or_else(|| panic!("no {name}: {body}"));
    assert!(first("progress") < first("object") && first("object") < first("done"), "{names:?}");
    assert_eq!(names.last(), Some(&"done"), "{body}");
    assert_eq!(names.iter().filter(|n| **n == "object").count(), 3, "{body}");
    assert!(body.contains("anti-rollback overridden, as "), "{body}");
    let ids: Vec<usize> = events.iter().map(|(_, id)| *id).collect();
    assert_eq!(ids, (0..events.len()).collect::<Vec<_>>(), "{body}");
    let rest = raw.send("GET", &format!("{install}/events"), &[("Last-Event-ID", "2")], b"");
    let rest = stream_events(&rest.text());
    assert_eq!(rest.first().map(|(_, id)| *id), Some(3), "{rest:?}");
    assert_eq!(rest.len(), events.len() - 3);
}

#[test]
fn what_is_not_one_verified_bundle_or_not_the_user_s_right_is_refused_and_nothing_is_applied() {
    let api = KubeApiserver::start();
    let registry = Distribution::start();
    trust_the_fixture_key(&api);
    installer_role(&api, "test-no-deployments", &[("", "namespaces"), ("", "services")]);
    let token = user_token(&api, "no-deployments", "test-no-deployments");
    let console = Console::start(&api, &["--registry", &registry.host(), "--registry-plain-http"]);
    let raw = Raw::sign_in(&console, &token);
    let browser = Browserless::sign_in(&console, &token);
    let bundles = console.dir.path().join("bundles");

    // Names of one bundle file only, checked before anything is written.
    for name in ["../evil.tar.zst", "/tmp/evil.tar.zst", "sub/evil.tar.zst", "evil\u{0}.tar.zst", ".uploads", "evil.sh"]
    {
        let refused = raw.start_upload(name, 10);
        assert_eq!(refused.status, 400, "{name:?}: {}", refused.head);
        assert!(refused.text().contains("is not the name of a bundle archive"), "{name:?}: {}", refused.text());
    }
    let form = format!(
        "--B\r\nContent-Disposition: form-data; name=\"csrf\"\r\n\r\n{}\r\n--B\r\nContent-Disposition: form-data; \
         name=\"file\"; filename=\"../evil.tar.zst\"\r\n\r\nnot a bundle\r\n--B--\r\n",
        raw.csrf
    );
    let multipart =
        raw.send("POST", "/uploads/form", &[("Content-Type", "multipart/form-data; boundary=B")], form.as_bytes());
    assert_eq!(multipart.status, 400, "{}\n{}", multipart.head, multipart.text());
    assert!(!console.dir.path().join("evil.tar.zst").exists(), "nothing was written outside the bundles directory");
    let listed: Vec<_> = std::fs::read_dir(&bundles).unwrap().map(|e| e.unwrap().file_name()).collect();
    assert!(listed.iter().all(|name| name == ".uploads"), "{listed:?}");
    assert_eq!(browser.get("/bundles/..%2Fevil.tar.zst").status(), 404);

    // A tampered bundle is refused with the verifier's reason and offers no install.
    let tampered = "tampered-0.1.0.tar.zst";
    raw.upload(&fixture("blob-byte-changed"), tampered, None);
    assert_eq!(verdict(&browser, tampered), "refused");
    let page = browser.get(&format!("/bundles/{tampered}")).text().unwrap();
    assert!(text_of(&page, "refusal").contains("does not match the BOM"), "{page}");
    assert!(!page.contains("id=\"install-form\""), "{page}");

    // The good bundle verifies; its install needs `create deployments` in `demo`, which this
    // user lacks: refused naming it, and nothing applied or recorded.
    raw.upload(&fixture("good"), ARCHIVE, None);
    assert_eq!(verdict(&browser, ARCHIVE), "verified");
    let refused = browser.post_form(&format!("/bundles/{ARCHIVE}/install"), &[]);
    assert_eq!(refused.status(), 403, "{}", refused.head);
    let text = refused.text().unwrap();
    assert!(text.contains("id=\"forbidden\""), "{text}");
    assert!(text.contains("create deployments.apps in demo"), "{text}");
    let (admin, runtime) = client(&api);
    let namespaces: Api<Namespace> = Api::all(admin.clone());
    assert!(runtime.block_on(namespaces.get_opt("demo")).unwrap().is_none(), "nothing was applied");
    let records: Api<ConfigMap> = Api::namespaced(admin, "genesis-system");
    assert!(runtime.block_on(records.get_opt("genesis-bundle-demo")).unwrap().is_none(), "nothing was recorded");
    assert_eq!(registry.stored_blobs(), 0, "no image was pushed");
    assert!(!browser.get("/bundles").text().unwrap().contains("id=\"install-running\""));
}
