"""The workflow's unit of work in PostgreSQL: one transaction over the event store, the consumer inbox, the read
model and the counters (services/workflow/unit_of_work.py says what each promises).

Locks, all held until the transaction ends: a counter's row (``INSERT ... ON CONFLICT DO UPDATE`` locks it, so a
second writer of the same kecamatan and year waits, and a rollback gives the number back); an inbox row being
inserted (a second copy of the message waits, then finds it). The append comes last and the commit right after it:
while this transaction runs, it holds every event reader back from the positions drawn since it took its id
(docs/adr/0027).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import datetime
from functools import lru_cache
from typing import Any
from uuid import UUID

from sqlalchemy import DateTime, Engine, Executable, Text, bindparam, column, func, select, text, update, values
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from services.workflow.adapters.duplicates import PostgresDuplicates, keep_open_flag
from services.workflow.adapters.tables import complaints, counters, inbox, privacy_requests
from services.workflow.domain.model import Complaint
from services.workflow.unit_of_work import COUNTER_SUCCESSORS, read_model_values
from shared import privacy
from shared.contracts.workflow import ERASED_NAME
from shared.db import UnitOfWorkTransaction
from shared.events import EventEnvelope
from shared.eventstore.postgres import PostgresEventStore


class PostgresUnitOfWork(UnitOfWorkTransaction):
    def __init__(self, engine: Engine, store: PostgresEventStore) -> None:
        super().__init__(engine)
        self._store = store

    def _open(self, conn: Connection) -> None:
        self.events = PostgresEventStreams(self._store, conn)
        self.inbox = PostgresInbox(conn)
        self.complaints = PostgresComplaints(conn)
        self.counters = PostgresCounters(conn)
        self.requests = PostgresPrivacyRequests(conn)
        self.duplicates = PostgresDuplicates(conn, privacy.lookup_hashes(self._store.data_keys.keks))

    def commit(self) -> None:
        super().commit()
        if self.events.appended:  # the subscribers learn of the events now, not at their next poll
            self._store.wake(self._conn)


class PostgresEventStreams:
    def __init__(self, store: PostgresEventStore, conn: Connection) -> None:
        self._store, self._conn = store, conn
        self.appended = False

    def read(self, stream_id: str) -> list[EventEnvelope]:
        return self._store.read_stream(stream_id, conn=self._conn)

    def erase_personal_data(self, complaint_id: UUID, *, by: str, reason: str) -> bool:
        erased = self._store.data_keys.erase(self._conn, complaint_id, by=by, reason=reason)
        # a message that died in the workflow's worker keeps its payload: intake's ComplaintSubmitted and
        # ComplainantReplied carry the complainant and the sender in clear, notify's NotificationReport the
        # provider's message id (a WhatsApp id holds the phone number; its keyed hash stays)
        self._conn.execute(
            text(
                "UPDATE workflow.dead_letters "
                "SET payload = (payload - 'complainant' - 'sender' - 'text' - 'comment' - 'provider_message_id') "
                "|| jsonb_build_object('complainant', jsonb_build_object('name', CAST(:erased AS text))) "
                "WHERE payload ->> 'complaint_id' = :complaint_id"
            ),
            {"erased": ERASED_NAME, "complaint_id": str(complaint_id)},
        )
        return erased

    def append(self, stream_id: str, expected_version: int, events: Sequence[EventEnvelope]) -> None:
        self._store.append(stream_id, expected_version, events, conn=self._conn)
        self.appended = self.appended or bool(events)


# the hot writes as statements built once, their values passed at execution (a statement carrying its values is
# built and its cache key computed again for each call: shared/handoffs.py)
_CLAIM = insert(inbox).on_conflict_do_nothing().returning(inbox.c.message_id)
_ADD_COMPLAINT = insert(complaints).on_conflict_do_nothing(index_elements=["complaint_id"])
# and the read every view of a complaint and every action makes
_GET_COMPLAINT = select(complaints).where(complaints.c.complaint_id == bindparam("complaint_id"))


@lru_cache(maxsize=8)
def _update_complaint(columns: tuple[str, ...], is_open: bool) -> Executable:
    """The read model's row (``columns``: ``read_model_values``'s, passed as ``v_<column>``) and the possible
    duplicates' open flag (open ones only are candidates), of the complaint ``cid``, in one statement (PostgreSQL runs
    a data-modifying WITH once, referenced or not); built once for an open and once for a closed complaint: every
    action and every worker's event writes it."""
    cid = bindparam("cid")
    row = update(complaints).where(complaints.c.complaint_id == cid).values({c: bindparam(f"v_{c}") for c in columns})
    return keep_open_flag(cid, "open" if is_open else "closed").add_cte(row.cte("complaint_row"))


