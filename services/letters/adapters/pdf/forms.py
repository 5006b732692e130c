"""The complainant's receipt (tanda terima) and the blank complaint form (formulir pengaduan) for the complaint
box: one A4 page each, with the kecamatan's letterhead."""

from __future__ import annotations

from datetime import datetime

from reportlab.lib import colors
from reportlab.lib.enums import TA_CENTER
from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.platypus import Flowable, Paragraph, Spacer, Table, TableStyle

from services.letters.adapters.pdf.layout import (
    FONT,
    GREY,
    NO_PADDING,
    TEXT_W,
    boxed,
    build,
    fields_table,
    inline,
    kop,
    qr_image,
    styles,
    truncate,
)
from services.letters.domain.letter import WIB, Letterhead, Receipt
from shared.contracts.intake import CHANNEL_LABELS

RECEIPT_TITLE = "TANDA TERIMA PENGADUAN"
RECEIPT_PROMISE = "Tanggapan paling lambat 12 hari kerja"
RECEIPT_FREE = "Layanan ini tidak dipungut biaya"
RECEIPT_NO_DOCUMENTS = "Tidak ada"
# how the receipt names the files received (Attachment.kind), in this order; another kind is "Berkas lain"
DOCUMENT_LABELS: dict[str, str] = {
    "ktp": "Salinan KTP",
    "sim": "Salinan SIM",
    "kk": "Salinan KK",
    "foto": "Foto",
    "lainnya": "Berkas lain",
}
# Characters shown on the one-page receipt; the full texts stay in the complaint's record.
RECEIPT_SUBJECT_MAX = 300
RECEIPT_NAME_MAX = 120
FORM_TITLE = "FORMULIR PENGADUAN"
# The blank form has no date of its own: its PDF is dated with this fixed moment, so one letterhead always
# gives the same bytes (and the same ETag).
FORM_DATED = datetime(2026, 1, 1, tzinfo=WIB)
FORM_DESCRIPTION_LINES = 8


