"""Issue #15 item 6 in the web app: every date and time of a kecamatan's complaint is shown in its kabupaten's time
zone (a setting per kabupaten, ``pengaduan kabupaten configure <slug> --settings '{"time_zone": ...}'``, named by
``GET /v1/kecamatan``) with its label, whatever the server's zone: here a kecamatan of a WITA kabupaten (UTC+8),
over the real APIs. Pamekasan's pages (WIB) are the other web tests'."""

from __future__ import annotations

import re
import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from sqlalchemy import select

from services.accounts.handlers import add_user
from services.dashboard.adapters.projections import ComplaintsProjection
from services.dashboard.adapters.subscription import Subscription
from services.dashboard.bootstrap import bootstrap as dashboard_bootstrap
from services.dashboard.config import DashboardSettings
from services.intake.adapters.tables import submissions
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from shared.eventstore.postgres import PostgresEventStore
from shared.tenancy import Kecamatan, configure_kabupaten, upsert_kecamatan
from tests.support import complaints
from tests.support.web import web_client
from tests.unit.test_attachments import tiny_png
from tests.web.test_web_public import form_values, project

PASSWORD = "rahasia-uji-123"
WITA = ZoneInfo("Asia/Makassar")
# 02:15 UTC on Monday 2 November 2026: 09.15 WIB, 10.15 WITA
RECEIVED = datetime(2026, 11, 2, 2, 15, tzinfo=UTC)


# -- fixtures -------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def place(engine) -> dict[str, str]:
    """A kecamatan of a kabupaten whose time zone is WITA, made before the web app lists the kecamatan."""
    suffix = uuid.uuid4().hex[:5]
    kabupaten = f"timur-{suffix}"
    slug = f"wita-{suffix}"
    upsert_kecamatan(engine, [Kecamatan(slug, f"73.{suffix}", f"Waktu Tengah {suffix}", kabupaten, "Kab. Timur", {})])
    configure_kabupaten(engine, kabupaten, {"time_zone": "Asia/Makassar"})
    return {"slug": slug, "kabupaten": kabupaten}


@pytest.fixture(scope="module")
def people(engine, place) -> dict[str, str]:
    suffix = uuid.uuid4().hex[:5]
    roles = {
        "staf": ("staf", place["slug"], None, None),
        "kasi": ("kasi", place["slug"], None, "pemerintahan"),
        "kabupaten": ("kabupaten", None, place["kabupaten"], None),
        "admin": ("admin", None, None, None),
    }
    names = {}
    for key, (role, kecamatan, kabupaten, unit) in roles.items():
        username = f"tz{suffix}.{key}"
        add_user(engine, username, f"Petugas Timur {key}", role, PASSWORD, kecamatan=kecamatan, kabupaten=kabupaten,
                 unit=unit)  # fmt: skip
        names[key] = username
    return names


