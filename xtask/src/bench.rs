//! `cargo xtask bench [--size-mib N] [--runs N] [--seed-only]`: whole-process throughput and
//! peak RSS of `create`, `verify` and `extract`, each beside the standard pipeline doing the
//! same work on the same input in the same run (`tar | zstd -T0 -3`, `zstd -dc | openssl dgst
//! -sha256`, `zstd -dc | tar -x`), then the registry rows (`load`, `serve`, `registry seed`)
//! beside skopeo, Distribution and curl, and the portal's. Timed with GNU time; never in
//! tests. `--seed-only` runs only the `registry seed` rows.

use std::fs;
use std::path::{Path, PathBuf};
use std::process::Command;

use anyhow::{Context as _, bail};

use crate::run_cmd;

/// Deterministic xorshift64 generator.
struct Rng(u64);

impl Rng {
    fn next(&mut self) -> u64 {
        self.0 ^= self.0 << 13;
        self.0 ^= self.0 >> 7;
        self.0 ^= self.0 << 17;
        self.0
    }
}

const LAYER_MIB: usize = 32;
const WORDS: &[&str] = &[
    "INFO",
    "WARN",
    "request",
    "completed",
    "user",
    "session",
    "GET",
    "POST",
    "/api/v1/items",
    "status=200",
    "latency_ms=",
    "cache",
    "hit",
    "miss",
    "upstream",
    "connection",
    "reset",
    "retrying",
    "config",
    "loaded",
];

/// Half incompressible noise, half log-like text (zstd -3 gets about 4x on it).
fn layer(i: usize) -> Vec<u8> {
    let mut rng = Rng(0x9E37_79B9_7F4A_7C15 ^ (i as u64 + 1));
    let size = LAYER_MIB << 20;
    let mut out = Vec::with_capacity(size);
    if i.is_multiple_of(2) {
        while out.len() < size {
            out.extend_from_slice(&rng.next().to_le_bytes());
        }
    } else {
        while out.len() < size {
            let r = rng.next();
            out.extend_from_slice(format!("2025-01-01T00:{:02}:{:02}Z ", r % 60, (r >> 8) % 60).as_bytes());
            for k in 0..8 {
                out.extend_from_slice(WORDS[((r >> (k * 5)) % WORDS.len() as u64) as usize].as_bytes());
                out.push(b' ');
            }
            out.extend_from_slice(format!("{}\n", (r >> 40) % 10_000).as_bytes());
        }
    }
    out.truncate(size);
    out
}

fn sha256_hex(b: &[u8]) -> String {
    genesis_bundle::sha256(b).hex().to_owned()
}

/// Writes (once) an OCI layout of `size_mib` MiB: one image, many 32 MiB layers.
fn workload(dir: &Path, size_mib: usize) -> anyhow::Result<()> {
    let done = dir.join(".complete");
    if done.exists() {
        return Ok(());
    }
    let _ = fs::remove_dir_all(dir);
    let blobs = dir.join("layout/blobs/sha256");
    fs::create_dir_all(&blobs)?;
    let mut layers = Vec::new();
    for i in 0..size_mib.div_ceil(LAYER_MIB) {
        let data = layer(i);
        let hex = sha256_hex(&data);
        fs::write(blobs.join(&hex), &data)?;
        layers.push(serde_json::json!({"mediaType": "application/vnd.oci.image.layer.v1.tar", "digest": format!("sha256:{hex}"), "size": data.len()}));
    }
    let config = serde_json::to_vec(
        &serde_json::json!({"architecture": "amd64", "os": "linux", "rootfs": {"type": "layers", "diff_ids": []}}),
    )?;
    let config_hex = sha256_hex(&config);
    fs::write(blobs.join(&config_hex), &config)?;
    let manifest = serde_json::to_vec(&serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.manifest.v1+json",
        "config": {"mediaType": "application/vnd.oci.image.config.v1+json", "digest": format!("sha256:{config_hex}"), "size": config.len()},
        "layers": layers,
    }))?;
    let manifest_hex = sha256_hex(&manifest);
    fs::write(blobs.join(&manifest_hex), &manifest)?;
    let index = serde_json::json!({"schemaVersion": 2, "manifests": [{
        "mediaType": "application/vnd.oci.image.manifest.v1+json", "digest": format!("sha256:{manifest_hex}"),
        "size": manifest.len(), "annotations": {"org.opencontainers.image.ref.name": "bench"}}]});
    fs::write(dir.join("layout/index.json"), serde_json::to_vec(&index)?)?;
    fs::write(dir.join("layout/oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    fs::write(
        dir.join("bundle.yaml"),
        "apiVersion: genesis.dev/v1alpha1\nkind: Bundle\nmetadata: { name: bench, version: 1.0.0 }\nspec:\n  images:\n    - { name: bench, image: \"oci:layout:bench\", ref: registry.example.com/bench/app:1 }\n  output: { dir: out }\n",
    )?;
    fs::write(done, b"")?;
    Ok(())
}

