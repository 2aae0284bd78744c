//! `create` and `prepare`: a bundle built and signed here with a key, or in two phases with
//! the signing done in between by the release pipeline's own tool (decision 0033). Both
//! take the same build flags ([`BuildArgs`]), so the `create` after a `prepare` builds the
//! bytes that were signed.

use std::borrow::Cow;
use std::collections::BTreeMap;
use std::path::{Path, PathBuf};

use anyhow::Context as _;
use genesis_build::{BuildOptions, BundleSpec, Expiry, ExternalSignatures, PipelineSigner, PreparedFiles};
use genesis_cli_support::registry::RegistryArgs;
use genesis_cli_support::verify::KeylessArgs;
use genesis_cli_support::{OutputFormat, exit, outln, print_json};
use genesis_trust::{PrivateKey, PublicKey};

/// The spec and the flags of a build, shared by `prepare` and `create`: everything but where
/// the archive goes and how it is signed. Each that changes the BOM or the provenance
/// (`--policy`, `--expires`, `--scan-db`, `--scan-policy`, `--skip-package-sboms`, `--base`)
/// must be the same for a `prepare` and the `create` after it, as must SOURCE_DATE_EPOCH.
#[derive(Debug, clap::Args)]
pub(crate) struct BuildArgs {
    /// The bundle spec (YAML). Relative paths in it are relative to its folder.
    #[arg(short = 'f', long = "file", value_name = "SPEC")]
    spec: PathBuf,
    /// Cache of pulled blobs (default $XDG_CACHE_HOME/genesis or ~/.cache/genesis).
    #[arg(long, value_name = "DIR")]
    cache_dir: Option<PathBuf>,
    /// How to reach the registries images are pulled from.
    #[command(flatten)]
    registry: RegistryArgs,
    /// A trust policy file whose keys and keyless identities (with its trustedRoot) must
    /// have signed each source image (cosign, in its registry) before it is pulled; a
    /// missing or untrusted signature stops the build.
    #[arg(long, value_name = "POLICY")]
    policy: Option<PathBuf>,
    /// Expire the bundle: an RFC 3339 date (2027-01-01T00:00:00Z) or a duration after its
    /// created time, which SOURCE_DATE_EPOCH sets (90d, 12h, 2w). Written into the signed BOM;
    /// verifiers refuse the bundle from then on, and it is re-signed or rebuilt to deliver it.
    #[arg(long, value_name = "DATE|DURATION")]
    expires: Option<genesis_build::Expiry>,
    /// Run the vulnerability gate before signing: match every package inventoried in the
    /// images against this OSV database (an `all.zip` export or a folder of records;
    /// repeatable), record the verdict in the signed BOM, and write nothing when it fails.
    #[arg(long = "scan-db", value_name = "DIR|ZIP")]
    scan_db: Vec<PathBuf>,
    /// The gate's policy: `failOn` (default high), `maxDbAge` (default 7d), `vex` (OpenVEX
    /// exception documents, relative to the file). Needs --scan-db.
    #[arg(long, value_name = "FILE", requires = "scan_db")]
    scan_policy: Option<PathBuf>,
    /// Skip the package inventory of the images, and their package SBOMs
    /// (sbom/images/*.packages.cdx.json), as Zarf's `package create --skip-sbom` does; the
    /// bundle's SBOM of images, charts and manifests is still written. `genesis scan` fails
    /// such a bundle, having no packages to judge; refused with --scan-db.
    #[arg(long)]
    skip_package_sboms: bool,
    /// Build a delta against PREVIOUS, an earlier bundle of the same vendor (its archive, or a
    /// split one's parts manifest or a part): every layer and config PREVIOUS carries is left
    /// out, and the signed BOM lists each as required at the destination, with PREVIOUS's name,
    /// version and BOM digest (image manifests and indexes always stay). PREVIOUS is verified
    /// first as a loader verifies it, against the key (or keyless identity) this build signs
    /// with: a base signed by anyone else is refused. `bundle-loader load` then checks that the
    /// registry holds every blob left out before it pushes anything; `serve` and `export`
    /// refuse a delta. (`prepare` reads PREVIOUS's BOM without a signer to check it against;
    /// the `create` with the pipeline's signatures checks it.)
    #[arg(long, value_name = "PREVIOUS")]
    base: Option<PathBuf>,
}

