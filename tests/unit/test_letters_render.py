"""The response letter and the receipt as a reader sees them: the text pypdf extracts, where it sits on
the page, the QR code's content. services/letters/adapters/pdf/ (letters.py, forms.py)."""

from __future__ import annotations

import dataclasses
import io
import re
from datetime import UTC, date, datetime, timedelta, timezone

import pypdfium2 as pdfium
import pytest
import segno
import zxingcpp
from PIL import Image as PILImage
from pypdf import PdfReader

from services.letters.adapters.lambang import PLACEHOLDER
from services.letters.adapters.pdf import layout_response_letter, render_receipt, render_response_letter
from services.letters.adapters.pdf.layout import QR_MASK
from services.letters.domain.letter import (
    Letterhead,
    Receipt,
    ResponseLetter,
    Signer,
    Zone,
    format_waktu_wib,
)
from shared.contracts.intake import CHANNEL_LABELS
from shared.tanggal import format_tanggal

LAMBANG = PLACEHOLDER.read_bytes()  # 300 x 360 px
LETTERHEAD = Letterhead(
    pemerintah="PEMERINTAH KABUPATEN PAMEKASAN",
    kecamatan="KECAMATAN PEGANTENAN",
    address="Jalan Raya Pegantenan",
    phone="(0324) 7710982",
    city="Pegantenan",
    logo_png=LAMBANG,
    website="pegantenan.example.go.id",
    email="kecamatan@pegantenan.example.go.id",
    postal_code="69361",
)
SIGNER = Signer(
    title="CAMAT PEGANTENAN",
    name="Drs. MOH. NUR'AINI, M.Si",
    rank="Pembina Tk. I",
    nip="19700512 199803 1 007",
)
PARAGRAPHS = (
    "Menindaklanjuti pengaduan Saudara yang kami terima melalui formulir daring pada tanggal "  # noqa: ISC004
    "14 November 2026 perihal lambatnya pelayanan surat keterangan domisili, bersama ini kami "
    "sampaikan hal-hal sebagai berikut.",
    "Setelah dilakukan klarifikasi kepada petugas pelayanan, keterlambatan tersebut disebabkan oleh "  # noqa: ISC004
    "gangguan jaringan selama tiga hari kerja. Surat keterangan yang Saudara mohonkan telah selesai "
    "dan dapat diambil di loket pelayanan.",
    "Kami mohon maaf atas ketidaknyamanan yang Saudara alami.",
)
NUMBER = "400.14/123/432.312/2026"
VERIFY_URL = "https://pengaduan.example.go.id/v/PGD-7K3M-9QX2"
LETTER = ResponseLetter(
    letterhead=LETTERHEAD,
    number=NUMBER,
    date=date(2026, 11, 28),
    perihal="Tanggapan atas Pengaduan Pelayanan",
    addressee_name="Ma'ruf",
    addressee_address="Dusun Tengah, Desa Tebul Barat",
    body="\n\n".join(PARAGRAPHS),
    signer=SIGNER,
    verify_url=VERIFY_URL,
    tembusan=("Bupati Pamekasan (sebagai laporan)", "Inspektur Kabupaten Pamekasan"),
)
RECEIPT = Receipt(
    letterhead=LETTERHEAD,
    tracking_code="PGD-7K3M-9QX2",
    received_at=datetime(2026, 11, 28, 1, 15, tzinfo=UTC),  # 08.15 WIB
    channel="whatsapp",
    complainant_name="Nur'aini",
    subject="Pelayanan surat keterangan domisili lambat",
    track_url="https://pengaduan.example.go.id/lacak/PGD-7K3M-9QX2",
)


# ---------------------------------------------------------------------------------------------------
# Helpers


def pages_text(pdf: bytes) -> list[str]:
    return [page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages]


def flat(text: str) -> str:
    """Whitespace folded: a justified paragraph is wrapped over several lines in the PDF."""
    return " ".join(text.split())


def fragments(pdf: bytes, page_index: int = 0) -> list[tuple[str, float, float]]:
    """(text, x, y) of each text run on a page, in PDF points from the bottom left."""
    out: list[tuple[str, float, float]] = []

    def visit(text, cm, tm, _font, _size):
        if text.strip():
            x = tm[4] * cm[0] + tm[5] * cm[2] + cm[4]
            y = tm[4] * cm[1] + tm[5] * cm[3] + cm[5]
            out.append((text.strip(), x, y))

    PdfReader(io.BytesIO(pdf)).pages[page_index].extract_text(visitor_text=visit)
    return out


