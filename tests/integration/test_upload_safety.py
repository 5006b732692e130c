"""Uploads cannot carry anything into a staff member's browser or out of a citizen's phone (issue #12, item 9):
photos and scans are kept re-encoded (no EXIF GPS position, no payload after the pixels), an image that does not
decode or would decode to too many pixels is refused, and every file or PDF download (intake's attachments, the
letters API, the web app's proxies of both) is an attachment, sandboxed and unsniffed. Through the real apps on
a real database: the intake, workflow, letters and web apps as ``make run`` serves them, in-process."""

from __future__ import annotations

import io
import json
import struct
import uuid
import zlib
from datetime import UTC, datetime, timedelta
from email.message import EmailMessage

import pytest
from fastapi.testclient import TestClient
from PIL import ExifTags, Image
from sqlalchemy import func, insert, select

from services.accounts.handlers import add_user
from services.intake.adapters.tables import attachments, submissions
from services.letters.adapters.tables import documents
from shared.contracts.tracking import new_tracking_code
from shared.tenancy import Kecamatan, configure_kecamatan, upsert_kecamatan
from tests.support.web import Dispatcher, web_client
from tests.unit.test_attachments import tiny_heic, tiny_jpeg

PASSWORD = "kata-sandi-unggahan-aman-2026"
EMAIL_TOKEN = "rahasia-email-unggahan"
# a PDF that runs JavaScript when opened in a viewer that allows it
PDF_WITH_JS = (
    b"%PDF-1.4\n1 0 obj<</Type/Catalog/Pages 2 0 R/OpenAction<</S/JavaScript/JS(app.alert(document.cookie))>>>>"
    b"endobj\n2 0 obj<</Type/Pages/Kids[]/Count 0>>endobj\ntrailer<</Root 1 0 R>>\n%%EOF\n"
)
HTML = b"<html><body><script>fetch('/v1/complaints').then(r=>r.text()).then(alert)</script></body></html>"


# --- the files --------------------------------------------------------------------------------------


def jpeg_with_gps() -> bytes:
    """A phone photo: 40x20 px, EXIF with camera, GPS position (Pamekasan) and orientation 6 (turned 90 deg)."""
    image = Image.new("RGB", (40, 20), (200, 30, 30))
    exif = Image.Exif()
    exif[ExifTags.Base.Make] = "KameraUji"
    exif[ExifTags.Base.Orientation] = 6
    exif[ExifTags.Base.GPSInfo] = {
        ExifTags.GPS.GPSLatitudeRef: "S",
        ExifTags.GPS.GPSLatitude: (7.0, 9.0, 30.5),
        ExifTags.GPS.GPSLongitudeRef: "E",
        ExifTags.GPS.GPSLongitude: (113.0, 28.0, 12.25),
    }
    out = io.BytesIO()
    image.save(out, "JPEG", exif=exif, quality=95)
    data = out.getvalue()
    assert Image.open(io.BytesIO(data)).getexif().get_ifd(ExifTags.IFD.GPSInfo)  # the GPS position is really there
    return data


def jpeg_html_polyglot() -> bytes:
    """A valid JPEG followed by an HTML page: an image to an image viewer, a page to a browser that sniffs."""
    return tiny_jpeg() + HTML


def jpeg_js_polyglot() -> bytes:
    """JavaScript in a JPEG comment segment (``*/ ... /*`` closes and reopens a JS comment) and after the image."""
    out = io.BytesIO()
    Image.new("RGB", (8, 8), (30, 30, 200)).save(out, "JPEG")
    jpeg = out.getvalue()
    script = b"*/=1;alert(document.domain);/*"
    comment = b"\xff\xfe" + struct.pack(">H", len(script) + 2) + script
    return jpeg[:2] + comment + jpeg[2:] + b"\n*/alert(document.cookie)//"


def png_of_size(width: int, height: int) -> bytes:
    """A PNG of 1-bit pixels, all zero: a few kilobytes that decode to ``width`` x ``height`` pixels."""

    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    row = b"\x00" * (1 + (width + 7) // 8)
    packer = zlib.compressobj(9)
    body = b"".join(packer.compress(row) for _ in range(height)) + packer.flush()
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 1, 0, 0, 0, 0))
        + chunk(b"IDAT", body)
        + chunk(b"IEND", b"")
    )


def exif_of(data: bytes) -> dict:
    return dict(Image.open(io.BytesIO(data)).getexif())