def render_receipt(receipt: Receipt) -> bytes:
    """A one-page receipt (tanda terima) for the complainant."""
    try:
        channel = CHANNEL_LABELS[receipt.channel]
    except KeyError:
        raise ValueError(f"unknown channel {receipt.channel!r}; known: {', '.join(sorted(CHANNEL_LABELS))}") from None
    zone = receipt.zone
    received = zone.waktu(receipt.received_at)
    st = styles()
    lh = receipt.letterhead
    subject = truncate(receipt.subject, RECEIPT_SUBJECT_MAX)
    name = truncate(receipt.complainant_name, RECEIPT_NAME_MAX)

    story: list[Flowable] = [*kop(lh, st), Spacer(1, 0.7 * cm)]
    story.append(Paragraph(RECEIPT_TITLE, st["title"]))
    story.append(Spacer(1, 0.6 * cm))
    rows = [
        ("Kode pelacakan", receipt.tracking_code),
        ("Diterima", received),
        ("Saluran", channel),
    ]
    if receipt.received_by:
        rows.append(("Petugas penerima", truncate(receipt.received_by, RECEIPT_NAME_MAX)))
    rows += [
        ("Nama pengadu", name),
        ("Pokok pengaduan", subject),
        ("Dokumen diterima", document_list(receipt.documents)),
    ]
    if receipt.respond_by is not None:
        rows.append(("Batas tanggapan", zone.tanggal(receipt.respond_by)))
    story.append(
        fields_table(
            rows,
            st,
            label_width=4.0 * cm,
            bold_first=True,
        )
    )
    story.append(Spacer(1, 0.6 * cm))
    story.append(
        Paragraph(
            "Pengaduan Bapak/Ibu telah kami terima. Simpan kode pelacakan di atas untuk memantau "
            "perkembangannya. Sesuai SOP Penanganan Laporan Pengaduan Pelayanan Publik:",
            st["body_left"],
        )
    )
    story.append(Spacer(1, 0.3 * cm))
    by = f", yaitu <b>tanggal {zone.tanggal(receipt.respond_by)}</b>" if receipt.respond_by is not None else ""
    story.append(
        boxed(
            Paragraph(
                f"<b>{RECEIPT_PROMISE}</b> sejak pengaduan diterima{by}.<br/><b>{RECEIPT_FREE}.</b>",
                st["center"],
            )
        )
    )
    story.append(Spacer(1, 0.6 * cm))
    track = Paragraph("Pantau perkembangan pengaduan Anda di:<br/>" + inline(receipt.track_url), st["body_left"])
    qr_w = 4.4 * cm
    qr = qr_image(receipt.track_url, 3.0 * cm)
    caption = Paragraph("Pindai untuk memantau pengaduan", st["caption"])
    t = Table([[track, [qr, Spacer(1, 2), caption]]], colWidths=[TEXT_W - qr_w, qr_w])
    t.setStyle(TableStyle([("VALIGN", (0, 0), (-1, -1), "MIDDLE"), *NO_PADDING]))
    story.append(t)
    story.append(Spacer(1, 0.8 * cm))
    story.append(Paragraph(inline(f"{lh.city}, {zone.tanggal(receipt.received_at)}"), st["right"]))
    story.append(Spacer(1, 0.2 * cm))
    story.append(
        Paragraph(
            "Tanda terima ini dibuat oleh sistem pengaduan dan tidak memerlukan tanda tangan.",
            st["caption_left"],
        )
    )
    pdf, _ = build(
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


def document_list(kinds: tuple[str, ...]) -> str:
    """``Salinan KTP; Foto (2 berkas)``: the files received, by kind, in ``DOCUMENT_LABELS``' order; "Tidak ada"."""
    if not kinds:
        return RECEIPT_NO_DOCUMENTS
    counts: dict[str, int] = {}
    for kind in kinds:
        label = DOCUMENT_LABELS.get(kind, DOCUMENT_LABELS["lainnya"])
        counts[label] = counts.get(label, 0) + 1
    order = list(dict.fromkeys(DOCUMENT_LABELS.values()))
    return "; ".join(
        label if n == 1 else f"{label} ({n} berkas)"
        for label, n in sorted(counts.items(), key=lambda c: order.index(c[0]))
    )


def render_complaint_form(letterhead: Letterhead) -> bytes:
    """The blank Formulir Pengaduan, one page, to print and leave by the complaint box: the fields the web form
    asks for, written by hand (NIK in 16 boxes, the description on ruled lines), the identity copy the SOP
    requires, the SOP's promise, the complainant's date and signature, and a strip for the staff who enter it
    (``/petugas/pengaduan/baru``, channel ``kotak``)."""
    st = styles()
    small = ParagraphStyle("form_small", st["base"], fontSize=10, leading=12.5)
    label = ParagraphStyle("form_label", st["base"], fontSize=11, leading=13)
    story: list[Flowable] = [*kop(letterhead, st), Spacer(1, 0.35 * cm)]
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
        boxed(
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
    pdf, _ = build(
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
                *NO_PADDING,
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
    t.setStyle(TableStyle([*NO_PADDING, ("GRID", (0, 0), (-1, -1), 0.6, colors.black)]))
    return t


def _ruled_lines(count: int, height: float) -> Table:
    t = Table([[""] for _ in range(count)], colWidths=[TEXT_W], rowHeights=[height] * count)
    t.setStyle(TableStyle([*NO_PADDING, ("LINEBELOW", (0, 0), (-1, -1), 0.5, GREY)]))
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
                *NO_PADDING,
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
        Paragraph(f"{inline(lh.city)}, tanggal ....................", centred),
        Paragraph("Pengadu,", centred),
        Spacer(1, 1.5 * cm),
        Paragraph("(........................................)", centred),
        Paragraph("Tanda tangan dan nama jelas", ParagraphStyle("form_sig_note", centred, fontSize=9, leading=11)),
    ]
    sig_w = 8.0 * cm
    t = Table([["", block]], colWidths=[TEXT_W - sig_w, sig_w])
    t.setStyle(TableStyle([*NO_PADDING, ("VALIGN", (0, 0), (-1, -1), "TOP")]))
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
