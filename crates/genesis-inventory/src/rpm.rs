//! RPM distributions: rpm's SQLite database (`rpmdb.sqlite`, rpm 4.16 and later: Fedora 33
//! on, RHEL, Rocky and AlmaLinux 9, Amazon Linux 2023, openSUSE Tumbleweed), whose
//! `Packages(hnum INTEGER PRIMARY KEY, blob BLOB)` table holds each installed package's
//! header as a blob.
//!
//! A header blob is rpm's header structure without its 8-byte magic (Linux Standard Base
//! Core, "Package File Format", §25.2.2 Header Section,
//! <https://refspecs.linuxfoundation.org/LSB_5.0.0/LSB-Core-generic/LSB-Core-generic/pkgformat.html>):
//! the index entry count `il` and data length `dl` (u32 big-endian), `il` entries of 16
//! bytes (tag, type, offset into the data, count; u32 big-endian each), then `dl` bytes of
//! data. Tag and type numbers are rpm's (`lib/rpmtag.h`). Every offset and count is checked
//! against the blob before it is followed: the database comes from the image, not from rpm.
//!
//! The database is a file SQLite must open by path, so its bytes go to a private temporary
//! directory; the connection is read-only, `immutable` (rpm leaves its database in WAL
//! mode, and an immutable database is read without its `-wal`/`-shm` companions, never
//! written, never locked), defensive, distrusts the schema, and caps every value at the
//! size of the file (a generated column cannot conjure a gigabyte blob).

use std::path::Path;

use rusqlite::config::DbConfig;
use rusqlite::limits::Limit;
use rusqlite::types::ValueRef;
use rusqlite::{Connection, OpenFlags, OptionalExtension};

use crate::error::InventoryError;
use crate::package::{FoundFile, Package, PackageKind};
use crate::purl::{distro_qualifier, purl};

/// rpm databases in the formats we do not read, each with the note the inventory records
/// when an image holds one: its packages are then missing from the SBOM, and it says so.
pub(crate) const NOT_INVENTORIED: &[(&str, &str)] = &[
    (
        "var/lib/rpm/Packages",
        "var/lib/rpm/Packages is an RPM database in the Berkeley DB format (rpm before 4.16: \
         RHEL, CentOS, Rocky and AlmaLinux 8 and older, Amazon Linux 2), which is not read: \
         the packages it lists are not in this SBOM",
    ),
    (
        "usr/lib/sysimage/rpm/Packages",
        "usr/lib/sysimage/rpm/Packages is an RPM database in the Berkeley DB format, which is \
         not read: the packages it lists are not in this SBOM",
    ),
    (
        "var/lib/rpm/Packages.db",
        "var/lib/rpm/Packages.db is an RPM database in the NDB format (SUSE Linux Enterprise \
         and openSUSE Leap 15), which is not read: the packages it lists are not in this SBOM",
    ),
    (
        "usr/lib/sysimage/rpm/Packages.db",
        "usr/lib/sysimage/rpm/Packages.db is an RPM database in the NDB format (SUSE Linux \
         Enterprise and openSUSE Leap 15), which is not read: the packages it lists are not in \
         this SBOM",
    ),
];

/// rpm's own bound on a header's index entries (`HEADER_TAGS_MAX`, `lib/header_internal.h`).
const MAX_INDEX_ENTRIES: u32 = 0xffff;
/// Bytes of one index entry: tag, type, offset, count.
const ENTRY_LEN: usize = 16;
/// The value cap SQLite is given never goes below this, so a tiny database still reads.
const MIN_VALUE_LIMIT: usize = 1 << 20;

// Tags (`rpmTag_e`, lib/rpmtag.h).
const TAG_NAME: u32 = 1000;
const TAG_VERSION: u32 = 1001;
const TAG_RELEASE: u32 = 1002;
const TAG_EPOCH: u32 = 1003;
const TAG_LICENSE: u32 = 1014;
const TAG_ARCH: u32 = 1022;
const TAG_SOURCERPM: u32 = 1044;

