//! Test support shared by the integration tests of the binaries: a real Distribution
//! registry (Debian `docker-registry`) started on a free loopback port and stopped on drop,
//! and helpers that put content into it the way other tools do; and scripted HTTP stand-ins
//! ([`http`]) for the network clients' own tests; an in-process sigstore ([`sigstore`]) that
//! signs keyless; journeys of the web pages in a real browser ([`browser`]). A missing tool
//! is a panic with the fix, never a skip.

// Test support: a panic is how a test reports failure.
#![allow(clippy::unwrap_used, clippy::expect_used, missing_docs)]

pub mod browser;
pub mod clients;
pub mod fuzz;
pub mod http;
pub mod kube;
pub mod layered_spec;
pub mod phi;
pub mod pki;
pub mod runtimes;
pub mod schema;
pub mod services;
pub mod sigstore;

use std::net::{TcpListener, TcpStream};
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

/// Text of command output.
pub fn text(b: &[u8]) -> String {
    String::from_utf8_lossy(b).into_owned()
}

/// A `docker-registry` process with its storage; killed on drop.
pub struct Distribution {
    child: Option<Child>,
    dir: tempfile::TempDir,
    tls: Option<(PathBuf, PathBuf)>,
    htpasswd: Option<PathBuf>,
    extra: String,
    pub port: u16,
}

/// A loopback port that was free a moment ago, and that no other test process is given
/// while this one runs.
///
/// Chosen at random below Linux's ephemeral range (32768 and up) rather than by `bind(0)`:
/// the kernel never gives these ports to outgoing connections, and a port another test
/// process has just released (a server a test killed on purpose) is not handed straight to
/// the next test, as `bind(0)` tends to do — which once let a fresh registry answer on the
/// port of one a test had stopped.
///
/// A port is free only until its server binds it, seconds later for a kube-apiserver: two
/// test processes once drew the same port in that window, the portal's test talked to the
/// other test's API server and both failed. So each port drawn is also reserved (see
/// [`reserve_port`]) and never drawn by another test process until this one ends.
pub fn free_port() -> u16 {
    use std::hash::{BuildHasher as _, Hasher as _};
    loop {
        // RandomState is seeded from the OS: a random number without a dependency.
        let mut hasher = std::collections::hash_map::RandomState::new().build_hasher();
        hasher.write_u32(std::process::id());
        let port = 20_000 + (hasher.finish() % 12_000) as u16;
        if reserve_port(port) && TcpListener::bind(("127.0.0.1", port)).is_ok() {
            return port;
        }
    }
}

/// Reserves `port` for this process's lifetime, or says that another process (or an earlier
/// draw in this one) holds it: an exclusive `flock` on a file named for the port, in a folder
/// every test process on the machine shares. The kernel releases the lock when the process
/// ends, however it ends, so a killed test leaves nothing reserved.
fn reserve_port(port: u16) -> bool {
    use rustix::fs::{FlockOperation, flock};
    // The locks live as long as their open files: kept open until the process ends.
    static HELD: std::sync::Mutex<Vec<std::fs::File>> = std::sync::Mutex::new(Vec::new());
    let dir = std::env::temp_dir().join("genesis-test-ports");
    std::fs::create_dir_all(&dir).expect("creating the folder of reserved test ports");
    let file = std::fs::OpenOptions::new()
        .create(true)
        .truncate(false)
        .write(true)
        .open(dir.join(port.to_string()))
        .expect("opening a reserved test port's lock file");
    // A lock belongs to its open file: a second draw of the port in this process is refused too.
    if flock(&file, FlockOperation::NonBlockingLockExclusive).is_err() {
        return false;
    }
    HELD.lock().unwrap_or_else(std::sync::PoisonError::into_inner).push(file);
    true
}

/// Copies the fixture spec and its inputs (`bundle.yaml`, images, charts, manifests) into
/// `dir`, for a test that builds the demo bundle where it may write.
pub fn copy_inputs(dir: &Path) {
    let fixtures = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures");
    for entry in ["bundle.yaml", "images", "charts", "manifests"] {
        copy_tree(&fixtures.join(entry), &dir.join(entry));
    }
}

fn copy_tree(from: &Path, to: &Path) {
    if from.is_dir() {
        std::fs::create_dir_all(to).unwrap();
        for e in std::fs::read_dir(from).unwrap() {
            let e = e.unwrap();
            copy_tree(&e.path(), &to.join(e.file_name()));
        }
    } else {
        std::fs::copy(from, to).unwrap();
    }
}

