//! How the binaries' memory allocator is set up before anything else runs.
//!
//! glibc's malloc gives each thread that allocates concurrently an arena of its own, up to
//! eight per core, and returns little of a freed arena to the system. Our servers and
//! pipelines free 4 MiB frames and 1 MiB pieces on many threads (runtime workers, blocking
//! threads, decompressors), so their peak RSS grew with the number of arenas rather than with
//! what they held: `serve` under 50 pullers added 90–110 MiB over its frame cache with the
//! default, 30–45 MiB with two arenas, and answered faster (issue 19; measured by the test
//! `fifty_clients_pull_200_images_and_serve_stays_within_its_frame_cache`). Two arenas, one
//! per core of the smallest machine we run on, keep contention low all the same.
//! `MALLOC_ARENA_MAX` in the environment, when set, wins: an operator can still choose.

/// Arenas malloc may create.
const ARENAS: i32 = 2;

/// Bounds glibc's malloc arenas to [`ARENAS`] unless `MALLOC_ARENA_MAX` says otherwise. Call
/// first in `main`, before any thread starts. Does nothing on other C libraries.
pub fn bound_arenas() {
    #[cfg(all(target_os = "linux", target_env = "gnu"))]
    if std::env::var_os("MALLOC_ARENA_MAX").is_none() {
        // SAFETY: `mallopt` only sets a malloc parameter; called before other threads exist.
        #[expect(
            unsafe_code,
            reason = "mallopt has no safe wrapper; this crate holds the workspace's only unsafe call"
        )]
        unsafe {
            libc::mallopt(libc::M_ARENA_MAX, ARENAS);
        }
    }
}
