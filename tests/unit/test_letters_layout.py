"""The surat dinas as Permendagri 1/2023 lays it out, read back from the PDF (issue #16 item 2): where each part
sits on the page, by the text pypdf extracts and the images the page draws. The kop (the kabupaten's lambang at
the top left, its lines centred beside it, the double rule under it), the date line on the right, Nomor / Sifat /
Lampiran / Hal on the left, "Yth. Sdr. <name>" / "di" / the place, the body, the signature block (jabatan, room to
sign, name, pangkat, NIP) on the right, the Tembusan at the bottom left; the same kop on the surat pelimpahan, the
receipt and the Lembar Disposisi."""

from __future__ import annotations

import dataclasses
import io

import pytest
from pypdf import PdfReader
from pypdf.generic import ContentStream
from reportlab.lib.units import cm
from reportlab.pdfbase.pdfmetrics import stringWidth

from services.letters.adapters.pdf import (
    layout_referral_letter,
    layout_response_letter,
    render_disposition_sheet,
    render_receipt,
)
from services.letters.adapters.pdf.layout import FONT, FONT_BOLD, LAMBANG_BOX, PORTRAIT, styles
from services.letters.adapters.pdf.letters import tembusan_lines
from services.letters.domain.letter import ARCHIVE, Letterhead, addressed
from tests.unit.test_letters_instruments_render import REFERRAL, SHEET
from tests.unit.test_letters_render import LAMBANG, LETTER, LETTERHEAD, RECEIPT, flat, fragments, pages_text

LEFT = PORTRAIT.left  # 2.5 cm
RIGHT = PORTRAIT.width - PORTRAIT.right  # 2 cm from the right edge
TOP = PORTRAIT.height - PORTRAIT.top  # 1.5 cm from the top
LAMBANG_PIXELS = (300, 360)  # the placeholder's
LAMBANG_DRAWN = (2.2 * cm * 300 / 360, 2.2 * cm)  # 300 x 360 px fitted into the kop's 2.0 x 2.2 cm


def images_drawn(
    pdf: bytes, page_index: int = 0
) -> list[tuple[str, tuple[int, int], tuple[float, float, float, float]]]:
    """Each image XObject the page draws: its name, its size in pixels and where it lands (x, y, width, height in
    points from the bottom left), following the content stream's q/Q and cm."""
    page = PdfReader(io.BytesIO(pdf)).pages[page_index]
    xobjects = page["/Resources"]["/XObject"]
    ctm = (1.0, 0.0, 0.0, 1.0, 0.0, 0.0)
    stack: list[tuple[float, ...]] = []
    found = []
    for operands, operator in ContentStream(page.get_contents(), page.pdf).operations:
        if operator == b"q":
            stack.append(ctm)
        elif operator == b"Q":
            ctm = stack.pop()
        elif operator == b"cm":
            a, b, c, d, e, f = (float(v) for v in operands)  # the new matrix, applied before the current one
            m = ctm
            ctm = (
                a * m[0] + b * m[2],
                a * m[1] + b * m[3],
                c * m[0] + d * m[2],
                c * m[1] + d * m[3],
                e * m[0] + f * m[2] + m[4],
                e * m[1] + f * m[3] + m[5],
            )
        elif operator == b"Do":
            xobject = xobjects[operands[0]].get_object()
            if xobject["/Subtype"] == "/Image":
                size = (int(xobject["/Width"]), int(xobject["/Height"]))
                found.append((str(operands[0]), size, (ctm[4], ctm[5], ctm[0], ctm[3])))
    return found


def lambang_of(pdf: bytes) -> tuple[float, float, float, float]:
    """Where the lambang (the image of the placeholder's pixel size) is drawn on page 1."""
    (placed,) = [where for _name, size, where in images_drawn(pdf) if size == LAMBANG_PIXELS]
    return placed


def frag(frags, needle: str, *, exact: bool = False) -> tuple[str, float, float]:
    hits = [f for f in frags if (f[0] == needle if exact else needle in f[0])]
    assert hits, f"{needle!r} not on the page"
    return hits[0]


def centre(text: str, x: float, font: str, size: float) -> float:
    styles()  # the fonts registered
    return x + stringWidth(text, font, size) / 2


