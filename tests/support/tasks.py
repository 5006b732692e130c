"""A Celery app's stand-in for a service whose tasks the test does not run: it keeps what it is handed, and the
test passes each message on to the handler a worker would call (or only looks at it)."""

from __future__ import annotations


class SentTasks:
    """``send_task`` recorded as (name, args), in order."""

    def __init__(self) -> None:
        self.sent: list[tuple[str, list]] = []

    def send_task(self, name: str, args: list, **_: object) -> None:
        self.sent.append((name, args))
