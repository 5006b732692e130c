"""``/metrics`` (shared/metrics/): the APIs count requests by route template, never by the raw path; task
runs are counted by how they ended; a prefork worker serves its children's counts on PENGADUAN_METRICS_PORT;
runners count rounds and leadership; the workflow API's scrape-time gauges report a known backlog exactly.

The first tests need no server (they would be tests/unit/test_metrics.py, but two test modules of the same
name in tests/unit and tests/integration, which are not packages, cannot be collected together)."""

from __future__ import annotations

import glob
import os
import shutil
import socket
import subprocess
import tempfile
import uuid
from datetime import UTC, datetime, timedelta
from types import SimpleNamespace

import httpx
import pytest
import redis
from billiard.exceptions import TimeLimitExceeded
from celery.exceptions import Reject
from fastapi import APIRouter, FastAPI
from fastapi.staticfiles import StaticFiles
from fastapi.testclient import TestClient
from prometheus_client import REGISTRY
from prometheus_client.openmetrics.parser import text_string_to_metric_families as openmetrics_parse
from prometheus_client.parser import text_string_to_metric_families
from sqlalchemy import delete, insert

from pengaduan import apps
from pengaduan.apps import gateway as create_gateway
from pengaduan.registry import operations_collector
from services.dashboard.entrypoints.projections import status as projections_status
from services.intake.adapters.tables import outbox
from services.notify.adapters.gauges import DELIVERY_STATES
from services.workflow.adapters.tables import checkpoints, complaints
from services.workflow.bootstrap import bootstrap
from shared.celery_app import make_celery
from shared.contracts.routing import DELIVERY_STATUS_TASK as STATUS_TASK
from shared.contracts.routing import SUBSCRIPTIONS
from shared.http import BodySizeLimit
from shared.metrics import install_metrics
from shared.metrics import processes as metrics
from shared.subscriptions import RoundResult, Runner
from tests.support.complaints import new_complaint
from tests.support.processes import wait_until


def samples(text: str, parse=text_string_to_metric_families) -> list:
    return [s for family in parse(text) for s in family.samples]


def value(page, name: str, parse=text_string_to_metric_families, /, **labels: str) -> float | None:
    """The first sample called ``name`` whose labels include ``labels``; ``page``: the text or its samples."""
    for s in samples(page, parse) if isinstance(page, str) else page:
        if s.name == name and all(s.labels.get(k) == v for k, v in labels.items()):
            return s.value
    return None


def collected(collector) -> list:
    return [s for family in collector.collect() for s in family.samples]


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def scrape(port: int) -> str | None:
    try:
        return httpx.get(f"http://127.0.0.1:{port}/metrics", timeout=2).text
    except httpx.HTTPError:
        return None


# -- without servers: the HTTP middleware, the task outcomes, the runner helpers ------------------------------
def small_app(service: str, static_dir=None) -> FastAPI:
    app = FastAPI()
    router = APIRouter(prefix="/v1/track")

    @router.get("/{tracking_code}")
    def track(tracking_code: str) -> dict:
        if tracking_code == "BOOM":
            raise RuntimeError("an error no handler answers")
        return {"tracking_code": tracking_code}

    app.include_router(router)
    if static_dir is not None:
        app.mount("/static", StaticFiles(directory=static_dir), name="static")
    install_metrics(app, service)
    return app


