"""The official letters, in the layout of Permendagri 1/2023 (tata naskah dinas in the regions) for a surat dinas:
the kop surat (the kabupaten's lambang, the government, the kecamatan, its address, telephone, laman, pos-el and
kode pos), the place and date on the right, the Nomor / Sifat / Lampiran / Hal block on the left, the addressee
("Yth. ..." then "di" and the place), justified body paragraphs, the closing sentence, the signature block on the
right (jabatan, space for the signature, full name bold and underlined, pangkat, NIP) with the QR code of the
verification page on its left, and the Tembusan at the bottom left ("Yth." before each office, numbered when
more than one). Letters that run over one page carry a small running header (kecamatan + nomor) on the later
pages and "Halaman n dari N" on every page.

- the response letter (surat tanggapan) to the complainant, "Yth. Sdr. <name>": its body is the staff's draft as
  the Sekcam approved it (the clarification of step 5 is what it was written from, not pasted after it), the
  Tembusan the offices chosen at step 9; a draft (no number) prints with a DRAF watermark;
- the referral letter (surat pelimpahan) to the office a complaint is referred to: its body is this service's
  (``ReferralLetter.paragraphs``), with the complaint's description quoted; Tembusan the complainant and Arsip.
"""

from __future__ import annotations

from collections.abc import Sequence
from datetime import date, datetime
from xml.sax.saxutils import escape

from reportlab.lib.styles import ParagraphStyle
from reportlab.lib.units import cm
from reportlab.platypus import Flowable, KeepTogether, Paragraph, Spacer, Table, TableStyle

from services.letters.adapters.pdf.layout import (
    DRAFT_LABEL,
    NO_PADDING,
    TEXT_W,
    block,
    build,
    fields_table,
    inline,
    kop,
    paragraphs,
    qr_image,
    signature_block,
    styles,
)
from services.letters.domain.letter import (
    ARCHIVE,
    REFERRAL_CLOSING,
    WIB,
    Letterhead,
    ReferralLetter,
    RenderedLetter,
    ResponseLetter,
    SignatureBox,
    Signer,
    addressed,
)
from shared.tanggal import format_tanggal

CLOSING = "Demikian tanggapan ini kami sampaikan untuk dapat dimaklumi. Atas perhatiannya disampaikan terima kasih."
QR_CAPTION = "Pindai untuk memeriksa keaslian surat"
DRAFT_NUMBER = "..."


def render_response_letter(letter: ResponseLetter) -> bytes:
    return layout_response_letter(letter).pdf


def layout_response_letter(letter: ResponseLetter) -> RenderedLetter:
    """The letter's PDF, its page count and where the signature placeholder landed."""
    body = paragraphs(letter.body)
    if not body:
        raise ValueError("the letter has no body")
    st = styles()
    draft = letter.number is None
    return _letter(
        letter.letterhead,
        number=DRAFT_NUMBER if draft else letter.number or "",
        dated=letter.date,
        fields=[("Sifat", letter.sifat), ("Lampiran", letter.lampiran), ("Hal", letter.perihal)],
        addressee=(addressed(letter.addressee_name), letter.addressee_address),
        body=[Paragraph(block(p), st["body"]) for p in body],
        closing=CLOSING,
        signer=letter.signer,
        verify_url=letter.verify_url,
        signature_placeholder=letter.signature_placeholder,
        title=letter.perihal,
        subject="Surat tanggapan",
        draft=draft,
        copies=letter.tembusan,
        footer_note=None if draft else letter.footer,
    )


def layout_referral_letter(letter: ReferralLetter) -> RenderedLetter:
    """The surat pelimpahan: the complaint quoted in an indented paragraph after the opening, the grounds and
    the request, the Camat's signature (room left for the digital one), Tembusan: the complainant, the archive."""
    st = styles()
    # a size smaller than the response letter's (11 pt): the body is longer, and the letter with its signature
    # and tembusan should fit one page, where the signature's appearance goes
    text = ParagraphStyle("referral_body", st["body"], fontSize=11, leading=14.5, spaceAfter=6)
    quoted = ParagraphStyle(
        "quoted", st["base"], fontSize=10.5, leading=13.5, leftIndent=1.25 * cm, rightIndent=0.5 * cm, spaceAfter=6
    )
    body: list[Flowable] = [
        Paragraph(inline(letter.opening()), text),
        Paragraph(f"\u201c{inline(letter.summary())}\u201d", quoted),
        *(Paragraph(inline(p), text) for p in letter.paragraphs()),
    ]
    return _letter(
        letter.letterhead,
        number=letter.number,
        dated=letter.signed_on,
        fields=[("Sifat", letter.sifat), ("Lampiran", letter.lampiran), ("Hal", letter.perihal)],
        addressee=(letter.agency, letter.agency_address),
        body=body,
        closing=REFERRAL_CLOSING,
        closing_style=text,
        signer=letter.signer,
        verify_url=letter.verify_url,
        signature_placeholder=True,
        title=letter.perihal,
        subject="Surat pelimpahan pengaduan",
        draft=False,
        copies=letter.copies(),
        footer_note=letter.footer,
    )


