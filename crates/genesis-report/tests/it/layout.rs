//! How a release too long for a page is laid out, read back by `pdftotext -layout`: tables
//! break between rows and repeat their header, the contents page gives each section the page
//! it starts on, every page is numbered, and the same report gives the same bytes.

use genesis_report::{Format, ReleaseReport, render};

use crate::{checked, pages_of, squeezed};

/// The sections, as the contents page lists them.
const SECTIONS: [&str; 6] = [
    "Release",
    "Signature, policy and checks",
    "Provenance",
    "Images, charts and manifests",
    "Software bill of materials",
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
