//! Edge registry seeding (seed 004), as a library a vendor can embed: an image copied from
//! one registry to another with its digests, signatures, attestations, referrers and (on
//! request) policy sidecars ([`Seeder::seed`], over `genesis_registry::copy`), judged on the
//! source, copied untagged, the destination read back and verified fail-closed in four steps
//! (signature, digest, BLAKE3 fingerprint, policy; [`verify`]), and only then tagged and its
//! audit files written ([`manifest`]). [`Seeder::seed_catalog`] seeds a site's catalog concurrently and rolls
//! the results up, [`Catalog::sync`] re-seeds a peer edge registry, [`publish_index`] makes
//! the roll-up a referrer of an image, and [`zot`] and [`zarf`] generate an edge registry's
//! configuration and a Zarf package definition. Async (tokio); the binaries own the runtime.
//! Why it is built this way: decision 0027.
//!
//! ```
//! use genesis_seed::{Catalog, entry_dir};
//!
//! let repos = ["robot-behavior:v1".to_owned(), "fleet/nav-stack:v2".to_owned()];
//! let catalog = Catalog::sync("edge-a.local:5000", "edge-b.local:5000", &repos, false)?;
//! assert_eq!(catalog.entries[1].to, "edge-b.local:5000/fleet/nav-stack:v2");
//! assert_eq!(entry_dir(2, &catalog.entries[1].to), "02-nav-stack-v2");
//! # Ok::<(), genesis_seed::SeedError>(())
//! ```

pub mod catalog;
mod error;
pub mod manifest;
pub mod publish;
pub mod seed;
pub mod verify;
pub mod zarf;
pub mod zot;

pub use catalog::{Catalog, CatalogEntry, CatalogOutcome, entry_dir};
pub use error::{Result, SeedError};
pub use manifest::{CATALOG_SCHEMA, CatalogEntryResult, CatalogSeedManifest, EntryStatus, SEED_SCHEMA, SeedManifest};
pub use publish::{CATALOG_ARTIFACT_TYPE, Published, publish_index};
pub use seed::{Connections, SeedOutcome, SeedProgress, SeedRequest, Seeder, Trust};
pub use verify::Step;