class PostgresInbox:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def claim(self, consumer: str, message_id: UUID) -> bool:
        claimed = self._conn.execute(_CLAIM, {"consumer": consumer, "message_id": message_id}).first()
        return claimed is not None


class PostgresComplaints:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, complaint_id: UUID) -> dict[str, Any] | None:
        row = self._conn.execute(_GET_COMPLAINT, {"complaint_id": complaint_id}).mappings().first()
        return dict(row) if row is not None else None

    def add(self, state: Complaint, at: datetime, *, subject: str, channel: str, received_at: datetime) -> None:
        self._conn.execute(
            _ADD_COMPLAINT,
            {
                "complaint_id": state.complaint_id,
                "tracking_code": state.tracking_code,
                "kecamatan": state.kecamatan,
                "subject": subject,
                "channel": channel,
                "received_at": received_at,
                **read_model_values(state, at),
            },
        )

    def update(self, state: Complaint, at: datetime) -> None:
        values = read_model_values(state, at)
        statement = _update_complaint(tuple(values), state.status != "closed")
        self._conn.execute(statement, {"cid": state.complaint_id, **{f"v_{k}": v for k, v in values.items()}})

    def overdue(self, now: datetime, limit: int) -> list[UUID]:
        return list(
            self._conn.execute(
                select(complaints.c.complaint_id)
                .where(
                    complaints.c.status == "in_progress",
                    complaints.c.overdue_flagged.is_(False),
                    complaints.c.step_due_at < now,
                )
                .order_by(complaints.c.step_due_at)
                .limit(limit)
            ).scalars()
        )

    def expired_referrals(self, now: datetime, limit: int) -> list[UUID]:
        return list(
            self._conn.execute(
                select(complaints.c.complaint_id)
                .where(complaints.c.status == "referred", complaints.c.step_due_at < now)
                .order_by(complaints.c.step_due_at)
                .limit(limit)
            ).scalars()
        )

    def past_retention(self, closed_before: Mapping[str, datetime], limit: int) -> list[UUID]:
        if not closed_before:
            return []
        cutoffs = values(column("kecamatan", Text), column("cutoff", DateTime(timezone=True)), name="cutoffs").data(
            list(closed_before.items())
        )
        return list(
            self._conn.execute(
                select(complaints.c.complaint_id)
                .join(cutoffs, cutoffs.c.kecamatan == complaints.c.kecamatan)
                .where(
                    complaints.c.status == "closed",
                    complaints.c.personal_data_erased.is_(False),
                    complaints.c.closed_at < cutoffs.c.cutoff,
                )
                .order_by(complaints.c.closed_at)
                .limit(limit)
            ).scalars()
        )

    def expired_document_requests(self, now: datetime, limit: int) -> list[UUID]:
        return list(
            self._conn.execute(
                select(complaints.c.complaint_id)
                .where(complaints.c.status == "awaiting_documents", complaints.c.documents_close_after < now)
                .order_by(complaints.c.documents_close_after)
                .limit(limit)
            ).scalars()
        )


class PostgresCounters:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def next(self, kind: str, kecamatan: str, year: int) -> int:
        start: Any = 1
        if kind in COUNTER_SUCCESSORS:  # the row's first number comes after the counters it took over from
            start = (
                select(func.coalesce(func.max(counters.c.last_value), 0) + 1)
                .where(
                    counters.c.kind.in_(COUNTER_SUCCESSORS[kind]),
                    counters.c.kecamatan == kecamatan,
                    counters.c.year == year,
                )
                .scalar_subquery()
            )
        first = insert(counters).values(kind=kind, kecamatan=kecamatan, year=year, last_value=start)
        stmt = first.on_conflict_do_update(
            index_elements=["kind", "kecamatan", "year"], set_={"last_value": counters.c.last_value + 1}
        ).returning(counters.c.last_value)
        return int(self._conn.execute(stmt).scalar_one())


class PostgresPrivacyRequests:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, row: Mapping[str, Any]) -> None:
        self._conn.execute(privacy_requests.insert().values(**row))

    def list(self, *, kecamatan: Sequence[str] | None, kind: str | None, limit: int) -> list[dict[str, Any]]:
        query = select(privacy_requests).order_by(privacy_requests.c.received_at.desc()).limit(limit)
        if kecamatan is not None:
            query = query.where(privacy_requests.c.kecamatan.in_(list(kecamatan)))
        if kind is not None:
            query = query.where(privacy_requests.c.kind == kind)
        return [dict(r) for r in self._conn.execute(query).mappings()]
