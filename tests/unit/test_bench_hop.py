"""bench/hop.py's accounting: CPU ms per message by part and in total, net of the consumers' idle CPU, the ratios
part by part, and the worker's per-task log lines counted in what it wrote during a phase."""

from __future__ import annotations

from bench.hop import commands_per_message, log_lines, net_of_idle, part_ratios, per_message, relay_message

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
    import os

    from bench.cpu import family_cpu_seconds
    from bench.hop import precise_family_cpu_seconds

    sum(i * i for i in range(200_000))  # some CPU of our own
    precise, ticks = precise_family_cpu_seconds(os.getpid()), family_cpu_seconds(os.getpid())
    assert precise > 0 and abs(precise - ticks) < 0.05
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
