"""The relay hands every stored event to each subscribing queue, at least once, in commit order, with a
deterministic task id; one leader per subscription; the checkpoint survives a restart. Against each broker
(ids ``[redis]``, ``[rabbitmq]``; ADR 0006)."""

from __future__ import annotations

import queue as queue_mod
import time
import uuid

import pytest
from kombu import Connection
from sqlalchemy import select, text

from services.workflow.adapters.tables import handoffs
from services.workflow.relay import EventDispatcher
from shared.celery_app import make_celery
from shared.contracts.routing import Subscription
from shared.eventstore.postgres import NOTIFY_CHANNEL, PostgresEventStore
from shared.subscriptions import Checkpoints, RoundResult, Runner
from tests.contracts.eventstore import make_event, new_stream
from tests.support.processes import wait_until


@pytest.fixture(scope="module")
def settings(broker_settings):
    """This module's tests run once per broker (tests/conftest.py ``broker``)."""
    return broker_settings


def drain(broker_url: str, queue_name: str, expected: int, timeout: float = 30) -> list[dict]:
    got: list[dict] = []
    deadline = time.monotonic() + timeout
    with Connection(broker_url) as conn:
        q = conn.SimpleQueue(queue_name, no_ack=True)
        while len(got) < expected and time.monotonic() < deadline:
            try:
                message = q.get(timeout=1)
            except queue_mod.Empty:
                continue
            args = message.decode()[0]
            got.append({"task_id": message.headers["id"], "task": message.headers["task"], **args[0]})
        q.close()
    return got


def test_each_matching_event_reaches_the_queue_once_in_order_and_a_restart_resends_nothing(
    settings, engine, background
):
    store = PostgresEventStore(engine)
    queue_name = f"test-{uuid.uuid4().hex[:8]}"
    sub = Subscription(name=queue_name, queue=queue_name, task="test.handle", event_types=frozenset({"test.Wanted"}))
    # start the subscription at the current end, as a new subscriber that wants only new events would
    dispatcher = EventDispatcher(engine, store, make_celery(settings, "t"), sub)
    with engine.begin() as conn:
        dispatcher.checkpoints.set(conn, dispatcher.name, store.last_position())

    stream = new_stream()
    events = [make_event(stream, v, type_="test.Wanted" if v % 2 else "test.Other") for v in range(1, 7)]
    store.append(stream, 0, events)
    background.start(Runner(engine, dispatcher.name, dispatcher.round, channel=NOTIFY_CHANNEL, poll_interval=0.2))

    got = drain(settings.effective_broker_url, queue_name, expected=3)
    wanted = [e for e in events if e.type == "test.Wanted"]
    assert [g["event_id"] for g in got] == [str(e.event_id) for e in wanted]
    assert [g["task_id"] for g in got] == [f"{queue_name}:{e.event_id}" for e in wanted]
    assert {g["task"] for g in got} == {"test.handle"}
    assert all(g["position"] > 0 for g in got)

    background.stop()
    again = EventDispatcher(engine, store, make_celery(settings, "t"), sub)
    assert again.round().handled == 0  # the checkpoint moved past what was sent
    assert drain(settings.effective_broker_url, queue_name, expected=1, timeout=2) == []


def test_only_one_instance_of_a_subscription_leads(engine, background):
    rounds: list[str] = []
    lock_name = f"test.leader.{uuid.uuid4().hex[:8]}"

    def make(name: str) -> Runner:
        def round_fn() -> RoundResult:
            rounds.append(name)
            return RoundResult(0, False)

        return Runner(engine, lock_name, round_fn, channel=None, poll_interval=0.1)

    first, second = make("first"), make("second")
    background.start(first)
    wait_until(first.is_leader.is_set, timeout=10, message="a leader")
    with engine.connect() as conn:  # the sessions there are before the standby starts, and the time
        before = set(conn.execute(text("SELECT pid FROM pg_stat_activity")).scalars())
        since = conn.execute(text("SELECT clock_timestamp()")).scalar_one()
    asks: dict[int, set] = {}

    def standby_refused() -> bool:
        """A new session (the standby's) asked for the lock twice: pg_stat_activity shows each session's last
        statement and when it started, so two starts of pg_try_advisory_lock are two asks, and asking again
        means the first ask was refused (a session that won the lock asks no more)."""
        with engine.connect() as conn:
            rows = conn.execute(
                text(
                    "SELECT pid, query_start FROM pg_stat_activity "
                    "WHERE query LIKE 'SELECT pg_try_advisory_lock%' AND query_start > :since"
                ),
                {"since": since},
            ).all()
        for pid, started in rows:
            if pid not in before:
                asks.setdefault(pid, set()).add(started)
        return any(len(times) >= 2 for times in asks.values())

    background.start(second)
    # (or, were two allowed to lead, the standby leading: the asserts below say so)
    wait_until(
        lambda: second.is_leader.is_set() or standby_refused(),
        timeout=10,
        interval=0.03,
        message="the standby to ask for the lock and be refused",
    )
    assert not second.is_leader.is_set()
    assert set(rounds) == {"first"}

    first.stop()  # the leader goes away: the standby takes over
    wait_until(second.is_leader.is_set, timeout=10, message="the standby to take over")
    wait_until(lambda: "second" in rounds, timeout=10, message="the standby's first round")


