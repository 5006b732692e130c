"""The dashboard: its projection (incremental and rebuilt while events keep coming), the Buku Rekap
Pengaduan (JSON, XLSX, CSV) and the figures, each for the users allowed to read them.

A small known set of complaints is made with the workflow's own handlers, at chosen times in January and
February 2026, in two fresh kecamatan of a fresh kabupaten, so other tests' data cannot interfere.
"""

from __future__ import annotations

import csv
import io
import logging
import threading
import time
import uuid
from datetime import datetime, timedelta
from zoneinfo import ZoneInfo

import openpyxl
import pytest
from fastapi.testclient import TestClient
from sqlalchemy import text

from services.dashboard.adapters import tables as t
from services.dashboard.adapters.projections import ComplaintsProjection
from services.dashboard.adapters.subscription import Subscription, rebuild_projection
from services.dashboard.bootstrap import bootstrap as dashboard_bootstrap
from services.dashboard.config import DashboardSettings
from services.dashboard.entrypoints import projections
from services.dashboard.entrypoints.api import create_app
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from services.workflow.scheduler import LapsedReferrals
from shared.auth import Principal
from shared.contracts.intake import Complainant
from shared.contracts.letters import LetterDocumentIssued
from shared.eventstore.postgres import NOTIFY_CHANNEL, PostgresEventStore
from shared.subscriptions import Checkpoints, Runner
from shared.tenancy import Kecamatan, upsert_kecamatan
from tests.support.auth import bearer_header
from tests.support.complaints import record_complaint
from tests.support.organisation import give_heads
from tests.support.processes import wait_until

WIB = ZoneInfo("Asia/Jakarta")
NOW = datetime(2026, 3, 31, 12, 0, tzinfo=WIB)  # the dashboard's clock: after every deadline of the set
NIK, PHONE = "3528071505900001", "+6281234567890"


def at(month: int, day: int, hh: int, mm: int = 0) -> datetime:
    return datetime(2026, month, day, hh, mm, tzinfo=WIB)


# -- fixtures ------------------------------------------------------------------------------------------------
@pytest.fixture(scope="module")
def place(engine):
    """Two fresh kecamatan of a fresh kabupaten, and a third one for the rebuild test's stream of appends."""
    suffix = uuid.uuid4().hex[:6]
    kab = f"ujikab-{suffix}"
    items = [
        Kecamatan(
            f"uji-{suffix}-{n}", f"99.{suffix}.{n}", f"Uji {n.upper()}", kab, f"Kabupaten Uji {suffix}", {"city": "Uji"}
        )
        for n in ("a", "b", "c")
    ]
    upsert_kecamatan(engine, items)
    for k in items:
        give_heads(engine, k.slug)  # the units the complaints are disposed to have heads
    return {
        "kabupaten": kab,
        "k1": items[0].slug,
        "k2": items[1].slug,
        "k3": items[2].slug,
        "names": {k.slug: k.name for k in items},
    }


@pytest.fixture(scope="module")
def wf(settings, engine):
    container = workflow_bootstrap(settings)
    yield container
    container.engine.dispose()


@pytest.fixture(scope="module")
def dash(settings, engine):
    dsettings = DashboardSettings(**settings.model_dump())
    container = dashboard_bootstrap(dsettings, engine=engine)
    container.clock = lambda: NOW
    return container


@pytest.fixture(scope="module")
def client(dash):
    with TestClient(create_app(dash)) as c:
        yield c


@pytest.fixture(scope="module")
def tokens(settings, place):
    def token(role, kecamatan=None, kabupaten=None, unit=None):
        username = f"uji.{role}.{kecamatan or kabupaten or 'x'}"[:64]
        principal = Principal(username, f"Pengguna Uji {role}", role, kecamatan, kabupaten, unit)
        return bearer_header(settings, principal)

    return {
        "staf1": token("staf", kecamatan=place["k1"]),
        "camat2": token("camat", kecamatan=place["k2"]),
        "kabupaten": token("kabupaten", kabupaten=place["kabupaten"]),
        "other_kabupaten": token("kabupaten", kabupaten="pamekasan"),
        "admin": token("admin"),
    }


# -- making complaints with the workflow's handlers ------------------------------------------------------------
class Complaint:
    def __init__(
        self,
        wf,
        kecamatan: str,
        received_at: datetime,
        channel: str = "web",
        name: str = "Siti Aminah",
        address: str = "Dusun Bunangka",
    ) -> None:
        self.wf, self.kecamatan = wf, kecamatan
        self.id = record_complaint(
            wf,
            kecamatan,
            channel=channel,
            complainant=Complainant(name=name, nik=NIK, phone=PHONE, email="siti@example.id", address=address),
            subject=f"Pengaduan {channel} {received_at:%d-%m}",
            description="Jalan di dusun rusak sejak Januari.",
            received_at=received_at,
        ).complaint_id
        self.state = None
        self.revision = 1

    def do(self, role: str, action: str, when: datetime, as_unit: str | None = None, **fields) -> Complaint:
        if action == "archive-letter":  # the letters worker's report comes first
            s = self.state
            document = uuid.uuid4()
            handlers.record_letter_document(
                self.wf,
                LetterDocumentIssued(
                    message_id=document,
                    complaint_id=self.id,
                    kecamatan=self.kecamatan,
                    document_id=document,
                    letter_version=s.approved_letter_version,
                    letter_number=s.letter_number,
                    sha256="a" * 64,
                    size=1000,
                    verify_url=f"http://127.0.0.1:8000/v1/letters/verify/{document}",
                ),
            )
            self.revision += 1
        self.state = handlers.act(
            self.wf,
            self.id,
            action,
            fields,
            expected_version=self.revision,
            user_id=f"uji.{role}",
            role=role,
            unit=as_unit,
            kecamatan=self.kecamatan,
            at=when,
            correlation_id=uuid.uuid4(),
        )
        self.revision = self.state.revision
        return self


