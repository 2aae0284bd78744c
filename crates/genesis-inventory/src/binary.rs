//! Binaries that list what they were built from: Go executables (the build information the
//! Go linker embeds, [`go`]) and Rust executables built with cargo-auditable (a compressed
//! dependency list in the ELF section `.dep-v0`, [`cargo`]). Only ELF is read: images are
//! Linux ones.
//!
//! A binary is read once, as a stream, in bounded memory whatever its size (some are
//! hundreds of MiB):
//! - Go's build information is found by its magic as the bytes pass ([`go::Finder`]), and
//!   only the bytes from each magic on are kept (1 MiB at most, for at most 8 headers, and
//!   the first from the data segment's start on however many came before); once the section
//!   and program headers are known, the header Go's own reader would take is chosen
//!   ([`go::Place`]), so that a string constant holding the magic does not hide it;
//! - the section headers that say where `.dep-v0` is usually come at the end of the file,
//!   after the sections they describe, so the bytes that can hold these are kept as they
//!   pass: the first 64 KiB (the file and program headers, and the section headers where
//!   Go's linker puts them), and everything after the loaded segments, where linkers put
//!   the sections that are not loaded (`.dep-v0`, the section names, symbols, debug
//!   information) and the section header table. That tail goes to a spooled temporary file,
//!   in memory up to 4 MiB and on disk beyond (an unstripped binary's debug information);
//!   the loaded segments, the bulk of a binary, are never copied, except for the section
//!   names when the section headers are in the first 64 KiB (Go's linker puts the names
//!   inside the loaded segments).
//!
//! What is unreadable in a binary's build information or dependency list becomes a note,
//! not an error: only a failing read of the layer, or of the temporary file, is an error.

mod cargo;
mod elf;
mod go;

use std::io::{self, Read, Seek, SeekFrom, Write};

use tempfile::SpooledTempFile;

use crate::error::InventoryError;
use crate::package::{FoundFile, Package};

/// Bytes read at a time, and the prefix of the file that is kept.
const CHUNK: usize = 64 * 1024;
/// The tail of a binary kept in memory before it spills to a temporary file.
const TAIL_IN_MEMORY: usize = 4 << 20;
/// The most of a binary's tail kept (in memory, then on disk): the debug information of an
/// unstripped binary can be large, and a hostile layer can declare a file of zeros that
/// compresses to nothing; past this, the tail is not searched, with a note.
const MAX_TAIL: u64 = 256 << 20;
/// The largest section-name table read: real ones are a few hundred bytes.
const NAMES_CAP: u64 = 1 << 20;

/// The packages an ELF executable says it was built from, with a note for each thing it
/// holds that is not inventoried (Go build information older than Go 1.18's format, a
/// dependency list that does not decode). A file that is not ELF holds nothing.
pub(crate) fn inspect(
    reader: &mut dyn Read,
    file: &FoundFile<'_>,
) -> Result<(Vec<Package>, Vec<String>), InventoryError> {
    let Some(Streamed { header, mut kept, finder }) = stream(reader, file)? else {
        return Ok((Vec::new(), Vec::new()));
    };
    let temporary = |source| InventoryError::TempFile { path: file.path.to_owned(), source };
    let sections = SectionTable::read(&header, &mut kept).map_err(temporary)?;
    let mut packages = Vec::new();
    let mut notes = Vec::new();
    match finder.finish(&go_place(&header, &kept.prefix, sections.as_ref())) {
        go::Found::Nothing => {}
        go::Found::PointerFormat => {
            notes.push(format!("Go binary {}: build info of a Go release before 1.18, not inventoried", file.path));
        }
        go::Found::Inline(blob) => match go::packages(&blob, file) {
            Ok(info) => {
                packages.extend(info.packages);
                notes.extend(info.note);
            }
            Err(reason) => {
                notes
                    .push(format!("Go binary {}: its build info is unreadable ({reason}), not inventoried", file.path));
            }
        },
        go::Found::Misplaced(place) => notes.push(format!(
            "Go binary {}: no build info header in its {place}, where Go's reader looks for one: not inventoried",
            file.path
        )),
        go::Found::TooMany => notes.push(format!(
            "Go binary {}: more than {} build info headers, and the one Go's reader takes could not be told from \
             the rest: not inventoried",
            file.path,
            go::MAX_HEADERS
        )),
    }
    if kept.over_cap {
        notes.push(format!(
            "ELF binary {}: more than {} MiB after its loaded segments, so its cargo-auditable section was not \
             looked for: not inventoried",
            file.path,
            MAX_TAIL >> 20
        ));
        return Ok((packages, notes));
    }
    let crates = auditable_section(sections.as_ref(), &mut kept)
        .map_err(temporary)?
        .map(|section| section.and_then(|compressed| cargo::packages(&compressed, file)));
    match crates {
        None => {}
        Some(Ok(crates)) => packages.extend(crates),
        Some(Err(reason)) => notes.push(format!(
            "Rust binary {}: its cargo-auditable dependency list is unreadable ({reason}), not inventoried",
            file.path
        )),
    }
    Ok((packages, notes))
}

/// What one pass over an ELF file leaves: its header, the bytes kept, and the Go build
/// information headers found.
struct Streamed {
    header: elf::Header,
    kept: Kept,
    finder: go::Finder,
}

/// Reads the whole of `reader` once; `None` when it is not ELF (nothing more is read then).
fn stream(reader: &mut dyn Read, file: &FoundFile<'_>) -> Result<Option<Streamed>, InventoryError> {
    let read_error = |source| InventoryError::read(file, source);
    let temporary = |source| InventoryError::TempFile { path: file.path.to_owned(), source };
    let mut buf = vec![0_u8; CHUNK];
    let mut len = fill(reader, &mut buf).map_err(read_error)?;
    let Some(header) = elf::Header::parse(&buf[..len]) else { return Ok(None) };
    let prefix = buf[..len].to_vec();
    // Without program headers in the prefix, every byte may matter: the whole file is kept.
    let tail_start = header.loaded_end(&prefix).unwrap_or(0);
    let names = names_in_prefix(&header, &prefix).map(|(offset, len)| Pinned { offset, len, bytes: Vec::new() });
    let mut kept = Kept {
        prefix,
        names,
        tail_start,
        tail_end: tail_start,
        tail: tempfile::spooled_tempfile(TAIL_IN_MEMORY),
        over_cap: false,
    };
    // Go's reader searches the data segment from its start: however many headers come
    // before, the first from there on is kept.
    let mut finder = go::Finder::keeping_the_first_from(data_segment(&header, &kept.prefix).map(|data| data.offset));
    let mut pos = 0;
    while len > 0 {
        let chunk = &buf[..len];
        finder.feed(pos, chunk);
        kept.keep(pos, chunk).map_err(temporary)?;
        pos += len as u64;
        len = fill(reader, &mut buf).map_err(read_error)?;
    }
    Ok(Some(Streamed { header, kept, finder }))
}

/// Where the section-name table lies, when the section headers are within `prefix`: Go's
/// linker writes them there, and the names inside the loaded segments, which [`Kept`] would
/// not otherwise keep.
fn names_in_prefix(header: &elf::Header, prefix: &[u8]) -> Option<(u64, u64)> {
    let (offset, len) = header.section_table()?;
    let start = usize::try_from(offset).ok()?;
    let table = prefix.get(start..start.checked_add(usize::try_from(len).ok()?)?)?;
    let names = header.sections(table).into_iter().nth(usize::from(header.shstrndx))?;
    (names.size <= NAMES_CAP).then_some((names.offset, names.size))
}