// Types (`rpmTagType_e`, lib/rpmtag.h).
const TYPE_INT32: u32 = 4;
const TYPE_STRING: u32 = 6;
const TYPE_STRING_ARRAY: u32 = 8;
const TYPE_I18NSTRING: u32 = 9;

/// The packages of an rpm SQLite database (`var/lib/rpm/rpmdb.sqlite`,
/// `usr/lib/sysimage/rpm/rpmdb.sqlite`), in the table's order. The `gpg-pubkey` entries rpm
/// makes of imported signing keys are not packages and are left out. A database SQLite
/// refuses, or a header that breaks its own layout, makes the whole file malformed.
pub(crate) fn parse_sqlite(bytes: &[u8], file: &FoundFile<'_>) -> Result<Vec<Package>, InventoryError> {
    let malformed = |reason: String| InventoryError::Malformed { path: file.path.to_owned(), reason };
    let temporary = |source| InventoryError::TempFile { path: file.path.to_owned(), source };
    // Declared first so it is dropped last, after the connection that has it open.
    let dir = tempfile::tempdir().map_err(temporary)?;
    let db_path = dir.path().join("rpmdb.sqlite");
    std::fs::write(&db_path, bytes).map_err(temporary)?;
    let sqlite = |error: rusqlite::Error| malformed(format!("SQLite cannot read it: {error}"));
    let connection = open_read_only(&db_path, bytes.len()).map_err(sqlite)?;
    let kind: Option<String> = connection
        .query_row("SELECT type FROM sqlite_master WHERE name = 'Packages'", [], |row| row.get(0))
        .optional()
        .map_err(sqlite)?;
    match kind.as_deref() {
        Some("table") => {}
        Some(other) => return Err(malformed(format!("its Packages is a {other}, not a table"))),
        None => return Err(malformed("it has no Packages table".to_owned())),
    }
    let mut statement = connection.prepare("SELECT hnum, blob FROM Packages").map_err(sqlite)?;
    let mut rows = statement.query([]).map_err(sqlite)?;
    let mut packages = Vec::new();
    while let Some(row) = rows.next().map_err(sqlite)? {
        let hnum: i64 = row.get(0).map_err(sqlite)?;
        let blob = match row.get_ref(1).map_err(sqlite)? {
            ValueRef::Blob(blob) => blob,
            other => return Err(malformed(format!("package {hnum}: its blob is {}, not a blob", other.data_type()))),
        };
        let header = Header::parse(blob).map_err(|reason| malformed(format!("package {hnum}: {reason}")))?;
        let found = package(&header, file).map_err(|reason| malformed(format!("package {hnum}: {reason}")))?;
        packages.extend(found);
    }
    Ok(packages)
}

/// A read-only, immutable, defensive connection to the database at `path`, every value
/// capped at `size` bytes (the file's own size: no stored value is larger).
fn open_read_only(path: &Path, size: usize) -> rusqlite::Result<Connection> {
    let uri = format!("file:{}?mode=ro&immutable=1", uri_path(path));
    let flags = OpenFlags::SQLITE_OPEN_READ_ONLY | OpenFlags::SQLITE_OPEN_URI | OpenFlags::SQLITE_OPEN_NO_MUTEX;
    let connection = Connection::open_with_flags(uri, flags)?;
    connection.set_db_config(DbConfig::SQLITE_DBCONFIG_DEFENSIVE, true)?;
    connection.execute_batch("PRAGMA trusted_schema = OFF")?;
    connection.set_limit(Limit::SQLITE_LIMIT_LENGTH, i32::try_from(size.max(MIN_VALUE_LIMIT)).unwrap_or(i32::MAX));
    Ok(connection)
}

