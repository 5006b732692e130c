"""What a service declares about itself (``services/<name>/service.py``), for the composition root.

The composition root (``pengaduan/``) is the one place that knows every service. It starts processes
(``pengaduan api|worker|relay|projections|scheduler``), routes the gateway, registers the Celery tasks,
serves the deployment's operational gauges and lists dead letters, all from these declarations: adding a
task, a job, a route or a service touches that service's ``service.py`` and nothing else. ``shared/``
holds only the shape of the declaration; it imports nothing from ``services/`` (docs/adr/0007).
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any
from uuid import UUID

if TYPE_CHECKING:  # the declaration is data; these are only its types
    import argparse

    from celery import Celery
    from sqlalchemy import Engine, Table
    from sqlalchemy.engine import Connection

    from shared.config import Settings
    from shared.handoffs import Consumers
    from shared.subscriptions import Runner

RUNNER_PROCESSES = ("relay", "projections", "scheduler")


@dataclass(frozen=True)
class Consumer:
    """One Celery task of a service's worker: the message a queue delivers, and what handles it.

    ``handle(container, message)`` does the work (idempotently: the service's inbox). Failures follow
    ``shared.tasks.consume``: transient ones are retried, then handed back; others become the service's dead
    letters. ``inbox_key(message, request)``, if set, is the id under which the message is recorded in the
    service's inbox after it was handled or kept, so the producer's hand-off reconciler stops resending it
    (``request`` is Celery's task request: its ``id`` is the publisher's message id).

    ``records_inbox``: the handler writes the message's inbox row itself, under the task's name and that id, in
    the transaction that commits its work (notify's plan: one transaction where the row of its own was a second);
    the machinery then records only a message it kept as a dead letter. Such a consumer still names its
    ``inbox_key``: a dead letter is recorded under it."""

    task: str
    handle: Callable[[Any, dict[str, Any]], object]
    inbox_key: Callable[[dict[str, Any], Any], UUID] | None = None
    records_inbox: bool = False

    def __post_init__(self) -> None:
        if self.records_inbox and self.inbox_key is None:
            raise ValueError(f"{self.task}: a consumer that records its inbox needs the inbox_key of its dead letters")


@dataclass(frozen=True)
class Route:
    """Requests the gateway sends to a service: a path prefix (or the exact path), for some methods or all."""

    prefix: str
    methods: frozenset[str] = frozenset()  # empty: any
    exact: bool = False


@dataclass(frozen=True)
class Api:
    """A service's HTTP API: the uvicorn factory (``module:function``), its default port, its routes."""

    factory: str
    port: int
    routes: tuple[Route, ...] = ()


@dataclass
class RunContext:
    """What the composition root hands to a service's runner factories in a runner process."""

    settings: Settings
    engine: Engine  # the process's engine (runners take their connections from it)
    celery: Celery  # for publishing (the relay) and broker depth (reconcilers)
    # each queue's consumers' inbox and dead letters, from every service's declaration: a producer's
    # reconciler checks its hand-offs against them without importing the consumer
    consumers: Mapping[str, Consumers] = field(default_factory=dict)


@dataclass(frozen=True)
class ProjectionAdmin:
    """What a service runs in the projections process, as ``pengaduan projections status|rebuild`` reaches it: each
    subscription's lag and set-aside events (``status``), and the read models that can be rebuilt from position 0
    (``names``, ``rebuild`` of one by name; none for a subscription that only follows the store)."""

    status: Callable[[Settings], list[dict[str, Any]]]  # name, checkpoint, head, lag, failed, held, failures
    names: Callable[[], Sequence[str]] = tuple  # the rebuildable ones
    rebuild: Callable[[Settings, str], dict[str, Any]] | None = None  # ValueError for an unknown name


@dataclass(frozen=True)
class Service:
    """One service, as the composition root sees it. Everything is optional: a service declares what it has."""

    name: str
    api: Api | None = None
    # its worker: the queue it consumes, the tasks, and where its consumers keep what they handled
    queue: str | None = None
    consumers: Callable[[], Sequence[Consumer]] | None = None  # imported only by its worker
    container: Callable[[], Any] | None = None  # the worker process's container, built on first use
    inbox: Table | None = None
    dead_letters: Table | None = None
    handoffs: Table | None = None  # messages it handed to another queue, until that queue's inbox has them
    dev_concurrency: int = 1  # worker processes ``make run`` starts (production scales with --concurrency, replicas)
    # background runners, by the process that runs them: "relay", "projections", "scheduler"
    runners: Mapping[str, Callable[[RunContext], list[Runner]]] = field(default_factory=dict)
    # scrape-time gauges read from its own tables (``shared.metrics.OperationsCollector``)
    gauges: Callable[[Connection], list[Gauge]] | None = None
    # its CLI subcommands: ``add(subparsers)`` adds them (each sets ``fn``)
    cli: Callable[[argparse._SubParsersAction[Any]], None] | None = None
    projections: ProjectionAdmin | None = None  # read models ``pengaduan projections status|rebuild`` reaches

    def __post_init__(self) -> None:
        unknown = set(self.runners) - set(RUNNER_PROCESSES)
        if unknown:
            raise ValueError(f"{self.name}: runners for unknown processes {sorted(unknown)}")
        if self.consumers and not (self.queue and self.container and self.dead_letters is not None):
            raise ValueError(f"{self.name}: consumers need a queue, a container and a dead-letter table")


@dataclass(frozen=True)
class Gauge:
    """One sample of an operational gauge: ``name`` and ``help`` as Prometheus shows them, its labels."""

    name: str
    help: str
    value: float
    labels: Mapping[str, str] = field(default_factory=dict)