def y_of(frags: list[tuple[str, float, float]], needle: str) -> float:
    ys = [y for text, _x, y in frags if needle in text]
    assert ys, f"{needle!r} not found on the page"
    return ys[0]


def page_height(pdf: bytes) -> float:
    return float(PdfReader(io.BytesIO(pdf)).pages[0].mediabox.height)


def qr_codes(pdf: bytes, page_index: int = 0) -> list[PILImage.Image]:
    """The page's square images (QR codes), leaving out the lambang (300 x 360 px)."""
    images = PdfReader(io.BytesIO(pdf)).pages[page_index].images
    return [i.image for i in images if i.image.size[0] == i.image.size[1]]


def decoded(image: PILImage.Image) -> str | None:
    """What a QR reader makes of the image: zxing-cpp (the decoder behind many phone scanners), not the
    encoder that drew it; dark modules on light only (many scanners read no inverted code)."""
    found = zxingcpp.read_barcode(image.convert("L"), formats=zxingcpp.BarcodeFormat.QRCode, try_invert=False)
    return found.text if found is not None and found.valid else None


def qr_modules(image: PILImage.Image) -> list[list[bool]]:
    """Read the module grid of a QR code image (dark = True), without a decoder: find the symbol's
    bounding box, take the module size from the top-left finder pattern (7 modules wide), sample the
    centre of every module."""
    g = image.convert("L")
    w, h = g.size
    px = g.load()
    dark = [[px[x, y] < 128 for x in range(w)] for y in range(h)]
    rows = [y for y in range(h) if any(dark[y])]
    cols = [x for x in range(w) if any(dark[y][x] for y in rows)]
    top, left, right = rows[0], cols[0], cols[-1]
    run = 0
    while dark[top][left + run]:
        run += 1
    module = run / 7
    n = round((right - left + 1) / module)
    return [[dark[int(top + (r + 0.5) * module)][int(left + (c + 0.5) * module)] for c in range(n)] for r in range(n)]


def encodes(image: PILImage.Image, url: str) -> bool:
    """True when a QR reader reads ``url`` from the image and the image is, module for module, the symbol of ``url``
    at the letters' level and mask (a mirrored drawing, which a lenient reader forgives and many do not, fails)."""
    symbol = segno.make(url, error="m", micro=False, mask=QR_MASK)
    return decoded(image) == url and qr_modules(image) == [[bool(v) for v in row] for row in symbol.matrix]


def page_pixels(pdf: bytes, page_index: int = 0, dpi: int = 150) -> PILImage.Image:
    """The page as a printer or a screen shows it (pdfium), for a reader that sees the whole page."""
    document = pdfium.PdfDocument(pdf)
    try:
        return document[page_index].render(scale=dpi / 72).to_pil()
    finally:
        document.close()


LONG_PARAGRAPHS = 14  # four pages


def long_letter(paragraphs: int = LONG_PARAGRAPHS) -> ResponseLetter:
    body = "\n\n".join(
        f"Paragraf {i}. " + " ".join(["Pelayanan administrasi kependudukan di kecamatan"] * 12)
        for i in range(1, paragraphs + 1)
    )
    return dataclasses.replace(LETTER, body=body)


# ---------------------------------------------------------------------------------------------------
# Dates


def test_format_tanggal_uses_indonesian_month_names():
    assert format_tanggal(date(2026, 11, 28)) == "28 November 2026"
    months = [format_tanggal(date(2026, m, 1)).split()[1] for m in range(1, 13)]
    assert months == [
        "Januari",
        "Februari",
        "Maret",
        "April",
        "Mei",
        "Juni",
        "Juli",
        "Agustus",
        "September",
        "Oktober",
        "November",
        "Desember",
    ]


