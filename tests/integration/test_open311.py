"""Open311 GeoReport v2: the catalogue, a POST that becomes a complaint in the workflow, searches and single
requests in GeoReport shape with nothing personal, the spec's errors, api keys and idempotent retries.

The client talks to both services as the base URL does: a POST to intake (services/intake/entrypoints/
open311.py), the reads to the dashboard (services/dashboard/entrypoints/open311.py), sent by the gateway's
route table (tests.support.web.Dispatcher). The reads come from the dashboard's projection of the event store
(``dashboard.service_requests``), caught up before each read as ``pengaduan projections run`` keeps it."""

from __future__ import annotations

import contextlib
import json
import uuid
from collections.abc import Iterator
from datetime import UTC, date, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Text, case, cast, literal, or_, select, text
from starlette.concurrency import run_in_threadpool

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
from shared.contracts.open311 import service_of
from shared.contracts.workflow import ComplaintReceived, ComplaintReferred, ReferralAnswered, ReferralLapsed
from shared.eventstore.postgres import PostgresEventStore, events
from shared.http import install_error_handlers
from shared.tanggal import format_tanggal
from shared.tenancy import kabupaten_table, kecamatan_table
from tests.support.complaints import outbox_message
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


def test_the_catalogue_lists_the_complaint_categories(client):
    r = client.get("/open311/v2/services.json")
    assert r.status_code == 200
    services = r.json()
    assert [s["service_code"] for s in services] == [
        "infrastruktur",
        "administrasi-kependudukan",
        "perizinan",
        "ketertiban-umum",
        "kebersihan-lingkungan",
        "pelayanan-lainnya",
    ]
    for s in services:
        assert s["metadata"] is False and s["type"] == "realtime" and s["service_name"] and s["group"] and s["keywords"]
    assert client.get("/open311/v2/services").json() == services
    assert client.get("/open311/v2/services.json", params={"jurisdiction_id": "galis"}).status_code == 200
    r = client.get("/open311/v2/services.json", params={"jurisdiction_id": "tidak-ada"})
    assert r.status_code == 404 and r.json()[0]["code"] == 404
    r = client.get("/open311/v2/services.xml")
    assert r.status_code == 400 and "JSON" in r.json()[0]["description"]


def test_a_posted_request_becomes_a_complaint_and_is_shown_in_georeport_shape(client, wf, engine):
    r = client.post("/open311/v2/requests.json", data=form())
    assert r.status_code == 201, r.text
    [answer] = r.json()
    code = answer["service_request_id"]
    assert set(answer) == {"service_request_id", "service_notice", "account_id"} and answer["account_id"] is None
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
    with engine.connect() as conn:
        deadline = conn.execute(
            select(complaints.c.deadline_at).where(complaints.c.complaint_id == complaint_id)
        ).scalar_one()
    r = client.get(f"/open311/v2/requests/{code.lower().replace('-', '')}.json")  # as typed by a person
    assert r.status_code == 200
    [item] = r.json()
    assert item == {
        "service_request_id": code,
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

    # a search lists it under its public id; the tracking code (the key to the receipt) is never listed
    listed = client.get(
        "/open311/v2/requests.json", params={"jurisdiction_id": "pegantenan", "service_code": "infrastruktur"}
    )
    assert listed.status_code == 200
    mine = [i for i in listed.json() if i["service_request_id"] == str(complaint_id)]
    assert len(mine) == 1 and {**mine[0], "service_request_id": code} == item
    assert code not in listed.text
    assert_nothing_personal(listed.json())
    by_public_id = client.get(f"/open311/v2/requests/{complaint_id}.json").json()
    assert by_public_id[0]["service_request_id"] == str(complaint_id)
    # by ids: each is answered under the id it was asked by
    both = client.get("/open311/v2/requests.json", params={"service_request_id": f"{code},{complaint_id}"}).json()
    assert [i["service_request_id"] for i in both] == [code]  # one complaint, asked by its code first
    assert client.get("/open311/v2/requests", params={"service_request_id": str(complaint_id)}).json()[0][
        "service_request_id"
    ] == str(complaint_id)

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
    code = client.post("/open311/v2/requests", data=form(service_code="kebersihan-lingkungan")).json()[0][
        "service_request_id"
    ]
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
    assert (
        item["service_name"] == "Pelayanan publik lainnya"
        and item["description"] == "Pelayanan publik lainnya di Kecamatan Pegantenan"
    )
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
    assert client.get("/open311/v2/requests/ABCD.xml").status_code == 400
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
    assert again.json()[0]["service_request_id"] == first.json()[0]["service_request_id"]
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
    deliver_to_workflow(wf, engine, r.json()[0]["service_request_id"])
    [item] = client.get(f"/open311/v2/requests/{r.json()[0]['service_request_id']}.json").json()
    assert item["service_code"] == "perizinan" and item["agency_responsible"] == "Kecamatan Galis"


def test_the_reads_come_from_the_dashboards_projection(client, settings, engine, intake, wf):
    """A request the workflow has recorded is found once the projection has applied its events (moments later
    under `pengaduan projections run`), not before: the dashboard reads no other service's tables."""
    code = client.post("/open311/v2/requests.json", data=form()).json()[0]["service_request_id"]
    complaint_id = deliver_to_workflow(wf, engine, code)
    with TestClient(dashboard_app(settings, engine)) as reads:  # no catching up before its reads
        assert reads.get(f"/open311/v2/requests/{code}.json").status_code == 404
        service_requests(engine).catch_up()
        [item] = reads.get(f"/open311/v2/requests/{code}.json").json()
    assert item["service_request_id"] == code and item["status"] == "open"
    act(wf, complaint_id, "verify-identity", "kasi", 1)
    assert (
        client.get(f"/open311/v2/requests/{code}.json")
        .json()[0]["status_notes"]
        .startswith("Sedang diproses: langkah 3 dari 12")
    )


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

    def request(r) -> RequestRow:
        values = {k_: v for k_, v in r.items() if k_ != "subject"}
        values["follow_up_by"] = datetime.fromisoformat(r["follow_up_by"]) if r["follow_up_by"] else None
        values["referral_answered_on"] = (
            date.fromisoformat(r["referral_answered_on"]) if r["referral_answered_on"] else None
        )
        return RequestRow(**values, service_code=service_of(r["subject"]).code)

    return {r["complaint_id"]: as_georeport(request(r), "id") for r in rows}


def test_every_request_reads_as_it_did_from_intakes_and_the_workflows_tables_and_a_rebuild_changes_nothing(engine):
    """Over every complaint this test session made (notifications, overdue alerts, referrals, closures, by
    every test that ran before this one): the projection answers what the join of intake.submissions and
    workflow.complaints answered; a rebuild from position 0 gives the same table."""
    service_requests(engine).catch_up()
    before = _as_before(engine)
    assert before
    ids = tuple(before)
    now = {}
    for start in range(0, len(ids), 500):
        query = RequestQuery(complaint_ids=ids[start : start + 500], by_id=True, limit=500)
        now.update({row.complaint_id: as_georeport(row, "id") for row in find_service_requests(engine, query)})
    assert now == before

    def table(conn):
        return conn.execute(text("SELECT * FROM dashboard.service_requests ORDER BY complaint_id")).all()

    with engine.connect() as conn:
        live = table(conn)
    report = projections.rebuild(engine, "service_requests")
    assert report["name"] == "dashboard.service_requests" and report["events"] > 0
    with engine.connect() as conn:
        assert table(conn) == live
