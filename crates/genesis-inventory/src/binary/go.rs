//! Go's build information: the Go release a binary was built with and the modules it was
//! built from, which the Go linker embeds in every binary.
//!
//! Format, from Go's own reader and writer (`src/debug/buildinfo/buildinfo.go`,
//! `src/cmd/link/internal/ld/data.go` and `src/runtime/debug/mod.go` of Go 1.19): a 32-byte
//! header, 16-byte aligned, made of the magic `\xff Go buildinf:` (14 bytes), the pointer
//! size, and a flags byte. When the flags have bit 1 set (Go 1.18 on) the header's remaining
//! 16 bytes are zero and it is followed by two strings, each prefixed by its length as an
//! unsigned varint: the runtime version (`go1.21.5`) and the module information. Before 1.18
//! the header held two pointers into the binary's data instead. The module information is
//! framed by two 16-byte sentinels and holds tab-separated lines: `path` (the main
//! package), `mod` (the main module), `dep` (a dependency), `=>` (the replacement of the
//! module on the line before) and `build` (a build setting such as `GOARCH=amd64`).
//!
//! Go's reader looks at the 16-byte-aligned offsets of the binary's data; [`Finder`] looks at
//! the 16-byte-aligned offsets of the file, which are the same ones: a loaded segment's file
//! offset and its address agree modulo its (page-sized) alignment. Go's reader does not take
//! the first header in the file, which may be a string constant holding the magic earlier in
//! the read-only data: it searches where its ELF reader's `DataStart` says ([`Place`]), and so
//! does [`Finder::finish`].

use std::ops::Range;

use crate::package::{FoundFile, Package, PackageKind};
use crate::purl::purl;

/// The section the Go linker writes the build information to.
pub(super) const SECTION: &[u8] = b".go.buildinfo";
const MAGIC: &[u8; 14] = b"\xff Go buildinf:";
const HEADER_LEN: usize = 32;
const ALIGN: u64 = 16;
/// The build information kept after the magic: its header and strings of up to 1 MiB (a
/// binary with a thousand dependencies writes well under 100 KiB).
pub(super) const CAPTURE_CAP: usize = HEADER_LEN + (1 << 20);
/// The most headers one pass keeps, each with up to [`CAPTURE_CAP`] bytes: a Go binary has
/// one, and a tool that reads build information a string constant or two holding the magic.
/// One more is kept when the data segment's start is known ([`Finder::keeping_the_first_from`]),
/// so that a program embedding Go binaries ahead of its data still has its own read.
pub(super) const MAX_HEADERS: usize = 8;
/// The flags bit of the Go 1.18 format, whose strings follow the header.
const INLINE_STRINGS: u8 = 2;
/// The licence of the Go standard library (<https://go.dev/LICENSE>), which syft records
/// the same way.
const GO_LICENSE: &str = "BSD-3-Clause";

