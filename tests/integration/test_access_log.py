"""Who looked (issue #17 item 4, docs/adr/0017 "Access log"): every read that serves a complainant's personal data
writes one row of ``privacy.access_log`` before it answers, and ``GET /v1/complaints/{id}/access-log`` shows them to
the Camat, the kabupaten's data-protection officer (``pdp``) and admins.

Over the real APIs and the web app on real PostgreSQL (``tests.support.web``): complaints of a fresh kecamatan, one
typed in by its staf with a KTP scan and given its receipt by the letters service, registered; one waiting past its
due time (the overdue list); one withdrawn, read and then erased. Kabupaten users, the data-protection officer and
admins read masked views, which record nothing."""

from __future__ import annotations

import dataclasses
import json
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from fastapi.testclient import TestClient
from sqlalchemy import func, select, text

from services.dashboard.adapters.projections import ComplaintsProjection
from services.dashboard.adapters.subscription import Subscription
from services.dashboard.bootstrap import bootstrap as dashboard_bootstrap
from services.dashboard.config import DashboardSettings
from services.letters import handlers as letter_handlers
from services.letters.bootstrap import bootstrap as letters_bootstrap
from services.letters.config import LettersSettings
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from shared.access_log import access_log
from shared.auth import Principal
from shared.contracts.intake import Complainant
from shared.eventstore.postgres import PostgresEventStore
from shared.tenancy import Kecamatan, upsert_kecamatan
from tests.integration.test_privacy_erasure import SentTasks, published
from tests.support.auth import bearer_header, ensure_user
from tests.support.complaints import outbox_message, record_complaint
from tests.support.web import web_client
from tests.unit.test_attachments import tiny_png

WEB_PASSWORD = "kata-sandi-uji-yang-panjang"  # what tests.support.auth.ensure_user gives every user
NAME, NIK, PHONE = "Rukmini Wijayanti", "3528015507880003", "+6281355512345"
EMAIL, ADDRESS = "rukmini.w@contoh.id", "Dusun Kebun Jeruk RT 02, Desa Akses"


def _kecamatan(slug: str, kabupaten: str, n: str) -> Kecamatan:
    return Kecamatan(
        slug,
        f"93.{slug[-7:-2]}.{n}",
        f"Akses {n.upper()}",
        kabupaten,
        f"Kabupaten Akses {kabupaten[-5:]}",
        {
            "pemerintah": f"PEMERINTAH KABUPATEN AKSES {kabupaten[-5:].upper()}",
            "kecamatan": f"KECAMATAN AKSES {n.upper()}",
            "address": "Jalan Raya 1",
            "city": f"Akses {n.upper()}",
        },
    )


@pytest.fixture(scope="module")
def place(engine):
    """Two fresh kecamatan of a fresh kabupaten, and a third in another fresh kabupaten."""
    suffix = uuid.uuid4().hex[:5]
    kab, other_kab = f"akses-{suffix}", f"akses-{suffix}-lain"
    items = [
        _kecamatan(f"akses-{suffix}-a", kab, "a"),
        _kecamatan(f"akses-{suffix}-b", kab, "b"),
        _kecamatan(f"akses-{suffix}-c", other_kab, "c"),
    ]
    upsert_kecamatan(engine, items)
    return {"a": items[0].slug, "b": items[1].slug, "c": items[2].slug, "kabupaten": kab, "other_kabupaten": other_kab}


@pytest.fixture(scope="module")
def people(place) -> dict[str, Principal]:
    s = uuid.uuid4().hex[:5]
    a, b, kab, other = place["a"], place["b"], place["kabupaten"], place["other_kabupaten"]
    return {
        "staf": Principal(f"a{s}.staf", "Staf Akses", "staf", a, kab),
        "kasi": Principal(f"a{s}.kasi", "Kasi Akses", "kasi", a, kab, "pemerintahan"),
        "camat": Principal(f"a{s}.camat", "Camat Akses", "camat", a, kab),
        "camat_b": Principal(f"a{s}.camat-b", "Camat Lain", "camat", b, kab),
        "kabupaten": Principal(f"a{s}.kab", "Pengawas Kabupaten", "kabupaten", None, kab),
        "pdp": Principal(f"a{s}.pdp", "Pejabat PDP", "pdp", None, kab),
        "pdp_other": Principal(f"a{s}.pdp-lain", "Pejabat PDP Lain", "pdp", None, other),
        "admin": Principal(f"a{s}.admin", "Admin Akses", "admin"),
    }


