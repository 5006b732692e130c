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


def _healthy(base: str, last: list[str]) -> bool:
    """The gateway's /healthz answered 200; ``last`` keeps what it said (or why it did not), for the failure."""
    try:
        # the gateway waits up to 3 s for each service's own /healthz: a shorter wait here would call a slow
        # service "not up" for as long as it stays slow
        r = httpx.get(f"{base}/healthz", timeout=10, trust_env=False)
    except httpx.HTTPError as exc:
        last[:] = [f"{type(exc).__name__}: {exc}"]
        return False
    last[:] = [f"HTTP {r.status_code}: {r.text[:2000]}"]
    return r.status_code == 200


def _tail(path: Path, lines: int = 60) -> str:
    return "\n".join(path.read_text(errors="replace").splitlines()[-lines:]) if path.exists() else "(no log)"


@pytest.fixture(scope="package")
def fuzz_stack(fuzz_artifacts) -> str:
    """`make run` (`pengaduan run --port N --data-dir D`): its base URL; SIGTERM at the end."""
    port = free_port()
    data_dir = Path(tempfile.mkdtemp(prefix="pengaduan-fuzz-"))
    data_dir.chmod(0o755)  # the embedded PostgreSQL runs as its own user
    env = {k: v for k, v in os.environ.items() if not k.startswith("PENGADUAN_")}
    env["PENGADUAN_RELAY_POLL_INTERVAL"] = "0.2"
    env["PENGADUAN_RATE_LIMIT_ENABLED"] = "false"
    log_path = fuzz_artifacts / "make-run.log"
    log = log_path.open("wb")
    proc = subprocess.Popen(
        [sys.executable, "-m", "pengaduan", "run", "--port", str(port), "--data-dir", str(data_dir / "data")],
        env=env,
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        last: list[str] = ["(not asked yet)"]

        def up() -> bool:
            if proc.poll() is not None:
                raise RuntimeError(f"`pengaduan run` exited with {proc.returncode}; its log:\n{_tail(log_path)}")
            return _healthy(base, last)

        # seeding hashes ~165 demo passwords (Argon2): about 10 s on a quiet machine, a minute or more on a busy
        # one; the wait stays under pytest-timeout's 300 s so that its failure says why (the health answer and
        # the log's tail), where pytest-timeout's would only say where it was waiting
        try:
            wait_until(up, timeout=270, interval=0.5, message="the stack (pengaduan run) to become healthy")
        except AssertionError as exc:
            log.flush()
            raise AssertionError(f"{exc}\nlast /healthz: {last[0]}\n{log_path}'s tail:\n{_tail(log_path)}") from None
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
