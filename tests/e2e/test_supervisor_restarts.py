"""`pengaduan run` brings back what dies (issue #13 item 7): a process killed now and then is restarted
promptly every time (its crash count clears once it stayed up), two processes killed together come back
without one waiting for the other's pause, and the supervisor's own PostgreSQL and Redis, killed with -9,
come back on their ports and data, after which a complaint submitted reaches the workflow."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import httpx
import psutil
import psycopg
import pytest

from shared.embedded import free_port
from tests.support.complaints import valid_body
from tests.support.processes import wait_until

pytestmark = pytest.mark.e2e

STABLE = 3.0  # PENGADUAN_SUPERVISOR_STABLE_SECONDS for this run
PROMPT = 2.5  # a first restart's pause is 1 s; the old supervisor's was 2 s, then 4, 8, 16, 30


def _pid_of(supervisor: psutil.Process, *argv: str) -> int | None:
    """The pid of the supervisor's child `pengaduan <argv...>` (running, not a zombie)."""
    for child in supervisor.children():
        try:
            if child.cmdline()[3 : 3 + len(argv)] == list(argv) and child.status() != psutil.STATUS_ZOMBIE:
                return child.pid
        except psutil.NoSuchProcess:
            pass
    return None


def _kill(pid: int) -> float:
    os.killpg(pid, signal.SIGKILL)  # each child is its own process group
    return time.monotonic()


def _back(supervisor: psutil.Process, old: int, *argv: str, timeout: float = 15) -> float:
    """Seconds until `argv` runs again under a new pid."""
    start = time.monotonic()
    wait_until(
        lambda: _pid_of(supervisor, *argv) not in (None, old),
        timeout=timeout,
        interval=0.05,
        message=f"{' '.join(argv)} to be restarted",
    )
    return time.monotonic() - start


def _postmaster(data: Path) -> tuple[int, int]:
    lines = (data / "postgres" / "postmaster.pid").read_text().splitlines()
    return int(lines[0]), int(lines[3])


def _answers(port: int) -> bool:
    try:
        with psycopg.connect(
            host="127.0.0.1", port=port, user="postgres", dbname="pengaduan", connect_timeout=2
        ) as conn:
            return conn.execute("SELECT 1").fetchone() == (1,)
    except psycopg.Error:
        return False


def _pong(port: int) -> bool:
    import redis

    try:
        return redis.Redis(port=port, socket_timeout=1).ping()
    except redis.RedisError:
        return False


def test_the_supervisor_restarts_children_promptly_and_brings_back_its_postgres_and_redis(tmp_path, artifacts_dir):
    port, data = free_port(), tmp_path / "data"
    env = {k: v for k, v in os.environ.items() if not k.startswith("PENGADUAN_")}
    env.update(
        PENGADUAN_RELAY_POLL_INTERVAL="0.2",
        PENGADUAN_RATE_LIMIT_TRACKING="100000/minute",
        PENGADUAN_SUPERVISOR_STABLE_SECONDS=str(STABLE),
    )
    log = (artifacts_dir / "supervisor-restarts.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pengaduan", "run", "--port", str(port), "--data-dir", str(data)],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    supervisor = psutil.Process(proc.pid)
    try:

        def healthy():
            try:
                return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, timeout=150, interval=0.5, message="the stack to become healthy")

        # one child killed three times, each after it had stayed up a while: prompt every time
        for _ in range(3):
            old = _pid_of(supervisor, "projections", "run")
            _kill(old)
            took = _back(supervisor, old, "projections", "run")
            assert took < PROMPT, f"projections came back after {took:.1f}s"
            time.sleep(STABLE + 1)

        # the relay crashing in a row: its pauses grow (1, 2, then 4 s)...
        for _ in range(2):
            old = _pid_of(supervisor, "relay")
            _kill(old)
            _back(supervisor, old, "relay")
        relay, scheduler = _pid_of(supervisor, "relay"), _pid_of(supervisor, "scheduler")
        _kill(relay), _kill(scheduler)
        # ...and the scheduler, killed with it, does not wait for the relay's pause
        assert _back(supervisor, scheduler, "scheduler") < PROMPT
        assert _pid_of(supervisor, "relay") in (None, relay)  # the relay's 4 s pause is still running
        _back(supervisor, relay, "relay", timeout=10)

        # the supervisor's own Redis and PostgreSQL, killed with -9, come back on their ports
        redis_pid = int((data / "redis" / "redis.pid").read_text())
        redis_port = next(
            c.laddr.port for c in psutil.Process(redis_pid).net_connections("tcp") if c.status == "LISTEN"
        )
        pg_pid, pg_port = _postmaster(data)
        os.kill(redis_pid, signal.SIGKILL)
        os.kill(pg_pid, signal.SIGKILL)
        wait_until(
            lambda: _pong(redis_port) and int((data / "redis" / "redis.pid").read_text()) != redis_pid,
            timeout=30,
            interval=0.2,
            message="Redis back on its port",
        )
        wait_until(
            lambda: _answers(pg_port) and _postmaster(data)[0] != pg_pid,
            timeout=60,
            interval=0.3,
            message="PostgreSQL back on its port",
        )

        # and the system works again: a complaint submitted now reaches the workflow
        def submitted():
            try:
                r = httpx.post(
                    f"{base}/v1/complaints", json=valid_body(), headers={"Idempotency-Key": "after-restarts"}, timeout=5
                )
            except httpx.HTTPError:
                return None
            return r.status_code == 202 and r.json()["tracking_code"]

        code = wait_until(submitted, timeout=60, interval=1, message="intake to accept a complaint")

        def at_step_two():
            try:
                body = httpx.get(f"{base}/v1/track/{code}", timeout=5).json()
            except (httpx.HTTPError, ValueError):
                return None
            return (body.get("current_step") or {}).get("number") == 2

        wait_until(at_step_two, timeout=90, interval=0.5, message="the complaint to reach the workflow (step 2)")
    finally:
        proc.send_signal(signal.SIGTERM)
        try:
            proc.wait(timeout=60)
        except subprocess.TimeoutExpired:
            os.killpg(proc.pid, signal.SIGKILL)
            raise
        finally:
            log.close()
    assert proc.returncode == 0
    assert not (data / "postgres" / "postmaster.pid").exists()  # the restarted PostgreSQL was stopped too
