"""Issue #15 item 5 in a real browser, on a phone (360 px): the Camat refers a complaint to the office whose duty
it is, to be followed for a few working days; the complaint page says to whom and until when, lists the signed
surat pelimpahan once the letters worker has made it and prints the Kartu Kendali at any moment; the staf finds
it in the inbox as a referral waiting for an answer, records the office's answer, and the complaint ends
closed as referred. Every page fits the screen with every field labelled; the citizen's tracking page tells the
referral."""

from __future__ import annotations

import re
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import httpx
import pytest

from tests.browser.conftest import NO_PLAYWRIGHT, poll

pytest.importorskip("playwright.sync_api", reason=NO_PLAYWRIGHT)
from playwright.sync_api import expect

from tests.browser.pages import (
    KECAMATAN,
    download_pdf,
    fits_the_screen,
    open_from_inbox,
    reloaded_until,
    sign_in,
)
from tests.browser.test_page_quality import UNLABELLED

pytestmark = [pytest.mark.browser, pytest.mark.timeout(600)]

AGENCY = "Dinas Pekerjaan Umum dan Penataan Ruang Kabupaten Pamekasan"  # long: it must wrap on a phone
WAIT = 120  # seconds: the workers number, render and sign asynchronously


def act(page, action: str, fields: dict[str, str], button: str) -> None:
    """Fill the action's form by its labels (a list by its visible text) and send it; the page confirms."""
    form = page.locator(f'form[data-aksi="{action}"]')
    poll(
        lambda: reloaded_until(page, lambda: form.count() > 0),
        timeout=WAIT,
        interval=2,
        message=f"the form {action!r} on {page.url}",
    )
    for label, value in fields.items():
        field = form.get_by_label(label, exact=True)
        if field.evaluate("e => e.tagName") == "SELECT":
            field.select_option(label=value)
        else:
            field.fill(value)
    form.get_by_role("button", name=button, exact=True).click()
    page.wait_for_load_state()
    expect(page.locator("p.pesan.berhasil")).to_have_count(1)


