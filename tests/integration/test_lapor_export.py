"""The export of the period's complaints for SP4N-LAPOR!'s administrators (``GET /v1/dashboard/exports/lapor.csv``
and ``.xlsx``), read back with the csv module and openpyxl: the category by its LAPOR! name, the complaints that
came from LAPOR! left out unless asked for, names as the Buku Rekap's export shows them (a kabupaten user's masked,
a pelapor rahasia's concealed), no NIK, phone or tracking code, and a file that shows names in the access log."""

from __future__ import annotations

import csv
import io
import uuid
from datetime import datetime
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import select

from services.dashboard.adapters.projections import ComplaintsProjection
from services.dashboard.adapters.subscription import Subscription
from services.dashboard.bootstrap import bootstrap as dashboard_bootstrap
from services.dashboard.config import DashboardSettings
from services.dashboard.domain.lapor_export import COLUMNS
from services.dashboard.entrypoints.api import create_app
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from shared.access_log import access_log
from shared.auth import Principal
from shared.contracts.intake import Complainant
from shared.eventstore.postgres import PostgresEventStore
from shared.masking import CONFIDENTIAL_NAME, REDACTED
from shared.tenancy import Kecamatan, upsert_kecamatan
from tests.support.auth import bearer_header
from tests.support.complaints import NIK, PHONE, intake_message

WIB = ZoneInfo("Asia/Jakarta")
NAMES = [name for name, _ in COLUMNS]


def at(day: int, hour: int = 9) -> datetime:
    return datetime(2026, 3, day, hour, tzinfo=WIB)


@pytest.fixture(scope="module")
def place(engine):
    suffix = uuid.uuid4().hex[:6]
    kab = f"lprkab-{suffix}"
    items = [
        Kecamatan(f"lpr-{suffix}-{n}", f"98.{suffix}.{n}", f"Lapor {n.upper()}", kab, f"Kabupaten Lapor {suffix}", {})
        for n in ("a", "b")
    ]
    upsert_kecamatan(engine, items)
    return {"kabupaten": kab, "k1": items[0].slug, "k2": items[1].slug, "k1_name": items[0].name}


@pytest.fixture(scope="module")
def made(settings, engine, place):
    wf = workflow_bootstrap(settings)

    def complaint(kecamatan, received, channel="web", name="Siti Aminah", confidential=False, category=None):
        person = Complainant(name=name, nik=NIK, phone=PHONE, address="Dusun Bunangka", confidential=confidential)
        message = intake_message(
            kecamatan,
            complainant=person,
            channel=channel,
            received_at=received,
            subject=f"Aduan {channel} {received:%d-%m}",
        ).model_copy(update={"category": category})
        handlers.record_complaint(wf, message)
        return message

    found = {
        "web": complaint(place["k1"], at(2), category="infrastruktur"),
        "lapor": complaint(place["k1"], at(3), channel="lapor", name="Pelapor Lapor"),
        "rahasia": complaint(place["k1"], at(4), name="Orang Rahasia", confidential=True),
        "rejected": complaint(place["k1"], at(5), name="Budi Santoso", category="kesehatan"),
        "later": complaint(place["k1"], at(25), name="Sesudah Periode"),
        "other": complaint(place["k2"], at(6), name="Warga Lain"),
    }
    handlers.act(
        wf,
        found["rejected"].complaint_id,
        "reject-identity",
        {"reason": "KTP tidak terbaca"},
        expected_version=1,
        user_id="uji.kasi",
        role="kasi",
        unit=None,
        kecamatan=place["k1"],
        at=at(5, 11),
        correlation_id=uuid.uuid4(),
    )
    wf.engine.dispose()
    dash = dashboard_bootstrap(DashboardSettings(**settings.model_dump()), engine=engine)
    Subscription(engine, PostgresEventStore(engine), ComplaintsProjection(dash.calendars), batch_size=500).catch_up()
    return {"dash": dash, **found}


@pytest.fixture(scope="module")
def client(made):
    with TestClient(create_app(made["dash"])) as c:
        yield c


def _token(settings, role, kecamatan=None, kabupaten=None):
    username = f"lpr.{role}.{kecamatan or kabupaten}"[:64]
    return bearer_header(settings, Principal(username, f"Uji {role}", role, kecamatan, kabupaten, None))


def _csv(answer) -> list[dict[str, str]]:
    assert answer.status_code == 200, answer.text
    assert answer.headers["content-type"].startswith("text/csv")
    text = answer.content.decode("utf-8-sig")
    reader = csv.DictReader(io.StringIO(text))
    assert reader.fieldnames == NAMES
    return list(reader)


