"""Issue #15 item 4 in a real browser: a staff member types in a form found in the complaint box, with the
form's scan and the complainant's KK, from the menu's "Catat pengaduan"; the Kasi finds it in the inbox with
its channel, its received time as typed and both scans. The page fits a 360 px phone, every field labelled."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.browser.conftest import NO_PLAYWRIGHT

pytest.importorskip("playwright.sync_api", reason=NO_PLAYWRIGHT)
from playwright.sync_api import expect

from tests.browser.pages import CODE, KECAMATAN, fits_the_screen, image, open_from_inbox, sign_in
from tests.browser.test_page_quality import UNLABELLED

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


def test_a_complaint_box_form_is_entered_with_its_scans_and_reaches_the_kasi(new_context, shot):
    page = new_context().new_page()
    sign_in(page, f"staf.{KECAMATAN}")
    page.get_by_role("link", name="Catat pengaduan").click()
    expect(page).to_have_url(re.compile(r"/petugas/pengaduan/baru$"))
    expect(page.get_by_role("link", name=re.compile("formulir pengaduan kosong"))).to_have_attribute(
        "href", f"/v1/letters/formulir/{KECAMATAN}.pdf"
    )
    found_at = (datetime.now(UTC) - timedelta(hours=2)).astimezone(ZoneInfo("Asia/Jakarta"))
    subject = f"Lampu jalan Desa Tlagah mati ({uuid.uuid4().hex[:6]})"
    page.get_by_label("Saluran").select_option(label="Kotak pengaduan")
    page.get_by_label("Diterima pada (WIB)").fill(found_at.strftime("%Y-%m-%dT%H:%M"))
    page.get_by_label("Pindaian formulir pengaduan").set_input_files(image("jpeg", "Formulir kotak"))
    page.get_by_label("Nama lengkap pengadu").fill("Ahmad Fauzi")
    page.get_by_label("NIK", exact=True).fill("3528071505900001")
    page.get_by_label("Jenis kartu identitas").select_option(label="KK")
    page.get_by_label("Pindaian kartu identitas").set_input_files(image("png", "KK Ahmad"))
    page.get_by_label("Nomor HP/WhatsApp").fill("0812-3456-7890")
    page.get_by_label("Alamat").fill("Dusun Tlagah, Desa Tlagah")
    page.get_by_label("Pokok pengaduan").fill(subject)
    page.get_by_label("Uraian pengaduan").fill("Lampu jalan di pertigaan Desa Tlagah mati sejak tiga hari.")
    shot(page, "petugas-catat-terisi")
    page.get_by_role("button", name="Simpan pengaduan").click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name="Pengaduan tercatat")).to_be_visible()
    code = page.locator(".kode").first.inner_text().strip()
    assert CODE.match(code), f"{code!r} is not a tracking code"
    main = page.locator("main")
    for shown in ("Kotak pengaduan", "Ahmad Fauzi", subject, "formulir-kotak.jpg", "KK: kk-ahmad.png"):
        expect(main).to_contain_text(shown)
    shot(page, "petugas-catat-tercatat")

    kasi = new_context().new_page()
    sign_in(kasi, f"kasi.{KECAMATAN}")
    open_from_inbox(kasi, code, shot, "kasi-catat")
    complaint = kasi.locator("main")
    expect(complaint).to_contain_text("Kotak pengaduan")
    expect(complaint).to_contain_text(subject)
    expect(complaint).to_contain_text("kk-ahmad.png")
    expect(complaint).to_contain_text("formulir-kotak.jpg")
    expect(complaint).to_contain_text(found_at.strftime("%H.%M"))  # received as typed, not when typed in
    shot(kasi, "petugas-catat-di-kasi")


def test_the_entry_page_fits_a_phone_and_labels_every_field(new_context, shot):
    page = new_context(mobile=True).new_page()
    sign_in(page, f"staf.{KECAMATAN}")
    page.goto("/petugas/pengaduan/baru")
    fits_the_screen(page)
    assert page.evaluate(UNLABELLED) == []
    shot(page, "petugas-catat-360")
