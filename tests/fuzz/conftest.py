"""The fuzz run's stack: the whole system started as `make run` starts it (`pengaduan run --port N --data-dir D`,
its own data directory, stopped with SIGTERM), once for the package, with the application's rate limits off
(``PENGADUAN_RATE_LIMIT_ENABLED=false``): a fuzzer sends thousands of requests from one address and would
otherwise spend its run on 429s. Its log is kept in ``test-artifacts/fuzz/make-run.log``.
"""

from __future__ import annotations

import os
import shutil
import signal
import subprocess
import sys
import tempfile
from pathlib import Path

import httpx
import pytest

from shared.embedded import free_port
from tests.support.processes import wait_until


def pytest_collection_modifyitems(config, items):
    here = Path(__file__).resolve().parent
    for item in items:
        if Path(str(item.fspath)).resolve().is_relative_to(here):
            item.add_marker(pytest.mark.fuzz)


@pytest.fixture(scope="package")
def fuzz_artifacts(artifacts_dir) -> Path:
    path = artifacts_dir / "fuzz"
    path.mkdir(parents=True, exist_ok=True)
    for old in path.iterdir():  # this run's reports only
        if old.is_file():
            old.unlink(missing_ok=True)
    return path


def _healthy(base: str) -> bool:
    try:
        return httpx.get(f"{base}/healthz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="package")
def fuzz_stack(fuzz_artifacts) -> str:
    """`make run` (`pengaduan run --port N --data-dir D`): its base URL; SIGTERM at the end."""
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="pengaduan-fuzz-"))
    data_dir.chmod(0o755)  # the embedded PostgreSQL runs as its own user
    env = {k: v for k, v in os.environ.items() if not k.startswith("PENGADUAN_")}
    env["PENGADUAN_RELAY_POLL_INTERVAL"] = "0.2"
    env["PENGADUAN_RATE_LIMIT_ENABLED"] = "false"
    log = (fuzz_artifacts / "make-run.log").open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pengaduan", "run", "--port", str(port), "--data-dir", str(data_dir / "data")],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"`pengaduan run` exited with {proc.returncode}; see {log.name}")
            return _healthy(base)

        # seeding hashes ~50 demo passwords (Argon2): minutes on a busy 2-core machine
        wait_until(up, timeout=420, interval=0.5, message="the stack (pengaduan run) to become healthy")
        yield base
    finally:
        if proc.poll() is None:
            proc.send_signal(signal.SIGTERM)
            try:
                proc.wait(timeout=60)
            except subprocess.TimeoutExpired:
                os.killpg(proc.pid, signal.SIGKILL)
                proc.wait()
        log.close()
        shutil.rmtree(data_dir, ignore_errors=True)
