//! The portal end to end, on loopback: the `genesis-portal` server and admin commands on
//! each backend (embedded SQLite + directory, PostgreSQL from Debian, moto's S3 server,
//! Azurite's Blob service), and the `genesis` client against it.

// Test helpers are not a public API, and a panic is how a test reports failure.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod backends;
mod downloads;
mod endpoints;
mod exports;
mod keys;
mod license;
mod report;
mod split;
mod tls;
mod web;

use std::net::TcpListener;
use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::sync::Arc;
use std::sync::atomic::{AtomicUsize, Ordering};

use genesis_testkit::services::Azurite;
use genesis_testkit::{free_port, text, wait_for};

/// The repository's fixtures.
pub fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Another binary of the workspace (`genesis`, `bundle-builder`), built beside this package's
/// binary by a workspace build.
pub fn workspace_bin(name: &str) -> PathBuf {
    let bin = Path::new(env!("CARGO_BIN_EXE_genesis-portal")).with_file_name(name);
    assert!(bin.exists(), "{} is missing: run the workspace's tests (`cargo nextest run --workspace`)", bin.display());
    bin
}

/// Where metadata and artifacts live for one portal.
#[derive(Default, Clone)]
pub struct Backend {
    /// `--database-url`, else SQLite in the data dir.
    pub database_url: Option<String>,
    /// `(endpoint, bucket)` of an S3 server (plain HTTP), else the data dir.
    pub s3: Option<(String, String)>,
    /// An Azurite account, else the data dir.
    pub azure: Option<AzureBackend>,
    /// More environment for every `genesis-portal` command.
    pub env: Vec<(String, String)>,
}

/// Artifacts in Azurite's development account.
#[derive(Clone)]
pub struct AzureBackend {
    /// Its blob endpoint (plain HTTP).
    pub endpoint: String,
    /// `az://CONTAINER[/PREFIX]`.
    pub url: String,
    /// A SAS token as the credential, instead of the account key.
    pub sas: Option<String>,
}

/// One portal: its data directory, backend, and (once served) its server process.
pub struct Portal {
    pub dir: tempfile::TempDir,
    backend: Backend,
    server: Option<Child>,
    pub port: u16,
}

impl Portal {
    pub fn new(backend: Backend) -> Portal {
        Portal { dir: tempfile::tempdir().unwrap(), backend, server: None, port: free_port() }
    }

    fn command(&self) -> Command {
        let mut cmd = Command::new(env!("CARGO_BIN_EXE_genesis-portal"));
        cmd.arg("--data-dir").arg(self.dir.path().join("data"));
        if let Some(url) = &self.backend.database_url {
            cmd.args(["--database-url", url]);
        }
        if let Some((endpoint, bucket)) = &self.backend.s3 {
            cmd.args(["--object-store", &format!("s3://{bucket}"), "--s3-endpoint", endpoint, "--s3-allow-http"]);
            cmd.env("GENESIS_PORTAL_S3_ACCESS_KEY_ID", "portal-test")
                .env("GENESIS_PORTAL_S3_SECRET_ACCESS_KEY", "portal-test-secret");
        }
        if let Some(azure) = &self.backend.azure {
            cmd.args(["--object-store", &azure.url, "--azure-endpoint", &azure.endpoint, "--azure-allow-http"])
                .args(["--azure-account", Azurite::ACCOUNT]);
            match &azure.sas {
                Some(sas) => cmd.env("GENESIS_PORTAL_AZURE_SAS_TOKEN", sas),
                None => cmd.env("GENESIS_PORTAL_AZURE_ACCESS_KEY", Azurite::KEY),
            };
        }
        cmd.envs(self.backend.env.iter().map(|(k, v)| (k, v)));
        cmd
    }

    /// Runs an admin command.
    pub fn admin(&self, args: &[&str]) -> Output {
        self.command().args(args).output().unwrap()
    }

    /// Runs an admin command that must succeed; its stdout.
    pub fn admin_ok(&self, args: &[&str]) -> String {
        let out = self.admin(args);
        assert!(out.status.success(), "genesis-portal {args:?}: {}{}", text(&out.stdout), text(&out.stderr));
        text(&out.stdout)
    }

