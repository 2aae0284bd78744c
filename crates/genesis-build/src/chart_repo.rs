//! Chart repositories (the `helm repo index` layout): finding a chart version in
//! `index.yaml`, and what its download is sent with.
//!
//! The index comes from the network, so the lookup builds only what it needs: the entries of
//! the one chart are read one at a time, keeping the first of the wanted version, each text at
//! most [`MAX_TEXT`] bytes, and everything else is skipped without being built (serde's
//! ignored values do not expand YAML aliases). Whatever an index's aliases expand to, the
//! lookup holds one entry at a time.

use std::fmt;

use genesis_registry::RegistryOptions;
use genesis_types::Digest;
use serde::de::{self, DeserializeSeed, Deserializer, IgnoredAny, MapAccess, SeqAccess, Visitor};

use crate::{BuildError, Result};

/// Largest `index.yaml` downloaded.
pub(crate) const MAX_INDEX: usize = 16 << 20;

/// Longest text read from an index (a chart name, a version, a URL, a digest).
const MAX_TEXT: usize = 4096;

/// A chart version as a repository's `index.yaml` lists it.
#[derive(Debug, Clone, PartialEq, Eq)]
pub(crate) struct IndexedChart {
    /// Where to download it, resolved against the repository URL.
    pub(crate) url: url::Url,
    /// What its bytes must hash to.
    pub(crate) digest: Digest,
}

/// Finds chart `name` at `version` in `index`, the `index.yaml` of the repository at `repo`.
/// The download is checked against the entry's `digest` (hex SHA-256, as `helm repo index`
/// writes it); when that is missing or malformed, the spec's `pin` stands in for it, and
/// without a pin the chart is refused: nothing could check what arrives.
pub(crate) fn find(index: &[u8], repo: &str, name: &str, version: &str, pin: Option<&Digest>) -> Result<IndexedChart> {
    let index_url = format!("{repo}/index.yaml");
    let refused = |reason: String| BuildError::input(&index_url, reason);
    let entry = Lookup { name, version }
        .deserialize(serde_yaml_ng::Deserializer::from_slice(index))
        .map_err(|e| refused(format!("not a chart repository index: {e}")))?
        .ok_or_else(|| refused(format!("no chart {name} version {version}")))?;
    let listed = entry.urls.first_text().ok_or_else(|| refused(format!("chart {name} {version} has no urls")))?;
    let url = url::Url::parse(&join_url(repo, listed))
        .map_err(|e| refused(format!("chart {name} {version}: URL {listed:?}: {e}")))?;
    if !matches!(url.scheme(), "https" | "http") {
        return Err(refused(format!("chart {name} {version}: URL {listed:?} is neither https:// nor http://")));
    }
    let indexed = entry.digest.text().and_then(|hex| Digest::from_sha256_hex(hex).ok());
    let digest = match (indexed, pin) {
        (Some(digest), _) => digest,
        (None, Some(pin)) => pin.clone(),
        (None, None) => {
            let problem = match entry.digest {
                Node::Missing => "has no digest",
                _ => "has a malformed digest (not the 64 lowercase hex digits of a SHA-256)",
            };
            return Err(refused(format!(
                "chart {name} {version} {problem} in the index, so its download cannot be checked; \
                 pin it in the spec with `digest: sha256:<hex>` (the SHA-256 of the .tgz) on the chart"
            )));
        }
    };
    Ok(IndexedChart { url, digest })
}

/// Resolves `url` against the repository URL (index.yaml URLs may be relative).
fn join_url(repo: &str, url: &str) -> String {
    if url.contains("://") { url.to_owned() } else { format!("{repo}/{}", url.trim_start_matches('/')) }
}

/// The options to download a chart from `chart_url` with: the repository's, but with its
/// credentials only when the chart is on the repository's own origin (scheme, host and
/// port). An index may name any host, and credentials must not follow it there (Helm's
/// CVE-2021-32690). That host is announced as an endpoint learned on the way
/// ([`genesis_types::EGRESS_TARGET`]), since the spec does not name it.
pub(crate) fn download_options(
    chart_url: &url::Url,
    repo: &str,
    name: &str,
    repo_options: &RegistryOptions,
) -> RegistryOptions {
    if url::Url::parse(repo).is_ok_and(|r| r.origin() == chart_url.origin()) {
        return repo_options.clone();
    }
    let endpoint = chart_url.origin().ascii_serialization();
    tracing::warn!(
        target: genesis_types::EGRESS_TARGET,
        %endpoint,
        chart = name,
        "contacting chart host {endpoint} named by index.yaml of {repo}, without the repository's credentials"
    );
    RegistryOptions { credentials: None, ..repo_options.clone() }
}