/// Waits until something listens on the port.
pub fn wait_for(port: u16) {
    let start = Instant::now();
    while TcpStream::connect(("127.0.0.1", port)).is_err() {
        assert!(start.elapsed() < Duration::from_secs(20), "registry on {port} never came up");
        std::thread::sleep(Duration::from_millis(20));
    }
}

/// One request of a registry's access log.
struct AccessLogLine {
    method: String,
    /// The path with its query.
    target: String,
    status: String,
}

impl Distribution {
    pub fn start() -> Distribution {
        Self::start_with(None)
    }

    /// Serving HTTPS with this certificate and key.
    pub fn start_with(tls: Option<(PathBuf, PathBuf)>) -> Distribution {
        Self::start_full(tls, None)
    }

    /// HTTPS with basic authentication against an htpasswd (bcrypt) file.
    pub fn start_full(tls: Option<(PathBuf, PathBuf)>, htpasswd: Option<PathBuf>) -> Distribution {
        let dir = tempfile::tempdir().unwrap();
        let mut d = Distribution { child: None, dir, tls, htpasswd, extra: String::new(), port: free_port() };
        d.restart();
        d
    }

    /// With extra top-level configuration (YAML appended as is), e.g. an `auth:` section.
    pub fn start_configured(tls: Option<(PathBuf, PathBuf)>, extra: &str) -> Distribution {
        let dir = tempfile::tempdir().unwrap();
        let mut d = Distribution { child: None, dir, tls, htpasswd: None, extra: extra.to_owned(), port: free_port() };
        d.restart();
        d
    }

    /// Starts (again) on the same port and storage.
    pub fn restart(&mut self) {
        let config = self.dir.path().join("config.yml");
        let mut yaml = format!(
            "version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\n  delete: {{enabled: true}}\nhttp:\n  addr: 127.0.0.1:{}\n",
            self.dir.path().join("data").display(),
            self.port
        );
        if let Some((cert, key)) = &self.tls {
            yaml.push_str(&format!("  tls: {{certificate: {}, key: {}}}\n", cert.display(), key.display()));
        }
        if let Some(htpasswd) = &self.htpasswd {
            yaml.push_str(&format!("auth:\n  htpasswd: {{realm: genesis-test, path: {}}}\n", htpasswd.display()));
        }
        yaml.push_str(&self.extra);
        std::fs::write(&config, yaml).unwrap();
        // Distribution writes its access log (one line per request) on stdout.
        let access_log =
            std::fs::OpenOptions::new().create(true).append(true).open(self.dir.path().join("access.log")).unwrap();
        let child = Command::new("docker-registry")
            .arg("serve")
            .arg(&config)
            .stdout(access_log)
            .stderr(Stdio::null())
            .spawn()
            .expect("docker-registry must be installed (.ci/run installs it)");
        self.child = Some(child);
        wait_for(self.port);
    }

    pub fn kill(&mut self) {
        if let Some(mut c) = self.child.take() {
            let _ = c.kill();
            let _ = c.wait();
        }
    }

    /// The registry's storage root.
    pub fn storage(&self) -> PathBuf {
        self.dir.path().join("data")
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }

    /// Blobs the registry has stored.
    pub fn stored_blobs(&self) -> usize {
        self.stored_blob_hexes().len()
    }

    /// The digests of the blob uploads the registry completed, in order, read from its access
    /// log: each `PUT …/blobs/uploads/…?digest=…` it answered 201 (a mount is not an upload).
    /// Distribution logs a request before the client reads the small answer of an upload's
    /// end, so an upload a client saw complete is here.
    pub fn completed_uploads(&self) -> Vec<String> {
        self.access_log()
            .into_iter()
            .filter(|r| r.method == "PUT" && r.status == "201" && r.target.contains("/blobs/uploads/"))
            .filter_map(|r| {
                let digest = r.target.split(['?', '&']).find_map(|p| p.strip_prefix("digest="))?;
                Some(digest.replace("%3A", ":").replace("%3a", ":"))
            })
            .collect()
    }

    /// Every request the registry answered, as `METHOD PATH` (query left out), in order, read
    /// from its access log.
    pub fn requests(&self) -> Vec<String> {
        self.access_log()
            .into_iter()
            .map(|r| format!("{} {}", r.method, r.target.split('?').next().unwrap_or("")))
            .collect()
    }

