"""Every service of the deployment, read from its declaration (``services/<name>/service.py``).

The one list of services. The CLI, the supervisor, the gateway's routes, the workers' tasks, the runner
processes, the dead letters and the operational gauges are all derived from it: a new service is one line
here plus its own ``service.py``.
"""

from __future__ import annotations

from functools import cache
from importlib import import_module

from shared.service import RunContext, Service

SERVICE_MODULES = (
    "services.intake.service",
    "services.workflow.service",
    "services.letters.service",
    "services.notify.service",
    "services.dashboard.service",
    "services.web.service",
    "services.accounts.service",
    "services.lapor.service",  # the SP4N-LAPOR! bridge (docs/adr/0023)
)


@cache
def services() -> tuple[Service, ...]:
    return tuple(import_module(m).SERVICE for m in SERVICE_MODULES)


def service(name: str) -> Service:
    for s in services():
        if s.name == name:
            return s
    raise KeyError(name)


def api_kinds() -> tuple[str, ...]:
    return tuple(s.name for s in services() if s.api)


def worker_kinds() -> tuple[str, ...]:
    """The queues a worker consumes, one worker kind each (``pengaduan worker <queue>``)."""
    return tuple(s.queue for s in services() if s.queue)


def by_queue(queue: str) -> Service:
    return next(s for s in services() if s.queue == queue)


def consumers():
    """Each queue's consumers' inbox and dead letters (the reconcilers check hand-offs against them)."""
    from shared.handoffs import Consumers

    return {
        s.queue: Consumers(s.inbox, s.dead_letters)
        for s in services()
        if s.queue and s.inbox is not None and s.dead_letters is not None
    }


def dead_letter_tables() -> dict:
    """Service name -> its dead-letter table (``pengaduan dead-letters``, the dead-letter gauge)."""
    return {s.name: s.dead_letters for s in services() if s.dead_letters is not None}


def handoff_reconcilers(ctx: RunContext) -> list:
    """One reconciler per producer's hand-off ledger (the relay's, letters', notify's), each checked against
    the inbox and dead letters of the queue it handed to; none sends copies into a busy queue."""
    from shared.handoffs import HandoffLedger, HandoffReconciler, broker_backlog

    grace, every = ctx.settings.reconcile_grace_seconds, ctx.settings.reconcile_interval_seconds
    backlog = broker_backlog(ctx.celery)
    return [
        HandoffReconciler(
            f"scheduler.handoffs.{s.name}",
            ctx.engine,
            HandoffLedger(s.handoffs, ctx.celery),
            ctx.consumers,
            grace=grace,
            interval=every,
            backlog=backlog,
        )
        for s in services()
        if s.handoffs is not None
    ]


def runners(process: str, ctx: RunContext) -> list:
    """Every service's runners of one runner process (``relay``, ``projections``, ``scheduler``)."""
    from shared.subscriptions import periodic

    found = [runner for s in services() if process in s.runners for runner in s.runners[process](ctx)]
    if process == "scheduler":
        found += [periodic(ctx.engine, job) for job in handoff_reconcilers(ctx)]
    return found


def gauges() -> list:
    """Every service's gauge readers, and the dead letters waiting per service."""
    from sqlalchemy import func, literal, select, union_all

    from shared.service import Gauge

    tables = dead_letter_tables()

    def dead_letters(conn) -> list[Gauge]:
        counts = dict(
            conn.execute(
                union_all(
                    *(
                        select(literal(name).label("service"), func.count())
                        .select_from(t)
                        .where(t.c.replayed_at.is_(None))
                        for name, t in tables.items()
                    )
                )
            ).all()
        )
        return [
            Gauge("pengaduan_dead_letters_waiting", "Dead letters not yet replayed, by service", n, {"service": name})
            for name, n in counts.items()
        ]

    return [s.gauges for s in services() if s.gauges] + [dead_letters]


def operations_collector(engine, broker_url: str, **options):
    """The deployment's scrape-time gauges (queue depths, every service's backlog), in one collector."""
    from shared.metrics import OperationsCollector

    return OperationsCollector(engine, broker_url, gauges(), **options)


@cache
def gateway_routes() -> tuple:
    """The gateway's route table: every service's routes, the most specific first (longer prefixes, then
    routes limited to some methods), so ``/v1/`` (the workflow) and ``/`` (the web app) come last."""
    from shared.gateway import Route

    routes = [(r, s.name) for s in services() if s.api for r in s.api.routes]
    ordered = sorted(routes, key=lambda rs: (-len(rs[0].prefix), not rs[0].methods, not rs[0].exact))
    return tuple(Route(r.prefix, name, r.methods, r.exact) for r, name in ordered)


def route_for(method: str, path: str) -> str | None:
    """The service the gateway sends ``method path`` to (None: 404)."""
    from shared.gateway import route_for as find

    return find(gateway_routes(), method, path)