impl BuildArgs {
    /// These flags as shell words, for the `create` that `prepare` prints: each that changes
    /// what is built, or where and how it is pulled from. Not the spec (the caller names it),
    /// nor retries, nor credentials: a pipeline gives both commands those from its environment
    /// or a Docker config, and a command line in its log is no place for a password.
    fn flags(&self) -> Vec<String> {
        let BuildArgs { spec: _, cache_dir, registry, policy, expires, scan_db, scan_policy, skip_package_sboms, base } =
            self;
        let mut words = Vec::new();
        let mut path = |flag: &str, value: &Path| words.extend([flag.to_owned(), lossy(value)]);
        if let Some(dir) = cache_dir {
            path("--cache-dir", dir);
        }
        if let Some(ca) = &registry.ca_file {
            path("--ca-file", ca);
        }
        if let Some(file) = &registry.authfile {
            path("--authfile", file);
        }
        if let Some(file) = policy {
            path("--policy", file);
        }
        for db in scan_db {
            path("--scan-db", db);
        }
        if let Some(file) = scan_policy {
            path("--scan-policy", file);
        }
        if registry.plain_http {
            words.push("--plain-http".to_owned());
        }
        if let Some(expiry) = expires {
            words.extend(["--expires".to_owned(), expiry_text(*expiry)]);
        }
        if *skip_package_sboms {
            words.push("--skip-package-sboms".to_owned());
        }
        if let Some(base) = base {
            words.extend(["--base".to_owned(), lossy(base)]);
        }
        words
    }

    /// Loads the spec, announces the endpoints it contacts, and turns the flags into the
    /// library's options, with `create`'s own `output_dir` and `report`. Options that
    /// contradict each other are refused here, before a key's password is asked for or
    /// anything is pulled.
    fn load(self, output_dir: Option<PathBuf>, report: bool) -> anyhow::Result<(BundleSpec, BuildOptions)> {
        let BuildArgs { spec, cache_dir, registry, policy, expires, scan_db, scan_policy, skip_package_sboms, base } =
            self;
        let spec = BundleSpec::load(&spec)?;
        let signers = policy.as_deref().map(genesis_trust::policy_file::load_signers).transpose()?;
        let hosts = genesis_build::hosts(&spec);
        let endpoints: Vec<String> = hosts.iter().map(|h| registry.endpoint(h)).collect();
        genesis_cli_support::announce_endpoints("bundle-builder", &endpoints);
        let registries: BTreeMap<String, _> =
            hosts.iter().map(|h| Ok((h.clone(), registry.options(h)?))).collect::<anyhow::Result<_>>()?;
        let options = BuildOptions {
            source_date_epoch: source_date_epoch()?,
            output_dir,
            cache_dir,
            signers,
            registries,
            report,
            expires,
            scan: (!scan_db.is_empty())
                .then_some(genesis_build::ScanOptions { databases: scan_db, policy: scan_policy }),
            skip_package_sboms,
            base,
            ..Default::default()
        };
        options.validate()?;
        Ok((spec, options))
    }
}

