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

from shared.metrics.http import install_metrics
from shared.metrics.operations import OperationsCollector
from shared.metrics.processes import (
    runner_failed,
    runner_leading,
    runner_round,
    serve_runner_metrics,
    serve_worker_metrics,
    task_dead_lettered,
    task_retried,
)

__all__ = [
    "OperationsCollector",
    "install_metrics",
    "runner_failed",
    "runner_leading",
    "runner_round",
    "serve_runner_metrics",
    "serve_worker_metrics",
    "task_dead_lettered",
    "task_retried",
]
