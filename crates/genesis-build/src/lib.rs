//! tmp
mod error;
pub mod spec;
pub use error::{BuildError, Result};
