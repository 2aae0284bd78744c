//! `genesis report` on the fixture bundle (fixtures/bundles/good, key fixtures/keys/test.pub),
//! read back by independent tools: poppler's `pdftotext` finds every field the report
//! promises, `pdffonts` shows every font embedded, `pdftoppm` renders every page (to
//! `target/report-pages/`, for a look), `qpdf --check` finds the file well formed; two runs
//! give the same bytes, `--html` the same fields, and a tampered bundle no report at all.

use std::path::{Path, PathBuf};
use std::process::{Command, Output};

use genesis_trust::{PublicKey, TrustPolicy, UnverifiedBundle};

use crate::text;

const ARCHIVE: &str = "demo-0.1.0.tar.zst";
const REPORT: &str = "demo-0.1.0.tar.zst.report.pdf";
const HTML: &str = "demo-0.1.0.tar.zst.report.html";
const SAFEGUARDS: [&str; 4] = ["§164.312(c)(1)", "§164.312(e)(1)", "§164.312(b)", "§164.312(d)"];

fn fixtures() -> PathBuf {
    Path::new(env!("CARGO_MANIFEST_DIR")).join("../../fixtures")
}

/// Copies the archive and sidecars of the fixture `case`, and the key that signed it, into
/// `dir`: reports are written beside the bundle, never into the fixtures.
fn copy_case(case: &str, dir: &Path) {
    for entry in std::fs::read_dir(fixtures().join("bundles").join(case)).unwrap() {
        let entry = entry.unwrap();
        std::fs::copy(entry.path(), dir.join(entry.file_name())).unwrap();
    }
    std::fs::copy(fixtures().join("keys/test.pub"), dir.join("test.pub")).unwrap();
}

fn genesis(args: &[&str], cwd: &Path) -> Output {
    Command::new(env!("CARGO_BIN_EXE_genesis")).args(args).current_dir(cwd).output().unwrap()
}

/// Runs a tool the tests read the report with; a missing one fails, naming its package.
fn tool(name: &str, package: &str, args: &[&str], cwd: &Path) -> Output {
    let out =
        Command::new(name).args(args).current_dir(cwd).output().unwrap_or_else(|e| {
            panic!("{name} cannot start ({e}): install the Debian package {package} (.ci/run does)")
        });
    assert!(out.status.success(), "{name} {args:?}: {}{}", text(&out.stdout), text(&out.stderr));
    out
}

/// `text` without white space: digests and references wrap across lines in the PDF.
fn squeezed(text: &str) -> String {
    text.split_whitespace().collect()
}

/// What the report must state about the bundle in `dir`: its name, version, archive SHA-256,
/// BOM BLAKE3 and signer as `genesis verify --output json` reports them, each image
/// reference of its BOM, and the four safeguard headings.
fn promised(dir: &Path) -> Vec<String> {
    let out = genesis(&["verify", ARCHIVE, "--key", "test.pub", "--output", "json", "--quiet"], dir);
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let verified: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    let report = &verified["report"];
    let mut fields: Vec<String> = ["name", "version", "archiveSha256", "bomBlake3"]
        .iter()
        .map(|field| report[field].as_str().unwrap_or_else(|| panic!("{field} in {report}")).to_owned())
        .collect();
    assert_eq!(report["signer"]["kind"], "key", "{report}");
    fields.push(report["signer"]["fingerprint"].as_str().unwrap_or_else(|| panic!("signer in {report}")).to_owned());
    let key = PublicKey::from_pem_file(&dir.join("test.pub")).unwrap();
    let bundle = UnverifiedBundle::open(&dir.join(ARCHIVE), &Default::default())
        .unwrap()
        .verify(&TrustPolicy::from_keys(vec![key]).unwrap())
        .unwrap();
    assert!(!bundle.bom().images.is_empty());
    fields.extend(bundle.bom().images.iter().map(|i| i.reference.clone()));
    fields.extend(SAFEGUARDS.map(str::to_owned));
    fields
}

