"""Benchmark 5, ``notify``: notifications per second per notify process, and the acknowledgment's latency.

Both parts send to the local provider stand-ins, ``pengaduan devsinks`` (devtools/sinks/: an
aiosmtpd SMTP server and the HTTP SMS sink), started as a process and reached the way ``make run`` reaches
it (``PENGADUAN_SMTP_*``, ``PENGADUAN_SMS_PROVIDER=http``, ``PENGADUAN_SMS_URL``...; see
``pengaduan/supervisor.py`` ``_dev_channels``). Arrival times are the sink's ``received_at``. By default the
sinks run as ``python -m bench.notify sinks``: devsinks' own ``main`` with TCP_NODELAY set on each SMTP
connection, since the stock SMTP sink stalls ~40 ms per session (Nagle, see :func:`sinks_main`);
``--notify-stock-sinks`` runs ``pengaduan devsinks`` as it is.

1. ``throughput``: N rows in ``notify.deliveries`` (acknowledgments to complainants, rendered with the
   default templates by ``plan_message`` as ``notify.plan`` renders them, half e-mail, half SMS), then one
   ``pengaduan worker notify --concurrency C`` process gets one ``notify.send`` task per row (the task id
   of ``enqueue_send``). Messages per second = (N - 1) / (last - first arrival at the sinks).
   **Baseline, same run:** the same messages sent by the bare adapters (``SmtpChannel.send`` /
   ``HttpSmsChannel.send``) from C threads of this process: no database, no broker, no claim, no report.
   Measured before and after the worker's run; the baseline is the mean of the two.
   Ratio: ``throughput_notify_over_raw``.
2. ``latency``: the intake API, the relay, a workflow worker and the notify worker, complaints submitted
   over HTTP open-loop at ``rate``/s (channel ``web``, with an e-mail address: the acknowledgment goes by
   e-mail). Latency per complaint = the SMTP sink's ``received_at`` of its acknowledgment minus
   ``workflow.events.recorded_at`` of its ``workflow.ComplaintReceived``. **Baseline, same run, same
   complaints:** ``recorded_at - intake.submissions.received_at``, the asynchronous hop in front of it
   (relay, Redis, Celery, a worker's transaction), which notify's path repeats twice (relay -> notify.plan,
   then notify.send) plus an SMTP transaction. Ratio: ``ack_p50_over_received_p50`` (and p99).
"""

from __future__ import annotations

import json
import logging
import os
import re
import threading
import time
import uuid
from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import httpx
import redis
from sqlalchemy import Engine, create_engine, insert, text

from bench.cpu import CpuMeter, per_unit_ms
from bench.environment import RunContext
from bench.loadgen import OpenLoopResult, body_factory, http_summary, open_loop, run_async
from bench.processes import Child
from bench.stats import latency_summary_ms, ratio
from shared.contracts.intake import ComplaintSubmitted
from shared.embedded import free_port

log = logging.getLogger("bench.notify")

NOTIFY_QUEUE = "notify"
WORKFLOW_QUEUE = "workflow"
EMAIL = "siti@example.id"
PHONE = "+6281234567890"
PUBLIC_BASE_URL = "https://pengaduan.example.id"
SEND_TASK_LOG = re.compile(r"Task notify\.send\[(?P<id>[^\]]+)\] succeeded in (?P<runtime>[0-9.eE+-]+)s")


@dataclass(frozen=True)
class NotifyParams:
    # throughput
    messages: int = 1000  # rows sent by the worker; the raw baseline sends the same messages (half before, half after)
    warmup_messages: int = 40  # sent by the worker first, so that each of its children has started
    email_share: float = 0.5  # the rest goes by SMS
    worker_concurrency: int = 4  # pengaduan worker notify --concurrency; the raw baseline's thread count
    send_timeout: float = 180.0
    # latency
    rate: float = 50.0
    seconds: float = 60.0
    warmup_seconds: float = 2.0
    arrival_timeout: float = 120.0
    backlog_timeout: float = 300.0
    workflow_concurrency: int = 2
    relay_poll_interval: float = 0.2
    # the sinks: with TCP_NODELAY on the SMTP sink's connections (see sinks_main), or `pengaduan devsinks` as is
    stock_sinks: bool = False


# ---------------------------------------------------------------------------------------------------
# helpers


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def _rate(times: list[float]) -> float | None:
    """(n - 1) / (last - first): arrivals per second between the first and the last arrival."""
    if len(times) < 2:
        return None
    span = max(times) - min(times)
    return round((len(times) - 1) / span, 2) if span > 0 else None


def _sink_messages(http_url: str) -> list[dict[str, Any]]:
    response = httpx.get(f"{http_url}/dev/outbox/messages", timeout=60.0, trust_env=False)
    response.raise_for_status()
    return response.json()


def _clear_sinks(http_url: str) -> None:
    httpx.delete(f"{http_url}/dev/outbox/messages", timeout=30.0, trust_env=False).raise_for_status()


def _purge_queue(redis_url: str, queue: str) -> int:
    """Drop the messages waiting in a queue (kombu's purge, so priority sub-queues are included)."""
    from celery import Celery

    app = Celery("bench-purge", broker=redis_url, set_as_current=False)
    with app.connection_for_write() as conn:
        return int(conn.default_channel.queue_purge(queue) or 0)


