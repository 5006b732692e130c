"""Prometheus metrics: what every process counts, and where each kind of process serves ``/metrics``.

Where:
- HTTP services (intake, workflow, letters APIs, the gateway): ``GET /metrics`` on their own port
  (``install_metrics(app, service)``; not in the OpenAPI schema; nginx answers ``/metrics`` on the public
  base URL with 404: scrape each process directly). Requests are counted by service, method, route
  *template* (never the raw path: no tracking codes or ids in labels) and status class.
- The workflow API's ``/metrics`` also carries the scrape-time gauges of the whole deployment
  (``OperationsCollector``: queue depths, and what each service declares in its ``service.py``: intake
  outbox, subscription lag, overdue steps, notify deliveries, dead letters), read from PostgreSQL and the
  broker with short timeouts and cached for 5 s: one place, so scraping every replica of every process never
  multiplies those queries. The composition root (``pengaduan.apps``) mounts it; the workflow's own code
  knows nothing of the other services' tables.
- Workers and runner processes (relay, projections, scheduler) have no HTTP API: with
  ``PENGADUAN_METRICS_PORT=N`` (default 0: off) they serve ``/metrics`` on that port
  (``PENGADUAN_METRICS_HOST``, default 127.0.0.1). One port per process: give each its own.

Workers are prefork: tasks run in pool children. ``serve_worker_metrics`` (called in the parent before the
pool starts) creates a fresh directory ``<tmp>/pengaduan-metrics-<kind>-<pid>-*`` and points
``PROMETHEUS_MULTIPROC_DIR`` at it (any inherited value is replaced: one directory per worker, never
shared), so every child writes its samples there; the parent alone runs the HTTP server and sums the
files on each scrape. A child that exits is marked dead (its live gauges dropped; counters keep counting);
the parent removes the directory at exit, and a later start removes those of parents that died uncleanly.
The task counts come from Celery's signals (task_prerun/task_postrun in the child; task_failure in the
parent for a hard time limit, which kills the child). ``task_retried`` and ``task_dead_lettered`` are the
hooks for ``shared.tasks.consume``: the ``retried`` and ``dead_lettered`` outcomes count where it calls them.

Nothing is built at import: a worker must choose multiprocess mode before the first metric exists.
"""
from __future__ import annotations

import atexit
import glob
import logging
import os
import re
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from shared.service import Gauge

log = logging.getLogger(__name__)

PORT_ENV = "PENGADUAN_METRICS_PORT"
HOST_ENV = "PENGADUAN_METRICS_HOST"
MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
DIR_PREFIX = "pengaduan-metrics-"

METHODS = frozenset({"GET", "HEAD", "POST", "PUT", "PATCH", "DELETE", "OPTIONS"})
UNMATCHED = "<unmatched>"
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TASK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)
TASK_OUTCOMES = ("success", "retried", "requeued", "dead_lettered", "failed")


# -- the instruments ------------------------------------------------------------------------------------------
@dataclass(frozen=True)
class Instruments:
    http_requests: Any
    http_duration: Any
    http_in_progress: Any
    tasks: Any
    task_duration: Any
    task_retries: Any
    runner_rounds: Any
    runner_handled: Any
    runner_errors: Any
    runner_round_duration: Any
    runner_leader: Any


_instruments_lock = threading.Lock()


def instruments() -> Instruments:
    """This process's metrics, created once on first use (after a worker chose multiprocess mode). Safe
    from many threads at once (the relay's subscriptions start together)."""
    global _instruments
    if _instruments is None:
        with _instruments_lock:
            if _instruments is None:
                _instruments = _make_instruments()
    return _instruments


_instruments: Instruments | None = None


