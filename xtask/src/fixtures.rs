//! `cargo xtask fixtures`: regenerates everything under `fixtures/` from code, so every
//! fixture has a known origin. Keys are generated once and kept (they are test-only keys,
//! committed on purpose); everything else is deterministic and `--check` proves the
//! committed files are what this code writes.

use std::collections::BTreeMap;
use std::fs;
use std::io::Write as _;
use std::path::{Path, PathBuf};

use anyhow::{Context as _, bail};
use flate2::GzBuilder;
use genesis_build::{BuildOptions, BundleSpec};
use genesis_bundle::{
    BLOCK, BOM_PATH, Bom, Content, END_OF_ARCHIVE, ExpectedEntry, FRAME_SIZE, Head, PROVENANCE_PATH, SIGNATURE_PATH,
    SeekableWriter, WriteOptions, dir_header, file_header, padding, sha256,
};
use genesis_trust::{PrivateKey, PublicKey, encode_signature};
use sha2::{Digest as _, Sha256};

/// The fixed timestamp of every fixture (2025-01-01T00:00:00Z).
const EPOCH: u64 = 1_735_689_600;
const ARCHIVE: &str = "demo-0.1.0.tar.zst";

pub fn run(root: &Path, check: bool) -> anyhow::Result<()> {
    let fixtures = root.join("fixtures");
    if !check {
        generate(&fixtures)?;
        println!("fixtures regenerated under {}", fixtures.display());
        return Ok(());
    }
    let tmp = tempfile::tempdir()?;
    let out = tmp.path().join("fixtures");
    copy_dir(&fixtures.join("keys"), &out.join("keys"))?;
    generate(&out)?;
    let mut stale = Vec::new();
    for file in walk(&out)? {
        let rel = file.strip_prefix(&out)?;
        if fs::read(fixtures.join(rel)).ok() != Some(fs::read(&file)?) {
            stale.push(rel.display().to_string());
        }
    }
    if !stale.is_empty() {
        bail!("fixtures are stale (run `cargo xtask fixtures`): {}", stale.join(", "));
    }
    println!("fixtures: up to date");
    Ok(())
}

fn walk(dir: &Path) -> anyhow::Result<Vec<PathBuf>> {
    let mut out = Vec::new();
    for e in fs::read_dir(dir)? {
        let p = e?.path();
        if p.is_dir() {
            out.extend(walk(&p)?);
        } else {
            out.push(p);
        }
    }
    Ok(out)
}

fn copy_dir(from: &Path, to: &Path) -> anyhow::Result<()> {
    fs::create_dir_all(to)?;
    for e in fs::read_dir(from).with_context(|| format!("reading {}", from.display()))? {
        let e = e?;
        fs::copy(e.path(), to.join(e.file_name()))?;
    }
    Ok(())
}

fn write(path: &Path, bytes: &[u8]) -> anyhow::Result<()> {
    fs::create_dir_all(path.parent().expect("has a parent"))?;
    fs::write(path, bytes).with_context(|| format!("writing {}", path.display()))
}

fn generate(dir: &Path) -> anyhow::Result<()> {
    let keys = dir.join("keys");
    for name in ["test", "other"] {
        let key_path = keys.join(format!("{name}.key"));
        if !key_path.exists() {
            let k = PrivateKey::generate();
            write(&key_path, k.to_pem().as_bytes())?;
            write(&keys.join(format!("{name}.pub")), k.public_key().to_pem().as_bytes())?;
        }
    }
    let test_key = PrivateKey::from_pem_file(&keys.join("test.key"))?;
    let other_key = PrivateKey::from_pem_file(&keys.join("other.key"))?;
    write_image_layout(&dir.join("images/app"))?;
    write(&dir.join("charts/web-0.1.0.tgz"), &chart_tgz()?)?;
    for (name, text) in MANIFESTS {
        write(&dir.join("manifests").join(name), text.as_bytes())?;
    }
    write(&dir.join("bundle.yaml"), SPEC.as_bytes())?;

    let good_dir = dir.join("bundles/good");
    let _ = fs::remove_dir_all(&good_dir);
    let spec = BundleSpec::load(&dir.join("bundle.yaml"))?;
    let options = BuildOptions { source_date_epoch: None, output_dir: Some(good_dir.clone()), ..Default::default() };
    let built = genesis_build::build(&spec, &test_key, &options)?;
    write_cases(dir, &built.archive, &test_key, &other_key)
}

