"""Benchmark 3, ``e2e``: from POST /v1/complaints to the workflow's first event, at a steady rate.

Processes: the intake API, the relay (outbox -> Redis) and one workflow worker, as in production.
Complaints are sent open-loop (request i at start + i/rate, whatever the answers do). The latency of a
complaint is ``workflow.events.recorded_at`` of its ``workflow.ComplaintReceived`` minus
``intake.submissions.received_at``; both are written with this machine's clock (the API's Python clock,
PostgreSQL's now() = start of the worker's transaction). The baseline is the intake API's own HTTP
latency at the same rate, in the same run: e2e p50 / HTTP p50 says how much the asynchronous half
(relay, broker, worker) adds to what the citizen waits for anyway.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from typing import Any

import redis
from sqlalchemy import Engine, create_engine, text

from bench.cpu import CpuMeter, per_unit_ms
from bench.environment import RunContext
from bench.loadgen import OpenLoopResult, body_factory, http_summary, open_loop, run_async
from bench.processes import Child
from bench.stats import latency_summary_ms, ratio
from shared.embedded import free_port

log = logging.getLogger("bench.e2e")

TARGET_P99_MS = 1000.0
WORKFLOW_QUEUE = "workflow"

_ARRIVED = text(
    """
    SELECT count(e.position)
    FROM intake.submissions s
    LEFT JOIN workflow.events e
           ON e.stream_id = 'complaint-' || s.complaint_id::text AND e.type = 'workflow.ComplaintReceived'
    WHERE s.tracking_code = ANY(:codes)
    """
)

_LATENCIES = text(
    """
    SELECT EXTRACT(EPOCH FROM e.recorded_at - s.received_at)::float8 AS total,
           EXTRACT(EPOCH FROM o.published_at - s.received_at)::float8 AS to_published,
           EXTRACT(EPOCH FROM e.recorded_at - o.published_at)::float8 AS published_to_recorded
    FROM intake.submissions s
    JOIN workflow.events e
      ON e.stream_id = 'complaint-' || s.complaint_id::text AND e.type = 'workflow.ComplaintReceived'
    LEFT JOIN intake.outbox o ON o.id = s.id
    WHERE s.tracking_code = ANY(:codes)
    """
)


@dataclass(frozen=True)
class E2EParams:
    rate: float = 50.0
    seconds: float = 30.0
    warmup_seconds: float = 2.0
    arrival_timeout: float = 120.0
    backlog_timeout: float = 300.0
    worker_concurrency: int = 2
    relay_poll_interval: float = 0.2


def _codes(result: OpenLoopResult) -> list[str]:
    return [r.tracking_code for r in result.responses if r.tracking_code]


def wait_for_backlog(engine: Engine, redis_url: str, ctx: RunContext, children: list[Child], timeout: float) -> float:
    """Let the relay and worker finish older work first (unpublished outbox rows, queued messages),
    e.g. left by an intake benchmark on a reused database. Returns the seconds it took."""
    client = redis.Redis.from_url(redis_url)
    began = time.monotonic()
    try:
        while True:
            ctx.processes.check_alive(*children)
            with engine.connect() as conn:
                unpublished = conn.execute(
                    text("SELECT count(*) FROM intake.outbox WHERE published_at IS NULL")
                ).scalar_one()
            queued = client.llen(WORKFLOW_QUEUE)
            if unpublished == 0 and queued == 0:
                return time.monotonic() - began
            if time.monotonic() - began > timeout:
                raise TimeoutError(f"backlog not drained after {timeout}s: {unpublished} unpublished, {queued} queued")
            time.sleep(0.5)
    finally:
        client.close()


def wait_for_arrival(
    engine: Engine, codes: list[str], ctx: RunContext, children: list[Child], timeout: float
) -> tuple[int, float]:
    """Poll until every complaint has its workflow event, or timeout. Returns (arrived, seconds waited)."""
    began = time.monotonic()
    arrived = 0
    while True:
        with engine.connect() as conn:
            arrived = conn.execute(_ARRIVED, {"codes": codes}).scalar_one()
        if arrived >= len(codes) or time.monotonic() - began > timeout:
            return arrived, time.monotonic() - began
        ctx.processes.check_alive(*children)
        time.sleep(0.1)


def run(ctx: RunContext, params: E2EParams) -> dict[str, Any]:
    db_url, redis_url = ctx.servers.database_url, ctx.servers.redis_url
    port = free_port()
    procs = ctx.processes
    api = procs.spawn_cli("api intake", "api", "intake", "--port", str(port))
    relay = procs.spawn_cli("relay", "relay", PENGADUAN_RELAY_POLL_INTERVAL=str(params.relay_poll_interval))
    worker = procs.spawn_cli("worker workflow", "worker", "workflow", "--concurrency", str(params.worker_concurrency))
    children = [api, relay, worker]
    engine = create_engine(db_url, pool_size=2)
    try:
        procs.wait_http_ok(api, f"http://127.0.0.1:{port}/healthz")
        url = f"http://127.0.0.1:{port}/v1/complaints"
        backlog_seconds = wait_for_backlog(engine, redis_url, ctx, children, params.backlog_timeout)

        # warm-up at the same rate: every process has served a few and the worker's children are up
        make_body = body_factory()
        warm = run_async(open_loop(url, params.rate, params.warmup_seconds, make_body))
        warm_codes = _codes(warm)
        warm_arrived, _ = wait_for_arrival(engine, warm_codes, ctx, children, params.arrival_timeout)
        if warm_arrived < len(warm_codes):
            raise RuntimeError(
                f"warm-up: only {warm_arrived}/{len(warm_codes)} complaints reached the workflow\n"
                f"--- worker ---\n{worker.tail()}\n--- relay ---\n{relay.tail()}"
            )

        meter = CpuMeter()
        meter.add_self("loadgen")
        meter.add_process_tree("api", api.pid)
        meter.add_process_tree("relay", relay.pid)
        meter.add_process_tree("worker", worker.pid)
        meter.add_process_tree("postgres", ctx.postmaster_pid)
        meter.start()
        sent = run_async(open_loop(url, params.rate, params.seconds, make_body, start_index=len(warm.responses)))
        codes = _codes(sent)
        arrived, drain_seconds = wait_for_arrival(engine, codes, ctx, children, params.arrival_timeout)
        cpu = meter.stop()
        with engine.connect() as conn:
            rows = conn.execute(_LATENCIES, {"codes": codes}).all()
    finally:
        procs.stop(*children)
        engine.dispose()

    total = [r.total for r in rows]
    http = http_summary(sent.responses, sent.last_send - sent.first_send)
    latency = latency_summary_ms(total)
    e2e_p50, http_p50 = latency["p50_ms"], http["latency_ok"]["p50_ms"]
    p99 = latency["p99_ms"]
    figures: dict[str, Any] = {
        "parameters": {
            "rate_per_second": params.rate,
            "seconds": params.seconds,
            "warmup_seconds": params.warmup_seconds,
            "arrival_timeout_seconds": params.arrival_timeout,
            "worker_concurrency": params.worker_concurrency,
            "relay_poll_interval": params.relay_poll_interval,
            "load": "open loop, asyncio + httpx, one task per request at fixed times",
        },
        "submitted": len(sent.responses),
        "accepted": len(codes),
        "arrived": arrived,
        "missing": len(codes) - arrived,
        "achieved_send_rate": round(sent.achieved_rate, 2) if sent.achieved_rate else None,
        "send_lateness": latency_summary_ms([r.lateness for r in sent.responses]),
        "wait_after_last_send_seconds": round(drain_seconds, 3),
        "backlog_drained_seconds": round(backlog_seconds, 3),
        "warmup_complaints": len(warm_codes),
        "latency": latency,
        "stages": {
            "received_to_published": latency_summary_ms([r.to_published for r in rows if r.to_published is not None]),
            "published_to_recorded": latency_summary_ms(
                [r.published_to_recorded for r in rows if r.published_to_recorded is not None]
            ),
        },
        "intake_http": http,
        "cpu": cpu,
        "cpu_per_complaint": per_unit_ms(cpu, len(codes)),
        "ratios": {
            "e2e_p50_over_intake_http_p50": ratio(e2e_p50, http_p50),
            "e2e_p99_over_intake_http_p99": ratio(p99, http["latency_ok"]["p99_ms"]),
        },
        "target": {
            "p99_below_ms": TARGET_P99_MS,
            "at_rate_per_second": params.rate,
            "met": p99 is not None and p99 < TARGET_P99_MS and arrived == len(codes),
        },
    }
    log.info(
        "e2e %d/%d arrived  p50 %s ms  p99 %s ms  max %s ms",
        arrived,
        len(codes),
        latency["p50_ms"],
        p99,
        latency["max_ms"],
    )
    return figures
