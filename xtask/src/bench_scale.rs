//! `cargo xtask bench --workload scale [--images N] [--blobs-per-image N] [--rss-sizes-mib A,B,…]
//! [--runs N]`: what
//! each step costs on a synthetic release of many small images (1,000 images of a config and
//! 9 layers each by default: 10,000 blobs and 1,000 manifests, about 170 MiB), so that cost
//! growing with bytes and blobs, and memory staying flat, can be judged (issue 19, item 4).
//! `create`, `verify`, `load` into a fresh Distribution, `serve`'s start-up and `export`, each
//! a whole process, with its wall time, its peak RSS and its seconds per 1,000 blobs: run with
//! `--images 100`, `500` and `1000`, time per 1,000 blobs should stay about the same and peak
//! RSS flat. Then peak RSS of `verify`, `load` and `serve` on half-text bundles of the sizes
//! `--rss-sizes-mib` gives (1 GiB and 4 GiB by default, [`DEFAULT_SIZES_MIB`]; the issue's
//! 16 GiB with `--rss-sizes-mib 1024,16384` on a disk with 45 GB free): a bigger bundle should
//! not take more memory.

use std::fs;
use std::net::TcpStream;
use std::path::Path;
use std::process::{Command, Stdio};
use std::time::{Duration, Instant};

use anyhow::{Context as _, bail};

use crate::bench::{
    Daemon, Rng, Sample, distribution, faster, free_port, keygen, layout_bytes, measure, peak_rss_kib, workload,
};
use crate::run_cmd;

/// Images of the release by default (`--images`).
pub(crate) const DEFAULT_IMAGES: usize = 1_000;
/// Blobs of each image by default (`--blobs-per-image`): a config and 9 layers.
pub(crate) const DEFAULT_BLOBS_PER_IMAGE: usize = 10;
/// Each layer's payload is from this many KiB …
const LAYER_KIB_MIN: u64 = 4;
/// … to under this many (18 KiB on average, a tar of one file, half noise and half text), so
/// 9,000 layers make about 170 MiB: the layout, the bundle, Distribution's copy and the export
/// together stay under a GiB of disk.
const LAYER_KIB_MAX: u64 = 32;
/// `serve`'s frame cache for its start-up row. It reads every manifest through the cache
/// (manifests lie among the blobs, in digest order), so its peak RSS counts up to this much
/// of cached frames: the 150 MiB bound is meant with the cache excepted.
const SERVE_CACHE_MIB: u64 = 64;
/// How long `serve` may take to answer: it listens only once it has verified the whole
/// bundle (4 GiB for the second table).
const START_UP_LIMIT: Duration = Duration::from_secs(600);
/// The half-text bundles whose peak RSS the second table compares by default (`workload` of
/// bench.rs, the same folders as the default bench's): 1 GiB, the default, and 4 GiB, which
/// needs about 11 GiB of disk at once (layout, bundle and registry copy) beside the 1 GiB
/// workload kept from earlier runs.
pub(crate) const DEFAULT_SIZES_MIB: [usize; 2] = [1024, 4096];
/// Disk a size's rows take at once, in multiples of its size: the layout (1×), the bundle
/// (about 0.6×: half the bytes are noise) and Distribution's copy for the `load` row (1×),
/// with room to spare. Checked before a size is prepared, so that a run too big for the disk
/// stops with the figure instead of filling it.
const DISK_PER_SIZE: f64 = 2.8;

