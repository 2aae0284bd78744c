//! Container runtimes as import targets: a real containerd daemon under a scratch root, and
//! podman with scratch storage. Both are the Debian packages `.ci/run` installs.

use std::path::{Path, PathBuf};
use std::process::{Child, Command, Output, Stdio};
use std::time::{Duration, Instant};

/// A `containerd` daemon with its own root, state and socket; killed on drop.
pub struct Containerd {
    child: Child,
    dir: tempfile::TempDir,
}

impl Containerd {
    /// Starts the daemon and waits until `ctr version` answers.
    pub fn start() -> Containerd {
        let dir = tempfile::Builder::new().prefix("ctrd").tempdir_in("/tmp").unwrap();
        let d = dir.path().display();
        let config = format!(
            "version = 2\nroot = \"{d}/root\"\nstate = \"{d}/state\"\n[grpc]\n  address = \"{d}/c.sock\"\n\
             [ttrpc]\n  address = \"{d}/c.sock.ttrpc\"\n[debug]\n  address = \"{d}/debug.sock\"\n[metrics]\n  address = \"\"\n\
             [plugins.\"io.containerd.grpc.v1.cri\"]\n  disable_tcp_service = true\n  stream_server_address = \"127.0.0.1\"\n  stream_server_port = \"0\"\n"
        );
        std::fs::write(dir.path().join("config.toml"), config).unwrap();
        let log = std::fs::File::create(dir.path().join("containerd.log")).unwrap();
        let child = Command::new("containerd")
            .arg("--config")
            .arg(dir.path().join("config.toml"))
            .stdout(Stdio::null())
            .stderr(log)
            .spawn()
            .expect("containerd must be installed (apt-get install containerd)");
        let c = Containerd { child, dir };
        let start = Instant::now();
        while !c.ctr(&["version"]).status.success() {
            assert!(start.elapsed() < Duration::from_secs(30), "containerd never answered: {}", c.log());
            std::thread::sleep(Duration::from_millis(100));
        }
        c
    }

    /// Runs `ctr --address SOCKET ARGS…`.
    pub fn ctr(&self, args: &[&str]) -> Output {
        Command::new("ctr").arg("--address").arg(self.dir.path().join("c.sock")).args(args).output().unwrap()
    }

    /// The daemon's log, for failure messages.
    pub fn log(&self) -> String {
        std::fs::read_to_string(self.dir.path().join("containerd.log")).unwrap_or_default()
    }
}

impl Drop for Containerd {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// podman with its own storage (vfs driver, no system state touched).
pub struct Podman {
    dir: tempfile::TempDir,
}

impl Default for Podman {
    fn default() -> Self {
        Podman { dir: tempfile::tempdir().unwrap() }
    }
}

impl Podman {
    /// Runs `podman` with the scratch root and run root.
    pub fn run(&self, args: &[&str]) -> Output {
        let root: PathBuf = self.dir.path().join("root");
        let runroot: PathBuf = self.dir.path().join("run");
        Command::new("podman")
            .arg("--root")
            .arg(&root)
            .arg("--runroot")
            .arg(&runroot)
            .args(["--storage-driver", "vfs", "--cgroup-manager", "cgroupfs", "--events-backend", "file"])
            .args(args)
            .output()
            .expect("podman must be installed (apt-get install podman)")
    }

    /// `podman load -i FILE`.
    pub fn load(&self, archive: &Path) -> Output {
        self.run(&["load", "-i", archive.to_str().unwrap()])
    }
}
