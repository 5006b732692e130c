"""``python -m bench`` (``make bench``): run the benchmarks, write bench/results/<UTC timestamp>.json.

    python -m bench                  the full run (a few minutes)
    python -m bench --quick          short durations: a smoke run
    python -m bench --only intake    one benchmark (repeatable: --only eventstore --only e2e)
    python -m bench --only letters   letters rendered and signed per second in one process, its peak RSS
    python -m bench --only notify    notifications per second per notify process; acknowledgment latency
    python -m bench --only hop       CPU per message of one Celery queue hop (publish, Redis, worker) vs a raw one
    python -m bench --only walk      server CPU per complaint walked through the 12 steps, by process
    python -m bench --only dashboard 1,000,000 events seeded: projection rebuild rate, summary latency, exports
    python -m bench --only province  a province's year (666 kecamatan): bytes per event, queries vs one kabupaten

PostgreSQL and Redis: PENGADUAN_BENCH_DATABASE_URL / PENGADUAN_BENCH_REDIS_URL when set, else throwaway
embedded servers in a temporary directory. Every figure comes with a baseline measured in the same run;
read the ratios (bench/README.md).
"""

from __future__ import annotations

import argparse
import json
import logging
import os
import shutil
import signal
import sys
import tempfile
import traceback
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

# run order: hop early (small queues, emptied after); e2e, notify and walk before intake (its unpublished outbox rows
# would be their backlog); dashboard and province last (their millions of events would weigh on the others), see README
BENCHMARKS = ("eventstore", "hop", "e2e", "notify", "walk", "intake", "letters", "dashboard", "province")
RESULTS_DIR = Path(__file__).resolve().parent / "results"
STAMP = "%Y%m%dT%H%M%SZ"  # UTC

log = logging.getLogger("bench")


