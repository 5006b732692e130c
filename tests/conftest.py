"""Shared fixtures. Real PostgreSQL and Redis, and RabbitMQ for the tests that run against each broker (see
tests/support/servers.py); every test uses fresh ids, so tests never depend on each other's leftovers."""

from __future__ import annotations

import shutil
import tempfile
import threading
import warnings
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
    "rate_limit_feedback": "100000/minute",
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
def rabbitmq_url(servers_dir) -> str:
    """Started on first use only: a run without a RabbitMQ test starts no node."""
    try:
        with servers.rabbitmq_url(servers_dir) as url:
            yield url
    except servers.RabbitMQUnavailable as exc:
        warnings.warn(str(exc), stacklevel=1)  # in the warnings summary too, not only among the skips
        pytest.skip(str(exc))


@pytest.fixture(scope="session")
def base_settings(database_url, redis_url) -> Settings:
    """Redis as broker and cache. Session-wide fixtures (``engine``) use these; a module whose subject is the
    broker hand-off overrides ``settings`` with ``broker_settings`` to run once per broker."""
    return Settings(
        environment="test",
        database_url=database_url,
        redis_url=redis_url,
        broker_visibility_timeout=VISIBILITY_TIMEOUT,
        relay_poll_interval=0.2,
        **RELAXED_RATE_LIMITS,
    )


@pytest.fixture(scope="session")
def settings(base_settings) -> Settings:
    return base_settings


BROKERS = ("redis", "rabbitmq")


@pytest.fixture(scope="module", params=BROKERS)
def broker(request) -> str:
    """The broker a module's tests run against, in their ids (``test_x[rabbitmq]``); one module's tests run
    against Redis, then against RabbitMQ (module scope: the RabbitMQ node starts once, when first needed)."""
    return request.param


@pytest.fixture(scope="module")
def broker_settings(request, broker, base_settings) -> Settings:
    """``base_settings`` with ``broker`` as the Celery broker; Redis stays the cache either way. A module opts
    in by overriding ``settings`` with a module fixture that returns this (tests/integration/test_pipeline.py)."""
    if broker == "redis":
        return base_settings
    return base_settings.model_copy(update={"broker_url": request.getfixturevalue("rabbitmq_url")})


def broker_env(settings: Settings) -> dict[str, str]:
    """What a spawned process needs besides tests.support.processes.env_for (which passes the Redis URL only):
    the broker, always explicit."""
    return {"PENGADUAN_BROKER_URL": settings.effective_broker_url}


@pytest.fixture(scope="session")
def engine(base_settings) -> Engine:
    engine = make_engine(base_settings, pool_size=20)
    upsert_kecamatan(engine, demo_kecamatan())
    yield engine
    engine.dispose()


@pytest.fixture(scope="session")
def artifacts_dir() -> Path:
    path = Path(__file__).resolve().parent.parent / "test-artifacts"
    path.mkdir(exist_ok=True)
    return path


@pytest.fixture
def intake_client(settings):
    """Intake's API in-process (a TestClient) on this test's settings (per broker where a module sets them)."""
    from fastapi.testclient import TestClient

    from services.intake.bootstrap import bootstrap
    from services.intake.config import IntakeSettings
    from services.intake.entrypoints.api import create_app

    container = bootstrap(IntakeSettings(**settings.model_dump()))
    with TestClient(create_app(container)) as c:
        yield c
    container.engine.dispose()


@pytest.fixture
def spawn(settings, artifacts_dir, request):
    """Start `pengaduan ...` processes for one test; all stopped at its end, logs kept on failure."""
    started: list[Process] = []

    def _spawn(*args: str, settings_: Settings | None = None, **extra_env: str) -> Process:
        own = settings_ or settings
        p = Process(list(args), env_for(own, **{**broker_env(own), **extra_env}), artifacts_dir / "logs").start()
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
