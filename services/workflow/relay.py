"""The relay: tails the event store by global position and hands each event to its subscribers' queues.

One checkpoint per subscription, moved only after its tasks were published (at least once); one active
leader per subscription (advisory lock), standbys wait.
"""
from __future__ import annotations

import logging

from celery import Celery
from sqlalchemy import Engine

from services.workflow.adapters.tables import checkpoints
from shared.contracts.routing import Subscription
from shared.eventstore.postgres import PostgresEventStore
from shared.subscriptions import Checkpoints, RoundResult

log = logging.getLogger(__name__)


class EventDispatcher:
    def __init__(
        self, engine: Engine, store: PostgresEventStore, celery: Celery, subscription: Subscription, batch_size: int = 500
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
            sent = 0
            for event in batch:
                if sub.wants(event.type):
                    self.celery.send_task(
                        sub.task,
                        args=[{"event_id": str(event.event_id), "position": event.position, "type": event.type}],
                        queue=sub.queue,
                        task_id=f"{sub.name}:{event.event_id}",
                    )
                    sent += 1
            if batch:
                self.checkpoints.set(conn, self.name, batch[-1].position)
        return RoundResult(handled=sent, more=len(batch) == self.batch_size)
