//! The HIPAA Security Rule section: the technical safeguards of 45 CFR §164.312 that this
//! evidence supports, each with what it shows and, as plainly, what it does not. The
//! standards are quoted from the rule; what follows them is ours and names only what the
//! verification established.

use crate::{ReleaseReport, Safeguard};

/// What the section says before the safeguards.
pub(crate) const INTRODUCTION: &str = "The HIPAA Security Rule (45 CFR Part 164, Subpart C) requires covered entities \
    and business associates to implement technical safeguards (§164.312). The evidence in this report supports four \
    of them, as set out below. It is evidence, not a certification: it states what an offline verification \
    established about this one bundle, and by itself makes no system, vendor or customer compliant. Compliance rests \
    on the covered entity's own risk analysis, policies and safeguards.";

/// The four safeguards: integrity, transmission security, audit controls, person or entity
/// authentication.
pub(crate) fn safeguards(r: &ReleaseReport) -> Vec<Safeguard> {
    vec![integrity(r), transmission(r), audit(r), authentication(r)]
}

fn integrity(r: &ReleaseReport) -> Safeguard {
    let archive = if r.sha256_sidecar_checked() {
        format!("The archive as a whole hashes to {}, the digest its .sha256 sidecar names.", r.archive.sha256)
    } else {
        format!(
            "The archive as a whole hashes to {}; no .sha256 sidecar was beside it to compare with.",
            r.archive.sha256
        )
    };
    Safeguard {
        section: "§164.312(c)(1)",
        title: "Integrity",
        standard: "Implement policies and procedures to protect electronic protected health information from \
                   improper alteration or destruction.",
        shows: vec![
            format!(
                "The software of {} {} is exactly what its vendor signed: each of its {} payload files ({} bytes) \
                 was hashed as it was read and matched the SHA-256 the BOM lists for it; none was missing, added or \
                 altered.",
                r.name, r.version, r.bom.files, r.bom.payload_bytes
            ),
            format!("The BOM that lists those digests ({}) carries a valid signature by {}.", r.bom.sha256, r.signer),
            archive,
        ],
        does_not_show: vec![
            "Anything about electronic protected health information itself: the bundle carries software, not \
             patient data, and this report does not show how that software protects ePHI once deployed."
                .to_owned(),
            "That the software is free of defects or vulnerabilities: unaltered is not the same as safe.".to_owned(),
            "That a cluster runs these bytes: that is established when the bundle is loaded, where it is verified \
             again and the installation recorded."
                .to_owned(),
        ],
    }
}

fn transmission(r: &ReleaseReport) -> Safeguard {
    Safeguard {
        section: "§164.312(e)(1)",
        title: "Transmission security",
        standard: "Implement technical security measures to guard against unauthorized access to electronic \
                   protected health information that is being transmitted over an electronic communications network.",
        shows: vec![
            format!(
                "Whatever carried {} (a download, removable media, a data diode, an internal registry), a change made \
                 on the way would have been detected: the signature and every digest were checked again on the \
                 receiving side.",
                r.archive.file
            ),
            "The verification needed no network: it was made offline, against keys and a policy held locally."
                .to_owned(),
        ],
        does_not_show: vec![
            "Confidentiality in transit: a bundle is signed, not encrypted, and whoever holds the file can read it."
                .to_owned(),
            "How the deployed software protects ePHI it sends over a network (TLS, network policies): that rests on \
             its configuration, not on this evidence."
                .to_owned(),
        ],
    }
}

fn audit(r: &ReleaseReport) -> Safeguard {
    let provenance = match &r.provenance {
        Some(p) => format!(
            "How the bundle was built is attested: SLSA provenance signed by the same key names the builder {} and \
             {} materials.",
            p.builder_id,
            p.materials.len()
        ),
        None => "The bundle carries no SLSA provenance: how it was built is not attested.".to_owned(),
    };
    Safeguard {
        section: "§164.312(b)",
        title: "Audit controls",
        standard: "Implement hardware, software, and/or procedural mechanisms that record and examine activity in \
                   information systems that contain or use electronic protected health information.",
        shows: vec![
            format!(
                "A durable record of what was examined before installation: the archive and BOM digests, the BOM's \
                 BLAKE3 fingerprint {} that install records cite, the checks made in their order, and what the \
                 bundle contains.",
                r.bom.blake3
            ),
            provenance,
            "This evidence can be established again from the bundle alone, offline: the genesis report command \
             verifies it afresh and states its checks and digests."
                .to_owned(),
        ],
        does_not_show: vec![
            "Activity in the systems that hold ePHI (who accessed what, and when): this report is not an audit log, \
             and those systems must record activity themselves."
                .to_owned(),
            "That this document is unaltered: the report file itself is not signed. The .sha256 list beside the \
             bundle, where it names this file, shows it is the file published with the release. Anyone can produce \
             an equivalent report from the same bundle with the genesis report command: its checks and digests \
             must agree with these, but not its bytes, as a report also names the trust policy it was given and \
             the sidecars it found."
                .to_owned(),
        ],
    }
}

fn authentication(r: &ReleaseReport) -> Safeguard {
    let mut shows = vec![format!(
        "The entity that released this software is authenticated cryptographically: the BOM is signed by \
         {}, which the trust policy ({}) accepts.",
        r.signer, r.policy.given
    )];
    if !r.countersigners.is_empty() {
        let countersigners: Vec<String> = r.countersigners.iter().map(ToString::to_string).collect();
        shows.push(format!(
            "The same BOM is countersigned by {}, which the trust policy accepts as well.",
            countersigners.join(", ")
        ));
    }
    if !r.policy.decisions.is_empty() {
        shows.push(format!("The policy also required, and found: {}.", r.policy.decisions.join("; ")));
    }
    if r.detached_signature_checked() {
        shows.push("The detached signature beside the archive verifies with the same trusted key.".to_owned());
    }
    Safeguard {
        section: "§164.312(d)",
        title: "Person or entity authentication",
        standard: "Implement procedures to verify that a person or entity seeking access to electronic protected \
                   health information is the one claimed.",
        shows,
        does_not_show: vec![
            "Who holds that key: binding it to a person or an organisation rests on how its public key reached \
             you, from the vendor and out of band."
                .to_owned(),
            format!(
                "When the signature was made: it is a key signature, with no transparency-log entry or trusted \
                 timestamp; {} is the build time the builder recorded.",
                r.created
            ),
            "How people and systems authenticate to the deployed software: that is the customer's access control."
                .to_owned(),
        ],
    }
}
