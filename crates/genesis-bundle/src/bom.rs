//! The bill of materials: the signed description of everything else in a bundle.
//!
//! `bom.json` is the only document whose integrity the signature covers directly; every
//! other entry is bound to it through its size and SHA-256. Its encoding has one owner,
//! [`Bom::to_bytes`]: the builder serialises once, then hashes, signs and writes that buffer.

use std::collections::{BTreeMap, BTreeSet};

use genesis_types::{Algorithm, BundlePath, Digest, Severity};

use crate::{BundleError, Limits, Result};

/// Path of the BOM inside a bundle: always the first entry.
pub const BOM_PATH: &str = "bom.json";
/// Path of the BOM signature inside a bundle signed with a key (cosign's base64 ASN.1 DER):
/// the second entry, unless [`SIGSTORE_SIGNATURE_PATH`] is.
pub const SIGNATURE_PATH: &str = "bom.json.sig";
/// Path of the BOM's sigstore bundle, the second entry of a bundle its release pipeline
/// signed keyless (a Fulcio certificate, a Rekor entry or timestamp): carried verbatim as
/// `cosign sign-blob --bundle` wrote it, since the certificate and the log's proofs are the
/// signature's evidence and no bare signature can hold them.
pub const SIGSTORE_SIGNATURE_PATH: &str = "bom.sigstore.json";
/// Path of the SLSA provenance envelope: the third entry when present. It sits in the head,
/// outside the BOM's file list, because its subject is the BOM's own digest — listed in the
/// BOM it would have to contain its own hash. Its DSSE signature binds it instead.
pub const PROVENANCE_PATH: &str = "provenance/bundle.intoto.json";
/// Path of the provenance in a bundle whose BOM carries a sigstore bundle
/// ([`SIGSTORE_SIGNATURE_PATH`]): the pipeline's DSSE sigstore bundle of the same statement
/// (`cosign attest-blob --new-bundle-format`), carried verbatim.
pub const SIGSTORE_PROVENANCE_PATH: &str = "provenance/bundle.sigstore.json";
/// Every name the head's entries may have: no payload file may take one.
pub const HEAD_PATHS: [&str; 5] =
    [BOM_PATH, SIGNATURE_PATH, SIGSTORE_SIGNATURE_PATH, PROVENANCE_PATH, SIGSTORE_PROVENANCE_PATH];
/// The folder of an extracted tree that holds the countersignatures found beside its archive
/// (`NAME.tar.zst.countersig/`), next to the head: reserved like the head's names.
pub const COUNTERSIGNATURE_FOLDER: &str = "countersig";
/// The schema identifier this crate writes and reads.
pub const BOM_SCHEMA: &str = "genesis.dev/bom/v1";

/// The bill of materials of a bundle.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Bom {
    /// Always [`BOM_SCHEMA`].
    pub schema: String,
    /// Bundle name.
    pub name: String,
    /// Bundle version.
    pub version: String,
    /// Build time, RFC 3339, from `SOURCE_DATE_EPOCH` (so it is reproducible).
    pub created: String,
    /// When the bundle expires, RFC 3339 (`bundle-builder create --expires`): from then on a
    /// verifier refuses it. Signed with the rest, so it is read only once the signature
    /// verified. Absent, the bundle does not expire, and the BOM's bytes are those of a
    /// builder that knew no expiry.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Every payload file, sorted by path.
    pub files: Vec<FileEntry>,
    /// Container images in `oci/`.
    #[serde(default)]
    pub images: Vec<ImageEntry>,
    /// Helm charts in `charts/`.
    #[serde(default)]
    pub charts: Vec<ChartEntry>,
    /// Kubernetes manifests in `manifests/`.
    #[serde(default)]
    pub manifests: Vec<ManifestEntry>,
    /// Software bills of materials in `sbom/`: the bundle's own, and each image's that the
    /// source carried.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub sboms: Vec<SbomEntry>,
    /// The vulnerability scan the builder ran before signing (`bundle-builder create
    /// --scan-db`), so that the cluster side can check the vendor's verdict without a
    /// database. Absent, the BOM's bytes are those of a builder that ran none.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scan: Option<ScanRecord>,
    /// For a delta bundle (`bundle-builder create --base`, decision 0043): the base bundle it
    /// was built against and the OCI blobs (layers and configs) it leaves out because that base
    /// carries them, which the destination registry must hold before it is loaded. Absent for a
    /// full bundle, whose BOM's bytes are then those of a builder that knew no deltas; and a
    /// reader that knows none refuses a delta's BOM as it refuses any unknown field, rather
    /// than take it for a bundle that carries every blob.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub requires: Option<Requires>,
}

/// What a delta bundle needs at its destination (decision 0043): every OCI blob its images
/// reference that it does not carry, each of which the base bundle carries (or needs in turn).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct Requires {
    /// The bundle to load first.
    pub base: BaseBundle,
    /// The blobs left out, sorted by digest, each once: a manifest that references one must
    /// give it this size.
    pub blobs: Vec<RequiredBlob>,
}

/// The base of a delta bundle, as its verified BOM names it.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct BaseBundle {
    /// Its name.
    pub name: String,
    /// Its version.
    pub version: String,
    /// The SHA-256 of its `bom.json`, exactly as it was signed.
    pub bom_sha256: Digest,
}

impl std::fmt::Display for BaseBundle {
    /// `NAME VERSION (BOM sha256:…)`, as messages name the bundle to load first.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {} (BOM {})", self.name, self.version, self.bom_sha256)
    }
}

/// One blob a delta bundle leaves out.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RequiredBlob {
    /// Its digest (sha256).
    pub digest: Digest,
    /// Its size in bytes.
    pub size: u64,
}

/// What a delta bundle needs, in short, for reports (`verify`, `inspect`, `create`).
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct RequiresSummary {
    /// The bundle to load first.
    pub base: BaseBundle,
    /// How many blobs it leaves out.
    pub blobs: u64,
    /// Their bytes: what the delta saves over a full bundle, before compression.
    pub bytes: u64,
}

impl Requires {
    /// The required blob of `digest`, if this lists it.
    pub fn blob(&self, digest: &Digest) -> Option<&RequiredBlob> {
        self.blobs.binary_search_by(|b| b.digest.cmp(digest)).ok().map(|i| &self.blobs[i])
    }

    /// The bytes of every blob left out (validated not to overflow).
    pub fn bytes(&self) -> u64 {
        self.blobs.iter().map(|b| b.size).fold(0, u64::saturating_add)
    }

    /// Its summary.
    pub fn summary(&self) -> RequiresSummary {
        RequiresSummary { base: self.base.clone(), blobs: self.blobs.len() as u64, bytes: self.bytes() }
    }

    /// Refuses what no builder writes: no blob (a bundle that needs nothing of its base is a
    /// full one), blobs out of order, twice, of another algorithm than sha256 or adding up past
    /// 2^64 bytes, a blob both required and carried, a base without a name or version.
    fn validate(&self, carried: &BTreeSet<&str>) -> std::result::Result<(), String> {
        let BaseBundle { name, version, bom_sha256 } = &self.base;
        if name.trim().is_empty() || version.trim().is_empty() {
            return Err("requires.base has no name or no version: a delta names the bundle to load first".into());
        }
        if bom_sha256.algorithm() != Algorithm::Sha256 {
            return Err(format!("requires.base.bomSha256 {bom_sha256} is not a sha256 digest"));
        }
        if self.blobs.is_empty() {
            return Err("requires.blobs is empty: a bundle that needs no blob of its base is a full bundle".into());
        }
        for pair in self.blobs.windows(2) {
            if pair[0].digest >= pair[1].digest {
                return Err(format!("requires.blobs not strictly sorted by digest at {}", pair[1].digest));
            }
        }
        if self.blobs.iter().try_fold(0u64, |total, b| total.checked_add(b.size)).is_none() {
            return Err("requires.blobs add up to more than 2^64 bytes".into());
        }
        for b in &self.blobs {
            if b.digest.algorithm() != Algorithm::Sha256 {
                return Err(format!("requires.blobs names {}: bundles require sha256 blobs only", b.digest));
            }
            let path = format!("oci/{}", b.digest.blob_path());
            if carried.contains(path.as_str()) {
                return Err(format!("{} is both carried ({path}) and required from the base", b.digest));
            }
        }
        Ok(())
    }
}