/// Arguments of `create`: signed here with `--key`, or carrying the signatures a pipeline
/// made over what `prepare` wrote (`--bom-signature` and `--provenance-signature`, with
/// `--public-key` or, signed keyless, cosign's identity flags). Exactly one of the ways.
#[derive(Debug, clap::Args)]
#[command(group(clap::ArgGroup::new("signer").required(true).args(
    ["key", "public_key", "certificate_identity", "certificate_identity_regexp"]
)))]
#[command(group(genesis_cli_support::verify::root_needs_identity()))]
pub(crate) struct CreateArgs {
    /// The spec and the build flags `prepare` takes too.
    #[command(flatten)]
    build: BuildArgs,
    /// The signing key: PKCS#8 PEM, or a cosign encrypted key (password from
    /// GENESIS_KEY_PASSWORD or a prompt). Without it, give the pipeline's signatures:
    /// --public-key, --bom-signature and --provenance-signature.
    #[arg(long, value_name = "KEY", conflicts_with_all = ["public_key", "bom_signature", "provenance_signature"])]
    key: Option<PathBuf>,
    /// The vendor's public key (SPKI PEM, as cosign.pub) the pipeline's signatures verify
    /// with, instead of --key: the builder then holds no private key.
    #[arg(long, value_name = "PUB", requires_all = ["bom_signature", "provenance_signature"])]
    public_key: Option<PathBuf>,
    /// The identity a keyless pipeline signs as, instead of --public-key (with
    /// --certificate-oidc-issuer and --trusted-root): its sigstore bundles are checked as a
    /// verifier checks them and carried whole (bom.sigstore.json, provenance/bundle.sigstore.json).
    #[command(flatten)]
    keyless: KeylessArgs,
    /// The pipeline's signature over the bom.json `prepare` wrote: what `cosign sign-blob`
    /// writes with --output-signature (base64) or --bundle (a sigstore bundle, key-signed or
    /// keyless).
    #[arg(long, value_name = "FILE")]
    bom_signature: Option<PathBuf>,
    /// The pipeline's signature over the provenance: with a key, over the provenance.pae
    /// `prepare` wrote, in the same forms; keyless, `cosign attest-blob --statement
    /// provenance.intoto.json --bundle FILE` (a DSSE sigstore bundle of the statement).
    #[arg(long, value_name = "FILE")]
    provenance_signature: Option<PathBuf>,
    /// Write here instead of spec.output.dir.
    #[arg(long, value_name = "DIR")]
    output_dir: Option<PathBuf>,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
    /// No progress bar.
    #[arg(long, short)]
    quiet: bool,
    /// Also write the release evidence report, NAME-VERSION.tar.zst.report.pdf, made from the
    /// bundle verified afresh with the key's public half, and list it in the .sha256 (so
    /// `sha256sum -c` checks it too). Same bundle and SOURCE_DATE_EPOCH, same report bytes.
    /// With --key only: with a pipeline's signatures, the pipeline signs the archive after
    /// the build, and `genesis report ARCHIVE --key PUB` writes the report then.
    #[arg(long)]
    report: bool,
    /// Deliver the bundle as parts of at most SIZE bytes, for media or guards with a file
    /// size limit: bytes, or a whole number with a unit (700MB, 4700MB, 100MiB, 4095MiB; at
    /// least 1MiB). After the archive is written and signed, it is cut between zstd frames
    /// into NAME.tar.zst.part-000 … with the parts manifest NAME.tar.zst.parts.json, signed
    /// with --key (NAME.tar.zst.parts.json.sig and .cosign.bundle); then the single archive
    /// and its .sha256, .sig and .cosign.bundle are removed: only the parts, the manifest and
    /// its signatures are left. Every reader takes the manifest (or a part) in place of the
    /// archive; `genesis join` makes the one file again. With a pipeline's signatures, the
    /// pipeline signs the manifest (`cosign sign-blob`), as it would have signed the archive.
    #[arg(long, value_name = "SIZE", value_parser = genesis_cli_support::split::parse_size, conflicts_with = "report")]
    max_part_size: Option<u64>,
}

