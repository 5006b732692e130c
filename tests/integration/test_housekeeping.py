"""The scheduler's intake jobs: a complaint, or another message, lost after the broker accepted it is
published again; the outbox keeps only what is still needed."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

from sqlalchemy import select, update

from services.intake.adapters.tables import outbox, submissions, tracking
from services.intake.scheduler import OutboxCleanup, OutboxReconciler, outbox_handoffs
from services.workflow.adapters import tables as workflow_tables
from shared.contracts.intake import ComplainantReplied
from shared.handoffs import Consumers
from tests.support.complaints import submit


def outbox_row(engine, code):
    with engine.connect() as conn:
        return conn.execute(
            select(outbox.c.id, outbox.c.published_at, outbox.c.last_error)
            .join(submissions, submissions.c.id == outbox.c.id)
            .where(submissions.c.tracking_code == code)
        ).one()


def mark_published(engine, code, ago: timedelta) -> None:
    row = outbox_row(engine, code)
    with engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == row.id).values(published_at=datetime.now(UTC) - ago))


def test_a_message_published_long_ago_that_never_arrived_is_published_again(engine, intake_client):
    lost, fresh = submit(intake_client), submit(intake_client)
    mark_published(engine, lost, timedelta(minutes=11))
    mark_published(engine, fresh, timedelta(minutes=2))
    OutboxReconciler(engine, grace_seconds=600).round()
    again = outbox_row(engine, lost)
    assert again.published_at is None and "again" in again.last_error
    assert outbox_row(engine, fresh).published_at is not None  # still within its grace period


def test_each_time_it_is_published_again_its_grace_doubles(engine, intake_client):
    """A workflow that is only behind (a long queue, projections stopped) is not flooded with copies: the
    second republish waits twice the grace, the third four times."""
    code = submit(intake_client)
    reconciler = OutboxReconciler(engine, grace_seconds=30)
    mark_published(engine, code, timedelta(seconds=31))
    reconciler.round()
    assert outbox_row(engine, code).published_at is None  # published again (republished = 1)
    mark_published(engine, code, timedelta(seconds=45))  # published once more by the publisher, 45 s ago
    reconciler.round()
    assert outbox_row(engine, code).published_at is not None  # under 2 x 30 s: not yet
    mark_published(engine, code, timedelta(seconds=61))
    reconciler.round()
    assert outbox_row(engine, code).published_at is None  # republished = 2
    mark_published(engine, code, timedelta(seconds=100))
    reconciler.round()
    assert outbox_row(engine, code).published_at is not None  # under 4 x 30 s


def test_a_complaint_published_again_a_thousand_times_does_not_stop_the_reconciler(engine, intake_client):
    """Its wait stays at the cap (10 minutes): 2 to the power of the republish count must not overflow."""
    stuck, lost = submit(intake_client), submit(intake_client)
    with engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == outbox_row(engine, stuck).id).values(republished=1100))
    mark_published(engine, stuck, timedelta(minutes=11))
    mark_published(engine, lost, timedelta(minutes=11))
    OutboxReconciler(engine, grace_seconds=600).round()
    assert outbox_row(engine, stuck).published_at is None and outbox_row(engine, lost).published_at is None


def test_a_complaint_the_workflow_kept_as_a_dead_letter_is_not_published_again_until_replayed(engine, intake_client):
    """A dead-lettered complaint never reaches the tracking projection: a person replays it (dead-letters
    replay), the reconciler does not send it again every 10 minutes."""
    dead, lost = submit(intake_client), submit(intake_client)
    for code in (dead, lost):
        mark_published(engine, code, timedelta(minutes=11))
    letter_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            workflow_tables.dead_letters.insert().values(
                id=letter_id,
                task="workflow.record_complaint",
                queue="workflow",
                payload={"submission_id": str(outbox_row(engine, dead).id)},
                error="x",
            )
        )
    reconciler = OutboxReconciler(engine, grace_seconds=600, dead_letters=workflow_tables.dead_letters)
    reconciler.round()
    assert outbox_row(engine, dead).published_at is not None  # kept for a person
    assert outbox_row(engine, lost).published_at is None  # published again
    with engine.begin() as conn:  # replayed, and its replay lost in turn: the reconciler minds it again
        conn.execute(
            update(workflow_tables.dead_letters)
            .where(workflow_tables.dead_letters.c.id == letter_id)
            .values(replayed_at=datetime.now(UTC))
        )
    reconciler.round()
    assert outbox_row(engine, dead).published_at is None


def test_a_message_that_arrived_is_not_published_again_and_is_cleaned_up_after_a_week(engine, intake_client):
    arrived, lost = submit(intake_client), submit(intake_client)
    with engine.begin() as conn:
        sub = conn.execute(select(submissions).where(submissions.c.tracking_code == arrived)).mappings().one()
        conn.execute(
            tracking.insert().values(
                complaint_id=sub["complaint_id"],
                tracking_code=arrived,
                status="in_progress",
                current_step=2,
                sop_version="pegantenan-1",
                steps=[],
                updated_at=datetime.now(UTC),
                position=0,
            )
        )
    for code in (arrived, lost):
        mark_published(engine, code, timedelta(days=8))
    OutboxReconciler(engine).round()
    assert outbox_row(engine, arrived).published_at is not None
    OutboxCleanup(engine).round()
    with engine.connect() as conn:
        remaining = set(
            conn.execute(
                select(submissions.c.tracking_code)
                .join(outbox, outbox.c.id == submissions.c.id)
                .where(submissions.c.tracking_code.in_([arrived, lost]))
            ).scalars()
        )
    assert remaining == {lost}  # the lost one is kept (and was queued again), the arrived one removed


# --- the other messages: the outbox as a hand-off ledger (shared/handoffs.py) -----------------------------

CONSUMERS = {"workflow": Consumers(workflow_tables.inbox, workflow_tables.dead_letters)}  # as pengaduan/cli.py wires it


def other_message(engine, queue: str, task: str, message_type: str, published_ago: timedelta) -> uuid.UUID:
    """An outbox row like a reply's (queue workflow) or a delivery status's (queue notify), published
    ``published_ago``; its payload carries the row's id as the consumer's message id."""
    row_id = uuid.uuid4()
    with engine.begin() as conn:
        conn.execute(
            outbox.insert().values(
                id=row_id,
                message_type=message_type,
                task=task,
                queue=queue,
                payload={"message_id": str(row_id), "complaint_id": str(uuid.uuid4())},
                published_at=datetime.now(UTC) - published_ago,
            )
        )
    return row_id


def reply_row(engine, published_ago: timedelta) -> uuid.UUID:
    return other_message(
        engine, ComplainantReplied.QUEUE, ComplainantReplied.TASK, ComplainantReplied.type, published_ago
    )


def row(engine, row_id):
    with engine.connect() as conn:
        return conn.execute(
            select(outbox.c.published_at, outbox.c.republished, outbox.c.last_error).where(outbox.c.id == row_id)
        ).first()


def set_published(engine, row_id, ago: timedelta) -> None:
    with engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == row_id).values(published_at=datetime.now(UTC) - ago))


def test_no_copies_go_to_a_queue_whose_consumers_are_behind_until_it_drains(settings, engine, tmp_path):
    """The chaos suite saw 2,076 copies in 9 minutes pushed into a notify queue that was only 758 long: a
    message not consumed yet is most likely still waiting its turn. The queue's depth is asked of the broker."""
    import redis

    from shared.celery_app import make_celery
    from shared.embedded import start_redis
    from shared.handoffs import broker_backlog

    broker = start_redis(tmp_path / "redis")
    try:
        backlog = broker_backlog(make_celery(settings.model_copy(update={"redis_url": broker.url}), "test-backlog"))
        waiting = redis.Redis.from_url(broker.url)
        waiting.rpush(ComplainantReplied.QUEUE, *[f"earlier message {i}" for i in range(3)])  # the queue is behind
        lost = reply_row(engine, timedelta(seconds=31))
        reconciler = outbox_handoffs(engine, CONSUMERS, grace_seconds=30, backlog=backlog)
        assert backlog(ComplainantReplied.QUEUE) == 3
        reconciler.round()
        assert row(engine, lost).published_at is not None and row(engine, lost).republished == 0  # no copy
        waiting.delete(ComplainantReplied.QUEUE)  # drained, and still not consumed: lost, sent again
        reconciler.round()
        assert row(engine, lost).published_at is None and row(engine, lost).republished == 1
        broker.stop()  # the broker cannot be asked: sent again as without the check
        set_published(engine, lost, timedelta(seconds=61))
        reconciler.round()
        assert backlog(ComplainantReplied.QUEUE) is None and row(engine, lost).republished == 2
    finally:
        broker.stop()


