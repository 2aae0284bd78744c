//! Exceptions from OpenVEX documents (spec v0.2.0, <https://github.com/openvex/spec>): a
//! statement that a vulnerability does not affect a package, or is fixed in it, excepts the
//! findings it names from the gate.
//!
//! # What a statement names
//!
//! A statement applies to a [`Finding`] when both of these hold.
//!
//! - **Vulnerability**: its `vulnerability.name`, `vulnerability.@id` or one of
//!   `vulnerability.aliases` is the finding's ID or one of the finding's aliases, ASCII case
//!   ignored. A statement about `CVE-2024-35195` so covers a finding reported as
//!   `GHSA-9wx4-h78v-vm56` with that CVE among its aliases. An `@id` that is an IRI names only
//!   an ID written the same way.
//! - **Product**: one of its `products` names the finding, by package URL: the product's
//!   `@id` when it is a purl, and its `identifiers.purl`. CPEs and hashes are read but name
//!   nothing, since a finding carries neither. A product without `subcomponents` (or with an
//!   empty list) names the finding when it is the finding's package, or the image the
//!   package is in (then every package of that image). A product with `subcomponents` names
//!   it when the product is that image and one subcomponent is the package. Any other product
//!   with subcomponents (a Go module naming its dependencies, which trivy places through a
//!   dependency graph) names nothing here: the gate has no graph to place the package under
//!   it, and an exception it cannot place must not except.
//!
//! Package URLs compare by the rules trivy documents as the OpenVEX community's consensus
//! (openvex/spec#27, "PURL matching" in trivy's VEX documentation): type, namespace and name
//! are equal (lowercased for the types whose names the purl spec calls case-insensitive, and
//! PyPI's `_` read as `-`, as the purl spec's type list says); a statement's purl without a
//! version names every version; each qualifier it states must be present with the same value,
//! and one it omits is not compared; a subpath, when it states one, must be equal.
//!
//! The image a finding is in is compared as the `oci` purl it has under the purl spec:
//! `pkg:oci/NAME@DIGEST?arch=ARCH&repository_url=REGISTRY/REPOSITORY&tag=TAG`, read from
//! [`Finding::image`], which is an image reference (`[registry/]repository[:tag][@digest]`)
//! optionally followed by a space and its platform (`linux/amd64`, bracketed or not). A
//! statement's `repository_url` is normalised the way references are (`debian` and
//! `index.docker.io/library/debian` are `docker.io/library/debian`); one that pins a digest
//! (`pkg:oci/app@sha256:…`) names the image only when the finding's reference carries that
//! digest.
//!
//! # Which statement counts
//!
//! OpenVEX statements are a history, "each overriding, but also enriching the previous ones".
//! Of the statements that name a finding, the latest counts: by its `last_updated`, else its
//! `timestamp`, else its document's `timestamp`; at equal times, the one read last. Only
//! `not_affected` and `fixed` except a finding; a later `affected` or `under_investigation`
//! leaves it counted, even over an earlier `not_affected`. Whatever its status, the statement
//! that counts is reported with the finding ([`VexStatement`]), with the SHA-256 of the file
//! it came from, so that a finding left counted by `under_investigation` does not read as one
//! no document spoke of.
//!
//! # Expiry: our extension
//!
//! OpenVEX has no expiry, and an exception that never lapses is how a waiver granted for a
//! month still hides a critical finding a year later. So a statement may carry `"expires"`, an
//! RFC 3339 date-time after which it no longer excepts, and a document may carry one that its
//! statements without their own inherit (the way `timestamp` cascades in the spec); one past
//! 9999-12-31T23:59:59Z in UTC is refused, since the signed record writes it in UTC with four
//! digits of year. It is a
//! field the spec does not define, chosen over the alternatives because it is explicit and
//! read by a machine: a date inside `status_notes` or `impact_statement` would be prose other
//! tools show as text, and a maximum age counted from `timestamp` would silently end a
//! statement whose author meant it to stand. Tools that decode OpenVEX into the spec's types
//! and ignore unknown fields read such a document as if the field were absent; a validator of
//! the spec's JSON schema, which allows no other fields, refuses it. Once expired, a statement
//! still counts as the latest word on its finding: it does not let an older exception stand
//! in for it, and the finding reports the statement with its status, `expires` (the date, in
//! UTC) and `expired`. A statement whose expiry is still ahead is reported with its `expires`
//! too, and the signed BOM's scan record keeps it: a trust policy's `require: scan` judges it
//! again when the bundle is verified, so an exception given for a month does not pass a
//! bundle for longer.
//!
//! Documents are read strictly: the fields the spec defines (plus `expires`) and no other,
//! `@context` v0.2.0, the document's required fields, every statement complete on its own
//! (with its products, since a standalone document has no encapsulating one to inherit them
//! from), a `not_affected` statement with a `justification` or an `impact_statement`, an
//! `affected` one with an `action_statement`, justifications from the spec's list. A document
//! that breaks any of these is refused whole, naming the statement: half an exception file
//! would except something other than what its author wrote.

use std::collections::BTreeMap;
use std::path::Path;
use std::str::FromStr;

pub use genesis_bundle::VexStatus;
use genesis_bundle::{VexDocument, VexStatement};
use genesis_types::{Digest, ImageReference, Platform};
use serde::Deserialize;
use serde::de::IgnoredAny;

use crate::error::ScanError;
use crate::finding::Finding;
use crate::reports::read_capped;

/// The largest OpenVEX file read (16 MiB): a file of exceptions runs to kilobytes, and one
/// from across the gap is input like any other.
pub const MAX_VEX_FILE: u64 = 16 * 1024 * 1024;

/// The only `@context` read: the spec version these rules follow.
const OPENVEX_CONTEXT: &str = "https://openvex.dev/ns/v0.2.0";

/// The spec's status justifications, the only labels `justification` takes.
const JUSTIFICATIONS: [&str; 5] = [
    "component_not_present",
    "vulnerable_code_not_present",
    "vulnerable_code_not_in_execute_path",
    "vulnerable_code_cannot_be_controlled_by_adversary",
    "inline_mitigations_already_exist",
];

/// The statements of one or more OpenVEX files, ready to judge findings, and the files they
/// came from.
#[derive(Debug, Clone)]
pub struct Exceptions {
    documents: Vec<VexDocument>,
    statements: Vec<Statement>,
}