struct Sample {
    seconds: f64,
    max_rss_kib: u64,
}

/// Runs `script` under `sh -c` with GNU time, best of `runs`; `prepare` runs untimed first.
fn measure(script: &str, prepare: &str, cwd: &Path, runs: usize) -> anyhow::Result<Sample> {
    let mut best: Option<Sample> = None;
    for _ in 0..runs {
        run_cmd(Command::new("sh").arg("-c").arg(prepare).current_dir(cwd))?;
        let report = cwd.join(".time");
        let status = Command::new("/usr/bin/time")
            .args(["-f", "%e %M", "-o"])
            .arg(&report)
            .args(["sh", "-c", script])
            .current_dir(cwd)
            .status()
            .context("running /usr/bin/time (Debian package `time`)")?;
        if !status.success() {
            bail!("benchmark command failed: {script}");
        }
        let text = fs::read_to_string(&report)?;
        let mut parts = text.split_whitespace().rev().take(2).collect::<Vec<_>>();
        parts.reverse();
        let s = Sample { seconds: parts[0].parse()?, max_rss_kib: parts[1].parse()? };
        if best.as_ref().is_none_or(|b| s.seconds < b.seconds) {
            best = Some(s);
        }
    }
    best.context("at least one run")
}

pub fn run(root: &Path, args: &[String]) -> anyhow::Result<()> {
    let mut size_mib = 1024usize;
    let mut runs = 1usize;
    let mut seed_only = false;
    let mut it = args.iter();
    while let Some(a) = it.next() {
        match a.as_str() {
            "--size-mib" => size_mib = it.next().context("--size-mib N")?.parse()?,
            "--runs" => runs = it.next().context("--runs N")?.parse()?,
            "--seed-only" => seed_only = true,
            other => bail!("unknown bench flag {other}"),
        }
    }
    let bin = crate::release_build(root)?;
    let dir: PathBuf = root.join(format!("target/bench/workload-{size_mib}"));
    println!("bench: preparing a {size_mib} MiB OCI layout in {}", dir.display());
    workload(&dir, size_mib)?;
    let _ = fs::remove_dir_all(dir.join("k"));
    run_cmd(
        Command::new(bin.join("bundle-builder"))
            .args(["keygen", "--output-dir"])
            .arg(dir.join("k"))
            .stdout(std::process::Stdio::null()),
    )?;
    let input_bytes: u64 = fs::read_dir(dir.join("layout/blobs/sha256"))?
        .map(|e| e.map(|e| e.metadata().map(|m| m.len()).unwrap_or(0)).unwrap_or(0))
        .sum();
    let b = bin.display();
    let archive = "out/bench-1.0.0.tar.zst";
    let clean = "rm -rf out x y ref.tar.zst";
    let rows = [
        (
            "create",
            format!("{b}/bundle-builder create -f bundle.yaml --key k/genesis.key >/dev/null"),
            clean.to_owned(),
            "tar | zstd -T0 -3",
            "tar -cf - layout | zstd -q -T0 -3 -o ref.tar.zst".to_owned(),
            clean.to_owned(),
        ),
        (
            "verify",
            format!("{b}/bundle-loader verify {archive} --key k/genesis.pub >/dev/null"),
            "true".to_owned(),
            "zstd -dc | openssl sha256",
            format!("zstd -dc {archive} | openssl dgst -sha256 >/dev/null"),
            "true".to_owned(),
        ),
        (
            "extract",
            format!("{b}/bundle-loader extract {archive} --key k/genesis.pub --output-dir x >/dev/null"),
            "rm -rf x".to_owned(),
            "zstd -dc | tar -x",
            format!("zstd -dc {archive} | tar -x -C y"),
            "rm -rf y && mkdir y".to_owned(),
        ),
    ];
    let mib = input_bytes as f64 / f64::from(1 << 20);
    println!("\ninput: {mib:.0} MiB of blobs (half incompressible, half text); best of {runs}; 2 cores\n");
    println!(
        "{:<8} {:>8} {:>9} {:>9}   {:<26} {:>8} {:>9} {:>9}   {:>6}",
        "ours", "s", "MiB/s", "RSS MiB", "baseline", "s", "MiB/s", "RSS MiB", "ratio"
    );
    if seed_only {
        return seed_rows(&dir, &bin, mib, runs);
    }
    for (name, ours, prep, base_name, base, base_prep) in rows {
        if name == "verify" || name == "extract" {
            // Both sides of verify/extract read the archive our create wrote.
            if !dir.join(archive).exists() {
                run_cmd(
                    Command::new("sh")
                        .arg("-c")
                        .arg(format!("{b}/bundle-builder create -f bundle.yaml --key k/genesis.key >/dev/null"))
                        .current_dir(&dir),
                )?;
            }
        }
        let o = measure(&ours, &prep, &dir, runs)?;
        let r = measure(&base, &base_prep, &dir, runs)?;
        println!(
            "{name:<8} {:>8.2} {:>9.0} {:>9.1}   {base_name:<26} {:>8.2} {:>9.0} {:>9.1}   {:>6.2}",
            o.seconds,
            mib / o.seconds,
            o.max_rss_kib as f64 / 1024.0,
            r.seconds,
            mib / r.seconds,
            r.max_rss_kib as f64 / 1024.0,
            r.seconds / o.seconds,
        );
    }
    let size = fs::metadata(dir.join(archive))?.len();
    println!(
        "\narchive: {:.0} MiB ({:.2}x); ratio = baseline time / our time (1.00 = as fast)",
        size as f64 / f64::from(1 << 20),
        input_bytes as f64 / size as f64
    );
    registry_rows(&dir, &bin, archive, mib, runs)?;
    seed_rows(&dir, &bin, mib, runs)?;
    portal_rows(&dir, &bin, archive, runs)?;
    Ok(())
}

