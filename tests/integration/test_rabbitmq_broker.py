"""What RabbitMQ as broker (ADR 0006) gives an operator, asked of a real node rather than of our settings:

- the three queues are quorum queues (the broker says so, not our declaration);
- a worker killed mid-task has its message redelivered within seconds: RabbitMQ requeues a message the
  moment its consumer's channel closes, where Redis waits for its visibility timeout (measured on both);
- a publish the broker does not take fails loudly: refused (publisher confirms; without them the same
  publish returns as if sent and the message is gone) or with the broker stopped;
- the operations page reads the queues' depth from RabbitMQ itself (plain AMQP, no management plugin).
"""

from __future__ import annotations

import time
import uuid

import pytest
from amqp.exceptions import PreconditionFailed
from fastapi.testclient import TestClient
from kombu import Connection, Queue

from pengaduan.registry import operations_collector
from services.intake.bootstrap import bootstrap
from services.intake.config import IntakeSettings
from services.intake.entrypoints.api import create_app
from shared.celery_app import QUEUES, make_celery, quorum_queues
from shared.embedded import rabbitmq_installed, start_rabbitmq
from shared.eventstore.postgres import PostgresEventStore
from shared.outages import unreachable
from tests.conftest import VISIBILITY_TIMEOUT
from tests.integration.test_metrics import collected, value
from tests.integration.test_pipeline import start_publisher, stream_events
from tests.support.appends import HeldAppends, appends_waiting
from tests.support.complaints import outbox_message, submit
from tests.support.processes import wait_until
from tests.support.servers import NOT_INSTALLED

# RabbitMQ hands the message back as soon as the killed worker's connection is gone (the kernel closes its
# socket), and the idle worker takes it: a second or two. Redis: its visibility timeout (8 s in the tests)
# plus one sweep interval. Both bounds leave room for a loaded 2-core CI machine.
REDELIVERY_BOUND = {"rabbitmq": 10.0, "redis": VISIBILITY_TIMEOUT + 5 + 10.0}


@pytest.fixture(scope="module")
def rabbitmq_settings(base_settings, rabbitmq_url):
    return base_settings.model_copy(update={"broker_url": rabbitmq_url})


def test_the_three_queues_are_durable_quorum_queues(rabbitmq_settings):
    app = make_celery(rabbitmq_settings, "test-queues")
    with app.connection_for_write() as conn:
        for queue in app.amqp.queues.values():  # what every producer and worker declares before use
            queue(conn.default_channel).declare()
    with Connection(rabbitmq_settings.effective_broker_url) as conn:
        for name in QUEUES:
            assert conn.channel().queue_declare(name, passive=True).queue == name  # the broker has it
            # asked to take it as a classic queue, the broker refuses and says what it is
            with pytest.raises(PreconditionFailed) as refused:
                Queue(name, durable=True, queue_arguments={"x-queue-type": "classic"})(conn.channel()).declare()
            assert "x-queue-type" in str(refused.value) and "current is 'quorum'" in str(refused.value)
            # a quorum queue is always durable: asked for a transient one, the broker refuses too
            with pytest.raises(PreconditionFailed):
                Queue(name, durable=False, queue_arguments={"x-queue-type": "quorum"})(conn.channel()).declare()


def test_a_message_handed_back_more_than_twenty_times_is_not_dropped(rabbitmq_settings):
    """A task hands its message back (reject with requeue) every budget while PostgreSQL is away; RabbitMQ 4
    drops a quorum queue's message after 20 deliveries unless the queue sets its own limit, which ours do
    (a 3.x node has no default limit: there this guards the declaration against a newer broker)."""
    arguments = quorum_queues()[0].queue_arguments
    name = f"test-delivery-limit-{uuid.uuid4().hex[:8]}"
    with Connection(rabbitmq_settings.effective_broker_url) as conn:
        channel = conn.channel()
        queue = Queue(name, durable=True, queue_arguments=arguments)(channel)
        queue.declare()
        try:
            conn.Producer(channel).publish({"n": 1}, routing_key=name, serializer="json")
            for delivery in range(25):
                message = wait_until(lambda: queue.get(no_ack=False), timeout=10, message=f"delivery {delivery + 1}")
                message.reject(requeue=True)
            last = wait_until(lambda: queue.get(no_ack=False), timeout=10, message="the message after 25 hand-backs")
            assert last.payload == {"n": 1}
            last.ack()
        finally:
            queue.delete()


