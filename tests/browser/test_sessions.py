"""Who the browser is: a visitor with no cookie of their own is nobody, whoever else is signed in right now."""

from __future__ import annotations

import re

import pytest

from tests.browser.conftest import NO_PLAYWRIGHT

pytest.importorskip("playwright.sync_api", reason=NO_PLAYWRIGHT)
from playwright.sync_api import expect

from tests.browser.pages import KECAMATAN, sign_in, sign_out

pytestmark = pytest.mark.browser


def test_a_fresh_browser_is_not_signed_in_as_the_last_staff_member(new_context, shot):
    staff = new_context()
    page = staff.new_page()
    sign_in(page, f"camat.{KECAMATAN}")  # and stays signed in

    stranger = new_context(mobile=True).new_page()
    stranger.goto("/kotak-masuk")
    shot(stranger, "sesi-orang-lain")
    expect(stranger.get_by_role("button", name=re.compile(r"^Keluar \("))).to_have_count(0)
    assert "/masuk" in stranger.url, f"a browser with no cookie opened the inbox ({stranger.url}) as someone else"
    expect(stranger.get_by_label("Nama pengguna")).to_be_visible()

    sign_out(page, f"camat.{KECAMATAN}")
    page.goto("/kotak-masuk")
    assert "/masuk" in page.url, "after signing out the inbox still opens"


def test_the_dashboard_signs_in_on_its_own_form_and_keluar_ends_the_web_session_too(new_context, shot):
    page = new_context().new_page()
    page.goto("/dasbor")
    form = page.locator("#form-masuk")
    expect(form).to_be_visible()  # nobody signed in: the dashboard's own form
    form.get_by_label("Nama pengguna").fill("kabupaten.pamekasan")
    form.get_by_label("Kata sandi").fill("demo")
    form.get_by_role("button", name="Masuk").click()
    expect(page.locator("#dasbor")).to_be_visible()
    expect(page.locator("#nama-pengguna")).to_contain_text("Kabupaten")
    shot(page, "sesi-dasbor-masuk-sendiri")
    page.locator("#keluar").click()
    expect(form).to_be_visible()
    page.goto("/buku-rekap")
    assert "/masuk" in page.url, f"after Keluar on the dashboard, /buku-rekap still opens ({page.url})"
