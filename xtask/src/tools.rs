//! `cargo xtask tools`: test servers no registry ships as a binary, built from Debian's own
//! source packages. `target/tools/ocireg` is go-containerregistry's registry with the
//! Referrers API on. The workplace caches a prebuilt copy in `../shared/tools`; without it
//! (a user's clone) this builds it: the library source from Debian sid (downloaded with an
//! apt configuration under /tmp, extracted, never installed or committed), bookworm's Go, and
//! our 20-line `xtask/ocireg/main.go`.

use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, bail};

use crate::run_cmd;

/// SHA-256 of the cached prebuilt binary (shared/tools/README.md).
const OCIREG_SHA256: &str = "59f738414a747f84d4a1fc2f059eb9df819616d39528735c16669566f00cf8fc";

pub fn run(root: &Path) -> anyhow::Result<()> {
    let out = root.join("target/tools/ocireg");
    if out.exists() {
        return Ok(());
    }
    std::fs::create_dir_all(out.parent().expect("has a parent"))?;
    let cached = root.join("../shared/tools/ocireg-referrers-linux-amd64.xz");
    if cached.exists() {
        let bytes = Command::new("xz").arg("-dc").arg(&cached).output().context("running xz")?;
        if !bytes.status.success() || genesis_bundle::sha256(&bytes.stdout).hex() != OCIREG_SHA256 {
            bail!("{}: does not unpack to the expected binary", cached.display());
        }
        write_executable(&out, &bytes.stdout)?;
        println!("tools: ocireg from the cache {}", cached.display());
        return Ok(());
    }
    build_ocireg(root, &out)
}

fn write_executable(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    use std::os::unix::fs::PermissionsExt;
    let tmp = path.with_extension("partial");
    std::fs::write(&tmp, bytes)?;
    std::fs::set_permissions(&tmp, std::fs::Permissions::from_mode(0o755))?;
    std::fs::rename(&tmp, path)?;
    Ok(())
}

fn build_ocireg(root: &Path, out: &Path) -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let w = work.path();
    std::fs::create_dir_all(w.join("apt/lists/partial"))?;
    std::fs::create_dir_all(w.join("apt/parts"))?;
    std::fs::write(
        w.join("apt/parts/sid.sources"),
        "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: sid\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
    )?;
    let apt_opts = [
        "-o".to_owned(),
        "Dir::Etc::SourceList=/dev/null".to_owned(),
        "-o".to_owned(),
        format!("Dir::Etc::SourceParts={}", w.join("apt/parts").display()),
        "-o".to_owned(),
        format!("Dir::State::Lists={}", w.join("apt/lists").display()),
        "-o".to_owned(),
        "Dir::State::Status=/dev/null".to_owned(),
    ];
    run_cmd(Command::new("apt-get").args(&apt_opts).arg("update"))?;
    run_cmd(
        Command::new("apt-get")
            .args(&apt_opts)
            .args(["download", "golang-github-google-go-containerregistry-dev"])
            .current_dir(w),
    )?;
    let deb = std::fs::read_dir(w)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.extension().is_some_and(|x| x == "deb"))
        .context("the downloaded .deb")?;
    run_cmd(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(w.join("root")))?;
    if Command::new("go").arg("version").output().is_err() {
        run_cmd(Command::new("apt-get").args(["install", "-y", "-qq", "golang-go"]))?;
    }
    let gopath = w.join("root/usr/share/gocode");
    let src = gopath.join("src/ocireg");
    std::fs::create_dir_all(&src)?;
    std::fs::copy(root.join("xtask/ocireg/main.go"), src.join("main.go"))?;
    run_cmd(
        Command::new("go")
            .args(["build", "-o"])
            .arg(out)
            .arg(".")
            .current_dir(&src)
            .env("GO111MODULE", "off")
            .env("GOPATH", &gopath)
            .env("CGO_ENABLED", "0")
            .env("GOCACHE", w.join("gocache")),
    )?;
    println!("tools: built {}", out.display());
    Ok(())
}
