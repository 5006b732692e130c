"""A subscription runner (here the relay) comes back within seconds of PostgreSQL's return, however long it
was away, and a short blip after a long outage costs a short delay again: its retry delay is reset by every
good round, and while the database is out of reach it is retried every couple of seconds, not every 30.

The outage is real: a PostgreSQL of this module's own, stopped and started again on the same port and data
directory while the runner keeps running.
"""

from __future__ import annotations

import shutil
import tempfile
import time
import uuid
from pathlib import Path

import pytest

from services.workflow.relay import EventDispatcher
from shared.celery_app import make_celery
from shared.contracts.routing import Subscription
from shared.db import make_engine
from shared.embedded import EmbeddedPostgres, start_postgres, start_redis
from shared.eventstore.postgres import NOTIFY_CHANNEL, PostgresEventStore
from shared.migrate import migrate
from shared.subscriptions import RoundResult, Runner
from tests.contracts.eventstore import make_event, new_stream
from tests.integration.test_relay import drain
from tests.support.processes import wait_until

RECOVERY_BOUND = 5.0  # seconds from the database's return to the next event handed on (issue #13 item 2)
LONG_OUTAGE = 20.0  # longer than the runner's retry delays grow before they reach their cap (0.5 s doubling)


@pytest.fixture(scope="module")
def own_postgres() -> EmbeddedPostgres:
    # not under pytest's tmp folders: those are 0700 and the embedded PostgreSQL runs as its own user
    path = Path(tempfile.mkdtemp(prefix="pengaduan-backoff-"))
    path.chmod(0o755)
    server = start_postgres(path / "postgres", database="pengaduan_backoff")
    migrate(server.url)
    yield server
    server.stop()
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture
def relay(settings, own_postgres, background):
    """The relay for one test queue on the module's PostgreSQL, running in a thread, and a way to send an event
    through it and time its arrival."""
    own = settings.model_copy(update={"database_url": own_postgres.url})
    engine = make_engine(own, pool_size=2)
    store = PostgresEventStore(engine)
    queue = f"test-backoff-{uuid.uuid4().hex[:8]}"
    sub = Subscription(name=queue, queue=queue, task="test.handle", event_types=frozenset({"test.Wanted"}))
    dispatcher = EventDispatcher(engine, store, make_celery(own, "t"), sub)
    with engine.begin() as conn:
        dispatcher.checkpoints.set(conn, dispatcher.name, store.last_position())
    runner = Runner(engine, dispatcher.name, dispatcher.round, channel=NOTIFY_CHANNEL, poll_interval=0.2)
    background.start(runner)
    wait_until(runner.is_leader.is_set, timeout=10, message="the relay to lead")

    def send_one() -> float:
        """Append one event; the seconds until the relay handed it to the queue."""
        stream = new_stream()
        event = make_event(stream, 1, type_="test.Wanted")
        started = time.monotonic()
        store.append(stream, 0, [event])  # the test's own pool reconnects (pre-ping) after an outage
        deadline = started + 60
        # at least once: an event whose checkpoint the outage cut off is handed on again first
        while time.monotonic() < deadline:
            got = drain(settings.redis_url, queue, expected=1, timeout=deadline - time.monotonic())
            if [g["event_id"] for g in got] == [str(event.event_id)]:
                return time.monotonic() - started
        raise AssertionError("the relay did not hand the event on within 60 s")

    yield send_one
    background.stop()
    engine.dispose()


def outage(server: EmbeddedPostgres, seconds: float) -> float:
    """Stop PostgreSQL for ``seconds``, start it again on the same port and data; when it was back."""
    server.stop()
    time.sleep(seconds)
    server.start()
    return time.monotonic()


def test_the_relay_hands_on_the_next_event_within_seconds_of_a_long_database_outage(own_postgres, relay):
    assert relay() < RECOVERY_BOUND  # running before the outage

    back = outage(own_postgres, LONG_OUTAGE)
    relay()
    assert time.monotonic() - back < RECOVERY_BOUND

    # a short blip after the long outage: the delay was reset by the good rounds in between, it is short again
    back = outage(own_postgres, 1.0)
    relay()
    assert time.monotonic() - back < RECOVERY_BOUND


def test_after_a_run_of_failures_one_good_round_makes_the_next_retry_short_again(engine, background):
    """A round that fails for a reason of its own (not an outage) backs off up to 30 s; once a round succeeds,
    the next failure waits the first, short delay again (it used to keep the longest)."""
    calls: list[float] = []
    failing = {"left": 4}  # 0.5 + 1 + 2 + 4 s of backoff: the delay has grown to 8 s
    fail_once_more = {"armed": False}

    def round_fn() -> RoundResult:
        calls.append(time.monotonic())
        if failing["left"]:
            failing["left"] -= 1
            raise RuntimeError("a batch this round cannot handle")
        if fail_once_more["armed"]:
            fail_once_more.update(armed=False, at=calls[-1])
            raise RuntimeError("one more")
        return RoundResult(0, False)

    runner = Runner(engine, f"test.backoff.{uuid.uuid4().hex[:8]}", round_fn, channel=None, poll_interval=0.1)
    background.start(runner)
    wait_until(lambda: len(calls) >= 8, timeout=30, message="the rounds to succeed after the failures")
    fail_once_more["armed"] = True
    wait_until(lambda: "at" in fail_once_more, timeout=10, message="the one more failure")
    failed_at = fail_once_more["at"]
    wait_until(lambda: calls[-1] > failed_at, timeout=30, message="the round after it")
    retried_at = next(t for t in calls if t > failed_at)
    assert retried_at - failed_at < 1.0  # the first delay (0.5 s), not the 8 s the failures had reached


@pytest.fixture
def own_redis():
    path = Path(tempfile.mkdtemp(prefix="pengaduan-backoff-redis-"))
    server = start_redis(path / "redis")
    yield server
    server.stop()
    shutil.rmtree(path, ignore_errors=True)


def test_an_event_stored_while_the_broker_is_down_goes_out_within_seconds_of_its_return(
    settings, engine, own_redis, background
):
    own = settings.model_copy(update={"redis_url": own_redis.url})
    store = PostgresEventStore(engine)
    queue = f"test-backoff-{uuid.uuid4().hex[:8]}"
    sub = Subscription(name=queue, queue=queue, task="test.handle", event_types=frozenset({"test.Wanted"}))
    dispatcher = EventDispatcher(engine, store, make_celery(own, "t"), sub)
    with engine.begin() as conn:
        dispatcher.checkpoints.set(conn, dispatcher.name, store.last_position())
    background.start(Runner(engine, dispatcher.name, dispatcher.round, channel=NOTIFY_CHANNEL, poll_interval=0.2))

    own_redis.stop()
    stream = new_stream()
    event = make_event(stream, 1, type_="test.Wanted")
    store.append(stream, 0, [event])  # the relay tries, fails and backs off for as long as the broker is away
    time.sleep(LONG_OUTAGE)
    own_redis.start()  # the same port and data
    back = time.monotonic()

    got = drain(own_redis.url, queue, expected=1, timeout=60)
    assert [g["event_id"] for g in got] == [str(event.event_id)]
    assert time.monotonic() - back < RECOVERY_BOUND
