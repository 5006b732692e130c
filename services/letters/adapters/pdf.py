"""Response letters (surat tanggapan), complaint receipts (tanda terima) and the blank complaint form
(formulir pengaduan, printed for the complaint box) as PDF: data in (``services/letters/domain/letter.py``),
bytes out.

Pure: no clock, no network, no files written. The only reads are the bundled fonts in
``services/letters/templates/fonts`` (Liberation Sans, metric-compatible with Arial, SIL OFL 1.1).
The PDF stack is ReportLab (platypus); see docs/adr/0003-pdf-stack.md. The same input gives the same
bytes (ReportLab's ``invariant`` mode: fixed creation date and document id).

Layout follows the tata naskah dinas of an Indonesian government office: kop surat (logo, centred
text, double rule), place and date on the right, the Nomor / Sifat / Lampiran / Perihal block, the
addressee ("Kepada Yth. ... di ..."), justified body paragraphs, the closing sentence, the signature
block on the right (title, space for the signature, name bold and underlined, rank, NIP). Letters that
run over one page carry a small running header (kecamatan + nomor) on the later pages and
"Halaman n dari N" on every page.

Every text that comes from a person (body, names, addresses, perihal...) is escaped before it reaches
ReportLab's paragraph mini-markup: ``<script>`` or ``{{7*7}}`` print literally, nothing is interpreted.
"""

from __future__ import annotations

import io
import re
from collections.abc import Callable, Iterable
from datetime import datetime
from functools import lru_cache
from pathlib import Path
from xml.sax.saxutils import escape

import segno
from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER, TA_JUSTIFY, TA_LEFT, TA_RIGHT
from reportlab.lib.pagesizes import A4
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
    KeepTogether,
    PageTemplate,
    Paragraph,
    Spacer,
    Table,
    TableStyle,
)

from services.letters.domain.letter import (
    WIB,
    Letterhead,
    Receipt,
    RenderedLetter,
    ResponseLetter,
    SignatureBox,
    format_waktu_wib,
)
from shared.contracts.intake import CHANNEL_LABELS
from shared.tanggal import format_tanggal

__all__ = [
    "layout_response_letter",
    "render_complaint_form",
    "render_receipt",
    "render_response_letter",
]

CLOSING = "Demikian tanggapan ini kami sampaikan untuk dapat dimaklumi. Atas perhatiannya disampaikan terima kasih."
QR_CAPTION = "Pindai untuk memeriksa keaslian surat"
DRAFT_LABEL = "DRAF"
DRAFT_NUMBER = "..."
RECEIPT_TITLE = "TANDA TERIMA PENGADUAN"
RECEIPT_PROMISE = "Tanggapan paling lambat 12 hari kerja"
RECEIPT_FREE = "Layanan ini tidak dipungut biaya"
# Characters shown on the one-page receipt; the full texts stay in the complaint's record.
FORM_TITLE = "FORMULIR PENGADUAN"
# The blank form has no date of its own: its PDF is dated with this fixed moment, so one letterhead always
# gives the same bytes (and the same ETag).
FORM_DATED = datetime(2026, 1, 1, tzinfo=WIB)
FORM_DESCRIPTION_LINES = 9
RECEIPT_SUBJECT_MAX = 300
RECEIPT_NAME_MAX = 120

FONT_DIR = Path(__file__).resolve().parent.parent / "templates" / "fonts"
FONT = "LiberationSans"
FONT_BOLD = "LiberationSans-Bold"

PAGE_W, PAGE_H = A4
MARGIN_LEFT = 2.5 * cm
MARGIN_RIGHT = 2.0 * cm
MARGIN_TOP = 1.5 * cm
MARGIN_TOP_LATER = 2.5 * cm  # room for the running header
MARGIN_BOTTOM = 2.0 * cm
TEXT_W = PAGE_W - MARGIN_LEFT - MARGIN_RIGHT

GREY = colors.Color(0.35, 0.35, 0.35)


