"""The verdict of a chaos run, kept apart from the stack so it can be tested on its own: which goals hold,
which of them gate the exit status, and the table and summary lines a CI log shows.

The counts (lost, doubled, 500s, dead letters, stream order, leftovers, processes) always gate: they do not
depend on how busy the machine is. The recovery times do, each its own way: ``time_gates`` names those that
gate ("workflow", "acknowledgment"); chaos/README.md has the figures behind the choice of ``--ci``.
"""

from __future__ import annotations

from collections.abc import Collection
from dataclasses import dataclass
from typing import Any

GOAL_WORKFLOW_S, GOAL_ACK_S = 60.0, 120.0
# an unplanned restart of a process during one run is reported; this many of the same process is a crash loop
CRASH_LOOP = 3


@dataclass(frozen=True)
class Goal:
    name: str
    met: bool
    gates: bool
    detail: str = ""

    @property
    def failed(self) -> bool:
        return self.gates and not self.met


def _faults_over(rows: list[dict[str, Any]], key: str, limit: float) -> list[str]:
    """Faults whose recovery took longer than limit, or was not seen within the watch (None)."""
    return [
        f"{r['fault']} ({'none' if r[key] is None else r[key]})"
        for r in rows
        if r.get("fault_at") is not None and (r[key] is None or r[key] > limit)
    ]


def _where(rows: list[dict[str, Any]], key: str) -> str:
    return ", ".join(f"{r['fault']}: {r[key]}" for r in rows if r[key])


def judge(
    rows: list[dict[str, Any]],
    invariants: dict[str, Any],
    left: dict[str, Any],
    processes: dict[str, Any],
    not_run: list[str],
    time_gates: Collection[str],
) -> list[Goal]:
    """Every goal of the run, in the order the summary prints them.

    ``rows``: one per window (the warm-up has ``fault_at`` None); ``invariants``: history.invariants();
    ``left``: what was still in flight when the settle ended (``broker`` queue lengths or ``broker_error``,
    ``handoffs_unconsumed``, ``intake_outbox_unpublished``, ``deliveries`` by state);
    ``processes``: ``dead_at_end`` (names) and ``unplanned_restarts`` (name -> count);
    ``not_run``: faults skipped because the time budget ran out; ``time_gates``: which recovery times gate."""
    total = {k: sum(r[k] for r in rows) for k in ("lost", "doubled", "ack_missing", "ack_doubled", "500", "5xx")}
    stores = {k: v for k, v in invariants.items() if k.endswith(".events")}
    dead_letters = {k: v for k, v in invariants.get("dead_letters", {}).items() if v}
    broker = left.get("broker") or {}
    leftovers = {
        **(
            {"intake.outbox unpublished": left["intake_outbox_unpublished"]}
            if left.get("intake_outbox_unpublished")
            else {}
        ),
        **{
            f"notify.deliveries {s}": left.get("deliveries", {}).get(s)
            for s in ("pending", "sending")
            if left.get("deliveries", {}).get(s)
        },
        **{f"redis {q}": n for q, n in broker.items() if n},
        **{f"hand-offs {k} unconsumed": n for k, n in (left.get("handoffs_unconsumed") or {}).items() if n},
    }
    if left.get("broker_error"):
        leftovers["redis unreadable"] = left["broker_error"]
    restarts = processes.get("unplanned_restarts", {})
    looping = {n: c for n, c in restarts.items() if c >= CRASH_LOOP}
    dead = processes.get("dead_at_end", [])
    slow_wf = _faults_over(rows, "recovery_workflow_s", GOAL_WORKFLOW_S)
    slow_ack = _faults_over(rows, "recovery_ack_s", GOAL_ACK_S)

    def timing(kind: str) -> str:
        return "gating" if kind in time_gates else "reported; gates only with --strict-times"

    return [
        Goal("no_loss", total["lost"] == 0, True, _where(rows, "lost")),
        Goal("no_doubles", total["doubled"] == 0, True, _where(rows, "doubled")),
        Goal("every_acknowledgment_sent", total["ack_missing"] == 0, True, _where(rows, "ack_missing")),
        Goal("no_acknowledgment_doubles", total["ack_doubled"] == 0, True, _where(rows, "ack_doubled")),
        Goal("no_500", total["500"] == 0, True, _where(rows, "500")),
        Goal(
            "no_5xx",
            total["5xx"] == 0,
            False,
            (_where(rows, "5xx") + "; a 503 while PostgreSQL restarts is the designed answer") if total["5xx"] else "",
        ),
        Goal("no_dead_letters", not dead_letters, True, ", ".join(f"{k}: {v}" for k, v in dead_letters.items())),
        Goal(
            "streams_gapless_and_ordered",
            bool(stores)
            and all(
                v["streams_with_version_gaps"] == 0 and v["positions_not_increasing_with_version"] == 0
                for v in stores.values()
            ),
            True,
            ", ".join(
                f"{k}: {v['streams_with_version_gaps']} gaps, {v['positions_not_increasing_with_version']} out of order"
                for k, v in stores.items()
                if v["streams_with_version_gaps"] or v["positions_not_increasing_with_version"]
            )
            or ("" if stores else "no event store found"),
        ),
        Goal("nothing_left_behind", not leftovers, True, ", ".join(f"{k}: {v}" for k, v in leftovers.items())),
        Goal(
            "processes_running",
            not dead and not looping,
            True,
            "; ".join(
                [
                    *(f"{n} not running at the end" for n in dead),
                    *(f"{n} restarted {c} times (crash loop)" for n, c in looping.items()),
                ]
            ),
        ),
        Goal("every_fault_run", not not_run, True, f"not run (time budget): {', '.join(not_run)}" if not_run else ""),
        Goal(
            f"workflow_within_{GOAL_WORKFLOW_S:.0f}s",
            not slow_wf,
            "workflow" in time_gates,
            "; ".join([*([", ".join(slow_wf)] if slow_wf else []), timing("workflow")]),
        ),
        Goal(
            f"acknowledged_within_{GOAL_ACK_S:.0f}s",
            not slow_ack,
            "acknowledgment" in time_gates,
            "; ".join([*([", ".join(slow_ack)] if slow_ack else []), timing("acknowledgment")]),
        ),
    ]


