"""The workflow service, as the composition root (``pengaduan/``) sees it: its API, its worker's tasks, the
relay that hands its events to the queues, its periodic jobs and its gauges. Imports stay light: what a
process needs is imported when that process asks for it."""

from __future__ import annotations

from services.workflow.adapters import tables
from services.workflow.adapters.gauges import gauges
from shared.service import Api, Route, RunContext, Service
from shared.subscriptions import Runner, notified


def _consumers():
    from services.workflow.entrypoints.worker import CONSUMERS

    return CONSUMERS


def _container():
    from services.workflow.bootstrap import for_this_process

    return for_this_process()


def _relay(ctx: RunContext) -> list[Runner]:
    """Every subscription of the routing contract in one round (``Relay``): the store's events to the queues."""
    from services.workflow.relay import Relay
    from shared.contracts.routing import SUBSCRIPTIONS
    from shared.eventstore.postgres import NOTIFY_CHANNEL, PostgresEventStore

    relay = Relay(ctx.engine, PostgresEventStore(ctx.engine), ctx.celery, SUBSCRIPTIONS, ctx.settings.relay_batch_size)
    return [notified(ctx.engine, relay, NOTIFY_CHANNEL, ctx.settings)]


def _scheduler(ctx: RunContext) -> list[Runner]:
    """Overdue steps (StepOverdue), document requests past their time (closed incomplete), referrals past their
    follow-up time (closed as referred), personal data past its retention period (erased)."""
    from services.workflow.bootstrap import bootstrap
    from services.workflow.scheduler import ExpiredDocumentRequests, LapsedReferrals, OverdueSteps, Retention
    from shared.subscriptions import periodic

    workflow = bootstrap(ctx.settings)
    return [
        periodic(ctx.engine, job)
        for job in (
            OverdueSteps(workflow),
            ExpiredDocumentRequests(workflow),
            LapsedReferrals(workflow),
            Retention(workflow),
        )
    ]


SERVICE = Service(
    name="workflow",
    # every /v1/ path no other service claims: the staff's actions, inboxes, complaints, sign-in. The process
    # ``pengaduan api workflow`` starts is this app as the root composes it (pengaduan/apps.py: COMPOSED_APIS):
    # with accounts' sign-in router (/v1/auth/*) and every service's scrape-time gauges on its /metrics
    api=Api("services.workflow.entrypoints.api:create_app", 8002, (Route("/v1/"),)),
    queue="workflow",
    dev_concurrency=2,
    consumers=_consumers,
    container=_container,
    inbox=tables.inbox,
    dead_letters=tables.dead_letters,
    handoffs=tables.handoffs,  # what the relay handed to letters and notify, until their inbox has it
    runners={"relay": _relay, "scheduler": _scheduler},
    gauges=gauges,
)
