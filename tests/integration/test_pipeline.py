"""Intake -> outbox -> relay -> broker -> real Celery worker process -> event store -> tracking projection.

The invariants under failure: nothing acknowledged is lost (broker down, worker SIGKILLed mid-task) and
effects happen once (redelivered messages append nothing). Every test runs against each broker, Redis and
RabbitMQ (ADR 0006): ids ``[redis]`` and ``[rabbitmq]``.
"""

from __future__ import annotations

import subprocess
import sys
import uuid

import pytest
from sqlalchemy import func, select

from services.intake.adapters.outbox import NOTIFY_CHANNEL, OutboxPublisher
from services.intake.adapters.tables import outbox, submissions
from services.intake.adapters.tracking import TrackingProjection
from services.workflow.adapters.tables import dead_letters, inbox
from shared.celery_app import make_celery
from shared.embedded import rabbitmq_installed, start_rabbitmq, start_redis
from shared.eventstore.postgres import NOTIFY_CHANNEL as EVENTS_CHANNEL
from shared.eventstore.postgres import PostgresEventStore
from shared.subscriptions import Runner
from tests.conftest import broker_env
from tests.support.appends import HeldAppends, appends_waiting
from tests.support.complaints import submit, valid_body
from tests.support.processes import env_for, wait_until
from tests.support.servers import NOT_INSTALLED


@pytest.fixture(scope="module")
def settings(broker_settings):
    """This module's tests run once per broker (tests/conftest.py ``broker``)."""
    return broker_settings


def start_own_broker(broker: str, tmp_path):
    """A broker of the test's own, to stop and start again: Redis, or a RabbitMQ node of its own."""
    if broker == "redis":
        return start_redis(tmp_path / "redis")
    if not rabbitmq_installed():  # PENGADUAN_TEST_RABBITMQ_URL names a broker this test cannot stop
        pytest.skip(NOT_INSTALLED)
    return start_rabbitmq(tmp_path / "rabbitmq", name=f"pengaduan-test-{uuid.uuid4().hex[:8]}")


def stream_events(store: PostgresEventStore, engine, tracking_code: str):
    with engine.connect() as conn:
        complaint_id = conn.execute(
            select(submissions.c.complaint_id).where(submissions.c.tracking_code == tracking_code)
        ).scalar_one()
    return store.read_stream(f"complaint-{complaint_id}")


def start_publisher(background, engine, settings) -> None:
    publisher = OutboxPublisher(engine, make_celery(settings, "test-relay"))
    background.start(Runner(engine, f"{publisher.name}", publisher.round, channel=NOTIFY_CHANNEL, poll_interval=0.2))


def test_a_submitted_complaint_reaches_the_workflow_stream_and_the_tracking_page(
    settings, engine, spawn, background, intake_client
):
    spawn("worker", "workflow", "--concurrency", "2")
    start_publisher(background, engine, settings)
    store = PostgresEventStore(engine)
    projection = TrackingProjection(engine, store)
    background.start(Runner(engine, projection.name, projection.round, channel=EVENTS_CHANNEL, poll_interval=0.2))

    code = submit(intake_client)
    events = wait_until(lambda: stream_events(store, engine, code), timeout=60, message="the workflow event")
    assert [(e.type, e.version) for e in events] == [("workflow.ComplaintReceived", 1)]
    assert events[0].payload["tracking_code"] == code and events[0].kecamatan == "pegantenan"

    tracked = wait_until(
        lambda: (b := intake_client.get(f"/v1/track/{code}").json())["current_step"] and b,
        timeout=30,
        message="tracking",
    )
    assert tracked["status"] == "in_progress"
    assert tracked["current_step"] == {"number": 2, "name": "Melakukan Verifikasi Identitas Pengadu"}
    assert [s["number"] for s in tracked["steps"]] == [1]


def test_a_message_delivered_five_times_appends_one_event(settings, engine, spawn, intake_client):
    worker = spawn("worker", "workflow", "--concurrency", "4", PENGADUAN_LOG_LEVEL="INFO")
    code = submit(intake_client)
    with engine.connect() as conn:
        row = conn.execute(
            select(outbox.c.id, outbox.c.payload)
            .join(submissions, submissions.c.id == outbox.c.id)
            .where(submissions.c.tracking_code == code)
        ).one()
    celery = make_celery(settings, "test")
    copies = [str(uuid.uuid4()) for _ in range(5)]
    for copy in copies:  # as a relay that crashed before marking the row would do, and more
        celery.send_task("workflow.record_complaint", args=[row.payload], queue="workflow", task_id=copy)
    store = PostgresEventStore(engine)
    wait_until(lambda: stream_events(store, engine, code), timeout=60, message="the workflow event")
    wait_until(lambda: _inbox_has(engine, row.id), timeout=30, message="inbox row")
    # every delivery ran to its end (the worker logs each task id it ran at INFO)
    wait_until(
        lambda: all(worker.succeeded(copy) for copy in copies), timeout=60, message="all five deliveries handled"
    )
    assert len(stream_events(store, engine, code)) == 1
    with engine.connect() as conn:
        assert (
            conn.execute(select(func.count()).select_from(inbox).where(inbox.c.message_id == row.id)).scalar_one() == 1
        )
    # the worker logged at INFO, tasks sent without a hidden argsrepr: still no personal data in its log
    log = worker.output()
    assert "succeeded" in log
    for personal in ("3528071505900001", "+6281234567890", "Siti Aminah", "Dusun Bunangka", "siti@example.id"):
        assert personal not in log


def _submission_id(engine, tracking_code: str) -> uuid.UUID:
    with engine.connect() as conn:
        return conn.execute(select(submissions.c.id).where(submissions.c.tracking_code == tracking_code)).scalar_one()


