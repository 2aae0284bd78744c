//! Just enough of ELF to find a section by name and the data segment: the file header, the
//! program headers' loaded segments (where their bytes are, and whether they are writable
//! data), and the section headers, for the four kinds of ELF (32- and 64-bit, little- and
//! big-endian). Layouts from the System V ABI's "Object Files" chapters
//! (<https://www.sco.com/developers/gabi/latest/ch4.eheader.html>, `ch4.sheader.html`,
//! `ch5.pheader.html`). Every read is bounds-checked: a field that is not there reads as
//! nothing, never as a panic.

/// `PT_LOAD`: a segment the loader maps from the file.
const PT_LOAD: u32 = 1;
/// `PF_X`: the bit of a segment's flags that lets it be executed.
const PF_X: u32 = 1;
/// `PF_W`: the bit of a segment's flags that lets it be written.
const PF_W: u32 = 2;
/// `SHT_NOBITS`: a section that occupies no bytes in the file (`.bss`).
pub(super) const SHT_NOBITS: u32 = 8;

/// The fields of an ELF file header this crate uses.
pub(super) struct Header {
    class: Class,
    endian: Endian,
    phoff: u64,
    phentsize: u16,
    phnum: u16,
    shoff: u64,
    shentsize: u16,
    shnum: u16,
    /// The index of the section holding the section names.
    pub(super) shstrndx: u16,
}

/// 32- or 64-bit (`EI_CLASS`).
#[derive(Clone, Copy)]
enum Class {
    Elf32,
    Elf64,
}

/// Byte order (`EI_DATA`).
#[derive(Clone, Copy)]
enum Endian {
    Little,
    Big,
}

/// One section header: where its name is in the section-name table, its type, and where its
/// bytes are in the file.
pub(super) struct Section {
    pub(super) name: u32,
    pub(super) kind: u32,
    pub(super) offset: u64,
    pub(super) size: u64,
}

/// One `PT_LOAD` segment: where its bytes are in the file, and its flags.
pub(super) struct Segment {
    pub(super) offset: u64,
    pub(super) file_size: u64,
    flags: u32,
}

impl Segment {
    /// Whether the segment is writable and not executable: the data segment, which Go's
    /// build information reader searches when no section names where the information is.
    pub(super) fn is_writable_data(&self) -> bool {
        self.flags & (PF_X | PF_W) == PF_W
    }
}

impl Header {
    /// The header at the start of `bytes`, or `None` when they are not ELF (or an ELF whose
    /// class or byte order is neither of the two defined).
    pub(super) fn parse(bytes: &[u8]) -> Option<Header> {
        if bytes.get(..4)? != b"\x7fELF" {
            return None;
        }
        let class = match bytes.get(4)? {
            1 => Class::Elf32,
            2 => Class::Elf64,
            _ => return None,
        };
        let endian = match bytes.get(5)? {
            1 => Endian::Little,
            2 => Endian::Big,
            _ => return None,
        };
        let fields = Fields { bytes, endian };
        Some(match class {
            Class::Elf64 => Header {
                class,
                endian,
                phoff: fields.u64(32)?,
                shoff: fields.u64(40)?,
                phentsize: fields.u16(54)?,
                phnum: fields.u16(56)?,
                shentsize: fields.u16(58)?,
                shnum: fields.u16(60)?,
                shstrndx: fields.u16(62)?,
            },
            Class::Elf32 => Header {
                class,
                endian,
                phoff: fields.u32(28)?.into(),
                shoff: fields.u32(32)?.into(),
                phentsize: fields.u16(42)?,
                phnum: fields.u16(44)?,
                shentsize: fields.u16(46)?,
                shnum: fields.u16(48)?,
                shstrndx: fields.u16(50)?,
            },
        })
    }

    /// Where the file bytes of the loaded segments end (the largest `p_offset + p_filesz` of
    /// a `PT_LOAD`), when the program headers lie within `prefix`, as they do in every
    /// executable a linker writes (right after the file header). Linkers put the sections
    /// that are not loaded, and usually the section header table, after this point.
    pub(super) fn loaded_end(&self, prefix: &[u8]) -> Option<u64> {
        self.loaded_segments(prefix)?.iter().map(|segment| segment.offset.saturating_add(segment.file_size)).max()
    }