/// A vulnerability scan's verdict as the signed BOM records it: the database, the policy
/// (threshold, oldest database accepted, OpenVEX documents), and every finding with what
/// OpenVEX says of it, so that a verifier recomputes the verdict from the findings instead of
/// trusting a flag.
///
/// Everything in it comes from the scan's inputs, never from the clock, so two builds of the
/// same inputs give the same bytes. The one judgement made against the clock is whether an
/// exception has expired: the builder judges it at its wall-clock time when it runs the gate
/// (not `SOURCE_DATE_EPOCH`, which may lie before an expiry that has since passed), and records
/// each expiry by its own date with whether it had passed, so the bytes change only when an
/// expiry passed between two builds, which changes the verdict too. A verifier judges the
/// expiries again at its own time ([`ScanRecord::worst_unexcepted_at`]): an exception granted
/// for a month excepts for that month, however long ago the build was.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScanRecord {
    /// What the verdict knows is as of this time, RFC 3339: its database's newest record
    /// (the bundle's `created` for a database without dates). Not the wall-clock time of the
    /// scan, which would make the BOM differ between two builds of the same inputs; and the
    /// age that matters is the knowledge's: a verdict is as fresh as its database.
    pub as_of: String,
    /// The OSV database it ran against.
    pub database: ScanDatabase,
    /// Packages inventoried in the bundle's images.
    pub packages: u64,
    /// What the inventory saw but could not read, a sentence each naming its image
    /// (`r.example/app:1 (linux/amd64): var/lib/rpm/Packages is an RPM BerkeleyDB database:
    /// not inventoried`): the packages in it were not scanned. Present only when the policy
    /// allowed them (`allowIncomplete`), since each fails the gate otherwise; listed so
    /// that a verifier sees what the verdict skipped, and a trust policy's `require: scan`
    /// refuses them unless it allows them too. The first [`ScanRecord::LISTED_GAPS`], each at
    /// most [`ScanRecord::GAP_CHARS`] characters, so that the BOM stays small whatever an image
    /// holds; the rest are counted in `unlistedGaps` ([`ScanRecord::list_gaps`]). A gap names a
    /// path the layer's author chose, so its control characters are written escaped: it
    /// reaches terminals (`genesis verify`) and refusal messages.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub gaps: Vec<String>,
    /// How many gaps there were beyond those `gaps` lists.
    #[serde(default, skip_serializing_if = "is_zero")]
    pub unlisted_gaps: u64,
    /// The severity from which a finding without an exception fails the policy.
    pub fail_on: Severity,
    /// Whether the policy let findings of unknown severity pass without an exception (by
    /// default they fail it: unknown is not low).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_unknown: bool,
    /// Whether the policy let an inventory with gaps pass (`allowIncompleteInventory`; by
    /// default each gap fails it: packages not inventoried are packages not scanned).
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub allow_incomplete: bool,
    /// The oldest database the policy accepted, in seconds from its newest record to the
    /// judgement (`maxDbAge: 7d` is 604800); absent when the policy judged no age
    /// (`maxDbAge: none`). Seconds rather than the policy's `7d`, as the scan verdict's
    /// `maxAgeSeconds` writes it: a reader compares a number without knowing our duration
    /// grammar.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_db_age_seconds: Option<u64>,
    /// The OpenVEX documents the policy used, in the order it names them; every finding's
    /// statement names one of them.
    #[serde(default, skip_serializing_if = "Vec::is_empty")]
    pub vex_documents: Vec<VexDocument>,
    /// Findings without an exception, by severity.
    pub counts: BTreeMap<Severity, u64>,
    /// Every finding, excepted or not, in the scanner's order.
    pub findings: Vec<ScanFinding>,
}

/// The database a scan ran against.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScanDatabase {
    /// `sha256:` over its input files.
    pub digest: String,
    /// Its newest record's `modified`, RFC 3339: how fresh it was.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub newest_modified: Option<String>,
    /// Records it held.
    pub records: u64,
}

/// One OpenVEX file a scan policy used. A file may hold several OpenVEX documents; it is
/// named once, by its bytes.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VexDocument {
    /// The file's name as the policy gives it (`vex: [exceptions.openvex.json]`, relative to
    /// the policy file), never where the build found it, so that the BOM does not depend on
    /// the build's folder.
    pub name: String,
    /// The SHA-256 of its bytes.
    pub sha256: Digest,
}

/// An OpenVEX status (spec v0.2.0), in the spec's words.
#[derive(Debug, Clone, Copy, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "snake_case")]
pub enum VexStatus {
    /// The vulnerability does not affect the product: an exception.
    NotAffected,
    /// The product is affected: the finding counts.
    Affected,
    /// The product as installed carries the fix: an exception.
    Fixed,
    /// Whether the product is affected is not known yet: the finding counts.
    UnderInvestigation,
}

impl VexStatus {
    /// The spec's word for it (`not_affected`, `affected`, `fixed`, `under_investigation`).
    pub fn as_str(self) -> &'static str {
        match self {
            VexStatus::NotAffected => "not_affected",
            VexStatus::Affected => "affected",
            VexStatus::Fixed => "fixed",
            VexStatus::UnderInvestigation => "under_investigation",
        }
    }

    /// Whether a statement of this status excepts the findings it names, while it has not
    /// expired.
    pub fn excepts(self) -> bool {
        matches!(self, VexStatus::NotAffected | VexStatus::Fixed)
    }
}

impl std::fmt::Display for VexStatus {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.as_str())
    }
}

/// What the OpenVEX statement that counts for a finding (the latest that names it) says of
/// it. Displayed as the record reads to people: `not_affected: <justification>`, `fixed`,
/// `affected`, `under_investigation`, followed by ` (expires <when>)` while its expiry is
/// ahead, ` (expired <when>)` once it passed.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct VexStatement {
    /// Its status.
    pub status: VexStatus,
    /// A `not_affected` statement's justification label, or its impact statement when it
    /// gives no label; absent for every other status.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub justification: Option<String>,
    /// The SHA-256 of the OpenVEX file it is in: one of the record's `vexDocuments`.
    pub document: Digest,
    /// When it stops excepting (RFC 3339, UTC): its OpenVEX statement's `expires`, else its
    /// document's. Recorded whether or not it had passed when the gate judged, since a
    /// verifier judges it again at its own time: without the date, an exception its author
    /// gave for a month would pass `require: scan` for ever. From the OpenVEX file, never the
    /// clock, so the BOM stays reproducible.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expires: Option<String>,
    /// Whether its expiry had passed when the gate judged: it then excepts nothing, whatever
    /// a later reader's clock says.
    #[serde(default, skip_serializing_if = "std::ops::Not::not")]
    pub expired: bool,
    /// Whether it excepted its finding when the gate judged: a `not_affected` or `fixed`
    /// statement that had not expired. Written for readers; a verifier recomputes it
    /// ([`VexStatement::is_exception`]), and a BOM where the two disagree is refused.
    pub excepts: bool,
}

impl VexStatement {
    /// The latest expiry a statement can record, [`LAST_RFC3339_SECOND`]: the record writes
    /// each expiry in UTC, and a later one needs a fifth digit of year, which RFC 3339 has
    /// not, so [`Bom::validate`] would refuse the record. Readers of OpenVEX refuse a later
    /// `expires` rather than record it.
    pub const LATEST_EXPIRY: u64 = LAST_RFC3339_SECOND;

    /// A statement as the gate judged it at `now` (seconds since the Unix epoch; `None` for a
    /// clock that could not be read, before which no expiry can be shown to lie): its expiry
    /// (`expires`, seconds since the Unix epoch, at most [`VexStatement::LATEST_EXPIRY`])
    /// recorded by its date in UTC with whether it had passed, and `excepts` computed from the
    /// rest.
    pub fn new(
        status: VexStatus,
        justification: Option<String>,
        document: Digest,
        expires: Option<u64>,
        now: Option<u64>,
    ) -> Self {
        let expired = expires.is_some_and(|expires| has_passed(expires, now));
        let excepts = status.excepts() && !expired;
        VexStatement { status, justification, document, expires: expires.map(rfc3339), expired, excepts }
    }

    /// Whether it excepted its finding when the gate judged, from its status and `expired`
    /// (never from `excepts`).
    pub fn is_exception(&self) -> bool {
        self.status.excepts() && !self.expired
    }

    /// Whether it still excepts its finding at `now` (seconds since the Unix epoch): it did
    /// when the gate judged, and its expiry, if it has one, has not passed since. An expiry
    /// that does not read as a date excepts nothing (and [`Bom::validate`] refuses it).
    pub fn is_exception_at(&self, now: u64) -> bool {
        self.is_exception()
            && self
                .expires
                .as_deref()
                .is_none_or(|expires| parse_rfc3339(expires).is_some_and(|expires| !has_passed(expires, Some(now))))
    }

    /// Refuses a statement whose parts disagree, or that names a document the record does
    /// not list.
    fn validate(&self, listed: &BTreeSet<&Digest>) -> std::result::Result<(), String> {
        if !listed.contains(&self.document) {
            return Err(format!("its OpenVEX document {} is not one of scan.vexDocuments", self.document));
        }
        match (self.status, self.justification.as_deref().map(str::trim)) {
            (VexStatus::NotAffected, None | Some("")) => {
                return Err("a not_affected statement without its justification".into());
            }
            (VexStatus::NotAffected, Some(_)) | (_, None) => {}
            (status, Some(_)) => {
                return Err(format!(
                    "a statement of status {status} with a justification, which only not_affected has"
                ));
            }
        }
        if let Some(expires) = &self.expires
            && parse_rfc3339(expires).is_none()
        {
            return Err(format!("expires {expires:?} is not an RFC 3339 date"));
        }
        if self.expired && self.expires.is_none() {
            return Err("expired without the date it expired (expires)".into());
        }
        if self.excepts != self.is_exception() {
            let does = if self.is_exception() { "excepts" } else { "does not except" };
            return Err(format!("excepts is {} for a statement that {does} ({self})", self.excepts));
        }
        Ok(())
    }
}

impl std::fmt::Display for VexStatement {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.write_str(self.status.as_str())?;
        if let Some(justification) = &self.justification {
            write!(f, ": {justification}")?;
        }
        match (&self.expires, self.expired) {
            (Some(when), true) => write!(f, " (expired {when})"),
            (Some(when), false) => write!(f, " (expires {when})"),
            (None, true) => f.write_str(" (expired)"),
            (None, false) => Ok(()),
        }
    }
}

/// Whether an expiry (seconds since the Unix epoch) has passed at `now`: from its own second
/// on, as OpenVEX's other times are instants. A clock that could not be read (`None`) has
/// passed every expiry, since none can be shown to be ahead of it.
fn has_passed(expires: u64, now: Option<u64>) -> bool {
    now.is_none_or(|now| now >= expires)
}

/// For `skip_serializing_if`: a count of nothing is left out.
fn is_zero(n: &u64) -> bool {
    *n == 0
}

