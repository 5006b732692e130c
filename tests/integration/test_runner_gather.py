"""A runner woken by NOTIFY gathers the wake-ups of a busy moment into one round (``Runner.gather``, shared/
subscriptions.py): a round per append was a transaction and a few statements per event in the relay, the largest
share of its CPU at 50 complaints a second. An event after a quiet spell is still handed on at once, and none
announced is left for the next poll."""

from __future__ import annotations

import threading
import time
import uuid

import psycopg

from shared.db import libpq_url
from shared.subscriptions import RoundResult, Runner
from tests.support.processes import wait_until


class Announced:
    """What the wake-ups announce: items counted in before each NOTIFY, taken by a round."""

    def __init__(self) -> None:
        self.lock = threading.Lock()
        self.waiting = 0
        self.rounds: list[tuple[float, int]] = []  # (when, how many it took), rounds that took something

    def round(self) -> RoundResult:
        with self.lock:
            taken, self.waiting = self.waiting, 0
        if taken:
            self.rounds.append((time.monotonic(), taken))
        return RoundResult(taken, False)

    def taken(self) -> int:
        return sum(n for _, n in self.rounds)


def _runner(engine, announced: Announced, channel: str, gather: float) -> Runner:
    # a poll interval far longer than the test: every round here was started by a wake-up
    return Runner(engine, f"test.gather.{channel}", announced.round, channel=channel, poll_interval=30, gather=gather)


def _announce(engine, announced: Announced, channel: str, count: int, pause: float) -> list[float]:
    sent = []
    with psycopg.connect(libpq_url(engine.url.render_as_string(hide_password=False)), autocommit=True) as conn:
        for _ in range(count):
            with announced.lock:
                announced.waiting += 1
            sent.append(time.monotonic())  # before the NOTIFY: its round may come before this thread runs on
            conn.execute(f"NOTIFY {channel}")
            time.sleep(pause)  # the load's pace (a complaint every 10 ms), not a wait for the runner
    return sent


def test_the_wake_ups_of_a_busy_moment_are_handed_on_in_few_rounds(engine, background):
    channel = f"test_gather_{uuid.uuid4().hex[:8]}"
    announced = Announced()
    runner = _runner(engine, announced, channel, gather=0.1)
    background.start(runner)
    wait_until(runner.is_leader.is_set, timeout=10, message="the runner to lead")
    time.sleep(0.2)  # its LISTEN follows the lead: give it the moment (a NOTIFY before it would wait 30 s)
    _announce(engine, announced, channel, count=40, pause=0.01)
    wait_until(lambda: announced.taken() == 40, timeout=10, message="every announced item taken")
    # 40 wake-ups over about 0.4 s: a round per wake-up would be 40; with 0.1 s of gathering, about 5
    assert len(announced.rounds) <= 12, announced.rounds


def test_a_wake_up_after_a_quiet_spell_is_handed_on_at_once(engine, background):
    channel = f"test_gather_{uuid.uuid4().hex[:8]}"
    announced = Announced()
    runner = _runner(engine, announced, channel, gather=0.5)
    background.start(runner)
    wait_until(runner.is_leader.is_set, timeout=10, message="the runner to lead")
    time.sleep(0.2)
    for spell in range(3):  # quiet spells longer than the gathering: each wake-up is a round of its own, at once
        (sent,) = _announce(engine, announced, channel, count=1, pause=0)
        wait_until(lambda: len(announced.rounds) > spell, timeout=10, message="the round")  # noqa: B023
        assert announced.rounds[-1][0] - sent < 0.4  # not held back by the 0.5 s gathering, nor the 30 s poll
        time.sleep(0.6)
    assert [n for _, n in announced.rounds] == [1, 1, 1]