/// `path` percent-encoded for an SQLite URI (<https://sqlite.org/uri.html>): every byte but
/// ASCII letters, digits, `-._~` and `/` becomes `%XX`, so `?` and `#` stay in the path.
fn uri_path(path: &Path) -> String {
    let mut out = String::new();
    for &byte in path.as_os_str().as_encoded_bytes() {
        if byte.is_ascii_alphanumeric() || matches!(byte, b'-' | b'.' | b'_' | b'~' | b'/') {
            out.push(char::from(byte));
        } else {
            out.push_str(&format!("%{byte:02X}"));
        }
    }
    out
}

/// One package from its header: `None` for a `gpg-pubkey` entry. Its version is rpm's
/// `[epoch:]version-release`; its purl `pkg:rpm/<distro id>/<name>@<version>-<release>` with
/// `arch`, `distro` and (when the header has one) `epoch` qualifiers, per the purl spec's rpm
/// type.
fn package(header: &Header<'_>, file: &FoundFile<'_>) -> Result<Option<Package>, String> {
    let name = header.string(TAG_NAME)?.filter(|name| !name.is_empty()).ok_or("it has no NAME")?;
    if name == "gpg-pubkey" {
        return Ok(None);
    }
    let version = header.string(TAG_VERSION)?.filter(|version| !version.is_empty()).ok_or("it has no VERSION")?;
    let version_release = match header.string(TAG_RELEASE)? {
        Some(release) if !release.is_empty() => format!("{version}-{release}"),
        _ => version,
    };
    let epoch = header.int32(TAG_EPOCH)?.map(|epoch| epoch.to_string());
    let arch = header.string(TAG_ARCH)?.filter(|arch| !arch.is_empty());
    let licenses = header.string(TAG_LICENSE)?.filter(|license| !license.is_empty()).into_iter().collect();
    let source = header
        .string(TAG_SOURCERPM)?
        .as_deref()
        .and_then(source_name)
        .filter(|source| *source != name)
        .map(str::to_owned);
    let distro = file.distro.map(distro_qualifier);
    let qualifiers = [
        ("arch", arch.as_deref().unwrap_or_default()),
        ("distro", distro.as_deref().unwrap_or_default()),
        ("epoch", epoch.as_deref().unwrap_or_default()),
    ];
    let purl =
        purl(PackageKind::Rpm, file.distro.map(|distro| distro.id.as_str()), &name, &version_release, &qualifiers);
    Ok(Some(Package {
        kind: PackageKind::Rpm,
        version: match &epoch {
            Some(epoch) => format!("{epoch}:{version_release}"),
            None => version_release,
        },
        name,
        source,
        arch,
        licenses,
        purl,
        found_in: file.path.to_owned(),
        layer: file.layer.to_owned(),
    }))
}

/// The source package's name in a SOURCERPM value, `<name>-<version>-<release>.src.rpm`
/// (`openssl-3.0.7-24.el9.src.rpm` is `openssl`): names may hold dashes, versions and
/// releases may not.
fn source_name(source_rpm: &str) -> Option<&str> {
    let stem = source_rpm.strip_suffix(".src.rpm").or_else(|| source_rpm.strip_suffix(".nosrc.rpm"))?;
    let mut parts = stem.rsplitn(3, '-');
    let (_release, _version, name) = (parts.next()?, parts.next()?, parts.next()?);
    (!name.is_empty()).then_some(name)
}

/// A header blob whose counts have been checked against its length: its index entries and
/// its data store.
struct Header<'a> {
    index: &'a [u8],
    data: &'a [u8],
}

/// One index entry: which tag, its value's type, where the value starts in the data store,
/// and how many items it holds.
struct Entry {
    tag: u32,
    kind: u32,
    offset: u32,
    count: u32,
}

