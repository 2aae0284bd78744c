//! Free space where a bundle will be extracted, against the payload size its BOM declares.

use genesis_bundle::{ArchiveReader, Bom, Limits};

use super::not_regular;
use crate::Check;
use crate::spec::DiskCheck;

/// Below this much headroom beyond the payload, warn.
const HEADROOM: f64 = 0.10;

/// PASS when the payload fits with headroom, WARN when it barely fits, FAIL otherwise.
pub fn free_space(d: &DiskCheck) -> Check {
    let name = format!("disk {}", d.path.display());
    // Opening a FIFO would wait for a writer, outside the check's timeout: only a regular
    // file is opened (one `stat` cannot see is left for the reader to say why).
    if let Some(problem) = std::fs::metadata(&d.bundle).ok().and_then(|meta| not_regular(&meta)) {
        return Check::fail(&name, format!("cannot read {}: {problem}", d.bundle.display()), "correct disk.bundle");
    }
    // The BOM is read for its size only: the bundle is verified when it is extracted.
    let need = ArchiveReader::open_head(&d.bundle, &Limits::default())
        .and_then(|mut r| r.read_head())
        .and_then(|head| Bom::parse(&head.bom, &Limits::default()))
        .map(|bom| bom.payload_size());
    let need = match need {
        Ok(n) => n,
        Err(e) => return Check::fail(&name, format!("cannot read {}: {e}", d.bundle.display()), "correct disk.bundle"),
    };
    let stat = match rustix::fs::statvfs(&d.path) {
        Ok(s) => s,
        Err(e) => {
            return Check::fail(
                &name,
                format!("cannot stat {}: {e}", d.path.display()),
                "create the folder (on the volume meant for bundles) or correct disk.path",
            );
        }
    };
    let free = stat.f_bavail.saturating_mul(stat.f_frsize);
    let detail = format!("{} free, {} needed for {}", mib(free), mib(need), d.bundle.display());
    if free < need {
        Check::fail(&name, detail, "free space on that volume or extract elsewhere")
    } else if (free - need) as f64 / (need.max(1) as f64) < HEADROOM {
        Check::warn(&name, detail, "less than 10% headroom: free some space before the install")
    } else {
        Check::pass(&name, detail)
    }
}

fn mib(bytes: u64) -> String {
    format!("{:.1} MiB", bytes as f64 / (1 << 20) as f64)
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::Status;

    #[test]
    fn a_bundle_that_is_no_regular_file_is_not_opened() {
        let dir = tempfile::tempdir().unwrap();
        let check = free_space(&DiskCheck { path: dir.path().to_owned(), bundle: "/dev/zero".into() });
        assert_eq!(check.status, Status::Fail, "{check:?}");
        assert_eq!(check.detail, "cannot read /dev/zero: is a character device, not a regular file");
    }
}
