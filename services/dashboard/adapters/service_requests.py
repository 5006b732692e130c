"""The one query behind Open311's ``GET /requests``: complaints as the public may see them, from the
dashboard's own read model ``dashboard.service_requests`` (fed from the event store by its projection, so a
request is found once the workflow has recorded it) and the kecamatan directory. Nothing personal is kept
there to select.
"""

from __future__ import annotations

from sqlalchemy import Engine, case, or_, select

from services.dashboard.adapters.tables import service_requests
from services.dashboard.domain.open311 import RequestQuery, RequestRow
from shared.tenancy import kabupaten_table, kecamatan_table


def find_service_requests(engine: Engine, query: RequestQuery) -> list[RequestRow]:
    r, k, kab = service_requests, kecamatan_table, kabupaten_table
    referral = or_(r.c.status == "referred", r.c.outcome == "referred")  # followed, or closed as referred
    stmt = (
        select(
            r.c.complaint_id,
            r.c.tracking_code,
            r.c.kecamatan,
            k.c.name.label("kecamatan_name"),
            k.c.kabupaten_name,
            r.c.service_code,
            r.c.received_at,
            r.c.status,
            r.c.outcome,
            r.c.current_step,
            r.c.deadline_at,
            r.c.updated_at,
            case((referral, r.c.referred_to), else_=None).label("referred_to"),
            case((r.c.status != "closed", r.c.sop_version), else_=None).label("sop_version"),
            r.c.referral_state,
            r.c.follow_up_by,
            r.c.referral_answered_on,
            kab.c.settings["time_zone"].astext.label("time_zone"),
        )
        .select_from(r.join(k, k.c.slug == r.c.kecamatan).outerjoin(kab, kab.c.slug == k.c.kabupaten_slug))
        .order_by(r.c.received_at.desc(), r.c.complaint_id)
        .limit(query.limit)
    )
    if query.by_id:
        if not query.tracking_codes and not query.complaint_ids:
            return []
        stmt = stmt.where(or_(r.c.tracking_code.in_(query.tracking_codes), r.c.complaint_id.in_(query.complaint_ids)))
    else:
        if query.statuses == {"open"}:
            stmt = stmt.where(r.c.status != "closed")
        elif query.statuses == {"closed"}:
            stmt = stmt.where(r.c.status == "closed")
        if query.start is not None:
            stmt = stmt.where(r.c.received_at >= query.start)
        if query.end is not None:
            stmt = stmt.where(r.c.received_at <= query.end)
        if query.kecamatan is not None:
            stmt = stmt.where(r.c.kecamatan == query.kecamatan)
        if query.services:
            stmt = stmt.where(r.c.service_code.in_([s.code for s in query.services]))
    with engine.connect() as conn:
        return [RequestRow(**row) for row in conn.execute(stmt).mappings()]