/// Arguments of `prepare`.
#[derive(Debug, clap::Args)]
pub(crate) struct PrepareArgs {
    /// The spec and the build flags `create` takes too.
    #[command(flatten)]
    build: BuildArgs,
    /// Folder for bom.json, provenance.pae and provenance.intoto.json (created if missing).
    #[arg(short = 'o', long = "output-dir", value_name = "DIR")]
    output_dir: PathBuf,
    /// Report format.
    #[arg(long, value_enum, default_value_t)]
    output: OutputFormat,
}

/// How `create` and `resign` sign, once their flags are read.
pub(crate) enum Signer {
    /// With a key the builder holds.
    Key(PrivateKey),
    /// With the pipeline's signatures, checked before anything is written.
    External(ExternalSignatures),
}

impl Signer {
    /// Who the new BOM signature is from, as the `bom … signed by` line of a report says it.
    pub(crate) fn signed_by(&self) -> String {
        match self {
            Signer::Key(key) => key.public_key().fingerprint().to_string(),
            Signer::External(ExternalSignatures { signer: PipelineSigner::Key(key), .. }) => {
                format!("{} (the pipeline's signatures, verified)", key.fingerprint())
            }
            Signer::External(ExternalSignatures { signer: PipelineSigner::Keyless(keyless), .. }) => {
                let identities = keyless.identities.iter().map(ToString::to_string);
                format!("{} (the pipeline's keyless signatures, verified)", identities.collect::<Vec<_>>().join(", "))
            }
        }
    }
}

/// The sidecars a build or a re-signing wrote, or, for a pipeline that signs the archive
/// itself, the command that makes them.
pub(crate) fn print_sidecars(out: &genesis_build::BuildOutput) -> std::io::Result<()> {
    match (&out.signature_file, &out.cosign_bundle_file) {
        (Some(signature), Some(cosign_bundle)) => {
            outln!("  wrote  {}, {} and {}", out.sha256_file.display(), signature.display(), cosign_bundle.display())
        }
        _ => {
            outln!("  wrote  {}", out.sha256_file.display())?;
            outln!("  sign the archive yourself: {}", sign_archive_command(&out.archive))
        }
    }
}

/// The archive's own signatures, for a pipeline that signed the BOM and provenance itself:
/// cosign 3 writes the sigstore bundle the verifier reads beside the archive (cosign 2 with
/// `--new-bundle-format`; its `--output-signature` writes the `.sig`).
fn sign_archive_command(archive: &Path) -> String {
    let bundle = genesis_trust::cosign_bundle_path(archive);
    command_line(&["cosign", "sign-blob", "--key", "KEY", "--bundle", lossy(&bundle).as_str(), lossy(archive).as_str()])
}