def _make_instruments() -> Instruments:
    from prometheus_client import Counter, Gauge, Histogram

    http = ["service", "method", "route", "status"]
    return Instruments(
        http_requests=Counter("pengaduan_http_requests", "HTTP requests answered", http),
        http_duration=Histogram("pengaduan_http_request_duration_seconds", "Time to answer an HTTP request", http,
                                buckets=HTTP_BUCKETS),
        http_in_progress=Gauge("pengaduan_http_requests_in_progress", "HTTP requests being answered", ["service"],
                               multiprocess_mode="livesum"),
        tasks=Counter("pengaduan_worker_tasks", "Task runs by how they ended: success, retried (succeeded after "
                      "in-task retries), requeued (handed back to the broker), dead_lettered, failed",
                      ["task", "outcome"]),
        task_duration=Histogram("pengaduan_worker_task_duration_seconds", "Time a task ran, by how it ended",
                                ["task", "outcome"], buckets=TASK_BUCKETS),
        task_retries=Counter("pengaduan_worker_task_retries", "Transient failures retried inside a task", ["task"]),
        runner_rounds=Counter("pengaduan_runner_rounds", "Rounds a runner completed while leading", ["runner"]),
        runner_handled=Counter("pengaduan_runner_handled", "Items a runner's rounds handled (events, rows, jobs)",
                               ["runner"]),
        runner_errors=Counter("pengaduan_runner_round_errors", "Failed rounds (redone after a backoff)", ["runner"]),
        runner_round_duration=Histogram("pengaduan_runner_round_duration_seconds", "Time one round took", ["runner"]),
        runner_leader=Gauge("pengaduan_runner_leader", "1 while this process holds the runner's leader lock",
                            ["runner"], multiprocess_mode="livesum"),
    )


def _exposed_registry():
    """What a scrape reads: the process's registry, or in multiprocess mode the sum of every process's files."""
    from prometheus_client import REGISTRY, CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    if not os.environ.get(MULTIPROC_ENV):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


class _Union:
    """Several collectors read as one registry (for ``generate_latest``)."""

    def __init__(self, *sources) -> None:
        self.sources = sources

    def collect(self):
        for source in self.sources:
            yield from source.collect()


# -- HTTP -----------------------------------------------------------------------------------------------------
def install_metrics(app, service: str, *, collectors: Iterable[Any] = ()) -> None:
    """Count ``app``'s requests and answer ``GET /metrics`` (with ``collectors``' samples added to the page).

    Call it last in ``create_app``, so the counting sits outside the other middleware. The page is answered
    by the middleware itself, not a route: it is in no OpenAPI schema, comes before any catch-all (the
    gateway's proxy), and is not one of the gateway's own paths that nginx forwards (deploy/nginx.conf)."""
    app.add_middleware(HttpMetrics, service=service, router=app.router, collectors=tuple(collectors))


