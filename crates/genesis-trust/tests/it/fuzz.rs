//! Property tests of the parsers of signature material against hostile input, each starting
//! from real vectors (fixtures/interop): sigstore bundles and DSSE envelopes with a node
//! replaced or removed, or their bytes damaged, are verified or refused, never a panic, and
//! never verified once what the signature covers has changed; cosign encrypted keys refuse
//! every KDF parameter cosign does not use before deriving a key, and decrypt only to the
//! key they hold; trust policy files of any shape load or are refused.

use std::path::{Path, PathBuf};

use base64::Engine as _;
use base64::engine::general_purpose::STANDARD;
use genesis_testkit::fuzz::{damaged, edit};
use genesis_trust::provenance::{
    IN_TOTO_PAYLOAD_TYPE, SLSA_PROVENANCE_V1, STATEMENT_V1, sign_envelope, verify_provenance,
};
use genesis_trust::sigstore::{
    Artifact, BlobVerdict, CertificateIdentity, LogPolicy, Signer, SigstoreBundle, SubjectMatcher, TrustedRoot,
    verify_bundle, verify_dsse,
};
use genesis_trust::{PrivateKey, PublicKey, TrustError, cosign_key, policy_file};
use genesis_types::Digest;
use proptest::prelude::*;
use serde_json::{Value, json};

fn interop(path: &str) -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures/interop").join(path)
}

fn read_json(path: &str) -> Value {
    serde_json::from_slice(&std::fs::read(interop(path)).unwrap()).unwrap()
}

/// Whether a change at `pointer` (to that node, or to one of its ancestors) reaches one of
/// the `signed` fields.
fn touches(pointer: &str, signed: &[&str]) -> bool {
    !pointer.is_empty() && signed.iter().any(|s| *s == pointer || s.starts_with(&format!("{pointer}/")))
}

/// What a signature over a bundle covers, wherever the bundle's shape puts it.
const SIGNED: [&str; 5] = [
    "/messageSignature/signature",
    "/dsseEnvelope/payload",
    "/dsseEnvelope/payloadType",
    "/dsseEnvelope/signatures/0/sig",
    "/base64Signature",
];

const CONFORMANCE_SAN: &str = "https://github.com/sigstore-conformance/extremely-dangerous-public-oidc-beacon/.github/workflows/extremely-dangerous-oidc-beacon.yml@refs/heads/main";

