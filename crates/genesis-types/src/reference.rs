//! Image references in the distribution grammar (`[host[:port]/]path[:tag][@digest]`),
//! normalised the way Docker and containerd do (`nginx` is `docker.io/library/nginx`).

use std::fmt;
use std::str::FromStr;

use crate::{Digest, TypeError};

/// Registry host assumed when a reference names none.
pub const DEFAULT_REGISTRY: &str = "docker.io";

/// A parsed, normalised image reference.
#[derive(Debug, Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct ImageReference {
    registry: String,
    repository: String,
    tag: Option<String>,
    digest: Option<Digest>,
}

impl ImageReference {
    /// Registry host, with port if any (`docker.io` when the text named none).
    pub fn registry(&self) -> &str {
        &self.registry
    }

    /// Repository path inside the registry (`library/nginx`).
    pub fn repository(&self) -> &str {
        &self.repository
    }

    /// The tag, if the reference has one.
    pub fn tag(&self) -> Option<&str> {
        self.tag.as_deref()
    }

    /// The digest, if the reference is pinned.
    pub fn digest(&self) -> Option<&Digest> {
        self.digest.as_ref()
    }
}

fn is_path_component(c: &str) -> bool {
    // [a-z0-9]+ ((\.|_|__|-+) [a-z0-9]+)*
    let b = c.as_bytes();
    if b.is_empty() || !is_alnum_lower(b[0]) || !is_alnum_lower(b[b.len() - 1]) {
        return false;
    }
    let mut i = 0;
    while i < b.len() {
        if is_alnum_lower(b[i]) {
            i += 1;
            continue;
        }
        let start = i;
        while i < b.len() && !is_alnum_lower(b[i]) {
            i += 1;
        }
        let sep = &c[start..i];
        if !(sep == "." || sep == "_" || sep == "__" || sep.bytes().all(|x| x == b'-')) {
            return false;
        }
    }
    true
}

fn is_alnum_lower(b: u8) -> bool {
    b.is_ascii_lowercase() || b.is_ascii_digit()
}

fn is_domain(c: &str) -> bool {
    let (host, port) = match c.rsplit_once(':') {
        Some((h, p)) => (h, Some(p)),
        None => (c, None),
    };
    let host_ok = !host.is_empty()
        && host.split('.').all(|label| {
            !label.is_empty()
                && label.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
                && !label.starts_with('-')
                && !label.ends_with('-')
        });
    let host_ok = host_ok || (host.starts_with('[') && host.ends_with(']'));
    host_ok && port.is_none_or(|p| !p.is_empty() && p.len() <= 5 && p.bytes().all(|b| b.is_ascii_digit()))
}

fn is_tag(t: &str) -> bool {
    let b = t.as_bytes();
    !b.is_empty()
        && b.len() <= 128
        && (b[0].is_ascii_alphanumeric() || b[0] == b'_')
        && b.iter().all(|&x| x.is_ascii_alphanumeric() || matches!(x, b'_' | b'.' | b'-'))
}

impl FromStr for ImageReference {
    type Err = TypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| TypeError::Reference { value: s.to_owned(), reason };
        if s.len() > 4096 {
            return Err(err("too long"));
        }
        let (rest, digest) = match s.split_once('@') {
            Some((r, d)) => (r, Some(d.parse::<Digest>().map_err(|_| err("invalid digest"))?)),
            None => (s, None),
        };
        // A tag is after the last ':' that follows the last '/'.
        let last_slash = rest.rfind('/').map_or(0, |i| i + 1);
        let (name, tag) = match rest[last_slash..].rfind(':') {
            Some(i) => (&rest[..last_slash + i], Some(&rest[last_slash + i + 1..])),
            None => (rest, None),
        };
        if let Some(t) = tag
            && !is_tag(t)
        {
            return Err(err("invalid tag"));
        }
        let mut components: Vec<&str> = name.split('/').collect();
        let first = components[0];
        let registry = if components.len() > 1
            && (first.contains('.') || first.contains(':') || first == "localhost" || first.starts_with('['))
        {
            if !is_domain(first) {
                return Err(err("invalid registry host"));
            }
            components.remove(0);
            first.to_owned()
        } else {
            DEFAULT_REGISTRY.to_owned()
        };
        if components.iter().any(|c| !is_path_component(c)) {
            return Err(err("repository must be lowercase [a-z0-9] components separated by '/'"));
        }
        let mut repository = components.join("/");
        if registry == DEFAULT_REGISTRY && components.len() == 1 {
            repository = format!("library/{repository}");
        }
        Ok(ImageReference { registry, repository, tag: tag.map(str::to_owned), digest })
    }
}

impl fmt::Display for ImageReference {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.registry, self.repository)?;
        if let Some(t) = &self.tag {
            write!(f, ":{t}")?;
        }
        if let Some(d) = &self.digest {
            write!(f, "@{d}")?;
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn norm(s: &str) -> String {
        s.parse::<ImageReference>().unwrap().to_string()
    }

    #[test]
    fn normalises_like_docker() {
        assert_eq!(norm("nginx:1.27"), "docker.io/library/nginx:1.27");
        assert_eq!(norm("docker.io/library/nginx:1.27"), "docker.io/library/nginx:1.27");
        assert_eq!(norm("bitnami/redis"), "docker.io/bitnami/redis");
        assert_eq!(norm("localhost:5000/a/b:v1"), "localhost:5000/a/b:v1");
        assert_eq!(norm("registry.example.com/demo/app:1.0"), "registry.example.com/demo/app:1.0");
        let d = format!("sha256:{}", "1".repeat(64));
        assert_eq!(norm(&format!("quay.io/x/y:t@{d}")), format!("quay.io/x/y:t@{d}"));
    }

    #[test]
    fn refuses_malformed() {
        for bad in ["", "UPPER/case", "a//b", "x:", "x@sha256:zz", "reg.io:port/x", "a/-b"] {
            assert!(bad.parse::<ImageReference>().is_err(), "{bad}");
        }
    }
}
