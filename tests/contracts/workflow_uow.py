"""The contract every implementation of the workflow's unit of work must pass (in memory and PostgreSQL), so the
fake the unit tests run on cannot drift from the real one.

Subclass ``WorkflowUnitOfWorkContract`` and provide two fixtures: ``workflow``, a ``handlers.Context`` on the
implementation, and ``place``, a kecamatan of its own that its directory serves (fresh per test: its counters
start at 1). Every test uses fresh ids and dates no other test uses (years before 2021), so it runs beside
whatever else a shared database holds.
"""

from __future__ import annotations

import os
import threading
import uuid
from dataclasses import replace
from datetime import UTC, datetime, timedelta

import pytest

from services.workflow import handlers
from services.workflow.domain import model
from services.workflow.domain.events import stream_id
from shared.contracts.intake import Complainant, ComplaintSubmitted
from shared.contracts.tracking import new_tracking_code
from shared.eventstore import ConcurrencyError, DuplicateEventError
from shared.tenancy import Kecamatan
from tests.contracts.eventstore import make_event

# a Monday long ago: the complaints of these tests are due (and overdue) before anyone else's
LONG_AGO = datetime(2020, 3, 2, 2, 0, tzinfo=UTC)  # 09:00 WIB


def new_place() -> Kecamatan:
    """A kecamatan of the test's own (its counters start at 1)."""
    suffix = uuid.uuid4().hex[:8]
    return Kecamatan(f"uji-{suffix}", f"96.{suffix}", "Uji", "pamekasan", "Kabupaten Pamekasan", {})


def intake_message(place: Kecamatan, received_at: datetime = LONG_AGO) -> ComplaintSubmitted:
    return ComplaintSubmitted(
        submission_id=uuid.uuid4(),
        complaint_id=uuid.uuid4(),
        tracking_code=new_tracking_code(os.urandom(7)),
        kecamatan=place.slug,
        channel="web",
        complainant=Complainant(name="Siti Aminah", nik="3528071505900001", phone="+6281234567890", address="Desa"),
        subject="Jalan desa rusak",
        description="Jalan di Dusun Bunangka rusak sejak Januari.",
        received_at=received_at,
        correlation_id=uuid.uuid4(),
    )


def in_progress(place: Kecamatan, due: datetime | None, **fields) -> model.Complaint:
    """A complaint's state (at step 2 unless ``fields`` say otherwise), as the read model is written from it."""
    state = model.Complaint(
        complaint_id=uuid.uuid4(),
        kecamatan=place.slug,
        tracking_code=new_tracking_code(os.urandom(7)),
        status="in_progress",
        current_step=2,
        step_due_at=due,
        version=1,
        revision=1,
    )
    return replace(state, **fields)


FIRST = {"status": "in_progress", "current_step": 2, "waiting_role": "kasi", "version": 1, "subject": "Jalan rusak"}
AFTER_REGISTER = {"current_step": 4, "waiting_role": "camat", "register_number": 7, "version": 3}


def add(uow, state: model.Complaint) -> None:
    uow.complaints.add(state, LONG_AGO, subject="Jalan rusak", channel="web", received_at=LONG_AGO)


