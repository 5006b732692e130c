"""The workflow's flows, handler by handler, on the in-memory unit of work: what the worker, the staff's API and
the scheduler do, in milliseconds (the same handlers on PostgreSQL: tests/integration/test_workflow_api.py,
test_register_numbers.py, test_overdue.py; the fake is held to the real one by tests/contracts/workflow_uow.py)."""

from __future__ import annotations

import os
import uuid
from collections.abc import Callable
from datetime import UTC, datetime, timedelta

import pytest

from services.workflow import handlers
from services.workflow.adapters.memory import InMemoryUnitOfWork, WorkflowMemory
from services.workflow.domain import model
from services.workflow.domain.events import stream_id
from shared.contracts.intake import Complainant, ComplainantReplied, ComplaintSubmitted, FeedbackGiven
from shared.contracts.letters import LetterDocumentIssued
from shared.contracts.notify import NotificationReport
from shared.contracts.tracking import new_tracking_code
from shared.eventstore import ConcurrencyError
from shared.tenancy import demo_kecamatan

MONDAY = datetime(2026, 3, 2, 2, 0, tzinfo=UTC)  # 09:00 WIB
PLACES = {k.slug: k for k in demo_kecamatan()}


class Workflow:
    """The workflow's handlers on one in-memory database: a message, a person's action, a look at the result."""

    def __init__(self) -> None:
        self.memory = WorkflowMemory()
        self.ctx = handlers.Context(uow=self.memory.uow, directory=PLACES, calendars=handlers.Calendars())

    def receive(self, kecamatan: str = "pegantenan", at: datetime = MONDAY) -> ComplaintSubmitted:
        """Intake's message of a new complaint, recorded as the worker records it."""
        message = ComplaintSubmitted(
            submission_id=uuid.uuid4(),
            complaint_id=uuid.uuid4(),
            tracking_code=new_tracking_code(os.urandom(7)),
            kecamatan=kecamatan,
            channel="web",
            complainant=Complainant(name="Siti Aminah", nik="3528071505900001", phone="+6281234567890", address="Desa"),
            subject="Jalan desa rusak",
            description="Jalan di Dusun Bunangka rusak sejak Januari.",
            received_at=at,
            correlation_id=uuid.uuid4(),
        )
        assert handlers.record_complaint(self.ctx, message)
        return message

    def act(
        self, cid, role: str, action: str, version: int, at: datetime = MONDAY, kecamatan: str = "pegantenan", **fields
    ) -> model.Complaint:
        """A person of ``role`` in ``kecamatan`` (a kasi of the unit pemerintahan) acts at ``version``."""
        return handlers.act(
            self.ctx,
            cid,
            action,
            fields,
            expected_version=version,
            user_id=f"{role}.{kecamatan}",
            role=role,
            unit="pemerintahan" if role == "kasi" else None,
            kecamatan=kecamatan,
            at=at,
            correlation_id=uuid.uuid4(),
        )

    def events(self, cid) -> list:
        return self.memory.store.read_stream(stream_id(cid))

    def types(self, cid) -> list[str]:
        return [e.type.removeprefix("workflow.") for e in self.events(cid)]

    def row(self, cid) -> dict:
        return self.memory.complaints[cid]

    def letter_issued(self, cid, message_id: uuid.UUID | None = None) -> bool:
        """The letters worker's report that the signed letter is stored."""
        state = model.replay(self.events(cid))
        document_id = message_id or uuid.uuid4()
        return handlers.record_letter_document(
            self.ctx,
            LetterDocumentIssued(
                message_id=document_id,
                complaint_id=cid,
                kecamatan=state.kecamatan,
                document_id=document_id,
                letter_version=state.approved_letter_version,
                letter_number=state.letter_number,
                sha256="a" * 64,
                size=1000,
                verify_url=f"https://pengaduan.example/v1/letters/verify/{document_id}",
            ),
        )


