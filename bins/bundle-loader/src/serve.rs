//! `bundle-loader serve`: verify, then serve the bundle as a read-only OCI registry.

use std::net::SocketAddr;
use std::path::PathBuf;
use std::sync::Arc;

use anyhow::Context as _;
use genesis_cli_support::server::ServerArgs;
use genesis_cli_support::verify::{VerifyArgs, report_trust_error, verify_signature};
use genesis_registry::serve::{Served, bind, serve, tls_acceptor};
use genesis_trust::{CheckedBundle, TrustError};

/// Arguments of `serve`.
#[derive(Debug, clap::Args)]
pub struct ServeArgs {
    /// Verification inputs.
    #[command(flatten)]
    pub verify: VerifyArgs,
    /// Address to listen on, e.g. 127.0.0.1:5000.
    #[arg(long, value_name = "ADDR")]
    pub listen: SocketAddr,
    /// TLS certificate chain (PEM); serves HTTPS with --tls-key.
    #[arg(long, value_name = "PEM", requires = "tls_key")]
    pub tls_cert: Option<PathBuf>,
    /// TLS private key (PEM).
    #[arg(long, value_name = "PEM", requires = "tls_cert")]
    pub tls_key: Option<PathBuf>,
    /// Memory for decompressed frames shared by all pulls, so a layer pulled by many nodes
    /// is decompressed once while it stays cached; 0 turns the cache off. Default: an
    /// eighth of the memory available (the cgroup limit if lower), at most 2048.
    #[arg(long = "cache-mib", value_name = "MIB", value_parser = mebibytes)]
    pub cache: Option<u64>, // in bytes
    /// How many clients are served at once.
    #[command(flatten)]
    pub server: ServerArgs,
}

/// `mib` MiB in bytes; a count past what 64 bits hold is refused, where shifting it into bytes
/// would wrap (2^44 MiB to a cache of 0 bytes).
fn mebibytes(mib: &str) -> Result<u64, String> {
    let mib: u64 = mib.parse().map_err(|e: std::num::ParseIntError| e.to_string())?;
    mib.checked_mul(1 << 20)
        .ok_or_else(|| format!("{mib} MiB is more bytes than 64 bits count; give at most {} MiB", u64::MAX >> 20))
}

/// An eighth of the memory this process may use (the machine's, or its cgroup's limit if
/// lower), at most 2 GiB, in bytes.
fn default_cache() -> u64 {
    let machine_kib = std::fs::read_to_string("/proc/meminfo").ok().and_then(|m| {
        m.lines().find_map(|l| l.strip_prefix("MemTotal:")?.trim().strip_suffix("kB")?.trim().parse::<u64>().ok())
    });
    let cgroup_kib = std::fs::read_to_string("/sys/fs/cgroup/memory.max")
        .ok()
        .and_then(|v| v.trim().parse::<u64>().ok())
        .map(|bytes| bytes / 1024);
    let kib = [machine_kib, cgroup_kib].into_iter().flatten().min().unwrap_or(0);
    (kib / 1024 / 8).min(2048) << 20
}

/// Verifies the bundle's signature and refuses a delta bundle (decision 0043) before its
/// payload is read, since `action` (`serve`, `export`) needs every blob of its images and a
/// delta leaves out those of its base; then checks the payload with a progress bar. The outer
/// error is the delta's refusal (exit 2), the inner one the verification's.
pub(crate) fn verify_full_bundle(
    args: &VerifyArgs,
    action: &'static str,
) -> anyhow::Result<Result<CheckedBundle, TrustError>> {
    let verified = match verify_signature(args) {
        Ok(verified) => verified,
        Err(e) => return Ok(Err(e)),
    };
    verified.bom().require_full(action)?;
    let _bar = genesis_cli_support::progress::show(verified.progress(), "verifying", args.quiet);
    Ok(verified.check())
}

/// Runs `serve` until interrupted.
pub fn run(args: &ServeArgs) -> anyhow::Result<u8> {
    let checked = match verify_full_bundle(&args.verify, "serve")? {
        Ok(c) => c,
        Err(e) => return report_trust_error(&args.verify, e, "nothing is served"),
    };
    eprint!("{}", genesis_cli_support::verify::render_text(checked.report()));
    let served = Arc::new(Served::new(&checked, args.cache.unwrap_or_else(default_cache))?);
    let tls = match (&args.tls_cert, &args.tls_key) {
        (Some(c), Some(k)) => Some(tls_acceptor(c, k)?),
        _ => None,
    };
    let scheme = if tls.is_some() { "https" } else { "http" };
    let limits = args.server.limits();
    let runtime =
        tokio::runtime::Builder::new_multi_thread().enable_all().build().context("starting the async runtime")?;
    let serving = runtime.block_on(async {
        let listener = bind(args.listen).await?;
        let repos = served.repositories();
        eprintln!(
            "serving {} repositories read-only on {scheme}://{}: {}",
            repos.len(),
            listener.local_addr()?,
            repos.join(", ")
        );
        Ok::<_, anyhow::Error>(serve(served, listener, tls, limits).await)
    })?;
    match serving {}
}