# ---------------------------------------------------------------------------------------------------
# Public renderers


def render_response_letter(letter: ResponseLetter) -> bytes:
    return layout_response_letter(letter).pdf


def layout_response_letter(letter: ResponseLetter) -> RenderedLetter:
    """The letter's PDF, its page count and where the signature placeholder landed."""
    body = _paragraphs(letter.body)
    if not body:
        raise ValueError("the letter has no body")
    st = _styles()
    draft = letter.number is None
    number = DRAFT_NUMBER if draft else letter.number
    lh = letter.letterhead

    story: list[Flowable] = [*_kop(lh, st), Spacer(1, 0.35 * cm)]
    story.append(Paragraph(_inline(f"{lh.city}, {format_tanggal(letter.date)}"), st["right"]))
    story.append(Spacer(1, 0.35 * cm))
    story.append(
        _fields_table(
            [
                ("Nomor", number),
                ("Sifat", letter.sifat),
                ("Lampiran", letter.lampiran),
                ("Perihal", letter.perihal),
            ],
            st,
            label_width=2.3 * cm,
        )
    )
    story.append(Spacer(1, 0.5 * cm))
    story.extend(_addressee(letter, st))
    story.append(Spacer(1, 0.5 * cm))

    for paragraph in body:
        story.append(Paragraph(_block(paragraph), st["body"]))  # noqa: PERF401
    if letter.clarification:
        for paragraph in _paragraphs(letter.clarification):
            story.append(Paragraph(_block(paragraph), st["body"]))  # noqa: PERF401

    sig_holder: list[SignatureBox] = []
    closing = Paragraph(escape(CLOSING), st["body"])
    story.append(KeepTogether([closing, Spacer(1, 0.4 * cm), _signature_table(letter, st, sig_holder)]))

    header_number = f"{number} ({DRAFT_LABEL})" if draft else number
    pdf, pages = _build(
        story,
        title=letter.perihal,
        author=lh.kecamatan,
        subject=f"Surat tanggapan {header_number}",
        running_header=(lh.kecamatan, f"Nomor: {header_number}"),
        draft=draft,
        dated=datetime(letter.date.year, letter.date.month, letter.date.day, tzinfo=WIB),
    )
    return RenderedLetter(pdf=pdf, page_count=pages, signature_box=sig_holder[-1] if sig_holder else None)


def render_receipt(receipt: Receipt) -> bytes:
    """A one-page receipt (tanda terima) for the complainant."""
    try:
        channel = CHANNEL_LABELS[receipt.channel]
    except KeyError:
        raise ValueError(f"unknown channel {receipt.channel!r}; known: {', '.join(sorted(CHANNEL_LABELS))}") from None
    received = format_waktu_wib(receipt.received_at)
    st = _styles()
    lh = receipt.letterhead
    subject = _truncate(receipt.subject, RECEIPT_SUBJECT_MAX)
    name = _truncate(receipt.complainant_name, RECEIPT_NAME_MAX)

    story: list[Flowable] = [*_kop(lh, st), Spacer(1, 0.7 * cm)]
    story.append(Paragraph(RECEIPT_TITLE, st["title"]))
    story.append(Spacer(1, 0.6 * cm))
    story.append(
        _fields_table(
            [
                ("Kode pelacakan", receipt.tracking_code),
                ("Diterima", received),
                ("Saluran", channel),
                ("Nama pengadu", name),
                ("Pokok pengaduan", subject),
            ],
            st,
            label_width=4.0 * cm,
            bold_first=True,
        )
    )
    story.append(Spacer(1, 0.6 * cm))
    story.append(
        Paragraph(
            "Pengaduan Anda telah kami terima dan dicatat. Simpan kode pelacakan di atas untuk "
            "memantau perkembangannya. Sesuai SOP Penanganan Laporan Pengaduan Pelayanan Publik:",
            st["body_left"],
        )
    )
    story.append(Spacer(1, 0.3 * cm))
    story.append(
        _boxed(
            Paragraph(
                f"<b>{RECEIPT_PROMISE}</b> sejak pengaduan diterima.<br/><b>{RECEIPT_FREE}.</b>",
                st["center"],
            )
        )
    )
    story.append(Spacer(1, 0.6 * cm))
    track = Paragraph("Pantau perkembangan pengaduan Anda di:<br/>" + _inline(receipt.track_url), st["body_left"])
    qr_w = 4.4 * cm
    qr = _qr_image(receipt.track_url, 3.0 * cm)
    caption = Paragraph("Pindai untuk memantau pengaduan", st["caption"])
    t = Table([[track, [qr, Spacer(1, 2), caption]]], colWidths=[TEXT_W - qr_w, qr_w])
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), *_NO_PADDING]))
    story.append(t)
    story.append(Spacer(1, 0.8 * cm))
    story.append(
        Paragraph(_inline(f"{lh.city}, {format_tanggal(receipt.received_at.astimezone(WIB).date())}"), st["right"])
    )
    story.append(Spacer(1, 0.2 * cm))
    story.append(
        Paragraph(
            "Tanda terima ini dibuat oleh sistem pengaduan dan tidak memerlukan tanda tangan.",
            st["caption_left"],
        )
    )
    pdf, _ = _build(
        story,
        title=f"Tanda Terima Pengaduan {receipt.tracking_code}",
        author=lh.kecamatan,
        subject=RECEIPT_TITLE.title(),
        running_header=None,
        draft=False,
        dated=receipt.received_at,
        one_page=True,
    )
    return pdf


