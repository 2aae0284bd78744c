//! OCI platforms (`os/arch[/variant]`), as written in image indexes and on command lines.

use std::fmt;
use std::str::FromStr;

use crate::TypeError;

/// The platform an image manifest is for, as in an OCI index entry.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord, serde::Serialize, serde::Deserialize)]
pub struct Platform {
    /// CPU architecture, e.g. `amd64`, `arm64`.
    pub architecture: String,
    /// Operating system, e.g. `linux`.
    pub os: String,
    /// CPU variant, e.g. `v8`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub variant: Option<String>,
    /// OS version (Windows images).
    #[serde(rename = "os.version", default, skip_serializing_if = "Option::is_none")]
    pub os_version: Option<String>,
}

impl FromStr for Platform {
    type Err = TypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let bad = || TypeError::Platform { value: s.to_owned() };
        let mut parts = s.split('/');
        let (os, arch) = (parts.next().ok_or_else(bad)?, parts.next().ok_or_else(bad)?);
        let variant = parts.next();
        let valid = |p: &str| !p.is_empty() && p.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'.');
        if parts.next().is_some() || !valid(os) || !valid(arch) || variant.is_some_and(|v| !valid(v)) {
            return Err(bad());
        }
        Ok(Platform {
            architecture: arch.to_owned(),
            os: os.to_owned(),
            variant: variant.map(str::to_owned),
            os_version: None,
        })
    }
}

impl fmt::Display for Platform {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.os, self.architecture)?;
        if let Some(v) = &self.variant {
            write!(f, "/{v}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn parses_and_prints() {
        for s in ["linux/amd64", "linux/arm64/v8", "windows/amd64"] {
            assert_eq!(s.parse::<Platform>().unwrap().to_string(), s);
        }
        for s in ["linux", "linux/", "/amd64", "a/b/c/d", "linux/am d64"] {
            assert!(s.parse::<Platform>().is_err(), "{s}");
        }
    }
}