/// A process killed on drop.
struct Daemon(std::process::Child);

impl Drop for Daemon {
    fn drop(&mut self) {
        let _ = self.0.kill();
        let _ = self.0.wait();
    }
}

fn free_port() -> anyhow::Result<u16> {
    Ok(std::net::TcpListener::bind("127.0.0.1:0")?.local_addr()?.port())
}

fn wait_port(port: u16) -> anyhow::Result<()> {
    for _ in 0..500 {
        if std::net::TcpStream::connect(("127.0.0.1", port)).is_ok() {
            return Ok(());
        }
        std::thread::sleep(std::time::Duration::from_millis(20));
    }
    bail!("nothing listens on {port}")
}

/// A fresh Debian `docker-registry` with its own storage under `dir`.
fn distribution(dir: &Path) -> anyhow::Result<(Daemon, u16)> {
    let _ = fs::remove_dir_all(dir);
    fs::create_dir_all(dir)?;
    let port = free_port()?;
    let config = dir.join("config.yml");
    fs::write(
        &config,
        format!(
            "version: 0.1\nlog: {{level: error}}\nstorage:\n  filesystem: {{rootdirectory: {}}}\nhttp:\n  addr: 127.0.0.1:{port}\n",
            dir.join("data").display()
        ),
    )?;
    let child = Command::new("docker-registry")
        .arg("serve")
        .arg(&config)
        .stdout(std::process::Stdio::null())
        .stderr(std::process::Stdio::null())
        .spawn()
        .context("starting docker-registry (Debian package docker-registry)")?;
    let daemon = Daemon(child);
    wait_port(port)?;
    Ok((daemon, port))
}

fn row(name: &str, ours: &Sample, base_name: &str, base: &Sample, mib: f64) {
    println!(
        "{name:<8} {:>8.2} {:>9.0} {:>9.1}   {base_name:<26} {:>8.2} {:>9.0} {:>9.1}   {:>6.2}",
        ours.seconds,
        mib / ours.seconds,
        ours.max_rss_kib as f64 / 1024.0,
        base.seconds,
        mib / base.seconds,
        base.max_rss_kib as f64 / 1024.0,
        base.seconds / ours.seconds,
    );
}

