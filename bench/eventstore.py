"""Benchmark 1, ``eventstore``: appends per second of PostgresEventStore against raw INSERTs.

Every append is one event in its own transaction. Each writer thread has its own pooled connection and
its own few streams, so it always knows the right expected version and never conflicts. The baseline
inserts the very same rows into ``bench.bench_raw_events`` (same columns, constraints and indexes as
``workflow.events``) with one INSERT per transaction. Both run with 1 and with 8 writers.

Two diagnostic variants split the difference between the two into its parts, on the baseline table:
``store_statements`` issues the store's statements without its triggers and without NOTIFY (the
stream-version SELECT, then INSERT ... RETURNING), ``store_statements_notify`` adds a NOTIFY (the real
store's comes from a statement trigger). The real store then adds its own triggers (docs/adr/0027). While each variant runs, a sampler reads what the
writers' backends wait on from ``pg_stat_activity``.
"""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

import psycopg
from sqlalchemy import Engine, create_engine, func, insert, select

from bench.cpu import CpuMeter, other_share, per_unit_ms
from bench.schema import raw_events
from bench.stats import latency_summary_ms, ratio
from shared.db import libpq_url
from shared.events import Actor, EventEnvelope
from shared.eventstore.postgres import PostgresEventStore, to_row

log = logging.getLogger("bench.eventstore")

WRITER_APP = "pengaduan-bench-writer"
SAMPLER_APP = "pengaduan-bench-sampler"
BENCH_CHANNEL = "pengaduan_bench"  # nobody listens; NOTIFY costs the same with or without listeners
EVENT_TYPE = "bench.ComplaintReceived"


@dataclass(frozen=True)
class EventStoreParams:
    seconds: float = 10.0
    warmup_seconds: float = 1.0
    writers: tuple[int, ...] = (1, 8)
    streams_per_writer: int = 4
    rounds: int = 2  # the variants take turns, each round gets seconds / rounds
    diagnostics: bool = True
    sample_interval: float = 0.025


# ----------------------------------------------------------------------------------------- the events


def _payload() -> dict[str, Any]:
    """A payload the size and shape of a real workflow.ComplaintReceived (about 700 bytes of JSON)."""
    return {
        "complaint_id": str(uuid.uuid4()),
        "submission_id": str(uuid.uuid4()),
        "tracking_code": "7KQ2-M9XD-4T",
        "kecamatan": "pegantenan",
        "channel": "web",
        "complainant": {
            "name": "Siti Aminah",
            "nik": "3528071505900001",
            "phone": "+6281234567890",
            "email": "siti@example.id",
            "address": "Dusun Bunangka, Desa Pegantenan",
        },
        "subject": "Jalan desa rusak",
        "description": "Jalan di Dusun Bunangka rusak sejak Januari dan belum diperbaiki.",
        "received_at": "2026-03-02T09:00:00+00:00",
        "sop_version": "pegantenan-2023",
        "step": 1,
        "output": "Form Pengaduan",
    }


@dataclass
class Writer:
    """One writer thread's own streams and their current versions."""

    streams: list[str]
    versions: list[int]
    payload: dict[str, Any] = field(default_factory=_payload)
    turn: int = 0

    @classmethod
    def new(cls, prefix: str, streams: int) -> Writer:
        return cls([f"{prefix}-s{k}" for k in range(streams)], [0] * streams)

    def next_event(self) -> tuple[int, EventEnvelope]:
        """The stream slot to use and its next event (built the same way for every variant)."""
        slot = self.turn % len(self.streams)
        stream = self.streams[slot]
        return slot, EventEnvelope(
            event_id=uuid.uuid4(),
            stream_id=stream,
            version=self.versions[slot] + 1,
            kecamatan="pegantenan",
            type=EVENT_TYPE,
            schema_version=1,
            occurred_at=datetime(2026, 3, 2, 9, 0, tzinfo=UTC),
            actor=Actor.system("bench"),
            correlation_id=uuid.uuid4(),
            causation_id=uuid.uuid4(),
            payload=self.payload,
        )

    def done(self, slot: int) -> None:
        self.versions[slot] += 1
        self.turn += 1


_row = to_row  # the very conversion the store uses


# ---------------------------------------------------------------------------------------- the variants

AppendFn = Callable[[Writer], None]


def raw_insert(engine: Engine) -> AppendFn:
    """Baseline: one INSERT in its own transaction."""

    def append(w: Writer) -> None:
        slot, event = w.next_event()
        with engine.begin() as conn:
            conn.execute(insert(raw_events), _row(event))
        w.done(slot)

    return append