def exit_status(goals: list[Goal]) -> int:
    return 1 if any(g.failed for g in goals) else 0


def summary(goals: list[Goal]) -> list[str]:
    """One line per goal: ok / FAILED (gates) / missed (reported only), with what broke it."""
    out = []
    for g in goals:
        mark = "ok" if g.met else ("FAILED" if g.gates else "missed")
        out.append(f"  {mark:<6} {g.name}" + (f"  ({g.detail})" if g.detail else ""))
    failed = [g.name for g in goals if g.failed]
    out.append(f"chaos: {'FAIL: ' + ', '.join(failed) if failed else 'PASS'}")
    return out


def _seconds(row: dict[str, Any], key: str, goal: float) -> str:
    if row.get("fault_at") is None:
        return "-"
    value = row[key]
    if value is None:
        return f"none in {row.get('watched_s', '?')}s !"
    return f"{value}" + (" !" if value > goal else "")


HEAD = (
    "fault",
    "acked",
    "arrived",
    "lost",
    "doubled",
    "5xx (500)",
    "ack sent",
    "ack doubled",
    "recovery to workflow (s)",
    "recovery to ack (s)",
)


def table(rows: list[dict[str, Any]]) -> str:
    """A Markdown table, padded so it also reads in a CI log; ``!`` marks a time past its goal."""
    body = [
        (
            r["fault"],
            r["acked"],
            r["arrived"],
            r["lost"],
            r["doubled"],
            f"{r['5xx']} ({r['500']})",
            r["ack_sent"],
            r["ack_doubled"],
            _seconds(r, "recovery_workflow_s", GOAL_WORKFLOW_S),
            _seconds(r, "recovery_ack_s", GOAL_ACK_S),
        )
        for r in rows
    ]
    cells = [list(HEAD)] + [[str(c) for c in line] for line in body]
    widths = [max(len(line[i]) for line in cells) for i in range(len(HEAD))]
    lines = []
    for n, line in enumerate(cells):
        lines.append(
            "| " + " | ".join(c.ljust(w) if i == 0 else c.rjust(w) for i, (c, w) in enumerate(zip(line, widths))) + " |"  # noqa: B905
        )
        if n == 0:
            lines.append("|" + "|".join("-" * (w + 1) + (":" if i else "-") for i, w in enumerate(widths)) + "|")
    return "\n".join(lines)
