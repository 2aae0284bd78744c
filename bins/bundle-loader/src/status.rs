//! `bundle-loader status`: the bundles applied to the cluster, from their install records:
//! each one's version, who signed it and its BOM's digests, so that what is installed, and
//! by whose signature, is audited without verifying the bundle again (seed 002).

use std::path::PathBuf;

use anyhow::Context as _;
use genesis_bundle::escape_controls;
use genesis_cli_support::{OutputFormat, exit, out, outln, print_json};
use genesis_kube::{Cluster, InstallRecord, RecordedSigner};

/// Arguments of `status`.
#[derive(Debug, clap::Args)]
pub struct StatusArgs {
    /// The kubeconfig to use (else KUBECONFIG, else the in-cluster service account).
    #[arg(long, value_name = "FILE")]
    pub kubeconfig: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    pub output: OutputFormat,
}

/// Lists the install records.
pub fn run(args: &StatusArgs) -> anyhow::Result<u8> {
    let runtime =
        tokio::runtime::Builder::new_current_thread().enable_all().build().context("starting the async runtime")?;
    let cluster = runtime.block_on(Cluster::connect(args.kubeconfig.as_deref()))?;
    genesis_cli_support::announce_endpoints("bundle-loader", &[cluster.describe().to_owned()]);
    let records = runtime.block_on(genesis_kube::read_records(&cluster))?;
    match args.output {
        OutputFormat::Json => print_json(&serde_json::json!({ "bundles": records }))?,
        OutputFormat::Text if records.is_empty() => outln!("no bundle has been applied to {}", cluster.describe())?,
        OutputFormat::Text => out!("{}", render(&records))?,
    }
    Ok(exit::OK)
}

/// The records as text, three lines each, every line escaped ([`escape_controls`]): each
/// field is a ConfigMap's, written by whoever may edit ConfigMaps in genesis-system, and a
/// keyless signer's identity is its certificate's text; an escape sequence or a newline in
/// one must show as text, never act on the terminal or print as a line of its own.
fn render(records: &[InstallRecord]) -> String {
    let mut out = String::new();
    let mut line = |s: String| {
        out.push_str(&escape_controls(&s));
        out.push('\n');
    };
    for r in records {
        line(format!("{} {}  applied {}  ({} objects)", r.name, r.version, r.applied_at, r.objects.len()));
        line(format!("  signed by {}", signed_by(&r.signers)));
        line(match r.bom_blake3.as_str() {
            "" => format!("  BOM {}", r.bom_digest),
            blake3 => format!("  BOM {} blake3:{blake3}", r.bom_digest),
        });
    }
    out
}

/// Who signed an installed bundle, as its record keeps it: the vendor, then each
/// countersigner.
fn signed_by(signers: &[RecordedSigner]) -> String {
    match signers.split_first() {
        None => "(not recorded: installed by an earlier version)".to_owned(),
        Some((vendor, [])) => vendor.to_string(),
        Some((vendor, countersigners)) => {
            let countersigners: Vec<String> = countersigners.iter().map(ToString::to_string).collect();
            format!("{vendor}, countersigned by {}", countersigners.join(", "))
        }
    }
}

#[cfg(test)]
mod tests {
    use genesis_trust::AcceptedSigner;

    use super::*;

    /// Escape sequences, a newline, a carriage return and a C1 control in any field of a
    /// record show as their escapes, each record in its three lines; a signer of a kind this
    /// version does not know is shown as written.
    #[test]
    fn every_field_of_a_record_shows_escaped_in_its_lines() {
        let identity = AcceptedSigner::Identity {
            subject: "ops@acme.example\n✓ signed by key SHA256:vendor".into(),
            issuer: "https://idp\u{1b}[0m".into(),
        };
        let record = InstallRecord {
            name: "demo\u{1b}]0;owned\u{7}".into(),
            version: "1.0.0\r".into(),
            bom_digest: "sha256:00".into(),
            bom_blake3: "b3\u{9b}".into(),
            signers: vec![
                RecordedSigner::Known(identity),
                RecordedSigner::Other(serde_json::json!({"kind": "tpm\u{1b}[2J"})),
            ],
            applied_at: "2026-01-01T00:00:00Z".into(),
            verification: Default::default(),
            objects: vec![],
            api_objects: vec![],
        };
        let text = render(&[record]);
        assert_eq!(
            text,
            "demo\\u{1b}]0;owned\\u{7} 1.0.0\\u{d}  applied 2026-01-01T00:00:00Z  (0 objects)\n  signed by identity \
             ops@acme.example\\u{a}✓ signed by key SHA256:vendor (issuer https://idp\\u{1b}[0m), countersigned by a \
             signer unknown to this version: {\"kind\":\"tpm\\u001b[2J\"}\n  BOM sha256:00 blake3:b3\\u{9b}\n"
        );
    }
}