// ---------------------------------------------------------------- inputs

const SPEC: &str = "\
# The demo bundle: the README's main job and the golden test build this.
apiVersion: genesis.dev/v1alpha1
kind: Bundle
metadata: { name: demo, version: 0.1.0 }
spec:
  sourceDateEpoch: 1735689600
  images:
    - name: app
      image: \"oci:images/app:1.0\"
      ref: registry.example.com/demo/app:1.0
  charts:    [ { name: web, path: charts/web-0.1.0.tgz } ]
  manifests: [ { path: manifests/ } ]
  output:    { dir: ../dist, compression: zstd, sign: true }
";

/// The demo's manifests. Ports name their `protocol`: Kubernetes 1.20's server-side apply
/// refuses a port list entry without it (its list key), where newer servers default it.
const MANIFESTS: &[(&str, &str)] = &[
    ("namespace.yaml", "apiVersion: v1\nkind: Namespace\nmetadata:\n  name: demo\n"),
    (
        "deployment.yaml",
        "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: app\n  namespace: demo\nspec:\n  replicas: 1\n  selector:\n    matchLabels: { app: demo }\n  template:\n    metadata:\n      labels: { app: demo }\n    spec:\n      containers:\n        - name: app\n          image: registry.example.com/demo/app:1.0\n          ports: [ { containerPort: 8080, protocol: TCP } ]\n",
    ),
    (
        "service.yaml",
        "apiVersion: v1\nkind: Service\nmetadata:\n  name: app\n  namespace: demo\nspec:\n  selector: { app: demo }\n  ports: [ { port: 80, targetPort: 8080, protocol: TCP } ]\n",
    ),
];

/// A tar of (path, content) files with canonical headers.
pub(crate) fn tar_of(files: &[(&str, &[u8])]) -> Vec<u8> {
    let mut out = Vec::new();
    for (path, data) in files {
        if let Some(dir) = path.strip_suffix('/') {
            out.extend_from_slice(&dir_header(&format!("{dir}/"), EPOCH).expect("fixture paths fit a tar header"));
            continue;
        }
        out.extend_from_slice(&file_header(path, data.len() as u64, EPOCH).expect("fixture paths fit a tar header"));
        out.extend_from_slice(data);
        out.extend(std::iter::repeat_n(0u8, padding(data.len() as u64)));
    }
    out.extend_from_slice(&END_OF_ARCHIVE);
    out
}

fn gzip(data: &[u8]) -> anyhow::Result<Vec<u8>> {
    let mut gz = GzBuilder::new().mtime(0).write(Vec::new(), flate2::Compression::new(9));
    gz.write_all(data)?;
    Ok(gz.finish()?)
}

fn chart_tgz() -> anyhow::Result<Vec<u8>> {
    let chart = "apiVersion: v2\nname: web\ndescription: Demo web chart\ntype: application\nversion: 0.1.0\nappVersion: \"1.0\"\n";
    let values = "image:\n  repository: registry.example.com/demo/app\n  tag: \"1.0\"\nreplicas: 1\n";
    let deployment = "apiVersion: apps/v1\nkind: Deployment\nmetadata:\n  name: {{ .Release.Name }}-web\nspec:\n  replicas: {{ .Values.replicas }}\n  selector:\n    matchLabels: { app: web }\n  template:\n    metadata:\n      labels: { app: web }\n    spec:\n      containers:\n        - name: web\n          image: \"{{ .Values.image.repository }}:{{ .Values.image.tag }}\"\n";
    gzip(&tar_of(&[
        ("web/", b""),
        ("web/Chart.yaml", chart.as_bytes()),
        ("web/templates/", b""),
        ("web/templates/deployment.yaml", deployment.as_bytes()),
        ("web/values.yaml", values.as_bytes()),
    ]))
}

fn hex_sha256(b: &[u8]) -> String {
    sha256(b).to_string()
}

