"""The SOP's instruments (its "kelengkapan" column) as paper:

- the Lembar Disposisi of step 4, in the form Indonesian government offices use: kop surat, the title, a bordered
  table (from whom, when received, the agenda number, the complaint's code, sifat, perihal; then to whom it goes
  and the instructions side by side) and the signature of the one who disposed, to sign by hand (an internal
  paper: no digital signature). A redirect says from which unit and why;
- the Kartu Kendali, landscape: the complaint's particulars and one row per step (No, Kegiatan, Pelaksana,
  Mulai, Selesai, Waktu baku, Waktu nyata, Keterangan), the pauses and the end (``domain/control_card.py`` says
  how they are read); the moment it was printed at the foot of every page, the table's head on every page.
"""

from __future__ import annotations

from datetime import datetime

from reportlab.lib import colors
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.platypus import Flowable, Paragraph, Spacer, Table, TableStyle

from services.letters.adapters.pdf.layout import (
    FONT,
    FONT_BOLD,
    LANDSCAPE,
    NO_PADDING,
    TEXT_W,
    block,
    build,
    fields_table,
    inline,
    kop,
    paragraphs,
    signature_block,
    styles,
    truncate,
)
from services.letters.domain.control_card import ControlCard
from services.letters.domain.letter import DispositionSheet, Zone

DISPOSITION_TITLE = "LEMBAR DISPOSISI"
# characters of the instructions and of a redirect's reason printed in their cells (the rest after the table)
INSTRUCTIONS_CELL_MAX = 900
REDIRECT_CELL_MAX = 400
CONTROL_CARD_TITLE = "KARTU KENDALI PENGADUAN"
CONTROL_CARD_SUBTITLE = "Penanganan Laporan Pengaduan Pelayanan Publik"
LIGHT = colors.Color(0.9, 0.9, 0.9)
PALE = colors.Color(0.96, 0.96, 0.96)


# ---------------------------------------------------------------------------------------------------
# Lembar Disposisi


