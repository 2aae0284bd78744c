//! Bounds on what a reader accepts from an untrusted archive, so that a hostile bundle
//! costs a bounded amount of memory, disk and time before it is refused.

/// Limits applied while reading a bundle. Every field has a documented default; callers
/// can raise or lower each one (the CLI exposes them as flags).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Limits {
    /// Largest `bom.json` accepted, in bytes. It is read into memory before its signature is
    /// checked. Default 16 MiB (a BOM with 100 000 files is about 15 MiB).
    pub max_bom_size: u64,
    /// Largest signature entry, in bytes. Default 64 KiB.
    pub max_signature_size: u64,
    /// Most entries (files and directories) in one archive. Default 1 000 000. With
    /// `max_total_size` it also bounds the frames a seek table may declare (at most
    /// `max_entries + max_total_size / FRAME_SIZE + 1`), since the table is read whole.
    pub max_entries: u64,
    /// Largest decompressed archive, in bytes. Default 1 TiB.
    pub max_total_size: u64,
    /// Largest ratio of decompressed to compressed bytes, over the archive as a whole. A
    /// zstd bundle declares its sizes in the seek table, so a bomb is refused before any
    /// frame is decompressed. Default 250 (container layers rarely exceed 20; a directory
    /// of zeros reaches thousands).
    pub max_ratio: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            max_bom_size: 16 << 20,
            max_signature_size: 64 << 10,
            max_entries: 1_000_000,
            max_total_size: 1 << 40,
            max_ratio: 250,
        }
    }
}

impl Limits {
    /// Whether `decompressed` bytes out of `compressed` bytes in stays within the ratio.
    /// Small archives get 1 MiB of slack, since tar headers and padding compress to almost
    /// nothing.
    pub fn ratio_ok(&self, compressed: u64, decompressed: u64) -> bool {
        decompressed <= compressed.saturating_mul(self.max_ratio).saturating_add(1 << 20)
    }
}
