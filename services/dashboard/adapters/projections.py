"""The dashboard's projections: how a batch of the store's events changes their tables (the rules are in
``domain/complaints.py`` and ``domain/service_requests.py``), each a ``Projection`` that
``adapters/subscription.py`` runs live or rebuilds; and each kecamatan's working calendar they count time in."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from functools import lru_cache

from sqlalchemy import Select, Table, bindparam, select
from sqlalchemy.engine import Connection

from services.dashboard.adapters import counters, upserts
from services.dashboard.adapters.upserts import Upsert
from services.dashboard.domain import complaints as model
from services.dashboard.domain import service_requests as requests_model
from shared.calendar import WorkingCalendar
from shared.events import EventEnvelope
from shared.tenancy import KecamatanDirectory


class Calendars:
    """Each kecamatan's working calendar (office hours, its own holidays), rebuilt when its settings change;
    the default calendar for a kecamatan the directory does not know (any more)."""

    def __init__(self, directory: KecamatanDirectory) -> None:
        self.directory = directory
        self._cache: dict[str, tuple[object, WorkingCalendar]] = {}
        self._default = WorkingCalendar()

    def for_kecamatan(self, slug: str) -> WorkingCalendar:
        kecamatan = self.directory.get(slug)
        if kecamatan is None:
            return self._default
        key = kecamatan.calendar_key()
        cached = self._cache.get(slug)
        if cached is None or cached[0] != key:
            cached = (key, kecamatan.calendar())
            self._cache[slug] = cached
        return cached[1]


def hold_or_write(rows: dict, changed: set, held: dict | None) -> set:
    """The changed rows to write now. Live (``held`` None): all of them. In a rebuild: only the closed ones;
    the open ones wait in ``held`` (a later event would change them again) until they close or ``flush``."""
    if held is None:
        return changed
    write = {cid for cid in changed if rows[cid]["status"] == "closed"}
    for cid in changed:
        if cid in write:
            held.pop(cid, None)
        else:
            held[cid] = rows[cid]
    return write


class ComplaintsProjection:
    """``dashboard.complaints`` (one row per complaint) and ``dashboard.step_times`` (one row per completed
    step occurrence); the rules are in ``domain/complaints.py``. The summary's counters
    (``complaint_counts``, ``feedback_counts``: ``adapters/counters.py``) move with the complaints' rows."""

    name = "dashboard.complaints"
    table_names = ("complaints", "step_times", "complaint_counts", "feedback_counts")
    types = model.HANDLED

    def __init__(self, calendars: Calendars) -> None:
        self.calendars = calendars

    def apply_batch(
        self, conn: Connection, tables: Mapping[str, Table], events: Sequence[EventEnvelope], held: dict | None = None
    ) -> None:
        """Applies ``events`` to the tables. ``held`` (a rebuild's copies only): the open complaints' rows, kept
        in memory from batch to batch instead of being read back and written again with every batch they
        appear in (about five times each); a row is written when its complaint closes, the rest by ``flush``.
        A complaint not held (closed earlier, or never seen) is read from the table as usual."""
        complaints, step_times = tables["complaints"], tables["step_times"]
        relevant = [(model.complaint_id_of(e), e) for e in events if model.handles(e.type)]
        ids = sorted({cid for cid, _ in relevant if cid is not None})
        if not ids:
            return
        rows = {cid: held[cid] for cid in ids if cid in held} if held is not None else {}
        missing = [cid for cid in ids if cid not in rows]
        if missing:
            rows.update(
                (r["complaint_id"], dict(r)) for r in conn.execute(rows_of(complaints), {"ids": missing}).mappings()
            )
        before = dict(rows)  # rows are replaced, never changed in place: the rows as the table holds them
        changed: set = set()
        new_steps: list[dict] = []
        for cid, event in relevant:
            if cid is None:
                continue
            row, steps = model.apply(rows.get(cid), event, self.calendars.for_kecamatan(event.kecamatan))
            if row is None or row is rows.get(cid):
                continue
            rows[cid] = row
            changed.add(cid)
            new_steps.extend(steps)
        write = hold_or_write(rows, changed, held)
        writes = [
            Upsert(complaints, [rows[cid] for cid in sorted(write)], ("complaint_id",)),
            Upsert(step_times, new_steps, ("complaint_id", "step", "occurrence"), "nothing"),
        ]
        gone_down: list = []
        if write and held is None:  # a rebuild's copies are counted once, by ``flush``
            moved, gone_down = counters.upserts(tables, [(before.get(cid), rows[cid]) for cid in sorted(write)])
            writes.extend(moved)
        upserts.write(conn, writes)  # the complaints, their steps and the counters: one statement
        upserts.delete_where_zero(conn, gone_down)

    def flush(self, conn: Connection, tables: Mapping[str, Table], held: dict) -> None:
        """Writes the rows ``apply_batch`` held (the complaints still open at the end of a rebuild's catch-up), then
        counts the summary's counters from the copy of ``complaints`` (``counters.recompute``): from here on the
        copies are kept as the live tables are (the swap's last events, a batch applied event by event)."""
        if held:
            upsert(conn, tables["complaints"], [held[cid] for cid in sorted(held)], key=("complaint_id",))
        held.clear()
        counters.recompute(conn, tables)


