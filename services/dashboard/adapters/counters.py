"""The summary's counters (issue #20 item 4; migration 0031): ``complaint_counts`` and ``feedback_counts``, the
complaints received in a month, and in a year, of a kecamatan, added up by what ``queries.summary`` counts.

``complaint_counts`` holds one row per (kecamatan, span, start, dimension, value): how many complaints received in
that month (``span`` 'month', ``start`` its first day) or year ('year', 1 January) have that channel, status,
outcome (only those that have one) or category (``belum-ditetapkan`` when none was set), and how many were closed
within the 12 days (dimension ``closed_within``, value ''). Each complaint counts once per dimension, so a
kecamatan's month is a few dozen rows however many complaints it had, and a year as many: five years of a
kabupaten are a few thousand rows. ``feedback_counts``: the complainants' answers by the three units they are
charged to (``queries._charge_feedback``), per month and per year.

Kept by ``ComplaintsProjection`` in the transaction that writes ``complaints``: a complaint's change takes 1 from
the rows its old row counted in and adds 1 to its new one's (``deltas``), one upsert per table and batch; a row
that reaches 0 is deleted, so the tables hold exactly what ``recompute`` would. The upserts go out in the statement
that writes the batch's complaints (``upserts.write``); a delete only where a count went down. A rebuild's copies are not kept
batch by batch (its open complaints wait in memory, ``hold_or_write``): ``recompute`` fills them from the rebuilt
``complaints`` when those are written out (``flush``), and the swap's last events are kept as live.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

from sqlalchemy import Table, text
from sqlalchemy.engine import Connection

from services.dashboard.adapters import tables as t
from services.dashboard.adapters.upserts import Upsert, delete_where_zero, write
from shared.contracts import categories

UNSET = categories.UNSET_CODE
SPANS = ("month", "year")
DIMENSIONS = ("channel", "status", "outcome", "category", "closed_within")
FEEDBACK = ("responded", "answered", "satisfied", "rating_sum", "reopened", "objections")
COUNT_KEY = ("kecamatan", "span", "start", "dimension", "value")
FEEDBACK_KEY = ("kecamatan", "span", "start", "disposition_unit", "feedback_unit", "reopened_unit")


def starts(day: date) -> tuple[tuple[str, date], ...]:
    return (("month", day.replace(day=1)), ("year", day.replace(month=1, day=1)))


def count_keys(row: Mapping[str, Any]) -> list[tuple]:
    """The ``complaint_counts`` rows one complaint counts in."""
    values = [
        ("channel", row["channel"]),
        ("status", row["status"]),
        ("category", row.get("category") or UNSET),
    ]
    if row.get("outcome"):
        values.append(("outcome", row["outcome"]))
    if row["status"] == "closed" and row.get("within_sla") is True:
        values.append(("closed_within", ""))
    return [(row["kecamatan"], span, start, d, v) for span, start in starts(row["received_date"]) for d, v in values]


def feedback_keys(row: Mapping[str, Any]) -> list[tuple]:
    units = (row.get("disposition_unit") or "", row.get("feedback_unit") or "", row.get("reopened_unit") or "")
    return [(row["kecamatan"], span, start, *units) for span, start in starts(row["received_date"])]


def feedback_values(row: Mapping[str, Any]) -> tuple[int, ...]:
    """n, then ``FEEDBACK``'s counts of one complaint."""
    rating = row.get("feedback_rating")
    return (
        1,
        int(row.get("sent_at") is not None),
        int(rating is not None),
        int(row.get("feedback_satisfied") is True),
        int(rating or 0),
        int((row.get("reopened") or 0) > 0),
        int(row.get("objection_at") is not None),
    )


def deltas(changes: Iterable[tuple[Mapping[str, Any] | None, Mapping[str, Any]]]) -> tuple[dict, dict]:
    """What ``changes`` (a complaint's row before, None when new, and after) do to the two tables: by key, the
    change of ``n`` (complaint_counts) and of n and ``FEEDBACK`` (feedback_counts); keys that do not move are left out."""
    counts: dict[tuple, int] = {}
    feedback: dict[tuple, list[int]] = {}
    for old, new in changes:
        for row, sign in ((old, -1), (new, 1)):
            if row is None:
                continue
            for key in count_keys(row):
                counts[key] = counts.get(key, 0) + sign
            add = feedback_values(row)
            for key in feedback_keys(row):
                values = feedback.setdefault(key, [0] * 7)
                for i, v in enumerate(add):
                    values[i] += sign * v
    return (
        {k: n for k, n in counts.items() if n},
        {k: v for k, v in feedback.items() if any(v)},
    )