/// Runs `create`: reads the key or the pipeline's signatures once the options are known good,
/// builds, and reports what was written (and, for a pipeline, the archive signature to make).
pub(crate) fn create(args: CreateArgs) -> anyhow::Result<u8> {
    let CreateArgs {
        build,
        key,
        public_key,
        keyless,
        bom_signature,
        provenance_signature,
        output_dir,
        output,
        quiet,
        report,
        max_part_size,
    } = args;
    if let Some(size) = max_part_size
        && size < genesis_bundle::MIN_PART_SIZE
    {
        // Refused before anything is pulled or built, as the split would refuse it after.
        anyhow::bail!(
            "--max-part-size {size} is below the smallest part, {} bytes (1MiB): a bundle in parts that small is \
             thousands of files",
            genesis_bundle::MIN_PART_SIZE
        );
    }
    let (spec, options) = build.load(output_dir, report)?;
    let pipeline_signer = match (public_key, keyless.keyless()?) {
        (Some(public_key), None) => Some(PipelineSigner::Key(PublicKey::from_pem_file(&public_key)?)),
        (None, Some(keyless)) => Some(PipelineSigner::Keyless(keyless)),
        _ => None,
    };
    // clap allows only these shapes; the last arm says what it allows, should it change.
    let signer = match (key, pipeline_signer, bom_signature, provenance_signature) {
        (Some(key), None, None, None) => {
            Signer::Key(PrivateKey::from_pem_file_with_password(&key, &genesis_cli_support::password::for_reading)?)
        }
        (None, Some(signer), Some(bom), Some(provenance)) => Signer::External(ExternalSignatures {
            signer,
            bom: genesis_build::read_signature(&bom)?,
            provenance: genesis_build::read_provenance_signature(&provenance)?,
        }),
        _ => anyhow::bail!(
            "create signs with --key KEY, or carries a pipeline's signatures with --bom-signature FILE \
             --provenance-signature FILE and either --public-key PUB or, signed keyless, --certificate-identity ID \
             --certificate-oidc-issuer ISS --trusted-root ROOT: give one of these"
        ),
    };
    let out = {
        let _bar = genesis_cli_support::progress::show(options.progress.clone(), "packing", quiet);
        match &signer {
            Signer::Key(key) => genesis_build::build(&spec, key, &options)?,
            Signer::External(signatures) => genesis_build::build_external(&spec, signatures, &options)?,
        }
    };
    let base_given = options.base.is_some();
    if let Some(size) = max_part_size {
        let parts = deliver_as_parts(&out, size, &signer)?;
        match output {
            OutputFormat::Json => print_json(&CreatedParts { build: &out, split: &parts })?,
            OutputFormat::Text => {
                print_parts(&out, &parts, &signer)?;
                print_delta(&out, base_given)?;
            }
        }
        return Ok(exit::OK);
    }
    match output {
        OutputFormat::Json => print_json(&out)?,
        OutputFormat::Text => {
            outln!("✓ built {} ({} bytes, {} files)", out.archive.display(), out.size, out.files)?;
            outln!("  sha256 {}", out.sha256)?;
            outln!("  bom    {} signed by {}", out.bom_sha256, signer.signed_by())?;
            if let Some(expires) = &out.expires {
                outln!("  expires {expires}")?;
            }
            print_delta(&out, base_given)?;
            print_sidecars(&out)?;
            if let Some(report) = &out.report_file {
                outln!("  report {} (listed in {})", report.display(), out.sha256_file.display())?;
            }
        }
    }
    Ok(exit::OK)
}

/// The line of a delta (decision 0043): the base it needs and what it leaves out; or, when
/// `--base` was given and the base shares no layer or config with the build, that the bundle
/// is a full one.
fn print_delta(out: &genesis_build::BuildOutput, base_given: bool) -> std::io::Result<()> {
    match &out.requires {
        Some(requires) => outln!(
            "{}",
            genesis_bundle::escape_controls(&format!(
                "  delta  needs {} loaded first: {} blobs ({} bytes) left out",
                requires.base, requires.blobs, requires.bytes
            ))
        ),
        None if base_given => {
            outln!("  delta  none: the base carries no layer or config of this bundle, so it is full")
        }
        None => Ok(()),
    }
}

/// What `create --max-part-size` left in place of the archive (decision 0042).
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct DeliveredParts {
    /// The parts manifest.
    manifest: PathBuf,
    /// Each part: its name, size and SHA-256.
    parts: Vec<genesis_bundle::PartEntry>,
    /// The largest part allowed.
    part_size: u64,
    /// Parts that start or end inside a zstd frame, a frame being larger than a part.
    cut_inside_frames: usize,
    /// The manifest's `.sig` and `.cosign.bundle`, signed with --key; none with a pipeline's
    /// signatures, where the pipeline signs the manifest.
    signature_files: Vec<PathBuf>,
    /// The archive and its sidecars, removed: the parts are delivered in their place.
    removed: Vec<PathBuf>,
    /// The line that reports parts cut inside a frame, if any.
    #[serde(skip)]
    frames_note: Option<String>,
    /// The lines of the parts and the manifest.
    #[serde(skip)]
    lines: Vec<String>,
}