def full_flow(c: Complaint, times: list[datetime], unit: str = "pemerintahan", returned_once: bool = False) -> None:
    """Steps 2-12 at the given times (one per action, in order)."""
    actions = [
        ("kasi", "verify-identity", None, {}),
        ("staf", "register", None, {}),
        ("camat", "dispose", None, {"unit": unit, "instructions": "Koordinasikan dengan desa."}),
        ("kasi", "clarify", unit, {"explanation": "Perbaikan dijadwalkan bulan depan."}),
        ("kasi", "request-letter", unit, {}),
        ("staf", "draft-letter", None, {"perihal": "Tanggapan", "body": "Dengan hormat, ..."}),
    ]
    if returned_once:
        actions += [
            ("sekcam", "review-letter", None, {"approved": False, "notes": "Perbaiki salam"}),
            ("staf", "draft-letter", None, {"perihal": "Tanggapan", "body": "Dengan hormat, ... (2)"}),
        ]
    actions += [
        ("sekcam", "review-letter", None, {"approved": True}),
        ("staf", "duplicate-letter", None, {}),
        ("camat", "sign-letter", None, {}),
        ("staf", "archive-letter", None, {}),
        ("staf", "send-response", None, {"channel": "pos", "receipt": "Diterima oleh pengadu"}),
    ]
    assert len(actions) == len(times)
    for (role, action, u, fields), when in zip(actions, times):  # noqa: B905
        c.do(role, action, when, as_unit=u, **fields)


def catch_up(dash) -> None:
    store = PostgresEventStore(dash.engine)
    sub = Subscription(dash.engine, store, ComplaintsProjection(dash.calendars), batch_size=500)
    sub.catch_up()


@pytest.fixture(scope="module")
def known(wf, dash, place):
    """The known set of kecamatan 1 (register numbers follow the order of registration below: E=1, F=2, A=3,
    B=4, C=5, G=6, L=7), and one complaint of kecamatan 2."""
    k1 = place["k1"]
    e = Complaint(wf, k1, at(1, 26, 9))  # referred to a desa in January, the desa answered in February
    e.do("kasi", "verify-identity", at(1, 26, 10)).do("staf", "register", at(1, 26, 10, 10))
    e.do("camat", "refer", at(1, 27, 9), agency="Desa Tebul", agency_kind="desa", reason="Urusan desa")
    e.do(
        "staf",
        "record-referral-answer",
        at(2, 5, 10),
        answer="Kepala Desa Tebul menemui pengadu; jalan desa diperbaiki swadaya.",
        answered_on="2026-02-04",
        reference="surat 140/12/2026",
    )
    f = Complaint(wf, k1, at(1, 27, 9), channel="whatsapp")  # closed after its 12 working days
    full_flow(
        f,
        [
            at(1, 27, 10),
            at(1, 27, 10, 10),
            at(1, 28, 9),
            at(1, 29, 9),
            at(1, 29, 9, 10),
            at(1, 29, 9, 20),
            at(1, 30, 9),
            at(1, 30, 9, 10),
            at(2, 12, 9),
            at(2, 13, 9),
            at(2, 13, 10),
        ],
        unit="trantib",
    )
    a = Complaint(wf, k1, at(2, 2, 9))  # the whole SOP in two days, one draft returned
    full_flow(
        a,
        [
            at(2, 2, 10),
            at(2, 2, 10, 10),
            at(2, 3, 10, 10),
            at(2, 3, 11, 10),
            at(2, 3, 11, 40),
            at(2, 3, 11, 50),
            at(2, 3, 13, 50),
            at(2, 3, 14),
            at(2, 3, 14, 30),
            at(2, 3, 14, 40),
            at(2, 3, 15),
            at(2, 3, 15, 10),
            at(2, 3, 15, 20),
        ],
        returned_once=True,
    )
    b = Complaint(wf, k1, at(2, 3, 9), channel="sms")  # referred to an OPD, which has not answered yet
    b.do("kasi", "verify-identity", at(2, 3, 9, 30)).do("staf", "register", at(2, 3, 9, 40))
    b.do("camat", "refer", at(2, 4, 9), agency="Dinas PUPR", agency_kind="opd", reason="Jalan kabupaten")
    c = Complaint(wf, k1, at(2, 4, 9))  # waits on the camat (step 4) since 4 February
    c.do("kasi", "verify-identity", at(2, 4, 9, 20)).do("staf", "register", at(2, 4, 9, 30))
    d = Complaint(wf, k1, at(2, 5, 9), channel="kotak")  # awaits the complainant's documents
    d.do("kasi", "request-documents", at(2, 5, 10), message="Kirim foto KTP")
    g = Complaint(wf, k1, at(2, 6, 9))  # waits on the Kasi trantib (step 5)
    g.do("kasi", "verify-identity", at(2, 6, 9, 10)).do("staf", "register", at(2, 6, 9, 20))
    g.do("camat", "dispose", at(2, 6, 10), unit="trantib", instructions="Cek lokasi")
    h = Complaint(wf, k1, at(2, 4, 10))  # never verified (step 2)
    lapsed = Complaint(wf, k1, at(2, 18, 9), channel="email")  # referred, no answer by the follow-up time
    lapsed.do("kasi", "verify-identity", at(2, 18, 10)).do("staf", "register", at(2, 18, 10, 10))
    lapsed.do(
        "camat",
        "refer",
        at(2, 19, 9),
        agency="Dinas Kesehatan",
        agency_kind="opd",
        reason="Puskesmas",
        follow_up_working_days=1,
    )
    # the scheduler's round just after L's follow-up time (B's, 14 working days after 4 February, is later)
    follow_up_by = lapsed.state.step_due_at
    assert follow_up_by < at(2, 24, 9)
    LapsedReferrals(wf, clock=lambda: follow_up_by + timedelta(minutes=1)).round()
    other = Complaint(wf, place["k2"], at(2, 10, 9), name="Budi Santoso")
    catch_up(dash)
    return {"A": a, "B": b, "C": c, "D": d, "E": e, "F": f, "G": g, "H": h, "L": lapsed, "other": other}


