//! `resign`: a built bundle moved to another key without rebuilding it (decision 0036), for a
//! key rotated or retired, verified in full first with the trust it has now. Signed here with
//! `--key`, or in two phases like a build: `--prepare` writes what the pipeline signs, then
//! `--public-key` with the pipeline's signatures (a key's: there are no keyless flags yet).

use std::path::{Path, PathBuf};

use anyhow::Context as _;
use genesis_build::{ExternalSignatures, PipelineSigner, ResignOptions, ResignOutput};
use genesis_bundle::ProgressCounter;
use genesis_cli_support::verify::{KeylessArgs, VerifyArgs};
use genesis_cli_support::{LimitArgs, OutputFormat, exit, outln, print_json, progress};
use genesis_trust::{PrivateKey, PublicKey, TrustPolicy, UnverifiedBundle};

use crate::create::{Signer, lossy, next_commands, print_prepared, print_sidecars};

/// Arguments of `resign`.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("signer").required(true).args(["key", "public_key", "prepare"])))]
pub(crate) struct ResignArgs {
    /// The bundle to re-sign. It is verified in full first (its signature, provenance and
    /// policy, every payload file, its sidecars) and left as it is.
    bundle: PathBuf,
    /// Where the re-signed bundle goes: a folder, where it keeps its file name (one that
    /// exists, or a path ending in `/`, made if missing), or a file; never the bundle itself.
    /// With --prepare, the folder for the files to sign.
    #[arg(short = 'o', long = "out", value_name = "DIR|FILE")]
    out: PathBuf,
    /// The new signing key: PKCS#8 PEM, or a cosign encrypted key (password from
    /// GENESIS_KEY_PASSWORD or a prompt).
    #[arg(long, value_name = "KEY", conflicts_with_all = ["public_key", "bom_signature", "provenance_signature", "prepare"])]
    key: Option<PathBuf>,
    /// The new public key (SPKI PEM) the pipeline's signatures verify with, instead of --key:
    /// they sign what `resign --prepare` wrote.
    #[arg(long, value_name = "PUB", requires_all = ["bom_signature", "provenance_signature"], conflicts_with = "prepare")]
    public_key: Option<PathBuf>,
    /// The pipeline's signature over bom.json, as `create` takes it.
    #[arg(long, value_name = "FILE", requires = "public_key")]
    bom_signature: Option<PathBuf>,
    /// The pipeline's signature over provenance.pae, as `create` takes it.
    #[arg(long, value_name = "FILE", requires = "public_key")]
    provenance_signature: Option<PathBuf>,
    /// Verify the bundle, then write what a pipeline signs to re-sign it into the --out
    /// folder (bom.json, provenance.pae, provenance.intoto.json, as `prepare` writes them for
    /// a build: re-signing changes neither), and no archive.
    #[arg(long)]
    prepare: bool,
    /// A public key the bundle is signed with now (SPKI PEM); repeat to trust several.
    /// Without it and --policy, the installed policy is used, as `genesis verify` does.
    #[arg(long = "key-for-verify", value_name = "PUB", conflicts_with = "policy")]
    verify_keys: Vec<PathBuf>,
    /// The trust policy file the bundle must satisfy now (keys, bundleIdentities, names, versions).
    #[arg(long, value_name = "FILE")]
    policy: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
    /// No progress bars.
    #[arg(long, short)]
    quiet: bool,
    /// Limits on the archive.
    #[command(flatten)]
    limits: LimitArgs,
}

