//! A real Kubernetes API server for loader tests: kube-apiserver 1.20.2 (built from Debian's
//! source, with the Go 1.18 fixes of reflect2 and json-iterator, by `cargo xtask tools`) over
//! Debian's etcd, both on free loopback ports, TLS with a CA and a leaf for 127.0.0.1, a
//! static admin token, and a kubeconfig pointing at it. No controllers run: tests play the
//! controller through the status subresource.
//!
//! One server per test run, not one per test: starting etcd and the API server costs about
//! 5 s of both cores, and nextest runs every test in a process of its own. The first test
//! to ask starts them detached, in a folder named for the run; every test then holds the
//! server alone for its duration (an exclusive lock on a file in that folder) and receives it
//! as a fresh cluster: whatever earlier tests created is deleted from etcd directly, which
//! needs no namespace controller (none runs here, so a namespace deleted through the API would
//! stay `Terminating` forever), and the API server's caches are waited for until they show
//! the cluster as it was when the server first answered. A watchdog stops both servers and
//! removes the folder when the run ends (the nextest runner, or the test process under
//! `cargo test`, exits).

use std::collections::BTreeSet;
use std::fs::File;
use std::os::unix::process::CommandExt as _;
use std::path::{Path, PathBuf};
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;

use crate::{free_port, openssl, test_pki, text};

/// The token the kubeconfig carries (a `system:masters` user).
pub const TOKEN: &str = "genesis-test-token";

/// The run's API server, held by this test alone until dropped.
pub struct KubeApiserver {
    /// The exclusive lock that makes the server this test's: released on drop.
    _lease: File,
    dir: PathBuf,
    pub port: u16,
}

/// What the first test to start the server records for the others.
#[derive(serde::Serialize, serde::Deserialize)]
struct Running {
    port: u16,
    /// The CA that signed the API server's certificate.
    ca: PathBuf,
    etcd_port: u16,
    /// The etcd keys the API server had written when it first answered: its own, kept.
    baseline_keys: BTreeSet<String>,
    /// Namespace names and API groups as the server listed them then, to know when its
    /// caches have caught up with a reset.
    baseline_namespaces: BTreeSet<String>,
    baseline_groups: String,
}

impl KubeApiserver {
    /// The run's API server as a fresh cluster, started on first use (about 5 s) and reset
    /// for every later test (well under a second). Blocks while another test holds it.
    pub fn start() -> KubeApiserver {
        let dir = run_dir();
        std::fs::create_dir_all(&dir).unwrap();
        let lease = File::options().create(true).truncate(false).write(true).open(dir.join("lease")).unwrap();
        lease.lock().expect("locking the shared kube-apiserver");
        let state = dir.join("running.json");
        let running = match std::fs::read(&state).ok().and_then(|b| serde_json::from_slice::<Running>(&b).ok()) {
            Some(running) if ready(&running.ca, running.port) => {
                reset(&dir, &running);
                running
            }
            _ => {
                let running = launch(&dir);
                std::fs::write(&state, serde_json::to_vec(&running).unwrap()).unwrap();
                running
            }
        };
        KubeApiserver { _lease: lease, dir, port: running.port }
    }

    /// A kubeconfig with the admin token.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.join("kubeconfig")
    }

    /// The API server's log, for failure messages.
    pub fn log(&self) -> String {
        log_excerpt(&self.dir)
    }
}

/// The folder of this run's server: named for the nextest run, or for this process under
/// `cargo test`, where one process runs all of a binary's tests.
fn run_dir() -> PathBuf {
    let run = std::env::var("NEXTEST_RUN_ID").unwrap_or_else(|_| format!("pid-{}", std::process::id()));
    std::env::temp_dir().join(format!("genesis-kube-apiserver-{run}"))
}

/// The process whose end ends the run: the nextest runner, parent of every test process, or
/// this process.
fn run_owner() -> u32 {
    if std::env::var_os("NEXTEST_RUN_ID").is_some() { std::os::unix::process::parent_id() } else { std::process::id() }
}