def store_statements(engine: Engine, notify: bool) -> AppendFn:
    """The store's statements on the baseline table, without its triggers (and NOTIFY if asked)."""

    def append(w: Writer) -> None:
        slot, event = w.next_event()
        expected = w.versions[slot]
        with engine.begin() as conn:
            actual = conn.execute(
                select(func.coalesce(func.max(raw_events.c.version), 0)).where(
                    raw_events.c.stream_id == event.stream_id
                )
            ).scalar_one()
            if actual != expected:
                raise RuntimeError(f"{event.stream_id}: expected version {expected}, found {actual}")
            conn.execute(insert(raw_events).returning(raw_events.c.position), [_row(event)]).scalars().all()
            if notify:
                conn.execute(select(func.pg_notify(BENCH_CHANNEL, "")))
        w.done(slot)

    return append


def store_append(engine: Engine) -> AppendFn:
    """The real thing: PostgresEventStore.append in a transaction of its own."""
    store = PostgresEventStore(engine)

    def append(w: Writer) -> None:
        slot, event = w.next_event()
        store.append(event.stream_id, w.versions[slot], [event])
        w.done(slot)

    return append


# ------------------------------------------------------------------------------------------- measuring


class WaitSampler(threading.Thread):
    """Samples what the writers' backends are doing, from pg_stat_activity, every ``interval`` seconds."""

    def __init__(self, database_url: str, interval: float) -> None:
        super().__init__(name="wait-sampler", daemon=True)
        self._url = libpq_url(database_url)
        self._interval = interval
        self._halt = threading.Event()
        self.counts: Counter[str] = Counter()
        self.samples = 0

    def run(self) -> None:
        with psycopg.connect(self._url, autocommit=True, application_name=SAMPLER_APP) as conn:
            while not self._halt.is_set():
                rows = conn.execute(
                    "SELECT state, wait_event_type, wait_event FROM pg_stat_activity WHERE application_name = %s",
                    (WRITER_APP,),
                ).fetchall()
                for state, wait_type, wait_event in rows:
                    self.counts[_classify(state, wait_type, wait_event)] += 1
                self.samples += 1
                self._halt.wait(self._interval)

    def stop(self) -> None:
        self._halt.set()
        self.join(timeout=10)


def _classify(state: str | None, wait_type: str | None, wait_event: str | None) -> str:
    if state == "active":
        return f"server: waiting {wait_type}:{wait_event}" if wait_type else "server: running (CPU)"
    if state == "idle in transaction":
        return "client: idle in transaction (server waits for the next statement)"
    if state == "idle":
        return "client: idle between transactions"
    return f"other: {state}"


@dataclass
class DriveResult:
    appends: int
    seconds: float
    latencies: list[float]
    errors: int
    first_error: str | None


def drive(append: AppendFn, writers: list[Writer], seconds: float) -> DriveResult:
    """Run one thread per writer, all starting together, for ``seconds``; count completed appends."""
    barrier = threading.Barrier(len(writers) + 1)
    stop = threading.Event()
    latencies: list[list[float]] = [[] for _ in writers]
    errors = [0] * len(writers)
    first_error: list[str] = []

    def loop(index: int) -> None:
        mine, writer = latencies[index], writers[index]
        barrier.wait()
        while not stop.is_set():
            started = time.perf_counter()
            try:
                append(writer)
            except Exception as exc:  # counted and reported; the benchmark goes on
                errors[index] += 1
                if not first_error:
                    first_error.append(repr(exc)[:500])
                continue
            mine.append(time.perf_counter() - started)

    threads = [threading.Thread(target=loop, args=(i,), name=f"writer-{i}", daemon=True) for i in range(len(writers))]
    for t in threads:
        t.start()
    barrier.wait()
    began = time.perf_counter()
    try:
        time.sleep(seconds)
    finally:  # on Ctrl-C too: no writer outlives the run
        stop.set()
        for t in threads:
            t.join()
    elapsed = time.perf_counter() - began
    flat = [x for per in latencies for x in per]
    return DriveResult(len(flat), elapsed, flat, sum(errors), first_error[0] if first_error else None)


