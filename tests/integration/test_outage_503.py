"""An API whose database or broker is away answers 503 ``service_unavailable`` with ``Retry-After`` (never a
500) and serves again by itself when it returns, without a restart; a real bug stays a 500 and is logged.

The outage is real: a PostgreSQL of this module's own, stopped and started again on the same port and data
directory while the apps keep running.
"""

from __future__ import annotations

import logging
import shutil
import tempfile
import uuid
from pathlib import Path

import pytest
from fastapi import FastAPI
from fastapi.testclient import TestClient
from sqlalchemy import Engine, text

from pengaduan.apps import workflow as workflow_app
from services.accounts.handlers import add_user
from services.dashboard.bootstrap import bootstrap as dashboard_bootstrap
from services.dashboard.config import DashboardSettings
from services.dashboard.entrypoints import feed, open311
from services.dashboard.entrypoints.api import create_app as dashboard_app
from services.intake.bootstrap import bootstrap as intake_bootstrap
from services.intake.config import IntakeSettings
from services.intake.entrypoints.api import create_app as intake_app
from services.letters.bootstrap import bootstrap as letters_bootstrap
from services.letters.config import LettersSettings
from services.letters.entrypoints.api import create_app as letters_app
from services.workflow.bootstrap import bootstrap as workflow_bootstrap
from shared.celery_app import make_celery
from shared.config import Settings
from shared.db import make_engine
from shared.embedded import EmbeddedPostgres, free_port, start_postgres
from shared.http import install_error_handlers
from shared.migrate import migrate
from shared.tenancy import demo_kecamatan, upsert_kecamatan
from tests.support.complaints import valid_body

PASSWORD = "rahasia-uji-123"


@pytest.fixture(scope="module")
def own_postgres() -> EmbeddedPostgres:
    # not under pytest's tmp folders: those are 0700 and the embedded PostgreSQL runs as its own user
    path = Path(tempfile.mkdtemp(prefix="pengaduan-outage-"))
    path.chmod(0o755)
    server = start_postgres(path / "postgres", database="pengaduan_outage")
    migrate(server.url)
    yield server
    server.stop()
    shutil.rmtree(path, ignore_errors=True)


@pytest.fixture(scope="module")
def outage_settings(settings, own_postgres, tmp_path_factory) -> Settings:
    return settings.model_copy(
        update={"database_url": own_postgres.url, "data_dir": str(tmp_path_factory.mktemp("outage-data"))}
    )


@pytest.fixture(scope="module")
def apps(outage_settings):
    """The four APIs, each with its own engine (pool) on the PostgreSQL this module stops and starts."""
    values = outage_settings.model_dump()
    intake = intake_bootstrap(IntakeSettings(**values))
    workflow = workflow_bootstrap(outage_settings)
    letters = letters_bootstrap(LettersSettings(**values))
    dashboard = dashboard_bootstrap(DashboardSettings(**values))
    upsert_kecamatan(intake.engine, demo_kecamatan())
    clients = {
        "intake": TestClient(intake_app(intake)),
        "workflow": TestClient(workflow_app(workflow)),
        "letters": TestClient(letters_app(letters)),
        "dashboard": TestClient(dashboard_app(dashboard, extra_routers=[feed.router, open311.router])),
    }
    for c in clients.values():
        c.__enter__()
    username = f"t{uuid.uuid4().hex[:6]}.staf"
    add_user(workflow.engine, username, "Petugas Uji", "staf", PASSWORD, kecamatan="pegantenan")
    r = clients["workflow"].post("/v1/auth/token", data={"username": username, "password": PASSWORD})
    assert r.status_code == 200, r.text
    clients["token"] = {"Authorization": f"Bearer {r.json()['access_token']}"}
    yield clients
    for name in ("intake", "workflow", "letters", "dashboard"):
        clients[name].__exit__(None, None, None)
    for container in (intake, workflow, letters, dashboard):
        container.engine.dispose()


def assert_unavailable(response) -> None:
    assert response.status_code == 503, response.text
    body = response.json()
    assert body["code"] == "service_unavailable"
    assert "coba lagi" in body["message"].lower()  # Bahasa Indonesia: try again
    assert response.headers["retry-after"].isdigit() and int(response.headers["retry-after"]) >= 1