    /// The `PT_LOAD` segments in the order of the program headers, when these lie within
    /// `prefix`.
    pub(super) fn loaded_segments(&self, prefix: &[u8]) -> Option<Vec<Segment>> {
        let entry_len = usize::from(self.phentsize);
        let minimum = match self.class {
            Class::Elf32 => 32,
            Class::Elf64 => 56,
        };
        if entry_len < minimum {
            return None;
        }
        let start = usize::try_from(self.phoff).ok()?;
        let table = prefix.get(start..start.checked_add(usize::from(self.phnum) * entry_len)?)?;
        let segments = table
            .chunks_exact(entry_len)
            .filter_map(|raw| {
                let fields = Fields { bytes: raw, endian: self.endian };
                if fields.u32(0)? != PT_LOAD {
                    return None;
                }
                let (offset, file_size, flags) = match self.class {
                    Class::Elf32 => (u64::from(fields.u32(4)?), u64::from(fields.u32(16)?), fields.u32(24)?),
                    Class::Elf64 => (fields.u64(8)?, fields.u64(32)?, fields.u32(4)?),
                };
                Some(Segment { offset, file_size, flags })
            })
            .collect();
        Some(segments)
    }

    /// The offset and length of the section header table, or `None` when the file has none
    /// (or counts its sections the extended way, which only files of over 65,279 sections
    /// do, or gives its entries a size other than the ABI's).
    pub(super) fn section_table(&self) -> Option<(u64, u64)> {
        if self.shoff == 0 || self.shnum == 0 || usize::from(self.shentsize) != self.section_entry_len() {
            return None;
        }
        Some((self.shoff, u64::from(self.shnum) * u64::from(self.shentsize)))
    }

    /// The section headers in `table` (the bytes [`Header::section_table`] locates).
    pub(super) fn sections(&self, table: &[u8]) -> Vec<Section> {
        table
            .chunks_exact(self.section_entry_len())
            .filter_map(|raw| {
                let fields = Fields { bytes: raw, endian: self.endian };
                let (offset, size) = match self.class {
                    Class::Elf32 => (u64::from(fields.u32(16)?), u64::from(fields.u32(20)?)),
                    Class::Elf64 => (fields.u64(24)?, fields.u64(32)?),
                };
                Some(Section { name: fields.u32(0)?, kind: fields.u32(4)?, offset, size })
            })
            .collect()
    }

    fn section_entry_len(&self) -> usize {
        match self.class {
            Class::Elf32 => 40,
            Class::Elf64 => 64,
        }
    }
}

/// Whether the NUL-terminated name at `offset` of a section-name table is `name`: compared in
/// place, `name` and its NUL, with no search for the NUL, so that a crafted table (thousands of
/// headers pointing into a megabyte of names without one) costs a name's length per header.
pub(super) fn is_named(names: &[u8], offset: u32, name: &[u8]) -> bool {
    let Ok(start) = usize::try_from(offset) else { return false };
    let Some(end) = start.checked_add(name.len()) else { return false };
    names.get(start..end) == Some(name) && names.get(end) == Some(&0)
}

/// Fixed-size fields of a header, in the file's byte order.
struct Fields<'a> {
    bytes: &'a [u8],
    endian: Endian,
}

impl Fields<'_> {
    fn array<const N: usize>(&self, at: usize) -> Option<[u8; N]> {
        self.bytes.get(at..at.checked_add(N)?)?.try_into().ok()
    }

    fn u16(&self, at: usize) -> Option<u16> {
        let raw = self.array(at)?;
        Some(match self.endian {
            Endian::Little => u16::from_le_bytes(raw),
            Endian::Big => u16::from_be_bytes(raw),
        })
    }

    fn u32(&self, at: usize) -> Option<u32> {
        let raw = self.array(at)?;
        Some(match self.endian {
            Endian::Little => u32::from_le_bytes(raw),
            Endian::Big => u32::from_be_bytes(raw),
        })
    }

    fn u64(&self, at: usize) -> Option<u64> {
        let raw = self.array(at)?;
        Some(match self.endian {
            Endian::Little => u64::from_le_bytes(raw),
            Endian::Big => u64::from_be_bytes(raw),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_name_is_matched_with_its_nul_in_place() {
        let names = b"\0.rela.dyn\0.dep-v0\0.dep-v0x";
        assert!(is_named(names, 11, b".dep-v0"));
        assert!(is_named(names, 6, b".dyn"), "a name may end another one");
        assert!(!is_named(names, 1, b".rela"), "the start of a longer name");
        assert!(!is_named(names, 19, b".dep-v0"), "the start of a longer name");
        assert!(!is_named(names, 19, b".dep-v0x"), "no NUL after it");
        assert!(is_named(names, 0, b"") && !is_named(names, 1, b""), "the null section's empty name");
        assert!(!is_named(names, u32::MAX, b".dep-v0"));
    }
}