@dataclass
class Tally:
    """What one variant accumulated over its rounds."""

    appends: int = 0
    seconds: float = 0.0
    latencies: list[float] = field(default_factory=list)
    errors: int = 0
    first_error: str | None = None
    cpu: Counter[str] = field(default_factory=Counter)
    states: Counter[str] = field(default_factory=Counter)
    samples: int = 0

    def add(self, result: DriveResult, cpu: dict[str, float], sampler: WaitSampler) -> None:
        self.appends += result.appends
        self.seconds += result.seconds
        self.latencies += result.latencies
        self.errors += result.errors
        self.first_error = self.first_error or result.first_error
        self.cpu.update({k: v for k, v in cpu.items() if k not in ("machine_cores", "other_share")})
        self.states.update(sampler.counts)
        self.samples += sampler.samples

    def figures(self) -> dict[str, Any]:
        cpu: dict[str, Any] = {k: round(v, 3) for k, v in self.cpu.items()}
        cpu["machine_cores"] = os.cpu_count() or 1
        cpu["other_share"] = other_share(cpu)
        total = sum(self.states.values())
        figures: dict[str, Any] = {
            "appends": self.appends,
            "seconds": round(self.seconds, 3),
            "per_second": round(self.appends / self.seconds, 1) if self.seconds else None,
            "latency": latency_summary_ms(self.latencies),
            "errors": self.errors,
            "cpu": cpu,
            "cpu_per_append": per_unit_ms(cpu, self.appends),
            # one Python process drives all writers: near 1.0 its GIL, not PostgreSQL, is the limit
            "client_core_utilisation": round(cpu["client_seconds"] / cpu["wall_seconds"], 3)
            if cpu.get("wall_seconds")
            else None,
            "backend_states": {
                "samples": self.samples,
                "backend_samples": total,
                "fractions": {k: round(v / total, 4) for k, v in self.states.most_common()} if total else {},
            },
        }
        if self.first_error:
            figures["first_error"] = self.first_error
        return figures


def measure_round(
    append: AppendFn,
    states: list[Writer],
    seconds: float,
    params: EventStoreParams,
    database_url: str,
    postmaster: int | None,
    tally: Tally,
) -> None:
    drive(append, states, params.warmup_seconds)  # connections open, caches warm; not counted
    sampler = WaitSampler(database_url, params.sample_interval)
    meter = CpuMeter()
    meter.add_self("client")
    meter.add_process_tree("postgres", postmaster)
    sampler.start()
    meter.start()
    try:
        result = drive(append, states, seconds)
    finally:
        cpu = meter.stop()
        sampler.stop()
    tally.add(result, cpu, sampler)


def measure_all(
    variants: list[tuple[str, AppendFn]],
    writers: int,
    params: EventStoreParams,
    database_url: str,
    postmaster: int | None,
) -> dict[str, dict[str, Any]]:
    """Every variant, ``rounds`` times in turn (A B C D A B C D): drift on a shared machine hits all alike."""
    tag = uuid.uuid4().hex[:8]
    states = {
        name: [Writer.new(f"bench-{name}-{tag}-w{i}", params.streams_per_writer) for i in range(writers)]
        for name, _ in variants
    }
    tallies = {name: Tally() for name, _ in variants}
    for _ in range(params.rounds):
        for name, append in variants:
            measure_round(
                append, states[name], params.seconds / params.rounds, params, database_url, postmaster, tallies[name]
            )
    figures = {name: tally.figures() for name, tally in tallies.items()}
    for name, fig in figures.items():
        log.info("eventstore %-24s writers=%d  %8.1f appends/s", name, writers, fig["per_second"] or 0.0)
    return figures


def run(database_url: str, params: EventStoreParams, postmaster: int | None) -> dict[str, Any]:
    engine = create_engine(
        database_url,
        pool_size=max(8, *params.writers),
        max_overflow=0,
        connect_args={"application_name": WRITER_APP},
    )
    try:
        variants: list[tuple[str, AppendFn]] = [("raw_insert", raw_insert(engine))]
        if params.diagnostics:
            variants += [
                ("store_statements", store_statements(engine, notify=False)),
                ("store_statements_notify", store_statements(engine, notify=True)),
            ]
        variants.append(("store", store_append(engine)))
        runs: dict[str, dict[str, Any]] = {}
        ratios: dict[str, dict[str, float | None]] = {}
        for writers in params.writers:
            key = f"writers_{writers}"
            runs[key] = measure_all(variants, writers, params, database_url, postmaster)
            raw = runs[key]["raw_insert"]["per_second"]
            ratios[key] = {f"{name}_over_raw": ratio(runs[key][name]["per_second"], raw) for name, _ in variants[1:]}
        return {
            "parameters": {
                "seconds_per_variant": params.seconds,
                "rounds": params.rounds,
                "warmup_seconds": params.warmup_seconds,
                "writers": list(params.writers),
                "streams_per_writer": params.streams_per_writer,
                "events_per_transaction": 1,
                "pool": "one SQLAlchemy engine, pool_size >= writers, max_overflow 0, no pre-ping",
                "variants": [name for name, _ in variants],
            },
            "runs": runs,
            "ratios": ratios,
        }
    finally:
        engine.dispose()
