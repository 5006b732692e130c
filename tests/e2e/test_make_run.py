"""The whole system started as `make run` starts it (`pengaduan run`: every process its own OS process,
embedded PostgreSQL and Redis), driven over HTTP at the one base URL, then stopped with SIGTERM."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time

import httpx
import psutil
import pytest

from shared.embedded import free_port
from tests.support.complaints import valid_body
from tests.support.processes import wait_until

pytestmark = pytest.mark.e2e


def _alive(processes: list[psutil.Process]) -> list[psutil.Process]:
    """The ones still running; a process may exit between two psutil calls (NoSuchProcess)."""
    out = []
    for p in processes:
        try:
            if p.is_running() and p.status() != psutil.STATUS_ZOMBIE:
                out.append(p)
        except psutil.NoSuchProcess:
            pass
    return out


def test_make_run_serves_everything_at_one_url_and_stops_cleanly(tmp_path, artifacts_dir):
    port = free_port()
    env = {k: v for k, v in os.environ.items() if not k.startswith("PENGADUAN_")}
    env["PENGADUAN_RELAY_POLL_INTERVAL"] = "0.2"
    env["PENGADUAN_RATE_LIMIT_TRACKING"] = "100000/minute"  # the test polls the tracking page every 0.2 s
    log = (artifacts_dir / "make-run.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pengaduan", "run", "--port", str(port), "--data-dir", str(tmp_path / "data")],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    descendants: list[psutil.Process] = []
    try:

        def healthy():
            try:
                return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_until(healthy, timeout=120, interval=0.5, message="the stack to become healthy")
        health = httpx.get(f"{base}/healthz").json()
        assert {s["service"] for s in health["services"]} == {"intake", "workflow", "letters", "dashboard", "web"}
        descendants = psutil.Process(proc.pid).children(recursive=True)
        kinds = " ".join(" ".join(p.cmdline()) for p in descendants)
        for part in (
            "api intake",
            "api workflow",
            "api letters",
            "api dashboard",
            "api web",
            "gateway",
            "worker workflow",
            "worker letters",
            "worker notify",
            "relay",
            "projections run",
            "scheduler",
            "redis-server",
            "devsinks",
            "devtsa",
            "devbsre",
        ):
            assert part in kinds, f"{part} is not running"

        r = httpx.post(f"{base}/v1/complaints", json=valid_body(), headers={"Idempotency-Key": "e2e-1"})
        assert r.status_code == 202, r.text
        code = r.json()["tracking_code"]

        def at_step_two():
            body = httpx.get(f"{base}/v1/track/{code}").json()
            return body if body.get("current_step") else None

        tracked = wait_until(at_step_two, timeout=60, interval=0.2, message="the complaint to reach step 2")
        assert tracked["current_step"]["number"] == 2

        # a demo Kasi signs in through the same base URL and verifies the complainant's identity
        login = httpx.post(f"{base}/v1/auth/token", data={"username": "kasi.pegantenan", "password": "demo"})
        assert login.status_code == 200, login.text
        auth = {"Authorization": f"Bearer {login.json()['access_token']}"}
        found = httpx.get(f"{base}/v1/inbox", params={"q": code}, headers=auth).json()
        mine = [i for i in found if i["tracking_code"] == code]
        assert len(mine) == 1 and mine[0]["current_step"]["number"] == 2
        acted = httpx.post(
            f"{base}/v1/complaints/{mine[0]['id']}/verify-identity", json={"expected_version": 1}, headers=auth
        )
        assert acted.status_code == 200 and acted.json()["current_step"]["number"] == 3
        wait_until(
            lambda: httpx.get(f"{base}/v1/track/{code}").json()["current_step"]["number"] == 3,
            timeout=30,
            interval=0.2,
            message="the tracking page to show step 3",
        )

        # the acknowledgment went to the local SMTP sink, listed at /dev/outbox (nothing leaves the machine)
        mails = wait_until(
            lambda: [m for m in httpx.get(f"{base}/dev/outbox/messages").json() if code in (m.get("subject") or "")],
            timeout=30,
            interval=0.3,
            message="the acknowledgment at the local SMTP sink",
        )
        assert mails[0]["channel"] == "email" and code in mails[0]["text"]
        assert code in httpx.get(f"{base}/dev/outbox").text

        assert httpx.get(f"{base}/docs").status_code == 200
        spec = httpx.get(f"{base}/openapi.json").json()
        assert "/v1/complaints" in spec["paths"] and "/v1/track/{tracking_code}" in spec["paths"]
        assert httpx.get(f"{base}/v1/track/ZZZZ-ZZZZ-ZZ").status_code == 404

        # every path outside the APIs belongs to the web app: its home page and its static assets
        home = httpx.get(f"{base}/")
        assert home.status_code == 200, home.text
        assert home.headers["content-type"].startswith("text/html")
        assert "Buat pengaduan" in home.text
        css = httpx.get(f"{base}/static/web.css")
        assert css.status_code == 200 and css.headers["content-type"].startswith("text/css")
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
    time.sleep(1)
    alive = _alive(descendants)
    assert alive == [], f"orphans left behind: {[p.cmdline() for p in alive]}"
    assert (tmp_path / "data" / "postgres" / "PG_VERSION").exists()  # data kept for the next start
    assert not (tmp_path / "data" / "postgres" / "postmaster.pid").exists()  # PostgreSQL (pg_ctl's daemon) stopped


def _start(port: int, data_dir, log_path) -> subprocess.Popen:
    env = {k: v for k, v in os.environ.items() if not k.startswith("PENGADUAN_")}
    env["PENGADUAN_RELAY_POLL_INTERVAL"] = "0.2"
    env["PENGADUAN_RATE_LIMIT_TRACKING"] = "100000/minute"  # the test polls the tracking page every 0.2 s
    return subprocess.Popen(
        [sys.executable, "-m", "pengaduan", "run", "--port", str(port), "--data-dir", str(data_dir)],
        env=env,
        stdout=log_path.open("ab"),
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


def test_after_the_supervisor_is_killed_its_processes_go_and_the_next_start_keeps_the_data(tmp_path, artifacts_dir):
    port = free_port()
    base = f"http://127.0.0.1:{port}"
    log_path = artifacts_dir / "make-run-killed.log"
    first = _start(port, tmp_path / "data", log_path)
    second = None
    try:
        wait_until(lambda: _healthy(base), timeout=120, interval=0.5, message="the first start")
        children = psutil.Process(first.pid).children(recursive=True)
        code = httpx.post(f"{base}/v1/complaints", json=valid_body()).json()["tracking_code"]
        wait_until(
            lambda: httpx.get(f"{base}/v1/track/{code}").json().get("current_step"), timeout=60, message="step 2"
        )

        first.kill()  # SIGKILL: no chance to clean up
        first.wait()
        wait_until(
            lambda: not _alive(children),
            timeout=90,
            message="the children to follow their supervisor (a worker finishes its task first)",
        )

        second = _start(port, tmp_path / "data", log_path)
        wait_until(lambda: _healthy(base), timeout=120, interval=0.5, message="the second start")
        tracked = httpx.get(f"{base}/v1/track/{code}").json()
        assert tracked["current_step"]["number"] == 2  # the data survived
    finally:
        for proc in (second, first):
            if proc and proc.poll() is None:
                proc.send_signal(signal.SIGTERM)
                try:
                    proc.wait(timeout=60)
                except subprocess.TimeoutExpired:
                    os.killpg(proc.pid, signal.SIGKILL)
    assert second.returncode == 0
    assert not (tmp_path / "data" / "postgres" / "postmaster.pid").exists()
