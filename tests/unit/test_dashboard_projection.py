"""The dashboard's complaint row and step times, from workflow events (pure: no database)."""

from __future__ import annotations

import uuid
from datetime import date, datetime, timedelta
from zoneinfo import ZoneInfo

from services.dashboard.domain.complaints import apply, handles
from shared.calendar import WorkingCalendar
from shared.contracts.intake import Complainant
from shared.contracts.workflow import (
    ClarificationGiven,
    ComplaintReceived,
    ComplaintReferred,
    ComplaintRegistered,
    ComplaintWithdrawn,
    DispositionIssued,
    DocumentsReceived,
    DocumentsRequested,
    IdentityVerified,
    LetterApproved,
    LetterDrafted,
    LetterReturned,
    LetterSigned,
    NotificationSent,
    ReferralAnswered,
    ReferralLapsed,
    ResponseSent,
)
from shared.events import Actor, envelope

WIB = ZoneInfo("Asia/Jakarta")
CAL = WorkingCalendar()


def at(day: int, hh: int, mm: int = 0, month: int = 2) -> datetime:
    return datetime(2026, month, day, hh, mm, tzinfo=WIB)


class Stream:
    """Feeds events of one complaint through ``apply``, as the projection does."""

    def __init__(
        self,
        received_at: datetime,
        *,
        channel: str = "web",
        entered_at: datetime | None = None,
        overrides: dict | None = None,
    ) -> None:
        self.id = uuid.uuid4()
        self.version = 0
        self.row = None
        self.steps: list[dict] = []
        self.position = 100
        self.emit(
            ComplaintReceived(
                complaint_id=self.id,
                submission_id=uuid.uuid4(),
                tracking_code=f"T{self.id.hex[:9]}",
                kecamatan="pegantenan",
                channel=channel,
                complainant=Complainant(name="Siti Aminah", nik="3528071505900001", phone="+6281234567890"),
                subject="Jalan desa rusak",
                description="Jalan rusak sejak Januari.",
                received_at=received_at,
                sop_version="pegantenan-1",
                sop_overrides=overrides,
                next_due_at=CAL.add_working_days(received_at, 3),
                deadline_at=CAL.add_working_days(received_at, 12),
                entered_at=entered_at,
            ),
            entered_at or received_at,
        )

    def emit(self, event, when: datetime):
        self.version += 1
        self.position += 1
        env = envelope(
            event,
            event_id=uuid.uuid4(),
            stream_id=f"complaint-{self.id}",
            version=self.version,
            kecamatan="pegantenan",
            occurred_at=when,
            actor=Actor.system("test"),
            correlation_id=uuid.uuid4(),
        )
        env = env.model_copy(update={"position": self.position})
        self.row, steps = apply(self.row, env, CAL)
        self.steps.extend(steps)
        return env

    def step(self, number: int, occurrence: int = 1) -> dict:
        return next(s for s in self.steps if s["step"] == number and s["occurrence"] == occurrence)


def done(step: int, next_step: int | None, due: datetime | None = None) -> dict:
    return {"step": step, "output": "-", "next_step": next_step, "next_due_at": due}


def test_step_1_and_2_are_timed_in_office_minutes_against_the_sop_standard():
    s = Stream(at(2, 9))
    first = s.step(1)
    assert (first["elapsed_minutes"], first["standard_minutes"], first["within_standard"], first["role"]) == (
        0,
        15,
        True,
        "staf",
    )
    assert s.row["status"] == "in_progress" and s.row["current_step"] == 2 and s.row["waiting_role"] == "kasi"
    assert s.row["received_date"].isoformat() == "2026-02-02"

    s.emit(IdentityVerified(**done(2, 3, CAL.add_office_minutes(at(2, 10), 15))), at(2, 10))
    second = s.step(2)
    assert second["elapsed_minutes"] == 60 and second["wall_minutes"] == 60
    assert second["standard_minutes"] == 3 * 480 and second["within_standard"] is True
    assert second["role"] == "kasi" and second["started_at"] == at(2, 9) and second["completed_at"] == at(2, 10)
    assert s.row["current_step"] == 3 and s.row["waiting_role"] == "staf" and s.row["step_started_at"] == at(2, 10)


