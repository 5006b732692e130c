"""Benchmark ``hop``: the CPU one Celery queue hop costs (publish, Redis, worker), against a raw Redis hop.

Issue #20: the acknowledgment path crosses the broker three times per complaint, and each crossing costs CPU in
machinery alone, whatever the task does: the publisher's ``send_task``, the Redis server, and the worker's prefork
parent (BRPOP, kombu's QoS pipelines, the ack, the pipe to a child) and child (the tracer), with two INFO log lines.

- **Celery hop:** ``python -m bench.hop worker --queue hopbench --concurrency 2``, started as ``pengaduan worker``
  starts one (``shared.celery_app.make_celery``, ``shared.logging.setup_logging`` at the product's level,
  ``pengaduan.cli.worker_argv``) but with one task, ``hop.noop``, that returns None. This process publishes with
  the same configuration: ``send_task("hop.noop", args=[payload], queue=..., task_id=...)``, the payload the
  relay's (``{"event_id", "position", "type"}``).
- **Raw hop (the baseline):** the same bytes Celery put in the list (one real message, taken from the queue before
  any worker runs), LPUSHed with redis-py, BRPOPed by ``python -m bench.hop raw-consumer --queue ...`` (redis-py,
  ``json.loads``, nothing else).
- **Load:** open loop at ``rate`` for ``seconds`` after a warm-up, then until the queue (and kombu's ``unacked``
  hash) is empty; then a burst of ``burst_messages`` published as fast as possible, until drained.
- **Measured per message:** CPU ms of the publisher (the publishing thread's ``thread_time``), of the consumer's
  process family and of the Redis server (their CPU-time clocks when local, else ``INFO cpu``); their total;
  ``other_share``; Redis commands per message.
  Also each consumer's idle CPU per second, and the figures net of it.
- **Diagnostic:** the Celery hop with the worker at log level WARNING (no per-task INFO lines).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import re
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.cpu import CpuMeter
from bench.stats import latency_summary_ms, ratio

if TYPE_CHECKING:
    import redis
    from celery import Celery

    from bench.environment import RunContext
    from bench.processes import Child

log = logging.getLogger("bench.hop")

QUEUE = "hopbench"  # the Celery hop's queue (and the worker's name: hopbench@host)
RAW_QUEUE = "hopbench-raw"
TASK = "hop.noop"
UNACKED = "unacked"  # kombu's Redis transport: delivered, not yet acknowledged (late acks)
PARTS = ("publisher", "consumer", "redis")  # what a hop costs; their sum is ``total``
_RECEIVED = re.compile(r"Task hop\.noop\[[^\]]+\] received")
_SUCCEEDED = re.compile(r"Task hop\.noop\[[^\]]+\] succeeded in")


@dataclass(frozen=True)
class HopParams:
    rate: float = 50.0
    seconds: float = 20.0
    warmup_seconds: float = 2.0
    burst_messages: int = 1000
    idle_seconds: float = 5.0
    worker_concurrency: int = 2
    diagnostics: bool = True  # the Celery hop again with the worker's log level at WARNING
    drain_timeout: float = 120.0


# ---------------------------------------------------------------------------------------------------
# the arithmetic, tested in tests/unit/test_bench_hop.py


def per_message(cpu: dict[str, float], messages: int) -> dict[str, float | None]:
    """CPU ms per message of each part (``<part>_seconds`` in ``cpu``), their total, and the bench process's."""
    if not messages:
        return {}
    found = {part: cpu[f"{part}_seconds"] for part in PARTS if f"{part}_seconds" in cpu}
    ms: dict[str, float | None] = {f"{part}_cpu_ms": round(s * 1000.0 / messages, 4) for part, s in found.items()}
    ms["total_cpu_ms"] = round(sum(found.values()) * 1000.0 / messages, 4)
    if "bench_process_seconds" in cpu:
        ms["bench_process_cpu_ms"] = round(cpu["bench_process_seconds"] * 1000.0 / messages, 4)
    if "consumer_parent_seconds" in cpu and "consumer" in found:  # a worker: its prefork parent, the rest its children
        parent = cpu["consumer_parent_seconds"]
        ms["consumer_parent_cpu_ms"] = round(parent * 1000.0 / messages, 4)
        ms["consumer_children_cpu_ms"] = round(max(0.0, found["consumer"] - parent) * 1000.0 / messages, 4)
    return ms