/// A node of the index as the lookup keeps it.
#[derive(Debug, Default)]
enum Node {
    /// Absent, or null.
    #[default]
    Missing,
    /// A text of at most [`MAX_TEXT`] bytes.
    Text(String),
    /// A list, by its first item (Helm downloads a chart from its first URL).
    List(Box<Node>),
    /// Anything else: a number, a boolean, a map.
    Other,
}

impl Node {
    fn text(&self) -> Option<&str> {
        match self {
            Node::Text(text) => Some(text),
            _ => None,
        }
    }

    fn first_text(&self) -> Option<&str> {
        match self {
            Node::List(first) => first.text(),
            _ => None,
        }
    }
}

impl<'de> de::Deserialize<'de> for Node {
    fn deserialize<D: Deserializer<'de>>(d: D) -> std::result::Result<Node, D::Error> {
        d.deserialize_any(NodeVisitor)
    }
}

struct NodeVisitor;

impl<'de> Visitor<'de> for NodeVisitor {
    type Value = Node;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a YAML node")
    }

    fn visit_str<E: de::Error>(self, v: &str) -> std::result::Result<Node, E> {
        if v.len() > MAX_TEXT {
            return Err(E::custom(format_args!(
                "a text of {} bytes, more than the {MAX_TEXT} a field may hold",
                v.len()
            )));
        }
        Ok(Node::Text(v.to_owned()))
    }

    fn visit_unit<E: de::Error>(self) -> std::result::Result<Node, E> {
        Ok(Node::Missing)
    }

    fn visit_none<E: de::Error>(self) -> std::result::Result<Node, E> {
        Ok(Node::Missing)
    }

    fn visit_bool<E: de::Error>(self, _: bool) -> std::result::Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_i64<E: de::Error>(self, _: i64) -> std::result::Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_u64<E: de::Error>(self, _: u64) -> std::result::Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_i128<E: de::Error>(self, _: i128) -> std::result::Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_u128<E: de::Error>(self, _: u128) -> std::result::Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_f64<E: de::Error>(self, _: f64) -> std::result::Result<Node, E> {
        Ok(Node::Other)
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Node, A::Error> {
        let first = seq.next_element::<Node>()?.unwrap_or_default();
        while seq.next_element::<IgnoredAny>()?.is_some() {}
        Ok(Node::List(Box::new(first)))
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Node, A::Error> {
        while map.next_entry::<IgnoredAny, IgnoredAny>()?.is_some() {}
        Ok(Node::Other)
    }
}

/// One entry of a chart's version list, as far as the lookup reads it.
#[derive(Debug, Default, serde::Deserialize)]
struct Entry {
    #[serde(default)]
    version: Node,
    #[serde(default)]
    urls: Node,
    #[serde(default)]
    digest: Node,
}

/// Reads an index (a map with `entries`), keeping the first entry of chart `name` at
/// `version`.
#[derive(Debug, Clone, Copy)]
struct Lookup<'a> {
    name: &'a str,
    version: &'a str,
}

impl<'de> DeserializeSeed<'de> for Lookup<'_> {
    type Value = Option<Entry>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Option<Entry>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Lookup<'_> {
    type Value = Option<Entry>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map with `entries`")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Option<Entry>, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<Node>()? {
            if key.text() == Some("entries") {
                found = map.next_value_seed(Charts(self))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// `entries`: chart name to its version list.
struct Charts<'a>(Lookup<'a>);

impl<'de> DeserializeSeed<'de> for Charts<'_> {
    type Value = Option<Entry>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Option<Entry>, D::Error> {
        d.deserialize_map(self)
    }
}

impl<'de> Visitor<'de> for Charts<'_> {
    type Value = Option<Entry>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a map from chart name to versions")
    }

    fn visit_map<A: MapAccess<'de>>(self, mut map: A) -> std::result::Result<Option<Entry>, A::Error> {
        let mut found = None;
        while let Some(key) = map.next_key::<Node>()? {
            if key.text() == Some(self.0.name) {
                found = map.next_value_seed(Versions(self.0))?;
            } else {
                map.next_value::<IgnoredAny>()?;
            }
        }
        Ok(found)
    }
}

/// One chart's version list.
struct Versions<'a>(Lookup<'a>);

impl<'de> DeserializeSeed<'de> for Versions<'_> {
    type Value = Option<Entry>;

    fn deserialize<D: Deserializer<'de>>(self, d: D) -> std::result::Result<Option<Entry>, D::Error> {
        d.deserialize_seq(self)
    }
}

impl<'de> Visitor<'de> for Versions<'_> {
    type Value = Option<Entry>;

    fn expecting(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        f.write_str("a list of chart versions")
    }

    fn visit_seq<A: SeqAccess<'de>>(self, mut seq: A) -> std::result::Result<Option<Entry>, A::Error> {
        let mut found = None;
        while let Some(entry) = seq.next_element::<Entry>()? {
            if found.is_none() && entry.version.text() == Some(self.0.version) {
                found = Some(entry);
            }
        }
        Ok(found)
    }
}

