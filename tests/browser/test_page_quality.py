"""What every page owes a citizen on a cheap phone and staff at their desks (issue #7, "How"): under 300 KB
on a first load, no sideways scrolling at 360 px, Bahasa Indonesia, every field labelled, a skip link first in
the keyboard's order, and nothing from another origin."""

from __future__ import annotations

from urllib.parse import urlsplit

import httpx
import pytest

from tests.browser.conftest import NO_PLAYWRIGHT

pytest.importorskip("playwright.sync_api", reason=NO_PLAYWRIGHT)

from tests.browser.pages import KECAMATAN, fits_the_screen, sign_in

pytestmark = pytest.mark.browser

BUDGET = 300 * 1024  # bytes on a first load (empty cache), the page and everything it pulls in

UNLABELLED = """() => Array.from(document.querySelectorAll('input, select, textarea'))
  .filter(el => el.type !== 'hidden' && !(el.labels && el.labels.length) && !el.getAttribute('aria-label')
                && !el.getAttribute('aria-labelledby'))
  .map(el => el.outerHTML.slice(0, 120))"""


def weigh(context, stack: str, path: str, shot, name: str):
    """Opens ``path`` in a fresh page of ``context`` and returns (page, bytes received, other origins asked)."""
    page = context.new_page()
    received: list[int] = []
    foreign: list[str] = []
    base = urlsplit(stack)

    def on_response(response) -> None:
        try:
            received.append(len(response.body()))
        except Exception:  # a redirect has no body
            received.append(0)

    def on_request(request) -> None:
        if urlsplit(request.url).netloc not in ("", base.netloc) and not request.url.startswith("data:"):
            foreign.append(request.url)

    page.on("response", on_response)
    page.on("request", on_request)
    page.goto(path)
    page.wait_for_load_state("networkidle")
    artifacts = shot(page, name).parent
    with (artifacts / "weights.txt").open("a") as out:  # the figures, for the record
        out.write(f"{path}\t{sum(received)}\n")
    return page, sum(received), foreign


def check(page, total: int, foreign: list[str]) -> None:
    assert total <= BUDGET, f"{page.url}: {total / 1024:.0f} KB on a first load (budget {BUDGET // 1024} KB)"
    assert foreign == [], f"{page.url} asked other origins: {foreign}"
    assert page.evaluate("document.documentElement.lang") == "id"
    assert page.evaluate(UNLABELLED) == [], f"{page.url} has fields without a label"
    fits_the_screen(page)


@pytest.fixture
def complaint_id(stack) -> str:
    """A complaint at step 2 in Pegantenan (through the public JSON API: this test is about the pages)."""
    from tests.support.complaints import valid_body

    r = httpx.post(f"{stack}/v1/complaints", json=valid_body(), timeout=10)
    assert r.status_code == 202, r.text
    return r.json()["tracking_code"]


@pytest.mark.parametrize("path", ["/", "/pengaduan/baru", "/lacak", "/masuk", "/statistik"])
def test_the_citizens_pages_are_light_labelled_and_fit_a_phone(new_context, stack, shot, path):
    page, total, foreign = weigh(new_context(mobile=True), stack, path, shot, "mutu-warga" + path.replace("/", "-"))
    check(page, total, foreign)
    if page.locator("[autofocus]").count():  # the sign-in page starts in its first field
        assert page.evaluate("document.activeElement.id") == page.locator("[autofocus]").first.get_attribute("id")
    else:
        page.keyboard.press("Tab")  # the first stop: the skip link, which leads to the content
        assert page.evaluate("document.activeElement.textContent.trim()") == "Langsung ke isi"


def test_the_staff_pages_are_light_labelled_and_fit_a_phone(new_context, stack, shot, complaint_id):
    context = new_context(mobile=True)
    page = context.new_page()
    sign_in(page, f"kasi.{KECAMATAN}")
    inbox, total, foreign = weigh(context, stack, "/kotak-masuk", shot, "mutu-kotak-masuk")
    check(inbox, total, foreign)
    link = inbox.locator("a[href^='/petugas/pengaduan/']").first
    complaint_page, total, foreign = weigh(context, stack, link.get_attribute("href"), shot, "mutu-petugas-pengaduan")
    check(complaint_page, total, foreign)
    register, total, foreign = weigh(context, stack, "/buku-rekap", shot, "mutu-buku-rekap")
    check(register, total, foreign)


def test_the_dashboard_page_is_light_and_fits_a_phone(new_context, stack, shot):
    context = new_context(mobile=True)
    sign_in(context.new_page(), "kabupaten.pamekasan")
    page, total, foreign = weigh(context, stack, "/dasbor", shot, "mutu-dasbor")
    page.locator("#dasbor").wait_for()
    check(page, total, foreign)
