"""Intake's outbox messages other than the complaint are recoverable too (#13 item 3): a complainant's reply
that the broker accepted and then lost is published again after the grace and recorded once; one the
workflow recorded, or kept as a dead letter, is never published again and leaves the outbox.

The reply comes in as a real SMS to a complaint awaiting documents (intake's webhook), goes out through the
real outbox publisher to Redis and is consumed by a real workflow worker. The loss is real: the message is
taken out of its queue (LREM) before any worker runs, as a crash between kombu's BRPOP and its unacked
record, or a Redis crash inside its fsync window, would. The complaint itself is the subject of
tests/integration/test_handoff_reconcile.py (``OutboxReconciler``, by the tracking projection).

A provider's delivery status (queue ``notify``, a WhatsApp status webhook) is reconciled the same way:
``notify.record_status`` records the outbox row's id (``message_id`` in the payload) in notify's inbox.
"""

from __future__ import annotations

import json
import uuid
from datetime import UTC, datetime

import redis
from sqlalchemy import select

from services.intake.adapters.tables import channel_statuses, outbox
from services.intake.scheduler import outbox_handoffs
from services.notify.adapters import tables as notify_tables
from services.workflow.adapters import tables as workflow_tables
from services.workflow.domain.events import stream_id
from shared.contracts.intake import ComplainantReplied
from shared.handoffs import Consumers
from shared.privacy import provider_id_hashes
from shared.subscriptions import Runner
from tests.integration.test_intake_channels import (  # noqa: F401 (fixtures)
    SMS_TOKEN,
    await_documents,
    client,
    graph,
    intake,
    mobile,
    places,
    sign,
    submission_of,
    wa_body,
)
from tests.integration.test_notify import wf  # noqa: F401 (fixture)
from tests.integration.test_pipeline import start_publisher
from tests.support.processes import wait_until

GRACE = 1.0
CONSUMERS = {
    "workflow": Consumers(workflow_tables.inbox, workflow_tables.dead_letters),  # as pengaduan/cli.py wires it
    "notify": Consumers(notify_tables.inbox, notify_tables.dead_letters),
}


def lose(settings, queue: str, task_id: str) -> None:
    """Take the message out of the broker before any worker has it (positive evidence: it was there)."""
    broker = redis.Redis.from_url(settings.redis_url)

    def on_the_queue():
        return next((raw for raw in broker.lrange(queue, 0, -1) if json.loads(raw)["headers"]["id"] == task_id), None)

    raw = wait_until(on_the_queue, timeout=10, message=f"{task_id} on queue {queue}")
    assert broker.lrem(queue, 1, raw) == 1
    assert on_the_queue() is None


def sms(client, sender: str, place, text: str):
    r = client.post(
        "/v1/channels/sms",
        headers={"X-Webhook-Token": SMS_TOKEN},
        json={"from": sender, "to": place.sms, "message": text, "id": uuid.uuid4().hex},
    )
    assert r.status_code == 200, r.text
    return r.json()


def complaint_awaiting_documents(client, engine, place) -> tuple[str, uuid.UUID, uuid.UUID]:
    """A complaint sent by SMS, and the tracking page saying it waits for the complainant's documents
    (what the projection writes when step 2 asks for them). Returns the sender, submission and complaint."""
    sender = mobile()
    code = sms(client, sender, place, "Bantuan sosial tidak sampai ke dusun kami")["tracking_code"]
    complaint_id = await_documents(engine, code)
    return sender, submission_of(engine, code)["id"], complaint_id


def reply(client, engine, sender: str, place, complaint_id: uuid.UUID) -> uuid.UUID:
    """The complainant's reply by SMS; returns its outbox row's id (the message id the workflow records)."""
    assert sms(client, sender, place, "Ini nomor KK saya 3528071505900001")["result"] == "reply"
    with engine.connect() as conn:
        (row_id,) = (
            conn.execute(
                select(outbox.c.id).where(
                    outbox.c.message_type == ComplainantReplied.type,
                    outbox.c.payload["complaint_id"].astext == str(complaint_id),
                )
            )
            .scalars()
            .all()
        )
    return row_id


def outbox_row(engine, row_id):
    with engine.connect() as conn:
        return conn.execute(select(outbox.c.published_at, outbox.c.republished).where(outbox.c.id == row_id)).first()