/// Reads until `buf` is full or the reader ends; how many bytes it holds.
fn fill(reader: &mut dyn Read, buf: &mut [u8]) -> io::Result<usize> {
    let mut filled = 0;
    while filled < buf.len() {
        match reader.read(&mut buf[filled..]) {
            Ok(0) => break,
            Ok(read) => filled = (filled + read).min(buf.len()),
            Err(error) if error.kind() == io::ErrorKind::Interrupted => {}
            Err(error) => return Err(error),
        }
    }
    Ok(filled)
}

/// The bytes of a binary kept by [`stream`]: its first [`CHUNK`] bytes, its section names
/// when the prefix says where they are, and the bytes from `tail_start` to its end.
struct Kept {
    prefix: Vec<u8>,
    names: Option<Pinned>,
    tail_start: u64,
    tail_end: u64,
    tail: SpooledTempFile,
    /// Whether the tail grew past [`MAX_TAIL`], and what followed was not kept.
    over_cap: bool,
}

impl Kept {
    /// Keeps what `chunk`, at file offset `pos`, holds of the section names and the tail.
    fn keep(&mut self, pos: u64, chunk: &[u8]) -> io::Result<()> {
        if let Some(names) = &mut self.names {
            names.keep(pos, chunk);
        }
        let end = pos + chunk.len() as u64;
        if end.saturating_sub(self.tail_start) > MAX_TAIL {
            self.over_cap = true;
            return Ok(());
        }
        if end > self.tail_start {
            let skip = usize::try_from(self.tail_start.saturating_sub(pos)).unwrap_or(chunk.len());
            self.tail.write_all(chunk.get(skip..).unwrap_or_default())?;
            self.tail_end = end;
        }
        Ok(())
    }

    /// The `len` bytes at file offset `offset`, or `None` when they were not all kept: the
    /// section names when they are these, else those in the prefix from it, the rest from
    /// the tail.
    fn bytes_at(&mut self, offset: u64, len: u64) -> io::Result<Option<Vec<u8>>> {
        if let Some(bytes) = self.names.as_ref().and_then(|names| names.bytes_at(offset, len)) {
            return Ok(Some(bytes));
        }
        let Some(end) = offset.checked_add(len) else { return Ok(None) };
        let prefix_end = self.prefix.len() as u64;
        let mut bytes = Vec::new();
        let mut from = offset;
        if offset < prefix_end {
            from = end.min(prefix_end);
            let (Ok(start), Ok(stop)) = (usize::try_from(offset), usize::try_from(from)) else { return Ok(None) };
            bytes.extend_from_slice(&self.prefix[start..stop]);
        }
        if from < end {
            let Ok(rest) = usize::try_from(end - from) else { return Ok(None) };
            if from < self.tail_start || end > self.tail_end {
                return Ok(None);
            }
            self.tail.seek(SeekFrom::Start(from - self.tail_start))?;
            let kept = bytes.len();
            bytes.resize(kept + rest, 0);
            self.tail.read_exact(&mut bytes[kept..])?;
        }
        Ok(Some(bytes))
    }
}

/// A range of the file kept in memory as it passes, wherever it lies.
struct Pinned {
    offset: u64,
    len: u64,
    bytes: Vec<u8>,
}

impl Pinned {
    /// Keeps what `chunk`, at file offset `pos` right after the previous chunk, holds of the
    /// range.
    fn keep(&mut self, pos: u64, chunk: &[u8]) {
        let next = self.offset.saturating_add(self.bytes.len() as u64);
        let end = self.offset.saturating_add(self.len).min(pos + chunk.len() as u64);
        if next < pos || next >= end {
            return;
        }
        let (Ok(from), Ok(to)) = (usize::try_from(next - pos), usize::try_from(end - pos)) else { return };
        self.bytes.extend_from_slice(chunk.get(from..to).unwrap_or_default());
    }

    /// The `len` bytes at file offset `offset`, when they lie within what was kept.
    fn bytes_at(&self, offset: u64, len: u64) -> Option<Vec<u8>> {
        let start = usize::try_from(offset.checked_sub(self.offset)?).ok()?;
        let end = start.checked_add(usize::try_from(len).ok()?)?;
        self.bytes.get(start..end).map(<[u8]>::to_vec)
    }
}

/// The sections a binary is inspected for, as its section headers name them: the first of
/// each name, as Go's and cargo-auditable's readers take it.
struct SectionTable {
    go_buildinfo: Option<elf::Section>,
    dep_v0: Option<elf::Section>,
}

impl SectionTable {
    /// The table, or `None` when the binary has none, or its headers or names were not kept
    /// or do not parse: such a binary cannot be told apart from one without the sections
    /// looked for.
    fn read(header: &elf::Header, kept: &mut Kept) -> io::Result<Option<SectionTable>> {
        let Some((offset, len)) = header.section_table() else { return Ok(None) };
        let Some(table) = kept.bytes_at(offset, len)? else { return Ok(None) };
        let sections = header.sections(&table);
        let Some(names) = sections.get(usize::from(header.shstrndx)).filter(|names| names.size <= NAMES_CAP) else {
            return Ok(None);
        };
        let Some(names) = kept.bytes_at(names.offset, names.size)? else { return Ok(None) };
        Ok(Some(SectionTable::find(sections, &names)))
    }

    /// Both sections, in one pass over the headers, each header's name compared in place
    /// ([`elf::is_named`]): a crafted binary of 65,535 headers pointing into a megabyte of
    /// names without a NUL costs a few bytes per header, not a megabyte.
    fn find(sections: Vec<elf::Section>, names: &[u8]) -> SectionTable {
        let mut table = SectionTable { go_buildinfo: None, dep_v0: None };
        for section in sections {
            let slot = if elf::is_named(names, section.name, go::SECTION) {
                &mut table.go_buildinfo
            } else if elf::is_named(names, section.name, cargo::SECTION) {
                &mut table.dep_v0
            } else {
                continue;
            };
            // The first of a name, as Go's `debug/elf` takes it.
            if slot.is_none() {
                *slot = Some(section);
            }
        }
        table
    }
}

/// Where Go's reader looks for the build information ([`go::Place`]): the `.go.buildinfo`
/// section (no bytes when it is `SHT_NOBITS`), else the first writable, non-executable
/// loaded segment, else anywhere.
fn go_place(header: &elf::Header, prefix: &[u8], sections: Option<&SectionTable>) -> go::Place {
    if let Some(section) = sections.and_then(|table| table.go_buildinfo.as_ref()) {
        let size = if section.kind == elf::SHT_NOBITS { 0 } else { section.size };
        return go::Place::Section(section.offset..section.offset.saturating_add(size));
    }
    match data_segment(header, prefix) {
        Some(data) => go::Place::Segment(data.offset..data.offset.saturating_add(data.file_size)),
        None => go::Place::Anywhere,
    }
}

/// The first writable, non-executable loaded segment, where Go's reader looks when no
/// `.go.buildinfo` section says where. Its program header is in the prefix, so it is known
/// before any of its bytes pass.
fn data_segment(header: &elf::Header, prefix: &[u8]) -> Option<elf::Segment> {
    header.loaded_segments(prefix)?.into_iter().find(elf::Segment::is_writable_data)
}

