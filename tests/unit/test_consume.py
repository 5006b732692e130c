"""How a worker treats failures (shared/tasks.py): transient ones are retried in the task, then handed
back to the broker; others become dead letters; nothing is ever acknowledged and dropped."""

from __future__ import annotations

import pytest
from celery.exceptions import Reject, SoftTimeLimitExceeded
from pydantic import BaseModel, ValidationError
from sqlalchemy.exc import OperationalError

from shared.eventstore import ConcurrencyError
from shared.tasks import consume, safe_error


class FakeClock:
    def __init__(self) -> None:
        self.now = 0.0
        self.sleeps: list[float] = []

    def sleep(self, seconds: float) -> None:
        self.sleeps.append(seconds)
        self.now += seconds

    def __call__(self) -> float:
        return self.now


def flaky(failures: list[BaseException], result="done"):
    def handler():
        if failures:
            raise failures.pop(0)
        return result

    return handler


def db_down() -> OperationalError:
    return OperationalError(
        "SELECT 1", {"nik": "3528071505900001"}, Exception("connection refused"), hide_parameters=True
    )


def test_transient_failures_are_retried_with_growing_pauses_then_succeed():
    clock, letters = FakeClock(), []
    result = consume(
        flaky([db_down(), db_down(), ConcurrencyError("s", 1, 2)]),
        keep_dead_letter=letters.append,
        budget=60,
        sleep=clock.sleep,
        clock=clock,
    )
    assert result == "done" and letters == []
    assert len(clock.sleeps) == 3 and clock.sleeps[2] > clock.sleeps[0]


def test_a_transient_failure_that_outlasts_the_budget_hands_the_message_back():
    clock, letters = FakeClock(), []
    with pytest.raises(Reject) as info:
        consume(flaky([db_down()] * 100), keep_dead_letter=letters.append, budget=5, sleep=clock.sleep, clock=clock)
    assert info.value.requeue is True and letters == []
    assert clock.now <= 5


def test_a_soft_time_limit_hands_the_message_back():
    with pytest.raises(Reject) as info:
        consume(flaky([SoftTimeLimitExceeded()]), keep_dead_letter=lambda e: None, budget=5)
    assert info.value.requeue is True


def test_a_time_limit_wrapped_in_another_error_hands_the_message_back_too():
    """Seen in CI: letters' signing wrapped the soft time limit in its SigningError, and the letter was kept
    as a dead letter (never issued) instead of being tried again."""

    class SigningError(Exception):
        pass

    def signing():
        try:
            raise SoftTimeLimitExceeded
        except SoftTimeLimitExceeded as e:
            raise SigningError("signing failed: SoftTimeLimitExceeded") from e

    letters: list[BaseException] = []
    with pytest.raises(Reject) as info:
        consume(signing, keep_dead_letter=letters.append, budget=5)
    assert info.value.requeue is True and letters == []


def test_an_unhandleable_message_becomes_a_dead_letter_and_is_acknowledged():
    letters: list[BaseException] = []
    assert consume(flaky([KeyError("x")]), keep_dead_letter=letters.append, budget=5) is None
    assert len(letters) == 1 and isinstance(letters[0], KeyError)


def test_if_even_the_dead_letter_cannot_be_kept_the_message_goes_back():
    def cannot_keep(_):
        raise db_down()

    with pytest.raises(Reject) as info:
        consume(flaky([ValueError("bad")]), keep_dead_letter=cannot_keep, budget=5)
    assert info.value.requeue is True


def test_stored_errors_name_the_fields_not_the_personal_data():
    class Msg(BaseModel):
        nik: int

    with pytest.raises(ValidationError) as info:
        Msg.model_validate({"nik": "Siti 3528071505900001"})
    text = safe_error(info.value) + safe_error(db_down())
    assert "nik" in text and "3528071505900001" not in text and "Siti" not in text


def test_a_missing_file_is_not_transient_it_becomes_a_dead_letter():
    """A missing signing key needs a person: retrying it forever would hide it."""
    letters: list[BaseException] = []
    assert (
        consume(flaky([FileNotFoundError("signing/pegantenan.key")]), keep_dead_letter=letters.append, budget=5) is None
    )
    assert len(letters) == 1 and isinstance(letters[0], FileNotFoundError)


def test_the_broker_or_redis_out_of_reach_is_transient_not_a_dead_letter():
    """Seen in the chaos suite: a task publishing while Redis was killed met kombu's OperationalError and was
    dead-lettered; it is an outage, retried and then handed back like a database that is away."""
    from kombu.exceptions import OperationalError as KombuOperationalError
    from redis.exceptions import ConnectionError as RedisConnectionError

    clock, letters = FakeClock(), []
    failures = [
        KombuOperationalError("Error 111 connecting to 127.0.0.1:6379. Connection refused."),
        RedisConnectionError("Connection refused"),
    ]
    assert (
        consume(flaky(failures), keep_dead_letter=letters.append, budget=60, sleep=clock.sleep, clock=clock) == "done"
    )
    assert letters == [] and len(clock.sleeps) == 2


def test_a_dropped_connection_is_transient():
    clock, letters = FakeClock(), []
    assert (
        consume(
            flaky([ConnectionResetError("reset")]),
            keep_dead_letter=letters.append,
            budget=60,
            sleep=clock.sleep,
            clock=clock,
        )
        == "done"
    )
    assert letters == [] and len(clock.sleeps) == 1