# --- the stack ----------------------------------------------------------------------------------------


@pytest.fixture(scope="module")
def place(engine) -> dict:
    suffix = uuid.uuid4().hex[:6]
    slug = f"unggah-{suffix}"
    upsert_kecamatan(engine, [Kecamatan(slug, f"96.{suffix}", "Unggah Aman", "pamekasan", "Kabupaten Pamekasan", {})])
    address = f"pengaduan-{suffix}@unggah.example.id"
    configure_kecamatan(engine, slug, {"channels": {"emails": [address]}})
    staf = f"u{suffix}.staf"
    add_user(engine, staf, "Petugas Unggah", "staf", PASSWORD, kecamatan=slug)
    return {"slug": slug, "email": address, "staf": staf}


@pytest.fixture(scope="module")
def web(settings, engine, place):
    with pytest.MonkeyPatch.context() as env:
        env.setenv("PENGADUAN_EMAIL_WEBHOOK_TOKEN", EMAIL_TOKEN)  # intake's own settings, read from the environment
        with web_client(settings) as client:
            yield client


@pytest.fixture(scope="module")
def api(web):
    """The APIs behind one base URL, routed as the gateway routes them."""
    return TestClient(Dispatcher(web.apps), base_url="http://api.test")


@pytest.fixture(scope="module")
def staff(api, place) -> dict:
    r = api.post("/v1/auth/token", data={"username": place["staf"], "password": PASSWORD})
    assert r.status_code == 200, r.text
    return {"Authorization": f"Bearer {r.json()['access_token']}"}


def form(place: dict, **extra) -> dict:
    body = {
        "kecamatan": place["slug"],
        "subject": "Jalan desa rusak",
        "id_kind": "ktp",
        "description": f"Jalan di depan balai desa berlubang besar. ({uuid.uuid4().hex[:8]})",
        "complainant": {"name": "Siti Aminah", "nik": "3528071505900001", "phone": "081234567890"},
        **extra,
    }
    return {"complaint": json.dumps(body)}


def staff_form(**extra) -> dict:
    body = {
        "channel": "kotak",
        "received_at": (datetime.now(UTC) - timedelta(hours=2)).isoformat(),
        "subject": "Formulir kotak pengaduan",
        "description": f"Formulir dari kotak pengaduan ({uuid.uuid4().hex[:8]})",
        "complainant": {"name": "Budi Santoso", "nik": "3528071505900002", "phone": "081234567891"},
        **extra,
    }
    return {"complaint": json.dumps(body)}


def kept_files(engine, tracking_code: str) -> tuple[uuid.UUID, list[dict]]:
    with engine.connect() as conn:
        row = conn.execute(
            select(submissions.c.id, submissions.c.complaint_id).where(submissions.c.tracking_code == tracking_code)
        ).one()
        files = (
            conn.execute(
                select(attachments).where(attachments.c.submission_id == row.id).order_by(attachments.c.created_at)
            )
            .mappings()
            .all()
        )
    return row.complaint_id, [dict(f) for f in files]


def download(api, staff, complaint_id, digest):
    r = api.get(f"/v1/attachments/{digest}", params={"complaint_id": str(complaint_id)}, headers=staff)
    assert r.status_code == 200, r.text
    return r


def assert_download_headers(r, disposition: str = "attachment") -> None:
    assert r.headers["content-disposition"].split(";")[0] == disposition, r.headers
    assert r.headers["content-security-policy"] == "sandbox"
    assert r.headers["x-content-type-options"] == "nosniff"


# --- re-encoding, at each door --------------------------------------------------------------------


def test_a_photo_from_the_web_form_comes_back_without_its_gps_position(api, staff, engine, place):
    photo = jpeg_with_gps()
    r = api.post(
        "/v1/complaints/form",
        data=form(place),
        files=[("identitas", ("ktp.jpg", tiny_jpeg(), "image/jpeg")), ("foto", ("jalan.jpg", photo, "image/jpeg"))],
    )
    assert r.status_code == 202, r.text
    complaint_id, files = kept_files(engine, r.json()["tracking_code"])
    foto = next(f for f in files if f["kind"] == "foto")
    served = download(api, staff, complaint_id, foto["sha256"])
    assert served.headers["content-type"] == "image/jpeg" and served.content[:2] == b"\xff\xd8"
    assert exif_of(served.content) == {}  # no GPS, no camera, no orientation tag
    assert b"Exif" not in served.content and b"KameraUji" not in served.content
    assert Image.open(io.BytesIO(served.content)).size == (20, 40)  # turned upright as the camera said
    assert foto["size"] == len(served.content)