def commands_per_message(
    before: dict[str, dict[str, float]], after: dict[str, dict[str, float]], messages: int
) -> dict[str, Any]:
    """Redis commands per message by command, and the server's own microseconds in them (``INFO commandstats``
    read before and after a phase; the looks' INFO left out)."""
    if not messages:
        return {}
    calls: dict[str, float] = {}
    usec = 0.0
    for key, stats in after.items():
        name = key.removeprefix("cmdstat_")
        if name == "info":
            continue
        was = before.get(key, {})
        n = float(stats.get("calls", 0)) - float(was.get("calls", 0))
        if n > 0:
            calls[name] = round(n / messages, 3)
            usec += float(stats.get("usec", 0)) - float(was.get("usec", 0))
    return {
        "calls": dict(sorted(calls.items(), key=lambda kv: -kv[1])),
        "total_calls": round(sum(calls.values()), 3),
        "server_usec": round(usec / messages, 2),
    }


def net_of_idle(cpu: dict[str, float], idle: dict[str, float], messages: int) -> dict[str, float | None]:
    """``per_message`` after taking off what the consumer and Redis spend idle (their idle rate x the wall time)."""
    idle_wall = idle.get("wall_seconds") or 0.0
    net = dict(cpu)
    for part in ("consumer", "redis"):
        key = f"{part}_seconds"
        if key in cpu and key in idle and idle_wall:
            net[key] = max(0.0, cpu[key] - idle[key] / idle_wall * cpu["wall_seconds"])
    net.pop("bench_process_seconds", None)
    net.pop("consumer_parent_seconds", None)  # its idle share is not known apart
    return per_message(net, messages)


def part_ratios(celery: dict[str, float | None], raw: dict[str, float | None]) -> dict[str, float | None]:
    """Celery's CPU per message over the raw hop's, total and part by part."""
    return {
        key.removesuffix("_cpu_ms"): ratio(celery.get(key), raw.get(key))
        for key in ("total_cpu_ms", *(f"{p}_cpu_ms" for p in PARTS))
    }


def log_lines(text: str, messages: int) -> dict[str, Any]:
    """The worker's per-task log lines in ``text`` (what it wrote during a phase), and its log bytes per message."""
    return {
        "received_lines": len(_RECEIVED.findall(text)),
        "succeeded_lines": len(_SUCCEEDED.findall(text)),
        "bytes_per_message": round(len(text.encode()) / messages, 1) if messages else None,
    }


# ---------------------------------------------------------------------------------------------------
# the two consumers (child processes)


def worker_main(queue: str, concurrency: int) -> None:
    """A worker started as ``pengaduan worker KIND`` starts one (pengaduan/cli.py ``main`` and ``cmd_worker``),
    with one no-op task. PENGADUAN_METRICS_PORT is not set here, so ``serve_worker_metrics`` would do nothing."""
    from pengaduan.cli import worker_argv
    from shared.celery_app import is_amqp, make_celery
    from shared.config import Settings
    from shared.logging import setup_logging

    setup_logging(f"worker-{queue}")  # as pengaduan.cli.main: at PENGADUAN_LOG_LEVEL, INFO unless set
    settings = Settings()
    if is_amqp(settings.effective_broker_url):
        raise SystemExit("bench.hop measures the Redis broker; PENGADUAN_BROKER_URL names RabbitMQ")
    app = make_celery(settings, "hop")

    @app.task(name=TASK)
    def noop(message: dict[str, Any]) -> None:
        return None

    app.worker_main(worker_argv(queue, concurrency))


def raw_consumer_main(queue: str) -> None:
    """The least a consumer of a Redis list can do: BRPOP (1 s timeout, as kombu's), ``json.loads``, nothing else."""
    import redis

    client = redis.Redis.from_url(os.environ["PENGADUAN_REDIS_URL"])
    while True:
        item = client.brpop([queue], timeout=1)
        if item is not None:
            json.loads(item[1])


# ---------------------------------------------------------------------------------------------------
# publishing


@dataclass(frozen=True)
class Sent:
    messages: int
    seconds: float
    thread_cpu_seconds: float
    lateness: list[float]


def relay_message(position: int) -> tuple[str, dict[str, Any]]:
    """A task id and payload as the relay sends them (services/workflow/relay.py)."""
    event_id = str(uuid.uuid4())
    return f"{QUEUE}:{event_id}", {"event_id": event_id, "position": position, "type": "workflow.ComplaintReceived"}