# -- the figures ------------------------------------------------------------------------------------------------
def test_summary_counts_volumes_and_the_twelve_day_sla(client, tokens, known, place):
    r = client.get("/v1/dashboard/summary", params={"kecamatan": place["k1"]}, headers=tokens["staf1"])
    assert r.status_code == 200, r.text
    item = r.json()["kecamatan"][0]
    assert item["kecamatan"]["slug"] == place["k1"] and item["total"] == 9
    assert item["by_channel"] == {"web": 5, "sms": 1, "kotak": 1, "whatsapp": 1, "email": 1}
    # B, followed until Dinas PUPR answers, is open as referred; E (answered) and L (lapsed) closed as referred
    assert item["by_status"] == {"closed": 4, "in_progress": 3, "awaiting_documents": 1, "referred": 1}
    assert item["by_outcome"] == {"resolved": 2, "referred": 2}
    assert item["by_month"] == {"2026-01": 2, "2026-02": 7}
    # E was answered in February, after its 12 days: referred within them, it counts as within (the kecamatan's
    # part ended at the referral). B is open but not late: the kecamatan's part is done
    assert item["sla"] == {
        "closed": 4,
        "closed_within": 3,
        "closed_late": 1,
        "closed_within_share": 0.75,
        "open": 5,
        "open_late": 4,
    }

    feb = client.get(
        "/v1/dashboard/summary", params={"from": "2026-02-01", "to": "2026-02-28"}, headers=tokens["staf1"]
    ).json()
    assert [k["kecamatan"]["slug"] for k in feb["kecamatan"]] == [place["k1"]]  # staff: their own by default
    assert feb["kecamatan"][0]["total"] == 7 and feb["kecamatan"][0]["sla"]["closed_within_share"] == 1.0
    assert feb["period"] == {"from": "2026-02-01", "to": "2026-02-28"}

    kab = client.get("/v1/dashboard/summary", headers=tokens["kabupaten"]).json()
    assert [k["kecamatan"]["slug"] for k in kab["kecamatan"]] == [place["k1"], place["k2"], place["k3"]]
    assert kab["total"]["by_channel"]["web"] >= 6 and kab["total"]["total"] >= 10


def test_step_times_against_the_sop_standard(client, tokens, known, place):
    r = client.get("/v1/dashboard/steps", params={"kecamatan": place["k1"]}, headers=tokens["kabupaten"])
    assert r.status_code == 200, r.text
    steps = {i["step"]: i for i in r.json()["items"]}
    # step 8 (sekcam, 2 working days): A returned once (120 min) then approved (30), F approved after 460
    assert steps[8]["count"] == 3 and steps[8]["role"] == "sekcam" and steps[8]["standard_minutes"] == 960
    assert (steps[8]["median_minutes"], steps[8]["p90_minutes"], steps[8]["within_standard_share"]) == (120, 392, 1.0)
    # step 6 (15 minutes): A took 30 (late), F 10
    assert (steps[6]["count"], steps[6]["within_standard"], steps[6]["within_standard_share"]) == (2, 1, 0.5)
    assert (steps[6]["median_minutes"], steps[6]["p90_minutes"], steps[6]["standard_minutes"]) == (20, 28, 15)
    # step 10: F signed two weeks late (4310 office minutes)
    assert (steps[10]["count"], steps[10]["within_standard"], steps[10]["max_minutes"]) == (2, 1, 4310)
    # step 4: dispositions and referrals (A 480, B 440, E 410, F 410, G 40, L 410); the wait for the receiving
    # office's answer is nobody's step time (E answered, L lapsed, B waits: no other step of theirs)
    assert (steps[4]["count"], steps[4]["median_minutes"], steps[4]["within_standard_share"]) == (6, 410, 1.0)
    # step 2: eight looks (D's ended with a documents request); H's is still open
    assert (steps[2]["count"], steps[2]["median_minutes"]) == (8, 60)
    assert steps[1]["count"] == 9 and steps[7]["count"] == 3  # A drafted twice

    feb = client.get(
        "/v1/dashboard/steps",
        params={"kecamatan": place["k1"], "from": "2026-02-10", "to": "2026-02-13"},
        headers=tokens["kabupaten"],
    ).json()
    assert {(i["step"], i["count"]) for i in feb["items"]} == {(10, 1), (11, 1), (12, 1)}  # F's last steps