/// The scale rows: a release of `images` images of `blobs_per_image` blobs each (a config and
/// the rest layers), generated once under `target/bench/`, built by the bundle-builder in
/// `bin`, then `create`, `verify`, `load` into a fresh Distribution, `serve`'s start-up and
/// `export`, each best of `runs`, with wall time, peak RSS and seconds per 1,000 blobs; then
/// the table of peak RSS by bundle size ([`size_rss_rows`]). Targets (issue 19): time about
/// proportional to bytes plus blobs, peak RSS under 150 MiB (the frame cache excepted), a
/// bigger bundle no more memory.
pub fn scale_rows(
    root: &Path,
    bin: &Path,
    images: usize,
    blobs_per_image: usize,
    rss_sizes_mib: &[usize],
    runs: usize,
) -> anyhow::Result<()> {
    if images == 0 || blobs_per_image < 2 {
        bail!("the scale workload needs at least one image and 2 blobs per image (a config and a layer)");
    }
    let dir = root.join(format!("target/bench/scale-{images}x{blobs_per_image}"));
    println!("bench: preparing {images} images of {blobs_per_image} blobs in {}", dir.display());
    // A config and `blobs_per_image - 1` layers each, of LAYER_KIB_MIN to LAYER_KIB_MAX KiB.
    let layer_size = |rng: &mut Rng| ((LAYER_KIB_MIN + rng.next() % (LAYER_KIB_MAX - LAYER_KIB_MIN)) << 10) as usize;
    crate::bench::many_images_workload(&dir, "scale", images, blobs_per_image - 1, layer_size)?;
    keygen(bin, &dir, "k")?;
    let b = bin.display();
    let archive = "out/scale-1.0.0.tar.zst";
    let blobs = images * blobs_per_image;
    let mib = layout_bytes(&dir)? as f64 / f64::from(1 << 20);
    println!(
        "\ninput: {images} images, {blobs} blobs ({} layers and a config each) and {images} manifests, {mib:.0} MiB; \
         best of {runs}; 2 cores\n",
        blobs_per_image - 1
    );
    println!("{:<16} {:>9} {:>9} {:>15}", "step", "s", "RSS MiB", "s/1,000 blobs");
    let print = |step: &str, s: &Sample| {
        println!(
            "{step:<16} {:>9.2} {:>9.1} {:>15.3}",
            s.seconds,
            s.max_rss_kib as f64 / 1024.0,
            s.seconds * 1000.0 / blobs as f64
        );
    };

    let create = format!("{b}/bundle-builder create -f bundle.yaml --key k/genesis.key >/dev/null");
    // The last run's bundle stays for the rows below.
    print("create", &measure(&create, "rm -rf out", &dir, runs)?);
    let verify = format!("{b}/bundle-loader verify {archive} --key k/genesis.pub >/dev/null");
    print("verify", &measure(&verify, "true", &dir, runs)?);

    // A fresh registry for every run: a second run into the same one would be a re-load.
    let mut best = None;
    for _ in 0..runs {
        let (registry, port) = distribution(&dir.join("reg-scale"))?;
        let load = format!(
            "{b}/bundle-loader load {archive} --key k/genesis.pub --registry 127.0.0.1:{port} --plain-http --quiet \
             >/dev/null 2>&1"
        );
        best = Some(faster(best, measure(&load, "sync", &dir, 1)?));
        drop(registry);
    }
    print("load", &best.context("at least one run")?);
    let _ = fs::remove_dir_all(dir.join("reg-scale"));

    print("serve start-up", &serve_start_up(&dir, bin, archive, images, runs)?);

    let export = format!(
        "{b}/bundle-loader export {archive} --key k/genesis.pub --format oci-archive -o scale-export.tar --output json \
         >/dev/null"
    );
    print("export", &measure(&export, "rm -f scale-export.tar", &dir, runs)?);
    let _ = fs::remove_file(dir.join("scale-export.tar"));

    let size = fs::metadata(dir.join(archive))?.len();
    println!(
        "\narchive: {:.0} MiB; load: into a fresh Debian docker-registry on loopback each run; serve start-up: from \
         its start until /v2/ answers and /v2/_catalog lists all {images} repositories (two curl runs included), \
         with --cache-mib {SERVE_CACHE_MIB}, which its RSS counts; export: --format oci-archive",
        size as f64 / f64::from(1 << 20)
    );
    size_rss_rows(root, bin, rss_sizes_mib)
}