def send(items: Sequence[Any], publish: Callable[[Any], object], rate: float | None) -> Sent:
    """Publish every item from this thread: item i at start + i/rate (open loop), or all at once (rate None).
    The CPU counted is this thread's (``time.thread_time``) within the publish calls, not the pacing's sleeps
    (about 0.07 ms each here)."""
    lateness: list[float] = []
    cpu = 0.0
    began = time.monotonic()
    for i, item in enumerate(items):
        if rate:
            delay = began + i / rate - time.monotonic()
            if delay > 0:
                time.sleep(delay)
            else:
                lateness.append(-delay)
        before = time.thread_time()
        publish(item)
        cpu += time.thread_time() - before
    return Sent(len(items), time.monotonic() - began, cpu, lateness)


@dataclass
class Hop:
    """One way across: how to make n messages, publish one, and see that the consumer is done with them all."""

    name: str
    queue: str
    prepare: Callable[[int, int], list[Any]]  # (first position, count) -> items
    publish: Callable[[Any], object]
    counts_unacked: bool


def celery_hop(app: Celery) -> Hop:
    def prepare(first: int, n: int) -> list[Any]:
        return [relay_message(first + i) for i in range(n)]

    def publish(item: tuple[str, dict[str, Any]]) -> None:
        app.send_task(TASK, args=[item[1]], queue=QUEUE, task_id=item[0])

    return Hop("celery", QUEUE, prepare, publish, counts_unacked=True)


def raw_hop(client: redis.Redis, body: bytes) -> Hop:
    def prepare(_first: int, n: int) -> list[Any]:
        return [body] * n

    def publish(item: bytes) -> None:
        client.lpush(RAW_QUEUE, item)

    return Hop("raw", RAW_QUEUE, prepare, publish, counts_unacked=False)


def captured_body(app: Celery, client: redis.Redis) -> bytes:
    """One message exactly as Celery puts it in the list (kombu's JSON envelope), taken back before any worker runs."""
    task_id, payload = relay_message(0)
    app.send_task(TASK, args=[payload], queue=QUEUE, task_id=task_id)
    body = client.rpop(QUEUE)
    if not isinstance(body, bytes):
        raise RuntimeError(f"no message in {QUEUE!r} after send_task (got {body!r})")
    return body


def wait_drained(
    client: redis.Redis, hop: Hop, check: Callable[[], None], timeout: float, looks: int = 2, interval: float = 0.05
) -> float:
    """Until the queue (and, for Celery, kombu's ``unacked`` hash) is empty at ``looks`` looks in a row: a message
    is briefly in neither between the worker's BRPOP and its QoS write. Returns the seconds it took."""
    began, empty = time.monotonic(), 0
    while True:
        check()
        pipe = client.pipeline(transaction=False)
        pipe.llen(hop.queue)
        if hop.counts_unacked:
            pipe.hlen(UNACKED)
        busy = sum(int(n) for n in pipe.execute())
        empty = empty + 1 if busy == 0 else 0
        if empty >= looks:
            return time.monotonic() - began
        if time.monotonic() - began > timeout:
            raise TimeoutError(f"{hop.name}: {busy} message(s) still queued or unacknowledged after {timeout:.0f}s")
        time.sleep(interval)


# ---------------------------------------------------------------------------------------------------
# measuring


def _process_cpu_clock(pid: int) -> int:
    """clock_getcpuclockid(pid): the CPU-time clock of a whole process (every thread, live or ended), in ns."""
    return ((~pid) << 3) | 2  # CPUCLOCK_SCHED, not per-thread (linux/posix-timers.h)


def _clock_seconds(pid: int) -> float:
    """One process's own CPU seconds (its threads, not its children)."""
    return time.clock_gettime(_process_cpu_clock(pid))


