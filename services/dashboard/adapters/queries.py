"""The dashboard's reads: SQL aggregates over its read models (``dashboard.complaints``,
``dashboard.step_times``), each shaped to an index (see adapters/tables.py):

* the summary, one statement, adds up the counters the projection keeps (``complaint_counts``, ``feedback_counts``:
  a few dozen rows per kecamatan and year or month, adapters/counters.py) for the period's whole years and months,
  and the rows of its part-months at either end on ``complaints_kecamatan_received``; ``open_late`` (it
  depends on the clock) walks the partial index ``complaints_open``. ``summary_scan``, the summary as it was
  (every row of the period counted by every combination, then GROUPING SETS), is kept as the counters' oracle;
* step times scan ``step_times_kecamatan_completed`` for a short period, or ``step_times_groups`` (rows in
  the order of the groups and of the elapsed time: no sort) for long ones; percentiles by ``percentile_cont``;
* overdue work walks the partial index ``complaints_overdue`` (open, in progress) by due time;
* referrals the partial index ``complaints_referred``; the register ``complaints_register``.

Every filter is added only when given (no ``:x IS NULL OR ...``), so each query has a plan on its index.
"""

from __future__ import annotations

import time
from collections.abc import Iterable, Iterator, Sequence
from dataclasses import dataclass
from datetime import date, datetime, timedelta
from typing import Any, NamedTuple

from sqlalchemy import Date, Engine, Float, and_, cast, func, select, text, tuple_
from sqlalchemy.dialects.postgresql import ARRAY, array
from sqlalchemy.engine import Connection

from services.dashboard.adapters.tables import OPEN_NOT_LATE, feedback_counts
from services.dashboard.adapters.tables import complaint_counts as counts
from services.dashboard.adapters.tables import complaints as c
from services.dashboard.adapters.tables import step_times as s
from shared.contracts import categories
from shared.tenancy import kecamatan_table


@dataclass(frozen=True)
class Period:
    """Local dates, both ends included; None: open-ended."""

    start: date | None = None
    end: date | None = None


@dataclass(frozen=True)
class KecamatanInfo:
    slug: str
    name: str
    code: str
    kabupaten_slug: str
    kabupaten_name: str
    active: bool


class KecamatanList:
    """The kecamatan directory as the dashboard needs it (all of them, by kabupaten), cached ``ttl`` seconds."""

    def __init__(self, engine: Engine, ttl: float = 30.0) -> None:
        self._engine = engine
        self._ttl = ttl
        self._loaded_at = float("-inf")
        self._items: dict[str, KecamatanInfo] = {}

    def _fresh(self, force: bool = False) -> dict[str, KecamatanInfo]:
        now = time.monotonic()
        if now - self._loaded_at > self._ttl or (force and now - self._loaded_at > 1.0):
            with self._engine.connect() as conn:
                rows = conn.execute(
                    select(
                        kecamatan_table.c.slug,
                        kecamatan_table.c.name,
                        kecamatan_table.c.code,
                        kecamatan_table.c.kabupaten_slug,
                        kecamatan_table.c.kabupaten_name,
                        kecamatan_table.c.active,
                    ).order_by(kecamatan_table.c.slug)
                ).all()
            self._items = {r.slug: KecamatanInfo(*r) for r in rows}
            self._loaded_at = now
        return self._items

    def get(self, slug: str) -> KecamatanInfo | None:
        found = self._fresh().get(slug)
        return found if found is not None else self._fresh(force=True).get(slug)

    def all(self) -> list[KecamatanInfo]:
        return list(self._fresh().values())

    def of_kabupaten(self, kabupaten: str) -> list[KecamatanInfo]:
        return [k for k in self._fresh().values() if k.kabupaten_slug == kabupaten]


def _received_in(period: Period) -> list:
    conds = []
    if period.start is not None:
        conds.append(c.c.received_date >= period.start)
    if period.end is not None:
        conds.append(c.c.received_date <= period.end)
    return conds


def _share(part: int, whole: int) -> float | None:
    return round(part / whole, 4) if whole else None