def test_office_minutes_skip_the_night_and_the_weekend():
    s = Stream(at(6, 15))  # a Friday, one hour before closing
    s.emit(IdentityVerified(**done(2, 3)), at(9, 9))  # Monday 09:00
    assert s.step(2)["elapsed_minutes"] == 60 + 60
    assert s.step(2)["wall_minutes"] == (at(9, 9) - at(6, 15)) // timedelta(minutes=1)


def test_a_step_done_after_its_due_time_is_not_within_the_standard():
    s = Stream(at(2, 9))
    s.emit(IdentityVerified(**done(2, 3, CAL.add_office_minutes(at(2, 10), 15))), at(2, 10))
    s.emit(ComplaintRegistered(register_number=7, register_year=2026, **done(3, 4)), at(2, 10, 40))  # 40 min > 15
    assert s.step(3)["within_standard"] is False and s.step(3)["elapsed_minutes"] == 40
    assert (s.row["register_number"], s.row["register_year"]) == (7, 2026)


def test_waiting_for_documents_is_nobodys_step_time_and_step_2_runs_again():
    s = Stream(at(2, 9))
    s.emit(DocumentsRequested(message="Kirim foto KTP", close_after=at(16, 16)), at(2, 11))
    assert s.row["status"] == "awaiting_documents" and s.row["step_due_at"] is None
    assert s.step(2, 1)["elapsed_minutes"] == 120
    s.emit(DocumentsReceived(next_due_at=CAL.add_working_days(at(5, 9), 3)), at(5, 9))
    assert s.row["status"] == "in_progress" and s.row["step_started_at"] == at(5, 9)
    s.emit(IdentityVerified(**done(2, 3)), at(5, 9, 30))
    assert s.step(2, 2)["elapsed_minutes"] == 30 and s.step(2, 2)["started_at"] == at(5, 9)
    assert s.row["step_occurrences"]["2"] == 2


def test_a_returned_draft_counts_the_review_and_a_second_drafting():
    s = Stream(at(2, 9))
    s.emit(LetterDrafted(letter_version=1, perihal="p", body="b", **done(7, 8)), at(2, 10))
    s.emit(LetterReturned(letter_version=1, notes="Perbaiki", **done(8, 7)), at(2, 12))
    s.emit(LetterDrafted(letter_version=2, perihal="p", body="b", **done(7, 8)), at(2, 12, 10))
    s.emit(LetterApproved(letter_version=2, **done(8, 9)), at(2, 13))
    assert [(x["step"], x["occurrence"]) for x in s.steps[2:]] == [(8, 1), (7, 2), (8, 2)]
    assert s.step(8, 1)["elapsed_minutes"] == 120 and s.step(7, 2)["elapsed_minutes"] == 10
    assert s.row["current_step"] == 9


def test_the_register_fields_and_a_closure_within_the_twelve_days():
    s = Stream(at(2, 9))
    s.emit(DispositionIssued(unit="pemerintahan", instructions="Koordinasikan dengan desa.", **done(4, 5)), at(3, 9))
    s.emit(ClarificationGiven(explanation="Perbaikan bulan depan.", **done(5, 6)), at(3, 10))
    s.emit(LetterSigned(letter_version=1, letter_number="001/PENGADUAN/35.28.07/2026", **done(10, 11)), at(3, 11))
    s.emit(ResponseSent(channel="pos", receipt="Diterima", **done(12, None)), at(3, 12))
    r = s.row
    assert (r["disposition_unit"], r["disposition_instructions"], r["disposed_at"]) == (
        "pemerintahan",
        "Koordinasikan dengan desa.",
        at(3, 9),
    )
    assert (r["follow_up"], r["letter_number"], r["letter_signed_at"]) == (
        "Perbaikan bulan depan.",
        "001/PENGADUAN/35.28.07/2026",
        at(3, 11),
    )
    assert (r["status"], r["outcome"], r["sent_at"], r["sent_channel"], r["closed_at"]) == (
        "closed",
        "resolved",
        at(3, 12),
        "pos",
        at(3, 12),
    )
    assert r["within_sla"] is True and r["current_step"] is None and r["waiting_role"] is None
    assert s.step(12)["role"] == "staf"


def test_a_closure_after_the_deadline_is_outside_the_sla():
    s = Stream(at(2, 9))
    s.emit(ResponseSent(channel="pos", **done(12, None)), at(2, 9, month=3))  # a month later
    assert s.row["within_sla"] is False


