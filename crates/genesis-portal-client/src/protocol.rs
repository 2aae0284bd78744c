//! The portal's HTTP API as plain types: what the server sends and the client reads.
//!
//! Every call carries `Authorization: Bearer sk_<org>_<random>`. Errors come back as an
//! [`ApiError`] body with 401 (no, unknown, expired or revoked key), 403 (a key without the
//! scope or the entitlement), 404 (nothing of that name for this organisation), 410 (an
//! export past its retention time), 429 (an organisation with as many exports building as it
//! may; `Retry-After` says when to try again). Export answers carry the quota headers
//! `X-RateLimit-Limit` (builds an organisation may run at once) and `X-RateLimit-Remaining`.

use genesis_types::Digest;
use serde::{Deserialize, Serialize};

/// The prefix of every API path.
pub const API: &str = "/v1";

/// What a license key may do. A key is created with `releases:read` unless told otherwise.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash, Serialize, Deserialize)]
pub enum Scope {
    /// List entitled releases, read their details, download their artifacts and the license file.
    #[serde(rename = "releases:read")]
    ReleasesRead,
    /// Read the status of air-gap exports and download them.
    #[serde(rename = "export:read")]
    ExportRead,
    /// Stage air-gap exports.
    #[serde(rename = "export:write")]
    ExportWrite,
}

impl Scope {
    /// Every scope, in display order.
    pub const ALL: [Scope; 3] = [Scope::ReleasesRead, Scope::ExportRead, Scope::ExportWrite];

    /// The scope's name on the wire and on the command line.
    pub fn as_str(self) -> &'static str {
        match self {
            Scope::ReleasesRead => "releases:read",
            Scope::ExportRead => "export:read",
            Scope::ExportWrite => "export:write",
        }
    }
}

impl std::fmt::Display for Scope {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

impl std::str::FromStr for Scope {
    type Err = String;
    fn from_str(s: &str) -> Result<Scope, String> {
        Scope::ALL.into_iter().find(|scope| scope.as_str() == s).ok_or_else(|| {
            let known: Vec<_> = Scope::ALL.iter().map(|s| s.as_str()).collect();
            format!("unknown scope `{s}` (known: {})", known.join(", "))
        })
    }
}

/// Whether `name` can be an organisation: lower-case letters, digits and `-`, 1 to 40
/// characters, so that it reads back unambiguously out of `sk_<org>_<random>`.
pub fn valid_org_name(name: &str) -> bool {
    (1..=40).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
        && !name.starts_with('-')
}

/// Whether `name` can be a product: lower-case letters, digits, `-`, `.` and `_`, 1 to 64
/// characters, starting with a letter or a digit. A product names its releases in URLs
/// (`/v1/releases/{product}/…`) and in the artifact store's keys (`releases/{product}/…`),
/// so it is one plain path segment: never `..`, a `/` or anything a URL would escape.
pub fn valid_product_name(name: &str) -> bool {
    (1..=64).contains(&name.len())
        && name.bytes().all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || matches!(b, b'-' | b'.' | b'_'))
        && name.bytes().next().is_some_and(|b| b.is_ascii_lowercase() || b.is_ascii_digit())
}

/// Whether `text` has the shape of a license key (`sk_<org>_<random>`); says nothing about
/// whether the portal knows it.
pub fn looks_like_key(text: &str) -> bool {
    text.strip_prefix("sk_").and_then(|rest| rest.rsplit_once('_')).is_some_and(|(org, random)| {
        valid_org_name(org) && random.len() >= 32 && random.bytes().all(|b| b.is_ascii_alphanumeric())
    })
}

/// `GET /v1/whoami`: who the key belongs to.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct WhoAmI {
    /// The organisation.
    pub org: String,
    /// The key's public identifier (never the key).
    pub key_id: String,
    /// What the key may do.
    pub scopes: Vec<Scope>,
    /// When the key stops working (RFC 3339).
    pub expires: String,
    /// The origins (`scheme://host[:port]`) a download answer of this portal may send the
    /// client to: its own, and its object store's public endpoint when it answers downloads
    /// with a `307` to a presigned URL there (seed 002's dual client). `genesis login` keeps
    /// them; a download is followed to no other origin. Empty from a portal that names none
    /// (an older one): then downloads come from the portal alone.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub download_origins: Vec<String>,
}

/// One release in `GET /v1/releases` (only those the key's organisation is entitled to).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseSummary {
    /// The product, e.g. `genesis`.
    pub product: String,
    /// The release's version (semver).
    pub version: String,
    /// When it was published (RFC 3339).
    pub published: String,
    /// How many bundles it has.
    pub bundles: usize,
    /// Total size of its artifacts in bytes.
    pub size: u64,
}

