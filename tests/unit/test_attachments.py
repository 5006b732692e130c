"""Which files a complaint may carry: judged by what the bytes are, never by their name or declared type."""

from __future__ import annotations

import hashlib
import io
import struct
import zlib

import pytest

from services.intake.domain.attachments import (
    AttachmentRejected,
    check_file,
    real_content_type,
    refusal_note,
    sanitize_filename,
    screen,
)

MIB = 1024 * 1024


def tiny_png(seed: int = 0) -> bytes:
    """A real 1x1 PNG (a different colour per seed, so different bytes)."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    pixel = bytes([0, seed % 256, (seed // 256) % 256, 200])
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", 1, 1, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(pixel))
        + chunk(b"IEND", b"")
    )


def tiny_jpeg() -> bytes:
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (8, 8), (200, 30, 30)).save(out, "JPEG")
    return out.getvalue()


def tiny_heic() -> bytes:
    """A real HEIC (what an iPhone sends), encoded with pillow-heif."""
    import pillow_heif
    from PIL import Image

    out = io.BytesIO()
    pillow_heif.from_pillow(Image.new("RGB", (16, 16), (30, 120, 200))).save(out, quality=80)
    return out.getvalue()


def as_stored(data: bytes) -> bytes:
    """The bytes intake keeps for an upload (an image re-encoded), whose SHA-256 names it in the store."""
    return check_file(data, None, max_bytes=5 * MIB).data


EXE = (
    b"MZ\x90\x00\x03\x00\x00\x00\x04\x00\x00\x00\xff\xff\x00\x00"
    + b"\x00" * 48
    + b"This program cannot be run in DOS mode."
)
PDF = b"%PDF-1.4\n1 0 obj << /Type /Catalog >> endobj\ntrailer << /Root 1 0 R >>\n%%EOF\n"


@pytest.mark.parametrize(
    "data, detected, expected",
    [
        (tiny_png(), "image/png", "image/png"),
        (tiny_jpeg(), "image/jpeg", "image/jpeg"),
        (PDF, "application/pdf", "application/pdf"),
        (tiny_heic(), "image/heic", "image/jpeg"),
    ],
)
def test_photos_scans_and_pdfs_are_accepted_by_their_bytes(data, detected, expected):
    assert real_content_type(data) == detected
    checked = check_file(data, "scan.bin", max_bytes=5 * MIB)
    assert checked.content_type == expected == real_content_type(checked.data)  # a HEIC is kept as a JPEG
    assert checked.sha256 == hashlib.sha256(checked.data).hexdigest() and checked.size == len(checked.data)
    if expected == "application/pdf":
        assert checked.data == data  # a PDF is kept as sent (and only ever served as a download)


def test_webp_is_accepted_and_kept_as_jpeg_or_as_png_with_transparency():
    from PIL import Image

    out = io.BytesIO()
    Image.new("RGB", (4, 4), "blue").save(out, "WEBP")
    opaque = check_file(out.getvalue(), "x.webp", max_bytes=MIB)
    assert (opaque.content_type, opaque.filename) == ("image/jpeg", "x.jpg")
    out = io.BytesIO()
    Image.new("RGBA", (4, 4), (0, 0, 255, 100)).save(out, "WEBP")
    clear = check_file(out.getvalue(), "x.webp", max_bytes=MIB)
    assert (clear.content_type, clear.filename) == ("image/png", "x.png")
    assert Image.open(io.BytesIO(clear.data)).getpixel((1, 1))[3] == 100


def test_the_name_does_not_decide_the_type():
    # a JPEG called .png is a JPEG; the name is kept as given (sanitised)
    checked = check_file(tiny_jpeg(), "ktp.png", max_bytes=MIB)
    assert checked.content_type == "image/jpeg" and checked.filename == "ktp.png"


def test_an_exe_renamed_jpg_is_refused_with_a_clear_indonesian_message():
    assert real_content_type(EXE) == "application/x-msdownload"
    with pytest.raises(AttachmentRejected) as caught:
        check_file(EXE, "ktp.jpg", max_bytes=MIB)
    assert caught.value.code == "attachment_type_not_allowed"
    assert "ktp.jpg" in caught.value.message and "bukan jenis berkas yang diizinkan" in caught.value.message


@pytest.mark.parametrize(
    "data",
    [
        b"Halo, ini teks biasa, bukan gambar.",
        b"<html><script>alert(1)</script></html>",
        b"GIF89a\x01\x00\x01\x00\x00\x00\x00;",
        b"PK\x03\x04" + b"\x00" * 40,
    ],
)
def test_other_types_are_refused(data):
    with pytest.raises(AttachmentRejected) as caught:
        check_file(data, "foto.jpg", max_bytes=MIB)
    assert caught.value.code == "attachment_type_not_allowed"


def test_empty_and_oversize_files_are_refused():
    with pytest.raises(AttachmentRejected) as empty:
        check_file(b"", "kosong.png", max_bytes=MIB)
    assert empty.value.code == "attachment_empty" and "kosong" in empty.value.message
    big = tiny_png() + b"\x00" * (MIB + 1)
    with pytest.raises(AttachmentRejected) as large:
        check_file(big, "besar.png", max_bytes=MIB)
    assert large.value.code == "attachment_too_large" and "1 MB" in large.value.message


def test_an_unknown_kind_is_refused():
    with pytest.raises(AttachmentRejected) as caught:
        check_file(tiny_png(), "x.png", max_bytes=MIB, kind="paspor")
    assert caught.value.code == "attachment_kind_unknown"
    assert check_file(tiny_png(), "x.png", max_bytes=MIB, kind="ktp").attachment().kind == "ktp"


def test_screening_keeps_the_good_files_lists_the_refused_and_caps_the_count():
    files = [(tiny_png(i), f"foto{i}.png") for i in range(7)] + [
        (EXE, "virus.jpg"),
        (b"", "kosong.png"),
        (tiny_png(0), "lagi.png"),
    ]
    result = screen(files, max_bytes=MIB, max_count=5)
    assert [f.filename for f in result.kept] == [f"foto{i}.png" for i in range(5)]  # the duplicate of foto0 kept once
    assert [r.code for r in result.refused] == [
        "too_many_attachments",
        "too_many_attachments",
        "attachment_type_not_allowed",
        "attachment_empty",
    ]
    note = refusal_note(result.refused)
    assert note.startswith("[Lampiran tidak disimpan:") and "virus.jpg (jenis berkas tidak diizinkan)" in note
    assert refusal_note(()) is None


@pytest.mark.parametrize(
    "given, expected",
    [
        ("ktp.jpg", "ktp.jpg"),
        ("../../etc/passwd", "passwd"),
        ("C:\\Users\\budi\\Desktop\\scan KTP.pdf", "scan KTP.pdf"),
        ("bad\x00name\r\n.png", "bad_name__.png"),
        ('a<b>"c|d?.png', "a_b__c_d_.png"),
        ("   ", None),
        ("..", None),
        (None, None),
        ("x" * 300 + ".jpeg", "x" * 115 + ".jpeg"),
    ],
)
def test_file_names_are_sanitised(given, expected):
    assert sanitize_filename(given) == expected
