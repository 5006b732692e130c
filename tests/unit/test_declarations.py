"""The services' declarations and what the composition root derives from them: gauges keep each value under
its own label, a worker refuses a handler table the routing contract does not allow, the broker declares the
routed queues, each with a worker."""

from __future__ import annotations

import contextlib

import pytest

from shared.service import Consumer, Gauge, Service


class _Conn:
    def execute(self, *_args, **_kwargs):
        return None

    def begin(self):
        return contextlib.nullcontext()


class _Engine:
    def connect(self):
        return contextlib.nullcontext(_Conn())


def test_a_gauge_with_two_labels_keeps_each_value_under_its_own_label():
    """OperationsCollector._from_postgres names a family's labels after its first sample's dict order and adds
    every later sample's values positionally: a sample whose labels come in another order is mislabelled."""
    from shared.metrics import OperationsCollector

    def read(_conn):
        return [
            Gauge("pengaduan_example", "two labels", 1, {"queue": "letters", "state": "waiting"}),
            Gauge("pengaduan_example", "two labels", 2, {"state": "failed", "queue": "notify"}),
        ]

    collector = OperationsCollector(_Engine(), "redis://127.0.0.1:1/0", [read])
    (family,) = collector._from_postgres()
    seen = {(s.labels["queue"], s.labels["state"]): s.value for s in family.samples}
    assert seen == {("letters", "waiting"): 1, ("notify", "failed"): 2}


def test_a_consumer_of_a_relay_subscription_without_an_inbox_key_is_refused_at_start():
    """The relay writes every subscription's message to workflow.handoffs and the scheduler's reconciler
    publishes it again until the consumer's inbox has it. A Consumer declared for a routed task without
    ``inbox_key`` (as docs/start-here.md's example 2 declares them) is never recorded by register_consumers,
    so the reconciler resends it every 10 minutes forever; check_routing lets such a table start."""
    from services.letters.adapters.tables import dead_letters, inbox
    from shared.tasks import RoutingMismatch, check_routing

    def handle(_container, _message):
        return None

    table = tuple(
        Consumer(task, handle)  # no inbox_key
        for task in (
            "letters.issue_receipt",
            "letters.issue_signed_letter",
            "letters.release_letter",
            "letters.render_draft",
        )
    )
    letters = Service(
        name="letters",
        queue="letters",
        consumers=lambda: table,
        container=object,
        inbox=inbox,
        dead_letters=dead_letters,
    )
    with pytest.raises(RoutingMismatch):
        check_routing(letters, table)


def test_a_consumer_that_records_its_own_inbox_still_names_the_key_of_its_dead_letters():
    """``records_inbox``: the handler records a handled message itself, the machinery a dead letter, under
    ``inbox_key``; without one a kept message would be resent forever, so the declaration is refused."""

    def handle(_container, _message):
        return None

    with pytest.raises(ValueError, match="inbox_key"):
        Consumer("notify.plan", handle, records_inbox=True)
    from services.notify.entrypoints.worker import CONSUMERS, PLAN

    (plan,) = [c for c in CONSUMERS if c.task == PLAN]
    assert plan.records_inbox and plan.inbox_key is not None


def test_the_broker_declares_exactly_the_routed_queues_and_each_has_a_worker():
    """The queues the broker declares (RabbitMQ's quorum queues) and the queue-depth gauge reads are derived from
    the routing contract, not listed a second time; each needs a service that declares its worker, and a worker
    whose queue nothing is routed to would wait for nothing: a routed message never waits for nobody."""
    from pengaduan import registry
    from shared.celery_app import QUEUES, quorum_queues
    from shared.contracts.routing import SUBSCRIPTIONS, queues, routed_tasks

    assert queues() == QUEUES
    assert len(set(QUEUES)) == len(QUEUES)
    assert {s.queue for s in SUBSCRIPTIONS} <= set(QUEUES)
    assert all(routed_tasks(q) for q in QUEUES)  # each queue is there because something is routed to it
    assert set(QUEUES) == set(registry.worker_kinds())
    assert {q.name for q in quorum_queues()} == set(QUEUES)


def test_every_worker_of_the_registry_passes_its_routing_check():
    from pengaduan import registry
    from shared.tasks import check_routing

    for queue in registry.worker_kinds():
        service = registry.by_queue(queue)
        check_routing(service, tuple(service.consumers()))


def test_every_api_process_the_cli_starts_is_its_declared_api_or_the_roots_stated_composition_of_it():
    """``pengaduan api KIND`` runs ``pengaduan.apps.factory_for(KIND)``: the factory the service declares
    (``Api.factory``), or, where ``pengaduan.apps.COMPOSED_APIS`` states a composition, that declared app with
    exactly the stated routers (whose paths the gateway sends to the same process) and gauges added. A process
    that quietly ran something else than its declaration says would mislead whoever reads the declarations."""
    from fastapi import FastAPI

    from pengaduan import apps, registry
    from shared.metrics import OperationsCollector
    from shared.metrics.http import HttpMetrics

    def paths(app: FastAPI) -> set[tuple[str, str]]:
        return {(path, method.upper()) for path, ops in app.openapi()["paths"].items() for method in ops}

    def operations(app: FastAPI) -> list[OperationsCollector]:
        return [
            c
            for m in app.user_middleware
            if m.cls is HttpMetrics
            for c in m.kwargs["collectors"]
            if isinstance(c, OperationsCollector)
        ]

    assert set(apps.COMPOSED_APIS) <= set(registry.api_kinds())
    for kind in registry.api_kinds():
        declared = registry.service(kind).api.factory
        composed = apps.COMPOSED_APIS.get(kind)
        if composed is None:
            assert apps.factory_for(kind) == declared
            continue
        assert apps.factory_for(kind) == composed.factory != declared
        app, own = apps.load(composed.factory)(), apps.load(declared)()
        joined = FastAPI()
        for router in composed.routers:
            joined.include_router(apps.load(router))
        assert paths(joined) and not paths(joined) & paths(own)
        assert paths(app) == paths(own) | paths(joined)
        assert all(registry.route_for(method, path) == kind for path, method in paths(joined))
        assert not operations(own)
        if composed.gauges:
            (collector,) = operations(app)
            assert {s.gauges for s in registry.services() if s.gauges} <= set(collector.gauges)
        else:
            assert not operations(app)
