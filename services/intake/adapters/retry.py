"""Intake's writes tried again over a database blip, before the request is answered 503.

A PostgreSQL restart takes about half a second (``pg_ctl stop -m fast`` then start); a citizen whose
complaint arrived in it should not have to send it again. A request's database work runs through one
``WriteRetry``: an attempt that fails because the database is out of reach (``shared.outages.unreachable``:
the connection refused or dropped, the server shutting down or starting up) is made again after a short
pause (0.05 s doubling to 0.5 s, with jitter) until ``PENGADUAN_INTAKE_WRITE_RETRY_SECONDS`` have passed since
the request began; then the last error goes up and the API answers 503 ``service_unavailable`` with
``Retry-After`` as before. Any other error (a bug, a refused request) is not tried again.

Trying a write again is safe only if an attempt whose COMMIT went through, but whose answer was lost (the
connection dropped after the server committed), is recognised by the next one. So the callers draw what
identifies the write (a submission's id, an inbound message's id) once per request, before the first
attempt, and every attempt writes under it; a unique constraint stops the second copy, and the attempt that
runs into it looks the row up by that id and answers as the first attempt would have (the same tracking
code, not "replayed").
"""

from __future__ import annotations

import logging
import random
import time
from collections.abc import Callable
from typing import TypeVar

from shared.outages import describe, unreachable

log = logging.getLogger(__name__)

T = TypeVar("T")

FIRST_PAUSE = 0.05  # seconds; a restart's refusals are immediate, so early attempts are cheap
MAX_PAUSE = 0.5


class WriteRetry:
    """One request's attempts at its database work: every ``run`` of the request shares one deadline,
    ``budget`` seconds after the ``WriteRetry`` was made (0: one attempt, no retry). An attempt that is
    itself slow (a connection that times out) can carry the request past the deadline by its own length."""

    def __init__(self, budget: float, what: str) -> None:
        self.what = what
        self.started = time.monotonic()
        self.deadline = self.started + max(0.0, budget)
        self.attempts = 0  # attempts made by every run so far (each run's own are in its log lines)
        self._pause = FIRST_PAUSE

    def run(self, attempt: Callable[[], T]) -> T:
        """``attempt()``, made again while it fails for an unreachable database and the budget lasts. It must
        be safe to repeat: every attempt writes under the identity the caller drew once (see the module)."""
        tried = 0
        while True:
            tried += 1
            self.attempts += 1
            try:
                result = attempt()
            except Exception as exc:
                if not unreachable(exc):
                    raise
                wait = self._pause * (0.5 + random.random())
                if time.monotonic() + wait > self.deadline:
                    if self.deadline > self.started:
                        log.warning(
                            "database still unreachable for %s after %d attempts in %.2f s; answering 503: %s",
                            self.what,
                            tried,
                            time.monotonic() - self.started,
                            describe(exc),
                            extra={"attempts": tried},
                        )
                    raise
                log.warning(
                    "database unreachable for %s (attempt %d), trying again in %.2f s: %s",
                    self.what,
                    tried,
                    wait,
                    describe(exc),
                    extra={"attempts": tried},
                )
                time.sleep(wait)
                self._pause = min(self._pause * 2, MAX_PAUSE)
                continue
            if tried > 1:
                log.info(
                    "%s written after %d attempts in %.2f s",
                    self.what,
                    tried,
                    time.monotonic() - self.started,
                    extra={"attempts": tried},
                )
            return result
