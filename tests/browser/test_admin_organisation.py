"""Issue #15 item 1 in a real browser, on a 360 px phone: the demo admin opens "Organisasi" from the menu, adds a
unit to Pegantenan, renames it, names a Plt. for its vacant head and ends it early, retires the unit, and reads
each change in the history; a bad NIP is refused at its field. Every page fits the screen with every field
labelled, and no script error or Content-Security-Policy violation happens.

What it changes in the shared demo stack is its own unit (a fresh code) and a delegation it ends: the other browser
tests' people and units stay as seeded."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest

from tests.browser.conftest import NO_PLAYWRIGHT

pytest.importorskip("playwright.sync_api", reason=NO_PLAYWRIGHT)
from playwright.sync_api import Page, expect

from tests.browser.pages import KECAMATAN, fits_the_screen, sign_in
from tests.browser.test_page_quality import UNLABELLED

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]


def well_drawn(page: Page) -> None:
    fits_the_screen(page)
    assert page.evaluate(UNLABELLED) == [], f"{page.url} has fields without a label"


def form(page: Page, form_id: str):
    return page.locator(f'form[data-formulir="{form_id}"]')


def test_the_admin_keeps_a_kecamatan_s_organisation_from_a_phone(new_context, shot):
    ctx = new_context(mobile=True)
    page = ctx.new_page()
    sign_in(page, "admin")
    page.goto("/")
    page.get_by_role("link", name="Organisasi", exact=True).click()
    expect(page).to_have_url(re.compile(r"/admin$"))
    well_drawn(page)
    page.get_by_role("link", name="Kecamatan Pegantenan", exact=True).click()
    expect(page).to_have_url(re.compile(rf"/admin/kecamatan/{KECAMATAN}$"))
    expect(page.get_by_role("heading", name="Seksi Pemerintahan")).to_be_visible()
    expect(page.locator("main")).to_contain_text(f"Kasi Pemerintahan Kecamatan Pegantenan (kasi.{KECAMATAN})")
    well_drawn(page)
    shot(page, "admin-organisasi-360")

    code = f"uji-{uuid.uuid4().hex[:6]}"
    added = form(page, "tambah-unit")
    added.get_by_label("Kode").fill(code)
    added.get_by_label("Jenis").select_option(label="Seksi")
    added.get_by_label("Nama", exact=True).fill(f"Uji Peramban {code[-6:]}")
    added.get_by_role("button", name="Tambah unit").click()
    page.wait_for_load_state()
    expect(page.locator(".pesan.berhasil")).to_contain_text(f"Unit Seksi Uji Peramban {code[-6:]} ditambahkan.")
    unit = page.locator("section", has=page.get_by_role("heading", name=f"Seksi Uji Peramban {code[-6:]}"))
    expect(unit).to_contain_text("Belum ada kepala")

    unit.locator("summary", has_text="Ubah jenis atau nama").click()
    form(page, f"ubah-{code}").get_by_label("Nama", exact=True).fill(f"Peramban Baru {code[-6:]}")
    form(page, f"ubah-{code}").get_by_role("button", name="Simpan perubahan").click()
    page.wait_for_load_state()
    expect(page.get_by_role("heading", name=f"Seksi Peramban Baru {code[-6:]}")).to_be_visible()
    well_drawn(page)

    page.get_by_role("link", name="Plh. dan Plt.").click()
    expect(page).to_have_url(re.compile(rf"/admin/kecamatan/{KECAMATAN}/plh$"))
    well_drawn(page)
    today = datetime.now(UTC).astimezone(ZoneInfo("Asia/Jakarta")).date()
    named = form(page, "plh-baru")
    named.get_by_label("Jabatan yang diwakili").select_option("kasi")
    named.get_by_label("Unit").select_option(code)
    named.get_by_label("Pelaksana").select_option(f"staf.{KECAMATAN}")
    named.get_by_label("Jenis").select_option("plt")
    named.get_by_label("Sampai tanggal").fill(str(today + timedelta(days=2)))
    named.get_by_label("Alasan").fill("Uji peramban: jabatan kosong")
    shot(page, "admin-plh-terisi-360")
    named.get_by_role("button", name="Tunjuk").click()
    page.wait_for_load_state()
    expect(page.locator(".pesan.berhasil")).to_contain_text(f"Plt. sudah ditunjuk: staf.{KECAMATAN}")
    card = page.locator("section", has_text=f"Plt. Kepala Seksi Peramban Baru {code[-6:]}")
    expect(card).to_contain_text("Berlaku")
    card.locator("summary", has_text="Akhiri lebih awal").click()
    card.get_by_label("Alasan").fill("Uji selesai")
    card.get_by_role("button", name="Akhiri sekarang").click()
    page.wait_for_load_state()
    expect(page.locator(".pesan.berhasil")).to_contain_text("Plh./Plt. sudah diakhiri")
    well_drawn(page)

    page.get_by_role("link", name="Unit dan kepala").click()
    unit = page.locator("section", has=page.get_by_role("heading", name=f"Seksi Peramban Baru {code[-6:]}"))
    unit.locator("summary", has_text="Nonaktifkan unit").click()
    retire = form(page, f"nonaktifkan-{code}")
    retire.get_by_role("button", name="Nonaktifkan unit").click()  # without a reason: refused at the field
    page.wait_for_load_state()
    reason = form(page, f"nonaktifkan-{code}").get_by_label("Alasan")
    expect(reason).to_have_attribute("aria-invalid", "true")
    expect(reason).to_be_focused()  # the first field in error has the focus
    expect(form(page, f"nonaktifkan-{code}")).to_contain_text("Wajib diisi.")
    well_drawn(page)
    shot(page, "admin-galat-360")
    reason.fill("Uji peramban selesai")
    form(page, f"nonaktifkan-{code}").get_by_role("button", name="Nonaktifkan unit").click()
    page.wait_for_load_state()
    expect(page.locator(".pesan.berhasil")).to_contain_text("Unit sudah dinonaktifkan")
    expect(page.get_by_role("heading", name="Unit yang dinonaktifkan")).to_be_visible()

    page.get_by_role("link", name="NIP, pangkat, golongan").click()
    well_drawn(page)
    official = page.locator(
        "section", has=page.get_by_role("heading", name="Kasi Pemberdayaan Masyarakat dan Desa Pegantenan")
    )
    official.locator("summary", has_text="Ubah NIP, pangkat, golongan").click()
    official.get_by_label("NIP").fill("123")
    official.get_by_role("button", name="Simpan").click()
    page.wait_for_load_state()
    nip = form(page, f"pangkat-kasi.pmd.{KECAMATAN}").get_by_label("NIP")
    expect(nip).to_have_attribute("aria-invalid", "true")
    expect(form(page, f"pangkat-kasi.pmd.{KECAMATAN}")).to_contain_text("NIP terdiri dari 18 digit angka.")
    well_drawn(page)

    page.get_by_role("link", name="Riwayat perubahan").click()
    history = page.locator("ol.lini-masa")
    for title in (
        "Unit dinonaktifkan",
        "Plh./Plt. diakhiri lebih awal",
        "Plh./Plt. ditunjuk",
        "Unit diubah",
        "Unit ditambahkan",
    ):
        expect(history).to_contain_text(title)
    expect(history.locator("li").first).to_contain_text("oleh admin")
    expect(history.locator("li").first).to_contain_text("Uji peramban selesai")
    well_drawn(page)
    shot(page, "admin-riwayat-360")
    ctx.watch.assert_quiet()


def test_a_kecamatan_s_staff_get_the_refusal_page(new_context):
    page = new_context().new_page()
    sign_in(page, f"camat.{KECAMATAN}")
    response = page.goto(f"/admin/kecamatan/{KECAMATAN}")
    assert response is not None and response.status == 403
    expect(page.get_by_role("heading", name="Tidak diizinkan")).to_be_visible()
    expect(page.get_by_role("link", name="Organisasi", exact=True)).to_have_count(0)
