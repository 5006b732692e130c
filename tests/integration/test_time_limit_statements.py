"""A task cut off by its time limit leaves no statement running on the server (#13).

Before: the soft limit's ``SoftTimeLimitExceeded`` (raised by a signal handler inside psycopg's wait) left the
append waiting on the append lock of the time (docs/adr/0002; the tests now hold the appends with a table lock,
tests/support/appends.py) in PostgreSQL, holding the task's inbox row; the rollback failed ("another
command is already in progress"), its ``OperationalError`` replaced the time limit's, the pool closed the
connection, and the backend went on waiting until the lock came free, one more each time the message came
back. A pool child killed by the hard limit left its backend waiting likewise. Now (shared/db.py) the
statement is cancelled when the soft limit strikes, a dead client's statement ends within a second, and a
worker's statements time out on the server before its tasks' soft limit.
"""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import textwrap
import threading
import time

import pytest
from billiard.exceptions import SoftTimeLimitExceeded
from billiard.pool import SIG_SOFT_TIMEOUT, soft_timeout_sighandler
from sqlalchemy import text

from shared.celery_app import make_celery
from shared.db import make_engine, worker_statement_timeout
from shared.eventstore.postgres import PostgresEventStore
from tests.contracts.eventstore import make_event, new_stream
from tests.integration.test_pipeline import start_publisher, stream_events
from tests.support.appends import HeldAppends
from tests.support.complaints import submit
from tests.support.processes import wait_until


def lock_waits(engine, pid: int | None = None) -> list[float]:
    """Seconds each backend (or backend ``pid``) has been waiting on a lock in its current statement."""
    with engine.connect() as conn:
        return (
            conn.execute(
                text(
                    "SELECT extract(epoch FROM clock_timestamp() - query_start)::float FROM pg_stat_activity "
                    "WHERE wait_event_type = 'Lock' AND datname = current_database() "
                    "AND (CAST(:pid AS int) IS NULL OR pid = :pid)"
                ),
                {"pid": pid},
            )
            .scalars()
            .all()
        )


def backend_alive(engine, pid: int) -> bool:
    with engine.connect() as conn:
        found = conn.execute(text("SELECT count(*) FROM pg_stat_activity WHERE pid = :pid"), {"pid": pid})
        return found.scalar_one() > 0


def test_an_append_cut_off_by_the_soft_time_limit_is_cancelled_on_the_server_and_rolled_back(settings, engine):
    """The soft limit strikes as in a Celery pool child (billiard's own handler of the same signal) while
    the append waits on the appends the test holds."""
    task_engine = make_engine(settings, pool_size=1)
    store = PostgresEventStore(task_engine)
    with task_engine.connect() as conn:
        backend = conn.execute(text("SELECT pg_backend_pid()")).scalar_one()  # the pool's one connection
    stream = new_stream()
    lock = HeldAppends(engine)
    previous = signal.signal(SIG_SOFT_TIMEOUT, soft_timeout_sighandler)
    struck: list[float] = []

    def soft_limit_strikes() -> None:  # as the pool's parent does when the limit is reached
        wait_until(lambda: lock_waits(engine, backend), timeout=20, message="the append to wait on the lock")
        struck.append(time.monotonic())
        os.kill(os.getpid(), SIG_SOFT_TIMEOUT)

    try:
        striker = threading.Thread(target=soft_limit_strikes)
        striker.start()
        with pytest.raises(SoftTimeLimitExceeded):  # the time limit itself reaches the task, not a failed rollback
            store.append(stream, 0, [make_event(stream, 1)])
        print(f"the cut-off append was cancelled {time.monotonic() - struck[0]:.3f} s after the soft limit struck")
        striker.join()
        still_waiting = lock_waits(engine, backend)
        assert not still_waiting, f"the cut-off append still waits in PostgreSQL ({still_waiting[0]:.1f} s)"
    finally:
        signal.signal(SIG_SOFT_TIMEOUT, previous)
        lock.release()
    assert store.read_stream(stream) == []  # rolled back: the redelivered message starts from nothing
    store.append(stream, 0, [make_event(stream, 1)])  # and the pool's connection serves it
    assert [e.version for e in store.read_stream(stream)] == [1]
    task_engine.dispose()


def test_the_statement_of_a_killed_client_ends_within_seconds(settings, engine):
    """The hard time limit kills the pool child (SIGTERM, then SIGKILL): its backend, waiting on the lock,
    does not read its socket; the server's client check ends it while the lock is still held."""
    child = subprocess.Popen(
        [
            sys.executable,
            "-c",
            textwrap.dedent(f"""
            from sqlalchemy import func, select, text
            from shared.config import Settings
            from shared.db import make_engine
            engine = make_engine(Settings(environment="test", database_url={settings.database_url!r}))
            with engine.begin() as conn:
                print(conn.execute(select(func.pg_backend_pid())).scalar_one(), flush=True)
                conn.execute(text("LOCK TABLE workflow.events IN ROW EXCLUSIVE MODE"))  # as an append's INSERT
        """),
        ],
        stdout=subprocess.PIPE,
        text=True,
        cwd=os.getcwd(),
    )
    lock = HeldAppends(engine)
    try:
        backend = int(child.stdout.readline())
        wait_until(lambda: lock_waits(engine, backend), timeout=20, message="the child's statement to wait")
        child.kill()
        child.wait()
        killed_at = time.monotonic()
        wait_until(
            lambda: not backend_alive(engine, backend),
            timeout=10,
            interval=0.05,
            message="the killed client's backend to end while the lock is held",
        )
        ended = time.monotonic() - killed_at
    finally:
        lock.release()
        if child.poll() is None:
            child.kill()
    print(f"a killed client's backend ended {ended:.2f} s after the kill")
    assert ended < 3


def test_a_workflow_workers_statement_never_waits_on_the_server_past_its_tasks_soft_limit(
    settings, engine, spawn, background, intake_client
):
    """The real worker, the appends held 3x the task's soft limit: no statement of the worker waits
    longer than its statement timeout, never two at once; the complaint is recorded once they are let go."""
    import redis

    soft_limit = make_celery(settings).conf.task_soft_time_limit
    store = PostgresEventStore(engine)
    spawn("worker", "workflow", "--concurrency", "1")
    start_publisher(background, engine, settings)
    broker = redis.Redis.from_url(settings.redis_url)
    wait_until(
        lambda: broker.llen("workflow") == 0 and not lock_waits(engine),
        timeout=60,
        message="what earlier tests left on the queue to drain",
    )
    lock = HeldAppends(engine)
    try:
        code = submit(intake_client)
        wait_until(lambda: lock_waits(engine), timeout=60, message="the task to wait on the held appends")
        longest, most = 0.0, 0
        deadline = time.monotonic() + 3 * soft_limit
        while time.monotonic() < deadline:
            waits = lock_waits(engine)
            longest, most = max([longest, *waits]), max(most, len(waits))
            time.sleep(0.1)
    finally:
        lock.release()
        released_at = time.monotonic()
    wait_until(lambda: stream_events(store, engine, code), timeout=30, interval=0.1, message="the complaint")
    recorded = time.monotonic() - released_at
    print(
        f"soft limit {soft_limit} s, statement timeout {worker_statement_timeout(settings):.1f} s: longest wait "
        f"{longest:.1f} s, at most {most} waiting at once; recorded {recorded:.1f} s after the lock was freed"
    )
    assert most == 1
    assert longest < soft_limit
    assert recorded < 5
    assert not lock_waits(engine)
    assert [e.type for e in stream_events(store, engine, code)] == ["workflow.ComplaintReceived"]
