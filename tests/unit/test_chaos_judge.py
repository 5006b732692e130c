"""The chaos suite's verdict (chaos/judge.py): which findings fail the run, and what the CI log shows."""

from __future__ import annotations

from typing import Any

from chaos.judge import exit_status, judge, summary, table


def row(fault: str = "workflow", **over: Any) -> dict[str, Any]:
    base = {
        "fault": fault,
        "fault_at": 10.0,
        "acked": 50,
        "arrived": 50,
        "lost": 0,
        "doubled": 0,
        "5xx": 0,
        "500": 0,
        "ack_sent": 50,
        "ack_missing": 0,
        "ack_doubled": 0,
        "recovery_workflow_s": 1.1,
        "recovery_ack_s": 3.6,
        "watched_s": 120.0,
    }
    return {**base, **over}


def clean_invariants() -> dict[str, Any]:
    return {
        "workflow.events": {"streams": 100, "streams_with_version_gaps": 0, "positions_not_increasing_with_version": 0},
        "dead_letters": {"workflow": 0, "notify": 0},
        "intake_outbox_unpublished": 0,
        "notify_deliveries_by_state": {"sent": 99, "unknown": 1},
    }


def clean_left() -> dict[str, Any]:
    return {
        "intake_outbox_unpublished": 0,
        "deliveries": {"sent": 99, "unknown": 1},
        "handoffs_unconsumed": {"workflow->notify": 0},
        "broker": {"workflow": 0, "letters": 0, "notify": 0, "unacked": 0},
    }


def verdict(rows=None, invariants=None, left=None, processes=None, not_run=(), time_gates=()):
    goals = judge(
        rows
        if rows is not None
        else [row("warm-up (no fault)", fault_at=None, recovery_workflow_s=None, recovery_ack_s=None), row()],
        invariants or clean_invariants(),
        left or clean_left(),
        processes or {"dead_at_end": [], "unplanned_restarts": {}},
        list(not_run),
        time_gates,
    )
    return {g.name: g for g in goals}, exit_status(goals)


def test_a_clean_run_passes_and_says_so():
    goals, status = verdict()
    assert status == 0
    assert all(g.met for g in goals.values())
    assert summary(list(goals.values()))[-1] == "chaos: PASS"


def test_each_count_fails_the_run_and_names_the_fault():
    for key, goal in (
        ("lost", "no_loss"),
        ("doubled", "no_doubles"),
        ("ack_missing", "every_acknowledgment_sent"),
        ("ack_doubled", "no_acknowledgment_doubles"),
        ("500", "no_500"),
    ):
        goals, status = verdict(rows=[row(), row("redis", **{key: 2})])
        assert status == 1, key
        assert goals[goal].failed and goals[goal].detail == "redis: 2"
        assert summary(list(goals.values()))[-1] == f"chaos: FAIL: {goal}"


def test_a_503_is_reported_but_does_not_fail():
    goals, status = verdict(rows=[row("postgres", **{"5xx": 3})])
    assert status == 0
    assert not goals["no_5xx"].met and not goals["no_5xx"].gates
    assert "  missed no_5xx" in "\n".join(summary(list(goals.values())))


def test_anything_left_in_the_broker_or_a_ledger_fails():
    left = clean_left()
    left["broker"]["notify"] = 987
    left["handoffs_unconsumed"]["workflow->notify"] = 4
    goals, status = verdict(left=left)
    assert status == 1
    assert goals["nothing_left_behind"].detail == "redis notify: 987, hand-offs workflow->notify unconsumed: 4"


def test_an_unreadable_broker_is_not_taken_for_an_empty_one():
    left = {**clean_left(), "broker": None, "broker_error": "ConnectionError()"}
    goals, status = verdict(left=left)
    assert status == 1 and "redis unreadable" in goals["nothing_left_behind"].detail


def test_outbox_and_unfinished_deliveries_fail():
    left = {**clean_left(), "intake_outbox_unpublished": 1, "deliveries": {"sent": 9, "sending": 1}}
    goals, status = verdict(left=left)
    assert status == 1
    assert goals["nothing_left_behind"].detail == "intake.outbox unpublished: 1, notify.deliveries sending: 1"


