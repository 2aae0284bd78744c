//! The embedder's path through `genesis_seed`, with no command line in between: what it
//! writes, judged by independent readers.

// Test helpers are not a public API, and a panic is how a test reports failure.
#![allow(missing_docs, clippy::unwrap_used, clippy::expect_used)]

mod zarf;