def _drop_tasks(redis_url: str, queue: str, task_ids: set[str]) -> int:
    """Remove the waiting messages of ``queue`` whose task id is in ``task_ids``; returns how many."""
    client = redis.Redis.from_url(redis_url)
    dropped = 0
    try:
        for raw in client.lrange(queue, 0, -1):
            try:
                task_id = json.loads(raw).get("headers", {}).get("id")
            except (ValueError, AttributeError):
                continue
            if task_id in task_ids:
                dropped += int(client.lrem(queue, 0, raw))
    finally:
        client.close()
    return dropped


def channel_env(smtp_port: int, http_url: str, data_dir: Path) -> dict[str, str]:
    """What ``_dev_channels`` sets for ``make run``: every adapter pointed at the sinks."""
    return {
        "PENGADUAN_SMTP_HOST": "127.0.0.1",
        "PENGADUAN_SMTP_PORT": str(smtp_port),
        "PENGADUAN_SMS_PROVIDER": "http",
        "PENGADUAN_SMS_URL": f"{http_url}/sms/send",
        "PENGADUAN_SMS_STATUS_URL": f"{http_url}/sms/status/{{reference}}",
        "PENGADUAN_WHATSAPP_API_URL": f"{http_url}/whatsapp",
        "PENGADUAN_WHATSAPP_TOKEN": "dev-token",
        "PENGADUAN_WHATSAPP_PHONE_NUMBER_ID": "100200300",
        "PENGADUAN_PUBLIC_BASE_URL": PUBLIC_BASE_URL,
        "PENGADUAN_DATA_DIR": str(data_dir),
    }


def _send_runtimes(log_path: Path, task_ids: set[str]) -> list[float]:
    """The worker's own runtime of each ``notify.send`` task (Celery logs it at INFO on success)."""
    found: list[float] = []
    try:
        lines = log_path.read_text(errors="replace").splitlines()
    except OSError:
        return found
    for line in lines:
        if "succeeded in" not in line:
            continue
        task_id = runtime = None
        try:
            record = json.loads(line)
            data = record.get("data") if isinstance(record, dict) else None
            if isinstance(data, dict) and data.get("name") == "notify.send":
                task_id, runtime = data.get("id"), data.get("runtime")
            if task_id is None and isinstance(record, dict):
                line = str(record.get("message", ""))
        except ValueError:
            pass
        if task_id is None:
            match = SEND_TASK_LOG.search(line)
            if match:
                task_id, runtime = match["id"], match["runtime"]
        if task_id in task_ids and runtime is not None:
            found.append(float(runtime))
    return found


# ---------------------------------------------------------------------------------------------------
# the sinks


def sinks_main(argv: list[str]) -> int:
    """``python -m bench.notify sinks --smtp-port P --http-port Q``: ``pengaduan devsinks`` (its ``main``,
    unchanged) with TCP_NODELAY on each SMTP connection.

    devsinks binds its SMTP socket itself (``socket.create_server``: ``proto`` 0), so asyncio's
    ``_set_nodelay``, which only touches sockets whose ``proto`` is IPPROTO_TCP, leaves Nagle's algorithm
    on. aiosmtpd writes its multi-line EHLO answer one line at a time, the second line waits for the
    client's delayed ACK, and every SMTP session then stalls about 40 ms at EHLO with no CPU spent. A real
    SMTP server does not; the benchmark would measure that stall instead of notify."""
    import socket

    from aiosmtpd.smtp import SMTP

    made = SMTP.connection_made

    def connection_made(self, transport):  # type: ignore[no-untyped-def]
        sock = transport.get_extra_info("socket")
        if sock is not None:
            try:  # noqa: SIM105
                sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
            except OSError:
                pass
        return made(self, transport)

    SMTP.connection_made = connection_made  # type: ignore[method-assign]
    from devtools.sinks import main as devsinks_main

    return devsinks_main(argv)


def start_sinks(ctx: RunContext, params: NotifyParams, smtp_port: int, http_port: int) -> Child:
    ports = ("--smtp-port", str(smtp_port), "--http-port", str(http_port))
    if params.stock_sinks:
        return ctx.processes.spawn_cli("devsinks", "devsinks", *ports)
    return ctx.processes.spawn("devsinks", ["-m", "bench.notify", "sinks", *ports])


def probe_smtp(port: int, sessions: int = 20) -> dict[str, Any]:
    """What one bare SMTP session costs at the sink (smtplib, a 3-line message, no MIME building), and its
    EHLO alone: tells a sink-side stall (Nagle) from notify's own cost."""
    import smtplib

    whole, ehlo = [], []
    for _ in range(sessions):
        t0 = time.perf_counter()
        client = smtplib.SMTP("127.0.0.1", port, local_hostname="bench.localhost", timeout=10)
        t1 = time.perf_counter()
        client.ehlo()
        ehlo.append(time.perf_counter() - t1)
        client.sendmail("bench@localhost", [EMAIL], b"Subject: probe\r\n\r\nprobe\r\n")
        client.quit()
        whole.append(time.perf_counter() - t0)
    return {"session": latency_summary_ms(whole), "ehlo": latency_summary_ms(ehlo)}