def walk_to(wf: Workflow, cid, step: int, kecamatan: str = "pegantenan") -> model.Complaint:
    """The staff do the steps from the complaint's current one up to ``step``, each by their role."""
    walk = [
        (2, "kasi", "verify-identity", {"notes": "KTP cocok"}),
        (3, "staf", "register", {}),
        (4, "camat", "dispose", {"unit": "pemerintahan", "instructions": "Koordinasikan dengan desa."}),
        (5, "kasi", "clarify", {"explanation": "Perbaikan dijadwalkan bulan depan."}),
        (6, "kasi", "request-letter", {}),
        (7, "staf", "draft-letter", {"perihal": "Tanggapan pengaduan", "body": "Dengan hormat, ..."}),
        (8, "sekcam", "review-letter", {"approved": True, "notes": "Paraf"}),
        (9, "staf", "duplicate-letter", {}),
        (10, "camat", "sign-letter", {}),
        (11, "staf", "archive-letter", {}),
    ]
    state = model.replay(wf.events(cid))
    for number, role, action, fields in walk:
        if state.current_step == number < step:
            if action == "archive-letter":  # waits for the signed letter
                wf.letter_issued(cid)
                state = model.replay(wf.events(cid))
            state = wf.act(cid, role, action, state.revision, kecamatan=kecamatan, **fields)
    assert state.current_step == step
    return state


def test_a_complaint_goes_through_the_twelve_steps_each_by_its_role_and_closes_resolved():
    wf = Workflow()
    cid = wf.receive().complaint_id
    row = wf.row(cid)
    assert (row["status"], row["current_step"], row["waiting_role"], row["version"]) == ("in_progress", 2, "kasi", 1)
    assert (row["subject"], row["channel"], row["received_at"]) == ("Jalan desa rusak", "web", MONDAY)

    state = model.replay(wf.events(cid))
    for step, role, action, fields, next_role in [
        (2, "kasi", "verify-identity", {"notes": "KTP cocok"}, "staf"),
        (3, "staf", "register", {}, "camat"),
        (4, "camat", "dispose", {"unit": "pemerintahan", "instructions": "Koordinasikan dengan desa."}, "kasi"),
        (5, "kasi", "clarify", {"explanation": "Perbaikan dijadwalkan bulan depan."}, "kasi"),
        (6, "kasi", "request-letter", {}, "staf"),
        (7, "staf", "draft-letter", {"perihal": "Tanggapan pengaduan", "body": "Dengan hormat, ..."}, "sekcam"),
        (8, "sekcam", "review-letter", {"approved": True, "notes": "Paraf"}, "staf"),
        (9, "staf", "duplicate-letter", {}, "camat"),
        (10, "camat", "sign-letter", {}, "staf"),
        (11, "staf", "archive-letter", {}, "staf"),
    ]:
        wrong = "sekcam" if role != "sekcam" else "staf"
        with pytest.raises(model.RoleNotAllowed):
            wf.act(cid, wrong, action, state.revision, **fields)
        if action == "archive-letter":  # the signed letter is still being made
            with pytest.raises(model.LetterNotReady):
                wf.act(cid, role, action, state.revision)
            assert wf.letter_issued(cid)
            state = model.replay(wf.events(cid))
        state = wf.act(cid, role, action, state.revision, **fields)
        row = wf.row(cid)
        assert (row["current_step"], row["waiting_role"], row["version"]) == (step + 1, next_role, state.revision)
    state = wf.act(cid, "staf", "send-response", state.revision, channel="pos", receipt="Diterima oleh pengadu")

    assert wf.types(cid) == [
        "ComplaintReceived",
        "IdentityVerified",
        "ComplaintRegistered",
        "DispositionIssued",
        "ClarificationGiven",
        "LetterRequested",
        "LetterDrafted",
        "LetterApproved",
        "LetterDuplicated",
        "LetterSigned",
        "LetterIssued",
        "LetterArchived",
        "ResponseSent",
    ]
    assert [e.version for e in wf.events(cid)] == list(range(1, 14))
    assert [d.number for d in state.steps_done] == list(range(1, 13))
    row = wf.row(cid)
    assert row | {"status": "closed", "outcome": "resolved", "current_step": None, "waiting_role": None} == row
    assert (row["register_number"], row["register_year"]) == (1, 2026)
    assert row["letter_number"] == "000.8.3.4/1/432.407/2026"  # Pegantenan's unit code, the default classification
    assert row["unit"] == "pemerintahan" and row["version"] == 13
    by = {e.type.removeprefix("workflow."): e.actor for e in wf.events(cid)}
    assert (by["ComplaintReceived"].user_id, by["LetterIssued"].user_id) == ("intake", "letters")
    assert (by["LetterSigned"].user_id, by["LetterSigned"].role) == ("camat.pegantenan", "camat")
    with pytest.raises(model.ComplaintClosed):
        wf.act(cid, "staf", "withdraw", state.revision)


