//! The report as a document: a title page, then numbered sections of paragraphs, lists and
//! tables, with no page in sight. Both renderers draw this one value, so the PDF and the HTML
//! page say the same thing in the same order.

use crate::{Outcome, ReleaseReport, hipaa};

/// How a piece of text is set.
#[derive(Debug, Clone, Copy, PartialEq, Eq)]
pub(crate) enum Style {
    /// Body text.
    Regular,
    /// Labels and table headers.
    Bold,
    /// Digests, fingerprints and paths: monospace, wrapped anywhere.
    Mono,
}

/// One table cell.
#[derive(Debug, Clone)]
pub(crate) struct Cell {
    pub(crate) text: String,
    pub(crate) style: Style,
}

impl Cell {
    fn regular(text: impl Into<String>) -> Cell {
        Cell { text: text.into(), style: Style::Regular }
    }
    fn bold(text: impl Into<String>) -> Cell {
        Cell { text: text.into(), style: Style::Bold }
    }
    fn mono(text: impl Into<String>) -> Cell {
        Cell { text: text.into(), style: Style::Mono }
    }
}

/// A table: a list of labelled fields (no header) or rows under a header that is repeated on
/// every page the table spans.
#[derive(Debug, Clone)]
pub(crate) struct Table {
    /// Each column's share of the text width; they add up to 1.
    pub(crate) widths: &'static [f32],
    /// The header row.
    pub(crate) header: Option<&'static [&'static str]>,
    /// The rows, each with one cell per column.
    pub(crate) rows: Vec<Vec<Cell>>,
}

/// The label column's share in a list of fields: wide enough for the labels, and leaves a
/// `sha256:` digest in monospace one line of its own on A4.
const FIELDS: &[f32] = &[0.25, 0.75];

impl Table {
    /// Labelled fields, the label in bold.
    fn fields(rows: Vec<(&'static str, Cell)>) -> Table {
        Table {
            widths: FIELDS,
            header: None,
            rows: rows.into_iter().map(|(label, value)| vec![Cell::bold(label), value]).collect(),
        }
    }

    /// Calls `f` on the text of every cell.
    fn each_text(&mut self, f: &mut impl FnMut(&mut String)) {
        for cell in self.rows.iter_mut().flatten() {
            f(&mut cell.text);
        }
    }
}

/// A block of a section.
#[derive(Debug, Clone)]
pub(crate) enum Block {
    /// A paragraph of body text.
    Paragraph(String),
    /// A short line in bold that introduces what follows.
    Label(String),
    /// A heading within a section.
    Subheading(String),
    /// A bulleted list.
    Bullets(Vec<String>),
    /// A table.
    Table(Table),
}

/// A numbered section, listed in the table of contents.
#[derive(Debug, Clone)]
pub(crate) struct Section {
    pub(crate) title: &'static str,
    pub(crate) blocks: Vec<Block>,
}

/// The whole report.
#[derive(Debug, Clone)]
pub(crate) struct Document {
    /// The title on the first page and in the document's metadata.
    pub(crate) title: &'static str,
    /// What it is about: `NAME VERSION`.
    pub(crate) subject: String,
    /// The BOM's `created`, the one time in the document (its metadata dates too).
    pub(crate) created: String,
    /// The archive's SHA-256 in hex: the PDF's file identifier.
    pub(crate) archive_sha256: String,
    /// The fields of the title page.
    pub(crate) cover: Table,
    /// The note under them.
    pub(crate) cover_note: &'static str,
    /// The sections, in order.
    pub(crate) sections: Vec<Section>,
}

/// The title of every report.
pub(crate) const TITLE: &str = "Release evidence report";

const COVER_NOTE: &str = "This report records what an offline verification established about one bundle: every check \
    in section 2 passed, or found nothing to check. A bundle that fails verification gets no report. It is evidence \
    for an audit, not a certification.";

impl Document {
    /// The document of `r`.
    pub(crate) fn of(r: &ReleaseReport) -> Document {
        let mut cover = vec![
            ("Bundle", Cell::regular(&r.name)),
            ("Version", Cell::regular(&r.version)),
            ("Created", Cell::regular(&r.created)),
            ("Archive SHA-256", Cell::mono(r.archive.sha256.to_string())),
            ("BOM BLAKE3", Cell::mono(format!("blake3:{}", r.bom.blake3))),
            ("Signed by", Cell::mono(r.signer.to_string())),
        ];
        cover.extend(countersigned_by(r));
        cover.push(("Verdict", Cell::regular("verified: no check failed")));
        let cover = Table::fields(cover);
        let mut document = Document {
            title: TITLE,
            subject: format!("{} {}", r.name, r.version),
            created: r.created.clone(),
            archive_sha256: r.archive.sha256.hex().to_owned(),
            cover,
            cover_note: COVER_NOTE,
            sections: vec![
                release(r),
                verification(r),
                provenance(r),
                contents(r),
                sbom(r),
                scan(r.scan.as_ref()),
                safeguards(r),
            ],
        };
        document.each_text(&mut |text: &mut String| *text = shown(text));
        document
    }