/// Who signed a seed bundle.
enum Who {
    Key(&'static str),
    Identity(&'static str, &'static str),
}

/// A real bundle that verifies, and how.
struct Seed {
    bundle: &'static str,
    artifact: &'static str,
    who: Who,
    root: &'static str,
    log: LogPolicy,
}

const SEEDS: [Seed; 5] = [
    Seed {
        bundle: "cosign-key/artifact.txt.keyed-v0.3.sigstore.json",
        artifact: "cosign-key/artifact.txt",
        who: Who::Key("cosign-key/cosign.pub"),
        root: "trust/trusted_root.public-good.json",
        log: LogPolicy::IgnoreUnsafe,
    },
    Seed {
        bundle: "dsse/slsa-v1.keyed-v0.3.sigstore.json",
        artifact: "cosign-key/artifact.txt",
        who: Who::Key("cosign-key/cosign.pub"),
        root: "trust/trusted_root.public-good.json",
        log: LogPolicy::IgnoreUnsafe,
    },
    Seed {
        bundle: "sigstore-bundle/managed-key-happy-path.sigstore.json",
        artifact: "sigstore-bundle/a.txt",
        who: Who::Key("sigstore-bundle/managed-key.pub"),
        root: "trust/trusted_root.public-good.json",
        log: LogPolicy::Require,
    },
    Seed {
        bundle: "sigstore-bundle/happy-path-v0.3.sigstore.json",
        artifact: "sigstore-bundle/a.txt",
        who: Who::Identity(CONFORMANCE_SAN, "https://token.actions.githubusercontent.com"),
        root: "trust/trusted_root.public-good.json",
        log: LogPolicy::Require,
    },
    Seed {
        bundle: "legacy-cosign-bundle/artifact.txt.cosign-bundle.json",
        artifact: "legacy-cosign-bundle/artifact.txt",
        who: Who::Identity("daniel.bevenius@gmail.com", "https://github.com/login/oauth"),
        root: "trust/trusted_root.public-good.json",
        log: LogPolicy::Require,
    },
];

fn verify(seed: &Seed, bundle: &Value) -> Result<BlobVerdict, TrustError> {
    let artifact = std::fs::read(interop(seed.artifact)).unwrap();
    let root = TrustedRoot::from_file(&interop(seed.root)).unwrap();
    let bundle = SigstoreBundle::from_json(bundle.clone())?;
    match seed.who {
        Who::Key(key) => {
            let key = PublicKey::from_pem_file(&interop(key)).unwrap();
            verify_bundle(&bundle, Artifact::Bytes(&artifact), Signer::Key(&key), Some(&root), seed.log)
        }
        Who::Identity(san, issuer) => {
            let identity =
                CertificateIdentity { subject: SubjectMatcher::Exact(san.to_owned()), issuer: issuer.to_owned() };
            verify_bundle(&bundle, Artifact::Bytes(&artifact), Signer::Identity(&identity), Some(&root), seed.log)
        }
    }
}

#[test]
fn every_seed_verifies_as_it_is() {
    for seed in &SEEDS {
        if let Err(e) = verify(seed, &read_json(seed.bundle)) {
            panic!("{}: {e}", seed.bundle);
        }
    }
}

/// The DSSE envelope of cases.json (`dsse-envelope-keyed`) and what it is checked with.
fn dsse_seed() -> (Value, PublicKey, Vec<u8>) {
    let key = PublicKey::from_pem_file(&interop("cosign-key/cosign.pub")).unwrap();
    (read_json("dsse/slsa-v1.dsse.json"), key, std::fs::read(interop("cosign-key/artifact.txt")).unwrap())
}

/// A provenance envelope as `bundle-builder` writes it, over a BOM whose digest is returned.
fn provenance_seed() -> (Vec<u8>, Digest, PublicKey) {
    let key = PrivateKey::from_pem_file(&interop("../keys/test.key")).unwrap();
    let bom = Digest::from_sha256_bytes([7; 32]);
    let statement = json!({
        "_type": STATEMENT_V1,
        "subject": [{"name": "bom.json", "digest": {"sha256": bom.hex()}}],
        "predicateType": SLSA_PROVENANCE_V1,
        "predicate": {"buildDefinition": {"buildType": "https://genesis.dev/build/v1"}, "runDetails": {"builder": {"id": "bundle-builder"}}},
    });
    let envelope = sign_envelope(&key, IN_TOTO_PAYLOAD_TYPE, &serde_json::to_vec(&statement).unwrap());
    (envelope, bom, key.public_key())
}

#[test]
fn the_provenance_seed_verifies_as_it_is() {
    let (envelope, bom, key) = provenance_seed();
    verify_provenance(&envelope, &bom, &key).unwrap();
}

/// The JSON inside a cosign encrypted key's PEM.
fn cosign_key_json(pem: &str) -> Value {
    let body: String = pem.lines().filter(|l| !l.starts_with("-----")).map(str::trim).collect();
    serde_json::from_slice(&STANDARD.decode(body).unwrap()).unwrap()
}

fn cosign_key_pem(envelope: &Value) -> String {
    let label = cosign_key::LABELS[0];
    format!("-----BEGIN {label}-----\n{}\n-----END {label}-----\n", STANDARD.encode(envelope.to_string()))
}

/// `cosign.key` of the interop vectors (password `hello`), and the PKCS#8 key it holds.
fn cosign_key_seed() -> (String, Vec<u8>) {
    let pem = std::fs::read_to_string(interop("cosign-key/cosign.key")).unwrap();
    let der = cosign_key::decrypt(&pem, b"hello").unwrap();
    (pem, der)
}

fn requirement() -> impl Strategy<Value = Value> {
    let leaf = prop_oneof![
        Just(json!("sbom")),
        Just(json!("provenance")),
        Just(json!({"signedBy": "SHA256:x"})),
        r"\PC{0,10}".prop_map(Value::from),
    ];
    leaf.prop_recursive(4, 16, 3, |inner| {
        prop_oneof![
            prop::collection::vec(inner.clone(), 0..3).prop_map(Value::Array),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|r| json!({"allOf": r})),
            prop::collection::vec(inner.clone(), 0..3).prop_map(|r| json!({"anyOf": r})),
            (any::<i64>(), prop::collection::vec(inner, 0..3)).prop_map(|(n, r)| json!({"threshold": n, "of": r})),
        ]
    })
}