/// `GET /v1/releases/{product}/{version}`.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ReleaseDetail {
    /// The product.
    pub product: String,
    /// The version.
    pub version: String,
    /// When it was published (RFC 3339).
    pub published: String,
    /// Fingerprint of the vendor key its bundles verified against at publication.
    pub signer: String,
    /// Every file of the release.
    pub artifacts: Vec<Artifact>,
}

/// One file of a release.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct Artifact {
    /// The file name (no directories).
    pub name: String,
    /// What it is.
    pub kind: ArtifactKind,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the bytes; on the wire bare lower-case hex (also the download's `ETag`).
    #[serde(with = "bare_sha256")]
    pub sha256: Digest,
    /// Path of the download, relative to the portal URL.
    pub download_uri: String,
}

/// The kinds of file a release holds, told by the name.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "kebab-case")]
pub enum ArtifactKind {
    /// A bundle archive, `NAME.tar.zst`.
    Bundle,
    /// The parts manifest of a split bundle, `NAME.tar.zst.parts.json` (decision 0042): the
    /// bundle's entry when it is published as parts, read by every verifier in place of the
    /// archive.
    PartsManifest,
    /// One part of a split bundle, `NAME.tar.zst.part-000` …, listed in its parts manifest.
    Part,
    /// `NAME.tar.zst.sha256`, `sha256sum -c` format.
    Sha256,
    /// `NAME.tar.zst.sig`, cosign detached signature.
    Signature,
    /// `NAME.tar.zst.cosign.bundle`, sigstore bundle.
    CosignBundle,
    /// `NAME.tar.zst.report.pdf`, the release evidence report (`bundle-builder create
    /// --report`), listed in the bundle's `.sha256`. Optional: older releases have none.
    Report,
    /// A CycloneDX or SPDX SBOM (`*.cdx.json`, `*.spdx.json`).
    Sbom,
    /// An in-toto provenance envelope (`*.intoto.json`, `*.intoto.jsonl`).
    Provenance,
    /// Anything else the vendor ships beside (release notes, reports), and a kind this client
    /// does not know: a newer portal's release is still read, its new files handled as files.
    #[serde(other)]
    Other,
}

impl ArtifactKind {
    /// The kind of a file, from its name.
    pub fn of(name: &str) -> ArtifactKind {
        if name.ends_with(".tar.zst") {
            ArtifactKind::Bundle
        } else if name.ends_with(".tar.zst.parts.json") {
            ArtifactKind::PartsManifest
        } else if is_part_name(name) {
            ArtifactKind::Part
        } else if name.ends_with(".tar.zst.sha256") {
            ArtifactKind::Sha256
        } else if name.ends_with(".tar.zst.sig") || name.ends_with(".tar.zst.parts.json.sig") {
            ArtifactKind::Signature
        } else if name.ends_with(".tar.zst.cosign.bundle") || name.ends_with(".tar.zst.parts.json.cosign.bundle") {
            ArtifactKind::CosignBundle
        } else if name.ends_with(".tar.zst.report.pdf") {
            ArtifactKind::Report
        } else if name.ends_with(".cdx.json") || name.ends_with(".spdx.json") {
            ArtifactKind::Sbom
        } else if name.ends_with(".intoto.json") || name.ends_with(".intoto.jsonl") {
            ArtifactKind::Provenance
        } else {
            ArtifactKind::Other
        }
    }

    /// Whether a file of this kind is a bundle's entry: what `genesis verify` is given, what
    /// the portal verified on publication and keeps facts of (the archive, or the parts
    /// manifest of a split one).
    pub fn is_bundle_entry(self) -> bool {
        matches!(self, ArtifactKind::Bundle | ArtifactKind::PartsManifest)
    }
}

/// The archive a bundle's entry stands for: the entry's own name for an archive, the name
/// without `.parts.json` for a parts manifest. The archive's sidecars (`.sha256`, `.sig`,
/// `.cosign.bundle`, `.report.pdf`) are named after it.
pub fn archive_name_of_entry(entry: &str) -> &str {
    entry.strip_suffix(".parts.json").unwrap_or(entry)
}

/// Whether `name` is a part's: `….tar.zst.part-` and at least three digits.
fn is_part_name(name: &str) -> bool {
    name.rsplit_once(".part-").is_some_and(|(archive, index)| {
        archive.ends_with(".tar.zst") && index.len() >= 3 && index.bytes().all(|b| b.is_ascii_digit())
    })
}

/// Whether `name` is a safe artifact file name: one path component, printable, not hidden.
pub fn valid_artifact_name(name: &str) -> bool {
    !name.is_empty()
        && name.len() <= 200
        && !name.starts_with('.')
        && name.bytes().all(|b| b.is_ascii_alphanumeric() || matches!(b, b'.' | b'-' | b'_' | b'+'))
}