def test_every_api_answers_503_while_postgresql_is_down_and_serves_again_when_it_returns(apps, own_postgres):
    intake, workflow, letters, dashboard = (apps[k] for k in ("intake", "workflow", "letters", "dashboard"))
    accepted = intake.post("/v1/complaints", json=valid_body())
    assert accepted.status_code == 202, accepted.text
    code = accepted.json()["tracking_code"]
    assert workflow.get("/v1/inbox", headers=apps["token"]).status_code == 200

    own_postgres.stop()
    try:
        assert_unavailable(intake.post("/v1/complaints", json=valid_body()))
        assert_unavailable(intake.get(f"/v1/track/{code}"))
        assert_unavailable(workflow.get("/v1/inbox", headers=apps["token"]))
        assert_unavailable(letters.get(f"/v1/letters/verify/{uuid.uuid4()}"))
        assert_unavailable(dashboard.get(f"/open311/v2/requests/{uuid.uuid4()}.json"))
        assert_unavailable(dashboard.get("/v1/dashboard/summary", headers=apps["token"]))
        # a second time: the pools hold no dead connection that would turn the next answer into a 500
        assert_unavailable(intake.get(f"/v1/track/{code}"))
        health = intake.get("/healthz")
        assert health.status_code == 503 and health.json()["status"] == "down"
    finally:
        own_postgres.start()  # the same port and data directory

    # the apps were not restarted: the very next request of each is served
    assert intake.get(f"/v1/track/{code}").status_code == 200
    again = intake.post("/v1/complaints", json=valid_body())
    assert again.status_code == 202, again.text
    assert workflow.get("/v1/inbox", headers=apps["token"]).status_code == 200
    assert letters.get(f"/v1/letters/verify/{uuid.uuid4()}").json()["code"] == "letter_not_found"
    assert dashboard.get(f"/open311/v2/requests/{uuid.uuid4()}.json").status_code == 404
    assert dashboard.get("/v1/dashboard/summary", headers=apps["token"]).status_code == 200


def test_with_the_broker_down_intake_still_accepts_and_its_health_says_degraded(settings, engine):
    dead_broker = f"redis://127.0.0.1:{free_port()}/0"
    intake = intake_bootstrap(IntakeSettings(**{**settings.model_dump(), "redis_url": dead_broker}))
    try:
        with TestClient(intake_app(intake)) as client:
            health = client.get("/healthz")
            assert health.status_code == 200
            assert health.json()["status"] == "degraded"
            assert health.json()["checks"]["broker"]["ok"] is False
            # the outbox holds the complaint until the broker returns: acknowledged, not refused
            assert client.post("/v1/complaints", json=valid_body()).status_code == 202
    finally:
        intake.engine.dispose()


@pytest.fixture
def probe(settings):
    """An app with the project's error handlers whose routes publish to a broker that is away or run SQL with
    a real mistake in it: what any API would answer in those cases."""
    engine: Engine = make_engine(settings.model_copy(update={"db_pool_size": 2}))
    dead = make_celery(settings.model_copy(update={"redis_url": f"redis://127.0.0.1:{free_port()}/0"}), "probe")
    app = FastAPI()
    install_error_handlers(app)

    @app.post("/publish")
    def publish() -> dict:
        dead.send_task("test.nothing", args=[{}], queue="probe", retry=False)
        return {}

    @app.get("/typo")
    def typo() -> dict:
        with engine.connect() as conn:
            conn.execute(text("SELECT * FROM no_such_table"))
        return {}

    @app.post("/duplicate")
    def duplicate() -> dict:
        with engine.begin() as conn:
            conn.execute(text("CREATE TEMPORARY TABLE once (id int PRIMARY KEY)"))
            conn.execute(text("INSERT INTO once VALUES (1), (1)"))
        return {}

    with TestClient(app, raise_server_exceptions=False) as client:
        yield client
    engine.dispose()


def test_a_publish_to_a_broker_that_is_away_is_503(probe):
    assert_unavailable(probe.post("/publish"))


@pytest.mark.parametrize("path", ["/typo", "/duplicate"])
def test_a_real_bug_in_sql_stays_a_500_and_is_logged(probe, caplog, path):
    with caplog.at_level(logging.ERROR, logger="shared.http"):
        response = probe.request("GET" if path == "/typo" else "POST", path)
    assert response.status_code == 500
    assert response.json()["code"] == "internal_error"
    assert any(r.levelno >= logging.ERROR and r.exc_info for r in caplog.records)
