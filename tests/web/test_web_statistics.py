"""The public statistics page ``/statistik`` (issue #18 item 4, ADR 0022) over the real APIs: no sign-in, Bahasa
Indonesia, the figures of the period in cards, inline SVG charts and tables, withheld figures as ``*`` with the
line that says why, the filters and their errors, and nothing of a complainant on the page. Linked from the home
page and the menu.

The complaints are written straight into the dashboard's read model (as tests/integration/test_public_statistics.py
does), in two fresh kecamatan of a fresh kabupaten.
"""

from __future__ import annotations

import html
import re
import uuid
from datetime import date, datetime
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import insert

from services.dashboard.adapters import tables as t
from shared.tenancy import Kecamatan, upsert_kecamatan
from tests.support.web import web_client

WIB = ZoneInfo("Asia/Jakarta")
NIK, PHONE = "3528071505904444", "+6281277776666"


@pytest.fixture(scope="module")
def place(engine):
    suffix = uuid.uuid4().hex[:6]
    kab = f"webstat-{suffix}"
    items = [
        Kecamatan(
            f"webstat-{suffix}-{n}", f"97.{suffix}.{n}", f"Wetan {n.upper()}", kab, f"Kabupaten Wetan {suffix}", {}
        )
        for n in ("a", "b")
    ]
    upsert_kecamatan(engine, items)
    return {"kabupaten": kab, "kabupaten_name": items[0].kabupaten_name, "a": items[0], "b": items[1]}


@pytest.fixture(scope="module")
def seeded(engine, place):
    """A: January 9 (all resolved in 4 days, within the 12 working days), February 2. B: January 3. The page
    shows the real clock's year by default: these are months of 2026, asked for by name."""
    rows = []

    def row(kecamatan: str, day: date, resolved: bool) -> dict:
        received_at = datetime(day.year, day.month, day.day, 9, 0, tzinfo=WIB)
        return {
            "complaint_id": uuid.uuid4(),
            "kecamatan": kecamatan,
            "tracking_code": f"WS{uuid.uuid4().hex[:10].upper()}",
            "received_at": received_at,
            "received_date": day,
            "complainant_name": f"Pengadu Rahasia {uuid.uuid4().hex[:6]}",
            "complainant_nik": NIK,
            "complainant_phone": PHONE,
            "channel": "web",
            "subject": f"Pokok tersembunyi {uuid.uuid4().hex[:6]}",
            "status": "closed" if resolved else "in_progress",
            "outcome": "resolved" if resolved else None,
            "closed_at": datetime(day.year, day.month, day.day + 4, 9, 0, tzinfo=WIB) if resolved else None,
            "within_sla": True if resolved else None,
            "sop_version": "2024.1",
            "position": 1,
        }

    a, b = place["a"].slug, place["b"].slug
    rows += [row(a, date(2026, 1, 5 + i), True) for i in range(9)]
    rows += [row(a, date(2026, 2, 2 + i), False) for i in range(2)]
    rows += [row(b, date(2026, 1, 12 + i), False) for i in range(3)]
    with engine.begin() as conn:
        conn.execute(insert(t.complaints), rows)
    return rows


@pytest.fixture(scope="module")
def web(settings, engine, seeded):
    # the dashboard in web_client reads its settings from the environment: the page is asked often here
    mp = pytest.MonkeyPatch()
    mp.setenv("PENGADUAN_RATE_LIMIT_STATISTICS", "100000/minute")
    try:
        with web_client(settings) as client:
            yield client
    finally:
        mp.undo()


def words_of(page: str) -> str:
    return html.unescape(re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page)))