def test_overdue_work_oldest_first_with_whose_turn_it_is(client, tokens, known, place):
    r = client.get("/v1/dashboard/overdue", params={"kecamatan": place["k1"]}, headers=tokens["staf1"])
    assert r.status_code == 200, r.text
    body = r.json()
    assert body["total"] == 3
    assert [(i["complaint_id"], i["step"]["number"], i["role"], i["unit"]) for i in body["items"]] == [
        (str(known["C"].id), 4, "camat", None),
        (str(known["H"].id), 2, "kasi", None),
        (str(known["G"].id), 5, "kasi", "trantib"),
    ]
    first = body["items"][0]
    assert first["register_number"] == "5/2026" and first["overdue_minutes"] > 0
    assert first["complainant"]["phone"] == PHONE  # the kecamatan's own staff
    masked = client.get(
        "/v1/dashboard/overdue", params={"kecamatan": place["k1"], "limit": "1"}, headers=tokens["kabupaten"]
    ).json()
    assert masked["total"] == 3 and len(masked["items"]) == 1
    assert masked["items"][0]["complainant"] == {"name": "Siti ***", "phone": "+62812****890"}


def test_referrals_by_agency_kind_and_where_they_stand(client, tokens, known, place):
    body = client.get("/v1/dashboard/referrals", params={"kecamatan": place["k1"]}, headers=tokens["kabupaten"]).json()
    assert body["total"] == 3 and body["by_kind"] == {"desa": 1, "opd": 2}
    assert body["by_state"] == {"answered": 1, "followed": 1, "lapsed": 1}  # E, B, L
    assert {(a["agency"], a["agency_kind"], a["count"]) for a in body["by_agency"]} == {
        ("Desa Tebul", "desa", 1),
        ("Dinas PUPR", "opd", 1),
        ("Dinas Kesehatan", "opd", 1),
    }
    feb = client.get(
        "/v1/dashboard/referrals", params={"kecamatan": place["k1"], "from": "2026-02-01"}, headers=tokens["kabupaten"]
    ).json()
    assert sorted((i["agency"], i["state"], i["count"]) for i in feb["items"]) == [
        ("Dinas Kesehatan", "lapsed", 1),
        ("Dinas PUPR", "followed", 1),
    ]


# -- who may read what -------------------------------------------------------------------------------------------
def test_a_kecamatan_user_cannot_read_another_kecamatans_figures(client, tokens, known, place):
    for path in ("summary", "steps", "overdue", "referrals"):
        r = client.get(f"/v1/dashboard/{path}", params={"kecamatan": place["k2"]}, headers=tokens["staf1"])
        assert r.status_code == 403 and r.json()["code"] == "kecamatan_forbidden", (path, r.text)
    r = client.get("/v1/register", params={"kecamatan": place["k1"]}, headers=tokens["camat2"])
    assert r.status_code == 403 and r.json()["code"] == "kecamatan_forbidden"
    r = client.get("/v1/dashboard/summary", params={"kecamatan": place["k1"]}, headers=tokens["other_kabupaten"])
    assert r.status_code == 403 and r.json()["code"] == "kecamatan_forbidden"
    own = client.get("/v1/dashboard/summary", headers=tokens["camat2"]).json()
    assert [k["kecamatan"]["slug"] for k in own["kecamatan"]] == [place["k2"]] and own["total"]["total"] == 1
    assert client.get("/v1/dashboard/summary").status_code == 401


def test_bad_filters_are_refused_with_codes(client, tokens, place):
    r = client.get("/v1/dashboard/summary", params={"from": "2026-13-01", "to": "x"}, headers=tokens["kabupaten"])
    assert r.status_code == 422 and r.json()["code"] == "validation_error"
    assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [("from", "invalid_date"), ("to", "invalid_date")]
    r = client.get(
        "/v1/dashboard/steps", params={"from": "2026-03-01", "to": "2026-02-01"}, headers=tokens["kabupaten"]
    )
    assert [(e["field"], e["code"]) for e in r.json()["errors"]] == [("to", "period_reversed")]
    r = client.get("/v1/dashboard/referrals", params={"kecamatan": "tidak-ada"}, headers=tokens["kabupaten"])
    assert r.status_code == 422 and r.json()["code"] == "unknown_kecamatan"
    r = client.get("/v1/dashboard/overdue", params={"limit": "0"}, headers=tokens["kabupaten"])
    assert r.status_code == 422 and r.json()["errors"][0]["code"] == "out_of_range"
    r = client.get(
        "/v1/register", params={"kecamatan": place["k1"], "format": "pdf", "year": "abc"}, headers=tokens["kabupaten"]
    )
    assert {(e["field"], e["code"]) for e in r.json()["errors"]} == {
        ("format", "unknown_format"),
        ("year", "invalid_number"),
    }
    r = client.get("/v1/register", headers=tokens["kabupaten"])
    assert r.status_code == 422 and r.json()["code"] == "kecamatan_required"


