"""Starting the product's own processes (`pengaduan ...`) from tests, as production would."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from shared.config import Settings


def env_for(settings: Settings, **extra: str) -> dict[str, str]:
    env = dict(os.environ)
    env.update(
        PENGADUAN_DATABASE_URL=settings.database_url,
        PENGADUAN_REDIS_URL=settings.redis_url,
        PENGADUAN_BROKER_URL=settings.effective_broker_url,
        PENGADUAN_ENVIRONMENT=settings.environment,
        PENGADUAN_BROKER_VISIBILITY_TIMEOUT=str(settings.broker_visibility_timeout),
        PENGADUAN_RELAY_POLL_INTERVAL=str(settings.relay_poll_interval),
        PENGADUAN_LOG_LEVEL="WARNING",
        **{
            f"PENGADUAN_{name.upper()}": getattr(settings, name)
            for name in (
                "rate_limit_submissions",
                "rate_limit_tracking",
                "rate_limit_signin_account",
                "rate_limit_signin_address",
                "rate_limit_acknowledgments_per_recipient",
            )
        },
    )
    env.update(extra)
    return env


class Process:
    """A `pengaduan` subcommand in its own process group; logs go to a file the test can show."""

    def __init__(self, args: list[str], env: dict[str, str], log_dir: Path) -> None:
        self.args = args
        self.env = env
        self.log_path = log_dir / f"{'-'.join(args)}-{time.monotonic_ns()}.log"
        self.proc: subprocess.Popen | None = None

    def start(self) -> Process:
        self.log_path.parent.mkdir(parents=True, exist_ok=True)
        log = self.log_path.open("ab")
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "pengaduan", *self.args],
            env=self.env,
            stdout=log,
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        return self

    def kill(self, sig: int = signal.SIGKILL) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, sig)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait()

    def output(self) -> str:
        return self.log_path.read_text(errors="replace") if self.log_path.exists() else ""

    def succeeded(self, task_id: str) -> int:
        """How many runs of the task with this id this worker ran to their end (handled, or kept as a dead
        letter), from Celery's own log line for each: start the worker with ``PENGADUAN_LOG_LEVEL="INFO"``
        (at the default WARNING nothing is logged, and a wait on this times out rather than passing)."""
        return self.output().count(f"[{task_id}] succeeded in ")


def wait_until(predicate, timeout: float = 30.0, interval: float = 0.1, message: str = "condition"):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(interval)
    raise AssertionError(f"timed out after {timeout}s waiting for {message}")
