"""The public statistics' one query (ADR 0022): per kecamatan and month of the received date, per kecamatan, per
month and over all of them, in one pass over ``dashboard.complaints`` (GROUPING SETS).

The rows are found by ``complaints_kecamatan_received`` (kecamatan, received_date); the handling time, the
closing and the complainant's answer are not in the index, so the rows themselves are read (a bitmap heap scan,
or a sequential scan when the period covers most of the table). No column of a person is selected.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import date

from sqlalchemy import Date, Float, cast, extract, func, literal_column, select, text, tuple_
from sqlalchemy.engine import Connection

from services.dashboard.adapters.tables import complaints as c
from services.dashboard.domain.statistics import Counted

WORK_MEM = "32MB"  # for this transaction only (PostgreSQL's default, 4MB, sorts a kabupaten's years on disk)
TOTAL = "*"  # the key of "every kecamatan asked" or "every month" in the answer


@dataclass(frozen=True)
class Counts:
    """``(kecamatan or TOTAL, month "YYYY-MM", year "YYYY" or TOTAL) -> Counted`` for every group that has
    complaints."""

    groups: dict[tuple[str, str], Counted]


def count(conn: Connection, kecamatan: list[str], start: date, end: date, *, by_year: bool = False) -> Counts:
    """Complaints received from ``start`` to ``end`` (local dates, both included) in ``kecamatan``; ``by_year``:
    the totals per calendar year (keyed ``"YYYY"``) instead of over the whole period (``TOTAL``)."""
    month = cast(func.date_trunc(literal_column("'month'"), c.c.received_date), Date).label("month")
    year = cast(func.date_trunc(literal_column("'year'"), c.c.received_date), Date).label("year")
    by = (year,) if by_year else ()
    resolved = c.c.outcome == "resolved"
    closed = c.c.status == "closed"
    days = extract("epoch", c.c.closed_at - c.c.received_at) / 86400.0  # calendar days, received -> closed
    handled = resolved & closed & c.c.closed_at.isnot(None)
    n = func.count()
    query = (
        select(
            c.c.kecamatan,
            month,
            *by,
            func.grouping(c.c.kecamatan).label("g_kecamatan"),
            func.grouping(month).label("g_month"),
            n.label("received"),
            n.filter(resolved & closed).label("resolved"),
            n.filter(closed).label("closed"),
            n.filter(closed & c.c.within_sla.is_(True)).label("closed_within"),
            func.percentile_cont(0.5).within_group(days).filter(handled).label("median_days"),
            n.filter(handled).label("median_base"),
            func.count(c.c.feedback_satisfied).label("feedback_responses"),
            n.filter(c.c.feedback_satisfied.is_(True)).label("satisfied"),
            func.count(c.c.feedback_rating).label("ratings"),
            func.avg(cast(c.c.feedback_rating, Float)).label("mean_rating"),
        )
        .where(c.c.kecamatan.in_(kecamatan), c.c.received_date >= start, c.c.received_date <= end)
        .group_by(
            func.grouping_sets(tuple_(c.c.kecamatan, month), tuple_(c.c.kecamatan, *by), tuple_(month), tuple_(*by))
        )
    )
    if conn.in_transaction():  # the sorts of a kabupaten's three years (~60,000 rows) stay in memory
        conn.execute(text(f"SET LOCAL work_mem = '{WORK_MEM}'"))
    groups: dict[tuple[str, str], Counted] = {}
    for r in conn.execute(query):
        period = r.month.strftime("%Y-%m") if not r.g_month else r.year.strftime("%Y") if by_year else TOTAL
        key = (TOTAL if r.g_kecamatan else r.kecamatan, period)
        groups[key] = Counted(
            received=int(r.received),
            resolved=int(r.resolved),
            closed=int(r.closed),
            closed_within=int(r.closed_within),
            median_days=float(r.median_days) if r.median_days is not None else None,
            median_base=int(r.median_base),
            feedback_responses=int(r.feedback_responses),
            satisfied=int(r.satisfied),
            ratings=int(r.ratings),
            mean_rating=float(r.mean_rating) if r.mean_rating is not None else None,
        )
    return Counts(groups)
