"""Open311 GeoReport v2: the catalogue, a POST that becomes a complaint in the workflow, searches and single
requests in GeoReport shape with nothing personal, the spec's errors, api keys and idempotent retries; every
endpoint in JSON and in the spec's XML, the discovery document, services' definitions, one id per request (the
complaint id; the tracking code only to the poster, as ``token``), anonymous reports where the kecamatan takes
them; and a GeoReport client from PyPI (``georeport``) reading it all over real HTTP through the gateway.

The client talks to both services as the base URL does: a POST to intake (services/intake/entrypoints/
open311.py), the reads to the dashboard (services/dashboard/entrypoints/open311.py), sent by the gateway's
route table (tests.support.web.Dispatcher). The reads come from the dashboard's projection of the event store
(``dashboard.service_requests``), caught up before each read as ``pengaduan projections run`` keeps it."""

from __future__ import annotations

import contextlib
import json
import uuid
import xml.etree.ElementTree as ET
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import httpx
import pytest
import requests
import uvicorn
from fastapi import FastAPI
from fastapi.testclient import TestClient
from georeport import GeoReport
from sqlalchemy import Text, case, cast, literal, or_, select, text
from starlette.concurrency import run_in_threadpool
from uvicorn.middleware.proxy_headers import ProxyHeadersMiddleware

from pengaduan.apps import gateway
from services.dashboard.adapters.jurisdictions import jurisdictions
from services.dashboard.adapters.projections import ServiceRequestsProjection
from services.dashboard.adapters.service_requests import find_service_requests
from services.dashboard.adapters.subscription import Subscription
from services.dashboard.domain.open311 import RequestQuery, RequestRow, as_georeport
from services.dashboard.entrypoints import open311, projections
from services.intake.adapters.tables import submissions
from services.intake.bootstrap import bootstrap as bootstrap_intake
from services.intake.config import IntakeSettings
from services.intake.entrypoints.api import create_app as intake_app
from services.workflow import handlers
from services.workflow.adapters.tables import complaints
from services.workflow.bootstrap import bootstrap as bootstrap_workflow
from shared.auth import install_auth
from shared.config import Settings
from shared.contracts.categories import DEFAULT, OTHER_CODE
from shared.contracts.open311 import service_of
from shared.contracts.workflow import ComplaintReceived, ComplaintReferred, ReferralAnswered, ReferralLapsed
from shared.db import make_engine
from shared.embedded import free_port
from shared.eventstore.postgres import PostgresEventStore, events
from shared.gateway import GatewaySettings, merge_openapi
from shared.http import install_error_handlers
from shared.tanggal import format_tanggal
from shared.tenancy import (
    Kecamatan,
    configure_kabupaten,
    configure_kecamatan,
    kabupaten_table,
    kecamatan_table,
    upsert_kecamatan,
)
from tests.support.addresses import unique_address
from tests.support.complaints import outbox_message
from tests.support.servers_http import serve_in_thread
from tests.support.web import Dispatcher

WIB = ZoneInfo("Asia/Jakarta")
NAME_FIRST, NAME_LAST = "Siti", "Aminah"
PHONE, EMAIL = "0812-3456-7890", "siti@example.id"
ADDRESS = "Dusun Bunangka RT 02, Desa Pegantenan"
DESCRIPTION = "Jalan di Dusun Bunangka berlubang besar sejak Januari, sudah dua motor jatuh."


def dashboard_app(settings: Settings, engine) -> FastAPI:
    app = FastAPI()
    install_error_handlers(app)
    install_auth(app, settings, engine)
    app.state.engine = engine
    app.include_router(open311.router)
    return app


def service_requests(engine) -> Subscription:
    """The live Open311 projection (what ``pengaduan projections run`` runs)."""
    return Subscription(engine, PostgresEventStore(engine), ServiceRequestsProjection())


class CaughtUp:
    """The dashboard's app, its Open311 projection caught up with the event store before each request."""

    def __init__(self, app, engine) -> None:
        self.app, self.projection = app, service_requests(engine)

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] == "http":
            await run_in_threadpool(self.projection.catch_up)
        await self.app(scope, receive, send)


@contextlib.contextmanager
def base_url(settings: Settings, engine, intake) -> Iterator[TestClient]:
    """Intake's app and the dashboard's Open311 reads behind one client, routed as the gateway routes."""
    apps = {"intake": intake_app(intake), "dashboard": dashboard_app(settings, engine)}
    with contextlib.ExitStack() as stack:
        for app in apps.values():  # their lifespans run for the whole block
            stack.enter_context(TestClient(app))
        apps["dashboard"] = CaughtUp(apps["dashboard"], engine)
        yield TestClient(Dispatcher(apps))  # no lifespan of its own: the apps' ran above


@pytest.fixture(scope="module")
def intake(settings):
    container = bootstrap_intake(IntakeSettings(**settings.model_dump()))
    yield container
    container.engine.dispose()


@pytest.fixture(scope="module")
def wf(settings):
    container = bootstrap_workflow(settings)
    yield container
    container.engine.dispose()


@pytest.fixture(scope="module")
def client(settings, engine, intake):
    with base_url(settings, engine, intake) as c:
        yield c


def form(**overrides) -> dict:
    data = {
        "jurisdiction_id": "pegantenan",
        "service_code": "infrastruktur",
        "description": DESCRIPTION,
        "first_name": NAME_FIRST,
        "last_name": NAME_LAST,
        "email": EMAIL,
        "phone": PHONE,
        "address_string": ADDRESS,
        "lat": "-7.0512",
        "long": "113.4779",
        "media_url": "https://foto.example.id/jalan.jpg",
    }
    data.update(overrides)
    return {k: v for k, v in data.items() if v is not None}


def deliver_to_workflow(wf, engine, tracking_code: str) -> uuid.UUID:
    """What the relay and the workflow worker do with the outbox row (tests/integration/test_pipeline.py
    runs them for real)."""
    message = outbox_message(engine, tracking_code)
    assert handlers.record_complaint(wf, message)
    return message.complaint_id


def act(wf, complaint_id, action: str, role: str, version: int, **fields) -> None:
    handlers.act(
        wf,
        complaint_id,
        action,
        fields,
        expected_version=version,
        user_id=f"{role}.pegantenan",
        role=role,
        unit="pemerintahan" if role == "kasi" else None,
        kecamatan="pegantenan",
        at=datetime.now(UTC),
        correlation_id=uuid.uuid4(),
    )


def assert_nothing_personal(body) -> None:
    text = json.dumps(body)
    for personal in (
        NAME_FIRST + " " + NAME_LAST,
        NAME_LAST,
        EMAIL,
        "6281234567890",
        "Bunangka",
        "RT 02",
        "berlubang",
        "-7.0512",
        "foto.example.id",
    ):
        assert personal not in text, personal


# a kabupaten with a category list of its own (as tests/integration/test_categories.py adds one): a shared code under
# its own name, a code of its own, the catch-all
OWN_SUFFIX = uuid.uuid4().hex[:6]
OWN_KABUPATEN = f"o311kab{OWN_SUFFIX}"
OWN_LIST = [
    {
        "code": "air-bersih",
        "name": "Air bersih",
        "description": "Air PDAM, sumur umum dan hidran yang mati atau keruh.",
        "group": "Sarana dan prasarana",
        "keywords": ["pdam", "sumur", "hidran"],
    },
    {"code": "kesehatan", "name": "Layanan kesehatan", "group": "Pelayanan dasar"},
    {"code": "pelayanan-lainnya", "name": "Lainnya"},
]


