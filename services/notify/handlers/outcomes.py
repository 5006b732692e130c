"""A send's outcome, written where its claim still holds: retried through a database blip, handed on as a
``notify.record_outcome`` task when the database stays away, and reported (ADR 0013, 2 and 5)."""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from datetime import datetime
from typing import TypeVar
from uuid import UUID

from sqlalchemy.exc import OperationalError

from services.notify.domain.delivery import outcome_values
from services.notify.domain.erasure import is_erased
from services.notify.handlers.context import Context
from services.notify.handlers.reports import handoffs_of, publish_recorded
from services.notify.unit_of_work import Row, UnitOfWork
from shared.privacy import provider_id_hashes
from shared.tasks import safe_error

log = logging.getLogger(__name__)
T = TypeVar("T")

OUTCOME_TASK = "notify.record_outcome"


def _write_window(notify: Context) -> float:
    """How long a write after the provider's answer is retried: the setting, but never more than a quarter
    of the task's soft time limit (the provider call and the rest of the task need the remainder)."""
    soft_limit = max(1, int(notify.settings.task_time_limit * 0.75))
    return min(notify.settings.notify_outcome_write_seconds, soft_limit / 4)


def write_retried(notify: Context, write: Callable[[UnitOfWork], T], window: float | None = None) -> T:
    """Run ``write(uow)`` in a unit of work and commit, again after a database blip (backoff with jitter) until
    ``window`` seconds have passed; a lock wait counts against the window too (``limit_lock_waits``)."""
    deadline = time.monotonic() + (_write_window(notify) if window is None else window)
    pause = 0.1
    while True:
        try:
            with notify.uow() as uow:
                uow.limit_lock_waits(deadline - time.monotonic())
                result = write(uow)
                uow.commit()
                return result
        except OperationalError as exc:
            wait = pause * (0.5 + random.random())
            if time.monotonic() + wait > deadline:
                raise
            log.warning("database blip while recording a send; retrying the write: %s", safe_error(exc))
            time.sleep(wait)
            pause = min(pause * 2, 2.0)


def _record(uow: UnitOfWork, row: dict, state: str, values: dict) -> Row | None:
    """Write an outcome if our claim still holds; None when another worker took the claim over."""
    done = _outcome(uow, row, state, values)
    if done is not None:  # its report, in the same transaction: in the ledger, so never lost (published after it)
        uow.handoffs.record(handoffs_of(done))
    return done


def _outcome(uow: UnitOfWork, row: dict, state: str, values: dict) -> Row | None:
    done = uow.deliveries.update(row["id"], values, states=("sending",), sending_since=row["sending_since"])
    if done is None and state in ("sent", "failed"):
        # our claim was taken over (the lease ran out) and reconciled as unknown: what the provider
        # told us settles it
        done = uow.deliveries.update(row["id"], values, states=("unknown",))
    if done is not None and done["provider_message_id"] and is_erased(done):
        # the complainant's data was erased while the provider had the message: its id (a WhatsApp id holds the
        # number) is not kept; its keyed hash is, so the delivery receipts still find the row
        done = uow.deliveries.update(row["id"], {"provider_message_id": None})
    return done


def finish(
    notify: Context,
    row: dict,
    state: str,
    *,
    error: str | None = None,
    provider: str | None = None,
    provider_message_id: str | None = None,
) -> str:
    at = notify.clock()
    values = outcome_values(state, at, error, provider, provider_message_id, _hash(notify, provider_message_id))
    values["reported_state"] = state  # reported with it (_record): the ledger holds the report from the same commit
    try:
        done = write_retried(notify, lambda uow: _record(uow, row, state, values))
    except OperationalError as exc:
        _hand_on(notify, row, state, at, error, provider, provider_message_id, exc)
        return state
    return _recorded(notify, row["id"], state, done)


def _hash(notify: Context, provider_message_id: str | None) -> str | None:
    """The provider's id's keyed hash (docs/adr/0017, decision 7): what its delivery receipts are matched by."""
    return provider_id_hashes(notify.settings).hash(provider_message_id) if provider_message_id else None


def _recorded(notify: Context, delivery_id: UUID, state: str, done: Row | None) -> str:
    if done is None:  # our claim was taken over (lease ran out and another worker reconciled)
        log.warning(
            "send outcome arrived after the claim was taken over",
            extra={"delivery_id": str(delivery_id), "state": state},
        )
        return state
    log.info(
        "notification %s",
        state,
        extra={"delivery_id": str(delivery_id), "channel": done["channel"], "kind": done["kind"]},
    )
    publish_recorded(notify, handoffs_of(done))  # recorded with the outcome (_record)
    return state


def _hand_on(
    notify: Context,
    row: dict,
    state: str,
    at: datetime,
    error: str | None,
    provider: str | None,
    provider_message_id: str | None,
    cause: OperationalError,
) -> None:
    """The database stayed away longer than the write window: the provider's answer goes to the queue as a
    task of its own (written when the database is back), never back through the send. If the broker will
    not take it either, the log line is what a person settles the message by."""
    ids = {  # logged: the provider's id only as its hash (a WhatsApp id holds the number), what its receipts match
        "delivery_id": str(row["id"]),
        "state": state,
        "provider": provider,
        "provider_message_hash": _hash(notify, provider_message_id),
    }
    message = {
        **ids,
        "provider_message_id": provider_message_id,
        "sending_since": row["sending_since"].isoformat(),
        "at": at.isoformat(),
        "error": error,
    }
    try:
        notify.celery.send_task(
            OUTCOME_TASK,
            args=[message],
            queue="notify",
            task_id=f"notify-outcome:{row['id']}:{row['sending_since'].isoformat()}",
        )
    except Exception as exc:  # noqa: BLE001
        log.error(
            "provider's answer could not be recorded nor queued (database: %s; broker: %s)",
            safe_error(cause),
            safe_error(exc),
            extra=ids,
        )
        raise cause from None
    log.error("provider's answer not recorded (database: %s); queued as %s", safe_error(cause), OUTCOME_TASK, extra=ids)


def record_outcome(notify: Context, message: dict) -> str:
    """A provider's answer that its send could not write (``_hand_on``): written now, or handed back to the
    broker by the worker's retry rules while the database is still away."""
    row = {"id": UUID(message["delivery_id"]), "sending_since": datetime.fromisoformat(message["sending_since"])}
    state = message["state"]
    values = outcome_values(
        state,
        datetime.fromisoformat(message["at"]),
        message.get("error"),
        message.get("provider"),
        message.get("provider_message_id"),
        _hash(notify, message.get("provider_message_id")),
    )
    values["reported_state"] = state
    done = write_retried(notify, lambda uow: _record(uow, row, state, values))
    return _recorded(notify, row["id"], state, done)