impl Exceptions {
    /// Reads the OpenVEX documents in one file: a document, a JSON array of documents, or
    /// documents one after another. See the module documentation for what is refused.
    pub fn load(path: &Path) -> Result<Exceptions, ScanError> {
        Exceptions::load_all([path])
    }

    /// Reads several files, as [`Exceptions::load`] does each; statements of a later file are
    /// read after those of an earlier one (which decides between statements of equal time).
    /// Each file is named as given.
    pub fn load_all<P: AsRef<Path>>(paths: impl IntoIterator<Item = P>) -> Result<Exceptions, ScanError> {
        Exceptions::load_named_in(Path::new(""), paths)
    }

    /// Reads the files `names` gives relative to `dir` (a scan policy's folder), each named
    /// as `names` gives it, so that a record of them does not depend on where `dir` is.
    pub(crate) fn load_named_in<P: AsRef<Path>>(
        dir: &Path,
        names: impl IntoIterator<Item = P>,
    ) -> Result<Exceptions, ScanError> {
        let mut exceptions = Exceptions { documents: Vec::new(), statements: Vec::new() };
        for name in names {
            let path = dir.join(name.as_ref());
            let bytes = read_capped(&path, MAX_VEX_FILE)?;
            let sha256 = genesis_bundle::sha256(&bytes);
            let statements =
                parse_documents(&bytes, &sha256).map_err(|reason| ScanError::Input { path: path.clone(), reason })?;
            exceptions.statements.extend(statements);
            exceptions.documents.push(VexDocument { name: name.as_ref().display().to_string(), sha256 });
        }
        Ok(exceptions)
    }

    /// The files read, in order, each by its name as given and its SHA-256.
    pub fn documents(&self) -> &[VexDocument] {
        &self.documents
    }

    /// What the statement that counts for `finding` says of it at `now` (RFC 3339); `None`
    /// when no statement names it. Its expiry, if any, is reported by its date, and reported
    /// passed when it is not after `now`, as is every one when `now` does not read as a date:
    /// its expiry cannot be shown to be ahead ([`VexStatement::new`]).
    pub fn judge(&self, finding: &Finding, now: &str) -> Option<VexStatement> {
        let now = genesis_bundle::parse_rfc3339(now);
        let package = PackageUrl::parse(&finding.purl).ok();
        let image = image_purl(&finding.image);
        let (_, statement) = self
            .statements
            .iter()
            .enumerate()
            .filter(|(_, s)| s.names_vulnerability(finding) && s.names_product(package.as_ref(), image.as_ref()))
            .max_by_key(|(read, s)| (s.at, *read))?;
        Some(VexStatement::new(
            statement.status,
            statement.justification.clone(),
            statement.document.clone(),
            statement.expires,
            now,
        ))
    }
}

/// One statement, checked and compiled.
#[derive(Debug, Clone)]
struct Statement {
    /// Its vulnerability's name, `@id` and aliases.
    vulnerabilities: Vec<String>,
    products: Vec<Product>,
    status: VexStatus,
    /// A `not_affected` statement's justification label, or its impact statement.
    justification: Option<String>,
    /// When it was made, seconds since the Unix epoch: orders statements.
    at: u64,
    /// When it stops excepting, seconds since the Unix epoch.
    expires: Option<u64>,
    /// The SHA-256 of the file it was read from.
    document: Digest,
}

/// A product as matched: its package URLs, and those of its subcomponents when it lists any
/// (`Some` even when none of them has a purl, so that such a product names nothing rather than
/// everything).
#[derive(Debug, Clone)]
struct Product {
    purls: Vec<PackageUrl>,
    subcomponents: Option<Vec<PackageUrl>>,
}

impl Statement {
    fn names_vulnerability(&self, finding: &Finding) -> bool {
        std::iter::once(&finding.id)
            .chain(&finding.aliases)
            .any(|id| self.vulnerabilities.iter().any(|v| v.eq_ignore_ascii_case(id)))
    }

    fn names_product(&self, package: Option<&PackageUrl>, image: Option<&PackageUrl>) -> bool {
        self.products.iter().any(|product| product.names(package, image))
    }
}

impl Product {
    fn names(&self, package: Option<&PackageUrl>, image: Option<&PackageUrl>) -> bool {
        let is = |target: Option<&PackageUrl>| target.is_some_and(|t| self.purls.iter().any(|p| p.names(t)));
        match &self.subcomponents {
            None => is(package) || is(image),
            Some(subcomponents) => is(image) && package.is_some_and(|p| subcomponents.iter().any(|s| s.names(p))),
        }
    }
}

/// A package URL's parts, decoded, with names in the case the purl spec compares them in.
#[derive(Debug, Clone, PartialEq, Eq)]
struct PackageUrl {
    kind: String,
    namespace: Option<String>,
    name: String,
    version: Option<String>,
    qualifiers: BTreeMap<String, String>,
    subpath: Option<String>,
}

impl PackageUrl {
    fn parse(text: &str) -> Result<PackageUrl, String> {
        let purl =
            purl::GenericPurl::<String>::from_str(text).map_err(|e| format!("{text:?} is not a package URL: {e}"))?;
        let kind = purl.package_type().to_ascii_lowercase();
        // The purl spec's types whose namespace and name are case-insensitive (lowercased in
        // a canonical purl); rpm's name is case-sensitive, its namespace is not.
        let lowercase_names = matches!(
            kind.as_str(),
            "alpm" | "apk" | "bitbucket" | "composer" | "deb" | "github" | "golang" | "hex" | "npm" | "oci" | "pypi"
        );
        let namespace = purl
            .namespace()
            .map(|n| if lowercase_names || kind == "rpm" { n.to_ascii_lowercase() } else { n.to_owned() });
        let name = match kind.as_str() {
            "pypi" => purl.name().to_ascii_lowercase().replace('_', "-"),
            _ if lowercase_names => purl.name().to_ascii_lowercase(),
            _ => purl.name().to_owned(),
        };
        let mut qualifiers: BTreeMap<String, String> = purl
            .qualifiers()
            .iter()
            .map(|(key, value)| {
                let key: &str = key;
                (key.to_ascii_lowercase(), value.to_owned())
            })
            .collect();
        if kind == "oci"
            && let Some(url) = qualifiers.get_mut("repository_url")
        {
            *url = normalise_repository(url);
        }
        Ok(PackageUrl {
            namespace,
            name,
            version: purl.version().map(str::to_owned),
            qualifiers,
            subpath: purl.subpath().map(str::to_owned),
            kind,
        })
    }