def reconcile_until_removed(engine, row_id, consumers=CONSUMERS) -> list[int]:
    """Reconciler rounds until the row leaves the outbox; returns its ``republished`` as seen after each
    round (a row published again keeps it raised until at least one more round, twice the grace later)."""
    reconciler = outbox_handoffs(engine, consumers, GRACE, 0.3)
    seen: list[int] = []

    def removed() -> bool:
        reconciler.round()
        row = outbox_row(engine, row_id)
        if row is not None:
            seen.append(row.republished)
        return row is None

    wait_until(removed, timeout=30, interval=0.3, message="the message confirmed and removed from the outbox")
    return seen


def types_of(wf, complaint_id) -> list[str]:
    return [e.type for e in wf.store.read_stream(stream_id(complaint_id))]


def dead_letters_of(engine, message_id: uuid.UUID) -> int:
    t = workflow_tables.dead_letters
    with engine.connect() as conn:
        return len(
            conn.execute(
                select(t.c.id).where(
                    t.c.task == ComplainantReplied.TASK, t.c.payload["message_id"].astext == str(message_id)
                )
            ).all()
        )


def test_a_lost_reply_is_published_again_after_the_grace_and_recorded_once(
    settings, engine, spawn, background, client, places, wf
):
    sender, _submission_id, cid = complaint_awaiting_documents(client, engine, places["a"])
    start_publisher(background, engine, settings)
    reply_id = reply(client, engine, sender, places["a"], cid)
    lose(settings, "workflow", str(reply_id))
    assert outbox_row(engine, reply_id).published_at is not None  # the publisher is done with it

    # one worker process: the complaint, ahead of the reply's copy on the queue, is recorded first
    spawn("worker", "workflow", "--concurrency", "1")
    reconciler = outbox_handoffs(engine, CONSUMERS, GRACE, 0.3)
    background.start(Runner(engine, reconciler.name, reconciler.round, channel=None, poll_interval=reconciler.interval))
    wait_until(
        lambda: "workflow.ComplainantReplied" in types_of(wf, cid), timeout=60, message="the reply in the workflow"
    )
    wait_until(
        lambda: outbox_row(engine, reply_id) is None, timeout=30, message="the reply confirmed by the workflow's inbox"
    )
    assert types_of(wf, cid).count("workflow.ComplainantReplied") == 1
    assert types_of(wf, cid)[0] == "workflow.ComplaintReceived"
    assert dead_letters_of(engine, reply_id) == 0


def test_a_reply_the_workflow_recorded_is_never_published_again(
    settings, engine, spawn, background, client, places, wf
):
    sender, _, cid = complaint_awaiting_documents(client, engine, places["b"])
    start_publisher(background, engine, settings)
    spawn("worker", "workflow", "--concurrency", "2")
    wait_until(lambda: types_of(wf, cid), timeout=60, message="the complaint in the workflow")
    reply_id = reply(client, engine, sender, places["b"], cid)
    wait_until(
        lambda: "workflow.ComplainantReplied" in types_of(wf, cid), timeout=30, message="the reply in the workflow"
    )

    seen = reconcile_until_removed(engine, reply_id)
    assert set(seen) <= {0}  # looked at after the grace, found in the inbox, removed: never sent again
    assert types_of(wf, cid).count("workflow.ComplainantReplied") == 1


def test_a_reply_the_workflow_kept_as_a_dead_letter_is_not_published_again(
    settings, engine, spawn, background, client, places, wf
):
    sender, submission_id, cid = complaint_awaiting_documents(client, engine, places["a"])
    start_publisher(background, engine, settings)
    lose(
        settings, "workflow", str(submission_id)
    )  # the complaint never reaches the workflow (no complaint reconciler here)
    reply_id = reply(client, engine, sender, places["a"], cid)
    spawn("worker", "workflow", "--concurrency", "2")
    wait_until(lambda: dead_letters_of(engine, reply_id), timeout=60, message="the reply kept as a dead letter")

    seen = reconcile_until_removed(engine, reply_id)
    assert set(seen) <= {0}  # a person decides on a dead letter (dead-letters replay), not the reconciler
    assert dead_letters_of(engine, reply_id) == 1
    assert types_of(wf, cid) == []