    /// Creates an organisation and a key with `scopes`; the key.
    pub fn org_with_key(&self, org: &str, scopes: &[&str]) -> String {
        let _ = self.admin(&["org", "create", org]);
        let mut args = vec!["key", "create", "--org", org];
        for s in scopes {
            args.extend(["--scope", s]);
        }
        self.admin_ok(&args).trim().to_owned()
    }

    /// Creates an admin named `name` (`admin create --name NAME`); the token it prints once.
    pub fn admin_token(&self, name: &str) -> String {
        let out = self.admin_ok(&["admin", "create", "--name", name]);
        let token = out.split_whitespace().find(|word| word.starts_with("gat_"));
        token.unwrap_or_else(|| panic!("`admin create` printed no gat_ token: {out}")).to_owned()
    }

    /// `publish VERSION FILE… --key fixtures/keys/KEY`.
    pub fn publish(&self, version: &str, files: &[&Path], key: &str) -> Output {
        let mut cmd = self.command();
        cmd.args(["publish", version]).args(files).arg("--key").arg(fixtures().join("keys").join(key));
        cmd.output().unwrap()
    }

    /// Publishes the demo release 0.1.0 (with `extra` files), signed by the fixture key, and
    /// entitles `org` (created when new) to it; the folder holding the release's files.
    pub fn publish_demo(&self, org: &str, extra: &[&Path]) -> tempfile::TempDir {
        let files = tempfile::tempdir().unwrap();
        let bundle = release_files(files.path());
        let _ = self.admin(&["org", "create", org]);
        self.admin_ok(&["entitle", "--org", org, "--versions", "0.1.*"]);
        let published = self.publish("0.1.0", &[&[bundle.as_path()], extra].concat(), "test.pub");
        assert!(published.status.success(), "publish: {}", text(&published.stderr));
        files
    }

    /// Starts `serve`, logging into `data/server.log`, with the fixture key signing licenses.
    pub fn serve(&mut self) {
        self.serve_with(&[]);
    }

    /// Starts `serve` with extra arguments.
    pub fn serve_with(&mut self, extra: &[&str]) {
        let log = std::fs::File::create(self.dir.path().join("server.log")).unwrap();
        let key = fixtures().join("keys/test.key");
        let child = self
            .command()
            .args(["serve", "--listen", &format!("127.0.0.1:{}", self.port)])
            .arg("--license-signing-key")
            .arg(key)
            .args(extra)
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .unwrap();
        self.server = Some(child);
        wait_for(self.port);
    }

    /// Stops the server as a crash or `kill -9` would: SIGKILL, nothing cleaned up.
    pub fn kill(&mut self) {
        if let Some(mut child) = self.server.take() {
            let _ = child.kill();
            let _ = child.wait();
        }
    }

    /// The server's process id.
    pub fn pid(&self) -> u32 {
        self.server.as_ref().expect("serving").id()
    }

    /// The server's log so far.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("server.log")).unwrap_or_default()
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// `curl` with the key; returns (status line + headers, body path).
    pub fn curl(&self, key: Option<&str>, method: &str, path: &str, extra: &[&str]) -> (String, Vec<u8>) {
        self.curl_at(&self.url(), key, method, path, extra)
    }

    /// [`Portal::curl`] to the portal at `base` (its `https://` URL when it serves TLS).
    pub fn curl_at(
        &self,
        base: &str,
        key: Option<&str>,
        method: &str,
        path: &str,
        extra: &[&str],
    ) -> (String, Vec<u8>) {
        let headers = self.dir.path().join("curl-headers");
        let body = self.dir.path().join("curl-body");
        let _ = std::fs::remove_file(&body);
        let mut cmd = Command::new("curl");
        cmd.args(["-s", "-X", method, "-D"]).arg(&headers).arg("-o").arg(&body);
        if let Some(key) = key {
            cmd.args(["-H", &format!("Authorization: Bearer {key}")]);
        }
        let out = cmd.args(extra).arg(format!("{base}{path}")).output().unwrap();
        assert!(out.status.success(), "curl {path}: {}", text(&out.stderr));
        (std::fs::read_to_string(headers).unwrap(), std::fs::read(body).unwrap_or_default())
    }