/// Starts etcd, the API server and their watchdog in `dir`, detached from this test's
/// process group so that they outlive it, and waits until `/readyz` answers 200.
#[expect(
    clippy::zombie_processes,
    reason = "detached on purpose: they outlive this test process, whose exit hands them to init to reap"
)]
fn launch(dir: &Path) -> Running {
    let binary = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/kube-apiserver-reflect2-fixed");
    assert!(binary.exists(), "kube-apiserver is missing: run `cargo xtask tools` (cargo xtask ci does)");
    // What an earlier start in this folder left (a test killed while starting), gone first.
    let _ = std::fs::remove_dir_all(dir.join("etcd"));
    let (ca, leaf, leaf_key) = test_pki(dir);
    openssl(dir, &["genrsa", "-out", "sa.key", "2048"]);
    std::fs::write(dir.join("tokens.csv"), format!("{TOKEN},admin,admin,system:masters\n")).unwrap();
    let (etcd_port, peer, port) = (free_port(), free_port(), free_port());
    let etcd = Command::new("etcd")
        .args(["--name", "genesis", "--data-dir"])
        .arg(dir.join("etcd"))
        .args(["--listen-client-urls", &format!("http://127.0.0.1:{etcd_port}")])
        .args(["--advertise-client-urls", &format!("http://127.0.0.1:{etcd_port}")])
        .args(["--listen-peer-urls", &format!("http://127.0.0.1:{peer}")])
        .args(["--initial-advertise-peer-urls", &format!("http://127.0.0.1:{peer}")])
        .args(["--initial-cluster", &format!("genesis=http://127.0.0.1:{peer}")])
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(dir.join("etcd.log")).unwrap())
        .process_group(0)
        .spawn()
        .expect("etcd must be installed (apt-get install etcd-server)");
    let apiserver = Command::new(&binary)
        .arg(format!("--etcd-servers=http://127.0.0.1:{etcd_port}"))
        .args(["--bind-address=127.0.0.1", "--advertise-address=127.0.0.1"])
        .arg(format!("--secure-port={port}"))
        .arg(format!("--tls-cert-file={}", leaf.display()))
        .arg(format!("--tls-private-key-file={}", leaf_key.display()))
        .arg(format!("--token-auth-file={}", dir.join("tokens.csv").display()))
        .arg("--authorization-mode=RBAC")
        .arg("--service-account-issuer=https://kubernetes.default.svc")
        .arg(format!("--service-account-key-file={}", dir.join("sa.key").display()))
        .arg(format!("--service-account-signing-key-file={}", dir.join("sa.key").display()))
        .arg("--service-cluster-ip-range=10.96.0.0/16")
        .arg(format!("--cert-dir={}", dir.join("certs").display()))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(File::create(dir.join("apiserver.log")).unwrap())
        .process_group(0)
        .spawn()
        .unwrap();
    let (etcd_pid, apiserver_pid) = (etcd.id(), apiserver.id());
    // Both stop when the run's owner does, then the folder goes. Reaped by init: this test
    // process may end long before them.
    Command::new("sh")
        .arg("-c")
        .arg(format!(
            "while kill -0 {owner} 2>/dev/null; do sleep 1; done; kill {apiserver_pid} {etcd_pid} 2>/dev/null; \
             sleep 2; kill -9 {apiserver_pid} {etcd_pid} 2>/dev/null; rm -rf '{dir}'",
            owner = run_owner(),
            dir = dir.display()
        ))
        .stdin(Stdio::null())
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .process_group(0)
        .spawn()
        .expect("starting the kube-apiserver watchdog");
    std::fs::write(
        dir.join("kubeconfig"),
        format!(
            "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: https://127.0.0.1:{port}\n    certificate-authority: {}\n\
             users:\n- name: admin\n  user:\n    token: {TOKEN}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: admin\ncurrent-context: test\n",
            ca.display()
        ),
    )
    .unwrap();
    let start = Instant::now();
    while !ready(&ca, port) {
        // A server that cannot start (a port taken) says why now, not after a minute.
        for (name, pid) in [("kube-apiserver", apiserver_pid), ("etcd", etcd_pid)] {
            if !Path::new(&format!("/proc/{pid}")).exists() || zombie(pid) {
                panic!("{name} exited before the API server was ready: {}", logs(dir));
            }
        }
        assert!(start.elapsed() < Duration::from_secs(60), "kube-apiserver never got ready: {}", logs(dir));
        std::thread::sleep(Duration::from_millis(250));
    }
    // `/readyz` answers before the bootstrap controllers have written the system namespaces
    // and the `kubernetes` service: a baseline taken then would leave them out, and the
    // first reset would delete `default` from under the next test.
    while !bootstrapped(&ca, port) {
        assert!(
            start.elapsed() < Duration::from_secs(60),
            "kube-apiserver never created its namespaces: {}",
            logs(dir)
        );
        std::thread::sleep(Duration::from_millis(100));
    }
    Running {
        port,
        etcd_port,
        baseline_keys: etcd_keys(etcd_port),
        baseline_namespaces: namespaces(&ca, port),
        baseline_groups: get(&ca, port, "/apis"),
        ca,
    }
}

/// Whether process `pid` has exited and waits to be reaped (its parent, a test process, has
/// not got round to it).
fn zombie(pid: u32) -> bool {
    std::fs::read_to_string(format!("/proc/{pid}/stat"))
        .is_ok_and(|s| s.rsplit(')').next().is_some_and(|r| r.trim_start().starts_with('Z')))
}