/// What a pass over a binary found where Go's reader looks.
pub(super) enum Found {
    /// No build information: not a Go binary.
    Nothing,
    /// Build information in the format of Go releases before 1.18, pointing into the
    /// binary's data; it is not read.
    PointerFormat,
    /// The Go 1.18 format: the bytes from its magic on, up to the cap.
    Inline(Vec<u8>),
    /// No header where Go's reader looks (the place named), though the binary says it is a Go
    /// binary (its `.go.buildinfo` section) or holds headers elsewhere.
    Misplaced(&'static str),
    /// None of the headers kept lies where Go's reader looks, and more were seen, one of
    /// which may be the one it takes: the real one could not be told from the rest.
    TooMany,
}

/// Where Go's own reader looks for the header in an ELF binary, as file offsets
/// (`DataStart` of its ELF reader in `src/debug/buildinfo/buildinfo.go`): the `.go.buildinfo`
/// section when the section headers name one, else the first loaded segment that is writable
/// and not executable. It takes the first aligned header there: Go 1.19's reader searched the
/// first 64 KiB from its start, current ones the whole section or segment (`searchMagic`), as
/// here.
pub(super) enum Place {
    /// The bytes of the `.go.buildinfo` section.
    Section(Range<u64>),
    /// The file bytes of the first writable, non-executable `PT_LOAD` segment.
    Segment(Range<u64>),
    /// The binary says neither (or its headers were not kept): the first Go 1.18 header
    /// anywhere, else an older one (the older kind is easier to match by accident).
    Anywhere,
}

/// A build information header found at a 16-byte-aligned file offset.
struct Header {
    offset: u64,
    format: Format,
}

enum Format {
    /// Go 1.18's: the bytes from the magic on, up to [`CAPTURE_CAP`].
    Inline(Vec<u8>),
    /// Before Go 1.18: pointers into the binary's data, not followed.
    Pointers,
}

impl From<Format> for Found {
    fn from(format: Format) -> Found {
        match format {
            Format::Inline(capture) => Found::Inline(capture),
            Format::Pointers => Found::PointerFormat,
        }
    }
}

/// Finds the build information headers in a stream of bytes, given in consecutive chunks of
/// any size (a header split across chunks is found as well), and keeps the first
/// [`MAX_HEADERS`] with their file offsets, and the first from the data segment's start on,
/// so that the one Go's reader would take can be chosen once the section and program headers
/// are known.
#[derive(Default)]
pub(super) struct Finder {
    /// The next 16-byte-aligned file offset to look at.
    next: u64,
    /// The bytes from `next` to the end of the last chunk, when fewer than a header's worth
    /// remained to look at there.
    carry: Vec<u8>,
    /// The headers found, in file order.
    headers: Vec<Header>,
    /// Whether a header was seen and not kept.
    more: bool,
    /// Where the data segment starts, when the program headers said so before its bytes
    /// passed: the first header from there on is kept however many came before.
    data_start: Option<u64>,
}

impl Finder {
    /// A finder that keeps the first header at or after `data_start` (the file offset of the
    /// first writable, non-executable segment) whatever the headers before it: Go's reader
    /// searches from the start of that segment or of the `.go.buildinfo` section within it,
    /// and a Go program may embed any number of Go binaries, each with a header, ahead of it.
    pub(super) fn keeping_the_first_from(data_start: Option<u64>) -> Finder {
        Finder { data_start, ..Finder::default() }
    }

    /// Whether a header found at `offset` is kept when [`MAX_HEADERS`] already are: it is the
    /// first at or after the data segment's start.
    fn first_from_data_start(&self, offset: u64) -> bool {
        self.data_start
            .is_some_and(|start| start <= offset && self.headers.last().is_none_or(|header| header.offset < start))
    }

    /// Looks at `chunk`, which starts at file offset `pos`, right after the previous chunk.
    pub(super) fn feed(&mut self, pos: u64, chunk: &[u8]) {
        // A Go 1.18 header found in an earlier chunk keeps the bytes that follow it.
        for header in &mut self.headers {
            if let Format::Inline(capture) = &mut header.format {
                let room = CAPTURE_CAP.saturating_sub(capture.len());
                capture.extend_from_slice(&chunk[..room.min(chunk.len())]);
            }
        }
        let end = pos + chunk.len() as u64;
        let carry_start = pos.saturating_sub(self.carry.len() as u64);
        // A header that starts in the carried bytes ends within the chunk's first bytes.
        let head_len = HEADER_LEN.min(chunk.len());
        let joined = if self.carry.is_empty() { Vec::new() } else { [&self.carry[..], &chunk[..head_len]].concat() };
        while self.next + HEADER_LEN as u64 <= end {
            let (from_here, after): (Option<&[u8]>, &[u8]) = if self.next >= pos {
                (chunk.get(offset_in(self.next, pos)..), &[])
            } else {
                (joined.get(offset_in(self.next, carry_start)..), &chunk[head_len..])
            };
            let Some(from_here) = from_here else { break };
            let format = match examine(from_here) {
                Candidate::No => None,
                _ if self.headers.len() >= MAX_HEADERS && !self.first_from_data_start(self.next) => {
                    self.more = true;
                    None
                }
                Candidate::Inline => {
                    let mut capture = [from_here, after].concat();
                    capture.truncate(CAPTURE_CAP);
                    Some(Format::Inline(capture))
                }
                Candidate::PointerFormat => Some(Format::Pointers),
            };
            if let Some(format) = format {
                self.headers.push(Header { offset: self.next, format });
            }
            self.next += ALIGN;
        }
        // Keep the bytes from `next` on: the next chunk completes the headers they start.
        self.carry = if self.next >= end {
            Vec::new()
        } else if self.next >= pos {
            chunk.get(offset_in(self.next, pos)..).unwrap_or_default().to_vec()
        } else {
            [self.carry.get(offset_in(self.next, carry_start)..).unwrap_or_default(), chunk].concat()
        };
    }