def test_a_referral_is_followed_until_the_staf_records_the_offices_answer(new_context, stack, shot, browser_artifacts):
    from tests.support.complaints import valid_body

    body = valid_body()
    body["subject"] = f"Jembatan kabupaten retak ({uuid.uuid4().hex[:6]})"
    r = httpx.post(f"{stack}/v1/complaints", json=body, timeout=10)
    assert r.status_code == 202, r.text
    code = r.json()["tracking_code"]

    def as_(role: str):
        ctx = new_context(mobile=True)
        page = ctx.new_page()
        sign_in(page, f"{role}.{KECAMATAN}")
        open_from_inbox(page, code, shot, f"pelimpahan-{role}")
        return page

    act(as_("kasi"), "verify-identity", {}, "Verifikasi identitas")
    act(as_("staf"), "register", {}, "Registrasi")

    camat = as_("camat")
    form = camat.locator('form[data-aksi="refer"]')
    expect(form.get_by_label("Pantau selama (hari kerja)")).to_have_value("14")
    fits_the_screen(camat)
    act(
        camat,
        "refer",
        {
            "Instansi tujuan": AGENCY,
            "Jenis instansi": "OPD kabupaten",
            "Alamat instansi (tidak wajib)": "Jalan Jokotole 1, Pamekasan",
            "Alasan": "Jembatan di jalan kabupaten: kewenangan Dinas PUPR.",
            "Pantau selama (hari kerja)": "5",
        },
        "Limpahkan",
    )
    state = camat.locator("#judul-keadaan + dl")
    expect(state).to_contain_text(
        re.compile(rf"Dilimpahkan ke {AGENCY} — menunggu tanggapan sampai \d{{1,2}} \w+ 20\d\d")
    )
    expect(state).to_contain_text(re.compile(r"Surat pelimpahan\s*000\.8\.3\.4/\d+/"))
    fits_the_screen(camat)
    shot(camat, "pelimpahan-dilimpahkan-360")

    # the signed surat pelimpahan, listed by its number once the letters worker has made it
    documents = camat.locator("section[aria-labelledby='judul-dokumen']")
    poll(
        lambda: reloaded_until(camat, lambda: "Surat Pelimpahan" in documents.inner_text()),
        timeout=WAIT,
        interval=2,
        message="the surat pelimpahan among the documents",
    )
    expect(documents).to_contain_text(re.compile(r"Surat Pelimpahan 000\.8\.3\.4/\d+/"))
    letter = documents.locator("li", has_text="Surat Pelimpahan").get_by_role("link", name="Unduh PDF")
    download_pdf(camat, letter, browser_artifacts / f"surat-pelimpahan-{code}.pdf")
    card = documents.get_by_role("link", name="Cetak Kartu Kendali")
    download_pdf(camat, card, browser_artifacts / f"kartu-kendali-{code}.pdf")
    camat.context.watch.assert_quiet()

    # the citizen's tracking page, while the kecamatan follows the referral
    citizen = new_context(mobile=True).new_page()
    citizen.goto(f"/lacak/{code}")
    poll(
        lambda: reloaded_until(citizen, lambda: "Kecamatan memantau" in citizen.locator("main").inner_text()),
        timeout=60,
        interval=1,
        message="the tracking page to tell the referral followed",
    )
    expect(citizen.locator("main")).to_contain_text(
        re.compile(rf"Dilimpahkan ke {AGENCY}\.\s+Kecamatan memantau tindak lanjutnya sampai \d{{1,2}} \w+ 20\d\d\.")
    )
    expect(citizen.locator("main")).to_contain_text("Dilimpahkan, dipantau kecamatan")
    fits_the_screen(citizen)
    shot(citizen, "pelimpahan-lacak-dipantau-360")

    # the staf: in the inbox as a referral waiting for the office, then the answer recorded
    staf = new_context(mobile=True).new_page()
    sign_in(staf, f"staf.{KECAMATAN}")
    staf.goto(f"/kotak-masuk?q={code}")
    row = staf.locator("tr", has=staf.get_by_role("link", name=code, exact=True))
    expect(row).to_contain_text("Dilimpahkan, menunggu tanggapan")
    fits_the_screen(staf)
    shot(staf, "pelimpahan-kotak-masuk-staf-360")
    row.get_by_role("link", name=code, exact=True).click()
    assert staf.evaluate(UNLABELLED) == []
    today = datetime.now(ZoneInfo("Asia/Jakarta")).date()
    act(
        staf,
        "record-referral-answer",
        {
            "Isi tanggapan": "Perbaikan jembatan dianggarkan dan dikerjakan bulan depan.",
            "Tanggal tanggapan (tidak wajib)": today.isoformat(),
            "Nomor surat atau cara diterima (tidak wajib)": "Surat 600/145/432.305/2026",
        },
        "Catat tanggapan",
    )
    main = staf.locator("main")
    expect(main).to_contain_text("Selesai: Dilimpahkan")
    expect(main).to_contain_text(f"{AGENCY} menanggapi pada")
    expect(main).to_contain_text("Tanggapan instansi penerima pelimpahan dicatat")
    expect(staf.locator("form.aksi")).to_have_count(0)
    fits_the_screen(staf)
    shot(staf, "pelimpahan-ditanggapi-360")
    staf.context.watch.assert_quiet()

    # the citizen's tracking page: the office answered (the answer itself went to the complainant)
    citizen.reload()
    poll(
        lambda: reloaded_until(citizen, lambda: "sudah menanggapi" in citizen.locator("main").inner_text()),
        timeout=60,
        interval=1,
        message="the tracking page to tell that the office answered",
    )
    expect(citizen.locator("main")).to_contain_text(
        f"dilimpahkan ke {AGENCY}, dan instansi tersebut sudah menanggapi pada"
    )
    expect(citizen.locator("main")).to_contain_text("Perbaikan jembatan dianggarkan dan dikerjakan bulan depan.")
    fits_the_screen(citizen)
    shot(citizen, "pelimpahan-lacak-ditanggapi-360")
    citizen.context.watch.assert_quiet()
