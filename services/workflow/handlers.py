"""What the workflow does on each message and each staff command.

Every unit of work is one transaction: the consumer inbox row (for messages), the counters (for numbers
people write on paper), the appended events and the read model row commit together or not at all.
The append comes last, because it holds the store's append lock until the commit.
"""
from __future__ import annotations

import json
import logging
import uuid
from dataclasses import dataclass
from datetime import UTC, datetime
from uuid import UUID

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from services.workflow.adapters.tables import complaints, counters, inbox
from services.workflow.domain import commands as c
from services.workflow.domain import model
from services.workflow.domain.events import stream_id
from shared.calendar import WorkingCalendar
from shared.contracts.intake import ComplainantReplied, ComplaintSubmitted
from shared.contracts.letters import LetterDocumentIssued
from shared.contracts.notify import NotificationReport
from shared.events import Actor, EventEnvelope, envelope
from shared.eventstore.postgres import PostgresEventStore
from shared.tenancy import Kecamatan, KecamatanDirectory

log = logging.getLogger(__name__)

EVENT_ID_NAMESPACE = uuid.UUID("6f1c1a3e-2f43-4a55-9a55-70656e676164")


class UnknownComplaint(Exception):
    pass


class StaleVersion(Exception):
    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"expected version {expected}, the complaint is at {actual}")
        self.expected, self.actual = expected, actual


def derived_event_id(consumer: str, message_id: UUID, index: int) -> UUID:
    """The same message always yields the same event ids (a redelivery can append nothing new)."""
    return uuid.uuid5(EVENT_ID_NAMESPACE, f"{consumer}:{message_id}:{index}")


