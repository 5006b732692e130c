"""A message the broker accepted and then lost is published again, and its effect happens once (#13 item 3).

The loss is real: the message is published to the broker and taken out of its queue before any worker runs
(Redis: LREM, as a crash between kombu's BRPOP and its unacked record, or a Redis crash inside its fsync
window, would; RabbitMQ: taken and acknowledged, as an operator's purge or a lost volume would). The
scheduler's reconcilers (grace 1 s here) must publish it again, and the consumer's inbox must keep the effect
single: one acknowledgment at the SMTP server, one ``NotificationSent``, one ``LetterIssued``, one
``ComplaintReceived``. Every test runs against each broker (ids ``[redis]``, ``[rabbitmq]``; ADR 0006).
"""

from __future__ import annotations

import dataclasses
import json
import time
import uuid

import pytest
import redis
from fastapi.testclient import TestClient
from kombu import Connection
from sqlalchemy import select

from pengaduan import registry
from services.accounts.handlers import add_user
from services.intake.adapters.tables import submissions
from services.intake.adapters.tracking import TrackingProjection
from services.intake.bootstrap import bootstrap as intake_bootstrap
from services.intake.config import IntakeSettings
from services.intake.entrypoints.api import create_app as intake_app
from services.intake.scheduler import OutboxReconciler
from services.letters.adapters import tables as letters_tables
from services.letters.bootstrap import bootstrap as letters_bootstrap
from services.letters.config import LettersSettings
from services.letters.handlers import issue_signed_letter
from services.notify.adapters import tables as notify_tables
from services.notify.handlers.planning import plan_event
from services.workflow.adapters import tables as workflow_tables
from services.workflow.domain.events import stream_id
from services.workflow.relay import EventDispatcher
from shared.celery_app import is_amqp, make_celery
from shared.contracts.routing import SUBSCRIPTIONS
from shared.eventstore.postgres import NOTIFY_CHANNEL as EVENTS_CHANNEL
from shared.eventstore.postgres import PostgresEventStore
from shared.service import RunContext
from shared.subscriptions import Checkpoints, Runner
from tests.integration.test_letters import data_dir, letters_settings, new_kecamatan, sign, to_step_10  # noqa: F401
from tests.integration.test_notify import channel_env, clean_sinks, new_complaint, notify, sinks, wf  # noqa: F401
from tests.integration.test_pipeline import start_publisher
from tests.support.complaints import submit
from tests.support.processes import wait_until

GRACE = 1.0


@pytest.fixture(scope="module")
def settings(broker_settings):
    """This module's tests run once per broker (tests/conftest.py ``broker``)."""
    return broker_settings


def lose(settings, queue: str, task_id: str) -> None:  # noqa: RET503
    """Take the message out of the broker before any worker has it (positive evidence: it was there)."""
    if is_amqp(settings.effective_broker_url):
        return lose_from_rabbitmq(settings.effective_broker_url, queue, task_id)
    broker = redis.Redis.from_url(settings.redis_url)

    def on_the_queue():
        return next((raw for raw in broker.lrange(queue, 0, -1) if json.loads(raw)["headers"]["id"] == task_id), None)

    raw = wait_until(on_the_queue, timeout=10, message=f"{task_id} on queue {queue}")
    assert broker.lrem(queue, 1, raw) == 1
    assert on_the_queue() is None


def lose_from_rabbitmq(url: str, queue: str, task_id: str, timeout: float = 10) -> None:
    """Take every message off the queue (unacknowledged), acknowledge ``task_id``'s (gone for good) and hand
    the others back by closing the channel. No consumer runs yet, so nothing else takes them."""

    def take(conn, acknowledge: bool) -> list[str]:
        channel = conn.channel()
        try:
            ids = []
            while (message := channel.basic_get(queue, no_ack=False)) is not None:
                ids.append(message.properties.get("application_headers", {}).get("id"))
                if acknowledge and ids[-1] == task_id:
                    channel.basic_ack(message.delivery_tag)
            return ids
        finally:
            channel.close()  # what was taken and not acknowledged goes back to the queue

    deadline = time.monotonic() + timeout
    with Connection(url) as conn:
        while task_id not in take(conn, acknowledge=True):
            assert time.monotonic() < deadline, f"{task_id} never on queue {queue}"
            time.sleep(0.1)
        assert task_id not in take(conn, acknowledge=False)


def start_reconcilers(background, engine, settings) -> None:
    ctx = RunContext(
        settings.model_copy(update={"reconcile_grace_seconds": GRACE, "reconcile_interval_seconds": 0.3}),
        engine,
        make_celery(settings, "test-scheduler"),
        registry.consumers(),
    )
    for job in registry.handoff_reconcilers(ctx):  # as the scheduler process runs them
        background.start(Runner(engine, job.name, job.round, channel=None, poll_interval=job.interval))


def in_ledger(engine, ledger, consumer: str, message_id: uuid.UUID) -> bool:
    with engine.connect() as conn:
        return (
            conn.execute(
                select(ledger.c.message_id).where(ledger.c.consumer == consumer, ledger.c.message_id == message_id)
            ).first()
            is not None
        )


def client_track(settings, code: str) -> bool:
    container = intake_bootstrap(IntakeSettings(**settings.model_dump()))
    try:
        with TestClient(intake_app(container)) as client:
            return client.get(f"/v1/track/{code}").status_code == 200
    finally:
        container.engine.dispose()


def types_of(wf, complaint_id) -> list[str]:
    return [e.type for e in wf.store.read_stream(stream_id(complaint_id))]