def _letter(
    lh: Letterhead,
    *,
    number: str,
    dated: date,
    fields: list[tuple[str, str]],
    addressee: tuple[str, str | None],
    body: list[Flowable],
    closing: str,
    signer: Signer,
    verify_url: str | None,
    signature_placeholder: bool,
    title: str,
    subject: str,
    draft: bool,
    copies: Sequence[str] = (),
    closing_style: ParagraphStyle | None = None,
    footer_note: str | None = None,
) -> RenderedLetter:
    st = styles()
    story: list[Flowable] = [*kop(lh, st), Spacer(1, 0.35 * cm)]
    story.append(Paragraph(inline(f"{lh.city}, {format_tanggal(dated)}"), st["right"]))
    story.append(Spacer(1, 0.35 * cm))
    story.append(fields_table([("Nomor", number), *fields], st, label_width=2.3 * cm))
    story.append(Spacer(1, 0.5 * cm))
    story.extend(_addressee(*addressee, st))
    story.append(Spacer(1, 0.5 * cm))
    story.extend(body)

    holder: list[SignatureBox] = []
    signature = _signature_table(signer, verify_url, holder if signature_placeholder else None, st)
    closing_paragraph = Paragraph(escape(closing), closing_style or st["body"])
    story.append(KeepTogether([closing_paragraph, Spacer(1, 0.4 * cm), signature]))
    if copies:
        story.append(Spacer(1, 0.3 * cm))
        story.append(KeepTogether([_copies(copies, st)]))

    header_number = f"{number} ({DRAFT_LABEL})" if draft else number
    pdf, pages = build(
        story,
        title=title,
        author=lh.kecamatan,
        subject=f"{subject} {header_number}",
        running_header=(lh.kecamatan, f"Nomor: {header_number}"),
        draft=draft,
        dated=datetime(dated.year, dated.month, dated.day, tzinfo=WIB),
        footer_note=footer_note,
    )
    return RenderedLetter(pdf=pdf, page_count=pages, signature_box=holder[-1] if holder else None)


def _addressee(name: str, address: str | None, st: dict[str, ParagraphStyle]) -> list[Flowable]:
    """``Yth. <name>``, ``di``, and the place indented under it ("Tempat" when there is none): the inner address
    of a surat dinas, without "Kepada"."""
    place = block(address) if address else ""
    indented = ParagraphStyle("addr", st["base"], leftIndent=1.0 * cm)
    return [
        Paragraph(f"Yth. {inline(name)}", st["base"]),
        Paragraph("di", st["base"]),
        Paragraph(place or "Tempat", indented),
    ]


def _signature_table(
    signer: Signer, verify_url: str | None, holder: list[SignatureBox] | None, st: dict[str, ParagraphStyle]
) -> Table:
    sig_w = 8.0 * cm
    signed = signature_block(signer, st, width=sig_w, holder=holder)
    left: Flowable | list[Flowable] | str = ""
    if verify_url:
        left = [qr_image(verify_url, 2.8 * cm), Spacer(1, 2), Paragraph(QR_CAPTION, st["caption"])]
    t = Table([[left, signed]], colWidths=[TEXT_W - sig_w, sig_w])
    t.setStyle(
        TableStyle(
            [
                ("VALIGN", (0, 0), (0, 0), "BOTTOM"),
                ("VALIGN", (1, 0), (1, 0), "TOP"),
                ("ALIGN", (0, 0), (0, 0), "LEFT"),
                *NO_PADDING,
                ("RIGHTPADDING", (0, 0), (0, 0), 2.2 * cm),  # keep the QR code clear of the signature
            ]
        )
    )
    return t


def tembusan_lines(copies: Sequence[str]) -> list[str]:
    """The Tembusan's entries as printed: "Yth." before each office (not twice, not before "Arsip")."""
    lines = []
    for copy in copies:
        text = " ".join(copy.split())
        if text.casefold() != ARCHIVE.casefold() and not text.startswith("Yth."):
            text = f"Yth. {text}"
        lines.append(text)
    return lines


def _copies(copies: Sequence[str], st: dict[str, ParagraphStyle]) -> Table:
    """Tembusan, at the foot of the letter on the left, smaller: "Tembusan:" and the entries, numbered when there
    are more than one."""
    small = ParagraphStyle("tembusan", st["base"], fontSize=10, leading=12.5)
    lines = tembusan_lines(copies)
    rows = [[Paragraph("Tembusan:", small), ""]]
    if len(lines) == 1:
        rows.append([Paragraph(inline(lines[0]), small), ""])
        spans = [("SPAN", (0, 0), (1, 0)), ("SPAN", (0, 1), (1, 1))]
    else:
        rows += [[Paragraph(f"{i}.", small), Paragraph(inline(line), small)] for i, line in enumerate(lines, start=1)]
        spans = [("SPAN", (0, 0), (1, 0))]
    t = Table(rows, colWidths=[0.7 * cm, TEXT_W - 0.7 * cm], hAlign="LEFT")
    t.setStyle(TableStyle([*NO_PADDING, *spans, ("VALIGN", (0, 0), (-1, -1), "TOP")]))
    return t