class Calendars:
    """One working-day calendar per kecamatan, rebuilt when its settings change."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[str, WorkingCalendar]] = {}

    def for_kecamatan(self, kecamatan: Kecamatan) -> WorkingCalendar:
        key = json.dumps(kecamatan.settings, sort_keys=True)
        cached = self._cache.get(kecamatan.slug)
        if cached is None or cached[0] != key:
            cached = (key, kecamatan.calendar())
            self._cache[kecamatan.slug] = cached
        return cached[1]


@dataclass
class Context:
    engine: Engine
    store: PostgresEventStore
    directory: KecamatanDirectory
    calendars: Calendars

    def kecamatan(self, slug: str) -> Kecamatan:
        found = self.directory.get(slug)
        if found is None:
            raise UnknownComplaint(f"kecamatan {slug} is not served here")
        return found


# -- the read model, written with every append ----------------------------------------------------------
def save_read_model(conn: Connection, state: model.Complaint, at: datetime, first: dict | None = None) -> None:
    values = {
        "status": state.status,
        "outcome": state.outcome,
        "current_step": state.current_step if state.status != "closed" else None,
        "waiting_role": state.waiting_role,
        "unit": state.unit,
        "step_due_at": state.step_due_at,
        "deadline_at": state.deadline_at,
        "documents_close_after": state.documents_close_after,
        "overdue_flagged": state.overdue_flagged,
        "register_number": state.register_number,
        "register_year": state.register_year,
        "letter_number": state.letter_number,
        "updated_at": at,
        "version": state.revision,
    }
    if first is not None:
        conn.execute(
            insert(complaints)
            .values(complaint_id=state.complaint_id, tracking_code=state.tracking_code, kecamatan=state.kecamatan, **first, **values)
            .on_conflict_do_nothing(index_elements=["complaint_id"])
        )
    else:
        conn.execute(update(complaints).where(complaints.c.complaint_id == state.complaint_id).values(**values))


def next_number(conn: Connection, kind: str, kecamatan: str, year: int) -> int:
    """The next number of a kind, gapless per kecamatan per year: the counter row stays locked until the
    transaction ends, and a rollback gives the number back."""
    stmt = insert(counters).values(kind=kind, kecamatan=kecamatan, year=year, last_value=1)
    stmt = stmt.on_conflict_do_update(
        index_elements=["kind", "kecamatan", "year"], set_={"last_value": counters.c.last_value + 1}
    ).returning(counters.c.last_value)
    return conn.execute(stmt).scalar_one()


def _append(conn: Connection, store: PostgresEventStore, state: model.Complaint, events, *, actor: Actor,
            at: datetime, correlation_id: UUID, causation_id: UUID | None, ids) -> tuple[model.Complaint, list[EventEnvelope]]:
    stream = stream_id(state.complaint_id) if state.complaint_id else stream_id(events[0].complaint_id)
    kecamatan = state.kecamatan or events[0].kecamatan
    envelopes = [
        envelope(
            event, event_id=ids(i), stream_id=stream, version=state.version + 1 + i, kecamatan=kecamatan,
            occurred_at=at, actor=actor, correlation_id=correlation_id, causation_id=causation_id,
        )
        for i, event in enumerate(events)
    ]
    for e in envelopes:
        state = model.evolve(state, e.decode(), at, actor.user_id)
    store.append(stream, envelopes[0].version - 1, envelopes, conn=conn)
    return state, envelopes


# -- messages -----------------------------------------------------------------------------------------------
def record_complaint(ctx: Context, message: ComplaintSubmitted) -> bool:
    """Append the complaint's first event, once. Returns False when the message was already processed."""
    consumer = "workflow.record_complaint"
    kecamatan = ctx.kecamatan(message.kecamatan)
    with ctx.engine.begin() as conn:
        claimed = conn.execute(
            insert(inbox).values(consumer=consumer, message_id=message.submission_id).on_conflict_do_nothing()
            .returning(inbox.c.message_id)
        ).first()
        if claimed is None:
            log.info("duplicate message ignored", extra={"message_id": str(message.submission_id)})
            return False
        state = model.replay(ctx.store.read_stream(stream_id(message.complaint_id), conn=conn))
        command = c.RecordComplaint(submission=message, sop_overrides=kecamatan.sop_overrides)
        events = model.decide(state, command, ctx.calendars.for_kecamatan(kecamatan))
        new_state, _ = _append(
            conn, ctx.store, state, events, actor=Actor.system("intake"), at=message.received_at,
            correlation_id=message.correlation_id, causation_id=message.submission_id,
            ids=lambda i: derived_event_id(consumer, message.submission_id, i),
        )
        save_read_model(
            conn, new_state, message.received_at,
            first={"subject": message.subject, "channel": message.channel, "received_at": message.received_at},
        )
    log.info("complaint recorded", extra={"complaint_id": str(message.complaint_id), "kecamatan": message.kecamatan})
    return True


# -- staff commands -----------------------------------------------------------------------------------------
def load(ctx: Context, conn: Connection, complaint_id: UUID, visible_to) -> tuple[model.Complaint, dict]:
    """The complaint's state, if ``visible_to(kecamatan)`` says this user may see it (else: unknown)."""
    row = conn.execute(select(complaints).where(complaints.c.complaint_id == complaint_id)).mappings().first()
    if row is None or not visible_to(row["kecamatan"]):
        raise UnknownComplaint(str(complaint_id))
    return model.replay(ctx.store.read_stream(stream_id(complaint_id), conn=conn)), dict(row)