/// `load` beside `skopeo copy` into fresh Distribution registries, a re-load of present
/// content, and `serve` beside Distribution answering skopeo and 4-way curl blob pulls.
fn registry_rows(dir: &Path, bin: &Path, archive: &str, mib: f64, runs: usize) -> anyhow::Result<()> {
    let b = bin.display();
    println!("\nregistry (Debian docker-registry on loopback, fresh storage per side)\n");
    let (_ours_reg, ours_port) = distribution(&dir.join("reg-ours"))?;
    let (_skopeo_reg, skopeo_port) = distribution(&dir.join("reg-skopeo"))?;
    let load = format!(
        "{b}/bundle-loader load {archive} --key k/genesis.pub --registry 127.0.0.1:{ours_port} --plain-http --quiet >/dev/null 2>&1"
    );
    let skopeo =
        // `--preserve-digests`: otherwise skopeo gzips the uncompressed layers on the way and
        // moves other bytes than the load does.
        format!("skopeo copy -q --preserve-digests --dest-tls-verify=false oci:layout:bench docker://127.0.0.1:{skopeo_port}/bench/app:1");
    // The first run of each side measures a cold load; later runs re-load present content.
    // Distribution fsyncs every blob, and on ext4 an fsync also waits for other files' dirty
    // data (the rows above leave a GiB of it): each side starts from a synced disk.
    let o = measure(&load, "sync", dir, 1)?;
    let r = measure(&skopeo, "sync", dir, 1)?;
    row("load", &o, "skopeo copy oci: docker://", &r, mib);
    let o = measure(&load, "sync", dir, runs)?;
    let r = measure(&skopeo, "sync", dir, runs)?;
    row("re-load", &o, "skopeo copy (present)", &r, mib);

    let serve = |extra: &[&str]| -> anyhow::Result<(Daemon, u16)> {
        let port = free_port()?;
        let daemon = Daemon(
            Command::new(bin.join("bundle-loader"))
                .args(["serve", archive, "--key", "k/genesis.pub", "--quiet"])
                .args(extra)
                .args(["--listen", &format!("127.0.0.1:{port}")])
                .current_dir(dir)
                .stdout(std::process::Stdio::null())
                .stderr(std::process::Stdio::null())
                .spawn()?,
        );
        wait_port(port)?;
        Ok((daemon, port))
    };
    // The default frame cache of this machine (an eighth of memory, at most 2 GiB) holds the
    // whole workload, so the later runs of each side are served warm, as Distribution's are
    // from the page cache; the last row turns the cache off: every pull decompresses.
    let (_served, serve_port) = serve(&[])?;
    let pull = |port: u16| {
        format!(
            "rm -rf pulled && skopeo copy -q --src-tls-verify=false docker://127.0.0.1:{port}/bench/app:1 oci:pulled:x"
        )
    };
    // skopeo writes what it pulls (and syncs it): each run starts from a synced disk too.
    let o = measure(&pull(serve_port), "sync", dir, runs)?;
    let r = measure(&pull(ours_port), "sync", dir, runs)?;
    row("serve", &o, "Distribution (skopeo pull)", &r, mib);
    // Layers only: Distribution does not serve manifests through the blobs endpoint.
    let digests: Vec<String> = fs::read_dir(dir.join("layout/blobs/sha256"))?
        .filter_map(|e| e.ok())
        .filter(|e| e.metadata().is_ok_and(|m| m.len() >= 1 << 20))
        .map(|e| e.file_name().to_string_lossy().into_owned())
        .collect();
    fs::write(dir.join("digests.txt"), digests.join("\n") + "\n")?;
    let curl = |port: u16| {
        format!(
            "xargs -P4 -I{{}} curl -sf -o /dev/null http://127.0.0.1:{port}/v2/bench/app/blobs/sha256:{{}} < digests.txt"
        )
    };
    let o = measure(&curl(serve_port), "true", dir, runs)?;
    let r = measure(&curl(ours_port), "true", dir, runs)?;
    row("serve", &o, "Distribution (4x curl)", &r, mib);
    let (_uncached, uncached_port) = serve(&["--cache-mib", "0"])?;
    let o = measure(&curl(uncached_port), "true", dir, runs)?;
    row("serve*", &o, "Distribution (4x curl)", &r, mib);
    println!("         serve* = serve --cache-mib 0: every pull decompresses its frames again");
    let _ = fs::remove_dir_all(dir.join("pulled"));
    Ok(())
}