    /// Whether this purl, as a statement writes it, names `target`.
    fn names(&self, target: &PackageUrl) -> bool {
        self.kind == target.kind
            && self.namespace == target.namespace
            && self.name == target.name
            && self.version.as_ref().is_none_or(|v| target.version.as_ref() == Some(v))
            && self.subpath.as_ref().is_none_or(|s| target.subpath.as_ref() == Some(s))
            && self.qualifiers.iter().all(|(key, value)| target.qualifiers.get(key) == Some(value))
    }
}

/// A repository as references name it (`registry/repository`), from an `oci` purl's
/// `repository_url`, which writes it with or without a scheme, Docker Hub's other host names
/// or the implicit `docker.io/library/`.
fn normalise_repository(url: &str) -> String {
    let bare = url.trim_start_matches("https://").trim_start_matches("http://").trim_end_matches('/');
    let bare = ["index.docker.io/", "registry-1.docker.io/"]
        .iter()
        .find_map(|host| bare.strip_prefix(*host))
        .map_or_else(|| bare.to_owned(), |rest| format!("docker.io/{rest}"));
    match ImageReference::from_str(&bare) {
        Ok(reference) if reference.tag().is_none() && reference.digest().is_none() => {
            format!("{}/{}", reference.registry(), reference.repository())
        }
        _ => bare,
    }
}

/// The `oci` purl of the image a finding is in; `None` when [`Finding::image`] does not
/// start with an image reference.
fn image_purl(image: &str) -> Option<PackageUrl> {
    let mut words = image.split_whitespace();
    let reference = ImageReference::from_str(words.next()?).ok()?;
    let arch = words
        .next()
        .map(|word| word.trim_matches(['(', ')', '[', ']']))
        .and_then(|platform| Platform::from_str(platform).ok())
        .map(|platform| platform.architecture);
    let repository = reference.repository();
    let mut qualifiers =
        BTreeMap::from([("repository_url".to_owned(), format!("{}/{}", reference.registry(), repository))]);
    if let Some(tag) = reference.tag() {
        qualifiers.insert("tag".to_owned(), tag.to_owned());
    }
    if let Some(arch) = arch {
        qualifiers.insert("arch".to_owned(), arch);
    }
    Some(PackageUrl {
        kind: "oci".to_owned(),
        namespace: None,
        name: repository.rsplit_once('/').map_or(repository, |(_, name)| name).to_owned(),
        version: reference.digest().map(ToString::to_string),
        qualifiers,
        subpath: None,
    })
}

/// The statements of every document in `bytes`, the file whose SHA-256 is `file`, or why they
/// are refused.
fn parse_documents(bytes: &[u8], file: &Digest) -> Result<Vec<Statement>, String> {
    let mut documents = Vec::new();
    for value in serde_json::Deserializer::from_slice(bytes).into_iter::<serde_json::Value>() {
        match value.map_err(|e| format!("not JSON: {e}"))? {
            serde_json::Value::Array(items) => documents.extend(items),
            document => documents.push(document),
        }
    }
    if documents.is_empty() {
        return Err("holds no OpenVEX document".into());
    }
    let several = documents.len() > 1;
    let mut statements = Vec::new();
    for (n, value) in documents.into_iter().enumerate() {
        let place = if several { format!("document {}: ", n + 1) } else { String::new() };
        let document: RawDocument =
            serde_json::from_value(value).map_err(|e| format!("{place}not an OpenVEX v0.2.0 document: {e}"))?;
        statements.extend(document.compile(file).map_err(|e| format!("{place}{e}"))?);
    }
    Ok(statements)
}

/// Seconds since the Unix epoch of an RFC 3339 field.
fn date(field: &str, text: &str) -> Result<u64, String> {
    genesis_bundle::parse_rfc3339(text)
        .ok_or_else(|| format!("{field} {text:?} is not an RFC 3339 date-time such as 2027-01-01T00:00:00Z"))
}

/// Seconds since the Unix epoch of an `expires`, refused past
/// [`VexStatement::LATEST_EXPIRY`] (9999-12-31T23:59:59Z): the signed record writes each
/// expiry in UTC, where `9999-12-31T23:00:00-05:00` is 10000-01-01T04:00:00Z, a year RFC 3339
/// cannot write, so the builder's own BOM would be refused. Refused rather than moved to the
/// last date: the record must say the date its author wrote.
fn expiry(text: &str) -> Result<u64, String> {
    let at = date("expires", text)?;
    if at > VexStatement::LATEST_EXPIRY {
        return Err(format!(
            "expires {text:?} is {} in UTC, after 9999-12-31T23:59:59Z, the last date the signed record can \
             write; give an earlier one",
            genesis_bundle::rfc3339(at)
        ));
    }
    Ok(at)
}

/// An OpenVEX document as the spec's JSON schema defines it, plus `expires`. Fields read
/// only to be allowed are `IgnoredAny`.
#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawDocument {
    #[serde(rename = "@context")]
    context: String,
    #[serde(rename = "@id")]
    _id: IgnoredAny,
    #[serde(rename = "author")]
    _author: IgnoredAny,
    #[serde(rename = "role", default)]
    _role: Option<IgnoredAny>,
    timestamp: String,
    #[serde(default)]
    last_updated: Option<String>,
    #[serde(rename = "version")]
    _version: IgnoredAny,
    #[serde(rename = "tooling", default)]
    _tooling: Option<IgnoredAny>,
    #[serde(default)]
    expires: Option<String>,
    statements: Vec<RawStatement>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawStatement {
    #[serde(rename = "@id", default)]
    _id: Option<IgnoredAny>,
    #[serde(rename = "version", default)]
    _version: Option<IgnoredAny>,
    vulnerability: RawVulnerability,
    #[serde(default)]
    timestamp: Option<String>,
    #[serde(default)]
    last_updated: Option<String>,
    #[serde(default)]
    products: Option<Vec<RawProduct>>,
    status: RawStatus,
    #[serde(rename = "supplier", default)]
    _supplier: Option<IgnoredAny>,
    #[serde(rename = "status_notes", default)]
    _status_notes: Option<IgnoredAny>,
    #[serde(default)]
    justification: Option<String>,
    #[serde(default)]
    impact_statement: Option<String>,
    #[serde(default)]
    action_statement: Option<String>,
    #[serde(default)]
    action_statement_timestamp: Option<String>,
    #[serde(default)]
    expires: Option<String>,
}