/// `serve`'s start-up, best of `runs`: wall time from its start until `GET /v2/` answers and
/// `GET /v2/_catalog` lists all `images` repositories (it listens only once it has verified
/// the whole bundle and read every manifest), and its peak RSS by then, with a frame cache of
/// [`SERVE_CACHE_MIB`].
fn serve_start_up(dir: &Path, bin: &Path, archive: &str, images: usize, runs: usize) -> anyhow::Result<Sample> {
    let mut best = None;
    for _ in 0..runs {
        run_cmd(&mut Command::new("sync"))?;
        let (mut served, port, started) = spawn_serve(dir, bin, archive, "k/genesis.pub", SERVE_CACHE_MIB)?;
        wait_serving(&mut served, port)?;
        let catalog = curl(&format!("http://127.0.0.1:{port}/v2/_catalog"))?;
        let seconds = started.elapsed().as_secs_f64();
        let catalog: serde_json::Value = serde_json::from_slice(&catalog).context("serve's catalog")?;
        let listed = catalog["repositories"].as_array().map_or(0, Vec::len);
        if listed != images {
            bail!("serve's catalog lists {listed} repositories, not the bundle's {images}");
        }
        let sample = Sample { seconds, max_rss_kib: peak_rss_kib(served.0.id())? };
        best = Some(faster(best, sample));
    }
    best.context("at least one run")
}

/// Peak RSS of `verify`, `load` (into a fresh Distribution) and `serve` (with no frame cache,
/// once it has answered every layer, 4 at a time) on half-text bundles of `sizes_mib`, side
/// by side: a bigger bundle should take no more memory. Each is built anew (with a key and an
/// output folder of its own, beside the default bench's), and its bundle and registry copy
/// removed afterwards; the layouts of the default sizes stay, as the default bench keeps
/// them, and others are removed too (16 GiB of layout is not kept for the next run).
fn size_rss_rows(root: &Path, bin: &Path, sizes_mib: &[usize]) -> anyhow::Result<()> {
    let b = bin.display();
    let mut columns = Vec::new();
    for &size_mib in sizes_mib {
        let dir = root.join(format!("target/bench/workload-{size_mib}"));
        if !crate::bench::workload_ready(&dir) {
            let need = (size_mib as f64 * DISK_PER_SIZE) as u64 * (1 << 20);
            let free = free_bytes(&root.join("target"))?;
            if free < need {
                bail!(
                    "the {size_mib} MiB rows need about {} GiB of disk at once and {} GiB is free under target/: \
                     free some, or leave {size_mib} out of --rss-sizes-mib",
                    need >> 30,
                    free >> 30
                );
            }
        }
        println!("\nbench: preparing a {size_mib} MiB OCI layout in {}", dir.display());
        workload(&dir, size_mib)?;
        keygen(bin, &dir, "k-rss")?;
        let build = format!(
            "rm -rf out-rss && {b}/bundle-builder create -f bundle.yaml --key k-rss/genesis.key --output-dir out-rss \
             >/dev/null"
        );
        run_cmd(Command::new("sh").arg("-c").arg(&build).current_dir(&dir))?;
        let archive = "out-rss/bench-1.0.0.tar.zst";
        let verify = format!("{b}/bundle-loader verify {archive} --key k-rss/genesis.pub >/dev/null");
        let verify = measure(&verify, "true", &dir, 1)?;
        let (registry, port) = distribution(&dir.join("reg-rss"))?;
        let load = format!(
            "{b}/bundle-loader load {archive} --key k-rss/genesis.pub --registry 127.0.0.1:{port} --plain-http \
             --quiet >/dev/null 2>&1"
        );
        let load = measure(&load, "sync", &dir, 1)?;
        drop(registry);
        let _ = fs::remove_dir_all(dir.join("reg-rss"));

        let (mut served, port, _) = spawn_serve(&dir, bin, archive, "k-rss/genesis.pub", 0)?;
        wait_serving(&mut served, port)?;
        // Every layer (the blobs of a MiB or more: the config and manifest are not layers).
        let layers: Vec<String> = fs::read_dir(dir.join("layout/blobs/sha256"))?
            .filter_map(|e| e.ok())
            .filter(|e| e.metadata().is_ok_and(|m| m.len() >= 1 << 20))
            .map(|e| e.file_name().to_string_lossy().into_owned())
            .collect();
        fs::write(dir.join("layers-rss.txt"), layers.join("\n") + "\n")?;
        let pulls = format!(
            "xargs -P4 -I{{}} curl -sf -o /dev/null http://127.0.0.1:{port}/v2/bench/app/blobs/sha256:{{}} \
             < layers-rss.txt"
        );
        run_cmd(Command::new("sh").arg("-c").arg(&pulls).current_dir(&dir))?;
        let serve = peak_rss_kib(served.0.id())?;
        drop(served);
        let _ = fs::remove_dir_all(dir.join("out-rss"));
        let _ = fs::remove_file(dir.join("layers-rss.txt"));
        if !DEFAULT_SIZES_MIB.contains(&size_mib) {
            let _ = fs::remove_dir_all(&dir);
        }
        columns.push((size_mib, [verify.max_rss_kib, load.max_rss_kib, serve]));
    }
    println!("\npeak RSS MiB by bundle size (half-text workload)\n");
    let heading: String = columns
        .iter()
        .map(|(mib, _)| {
            let size = format!("{} GiB", mib / 1024);
            format!(" {size:>9}")
        })
        .collect();
    println!("{:<8}{heading}", "step");
    for (i, step) in ["verify", "load", "serve"].iter().enumerate() {
        let cells: String = columns.iter().map(|(_, kib)| format!(" {:>9.1}", kib[i] as f64 / 1024.0)).collect();
        println!("{step:<8}{cells}");
    }
    println!(
        "\nserve: --cache-mib 0, after answering every layer 4 at a time; load: into a fresh Debian docker-registry"
    );
    Ok(())
}