#[cfg(test)]
mod tests {
    use genesis_registry::Credentials;
    use genesis_testkit::fuzz::damage;
    use proptest::prelude::*;
    use serde_json::json;

    use super::*;

    const REPO: &str = "https://charts.example";

    fn hex_of(bytes: [u8; 32]) -> String {
        Digest::from_sha256_bytes(bytes).hex().to_owned()
    }

    /// An index with other charts and versions around the entry for web 0.1.0.
    fn index(entry: &str) -> Vec<u8> {
        format!(
            "apiVersion: v1\nentries:\n  other:\n    - {{version: 0.1.0, urls: [other.tgz], digest: {}}}\n  web:\n    - {{version: 0.0.9, urls: [old.tgz]}}\n    - {entry}\n",
            hex_of([1; 32])
        )
        .into_bytes()
    }

    fn lookup(entry: &str, pin: Option<&Digest>) -> Result<IndexedChart> {
        find(&index(entry), REPO, "web", "0.1.0", pin)
    }

    #[test]
    fn the_first_url_of_the_entry_is_resolved_against_the_repository_and_its_digest_kept() {
        let hex = hex_of([7; 32]);
        let found = lookup(
            &format!("{{version: 0.1.0, urls: [charts/web.tgz, 'https://mirror.example/web.tgz'], digest: {hex}}}"),
            None,
        )
        .unwrap();
        assert_eq!(found.url.as_str(), "https://charts.example/charts/web.tgz");
        assert_eq!(found.digest.hex(), hex);
    }

    #[test]
    fn an_entry_without_a_usable_digest_is_refused_unless_pinned() {
        let pin = Digest::from_sha256_bytes([9; 32]);
        for (digest, problem) in [
            ("", "has no digest"),
            ("digest: ~,", "has no digest"),
            ("digest: 12,", "has a malformed digest"),
            ("digest: 'sha256:ab',", "has a malformed digest"),
            ("digest: [ab],", "has a malformed digest"),
        ] {
            let entry = format!("{{version: 0.1.0, {digest} urls: [web.tgz]}}");
            let e = lookup(&entry, None).unwrap_err().to_string();
            assert!(e.contains(&format!("chart web 0.1.0 {problem}")) && e.contains("digest: sha256:"), "{entry}: {e}");
            assert_eq!(lookup(&entry, Some(&pin)).unwrap().digest, pin, "{entry}");
        }
    }

    #[test]
    fn a_text_longer_than_the_limit_is_refused() {
        let e = lookup(
            &format!("{{version: 0.1.0, urls: ['{}'], digest: {}}}", "x".repeat(MAX_TEXT + 1), hex_of([7; 32])),
            None,
        )
        .unwrap_err()
        .to_string();
        assert!(e.contains("more than the 4096"), "{e}");
    }

    #[test]
    fn aliases_elsewhere_in_the_index_are_never_expanded() {
        // Built whole (as a serde_yaml_ng::Value), `copies` and `extra` would be 2 * 10^8
        // nodes; the lookup skips both without following a single alias.
        let items = vec!["x"; 10_000].join(", ");
        let aliases = vec!["*pad"; 10_000].join(", ");
        let text = format!(
            "pad: &pad [{items}]\ncopies: [{aliases}]\nentries:\n  web:\n    - {{version: 0.1.0, urls: [web.tgz], digest: {}, extra: [{aliases}]}}\n",
            hex_of([7; 32])
        );
        let found = find(text.as_bytes(), REPO, "web", "0.1.0", None).unwrap();
        assert_eq!(found.digest.hex(), hex_of([7; 32]));
    }

    /// Credentials stay on the repository's origin: scheme, host and port, as the URL parser
    /// reqwest uses reads them.
    #[test]
    fn credentials_go_only_to_the_origin_of_the_repository() {
        for (url, kept) in [
            ("https://charts.example/web.tgz", true),
            ("https://charts.example:443/web.tgz", true),
            ("HTTPS://CHARTS.EXAMPLE/web.tgz", true),
            ("http://charts.example/web.tgz", false),
            ("https://charts.example:8443/web.tgz", false),
            ("https://charts.example.evil.example/web.tgz", false),
            ("https://charts.example@evil.example/web.tgz", false),
            ("https://evil.example\\@charts.example/web.tgz", false),
            ("https://evil.example/charts.example/web.tgz", false),
            ("ftp://charts.example/web.tgz", false),
        ] {
            let url = url::Url::parse(url).unwrap();
            assert_eq!(download_options(&url, REPO, "web", &with_credentials()).credentials.is_some(), kept, "{url}");
        }
    }