    /// What the stream held at `place`, once it has ended: the first header there, as Go's
    /// reader takes it.
    pub(super) fn finish(self, place: &Place) -> Found {
        let Finder { headers, more, data_start, .. } = self;
        let (range, name) = match place {
            Place::Section(range) => (range, ".go.buildinfo section"),
            Place::Segment(range) => (range, "first writable segment"),
            Place::Anywhere => return first_anywhere(headers, more),
        };
        // The first header at or after `range.start` was kept when it is the first from the
        // data segment's start on (none lies between the two), whatever was dropped.
        let first_kept = data_start.is_some_and(|start| {
            start <= range.start
                && headers.iter().find(|header| header.offset >= start).is_none_or(|first| first.offset >= range.start)
        });
        let seen_elsewhere = !headers.is_empty();
        // The whole header lies in the range, as Go's reader requires.
        let inside = |offset: u64| range.start <= offset && offset.saturating_add(HEADER_LEN as u64) <= range.end;
        match headers.into_iter().find(|header| inside(header.offset)) {
            Some(header) => header.format.into(),
            None if more && !first_kept => Found::TooMany,
            None if seen_elsewhere || matches!(place, Place::Section(_)) => Found::Misplaced(name),
            None => Found::Nothing,
        }
    }
}

/// The header of a binary that says nowhere where its build information is: the first Go
/// 1.18 one, else an older one.
fn first_anywhere(headers: Vec<Header>, more: bool) -> Found {
    let seen = !headers.is_empty();
    match headers.into_iter().find(|header| matches!(header.format, Format::Inline(_))) {
        Some(header) => header.format.into(),
        None if more => Found::TooMany,
        None if seen => Found::PointerFormat,
        None => Found::Nothing,
    }
}

/// `offset - start` as an index into bytes that begin at `start` (out of range, and so read
/// as nothing, should it not fit).
fn offset_in(offset: u64, start: u64) -> usize {
    usize::try_from(offset.saturating_sub(start)).unwrap_or(usize::MAX)
}

enum Candidate {
    Inline,
    PointerFormat,
    No,
}

/// Whether the 32 bytes at an aligned offset are a build information header: the magic, a
/// pointer size of 4 or 8, and flags of a known format (for Go 1.18's, the zeroed pointer
/// fields too, which a string that merely contains the magic never has).
fn examine(header: &[u8]) -> Candidate {
    // The first byte alone rules out nearly every offset: the cheap test comes first.
    if header.first() != Some(&MAGIC[0]) {
        return Candidate::No;
    }
    let (Some(&pointer_size), Some(&flags), Some(pointers)) = (header.get(14), header.get(15), header.get(16..32))
    else {
        return Candidate::No;
    };
    if !header.starts_with(MAGIC) || !matches!(pointer_size, 4 | 8) {
        return Candidate::No;
    }
    // Bit 0 of the flags is the byte order of the older format's pointers.
    match flags {
        0 | 1 => Candidate::PointerFormat,
        _ if flags & !1 == INLINE_STRINGS && pointers.iter().all(|&byte| byte == 0) => Candidate::Inline,
        _ => Candidate::No,
    }
}

/// What the build information says: its packages and, when it lists no modules, a note.
pub(super) struct BuildInfo {
    pub(super) packages: Vec<Package>,
    pub(super) note: Option<String>,
}

/// The packages of a Go 1.18 build information blob (from its magic on): the standard
/// library as `stdlib` at the Go release (`go1.21.5`, purl `pkg:golang/stdlib@1.21.5`, as
/// syft and grype name it and OSV's Go ecosystem lists it), then each module, main module
/// first, as `pkg:golang/<module path>@<version>`. All carry the binary's `GOARCH`.
pub(super) fn packages(blob: &[u8], file: &FoundFile<'_>) -> Result<BuildInfo, String> {
    let rest = blob.get(HEADER_LEN..).ok_or("it ends inside its header")?;
    let (version, rest) = varint_string(rest).ok_or("its Go version runs past the end of what is read")?;
    let (modinfo, _) = varint_string(rest).ok_or("its module information runs past the end of what is read")?;
    let version = String::from_utf8_lossy(version);
    let release = version
        .split_whitespace()
        .find(|word| word.starts_with("go"))
        .or_else(|| version.split_whitespace().next())
        .ok_or("its Go version is empty")?;
    // Strip the sentinels as Go's reader does; without them there is no module information.
    let modinfo = match modinfo.len().checked_sub(17).and_then(|at| modinfo.get(at)) {
        Some(&b'\n') if modinfo.len() >= 33 => String::from_utf8_lossy(&modinfo[16..modinfo.len() - 16]).into_owned(),
        _ => String::new(),
    };
    let (modules, arch) = modules(&modinfo)?;
    let package = |name: &str, version: &str, purl: String, licenses: Vec<String>| Package {
        kind: PackageKind::Golang,
        name: name.to_owned(),
        version: version.to_owned(),
        source: None,
        arch: arch.map(str::to_owned),
        licenses,
        purl,
        found_in: file.path.to_owned(),
        layer: file.layer.to_owned(),
    };
    let stdlib_purl = purl(PackageKind::Golang, None, "stdlib", release.strip_prefix("go").unwrap_or(release), &[]);
    let mut packages = vec![package("stdlib", release, stdlib_purl, vec![GO_LICENSE.to_owned()])];
    for module in &modules {
        // The purl spec's golang type: the module path up to its last `/` is the namespace.
        let (namespace, name) = match module.path.rsplit_once('/') {
            Some((namespace, name)) => (Some(namespace), name),
            None => (None, module.path.as_str()),
        };
        let module_purl = purl(PackageKind::Golang, namespace, name, &module.version, &[]);
        packages.push(package(&module.path, &module.version, module_purl, Vec::new()));
    }
    let note = modules.is_empty().then(|| {
        format!(
            "Go binary {}: its build info lists no modules (built outside module mode); only its Go \
             standard library is inventoried",
            file.path
        )
    });
    Ok(BuildInfo { packages, note })
}

/// A module of the build: its path and version, after any replacement.
struct Module {
    path: String,
    version: String,
}

/// The modules of the module information, in order (the main module first), each replaced
/// as its `=>` line says, and the `GOARCH` build setting. A module replaced by a directory
/// on the build machine (`=> ./local`) is code no published version holds: it keeps the
/// module path it stands in for, with the version `(devel)` Go gives a module built from a
/// directory, so it is listed and matches no advisory's range.
fn modules(modinfo: &str) -> Result<(Vec<Module>, Option<&str>), String> {
    let mut modules: Vec<Module> = Vec::new();
    let mut arch = None;
    let mut replaceable = false;
    for (number, line) in modinfo.lines().enumerate() {
        let mut fields = line.split('\t');
        let kind = fields.next().unwrap_or_default();
        let is_module = matches!(kind, "mod" | "dep");
        match kind {
            "mod" | "dep" | "=>" => {
                let path = fields.next().filter(|path| !path.is_empty());
                let path = path.ok_or_else(|| format!("line {} has no module path", number + 1))?.to_owned();
                let module = Module { path, version: fields.next().unwrap_or_default().to_owned() };
                if is_module {
                    modules.push(module);
                } else {
                    let replaced = modules
                        .last_mut()
                        .filter(|_| replaceable)
                        .ok_or_else(|| format!("line {} replaces no module", number + 1))?;
                    if is_directory_path(&module.path) {
                        replaced.version = "(devel)".to_owned();
                    } else {
                        *replaced = module;
                    }
                }
            }
            "build" => {
                if let Some(value) = fields.next().and_then(|setting| setting.strip_prefix("GOARCH=")) {
                    arch = Some(value);
                }
            }
            _ => {}
        }
        replaceable = is_module;
    }
    Ok((modules, arch))
}

/// Whether a replacement path names a directory rather than a module (Go's
/// `modfile.IsDirectoryPath`): relative `./`, `../`, absolute, or a Windows path.
fn is_directory_path(path: &str) -> bool {
    path == "."
        || path == ".."
        || ["./", "../", "/", ".\\", "..\\", "\\"].iter().any(|prefix| path.starts_with(prefix))
        || matches!(path.as_bytes(), [drive, b':', ..] if drive.is_ascii_alphabetic())
}

/// A string prefixed by its length as an unsigned LEB128 varint (Go's `binary.Uvarint`),
/// and what follows it.
fn varint_string(bytes: &[u8]) -> Option<(&[u8], &[u8])> {
    let mut length: u64 = 0;
    for (index, &byte) in bytes.iter().enumerate().take(10) {
        if index == 9 && byte > 1 {
            return None;
        }
        length |= u64::from(byte & 0x7f) << (7 * index);
        if byte < 0x80 {
            let start = index + 1;
            let end = start.checked_add(usize::try_from(length).ok()?)?;
            return Some((bytes.get(start..end)?, bytes.get(end..)?));
        }
    }
    None
}