/// What `create --max-part-size --output json` prints: the build, whose archive and archive
/// sidecars are gone (listed in `split.removed`), and the parts delivered instead.
#[derive(serde::Serialize)]
struct CreatedParts<'a> {
    #[serde(flatten)]
    build: &'a genesis_build::BuildOutput,
    split: &'a DeliveredParts,
}

/// Cuts the archive `out` wrote into parts of at most `size` bytes beside it (after removing
/// an earlier split of the same name there), signs the parts manifest with the key that signed
/// the archive, and removes the archive and its sidecars: the parts are what is delivered.
fn deliver_as_parts(out: &genesis_build::BuildOutput, size: u64, signer: &Signer) -> anyhow::Result<DeliveredParts> {
    let archive = &out.archive;
    let dir = archive.parent().filter(|d| !d.as_os_str().is_empty()).unwrap_or(Path::new("."));
    let name = archive
        .file_name()
        .and_then(|n| n.to_str())
        .with_context(|| format!("{} has no file name in UTF-8", archive.display()))?;
    genesis_cli_support::split::remove_earlier_split(dir, name)
        .with_context(|| format!("cannot remove an earlier split of {name} from {}", dir.display()))?;
    let limits = genesis_bundle::Limits::default();
    let compression = genesis_bundle::ArchiveReader::open_head(archive, &limits)?.compression();
    let split = genesis_bundle::split_archive(archive, dir, size, &limits)
        .with_context(|| format!("cannot split {}", archive.display()))?;
    let signature_files = match signer {
        Signer::Key(key) => {
            let (sig, cosign_bundle) = genesis_cli_support::split::sign_manifest(key, &split)
                .with_context(|| format!("cannot sign {}", split.manifest_path.display()))?;
            vec![sig, cosign_bundle]
        }
        // The pipeline signs the manifest, as it would have signed the archive.
        Signer::External(_) => Vec::new(),
    };
    let mut removed = Vec::new();
    let sidecars = [Some(&out.sha256_file), out.signature_file.as_ref(), out.cosign_bundle_file.as_ref()];
    for path in std::iter::once(archive).chain(sidecars.into_iter().flatten()) {
        match std::fs::remove_file(path) {
            Ok(()) => removed.push(path.clone()),
            Err(e) if e.kind() == std::io::ErrorKind::NotFound => {}
            Err(e) => return Err(e).with_context(|| format!("cannot remove {} after splitting it", path.display())),
        }
    }
    Ok(DeliveredParts {
        frames_note: genesis_cli_support::split::frames_note(&split, compression),
        lines: genesis_cli_support::split::part_lines(&split),
        manifest: split.manifest_path,
        parts: split.manifest.parts,
        part_size: size,
        cut_inside_frames: split.cut_inside_frames,
        signature_files,
        removed,
    })
}

/// `create --max-part-size` in text: the build, the parts, how the manifest is signed (or
/// the command that signs it), and what was removed.
fn print_parts(out: &genesis_build::BuildOutput, parts: &DeliveredParts, signer: &Signer) -> std::io::Result<()> {
    outln!(
        "✓ built {} ({} bytes, {} files) as {} parts of at most {} bytes",
        out.archive.display(),
        out.size,
        out.files,
        parts.parts.len(),
        parts.part_size
    )?;
    outln!("  sha256 {} (of the archive the parts make)", out.sha256)?;
    outln!("  bom    {} signed by {}", out.bom_sha256, signer.signed_by())?;
    if let Some(expires) = &out.expires {
        outln!("  expires {expires}")?;
    }
    for line in &parts.lines {
        outln!("{line}")?;
    }
    if let Some(note) = &parts.frames_note {
        outln!("{note}")?;
    }
    if parts.signature_files.is_empty() {
        let bundle = genesis_trust::cosign_bundle_path(&parts.manifest);
        let (bundle, manifest) = (lossy(&bundle), lossy(&parts.manifest));
        let command =
            command_line(&["cosign", "sign-blob", "--key", "KEY", "--bundle", bundle.as_str(), manifest.as_str()]);
        outln!("  sign the parts manifest yourself: {command}")?;
    } else {
        let files: Vec<String> = parts.signature_files.iter().map(|p| p.display().to_string()).collect();
        outln!("  signed {}", files.join(", "))?;
    }
    outln!(
        "  removed {} and its sidecars: deliver the parts, the manifest and its signatures; `genesis join {}` makes \
         the one file again",
        out.archive.display(),
        parts.manifest.display()
    )
}