def precise_family_cpu_seconds(root_pid: int) -> float:
    """``bench.cpu.family_cpu_seconds`` to the microsecond: /proc's utime and stime count in 10 ms ticks, which is
    the raw hop's whole cost for dozens of messages. Each live process of the family is read from its CPU clock
    (the scheduler's own sum); only reaped children (cutime, cstime) and a process gone meanwhile come from /proc."""
    tick = os.sysconf("SC_CLK_TCK")
    parent_of: dict[int, int] = {}
    reaped: dict[int, float] = {}
    coarse: dict[int, float] = {}
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            line = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        fields = line[line.rindex(")") + 2 :].split()  # fields[0] is field 3 (state) of proc(5)
        pid = int(entry.name)
        parent_of[pid] = int(fields[1])
        utime, stime, cutime, cstime = (int(x) for x in fields[11:15])
        reaped[pid], coarse[pid] = (cutime + cstime) / tick, (utime + stime) / tick
    if root_pid not in parent_of:
        return 0.0
    children: dict[int, list[int]] = {}
    for pid, ppid in parent_of.items():
        children.setdefault(ppid, []).append(pid)
    total, todo = 0.0, [root_pid]
    while todo:
        pid = todo.pop()
        try:
            own = _clock_seconds(pid)
        except OSError:  # gone since the scan
            own = coarse[pid]
        total += own + reaped[pid]
        todo.extend(children.get(pid, []))
    return total


def _redis_cpu(redis_url: str, pid: int | None) -> tuple[Callable[[], float], str]:
    """The Redis server's CPU seconds: its CPU clock when it runs here, else what ``INFO cpu`` says."""
    if pid is not None:
        return (lambda: precise_family_cpu_seconds(pid)), f"CPU clock of pid {pid}"
    import redis

    client = redis.Redis.from_url(redis_url)

    def read() -> float:
        info = client.info("cpu")
        return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])

    return read, "INFO cpu"


def _meter(consumer: Child, redis_cpu: Callable[[], float]) -> CpuMeter:
    meter = CpuMeter()
    meter.add_self("bench_process")  # the publisher's thread and the looks at the queue after it
    meter.components["consumer"] = lambda: precise_family_cpu_seconds(consumer.pid)
    meter.components["redis"] = redis_cpu
    return meter


def _log_size(child: Child) -> int:
    try:
        return child.log_path.stat().st_size
    except OSError:
        return 0


def _log_since(child: Child, offset: int) -> str:
    with open(child.log_path, "rb") as f:
        f.seek(offset)
        return f.read().decode(errors="replace")


def _phase(
    hop: Hop,
    consumer: Child,
    client: redis.Redis,
    check: Callable[[], None],
    redis_cpu: Callable[[], float],
    idle: dict[str, float],
    n: int,
    first: int,
    rate: float | None,
    timeout: float,
) -> dict[str, Any]:
    items = hop.prepare(first, n)
    offset = _log_size(consumer)
    commands = client.info("commandstats")
    meter = _meter(consumer, redis_cpu)
    parent = _clock_seconds(consumer.pid)
    meter.start()
    sent = send(items, hop.publish, rate)
    drain = wait_drained(client, hop, check, timeout)
    cpu = meter.stop()
    # parts of what the meter measured, so not in its other_seconds: the publishing thread, the consumer's own process
    cpu["publisher_seconds"] = round(sent.thread_cpu_seconds, 4)
    cpu["consumer_parent_seconds"] = round(_clock_seconds(consumer.pid) - parent, 4)
    commands = commands_per_message(commands, client.info("commandstats"), n)
    figures: dict[str, Any] = {
        "messages": n,
        "publish_seconds": round(sent.seconds, 3),
        "achieved_publish_rate": round(n / sent.seconds, 1) if sent.seconds else None,
        "drain_seconds_after_last_publish": round(drain, 3),
        "messages_per_second": round(n / cpu["wall_seconds"], 1) if cpu["wall_seconds"] else None,
        "cpu": cpu,
        "per_message_ms": per_message(cpu, n),
        "net_of_idle_per_message_ms": net_of_idle(cpu, idle, n),
        "consumer_log": log_lines(_log_since(consumer, offset), n),
        "redis_commands_per_message": commands,
    }
    if rate:
        figures["rate_per_second"] = rate
        figures["send_lateness"] = latency_summary_ms(sent.lateness)
    return figures


