"""Benchmark ``walk``: the server CPU one complaint costs, walked through the 12 SOP steps over HTTP.

Every process of ``pengaduan run`` is started as the supervisor starts them (``pengaduan.supervisor``: each API,
the gateway, a worker per queue, relay, projections, scheduler, the local mail/SMS sinks and timestamp
authority), with the demo users seeded. N complaints are submitted through the gateway, then walked in lockstep:
for each of steps 2..12, each complaint gets the GET and the POST of its action, by the role that owns the step
(``tests/support/walk.py``'s ``WALK`` and ``act``: the same walk the compose stack's test takes).
Step 12 is ``otomatis``: notify sends the letter by e-mail and the sink's acceptance closes the complaint.

No HTTP polling: between two steps the bench waits until the workers have caught up by watching Redis (every
queue and Celery's ``unacked`` hash empty) and PostgreSQL (the last event position, every checkpoint and
intake's unpublished outbox unchanged over three looks) from its own process. Those looks cost PostgreSQL and
Redis a little CPU, and every process spends some while idle (heartbeats, polls, the scheduler): an idle window
of the same wall time, with the same looks, is measured first and reported as ``idle``; ``net`` is the walk's
CPU minus the idle rate times the walk's wall time. A retried action (409 ``stale_version`` or
``letter_not_ready``: a worker's event came between the GET and the POST) is counted, not hidden.

Baseline in the same run: ``bench/bare_app.py`` (FastAPI + uvicorn + SQLAlchemy, one INSERT per request, no
auth, no events) serving the same number of HTTP requests per complaint from the same client, sequentially:
the floor of what the walk's requests cost through this stack; what the walk costs above it is the product.
"""

from __future__ import annotations

import logging
import re
import signal
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import redis
from sqlalchemy import Engine, create_engine, text

from bench.cpu import CpuMeter, per_unit_ms
from bench.environment import RunContext
from bench.loadgen import complaint_body
from bench.processes import Child
from bench.stats import ratio
from shared.embedded import free_port

log = logging.getLogger("bench.walk")

TARGET_MS = 200.0  # issue #20 item 3: server CPU for a whole walk without client polling
OUTSIDE = ("devsinks", "devtsa", "gateway")  # stand-ins for outside systems / nginx: reported, not in `server`

_SNAPSHOT = text(  # the marker keeps the watcher's looks out of the statements counted (_STATEMENTS)
    """
    /* bench: watcher */ SELECT (SELECT coalesce(max(position), 0) FROM workflow.events) AS last_position,
           (SELECT coalesce(sum(position), 0) FROM workflow.checkpoints)
         + (SELECT coalesce(sum(position), 0) FROM dashboard.checkpoints)
         + (SELECT coalesce(sum(position), 0) FROM intake.checkpoints) AS checkpoints,
           (SELECT count(*) FROM intake.outbox WHERE published_at IS NULL) AS unpublished
    """
)
_IDS = text("SELECT tracking_code, complaint_id FROM intake.submissions WHERE tracking_code = ANY(:codes)")
_CLOSED = text(
    "SELECT count(DISTINCT stream_id) FROM workflow.events WHERE type = 'workflow.ResponseSent' AND stream_id = ANY(:s)"
)
_EVENTS = text("SELECT type, count(*) FROM workflow.events WHERE stream_id = ANY(:s) GROUP BY type")
_ROWS = text(
    "/* bench: rows */ SELECT schemaname || '.' || relname, n_tup_ins, n_tup_upd, n_tup_del FROM pg_stat_user_tables"
    " WHERE schemaname <> 'bench'"
)
_STATEMENTS = text(
    """
    SELECT s.calls, s.total_exec_time, s.rows, left(regexp_replace(s.query, '\\s+', ' ', 'g'), 240) AS query
    FROM pg_stat_statements s JOIN pg_database d ON d.oid = s.dbid
    WHERE d.datname = current_database() AND s.query NOT LIKE '%pg_stat_statements%'
      AND s.query NOT LIKE '%/* bench: %'
    ORDER BY s.total_exec_time DESC
    """
)
_TASK = re.compile(r"Task ([\w.]+)\[[^\]]+\] succeeded in")


