//! `verify` of `genesis` and `bundle-loader`, with `--dir`: a tree `extract` wrote, verified
//! again on its own (`genesis_trust::verify_tree`) against the same trust as a bundle, and
//! reported in the same shape with the same exit codes (0 verified, 1 refused, naming the
//! file).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use genesis_trust::{TreeReport, TrustError, TrustPolicy, UnverifiedTree};

use crate::progress;
use crate::verify::{self, VerifyArgs};

/// Arguments of `verify`: a bundle, or with `--dir` a folder `extract` wrote, which then
/// takes the bundle's place.
#[derive(Debug, Clone, clap::Args)]
#[command(mut_arg("bundle", |a| a.required(false).required_unless_present("dir")))]
pub struct VerifyCommandArgs {
    /// Verify a folder `extract` wrote instead of a bundle: the bom.json and signature it
    /// holds against the trust, then every file against that BOM (size and SHA-256), none
    /// missing and none added. Links, FIFOs and devices in it are refused, never followed.
    #[arg(long, value_name = "DIR", conflicts_with = "bundle")]
    pub dir: Option<PathBuf>,
    /// Trust, output and limits, as for a bundle.
    #[command(flatten)]
    pub verify: VerifyArgs,
}

/// Runs `verify`: of the folder `--dir` names, else of the bundle ([`verify::run`]).
pub fn run(args: &VerifyCommandArgs) -> anyhow::Result<u8> {
    match &args.dir {
        Some(dir) => run_tree(&args.verify, dir),
        None => verify::run(&args.verify, None),
    }
}

/// Verifies the tree at `dir` and renders the outcome as [`verify::run`] renders a bundle's:
/// a verification failure is reported (text on stderr, or JSON on stdout) and gives exit
/// code 1; input errors (no trust, an unreadable folder) propagate.
fn run_tree(args: &VerifyArgs, dir: &Path) -> anyhow::Result<u8> {
    let trust = verify::trust(args).with_context(|| format!("cannot verify {}", dir.display()))?;
    let verified = check(args, &trust.policy, dir);
    let subject = verify::Subject { field: "dir", path: dir };
    verify::report_outcome(args, &subject, trust.source.as_ref(), verified, render_text, None)
}

/// Opens the tree, verifies its head with `policy`, then checks every file with a progress
/// bar.
fn check(args: &VerifyArgs, policy: &TrustPolicy, dir: &Path) -> Result<TreeReport, TrustError> {
    let tree = UnverifiedTree::open(dir, &args.limits.limits())?.verify(policy)?;
    let _bar = progress::show(tree.progress(), "verifying", args.quiet);
    tree.check()
}

/// The report as lines in the style of [`verify::render_text`], whose head lines it shares.
pub fn render_text(r: &TreeReport) -> String {
    let mut out = verify::head_lines(&r.head, r.expires.as_deref(), r.scan.as_ref(), "tree");
    let mut line = |s: String| {
        out.push_str(&s);
        out.push('\n');
    };
    line(format!(
        "✓ {} files match the BOM ({} bytes: {} images, {} charts, {} manifests), none missing, none added",
        r.files, r.payload_bytes, r.images, r.charts, r.manifests
    ));
    line(format!("✓ {} holds the signed payload and head, and nothing else", r.dir.display()));
    line(format!("{} {}: verified", r.head.name, r.head.version));
    out
}

#[cfg(test)]
mod tests {
    use clap::error::ErrorKind;
    use clap::{Args as _, Command, FromArgMatches as _};

    use super::*;
    use crate::verify::ExtractArgs;

    fn parse(args: &[&str]) -> Result<VerifyCommandArgs, clap::Error> {
        let matches = VerifyCommandArgs::augment_args(Command::new("verify")).try_get_matches_from(args)?;
        VerifyCommandArgs::from_arg_matches(&matches)
    }

    /// `verify` takes a bundle or `--dir`, one of them and not both; the other commands that
    /// share its arguments still require their bundle.
    #[test]
    fn verify_takes_a_bundle_or_a_dir_and_extract_still_requires_its_bundle() {
        VerifyCommandArgs::augment_args(Command::new("verify")).debug_assert();
        let tree = parse(&["verify", "--dir", "out", "--key", "k.pub"]).unwrap();
        assert_eq!((tree.dir.as_deref(), tree.verify.bundle.as_deref()), (Some(Path::new("out")), None));
        let bundle = parse(&["verify", "demo.tar.zst", "--key", "k.pub"]).unwrap();
        assert_eq!((bundle.dir.as_deref(), bundle.verify.bundle()), (None, Path::new("demo.tar.zst")));
        assert_eq!(parse(&["verify", "--key", "k.pub"]).unwrap_err().kind(), ErrorKind::MissingRequiredArgument);
        let both = parse(&["verify", "demo.tar.zst", "--dir", "out"]).unwrap_err();
        assert_eq!(both.kind(), ErrorKind::ArgumentConflict);

        let extract = ExtractArgs::augment_args(Command::new("extract"));
        let no_bundle = extract.try_get_matches_from(["extract", "--output-dir", "out", "--key", "k.pub"]).unwrap_err();
        assert_eq!(no_bundle.kind(), ErrorKind::MissingRequiredArgument);
    }
}
