"""Benchmark 7, ``province``: a province's year in one deployment (issue #19 item 4, docs/capacity.md).

The capacity model (docs/capacity.md) claims figures per event, per complaint and per kecamatan-year; this
benchmark backs them with a seeded province and measures what a second, third ... thirty-eighth kabupaten
costs the first one.

1. **The province**: 666 kecamatan (Jawa Timur's count) in 38 kabupaten of 17-18 kecamatan, added to
   ``tenancy.kecamatan`` with ``shared.tenancy.upsert_kecamatan`` beside the demo's Pamekasan (slugs
   ``prov-KK-NN``, Kemendagri-like codes ``99.KK.NN`` that no real region has).
2. **Small (the baseline)**: one kabupaten's year, ``complaints_per_kecamatan`` complaints per kecamatan received
   over the last 365 days, simulated step by step with ``bench.dashboard.Simulation`` (the real event classes,
   envelopes and rows; the personal fields sealed under per-complaint keys as the store seals them) and written
   with ``COPY workflow.events`` in append order. The live dashboard projection (``dashboard.complaints`` and
   ``dashboard.step_times``) catches up through its own ``Subscription`` (batches of 5,000). Then ``VACUUM
   (ANALYZE)`` and the measurements.
3. **Province**: the other 37 kabupaten's year, written and caught up the same way; the same measurements.

Measured after each phase:

- **storage**: ``pg_total_relation_size`` (table + indexes + TOAST) of ``workflow.events``, ``dashboard.complaints``,
  ``dashboard.step_times`` and ``privacy.data_keys``; the growth of each divided by the events / complaints the
  phase wrote: bytes per event and per complaint, the capacity model's first rows;
- **queries** (in this process, over one pooled connection, the dashboard's own ``adapters/queries`` functions
  the API calls): the summary of the first kabupaten (its 17 kecamatan, the whole year), of one of its kecamatan,
  one register page (50 rows), the register's count for that kecamatan's year and the kabupaten's step times
  (``steps``, uncached); after the province phase also the summary and the step times of all 666 kecamatan (10
  rounds). p50/p99 over ``query_repeats`` runs, the targets taking turns.
- **Ratios**: each query at province size over the same query at the small size (same kabupaten, same
  rows returned): how much the other 37 kabupaten slow the first one down; and the catch-up rate of the province
  phase over the small phase's.

Every window records ``cpu.other_share`` (the machine's noise). The events stay in the store (append-only);
a second run in the same database adds a second year of streams (the storage deltas stay per phase).
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any, TextIO

import psycopg
from sqlalchemy import Engine, text

from bench.cpu import CpuMeter
from bench.environment import RunContext
from bench.stats import latency_summary_ms, ratio

log = logging.getLogger("bench.province")

KECAMATAN = 666  # Jawa Timur (BPS, Kemendagri 2022: 666 kecamatan in 38 kabupaten/kota)
KABUPATEN = 38
SIZED_TABLES = ("workflow.events", "dashboard.complaints", "dashboard.step_times", "privacy.data_keys")
CATCH_UP_BATCH = 5000
WIDE_ROUNDS = 10  # rounds of the queries over every kecamatan (spread over the others' rounds)


@dataclass(frozen=True)
class ProvinceParams:
    complaints_per_kecamatan: int = 150  # a kecamatan's year (docs/capacity.md says why 150)
    kecamatan: int = KECAMATAN
    kabupaten: int = KABUPATEN
    days: int = 365
    seed: int = 19  # the simulation's random seed (issue #19)
    copy_chunk: int = 100_000  # rows per COPY (and transaction)
    query_repeats: int = 60  # per query target and phase, after 5 warm-ups, taking turns


def province(params: ProvinceParams) -> list[list[tuple[str, str]]]:
    """The province's kecamatan, grouped by kabupaten: ``[[(slug, code), ...], ...]``, 666 spread over 38."""
    result: list[list[tuple[str, str]]] = []
    per, extra = divmod(params.kecamatan, params.kabupaten)
    for k in range(params.kabupaten):
        n = per + (1 if k < extra else 0)
        result.append([(f"prov-{k + 1:02d}-{i + 1:02d}", f"99.{k + 1:02d}.{i + 1:02d}") for i in range(n)])
    return result