def test_polyglots_entered_by_staff_come_back_as_clean_images(api, staff, engine):
    html_jpeg, js_jpeg = jpeg_html_polyglot(), jpeg_js_polyglot()
    assert Image.open(io.BytesIO(html_jpeg)).size == Image.open(io.BytesIO(js_jpeg)).size == (8, 8)  # both real JPEGs
    r = api.post(
        "/v1/staff/complaints",
        headers=staff,
        data=staff_form(scan_kinds=["ktp", "lainnya"]),
        files=[("scan", ("ktp.jpg", html_jpeg, "image/jpeg")), ("scan", ("surat.jpg", js_jpeg, "image/jpeg"))],
    )
    assert r.status_code == 202, r.text
    complaint_id, files = kept_files(engine, r.json()["tracking_code"])
    assert len(files) == 2  # two different pictures (the same clean bytes would be kept once)
    for f in files:
        served = download(api, staff, complaint_id, f["sha256"]).content
        assert served.endswith(b"\xff\xd9")  # nothing after the image
        assert b"<script" not in served and b"alert(" not in served and b"*/" not in served
        assert Image.open(io.BytesIO(served)).size == (8, 8)


def test_an_e_mailed_photo_is_kept_without_its_gps_position(api, staff, engine, place):
    msg = EmailMessage()
    msg["From"], msg["To"] = "Rina <rina@example.id>", place["email"]
    msg["Subject"], msg["Message-ID"] = "Foto jalan rusak", f"<{uuid.uuid4().hex}@example.id>"
    msg.set_content("Foto terlampir.")
    msg.add_attachment(jpeg_with_gps(), maintype="image", subtype="jpeg", filename="jalan.jpg")
    r = api.post(
        "/v1/channels/email",
        content=msg.as_bytes(),
        headers={"Content-Type": "message/rfc822", "X-Webhook-Token": EMAIL_TOKEN},
    )
    assert r.status_code == 200, r.text
    complaint_id, files = kept_files(engine, r.json()["tracking_code"])
    served = download(api, staff, complaint_id, files[0]["sha256"]).content
    assert exif_of(served) == {} and b"KameraUji" not in served


def test_a_heic_photo_is_kept_as_a_jpeg(api, staff, engine, place):
    r = api.post(
        "/v1/complaints/form", data=form(place), files=[("identitas", ("IMG_0001.HEIC", tiny_heic(), "image/heic"))]
    )
    assert r.status_code == 202, r.text
    complaint_id, files = kept_files(engine, r.json()["tracking_code"])
    assert (files[0]["content_type"], files[0]["filename"]) == ("image/jpeg", "IMG_0001.jpg")
    served = download(api, staff, complaint_id, files[0]["sha256"])
    assert served.content[:2] == b"\xff\xd8" and Image.open(io.BytesIO(served.content)).size == (16, 16)
    assert "IMG_0001.jpg" in served.headers["content-disposition"]


def count_attachments(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.count()).select_from(attachments)).scalar_one()


@pytest.mark.parametrize(
    "bomb", [png_of_size(20_000, 20_000), png_of_size(8_000, 8_000)], ids=["400-megapixel", "64-megapixel"]
)
def test_a_png_bomb_is_refused_and_nothing_is_stored(api, staff, engine, place, bomb):
    assert len(bomb) < 200_000  # small on the wire
    before = count_attachments(engine)
    r = api.post("/v1/complaints/form", data=form(place), files=[("identitas", ("ktp.png", bomb, "image/png"))])
    assert r.status_code == 422, r.text
    body = r.json()
    assert body["code"] == "attachment_image_too_large" and "megapiksel" in body["message"]
    assert body["errors"][0]["field"] == "identitas.0"
    staff_entry = api.post(
        "/v1/staff/complaints", headers=staff, data=staff_form(), files=[("scan", ("f.png", bomb, "image/png"))]
    )
    assert staff_entry.status_code == 422 and staff_entry.json()["code"] == "attachment_image_too_large"
    assert count_attachments(engine) == before


