"""The complaint aggregate as given-when-then: pure functions, no fixtures."""

from __future__ import annotations

import dataclasses
import uuid
from datetime import UTC, datetime

import pytest

from services.workflow.domain import commands as c
from services.workflow.domain import model
from services.workflow.domain.commands import RecordComplaint
from services.workflow.domain.events import ComplaintReceived
from shared.calendar import WorkingCalendar
from shared.contracts import sop
from shared.contracts.intake import Complainant, ComplaintSubmitted

RECEIVED = datetime(2026, 3, 2, 8, 30, tzinfo=UTC)
CAL = WorkingCalendar()


def submission() -> ComplaintSubmitted:
    return ComplaintSubmitted(
        submission_id=uuid.uuid4(),
        complaint_id=uuid.uuid4(),
        tracking_code="7KQ2-M9XD-4T",
        kecamatan="pegantenan",
        channel="web",
        complainant=Complainant(name="Siti", nik="3528071505900001", phone="+6281234567890"),
        subject="Jalan rusak",
        description="Jalan desa rusak sejak Januari.",
        received_at=RECEIVED,
        correlation_id=uuid.uuid4(),
    )


def record(s: ComplaintSubmitted) -> RecordComplaint:
    return RecordComplaint(submission=s)


def test_recording_a_new_complaint_completes_step_one_and_waits_on_step_two():
    s = submission()
    events = model.decide(model.Complaint(), record(s), CAL)
    assert len(events) == 1 and isinstance(events[0], ComplaintReceived)
    assert events[0].output == "Form Pengaduan" and events[0].sop_version == sop.DEFAULT.version
    state = model.replay(events)
    assert state.current_step == 2 and state.status == "in_progress" and state.version == 1
    assert state.steps_done == (model.StepDone(1, RECEIVED),)
    assert sop.DEFAULT.step(state.current_step).role == "kasi"


def test_a_complaint_is_received_only_once():
    s = submission()
    state = model.replay(model.decide(model.Complaint(), record(s), CAL))
    with pytest.raises(model.AlreadyReceived):
        model.decide(state, record(s), CAL)


def test_the_default_sop_is_the_pegantenan_table():
    steps = sop.DEFAULT.steps
    assert [s.number for s in steps] == list(range(1, 13))
    assert [s.role for s in steps] == [
        "staf",
        "kasi",
        "staf",
        "camat",
        "kasi",
        "kasi",
        "staf",
        "sekcam",
        "staf",
        "camat",
        "staf",
        "staf",
    ]
    days = sum(s.standard_time for s in steps if s.unit == "working_days")
    minutes = sum(s.standard_time for s in steps if s.unit == "minutes")
    assert (days, minutes) == (11, 105)  # 11 working days and 7 x 15 minutes, inside the 12-day promise
    assert sop.DEFAULT.completion_working_days == 12


def test_a_newer_intake_message_with_an_extra_field_is_still_understood():
    """Contracts tolerate fields a newer writer adds (rolling deploys): nothing becomes a dead letter."""
    message = submission().model_dump(mode="json")
    message["channel_details"] = {"added": "by a newer intake"}
    message["complainant"]["preferred_language"] = "mad"
    parsed = ComplaintSubmitted.model_validate(message)
    assert parsed.tracking_code == "7KQ2-M9XD-4T" and parsed.complainant.name == "Siti"


def test_a_referral_written_before_referrals_were_followed_still_closes_on_replay():
    """Stores hold ComplaintReferred events without follow_up_by: they closed the complaint then, and a replay
    (a rebuilt projection, a restarted worker) must not reopen them as waiting for an answer."""
    from shared.contracts.workflow import ComplaintReferred, ReferralAnswered

    state = model.Complaint()
    for event in model.decide(state, record(submission()), WorkingCalendar()):
        state = model.evolve(state, event)
    old = model.evolve(state, ComplaintReferred(agency="Dinas PUPR", agency_kind="opd", reason="x"))
    assert (old.status, old.outcome, old.waiting_role) == ("closed", "referred", None)
    followed = model.evolve(
        state,
        ComplaintReferred(
            agency="Dinas PUPR", agency_kind="opd", reason="x", follow_up_by=datetime(2026, 3, 20, tzinfo=UTC)
        ),
    )
    assert (followed.status, followed.outcome, followed.waiting_role) == ("referred", None, "staf")
    answered = model.evolve(followed, ReferralAnswered(answer="Sudah diperbaiki."))
    assert (answered.status, answered.outcome, answered.step_due_at) == ("closed", "referred", None)


def test_refusals_name_roles_and_actions_as_people_say_them_never_their_codes():
    state = model.Complaint()
    for event in model.decide(state, record(submission()), WorkingCalendar()):
        state = model.evolve(state, event)
    at = datetime(2026, 3, 2, 3, tzinfo=UTC)
    with pytest.raises(model.RoleNotAllowed) as wrong_role:
        model.decide(state, c.VerifyIdentity(actor=c.Actor(user_id="s", role="staf"), at=at), WorkingCalendar())
    assert wrong_role.value.message == (
        "Langkah 2 (Melakukan Verifikasi Identitas Pengadu) dilakukan oleh Kepala Seksi/Kepala Subbagian, bukan Staf."
    )
    staf_marks = c.MarkDuplicate(actor=c.Actor(user_id="s", role="staf"), at=at, duplicate_of="X")
    assert model.decide(state, staf_marks, None)[0].duplicate_of == "X"  # as it registers (issue #18 item 3)
    with pytest.raises(model.RoleNotAllowed) as any_step:
        model.decide(dataclasses.replace(state, current_step=4), staf_marks, None)
    assert (
        any_step.value.message == "Staf tidak dapat menandai pengaduan sebagai duplikat setelah langkah 3 (registrasi)"
    )
    assert set(model.ACTION_NAMES) == set(model.ANY_STEP_ROLES)  # every such action has its words
