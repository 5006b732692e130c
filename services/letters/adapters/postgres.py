"""Letters' unit of work in PostgreSQL: one transaction over ``letters.documents``, the hand-off ledger and the
staff directory, with the workflow's events read through the event store (services/letters/unit_of_work.py
says what each promises).

Locks: a document's row being inserted is held until the transaction ends, so a second worker making the
same event's document waits at its insert, then finds the first one's row. No other row is locked: the
handlers read, render and sign, and write last. An erasure updates the complaint's rows: a second erasure of the
same complaint (a redelivered task) waits for the first to end, then finds nothing left to erase.
"""

from __future__ import annotations

from collections.abc import Collection
from datetime import datetime
from typing import Any
from uuid import UUID

from celery import Celery
from sqlalchemy import Engine, select, union, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from services.letters.adapters.tables import documents, esigned, handoffs
from services.letters.unit_of_work import SIGNED_KINDS, StaffName
from shared import privacy
from shared.contracts.organisation import UnitEntry
from shared.db import UnitOfWorkTransaction
from shared.events import EventEnvelope
from shared.eventstore.postgres import PostgresEventStore
from shared.handoffs import Handoff, record
from shared.organisation_directory import unit_directory
from shared.staff_directory import staff_directory


class PostgresUnitOfWork(UnitOfWorkTransaction):
    def __init__(self, engine: Engine, store: PostgresEventStore, celery: Celery) -> None:
        super().__init__(engine)
        self._store, self._celery = store, celery

    def _open(self, conn: Connection) -> None:
        self.events = PostgresWorkflowEvents(self._store, conn)
        self.documents = PostgresDocuments(conn)
        self.staff = PostgresStaff(conn)
        self.units = PostgresUnits(conn)
        self.esigned = PostgresEsigned(conn)
        self.outbox = PostgresOutbox(conn)

    def commit(self) -> None:
        super().commit()
        # after the commit: a send that fails raises (the task is retried), and the ledger has the message
        for handoff in self.outbox.added:
            self._celery.send_task(
                handoff.consumer, args=[handoff.payload], queue=handoff.queue, task_id=handoff.task_id
            )
        self.outbox.added.clear()

    def rollback(self) -> None:
        super().rollback()
        self.outbox.added.clear()


class PostgresWorkflowEvents:
    def __init__(self, store: PostgresEventStore, conn: Connection) -> None:
        self._store, self._conn = store, conn

    def get(self, event_id: UUID) -> EventEnvelope | None:
        return self._store.read_event(event_id)  # on its own connection: a stored event never changes

    def stream(self, stream_id: str) -> list[EventEnvelope]:
        return self._store.read_stream(stream_id, conn=self._conn)

    def hold_personal_data(self, complaint_id: UUID) -> bool:
        return privacy.hold(self._conn, complaint_id)


def _row(row: Any) -> dict[str, Any] | None:
    return dict(row) if row is not None else None


class PostgresDocuments:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, values: dict[str, Any]) -> dict[str, Any]:
        self._conn.execute(
            insert(documents).values(**values).on_conflict_do_nothing(index_elements=["source_event_id"])
        )
        row = self.of_source_event(values["source_event_id"])
        assert row is not None  # noqa: S101 (inserted, or another's insert this one waited for)
        return row

    def get(self, document_id: UUID) -> dict[str, Any] | None:
        return _row(self._conn.execute(select(documents).where(documents.c.id == document_id)).mappings().first())

    def of_source_event(self, event_id: UUID) -> dict[str, Any] | None:
        query = select(documents).where(documents.c.source_event_id == event_id)
        return _row(self._conn.execute(query).mappings().first())

    def of_complaint(self, complaint_id: UUID) -> list[dict[str, Any]]:
        query = select(documents).where(documents.c.complaint_id == complaint_id).order_by(documents.c.created_at)
        return [dict(row) for row in self._conn.execute(query).mappings()]

    def newest(self, tracking_code: str, kind: str, *, released: bool = False) -> dict[str, Any] | None:
        query = (
            select(documents)
            .where(documents.c.tracking_code == tracking_code, documents.c.kind == kind)
            .order_by(documents.c.created_at.desc())
        )
        if released:
            query = query.where(documents.c.released_at.isnot(None))
        return _row(self._conn.execute(query).mappings().first())

    def signed_letter_with(self, sha256: str) -> dict[str, Any] | None:
        query = select(documents).where(documents.c.sha256 == sha256, documents.c.kind.in_(SIGNED_KINDS))
        return _row(self._conn.execute(query).mappings().first())

    def release(self, complaint_id: UUID, at: datetime) -> int:
        return self._conn.execute(
            update(documents)
            .where(
                documents.c.complaint_id == complaint_id,
                documents.c.kind == "response_letter",
                documents.c.released_at.is_(None),
            )
            .values(released_at=at)
        ).rowcount

    def erase(self, complaint_id: UUID, at: datetime) -> int:
        return self._conn.execute(
            update(documents)
            .where(documents.c.complaint_id == complaint_id, documents.c.erased_at.is_(None))
            .values(erased_at=at, perihal=None)
        ).rowcount

    def kept_elsewhere(self, sha256s: Collection[str], complaint_id: UUID) -> set[str]:
        if not sha256s:
            return set()
        wanted = sorted(set(sha256s))
        query = union(
            select(documents.c.sha256).where(
                documents.c.sha256.in_(wanted),
                documents.c.complaint_id != complaint_id,
                documents.c.erased_at.is_(None),
            ),
            select(esigned.c.sha256).where(
                esigned.c.sha256.in_(wanted), esigned.c.complaint_id != complaint_id, esigned.c.erased_at.is_(None)
            ),
        )
        return set(self._conn.execute(query).scalars())


class PostgresStaff:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, username: str) -> StaffName | None:
        d = staff_directory.c
        row = self._conn.execute(
            select(d.full_name, d.nip, d.pangkat, d.golongan, d.tte_nik).where(d.username == username)
        ).first()
        return StaffName(row.full_name, row.nip, row.pangkat, row.golongan, row.tte_nik) if row is not None else None


class PostgresEsigned:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, values: dict[str, Any]) -> dict[str, Any]:
        self._conn.execute(insert(esigned).values(**values).on_conflict_do_nothing(index_elements=["event_id"]))
        kept = self.get(values["event_id"])
        assert kept is not None  # noqa: S101
        return kept

    def get(self, event_id: UUID) -> dict[str, Any] | None:
        return _row(self._conn.execute(select(esigned).where(esigned.c.event_id == event_id)).mappings().first())

    def of_complaint(self, complaint_id: UUID) -> list[dict[str, Any]]:
        query = select(esigned).where(esigned.c.complaint_id == complaint_id)
        return [dict(row) for row in self._conn.execute(query).mappings()]

    def erase(self, complaint_id: UUID, at: datetime) -> int:
        return self._conn.execute(
            update(esigned)
            .where(esigned.c.complaint_id == complaint_id, esigned.c.erased_at.is_(None))
            .values(erased_at=at)
        ).rowcount


class PostgresUnits:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, kecamatan: str, code: str) -> UnitEntry | None:
        u = unit_directory.c
        row = self._conn.execute(select(unit_directory).where(u.kecamatan == kecamatan, u.code == code)).mappings()
        found = row.first()
        return UnitEntry(**found) if found is not None else None


class PostgresOutbox:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn
        self.added: list[Handoff] = []

    def add(self, handoff: Handoff) -> None:
        record(self._conn, handoffs, [handoff])
        self.added.append(handoff)
