"""What every document of letters is built with: the fonts and styles, user text made safe for ReportLab's
paragraph markup, the kop surat, the field tables, the signature block, QR codes, and the pages (frames, running
header, page numbers, draft watermark) of an A4 sheet, upright or landscape.

Pure: no clock, no network, no files written. The only reads are the bundled fonts in
``services/letters/templates/fonts`` (Liberation Sans, metric-compatible with Arial, SIL OFL 1.1). The same input
gives the same bytes (ReportLab's ``invariant`` mode: fixed creation date and document id).

Every text that comes from a person (body, names, addresses, perihal...) goes through ``inline`` or ``block``
before it reaches the paragraph mini-markup: ``<script>`` or ``{{7*7}}`` print literally, nothing is interpreted.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

import segno
from PIL import Image as PILImage
from reportlab import rl_config
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4, landscape
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.lib.utils import ImageReader
from reportlab.pdfbase import pdfmetrics
from reportlab.pdfbase.ttfonts import TTFont
from reportlab.pdfgen.canvas import Canvas
from reportlab.platypus import (
    BaseDocTemplate,
    Flowable,
    Frame,
    Image,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from services.letters.domain.letter import WIB, Letterhead, SignatureBox, Signer

# Streams compressed (Flate) but not also ASCII85-encoded: ReportLab's ASCII85 encoder is pure Python without its
# optional C accelerator (not installed), about a tenth of a letter's rendering time (bench walk, issue #20), and
# it makes every stream a quarter larger. Binary streams are what PDF readers and pyHanko expect anyway.
rl_config.useA85 = 0

FONT_DIR = Path(__file__).resolve().parent.parent.parent / "templates" / "fonts"
FONT = "LiberationSans"
FONT_BOLD = "LiberationSans-Bold"

GREY = colors.Color(0.35, 0.35, 0.35)
DRAFT_LABEL = "DRAF"


@dataclass(frozen=True)
class Geometry:
    """An A4 sheet and its margins (points); ``top_later``: the top margin of the pages after the first, with
    room for the running header."""

    size: tuple[float, float]
    left: float
    right: float
    top: float
    top_later: float
    bottom: float

    @property
    def width(self) -> float:
        return self.size[0]

    @property
    def height(self) -> float:
        return self.size[1]

    @property
    def text_width(self) -> float:
        return self.width - self.left - self.right


# letters and forms: the tata naskah dinas's margins
PORTRAIT = Geometry(A4, left=2.5 * cm, right=2.0 * cm, top=1.5 * cm, top_later=2.5 * cm, bottom=2.0 * cm)
# wide tables (the Kartu Kendali)
LANDSCAPE = Geometry(landscape(A4), left=1.5 * cm, right=1.5 * cm, top=1.2 * cm, top_later=2.0 * cm, bottom=1.5 * cm)

PAGE_W, PAGE_H = A4
TEXT_W = PORTRAIT.text_width


# ---------------------------------------------------------------------------------------------------
# Text: user text in, safe paragraph markup out

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def clean(text: str) -> str:
    """Normalise newlines, tabs to spaces, drop control characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return _CONTROL.sub("", text)


def plain(text: str) -> str:
    """One line of user text for the canvas or the document info (no markup there): whitespace folded."""
    return " ".join(clean(text).split())


def inline(text: str) -> str:
    """One line of user text as paragraph markup: escaped, newlines become spaces."""
    return escape(plain(text))


def block(text: str) -> str:
    """A paragraph of user text: escaped, single newlines kept as line breaks."""
    lines = [" ".join(line.split()) for line in clean(text).split("\n")]
    return "<br/>".join(escape(line) for line in lines if line)