def test_format_waktu_wib_converts_to_western_indonesia_time():
    assert format_waktu_wib(datetime(2026, 11, 28, 1, 15, tzinfo=UTC)) == ("28 November 2026 pukul 08.15 WIB")
    # late evening UTC is already the next day in WIB
    assert format_waktu_wib(datetime(2026, 12, 31, 20, 5, tzinfo=UTC)) == ("1 Januari 2027 pukul 03.05 WIB")
    wita = timezone(timedelta(hours=8))
    assert format_waktu_wib(datetime(2026, 11, 28, 9, 15, tzinfo=wita)).endswith("pukul 08.15 WIB")


def test_format_waktu_wib_rejects_a_naive_datetime():
    with pytest.raises(ValueError):
        format_waktu_wib(datetime(2026, 11, 28, 8, 15))


# ---------------------------------------------------------------------------------------------------
# The response letter


def test_letter_carries_letterhead_fields_addressee_body_and_signer():
    pdf = render_response_letter(LETTER)
    assert pdf.startswith(b"%PDF-")
    (text,) = pages_text(pdf)
    t = flat(text)
    for expected in (
        "PEMERINTAH KABUPATEN PAMEKASAN",
        "KECAMATAN PEGANTENAN",
        "Jalan Raya Pegantenan, Telepon (0324) 7710982, Kode Pos 69361",
        "Laman pegantenan.example.go.id, Pos-el kecamatan@pegantenan.example.go.id",
        "Pegantenan, 28 November 2026",
        NUMBER,
        "Biasa",
        "Tanggapan atas Pengaduan Pelayanan",
        "Yth. Sdr. Ma'ruf",
        "Dusun Tengah, Desa Tebul Barat",
        *PARAGRAPHS,
        "Atas perhatiannya disampaikan terima kasih.",
        "CAMAT PEGANTENAN,",
        "Drs. MOH. NUR'AINI, M.Si",
        "Pembina Tk. I",
        "NIP. 19700512 199803 1 007",
        "Tembusan: 1. Yth. Bupati Pamekasan (sebagai laporan) 2. Yth. Inspektur Kabupaten Pamekasan",
    ):
        assert flat(expected) in t, expected
    for label in ("Nomor", "Sifat", "Lampiran", "Hal"):
        assert label in text
    assert "DRAF" not in text and "Perihal" not in text and "Kepada" not in text


def test_letter_without_body_is_refused():
    with pytest.raises(ValueError):
        render_response_letter(dataclasses.replace(LETTER, body=" \n\n \t"))


def test_letter_without_address_is_sent_to_tempat():
    (text,) = pages_text(render_response_letter(dataclasses.replace(LETTER, addressee_address=None)))
    assert "Tempat" in text


def test_letter_embeds_its_fonts():
    reader = PdfReader(io.BytesIO(render_response_letter(LETTER)))
    fonts = reader.pages[0]["/Resources"]["/Font"]
    descriptors = [f.get_object()["/FontDescriptor"].get_object() for f in fonts.values()]
    assert descriptors and all("/FontFile2" in d for d in descriptors)
    assert any("LiberationSans" in str(d["/FontName"]) for d in descriptors)


def test_long_letter_has_page_numbers_and_a_running_header_on_later_pages():
    rendered = layout_response_letter(long_letter())
    texts = pages_text(rendered.pdf)
    n = len(texts)
    assert n == 4 and rendered.page_count == n
    for i, text in enumerate(texts, start=1):
        assert f"Halaman {i} dari {n}" in text
    assert "PEMERINTAH KABUPATEN PAMEKASAN" in texts[0]
    height = page_height(rendered.pdf)
    for i in range(1, n):
        assert "KECAMATAN PEGANTENAN" in texts[i]
        assert f"Nomor: {NUMBER}" in texts[i]
        assert "PEMERINTAH KABUPATEN PAMEKASAN" not in texts[i]  # the full kop is on page 1 only
        frags = fragments(rendered.pdf, i)
        assert y_of(frags, "KECAMATAN PEGANTENAN") > 0.9 * height
        assert y_of(frags, f"Halaman {i + 1} dari {n}") < 0.1 * height
    # every paragraph made it, in order, and the signature closes the last page
    joined = flat(" ".join(texts))
    positions = [joined.index(f"Paragraf {i}.") for i in range(1, LONG_PARAGRAPHS + 1)]
    assert positions == sorted(positions)
    assert "NIP. 19700512 199803 1 007" in texts[-1]
    assert rendered.signature_box is not None and rendered.signature_box.page_index == n - 1


