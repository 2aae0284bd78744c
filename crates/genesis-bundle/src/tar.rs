//! The canonical tar encoding (POSIX ustar, fixed metadata) and a strict reader that
//! accepts only what the writer produces: regular files and directories with safe paths.
//!
//! Written by hand rather than through the `tar` crate because both sides need exact
//! control: the writer must emit identical bytes on every machine, and the reader must name
//! each kind of refusal (link, device, unsafe path, truncation, trailing data) instead of
//! skipping or following it.

use std::io::{self, Read};

use crate::{BundleError, Result};

/// Size of a tar block.
pub const BLOCK: usize = 512;

/// Mode of every file entry.
const FILE_MODE: u32 = 0o644;
/// Mode of every directory entry.
const DIR_MODE: u32 = 0o755;

/// Zero bytes that pad `size` bytes of data up to a whole block.
pub fn padding(size: u64) -> usize {
    ((BLOCK as u64 - size % BLOCK as u64) % BLOCK as u64) as usize
}

/// The end-of-archive marker: two zero blocks.
pub const END_OF_ARCHIVE: [u8; 2 * BLOCK] = [0; 2 * BLOCK];

/// Header of a regular file: mode 0644, uid/gid 0, empty owner names, the given mtime; an
/// error when `path` does not fit a ustar header.
pub fn file_header(path: &str, size: u64, mtime: u64) -> Result<[u8; BLOCK]> {
    header(path, size, mtime, FILE_MODE, b'0')
}

/// Header of a directory (`path` ends with `/`): mode 0755, uid/gid 0; an error when `path`
/// does not fit a ustar header.
pub fn dir_header(path: &str, mtime: u64) -> Result<[u8; BLOCK]> {
    header(path, 0, mtime, DIR_MODE, b'5')
}

/// The largest mtime the header's 11 octal digits hold.
const MAX_MTIME: u64 = 8u64.pow(11) - 1;

fn header(path: &str, size: u64, mtime: u64, mode: u32, kind: u8) -> Result<[u8; BLOCK]> {
    let (prefix, name) = split_path(path)?;
    if mtime > MAX_MTIME {
        return Err(BundleError::UnencodableMtime { mtime, max: MAX_MTIME });
    }
    let mut h = [0u8; BLOCK];
    h[..name.len()].copy_from_slice(name);
    h[345..345 + prefix.len()].copy_from_slice(prefix);
    octal(&mut h[100..108], u64::from(mode));
    octal(&mut h[108..116], 0);
    octal(&mut h[116..124], 0);
    if size < 1 << 33 {
        octal(&mut h[124..136], size);
    } else {
        // GNU base-256 for entries of 8 GiB and more; every current tar reader accepts it.
        h[124] = 0x80;
        h[128..136].copy_from_slice(&size.to_be_bytes());
    }
    octal(&mut h[136..148], mtime);
    h[156] = kind;
    h[257..263].copy_from_slice(b"ustar\0");
    h[263..265].copy_from_slice(b"00");
    octal(&mut h[329..337], 0);
    octal(&mut h[337..345], 0);
    h[148..156].fill(b' ');
    let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
    octal(&mut h[148..155], u64::from(sum));
    h[154] = 0;
    h[155] = b' ';
    Ok(h)
}

/// Splits a path into ustar `prefix` (≤155 bytes) and `name` (≤100 bytes) at a `/`; an
/// error when no split exists (the path would need a PAX or GNU extension, which canonical
/// archives never use).
fn split_path(path: &str) -> Result<(&[u8], &[u8])> {
    let p = path.as_bytes();
    if p.len() <= 100 {
        return Ok((&[], p));
    }
    // The leftmost `/` that leaves at most 100 bytes after it keeps the prefix shortest.
    let start = p.len() - 101;
    match p[start..].iter().position(|&b| b == b'/').map(|i| start + i) {
        Some(split) if split <= 155 => Ok((&p[..split], &p[split + 1..])),
        _ => Err(BundleError::UnencodablePath { path: path.to_owned() }),
    }
}

/// Whether a path fits a ustar header: what [`file_header`] and [`dir_header`] accept.
pub fn check_encodable(path: &str) -> Result<()> {
    split_path(path).map(drop)
}

fn octal(field: &mut [u8], value: u64) {
    let digits = field.len() - 1;
    let s = format!("{value:0digits$o}");
    field[..digits].copy_from_slice(s.as_bytes());
    field[digits] = 0;
}

/// What kind of entry a header describes.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub enum EntryKind {
    /// A regular file.
    File,
    /// A directory.
    Dir,
}

/// One parsed header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Header {
    /// The full path (prefix joined with name), as UTF-8.
    pub path: String,
    /// File or directory.
    pub kind: EntryKind,
    /// Data size in bytes (0 for directories).
    pub size: u64,
}