def test_a_reply_its_consumer_never_recorded_is_published_again_once_per_round_its_grace_doubling(engine):
    lost, fresh = reply_row(engine, timedelta(seconds=31)), reply_row(engine, timedelta(seconds=10))
    reconciler = outbox_handoffs(engine, CONSUMERS, grace_seconds=30)
    reconciler.round()
    again = row(engine, lost)
    assert again.published_at is None and again.republished == 1 and "again" in again.last_error
    assert row(engine, fresh).published_at is not None  # still within its grace period
    reconciler.round()
    assert row(engine, lost).republished == 1  # waits for the publisher: at most once per round
    set_published(engine, lost, timedelta(seconds=45))  # the publisher sent it once more, 45 s ago
    reconciler.round()
    assert row(engine, lost).published_at is not None  # under 2 x 30 s: not yet
    set_published(engine, lost, timedelta(seconds=61))
    reconciler.round()
    assert row(engine, lost).republished == 2
    set_published(engine, lost, timedelta(seconds=100))
    reconciler.round()
    assert row(engine, lost).published_at is not None  # under 4 x 30 s
    with engine.begin() as conn:
        conn.execute(update(outbox).where(outbox.c.id == lost).values(republished=40))
    set_published(engine, lost, timedelta(seconds=599))
    reconciler.round()
    assert row(engine, lost).published_at is not None  # capped at 10 minutes, whatever the count
    set_published(engine, lost, timedelta(seconds=601))
    reconciler.round()
    assert row(engine, lost).republished == 41


