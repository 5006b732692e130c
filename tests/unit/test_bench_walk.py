"""bench/walk.py's accounting (issue #20 item 3): tasks counted from what the workers logged during the walk only,
and the server's CPU per complaint summed without the client and the stand-ins for outside systems."""

from __future__ import annotations

from bench.walk import OUTSIDE, _server_ms, _tasks

LINE = "Task {name}[{id}] succeeded in 0.01s: None\n"


def test_tasks_are_counted_from_the_log_written_after_the_first_look():
    before = {"worker letters": LINE.format(name="letters.issue_receipt", id="a")}
    after = {
        "worker letters": before["worker letters"]
        + LINE.format(name="letters.issue_receipt", id="b")
        + LINE.format(name="letters.render_draft", id="c")
        + "Task letters.render_draft[d] raised unexpected: ValueError()\n",
        "worker notify": LINE.format(name="notify.plan", id="e") * 3,
    }
    assert _tasks(before, after) == {"letters.issue_receipt": 1, "letters.render_draft": 1, "notify.plan": 3}


def test_server_cpu_leaves_out_the_client_the_gateway_and_the_outside_systems():
    cpu = {
        "bench_client_seconds": 1.0,
        "api_workflow_seconds": 0.4,
        "postgres_seconds": 0.6,
        **{f"{name}_seconds": 5.0 for name in OUTSIDE},
        "wall_seconds": 30.0,
        "machine_busy_seconds": 40.0,
        "other_seconds": 20.0,
        "machine_cores": 2,
        "other_share": 0.3,
    }
    ms = _server_ms(cpu, 2)
    assert ms["server_cpu_ms"] == 500.0  # (0.4 + 0.6) s over 2 complaints
    assert ms["api_workflow_cpu_ms"] == 200.0 and ms["gateway_cpu_ms"] == 2500.0
    assert "wall_cpu_ms" not in ms and "other_share_cpu_ms" not in ms
