//! `genesis support-bundle -o support.tar.gz`: what a vendor needs to help with a cluster
//! (its version, nodes, the installed bundles' namespaces, the install records, the last
//! pre-flight results), every byte redacted before it is kept, in a deterministic archive with
//! its `.sha256`, for the operator to attach to a ticket. Pull only: nothing is sent anywhere
//! (`genesis-support`, decision 0039).

use std::path::PathBuf;

use anyhow::Context as _;
use genesis_bundle::escape_controls;
use genesis_cli_support::{OutputFormat, exit, outln, print_json};
use genesis_kube::Cluster;
use genesis_support::{Collected, Input, Options, Redactor, Written, collect, write_archive};

/// Arguments of `support-bundle`.
#[derive(Debug, clap::Args)]
pub struct SupportBundleArgs {
    /// The kubeconfig to use (else KUBECONFIG, else the in-cluster service account).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// A namespace to collect, besides those the install records name (repeatable).
    #[arg(short = 'n', long = "namespace", value_name = "NS")]
    pub namespaces: Vec<String>,
    /// More redaction rules, from a YAML file: `rules: [{name: NAME, pattern: REGEX}]`.
    #[arg(long, value_name = "FILE")]
    pub redact_rules: Option<PathBuf>,
    /// Redact IPv4 and IPv6 addresses too (node and pod addresses, cluster IPs).
    #[arg(long)]
    pub redact_ip: bool,
    /// The last pre-flight results to include: a `genesis preflight --output json` file.
    #[arg(long, value_name = "FILE")]
    pub preflight: Option<PathBuf>,
    /// The archive to write (atomically), with FILE.sha256 beside it.
    #[arg(short = 'o', long = "output-file", value_name = "FILE")]
    pub output_file: PathBuf,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// Runs `support-bundle`: exit 0 once the archive is written, with a warning for each list
/// the cluster refused (RBAC), which is left out.
pub fn run(args: &SupportBundleArgs) -> anyhow::Result<u8> {
    // The rules first: a bad rules file stops the run before anything is contacted.
    let mut redactor = Redactor::builtin(args.redact_ip);
    if let Some(rules) = &args.redact_rules {
        redactor = redactor.with_rules_file(rules)?;
    }
    let options = Options {
        namespaces: args.namespaces.clone(),
        recorded_namespaces: true,
        redactor,
        preflight: args.preflight.clone().map(Input::File),
        extra_logs: Vec::new(),
        withheld: Default::default(),
    };
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    // Connecting reads the credentials only: the API server is first contacted by `collect`.
    let cluster = runtime.block_on(Cluster::connect(args.kubeconfig.as_deref()))?;
    genesis_cli_support::announce_endpoints("genesis support-bundle", &[cluster.describe().to_owned()]);
    let collected = runtime.block_on(collect(&cluster, &options))?;
    let written = write_archive(&collected.files, &args.output_file)?;
    match args.output {
        OutputFormat::Json => print_json(&serde_json::json!({
            "archive": written.path.display().to_string(),
            "sha256": written.sha256.hex(),
            "size": written.size,
            "sha256File": written.sidecar.display().to_string(),
            "namespaces": collected.namespaces,
            "redactions": collected.report,
            "warnings": collected.warnings,
        }))?,
        OutputFormat::Text => render_text(&collected, &written)?,
    }
    Ok(exit::OK)
}

/// The archive, its digest, the namespaces and the redaction counts on stdout; what the
/// cluster refused as warnings on stderr.
fn render_text(collected: &Collected, written: &Written) -> std::io::Result<()> {
    for warning in &collected.warnings {
        // The API server's words: shown as text, never acting on the terminal.
        eprintln!("warning: {}", escape_controls(warning));
    }
    outln!("wrote {} ({} bytes)", written.path.display(), written.size)?;
    outln!("sha256 {}  ({})", written.sha256.hex(), written.sidecar.display())?;
    match collected.namespaces.as_slice() {
        [] => outln!("namespaces: none (name one with --namespace)")?,
        namespaces => outln!("namespaces: {}", namespaces.join(", "))?,
    }
    // Rules that matched nothing are in the archive's report, not in this line.
    let by_rule: Vec<String> =
        collected.report.counts().iter().filter(|(_, n)| **n > 0).map(|(rule, n)| format!("{rule} {n}")).collect();
    match collected.report.total() {
        0 => outln!("redacted: nothing matched a rule")?,
        total => outln!("redacted: {total} values ({}); the values themselves are in no file", by_rule.join(", "))?,
    }
    outln!("nothing was sent: attach the archive to the support ticket yourself")
}
