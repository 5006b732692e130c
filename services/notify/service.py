"""The notify service, as the composition root (``pengaduan/``) sees it: its worker's tasks, its sweeps
(scheduler), the staff's news of new work (projections), its gauges and its commands. It has no HTTP API of its
own."""

from __future__ import annotations

import os

from services.notify.adapters import tables
from services.notify.adapters.gauges import gauges
from services.notify.cli import add_commands
from shared.config import Settings
from shared.service import ProjectionAdmin, RunContext, Service
from shared.subscriptions import Runner


def _consumers():
    from services.notify.entrypoints.worker import CONSUMERS

    return CONSUMERS


def _container():
    from services.notify.bootstrap import for_this_process

    return for_this_process()


def _scheduler(ctx: RunContext) -> list[Runner]:
    """Messages due again, sends left hanging, outcomes not yet reported to the workflow. The sweeps send
    nothing themselves: they hand work to the notify queue."""
    from services.notify.bootstrap import bootstrap
    from services.notify.scheduler import DueDeliveries, StaleSends, UnreportedOutcomes
    from shared.subscriptions import periodic

    notify = bootstrap(pool_size=2, with_channels=False)
    interval = float(os.environ.get("PENGADUAN_NOTIFY_SWEEP_INTERVAL", "5"))
    jobs = [DueDeliveries(notify, interval), StaleSends(notify, max(interval, 30.0)), UnreportedOutcomes(notify, 30.0)]
    return [periodic(ctx.engine, job) for job in jobs]


def _projections(ctx: RunContext) -> list[Runner]:
    """The staff's news of new work, planned from the workflow's events in rounds (services/notify/new_work.py). Its
    messages are handed to the notify queue: nothing is sent from this process, but the channels are built (from the
    same settings as the notify worker's), since a message's channel is chosen among those configured."""
    from services.notify.bootstrap import bootstrap
    from services.notify.new_work import NewWorkRounds
    from shared.eventstore.postgres import NOTIFY_CHANNEL
    from shared.subscriptions import notified

    notify = bootstrap(pool_size=2)
    rounds = NewWorkRounds(notify, ctx.settings.relay_batch_size)
    # woken by the store's NOTIFY, but at most a round per gather while events come: nobody waits on the news
    gather = notify.settings.notify_new_work_gather_seconds
    return [notified(ctx.engine, rounds, NOTIFY_CHANNEL, ctx.settings, gather=gather)]


def _status(settings: Settings) -> list[dict]:
    """The news of new work's lag and set-aside events (``pengaduan projections status``)."""
    from services.notify.adapters.gauges import NEW_WORK
    from shared.projection_failures import status_reader

    return status_reader(tables.checkpoints, tables.projection_failures, [NEW_WORK])(settings)


SERVICE = Service(
    name="notify",
    queue="notify",
    consumers=_consumers,
    container=_container,
    inbox=tables.inbox,
    dead_letters=tables.dead_letters,
    handoffs=tables.handoffs,  # reports handed to the workflow, until its inbox has them
    runners={"projections": _projections, "scheduler": _scheduler},
    projections=ProjectionAdmin(status=_status),  # the news of new work: its lag, its set-aside events
    gauges=gauges,
    cli=add_commands,
)
