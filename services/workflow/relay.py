"""The relay: tails the event store by global position and hands each event to its subscribers' queues.

One checkpoint per subscription, moved only after its tasks were published (at least once); one active
leader per subscription (advisory lock), standbys wait. Every task published is written to the ledger
``workflow.handoffs`` in the checkpoint's transaction, so one the broker loses is published again by the
scheduler's hand-off reconciler (shared/handoffs.py) until its consumer's inbox has it.
"""

from __future__ import annotations

import logging

from celery import Celery
from sqlalchemy import Engine

from services.workflow.adapters.tables import checkpoints, handoffs
from shared.contracts.routing import Subscription
from shared.eventstore.postgres import PostgresEventStore
from shared.handoffs import Handoff, record
from shared.subscriptions import Checkpoints, RoundResult

log = logging.getLogger(__name__)


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

    def round(self) -> RoundResult:
        sub = self.subscription
        with self.engine.begin() as conn:
            after = self.checkpoints.claim(conn, self.name)
            batch = self.store.read_all(after=after, limit=self.batch_size, conn=conn)
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
            if batch:
                record(conn, handoffs, sent)  # with the checkpoint: what moved it past is in the ledger
                self.checkpoints.set(conn, self.name, batch[-1].position)
        return RoundResult(handled=len(sent), more=len(batch) == self.batch_size)