# -- summary ---------------------------------------------------------------------------------------------------
UNCATEGORISED = categories.UNSET_CODE  # by_category's key for the complaints no category was set for yet
# the complainants' answers after the response (issue #18 item 1; docs/adr/0020): what is counted of them
FEEDBACK_COUNTS = ("responded", "answered", "satisfied", "rating_sum", "reopened", "objections")


def summary(conn: Connection, kecamatan: list[str], period: Period, now: datetime) -> list[dict[str, Any]]:
    """Per kecamatan: complaints received in the period by channel, status, outcome, month and category (its code in
    the kabupaten's list, ``belum-ditetapkan`` when none was set yet); the SLA; the complainants' answers.
    A referral the kecamatan follows (status ``referred``) is open, but never late: its part is done.

    ONE statement (``_summary_sql``), added up on the server: the period's whole years and whole months from the
    counters the projection keeps (``complaint_counts``, ``feedback_counts``: ``adapters/counters.py``; a few dozen
    rows per kecamatan and year or month), its part-months at either end (at most two, a few weeks of rows) from
    ``complaints`` row by row, in one pass for both tables' figures; ``open_late``, which depends on the clock, from
    the partial index ``complaints_open``. It returns the figures themselves (per kecamatan a few dozen rows) and
    the feedback groups ``_charge_feedback`` shares out. Equal to ``summary_scan`` (a test compares them).
    It was eight statements, their rows grouped here: a kabupaten's year with part-months at both ends took twice as
    long, half of it round trips and Python (issue #20; bench/README.md section 6)."""
    sql, params = _summary_sql(kecamatan, period, now)
    marginals: dict[str, dict[tuple[str, str], int]] = {name: {} for name in kecamatan}
    feedback_rows: list[_FeedbackGroup] = []
    for kind, kec, a, b, c_, n, *figures in conn.execute(text(sql), params):
        if kind == "count":
            marginals[kec][(a, b)] = int(n)
        else:
            feedback_rows.append(_FeedbackGroup(kec, a or None, b or None, c_ or None, *map(int, figures)))
    result: dict[str, dict[str, Any]] = {name: _empty_summary(name) for name in kecamatan}
    for name, item in result.items():
        found = marginals[name]
        for (dimension, value), n in sorted(found.items()):
            if n and dimension in ("channel", "status", "outcome", "category", "month"):
                item[f"by_{dimension}"][value] = n
        total = sum(item["by_channel"].values())
        closed_n, within = item["by_status"].get("closed", 0), found.get(("closed_within", ""), 0)
        item["total"] = total
        item["sla"].update(
            closed=closed_n,
            closed_within=within,
            closed_late=closed_n - within,
            closed_within_share=_share(within, closed_n),
            open=total - closed_n,
            open_late=found.get(("open_late", ""), 0),
        )
    _charge_feedback(result, feedback_rows)
    return [result[name] for name in kecamatan]


class _FeedbackGroup(NamedTuple):
    """One group of ``_charge_feedback``'s: a kecamatan, the three units (None: none), the six counts."""

    kecamatan: str
    disposed: str | None
    judged: str | None
    reopened_by: str | None
    responded: int
    answered: int
    satisfied: int
    rating_sum: int
    reopened: int
    objections: int


_MONTH = "to_char(CAST({} AS timestamp), 'YYYY-MM')"  # a date's month, as by_month's keys
# complaints_open's predicate, written out (a literal list: the planner must see that the index covers it)
_OPEN_CAN_BE_LATE = "status NOT IN (" + ", ".join(f"'{s}'" for s in OPEN_NOT_LATE) + ")"
# the rows of the part-months, read once: what both figures need of them
_EDGE_COLUMNS = (
    "kecamatan, received_date, channel, status, outcome, category, within_sla, disposition_unit, feedback_unit, "
    "reopened_unit, sent_at, feedback_rating, feedback_satisfied, reopened, objection_at"
)
# each part-month row counted once per dimension, as ``counters.count_keys`` counts it, and in its month
_EDGE_MARGINALS = (
    "SELECT x.kecamatan, d.dimension, d.value, x.n FROM (SELECT kecamatan, month, channel, status, outcome, "
    "coalesce(category, :unset) AS category, CASE WHEN status = 'closed' AND within_sla THEN '' END AS closed_within, "
    "count(*) AS n FROM edge GROUP BY 1, 2, 3, 4, 5, 6, 7) x "
    "CROSS JOIN LATERAL (VALUES ('channel', x.channel), ('status', x.status), ('category', x.category), "
    "('outcome', x.outcome), ('closed_within', x.closed_within), ('month', x.month)) AS d(dimension, value) "
    "WHERE d.value IS NOT NULL"
)
# as ``counters.feedback_values``
_EDGE_FEEDBACK = (
    "SELECT kecamatan, coalesce(disposition_unit, ''), coalesce(feedback_unit, ''), coalesce(reopened_unit, ''), "
    "CAST(sent_at IS NOT NULL AS int), CAST(feedback_rating IS NOT NULL AS int), "
    "CAST(coalesce(feedback_satisfied, false) AS int), coalesce(CAST(feedback_rating AS int), 0), "
    "CAST(reopened > 0 AS int), CAST(objection_at IS NOT NULL AS int) FROM edge"
)
_FEEDBACK_SUMS = ", ".join(f"sum({name})" for name in FEEDBACK_COUNTS)