# -- the register -----------------------------------------------------------------------------------------------
def test_the_register_as_json_pages_in_register_order(client, tokens, known, place):
    r = client.get("/v1/register", params={"page_size": "4"}, headers=tokens["staf1"])  # staff: own kecamatan
    assert r.status_code == 200, r.text
    body = r.json()
    assert (body["total"], body["pages"], body["kecamatan"]["slug"]) == (7, 2, place["k1"])
    assert [i["register_number"] for i in body["items"]] == ["1/2026", "2/2026", "3/2026", "4/2026"]
    a = body["items"][2]
    assert (
        a["complaint_id"] == str(known["A"].id)
        and a["complainant"]["nik"] == NIK
        and a["complainant"]["phone"] == PHONE
    )
    assert a["disposition"] == {
        "unit": "pemerintahan",
        "instructions": "Koordinasikan dengan desa.",
        "at": a["disposition"]["at"],
    }
    assert (
        # the third letter of the kecamatan's register: E's surat pelimpahan, F's and A's response letters
        a["letter"]["number"] == f"000.8.3.4/3/99.{place['k1'].split('-')[1]}.a/2026"
        and a["sent_channel"] == "pos"
        and a["status"] == "closed"
    )
    second = client.get("/v1/register", params={"page_size": "4", "page": "2"}, headers=tokens["staf1"]).json()
    assert [i["register_number"] for i in second["items"]] == ["5/2026", "6/2026", "7/2026"]


def test_a_kabupaten_user_sees_nik_and_phone_masked(client, tokens, known, place):
    body = client.get(
        "/v1/register", params={"kecamatan": place["k1"], "year": "2026"}, headers=tokens["kabupaten"]
    ).json()
    assert body["total"] == 7
    for item in body["items"]:
        assert item["complainant"]["nik"] == "3528********0001"
        assert item["complainant"]["phone"] == "+62812****890"
        assert item["complainant"]["address"] == "***" and item["complainant"]["email"] == "s***@example.id"
    assert NIK not in str(body) and PHONE not in str(body) and "Koordinasikan" not in str(body)
    csv_text = client.get(
        "/v1/register", params={"kecamatan": place["k1"], "format": "csv"}, headers=tokens["kabupaten"]
    ).content.decode("utf-8-sig")
    assert NIK not in csv_text and "Siti Aminah" not in csv_text and "Siti ***" in csv_text


def test_the_register_xlsx_holds_exactly_the_rows_of_the_period(client, tokens, known, place):
    r = client.get(
        "/v1/register",
        params={"kecamatan": place["k1"], "from": "2026-02-02", "to": "2026-02-04", "format": "xlsx"},
        headers=tokens["staf1"],
    )
    assert r.status_code == 200, r.text
    assert r.headers["content-type"].startswith("application/vnd.openxmlformats-officedocument.spreadsheetml.sheet")
    assert "attachment" in r.headers["content-disposition"] and place["k1"] in r.headers["content-disposition"]
    ws = openpyxl.load_workbook(io.BytesIO(r.content)).active
    assert ws["A1"].value == "BUKU REKAP PENGADUAN" and place["names"][place["k1"]].upper() in ws["A2"].value
    assert ws["A3"].value == "Periode: 02-02-2026 s.d. 04-02-2026"
    header = [c.value for c in ws[5]]
    assert header[0] == "No. Register" and all(c.font.bold for c in ws[5])
    numbers = [
        ws.cell(row=r_, column=1).value
        for r_ in range(6, ws.max_row + 1)
        if ws.cell(row=r_, column=2).value is not None
    ]
    assert numbers == ["3/2026", "4/2026", "5/2026"]  # A, B, C: received 2, 3 and 4 February
    row_a = [ws.cell(row=6, column=col).value for col in range(1, 12)]
    assert row_a[1] == datetime(2026, 2, 2, 9, 0) and row_a[2] == "Siti Aminah" and row_a[4] == "Formulir web"
    assert row_a[6].startswith("Unit pemerintahan") and row_a[8].startswith(
        "000.8.3.4/3/"
    )  # E's referral and F's letter came first and row_a[10] == "Selesai, tanggapan dikirim"
    assert ws.page_setup.orientation == "landscape" and ws.print_title_rows == "$5:$5"

    c = client.get(
        "/v1/register",
        params={"kecamatan": place["k1"], "from": "2026-02-02", "to": "2026-02-04", "format": "csv"},
        headers=tokens["staf1"],
    )
    assert (
        c.status_code == 200
        and c.content.startswith(b"\xef\xbb\xbf")
        and c.headers["content-type"].startswith("text/csv")
    )
    rows = list(csv.reader(io.StringIO(c.content.decode("utf-8-sig"))))
    assert rows[0][0] == "No. Register" and [x[0] for x in rows[1:]] == ["3/2026", "4/2026", "5/2026"]
    # B: referred with the register's fourth letter (after E's, F's and A's), followed until its answer
    number = f"000.8.3.4/4/99.{place['k1'].split('-')[1]}.a/2026"
    until = known["B"].state.step_due_at.astimezone(WIB).strftime("%d-%m-%Y")
    assert rows[2][6] == f"Dilimpahkan ke Dinas PUPR (OPD), surat pelimpahan {number}" and rows[2][4] == "SMS"
    assert rows[2][7] == f"Menunggu tanggapan Dinas PUPR, dipantau s.d. {until}"
    assert rows[2][10] == f"Dilimpahkan, menunggu tanggapan (dipantau s.d. {until})"


