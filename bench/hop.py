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
  process family and of the server (Redis, or PostgreSQL for ``pg_queue``: their CPU-time clocks when local, else
  Redis's ``INFO cpu``); their total; ``other_share``; Redis commands (PostgreSQL statements) per message.
  Also each consumer's idle CPU per second, and the figures net of it.
- **Diagnostics** (ADR 0030's options, each measured the same way):

  - ``celery_warning``: the Celery hop with the worker at log level WARNING (no per-task INFO lines);
  - ``celery_no_ack_emulation``: the Celery hop with kombu's ``ack_emulation`` off (worker and publisher), so
    no ``unacked`` hash; drained when the list is empty and the worker has logged every task's "succeeded";
  - ``pg_queue``: a PostgreSQL table as the queue (``bench.hop_queue``): INSERT + ``pg_notify`` in one
    transaction, taken one row per transaction by ``python -m bench.hop pg-consumer`` (LISTEN, then
    ``DELETE ... FOR UPDATE SKIP LOCKED LIMIT 1 RETURNING payload``, ``json.loads``, COMMIT); the server part is
    the postmaster's process family (every backend, the WAL writer, autovacuum).
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
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from bench.cpu import CpuMeter, family
from bench.stats import latency_summary_ms, ratio

if TYPE_CHECKING:
    import psycopg
    import redis
    from celery import Celery

    from bench.environment import RunContext
    from bench.processes import Child

log = logging.getLogger("bench.hop")

QUEUE = "hopbench"  # the Celery hop's queue (and the worker's name: hopbench@host)
RAW_QUEUE = "hopbench-raw"
TASK = "hop.noop"
UNACKED = "unacked"  # kombu's Redis transport: delivered, not yet acknowledged (late acks)
PG_TABLE = "bench.hop_queue"  # bench/schema.py
PG_CHANNEL = "bench_hop_queue"
PG_POLL_SECONDS = 1.0  # the PostgreSQL consumer looks this often without a NOTIFY (BRPOP's timeout in the others)
# one message in: its own transaction (BEGIN, this, COMMIT); the NOTIFY is delivered at the commit
PG_PUBLISH = (
    f"WITH queued AS (INSERT INTO {PG_TABLE} (payload) VALUES (%s) RETURNING id)"
    f" SELECT pg_notify('{PG_CHANNEL}', '') FROM queued"
)
# one message out: its own transaction, committed after the "work" (as a Celery message acknowledged late)
PG_TAKE = (
    f"DELETE FROM {PG_TABLE} WHERE id = "
    f"(SELECT id FROM {PG_TABLE} ORDER BY id FOR UPDATE SKIP LOCKED LIMIT 1) RETURNING payload"
)
SERVERS = ("redis", "postgres")  # a hop's server part: one of these
PARTS = ("publisher", "consumer", *SERVERS)  # what a hop costs; their sum is ``total``
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
    # the diagnostic variants: the Celery hop with the worker at WARNING, without ack emulation, and a PostgreSQL
    # table as the queue
    diagnostics: bool = True
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


def statements_per_message(
    before: dict[str, dict[str, float]], after: dict[str, dict[str, float]], messages: int
) -> dict[str, Any]:
    """PostgreSQL statements per message by statement (``pg_stat_statements``' normalized text, ``{query: {"calls",
    "exec_ms"}}`` read before and after a phase; the reads of pg_stat_statements left out), and the server's own
    execution microseconds in them. BEGIN and COMMIT are statements too (``track_utility``)."""
    if not messages:
        return {}
    calls: dict[str, float] = {}
    usec = 0.0
    for query, stats in after.items():
        if "pg_stat_statements" in query:
            continue
        was = before.get(query, {})
        n = float(stats.get("calls", 0)) - float(was.get("calls", 0))
        if n > 0:
            label = " ".join(query.split())
            label = label if len(label) <= 80 else label[:77] + "..."
            calls[label] = round(calls.get(label, 0.0) + n / messages, 3)
            usec += (float(stats.get("exec_ms", 0)) - float(was.get("exec_ms", 0))) * 1000.0
    return {
        "calls": dict(sorted(calls.items(), key=lambda kv: -kv[1])),
        "total_calls": round(sum(calls.values()), 3),
        "server_exec_usec": round(usec / messages, 2),
    }


def net_of_idle(cpu: dict[str, float], idle: dict[str, float], messages: int) -> dict[str, float | None]:
    """``per_message`` after taking off what the consumer and the server spend idle (their idle rate x the wall
    time)."""
    idle_wall = idle.get("wall_seconds") or 0.0
    net = dict(cpu)
    for part in ("consumer", *SERVERS):
        key = f"{part}_seconds"
        if key in cpu and key in idle and idle_wall:
            net[key] = max(0.0, cpu[key] - idle[key] / idle_wall * cpu["wall_seconds"])
    net.pop("bench_process_seconds", None)
    net.pop("consumer_parent_seconds", None)  # its idle share is not known apart
    return per_message(net, messages)


def server_part(ms: dict[str, Any]) -> str | None:
    """Which server a hop's figures name: ``redis`` or ``postgres``."""
    return next((s for s in SERVERS if f"{s}_cpu_ms" in ms), None)


def part_ratios(a: dict[str, float | None], b: dict[str, float | None]) -> dict[str, float | None]:
    """One hop's CPU per message over another's, total and part by part. The server part is named after the
    server when both hops use the same one (``redis``), else ``server`` (PostgreSQL's over Redis's, say)."""
    found = {
        key.removesuffix("_cpu_ms"): ratio(a.get(key), b.get(key))
        for key in ("total_cpu_ms", "publisher_cpu_ms", "consumer_cpu_ms")
    }
    sa, sb = server_part(a), server_part(b)
    if sa is not None and sb is not None:
        found[sa if sa == sb else "server"] = ratio(a.get(f"{sa}_cpu_ms"), b.get(f"{sb}_cpu_ms"))
    return found


def log_lines(text: str, messages: int) -> dict[str, Any]:
    """The worker's per-task log lines in ``text`` (what it wrote during a phase), and its log bytes per message."""
    return {
        "received_lines": len(_RECEIVED.findall(text)),
        "succeeded_lines": len(_SUCCEEDED.findall(text)),
        "bytes_per_message": round(len(text.encode()) / messages, 1) if messages else None,
    }


@dataclass
class LineCounter:
    """Counts the lines matching ``pattern`` in what is appended to a log after ``offset``, reading only what is
    new at each look; a line not yet ended is counted once it is."""

    path: Path
    offset: int
    pattern: re.Pattern[str] = _SUCCEEDED
    count: int = 0
    _pending: bytes = field(default=b"", repr=False)

    def feed(self, chunk: bytes) -> int:
        data = self._pending + chunk
        end = data.rfind(b"\n") + 1
        self._pending = data[end:]
        self.count += len(self.pattern.findall(data[:end].decode(errors="replace")))
        return self.count

    def read(self) -> int:
        with open(self.path, "rb") as f:
            f.seek(self.offset)
            chunk = f.read()
        self.offset += len(chunk)
        return self.feed(chunk)


def without_ack_emulation(app: Celery) -> Celery:
    """kombu's Redis transport without ack emulation: a delivered message is only in the worker's memory (no
    ``unacked`` hash, no visibility timeout, no sweep), acknowledged by forgetting it; the rest of the product's
    broker options as they are."""
    app.conf.broker_transport_options = {**app.conf.broker_transport_options, "ack_emulation": False}
    return app


# ---------------------------------------------------------------------------------------------------
# the consumers (child processes)


def worker_main(queue: str, concurrency: int, ack_emulation: bool = True) -> None:
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
    if not ack_emulation:
        without_ack_emulation(app)

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


def pg_take(conn: psycopg.Connection) -> bool:
    """One message taken in its own transaction: the row deleted (skipping rows another consumer holds), its
    payload parsed (the "work"), then the commit. False when there was none (that empty transaction committed)."""
    row = conn.execute(PG_TAKE).fetchone()
    if row is not None:
        json.loads(row[0])
    conn.commit()
    return row is not None


def pg_consumer_main(poll_seconds: float) -> None:
    """A consumer of ``bench.hop_queue``: takes rows until none is left, then waits for a NOTIFY (or
    ``poll_seconds``). NOTIFYs that came while it was taking are all read at once by the next wait, which then
    returns at once: one more take, empty unless a row came meanwhile. psycopg, autocommit off."""
    import psycopg

    from shared.db import libpq_url

    with psycopg.connect(libpq_url(os.environ["PENGADUAN_DATABASE_URL"]), autocommit=False) as conn:
        conn.execute(f"LISTEN {PG_CHANNEL}")
        conn.commit()
        while True:
            while pg_take(conn):
                pass
            for _ in conn.notifies(timeout=poll_seconds, stop_after=1):
                pass


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
    """One way across: how to make n messages and publish one, and how many of the n published since ``mark()``
    the consumer is not done with (0: drained)."""

    name: str
    prepare: Callable[[int, int], list[Any]]  # (first position, count) -> items
    publish: Callable[[Any], object]
    outstanding: Callable[[Any, int], int]  # (what mark() returned, messages published since) -> not done yet
    mark: Callable[[], Any] = lambda: None


def _redis_outstanding(client: redis.Redis, queue: str, unacked: bool) -> int:
    pipe = client.pipeline(transaction=False)
    pipe.llen(queue)
    if unacked:
        pipe.hlen(UNACKED)
    return sum(int(n) for n in pipe.execute())


def celery_hop(app: Celery, client: redis.Redis) -> Hop:
    """Drained: the list and kombu's ``unacked`` hash empty (a message leaves the hash when it is acknowledged)."""

    def prepare(first: int, n: int) -> list[Any]:
        return [relay_message(first + i) for i in range(n)]

    def publish(item: tuple[str, dict[str, Any]]) -> None:
        app.send_task(TASK, args=[item[1]], queue=QUEUE, task_id=item[0])

    return Hop("celery", prepare, publish, lambda _mark, _n: _redis_outstanding(client, QUEUE, unacked=True))


def celery_no_ack_hop(app: Celery, client: redis.Redis, worker: Child) -> Hop:
    """Without ack emulation there is no ``unacked`` hash: a message BRPOPed is only in the worker. Drained: the
    list empty and the worker's log holds a "succeeded" line for every message published since the mark (the
    worker runs at INFO; reading its log costs this process's CPU only, no command on the measured servers)."""
    hop = celery_hop(app, client)

    def mark() -> LineCounter:
        return LineCounter(worker.log_path, _log_size(worker))

    def outstanding(counter: LineCounter, n: int) -> int:
        return _redis_outstanding(client, QUEUE, unacked=False) + max(0, n - counter.read())

    return Hop("celery_no_ack_emulation", hop.prepare, hop.publish, outstanding, mark)


def raw_hop(client: redis.Redis, body: bytes) -> Hop:
    def prepare(_first: int, n: int) -> list[Any]:
        return [body] * n

    def publish(item: bytes) -> None:
        client.lpush(RAW_QUEUE, item)

    return Hop("raw", prepare, publish, lambda _mark, _n: _redis_outstanding(client, RAW_QUEUE, unacked=False))


def pg_hop(publisher: psycopg.Connection, looks: psycopg.Connection, body: bytes) -> Hop:
    """The same bytes as the raw hop, as a bytea row. Drained: no row visible to another session, so every take
    has committed (a row deleted by a transaction not yet committed is still counted)."""

    def prepare(_first: int, n: int) -> list[Any]:
        return [body] * n

    def publish(item: bytes) -> None:
        publisher.execute(PG_PUBLISH, (item,))
        publisher.commit()

    def outstanding(_mark: None, _n: int) -> int:
        row = looks.execute(f"SELECT count(*) FROM {PG_TABLE}").fetchone()
        return int(row[0]) if row else 0

    return Hop("pg_queue", prepare, publish, outstanding)


def captured_body(app: Celery, client: redis.Redis) -> bytes:
    """One message exactly as Celery puts it in the list (kombu's JSON envelope), taken back before any worker runs."""
    task_id, payload = relay_message(0)
    app.send_task(TASK, args=[payload], queue=QUEUE, task_id=task_id)
    body = client.rpop(QUEUE)
    if not isinstance(body, bytes):
        raise RuntimeError(f"no message in {QUEUE!r} after send_task (got {body!r})")
    return body


def wait_drained(
    hop: Hop, mark: Any, n: int, check: Callable[[], None], timeout: float, looks: int = 2, interval: float = 0.05
) -> float:
    """Until ``hop.outstanding`` is 0 at ``looks`` looks in a row (for Celery: a message is briefly in neither the
    list nor the ``unacked`` hash between the worker's BRPOP and its QoS write; the worker's last ack, the
    consumer's last empty take, follow the last message's by a moment). Returns the seconds it took."""
    began, empty = time.monotonic(), 0
    while True:
        check()
        busy = hop.outstanding(mark, n)
        empty = empty + 1 if busy == 0 else 0
        if empty >= looks:
            return time.monotonic() - began
        if time.monotonic() - began > timeout:
            raise TimeoutError(f"{hop.name}: {busy} message(s) not yet done after {timeout:.0f}s")
        time.sleep(interval)


def _published(hop: Hop, n: int, first: int, rate: float | None, check: Callable[[], None], timeout: float) -> None:
    """n messages published and drained, unmeasured (the bootstrap, the warm-up)."""
    mark = hop.mark()
    send(hop.prepare(first, n), hop.publish, rate)
    wait_drained(hop, mark, n, check, timeout)


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
    total = 0.0
    for p in family(root_pid):
        try:
            own = _clock_seconds(p.pid)
        except OSError:  # gone since the scan
            own = p.own
        total += own + p.reaped
    return total


@dataclass(frozen=True)
class Server:
    """A hop's server: the part's name, its CPU seconds, and its counters read before and after a phase."""

    name: str  # one of SERVERS
    cpu: Callable[[], float]
    cpu_from: str
    counters: Callable[[], dict[str, dict[str, float]]]
    per_message: Callable[[dict[str, dict[str, float]], dict[str, dict[str, float]], int], dict[str, Any]]
    counters_key: str  # the phase's figure


def redis_server(client: redis.Redis, redis_url: str, pid: int | None) -> Server:
    """The Redis server's CPU seconds: its CPU clock when it runs here, else what ``INFO cpu`` says."""
    if pid is not None:
        cpu, source = (lambda: precise_family_cpu_seconds(pid)), f"CPU clock of pid {pid}"
    else:
        import redis

        info_client = redis.Redis.from_url(redis_url)

        def cpu() -> float:
            info = info_client.info("cpu")
            return float(info["used_cpu_sys"]) + float(info["used_cpu_user"])

        source = "INFO cpu"
    return Server(
        "redis",
        cpu,
        source,
        lambda: client.info("commandstats"),
        commands_per_message,
        "redis_commands_per_message",
    )


def _pg_statements(looks: psycopg.Connection) -> Callable[[], dict[str, dict[str, float]]]:
    """pg_stat_statements' calls and execution time by statement, when the server preloads it (the embedded one
    does, for bench/walk.py), else nothing."""
    preloaded = looks.execute("SHOW shared_preload_libraries").fetchone()
    if not preloaded or "pg_stat_statements" not in str(preloaded[0]):
        return dict
    looks.execute("CREATE EXTENSION IF NOT EXISTS pg_stat_statements")

    def read() -> dict[str, dict[str, float]]:
        rows = looks.execute(
            "SELECT s.query, sum(s.calls), sum(s.total_exec_time) FROM pg_stat_statements s"
            " JOIN pg_database d ON d.oid = s.dbid WHERE d.datname = current_database() GROUP BY s.query"
        ).fetchall()
        return {query: {"calls": float(calls), "exec_ms": float(ms)} for query, calls, ms in rows}

    return read


def postgres_server(looks: psycopg.Connection, postmaster_pid: int) -> Server:
    """PostgreSQL's CPU seconds: the postmaster's process family on its CPU clocks (every backend, this process's
    and the consumer's among them, and the background processes: WAL writer, checkpointer, autovacuum)."""
    return Server(
        "postgres",
        lambda: precise_family_cpu_seconds(postmaster_pid),
        f"CPU clocks of postmaster pid {postmaster_pid} and its children",
        _pg_statements(looks),
        statements_per_message,
        "postgres_statements_per_message",
    )


def _meter(consumer: Child, server: Server) -> CpuMeter:
    meter = CpuMeter()
    meter.add_self("bench_process")  # the publisher's thread and the looks at the queue after it
    meter.components["consumer"] = lambda: precise_family_cpu_seconds(consumer.pid)
    meter.components[server.name] = server.cpu
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
    server: Server,
    check: Callable[[], None],
    idle: dict[str, float],
    n: int,
    first: int,
    rate: float | None,
    timeout: float,
) -> dict[str, Any]:
    items = hop.prepare(first, n)
    offset = _log_size(consumer)
    counters = server.counters()
    meter = _meter(consumer, server)
    parent = _clock_seconds(consumer.pid)
    mark = hop.mark()
    meter.start()
    sent = send(items, hop.publish, rate)
    drain = wait_drained(hop, mark, n, check, timeout)
    cpu = meter.stop()
    # parts of what the meter measured, so not in its other_seconds: the publishing thread, the consumer's own process
    cpu["publisher_seconds"] = round(sent.thread_cpu_seconds, 4)
    cpu["consumer_parent_seconds"] = round(_clock_seconds(consumer.pid) - parent, 4)
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
        server.counters_key: server.per_message(counters, server.counters(), n),
    }
    if rate:
        figures["rate_per_second"] = rate
        figures["send_lateness"] = latency_summary_ms(sent.lateness)
    return figures


