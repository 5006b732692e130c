"""The public tracking of a referred complaint (issue #15 item 5), over intake's API on real PostgreSQL: the
tracking projection keeps a followed referral open as 'referred' (no SOP step runs), says to whom and until when;
once the receiving office answered, the answer is shown to the holder of the code masked of personal data; once the
follow-up time passed without one, that none came. A complaint submitted through intake, carried to the workflow
as its worker does, walked with the workflow's handlers."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
from fastapi.testclient import TestClient

from services.intake.adapters.tracking import TrackingProjection
from services.intake.bootstrap import bootstrap as intake_bootstrap
from services.intake.config import IntakeSettings
from services.intake.entrypoints.api import create_app
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from services.workflow.scheduler import LapsedReferrals
from shared.tanggal import format_tanggal
from tests.support.complaints import outbox_message, valid_body

WIB = ZoneInfo("Asia/Jakarta")
ANSWER = (
    "Kepada Ibu Siti Aminah (HP 0812-3456-7890, NIK 3528071505900001): jalan di Dusun Bunangka diperbaiki Maret. "
    "Hubungi Pak Rahmat di rahmat@contoh.example.id."
)


@pytest.fixture(scope="module")
def intake(settings):
    container = intake_bootstrap(IntakeSettings(**settings.model_dump()))
    yield container
    container.engine.dispose()


@pytest.fixture(scope="module")
def client(intake):
    with TestClient(create_app(intake)) as c:
        yield c


@pytest.fixture(scope="module")
def wf(settings):
    container = workflow_bootstrap(settings)
    yield container
    container.engine.dispose()


class Referred:
    """A complaint submitted to intake, recorded by the workflow, verified, registered and referred."""

    def __init__(self, client, wf, engine, **refer) -> None:
        self.client, self.wf = client, wf
        self.code = client.post("/v1/complaints", json=valid_body()).json()["tracking_code"]
        message = outbox_message(engine, self.code)
        assert handlers.record_complaint(wf, message)
        self.id, self.version = message.complaint_id, 1
        self.do("kasi", "verify-identity")
        self.do("staf", "register")
        self.state = self.do(
            "camat", "refer", agency="Dinas PUPR Kabupaten Pamekasan", agency_kind="opd", reason="Jalan", **refer
        )

    def do(self, role: str, action: str, **fields):
        state = handlers.act(
            self.wf,
            self.id,
            action,
            fields,
            expected_version=self.version,
            user_id=f"{role}.pegantenan",
            role=role,
            unit="pemerintahan" if role == "kasi" else None,
            kecamatan="pegantenan",
            at=datetime.now(UTC),
            correlation_id=uuid.uuid4(),
        )
        self.version = state.revision
        return state

    def tracked(self, engine) -> dict:
        projection = TrackingProjection(engine, self.wf.store)
        while projection.round().more:
            pass
        r = self.client.get(f"/v1/track/{self.code}")
        assert r.status_code == 200, r.text
        return r.json()


def test_a_followed_referral_is_open_and_says_to_whom_and_until_when(client, wf, engine):
    c = Referred(client, wf, engine)
    body = c.tracked(engine)
    until = format_tanggal(c.state.step_due_at.astimezone(WIB).date())
    assert (body["status"], body["outcome"], body["current_step"]) == ("referred", None, None)
    assert body["status_label"] == f"Dilimpahkan ke Dinas PUPR Kabupaten Pamekasan; kecamatan memantau sampai {until}"
    assert body["referral"] == {
        "agency": "Dinas PUPR Kabupaten Pamekasan",
        "state": "followed",
        "follow_up_by": body["referral"]["follow_up_by"],
        "answer": None,
        "answered_on": None,
    }
    assert datetime.fromisoformat(body["referral"]["follow_up_by"]) == c.state.step_due_at
    assert [s["number"] for s in body["steps"]] == [1, 2, 3] and body["letter_available"] is False


def test_the_offices_answer_is_shown_to_the_code_holder_masked_of_personal_data(client, wf, engine):
    c = Referred(client, wf, engine)
    today = datetime.now(WIB).date()
    c.do("staf", "record-referral-answer", answer=ANSWER, answered_on=today.isoformat(), reference="surat 100/23")
    body = c.tracked(engine)
    assert (body["status"], body["outcome"], body["status_label"]) == ("closed", "referred", "Selesai")
    masked = (
        "Kepada Ibu [disembunyikan] (HP [disembunyikan], NIK [disembunyikan]): jalan di Dusun Bunangka diperbaiki "
        "Maret. Hubungi Pak Rahmat di [disembunyikan]."
    )
    assert body["outcome_label"] == f"Instansi penerima telah menanggapi: {masked}"
    assert (body["referral"]["state"], body["referral"]["answer"], body["referral"]["answered_on"]) == (
        "answered",
        masked,
        today.isoformat(),
    )
    for personal in ("Siti", "Aminah", "3456", "3528071505900001", "rahmat@", "100/23"):
        assert personal not in str(body), personal


def test_no_answer_by_the_follow_up_time_says_none_came(client, wf, engine):
    c = Referred(client, wf, engine, follow_up_working_days=1)
    follow_up_by = c.state.step_due_at
    LapsedReferrals(wf, clock=lambda: follow_up_by + timedelta(minutes=1)).round()
    body = c.tracked(engine)
    until = format_tanggal(follow_up_by.astimezone(WIB).date())
    assert (body["status"], body["outcome"], body["referral"]["state"]) == ("closed", "referred", "lapsed")
    assert body["outcome_label"] == (
        f"Dinas PUPR Kabupaten Pamekasan belum menanggapi sampai {until}; kecamatan tidak lagi memantau. "
        "Tanyakan tindak lanjutnya langsung kepada instansi tersebut"
    )