def render_complaint_form(letterhead: Letterhead) -> bytes:
    """The blank Formulir Pengaduan, one page, to print and leave by the complaint box: the fields the web form
    asks for, written by hand (NIK in 16 boxes, the description on ruled lines), the identity copy the SOP
    requires, the SOP's promise, the complainant's date and signature, and a strip for the staff who enter it
    (``/petugas/pengaduan/baru``, channel ``kotak``)."""
    st = _styles()
    small = ParagraphStyle("form_small", st["base"], fontSize=10, leading=12.5)
    label = ParagraphStyle("form_label", st["base"], fontSize=11, leading=13)
    story: list[Flowable] = [*_kop(letterhead, st), Spacer(1, 0.35 * cm)]
    story.append(Paragraph(FORM_TITLE, st["title"]))
    story.append(Paragraph("Pengaduan Pelayanan Publik", st["center"]))
    story.append(Spacer(1, 0.2 * cm))
    story.append(
        Paragraph(
            "Tulis dengan huruf cetak yang jelas. Lampirkan salinan kartu identitas, lalu masukkan formulir ke "
            "kotak pengaduan di kantor kecamatan atau serahkan kepada petugas.",
            small,
        )
    )
    story.append(Spacer(1, 0.25 * cm))
    story.append(
        _write_in_rows(
            [("Nama lengkap", 1), ("NIK", 0), ("Alamat", 2), ("Nomor HP/WhatsApp", 1), ("E-mail", 1)],
            label,
        )
    )
    story.append(Spacer(1, 0.1 * cm))
    story.append(
        Paragraph("Isi salah satu: nomor HP/WhatsApp atau e-mail, ke sana tanggapan dikirim.", st["caption_left"])
    )
    story.append(Spacer(1, 0.15 * cm))
    story.append(_write_in_rows([("Pokok pengaduan", 1)], label))
    story.append(Spacer(1, 0.2 * cm))
    story.append(Paragraph("Uraian pengaduan (apa yang terjadi, di mana, sejak kapan):", label))
    story.append(_ruled_lines(FORM_DESCRIPTION_LINES, 0.72 * cm))
    story.append(Spacer(1, 0.3 * cm))
    story.append(Paragraph("Lampiran wajib, salah satu (centang):", label))
    story.append(Spacer(1, 0.1 * cm))
    story.append(_checkboxes(["Salinan KTP", "Salinan SIM", "Salinan KK"], label))
    story.append(Spacer(1, 0.3 * cm))
    story.append(
        _boxed(
            Paragraph(
                "Sesuai SOP Penanganan Pengaduan: pengaduan <b>ditangani paling lama 12 hari kerja</b> sejak "
                "diterima, dan <b>tidak dipungut biaya</b>.",
                ParagraphStyle("form_promise", st["center"], fontSize=10.5, leading=13.5),
            )
        )
    )
    story.append(Spacer(1, 0.3 * cm))
    story.append(_form_signature(letterhead, label))
    story.append(Spacer(1, 0.3 * cm))
    story.append(_staff_strip(small))
    pdf, _ = _build(
        story,
        title=f"Formulir Pengaduan {letterhead.kecamatan}",
        author=letterhead.kecamatan,
        subject=FORM_TITLE.title(),
        running_header=None,
        draft=False,
        dated=FORM_DATED,
        one_page=True,
    )
    return pdf


