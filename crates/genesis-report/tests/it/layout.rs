//! How a release too long for a page is laid out, read back by `pdftotext -layout`: tables
//! break between rows and repeat their header, the contents page gives each section the page
//! it starts on, every page is numbered, and the same report gives the same bytes. And what a
//! hostile bundle name does to it: nothing, whatever its length or its characters.

use std::time::{Duration, Instant};

use genesis_report::{Format, ReleaseReport, render};

use crate::{assert_well_formed, checked, pages_of, squeezed, word_extents};

/// The sections, as the contents page lists them.
const SECTIONS: [&str; 7] = [
    "Release",
    "Signature, policy and checks",
    "Provenance",
    "Images, charts and manifests",
    "Software bill of materials",
    "Vulnerability scan",
    "HIPAA Security Rule: technical safeguards",
];

const IMAGES: usize = 150;

/// The fixture's report with its one image repeated under [`IMAGES`] references.
fn long_release() -> ReleaseReport {
    let mut report = ReleaseReport::of(&checked(), "trusted key test.pub").unwrap();
    let image = report.images[0].clone();
    report.images = (0..IMAGES)
        .map(|i| {
            let mut image = image.clone();
            image.reference = format!("r.example/app-{i:03}:1.0");
            image
        })
        .collect();
    report
}

#[test]
fn a_table_longer_than_a_page_repeats_its_header_on_every_page_and_loses_no_row() {
    let pages = pages_of(&render(&long_release(), Format::Pdf).unwrap());
    let with_images: Vec<&String> = pages.iter().filter(|p| p.contains("r.example/app-")).collect();
    assert!(with_images.len() >= 3, "{IMAGES} images span pages, not {}", with_images.len());
    for page in &with_images {
        let header = page.lines().find(|l| l.contains("Reference")).unwrap_or_else(|| panic!("no header: {page}"));
        assert!(header.contains("Digest") && header.contains("Platforms"), "{header}");
    }
    let all = pages.concat();
    for i in 0..IMAGES {
        let reference = format!("r.example/app-{i:03}:1.0");
        assert_eq!(all.matches(&reference).count(), 1, "{reference} once, whole");
    }
    // A digest that wraps inside its cell is whole once its lines are joined.
    let digest = long_release().images[0].digest.to_string();
    assert!(squeezed(with_images[0]).contains(&digest), "{digest} in {}", with_images[0]);
}

#[test]
fn the_contents_page_gives_each_section_the_page_it_starts_on_and_every_page_is_numbered() {
    let pages = pages_of(&render(&long_release(), Format::Pdf).unwrap());
    let total = pages.len();
    for (index, page) in pages.iter().enumerate() {
        assert!(page.contains(&format!("page {} of {total}", index + 1)), "page {}: {page}", index + 1);
    }
    let contents = &pages[1];
    assert!(contents.contains("Contents"), "{contents}");
    for (number, title) in (1..).zip(SECTIONS) {
        let heading = format!("{number} {title}");
        let line = contents.lines().find(|l| l.contains(&heading)).unwrap_or_else(|| panic!("{heading}: {contents}"));
        let page: usize = line.split_whitespace().last().unwrap().parse().unwrap();
        assert!(pages[page - 1].contains(&heading), "{heading} on page {page}: {}", pages[page - 1]);
        assert!(pages[2..page - 1].iter().all(|p| !p.contains(&heading)), "{heading} starts on page {page}");
    }
}

#[test]
fn the_same_report_gives_the_same_bytes_and_its_only_date_is_the_boms() {
    let report = ReleaseReport::of(&checked(), "trusted key test.pub").unwrap();
    let again = ReleaseReport::of(&checked(), "trusted key test.pub").unwrap();
    for format in [Format::Pdf, Format::Html] {
        assert_eq!(render(&report, format).unwrap(), render(&again, format).unwrap(), "{format:?}");
    }
    let pdf = render(&report, Format::Pdf).unwrap();
    let dates = pdf.windows(3).filter(|w| *w == b"(D:").count();
    let boms = pdf.windows(19).filter(|w| *w == b"(D:20250101000000Z)").count();
    assert_eq!((dates, boms), (2, 2), "the creation and modification dates, both the BOM's created");
}

/// A character no page of a report may hold: a control (but the line and page breaks
/// `pdftotext` writes itself) or a bidi override, isolate or left-to-right embedding. The
/// right-to-left embedding and its pop (U+202B, U+202C) are left out: `pdftotext` writes them
/// itself around the right-to-left words it extracts, and the report replaces every bidi
/// control it is given, those two included (see the `document` unit tests).
fn hidden(c: char) -> bool {
    (c.is_control() && c != '\n' && c != '\u{c}')
        || matches!(c, '\u{202a}' | '\u{202d}' | '\u{202e}' | '\u{2066}'..='\u{2069}')
}

#[test]
fn a_long_spaceless_name_with_controls_hebrew_and_a_bidi_override_is_shown_whole_cut_and_inert() {
    let mut report = ReleaseReport::of(&checked(), "trusted key test.pub").unwrap();
    // A right-to-left override would show `evil?exe.png` as a harmless picture's name.
    let prefix = "evil\u{202e}gnp.exe\u{2066}שלום\u{2069}\u{0}\u{7}\u{1b}";
    report.name = format!("{prefix}{}", "a".repeat(10_000));

    let pdf = render(&report, Format::Pdf).unwrap();
    assert_well_formed(&pdf);
    let pages = pages_of(&pdf);
    let all = pages.concat();
    let shown: Vec<char> = all.chars().filter(|c| hidden(*c)).collect();
    assert!(shown.is_empty(), "{shown:?} on a page");
    let words = squeezed(&all);
    assert!(words.contains("evil?gnp.exe"), "the override shown as ?: {:.200}", words);
    for letter in ['ש', 'ל', 'ו', 'ם'] {
        assert!(words.contains(letter), "{letter} in the report");
    }
    assert!(words.contains("a…"), "the name is cut, with an ellipsis");
    // Every word within the 54 pt margins (decision 0028): the name wraps on the title page
    // and the running head is cut, neither runs off the page, where a reader would lose it.
    let (page_width, extents) = word_extents(&pdf);
    for (from, to, word) in &extents {
        assert!(*from >= 54.0 - 0.5 && *to <= page_width - 54.0 + 0.5, "{word:.40} from {from} to {to} pt");
    }

    let html = String::from_utf8(render(&report, Format::Html).unwrap()).unwrap();
    let shown: Vec<char> = html.chars().filter(|c| hidden(*c)).collect();
    assert!(shown.is_empty(), "{shown:?} in the page");
    assert!(html.contains("evil?gnp.exe?שלום????aaa"), "the page shows what the PDF shows");
    assert!(html.contains("a…") && !html.contains(&"a".repeat(4_096)), "the name is cut in the page too");
}

#[test]
fn a_name_of_200k_combining_marks_renders_in_bounded_time() {
    let mut report = ReleaseReport::of(&checked(), "trusted key test.pub").unwrap();
    // Wider than a line, so it breaks inside, and then its marks, which have no width, pile
    // up on its last line: measured again for each, that line costs time in its square.
    report.name = format!("{}{}", "W".repeat(100), "\u{301}".repeat(200_000));
    let started = Instant::now();
    for format in [Format::Pdf, Format::Html] {
        render(&report, format).unwrap();
    }
    let took = started.elapsed();
    assert!(took < Duration::from_secs(10), "{took:?}: a guard against work that grows as the name's square");
}
