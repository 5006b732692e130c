"""``GET /v1/public/statistics``: what anyone may know of how the kecamatan handle complaints (issue #18 item 4,
ADR 0022). No sign-in; limited per client address (``PENGADUAN_RATE_LIMIT_STATISTICS``); cacheable (``ETag``,
``Cache-Control: public``).

Per kecamatan and month of the received date (in the kecamatan's time zone), per kecamatan over the period, per
month over every kecamatan asked, and over all of them: complaints received, resolved, closed, the share of the
closed ones closed within the 12 working days, the median handling time of the resolved ones (calendar days from
received to closed), the complainants' answers (how many, the share satisfied, the mean rating 1-4). Nothing of
a person: no name, number, address, tracking code, subject or register number is read.

What is withheld (``services/dashboard/domain/statistics.py``) is decided on fixed tables, whatever is asked:
each kabupaten's calendar years (``year_tables``: its kecamatan by month, with their years, its months and its
year). A month of a kecamatan, a kecamatan's year, a kabupaten's month or year is read from them; any other total
(a period other than whole years, a few kecamatan of a kabupaten) is shown only where it is the sum of cells
shown anyway. So a cell reads the same in every answer, and subtracting answers tells nothing the tables do not.

Parameters: ``kabupaten`` (a slug), ``kecamatan`` (a slug, or several separated by commas; within the kabupaten
when both are given), ``from`` and ``to`` (months, YYYY-MM, both included; default this year up to the current
month, or the twelve months up to ``to``; at most ``PENGADUAN_STATISTICS_MAX_MONTHS``, 36). A period "of whole
years" runs from a January to a December, or to a month not yet over. Bad input: 422 ``validation_error``
naming the field (``invalid_month``, ``period_reversed``, ``period_too_long``, ``unknown_kabupaten``,
``unknown_kecamatan``, ``kecamatan_outside_kabupaten``).
"""

from __future__ import annotations

import hashlib
import json
import re
from collections.abc import Callable, Hashable
from datetime import UTC, date, timedelta
from typing import Annotated

from fastapi import APIRouter, Depends, Query, Request
from fastapi.responses import Response
from pydantic import BaseModel, ConfigDict, Field

from services.dashboard.adapters import statistics
from services.dashboard.adapters.projections import ComplaintsProjection
from services.dashboard.adapters.queries import KecamatanInfo, ResultCache
from services.dashboard.bootstrap import Dashboard
from services.dashboard.domain import statistics as rules
from services.dashboard.entrypoints.deps import DashboardDep, FilterErrors
from shared.http import ErrorBody
from shared.ratelimit import RATE_LIMITED_DOC, enforce, limiter_for, parse_limits

TOTAL = statistics.TOTAL
MONTH = re.compile(r"^([0-9]{4})-([0-9]{2})$")
FIRST_YEAR, LAST_YEAR = 2000, 2099

router = APIRouter(prefix="/v1/public", tags=["public statistics"])


# --- the answer ---------------------------------------------------------------------------------------------
class CellOut(BaseModel):
    value: int | float | None = Field(description="null when withheld or when there is nothing to compute it over")
    suppressed: bool = Field(description="true: withheld, a small count or a figure over too few complaints")


class FiguresOut(BaseModel):
    received: CellOut = Field(description="Complaints received (by received date)")
    resolved: CellOut = Field(description="Of those, closed with the outcome resolved (answered by the kecamatan)")
    closed: CellOut = Field(description="Of those, closed (any outcome: resolved, referred, rejected, withdrawn...)")
    within_sla_share: CellOut = Field(
        description="Share (0-1) of the closed ones closed within the 12 working days (a referral: referred within)"
    )
    median_days: CellOut = Field(description="Median calendar days from received to closed, over the resolved ones")
    feedback_responses: CellOut = Field(description="Complainants who answered whether their complaint was resolved")
    satisfied_share: CellOut = Field(description="Share (0-1) of those answers saying it was resolved")
    mean_rating: CellOut = Field(description="Mean of the complainants' ratings of the handling (1-4)")


class MonthFiguresOut(FiguresOut):
    month: str = Field(description="YYYY-MM of the received date, in the kecamatan's time zone")


class KecamatanStatisticsOut(BaseModel):
    slug: str
    name: str
    kabupaten: str
    kabupaten_name: str
    months: list[MonthFiguresOut]
    total: FiguresOut = Field(description="The kecamatan over the whole period")