class ServiceRequestsProjection:
    """``dashboard.service_requests``: each complaint as Open311's reads show it (``domain/service_requests.py``).
    It reads every event of the workflow's contract, so that ``updated_at`` follows notifications and alerts
    too: a projection of its own, so that the complaints projection (and its rebuild) keeps skipping them."""

    name = "dashboard.service_requests"
    table_names = ("service_requests",)
    types = requests_model.TYPES

    def apply_batch(
        self, conn: Connection, tables: Mapping[str, Table], events: Sequence[EventEnvelope], held: dict | None = None
    ) -> None:
        """As ``ComplaintsProjection.apply_batch``: with ``held`` (a rebuild's copies), open complaints' rows stay
        in memory until they close or ``flush``."""
        table = tables["service_requests"]
        relevant = [(cid, e) for e in events if (cid := requests_model.complaint_id_of(e)) is not None]
        ids = sorted({cid for cid, _ in relevant})
        if not ids:
            return
        rows = {cid: held[cid] for cid in ids if cid in held} if held is not None else {}
        missing = [cid for cid in ids if cid not in rows]
        if missing:
            rows.update((r["complaint_id"], dict(r)) for r in conn.execute(rows_of(table), {"ids": missing}).mappings())
        changed: set = set()
        for cid, event in relevant:
            row = requests_model.apply(rows.get(cid), event)
            if row is not None and row is not rows.get(cid):
                rows[cid] = row
                changed.add(cid)
        write = hold_or_write(rows, changed, held)
        if write:
            upsert(conn, table, [rows[cid] for cid in sorted(write)], key=("complaint_id",))

    def flush(self, conn: Connection, tables: Mapping[str, Table], held: dict) -> None:
        if held:
            upsert(conn, tables["service_requests"], [held[cid] for cid in sorted(held)], key=("complaint_id",))
        held.clear()


@lru_cache(maxsize=32)
def rows_of(table: Table) -> Select:
    """The rows of ``table`` (live or a rebuild's copy) whose ``complaint_id`` is in the list bound as ``ids``: built
    once per table, so a round does not build the statement and its cache key again for every batch."""
    return select(table).where(table.c.complaint_id.in_(bindparam("ids", expanding=True)))


def upsert(conn: Connection, table: Table, rows: list[dict], *, key: tuple[str, ...], update: bool = True) -> None:
    """One table's rows in one statement (``upserts.write``): replaced on a conflict on ``key``, or left as they are."""
    upserts.write(conn, [Upsert(table, rows, key, "replace" if update else "nothing")])