def test_an_electronic_response_closes_on_the_providers_confirmation_once():
    wf = Workflow()
    cid = wf.receive().complaint_id
    state = walk_to(wf, cid, 12)
    state = wf.act(cid, "staf", "send-response", state.revision)  # channel: otomatis
    assert wf.types(cid)[-1] == "ResponseDispatched" and wf.row(cid)["status"] == "in_progress"
    with pytest.raises(model.AlreadyDispatched):
        wf.act(cid, "staf", "send-response", state.revision)
    report = NotificationReport(
        message_id=uuid.uuid4(),
        delivery_id=uuid.uuid4(),
        complaint_id=cid,
        kecamatan="pegantenan",
        source_event_id=wf.events(cid)[-1].event_id,
        kind="response_letter",
        channel="sms",
        recipient="+62812****890",
        state="sent",
        provider="zenziva",
        provider_message_id="z-1",
        at=MONDAY,
    )
    assert handlers.record_notification(wf.ctx, report)
    assert not handlers.record_notification(wf.ctx, report)  # the report again: nothing more
    assert wf.types(cid)[-2:] == ["NotificationSent", "ResponseSent"]
    assert (wf.row(cid)["status"], wf.row(cid)["outcome"]) == ("closed", "resolved")


def test_a_redelivered_message_has_its_effect_once():
    wf = Workflow()
    message = wf.receive()
    cid = message.complaint_id
    assert not handlers.record_complaint(wf.ctx, message)
    assert not handlers.record_complaint(wf.ctx, message.model_copy(update={"subject": "Lain"}))  # same submission
    assert wf.types(cid) == ["ComplaintReceived"] and wf.row(cid)["subject"] == "Jalan desa rusak"

    reply = ComplainantReplied(
        message_id=uuid.uuid4(),
        complaint_id=cid,
        kecamatan="pegantenan",
        channel="sms",
        sender="+6281234567890",
        text="Ini foto KTP saya",
        received_at=MONDAY,
    )
    assert handlers.record_reply(wf.ctx, reply)
    assert not handlers.record_reply(wf.ctx, reply)
    assert wf.types(cid) == ["ComplaintReceived", "ComplainantReplied"]

    state = walk_to(wf, cid, 11)
    document = uuid.uuid4()
    assert wf.letter_issued(cid, document)
    assert not wf.letter_issued(cid, document)
    assert wf.types(cid).count("LetterIssued") == 1
    assert wf.row(cid)["letter_number"] == state.letter_number


def test_a_stale_expected_version_is_refused_and_changes_nothing():
    wf = Workflow()
    cid = wf.receive().complaint_id
    wf.act(cid, "kasi", "verify-identity", 1)
    with pytest.raises(handlers.StaleVersion) as info:
        wf.act(cid, "staf", "register", 1)
    assert (info.value.expected, info.value.actual) == (1, 2)
    assert wf.types(cid) == ["ComplaintReceived", "IdentityVerified"]
    assert wf.memory.counters == {}  # no number was taken
    assert wf.act(cid, "staf", "register", 2).register_number == 1


class RivalBeforeAppend(InMemoryUnitOfWork):
    """A unit of work in which, just before it appends, another person acts (``rival``, in a unit of its own)."""

    def __init__(self, memory: WorkflowMemory, rival: Callable[[], object]) -> None:
        super().__init__(memory)
        self.rival = rival

    def __enter__(self) -> RivalBeforeAppend:
        super().__enter__()
        append = self.events.append

        def after_the_rival(*args) -> None:
            self.rival()
            append(*args)

        self.events.append = after_the_rival  # type: ignore[method-assign]
        return self


def test_a_person_who_loses_a_race_gets_a_conflict_and_their_number_goes_to_the_next():
    """The staf registers while the kasi marks the complaint a duplicate: the later append is refused, and the
    register number it took is given back, so the next complaint gets it."""
    wf = Workflow()
    first, second = wf.receive().complaint_id, wf.receive().complaint_id
    for cid in (first, second):
        wf.act(cid, "kasi", "verify-identity", 1)

    def kasi() -> None:
        wf.act(first, "kasi", "mark-duplicate", 2, duplicate_of="ABCD-EFGH-JK")

    racing = handlers.Context(
        uow=lambda: RivalBeforeAppend(wf.memory, kasi), directory=PLACES, calendars=handlers.Calendars()
    )
    with pytest.raises(ConcurrencyError):
        handlers.act(
            racing,
            first,
            "register",
            {},
            expected_version=2,
            user_id="staf.pegantenan",
            role="staf",
            unit=None,
            kecamatan="pegantenan",
            at=MONDAY,
            correlation_id=uuid.uuid4(),
        )
    assert wf.types(first)[-1] == "MarkedDuplicate" and wf.row(first)["outcome"] == "duplicate"
    assert wf.act(second, "staf", "register", 2).register_number == 1