# ---------------------------------------------------------------------------------------------------
# part 1: throughput


@dataclass(frozen=True)
class Prepared:
    row: dict[str, Any]  # a notify.deliveries row

    @property
    def id(self) -> uuid.UUID:
        return self.row["id"]


def prepare_rows(count: int, email_share: float) -> list[Prepared]:
    """Acknowledgments as ``notify.plan`` makes them (``plan_message`` with the default templates), one
    complaint each, e-mail and SMS interleaved in the proportion asked for."""
    from services.notify.domain import plan as p
    from services.notify.domain.templates import DEFAULTS
    from shared.contracts.tracking import new_tracking_code

    now = datetime.now(UTC)
    prepared = []
    for i in range(count):
        email = int((i + 1) * email_share) > int(i * email_share)  # e.g. 0.5: every other row
        contact = p.Contact("email", EMAIL) if email else p.Contact("sms", PHONE)
        code = new_tracking_code(os.urandom(7))
        event_id, complaint_id = uuid.uuid4(), uuid.uuid4()
        variables = {
            "nama": "Siti Aminah",
            "kode": code,
            "kecamatan": "Pegantenan",
            "link_lacak": f"{PUBLIC_BASE_URL}/v1/track/{code}",
            "tanggal": p.tanggal(now, with_time=True),
            "link_tanda_terima": f"{PUBLIC_BASE_URL}/v1/letters/track/{code}/receipt",
            "rahasia": "",  # not a pelapor rahasia (planning passes it for every acknowledgment)
        }
        m = p.plan_message(
            event_id, "acknowledgment", "complainant", contact, DEFAULTS[("acknowledgment", contact.channel)], variables
        )
        prepared.append(
            Prepared(
                {
                    "id": m.id,
                    "source_event_id": event_id,
                    "complaint_id": complaint_id,
                    "kecamatan": "pegantenan",
                    "kind": m.kind,
                    "audience": m.audience,
                    "username": None,
                    "channel": m.channel,
                    "recipient": m.recipient,
                    "subject": m.subject,
                    "body": m.body,
                    "attachment": None,
                    "link": m.link,
                    "variables": m.variables,
                    # as handlers._store writes a new row: due now (send_delivery skips a row whose next_attempt_at is
                    # still ahead: a backoff), and enqueued now
                    "state": "pending",
                    "next_attempt_at": now,
                    "enqueued_at": now,
                    "created_at": now,
                    "updated_at": now,
                }
            )
        )
    return prepared


def insert_rows(engine: Engine, prepared: list[Prepared]) -> None:
    from services.notify.adapters.tables import deliveries

    columns = set(deliveries.c.keys())  # only what the table has (a column dropped later is left out)
    rows = [{k: v for k, v in p.row.items() if k in columns} for p in prepared]
    with engine.begin() as conn:
        for start in range(0, len(rows), 500):
            conn.execute(insert(deliveries), rows[start : start + 500])


def raw_adapter_run(prepared: list[Prepared], env: dict[str, str], threads: int, http_url: str) -> dict[str, Any]:
    """The baseline: the same messages through the bare adapters, ``threads`` threads in this process."""
    from services.notify.adapters.channels.base import OutboundMessage
    from services.notify.adapters.channels.http_sms import HttpSmsChannel
    from services.notify.adapters.channels.settings import ChannelSettings
    from services.notify.adapters.channels.smtp import SmtpChannel

    settings = ChannelSettings(
        **{
            k.removeprefix("PENGADUAN_").lower(): v
            for k, v in env.items()
            if k.startswith(("PENGADUAN_SMTP_", "PENGADUAN_SMS_"))
        }
    )
    channels = {"email": SmtpChannel(settings), "sms": HttpSmsChannel(settings)}
    messages = [
        OutboundMessage(
            channel=p.row["channel"],
            to=p.row["recipient"],
            text=p.row["body"],
            reference=uuid.uuid4().hex,
            subject=p.row["subject"],
        )
        for p in prepared
    ]
    references = {m.reference for m in messages}
    lock = threading.Lock()
    todo = iter(messages)
    call_times: list[float] = []
    errors: list[str] = []

    def worker() -> None:
        while True:
            with lock:
                message = next(todo, None)
            if message is None:
                return
            started = time.perf_counter()
            try:
                channels[message.channel].send(message)
            except Exception as exc:  # counted, reported; the run goes on
                with lock:
                    errors.append(f"{type(exc).__name__}: {exc}")
                continue
            elapsed = time.perf_counter() - started
            with lock:
                call_times.append(elapsed)

    meter = CpuMeter()
    meter.add_self("senders")
    began = time.perf_counter()
    meter.start()
    pool = [threading.Thread(target=worker, name=f"bench-raw-{i}", daemon=True) for i in range(threads)]
    for t in pool:
        t.start()
    for t in pool:
        t.join()
    wall = time.perf_counter() - began
    cpu = meter.stop()
    arrivals = [_epoch(m["received_at"]) for m in _sink_messages(http_url) if m.get("reference") in references]
    _clear_sinks(http_url)
    return {
        "messages": len(messages),
        "arrived": len(arrivals),
        "errors": len(errors),
        "error_examples": errors[:3],
        "per_second": _rate(arrivals),
        "per_second_client_wall": round(len(call_times) / wall, 2) if wall > 0 else None,
        "wall_seconds": round(wall, 3),
        "per_message": latency_summary_ms(call_times),
        # close to 1.0: the threads were bound by this process's GIL (one core), not by the sinks
        "senders_core_utilisation": (
            round(cpu["senders_seconds"] / cpu["wall_seconds"], 3) if cpu["wall_seconds"] else None
        ),
        "cpu": cpu,
        "cpu_per_message": per_unit_ms(cpu, len(messages)),
    }