    fn with_credentials() -> RegistryOptions {
        RegistryOptions {
            credentials: Some(Credentials { username: "u".into(), password: "p".into() }),
            ..RegistryOptions::default()
        }
    }

    /// The credentials a download gets reach the repository's origin, or nobody.
    fn assert_credentials_stay_home(url: &url::Url) -> std::result::Result<(), TestCaseError> {
        let options = download_options(url, REPO, "web", &with_credentials());
        let repo = url::Url::parse(REPO).expect("a URL");
        let origin = |u: &url::Url| (u.scheme().to_owned(), u.host_str().map(str::to_owned), u.port_or_known_default());
        if options.credentials.is_some() {
            prop_assert_eq!(origin(url), origin(&repo));
        }
        Ok(())
    }

    fn url_text() -> impl Strategy<Value = String> {
        prop_oneof![
            Just("web-0.1.0.tgz".to_owned()),
            Just("/charts/web.tgz".to_owned()),
            r"(https?|HTTPS|ftp|file)://(charts\.example|CHARTS\.example|evil\.example|charts\.example@evil\.example|evil\.example\\@charts\.example|charts\.example\.|127\.0\.0\.1|\[::1\])(:(80|443|8443|0|99999))?/[a-z./%@\\]{0,12}",
            r"\PC{0,30}",
        ]
    }

    fn digest_field() -> impl Strategy<Value = serde_json::Value> {
        prop_oneof![
            any::<[u8; 32]>().prop_map(|b| json!(hex_of(b))),
            any::<[u8; 32]>().prop_map(|b| json!(hex_of(b).to_uppercase())),
            any::<[u8; 32]>().prop_map(|b| json!(format!("sha256:{}", hex_of(b)))),
            "[0-9a-f]{0,70}".prop_map(|s| json!(s)),
            any::<i64>().prop_map(|n| json!(n)),
            Just(json!(null)),
            Just(json!({"sha256": "ab"})),
        ]
    }

    fn entry() -> impl Strategy<Value = serde_json::Value> {
        let version = prop_oneof![
            Just(json!("0.1.0")),
            Just(json!("0.2.0")),
            Just(json!(1.0)),
            r"\PC{0,8}".prop_map(|s| json!(s))
        ];
        (version, prop::collection::vec(url_text(), 0..3), proptest::option::of(digest_field())).prop_map(
            |(version, urls, digest)| {
                let mut entry = json!({"name": "web", "version": version, "urls": urls});
                if let Some(digest) = digest {
                    entry["digest"] = digest;
                }
                entry
            },
        )
    }

    /// An index as `helm repo index` shapes it, with generated entries.
    fn index_yaml() -> impl Strategy<Value = Vec<u8>> {
        (prop::collection::vec(entry(), 0..4), prop::collection::vec(entry(), 0..2)).prop_map(|(web, other)| {
            let index = json!({"apiVersion": "v1", "entries": {"web": web, "other": other}});
            serde_yaml_ng::to_string(&index).expect("JSON values are YAML").into_bytes()
        })
    }

    proptest! {
        #![proptest_config(ProptestConfig::with_cases(256))]

        /// Whatever the index says, the lookup returns a chart whose digest came from the index
        /// or the pin, and whose download keeps credentials on the repository's origin.
        #[test]
        fn any_index_gives_a_checked_chart_or_an_input_error(
            index in index_yaml(),
            pin in proptest::option::of(any::<[u8; 32]>()),
        ) {
            let pin = pin.map(Digest::from_sha256_bytes);
            match find(&index, REPO, "web", "0.1.0", pin.as_ref()) {
                Ok(found) => {
                    let text = String::from_utf8_lossy(&index);
                    prop_assert!(text.contains(found.digest.hex()) || Some(&found.digest) == pin.as_ref());
                    assert_credentials_stay_home(&found.url)?;
                }
                Err(e) => prop_assert!(matches!(e, BuildError::Input { .. }), "{e}"),
            }
        }

        /// Bytes flipped, inserted or cut anywhere: a clean error or a checked chart, never a panic.
        #[test]
        fn a_damaged_index_is_a_clean_error_or_a_checked_chart(index in index_yaml(), damage in damage()) {
            let mut bytes = index;
            damage.apply(&mut bytes);
            match find(&bytes, REPO, "web", "0.1.0", None) {
                Ok(found) => {
                    prop_assert!(String::from_utf8_lossy(&bytes).contains(found.digest.hex()));
                    assert_credentials_stay_home(&found.url)?;
                }
                Err(e) => prop_assert!(matches!(e, BuildError::Input { .. }), "{e}"),
            }
        }

        #[test]
        fn credentials_never_follow_a_url_off_the_origin_of_the_repository(url in url_text()) {
            if let Ok(url) = url::Url::parse(&join_url(REPO, &url)) {
                assert_credentials_stay_home(&url)?;
            }
        }
    }
}