def _summary_sql(kecamatan: list[str], period: Period, now: datetime) -> tuple[str, dict[str, Any]]:
    """``summary``'s statement and its parameters. Rows ``('count', kecamatan, dimension, value, NULL, n, NULL...)``
    (dimensions: ``counters.DIMENSIONS``, ``month`` with value YYYY-MM, ``open_late``) and ``('feedback', kecamatan,
    disposition_unit, feedback_unit, reopened_unit, NULL, six sums)`` (units '' when none). Every filter is written
    only when it applies, so each part has its plan on its index."""
    months, edges = _whole_months(period)
    params: dict[str, Any] = {"k": list(kecamatan), "unset": UNCATEGORISED, "now": now}
    counted: list[str] = []  # (kecamatan, dimension, value, n)
    answered: list[str] = []  # (kecamatan, three units, six counts)
    ctes: list[str] = []
    if months is not None:
        spans = []
        for i, (span, lo, hi) in enumerate(_spans(*months)):
            conds = [f"span = '{span}'"]
            if lo is not None:
                conds.append(f"start >= :s{i}_lo")
                params[f"s{i}_lo"] = lo
            if hi is not None:
                conds.append(f"start < :s{i}_hi")
                params[f"s{i}_hi"] = hi
            spans.append(f"({' AND '.join(conds)})")
        in_spans = f"kecamatan = ANY(:k) AND ({' OR '.join(spans)})"
        counted.append(f"SELECT kecamatan, dimension, value, n FROM {counts.fullname} WHERE {in_spans}")
        by_month = ["kecamatan = ANY(:k)", "span = 'month'", "dimension = 'channel'"]  # every complaint has one
        lo, hi = months
        if lo is not None:
            by_month.append("start >= :m_lo")
            params["m_lo"] = lo
        if hi is not None:
            by_month.append("start < :m_hi")
            params["m_hi"] = hi
        counted.append(
            f"SELECT kecamatan, 'month', {_MONTH.format('start')}, sum(n) FROM {counts.fullname} "
            f"WHERE {' AND '.join(by_month)} GROUP BY kecamatan, start"
        )
        answered.append(
            f"SELECT kecamatan, disposition_unit, feedback_unit, reopened_unit, {', '.join(FEEDBACK_COUNTS)} "
            f"FROM {feedback_counts.fullname} WHERE {in_spans}"
        )
    if edges:  # one scan (a UNION ALL of the pieces was planned in parallel: two workers cost more than the scans)
        pieces = [piece for edge in edges for piece in _within_months(edge)]
        ranges, month = [], []
        # the pieces in date order: a row's month is that of the first piece it is not after
        for i, (piece, label) in enumerate(pieces):
            ranges.append(f"received_date BETWEEN :e{i}_from AND :e{i}_to")
            month.append(f"WHEN received_date <= :e{i}_to THEN :e{i}_month")
            params[f"e{i}_from"], params[f"e{i}_to"], params[f"e{i}_month"] = piece.start, piece.end, label
        ctes.append(
            f"edge AS MATERIALIZED (SELECT CAST(CASE {' '.join(month)} END AS text) AS month, {_EDGE_COLUMNS} "
            f"FROM {c.fullname} WHERE kecamatan = ANY(:k) AND ({' OR '.join(ranges)}))"
        )
        counted.append(_EDGE_MARGINALS)
        answered.append(_EDGE_FEEDBACK)
    late = ["kecamatan = ANY(:k)", _OPEN_CAN_BE_LATE, "deadline_at < :now"]
    if period.start is not None:
        late.append("received_date >= :p_from")
        params["p_from"] = period.start
    if period.end is not None:
        late.append("received_date <= :p_to")
        params["p_to"] = period.end
    counted.append(f"SELECT kecamatan, 'open_late', '', 1 FROM {c.fullname} WHERE {' AND '.join(late)}")
    ctes.append(f"counted (kecamatan, dimension, value, n) AS ({' UNION ALL '.join(counted)})")
    nulls = ", ".join(["NULL"] * len(FEEDBACK_COUNTS))
    parts = [
        f"SELECT 'count', kecamatan, dimension, value, NULL, sum(n), {nulls} FROM counted GROUP BY kecamatan, dimension, value"
    ]
    if answered:
        ctes.append(f"answered (kecamatan, a, b, c, {', '.join(FEEDBACK_COUNTS)}) AS ({' UNION ALL '.join(answered)})")
        parts.append(
            f"SELECT 'feedback', kecamatan, a, b, c, NULL, {_FEEDBACK_SUMS} FROM answered GROUP BY kecamatan, a, b, c"
        )
    return f"WITH {', '.join(ctes)} {' UNION ALL '.join(parts)}", params