    /// The requests of the registry's access log, in order. A line reads
    /// `127.0.0.1 - - [date] "PUT /v2/…/blobs/uploads/ID?_state=…&digest=sha256%3A… HTTP/1.1" 201 0 "" "agent"`.
    fn access_log(&self) -> Vec<AccessLogLine> {
        // Distribution writes a request's line after its response has gone: a client that
        // has its answer may read the log before the line is there. Read until it is still.
        let path = self.dir.path().join("access.log");
        let mut log = std::fs::read_to_string(&path).unwrap_or_default();
        for _ in 0..40 {
            std::thread::sleep(std::time::Duration::from_millis(50));
            let again = std::fs::read_to_string(&path).unwrap_or_default();
            if again.len() == log.len() {
                break;
            }
            log = again;
        }
        log.lines()
            .filter_map(|line| {
                let (_, request) = line.split_once(" \"")?;
                let (method, rest) = request.split_once(' ')?;
                let (target, rest) = rest.split_once(" HTTP/")?;
                let status = rest.split_once("\" ")?.1.split_whitespace().next()?;
                Some(AccessLogLine { method: method.to_owned(), target: target.to_owned(), status: status.to_owned() })
            })
            .collect()
    }

    /// The SHA-256 hex of every blob the registry has stored.
    pub fn stored_blob_hexes(&self) -> Vec<String> {
        let root = self.storage().join("docker/registry/v2/blobs/sha256");
        std::fs::read_dir(root)
            .into_iter()
            .flatten()
            .flatten()
            .flat_map(|prefix| std::fs::read_dir(prefix.path()).into_iter().flatten().flatten())
            .map(|blob| blob.file_name().to_string_lossy().into_owned())
            .collect()
    }
}

impl Drop for Distribution {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Pushes a blob with curl (POST, then monolithic PUT); returns its descriptor.
pub fn push_blob(host: &str, repo: &str, bytes: &[u8], media_type: &str) -> serde_json::Value {
    let digest = genesis_bundle::sha256(bytes);
    let out = Command::new("curl")
        .args(["-s", "-D", "-", "-o", "/dev/null", "-X", "POST", &format!("http://{host}/v2/{repo}/blobs/uploads/")])
        .output()
        .unwrap();
    let head = text(&out.stdout);
    let location = head
        .lines()
        .find_map(|l| l.strip_prefix("Location: ").or_else(|| l.strip_prefix("location: ")))
        .unwrap()
        .trim()
        .to_owned();
    let url = format!("{location}&digest={digest}");
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), bytes).unwrap();
    let put = Command::new("curl")
        .args(["-sf", "-X", "PUT", "-H", "Content-Type: application/octet-stream", "--data-binary"])
        .arg(format!("@{}", tmp.path().display()))
        .arg(&url)
        .status()
        .unwrap();
    assert!(put.success());
    serde_json::json!({"mediaType": media_type, "digest": digest.to_string(), "size": bytes.len()})
}

