//! Writing a bundle: the canonical tar stream (head, then every entry the BOM implies in
//! order), cut into frames and compressed on every core, hashed as it is written.

use std::collections::BTreeMap;
use std::fs::File;
use std::io::{self, Read, Write};
use std::path::PathBuf;

use flate2::GzBuilder;
use genesis_types::{BundlePath, Digest};

use crate::bom::{Bom, ExpectedEntry};
use crate::digest_io::{DigestAdapter, FileDigest, sha256};
use crate::seekable::{FRAME_SIZE, SeekableWriter};
use crate::tar::{self, BLOCK};
use crate::{BundleError, Compression, Head, HeadForm, ProgressCounter, Result};

/// Where a payload file's bytes come from.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum Content {
    /// Bytes generated in memory (index.json, SBOM, …).
    Bytes(Vec<u8>),
    /// A file on disk, read while packing and checked against the BOM digest.
    File(PathBuf),
}

/// Fixed parameters of one write.
#[derive(Debug, Clone)]
pub struct WriteOptions {
    /// How to compress.
    pub compression: Compression,
    /// The mtime of every entry (`SOURCE_DATE_EPOCH`).
    pub mtime: u64,
    /// Counts payload bytes as they are packed.
    pub progress: ProgressCounter,
}

/// The compression stage. Zstd frames are cut at entry boundaries where an entry fits,
/// and every [`FRAME_SIZE`] bytes inside larger entries.
enum Encoder<W: Write + Send + 'static> {
    Zstd { writer: SeekableWriter<DigestAdapter<W>>, frame: Vec<u8> },
    Gzip(flate2::write::GzEncoder<DigestAdapter<W>>),
    Plain(DigestAdapter<W>),
}

impl<W: Write + Send + 'static> Encoder<W> {
    fn new(out: W, compression: Compression) -> Self {
        let out = DigestAdapter::new(out);
        match compression {
            Compression::Zstd => {
                Encoder::Zstd { writer: SeekableWriter::new(out), frame: Vec::with_capacity(FRAME_SIZE) }
            }
            Compression::Gzip => Encoder::Gzip(GzBuilder::new().mtime(0).write(out, flate2::Compression::new(6))),
            Compression::None => Encoder::Plain(out),
        }
    }

    /// Called before each entry with its total encoded length (header, data, padding).
    fn entry_start(&mut self, len: u64) -> io::Result<()> {
        if let Encoder::Zstd { writer, frame } = self
            && closes_frame_before(frame.len() as u64, len)
        {
            writer.push_frame(std::mem::replace(frame, Vec::with_capacity(FRAME_SIZE)))?;
        }
        Ok(())
    }

    fn write_all(&mut self, mut data: &[u8]) -> io::Result<()> {
        match self {
            Encoder::Zstd { writer, frame } => {
                while !data.is_empty() {
                    let n = data.len().min(FRAME_SIZE - frame.len());
                    frame.extend_from_slice(&data[..n]);
                    data = &data[n..];
                    if frame.len() == FRAME_SIZE {
                        writer.push_frame(std::mem::replace(frame, Vec::with_capacity(FRAME_SIZE)))?;
                    }
                }
                Ok(())
            }
            Encoder::Gzip(g) => g.write_all(data),
            Encoder::Plain(p) => p.write_all(data),
        }
    }

    fn finish(self) -> io::Result<(W, FileDigest)> {
        let out = match self {
            Encoder::Zstd { mut writer, frame } => {
                if !frame.is_empty() {
                    writer.push_frame(frame)?;
                }
                writer.finish()?.0
            }
            Encoder::Gzip(g) => g.finish()?,
            Encoder::Plain(p) => p,
        };
        let digest = out.digest();
        Ok((out.into_inner(), digest))
    }
}

/// Whether a frame holding `filled` bytes is closed before an entry of `len` encoded bytes
/// (header, data, padding): small entries share a frame while they fit, and one that does not
/// fit starts a frame of its own. Re-signing plans a new archive's frames by the same rule
/// (`crate::HeadRewrite`), so that it copies the frames a fresh build would compress again.
pub(crate) fn closes_frame_before(filled: u64, len: u64) -> bool {
    filled > 0 && filled + len > FRAME_SIZE as u64
}

