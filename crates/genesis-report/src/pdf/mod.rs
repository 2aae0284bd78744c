//! The PDF renderer, on `pdf-writer` (decision 0028): the document is laid out on A4 pages
//! (`layout.rs`), the pages are drawn into compressed content streams, then the fonts are
//! embedded as subsets of the glyphs drawn (`font.rs`). Nothing random or current enters the
//! file: object numbers follow the document, the subset tags are derived from the glyphs, the
//! file identifier from the archive's digest, and the dates are the BOM's `created`.

mod font;
mod layout;

use std::io::Write as _;
use std::str::FromStr;

use pdf_writer::{Content, Date, Filter, Finish as _, Pdf, Rect, Ref, Str, TextStr};

use self::font::Fonts;
use self::layout::{Op, PAGE_HEIGHT, PAGE_WIDTH, Page};
use crate::ReportError;
use crate::document::Document;

/// The PDF of `doc`.
pub(crate) fn render(doc: &Document) -> Result<Vec<u8>, ReportError> {
    let mut fonts = Fonts::load()?;
    let pages = layout::lay_out(doc, &fonts);

    let mut next = Ref::new(1);
    let catalog = next.bump();
    let tree = next.bump();
    let info = next.bump();
    let font_refs = Fonts::allocate(&mut next);

    let mut pdf = Pdf::new();
    let mut kids = Vec::with_capacity(pages.len());
    for page in &pages {
        let page_ref = next.bump();
        let content_ref = next.bump();
        let content = deflate(&draw(page, &mut fonts));
        pdf.stream(content_ref, &content).filter(Filter::FlateDecode);
        let mut writer = pdf.page(page_ref);
        writer.media_box(Rect::new(0.0, 0.0, PAGE_WIDTH, PAGE_HEIGHT)).parent(tree).contents(content_ref);
        writer.resources().fonts().pairs(font::resources(font_refs));
        writer.finish();
        kids.push(page_ref);
    }
    fonts.write(&mut pdf, font_refs, &mut next)?;

    let count = i32::try_from(kids.len()).expect("a report has far fewer than 2^31 pages");
    pdf.pages(tree).kids(kids).count(count);
    pdf.catalog(catalog).pages(tree);
    let title = format!("{}: {}", doc.title, doc.subject);
    let mut document_info = pdf.document_info(info);
    document_info
        .title(TextStr(&title))
        .subject(TextStr(&doc.subject))
        .creator(TextStr("genesis report"))
        .producer(TextStr("genesis-report on pdf-writer"));
    if let Some(date) = pdf_date(&doc.created) {
        document_info.creation_date(date).modified_date(date);
    }
    document_info.finish();
    // The first 32 hex digits of the archive's SHA-256: the same bundle, the same identifier.
    let id: Vec<u8> = doc.archive_sha256.bytes().take(32).collect();
    pdf.set_file_id((id.clone(), id));
    Ok(pdf.finish())
}

/// The content stream of `page`, its text encoded with `fonts` (which records the glyphs).
fn draw(page: &Page, fonts: &mut Fonts) -> Vec<u8> {
    let mut content = Content::new();
    for op in &page.ops {
        match op {
            Op::Text { style, size, x, y, gray, text } => {
                let codes = fonts.get_mut(*style).encode(text);
                content.set_fill_gray(*gray);
                content.begin_text();
                content.set_font(font::resource(*style), *size);
                content.set_text_matrix([1.0, 0.0, 0.0, 1.0, *x, *y]);
                content.show(Str(&codes));
                content.end_text();
            }
            Op::Fill { x, y, width, height, gray } => {
                content.set_fill_gray(*gray);
                content.rect(*x, *y, *width, *height);
                content.fill_nonzero();
            }
            Op::Rule { x1, x2, y, gray } => {
                content.set_stroke_gray(*gray);
                content.set_line_width(0.5);
                content.move_to(*x1, *y);
                content.line_to(*x2, *y);
                content.stroke();
            }
        }
    }
    content.finish().into_vec()
}

/// `data` compressed for a `FlateDecode` stream, at a fixed level: the same bytes in, the
/// same bytes out.
fn deflate(data: &[u8]) -> Vec<u8> {
    let mut encoder = flate2::write::ZlibEncoder::new(Vec::new(), flate2::Compression::new(6));
    encoder.write_all(data).expect("writing to memory does not fail");
    encoder.finish().expect("writing to memory does not fail")
}

/// The PDF date of an RFC 3339 UTC time as the BOM writes it (`2025-01-01T00:00:00Z`);
/// `None` for any other form, and the document then has no date.
fn pdf_date(rfc3339: &str) -> Option<Date> {
    fn field<T: FromStr>(text: &str, at: std::ops::Range<usize>) -> Option<T> {
        text.get(at)?.parse().ok()
    }
    let b = rfc3339.as_bytes();
    if b.len() != 20 || b[4] != b'-' || b[7] != b'-' || b[10] != b'T' || b[13] != b':' || b[16] != b':' || b[19] != b'Z'
    {
        return None;
    }
    Some(
        Date::new(field(rfc3339, 0..4)?)
            .month(field(rfc3339, 5..7)?)
            .day(field(rfc3339, 8..10)?)
            .hour(field(rfc3339, 11..13)?)
            .minute(field(rfc3339, 14..16)?)
            .second(field(rfc3339, 17..19)?)
            .utc_offset_hour(0),
    )
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn the_boms_time_becomes_the_documents_date_and_any_other_form_none() {
        assert_eq!(
            pdf_date("2025-01-01T00:00:00Z"),
            Some(Date::new(2025).month(1).day(1).hour(0).minute(0).second(0).utc_offset_hour(0))
        );
        assert_eq!(pdf_date("2025-01-01T00:00:00+01:00"), None);
        assert_eq!(pdf_date("2025-01-01"), None);
        assert_eq!(pdf_date("2025-xx-01T00:00:00Z"), None);
    }
}