def test_register_and_letter_numbers_are_gapless_per_kecamatan_and_per_office_year():
    wf = Workflow()
    pegantenan = [wf.receive().complaint_id for _ in range(3)]
    galis = [wf.receive("galis").complaint_id for _ in range(2)]
    for cid in pegantenan:
        wf.act(cid, "kasi", "verify-identity", 1)
    for cid in galis:
        wf.act(cid, "kasi", "verify-identity", 1, kecamatan="galis")
    with pytest.raises(model.RoleNotAllowed):  # refused before a number is taken
        wf.act(pegantenan[0], "kasi", "register", 2)
    assert [wf.act(cid, "staf", "register", 2).register_number for cid in pegantenan] == [1, 2, 3]
    assert [wf.act(cid, "staf", "register", 2, kecamatan="galis").register_number for cid in galis] == [1, 2]

    # 31 December 2026, 17:30 UTC is already 1 January 2027 in the office (WIB): that year's first number
    new_year = datetime(2026, 12, 31, 17, 30, tzinfo=UTC)
    late = wf.receive(at=new_year).complaint_id
    wf.act(late, "kasi", "verify-identity", 1, at=new_year)
    state = wf.act(late, "staf", "register", 2, at=new_year)
    assert (state.register_number, state.register_year) == (1, 2027)

    signed = [walk_to(wf, cid, 11).letter_number for cid in (pegantenan[2], pegantenan[0])]
    assert signed == ["000.8.3.4/1/432.407/2026", "000.8.3.4/2/432.407/2026"]
    # Galis has no unit code of its own in the demo: its Kemendagri code stands in
    assert walk_to(wf, galis[1], 11, kecamatan="galis").letter_number == "000.8.3.4/1/35.28.03/2026"
    assert wf.memory.counters == {
        ("register", "pegantenan", 2026): 3,
        ("register", "galis", 2026): 2,
        ("register", "pegantenan", 2027): 1,
        ("surat_keluar", "pegantenan", 2026): 2,
        ("surat_keluar", "galis", 2026): 1,
    }


def test_an_unanswered_documents_request_is_closed_incomplete_by_the_scheduler():
    wf = Workflow()
    cid = wf.receive().complaint_id
    wf.act(cid, "kasi", "request-documents", 1, message="Mohon kirim foto KTP", close_after_working_days=5)
    row = wf.row(cid)
    assert (row["status"], row["waiting_role"], row["step_due_at"]) == ("awaiting_documents", "kasi", None)
    assert handlers.close_expired_document_requests(wf.ctx, MONDAY + timedelta(days=2)) == 0
    assert handlers.close_expired_document_requests(wf.ctx, MONDAY + timedelta(days=20)) == 1
    assert handlers.close_expired_document_requests(wf.ctx, MONDAY + timedelta(days=21)) == 0
    last = wf.events(cid)[-1]
    assert (last.type, last.actor.user_id) == ("workflow.ClosedIncomplete", "scheduler")
    row = wf.row(cid)
    assert (row["status"], row["outcome"], row["waiting_role"], row["documents_close_after"]) == (
        "closed",
        "incomplete",
        None,
        None,
    )


def test_documents_received_in_time_keep_the_complaint_going():
    wf = Workflow()
    cid = wf.receive().complaint_id
    wf.act(cid, "kasi", "request-documents", 1, message="Mohon kirim foto KTP", close_after_working_days=5)
    wf.act(cid, "kasi", "receive-documents", 2, at=MONDAY + timedelta(days=1))
    assert handlers.close_expired_document_requests(wf.ctx, MONDAY + timedelta(days=20)) == 0
    assert (wf.row(cid)["status"], wf.row(cid)["current_step"]) == ("in_progress", 2)


