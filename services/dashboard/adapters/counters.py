"""The summary's counters (issue #20 item 4; migration 0031): ``complaint_counts`` and ``feedback_counts``, the
complaints received in a month of a kecamatan added up by what ``queries.summary`` counts them by.

Kept by ``ComplaintsProjection`` in the transaction that writes ``complaints``: a complaint's change takes 1 from
the combination its old row counted in and adds 1 to its new one's (``deltas``), one upsert per table and batch;
a row that reaches 0 is deleted, so the tables hold exactly what ``recompute`` would. A rebuild's copies are not
kept batch by batch (its open complaints wait in memory, ``hold_or_write``): ``recompute`` fills them from the
rebuilt ``complaints`` when those are written out (``flush``), and the swap's last events are kept as live.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from datetime import date
from typing import Any

import orjson
from sqlalchemy import Table, text
from sqlalchemy.engine import Connection

from services.dashboard.adapters import tables as t
from shared.contracts import categories

UNSET = categories.UNSET_CODE
FEEDBACK = ("responded", "answered", "satisfied", "rating_sum", "reopened", "objections")
COUNT_KEY = ("kecamatan", "month", "channel", "status", "outcome", "category", "closed_within")
FEEDBACK_KEY = ("kecamatan", "month", "disposition_unit", "feedback_unit", "reopened_unit")


def _month(day: date) -> date:
    return day.replace(day=1)


def count_key(row: Mapping[str, Any]) -> tuple:
    return (
        row["kecamatan"],
        _month(row["received_date"]),
        row["channel"],
        row["status"],
        row.get("outcome") or "",
        row.get("category") or UNSET,
        row["status"] == "closed" and row.get("within_sla") is True,
    )


def feedback_key(row: Mapping[str, Any]) -> tuple:
    return (
        row["kecamatan"],
        _month(row["received_date"]),
        row.get("disposition_unit") or "",
        row.get("feedback_unit") or "",
        row.get("reopened_unit") or "",
    )


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
            key = count_key(row)
            counts[key] = counts.get(key, 0) + sign
            values = feedback.setdefault(feedback_key(row), [0] * 7)
            for i, v in enumerate(feedback_values(row)):
                values[i] += sign * v
    return (
        {k: n for k, n in counts.items() if n},
        {k: v for k, v in feedback.items() if any(v)},
    )


def apply(conn: Connection, tables: Mapping[str, Table], changes: Iterable[tuple[Mapping | None, Mapping]]) -> None:
    """The counters moved by ``changes``: one upsert per table, then the rows that reached 0 deleted."""
    counts, feedback = deltas(changes)
    if counts:
        _add(
            conn,
            tables["complaint_counts"],
            COUNT_KEY,
            ("n",),
            [dict(zip(COUNT_KEY, k, strict=True), n=n) for k, n in sorted(counts.items())],
        )
    if feedback:
        value_names = ("n", *FEEDBACK)
        _add(
            conn,
            tables["feedback_counts"],
            FEEDBACK_KEY,
            value_names,
            [
                dict(zip(FEEDBACK_KEY, k, strict=True), **dict(zip(value_names, v, strict=True)))
                for k, v in sorted(feedback.items())
            ],
        )


def _add(conn: Connection, table: Table, key: tuple[str, ...], values: tuple[str, ...], rows: list[dict]) -> None:
    name = f'{t.SCHEMA}."{table.name}"'
    cols = ", ".join(f'"{c}"' for c in (*key, *values))
    added = ", ".join(f'"{v}" = {name}."{v}" + EXCLUDED."{v}"' for v in values)
    data = orjson.dumps(rows).decode()
    conn.execute(
        text(
            f"INSERT INTO {name} ({cols}) SELECT {cols} FROM jsonb_populate_recordset(NULL::{name}, CAST(:rows AS jsonb)) "
            f"ON CONFLICT ({', '.join(key)}) DO UPDATE SET {added}"
        ),
        {"rows": data},
    )
    # rows that reached 0 (every complaint in them moved on): gone, as a recount would leave them
    conn.execute(
        text(
            f"DELETE FROM {name} t USING jsonb_populate_recordset(NULL::{name}, CAST(:rows AS jsonb)) d "
            f"WHERE t.n = 0 AND " + " AND ".join(f't."{k}" = d."{k}"' for k in key)
        ),
        {"rows": data},
    )


def recompute(conn: Connection, tables: Mapping[str, Table]) -> None:
    """Both tables counted again from ``tables["complaints"]`` (a rebuild's copies; migration 0031's first fill)."""
    for sql in recount_sql(tables["complaints"].name, tables["complaint_counts"].name, tables["feedback_counts"].name):
        conn.execute(text(sql))


def recount_sql(complaints: str, complaint_counts: str, feedback_counts: str) -> list[str]:
    c, cc, fc = (f'{t.SCHEMA}."{n}"' for n in (complaints, complaint_counts, feedback_counts))
    month = "date_trunc('month', received_date)::date"
    return [
        f"DELETE FROM {cc}",
        (
            f"INSERT INTO {cc} (kecamatan, month, channel, status, outcome, category, closed_within, n) "
            f"SELECT kecamatan, {month}, channel, status, coalesce(outcome, ''), coalesce(category, '{UNSET}'), "
            f"coalesce(status = 'closed' AND within_sla, false), count(*) FROM {c} GROUP BY 1, 2, 3, 4, 5, 6, 7"
        ),
        f"DELETE FROM {fc}",
        (
            f"INSERT INTO {fc} (kecamatan, month, disposition_unit, feedback_unit, reopened_unit, n, "
            f"{', '.join(FEEDBACK)}) "
            f"SELECT kecamatan, {month}, coalesce(disposition_unit, ''), coalesce(feedback_unit, ''), "
            f"coalesce(reopened_unit, ''), count(*), count(*) FILTER (WHERE sent_at IS NOT NULL), "
            f"count(*) FILTER (WHERE feedback_rating IS NOT NULL), count(*) FILTER (WHERE feedback_satisfied), "
            f"coalesce(sum(feedback_rating), 0), count(*) FILTER (WHERE reopened > 0), "
            f"count(*) FILTER (WHERE objection_at IS NOT NULL) FROM {c} GROUP BY 1, 2, 3, 4, 5"
        ),
    ]