/// What `prepare --output json` prints.
#[derive(serde::Serialize)]
#[serde(rename_all = "camelCase")]
struct PrepareReport<'a> {
    /// `bom.json`, to sign for --bom-signature.
    bom: &'a Path,
    /// `provenance.pae`, to sign for --provenance-signature.
    provenance_pae: &'a Path,
    /// `provenance.intoto.json`, the statement the PAE wraps: to read, not to sign.
    provenance_statement: &'a Path,
    /// SHA-256 of the BOM, as the bundle's `bom` line and `genesis verify` will show it.
    bom_sha256: genesis_types::Digest,
    /// Where `create` will write the archive, unless given --output-dir.
    archive: &'a Path,
    /// The commands a pipeline runs next.
    next: &'a [String],
}

/// Runs `prepare`: writes what the pipeline signs, and prints it with the commands that follow.
pub(crate) fn prepare(args: PrepareArgs) -> anyhow::Result<u8> {
    let PrepareArgs { build, output_dir, output } = args;
    // The `create` that follows: SOURCE_DATE_EPOCH when it came from the environment, the
    // spec, and the build flags as given here.
    let mut create = vec!["bundle-builder".to_owned(), "create".to_owned(), "-f".to_owned(), lossy(&build.spec)];
    create.extend(build.flags());
    let (spec, options) = build.load(None, false)?;
    if let Some(epoch) = options.source_date_epoch {
        create.insert(0, format!("SOURCE_DATE_EPOCH={epoch}"));
    }
    let prepared = genesis_build::prepare(&spec, &options)?;
    let files = prepared
        .write_to(&output_dir)
        .with_context(|| format!("cannot write the files to sign into {}", output_dir.display()))?;
    let archive = genesis_build::archive_path(&spec, &options);
    let next = next_commands(create, &files, &archive);
    let report = PrepareReport {
        bom: &files.bom,
        provenance_pae: &files.provenance_pae,
        provenance_statement: &files.provenance_statement,
        bom_sha256: genesis_bundle::sha256(&prepared.bom),
        archive: &archive,
        next: &next,
    };
    match output {
        OutputFormat::Json => print_json(&report)?,
        OutputFormat::Text => {
            outln!("✓ prepared {} {} for signing (no bundle written)", spec.metadata.name, spec.metadata.version)?;
            print_prepared(&files, &report.bom_sha256.to_string(), &next)?;
        }
    }
    Ok(exit::OK)
}

/// The files `prepare` (or `resign --prepare`) wrote for the pipeline to sign, the BOM's
/// `bom_note` beside it, and the commands that follow.
pub(crate) fn print_prepared(files: &PreparedFiles, bom_note: &str, next: &[String]) -> std::io::Result<()> {
    outln!("  bom        {} ({bom_note})", files.bom.display())?;
    outln!("  provenance {} (what its signature covers)", files.provenance_pae.display())?;
    outln!("  statement  {} (the provenance to read, not to sign)", files.provenance_statement.display())?;
    outln!("next, in the pipeline:")?;
    for command in next {
        outln!("  {command}")?;
    }
    Ok(())
}