def test_an_overdue_step_is_flagged_once_per_step_occurrence():
    wf = Workflow()
    cid = wf.receive().complaint_id
    on_time = wf.receive(at=MONDAY + timedelta(days=20)).complaint_id
    later = MONDAY + timedelta(days=10)  # step 2 takes 3 working days
    assert handlers.flag_overdue_steps(wf.ctx, later) == 1
    assert handlers.flag_overdue_steps(wf.ctx, later) == 0
    assert wf.types(cid) == ["ComplaintReceived", "StepOverdue"] and wf.row(cid)["overdue_flagged"]
    assert wf.types(on_time) == ["ComplaintReceived"]
    overdue = wf.events(cid)[-1]
    assert (overdue.payload["step"], overdue.payload["role"], overdue.actor.user_id) == (2, "kasi", "scheduler")

    state = wf.act(cid, "kasi", "verify-identity", 2, at=later)  # the next step has its own clock
    assert state.revision == 3 and not wf.row(cid)["overdue_flagged"]
    assert handlers.flag_overdue_steps(wf.ctx, later + timedelta(minutes=10)) == 0  # step 3: 15 office minutes
    assert handlers.flag_overdue_steps(wf.ctx, later + timedelta(minutes=20)) == 1
    assert wf.types(cid) == ["ComplaintReceived", "StepOverdue", "IdentityVerified", "StepOverdue"]
    assert wf.events(cid)[-1].payload["step"] == 3 and wf.types(on_time) == ["ComplaintReceived"]


def test_staff_see_and_touch_only_complaints_of_their_own_kecamatan():
    wf = Workflow()
    cid = wf.receive().complaint_id
    with pytest.raises(handlers.UnknownComplaint):
        wf.act(cid, "kasi", "verify-identity", 1, kecamatan="galis")
    with pytest.raises(handlers.UnknownComplaint):
        wf.act(uuid.uuid4(), "kasi", "verify-identity", 1)
    assert wf.types(cid) == ["ComplaintReceived"]


def test_a_closed_complaints_personal_data_is_erased_once_and_an_open_ones_not_at_all():
    """docs/adr/0017: the key's destruction (recorded in memory) and PersonalDataErased in one unit; refused while
    the complaint is open, and a second time; the reason is required."""
    wf = Workflow()
    cid = wf.receive().complaint_id
    with pytest.raises(handlers.ComplaintStillOpen):
        handlers.erase_personal_data(wf.ctx, cid, by="admin", reason="permintaan pengadu", at=MONDAY)
    state = wf.act(cid, "staf", "withdraw", 1, reason="Sudah selesai sendiri")
    assert state.status == "closed" and wf.memory.erased == {}
    with pytest.raises(handlers.ReasonRequired):
        handlers.erase_personal_data(wf.ctx, cid, by="admin", reason="   ", at=MONDAY)
    request_id = handlers.erase_personal_data(wf.ctx, cid, by="admin", reason=" permintaan  pengadu ", at=MONDAY)
    assert wf.types(cid)[-1] == "PersonalDataErased" and wf.memory.erased == {cid: ("admin", "permintaan pengadu")}
    erased = wf.events(cid)[-1]
    assert erased.event_id == request_id and erased.payload["reason"] == "permintaan pengadu"
    assert (erased.actor.user_id, erased.actor.role) == ("admin", "admin")
    with pytest.raises(handlers.AlreadyErased):
        handlers.erase_personal_data(wf.ctx, cid, by="admin", reason="lagi", at=MONDAY)
    assert model.replay(wf.events(cid)).personal_data_erased


# -- after the closing: the complainant's answer, reopening, keberatan (issue #18 item 1; docs/adr/0020) --------
def closed(wf: Workflow) -> tuple[uuid.UUID, model.Complaint]:
    cid = wf.receive().complaint_id
    state = walk_to(wf, cid, 12)
    state = wf.act(cid, "staf", "send-response", state.revision, channel="pos", receipt="Diterima oleh pengadu")
    assert (state.status, state.outcome, state.closings) == ("closed", "resolved", 1)
    return cid, state


def answer(wf: Workflow, cid, closing: int, satisfied: bool, given_at: datetime, **more) -> bool:
    return handlers.record_feedback(
        wf.ctx,
        FeedbackGiven(
            message_id=more.pop("message_id", uuid.uuid4()),
            complaint_id=cid,
            kecamatan="pegantenan",
            closing=closing,
            satisfied=satisfied,
            rating=4 if satisfied else 1,
            comment=more.pop("comment", None),
            given_at=given_at,
        ),
    )