def test_a_lost_notify_plan_is_published_again_and_the_acknowledgment_sent_once(
    settings, engine, spawn, background, wf, clean_sinks, channel_env
):
    cid, code = new_complaint(wf, "email")
    received = wf.store.read_stream(stream_id(cid))[0]
    # the relay's own subscription to notify, under a name of its own that starts just before this event
    sub = dataclasses.replace(
        next(s for s in SUBSCRIPTIONS if s.name == "notify-messages"), name=f"t-{uuid.uuid4().hex[:8]}"
    )
    relay = EventDispatcher(wf.engine, wf.store, make_celery(settings, "test-relay"), sub)
    with engine.begin() as conn:
        Checkpoints(workflow_tables.checkpoints).set(conn, relay.name, received.position - 1)
    assert relay.round().handled == 1
    lose(settings, "notify", f"{sub.name}:{received.event_id}")
    assert in_ledger(engine, workflow_tables.handoffs, "notify.plan", received.event_id)

    spawn("worker", "notify", "--concurrency", "2", **channel_env)
    start_reconcilers(background, engine, settings)
    wait_until(
        lambda: [m for m in clean_sinks.messages("email") if code in m["text"]],
        timeout=30,
        message="the acknowledgment at the SMTP server",
    )
    wait_until(
        lambda: not in_ledger(engine, workflow_tables.handoffs, "notify.plan", received.event_id),
        timeout=30,
        message="the hand-off confirmed by notify's inbox",
    )
    assert len([m for m in clean_sinks.messages("email") if code in m["text"]]) == 1


def test_a_lost_report_to_the_workflow_is_published_again_and_recorded_once(
    settings, engine, spawn, background, wf, notify, clean_sinks
):
    cid, code = new_complaint(wf, "email")
    assert (
        plan_event(notify, wf.store.read_stream(stream_id(cid))[0].event_id) == 1
    )  # sent here, reported to the workflow
    with engine.connect() as conn:
        (mid,) = (
            conn.execute(
                select(notify_tables.handoffs.c.message_id).where(
                    notify_tables.handoffs.c.payload["complaint_id"].astext == str(cid)
                )
            )
            .scalars()
            .all()
        )
    lose(settings, "workflow", f"notification-report:{mid}")

    spawn("worker", "workflow", "--concurrency", "2")
    start_reconcilers(background, engine, settings)
    wait_until(lambda: "workflow.NotificationSent" in types_of(wf, cid), timeout=30, message="NotificationSent")
    wait_until(
        lambda: not in_ledger(engine, notify_tables.handoffs, "workflow.record_notification", mid),
        timeout=30,
        message="the report confirmed by the workflow's inbox",
    )
    assert types_of(wf, cid).count("workflow.NotificationSent") == 1
    assert len([m for m in clean_sinks.messages("email") if code in m["text"]]) == 1


def test_a_lost_letter_issued_report_is_published_again_and_recorded_once(
    letters_settings, engine, spawn, background, wf
):
    (slug,) = new_kecamatan(engine)
    camat = f"camat.{slug}"
    add_user(
        engine,
        camat,
        "Drs. H. Moh. Ma'ruf, M.Si.",
        "camat",
        "rahasia-uji-123",
        kecamatan=slug,
        nip="197001011990031001",
    )
    wf.directory._loaded_at = float("-inf")
    cid = to_step_10(wf, slug, camat)
    sign(wf, cid, slug, camat)
    signed = wf.store.read_stream(stream_id(cid))[-1]
    assert signed.type == "workflow.LetterSigned"
    letters = letters_bootstrap(LettersSettings(**letters_settings.model_dump()))
    issued = issue_signed_letter(letters, signed.event_id)  # rendered, signed, stored, reported to the workflow
    letters.engine.dispose()
    lose(letters_settings, "workflow", f"letter-issued:{issued.document_id}")

    spawn("worker", "workflow", "--concurrency", "2", settings_=letters_settings)
    start_reconcilers(background, engine, letters_settings)
    wait_until(lambda: "workflow.LetterIssued" in types_of(wf, cid), timeout=30, message="LetterIssued")
    wait_until(
        lambda: not in_ledger(engine, letters_tables.handoffs, "workflow.record_letter_document", issued.message_id),
        timeout=30,
        message="the report confirmed by the workflow's inbox",
    )
    assert types_of(wf, cid).count("workflow.LetterIssued") == 1


def test_a_lost_complaint_is_published_again_within_seconds_and_received_once(settings, engine, spawn, background, wf):
    container = intake_bootstrap(IntakeSettings(**settings.model_dump()))
    with TestClient(intake_app(container)) as client:
        code = submit(client)
    container.engine.dispose()
    with engine.connect() as conn:
        submission_id, cid = conn.execute(
            select(submissions.c.id, submissions.c.complaint_id).where(submissions.c.tracking_code == code)
        ).one()
    start_publisher(background, engine, settings)
    lose(settings, "workflow", str(submission_id))

    store = PostgresEventStore(engine)
    projection = TrackingProjection(engine, store)
    background.start(Runner(engine, projection.name, projection.round, channel=EVENTS_CHANNEL, poll_interval=0.2))
    reconciler = OutboxReconciler(engine, grace_seconds=GRACE, interval=0.3)
    background.start(Runner(engine, reconciler.name, reconciler.round, channel=None, poll_interval=reconciler.interval))
    spawn("worker", "workflow", "--concurrency", "2")
    wait_until(lambda: types_of(wf, cid), timeout=30, message="the complaint in the workflow")
    wait_until(lambda: client_track(settings, code), timeout=30, message="the complaint on the tracking page")
    assert types_of(wf, cid) == ["workflow.ComplaintReceived"]