impl<'a> Header<'a> {
    fn parse(blob: &'a [u8]) -> Result<Self, String> {
        let (Some(il), Some(dl)) = (be_u32(blob, 0), be_u32(blob, 4)) else {
            return Err(format!("its header is {} bytes, shorter than its 8-byte counts", blob.len()));
        };
        if il > MAX_INDEX_ENTRIES {
            return Err(format!("its header claims {il} index entries, over rpm's limit of {MAX_INDEX_ENTRIES}"));
        }
        let index_end = 8 + il as usize * ENTRY_LEN;
        let data_end = usize::try_from(dl).ok().and_then(|dl| index_end.checked_add(dl));
        match (blob.get(8..index_end), data_end.and_then(|end| blob.get(index_end..end))) {
            (Some(index), Some(data)) => Ok(Header { index, data }),
            _ => Err(format!(
                "its header claims {il} index entries and {dl} data bytes, more than its {} bytes hold",
                blob.len()
            )),
        }
    }

    /// The first entry for `tag` (rpm writes each tag once).
    fn entry(&self, tag: u32) -> Option<Entry> {
        self.index
            .chunks_exact(ENTRY_LEN)
            .filter_map(|raw| {
                Some(Entry {
                    tag: be_u32(raw, 0)?,
                    kind: be_u32(raw, 4)?,
                    offset: be_u32(raw, 8)?,
                    count: be_u32(raw, 12)?,
                })
            })
            .find(|entry| entry.tag == tag)
    }

    /// The value of a string tag (the first string of an array or an i18n string), or
    /// `None` when the header lacks it. Bytes that are not UTF-8 (old Latin-1 headers) are
    /// replaced, not refused.
    fn string(&self, tag: u32) -> Result<Option<String>, String> {
        let Some(entry) = self.entry(tag) else { return Ok(None) };
        if !matches!(entry.kind, TYPE_STRING | TYPE_STRING_ARRAY | TYPE_I18NSTRING) || entry.count == 0 {
            return Err(format!("tag {tag} has type {} and count {}, not a string", entry.kind, entry.count));
        }
        let rest = self.value(&entry)?;
        let end = rest.iter().position(|&byte| byte == 0).ok_or_else(|| format!("tag {tag}'s string has no end"))?;
        Ok(Some(String::from_utf8_lossy(&rest[..end]).into_owned()))
    }

    /// The first value of an INT32 tag, or `None` when the header lacks it.
    fn int32(&self, tag: u32) -> Result<Option<u32>, String> {
        let Some(entry) = self.entry(tag) else { return Ok(None) };
        if entry.kind != TYPE_INT32 || entry.count == 0 {
            return Err(format!("tag {tag} has type {} and count {}, not a number", entry.kind, entry.count));
        }
        be_u32(self.value(&entry)?, 0).map(Some).ok_or_else(|| format!("tag {tag}'s number runs past the data's end"))
    }

    /// The data store from `entry`'s offset on.
    fn value(&self, entry: &Entry) -> Result<&'a [u8], String> {
        usize::try_from(entry.offset)
            .ok()
            .and_then(|offset| self.data.get(offset..))
            .filter(|rest| !rest.is_empty())
            .ok_or_else(|| {
                format!(
                    "tag {}'s offset {} is past the end of its {}-byte data",
                    entry.tag,
                    entry.offset,
                    self.data.len()
                )
            })
    }
}

fn be_u32(bytes: &[u8], at: usize) -> Option<u32> {
    let raw: [u8; 4] = bytes.get(at..at.checked_add(4)?)?.try_into().ok()?;
    Some(u32::from_be_bytes(raw))
}

#[cfg(test)]
mod tests {
    #![allow(clippy::unwrap_used, clippy::expect_used)]

    use std::process::Command;

    use super::*;
    use crate::package::Distro;

    /// A header value to write.
    enum Value {
        Str(String),
        Int(u32),
    }

    fn text(value: &str) -> Value {
        Value::Str(value.to_owned())
    }