@dataclass(frozen=True)
class WalkParams:
    complaints: int = 20
    warmup_complaints: int = 3  # walked together: every worker child (2 for workflow) has done each task once
    settle_looks: int = 3  # identical snapshots in a row = the workers have caught up
    look_interval: float = 0.1
    step_timeout: float = 180.0
    # before the walk, what the earlier benchmarks left is drained (not measured): in `make bench` the notify
    # benchmark's 3,000 complaints leave their receipts for the one letters worker (about 190 s on a slow day)
    backlog_timeout: float = 900.0
    py_spy_dir: str | None = None  # record each process's stacks during the measured walk (py-spy, collapsed)


class Watcher:
    """From the bench process: have the workers caught up? Counts its own looks (the polling we exclude)."""

    def __init__(self, engine: Engine, redis_url: str, queues: list[str]) -> None:
        self.engine, self.queues = engine, queues
        self.redis = redis.Redis.from_url(redis_url)
        self.looks = 0

    def snapshot(self) -> tuple[Any, ...] | None:
        """None while Redis holds work; else what PostgreSQL says has happened."""
        self.looks += 1
        pipe = self.redis.pipeline()
        for q in self.queues:
            pipe.llen(q)
        pipe.hlen("unacked")
        if any(pipe.execute()):
            return None
        with self.engine.connect() as conn:
            return tuple(conn.execute(_SNAPSHOT).one())

    def settle(self, children: list[Child], looks: int, interval: float, timeout: float) -> float:
        began, same, last = time.monotonic(), 0, None
        while True:
            now = self.snapshot()
            same = same + 1 if now is not None and now == last and now[2] == 0 else 0
            if same >= looks - 1:
                return time.monotonic() - began
            last = now
            if time.monotonic() - began > timeout:
                raise TimeoutError(f"workers not settled after {timeout}s: {now}")
            for c in children:
                if not c.alive():
                    raise RuntimeError(f"{c.name} exited with {c.proc.returncode}:\n{c.tail()}")
            time.sleep(interval)

    def close(self) -> None:
        self.redis.close()