def test_requests_are_counted_by_route_template_and_status_class_never_by_raw_path(tmp_path):
    service = f"svc{uuid.uuid4().hex[:8]}"
    (tmp_path / "AB12.txt").write_text("x")
    app = small_app(service, tmp_path)
    client = TestClient(app, raise_server_exceptions=False)
    codes = ["7KQ2-M9XD-4T", "AB12-CD34-EF", "ZZ99-YY88-XX"]
    for code in codes:
        assert client.get(f"/v1/track/{code}").status_code == 200
    assert client.get("/no/such/page/7KQ2-M9XD-4T").status_code == 404
    assert client.post("/v1/track/7KQ2-M9XD-4T").status_code == 405
    assert client.get("/static/AB12.txt").status_code == 200
    assert client.get("/v1/track/BOOM").status_code == 500

    page = client.get("/metrics")
    assert page.status_code == 200 and page.headers["content-type"].startswith("text/plain")
    text = page.text
    route = "/v1/track/{tracking_code}"
    assert value(text, "pengaduan_http_requests_total", service=service, method="GET", route=route, status="2xx") == 3
    assert value(text, "pengaduan_http_request_duration_seconds_count", service=service, route=route, status="2xx") == 3
    assert value(text, "pengaduan_http_request_duration_seconds_bucket", service=service, route=route, le="+Inf") == 3
    assert (
        value(text, "pengaduan_http_requests_total", service=service, method="GET", route="<unmatched>", status="4xx")
        == 1
    )
    assert value(text, "pengaduan_http_requests_total", service=service, method="POST", route=route, status="4xx") == 1
    assert value(text, "pengaduan_http_requests_total", service=service, route="/static/{path}", status="2xx") == 1
    assert value(text, "pengaduan_http_requests_total", service=service, route=route, status="5xx") == 1
    mine = [s for s in samples(text) if s.labels.get("service") == service]
    assert mine and not any(code in str(s.labels) for s in mine for code in [*codes, "AB12", "BOOM"])
    assert not any(s.labels.get("route") == "/metrics" for s in mine)  # scrapes are not counted
    assert "/metrics" not in app.openapi()["paths"]


def test_a_request_refused_before_routing_is_counted_by_the_template_of_its_routers_route():
    """A body over the limit (413) never reaches routing: its route is still found in an included router."""
    service = f"svc{uuid.uuid4().hex[:8]}"
    app = FastAPI()
    router = APIRouter(prefix="/v1/track")
    router.get("/{tracking_code}")(lambda tracking_code: {"tracking_code": tracking_code})
    app.include_router(router)
    app.add_middleware(BodySizeLimit, max_bytes=10)
    install_metrics(app, service)  # outermost, as every app has it
    client = TestClient(app)
    assert client.request("GET", "/v1/track/7KQ2-M9XD-4T", content=b"x" * 100).status_code == 413
    text = client.get("/metrics").text
    route = "/v1/track/{tracking_code}"
    assert value(text, "pengaduan_http_requests_total", service=service, method="GET", route=route, status="4xx") == 1


def test_the_metrics_page_wins_over_a_catch_all_route_and_speaks_openmetrics_when_asked():
    service = f"svc{uuid.uuid4().hex[:8]}"
    app = FastAPI()

    @app.api_route("/{path:path}", methods=["GET", "POST"], include_in_schema=False)  # as the gateway's proxy
    def proxy(path: str) -> dict:
        return {"proxied": path}

    install_metrics(app, service)  # added after the catch-all, served before it
    client = TestClient(app)
    assert client.get("/v1/anything/7KQ2-M9XD-4T").json() == {"proxied": "v1/anything/7KQ2-M9XD-4T"}
    r = client.get("/metrics", headers={"accept": "application/openmetrics-text; version=1.0.0"})
    assert r.status_code == 200 and r.headers["content-type"].startswith("application/openmetrics-text")
    assert r.text.rstrip().endswith("# EOF")
    assert (
        value(
            r.text, "pengaduan_http_requests_total", openmetrics_parse, service=service, route="/{path}", status="2xx"
        )
        == 1
    )


def run_task(name: str, state: str, retval=None, during=lambda: None) -> None:
    """One task run as a pool child sees it: task_prerun, the task body (``during``), task_postrun."""
    task_id = str(uuid.uuid4())
    task = SimpleNamespace(name=name)
    metrics.on_task_prerun(task_id=task_id, task=task)
    during()
    metrics.on_task_postrun(task_id=task_id, task=task, retval=retval, state=state)


def runs(name: str, outcome: str) -> float:
    return REGISTRY.get_sample_value("pengaduan_worker_tasks_total", {"task": name, "outcome": outcome}) or 0


def test_task_runs_are_counted_by_how_they_ended():
    name = f"test.task.{uuid.uuid4().hex[:8]}"
    run_task(name, "SUCCESS")
    run_task(name, "SUCCESS")
    run_task(name, "SUCCESS", during=lambda: (metrics.task_retried(), metrics.task_retried()))
    run_task(name, "SUCCESS", during=metrics.task_dead_lettered)
    run_task(name, "REJECTED", retval=Reject("db away", requeue=True), during=metrics.task_retried)
    run_task(name, "FAILURE", retval=RuntimeError("boom"))

    assert {o: runs(name, o) for o in metrics.TASK_OUTCOMES} == {
        "success": 2,
        "retried": 1,
        "dead_lettered": 1,
        "requeued": 1,
        "failed": 1,
    }
    assert REGISTRY.get_sample_value("pengaduan_worker_task_retries_total", {"task": name}) == 3
    assert (
        REGISTRY.get_sample_value("pengaduan_worker_task_duration_seconds_count", {"task": name, "outcome": "success"})
        == 2
    )


