"""Notify's unit of work in PostgreSQL: one transaction over notify's tables, the staff directory and the workflow's
events, read through the event store on the unit's connection (services/notify/unit_of_work.py says what each part
promises).

Locks, held until the transaction ends: a delivery read with ``lock=True`` (``SELECT ... FOR UPDATE``: of five
copies of a send, one claims and four wait, then see ``sending``); a row written by ``update``. The sweep's
``take_due`` skips locked rows (``SKIP LOCKED``) rather than wait for a send in progress.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence
from datetime import date, datetime, timedelta
from typing import Any
from uuid import UUID

from sqlalchemy import Engine, delete, func, or_, select, update
from sqlalchemy.dialects.postgresql import array, insert
from sqlalchemy.engine import Connection

from services.notify.adapters.tables import dead_letters, deliveries, escalations, handoffs, inbox, templates
from services.notify.domain.templates import scopes_for
from services.notify.unit_of_work import Row
from shared import privacy
from shared.db import UnitOfWorkTransaction
from shared.events import EventEnvelope
from shared.eventstore.postgres import PostgresEventStore
from shared.handoffs import Handoff, record, record_consumed
from shared.organisation_directory import delegations_in_force
from shared.staff_directory import staff_directory


class PostgresUnitOfWork(UnitOfWorkTransaction):
    def __init__(self, engine: Engine, store: PostgresEventStore | None = None) -> None:
        """``store``: the workflow's events as this process reads them (its data keys; bootstrap passes the
        context's); by default a store on ``engine`` with the process's keys (``privacy.default_data_keys``), made
        when the unit opens."""
        super().__init__(engine)
        self._store = store

    @classmethod
    def within(cls, conn: Connection, store: PostgresEventStore) -> PostgresUnitOfWork:
        """A unit over ``conn``'s transaction, which its caller owns and ends (a round's: services/notify/new_work.py);
        never committed through the unit."""
        unit = cls(conn.engine, store)
        unit._conn = conn
        unit._open(conn)
        return unit

    def _open(self, conn: Connection) -> None:
        if self._store is None:
            self._store = PostgresEventStore(self._engine)
        self.events = PostgresWorkflowEvents(self._store, conn)
        self.inbox = PostgresInbox(conn)
        self.deliveries = PostgresDeliveries(conn)
        self.escalations = PostgresEscalations(conn)
        self.templates = PostgresTemplates(conn)
        self.staff = PostgresStaff(conn)
        self.handoffs = PostgresHandoffs(conn)
        self.dead_letters = PostgresDeadLetters(conn)

    def hold_personal_data(self, complaint_id: UUID) -> bool:
        return privacy.hold(self._conn, complaint_id)

    def limit_lock_waits(self, seconds: float) -> None:
        self._conn.execute(select(func.set_config("lock_timeout", f"{max(int(seconds * 1000), 100)}ms", True)))


def _first(conn: Connection, stmt: Any) -> Row | None:
    row = conn.execute(stmt).mappings().first()
    return dict(row) if row is not None else None


def _all(conn: Connection, stmt: Any) -> list[Row]:
    return [dict(r) for r in conn.execute(stmt).mappings().all()]


class PostgresWorkflowEvents:
    def __init__(self, store: PostgresEventStore, conn: Connection) -> None:
        self._store, self._conn = store, conn

    def stream(self, stream_id: str) -> list[EventEnvelope]:
        return self._store.read_stream(stream_id, conn=self._conn)

    def stream_to(self, event_id: UUID) -> list[EventEnvelope]:
        return self._store.read_stream_to(event_id, conn=self._conn)


class PostgresInbox:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def record(self, consumer: str, message_id: UUID) -> None:
        record_consumed(self._conn, inbox, consumer, message_id)


_ADD = insert(deliveries).on_conflict_do_nothing(index_elements=["id"]).returning(*deliveries.c)


class PostgresDeliveries:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def get(self, delivery_id: UUID, *, lock: bool = False) -> Row | None:
        query = select(deliveries).where(deliveries.c.id == delivery_id)
        return _first(self._conn, query.with_for_update() if lock else query)

    def by_provider(self, provider: str | None, hashes: Collection[str], *, lock: bool = False) -> Row | None:
        if not hashes:
            return None
        query = select(deliveries).where(
            deliveries.c.provider == provider, deliveries.c.provider_message_hash.in_(list(hashes))
        )
        return _first(self._conn, query.with_for_update() if lock else query)

    def many(self, ids: Collection[UUID]) -> list[Row]:
        return _all(self._conn, select(deliveries).where(deliveries.c.id.in_(list(ids))))

    def add(self, rows: Sequence[Row]) -> list[Row]:
        if not rows:
            return []
        # one statement for every call (the rows as parameters): SQLAlchemy compiles it once per process, where a
        # statement carrying its rows (``.values(rows)``) was compiled again for each plan
        result = self._conn.execute(_ADD, [dict(row) for row in rows])
        return [dict(r) for r in result.mappings().all()]

    def update(
        self,
        delivery_id: UUID,
        values: Mapping[str, Any],
        *,
        states: Collection[str] | None = None,
        sending_since: datetime | None = None,
    ) -> Row | None:
        where = [deliveries.c.id == delivery_id]
        if states is not None:
            where.append(deliveries.c.state.in_(list(states)))
        if sending_since is not None:
            where.append(deliveries.c.sending_since == sending_since)
        return _first(self._conn, update(deliveries).where(*where).values(**values).returning(*deliveries.c))

    def listing(self, *, state: str | None, complaint_id: UUID | None, limit: int) -> list[Row]:
        query = select(deliveries).order_by(deliveries.c.updated_at.desc()).limit(limit)
        if state:
            query = query.where(deliveries.c.state == state)
        if complaint_id:
            query = query.where(deliveries.c.complaint_id == complaint_id)
        return _all(self._conn, query)

    def of_complaint(self, complaint_id: UUID, *, lock: bool = False) -> list[Row]:
        query = select(deliveries).where(deliveries.c.complaint_id == complaint_id).order_by(deliveries.c.id)
        return _all(self._conn, query.with_for_update() if lock else query)  # in id order: no lock-order deadlock

    def take_due(self, now: datetime, grace: timedelta, limit: int) -> list[Row]:
        due = (
            select(deliveries.c.id)
            .where(
                deliveries.c.state == "pending",
                deliveries.c.next_attempt_at <= now,
                or_(deliveries.c.enqueued_at.is_(None), deliveries.c.enqueued_at < now - grace),
            )
            .order_by(deliveries.c.next_attempt_at)
            .limit(limit)
            .with_for_update(skip_locked=True)
        )
        return _all(
            self._conn,
            update(deliveries)
            .where(deliveries.c.id.in_(due.scalar_subquery()))
            .values(enqueued_at=now)
            .returning(*deliveries.c),
        )

    def stale(self, before: datetime, limit: int) -> list[Row]:
        return _all(
            self._conn,
            select(deliveries).where(deliveries.c.state == "sending", deliveries.c.sending_since < before).limit(limit),
        )

    def unreported(self, states: Collection[str], before: datetime, limit: int) -> list[Row]:
        return _all(
            self._conn,
            select(deliveries)
            .where(
                deliveries.c.state.in_(list(states)),
                deliveries.c.reported_state.is_distinct_from(deliveries.c.state),
                deliveries.c.updated_at < before,
            )
            .limit(limit),
        )


class PostgresEscalations:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def add(self, rows: Sequence[Row]) -> int:
        if not rows:
            return 0
        # counted from RETURNING: the driver reports no rowcount for a multi-row INSERT (it was -1 here before)
        new = insert(escalations).values(list(rows)).on_conflict_do_nothing().returning(escalations.c.username)
        return len(self._conn.execute(new).all())


class PostgresTemplates:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def applying(self, kecamatan: str, kabupaten: str | None = None) -> list[Row]:
        return _all(self._conn, select(templates).where(templates.c.kecamatan.in_(scopes_for(kecamatan, kabupaten))))

    def all(self) -> list[Row]:
        return _all(self._conn, select(templates))

    def put(
        self, kecamatan: str, kind: str, channel: str, body: str, subject: str | None, updated_by: str | None
    ) -> None:
        stmt = insert(templates).values(
            kecamatan=kecamatan, kind=kind, channel=channel, body=body, subject=subject, updated_by=updated_by
        )
        stmt = stmt.on_conflict_do_update(
            index_elements=["kecamatan", "kind", "channel"],
            set_={
                "body": stmt.excluded.body,
                "subject": stmt.excluded.subject,
                "updated_by": stmt.excluded.updated_by,
                "updated_at": stmt.excluded.updated_at,
            },
        )
        self._conn.execute(stmt)

    def remove(self, kecamatan: str, kind: str, channel: str) -> bool:
        return bool(
            self._conn.execute(
                delete(templates).where(
                    templates.c.kecamatan == kecamatan, templates.c.kind == kind, templates.c.channel == channel
                )
            ).rowcount
        )


# every column of the staff directory but the NIK officials sign through BSrE with (letters' alone to read)
_STAFF = [c for c in staff_directory.c if c.name != "tte_nik"]


class PostgresStaff:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def active(self, kecamatan: str, roles: Collection[str], *, new_work: bool = False) -> list[Row]:
        query = select(*_STAFF).where(
            staff_directory.c.kecamatan == kecamatan,
            staff_directory.c.active.is_(True),
            staff_directory.c.role.in_(list(roles)),
        )
        if new_work:
            query = query.where(staff_directory.c.notify_new_work.is_(True))
        return _all(self._conn, query)

    def acting(self, kecamatan: str, roles: Collection[str], day: date) -> list[Row]:
        rows = []
        for d in delegations_in_force(self._conn, kecamatan, day):
            if d.role not in roles:
                continue
            found = _all(
                self._conn,
                select(*_STAFF).where(staff_directory.c.username == d.delegate, staff_directory.c.active.is_(True)),
            )
            rows += [{**r, "role": d.role, "unit": d.unit, "acting_kind": d.kind} for r in found]
        return rows


class PostgresHandoffs:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def record(self, handoffs_: Iterable[Handoff]) -> None:
        record(self._conn, handoffs, handoffs_)

    def of_complaint(self, complaint_id: UUID) -> list[Handoff]:
        rows = self._conn.execute(
            select(handoffs).where(handoffs.c.payload["complaint_id"].astext == str(complaint_id))
        ).mappings()
        return [Handoff(r["consumer"], r["message_id"], r["queue"], r["task_id"], r["payload"]) for r in rows]

    def rewrite(self, consumer: str, message_id: UUID, payload: Mapping[str, Any]) -> None:
        self._conn.execute(
            update(handoffs)
            .where(handoffs.c.consumer == consumer, handoffs.c.message_id == message_id)
            .values(payload=dict(payload))
        )


class PostgresDeadLetters:
    def __init__(self, conn: Connection) -> None:
        self._conn = conn

    def naming(
        self,
        *,
        event_ids: Collection[UUID],
        delivery_ids: Collection[UUID],
        provider_message_ids: Collection[str],
        provider_message_hashes: Collection[str] = (),
    ) -> list[Row]:
        payload = dead_letters.c.payload
        named = [
            payload["event_id"].astext.in_([str(i) for i in event_ids]),
            payload["delivery_id"].astext.in_([str(i) for i in delivery_ids]),
            payload["reference"].astext.in_([i.hex for i in delivery_ids]),
            payload["provider_message_id"].astext.in_(list(provider_message_ids)),
        ]
        if provider_message_hashes:  # a delivery receipt from intake names the id by its hashes (a JSON array)
            named.append(payload["provider_message_hashes"].has_any(array(list(provider_message_hashes))))
        return _all(self._conn, select(dead_letters).where(or_(*named)).with_for_update())

    def rewrite(self, letter_id: UUID, payload: Mapping[str, Any], error: str) -> None:
        self._conn.execute(
            update(dead_letters).where(dead_letters.c.id == letter_id).values(payload=dict(payload), error=error)
        )
