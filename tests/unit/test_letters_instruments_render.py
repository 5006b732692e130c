"""The SOP's instruments and the surat pelimpahan as a reader sees them (services/letters/adapters/pdf/): the text
pypdf extracts, where it sits on the page (the kop above the title, the table's rows in order, the signature last),
the page's size and orientation, one page for a normal complaint. Also the a.n. signature block of a letter."""

from __future__ import annotations

import dataclasses
import io
from datetime import UTC, date, datetime
from zoneinfo import ZoneInfo

import pytest
from pypdf import PdfReader

from services.letters.adapters.pdf import (
    layout_referral_letter,
    render_control_card,
    render_disposition_sheet,
    render_response_letter,
)
from services.letters.domain.letter import DESCRIPTION_SUMMARY_MAX, DispositionSheet, ReferralLetter, Signer, Zone
from shared.contracts.workflow import LetterReturned
from tests.unit.test_letters_instruments_card import Stream, card_of, user, wib
from tests.unit.test_letters_render import (
    LETTER,
    LETTERHEAD,
    SIGNER,
    _png,
    encodes,
    flat,
    fragments,
    pages_text,
    qr_codes,
)

A4_PORTRAIT = (595, 842)
ZONE = Zone(ZoneInfo("Asia/Jakarta"), "WIB")
SHEET = DispositionSheet(
    letterhead=LETTERHEAD,
    zone=ZONE,
    city="Pegantenan",
    complainant_name="Siti Aminah",
    channel="Formulir web",
    tracking_code="7KQ2-M9XD-4T",
    register_number="12/2026",
    received_at=datetime(2026, 11, 23, 1, 15, tzinfo=UTC),  # 08.15 WIB
    subject="Jalan desa rusak di Dusun Bunangka",
    to_title="Kepala Seksi Pemerintahan",
    to_name="Moh. Kasi, S.Sos.",
    instructions="Segera klarifikasi ke Kepala Desa Pegantenan dan laporkan hasilnya.",
    disposed_at=datetime(2026, 11, 24, 3, 0, tzinfo=UTC),  # 10.00 WIB
    signer=SIGNER,
)
AGENCY = "Kepala Dinas Pekerjaan Umum dan Penataan Ruang Kabupaten Pamekasan"
DESCRIPTION = (
    "Jalan kabupaten ruas Pegantenan-Pakong rusak berat sejak Januari; lubang sedalam 30 cm membahayakan "
    "pengendara sepeda motor, terutama pada malam hari karena tidak ada penerangan jalan. Sudah dua kali terjadi "
    "kecelakaan. Warga sudah menimbun dengan batu namun rusak lagi setiap hujan deras turun di wilayah itu."
)
VERIFY_URL = "https://pengaduan.example/v1/letters/verify/0c1f6f1e-0000-4000-8000-000000000001"
SEKCAM_AN = Signer(
    title="a.n. CAMAT PEGANTENAN",
    office="SEKRETARIS KECAMATAN",
    name="Moh. Sekretaris, S.Sos.",
    rank="Pembina (IV/a)",
    nip="198001012005011002",
)
REFERRAL = ReferralLetter(
    letterhead=LETTERHEAD,
    kecamatan="Pegantenan",
    number="001/PELIMPAHAN/35.28.07/2026",
    signed_on=date(2026, 11, 24),
    agency=AGENCY,
    agency_address="Jl. Kabupaten No. 107, Pamekasan",
    tracking_code="7KQ2-M9XD-4T",
    received_on=date(2026, 11, 23),
    channel="Formulir web",
    complainant_name="Siti Aminah",
    subject="Jalan kabupaten rusak",
    description=DESCRIPTION,
    reason="Jalan tersebut berstatus jalan kabupaten, kewenangan Dinas PUPR",
    signer=SIGNER,
    follow_up_by=date(2026, 12, 14),
    verify_url=VERIFY_URL,
)