def build_parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(
        prog="python -m bench", description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--quick", action="store_true", help="short durations (smoke run)")
    parser.add_argument(
        "--only",
        action="append",
        choices=BENCHMARKS,
        metavar="NAME",
        help=f"run only this benchmark ({', '.join(BENCHMARKS)}); repeatable",
    )
    parser.add_argument("--concurrency", type=int, default=16, help="intake: concurrent connections (16)")
    parser.add_argument(
        "--rate", type=float, default=50.0, help="e2e, notify latency and hop: complaints (messages) per second (50)"
    )
    parser.add_argument(
        "--notify-seconds",
        type=float,
        default=None,
        help="notify latency: seconds of open-loop load at --rate (60; --quick: 5)",
    )
    parser.add_argument(
        "--notify-workers",
        type=int,
        default=None,
        help="notify: the notify worker's --concurrency (4)",
    )
    parser.add_argument(
        "--no-diagnostics",
        action="store_true",
        help="eventstore: skip the two variants that split the store's cost into its parts; "
        "hop: skip the Celery hop with the worker at log level WARNING, the one without ack emulation, "
        "and the PostgreSQL queue",
    )
    parser.add_argument(
        "--notify-stock-sinks",
        action="store_true",
        help="notify: run `pengaduan devsinks` as is (its SMTP sink stalls ~40 ms per session: "
        "Nagle, see bench/README.md)",
    )
    parser.add_argument(
        "--walk-py-spy",
        metavar="DIR",
        help="walk: record every process's stacks with py-spy (pip install py-spy) into DIR during the walk",
    )
    parser.add_argument("--results-dir", type=Path, default=RESULTS_DIR)
    parser.add_argument("-v", "--verbose", action="store_true")
    return parser


def parameters(args: argparse.Namespace) -> dict[str, Any]:
    from bench.dashboard import DashboardParams
    from bench.e2e import E2EParams
    from bench.eventstore import EventStoreParams
    from bench.hop import HopParams
    from bench.intake import IntakeParams
    from bench.letters import LettersParams
    from bench.notify import NotifyParams
    from bench.province import ProvinceParams
    from bench.walk import WalkParams

    quick = args.quick
    return {
        "eventstore": EventStoreParams(
            seconds=2.0 if quick else 10.0,
            warmup_seconds=0.3 if quick else 1.0,
            rounds=1 if quick else 2,
            diagnostics=not args.no_diagnostics,
        ),
        "hop": HopParams(
            rate=args.rate,
            seconds=5.0 if quick else 20.0,
            warmup_seconds=2.0,
            burst_messages=300 if quick else 1000,
            idle_seconds=2.0 if quick else 5.0,
            diagnostics=not args.no_diagnostics,
        ),
        "intake": IntakeParams(seconds=3.0 if quick else 15.0, warmup_seconds=2.0, concurrency=args.concurrency),
        "e2e": E2EParams(rate=args.rate, seconds=5.0 if quick else 30.0, warmup_seconds=2.0),
        "letters": LettersParams(seconds=2.0 if quick else 10.0, warmup_letters=3),
        "notify": NotifyParams(
            messages=300 if quick else 1000,
            warmup_messages=40,
            **({"worker_concurrency": args.notify_workers} if args.notify_workers else {}),
            rate=args.rate,
            seconds=args.notify_seconds or (5.0 if quick else 60.0),  # issue #20: 50 complaints/s for 60 s
            warmup_seconds=2.0,
            stock_sinks=args.notify_stock_sinks,
        ),
        "dashboard": DashboardParams(
            events=100_000 if quick else 1_000_000,
            summary_requests=60 if quick else 200,
            context_requests=15 if quick else 50,
            warmup_requests=5 if quick else 10,
            exports=2 if quick else 5,
            before_vacuum_requests=20 if quick else 40,
            seconds_cap=20.0 if quick else 60.0,
            export_rows_before=10_000 if quick else 50_000,
            summary_queries=30 if quick else 200,
        ),
        "walk": WalkParams(complaints=5 if quick else 20, warmup_complaints=3, py_spy_dir=args.walk_py_spy),
        # a kecamatan's year: 150 complaints (docs/capacity.md); --quick a tenth of it
        "province": ProvinceParams(complaints_per_kecamatan=15 if quick else 150, query_repeats=20 if quick else 60),
    }


def _raise_on_sigterm(signum: int, _frame: object) -> None:
    raise SystemExit(128 + signum)  # unwinds through every finally: children and servers get stopped


def run(args: argparse.Namespace) -> tuple[dict[str, Any], bool]:
    from bench import dashboard, e2e, eventstore, hop, intake, letters, notify, province, walk
    from bench.environment import (
        RunContext,
        local_postmaster_pid,
        machine_info,
        prepare_database,
        pytest_processes,
        servers,
    )
    from bench.processes import Processes

    selected = [name for name in BENCHMARKS if not args.only or name in args.only]
    params = parameters(args)
    started = datetime.now(UTC)
    workdir = Path(tempfile.mkdtemp(prefix="pengaduan-bench-"))
    workdir.chmod(0o755)  # the embedded PostgreSQL runs as its own user and must reach its data dir
    benchmarks: dict[str, Any] = {}
    ok = False  # until every selected benchmark has run without error
    try:
        with servers(workdir) as srv:
            env = {
                **os.environ,
                "PENGADUAN_DATABASE_URL": srv.database_url,
                "PENGADUAN_REDIS_URL": srv.redis_url,
                # the load generator is one address sending hundreds of complaints a second: the per-address
                # limits (issue #12) stay on, their Redis round trip measured, but far above the load
                **{
                    f"PENGADUAN_RATE_LIMIT_{kind}": "1000000/minute"
                    for kind in (
                        "SUBMISSIONS",
                        "TRACKING",
                        "SIGNIN_ACCOUNT",
                        "SIGNIN_ADDRESS",
                        "ACKNOWLEDGMENTS_PER_RECIPIENT",
                    )
                },
            }
            processes = Processes(log_dir=workdir / "logs", env=env)
            try:
                log.info("migrating and seeding %s", srv.postgres)
                prepare_database(srv.database_url)
                machine = machine_info(srv)
                ctx = RunContext(srv, processes, local_postmaster_pid(srv.database_url))
                failed = False
                for name in selected:
                    log.info("--- %s", name)
                    try:
                        if name == "eventstore":
                            benchmarks[name] = eventstore.run(srv.database_url, params[name], ctx.postmaster_pid)
                        elif name == "hop":  # a no-op worker against a raw consumer (and a PostgreSQL queue)
                            benchmarks[name] = hop.run(ctx, params[name])
                        elif name == "intake":
                            benchmarks[name] = intake.run(ctx, params[name])
                        elif name == "letters":  # no servers needed: one child process, CPU only
                            benchmarks[name] = letters.run(params[name])
                        elif name == "notify":
                            benchmarks[name] = notify.run(ctx, params[name])
                        elif name == "dashboard":
                            benchmarks[name] = dashboard.run(ctx, params[name])
                        elif name == "walk":
                            benchmarks[name] = walk.run(ctx, params[name])
                        elif name == "province":
                            benchmarks[name] = province.run(ctx, params[name])
                        else:
                            benchmarks[name] = e2e.run(ctx, params[name])
                    except Exception as exc:  # record it, go on with the next benchmark
                        failed = True
                        log.error("%s failed: %s", name, exc)
                        benchmarks[name] = {"error": repr(exc), "traceback": traceback.format_exc()}
                machine["loadavg_at_end"] = list(os.getloadavg())
                machine["pytest_processes_at_end"] = pytest_processes()
                ok = not failed
            finally:
                processes.stop_all()
    finally:
        if not ok and (workdir / "logs").exists():  # the child processes' logs explain most failures
            kept = args.results_dir / f"{started.strftime(STAMP)}-logs"
            shutil.copytree(workdir / "logs", kept, dirs_exist_ok=True)
            log.error("logs of the child processes kept in %s", kept)
        shutil.rmtree(workdir, ignore_errors=True)

    from bench.report import collect_ratios

    document = {
        "started_at": started.isoformat(),
        "finished_at": datetime.now(UTC).isoformat(),
        "quick": args.quick,
        "benchmarks_run": selected,
        "machine": machine,
        "parameters": {name: vars(params[name]) for name in selected},
        "ratios": {
            **collect_ratios(benchmarks),
            **{f"letters.{k}": v for k, v in benchmarks.get("letters", {}).get("ratios", {}).items()},
            **{f"dashboard.{k}": v for k, v in benchmarks.get("dashboard", {}).get("ratios", {}).items()},
            **{f"walk.{k}": v for k, v in benchmarks.get("walk", {}).get("ratios", {}).items()},
            **{f"province.{k}": v for k, v in benchmarks.get("province", {}).get("ratios", {}).items()},
        },
        "benchmarks": benchmarks,
        "notes": [
            "Shared, noisy 2-core machine: compare ratios, not absolute figures. machine.loadavg_*, "  # noqa: ISC004
            "machine.pytest_processes_* and each measurement's cpu.other_share (share of the machine used by "
            "other processes) show how much else ran meanwhile, e.g. a concurrent test session.",
        ],
    }
    return document, ok


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
    logging.basicConfig(
        level=logging.DEBUG if args.verbose else logging.INFO,
        stream=sys.stderr,
        format="%(asctime)s %(name)s %(message)s",
        datefmt="%H:%M:%S",
    )
    for noisy in ("httpx", "httpcore", "alembic"):
        logging.getLogger(noisy).setLevel(logging.WARNING)
    signal.signal(signal.SIGTERM, _raise_on_sigterm)
    document, ok = run(args)

    from bench.report import table, write_json

    stamp = datetime.fromisoformat(document["started_at"]).strftime(STAMP)
    path = write_json(document, args.results_dir, stamp)
    print(json.dumps(document, indent=2))
    sys.stderr.write("\n")
    own_tables = ("letters", "dashboard", "province", "walk")  # their rows come from their own modules
    others = {name: fig for name, fig in document["benchmarks"].items() if name not in own_tables}
    if others or not any(name in document["benchmarks"] for name in own_tables):
        table(others, sys.stderr)
    if "letters" in document["benchmarks"]:
        from bench.letters import write_table

        write_table(document["benchmarks"]["letters"], sys.stderr)
    if "dashboard" in document["benchmarks"]:
        from bench.dashboard import write_table as write_dashboard_table

        write_dashboard_table(document["benchmarks"]["dashboard"], sys.stderr)
    if "walk" in document["benchmarks"]:
        from bench.walk import write_table as write_walk_table

        write_walk_table(document["benchmarks"]["walk"], sys.stderr)
    if "province" in document["benchmarks"]:
        from bench.province import write_table as write_province_table

        write_province_table(document["benchmarks"]["province"], sys.stderr)
    sys.stderr.write(f"\nresults: {path}\n")
    return 0 if ok else 1


if __name__ == "__main__":
    sys.exit(main())