def test_the_register_follows_each_referral_and_masks_the_offices_answer(client, tokens, known, place):
    def by_number(headers: dict) -> dict:
        body = client.get("/v1/register", params={"kecamatan": place["k1"]}, headers=headers).json()
        return {i["register_number"]: i for i in body["items"]}

    inside = by_number(tokens["staf1"])
    e, b, lapsed = inside["1/2026"], inside["4/2026"], inside["7/2026"]
    assert (e["status"], e["outcome"], e["status_label"]) == ("closed", "referred", "Dilimpahkan, sudah ditanggapi")
    assert e["referral"]["state"] == "answered" and e["referral"]["agency"] == "Desa Tebul"
    assert e["referral"]["answer"] == {
        "text": "Kepala Desa Tebul menemui pengadu; jalan desa diperbaiki swadaya.",
        "answered_on": "2026-02-04",
        "reference": "surat 140/12/2026",
        "at": e["referral"]["answer"]["at"],
    }
    assert datetime.fromisoformat(e["referral"]["answer"]["at"]) == at(2, 5, 10)
    assert (b["status"], b["outcome"], b["referral"]["state"]) == ("referred", None, "followed")
    assert datetime.fromisoformat(b["referral"]["follow_up_by"]) == known["B"].state.step_due_at
    assert b["status_label"].startswith("Dilimpahkan, menunggu tanggapan (dipantau s.d. ")
    assert (lapsed["status_label"], lapsed["referral"]["state"], lapsed["referral"]["answer"]) == (
        "Dilimpahkan, tanpa tanggapan",
        "lapsed",
        None,
    )
    masked = by_number(tokens["kabupaten"])
    assert "swadaya" not in str(masked) and "140/12" not in str(masked)
    assert masked["4/2026"]["status_label"] == b["status_label"]
    answer = masked["1/2026"]["referral"]["answer"]  # shared.masking.COMPLAINT_ROW: only that there was one
    assert (answer["text"], answer["reference"], answer["answered_on"]) == (
        "[disembunyikan]",
        "[disembunyikan]",
        "2026-02-04",
    )


def test_a_large_register_export_is_streamed_whole(client, tokens, dash, place):
    """3,000 registered complaints of one year (written straight into the read model, removed after): the xlsx and
    the csv hold every one, in register order, sent in chunks; the access log names every complaint once."""
    k2, n = place["k2"], 3000
    rows = []
    for i in range(n):
        cid = uuid.uuid4()
        received = datetime(2031, 1, 1, 8, 0, tzinfo=WIB) + timedelta(minutes=7 * i)
        rows.append(
            {
                "complaint_id": cid,
                "kecamatan": k2,
                "tracking_code": f"B{cid.hex[:11]}",
                "register_number": i + 1,
                "register_year": 2031,
                "received_at": received,
                "received_date": received.date(),
                "complainant_name": f"Pengadu {i}",
                "channel": "web",
                "subject": f"=perihal {i}",
                "status": "in_progress",
                "current_step": 4,
                "sop_version": "uji-1",
                "position": 1,
            }
        )
    with dash.engine.begin() as conn:
        conn.execute(t.complaints.insert(), rows)
    try:
        params = {"kecamatan": k2, "year": "2031"}
        headers = {**tokens["camat2"], "X-Access-Reason": "rekap tahunan"}
        with client.stream("GET", "/v1/register", params={**params, "format": "xlsx"}, headers=headers) as r:
            assert r.status_code == 200, r.read()
            chunks = list(r.iter_bytes())
        data = b"".join(chunks)
        assert int(r.headers["content-length"]) == len(data)
        ws = openpyxl.load_workbook(io.BytesIO(data), read_only=True).active
        values = list(ws.iter_rows(values_only=True))
        body = values[5 : 5 + n]
        assert [v[0] for v in body] == [f"{i + 1}/2031" for i in range(n)]
        assert body[0][1] == datetime(2031, 1, 1, 8, 0) and body[-1][5] == f"=perihal {n - 1}"  # a text, not a formula
        assert values[-1][0].startswith(f"Jumlah: {n} pengaduan.")
        text_csv = client.get("/v1/register", params={**params, "format": "csv"}, headers=headers).content
        lines = list(csv.reader(io.StringIO(text_csv.decode("utf-8-sig"))))
        assert len(lines) == n + 1 and lines[-1][0] == f"{n}/2031" and lines[-1][5] == f"'=perihal {n - 1}"
        with dash.engine.connect() as conn:
            logged = conn.execute(
                text(
                    "SELECT what, cardinality(complaint_ids) AS n, reason FROM privacy.access_log "
                    "WHERE kecamatan = :k AND what LIKE 'register.%' ORDER BY id DESC LIMIT 2"
                ),
                {"k": k2},
            ).all()
        assert [(x.what, x.n, x.reason) for x in logged] == [
            ("register.csv", n, "rekap tahunan"),
            ("register.xlsx", n, "rekap tahunan"),
        ]
    finally:
        with dash.engine.begin() as conn:
            conn.execute(t.complaints.delete().where(t.complaints.c.register_year == 2031))