/// The bytes of the binary's `.dep-v0` section: `None` when it has none, an error when it
/// has one that cannot be read. A binary whose section headers or section names were not
/// kept or do not parse is taken to have none, as it could not be told apart from one
/// that has none: the linkers cargo-auditable works with (GNU ld, lld, mold) write both after
/// the loaded segments, and Go's linker, which writes them inside, is never given a
/// `.dep-v0` to link.
fn auditable_section(sections: Option<&SectionTable>, kept: &mut Kept) -> io::Result<Option<Result<Vec<u8>, String>>> {
    let Some(section) = sections.and_then(|table| table.dep_v0.as_ref()) else { return Ok(None) };
    if section.kind == elf::SHT_NOBITS {
        return Ok(Some(Err("its .dep-v0 section has no bytes in the file".to_owned())));
    }
    if section.size > cargo::CAP {
        return Ok(Some(Err(format!(
            "its .dep-v0 section holds {} bytes, over the {}-byte limit",
            section.size,
            cargo::CAP
        ))));
    }
    let bytes = kept.bytes_at(section.offset, section.size)?;
    Ok(Some(bytes.ok_or_else(|| "its .dep-v0 section lies inside a loaded segment or past the file's end".to_owned())))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::path::Path;
    use std::process::{Command, Output};

    use flate2::Compression;
    use flate2::write::ZlibEncoder;

    use super::*;
    use crate::package::PackageKind;

    /// The sentinels Go frames its module information with (`infoStart`, `infoEnd` in
    /// `src/cmd/go/internal/modload/build.go`).
    const INFO_START: [u8; 16] = *b"\x30\x77\xaf\x0c\x92\x74\x08\x02\x41\xe1\xc1\x07\xe6\xd6\x18\xe6";
    const INFO_END: [u8; 16] = *b"\xf9\x32\x43\x31\x86\x18\x20\x72\x00\x82\x42\x10\x41\x16\xd8\xf2";

    fn file(path: &str) -> FoundFile<'_> {
        FoundFile { path, layer: "sha256:ee", distro: None }
    }

    /// Hands out reads of 1 to 97 bytes in turn, so that headers and magic fall across reads.
    struct Trickle<R> {
        inner: R,
        calls: usize,
    }

    impl<R: Read> Read for Trickle<R> {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            self.calls += 1;
            let most = (1 + self.calls % 97).min(buf.len());
            self.inner.read(&mut buf[..most])
        }
    }

    fn trickle<R: Read>(inner: R) -> Trickle<R> {
        Trickle { inner, calls: 0 }
    }

    /// A file of `len` bytes, zero but for `pieces` (offset, bytes), read without ever being
    /// held whole.
    struct Sparse {
        pieces: Vec<(u64, Vec<u8>)>,
        len: u64,
        pos: u64,
    }

    impl Sparse {
        fn to_vec(&self) -> Vec<u8> {
            let mut bytes = vec![0; usize::try_from(self.len).unwrap()];
            for (offset, piece) in &self.pieces {
                let at = usize::try_from(*offset).unwrap();
                bytes[at..at + piece.len()].copy_from_slice(piece);
            }
            bytes
        }
    }

    impl Read for Sparse {
        fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
            let count = usize::try_from((self.len - self.pos).min(buf.len() as u64)).unwrap();
            let (start, end) = (self.pos, self.pos + count as u64);
            buf[..count].fill(0);
            for (offset, piece) in &self.pieces {
                let (from, to) = ((*offset).max(start), (offset + piece.len() as u64).min(end));
                if from < to {
                    let source = usize::try_from(from - offset).unwrap()..usize::try_from(to - offset).unwrap();
                    let target = usize::try_from(from - start).unwrap()..usize::try_from(to - start).unwrap();
                    buf[target].copy_from_slice(&piece[source]);
                }
            }
            self.pos = end;
            Ok(count)
        }
    }

    /// The ELF variant a synthetic binary is written in.
    #[derive(Debug, Clone, Copy)]
    struct Kind {
        bits64: bool,
        big_endian: bool,
    }

    const KINDS: [Kind; 4] = [
        Kind { bits64: true, big_endian: false },
        Kind { bits64: true, big_endian: true },
        Kind { bits64: false, big_endian: false },
        Kind { bits64: false, big_endian: true },
    ];

    impl Kind {
        /// Appends `value` in `width` bytes, in this kind's byte order.
        fn put(self, out: &mut Vec<u8>, value: u64, width: usize) {
            let bytes = value.to_be_bytes();
            let field = &bytes[8 - width..];
            if self.big_endian {
                out.extend_from_slice(field);
            } else {
                out.extend(field.iter().rev());
            }
        }

        fn word(self) -> usize {
            if self.bits64 { 8 } else { 4 }
        }
    }

    /// A synthetic executable in the layout GNU ld gives a stripped binary, written from the
    /// System V ABI's tables independently of the parser: the ELF header, one `PT_LOAD`
    /// segment over the first `loaded` bytes with the Go build information `go` 16-aligned
    /// 8 KiB before its end, and after it the unloaded sections `.dep-v0` (holding `dep`)
    /// and `.shstrtab`, then the section header table.
    fn synthetic_elf(kind: Kind, loaded: u64, go: Option<&[u8]>, dep: Option<&[u8]>) -> Sparse {
        Layout { loaded, go, dep, ..Layout::default() }.write(kind)
    }

    /// What [`synthetic_elf`] writes, and how Go's linker may differ from it.
    #[derive(Default)]
    struct Layout<'a> {
        loaded: u64,
        go: Option<&'a [u8]>,
        dep: Option<&'a [u8]>,
        /// Where a second loaded segment, writable and not executable, begins (4 KiB
        /// aligned); it ends at `loaded`, and the first, executable one, here.
        data_from: Option<u64>,
        /// Whether a `.go.buildinfo` section (written and allocated) names the bytes where
        /// the build information goes, as Go's linker writes it.
        go_section: bool,
        /// Whether the file header says there are no section headers.
        no_sections: bool,
    }

    impl Layout<'_> {
        /// Where the Go build information goes.
        fn go_offset(&self) -> u64 {
            (self.loaded - 8192) & !15
        }

        fn write(&self, kind: Kind) -> Sparse {
            let Layout { loaded, go, dep, .. } = *self;
            let word = kind.word();
            let (header_len, ph_len, sh_len) = if kind.bits64 { (64, 56, 64) } else { (52, 32, 40) };
            let mut pieces = Vec::new();
            if let Some(go) = go {
                pieces.push((self.go_offset(), go.to_vec()));
            }
            let mut tail = Vec::new();
            let dep_offset = loaded;
            tail.extend_from_slice(dep.unwrap_or_default());
            let names_offset = loaded + tail.len() as u64;
            // `.dep-v0` at 1, `.shstrtab` at 9, `.go.buildinfo` at 19.
            let names = b"\0.dep-v0\0.shstrtab\0.go.buildinfo\0";
            tail.extend_from_slice(names);
            while !tail.len().is_multiple_of(8) {
                tail.push(0);
            }
            let table_offset = loaded + tail.len() as u64;
            // (name, type, flags, address, offset, size, alignment): the null section,
            // `.go.buildinfo` (PROGBITS, WA), `.dep-v0` (PROGBITS), `.shstrtab` (STRTAB).
            let mut sections = vec![(0, 0, 0, 0, 0, 0, 0)];
            if self.go_section {
                let size = go.map_or(32, |go| go.len() as u64);
                sections.push((19, 1, 3, 0x0040_0000 + self.go_offset(), self.go_offset(), size, 16));
            }
            if let Some(dep) = dep {
                sections.push((1, 1, 0, 0, dep_offset, dep.len() as u64, 1));
            }
            sections.push((9, 3, 0, 0, names_offset, names.len() as u64, 1));
            for (name, kind_of_section, flags, address, offset, size, alignment) in &sections {
                kind.put(&mut tail, *name, 4);
                kind.put(&mut tail, *kind_of_section, 4);
                kind.put(&mut tail, *flags, word);
                kind.put(&mut tail, *address, word);
                kind.put(&mut tail, *offset, word);
                kind.put(&mut tail, *size, word);
                kind.put(&mut tail, 0, 4); // link
                kind.put(&mut tail, 0, 4); // info
                kind.put(&mut tail, *alignment, word);
                kind.put(&mut tail, 0, word); // entry size
            }
            let len = loaded + tail.len() as u64;
            pieces.push((loaded, tail));

            // (offset, size, flags): R+X over the first bytes, then RW data when asked for.
            let segments = match self.data_from {
                Some(data) => vec![(0, data, 5), (data, loaded - data, 6)],
                None => vec![(0, loaded, 5)],
            };
            let (shoff, shnum) = if self.no_sections { (0, 0) } else { (table_offset, sections.len() as u64) };
            let mut head = b"\x7fELF".to_vec();
            head.extend([if kind.bits64 { 2 } else { 1 }, if kind.big_endian { 2 } else { 1 }, 1]);
            head.resize(16, 0);
            kind.put(&mut head, 2, 2); // e_type: executable
            kind.put(&mut head, 62, 2); // e_machine
            kind.put(&mut head, 1, 4); // e_version
            kind.put(&mut head, 0x0040_1000, word); // e_entry
            kind.put(&mut head, header_len, word); // e_phoff: right after this header
            kind.put(&mut head, shoff, word); // e_shoff
            kind.put(&mut head, 0, 4); // e_flags
            kind.put(&mut head, header_len, 2); // e_ehsize
            kind.put(&mut head, ph_len, 2); // e_phentsize
            kind.put(&mut head, segments.len() as u64, 2); // e_phnum
            kind.put(&mut head, sh_len, 2); // e_shentsize
            kind.put(&mut head, shnum, 2); // e_shnum
            kind.put(&mut head, shnum.saturating_sub(1), 2); // e_shstrndx: the last
            for (offset, size, flags) in segments {
                kind.put(&mut head, 1, 4); // p_type: PT_LOAD
                if kind.bits64 {
                    kind.put(&mut head, flags, 4); // p_flags
                }
                kind.put(&mut head, offset, word); // p_offset
                kind.put(&mut head, 0x0040_0000 + offset, word); // p_vaddr
                kind.put(&mut head, 0x0040_0000 + offset, word); // p_paddr
                kind.put(&mut head, size, word); // p_filesz
                kind.put(&mut head, size, word); // p_memsz
                if !kind.bits64 {
                    kind.put(&mut head, flags, 4); // p_flags
                }
                kind.put(&mut head, 0x1000, word); // p_align
            }
            pieces.push((0, head));
            Sparse { pieces, len, pos: 0 }
        }
    }

    /// Build information with the flags byte `flags` (2: Go 1.18's format) for `version`
    /// and `modinfo`, framed and varint-prefixed as Go's linker writes it.
    fn go_blob(flags: u8, version: &str, modinfo: &str) -> Vec<u8> {
        let framed = [&INFO_START[..], modinfo.as_bytes(), &INFO_END[..]].concat();
        let mut blob = b"\xff Go buildinf:".to_vec();
        blob.extend([8, flags]);
        blob.extend([0; 16]);
        for string in [version.as_bytes(), &framed[..]] {
            let mut length = string.len();
            while length >= 0x80 {
                blob.push(u8::try_from(length & 0x7f).unwrap() | 0x80);
                length >>= 7;
            }
            blob.push(u8::try_from(length).unwrap());
            blob.extend_from_slice(string);
        }
        blob.resize(blob.len().next_multiple_of(16), 0);
        blob
    }

    fn zlib(bytes: &[u8]) -> Vec<u8> {
        let mut encoder = ZlibEncoder::new(Vec::new(), Compression::default());
        encoder.write_all(bytes).unwrap();
        encoder.finish().unwrap()
    }

    const MODINFO: &str = "path\texample.com/app\nmod\texample.com/app\tv1.0.0\th1:aa=\n\
                           dep\tgolang.org/x/text\tv0.14.0\th1:bb=\n\
                           build\tGOARCH=arm64\n";

    const AUDIT_JSON: &str = r#"{"packages":[
        {"name":"app","version":"0.1.0","source":"local","dependencies":[1,2,3],"root":true},
        {"name":"serde","version":"1.0.200","source":"crates.io"},
        {"name":"cc","version":"1.0.83","source":"crates.io","kind":"build"},
        {"name":"libc","version":"0.2.155","source":"crates.io","kind":"runtime"}]}"#;

    fn purls(packages: &[Package]) -> Vec<&str> {
        packages.iter().map(|package| package.purl.as_str()).collect()
    }

    fn go_command(dir: &Path, args: &[&str]) -> Output {
        let output = Command::new("go")
            .args(args)
            .current_dir(dir)
            .env("GOFLAGS", "-mod=vendor")
            .env("GOPROXY", "off")
            .env("GOCACHE", dir.join("cache"))
            .env("GOPATH", dir.join("gopath"))
            .env("GOENV", "off")
            .env("GOTOOLCHAIN", "local")
            .env("GO111MODULE", "on")
            .env("CGO_ENABLED", "0")
            .env("HOME", dir)
            .output()
            .expect("this test needs the Go toolchain as `go` on PATH (Debian: golang-go)");
        assert!(output.status.success(), "go {args:?} failed: {}", String::from_utf8_lossy(&output.stderr));
        output
    }

    /// The Go release Go's own reader (`go version`) finds in the executable `bytes`.
    fn go_reads(bytes: &[u8]) -> String {
        use std::os::unix::fs::PermissionsExt;

        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("app");
        std::fs::write(&path, bytes).unwrap();
        std::fs::set_permissions(&path, std::fs::Permissions::from_mode(0o755)).unwrap();
        let said = String::from_utf8(go_command(dir.path(), &["version", "app"]).stdout).unwrap();
        said.trim().trim_start_matches("app: ").to_owned()
    }

    /// A real Go binary, built here offline: its main module requires one module vendored
    /// at v1.2.3 and one replaced by a local directory.
    #[test]
    fn a_go_binary_built_here_lists_the_standard_library_and_every_module() {
        let dir = tempfile::tempdir().unwrap();
        let root = dir.path();
        let files = [
            (
                "go.mod",
                "module example.com/hello\n\ngo 1.19\n\n\
                 require (\n\texample.com/greet v1.2.3\n\texample.com/local v0.0.0\n)\n\n\
                 replace example.com/local => ./local\n",
            ),
            (
                "main.go",
                "package main\n\nimport (\n\t\"example.com/greet\"\n\t\"example.com/local\"\n)\n\n\
                 func main() { println(greet.Hello(), local.Name()) }\n",
            ),
            ("local/go.mod", "module example.com/local\n\ngo 1.19\n"),
            ("local/local.go", "package local\n\nfunc Name() string { return \"local\" }\n"),
            ("vendor/example.com/local/local.go", "package local\n\nfunc Name() string { return \"local\" }\n"),
            ("vendor/example.com/greet/greet.go", "package greet\n\nfunc Hello() string { return \"hello\" }\n"),
            (
                "vendor/modules.txt",
                "# example.com/greet v1.2.3\n## explicit; go 1.19\nexample.com/greet\n\
                 # example.com/local v0.0.0 => ./local\n## explicit; go 1.19\nexample.com/local\n\
                 # example.com/local => ./local\n",
            ),
        ];
        for (path, text) in files {
            std::fs::create_dir_all(root.join(path).parent().unwrap()).unwrap();
            std::fs::write(root.join(path), text).unwrap();
        }
        go_command(root, &["build", "-o", "hello", "."]);
        let go_version = String::from_utf8(go_command(root, &["env", "GOVERSION"]).stdout).unwrap().trim().to_owned();
        let go_arch = String::from_utf8(go_command(root, &["env", "GOARCH"]).stdout).unwrap().trim().to_owned();
        let go_says = String::from_utf8(go_command(root, &["version", "-m", "hello"]).stdout).unwrap();
        assert!(go_says.contains("\tdep\texample.com/greet\tv1.2.3"), "{go_says}");
        assert!(go_says.contains("\t=>\t./local\t"), "{go_says}");

        let binary = std::fs::File::open(root.join("hello")).unwrap();
        let (packages, notes) = inspect(&mut trickle(binary), &file("usr/local/bin/hello")).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        let found: Vec<(&str, &str, &str)> = packages
            .iter()
            .map(|package| (package.name.as_str(), package.version.as_str(), package.purl.as_str()))
            .collect();
        let stdlib_purl = format!("pkg:golang/stdlib@{}", go_version.trim_start_matches("go"));
        assert_eq!(
            found,
            [
                ("stdlib", go_version.as_str(), stdlib_purl.as_str()),
                ("example.com/hello", "(devel)", "pkg:golang/example.com/hello@%28devel%29"),
                ("example.com/greet", "v1.2.3", "pkg:golang/example.com/greet@v1.2.3"),
                ("example.com/local", "(devel)", "pkg:golang/example.com/local@%28devel%29"),
            ]
        );
        for package in &packages {
            assert_eq!(package.kind, PackageKind::Golang);
            assert_eq!(package.arch.as_deref(), Some(go_arch.as_str()));
            assert_eq!(package.found_in, "usr/local/bin/hello");
            assert_eq!(package.layer, "sha256:ee");
        }
        assert_eq!(packages[0].licenses, ["BSD-3-Clause"]);
    }

    /// A copy of this machine's `/usr/bin/true` given a `.dep-v0` section by objcopy, as
    /// cargo-auditable's linker step leaves one: not loaded, zlib-compressed JSON.
    #[test]
    fn a_binary_with_a_dep_v0_section_lists_its_runtime_crates() {
        let dir = tempfile::tempdir().unwrap();
        let section = dir.path().join("dep-v0");
        std::fs::write(&section, zlib(AUDIT_JSON.as_bytes())).unwrap();
        let binary = dir.path().join("true-auditable");
        let output = Command::new("objcopy")
            .arg("--add-section")
            .arg(format!(".dep-v0={}", section.display()))
            .args(["--set-section-flags", ".dep-v0=noload,readonly", "/usr/bin/true"])
            .arg(&binary)
            .output()
            .expect("this test needs objcopy (Debian: binutils) and /usr/bin/true (coreutils)");
        assert!(output.status.success(), "objcopy failed: {}", String::from_utf8_lossy(&output.stderr));

        let (packages, notes) =
            inspect(&mut trickle(std::fs::File::open(binary).unwrap()), &file("usr/bin/app")).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(purls(&packages), ["pkg:cargo/app@0.1.0", "pkg:cargo/serde@1.0.200", "pkg:cargo/libc@0.2.155"]);
        assert!(packages.iter().all(|package| package.kind == PackageKind::Cargo && package.found_in == "usr/bin/app"));

        let (packages, notes) =
            inspect(&mut std::fs::File::open("/usr/bin/true").unwrap(), &file("usr/bin/true")).unwrap();
        assert!(packages.is_empty() && notes.is_empty(), "{packages:?} {notes:?}");
    }

    /// What binutils' readelf says of a synthetic binary's sections and segments, which it must
    /// read without a complaint, so that the fixture's layout is not merely what the parser
    /// expects.
    fn readelf(bytes: &[u8]) -> String {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("synthetic");
        std::fs::write(&path, bytes).unwrap();
        let output = Command::new("readelf")
            .args(["--section-headers", "--segments", "--wide"])
            .arg(path)
            .output()
            .expect("this test needs readelf (Debian: binutils)");
        assert!(output.status.success() && output.stderr.is_empty(), "{output:?}");
        String::from_utf8_lossy(&output.stdout).into_owned()
    }

    /// Each synthetic binary is first shown to binutils' readelf, which must find its
    /// sections.
    #[test]
    fn every_kind_of_elf_is_read_32_and_64_bit_little_and_big_endian() {
        let go = go_blob(2, "go1.21.5", MODINFO);
        let dep = zlib(AUDIT_JSON.as_bytes());
        for kind in KINDS {
            let sections = readelf(&synthetic_elf(kind, 64 * 1024 + 400, Some(&go[..]), Some(&dep[..])).to_vec());
            assert!(sections.contains(".dep-v0") && sections.contains(".shstrtab"), "{kind:?}: {sections}");

            let mut elf = trickle(synthetic_elf(kind, 64 * 1024 + 400, Some(&go[..]), Some(&dep[..])));
            let (packages, notes) = inspect(&mut elf, &file("bin/app")).unwrap();
            assert!(notes.is_empty(), "{kind:?}: {notes:?}");
            assert_eq!(
                purls(&packages),
                [
                    "pkg:golang/stdlib@1.21.5",
                    "pkg:golang/example.com/app@v1.0.0",
                    "pkg:golang/golang.org/x/text@v0.14.0",
                    "pkg:cargo/app@0.1.0",
                    "pkg:cargo/serde@1.0.200",
                    "pkg:cargo/libc@0.2.155",
                ],
                "{kind:?}"
            );
            assert_eq!(packages[0].version, "go1.21.5");
            assert_eq!(packages[2].name, "golang.org/x/text");
            assert_eq!(packages[1].arch.as_deref(), Some("arm64"));
        }
    }

    /// 200 MiB, nearly all of it loaded segment, generated as it is read: one pass finds
    /// the build information near its end and keeps only the few hundred bytes after the
    /// loaded segment, however the binary is sized.
    #[test]
    fn a_200_mib_binary_is_read_in_one_pass_keeping_only_its_unloaded_tail() {
        let loaded = 200 << 20;
        let go = go_blob(2, "go1.22.1", MODINFO);
        let dep = zlib(AUDIT_JSON.as_bytes());
        let mut elf = synthetic_elf(KINDS[0], loaded, Some(&go[..]), Some(&dep[..]));
        let total = elf.len;
        let Streamed { header, mut kept, finder } = stream(&mut elf, &file("bin/big")).unwrap().unwrap();
        assert_eq!(elf.pos, total, "the file is read to its end");
        assert_eq!(kept.prefix.len(), CHUNK);
        assert_eq!((kept.tail_start, kept.tail_end), (loaded, total));
        assert!(kept.tail_end - kept.tail_start < 1024, "only the unloaded tail is kept");
        assert!(!kept.tail.is_rolled(), "a tail this small stays in memory");
        let go::Found::Inline(blob) = finder.finish(&go::Place::Anywhere) else {
            panic!("the build information is found")
        };
        assert!(blob.len() <= go::CAPTURE_CAP, "{} bytes kept after the magic", blob.len());
        assert_eq!(purls(&go::packages(&blob, &file("bin/big")).unwrap().packages)[0], "pkg:golang/stdlib@1.22.1");
        let sections = SectionTable::read(&header, &mut kept).unwrap();
        assert_eq!(auditable_section(sections.as_ref(), &mut kept).unwrap(), Some(Ok(dep)));
    }

    #[test]
    fn a_tail_over_its_memory_share_spills_to_disk_and_reads_back() {
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        let noise: Vec<u8> = (0..6 << 20)
            .map(|_| {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                state.to_le_bytes()[0]
            })
            .collect();
        let dep = zlib(&noise);
        assert!(dep.len() > TAIL_IN_MEMORY, "noise does not compress: the tail spills");
        let mut elf = synthetic_elf(KINDS[0], 8192 + 64, None, Some(&dep[..]));
        let Streamed { header, mut kept, .. } = stream(&mut elf, &file("bin/app")).unwrap().unwrap();
        assert!(kept.tail.is_rolled());
        let sections = SectionTable::read(&header, &mut kept).unwrap();
        assert_eq!(auditable_section(sections.as_ref(), &mut kept).unwrap(), Some(Ok(dep)));
    }

    /// A tail past its cap stops being kept (a file of zeros compresses to nothing in a
    /// layer and would fill the disk), and says so.
    #[test]
    fn a_tail_past_its_cap_is_not_kept_and_says_so() {
        let mut kept = Kept {
            prefix: Vec::new(),
            names: None,
            tail_start: 0,
            tail_end: 0,
            tail: tempfile::spooled_tempfile(16),
            over_cap: false,
        };
        kept.keep(0, b"abcd").unwrap();
        assert!(!kept.over_cap);
        kept.keep(MAX_TAIL - 2, b"efgh").unwrap();
        assert!(kept.over_cap, "a tail past {MAX_TAIL} bytes");
        assert_eq!(kept.tail_end, 4, "nothing past the cap is kept");
    }

    #[test]
    fn kept_bytes_join_the_prefix_to_the_tail_and_a_gap_between_them_reads_as_nothing() {
        let mut kept = Kept {
            prefix: b"0123456789".to_vec(),
            names: None,
            tail_start: 8,
            tail_end: 8,
            tail: tempfile::spooled_tempfile(16),
            over_cap: false,
        };
        kept.keep(0, b"0123456789").unwrap();
        kept.keep(10, b"abcdef").unwrap();
        assert_eq!(kept.bytes_at(6, 6).unwrap(), Some(b"6789ab".to_vec()));
        assert_eq!(kept.bytes_at(12, 4).unwrap(), Some(b"cdef".to_vec()));
        assert_eq!(kept.bytes_at(14, 3).unwrap(), None, "past the end");
        assert_eq!(kept.bytes_at(u64::MAX, 2).unwrap(), None);

        let mut gapped = Kept {
            prefix: b"0123".to_vec(),
            names: None,
            tail_start: 8,
            tail_end: 8,
            tail: tempfile::spooled_tempfile(16),
            over_cap: false,
        };
        gapped.keep(0, b"0123456789").unwrap();
        assert_eq!(gapped.bytes_at(2, 4).unwrap(), None, "bytes 4 to 7 were not kept");
        assert_eq!(gapped.bytes_at(8, 2).unwrap(), Some(b"89".to_vec()));
        assert_eq!(gapped.bytes_at(1, 2).unwrap(), Some(b"12".to_vec()));
    }

    #[test]
    fn go_build_info_before_1_18_is_a_note_and_a_later_real_header_wins() {
        let mut old = go_blob(0, "", "");
        old.truncate(32);
        let elf = synthetic_elf(KINDS[0], 32 * 1024, Some(&old[..]), None);
        let (packages, notes) = inspect(&mut elf.to_vec().as_slice(), &file("bin/old")).unwrap();
        assert!(packages.is_empty());
        assert_eq!(notes, ["Go binary bin/old: build info of a Go release before 1.18, not inventoried"]);

        // An aligned copy of the magic followed by other bytes (as a Go tool that embeds
        // the constant could hold), an older-format lookalike, then the real header.
        let mut decoy = b"\xff Go buildinf:\x08\x02not zero pointers".to_vec();
        decoy.resize(32, b'x');
        let mut bytes = synthetic_elf(KINDS[0], 32 * 1024, Some(&go_blob(2, "go1.20", MODINFO)[..]), None).to_vec();
        bytes[4096..4128].copy_from_slice(&decoy);
        bytes[4160..4192].copy_from_slice(&old);
        let (packages, notes) = inspect(&mut bytes.as_slice(), &file("bin/go")).unwrap();
        assert!(notes.is_empty(), "{notes:?}");
        assert_eq!(purls(&packages)[0], "pkg:golang/stdlib@1.20");
    }

    /// A Go 1.18 header for a decoy: a string constant in a tool that reads build information
    /// can hold one, earlier in the read-only data than the binary's own.
    fn decoy() -> Vec<u8> {
        go_blob(2, "go1.0", "")
    }

    /// Writes `bytes` at each offset of `at` in `file`.
    fn plant(file: &mut [u8], bytes: &[u8], at: impl IntoIterator<Item = usize>) {
        for at in at {
            file[at..at + bytes.len()].copy_from_slice(bytes);
        }
    }

    /// Without section headers Go's reader searches the first writable, non-executable
    /// segment, so a header in the executable segment before it is passed over; with none in
    /// that segment but some elsewhere, a note says so.
    #[test]
    fn without_section_headers_the_header_is_taken_from_the_data_segment() {
        let real = go_blob(2, "go1.21.5", MODINFO);
        for kind in KINDS {
            let layout = Layout {
                loaded: 32 * 1024,
                go: Some(&real[..]),
                data_from: Some(24 * 1024),
                no_sections: true,
                ..Layout::default()
            };
            assert_eq!(layout.go_offset(), 24 * 1024, "the build information opens the data segment");
            let mut bytes = layout.write(kind).to_vec();
            plant(&mut bytes, &decoy(), [4096]);
            assert_eq!(go_reads(&bytes), "go1.21.5", "{kind:?}: Go's own reader takes the same header");
            let (packages, notes) = inspect(&mut trickle(bytes.as_slice()), &file("bin/app")).unwrap();
            assert!(notes.is_empty(), "{kind:?}: {notes:?}");
            assert_eq!(
                purls(&packages),
                [
                    "pkg:golang/stdlib@1.21.5",
                    "pkg:golang/example.com/app@v1.0.0",
                    "pkg:golang/golang.org/x/text@v0.14.0"
                ],
                "{kind:?}"
            );

            let mut elsewhere = Layout { go: None, ..layout }.write(kind).to_vec();
            plant(&mut elsewhere, &decoy(), [4096]);
            let (packages, notes) = inspect(&mut elsewhere.as_slice(), &file("bin/app")).unwrap();
            assert!(packages.is_empty(), "{kind:?}");
            assert_eq!(
                notes,
                ["Go binary bin/app: no build info header in its first writable segment, where Go's reader looks \
                  for one: not inventoried"],
                "{kind:?}"
            );
        }
    }

    /// With section headers Go's reader takes the header in `.go.buildinfo`, even when the
    /// writable segment opens with another (an internal-linked PIE puts `.data.rel.ro` there);
    /// a `.go.buildinfo` section with no header in it is a note.
    #[test]
    fn with_section_headers_the_header_is_taken_from_the_go_buildinfo_section() {
        let real = go_blob(2, "go1.21.5", MODINFO);
        for kind in KINDS {
            let layout = Layout {
                loaded: 32 * 1024,
                go: Some(&real[..]),
                data_from: Some(8 * 1024),
                go_section: true,
                ..Layout::default()
            };
            let mut bytes = layout.write(kind).to_vec();
            plant(&mut bytes, &decoy(), [4096, 8192]);
            let said = readelf(&bytes);
            assert!(said.contains(".go.buildinfo") && said.contains("RW"), "{kind:?}: {said}");
            assert_eq!(go_reads(&bytes), "go1.21.5", "{kind:?}: Go's own reader takes the same header");
            let (packages, notes) = inspect(&mut trickle(bytes.as_slice()), &file("bin/app")).unwrap();
            assert!(notes.is_empty(), "{kind:?}: {notes:?}");
            assert_eq!(purls(&packages)[0], "pkg:golang/stdlib@1.21.5", "{kind:?}");

            let mut empty = Layout { go: None, ..layout }.write(kind).to_vec();
            plant(&mut empty, &decoy(), [4096, 8192]);
            let (packages, notes) = inspect(&mut empty.as_slice(), &file("bin/app")).unwrap();
            assert!(packages.is_empty(), "{kind:?}");
            assert_eq!(
                notes,
                ["Go binary bin/app: no build info header in its .go.buildinfo section, where Go's reader looks \
                  for one: not inventoried"],
                "{kind:?}"
            );
        }
    }

    /// At most [`go::MAX_HEADERS`] headers are kept, and the first from the data segment's start
    /// on, which the program headers give before the data passes: a Go program embedding Go
    /// binaries ahead of its data has its own header read however many it embeds, whether Go's
    /// reader takes it from the segment or from the `.go.buildinfo` section within it.
    #[test]
    fn headers_ahead_of_the_data_segment_never_crowd_out_the_one_go_takes() {
        let real = go_blob(2, "go1.21.5", MODINFO);
        let decoys_at = |count: usize| (0..count).map(|index| 4096 + 256 * index);
        for go_section in [false, true] {
            let layout = Layout {
                loaded: 32 * 1024,
                go: Some(&real[..]),
                data_from: Some(8 * 1024),
                go_section,
                no_sections: !go_section,
                ..Layout::default()
            };
            let mut bytes = layout.write(KINDS[0]).to_vec();
            // The real header is the first in the data segment and in `.go.buildinfo`.
            plant(&mut bytes, &decoy(), decoys_at(go::MAX_HEADERS + 3));
            let (packages, notes) = inspect(&mut trickle(bytes.as_slice()), &file("bin/app")).unwrap();
            assert!(notes.is_empty(), "section {go_section}: {notes:?}");
            assert_eq!(purls(&packages)[0], "pkg:golang/stdlib@1.21.5", "section {go_section}");
        }
    }

    /// When a header the segment's start does not account for may be the one Go's reader
    /// takes (one in the data segment ahead of `.go.buildinfo`, with more than
    /// [`go::MAX_HEADERS`] before), the real one could not be told apart, and a note says so.
    #[test]
    fn more_headers_than_are_kept_where_go_may_look_are_a_note() {
        let real = go_blob(2, "go1.21.5", MODINFO);
        let layout = Layout {
            loaded: 32 * 1024,
            go: Some(&real[..]),
            data_from: Some(8 * 1024),
            go_section: true,
            ..Layout::default()
        };
        let before = |count: usize| (0..count).map(|index| 4096 + 256 * index);
        let mut bytes = layout.write(KINDS[0]).to_vec();
        plant(&mut bytes, &decoy(), [8 * 1024]);
        plant(&mut bytes, &decoy(), before(go::MAX_HEADERS - 2));
        let (packages, notes) = inspect(&mut bytes.as_slice(), &file("bin/app")).unwrap();
        assert!(notes.is_empty(), "with the real one, as many headers as are kept: {notes:?}");
        assert_eq!(purls(&packages)[0], "pkg:golang/stdlib@1.21.5");

        plant(&mut bytes, &decoy(), before(go::MAX_HEADERS - 1));
        let (packages, notes) = inspect(&mut bytes.as_slice(), &file("bin/app")).unwrap();
        assert!(packages.is_empty());
        assert_eq!(
            notes,
            [format!(
                "Go binary bin/app: more than {} build info headers, and the one Go's reader takes could not be \
                 told from the rest: not inventoried",
                go::MAX_HEADERS
            )]
        );
    }

    /// A crafted table of 65,535 section headers, every one naming offset 0 of a megabyte of
    /// names without a NUL: each name is compared in place, so the lookup ends at once (a scan
    /// for the NUL per header and per name looked for would compare some 137 billion bytes),
    /// and finds neither section.
    #[test]
    fn a_section_table_of_unterminated_names_is_looked_up_in_one_cheap_pass() {
        let names = vec![b'.'; NAMES_CAP as usize];
        let sections = (0..u16::MAX).map(|_| elf::Section { name: 0, kind: 1, offset: 0, size: 0 }).collect();
        let table = SectionTable::find(sections, &names);
        assert!(table.go_buildinfo.is_none() && table.dep_v0.is_none());

        let names = b"\0.go.buildinfo\0.dep-v0\0";
        let section = |name, offset| elf::Section { name, kind: 1, offset, size: 0 };
        let table = SectionTable::find(vec![section(0, 0), section(15, 1), section(1, 2), section(15, 3)], names);
        assert_eq!(table.go_buildinfo.map(|found| found.offset), Some(2));
        assert_eq!(table.dep_v0.map(|found| found.offset), Some(1), "the first of a name");
    }

    /// Every header found keeps its own offset and the bytes after it, however the reads
    /// fall, so the one chosen afterwards is whole.
    #[test]
    fn each_header_found_keeps_its_offset_and_bytes_across_reads() {
        let real = go_blob(2, "go1.21.0", MODINFO);
        let at = 256;
        let mut bytes = decoy();
        bytes.resize(at, 0);
        bytes.extend_from_slice(&real);
        bytes.extend([7; 100]);
        for step in [1, 5, 16, 31, 32, 33, 4096] {
            let mut finder = go::Finder::default();
            for (index, chunk) in bytes.chunks(step).enumerate() {
                finder.feed((index * step) as u64, chunk);
            }
            let data = go::Place::Segment(at as u64..bytes.len() as u64);
            let go::Found::Inline(found) = finder.finish(&data) else { panic!("reads of {step}") };
            assert_eq!(found, bytes[at..], "reads of {step}");
        }
    }

    #[test]
    fn the_magic_is_found_across_reads_of_any_size_and_only_16_byte_aligned() {
        let blob = go_blob(2, "go1.21.0", MODINFO);
        for offset in [0, 16, 48, 4096 + 32] {
            for step in [1, 5, 16, 31, 32, 33, 4096] {
                let mut bytes = vec![0; offset];
                bytes.extend_from_slice(&blob);
                bytes.extend([7; 100]);
                let mut finder = go::Finder::default();
                for (index, chunk) in bytes.chunks(step).enumerate() {
                    finder.feed((index * step) as u64, chunk);
                }
                let go::Found::Inline(found) = finder.finish(&go::Place::Anywhere) else {
                    panic!("offset {offset}, reads of {step}")
                };
                assert_eq!(found[..blob.len()], blob[..], "offset {offset}, reads of {step}");
            }
        }
        let mut misaligned = vec![0; 40];
        misaligned.extend_from_slice(&blob);
        let mut finder = go::Finder::default();
        finder.feed(0, &misaligned);
        assert!(matches!(finder.finish(&go::Place::Anywhere), go::Found::Nothing));
    }

    #[test]
    fn module_lines_are_replaced_as_go_says_and_unreadable_ones_are_a_note() {
        let modinfo = "path\tx/cmd\nmod\tx\t(devel)\t\n\
                       dep\tgithub.com/a/b\tv1.0.0\th1:a=\n=>\tgithub.com/fork/b\tv1.0.1\th1:b=\n\
                       dep\tgithub.com/c/d\tv2.0.0\n=>\t../d\t\t\n\
                       dep\tgopkg.in/yaml.v3\tv3.0.1\th1:c=\n";
        let blob = go_blob(2, "devel go1.23-abcdef Tue Jan 1 00:00:00 2024 +0000", modinfo);
        let info = go::packages(&blob, &file("bin/x")).unwrap();
        let found: Vec<(&str, &str)> =
            info.packages.iter().map(|package| (package.name.as_str(), package.version.as_str())).collect();
        assert_eq!(
            found,
            [
                ("stdlib", "go1.23-abcdef"),
                ("x", "(devel)"),
                ("github.com/fork/b", "v1.0.1"),
                ("github.com/c/d", "(devel)"),
                ("gopkg.in/yaml.v3", "v3.0.1"),
            ]
        );
        assert_eq!(info.packages[1].purl, "pkg:golang/x@%28devel%29");
        assert_eq!(info.packages[4].purl, "pkg:golang/gopkg.in/yaml.v3@v3.0.1");
        assert_eq!(info.packages[0].arch, None, "no GOARCH line, no arch");
        assert_eq!(info.note, None);

        let bare = go::packages(&go_blob(2, "go1.21.5", ""), &file("bin/gopath")).unwrap();
        assert_eq!(purls(&bare.packages), ["pkg:golang/stdlib@1.21.5"]);
        assert!(bare.note.unwrap().starts_with("Go binary bin/gopath: its build info lists no modules"));

        for (modinfo, expected) in [
            ("dep\tx\tv1\nbuild\tGOOS=linux\n=>\ty\tv2\n", "line 3 replaces no module"),
            ("path\tx\n=>\ty\tv2\n", "line 2 replaces no module"),
            ("dep\t\tv1\n", "line 1 has no module path"),
        ] {
            let elf = synthetic_elf(KINDS[2], 16 * 1024, Some(&go_blob(2, "go1.21.5", modinfo)[..]), None);
            let (packages, notes) = inspect(&mut elf.to_vec().as_slice(), &file("bin/bad")).unwrap();
            assert!(packages.is_empty(), "{modinfo:?}");
            assert_eq!(
                notes,
                [format!("Go binary bin/bad: its build info is unreadable ({expected}), not inventoried")],
                "{modinfo:?}"
            );
        }
    }

    #[test]
    fn a_zip_bomb_or_garbage_in_dep_v0_is_a_note_not_an_error() {
        for (dep, expected) in [
            (zlib(&vec![0_u8; 17 << 20]), "it decompresses to over 16777216 bytes"),
            (b"not zlib at all".to_vec(), "it does not decompress as zlib"),
            (zlib(b"{\"packages\": 7}"), "it is not the JSON cargo-auditable writes"),
        ] {
            let elf = synthetic_elf(KINDS[1], 16 * 1024, None, Some(&dep[..]));
            let (packages, notes) = inspect(&mut elf.to_vec().as_slice(), &file("bin/rs")).unwrap();
            assert!(packages.is_empty());
            assert_eq!(notes.len(), 1);
            assert!(
                notes[0].starts_with("Rust binary bin/rs: its cargo-auditable dependency list is unreadable (")
                    && notes[0].contains(expected),
                "{notes:?}"
            );
        }
    }

    #[test]
    fn files_that_are_not_elf_hold_nothing_and_a_failing_read_names_the_file() {
        for bytes in [&b""[..], b"#!/bin/sh\necho hello\n", b"\x7fEL", b"\x7fELF\x03\x01\x01"] {
            let (packages, notes) = inspect(&mut &bytes[..], &file("bin/script")).unwrap();
            assert!(packages.is_empty() && notes.is_empty());
        }

        struct Failing(Vec<u8>);
        impl Read for Failing {
            fn read(&mut self, buf: &mut [u8]) -> io::Result<usize> {
                if self.0.is_empty() {
                    return Err(io::Error::other("the layer's gzip stream is corrupt"));
                }
                let count = self.0.len().min(buf.len());
                buf[..count].copy_from_slice(&self.0[..count]);
                self.0 = self.0.split_off(count);
                Ok(count)
            }
        }
        let head = synthetic_elf(KINDS[0], 8192, None, None).to_vec()[..4096].to_vec();
        let error = inspect(&mut Failing(head), &file("bin/cut")).unwrap_err();
        assert!(
            matches!(&error, InventoryError::Read { layer, path, .. } if layer == "sha256:ee" && path == "bin/cut"),
            "{error}"
        );
    }

    #[test]
    fn random_damage_to_a_binary_gives_packages_or_notes_never_a_panic() {
        let go = go_blob(2, "go1.21.5", MODINFO);
        let dep = zlib(AUDIT_JSON.as_bytes());
        let mut state = 0x9e37_79b9_7f4a_7c15_u64;
        for kind in KINDS {
            let pristine = synthetic_elf(kind, 12 * 1024, Some(&go[..]), Some(&dep[..])).to_vec();
            let interesting: Vec<usize> =
                (0..128).chain(4096 - 64..4096 + 256).chain(12 * 1024..pristine.len()).collect();
            for _ in 0..300 {
                let mut bytes = pristine.clone();
                for _ in 0..3 {
                    state ^= state << 13;
                    state ^= state >> 7;
                    state ^= state << 17;
                    let at = interesting[usize::try_from(state % interesting.len() as u64).unwrap()];
                    if let Some(byte) = bytes.get_mut(at) {
                        *byte = state.to_le_bytes()[7];
                    }
                }
                let _ = inspect(&mut bytes.as_slice(), &file("bin/fuzz")).unwrap();
            }
        }
    }
}
