//! The fonts a PDF report embeds, taken from the `dejavu` crate: DejaVu Sans, its bold, and
//! DejaVu Sans Mono for digests. No font is read from the system, and none is assumed of the
//! reader (reports are opened on air-gapped machines). Text is measured with each font's
//! advance widths; each font is embedded as the subset of glyphs the report uses, a CID-keyed
//! TrueType font shown through `Identity-H`, with a ToUnicode map so that the text can be
//! searched and copied.

use std::collections::BTreeMap;

use pdf_writer::types::{CidFontType, FontFlags, SystemInfo, UnicodeCmap};
use pdf_writer::writers::WMode;
use pdf_writer::{Filter, Finish as _, Name, Pdf, Rect, Ref, Str};
use subsetter::GlyphRemapper;
use ttf_parser::{Face, GlyphId};

use crate::ReportError;
use crate::document::Style;

/// One embedded font.
pub(crate) struct Font {
    /// Its PostScript name.
    name: &'static str,
    data: &'static [u8],
    face: Face<'static>,
    /// Font units per em, to scale advances to points.
    units: f32,
    /// The dominant vertical stem width, for the font descriptor.
    stem: f32,
    mono: bool,
    /// The glyphs shown so far, numbered in the subset in the order first shown; a glyph's
    /// number is also its code in the content stream (CID = new glyph id).
    glyphs: GlyphRemapper,
    /// The character each glyph of the subset was first shown for, by its number there.
    chars: BTreeMap<u16, char>,
}

impl Font {
    fn load(name: &'static str, data: &'static [u8], stem: f32, mono: bool) -> Result<Font, ReportError> {
        let face = Face::parse(data, 0).map_err(|e| ReportError::Font { font: name, reason: e.to_string() })?;
        let units = f32::from(face.units_per_em());
        Ok(Font { name, data, face, units, stem, mono, glyphs: GlyphRemapper::new(), chars: BTreeMap::new() })
    }

    /// The glyph shown for `c`: its own, or `?`'s when the font has none, so that nothing is
    /// silently dropped.
    fn glyph(&self, c: char) -> (GlyphId, char) {
        match self.face.glyph_index(c) {
            Some(glyph) => (glyph, c),
            None => (self.face.glyph_index('?').unwrap_or(GlyphId(0)), '?'),
        }
    }

    fn advance(&self, glyph: GlyphId) -> f32 {
        f32::from(self.face.glyph_hor_advance(glyph).unwrap_or(0))
    }

    /// A length in font units in the PDF's glyph space (1000 units per em).
    fn scaled(&self, units: f32) -> f32 {
        units * 1000.0 / self.units
    }

    /// The width of `text` at `size` points, as shown (no kerning).
    pub(crate) fn width(&self, text: &str, size: f32) -> f32 {
        let units: f32 = text.chars().map(|c| self.advance(self.glyph(c).0)).sum();
        units * size / self.units
    }

    /// `text` as the content stream shows it: each glyph's two-byte number in the subset,
    /// which this records for the subset and the ToUnicode map.
    pub(crate) fn encode(&mut self, text: &str) -> Vec<u8> {
        let mut codes = Vec::with_capacity(text.len() * 2);
        for c in text.chars() {
            let (glyph, shown) = self.glyph(c);
            let cid = self.glyphs.remap(glyph.0);
            self.chars.entry(cid).or_insert(shown);
            codes.extend_from_slice(&cid.to_be_bytes());
        }
        codes
    }

    /// The subset's tag (`ABCDEF+` before its name, as PDF names subsets): derived from the
    /// glyphs it holds, FNV-1a, so the same glyphs give the same tag and no randomness enters.
    fn tag(&self) -> String {
        let mut hash: u64 = 0xcbf2_9ce4_8422_2325;
        for glyph in self.glyphs.remapped_gids() {
            for byte in glyph.to_be_bytes() {
                hash = (hash ^ u64::from(byte)).wrapping_mul(0x0100_0000_01b3);
            }
        }
        (0..6u32).map(|i| char::from(b'A' + ((hash >> (i * 8)) % 26) as u8)).collect()
    }