def register_province(engine: Engine, groups: list[list[tuple[str, str]]]) -> None:
    from shared.tenancy import Kecamatan, upsert_kecamatan

    items = []
    for k, group in enumerate(groups, start=1):
        name = f"Kabupaten Uji {k:02d}"
        for slug, code in group:
            items.append(
                Kecamatan(
                    slug,
                    code,
                    f"Uji {slug[5:]}",
                    f"prov-{k:02d}",
                    name,
                    {"pemerintah": f"PEMERINTAH {name.upper()}", "kecamatan": f"KECAMATAN UJI {slug[5:]}"},
                )
            )
    upsert_kecamatan(engine, items)


def seed_year(database_url: str, kecamatan: list[tuple[str, str]], complaints: int, params: ProvinceParams) -> dict:
    """``complaints`` complaints of these kecamatan over the last ``params.days`` days, every story written up to
    now: COPY into ``workflow.events`` (and the complaints' data keys into ``privacy.data_keys``)."""
    from bench.dashboard import Simulation, copy_events

    started = time.perf_counter()
    sim = Simulation(datetime.now(UTC), params.days, params.seed + len(kecamatan), complaints, kecamatan)
    with psycopg.connect(database_url.replace("postgresql+psycopg://", "postgresql://", 1)) as conn:
        types, _, _ = copy_events(conn, sim.events(), seal=True, chunk=params.copy_chunk)
    written = sum(types.values())
    seconds = time.perf_counter() - started
    received = types.get("workflow.ComplaintReceived", 0)
    return {
        "kecamatan": len(kecamatan),
        "complaints": received,
        "events": written,
        "events_per_complaint": round(written / received, 2) if received else None,
        "seconds": round(seconds, 2),
        "events_per_second": round(written / seconds, 1) if seconds else None,
        "by_type": dict(types.most_common()),
    }


def catch_up(engine: Engine, postmaster_pid: int | None) -> dict[str, Any]:
    """The live dashboard projection brought to the head of the store, as its runner does (bigger batches)."""
    from services.dashboard.adapters.subscription import Subscription
    from services.dashboard.entrypoints.projections import projections
    from shared.eventstore.postgres import PostgresEventStore

    projection = projections(engine)["dashboard.complaints"]
    sub = Subscription(engine, PostgresEventStore(engine), projection, batch_size=CATCH_UP_BATCH)
    meter = CpuMeter()
    meter.add_self("bench_process")
    meter.add_process_tree("postgres", postmaster_pid)
    meter.start()
    started = time.perf_counter()
    events = sub.catch_up()
    seconds = time.perf_counter() - started
    cpu = meter.stop()
    return {
        "events_read": events,
        "seconds": round(seconds, 2),
        "events_per_second": round(events / seconds, 1) if seconds else None,
        "cpu": cpu,
    }


def sizes(engine: Engine) -> dict[str, int]:
    with engine.connect() as conn:
        return {
            table: conn.execute(text("SELECT pg_total_relation_size(CAST(:t AS regclass))"), {"t": table}).scalar_one()
            for table in SIZED_TABLES
        }


def vacuum(engine: Engine) -> float:
    started = time.perf_counter()
    with engine.connect().execution_options(isolation_level="AUTOCOMMIT") as conn:
        conn.execute(text("VACUUM (ANALYZE) " + ", ".join(SIZED_TABLES)))
    return round(time.perf_counter() - started, 2)