def test_a_failure_seen_in_the_task_process_is_counted_once_and_a_hard_time_limit_in_the_parent_too():
    name = f"test.task.{uuid.uuid4().hex[:8]}"
    task = SimpleNamespace(name=name, acks_late=True, acks_on_timeout=False)

    def fails_in_the_child():  # the tracer sends task_failure between prerun and postrun
        metrics.on_task_failure(task_id=child_id, exception=RuntimeError("boom"), sender=task)

    child_id = str(uuid.uuid4())
    metrics.on_task_prerun(task_id=child_id, task=task)
    fails_in_the_child()
    metrics.on_task_postrun(task_id=child_id, task=task, retval=None, state="FAILURE")
    # the parent: the child was killed at the hard limit; the message goes back (acks_on_timeout off)
    metrics.on_task_failure(task_id=str(uuid.uuid4()), exception=TimeLimitExceeded(60), sender=task)

    assert runs(name, "failed") == 1
    assert runs(name, "requeued") == 1


def test_consume_hooks_outside_a_measured_task_count_nothing():
    def retries() -> float:
        return sum(
            s.value
            for f in REGISTRY.collect()
            if f.name == "pengaduan_worker_task_retries"
            for s in f.samples
            if s.name.endswith("_total")
        )

    before = retries()
    metrics.task_retried()
    metrics.task_dead_lettered()
    assert retries() == before


def test_a_worker_start_removes_the_metrics_directories_of_workers_that_died_uncleanly():
    gone = subprocess.Popen(["true"])
    gone.wait()  # a pid nobody has now
    dead = tempfile.mkdtemp(prefix=f"{metrics.DIR_PREFIX}notify-{gone.pid}-")
    alive = tempfile.mkdtemp(prefix=f"{metrics.DIR_PREFIX}notify-{os.getpid()}-")
    try:
        metrics._remove_orphaned_dirs()
        assert not os.path.exists(dead)
        assert os.path.isdir(alive)
    finally:
        shutil.rmtree(alive, ignore_errors=True)
        shutil.rmtree(dead, ignore_errors=True)


# -- with real PostgreSQL, Redis and worker processes ----------------------------------------------------------
@pytest.fixture(scope="module")
def wf(settings, engine):
    container = bootstrap(settings)
    yield container
    container.engine.dispose()


def test_the_workflow_api_counts_requests_by_route_template_and_carries_the_scrape_time_gauges(wf):
    ids = [uuid.uuid4(), uuid.uuid4()]
    with TestClient(apps.workflow(wf)) as client:  # as `pengaduan api workflow` builds it
        for complaint_id in ids:
            assert client.get(f"/v1/complaints/{complaint_id}").status_code == 401  # no token
        assert client.get("/healthz").status_code == 200
        text = client.get("/metrics").text
    route = "/v1/complaints/{complaint_id}"
    assert (
        value(text, "pengaduan_http_requests_total", service="workflow", method="GET", route=route, status="4xx") >= 2
    )
    assert (
        value(
            text,
            "pengaduan_http_request_duration_seconds_count",
            service="workflow",
            method="GET",
            route=route,
            status="4xx",
        )
        >= 2
    )
    assert not any(str(i) in text for i in ids)
    assert value(text, "pengaduan_ops_source_up", source="postgres") == 1
    assert value(text, "pengaduan_ops_source_up", source="redis") == 1
    for queue in ("workflow", "letters", "notify"):
        assert value(text, "pengaduan_queue_depth", queue=queue) is not None


def test_the_workflow_apis_metrics_page_reports_how_far_each_dashboard_projection_is_behind(wf, engine):
    """The dashboard's projections read the store as the relay does: their lag is a scrape-time gauge too (events
    after the projection's checkpoint), the number ``pengaduan projections status`` shows."""
    new_complaint(wf)  # events no projection has applied yet: nothing runs the dashboard's projections here
    with TestClient(apps.workflow(wf)) as client:
        text = client.get("/metrics").text
    behind = {row["name"]: row["lag"] for row in projections_status(engine)}
    assert set(behind) == {"dashboard.complaints", "dashboard.service_requests"}
    for name, lag in behind.items():
        assert lag > 0
        assert value(text, "pengaduan_subscription_lag_events", subscription=name) == lag


