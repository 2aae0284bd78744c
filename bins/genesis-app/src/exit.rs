//! Exit codes, as DESIGN.md fixes them, and the `main` wrapper that prints errors.

use std::process::ExitCode;

use genesis_build::BuildError;
use genesis_bundle::BundleError;
use genesis_trust::TrustError;

/// Success.
pub const OK: u8 = 0;
/// Verification or policy failure.
pub const VERIFICATION_FAILED: u8 = 1;
/// Usage or input error.
pub const USAGE: u8 = 2;
/// Network or registry error.
pub const NETWORK: u8 = 3;
/// Something named does not exist.
pub const NOT_FOUND: u8 = 4;

fn io_code(e: &std::io::Error) -> u8 {
    if e.kind() == std::io::ErrorKind::NotFound { NOT_FOUND } else { USAGE }
}

fn bundle_code(e: &BundleError) -> u8 {
    match e {
        BundleError::Io { source, .. } => io_code(source),
        BundleError::InputChanged { .. } | BundleError::OutputExists { .. } => USAGE,
        _ => VERIFICATION_FAILED,
    }
}

fn registry_code(r: &genesis_registry::RegistryError) -> u8 {
    use genesis_registry::RegistryError as R;
    match r {
        R::Transport { .. } | R::Status { .. } | R::Unauthorized { .. } => NETWORK,
        R::NotFound(_) => NOT_FOUND,
        R::DigestMismatch { .. } => VERIFICATION_FAILED,
        R::Bundle(b) => bundle_code(b),
        R::Io { source, .. } => io_code(source),
        _ => USAGE,
    }
}

fn portal_code(e: &genesis_portal::PortalError) -> u8 {
    use genesis_portal::PortalError as P;
    match e {
        P::Transport { .. } | P::Status { .. } => NETWORK,
        P::Unauthorized(_) | P::Forbidden(_) | P::DigestMismatch { .. } => VERIFICATION_FAILED,
        P::NotFound(_) => NOT_FOUND,
        P::Io { source, .. } => io_code(source),
        P::Invalid(_) => USAGE,
    }
}

/// The exit code for an error, from the first error in its chain that we know.
pub fn code_for(err: &anyhow::Error) -> u8 {
    for cause in err.chain() {
        if let Some(t) = cause.downcast_ref::<TrustError>() {
            return match t {
                TrustError::Bundle(b) => bundle_code(b),
                TrustError::KeyIo { source, .. } => io_code(source),
                t if t.is_verification_failure() => VERIFICATION_FAILED,
                _ => USAGE,
            };
        }
        if let Some(b) = cause.downcast_ref::<BundleError>() {
            return bundle_code(b);
        }
        if let Some(b) = cause.downcast_ref::<BuildError>() {
            return match b {
                BuildError::Bundle(e) => bundle_code(e),
                BuildError::Registry(r) => registry_code(r),
                BuildError::Trust(TrustError::KeyIo { source, .. }) | BuildError::SpecIo { source, .. } => {
                    io_code(source)
                }
                _ => USAGE,
            };
        }
        if let Some(r) = cause.downcast_ref::<genesis_registry::RegistryError>() {
            return registry_code(r);
        }
        if let Some(p) = cause.downcast_ref::<genesis_portal::PortalError>() {
            return portal_code(p);
        }
        if cause.downcast_ref::<genesis_portal::LicenseError>().is_some() {
            return VERIFICATION_FAILED;
        }
        if let Some(e) = cause.downcast_ref::<std::io::Error>() {
            return io_code(e);
        }
    }
    USAGE
}

/// Runs a command body and turns its outcome into the process exit code: errors are
/// printed with their chain on stderr, and a closed stdout (`| head`) counts as success.
pub fn run(body: impl FnOnce() -> anyhow::Result<u8>) -> ExitCode {
    match body() {
        Ok(code) => ExitCode::from(code),
        Err(err) => {
            if err
                .chain()
                .any(|c| c.downcast_ref::<std::io::Error>().is_some_and(|e| e.kind() == std::io::ErrorKind::BrokenPipe))
            {
                return ExitCode::from(OK);
            }
            eprintln!("error: {err}");
            for cause in err.chain().skip(1) {
                eprintln!("  caused by: {cause}");
            }
            ExitCode::from(code_for(&err))
        }
    }
}
