//! A real Kubernetes API server for loader tests: kube-apiserver 1.20.2 (built from Debian's
//! source, with the Go 1.18 fixes of reflect2 and json-iterator, by `cargo xtask tools`) over Debian's etcd, both on free loopback ports, TLS with a
//! CA and a leaf for 127.0.0.1, a static admin token, and a kubeconfig pointing at it. No
//! controllers run: tests play the controller through the status subresource.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Stdio};
use std::time::{Duration, Instant};

use crate::{free_port, openssl, test_pki, text};

/// The token the kubeconfig carries (a `system:masters` user).
pub const TOKEN: &str = "genesis-test-token";

/// etcd plus kube-apiserver; both killed on drop.
pub struct KubeApiserver {
    etcd: Child,
    apiserver: Child,
    dir: tempfile::TempDir,
    pub port: u16,
}

impl KubeApiserver {
    /// Starts etcd and the API server and waits until `/readyz` answers 200 (about 5 s).
    pub fn start() -> KubeApiserver {
        let binary = Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/tools/kube-apiserver-reflect2-fixed");
        assert!(binary.exists(), "kube-apiserver is missing: run `cargo xtask tools` (cargo xtask ci does)");
        let dir = tempfile::tempdir().unwrap();
        let d = dir.path();
        let (ca, leaf, leaf_key) = test_pki(d);
        openssl(d, &["genrsa", "-out", "sa.key", "2048"]);
        std::fs::write(d.join("tokens.csv"), format!("{TOKEN},admin,admin,system:masters\n")).unwrap();
        let (client, peer, port) = (free_port(), free_port(), free_port());
        let etcd = Command::new("etcd")
            .args(["--name", "genesis", "--data-dir"])
            .arg(d.join("etcd"))
            .args(["--listen-client-urls", &format!("http://127.0.0.1:{client}")])
            .args(["--advertise-client-urls", &format!("http://127.0.0.1:{client}")])
            .args(["--listen-peer-urls", &format!("http://127.0.0.1:{peer}")])
            .args(["--initial-advertise-peer-urls", &format!("http://127.0.0.1:{peer}")])
            .args(["--initial-cluster", &format!("genesis=http://127.0.0.1:{peer}")])
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("etcd.log")).unwrap())
            .spawn()
            .expect("etcd must be installed (apt-get install etcd-server)");
        let apiserver = Command::new(&binary)
            .arg(format!("--etcd-servers=http://127.0.0.1:{client}"))
            .args(["--bind-address=127.0.0.1", "--advertise-address=127.0.0.1"])
            .arg(format!("--secure-port={port}"))
            .arg(format!("--tls-cert-file={}", leaf.display()))
            .arg(format!("--tls-private-key-file={}", leaf_key.display()))
            .arg(format!("--token-auth-file={}", d.join("tokens.csv").display()))
            .arg("--authorization-mode=RBAC")
            .arg("--service-account-issuer=https://kubernetes.default.svc")
            .arg(format!("--service-account-key-file={}", d.join("sa.key").display()))
            .arg(format!("--service-account-signing-key-file={}", d.join("sa.key").display()))
            .arg("--service-cluster-ip-range=10.96.0.0/16")
            .arg(format!("--cert-dir={}", d.join("certs").display()))
            .stdout(Stdio::null())
            .stderr(std::fs::File::create(d.join("apiserver.log")).unwrap())
            .spawn()
            .unwrap();
        std::fs::write(
            d.join("kubeconfig"),
            format!(
                "apiVersion: v1\nkind: Config\nclusters:\n- name: test\n  cluster:\n    server: https://127.0.0.1:{port}\n    certificate-authority: {}\n\
                 users:\n- name: admin\n  user:\n    token: {TOKEN}\ncontexts:\n- name: test\n  context:\n    cluster: test\n    user: admin\ncurrent-context: test\n",
                ca.display()
            ),
        )
        .unwrap();
        let mut server = KubeApiserver { etcd, apiserver, dir, port };
        let start = Instant::now();
        loop {
            let ready = Command::new("curl")
                .args(["-s", "-o", "/dev/null", "-w", "%{http_code}", "--cacert"])
                .arg(&ca)
                .args(["-H", &format!("Authorization: Bearer {TOKEN}")])
                .arg(format!("https://127.0.0.1:{port}/readyz"))
                .output()
                .unwrap();
            if text(&ready.stdout) == "200" {
                break;
            }
            // A server that cannot start (a port taken) says why now, not after a minute.
            let exited = [("kube-apiserver", &mut server.apiserver), ("etcd", &mut server.etcd)]
                .into_iter()
                .find_map(|(name, child)| Some((name, child.try_wait().unwrap()?)));
            if let Some((name, status)) = exited {
                panic!("{name} exited ({status}) before the API server was ready: {}", server.logs());
            }
            assert!(start.elapsed() < Duration::from_secs(60), "kube-apiserver never got ready: {}", server.logs());
            std::thread::sleep(Duration::from_millis(250));
        }
        server
    }

    /// A kubeconfig with the admin token.
    pub fn kubeconfig(&self) -> PathBuf {
        self.dir.path().join("kubeconfig")
    }

    /// The API server's log, for failure messages.
    pub fn log(&self) -> String {
        let log = std::fs::read_to_string(self.dir.path().join("apiserver.log")).unwrap_or_default();
        // Errors and panics first (a recovered panic's trace is long), then the last lines.
        let errors = log.lines().filter(|l| l.starts_with('E') || l.contains("panic")).take(20);
        let tail = log.lines().rev().take(10).collect::<Vec<_>>().into_iter().rev();
        errors.chain(tail).collect::<Vec<_>>().join("\n")
    }

    /// The API server's log and the end of etcd's, for a start that failed.
    fn logs(&self) -> String {
        let etcd = std::fs::read_to_string(self.dir.path().join("etcd.log")).unwrap_or_default();
        let etcd_tail = etcd.lines().rev().take(10).collect::<Vec<_>>().into_iter().rev().collect::<Vec<_>>();
        format!("{}\netcd:\n{}", self.log(), etcd_tail.join("\n"))
    }
}

impl Drop for KubeApiserver {
    fn drop(&mut self) {
        for child in [&mut self.apiserver, &mut self.etcd] {
            let _ = child.kill();
            let _ = child.wait();
        }
    }
}