#[derive(Deserialize, Clone, Copy)]
#[serde(rename_all = "snake_case")]
enum RawStatus {
    NotAffected,
    Affected,
    Fixed,
    UnderInvestigation,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawVulnerability {
    #[serde(rename = "@id", default)]
    id: Option<String>,
    name: String,
    #[serde(rename = "description", default)]
    _description: Option<IgnoredAny>,
    #[serde(default)]
    aliases: Option<Vec<String>>,
}

#[derive(Deserialize)]
struct RawProduct {
    #[serde(flatten)]
    component: RawComponent,
    #[serde(default)]
    subcomponents: Option<Vec<RawComponent>>,
}

/// What a product and a subcomponent share. Serde's `deny_unknown_fields` does not combine
/// with `flatten`, so unknown fields are gathered in `rest` and refused by
/// [`RawComponent::purls`].
#[derive(Deserialize)]
struct RawComponent {
    #[serde(rename = "@id", default)]
    id: Option<String>,
    #[serde(default)]
    identifiers: Option<RawIdentifiers>,
    #[serde(rename = "hashes", default)]
    _hashes: Option<IgnoredAny>,
    #[serde(flatten)]
    rest: BTreeMap<String, IgnoredAny>,
}

#[derive(Deserialize)]
#[serde(deny_unknown_fields)]
struct RawIdentifiers {
    #[serde(default)]
    purl: Option<String>,
    #[serde(rename = "cpe22", default)]
    _cpe22: Option<IgnoredAny>,
    #[serde(rename = "cpe23", default)]
    _cpe23: Option<IgnoredAny>,
}

impl RawDocument {
    /// Its statements, each filed under `file`, the SHA-256 of the file it is in.
    fn compile(self, file: &Digest) -> Result<Vec<Statement>, String> {
        if self.context != OPENVEX_CONTEXT {
            return Err(format!("@context {:?} is not OpenVEX v0.2.0 ({OPENVEX_CONTEXT})", self.context));
        }
        let issued = date("timestamp", &self.timestamp)?;
        if let Some(updated) = &self.last_updated {
            date("last_updated", updated)?;
        }
        let expires = self.expires.as_deref().map(expiry).transpose()?;
        if self.statements.is_empty() {
            return Err("statements: none; a document states at least one".into());
        }
        self.statements
            .into_iter()
            .enumerate()
            .map(|(n, statement)| {
                let name = statement.vulnerability.name.clone();
                statement.compile(issued, expires, file).map_err(|e| format!("statements[{n}] ({name:?}): {e}"))
            })
            .collect()
    }
}

impl RawStatement {
    /// The statement, with its document's issue time and expiry to inherit, filed under
    /// `file`.
    fn compile(self, issued: u64, document_expires: Option<u64>, file: &Digest) -> Result<Statement, String> {
        let name = self.vulnerability.name.trim();
        if name.is_empty() {
            return Err("vulnerability.name is empty".into());
        }
        let mut vulnerabilities = vec![name.to_owned()];
        vulnerabilities.extend(self.vulnerability.id);
        vulnerabilities.extend(self.vulnerability.aliases.unwrap_or_default());

        let products = self.products.unwrap_or_default();
        if products.is_empty() {
            return Err("products: none; a statement in a standalone document names its products \
                        (OpenVEX inherits them only from an encapsulating document)"
                .into());
        }
        let products = products.into_iter().map(RawProduct::compile).collect::<Result<Vec<_>, _>>()?;

        if let Some(label) = &self.justification
            && !JUSTIFICATIONS.contains(&label.as_str())
        {
            return Err(format!("justification {label:?} is not one of {}", JUSTIFICATIONS.join(", ")));
        }
        let (status, justification) = match self.status {
            RawStatus::NotAffected => {
                let impact = self.impact_statement.filter(|text| !text.trim().is_empty());
                match self.justification.or(impact) {
                    Some(justification) => (VexStatus::NotAffected, Some(justification)),
                    None => {
                        return Err("status not_affected without a justification or an impact_statement, \
                                    one of which the spec requires"
                            .into());
                    }
                }
            }
            RawStatus::Fixed => (VexStatus::Fixed, None),
            RawStatus::Affected if self.action_statement.as_deref().is_none_or(|text| text.trim().is_empty()) => {
                return Err("status affected without an action_statement, which the spec requires".into());
            }
            RawStatus::Affected => (VexStatus::Affected, None),
            RawStatus::UnderInvestigation => (VexStatus::UnderInvestigation, None),
        };

        if let Some(text) = &self.action_statement_timestamp {
            date("action_statement_timestamp", text)?;
        }
        let timestamp = self.timestamp.as_deref().map(|text| date("timestamp", text)).transpose()?;
        let updated = self.last_updated.as_deref().map(|text| date("last_updated", text)).transpose()?;
        let expires = self.expires.as_deref().map(expiry).transpose()?;
        Ok(Statement {
            vulnerabilities,
            products,
            status,
            justification,
            at: updated.or(timestamp).unwrap_or(issued),
            expires: expires.or(document_expires),
            document: file.clone(),
        })
    }
}

impl RawProduct {
    fn compile(self) -> Result<Product, String> {
        let purls = self.component.purls("products")?;
        let subcomponents = match self.subcomponents {
            Some(list) if !list.is_empty() => {
                let mut purls = Vec::new();
                for component in list {
                    purls.extend(component.purls("subcomponents")?);
                }
                Some(purls)
            }
            _ => None,
        };
        Ok(Product { purls, subcomponents })
    }
}

impl RawComponent {
    /// The package URLs that identify a component of `list` (`products`, `subcomponents`).
    fn purls(self, list: &str) -> Result<Vec<PackageUrl>, String> {
        if let Some(field) = self.rest.keys().next() {
            return Err(format!("{list}: unknown field {field:?} (expected @id, identifiers, hashes)"));
        }
        if self.id.is_none() && self.identifiers.is_none() {
            return Err(format!("{list}: an entry with neither @id nor identifiers"));
        }
        let from_id = self.id.filter(|id| id.starts_with("pkg:"));
        let from_identifiers = self.identifiers.and_then(|identifiers| identifiers.purl);
        from_id.into_iter().chain(from_identifiers).map(|text| PackageUrl::parse(&text)).collect()
    }
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use genesis_inventory::PackageKind;