class AllStatisticsOut(BaseModel):
    months: list[MonthFiguresOut] = Field(description="Each month, every kecamatan above together")
    total: FiguresOut = Field(description="Every kecamatan above over the whole period")


class PeriodMonthsOut(BaseModel):
    model_config = ConfigDict(populate_by_name=True)

    from_: str = Field(alias="from", description="YYYY-MM")
    to: str = Field(description="YYYY-MM")


class StatisticsOut(BaseModel):
    period: PeriodMonthsOut
    months: list[str]
    threshold: int = Field(description="Counts below this, and figures computed over fewer complaints, are withheld")
    kecamatan: list[KecamatanStatisticsOut]
    all: AllStatisticsOut


# --- the request --------------------------------------------------------------------------------------------
def rate_limited(request: Request) -> None:
    """``PENGADUAN_RATE_LIMIT_STATISTICS`` per client address (fails open when the counters are away)."""
    dash: Dashboard = request.app.state.dashboard
    limiter = getattr(request.app.state, "rate_limiter", None)
    if limiter is None:  # one per app, on first use (nothing at import time)
        limiter = request.app.state.rate_limiter = limiter_for(dash.settings)
    enforce(limiter, parse_limits(dash.settings.rate_limit_statistics), "statistics", request)


def _month(errors: FilterErrors, name: str, value: str | None) -> date | None:
    if value is None or not value.strip():
        return None
    found = MONTH.match(value.strip())
    if found is None or not (FIRST_YEAR <= int(found[1]) <= LAST_YEAR and 1 <= int(found[2]) <= 12):
        message = f"Bulan harus berformat YYYY-MM, antara {FIRST_YEAR} dan {LAST_YEAR}; misalnya 2026-01."
        errors.add(name, "invalid_month", message)
        return None
    return date(int(found[1]), int(found[2]), 1)


