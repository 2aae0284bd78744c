//! Servers preflight checks talk to: PostgreSQL and Redis from Debian, each on a free
//! loopback port under a scratch directory, stopped on drop.

use std::os::unix::fs::PermissionsExt as _;
use std::process::{Child, Command, Stdio};

use crate::{free_port, text, wait_for};

/// A PostgreSQL cluster (trust authentication, user `postgres`).
pub struct Postgres {
    dir: tempfile::TempDir,
    bin: String,
    pub port: u16,
    running: bool,
}

fn as_postgres(script: &str) -> std::process::Output {
    Command::new("su").args(["postgres", "-s", "/bin/sh", "-c", script]).output().expect("su runs")
}

impl Postgres {
    /// `initdb` then `pg_ctl start` (PostgreSQL refuses to run as root, so as `postgres`).
    pub fn start() -> Postgres {
        let bin = Command::new("pg_config").arg("--bindir").output().expect("postgresql must be installed");
        let bin = text(&bin.stdout).trim().to_owned();
        let dir = tempfile::tempdir().unwrap();
        std::fs::set_permissions(dir.path(), std::fs::Permissions::from_mode(0o777)).unwrap();
        let data = dir.path().join("data");
        let init = as_postgres(&format!(
            "{bin}/initdb -D {} -U postgres --auth=trust -E UTF8 --locale=C.UTF-8",
            data.display()
        ));
        assert!(init.status.success(), "initdb: {}", text(&init.stderr));
        let mut pg = Postgres { dir, bin, port: free_port(), running: false };
        pg.resume();
        pg
    }

    /// The URL of the `postgres` database.
    pub fn url(&self) -> String {
        format!("postgres://postgres@127.0.0.1:{}/postgres", self.port)
    }

    /// Stops the server (it can be started again with [`Postgres::resume`]).
    pub fn stop(&mut self) {
        if self.running {
            let data = self.dir.path().join("data");
            as_postgres(&format!("{}/pg_ctl -D {} -m immediate -w stop", self.bin, data.display()));
            self.running = false;
        }
    }

    /// Starts the server again on the same port.
    pub fn resume(&mut self) {
        let data = self.dir.path().join("data");
        let start = as_postgres(&format!(
            "{}/pg_ctl -D {} -l {}/server.log -o '-h 127.0.0.1 -p {} -k {}' -w start",
            self.bin,
            data.display(),
            self.dir.path().display(),
            self.port,
            self.dir.path().display()
        ));
        assert!(start.status.success(), "pg_ctl start: {}{}", text(&start.stdout), text(&start.stderr));
        self.running = true;
    }
}

impl Drop for Postgres {
    fn drop(&mut self) {
        self.stop();
    }
}

/// A `redis-server` requiring a password; killed on drop.
pub struct Redis {
    child: Child,
    pub port: u16,
}

impl Redis {
    /// Password every client must give.
    pub const PASSWORD: &'static str = "preflight-secret";

    pub fn start() -> Redis {
        let port = free_port();
        let child = Command::new("redis-server")
            .args(["--bind", "127.0.0.1", "--port", &port.to_string(), "--save", "", "--appendonly", "no"])
            .args(["--requirepass", Self::PASSWORD])
            .stdout(Stdio::null())
            .spawn()
            .expect("redis-server must be installed (apt-get install redis-server)");
        wait_for(port);
        Redis { child, port }
    }

    /// `redis://:PASSWORD@127.0.0.1:PORT`.
    pub fn url(&self) -> String {
        format!("redis://:{}@127.0.0.1:{}", Self::PASSWORD, self.port)
    }

    /// Stops the server for good.
    pub fn kill(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

impl Drop for Redis {
    fn drop(&mut self) {
        self.kill();
    }
}