def test_a_referral_written_before_referrals_were_followed_closes_at_once_and_is_step_4():
    """An old store replays: a ComplaintReferred without follow_up_by closed the complaint."""
    s = Stream(at(2, 9))
    s.emit(ComplaintReferred(agency="Dinas PUPR", agency_kind="opd", reason="Jalan kabupaten"), at(3, 9))
    assert (s.row["status"], s.row["outcome"], s.row["referred_to"], s.row["agency_kind"]) == (
        "closed",
        "referred",
        "Dinas PUPR",
        "opd",
    )
    assert (s.row["referral_state"], s.row["closed_at"], s.row["within_sla"]) == ("unfollowed", at(3, 9), True)
    assert s.row["current_step"] is None and s.row["waiting_role"] is None
    assert s.step(4)["role"] == "camat"


def referred(s: Stream, when: datetime, follow_up_by: datetime) -> None:
    s.emit(ComplaintRegistered(register_number=3, register_year=2026, **done(3, 4)), when - timedelta(hours=1))
    s.emit(
        ComplaintReferred(
            agency="Dinas PUPR",
            agency_kind="opd",
            reason="Jalan kabupaten",
            follow_up_by=follow_up_by,
            letter_number="001/PELIMPAHAN/35.28.07/2026",
            letter_sequence=1,
            letter_year=2026,
        ),
        when,
    )


def test_a_followed_referral_stays_open_as_referred_and_is_nobodys_overdue_step():
    s = Stream(at(2, 9))
    follow_up = CAL.add_working_days(at(3, 9), 14)
    referred(s, at(3, 9), follow_up)
    r = s.row
    # open, as the workflow's model has it: step 4 still, staff wait for the office's answer until follow_up_by
    assert (r["status"], r["outcome"], r["current_step"], r["waiting_role"]) == ("referred", None, 4, "staf")
    assert (r["step_started_at"], r["step_due_at"], r["closed_at"]) == (at(3, 9), follow_up, None)
    assert (r["referred_to"], r["referral_state"], r["referral_follow_up_by"]) == ("Dinas PUPR", "followed", follow_up)
    assert r["referral_letter_number"] == "001/PELIMPAHAN/35.28.07/2026" and r["referred_at"] == at(3, 9)
    assert r["within_sla"] is True  # judged at the referral: the kecamatan's part ended then
    assert s.step(4)["role"] == "camat" and s.step(4)["completed_at"] == at(3, 9)


def test_the_receiving_offices_answer_closes_the_referral_and_no_step_is_timed_for_the_wait():
    s = Stream(at(2, 9))
    referred(s, at(3, 9), CAL.add_working_days(at(3, 9), 14))
    steps = len(s.steps)
    s.emit(
        ReferralAnswered(
            answer="Perbaikan jalan dijadwalkan Maret.", answered_on=date(2026, 3, 2), reference="surat 1"
        ),
        at(3, 9, month=3),  # a month later: after the 12-day deadline
    )
    r = s.row
    assert (r["status"], r["outcome"], r["current_step"], r["waiting_role"]) == ("closed", "referred", None, None)
    assert (r["referral_state"], r["referral_answer"], r["referral_answered_on"], r["referral_reference"]) == (
        "answered",
        "Perbaikan jalan dijadwalkan Maret.",
        date(2026, 3, 2),
        "surat 1",
    )
    assert (r["closed_at"], r["referral_ended_at"], r["step_due_at"]) == (at(3, 9, month=3), at(3, 9, month=3), None)
    assert r["within_sla"] is True  # referred in time; the office's answer came later, it is not the kecamatan's
    assert len(s.steps) == steps  # the other office's time is nobody's step time here


def test_a_referral_without_an_answer_by_the_follow_up_time_lapses_and_closes():
    s = Stream(at(2, 9))
    follow_up = CAL.add_working_days(at(3, 9), 14)
    referred(s, at(3, 9), follow_up)
    s.emit(ReferralLapsed(reason="Tidak ada tanggapan."), follow_up + timedelta(minutes=5))
    r = s.row
    assert (r["status"], r["outcome"], r["referral_state"], r["referral_answer"]) == (
        "closed",
        "referred",
        "lapsed",
        None,
    )
    assert r["closed_at"] == r["referral_ended_at"] == follow_up + timedelta(minutes=5)
    assert r["referral_follow_up_by"] == follow_up and r["within_sla"] is True