def _variant(ctx: RunContext, params: HopParams, hop: Hop, consumer: Child, server: Server) -> dict[str, Any]:
    def check() -> None:
        ctx.processes.check_alive(consumer)

    began = time.monotonic()  # bootstrap: the consumer is up, every prefork child has run a task
    position = 4 * params.worker_concurrency
    _published(hop, position, 0, None, check, 90.0)
    bootstrap = time.monotonic() - began
    warm = int(params.rate * params.warmup_seconds)
    _published(hop, warm, position, params.rate, check, params.drain_timeout)
    position += warm

    meter = _meter(consumer, server)  # idle: nothing published, nobody looking
    meter.start()
    time.sleep(params.idle_seconds)
    idle = meter.stop()

    paced_n = int(params.rate * params.seconds)
    paced = _phase(hop, consumer, server, check, idle, paced_n, position, params.rate, params.drain_timeout)
    position += paced_n
    burst_n = params.burst_messages
    burst = _phase(hop, consumer, server, check, idle, burst_n, position, None, params.drain_timeout)
    idle_wall = idle["wall_seconds"] or 1.0
    return {
        "bootstrap_seconds": round(bootstrap, 3),
        "warmup_messages": warm,
        "idle": {
            "cpu": idle,
            "ms_per_second": {
                part: round(idle[f"{part}_seconds"] * 1000.0 / idle_wall, 2)
                for part in ("consumer", *SERVERS)
                if f"{part}_seconds" in idle
            },
        },
        "paced": paced,
        "burst": burst,
    }


