"""``/v1/dashboard/...``: the kabupaten's figures, and the same figures of a kecamatan for its own staff.

Who may read which kecamatan and the filters: see ``deps.py``. The period is the complaints' received
date, except for ``steps`` (steps completed in the period) and ``overdue`` (the current state; the period,
if given, narrows it to complaints received then). The overdue list shows a kecamatan's staff the complainants'
names and phone numbers: each list served to them is one row of the access log (``shared.access_log``).
"""

from __future__ import annotations

from typing import Annotated

from fastapi import APIRouter, Query

from services.dashboard.adapters import queries
from services.dashboard.adapters.projections import ComplaintsProjection
from services.dashboard.domain.complaints import definition_of
from services.dashboard.domain.register import complainant, register_label
from services.dashboard.entrypoints.deps import DashboardDep, FilterErrors, FiltersDep
from services.dashboard.entrypoints.schemas import (
    AgencyCount,
    Contact,
    KecamatanRef,
    OverdueItem,
    OverdueOut,
    PeriodOut,
    ReferralItem,
    ReferralsOut,
    StepItem,
    StepRef,
    StepsOut,
    SummaryFigures,
    SummaryItem,
    SummaryOut,
)
from shared import access_log, masking
from shared.access_log import AccessDep
from shared.contracts import sop
from shared.http import ErrorBody

ERRORS = {code: {"model": ErrorBody} for code in (401, 403, 422)}

router = APIRouter(prefix="/v1/dashboard", tags=["dashboard"], responses=ERRORS)


def _period(f) -> PeriodOut:
    return PeriodOut(from_=f.period.start, to=f.period.end)


@router.get("/summary", response_model=SummaryOut, summary="Volumes by channel, status and month; the 12-day SLA")
def summary(f: FiltersDep, dash: DashboardDep) -> SummaryOut:
    now = dash.clock()
    with dash.engine.connect() as conn:
        items = queries.summary(conn, f.slugs, f.period, now)
    by_slug = {k.slug: k for k in f.kecamatan}
    return SummaryOut(
        period=_period(f),
        as_of=now,
        kecamatan=[
            SummaryItem(
                kecamatan=KecamatanRef(
                    slug=i["kecamatan"],
                    name=by_slug[i["kecamatan"]].name,
                    kabupaten=by_slug[i["kecamatan"]].kabupaten_slug,
                ),
                **{k: v for k, v in i.items() if k != "kecamatan"},
            )
            for i in items
        ],
        total=SummaryFigures(**queries.add_up(items)),
    )


@router.get("/steps", response_model=StepsOut, summary="Time per SOP step against its standard")
def steps(f: FiltersDep, dash: DashboardDep) -> StepsOut:
    """Percentiles over every step of a kabupaten's year are the dearest query here: the answer is kept for
    as long as the projection has not moved (exact, see ``queries.ResultCache``)."""
    key = ("steps", tuple(f.slugs), f.period.start, f.period.end)
    with dash.engine.connect().execution_options(isolation_level="REPEATABLE READ") as conn, conn.begin():
        rows = dash.results.get_or_compute(
            conn, ComplaintsProjection.name, key, lambda c: queries.steps(c, f.slugs, f.period)
        )
    return StepsOut(period=_period(f), items=[StepItem(step_name=sop.DEFAULT.step(r["step"]).name, **r) for r in rows])


@router.get("/overdue", response_model=OverdueOut, summary="Open complaints past their step's due time, oldest first")
def overdue(
    f: FiltersDep,
    dash: DashboardDep,
    access: AccessDep,
    limit: Annotated[str | None, Query(description="At most this many (default 100)")] = None,
) -> OverdueOut:
    errors = FilterErrors()
    n = errors.integer("limit", limit, 100, 1, dash.settings.overdue_max_limit)
    errors.raise_if_any()
    now = dash.clock()
    with dash.engine.connect() as conn:
        total, rows = queries.overdue(conn, f.slugs, f.period, now, n)
    items = []
    shown = [r for r in rows if not masking.row_masked(f.user, r)]  # with the complainant's name and number
    for r in rows:
        r = masking.complaint_row(r, masking.row_masked(f.user, r))  # the one masking policy (shared/masking.py)
        calendar = dash.calendars.for_kecamatan(r["kecamatan"])
        late = calendar.office_minutes_between(r["step_due_at"], now)
        step = definition_of(r).step(r["current_step"])
        items.append(
            OverdueItem(
                complaint_id=r["complaint_id"],
                tracking_code=r.get("tracking_code"),
                kecamatan=r["kecamatan"],
                register_number=register_label(r),
                subject=r["subject"],
                channel=r["channel"],
                received_at=r["received_at"],
                step=StepRef(number=step.number, name=step.name),
                role=r["waiting_role"],
                unit=r.get("disposition_unit") if step.number in (5, 6) else None,
                step_started_at=r["step_started_at"],
                due_at=r["step_due_at"],
                overdue_minutes=late,
                overdue_working_days=round(late / calendar.hours.standard_day_minutes(), 2),
                deadline_at=r["deadline_at"],
                complainant=Contact(name=r.get("complainant_name"), phone=r.get("complainant_phone")),
            )
        )
    answer = OverdueOut(as_of=now, total=total, items=items)
    if shown:  # staff read their complainants' names and numbers: one access-log row for the list
        access_log.record(
            dash.engine,
            user=f.user,
            service="dashboard",
            what="dashboard.overdue",
            complaint_ids=[r["complaint_id"] for r in shown],
            kecamatan=f.user.kecamatan or f.slugs[0],  # staff read their own kecamatan only
            access=access,
            complainants=(complainant(r) for r in shown),  # masked in the reason given, if it quotes them
        )
    return answer


@router.get("/referrals", response_model=ReferralsOut, summary="Complaints referred (dilimpahkan), by agency and kind")
def referrals(f: FiltersDep, dash: DashboardDep) -> ReferralsOut:
    """``by_state``: where the referrals stand, ``followed`` (open: the kecamatan waits for the receiving office's
    answer), ``answered``, ``lapsed`` (no answer by the follow-up time), ``ended`` (withdrawn or a duplicate
    while followed), ``unfollowed`` (referred before referrals were followed: closed at once)."""
    with dash.engine.connect() as conn:
        rows = queries.referrals(conn, f.slugs, f.period)
    by_kind: dict[str, int] = {}
    by_state: dict[str, int] = {}
    by_agency: dict[tuple, int] = {}
    for r in rows:
        kind = r["agency_kind"] or "lainnya"
        by_kind[kind] = by_kind.get(kind, 0) + r["count"]
        state = r["state"] or "unfollowed"  # (none is left without one: migration 0017 marked the old ones)
        by_state[state] = by_state.get(state, 0) + r["count"]
        by_agency[(r["agency"], r["agency_kind"])] = by_agency.get((r["agency"], r["agency_kind"]), 0) + r["count"]
    return ReferralsOut(
        period=_period(f),
        total=sum(by_kind.values()),
        by_kind=dict(sorted(by_kind.items())),
        by_state=dict(sorted(by_state.items())),
        by_agency=[
            AgencyCount(agency=a, agency_kind=k, count=n)
            for (a, k), n in sorted(by_agency.items(), key=lambda kv: (-kv[1], kv[0][0]))
        ],
        items=[ReferralItem(**r) for r in rows],
    )