def page_sizes(pdf: bytes) -> list[tuple[int, int]]:
    return [(round(p.mediabox.width), round(p.mediabox.height)) for p in PdfReader(io.BytesIO(pdf)).pages]


def below(frags, *needles: str) -> None:
    """Each needle is on the page lower than the one before it (its first run below that one)."""
    y = float("inf")
    for needle in needles:
        found = [at for text, _x, at in frags if needle in text and at < y]
        assert found, f"{needle!r} not on the page below {y}"
        y = found[0]


def x_of(frags, needle: str) -> float:
    return next(x for text, x, _y in frags if needle in text)


def y_of(frags, needle: str) -> float:
    return next(y for text, _x, y in frags if needle in text)


# -- the Lembar Disposisi ----------------------------------------------------------------------------------------


def test_the_disposition_sheet_has_the_forms_fields_the_instructions_and_the_camats_signature_block():
    pdf = render_disposition_sheet(SHEET)
    (text,) = pages_text(pdf)
    t = flat(text)
    for expected in (
        "PEMERINTAH KABUPATEN PAMEKASAN",
        "KECAMATAN PEGANTENAN",
        "LEMBAR DISPOSISI",
        "Surat dari",
        "Siti Aminah (Formulir web)",
        "Diterima tanggal",
        "23 November 2026 pukul 08.15 WIB",
        "Nomor/kode pengaduan",
        "7KQ2-M9XD-4T",
        "Nomor Agenda",
        "12/2026",
        "Sifat",
        "Biasa",
        "Tanggal disposisi",
        "24 November 2026 pukul 10.00 WIB",
        "Perihal",
        "Jalan desa rusak di Dusun Bunangka",
        "Diteruskan kepada:",
        "Kepala Seksi Pemerintahan",
        "Moh. Kasi, S.Sos.",
        "Isi disposisi / instruksi:",
        "Segera klarifikasi ke Kepala Desa Pegantenan dan laporkan hasilnya.",
        "Pegantenan, 24 November 2026",
        "CAMAT PEGANTENAN",
        "Drs. MOH. NUR'AINI, M.Si",
        "Pembina Tk. I",
        "NIP. 19700512 199803 1 007",
    ):
        assert expected in t, expected
    assert "Pengalihan" not in t and "Dialihkan" not in t  # not a redirect


def test_the_disposition_sheet_is_one_upright_a4_page_the_kop_over_the_title_over_the_table_and_the_signature():
    pdf = render_disposition_sheet(SHEET)
    assert page_sizes(pdf) == [A4_PORTRAIT]
    frags = fragments(pdf)
    below(
        frags,
        "PEMERINTAH KABUPATEN PAMEKASAN",
        "LEMBAR DISPOSISI",
        "Surat dari",
        "Nomor/kode",
        "Sifat",
        "Perihal",
        "Diteruskan kepada:",
        "Kepala Seksi Pemerintahan",
        "Pegantenan, 24 November 2026",
        "CAMAT PEGANTENAN",
        "Drs. MOH. NUR'AINI, M.Si",
        "NIP. 19700512 199803 1 007",
    )
    # the form's two columns: the received date beside the sender, the instructions beside the addressee
    assert y_of(frags, "Diterima tanggal") == y_of(frags, "Surat dari")
    assert x_of(frags, "Diterima tanggal") > x_of(frags, "Siti Aminah")
    assert y_of(frags, "Isi disposisi") == y_of(frags, "Diteruskan kepada")
    assert x_of(frags, "Segera klarifikasi") > x_of(frags, "Kepala Seksi Pemerintahan")
    # the signature block on the right half
    assert x_of(frags, "CAMAT PEGANTENAN") > A4_PORTRAIT[0] / 2


