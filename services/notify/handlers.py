"""What notify does on each message. For now: escalation alerts for overdue steps.

An overdue step alerts the users of the responsible role in that kecamatan and their superior. The
alert rows are the effect (one per event and user: a redelivery adds nothing); sending them by e-mail,
SMS or WhatsApp comes with the channels (issue #5).
"""
from __future__ import annotations

import logging
from uuid import UUID

from sqlalchemy import Engine, select
from sqlalchemy.dialects.postgresql import insert

from services.notify.adapters.tables import escalations
from shared.auth import users
from shared.contracts.workflow import StepOverdue
from shared.eventstore.postgres import PostgresEventStore

log = logging.getLogger(__name__)

# who answers for whom in a kecamatan office
SUPERIOR = {"staf": "sekcam", "kasi": "sekcam", "sekcam": "camat", "camat": "camat"}


def escalate(engine: Engine, store: PostgresEventStore, event_id: UUID) -> int:
    """Record the alerts of one StepOverdue event; returns how many were new."""
    envelope = store.read_event(event_id)
    if envelope is None or envelope.type != StepOverdue.type:
        raise LookupError(f"no StepOverdue event {event_id}")
    overdue = envelope.decode()
    assert isinstance(overdue, StepOverdue)
    superior = SUPERIOR.get(overdue.role, "camat")
    with engine.begin() as conn:
        people = [
            p for p in conn.execute(
                select(users.c.username, users.c.role, users.c.unit).where(
                    users.c.kecamatan == envelope.kecamatan, users.c.active.is_(True), users.c.role.in_({overdue.role, superior})
                )
            ).all()
            # at a unit-bound step only the Kasi of the disposed unit answers for it
            if not (p.role == overdue.role and overdue.unit and (p.unit or "").casefold() != overdue.unit)
        ]
        rows = [
            {
                "event_id": event_id, "username": p.username, "reason": "responsible" if p.role == overdue.role else "superior",
                "kecamatan": envelope.kecamatan, "complaint_id": UUID(envelope.stream_id.removeprefix("complaint-")),
                "step": overdue.step, "due_at": overdue.due_at,
            }
            for p in people
        ]
        if not rows:
            log.warning("no one to alert for an overdue step", extra={"kecamatan": envelope.kecamatan, "step": overdue.step})
            return 0
        return conn.execute(insert(escalations).values(rows).on_conflict_do_nothing()).rowcount