def _write_in_rows(rows: list[tuple[str, int]], style: ParagraphStyle) -> Table:
    """Labels with a ruled line to write on (``lines`` of them); 0 lines: the NIK's 16 boxes."""
    label_w, colon_w = 4.2 * cm, 0.45 * cm
    line_w = TEXT_W - label_w - colon_w
    data: list[list] = []
    lined: list[int] = []
    for text, lines in rows:
        if lines == 0:
            data.append([Paragraph(text, style), Paragraph(":", style), _digit_boxes(16, line_w)])
            continue
        for n in range(lines):
            lined.append(len(data))
            data.append([Paragraph(text, style) if n == 0 else "", Paragraph(":", style) if n == 0 else "", ""])
    t = Table(data, colWidths=[label_w, colon_w, line_w], rowHeights=[0.8 * cm] * len(data))
    t.setStyle(
        TableStyle(
            [
                *_NO_PADDING,
                ("VALIGN", (0, 0), (-1, -1), "BOTTOM"),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2),
                *[("LINEBELOW", (2, r), (2, r), 0.5, GREY) for r in lined],
            ]
        )
    )
    return t


def _digit_boxes(count: int, width: float) -> Table:
    box = min(0.6 * cm, width / count)
    t = Table([[""] * count], colWidths=[box] * count, rowHeights=[0.62 * cm], hAlign="LEFT")
    t.setStyle(TableStyle([*_NO_PADDING, ("GRID", (0, 0), (-1, -1), 0.6, colors.black)]))
    return t


def _ruled_lines(count: int, height: float) -> Table:
    t = Table([[""] for _ in range(count)], colWidths=[TEXT_W], rowHeights=[height] * count)
    t.setStyle(TableStyle([*_NO_PADDING, ("LINEBELOW", (0, 0), (-1, -1), 0.5, GREY)]))
    return t


def _checkboxes(labels: list[str], style: ParagraphStyle) -> Table:
    box = 0.42 * cm
    cells: list = []
    widths: list[float] = []
    for text in labels:
        cells += ["", Paragraph(text, style)]
        widths += [box, 4.2 * cm]
    t = Table([cells], colWidths=widths, rowHeights=[box], hAlign="LEFT")
    t.setStyle(
        TableStyle(
            [
                *_NO_PADDING,
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                *[("BOX", (i, 0), (i, 0), 0.8, colors.black) for i in range(0, len(cells), 2)],
                *[("LEFTPADDING", (i, 0), (i, 0), 0.25 * cm) for i in range(1, len(cells), 2)],
            ]
        )
    )
    return t


