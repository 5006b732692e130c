"""The one query behind Open311's ``GET /requests``: complaints as the public may see them.

It reads tables that are written together with the facts, so a request is found the moment it is
accepted: ``intake.submissions`` (the complaint as accepted, before the workflow has it), the workflow's
read model ``workflow.complaints`` (status, step, deadline; written in the transaction of each append)
and, from the event store, the SOP version and the agency of a referral. Only non-personal columns are
selected. When the dashboard's own projection of complaints exists, this function is the one to switch.
"""
from __future__ import annotations

from sqlalchemy import Engine, Text, and_, case, cast, literal, not_, or_, select

from services.dashboard.georeport import RequestQuery, RequestRow
from services.intake.adapters.tables import submissions
from services.workflow.adapters.tables import complaints
from shared.contracts.open311 import OTHER, SERVICES, subject_prefix
from shared.contracts.workflow import ComplaintReceived, ComplaintReferred
from shared.eventstore.postgres import events
from shared.tenancy import kecamatan_table


def _like_prefix(text: str) -> str:
    return text.replace("\\", "\\\\").replace("%", "\\%").replace("_", "\\_") + "%"


def find_service_requests(engine: Engine, query: RequestQuery) -> list[RequestRow]:
    s, c, k = submissions, complaints, kecamatan_table
    stream = literal("complaint-") + cast(s.c.complaint_id, Text)
    referred_to = (
        select(events.c.payload["agency"].astext)
        .where(events.c.stream_id == stream, events.c.type == ComplaintReferred.type)
        .order_by(events.c.version.desc())
        .limit(1)
        .scalar_subquery()
    )
    sop_version = (
        select(events.c.payload["sop_version"].astext)
        .where(events.c.stream_id == stream, events.c.version == 1, events.c.type == ComplaintReceived.type)
        .scalar_subquery()
    )
    stmt = (
        select(
            s.c.complaint_id, s.c.tracking_code, s.c.kecamatan, k.c.name.label("kecamatan_name"),
            k.c.kabupaten_name, s.c.subject, s.c.received_at, c.c.status, c.c.outcome, c.c.current_step,
            c.c.deadline_at, c.c.updated_at,
            case((c.c.outcome == "referred", referred_to), else_=None).label("referred_to"),
            case((and_(c.c.status.is_not(None), c.c.status != "closed"), sop_version), else_=None).label("sop_version"),
        )
        .select_from(s.join(k, k.c.slug == s.c.kecamatan).outerjoin(c, c.c.complaint_id == s.c.complaint_id))
        .order_by(s.c.received_at.desc(), s.c.complaint_id)
        .limit(query.limit)
    )
    if query.by_id:
        if not query.tracking_codes and not query.complaint_ids:
            return []
        stmt = stmt.where(or_(s.c.tracking_code.in_(query.tracking_codes), s.c.complaint_id.in_(query.complaint_ids)))
    else:
        if query.statuses == {"open"}:
            stmt = stmt.where(or_(c.c.status.is_(None), c.c.status != "closed"))
        elif query.statuses == {"closed"}:
            stmt = stmt.where(c.c.status == "closed")
        if query.start is not None:
            stmt = stmt.where(s.c.received_at >= query.start)
        if query.end is not None:
            stmt = stmt.where(s.c.received_at <= query.end)
        if query.kecamatan is not None:
            stmt = stmt.where(s.c.kecamatan == query.kecamatan)
        if query.services:
            def in_category(svc):
                return s.c.subject.like(_like_prefix(subject_prefix(svc)), escape="\\")

            conditions = [in_category(svc) for svc in query.services if svc is not OTHER]
            if OTHER in query.services:  # "other": no category written in the subject
                conditions.append(not_(or_(*(in_category(svc) for svc in SERVICES if svc is not OTHER))))
            stmt = stmt.where(or_(*conditions))
    with engine.connect() as conn:
        return [RequestRow(**row) for row in conn.execute(stmt).mappings()]