def truncate(text: str, limit: int) -> str:
    text = plain(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n[ \t]*\n", clean(text)) if p.strip()]


# ---------------------------------------------------------------------------------------------------
# Fonts and styles


@lru_cache(maxsize=1)
def _register_fonts() -> None:
    from reportlab.lib.fonts import addMapping

    pdfmetrics.registerFont(TTFont(FONT, str(FONT_DIR / "LiberationSans-Regular.ttf")))
    pdfmetrics.registerFont(TTFont(FONT_BOLD, str(FONT_DIR / "LiberationSans-Bold.ttf")))
    # <b> in paragraphs picks the bold face; no italic is bundled, so italic maps to the upright faces.
    addMapping(FONT, 0, 0, FONT)
    addMapping(FONT, 1, 0, FONT_BOLD)
    addMapping(FONT, 0, 1, FONT)
    addMapping(FONT, 1, 1, FONT_BOLD)


@lru_cache(maxsize=1)
def styles() -> dict[str, ParagraphStyle]:
    _register_fonts()
    base = ParagraphStyle("base", fontName=FONT, fontSize=12, leading=16, textColor=colors.black)
    return {
        "base": base,
        "right": ParagraphStyle("right", base, alignment=TA_RIGHT),
        "center": ParagraphStyle("center", base, alignment=TA_CENTER),
        "body": ParagraphStyle(
            "body",
            base,
            alignment=TA_JUSTIFY,
            firstLineIndent=1.25 * cm,
            spaceAfter=8,
            allowWidows=0,
            allowOrphans=0,
        ),
        "body_left": ParagraphStyle("body_left", base, alignment=TA_LEFT),
        "title": ParagraphStyle("title", base, fontName=FONT_BOLD, fontSize=14, leading=18, alignment=TA_CENTER),
        "kop_pemerintah": ParagraphStyle(
            "kop_pemerintah", base, fontName=FONT_BOLD, fontSize=14, leading=17, alignment=TA_CENTER
        ),
        "kop_kecamatan": ParagraphStyle(
            "kop_kecamatan", base, fontName=FONT_BOLD, fontSize=17, leading=20, alignment=TA_CENTER
        ),
        "kop_address": ParagraphStyle("kop_address", base, fontSize=9.5, leading=11.5, alignment=TA_CENTER),
        "sig": ParagraphStyle("sig", base, alignment=TA_CENTER, leading=15),
        "caption": ParagraphStyle("caption", base, fontSize=7.5, leading=9, alignment=TA_CENTER, textColor=GREY),
        "caption_left": ParagraphStyle(
            "caption_left", base, fontSize=8.5, leading=10.5, alignment=TA_LEFT, textColor=GREY
        ),
    }


NO_PADDING = [
    ("FONT", (0, 0), (-1, -1), FONT),  # the cells' own font (Helvetica by default), even when empty
    ("LEFTPADDING", (0, 0), (-1, -1), 0),
    ("RIGHTPADDING", (0, 0), (-1, -1), 0),
    ("TOPPADDING", (0, 0), (-1, -1), 0),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
]


# ---------------------------------------------------------------------------------------------------
# Building blocks


class DoubleRule(Flowable):
    """The kop surat's closing rule: a thick line over a thin one."""

    def __init__(self, width: float) -> None:
        super().__init__()
        self.width = width
        self.height = 5.0

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        return self.width, self.height

    def draw(self) -> None:
        c = self.canv
        c.setStrokeColor(colors.black)
        c.setLineWidth(2.2)
        c.line(0, self.height - 1.1, self.width, self.height - 1.1)
        c.setLineWidth(0.7)
        c.line(0, 0.35, self.width, 0.35)


class SignatureSpace(Flowable):
    """Blank room for the signature appearance; records where it was drawn."""

    def __init__(self, width: float, height: float, holder: list[SignatureBox]) -> None:
        super().__init__()
        self.width = width
        self.height = height
        self._holder = holder

    def wrap(self, availWidth: float, availHeight: float) -> tuple[float, float]:
        self.width = min(self.width, availWidth)
        return self.width, self.height

    def draw(self) -> None:
        x1, y1 = self.canv.absolutePosition(0, 0)
        x2, y2 = self.canv.absolutePosition(self.width, self.height)
        self._holder.append(SignatureBox(self.canv.getPageNumber() - 1, x1, y1, x2, y2))


LAMBANG_BOX = (2.0 * cm, 2.2 * cm)  # the room for the kabupaten's lambang, left of the kop's text (width, height)


def kop(lh: Letterhead, st: dict[str, ParagraphStyle], width: float = TEXT_W) -> list[Flowable]:
    """The kop surat as Permendagri 1/2023 draws a regional office's: the kabupaten's lambang on the left, beside
    it and centred on the page the government ("PEMERINTAH KABUPATEN PAMEKASAN"), the office ("KECAMATAN
    PEGANTENAN"), its address, telephone and kode pos, its laman and pos-el; then the double rule. The text is
    centred in the room right of the lambang's column (a narrow gutter on the right), so that the address lines
    keep to one line each."""
    side, gutter = 2.4 * cm, 0.4 * cm
    lines: list[Flowable] = [
        Paragraph(inline(lh.pemerintah), st["kop_pemerintah"]),
        Paragraph(inline(lh.kecamatan), st["kop_kecamatan"]),
    ]
    lines.extend(Paragraph(inline(line), st["kop_address"]) for line in (lh.address_line(), lh.contact_line()) if line)
    logo: Flowable | str = ""
    if lh.logo_png:
        logo = png_image(lh.logo_png, max_w=LAMBANG_BOX[0], max_h=LAMBANG_BOX[1])
    t = Table([[logo, lines, ""]], colWidths=[side, width - side - gutter, gutter])
    t.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ALIGN", (0, 0), (0, 0), "LEFT"),
                *NO_PADDING,
            ]
        )
    )
    return [t, Spacer(1, 0.15 * cm), DoubleRule(width)]