def _spans(lo: date | None, hi: date | None) -> list[tuple[str, date | None, date | None]]:
    """The whole months ``[lo, hi)`` (month starts; None: open-ended) as counters' spans: the whole years among
    them as years, the months before and after them as months."""
    ylo = lo if lo is None or lo.month == 1 else date(lo.year + 1, 1, 1)
    yhi = hi if hi is None or hi.month == 1 else date(hi.year, 1, 1)
    if ylo is not None and yhi is not None and ylo >= yhi:
        return [("month", lo, hi)]
    spans: list[tuple[str, date | None, date | None]] = [("year", ylo, yhi)]
    if lo is not None and lo != ylo:
        spans.append(("month", lo, ylo))
    if hi is not None and hi != yhi:
        spans.append(("month", yhi, hi))
    return spans


def _whole_months(period: Period) -> tuple[tuple[date | None, date | None] | None, list[Period]]:
    """The period's whole months as ``[lo, hi)`` of month starts (None: open-ended; None for both: no whole month)
    and its part-months at either end, as periods (all of it when it holds no whole month)."""
    start, end = period.start, period.end
    lo = start if start is None or start.day == 1 else _next_month(start)
    after = None if end is None else end + timedelta(days=1)
    hi = None if after is None else (after if after.day == 1 else end.replace(day=1))
    if lo is not None and hi is not None and lo >= hi:
        return None, [period]
    edges = []
    if start is not None and lo != start:
        edges.append(Period(start, lo - timedelta(days=1)))
    if end is not None and hi != after:
        edges.append(Period(hi, end))
    return (lo, hi), edges


def _within_months(period: Period) -> Iterator[tuple[Period, str]]:
    """A period with both ends cut at the month starts in it, each piece with its month (YYYY-MM)."""
    assert period.start is not None and period.end is not None  # noqa: S101 (a part-month has both ends)
    start = period.start
    while start <= period.end:
        after = _next_month(start)
        yield Period(start, min(period.end, after - timedelta(days=1))), start.strftime("%Y-%m")
        start = after


def _next_month(day: date) -> date:
    return (day.replace(day=1) + timedelta(days=32)).replace(day=1)


def _feedback_query(kecamatan: list[str], period: Period):
    disposed, judged, reopened_by = c.c.disposition_unit, c.c.feedback_unit, c.c.reopened_unit
    return (
        select(
            c.c.kecamatan,
            disposed.label("disposed"),
            judged.label("judged"),
            reopened_by.label("reopened_by"),
            func.count().filter(c.c.sent_at.isnot(None)).label("responded"),
            func.count().filter(c.c.feedback_rating.isnot(None)).label("answered"),
            func.count().filter(c.c.feedback_satisfied.is_(True)).label("satisfied"),
            func.coalesce(func.sum(c.c.feedback_rating), 0).label("rating_sum"),
            func.count().filter(c.c.reopened > 0).label("reopened"),
            func.count().filter(c.c.objection_at.isnot(None)).label("objections"),
        )
        .where(c.c.kecamatan.in_(kecamatan), *_received_in(period))
        .group_by(c.c.kecamatan, disposed, judged, reopened_by)
    )


