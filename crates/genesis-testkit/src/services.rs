//! Servers the tests talk to: PostgreSQL and Redis from Debian (preflight checks, the
//! portal), moto's S3 and Azurite's Blob service (the portal's object stores), each on a free
//! loopback port, stopped on drop.

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

/// moto's S3-compatible server (PyPI `moto[server]`, installed into the test venv by `cargo
/// xtask test-deps`), in memory, with one bucket; killed on drop. moto accepts any
/// credentials, so the SigV4 signing path of the client still runs.
pub struct MotoS3 {
    child: Child,
    pub port: u16,
}

impl MotoS3 {
    /// The bucket every test uses.
    pub const BUCKET: &'static str = "genesis-portal";

    pub fn start() -> MotoS3 {
        let server = std::path::Path::new(env!("CARGO_MANIFEST_DIR")).join("../../target/test-venv/bin/moto_server");
        assert!(server.exists(), "moto_server is missing: run `cargo xtask test-deps` (cargo xtask ci does)");
        let port = free_port();
        let child = Command::new(server)
            .args(["-H", "127.0.0.1", "-p", &port.to_string()])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("moto_server starts");
        wait_for(port);
        let create = Command::new("curl")
            .args(["-sf", "-X", "PUT", &format!("http://127.0.0.1:{port}/{}", Self::BUCKET)])
            .output()
            .expect("curl runs");
        assert!(create.status.success(), "creating the bucket: {}", text(&create.stderr));
        MotoS3 { child, port }
    }

    /// The endpoint URL.
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}", self.port)
    }

    /// Keys of the objects in the bucket (ListObjectsV2, read from the XML).
    pub fn object_keys(&self) -> Vec<String> {
        let out = Command::new("curl")
            .args(["-sf", &format!("{}/{}?list-type=2", self.endpoint(), Self::BUCKET)])
            .output()
            .expect("curl runs");
        text(&out.stdout).split("<Key>").skip(1).filter_map(|s| s.split("</Key>").next()).map(str::to_owned).collect()
    }
}

impl Drop for MotoS3 {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}

/// Azurite's Blob service (npm `azurite`, installed under `target/test-node` by `cargo xtask
/// test-deps`), storing under a scratch directory; killed on drop. It checks Shared Key
/// signatures as Azure does, with the emulator's well-known development account.
pub struct Azurite {
    child: Child,
    _dir: tempfile::TempDir,
    pub port: u16,
}

impl Azurite {
    /// The emulator's development account, built into Azurite.
    pub const ACCOUNT: &'static str = "devstoreaccount1";
    /// That account's key: a public constant Microsoft publishes with the emulator, not a
    /// secret (<https://learn.microsoft.com/azure/storage/common/storage-use-azurite>).
    pub const KEY: &'static str =
        "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";

    pub fn start() -> Azurite {
        let server = std::path::Path::new(env!("CARGO_MANIFEST_DIR"))
            .join("../../target/test-node/node_modules/.bin/azurite-blob");
        assert!(server.exists(), "azurite-blob is missing: run `cargo xtask test-deps` (cargo xtask ci does)");
        let dir = tempfile::tempdir().unwrap();
        let port = free_port();
        let child = Command::new(server)
            .args(["--blobHost", "127.0.0.1", "--blobPort", &port.to_string(), "--location"])
            .arg(dir.path())
            .args(["--silent", "--skipApiVersionCheck", "--loose"])
            .stdout(Stdio::null())
            .stderr(Stdio::null())
            .spawn()
            .expect("azurite-blob starts");
        wait_for(port);
        Azurite { child, _dir: dir, port }
    }

    /// The account's blob endpoint (path-style, as Azurite serves it).
    pub fn endpoint(&self) -> String {
        format!("http://127.0.0.1:{}/{}", self.port, Self::ACCOUNT)
    }

    /// Names of the blobs in `container` (List Blobs, read from the XML). The request is
    /// signed by Python's standard library, a Shared Key client independent of the one under
    /// test.
    pub fn blob_names(&self, container: &str) -> Vec<String> {
        let script = "import base64, email.utils, hashlib, hmac, http.client, sys\n\
port, account, key, container = sys.argv[1:5]\n\
path = f'/{account}/{container}'\n\
headers = {'x-ms-date': email.utils.formatdate(usegmt=True), 'x-ms-version': '2023-11-03'}\n\
canonical = ''.join(f'{k}:{v}\\n' for k, v in sorted(headers.items()))\n\
to_sign = 'GET' + '\\n' * 12 + canonical + f'/{account}{path}\\ncomp:list\\nrestype:container'\n\
signature = hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()\n\
headers['Authorization'] = f'SharedKey {account}:{base64.b64encode(signature).decode()}'\n\
connection = http.client.HTTPConnection('127.0.0.1', int(port))\n\
connection.request('GET', f'{path}?restype=container&comp=list', headers=headers)\n\
response = connection.getresponse()\n\
sys.stdout.write(response.read().decode())\n\
sys.exit(0 if response.status == 200 else 1)\n";
        let out = Command::new("python3")
            .args(["-c", script, &self.port.to_string(), Self::ACCOUNT, Self::KEY, container])
            .output()
            .expect("python3 must be installed");
        assert!(out.status.success(), "listing {container}: {}{}", text(&out.stdout), text(&out.stderr));
        text(&out.stdout).split("<Name>").skip(1).filter_map(|s| s.split("</Name>").next()).map(str::to_owned).collect()
    }

    /// An account SAS token of the development account (Blob service; read, write, delete,
    /// list, add, create; until 2099), signed by Python's standard library.
    pub fn account_sas() -> String {
        let script = "import base64, hashlib, hmac, sys, urllib.parse\n\
account, key = sys.argv[1:3]\n\
sas = {'sv': '2020-08-04', 'ss': 'b', 'srt': 'sco', 'sp': 'rwdlac', 'se': '2099-01-01T00:00:00Z'}\n\
to_sign = '\\n'.join([account, sas['sp'], sas['ss'], sas['srt'], '', sas['se'], '', '', sas['sv'], ''])\n\
sas['sig'] = base64.b64encode(hmac.new(base64.b64decode(key), to_sign.encode(), hashlib.sha256).digest()).decode()\n\
sys.stdout.write(urllib.parse.urlencode(sas))\n";
        let out = Command::new("python3")
            .args(["-c", script, Self::ACCOUNT, Self::KEY])
            .output()
            .expect("python3 must be installed");
        assert!(out.status.success(), "signing a SAS token: {}", text(&out.stderr));
        text(&out.stdout)
    }
}

impl Drop for Azurite {
    fn drop(&mut self) {
        let _ = self.child.kill();
        let _ = self.child.wait();
    }
}
