//! `cargo xtask tools`: test servers no registry ships as a binary, built from Debian's own
//! source packages: `target/tools/ocireg` (go-containerregistry's registry with the Referrers
//! API on) and `target/tools/kube-apiserver` (Kubernetes 1.20.2 from bookworm's `kubernetes`
//! source, vendor/ included). Sources are downloaded with an apt configuration under /tmp
//! (never installed or committed) and built with bookworm's Go; ocireg adds our 20-line
//! `xtask/ocireg/main.go`. Built with Go 1.19 over the reflect2 1.0.1 and json-iterator
//! 1.1.10 that Kubernetes 1.20 vendors, kube-apiserver panics decoding JSON bodies with maps
//! (every custom resource, a ConfigMap's data); ours swaps in bookworm's reflect2 1.0.2 and
//! json-iterator 1.1.12 (the Go 1.18 fixes) before building (~7-14 minutes). The workplace
//! caches both binaries, built exactly so, in `../shared/tools`: a cached copy is used when
//! present and it unpacks to the expected SHA-256; otherwise the tool is built from source.

use std::fs::Permissions;
use std::io::Write as _;
use std::os::unix::fs::PermissionsExt as _;
use std::path::Path;
use std::process::Command;

use anyhow::{Context as _, bail};
use tempfile::NamedTempFile;

use crate::{run_cmd, sha256_hex};

/// A test server binary: where its cached copy lives, what it must hash to, how to build it.
struct Tool {
    name: &'static str,
    /// The cached copy in `../shared/tools` and the SHA-256 it must unpack to, when usable.
    cache: Option<(&'static str, &'static str)>,
    build: fn(&Path, &Path) -> anyhow::Result<()>,
}

/// SHA-256s of the unpacked binaries (shared/tools/README.md).
const TOOLS: &[Tool] = &[
    Tool {
        name: "ocireg",
        cache: Some((
            "ocireg-referrers-linux-amd64.xz",
            "59f738414a747f84d4a1fc2f059eb9df819616d39528735c16669566f00cf8fc",
        )),
        build: build_ocireg,
    },
    Tool {
        name: "kube-apiserver-reflect2-fixed",
        cache: Some((
            "kube-apiserver-v1.20.2-reflect2-fixed-linux-amd64.xz",
            "7d5368575d96e909e08a9d9827fcf2c6cbd3f1a1a082393bf94869075d3f0d40",
        )),
        build: build_kube_apiserver,
    },
];

pub fn run(root: &Path) -> anyhow::Result<()> {
    for tool in TOOLS {
        let out = root.join("target/tools").join(tool.name);
        if out.exists() {
            continue;
        }
        std::fs::create_dir_all(out.parent().expect("has a parent"))?;
        if let Some((file, sha256)) = tool.cache
            && let cached = root.join("../shared/tools").join(file)
            && cached.exists()
        {
            let bytes = Command::new("xz").arg("-dc").arg(&cached).output().context("running xz")?;
            if !bytes.status.success() || sha256_hex(&bytes.stdout) != sha256 {
                bail!("{}: does not unpack to the expected binary", cached.display());
            }
            write_executable(&out, &bytes.stdout)?;
            println!("tools: {} from the cache {}", tool.name, cached.display());
            continue;
        }
        (tool.build)(root, &out)?;
        println!("tools: built {}", out.display());
    }
    Ok(())
}

/// Places `bytes` at `path` as an executable (mode 0755) in one rename, written and synced
/// beside it first: a run killed half-way leaves no truncated tool the next run would take as
/// built.
fn write_executable(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    let context = || format!("writing {}", path.display());
    let mut tmp = NamedTempFile::new_in(path.parent().expect("has a parent")).with_context(context)?;
    tmp.write_all(bytes).with_context(context)?;
    tmp.as_file().set_permissions(Permissions::from_mode(0o755)).with_context(context)?;
    tmp.as_file().sync_all().with_context(context)?;
    tmp.persist(path).map_err(|e| e.error).with_context(context)?;
    Ok(())
}