/// Bytes free on the file system holding `path`, as `df` reads them.
pub(crate) fn free_bytes(path: &Path) -> anyhow::Result<u64> {
    let out = Command::new("df").args(["--output=avail", "-B1"]).arg(path).output().context("running df")?;
    if !out.status.success() {
        bail!("df {}: {}", path.display(), out.status);
    }
    let text = String::from_utf8_lossy(&out.stdout);
    text.lines().nth(1).and_then(|l| l.trim().parse().ok()).with_context(|| format!("df printed {text:?}"))
}

/// `bundle-loader serve` of `archive` (in `dir`), checked with the public key `key`, with a
/// frame cache of `cache_mib` MiB, on a free loopback port: the daemon, its port, and when it
/// was started.
fn spawn_serve(
    dir: &Path,
    bin: &Path,
    archive: &str,
    key: &str,
    cache_mib: u64,
) -> anyhow::Result<(Daemon, u16, Instant)> {
    let port = free_port()?;
    let started = Instant::now();
    let child = Command::new(bin.join("bundle-loader"))
        .args(["serve", archive, "--key", key, "--quiet", "--cache-mib", &cache_mib.to_string()])
        .args(["--listen", &format!("127.0.0.1:{port}")])
        .current_dir(dir)
        .stdout(Stdio::null())
        .stderr(Stdio::null())
        .spawn()
        .context("starting bundle-loader serve")?;
    Ok((Daemon(child), port, started))
}

/// Waits until `serve` (`served`, on `port`) answers `GET /v2/`, polling every 10 ms for up to
/// [`START_UP_LIMIT`]; an error at once if it exits.
fn wait_serving(served: &mut Daemon, port: u16) -> anyhow::Result<()> {
    let deadline = Instant::now() + START_UP_LIMIT;
    loop {
        if let Some(status) = served.0.try_wait()? {
            bail!("bundle-loader serve exited ({status}) before it answered on port {port}");
        }
        // A connection first: a curl run is dearer than a refused connect.
        if TcpStream::connect(("127.0.0.1", port)).is_ok() && curl(&format!("http://127.0.0.1:{port}/v2/")).is_ok() {
            return Ok(());
        }
        if Instant::now() > deadline {
            bail!("bundle-loader serve did not answer on port {port} within {START_UP_LIMIT:?}");
        }
        std::thread::sleep(Duration::from_millis(10));
    }
}

/// The body of `GET url`, by curl; an error unless it answers 2xx.
fn curl(url: &str) -> anyhow::Result<Vec<u8>> {
    let out = Command::new("curl").args(["-sf", url]).output().context("running curl")?;
    if !out.status.success() {
        bail!("curl {url}: {}", out.status);
    }
    Ok(out.stdout)
}