def render_disposition_sheet(sheet: DispositionSheet) -> bytes:
    """One A4 page. Instructions or a redirect's reason too long for their cell (a row of a table never splits
    over pages) are cut there and printed in full after the table, where they run on to the next page."""
    st = styles()
    cell = ParagraphStyle("disp_cell", st["base"], fontSize=10.5, leading=13.5)
    head = ParagraphStyle("disp_head", cell, fontName=FONT_BOLD)
    z = sheet.zone
    lh = sheet.letterhead

    def text(value: str) -> Paragraph:
        return Paragraph(inline(value), cell)

    in_full: list[tuple[str, str]] = []  # (heading, text) of what did not fit its cell

    def bounded(heading: str, value: str, limit: int) -> str:
        if len(value) <= limit:
            return value
        in_full.append((heading, value))
        return f"{truncate(value, limit)} (selengkapnya di bawah)"

    story: list[Flowable] = [*kop(lh, st), Spacer(1, 0.5 * cm), Paragraph(DISPOSITION_TITLE, st["title"])]
    if sheet.redirected_from:
        story.append(Paragraph("(Pengalihan Disposisi)", st["center"]))
    story.append(Spacer(1, 0.4 * cm))

    rows: list[list[Flowable | str]] = [
        [text("Surat dari"), text(f"{sheet.complainant_name} ({sheet.channel})"), text("Diterima tanggal"),
         text(z.waktu(sheet.received_at))],
        [text("Nomor/kode pengaduan"), text(sheet.tracking_code), text("Nomor Agenda"),
         text(sheet.register_number or "-")],
        [text("Sifat"), text(sheet.sifat), text("Tanggal disposisi"), text(z.waktu(sheet.disposed_at))],
        [text("Perihal"), text(sheet.subject), "", ""],
    ]  # fmt: skip
    spans = [(3, 1, 3)]  # (row, first column, last column)
    if sheet.redirected_from:
        moved = f"Dialihkan dari {sheet.redirected_from}"
        if sheet.redirect_reason:
            moved += f". Alasan: {sheet.redirect_reason}"
        rows.append([text("Pengalihan"), text(bounded("Pengalihan disposisi", moved, REDIRECT_CELL_MAX)), "", ""])
        spans.append((len(rows) - 1, 1, 3))
    headings = len(rows)
    rows.append([Paragraph("Diteruskan kepada:", head), "", Paragraph("Isi disposisi / instruksi:", head), ""])
    to = [text(sheet.to_title)]
    if sheet.to_name:
        to.append(text(sheet.to_name))
    instructions = bounded("Isi disposisi / instruksi", sheet.instructions, INSTRUCTIONS_CELL_MAX)
    rows.append([to, "", [Paragraph(block(instructions), cell), Spacer(1, 2.0 * cm)], ""])
    spans += [(headings, 0, 1), (headings, 2, 3), (headings + 1, 0, 1), (headings + 1, 2, 3)]

    sig_w = 7.5 * cm
    signed = signature_block(sheet.signer, st, width=sig_w, above=[f"{lh.city}, {z.tanggal(sheet.disposed_at)}"])
    signature = Table([["", signed]], colWidths=[TEXT_W - sig_w - 0.4 * cm, sig_w])
    signature.setStyle(TableStyle([*NO_PADDING, ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    rows.append([signature, "", "", ""])
    spans.append((len(rows) - 1, 0, 3))

    label_w = 3.7 * cm
    half = TEXT_W / 2
    table = Table(rows, colWidths=[label_w, half - label_w, label_w, half - label_w])
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT),
                ("GRID", (0, 0), (-1, -1), 0.7, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("TOPPADDING", (0, 0), (-1, -1), 4),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 5),
                ("BACKGROUND", (0, headings), (-1, headings), LIGHT),
                ("TOPPADDING", (0, -1), (-1, -1), 10),
                *[("SPAN", (first, row), (last, row)) for row, first, last in spans],
            ]
        )
    )
    story.append(table)
    story.append(Spacer(1, 0.25 * cm))
    story.append(
        Paragraph(
            inline(f"Disposisi tercatat di sistem pengaduan pada {z.waktu(sheet.disposed_at)}."), st["caption_left"]
        )
    )
    for heading, value in in_full:
        story += [Spacer(1, 0.4 * cm), Paragraph(f"{heading} (selengkapnya):", head)]
        story += [Paragraph(block(part), cell) for part in paragraphs(value)]
    pdf, _ = build(
        story,
        title=f"Lembar Disposisi {sheet.tracking_code}",
        author=lh.kecamatan,
        subject="Lembar Disposisi",
        running_header=None,
        draft=False,
        dated=sheet.disposed_at,
    )
    return pdf


# ---------------------------------------------------------------------------------------------------
# Kartu Kendali

# No, Kegiatan, Pelaksana, Mulai, Selesai, Waktu baku, Waktu nyata, Keterangan (26.7 cm of landscape A4)
CELL_MAX = 300  # characters of a row's words (an agency's name is free text): a table row never splits over pages
CARD_COLUMNS = (1.0 * cm, 7.4 * cm, 4.4 * cm, 2.3 * cm, 2.3 * cm, 2.6 * cm, 2.9 * cm, 3.8 * cm)


