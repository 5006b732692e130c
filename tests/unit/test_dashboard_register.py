"""The Buku Rekap Pengaduan's lines, masking and files (pure: no database)."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest

from services.dashboard.adapters import exports
from services.dashboard.domain import register as book
from services.dashboard.entrypoints.deps import FilterErrors
from shared import masking
from shared.http import ApiError

WIB = ZoneInfo("Asia/Jakarta")


def row(**extra) -> dict:
    base = {
        "complaint_id": uuid.uuid4(),
        "tracking_code": "7KQ2-M9XD-4T",
        "register_number": 12,
        "register_year": 2026,
        "received_at": datetime(2026, 2, 3, 2, 15, tzinfo=ZoneInfo("UTC")),  # 09:15 WIB
        "complainant_name": "Siti Aminah",
        "complainant_nik": "3528071505900001",
        "complainant_phone": "+6281234567890",
        "complainant_email": "siti@example.id",
        "complainant_address": "Dusun Bunangka, Desa Pegantenan",
        "channel": "web",
        "subject": "Jalan desa rusak",
        "status": "closed",
        "outcome": "resolved",
        "current_step": None,
        "disposition_unit": "pemerintahan",
        "disposition_instructions": "Koordinasikan dengan desa.",
        "disposed_at": datetime(2026, 2, 3, 3, 0, tzinfo=WIB),
        "follow_up": "Perbaikan dijadwalkan bulan depan.",
        "followed_up_at": None,
        "referred_to": None,
        "agency_kind": None,
        "referral_reason": None,
        "referred_at": None,
        "letter_number": "001/PENGADUAN/35.28.07/2026",
        "letter_signed_at": datetime(2026, 2, 4, 10, 0, tzinfo=WIB),
        "sent_at": datetime(2026, 2, 5, 11, 0, tzinfo=WIB),
        "sent_channel": "pos",
        "receipt": "Diterima oleh pengadu",
        "referral_state": None,
        "referral_follow_up_by": None,
        "referral_letter_number": None,
        "referral_answer": None,
        "referral_answered_on": None,
        "referral_reference": None,
        "referral_ended_at": None,
    }
    base.update(extra)
    return base


def test_masks_as_the_kabupaten_sees_them():
    assert masking.mask_nik("3528071505900001") == "3528********0001"
    assert masking.mask_phone("+6281234567890") == "+62812****890"
    assert masking.mask_email("siti@example.id") == "s***@example.id"
    assert masking.mask_name("Siti Aminah") == "Siti ***"
    assert masking.mask_address("Desa Pegantenan") == "***"
    assert masking.mask_nik(None) is None and masking.mask_phone("") == ""


def test_a_line_shows_everything_to_staff_and_masks_for_others():
    inside = book.item(row(), masked=False)
    assert inside["complainant"]["nik"] == "3528071505900001" and inside["register_number"] == "12/2026"
    assert inside["disposition"]["instructions"] == "Koordinasikan dengan desa."
    outside = book.item(row(), masked=True)
    assert outside["complainant"] == {
        "name": "Siti ***",
        "nik": "3528********0001",
        "phone": "+62812****890",
        "email": "s***@example.id",
        "address": "***",
    }
    assert outside["disposition"]["instructions"] == book.HIDDEN and outside["follow_up"]["text"] == book.HIDDEN
    assert outside["subject"] == book.HIDDEN and outside["tracking_code"] is None
    assert outside["status_label"] == "Selesai, tanggapan dikirim"


def test_printed_columns_and_labels():
    values = book.line(row(), masked=False, tz=WIB)
    assert len(values) == len(book.COLUMNS)
    assert values[0] == "12/2026" and values[1] == datetime(2026, 2, 3, 9, 15)
    assert values[6] == "Unit pemerintahan: Koordinasikan dengan desa."
    assert values[8] == "001/PENGADUAN/35.28.07/2026, 04-02-2026"
    referred = book.line(
        row(referred_to="Dinas PUPR", agency_kind="opd", outcome="referred", disposition_unit=None), masked=True, tz=WIB
    )
    # a referral written before referrals were followed (closed at once) reads as it always did
    assert referred[6] == "Dilimpahkan ke Dinas PUPR (OPD)" and referred[10] == "Dilimpahkan"
    assert book.status_label({"status": "in_progress", "current_step": 5}) == "Dalam proses (langkah 5)"
    assert book.status_label({"status": "awaiting_documents"}) == "Menunggu kelengkapan identitas"
    assert book.status_label({"status": "objection"}) == "Keberatan pengadu, menunggu jawaban Camat"  # ADR 0020
    assert (
        book.status_label({"status": "in_progress", "current_step": 5, "reopened": 1}) == "Dibuka kembali (langkah 5)"
    )


FOLLOW_UP = datetime(2026, 2, 24, 9, 0, tzinfo=WIB)
ANSWER = "Jalan Dusun Bunangka diperbaiki bulan Maret; Ibu Siti Aminah dapat menghubungi kami."


def referral(state: str, **extra) -> dict:
    return row(
        status="referred" if state == "followed" else "closed",
        outcome=None if state == "followed" else "referred",
        current_step=4 if state == "followed" else None,
        disposition_unit=None,
        disposition_instructions=None,
        follow_up=None,
        letter_number=None,
        letter_signed_at=None,
        sent_at=None,
        sent_channel=None,
        receipt=None,
        referred_to="Dinas PUPR",
        agency_kind="opd",
        referral_reason="Jalan kabupaten",
        referred_at=datetime(2026, 2, 4, 9, 0, tzinfo=WIB),
        referral_state=state,
        referral_follow_up_by=FOLLOW_UP,
        referral_letter_number="001/PELIMPAHAN/35.28.07/2026",
        **extra,
    )


def test_a_followed_referral_reads_dilimpahkan_and_until_when_the_kecamatan_waits():
    values = book.line(referral("followed"), masked=False, tz=WIB)
    assert values[6] == "Dilimpahkan ke Dinas PUPR (OPD), surat pelimpahan 001/PELIMPAHAN/35.28.07/2026"
    assert values[7] == "Menunggu tanggapan Dinas PUPR, dipantau s.d. 24-02-2026"
    assert values[8] == "" and values[9] is None
    assert values[10] == "Dilimpahkan, menunggu tanggapan (dipantau s.d. 24-02-2026)"
    item = book.item(referral("followed"), masked=False, tz=WIB)
    assert item["status"] == "referred" and item["status_label"] == values[10]
    assert {k: item["referral"][k] for k in ("agency", "state", "letter_number", "follow_up_by", "answer")} == {
        "agency": "Dinas PUPR",
        "state": "followed",
        "letter_number": "001/PELIMPAHAN/35.28.07/2026",
        "follow_up_by": FOLLOW_UP,
        "answer": None,
    }


def test_an_answered_referral_carries_the_offices_answer_and_a_lapsed_one_says_none_came():
    answered = referral(
        "answered",
        referral_answer=ANSWER,
        referral_answered_on=date(2026, 2, 20),
        referral_reference="surat 100/23/2026",
        referral_ended_at=datetime(2026, 2, 21, 10, 0, tzinfo=WIB),
    )
    values = book.line(answered, masked=False, tz=WIB)
    assert values[7] == f"Tanggapan Dinas PUPR tanggal 20-02-2026 (surat 100/23/2026): {ANSWER}"
    assert values[10] == "Dilimpahkan, sudah ditanggapi"
    item = book.item(answered, masked=False, tz=WIB)
    assert item["referral"]["answer"] == {
        "text": ANSWER,
        "answered_on": date(2026, 2, 20),
        "reference": "surat 100/23/2026",
        "at": datetime(2026, 2, 21, 10, 0, tzinfo=WIB),
    }
    lapsed = book.line(referral("lapsed"), masked=False, tz=WIB)
    assert lapsed[7] == "Tidak ada tanggapan Dinas PUPR s.d. 24-02-2026"
    assert lapsed[10] == "Dilimpahkan, tanpa tanggapan"


def test_the_offices_answer_is_never_shown_to_a_masked_reader():
    answered = referral("answered", referral_answer=ANSWER, referral_reference="surat kepada Siti Aminah")
    for shown in (book.line(answered, masked=True, tz=WIB), book.item(answered, masked=True, tz=WIB)):
        assert "Bunangka" not in str(shown) and "Aminah" not in str(shown)
    assert book.line(answered, masked=True, tz=WIB)[6].startswith("Dilimpahkan ke Dinas PUPR (OPD)")


def test_the_xlsx_is_laid_out_for_printing():
    lines = [book.line(row(register_number=n), masked=False, tz=WIB) for n in (1, 2, 3)]
    data = exports.xlsx(
        lines,
        kecamatan="Pegantenan",
        kabupaten="Kabupaten Pamekasan",
        period="Periode: 01-02-2026 s.d. 28-02-2026",
        generated="28-02-2026 10:00",
    )
    ws = openpyxl.load_workbook(io.BytesIO(data)).active
    assert (
        ws["A1"].value == "BUKU REKAP PENGADUAN" and "PEGANTENAN" in ws["A2"].value and "01-02-2026" in ws["A3"].value
    )
    header = [c.value for c in ws[exports.HEADER_ROW]]
    assert header == [name for name, _ in book.COLUMNS] and all(c.font.bold for c in ws[exports.HEADER_ROW])
    assert [ws.cell(row=r, column=1).value for r in range(6, 9)] == ["1/2026", "2/2026", "3/2026"]
    assert ws.cell(row=6, column=2).value == datetime(2026, 2, 3, 9, 15)
    assert ws.cell(row=6, column=6).alignment.wrap_text
    assert ws.page_setup.orientation == "landscape" and str(ws.page_setup.paperSize) == str(ws.PAPERSIZE_A4)
    assert ws.print_title_rows == "$5:$5"  # the header row repeats on every printed page
    assert ws.column_dimensions["F"].width == dict(book.COLUMNS)["Perihal / Isi Singkat"]


def test_the_csv_has_a_bom_and_parses():
    data = exports.csv_bytes([book.line(row(), masked=True, tz=WIB)])
    assert data.startswith(b"\xef\xbb\xbf")
    rows = list(csv.reader(io.StringIO(data.decode("utf-8-sig"))))
    assert rows[0][0] == "No. Register" and rows[1][0] == "12/2026" and rows[1][1] == "03-02-2026 09:15"
    assert rows[1][2] == "Siti ***" and rows[1][3] == "***"


def test_bad_filters_are_named_with_a_code_each():
    errors = FilterErrors()
    errors.period("2026-02-30", "kemarin")
    errors.integer("year", "dua ribu", None, 2000, 2100)
    errors.integer("page", "0", 1, 1, 10)
    with pytest.raises(ApiError) as caught:
        errors.raise_if_any()
    assert caught.value.status == 422 and caught.value.code == "validation_error"
    assert [(e.field, e.code) for e in caught.value.errors] == [
        ("from", "invalid_date"),
        ("to", "invalid_date"),
        ("year", "invalid_number"),
        ("page", "out_of_range"),
    ]
    reversed_ = FilterErrors()
    reversed_.period("2026-03-01", "2026-02-01")
    assert [(e.field, e.code) for e in reversed_.errors] == [("to", "period_reversed")]


# -- streamed files (issue #20 item 4) ---------------------------------------------------------------------------
def _lines(n: int):
    first = book.line(row(subject="=keluhan"), masked=False, tz=WIB)
    for i in range(n):
        line = list(first)
        line[0], line[1], line[5] = f"{i + 1}/2026", datetime(2026, 2, 3, 9, i % 60), f"=keluhan {i} & <jalan>"
        yield line


def _peak_writing(n: int) -> int:
    import tempfile
    import tracemalloc

    with tempfile.TemporaryFile() as out:
        tracemalloc.start()
        try:
            exports.write_xlsx(out, _lines(n), kecamatan="K", kabupaten="B", period="P", generated="G")
            return tracemalloc.get_traced_memory()[1]
        finally:
            tracemalloc.stop()


def test_a_large_xlsx_is_written_in_memory_that_does_not_grow_with_its_rows():
    small, large = _peak_writing(200), _peak_writing(2_400)
    assert large < small * 1.5 + 512 * 1024, (small, large)  # 12 times the rows, not 12 times the memory
    data = exports.xlsx(_lines(5_000), kecamatan="K", kabupaten="B", period="P", generated="G")
    ws = openpyxl.load_workbook(io.BytesIO(data), read_only=True).active
    values = list(ws.iter_rows(values_only=True))
    assert len(values) == exports.HEADER_ROW + 5_000 + 2
    assert values[exports.HEADER_ROW][0] == "1/2026" and values[-3][0] == "5000/2026"
    assert values[-3][5] == "=keluhan 4999 & <jalan>"  # a text, not a formula
    assert values[exports.HEADER_ROW][1] == datetime(2026, 2, 3, 9, 0)
    assert values[-1][0].startswith("Jumlah: 5000 pengaduan.")


def test_the_streamed_cells_read_back_as_openpyxl_writes_them():
    """Each kind of value the writer takes, against openpyxl's own writer: the same value, type and format."""
    from openpyxl import Workbook

    from services.dashboard.adapters.xlsx_stream import StreamedSheet

    values = [
        "  spasi  ",
        "a\r\nb\tc",
        "x\x01y",
        "+62 812",
        7,
        2.5,
        True,
        None,
        "",
        datetime(2026, 2, 3, 9, 15, 7, 123000),
        date(2026, 2, 3),
        datetime(2026, 2, 3, 9, 15),
    ]
    ours = io.BytesIO()
    sheet = StreamedSheet("S")
    sheet.head(["kepala"])
    dated = sheet.style(number_format="DD-MM-YYYY HH:MM")
    sheet.save(ours, [values], styles=[0] * len(values), date_styles={11: dated})
    wb = Workbook()
    ws = wb.active
    ws.append(["kepala"])
    for col, value in enumerate(values, start=1):
        cell = ws.cell(row=2, column=col)
        cell.value = None if value == "" else value.replace("\x01", "\ufffd") if isinstance(value, str) else value
        if isinstance(value, str) and value:
            cell.data_type = "s"
        if col == 12:
            cell.number_format = "DD-MM-YYYY HH:MM"
    theirs = io.BytesIO()
    wb.save(theirs)
    a = openpyxl.load_workbook(io.BytesIO(ours.getvalue())).active
    b = openpyxl.load_workbook(io.BytesIO(theirs.getvalue())).active
    got = [(c.value, c.data_type, c.number_format) for c in a[2]]
    want = [(c.value, c.data_type, c.number_format) for c in b[2]]
    assert got == want
