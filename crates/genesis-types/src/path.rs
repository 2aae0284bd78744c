//! Paths of entries inside a bundle, validated so that extraction can never escape its
//! directory.

use std::fmt;
use std::str::FromStr;

use crate::TypeError;

/// Longest path a bundle entry may have. The ustar header holds 255 bytes (155 prefix + 100
/// name); staying inside it keeps every tar reader able to list the archive.
pub const MAX_PATH_LEN: usize = 255;

/// A relative, `/`-separated path of a file inside a bundle: UTF-8, no empty, `.` or `..`
/// components, no leading `/`, no backslash or control character, at most
/// [`MAX_PATH_LEN`] bytes. Joining it onto a directory always stays inside that directory.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct BundlePath(String);

impl BundlePath {
    /// The path as text.
    pub fn as_str(&self) -> &str {
        &self.0
    }

    /// The parent directories of this path, outermost first, each with a trailing `/`
    /// (`a/b/c` gives `a/`, `a/b/`).
    pub fn parent_dirs(&self) -> impl Iterator<Item = &str> {
        self.0.match_indices('/').map(move |(i, _)| &self.0[..=i])
    }

    /// Joins two validated parts with `/`.
    pub fn join(&self, child: &str) -> Result<BundlePath, TypeError> {
        format!("{}/{child}", self.0).parse()
    }
}

impl FromStr for BundlePath {
    type Err = TypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| TypeError::Path { value: s.to_owned(), reason };
        if s.is_empty() {
            return Err(err("empty path"));
        }
        if s.len() > MAX_PATH_LEN {
            return Err(err("longer than 255 bytes"));
        }
        if s.starts_with('/') {
            return Err(err("absolute path"));
        }
        if s.chars().any(|c| c == '\\' || c.is_control()) {
            return Err(err("backslash or control character"));
        }
        for component in s.split('/') {
            match component {
                "" => return Err(err("empty component")),
                "." | ".." => return Err(err("'.' or '..' component")),
                _ => {}
            }
        }
        Ok(BundlePath(s.to_owned()))
    }
}

impl fmt::Display for BundlePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str(&self.0)
    }
}

impl fmt::Debug for BundlePath {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{:?}", self.0)
    }
}

impl serde::Serialize for BundlePath {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(&self.0)
    }
}

impl<'de> serde::Deserialize<'de> for BundlePath {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn refuses_every_escape() {
        for bad in
            ["", "/etc/passwd", "../x", "a/../../x", "a/./b", "a//b", "a/", "a\\b", "a\nb", "\u{0}", &"x".repeat(256)]
        {
            assert!(bad.parse::<BundlePath>().is_err(), "{bad:?} accepted");
        }
    }

    #[test]
    fn accepts_ordinary_paths_and_lists_parents() {
        let p: BundlePath = "oci/blobs/sha256/abc".parse().unwrap();
        assert_eq!(p.parent_dirs().collect::<Vec<_>>(), ["oci/", "oci/blobs/", "oci/blobs/sha256/"]);
        assert_eq!("bom.json".parse::<BundlePath>().unwrap().parent_dirs().count(), 0);
        assert!("..a/b..".parse::<BundlePath>().is_ok());
    }
}