def test_a_redirected_disposition_says_from_which_unit_and_why_and_a_plh_signs_as_plh():
    sheet = dataclasses.replace(
        SHEET,
        redirected_from="Seksi Ketenteraman dan Ketertiban Umum",
        redirect_reason="Urusan jalan desa ditangani Seksi Pemerintahan.",
        signer=dataclasses.replace(SIGNER, title="Plh. CAMAT PEGANTENAN", name="Moh. Sekretaris, S.Sos."),
    )
    pdf = render_disposition_sheet(sheet)
    t = flat(pages_text(pdf)[0])
    for expected in (
        "(Pengalihan Disposisi)",
        (
            "Dialihkan dari Seksi Ketenteraman dan Ketertiban Umum. Alasan: Urusan jalan desa ditangani Seksi "
            "Pemerintahan."
        ),
        "Plh. CAMAT PEGANTENAN",
        "Moh. Sekretaris, S.Sos.",
    ):
        assert expected in t, expected
    below(
        fragments(pdf), "LEMBAR DISPOSISI", "(Pengalihan Disposisi)", "Perihal", "Dialihkan dari", "Diteruskan kepada"
    )


def test_the_disposition_sheets_times_are_in_the_kabupatens_zone():
    wita = dataclasses.replace(SHEET, zone=Zone(ZoneInfo("Asia/Makassar"), "WITA"))
    t = flat(pages_text(render_disposition_sheet(wita))[0])
    assert "23 November 2026 pukul 09.15 WITA" in t and "24 November 2026 pukul 11.00 WITA" in t
    assert "WIB" not in t


def test_instructions_too_long_for_their_cell_are_printed_in_full_after_the_table():
    words = " ".join(f"kata{i}" for i in range(1500))
    pdf = render_disposition_sheet(dataclasses.replace(SHEET, instructions=words))
    texts = pages_text(pdf)
    assert len(texts) > 1
    t = flat(" ".join(texts))
    assert "(selengkapnya di bawah)" in t and "Isi disposisi / instruksi (selengkapnya):" in t
    assert "kata1499" in t  # the last word, after the table
    assert "NIP. 19700512 199803 1 007" in t


def test_the_disposition_sheet_prints_peoples_text_literally():
    hostile = dataclasses.replace(SHEET, instructions="<b>Tebal</b> & {{7*7}} <script>x</script>", subject="<i>S</i>")
    t = flat(pages_text(render_disposition_sheet(hostile))[0])
    assert "<b>Tebal</b> & {{7*7}} <script>x</script>" in t and "<i>S</i>" in t


# -- the surat pelimpahan ------------------------------------------------------------------------------------------


def test_the_referral_letter_is_an_official_letter_to_the_receiving_office():
    rendered = layout_referral_letter(REFERRAL)
    (text,) = pages_text(rendered.pdf)
    t = flat(text)
    for expected in (
        "Pegantenan, 24 November 2026",
        "001/PELIMPAHAN/35.28.07/2026",
        "Biasa",
        "1 (satu) berkas",
        "Pelimpahan Pengaduan Masyarakat",
        f"Yth. {AGENCY}",
        "Jl. Kabupaten No. 107, Pamekasan",
        (
            "Dengan hormat, menindaklanjuti pengaduan masyarakat yang kami terima pada tanggal 23 November 2026 "
            "melalui Formulir web (kode pengaduan 7KQ2-M9XD-4T) dari Sdr. Siti Aminah perihal Jalan kabupaten rusak"
        ),
        "Jalan kabupaten ruas Pegantenan-Pakong rusak berat sejak Januari",
        (
            "tidak termasuk dalam tugas pokok dan fungsi (tupoksi) Kecamatan Pegantenan, dengan pertimbangan: Jalan "
            "tersebut berstatus jalan kabupaten, kewenangan Dinas PUPR."
        ),
        f"kami limpahkan kepada {AGENCY} untuk ditindaklanjuti sesuai dengan kewenangan",
        "disampaikan kepada pengadu dan ditembuskan kepada Camat Pegantenan paling lambat tanggal 14 Desember 2026",
        "Demikian disampaikan, atas perhatian dan kerja samanya diucapkan terima kasih.",
        "CAMAT PEGANTENAN,",
        "Drs. MOH. NUR'AINI, M.Si",
        "Pembina Tk. I",
        "NIP. 19700512 199803 1 007",
        "Tembusan: 1. Yth. Sdr. Siti Aminah selaku pengadu 2. Arsip",
    ):
        assert expected in t, expected
    for label in ("Nomor", "Sifat", "Lampiran", "Hal"):
        assert label in text
    assert "DRAF" not in text and "Perihal" not in text and "Kepada" not in text and "Yth. Arsip" not in t