def _celery_variant(
    ctx: RunContext,
    params: HopParams,
    app: Celery,
    client: redis.Redis,
    server: Server,
    level: str,
    ack_emulation: bool = True,
) -> dict[str, Any]:
    client.delete(QUEUE)
    argv = ["-m", "bench.hop", "worker", "--queue", QUEUE, "--concurrency", str(params.worker_concurrency)]
    if not ack_emulation:
        if level != "INFO":
            raise ValueError("without ack emulation the drain check counts the worker's INFO lines")
        argv.append("--no-ack-emulation")
    name = f"hop worker {level}" + ("" if ack_emulation else " no-ack-emulation")
    worker = ctx.processes.spawn(name, argv, PENGADUAN_LOG_LEVEL=level)
    try:
        hop = celery_hop(app, client) if ack_emulation else celery_no_ack_hop(app, client, worker)
        figures = _variant(ctx, params, hop, worker, server)
    finally:
        ctx.processes.stop(worker)
        client.delete(QUEUE)
    return {
        "worker_log_level": level,
        "worker_concurrency": params.worker_concurrency,
        "ack_emulation": ack_emulation,
        **figures,
    }


def _raw_variant(
    ctx: RunContext, params: HopParams, client: redis.Redis, body: bytes, server: Server
) -> dict[str, Any]:
    client.delete(RAW_QUEUE)
    consumer = ctx.processes.spawn("hop raw consumer", ["-m", "bench.hop", "raw-consumer", "--queue", RAW_QUEUE])
    try:
        return _variant(ctx, params, raw_hop(client, body), consumer, server)
    finally:
        ctx.processes.stop(consumer)
        client.delete(RAW_QUEUE)