def _form_signature(lh: Letterhead, style: ParagraphStyle) -> Table:
    centred = ParagraphStyle("form_sig", style, alignment=TA_CENTER)
    block = [
        Paragraph(f"{_inline(lh.city)}, tanggal ....................", centred),
        Paragraph("Pengadu,", centred),
        Spacer(1, 1.5 * cm),
        Paragraph("(........................................)", centred),
        Paragraph("Tanda tangan dan nama jelas", ParagraphStyle("form_sig_note", centred, fontSize=9, leading=11)),
    ]
    sig_w = 8.0 * cm
    t = Table([["", block]], colWidths=[TEXT_W - sig_w, sig_w])
    t.setStyle(TableStyle([*_NO_PADDING, ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return t


def _staff_strip(style: ParagraphStyle) -> Table:
    text = (
        "<b>Diisi petugas:</b> diterima tanggal .................... pukul ........ &#160; "
        "Kode pelacakan ........................ &#160; Paraf ........"
    )
    t = Table([[Paragraph(text, style)]], colWidths=[TEXT_W])
    t.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT),
                ("LINEABOVE", (0, 0), (-1, 0), 0.6, colors.black, None, (2, 2)),
                ("TOPPADDING", (0, 0), (-1, -1), 5),
                ("LEFTPADDING", (0, 0), (-1, -1), 0),
            ]
        )
    )
    return t


# ---------------------------------------------------------------------------------------------------
# Text: user text in, safe paragraph markup out

_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f\ufffe\uffff]")


def _clean(text: str) -> str:
    """Normalise newlines, tabs to spaces, drop control characters."""
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\t", " ")
    return _CONTROL.sub("", text)


def _plain(text: str) -> str:
    """One line of user text for the canvas or the document info (no markup there): whitespace folded."""
    return " ".join(_clean(text).split())


def _inline(text: str) -> str:
    """One line of user text as paragraph markup: escaped, newlines become spaces."""
    return escape(_plain(text))


def _block(text: str) -> str:
    """A paragraph of user text: escaped, single newlines kept as line breaks."""
    lines = [" ".join(line.split()) for line in _clean(text).split("\n")]
    return "<br/>".join(escape(line) for line in lines if line)


def _truncate(text: str, limit: int) -> str:
    text = _plain(text)
    return text if len(text) <= limit else text[: limit - 1].rstrip() + "\u2026"


def _paragraphs(text: str) -> list[str]:
    return [p.strip() for p in re.split(r"\n[ \t]*\n", _clean(text)) if p.strip()]


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
def _styles() -> dict[str, ParagraphStyle]:
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
            "kop_kecamatan", base, fontName=FONT_BOLD, fontSize=17, leading=21, alignment=TA_CENTER
        ),
        "kop_address": ParagraphStyle("kop_address", base, fontSize=10, leading=12.5, alignment=TA_CENTER),
        "sig": ParagraphStyle("sig", base, alignment=TA_CENTER, leading=15),
        "caption": ParagraphStyle("caption", base, fontSize=7.5, leading=9, alignment=TA_CENTER, textColor=GREY),
        "caption_left": ParagraphStyle(
            "caption_left", base, fontSize=8.5, leading=10.5, alignment=TA_LEFT, textColor=GREY
        ),
    }


_NO_PADDING = [
    ("FONT", (0, 0), (-1, -1), FONT),  # the cells' own font (Helvetica by default), even when empty
    ("LEFTPADDING", (0, 0), (-1, -1), 0),
    ("RIGHTPADDING", (0, 0), (-1, -1), 0),
    ("TOPPADDING", (0, 0), (-1, -1), 0),
    ("BOTTOMPADDING", (0, 0), (-1, -1), 0),
]


# ---------------------------------------------------------------------------------------------------
# Building blocks


class _DoubleRule(Flowable):
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


class _SignatureSpace(Flowable):
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


def _kop(lh: Letterhead, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    side = 2.4 * cm
    lines: list[Flowable] = [
        Paragraph(_inline(lh.pemerintah), st["kop_pemerintah"]),
        Paragraph(_inline(lh.kecamatan), st["kop_kecamatan"]),
    ]
    address = _inline(lh.address)
    if lh.phone:
        address += f" &#160;Telepon {_inline(lh.phone)}"
    lines.append(Paragraph(address, st["kop_address"]))
    logo: Flowable | str = ""
    if lh.logo_png:
        logo = _png_image(lh.logo_png, max_w=side - 0.2 * cm, max_h=2.4 * cm)
    t = Table([[logo, lines, ""]], colWidths=[side, TEXT_W - 2 * side, side])
    t.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "MIDDLE"),
                ("ALIGN", (0, 0), (0, 0), "LEFT"),
                *_NO_PADDING,
            ]
        )
    )
    return [t, Spacer(1, 0.15 * cm), _DoubleRule(TEXT_W)]