def test_dead_letters_and_stream_gaps_fail():
    inv = clean_invariants()
    inv["dead_letters"]["notify"] = 1
    inv["workflow.events"]["streams_with_version_gaps"] = 2
    goals, status = verdict(invariants=inv)
    assert status == 1
    assert goals["no_dead_letters"].detail == "notify: 1"
    assert goals["streams_gapless_and_ordered"].detail == "workflow.events: 2 gaps, 0 out of order"


def test_a_process_dead_at_the_end_or_in_a_crash_loop_fails_one_restart_does_not():
    _, status = verdict(processes={"dead_at_end": [], "unplanned_restarts": {"worker workflow": 1}})
    assert status == 0
    goals, status = verdict(processes={"dead_at_end": ["relay"], "unplanned_restarts": {"worker workflow": 3}})
    assert status == 1
    assert goals["processes_running"].detail == (
        "relay not running at the end; worker workflow restarted 3 times (crash loop)"
    )


def test_faults_skipped_for_the_budget_fail():
    goals, status = verdict(not_run=["redis", "postgres"])
    assert status == 1 and goals["every_fault_run"].detail == "not run (time budget): redis, postgres"


def test_each_recovery_time_gates_only_when_named():
    rows = [row(recovery_workflow_s=61.0), row("redis", recovery_ack_s=None)]
    goals, status = verdict(rows=rows)
    assert status == 0
    assert not goals["workflow_within_60s"].met and not goals["workflow_within_60s"].gates
    assert goals["acknowledged_within_120s"].detail == "redis (none); reported; gates only with --strict-times"
    goals, status = verdict(rows=rows, time_gates=("workflow",))  # --ci
    assert status == 1
    assert summary(list(goals.values()))[-1] == "chaos: FAIL: workflow_within_60s"
    assert not goals["acknowledged_within_120s"].gates
    goals, status = verdict(rows=rows, time_gates=("workflow", "acknowledgment"))
    assert summary(list(goals.values()))[-1] == "chaos: FAIL: workflow_within_60s, acknowledged_within_120s"


def test_the_table_marks_times_past_their_goal():
    text = table(
        [
            row("warm-up (no fault)", fault_at=None, recovery_workflow_s=None, recovery_ack_s=None),
            row("workflow", recovery_workflow_s=61.0),
            row("redis", recovery_ack_s=None, watched_s=120.0),
        ]
    )
    lines = text.splitlines()
    assert lines[0].split("|")[1].strip() == "fault" and len(lines) == 5
    assert len({len(line) for line in lines}) == 1  # padded: columns line up in a CI log
    warm, workflow, redis = ([c.strip() for c in line.strip("|").split("|")] for line in lines[2:])
    assert warm[-2:] == ["-", "-"]
    assert workflow[-2:] == ["61.0 !", "3.6"]
    assert redis[-1] == "none in 120.0s !"
    assert redis[5] == "0 (0)"


def test_the_ci_profile_and_explicit_flags():
    from chaos.__main__ import parse

    ci = parse(["--ci"])
    assert (ci.rate, ci.before, ci.after, ci.move_on, ci.timeout, ci.budget, ci.time_gates) == (
        2.0,
        5.0,
        10.0,
        30.0,
        120.0,
        570.0,
        ("workflow",),
    )
    assert len(ci.faults) == 8  # every fault kind of the full run
    assert parse(["--ci", "--strict-times", "--rate", "3"]).time_gates == ("workflow", "acknowledgment")
    assert parse(["--ci", "--no-strict-times"]).time_gates == ()
    assert parse(["--ci", "--rate", "3"]).rate == 3.0
    full = parse([])
    assert (full.rate, full.move_on, full.budget, full.time_gates) == (5.0, 180.0, None, ("workflow", "acknowledgment"))
    assert parse(["--quick"]).time_gates == ("workflow", "acknowledgment")