# --- delivery statuses -------------------------------------------------------------------------------------


def sent_whatsapp(engine, settings) -> tuple[uuid.UUID, str]:
    """A WhatsApp message notify sent to a staff member (no report to the workflow), waiting for its receipt."""
    delivery_id, wamid = uuid.uuid4(), f"wamid.OUT{uuid.uuid4().hex}"
    with engine.begin() as conn:
        conn.execute(
            notify_tables.deliveries.insert().values(
                id=delivery_id,
                source_event_id=uuid.uuid4(),
                complaint_id=uuid.uuid4(),
                kecamatan="pegantenan",
                kind="overdue",
                audience="staff",
                channel="whatsapp",
                recipient="+6281234567890",
                body="-",
                state="sent",
                provider="whatsapp-cloud",
                provider_message_id=wamid,
                provider_message_hash=provider_id_hashes(settings).hash(wamid),
                sent_at=datetime.now(UTC),
            )
        )
    return delivery_id, wamid


def delivered_status(client, engine, settings, place, delivery_id: uuid.UUID, wamid: str) -> uuid.UUID:
    """The provider's "delivered" receipt through intake's webhook; returns its outbox row's id."""
    status = {
        "id": wamid,
        "status": "delivered",
        "timestamp": str(int(datetime.now(UTC).timestamp())),
        "recipient_id": "6281234567890",
        "biz_opaque_callback_data": delivery_id.hex,
    }
    body = wa_body(place, statuses=[status])
    r = client.post("/v1/channels/whatsapp", content=body, headers=sign(body))
    assert r.status_code == 200 and r.json()["statuses_recorded"] == 1, r.text
    with engine.connect() as conn:
        return conn.execute(
            select(channel_statuses.c.id).where(
                channel_statuses.c.provider_message_hash == provider_id_hashes(settings).hash(wamid)
            )
        ).scalar_one()


def in_notify_inbox(engine, message_id: uuid.UUID) -> bool:
    with engine.connect() as conn:
        found = conn.execute(
            select(notify_tables.inbox.c.message_id).where(notify_tables.inbox.c.message_id == message_id)
        ).first()
    return found is not None


def delivery_state(engine, delivery_id: uuid.UUID) -> str:
    with engine.connect() as conn:
        return conn.execute(
            select(notify_tables.deliveries.c.state).where(notify_tables.deliveries.c.id == delivery_id)
        ).scalar_one()


def test_a_lost_delivery_status_is_published_again_and_recorded_once(
    settings, engine, spawn, background, client, places
):
    delivery_id, wamid = sent_whatsapp(engine, settings)
    start_publisher(background, engine, settings)
    status_id = delivered_status(client, engine, settings, places["a"], delivery_id, wamid)
    lose(settings, "notify", str(status_id))

    spawn("worker", "notify", "--concurrency", "1")
    reconciler = outbox_handoffs(engine, CONSUMERS, GRACE, 0.3)
    background.start(Runner(engine, reconciler.name, reconciler.round, channel=None, poll_interval=reconciler.interval))
    wait_until(lambda: delivery_state(engine, delivery_id) == "delivered", timeout=60, message="the receipt recorded")
    wait_until(
        lambda: outbox_row(engine, status_id) is None,
        timeout=30,
        interval=0.3,
        message="the status confirmed by notify's inbox",
    )


def test_a_delivery_status_notify_recorded_is_never_published_again(
    settings, engine, spawn, background, client, places
):
    delivery_id, wamid = sent_whatsapp(engine, settings)
    start_publisher(background, engine, settings)
    spawn("worker", "notify", "--concurrency", "1")
    status_id = delivered_status(client, engine, settings, places["a"], delivery_id, wamid)
    wait_until(lambda: delivery_state(engine, delivery_id) == "delivered", timeout=60, message="the receipt recorded")
    # notify records a status in its inbox after its handler's transaction (shared/tasks.py), so the receipt can be
    # written a moment before the inbox row: the reconciler is asked once notify's inbox has it
    wait_until(lambda: in_notify_inbox(engine, status_id), timeout=30, message="the status in notify's inbox")

    seen = reconcile_until_removed(engine, status_id, CONSUMERS)
    assert set(seen) <= {0}