def test_a_referral_withdrawn_while_followed_ends_it_and_a_late_referral_is_outside_the_sla():
    s = Stream(at(2, 9))
    referred(s, at(2, 9, month=3), CAL.add_working_days(at(2, 9, month=3), 14))  # after the 12 days
    assert s.row["within_sla"] is False
    s.emit(ComplaintWithdrawn(reason="Sudah diperbaiki", step=4), at(3, 9, month=3))
    assert (s.row["status"], s.row["outcome"], s.row["referral_state"]) == ("closed", "withdrawn", "ended")
    assert s.row["referral_ended_at"] == at(3, 9, month=3) and s.row["within_sla"] is False


def test_a_complaint_box_form_typed_in_later_times_step_1_honestly():
    s = Stream(at(2, 8, 30), channel="kotak", entered_at=at(2, 9, 15))
    assert s.step(1)["elapsed_minutes"] == 45 and s.step(1)["within_standard"] is False


def test_the_sop_the_complaint_recorded_decides_roles_and_standards():
    s = Stream(at(2, 9), overrides={"steps": {"8": {"role": "camat", "standard_time": 3}}})
    s.emit(LetterApproved(letter_version=1, **done(8, 9)), at(2, 10))
    assert s.step(8)["role"] == "camat" and s.step(8)["standard_minutes"] == 3 * 480


def test_notifications_and_replayed_events_change_nothing():
    s = Stream(at(2, 9))
    before = s.row
    assert not handles(NotificationSent.type)
    env = s.emit(
        NotificationSent(delivery_id=uuid.uuid4(), kind="acknowledgment", channel="sms", recipient="+62812****890"),
        at(2, 9, 1),
    )
    assert s.row is before
    s.emit(IdentityVerified(**done(2, 3)), at(2, 10))
    row = s.row
    again, steps = apply(row, env.model_copy(update={"type": IdentityVerified.type, "payload": done(2, 3)}), CAL)
    assert again is row and steps == []  # an older position: already applied


def test_after_the_response_answers_and_reopenings_are_charged_to_the_unit_whose_response_they_judged():
    """docs/adr/0020: the Camat reopens a keberatan for another unit; the first unit keeps its reopening and its
    complainant's answer, the new promise is the row's deadline, and the 12-day figure stays the first response's."""
    from shared.contracts.workflow import ComplaintReopened, FeedbackReceived, ObjectionAnswered, ObjectionRaised

    s = Stream(at(2, 9))
    s.emit(DispositionIssued(unit="pemerintahan", instructions="Tindak lanjuti.", **done(4, 5)), at(3, 9))
    s.emit(ResponseSent(channel="pos", receipt="Diterima", **done(12, None)), at(4, 9))
    assert s.row["within_sla"] is True
    s.emit(FeedbackReceived(closing=1, satisfied=False, rating=1, given_at=at(5, 9), consequence="reopened"), at(5, 9))
    new_deadline = CAL.add_working_days(at(5, 9), 12)
    s.emit(
        ComplaintReopened(
            cause="feedback", reopening=1, unit="pemerintahan", next_due_at=at(9, 9), deadline_at=new_deadline
        ),
        at(5, 9),
    )
    r = s.row
    assert (r["status"], r["current_step"], r["deadline_at"], r["reopened"]) == ("in_progress", 5, new_deadline, 1)
    assert (r["feedback_unit"], r["reopened_unit"]) == ("pemerintahan", "pemerintahan")
    s.emit(ResponseSent(channel="pos", receipt="Diterima", **done(12, None)), at(2, 9, month=4))  # late, but
    assert s.row["within_sla"] is True  # the first response's figure stays
    s.emit(ObjectionRaised(closing=2, due_at=at(9, 9, month=4)), at(3, 9, month=4))
    assert (s.row["status"], s.row["waiting_role"], s.row["objection_state"]) == ("objection", "camat", "open")
    s.emit(ObjectionAnswered(decision="reopened", answer="Ke unit trantib."), at(6, 9, month=4))
    s.emit(
        ComplaintReopened(
            cause="objection", reopening=2, unit="trantib", next_due_at=at(9, 9, month=4), deadline_at=new_deadline
        ),
        at(6, 9, month=4),
    )
    r = s.row
    assert (r["disposition_unit"], r["reopened_unit"], r["reopened"]) == ("trantib", "pemerintahan", 2)
