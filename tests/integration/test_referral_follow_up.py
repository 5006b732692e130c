"""Issue #15 item 5 and item 3's a.n. signing, over HTTP: a referral (dilimpahkan) is numbered for its surat
pelimpahan and stays open, waiting on Staf, until staff record the receiving office's answer or the follow-up
time passes (the scheduler closes it); while it waits nothing else of the SOP may be done. Where a kecamatan
allows it, the Sekcam signs the response letter a.n. the Camat, and the event records both."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest
from fastapi.testclient import TestClient

from pengaduan import apps
from services.accounts import handlers as accounts
from services.workflow.bootstrap import bootstrap
from services.workflow.scheduler import LapsedReferrals
from shared.tenancy import Kecamatan, configure_kecamatan, upsert_kecamatan
from tests.support.complaints import new_complaint

PASSWORD = "rahasia-uji-yang-panjang"
ROLES = [("staf", "staf", None), ("kasi", "kasi", "pemerintahan"), ("sekcam", "sekcam", None), ("camat", "camat", None)]


@pytest.fixture(scope="module")
def wf(settings):
    container = bootstrap(settings)
    yield container
    container.engine.dispose()


@pytest.fixture(scope="module")
def client(wf):
    with TestClient(apps.workflow(wf)) as c:
        yield c


def _place(engine, client, wf, settings: dict) -> tuple[str, dict]:
    """A kecamatan of its own (numbers from 001, settings of its own), a user per role, signed in."""
    suffix = uuid.uuid4().hex[:8]
    slug = f"lmph-{suffix}"
    upsert_kecamatan(engine, [Kecamatan(slug, f"98.{suffix}", "Uji", "pamekasan", "Kabupaten Pamekasan", {})])
    if settings:
        configure_kecamatan(engine, slug, settings)  # as `pengaduan kecamatan configure` does
    wf.directory.invalidate()
    tokens = {}
    for key, role, unit in ROLES:
        username = f"{key}.{slug}"
        accounts.add_user(engine, username, f"Nama {key}", role, PASSWORD, kecamatan=slug, unit=unit)
        r = client.post("/v1/auth/token", data={"username": username, "password": PASSWORD})
        assert r.status_code == 200, r.text
        tokens[key] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    return slug, tokens


@pytest.fixture(scope="module")
def place(engine, client, wf):
    return _place(engine, client, wf, {})


@pytest.fixture(scope="module")
def place_an(engine, client, wf):
    return _place(engine, client, wf, {"sign_atas_nama": "sekcam"})


class Flow:
    def __init__(self, client, tokens, complaint_id):
        self.client, self.tokens, self.id, self.version = client, tokens, complaint_id, 1

    def do(self, who: str, action: str, expect: int = 200, **fields) -> dict:
        r = self.client.post(
            f"/v1/complaints/{self.id}/{action}",
            json={"expected_version": self.version, **fields},
            headers=self.tokens[who],
        )
        assert r.status_code == expect, r.text
        if expect == 200:
            self.version = r.json()["version"]
        return r.json()

    def get(self, who: str = "staf") -> dict:
        return self.client.get(f"/v1/complaints/{self.id}", headers=self.tokens[who]).json()


def referred(client, wf, place, **fields) -> Flow:
    slug, tokens = place
    f = Flow(client, tokens, new_complaint(wf, slug))
    f.do("kasi", "verify-identity")
    f.do("staf", "register")
    f.do(
        "camat",
        "refer",
        agency="Dinas PUPR Kabupaten Pamekasan",
        agency_kind="opd",
        agency_address="Jl. Kabupaten No. 1, Pamekasan",
        reason="Jalan kabupaten, bukan kewenangan kecamatan.",
        **fields,
    )
    return f


def test_a_referral_is_numbered_and_stays_open_waiting_on_staf(client, wf, place):
    slug, _ = place
    first = referred(client, wf, place)
    before = datetime.now(UTC)
    body = referred(client, wf, place, follow_up_working_days=5).get()
    after = datetime.now(UTC)
    assert (body["status"], body["outcome"], body["current_step"]["number"]) == ("referred", None, 4)
    event = body["history"][-1]["payload"]
    code = wf.kecamatan(slug).code
    year = datetime.now(UTC).astimezone(wf.kecamatan(slug).time_zone).year
    # the kecamatan's second outgoing letter this year (the default classification; its Kemendagri code as unit)
    assert event["letter_number"] == f"000.8.3.4/2/{code}/{year}"
    assert first.get()["history"][-1]["payload"]["letter_number"] == f"000.8.3.4/1/{code}/{year}"
    assert event["agency_address"] == "Jl. Kabupaten No. 1, Pamekasan"
    follow_up_by = datetime.fromisoformat(event["follow_up_by"])
    assert body["due_at"] and datetime.fromisoformat(body["due_at"]) == follow_up_by
    # five working days of the kecamatan's calendar from when the Camat referred it (on a Sunday evening that is
    # Friday's close, under five calendar days: the bound this test had failed then)
    cal = wf.calendars.for_kecamatan(wf.kecamatan(slug))
    assert cal.add_working_days(before, 5) <= follow_up_by <= cal.add_working_days(after, 5)
    assert timedelta(days=4) <= follow_up_by - before <= timedelta(days=14)
    assert body["allowed_actions"] == ["record-referral-answer", "withdraw"]
    inbox = client.get("/v1/inbox", params={"per_page": 200}, headers=first.tokens["staf"]).json()
    assert first.id in {uuid.UUID(i["id"]) for i in inbox} and all(i["status"] for i in inbox)


def test_the_number_never_comes_from_the_body(client, wf, place):
    slug, tokens = place
    f = Flow(client, tokens, new_complaint(wf, slug))
    f.do("kasi", "verify-identity")
    f.do("staf", "register")
    refused = f.do("camat", "refer", expect=422, agency="Dinas PUPR", reason="x", letter_number="999/PALSU/2026")
    assert [(e["field"], e["code"]) for e in refused["errors"]] == [("letter_number", "reserved_field")]


def test_while_referred_the_sop_waits_and_only_the_answer_may_be_recorded(client, wf, place):
    f = referred(client, wf, place)
    refused = f.do("camat", "dispose", expect=409, unit="pemerintahan", instructions="x")
    assert refused["code"] == "awaiting_referral_answer" and "dilimpahkan" in refused["message"]
    assert f.do("kasi", "record-referral-answer", expect=403, answer="x")["code"] == "role_not_allowed"
    future = (datetime.now(UTC) + timedelta(days=3)).date().isoformat()
    late = f.do("staf", "record-referral-answer", expect=422, answer="Sudah diperbaiki.", answered_on=future)
    assert late["code"] == "answered_in_future"
    early = f.do("staf", "record-referral-answer", expect=422, answer="Sudah diperbaiki.", answered_on="1900-01-01")
    assert early["code"] == "answered_before_referral"
    empty = f.do("staf", "record-referral-answer", expect=422, answer="  ")
    assert [e["field"] for e in empty["errors"]] == ["answer"]
    assert f.get()["version"] == f.version  # nothing written by the refusals


def test_recording_the_answer_closes_it_as_referred(client, wf, place):
    f = referred(client, wf, place)
    today = date.today().isoformat()
    body = f.do(
        "staf",
        "record-referral-answer",
        answer="Dinas PUPR menjadwalkan perbaikan jalan pada Januari 2027.",
        answered_on=today,
        reference="Surat 600/123/432.305/2026",
    )
    assert (body["status"], body["outcome"], body["allowed_actions"]) == ("closed", "referred", [])
    answered = body["history"][-1]
    assert answered["type"] == "workflow.ReferralAnswered"
    assert answered["payload"]["answered_on"] == today and "Januari 2027" in answered["payload"]["answer"]
    again = f.do("staf", "record-referral-answer", expect=409, answer="lagi")
    assert again["code"] == "complaint_closed"


def test_what_the_surat_pelimpahan_prints_is_bounded_so_it_stays_one_signed_page(client, wf, place):
    slug, tokens = place
    f = Flow(client, tokens, new_complaint(wf, slug))
    f.do("kasi", "verify-identity")
    f.do("staf", "register")
    refused = f.do("camat", "refer", expect=422, agency="D" * 201, agency_address="J" * 301, reason="x" * 2001)
    assert sorted(e["field"] for e in refused["errors"]) == ["agency", "agency_address", "reason"]
    assert f.get()["version"] == f.version


def test_the_answer_is_refused_when_nothing_was_referred(client, wf, place):
    slug, tokens = place
    f = Flow(client, tokens, new_complaint(wf, slug))
    assert f.do("staf", "record-referral-answer", expect=409, answer="x")["code"] == "not_referred"


def test_a_referral_without_an_answer_lapses_when_its_time_passes(client, wf, place):
    f = referred(client, wf, place, follow_up_working_days=1)
    follow_up_by = datetime.fromisoformat(f.get()["due_at"])
    before = LapsedReferrals(wf, clock=lambda: follow_up_by - timedelta(minutes=1))
    before.round()
    assert f.get()["status"] == "referred"
    LapsedReferrals(wf, clock=lambda: follow_up_by + timedelta(minutes=1)).round()
    body = f.get()
    assert (body["status"], body["outcome"]) == ("closed", "referred")
    lapsed = body["history"][-1]
    assert lapsed["type"] == "workflow.ReferralLapsed" and lapsed["actor"]["kind"] == "system"
    # a later round leaves it as it is
    LapsedReferrals(wf, clock=lambda: follow_up_by + timedelta(days=1)).round()
    assert f.get()["version"] == body["version"]


def _to_step_10(client, wf, place) -> Flow:
    slug, tokens = place
    f = Flow(client, tokens, new_complaint(wf, slug))
    for who, action, fields in [
        ("kasi", "verify-identity", {}),
        ("staf", "register", {}),
        ("camat", "dispose", {"unit": "pemerintahan", "instructions": "Tindak lanjuti."}),
        ("kasi", "clarify", {"explanation": "Sudah dicek."}),
        ("kasi", "request-letter", {}),
        ("staf", "draft-letter", {"perihal": "Tanggapan", "body": "Isi surat."}),
        ("sekcam", "review-letter", {"approved": True}),
        ("staf", "duplicate-letter", {}),
    ]:
        f.do(who, action, **fields)
    return f


def test_where_the_kecamatan_allows_it_the_sekcam_signs_an_camat(client, wf, place_an):
    f = _to_step_10(client, wf, place_an)
    assert "sign-letter" in f.get("sekcam")["allowed_actions"]
    inbox = client.get("/v1/inbox", params={"per_page": 200}, headers=f.tokens["sekcam"]).json()
    assert f.id in {uuid.UUID(i["id"]) for i in inbox}  # the letters waiting for their signature
    body = f.do("sekcam", "sign-letter")
    signed = body["history"][-1]
    assert signed["type"] == "workflow.LetterSigned"
    slug, _ = place_an
    assert signed["actor"]["user_id"] == f"sekcam.{slug}" and signed["actor"]["role"] == "sekcam"
    assert (signed["actor"]["acting_for"], signed["actor"]["acting_kind"]) == ("camat", "an")
    assert signed["actor"]["delegation_id"] is None


def test_elsewhere_the_sekcam_may_not_sign(client, wf, place):
    f = _to_step_10(client, wf, place)
    assert "sign-letter" not in f.get("sekcam")["allowed_actions"]
    assert f.do("sekcam", "sign-letter", expect=403)["code"] == "role_not_allowed"
    assert f.do("camat", "sign-letter")["history"][-1]["actor"]["acting_kind"] is None