def test_the_gateway_counts_what_it_proxies_and_leaves_the_scrape_time_gauges_to_the_workflow_api():
    down = f"http://127.0.0.1:{free_port()}"  # nobody listens: the gateway answers 503
    with TestClient(create_gateway({"intake": down, "workflow": down, "letters": down})) as client:
        assert client.get("/v1/track/7KQ2-M9XD-4T").status_code == 503
        text = client.get("/metrics").text
    assert (
        value(text, "pengaduan_http_requests_total", service="gateway", method="GET", route="/{path}", status="5xx")
        >= 1
    )
    assert "7KQ2" not in text
    assert value(text, "pengaduan_queue_depth") is None and value(text, "pengaduan_overdue_steps") is None


def test_scrape_time_gauges_report_a_known_queue_depth_overdue_count_outbox_and_lag(settings, engine):
    slug = f"uji-{uuid.uuid4().hex[:6]}"
    queue = f"metrics-test-{uuid.uuid4().hex[:8]}"
    lagging = f"test.metrics.{uuid.uuid4().hex[:8]}"
    now = datetime.now(UTC)
    setup = [  # (status, step due, overdue_flagged): three of these are overdue
        ("in_progress", now - timedelta(hours=1), False),
        ("in_progress", now - timedelta(days=2), True),
        ("new", now - timedelta(minutes=5), False),
        ("in_progress", now + timedelta(days=1), False),  # not due yet
        ("awaiting_documents", None, False),  # the step's clock is paused
        ("closed", now - timedelta(days=5), True),  # closed: not counted
    ]
    rows = [
        dict(
            complaint_id=uuid.uuid4(),
            tracking_code=f"T{uuid.uuid4().hex[:11].upper()}",
            kecamatan=slug,
            subject="Uji metrik",
            channel="web",
            status=status,
            step_due_at=due,
            overdue_flagged=flagged,
            received_at=now - timedelta(days=3),
            updated_at=now,
            version=2,
        )
        for status, due, flagged in setup
    ]
    outbox_ids = [uuid.uuid4(), uuid.uuid4()]
    celery = make_celery(settings, "metrics-test")
    fresh = operations_collector(engine, settings.redis_url, queues=(queue,), ttl=0)
    before = collected(fresh)
    try:
        with engine.begin() as conn:
            conn.execute(insert(complaints), rows)
            conn.execute(insert(checkpoints).values(name=lagging, position=0))
            conn.execute(
                insert(outbox),
                [
                    dict(id=i, message_type="test.Nothing", task="metrics.test.nothing", queue=queue, payload={})
                    for i in outbox_ids
                ],
            )
        for _ in range(3):
            celery.send_task("metrics.test.nothing", args=[{}], queue=queue)

        cached = operations_collector(engine, settings.redis_url, queues=(queue,), ttl=60)
        found = collected(cached)
        assert value(found, "pengaduan_queue_depth", queue=queue) == 3
        assert value(found, "pengaduan_overdue_steps", kecamatan=slug) == 3
        assert value(found, "pengaduan_overdue_steps", kecamatan="pegantenan") is not None  # every kecamatan, even at 0
        waiting = value(found, "pengaduan_intake_outbox_waiting") - value(before, "pengaduan_intake_outbox_waiting")
        assert waiting == 2
        assert value(found, "pengaduan_intake_outbox_oldest_waiting_seconds") >= 0
        last = value(found, "pengaduan_event_store_last_position")
        assert value(found, "pengaduan_subscription_lag_events", subscription=lagging) == last
        for name in [f"relay.{s.name}" for s in SUBSCRIPTIONS] + ["projection.tracking", "notify.new-work"]:
            assert 0 <= value(found, "pengaduan_subscription_lag_events", subscription=name) <= last
        assert all(value(found, "pengaduan_notify_deliveries", state=s) is not None for s in DELIVERY_STATES)
        assert all(
            value(found, "pengaduan_dead_letters_waiting", service=s) is not None
            for s in ("workflow", "letters", "notify")
        )

        celery.send_task("metrics.test.nothing", args=[{}], queue=queue)
        assert value(collected(cached), "pengaduan_queue_depth", queue=queue) == 3  # cached: no second reading
        assert value(collected(fresh), "pengaduan_queue_depth", queue=queue) == 4
    finally:
        with engine.begin() as conn:
            conn.execute(delete(complaints).where(complaints.c.kecamatan == slug))
            conn.execute(delete(checkpoints).where(checkpoints.c.name == lagging))
            conn.execute(delete(outbox).where(outbox.c.id.in_(outbox_ids)))
        redis.Redis.from_url(settings.redis_url).delete(queue)