class HttpMetrics:
    """ASGI middleware: counts and times each request by its route template and status class, and answers
    ``GET /metrics``."""

    def __init__(self, app, service: str, router, collectors: tuple = ()) -> None:
        self.app = app
        self.service = service
        self.router = router
        self.collectors = collectors
        self.metrics = instruments()

    async def __call__(self, scope, receive, send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        if scope.get("path") == "/metrics" and scope.get("method") in ("GET", "HEAD"):
            await self.page(scope, send)
            return
        before = dict(scope)  # routing adds to the scope; a fallback match needs it as it came in
        status = 500  # unless a response starts: an exception that escaped every handler
        started = time.perf_counter()

        async def sending(message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
            await send(message)

        in_progress = self.metrics.http_in_progress.labels(self.service)
        in_progress.inc()
        try:
            await self.app(scope, receive, sending)
        finally:
            in_progress.dec()
            method = scope.get("method", "GET")
            labels = (self.service, method if method in METHODS else "OTHER", route_template(scope, before, self.router),
                      f"{status // 100}xx")
            self.metrics.http_requests.labels(*labels).inc()
            self.metrics.http_duration.labels(*labels).observe(time.perf_counter() - started)

    async def page(self, scope, send) -> None:
        from prometheus_client import exposition
        from starlette.concurrency import run_in_threadpool

        accept = next((v.decode("latin-1") for k, v in scope.get("headers", []) if k == b"accept"), "")
        encoder, content_type = exposition.choose_encoder(accept)
        # scrape-time collectors block on PostgreSQL and Redis: off the event loop
        body = await run_in_threadpool(encoder, _Union(_exposed_registry(), *self.collectors))
        await send({"type": "http.response.start", "status": 200, "headers": [
            (b"content-type", content_type.encode()), (b"content-length", str(len(body)).encode()),
            (b"cache-control", b"no-store"),
        ]})
        await send({"type": "http.response.body", "body": b"" if scope["method"] == "HEAD" else body})


def route_template(scope, before, router) -> str:
    """The path pattern that served the request (``/v1/track/{tracking_code}``), never the path itself."""
    route = scope.get("route")
    template = getattr(route, "path_format", None)
    if template:
        return template
    from starlette.routing import Match

    for candidate in router.routes:  # answered before routing (a body limit), or a mount (static files)
        match, _ = candidate.matches(before)
        if match is Match.FULL:
            return getattr(candidate, "path_format", None) or UNMATCHED
    return UNMATCHED


# -- workers --------------------------------------------------------------------------------------------------
def metrics_port() -> int:
    raw = os.environ.get(PORT_ENV, "").strip() or "0"
    try:
        port = int(raw)
    except ValueError:
        raise SystemExit(f"error: {PORT_ENV} must be a port number, not {raw!r}") from None
    return port


def serve_worker_metrics(kind: str) -> None:
    """In a worker's parent, before the pool starts: multiprocess mode, the task signals, ``/metrics`` on
    ``PENGADUAN_METRICS_PORT``. Does nothing when the port is 0 (the default)."""
    port = metrics_port()
    if not port:
        return
    _remove_orphaned_dirs()
    directory = tempfile.mkdtemp(prefix=f"{DIR_PREFIX}{re.sub(r'[^a-z0-9]', '', kind)}-{os.getpid()}-")
    os.environ[MULTIPROC_ENV] = directory
    _choose_value_class()
    atexit.register(_remove_dir, directory, os.getpid())
    _connect_task_signals()
    _start_server(port, f"worker {kind}")


def serve_runner_metrics(process: str) -> None:
    """In a runner process (relay, projections, scheduler): ``/metrics`` on ``PENGADUAN_METRICS_PORT``, if set."""
    port = metrics_port()
    if port:
        _start_server(port, process)


def _start_server(port: int, process: str) -> None:
    from prometheus_client import start_http_server

    host = os.environ.get(HOST_ENV, "127.0.0.1")
    start_http_server(port, addr=host, registry=_exposed_registry())
    log.info("metrics of %s served at http://%s:%d/metrics", process, host, port)


def _choose_value_class() -> None:
    """Multiprocess values from now on, even if something imported prometheus_client before the switch."""
    import prometheus_client.values as values

    values.ValueClass = values.get_value_class()


def _remove_dir(directory: str, owner: int) -> None:
    if os.getpid() == owner:  # never from a forked child
        shutil.rmtree(directory, ignore_errors=True)


def _remove_orphaned_dirs() -> None:
    """Directories left by worker parents that were killed (no atexit): their pid is in the name."""
    for path in glob.glob(os.path.join(tempfile.gettempdir(), f"{DIR_PREFIX}*-*-*")):
        match = re.match(rf"{DIR_PREFIX}[a-z0-9]*-(\d+)-", os.path.basename(path))
        if match and not _alive(int(match.group(1))):
            shutil.rmtree(path, ignore_errors=True)


def _alive(pid: int) -> bool:
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


@dataclass
class _Run:
    task: str
    started: float
    retries: int = 0
    dead_lettered: bool = False


_runs: dict[str, _Run] = {}  # task id -> the run in this process (a pool child runs one at a time)
_current = threading.local()


def task_retried() -> None:
    """``consume`` retries a transient failure inside the task (no-op outside a measured task)."""
    run = getattr(_current, "run", None)
    if run is not None:
        run.retries += 1
        instruments().task_retries.labels(run.task).inc()


def task_dead_lettered() -> None:
    """``consume`` kept the message as a dead letter (the task then ends normally and is acknowledged)."""
    run = getattr(_current, "run", None)
    if run is not None:
        run.dead_lettered = True


def on_task_prerun(task_id=None, task=None, **_) -> None:
    run = _Run(task=task.name, started=time.perf_counter())
    _runs[task_id] = run
    _current.run = run


def on_task_postrun(task_id=None, task=None, retval=None, state=None, **_) -> None:
    run = _runs.pop(task_id, None)
    _current.run = None
    if run is None:
        return
    outcome = task_outcome(state, retval, run.retries, run.dead_lettered)
    m = instruments()
    m.tasks.labels(run.task, outcome).inc()
    m.task_duration.labels(run.task, outcome).observe(time.perf_counter() - run.started)


def on_task_failure(task_id=None, exception=None, sender=None, **_) -> None:
    """Failures in the task's own process are counted at postrun; this counts what the parent sees alone:
    a hard time limit (the child was killed; the message goes back unless acks_on_timeout)."""
    from billiard.exceptions import TimeLimitExceeded, WorkerLostError

    if task_id in _runs or not isinstance(exception, (TimeLimitExceeded, WorkerLostError)):
        return
    requeued = isinstance(exception, TimeLimitExceeded) and getattr(sender, "acks_late", False) and not getattr(
        sender, "acks_on_timeout", False)
    instruments().tasks.labels(getattr(sender, "name", "unknown"), "requeued" if requeued else "failed").inc()


def on_worker_process_shutdown(pid=None, **_) -> None:
    from prometheus_client import multiprocess

    multiprocess.mark_process_dead(pid or os.getpid())


def task_outcome(state: str | None, retval: Any, retries: int, dead_lettered: bool) -> str:
    if state == "SUCCESS":
        if dead_lettered:
            return "dead_lettered"
        return "retried" if retries else "success"
    if state == "REJECTED":
        return "requeued" if getattr(retval, "requeue", False) else "failed"
    if state == "RETRY":
        return "requeued"
    return "failed"


def _connect_task_signals() -> None:
    from celery import signals

    signals.task_prerun.connect(on_task_prerun, weak=False)
    signals.task_postrun.connect(on_task_postrun, weak=False)
    signals.task_failure.connect(on_task_failure, weak=False)
    signals.worker_process_shutdown.connect(on_worker_process_shutdown, weak=False)


# -- runners --------------------------------------------------------------------------------------------------
def runner_leading(name: str, leading: bool) -> None:
    instruments().runner_leader.labels(name).set(1 if leading else 0)


def runner_round(name: str, handled: int, seconds: float) -> None:
    m = instruments()
    m.runner_rounds.labels(name).inc()
    m.runner_handled.labels(name).inc(handled)
    m.runner_round_duration.labels(name).observe(seconds)


def runner_failed(name: str) -> None:
    instruments().runner_errors.labels(name).inc()


# -- scrape-time gauges ---------------------------------------------------------------------------------------
QUEUE_DEPTH_HELP = "Messages waiting in a Celery queue (Redis: the queue's lists; RabbitMQ: its ready messages)"


class OperationsCollector:
    """The deployment's backlog, read when scraped (cached ``ttl`` seconds; each source with a short timeout).

    A source that cannot be read is reported (``pengaduan_ops_source_up{source} 0`` and a warning in the
    log) and its gauges are left out of that scrape, rather than failing the whole page."""

    def __init__(self, engine, broker_url: str, gauges: Iterable[Callable[[Any], list[Gauge]]], *,
                 queues: Iterable[str] | None = None, ttl: float = 5.0, timeout: float = 2.0) -> None:
        """``broker_url``: the Celery broker (``Settings.effective_broker_url``), Redis or RabbitMQ.
        ``gauges``: functions reading samples from a connection (the composition root passes every service's)."""
        from shared.celery_app import QUEUES

        self.engine = engine
        self.broker_url = broker_url
        self.gauges = tuple(gauges)
        self.queues = tuple(queues) if queues is not None else QUEUES
        self.ttl = ttl
        self.timeout = timeout
        self._lock = threading.Lock()
        self._families: list = []
        self._at: float | None = None
        self._redis = None

    def collect(self):
        with self._lock:  # concurrent scrapes wait for one reading instead of each querying
            now = time.monotonic()
            if self._at is None or now - self._at >= self.ttl:
                self._families = self._read()
                self._at = time.monotonic()
            families = list(self._families)
        return iter(families)

    def _read(self) -> list:
        from prometheus_client.core import GaugeMetricFamily

        up = GaugeMetricFamily("pengaduan_ops_source_up", "1 if the source of the scrape-time gauges answered",
                               labels=["source"])
        families: list = [up]
        from shared.celery_app import is_amqp

        broker = ("rabbitmq", self._from_rabbitmq) if is_amqp(self.broker_url) else ("redis", self._from_redis)
        for source, read in (("postgres", self._from_postgres), broker):
            try:
                families += read()
                up.add_metric([source], 1)
            except Exception as exc:  # reported in the page and the log; the other source still counts
                log.warning("scrape-time metrics: %s unreadable: %s", source, type(exc).__name__)
                up.add_metric([source], 0)
        return families

    def _from_redis(self) -> list:
        import redis
        from prometheus_client.core import GaugeMetricFamily

        if self._redis is None:
            self._redis = redis.Redis.from_url(self.broker_url, socket_timeout=self.timeout,
                                               socket_connect_timeout=self.timeout)
        pipe = self._redis.pipeline(transaction=False)
        for queue in self.queues:  # kombu keeps priorities 3, 6, 9 in sibling lists "<queue>\x06\x16<n>"
            for key in (queue, *(f"{queue}\x06\x16{p}" for p in (3, 6, 9))):
                pipe.llen(key)
        pipe.hlen("unacked")
        counts = pipe.execute()
        depth = GaugeMetricFamily("pengaduan_queue_depth", QUEUE_DEPTH_HELP, labels=["queue"])
        for i, queue in enumerate(self.queues):
            depth.add_metric([queue], sum(counts[i * 4:(i + 1) * 4]))
        unacked = GaugeMetricFamily("pengaduan_queue_unacked", "Messages handed to workers and not yet acknowledged")
        unacked.add_metric([], counts[-1])
        return [depth, unacked]

    def _from_rabbitmq(self) -> list:
        """Ready messages per queue from a passive ``queue.declare`` (plain AMQP: no management plugin, no
        HTTP API, no credentials beyond the broker URL's). AMQP tells no unacknowledged count, so
        ``pengaduan_queue_unacked`` is left out for RabbitMQ; its management API or Prometheus plugin has it."""
        from amqp.exceptions import NotFound
        from kombu import Connection
        from prometheus_client.core import GaugeMetricFamily

        depth = GaugeMetricFamily("pengaduan_queue_depth", QUEUE_DEPTH_HELP, labels=["queue"])
        with Connection(self.broker_url, connect_timeout=self.timeout,
                        transport_options={"read_timeout": self.timeout, "write_timeout": self.timeout}) as conn:
            for queue in self.queues:
                channel = conn.channel()
                try:
                    depth.add_metric([queue], channel.queue_declare(queue, passive=True).message_count)
                except NotFound:  # not declared yet (no producer or worker has used it): nothing waits
                    depth.add_metric([queue], 0)
                finally:
                    if channel.is_open:
                        channel.close()
        return [depth]

    def _from_postgres(self) -> list:
        """Every service's gauges (``Service.gauges``), read in one transaction with a statement timeout and
        gathered into one family per name (several services may add samples to one gauge)."""
        from prometheus_client.core import GaugeMetricFamily
        from sqlalchemy import text

        with self.engine.connect() as conn, conn.begin():
            conn.execute(text(f"SET LOCAL statement_timeout = {int(self.timeout * 1000)}"))
            samples = [sample for read in self.gauges for sample in read(conn)]
        families: dict[str, GaugeMetricFamily] = {}
        for sample in sorted(samples, key=lambda g: (g.name, sorted(g.labels.items()))):
            family = families.get(sample.name)
            if family is None:
                family = families[sample.name] = GaugeMetricFamily(sample.name, sample.help, labels=list(sample.labels))
            family.add_metric(list(sample.labels.values()), sample.value)
        return list(families.values())