@pytest.fixture(scope="module")
def web_settings(settings, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("web-time-zone-data")
    return settings.model_copy(update={"data_dir": str(data_dir), "public_base_url": "http://127.0.0.1:8000"})


@pytest.fixture(scope="module")
def web(web_settings, place, people):
    with web_client(web_settings) as client:
        yield client


@pytest.fixture(scope="module")
def wf(web_settings, place):
    container = workflow_bootstrap(web_settings)
    yield container
    container.engine.dispose()


# -- helpers --------------------------------------------------------------------------------------------------
def csrf_of(page: str) -> str:
    found = re.search(r'name="csrf_token" value="([^"]+)"', page)
    assert found, "the page has no CSRF field"
    return found.group(1)


def sign_in(web, username: str) -> None:
    web.cookies.clear()
    token = csrf_of(web.get("/masuk").text)
    r = web.post(
        "/masuk", data={"username": username, "password": PASSWORD, "csrf_token": token}, follow_redirects=False
    )
    assert r.status_code == 303, r.text


def words(page: str) -> str:
    return re.sub(r"\s+", " ", re.sub(r"<[^>]+>", " ", page))


def field_tag(page: str, name: str) -> str:
    found = re.search(rf'<(input|select|textarea)\b[^>]*\bname="{name}"[^>]*>', page)
    assert found, f"no field named {name}"
    return found.group(0)


def times_shown(page: str) -> list[str]:
    """Every time of day a page shows, with its zone's label: ``10.15 WITA``."""
    return re.findall(r"\b\d{2}\.\d{2} (?:WIB|WITA|WIT)\b", words(page))


def wita_minutes_around_now() -> set[str]:
    """``HH.MM WITA`` of the minutes around now (a page drawn just now shows one of them)."""
    now = datetime.now(WITA)
    return {(now + timedelta(minutes=d)).strftime("%H.%M WITA") for d in (-1, 0, 1)}


# -- the staff pages ------------------------------------------------------------------------------------------
def test_the_complaint_page_and_the_inbox_show_a_wita_kecamatan_s_times_in_wita(web, wf, place, people):
    cid = complaints.new_complaint(wf, place["slug"], subject="Lampu jalan mati", received_at=RECEIVED)
    sign_in(web, people["kasi"])
    inbox = web.get("/kotak-masuk")
    assert inbox.status_code == 200 and f'href="/petugas/pengaduan/{cid}"' in inbox.text
    assert "2 Nov 2026 10.15 WITA" in words(inbox.text)  # one hour more than WIB's 09.15
    assert "WIB" not in words(inbox.text)

    for who in ("kasi", "kabupaten"):  # the kabupaten reads it in its own zone too
        sign_in(web, people[who])
        page = web.get(f"/petugas/pengaduan/{cid}")
        assert page.status_code == 200, page.text
        text = words(page.text)
        assert "Senin, 2 November 2026 pukul 10.15 WITA" in text, who
        assert "09.15" not in text and "WIB" not in text, who
        shown = times_shown(page.text)
        assert shown and all(t.endswith(" WITA") for t in shown), shown  # the due times and the history too


def test_the_register_dates_a_complaint_by_the_kabupaten_s_calendar(web, wf, web_settings, place, people):
    """16:30 UTC on 2 November is 23:30 WIB, still the 2nd, but 00:30 WITA on the 3rd: the register's date."""
    late = datetime(2026, 11, 2, 16, 30, tzinfo=UTC)
    cid = complaints.new_complaint(wf, place["slug"], subject="Pohon tumbang", received_at=late)
    for version, (action, role) in enumerate([("verify-identity", "kasi"), ("register", "staf")], start=1):
        handlers.act(
            wf,
            cid,
            action,
            {},
            expected_version=version,
            user_id=people[role],
            role=role,
            unit="pemerintahan",
            kecamatan=place["slug"],
            at=late + timedelta(days=1, hours=version),
            correlation_id=uuid.uuid4(),
        )
    dash = dashboard_bootstrap(DashboardSettings(**web_settings.model_dump()))
    try:
        Subscription(
            dash.engine, PostgresEventStore(dash.engine), ComplaintsProjection(dash.calendars), batch_size=500
        ).catch_up()
    finally:
        dash.engine.dispose()

    sign_in(web, people["staf"])
    page = web.get("/buku-rekap?dari=2026-11-03&sampai=2026-11-03")
    assert page.status_code == 200 and "Pohon tumbang" in page.text
    row = re.search(r"<tr>(?:(?!</tr>).)*Pohon tumbang.*?</tr>", page.text, re.DOTALL).group(0)
    assert "3 November 2026" in words(row) and "2 November 2026" not in words(row)
    assert "Pohon tumbang" not in web.get("/buku-rekap?dari=2026-11-02&sampai=2026-11-02").text

    sign_in(web, people["kabupaten"])
    page = web.get(f"/buku-rekap?kecamatan={place['slug']}&dari=2026-11-03&sampai=2026-11-03")
    assert page.status_code == 200 and "3 November 2026" in words(page.text)


def test_the_entry_page_reads_the_time_received_in_wita_and_says_so(web, engine, place, people):
    sign_in(web, people["staf"])
    page = web.get("/petugas/pengaduan/baru").text
    assert '<label for="received_at">Diterima pada (WITA)</label>' in page
    shown = datetime.fromisoformat(re.search(r'value="([^"]+)"', field_tag(page, "received_at")).group(1))
    assert abs(shown.replace(tzinfo=WITA) - datetime.now(UTC)) < timedelta(minutes=2)  # now, on the office's clock

    typed = (datetime.now(UTC) - timedelta(hours=3)).astimezone(WITA).replace(second=0, microsecond=0)
    values = {
        "channel": "telepon",
        "received_at": typed.strftime("%Y-%m-%dT%H:%M"),
        "name": "Ahmad Fauzi",
        "nik": "3528071505900001",
        "id_kind": "ktp",
        "phone": "0812-3456-7890",
        "email": "",
        "address": "Desa Timur",
        "subject": "Jalan berlubang",
        "description": f"Jalan di depan sekolah berlubang. ({uuid.uuid4().hex[:8]})",
        "csrf_token": csrf_of(page),
    }
    r = web.post("/petugas/pengaduan/baru", data=values, follow_redirects=False)
    assert r.status_code == 200, r.text
    assert typed.strftime("pukul %H.%M WITA") in words(r.text)
    with engine.connect() as conn:
        received_at = conn.execute(
            select(submissions.c.received_at).where(submissions.c.description == values["description"])
        ).scalar_one()
    assert received_at == typed  # 10.15 typed is 10.15 WITA (02.15 UTC), not WIB


def test_the_admin_pages_use_the_kecamatan_s_today_and_hours(web, place, people):
    sign_in(web, people["admin"])
    at = f"/admin/kecamatan/{place['slug']}"
    plh = web.get(f"{at}/plh")
    assert plh.status_code == 200
    today = datetime.now(UTC).astimezone(WITA).date().isoformat()
    assert re.search(rf'name="starts_on"[^>]*value="{today}"', plh.text) or re.search(
        rf'value="{today}"[^>]*name="starts_on"', plh.text
    ), "the delegation starts today, WITA's"

    added = web.post(
        f"{at}/unit",
        data={"csrf_token": csrf_of(web.get(at).text), "formulir": "tambah-unit", "code": "perizinan",
              "kind": "seksi", "name": "Pelayanan Perizinan"},
    )  # fmt: skip
    assert added.status_code == 200 and "Pelayanan Perizinan" in added.text
    history = web.get(f"{at}/riwayat").text
    assert "Unit ditambahkan" in history
    shown = times_shown(history)
    assert shown and set(shown) <= wita_minutes_around_now(), shown


# -- the citizen's pages --------------------------------------------------------------------------------------
def test_the_tracking_page_shows_a_wita_kecamatan_s_times_in_wita(web, engine, place):
    web.cookies.clear()
    token = csrf_of(web.get("/pengaduan/baru").text)
    r = web.post(
        "/pengaduan/baru",
        data={**form_values(kecamatan=place["slug"]), "csrf_token": token},
        files=[("identitas", ("ktp.png", tiny_png(7301), "image/png"))],
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text
    code = r.headers["location"].rsplit("/", 1)[1]
    for path in (f"/pengaduan/terkirim/{code}", f"/lacak/{code}"):  # received just now, on the office's clock
        shown = times_shown(web.get(path).text)
        assert shown and set(shown) <= wita_minutes_around_now(), (path, shown)

    project(engine, code, 3)  # steps done at 02.30, 03.30 and 04.30 UTC on 2 November
    page = web.get(f"/lacak/{code}").text
    done = re.findall(r'<time class="kapan" datetime="[^"]+">([^<]+)</time>', page)
    assert done == ["2 Nov 2026 10.30 WITA", "2 Nov 2026 11.30 WITA", "2 Nov 2026 12.30 WITA"]  # WIB's hour + 1
    assert "WIB" not in words(page)