def summary_scan(conn: Connection, kecamatan: list[str], period: Period, now: datetime) -> list[dict[str, Any]]:
    """``summary`` as it was before the counters (issue #20 item 4), kept as their oracle (tests, bench): every row
    of the period read. Per kecamatan: complaints received in the period by channel, status, outcome, month and category (its code in
    the kabupaten's list, ``belum-ditetapkan`` when none was set yet); the SLA.
    A referral the kecamatan follows (status ``referred``) is open, but never late: its part is done.

    Two steps: the rows are counted once by every dimension together (one pass over the index, a few hundred
    groups), and the grouping sets then add those counts up."""
    month = cast(func.date_trunc("month", c.c.received_date), Date).label("month")
    # open past the 12-day deadline: not a referral the kecamatan follows (its part ended when it referred)
    # nor a keberatan (docs/adr/0020): the Camat's answer has its own due time, not the 12-day promise
    late = and_(c.c.status.notin_(("closed", "referred", "objection")), c.c.deadline_at < now).label("late")
    category = func.coalesce(c.c.category, UNCATEGORISED).label("category")
    counted = (
        select(
            c.c.kecamatan,
            c.c.channel,
            c.c.status,
            c.c.outcome,
            month,
            category,
            c.c.within_sla,
            late,
            func.count().label("n"),
        )
        .where(c.c.kecamatan.in_(kecamatan), *_received_in(period))
        .group_by(c.c.kecamatan, c.c.channel, c.c.status, c.c.outcome, month, category, c.c.within_sla, late)
        .subquery()
    )
    q = counted.c
    n = func.sum(q.n)
    query = select(
        q.kecamatan,
        q.channel,
        q.status,
        q.outcome,
        q.month,
        q.category,
        func.grouping(q.channel).label("g_channel"),
        func.grouping(q.status).label("g_status"),
        func.grouping(q.outcome).label("g_outcome"),
        func.grouping(q.month).label("g_month"),
        func.grouping(q.category).label("g_category"),
        n.label("n"),
        func.coalesce(func.sum(q.n).filter(q.status == "closed"), 0).label("closed"),
        # a followed referral already has its within_sla (judged at the referral): counted once it closes
        func.coalesce(func.sum(q.n).filter(q.status == "closed", q.within_sla.is_(True)), 0).label("closed_within"),
        func.coalesce(func.sum(q.n).filter(q.status != "closed"), 0).label("open"),
        func.coalesce(func.sum(q.n).filter(q.late.is_(True)), 0).label("open_late"),
    ).group_by(
        func.grouping_sets(
            tuple_(q.kecamatan),
            tuple_(q.kecamatan, q.channel),
            tuple_(q.kecamatan, q.status),
            tuple_(q.kecamatan, q.outcome),
            tuple_(q.kecamatan, q.month),
            tuple_(q.kecamatan, q.category),
        )
    )
    result: dict[str, dict[str, Any]] = {k: _empty_summary(k) for k in kecamatan}
    for r in conn.execute(query):
        item = result[r.kecamatan]
        if not r.g_channel:
            item["by_channel"][r.channel] = int(r.n)
        elif not r.g_status:
            item["by_status"][r.status] = int(r.n)
        elif not r.g_outcome:
            if r.outcome is not None:
                item["by_outcome"][r.outcome] = int(r.n)
        elif not r.g_month:
            item["by_month"][r.month.strftime("%Y-%m")] = int(r.n)
        elif not r.g_category:
            item["by_category"][r.category] = int(r.n)
        else:
            closed_n, within = int(r.closed), int(r.closed_within)
            item["total"] = int(r.n)
            item["sla"].update(
                closed=closed_n,
                closed_within=within,
                closed_late=closed_n - within,
                closed_within_share=_share(within, closed_n),
                open=int(r.open),
                open_late=int(r.open_late),
            )
    for item in result.values():
        item["by_month"] = dict(sorted(item["by_month"].items()))
    _add_feedback(conn, result, kecamatan, period)
    return [result[k] for k in kecamatan]