/// One recorded finding.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ScanFinding {
    /// The vulnerability's ID (`CVE-…`, `GHSA-…`).
    pub id: String,
    /// The package's URL.
    pub purl: String,
    /// The version installed.
    pub installed: String,
    /// The lowest fixed version, when there is one.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub fixed: Option<String>,
    /// Its severity.
    pub severity: Severity,
    /// The record its severity was taken from when the record matched states none of its
    /// own (a Debian advisory rated by its CVE: `CVE-2024-1234`); absent when the severity is
    /// the matched record's. Recorded so that a reader of the signed verdict sees which
    /// severities were borrowed, and from where.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub severity_from: Option<String>,
    /// The image (and platform) the package is in.
    pub image: String,
    /// What the latest OpenVEX statement naming it says; absent when none does. Only an
    /// unexpired `not_affected` or `fixed` excepts it: with any other, it counts.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vex: Option<VexStatement>,
}

impl ScanFinding {
    /// Whether an OpenVEX statement excepted it when the gate judged.
    pub fn excepted(&self) -> bool {
        self.vex.as_ref().is_some_and(VexStatement::is_exception)
    }

    /// Whether an OpenVEX statement still excepts it at `now` (seconds since the Unix epoch):
    /// it did when the gate judged, and its expiry has not passed since.
    pub fn excepted_at(&self, now: u64) -> bool {
        self.vex.as_ref().is_some_and(|vex| vex.is_exception_at(now))
    }
}

/// What a recorded scan showed, for reports: all but the findings, the verdict recomputed
/// from them.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize)]
#[serde(rename_all = "camelCase")]
pub struct ScanSummary {
    /// What the verdict knows is as of then: its database's newest record.
    pub as_of: String,
    /// The database it ran against.
    pub database: ScanDatabase,
    /// Packages inventoried.
    pub packages: u64,
    /// The severity from which a finding without an exception fails.
    pub fail_on: Severity,
    /// Findings without an exception, by severity.
    pub counts: BTreeMap<Severity, u64>,
    /// Findings an exception covers.
    pub excepted: u64,
    /// Gaps in the inventory the policy let pass (listed and counted): packages not scanned.
    /// Left out when there were none, so that a report says only what there is to say.
    #[serde(skip_serializing_if = "is_zero")]
    pub gaps: u64,
    /// Whether no finding without an exception is at or above `fail_on`.
    pub passed: bool,
    /// The earliest `expires` (RFC 3339) among the exceptions that held at build time: from
    /// then on, a verifier judging `require: scan` counts that finding again. Left out when
    /// no exception expires.
    #[serde(skip_serializing_if = "Option::is_none")]
    pub first_expiry: Option<String>,
}

impl ScanSummary {
    /// The findings without an exception by severity, highest first (`2 critical, 1 high`),
    /// or `no finding`: how every one-line summary of a scan words them.
    pub fn counts_line(&self) -> String {
        let counts: Vec<String> =
            Severity::ALL.iter().rev().filter_map(|s| self.counts.get(s).map(|n| format!("{n} {s}"))).collect();
        if counts.is_empty() { "no finding".to_owned() } else { counts.join(", ") }
    }
}

impl ScanRecord {
    /// How many gaps a record lists (100): enough to show what an inventory missed, few
    /// enough that, with [`ScanRecord::GAP_CHARS`], they add at most about 100 KB to the BOM
    /// (whose default limit is 16 MiB) whatever the images hold.
    pub const LISTED_GAPS: usize = 100;
    /// How many characters of a gap a record keeps (1,000); a longer one is cut to end in
    /// `…` within them. A gap names a path in a layer, which the layer's author chose.
    pub const GAP_CHARS: usize = 1_000;

    /// What the record holds of `gaps` (`gaps` and `unlistedGaps`): the first
    /// [`ScanRecord::LISTED_GAPS`], each with its control and bidirectional formatting
    /// characters escaped (`\u{1b}`) and then cut to [`ScanRecord::GAP_CHARS`] characters, and
    /// how many more there were.
    pub fn list_gaps(gaps: Vec<String>) -> (Vec<String>, u64) {
        let unlisted = gaps.len().saturating_sub(Self::LISTED_GAPS) as u64;
        let listed = gaps
            .into_iter()
            .take(Self::LISTED_GAPS)
            .map(|gap| cut_chars(escape_controls(&gap), Self::GAP_CHARS))
            .collect();
        (listed, unlisted)
    }

    /// How many gaps the inventory had: those listed and those counted.
    pub fn gap_count(&self) -> u64 {
        (self.gaps.len() as u64).saturating_add(self.unlisted_gaps)
    }

    /// Its summary.
    pub fn summary(&self) -> ScanSummary {
        ScanSummary {
            as_of: self.as_of.clone(),
            database: self.database.clone(),
            packages: self.packages,
            fail_on: self.fail_on,
            counts: self.counts.clone(),
            excepted: self.findings.iter().filter(|f| f.excepted()).count() as u64,
            gaps: self.gap_count(),
            passed: self.passed(),
            first_expiry: self
                .findings
                .iter()
                .filter_map(|f| f.vex.as_ref().filter(|v| v.excepts).and_then(|v| v.expires.as_ref()))
                .min_by_key(|expires| parse_rfc3339(expires))
                .cloned(),
        }
    }

    /// Its findings without an exception, `excepted` telling those with one.
    fn unexcepted(&self, excepted: impl Fn(&ScanFinding) -> bool) -> impl Iterator<Item = &ScanFinding> {
        self.findings.iter().filter(move |&f| !excepted(f))
    }

    /// The most severe finding without an exception at `now` (seconds since the Unix epoch),
    /// if any: a finding whose statement says `affected` or `under_investigation`, or whose
    /// exception had expired when the gate judged or has expired by `now`, is one.
    pub fn worst_unexcepted_at(&self, now: u64) -> Option<Severity> {
        self.unexcepted(|f| f.excepted_at(now)).map(|f| f.severity).max()
    }

    /// Whether a finding of unknown severity has no exception at `now`.
    pub fn unknown_unexcepted_at(&self, now: u64) -> bool {
        self.unexcepted(|f| f.excepted_at(now)).any(|f| f.severity == Severity::Unknown)
    }

    /// How many findings the gate excepted whose exception has expired by `now`.
    pub fn expired_since(&self, now: u64) -> u64 {
        self.findings.iter().filter(|f| f.excepted() && !f.excepted_at(now)).count() as u64
    }

    /// Whether the findings passed the recorded policy when the gate judged: no finding
    /// without an exception at or above its threshold, nor of unknown severity unless it
    /// allowed them.
    pub fn passed(&self) -> bool {
        let worst = self.unexcepted(ScanFinding::excepted).map(|f| f.severity).max();
        let unknown = self.unexcepted(ScanFinding::excepted).any(|f| f.severity == Severity::Unknown);
        worst.is_none_or(|worst| worst < self.fail_on || worst == Severity::Unknown) && (self.allow_unknown || !unknown)
    }

    /// Refuses a record whose parts disagree: a time no verifier reads, gaps its policy did
    /// not allow (the gate fails on them, so no passing record holds them) or listed otherwise
    /// than [`ScanRecord::list_gaps`] lists them (more of them, a longer one, one with a
    /// control character unescaped), a finding's OpenVEX statement that
    /// contradicts itself or names a document the record does not list, or counts that are
    /// not those of its findings as the gate judged them (a verifier recomputes from the
    /// findings; the counts are for people, and must not say otherwise).
    fn validate(&self) -> std::result::Result<(), String> {
        if parse_rfc3339(&self.as_of).is_none() {
            return Err(format!("scan.asOf {:?} is not an RFC 3339 date", self.as_of));
        }
        if self.gap_count() > 0 && !self.allow_incomplete {
            return Err(format!(
                "the inventory had gaps ({} in scan.gaps and scan.unlistedGaps) but scan.allowIncomplete is not \
                 set: the gate fails on a gap unless its policy allows them",
                self.gap_count()
            ));
        }
        if self.gaps.len() > Self::LISTED_GAPS || (self.unlisted_gaps > 0 && self.gaps.len() < Self::LISTED_GAPS) {
            return Err(format!(
                "scan.gaps lists {} and scan.unlistedGaps counts {} more: a record lists the first {} and counts \
                 only the rest",
                self.gaps.len(),
                self.unlisted_gaps,
                Self::LISTED_GAPS
            ));
        }
        for (n, gap) in self.gaps.iter().enumerate() {
            if gap.chars().any(controls_display) {
                return Err(format!(
                    "scan.gaps[{n}] holds a control character: a record writes them escaped, as {:?}",
                    cut_chars(escape_controls(gap), 80)
                ));
            }
            let chars = gap.chars().count();
            if chars > Self::GAP_CHARS {
                return Err(format!(
                    "scan.gaps[{n}] is {chars} characters long: a record cuts each gap to {}",
                    Self::GAP_CHARS
                ));
            }
        }
        let listed: BTreeSet<&Digest> = self.vex_documents.iter().map(|d| &d.sha256).collect();
        for f in &self.findings {
            if let Some(vex) = &f.vex {
                vex.validate(&listed)
                    .map_err(|why| format!("scan finding {} of {} in {}: {why}", f.id, f.purl, f.image))?;
            }
        }
        let mut counted: BTreeMap<Severity, u64> = BTreeMap::new();
        for f in self.unexcepted(ScanFinding::excepted) {
            *counted.entry(f.severity).or_default() += 1;
        }
        let stated: BTreeMap<Severity, u64> =
            self.counts.iter().filter(|(_, n)| **n > 0).map(|(s, n)| (*s, *n)).collect();
        if counted != stated {
            return Err("scan.counts are not the counts of its findings without an exception".into());
        }
        Ok(())
    }
}

/// `text` cut to at most `chars` characters, the last of them a `…` when it was longer.
pub fn cut_chars(text: String, chars: usize) -> String {
    if text.chars().nth(chars).is_none() {
        return text;
    }
    let end = text.char_indices().nth(chars.saturating_sub(1)).map_or(text.len(), |(end, _)| end);
    format!("{}…", &text[..end])
}

