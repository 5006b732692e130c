"""bench/hop.py's accounting: CPU ms per message by part and in total, net of the consumers' idle CPU, the ratios
part by part, and the worker's per-task log lines counted in what it wrote during a phase; the diagnostic
variants' pure parts (the worker's "succeeded" lines counted as they come, kombu without ack emulation, the
PostgreSQL queue's take, its statements per message) and the table's rows."""

from __future__ import annotations

import json
import re

import pytest

from bench.hop import (
    LineCounter,
    commands_per_message,
    log_lines,
    net_of_idle,
    part_ratios,
    per_message,
    pg_take,
    relay_message,
    statements_per_message,
    table_rows,
    without_ack_emulation,
)

CPU = {
    "bench_process_seconds": 0.9,
    "consumer_seconds": 3.0,
    "redis_seconds": 0.5,
    "publisher_seconds": 0.8,
    "wall_seconds": 20.0,
    "machine_busy_seconds": 6.0,
    "other_seconds": 1.6,
    "machine_cores": 2,
    "other_share": 0.04,
}


def test_per_message_sums_the_publisher_the_consumer_and_redis_not_the_bench_process():
    ms = per_message(CPU, 1000)
    assert ms == {
        "publisher_cpu_ms": 0.8,
        "consumer_cpu_ms": 3.0,
        "redis_cpu_ms": 0.5,
        "total_cpu_ms": 4.3,
        "bench_process_cpu_ms": 0.9,
    }
    assert per_message(CPU, 0) == {}
    split = per_message({**CPU, "consumer_parent_seconds": 1.8}, 1000)
    assert split["consumer_parent_cpu_ms"] == 1.8 and split["consumer_children_cpu_ms"] == 1.2
    assert split["total_cpu_ms"] == 4.3  # the split is inside the consumer's share


def test_net_of_idle_takes_off_the_idle_rate_over_the_same_wall_time():
    idle = {"consumer_seconds": 0.05, "redis_seconds": 0.01, "wall_seconds": 5.0}  # 10 and 2 ms per second
    ms = net_of_idle(CPU, idle, 1000)
    assert ms["consumer_cpu_ms"] == 2.8  # 3.0 s - 0.01 s/s x 20 s
    assert ms["redis_cpu_ms"] == 0.46  # 0.5 s - 0.002 s/s x 20 s
    assert ms["publisher_cpu_ms"] == 0.8  # publishing has no idle cost
    assert ms["total_cpu_ms"] == 4.06
    assert "bench_process_cpu_ms" not in ms
    assert "consumer_parent_cpu_ms" not in net_of_idle({**CPU, "consumer_parent_seconds": 1.8}, idle, 1000)
    assert net_of_idle({**CPU, "consumer_seconds": 0.1}, idle, 1000)["consumer_cpu_ms"] == 0.0  # never below 0


def test_part_ratios_are_celery_over_raw_for_the_total_and_each_part():
    celery = {"publisher_cpu_ms": 0.8, "consumer_cpu_ms": 3.0, "redis_cpu_ms": 0.5, "total_cpu_ms": 4.3}
    raw = {"publisher_cpu_ms": 0.05, "consumer_cpu_ms": 0.1, "redis_cpu_ms": 0.0, "total_cpu_ms": 0.15}
    assert part_ratios(celery, raw) == {"total": 28.6667, "publisher": 16.0, "consumer": 30.0, "redis": None}


def test_log_lines_counts_the_noop_tasks_received_and_succeeded():
    text = (
        '{"time": "t", "level": "INFO", "logger": "celery.worker.strategy", '
        '"message": "Task hop.noop[hopbench:a] received", "process_kind": "worker-hopbench"}\n'
        '{"time": "t", "level": "INFO", "logger": "celery.app.trace", '
        '"message": "Task hop.noop[hopbench:a] succeeded in 0.0004s: None", "data": {"args": "<hidden>"}}\n'
        '{"message": "Task other.task[x] received"}\n'
    )
    found = log_lines(text, 1)
    assert found["received_lines"] == 1 and found["succeeded_lines"] == 1
    assert found["bytes_per_message"] == len(text.encode())
    assert log_lines("", 10) == {"received_lines": 0, "succeeded_lines": 0, "bytes_per_message": 0.0}


def test_the_payload_is_the_relays():
    task_id, payload = relay_message(7)
    assert task_id == f"hopbench:{payload['event_id']}"
    assert payload["position"] == 7 and payload["type"] == "workflow.ComplaintReceived"