def test_healthz_reports_the_projection_lag(client, known):
    body = client.get("/healthz").json()
    lag = body["checks"]["projection dashboard.complaints"]
    assert body["checks"]["database"]["ok"] and {"checkpoint", "head", "lag"} <= set(lag)


def test_the_live_tables_match_their_definitions(dash):
    """The migration's tables and the ones a rebuild creates from adapters/tables.py are the same."""
    store = PostgresEventStore(dash.engine)
    probes = [
        Subscription(dash.engine, store, p, suffix="__cmp") for p in projections.projections(dash.engine).values()
    ]
    for probe in probes:
        probe.create_tables()
        probe.create_indexes()  # as a rebuild does once the copies are filled
    try:
        with dash.engine.connect() as conn:
            for name in ("complaints", "step_times", "service_requests", "complaint_counts", "feedback_counts"):

                def shape(table):
                    cols = conn.execute(
                        text(
                            "SELECT column_name, data_type, is_nullable, column_default FROM information_schema.columns "
                            "WHERE table_schema = 'dashboard' AND table_name = :t ORDER BY ordinal_position"
                        ),
                        {"t": table},
                    ).all()
                    idx = conn.execute(
                        text(
                            "SELECT indexname, indexdef FROM pg_indexes WHERE schemaname = 'dashboard' "
                            "AND tablename = :t"
                        ),
                        {"t": table},
                    ).all()
                    return cols, sorted((i.replace(table, "T"), d.replace(table, "T")) for i, d in idx)

                assert shape(name) == shape(name + "__cmp"), name
    finally:
        for probe in probes:
            probe.drop_tables()


def test_step_times_are_kept_until_the_projection_moves(client, tokens, dash, wf, place, known):
    params = {"kecamatan": place["k3"], "from": "2026-04-01", "to": "2026-04-30"}
    assert client.get("/v1/dashboard/steps", params=params, headers=tokens["kabupaten"]).json()["items"] == []
    hits = dash.results.hits
    assert client.get("/v1/dashboard/steps", params=params, headers=tokens["kabupaten"]).json()["items"] == []
    assert dash.results.hits == hits + 1  # the same answer, the projection has not moved
    Complaint(wf, place["k3"], at(4, 6, 9)).do("kasi", "verify-identity", at(4, 6, 9, 45))
    catch_up(dash)
    items = client.get("/v1/dashboard/steps", params=params, headers=tokens["kabupaten"]).json()["items"]
    assert [(i["step"], i["count"], i["median_minutes"]) for i in items] == [(1, 1, 0), (2, 1, 45)]


def test_run_projections_keeps_the_dashboard_up_to_date(settings, dash, wf, place):
    stop = threading.Event()
    runner = threading.Thread(
        target=projections.run_projections,
        args=(DashboardSettings(**settings.model_dump()),),
        kwargs={"stop": stop},
        daemon=True,
    )
    runner.start()
    try:
        c = Complaint(wf, place["k3"], at(4, 7, 9))
        deadline = time.monotonic() + 20
        while time.monotonic() < deadline:
            with dash.engine.connect() as conn:
                if conn.execute(
                    text("SELECT 1 FROM dashboard.complaints WHERE complaint_id = :c"), {"c": c.id}
                ).first():
                    break
            time.sleep(0.1)
        else:
            pytest.fail("the running projection did not apply the new complaint")
    finally:
        stop.set()
        runner.join(timeout=15)
    assert not runner.is_alive()


# -- the rebuild ------------------------------------------------------------------------------------------------
def table_hash(conn, table: str) -> tuple[int, str]:
    name = table.split("__")[0]
    definition = t.metadata.tables[f"dashboard.{name}"]
    cols = ", ".join(f'"{c.name}"' for c in definition.columns)
    key = ", ".join(f'"{c.name}"' for c in definition.primary_key.columns)
    return tuple(
        conn.execute(
            text(
                f"SELECT count(*), md5(coalesce(string_agg(r::text, '|' ORDER BY {key}), '')) "
                f'FROM (SELECT {cols} FROM dashboard."{table}") r'
            )
        ).one()
    )