def act(ctx: Context, complaint_id: UUID, action: str, fields: dict, *, expected_version: int, user_id: str,
        role: str, unit: str | None, kecamatan: str | None, at: datetime, correlation_id: UUID) -> model.Complaint:
    """A staff member performs ``action`` on a complaint of their own kecamatan."""
    with ctx.engine.begin() as conn:
        state, row = load(ctx, conn, complaint_id, lambda k: k == kecamatan)
        if state.revision != expected_version:
            raise StaleVersion(expected_version, state.revision)
        command_type = c.STAFF_COMMANDS[action]
        actor = c.Actor(user_id=user_id, role=role, unit=unit)
        model.check(state, command_type.model_construct(actor=actor, at=at))  # who and when, before the body
        probe = dict(fields)
        if command_type is c.Register:
            probe.update(register_number=0, register_year=at.year)
        if command_type is c.SignLetter:
            probe.update(letter_number="-", letter_sequence=0, letter_year=at.year)
        command = command_type(actor=actor, at=at, **probe)  # the body, validated
        if command_type is c.Register:
            year = _local_year(ctx, row["kecamatan"], at)
            command = command.model_copy(update={"register_number": next_number(conn, "register", row["kecamatan"], year),
                                                 "register_year": year})
        if command_type is c.SignLetter:  # the number is given at signing: inside what the signature covers
            year = _local_year(ctx, row["kecamatan"], at)
            seq = next_number(conn, "letter", row["kecamatan"], year)
            code = ctx.kecamatan(row["kecamatan"]).code
            command = command.model_copy(update={"letter_number": f"{seq:03d}/PENGADUAN/{code}/{year}",
                                                 "letter_sequence": seq, "letter_year": year})
        events = model.decide(state, command, ctx.calendars.for_kecamatan(ctx.kecamatan(row["kecamatan"])))
        new_state, _ = _append(
            conn, ctx.store, state, events, actor=Actor(kind="user", user_id=user_id, role=role), at=at,
            correlation_id=correlation_id, causation_id=None, ids=lambda i: uuid.uuid4(),
        )
        save_read_model(conn, new_state, at)
    return new_state


def _local_year(ctx: Context, kecamatan: str, at: datetime) -> int:
    """Numbers run per calendar year of the office (a complaint registered on 31 December 23:30 WIB is
    still that year's)."""
    from zoneinfo import ZoneInfo

    tz = ctx.kecamatan(kecamatan).settings.get("office_hours", {}).get("tz", "Asia/Jakarta")
    return at.astimezone(ZoneInfo(tz)).year


# -- the scheduler's ------------------------------------------------------------------------------------------
def flag_overdue_steps(ctx: Context, now: datetime, limit: int = 200) -> int:
    """Append StepOverdue once per overdue step occurrence. Returns how many were flagged."""
    with ctx.engine.connect() as conn:
        due = conn.execute(
            select(complaints.c.complaint_id)
            .where(complaints.c.status == "in_progress", complaints.c.overdue_flagged.is_(False),
                   complaints.c.step_due_at < now)
            .order_by(complaints.c.step_due_at).limit(limit)
        ).scalars().all()
    flagged = 0
    for complaint_id in due:
        if _one_by_one(complaint_id, lambda: _flag_one(ctx, complaint_id, now)):
            flagged += 1
    return flagged


def _one_by_one(complaint_id: UUID, fn) -> bool:
    """A batch job handles each complaint on its own: one that fails (a race with a person acting, or
    anything else) is left for the next round and does not hold back the others."""
    from shared.eventstore import ConcurrencyError, DuplicateEventError

    try:
        return fn()
    except (ConcurrencyError, DuplicateEventError, model.NothingOverdue):
        return False  # someone acted meanwhile: nothing to do now
    except Exception:
        log.exception("scheduler could not handle a complaint; retried next round", extra={"complaint_id": str(complaint_id)})
        return False


def _flag_one(ctx: Context, complaint_id: UUID, now: datetime) -> bool:
    with ctx.engine.begin() as conn:
        state, _ = load(ctx, conn, complaint_id, lambda k: True)
        events = model.decide(state, c.FlagOverdue(at=now), None)
        step_key = f"{complaint_id}:{state.current_step}:{state.step_started_at.isoformat() if state.step_started_at else ''}"
        new_state, _ = _append(
            conn, ctx.store, state, events, actor=Actor.system("scheduler"), at=now,
            correlation_id=uuid.uuid5(EVENT_ID_NAMESPACE, f"overdue:{step_key}"), causation_id=None,
            ids=lambda i: uuid.uuid5(EVENT_ID_NAMESPACE, f"overdue:{step_key}:{i}"),
        )
        save_read_model(conn, new_state, now)
    return True