def fields_table(
    rows: Iterable[tuple[str, str]],
    st: dict[str, ParagraphStyle],
    *,
    label_width: float,
    bold_first: bool = False,
    width: float = TEXT_W,
    style: str = "base",
) -> Table:
    """``label : value`` lines (values are user text)."""
    data = []
    for i, (label, value) in enumerate(rows):
        text = inline(value)
        if bold_first and i == 0:
            text = f"<b>{text}</b>"
        data.append([Paragraph(label, st[style]), Paragraph(":", st[style]), Paragraph(text, st[style])])
    t = Table(data, colWidths=[label_width, 0.45 * cm, width - label_width - 0.45 * cm])
    t.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                *NO_PADDING,
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ]
        )
    )
    return t


def signature_block(
    signer: Signer,
    st: dict[str, ParagraphStyle],
    *,
    width: float,
    holder: list[SignatureBox] | None = None,
    above: Iterable[str] = (),
) -> list[Flowable]:
    """The signature block, centred: ``above`` (e.g. the place and date), the jabatan ("CAMAT PEGANTENAN,", "Plh.
    CAMAT ...,", "a.n. CAMAT ..." with the signer's own office on the next line), its last line ending with a
    comma as tata naskah dinas writes it, room to sign (``holder``: the digital signature's place, recorded when
    drawn), the full name bold and underlined, pangkat (golongan), NIP."""
    flow: list[Flowable] = [Paragraph(inline(line), st["sig"]) for line in above]
    jabatan = [signer.title, signer.office] if signer.office else [signer.title]
    jabatan[-1] = jabatan[-1].rstrip(" ,") + ","
    flow.extend(Paragraph(inline(line), st["sig"]) for line in jabatan)
    if holder is not None:
        flow.append(SignatureSpace(width, 2.6 * cm, holder))
    else:
        flow.append(Spacer(1, 2.0 * cm))
    flow.append(Paragraph(f"<b><u>{inline(signer.name)}</u></b>", st["sig"]))
    if signer.rank:
        flow.append(Paragraph(inline(signer.rank), st["sig"]))
    if signer.nip:
        flow.append(Paragraph(f"NIP. {inline(signer.nip)}", st["sig"]))
    return flow


