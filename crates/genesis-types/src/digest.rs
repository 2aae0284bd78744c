//! Content digests in the OCI grammar, restricted to the algorithms we can verify.

use std::fmt;
use std::str::FromStr;

use crate::TypeError;

/// The digest algorithms Genesis verifies. A closed set: an unknown algorithm is an error,
/// never "accepted without checking".
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub enum Algorithm {
    /// SHA-256, the OCI default.
    Sha256,
    /// SHA-512, allowed by the OCI image spec.
    Sha512,
}

impl Algorithm {
    /// The name used in the `algorithm:hex` form.
    pub fn name(self) -> &'static str {
        match self {
            Algorithm::Sha256 => "sha256",
            Algorithm::Sha512 => "sha512",
        }
    }

    /// Length of the hex-encoded value.
    pub fn hex_len(self) -> usize {
        match self {
            Algorithm::Sha256 => 64,
            Algorithm::Sha512 => 128,
        }
    }
}

/// A validated content digest such as `sha256:2c26…`: known algorithm, lowercase hex of the
/// exact length. `Deserialize` goes through the same parser, so a `Digest` in memory is
/// always well-formed.
#[derive(Clone, PartialEq, Eq, Hash, PartialOrd, Ord)]
pub struct Digest {
    algorithm: Algorithm,
    hex: String,
}

impl Digest {
    /// Builds a SHA-256 digest from the raw 32 output bytes of a hasher.
    pub fn from_sha256_bytes(bytes: [u8; 32]) -> Digest {
        Digest { algorithm: Algorithm::Sha256, hex: to_hex(&bytes) }
    }

    /// Parses the bare lowercase hex of a SHA-256 (the form `sha256sum` writes and some wire
    /// formats carry) through the same parser as `sha256:<hex>`.
    pub fn from_sha256_hex(hex: &str) -> Result<Digest, TypeError> {
        format!("sha256:{hex}").parse()
    }

    /// The algorithm part.
    pub fn algorithm(&self) -> Algorithm {
        self.algorithm
    }

    /// The lowercase hex part, without the algorithm prefix.
    pub fn hex(&self) -> &str {
        &self.hex
    }

    /// The path of this blob inside an OCI image layout: `blobs/<alg>/<hex>`.
    pub fn blob_path(&self) -> String {
        format!("blobs/{}/{}", self.algorithm.name(), self.hex)
    }
}

fn to_hex(bytes: &[u8]) -> String {
    const HEX: &[u8; 16] = b"0123456789abcdef";
    let mut out = String::with_capacity(bytes.len() * 2);
    for b in bytes {
        out.push(HEX[usize::from(b >> 4)] as char);
        out.push(HEX[usize::from(b & 0xf)] as char);
    }
    out
}

impl FromStr for Digest {
    type Err = TypeError;

    fn from_str(s: &str) -> Result<Self, Self::Err> {
        let err = |reason| TypeError::Digest { value: s.to_owned(), reason };
        let (alg, hex) = s.split_once(':').ok_or_else(|| err("missing ':' separator"))?;
        let algorithm = match alg {
            "sha256" => Algorithm::Sha256,
            "sha512" => Algorithm::Sha512,
            _ => return Err(err("unsupported algorithm (expected sha256 or sha512)")),
        };
        if hex.len() != algorithm.hex_len() {
            return Err(err("wrong length for the algorithm"));
        }
        if !hex.bytes().all(|b| matches!(b, b'0'..=b'9' | b'a'..=b'f')) {
            return Err(err("not lowercase hex"));
        }
        Ok(Digest { algorithm, hex: hex.to_owned() })
    }
}

impl fmt::Display for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}:{}", self.algorithm.name(), self.hex)
    }
}

impl fmt::Debug for Digest {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "Digest({self})")
    }
}

impl serde::Serialize for Digest {
    fn serialize<S: serde::Serializer>(&self, s: S) -> Result<S::Ok, S::Error> {
        s.collect_str(self)
    }
}

impl<'de> serde::Deserialize<'de> for Digest {
    fn deserialize<D: serde::Deserializer<'de>>(d: D) -> Result<Self, D::Error> {
        let s = String::deserialize(d)?;
        s.parse().map_err(serde::de::Error::custom)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn check(input: &str, ok: bool) {
        assert_eq!(input.parse::<Digest>().is_ok(), ok, "{input}");
    }

    #[test]
    fn grammar() {
        let hex64 = "a".repeat(64);
        check(&format!("sha256:{hex64}"), true);
        check(&format!("sha512:{}", "0".repeat(128)), true);
        check(&format!("sha256:{}", "A".repeat(64)), false);
        check(&format!("sha256:{}", "a".repeat(63)), false);
        check(&format!("md5:{hex64}"), false);
        check(&hex64, false);
        check(&format!("sha256:{}", "g".repeat(64)), false);
    }

    #[test]
    fn round_trips_through_display_and_serde() {
        let d = Digest::from_sha256_bytes([0xab; 32]);
        assert_eq!(d.to_string().parse::<Digest>(), Ok(d.clone()));
        let json = serde_json::to_string(&d).unwrap();
        assert_eq!(serde_json::from_str::<Digest>(&json).unwrap(), d);
        assert!(serde_json::from_str::<Digest>("\"sha256:xyz\"").is_err());
        assert_eq!(d.blob_path(), format!("blobs/sha256/{}", "ab".repeat(32)));
    }

    #[test]
    fn bare_sha256_hex_goes_through_the_same_parser() {
        let d = Digest::from_sha256_hex(&"ab".repeat(32)).unwrap();
        assert_eq!(d, Digest::from_sha256_bytes([0xab; 32]));
        let short = "ab".repeat(31);
        for bad in ["", "AB", "sha256:ab", short.as_str()] {
            assert!(Digest::from_sha256_hex(bad).is_err(), "{bad}");
        }
    }
}