/// Runs `resign`: reads the new key or signatures and the trust first (a wrong password or
/// file fails before the bundle is read), then verifies and re-signs, or with `--prepare`
/// verifies and writes what the pipeline signs.
pub(crate) fn resign(args: ResignArgs) -> anyhow::Result<u8> {
    let ResignArgs {
        bundle,
        out,
        key,
        public_key,
        bom_signature,
        provenance_signature,
        prepare,
        verify_keys,
        policy,
        output,
        quiet,
        limits,
    } = args;
    // clap allows only these shapes; the last arm says what it allows, should it change.
    let signer = match (key, public_key, bom_signature, provenance_signature) {
        (None, None, None, None) if prepare => None,
        (Some(key), None, None, None) => Some(Signer::Key(PrivateKey::from_pem_file_with_password(
            &key,
            &genesis_cli_support::password::for_reading,
        )?)),
        (None, Some(public_key), Some(bom), Some(provenance)) => Some(Signer::External(ExternalSignatures {
            signer: PipelineSigner::Key(PublicKey::from_pem_file(&public_key)?),
            bom: genesis_build::read_signature(&bom)?,
            provenance: genesis_build::read_provenance_signature(&provenance)?,
        })),
        _ => anyhow::bail!(
            "resign signs with --key KEY, or carries a pipeline's signatures with --public-key PUB \
             --bom-signature FILE --provenance-signature FILE, or prepares them with --prepare: give one of these"
        ),
    };
    // The trust of `genesis verify`: the keys given, or a policy (its source on stderr).
    let verify = VerifyArgs {
        bundle: Some(bundle.clone()),
        keys: verify_keys,
        keyless: KeylessArgs::default(),
        policy,
        output,
        quiet,
        limits,
        bucket: Default::default(),
    };
    let trust = genesis_cli_support::verify::trust(&verify)?;
    let limits = verify.limits.limits();
    let unverified = UnverifiedBundle::open(&bundle, &limits)?;
    let options = ResignOptions { output: out, limits, progress: ProgressCounter::default() };
    let Some(signer) = signer else { return prepare_files(unverified, &trust.policy, &options, &verify) };
    let done = {
        let bars =
            vec![("verifying".to_owned(), unverified.progress()), ("writing".to_owned(), options.progress.clone())];
        let _bars = progress::show_many(bars, quiet);
        match &signer {
            Signer::Key(key) => genesis_build::resign(unverified, &trust.policy, key, &options)?,
            Signer::External(signatures) => {
                genesis_build::resign_external(unverified, &trust.policy, signatures, &options)?
            }
        }
    };
    match output {
        OutputFormat::Json => print_json(&done)?,
        OutputFormat::Text => render(&done, &signer)?,
    }
    Ok(exit::OK)
}

fn render(done: &ResignOutput, signer: &Signer) -> anyhow::Result<()> {
    let written = &done.written;
    outln!("✓ re-signed {} as {} ({} bytes)", done.source.display(), written.archive.display(), written.size)?;
    outln!("  sha256 {}", written.sha256)?;
    outln!("  bom    {} (unchanged) signed by {}", written.bom_sha256, signer.signed_by())?;
    outln!(
        "  frames {} of {} copied byte for byte ({} bytes); verified in {:.1} s, written in {:.1} s",
        done.frames_copied,
        done.frames,
        done.bytes_copied,
        done.verify_seconds,
        done.write_seconds
    )?;
    print_sidecars(written)?;
    if let Some(folder) = &done.countersignatures {
        outln!("  carried {} (countersignatures over the unchanged BOM)", folder.display())?;
    }
    Ok(())
}

/// What `resign --prepare --output json` prints.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct PrepareReport<'a> {
    /// The bundle verified, which the files re-sign.
    bundle: &'a Path,
    /// Where each file went.
    #[serde(flatten)]
    files: &'a genesis_build::PreparedFiles,
    /// SHA-256 of the BOM, unchanged by re-signing.
    bom_sha256: genesis_types::Digest,
    /// The commands a pipeline runs next.
    next: &'a [String],
}

/// `resign --prepare`: verifies the bundle in full, writes what the pipeline signs into the
/// `--out` folder, and prints the commands that follow.
fn prepare_files(
    unverified: UnverifiedBundle,
    policy: &TrustPolicy,
    options: &ResignOptions,
    verify: &VerifyArgs,
) -> anyhow::Result<u8> {
    let bundle = verify.bundle();
    // Made before the verification: a folder that cannot be is known without it.
    std::fs::create_dir_all(&options.output)
        .with_context(|| format!("cannot create the folder for the files to sign, {}", options.output.display()))?;
    let prepared = {
        let _bar = progress::show(unverified.progress(), "verifying", verify.quiet);
        genesis_build::prepare_resign(unverified, policy, &options.limits)?
    };
    let files = prepared.write_to(&options.output)?;
    // The `resign` that follows, with this one's trust flags; its output is the pipeline's
    // to choose.
    let mut resign = vec!["bundle-builder".to_owned(), "resign".to_owned(), lossy(bundle)];
    resign.extend(["-o".to_owned(), "OUT".to_owned()]);
    for key in &verify.keys {
        resign.extend(["--key-for-verify".to_owned(), lossy(key)]);
    }
    if let Some(policy) = &verify.policy {
        resign.extend(["--policy".to_owned(), lossy(policy)]);
    }
    // Named after the archive, also when a split bundle was given by its manifest or a part.
    let location = genesis_bundle::BundleLocation::of(bundle);
    let archive = Path::new("OUT").join(location.archive().file_name().unwrap_or_default());
    let next = next_commands(resign, &files, &archive);
    let report =
        PrepareReport { bundle, files: &files, bom_sha256: genesis_bundle::sha256(&prepared.bom), next: &next };
    match verify.output {
        OutputFormat::Json => print_json(&report)?,
        OutputFormat::Text => {
            outln!("✓ verified {}; prepared its re-signing (no archive written)", bundle.display())?;
            print_prepared(&files, &format!("{}, unchanged", report.bom_sha256), &next)?;
        }
    }
    Ok(exit::OK)
}