def assert_kop(pdf: bytes, lh: Letterhead = LETTERHEAD, *, width: float = PORTRAIT.text_width) -> float:
    """The kop of page 1: the lambang at the top left, at its size; the government, the office, the address and
    contact lines each centred on one axis right of the lambang, top to bottom; everything else below the lambang.
    Returns the kop's lowest y (its last line)."""
    frags = fragments(pdf)
    x, y, w, h = lambang_of(pdf)
    assert w == pytest.approx(LAMBANG_DRAWN[0], abs=0.5) and h == pytest.approx(LAMBANG_DRAWN[1], abs=0.5)
    assert x == pytest.approx(LEFT, abs=1)  # against the left margin
    assert TOP - 3.0 * cm < y and y + h <= TOP + 0.5  # in the kop's band, under the top margin
    lines = [
        (lh.pemerintah, FONT_BOLD, 14),
        (lh.kecamatan, FONT_BOLD, 17),
        (lh.address_line(), FONT, 9.5),
        (lh.contact_line(), FONT, 9.5),
    ]
    placed = [(text, *frag(frags, text, exact=True)[1:], font, size) for text, font, size in lines if text]
    ys = [py for _t, _x, py, _f, _s in placed]
    assert ys == sorted(ys, reverse=True), "the kop's lines top to bottom"
    axes = [centre(t, px, f, s) for t, px, _py, f, s in placed]
    assert max(axes) - min(axes) < 1.5, f"the kop's lines share one centre: {axes}"
    assert x + w < min(px for _t, px, *_ in placed), "the text right of the lambang"
    assert y <= min(ys) and max(ys) <= y + h + 2, "the lines beside the lambang"
    assert LEFT + 2.4 * cm < axes[0] < LEFT + width  # centred in the room beside the lambang
    return min(ys)


def test_the_response_letter_read_back_in_the_order_and_places_of_a_surat_dinas():
    rendered = layout_response_letter(LETTER)
    pdf = rendered.pdf
    assert rendered.page_count == 1
    frags = fragments(pdf)
    kop_bottom = assert_kop(pdf)

    # the date line: under the kop, ending at the right margin
    date_text, date_x, date_y = frag(frags, "Pegantenan, 28 November 2026", exact=True)
    assert date_y < kop_bottom - 10
    assert date_x + stringWidth(date_text, FONT, 12) == pytest.approx(RIGHT, abs=1)

    # Nomor / Sifat / Lampiran / Hal on the left, in that order, under the date line; "Hal", not "Perihal"
    heading = [frag(frags, label, exact=True) for label in ("Nomor", "Sifat", "Lampiran", "Hal")]
    assert [f[1] for f in heading] == [pytest.approx(LEFT, abs=0.5)] * 4
    assert [f[2] for f in heading] == sorted((f[2] for f in heading), reverse=True) and heading[0][2] < date_y
    assert frag(frags, LETTER.perihal)[2] == pytest.approx(heading[3][2], abs=0.5)  # on the Hal line
    assert frag(frags, LETTER.number or "")[2] == pytest.approx(heading[0][2], abs=0.5)

    # the addressee: "Yth. Sdr. <name>", then "di", then the place indented under it, all under Hal
    yth = frag(frags, "Yth. Sdr. Ma'ruf", exact=True)
    di = frag(frags, "di", exact=True)
    place = frag(frags, "Dusun Tengah, Desa Tebul Barat", exact=True)
    assert heading[3][2] > yth[2] > di[2] > place[2]
    assert yth[1] == pytest.approx(LEFT, abs=0.5) and di[1] == pytest.approx(LEFT, abs=0.5)
    assert place[1] == pytest.approx(LEFT + 1.0 * cm, abs=0.5)

    # the body, then the signature block on the right: jabatan, room to sign, name, pangkat, NIP, each centred
    body = frag(frags, "Menindaklanjuti")[2]
    closing = frag(frags, "Demikian tanggapan")[2]
    assert place[2] > body > closing
    block = [
        ("CAMAT PEGANTENAN,", FONT),
        ("Drs. MOH. NUR'AINI, M.Si", FONT_BOLD),
        ("Pembina Tk. I", FONT),
        ("NIP. 19700512 199803 1 007", FONT),
    ]
    signed = [frag(frags, text, exact=True) for text, _font in block]
    assert closing > signed[0][2]
    assert [s[2] for s in signed] == sorted((s[2] for s in signed), reverse=True)
    assert signed[0][2] - signed[1][2] > 2.6 * cm  # the room for the signature
    axes = [centre(text, s[1], font, 12) for (text, font), s in zip(block, signed, strict=True)]
    assert max(axes) - min(axes) < 1.5 and min(axes) > PORTRAIT.width / 2

    # Tembusan at the bottom left, under the NIP, "Yth." before each office, numbered
    tembusan = frag(frags, "Tembusan:", exact=True)
    first = frag(frags, "Yth. Bupati Pamekasan (sebagai laporan)", exact=True)
    second = frag(frags, "Yth. Inspektur Kabupaten Pamekasan", exact=True)
    assert signed[-1][2] > tembusan[2] > first[2] > second[2]
    assert tembusan[1] == pytest.approx(LEFT, abs=0.5) and first[1] < PORTRAIT.width / 3
    assert frag(frags, "1.", exact=True)[2] == pytest.approx(first[2], abs=0.5)
    assert frag(frags, "2.", exact=True)[2] == pytest.approx(second[2], abs=0.5)


