//! The HTML renderer: the same document as the PDF, as one page with its style inline and no
//! external asset (no font, script or image is fetched), so it opens the same offline. It
//! prints on A4, table headers repeated on every printed page.

use crate::document::{Block, Cell, Document, Style, Table};

const STYLE: &str = "<style>
@page { size: A4; margin: 18mm; }
body { font-family: 'DejaVu Sans', 'Helvetica Neue', Arial, sans-serif; font-size: 10pt; line-height: 1.35;
  color: #111; max-width: 190mm; margin: 2em auto; padding: 0 1em; }
h1 { font-size: 22pt; margin-bottom: 0.2em; }
.subject { font-size: 15pt; margin-top: 0; }
h2 { font-size: 14pt; margin-top: 1.6em; border-bottom: 1px solid #999; }
h3 { font-size: 11.5pt; margin-bottom: 0.3em; }
table { border-collapse: collapse; width: 100%; margin: 0.4em 0 0.8em; }
thead { display: table-header-group; }
th, td { text-align: left; vertical-align: top; padding: 3pt 4pt; border-top: 1px solid #bbb;
  border-bottom: 1px solid #bbb; }
thead th { background: #e6e6e6; }
tr { break-inside: avoid; }
code { font-family: 'DejaVu Sans Mono', Menlo, Consolas, monospace; font-size: 8.5pt; word-break: break-all; }
.label { font-weight: bold; margin-bottom: 0.2em; }
.note { margin-top: 1em; }
nav ol { padding-left: 1.4em; }
</style>
";

/// The HTML page of `doc`.
pub(crate) fn render(doc: &Document) -> String {
    let mut out = String::with_capacity(32 << 10);
    out.push_str("<!DOCTYPE html>\n<html lang=\"en\">\n<head>\n<meta charset=\"utf-8\">\n");
    out.push_str(&format!("<title>{}: {}</title>\n", escape(doc.title), escape(&doc.subject)));
    out.push_str(STYLE);
    out.push_str("</head>\n<body>\n<header>\n");
    out.push_str(&format!("<h1>{}</h1>\n<p class=\"subject\">{}</p>\n", escape(doc.title), escape(&doc.subject)));
    table(&mut out, &doc.cover);
    out.push_str(&format!("<p class=\"note\">{}</p>\n</header>\n", escape(doc.cover_note)));
    out.push_str("<nav>\n<h2>Contents</h2>\n<ol>\n");
    for (number, section) in (1..).zip(&doc.sections) {
        out.push_str(&format!("<li><a href=\"#section-{number}\">{}</a></li>\n", escape(section.title)));
    }
    out.push_str("</ol>\n</nav>\n");
    for (number, section) in (1..).zip(&doc.sections) {
        out.push_str(&format!("<section id=\"section-{number}\">\n<h2>{number} {}</h2>\n", escape(section.title)));
        for block in &section.blocks {
            match block {
                Block::Paragraph(text) => out.push_str(&format!("<p>{}</p>\n", escape(text))),
                Block::Label(text) => out.push_str(&format!("<p class=\"label\">{}</p>\n", escape(text))),
                Block::Subheading(text) => out.push_str(&format!("<h3>{}</h3>\n", escape(text))),
                Block::Bullets(items) => {
                    out.push_str("<ul>\n");
                    for item in items {
                        out.push_str(&format!("<li>{}</li>\n", escape(item)));
                    }
                    out.push_str("</ul>\n");
                }
                Block::Table(t) => table(&mut out, t),
            }
        }
        out.push_str("</section>\n");
    }
    out.push_str("</body>\n</html>\n");
    out
}

fn table(out: &mut String, table: &Table) {
    out.push_str("<table>\n<colgroup>");
    for share in table.widths {
        out.push_str(&format!("<col style=\"width: {:.0}%\">", share * 100.0));
    }
    out.push_str("</colgroup>\n");
    if let Some(header) = table.header {
        out.push_str("<thead><tr>");
        for title in header {
            out.push_str(&format!("<th>{}</th>", escape(title)));
        }
        out.push_str("</tr></thead>\n");
    }
    out.push_str("<tbody>\n");
    for row in &table.rows {
        out.push_str("<tr>");
        for cell in row {
            out.push_str(&self::cell(cell));
        }
        out.push_str("</tr>\n");
    }
    out.push_str("</tbody>\n</table>\n");
}

fn cell(cell: &Cell) -> String {
    match cell.style {
        Style::Regular => format!("<td>{}</td>", escape(&cell.text)),
        Style::Bold => format!("<th scope=\"row\">{}</th>", escape(&cell.text)),
        Style::Mono => format!("<td><code>{}</code></td>", escape(&cell.text)),
    }
}

/// `text` safe in HTML text and attribute values.
fn escape(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for c in text.chars() {
        match c {
            '&' => out.push_str("&amp;"),
            '<' => out.push_str("&lt;"),
            '>' => out.push_str("&gt;"),
            '"' => out.push_str("&quot;"),
            '\'' => out.push_str("&#39;"),
            c => out.push(c),
        }
    }
    out
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn text_from_the_bundle_cannot_open_markup() {
        assert_eq!(
            escape("<script>alert('x') & \"y\"</script>"),
            "&lt;script&gt;alert(&#39;x&#39;) &amp; &quot;y&quot;&lt;/script&gt;"
        );
    }
}