def test_a_rebuild_while_events_are_appended_equals_the_incremental_projection(dash, wf, place, known):
    engine, store = dash.engine, PostgresEventStore(dash.engine)
    catch_up(dash)
    projection = ComplaintsProjection(dash.calendars)
    checkpoints = Checkpoints(t.checkpoints)

    # an incrementally maintained copy, forked from the live projection at a consistent point
    incremental = Subscription(engine, store, projection, suffix="__inc", batch_size=7)
    incremental.create_tables()
    with engine.begin() as conn:
        position = checkpoints.claim(conn, projection.name)
        for name in projection.table_names:
            cols = ", ".join(f'"{c.name}"' for c in t.metadata.tables[f"dashboard.{name}"].columns)
            conn.execute(text(f'INSERT INTO dashboard."{name}__inc" ({cols}) SELECT {cols} FROM dashboard."{name}"'))
        checkpoints.set(conn, incremental.checkpoint_name, position)

    live = Subscription(engine, store, projection, batch_size=20)
    runners = [
        Runner(engine, projection.name, live.round, channel=NOTIFY_CHANNEL, poll_interval=0.1),
        Runner(engine, incremental.checkpoint_name, incremental.round, channel=NOTIFY_CHANNEL, poll_interval=0.1),
    ]
    threads = [threading.Thread(target=r.run, daemon=True) for r in runners]

    stop = threading.Event()
    appended = {"events": 0}
    failures: list[BaseException] = []
    k3 = place["k3"]

    def append() -> None:  # complaints keep arriving and moving in kecamatan 3
        start = datetime(2026, 3, 2, 9, 0, tzinfo=WIB)
        n = 0
        try:
            while not stop.is_set():
                when = start + timedelta(minutes=n)
                c = Complaint(wf, k3, when)
                c.do("kasi", "verify-identity", when + timedelta(minutes=5)).do(
                    "staf", "register", when + timedelta(minutes=9)
                )
                if n % 2:
                    c.do(
                        "camat",
                        "refer",
                        when + timedelta(minutes=30),
                        agency="Dinas Kesehatan",
                        agency_kind="opd",
                        reason="-",
                    )
                appended["events"] += 3 + n % 2
                n += 1
        except BaseException as exc:  # the test fails below with it
            failures.append(exc)

    seen = {"reads": 0}

    def read() -> None:  # a reader never sees a missing, empty, half-built or shrinking table
        try:
            while not stop.is_set():
                with engine.connect() as conn:
                    for name in ("complaints", "step_times"):
                        for k in (place["k1"], k3):  # kecamatan 1 stays as it is, kecamatan 3 only grows
                            n = conn.execute(
                                text(f"SELECT count(*) FROM dashboard.{name} WHERE kecamatan = :k"), {"k": k}
                            ).scalar_one()
                            before_n = seen.get((name, k), 1 if k == place["k1"] else 0)
                            assert n >= before_n, f"{name} of {k}: {n} rows after {before_n}"
                            seen[(name, k)] = n
                seen["reads"] += 1
        except BaseException as exc:
            failures.append(exc)

    helpers = [threading.Thread(target=append, daemon=True), threading.Thread(target=read, daemon=True)]
    for runner, th in zip(runners, threads):  # one after the other: each leads before the next starts  # noqa: B905
        th.start()
        assert runner.is_leader.wait(10), f"{runner.name} did not take the lead"
    for th in helpers:
        th.start()
    try:
        time.sleep(0.5)

        def more_events_meanwhile() -> None:  # appends arrive between the catch-up and the swap
            target = appended["events"] + 12
            deadline = time.monotonic() + 20
            while appended["events"] < target and time.monotonic() < deadline and not failures:
                time.sleep(0.02)

        before = appended["events"]
        report = rebuild_projection(engine, store, projection, batch_size=25, on_caught_up=more_events_meanwhile)
        assert appended["events"] > before + 12, "events were appended while the projection was rebuilt"
        assert report.caught_up_in_swap > 0  # the last events were applied inside the swap
        reads, events = seen["reads"], appended["events"]
        # after the swap the reader read every table twice more (the first may have begun before it; a failed read
        # ends the reader: failures), and complaints kept arriving for the live projection to apply to the swapped tables
        wait_until(
            lambda: failures or (seen["reads"] >= reads + 2 and appended["events"] > events),
            timeout=20,
            interval=0.02,
            message="the reader and the writer to go on after the swap",
        )
    finally:
        stop.set()
        for th in helpers:
            th.join(timeout=20)
    try:
        assert not failures, failures
        assert seen["reads"] > 0
        deadline = time.monotonic() + 30
        head = store.last_position()
        while time.monotonic() < deadline and (live.position() < head or incremental.position() < head):
            time.sleep(0.05)
        assert live.position() == incremental.position() == head
    finally:
        for r in runners:
            r.stop()
        for th in threads:
            th.join(timeout=10)
    try:
        with engine.connect() as conn:
            for name in projection.table_names:
                rebuilt, kept = table_hash(conn, name), table_hash(conn, f"{name}__inc")
                assert rebuilt == kept, name
            assert (
                conn.execute(
                    text("SELECT count(*) FROM dashboard.complaints WHERE kecamatan = :k"), {"k": k3}
                ).scalar_one()
                > 0
            )
            assert (
                conn.execute(
                    text(
                        "SELECT count(*) FROM pg_tables WHERE schemaname = 'dashboard' AND tablename LIKE '%\\_\\_next'"
                    )
                ).scalar_one()
                == 0
            )
        assert projections.status(engine)[0]["lag"] >= 0
    finally:
        incremental.drop_tables()


def test_rebuild_and_status_by_name(dash, known, caplog):
    with caplog.at_level(
        logging.INFO, logger="services.dashboard.adapters.subscription"
    ):  # its report goes into the record
        report = projections.rebuild(dash.engine, "complaints")
    assert report["name"] == "dashboard.complaints" and report["position"] > 0
    (done,) = [r for r in caplog.records if r.getMessage() == "rebuild dashboard.complaints done"]
    assert done.rebuild_position == report["position"]
    st = {s["name"]: s for s in projections.status(dash.engine)}["dashboard.complaints"]  # of each projection
    assert (
        st["name"] == "dashboard.complaints"
        and st["checkpoint"] == report["position"]
        and st["lag"] == st["head"] - st["checkpoint"]
    )
    with pytest.raises(ValueError):
        projections.rebuild(dash.engine, "tidak-ada")