/// `registry seed` of the workload image from one Distribution into a fresh one beside
/// `skopeo copy --all` of the same image from the same source into another fresh one, then
/// both again onto present content (every blob and manifest there: a HEAD each). The target:
/// a fresh seed at least 1.5 times as fast as skopeo, a re-seed no slower. skopeo gets
/// `--preserve-digests`: without it, it gzips uncompressed layers on their way to a registry,
/// a different image; with it, both sides put the same bytes under the same digests.
fn seed_rows(dir: &Path, bin: &Path, mib: f64, runs: usize) -> anyhow::Result<()> {
    println!("\nregistry seed (Debian docker-registry to fresh docker-registry, loopback)\n");
    let source = distribution(&dir.join("reg-source"))?;
    let image = |port: u16| format!("127.0.0.1:{port}/bench/app:1");
    run_cmd(
        Command::new("skopeo")
            .args(["copy", "-q", "--preserve-digests", "--dest-tls-verify=false", "oci:layout:bench"])
            .arg(format!("docker://{}", image(source.1)))
            .current_dir(dir),
    )?;
    let seeded = distribution(&dir.join("reg-seed"))?;
    let copied = distribution(&dir.join("reg-seed-skopeo"))?;
    let seed = format!(
        "{}/bundle-loader registry seed --from {} --to {} --skip-verify --plain-http --out seed-out --quiet >/dev/null 2>&1",
        bin.display(),
        image(source.1),
        image(seeded.1)
    );
    let skopeo = format!(
        "skopeo copy -q --all --preserve-digests --src-tls-verify=false --dest-tls-verify=false docker://{} docker://{}",
        image(source.1),
        image(copied.1)
    );
    // As for load: the first run of each side is a fresh copy, each side from a synced disk.
    let prep = "rm -rf seed-out && mkdir seed-out && sync";
    let o = measure(&seed, prep, dir, 1)?;
    let r = measure(&skopeo, "sync", dir, 1)?;
    row("seed", &o, "skopeo copy -a docker://", &r, mib);
    let o = measure(&seed, prep, dir, runs)?;
    let r = measure(&skopeo, "sync", dir, runs)?;
    row("re-seed", &o, "skopeo copy -a (present)", &r, mib);
    println!("         seed = registry seed --skip-verify; skopeo with --preserve-digests (same bytes and digests)");
    drop((source, seeded, copied));
    // 3 GiB of registry storage: nothing later reads it.
    for leftover in ["reg-source", "reg-seed", "reg-seed-skopeo", "seed-out"] {
        let _ = fs::remove_dir_all(dir.join(leftover));
    }
    Ok(())
}

/// VmHWM (peak resident set) of a running process, in KiB.
fn peak_rss_kib(pid: u32) -> anyhow::Result<u64> {
    let status = fs::read_to_string(format!("/proc/{pid}/status"))?;
    let line = status.lines().find_map(|l| l.strip_prefix("VmHWM:")).context("VmHWM in /proc/PID/status")?;
    Ok(line.trim().trim_end_matches("kB").trim().parse()?)
}