def _pg_variant(ctx: RunContext, params: HopParams, body: bytes) -> dict[str, Any]:
    """The PostgreSQL queue: this process publishes on one connection and looks on another (autocommit), the
    consumer takes on its own; all three backends are in the postmaster's family, so in the ``postgres`` part."""
    import psycopg

    from shared.db import libpq_url

    if ctx.postmaster_pid is None:
        return {"skipped": "PostgreSQL does not run on this machine: its CPU cannot be read"}
    url = libpq_url(ctx.servers.database_url)
    with (
        psycopg.connect(url, autocommit=False) as publisher,
        psycopg.connect(url, autocommit=True) as looks,
    ):
        server = postgres_server(looks, ctx.postmaster_pid)
        looks.execute(f"TRUNCATE {PG_TABLE}")
        consumer = ctx.processes.spawn(
            "hop pg consumer", ["-m", "bench.hop", "pg-consumer", "--poll-seconds", str(PG_POLL_SECONDS)]
        )
        try:
            figures = _variant(ctx, params, pg_hop(publisher, looks, body), consumer, server)
        finally:
            ctx.processes.stop(consumer)
            looks.execute(f"TRUNCATE {PG_TABLE}")
    return {
        "table": PG_TABLE,
        "payload": "bytea: the raw hop's bytes",
        "publish": PG_PUBLISH,
        "take": PG_TAKE,
        "poll_seconds": PG_POLL_SECONDS,
        "postgres_cpu_from": server.cpu_from,
        **figures,
    }


