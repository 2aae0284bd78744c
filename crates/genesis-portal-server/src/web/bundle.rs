//! What the customer's and the vendor's pages both show of a release: its files (`#artifacts`,
//! each name a download link on the customer's pages), and what publishing verified of each
//! bundle. One copy of each, so the two areas name and show things alike.

use genesis_portal_client::human_size;
use genesis_portal_client::protocol::ArtifactKind;
use genesis_web::html::Column::{Numeric, Text};
use genesis_web::html::{count, date, segment, table};
use maud::{Markup, html};

use crate::facts::BundleFacts;
use crate::store::StoredArtifact;

/// An artifact's kind for people.
fn kind_label(kind: ArtifactKind) -> &'static str {
    match kind {
        ArtifactKind::Bundle => "bundle",
        ArtifactKind::PartsManifest => "bundle (parts manifest)",
        ArtifactKind::Part => "bundle part",
        ArtifactKind::Sha256 => "SHA-256 checksums",
        ArtifactKind::Signature => "signature",
        ArtifactKind::CosignBundle => "sigstore bundle",
        ArtifactKind::Report => "evidence report (PDF)",
        ArtifactKind::Sbom => "SBOM",
        ArtifactKind::Provenance => "provenance",
        ArtifactKind::Other => "file",
    }
}

/// The table `#artifacts`: a row per artifact (`tr[data-artifact=NAME]`) with its name, kind,
/// size and full SHA-256. With `downloads` (the release page's URL, on the customer's pages)
/// the name is the download link `a.download` to `…/files/NAME`. Below 48rem a row stacks
/// (the stylesheet): the name, then kind and size, then the digest.
pub(crate) fn artifacts_table(artifacts: &[StoredArtifact], downloads: Option<&str>) -> Markup {
    let rows = html! {
        @for a in artifacts {
            tr data-artifact=(a.name) {
                th scope="row" {
                    @match downloads {
                        Some(base) => a.download href={ (base) "/files/" (segment(&a.name)) } download {
                            span.visually-hidden { "Download " }
                            code { (a.name) }
                        },
                        None => code { (a.name) },
                    }
                }
                td.kind { (kind_label(a.kind)) }
                td.num { (human_size(a.size)) }
                td.sha { code.digest { (a.sha256.hex()) } }
            }
        }
    };
    table("artifacts", &[Text("Name"), Text("Kind"), Numeric("Size"), Text("SHA-256")], rows)
}

/// What publishing established of one bundle: when it verified, who signed it, its BOM, what
/// it holds, what the trust policy decided, and whether it carries an SBOM and provenance.
pub(crate) fn bundle_facts(f: &BundleFacts) -> Markup {
    html! {
        dl.facts {
            dt { "Verified" }
            dd { (date(f.verified_at)) ", when the release was published" }
            dt { "Signer" }
            dd { code { (f.signer) } }
            dt { "BOM SHA-256" }
            dd { code.digest { (f.bom_sha256) } }
            dt { "Contents" }
            dd {
                (count(f.files, "file", "files")) " (" (human_size(f.payload_bytes)) "): "
                (count(f.images, "image", "images")) ", " (count(f.charts, "chart", "charts")) ", "
                (count(f.manifests, "manifest", "manifests")) ", each checked against the signed BOM"
            }
            dt { "Policy" }
            dd {
                @if f.policy.is_empty() { "the signature alone" }
                @else { ul { @for decision in &f.policy { li { (decision) } } } }
            }
            dt { "SBOM" }
            dd {
                @match &f.sbom {
                    Some(sbom) => { (sbom.format) ", " (count(sbom.components.len(), "component", "components")) }
                    None => { "none in the bundle" }
                }
            }
            dt { "Provenance" }
            dd {
                @match &f.provenance {
                    Some(p) => {
                        "built by " code { (p.builder_id) } " (" code { (p.build_type) } "), "
                        (count(p.materials.len(), "material", "materials"))
                    }
                    None => { "none in the bundle" }
                }
            }
        }
    }
}

/// A section per bundle of a release (`section.bundle[data-bundle=NAME]`) with what publishing
/// verified of it; with `pages` (the release page's URL, on the customer's pages) the links to
/// its SBOM (`a.sbom`) and provenance (`a.provenance`) pages.
pub(crate) fn bundles_section(artifacts: &[StoredArtifact], facts: &[BundleFacts], pages: Option<&str>) -> Markup {
    html! {
        h2 { "Bundles" }
        @for bundle in artifacts.iter().filter(|a| a.kind.is_bundle_entry()) {
            section.bundle data-bundle=(bundle.name) {
                h3 { code { (bundle.name) } }
                @match facts.iter().find(|f| f.bundle == bundle.name) {
                    Some(f) => (bundle_facts(f)),
                    None => (no_record()),
                }
                @if let Some(base) = pages {
                    p.actions {
                        a.sbom href={ (base) "/bundles/" (segment(&bundle.name)) "/sbom" } { "SBOM" }
                        " · "
                        a.provenance href={ (base) "/bundles/" (segment(&bundle.name)) "/provenance" } { "Provenance" }
                    }
                }
            }
        }
    }
}

/// What a page says of a bundle published before the portal recorded what its verification
/// found.
pub(crate) fn no_record() -> Markup {
    html! {
        p.notice {
            "No verification record: this bundle was published before the portal kept one. "
            code.cmd { "genesis verify" } " checks it all the same."
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn artifact(name: &str, kind: ArtifactKind) -> StoredArtifact {
        StoredArtifact { name: name.to_owned(), kind, size: 2048, sha256: genesis_bundle::sha256(name.as_bytes()) }
    }

    #[test]
    fn the_customer_s_table_links_each_name_to_its_download_and_the_vendor_s_does_not() {
        let artifacts = [artifact("demo-1.0.0.tar.zst", ArtifactKind::Bundle), artifact("a b", ArtifactKind::Other)];
        let customer = artifacts_table(&artifacts, Some("/portal/releases/demo/1.0.0")).into_string();
        assert!(customer.contains(r#"<tr data-artifact="demo-1.0.0.tar.zst"><th scope="row">"#), "{customer}");
        assert!(
            customer.contains(
                r#"<a class="download" href="/portal/releases/demo/1.0.0/files/demo-1.0.0.tar.zst" download>"#
            ),
            "{customer}"
        );
        assert!(customer.contains(r#"href="/portal/releases/demo/1.0.0/files/a%20b""#), "{customer}");
        assert!(customer.contains(genesis_bundle::sha256(b"demo-1.0.0.tar.zst").hex()), "the full digest");
        assert!(customer.contains(r#"<th class="num" scope="col">Size</th>"#), "{customer}");
        let vendor = artifacts_table(&artifacts, None).into_string();
        assert!(!vendor.contains("download"), "{vendor}");
        assert!(vendor.contains(">bundle<") && vendor.contains(">2.0 KiB<"), "{vendor}");
    }
}