_STATES = text("SELECT state, count(*) FROM notify.deliveries WHERE id = ANY(:ids) GROUP BY state")


def _states(engine: Engine, ids: list[uuid.UUID]) -> dict[str, int]:
    with engine.connect() as conn:
        return dict(conn.execute(_STATES, {"ids": ids}).all())


def wait_sent(
    engine: Engine, ids: list[uuid.UUID], ctx: RunContext, children: Iterable[Child], timeout: float
) -> dict[str, int]:
    """Poll until every row is in an end state (sent, failed, unknown...), or timeout."""
    began = time.monotonic()
    while True:
        states = _states(engine, ids)
        ended = sum(n for s, n in states.items() if s not in ("pending", "sending"))
        if ended >= len(ids) or time.monotonic() - began > timeout:
            return states
        ctx.processes.check_alive(*children)
        time.sleep(0.2)


def _dead_letters(engine: Engine, limit: int = 5) -> list[str]:
    """The notify worker's latest dead letters (``consume`` keeps them without logging the error)."""
    with engine.connect() as conn:
        return [
            f"{task}: {error}"
            for task, error in conn.execute(
                text("SELECT task, error FROM notify.dead_letters ORDER BY failed_at DESC LIMIT :n"), {"n": limit}
            )
        ]


def _enqueue(celery, ids: Iterable[uuid.UUID]) -> None:
    from services.notify.handlers.sending import SEND_TASK

    for delivery_id in ids:  # exactly what handlers.sending.enqueue_send publishes (first attempt)
        celery.send_task(
            SEND_TASK,
            args=[{"delivery_id": str(delivery_id)}],
            queue=NOTIFY_QUEUE,
            task_id=f"notify-send:{delivery_id}:0",
        )


def _report_task_ids(ids: Iterable[uuid.UUID]) -> set[str]:
    """The task ids of the NotificationReports the worker sends for these rows once sent (handlers.reports.report)."""
    from services.notify.domain.delivery import REPORT_NAMESPACE

    return {f"notification-report:{uuid.uuid5(REPORT_NAMESPACE, f'{i}:sent')}" for i in ids}