@pytest.fixture(scope="module")
def web_settings(settings, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("access-log-data")
    return settings.model_copy(update={"data_dir": str(data_dir), "public_base_url": "http://127.0.0.1:8000"})


@pytest.fixture(scope="module")
def web(web_settings, engine, place):
    with web_client(web_settings) as client:
        yield client


@pytest.fixture(scope="module")
def world(web, web_settings, engine, place, people):
    wf = workflow_bootstrap(web_settings)
    letters = dataclasses.replace(letters_bootstrap(LettersSettings(**web_settings.model_dump())), celery=SentTasks())
    api = {name: TestClient(app) for name, app in web.apps.items()}
    tokens = {key: bearer_header(web_settings, p) for key, p in people.items()}
    a = place["a"]

    # typed in by the staf from the complaint box, with the KTP scan; its receipt rendered by letters
    r = api["intake"].post(
        "/v1/staff/complaints",
        headers=tokens["staf"],
        data={
            "complaint": json.dumps(
                {
                    "channel": "kotak",
                    "received_at": (datetime.now(UTC) - timedelta(hours=1)).isoformat(),
                    "scan_kinds": ["ktp"],
                    "complainant": {"name": NAME, "nik": NIK, "phone": PHONE, "email": EMAIL, "address": ADDRESS},
                    "subject": "Saluran air tersumbat",
                    "description": "Saluran air di depan pasar tersumbat sejak hujan pertama.",
                }
            )
        },
        files=[("scan", ("ktp.png", tiny_png(uuid.uuid4().int % 60000), "image/png"))],
    )
    assert r.status_code == 202, r.text
    code = r.json()["tracking_code"]
    message = outbox_message(engine, code)
    handlers.record_complaint(wf, message)
    published(engine, code)
    typed = message.complaint_id
    received = wf.store.read_stream(f"complaint-{typed}")[0]
    receipt = letter_handlers.issue_receipt(letters, received.event_id)

    person = Complainant(name=NAME, nik=NIK, phone=PHONE, email=EMAIL, address=ADDRESS)
    registered = record_complaint(wf, a, complainant=person).complaint_id
    late = record_complaint(wf, a, complainant=person, received_at=datetime.now(UTC) - timedelta(days=30))
    withdrawn = record_complaint(wf, a, complainant=person).complaint_id
    to_verify = record_complaint(wf, a, complainant=person).complaint_id
    quiet = record_complaint(wf, a, complainant=person).complaint_id
    for cid in (typed, registered):
        for version, (action, role) in enumerate((("verify-identity", "kasi"), ("register", "staf")), start=1):
            handlers.act(
                wf, cid, action, {}, expected_version=version, user_id=people[role].username, role=role,
                unit="pemerintahan", kecamatan=a, at=datetime.now(UTC), correlation_id=uuid.uuid4(),
            )  # fmt: skip
    handlers.act(
        wf, withdrawn, "withdraw", {}, expected_version=1, user_id=people["staf"].username, role="staf",
        unit=None, kecamatan=a, at=datetime.now(UTC), correlation_id=uuid.uuid4(),
    )  # fmt: skip

    dash = dashboard_bootstrap(DashboardSettings(**web_settings.model_dump()))
    Subscription(
        dash.engine, PostgresEventStore(dash.engine), ComplaintsProjection(dash.calendars), batch_size=500
    ).catch_up()
    dash.engine.dispose()
    yield {
        "api": api,
        "tokens": tokens,
        "typed": typed,
        "registered": registered,
        "late": late.complaint_id,
        "withdrawn": withdrawn,
        "to_verify": to_verify,
        "quiet": quiet,
        "code": code,
        "digest": message.attachments[0].sha256,
        "receipt": receipt["id"],
    }
    wf.engine.dispose()
    letters.engine.dispose()


# -- reading the table ----------------------------------------------------------------------------------------------
def last_id(engine) -> int:
    with engine.connect() as conn:
        return conn.execute(select(func.coalesce(func.max(access_log.c.id), 0))).scalar_one()


def rows_since(engine, after: int, complaint_id=None) -> list:
    query = select(access_log).where(access_log.c.id > after).order_by(access_log.c.id)
    if complaint_id is not None:
        query = query.where(access_log.c.complaint_ids.contains([complaint_id]))
    with engine.connect() as conn:
        return conn.execute(query).all()


def log_of(world, complaint_id, who: str, **params):
    return world["api"]["workflow"].get(
        f"/v1/complaints/{complaint_id}/access-log", params=params, headers=world["tokens"][who]
    )


# -- the API --------------------------------------------------------------------------------------------------------
def test_a_staff_read_of_a_complaint_is_recorded_with_who_when_what_and_why(world, engine, people, place):
    before, start = last_id(engine), datetime.now(UTC)
    r = world["api"]["workflow"].get(
        f"/v1/complaints/{world['typed']}",
        headers={
            **world["tokens"]["staf"],
            # a reason that quotes the NIK and the phone number: they are masked before the row keeps them
            "X-Access-Reason": f"Klarifikasi berkas, NIK {NIK}, telepon 0813-5551-2345",
            "X-Correlation-Id": (correlation := str(uuid.uuid4())),
        },
    )
    assert r.status_code == 200 and r.json()["complainant"]["nik"] == NIK
    (row,) = rows_since(engine, before)
    assert (row.user_id, row.role, row.service, row.what) == (
        people["staf"].username,
        "staf",
        "workflow",
        "complaint.detail",
    )
    assert row.complaint_ids == [world["typed"]] and row.kecamatan == place["a"]
    assert start - timedelta(seconds=5) <= row.at <= datetime.now(UTC) + timedelta(seconds=5)
    assert row.reason == "Klarifikasi berkas, NIK [disembunyikan], telepon [disembunyikan]"
    assert row.correlation_id == correlation

    # an SOP action answers with the complaint as it now stands: that answer is a read too
    before = last_id(engine)
    acted = world["api"]["workflow"].post(
        f"/v1/complaints/{world['to_verify']}/verify-identity",
        headers=world["tokens"]["kasi"],
        json={"expected_version": 1},
    )
    assert acted.status_code == 200 and acted.json()["complainant"]["nik"] == NIK
    (row,) = rows_since(engine, before)
    assert (row.user_id, row.what, row.complaint_ids) == (
        people["kasi"].username,
        "complaint.action",
        [world["to_verify"]],
    )
    refused = world["api"]["workflow"].post(
        f"/v1/complaints/{world['to_verify']}/verify-identity",
        headers=world["tokens"]["kasi"],
        json={"expected_version": 1},
    )
    assert refused.status_code == 409 and rows_since(engine, row.id) == []  # refused: nothing served, nothing recorded


def test_an_action_answered_minimally_serves_no_personal_data_and_records_nothing(world, engine):
    """``Prefer: return=minimal`` (RFC 7240; the web app's, which reads the page again after an action): the answer
    is the complaint's id, status, version and step, none of its data, so no read is recorded for it."""
    before = last_id(engine)
    acted = world["api"]["workflow"].post(
        f"/v1/complaints/{world['quiet']}/verify-identity",
        headers={**world["tokens"]["kasi"], "Prefer": "respond-async, return=minimal; foo=bar"},
        json={"expected_version": 1},
    )
    assert acted.status_code == 200, acted.text
    assert acted.headers["Preference-Applied"] == "return=minimal"
    assert acted.json() == {"id": str(world["quiet"]), "status": "in_progress", "version": 2, "current_step": 3}
    assert NIK not in acted.text and NAME not in acted.text
    assert rows_since(engine, before) == []


@pytest.mark.parametrize("who", ["kabupaten", "pdp", "admin"])
def test_a_masked_read_records_nothing(world, engine, place, who):
    before = last_id(engine)
    api, headers = world["api"], world["tokens"][who]
    complaint = api["workflow"].get(f"/v1/complaints/{world['typed']}", headers=headers)
    assert complaint.status_code == 200 and complaint.json()["complainant"]["nik"] == "3528********0003"
    book = api["dashboard"].get("/v1/register", params={"kecamatan": place["a"], "format": "csv"}, headers=headers)
    assert book.status_code == 200 and NAME not in book.text
    overdue = api["dashboard"].get("/v1/dashboard/overdue", params={"kecamatan": place["a"]}, headers=headers)
    assert overdue.status_code == 200 and overdue.json()["items"][0]["complainant"]["name"] == "Rukmini ***"
    refused = api["letters"].get(f"/v1/letters/{world['receipt']}/pdf", headers=headers)
    assert refused.status_code == 403 and refused.json()["code"] == "personal_data_not_available"
    assert rows_since(engine, before) == []


def test_each_document_and_scan_download_is_recorded(world, engine, people, place):
    api, staf = world["api"], world["tokens"]["staf"]
    typed, before = world["typed"], last_id(engine)
    receipt = api["letters"].get(
        f"/v1/letters/{world['receipt']}/pdf", headers={**staf, "X-Access-Reason": "Salinan untuk Ibu Rukmini"}
    )
    assert receipt.status_code == 200 and receipt.content.startswith(b"%PDF")
    card = api["letters"].get(f"/v1/letters/complaints/{typed}/kartu-kendali.pdf", headers=staf)
    assert card.status_code == 200 and card.content.startswith(b"%PDF")
    scan = api["intake"].get(
        f"/v1/attachments/{world['digest']}",
        params={"complaint_id": str(typed)},
        headers={**staf, "X-Access-Reason": "Mencocokkan KTP Wijayanti dengan isian formulir"},
    )
    assert scan.status_code == 200 and scan.content.startswith(b"\x89PNG")
    # the complainant (whoever holds the code) downloads the receipt: no user, "public"
    own = api["letters"].get(f"/v1/letters/track/{world['code']}/receipt")
    assert own.status_code == 200 and own.content.startswith(b"%PDF")
    listed = api["letters"].get(f"/v1/letters/complaints/{typed}", headers=staf)  # kinds and numbers only
    assert listed.status_code == 200

    rows = rows_since(engine, before)
    assert [(r.service, r.what, r.user_id, r.role) for r in rows] == [
        ("letters", "document.receipt", people["staf"].username, "staf"),
        ("letters", "document.kartu_kendali", people["staf"].username, "staf"),
        ("intake", "scan.download", people["staf"].username, "staf"),
        ("letters", "document.receipt.by_tracking_code", None, "public"),
    ]
    assert all(r.complaint_ids == [typed] and r.kecamatan == place["a"] for r in rows)
    # a reason naming her: masked with her values, as letters and intake know them
    assert rows[0].reason == "Salinan untuk Ibu [disembunyikan]"
    assert rows[2].reason == "Mencocokkan KTP [disembunyikan] dengan isian formulir"


@pytest.mark.parametrize("fmt", ["xlsx", "csv", "json"])
def test_an_export_is_one_row_holding_every_complaint_in_it(world, engine, people, place, fmt):
    before = last_id(engine)
    r = world["api"]["dashboard"].get(
        "/v1/register",
        params={"kecamatan": place["a"], "format": fmt},
        headers={**world["tokens"]["staf"], "X-Access-Reason": "Laporan bulanan kepada Camat"},
    )
    assert r.status_code == 200
    (row,) = rows_since(engine, before)
    assert (row.user_id, row.service, row.what, row.kecamatan) == (
        people["staf"].username,
        "dashboard",
        f"register.{fmt}",
        place["a"],
    )
    assert set(row.complaint_ids) == {world["typed"], world["registered"]}  # the registered ones, in the book
    assert row.reason == "Laporan bulanan kepada Camat"
    # the Camat reads it in the log of either complaint
    for cid in (world["typed"], world["registered"]):
        entries = log_of(world, cid, "camat").json()["items"]
        assert entries[0]["what"] == f"register.{fmt}" and entries[0]["complaints"] == 2
        assert entries[0]["user"] == people["staf"].username and entries[0]["reason"] == "Laporan bulanan kepada Camat"


def test_a_reason_quoting_a_complainant_of_an_export_is_kept_without_their_values(world, engine):
    before = last_id(engine)
    r = world["api"]["dashboard"].get(
        "/v1/register",
        params={"format": "xlsx"},
        headers={**world["tokens"]["staf"], "X-Access-Reason": f"Surat Ibu Wijayanti ({EMAIL}) minta salinan"},
    )
    assert r.status_code == 200
    (row,) = rows_since(engine, before)
    assert row.reason == "Surat Ibu [disembunyikan] ([disembunyikan]) minta salinan"


def test_the_overdue_list_is_recorded_for_the_complaints_it_names(world, engine, people, place):
    before = last_id(engine)
    r = world["api"]["dashboard"].get(
        "/v1/dashboard/overdue", params={"kecamatan": place["a"]}, headers=world["tokens"]["staf"]
    )
    assert r.status_code == 200 and r.json()["items"][0]["complainant"]["name"] == NAME
    (row,) = rows_since(engine, before)
    assert row.what == "dashboard.overdue" and row.complaint_ids == [world["late"]]
    assert row.user_id == people["staf"].username


def test_a_reason_quoting_a_corrected_name_is_kept_without_it(world, engine):
    corrected = world["api"]["workflow"].post(
        "/v1/privacy/corrections",
        json={
            "complaint_id": str(world["to_verify"]),
            "reason": "Pengadu datang ke kantor, KTP diperiksa",
            "complainant": {"name": "Rukmini Sasmitaningrum"},
        },
        headers=world["tokens"]["staf"],
    )
    assert corrected.status_code == 201, corrected.text
    before = last_id(engine)
    r = world["api"]["workflow"].get(
        f"/v1/complaints/{world['to_verify']}",
        headers={**world["tokens"]["staf"], "X-Access-Reason": "Cek ejaan Sasmitaningrum dan Wijayanti"},
    )
    assert r.status_code == 200 and r.json()["complainant"]["name"] == "Rukmini Sasmitaningrum"
    (row,) = rows_since(engine, before)
    assert row.reason == "Cek ejaan [disembunyikan] dan [disembunyikan]"  # as corrected, and as received


def test_the_copy_given_on_an_access_request_is_recorded_for_its_reader(world, engine, people):
    before = last_id(engine)
    r = world["api"]["workflow"].post(
        "/v1/privacy/access-requests",
        json={"complaint_id": str(world["registered"]), "reason": "Permintaan salinan oleh pengadu, KTP diperiksa"},
        headers=world["tokens"]["pdp"],
    )
    assert r.status_code == 201, r.text
    assert r.json()["complainant"]["nik"] == NIK  # the officer reads it whole, for the person
    (row,) = rows_since(engine, before)
    assert (row.user_id, row.role, row.what, row.complaint_ids) == (
        people["pdp"].username,
        "pdp",
        "privacy.access_copy",
        [world["registered"]],
    )


# -- the web app -----------------------------------------------------------------------------------------------------
def sign_in(web, principal: Principal) -> None:
    web.cookies.clear()
    token = re.search(r'name="csrf_token" value="([^"]+)"', web.get("/masuk").text).group(1)
    r = web.post(
        "/masuk",
        data={"username": principal.username, "password": WEB_PASSWORD, "csrf_token": token},
        follow_redirects=False,
    )
    assert r.status_code == 303, r.text


def test_the_web_pages_record_the_signed_in_staff_member(web, world, engine, people, web_settings):
    ensure_user(web_settings, people["staf"])
    sign_in(web, people["staf"])
    before = last_id(engine)
    page = web.get(f"/petugas/pengaduan/{world['typed']}")
    assert page.status_code == 200 and NIK in page.text
    scan = web.get(f"/petugas/lampiran/{world['digest']}?pengaduan={world['typed']}")
    assert scan.status_code == 200
    token = re.search(r'name="csrf_token" value="([^"]+)"', page.text).group(1)
    book = web.post("/buku-rekap.csv", data={"csrf_token": token, "alasan": "Rekap bulanan"})  # their own book
    assert book.status_code == 200 and NAME in book.text
    rows = rows_since(engine, before)
    assert [(r.what, r.user_id) for r in rows] == [
        ("complaint.detail", people["staf"].username),
        ("scan.download", people["staf"].username),
        ("register.csv", people["staf"].username),
    ]
    web.cookies.clear()


# -- the endpoint -----------------------------------------------------------------------------------------------------
def test_who_may_read_a_complaints_access_log(world):
    typed = world["typed"]
    world["api"]["workflow"].get(f"/v1/complaints/{typed}", headers=world["tokens"]["staf"])
    for who, status in [
        ("camat", 200),
        ("pdp", 200),
        ("admin", 200),
        ("staf", 403),
        ("kasi", 403),
        ("kabupaten", 403),
        ("camat_b", 404),  # another kecamatan: as if it did not exist
        ("pdp_other", 404),  # another kabupaten's officer
    ]:
        r = log_of(world, typed, who)
        assert r.status_code == status, (who, r.text)
        if status == 403:
            assert r.json()["code"] == "forbidden"
        if status == 404:
            assert r.json()["code"] == "complaint_not_found"
        if status == 200:
            assert r.json()["items"][0]["what"] == "complaint.detail" and r.json()["complaint_id"] == str(typed)
    assert world["api"]["workflow"].get(f"/v1/complaints/{typed}/access-log").status_code == 401
    unknown = log_of(world, uuid.uuid4(), "admin")
    assert unknown.status_code == 404 and unknown.json()["code"] == "complaint_not_found"
    assert log_of(world, typed, "camat", limit=0).status_code == 422
    assert log_of(world, typed, "camat", before="x").status_code == 422


def test_the_access_log_pages_newest_first(world, engine):
    registered = world["registered"]
    for _ in range(3):
        world["api"]["workflow"].get(f"/v1/complaints/{registered}", headers=world["tokens"]["staf"])
    everything = log_of(world, registered, "admin", limit=200).json()
    ids = [e["id"] for e in everything["items"]]
    assert ids == sorted(ids, reverse=True) and len(ids) >= 3 and everything["next_before"] is None
    first = log_of(world, registered, "admin", limit=2).json()
    assert [e["id"] for e in first["items"]] == ids[:2] and first["next_before"] == ids[1]
    rest = log_of(world, registered, "admin", limit=200, before=first["next_before"]).json()
    assert [e["id"] for e in rest["items"]] == ids[2:]


def test_a_bad_reason_is_a_422_and_nothing_is_served_or_recorded(world, engine):
    before = last_id(engine)
    for reason in ("x" * 501, "alasan\x7f"):
        r = world["api"]["workflow"].get(
            f"/v1/complaints/{world['typed']}", headers={**world["tokens"]["staf"], "X-Access-Reason": reason}
        )
        assert r.status_code == 422, r.text
        assert r.json()["code"] == "invalid_access_reason" and NIK not in r.text
        assert r.json()["errors"][0]["field"] == "X-Access-Reason"
    # as many as 500 characters, in UTF-8, are kept as written
    reason = "Permintaan Inspektorat — surat nomor 700/12/432.1/2026; " + "é" * 444
    assert len(reason) == 500
    ok = world["api"]["workflow"].get(
        f"/v1/complaints/{world['typed']}",
        headers={**world["tokens"]["staf"], "X-Access-Reason": reason.encode()},
    )
    assert ok.status_code == 200
    (row,) = rows_since(engine, before)
    assert row.reason == reason


# -- erasure ------------------------------------------------------------------------------------------------------------
def test_the_log_outlives_an_erasure_and_keeps_none_of_the_complainants_values(world, engine, people, place):
    withdrawn, api = world["withdrawn"], world["api"]
    # a reason that names her and her address: masked before the row is written (admins and the officer read it)
    read = api["workflow"].get(
        f"/v1/complaints/{withdrawn}",
        headers={**world["tokens"]["staf"], "X-Access-Reason": f"Menelepon {NAME} di {ADDRESS}"},
    )
    assert read.status_code == 200 and read.json()["complainant"]["name"] == NAME
    assert (
        log_of(world, withdrawn, "camat").json()["items"][0]["reason"] == "Menelepon [disembunyikan] di [disembunyikan]"
    )
    erased = api["workflow"].post(
        "/v1/privacy/erasures",
        json={"complaint_id": str(withdrawn), "reason": "Permintaan pengadu"},
        headers=world["tokens"]["admin"],
    )
    assert erased.status_code == 201, erased.text
    # the record of who looked stays, and holds none of her values
    entries = log_of(world, withdrawn, "pdp").json()["items"]
    assert [(e["what"], e["user"], e["reason"]) for e in entries] == [
        ("complaint.detail", people["staf"].username, "Menelepon [disembunyikan] di [disembunyikan]")
    ]
    with engine.connect() as conn:
        holding = conn.execute(
            text("SELECT count(*) FROM privacy.access_log AS r WHERE lower(r::text) LIKE ANY(:p)"),
            {"p": [f"%{v.lower()}%" for v in (NAME, "Rukmini", "Wijayanti", NIK, EMAIL, "Kebun Jeruk")]},
        ).scalar_one()
    assert holding == 0
    # read after the erasure: the staff see the erased marker, and the read is recorded as any other
    after = api["workflow"].get(f"/v1/complaints/{withdrawn}", headers=world["tokens"]["staf"])
    assert after.status_code == 200 and after.json()["complainant"]["name"] == "(data pribadi dihapus)"
    assert len(log_of(world, withdrawn, "camat").json()["items"]) == 2


def test_a_read_whose_row_cannot_be_written_fails_and_serves_nothing(world, engine, place, caplog):
    """Fail closed: the database refuses the row (a trigger for this test's kecamatan only), so the read fails."""
    function, trigger = f"refuse_{uuid.uuid4().hex[:8]}", f"refuse_{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        conn.execute(
            text(
                f"CREATE FUNCTION privacy.{function}() RETURNS trigger LANGUAGE plpgsql AS "
                "$$ BEGIN RAISE EXCEPTION 'access log refused (test)'; END $$"
            )
        )
        conn.execute(
            text(
                f"CREATE TRIGGER {trigger} BEFORE INSERT ON privacy.access_log FOR EACH ROW "
                f"WHEN (NEW.kecamatan = '{place['a']}') EXECUTE FUNCTION privacy.{function}()"
            )
        )
    try:
        client = TestClient(world["api"]["workflow"].app, raise_server_exceptions=False)
        r = client.get(
            f"/v1/complaints/{world['typed']}",
            headers={**world["tokens"]["staf"], "X-Access-Reason": f"Kunjungan ke {ADDRESS}"},
        )
        assert r.status_code == 500 and NIK not in r.text and NAME not in r.text
        # the failure is logged (the statement's parameters hidden): none of her values in the log
        assert "access log refused" in caplog.text and "Kebun Jeruk" not in caplog.text and NIK not in caplog.text
        masked = client.get(f"/v1/complaints/{world['typed']}", headers=world["tokens"]["kabupaten"])
        assert masked.status_code == 200  # a masked read writes nothing, and is served
    finally:
        with engine.begin() as conn:
            conn.execute(text(f"DROP TRIGGER {trigger} ON privacy.access_log"))
            conn.execute(text(f"DROP FUNCTION privacy.{function}()"))
