//! The document laid out on A4 pages, as display lists: text runs, fills and rules at fixed
//! positions. A fixed grid and greedy line breaking by measured glyph widths are all a report
//! needs, and keep the layout simple enough to be obviously right: text breaks at spaces,
//! and inside a word only when the word alone is wider than its line (a digest, a path);
//! a table row moves whole to the next page when it fits there, is split between lines only
//! when it is taller than a page, and the header row is repeated on every page a table
//! spans. The contents page is drawn last, once the sections' pages are known, and so is
//! every page's running head and "page N of M".

use super::font::Fonts;
use crate::document::{Block, Document, Style, Table};

/// A4, in points.
pub(crate) const PAGE_WIDTH: f32 = 595.276;
/// A4, in points.
pub(crate) const PAGE_HEIGHT: f32 = 841.89;
const LEFT: f32 = 54.0;
const RIGHT: f32 = PAGE_WIDTH - LEFT;
/// The text width.
const WIDTH: f32 = RIGHT - LEFT;
/// Where text starts on a page: below the running head.
const TOP: f32 = PAGE_HEIGHT - 66.0;
/// Where text ends on a page: above the page number.
const BOTTOM: f32 = 60.0;

/// Body text size.
const BODY: f32 = 9.5;
/// Monospace text size: a `sha256:` digest (71 characters) fits the value column of a list
/// of fields at this size.
const MONO: f32 = 8.0;
/// The height of a line of body text or of a table cell.
const LEADING: f32 = 12.5;
/// From the top of a line to its baseline.
const ASCENT: f32 = 9.5;
/// Padding inside a table cell.
const PAD_X: f32 = 4.0;
const PAD_Y: f32 = 3.0;
/// Space after a paragraph, a list or a table.
const GAP: f32 = 7.0;
/// The indent of a bulleted item.
const INDENT: f32 = 14.0;
/// Section headings.
const HEADING: f32 = 15.0;
/// Headings within a section.
const SUBHEADING: f32 = 11.5;
/// The running head and the page number.
const SMALL: f32 = 8.0;
/// The subject on the title page, and its leading.
const COVER_SUBJECT: f32 = 16.0;
const COVER_LEADING: f32 = 20.0;
const BLACK: f32 = 0.0;
const GREY: f32 = 0.35;
const RULE: f32 = 0.7;
const HEADER_FILL: f32 = 0.9;

/// One thing drawn on a page.
#[derive(Debug, Clone)]
pub(crate) enum Op {
    /// A run of text, its baseline starting at (`x`, `y`).
    Text { style: Style, size: f32, x: f32, y: f32, gray: f32, text: String },
    /// A filled rectangle, its lower left corner at (`x`, `y`).
    Fill { x: f32, y: f32, width: f32, height: f32, gray: f32 },
    /// A horizontal rule from (`x1`, `y`) to (`x2`, `y`).
    Rule { x1: f32, x2: f32, y: f32, gray: f32 },
}

/// What one page shows.
#[derive(Debug, Clone, Default)]
pub(crate) struct Page {
    pub(crate) ops: Vec<Op>,
}

/// The size text of `style` is set at.
fn size_of(style: Style) -> f32 {
    match style {
        Style::Mono => MONO,
        Style::Regular | Style::Bold => BODY,
    }
}

/// Lays `doc` out: the title page, the contents, then the sections.
pub(crate) fn lay_out(doc: &Document, fonts: &Fonts) -> Vec<Page> {
    let mut layout = Layout { fonts, pages: Vec::new(), y: TOP, fresh: true };
    layout.cover(doc);
    layout.new_page();
    let contents = layout.pages.len() - 1;
    layout.new_page();
    let mut starts = Vec::with_capacity(doc.sections.len());
    for (number, section) in (1..).zip(&doc.sections) {
        starts.push(layout.heading(&format!("{number} {}", section.title)));
        for block in &section.blocks {
            layout.block(block);
        }
    }
    layout.contents(contents, doc, &starts);
    layout.decorate(doc);
    layout.pages
}