def _variant(
    ctx: RunContext,
    params: HopParams,
    hop: Hop,
    consumer: Child,
    client: redis.Redis,
    redis_cpu: Callable[[], float],
) -> dict[str, Any]:
    def check() -> None:
        ctx.processes.check_alive(consumer)

    began = time.monotonic()  # bootstrap: the consumer is up, every prefork child has run a task
    send(hop.prepare(0, 4 * params.worker_concurrency), hop.publish, None)
    wait_drained(client, hop, check, 90.0)
    bootstrap = time.monotonic() - began
    position = 4 * params.worker_concurrency
    warm = int(params.rate * params.warmup_seconds)
    send(hop.prepare(position, warm), hop.publish, params.rate)
    wait_drained(client, hop, check, params.drain_timeout)
    position += warm

    meter = _meter(consumer, redis_cpu)  # idle: nothing published, nobody looking
    meter.start()
    time.sleep(params.idle_seconds)
    idle = meter.stop()

    paced_n = int(params.rate * params.seconds)
    paced = _phase(hop, consumer, client, check, redis_cpu, idle, paced_n, position, params.rate, params.drain_timeout)
    position += paced_n
    burst_n = params.burst_messages
    burst = _phase(hop, consumer, client, check, redis_cpu, idle, burst_n, position, None, params.drain_timeout)
    idle_wall = idle["wall_seconds"] or 1.0
    return {
        "bootstrap_seconds": round(bootstrap, 3),
        "warmup_messages": warm,
        "idle": {
            "cpu": idle,
            "ms_per_second": {
                part: round(idle[f"{part}_seconds"] * 1000.0 / idle_wall, 2)
                for part in ("consumer", "redis")
                if f"{part}_seconds" in idle
            },
        },
        "paced": paced,
        "burst": burst,
    }


def _celery_variant(
    ctx: RunContext, params: HopParams, app: Celery, client: redis.Redis, redis_cpu: Callable[[], float], level: str
) -> dict[str, Any]:
    client.delete(QUEUE)
    worker = ctx.processes.spawn(
        f"hop worker {level}",
        ["-m", "bench.hop", "worker", "--queue", QUEUE, "--concurrency", str(params.worker_concurrency)],
        PENGADUAN_LOG_LEVEL=level,
    )
    try:
        figures = _variant(ctx, params, celery_hop(app), worker, client, redis_cpu)
    finally:
        ctx.processes.stop(worker)
    return {"worker_log_level": level, "worker_concurrency": params.worker_concurrency, **figures}


def _raw_variant(
    ctx: RunContext, params: HopParams, client: redis.Redis, body: bytes, redis_cpu: Callable[[], float]
) -> dict[str, Any]:
    client.delete(RAW_QUEUE)
    consumer = ctx.processes.spawn("hop raw consumer", ["-m", "bench.hop", "raw-consumer", "--queue", RAW_QUEUE])
    try:
        return _variant(ctx, params, raw_hop(client, body), consumer, client, redis_cpu)
    finally:
        ctx.processes.stop(consumer)
        client.delete(RAW_QUEUE)


def run(ctx: RunContext, params: HopParams) -> dict[str, Any]:
    import redis

    from bench.environment import local_redis_pid
    from shared.celery_app import make_celery
    from shared.config import Settings

    url = ctx.servers.redis_url
    redis_pid = local_redis_pid(url)
    redis_cpu, redis_source = _redis_cpu(url, redis_pid)
    client = redis.Redis.from_url(url)
    app = make_celery(Settings(database_url=ctx.servers.database_url, redis_url=url, broker_url=None), "bench-hop")
    try:
        client.delete(QUEUE, RAW_QUEUE)
        body = captured_body(app, client)
        variants = {"celery": _celery_variant(ctx, params, app, client, redis_cpu, "INFO")}
        variants["raw"] = _raw_variant(ctx, params, client, body, redis_cpu)
        if params.diagnostics:
            variants["celery_warning"] = _celery_variant(ctx, params, app, client, redis_cpu, "WARNING")
    finally:
        client.delete(QUEUE, RAW_QUEUE)
        client.close()
        app.close()

    celery, raw = variants["celery"], variants["raw"]
    ratios: dict[str, float | None] = {}
    for phase in ("paced", "burst"):
        parts = part_ratios(celery[phase]["per_message_ms"], raw[phase]["per_message_ms"])
        suffix = "" if phase == "paced" else "_burst"
        ratios[f"celery_hop_over_raw_hop{suffix}"] = parts.pop("total")
        ratios.update({f"{part}_celery_over_raw{suffix}": value for part, value in parts.items()})
    figures: dict[str, Any] = {
        "parameters": {
            **vars(params),
            "queue": QUEUE,
            "task": TASK,
            "load": "open loop from this process's main thread, then a burst; each until the queue is drained",
        },
        "message_body_bytes": len(body),
        "redis_cpu_from": redis_source,
        "variants": variants,
        "ratios": ratios,
    }
    if "celery_warning" in variants:  # the log lines are written by the worker: its CPU is the figure to read
        warning = variants["celery_warning"]
        for phase in ("paced", "burst"):
            info_ms, warn_ms = celery[phase]["per_message_ms"], warning[phase]["per_message_ms"]
            suffix = "" if phase == "paced" else "_burst"
            ratios[f"worker_info_over_worker_warning{suffix}"] = ratio(
                info_ms["consumer_cpu_ms"], warn_ms["consumer_cpu_ms"]
            )
            ratios[f"celery_info_over_celery_warning{suffix}"] = ratio(info_ms["total_cpu_ms"], warn_ms["total_cpu_ms"])
            figures.setdefault("info_log_lines_cost_ms_per_message", {})[phase] = {
                "worker": round(info_ms["consumer_cpu_ms"] - warn_ms["consumer_cpu_ms"], 4),
                "total": round(info_ms["total_cpu_ms"] - warn_ms["total_cpu_ms"], 4),
            }
    p = celery["paced"]["per_message_ms"]
    log.info(
        "hop: Celery %.2f ms CPU/message (publisher %.2f, worker %.2f, redis %.2f) against raw %.2f: ratio %s;"
        " other_share %s",
        p["total_cpu_ms"], p["publisher_cpu_ms"], p["consumer_cpu_ms"], p["redis_cpu_ms"],
        raw["paced"]["per_message_ms"]["total_cpu_ms"], ratios["celery_hop_over_raw_hop"],
        celery["paced"]["cpu"]["other_share"],
    )  # fmt: skip
    return figures


