"""A Celery worker rides out a Redis crash: it stays up, it is consuming again within seconds of Redis's
return, and the message it held is handled once.

Seen in the chaos suite (chaos/README.md, "redis kill"): kombu's reconnect waits grow by 2 s up to 30 s, so
a worker could sit idle for up to 30 s after Redis was back.
"""

from __future__ import annotations

import os
import signal
import time

import redis

from shared.embedded import EmbeddedRedis, start_redis
from shared.eventstore.postgres import PostgresEventStore
from tests.integration.test_pipeline import start_publisher, stream_events
from tests.support.appends import HeldAppends, appends_waiting
from tests.support.complaints import outbox_message, submit
from tests.support.processes import wait_until


def _crash(broker: EmbeddedRedis) -> None:
    """kill -9 of redis-server: a crash, not a shutdown (no final fsync of the append-only file)."""
    os.kill(int((broker.data_dir / "redis.pid").read_text()), signal.SIGKILL)
    wait_until(lambda: not broker.is_running(), timeout=10, message="redis-server gone")


def _nothing_on(broker: EmbeddedRedis) -> bool:
    r = redis.Redis.from_url(broker.url)
    queued = sum(r.llen(key) for key in r.scan_iter("workflow*") if r.type(key) == b"list")
    return queued == 0 and r.hlen("unacked") == 0


def test_a_worker_mid_task_rides_out_a_redis_crash_and_the_complaint_is_recorded_once(
    settings, engine, spawn, background, tmp_path, intake_client
):
    broker = start_redis(tmp_path / "redis")
    own = settings.model_copy(update={"redis_url": broker.url})
    store = PostgresEventStore(engine)
    held = HeldAppends(engine)  # appends wait here
    try:
        worker = spawn("worker", "workflow", "--concurrency", "1", settings_=own, PENGADUAN_LOG_LEVEL="INFO")
        start_publisher(background, engine, own)
        code = submit(intake_client)
        wait_until(lambda: appends_waiting(engine) > 0, timeout=60, message="the worker to be inside the task")
        _crash(broker)
        time.sleep(1)
        broker.start()  # same port, same append-only file
    finally:
        held.release()
    try:
        events = wait_until(lambda: stream_events(store, engine, code), timeout=90, message="the complaint recorded")
        # every copy handled: the task ran to its end (INFO logs its id) and this test's own Redis holds nothing,
        # neither queued nor delivered and unacknowledged (kombu's list per queue, its hash "unacked")
        held = str(outbox_message(engine, code).submission_id)  # the outbox publisher's task id
        wait_until(
            lambda: worker.succeeded(held) >= 1 and _nothing_on(broker),
            timeout=60,
            message="every copy of the message handled and acknowledged",
        )
        assert [(e.type, e.version) for e in stream_events(store, engine, code)] == [("workflow.ComplaintReceived", 1)]
        assert len(events) == 1
        # the worker rode out the crash: the same process, and nothing fatal in its log
        assert worker.proc.poll() is None, worker.output()[-3000:]
        assert "Unrecoverable error" not in worker.output()
    finally:
        broker.stop()


def test_after_a_long_redis_outage_the_worker_consumes_again_within_seconds_of_its_return(
    settings, engine, spawn, background, tmp_path, intake_client
):
    broker = start_redis(tmp_path / "redis")
    own = settings.model_copy(update={"redis_url": broker.url})
    store = PostgresEventStore(engine)
    try:
        worker = spawn("worker", "workflow", "--concurrency", "1", settings_=own)
        start_publisher(background, engine, own)
        first = submit(intake_client)
        wait_until(lambda: stream_events(store, engine, first), timeout=60, message="the first complaint")

        _crash(broker)
        # 43 s down: kombu's default reconnect waits (2, 4, 6, ... s, at most 30) would next try at 56 s
        time.sleep(43)
        broker.start()
        back = time.monotonic()
        code = submit(intake_client)
        wait_until(lambda: stream_events(store, engine, code), timeout=60, message="the complaint after the outage")
        took = time.monotonic() - back
        assert took < 8, f"the worker consumed again {took:.1f} s after Redis returned"
        assert worker.proc.poll() is None
    finally:
        broker.stop()
