"""Workers and runner processes: ``/metrics`` on ``PENGADUAN_METRICS_PORT``, the prefork workers' multiprocess
directories, the task outcomes (Celery's signals and ``shared.tasks.consume``'s hooks) and the runners' rounds."""

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
from dataclasses import dataclass
from typing import Any

from shared.metrics.instruments import MULTIPROC_ENV, exposed_registry, instruments

log = logging.getLogger(__name__)

PORT_ENV = "PENGADUAN_METRICS_PORT"
HOST_ENV = "PENGADUAN_METRICS_HOST"
DIR_PREFIX = "pengaduan-metrics-"
TASK_OUTCOMES = ("success", "retried", "requeued", "dead_lettered", "failed")


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
    start_http_server(port, addr=host, registry=exposed_registry())
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
    requeued = (
        isinstance(exception, TimeLimitExceeded)
        and getattr(sender, "acks_late", False)
        and not getattr(sender, "acks_on_timeout", False)
    )
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