def test_a_one_page_letter_has_no_page_number():
    (text,) = pages_text(render_response_letter(LETTER))
    assert "Halaman" not in text


def test_user_text_is_printed_literally_never_interpreted():
    hostile = dataclasses.replace(
        LETTER,
        perihal="<b>Tebal</b> & {{7*7}}",
        addressee_name="<script>alert('x')</script>",
        addressee_address="Jl. {{ config }} No. 5 & <i>7</i>",
        body="Isi <script>alert(1)</script> dan {{7*7}} serta ${7*7} dan <para>x</para>\n\n"
        "&amp; &lt; <br/> <font color=red>merah</font> %(name)s {0}",
        signer=dataclasses.replace(SIGNER, name="<b>Ma'ruf</b>", nip="{{nip}}", rank="<i>Pembina</i>"),
        tembusan=("<u>garis</u> {% if x %}y{% endif %}",),
        letterhead=dataclasses.replace(LETTERHEAD, website="<a href='x'>laman</a>", email="{{pos_el}}"),
    )
    texts = pages_text(render_response_letter(hostile))
    t = flat(" ".join(texts))
    for literal in (
        "<b>Tebal</b> & {{7*7}}",
        "<script>alert('x')</script>",
        "Jl. {{ config }} No. 5 & <i>7</i>",
        "Isi <script>alert(1)</script> dan {{7*7}} serta ${7*7} dan <para>x</para>",
        "&amp; &lt; <br/> <font color=red>merah</font> %(name)s {0}",
        "<u>garis</u> {% if x %}y{% endif %}",
        "<b>Ma'ruf</b>",
        "<i>Pembina</i>",
        "NIP. {{nip}}",
        "Laman <a href='x'>laman</a>, Pos-el {{pos_el}}",
    ):
        assert literal in t, literal
    assert "49" not in t


def test_draft_says_draf_and_has_no_number():
    rendered = layout_response_letter(dataclasses.replace(LETTER, number=None))
    (text,) = pages_text(rendered.pdf)
    assert "DRAF" in text
    assert NUMBER not in text
    assert re.search(r"Nomor\s*:\s*\.\.\.", text)


def test_draft_marks_every_page():
    texts = pages_text(render_response_letter(dataclasses.replace(long_letter(6), number=None)))
    assert len(texts) >= 2
    assert all("DRAF" in text for text in texts)


def test_apostrophes_and_indonesian_names_survive():
    letter = dataclasses.replace(
        LETTER,
        addressee_name="Nur'aini binti Ma'ruf",
        addressee_address="Dusun Ta\u2019lok, Desa Bulangan Haji",
        body="Bapak H. Abd. Mu'in dan Ibu Siti Qur\u2019ani menyampaikan terima kasih.",
        signer=dataclasses.replace(SIGNER, name="Ma'ruf Amin"),
    )
    t = flat(pages_text(render_response_letter(letter))[0])
    for name in ("Nur'aini binti Ma'ruf", "Dusun Ta\u2019lok", "Mu'in", "Qur\u2019ani", "Ma'ruf Amin"):
        assert name in t


def test_qr_code_of_the_verify_url_is_drawn_near_the_signature():
    pdf = render_response_letter(LETTER)
    (qr,) = qr_codes(pdf)
    assert encodes(qr, VERIFY_URL)
    assert not encodes(qr, VERIFY_URL + "x")
    assert decoded(page_pixels(pdf)) == VERIFY_URL  # the printed page, as a phone held over it reads it
    (text,) = pages_text(pdf)
    assert "Pindai untuk memeriksa keaslian surat" in text
    frags = fragments(pdf)
    assert abs(y_of(frags, "Pindai untuk memeriksa") - y_of(frags, "NIP.")) < 3 * 72 / 2.54


def test_no_qr_code_without_verify_url():
    pdf = render_response_letter(dataclasses.replace(LETTER, verify_url=None))
    assert len(PdfReader(io.BytesIO(pdf)).pages[0].images) == 1 and qr_codes(pdf) == []  # the lambang only
    assert "Pindai" not in pages_text(pdf)[0]


