"""The intake service, as the composition root (``pengaduan/``) sees it: its API and routes, the outbox
publisher (relay), the tracking projection, the outbox's reconcilers (scheduler), its gauges and its CLI."""

from __future__ import annotations

import argparse

from services.intake.adapters.gauges import gauges
from shared.config import Settings
from shared.service import Api, ProjectionAdmin, Route, RunContext, Service
from shared.subscriptions import Runner, notified

POST = frozenset({"POST"})


def _relay(ctx: RunContext) -> list[Runner]:
    """The outbox publisher: what intake wrote, to the queues (woken by NOTIFY on intake's channel)."""
    from services.intake.adapters.outbox import NOTIFY_CHANNEL, OutboxPublisher

    publisher = OutboxPublisher(ctx.engine, ctx.celery, ctx.settings.relay_batch_size)
    return [notified(ctx.engine, publisher, NOTIFY_CHANNEL, ctx.settings)]


def _projections(ctx: RunContext) -> list[Runner]:
    """The tracking projection (what a citizen sees by tracking code), fed from the event store."""
    from services.intake.adapters.tracking import TrackingProjection
    from services.intake.config import IntakeSettings
    from shared.eventstore.postgres import NOTIFY_CHANNEL, PostgresEventStore
    from shared.storage import store_from_settings

    # the document store: an erasure (PersonalDataErased) deletes the complaint's scans (docs/adr/0017)
    documents = store_from_settings(IntakeSettings(**ctx.settings.model_dump()).documents_url)
    projection = TrackingProjection(
        ctx.engine, PostgresEventStore(ctx.engine), ctx.settings.relay_batch_size, documents=documents
    )
    return [notified(ctx.engine, projection, NOTIFY_CHANNEL, ctx.settings, projection=True)]


def _status(settings: Settings) -> list[dict]:
    """The tracking projection's lag and set-aside events (``pengaduan projections status``)."""
    from services.intake.adapters.tables import checkpoints
    from services.intake.adapters.tracking import TrackingProjection, projection_failures
    from shared.projection_failures import status_reader

    return status_reader(checkpoints, projection_failures, [TrackingProjection.name])(settings)


def _scheduler(ctx: RunContext) -> list[Runner]:
    """The outbox reconciled against its consumers' inboxes (complaints, replies, delivery statuses), and
    published messages cleaned up."""
    from services.intake.scheduler import OutboxCleanup, OutboxReconciler, outbox_handoffs
    from shared.contracts.intake import ComplaintSubmitted
    from shared.handoffs import broker_backlog
    from shared.subscriptions import periodic

    grace, every = ctx.settings.reconcile_grace_seconds, ctx.settings.reconcile_interval_seconds
    complaints_consumer = ctx.consumers[ComplaintSubmitted.QUEUE]
    jobs = [
        OutboxReconciler(ctx.engine, grace, every, dead_letters=complaints_consumer.dead_letters),
        outbox_handoffs(ctx.engine, ctx.consumers, grace, every, broker_backlog(ctx.celery)),
        OutboxCleanup(ctx.engine, reconciled=ctx.consumers),
    ]
    return [periodic(ctx.engine, job) for job in jobs]


def _cli(sub: argparse._SubParsersAction) -> None:
    p = sub.add_parser("intake", help="intake's background processes")
    p.add_argument("action", choices=["imap-poller"])
    p.set_defaults(fn=_imap_poller)


def _imap_poller(_: argparse.Namespace) -> None:
    """Inbound e-mail from an IMAP mailbox (``pengaduan intake imap-poller``)."""
    from services.intake.config import IntakeSettings
    from services.intake.entrypoints.imap_poller import run_imap_poller

    run_imap_poller(IntakeSettings())


SERVICE = Service(
    name="intake",
    api=Api(
        "services.intake.entrypoints.api:create_app",
        8001,
        (
            Route("/v1/complaints", POST, exact=True),
            Route("/v1/complaints/form", POST, exact=True),  # the web form with its scans
            Route("/v1/track/"),
            Route("/v1/channels/"),
            Route("/v1/staff/complaints", POST, exact=True),
            Route("/v1/attachments/"),
            Route("/v1/categories", exact=True),  # the complaint categories a citizen may pick from
            # Open311: a posted service request is a complaint (intake); its reads are the dashboard's
            Route("/open311/v2/requests", POST, exact=True),
            Route("/open311/v2/requests.json", POST, exact=True),
            Route("/open311/v2/requests.xml", POST, exact=True),
        ),
    ),
    runners={"relay": _relay, "projections": _projections, "scheduler": _scheduler},
    projections=ProjectionAdmin(status=_status),  # the tracking projection: its lag, its set-aside events
    gauges=gauges,
    cli=_cli,
)