def test_the_precise_family_cpu_agrees_with_procs_ticks():
    """On a process of its own that has burnt some CPU and waits (no reaped children: /proc adds theirs in 10 ms
    ticks each, which in the test run's own long-lived process drifted 58 ms from the precise reader)."""
    import subprocess
    import sys

    from bench.cpu import family_cpu_seconds
    from bench.hop import precise_family_cpu_seconds

    burn = "import sys; sum(i * i for i in range(2_000_000)); print('ready', flush=True); sys.stdin.read()"
    child = subprocess.Popen([sys.executable, "-c", burn], stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True)
    try:
        assert child.stdout is not None and child.stdout.readline() == "ready\n"
        precise, ticks = precise_family_cpu_seconds(child.pid), family_cpu_seconds(child.pid)
        assert precise > 0.05 and abs(precise - ticks) < 0.03, (precise, ticks)
    finally:
        child.communicate("")
    assert precise_family_cpu_seconds(2**22 + 12345) == 0.0  # no such process


def test_commands_per_message_from_two_looks_at_commandstats_without_the_looks():
    before = {"cmdstat_lpush": {"calls": 10, "usec": 50}, "cmdstat_info": {"calls": 3, "usec": 900}}
    after = {
        "cmdstat_lpush": {"calls": 210, "usec": 450},
        "cmdstat_brpop": {"calls": 200, "usec": 300},
        "cmdstat_info": {"calls": 4, "usec": 1200},
        "cmdstat_ping": {"calls": 0, "usec": 0},
    }
    assert commands_per_message(before, after, 200) == {
        "calls": {"lpush": 1.0, "brpop": 1.0},
        "total_calls": 2.0,
        "server_usec": 3.5,  # (400 + 300) us over 200 messages
    }


def test_the_hop_worker_takes_the_products_worker_arguments(monkeypatch):
    from pengaduan.cli import worker_argv

    monkeypatch.delenv("PENGADUAN_LOG_LEVEL", raising=False)
    assert worker_argv("hopbench", 2) == [
        "worker", "-Q", "hopbench", "-c", "2", "-n", "hopbench@%h", "--without-gossip", "--without-mingle",
        "--loglevel", "INFO",
    ]  # fmt: skip
    monkeypatch.setenv("PENGADUAN_LOG_LEVEL", "WARNING")
    assert worker_argv("notify", 4)[-1] == "WARNING"


def test_a_postgres_hop_counts_postgres_as_its_server_part_and_its_ratios_say_server():
    pg = {**{k: v for k, v in CPU.items() if k != "redis_seconds"}, "postgres_seconds": 1.5}
    ms = per_message(pg, 1000)
    assert ms["postgres_cpu_ms"] == 1.5 and "redis_cpu_ms" not in ms
    assert ms["total_cpu_ms"] == 5.3  # 0.8 + 3.0 + 1.5
    idle = {"consumer_seconds": 0.05, "postgres_seconds": 0.05, "wall_seconds": 5.0}
    assert net_of_idle(pg, idle, 1000)["postgres_cpu_ms"] == 1.3  # 1.5 s - 0.01 s/s x 20 s
    raw = {"publisher_cpu_ms": 0.4, "consumer_cpu_ms": 1.5, "redis_cpu_ms": 0.3, "total_cpu_ms": 2.2}
    assert part_ratios(ms, raw) == {"total": 2.4091, "publisher": 2.0, "consumer": 2.0, "server": 5.0}
    assert part_ratios(ms, ms)["postgres"] == 1.0


def test_the_succeeded_lines_are_counted_as_they_come_a_line_not_yet_ended_once_it_is(tmp_path):
    line = '{"message": "Task hop.noop[hopbench:%d] succeeded in 0.0004s: None"}\n'
    log = tmp_path / "worker.log"
    log.write_text('{"message": "worker started"}\n' + line % 0)
    counter = LineCounter(log, log.stat().st_size)  # what was there before the mark is not counted
    assert counter.read() == 0
    with open(log, "a") as f:
        f.write(line % 1 + '{"message": "Task hop.noop[hopbench:1] received"}\n' + (line % 2)[:30])
    assert counter.read() == 1  # the third line is not ended yet
    with open(log, "a") as f:
        f.write((line % 2)[30:])
    assert counter.read() == 2
    assert counter.read() == 2  # nothing new
    other = LineCounter(log, 0, pattern=re.compile(r"received"))
    assert other.feed(b'{"message": "received"}\n{"message": "rec') == 1 and other.feed(b'eived"}\n') == 2


def test_without_ack_emulation_adds_the_option_and_keeps_the_products_broker_options():
    from shared.celery_app import make_celery
    from shared.config import Settings

    settings = Settings(database_url="postgresql+psycopg://u@localhost/db", redis_url="redis://localhost:6379/0")
    product = make_celery(settings, "t")
    app = without_ack_emulation(make_celery(settings, "t"))
    options = app.conf.broker_transport_options
    assert options.pop("ack_emulation") is False
    assert options == product.conf.broker_transport_options
    assert "ack_emulation" not in product.conf.broker_transport_options