/// A trust policy of the documented shape, with real and made-up paths, patterns and
/// requirements.
fn policy() -> impl Strategy<Value = Value> {
    let public = interop("../keys/test.pub").display().to_string();
    let root = interop("trust/trusted_root.public-good.json").display().to_string();
    let path = move |real: String| prop_oneof![Just(real), Just("missing.pub".to_owned()), r"\PC{0,8}"];
    let pattern = prop_oneof![Just("https://github.com/acme/.*".to_owned()), Just("[".to_owned()), r"\PC{0,12}"];
    let identity = (r"\PC{0,12}", proptest::option::of(r"\PC{0,12}"), proptest::option::of(pattern))
        .prop_map(|(issuer, subject, pattern)| json!({"issuer": issuer, "subject": subject, "subjectRegExp": pattern}));
    let versions = prop_oneof![Just(">=3.0.0, <4.0.0".to_owned()), r"[<>=~^*0-9., ]{0,16}", r"\PC{0,8}"];
    (
        prop::collection::vec(path(public), 0..3),
        prop::collection::vec(identity, 0..3),
        proptest::option::of(path(root)),
        prop::collection::vec(r"[a-z*-]{0,8}", 0..3),
        proptest::option::of(versions),
        proptest::option::of(r"\PC{0,8}"),
        proptest::option::of(requirement()),
    )
        .prop_map(|(keys, identities, root, names, versions, state, require)| {
            json!({
                "keys": keys, "identities": identities, "trustedRoot": root, "names": names,
                "versions": versions, "antiRollback": state.map(|s| json!({"state": s})), "require": require,
            })
        })
}

proptest! {
    #![proptest_config(ProptestConfig::with_cases(256))]

    #[test]
    fn a_sigstore_bundle_with_a_node_changed_is_verified_or_refused_and_never_verified_with_its_signature_changed(
        seed in 0..SEEDS.len(),
        change in edit(),
    ) {
        let seed = &SEEDS[seed];
        let mut bundle = read_json(seed.bundle);
        let pointer = change.apply(&mut bundle);
        let verdict = verify(seed, &bundle);
        if touches(&pointer, &SIGNED) {
            prop_assert!(verdict.is_err(), "{}: {pointer} changed ({change:?}) and the bundle still verified", seed.bundle);
        }
    }

    #[test]
    fn a_dsse_envelope_is_verified_or_refused_and_never_verified_with_its_signed_content_changed(change in edit()) {
        let (mut envelope, key, artifact) = dsse_seed();
        let pointer = change.apply(&mut envelope);
        let verdict = verify_dsse(&envelope, &key, Some(Artifact::Bytes(&artifact)));
        if touches(&pointer, &["/payload", "/payloadType", "/signatures/0/sig"]) {
            prop_assert!(verdict.is_err(), "{pointer} changed ({change:?}) and the envelope still verified");
        }
    }

    #[test]
    fn a_provenance_envelope_with_its_signed_content_changed_is_refused(change in edit()) {
        let (envelope, bom, key) = provenance_seed();
        let mut envelope: Value = serde_json::from_slice(&envelope).unwrap();
        let pointer = change.apply(&mut envelope);
        let verdict = verify_provenance(&serde_json::to_vec(&envelope).unwrap(), &bom, &key);
        if touches(&pointer, &["/payload", "/payloadType", "/signatures/0/sig"]) {
            prop_assert!(verdict.is_err(), "{pointer} changed ({change:?}) and the provenance still verified");
        }
    }

    /// A cosign key with scrypt parameters other than cosign's is refused before any key is
    /// derived: N up to 2^64 would otherwise make scrypt allocate without bound.
    #[test]
    fn a_cosign_key_with_other_kdf_parameters_is_refused_before_deriving(
        n in prop_oneof![any::<u64>(), Just(1u64 << 15), Just(1u64 << 16), Just(1u64 << 17), Just(1u64 << 20), Just(0)],
        r in prop_oneof![any::<u32>(), Just(8u32)],
        p in prop_oneof![any::<u32>(), Just(1u32)],
    ) {
        prop_assume!(!((n == 1 << 15 || n == 1 << 16 || n == 1 << 17) && r == 8 && p == 1));
        let (pem, _) = cosign_key_seed();
        let mut envelope = cosign_key_json(&pem);
        envelope["kdf"]["params"] = json!({"N": n, "r": r, "p": p});
        let started = std::time::Instant::now();
        let e = cosign_key::decrypt(&cosign_key_pem(&envelope), b"hello").unwrap_err();
        prop_assert!(e.contains("unsupported scrypt parameters"), "{e}");
        // The refusal takes microseconds; a derivation with such parameters takes seconds and
        // gigabytes, or never ends. 10 s leaves a loaded CI runner its stalls.
        prop_assert!(started.elapsed() < std::time::Duration::from_secs(10), "a key was derived before refusing");
    }
}