def test_a_reply_recorded_or_dead_lettered_leaves_the_outbox_and_a_status_report_is_left_alone(engine):
    recorded, dead, status = (
        reply_row(engine, timedelta(seconds=31)),
        reply_row(engine, timedelta(seconds=31)),
        other_message(engine, "notify", "notify.record_status", "intake.ChannelStatusReported", timedelta(minutes=11)),
    )
    with engine.begin() as conn:
        conn.execute(workflow_tables.inbox.insert().values(consumer=ComplainantReplied.TASK, message_id=recorded))
        conn.execute(
            workflow_tables.dead_letters.insert().values(
                id=uuid.uuid4(),
                task=ComplainantReplied.TASK,
                queue="workflow",
                payload={"message_id": str(dead)},
                error="x",
            )
        )
    outbox_handoffs(engine, CONSUMERS, grace_seconds=30).round()
    assert row(engine, recorded) is None and row(engine, dead) is None  # confirmed: never sent again
    # a queue left out of the consumers (here notify's) is not followed: the row is neither sent again nor
    # confirmed, and the cleanup removes it a week on
    assert row(engine, status).published_at is not None and row(engine, status).republished == 0


def test_the_cleanup_keeps_an_unconsumed_reconciled_message_and_removes_others_a_week_on(settings, engine):
    unconsumed = reply_row(engine, timedelta(days=8))
    status = other_message(engine, "notify", "notify.record_status", "intake.ChannelStatusReported", timedelta(days=8))
    recent_status = other_message(
        engine, "notify", "notify.record_status", "intake.ChannelStatusReported", timedelta(days=6)
    )
    OutboxCleanup(engine, reconciled=CONSUMERS).round()
    assert row(engine, unconsumed) is not None  # still followed by the reconciler until its consumer has it
    assert row(engine, status) is None and row(engine, recent_status) is not None