/// apt options that read only `sources` (one deb822 stanza) and keep every list under `w`,
/// after `apt-get update` with them: the system's apt state is never touched.
fn private_apt(w: &Path, sources: &str) -> anyhow::Result<Vec<String>> {
    std::fs::create_dir_all(w.join("apt/lists/partial"))?;
    std::fs::create_dir_all(w.join("apt/parts"))?;
    std::fs::write(w.join("apt/parts/private.sources"), sources)?;
    let apt_opts = vec![
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
    Ok(apt_opts)
}

fn ensure_installed(packages: &[&str]) -> anyhow::Result<()> {
    run_cmd(Command::new("apt-get").args(["install", "-y", "-qq", "--no-install-recommends"]).args(packages))
}

fn build_ocireg(root: &Path, out: &Path) -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let w = work.path();
    let apt_opts = private_apt(
        w,
        "Types: deb\nURIs: http://deb.debian.org/debian\nSuites: sid\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
    )?;
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
        ensure_installed(&["golang-go"])?;
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
    Ok(())
}

/// Go libraries whose vendored copies in Kubernetes 1.20 break under Go 1.18+, replaced by
/// bookworm's fixed versions (Debian package, path under gocode and under vendor/).
const VENDOR_FIXES: &[(&str, &str)] = &[
    ("golang-github-modern-go-reflect2-dev", "github.com/modern-go/reflect2"),
    ("golang-github-json-iterator-go-dev", "github.com/json-iterator/go"),
];

/// kube-apiserver 1.20.2 from bookworm's `kubernetes` source package, as TEST-INFRA §4 says
/// (GOPATH mode over the vendored tree, `make WHAT=cmd/kube-apiserver`), with [`VENDOR_FIXES`].
fn build_kube_apiserver(_root: &Path, out: &Path) -> anyhow::Result<()> {
    let work = tempfile::tempdir()?;
    let w = work.path();
    let apt_opts = private_apt(
        w,
        "Types: deb deb-src\nURIs: http://deb.debian.org/debian\nSuites: bookworm\nComponents: main\nSigned-By: /usr/share/keyrings/debian-archive-keyring.gpg\n",
    )?;
    run_cmd(Command::new("apt-get").args(&apt_opts).args(["source", "--download-only", "kubernetes"]).current_dir(w))?;
    run_cmd(
        Command::new("apt-get")
            .args(&apt_opts)
            .arg("download")
            .args(VENDOR_FIXES.iter().map(|(p, _)| *p))
            .current_dir(w),
    )?;
    let orig = std::fs::read_dir(w)?
        .filter_map(|e| e.ok().map(|e| e.path()))
        .find(|p| p.to_string_lossy().ends_with(".orig.tar.gz"))
        .context("the kubernetes .orig.tar.gz")?;
    run_cmd(Command::new("tar").arg("xzf").arg(&orig).current_dir(w))?;
    ensure_installed(&["golang-go", "rsync", "make"])?;
    let tree = w.join("kubernetes-1.20.2");
    for (package, path) in VENDOR_FIXES {
        let deb = std::fs::read_dir(w)?
            .filter_map(|e| e.ok().map(|e| e.path()))
            .find(|p| p.file_name().is_some_and(|n| n.to_string_lossy().starts_with(&format!("{package}_"))))
            .with_context(|| format!("the downloaded {package}"))?;
        run_cmd(Command::new("dpkg-deb").arg("-x").arg(&deb).arg(w.join("fixes")))?;
        let vendored = tree.join("vendor").join(path);
        std::fs::remove_dir_all(&vendored).with_context(|| format!("{} is not vendored", vendored.display()))?;
        run_cmd(Command::new("cp").arg("-r").arg(w.join("fixes/usr/share/gocode/src").join(path)).arg(&vendored))?;
    }
    std::fs::create_dir_all(tree.join(".go/src/k8s.io"))?;
    std::os::unix::fs::symlink("../../..", tree.join(".go/src/k8s.io/kubernetes"))?;
    std::fs::create_dir_all(w.join("home"))?;
    run_cmd(
        Command::new("make")
            .arg("WHAT=cmd/kube-apiserver")
            .current_dir(&tree)
            .env("GOPATH", tree.join(".go"))
            .env("GOCACHE", w.join("gocache"))
            .env("GOPROXY", "off")
            .env("CGO_ENABLED", "0")
            .env("HOME", w.join("home")),
    )?;
    let bytes = std::fs::read(tree.join("_output/bin/kube-apiserver"))?;
    write_executable(out, &bytes)
}