fn write_err(e: io::Error) -> BundleError {
    crate::archive::from_io(e, "writing the archive")
}

/// Writes a complete bundle signed with a key to `out`: `bom.json`, `signature` as
/// `bom.json.sig`, the provenance envelope when given, then the payload, as
/// [`write_signed_bundle`] does.
pub fn write_bundle<W: Write + Send + 'static>(
    out: W,
    bom: &Bom,
    bom_bytes: &[u8],
    signature: &[u8],
    provenance: Option<&[u8]>,
    contents: &BTreeMap<BundlePath, Content>,
    options: WriteOptions,
) -> Result<(W, FileDigest)> {
    let head = Head {
        bom: bom_bytes.to_vec(),
        signature: signature.to_vec(),
        provenance: provenance.map(<[u8]>::to_vec),
        form: HeadForm::Cosign,
    };
    write_signed_bundle(out, bom, &head, contents, options)
}

/// Writes a complete bundle to `out`: the head's entries under the names its form gives them
/// (`bom.json`, the signature, the provenance when there is one), then every directory and
/// file the BOM implies in canonical order, each file's bytes taken from `contents` and
/// checked against the BOM while they stream. Returns the sink and the archive's digest.
/// A path no tar header can hold is refused before the first byte is written.
pub fn write_signed_bundle<W: Write + Send + 'static>(
    out: W,
    bom: &Bom,
    head: &Head,
    contents: &BTreeMap<BundlePath, Content>,
    options: WriteOptions,
) -> Result<(W, FileDigest)> {
    let entries = bom.expected_entries();
    for entry in &entries {
        tar::check_encodable(entry.tar_path())?;
    }
    let mut enc = Encoder::new(out, options.compression);
    for (path, data) in head.entries() {
        let size = data.len() as u64;
        enc.entry_start(BLOCK as u64 + size + tar::padding(size) as u64).map_err(write_err)?;
        enc.write_all(&tar::file_header(path, size, options.mtime)?).map_err(write_err)?;
        enc.write_all(data).map_err(write_err)?;
        enc.write_all(&[0u8; BLOCK][..tar::padding(size)]).map_err(write_err)?;
    }
    let mut buf = vec![0u8; 256 << 10];
    for entry in entries {
        match entry {
            ExpectedEntry::Dir(d) => {
                enc.entry_start(BLOCK as u64).map_err(write_err)?;
                enc.write_all(&tar::dir_header(&d, options.mtime)?).map_err(write_err)?;
            }
            ExpectedEntry::File(f) => {
                let content =
                    contents.get(&f.path).ok_or_else(|| BundleError::MissingEntry { path: f.path.clone() })?;
                enc.entry_start(BLOCK as u64 + f.size + tar::padding(f.size) as u64).map_err(write_err)?;
                enc.write_all(&tar::file_header(f.path.as_str(), f.size, options.mtime)?).map_err(write_err)?;
                let actual = match content {
                    Content::Bytes(b) => {
                        enc.write_all(b).map_err(write_err)?;
                        options.progress.add(b.len() as u64);
                        (b.len() as u64, sha256(b))
                    }
                    Content::File(p) => copy_file(p, f.size, &mut enc, &mut buf, &options.progress)?,
                };
                if actual != (f.size, f.sha256.clone()) {
                    let path = match content {
                        Content::File(p) => p.clone(),
                        Content::Bytes(_) => PathBuf::from(f.path.as_str()),
                    };
                    return Err(BundleError::InputChanged { path, expected: f.sha256.clone() });
                }
                enc.write_all(&[0u8; BLOCK][..tar::padding(f.size)]).map_err(write_err)?;
            }
        }
    }
    enc.write_all(&tar::END_OF_ARCHIVE).map_err(write_err)?;
    enc.finish().map_err(write_err)
}

