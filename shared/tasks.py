"""How a worker runs a handler so that nothing is lost and nothing is done twice.

Celery's own retry re-publishes a new message and acknowledges the old one; if that publish fails the
message is gone, and a failing task is acknowledged by default. So workers do not use it. Instead:

- a transient failure (database unreachable, a lost optimistic-concurrency race) is retried inside the
  task with exponential backoff and jitter, within a time budget below the soft time limit; when the
  budget runs out the message is handed back to the broker (``Reject(requeue=True)``), never dropped;
- a time limit hands the message back too (``task_acks_on_timeout=False``, and the soft limit here); the
  statement it cut off is cancelled on the server first and a worker's statements time out before the soft
  limit (shared/db.py), so the message comes back to nothing done and nothing still waiting;
- anything else is a message the code cannot handle: it is kept as a dead letter (a row a person sees
  and replays), and only then acknowledged. If even that fails, the message goes back to the broker.

Handlers are idempotent (consumer inbox), so a message handed back has no second effect. A message handled or
kept is recorded in the service's inbox (``Consumer.inbox_key``) so that its producer's reconciler stops resending
it: here, after the handler, unless the handler records it in its own transaction (``Consumer.records_inbox``),
when only a dead letter is recorded here.
"""

from __future__ import annotations

import logging
import random
import time
import uuid
from collections.abc import Callable
from typing import TYPE_CHECKING, TypeVar

from botocore.exceptions import ConnectionClosedError, EndpointConnectionError, ReadTimeoutError
from celery.exceptions import Reject, SoftTimeLimitExceeded
from sqlalchemy import Column, DateTime, MetaData, Table, Text, func, insert
from sqlalchemy.dialects.postgresql import JSONB, UUID
from sqlalchemy.exc import DBAPIError, OperationalError

from shared import metrics
from shared.eventstore import ConcurrencyError
from shared.handoffs import mark_consumed
from shared.outages import UNREACHABLE

if TYPE_CHECKING:
    from celery import Celery

    from shared.service import Consumer, Service

log = logging.getLogger(__name__)

T = TypeVar("T")


def dead_letter_table(metadata: MetaData) -> Table:
    """A service's dead letters: messages its workers could not handle, kept for a person to replay."""
    return Table(
        "dead_letters",
        metadata,
        Column("id", UUID(as_uuid=True), primary_key=True),
        Column("task", Text, nullable=False),
        Column("queue", Text, nullable=False),
        Column("payload", JSONB, nullable=False),
        Column("error", Text, nullable=False),
        Column("failed_at", DateTime(timezone=True), nullable=False, server_default=func.now()),
        Column("replayed_at", DateTime(timezone=True)),
    )


# a database, broker, Redis or document store that is away for a moment (shared.outages: a task that publishes,
# e.g. notify's plan handing out its sends, meets the broker's errors too), a lost optimistic-concurrency race
# (not every OSError: a missing key file or a full disk needs a person, so it becomes a dead letter)
TRANSIENT = (
    OperationalError,
    ConcurrencyError,
    ConnectionError,
    TimeoutError,
    EndpointConnectionError,
    ConnectionClosedError,
    ReadTimeoutError,
    *UNREACHABLE,
)


def safe_error(exc: BaseException) -> str:
    """What may be stored or logged about an error: its type and where, never the data it was about."""
    from pydantic import ValidationError

    if isinstance(exc, ValidationError):
        fields = "; ".join(f"{'.'.join(map(str, e['loc'])) or 'message'}: {e['type']}" for e in exc.errors())
        return f"ValidationError: {fields}"[:2000]
    if isinstance(exc, DBAPIError):
        return f"{type(exc).__name__}: {type(exc.orig).__name__}"
    return f"{type(exc).__name__}: {str(exc)[:300]}"


def consume(
    handler: Callable[[], T],
    *,
    keep_dead_letter: Callable[[BaseException], object],
    budget: float,
    sleep: Callable[[float], None] = time.sleep,
    clock: Callable[[], float] = time.monotonic,
) -> T | None:
    deadline = clock() + budget
    delay = 0.2
    while True:
        try:
            return handler()
        except SoftTimeLimitExceeded as exc:
            raise Reject(safe_error(exc), requeue=True) from None
        except Exception as exc:  # noqa: BLE001
            if _cut_off_by_time_limit(exc):  # wrapped by a library or an adapter (letters' SigningError)
                raise Reject(safe_error(exc), requeue=True) from None
            if not isinstance(exc, TRANSIENT):
                _keep(exc, keep_dead_letter)
                return None
            pause = delay * (0.5 + random.random())
            if clock() + pause > deadline:
                log.warning("transient failure outlasted the task's budget; message handed back: %s", safe_error(exc))
                raise Reject(safe_error(exc), requeue=True) from None
            log.warning("transient failure, retrying in %.1fs: %s", pause, safe_error(exc))
            metrics.task_retried()
            sleep(pause)
            delay = min(delay * 2, 30.0)


