//! Delta bundles (decision 0043): a build against a base bundle (`bundle-builder create
//! --base`) leaves out every layer and config the base carries, and its BOM lists them as
//! required at the destination. The base is read as a loader reads it: its BOM signature
//! verified, against the signer this build signs as, before anything of it is used.

use std::collections::BTreeMap;
use std::path::Path;

use genesis_bundle::{ArchiveReader, BaseBundle, Bom, Limits, RequiredBlob, Requires, sha256};
use genesis_trust::{SignedBom as _, TrustPolicy, UnverifiedBundle};
use genesis_types::Digest;

use crate::signing::{ExternalSignatures, PipelineSigner, Signing};
use crate::{BuildError, Result};

/// How the base of a delta is read.
pub(crate) enum BaseCheck {
    /// Its BOM signature verified against this policy, as a loader verifies it (signature,
    /// expiry, provenance): the signer the build signs as, so a delta names only a base its
    /// own vendor signed.
    Verified(Box<TrustPolicy>),
    /// Its head read without a signature check: `prepare`, which holds no signer and writes
    /// only what the pipeline signs. The `create` that carries those signatures reads the base
    /// again with [`BaseCheck::Verified`] before it writes anything, and its BOM names the
    /// base's BOM digest, so a base other than the one checked there changes the BOM and its
    /// signatures no longer verify.
    HeadOnly,
}

impl BaseCheck {
    /// The check of the base of a build signed by `signing`: by the key's public half, by the
    /// pipeline's public key, or by the pipeline's keyless identities with their pinned root.
    pub(crate) fn of(signing: Signing<'_>) -> Result<BaseCheck> {
        let policy = match signing {
            Signing::Key(key) => TrustPolicy::from_keys(vec![key.public_key()])?,
            Signing::External(ExternalSignatures { signer: PipelineSigner::Key(key), .. }) => {
                TrustPolicy::from_keys(vec![key.clone()])?
            }
            Signing::External(ExternalSignatures { signer: PipelineSigner::Keyless(keyless), .. }) => {
                TrustPolicy::from_signers(Vec::new(), Some(keyless.clone()))?
            }
        };
        Ok(BaseCheck::Verified(Box::new(policy)))
    }
}

/// The base of a delta as the build uses it.
pub(crate) struct Base {
    /// How the delta's BOM names it.
    pub(crate) bundle: BaseBundle,
    /// Every blob a registry that holds the base holds, with its size: those its BOM lists
    /// as files of its OCI layout, and those it requires of its own base in turn.
    pub(crate) blobs: BTreeMap<Digest, u64>,
}

/// Reads the base bundle at `path` (an archive, or a split one's parts manifest or a part)
/// as `check` says.
pub(crate) fn read_base(path: &Path, check: &BaseCheck) -> Result<Base> {
    let limits = Limits::default();
    let refused =
        |source: genesis_trust::TrustError| BuildError::Base { path: path.to_owned(), source: Box::new(source) };
    let (bom, bom_sha256) = match check {
        BaseCheck::Verified(policy) => {
            let verified = UnverifiedBundle::open(path, &limits).and_then(|b| b.verify(policy)).map_err(refused)?;
            tracing::info!(base = %path.display(), signer = %verified.signer(), "base bundle verified");
            (verified.bom().clone(), verified.bom_sha256().clone())
        }
        BaseCheck::HeadOnly => {
            let head = ArchiveReader::open_head(path, &limits)
                .and_then(|mut reader| reader.read_head())
                .map_err(|e| refused(e.into()))?;
            let bom = Bom::parse(&head.bom, &limits).map_err(|e| refused(e.into()))?;
            tracing::info!(base = %path.display(), "base bundle read without checking its signature (prepare)");
            (bom, sha256(&head.bom))
        }
    };
    let mut blobs: BTreeMap<Digest, u64> = bom.carried_blobs().map(|(digest, size)| (digest.clone(), size)).collect();
    if let Some(requires) = &bom.requires {
        blobs.extend(requires.blobs.iter().map(|b| (b.digest.clone(), b.size)));
    }
    Ok(Base { bundle: BaseBundle { name: bom.name, version: bom.version, bom_sha256 }, blobs })
}