def _shift(month: date, months: int) -> date:
    n = month.year * 12 + month.month - 1 + months
    return date(n // 12, n % 12 + 1, 1)


def _span(start: date, end: date) -> int:
    return (end.year - start.year) * 12 + end.month - start.month + 1


def _selection(
    errors: FilterErrors, dash: Dashboard, kabupaten: str | None, kecamatan: str | None
) -> list[KecamatanInfo]:
    every = dash.kecamatan.all()
    kab = (kabupaten or "").strip().lower() or None
    if kab is not None and not any(k.kabupaten_slug == kab for k in every):
        errors.add("kabupaten", "unknown_kabupaten", f"Kabupaten '{kab}' tidak dikenal.")
        return []
    if kecamatan is None or not kecamatan.strip():
        return [k for k in every if kab is None or k.kabupaten_slug == kab]  # retired ones too: their past counts
    chosen: list[KecamatanInfo] = []
    for slug in dict.fromkeys(s.strip().lower() for s in kecamatan.split(",") if s.strip()):
        found = dash.kecamatan.get(slug)
        if found is None:
            errors.add("kecamatan", "unknown_kecamatan", f"Kecamatan '{slug}' tidak dikenal.")
        elif kab is not None and found.kabupaten_slug != kab:
            errors.add(
                "kecamatan",
                "kecamatan_outside_kabupaten",
                f"Kecamatan {found.name} tidak termasuk kabupaten '{kab}'.",
            )
        else:
            chosen.append(found)
    return chosen


# --- the route ----------------------------------------------------------------------------------------------
@router.get(
    "/statistics",
    response_model=StatisticsOut,
    summary="Public statistics per kecamatan and month (no sign-in; small counts withheld)",
    dependencies=[Depends(rate_limited)],
    responses={
        304: {"description": "Not modified (If-None-Match matched the ETag)"},
        422: {"model": ErrorBody},
        **RATE_LIMITED_DOC,
    },
)
def public_statistics(
    request: Request,
    dash: DashboardDep,
    kabupaten: Annotated[str | None, Query(description="A kabupaten's slug: its kecamatan")] = None,
    kecamatan: Annotated[
        str | None, Query(description="A kecamatan's slug, or several separated by commas; default: all")
    ] = None,
    start: Annotated[
        str | None, Query(alias="from", description="First month (YYYY-MM); default: 11 months before `to`")
    ] = None,
    end: Annotated[
        str | None, Query(alias="to", description="Last month (YYYY-MM); default: the current month")
    ] = None,
) -> Response:
    errors = FilterErrors()
    first, last = _month(errors, "from", start), _month(errors, "to", end)
    chosen = _selection(errors, dash, kabupaten, kecamatan)
    errors.raise_if_any()
    limit = dash.settings.statistics_max_months
    current = dash.clock().astimezone(UTC).date().replace(day=1)
    asked_to = last is not None
    if last is None:  # the current month (UTC's), or the twelve months from ``from`` when they end before it
        last = current if first is None else max(first, min(current, _shift(first, 11)))
    first = first or (_shift(last, -11) if asked_to else last.replace(month=1))  # default: this year so far
    if last < first:
        errors.add("to", "period_reversed", "Bulan akhir (to) tidak boleh sebelum bulan awal (from).")
    elif _span(first, last) > limit:
        errors.add("to", "period_too_long", f"Periode paling panjang {limit} bulan.")
    errors.raise_if_any()

    body = _answer(dash, _results(request), chosen, first, last, current)
    etag = f'"{hashlib.sha256(body).hexdigest()[:32]}"'
    headers = {
        "ETag": etag,
        "Cache-Control": f"public, max-age={dash.settings.statistics_max_age}",
        "Vary": "Accept-Encoding",
    }
    if etag in [t.strip() for t in request.headers.get("if-none-match", "").split(",")]:
        return Response(status_code=304, headers=headers)
    return Response(body, media_type="application/json", headers=headers)


CACHED_ANSWERS = 32  # up to ~600 kB each (every kecamatan, 36 months): a bound on what anyone can make us keep


def _results(request: Request) -> ResultCache:
    """The answers kept by this app: a cache of their own, small, so that public questions (anyone may ask many
    different ones) neither fill the memory nor push the staff's figures out of ``Dashboard.results``."""
    results = getattr(request.app.state, "statistics_results", None)
    if results is None:  # one per app, on first use (nothing at import time)
        results = request.app.state.statistics_results = ResultCache(maxsize=CACHED_ANSWERS)
    return results


def _answer(
    dash: Dashboard, results: ResultCache, chosen: list[KecamatanInfo], first: date, last: date, current: date
) -> bytes:
    """The answer's bytes, kept while the projection stands still (``ResultCache``: exact)."""
    k = dash.settings.statistics_threshold
    every = dash.kecamatan.all()
    kabupaten = sorted({c.kabupaten_slug for c in chosen})
    members = {kab: [e.slug for e in every if e.kabupaten_slug == kab] for kab in kabupaten}
    key = (
        "public_statistics",
        tuple(c.slug for c in chosen),
        first,
        last,
        k,
        current,
        tuple(map(tuple, members.values())),
    )

    def compute(conn) -> bytes:
        end = _shift(last, 1) - timedelta(days=1)
        years = date(first.year, 1, 1), date(last.year, 12, 31)
        tables: dict[str, dict[tuple[str, str], rules.Counted]] = {}
        for kab, slugs in members.items():  # the protected tables: each kabupaten's calendar years
            counted = statistics.count(conn, slugs, *years, by_year=True).groups
            tables[kab] = {(f"{KABUPATEN}{kab}" if s == TOTAL else s, p): v for (s, p), v in counted.items()}
        asked: dict[tuple[str, str], rules.Counted] = {}

        def period() -> dict[tuple[str, str], rules.Counted]:  # asked only for a total outside the tables
            if not asked and chosen:
                asked.update(statistics.count(conn, [c.slug for c in chosen], first, end).groups)
                asked[("", "")] = rules.Counted()  # asked (even when nothing was found)
            return asked

        return _publish(chosen, members, first, last, current, k, tables, period)

    with dash.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        return results.get_or_compute(conn, ComplaintsProjection.name, key, compute)


KABUPATEN = "kabupaten:"  # the key of a kabupaten's total in its tables


def year_tables(
    kabupaten: str, slugs: list[str], years: range, counted: dict[tuple[str, str], rules.Counted], k: int
) -> dict[tuple[str, str], rules.Published]:
    """A kabupaten's protected tables, one per calendar year: its kecamatan by the year's twelve months, with the
    kecamatan's year, the kabupaten's months and its year as the margins. Each is protected on its own and
    whatever is asked, so a cell reads the same in every answer (ADR 0022)."""
    total = f"{KABUPATEN}{kabupaten}"
    out: dict[tuple[str, str], rules.Published] = {}
    for year in years:
        months = [f"{year}-{m:02d}" for m in range(1, 13)]
        y = str(year)
        keys = [(s, p) for s in [*slugs, total] for p in [*months, y]]
        sums = [
            *(rules.Sum((s, y), tuple((s, m) for m in months)) for s in slugs),
            *(rules.Sum((total, m), tuple((s, m) for s in slugs)) for m in months),
            rules.Sum((total, y), tuple((s, y) for s in slugs)),
            rules.Sum((total, y), tuple((total, m) for m in months)),
        ]
        counted_year: dict[Hashable, rules.Counted] = {key: counted.get(key, rules.Counted()) for key in keys}
        out.update(rules.protect(counted_year, sums, k))  # type: ignore[arg-type]
    return out


def _publish(
    chosen: list[KecamatanInfo],
    members: dict[str, list[str]],
    first: date,
    last: date,
    current: date,
    k: int,
    tables: dict[str, dict[tuple[str, str], rules.Counted]],
    period: Callable[[], dict[tuple[str, str], rules.Counted]],
) -> bytes:
    months = [_shift(first, i).strftime("%Y-%m") for i in range(_span(first, last))]
    years = [str(y) for y in range(first.year, last.year + 1)]
    # whole years: from January to December, or to a month not yet over (nothing can come after it)
    whole_years = first.month == 1 and (last.month == 12 or last >= current)
    cells: dict[tuple[str, str], rules.Published] = {}
    for kab, slugs in members.items():
        cells.update(year_tables(kab, slugs, range(first.year, last.year + 1), tables[kab], k))
    slugs = [c.slug for c in chosen]
    whole = [kab for kab, all_of in members.items() if set(all_of) <= set(slugs)]  # kabupaten asked whole
    whole_kabupaten = set(slugs) == {s for kab in whole for s in members[kab]}

    def true(key: tuple[str, str]) -> rules.Counted:
        return period().get(key, rules.Counted())

    def kecamatan_total(slug: str) -> rules.Published:
        if whole_years and len(years) == 1:
            return cells[(slug, years[0])]
        ways = [[cells[(slug, m)] for m in months]]
        if whole_years:
            ways.append([cells[(slug, y)] for y in years])
        return rules.add_up(ways, true((slug, TOTAL)), k)

    def all_month(month: str) -> rules.Published:
        if whole_kabupaten and len(whole) == 1:
            return cells[(f"{KABUPATEN}{whole[0]}", month)]
        ways = [[cells[(s, month)] for s in slugs]]
        if whole_kabupaten:
            ways.append([cells[(f"{KABUPATEN}{kab}", month)] for kab in whole])
        return rules.add_up(ways, true((TOTAL, month)), k)

    rows = {s: ([cells[(s, m)] for m in months], kecamatan_total(s)) for s in slugs}
    columns = [all_month(m) for m in months]
    if whole_kabupaten and len(whole) == 1 and whole_years and len(years) == 1:
        grand = cells[(f"{KABUPATEN}{whole[0]}", years[0])]
    else:
        ways = [columns, [total for _, total in rows.values()]]
        if whole_kabupaten and whole_years:
            ways.append([cells[(f"{KABUPATEN}{kab}", y)] for kab in whole for y in years])
        grand = rules.add_up(ways, true((TOTAL, TOTAL)), k)

    def figures(group: rules.Published) -> dict:
        return {name: {"value": cell.value, "suppressed": cell.suppressed} for name, cell in group.cells.items()}

    answer = StatisticsOut.model_validate(
        {
            "period": {"from": months[0], "to": months[-1]},
            "months": months,
            "threshold": k,
            "kecamatan": [
                {
                    "slug": c.slug,
                    "name": c.name,
                    "kabupaten": c.kabupaten_slug,
                    "kabupaten_name": c.kabupaten_name,
                    "months": [{"month": m, **figures(cell)} for m, cell in zip(months, rows[c.slug][0], strict=True)],
                    "total": figures(rows[c.slug][1]),
                }
                for c in chosen
            ],
            "all": {
                "months": [{"month": m, **figures(cell)} for m, cell in zip(months, columns, strict=True)],
                "total": figures(grand),
            },
        }
    )
    return json.dumps(answer.model_dump(mode="json", by_alias=True), separators=(",", ":")).encode()