def upserts(tables: Mapping[str, Table], changes: Iterable[tuple[Mapping | None, Mapping]]) -> tuple[list, list]:
    """What ``changes`` do to the two tables: their upserts (each key's change added to its row; to go out with the
    batch's other writes, ``upserts.write``) and, for the keys whose ``n`` went down, what to delete where it reached
    0 afterwards (``upserts.delete_where_zero``; a row only reaches 0 by going down)."""
    counts, feedback = deltas(changes)
    value_names = ("n", *FEEDBACK)
    writes = [
        Upsert(
            tables["complaint_counts"],
            [dict(zip(COUNT_KEY, k, strict=True), n=n) for k, n in sorted(counts.items())],
            COUNT_KEY,
            "add",
        ),
        Upsert(
            tables["feedback_counts"],
            [
                dict(zip(FEEDBACK_KEY, k, strict=True), **dict(zip(value_names, v, strict=True)))
                for k, v in sorted(feedback.items())
            ],
            FEEDBACK_KEY,
            "add",
        ),
    ]
    gone_down = [
        (
            tables["complaint_counts"],
            COUNT_KEY,
            [dict(zip(COUNT_KEY, k, strict=True)) for k, n in counts.items() if n < 0],
        ),
        (
            tables["feedback_counts"],
            FEEDBACK_KEY,
            [dict(zip(FEEDBACK_KEY, k, strict=True)) for k, v in feedback.items() if v[0] < 0],
        ),
    ]
    return writes, gone_down


def apply(conn: Connection, tables: Mapping[str, Table], changes: Iterable[tuple[Mapping | None, Mapping]]) -> None:
    """The counters moved by ``changes``: one upsert statement, then the rows that reached 0 deleted (gone, as a
    recount would leave them)."""
    writes, gone_down = upserts(tables, changes)
    write(conn, writes)
    delete_where_zero(conn, gone_down)


def recompute(conn: Connection, tables: Mapping[str, Table]) -> None:
    """Both tables counted again from ``tables["complaints"]`` (a rebuild's copies)."""
    for sql in recount_sql(tables["complaints"].name, tables["complaint_counts"].name, tables["feedback_counts"].name):
        conn.execute(text(sql))


def recount_sql(complaints: str, complaint_counts: str, feedback_counts: str) -> list[str]:
    """The statements that fill both tables from ``complaints`` (all in schema ``dashboard``); migration 0031 runs
    the same text."""
    c, cc, fc = (f'{t.SCHEMA}."{n}"' for n in (complaints, complaint_counts, feedback_counts))
    spans = "(VALUES ('month'), ('year')) AS s(span)"
    start = "date_trunc(s.span, x.received_date)::date"
    marginals = (
        "(VALUES ('channel', x.channel), ('status', x.status), "
        f"('category', coalesce(x.category, '{UNSET}')), ('outcome', x.outcome), "
        "('closed_within', CASE WHEN x.status = 'closed' AND x.within_sla THEN '' END)) AS d(dimension, value)"
    )
    return [
        f"DELETE FROM {cc}",
        (
            f"INSERT INTO {cc} (kecamatan, span, start, dimension, value, n) "
            f"SELECT x.kecamatan, s.span, {start}, d.dimension, d.value, count(*) "
            f"FROM {c} x CROSS JOIN {spans} CROSS JOIN LATERAL {marginals} "
            "WHERE d.value IS NOT NULL GROUP BY 1, 2, 3, 4, 5"
        ),
        f"DELETE FROM {fc}",
        (
            f"INSERT INTO {fc} (kecamatan, span, start, disposition_unit, feedback_unit, reopened_unit, n, "
            f"{', '.join(FEEDBACK)}) "
            f"SELECT x.kecamatan, s.span, {start}, coalesce(x.disposition_unit, ''), coalesce(x.feedback_unit, ''), "
            "coalesce(x.reopened_unit, ''), count(*), count(*) FILTER (WHERE x.sent_at IS NOT NULL), "
            "count(*) FILTER (WHERE x.feedback_rating IS NOT NULL), count(*) FILTER (WHERE x.feedback_satisfied), "
            "coalesce(sum(x.feedback_rating), 0), count(*) FILTER (WHERE x.reopened > 0), "
            f"count(*) FILTER (WHERE x.objection_at IS NOT NULL) FROM {c} x CROSS JOIN {spans} GROUP BY 1, 2, 3, 4, 5, 6"
        ),
    ]