    /// A header blob in the documented layout (il, dl, 16-byte entries, data), written
    /// independently of the parser: INT32 values are 4-aligned, strings NUL-terminated.
    fn header_blob(entries: &[(u32, Value)]) -> Vec<u8> {
        let mut index = Vec::new();
        let mut data = Vec::new();
        for (tag, value) in entries {
            let (kind, bytes) = match value {
                Value::Int(number) => {
                    while !data.len().is_multiple_of(4) {
                        data.push(0);
                    }
                    (TYPE_INT32, number.to_be_bytes().to_vec())
                }
                Value::Str(string) => (TYPE_STRING, [string.as_bytes(), b"\0"].concat()),
            };
            for field in [*tag, kind, u32::try_from(data.len()).unwrap(), 1] {
                index.extend_from_slice(&field.to_be_bytes());
            }
            data.extend_from_slice(&bytes);
        }
        let mut blob = Vec::new();
        blob.extend_from_slice(&u32::try_from(entries.len()).unwrap().to_be_bytes());
        blob.extend_from_slice(&u32::try_from(data.len()).unwrap().to_be_bytes());
        blob.extend_from_slice(&index);
        blob.extend_from_slice(&data);
        blob
    }

    /// The entries of a header with NAME, VERSION, RELEASE, ARCH and, when given, EPOCH, in
    /// that order.
    fn nevra(name: &str, epoch: Option<u32>, version: &str, release: &str, arch: &str) -> Vec<(u32, Value)> {
        let mut entries = vec![
            (TAG_NAME, text(name)),
            (TAG_VERSION, text(version)),
            (TAG_RELEASE, text(release)),
            (TAG_ARCH, text(arch)),
        ];
        entries.extend(epoch.map(|epoch| (TAG_EPOCH, Value::Int(epoch))));
        entries
    }

    fn rocky() -> Distro {
        Distro { id: "rocky".into(), version_id: Some("9.3".into()), version_codename: None, pretty_name: None }
    }

    /// The three packages of the fixture database: one with an epoch, a source package and a
    /// licence; one without; an imported signing key.
    fn fixture_blobs() -> Vec<Vec<u8>> {
        let mut openssl = nevra("openssl-libs", Some(1), "3.0.7", "24.el9", "x86_64");
        openssl.push((TAG_LICENSE, text("Apache-2.0")));
        openssl.push((TAG_SOURCERPM, text("openssl-3.0.7-24.el9.src.rpm")));
        let mut bash = nevra("bash", None, "5.1.8", "6.el9_1", "x86_64");
        bash.push((TAG_LICENSE, text("GPLv3+")));
        bash.push((TAG_SOURCERPM, text("bash-5.1.8-6.el9_1.src.rpm")));
        let key =
            vec![(TAG_NAME, text("gpg-pubkey")), (TAG_VERSION, text("350d275d")), (TAG_RELEASE, text("6243b3ab"))];
        [openssl, bash, key].iter().map(|entries| header_blob(entries)).collect()
    }

