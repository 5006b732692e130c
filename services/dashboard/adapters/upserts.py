"""The projections' writes: a batch's rows for several tables in ONE statement. Each table's rows travel as one JSON
array that PostgreSQL turns into records of the table's own type (``jsonb_populate_recordset``), upserted with
``INSERT ... SELECT ... ON CONFLICT``; several tables' upserts go out as the data-modifying CTEs of one statement
(they touch different tables, so none needs to see another's rows). An executemany of row-by-row upserts cost a
round of the pipeline per row (about half of a rebuild's time, bench/README.md section 6); a statement per table
cost a round trip each in every live round (the walk benchmark, issue #20 item 3)."""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import lru_cache
from typing import Literal

import orjson
from sqlalchemy import Table, TextClause, text
from sqlalchemy.engine import Connection

from services.dashboard.adapters import tables as t


@dataclass(frozen=True)
class Upsert:
    """``rows`` (dicts of ``table``'s columns) into ``table``; on a conflict on ``key``: ``replace`` the other columns,
    do ``nothing``, or ``add`` the new values to the stored ones (the counters)."""

    table: Table
    rows: Sequence[dict]
    key: tuple[str, ...]
    on_conflict: Literal["replace", "nothing", "add"] = "replace"

    def sql(self, param: str) -> str:
        name = _name(self.table)
        columns = [c.name for c in self.table.columns]
        listed = ", ".join(f'"{c}"' for c in columns)
        others = [c for c in columns if c not in self.key]
        if self.on_conflict == "nothing":
            conflict = "DO NOTHING"
        elif self.on_conflict == "add":
            conflict = "DO UPDATE SET " + ", ".join(f'"{c}" = {name}."{c}" + EXCLUDED."{c}"' for c in others)
        else:
            conflict = "DO UPDATE SET " + ", ".join(f'"{c}" = EXCLUDED."{c}"' for c in others)
        return (
            f"INSERT INTO {name} ({listed}) SELECT {listed} FROM jsonb_populate_recordset(NULL::{name}, "
            f"CAST(:{param} AS jsonb)) ON CONFLICT ({', '.join(self.key)}) {conflict}"
        )


def write(conn: Connection, upserts: Sequence[Upsert]) -> None:
    """Every upsert that has rows, in one statement (nothing sent when none has)."""
    todo = [u for u in upserts if u.rows]
    if not todo:
        return
    params = {f"rows{i}": _json(u.rows) for i, u in enumerate(todo)}
    first = [f"w{i} AS ({u.sql(f'rows{i}')})" for i, u in enumerate(todo[:-1])]
    last = todo[-1].sql(f"rows{len(todo) - 1}")
    conn.execute(_text(f"WITH {', '.join(first)} {last}" if first else last), params)


def delete_where_zero(conn: Connection, deletes: Sequence[tuple[Table, tuple[str, ...], Sequence[dict]]]) -> None:
    """For each (table, key, keys): the rows of ``table`` at those keys whose ``n`` is 0, in one statement."""
    todo = [d for d in deletes if d[2]]
    if not todo:
        return
    params = {f"keys{i}": _json(keys) for i, (_, _, keys) in enumerate(todo)}
    parts = []
    for i, (table, key, _) in enumerate(todo):
        name = _name(table)
        match = " AND ".join(f'x."{k}" = d."{k}"' for k in key)
        parts.append(
            f"DELETE FROM {name} x USING jsonb_populate_recordset(NULL::{name}, CAST(:keys{i} AS jsonb)) d "
            f"WHERE x.n = 0 AND {match}"
        )
    first = [f"d{i} AS ({sql})" for i, sql in enumerate(parts[:-1])]
    conn.execute(_text(f"WITH {', '.join(first)} {parts[-1]}" if first else parts[-1]), params)


@lru_cache(maxsize=256)
def _text(sql: str) -> TextClause:
    """A statement's ``text()``, made once per SQL string (parsing its bind parameters is not free, and a live
    projection sends the same few shapes of statement in every round)."""
    return text(sql)


def _name(table: Table) -> str:
    return f'{t.SCHEMA}."{table.name}"'


def _json(rows: Sequence[dict]) -> str:
    # UUIDs, dates and aware datetimes (RFC 3339) natively
    return orjson.dumps(list(rows), option=orjson.OPT_NON_STR_KEYS).decode()