proptest! {
    // Edits that reach the key derivation run scrypt (N=32768, r=8): fewer cases.
    #![proptest_config(ProptestConfig::with_cases(64))]

    /// Any change to the envelope (salt, nonce, ciphertext, names, parameters) is refused:
    /// the secretbox authenticates what it holds.
    #[test]
    fn a_cosign_key_with_a_node_changed_never_decrypts(change in edit()) {
        let (pem, _) = cosign_key_seed();
        let mut envelope = cosign_key_json(&pem);
        let pointer = change.apply(&mut envelope);
        let original = cosign_key_json(&pem);
        prop_assume!(envelope != original);
        prop_assert!(cosign_key::decrypt(&cosign_key_pem(&envelope), b"hello").is_err(), "{pointer} changed ({change:?})");
    }

    /// Damaged PEM bytes are refused, or (whitespace the PEM reader skips) decrypt to the
    /// very key the file holds.
    #[test]
    fn damaged_cosign_key_bytes_decrypt_only_to_the_key_they_hold(
        bytes in damaged(std::fs::read(interop("cosign-key/cosign.key")).unwrap()),
    ) {
        let (_, der) = cosign_key_seed();
        let text = String::from_utf8_lossy(&bytes);
        if let Ok(decrypted) = cosign_key::decrypt(&text, b"hello") {
            prop_assert_eq!(decrypted, der);
        }
    }

    #[test]
    fn damaged_sigstore_bundle_bytes_are_verified_or_refused(
        (seed, bytes) in (0..SEEDS.len()).prop_flat_map(|i| {
            (Just(i), damaged(std::fs::read(interop(SEEDS[i].bundle)).unwrap()))
        }),
    ) {
        if let Ok(bundle) = serde_json::from_slice::<Value>(&bytes) {
            let _ = verify(&SEEDS[seed], &bundle);
        }
    }

    #[test]
    fn damaged_dsse_and_provenance_bytes_are_verified_or_refused(
        envelope in damaged(std::fs::read(interop("dsse/slsa-v1.dsse.json")).unwrap()),
        provenance in damaged(provenance_seed().0),
    ) {
        let (_, key, artifact) = dsse_seed();
        if let Ok(envelope) = serde_json::from_slice::<Value>(&envelope) {
            let _ = verify_dsse(&envelope, &key, Some(Artifact::Bytes(&artifact)));
        }
        let (_, bom, key) = provenance_seed();
        let _ = verify_provenance(&provenance, &bom, &key);
    }

    /// A policy file of any shape (keys that exist or not, patterns that do not compile or
    /// compile too large, requirements nested or empty) loads or is refused, never a panic.
    #[test]
    fn a_trust_policy_file_of_any_shape_loads_or_is_refused(doc in policy(), change in edit()) {
        let mut doc = doc;
        change.apply(&mut doc);
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("trust.yaml");
        std::fs::write(&path, serde_yaml_ng::to_string(&doc).unwrap()).unwrap();
        let _ = policy_file::load(&path);
        let _ = policy_file::load_signers(&path);
    }

    /// A `.sha256` list of any lines (digests of every length and case, both `sha256sum`
    /// modes, names with dots, slashes and backslashes) is read or refused, never a panic, and
    /// every file it yields is one plain name beside the archive: a check never reads elsewhere.
    #[test]
    fn a_sha256_list_yields_only_files_beside_the_archive(
        lines in prop::collection::vec(("[0-9a-fA-F]{63,65}", "[ *]{1,2}", "[a-z./\\\\]{0,12}"), 0..6),
    ) {
        let text: String = lines.iter().map(|(hex, mode, name)| format!("{hex}{mode}{name}\n")).collect();
        for file in genesis_trust::listed_files(&text, "demo.tar.zst").unwrap_or_default() {
            let beside = Path::new("dist").join(&file.name);
            prop_assert_eq!(beside.parent(), Some(Path::new("dist")), "{:?}", file);
            prop_assert!(!matches!(file.name.as_str(), "." | ".."), "{:?}", file);
        }
    }
}

/// The regex crate's size limit on a compiled pattern bounds what a policy's subject pattern
/// may cost: one past it is refused when the policy loads.
#[test]
fn a_subject_pattern_past_the_regex_size_limit_is_refused() {
    let dir = tempfile::tempdir().unwrap();
    let path = dir.path().join("trust.yaml");
    let policy = format!(
        "identities: [{{issuer: 'https://issuer.example', subjectRegExp: '(a{{1000}}){{1000}}'}}]\ntrustedRoot: {}\n",
        interop("trust/trusted_root.public-good.json").display()
    );
    std::fs::write(&path, policy).unwrap();
    let e = policy_file::load_signers(&path).unwrap_err().to_string();
    assert!(e.contains("size limit"), "{e}");
}