def test_a_source_that_does_not_answer_is_reported_and_the_others_still_count(engine):
    collector = operations_collector(engine, f"redis://127.0.0.1:{free_port()}/0", ttl=0, timeout=0.5)
    found = collected(collector)
    assert value(found, "pengaduan_ops_source_up", source="redis") == 0
    assert value(found, "pengaduan_ops_source_up", source="postgres") == 1
    assert value(found, "pengaduan_intake_outbox_waiting") is not None


def test_a_prefork_worker_serves_its_childrens_task_metrics_on_the_metrics_port(settings, spawn):
    # what earlier tests' relays left in the notify queue (nobody waits for it any more) would come first
    redis.Redis.from_url(settings.redis_url).delete(*(f"notify\x06\x16{p}" for p in (3, 6, 9)), "notify")
    port = free_port()
    worker = spawn("worker", "notify", "--concurrency", "2", PENGADUAN_METRICS_PORT=str(port))
    celery = make_celery(settings, "metrics-test")
    for _ in range(3):  # a delivery receipt of an unknown kind: handled, nothing to do
        celery.send_task(STATUS_TASK, args=[{"status": "not-a-status"}], queue="notify")

    def done() -> str | None:
        text = scrape(port)
        ok = text and (value(text, "pengaduan_worker_tasks_total", task=STATUS_TASK, outcome="success") or 0) >= 3
        return text if ok else None

    text = wait_until(done, timeout=40, message="the worker's /metrics to show 3 runs of notify.record_status")
    count = value(text, "pengaduan_worker_tasks_total", task=STATUS_TASK, outcome="success")
    assert value(text, "pengaduan_worker_task_duration_seconds_count", task=STATUS_TASK, outcome="success") == count
    assert (
        value(text, "pengaduan_worker_task_duration_seconds_bucket", task=STATUS_TASK, outcome="success", le="+Inf")
        == count
    )

    directories = glob.glob(os.path.join(tempfile.gettempdir(), f"pengaduan-metrics-notify-{worker.proc.pid}-*"))
    assert len(directories) == 1  # the multiprocess directory of this worker
    worker.stop()
    assert not any(os.path.exists(d) for d in directories)  # removed when the worker stopped


def test_a_runner_counts_its_rounds_handled_items_errors_and_leadership(engine, background):
    name = f"test.metrics.{uuid.uuid4().hex[:8]}"
    calls = []

    def round_fn() -> RoundResult:
        calls.append(1)
        if len(calls) == 1:
            raise RuntimeError("the first round fails")
        return RoundResult(handled=2, more=False)

    runner = Runner(engine, name, round_fn, channel=None, poll_interval=0.05)
    get = lambda metric: REGISTRY.get_sample_value(metric, {"runner": name})  # noqa: E731
    background.start(runner)
    wait_until(lambda: (get("pengaduan_runner_rounds_total") or 0) >= 3, timeout=10, message="three rounds")
    assert get("pengaduan_runner_leader") == 1
    assert get("pengaduan_runner_round_errors_total") == 1
    assert get("pengaduan_runner_handled_total") >= 2 * 3
    background.stop()
    assert get("pengaduan_runner_leader") == 0


def test_a_runner_process_serves_its_metrics_on_the_metrics_port(spawn):
    port = free_port()
    spawn("projections", "run", PENGADUAN_METRICS_PORT=str(port))

    def leading() -> str | None:
        text = scrape(port)
        ok = (
            text
            and value(text, "pengaduan_runner_leader", runner="projection.tracking") == 1
            and (value(text, "pengaduan_runner_rounds_total", runner="projection.tracking") or 0) >= 1
        )
        return text if ok else None

    wait_until(leading, timeout=30, message="the projections process to lead and report a round")