class Counted(httpx.Client):
    """The walk's client: counts requests by method and path template."""

    def __init__(self, **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.requests: Counter[str] = Counter()

    def request(self, method: str, url: Any, *args: Any, **kwargs: Any) -> httpx.Response:  # type: ignore[override]
        path = re.sub(r"/[0-9a-f-]{36}", "/{id}", str(url))
        self.requests[f"{method} {path}"] += 1
        return super().request(method, url, *args, **kwargs)


def _environment(ctx: RunContext, workdir: Path, port: int) -> tuple[dict[str, str], list[Any]]:
    """The env and child list ``pengaduan run`` would use (its own functions), minus PostgreSQL/Redis/BSrE."""
    from pengaduan import supervisor

    env = dict(ctx.processes.env)
    env.update(
        PENGADUAN_PUBLIC_BASE_URL=f"http://127.0.0.1:{port}",
        PENGADUAN_ENVIRONMENT="development",
        PENGADUAN_DATA_DIR=str(workdir),
        PENGADUAN_WEB_API_URL=f"http://127.0.0.1:{port}",
    )
    children = supervisor._processes(port)
    for child in children:
        if child.name.startswith("api "):
            env[f"PENGADUAN_{child.name.removeprefix('api ').upper()}_URL"] = child.url
    extra = [c for c in (supervisor._dev_channels(env, port), supervisor._dev_tsa(env, workdir)) if c]
    return env, [*extra, *children]


def _logs(children: list[Child]) -> dict[str, str]:
    return {c.name: c.log_path.read_text(errors="replace") for c in children if c.name.startswith("worker ")}


def _tasks(before: dict[str, str], after: dict[str, str]) -> Counter[str]:
    done: Counter[str] = Counter()
    for name, textnow in after.items():
        done.update(_TASK.findall(textnow[len(before.get(name, "")) :]))
    return done


def _statements_reset(engine: Engine) -> bool:
    """pg_stat_statements from here on, when the server preloads it (else the figures say it was not there)."""
    try:
        with engine.begin() as conn:
            conn.execute(text("CREATE EXTENSION IF NOT EXISTS pg_stat_statements"))
            conn.execute(text("SELECT pg_stat_statements_reset()"))
    except Exception:  # not in shared_preload_libraries: the embedded server does not load it
        return False
    return True


def _statements(engine: Engine, n: int) -> dict[str, Any]:
    with engine.connect() as conn:
        rows = conn.execute(_STATEMENTS).all()
    calls = sum(r.calls for r in rows)
    return {
        "statements_per_complaint": round(calls / n, 1),
        "exec_ms_per_complaint": round(sum(r.total_exec_time for r in rows) / n, 2),
        "top": [
            {"calls_per_complaint": round(r.calls / n, 2), "exec_ms_per_complaint": round(r.total_exec_time / n, 3),
             "rows": r.rows, "query": r.query}
            for r in rows[:30]
        ],
    }  # fmt: skip


def _rows(engine: Engine) -> dict[str, tuple[int, int, int]]:
    with engine.connect() as conn:
        return {r[0]: (r[1], r[2], r[3]) for r in conn.execute(_ROWS)}


def _walk(
    client: Counted, watcher: Watcher, children: list[Child], engine: Engine, tokens: dict, params: WalkParams, n: int
) -> dict[str, Any]:
    from tests.support.walk import WALK, act

    started = time.monotonic()
    codes = []
    for i in range(n):
        r = client.post("/v1/complaints", json=complaint_body(i, f"walk-{time.time_ns()}"))
        assert r.status_code == 202, r.text
        codes.append(r.json()["tracking_code"])
    waits = [watcher.settle(children, params.settle_looks, params.look_interval, params.step_timeout)]
    with engine.connect() as conn:
        ids = {code: str(cid) for code, cid in conn.execute(_IDS, {"codes": codes})}
    cids = [ids[c] for c in codes]
    retries: Counter[str] = Counter()
    for _step, who, action, fields in WALK:
        pending = list(cids)
        while pending:
            again = [cid for cid in pending if act(client, cid, tokens[who], action, fields) is None]
            retries[action] += len(again)
            waits.append(watcher.settle(children, params.settle_looks, params.look_interval, params.step_timeout))
            pending = again
    streams = [f"complaint-{cid}" for cid in cids]
    with engine.connect() as conn:
        closed = conn.execute(_CLOSED, {"s": streams}).scalar_one()
    if closed != n:
        raise RuntimeError(f"only {closed}/{n} complaints closed by the walk")
    return {"streams": streams, "retries": dict(retries), "wait_seconds": round(sum(waits), 3),
            "wall_seconds": round(time.monotonic() - started, 3)}  # fmt: skip


def _meter(ctx: RunContext, children: list[Child], redis_pid: int | None) -> CpuMeter:
    meter = CpuMeter()
    meter.add_self("bench_client")
    for c in children:
        meter.add_process_tree(c.name.replace(" ", "_"), c.pid)
    meter.add_process_tree("postgres", ctx.postmaster_pid)
    meter.add_process_tree("redis", redis_pid)
    return meter


def _server_ms(cpu: dict[str, float], n: int) -> dict[str, float]:
    per = {k: v for k, v in per_unit_ms(cpu, n).items() if v is not None}
    server = sum(v for k, v in per.items() if not k.startswith(("bench_client", *OUTSIDE)))
    return {**per, "server_cpu_ms": round(server, 1)}


def _py_spy(children: list[Child], folder: str) -> list[subprocess.Popen[bytes]]:
    """py-spy (from the venv, when installed) sampling each Python child and its subprocesses."""
    exe = Path(sys.executable).with_name("py-spy")
    Path(folder).mkdir(parents=True, exist_ok=True)
    return [
        subprocess.Popen(
            [
                str(exe),
                "record",
                "--nonblocking",
                "--gil",
                "--subprocesses",
                "--rate",
                "200",
                "--format",
                "raw",
                "-o",
                str(Path(folder) / f"{c.name.replace(' ', '_')}.txt"),
                "-p",
                str(c.pid),
            ],
            stdout=subprocess.DEVNULL,
            stderr=subprocess.DEVNULL,
        )
        for c in children
    ]


def _baseline(ctx: RunContext, requests: int) -> dict[str, Any]:
    """bench/bare_app.py serving ``requests`` POSTs (one INSERT each) from one sequential client."""
    port = free_port()
    bare = ctx.processes.spawn("bare app", ["-m", "bench.bare_app", "--port", str(port)])
    try:
        ctx.processes.wait_http_ok(bare, f"http://127.0.0.1:{port}/healthz")
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            for i in range(20):  # warm-up
                client.post("/v1/complaints", json=complaint_body(i, "bare-warm"))
            meter = CpuMeter()
            meter.add_self("bench_client")
            meter.add_process_tree("bare_app", bare.pid)
            meter.add_process_tree("postgres", ctx.postmaster_pid)
            meter.start()
            for i in range(requests):
                client.post("/v1/complaints", json=complaint_body(i, "bare"))
            return meter.stop()
    finally:
        ctx.processes.stop(bare)


def run(ctx: RunContext, params: WalkParams) -> dict[str, Any]:
    import tempfile

    workdir = Path(tempfile.mkdtemp(prefix="walk-", dir=ctx.processes.log_dir.parent))
    port = free_port()
    env, plan = _environment(ctx, workdir, port)
    subprocess.run(
        [sys.executable, "-m", "pengaduan", "seed-demo", "--kabupaten-settings"],
        env=env, check=True, capture_output=True,
    )  # fmt: skip
    children = [ctx.processes.spawn(p.name, ["-m", "pengaduan", *p.argv], **env) for p in plan]
    engine = create_engine(ctx.servers.database_url, pool_size=2)
    from pengaduan import registry

    queues = sorted({s.queue for s in registry.services() if s.queue})
    watcher = Watcher(engine, ctx.servers.redis_url, queues)
    client = Counted(base_url=f"http://127.0.0.1:{port}", timeout=60, trust_env=False)
    try:
        gateway = next(c for c in children if c.name == "gateway")
        ctx.processes.wait_http_ok(gateway, f"http://127.0.0.1:{port}/healthz", timeout=180)
        redis_pid = int(watcher.redis.info("server")["process_id"])
        from tests.support.walk import PASSWORD, WALK

        tokens = {}
        for user in sorted({who for _, who, _, _ in WALK}):
            r = client.post("/v1/auth/token", data={"username": user, "password": PASSWORD})
            assert r.status_code == 200, r.text
            tokens[user] = {"Authorization": f"Bearer {r.json()['access_token']}"}
        watcher.settle(children, params.settle_looks, params.look_interval, params.backlog_timeout)
        _walk(client, watcher, children, engine, tokens, params, params.warmup_complaints)

        # idle: the same processes doing nothing but what they do when idle, watched as often as in the walk
        meter = _meter(ctx, children, redis_pid)
        looks_before = watcher.looks
        meter.start()
        idle_until = time.monotonic() + (5.0 if params.complaints <= 5 else 10.0)
        while time.monotonic() < idle_until:
            watcher.snapshot()
            time.sleep(params.look_interval)
        idle = meter.stop()
        idle_looks = watcher.looks - looks_before

        rows_before, logs_before = _rows(engine), _logs(children)
        client.requests.clear()
        looks_before = watcher.looks
        statements = _statements_reset(engine)
        spies = _py_spy(children, params.py_spy_dir) if params.py_spy_dir else []
        meter = _meter(ctx, children, redis_pid)
        meter.start()
        walked = _walk(client, watcher, children, engine, tokens, params, params.complaints)
        cpu = meter.stop()
        for spy in spies:
            spy.send_signal(signal.SIGINT)  # py-spy writes its file on SIGINT
        for spy in spies:
            spy.wait(timeout=60)
        looks = watcher.looks - looks_before
        requests = dict(client.requests)
        time.sleep(11)  # PostgreSQL flushes an idle backend's table counters within 10 s
        rows_after, tasks = _rows(engine), _tasks(logs_before, _logs(children))
        pg_statements = _statements(engine, params.complaints) if statements else "pg_stat_statements not loaded"
        with engine.connect() as conn:
            events = {t: int(c) for t, c in conn.execute(_EVENTS, {"s": walked["streams"]}).tuples()}
    finally:
        client.close()
        watcher.close()
        ctx.processes.stop(*children)
        engine.dispose()

    n = params.complaints
    n_requests = sum(requests.values())
    baseline = _baseline(ctx, n_requests)
    written = {
        table: tuple(a - b for a, b in zip(after, rows_before.get(table, (0, 0, 0)), strict=True))
        for table, after in rows_after.items()
    }
    written = {t: w for t, w in written.items() if any(w)}
    idle_rate = {k: v / idle["wall_seconds"] for k, v in idle.items() if k.endswith("_seconds") and k != "wall_seconds"}
    net = {
        k: max(0.0, v - idle_rate.get(k, 0.0) * cpu["wall_seconds"])
        for k, v in cpu.items()
        if k.endswith("_seconds") and k not in ("wall_seconds", "machine_busy_seconds", "other_seconds")
    }
    walk_ms, net_ms = _server_ms(cpu, n), _server_ms(net, n)
    bare_ms = _server_ms(baseline, n)
    figures: dict[str, Any] = {
        "parameters": {**vars(params), "queues": queues, "walk": "tests/support/walk.py WALK"},
        "complaints": n,
        "wall_seconds": walked["wall_seconds"],
        "settle_wait_seconds": walked["wait_seconds"],
        "http_requests_per_complaint": round(n_requests / n, 2),
        "http_requests": requests,
        "retried_actions": walked["retries"],
        "watcher_looks": looks,
        "celery_tasks_per_complaint": round(sum(tasks.values()) / n, 2),
        "celery_tasks": dict(tasks),
        "events_per_complaint": round(sum(events.values()) / n, 2),
        "events": events,
        "rows_written_per_complaint": round(sum(sum(w) for w in written.values()) / n, 1),
        "rows_written": {t: {"ins": w[0], "upd": w[1], "del": w[2]} for t, w in sorted(written.items())},
        "pg_statements": pg_statements,
        "cpu": cpu,
        "cpu_per_complaint_ms": walk_ms,
        "idle": {**idle, "watcher_looks": idle_looks},
        "net_of_idle_per_complaint_ms": net_ms,
        "baseline_bare_app": {"requests": n_requests, "cpu": baseline, "per_complaint_ms": bare_ms},
        "ratios": {
            "walk_server_cpu_over_bare_app": ratio(walk_ms["server_cpu_ms"], bare_ms["server_cpu_ms"]),
            "net_server_cpu_over_bare_app": ratio(net_ms["server_cpu_ms"], bare_ms["server_cpu_ms"]),
        },
        "target": {"server_cpu_ms_below": TARGET_MS, "met": net_ms["server_cpu_ms"] < TARGET_MS},
    }
    log.info(
        "walk: %d complaints, server CPU %.0f ms each (net of idle %.0f ms; bare app %.0f ms), %s requests, other_share %s",
        n, walk_ms["server_cpu_ms"], net_ms["server_cpu_ms"], bare_ms["server_cpu_ms"], n_requests, cpu["other_share"],
    )  # fmt: skip
    return figures


def write_table(figures: dict[str, Any], out: Any) -> None:
    """Per process: CPU ms per complaint during the walk, net of idle, and idle per second."""
    if "error" in figures:
        out.write(f"\nwalk: FAILED {figures['error']}\n")
        return
    walk, net = figures["cpu_per_complaint_ms"], figures["net_of_idle_per_complaint_ms"]
    idle = figures["idle"]
    out.write(f"\nwalk: {figures['complaints']} complaints through the 12 steps (CPU ms per complaint)\n")
    out.write(f"{'process':28} {'walk':>8} {'net':>8} {'idle ms/s':>10}\n")
    for key in sorted(walk, key=lambda k: -walk[k]):
        seconds = idle.get(key.removesuffix("_cpu_ms") + "_seconds")
        per_s = f"{1000 * seconds / idle['wall_seconds']:.1f}" if seconds is not None else ""
        out.write(f"{key.removesuffix('_cpu_ms'):28} {walk[key]:8.1f} {net.get(key, 0):8.1f} {per_s:>10}\n")
    bare = figures["baseline_bare_app"]["per_complaint_ms"]["server_cpu_ms"]
    out.write(
        f"baseline bare app, same {figures['http_requests_per_complaint']} requests/complaint: {bare:.1f} ms;"
        f" ratio {figures['ratios']['walk_server_cpu_over_bare_app']} (net {figures['ratios']['net_server_cpu_over_bare_app']});"
        f" other_share {figures['cpu']['other_share']}; tasks {figures['celery_tasks_per_complaint']},"
        f" events {figures['events_per_complaint']}, rows {figures['rows_written_per_complaint']} per complaint\n"
    )
    statements = figures.get("pg_statements")
    if isinstance(statements, dict):
        out.write(
            f"PostgreSQL statements per complaint {statements['statements_per_complaint']}"
            f" ({statements['exec_ms_per_complaint']} ms executing; pg_stat_statements, counted exactly)\n"
        )