def _fields_table(
    rows: Iterable[tuple[str, str]],
    st: dict[str, ParagraphStyle],
    *,
    label_width: float,
    bold_first: bool = False,
) -> Table:
    data = []
    for i, (label, value) in enumerate(rows):
        text = _inline(value)
        if bold_first and i == 0:
            text = f"<b>{text}</b>"
        data.append([Paragraph(label, st["base"]), Paragraph(":", st["base"]), Paragraph(text, st["base"])])
    t = Table(data, colWidths=[label_width, 0.45 * cm, TEXT_W - label_width - 0.45 * cm])
    t.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                *_NO_PADDING,
                ("BOTTOMPADDING", (0, 0), (-1, -1), 1),
            ]
        )
    )
    return t


def _addressee(letter: ResponseLetter, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    place = _block(letter.addressee_address) if letter.addressee_address else ""
    indented = ParagraphStyle("addr", st["base"], leftIndent=1.0 * cm)
    return [
        Paragraph("Kepada", st["base"]),
        Paragraph(f"Yth. {_inline(letter.addressee_name)}", st["base"]),
        Paragraph("di", st["base"]),
        Paragraph(place or "Tempat", indented),
    ]


def _signature_table(letter: ResponseLetter, st: dict[str, ParagraphStyle], holder: list[SignatureBox]) -> Table:
    signer = letter.signer
    sig_w = 8.0 * cm
    block: list[Flowable] = [Paragraph(_inline(signer.title), st["sig"])]
    if letter.signature_placeholder:
        block.append(_SignatureSpace(sig_w, 2.6 * cm, holder))
    else:
        block.append(Spacer(1, 2.0 * cm))
    block.append(Paragraph(f"<b><u>{_inline(signer.name)}</u></b>", st["sig"]))
    if signer.rank:
        block.append(Paragraph(_inline(signer.rank), st["sig"]))
    if signer.nip:
        block.append(Paragraph(f"NIP. {_inline(signer.nip)}", st["sig"]))

    left: Flowable | list[Flowable] | str = ""
    if letter.verify_url:
        left = [_qr_image(letter.verify_url, 2.8 * cm), Spacer(1, 2), Paragraph(QR_CAPTION, st["caption"])]
    left_w = TEXT_W - sig_w
    t = Table([[left, block]], colWidths=[left_w, sig_w])
    t.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (0, 0), "BOTTOM"),
                ("VALIGN", (1, 0), (1, 0), "TOP"),
                ("ALIGN", (0, 0), (0, 0), "LEFT"),
                *_NO_PADDING,
                ("RIGHTPADDING", (0, 0), (0, 0), 2.2 * cm),  # keep the QR code clear of the signature
            ]
        )
    )
    return t


def _boxed(inner: Flowable) -> Table:
    t = Table([[inner]], colWidths=[TEXT_W])
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


def _qr_image(url: str, size: float) -> Image:
    qr = segno.make(url, error="m", micro=False)
    buf = io.BytesIO()
    # 8 px per module so that viewers that smooth images still show sharp modules; 1-bit, a few KB.
    qr.save(buf, kind="png", scale=8, border=4)
    buf.seek(0)
    return Image(buf, width=size, height=size)


