//! The "Air-gap workflow" page: how a release travels from this portal to a cluster that never
//! touches the internet, with our commands (`genesis`, `bundle-loader`) and this portal's URL
//! filled in. Public, so an operator can read it before holding a key, and plain HTML, so it
//! reads without tools; a signed-in customer sees it under their own header.

use axum::http::StatusCode;
use axum::response::Response;
use maud::{Markup, html};

use super::page::{Area, Chrome, Site, page};
use super::session::CustomerSession;

/// Where the guide is.
pub(crate) const PATH: &str = "/portal/guide";

/// `GET /portal/guide`.
pub(crate) async fn guide(session: Option<CustomerSession>, site: Site) -> Response {
    const TITLE: &str = "Air-gap workflow";
    let body = body(&site.login_command());
    match session {
        Some(session) => page(session.chrome(TITLE), StatusCode::OK, body),
        None => page(Chrome { title: TITLE, area: Area::Public, signed_in: None }, StatusCode::OK, body),
    }
}

fn body(login: &str) -> Markup {
    html! {
        h1 { "Air-gap workflow" }
        p.lede {
            "How a signed release goes from this portal to your cluster while the cluster never touches the "
            "internet: files flow one way, you carry them across the boundary, and nothing ever calls back."
        }
        nav.toc aria-label="On this page" {
            ol {
                li { a href="#planes" { "The three planes" } }
                li { a href="#cycle" { "Pull, verify, ship, ingest" } }
                li { a href="#never" { "What never crosses the boundary" } }
                li { a href="#good-to-know" { "Good to know" } }
            }
        }

        section #planes aria-labelledby="planes-title" {
            h2 #planes-title { "The three planes" }
            ol.planes {
                li {
                    h3 { "Vendor side: this portal" }
                    p {
                        "Keeps your organisation's license keys (only their hashes), the releases you are "
                        "entitled to and their bundles. A release is published only after every bundle has "
                        "verified against the vendor's key: the signature over its bill of materials, every "
                        "file it lists, and its checksum and signature sidecars. What that verification found "
                        "(signer, SBOM, provenance) is shown with each release. The portal never reaches "
                        "into your network."
                    }
                }
                li {
                    h3 { "Gap-host: one-way internet" }
                    p {
                        "A workstation you control that reaches this portal over HTTPS and cannot reach your "
                        "cluster. It runs " code { "genesis" } " to log in, pull releases and verify them "
                        "before anything is carried across."
                    }
                }
                li {
                    h3 { "Your cluster: air-gapped" }
                    p {
                        "Receives bundles and their sidecars by whatever carrier your policy allows. "
                        code { "bundle-loader" } " verifies each bundle again, then pushes its images to your "
                        "registry and applies its manifests. No call-home, no heartbeat."
                    }
                }
            }
        }

        section #cycle aria-labelledby="cycle-title" {
            h2 #cycle-title { "Pull, verify, ship, ingest" }
            p {
                "Each release's page on this portal lists these commands with its own version and bundle "
                "names, ready to copy. Below, " code { "VERSION" } " is a release (" code { "3.2.10" } ") and "
                code { "BUNDLE" } " one of its bundles (" code { "app-3.2.10.tar.zst" } ")."
            }
            ol.steps {
                li {
                    h3 { "Pull, on the gap-host" }
                    p {
                        "Log in once with your license key, then pull a release. Each bundle arrives with "
                        "its sidecars: its checksum " code { "BUNDLE.sha256" } ", a signature ("
                        code { "BUNDLE.sig" } " or " code { "BUNDLE.cosign.bundle" } "), and "
                        code { "BUNDLE.report.pdf" } " when the vendor publishes an evidence report. A pull "
                        "hashes while it downloads, resumes where it stopped, and keeps a file only when its "
                        "SHA-256 is the one published. A bundle split for size-limited media arrives as "
                        "parts with a parts manifest, " code { "BUNDLE.parts.json" } ", which "
                        code { "genesis verify" } " takes in place of the bundle; each part is its own "
                        "download."
                    }
                    pre {
                        (login) "    # paste your key, sk_…\n"
                        "genesis releases                    # what you are entitled to\n"
                        "genesis pull VERSION                # every bundle of the release, with its sidecars"
                    }
                    p {
                        "Keys with the export scopes can also have the portal build a release's bootstrap "
                        "pack (images as an OCI layout, charts, signatures) with "
                        code { "genesis export-pack VERSION" } ", or from the release's page."
                    }
                }
                li {
                    h3 { "Verify, on the gap-host" }
                    p {
                        "Verify before anything crosses. " code { "genesis verify" } " checks the signature "
                        "over the bundle's bill of materials with the vendor's public key, every file "
                        "against it, the sidecars, the SLSA provenance and the SBOM; "
                        code { "sha256sum -c" } " is the same byte check with standard tools. Write the "
                        "SBOM out for your vulnerability scanner and gate on your own policy."
                    }
                    pre {
                        "genesis verify ./BUNDLE --key vendor.pub\n"
                        "sha256sum -c BUNDLE.sha256\n"
                        "genesis sbom ./BUNDLE --key vendor.pub     # CycloneDX, for your scanner\n"
                        "genesis license fetch -o license.json && genesis license verify license.json --key vendor.pub"
                    }
                    p {
                        code { "vendor.pub" } " is the vendor's public key as the vendor gave it to you, not a "
                        "file from this portal: a key from the place that serves the bundles would prove "
                        "nothing. Each release page shows the fingerprint of the key its bundles verified "
                        "against, to compare."
                    }
                }
                li {
                    h3 { "Ship across the boundary" }
                    p {
                        "Copy each bundle with its sidecars to the cluster side: removable media, a data "
                        "diode, an internal transfer host, whatever your security policy requires. The "
                        "carrier is not trusted: everything is verified again on the other side, so a "
                        "damaged or altered file is refused there."
                    }
                }
                li {
                    h3 { "Ingest, in the cluster" }
                    p {
                        "Verify again on the cluster side, then load: " code { "load" } " checks the whole "
                        "bundle as it pushes the images (only the blobs your registry lacks), pushes "
                        "manifests and tags only when everything checked out, then applies the manifests "
                        "with the images pinned to their digests."
                    }
                    pre {
                        "bundle-loader verify ./BUNDLE --key vendor.pub\n"
                        "bundle-loader load ./BUNDLE --key vendor.pub --registry registry.internal:5000 \\\n"
                        "    --apply --wait\n"
                        "bundle-loader status                 # what is installed, with its BOM digest"
                    }
                    p {
                        "No registry in the cluster? " code { "bundle-loader export ./BUNDLE --key vendor.pub "
                        "--format oci-archive -o images.tar" } " writes the images for " code { "ctr images import" }
                        " or " code { "podman load" } ". A trust policy (" code { "--policy trust.yaml" } ") "
                        "can refuse older versions than the one installed."
                    }
                }
            }
        }

        section #never aria-labelledby="never-title" {
            h2 #never-title { "What never crosses the boundary" }
            div.cards {
                div.card {
                    h3 { "Nothing from your cluster to us" }
                    p {
                        "The portal receives no telemetry, support bundle or callback from your cluster. "
                        code { "genesis" } " and " code { "bundle-loader" } " say at the start of every run "
                        "which endpoints that run may contact, and contact no other."
                    }
                }
                div.card {
                    h3 { "No way in" }
                    p {
                        "The vendor cannot reach into your cluster: no tunnel, no agent that dials out. "
                        "Files are pulled by you, never pushed to you."
                    }
                }
                div.card {
                    h3 { "A license is not a kill switch" }
                    p {
                        "Your key decides what you may download from this portal, not what may run. An "
                        "installed release keeps running when the portal is unreachable or your key has "
                        "expired."
                    }
                }
            }
        }

        section #good-to-know aria-labelledby="good-to-know-title" {
            h2 #good-to-know-title { "Good to know" }
            dl.faq {
                dt { "Why verify twice?" }
                dd {
                    "The gap-host check keeps a bad file from being carried at all; the cluster-side check "
                    "is the one that counts, because it runs after the carrier."
                }
                dt { "My key was revoked or has expired" }
                dd {
                    "Signing in here and pulling stop; what you already installed is not affected. Ask "
                    "your vendor for a new key, then run " code { "genesis login" } " again."
                }
                dt { "Where is a bundle's SBOM?" }
                dd {
                    "Inside the bundle, signed with it. Each release page shows its components and its "
                    "provenance; " code { "genesis sbom" } " writes it out for any scanner."
                }
                dt { "Does this page load anything from elsewhere?" }
                dd {
                    "No. Every page, stylesheet and script comes from this portal, and the pages work "
                    "without JavaScript."
                }
            }
        }
    }
}

#[cfg(test)]
mod tests {
    #[test]
    fn the_guide_names_this_portal_and_our_commands() {
        let text = super::body("genesis login --portal https://downloads.example.com").into_string();
        for expected in [
            "genesis login --portal https://downloads.example.com",
            "genesis pull VERSION",
            "genesis verify ./BUNDLE --key vendor.pub",
            "sha256sum -c BUNDLE.sha256",
            "bundle-loader load ./BUNDLE --key vendor.pub",
        ] {
            assert!(text.contains(expected), "{expected} missing");
        }
        assert_eq!(text.matches("<h1").count(), 1, "one h1");
        assert!(!text.contains("<script"), "no inline script");
    }
}
