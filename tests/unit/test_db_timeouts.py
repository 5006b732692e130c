"""A worker's statement timeout (shared/db.py) is derived from the task's time limit: however long a task's
statements wait, and however often shared/tasks.consume retries them, the last one ends on the server
before the task's soft limit, so the time limit never cuts off a statement that is still running."""

from __future__ import annotations

import pytest
from celery.exceptions import Reject
from sqlalchemy.exc import OperationalError

from shared.celery_app import make_celery
from shared.config import Settings
from shared.db import worker_statement_timeout
from shared.tasks import consume
from tests.unit.test_consume import FakeClock


@pytest.mark.parametrize("visibility_timeout", [4, 8, 10, 45, 46, 100, 600, 3600])
def test_every_retry_of_a_statement_that_times_out_ends_before_the_soft_limit(visibility_timeout):
    settings = Settings(environment="test", broker_visibility_timeout=visibility_timeout)
    soft_limit = make_celery(settings).conf.task_soft_time_limit
    timeout = worker_statement_timeout(settings)
    clock = FakeClock()
    ended: list[float] = []

    def statement_waits_out_its_timeout():
        clock.now += timeout  # waits on a lock the whole time, then the server cancels it
        ended.append(clock.now)
        raise OperationalError(
            "SELECT pg_advisory_xact_lock(1)", {}, Exception("canceling statement due to statement timeout")
        )

    with pytest.raises(Reject) as handed_back:
        consume(
            statement_waits_out_its_timeout,
            keep_dead_letter=lambda exc: None,
            budget=soft_limit / 2,  # as services/*/entrypoints/worker.py give it
            sleep=clock.sleep,
            clock=clock,
        )
    assert handed_back.value.requeue
    assert ended and max(ended) < soft_limit
