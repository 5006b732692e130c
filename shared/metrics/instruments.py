"""The process's Prometheus instruments (built on first use, never at import) and the registry a scrape reads."""

from __future__ import annotations

import os
import threading
from dataclasses import dataclass
from typing import Any

MULTIPROC_ENV = "PROMETHEUS_MULTIPROC_DIR"
HTTP_BUCKETS = (0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0)
TASK_BUCKETS = (0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1.0, 2.5, 5.0, 10.0, 30.0, 60.0, 120.0, 300.0)


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
    global _instruments  # noqa: PLW0603
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
        http_duration=Histogram(
            "pengaduan_http_request_duration_seconds", "Time to answer an HTTP request", http, buckets=HTTP_BUCKETS
        ),
        http_in_progress=Gauge(
            "pengaduan_http_requests_in_progress",
            "HTTP requests being answered",
            ["service"],
            multiprocess_mode="livesum",
        ),
        tasks=Counter(
            "pengaduan_worker_tasks",
            "Task runs by how they ended: success, retried (succeeded after "
            "in-task retries), requeued (handed back to the broker), dead_lettered, failed",
            ["task", "outcome"],
        ),
        task_duration=Histogram(
            "pengaduan_worker_task_duration_seconds",
            "Time a task ran, by how it ended",
            ["task", "outcome"],
            buckets=TASK_BUCKETS,
        ),
        task_retries=Counter("pengaduan_worker_task_retries", "Transient failures retried inside a task", ["task"]),
        runner_rounds=Counter("pengaduan_runner_rounds", "Rounds a runner completed while leading", ["runner"]),
        runner_handled=Counter(
            "pengaduan_runner_handled", "Items a runner's rounds handled (events, rows, jobs)", ["runner"]
        ),
        runner_errors=Counter("pengaduan_runner_round_errors", "Failed rounds (redone after a backoff)", ["runner"]),
        runner_round_duration=Histogram("pengaduan_runner_round_duration_seconds", "Time one round took", ["runner"]),
        runner_leader=Gauge(
            "pengaduan_runner_leader",
            "1 while this process holds the runner's leader lock",
            ["runner"],
            multiprocess_mode="livesum",
        ),
    )


def exposed_registry():
    """What a scrape reads: the process's registry, or in multiprocess mode the sum of every process's files."""
    from prometheus_client import REGISTRY, CollectorRegistry
    from prometheus_client.multiprocess import MultiProcessCollector

    if not os.environ.get(MULTIPROC_ENV):
        return REGISTRY
    registry = CollectorRegistry()
    MultiProcessCollector(registry)
    return registry


class Union:
    """Several collectors read as one registry (for ``generate_latest``)."""

    def __init__(self, *sources) -> None:
        self.sources = sources

    def collect(self):
        for source in self.sources:
            yield from source.collect()