/// Copies at most `size` bytes of a file into the encoder, hashing them. A file that grew
/// is caught because its digest then differs; one that shrank by its size.
fn copy_file<W: Write + Send + 'static>(
    path: &PathBuf,
    size: u64,
    enc: &mut Encoder<W>,
    buf: &mut [u8],
    progress: &ProgressCounter,
) -> Result<(u64, Digest)> {
    let file = File::open(path).map_err(BundleError::io("opening", path))?;
    let mut r = DigestAdapter::new(file.take(size));
    loop {
        let n = r.read(buf).map_err(BundleError::io("reading", path))?;
        if n == 0 {
            break;
        }
        enc.write_all(&buf[..n]).map_err(write_err)?;
        progress.add(n as u64);
    }
    let read = r.digest();
    if read.len < size {
        // Keep the tar stream well-formed until the caller reports the change.
        return Ok((read.len, read.digest()));
    }
    let mut probe = [0u8; 1];
    let mut file = r.into_inner().into_inner();
    if file.read(&mut probe).map_err(BundleError::io("reading", path))? > 0 {
        return Ok((size + 1, read.digest()));
    }
    Ok((read.len, read.digest()))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{BOM_SCHEMA, FileEntry, rfc3339};

    /// A bundle of one incompressible blob and one text file, written to memory.
    fn incompressible_bundle() -> Vec<u8> {
        let noise = crate::test_support::noise(3 * FRAME_SIZE + 1000, 0x9e37_79b9_7f4a_7c15);
        let text = b"kind: ConfigMap\n".repeat(10_000);
        let files = [("blobs/noise", noise), ("manifests/cm.yaml", text)];
        let bom = Bom {
            schema: BOM_SCHEMA.into(),
            name: "t".into(),
            version: "1".into(),
            created: rfc3339(0),
            expires: None,
            files: files
                .iter()
                .map(|(p, data)| FileEntry { path: p.parse().unwrap(), size: data.len() as u64, sha256: sha256(data) })
                .collect(),
            images: vec![],
            charts: vec![],
            manifests: vec![],
            sboms: vec![],
            scan: None,
            requires: None,
        };
        let contents: BTreeMap<BundlePath, Content> =
            files.into_iter().map(|(p, data)| (p.parse().unwrap(), Content::Bytes(data))).collect();
        let options = WriteOptions { compression: Compression::Zstd, mtime: 0, progress: ProgressCounter::default() };
        write_bundle(Vec::new(), &bom, &bom.to_bytes(), b"sig", None, &contents, options).unwrap().0
    }

    #[test]
    fn a_bundle_written_twice_is_the_same_bytes_raw_frames_included() {
        let first = incompressible_bundle();
        assert!(incompressible_bundle() == first, "two writes differ");
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("t.tar.zst");
        std::fs::write(&path, &first).unwrap();
        let file = crate::seekable::SeekableFile::open(File::open(&path).unwrap(), &crate::Limits::default()).unwrap();
        let raw: Vec<bool> = (0..file.table().frames.len()).map(|i| file.is_raw(i).unwrap()).collect();
        // The head, the blob's three full frames (raw), then its tail with the text (compressed).
        assert_eq!(raw, [false, true, true, true, false]);
    }

    #[test]
    fn a_bom_path_no_tar_header_holds_is_refused_not_a_panic() {
        let path: BundlePath = format!("manifests/{}.yaml", "n".repeat(120)).parse().unwrap();
        let data = b"kind: ConfigMap\n".to_vec();
        let bom = Bom {
            schema: BOM_SCHEMA.into(),
            name: "t".into(),
            version: "1".into(),
            created: rfc3339(0),
            expires: None,
            files: vec![FileEntry { path: path.clone(), size: data.len() as u64, sha256: sha256(&data) }],
            images: vec![],
            charts: vec![],
            manifests: vec![],
            sboms: vec![],
            scan: None,
            requires: None,
        };
        let contents = BTreeMap::from([(path.clone(), Content::Bytes(data))]);
        let options = WriteOptions { compression: Compression::None, mtime: 0, progress: ProgressCounter::default() };
        match write_bundle(Vec::new(), &bom, &bom.to_bytes(), b"sig", None, &contents, options) {
            Err(BundleError::UnencodablePath { path: refused }) => assert_eq!(refused, path.as_str()),
            other => panic!("{:?}", other.map(|(_, digest)| digest.len)),
        }
    }
}
