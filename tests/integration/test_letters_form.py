"""The blank Formulir Pengaduan for the complaint box, from the letters API: one A4 page with the kecamatan's
letterhead, the fields to fill in by hand, the identity copy the SOP asks for and its promise; public, cacheable,
404 for a kecamatan not served here."""

from __future__ import annotations

import io
import re
import uuid

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from services.letters.bootstrap import bootstrap as letters_bootstrap
from services.letters.config import LettersSettings
from services.letters.entrypoints.api import create_app as letters_app
from shared.tenancy import Kecamatan, upsert_kecamatan


@pytest.fixture(scope="module")
def place(engine) -> str:
    slug = f"formulir-{uuid.uuid4().hex[:5]}"
    upsert_kecamatan(
        engine,
        [
            Kecamatan(
                slug,
                f"93.{slug[-5:]}",
                "Waru Barat",
                "pamekasan",
                "Kabupaten Pamekasan",
                {
                    "pemerintah": "PEMERINTAH KABUPATEN PAMEKASAN",
                    "kecamatan": "KECAMATAN WARU BARAT",
                    "address": "Jalan Raya Waru Nomor 7, Pamekasan 69353",
                    "phone": "(0324) 555123",
                    "city": "Waru Barat",
                },
            )
        ],
    )
    return slug


@pytest.fixture(scope="module")
def client(settings, place):
    letters = letters_bootstrap(LettersSettings(**settings.model_dump()))
    with TestClient(letters_app(letters)) as c:
        yield c
    letters.engine.dispose()


def lines_by_height(pdf: bytes) -> list[tuple[float, str]]:
    """Each piece of text of the first page with its height on the page (points from the bottom)."""
    found: list[tuple[float, str]] = []

    def visit(text, cm, tm, _font, _size):
        if text.strip():
            found.append((tm[4] * cm[1] + tm[5] * cm[3] + cm[5], text.strip()))

    PdfReader(io.BytesIO(pdf)).pages[0].extract_text(visitor_text=visit)
    return found


def height_of(pieces: list[tuple[float, str]], needle: str) -> float:
    return next(y for y, text in pieces if needle in text)


def test_the_blank_form_is_one_page_with_the_letterhead_the_fields_the_attachments_and_the_promise(client, place):
    r = client.get(f"/v1/letters/formulir/{place}.pdf")
    assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
    assert r.headers["content-disposition"] == f'attachment; filename="formulir-pengaduan-{place}.pdf"'
    assert r.headers["content-security-policy"] == "sandbox" and r.headers["x-content-type-options"] == "nosniff"
    reader = PdfReader(io.BytesIO(r.content))
    assert len(reader.pages) == 1
    assert round(float(reader.pages[0].mediabox.width)) == 595  # A4
    text = re.sub(r"\s+", " ", reader.pages[0].extract_text())
    for expected in (
        "PEMERINTAH KABUPATEN PAMEKASAN",
        "KECAMATAN WARU BARAT",
        "Jalan Raya Waru Nomor 7, Pamekasan 69353",
        "FORMULIR PENGADUAN",
        "Nama lengkap",
        "NIK",
        "Alamat",
        "Nomor HP/WhatsApp",
        "E-mail",
        "Pokok pengaduan",
        "Uraian pengaduan",
        "Salinan KTP",
        "Salinan SIM",
        "Salinan KK",
        "ditangani paling lama 12 hari kerja",
        "tidak dipungut biaya",
        "Waru Barat, tanggal",
        "Tanda tangan dan nama jelas",
        "Diisi petugas",
    ):
        assert expected in text, expected
    # the page reads top to bottom: letterhead, title, who, what, attachments, promise, signature, staff strip
    pieces = lines_by_height(r.content)
    order = [
        "KECAMATAN WARU BARAT",
        "FORMULIR PENGADUAN",
        "Nama lengkap",
        "NIK",
        "Pokok pengaduan",
        "Uraian pengaduan",
        "Salinan KTP",
        "Tanda tangan dan nama jelas",
        "Diisi petugas",
    ]
    heights = [height_of(pieces, needle) for needle in order]
    assert heights == sorted(heights, reverse=True), list(zip(order, heights, strict=True))
    assert reader.metadata.title == "Formulir Pengaduan KECAMATAN WARU BARAT"


def test_the_blank_form_is_cacheable_and_the_same_bytes_each_time(client, place):
    first = client.get(f"/v1/letters/formulir/{place}.pdf")
    second = client.get(f"/v1/letters/formulir/{place}.pdf")
    assert first.content == second.content
    etag = first.headers["etag"]
    assert first.headers["cache-control"] == "public, max-age=86400" and etag == second.headers["etag"]
    again = client.get(f"/v1/letters/formulir/{place}.pdf", headers={"If-None-Match": etag})
    assert again.status_code == 304 and again.content == b"" and again.headers["etag"] == etag


def test_an_unknown_kecamatan_has_no_form(client):
    r = client.get("/v1/letters/formulir/tidak-ada.pdf")
    assert r.status_code == 404 and r.json()["code"] == "kecamatan_not_found"
    assert client.get("/v1/letters/formulir/..%2Fetc.pdf").status_code == 404