/// `text` with each character for which [`controls_display`] holds written as its escape
/// (`\u{1b}`, `\u{a}`), so that it shows as text wherever it is printed.
pub fn escape_controls(text: &str) -> String {
    let mut escaped = String::with_capacity(text.len());
    for c in text.chars() {
        if controls_display(c) {
            escaped.extend(c.escape_unicode());
        } else {
            escaped.push(c);
        }
    }
    escaped
}

/// Whether `c` acts on a terminal or a reader instead of showing: a control character (C0,
/// DEL, C1: a newline starts a line that reads as the verifier's own, an escape sequence
/// rewrites the screen), a zero-width character (it hides where text ends) or a
/// bidirectional formatting character (it reorders the text shown around it).
fn controls_display(c: char) -> bool {
    c.is_control()
        || matches!(c, '\u{200b}'..='\u{200f}' | '\u{202a}'..='\u{202e}' | '\u{2066}'..='\u{2069}' | '\u{feff}')
}

/// How the name of a package SBOM the builder writes ends.
pub const PACKAGE_SBOM_SUFFIX: &str = ".packages.cdx.json";

/// One SBOM document.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct SbomEntry {
    /// Path of the document inside the bundle.
    pub path: BundlePath,
    /// Its media type, e.g. `application/vnd.cyclonedx+json`.
    pub media_type: String,
    /// What it describes: `bundle`, or the name of an image.
    pub describes: String,
}

/// One payload file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(deny_unknown_fields)]
pub struct FileEntry {
    /// Path inside the bundle.
    pub path: BundlePath,
    /// Size in bytes.
    pub size: u64,
    /// SHA-256 of the content.
    pub sha256: Digest,
}

/// Where the blobs of the bundle's OCI image layout lie: `oci/blobs/<alg>/<hex>`.
const BLOBS_DIR: &str = "oci/blobs/";

impl FileEntry {
    /// The digest this file is named by when it is a blob of the bundle's OCI layout,
    /// `None` for any other file. A name there that is not a digest is an error: `serve`
    /// and `load` would advertise it.
    fn blob_name(&self) -> Result<Option<Digest>> {
        let Some(name) = self.path.as_str().strip_prefix(BLOBS_DIR) else { return Ok(None) };
        let digest = name.split_once('/').map(|(alg, hex)| format!("{alg}:{hex}")).unwrap_or_default();
        digest.parse().map(Some).map_err(|e| {
            BundleError::BomInvalid(format!(
                "{} is in the OCI layout's blobs but not named by a digest: {e}",
                self.path
            ))
        })
    }
}

/// One container image (a manifest or a whole multi-arch index) stored in `oci/`.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ImageEntry {
    /// Short name from the spec.
    pub name: String,
    /// Where the builder took it from, as written in the spec.
    pub source: String,
    /// The reference manifests and charts use for it.
    #[serde(rename = "ref")]
    pub reference: String,
    /// Digest of the top-level manifest or index.
    pub digest: Digest,
    /// Digest of the source index this image was narrowed from (`platforms` in the spec).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_digest: Option<Digest>,
    /// Media type of the top-level manifest or index.
    pub media_type: String,
    /// Platforms carried (`os/arch[/variant]`); empty when the image declares none.
    pub platforms: Vec<String>,
}

/// One Helm chart archive.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ChartEntry {
    /// Chart name from the spec.
    pub name: String,
    /// Chart version, when known.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub version: Option<String>,
    /// Where the builder took it from, as written in the spec.
    pub source: String,
    /// Path of the `.tgz` inside the bundle.
    pub path: BundlePath,
}

/// One Kubernetes manifest file.
#[derive(Debug, Clone, PartialEq, Eq, serde::Serialize, serde::Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ManifestEntry {
    /// Path of the YAML inside the bundle.
    pub path: BundlePath,
}

/// An archive entry the BOM implies, in canonical order.
#[derive(Debug, Clone, PartialEq, Eq)]
pub enum ExpectedEntry<'a> {
    /// A parent directory (path ends with `/`).
    Dir(String),
    /// A payload file.
    File(&'a FileEntry),
}

impl ExpectedEntry<'_> {
    /// The path as it appears in the tar stream.
    pub fn tar_path(&self) -> &str {
        match self {
            ExpectedEntry::Dir(d) => d,
            ExpectedEntry::File(f) => f.path.as_str(),
        }
    }
}

impl Bom {
    /// The entry for `path`, if the BOM lists it.
    pub fn file(&self, path: &str) -> Option<&FileEntry> {
        self.files.iter().find(|f| f.path.as_str() == path)
    }

    /// The canonical encoding: pretty JSON with a trailing newline (readable by a guard or
    /// a human), fields in declaration order.
    pub fn to_bytes(&self) -> Vec<u8> {
        let mut out = serde_json::to_vec_pretty(self).expect("a BOM always serialises");
        out.push(b'\n');
        out
    }

    /// Parses and validates BOM bytes, refusing them above the size limit before parsing.
    /// Call it only on bytes whose signature has been checked.
    pub fn parse(bytes: &[u8], limits: &Limits) -> Result<Bom> {
        let len = bytes.len() as u64;
        if len > limits.max_bom_size {
            return Err(BundleError::LimitExceeded { what: "bom.json size", actual: len, limit: limits.max_bom_size });
        }
        let bom: Bom = serde_json::from_slice(bytes).map_err(BundleError::BomMalformed)?;
        bom.validate()?;
        Ok(bom)
    }

    /// How a scan's findings name image `name` of this BOM: its reference, with the
    /// `platform` of the manifest scanned when there is one (`r.example/app:1 (linux/amd64)`).
    pub fn image_label(&self, name: &str, platform: Option<&str>) -> String {
        let reference = self.images.iter().find(|i| i.name == name).map_or(name, |i| i.reference.as_str());
        match platform {
            Some(platform) => format!("{reference} ({platform})"),
            None => reference.to_owned(),
        }
    }

    /// The SBOM the BOM lists for the bundle itself (the others describe single images).
    pub fn bundle_sbom(&self) -> Option<&SbomEntry> {
        self.sboms.iter().find(|s| s.describes == "bundle")
    }

    /// The package SBOMs the builder wrote from each image's layers
    /// (`sbom/images/NAME[.PLATFORM].packages.cdx.json`), in BOM order; an SBOM an image's
    /// source carried is not one of them.
    pub fn package_sboms(&self) -> impl Iterator<Item = &SbomEntry> {
        self.sboms.iter().filter(|e| e.describes != "bundle" && e.path.as_str().ends_with(PACKAGE_SBOM_SUFFIX))
    }

    /// Checks the internal consistency a reader relies on: schema, strictly sorted unique
    /// files whose sizes add up, no reserved or clashing paths, every OCI blob named by the
    /// sha256 of its content, and every chart, manifest and image pointing at a listed file.
    pub fn validate(&self) -> Result<()> {
        let invalid = |m: String| Err(BundleError::BomInvalid(m));
        if self.schema != BOM_SCHEMA {
            return invalid(format!("unsupported schema {:?}, expected {BOM_SCHEMA:?}", self.schema));
        }
        // A date no verifier can read would be an expiry nobody enforces.
        if let Some(expires) = &self.expires
            && parse_rfc3339(expires).is_none()
        {
            return invalid(format!("expires {expires:?} is not an RFC 3339 date such as 2027-01-01T00:00:00Z"));
        }
        if let Some(scan) = &self.scan {
            scan.validate().map_err(BundleError::BomInvalid)?;
        }
        for pair in self.files.windows(2) {
            if pair[0].path >= pair[1].path {
                return invalid(format!("files not strictly sorted at {}", pair[1].path));
            }
        }
        // Readers add the sizes up (progress, totals): refuse what would overflow.
        if self.files.iter().try_fold(0u64, |total, f| total.checked_add(f.size)).is_none() {
            return invalid("file sizes add up to more than 2^64 bytes".into());
        }
        let files: BTreeSet<&str> = self.files.iter().map(|f| f.path.as_str()).collect();
        for f in &self.files {
            // The head's names are taken, as files: an extracted tree holds the head beside the
            // payload, as `tar -x` of the archive does, so no payload file may sit at one of
            // them or under one as if it were a directory; and so is the tree's folder of
            // countersignatures.
            let head = |p: &str| HEAD_PATHS.contains(&p) || p == COUNTERSIGNATURE_FOLDER;
            if head(f.path.as_str()) || f.path.parent_dirs().any(|d| head(d.trim_end_matches('/'))) {
                return invalid(format!("{} is reserved for the bundle's head", f.path));
            }
            // `serve` and `load` advertise a blob by its name, and the payload pass checks its
            // content against the BOM's sha256: the two must be one digest. A sha512 name
            // (128 hex digits) does not fit a ustar header, so no bundle carries one.
            if let Some(name) = f.blob_name()? {
                if name.algorithm() != Algorithm::Sha256 {
                    return invalid(format!(
                        "{} is named by a {} digest: bundles carry sha256 blobs only",
                        f.path,
                        name.algorithm().name()
                    ));
                }
                if name != f.sha256 {
                    return invalid(format!(
                        "{} holds content whose digest is {}: a blob's name must be its digest",
                        f.path, f.sha256
                    ));
                }
            }
            if let Some(dir) = f.path.parent_dirs().find(|d| files.contains(d.trim_end_matches('/'))) {
                return invalid(format!(
                    "{} is both a file and the directory of {}",
                    dir.trim_end_matches('/'),
                    f.path
                ));
            }
        }
        let listed = |p: &str| files.contains(p);
        for c in &self.charts {
            if !listed(c.path.as_str()) {
                return invalid(format!("chart {} points at unlisted {}", c.name, c.path));
            }
        }
        for m in &self.manifests {
            if !listed(m.path.as_str()) {
                return invalid(format!("manifest {} is not listed in files", m.path));
            }
        }
        for sbom in &self.sboms {
            if !listed(sbom.path.as_str()) {
                return invalid(format!("SBOM {} is not listed in files", sbom.path));
            }
        }
        for i in &self.images {
            let blob = format!("oci/{}", i.digest.blob_path());
            if !listed(&blob) {
                return invalid(format!("image {} points at unlisted {blob}", i.name));
            }
        }
        if let Some(requires) = &self.requires {
            requires.validate(&files).map_err(BundleError::BomInvalid)?;
        }
        Ok(())
    }