/// The blobs of a build by digest, each with its size and where it comes from.
pub(crate) type Blobs<T> = BTreeMap<Digest, (u64, T)>;

/// Splits the blobs of a build (`blobs`: every blob of its OCI layout, with its size and
/// source) into those it carries and what it requires of `base`: every layer and config
/// (not in `manifests`, the manifests and indexes, which a delta always carries: they are
/// small and name the tags) whose digest the base holds. `None` for requirements when the
/// base holds none of them: the build is then a full bundle. A blob the base lists with
/// another size than this build's descriptor gives it is refused: one digest, two sizes.
pub(crate) fn split_blobs<T>(
    blobs: Blobs<T>,
    manifests: &std::collections::BTreeSet<Digest>,
    base: &Base,
) -> Result<(Blobs<T>, Option<Requires>)> {
    let mut carried = BTreeMap::new();
    let mut required = Vec::new();
    for (digest, (size, source)) in blobs {
        match base.blobs.get(&digest) {
            Some(&listed) if !manifests.contains(&digest) => {
                if listed != size {
                    return Err(BuildError::input(
                        "--base",
                        format!(
                            "the base {} lists blob {digest} with {listed} bytes, this build's images give it {size}: \
                             one digest cannot have two sizes",
                            base.bundle
                        ),
                    ));
                }
                required.push(RequiredBlob { digest, size });
            }
            _ => {
                carried.insert(digest, (size, source));
            }
        }
    }
    // `blobs` iterates in digest order: the list is sorted as the BOM requires.
    let requires = (!required.is_empty()).then(|| Requires { base: base.bundle.clone(), blobs: required });
    Ok((carried, requires))
}

#[cfg(test)]
mod tests {
    use std::collections::BTreeSet;

    use super::*;

    fn digest(n: u8) -> Digest {
        Digest::from_sha256_bytes([n; 32])
    }

    fn base(blobs: &[(u8, u64)]) -> Base {
        Base {
            bundle: BaseBundle { name: "demo".into(), version: "1".into(), bom_sha256: digest(0) },
            blobs: blobs.iter().map(|&(n, size)| (digest(n), size)).collect(),
        }
    }

    /// Layers and configs the base holds are required of it, in digest order; a manifest the
    /// base holds too stays, and so does what the base lacks.
    #[test]
    fn what_the_base_holds_is_required_but_manifests_stay() {
        let blobs: BTreeMap<Digest, (u64, ())> =
            [(3, 30), (1, 10), (2, 20), (4, 40)].into_iter().map(|(n, size)| (digest(n), (size, ()))).collect();
        let manifests = BTreeSet::from([digest(4)]);
        let (carried, requires) = split_blobs(blobs, &manifests, &base(&[(1, 10), (3, 30), (4, 40)])).unwrap();
        assert_eq!(carried.keys().cloned().collect::<Vec<_>>(), [digest(2), digest(4)]);
        let requires = requires.expect("a delta");
        assert_eq!(
            requires.blobs,
            [RequiredBlob { digest: digest(1), size: 10 }, RequiredBlob { digest: digest(3), size: 30 }]
        );
        assert_eq!((requires.base.name.as_str(), requires.bytes()), ("demo", 40));

        let blobs: BTreeMap<Digest, (u64, ())> = BTreeMap::from([(digest(2), (20, ()))]);
        let (carried, requires) = split_blobs(blobs, &BTreeSet::new(), &base(&[(1, 10)])).unwrap();
        assert!(requires.is_none() && carried.len() == 1, "nothing shared: a full bundle");
    }

    #[test]
    fn a_digest_the_base_lists_with_another_size_is_refused() {
        let blobs: BTreeMap<Digest, (u64, ())> = BTreeMap::from([(digest(1), (10, ()))]);
        let e = split_blobs(blobs, &BTreeSet::new(), &base(&[(1, 11)])).unwrap_err().to_string();
        assert!(e.contains("lists blob") && e.contains("with 11 bytes, this build's images give it 10"), "{e}");
    }
}