def test_the_page_for_a_kabupaten_without_signing_in(web, place, seeded):
    web.cookies.clear()
    r = web.get(
        "/statistik", params={"wilayah": f"kabupaten/{place['kabupaten']}", "dari": "2026-01", "sampai": "2026-12"}
    )
    assert r.status_code == 200, r.text
    page = r.text
    text = words_of(page)
    assert '<html lang="id">' in page and "Statistik pengaduan" in text
    assert f"{place['kabupaten_name']}, Jan 2026 – Des 2026" in text
    assert "14 pengaduan diterima" in text  # 9 + 2 + 3: the kabupaten's year is shown...
    assert "9 selesai ditanggapi" in text and "100,0% ditutup dalam 12 hari kerja" in text
    assert "4,0 hari median lama penanganan" in text
    # ...A's February (2) and B's January (3) are withheld, and with them what would give them away
    table = re.search(r"<h3>Per kecamatan.*?</table>", page, re.DOTALL).group(0)
    assert re.search(rf"<th scope=\"row\">{place['b'].name}</th><td>\*</td>", table)
    assert re.search(rf"<th scope=\"row\">{place['a'].name}</th><td>\*</td>", table)  # else A's 11 tell B's 3
    assert "disembunyikan" in text and "tidak dapat dihitung dari jumlah-jumlahnya" in text
    # two charts drawn on the server: the months and the kecamatan; nothing inline for the CSP to refuse
    assert page.count("<svg ") == 2 and 'class="batang disembunyikan"' in page
    assert "style=" not in page and "<script>" not in page.split("</head>", 1)[1]
    assert 'href="/static/statistik.css"' in page
    # the selection stays in the form; the data link asks the API the same
    assert f'<option value="kabupaten/{place["kabupaten"]}" selected>' in page
    assert f"/v1/public/statistics?kabupaten={place['kabupaten']}&amp;from=2026-01&amp;to=2026-12" in page


def test_nothing_of_a_complainant_on_the_page(web, place, seeded):
    for params in (
        {"wilayah": f"kabupaten/{place['kabupaten']}", "dari": "2026-01", "sampai": "2026-03"},
        {"wilayah": place["a"].slug, "dari": "2026-01", "sampai": "2026-02"},
    ):
        page = web.get("/statistik", params=params).text
        for row in seeded:
            for value in (row["tracking_code"], row["complainant_name"], row["subject"], str(row["complaint_id"])):
                assert value not in page
        assert NIK not in page and PHONE not in page and "Rahasia" not in page


def test_one_kecamatan_by_month(web, place, seeded):
    page = web.get("/statistik", params={"wilayah": place["a"].slug, "dari": "2026-01", "sampai": "2026-02"}).text
    text = words_of(page)
    assert f"Kecamatan {place['a'].name}, Jan 2026 – Feb 2026" in text
    assert "<h3>Per kecamatan" not in page and page.count("<svg ") == 1  # one kecamatan: no chart or table of them
    months = re.search(r"<h3>Per bulan.*?</table>", page, re.DOTALL).group(0)
    assert re.search(r'<th scope="row">Jan 2026</th><td>\*</td>', months)  # 9 shown would tell February's 2
    assert re.search(r'<th scope="row">Feb 2026</th><td>\*</td>', months)
    # January and February only: a total other than the year's is shown only where each month of it is
    # (and its other counts with it: a cell's counts are withheld together)
    assert re.search(r"<tfoot><tr><th scope=\"row\">Jumlah</th><td>\*</td><td>\*</td>", months)


def test_bad_months_are_shown_next_to_their_fields(web):
    r = web.get("/statistik", params={"dari": "2026-13", "sampai": "2020-01"})
    assert r.status_code == 422
    found = re.search(r'<p class="galat-isian" id="galat-dari">([^<]*)</p>', r.text)
    assert found and "YYYY-MM" in html.unescape(found.group(1))
    assert "Ada isian yang belum benar" in r.text and "<svg" not in r.text
    r = web.get("/statistik", params={"dari": "2020-01", "sampai": "2026-01"})
    assert r.status_code == 422 and "Periode paling panjang 36 bulan" in html.unescape(r.text)


def test_linked_from_the_home_page_and_the_menu(web):
    web.cookies.clear()
    page = web.get("/").text
    assert page.count('href="/statistik"') >= 2  # the menu and the home page's line
    assert web.get("/statistik").status_code == 200  # the default period: the last twelve months