def boxed(inner: Flowable, width: float = TEXT_W) -> Table:
    t = Table([[inner]], colWidths=[width])
    t.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT),
                ("BOX", (0, 0), (-1, -1), 0.8, colors.black),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 7),
            ]
        )
    )
    return t


QR_SCALE = 8  # px per module, so that viewers that smooth images still show sharp modules
QR_BORDER = 4  # modules of quiet zone
QR_MASK = 2  # the data mask (0-7; qr_image says why one is fixed)


def qr_image(url: str, size: float) -> Image:
    """The QR code of ``url`` as a grey-scale image (what the page embeds: one byte per pixel, not the three of the
    RGB that a 1-bit PNG became). Drawn from segno's module grid by Pillow, not by segno's PNG writer, whose
    pixel-by-pixel Python cost about 3 ms a code. One fixed mask (``QR_MASK``): segno's choice of the best of the
    eight scores each in pure Python (about 4.6 of a code's 5.7 ms); any mask is valid and every reader undoes
    it, the scoring only lowers the odds of patterns that confuse a poor scanner, and a URL's modules are busy
    enough without it (tests/unit/test_letters_render.py reads the code back)."""
    qr = segno.make(url, error="m", micro=False, mask=QR_MASK)
    rows = [bytes(0 if dark else 255 for dark in row) for row in qr.matrix_iter(scale=1, border=QR_BORDER)]
    side = len(rows)
    grid = PILImage.frombytes("L", (side, side), b"".join(rows))
    buf = io.BytesIO()
    grid.resize((side * QR_SCALE, side * QR_SCALE), PILImage.Resampling.NEAREST).save(buf, format="PNG")
    buf.seek(0)
    return Image(buf, width=size, height=size)


def png_image(data: bytes, *, max_w: float, max_h: float) -> Image:
    if not data.startswith(b"\x89PNG\r\n\x1a\n"):
        raise ValueError("logo_png is not a PNG image")
    reader = ImageReader(io.BytesIO(data))
    w, h = reader.getSize()
    scale = min(max_w / w, max_h / h)
    return Image(io.BytesIO(data), width=w * scale, height=h * scale)


# ---------------------------------------------------------------------------------------------------
# Pages: frames, running header, page numbers, draft watermark


def _paged_canvas(draw_footer: Callable[[Canvas, int, int], None], pdf_date: str) -> type[Canvas]:
    """A canvas that holds its pages until the end, to print "Halaman n dari N", and that dates the
    document with ``pdf_date`` (the document's own date) instead of reading the clock."""

    class PagedCanvas(Canvas):
        def __init__(self, *args, **kwargs) -> None:
            super().__init__(*args, **kwargs)
            self._pages: list[dict] = []
            self.setDateFormatter(lambda *_ignored: pdf_date)

        def showPage(self) -> None:  # noqa: N802 (ReportLab's name)
            self._pages.append(dict(self.__dict__))
            self._startPage()

        def save(self) -> None:
            total = len(self._pages)
            for state in self._pages:
                self.__dict__.update(state)
                draw_footer(self, self._pageNumber, total)
                Canvas.showPage(self)
            Canvas.save(self)

    return PagedCanvas


_FOOTER_STYLE = ParagraphStyle("footer_note", fontName=FONT, fontSize=8, leading=9.5, textColor=GREY)