# -- the complainants' answers after the response (issue #18 item 1; docs/adr/0020) -----------------------------
def _empty_feedback() -> dict[str, Any]:
    return {**dict.fromkeys(FEEDBACK_COUNTS, 0), "satisfied_share": None, "mean_rating": None, "reopened_share": None}


def _feedback_shares(figures: dict[str, Any]) -> dict[str, Any]:
    figures["satisfied_share"] = _share(figures["satisfied"], figures["answered"])
    figures["mean_rating"] = round(figures["rating_sum"] / figures["answered"], 2) if figures["answered"] else None
    figures["reopened_share"] = _share(figures["reopened"], figures["responded"])
    return figures


def _add_feedback(conn: Connection, result: dict[str, dict[str, Any]], kecamatan: list[str], period: Period) -> None:
    """Per kecamatan and per unit, of the complaints received in the period: how many got a response (charged to
    the unit disposed to, and to the one whose response a reopening followed, when another), how many complainants answered after it, were satisfied, their mean rating (1-4) and how
    many raised a keberatan (charged to the unit whose response the latest answer judged), how many complaints
    were reopened (charged to the unit whose response the first reopening followed). One pass over the rows,
    counted by the three units together (a few groups per kecamatan), shared out here."""
    _charge_feedback(result, conn.execute(_feedback_query(kecamatan, period)))


def _charge_feedback(result: dict[str, dict[str, Any]], rows: Iterable[Any]) -> None:
    """``_add_feedback``'s groups (kecamatan and the three units, with the six counts) shared out to the units."""
    charged = {
        "responded": "disposed",
        "answered": "judged",
        "satisfied": "judged",
        "rating_sum": "judged",
        "objections": "judged",
        "reopened": "reopened_by",
    }
    for r in rows:
        item = result[r.kecamatan]
        units = {"disposed": r.disposed, "judged": r.judged or r.disposed, "reopened_by": r.reopened_by or r.disposed}
        for count, to in charged.items():
            value = int(getattr(r, count))
            if not value:
                continue
            item["feedback"][count] += value
            charged_to = [units[to]]
            if count == "responded" and r.reopened_by and r.reopened_by != r.disposed:
                charged_to.append(r.reopened_by)  # it responded too, before the complaint went to another unit
            for name in filter(None, charged_to):
                item["feedback_by_unit"].setdefault(name, _empty_feedback())[count] += value
    for item in result.values():
        _feedback_shares(item["feedback"])
        for figures in item["feedback_by_unit"].values():
            _feedback_shares(figures)


def _empty_summary(kecamatan: str) -> dict[str, Any]:
    return {
        "kecamatan": kecamatan,
        "total": 0,
        "by_channel": {},
        "by_status": {},
        "by_outcome": {},
        "by_month": {},
        "by_category": {},
        "feedback": _empty_feedback(),
        "feedback_by_unit": {},
        "sla": {
            "closed": 0,
            "closed_within": 0,
            "closed_late": 0,
            "closed_within_share": None,
            "open": 0,
            "open_late": 0,
        },
    }


def add_up(items: list[dict[str, Any]]) -> dict[str, Any]:
    """The figures of several kecamatan together (a kabupaten's)."""
    total = _empty_summary("*")
    del total["kecamatan"]
    for item in items:
        total["total"] += item["total"]
        for key in ("by_channel", "by_status", "by_outcome", "by_month", "by_category"):
            for k, v in item[key].items():
                total[key][k] = total[key].get(k, 0) + v
        for k in ("closed", "closed_within", "closed_late", "open", "open_late"):
            total["sla"][k] += item["sla"][k]
    total["sla"]["closed_within_share"] = _share(total["sla"]["closed_within"], total["sla"]["closed"])
    total["by_month"] = dict(sorted(total["by_month"].items()))
    for item in items:  # a unit's code is its kecamatan's: the kabupaten's figures by unit are not added up
        for k in FEEDBACK_COUNTS:
            total["feedback"][k] += item["feedback"][k]
    _feedback_shares(total["feedback"])
    del total["feedback_by_unit"]
    return total