def test_a_round_with_nothing_to_hand_on_writes_its_checkpoint_at_most_once_a_second(settings, engine, monkeypatch):
    """Events no queue of the subscription wants move the stored checkpoint at most every ``WRITE_EVERY`` (a
    transaction with a commit's fsync per subscription per event, before); the process reads on from where it got
    meanwhile, a handed-on event writes at once, and a checkpoint someone else moved is taken as it is."""
    from services.workflow import relay

    store = PostgresEventStore(engine)
    queue_name = f"test-{uuid.uuid4().hex[:8]}"
    sub = Subscription(name=queue_name, queue=queue_name, task="test.handle", event_types=frozenset({"test.Wanted"}))
    dispatcher = EventDispatcher(engine, store, make_celery(settings, "t"), sub)
    with engine.begin() as conn:
        dispatcher.checkpoints.set(conn, dispatcher.name, store.last_position())

    def stored() -> int:
        with engine.connect() as conn:
            return dispatcher.checkpoints.get(conn, dispatcher.name)

    stream = new_stream()
    first = store.append(stream, 0, [make_event(stream, 1, type_="test.Other")])[-1]
    dispatcher.round()
    assert stored() == first  # the first round of a process writes
    monkeypatch.setattr(relay, "WRITE_EVERY", 3600.0)
    second = store.append(stream, 1, [make_event(stream, 2, type_="test.Other")])[-1]
    assert dispatcher.round().handled == 0
    assert stored() == first  # read past, not written
    assert dispatcher.store.read_all(after=first, limit=10)[-1].position == second
    wanted = store.append(stream, 2, [make_event(stream, 3, type_="test.Wanted")])[-1]
    assert dispatcher.round().handled == 1  # read on from the second event, not from the stored checkpoint
    assert stored() == wanted
    assert [g["position"] for g in drain(settings.effective_broker_url, queue_name, expected=1)] == [wanted]

    third = store.append(stream, 3, [make_event(stream, 4, type_="test.Other")])[-1]
    dispatcher.round()
    assert stored() == wanted
    with engine.begin() as conn:  # an operator (or another leader) moves it back to re-send the wanted event
        dispatcher.checkpoints.set(conn, dispatcher.name, wanted - 1)
    assert dispatcher.round().handled == 1
    assert stored() == third
    assert [g["position"] for g in drain(settings.effective_broker_url, queue_name, expected=1)] == [wanted]
    monkeypatch.setattr(relay, "WRITE_EVERY", 0.0)
    assert dispatcher.round().handled == 0 and stored() == third


def test_the_relay_runs_every_subscription_in_one_round_each_from_its_own_checkpoint(settings, engine):
    """``Relay``: one claim, one read, one commit for all subscriptions; each hands on only the events it wants and
    has not passed (one far behind reads from its own checkpoint; the others filter what they passed), each
    checkpoint moves, and a second round hands on nothing again."""
    from services.workflow.relay import Relay

    store = PostgresEventStore(engine)
    names = [f"test-{uuid.uuid4().hex[:8]}" for _ in range(3)]
    subs = [
        Subscription(name=names[0], queue=names[0], task="test.a", event_types=frozenset({"test.A"})),
        Subscription(name=names[1], queue=names[1], task="test.b", event_types=frozenset({"test.B"})),
        Subscription(name=names[2], queue=names[2], task="test.ab", event_types=frozenset({"test.A", "test.B"})),
    ]
    relay = Relay(engine, store, make_celery(settings, "t"), subs, batch_size=500)
    stream = new_stream()
    early = store.append(stream, 0, [make_event(stream, 1, type_="test.A")])[-1]
    with engine.begin() as conn:  # the first two start after the early event, the third before it
        for d in relay.dispatchers[:2]:
            d.checkpoints.set(conn, d.name, early)
        relay.dispatchers[2].checkpoints.set(conn, relay.dispatchers[2].name, early - 1)
    types = ["test.B", "test.Other", "test.A", "test.B"]
    positions = store.append(stream, 1, [make_event(stream, v + 2, type_=t) for v, t in enumerate(types)])

    result = relay.round()
    assert result.handled == 1 + 2 + 4 and not result.more  # A; B, B; and from before the early event A, B, A, B
    got = {n: [g["position"] for g in drain(settings.effective_broker_url, n, expected=5, timeout=3)] for n in names}
    assert got[names[0]] == [positions[2]]
    assert got[names[1]] == [positions[0], positions[3]]
    assert got[names[2]] == [early, positions[0], positions[2], positions[3]]
    with engine.connect() as conn:
        assert {d.name: d.checkpoints.get(conn, d.name) for d in relay.dispatchers} == dict.fromkeys(
            (d.name for d in relay.dispatchers), positions[-1]
        )
        # every hand-off of the round is in the ledger, written with the checkpoints (one statement for them all)
        ledger = conn.execute(select(handoffs.c.queue, handoffs.c.message_id).where(handoffs.c.queue.in_(names))).all()
    assert len(ledger) == 7 and {q for q, _ in ledger} == set(names)
    assert relay.round().handled == 0


def test_checkpoints_set_many_moves_each_to_its_own_position_in_one_statement(engine):
    """``Checkpoints.set_many``: existing and new checkpoints, each to its own position (the relay's round writes every
    subscription it moved at once; one that wrote a position it had only read past moves elsewhere)."""
    from services.workflow.adapters.tables import checkpoints

    points = Checkpoints(checkpoints)
    old, new = f"test-{uuid.uuid4().hex[:8]}", f"test-{uuid.uuid4().hex[:8]}"
    with engine.begin() as conn:
        points.set(conn, old, 3)
        points.set_many(conn, {old: 10, new: 7})
    with engine.connect() as conn:
        assert (points.get(conn, old), points.get(conn, new)) == (10, 7)
        points.set_many(conn, {})  # nothing moved: no statement, no error
        assert points.get(conn, old) == 10