def _split(ms: dict[str, Any]) -> str:
    """total (publisher+consumer+redis), ms per message"""
    from bench.report import _fmt

    parts = "+".join(_fmt(ms.get(f"{part}_cpu_ms"), 2) for part in PARTS)
    return f"{_fmt(ms.get('total_cpu_ms'), 2)} ({parts})"


def table_rows(fig: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """bench/report.py's table: CPU ms per message, Celery against the raw hop, paced and burst."""
    from bench.report import _fmt

    if "variants" not in fig:
        return [("hop", "failed", str(fig.get("error", ""))[:60], "", "", "")]
    variants, ratios = fig["variants"], fig["ratios"]
    rows = []
    for phase, suffix in (("paced", ""), ("burst", "_burst")):
        c, r = variants["celery"][phase], variants["raw"][phase]
        cm, rm = c["per_message_ms"], r["per_message_ms"]
        what = f"at {c['rate_per_second']:g}/s" if phase == "paced" else f"burst of {c['messages']}"
        rows.append(
            (
                "hop",
                f"CPU ms/message {what} (pub+worker+redis)",
                _split(cm),
                f"{_split(rm)} raw",
                _fmt(ratios[f"celery_hop_over_raw_hop{suffix}"], 2),
                "",
            )
        )
    burst = variants["celery"]["burst"]
    rows.append(("hop", "Celery messages/s, burst", _fmt(burst["messages_per_second"]),
                 f"{_fmt(variants['raw']['burst']['messages_per_second'])} raw", "", ""))  # fmt: skip
    if "celery_warning" in variants:  # the burst's figure: the paced ones move more between runs than this
        warning, info = variants["celery_warning"]["burst"], variants["celery"]["burst"]
        cost = fig["info_log_lines_cost_ms_per_message"]
        rows.append(
            (
                "hop",
                "worker CPU ms/message in the burst, log level",
                f"{_fmt(info['per_message_ms']['consumer_cpu_ms'], 2)} INFO",
                f"{_fmt(warning['per_message_ms']['consumer_cpu_ms'], 2)} WARNING",
                _fmt(ratios["worker_info_over_worker_warning_burst"], 2),
                f"2 log lines: {_fmt(cost['burst']['worker'], 2)} ms (paced {_fmt(cost['paced']['worker'], 2)})",
            )
        )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hop", description="the hop benchmark's consumers")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("worker", help="a Celery worker as the product's, with one no-op task (hop.noop)")
    p.add_argument("--queue", default=QUEUE)
    p.add_argument("--concurrency", type=int, default=2)
    p = sub.add_parser("raw-consumer", help="BRPOP + json.loads, nothing else")
    p.add_argument("--queue", default=RAW_QUEUE)
    args = parser.parse_args(argv)
    if args.command == "worker":
        worker_main(args.queue, args.concurrency)
    else:
        raw_consumer_main(args.queue)


if __name__ == "__main__":
    main()