class _Conn:
    """Enough of a psycopg connection for pg_take: what it was asked, in order."""

    def __init__(self, rows):
        self.rows, self.calls = list(rows), []

    def execute(self, query, *args):
        self.calls.append("take")
        return self

    def fetchone(self):
        return self.rows.pop(0) if self.rows else None

    def commit(self):
        self.calls.append("commit")


def test_a_pg_take_parses_the_payload_then_commits_one_row_per_transaction():
    conn = _Conn([(json.dumps({"a": 1}).encode(),)])
    assert pg_take(conn) is True and conn.calls == ["take", "commit"]
    assert pg_take(conn) is False and conn.calls == ["take", "commit", "take", "commit"]  # the empty take commits
    bad = _Conn([(b"not json",)])
    with pytest.raises(json.JSONDecodeError):
        pg_take(bad)
    assert bad.calls == ["take"]  # a payload that does not parse is not committed away


def test_statements_per_message_from_two_reads_of_pg_stat_statements_without_the_reads():
    insert = "WITH queued AS (INSERT INTO bench.hop_queue (payload) VALUES ($1) RETURNING id) SELECT pg_notify($2, $3)"
    before = {
        "BEGIN": {"calls": 10, "exec_ms": 0.1},
        "SELECT s.query FROM pg_stat_statements s": {"calls": 1, "exec_ms": 5.0},
    }
    after = {
        "BEGIN": {"calls": 410, "exec_ms": 0.5},
        "COMMIT": {"calls": 400, "exec_ms": 20.0},
        insert: {"calls": 200, "exec_ms": 19.5},
        "SELECT s.query FROM pg_stat_statements s": {"calls": 2, "exec_ms": 10.0},
    }
    found = statements_per_message(before, after, 200)
    assert found["calls"] == {"BEGIN": 2.0, "COMMIT": 2.0, insert[:77] + "...": 1.0}
    assert found["total_calls"] == 5.0
    assert found["server_exec_usec"] == 199.5  # (0.4 + 20 + 19.5) ms over 200 messages
    assert statements_per_message(before, after, 0) == {}


def _phase_figures(pub, consumer, server, name, total=None):
    ms = {"publisher_cpu_ms": pub, "consumer_cpu_ms": consumer, f"{name}_cpu_ms": server}
    ms["total_cpu_ms"] = total if total is not None else round(pub + consumer + server, 4)
    return {"per_message_ms": ms, "messages": 1000, "rate_per_second": 50.0, "messages_per_second": 500.0}


def test_the_table_has_a_row_per_phase_for_each_diagnostic_variant_and_says_when_one_was_skipped():
    def variant(pub, consumer, server, name="redis"):
        return {phase: _phase_figures(pub, consumer, server, name) for phase in ("paced", "burst")}

    fig = {
        "variants": {
            "celery": variant(1.5, 3.0, 0.5),
            "raw": variant(0.5, 0.5, 0.3),
            "celery_no_ack_emulation": variant(1.4, 2.0, 0.3),
            "pg_queue": variant(1.0, 1.0, 2.0, "postgres"),
        },
        "ratios": {
            **{f"celery_hop_over_raw_hop{s}": 3.8 for s in ("", "_burst")},
            **{f"celery_no_ack_emulation_over_celery{s}": 0.74 for s in ("", "_burst")},
            **{f"celery_no_ack_emulation_over_raw_hop{s}": 2.8 for s in ("", "_burst")},
            **{f"pg_queue_over_raw_hop{s}": 3.08 for s in ("", "_burst")},
            **{f"pg_queue_over_celery_hop{s}": 0.8 for s in ("", "_burst")},
        },
    }
    rows = table_rows(fig)
    assert all(len(row) == 6 for row in rows)
    no_ack = [row for row in rows if "no ack emulation" in row[1]]
    assert [row[2] for row in no_ack] == ["3.70 (1.40+2.00+0.30)"] * 2
    assert no_ack[0][3] == "5.00 (1.50+3.00+0.50) Celery" and no_ack[0][4] == "0.74" and no_ack[0][5] == "raw: 2.80"
    pg = [row for row in rows if "PostgreSQL" in row[1]]
    assert pg[0][2] == "4.00 (1.00+1.00+2.00)" and pg[0][3].endswith(" raw") and pg[0][5] == "celery: 0.80"
    fig["variants"]["pg_queue"] = {"skipped": "PostgreSQL does not run on this machine: its CPU cannot be read"}
    skipped = [row for row in table_rows(fig) if "PostgreSQL" in row[1]]
    assert len(skipped) == 1 and skipped[0][2] == "skipped"
