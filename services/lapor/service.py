"""The SP4N-LAPOR! bridge, as the composition root (``pengaduan/``) sees it (docs/adr/0023): the import of LAPOR!'s
dispositions (scheduler), the follower that turns the workflow's events of LAPOR! complaints into follow-ups
(projections) and the sender that reports them to LAPOR! (scheduler); its gauges. Nothing runs unless
``PENGADUAN_LAPOR_URL`` is set."""

from __future__ import annotations

from services.lapor.adapters.gauges import gauges
from shared.config import Settings
from shared.service import ProjectionAdmin, RunContext, Service
from shared.subscriptions import Runner, notified


def _bridge(ctx: RunContext):
    from services.lapor.bootstrap import bootstrap
    from services.lapor.config import LaporSettings

    settings = LaporSettings.from_base(ctx.settings)
    return bootstrap(settings, ctx.engine) if settings.lapor_enabled else None


def _scheduler(ctx: RunContext) -> list[Runner]:
    """The import (poll, hand over to intake, acknowledge) and the sender of follow-ups."""
    from services.lapor.importer import Importer
    from services.lapor.sender import FollowUpSender
    from shared.subscriptions import periodic

    bridge = _bridge(ctx)
    if bridge is None:
        return []
    importer = Importer(bridge.engine, bridge.api, bridge.intake, bridge.directory, bridge.settings, bridge.clock)
    sender = FollowUpSender(bridge.engine, bridge.api, bridge.settings, bridge.clock)
    return [periodic(ctx.engine, importer), periodic(ctx.engine, sender)]


def _projections(ctx: RunContext) -> list[Runner]:
    """The follower: the workflow's events of LAPOR! complaints into the follow-up outbox."""
    from services.lapor.config import LaporSettings
    from services.lapor.follower import FollowUps
    from shared.eventstore.postgres import NOTIFY_CHANNEL, PostgresEventStore

    if not LaporSettings.from_base(ctx.settings).lapor_enabled:
        return []
    follower = FollowUps(ctx.engine, PostgresEventStore(ctx.engine), ctx.settings.relay_batch_size)
    return [notified(ctx.engine, follower, NOTIFY_CHANNEL, ctx.settings, projection=True)]


def _status(settings: Settings) -> list[dict]:
    """The follower's lag and set-aside events (``pengaduan projections status``); nothing while the bridge is off."""
    from services.lapor.adapters.tables import checkpoints, projection_failures
    from services.lapor.config import LaporSettings
    from services.lapor.follower import FollowUps
    from shared.projection_failures import status_reader

    if not LaporSettings.from_base(settings).lapor_enabled:
        return []
    return status_reader(checkpoints, projection_failures, [FollowUps.name])(settings)


def _cli(sub) -> None:
    from services.lapor.cli import add_commands

    add_commands(sub)


SERVICE = Service(
    name="lapor",
    runners={"projections": _projections, "scheduler": _scheduler},
    projections=ProjectionAdmin(status=_status),  # the follower: its lag, its set-aside events
    gauges=gauges,
    cli=_cli,
)