struct Layout<'f> {
    fonts: &'f Fonts,
    pages: Vec<Page>,
    /// The top of the next line on the last page.
    y: f32,
    /// Whether nothing was drawn on the last page yet.
    fresh: bool,
}

impl Layout<'_> {
    fn new_page(&mut self) {
        self.pages.push(Page::default());
        self.y = TOP;
        self.fresh = true;
    }

    fn draw(&mut self, op: Op) {
        self.fresh = false;
        self.pages.last_mut().expect("a page is started first").ops.push(op);
    }

    fn text(&mut self, style: Style, size: f32, x: f32, baseline: f32, text: String) {
        self.draw(Op::Text { style, size, x, y: baseline, gray: BLACK, text });
    }

    /// Starts a new page unless `height` fits on this one (or this one is empty).
    fn ensure(&mut self, height: f32) {
        if !self.fresh && self.y - height < BOTTOM {
            self.new_page();
        }
    }

    fn width(&self, style: Style, size: f32, text: &str) -> f32 {
        self.fonts.get(style).width(text, size)
    }

    fn wrap(&self, style: Style, size: f32, text: &str, width: f32) -> Vec<String> {
        wrap(|line| self.width(style, size, line), text, width)
    }

    fn cover(&mut self, doc: &Document) {
        self.new_page();
        self.y = TOP - 90.0;
        self.text(Style::Bold, 24.0, LEFT, self.y, doc.title.to_owned());
        // The subject's first baseline 34 pt below the title's; a long name wraps, and stays
        // on the page.
        self.y -= 34.0 - COVER_SUBJECT;
        self.lines(Style::Regular, COVER_SUBJECT, COVER_LEADING, &doc.subject, 0.0);
        // The fields 40 pt below its last baseline.
        self.y -= 40.0 - (COVER_LEADING - COVER_SUBJECT);
        self.table(&doc.cover);
        self.paragraph(doc.cover_note);
    }

    /// A section heading, kept with the three lines that follow it; returns its page.
    fn heading(&mut self, text: &str) -> usize {
        self.ensure(2.0 * HEADING + 3.0 * LEADING);
        if !self.fresh {
            self.y -= 10.0;
        }
        self.text(Style::Bold, HEADING, LEFT, self.y - HEADING, text.to_owned());
        self.y -= 2.0 * HEADING;
        self.pages.len() - 1
    }

    fn subheading(&mut self, text: &str) {
        self.ensure(2.0 * SUBHEADING + 3.0 * LEADING);
        if !self.fresh {
            self.y -= 4.0;
        }
        self.text(Style::Bold, SUBHEADING, LEFT, self.y - SUBHEADING, text.to_owned());
        self.y -= 2.0 * SUBHEADING;
    }

    fn block(&mut self, block: &Block) {
        match block {
            Block::Paragraph(text) => self.paragraph(text),
            Block::Label(text) => {
                self.ensure(3.0 * LEADING);
                self.lines(Style::Bold, BODY, LEADING, text, 0.0);
            }
            Block::Subheading(text) => self.subheading(text),
            Block::Bullets(items) => {
                for item in items {
                    self.ensure(LEADING);
                    self.text(Style::Regular, BODY, LEFT + 4.0, self.y - ASCENT, "•".to_owned());
                    self.lines(Style::Regular, BODY, LEADING, item, INDENT);
                    self.y -= 2.0;
                }
                self.y -= GAP;
            }
            Block::Table(table) => self.table(table),
        }
    }

    fn paragraph(&mut self, text: &str) {
        self.lines(Style::Regular, BODY, LEADING, text, 0.0);
        self.y -= GAP;
    }

    /// `text` at `size` wrapped to the text width less `indent`, a line every `leading`,
    /// across pages; each line's top at the current line, its baseline `size` below.
    fn lines(&mut self, style: Style, size: f32, leading: f32, text: &str, indent: f32) {
        for line in self.wrap(style, size, text, WIDTH - indent) {
            self.ensure(leading);
            self.text(style, size, LEFT + indent, self.y - size, line);
            self.y -= leading;
        }
    }

    /// The lines of each cell of `cells` in the columns of `table`.
    fn cell_lines<'c>(
        &self,
        table: &Table,
        cells: impl Iterator<Item = (&'c str, Style)>,
    ) -> Vec<(Style, Vec<String>)> {
        table
            .widths
            .iter()
            .zip(cells)
            .map(|(share, (text, style))| (style, self.wrap(style, size_of(style), text, share * WIDTH - 2.0 * PAD_X)))
            .collect()
    }

    /// Lines `from..to` of `cells`, as a row whose top is at the current line; the header's
    /// is shaded.
    fn row(&mut self, table: &Table, cells: &[(Style, Vec<String>)], from: usize, to: usize, header: bool) {
        let height = (to - from) as f32 * LEADING + 2.0 * PAD_Y;
        if header {
            self.draw(Op::Fill { x: LEFT, y: self.y - height, width: WIDTH, height, gray: HEADER_FILL });
        }
        let mut x = LEFT;
        for (share, (style, lines)) in table.widths.iter().zip(cells) {
            for (i, line) in lines.iter().enumerate().take(to).skip(from) {
                let baseline = self.y - PAD_Y - (i - from) as f32 * LEADING - ASCENT;
                self.text(*style, size_of(*style), x + PAD_X, baseline, line.clone());
            }
            x += share * WIDTH;
        }
        self.y -= height;
        self.draw(Op::Rule { x1: LEFT, x2: RIGHT, y: self.y, gray: RULE });
    }

    /// A table: rows move whole to the next page when they fit there, and the header row
    /// starts the table on every page it spans.
    fn table(&mut self, table: &Table) {
        let header = table.header.map(|titles| self.cell_lines(table, titles.iter().map(|t| (*t, Style::Bold))));
        let header_lines = header.as_ref().map_or(0, |h| h.iter().map(|(_, l)| l.len()).max().unwrap_or(1));
        let header_height = header.as_ref().map_or(0.0, |_| header_lines as f32 * LEADING + 2.0 * PAD_Y);
        let lines_fitting = |room: f32| ((room - 2.0 * PAD_Y) / LEADING).floor().max(0.0) as usize;
        // How many lines of a row a page holds below the header.
        let page_lines = lines_fitting(TOP - BOTTOM - header_height);
        let mut header_due = true;
        for row in &table.rows {
            let cells = self.cell_lines(table, row.iter().map(|c| (c.text.as_str(), c.style)));
            let total = cells.iter().map(|(_, l)| l.len()).max().unwrap_or(1).max(1);
            let mut from = 0;
            while from < total {
                let above = if header_due { header_height } else { 0.0 };
                let room = lines_fitting(self.y - BOTTOM - above);
                let left = total - from;
                // Another page when nothing fits here, or when the rest of the row would fit
                // whole on a page of its own.
                if !self.fresh && (room == 0 || (room < left && left <= page_lines)) {
                    self.new_page();
                    header_due = true;
                    continue;
                }
                if header_due {
                    self.draw(Op::Rule { x1: LEFT, x2: RIGHT, y: self.y, gray: RULE });
                    if let Some(header) = &header {
                        self.row(table, header, 0, header_lines, true);
                    }
                    header_due = false;
                }
                let to = from + left.min(room.max(1));
                self.row(table, &cells, from, to, false);
                from = to;
                if from < total {
                    self.new_page();
                    header_due = true;
                }
            }
        }
        self.y -= GAP;
    }

    /// The contents page, `page`: each section with the page it starts on.
    fn contents(&mut self, page: usize, doc: &Document, starts: &[usize]) {
        let mut ops = vec![Op::Text {
            style: Style::Bold,
            size: HEADING,
            x: LEFT,
            y: TOP - HEADING,
            gray: BLACK,
            text: "Contents".to_owned(),
        }];
        let mut y = TOP - 2.0 * HEADING - LEADING;
        for ((number, section), start) in (1..).zip(&doc.sections).zip(starts) {
            let number_text = (start + 1).to_string();
            let x = RIGHT - self.width(Style::Regular, BODY, &number_text);
            ops.push(Op::Text {
                style: Style::Regular,
                size: BODY,
                x: LEFT,
                y,
                gray: BLACK,
                text: format!("{number} {}", section.title),
            });
            ops.push(Op::Text { style: Style::Regular, size: BODY, x, y, gray: BLACK, text: number_text });
            y -= LEADING + 4.0;
        }
        self.pages[page].ops.extend(ops);
    }

    /// Every page's number, "page N of M", and from the second page on a running head naming
    /// the release, on one line: a subject too long for it is cut, with an ellipsis.
    fn decorate(&mut self, doc: &Document) {
        let count = self.pages.len();
        let font = self.fonts.get(Style::Regular);
        let measure = |text: &str| font.width(text, SMALL);
        let title = format!(" · {}", doc.title);
        let head = truncate(measure, &doc.subject, WIDTH - measure(&title)) + &title;
        for (index, page) in self.pages.iter_mut().enumerate() {
            let number = format!("page {} of {count}", index + 1);
            let x = (PAGE_WIDTH - measure(&number)) / 2.0;
            page.ops.push(Op::Text { style: Style::Regular, size: SMALL, x, y: 36.0, gray: GREY, text: number });
            if index > 0 {
                let y = PAGE_HEIGHT - 40.0;
                page.ops.push(Op::Text {
                    style: Style::Regular,
                    size: SMALL,
                    x: LEFT,
                    y,
                    gray: GREY,
                    text: head.clone(),
                });
                page.ops.push(Op::Rule { x1: LEFT, x2: RIGHT, y: y - 6.0, gray: RULE });
            }
        }
    }
}