def build(
    story: list[Flowable],
    *,
    title: str,
    author: str,
    subject: str,
    running_header: tuple[str, str] | None,
    draft: bool,
    dated: datetime,
    one_page: bool = False,
    geometry: Geometry = PORTRAIT,
    footer_note: str | None = None,
) -> tuple[bytes, int]:
    """The PDF of ``story`` and its page count. ``running_header`` (left, right): a small header on the pages
    after the first; ``footer_note``: a note at the foot of every page (wrapped: a short one is one line);
    ``one_page``: more is a ValueError."""
    g = geometry
    buf = io.BytesIO()
    doc = BaseDocTemplate(
        buf,
        pagesize=g.size,
        leftMargin=g.left,
        rightMargin=g.right,
        topMargin=g.top,
        bottomMargin=g.bottom,
        title=plain(title),
        author=plain(author),
        subject=plain(subject),
        creator="pengaduan",
        producer="pengaduan (ReportLab)",
        lang="id-ID",
        invariant=1,
        initialFontName=FONT,  # else every page names Helvetica, a font that is not embedded
        initialFontSize=12,
    )
    frames = {
        name: Frame(
            g.left,
            g.bottom,
            g.text_width,
            g.height - top - g.bottom,
            leftPadding=0,
            rightPadding=0,
            topPadding=0,
            bottomPadding=0,
            id=name,
        )
        for name, top in (("first", g.top), ("later", g.top_later))
    }

    def on_first(c: Canvas, _doc: BaseDocTemplate) -> None:
        if draft:
            _watermark(c, g)

    def on_later(c: Canvas, _doc: BaseDocTemplate) -> None:
        if draft:
            _watermark(c, g)
        if running_header:
            _running_header(c, g, *running_header)

    doc.addPageTemplates(
        [
            PageTemplate(id="First", frames=[frames["first"]], onPage=on_first, autoNextPageTemplate="Later"),
            PageTemplate(id="Later", frames=[frames["later"]], onPage=on_later),
        ]
    )

    def footer(c: Canvas, page: int, total: int) -> None:
        c.saveState()
        c.setFont(FONT, 8)
        c.setFillColor(GREY)
        y = g.bottom - 0.9 * cm
        if total > 1:
            c.drawRightString(g.width - g.right, y, f"Halaman {page} dari {total}")
        if footer_note:  # wrapped to the width left beside the page number, growing upwards from the foot line
            note = Paragraph(escape(plain(footer_note)), _FOOTER_STYLE)
            _, height = note.wrap(g.text_width - (3.0 * cm if total > 1 else 0), g.bottom)
            note.drawOn(c, g.left, y - 2 - height + _FOOTER_STYLE.leading)
        if draft:
            c.setFillColor(colors.Color(0.7, 0.0, 0.0))
            c.drawString(g.left, y, f"{DRAFT_LABEL} \u2013 belum bernomor dan belum ditandatangani")
        c.restoreState()

    doc.build(story, canvasmaker=_paged_canvas(footer, _pdf_date(dated)))
    if one_page and doc.page > 1:
        raise ValueError(f"the document ran over one page ({doc.page} pages)")
    return buf.getvalue(), doc.page


def _pdf_date(moment: datetime) -> str:
    """A PDF date string (``D:20261128081500+07'00'``) in WIB."""
    local = moment.astimezone(WIB)
    return local.strftime("D:%Y%m%d%H%M%S+07'00'")


def _watermark(c: Canvas, g: Geometry) -> None:
    c.saveState()
    c.setFont(FONT_BOLD, 140)
    c.setFillColor(colors.Color(0.5, 0.5, 0.5))
    c.setFillAlpha(0.25)
    c.translate(g.width / 2, g.height / 2)
    c.rotate(45)
    c.drawCentredString(0, -50, DRAFT_LABEL)
    c.restoreState()


def _running_header(c: Canvas, g: Geometry, left: str, right: str) -> None:
    y = g.height - g.top - 0.3 * cm
    c.saveState()
    c.setFont(FONT, 8.5)
    c.setFillColor(GREY)
    c.drawString(g.left, y, plain(left))
    c.drawRightString(g.width - g.right, y, plain(right))
    c.setStrokeColor(GREY)
    c.setLineWidth(0.5)
    c.line(g.left, y - 4, g.width - g.right, y - 4)
    c.restoreState()