def _png_image(data: bytes, *, max_w: float, max_h: float) -> Image:
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
    document with ``pdf_date`` (the letter's own date) instead of reading the clock."""

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


def _build(
    story: list[Flowable],
    *,
    title: str,
    author: str,
    subject: str,
    running_header: tuple[str, str] | None,
    draft: bool,
    dated: datetime,
    one_page: bool = False,
) -> tuple[bytes, int]:
    buf = io.BytesIO()
    doc = BaseDocTemplate(
        buf,
        pagesize=A4,
        leftMargin=MARGIN_LEFT,
        rightMargin=MARGIN_RIGHT,
        topMargin=MARGIN_TOP,
        bottomMargin=MARGIN_BOTTOM,
        title=_plain(title),
        author=_plain(author),
        subject=_plain(subject),
        creator="pengaduan",
        producer="pengaduan (ReportLab)",
        lang="id-ID",
        invariant=1,
        initialFontName=FONT,  # else every page names Helvetica, a font that is not embedded
        initialFontSize=12,
    )
    first = Frame(
        MARGIN_LEFT,
        MARGIN_BOTTOM,
        TEXT_W,
        PAGE_H - MARGIN_TOP - MARGIN_BOTTOM,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
        id="first",
    )
    later = Frame(
        MARGIN_LEFT,
        MARGIN_BOTTOM,
        TEXT_W,
        PAGE_H - MARGIN_TOP_LATER - MARGIN_BOTTOM,
        leftPadding=0,
        rightPadding=0,
        topPadding=0,
        bottomPadding=0,
        id="later",
    )

    def on_first(c: Canvas, _doc: BaseDocTemplate) -> None:
        if draft:
            _watermark(c)

    def on_later(c: Canvas, _doc: BaseDocTemplate) -> None:
        if draft:
            _watermark(c)
        if running_header:
            _running_header(c, *running_header)

    doc.addPageTemplates(
        [
            PageTemplate(id="First", frames=[first], onPage=on_first, autoNextPageTemplate="Later"),
            PageTemplate(id="Later", frames=[later], onPage=on_later),
        ]
    )

    def footer(c: Canvas, page: int, total: int) -> None:
        c.saveState()
        c.setFont(FONT, 8)
        c.setFillColor(GREY)
        if total > 1:
            c.drawRightString(PAGE_W - MARGIN_RIGHT, MARGIN_BOTTOM - 0.9 * cm, f"Halaman {page} dari {total}")
        if draft:
            c.setFillColor(colors.Color(0.7, 0.0, 0.0))
            c.drawString(
                MARGIN_LEFT, MARGIN_BOTTOM - 0.9 * cm, f"{DRAFT_LABEL} \u2013 belum bernomor dan belum ditandatangani"
            )
        c.restoreState()

    doc.build(story, canvasmaker=_paged_canvas(footer, _pdf_date(dated)))
    if one_page and doc.page > 1:
        raise ValueError(f"the receipt ran over one page ({doc.page} pages)")
    return buf.getvalue(), doc.page


def _pdf_date(moment: datetime) -> str:
    """A PDF date string (``D:20261128081500+07'00'``) in WIB."""
    local = moment.astimezone(WIB)
    return local.strftime("D:%Y%m%d%H%M%S+07'00'")


def _watermark(c: Canvas) -> None:
    c.saveState()
    c.setFont(FONT_BOLD, 140)
    c.setFillColor(colors.Color(0.5, 0.5, 0.5))
    c.setFillAlpha(0.25)
    c.translate(PAGE_W / 2, PAGE_H / 2)
    c.rotate(45)
    c.drawCentredString(0, -50, DRAFT_LABEL)
    c.restoreState()


def _running_header(c: Canvas, left: str, right: str) -> None:
    y = PAGE_H - MARGIN_TOP - 0.3 * cm
    c.saveState()
    c.setFont(FONT, 8.5)
    c.setFillColor(GREY)
    c.drawString(MARGIN_LEFT, y, _plain(left))
    c.drawRightString(PAGE_W - MARGIN_RIGHT, y, _plain(right))
    c.setStrokeColor(GREY)
    c.setLineWidth(0.5)
    c.line(MARGIN_LEFT, y - 4, PAGE_W - MARGIN_RIGHT, y - 4)
    c.restoreState()