/// `text` broken into lines no wider than `width` as `measure` measures them: at spaces, and
/// inside a word only where the word alone is wider than a line. Always at least one line.
/// Widths add up (no kerning), so each word is measured once, and a word broken inside each
/// character once, against a running width: the work grows with the text, not with its
/// square, even for a long run of zero-width marks.
fn wrap(measure: impl Fn(&str) -> f32, text: &str, width: f32) -> Vec<String> {
    let space = measure(" ");
    let mut lines = Vec::new();
    let mut line = String::new();
    let mut line_width = 0.0;
    for word in text.split_whitespace() {
        let word_width = measure(word);
        let joined = if line.is_empty() { word_width } else { line_width + space + word_width };
        if joined <= width {
            if !line.is_empty() {
                line.push(' ');
            }
            line.push_str(word);
            line_width = joined;
            continue;
        }
        if !line.is_empty() {
            lines.push(std::mem::take(&mut line));
        }
        if word_width <= width {
            line.push_str(word);
            line_width = word_width;
            continue;
        }
        line_width = 0.0;
        let mut utf8 = [0; 4];
        for c in word.chars() {
            let advance = measure(c.encode_utf8(&mut utf8));
            if !line.is_empty() && line_width + advance > width {
                lines.push(std::mem::take(&mut line));
                line_width = 0.0;
            }
            line.push(c);
            line_width += advance;
        }
    }
    if !line.is_empty() || lines.is_empty() {
        lines.push(line);
    }
    lines
}

