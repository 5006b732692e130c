"""Benchmark 2, ``intake``: POST /v1/complaints of the real intake API against a bare FastAPI app.

Both are driven by the same closed-loop load generator (C concurrent connections, valid complaint
bodies with a different subject each, no Idempotency-Key), one after the other, never at the same time.
The intake API validates the complaint (NIK, phone, e-mail), looks the kecamatan up, and writes the
submission and its outbox message in one transaction with a NOTIFY; the bare app (bench/bare_app.py)
inserts one row. The ratio intake/bare is the price of all that.
"""

from __future__ import annotations

import logging
from dataclasses import dataclass
from typing import Any

from bench.cpu import CpuMeter, per_unit_ms
from bench.environment import RunContext
from bench.loadgen import body_factory, closed_loop, http_summary, run_async
from bench.processes import Child
from bench.stats import ratio
from shared.embedded import free_port

log = logging.getLogger("bench.intake")

TARGET_THROUGHPUT_RATIO = 0.5  # intake should keep at least half the bare app's throughput


@dataclass(frozen=True)
class IntakeParams:
    seconds: float = 15.0
    warmup_seconds: float = 2.0
    concurrency: int = 16


def _start(ctx: RunContext, target: str, port: int) -> Child:
    if target == "intake":
        return ctx.processes.spawn_cli("api intake", "api", "intake", "--port", str(port))
    return ctx.processes.spawn("bare app", ["-m", "bench.bare_app", "--port", str(port)])


def measure_target(ctx: RunContext, target: str, params: IntakeParams) -> dict[str, Any]:
    port = free_port()
    child = _start(ctx, target, port)
    try:
        ctx.processes.wait_http_ok(child, f"http://127.0.0.1:{port}/healthz")
        url = f"http://127.0.0.1:{port}/v1/complaints"
        make_body = body_factory()
        warm = run_async(closed_loop(url, params.concurrency, 0.0, params.warmup_seconds, make_body))
        meter = CpuMeter()
        meter.add_self("loadgen")
        meter.add_process_tree("server", child.pid)
        meter.add_process_tree("postgres", ctx.postmaster_pid)
        meter.start()
        result = run_async(closed_loop(url, params.concurrency, 0.0, params.seconds, make_body))
        cpu = meter.stop()
        ctx.processes.check_alive(child)
    finally:
        ctx.processes.stop(child)
    figures = http_summary(result.responses, result.seconds)
    figures["warmup_requests"] = len(warm.responses)
    figures["cpu"] = cpu
    figures["cpu_per_request"] = per_unit_ms(cpu, figures["ok"])
    # above ~0.9 the load generator (one Python process) and not the server limits the throughput
    figures["loadgen_core_utilisation"] = round(cpu["loadgen_seconds"] / cpu["wall_seconds"], 3)
    log.info(
        "intake %-6s %8.1f requests/s  p50 %s ms  p99 %s ms  errors %d",
        target,
        figures["requests_per_second"] or 0.0,
        figures["latency_ok"]["p50_ms"],
        figures["latency_ok"]["p99_ms"],
        figures["errors"],
    )
    return figures


def run(ctx: RunContext, params: IntakeParams) -> dict[str, Any]:
    targets = {name: measure_target(ctx, name, params) for name in ("intake", "bare")}
    intake, bare = targets["intake"], targets["bare"]
    throughput = ratio(intake["requests_per_second"], bare["requests_per_second"])
    return {
        "parameters": {
            "seconds": params.seconds,
            "warmup_seconds": params.warmup_seconds,
            "concurrency": params.concurrency,
            "load": "closed loop, asyncio + httpx, keep-alive connections, one target at a time",
            "order": ["intake", "bare"],
        },
        "targets": targets,
        "ratios": {
            "throughput_intake_over_bare": throughput,
            "p50_intake_over_bare": ratio(intake["latency_ok"]["p50_ms"], bare["latency_ok"]["p50_ms"]),
            "p99_intake_over_bare": ratio(intake["latency_ok"]["p99_ms"], bare["latency_ok"]["p99_ms"]),
            "server_cpu_per_request_intake_over_bare": ratio(
                intake["cpu_per_request"].get("server_cpu_ms"), bare["cpu_per_request"].get("server_cpu_ms")
            ),
            "postgres_cpu_per_request_intake_over_bare": ratio(
                intake["cpu_per_request"].get("postgres_cpu_ms"), bare["cpu_per_request"].get("postgres_cpu_ms")
            ),
        },
        "target": {
            "throughput_intake_over_bare_at_least": TARGET_THROUGHPUT_RATIO,
            "met": throughput is not None and throughput >= TARGET_THROUGHPUT_RATIO,
        },
    }