/// `POST /v1/exports/airgap/bootstrap` body.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportRequest {
    /// The product (`genesis` when left out).
    #[serde(default)]
    pub product: Option<String>,
    /// The release to pack.
    pub version: String,
}

/// Where an export stands.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "lowercase")]
pub enum ExportState {
    /// Being built.
    Pending,
    /// Built; `downloadUri` serves it.
    Ready,
    /// The build failed; `error` says why.
    Failed,
}

/// The profile seed 003 names: a bootstrap pack of images and charts.
pub const BOOTSTRAP_PROFILE: &str = "bootstrap";
/// The pack's file name.
pub const BOOTSTRAP_PACK: &str = "bootstrap-pack-v1.tar.gz";

/// `GET /v1/exports/airgap/bootstrap/{exportId}` (and the `POST`'s answer).
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct ExportStatus {
    /// The export's identifier.
    pub export_id: String,
    /// Always `bootstrap`.
    pub profile: String,
    /// Pending, ready or failed.
    pub status: ExportState,
    /// The release's product.
    pub product: String,
    /// The release's version.
    pub version: String,
    /// SHA-256 over the pack's file list (`sha256sum` lines of every file, sorted by path):
    /// names the content independently of the archive's encoding. Bare hex on the wire.
    #[serde(default, with = "bare_sha256::option")]
    pub root_hash: Option<Digest>,
    /// SHA-256 of the `.tar.gz` (also its `ETag`). Bare hex on the wire.
    #[serde(default, with = "bare_sha256::option")]
    pub artifact_sha256: Option<Digest>,
    /// Size of the `.tar.gz` in bytes.
    pub size: Option<u64>,
    /// Path of the download, when ready.
    pub download_uri: Option<String>,
    /// Why the build failed.
    pub error: Option<String>,
    /// When a finished export is deleted (RFC 3339); its status then answers 410.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
}

/// A SHA-256 [`Digest`] as the wire carries it, bare lower-case hex, parsed by
/// [`Digest::from_sha256_hex`]: anything else fails the whole answer before any of it is used.
mod bare_sha256 {
    use genesis_types::Digest;
    use serde::{Deserialize as _, Deserializer, Serializer};

    pub fn serialize<S: Serializer>(digest: &Digest, s: S) -> Result<S::Ok, S::Error> {
        s.serialize_str(digest.hex())
    }

    pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Digest, D::Error> {
        Digest::from_sha256_hex(&String::deserialize(d)?).map_err(serde::de::Error::custom)
    }

    /// The same, for a field that may be `null`.
    pub mod option {
        use genesis_types::Digest;
        use serde::{Deserialize as _, Deserializer, Serializer};

        pub fn serialize<S: Serializer>(digest: &Option<Digest>, s: S) -> Result<S::Ok, S::Error> {
            match digest {
                Some(digest) => super::serialize(digest, s),
                None => s.serialize_none(),
            }
        }

        pub fn deserialize<'de, D: Deserializer<'de>>(d: D) -> Result<Option<Digest>, D::Error> {
            Option::<String>::deserialize(d)?
                .map(|hex| Digest::from_sha256_hex(&hex).map_err(serde::de::Error::custom))
                .transpose()
        }
    }
}

/// The body of every error answer.
#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
pub struct ApiError {
    /// A stable code: `unauthorized`, `forbidden`, `not_found`, `bad_request`, `not_ready`,
    /// `gone`, `too_many_exports`, `internal`.
    pub error: String,
    /// What went wrong and what to do, for a human.
    pub message: String,
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn key_shape_reads_the_organisation_unambiguously() {
        assert!(looks_like_key("sk_acme-corp_0123456789abcdefghijABCDEFGHIJ0123456789"));
        assert!(!looks_like_key("sk_acme_short"));
        assert!(!looks_like_key("sk_Acme_0123456789abcdefghijABCDEFGHIJ0123456789"));
        assert!(!looks_like_key("pk_acme_0123456789abcdefghijABCDEFGHIJ0123456789"));
        assert!(!valid_org_name("acme_corp"), "an underscore would make the key ambiguous");
    }

    #[test]
    fn a_product_name_is_one_plain_path_segment() {
        let longest = "p".repeat(64);
        for good in ["genesis", "demo", "genesis-ops", "app.v2", "x_1", "0day", longest.as_str()] {
            assert!(valid_product_name(good), "{good:?}");
        }
        let long = "p".repeat(65);
        for bad in ["", "..", ".", "../x", "a/b", "-x", ".hidden", "_x", "Genesis", "a b", "a%2f", "é", long.as_str()]
        {
            assert!(!valid_product_name(bad), "{bad:?}");
        }
    }