/// Writes a blob into a layout and returns its descriptor JSON.
fn put_blob(
    layout: &Path,
    media_type: &str,
    bytes: &[u8],
    extra: serde_json::Value,
) -> anyhow::Result<serde_json::Value> {
    let digest = sha256(bytes);
    write(&layout.join(digest.blob_path()), bytes)?;
    let mut d = serde_json::json!({ "mediaType": media_type, "digest": digest.to_string(), "size": bytes.len() });
    if let serde_json::Value::Object(m) = extra {
        d.as_object_mut().expect("object").extend(m);
    }
    Ok(d)
}

/// The Debian 12 `/etc/os-release` of the fixture image.
const OS_RELEASE: &str = "PRETTY_NAME=\"Debian GNU/Linux 12 (bookworm)\"\nNAME=\"Debian GNU/Linux\"\n\
    VERSION_ID=\"12\"\nVERSION=\"12 (bookworm)\"\nVERSION_CODENAME=bookworm\nID=debian\n";

/// The fixture image's dpkg database: two packages, in the format of a Debian 12 system's
/// `/var/lib/dpkg/status` (fields as dpkg writes them, descriptions shortened), so that the
/// package inventory and the vulnerability gate have something real to read. `libssl3` is
/// built from the `openssl` source package, which is what Debian's OSV records name.
fn dpkg_status(arch: &str) -> String {
    format!(
        "Package: libssl3\nStatus: install ok installed\nPriority: optional\nSection: libs\n\
         Installed-Size: 6149\nMaintainer: Debian OpenSSL Team <pkg-openssl-devel@alioth-lists.debian.net>\n\
         Architecture: {arch}\nMulti-Arch: same\nSource: openssl\nVersion: 3.0.11-1~deb12u2\n\
         Depends: libc6 (>= 2.34)\nDescription: Secure Sockets Layer toolkit - shared libraries\n\n\
         Package: zlib1g\nStatus: install ok installed\nPriority: optional\nSection: libs\n\
         Installed-Size: 168\nMaintainer: Mark Brown <broonie@debian.org>\nArchitecture: {arch}\n\
         Multi-Arch: same\nSource: zlib\nVersion: 1:1.2.13.dfsg-1\nDepends: libc6 (>= 2.14)\n\
         Description: compression library - runtime\n"
    )
}