def test_layout_kop_on_top_date_right_signature_below_body():
    pdf = render_response_letter(LETTER)
    frags = fragments(pdf)
    height = page_height(pdf)
    width = float(PdfReader(io.BytesIO(pdf)).pages[0].mediabox.width)
    for line in ("PEMERINTAH KABUPATEN PAMEKASAN", "KECAMATAN PEGANTENAN", "Jalan Raya Pegantenan"):
        assert y_of(frags, line) > 0.8 * height, line
    kop = y_of(frags, "Kode Pos 69361")
    date_line = next((x, y) for text, x, y in frags if "28 November 2026" in text)
    assert date_line[0] > width / 2 and date_line[1] < kop
    assert y_of(frags, "Nomor") < date_line[1]
    assert y_of(frags, "Yth. Sdr.") < y_of(frags, "Tanggapan atas Pengaduan")
    last_body = y_of(frags, "Kami mohon maaf")
    assert y_of(frags, "Menindaklanjuti") < y_of(frags, "Yth. Sdr.")
    assert y_of(frags, "CAMAT PEGANTENAN") < last_body
    assert y_of(frags, "NUR'AINI") < y_of(frags, "CAMAT PEGANTENAN") - 50  # room for the signature
    assert y_of(frags, "NIP.") < y_of(frags, "NUR'AINI")
    signer_x = next(x for text, x, _y in frags if "NUR'AINI" in text)
    assert signer_x > width / 2


def test_signature_box_lies_between_title_and_name():
    rendered = layout_response_letter(LETTER)
    box = rendered.signature_box
    assert box is not None and box.page_index == 0
    frags = fragments(rendered.pdf)
    assert y_of(frags, "NUR'AINI") < box.y1 < box.y2 < y_of(frags, "CAMAT PEGANTENAN")
    assert box.x2 - box.x1 > 150 and box.y2 - box.y1 > 50
    assert layout_response_letter(dataclasses.replace(LETTER, signature_placeholder=False)).signature_box is None


def test_rendering_is_deterministic_and_dated_by_the_letter():
    assert render_response_letter(LETTER) == render_response_letter(LETTER)
    meta = PdfReader(io.BytesIO(render_response_letter(LETTER))).metadata
    assert meta["/CreationDate"].startswith("D:20261128")
    assert meta["/Title"] == "Tanggapan atas Pengaduan Pelayanan"


def _png(width: int, height: int) -> bytes:
    buf = io.BytesIO()
    PILImage.new("RGB", (width, height), (20, 90, 160)).save(buf, format="PNG")
    return buf.getvalue()


def test_logo_is_drawn_left_of_the_kop():
    letter = dataclasses.replace(LETTER, letterhead=dataclasses.replace(LETTERHEAD, logo_png=_png(120, 150)))
    pdf = render_response_letter(letter)
    assert len(list(PdfReader(io.BytesIO(pdf)).pages[0].images)) == 2  # logo + QR
    no_logo = dataclasses.replace(LETTER, letterhead=dataclasses.replace(LETTERHEAD, logo_png=None))
    assert len(qr_codes(render_response_letter(no_logo))) == len(PdfReader(io.BytesIO(pdf)).pages[0].images) - 1
    assert flat(pages_text(pdf)[0]).startswith("PEMERINTAH KABUPATEN PAMEKASAN")


def test_logo_must_be_png():
    letter = dataclasses.replace(LETTER, letterhead=dataclasses.replace(LETTERHEAD, logo_png=b"GIF89a...."))
    with pytest.raises(ValueError):
        render_response_letter(letter)


# ---------------------------------------------------------------------------------------------------
# The receipt


def test_receipt_has_code_date_channel_and_the_sop_promise():
    pdf = render_receipt(RECEIPT)
    texts = pages_text(pdf)
    assert len(texts) == 1
    t = flat(texts[0])
    for expected in (
        "PEMERINTAH KABUPATEN PAMEKASAN",
        "KECAMATAN PEGANTENAN",
        "TANDA TERIMA PENGADUAN",
        "PGD-7K3M-9QX2",
        "28 November 2026 pukul 08.15 WIB",
        "WhatsApp",
        "Nur'aini",
        "Pelayanan surat keterangan domisili lambat",
        "Layanan ini tidak dipungut biaya",
        "Tanggapan paling lambat 12 hari kerja",
        RECEIPT.track_url,
    ):
        assert expected in t, expected
    assert y_of(fragments(pdf), "KECAMATAN PEGANTENAN") > 0.8 * page_height(pdf)