/// The rows of `pdffonts`' table, each cut into its columns where the dashed rule under the
/// header is cut, trimmed; the header's own cells first.
fn font_table(listing: &str) -> Vec<Vec<String>> {
    let mut lines = listing.lines();
    let header = lines.next().expect("pdffonts prints a header");
    let rule = lines.next().expect("pdffonts prints a rule under its header");
    let mut spans = Vec::new();
    let mut start = None;
    for (i, c) in rule.char_indices().chain([(rule.len(), ' ')]) {
        match (c, start) {
            ('-', None) => start = Some(i),
            (' ', Some(s)) => {
                spans.push((s, i));
                start = None;
            }
            _ => {}
        }
    }
    let cells = |line: &str| -> Vec<String> {
        spans.iter().map(|&(s, e)| line.get(s..e.min(line.len())).unwrap_or_default().trim().to_owned()).collect()
    };
    std::iter::once(header).chain(lines.filter(|l| !l.trim().is_empty())).map(cells).collect()
}

#[test]
fn the_report_of_the_fixture_bundle_states_what_was_verified_in_embedded_fonts_on_numbered_pages() {
    let dir = tempfile::tempdir().unwrap();
    copy_case("good", dir.path());
    let out = genesis(&["report", ARCHIVE, "--key", "test.pub", "--quiet"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    assert_eq!(text(&out.stdout), format!("wrote {REPORT}\n"));
    assert!(text(&out.stderr).contains("genesis: network: this run contacts nothing"), "{}", text(&out.stderr));
    assert!(std::fs::read(dir.path().join(REPORT)).unwrap().starts_with(b"%PDF-"));

    let words = squeezed(&text(&tool("pdftotext", "poppler-utils", &[REPORT, "-"], dir.path()).stdout));
    for field in promised(dir.path()) {
        assert!(words.contains(&squeezed(&field)), "{field:?} in the report's text: {words}");
    }

    let check = tool("qpdf", "qpdf", &["--check", REPORT], dir.path());
    assert!(text(&check.stdout).contains("No syntax or stream encoding errors"), "{}", text(&check.stdout));

    let fonts = font_table(&text(&tool("pdffonts", "poppler-utils", &[REPORT], dir.path()).stdout));
    assert_eq!(fonts[0][0], "name", "{fonts:?}");
    assert_eq!(fonts[0][3], "emb", "{fonts:?}");
    assert_eq!(fonts.len() - 1, 3, "DejaVu Sans, its bold and its mono: {fonts:?}");
    for font in &fonts[1..] {
        assert_eq!(font[3], "yes", "{} is embedded: {fonts:?}", font[0]);
        assert!(font[0].contains("+DejaVuSans"), "{} is a subset of DejaVu: {fonts:?}", font[0]);
    }

    let info = text(&tool("pdfinfo", "poppler-utils", &[REPORT], dir.path()).stdout);
    let pages: usize = info
        .lines()
        .find_map(|l| l.strip_prefix("Pages:"))
        .unwrap_or_else(|| panic!("no page count: {info}"))
        .trim()
        .parse()
        .unwrap();
    assert!(words.contains(&format!("page1of{pages}")) && words.contains(&format!("page{pages}of{pages}")), "{words}");

    let rendered = Path::new(env!("CARGO_TARGET_TMPDIR")).parent().unwrap().join("report-pages");
    std::fs::create_dir_all(&rendered).unwrap();
    let is_page = |name: &str| name.starts_with("demo-0.1.0-") && name.ends_with(".png");
    for entry in std::fs::read_dir(&rendered).unwrap() {
        let entry = entry.unwrap();
        if is_page(&entry.file_name().to_string_lossy()) {
            std::fs::remove_file(entry.path()).unwrap();
        }
    }
    let prefix = rendered.join("demo-0.1.0");
    tool("pdftoppm", "poppler-utils", &["-png", "-r", "100", REPORT, prefix.to_str().unwrap()], dir.path());
    let mut pngs = Vec::new();
    for entry in std::fs::read_dir(&rendered).unwrap() {
        let entry = entry.unwrap();
        if is_page(&entry.file_name().to_string_lossy()) {
            pngs.push(std::fs::read(entry.path()).unwrap());
        }
    }
    assert_eq!(pngs.len(), pages, "one PNG per page in {}", rendered.display());
    assert!(pngs.iter().all(|png| png.starts_with(b"\x89PNG\r\n\x1a\n")), "pdftoppm wrote PNGs");
}

#[test]
fn two_runs_give_the_same_bytes_and_the_html_page_the_same_fields() {
    let dir = tempfile::tempdir().unwrap();
    copy_case("good", dir.path());
    for (first, second, extra) in [("a.pdf", "b.pdf", None), ("a.html", "b.html", Some("--html"))] {
        for out in [first, second] {
            let mut args = vec!["report", ARCHIVE, "--key", "test.pub", "--quiet", "-o", out];
            args.extend(extra);
            let run = genesis(&args, dir.path());
            assert_eq!(run.status.code(), Some(0), "{}", text(&run.stderr));
        }
        let (a, b) = (std::fs::read(dir.path().join(first)).unwrap(), std::fs::read(dir.path().join(second)).unwrap());
        assert!(a == b, "{first} and {second} differ");
    }

    let out = genesis(&["report", ARCHIVE, "--key", "test.pub", "--quiet", "--html", "--output", "json"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let printed: serde_json::Value = serde_json::from_slice(&out.stdout).unwrap();
    assert_eq!(printed["written"], HTML);
    let html = std::fs::read_to_string(dir.path().join(HTML)).unwrap();
    assert!(html.starts_with("<!DOCTYPE html>"), "{html}");
    for field in promised(dir.path()) {
        assert!(html.contains(&field), "{field:?} in the page");
    }
    // One page, nothing fetched: no stylesheet, script, image or font from elsewhere.
    for external in ["<link", "<script", " src=", "url("] {
        assert!(!html.contains(external), "{external} in the page");
    }
}

#[test]
fn a_tampered_bundle_gets_no_report_and_exit_1() {
    for extra in [None, Some("--html")] {
        let dir = tempfile::tempdir().unwrap();
        copy_case("blob-byte-changed", dir.path());
        let before: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        let mut args = vec!["report", ARCHIVE, "--key", "test.pub", "--quiet"];
        args.extend(extra);
        let out = genesis(&args, dir.path());
        assert_eq!(out.status.code(), Some(1), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains("verification failed"), "{}", text(&out.stderr));
        assert!(text(&out.stderr).contains("no report was written"), "{}", text(&out.stderr));
        assert!(text(&out.stdout).is_empty(), "{}", text(&out.stdout));
        let after: Vec<_> = std::fs::read_dir(dir.path()).unwrap().map(|e| e.unwrap().file_name()).collect();
        assert_eq!(after.len(), before.len(), "nothing written beside the bundle: {after:?}");
    }
}

#[test]
fn a_policy_file_and_what_it_decided_are_in_the_report() {
    let dir = tempfile::tempdir().unwrap();
    copy_case("good", dir.path());
    let policy = "keys: [test.pub]\nnames: [\"demo*\"]\nversions: \">=0.1.0\"\nrequire: [sbom, provenance]\n";
    std::fs::write(dir.path().join("policy.yaml"), policy).unwrap();
    let out = genesis(&["report", ARCHIVE, "--policy", "policy.yaml", "--html", "-o", "r.html", "--quiet"], dir.path());
    assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
    let html = std::fs::read_to_string(dir.path().join("r.html")).unwrap();
    for decision in ["policy file policy.yaml", "name demo accepted by", "version 0.1.0 within", "requirements met"] {
        assert!(html.contains(decision), "{decision:?} in the page");
    }
}

#[test]
fn the_report_a_releases_sha256_lists_is_not_replaced() {
    let dir = tempfile::tempdir().unwrap();
    copy_case("good", dir.path());
    // The vendor's report, listed after the archive as `bundle-builder create --report` lists it.
    let vendors = b"%PDF-1.7 the vendor's report";
    std::fs::write(dir.path().join(REPORT), vendors).unwrap();
    let list = dir.path().join(format!("{ARCHIVE}.sha256"));
    let archive_line = std::fs::read_to_string(&list).unwrap();
    std::fs::write(&list, format!("{archive_line}{}  {REPORT}\n", genesis_bundle::sha256(vendors).hex())).unwrap();

    let out = genesis(&["report", ARCHIVE, "--key", "test.pub", "--quiet"], dir.path());
    assert_eq!(out.status.code(), Some(2), "{}", text(&out.stderr));
    assert!(text(&out.stderr).contains("listed in its .sha256"), "{}", text(&out.stderr));
    assert_eq!(std::fs::read(dir.path().join(REPORT)).unwrap(), vendors);

    let elsewhere = genesis(&["report", ARCHIVE, "--key", "test.pub", "--quiet", "-o", "mine.pdf"], dir.path());
    assert_eq!(elsewhere.status.code(), Some(0), "{}", text(&elsewhere.stderr));
}

/// Every file in `dir` with its bytes, to show a run left them all as they were.
fn snapshot(dir: &Path) -> Vec<(std::ffi::OsString, Vec<u8>)> {
    let mut files: Vec<_> = std::fs::read_dir(dir)
        .unwrap()
        .map(|e| e.unwrap())
        .filter(|e| e.file_type().unwrap().is_file())
        .map(|e| (e.file_name(), std::fs::read(e.path()).unwrap()))
        .collect();
    files.sort();
    files
}

#[test]
fn the_report_never_replaces_the_bundle_or_one_of_its_sidecars_however_the_path_is_spelt() {
    let dir = tempfile::tempdir().unwrap();
    copy_case("good", dir.path());
    std::fs::create_dir(dir.path().join("sub")).unwrap();
    std::os::unix::fs::symlink(dir.path(), dir.path().join("link")).unwrap();
    // An absent sidecar is protected too: a report written there would be read as one.
    std::fs::remove_file(dir.path().join(format!("{ARCHIVE}.cosign.bundle"))).unwrap();
    let before = snapshot(dir.path());
    let absolute = dir.path().join(format!("{ARCHIVE}.cosign.bundle"));
    for (target, what) in [
        (ARCHIVE.to_owned(), "the bundle itself"),
        (format!("./{ARCHIVE}.sha256"), "the bundle's .sha256 sidecar"),
        (format!("sub/../{ARCHIVE}.sig"), "the bundle's .sig sidecar"),
        (format!("link/{ARCHIVE}"), "the bundle itself"),
        (absolute.to_str().unwrap().to_owned(), "the bundle's .cosign.bundle sidecar"),
    ] {
        for extra in [None, Some("--html")] {
            let mut args = vec!["report", ARCHIVE, "--key", "test.pub", "--quiet", "-o", target.as_str()];
            args.extend(extra);
            let out = genesis(&args, dir.path());
            assert_eq!(out.status.code(), Some(2), "-o {target}: {}", text(&out.stderr));
            assert!(
                text(&out.stderr).contains(&format!("is {what}: a report there would replace it")),
                "{}",
                text(&out.stderr)
            );
            assert!(snapshot(dir.path()) == before, "-o {target} left every file as it was");
        }
    }
}

#[test]
fn the_report_names_the_key_and_the_policy_file_by_name_so_the_folder_it_is_made_from_changes_no_byte() {
    let dir = tempfile::tempdir().unwrap();
    copy_case("good", dir.path());
    let keys = dir.path().join("keys");
    std::fs::create_dir(&keys).unwrap();
    std::fs::rename(dir.path().join("test.pub"), keys.join("test.pub")).unwrap();
    std::fs::write(keys.join("policy.yaml"), "keys: [test.pub]\nnames: [\"demo*\"]\n").unwrap();
    let above = format!("../{ARCHIVE}");
    for (trust, here, there, shown) in [
        ("--key", "a.pdf", "b.pdf", "trusted key test.pub"),
        ("--policy", "a.html", "b.html", "policy file policy.yaml"),
    ] {
        let html = here.ends_with(".html").then_some("--html");
        let file = if trust == "--key" { "test.pub" } else { "policy.yaml" };
        let from_bundle = format!("keys/{file}");
        let mut args = vec!["report", ARCHIVE, trust, from_bundle.as_str(), "--quiet", "-o", here];
        args.extend(html);
        let out = genesis(&args, dir.path());
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));
        let to_bundle = format!("../{there}");
        let mut args = vec!["report", above.as_str(), trust, file, "--quiet", "-o", to_bundle.as_str()];
        args.extend(html);
        let out = genesis(&args, &keys);
        assert_eq!(out.status.code(), Some(0), "{}", text(&out.stderr));

        let (a, b) = (std::fs::read(dir.path().join(here)).unwrap(), std::fs::read(dir.path().join(there)).unwrap());
        assert!(a == b, "{here} (made beside the bundle) and {there} (made in keys/) differ");
        let said = if html.is_some() {
            String::from_utf8(a).unwrap()
        } else {
            text(&tool("pdftotext", "poppler-utils", &[here, "-"], dir.path()).stdout)
        };
        assert!(squeezed(&said).contains(&squeezed(shown)), "{shown:?} in {here}");
        assert!(!said.contains(&from_bundle), "{from_bundle} in {here}: the report names files, not folders");
    }
}