    #[test]
    fn artifact_kinds_and_names() {
        assert_eq!(ArtifactKind::of("genesis-ops-3.2.10.tar.zst"), ArtifactKind::Bundle);
        assert_eq!(ArtifactKind::of("genesis-ops-3.2.10.tar.zst.cosign.bundle"), ArtifactKind::CosignBundle);
        assert_eq!(ArtifactKind::of("sbom-3.2.10.cdx.json"), ArtifactKind::Sbom);
        assert_eq!(ArtifactKind::of("genesis-ops-3.2.10.tar.zst.report.pdf"), ArtifactKind::Report);
        assert_eq!(ArtifactKind::of("notes.pdf"), ArtifactKind::Other);
        assert_eq!(ArtifactKind::of("ops-3.2.10.tar.zst.parts.json"), ArtifactKind::PartsManifest);
        assert_eq!(ArtifactKind::of("ops-3.2.10.tar.zst.parts.json.sig"), ArtifactKind::Signature);
        assert_eq!(ArtifactKind::of("ops-3.2.10.tar.zst.parts.json.cosign.bundle"), ArtifactKind::CosignBundle);
        assert_eq!(ArtifactKind::of("ops-3.2.10.tar.zst.part-000"), ArtifactKind::Part);
        assert_eq!(ArtifactKind::of("ops-3.2.10.tar.zst.part-1234"), ArtifactKind::Part);
        for not_a_part in ["ops.tar.zst.part-00", "ops.tar.zst.part-00x", "ops.zip.part-000"] {
            assert_eq!(ArtifactKind::of(not_a_part), ArtifactKind::Other, "{not_a_part}");
        }
        assert_eq!(archive_name_of_entry("ops-3.2.10.tar.zst.parts.json"), "ops-3.2.10.tar.zst");
        assert_eq!(archive_name_of_entry("ops-3.2.10.tar.zst"), "ops-3.2.10.tar.zst");
        assert!(valid_artifact_name("genesis-ops-3.2.10.tar.zst.sha256"));
        for bad in ["../x", "a/b", ".hidden", "", "a b"] {
            assert!(!valid_artifact_name(bad), "{bad:?}");
        }
    }

    /// A kind a newer portal lists is read as `other`: the release is still pulled, the file
    /// checked by its digest like any other.
    #[test]
    fn an_artifact_of_a_kind_this_client_does_not_know_is_read_as_other() {
        let hex = "ab".repeat(32);
        let artifact =
            format!(r#"{{"name":"x.new","kind":"something-new","size":1,"sha256":"{hex}","downloadUri":"/v1/x.new"}}"#);
        let parsed: Artifact = serde_json::from_str(&artifact).unwrap();
        assert_eq!((parsed.name.as_str(), parsed.kind), ("x.new", ArtifactKind::Other));
        assert_eq!(serde_json::from_str::<ArtifactKind>(r#""report""#).unwrap(), ArtifactKind::Report);
    }

    /// A digest from the portal that is not SHA-256 hex refuses the whole answer, so it never
    /// names a file; the wire keeps the bare hex.
    #[test]
    fn digests_travel_as_bare_sha256_hex_and_anything_else_is_refused() {
        let hex = "ab".repeat(32);
        let artifact = format!(r#"{{"name":"x","kind":"other","size":1,"sha256":"{hex}","downloadUri":"/v1/x"}}"#);
        let parsed: Artifact = serde_json::from_str(&artifact).unwrap();
        assert_eq!(parsed.sha256, Digest::from_sha256_bytes([0xab; 32]));
        assert_eq!(serde_json::to_string(&parsed).unwrap(), artifact);
        for bad in ["../../etc/passwd", "AB", "sha256:ab"] {
            let e = serde_json::from_str::<Artifact>(&artifact.replace(&hex, bad)).unwrap_err();
            assert!(e.to_string().contains("invalid digest"), "{bad}: {e}");
        }
        let pending = r#"{"exportId":"exp_1","profile":"bootstrap","status":"pending","product":"p","version":"1","rootHash":null,"artifactSha256":null,"size":null,"downloadUri":null,"error":null}"#;
        let status: ExportStatus = serde_json::from_str(pending).unwrap();
        assert_eq!((status.root_hash.as_ref(), status.artifact_sha256.as_ref()), (None, None));
        assert_eq!(serde_json::to_string(&status).unwrap(), pending);
        let missing = r#"{"exportId":"exp_1","profile":"bootstrap","status":"pending","product":"p","version":"1"}"#;
        assert_eq!(serde_json::from_str::<ExportStatus>(missing).unwrap(), status);
    }

    #[test]
    fn scopes_parse_and_refuse_unknown_words() {
        assert_eq!("export:write".parse::<Scope>(), Ok(Scope::ExportWrite));
        assert!("export:all".parse::<Scope>().unwrap_err().contains("known: releases:read"));
    }
}