    /// The blobs of the OCI layout this bundle carries (`oci/blobs/…`), each by its digest
    /// (which [`Bom::validate`] holds to be its name) with its size.
    pub fn carried_blobs(&self) -> impl Iterator<Item = (&Digest, u64)> {
        self.files.iter().filter(|f| f.path.as_str().starts_with(BLOBS_DIR)).map(|f| (&f.sha256, f.size))
    }

    /// Whether this is a delta bundle: one that needs blobs of a base at its destination.
    pub fn is_delta(&self) -> bool {
        self.requires.is_some()
    }

    /// Refuses `action` (`serve`, `export`), which needs every blob of the images, for a delta
    /// bundle, naming its base to load first ([`BundleError::DeltaBundle`]).
    pub fn require_full(&self, action: &'static str) -> Result<()> {
        let Some(requires) = &self.requires else { return Ok(()) };
        Err(BundleError::DeltaBundle {
            action,
            name: self.name.clone(),
            version: self.version.clone(),
            base: Box::new(requires.base.clone()),
            blobs: requires.blobs.len() as u64,
            bytes: requires.bytes(),
        })
    }

    /// Every entry the archive must contain after the BOM and its signature, in canonical
    /// order: each file preceded by its parent directories.
    pub fn expected_entries(&self) -> Vec<ExpectedEntry<'_>> {
        let mut dirs = BTreeSet::new();
        for f in &self.files {
            dirs.extend(f.path.parent_dirs().map(str::to_owned));
        }
        let mut all: Vec<ExpectedEntry<'_>> = dirs.into_iter().map(ExpectedEntry::Dir).collect();
        all.extend(self.files.iter().map(ExpectedEntry::File));
        all.sort_by(|a, b| a.tar_path().cmp(b.tar_path()));
        all
    }

    /// Total payload bytes.
    pub fn payload_size(&self) -> u64 {
        self.files.iter().map(|f| f.size).sum()
    }
}

/// Now, in seconds since the Unix epoch (0 on a clock set before it): the time expiries, key
/// windows and database ages are judged at.
pub fn unix_now() -> u64 {
    std::time::SystemTime::now().duration_since(std::time::UNIX_EPOCH).map_or(0, |d| d.as_secs())
}

/// The latest date an RFC 3339 date-time can hold, 9999-12-31T23:59:59Z, in seconds since
/// the Unix epoch.
pub const LAST_RFC3339_SECOND: u64 = 253_402_300_799;

/// Formats seconds since the Unix epoch as RFC 3339 UTC (`1970-01-01T00:00:00Z`).
pub fn rfc3339(epoch: u64) -> String {
    let days = (epoch / 86_400) as i64;
    let secs = epoch % 86_400;
    // Howard Hinnant's civil_from_days.
    let z = days + 719_468;
    let era = z.div_euclid(146_097);
    let doe = z - era * 146_097;
    let yoe = (doe - doe / 1460 + doe / 36_524 - doe / 146_096) / 365;
    let doy = doe - (365 * yoe + yoe / 4 - yoe / 100);
    let mp = (5 * doy + 2) / 153;
    let day = doy - (153 * mp + 2) / 5 + 1;
    let month = if mp < 10 { mp + 3 } else { mp - 9 };
    let year = yoe + era * 400 + i64::from(month <= 2);
    format!("{year:04}-{month:02}-{day:02}T{:02}:{:02}:{:02}Z", secs / 3600, secs / 60 % 60, secs % 60)
}

/// Reads an RFC 3339 date-time (`2027-01-01T00:00:00Z`, `2027-01-01T02:00:00+02:00`, with an
/// optional fraction of a second, which is dropped) as seconds since the Unix epoch; `None`
/// for anything else, a date that does not exist (`2027-02-30`) and a time before 1970. The
/// inverse of [`rfc3339`] on what it writes.
pub fn parse_rfc3339(text: &str) -> Option<u64> {
    let b = text.as_bytes();
    let number = |from: usize, to: usize| -> Option<i64> {
        let digits = b.get(from..to)?;
        digits.iter().all(u8::is_ascii_digit).then(|| digits.iter().fold(0, |n, d| n * 10 + i64::from(d - b'0')))
    };
    let at = |i: usize, allowed: &[u8]| b.get(i).is_some_and(|c| allowed.contains(c));
    if !(at(4, b"-") && at(7, b"-") && at(10, b"Tt ") && at(13, b":") && at(16, b":")) {
        return None;
    }
    let (year, month, day) = (number(0, 4)?, number(5, 7)?, number(8, 10)?);
    let (hour, minute, second) = (number(11, 13)?, number(14, 16)?, number(17, 19)?);
    let mut rest = &b[19..];
    if let Some(fraction) = rest.strip_prefix(b".") {
        let digits = fraction.iter().take_while(|c| c.is_ascii_digit()).count();
        if digits == 0 {
            return None;
        }
        rest = &fraction[digits..];
    }
    let offset = match rest {
        b"Z" | b"z" => 0,
        [sign @ (b'+' | b'-'), h1, h2, b':', m1, m2] => {
            let two = |tens: u8, units: u8| {
                (tens.is_ascii_digit() && units.is_ascii_digit())
                    .then(|| i64::from((tens - b'0') * 10 + (units - b'0')))
            };
            let (hours, minutes) = (two(*h1, *h2)?, two(*m1, *m2)?);
            if hours > 23 || minutes > 59 {
                return None;
            }
            let seconds = hours * 3600 + minutes * 60;
            if *sign == b'-' { -seconds } else { seconds }
        }
        _ => return None,
    };
    let leap = year % 4 == 0 && (year % 100 != 0 || year % 400 == 0);
    let days_in_month = match month {
        1 | 3 | 5 | 7 | 8 | 10 | 12 => 31,
        4 | 6 | 9 | 11 => 30,
        2 if leap => 29,
        2 => 28,
        _ => return None,
    };
    // A leap second (60) reads as the first second of the next minute.
    if day == 0 || day > days_in_month || hour > 23 || minute > 59 || second > 60 {
        return None;
    }
    // Howard Hinnant's days_from_civil, the inverse of the civil_from_days in `rfc3339`.
    let y = if month <= 2 { year - 1 } else { year };
    let era = y.div_euclid(400);
    let yoe = y - era * 400;
    let doy = (153 * ((month + 9) % 12) + 2) / 5 + day - 1;
    let doe = yoe * 365 + yoe / 4 - yoe / 100 + doy;
    let days = era * 146_097 + doe - 719_468;
    u64::try_from(days * 86_400 + hour * 3600 + minute * 60 + second - offset).ok()
}

#[cfg(test)]
mod tests {
    use super::*;

    fn file(path: &str) -> FileEntry {
        FileEntry { path: path.parse().unwrap(), size: 1, sha256: Digest::from_sha256_bytes([0; 32]) }
    }

    fn bom(files: Vec<FileEntry>) -> Bom {
        Bom {
            schema: BOM_SCHEMA.into(),
            name: "n".into(),
            version: "1".into(),
            created: rfc3339(0),
            expires: None,
            files,
            images: vec![],
            charts: vec![],
            manifests: vec![],
            sboms: vec![],
            scan: None,
            requires: None,
        }
    }

    #[test]
    fn formats_rfc3339() {
        assert_eq!(rfc3339(0), "1970-01-01T00:00:00Z");
        assert_eq!(rfc3339(1_735_689_600), "2025-01-01T00:00:00Z");
        assert_eq!(rfc3339(951_782_400 + 3661), "2000-02-29T01:01:01Z");
    }

    #[test]
    fn parses_rfc3339_as_rfc3339_writes_it_and_refuses_the_rest() {
        for epoch in [0, 59, 86_399, 951_782_400 + 3661, 1_735_689_600, 4_102_444_800, 253_402_300_799] {
            assert_eq!(parse_rfc3339(&rfc3339(epoch)), Some(epoch), "{}", rfc3339(epoch));
        }
        for (text, epoch) in [
            ("2025-01-01T02:00:00+02:00", Some(1_735_689_600)),
            ("2024-12-31T22:30:00-01:30", Some(1_735_689_600)),
            ("2025-01-01t00:00:00.999z", Some(1_735_689_600)),
            ("2025-01-01 00:00:00Z", Some(1_735_689_600)),
            ("2024-02-29T00:00:00Z", Some(1_709_164_800)),
            ("2023-02-29T00:00:00Z", None),
            ("2100-02-29T00:00:00Z", None),
            ("2025-04-31T00:00:00Z", None),
            ("2025-13-01T00:00:00Z", None),
            ("2025-01-01T24:00:00Z", None),
            ("2025-01-01T00:00:00", None),
            ("2025-01-01T00:00:00.Z", None),
            ("2025-01-01T00:00:00+2:00", None),
            ("2025-01-01T00:00:00+24:00", None),
            ("2025-01-01", None),
            ("1969-12-31T23:59:59Z", None),
            ("+025-01-01T00:00:00Z", None),
            ("90d", None),
            ("", None),
        ] {
            assert_eq!(parse_rfc3339(text), epoch, "{text}");
        }
    }