def render_control_card(card: ControlCard) -> bytes:
    """Landscape A4; one page for a complaint that went its way, more (the table's head repeated) when it went
    back and forth."""
    st = styles()
    width = LANDSCAPE.text_width
    z = card.zone
    small = ParagraphStyle("card_small", st["base"], fontSize=9, leading=11.5)
    cell = ParagraphStyle("card_cell", st["base"], fontSize=8.5, leading=10)
    cell_bold = ParagraphStyle("card_cell_bold", cell, fontName=FONT_BOLD)
    head = ParagraphStyle("card_head", cell_bold, alignment=1)

    story: list[Flowable] = [*kop(card.letterhead, st, width), Spacer(1, 0.25 * cm)]
    story.append(Paragraph(CONTROL_CARD_TITLE, st["title"]))
    story.append(Paragraph(CONTROL_CARD_SUBTITLE, ParagraphStyle("card_sub", small, alignment=1)))
    story.append(Spacer(1, 0.25 * cm))

    half = width / 2 - 0.3 * cm
    left = fields_table(
        [
            ("Kode pengaduan", card.tracking_code),
            ("Nomor agenda", card.register_number or "-"),
            ("Diterima", z.waktu(card.received_at)),
            ("Saluran", card.channel),
        ],
        {"small": small},
        label_width=3.2 * cm,
        width=half,
        style="small",
    )
    right = fields_table(
        [
            ("Pengadu", card.complainant_name),
            ("Perihal", card.subject),
            ("Unit disposisi", card.unit or "-"),
            ("Batas selesai", z.waktu(card.deadline_at) if card.deadline_at else "-"),
            ("Keadaan", truncate(card.status, CELL_MAX)),
        ],
        {"small": small},
        label_width=3.0 * cm,
        width=half,
        style="small",
    )
    particulars = Table([[left, "", right]], colWidths=[half, width - 2 * half, half])
    particulars.setStyle(TableStyle([*NO_PADDING, ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    story.append(particulars)
    story.append(Spacer(1, 0.25 * cm))

    header = [
        "No",
        "Kegiatan",
        "Pelaksana",
        f"Mulai ({z.label})",
        f"Selesai ({z.label})",
        "Waktu baku",
        "Waktu nyata",
        "Keterangan",
    ]
    data: list[list[Flowable | str]] = [[Paragraph(h, head) for h in header]]
    shaded: list[int] = []
    ends: list[int] = []
    for row in card.rows:
        style = cell_bold if row.kind == "end" else cell
        data.append(
            [
                Paragraph(str(row.number) if row.number is not None else "", style),
                Paragraph(inline(truncate(row.activity, CELL_MAX)), style),
                Paragraph(block(row.performer), cell),
                Paragraph(_moment(z, row.started), cell),
                Paragraph(_moment(z, row.finished), cell),
                Paragraph(inline(row.standard), cell),
                Paragraph(inline(row.actual), cell),
                Paragraph(inline(row.note), style),
            ]
        )
        if row.kind != "step":
            (ends if row.kind == "end" else shaded).append(len(data) - 1)
    table = Table(data, colWidths=list(CARD_COLUMNS), repeatRows=1)
    table.setStyle(
        TableStyle(
            [
                ("FONT", (0, 0), (-1, -1), FONT),
                ("GRID", (0, 0), (-1, -1), 0.5, colors.black),
                ("VALIGN", (0, 0), (-1, -1), "TOP"),
                ("VALIGN", (0, 0), (-1, 0), "MIDDLE"),
                ("TOPPADDING", (0, 0), (-1, -1), 1.5),
                ("BOTTOMPADDING", (0, 0), (-1, -1), 2.5),
                ("LEFTPADDING", (0, 0), (-1, -1), 3),
                ("RIGHTPADDING", (0, 0), (-1, -1), 3),
                ("BACKGROUND", (0, 0), (-1, 0), LIGHT),
                *[("BACKGROUND", (0, r), (-1, r), PALE) for r in shaded],
                *[("LINEABOVE", (0, r), (-1, r), 1.2, colors.black) for r in ends],
            ]
        )
    )
    story.append(table)
    pdf, _ = build(
        story,
        title=f"Kartu Kendali {card.tracking_code}",
        author=card.letterhead.kecamatan,
        subject="Kartu Kendali",
        running_header=(card.letterhead.kecamatan, f"Kartu Kendali {card.tracking_code}"),
        draft=False,
        dated=card.printed_at,
        geometry=LANDSCAPE,
        footer_note=f"Dicetak {z.waktu(card.printed_at)} dari sistem pengaduan: keadaan pada saat dicetak.",
    )
    return pdf


def _moment(zone: Zone, moment: datetime | None) -> str:
    """A table cell's date and time: ``28-11-2026`` over ``08.15`` (the zone is in the column's head)."""
    if moment is None:
        return "-"
    local = zone.local(moment)
    return f"{local:%d-%m-%Y}<br/>{local:%H.%M}"