# -- step times -------------------------------------------------------------------------------------------------
def steps(conn: Connection, kecamatan: list[str], period: Period) -> list[dict[str, Any]]:
    """Per kecamatan and step (and the role and standard the complaints' SOP gave it): the office minutes
    steps completed in the period took, against the standard."""
    conds = [s.c.kecamatan.in_(kecamatan)]
    if period.start is not None:
        conds.append(s.c.completed_date >= period.start)
    if period.end is not None:
        conds.append(s.c.completed_date <= period.end)
    query = (
        select(
            s.c.kecamatan,
            s.c.step,
            s.c.role,
            s.c.standard_minutes,
            func.count().label("count"),
            func.count().filter(s.c.within_standard).label("within"),
            # one sort for both percentiles (none at all when the rows come in the order of step_times_groups)
            func.percentile_cont(array([0.5, 0.9]), type_=ARRAY(Float)).within_group(s.c.elapsed_minutes).label("pct"),
            func.avg(s.c.elapsed_minutes).label("mean"),
            func.max(s.c.elapsed_minutes).label("max"),
        )
        .where(*conds)
        .group_by(s.c.kecamatan, s.c.step, s.c.role, s.c.standard_minutes)
        .order_by(s.c.kecamatan, s.c.step, s.c.role, s.c.standard_minutes)
    )
    return [
        {
            "kecamatan": r.kecamatan,
            "step": r.step,
            "role": r.role,
            "standard_minutes": r.standard_minutes,
            "count": r.count,
            "within_standard": r.within,
            "within_standard_share": _share(r.within, r.count),
            "median_minutes": round(float(r.pct[0]), 1),
            "p90_minutes": round(float(r.pct[1]), 1),
            "mean_minutes": round(float(r.mean), 1),
            "max_minutes": r.max,
        }
        for r in conn.execute(query)
    ]


# -- overdue ----------------------------------------------------------------------------------------------------
OVERDUE_COLUMNS = (
    c.c.complaint_id,
    c.c.kecamatan,
    c.c.tracking_code,
    c.c.register_number,
    c.c.register_year,
    c.c.subject,
    c.c.channel,
    c.c.received_at,
    c.c.current_step,
    c.c.waiting_role,
    c.c.disposition_unit,
    c.c.step_started_at,
    c.c.step_due_at,
    c.c.deadline_at,
    c.c.sop_version,
    c.c.sop_overrides,
    c.c.complainant_name,
    c.c.complainant_phone,
    c.c.complainant_confidential,
)


def overdue(
    conn: Connection, kecamatan: list[str], period: Period, now: datetime, limit: int
) -> tuple[int, list[dict]]:
    """Complaints in progress whose current step is past its due time, the longest overdue first; and how
    many there are in all. (A complaint awaiting the complainant's documents has no due time; a referral
    followed until the receiving office answers waits on that office, not on a step of the kecamatan.)"""
    query = (
        select(*OVERDUE_COLUMNS, func.count().over().label("total"))
        .where(c.c.kecamatan.in_(kecamatan), c.c.status == "in_progress", c.c.step_due_at < now, *_received_in(period))
        .order_by(c.c.step_due_at, c.c.complaint_id)
        .limit(limit)
    )
    rows = [dict(r) for r in conn.execute(query).mappings()]
    total = rows[0]["total"] if rows else 0
    for r in rows:
        r.pop("total")
    return total, rows


# -- referrals --------------------------------------------------------------------------------------------------
def referrals(conn: Connection, kecamatan: list[str], period: Period) -> list[dict[str, Any]]:
    """Complaints received in the period and referred (dilimpahkan), by kecamatan, agency, kind and where the
    referral stands (``referral_state``: followed, answered, lapsed, ended, unfollowed)."""
    query = (
        select(c.c.kecamatan, c.c.referred_to, c.c.agency_kind, c.c.referral_state, func.count().label("count"))
        .where(c.c.kecamatan.in_(kecamatan), c.c.referred_to.isnot(None), *_received_in(period))
        .group_by(c.c.kecamatan, c.c.referred_to, c.c.agency_kind, c.c.referral_state)
        .order_by(func.count().desc(), c.c.kecamatan, c.c.referred_to, c.c.referral_state)
    )
    return [
        {
            "kecamatan": r.kecamatan,
            "agency": r.referred_to,
            "agency_kind": r.agency_kind,
            "state": r.referral_state,
            "count": r.count,
        }
        for r in conn.execute(query)
    ]