class WorkflowUnitOfWorkContract:
    # -- the event streams ---------------------------------------------------------------------------------
    def test_appends_are_read_back_in_the_unit_and_kept_by_commit(self, workflow):
        stream = f"test-{uuid.uuid4()}"
        with workflow.uow() as uow:
            uow.events.append(stream, 0, [make_event(stream, 1), make_event(stream, 2)])
            assert [e.version for e in uow.events.read(stream)] == [1, 2]
            uow.commit()
        with workflow.uow() as uow:
            uow.events.append(stream, 2, [make_event(stream, 3)])
            uow.commit()
        with workflow.uow() as uow:
            events = uow.events.read(stream)
        assert [e.version for e in events] == [1, 2, 3]
        assert all(e.position is not None for e in events)

    def test_a_stale_expected_version_is_a_conflict(self, workflow):
        stream = f"test-{uuid.uuid4()}"
        with workflow.uow() as uow:
            uow.events.append(stream, 0, [make_event(stream, 1)])
            uow.commit()
        with workflow.uow() as uow, pytest.raises(ConcurrencyError) as info:
            uow.events.append(stream, 0, [make_event(stream, 1)])
        assert (info.value.expected, info.value.actual) == (0, 1)

    def test_a_writer_that_read_before_another_committed_is_refused(self, workflow):
        stream = f"test-{uuid.uuid4()}"
        with workflow.uow() as uow:
            uow.events.append(stream, 0, [make_event(stream, 1)])
            uow.commit()
        with workflow.uow() as slow:
            assert len(slow.events.read(stream)) == 1
            with workflow.uow() as fast:
                fast.events.append(stream, 1, [make_event(stream, 2, n="fast")])
                fast.commit()
            with pytest.raises(ConcurrencyError):
                slow.events.append(stream, 1, [make_event(stream, 2, n="slow")])
        with workflow.uow() as uow:
            assert [e.payload["n"] for e in uow.events.read(stream)] == [1, "fast"]

    def test_an_event_id_already_stored_is_refused(self, workflow):
        stream = f"test-{uuid.uuid4()}"
        first = make_event(stream, 1)
        with workflow.uow() as uow:
            uow.events.append(stream, 0, [first])
            uow.commit()
        with workflow.uow() as uow, pytest.raises(DuplicateEventError):
            uow.events.append(stream, 1, [first.model_copy(update={"version": 2})])

    def test_concurrent_units_appending_to_one_stream_exactly_one_wins(self, workflow):
        stream = f"test-{uuid.uuid4()}"
        with workflow.uow() as uow:
            uow.events.append(stream, 0, [make_event(stream, 1)])
            uow.commit()
        results: list[str] = []
        barrier = threading.Barrier(6)

        def writer(i: int) -> None:
            barrier.wait()
            try:
                with workflow.uow() as uow:
                    uow.events.append(stream, 1, [make_event(stream, 2, n=f"w{i}")])
                    uow.commit()
                results.append("ok")
            except ConcurrencyError:
                results.append("conflict")

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert sorted(results) == ["conflict"] * 5 + ["ok"]
        with workflow.uow() as uow:
            assert [e.version for e in uow.events.read(stream)] == [1, 2]

    # -- rollback ----------------------------------------------------------------------------------------------
    def test_a_unit_that_fails_keeps_nothing(self, workflow, place):
        stream, message_id = f"test-{uuid.uuid4()}", uuid.uuid4()
        state = in_progress(place, LONG_AGO)

        def handler() -> None:
            with workflow.uow() as uow:
                assert uow.inbox.claim("test.consumer", message_id)
                assert uow.counters.next("register", place.slug, 2020) == 1
                add(uow, state)
                uow.events.append(stream, 0, [make_event(stream, 1)])
                raise RuntimeError("the handler failed")

        with pytest.raises(RuntimeError):
            handler()
        with workflow.uow() as uow:  # leaving without commit is the same
            assert uow.counters.next("register", place.slug, 2020) == 1
        with workflow.uow() as uow:
            assert uow.inbox.claim("test.consumer", message_id)  # the claim was released
            assert uow.counters.next("register", place.slug, 2020) == 1  # the number was given back
            assert uow.complaints.get(state.complaint_id) is None
            assert uow.events.read(stream) == []

    # -- the consumer inbox --------------------------------------------------------------------------------
    def test_a_message_is_claimed_once_per_consumer(self, workflow):
        message_id = uuid.uuid4()
        with workflow.uow() as uow:
            assert uow.inbox.claim("test.consumer", message_id)
            assert not uow.inbox.claim("test.consumer", message_id)
            uow.commit()
        with workflow.uow() as uow:
            assert not uow.inbox.claim("test.consumer", message_id)
            assert uow.inbox.claim("test.other", message_id)

    # -- the counters ------------------------------------------------------------------------------------------
    def test_counters_run_per_kind_kecamatan_and_year(self, workflow, place):
        other = new_place()
        with workflow.uow() as uow:
            taken = [uow.counters.next("register", place.slug, 2020) for _ in range(3)]
            assert taken == [1, 2, 3]
            assert uow.counters.next("letter", place.slug, 2020) == 1
            assert uow.counters.next("register", place.slug, 2019) == 1
            assert uow.counters.next("register", other.slug, 2020) == 1
            uow.commit()
        with workflow.uow() as uow:
            assert uow.counters.next("register", place.slug, 2020) == 4

    def test_the_register_of_outgoing_letters_starts_after_the_counters_it_took_over_from(self, workflow, place):
        """An existing deployment's letter and referral counters (before issue #16) go on in "surat_keluar": its
        first number of the year comes after the higher of the two, so no number given is given again."""
        with workflow.uow() as uow:
            for _ in range(4):
                uow.counters.next("letter", place.slug, 2020)
            for _ in range(6):
                uow.counters.next("referral", place.slug, 2020)
            uow.counters.next("letter", place.slug, 2019)
            uow.commit()
        with workflow.uow() as uow:
            assert uow.counters.next("surat_keluar", place.slug, 2020) == 7
            # the year without old numbers of either starts at 1; the one with a letter only, after it
            assert uow.counters.next("surat_keluar", place.slug, 2021) == 1
            assert uow.counters.next("surat_keluar", place.slug, 2019) == 2
        with workflow.uow() as uow:  # the numbers above were given back: the first is 7 again, then it counts on
            assert [uow.counters.next("surat_keluar", place.slug, 2020) for _ in range(2)] == [7, 8]
            uow.commit()
        with workflow.uow() as uow:
            uow.counters.next("referral", place.slug, 2020)  # an old counter moving on no longer matters
            assert uow.counters.next("surat_keluar", place.slug, 2020) == 9

    def test_numbers_taken_by_concurrent_units_are_gapless_and_unique(self, workflow, place):
        """Each unit takes a number and commits, or rolls back (every third): the numbers kept are 1..n."""
        kept: list[int] = []
        failures: list[BaseException] = []
        barrier = threading.Barrier(6)

        def writer(i: int) -> None:
            barrier.wait()
            try:
                for j in range(9):
                    with workflow.uow() as uow:
                        number = uow.counters.next("register", place.slug, 2020)
                        if j % 3 == 2:
                            continue  # rolled back: the number goes to the next one
                        uow.commit()
                    kept.append(number)
            except BaseException as exc:  # reported by the assertion below
                failures.append(exc)

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(6)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        assert sorted(kept) == list(range(1, 6 * 6 + 1))

    # -- the read model ------------------------------------------------------------------------------------------
    def test_the_read_model_row_is_added_once_and_follows_the_state(self, workflow, place):
        state = in_progress(place, LONG_AGO + timedelta(days=3))
        with workflow.uow() as uow:
            add(uow, state)
            add(uow, replace(state, status="closed"))  # it exists: nothing
            uow.commit()
        later = LONG_AGO + timedelta(days=1)
        with workflow.uow() as uow:
            row = uow.complaints.get(state.complaint_id)
            assert row | FIRST == row and row["tracking_code"] == state.tracking_code and row["kecamatan"] == place.slug
            registered = replace(state, current_step=4, register_number=7, register_year=2020, revision=3, version=3)
            uow.complaints.update(registered, later)
            assert uow.complaints.get(state.complaint_id)["current_step"] == 4  # the unit reads its own writes
            uow.complaints.update(in_progress(place, LONG_AGO), later)  # no row: nothing
            uow.commit()
        with workflow.uow() as uow:
            row = uow.complaints.get(state.complaint_id)
            assert row | AFTER_REGISTER == row and row["updated_at"] == later and row["received_at"] == LONG_AGO

    def test_the_scheduler_finds_overdue_steps_and_expired_requests_earliest_first(self, workflow, place):
        start = datetime(1990, 1, 1, tzinfo=UTC)
        due = [in_progress(place, start + timedelta(days=d)) for d in (2, 0, 1)]
        flagged = in_progress(place, start, overdue_flagged=True)
        awaiting = [
            in_progress(place, None, status="awaiting_documents", documents_close_after=start + timedelta(days=d))
            for d in (1, 0, 5)
        ]
        with workflow.uow() as uow:
            for state in [*due, flagged, *awaiting]:
                add(uow, state)
            uow.commit()
        now = start + timedelta(days=3)
        with workflow.uow() as uow:
            assert uow.complaints.overdue(now, 2) == [due[1].complaint_id, due[2].complaint_id]
            overdue = uow.complaints.overdue(now, 200)
            expired = uow.complaints.expired_document_requests(now, 200)
        assert overdue[:3] == [c.complaint_id for c in (due[1], due[2], due[0])]
        assert expired[:2] == [c.complaint_id for c in (awaiting[1], awaiting[0])]
        assert awaiting[2].complaint_id not in expired

    # -- the handlers on it: a small scenario ------------------------------------------------------------------
    def test_a_complaint_recorded_once_registered_flagged_and_closed_incomplete(self, workflow, place):
        message = intake_message(place)
        assert handlers.record_complaint(workflow, message)
        assert not handlers.record_complaint(workflow, message)  # the redelivered copy
        cid = message.complaint_id
        at = LONG_AGO + timedelta(hours=1)
        with pytest.raises(handlers.StaleVersion):
            handlers.act(
                workflow,
                cid,
                "verify-identity",
                {},
                expected_version=2,
                user_id="k",
                role="kasi",
                unit=None,
                kecamatan=place.slug,
                at=at,
                correlation_id=uuid.uuid4(),
            )
        handlers.act(
            workflow,
            cid,
            "verify-identity",
            {},
            expected_version=1,
            user_id="k",
            role="kasi",
            unit=None,
            kecamatan=place.slug,
            at=at,
            correlation_id=uuid.uuid4(),
        )
        state = handlers.act(
            workflow,
            cid,
            "register",
            {},
            expected_version=2,
            user_id="s",
            role="staf",
            unit=None,
            kecamatan=place.slug,
            at=at,
            correlation_id=uuid.uuid4(),
        )
        assert (state.register_number, state.register_year) == (1, 2020)

        late = LONG_AGO + timedelta(days=30)  # step 4 (3 working days) long past
        assert handlers.flag_overdue_steps(workflow, late) >= 1
        handlers.flag_overdue_steps(workflow, late)  # once per step occurrence: nothing more for this one

        other = intake_message(place)
        handlers.record_complaint(workflow, other)
        handlers.act(
            workflow,
            other.complaint_id,
            "request-documents",
            {"message": "Mohon kirim KTP"},
            expected_version=1,
            user_id="k",
            role="kasi",
            unit=None,
            kecamatan=place.slug,
            at=at,
            correlation_id=uuid.uuid4(),
        )
        assert handlers.close_expired_document_requests(workflow, late) >= 1
        with workflow.uow() as uow:
            events = [e.type for e in uow.events.read(stream_id(cid))]
            closed = uow.complaints.get(other.complaint_id)
            last = uow.events.read(stream_id(other.complaint_id))[-1]
        assert events == [
            "workflow.ComplaintReceived",
            "workflow.IdentityVerified",
            "workflow.ComplaintRegistered",
            "workflow.StepOverdue",
        ]
        assert (closed["status"], closed["outcome"]) == ("closed", "incomplete")
        assert (last.type, last.actor.user_id) == ("workflow.ClosedIncomplete", "scheduler")