def test_an_image_that_does_not_decode_is_refused(api, staff, place):
    broken = tiny_jpeg()[:40]  # a JPEG's first bytes, then nothing
    r = api.post("/v1/complaints/form", data=form(place), files=[("identitas", ("ktp.jpg", broken, "image/jpeg"))])
    assert r.status_code == 422 and r.json()["code"] == "attachment_unreadable", r.text
    assert "tidak dapat dibaca" in r.json()["message"]


# --- every download route: attachment, sandboxed, unsniffed -----------------------------------------


def test_an_uploaded_pdf_is_kept_as_sent_and_only_ever_downloaded(api, staff, engine, web, place):
    r = api.post(
        "/v1/staff/complaints",
        headers=staff,
        data=staff_form(scan_kinds=["lainnya", "ktp"]),
        files=[
            ("scan", ("surat.pdf", PDF_WITH_JS, "application/pdf")),
            ("scan", ("ktp.jpg", tiny_jpeg(), "image/jpeg")),
        ],
    )
    assert r.status_code == 202, r.text
    complaint_id, files = kept_files(engine, r.json()["tracking_code"])
    pdf, image = files
    served = download(api, staff, complaint_id, pdf["sha256"])
    assert served.content == PDF_WITH_JS and served.headers["content-type"] == "application/pdf"
    assert_download_headers(served)
    assert_download_headers(download(api, staff, complaint_id, image["sha256"]))

    sign_in(web, place["staf"])
    proxied = web.get(f"/petugas/lampiran/{pdf['sha256']}?pengaduan={complaint_id}")  # "Lihat": still a download
    assert proxied.status_code == 200 and proxied.content == PDF_WITH_JS
    assert_download_headers(proxied)
    assert "surat.pdf" in proxied.headers["content-disposition"]
    shown = web.get(f"/petugas/lampiran/{image['sha256']}?pengaduan={complaint_id}")  # a re-encoded image may open
    assert_download_headers(shown, "inline")
    assert_download_headers(web.get(f"/petugas/lampiran/{image['sha256']}?pengaduan={complaint_id}&unduh=1"))


def sign_in(web, username: str) -> None:
    import re

    web.cookies.clear()
    token = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/masuk").text).group(1)
    r = web.post(
        "/masuk", data={"username": username, "password": PASSWORD, "csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303, r.text


def letters_pdf(web, place: dict, kind: str, released: bool = False) -> dict:
    """A document of the letters service (bytes in its store, its row), as its worker would leave it."""
    letters = web.apps["letters"].state.letters
    stored = letters.documents.put(PDF_WITH_JS, "application/pdf")
    row = {
        "id": uuid.uuid4(),
        "source_event_id": uuid.uuid4(),
        "complaint_id": uuid.uuid4(),
        "tracking_code": new_tracking_code(uuid.uuid4().bytes[:7]),
        "kecamatan": place["slug"],
        "kind": kind,
        "sha256": stored.sha256,
        "size": len(PDF_WITH_JS),
        "released_at": datetime.now(UTC) if released else None,
    }
    with letters.engine.begin() as conn:
        conn.execute(insert(documents).values(**row))
    return row


def test_every_pdf_route_of_the_letters_api_and_the_web_app_is_a_sandboxed_download(api, staff, web, place):
    receipt = letters_pdf(web, place, "receipt")
    letter = letters_pdf(web, place, "response_letter", released=True)
    routes = [
        (api, f"/v1/letters/{letter['id']}/pdf", staff),
        (api, f"/v1/letters/{receipt['id']}/pdf", staff),
        (api, f"/v1/letters/track/{receipt['tracking_code']}/receipt", {}),
        (api, f"/v1/letters/track/{letter['tracking_code']}/letter", {}),
        (web, f"/lacak/{receipt['tracking_code']}/tanda-terima.pdf", {}),
        (web, f"/lacak/{letter['tracking_code']}/surat-jawaban.pdf", {}),
    ]
    web.cookies.clear()
    for client, path, headers in routes:
        r = client.get(path, headers=headers)
        assert r.status_code == 200 and r.content == PDF_WITH_JS, (path, r.status_code, r.text[:200])
        assert_download_headers(r)
    sign_in(web, place["staf"])
    for path in (f"/petugas/dokumen/{letter['id']}.pdf", f"/petugas/dokumen/{receipt['id']}.pdf?unduh=1"):
        r = web.get(path)
        assert r.status_code == 200 and r.content == PDF_WITH_JS, path
        assert_download_headers(r)
