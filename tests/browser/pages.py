"""What the browser tests do on the pages: sign in and out, fill the complaint form, follow a PDF link,
make a small real image to upload."""

from __future__ import annotations

import io
import re
import struct
import zlib
from pathlib import Path
from urllib.parse import urljoin

from playwright.sync_api import Page, expect

from tests.browser.conftest import poll

CODE = re.compile(r"^[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{4}-[0-9A-HJKMNP-TV-Z]{2}$")
PASSWORD = "demo"
KECAMATAN = "pegantenan"


# -- files a phone would upload ---------------------------------------------------------------------------
def _png_by_hand(width: int = 48, height: int = 32) -> bytes:
    def chunk(kind: bytes, data: bytes) -> bytes:
        return struct.pack(">I", len(data)) + kind + data + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF)

    rows = b"".join(
        b"\x00" + bytes(c for x in range(width) for c in (x * 5 % 256, y * 7 % 256, 160)) for y in range(height)
    )
    return (
        b"\x89PNG\r\n\x1a\n"
        + chunk(b"IHDR", struct.pack(">IIBBBBB", width, height, 8, 2, 0, 0, 0))
        + chunk(b"IDAT", zlib.compress(rows))
        + chunk(b"IEND", b"")
    )


def image(kind: str, text: str) -> dict:
    """A small real image (Pillow when installed, else a PNG built by hand) as Playwright's file payload."""
    try:
        from PIL import Image, ImageDraw
    except ImportError:
        return {"name": f"{text}.png", "mimeType": "image/png", "buffer": _png_by_hand()}
    picture = Image.new("RGB", (320, 200), (230, 236, 245) if kind == "png" else (120, 150, 90))
    draw = ImageDraw.Draw(picture)
    draw.rectangle((10, 10, 310, 190), outline=(20, 40, 90), width=3)
    draw.text((24, 24), text, fill=(10, 10, 10))
    buffer = io.BytesIO()
    picture.save(buffer, "PNG" if kind == "png" else "JPEG", quality=80)
    return {
        "name": f"{text.lower().replace(' ', '-')}.{'png' if kind == 'png' else 'jpg'}",
        "mimeType": "image/png" if kind == "png" else "image/jpeg",
        "buffer": buffer.getvalue(),
    }


# -- helpers ----------------------------------------------------------------------------------------------
def fits_the_screen(page: Page) -> None:
    wide = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    assert wide[0] <= wide[1], f"{page.url} scrolls sideways on a {wide[1]}px phone: content is {wide[0]}px wide"


def is_pdf(response) -> bool:
    return (
        response.status == 200
        and response.headers.get("content-type", "").startswith("application/pdf")
        and response.body()[:5] == b"%PDF-"
    )


def download_pdf(page: Page, link, save_as: Path, *, timeout: float = 120) -> bytes:
    """The PDF behind ``link``: its address polled (same cookies) until it serves a PDF, then fetched as the
    browser does (a download when the server says attachment). The bytes are kept in ``save_as``."""
    href = link.get_attribute("href")
    assert href, "the link has no href"
    url = urljoin(page.url, href)
    served = poll(
        lambda: (r := page.context.request.get(url)) and is_pdf(r) and r,
        timeout=timeout,
        interval=1.5,
        message=f"{href} to serve a PDF",
    )
    data = served.body()
    if served.headers.get("content-disposition", "").startswith("attachment"):
        with page.expect_download() as dl:
            link.click()
        dl.value.save_as(save_as)
        data = save_as.read_bytes()
        assert data[:5] == b"%PDF-", f"the download from {href} is not a PDF"
    else:
        save_as.write_bytes(data)
    from pypdf import PdfReader

    assert len(PdfReader(io.BytesIO(data)).pages) >= 1
    return data


def reloaded_until(page: Page, shown) -> bool:
    """One poll: True when ``shown()`` holds on the page, else the page is reloaded (for the next try)."""
    if shown():
        return True
    page.reload()
    return False


def sign_in(page: Page, username: str) -> None:
    page.goto("/masuk")
    if not page.url.split("?")[0].endswith("/masuk"):  # /masuk sends a signed-in browser home
        who = page.get_by_role("button", name=re.compile(r"^Keluar \(")).all_inner_texts()
        raise AssertionError(
            f"before {username} signed in, this fresh browser (no cookie of its own) was already signed in: "
            f"/masuk sent it to {page.url} ({', '.join(who) or 'the dashboard'}): it was given someone else's session"
        )
    page.get_by_label("Nama pengguna").fill(username)
    page.get_by_label("Kata sandi").fill(PASSWORD)
    page.get_by_role("button", name="Masuk", exact=True).click()
    page.wait_for_load_state()
    assert "/masuk" not in page.url, f"{username} could not sign in: {page.locator('main').inner_text()[:400]}"
    if not page.url.endswith("/dasbor"):  # the dashboard is its own page, without the web app's header
        expect(page.get_by_role("button", name=f"Keluar ({username})")).to_be_visible()


def sign_out(page: Page, username: str) -> None:
    page.get_by_role("button", name=f"Keluar ({username})").click()
    page.wait_for_load_state()
    expect(page.get_by_role("link", name="Masuk petugas")).to_be_visible()


def open_from_inbox(page: Page, code: str, shot, name: str) -> str:
    """The complaint's row in the inbox, found with the inbox's search by tracking code (reloaded until it
    appears: the workflow takes it in within moments), followed: the complaint page's URL."""
    page.goto(f"/kotak-masuk?q={code}")

    def row():
        link = page.get_by_role("link", name=code, exact=True)
        if link.count():
            return link
        page.reload()
        return None

    link = poll(row, timeout=60, interval=1, message=f"{code} in the inbox of {name}")
    shot(page, f"kotak-masuk-{name}")
    link.first.click()
    expect(page).to_have_url(re.compile(r"/petugas/pengaduan/[0-9a-f-]{36}$"))
    return page.url


def fill_complaint_form(page: Page, *, subject: str, description: str, photos: int = 2) -> None:
    page.get_by_label("Kecamatan", exact=True).select_option(KECAMATAN)
    page.get_by_label("Nama lengkap").fill("Siti Aminah")
    page.get_by_label("NIK").fill("3528071505900001")
    page.get_by_label("Nomor HP/WhatsApp").fill("0812-3456-7890")
    page.get_by_label("E-mail").fill("siti@example.id")
    page.get_by_label("Alamat").fill("Dusun Bunangka, Desa Pegantenan")
    page.get_by_label("Jenis kartu identitas").select_option(label="KTP")
    page.get_by_label("Foto/scan kartu identitas").set_input_files(image("png", "KTP Siti Aminah"))
    page.get_by_label("Pokok pengaduan").fill(subject)
    page.get_by_label("Uraian pengaduan").fill(description)
    if photos:
        page.get_by_label("Foto pendukung (boleh lebih dari satu)").set_input_files(
            [image("jpeg", f"Foto jalan {i + 1}") for i in range(photos)]
        )


def submit_complaint(page: Page) -> str:
    page.get_by_role("button", name="Kirim pengaduan").click()
    page.wait_for_load_state()
    assert "/pengaduan/terkirim/" in page.url, (
        f"the form did not go through: at {page.url}, saying: {page.locator('main').inner_text()[:800]}"
    )
    code = page.locator(".kode").first.inner_text().strip()
    assert CODE.match(code), f"{code!r} is not a tracking code"
    assert page.url.rstrip("/").endswith(code)
    return code