/// `genesis pull` of a release (the bundle, its sidecars and a 1 GiB incompressible file)
/// beside `curl` fetching the same files from the same `genesis-portal`, then the server's
/// peak RSS after 50 concurrent downloads of the 1 GiB file.
fn portal_rows(dir: &Path, bin: &Path, archive: &str, runs: usize) -> anyhow::Result<()> {
    println!("\nportal (genesis-portal on its embedded defaults, loopback)\n");
    let data = dir.join("portal");
    let _ = fs::remove_dir_all(&data);
    let portal = |args: &[&str]| -> anyhow::Result<String> {
        let out = Command::new(bin.join("genesis-portal"))
            .arg("--data-dir")
            .arg(&data)
            .args(args)
            .current_dir(dir)
            .output()?;
        if !out.status.success() {
            bail!("genesis-portal {args:?}: {}", String::from_utf8_lossy(&out.stderr));
        }
        Ok(String::from_utf8_lossy(&out.stdout).trim().to_owned())
    };
    let payload = dir.join("payload.bin");
    if fs::metadata(&payload).map(|m| m.len()).unwrap_or(0) != 1 << 30 {
        run_cmd(Command::new("sh").arg("-c").arg("head -c 1073741824 /dev/urandom > payload.bin").current_dir(dir))?;
    }
    portal(&["org", "create", "bench"])?;
    let key = portal(&["key", "create", "--org", "bench"])?;
    portal(&["entitle", "--org", "bench", "--versions", "*"])?;
    portal(&["publish", "1.0.0", archive, "payload.bin", "--key", "k/genesis.pub"])?;
    let port = free_port()?;
    let server = Daemon(
        Command::new(bin.join("genesis-portal"))
            .arg("--data-dir")
            .arg(&data)
            .args(["serve", "--listen", &format!("127.0.0.1:{port}")])
            .env("RUST_LOG", "warn")
            .stderr(std::process::Stdio::null())
            .spawn()?,
    );
    wait_port(port)?;
    let config = dir.join("portal-client");
    let _ = fs::remove_dir_all(&config);
    let login = Command::new(bin.join("genesis"))
        .args(["login", "--portal", &format!("http://127.0.0.1:{port}")])
        .env("GENESIS_CONFIG_DIR", &config)
        .env("GENESIS_LICENSE_KEY", &key)
        .output()?;
    if !login.status.success() {
        bail!("genesis login: {}", String::from_utf8_lossy(&login.stderr));
    }
    let names = [
        "bench-1.0.0.tar.zst",
        "bench-1.0.0.tar.zst.cosign.bundle",
        "bench-1.0.0.tar.zst.sha256",
        "bench-1.0.0.tar.zst.sig",
        "payload.bin",
    ];
    let bytes: u64 = names
        .iter()
        .map(|n| fs::metadata(data.join("artifacts/releases/genesis/1.0.0").join(n)).map_or(0, |m| m.len()))
        .sum();
    let mib = bytes as f64 / f64::from(1 << 20);
    let pull = format!(
        "GENESIS_CONFIG_DIR={} {}/genesis pull 1.0.0 -o pulled-portal -q >/dev/null 2>&1",
        config.display(),
        bin.display()
    );
    let curl_args: Vec<String> = names
        .iter()
        .map(|n| format!("-o pulled-curl/{n} http://127.0.0.1:{port}/v1/releases/genesis/1.0.0/artifacts/{n}"))
        .collect();
    let curl = format!("curl -sf -H 'Authorization: Bearer {key}' {}", curl_args.join(" "));
    let o = measure(&pull, "rm -rf pulled-portal", dir, runs)?;
    let r = measure(&curl, "rm -rf pulled-curl && mkdir pulled-curl", dir, runs)?;
    row("pull", &o, "curl (same files)", &r, mib);
    println!(
        "         {mib:.0} MiB: a bundle, its sidecars and a 1 GiB incompressible file; ours also hashes every byte"
    );

    let url = format!("http://127.0.0.1:{port}/v1/releases/genesis/1.0.0/artifacts/payload.bin");
    let started = std::time::Instant::now();
    run_cmd(
        Command::new("sh")
            .arg("-c")
            .arg(format!("seq 50 | xargs -P50 -I{{}} curl -sf -H 'Authorization: Bearer {key}' -o /dev/null {url}")),
    )?;
    let seconds = started.elapsed().as_secs_f64();
    let peak = peak_rss_kib(server.0.id())? as f64 / 1024.0;
    println!(
        "serve    50 concurrent downloads of the 1 GiB file: {:.1} s ({:.0} MiB/s total); server peak RSS {peak:.1} MiB",
        seconds,
        50.0 * 1024.0 / seconds
    );
    drop(server);
    // 3 GiB of downloads and the portal's copy: nothing later reads them.
    for leftover in ["pulled-portal", "pulled-curl", "portal", "portal-client"] {
        let _ = fs::remove_dir_all(dir.join(leftover));
    }
    Ok(())
}
