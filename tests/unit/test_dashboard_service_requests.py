"""What Open311's reads show of a complaint, from workflow events (services/dashboard/domain/service_requests.py;
pure: no database): the status, step and outcome the workflow's own model gives, ``updated_at`` moved by every
event of the complaint, the category read once from the subject, nothing personal."""

from __future__ import annotations

import uuid
from datetime import UTC, date, datetime, timedelta

import pytest

from services.dashboard.domain.service_requests import TYPES, apply
from services.workflow.domain import model as workflow_model
from shared.contracts.intake import Complainant
from shared.contracts.workflow import (
    CategorySet,
    ComplaintReceived,
    ComplaintReferred,
    ComplaintRegistered,
    ComplaintWithdrawn,
    DocumentsReceived,
    DocumentsRequested,
    IdentityVerified,
    LetterIssued,
    NotificationSent,
    ReferralAnswered,
    ReferralLapsed,
    ResponseSent,
    StepOverdue,
)
from shared.events import Actor, envelope

T0 = datetime(2026, 2, 2, 2, 0, tzinfo=UTC)


class Stream:
    """One complaint's events through ``apply`` (as the projection does) and the workflow's ``evolve``."""

    def __init__(
        self, subject: str = "Infrastruktur: Jalan desa rusak", channel: str = "open311", category: str | None = None
    ) -> None:
        self.id = uuid.uuid4()
        self.version, self.position = 0, 500
        self.row = None
        self.state = workflow_model.Complaint()
        self.emit(
            ComplaintReceived(
                complaint_id=self.id,
                submission_id=uuid.uuid4(),
                tracking_code="7KQ2-M9XD-4T",
                kecamatan="pegantenan",
                channel=channel,
                complainant=Complainant(name="Siti Aminah", nik="3528071505900001", phone="+6281234567890"),
                subject=subject,
                category=category,
                description="Jalan rusak sejak Januari.",
                received_at=T0,
                sop_version="pegantenan-1",
                next_due_at=T0 + timedelta(days=1),
                deadline_at=T0 + timedelta(days=16),
            ),
            T0,
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
        self.row = apply(self.row, env)
        self.state = workflow_model.evolve(self.state, event, when, "test")
        return env

    def as_the_workflow_has_it(self) -> tuple:
        """status, outcome and step as the workflow's read model stores them (handlers.save_read_model)."""
        s = self.state
        return s.status, s.outcome, s.current_step if s.status != "closed" else None

    def as_projected(self) -> tuple:
        return self.row["status"], self.row["outcome"], self.row["current_step"]


def done(step: int, next_step: int | None) -> dict:
    return {"step": step, "output": "-", "next_step": next_step, "next_due_at": None}


def notification(kind: str = "receipt") -> NotificationSent:
    return NotificationSent(delivery_id=uuid.uuid4(), kind=kind, channel="sms", recipient="+62812****890")


def test_a_received_complaint_is_open_at_step_2_with_its_category_and_nothing_personal():
    s = Stream()
    assert s.row == {
        "complaint_id": s.id,
        "tracking_code": "7KQ2-M9XD-4T",
        "kecamatan": "pegantenan",
        "service_code": "infrastruktur",
        "received_at": T0,
        "status": "in_progress",
        "outcome": None,
        "current_step": 2,
        "deadline_at": T0 + timedelta(days=16),
        "referred_to": None,
        "sop_version": "pegantenan-1",
        "updated_at": T0,
        "position": 501,
        "referral_state": None,
        "follow_up_by": None,
        "referral_answered_on": None,
    }
    assert s.as_projected() == s.as_the_workflow_has_it()
    assert Stream(subject="Siti: petugas meminta biaya").row["service_code"] == "pelayanan-lainnya"


def test_every_event_of_the_complaint_moves_updated_at_as_the_workflow_read_model_does():
    s = Stream()
    for minutes, event in enumerate([notification(), StepOverdue(step=2, role="kasi", due_at=T0)], start=1):
        before = s.row
        s.emit(event, T0 + timedelta(minutes=minutes))
        assert s.row["updated_at"] == T0 + timedelta(minutes=minutes)
        assert {k: v for k, v in s.row.items() if k not in ("updated_at", "position")} == {
            k: v for k, v in before.items() if k not in ("updated_at", "position")
        }


def test_status_step_and_outcome_follow_the_workflows_model():
    s = Stream()
    steps = [
        (
            DocumentsRequested(message="Kirim foto KTP", close_after=T0 + timedelta(days=5)),
            ("awaiting_documents", None, 2),
        ),
        (DocumentsReceived(next_due_at=T0 + timedelta(days=6)), ("in_progress", None, 2)),
        (IdentityVerified(**done(2, 3)), ("in_progress", None, 3)),
        (ComplaintRegistered(**done(3, 4), register_number=7, register_year=2026), ("in_progress", None, 4)),
        (
            ComplaintReferred(agency="Dinas PUPR", agency_kind="opd", reason="Jalan kabupaten"),
            ("closed", "referred", None),
        ),
        (notification("referral"), ("closed", "referred", None)),
    ]
    for hours, (event, expected) in enumerate(steps, start=1):
        s.emit(event, T0 + timedelta(hours=hours))
        assert s.as_projected() == s.as_the_workflow_has_it() == expected, event.type
    assert s.row["referred_to"] == "Dinas PUPR" and s.row["updated_at"] == T0 + timedelta(hours=len(steps))


def followed_referral(s: Stream) -> datetime:
    s.emit(IdentityVerified(**done(2, 3)), T0 + timedelta(hours=1))
    s.emit(ComplaintRegistered(**done(3, 4), register_number=7, register_year=2026), T0 + timedelta(hours=2))
    follow_up = T0 + timedelta(days=20)
    s.emit(
        ComplaintReferred(agency="Dinas PUPR", agency_kind="opd", reason="Jalan kabupaten", follow_up_by=follow_up),
        T0 + timedelta(hours=3),
    )
    return follow_up


def test_a_followed_referral_is_open_as_referred_at_step_4_until_the_office_answers():
    s = Stream()
    follow_up = followed_referral(s)
    assert s.as_projected() == ("referred", None, 4)  # as the workflow's model: open, step 4, waiting on staf
    assert (s.row["referred_to"], s.row["referral_state"], s.row["follow_up_by"]) == (
        "Dinas PUPR",
        "followed",
        follow_up,
    )
    s.emit(notification("referral"), T0 + timedelta(hours=4))
    assert s.as_projected() == ("referred", None, 4)
    s.emit(
        ReferralAnswered(answer="Siti Aminah: jalan diperbaiki Maret.", answered_on=date(2026, 2, 20)),
        T0 + timedelta(days=18),
    )
    assert s.as_projected() == ("closed", "referred", None)
    assert (s.row["referral_state"], s.row["referral_answered_on"]) == ("answered", date(2026, 2, 20))
    assert "Siti" not in str(s.row)  # the answer's text is not kept: Open311's reads are public
    assert s.row["updated_at"] == T0 + timedelta(days=18)


def test_a_followed_referral_lapses_or_ends_with_another_closure():
    s = Stream()
    followed_referral(s)
    s.emit(ReferralLapsed(reason="Tidak ada tanggapan."), T0 + timedelta(days=21))
    assert s.as_projected() == ("closed", "referred", None) and s.row["referral_state"] == "lapsed"
    t = Stream()
    followed_referral(t)
    t.emit(ComplaintWithdrawn(reason="Sudah selesai sendiri", step=4), T0 + timedelta(days=2))
    assert t.as_projected() == ("closed", "withdrawn", None) and t.row["referral_state"] == "ended"
    assert t.row["referred_to"] == "Dinas PUPR"


def test_a_referral_written_before_referrals_were_followed_still_closes_at_once():
    s = Stream()
    s.emit(ComplaintReferred(agency="Dinas PUPR", agency_kind="opd", reason="Jalan kabupaten"), T0 + timedelta(hours=1))
    assert s.as_projected() == s.as_the_workflow_has_it() == ("closed", "referred", None)
    assert (s.row["referral_state"], s.row["follow_up_by"]) == ("unfollowed", None)


@pytest.mark.parametrize(
    "closing,outcome",
    [
        (ComplaintWithdrawn(reason="Sudah selesai sendiri", step=2), "withdrawn"),
        (ResponseSent(**done(12, None), channel="sms", receipt="SMS 123"), "resolved"),
    ],
)
def test_a_closure_ends_the_step(closing, outcome):
    s = Stream()
    s.emit(closing, T0 + timedelta(days=1))
    assert s.as_projected() == s.as_the_workflow_has_it() == ("closed", outcome, None)
    assert s.row["referred_to"] is None


def test_an_event_applied_twice_changes_nothing_and_other_streams_are_not_complaints():
    s = Stream()
    env = s.emit(
        LetterIssued(
            document_id=uuid.uuid4(),
            letter_version=1,
            letter_number="001/X",
            sha256="a" * 64,
            size=10,
            verify_url="http://x/v1/letters/verify/1",
        ),
        T0 + timedelta(hours=1),
    )
    row = s.row
    assert apply(row, env) is row  # its position is not after the row's: a redone batch
    later = env.model_copy(update={"stream_id": "bench-1", "position": env.position + 10})
    assert apply(None, later) is None


def test_every_type_of_the_workflows_contract_is_read():
    assert {
        "workflow.ComplaintReceived",
        "workflow.NotificationDelivered",
        "workflow.StepOverdue",
        "workflow.ComplainantReplied",
        "workflow.LetterIssued",
        "workflow.ResponseSent",
    } <= TYPES
    assert all(t.startswith("workflow.") for t in TYPES)


def test_the_service_is_the_complaints_category_and_follows_its_correction():
    """Issue #18 item 2: the category picked (or the service posted), then set at step 3 or 4; an Open311 request
    filed before categories were a field is read from its subject; any other without one is the catch-all, whatever
    its subject begins with."""
    picked = Stream(subject="Jalan desa rusak", channel="web", category="kesehatan")
    assert picked.row["service_code"] == "kesehatan"
    picked.emit(CategorySet(category="infrastruktur", previous="kesehatan", step=3), T0 + timedelta(hours=1))
    assert picked.row["service_code"] == "infrastruktur"
    legacy = Stream(subject="Perizinan: izin usaha tertunda")  # an Open311 request of before
    assert legacy.row["service_code"] == "perizinan"
    typed = Stream(subject="Perizinan: izin usaha tertunda", channel="web")  # a citizen's own words
    assert typed.row["service_code"] == "pelayanan-lainnya"
    # read by the names of then, not by today's list (where ketertiban-umum is "Ketenteraman dan ketertiban")
    assert Stream(subject="Ketertiban umum: pengeras suara").row["service_code"] == "ketertiban-umum"
    assert Stream(subject="Ketenteraman dan ketertiban: pengeras suara").row["service_code"] == "pelayanan-lainnya"


def test_a_reopening_and_a_keberatan_open_the_request_again_as_the_workflow_has_it():
    """Issue #18 item 1 (docs/adr/0020): open again while handled anew or while the Camat answers a keberatan."""
    from shared.contracts.workflow import ComplaintReopened, FeedbackReceived, ObjectionAnswered, ObjectionRaised

    s = Stream()
    later = T0 + timedelta(days=20)
    steps = [
        (ResponseSent(channel="langsung", receipt="Diterima", **done(12, None)), ("closed", "resolved", None)),
        (
            FeedbackReceived(closing=1, satisfied=False, rating=1, given_at=later, consequence="reopened"),
            ("closed", "resolved", None),
        ),
        (
            ComplaintReopened(cause="feedback", reopening=1, unit="pemerintahan", next_due_at=later, deadline_at=later),
            ("in_progress", None, 5),
        ),
        (ResponseSent(channel="langsung", receipt="Diterima", **done(12, None)), ("closed", "resolved", None)),
        (ObjectionRaised(closing=2, due_at=later), ("objection", None, None)),
        (ObjectionAnswered(decision="upheld", answer="Tetap."), ("closed", "resolved", None)),
    ]
    for hours, (event, expected) in enumerate(steps, start=1):
        s.emit(event, later + timedelta(hours=hours))
        assert s.as_projected() == s.as_the_workflow_has_it() == expected, event.type