def test_receipt_says_received_with_the_promised_date_in_indonesian_and_the_documents():
    """Step 1 is receiving ("diterima"); registering is step 3, so the receipt does not say "dicatat". The promised
    date is the event's deadline_at, in the office's zone: 23.30 WIB on 15 December is 16 December in WITA."""
    receipt = dataclasses.replace(
        RECEIPT,
        respond_by=datetime(2026, 12, 15, 16, 30, tzinfo=UTC),  # 23.30 WIB, 00.30 WITA on the 16th
        documents=("foto", "ktp", "foto", "pdf-lain"),
    )
    t = flat(pages_text(render_receipt(receipt))[0])
    assert "Pengaduan Bapak/Ibu telah kami terima." in t and "dicatat" not in t
    assert "Batas tanggapan : 15 Desember 2026" in t
    assert "Tanggapan paling lambat 12 hari kerja sejak pengaduan diterima, yaitu tanggal 15 Desember 2026." in t
    assert "Dokumen diterima : Salinan KTP; Foto (2 berkas); Berkas lain" in t
    assert "Petugas penerima" not in t  # came in by WhatsApp: nobody typed it in

    wita = dataclasses.replace(receipt, zone=Zone(timezone(timedelta(hours=8)), "WITA"))
    t = flat(pages_text(render_receipt(wita))[0])
    assert "Batas tanggapan : 16 Desember 2026" in t and "yaitu tanggal 16 Desember 2026" in t
    assert "28 November 2026 pukul 09.15 WITA" in t


def test_receipt_of_a_complaint_box_form_names_the_receiving_officer_and_no_documents():
    receipt = dataclasses.replace(RECEIPT, channel="kotak", received_by="Hj. Rofiqoh, S.Sos.")
    t = flat(pages_text(render_receipt(receipt))[0])
    assert "Saluran : Kotak pengaduan" in t and "Petugas penerima : Hj. Rofiqoh, S.Sos." in t
    assert "Dokumen diterima : Tidak ada" in t
    assert "Batas tanggapan" not in t and "yaitu tanggal" not in t  # no deadline known: no date made up


@pytest.mark.parametrize("channel,label", sorted(CHANNEL_LABELS.items()))
def test_receipt_names_the_channel_in_indonesian(channel, label):
    text = pages_text(render_receipt(dataclasses.replace(RECEIPT, channel=channel)))[0]
    assert label in text


def test_receipt_channel_labels():
    assert CHANNEL_LABELS == {
        "web": "Formulir web",
        "sms": "SMS",
        "whatsapp": "WhatsApp",
        "email": "E-mail",
        "kotak": "Kotak pengaduan",
        "telepon": "Telepon",
        "datang": "Datang langsung",
        "lapor": "SP4N-LAPOR!",  # a report SP4N-LAPOR! disposed to the kecamatan (docs/adr/0023)
    }


def test_receipt_rejects_an_unknown_channel_and_a_naive_time():
    with pytest.raises(ValueError):
        render_receipt(dataclasses.replace(RECEIPT, channel="merpati"))
    with pytest.raises(ValueError):
        render_receipt(dataclasses.replace(RECEIPT, received_at=datetime(2026, 11, 28, 8, 15)))


def test_receipt_stays_on_one_page_with_a_long_subject_and_prints_it_literally():
    receipt = dataclasses.replace(RECEIPT, subject="<script>{{7*7}}</script> " + "jalan rusak berlubang " * 200)
    texts = pages_text(render_receipt(receipt))
    assert len(texts) == 1
    assert "<script>{{7*7}}</script>" in texts[0]
    assert "49" not in texts[0]


def test_receipt_stays_on_one_page_with_a_long_name_and_url():
    receipt = dataclasses.replace(
        RECEIPT, complainant_name="Nur'aini " * 100, track_url="https://x.example/" + "a" * 400
    )
    assert len(pages_text(render_receipt(receipt))) == 1


def test_receipt_qr_code_points_to_the_tracking_page():
    pdf = render_receipt(RECEIPT)
    (qr,) = qr_codes(pdf)
    assert encodes(qr, RECEIPT.track_url)
    assert decoded(page_pixels(pdf)) == RECEIPT.track_url