def test_the_referral_letter_is_one_page_in_order_with_room_for_the_signature_and_its_qr_code():
    """With the longest summary quoted, a two-line agency, an address and an a.n. signature (two title lines):
    still one page, so the signature's appearance (page 1) sits where the block leaves room for it."""
    letter = dataclasses.replace(REFERRAL, description=DESCRIPTION * 3, signer=SEKCAM_AN)
    rendered = layout_referral_letter(letter)
    assert rendered.page_count == 1 and page_sizes(rendered.pdf) == [A4_PORTRAIT]
    box = rendered.signature_box
    assert box is not None and box.page_index == 0
    frags = fragments(rendered.pdf)
    below(
        frags,
        "PEMERINTAH KABUPATEN PAMEKASAN",
        "Pegantenan, 24 November 2026",
        "001/PELIMPAHAN",
        "Pelimpahan Pengaduan Masyarakat",
        f"Yth. {AGENCY[:20]}",
        "Dengan hormat",
        "Demikian disampaikan",
        "a.n. CAMAT PEGANTENAN",
        "SEKRETARIS KECAMATAN",
        "Moh. Sekretaris, S.Sos.",
        "NIP. 198001012005011002",
        "Tembusan",
        "Arsip",
    )
    assert y_of(frags, "SEKRETARIS KECAMATAN") > box.y2 > box.y1 > y_of(frags, "Moh. Sekretaris, S.Sos.")
    (qr,) = qr_codes(rendered.pdf)
    assert encodes(qr, VERIFY_URL)


def test_the_quoted_description_is_cut_at_a_word_and_a_letter_without_address_goes_to_tempat():
    letter = dataclasses.replace(REFERRAL, description="kata " * 400, agency_address=None, follow_up_by=None)
    summary = letter.summary()
    assert len(summary) <= DESCRIPTION_SUMMARY_MAX and summary.endswith("kata\u2026")
    t = flat(pages_text(layout_referral_letter(letter).pdf)[0])
    assert "Tempat" in t and "paling lambat" not in t


def test_the_referral_letter_prints_peoples_text_literally():
    hostile = dataclasses.replace(REFERRAL, agency="<b>Dinas</b> & {{x}}", reason="<script>1</script>")
    t = flat(" ".join(pages_text(layout_referral_letter(hostile).pdf)))
    assert "Yth. <b>Dinas</b> & {{x}}" in t and "pertimbangan: <script>1</script>." in t


# -- a.n. signing ----------------------------------------------------------------------------------------------------


def test_a_letter_signed_a_n_the_camat_has_the_signers_own_office_on_the_line_under_the_title():
    pdf = render_response_letter(dataclasses.replace(LETTER, signer=SEKCAM_AN))
    t = flat(pages_text(pdf)[0])
    assert "a.n. CAMAT PEGANTENAN SEKRETARIS KECAMATAN" in t
    frags = fragments(pdf)
    below(frags, "a.n. CAMAT PEGANTENAN", "SEKRETARIS KECAMATAN", "Moh. Sekretaris, S.Sos.", "Pembina (IV/a)", "NIP.")
    assert abs(x_of(frags, "a.n. CAMAT") - x_of(frags, "SEKRETARIS KECAMATAN")) < 20  # both centred in the block


# -- the Kartu Kendali -------------------------------------------------------------------------------------------------