/// Deletes every etcd key the API server did not hold when it first answered — what earlier
/// tests created — and waits until the server's caches (namespaces, served API groups) are
/// back to how they were then.
fn reset(dir: &Path, running: &Running) {
    for key in etcd_keys(running.etcd_port).difference(&running.baseline_keys) {
        etcd(running.etcd_port, "deleterange", &serde_json::json!({"key": STANDARD.encode(key)}));
    }
    let start = Instant::now();
    while namespaces(&running.ca, running.port) != running.baseline_namespaces
        || get(&running.ca, running.port, "/apis") != running.baseline_groups
    {
        assert!(
            start.elapsed() < Duration::from_secs(30),
            "the kube-apiserver never showed the reset cluster: {}",
            logs(dir)
        );
        std::thread::sleep(Duration::from_millis(50));
    }
}

/// Every key the API server keeps in etcd.
fn etcd_keys(etcd_port: u16) -> BTreeSet<String> {
    // The range [/registry/, /registry0): '0' follows '/'.
    let range = serde_json::json!({"key": STANDARD.encode("/registry/"), "range_end": STANDARD.encode("/registry0"), "keys_only": true});
    let listed = etcd(etcd_port, "range", &range);
    listed["kvs"]
        .as_array()
        .into_iter()
        .flatten()
        .map(|kv| text(&STANDARD.decode(kv["key"].as_str().unwrap()).unwrap()))
        .collect()
}

/// A call to etcd's v3 JSON gateway.
fn etcd(etcd_port: u16, call: &str, body: &serde_json::Value) -> serde_json::Value {
    let out = Command::new("curl")
        .args(["-sf", "-X", "POST", "-d", &body.to_string()])
        .arg(format!("http://127.0.0.1:{etcd_port}/v3/kv/{call}"))
        .output()
        .unwrap();
    assert!(out.status.success(), "etcd {call} failed: {}", text(&out.stderr));
    serde_json::from_slice(&out.stdout).unwrap()
}

/// The namespaces as the API server's watch cache lists them (`resourceVersion=0`), the
/// view its admission plugins judge by.
fn namespaces(ca: &Path, port: u16) -> BTreeSet<String> {
    let list: serde_json::Value =
        serde_json::from_str(&get(ca, port, "/api/v1/namespaces?resourceVersion=0")).unwrap_or_default();
    list["items"]
        .as_array()
        .into_iter()
        .flatten()
        .filter_map(|n| n["metadata"]["name"].as_str().map(str::to_owned))
        .collect()
}

/// Whether the API server's bootstrap controllers have written what every cluster has: the
/// system namespaces and the `kubernetes` service in `default`.
fn bootstrapped(ca: &Path, port: u16) -> bool {
    let listed = namespaces(ca, port);
    ["default", "kube-system", "kube-public", "kube-node-lease"].iter().all(|n| listed.contains(*n))
        && answers_200(ca, port, "/api/v1/namespaces/default/services/kubernetes")
}

/// Whether the API server answers `/readyz` with 200.
fn ready(ca: &Path, port: u16) -> bool {
    answers_200(ca, port, "/readyz")
}

/// Whether `GET path`, as the admin, answers 200.
fn answers_200(ca: &Path, port: u16, path: &str) -> bool {
    curl(ca, port, &["-o", "/dev/null", "-w", "%{http_code}"], path) == "200"
}

/// The body of `GET path`, as the admin.
fn get(ca: &Path, port: u16, path: &str) -> String {
    curl(ca, port, &[], path)
}

fn curl(ca: &Path, port: u16, args: &[&str], path: &str) -> String {
    let out = Command::new("curl")
        .arg("-s")
        .args(args)
        .arg("--cacert")
        .arg(ca)
        .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
        .arg(format!("https://127.0.0.1:{port}{path}"))
        .output()
        .unwrap();
    text(&out.stdout)
}

/// The API server's errors and panics first (a recovered panic's trace is long), then the
/// last lines.
fn log_excerpt(dir: &Path) -> String {
    let log = std::fs::read_to_string(dir.join("apiserver.log")).unwrap_or_default();
    let errors = log.lines().filter(|l| l.starts_with('E') || l.contains("panic")).take(20);
    let tail = log.lines().rev().take(10).collect::<Vec<_>>().into_iter().rev();
    errors.chain(tail).collect::<Vec<_>>().join("\n")
}

/// The API server's log and the end of etcd's, for a start that failed.
fn logs(dir: &Path) -> String {
    let etcd = std::fs::read_to_string(dir.join("etcd.log")).unwrap_or_default();
    let etcd_tail = etcd.lines().rev().take(10).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>();
    format!("{}\netcd:\n{}", log_excerpt(dir), etcd_tail.join("\n"))
}