def queries(
    engine: Engine, kabupaten: list[str], kecamatan: str, everyone: list[str] | None, repeats: int, pid: int | None
) -> dict[str, Any]:
    """The dashboard's own query functions, each target in turn: p50/p99 ms, and what each returned."""
    from services.dashboard.adapters import queries as q

    now = datetime.now(UTC)
    year = now.year
    whole = q.Period()
    targets = {
        "summary_kabupaten": lambda conn: q.summary(conn, kabupaten, whole, now),
        "summary_kecamatan": lambda conn: q.summary(conn, [kecamatan], whole, now),
        "register_page": lambda conn: q.register(conn, kecamatan, whole, year, offset=0, limit=50),
        "register_count": lambda conn: q.count_register(conn, kecamatan, whole, year),
        # the dashboard page's dearest query (percentiles of every step), uncached here (the API keeps its answers
        # until the projection moves)
        "steps_kabupaten": lambda conn: q.steps(conn, kabupaten, whole),
    }
    # over every kecamatan of the deployment (an admin's page): a few rounds only, each takes long
    wide = {}
    if everyone is not None:
        wide = {
            "summary_province": lambda conn: q.summary(conn, everyone, whole, now),
            "steps_province": lambda conn: q.steps(conn, everyone, whole),
        }
    times: dict[str, list[float]] = {name: [] for name in (*targets, *wide)}
    answers: dict[str, Any] = {}
    meter = CpuMeter()
    meter.add_self("bench_process")
    meter.add_process_tree("postgres", pid)
    with engine.connect() as conn:
        for run in targets.values():  # warm-up
            for _ in range(5):
                run(conn)
            conn.rollback()
        for run in wide.values():
            run(conn)
            conn.rollback()
        meter.start()
        for i in range(repeats):
            chosen = {**targets, **wide} if i % max(1, repeats // WIDE_ROUNDS) == 0 else targets
            for name, run in chosen.items():
                started = time.perf_counter()
                found = run(conn)
                times[name].append(time.perf_counter() - started)
                conn.rollback()
                answers[name] = found
    cpu = meter.stop()
    shape = {
        "summary_kabupaten_received": sum(r["total"] for r in answers["summary_kabupaten"]),
        "summary_kecamatan_received": sum(r["total"] for r in answers["summary_kecamatan"]),
        "register_total": answers["register_page"][0],
        "register_count": answers["register_count"],
        "steps_kabupaten_rows": len(answers["steps_kabupaten"]),
    }
    if "summary_province" in answers:
        shape["summary_province_received"] = sum(r["total"] for r in answers["summary_province"])
    return {"latency": {name: latency_summary_ms(v) for name, v in times.items()}, "answers": shape, "cpu": cpu}


def phase(
    ctx: RunContext,
    engine: Engine,
    params: ProvinceParams,
    kecamatan: list[tuple[str, str]],
    first: list[str],
    everyone: list[str] | None,
) -> dict[str, Any]:
    before = sizes(engine)
    complaints = params.complaints_per_kecamatan * len(kecamatan)
    log.info("province: seeding %d complaints of %d kecamatan", complaints, len(kecamatan))
    seeded = seed_year(ctx.servers.database_url, kecamatan, complaints, params)
    log.info("seeded %d events in %.1f s", seeded["events"], seeded["seconds"])
    caught = catch_up(engine, ctx.postmaster_pid)
    log.info("caught up %d events in %.1f s", caught["events_read"], caught["seconds"])
    vacuumed = vacuum(engine)
    after = sizes(engine)
    growth = {t: after[t] - before[t] for t in SIZED_TABLES}
    events, received = seeded["events"], seeded["complaints"]
    storage = {
        "bytes_after": after,
        "growth_bytes": growth,
        "bytes_per_event": {
            t: round(growth[t] / events, 1) for t in ("workflow.events", "dashboard.step_times") if events
        },
        "bytes_per_complaint": {t: round(growth[t] / received, 1) for t in SIZED_TABLES if received},
    }
    measured = queries(engine, first, first[0], everyone, params.query_repeats, ctx.postmaster_pid)
    return {
        "seeded": seeded,
        "catch_up": caught,
        "vacuum_seconds": vacuumed,
        "storage": storage,
        **measured,
    }


def run(ctx: RunContext, params: ProvinceParams) -> dict[str, Any]:
    from services.dashboard.config import DashboardSettings
    from shared.db import make_engine

    engine = make_engine(DashboardSettings(database_url=ctx.servers.database_url), pool_size=2)
    try:
        groups = province(params)
        register_province(engine, groups)
        first = [slug for slug, _ in groups[0]]
        everyone = [slug for group in groups for slug, _ in group]
        small = phase(ctx, engine, params, groups[0], first, None)
        rest = [k for group in groups[1:] for k in group]
        large = phase(ctx, engine, params, rest, first, everyone)
    finally:
        engine.dispose()
    a, b = small["latency"], large["latency"]
    ratios = {
        f"{name}_p50_province_over_small": ratio(b[name]["p50_ms"], a[name]["p50_ms"])
        for name in ("summary_kabupaten", "summary_kecamatan", "register_page", "register_count", "steps_kabupaten")
    }
    ratios["summary_province_p50_over_summary_kabupaten_p50"] = ratio(
        b["summary_province"]["p50_ms"], b["summary_kabupaten"]["p50_ms"]
    )
    ratios["steps_province_p50_over_steps_kabupaten_p50"] = ratio(
        b["steps_province"]["p50_ms"], b["steps_kabupaten"]["p50_ms"]
    )
    ratios["catch_up_rate_province_over_small"] = ratio(
        large["catch_up"]["events_per_second"], small["catch_up"]["events_per_second"]
    )
    ratios["bytes_per_event_province_over_small"] = ratio(
        large["storage"]["bytes_per_event"].get("workflow.events"),
        small["storage"]["bytes_per_event"].get("workflow.events"),
    )
    total_events = small["seeded"]["events"] + large["seeded"]["events"]
    total_complaints = small["seeded"]["complaints"] + large["seeded"]["complaints"]
    return {
        "parameters": {**vars(params), "kabupaten_of_the_small_phase": "prov-01", "queries": "in-process"},
        "province_year": {
            "kecamatan": params.kecamatan,
            "complaints": total_complaints,
            "events": total_events,
            "events_per_complaint": round(total_events / total_complaints, 2) if total_complaints else None,
            "store_bytes": small["storage"]["growth_bytes"]["workflow.events"]
            + large["storage"]["growth_bytes"]["workflow.events"],
            "read_model_bytes": sum(
                small["storage"]["growth_bytes"][t] + large["storage"]["growth_bytes"][t]
                for t in ("dashboard.complaints", "dashboard.step_times")
            ),
        },
        "small": small,
        "province": large,
        "ratios": ratios,
        "other_share": {
            "small_catch_up": small["catch_up"]["cpu"]["other_share"],
            "small_queries": small["cpu"]["other_share"],
            "province_catch_up": large["catch_up"]["cpu"]["other_share"],
            "province_queries": large["cpu"]["other_share"],
        },
    }


def write_table(fig: dict[str, Any], out: TextIO) -> None:
    if "error" in fig:
        out.write(f"\nprovince: FAILED {fig['error']}\n")
        return
    y = fig["province_year"]
    out.write(
        f"\nprovince: {y['kecamatan']} kecamatan, {y['complaints']:,} complaints, {y['events']:,} events "
        f"({y['events_per_complaint']} per complaint); store {y['store_bytes'] / 2**20:,.0f} MiB, "
        f"read models {y['read_model_bytes'] / 2**20:,.0f} MiB\n"
    )
    for name in ("small", "province"):
        p = fig[name]
        lat = "  ".join(f"{k} {v['p50_ms']}/{v['p99_ms']}" for k, v in p["latency"].items())
        out.write(
            f"  {name:8s} bytes/event {p['storage']['bytes_per_event'].get('workflow.events')}  "
            f"catch-up {p['catch_up']['events_per_second']}/s  p50/p99 ms: {lat}  "
            f"other_share {p['cpu']['other_share']}\n"
        )
    out.write("  ratios: " + ", ".join(f"{k} {v}" for k, v in fig["ratios"].items()) + "\n")