def test_a_letter_without_tembusan_has_none_and_a_single_one_is_not_numbered():
    (text,) = pages_text(layout_response_letter(dataclasses.replace(LETTER, tembusan=())).pdf)
    assert "Tembusan" not in text
    one = layout_response_letter(dataclasses.replace(LETTER, tembusan=("Bupati Pamekasan (sebagai laporan)",))).pdf
    frags = fragments(one)
    assert frag(frags, "Yth. Bupati Pamekasan (sebagai laporan)", exact=True)[1] == pytest.approx(LEFT, abs=0.5)
    assert "1." not in [t for t, _x, _y in frags]


def test_the_complainant_is_addressed_as_saudara_once():
    assert addressed("Siti Aminah") == "Sdr. Siti Aminah"
    assert addressed("  Siti   Aminah ") == "Sdr. Siti Aminah"
    for written in ("Sdr. Ma'ruf", "Bapak H. Sulaiman", "Ibu Nur'aini", "saudari Fatimah"):
        assert addressed(written) == written
    assert addressed("Ibrahim") == "Sdr. Ibrahim" and addressed("Bapakoro") == "Sdr. Bapakoro"  # names, not titles


def test_tembusan_lines_put_yth_before_each_office_but_not_the_archive_nor_twice():
    assert tembusan_lines(["Bupati Pamekasan", "Yth. Inspektur", "  Camat   Pakong ", ARCHIVE]) == [
        "Yth. Bupati Pamekasan",
        "Yth. Inspektur",
        "Yth. Camat Pakong",
        "Arsip",
    ]


def test_the_kop_leaves_out_what_it_does_not_know_and_the_kode_pos_once():
    bare = Letterhead("PEMERINTAH KABUPATEN X", "KECAMATAN Y", "Jalan Z 69361", None, "Y", postal_code="69361")
    assert (bare.address_line(), bare.contact_line()) == ("Jalan Z 69361", "")
    full = dataclasses.replace(bare, address="Jalan Z", phone="(0324) 1", website="y.go.id", email="y@y.go.id")
    assert full.address_line() == "Jalan Z, Telepon (0324) 1, Kode Pos 69361"
    assert full.contact_line() == "Laman y.go.id, Pos-el y@y.go.id"
    (text,) = pages_text(layout_response_letter(dataclasses.replace(LETTER, letterhead=bare)).pdf)
    assert "Jalan Z 69361" in text and "Kode Pos" not in text and "Laman" not in text and "Pos-el" not in text


def test_the_surat_pelimpahan_has_the_same_kop_hal_addressee_and_tembusan():
    pdf = layout_referral_letter(REFERRAL).pdf
    assert_kop(pdf)
    frags = fragments(pdf)
    hal = frag(frags, "Hal", exact=True)
    yth = frag(frags, "Yth. Kepala Dinas Pekerjaan Umum")
    assert hal[1] == pytest.approx(LEFT, abs=0.5) and hal[2] > yth[2] > frag(frags, "di", exact=True)[2]
    tembusan = frag(frags, "Tembusan:", exact=True)
    complainant = frag(frags, "Yth. Sdr. Siti Aminah selaku pengadu", exact=True)
    archive = frag(frags, "Arsip", exact=True)
    assert frag(frags, "NIP.")[2] > tembusan[2] > complainant[2] > archive[2]
    assert tembusan[1] == pytest.approx(LEFT, abs=0.5)
    assert "Yth. Arsip" not in flat(pages_text(pdf)[0])
    assert "Sdr. Sdr." not in flat(pages_text(pdf)[0])


@pytest.mark.parametrize(
    "render",
    [lambda: render_receipt(RECEIPT), lambda: render_disposition_sheet(SHEET)],
    ids=["receipt", "lembar-disposisi"],
)
def test_the_receipt_and_the_lembar_disposisi_carry_the_same_kop(render):
    pdf = render()
    kop_bottom = assert_kop(pdf)
    title = "TANDA TERIMA PENGADUAN" if "TANDA TERIMA" in pages_text(pdf)[0] else "LEMBAR DISPOSISI"
    assert frag(fragments(pdf), title)[2] < kop_bottom


def test_the_lambang_box_is_the_kops_height():
    assert (2.0 * cm, 2.2 * cm) == LAMBANG_BOX


def test_the_lambang_is_the_kabupatens_image_unchanged():
    """The PNG given is what the PDF carries (its pixels, not a re-drawing): the placeholder's size and colours."""
    from PIL import Image

    page = PdfReader(io.BytesIO(layout_response_letter(LETTER).pdf)).pages[0]
    (lambang,) = [i for i in page.images if i.image.size == LAMBANG_PIXELS]
    original = Image.open(io.BytesIO(LAMBANG)).convert("L")
    drawn = lambang.image.convert("L")
    assert drawn.size == original.size
    assert drawn.getpixel((150, 180)) == pytest.approx(original.getpixel((150, 180)), abs=2)