def test_the_kartu_kendali_is_one_landscape_page_for_a_complaint_that_went_its_way():
    """The longest usual case: a form from the complaint box (the staff's name on step 1), all 12 steps with a
    person's name each, the end row; the letterhead with a logo."""
    stream = Stream(channel="kotak", entered_by="staf.p").to_the_end()
    card = dataclasses.replace(card_of(stream), letterhead=dataclasses.replace(LETTERHEAD, logo_png=_png(120, 150)))
    pdf = render_control_card(card)
    ((width, height),) = page_sizes(pdf)
    assert (width, height) == A4_PORTRAIT[::-1]  # landscape
    (text,) = pages_text(pdf)
    t = flat(text)
    for expected in (
        "KARTU KENDALI PENGADUAN",
        "Kode pengaduan",
        "7KQ2-M9XD-4T",
        "Nomor agenda",
        "12/2026",
        "23 November 2026 pukul 08.00 WIB",
        "Kotak pengaduan",
        "Siti Aminah",
        "Jalan desa rusak",
        "Seksi Pemerintahan",
        "Batas selesai",
        "9 Desember 2026 pukul 16.00 WIB",  # 12 working days from Monday 23 November
        "Selesai: surat tanggapan dikirim kepada pengadu",
        "Mulai (WIB)",
        "Selesai (WIB)",
        "Waktu baku",
        "Waktu nyata",
        "Keterangan",
        "Moh. Sekretaris, S.Sos.",
        "6 jam 50 menit",
        "3,3 hari kerja",
        "Dicetak 30 November 2026 pukul 09.00 WIB",
    ):
        assert expected in t, expected
    frags = fragments(pdf)
    below(frags, "PEMERINTAH KABUPATEN PAMEKASAN", "KARTU KENDALI PENGADUAN", "Kode pengaduan", "Kegiatan")
    # the rows in the SOP's order, the end last
    below(
        frags,
        "Kegiatan",
        "Menerima Pengaduan Masyarakat",
        "Melakukan Verifikasi Identitas",
        "Memberi nomor dan mencatat",
        "Melakukan verifikasi substansi",
        "Melakukan klarifikasi",
        "Meminta staf menyiapkan",
        "Menyiapkan surat tanggapan",
        "Memeriksa surat tanggapan",
        "Menggandakan surat tanggapan",
        "Menandatangani surat tanggapan",
        "Memberi nomor surat",
        "Mengirim surat tanggapan",
        "Selesai: surat tanggapan dikirim",
    )
    # each row's cells on its line: step 1 was late (20 minutes for 15), the rest on time
    assert y_of(frags, "terlambat") == y_of(frags, "Menerima Pengaduan Masyarakat")
    assert x_of(frags, "Keterangan") > x_of(frags, "Waktu nyata") > x_of(frags, "Waktu baku") > x_of(frags, "Pelaksana")
    assert "Halaman" not in t


def test_a_kartu_kendali_that_runs_over_a_page_repeats_the_tables_head_and_names_the_complaint():
    stream = Stream().to_disposition()
    for i in range(12):  # a letter returned twelve times
        stream.step(
            LetterReturned, 8, user("sekcam.p", "sekcam"), wib(25, 9, i), letter_version=i + 1, notes="N", next_step=7
        )
    pdf = render_control_card(card_of(stream))
    texts = pages_text(pdf)
    assert len(texts) >= 2 and all(size == A4_PORTRAIT[::-1] for size in page_sizes(pdf))
    for i, page in enumerate(texts, start=1):
        assert f"Halaman {i} dari {len(texts)}" in page and "Keterangan" in page
    assert "Kartu Kendali 7KQ2-M9XD-4T" in texts[1] and "PEMERINTAH KABUPATEN" not in texts[1]


@pytest.mark.parametrize("channel", ["web", "kotak"])
def test_the_kartu_kendali_while_a_step_runs_says_so(channel):
    stream = Stream(channel=channel, entered_by="staf.p" if channel == "kotak" else None).to_disposition()
    t = flat(pages_text(render_control_card(card_of(stream, now=wib(24, 11))))[0])
    assert "sedang berjalan" in t and "Dalam proses: langkah 5" in t
    assert "Dicetak 24 November 2026 pukul 11.00 WIB" in t