    /// Makes an rpm database with rpm itself (python3-rpm's `initDB`, sqlite backend: rpm's
    /// own schema, left in WAL mode as rpm leaves it), stores `blobs` in its Packages
    /// table, and returns the database's bytes with what rpm reads back from it, one
    /// `name epoch:version-release arch` line per package.
    fn rpm_database(blobs: &[Vec<u8>]) -> (Vec<u8>, Vec<String>) {
        const SCRIPT: &str = r#"
import sqlite3, sys
import rpm
dbdir = sys.argv[1]
rpm.addMacro("_dbpath", dbdir)
rpm.addMacro("_db_backend", "sqlite")
ts = rpm.TransactionSet()
assert ts.initDB() == 0, "rpm could not create its database"
ts.closeDB()
db = sqlite3.connect(dbdir + "/rpmdb.sqlite")
for path in sys.argv[2:]:
    db.execute("INSERT INTO Packages (blob) VALUES (?)", (open(path, "rb").read(),))
db.commit()
db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
db.close()
ts = rpm.TransactionSet()
for h in ts.dbMatch():
    print(h[rpm.RPMTAG_NAME], h.format("%|EPOCH?{%{EPOCH}:}|%{VERSION}-%{RELEASE}"), h[rpm.RPMTAG_ARCH])
"#;
        let dir = tempfile::tempdir().unwrap();
        let mut paths = Vec::new();
        for (index, blob) in blobs.iter().enumerate() {
            let path = dir.path().join(format!("header-{index}"));
            std::fs::write(&path, blob).unwrap();
            paths.push(path);
        }
        let db_dir = dir.path().join("db");
        std::fs::create_dir(&db_dir).unwrap();
        let output = Command::new("/usr/bin/python3")
            .arg("-c")
            .arg(SCRIPT)
            .arg(&db_dir)
            .args(paths)
            .output()
            .expect("this test needs /usr/bin/python3 with rpm's bindings (Debian: python3 python3-rpm)");
        assert!(
            output.status.success(),
            "python3-rpm failed (Debian: apt-get install python3-rpm): {}",
            String::from_utf8_lossy(&output.stderr)
        );
        let bytes = std::fs::read(db_dir.join("rpmdb.sqlite")).unwrap();
        (bytes, String::from_utf8(output.stdout).unwrap().lines().map(str::to_owned).collect())
    }

    /// A database written with rusqlite: `schema` run first, then each blob inserted.
    fn sqlite_database(schema: &str, blobs: &[Vec<u8>]) -> Vec<u8> {
        let dir = tempfile::tempdir().unwrap();
        let path = dir.path().join("rpmdb.sqlite");
        let connection = Connection::open(&path).unwrap();
        connection.execute_batch(schema).unwrap();
        for blob in blobs {
            connection.execute("INSERT INTO Packages (blob) VALUES (?1)", rusqlite::params![blob]).unwrap();
        }
        drop(connection);
        std::fs::read(path).unwrap()
    }

    const RPM_SCHEMA: &str = "CREATE TABLE 'Packages' (hnum INTEGER PRIMARY KEY AUTOINCREMENT,blob BLOB NOT NULL)";

    fn parse(bytes: &[u8], distro: Option<&Distro>) -> Result<Vec<Package>, InventoryError> {
        parse_sqlite(bytes, &FoundFile { path: "var/lib/rpm/rpmdb.sqlite", layer: "sha256:bb", distro })
    }

    #[test]
    fn rpm_itself_reads_our_fixture_as_we_do_and_each_package_gets_its_purl() {
        let (bytes, rpm_says) = rpm_database(&fixture_blobs());
        assert_eq!(
            rpm_says,
            ["openssl-libs 1:3.0.7-24.el9 x86_64", "bash 5.1.8-6.el9_1 x86_64", "gpg-pubkey 350d275d-6243b3ab None"]
        );
        assert_eq!(&bytes[18..20], [2, 2], "rpm leaves its database in WAL mode, which is what this test reads");

        let distro = rocky();
        let packages = parse(&bytes, Some(&distro)).unwrap();
        let ours: Vec<String> = packages
            .iter()
            .map(|package| {
                format!("{} {} {}", package.name, package.version, package.arch.as_deref().unwrap_or("None"))
            })
            .collect();
        assert_eq!(ours, rpm_says[..2], "the gpg-pubkey entry is a signing key, not a package");
        let purls: Vec<&str> = packages.iter().map(|package| package.purl.as_str()).collect();
        assert_eq!(
            purls,
            [
                "pkg:rpm/rocky/openssl-libs@3.0.7-24.el9?arch=x86_64&distro=rocky-9.3&epoch=1",
                "pkg:rpm/rocky/bash@5.1.8-6.el9_1?arch=x86_64&distro=rocky-9.3",
            ]
        );
        let openssl = &packages[0];
        assert_eq!(openssl.kind, PackageKind::Rpm);
        assert_eq!(openssl.source.as_deref(), Some("openssl"));
        assert_eq!(openssl.licenses, ["Apache-2.0"]);
        assert_eq!(openssl.found_in, "var/lib/rpm/rpmdb.sqlite");
        assert_eq!(openssl.layer, "sha256:bb");
        assert_eq!(packages[1].source, None, "bash's source package is bash");
    }