/// What a pipeline runs after `prepare` (decision 0033): sign the two files, `create` (the
/// words of `create`, with this prepare's flags; or of `resign`, after `resign --prepare`)
/// with the signatures, sign the archive.
/// cosign's `--bundle`, since cosign 3 writes only bundles (cosign 2 needs
/// `--new-bundle-format` for one, or takes `--output-signature FILE`).
pub(crate) fn next_commands(mut create: Vec<String>, files: &PreparedFiles, archive: &Path) -> Vec<String> {
    let (bom, pae) = (lossy(&files.bom), lossy(&files.provenance_pae));
    let (bom_bundle, pae_bundle) = (format!("{bom}.sigstore.json"), format!("{pae}.sigstore.json"));
    let sign =
        |bundle: &str, file: &str| command_line(&["cosign", "sign-blob", "--key", "KEY", "--bundle", bundle, file]);
    create.extend(
        ["--public-key", "PUB", "--bom-signature", bom_bundle.as_str(), "--provenance-signature", pae_bundle.as_str()]
            .map(str::to_owned),
    );
    vec![sign(&bom_bundle, &bom), sign(&pae_bundle, &pae), command_line(&create[..]), sign_archive_command(archive)]
}

/// `--expires` in words that parse back to it: the date, or the duration in its largest
/// whole unit (`90d`, not `7776000s`).
fn expiry_text(expiry: Expiry) -> String {
    match expiry {
        Expiry::At(at) => genesis_bundle::rfc3339(at),
        Expiry::After(seconds) => {
            let (count, unit) = [(7 * 86_400_u64, "w"), (86_400, "d"), (3600, "h"), (60, "m")]
                .into_iter()
                .find(|(size, _)| seconds % size == 0)
                .map_or((seconds, "s"), |(size, unit)| (seconds / size, unit));
            format!("{count}{unit}")
        }
    }
}

/// A path as a word of a printed command.
pub(crate) fn lossy(path: &Path) -> String {
    path.to_string_lossy().into_owned()
}

/// `words` as one POSIX shell command line: each word as it is when the shell reads it back
/// unchanged, else in single quotes.
fn command_line<S: AsRef<str>>(words: &[S]) -> String {
    words.iter().map(|word| shell_quote(word.as_ref())).collect::<Vec<_>>().join(" ")
}

/// `word` as a POSIX shell reads it back.
fn shell_quote(word: &str) -> Cow<'_, str> {
    let plain = |b: u8| b.is_ascii_alphanumeric() || b"-_./:=@%+,".contains(&b);
    if !word.is_empty() && word.bytes().all(plain) {
        Cow::Borrowed(word)
    } else {
        Cow::Owned(format!("'{}'", word.replace('\'', r"'\''")))
    }
}

/// SOURCE_DATE_EPOCH from the environment, which overrides the spec's.
fn source_date_epoch() -> anyhow::Result<Option<u64>> {
    match std::env::var("SOURCE_DATE_EPOCH") {
        Ok(v) => Ok(Some(
            v.trim()
                .parse()
                .with_context(|| format!("SOURCE_DATE_EPOCH={v:?} is not a whole number of seconds since 1970"))?,
        )),
        Err(_) => Ok(None),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn an_expiry_is_echoed_in_words_that_parse_back_to_it() {
        for (given, echoed) in [
            ("90d", "90d"),
            ("2w", "2w"),
            ("14d", "2w"),
            ("36h", "36h"),
            ("90m", "90m"),
            ("3601s", "3601s"),
            ("2027-01-01T00:00:00Z", "2027-01-01T00:00:00Z"),
        ] {
            let expiry: Expiry = given.parse().unwrap();
            assert_eq!(expiry_text(expiry), echoed, "{given}");
            assert_eq!(echoed.parse::<Expiry>().unwrap(), expiry, "{given}");
        }
    }

    #[test]
    fn words_the_shell_would_change_are_quoted() {
        let line = command_line(&["create", "-f", "my spec.yaml", "--policy", "it's.yaml", "--cache-dir", "", "a=b/c"]);
        assert_eq!(line, r"create -f 'my spec.yaml' --policy 'it'\''s.yaml' --cache-dir '' a=b/c");
    }
}