def close_expired_document_requests(ctx: Context, now: datetime, limit: int = 200) -> int:
    """Close as incomplete the complaints whose requested documents did not arrive in time."""
    with ctx.engine.connect() as conn:
        expired = conn.execute(
            select(complaints.c.complaint_id)
            .where(complaints.c.status == "awaiting_documents", complaints.c.documents_close_after < now)
            .order_by(complaints.c.documents_close_after).limit(limit)
        ).scalars().all()
    closed = 0
    for complaint_id in expired:
        if _one_by_one(complaint_id, lambda: _expire_one(ctx, complaint_id, now)):
            closed += 1
    return closed


def _expire_one(ctx: Context, complaint_id: UUID, now: datetime) -> bool:
    with ctx.engine.begin() as conn:
        state, _ = load(ctx, conn, complaint_id, lambda k: True)
        events = model.decide(state, c.ExpireDocumentsRequest(at=now), None)
        new_state, _ = _append(
            conn, ctx.store, state, events, actor=Actor.system("scheduler"), at=now, correlation_id=uuid.uuid4(),
            causation_id=None, ids=lambda i: uuid.uuid5(EVENT_ID_NAMESPACE, f"expired:{complaint_id}:{state.version}:{i}"),
        )
        save_read_model(conn, new_state, now)
    return True


def record_letter_document(ctx: Context, issued: LetterDocumentIssued) -> bool:
    """The letters worker's report: append ``LetterIssued`` once (archive, step 11, waits for it)."""
    consumer = "workflow.record_letter_document"
    with ctx.engine.begin() as conn:
        claimed = conn.execute(
            insert(inbox).values(consumer=consumer, message_id=issued.message_id).on_conflict_do_nothing()
            .returning(inbox.c.message_id)
        ).first()
        if claimed is None:
            return False
        state, _ = load(ctx, conn, issued.complaint_id, lambda k: k == issued.kecamatan)
        events = model.decide(state, c.RecordLetterIssued(issued=issued), None)
        at = datetime.now(UTC)
        new_state, _ = _append(
            conn, ctx.store, state, events, actor=Actor.system("letters"), at=at, correlation_id=issued.message_id,
            causation_id=issued.message_id, ids=lambda i: derived_event_id(consumer, issued.message_id, i),
        )
        save_read_model(conn, new_state, at)
    return True


def _record_system(ctx: Context, consumer: str, message_id: UUID, complaint_id: UUID, kecamatan: str, command,
                   actor: Actor) -> bool:
    """A message from another service appended once (consumer inbox in the same transaction)."""
    with ctx.engine.begin() as conn:
        claimed = conn.execute(
            insert(inbox).values(consumer=consumer, message_id=message_id).on_conflict_do_nothing()
            .returning(inbox.c.message_id)
        ).first()
        if claimed is None:
            return False
        state, _ = load(ctx, conn, complaint_id, lambda k: k == kecamatan)
        events = model.decide(state, command, None)
        at = datetime.now(UTC)
        new_state, _ = _append(
            conn, ctx.store, state, events, actor=actor, at=at, correlation_id=message_id,
            causation_id=message_id, ids=lambda i: derived_event_id(consumer, message_id, i),
        )
        save_read_model(conn, new_state, at)
    return True


def record_notification(ctx: Context, report: NotificationReport) -> bool:
    """Notify's report: on the complaint's history; the letter's confirmed send closes step 12."""
    return _record_system(ctx, "workflow.record_notification", report.message_id, report.complaint_id, report.kecamatan,
                          c.RecordNotification(report=report), Actor.system("notify"))


def record_reply(ctx: Context, reply: ComplainantReplied) -> bool:
    """The complainant wrote again on a channel (intake matched it to this complaint)."""
    return _record_system(ctx, "workflow.record_reply", reply.message_id, reply.complaint_id, reply.kecamatan,
                          c.RecordReply(reply=reply), Actor.system("intake"))