    #[test]
    fn without_os_release_the_purl_has_no_namespace_and_no_distro() {
        let bytes = sqlite_database(RPM_SCHEMA, &[header_blob(&nevra("tzdata", None, "2024a", "1.el9", "noarch"))]);
        let packages = parse(&bytes, None).unwrap();
        assert_eq!(packages[0].purl, "pkg:rpm/tzdata@2024a-1.el9?arch=noarch");
        assert!(packages[0].licenses.is_empty());
    }

    #[test]
    fn a_file_sqlite_refuses_or_without_a_packages_table_is_a_clear_error() {
        let error = parse(&[b'x'; 4096], None).unwrap_err();
        let message = error.to_string();
        assert!(
            message.starts_with("var/lib/rpm/rpmdb.sqlite: malformed package metadata: SQLite cannot read it"),
            "{message}"
        );

        let no_table = sqlite_database("CREATE TABLE Other (x)", &[]);
        assert!(parse(&no_table, None).unwrap_err().to_string().contains("it has no Packages table"));

        let view = sqlite_database("CREATE TABLE Real (hnum, blob); CREATE VIEW Packages AS SELECT * FROM Real", &[]);
        assert!(parse(&view, None).unwrap_err().to_string().contains("its Packages is a view, not a table"));

        let text_blob = sqlite_database(
            "CREATE TABLE Packages (hnum INTEGER PRIMARY KEY, blob); INSERT INTO Packages (blob) VALUES ('text')",
            &[],
        );
        let error = parse(&text_blob, None).unwrap_err();
        assert!(error.to_string().contains("package 1: its blob is Text, not a blob"), "{error}");
    }

    #[test]
    fn hostile_headers_are_errors_that_name_the_package_never_panics() {
        let good = header_blob(&nevra("a", Some(2), "1", "1", "x86_64"));
        let mut cases: Vec<(Vec<u8>, &str)> = vec![
            (vec![0, 0, 0], "shorter than its 8-byte counts"),
            ([&0x0001_0000_u32.to_be_bytes()[..], &[0; 4][..]].concat(), "over rpm's limit"),
            ([&[0_u8, 0, 0, 1][..], &u32::MAX.to_be_bytes()[..]].concat(), "more than its 8 bytes hold"),
            (good[..good.len() - 1].to_vec(), "more than its"),
        ];
        // The NAME entry's offset moved past the data's end.
        let mut far = good.clone();
        far[16..20].copy_from_slice(&0xffff_fff0_u32.to_be_bytes());
        cases.push((far, "tag 1000's offset 4294967280 is past the end"));
        // The last string's terminating NUL removed, by shortening dl and the blob by one.
        let mut unterminated = header_blob(&[(TAG_NAME, text("a")), (TAG_VERSION, text("1"))]);
        unterminated.pop();
        let dl = be_u32(&unterminated, 4).unwrap() - 1;
        unterminated[4..8].copy_from_slice(&dl.to_be_bytes());
        cases.push((unterminated, "tag 1001's string has no end"));
        // EPOCH written as a string, NAME as a number.
        cases.push((
            header_blob(&[(TAG_NAME, text("a")), (TAG_VERSION, text("1")), (TAG_EPOCH, text("1"))]),
            "tag 1003 has type 6",
        ));
        cases.push((header_blob(&[(TAG_NAME, Value::Int(7))]), "tag 1000 has type 4"));
        // An INT32 whose 4 bytes run past the data: the EPOCH entry pointed at the last byte.
        let mut short_epoch = good.clone();
        let epoch_entry = 8 + 4 * ENTRY_LEN;
        let last = be_u32(&short_epoch, 4).unwrap() - 1;
        short_epoch[epoch_entry + 8..epoch_entry + 12].copy_from_slice(&last.to_be_bytes());
        cases.push((short_epoch, "tag 1003's number runs past the data's end"));
        // A count of zero, and huge counts that are never believed.
        let mut zero_count = good.clone();
        zero_count[8 + 12..8 + 16].copy_from_slice(&0_u32.to_be_bytes());
        cases.push((zero_count, "tag 1000 has type 6 and count 0"));
        cases.push((header_blob(&[(TAG_VERSION, text("1"))]), "it has no NAME"));
        cases.push((header_blob(&[(TAG_NAME, text("a"))]), "it has no VERSION"));

        let mut huge_counts = good.clone();
        for entry in 0..5 {
            let at = 8 + entry * ENTRY_LEN + 12;
            huge_counts[at..at + 4].copy_from_slice(&u32::MAX.to_be_bytes());
        }
        let packages = parse(&sqlite_database(RPM_SCHEMA, &[huge_counts]), None).unwrap();
        assert_eq!(packages[0].version, "2:1-1", "a string's count is never used as a length");

        for (blob, expected) in cases {
            let bytes = sqlite_database(RPM_SCHEMA, &[good.clone(), blob]);
            let message = parse(&bytes, None).unwrap_err().to_string();
            assert!(
                message.starts_with("var/lib/rpm/rpmdb.sqlite: malformed package metadata: package 2: "),
                "{message}"
            );
            assert!(message.contains(expected), "{message} should say {expected:?}");
        }
    }