/// Parses one header block. Returns `None` for a zero block (the end marker).
pub fn parse_header(h: &[u8; BLOCK]) -> Result<Option<Header>> {
    if h.iter().all(|&b| b == 0) {
        return Ok(None);
    }
    let corrupt = |detail: &str| BundleError::Corrupt { detail: format!("tar header: {detail}") };
    let stored = parse_octal(&h[148..156]).ok_or_else(|| corrupt("unreadable checksum"))?;
    let unsigned: u64 =
        h.iter().enumerate().map(|(i, &b)| if (148..156).contains(&i) { 32 } else { u64::from(b) }).sum();
    if stored != unsigned {
        return Err(corrupt("checksum mismatch"));
    }
    if &h[257..263] != b"ustar\0" {
        return Err(corrupt("not a POSIX ustar header"));
    }
    let name = cstr(&h[..100]);
    let prefix = cstr(&h[345..500]);
    let raw: Vec<u8> = if prefix.is_empty() { name.to_vec() } else { [prefix, b"/", name].concat() };
    let path = String::from_utf8(raw).map_err(|e| BundleError::UnsafePath {
        path: String::from_utf8_lossy(e.as_bytes()).into_owned(),
        reason: "not UTF-8".into(),
    })?;
    let forbidden = |kind| Err(BundleError::ForbiddenEntryType { path: path.clone(), kind });
    let kind = match h[156] {
        b'0' | 0 => EntryKind::File,
        b'5' => EntryKind::Dir,
        b'1' => return forbidden("hard link"),
        b'2' => return forbidden("symbolic link"),
        b'3' => return forbidden("character device"),
        b'4' => return forbidden("block device"),
        b'6' => return forbidden("fifo"),
        b'7' => return forbidden("contiguous file"),
        b'x' => return forbidden("pax extended header"),
        b'g' => return forbidden("pax global header"),
        b'L' => return forbidden("GNU long-name header"),
        b'K' => return forbidden("GNU long-link-name header"),
        b'S' => return forbidden("GNU sparse file"),
        _ => return forbidden("entry of unknown type"),
    };
    let size = if h[124] & 0x80 != 0 {
        if h[124..128] != [0x80, 0, 0, 0] {
            return Err(corrupt("size out of range"));
        }
        u64::from_be_bytes(h[128..136].try_into().expect("8 bytes"))
    } else {
        parse_octal(&h[124..136]).ok_or_else(|| corrupt("unreadable size"))?
    };
    if kind == EntryKind::Dir && size != 0 {
        return Err(corrupt("directory with data"));
    }
    Ok(Some(Header { path, kind, size }))
}

fn cstr(b: &[u8]) -> &[u8] {
    &b[..b.iter().position(|&x| x == 0).unwrap_or(b.len())]
}

/// The mtime a header states, `None` when the field does not parse: a re-signed head's
/// entries take the old head's (`crate::HeadRewrite`).
pub(crate) fn mtime(h: &[u8; BLOCK]) -> Option<u64> {
    parse_octal(&h[136..148])
}

fn parse_octal(b: &[u8]) -> Option<u64> {
    let s = std::str::from_utf8(b).ok()?;
    let s = s.trim_matches(|c| c == ' ' || c == '\0');
    if s.is_empty() {
        return Some(0);
    }
    u64::from_str_radix(s, 8).ok()
}

/// Reads exactly one block, telling a clean end of stream (`Ok(false)`) from a truncated
/// block.
pub fn read_block(r: &mut impl Read, block: &mut [u8; BLOCK]) -> Result<bool> {
    let mut filled = 0;
    while filled < BLOCK {
        match r.read(&mut block[filled..]) {
            Ok(0) if filled == 0 => return Ok(false),
            Ok(0) => {
                return Err(BundleError::Truncated { detail: "stream ends inside a tar header".into() });
            }
            Ok(n) => filled += n,
            Err(e) if e.kind() == io::ErrorKind::Interrupted => {}
            Err(e) => return Err(crate::archive::from_io(e, "reading the archive")),
        }
    }
    Ok(true)
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn header_round_trips_short_and_long_paths() {
        let long = format!("{}/{}", "d".repeat(120), "f".repeat(90));
        for (path, size) in [("bom.json", 12u64), (long.as_str(), 1 << 34)] {
            check_encodable(path).unwrap();
            let h = file_header(path, size, 1_700_000_000).unwrap();
            let parsed = parse_header(&h).unwrap().unwrap();
            assert_eq!(parsed, Header { path: path.into(), kind: EntryKind::File, size });
        }
        assert!(check_encodable(&"x".repeat(101)).is_err());
    }

    #[test]
    fn a_path_no_ustar_header_can_hold_is_an_error_not_a_panic() {
        let long_name = format!("signatures/{}", "n".repeat(120));
        let long_prefix = format!("{}/{}", "d".repeat(160), "f".repeat(10));
        let one_long_component = "x".repeat(101);
        for path in [long_name.as_str(), long_prefix.as_str(), one_long_component.as_str()] {
            assert!(check_encodable(path).is_err(), "{path}");
            match file_header(path, 1, 0) {
                Err(BundleError::UnencodablePath { path: refused, .. }) => assert_eq!(refused, path),
                other => panic!("{path}: {other:?}"),
            }
        }
        let long_dir = format!("{long_prefix}/");
        assert!(matches!(dir_header(&long_dir, 0), Err(BundleError::UnencodablePath { .. })));
        assert!(matches!(file_header("a", 0, MAX_MTIME + 1), Err(BundleError::UnencodableMtime { .. })));
        file_header("a", 0, MAX_MTIME).unwrap();
    }

    #[test]
    fn refuses_links_and_bad_checksums() {
        let mut h = file_header("a", 0, 0).unwrap();
        h[156] = b'2';
        h[148..156].fill(b' ');
        let sum: u32 = h.iter().map(|&b| u32::from(b)).sum();
        octal(&mut h[148..155], u64::from(sum));
        assert!(matches!(parse_header(&h), Err(BundleError::ForbiddenEntryType { kind: "symbolic link", .. })));
        let mut h = file_header("a", 0, 0).unwrap();
        h[0] = b'b';
        assert!(matches!(parse_header(&h), Err(BundleError::Corrupt { .. })));
    }
}