@pytest.mark.parametrize("broker", ["rabbitmq", "redis"])
def test_a_worker_killed_mid_task_has_its_message_redelivered_to_another_within_seconds(
    broker, request, base_settings, engine, spawn, background
):
    settings = (
        base_settings
        if broker == "redis"
        else base_settings.model_copy(update={"broker_url": request.getfixturevalue("rabbitmq_url")})
    )
    container = bootstrap(IntakeSettings(**settings.model_dump()))
    store = PostgresEventStore(engine)
    held = HeldAppends(engine)  # appends wait here
    try:
        # a long time limit for this one: its statement waits on the lock (statement timeout 30 % of the hard
        # limit) and never hands the message back before the kill, so the kill is what the other worker sees
        first = spawn(
            "worker", "workflow", "--concurrency", "1", settings_=settings, PENGADUAN_BROKER_VISIBILITY_TIMEOUT="300"
        )
        start_publisher(background, engine, settings)
        with TestClient(create_app(container)) as client:
            code = submit(client)

        wait_until(lambda: appends_waiting(engine) > 0, timeout=60, message="the first worker inside the task")
        second = spawn("worker", "workflow", "--concurrency", "1", settings_=settings, PENGADUAN_LOG_LEVEL="INFO")
        wait_until(lambda: " ready." in second.output(), timeout=60, message="the second worker ready")
        assert "received" not in second.output()  # the first worker holds the message up to its death
        first.kill()  # SIGKILL, main process and pool: no goodbye to the broker
        killed_at = time.monotonic()
    finally:
        held.release()
        container.engine.dispose()

    events = wait_until(lambda: stream_events(store, engine, code), timeout=120, message="the redelivered task")
    seconds = time.monotonic() - killed_at
    print(f"\n{broker}: the killed worker's message recorded by the other worker {seconds:.1f} s after the kill")
    request.node.user_properties.append(("redelivery_seconds", round(seconds, 1)))
    assert seconds < REDELIVERY_BOUND[broker]
    # the redelivered task ran to its end in the second worker (INFO: it logs each task id it ran)
    held = str(outbox_message(engine, code).submission_id)  # the outbox publisher's task id
    wait_until(lambda: second.succeeded(held) >= 1, timeout=60, message="the redelivered task to end")
    assert len(stream_events(store, engine, code)) == 1 == len(events)


def test_a_publish_the_broker_refuses_or_cannot_take_fails_loudly(base_settings, tmp_path):
    if not rabbitmq_installed():  # PENGADUAN_TEST_RABBITMQ_URL names a broker this test cannot stop
        pytest.skip(NOT_INSTALLED)
    node = start_rabbitmq(
        tmp_path / "rabbitmq",
        name=f"pengaduan-test-{uuid.uuid4().hex[:8]}",
        config={"max_message_size": str(64 * 1024)},
    )
    try:
        settings = base_settings.model_copy(update={"broker_url": node.url})
        confirmed = make_celery(settings, "test-confirmed")
        unconfirmed = make_celery(settings, "test-unconfirmed")
        unconfirmed.conf.broker_transport_options = {
            **unconfirmed.conf.broker_transport_options,
            "confirm_publish": False,
        }
        queue = f"test-{uuid.uuid4().hex[:8]}"
        too_big = {"blob": "x" * (100 * 1024)}  # over the node's max_message_size: the broker refuses it

        confirmed.send_task("test.fits", args=[{"n": 1}], queue=queue)  # taken and confirmed
        with pytest.raises(PreconditionFailed, match="larger than configured max size"):
            confirmed.send_task("test.too_big", args=[too_big], queue=queue)
        unconfirmed.send_task("test.too_big", args=[too_big], queue=queue)  # returns as if it had been sent
        with Connection(node.url) as conn:
            assert conn.channel().queue_declare(queue, passive=True).message_count == 1  # only the first

        node.stop()
        started = time.monotonic()
        with pytest.raises(Exception) as failed:
            confirmed.send_task("test.fits", args=[{"n": 2}], queue=queue)
        assert unreachable(failed.value), repr(failed.value)  # the APIs answer 503, the runners retry
        assert time.monotonic() - started < 30
    finally:
        node.stop()


def test_the_operations_page_reads_queue_depths_from_rabbitmq(rabbitmq_settings, engine):
    queue, never_used = f"metrics-test-{uuid.uuid4().hex[:8]}", f"metrics-test-{uuid.uuid4().hex[:8]}"
    celery = make_celery(rabbitmq_settings, "metrics-test")
    for _ in range(3):
        celery.send_task("metrics.test.nothing", args=[{}], queue=queue)
    collector = operations_collector(engine, rabbitmq_settings.effective_broker_url, queues=(queue, never_used), ttl=0)
    found = collected(collector)
    assert value(found, "pengaduan_ops_source_up", source="rabbitmq") == 1
    assert value(found, "pengaduan_ops_source_up", source="redis") is None  # Redis is only the cache here
    assert value(found, "pengaduan_queue_depth", queue=queue) == 3
    assert value(found, "pengaduan_queue_depth", queue=never_used) == 0
    assert value(found, "pengaduan_queue_unacked") is None  # AMQP does not tell; left out rather than made up
    with Connection(rabbitmq_settings.effective_broker_url) as conn:
        conn.channel().queue_delete(queue)