/// `text` cut to fit `width` as `measure` measures it, its end an ellipsis when it was cut;
/// each character measured once.
fn truncate(measure: impl Fn(&str) -> f32, text: &str, width: f32) -> String {
    if measure(text) <= width {
        return text.to_owned();
    }
    let room = width - measure("…");
    let mut kept = String::new();
    let mut kept_width = 0.0;
    let mut utf8 = [0; 4];
    for c in text.chars() {
        kept_width += measure(c.encode_utf8(&mut utf8));
        if kept_width > room {
            break;
        }
        kept.push(c);
    }
    kept.push('…');
    kept
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::document::{Cell, Section};

    /// Every character one unit wide.
    fn count(s: &str) -> f32 {
        s.chars().count() as f32
    }

    #[test]
    fn text_breaks_at_spaces_and_a_word_wider_than_a_line_breaks_inside() {
        assert_eq!(wrap(count, "the quick brown fox", 10.0), ["the quick", "brown fox"]);
        assert_eq!(wrap(count, "sha256:0123456789abcdef", 10.0), ["sha256:012", "3456789abc", "def"]);
        assert_eq!(wrap(count, "a sha256:0123456789 b", 10.0), ["a", "sha256:012", "3456789 b"]);
        assert_eq!(wrap(count, "", 10.0), [""]);
        // Nothing is lost, even where not one character fits.
        assert_eq!(wrap(count, "ab", 0.5), ["a", "b"]);
    }

    #[test]
    fn a_word_wider_than_its_line_is_measured_once_per_character_even_where_its_marks_have_no_width() {
        let measured = std::cell::Cell::new(0);
        // `W` one unit wide, a combining mark none: the word breaks inside, then its marks pile
        // up on its last line, which must not be measured again for each.
        let measure = |s: &str| {
            measured.set(measured.get() + s.chars().count());
            s.chars().filter(|c| *c == 'W').count() as f32
        };
        let marks = "\u{301}".repeat(20_000);
        let word = format!("{}{marks}", "W".repeat(20));
        assert_eq!(wrap(measure, &word, 10.0), ["W".repeat(10), format!("{}{marks}", "W".repeat(10))]);
        let chars = word.chars().count();
        assert!(measured.get() <= 2 * chars + 1, "{} characters measured to wrap {chars}", measured.get());
    }

    #[test]
    fn a_text_too_wide_is_cut_with_an_ellipsis_and_one_that_fits_is_kept() {
        assert_eq!(truncate(count, "release 1.0", 20.0), "release 1.0");
        assert_eq!(truncate(count, "0123456789abcdef", 10.0), "012345678…");
        assert_eq!(truncate(count, "abc", 0.5), "…");
    }

    #[test]
    fn no_text_runs_off_the_page_however_long_a_word_of_the_bundle_is() {
        let fonts = Fonts::load().unwrap();
        let long = "W".repeat(10_000);
        let cell = |text: &str, style| Cell { text: text.to_owned(), style };
        let doc = Document {
            title: crate::document::TITLE,
            subject: format!("{long} 1.0"),
            created: "2025-01-01T00:00:00Z".to_owned(),
            archive_sha256: "0".repeat(64),
            cover: Table {
                widths: &[0.25, 0.75],
                header: None,
                rows: vec![vec![cell("Bundle", Style::Bold), cell(&long, Style::Regular)]],
            },
            cover_note: "A note.",
            sections: vec![Section {
                title: "Release",
                blocks: vec![
                    Block::Paragraph(format!("The software of {long} is here.")),
                    Block::Bullets(vec![long.clone()]),
                    Block::Table(Table {
                        widths: &[0.4, 0.6],
                        header: Some(&["Reference", "Digest"]),
                        rows: vec![vec![cell(&long, Style::Regular), cell(&long, Style::Mono)]],
                    }),
                ],
            }],
        };
        let pages = lay_out(&doc, &fonts);
        assert!(pages.len() > 3, "the long texts wrap onto pages of their own");
        for (number, page) in (1..).zip(&pages) {
            for op in &page.ops {
                if let Op::Text { style, size, x, y, text, .. } = op {
                    let right = x + fonts.get(*style).width(text, *size);
                    assert!(*x >= LEFT - 0.01 && right <= RIGHT + 0.01, "page {number}: {x}..{right} wide: {text:.40}");
                    assert!(*y > 0.0 && *y < PAGE_HEIGHT, "page {number}: at height {y}: {text:.40}");
                }
            }
        }
        let head = pages[1].ops.iter().find_map(|op| match op {
            Op::Text { y, text, .. } if *y > TOP => Some(text.as_str()),
            _ => None,
        });
        assert!(head.is_some_and(|h| h.ends_with("… · Release evidence report")), "{head:?}");
    }
}