def throughput(
    ctx: RunContext, params: NotifyParams, env: dict[str, str], http_url: str, sinks: Child, engine: Engine
) -> tuple[dict[str, Any], Child]:
    """Raw adapters, the notify worker, raw adapters again. Returns the figures and the running worker."""
    n, c = params.messages, params.worker_concurrency
    prepared = prepare_rows(params.warmup_messages + n, params.email_share)
    warm, measured = prepared[: params.warmup_messages], prepared[params.warmup_messages :]
    insert_rows(engine, prepared)
    mix = {ch: sum(1 for p in measured if p.row["channel"] == ch) for ch in ("email", "sms")}

    half = max(2, n // 2)
    log.info("notify raw adapters: %d messages, %d threads", half, c)
    raw_before = raw_adapter_run(measured[:half], env, c, http_url)
    log.info("notify raw adapters: %s messages/s", raw_before["per_second"])

    worker = ctx.processes.spawn_cli("worker notify", "worker", "notify", "--concurrency", str(c), **env)
    try:
        figures = _throughput_with(
            ctx, params, env, http_url, sinks, engine, worker, prepared, warm, measured, raw_before, mix
        )
    except BaseException:
        ctx.processes.stop(worker)  # not left running into the next benchmark
        raise
    return figures, worker


def _throughput_with(
    ctx: RunContext,
    params: NotifyParams,
    env: dict[str, str],
    http_url: str,
    sinks: Child,
    engine: Engine,
    worker: Child,
    prepared: list[Prepared],
    warm: list[Prepared],
    measured: list[Prepared],
    raw_before: dict[str, Any],
    mix: dict[str, int],
) -> dict[str, Any]:
    from shared.celery_app import make_celery
    from shared.config import Settings

    n, c = params.messages, params.worker_concurrency
    half = max(2, n // 2)
    celery = make_celery(Settings(database_url=ctx.servers.database_url, redis_url=ctx.servers.redis_url), "bench")
    try:
        began = time.monotonic()
        _enqueue(celery, [p.id for p in warm])  # also: the worker is up once these are sent
        states = wait_sent(engine, [p.id for p in warm], ctx, [worker, sinks], params.send_timeout)
        if states.get("sent", 0) < len(warm):
            raise RuntimeError(
                f"warm-up sends did not all succeed: {states}; dead letters: {_dead_letters(engine)}\n"
                f"--- worker ---\n{worker.tail()}"
            )
        worker_ready_seconds = time.monotonic() - began
        _clear_sinks(http_url)

        meter = CpuMeter()
        meter.add_self("bench")
        meter.add_process_tree("worker", worker.pid)
        meter.add_process_tree("devsinks", sinks.pid)
        meter.add_process_tree("postgres", ctx.postmaster_pid)
        ids = [p.id for p in measured]
        meter.start()
        t0 = time.perf_counter()
        _enqueue(celery, ids)
        enqueue_seconds = time.perf_counter() - t0
        states = wait_sent(engine, ids, ctx, [worker, sinks], params.send_timeout)
        cpu = meter.stop()
    finally:
        celery.close()
    references = {p.id.hex for p in measured}
    arrivals = [_epoch(m["received_at"]) for m in _sink_messages(http_url) if m.get("reference") in references]
    _clear_sinks(http_url)
    with engine.connect() as conn:
        sent_at = [
            r[0]
            for r in conn.execute(
                text(
                    "SELECT EXTRACT(EPOCH FROM sent_at)::float8 FROM notify.deliveries WHERE id = ANY(:ids) AND sent_at IS NOT NULL"
                ),
                {"ids": ids},
            )
        ]
    runtimes = _send_runtimes(worker.log_path, {f"notify-send:{i}:0" for i in ids})
    # the worker reported every sent row to the workflow (queue "workflow"): no workflow worker runs now, and
    # these complaints exist nowhere, so their reports are removed before the latency part starts one
    dropped = _drop_tasks(ctx.servers.redis_url, WORKFLOW_QUEUE, _report_task_ids(p.id for p in prepared))

    log.info("notify raw adapters (again): %d messages", n - half)
    raw_after = raw_adapter_run(measured[half:] or measured[:half], env, c, http_url)
    raws = [r["per_second"] for r in (raw_before, raw_after) if r["per_second"]]
    raw_rate = round(sum(raws) / len(raws), 2) if raws else None
    notify_rate = _rate(arrivals)
    raw_p50s = [r["per_message"]["p50_ms"] for r in (raw_before, raw_after) if r["per_message"]["p50_ms"] is not None]
    raw_p50 = round(sum(raw_p50s) / len(raw_p50s), 3) if raw_p50s else None
    runtime_summary = latency_summary_ms(runtimes)
    figures = {
        "messages": n,
        "mix": mix,
        "worker_concurrency": c,
        "states": states,
        "arrived": len(arrivals),
        "missing": n - len(arrivals),
        "notify": {
            "per_second": notify_rate,
            "per_second_by_sent_at": _rate(sent_at),
            "enqueue_seconds": round(enqueue_seconds, 3),
            "worker_ready_seconds": round(worker_ready_seconds, 3),
            "send_task_runtime": runtime_summary,  # Celery's runtime of each notify.send, in the worker child
            "cpu": cpu,
            "cpu_per_message": per_unit_ms(cpu, n),
        },
        "raw_before": raw_before,
        "raw_after": raw_after,
        "raw_per_second": raw_rate,
        "raw_per_message_p50_ms": raw_p50,
        "report_tasks_removed_from_workflow_queue": dropped,
        "ratios": {
            "throughput_notify_over_raw": ratio(notify_rate, raw_rate),
            "per_message_p50_notify_over_raw": ratio(runtime_summary["p50_ms"], raw_p50),
        },
    }
    log.info(
        "notify throughput %s messages/s (raw %s), task p50 %s ms (raw call %s ms)",
        notify_rate,
        raw_rate,
        runtime_summary["p50_ms"],
        raw_p50,
    )
    return figures


# ---------------------------------------------------------------------------------------------------
# part 2: latency of the acknowledgment


_ACKS = text(
    """
    SELECT s.tracking_code,
           d.id AS delivery_id, d.state,
           EXTRACT(EPOCH FROM s.received_at)::float8 AS submitted,
           EXTRACT(EPOCH FROM e.recorded_at)::float8 AS recorded,
           EXTRACT(EPOCH FROM d.created_at)::float8 AS planned,
           EXTRACT(EPOCH FROM d.sent_at)::float8 AS sent,
           EXTRACT(EPOCH FROM o.published_at)::float8 AS outbox_published,
           EXTRACT(EPOCH FROM h.published_at)::float8 AS relayed
    FROM intake.submissions s
    LEFT JOIN workflow.events e
           ON e.stream_id = 'complaint-' || s.complaint_id::text AND e.type = 'workflow.ComplaintReceived'
    LEFT JOIN notify.deliveries d
           ON d.complaint_id = s.complaint_id AND d.kind = 'acknowledgment'
    LEFT JOIN intake.outbox o
           ON o.message_type = :submitted_type AND o.payload->>'complaint_id' = s.complaint_id::text
    LEFT JOIN workflow.handoffs h
           ON h.consumer = 'notify.plan' AND h.message_id = e.event_id
    WHERE s.tracking_code = ANY(:codes)
    """
)
_ACKS_ENDED = text(
    """
    SELECT count(*) FROM intake.submissions s
    JOIN notify.deliveries d ON d.complaint_id = s.complaint_id AND d.kind = 'acknowledgment'
    WHERE s.tracking_code = ANY(:codes) AND d.state NOT IN ('pending', 'sending')
    """
)


def _codes(result: OpenLoopResult) -> list[str]:
    return [r.tracking_code for r in result.responses if r.tracking_code]


def wait_for_acks(
    engine: Engine, codes: list[str], ctx: RunContext, children: list[Child], timeout: float
) -> tuple[int, float]:
    """Until every complaint's acknowledgment row is in an end state (sent: it reached the SMTP sink)."""
    began = time.monotonic()
    while True:
        with engine.connect() as conn:
            ended = conn.execute(_ACKS_ENDED, {"codes": codes}).scalar_one()
        if ended >= len(codes) or time.monotonic() - began > timeout:
            return ended, time.monotonic() - began
        ctx.processes.check_alive(*children)
        time.sleep(0.2)


def wait_for_backlog(engine: Engine, redis_url: str, ctx: RunContext, children: list[Child], timeout: float) -> float:
    """Older work first: unpublished outbox rows (e.g. an intake benchmark's, on a reused database), queued
    workflow and notify messages. Returns the seconds it took."""
    client = redis.Redis.from_url(redis_url)
    began = time.monotonic()
    quiet = 0
    try:
        while True:
            ctx.processes.check_alive(*children)
            with engine.connect() as conn:
                unpublished = conn.execute(
                    text("SELECT count(*) FROM intake.outbox WHERE published_at IS NULL")
                ).scalar_one()
            queued = client.llen(WORKFLOW_QUEUE) + client.llen(NOTIFY_QUEUE)
            quiet = quiet + 1 if unpublished == 0 and queued == 0 else 0
            if quiet >= 2:
                return time.monotonic() - began
            if time.monotonic() - began > timeout:
                raise TimeoutError(f"backlog not drained after {timeout}s: {unpublished} unpublished, {queued} queued")
            time.sleep(0.5)
    finally:
        client.close()


def latency(
    ctx: RunContext,
    params: NotifyParams,
    env: dict[str, str],
    http_url: str,
    sinks: Child,
    worker: Child,
    engine: Engine,
) -> dict[str, Any]:
    procs = ctx.processes
    port = free_port()
    api = procs.spawn_cli("api intake", "api", "intake", "--port", str(port), **env)
    relay = procs.spawn_cli("relay", "relay", PENGADUAN_RELAY_POLL_INTERVAL=str(params.relay_poll_interval), **env)
    wf = procs.spawn_cli(
        "worker workflow", "worker", "workflow", "--concurrency", str(params.workflow_concurrency), **env
    )
    children = [api, relay, wf, worker, sinks]
    try:
        procs.wait_http_ok(api, f"http://127.0.0.1:{port}/healthz")
        url = f"http://127.0.0.1:{port}/v1/complaints"
        backlog_seconds = wait_for_backlog(engine, ctx.servers.redis_url, ctx, children, params.backlog_timeout)

        make_body = body_factory()
        warm = run_async(open_loop(url, params.rate, params.warmup_seconds, make_body))
        warm_codes = _codes(warm)
        warm_ended, _ = wait_for_acks(engine, warm_codes, ctx, children, params.arrival_timeout)
        if warm_ended < len(warm_codes):
            raise RuntimeError(
                f"warm-up: only {warm_ended}/{len(warm_codes)} acknowledgments sent\n"
                f"--- notify worker ---\n{worker.tail()}\n--- workflow worker ---\n{wf.tail()}"
            )
        _clear_sinks(http_url)

        meter = CpuMeter()
        meter.add_self("loadgen")
        meter.add_process_tree("api", api.pid)
        meter.add_process_tree("relay", relay.pid)
        meter.add_process_tree("workflow_worker", wf.pid)
        meter.add_process_tree("notify_worker", worker.pid)
        meter.add_process_tree("devsinks", sinks.pid)
        meter.add_process_tree("postgres", ctx.postmaster_pid)
        meter.start()
        sent = run_async(open_loop(url, params.rate, params.seconds, make_body, start_index=len(warm.responses)))
        codes = _codes(sent)
        _ended, drain_seconds = wait_for_acks(engine, codes, ctx, children, params.arrival_timeout)
        cpu = meter.stop()
        with engine.connect() as conn:
            rows = conn.execute(_ACKS, {"codes": codes, "submitted_type": ComplaintSubmitted.type}).mappings().all()
        messages = _sink_messages(http_url)
    finally:
        procs.stop(api, relay, wf)

    by_reference: dict[str, list[dict[str, Any]]] = {}
    for m in messages:
        if m.get("channel") == "email" and m.get("reference"):
            by_reference.setdefault(m["reference"], []).append(m)
    ack, upstream, to_planned, planned_to_arrival, sent_after_arrival = [], [], [], [], []
    # the path in front of notify.plan, split where a timestamp says when (no scheduler runs: the ledgers stay)
    to_outbox_published, outbox_to_recorded, recorded_to_relayed, relayed_to_planned = [], [], [], []
    ack_in_order: list[tuple[float, float]] = []  # (submitted, latency): did the pipeline keep up?
    whole: list[float] = []  # submission accepted -> acknowledgment at the sink
    arrival_times: list[float] = []
    arrived = duplicates = code_not_in_subject = 0
    states: dict[str, int] = {}
    for r in rows:
        states[r["state"] or "none"] = states.get(r["state"] or "none", 0) + 1
        if r["recorded"] is not None and r["submitted"] is not None:
            upstream.append(r["recorded"] - r["submitted"])
        if r["outbox_published"] is not None and r["submitted"] is not None:
            to_outbox_published.append(r["outbox_published"] - r["submitted"])
            if r["recorded"] is not None:
                outbox_to_recorded.append(r["recorded"] - r["outbox_published"])
        if r["relayed"] is not None and r["recorded"] is not None:
            recorded_to_relayed.append(r["relayed"] - r["recorded"])
            if r["planned"] is not None:
                relayed_to_planned.append(r["planned"] - r["relayed"])
        got = by_reference.get(r["delivery_id"].hex) if r["delivery_id"] else None
        if not got:
            continue
        arrived += 1
        duplicates += len(got) - 1
        first = min(got, key=lambda m: m["received_at"])
        if r["tracking_code"] not in (first.get("subject") or "") + (first.get("text") or ""):
            code_not_in_subject += 1
        at = _epoch(first["received_at"])
        arrival_times.append(at)
        if r["submitted"] is not None:
            whole.append(at - r["submitted"])
        if r["recorded"] is not None:
            ack.append(at - r["recorded"])
            ack_in_order.append((r["submitted"], at - r["recorded"]))
        if r["planned"] is not None:
            planned_to_arrival.append(at - r["planned"])
            if r["recorded"] is not None:
                to_planned.append(r["planned"] - r["recorded"])
        if r["sent"] is not None:
            sent_after_arrival.append(r["sent"] - at)
    ack_summary, upstream_summary = latency_summary_ms(ack), latency_summary_ms(upstream)
    ack_in_order.sort()
    quarter = max(1, len(ack_in_order) // 4)
    quarters = [ack_in_order[i * quarter : (i + 1) * quarter if i < 3 else None] for i in range(4)]
    by_quarter = [latency_summary_ms([x for _, x in q])["p50_ms"] for q in quarters] if len(ack_in_order) >= 4 else []
    ack_rate = _rate(arrival_times)
    kept_up = bool(ack_rate and sent.achieved_rate and ack_rate >= 0.9 * sent.achieved_rate)
    http = http_summary(sent.responses, sent.last_send - sent.first_send)
    figures = {
        "rate_per_second": params.rate,
        "seconds": params.seconds,
        "submitted": len(sent.responses),
        "accepted": len(codes),
        "acknowledgments_arrived": arrived,
        "acknowledgments_missing": len(codes) - arrived,
        "duplicate_acknowledgments": duplicates,
        "tracking_code_not_in_message": code_not_in_subject,
        "delivery_states": states,
        "achieved_send_rate": round(sent.achieved_rate, 2) if sent.achieved_rate else None,
        "send_lateness": latency_summary_ms([r.lateness for r in sent.responses]),
        "wait_after_last_send_seconds": round(drain_seconds, 3),
        "backlog_drained_seconds": round(backlog_seconds, 3),
        "warmup_complaints": len(warm_codes),
        "acknowledgment_latency": ack_summary,  # ComplaintReceived recorded -> e-mail at the SMTP sink
        "received_latency": upstream_summary,  # baseline: submission received -> ComplaintReceived recorded
        # what the complainant waits: their submission accepted -> the acknowledgment at the SMTP sink (the two above)
        "submission_to_acknowledgment": latency_summary_ms(whole),
        # acknowledgments per second at the SMTP sink, first to last: below the send rate, the complaints came
        # faster than notify sent their acknowledgments, a backlog grew all along and the latency figures
        # grow with the length of the run (see the quarters: p50 per quarter of the complaints, in order)
        "acknowledgments_per_second": ack_rate,
        "kept_up": kept_up,
        "acknowledgment_p50_ms_by_quarter": by_quarter,
        "stages": {
            # before ComplaintReceived: intake's outbox publisher (in the relay process), then the workflow queue and
            # worker; after it: the relay's notify-messages dispatcher (its round's start, the ledger's published_at),
            # then the notify queue and notify.plan up to its insert
            "received_to_outbox_published": latency_summary_ms(to_outbox_published),
            "outbox_published_to_recorded": latency_summary_ms(outbox_to_recorded),
            "recorded_to_relayed": latency_summary_ms(recorded_to_relayed),
            "relayed_to_planned": latency_summary_ms(relayed_to_planned),
            "recorded_to_planned": latency_summary_ms(to_planned),  # relay, Redis, notify.plan up to its insert
            "planned_to_smtp_arrival": latency_summary_ms(planned_to_arrival),  # commit, enqueue, notify.send, SMTP
            "smtp_arrival_to_sent_at": latency_summary_ms(sent_after_arrival),  # the rest of the SMTP session
        },
        "intake_http": http,
        "cpu": cpu,
        "cpu_per_complaint": per_unit_ms(cpu, len(codes)),
        "ratios": {
            "ack_p50_over_received_p50": ratio(ack_summary["p50_ms"], upstream_summary["p50_ms"]),
            "ack_p99_over_received_p99": ratio(ack_summary["p99_ms"], upstream_summary["p99_ms"]),
        },
    }
    log.info(
        "notify acknowledgments %d/%d arrived  p50 %s ms  p99 %s ms (ComplaintReceived: p50 %s ms, p99 %s ms)",
        arrived,
        len(codes),
        ack_summary["p50_ms"],
        ack_summary["p99_ms"],
        upstream_summary["p50_ms"],
        upstream_summary["p99_ms"],
    )
    return figures


# ---------------------------------------------------------------------------------------------------


def run(ctx: RunContext, params: NotifyParams) -> dict[str, Any]:
    procs = ctx.processes
    data_dir = procs.log_dir.parent / "notify-data"
    data_dir.mkdir(parents=True, exist_ok=True)
    smtp_port, http_port = free_port(), free_port()
    http_url = f"http://127.0.0.1:{http_port}"
    env = channel_env(smtp_port, http_url, data_dir)
    # earlier benchmarks' relay published notify.plan tasks for their complaints (e2e: one per complaint),
    # which no notify worker consumed: they would be this benchmark's backlog
    stale = _purge_queue(ctx.servers.redis_url, NOTIFY_QUEUE)
    sinks = start_sinks(ctx, params, smtp_port, http_port)
    engine = create_engine(ctx.servers.database_url, pool_size=2)
    worker: Child | None = None
    try:
        procs.wait_http_ok(sinks, f"{http_url}/dev/outbox/attempts")
        probe = probe_smtp(smtp_port)
        _clear_sinks(http_url)
        log.info(
            "notify sinks: bare SMTP session p50 %s ms (EHLO %s ms)",
            probe["session"]["p50_ms"],
            probe["ehlo"]["p50_ms"],
        )
        tp, worker = throughput(ctx, params, env, http_url, sinks, engine)
        lat = latency(ctx, params, env, http_url, sinks, worker, engine)
    finally:
        procs.stop(*[c for c in (worker, sinks) if c is not None])
        engine.dispose()
    return {
        "parameters": {
            "throughput_messages": params.messages,
            "throughput_warmup_messages": params.warmup_messages,
            "email_share": params.email_share,
            "worker_concurrency": params.worker_concurrency,
            "rate_per_second": params.rate,
            "seconds": params.seconds,
            "warmup_seconds": params.warmup_seconds,
            "workflow_concurrency": params.workflow_concurrency,
            "relay_poll_interval": params.relay_poll_interval,
            "sinks": "pengaduan devsinks as is"
            if params.stock_sinks
            else "pengaduan devsinks' main with TCP_NODELAY on SMTP connections (python -m bench.notify sinks)",
        },
        "sinks_probe": probe,
        "stale_notify_tasks_purged": stale,
        "throughput": tp,
        "latency": lat,
        "ratios": {**tp["ratios"], **lat["ratios"]},
    }


# ---------------------------------------------------------------------------------------------------
# the table (bench/report.py's six columns)


def table_rows(fig: dict[str, Any]) -> list[tuple[str, str, str, str, str, str]]:
    from bench.report import _fmt

    if "throughput" not in fig:
        return [("notify", "failed", str(fig.get("error", ""))[:60], "", "", "")]
    tp, lat = fig["throughput"], fig["latency"]
    c = tp["worker_concurrency"]
    task = tp["notify"]["send_task_runtime"]
    ack, base = lat["acknowledgment_latency"], lat["received_latency"]
    return [
        (
            "notify",
            f"messages/s, 1 worker -c {c} (e-mail+SMS)",
            _fmt(tp["notify"]["per_second"]),
            f"{_fmt(tp['raw_per_second'])} raw adapters",
            _fmt(tp["ratios"]["throughput_notify_over_raw"], 3),
            "",
        ),
        (
            "notify",
            "per message p50 ms (task / raw call)",
            _fmt(task["p50_ms"]),
            f"{_fmt(tp['raw_per_message_p50_ms'])} raw call",
            _fmt(tp["ratios"]["per_message_p50_notify_over_raw"], 3),
            "",
        ),
        (
            "notify",
            f"ack p50 / p99 ms at {lat['rate_per_second']:g}/s",
            f"{_fmt(ack['p50_ms'])} / {_fmt(ack['p99_ms'])}",
            f"{_fmt(base['p50_ms'])} / {_fmt(base['p99_ms'])} to ComplaintReceived",
            _fmt(lat["ratios"]["ack_p50_over_received_p50"], 2),
            "",
        ),
        (
            "notify",
            "submission to ack p50 / p99 ms",
            f"{_fmt(lat['submission_to_acknowledgment']['p50_ms'])} / {_fmt(lat['submission_to_acknowledgment']['p99_ms'])}",
            "",
            "",
            "p99 < 2,000",
        ),
        (
            "notify",
            "acks accepted / arrived, send rate",
            f"{lat['accepted']} / {lat['acknowledgments_arrived']}",
            f"{_fmt(lat['achieved_send_rate'], 2)}/s",
            "",
            "",
        ),
        (
            "notify",
            "acks arrived per second",
            _fmt(lat["acknowledgments_per_second"]),
            f"{_fmt(lat['achieved_send_rate'], 2)}/s submitted",
            "",
            "kept up" if lat["kept_up"] else "did NOT keep up",
        ),
    ]


if __name__ == "__main__":
    import sys

    if len(sys.argv) > 1 and sys.argv[1] == "sinks":
        raise SystemExit(sinks_main(sys.argv[2:]))
    raise SystemExit("usage: python -m bench.notify sinks --smtp-port P --http-port Q")