def _cut_off_by_time_limit(exc: BaseException) -> bool:
    """The task's soft time limit struck, though what reached us is another error raised from it."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        if isinstance(current, SoftTimeLimitExceeded):
            return True
        seen.add(id(current))
        current = current.__cause__ or current.__context__
    return False


def _keep(exc: Exception, keep_dead_letter: Callable[[BaseException], object]) -> None:
    """Not transient: kept where a person sees it, then acknowledged."""
    try:
        keep_dead_letter(exc)
    except Exception as storing:  # noqa: BLE001
        log.error("could not keep a dead letter; message handed back: %s", safe_error(storing))
        raise Reject(safe_error(exc), requeue=True) from None
    log.error("message kept as a dead letter: %s", safe_error(exc))
    metrics.task_dead_lettered()


# -- one way to register a service's consumers --------------------------------------------------------------
def register_consumers(app: Celery, service: Service) -> None:
    """Register ``service``'s consumers as Celery tasks on ``app``, each run through ``consume`` with the
    service's dead letters; after a checked start (``check_routing``). Every worker kind registers its tasks
    this way: the dead-letter insert and the inbox record are written once, here (the inbox record of a handled
    message by the handler itself where its consumer ``records_inbox``)."""
    consumers = tuple(service.consumers()) if service.consumers else ()
    check_routing(service, consumers)
    budget = app.conf.task_soft_time_limit / 2
    for consumer in consumers:
        _register(app, service, consumer, budget)


def _register(app: Celery, service: Service, consumer: Consumer, budget: float) -> None:
    assert service.container is not None and service.dead_letters is not None and service.queue is not None  # noqa: S101
    container_of, dead_letters, queue, inbox = service.container, service.dead_letters, service.queue, service.inbox

    @app.task(name=consumer.task, bind=True)
    def task(self, message: dict) -> None:
        container = container_of()
        kept: list[uuid.UUID] = []  # consume returns None for a dead letter and for a handler that returned None

        def keep(exc: BaseException) -> None:
            letter_id = uuid.uuid4()
            with container.engine.begin() as conn:
                conn.execute(
                    insert(dead_letters).values(
                        id=letter_id, task=consumer.task, queue=queue, payload=message, error=safe_error(exc)
                    )
                )
            kept.append(letter_id)
            log.error("message kept as dead letter", extra={"dead_letter_id": str(letter_id), "task": consumer.task})

        consume(lambda: consumer.handle(container, message), keep_dead_letter=keep, budget=budget)
        # handled or kept: the reconciler does not resend it (a handler that records its inbox did so in its commit)
        if consumer.inbox_key is not None and inbox is not None and (kept or not consumer.records_inbox):
            mark_consumed(container.engine, inbox, consumer.task, consumer.inbox_key(message, self.request))


class RoutingMismatch(RuntimeError):
    """A worker's tasks and the routing contract disagree: a message would wait for a task no worker has."""


def check_routing(service: Service, consumers: tuple[Consumer, ...]) -> None:
    """The worker of ``service.queue`` consumes every task the routing contract sends to that queue
    (``shared.contracts.routing``: the relay's subscriptions and the direct messages between services), and
    each of its tasks is either one of those or one the service sends itself (its own name as prefix)."""
    from shared.contracts.routing import routed_tasks, subscription_tasks

    expected = routed_tasks(service.queue) if service.queue else set()
    declared = {c.task for c in consumers}
    missing = expected - declared
    stray = {t for t in declared - expected if not t.startswith(f"{service.name}.")}
    duplicated = len(declared) != len(consumers)
    # the relay's messages wait in its hand-off ledger until the consumer's inbox has them: a consumer of a
    # subscription that records nothing would be sent its messages again forever (one that records its inbox itself
    # names its inbox_key too, for its dead letters: Consumer.records_inbox)
    unrecorded = sorted(c.task for c in consumers if c.task in subscription_tasks() and c.inbox_key is None)
    if missing or stray or duplicated or unrecorded:
        raise RoutingMismatch(
            f"{service.name}: tasks routed to queue {service.queue!r} without a consumer: {sorted(missing)}; "
            f"consumers no route sends to: {sorted(stray)}; duplicated task names: {duplicated}; "
            f"subscription consumers without an inbox_key: {unrecorded}"
        )
