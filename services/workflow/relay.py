"""The relay: tails the event store by global position and hands each event to its subscribers' queues.

One checkpoint per subscription, moved only after its tasks were published (at least once); one active
leader per subscription (advisory lock), standbys wait. Every task published is written to the ledger
``workflow.handoffs`` in the checkpoint's transaction, so one the broker loses is published again by the
scheduler's hand-off reconciler (shared/handoffs.py) until its consumer's inbox has it.

A round that hands nothing on (most events are of no interest to a given subscription) does not write its
checkpoint at once: it remembers how far it read, and writes that at most once a second (``WRITE_EVERY``), or
with the next round that hands something on. A write per round was a transaction with a commit's fsync for each
of the ten subscriptions for nearly every event (``make bench``, walk). Should the process stop meanwhile, the
next leader reads those events again and finds nothing to hand on in them, as this one did.
"""

from __future__ import annotations

import logging
import time

from celery import Celery
from sqlalchemy import Engine

from services.workflow.adapters.tables import checkpoints, handoffs
from shared.contracts.routing import Subscription
from shared.eventstore.postgres import PostgresEventStore
from shared.handoffs import Handoff, record
from shared.subscriptions import Checkpoints, RoundResult

log = logging.getLogger(__name__)

WRITE_EVERY = 1.0  # seconds: how often a subscription with nothing to hand on writes how far it read


class EventDispatcher:
    def __init__(
        self,
        engine: Engine,
        store: PostgresEventStore,
        celery: Celery,
        subscription: Subscription,
        batch_size: int = 500,
    ) -> None:
        self.engine = engine
        self.store = store
        self.celery = celery
        self.subscription = subscription
        self.batch_size = batch_size
        self.checkpoints = Checkpoints(checkpoints)
        self.name = f"relay.{subscription.name}"
        self._read_past: tuple[int, int] | None = None  # (the stored checkpoint, how far past it this process read)
        self._written_at = 0.0

    def round(self) -> RoundResult:
        sub = self.subscription
        with self.engine.begin() as conn:
            stored = self.checkpoints.claim(conn, self.name)
            # further, if this process read past the stored checkpoint and nobody has moved it since
            after = self._read_past[1] if self._read_past and self._read_past[0] == stored else stored
            batch = self.store.read_heads(after, self.batch_size, conn)  # positions, ids and types: no payloads
            sent: list[Handoff] = []
            for event in batch:
                if sub.wants(event.type):
                    handoff = Handoff(
                        consumer=sub.task,
                        message_id=event.event_id,
                        queue=sub.queue,
                        task_id=f"{sub.name}:{event.event_id}",
                        payload={"event_id": str(event.event_id), "position": event.position, "type": event.type},
                    )
                    self.celery.send_task(
                        handoff.consumer, args=[handoff.payload], queue=handoff.queue, task_id=handoff.task_id
                    )
                    sent.append(handoff)
            last = batch[-1].position if batch else after
            now = time.monotonic()
            if last > stored and (sent or now - self._written_at >= WRITE_EVERY):
                record(conn, handoffs, sent)  # with the checkpoint: what moved it past is in the ledger
                self.checkpoints.set(conn, self.name, last)
                read_past, written_at = None, now
            else:  # nothing handed on: how far it read is kept here for now
                read_past, written_at = ((stored, last) if last > stored else None), self._written_at
        self._read_past, self._written_at = read_past, written_at  # committed
        return RoundResult(handled=len(sent), more=len(batch) == self.batch_size)