def test_staff_get_their_period_with_lapor_names_and_the_access_log_says_so(settings, engine, client, place, made):
    staff = _token(settings, "staf", kecamatan=place["k1"])
    headers = {**staff, "X-Access-Reason": "Rekap bulanan untuk admin SP4N-LAPOR!"}
    answer = client.get(
        "/v1/dashboard/exports/lapor.csv", params={"from": "2026-03-01", "to": "2026-03-20"}, headers=headers
    )
    rows = _csv(answer)
    ids = [r["ID Laporan Instansi"] for r in rows]
    assert ids == [str(made[k].complaint_id) for k in ("web", "rahasia", "rejected")]  # not LAPOR!'s, not later
    web, rahasia, rejected = rows
    assert (web["Kategori"], web["Nama Pelapor"], web["Sumber"], web["Status"]) == (
        "Infrastruktur",
        "Siti Aminah",
        "Formulir web",
        "Proses",
    )
    assert web["Tanggal Laporan"] == "02-03-2026 09:00"
    assert web["Instansi"].startswith(f"Kecamatan {place['k1_name']}")
    assert (rahasia["Nama Pelapor"], rahasia["Kategori"]) == (CONFIDENTIAL_NAME, "Lainnya")  # none set: catch-all
    assert (rejected["Kategori"], rejected["Status"], rejected["Hasil"]) == (
        "Kesehatan",
        "Selesai",
        "Ditolak, identitas tidak jelas",
    )
    assert rejected["Tanggal Selesai"] == "05-03-2026 11:00"
    content = answer.content.decode("utf-8-sig")
    for secret in (NIK, PHONE, made["web"].tracking_code, "Dusun Bunangka", "Orang Rahasia"):
        assert secret not in content
    with engine.connect() as conn:
        [logged] = conn.execute(
            select(access_log.c.complaint_ids, access_log.c.reason).where(
                access_log.c.what == "lapor.csv", access_log.c.kecamatan == place["k1"]
            )
        ).all()
    assert sorted(logged.complaint_ids) == sorted([made["web"].complaint_id, made["rejected"].complaint_id])
    assert logged.reason == "Rekap bulanan untuk admin SP4N-LAPOR!"

    with_lapor = _csv(
        client.get(
            "/v1/dashboard/exports/lapor.csv",
            params={"from": "2026-03-01", "to": "2026-03-20", "with_lapor": "true"},
            headers=headers,
        )
    )
    [from_lapor] = [r for r in with_lapor if r["ID Laporan Instansi"] == str(made["lapor"].complaint_id)]
    assert from_lapor["Sumber"] == "SP4N-LAPOR!"


def test_the_kabupaten_gets_every_kecamatan_as_xlsx_names_masked(settings, engine, client, place, made):
    kabupaten = _token(settings, "kabupaten", kabupaten=place["kabupaten"])
    answer = client.get("/v1/dashboard/exports/lapor.xlsx", params={"to": "2026-03-20"}, headers=kabupaten)
    assert answer.status_code == 200, answer.text
    sheet = openpyxl.load_workbook(io.BytesIO(answer.content)).active
    values = list(sheet.iter_rows(values_only=True))
    assert list(values[0]) == NAMES
    lines = [dict(zip(NAMES, v, strict=True)) for v in values[1:]]
    assert [line["ID Laporan Instansi"] for line in lines] == [
        str(made[k].complaint_id) for k in ("web", "rahasia", "rejected", "other")
    ]
    assert [line["Nama Pelapor"] for line in lines] == ["Siti ***", CONFIDENTIAL_NAME, "Budi ***", "Warga ***"]
    # the subject as the Buku Rekap's export shows it to a masked reader: withheld (the attack review's finding)
    assert all(line["Judul Laporan"] == REDACTED for line in lines), [line["Judul Laporan"] for line in lines]
    assert lines[0]["Tanggal Laporan"] == datetime(2026, 3, 2, 9, 0)  # a date, not a text
    assert lines[0]["Kategori"] == "Infrastruktur" and lines[3]["Instansi"].startswith("Kecamatan Lapor B")
    with engine.connect() as conn:
        logged = conn.execute(
            select(access_log.c.id).where(
                access_log.c.what == "lapor.xlsx", access_log.c.kecamatan.in_([place["k1"], place["k2"]])
            )
        ).all()
    assert logged == []  # no name left the system: nothing to record


def test_who_may_not(settings, client, place):
    staff = _token(settings, "staf", kecamatan=place["k1"])
    answer = client.get("/v1/dashboard/exports/lapor.csv", params={"kecamatan": place["k2"]}, headers=staff)
    assert (answer.status_code, answer.json()["code"]) == (403, "kecamatan_forbidden")
    other = _token(settings, "kabupaten", kabupaten="pamekasan")
    answer = client.get("/v1/dashboard/exports/lapor.csv", params={"kecamatan": place["k1"]}, headers=other)
    assert answer.status_code == 403
    assert client.get("/v1/dashboard/exports/lapor.csv").status_code == 401
    assert client.get("/v1/dashboard/exports/lapor.pdf", headers=staff).status_code == 422
    answer = client.get(
        "/v1/dashboard/exports/lapor.csv", params={"from": "2026-03-20", "to": "2026-03-01"}, headers=staff
    )
    assert answer.status_code == 422