    /// Writes this font at `refs`: the composite font, its CID font with the glyph widths,
    /// its descriptor, the subset of the glyphs shown (compressed), and the ToUnicode map.
    fn write(&self, pdf: &mut Pdf, refs: &FontRefs) -> Result<(), ReportError> {
        let subset = subsetter::subset(self.data, 0, &self.glyphs)
            .map_err(|e| ReportError::Font { font: self.name, reason: format!("subsetting: {e}") })?;
        let base_font = format!("{}+{}", self.tag(), self.name);
        let base_font = Name(base_font.as_bytes());
        let system_info = SystemInfo { registry: Str(b"Adobe"), ordering: Str(b"Identity"), supplement: 0 };

        pdf.type0_font(refs.font)
            .base_font(base_font)
            .encoding_predefined(Name(b"Identity-H"))
            .descendant_font(refs.cid_font)
            .to_unicode(refs.to_unicode);

        let widths: Vec<f32> =
            self.glyphs.remapped_gids().map(|glyph| self.scaled(self.advance(GlyphId(glyph)))).collect();
        let mut cid_font = pdf.cid_font(refs.cid_font);
        cid_font
            .subtype(CidFontType::Type2)
            .base_font(base_font)
            .system_info(system_info)
            .font_descriptor(refs.descriptor)
            .cid_to_gid_map_predefined(Name(b"Identity"));
        cid_font.widths().consecutive(0, widths);
        cid_font.finish();

        let bbox = self.face.global_bounding_box();
        let flags = if self.mono { FontFlags::SYMBOLIC | FontFlags::FIXED_PITCH } else { FontFlags::SYMBOLIC };
        let ascender = self.face.ascender();
        pdf.font_descriptor(refs.descriptor)
            .name(base_font)
            .flags(flags)
            .bbox(Rect::new(
                self.scaled(f32::from(bbox.x_min)),
                self.scaled(f32::from(bbox.y_min)),
                self.scaled(f32::from(bbox.x_max)),
                self.scaled(f32::from(bbox.y_max)),
            ))
            .italic_angle(self.face.italic_angle())
            .ascent(self.scaled(f32::from(ascender)))
            .descent(self.scaled(f32::from(self.face.descender())))
            .cap_height(self.scaled(f32::from(self.face.capital_height().unwrap_or(ascender))))
            .stem_v(self.stem)
            .font_file2(refs.file);

        let mut to_unicode = UnicodeCmap::<u16>::new(Name(b"Custom"), system_info);
        for (&cid, &c) in &self.chars {
            to_unicode.pair(cid, c);
        }
        let to_unicode = super::deflate(to_unicode.finish().as_slice());
        pdf.cmap(refs.to_unicode, &to_unicode).writing_mode(WMode::Horizontal).filter(Filter::FlateDecode);

        let packed = super::deflate(&subset);
        let length = i32::try_from(subset.len())
            .map_err(|_| ReportError::Font { font: self.name, reason: "subset larger than 2 GiB".into() })?;
        pdf.stream(refs.file, &packed).filter(Filter::FlateDecode).pair(Name(b"Length1"), length);
        Ok(())
    }
}

/// The objects of one embedded font.
struct FontRefs {
    font: Ref,
    cid_font: Ref,
    descriptor: Ref,
    to_unicode: Ref,
    file: Ref,
}

impl FontRefs {
    /// The objects of the font at `font`, the others allocated from `next`.
    fn new(font: Ref, next: &mut Ref) -> FontRefs {
        FontRefs { font, cid_font: next.bump(), descriptor: next.bump(), to_unicode: next.bump(), file: next.bump() }
    }
}

/// The three fonts of a report, one per [`Style`].
pub(crate) struct Fonts {
    regular: Font,
    bold: Font,
    mono: Font,
}

/// Every style, in the order of their resource names.
const STYLES: [Style; 3] = [Style::Regular, Style::Bold, Style::Mono];

impl Fonts {
    /// Parses the three fonts.
    pub(crate) fn load() -> Result<Fonts, ReportError> {
        Ok(Fonts {
            regular: Font::load("DejaVuSans", dejavu::sans::regular(), 80.0, false)?,
            bold: Font::load("DejaVuSans-Bold", dejavu::sans::bold(), 140.0, false)?,
            mono: Font::load("DejaVuSansMono", dejavu::sans_mono::regular(), 80.0, true)?,
        })
    }

    /// The font of `style`.
    pub(crate) fn get(&self, style: Style) -> &Font {
        match style {
            Style::Regular => &self.regular,
            Style::Bold => &self.bold,
            Style::Mono => &self.mono,
        }
    }

    /// The font of `style`, to encode text with.
    pub(crate) fn get_mut(&mut self, style: Style) -> &mut Font {
        match style {
            Style::Regular => &mut self.regular,
            Style::Bold => &mut self.bold,
            Style::Mono => &mut self.mono,
        }
    }

    /// Allocates the objects of the three fonts from `next`, for [`Fonts::write`] and the
    /// pages' resources.
    pub(crate) fn allocate(next: &mut Ref) -> [Ref; 3] {
        [next.bump(), next.bump(), next.bump()]
    }

    /// Writes the three fonts, each at the reference [`Fonts::allocate`] gave it, their other
    /// objects from `next`. Call it once every page is drawn: only the glyphs shown are kept.
    pub(crate) fn write(&self, pdf: &mut Pdf, fonts: [Ref; 3], next: &mut Ref) -> Result<(), ReportError> {
        for (style, font) in STYLES.into_iter().zip(fonts) {
            self.get(style).write(pdf, &FontRefs::new(font, next))?;
        }
        Ok(())
    }
}

/// The name of the font of `style` in every page's resources.
pub(crate) fn resource(style: Style) -> Name<'static> {
    match style {
        Style::Regular => Name(b"F0"),
        Style::Bold => Name(b"F1"),
        Style::Mono => Name(b"F2"),
    }
}

/// The three fonts in every page's resources: their names and references.
pub(crate) fn resources(fonts: [Ref; 3]) -> impl Iterator<Item = (Name<'static>, Ref)> {
    STYLES.into_iter().zip(fonts).map(|(style, font)| (resource(style), font))
}