    use super::*;
    use crate::finding::Severity;
    use crate::fixtures::NOW;

    const OPENSSL: &str = "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64&distro=debian-12";
    const IMAGE: &str = "registry.example/shop/app:1.4 (linux/amd64)";

    fn finding(id: &str, purl: &str) -> Finding {
        Finding {
            id: id.into(),
            aliases: vec![],
            package: "libssl3".into(),
            kind: PackageKind::Deb,
            installed: "3.0.11-1~deb12u2".into(),
            fixed: None,
            severity: Severity::High,
            score: None,
            severity_from: None,
            image: IMAGE.into(),
            purl: purl.into(),
            summary: None,
        }
    }

    /// A document with these statements (JSON text of the array's items).
    fn document(statements: &str) -> String {
        format!(
            r#"{{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.invalid/vex/1",
                "author": "Security <security@example.invalid>", "timestamp": "2026-01-10T12:00:00Z",
                "version": 1, "statements": [{statements}]}}"#
        )
    }

    /// The digest the documents the tests write in memory are filed under.
    fn file() -> Digest {
        genesis_bundle::sha256(b"an OpenVEX file")
    }

    fn exceptions(text: &str) -> Exceptions {
        Exceptions { documents: vec![], statements: parse_documents(text.as_bytes(), &file()).unwrap() }
    }

    fn refusal(text: &str) -> String {
        parse_documents(text.as_bytes(), &file()).expect_err("the document is refused")
    }

    fn not_affected(vulnerability: &str, product: &str) -> String {
        format!(
            r#"{{"vulnerability": {{"name": "{vulnerability}"}}, "products": [{product}],
                "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path"}}"#
        )
    }

    /// What a statement of `status` (with `justification`) in [`file`] says at [`NOW`],
    /// expiring at `expires` if given.
    fn stated(status: VexStatus, justification: Option<&str>, expires: Option<&str>) -> Option<VexStatement> {
        let expires = expires.map(|when| genesis_bundle::parse_rfc3339(when).unwrap());
        let now = genesis_bundle::parse_rfc3339(NOW);
        Some(VexStatement::new(status, justification.map(str::to_owned), file(), expires, now))
    }

    /// What [`not_affected`]'s statements say.
    fn excepted() -> Option<VexStatement> {
        stated(VexStatus::NotAffected, Some("vulnerable_code_not_in_execute_path"), None)
    }

    #[test]
    fn a_not_affected_statement_excepts_the_package_it_names_by_purl() {
        let vex = exceptions(&document(&not_affected(
            "CVE-2024-0727",
            r#"{"@id": "pkg:deb/debian/libssl3@3.0.11-1~deb12u2"}"#,
        )));
        assert_eq!(vex.judge(&finding("CVE-2024-0727", OPENSSL), NOW), excepted());
        assert_eq!(vex.judge(&finding("CVE-2024-9999", OPENSSL), NOW), None, "another vulnerability");
        let other_version = "pkg:deb/debian/libssl3@3.0.13-1~deb12u1?arch=amd64";
        assert_eq!(vex.judge(&finding("CVE-2024-0727", other_version), NOW), None, "another version");
    }

    #[test]
    fn a_purl_without_version_names_every_version_and_identifiers_purl_counts_too() {
        let vex = exceptions(&document(&not_affected(
            "CVE-2024-0727",
            r#"{"@id": "https://example.invalid/products/ssl", "identifiers": {"purl": "pkg:deb/debian/libssl3"}}"#,
        )));
        assert_eq!(vex.judge(&finding("CVE-2024-0727", OPENSSL), NOW), excepted());
        let later = "pkg:deb/debian/libssl3@3.0.15-1~deb12u1?arch=arm64";
        assert_eq!(vex.judge(&finding("CVE-2024-0727", later), NOW), excepted());
    }

    #[test]
    fn each_qualifier_a_statement_states_must_match_and_others_are_not_compared() {
        let vex =
            exceptions(&document(&not_affected("CVE-2024-0727", r#"{"@id": "pkg:deb/debian/libssl3?arch=arm64"}"#)));
        assert_eq!(vex.judge(&finding("CVE-2024-0727", OPENSSL), NOW), None);
        let vex =
            exceptions(&document(&not_affected("CVE-2024-0727", r#"{"@id": "pkg:deb/debian/libssl3?arch=amd64"}"#)));
        assert_eq!(vex.judge(&finding("CVE-2024-0727", OPENSSL), NOW), excepted());
    }

    #[test]
    fn names_compare_as_the_purl_spec_says_each_type_does() {
        let vex = exceptions(&document(&not_affected("CVE-2024-35195", r#"{"@id": "pkg:pypi/Requests_Toolbelt"}"#)));
        assert_eq!(vex.judge(&finding("CVE-2024-35195", "pkg:pypi/requests-toolbelt@1.0.0"), NOW), excepted());
        let vex = exceptions(&document(&not_affected("CVE-2024-1", r#"{"@id": "pkg:rpm/RedHat/OpenSSL"}"#)));
        assert_eq!(vex.judge(&finding("CVE-2024-1", "pkg:rpm/redhat/OpenSSL@3.0.7-27.el9"), NOW), excepted());
        assert_eq!(vex.judge(&finding("CVE-2024-1", "pkg:rpm/redhat/openssl@3.0.7-27.el9"), NOW), None);
    }

    #[test]
    fn an_alias_on_either_side_names_the_vulnerability() {
        let purl = r#"{"@id": "pkg:pypi/requests"}"#;
        let vex = exceptions(&document(&not_affected("CVE-2024-35195", purl)));
        let mut ghsa = finding("GHSA-9wx4-h78v-vm56", "pkg:pypi/requests@2.31.0");
        assert_eq!(vex.judge(&ghsa, NOW), None);
        ghsa.aliases = vec!["CVE-2024-35195".into()];
        assert_eq!(vex.judge(&ghsa, NOW), excepted());

        let aliased = document(
            r#"{"vulnerability": {"name": "CVE-2024-35195", "aliases": ["ghsa-9wx4-h78v-vm56"]},
                "products": [{"@id": "pkg:pypi/requests"}], "status": "fixed"}"#,
        );
        let cve_only = finding("GHSA-9wx4-h78v-vm56", "pkg:pypi/requests@2.31.0");
        assert_eq!(exceptions(&aliased).judge(&cve_only, NOW), stated(VexStatus::Fixed, None, None));
    }

    #[test]
    fn an_expired_exception_no_longer_excepts_and_says_when_it_expired() {
        let statement = |expires: &str| {
            document(&format!(
                r#"{{"vulnerability": {{"name": "CVE-2024-0727"}}, "products": [{{"@id": "pkg:deb/debian/libssl3"}}],
                    "status": "not_affected", "justification": "vulnerable_code_not_in_execute_path",
                    "expires": "{expires}"}}"#
            ))
        };
        let ssl = finding("CVE-2024-0727", OPENSSL);
        // Its expiry (in UTC), whether it had passed, whether it excepts.
        let judged = |expires: &str, now: &str| {
            let vex = exceptions(&statement(expires)).judge(&ssl, now).unwrap();
            assert_eq!(vex.justification.as_deref(), Some("vulnerable_code_not_in_execute_path"));
            (vex.expires, vex.expired, vex.excepts)
        };
        let expiry = |when: &str| Some(when.to_owned());
        assert_eq!(
            judged("2026-06-30T00:00:00Z", NOW),
            (expiry("2026-06-30T00:00:00Z"), false, true),
            "ahead of its expiry it excepts, and says when it ends"
        );
        assert_eq!(
            judged("2026-02-28T23:00:00-02:00", NOW),
            (expiry("2026-03-01T01:00:00Z"), false, true),
            "an hour before it expires (01:00 UTC), still excepted"
        );
        assert_eq!(
            judged("2026-02-28T21:00:00-02:00", NOW),
            (expiry("2026-02-28T23:00:00Z"), true, false),
            "an hour after it expired, and the date in UTC"
        );
        assert_eq!(
            judged("2026-03-01T00:00:00Z", NOW),
            (expiry("2026-03-01T00:00:00Z"), true, false),
            "from its own second on"
        );
        assert_eq!(
            judged("2026-06-30T00:00:00Z", "yesterday"),
            (expiry("2026-06-30T00:00:00Z"), true, false),
            "a clock that cannot be read does not keep an exception alive"
        );
    }

    /// The signed record writes an expiry in UTC, with four digits of year: one past
    /// 9999-12-31T23:59:59Z, however its offset hides it, is refused, naming its statement,
    /// rather than make the builder write a BOM its own validation refuses.
    #[test]
    fn an_expiry_past_the_last_date_the_record_can_write_is_refused() {
        let statement = |expires: &str| {
            document(&format!(
                r#"{{"vulnerability": {{"name": "CVE-2024-0727"}}, "products": [{{"@id": "pkg:deb/debian/libssl3"}}],
                    "status": "fixed", "expires": "{expires}"}}"#
            ))
        };
        let why = refusal(&statement("9999-12-31T23:00:00-05:00"));
        assert_eq!(
            why,
            "statements[0] (\"CVE-2024-0727\"): expires \"9999-12-31T23:00:00-05:00\" is 10000-01-01T04:00:00Z in \
             UTC, after 9999-12-31T23:59:59Z, the last date the signed record can write; give an earlier one"
        );
        let whole = document(
            r#"{"vulnerability": {"name": "CVE-2024-0727"}, "products": [{"@id": "pkg:deb/debian/libssl3"}],
                "status": "fixed"}"#,
        )
        .replace(r#""version": 1,"#, r#""version": 1, "expires": "9999-12-31T23:59:59-00:01","#);
        assert!(refusal(&whole).starts_with("expires \"9999-12-31T23:59:59-00:01\" is 10000-01-01T00:00:59Z"));

        let last = exceptions(&statement("9999-12-31T23:59:59Z")).judge(&finding("CVE-2024-0727", OPENSSL), NOW);
        let expires = last.unwrap().expires.unwrap();
        assert_eq!(genesis_bundle::parse_rfc3339(&expires), Some(VexStatement::LATEST_EXPIRY), "{expires}");
    }

    #[test]
    fn a_document_expiry_applies_to_statements_without_their_own() {
        let text = r#"{"@context": "https://openvex.dev/ns/v0.2.0", "@id": "https://example.invalid/vex/2",
            "author": "ops", "timestamp": "2026-01-01T00:00:00Z", "version": 3, "expires": "2026-02-01T00:00:00Z",
            "statements": [
              {"vulnerability": {"name": "CVE-2024-0727"}, "products": [{"@id": "pkg:deb/debian/libssl3"}],
               "status": "fixed"},
              {"vulnerability": {"name": "CVE-2024-2511"}, "products": [{"@id": "pkg:deb/debian/libssl3"}],
               "status": "fixed", "expires": "2027-01-01T00:00:00Z"}]}"#;
        let vex = exceptions(text);
        assert_eq!(
            vex.judge(&finding("CVE-2024-0727", OPENSSL), NOW),
            stated(VexStatus::Fixed, None, Some("2026-02-01T00:00:00Z"))
        );
        assert_eq!(
            vex.judge(&finding("CVE-2024-2511", OPENSSL), NOW),
            stated(VexStatus::Fixed, None, Some("2027-01-01T00:00:00Z")),
            "its own expiry, still ahead, not its document's"
        );
    }

    /// The statement that counts is reported whatever its status: an `affected` or
    /// `under_investigation` one leaves the finding counted, and says so.
    #[test]
    fn the_latest_statement_counts_and_affected_or_under_investigation_do_not_except() {
        let history = |second: &str| {
            document(&format!(
                r#"{{"vulnerability": {{"name": "CVE-2024-0727"}}, "products": [{{"@id": "pkg:deb/debian/libssl3"}}],
                     "timestamp": "2026-01-01T00:00:00Z", "status": "not_affected",
                     "justification": "component_not_present"}},
                   {{"vulnerability": {{"name": "CVE-2024-0727"}}, "products": [{{"@id": "pkg:deb/debian/libssl3"}}],
                     "timestamp": "2026-02-01T00:00:00Z", {second}}}"#
            ))
        };
        let ssl = finding("CVE-2024-0727", OPENSSL);
        let affected = history(r#""status": "affected", "action_statement": "Upgrade to 3.0.13-1~deb12u1""#);
        let judged = exceptions(&affected).judge(&ssl, NOW);
        assert_eq!(judged, stated(VexStatus::Affected, None, None));
        assert!(!judged.unwrap().excepts);
        let investigating = history(r#""status": "under_investigation""#);
        let judged = exceptions(&investigating).judge(&ssl, NOW);
        assert_eq!(judged, stated(VexStatus::UnderInvestigation, None, None));
        assert!(!judged.unwrap().excepts);
        let fixed = history(r#""status": "fixed""#);
        assert_eq!(exceptions(&fixed).judge(&ssl, NOW), stated(VexStatus::Fixed, None, None));

        // Order in the file does not matter, the time does: the earlier statement written last.
        let reversed = document(
            r#"{"vulnerability": {"name": "CVE-2024-0727"}, "products": [{"@id": "pkg:deb/debian/libssl3"}],
                "timestamp": "2026-02-01T00:00:00Z", "status": "under_investigation"},
               {"vulnerability": {"name": "CVE-2024-0727"}, "products": [{"@id": "pkg:deb/debian/libssl3"}],
                "timestamp": "2026-01-01T00:00:00Z", "status": "not_affected", "justification": "component_not_present"}"#,
        );
        assert_eq!(exceptions(&reversed).judge(&ssl, NOW), stated(VexStatus::UnderInvestigation, None, None));
    }

    #[test]
    fn an_image_product_names_every_package_of_that_image_and_no_other_image() {
        let vex = exceptions(&document(&not_affected(
            "CVE-2024-0727",
            r#"{"@id": "pkg:oci/app?repository_url=registry.example%2Fshop%2Fapp"}"#,
        )));
        assert_eq!(vex.judge(&finding("CVE-2024-0727", OPENSSL), NOW), excepted());
        let mut elsewhere = finding("CVE-2024-0727", OPENSSL);
        elsewhere.image = "registry.example/other/app:1.4 (linux/amd64)".into();
        assert_eq!(vex.judge(&elsewhere, NOW), None);

        let hub = exceptions(&document(&not_affected(
            "CVE-2024-0727",
            r#"{"@id": "pkg:oci/debian?repository_url=index.docker.io/library/debian&tag=12"}"#,
        )));
        let mut debian = finding("CVE-2024-0727", OPENSSL);
        debian.image = "debian:12".into();
        assert_eq!(hub.judge(&debian, NOW), excepted(), "Docker Hub's names are one repository");
        debian.image = "debian:11".into();
        assert_eq!(hub.judge(&debian, NOW), None, "the tag it states must match");
    }

    #[test]
    fn an_image_product_pinned_to_a_digest_names_only_that_image() {
        let digest = format!("sha256:{}", "a".repeat(64));
        let vex = exceptions(&document(&not_affected(
            "CVE-2024-0727",
            &format!(r#"{{"@id": "pkg:oci/app@{}?arch=amd64"}}"#, digest.replace(':', "%3A")),
        )));
        let mut pinned = finding("CVE-2024-0727", OPENSSL);
        pinned.image = format!("registry.example/shop/app@{digest} linux/amd64");
        assert_eq!(vex.judge(&pinned, NOW), excepted());
        pinned.image = format!("registry.example/shop/app@{digest} linux/arm64");
        assert_eq!(vex.judge(&pinned, NOW), None, "another platform");
        assert_eq!(vex.judge(&finding("CVE-2024-0727", OPENSSL), NOW), None, "a reference without the digest");
    }

    #[test]
    fn subcomponents_narrow_an_image_product_to_those_packages() {
        let vex = exceptions(&document(&not_affected(
            "CVE-2024-0727",
            r#"{"@id": "pkg:oci/app?repository_url=registry.example/shop/app",
                "subcomponents": [{"@id": "pkg:deb/debian/libssl3"}]}"#,
        )));
        assert_eq!(vex.judge(&finding("CVE-2024-0727", OPENSSL), NOW), excepted());
        let crypto = "pkg:deb/debian/libcrypto3@3.0.11-1~deb12u2";
        assert_eq!(vex.judge(&finding("CVE-2024-0727", crypto), NOW), None, "another package of the image");
        let mut elsewhere = finding("CVE-2024-0727", OPENSSL);
        elsewhere.image = "registry.example/other/app:1.4".into();
        assert_eq!(vex.judge(&elsewhere, NOW), None, "the same package in another image");
    }

    #[test]
    fn a_product_the_gate_cannot_place_excepts_nothing() {
        // A Go module naming a dependency: placing it needs a dependency graph.
        let module = exceptions(&document(&not_affected(
            "CVE-2024-0727",
            r#"{"@id": "pkg:golang/example.com/shop", "subcomponents": [{"@id": "pkg:deb/debian/libssl3"}]}"#,
        )));
        assert_eq!(module.judge(&finding("CVE-2024-0727", OPENSSL), NOW), None);
        // Subcomponents named by CPE only.
        let cpe = exceptions(&document(&not_affected(
            "CVE-2024-0727",
            r#"{"@id": "pkg:oci/app?repository_url=registry.example/shop/app",
                "subcomponents": [{"identifiers": {"cpe23": "cpe:2.3:a:openssl:openssl:3.0.11:*:*:*:*:*:*:*"}}]}"#,
        )));
        assert_eq!(cpe.judge(&finding("CVE-2024-0727", OPENSSL), NOW), None);
    }

    #[test]
    fn not_affected_needs_a_justification_or_an_impact_statement() {
        let bare = document(
            r#"{"vulnerability": {"name": "CVE-2024-0727"}, "products": [{"@id": "pkg:deb/debian/libssl3"}],
                "status": "not_affected"}"#,
        );
        let why = refusal(&bare);
        assert!(why.contains("statements[0] (\"CVE-2024-0727\")") && why.contains("justification"), "{why}");

        let impact = document(
            r#"{"vulnerability": {"name": "CVE-2024-0727"}, "products": [{"@id": "pkg:deb/debian/libssl3"}],
                "status": "not_affected", "impact_statement": "The PKCS12 parser is never called"}"#,
        );
        assert_eq!(
            exceptions(&impact).judge(&finding("CVE-2024-0727", OPENSSL), NOW),
            stated(VexStatus::NotAffected, Some("The PKCS12 parser is never called"), None)
        );
        let unknown_label = document(
            r#"{"vulnerability": {"name": "CVE-2024-0727"}, "products": [{"@id": "pkg:deb/debian/libssl3"}],
                "status": "not_affected", "justification": "trust_me"}"#,
        );
        assert!(refusal(&unknown_label).contains("\"trust_me\" is not one of"));
    }

    #[test]
    fn a_document_off_the_spec_is_refused_whole() {
        let typo = document(
            r#"{"vulnerability": {"name": "CVE-2024-0727"}, "products": [{"@id": "pkg:deb/debian/libssl3"}],
                "status": "fixed", "expire": "2026-06-30T00:00:00Z"}"#,
        );
        assert!(refusal(&typo).contains("unknown field `expire`"), "{}", refusal(&typo));
        let product_typo = document(
            r#"{"vulnerability": {"name": "CVE-2024-0727"}, "products": [{"@id": "pkg:deb/debian/libssl3", "purl": "x"}],
                "status": "fixed"}"#,
        );
        assert!(refusal(&product_typo).contains("unknown field \"purl\""), "{}", refusal(&product_typo));
        let no_products = document(r#"{"vulnerability": {"name": "CVE-2024-0727"}, "status": "fixed"}"#);
        assert!(refusal(&no_products).contains("products: none"));
        let bad_purl = document(&not_affected("CVE-2024-0727", r#"{"@id": "pkg:"}"#));
        assert!(refusal(&bad_purl).contains("is not a package URL"));
        let affected = document(
            r#"{"vulnerability": {"name": "CVE-2024-0727"}, "products": [{"@id": "pkg:deb/debian/libssl3"}],
                "status": "affected"}"#,
        );
        assert!(refusal(&affected).contains("action_statement"));
        let old = document(&not_affected("CVE-2024-0727", r#"{"@id": "pkg:deb/debian/libssl3"}"#))
            .replace("ns/v0.2.0", "ns/v0.0.1");
        assert!(refusal(&old).contains("is not OpenVEX v0.2.0"));
        let no_author = document(&not_affected("CVE-2024-0727", r#"{"@id": "pkg:deb/debian/libssl3"}"#))
            .replace(r#""author": "Security <security@example.invalid>","#, "");
        assert!(refusal(&no_author).contains("missing field `author`"));
        let bad_time = document(&not_affected("CVE-2024-0727", r#"{"@id": "pkg:deb/debian/libssl3"}"#))
            .replace("2026-01-10T12:00:00Z", "last tuesday");
        assert!(refusal(&bad_time).contains("not an RFC 3339 date-time"));
        assert!(refusal("").contains("no OpenVEX document"));
        assert!(refusal("{").contains("not JSON"));
    }

    #[test]
    fn one_file_may_hold_several_documents_and_several_files_load_together() {
        let first = document(&not_affected("CVE-2024-0727", r#"{"@id": "pkg:deb/debian/libssl3"}"#));
        let second = document(&not_affected("CVE-2024-2511", r#"{"@id": "pkg:deb/debian/libssl3"}"#));
        let dir = tempfile::tempdir().unwrap();
        let array = dir.path().join("array.json");
        std::fs::write(&array, format!("[{first}, {second}]")).unwrap();
        let stream = dir.path().join("stream.json");
        std::fs::write(&stream, format!("{first}\n{second}\n")).unwrap();
        let excepts = |vex: Option<VexStatement>| vex.is_some_and(|v| v.excepts);
        for path in [&array, &stream] {
            let vex = Exceptions::load(path).unwrap();
            assert!(excepts(vex.judge(&finding("CVE-2024-2511", OPENSSL), NOW)), "{}", path.display());
        }
        let single = dir.path().join("single.json");
        std::fs::write(&single, &second).unwrap();
        let only_first = dir.path().join("first.json");
        std::fs::write(&only_first, &first).unwrap();
        let both = Exceptions::load_all([&only_first, &single]).unwrap();
        assert!(excepts(both.judge(&finding("CVE-2024-0727", OPENSSL), NOW)));
        assert!(excepts(both.judge(&finding("CVE-2024-2511", OPENSSL), NOW)));

        let broken = dir.path().join("broken.json");
        std::fs::write(&broken, format!("[{first}, {{}}]")).unwrap();
        let error = Exceptions::load(&broken).unwrap_err();
        assert!(
            matches!(&error, ScanError::Input { path, reason } if *path == broken && reason.starts_with("document 2: ")),
            "{error:?}"
        );
    }

    /// Each file is named as given and by the SHA-256 of its bytes, and each statement by the
    /// file it came from: a policy's files by their names relative to it, so that a record of
    /// them does not depend on the folder the build ran in.
    #[test]
    fn each_statement_names_its_file_by_digest_and_each_file_is_named_as_given() {
        let first = document(&not_affected("CVE-2024-0727", r#"{"@id": "pkg:deb/debian/libssl3"}"#));
        let second = document(
            r#"{"vulnerability": {"name": "CVE-2024-2511"}, "products": [{"@id": "pkg:deb/debian/libssl3"}],
                "status": "under_investigation"}"#,
        );
        let dir = tempfile::tempdir().unwrap();
        std::fs::create_dir(dir.path().join("vex")).unwrap();
        std::fs::write(dir.path().join("vex/first.json"), &first).unwrap();
        std::fs::write(dir.path().join("second.json"), &second).unwrap();
        let vex = Exceptions::load_named_in(dir.path(), ["vex/first.json", "second.json"]).unwrap();
        let (first_sha, second_sha) =
            (genesis_bundle::sha256(first.as_bytes()), genesis_bundle::sha256(second.as_bytes()));
        assert_eq!(
            vex.documents(),
            [
                VexDocument { name: "vex/first.json".into(), sha256: first_sha.clone() },
                VexDocument { name: "second.json".into(), sha256: second_sha.clone() },
            ]
        );
        assert_eq!(vex.judge(&finding("CVE-2024-0727", OPENSSL), NOW).unwrap().document, first_sha);
        assert_eq!(vex.judge(&finding("CVE-2024-2511", OPENSSL), NOW).unwrap().document, second_sha);

        let absolute = dir.path().join("second.json");
        let given = Exceptions::load(&absolute).unwrap();
        assert_eq!(given.documents()[0].name, absolute.display().to_string(), "a path on the command line, as given");
    }
}