def test_satisfied_is_recorded_once_per_closing_and_changes_nothing_else():
    wf = Workflow()
    cid, state = closed(wf)
    message_id = uuid.uuid4()
    assert answer(wf, cid, 1, True, state.closed_at, message_id=message_id)
    assert not answer(wf, cid, 1, True, state.closed_at, message_id=message_id)  # a redelivery
    assert answer(wf, cid, 1, False, state.closed_at)  # a second answer to the same closing: handled, not recorded
    assert wf.types(cid)[-1] == "FeedbackReceived" and wf.types(cid).count("FeedbackReceived") == 1
    after = model.replay(wf.events(cid))
    assert (after.status, after.outcome, after.feedback_closing) == ("closed", "resolved", 1)


def test_not_resolved_within_the_window_reopens_at_step_five_for_the_disposed_unit_and_keeps_the_letter():
    wf = Workflow()
    cid, state = closed(wf)
    first_letter = state.letter_number
    assert answer(wf, cid, 1, False, state.closed_at + timedelta(days=3), comment="Jalan belum diperbaiki.")
    assert wf.types(cid)[-2:] == ["FeedbackReceived", "ComplaintReopened"]
    reopened = model.replay(wf.events(cid))
    assert (reopened.status, reopened.current_step, reopened.unit, reopened.reopenings) == (
        "in_progress", 5, "pemerintahan", 1
    )  # fmt: skip
    assert reopened.letter_number is None and reopened.closed_at is None and reopened.step_due_at is not None
    with pytest.raises(model.NoObjection):
        wf.act(cid, "camat", "answer-objection", reopened.revision, decision="upheld", answer="Tetap.")
    row = wf.row(cid)
    assert (row["status"], row["current_step"], row["waiting_role"], row["unit"]) == (
        "in_progress", 5, "kasi", "pemerintahan"
    )  # fmt: skip
    # walked again from step 5: a new letter, a new number; the first one stays in the history
    state = walk_to(wf, cid, 12)
    assert state.letter_number and state.letter_number != first_letter
    state = wf.act(cid, "staf", "send-response", state.revision, channel="langsung", receipt="Diterima")
    assert (state.status, state.closings) == ("closed", 2)
    # a second "not resolved": a keberatan for the Camat, however soon
    assert answer(wf, cid, 2, False, state.closed_at + timedelta(hours=1), comment="Masih rusak.")
    objection = model.replay(wf.events(cid))
    assert (objection.status, objection.waiting_role, objection.objection) == ("objection", "camat", "open")
    assert wf.row(cid)["waiting_role"] == "camat"
    with pytest.raises(model.AwaitingObjection):
        wf.act(cid, "staf", "withdraw", objection.revision)
    with pytest.raises(model.RoleNotAllowed):
        wf.act(cid, "sekcam", "answer-objection", objection.revision, decision="upheld", answer="x")
    upheld = wf.act(
        cid, "camat", "answer-objection", objection.revision, decision="upheld", answer="Perbaikan sudah terjadwal."
    )
    assert (upheld.status, upheld.outcome, upheld.closings, upheld.objection) == ("closed", "resolved", 3, "answered")
    # after the Camat's answer, "not resolved" is recorded and nothing more
    assert answer(wf, cid, 3, False, upheld.closed_at)
    assert wf.types(cid)[-1] == "FeedbackReceived" and model.replay(wf.events(cid)).status == "closed"


def test_not_resolved_after_the_window_is_a_keberatan_and_the_camat_may_reopen_it_for_another_unit():
    wf = Workflow()
    cid, state = closed(wf)
    late = state.closed_at + timedelta(days=30)  # well past 10 working days
    assert answer(wf, cid, 1, False, late, comment="Tidak ada perbaikan.")
    assert wf.types(cid)[-2:] == ["FeedbackReceived", "ObjectionRaised"]
    objection = model.replay(wf.events(cid))
    reopened = wf.act(
        cid,
        "camat",
        "answer-objection",
        objection.revision,
        decision="reopened",
        answer="Tangani ulang.",
        unit="trantib",
    )
    assert wf.types(cid)[-2:] == ["ObjectionAnswered", "ComplaintReopened"]
    assert (reopened.status, reopened.current_step, reopened.unit, reopened.reopenings) == (
        "in_progress",
        5,
        "trantib",
        1,
    )