    /// The server's metric `name` (a line without labels).
    pub fn metric(&self, name: &str) -> f64 {
        let (_, body) = self.curl(None, "GET", "/metrics", &[]);
        text(&body)
            .lines()
            .find_map(|l| l.strip_prefix(name).and_then(|rest| rest.strip_prefix(' ')))
            .unwrap_or_else(|| panic!("no metric {name}"))
            .trim()
            .parse()
            .unwrap()
    }
}

impl Drop for Portal {
    fn drop(&mut self) {
        self.kill();
    }
}

/// Polls an export until it is no longer pending; its status JSON.
pub fn wait_for_export(portal: &Portal, key: &str, id: &str) -> serde_json::Value {
    for _ in 0..1200 {
        let (_, body) = portal.curl(Some(key), "GET", &format!("/v1/exports/airgap/bootstrap/{id}"), &[]);
        let status: serde_json::Value = serde_json::from_slice(&body).unwrap();
        if status["status"] != "pending" {
            return status;
        }
        std::thread::sleep(std::time::Duration::from_millis(50));
    }
    panic!("export {id} stayed pending");
}

/// A loopback listener that must receive no connection: it counts the ones it gets and
/// closes them.
pub struct Trap {
    port: u16,
    hits: Arc<AtomicUsize>,
}

impl Trap {
    pub fn start() -> Trap {
        let listener = TcpListener::bind("127.0.0.1:0").unwrap();
        let port = listener.local_addr().unwrap().port();
        let hits = Arc::new(AtomicUsize::new(0));
        let counted = Arc::clone(&hits);
        std::thread::spawn(move || {
            for connection in listener.incoming() {
                counted.fetch_add(1, Ordering::SeqCst);
                drop(connection);
            }
        });
        Trap { port, hits }
    }

    pub fn url(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Connections received so far.
    pub fn hits(&self) -> usize {
        self.hits.load(Ordering::SeqCst)
    }
}

/// HTTP status of a curl header dump.
pub fn status(headers: &str) -> u16 {
    headers.split_whitespace().nth(1).and_then(|s| s.parse().ok()).unwrap()
}

/// A header's value in a curl header dump.
pub fn header<'a>(headers: &'a str, name: &str) -> Option<&'a str> {
    headers.lines().find_map(|l| {
        let (n, v) = l.split_once(':')?;
        n.eq_ignore_ascii_case(name).then(|| v.trim())
    })
}

/// The fixture release (the good demo bundle and its sidecars) copied into `dir`; the bundle.
pub fn release_files(dir: &Path) -> PathBuf {
    let good = fixtures().join("bundles/good");
    for entry in std::fs::read_dir(&good).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    dir.join("demo-0.1.0.tar.zst")
}

/// A `genesis` client with its own config directory.
#[derive(Default)]
pub struct Client {
    pub config: Config,
}

/// The client's own config directory.
pub struct Config(tempfile::TempDir);

impl Default for Config {
    fn default() -> Config {
        Config(tempfile::tempdir().unwrap())
    }
}

impl Config {
    pub fn path(&self) -> &Path {
        self.0.path()
    }
}

impl Client {
    pub fn new() -> Client {
        Client::default()
    }

    pub fn command(&self) -> Command {
        let mut cmd = Command::new(workspace_bin("genesis"));
        cmd.env("GENESIS_CONFIG_DIR", self.config.path())
            .env_remove("GENESIS_LICENSE_KEY")
            .env_remove("GENESIS_PORTAL");
        cmd
    }

    pub fn run(&self, args: &[&str]) -> Output {
        self.command().args(args).stdin(Stdio::null()).output().unwrap()
    }

    /// `genesis login --portal URL` with the key on stdin.
    pub fn login(&self, portal: &str, key: &str) -> Output {
        let mut child = self
            .command()
            .args(["login", "--portal", portal])
            .stdin(Stdio::piped())
            .stdout(Stdio::piped())
            .stderr(Stdio::piped())
            .spawn()
            .unwrap();
        use std::io::Write as _;
        writeln!(child.stdin.take().unwrap(), "{key}").unwrap();
        child.wait_with_output().unwrap()
    }
}

/// SHA-256 hex of a file.
pub fn sha256_hex(path: &Path) -> String {
    use sha2::Digest as _;
    hex::encode(sha2::Sha256::digest(std::fs::read(path).unwrap()))
}
