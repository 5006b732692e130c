"""The scheduler's intake jobs: a complaint lost after the broker accepted it is published again; the
outbox keeps only what is still needed."""
from __future__ import annotations

from datetime import UTC, datetime, timedelta

from fastapi.testclient import TestClient
from sqlalchemy import select, update

from services.intake.adapters.tables import outbox, submissions, tracking
from services.intake.bootstrap import bootstrap
from services.intake.config import IntakeSettings
from services.intake.entrypoints.api import create_app
from services.intake.housekeeping import OutboxCleanup, OutboxReconciler
from tests.integration.test_intake_api import valid_body


def submit(settings) -> str:
    container = bootstrap(IntakeSettings(**settings.model_dump()))
    with TestClient(create_app(container)) as client:
        code = client.post("/v1/complaints", json=valid_body()).json()["tracking_code"]
    container.engine.dispose()
    return code


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


def test_a_message_published_long_ago_that_never_arrived_is_published_again(settings, engine):
    lost, fresh = submit(settings), submit(settings)
    mark_published(engine, lost, timedelta(minutes=11))
    mark_published(engine, fresh, timedelta(minutes=2))
    OutboxReconciler(engine, grace_seconds=600).round()
    again = outbox_row(engine, lost)
    assert again.published_at is None and "again" in again.last_error
    assert outbox_row(engine, fresh).published_at is not None  # still within its grace period


def test_each_time_it_is_published_again_its_grace_doubles(settings, engine):
    """A workflow that is only behind (a long queue, projections stopped) is not flooded with copies: the
    second republish waits twice the grace, the third four times."""
    code = submit(settings)
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


def test_a_message_that_arrived_is_not_published_again_and_is_cleaned_up_after_a_week(settings, engine):
    arrived, lost = submit(settings), submit(settings)
    with engine.begin() as conn:
        sub = conn.execute(select(submissions).where(submissions.c.tracking_code == arrived)).mappings().one()
        conn.execute(
            tracking.insert().values(
                complaint_id=sub["complaint_id"], tracking_code=arrived, status="in_progress", current_step=2,
                sop_version="pegantenan-1", steps=[], updated_at=datetime.now(UTC), position=0,
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
                select(submissions.c.tracking_code).join(outbox, outbox.c.id == submissions.c.id)
                .where(submissions.c.tracking_code.in_([arrived, lost]))
            ).scalars()
        )
    assert remaining == {lost}  # the lost one is kept (and was queued again), the arrived one removed