    #[test]
    fn random_bytes_in_a_header_give_packages_or_errors_never_a_panic() {
        let good = header_blob(&nevra("a", Some(2), "1", "1", "x86_64"));
        let mut state = 0x2545_f491_4f6c_dd1d_u64;
        for _ in 0..2000 {
            let mut blob = good.clone();
            for _ in 0..4 {
                state ^= state << 13;
                state ^= state >> 7;
                state ^= state << 17;
                let at = usize::try_from(state % blob.len() as u64).unwrap();
                blob[at] = state.to_le_bytes()[7];
            }
            if let Ok(header) = Header::parse(&blob) {
                let _ = package(&header, &FoundFile { path: "p", layer: "l", distro: None });
            }
        }
    }

    #[test]
    fn source_rpm_names_lose_their_version_release_and_suffix() {
        assert_eq!(source_name("openssl-3.0.7-24.el9.src.rpm"), Some("openssl"));
        assert_eq!(source_name("python-setuptools-53.0.0-12.el9.noarch.src.rpm"), Some("python-setuptools"));
        assert_eq!(source_name("glibc-2.34-60.el9.nosrc.rpm"), Some("glibc"));
        assert_eq!(source_name("1.0-1.src.rpm"), None);
        assert_eq!(source_name("-1.0-1.src.rpm"), None);
        assert_eq!(source_name("openssl-3.0.7-24.el9.x86_64.rpm"), None);
    }

    #[test]
    fn uri_paths_escape_what_sqlite_would_read_as_query_or_fragment() {
        assert_eq!(uri_path(Path::new("/tmp/.tmpAb_1-2~/rpmdb.sqlite")), "/tmp/.tmpAb_1-2~/rpmdb.sqlite");
        assert_eq!(uri_path(Path::new("/a b/c?d#e%f")), "/a%20b/c%3Fd%23e%25f");
    }

    #[test]
    fn every_unread_database_format_has_a_note_naming_its_path_and_format() {
        for (path, note) in NOT_INVENTORIED {
            assert!(note.starts_with(path), "{note}");
            assert!(note.contains("Berkeley DB") || note.contains("NDB"), "{note}");
            assert!(note.ends_with("not in this SBOM"), "{note}");
        }
    }
}
