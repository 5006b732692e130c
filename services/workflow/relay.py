"""The relay: tails the event store by global position and hands each event to its subscribers' queues.

One checkpoint per subscription, moved only after its tasks were published (at least once). ``Relay`` runs every
subscription in one round under one active leader (advisory lock); standbys wait. Every task published is written to the ledger
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
from collections.abc import Sequence

from celery import Celery
from sqlalchemy import Engine

from services.workflow.adapters.tables import checkpoints, handoffs
from shared.contracts.routing import Subscription
from shared.eventstore.postgres import EventHead, PostgresEventStore
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
        """This subscription alone: a transaction of its own (``Relay`` runs every subscription in one)."""
        with self.engine.begin() as conn:
            stored = self.checkpoints.claim(conn, self.name)
            after = self.resume_from(stored)
            batch = self.store.read_heads(after, self.batch_size, conn)  # positions, ids and types: no payloads
            sent, moved_to, state = self.dispatch(stored, after, batch)
            if moved_to is not None:
                record(conn, handoffs, sent)  # with the checkpoint: what moved it past is in the ledger
                self.checkpoints.set(conn, self.name, moved_to)
        self.committed(state)
        return RoundResult(handled=len(sent), more=len(batch) == self.batch_size)

    def resume_from(self, stored: int) -> int:
        """Where to read from: past the stored checkpoint if this process read further and nobody moved it since."""
        return self._read_past[1] if self._read_past and self._read_past[0] == stored else stored

    def dispatch(self, stored: int, after: int, batch: Sequence[EventHead]) -> tuple[list[Handoff], int | None, tuple]:
        """Hand on this subscription's events of ``batch`` after ``after``; returns the hand-offs published, the
        position to write as the checkpoint in the round's transaction (with the hand-offs in the ledger), None
        when it is not written now, and the state to keep once the round commits (``committed``)."""
        sub = self.subscription
        mine = [h for h in batch if h.position > after]
        sent: list[Handoff] = []
        for event in mine:
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
        last = batch[-1].position if batch and batch[-1].position > after else after
        now = time.monotonic()
        if last > stored and (sent or now - self._written_at >= WRITE_EVERY):
            return sent, last, (None, now)
        # nothing handed on: how far it read is kept here for now
        return sent, None, (((stored, last) if last > stored else None), self._written_at)

    def committed(self, state: tuple) -> None:
        self._read_past, self._written_at = state


class Relay:
    """Every subscription of the routing contract in one round: one claim of their checkpoints, one read of the
    store from the lowest of them, each subscription's events handed on, one commit. One leader for them all.

    Ten runners, one per subscription, each woken by every append's NOTIFY, made ten transactions per event, each
    reading the same events (the walk benchmark: the relay was the largest consumer of CPU per complaint). A
    subscription far behind the others (a new one) reads from its own checkpoint: the others filter what they
    passed."""

    name = "relay"

    def __init__(
        self,
        engine: Engine,
        store: PostgresEventStore,
        celery: Celery,
        subscriptions: Sequence[Subscription],
        batch_size: int = 500,
    ) -> None:
        self.engine = engine
        self.store = store
        self.batch_size = batch_size
        self.dispatchers = [EventDispatcher(engine, store, celery, s, batch_size) for s in subscriptions]
        self.checkpoints = Checkpoints(checkpoints)

    def round(self) -> RoundResult:
        with self.engine.begin() as conn:
            stored = self.checkpoints.claim_many(conn, [d.name for d in self.dispatchers])
            afters = [d.resume_from(stored[d.name]) for d in self.dispatchers]
            batch = self.store.read_heads(min(afters), self.batch_size, conn)
            results = [
                d.dispatch(stored[d.name], after, batch) for d, after in zip(self.dispatchers, afters, strict=True)
            ]
            # every hand-off of the round in the ledger (one statement) and every checkpoint it moves (another)
            record(conn, handoffs, [h for sent, moved_to, _ in results if moved_to is not None for h in sent])
            self.checkpoints.set_many(
                conn,
                {
                    d.name: moved_to
                    for d, (_, moved_to, _) in zip(self.dispatchers, results, strict=True)
                    if moved_to is not None
                },
            )
        for d, (_sent, _moved_to, state) in zip(self.dispatchers, results, strict=True):
            d.committed(state)
        return RoundResult(handled=sum(len(sent) for sent, _, _ in results), more=len(batch) == self.batch_size)
