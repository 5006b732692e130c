"""The staff's news of new work (``notify_new_work``), planned from the workflow's events in rounds: a catch-up
subscription of the projections process (one active instance), where it was a ``notify.plan`` task per event
(docs/adr/0031).

A round reads the events after its checkpoint that give a role new work (``planning.NEW_WORK_EVENTS``: every
completed step but the last, documents received, a redirected disposition, a reopening), plans their messages
(``planning.NewWork``: to the active staff of that role, and of the disposed unit where the step is a unit's, who
asked to hear of new work) and moves its checkpoint, in one transaction; then hands each new message to the notify
queue, whose worker sends it exactly once as any other (``notify.send``). The messages' ids are their idempotency
keys: a round done again, or an event an older deployment's ``notify.plan`` planned already, adds nothing. A round
that dies between its commit and the hand-off leaves its messages ``pending``, which the scheduler's sweep
(``DueDeliveries``) enqueues once ``ENQUEUE_GRACE`` has passed.

An event it cannot plan (a kecamatan no longer served, a bug meeting an odd event) is set aside and the round goes on
(``shared.projection_failures``, docs/adr/0015), holding nothing behind it: one step's news does not depend on
another's, so its complaint's later events are planned as they come. The set-aside events are tried again by the
first round of each process and every ``RETRY_SECONDS``. Older events than ``notify_max_event_age_hours`` make no
message (news of work long begun, read by a round catching up after an outage, or a set-aside event fixed that
late). Migration 0033 starts the round where the relay had handed the events to ``notify.plan`` (which planned the
news until then); without that checkpoint (a new deployment) the first round starts with the events recorded within
that age, not at the beginning of the store.
"""

from __future__ import annotations

import logging
import time
from datetime import timedelta

from sqlalchemy import func, select
from sqlalchemy.engine import Connection

from services.notify.adapters.postgres import PostgresUnitOfWork
from services.notify.adapters.tables import checkpoints, projection_failures
from services.notify.bootstrap import Notify
from services.notify.handlers.planning import NEW_WORK_TYPES, NewWork
from shared.eventstore.postgres import events
from shared.projection_failures import SetAside, transaction
from shared.subscriptions import Checkpoints, RoundResult

log = logging.getLogger(__name__)

RETRY_SECONDS = 300.0  # how often the set-aside events are tried again (one query when there are none)


class NewWorkRounds:
    name = "notify.new-work"

    def __init__(self, notify: Notify, batch_size: int = 500) -> None:
        self.notify = notify
        self.batch_size = batch_size
        self.checkpoints = Checkpoints(checkpoints)
        # one step's news does not depend on another's: an event that fails holds none of its complaint's behind it
        self.set_aside = SetAside(projection_failures, self.name, hold=False)
        self.retry_pending = True  # the first round of each process tries the set-aside events again, and then
        self.retried_at = 0.0  # every RETRY_SECONDS: the news of a fixed event is not left for the next restart

    def round(self) -> RoundResult:
        if time.monotonic() - self.retried_at >= RETRY_SECONDS:
            self.retry_pending = True
        planner, planned, read = transaction(self.notify.engine, self.round_in)  # a failed batch: event by event
        if self.retry_pending:  # committed (a failed round tries them again)
            self.retry_pending, self.retried_at = False, time.monotonic()
        sent = planner.enqueue()
        if sent or planner.too_old:
            log.info(
                "news of new work planned",
                extra={"subscription": self.name, "events": planned, "messages": sent, "too_old": planner.too_old},
            )
        # every event read counts, not only those of its types: after any round that read one, the runner gathers
        # (``notify_new_work_gather_seconds``) before the next, where most appends (a notification recorded, a
        # document issued) would each have woken a round that had nothing to plan
        return RoundResult(handled=read, more=read == self.batch_size)

    def round_in(self, conn: Connection) -> tuple[NewWork, int, int]:
        """One round inside ``conn``'s transaction: the planner (its messages to enqueue once committed), the events of
        its types it read, and all it read."""
        after = self.checkpoints.claim(conn, self.name)  # no parked streams to read with it (hold=False)
        start = after or self._first_position(conn)
        # read before anything is written: a round holding a transaction id reads only what settled without it
        batch, last, read = self.notify.store.read_all_of_types(start, self.batch_size, NEW_WORK_TYPES, conn)
        planner = NewWork(self.notify, PostgresUnitOfWork.within(conn, self.notify.store))
        if self.retry_pending:
            self.set_aside.retry(conn, self.notify.store, planner.plan)
        if batch:  # an event it cannot plan is set aside (alone: hold=False)
            self.set_aside.apply(conn, batch, planner.plan)
        position = last if read else start
        if position != after:
            self.checkpoints.set(conn, self.name, position)
        return planner, len(batch), read

    def _first_position(self, conn: Connection) -> int:
        """Where the first round starts without a checkpoint (a new deployment: migration 0033 starts an upgraded
        one where its relay was): after the last event recorded before the age at which events make no message."""
        oldest = self.notify.clock() - timedelta(hours=self.notify.settings.notify_max_event_age_hours)
        return conn.execute(
            select(func.coalesce(func.max(events.c.position), 0)).where(events.c.recorded_at < oldest)
        ).scalar_one()