@pytest.fixture(scope="module")
def own_place(engine, intake, wf) -> str:
    """A kecamatan of a kabupaten that sets its own category list."""
    slug = f"o311own-{OWN_SUFFIX}"
    upsert_kecamatan(engine, [Kecamatan(slug, f"96.{OWN_SUFFIX}", "Sumber Air", OWN_KABUPATEN, "Kabupaten Sumber")])
    configure_kabupaten(engine, OWN_KABUPATEN, {"categories": OWN_LIST})
    for container in (intake, wf):
        container.directory.invalidate()
    return slug


def test_the_catalogue_lists_the_complaint_categories_of_the_jurisdictions_kabupaten(client, own_place):
    """The default list for Pamekasan's kecamatan (no list of its own), in its order, with its names; the
    kabupaten's own elsewhere. (Before: the six services Open311 served, three of them under older names.)"""
    r = client.get("/open311/v2/services.json", params={"jurisdiction_id": "pegantenan"})
    assert r.status_code == 200
    services = r.json()
    assert [s["service_code"] for s in services] == [c.code for c in DEFAULT]
    assert {s["service_code"] for s in services} >= {"kesehatan", "pendidikan", "sosial", "infrastruktur"}
    for s, category in zip(services, DEFAULT, strict=True):
        assert s == {
            "service_code": category.code,
            "service_name": category.name,
            "description": category.description,
            "metadata": False,
            "type": "realtime",
            "keywords": ", ".join(category.keywords),
            "group": category.group,
        }
    for s in services:
        assert s["metadata"] is False and s["type"] == "realtime" and s["service_name"] and s["group"] and s["keywords"]
    assert client.get("/open311/v2/services", params={"jurisdiction_id": "pegantenan"}).json() == services
    assert client.get("/open311/v2/services.json", params={"jurisdiction_id": "galis"}).json() == services
    r = client.get("/open311/v2/services.json", params={"jurisdiction_id": "tidak-ada"})
    assert r.status_code == 404 and r.json()[0]["code"] == 404
    r = client.get("/open311/v2/services.xml", params={"jurisdiction_id": "pegantenan"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("text/xml")
    root = ET.fromstring(r.content)
    assert root.tag == "services" and [e.tag for e in root] == ["service"] * len(services)
    for element, s in zip(root, services, strict=True):
        assert [child.tag for child in element] == list(s)  # the spec's elements, in its order
        assert [child.text for child in element] == [str(v).lower() if v is False else v for v in s.values()]
        assert element.findtext("metadata") == "false"

    # a kabupaten with its own list: its own, names and all
    own = client.get("/open311/v2/services.json", params={"jurisdiction_id": own_place}).json()
    assert [(s["service_code"], s["service_name"], s["group"]) for s in own] == [
        ("air-bersih", "Air bersih", "Sarana dan prasarana"),
        ("kesehatan", "Layanan kesehatan", "Pelayanan dasar"),
        ("pelayanan-lainnya", "Lainnya", "Lainnya"),
    ]
    assert own[0]["keywords"] == "pdam, sumur, hidran" and own[1]["keywords"] == "layanan kesehatan"
    root = xml_of(client.get("/open311/v2/services.xml", params={"jurisdiction_id": own_place}))
    assert [e.findtext("service_name") for e in root.findall("service")] == [s["service_name"] for s in own]

    # without a jurisdiction, where the kabupaten served here have different lists: the spec's 400, naming them
    for path in ("/open311/v2/services.json", "/open311/v2/services"):
        r = client.get(path)
        assert r.status_code == 400, r.text
        [error] = r.json()
        assert error["code"] == 400 and error["description"].startswith("jurisdiction_id wajib diisi")
        assert "Kabupaten Sumber: " + own_place in error["description"] and "pegantenan" in error["description"]
    r = client.get("/open311/v2/services.xml")
    assert r.status_code == 400 and xml_of(r).findtext("error/description").startswith("jurisdiction_id wajib")


def test_a_posted_request_becomes_a_complaint_and_is_shown_in_georeport_shape(client, wf, engine):
    r = client.post("/open311/v2/requests.json", data=form())
    assert r.status_code == 201, r.text
    [answer] = r.json()
    code = answer["token"]  # the tracking code, for the poster alone
    assert (
        set(answer) == {"service_request_id", "token", "service_notice", "account_id"} and answer["account_id"] is None
    )
    assert "12 hari kerja" in answer["service_notice"]

    with engine.connect() as conn:
        row = conn.execute(select(submissions).where(submissions.c.tracking_code == code)).mappings().one()
    assert row["channel"] == "open311" and row["kecamatan"] == "pegantenan"
    assert row["complainant"] == {
        "name": "Siti Aminah",
        "nik": None,
        "phone": "+6281234567890",
        "email": EMAIL,
        "address": None,
        "confidential": False,
        "anonymous": False,  # Open311's anonymous reports are issue #18's
    }
    assert row["subject"].startswith("Infrastruktur: Jalan di Dusun Bunangka")
    assert "Lokasi: " + ADDRESS in row["description"] and "Koordinat: -7.051200, 113.477900" in row["description"]
    assert "Tautan foto/berkas: https://foto.example.id/jalan.jpg" in row["description"]

    # accepted but not yet in the workflow: the read side learns of a request from the workflow's events
    before = client.get(f"/open311/v2/requests/{code}.json")
    assert before.status_code == 404 and before.json()[0]["code"] == 404

    complaint_id = deliver_to_workflow(wf, engine, code)
    assert answer["service_request_id"] == str(complaint_id) == str(row["complaint_id"])  # the one id
    with engine.connect() as conn:
        deadline = conn.execute(
            select(complaints.c.deadline_at).where(complaints.c.complaint_id == complaint_id)
        ).scalar_one()
    r = client.get(f"/open311/v2/requests/{answer['service_request_id']}.json")
    assert r.status_code == 200
    [item] = r.json()
    assert item == {
        "service_request_id": str(complaint_id),
        "status": "open",
        "status_notes": "Sedang diproses: langkah 2 dari 12, Melakukan Verifikasi Identitas Pengadu.",
        "service_name": "Infrastruktur",
        "service_code": "infrastruktur",
        "description": "Infrastruktur di Kecamatan Pegantenan",
        "agency_responsible": "Kecamatan Pegantenan",
        "service_notice": None,
        "requested_datetime": item["requested_datetime"],
        "updated_datetime": item["updated_datetime"],
        "expected_datetime": item["expected_datetime"],
        "address": "Kecamatan Pegantenan, Kabupaten Pamekasan",
        "jurisdiction_id": "pegantenan",
    }
    assert datetime.fromisoformat(item["expected_datetime"]) == deadline
    assert datetime.fromisoformat(item["requested_datetime"]) == row["received_at"]
    assert_nothing_personal(item)

    # a search lists it under the same id; the tracking code (the key to the receipt) is never shown
    listed = client.get(
        "/open311/v2/requests.json", params={"jurisdiction_id": "pegantenan", "service_code": "infrastruktur"}
    )
    assert listed.status_code == 200
    mine = [i for i in listed.json() if i["service_request_id"] == str(complaint_id)]
    assert mine == [item]
    assert code not in listed.text
    assert_nothing_personal(listed.json())
    # its holder may still ask by the tracking code (as typed by a person): the answer names the one id only
    by_code = client.get(f"/open311/v2/requests/{code.lower().replace('-', '')}.json")
    assert by_code.json() == [item] and code not in by_code.text
    both = client.get("/open311/v2/requests.json", params={"service_request_id": f"{code},{complaint_id}"}).json()
    assert both == [item]  # one complaint, asked for twice
    assert client.get("/open311/v2/requests", params={"service_request_id": str(complaint_id)}).json() == [item]

    # other categories, other kecamatan and closed requests are filtered out
    for params in (
        {"service_code": "perizinan"},
        {"jurisdiction_id": "galis"},
        {"status": "closed"},
        {"start_date": (datetime.now(UTC) + timedelta(days=1)).isoformat()},
    ):
        ids = [i["service_request_id"] for i in client.get("/open311/v2/requests.json", params=params).json()]
        assert str(complaint_id) not in ids, params
    ids = [i["service_request_id"] for i in client.get("/open311/v2/requests.json", params={"status": "open"}).json()]
    assert str(complaint_id) in ids


def test_a_referred_request_is_open_while_followed_and_closed_with_the_offices_answer(client, wf, engine):
    code = client.post("/open311/v2/requests", data=form(service_code="kebersihan-lingkungan")).json()[0]["token"]
    complaint_id = deliver_to_workflow(wf, engine, code)
    act(wf, complaint_id, "verify-identity", "kasi", 1)
    act(wf, complaint_id, "register", "staf", 2)
    act(
        wf,
        complaint_id,
        "refer",
        "camat",
        3,
        agency="Dinas Lingkungan Hidup Kabupaten Pamekasan",
        agency_kind="opd",
        reason="Kewenangan DLH",
    )
    [item] = client.get(f"/open311/v2/requests/{code}").json()
    assert item["status"] == "open"  # followed until the office answers
    assert item["agency_responsible"] == "Dinas Lingkungan Hidup Kabupaten Pamekasan"
    follow_up_by = datetime.fromisoformat(item["expected_datetime"])  # the answer is expected by then
    until = format_tanggal(follow_up_by.astimezone(WIB).date())
    assert item["status_notes"] == (
        f"Dilimpahkan kepada Dinas Lingkungan Hidup Kabupaten Pamekasan; kecamatan memantau sampai {until}."
    )
    assert item["service_code"] == "kebersihan-lingkungan"
    opened = client.get("/open311/v2/requests.json", params={"status": "open", "jurisdiction_id": "pegantenan"}).json()
    assert str(complaint_id) in [i["service_request_id"] for i in opened]

    today = datetime.now(WIB).date()
    act(
        wf,
        complaint_id,
        "record-referral-answer",
        "staf",
        4,
        answer="Kepada Siti Aminah: sampah di Dusun Bunangka diangkut pekan ini.",
        answered_on=today.isoformat(),
        reference="surat 660/45/2026",
    )
    [item] = client.get(f"/open311/v2/requests/{code}").json()
    assert item["status"] == "closed"
    assert item["agency_responsible"] == "Dinas Lingkungan Hidup Kabupaten Pamekasan"
    assert item["status_notes"] == (
        "Dilimpahkan kepada Dinas Lingkungan Hidup Kabupaten Pamekasan; instansi penerima telah menanggapi pada "
        f"{format_tanggal(today)}."
    )
    closed = client.get(
        "/open311/v2/requests.json", params={"status": "closed", "jurisdiction_id": "pegantenan"}
    ).json()
    assert str(complaint_id) in [i["service_request_id"] for i in closed]
    assert_nothing_personal(closed)
    assert "diangkut" not in json.dumps(closed) and "660/45" not in json.dumps(closed)  # the answer is not public


def test_complaints_from_other_channels_are_listed_as_other_public_services(client, intake, wf, engine):
    from services.intake.domain.commands import SubmitComplaint
    from services.intake.handlers.submissions import submit_complaint
    from shared.contracts.intake import Complainant

    accepted = submit_complaint(
        intake,
        SubmitComplaint(
            kecamatan="pegantenan",
            channel="web",
            complainant=Complainant(name="Siti Aminah", phone="+6281234567890"),
            subject="Siti Aminah: petugas meminta biaya",
            description="Petugas meminta biaya untuk surat keterangan.",
            correlation_id=uuid.uuid4(),
        ),
    )
    complaint_id = deliver_to_workflow(wf, engine, accepted.tracking_code)
    params = {"jurisdiction_id": "pegantenan", "service_code": "pelayanan-lainnya"}
    others = client.get("/open311/v2/requests.json", params=params).json()
    [item] = [i for i in others if i["service_request_id"] == str(complaint_id)]
    # the catch-all under the list's name (Open311's own "Pelayanan publik lainnya" was the bug: one code, two names)
    assert item["service_name"] == "Lainnya" and item["description"] == "Lainnya di Kecamatan Pegantenan"
    assert all(i["service_code"] == "pelayanan-lainnya" for i in others)
    assert "Siti" not in json.dumps(others) and "biaya" not in json.dumps(others)  # the subject is not shown
    several = client.get(
        "/open311/v2/requests.json", params={**params, "service_code": "infrastruktur,pelayanan-lainnya"}
    ).json()
    assert {i["service_code"] for i in several} <= {"infrastruktur", "pelayanan-lainnya"} and item in several


@pytest.mark.parametrize(
    "fields, expected",
    [
        ({"jurisdiction_id": None}, ["jurisdiction_id wajib diisi"]),
        ({"service_code": "jalan"}, ["service_code 'jalan' tidak dikenal"]),
        ({"service_code": None, "description": "rusak"}, ["service_code wajib diisi", "description wajib diisi"]),
        ({"email": None, "phone": None}, ["Isi email atau phone"]),
        ({"phone": "12"}, ["phone: "]),
        ({"email": "bukan-email"}, ["email: "]),
        ({"lat": "-7.05", "long": None}, ["lat dan long"]),
        ({"lat": "utara", "long": "113"}, ["lat dan long"]),
        ({"media_url": "javascript:alert(1)"}, ["media_url"]),
    ],
)
def test_bad_input_is_400_in_the_spec_error_shape(client, fields, expected):
    r = client.post("/open311/v2/requests.json", data=form(**fields))
    assert r.status_code == 400, r.text
    errors = r.json()
    assert all(set(e) == {"code", "description"} and e["code"] == 400 for e in errors)
    assert len(errors) == len(expected)
    for error, start in zip(errors, expected):  # noqa: B905
        assert error["description"].startswith(start), error


def test_other_refusals(client):
    r = client.post("/open311/v2/requests.json", data=form(jurisdiction_id="tidak-ada"))
    assert r.status_code == 404 and r.json() == [{"code": 404, "description": r.json()[0]["description"]}]
    r = client.post("/open311/v2/requests.json", json=form())
    assert r.status_code == 400 and "x-www-form-urlencoded" in r.json()[0]["description"]
    r = client.get("/open311/v2/requests/ZZZZ-ZZZZ-ZZ.json")
    assert r.status_code == 404 and r.json()[0]["code"] == 404
    assert client.get("/open311/v2/requests/bukan-id").status_code == 404
    r = client.get("/open311/v2/requests/ABCD.xml")
    assert r.status_code == 404 and ET.fromstring(r.content).findtext("error/code") == "404"
    for params, words in (
        ({"status": "pending"}, "status"),
        ({"start_date": "kemarin"}, "start_date"),
        ({"start_date": "2026-01-01T00:00:00+07:00", "end_date": "2026-06-01T00:00:00+07:00"}, "90 hari"),
        ({"service_code": "jalan"}, "service_code"),
    ):
        r = client.get("/open311/v2/requests.json", params=params)
        assert r.status_code == 400 and words in r.json()[0]["description"], params
    r = client.get("/open311/v2/requests.json", params={"jurisdiction_id": "tidak-ada"})
    assert r.status_code == 404


def test_a_retry_with_the_same_idempotency_key_gets_the_first_answer(client):
    key = str(uuid.uuid4())
    first = client.post("/open311/v2/requests", data=form(), headers={"Idempotency-Key": key})
    again = client.post("/open311/v2/requests", data=form(), headers={"Idempotency-Key": key})
    assert first.status_code == 201 and again.status_code == 200
    assert again.json() == first.json()  # the same id and token
    other = client.post(
        "/open311/v2/requests", data=form(description=DESCRIPTION + " Tolong."), headers={"Idempotency-Key": key}
    )
    assert other.status_code == 409 and other.json()[0]["code"] == 409


def test_configured_api_keys_are_required_for_posting(settings, engine):
    keyed = bootstrap_intake(
        IntakeSettings(**settings.model_dump(), open311_api_keys="kunci-aplikasi-a, kunci-aplikasi-b")
    )
    with base_url(settings, engine, keyed) as c:
        r = c.post("/open311/v2/requests.json", data=form())
        assert r.status_code == 403 and r.json()[0]["code"] == 403
        assert c.post("/open311/v2/requests.json", data=form(api_key="salah")).status_code == 403
        assert c.post("/open311/v2/requests.json", data=form(api_key="kunci-aplikasi-b")).status_code == 201
        assert c.get("/open311/v2/requests.json").status_code == 200  # reading stays public
    keyed.engine.dispose()


def test_a_request_to_another_kecamatan_in_another_category(client, wf, engine):
    """(Once: an intake built by the dashboard on its first POST; intake now takes the POST itself.)"""
    r = client.post("/open311/v2/requests.json", data=form(jurisdiction_id="galis", service_code="perizinan"))
    assert r.status_code == 201, r.text
    deliver_to_workflow(wf, engine, r.json()[0]["token"])
    [item] = client.get(f"/open311/v2/requests/{r.json()[0]['service_request_id']}.json").json()
    assert item["service_code"] == "perizinan" and item["agency_responsible"] == "Kecamatan Galis"


def test_the_reads_come_from_the_dashboards_projection(client, settings, engine, intake, wf):
    """A request the workflow has recorded is found once the projection has applied its events (moments later
    under `pengaduan projections run`), not before: the dashboard reads no other service's tables."""
    code = client.post("/open311/v2/requests.json", data=form()).json()[0]["token"]
    complaint_id = deliver_to_workflow(wf, engine, code)
    with TestClient(dashboard_app(settings, engine)) as reads:  # no catching up before its reads
        assert reads.get(f"/open311/v2/requests/{code}.json").status_code == 404
        service_requests(engine).catch_up()
        [item] = reads.get(f"/open311/v2/requests/{code}.json").json()
    assert item["service_request_id"] == str(complaint_id) and item["status"] == "open"
    act(wf, complaint_id, "verify-identity", "kasi", 1)
    assert (
        client.get(f"/open311/v2/requests/{code}.json")
        .json()[0]["status_notes"]
        .startswith("Sedang diproses: langkah 3 dari 12")
    )


# --- XML, discovery, definitions, tokens, anonymous reports, the OpenAPI ---------------------------------------

ANONYMOUS = {"first_name": None, "last_name": None, "email": None, "phone": None}


def xml_of(r) -> ET.Element:
    assert r.headers["content-type"].startswith("text/xml"), (r.status_code, r.headers["content-type"], r.text[:200])
    return ET.fromstring(r.content)


def test_the_discovery_document_names_the_endpoint_in_both_formats(client, settings):
    r = client.get("/open311/discovery.json")
    assert r.status_code == 200, r.text
    document = r.json()
    [endpoint] = document["endpoints"]
    assert endpoint == {
        "specification": "http://wiki.open311.org/GeoReport_v2",
        "url": settings.public_base_url.rstrip("/") + "/open311/v2",
        "changeset": document["changeset"],
        "type": "test",  # "production" where PENGADUAN_ENVIRONMENT=production
        "formats": ["text/xml", "application/json"],
    }
    assert document["contact"] and document["key_service"]
    root = xml_of(client.get("/open311/discovery.xml"))
    assert root.tag == "discovery" and [e.tag for e in root] == list(document)
    assert root.findtext("endpoints/endpoint/url") == endpoint["url"]
    assert [f.text for f in root.findall("endpoints/endpoint/formats/format")] == endpoint["formats"]
    r = client.get("/open311/discovery.yaml")
    assert r.status_code == 404 and r.json()[0]["code"] == 404


def test_a_services_definition_and_an_unknown_service_in_the_specs_error_list(client):
    r = client.get("/open311/v2/services/infrastruktur.json")
    assert r.status_code == 200 and r.json() == {"service_code": "infrastruktur", "attributes": []}
    assert client.get("/open311/v2/services/infrastruktur").json() == r.json()
    root = xml_of(client.get("/open311/v2/services/infrastruktur.xml"))
    assert root.tag == "service_definition" and root.findtext("service_code") == "infrastruktur"
    assert list(root.find("attributes")) == []
    for path in ("/open311/v2/services/jalan.json", "/open311/v2/services/jalan"):
        r = client.get(path)
        assert r.status_code == 404 and r.json() == [{"code": 404, "description": r.json()[0]["description"]}], path
        assert "'jalan' tidak dikenal" in r.json()[0]["description"]
    r = client.get("/open311/v2/services/jalan.xml")
    assert r.status_code == 404
    [error] = xml_of(r).findall("error")
    assert error.findtext("code") == "404" and "'jalan' tidak dikenal" in error.findtext("description")
    r = client.get("/open311/v2/services/infrastruktur.json", params={"jurisdiction_id": "tidak-ada"})
    assert r.status_code == 404 and r.json()[0]["code"] == 404


def test_every_endpoint_speaks_the_specs_xml(client, wf, engine):
    r = client.post("/open311/v2/requests.xml", data=form(service_code="perizinan"))
    assert r.status_code == 201, r.text
    root = xml_of(r)
    [posted] = root.findall("request")
    assert root.tag == "service_requests"
    assert [e.tag for e in posted] == ["service_request_id", "token", "service_notice", "account_id"]
    request_id, token = posted.findtext("service_request_id"), posted.findtext("token")
    assert posted.find("account_id").text is None
    assert deliver_to_workflow(wf, engine, token) == uuid.UUID(request_id)

    as_json = client.get(f"/open311/v2/requests/{request_id}.json").json()[0]
    [one] = xml_of(client.get(f"/open311/v2/requests/{request_id}.xml")).findall("request")
    assert [(e.tag, e.text) for e in one] == [(k, None if v is None else str(v)) for k, v in as_json.items()]
    listed = xml_of(client.get("/open311/v2/requests.xml", params={"jurisdiction_id": "pegantenan"}))
    assert request_id in [e.findtext("service_request_id") for e in listed.findall("request")]
    assert token not in r.text.replace(token, "", 1)  # the POST's answer names it once, as the token
    assert token not in client.get("/open311/v2/requests.xml", params={"service_request_id": token}).text
    [named] = xml_of(client.get(f"/open311/v2/tokens/{token}.xml")).findall("request")
    assert [(e.tag, e.text) for e in named] == [("service_request_id", request_id), ("token", token)]

    # errors in the asked format, as the spec writes them
    r = client.get("/open311/v2/requests.xml", params={"status": "pending"})
    assert r.status_code == 400 and xml_of(r).findtext("error/code") == "400"
    r = client.post("/open311/v2/requests.xml", data=form(jurisdiction_id=None, service_code="jalan"))
    errors = xml_of(r)
    assert r.status_code == 400 and errors.tag == "errors" and len(errors.findall("error")) == 2
    r = client.get("/open311/v2/requests.xml", params={"jurisdiction_id": "tidak-ada"})
    assert r.status_code == 404 and xml_of(r).findtext("error/code") == "404"
    r = client.get("/open311/v2/tidak-ada.xml")  # a path this deployment does not have
    assert r.status_code == 404 and xml_of(r).findtext("error/code") == "404"
    assert client.get("/open311/v2/tidak-ada").json()[0]["code"] == 404
    r = client.get("/open311/v2/services.html")
    assert r.status_code == 404 and "Format tidak dikenal" in r.json()[0]["description"]


def test_a_token_names_the_id_of_its_request(client, wf, engine):
    [posted] = client.post("/open311/v2/requests.json", data=form()).json()
    token = posted["token"]
    assert client.get(f"/open311/v2/tokens/{token}.json").status_code == 404  # not recorded by the workflow yet
    deliver_to_workflow(wf, engine, token)
    expected = [{"service_request_id": posted["service_request_id"], "token": token}]
    assert client.get(f"/open311/v2/tokens/{token}.json").json() == expected
    assert client.get(f"/open311/v2/tokens/{token.lower()}").json() == expected
    r = client.get(f"/open311/v2/tokens/{posted['service_request_id']}.json")  # an id is no token
    assert r.status_code == 404 and r.json()[0]["code"] == 404


@pytest.fixture(scope="module")
def anonymous_place(engine, intake, wf) -> str:
    """A kecamatan of its own that accepts anonymous complaints (the demo kecamatan do not)."""
    slug = f"anonim-{uuid.uuid4().hex[:6]}"
    upsert_kecamatan(
        engine,
        [Kecamatan(slug, f"95.{slug[-6:]}", "Anonim Uji", "pamekasan", "Kabupaten Pamekasan")],
    )
    configure_kecamatan(engine, slug, {"anonymous_complaints": True})
    for container in (intake, wf):
        container.directory.invalidate()
    return slug


def test_an_anonymous_report_where_the_kecamatan_takes_them_and_the_specs_error_elsewhere(
    client, wf, engine, anonymous_place
):
    refused = client.post("/open311/v2/requests.json", data=form(**ANONYMOUS))
    assert refused.status_code == 400
    [error] = refused.json()
    assert error["code"] == 400
    assert error["description"].startswith("Kecamatan ini tidak menerima pengaduan tanpa identitas")
    r = client.post("/open311/v2/requests.xml", data=form(**ANONYMOUS))
    assert r.status_code == 400
    assert xml_of(r).findtext("error/description").startswith("Kecamatan ini tidak menerima pengaduan tanpa identitas")

    r = client.post("/open311/v2/requests.json", data=form(jurisdiction_id=anonymous_place, **ANONYMOUS))
    assert r.status_code == 201, r.text
    [posted] = r.json()
    with engine.connect() as conn:
        row = conn.execute(select(submissions).where(submissions.c.tracking_code == posted["token"])).mappings().one()
    assert row["channel"] == "open311" and row["kecamatan"] == anonymous_place
    assert row["complainant"]["anonymous"] is True and row["complainant"]["name"] == "(anonim)"
    assert row["complainant"]["phone"] is None and row["complainant"]["email"] is None
    assert deliver_to_workflow(wf, engine, posted["token"]) == uuid.UUID(posted["service_request_id"])
    [item] = client.get(f"/open311/v2/requests/{posted['service_request_id']}.json").json()
    assert item["jurisdiction_id"] == anonymous_place and item["status"] == "open"
    # a name without a contact is not anonymous, and the answer could reach nobody
    r = client.post("/open311/v2/requests.json", data=form(jurisdiction_id=anonymous_place, email=None, phone=None))
    assert r.status_code == 400 and r.json()[0]["description"].startswith("Isi email atau phone")


def test_the_openapi_documents_the_posted_form_and_both_formats(intake, settings, engine):
    """The POST's two paths are named exactly, as the gateway's table sends exactly them to intake (a
    `{format}` template would document `requests.AAA`, which goes to the dashboard); the reads' paths are the
    spec's `….{format}`, `json` or `xml`."""
    posting = intake_app(intake).openapi()
    assert [p for p in posting["paths"] if p.startswith("/open311/")] == [
        "/open311/v2/requests.json",
        "/open311/v2/requests.xml",
    ]
    for path in ("/open311/v2/requests.json", "/open311/v2/requests.xml"):
        post = posting["paths"][path]["post"]
        body = post["requestBody"]["content"]
        assert set(body) == {"application/x-www-form-urlencoded", "multipart/form-data"}
        schema = body["application/x-www-form-urlencoded"]["schema"]
        assert schema["required"] == ["jurisdiction_id", "service_code", "description"]
        assert set(schema["properties"]) == {
            "jurisdiction_id",
            "service_code",
            "description",
            "first_name",
            "last_name",
            "email",
            "phone",
            "address_string",
            "lat",
            "long",
            "media_url",
            "api_key",
        }
        assert set(post["responses"]["201"]["content"]) == {"application/json", "text/xml"}
        assert set(post["responses"]["400"]["content"]) == {"application/json", "text/xml"}
    reading = dashboard_app(settings, engine).openapi()
    for path in (
        "/open311/discovery.{format}",
        "/open311/v2/services.{format}",
        "/open311/v2/services/{service_code}.{format}",
        "/open311/v2/requests.{format}",
        "/open311/v2/requests/{service_request_id}.{format}",
        "/open311/v2/tokens/{token}.{format}",
    ):
        op = reading["paths"][path]["get"]
        [fmt] = [p for p in op["parameters"] if p["name"] == "format"]
        assert fmt["in"] == "path" and fmt["schema"]["enum"] == ["json", "xml"], path
        assert set(op["responses"]["200"]["content"]) == {"application/json", "text/xml"}, path
        assert set(op["responses"]["404"]["content"]) == {"application/json", "text/xml"}, path
    merged = merge_openapi({"intake": posting, "dashboard": reading})
    assert "get" in merged["paths"]["/open311/v2/requests.{format}"]
    assert "post" in merged["paths"]["/open311/v2/requests.xml"]


# --- a GeoReport client from PyPI, over real HTTP through the gateway ---------------------------------------


@contextlib.contextmanager
def over_http(settings: Settings, engine, intake) -> Iterator[str]:
    """Intake and the dashboard's Open311 reads each on a real socket and the gateway in front, routing by the
    services' declared routes as `make run` does; yields the gateway's base URL."""

    def config(app) -> uvicorn.Config:
        return uvicorn.Config(app, host="127.0.0.1", port=0, log_level="warning", lifespan="on")

    dashboard = CaughtUp(dashboard_app(settings, engine), engine)
    with (
        serve_in_thread(config(intake_app(intake))) as intake_url,
        serve_in_thread(config(dashboard)) as dashboard_url,
        serve_in_thread(config(gateway({"intake": intake_url, "dashboard": dashboard_url}, GatewaySettings()))) as base,
    ):
        yield base


def _items(found) -> list:
    """xmltodict (the client's XML reader) gives one element as a dict, several as a list."""
    return found if isinstance(found, list) else [found]


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_a_georeport_client_from_pypi_reads_what_a_civic_app_posted(settings, engine, intake, wf, fmt, own_place):
    with over_http(settings, engine, intake) as base:
        # the discovery document, through the gateway (the dashboard's), names the endpoint the client is given
        r = httpx.get(f"{base}/open311/discovery.{fmt}", timeout=30)
        assert r.status_code == 200
        endpoint = settings.public_base_url.rstrip("/") + "/open311/v2"
        assert (
            r.json()["endpoints"][0]["url"] if fmt == "json" else xml_of(r).findtext("endpoints/endpoint/url")
        ) == endpoint

        # georeport reads only: the POST is a civic app's own, form-encoded, in the same format (intake's)
        r = httpx.post(f"{base}/open311/v2/requests.{fmt}", data=form(service_code="ketertiban-umum"), timeout=30)
        assert r.status_code == 201, r.text
        if fmt == "json":
            request_id, token = r.json()[0]["service_request_id"], r.json()[0]["token"]
        else:
            request_id, token = xml_of(r).findtext("request/service_request_id"), xml_of(r).findtext("request/token")
        assert deliver_to_workflow(wf, engine, token) == uuid.UUID(request_id)

        georeport = GeoReport(f"{base}/open311/v2", jurisdiction="pegantenan", output_format=fmt)
        services = _items(georeport.get_service_list())
        assert [s["service_code"] for s in services] == [c.code for c in DEFAULT]
        assert [s["service_name"] for s in services] == [c.name for c in DEFAULT]
        assert all(str(s["metadata"]).lower() == "false" for s in services)
        definition = georeport.get_service_definition("ketertiban-umum")
        assert definition["service_code"] == "ketertiban-umum" and not definition["attributes"]

        # the id the POST answered finds the request, in a search and alone
        [found] = _items(georeport.get_service_requests(service_request_id=request_id))
        one = georeport.get_service_request(request_id)
        assert found == one
        assert one["service_request_id"] == request_id and one["service_code"] == "ketertiban-umum"
        assert one["status"] == "open" and one["agency_responsible"] == "Kecamatan Pegantenan"
        assert_nothing_personal(one)
        listed = _items(georeport.get_service_requests(service_code="ketertiban-umum", status="open"))
        assert request_id in [r["service_request_id"] for r in listed]
        assert token not in json.dumps(listed)
        assert_nothing_personal(listed)

        # a refusal reaches the client as the HTTP error it raises, with the spec's error list
        with pytest.raises(requests.HTTPError) as refused:
            georeport.get_service_request(str(uuid.uuid4()))
        assert refused.value.response.status_code == 404
        if fmt == "json":
            assert refused.value.response.json()[0]["code"] == 404
        else:
            assert ET.fromstring(refused.value.response.content).findtext("error/code") == "404"
        with pytest.raises(requests.HTTPError) as unknown:
            GeoReport(f"{base}/open311/v2", jurisdiction="tidak-ada", output_format=fmt).get_service_list()
        assert unknown.value.response.status_code == 404

        # the catalogue of a kabupaten with its own list, and a category Open311 did not serve before (kesehatan)
        own = GeoReport(f"{base}/open311/v2", jurisdiction=own_place, output_format=fmt)
        assert [(s["service_code"], s["service_name"]) for s in _items(own.get_service_list())] == [
            ("air-bersih", "Air bersih"),
            ("kesehatan", "Layanan kesehatan"),
            ("pelayanan-lainnya", "Lainnya"),
        ]
        assert own.get_service_definition("air-bersih")["service_code"] == "air-bersih"
        r = httpx.post(
            f"{base}/open311/v2/requests.{fmt}",
            data=form(jurisdiction_id=own_place, service_code="kesehatan"),
            timeout=30,
        )
        assert r.status_code == 201, r.text
        token = r.json()[0]["token"] if fmt == "json" else xml_of(r).findtext("request/token")
        request_id = str(deliver_to_workflow(wf, engine, token))
        listed = _items(own.get_service_requests(service_code="kesehatan"))
        [mine] = [i for i in listed if i["service_request_id"] == request_id]
        assert (mine["service_code"], mine["service_name"]) == ("kesehatan", "Layanan kesehatan")
        kesehatan = _items(georeport.get_service_list())[2]
        assert (kesehatan["service_code"], kesehatan["service_name"]) == ("kesehatan", "Kesehatan")
        with pytest.raises(requests.HTTPError) as refused:  # refused in the spec's shape; the client raises it
            own.get_service_requests(service_code="infrastruktur")
        assert refused.value.response.status_code == 400


# --- the kabupaten's categories as services (issue #18 items 2 and 5) ------------------------------------------------


def test_a_request_of_kesehatan_is_posted_read_and_searched_under_its_category(client, wf, engine):
    """kesehatan, pendidikan and sosial were categories but no Open311 services: a POST or a search by them was
    refused and a complaint of them read under the catch-all's name."""
    r = client.post("/open311/v2/requests.json", data=form(service_code="kesehatan", description="Puskesmas " * 3))
    assert r.status_code == 201, r.text
    [posted] = r.json()
    assert outbox_message(engine, posted["token"]).category == "kesehatan"  # the complaint's category
    with engine.connect() as conn:
        subject = conn.execute(
            select(submissions.c.subject).where(submissions.c.tracking_code == posted["token"])
        ).scalar_one()
    assert subject.startswith("Kesehatan: Puskesmas")  # the category's name in the kabupaten's list, for staff
    deliver_to_workflow(wf, engine, posted["token"])
    [item] = client.get(f"/open311/v2/requests/{posted['service_request_id']}.json").json()
    assert (item["service_code"], item["service_name"]) == ("kesehatan", "Kesehatan")
    assert item["description"] == "Kesehatan di Kecamatan Pegantenan"
    for params in (
        {"service_code": "kesehatan"},
        {"service_code": "kesehatan,sosial", "jurisdiction_id": "pegantenan"},
    ):
        r = client.get("/open311/v2/requests.json", params=params)
        assert r.status_code == 200, (params, r.text)
        assert item in r.json() and {i["service_code"] for i in r.json()} <= {"kesehatan", "sosial"}
    listed = xml_of(client.get("/open311/v2/requests.xml", params={"service_code": "kesehatan"}))
    [one] = [e for e in listed.findall("request") if e.findtext("service_request_id") == item["service_request_id"]]
    assert one.findtext("service_name") == "Kesehatan"
    assert client.get("/open311/v2/services/kesehatan.json", params={"jurisdiction_id": "pegantenan"}).json() == {
        "service_code": "kesehatan",
        "attributes": [],
    }


def test_a_kabupatens_own_list_is_what_its_kecamatan_take_and_read(client, wf, engine, own_place):
    r = client.post("/open311/v2/requests.json", data=form(jurisdiction_id=own_place, service_code="air-bersih"))
    assert r.status_code == 201, r.text
    [posted] = r.json()
    assert outbox_message(engine, posted["token"]).category == "air-bersih"
    deliver_to_workflow(wf, engine, posted["token"])
    [item] = client.get(f"/open311/v2/requests/{posted['service_request_id']}.json").json()
    assert (item["service_code"], item["service_name"]) == ("air-bersih", "Air bersih")
    assert item["address"] == "Kecamatan Sumber Air, Kabupaten Sumber"
    found = client.get("/open311/v2/requests.json", params={"jurisdiction_id": own_place, "service_code": "air-bersih"})
    assert found.status_code == 200 and found.json() == [item]
    assert client.get("/open311/v2/requests.json", params={"service_code": "air-bersih"}).status_code == 200

    # a shared code reads under this kabupaten's name for it
    r = client.post("/open311/v2/requests.xml", data=form(jurisdiction_id=own_place, service_code="kesehatan"))
    assert r.status_code == 201, r.text
    request_id, token = xml_of(r).findtext("request/service_request_id"), xml_of(r).findtext("request/token")
    deliver_to_workflow(wf, engine, token)
    [one] = xml_of(client.get(f"/open311/v2/requests/{request_id}.xml")).findall("request")
    assert (one.findtext("service_code"), one.findtext("service_name")) == ("kesehatan", "Layanan kesehatan")

    # a code of the default list is not this kabupaten's: refused in the spec's shape, in both formats
    expected = "service_code 'infrastruktur' tidak ada dalam daftar kategori kecamatan ini."
    r = client.post("/open311/v2/requests.json", data=form(jurisdiction_id=own_place))
    assert r.status_code == 400 and r.json() == [{"code": 400, "description": expected}]
    r = client.post("/open311/v2/requests.xml", data=form(jurisdiction_id=own_place))
    assert r.status_code == 400 and [(e.findtext("code"), e.findtext("description")) for e in xml_of(r)] == [
        ("400", expected)
    ]
    r = client.get("/open311/v2/requests.xml", params={"jurisdiction_id": own_place, "service_code": "infrastruktur"})
    assert r.status_code == 400 and "'infrastruktur' tidak dikenal" in xml_of(r).findtext("error/description")
    r = client.get("/open311/v2/services/infrastruktur.json", params={"jurisdiction_id": own_place})
    assert r.status_code == 404 and r.json()[0]["code"] == 404
    r = client.get("/open311/v2/services/air-bersih.xml", params={"jurisdiction_id": own_place})
    assert r.status_code == 200 and xml_of(r).findtext("service_code") == "air-bersih"


@pytest.mark.parametrize("fmt", ["json", "xml"])
def test_an_unknown_service_code_is_refused_in_the_specs_shape(client, fmt):
    def errors(r) -> list[tuple[int, str]]:
        if fmt == "json":
            return [(e["code"], e["description"]) for e in r.json()]
        return [(int(e.findtext("code")), e.findtext("description")) for e in xml_of(r).findall("error")]

    posted = client.post(f"/open311/v2/requests.{fmt}", data=form(service_code="sumur-bor"))
    assert posted.status_code == 400
    assert errors(posted) == [
        (400, "service_code 'sumur-bor' tidak dikenal (lihat daftar di services.json?jurisdiction_id=pegantenan).")
    ]
    searched = client.get(f"/open311/v2/requests.{fmt}", params={"service_code": "sumur-bor"})
    assert searched.status_code == 400 and errors(searched)[0][1].startswith("service_code 'sumur-bor' tidak dikenal")
    defined = client.get(f"/open311/v2/services/sumur-bor.{fmt}", params={"jurisdiction_id": "pegantenan"})
    assert defined.status_code == 404 and errors(defined)[0][0] == 404


def test_a_request_posted_before_categories_still_reads_by_its_subject(client, intake, wf, engine):
    """An Open311 request of before carried its service only in its subject, under the name it had then; it reads
    under its code and today's name in the kabupaten's list."""
    from services.intake.domain.commands import SubmitComplaint
    from services.intake.handlers.submissions import submit_complaint
    from shared.contracts.intake import Complainant

    accepted = submit_complaint(
        intake,
        SubmitComplaint(
            kecamatan="pegantenan",
            channel="open311",
            complainant=Complainant(name="Siti Aminah", email=EMAIL),
            subject="Ketertiban umum: Pengeras suara hajatan sampai pukul dua pagi",
            description="Pengeras suara hajatan di Desa Pegantenan berbunyi sampai pukul dua pagi.",
            correlation_id=uuid.uuid4(),
        ),  # no category: as intake wrote an Open311 request then
    )
    complaint_id = deliver_to_workflow(wf, engine, accepted.tracking_code)
    [item] = client.get(f"/open311/v2/requests/{complaint_id}.json").json()
    assert (item["service_code"], item["service_name"]) == ("ketertiban-umum", "Ketenteraman dan ketertiban")
    found = client.get("/open311/v2/requests.json", params={"service_code": "ketertiban-umum"}).json()
    assert item in found


# --- errors on an .xml path are the spec's XML, also those raised before the route answers ----------------------


@pytest.mark.parametrize(
    "body, content_type",
    [
        (b"--x\r\nContent-Type: text/plain\r\n\r\nabc\r\n--x--\r\n", "multipart/form-data; boundary=x"),  # no name
        (b"jurisdiction_id=pegantenan", "multipart/form-data"),  # no boundary
    ],
)
def test_a_body_that_cannot_be_read_is_the_specs_error_in_the_asked_format(client, body, content_type):
    """Starlette refuses to read these; the answer was the project's JSON {code, message} on both paths."""
    broken = {"content": body, "headers": {"Content-Type": content_type}}
    r = client.post("/open311/v2/requests.xml", **broken)
    assert r.status_code == 400
    [error] = xml_of(r).findall("error")
    assert error.findtext("code") == "400" and "tidak dapat dibaca sebagai formulir" in error.findtext("description")
    r = client.post("/open311/v2/requests.json", **broken)
    assert r.status_code == 400 and r.json() == [{"code": 400, "description": error.findtext("description")}]


def test_a_rate_limited_post_on_the_xml_path_is_the_specs_xml_with_retry_after(settings, engine):
    limited = IntakeSettings(**settings.model_dump()).model_copy(update={"rate_limit_submissions": "1/minute"})
    app = intake_app(bootstrap_intake(limited))
    me = {"X-Forwarded-For": unique_address()}
    with TestClient(ProxyHeadersMiddleware(app, trusted_hosts="testclient")) as c:
        assert c.post("/open311/v2/requests.xml", data=form(), headers=me).status_code == 201
        r = c.post("/open311/v2/requests.xml", data=form(), headers=me)
        assert r.status_code == 429
        [error] = xml_of(r).findall("error")
        assert error.findtext("code") == "429" and error.findtext("description")
        assert int(r.headers["retry-after"]) >= 1
        r = c.post("/open311/v2/requests.json", data=form(), headers=me)  # the JSON path: as every API answers it
        assert r.status_code == 429 and r.json()["code"] == "rate_limited"


def test_a_method_the_path_does_not_take_and_an_outage_are_the_specs_xml(client, settings):
    r = client.delete("/open311/v2/services.xml")
    assert r.status_code == 405 and xml_of(r).findtext("error/code") == "405"
    assert "GET" in [m.strip() for m in r.headers["allow"].split(",")]
    assert client.delete("/open311/v2/services.json").json()["code"] == "method_not_allowed"  # JSON as before

    dead = settings.model_copy(update={"database_url": f"postgresql+psycopg://pengaduan@127.0.0.1:{free_port()}/x"})
    away = make_engine(dead)
    with TestClient(dashboard_app(settings, away)) as reads:
        for path in ("/open311/v2/services.xml", f"/open311/v2/requests/{uuid.uuid4()}.xml"):
            r = reads.get(path)
            assert r.status_code == 503, (path, r.text)
            assert xml_of(r).findtext("error/code") == "503" and "coba lagi" in xml_of(r).findtext("error/description")
            assert int(r.headers["retry-after"]) >= 1
        assert reads.get("/open311/v2/services.json").json()["code"] == "service_unavailable"
    away.dispose()


def test_a_bug_and_a_body_that_grows_too_large_are_the_specs_xml(settings, engine, intake):
    """A bug's 500 (here: an app given no engine) and a body past the limit while it is read (chunked: no
    Content-Length to refuse it by before the route) on an .xml path."""
    with TestClient(dashboard_app(settings, None)) as broken:
        r = broken.get("/open311/v2/services.xml")
        assert r.status_code == 500 and xml_of(r).findtext("error/code") == "500"
        assert "coba lagi" in xml_of(r).findtext("error/description")
    small = IntakeSettings(**settings.model_dump()).model_copy(
        update={"max_inbound_bytes": 1024, "max_attachments": 1, "max_attachment_bytes": 1}
    )
    tight = bootstrap_intake(small)

    def chunks():
        yield b"jurisdiction_id=pegantenan&description="
        for _ in range(64):
            yield b"a" * 32 * 1024  # 2 MiB in all, past the 1 MiB and a little this intake allows here

    with TestClient(intake_app(tight)) as c:
        r = c.post(
            "/open311/v2/requests.xml",
            content=chunks(),
            headers={"Content-Type": "application/x-www-form-urlencoded"},
        )
        assert r.status_code == 413 and xml_of(r).findtext("error/code") == "413", r.text[:300]
    tight.engine.dispose()


def _as_before(engine) -> dict[uuid.UUID, dict]:
    """Every complaint as Open311 showed it when the dashboard joined intake's submissions with the workflow's
    read model (before 0014), for those the workflow has; a referral's follow-up read from its events."""
    s, c, k, kab = submissions, complaints, kecamatan_table, kabupaten_table
    stream = literal("complaint-") + cast(s.c.complaint_id, Text)

    def last(column, *types: str):
        """``column`` of the complaint's last event of these types."""
        return (
            select(column)
            .where(events.c.stream_id == stream, events.c.type.in_(types))
            .order_by(events.c.version.desc())
            .limit(1)
            .scalar_subquery()
        )

    referred_to = last(events.c.payload["agency"].astext, ComplaintReferred.type)
    # the category: set at step 3 or 4, else picked when it was received (issue #18 item 2)
    category = last(events.c.payload["category"].astext, "workflow.CategorySet", ComplaintReceived.type)
    follow_up_by = last(events.c.payload["follow_up_by"].astext, ComplaintReferred.type)
    answered_on = last(events.c.payload["answered_on"].astext, ReferralAnswered.type)
    ended = last(events.c.type, ReferralAnswered.type, ReferralLapsed.type)
    referral_state = case(
        (ended == ReferralAnswered.type, literal("answered")), (ended == ReferralLapsed.type, literal("lapsed"))
    )
    sop_version = (
        select(events.c.payload["sop_version"].astext)
        .where(events.c.stream_id == stream, events.c.version == 1, events.c.type == ComplaintReceived.type)
        .scalar_subquery()
    )
    referral = or_(c.c.status == "referred", c.c.outcome == "referred")
    stmt = select(
        s.c.complaint_id,
        s.c.tracking_code,
        s.c.kecamatan,
        k.c.name.label("kecamatan_name"),
        k.c.kabupaten_name,
        s.c.subject,
        s.c.channel,
        category.label("category"),
        s.c.received_at,
        c.c.status,
        c.c.outcome,
        c.c.current_step,
        c.c.deadline_at,
        c.c.updated_at,
        case((referral, referred_to), else_=None).label("referred_to"),
        case((c.c.status != "closed", sop_version), else_=None).label("sop_version"),
        referral_state.label("referral_state"),
        follow_up_by.label("follow_up_by"),
        answered_on.label("referral_answered_on"),
        kab.c.settings["time_zone"].astext.label("time_zone"),
    ).select_from(
        s.join(k, k.c.slug == s.c.kecamatan)
        .outerjoin(kab, kab.c.slug == k.c.kabupaten_slug)
        .join(c, c.c.complaint_id == s.c.complaint_id)
    )
    with engine.connect() as conn:
        rows = conn.execute(stmt).mappings().all()
    lists = {j.slug: j.categories for j in jurisdictions(engine)}  # each kabupaten's names for its categories

    def request(r) -> RequestRow:
        values = {k_: v for k_, v in r.items() if k_ not in ("subject", "channel", "category")}
        values["follow_up_by"] = datetime.fromisoformat(r["follow_up_by"]) if r["follow_up_by"] else None
        values["referral_answered_on"] = (
            date.fromisoformat(r["referral_answered_on"]) if r["referral_answered_on"] else None
        )
        # an Open311 request filed before categories were a field: its service was written into the subject
        legacy = service_of(r["subject"]) if r["channel"] == "open311" else OTHER_CODE
        return RequestRow(**values, service_code=r["category"] or legacy)

    return {r["complaint_id"]: as_georeport(request(r), lists[r["kecamatan"]]) for r in rows}


def test_every_request_reads_as_it_did_from_intakes_and_the_workflows_tables_and_a_rebuild_changes_nothing(engine):
    """Over every complaint this test session made (notifications, overdue alerts, referrals, closures, by
    every test that ran before this one): the projection answers what the join of intake.submissions and
    workflow.complaints answered; a rebuild from position 0 gives the same table."""
    service_requests(engine).catch_up()
    lists = {j.slug: j.categories for j in jurisdictions(engine)}
    before = _as_before(engine)
    assert before
    ids = tuple(before)
    now = {}
    for start in range(0, len(ids), 500):
        query = RequestQuery(complaint_ids=ids[start : start + 500], by_id=True, limit=500)
        found = find_service_requests(engine, query)
        now.update({row.complaint_id: as_georeport(row, lists[row.kecamatan]) for row in found})
    assert now == before

    def table(conn):
        return conn.execute(text("SELECT * FROM dashboard.service_requests ORDER BY complaint_id")).all()

    with engine.connect() as conn:
        live = table(conn)
    report = projections.rebuild(engine, "service_requests")
    assert report["name"] == "dashboard.service_requests" and report["events"] > 0
    with engine.connect() as conn:
        assert table(conn) == live


def test_errors_answered_before_any_route_are_the_specs_xml_too(settings, intake):
    """ADR 0018: a URL with a control character (refused by the error handlers' middleware), a body refused by its
    Content-Length (the size limit's middleware), and the gateway's own 503 while the service behind it is down:
    on an .xml path, the spec's XML list; on .json, the project's JSON as before."""
    with TestClient(intake_app(intake)) as c:
        r = c.get("/open311/v2/requests%01.xml")
        assert r.status_code == 400 and xml_of(r).findtext("error/code") == "400", r.text
        assert c.get("/open311/v2/requests%01.json").json()["code"] == "invalid_url"
        huge = {"Content-Type": "application/x-www-form-urlencoded", "Content-Length": str(64 * 1024 * 1024)}
        r = c.post("/open311/v2/requests.xml", content=b"a=b", headers=huge)
        assert r.status_code == 413 and xml_of(r).findtext("error/code") == "413", r.text
    down = f"http://127.0.0.1:{free_port()}"
    with TestClient(gateway({"dashboard": down, "intake": down})) as g:
        r = g.get("/open311/v2/services.xml")
        assert r.status_code in (502, 503) and xml_of(r).findtext("error/code") == str(r.status_code), r.text
        assert r.headers["content-type"].startswith("text/xml") or r.headers["content-type"].startswith(
            "application/xml"
        )
        assert g.get("/open311/v2/services.json").json()["code"] in ("service_unavailable", "bad_gateway")
