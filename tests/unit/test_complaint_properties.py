"""Property-based: random commands from random roles against the complaint aggregate."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from hypothesis import given, settings
from hypothesis import strategies as st

from services.workflow.domain import commands as c
from services.workflow.domain import model
from shared.calendar import WorkingCalendar
from shared.contracts.intake import Complainant, ComplaintSubmitted, FeedbackGiven
from shared.contracts.letters import LetterDocumentIssued
from shared.contracts.workflow import LetterReturned

CAL = WorkingCalendar()
START = datetime(2026, 3, 2, 1, 30, tzinfo=UTC)
FIELDS = {
    "request-documents": {"message": "Kirim KTP"},
    "reject-identity": {"reason": "tidak cocok"},
    "register": {"register_number": 1, "register_year": 2026},
    "dispose": {"unit": "pemerintahan", "instructions": "x"},
    "redispose": {"unit": "trantib", "instructions": "x", "reason": "unit keliru"},
    "refer": {"agency": "Dinas PUPR", "reason": "bukan tupoksi"},
    "record-referral-answer": {"answer": "Sudah ditangani Dinas PUPR."},
    "clarify": {"explanation": "x"},
    "draft-letter": {"perihal": "Tanggapan", "body": "isi"},
    "sign-letter": {"letter_number": "001/PENGADUAN/35.28.07/2026", "letter_sequence": 1, "letter_year": 2026},
    "mark-duplicate": {"duplicate_of": "7KQ2-M9XD-4T"},
    "categorize": {"category": "infrastruktur"},
    "answer-objection": {"decision": "reopened", "answer": "Unit menangani ulang."},
    "send-response": {"channel": "pos", "receipt": "Diterima oleh pengadu"},
}
ROLES = ["staf", "kasi", "sekcam", "camat"]
UNITS = [None, "pemerintahan", "trantib"]

moves = st.lists(
    st.tuples(
        st.sampled_from([*sorted(c.STAFF_COMMANDS), "letters-report", "referral-lapses", "feedback"]),
        st.sampled_from(ROLES),
        st.sampled_from(UNITS),
        st.booleans(),
    ),
    max_size=60,
)


def issued(state: model.Complaint) -> LetterDocumentIssued:
    document_id = uuid.uuid4()
    return LetterDocumentIssued(
        message_id=document_id,
        complaint_id=state.complaint_id or uuid.uuid4(),
        kecamatan="pegantenan",
        document_id=document_id,
        letter_version=state.approved_letter_version or 1,
        letter_number=state.letter_number or "x",
        sha256="0" * 64,
        size=1,
        verify_url="http://x/v1/letters/verify/1",
    )


def received() -> tuple[model.Complaint, list]:
    s = ComplaintSubmitted(
        submission_id=uuid.uuid4(),
        complaint_id=uuid.uuid4(),
        tracking_code="7KQ2-M9XD-4T",
        kecamatan="pegantenan",
        channel="web",
        complainant=Complainant(name="Siti"),
        subject="Jalan rusak",
        description="Jalan desa rusak.",
        received_at=START,
        correlation_id=uuid.uuid4(),
    )
    events = model.decide(model.Complaint(), c.RecordComplaint(submission=s), CAL)
    log = [(e, START, "intake") for e in events]
    state = model.Complaint()
    for e, at, by in log:
        state = model.evolve(state, e, at, by)
    return state, log


@settings(max_examples=300, deadline=None)
@given(moves)
def test_random_commands_never_break_the_sop(sequence):
    state, log = received()
    at = START
    for action, role, unit, approved in sequence:
        at += timedelta(minutes=37)
        if action == "letters-report":  # the letters worker reports the signed document
            try:
                events = model.decide(state, c.RecordLetterIssued(issued=issued(state)), CAL)
            except model.DomainError:
                continue
            assert state.letter_number and state.current_step == 11
            for e in events:
                state = model.evolve(state, e, at, "letters")
                log.append((e, at, "letters"))
            continue
        if action == "referral-lapses":  # the scheduler, long after the follow-up time
            try:
                events = model.decide(state, c.ExpireReferral(at=at + timedelta(days=90)), CAL)
            except model.DomainError:
                continue
            assert state.status == model.REFERRED
            for e in events:
                state = model.evolve(state, e, at, "scheduler")
                log.append((e, at, "scheduler"))
            assert state.status == "closed" and state.outcome == "referred"
            continue
        if action == "feedback":  # the complainant answers the closing (approved: satisfied), days later
            before = state
            given = at + timedelta(days=2 if approved else 30)
            answer = FeedbackGiven(
                message_id=uuid.uuid4(),
                complaint_id=state.complaint_id or uuid.uuid4(),
                kecamatan="pegantenan",
                closing=state.closings,
                satisfied=approved,
                rating=4 if approved else 1,
                given_at=given,
            )
            command = c.RecordFeedback(feedback=answer, at=given, window_working_days=10, objection_working_days=5)
            events = model.decide(state, command, CAL)
            for e in events:
                state = model.evolve(state, e, given, "intake")
                log.append((e, given, "intake"))
            at = given
            if not events:  # once per closing, and only after a closing with a response
                assert not (before.status == "closed" and before.outcome == "resolved") or (
                    before.feedback_closing == before.closings
                )
                continue
            assert before.outcome == "resolved" and state.feedback_closing == before.closings
            if approved or before.objection is not None:  # recorded; nothing more happens
                assert state.status == "closed" and state.outcome == "resolved"
            else:  # not resolved: reopened at step 5 the first time within the window, else a keberatan
                window = CAL.add_working_days(before.closed_at, 10)
                reopens = before.reopenings == 0 and given <= window
                assert state.status == ("in_progress" if reopens else model.OBJECTION)
                if reopens:
                    assert state.current_step == 5 and state.reopenings == 1 and state.letter_number is None
                else:
                    assert state.waiting_role == "camat" and state.step_due_at is not None
            continue
        fields = dict(FIELDS.get(action, {}))
        if action == "review-letter":
            fields["approved"] = approved
        command = c.STAFF_COMMANDS[action](actor=c.Actor(user_id=f"{role}.x", role=role, unit=unit), at=at, **fields)
        before = state
        try:
            events = model.decide(state, command, CAL)
        except model.DomainError:
            continue
        # accepted: it was this role's turn at this step, on an open complaint; a referral only takes its answer
        assert (
            before.status in model.OPEN
            or (before.status == model.REFERRED and action in model.WHILE_REFERRED)
            or (before.status == model.OBJECTION and action == "answer-objection" and role == "camat")
        )
        if action == "record-referral-answer":
            assert before.status == model.REFERRED
        if action == "redispose":  # step 4's role sends the disposition elsewhere while step 5 waits
            assert before.current_step == 5 and role == before.definition.step(4).role
        elif action == "categorize":  # at step 3 or 4, by that step's role, without moving the complaint on
            assert (
                before.current_step in model.CATEGORIZING_STEPS
                and role == before.definition.step(before.current_step).role
            )
            assert [type(e).__name__ for e in events] == ["CategorySet"] and before.category != "infrastruktur"
        elif action == "answer-objection":  # by the Camat, on a keberatan: reopened at step 5
            assert before.status == model.OBJECTION and role == "camat"
            assert [type(e).__name__ for e in events] == ["ObjectionAnswered", "ComplaintReopened"]
        elif action in model.ACTION_STEP:
            step = model.ACTION_STEP[action]
            assert before.current_step == step, "a step was skipped or repeated"
            assert role == before.definition.step(step).role, "a role acted out of turn"
            if step in model.UNIT_BOUND_STEPS and before.unit:
                assert unit == before.unit
        else:  # at any step; the register's role marks a duplicate as it registers (docs/adr/0021)
            assert role in model.ANY_STEP_ROLES[action] or (
                action == "mark-duplicate"
                and role == before.definition.step(3).role
                and before.current_step in model.DUPLICATE_REGISTER_STEPS
            )
        for e in events:
            state = model.evolve(state, e, at, command.actor.user_id)
            log.append((e, at, command.actor.user_id))
            if isinstance(e, LetterReturned):
                assert state.current_step == 7
        # the state stays valid
        assert state.status in ("in_progress", "awaiting_documents", "referred", "closed", model.OBJECTION)
        assert (state.outcome is None) == (state.status != "closed")
        if state.status == "in_progress":
            assert (
                2 <= state.current_step <= 12
                and state.step_due_at is not None
                and state.step_due_at > at - timedelta(days=1)
            )
        if state.status == model.REFERRED:
            assert state.current_step == 4 and state.step_due_at is not None and state.waiting_role == "staf"
        done = [s.number for s in state.steps_done]
        assert done == list(range(1, len(done) + 1)), f"steps done out of order: {done}"
        if state.register_number is not None:
            assert 3 in done
    # rebuilding from the events gives the live state
    rebuilt = model.Complaint()
    for e, at_, by in log:
        rebuilt = model.evolve(rebuilt, e, at_, by)
    assert rebuilt == state
    assert state.version == len(log)


def test_a_closed_complaint_accepts_nothing_more():
    state, _ = received()
    actor = c.Actor(user_id="staf.x", role="staf")
    for e in model.decide(state, c.Withdraw(actor=actor, at=START), CAL):
        state = model.evolve(state, e, START, "staf.x")
    for name, cls in c.STAFF_COMMANDS.items():
        for role in ROLES:
            fields = dict(FIELDS.get(name, {}))
            if name == "review-letter":
                fields["approved"] = True
            try:
                model.decide(state, cls(actor=c.Actor(user_id="u", role=role), at=START, **fields), CAL)
            except model.ComplaintClosed:
                continue
            except model.RoleNotAllowed:
                continue
            raise AssertionError(f"{name} by {role} was accepted on a closed complaint")


def test_the_step_clock_follows_the_sop_standard_times():
    state, _ = received()
    # received Monday 2026-03-02 08:30 WIB: step 2 has 3 working days -> Thursday 16:00 WIB
    assert state.step_due_at.astimezone(UTC) == datetime(2026, 3, 5, 9, 0, tzinfo=UTC)
    at = datetime(2026, 3, 3, 8, 55, tzinfo=UTC)  # 15:55 WIB
    for e in model.decide(state, c.VerifyIdentity(actor=c.Actor(user_id="k", role="kasi"), at=at), CAL):
        state = model.evolve(state, e, at, "k")
    # step 3 (15 office minutes) started at 15:55 WIB: due next working day 08:10 WIB
    assert state.step_due_at.astimezone(UTC) == datetime(2026, 3, 4, 1, 10, tzinfo=UTC)
    # the 12-working-day promise from Monday 2 March 2026 (Nyepi and Idul Fitri with cuti bersama fall inside)
    # 3-6, 9-13, 16, 17 March are 11 working days; 18-24 March are Nyepi, Idul Fitri and cuti bersama: the 12th is 25 March
    assert state.deadline_at.astimezone(UTC) == datetime(2026, 3, 25, 9, 0, tzinfo=UTC)