# -- the register -----------------------------------------------------------------------------------------------
def register(
    conn: Connection, kecamatan: str, period: Period, year: int | None, *, offset: int = 0, limit: int | None = None
) -> tuple[int, list[dict[str, Any]]]:
    """The Buku Rekap Pengaduan of one kecamatan: registered complaints (step 3 gave them their number) in
    register order, received in the period and/or registered in ``year``; and how many there are in all."""
    conds = [c.c.kecamatan == kecamatan, c.c.register_number.isnot(None), *_received_in(period)]
    if year is not None:
        conds.append(c.c.register_year == year)
    query = (
        select(c, func.count().over().label("total"))
        .where(*conds)
        .order_by(c.c.register_year, c.c.register_number)
        .offset(offset)
    )
    if limit is not None:
        query = query.limit(limit)
    rows = [dict(r) for r in conn.execute(query).mappings()]
    if rows:
        total = rows[0]["total"]
    elif offset:  # a page past the end: still say how many there are
        total = conn.execute(select(func.count()).select_from(c).where(*conds)).scalar_one()
    else:
        total = 0
    for r in rows:
        r.pop("total")
    return total, rows


STREAM_BATCH = 1000  # rows fetched from the server at a time by the exports (a server-side cursor)


def register_rows(
    conn: Connection, kecamatan: str, period: Period, year: int | None, columns: Sequence[Any] | None = None
) -> Iterator[dict[str, Any]]:
    """``register``'s rows (or only ``columns`` of them) for an export, in register order, fetched from a server-side
    cursor ``STREAM_BATCH`` at a time: memory does not grow with the rows. ``conn`` must be in a transaction."""
    conds = [c.c.kecamatan == kecamatan, c.c.register_number.isnot(None), *_received_in(period)]
    if year is not None:
        conds.append(c.c.register_year == year)
    query = select(*(columns or (c,))).where(*conds).order_by(c.c.register_year, c.c.register_number)
    result = conn.execution_options(yield_per=STREAM_BATCH).execute(query)
    for r in result.mappings():
        yield dict(r)


def count_register(conn: Connection, kecamatan: str, period: Period, year: int | None) -> int:
    conds = [c.c.kecamatan == kecamatan, c.c.register_number.isnot(None), *_received_in(period)]
    if year is not None:
        conds.append(c.c.register_year == year)
    return conn.execute(select(func.count()).select_from(c).where(*conds)).scalar_one()


# -- results that hold until the projection moves -------------------------------------------------------------
class ResultCache:
    """Answers that depend only on the read model (not on the clock), kept per projection position: the
    same question asked again before the projection applies another event gets the same, exact answer
    without touching the tables. Small (LRU), per process; thread-safe."""

    def __init__(self, maxsize: int = 256) -> None:
        import threading
        from collections import OrderedDict

        self._items: OrderedDict = OrderedDict()
        self._lock = threading.Lock()
        self.maxsize = maxsize
        self.hits = 0
        self.misses = 0

    def get_or_compute(self, conn: Connection, checkpoint: str, key: tuple, compute):
        """``compute(conn)`` unless an answer for ``key`` at the projection's current position is kept. Call it
        inside a REPEATABLE READ transaction, so the position and the answer come from one snapshot."""
        from services.dashboard.adapters.tables import checkpoints

        position = conn.execute(select(checkpoints.c.position).where(checkpoints.c.name == checkpoint)).scalar() or 0
        full_key = (key, position)
        with self._lock:
            if full_key in self._items:
                self._items.move_to_end(full_key)
                self.hits += 1
                return self._items[full_key]
        value = compute(conn)
        with self._lock:
            self.misses += 1
            self._items[full_key] = value
            self._items.move_to_end(full_key)
            while len(self._items) > self.maxsize:
                self._items.popitem(last=False)
        return value
