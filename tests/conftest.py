"""Shared fixtures. Real PostgreSQL and Redis (see tests/support/servers.py); every test uses fresh ids,
so tests never depend on each other's leftovers."""
from __future__ import annotations

import shutil
import tempfile
import threading
from pathlib import Path

import pytest
from sqlalchemy import Engine

from shared.config import Settings
from shared.db import make_engine
from shared.migrate import migrate
from shared.tenancy import demo_kecamatan, upsert_kecamatan
from tests.support import servers
from tests.support.processes import Process, env_for

VISIBILITY_TIMEOUT = 8  # seconds: short, so a killed worker's message comes back within a test
# Every test comes from 127.0.0.1: the limits stay on (their code runs in every test) but far above what
# the suite asks; tests of the limits themselves set their own (tests/integration/test_rate_limits.py).
RELAXED_RATE_LIMITS = {
    "rate_limit_submissions": "100000/minute",
    "rate_limit_tracking": "100000/minute",
    "rate_limit_signin_account": "100000/minute",
    "rate_limit_signin_address": "100000/minute",
    "rate_limit_acknowledgments_per_recipient": "100000/minute",
}


@pytest.fixture(scope="session")
def servers_dir() -> Path:
    # not under pytest's tmp folders: those are 0700 and the embedded PostgreSQL runs as its own user
    path = Path(tempfile.mkdtemp(prefix="pengaduan-test-servers-"))
    path.chmod(0o755)
    yield path
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="session")
def database_url(servers_dir) -> str:
    with servers.postgres_url(servers_dir) as url:
        migrate(url)
        yield url


@pytest.fixture(scope="session")
def redis_url(servers_dir) -> str:
    with servers.redis_url(servers_dir) as url:
        yield url


@pytest.fixture(scope="session")
def settings(database_url, redis_url) -> Settings:
    return Settings(
        environment="test",
        database_url=database_url,
        redis_url=redis_url,
        broker_visibility_timeout=VISIBILITY_TIMEOUT,
        relay_poll_interval=0.2,
        **RELAXED_RATE_LIMITS,
    )


@pytest.fixture(scope="session")
def engine(settings) -> Engine:
    engine = make_engine(settings, pool_size=20)
    upsert_kecamatan(engine, demo_kecamatan())
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def spawn(settings, artifacts_dir, request):
    """Start `pengaduan ...` processes for one test; all stopped at its end, logs kept on failure."""
    started: list[Process] = []

    def _spawn(*args: str, settings_: Settings | None = None, **extra_env: str) -> Process:
        p = Process(list(args), env_for(settings_ or settings, **extra_env), artifacts_dir / "logs").start()
        started.append(p)
        return p

    yield _spawn
    for p in started:
        p.stop()
    if request.node.rep_call.failed if hasattr(request.node, "rep_call") else False:
        for p in started:
            print(f"--- output of pengaduan {' '.join(p.args)} ---\n{p.output()[-4000:]}")


@pytest.hookimpl(tryfirst=True, hookwrapper=True)
def pytest_runtest_makereport(item, call):
    outcome = yield
    rep = outcome.get_result()
    setattr(item, f"rep_{rep.when}", rep)


class BackgroundRunner:
    """Runs subscription runners (outbox publisher, relay, projection) in threads for a test."""

    def __init__(self) -> None:
        self.runners = []
        self.threads = []

    def start(self, runner) -> None:
        self.runners.append(runner)
        t = threading.Thread(target=runner.run, daemon=True)
        t.start()
        self.threads.append(t)

    def stop(self) -> None:
        for r in self.runners:
            r.stop()
        for t in self.threads:
            t.join(timeout=10)


@pytest.fixture
def background():
    b = BackgroundRunner()
    yield b
    b.stop()