    /// A BOM without `expires` is written as before (the golden fixtures stay byte for byte),
    /// one with it carries it, and one whose date does not read is refused.
    #[test]
    fn expires_is_written_only_when_set_and_must_be_a_date() {
        let b = bom(vec![file("a")]);
        assert!(!String::from_utf8(b.to_bytes()).unwrap().contains("expires"));
        let dated = Bom { expires: Some(rfc3339(86_400)), ..b.clone() };
        let text = String::from_utf8(dated.to_bytes()).unwrap();
        assert!(
            text.contains("\"created\": \"1970-01-01T00:00:00Z\",\n  \"expires\": \"1970-01-02T00:00:00Z\",\n"),
            "{text}"
        );
        assert_eq!(Bom::parse(text.as_bytes(), &Limits::default()).unwrap(), dated);
        let undated = Bom { expires: Some("next year".into()), ..b };
        match undated.validate() {
            Err(BundleError::BomInvalid(m)) => {
                assert!(m.contains("expires \"next year\" is not an RFC 3339 date"), "{m}")
            }
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn expected_entries_put_directories_before_their_files() {
        let b = bom(vec![file("a-b"), file("a/x/y"), file("z")]);
        let paths: Vec<_> = b.expected_entries().iter().map(|e| e.tar_path().to_owned()).collect();
        assert_eq!(paths, ["a-b", "a/", "a/x/", "a/x/y", "z"]);
    }

    #[test]
    fn validate_refuses_inconsistent_boms() {
        assert!(bom(vec![file("a"), file("b")]).validate().is_ok());
        assert!(bom(vec![file("b"), file("a")]).validate().is_err());
        assert!(bom(vec![file("a"), file("a")]).validate().is_err());
        assert!(bom(vec![file("a"), file("a/b")]).validate().is_err());
        assert!(bom(vec![file("bom.json")]).validate().is_err());
        assert!(bom(vec![file("provenance/sbom.json")]).validate().is_ok(), "beside the head is free");
        assert!(bom(vec![file("docs/countersig/a")]).validate().is_ok(), "only the tree's own folder is taken");
        for under_the_head in [
            "bom.json/x",
            "bom.json.sig/a/b",
            "provenance/bundle.intoto.json/x",
            "bom.sigstore.json",
            "provenance/bundle.sigstore.json",
            "countersig",
            "countersig/0123.sigstore.json",
        ] {
            match bom(vec![file(under_the_head)]).validate() {
                Err(BundleError::BomInvalid(m)) => assert!(m.contains("reserved for the bundle's head"), "{m}"),
                other => panic!("{under_the_head}: {other:?}"),
            }
        }
        let mut b = bom(vec![file("a")]);
        b.manifests.push(ManifestEntry { path: "m.yaml".parse().unwrap() });
        assert!(b.validate().is_err());
    }

    fn blob(path: &str, content: &[u8]) -> FileEntry {
        FileEntry { path: path.parse().unwrap(), size: content.len() as u64, sha256: crate::sha256(content) }
    }

    #[test]
    fn an_oci_blob_whose_content_is_not_its_name_is_refused() {
        let named = crate::sha256(b"what the name promises");
        let path = format!("oci/{}", named.blob_path());
        assert!(bom(vec![blob(&path, b"what the name promises")]).validate().is_ok());
        match bom(vec![blob(&path, b"other bytes")]).validate() {
            Err(BundleError::BomInvalid(m)) => {
                assert!(m.contains(&path) && m.contains("a blob's name must be its digest"), "{m}");
            }
            other => panic!("{other:?}"),
        }
        // Names that are not digests are refused, not skipped.
        let hex = named.hex();
        for path in
            [format!("oci/blobs/sha1/{hex}"), format!("oci/blobs/sha256/{}", &hex[1..]), format!("oci/blobs/{hex}")]
        {
            match bom(vec![blob(&path, b"x")]).validate() {
                Err(BundleError::BomInvalid(m)) => assert!(m.contains("not named by a digest"), "{m}"),
                other => panic!("{path}: {other:?}"),
            }
        }
        // Nor are sha512 names, which no ustar header can hold.
        match bom(vec![blob(&format!("oci/blobs/sha512/{hex}{hex}"), b"x")]).validate() {
            Err(BundleError::BomInvalid(m)) => assert!(m.contains("bundles carry sha256 blobs only"), "{m}"),
            other => panic!("{other:?}"),
        }
    }

    #[test]
    fn file_sizes_that_overflow_when_added_are_refused() {
        let mut a = file("a");
        a.size = u64::MAX;
        assert!(bom(vec![a.clone(), file("b")]).validate().is_err());
        assert!(bom(vec![a]).validate().is_ok());
    }

    /// The OpenVEX file the scan records of these tests name.
    fn vex_file() -> VexDocument {
        VexDocument { name: "vex/debian.openvex.json".into(), sha256: crate::sha256(b"an OpenVEX file") }
    }

    /// When the gate of these tests judged: 2025-01-01T00:00:00Z.
    const JUDGED: u64 = 1_735_689_600;

    /// What a statement of `status` from [`vex_file`] says as the gate judged it at
    /// [`JUDGED`], expiring at `expires` if given.
    fn stated(status: VexStatus, expires: Option<&str>) -> Option<VexStatement> {
        let justification = (status == VexStatus::NotAffected).then(|| "vulnerable_code_not_present".to_owned());
        let expires = expires.map(|when| parse_rfc3339(when).unwrap());
        Some(VexStatement::new(status, justification, vex_file().sha256, expires, Some(JUDGED)))
    }

    fn finding(id: &str, severity: Severity, vex: Option<VexStatement>) -> ScanFinding {
        ScanFinding {
            id: id.into(),
            purl: "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64".into(),
            installed: "3.0.11-1~deb12u2".into(),
            fixed: None,
            severity,
            severity_from: None,
            image: "r.example/app:1 (linux/amd64)".into(),
            vex,
        }
    }

    /// A record failing on high, with `findings` and the `counts` it states.
    fn record(findings: Vec<ScanFinding>, counts: &[(Severity, u64)]) -> ScanRecord {
        ScanRecord {
            as_of: rfc3339(1_735_689_600),
            database: ScanDatabase { digest: "sha256:0d".into(), newest_modified: None, records: 1 },
            packages: 2,
            gaps: vec![],
            unlisted_gaps: 0,
            fail_on: Severity::High,
            allow_unknown: false,
            allow_incomplete: false,
            max_db_age_seconds: Some(604_800),
            vex_documents: vec![vex_file()],
            counts: counts.iter().copied().collect(),
            findings,
        }
    }

    fn scanned(scan: ScanRecord) -> Bom {
        Bom { scan: Some(scan), ..bom(vec![]) }
    }

    fn refusal(scan: ScanRecord) -> String {
        match scanned(scan).validate() {
            Err(BundleError::BomInvalid(m)) => m,
            other => panic!("{other:?}"),
        }
    }

    /// Only an unexpired not_affected or fixed statement excepts: a finding whose statement
    /// says affected or under_investigation, or whose exception expired, counts against the
    /// threshold as one no document spoke of does, in the counts and in the verdict a
    /// verifier recomputes.
    #[test]
    fn only_an_unexpired_not_affected_or_fixed_statement_excepts_a_finding() {
        let excepted = vec![
            finding("CVE-2024-1", Severity::Critical, stated(VexStatus::NotAffected, None)),
            finding("CVE-2024-2", Severity::Critical, stated(VexStatus::Fixed, None)),
        ];
        let clean = record(excepted.clone(), &[]);
        assert_eq!(clean.validate(), Ok(()));
        assert!(clean.passed());
        assert_eq!((clean.worst_unexcepted_at(JUDGED), clean.summary().excepted), (None, 2));

        for (vex, what) in [
            (None, "no statement"),
            (stated(VexStatus::Affected, None), "affected"),
            (stated(VexStatus::UnderInvestigation, None), "under_investigation"),
            (stated(VexStatus::NotAffected, Some("2025-01-01T00:00:00Z")), "an expired not_affected"),
            (stated(VexStatus::Fixed, Some("2025-01-01T00:00:00Z")), "an expired fixed"),
        ] {
            let mut findings = excepted.clone();
            findings.push(finding("CVE-2024-3", Severity::High, vex));
            let counted = record(findings.clone(), &[(Severity::High, 1)]);
            assert_eq!(counted.validate(), Ok(()), "{what}");
            assert_eq!(counted.worst_unexcepted_at(JUDGED), Some(Severity::High), "{what}");
            assert!(!counted.passed(), "{what} fails a policy at high");
            assert_eq!(counted.summary().excepted, 2, "{what}");
            let uncounted = record(findings, &[]);
            assert!(refusal(uncounted).contains("scan.counts are not the counts"), "{what}");
        }
        let unknown = record(
            vec![finding("CVE-2024-4", Severity::Unknown, stated(VexStatus::UnderInvestigation, None))],
            &[(Severity::Unknown, 1)],
        );
        assert!(unknown.unknown_unexcepted_at(JUDGED) && !unknown.passed());
    }

    /// An exception whose expiry was ahead when the gate judged is recorded with that date:
    /// it excepts as the gate judged (counts, `passed`), and for a verifier until its expiry,
    /// not after. One expired when the gate judged excepts nothing, whatever the verifier's
    /// clock says.
    #[test]
    fn an_exception_is_recorded_with_its_expiry_and_excepts_a_verifier_only_until_then() {
        let until = parse_rfc3339("2025-02-01T00:00:00Z").unwrap();
        let month = stated(VexStatus::NotAffected, Some("2025-02-01T00:00:00Z")).unwrap();
        assert_eq!(
            (month.expires.as_deref(), month.expired, month.excepts),
            (Some("2025-02-01T00:00:00Z"), false, true)
        );
        let scan = record(vec![finding("CVE-2024-1", Severity::Critical, Some(month.clone()))], &[]);
        assert_eq!(scan.validate(), Ok(()), "excepted as the gate judged, so counted nowhere");
        assert!(scan.passed());
        assert_eq!((scan.worst_unexcepted_at(until - 1), scan.expired_since(until - 1)), (None, 0));
        assert_eq!(
            (scan.worst_unexcepted_at(until), scan.expired_since(until)),
            (Some(Severity::Critical), 1),
            "from its expiry's own second on"
        );
        let unknown = record(vec![finding("CVE-2024-1", Severity::Unknown, Some(month.clone()))], &[]);
        assert!(!unknown.unknown_unexcepted_at(until - 1) && unknown.unknown_unexcepted_at(until));

        let lapsed = record(
            vec![finding("CVE-2024-2", Severity::High, stated(VexStatus::Fixed, Some("2024-12-01T00:00:00Z")))],
            &[(Severity::High, 1)],
        );
        assert_eq!(lapsed.validate(), Ok(()));
        assert_eq!(lapsed.worst_unexcepted_at(0), Some(Severity::High), "a clock behind the gate's revives nothing");
        assert_eq!(lapsed.expired_since(0), 0, "it expired before the gate judged, not since");

        let unreadable = VexStatement { expires: Some("next month".into()), ..month };
        assert!(unreadable.is_exception() && !unreadable.is_exception_at(0), "an expiry nobody reads excepts nothing");
        let judged_blind = VexStatement::new(VexStatus::Fixed, None, vex_file().sha256, Some(until), None);
        assert!(judged_blind.expired && !judged_blind.excepts, "a gate without a clock saw no expiry ahead");
    }

    /// The gaps a policy let pass are listed, the first hundred, each cut at a thousand
    /// characters, and counted beyond that.
    #[test]
    fn gaps_are_listed_up_to_a_hundred_and_counted_beyond() {
        let many: Vec<String> = (0..ScanRecord::LISTED_GAPS + 5).map(|n| format!("app: gap {n}")).collect();
        let (listed, unlisted) = ScanRecord::list_gaps(many);
        assert_eq!((listed.len(), unlisted), (100, 5));
        assert_eq!((listed[0].as_str(), listed[99].as_str()), ("app: gap 0", "app: gap 99"));
        assert_eq!(ScanRecord::list_gaps(vec!["app: one".into()]), (vec!["app: one".to_owned()], 0));
        let (cut, _) = ScanRecord::list_gaps(vec!["é".repeat(1_001), "é".repeat(1_000)]);
        assert_eq!(cut, [format!("{}…", "é".repeat(999)), "é".repeat(1_000)], "the ellipsis within the thousand");

        let allowed = ScanRecord { gaps: listed, unlisted_gaps: 5, allow_incomplete: true, ..record(vec![], &[]) };
        assert_eq!(allowed.validate(), Ok(()));
        assert_eq!((allowed.gap_count(), allowed.summary().gaps), (105, 105));
    }

    /// A gap names a path the layer's author chose: listed, its control and bidirectional
    /// formatting characters are escaped (escaping may lengthen it, and it is cut after), so
    /// that what `genesis verify` and a refusal print is text; a record holding one raw, or a
    /// gap longer than a record keeps, is refused.
    #[test]
    fn a_gap_is_listed_with_its_control_characters_escaped_and_one_raw_or_too_long_is_refused() {
        let hostile = "app: var/lib/dpkg/status\n✓ signature verified\u{1b}[2J\u{202e}txt.exe\u{85}: not inventoried";
        let (listed, _) = ScanRecord::list_gaps(vec![hostile.into(), format!("app: {}", "\u{7}".repeat(400))]);
        assert_eq!(
            listed[0],
            "app: var/lib/dpkg/status\\u{a}✓ signature verified\\u{1b}[2J\\u{202e}txt.exe\\u{85}: not inventoried"
        );
        assert_eq!(listed[1].chars().count(), ScanRecord::GAP_CHARS, "escaped, then cut: {}", listed[1]);
        assert!(listed[1].starts_with("app: \\u{7}\\u{7}") && listed[1].ends_with('…'));
        let allowed = ScanRecord { gaps: listed, allow_incomplete: true, ..record(vec![], &[]) };
        assert_eq!(allowed.validate(), Ok(()));

        let raw = ScanRecord { gaps: vec!["app: ok".into(), hostile.into()], ..allowed.clone() };
        let why = refusal(raw);
        assert!(why.starts_with("scan.gaps[1] holds a control character: a record writes them escaped"), "{why}");
        assert!(!why.chars().any(controls_display), "the refusal prints it escaped: {why:?}");
        let bidi = ScanRecord { gaps: vec!["app: \u{2066}x".into()], ..allowed.clone() };
        assert!(refusal(bidi).contains("scan.gaps[0] holds a control character"));
        let long = ScanRecord { gaps: vec!["é".repeat(1_001)], ..allowed };
        assert_eq!(refusal(long), "scan.gaps[0] is 1001 characters long: a record cuts each gap to 1000");
    }

    /// A report of the record (`genesis verify --output json`) says how many gaps there were
    /// and when the first exception expires only when there is something to say.
    #[test]
    fn the_summary_leaves_out_gaps_and_first_expiry_when_there_are_none() {
        let plain = serde_json::to_value(record(vec![], &[]).summary()).unwrap();
        assert!(plain.get("gaps").is_none() && plain.get("firstExpiry").is_none(), "{plain}");
        let excepted =
            finding("CVE-2024-1", Severity::Critical, stated(VexStatus::Fixed, Some("2025-06-01T00:00:00Z")));
        let scan =
            ScanRecord { gaps: vec!["app: a gap".into()], allow_incomplete: true, ..record(vec![excepted], &[]) };
        let said = serde_json::to_value(scan.summary()).unwrap();
        assert_eq!(
            (&said["gaps"], &said["firstExpiry"]),
            (&serde_json::json!(1), &serde_json::json!("2025-06-01T00:00:00Z"))
        );
    }

    /// The latest expiry a statement records is the last second RFC 3339 writes in UTC: one
    /// second later needs a fifth digit of year, which no reader of the record takes.
    #[test]
    fn the_latest_expiry_is_the_last_date_the_record_can_write() {
        let latest = VexStatement::LATEST_EXPIRY;
        assert_eq!(rfc3339(latest), "9999-12-31T23:59:59Z");
        assert_eq!(parse_rfc3339(&rfc3339(latest)), Some(latest));
        assert_eq!(rfc3339(latest + 1), "10000-01-01T00:00:00Z");
        assert_eq!(parse_rfc3339(&rfc3339(latest + 1)), None);
        let far = VexStatement::new(VexStatus::Fixed, None, vex_file().sha256, Some(latest), Some(JUDGED));
        let scan = record(vec![finding("CVE-2024-1", Severity::High, Some(far))], &[]);
        assert_eq!(scan.validate(), Ok(()));
    }

    /// The gate fails on a gap its policy does not allow, so a record holding one without
    /// `allowIncomplete` contradicts itself; so does one counting gaps it had room to list.
    #[test]
    fn a_record_with_gaps_its_policy_did_not_allow_or_counted_but_not_listed_is_refused() {
        let gap = "r.example/app:1 (linux/amd64): var/lib/rpm/Packages is an RPM BerkeleyDB database: not inventoried";
        let unallowed = ScanRecord { gaps: vec![gap.into()], ..record(vec![], &[]) };
        let why = refusal(unallowed.clone());
        assert!(
            why.contains("the inventory had gaps (1 in scan.gaps and scan.unlistedGaps) but scan.allowIncomplete"),
            "{why}"
        );
        let counted_only = ScanRecord { gaps: vec![], unlisted_gaps: 1, ..unallowed.clone() };
        assert!(refusal(counted_only).contains("scan.allowIncomplete is not set"));

        let allowed = ScanRecord { allow_incomplete: true, ..unallowed };
        assert_eq!(allowed.validate(), Ok(()));
        let hidden = ScanRecord { unlisted_gaps: 3, ..allowed.clone() };
        assert!(refusal(hidden).contains("scan.gaps lists 1 and scan.unlistedGaps counts 3 more"));
        let overlong = ScanRecord { gaps: vec![gap.into(); 101], ..allowed };
        assert!(refusal(overlong).contains("a record lists the first 100 and counts only the rest"));
    }

    #[test]
    fn a_statement_naming_an_unlisted_document_or_contradicting_itself_is_refused() {
        let mut unlisted = stated(VexStatus::Fixed, None);
        if let Some(vex) = &mut unlisted {
            vex.document = crate::sha256(b"another file");
        }
        let why = refusal(record(vec![finding("CVE-2024-1", Severity::High, unlisted.clone())], &[]));
        assert!(
            why.contains("scan finding CVE-2024-1 of pkg:deb/debian/libssl3")
                && why.contains("is not one of scan.vexDocuments"),
            "{why}"
        );
        let mut listed_too = record(vec![finding("CVE-2024-1", Severity::High, unlisted)], &[]);
        listed_too
            .vex_documents
            .push(VexDocument { name: "other.json".into(), sha256: crate::sha256(b"another file") });
        assert_eq!(listed_too.validate(), Ok(()));

        let contradiction = |change: fn(&mut VexStatement), expected: &str| {
            let mut vex = stated(VexStatus::NotAffected, None);
            change(vex.as_mut().unwrap());
            let counts: &[(Severity, u64)] =
                if vex.as_ref().unwrap().is_exception() { &[] } else { &[(Severity::High, 1)] };
            let why = refusal(record(vec![finding("CVE-2024-1", Severity::High, vex)], counts));
            assert!(why.contains(expected), "{expected}: {why}");
        };
        contradiction(|v| v.excepts = false, "excepts is false for a statement that excepts");
        contradiction(
            |v| {
                v.expires = Some("2025-01-01T00:00:00Z".into());
                v.expired = true;
            },
            "excepts is true for a statement that does not except (not_affected: vulnerable_code_not_present \
             (expired 2025-01-01T00:00:00Z))",
        );
        contradiction(
            |v| {
                v.expired = true;
                v.excepts = false;
            },
            "expired without the date it expired (expires)",
        );
        contradiction(|v| v.justification = None, "a not_affected statement without its justification");
        contradiction(|v| v.justification = Some(" ".into()), "a not_affected statement without its justification");
        contradiction(
            |v| {
                v.status = VexStatus::UnderInvestigation;
                v.excepts = false;
            },
            "a statement of status under_investigation with a justification",
        );
        contradiction(|v| v.expires = Some("last week".into()), "expires \"last week\" is not an RFC 3339 date");
    }

    /// The record's JSON, as signed: camelCase, the gaps its policy allowed, each finding's
    /// borrowed severity, each statement's status in OpenVEX's words with its document, its
    /// expiry and whether it excepts, and nothing else accepted.
    #[test]
    fn the_scan_record_reads_back_as_written_and_refuses_unknown_fields() {
        let mut rated =
            finding("CVE-2024-1", Severity::Critical, stated(VexStatus::NotAffected, Some("2025-06-01T00:00:00Z")));
        rated.severity_from = Some("CVE-2024-9".into());
        let mut scan = record(
            vec![
                rated,
                finding("CVE-2024-2", Severity::High, stated(VexStatus::NotAffected, Some("2025-01-01T00:00:00Z"))),
                finding("CVE-2024-3", Severity::Low, stated(VexStatus::UnderInvestigation, None)),
                finding("CVE-2024-4", Severity::Low, None),
            ],
            &[(Severity::High, 1), (Severity::Low, 2)],
        );
        let unlisted = scanned(scan.clone()).to_bytes();
        let unlisted: serde_json::Value = serde_json::from_slice(&unlisted).unwrap();
        for absent in ["gaps", "unlistedGaps", "allowIncomplete"] {
            assert!(unlisted["scan"].get(absent).is_none(), "{absent}: {}", unlisted["scan"]);
        }
        (scan.gaps, scan.allow_incomplete) = (vec!["r.example/app:1 (linux/amd64): a gap".into()], true);
        let b = scanned(scan);
        let bytes = b.to_bytes();
        assert_eq!(Bom::parse(&bytes, &Limits::default()).unwrap(), b);
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        let scan = &json["scan"];
        assert_eq!(scan["maxDbAgeSeconds"], 604_800);
        assert_eq!(
            (&scan["gaps"], &scan["allowIncomplete"]),
            (&serde_json::json!(["r.example/app:1 (linux/amd64): a gap"]), &serde_json::json!(true))
        );
        assert!(scan.get("unlistedGaps").is_none(), "none beyond those listed: {scan}");
        let document = vex_file().sha256.to_string();
        assert_eq!(scan["vexDocuments"], serde_json::json!([{"name": "vex/debian.openvex.json", "sha256": document}]));
        assert_eq!(scan["findings"][0]["severityFrom"], "CVE-2024-9");
        assert!(scan["findings"][1].get("severityFrom").is_none(), "{}", scan["findings"][1]);
        assert_eq!(
            scan["findings"][0]["vex"],
            serde_json::json!({"status": "not_affected", "justification": "vulnerable_code_not_present",
                               "document": document, "expires": "2025-06-01T00:00:00Z", "excepts": true})
        );
        assert_eq!(
            scan["findings"][1]["vex"],
            serde_json::json!({"status": "not_affected", "justification": "vulnerable_code_not_present",
                               "document": document, "expires": "2025-01-01T00:00:00Z", "expired": true,
                               "excepts": false})
        );
        assert_eq!(
            scan["findings"][2]["vex"],
            serde_json::json!({"status": "under_investigation", "document": document, "excepts": false})
        );
        assert!(scan["findings"][3].get("vex").is_none(), "no statement, no vex: {}", scan["findings"][3]);

        let mut unknown = json.clone();
        unknown["scan"]["findings"][2]["vex"]["until"] = "2025-01-01T00:00:00Z".into();
        assert!(Bom::parse(&serde_json::to_vec(&unknown).unwrap(), &Limits::default()).is_err());
        let mut old = json;
        old["scan"]["findings"][0]["exception"] = "not_affected: vulnerable_code_not_present".into();
        assert!(Bom::parse(&serde_json::to_vec(&old).unwrap(), &Limits::default()).is_err());
    }

    #[test]
    fn a_statement_reads_as_its_status_justification_and_expiry() {
        let shown = |status, expired| stated(status, expired).unwrap().to_string();
        assert_eq!(shown(VexStatus::NotAffected, None), "not_affected: vulnerable_code_not_present");
        assert_eq!(shown(VexStatus::Fixed, None), "fixed");
        assert_eq!(shown(VexStatus::Affected, None), "affected");
        assert_eq!(
            shown(VexStatus::UnderInvestigation, Some("2025-01-01T00:00:00Z")),
            "under_investigation (expired 2025-01-01T00:00:00Z)"
        );
        assert_eq!(shown(VexStatus::Fixed, Some("2025-06-01T00:00:00+02:00")), "fixed (expires 2025-05-31T22:00:00Z)");
    }

    /// A delta's BOM (decision 0043): its `requires` reads back as written, sorted by digest;
    /// a full bundle's BOM has no `requires` key at all, so its bytes are those of a builder
    /// that knew no deltas; and a BOM whose `requires` no builder writes is refused.
    #[test]
    fn a_delta_requires_reads_back_and_one_no_builder_writes_is_refused() {
        let digest = |n: u8| Digest::from_sha256_bytes([n; 32]);
        let carried =
            FileEntry { path: format!("oci/{}", digest(9).blob_path()).parse().unwrap(), size: 1, sha256: digest(9) };
        let requires = Requires {
            base: BaseBundle { name: "n".into(), version: "0".into(), bom_sha256: digest(7) },
            blobs: vec![RequiredBlob { digest: digest(1), size: 10 }, RequiredBlob { digest: digest(2), size: 20 }],
        };
        let delta = Bom { requires: Some(requires.clone()), ..bom(vec![carried.clone()]) };
        let bytes = delta.to_bytes();
        assert_eq!(Bom::parse(&bytes, &Limits::default()).unwrap(), delta);
        let json: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        assert_eq!(json["requires"]["base"]["bomSha256"], digest(7).to_string());
        assert_eq!(json["requires"]["blobs"][1], serde_json::json!({"digest": digest(2).to_string(), "size": 20}));
        assert_eq!(requires.bytes(), 30);
        assert_eq!(requires.blob(&digest(2)).map(|b| b.size), Some(20));
        assert!(requires.blob(&digest(3)).is_none());
        let full = bom(vec![carried.clone()]).to_bytes();
        assert!(!String::from_utf8(full).unwrap().contains("requires"), "a full bundle's BOM is unchanged");

        let refused = |change: fn(&mut Requires)| {
            let mut r = requires.clone();
            change(&mut r);
            match (Bom { requires: Some(r), ..bom(vec![carried.clone()]) }).validate() {
                Err(BundleError::BomInvalid(why)) => why,
                other => panic!("{other:?}"),
            }
        };
        assert!(refused(|r| r.blobs.clear()).contains("requires.blobs is empty"));
        assert!(refused(|r| r.blobs.reverse()).contains("not strictly sorted"));
        assert!(refused(|r| r.blobs[1].digest = Digest::from_sha256_bytes([1; 32])).contains("not strictly sorted"));
        assert!(refused(|r| r.blobs[1].digest = Digest::from_sha256_bytes([9; 32])).contains("both carried"));
        assert!(refused(|r| r.base.version = " ".into()).contains("no name or no version"));
        assert!(refused(|r| r.blobs[1].size = u64::MAX).contains("more than 2^64 bytes"));

        let mut unknown = json;
        unknown["requires"]["blobs"][0]["mediaType"] = "application/vnd.oci.image.layer.v1.tar".into();
        assert!(Bom::parse(&serde_json::to_vec(&unknown).unwrap(), &Limits::default()).is_err());
    }

    /// What needs every blob of the images is refused for a delta, naming its base.
    #[test]
    fn a_delta_cannot_be_served_or_exported() {
        let base =
            BaseBundle { name: "demo".into(), version: "1.0".into(), bom_sha256: Digest::from_sha256_bytes([7; 32]) };
        let requires =
            Requires { base, blobs: vec![RequiredBlob { digest: Digest::from_sha256_bytes([1; 32]), size: 5 }] };
        assert!(bom(vec![]).require_full("serve").is_ok());
        let e = Bom { requires: Some(requires), ..bom(vec![]) }.require_full("serve").unwrap_err().to_string();
        assert!(e.starts_with("serve needs every blob of the bundle's images, and n 1 is a delta bundle"), "{e}");
        assert!(e.contains("1 blob(s) (5 bytes)") && e.contains("load demo 1.0 and then this bundle"), "{e}");
    }

    #[test]
    fn parse_refuses_oversized_and_unknown_fields() {
        let b = bom(vec![file("a")]);
        let bytes = b.to_bytes();
        assert_eq!(Bom::parse(&bytes, &Limits::default()).unwrap(), b);
        let tight = Limits { max_bom_size: 10, ..Limits::default() };
        assert!(matches!(Bom::parse(&bytes, &tight), Err(BundleError::LimitExceeded { .. })));
        let mut v: serde_json::Value = serde_json::from_slice(&bytes).unwrap();
        v["extra"] = 1.into();
        assert!(Bom::parse(&serde_json::to_vec(&v).unwrap(), &Limits::default()).is_err());
    }
}