    /// Calls `f` on every text of the document that can hold what the bundle says: the
    /// subject, every cell, paragraph, label, subheading and item.
    fn each_text(&mut self, f: &mut impl FnMut(&mut String)) {
        f(&mut self.subject);
        self.cover.each_text(f);
        for block in self.sections.iter_mut().flat_map(|s| &mut s.blocks) {
            match block {
                Block::Paragraph(text) | Block::Label(text) | Block::Subheading(text) => f(text),
                Block::Bullets(items) => {
                    for item in items {
                        f(item);
                    }
                }
                Block::Table(table) => table.each_text(f),
            }
        }
    }
}

/// The most characters one text of the document holds: a name, a reference or a path from
/// the bundle longer than this is cut, its end an ellipsis, so that no field can fill pages.
const MAX_TEXT: usize = 4096;

/// `text` as the report shows it: at most [`MAX_TEXT`] characters, the last an ellipsis when
/// it was cut, and every control or format character (a bidi override that would reorder
/// what a reader sees, a zero-width space, an escape) shown as `?`, so that what is read is
/// what is there. A line or paragraph break becomes a space: both renderers break lines
/// themselves.
fn shown(text: &str) -> String {
    let mut chars = text.chars();
    let mut out: String = chars
        .by_ref()
        .take(MAX_TEXT)
        .map(|c| match c {
            '\t' | '\n' | '\r' | '\u{b}' | '\u{c}' | '\u{85}' | '\u{2028}' | '\u{2029}' => ' ',
            c if c.is_control() || is_format(c) => '?',
            c => c,
        })
        .collect();
    if chars.next().is_some() {
        out.pop();
        out.push('…');
    }
    out
}

/// Whether `c` is a format character (Unicode general category Cf): invisible, it changes how
/// the text around it is shown, as the bidi embeddings, overrides and isolates
/// (U+202A–U+202E, U+2066–U+2069) and the zero-width characters do.
fn is_format(c: char) -> bool {
    matches!(
        c,
        '\u{ad}'
            | '\u{600}'..='\u{605}'
            | '\u{61c}'
            | '\u{6dd}'
            | '\u{70f}'
            | '\u{890}'..='\u{891}'
            | '\u{8e2}'
            | '\u{180e}'
            | '\u{200b}'..='\u{200f}'
            | '\u{202a}'..='\u{202e}'
            | '\u{2060}'..='\u{2064}'
            | '\u{2066}'..='\u{206f}'
            | '\u{feff}'
            | '\u{fff9}'..='\u{fffb}'
            | '\u{110bd}'
            | '\u{110cd}'
            | '\u{13430}'..='\u{1343f}'
            | '\u{1bca0}'..='\u{1bca3}'
            | '\u{1d173}'..='\u{1d17a}'
            | '\u{e0001}'
            | '\u{e0020}'..='\u{e007f}'
    )
}

fn release(r: &ReleaseReport) -> Section {
    Section {
        title: "Release",
        blocks: vec![Block::Table(Table::fields(vec![
            ("Bundle", Cell::regular(&r.name)),
            ("Version", Cell::regular(&r.version)),
            ("Created", Cell::regular(format!("{} (the build time the BOM records)", r.created))),
            ("Archive", Cell::mono(&r.archive.file)),
            ("Archive size", Cell::regular(format!("{} bytes", r.archive.size))),
            ("Archive SHA-256", Cell::mono(r.archive.sha256.to_string())),
            ("BOM SHA-256", Cell::mono(r.bom.sha256.to_string())),
            ("BOM BLAKE3", Cell::mono(format!("blake3:{}", r.bom.blake3))),
            ("Payload", Cell::regular(format!("{} files, {} bytes", r.bom.files, r.bom.payload_bytes))),
        ]))],
    }
}

/// The field naming the countersigners of `r`, beside its signer, when it has any.
fn countersigned_by(r: &ReleaseReport) -> Option<(&'static str, Cell)> {
    let names: Vec<String> = r.countersigners.iter().map(ToString::to_string).collect();
    (!names.is_empty()).then(|| ("Countersigned by", Cell::mono(names.join(", "))))
}

fn verification(r: &ReleaseReport) -> Section {
    let checks = r
        .checks
        .iter()
        .enumerate()
        .map(|(i, c)| {
            vec![
                Cell::regular((i + 1).to_string()),
                Cell::regular(&c.what),
                Cell::regular(c.outcome.label()),
                Cell::regular(&c.evidence),
            ]
        })
        .collect();
    let passed = r.checks.iter().filter(|c| c.outcome == Outcome::Passed).count();
    let mut signature = vec![("Signed by", Cell::mono(r.signer.to_string()))];
    signature.extend(countersigned_by(r));
    signature.extend([
        ("Signing time", Cell::regular("not attested: a key signature, with no transparency-log entry or timestamp")),
        ("Trust policy", Cell::regular(&r.policy.given)),
    ]);
    Section {
        title: "Signature, policy and checks",
        blocks: vec![
            Block::Table(Table::fields(signature)),
            Block::Paragraph(format!(
                "The checks below were made in this order; {passed} passed and {} found nothing to check. A bundle \
                 that fails any check gets no report.",
                r.checks.len() - passed
            )),
            Block::Table(Table {
                widths: &[0.06, 0.22, 0.12, 0.60],
                header: Some(&["#", "Check", "Outcome", "Evidence"]),
                rows: checks,
            }),
        ],
    }
}

fn provenance(r: &ReleaseReport) -> Section {
    let blocks = match &r.provenance {
        None => {
            vec![Block::Paragraph("The bundle carries no SLSA provenance: how it was built is not attested.".into())]
        }
        Some(p) => {
            let spec = p.spec_sha256.as_deref().map_or_else(|| Cell::regular("not recorded"), Cell::mono);
            let mut blocks = vec![
                Block::Paragraph(
                    "An in-toto statement with a SLSA v1 provenance predicate, signed by the bundle's key; its \
                     subject is this bundle's BOM, so it describes this build and no other."
                        .into(),
                ),
                Block::Table(Table::fields(vec![
                    ("Builder", Cell::mono(&p.builder_id)),
                    ("Build type", Cell::mono(&p.build_type)),
                    ("Spec SHA-256", spec),
                    ("Materials", Cell::regular(p.materials.len().to_string())),
                ])),
            ];
            if !p.materials.is_empty() {
                blocks.push(Block::Subheading("Materials".into()));
                blocks.push(Block::Table(Table {
                    widths: &[0.18, 0.32, 0.50],
                    header: Some(&["Name", "Source", "SHA-256"]),
                    rows: p
                        .materials
                        .iter()
                        .map(|m| {
                            vec![
                                Cell::regular(&m.name),
                                Cell::mono(&m.uri),
                                m.sha256.as_deref().map_or_else(|| Cell::regular("not recorded"), Cell::mono),
                            ]
                        })
                        .collect(),
                }));
            }
            blocks
        }
    };
    Section { title: "Provenance", blocks }
}

fn contents(r: &ReleaseReport) -> Section {
    let images = r
        .images
        .iter()
        .map(|i| {
            let platforms = if i.platforms.is_empty() { "none declared".to_owned() } else { i.platforms.join(", ") };
            vec![Cell::regular(&i.reference), Cell::mono(i.digest.to_string()), Cell::regular(platforms)]
        })
        .collect();
    let charts = r
        .charts
        .iter()
        .map(|c| {
            vec![
                Cell::regular(&c.name),
                Cell::regular(c.version.as_deref().unwrap_or("not recorded")),
                Cell::mono(c.path.to_string()),
            ]
        })
        .collect();
    let manifests = r.manifests.iter().map(|m| vec![Cell::mono(m.path.to_string())]).collect();
    Section {
        title: "Images, charts and manifests",
        blocks: vec![
            Block::Subheading(format!("Images ({})", r.images.len())),
            listing(&[0.40, 0.42, 0.18], &["Reference", "Digest", "Platforms"], images, "The bundle carries no image."),
            Block::Subheading(format!("Charts ({})", r.charts.len())),
            listing(&[0.30, 0.20, 0.50], &["Name", "Version", "Path"], charts, "The bundle carries no chart."),
            Block::Subheading(format!("Manifests ({})", r.manifests.len())),
            listing(&[1.0], &["Path"], manifests, "The bundle carries no manifest."),
        ],
    }
}

/// `rows` as a table under `header`, or, when there is none, the sentence `none`.
fn listing(widths: &'static [f32], header: &'static [&'static str], rows: Vec<Vec<Cell>>, none: &str) -> Block {
    if rows.is_empty() {
        Block::Paragraph(none.to_owned())
    } else {
        Block::Table(Table { widths, header: Some(header), rows })
    }
}

fn sbom(r: &ReleaseReport) -> Section {
    let blocks = match &r.sbom {
        None => vec![Block::Paragraph("The BOM lists no SBOM.".into())],
        Some(s) => {
            let counts = |map: &std::collections::BTreeMap<String, usize>| -> Vec<Vec<Cell>> {
                map.iter().map(|(k, n)| vec![Cell::regular(k), Cell::regular(n.to_string())]).collect()
            };
            vec![
                Block::Paragraph(
                    "Counted from the CycloneDX document the bundle carries, which the verification checked against \
                     its signed digest and found to name every image, chart and manifest of the BOM. Nested \
                     components (an image's per-platform manifests) count too."
                        .into(),
                ),
                Block::Table(Table::fields(vec![
                    ("Document", Cell::mono(&s.path)),
                    ("Components", Cell::regular(s.components.to_string())),
                ])),
                Block::Subheading("By type".into()),
                listing(&[0.70, 0.30], &["Type", "Components"], counts(&s.by_type), "The SBOM lists no component."),
                Block::Subheading("By licence".into()),
                listing(
                    &[0.70, 0.30],
                    &["Licence", "Components"],
                    counts(&s.by_licence),
                    "The SBOM lists no component.",
                ),
            ]
        }
    };
    Section { title: "Software bill of materials", blocks }
}

fn scan(record: Option<&genesis_bundle::ScanRecord>) -> Section {
    let Some(scan) = record else {
        return Section {
            title: "Vulnerability scan",
            blocks: vec![Block::Paragraph(
                "The BOM records no vulnerability scan: the builder ran none, so this report has no scan verdict to show."
                    .into(),
            )],
        };
    };
    let verdict = if scan.passed() {
        format!("passed: no finding at or above {} without an exception", scan.fail_on)
    } else {
        format!("FAILED: a finding at or above {} has no exception", scan.fail_on)
    };
    let counts = genesis_types::Severity::ALL
        .iter()
        .rev()
        .map(|s| vec![Cell::regular(s.as_str()), Cell::regular(scan.counts.get(s).copied().unwrap_or(0).to_string())])
        .collect();
    let findings = scan
        .findings
        .iter()
        .map(|f| {
            vec![
                Cell::mono(&f.id),
                Cell::mono(&f.purl),
                Cell::regular(f.fixed.as_deref().unwrap_or("no fix")),
                Cell::regular(match &f.severity_from {
                    Some(from) => format!("{} (from {from})", f.severity),
                    None => f.severity.to_string(),
                }),
                Cell::regular(f.vex.as_ref().map_or_else(|| "none".to_owned(), ToString::to_string)),
                Cell::regular(if f.excepted() { "yes" } else { "no" }),
            ]
        })
        .collect();
    let mut gaps: Vec<Vec<Cell>> = scan.gaps.iter().map(|gap| vec![Cell::regular(gap)]).collect();
    if scan.unlisted_gaps > 0 {
        gaps.push(vec![Cell::regular(format!("and {} more, not listed", scan.unlisted_gaps))]);
    }
    let documents: Vec<String> = scan.vex_documents.iter().map(|d| format!("{} ({})", d.name, d.sha256)).collect();
    Section {
        title: "Vulnerability scan",
        blocks: vec![
            Block::Paragraph(
                "The builder matched every package of every image against an OSV database before it signed the BOM, \
                 and recorded the result in it: what follows is signed with the rest of the BOM. The verdict is \
                 recomputed here from the findings, not read from a flag."
                    .into(),
            ),
            Block::Table(Table::fields(vec![
                ("Knowledge as of", Cell::regular(&scan.as_of)),
                ("Database", Cell::mono(&scan.database.digest)),
                ("Newest record", Cell::regular(scan.database.newest_modified.as_deref().unwrap_or("not recorded"))),
                ("Records", Cell::regular(scan.database.records.to_string())),
                ("Packages", Cell::regular(scan.packages.to_string())),
                ("Oldest database accepted", Cell::regular(age_limit(scan.max_db_age_seconds))),
                (
                    "OpenVEX documents",
                    if documents.is_empty() { Cell::regular("none") } else { Cell::mono(documents.join("; ")) },
                ),
                ("Unknown severities", Cell::regular(if scan.allow_unknown { "allowed" } else { "fail it" })),
                ("Inventory gaps", Cell::regular(gap_policy(scan))),
                ("Verdict", Cell::regular(verdict)),
            ])),
            Block::Subheading(format!("Gaps in the package inventory ({})", scan.gap_count())),
            listing(&[1.0], &["What the inventory could not read"], gaps, "None: every layer was read."),
            Block::Subheading("Findings without an exception, by severity".into()),
            listing(&[0.70, 0.30], &["Severity", "Findings"], counts, "No finding."),
            Block::Subheading(format!("Findings ({})", scan.findings.len())),
            Block::Paragraph(
                "Each finding shows what the latest OpenVEX statement naming it said. Only a not_affected or fixed \
                 statement that had not expired when the builder judged it excepts its finding; one that says \
                 affected or under_investigation, or that had expired, leaves it counted. An exception holds until \
                 its expiry: a trust policy's `require: scan` judges it again when the bundle is verified."
                    .into(),
            ),
            listing(
                &[0.17, 0.33, 0.12, 0.09, 0.21, 0.08],
                &["ID", "Package", "Fixed in", "Severity", "OpenVEX", "Excepted"],
                findings,
                "The scan found no known vulnerability.",
            ),
        ],
    }
}

/// Whether the policy let gaps in the inventory pass, and how many there were.
fn gap_policy(scan: &genesis_bundle::ScanRecord) -> String {
    match (scan.allow_incomplete, scan.gap_count()) {
        (false, _) => "fail it".to_owned(),
        (true, 0) => "allowed; there were none".to_owned(),
        (true, n) => format!("allowed; {n} passed"),
    }
}

/// The oldest database a scan policy accepted, in the largest whole unit (`7 days`), or that
/// it judged no age.
fn age_limit(seconds: Option<u64>) -> String {
    match seconds {
        None => "any: the policy judged no age".to_owned(),
        Some(s) if s > 0 && s % 86_400 == 0 => format!("{} days", s / 86_400),
        Some(s) if s > 0 && s % 3_600 == 0 => format!("{} hours", s / 3_600),
        Some(s) => format!("{s} seconds"),
    }
}

fn safeguards(r: &ReleaseReport) -> Section {
    let mut blocks = vec![Block::Paragraph(hipaa::INTRODUCTION.to_owned())];
    for s in &r.safeguards {
        blocks.push(Block::Subheading(format!("{} {}", s.section, s.title)));
        blocks.push(Block::Paragraph(format!("The standard: “{}”", s.standard)));
        blocks.push(Block::Label("What this evidence shows".into()));
        blocks.push(Block::Bullets(s.shows.clone()));
        blocks.push(Block::Label("What it does not show".into()));
        blocks.push(Block::Bullets(s.does_not_show.clone()));
    }
    Section { title: "HIPAA Security Rule: technical safeguards", blocks }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn a_bidi_override_a_control_or_a_zero_width_character_is_shown_as_a_question_mark() {
        assert_eq!(shown("evil\u{202e}gnp.exe\u{2066}שלום\u{2069}\u{0}\u{1b}[0m\u{200b}"), "evil?gnp.exe?שלום???[0m?");
        assert_eq!(shown("two\nlines\tand\u{2029}more"), "two lines and more");
        assert_eq!(shown("é and ü stay"), "é and ü stay");
    }

    #[test]
    fn a_text_longer_than_the_cap_is_cut_to_it_with_an_ellipsis() {
        let cut = shown(&"a".repeat(10_000));
        assert_eq!(cut.chars().count(), MAX_TEXT);
        assert!(cut.ends_with("a…"), "{}", &cut[cut.len() - 8..]);
        let whole = "b".repeat(MAX_TEXT);
        assert_eq!(shown(&whole), whole);
    }

    /// The texts of the rows of the first table in `section` whose header has the column
    /// `column`, or of its first list of fields when `column` is `None`.
    fn rows(section: &Section, column: Option<&str>) -> Vec<Vec<String>> {
        let wanted = |table: &Table| match (table.header, column) {
            (Some(header), Some(column)) => header.contains(&column),
            (header, column) => header.is_none() && column.is_none(),
        };
        section
            .blocks
            .iter()
            .find_map(|block| match block {
                Block::Table(table) if wanted(table) => Some(table),
                _ => None,
            })
            .map(|table| table.rows.iter().map(|row| row.iter().map(|c| c.text.clone()).collect()).collect())
            .unwrap_or_default()
    }

    /// Each finding shows what OpenVEX said of it and whether that excepted it: a statement
    /// under investigation or an expired exception is visible, and not an exception; the
    /// policy's OpenVEX files and oldest database accepted are listed.
    #[test]
    fn the_scan_section_shows_each_findings_openvex_status_and_the_policy() {
        use genesis_bundle::{ScanDatabase, ScanFinding, ScanRecord, VexDocument, VexStatement, VexStatus};
        use genesis_types::Severity;
        let file = genesis_bundle::sha256(b"an OpenVEX file");
        let finding = |id: &str, vex: Option<VexStatement>| ScanFinding {
            id: id.into(),
            purl: "pkg:deb/debian/libssl3@3.0.11-1~deb12u2?arch=amd64".into(),
            installed: "3.0.11-1~deb12u2".into(),
            fixed: None,
            severity: Severity::High,
            image: "r.example/app:1 (linux/amd64)".into(),
            severity_from: None,
            vex,
        };
        let not_affected = Some("component_not_present".to_owned());
        let record = ScanRecord {
            as_of: "2025-01-01T00:00:00Z".into(),
            database: ScanDatabase { digest: "sha256:0d".into(), newest_modified: None, records: 1 },
            packages: 1,
            fail_on: Severity::Critical,
            allow_unknown: false,
            max_db_age_seconds: Some(7 * 86_400),
            vex_documents: vec![VexDocument { name: "vex/ops.json".into(), sha256: file.clone() }],
            counts: [(Severity::High, 3)].into(),
            gaps: vec![],
            unlisted_gaps: 0,
            allow_incomplete: false,
            findings: vec![
                finding(
                    "CVE-1",
                    Some(VexStatement::new(VexStatus::NotAffected, not_affected.clone(), file.clone(), None, None)),
                ),
                finding(
                    "CVE-2",
                    Some(VexStatement::new(VexStatus::UnderInvestigation, None, file.clone(), None, None)),
                ),
                finding(
                    "CVE-3",
                    Some(VexStatement::new(
                        VexStatus::NotAffected,
                        not_affected,
                        file.clone(),
                        genesis_bundle::parse_rfc3339("2024-12-01T00:00:00Z"),
                        genesis_bundle::parse_rfc3339("2025-01-01T00:00:00Z"),
                    )),
                ),
                finding("CVE-4", None),
            ],
        };
        let section = scan(Some(&record));
        let shown: Vec<(String, String, String)> = rows(&section, Some("OpenVEX"))
            .into_iter()
            .map(|row| (row[0].clone(), row[4].clone(), row[5].clone()))
            .collect();
        let expected = [
            ("CVE-1", "not_affected: component_not_present", "yes"),
            ("CVE-2", "under_investigation", "no"),
            ("CVE-3", "not_affected: component_not_present (expired 2024-12-01T00:00:00Z)", "no"),
            ("CVE-4", "none", "no"),
        ]
        .map(|(a, b, c)| (a.to_owned(), b.to_owned(), c.to_owned()));
        assert_eq!(shown, expected);

        let fields = rows(&section, None);
        assert!(fields.contains(&vec!["Oldest database accepted".to_owned(), "7 days".to_owned()]), "{fields:?}");
        assert!(fields.contains(&vec!["OpenVEX documents".to_owned(), format!("vex/ops.json ({file})")]), "{fields:?}");
        assert_eq!(age_limit(None), "any: the policy judged no age");
        assert_eq!(age_limit(Some(12 * 3_600)), "12 hours");
        assert_eq!(age_limit(Some(90)), "90 seconds");
    }
}