/// A two-platform OCI image (linux/amd64, linux/arm64) behind one index tagged `1.0`, each
/// platform a Debian 12 root with two packages installed.
fn write_image_layout(layout: &Path) -> anyhow::Result<()> {
    let _ = fs::remove_dir_all(layout);
    let mut children = Vec::new();
    for arch in ["amd64", "arm64"] {
        let hello = format!("hello from linux/{arch}\n");
        let conf = "listen = 8080\n";
        let status = dpkg_status(arch);
        let layer_tar = tar_of(&[
            ("etc/", b""),
            ("etc/app.conf", conf.as_bytes()),
            ("etc/os-release", OS_RELEASE.as_bytes()),
            ("hello.txt", hello.as_bytes()),
            ("var/", b""),
            ("var/lib/", b""),
            ("var/lib/dpkg/", b""),
            ("var/lib/dpkg/status", status.as_bytes()),
        ]);
        let diff_id = hex_sha256(&layer_tar);
        let layer =
            put_blob(layout, "application/vnd.oci.image.layer.v1.tar+gzip", &gzip(&layer_tar)?, serde_json::json!({}))?;
        let config = serde_json::json!({
            "architecture": arch,
            "os": "linux",
            "config": { "Cmd": ["/bin/app"], "WorkingDir": "/" },
            "rootfs": { "type": "layers", "diff_ids": [diff_id] },
            "created": "2025-01-01T00:00:00Z",
            "history": [ { "created": "2025-01-01T00:00:00Z", "created_by": "genesis fixtures" } ],
        });
        let config = put_blob(
            layout,
            "application/vnd.oci.image.config.v1+json",
            &serde_json::to_vec(&config)?,
            serde_json::json!({}),
        )?;
        let manifest = serde_json::json!({
            "schemaVersion": 2,
            "mediaType": "application/vnd.oci.image.manifest.v1+json",
            "config": config,
            "layers": [layer],
        });
        children.push(put_blob(
            layout,
            "application/vnd.oci.image.manifest.v1+json",
            &serde_json::to_vec(&manifest)?,
            serde_json::json!({ "platform": { "architecture": arch, "os": "linux" } }),
        )?);
    }
    let index = serde_json::json!({
        "schemaVersion": 2,
        "mediaType": "application/vnd.oci.image.index.v1+json",
        "manifests": children,
    });
    let top = put_blob(
        layout,
        "application/vnd.oci.image.index.v1+json",
        &serde_json::to_vec(&index)?,
        serde_json::json!({ "annotations": { "org.opencontainers.image.ref.name": "1.0" } }),
    )?;
    let layout_index = serde_json::json!({ "schemaVersion": 2, "manifests": [top] });
    write(&layout.join("index.json"), &serde_json::to_vec(&layout_index)?)?;
    write(&layout.join("oci-layout"), br#"{"imageLayoutVersion":"1.0.0"}"#)?;
    Ok(())
}

// ---------------------------------------------------------------- rejection cases

/// One tar entry of a hand-assembled archive.
#[derive(Clone)]
enum Entry {
    File(Vec<u8>, Vec<u8>),
    Dir(String),
    /// A header with another type flag (link, device) and no data.
    Special(Vec<u8>, u8),
    /// A file header announcing more bytes than follow (the announced size is what a
    /// reader must refuse before reading).
    Announcing(Vec<u8>, u64, Vec<u8>),
}

fn header_with(path: &[u8], size: u64, kind: u8) -> [u8; BLOCK] {
    // Start from a canonical header for a placeholder name, then set the raw name and type.
    let mut h = file_header("x", size, EPOCH).expect("a one-byte path fits a tar header");
    h[..100].fill(0);
    h[..path.len()].copy_from_slice(path);
    h[156] = kind;
    if kind == b'1' || kind == b'2' {
        h[157..168].copy_from_slice(b"/etc/passwd");
    }
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    h[148..155].copy_from_slice(format!("{sum:06o}\0").as_bytes());
    h
}

fn assemble(entries: &[Entry]) -> anyhow::Result<Vec<u8>> {
    let mut tar = Vec::new();
    for e in entries {
        match e {
            Entry::File(path, data) => {
                tar.extend_from_slice(&header_with(path, data.len() as u64, b'0'));
                tar.extend_from_slice(data);
                tar.extend(std::iter::repeat_n(0u8, padding(data.len() as u64)));
            }
            Entry::Dir(d) => tar.extend_from_slice(&dir_header(d, EPOCH)?),
            Entry::Special(path, kind) => tar.extend_from_slice(&header_with(path, 0, *kind)),
            Entry::Announcing(path, size, data) => {
                tar.extend_from_slice(&header_with(path, *size, b'0'));
                tar.extend_from_slice(data);
            }
        }
    }
    tar.extend_from_slice(&END_OF_ARCHIVE);
    let mut w = SeekableWriter::new(Vec::new());
    for chunk in tar.chunks(FRAME_SIZE) {
        w.push_frame(chunk.to_vec())?;
    }
    Ok(w.finish()?.0)
}

fn file(path: &str, data: &[u8]) -> Entry {
    Entry::File(path.as_bytes().to_vec(), data.to_vec())
}

fn flip_last_byte(mut data: Vec<u8>) -> Vec<u8> {
    let last = data.len() - 1;
    data[last] ^= 0x01;
    data
}

/// The entries of the good bundle, read back from the fixture inputs.
fn good_entries(head: &Head, bom: &Bom, dir: &Path) -> anyhow::Result<Vec<Entry>> {
    let mut out = vec![file(BOM_PATH, &head.bom), file(SIGNATURE_PATH, &head.signature)];
    out.extend(head.provenance.as_deref().map(|p| file(PROVENANCE_PATH, p)));
    let payload = payload_contents(bom, dir)?;
    for e in bom.expected_entries() {
        match e {
            ExpectedEntry::Dir(d) => out.push(Entry::Dir(d)),
            ExpectedEntry::File(f) => out.push(file(f.path.as_str(), &payload[f.path.as_str()])),
        }
    }
    Ok(out)
}

/// Reads every payload file of the good bundle by extracting it (verified) into memory.
fn payload_contents(bom: &Bom, dir: &Path) -> anyhow::Result<BTreeMap<String, Vec<u8>>> {
    let tmp = tempfile::tempdir()?;
    let target = tmp.path().join("x");
    let policy = genesis_trust::TrustPolicy::from_keys(vec![PublicKey::from_pem_file(&dir.join("keys/test.pub"))?])?;
    genesis_trust::UnverifiedBundle::open(&dir.join("bundles/good").join(ARCHIVE), &Default::default())?
        .verify(&policy)?
        .extract(&target)?;
    bom.files.iter().map(|f| Ok((f.path.to_string(), fs::read(target.join(f.path.as_str()))?))).collect()
}

fn position(entries: &[Entry], path: &str) -> usize {
    entries
        .iter()
        .position(|e| matches!(e, Entry::File(p, _) if p == path.as_bytes()))
        .unwrap_or_else(|| panic!("{path} in the good bundle"))
}

fn write_cases(dir: &Path, good: &Path, test_key: &PrivateKey, other_key: &PrivateKey) -> anyhow::Result<()> {
    let cases_dir = dir.join("bundles");
    let good_bytes = fs::read(good)?;
    let mut reader = genesis_bundle::ArchiveReader::open_head(good, &Default::default())?;
    let head = reader.read_head()?;
    let bom = Bom::parse(&head.bom, &Default::default())?;
    let entries = good_entries(&head, &bom, dir)?;

    let largest_blob = bom
        .files
        .iter()
        .filter(|f| f.path.as_str().starts_with("oci/blobs/"))
        .max_by_key(|f| f.size)
        .expect("the demo has blobs")
        .path
        .to_string();
    let chart = bom.charts[0].path.to_string();
    let manifest = "manifests/service.yaml";

    let mut cases: Vec<(&str, Vec<u8>)> = Vec::new();
    let with = |f: &dyn Fn(&mut Vec<Entry>)| -> anyhow::Result<Vec<u8>> {
        let mut e = entries.clone();
        f(&mut e);
        assemble(&e)
    };
    cases.push(("unsigned", with(&|e| drop(e.remove(1)))?));
    let other_sig = encode_signature(&other_key.sign(&head.bom));
    cases.push(("signed-by-other-key", with(&|e| e[1] = file(SIGNATURE_PATH, &other_sig))?));
    let changed_bom = String::from_utf8(head.bom.clone())?.replacen("\"0.1.0\"", "\"0.1.1\"", 1);
    cases.push(("bom-byte-changed", with(&|e| e[0] = file(BOM_PATH, changed_bom.as_bytes()))?));
    for (case, path) in [
        ("blob-byte-changed", largest_blob.as_str()),
        ("chart-byte-changed", chart.as_str()),
        ("manifest-byte-changed", manifest),
    ] {
        cases.push((
            case,
            with(&|e| {
                let i = position(e, path);
                if let Entry::File(p, data) = &e[i] {
                    e[i] = Entry::File(p.clone(), flip_last_byte(data.clone()));
                }
            })?,
        ));
    }
    cases.push((
        "entry-not-in-bom",
        with(&|e| {
            let i = position(e, manifest);
            e.insert(i + 1, file("manifests/zz-extra.yaml", b"kind: ConfigMap\n"));
        })?,
    ));
    cases.push(("bom-entry-missing", with(&|e| drop(e.remove(position(e, manifest))))?));
    cases.push((
        "duplicate-entry",
        with(&|e| {
            let i = position(e, manifest);
            e.insert(i + 1, e[i].clone());
        })?,
    ));
    cases.push(("path-dotdot", with(&|e| e.insert(2, file("../evil.yaml", b"x")))?));
    cases.push(("path-absolute", with(&|e| e.insert(2, file("/etc/evil.yaml", b"x")))?));
    cases.push(("path-not-utf8", with(&|e| e.insert(2, Entry::File(b"manifests/\xff.yaml".to_vec(), b"x".to_vec())))?));
    cases.push(("symlink-entry", with(&|e| e.insert(2, Entry::Special(b"charts/link".to_vec(), b'2')))?));
    cases.push(("hardlink-entry", with(&|e| e.insert(2, Entry::Special(b"charts/link".to_vec(), b'1')))?));
    cases.push(("device-entry", with(&|e| e.insert(2, Entry::Special(b"charts/dev".to_vec(), b'3')))?));
    cases.push(("truncated", good_bytes[..good_bytes.len() / 2].to_vec()));
    cases.push(("trailing-garbage", [good_bytes.as_slice(), b"GARBAGE AFTER THE SEEK TABLE\n"].concat()));
    cases.push(("decompression-bomb", bomb(test_key)?));
    cases.push(("blob-name-mismatch", blob_name_mismatch(&entries, &bom, test_key)?));
    // Attestations. A validly signed BOM of another release with this bundle's provenance
    // (mix-and-match); a provenance whose statement was edited after signing; a re-signed
    // BOM whose SBOM leaves out a manifest.
    let other_release = String::from_utf8(head.bom.clone())?.replacen("\"0.1.0\"", "\"0.1.1\"", 1);
    let other_release_sig = encode_signature(&test_key.sign(other_release.as_bytes()));
    cases.push((
        "provenance-from-other-bundle",
        with(&|e| {
            e[0] = file(BOM_PATH, other_release.as_bytes());
            e[1] = file(SIGNATURE_PATH, &other_release_sig);
        })?,
    ));
    // A trusted key's genuine signature, but over another release's BOM.
    cases.push(("signature-from-other-bundle", with(&|e| e[1] = file(SIGNATURE_PATH, &other_release_sig))?));
    let provenance = head.provenance.clone().expect("the builder writes provenance");
    let edited = edit_envelope_payload(&provenance, "bundle-builder@v", "evil-builder@v")?;
    cases.push(("provenance-tampered", with(&|e| e[2] = file(PROVENANCE_PATH, &edited))?));
    cases.push(("sbom-entry-missing", sbom_missing_manifest(&entries, &bom, test_key, manifest)?));
    let default_limit = genesis_bundle::Limits::default().max_bom_size;
    cases.push((
        "oversized-bom",
        with(&|e| e[0] = Entry::Announcing(BOM_PATH.into(), default_limit + 1, head.bom.clone()))?,
    ));

    for (case, bytes) in &cases {
        let d = cases_dir.join(case);
        let _ = fs::remove_dir_all(&d);
        write(&d.join(ARCHIVE), bytes)?;
    }
    // Sidecar cases: the good archive with a lying sidecar.
    for case in ["sha256-sidecar-mismatch", "sig-sidecar-other-key", "cosign-bundle-other-key"] {
        let d = cases_dir.join(case);
        let _ = fs::remove_dir_all(&d);
        write(&d.join(ARCHIVE), &good_bytes)?;
    }
    let wrong: [u8; 32] = Sha256::digest(b"not the archive").into();
    write(
        &cases_dir.join("sha256-sidecar-mismatch").join(format!("{ARCHIVE}.sha256")),
        format!("{}  {ARCHIVE}\n", hex::encode(wrong)).as_bytes(),
    )?;
    let archive_digest: [u8; 32] = Sha256::digest(&good_bytes).into();
    write(
        &cases_dir.join("sig-sidecar-other-key").join(format!("{ARCHIVE}.sig")),
        &encode_signature(&other_key.sign_sha256_digest(&archive_digest)),
    )?;
    let other_bundle = genesis_trust::sigstore::key_bundle(
        &other_key.public_key(),
        &archive_digest,
        &other_key.sign_sha256_digest(&archive_digest),
    );
    write(
        &cases_dir.join("cosign-bundle-other-key").join(format!("{ARCHIVE}.cosign.bundle")),
        &serde_json::to_vec_pretty(&other_bundle)?,
    )?;
    Ok(())
}

/// `envelope` with `from` replaced by `to` inside its base64 payload, signature kept.
fn edit_envelope_payload(envelope: &[u8], from: &str, to: &str) -> anyhow::Result<Vec<u8>> {
    use base64::Engine as _;
    let b64 = base64::engine::general_purpose::STANDARD;
    let mut v: serde_json::Value = serde_json::from_slice(envelope)?;
    let payload = String::from_utf8(b64.decode(v["payload"].as_str().unwrap_or_default())?)?;
    anyhow::ensure!(payload.contains(from), "the provenance names {from}");
    v["payload"] = b64.encode(payload.replacen(from, to, 1)).into();
    Ok(serde_json::to_vec_pretty(&v)?)
}

/// The good bundle with the contents of two OCI blobs swapped and the BOM updated to match
/// and re-signed with the trusted key (no provenance, whose subject would not match): every
/// entry's size and sha256 are right, but `oci/blobs/sha256/A` holds B's bytes, so `serve`
/// would advertise A and send B.
fn blob_name_mismatch(entries: &[Entry], bom: &Bom, key: &PrivateKey) -> anyhow::Result<Vec<u8>> {
    let blobs: Vec<&str> =
        bom.files.iter().map(|f| f.path.as_str()).filter(|p| p.starts_with("oci/blobs/sha256/")).take(2).collect();
    let &[a, b] = blobs.as_slice() else { bail!("the demo has two blobs") };
    let (i, j) = (position(entries, a), position(entries, b));
    let (Entry::File(_, data_a), Entry::File(_, data_b)) = (&entries[i], &entries[j]) else {
        unreachable!("position finds files")
    };
    let mut bom = bom.clone();
    for f in &mut bom.files {
        let now_holds = match f.path.as_str() {
            p if p == a => data_b,
            p if p == b => data_a,
            _ => continue,
        };
        f.size = now_holds.len() as u64;
        f.sha256 = sha256(now_holds);
    }
    let bom_bytes = bom.to_bytes();
    let mut e = entries.to_vec();
    e[i] = file(a, data_b);
    e[j] = file(b, data_a);
    e[0] = file(BOM_PATH, &bom_bytes);
    e[1] = file(SIGNATURE_PATH, &encode_signature(&key.sign(&bom_bytes)));
    e.remove(2);
    assemble(&e)
}

/// The good bundle with `manifest` removed from its SBOM, the BOM updated to the new SBOM
/// and re-signed with the trusted key (and no provenance, whose subject would not match).
fn sbom_missing_manifest(entries: &[Entry], bom: &Bom, key: &PrivateKey, manifest: &str) -> anyhow::Result<Vec<u8>> {
    let sbom_path = bom.sboms[0].path.as_str();
    let i = position(entries, sbom_path);
    let Entry::File(_, sbom) = &entries[i] else { unreachable!("position finds files") };
    let mut doc: serde_json::Value = serde_json::from_slice(sbom)?;
    doc["components"].as_array_mut().expect("components").retain(|c| c["name"] != manifest);
    let sbom = serde_json::to_vec_pretty(&doc)?;
    let mut bom = bom.clone();
    let f = bom.files.iter_mut().find(|f| f.path.as_str() == sbom_path).expect("listed");
    f.size = sbom.len() as u64;
    f.sha256 = sha256(&sbom);
    let bom_bytes = bom.to_bytes();
    let mut e: Vec<Entry> = entries.to_vec();
    e[i] = file(sbom_path, &sbom);
    e[0] = file(BOM_PATH, &bom_bytes);
    e[1] = file(SIGNATURE_PATH, &encode_signature(&key.sign(&bom_bytes)));
    e.remove(2);
    assemble(&e)
}

/// A correctly signed bundle whose one file is 64 MiB of zeros: its seek table declares a
/// ratio in the thousands, so readers refuse it before decompressing anything.
fn bomb(key: &PrivateKey) -> anyhow::Result<Vec<u8>> {
    let zeros = vec![0u8; 64 << 20];
    let path: genesis_types::BundlePath = "manifests/zeros.yaml".parse()?;
    let bom = Bom {
        schema: genesis_bundle::BOM_SCHEMA.into(),
        name: "demo".into(),
        version: "0.1.0".into(),
        created: genesis_bundle::rfc3339(EPOCH),
        expires: None,
        files: vec![genesis_bundle::FileEntry { path: path.clone(), size: zeros.len() as u64, sha256: sha256(&zeros) }],
        images: vec![],
        charts: vec![],
        manifests: vec![genesis_bundle::ManifestEntry { path: path.clone() }],
        sboms: vec![],
        scan: None,
    };
    let bom_bytes = bom.to_bytes();
    let sig = encode_signature(&key.sign(&bom_bytes));
    let contents = BTreeMap::from([(path, Content::Bytes(zeros))]);
    let options =
        WriteOptions { compression: genesis_bundle::Compression::Zstd, mtime: EPOCH, progress: Default::default() };
    Ok(genesis_bundle::write_bundle(Vec::new(), &bom, &bom_bytes, &sig, None, &contents, options)?.0)
}