/// Signs `digest` in `repo` the way `cosign sign --key` stores it: a simple-signing payload
/// layer with the signature annotation, under the `sha256-<hex>.sig` tag (appended to the
/// signatures already there).
pub fn cosign_sign(host: &str, repo: &str, digest: &str, key: &Path) {
    let payload = serde_json::to_vec(&serde_json::json!({
        "critical": {"identity": {"docker-reference": format!("{host}/{repo}")}, "image": {"docker-manifest-digest": digest}, "type": "cosign container image signature"},
        "optional": null
    }))
    .unwrap();
    let key = genesis_trust::PrivateKey::from_pem_file(key).unwrap();
    let signature = String::from_utf8(genesis_trust::encode_signature(&key.sign(&payload))).unwrap();
    let mut layer = push_blob(host, repo, &payload, "application/vnd.dev.cosign.simplesigning.v1+json");
    layer["annotations"] = serde_json::json!({"dev.cosignproject.cosign/signature": signature});
    let tag = digest.replace(':', "-") + ".sig";
    // Like cosign, a further signature is appended as another layer of the same manifest.
    let existing = Command::new("curl")
        .args(["-sf", "-H", "Accept: application/vnd.oci.image.manifest.v1+json"])
        .arg(format!("http://{host}/v2/{repo}/manifests/{tag}"))
        .output()
        .unwrap();
    let mut layers: Vec<serde_json::Value> = if existing.status.success() {
        serde_json::from_slice::<serde_json::Value>(&existing.stdout).unwrap()["layers"].as_array().unwrap().clone()
    } else {
        Vec::new()
    };
    layers.push(layer);
    let config = push_blob(host, repo, b"{}", "application/vnd.oci.image.config.v1+json");
    let manifest = serde_json::to_vec(&serde_json::json!({"schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config, "layers": layers})).unwrap();
    put_manifest(host, repo, &tag, "application/vnd.oci.image.manifest.v1+json", &manifest);
}

/// The data files of every blob a Distribution registry stores
/// (`…/blobs/sha256/<2>/<hex>/data`).
pub fn stored_blob_paths(registry: &Distribution) -> Vec<PathBuf> {
    let root = registry.storage().join("docker/registry/v2/blobs/sha256");
    let mut out = Vec::new();
    for prefix in std::fs::read_dir(root).into_iter().flatten().flatten() {
        for blob in std::fs::read_dir(prefix.path()).into_iter().flatten().flatten() {
            out.push(blob.path().join("data"));
        }
    }
    out
}

/// Python's `http.server` serving a folder on a free loopback port; killed on drop.
pub struct StaticHttp {
    child: Child,
    pub port: u16,
}

impl StaticHttp {
    pub fn serve(dir: &Path) -> StaticHttp {
        let port = free_port();
        let child = Command::new("python3")
            .args(["-m", "http.server", &port.to_string(), "--bind", "127.0.0.1", "--directory"])
            .arg(dir)
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("python3 must be installed");
        wait_for(port);
        StaticHttp { child, port }
    }
}

impl Drop for StaticHttp {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Pushes a packaged chart as a Helm OCI artifact (`helm push` layout) to `repo:version`.
pub fn push_helm_chart(host: &str, repo: &str, version: &str, chart: &[u8]) {
    let config = push_blob(
        host,
        repo,
        br#"{"name":"web","version":"0.1.0","apiVersion":"v2"}"#,
        "application/vnd.cncf.helm.config.v1+json",
    );
    let layer = push_blob(host, repo, chart, "application/vnd.cncf.helm.chart.content.v1.tar+gzip");
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json", "config": config, "layers": [layer]
    }))
    .unwrap();
    put_manifest(host, repo, version, "application/vnd.oci.image.manifest.v1+json", &manifest);
}

/// PUTs a manifest (by digest or tag) with curl.
pub fn put_manifest(host: &str, repo: &str, reference: &str, media_type: &str, bytes: &[u8]) {
    let tmp = tempfile::NamedTempFile::new().unwrap();
    std::fs::write(tmp.path(), bytes).unwrap();
    let status = Command::new("curl")
        .args(["-sf", "-X", "PUT", "-H", &format!("Content-Type: {media_type}"), "--data-binary"])
        .arg(format!("@{}", tmp.path().display()))
        .arg(format!("http://{host}/v2/{repo}/manifests/{reference}"))
        .status()
        .unwrap();
    assert!(status.success(), "PUT {repo}/manifests/{reference}");
}

/// The fixture image layout (`fixtures/images/app`): one index tagged `1.0`, with linux/amd64
/// and linux/arm64 manifests.
pub fn fixture_image() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/images/app")
}

/// Pushes the fixture image ([`fixture_image`]), every platform with its bytes and digests, to
/// `reference` (`repo:tag`) on the plain-HTTP registry `host`, with skopeo.
pub fn push_fixture_image(host: &str, reference: &str) {
    let out = Command::new("skopeo")
        .args(["copy", "-q", "--all", "--dest-tls-verify=false"])
        .arg(format!("oci:{}:1.0", fixture_image().display()))
        .arg(format!("docker://{host}/{reference}"))
        .output()
        .expect("skopeo must be installed");
    assert!(out.status.success(), "{}", text(&out.stderr));
}

/// An artifact manifest the way `oras` writes one: an empty config, `payload` as its one layer
/// (both blobs pushed), `artifact_type`, and the `subject` it refers to, if any.
fn artifact_manifest(
    host: &str,
    repo: &str,
    artifact_type: &str,
    payload: &[u8],
    subject: Option<&serde_json::Value>,
) -> Vec<u8> {
    let config = push_blob(host, repo, b"{}", "application/vnd.oci.empty.v1+json");
    let layer = push_blob(host, repo, payload, artifact_type);
    let mut manifest = serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "artifactType": artifact_type, "config": config, "layers": [layer]
    });
    if let Some(subject) = subject {
        manifest["subject"] = subject.clone();
    }
    serde_json::to_vec(&manifest).unwrap()
}