def _inbox_has(engine, message_id) -> bool:
    with engine.connect() as conn:
        return (
            conn.execute(select(func.count()).select_from(inbox).where(inbox.c.message_id == message_id)).scalar_one()
            == 1
        )


def test_with_the_broker_down_intake_answers_202_and_the_complaint_arrives_when_it_returns(
    settings, engine, spawn, background, tmp_path, intake_client, broker
):
    own_broker = start_own_broker(broker, tmp_path)
    own = settings.model_copy(update={"broker_url": own_broker.url})
    try:
        spawn("worker", "workflow", "--concurrency", "1", settings_=own)
        start_publisher(background, engine, own)
        own_broker.stop()

        r = intake_client.post("/v1/complaints", json=valid_body())
        assert r.status_code == 202
        code = r.json()["tracking_code"]
        with engine.connect() as conn:
            attempts = lambda: conn.execute(  # noqa: E731
                select(outbox.c.attempts)
                .join(submissions, submissions.c.id == outbox.c.id)
                .where(submissions.c.tracking_code == code)
            ).scalar_one()
            wait_until(lambda: (conn.rollback(), attempts())[1] >= 1, timeout=30, message="a failed publish attempt")
        store = PostgresEventStore(engine)
        assert stream_events(store, engine, code) == []

        own_broker.start()
        events = wait_until(
            lambda: stream_events(store, engine, code), timeout=90, message="the event after the broker returned"
        )
        assert len(events) == 1
    finally:
        own_broker.stop()


def test_a_worker_killed_mid_task_records_the_complaint_exactly_once_after_restart(
    settings, engine, spawn, background, intake_client
):
    store = PostgresEventStore(engine)
    held = HeldAppends(engine)  # appends will wait here
    try:
        worker = spawn("worker", "workflow", "--concurrency", "1")
        start_publisher(background, engine, settings)
        code = submit(intake_client)
        wait_until(lambda: appends_waiting(engine) > 0, timeout=60, message="the worker to be inside the task")
        worker.kill()  # SIGKILL the whole worker, main process and pool
    finally:
        held.release()

    assert stream_events(store, engine, code) == []
    # the restart: the unacked message comes back (INFO: the worker logs each task id it ran to its end)
    restarted = spawn("worker", "workflow", "--concurrency", "1", PENGADUAN_LOG_LEVEL="INFO")
    events = wait_until(lambda: stream_events(store, engine, code), timeout=90, message="the redelivered task")
    held = str(_submission_id(engine, code))  # the outbox publisher's task id: the outbox row's id
    wait_until(lambda: restarted.succeeded(held) >= 1, timeout=60, message="the redelivered task to end")
    assert len(stream_events(store, engine, code)) == 1 == len(events)


def test_a_message_the_worker_cannot_handle_is_kept_as_a_dead_letter_not_dropped(settings, engine, spawn):
    spawn("worker", "workflow", "--concurrency", "1")
    marker = str(uuid.uuid4())
    make_celery(settings, "test").send_task(
        "workflow.record_complaint", args=[{"submission_id": marker, "garbage": True}], queue="workflow"
    )

    def kept():
        with engine.connect() as conn:
            return conn.execute(
                select(dead_letters.c.id, dead_letters.c.error).where(
                    dead_letters.c.payload["submission_id"].astext == marker
                )
            ).first()

    letter = wait_until(kept, timeout=60, message="the dead letter")
    assert "ValidationError" in letter.error
    listing = subprocess.run(
        [sys.executable, "-m", "pengaduan", "dead-letters", "list"],
        env=env_for(settings, **broker_env(settings)),
        capture_output=True,
        text=True,
        check=True,
    ).stdout
    assert str(letter.id) in listing


def test_a_dead_letter_replayed_after_the_fix_is_recorded_once(settings, engine, spawn, intake_client):
    """A valid message that was dead-lettered (say, by a bug since fixed) is replayed by an operator."""
    worker = spawn("worker", "workflow", "--concurrency", "1", PENGADUAN_LOG_LEVEL="INFO")  # logs each task id it ran
    code = submit(intake_client)
    with engine.begin() as conn:
        payload = conn.execute(
            select(outbox.c.payload)
            .join(submissions, submissions.c.id == outbox.c.id)
            .where(submissions.c.tracking_code == code)
        ).scalar_one()
        letter_id = uuid.uuid4()
        conn.execute(
            dead_letters.insert().values(
                id=letter_id,
                task="workflow.record_complaint",
                queue="workflow",
                payload=payload,
                error="RuntimeError: a bug",
            )
        )
    for _ in range(2):  # replaying twice sends it once: a replayed letter is marked
        subprocess.run(
            [sys.executable, "-m", "pengaduan", "dead-letters", "replay", "--id", str(letter_id)],
            env=env_for(settings, **broker_env(settings)),
            check=True,
            capture_output=True,
        )
    store = PostgresEventStore(engine)
    wait_until(lambda: stream_events(store, engine, code), timeout=60, message="the replayed complaint")
    # one more copy, sent after the replays: the one worker (concurrency 1, prefetch 1, acknowledged after the
    # task) takes it once all that was sent before it has run, so its end is the replays' end too
    last = str(uuid.uuid4())
    make_celery(settings, "test").send_task("workflow.record_complaint", args=[payload], queue="workflow", task_id=last)
    wait_until(lambda: worker.succeeded(last) >= 1, timeout=60, message="a copy sent after the replays to be handled")
    assert len(stream_events(store, engine, code)) == 1
    with engine.connect() as conn:
        assert (
            conn.execute(select(dead_letters.c.replayed_at).where(dead_letters.c.id == letter_id)).scalar_one()
            is not None
        )