def _compare(
    ratios: dict[str, float | None], variants: dict[str, Any], a: str, b: str, total_key: str, part_key: str
) -> None:
    """``ratios[total_key]`` (paced; ``_burst``): variant a's total CPU per message over b's; ``<part>_<part_key>``
    part by part."""
    if "paced" not in variants.get(a, {}) or "paced" not in variants.get(b, {}):
        return
    for phase, suffix in (("paced", ""), ("burst", "_burst")):
        parts = part_ratios(variants[a][phase]["per_message_ms"], variants[b][phase]["per_message_ms"])
        ratios[f"{total_key}{suffix}"] = parts.pop("total")
        ratios.update({f"{part}_{part_key}{suffix}": value for part, value in parts.items()})


def run(ctx: RunContext, params: HopParams) -> dict[str, Any]:
    import redis

    from bench.environment import local_redis_pid
    from shared.celery_app import make_celery
    from shared.config import Settings

    url = ctx.servers.redis_url
    client = redis.Redis.from_url(url)
    rd = redis_server(client, url, local_redis_pid(url))
    settings = Settings(database_url=ctx.servers.database_url, redis_url=url, broker_url=None)
    app = make_celery(settings, "bench-hop")
    no_ack_app = without_ack_emulation(make_celery(settings, "bench-hop-no-ack"))
    try:
        client.delete(QUEUE, RAW_QUEUE)
        body = captured_body(app, client)
        variants = {"celery": _celery_variant(ctx, params, app, client, rd, "INFO")}
        variants["raw"] = _raw_variant(ctx, params, client, body, rd)
        if params.diagnostics:
            variants["celery_warning"] = _celery_variant(ctx, params, app, client, rd, "WARNING")
            variants["celery_no_ack_emulation"] = _celery_variant(
                ctx, params, no_ack_app, client, rd, "INFO", ack_emulation=False
            )
            variants["pg_queue"] = _pg_variant(ctx, params, body)
    finally:
        client.delete(QUEUE, RAW_QUEUE)
        client.close()
        app.close()
        no_ack_app.close()

    celery, raw = variants["celery"], variants["raw"]
    ratios: dict[str, float | None] = {}
    _compare(ratios, variants, "celery", "raw", "celery_hop_over_raw_hop", "celery_over_raw")
    _compare(
        ratios,
        variants,
        "celery_no_ack_emulation",
        "celery",
        "celery_no_ack_emulation_over_celery",
        "no_ack_over_celery",
    )
    _compare(
        ratios, variants, "celery_no_ack_emulation", "raw", "celery_no_ack_emulation_over_raw_hop", "no_ack_over_raw"
    )
    _compare(ratios, variants, "pg_queue", "raw", "pg_queue_over_raw_hop", "pg_queue_over_raw")
    _compare(ratios, variants, "pg_queue", "celery", "pg_queue_over_celery_hop", "pg_queue_over_celery")
    figures: dict[str, Any] = {
        "parameters": {
            **vars(params),
            "queue": QUEUE,
            "task": TASK,
            "load": "open loop from this process's main thread, then a burst; each until the queue is drained",
        },
        "message_body_bytes": len(body),
        "redis_cpu_from": rd.cpu_from,
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
    for name in ("celery_no_ack_emulation", "pg_queue"):
        if "paced" in variants.get(name, {}):
            log.info(
                "hop: %s %s ms CPU/message paced (publisher+consumer+server), %s in the burst",
                name, _split(variants[name]["paced"]["per_message_ms"]),
                _split(variants[name]["burst"]["per_message_ms"]),
            )  # fmt: skip
    return figures


def _split(ms: dict[str, Any]) -> str:
    """total (publisher+consumer+server), ms per message"""
    from bench.report import _fmt

    server = server_part(ms) or "redis"
    parts = "+".join(_fmt(ms.get(f"{part}_cpu_ms"), 2) for part in ("publisher", "consumer", server))
    return f"{_fmt(ms.get('total_cpu_ms'), 2)} ({parts})"


def table_rows(fig: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    """bench/report.py's table: CPU ms per message, Celery against the raw hop, paced and burst; then the
    diagnostic variants."""
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
    for name, label, base, base_label, key, other in (
        ("celery_no_ack_emulation", "Celery, no ack emulation", "celery", "Celery",
         "celery_no_ack_emulation_over_celery", "celery_no_ack_emulation_over_raw_hop"),
        ("pg_queue", "PostgreSQL queue (pub+consumer+pg)", "raw", "raw",
         "pg_queue_over_raw_hop", "pg_queue_over_celery_hop"),
    ):  # fmt: skip
        variant = variants.get(name)
        if variant is None:
            continue
        if "paced" not in variant:
            rows.append(("hop", label, "skipped", str(variant.get("skipped", ""))[:60], "", ""))
            continue
        for phase, suffix in (("paced", ""), ("burst", "_burst")):
            what = f"at {variant[phase]['rate_per_second']:g}/s" if phase == "paced" else "burst"
            rows.append(
                (
                    "hop",
                    f"CPU ms/message {what}, {label}",
                    _split(variant[phase]["per_message_ms"]),
                    f"{_split(variants[base][phase]['per_message_ms'])} {base_label}",
                    _fmt(ratios.get(f"{key}{suffix}"), 2),
                    f"{other.split('_over_')[1].removesuffix('_hop')}: {_fmt(ratios.get(f'{other}{suffix}'), 2)}",
                )
            )
    return rows


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(prog="python -m bench.hop", description="the hop benchmark's consumers")
    sub = parser.add_subparsers(dest="command", required=True)
    p = sub.add_parser("worker", help="a Celery worker as the product's, with one no-op task (hop.noop)")
    p.add_argument("--queue", default=QUEUE)
    p.add_argument("--concurrency", type=int, default=2)
    p.add_argument("--no-ack-emulation", action="store_true", help="kombu's Redis transport with ack_emulation off")
    p = sub.add_parser("raw-consumer", help="BRPOP + json.loads, nothing else")
    p.add_argument("--queue", default=RAW_QUEUE)
    p = sub.add_parser("pg-consumer", help=f"LISTEN, then one row per transaction out of {PG_TABLE}")
    p.add_argument("--poll-seconds", type=float, default=PG_POLL_SECONDS)
    args = parser.parse_args(argv)
    if args.command == "worker":
        worker_main(args.queue, args.concurrency, ack_emulation=not args.no_ack_emulation)
    elif args.command == "pg-consumer":
        pg_consumer_main(args.poll_seconds)
    else:
        raw_consumer_main(args.queue)


if __name__ == "__main__":
    main()