/// Pushes `payload` as an artifact (`oras push`) under `tag`, e.g. a `<tag>-lock` sidecar;
/// returns the manifest's digest.
pub fn push_artifact(host: &str, repo: &str, tag: &str, artifact_type: &str, payload: &[u8]) -> String {
    let manifest = artifact_manifest(host, repo, artifact_type, payload, None);
    put_manifest(host, repo, tag, "application/vnd.oci.image.manifest.v1+json", &manifest);
    genesis_bundle::sha256(&manifest).to_string()
}

/// Attaches an artifact to `subject` the way `oras attach` does against a registry without
/// the Referrers API: the artifact manifest by digest, listed in the `sha256-<hex>` tag
/// index. Returns the artifact's digest.
pub fn attach_referrer(
    host: &str,
    repo: &str,
    subject: &serde_json::Value,
    artifact_type: &str,
    payload: &[u8],
) -> String {
    let manifest = artifact_manifest(host, repo, artifact_type, payload, Some(subject));
    let digest = genesis_bundle::sha256(&manifest).to_string();
    put_manifest(host, repo, &digest, "application/vnd.oci.image.manifest.v1+json", &manifest);
    let index = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2, "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": [{"mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": digest, "size": manifest.len(), "artifactType": artifact_type}]
    }))
    .unwrap();
    let tag = subject["digest"].as_str().unwrap().replace(':', "-");
    put_manifest(host, repo, &tag, "application/vnd.oci.image.index.v1+json", &index);
    digest
}

/// go-containerregistry's registry with the Referrers API (`cargo xtask tools` provides it);
/// killed on drop.
pub struct Ocireg {
    child: Child,
    pub port: u16,
    _dir: tempfile::TempDir,
}

impl Ocireg {
    pub fn start() -> Ocireg {
        let binary = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/ocireg");
        assert!(
            binary.exists(),
            "the Referrers-API registry is missing: run `cargo xtask tools` (cargo xtask ci does)"
        );
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new(binary)
            .args(["-addr", &format!("127.0.0.1:{port}"), "-disk"])
            .arg(dir.path().join("blobs"))
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .unwrap();
        wait_for(port);
        Ocireg { child, port, _dir: dir }
    }

    pub fn host(&self) -> String {
        format!("127.0.0.1:{}", self.port)
    }
}

impl Drop for Ocireg {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Runs `openssl` in `dir`; a failure panics with its stderr.
pub fn openssl(dir: &Path, args: &[&str]) {
    let out = Command::new("openssl").args(args).current_dir(dir).output().expect("openssl must be installed");
    assert!(out.status.success(), "openssl {args:?}: {}", text(&out.stderr));
}

/// A self-signed P-256 certificate `<name>.crt` with its key `<name>.key`, valid two days.
pub fn self_signed_p256(dir: &Path, name: &str, subject: &str) {
    let (key, crt) = (format!("{name}.key"), format!("{name}.crt"));
    openssl(
        dir,
        &[
            "req",
            "-x509",
            "-newkey",
            "ec",
            "-pkeyopt",
            "ec_paramgen_curve:P-256",
            "-nodes",
            "-keyout",
            &key,
            "-out",
            &crt,
            "-days",
            "2",
            "-subj",
            subject,
        ],
    );
}

/// A CA and a leaf certificate for 127.0.0.1 (rustls refuses a CA used as a leaf):
/// `(ca.crt, leaf certificate, leaf key)`, from [`pki::TlsPki`].
pub fn test_pki(dir: &Path) -> (PathBuf, PathBuf, PathBuf) {
    let pki = pki::TlsPki::write(dir);
    (pki.ca, pki.valid.0, pki.valid.1)
}

#[cfg(test)]
mod tests {
    use std::process::Command;

    use super::*;

    /// The reservation is what other test processes see: util-linux's `flock`, another
    /// process, cannot take a port this one drew, and this one does not draw it twice.
    #[test]
    fn a_drawn_port_is_held_from_other_processes_until_this_one_ends() {
        let port = free_port();
        let lock = std::env::temp_dir().join("genesis-test-ports").join(port.to_string());
        let other = Command::new("flock")
            .args(["--nonblock", "--conflict-exit-code", "75"])
            .arg(&lock)
            .arg("true")
            .status()
            .unwrap();
        assert_eq!(other.code(), Some(75), "another process took port {port}'s lock");
        assert!(!reserve_port(port), "port {port} drawn twice");
    }
}
