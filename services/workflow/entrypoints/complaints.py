"""The workflow's routes: the kecamatan served, a role's inbox, a complaint and its history, and the SOP
actions (``POST /v1/complaints/{id}/{action}``)."""

from __future__ import annotations

import dataclasses
import re
import uuid
from dataclasses import dataclass
from datetime import UTC, date, datetime, time, timedelta
from typing import Annotated
from uuid import UUID
from zoneinfo import ZoneInfo

from fastapi import APIRouter, Depends, Header, Query, Request
from fastapi.responses import Response
from pydantic import ValidationError
from sqlalchemy import Connection, and_, case, false, func, or_, select

from services.workflow import handlers
from services.workflow.adapters import duplicates
from services.workflow.adapters.postgres import PostgresComplaints, PostgresEventStreams
from services.workflow.adapters.tables import complaints
from services.workflow.bootstrap import Workflow
from services.workflow.domain import commands as c
from services.workflow.domain import model
from services.workflow.domain.events import stream_id
from services.workflow.entrypoints.schemas import (
    ActedOut,
    ActionBody,
    ComplaintOut,
    InboxItem,
    KecamatanOut,
    PossibleDuplicate,
    StepOut,
)
from shared import access_log, masking, privacy
from shared.access_log import Access, AccessDep
from shared.auth import CurrentUser, Principal
from shared.contracts import sop
from shared.contracts.letters import BSRE
from shared.contracts.organisation import Delegation, UnitEntry
from shared.contracts.tracking import normalize_tracking_code
from shared.contracts.workflow import ComplainantDataCorrected, ComplaintReceived, current_complainant
from shared.events import EventEnvelope
from shared.eventstore import ConcurrencyError
from shared.http import ApiError, ErrorBody, FieldError, field_errors
from shared.organisation_directory import delegations_in_force, units_of

# counters, and how the letter was signed
SERVER_SET = {
    "register_number",
    "register_year",
    "letter_number",
    "letter_sequence",
    "letter_year",
    "signature_service",
}
ACTIONS_DOC = "\n".join(
    f"- `{name}`: "
    + (", ".join(f"`{f}`" for f in cls.model_fields if f not in SERVER_SET | {"actor", "at"}) or "no fields")
    for name, cls in c.STAFF_COMMANDS.items()
)
ERRORS = {code: {"model": ErrorBody} for code in (401, 403, 404, 409, 422)}
_COMPLAINANT_EVENTS = (ComplaintReceived.type, ComplainantDataCorrected.type)  # the events that carry the complainant
# sign-letter where the kecamatan signs through BSrE: BSrE refused the request itself (502), BSrE or letters down (503)
ACTION_ERRORS = {**ERRORS, 502: {"model": ErrorBody}, 503: {"model": ErrorBody}}


def get_workflow(request: Request) -> Workflow:
    return request.app.state.workflow


WorkflowDep = Annotated[Workflow, Depends(get_workflow)]


def _kabupaten_of(workflow: Workflow, slug: str) -> str | None:
    """The kabupaten a kecamatan's complaints belong to, whether it is still served or not: they stay the
    kabupaten's records (its readers and its data-protection officer keep them after the kecamatan left)."""
    k = workflow.directory.on_record(slug)
    return k.kabupaten_slug if k else None


def _step(state_or_row_step: int | None, definition) -> StepOut | None:
    if state_or_row_step is None:
        return None
    s = definition.step(state_or_row_step)
    return StepOut(number=s.number, name=s.name, role=s.role)


def allowed_actions(
    wf: Workflow, state: model.Complaint, user: Principal, delegations: list[Delegation] | None = None
) -> list[str]:
    """The actions the user may take on the complaint now: in their own role, or as a Plh./Plt. in force
    (``delegations``: those naming the user today, when already read: ``_delegations``)."""
    if not user.is_staff or user.kecamatan != state.kecamatan:
        return []
    allowed = []
    now = datetime.now(UTC)
    if delegations is None:  # read once, not per action
        delegations = handlers.delegations_of_user(wf, state.kecamatan, user.username, now)
    for name in c.STAFF_COMMANDS:
        try:
            handlers.acting_as(wf, state, name, user.username, user.role, user.unit, now, delegations=delegations)
        except model.DomainError:
            continue
        allowed.append(name)
    return allowed


@dataclass(frozen=True)
class _OrganisationOn:
    """The kecamatan's organisation read on a connection the caller holds (``adapters/organisation.py`` reads the
    same views, each on a connection of its own)."""

    conn: Connection

    def units(self, kecamatan: str) -> list[UnitEntry]:
        return units_of(self.conn, kecamatan)

    def delegations(self, kecamatan: str, day: date) -> list[Delegation]:
        return delegations_in_force(self.conn, kecamatan, day)


def _delegations(wf: Workflow, user: Principal, state: model.Complaint, conn: Connection) -> list[Delegation]:
    """What ``allowed_actions`` needs of the delegations in force naming the user, read in the answer's transaction:
    none unless the user is staff of the complaint's kecamatan (it asks nothing of others) and the organisation is
    known here (without it nobody acts for anyone)."""
    if wf.organisation is None or not user.is_staff or user.kecamatan != state.kecamatan:
        return []
    on_conn = dataclasses.replace(wf, organisation=_OrganisationOn(conn))
    return handlers.delegations_of_user(on_conn, state.kecamatan, user.username, datetime.now(UTC))


router = APIRouter()


@router.get("/v1/kecamatan", response_model=list[KecamatanOut], summary="The kecamatan served here (public)")
def kecamatan_list(wf: WorkflowDep, response: Response) -> list[KecamatanOut]:
    response.headers["Cache-Control"] = "public, max-age=300"
    return [
        KecamatanOut(
            slug=k.slug,
            name=k.name,
            kabupaten=k.kabupaten_slug,
            kabupaten_name=k.kabupaten_name,
            time_zone=str(k.time_zone),
            time_zone_label=k.time_zone_label,
            klasifikasi=dict(k.letter_numbering().klasifikasi),
            klasifikasi_default=dict(k.letter_numbering().default),
            signature_service=BSRE if handlers.signs_through_bsre(k) else "local",
            categories={c.code: c.name for c in k.categories},
        )
        for k in wf.directory.active()
    ]


def _waiting_on(role: str, unit: str | None):
    waiting = complaints.c.waiting_role == role
    if role == "kasi":  # at the unit-bound steps, only the Kasi of the disposed unit
        waiting = and_(
            waiting,
            or_(
                complaints.c.unit.is_(None),
                complaints.c.unit == (unit or "").casefold(),
                complaints.c.current_step.notin_(sorted(model.UNIT_BOUND_STEPS)),
            ),
        )
    return waiting


INBOX_PAGE_SIZE = 50
INBOX_MAX_PAGE_SIZE = 200
INBOX_DATES = (date(2000, 1, 1), date(2100, 12, 31))  # what a search by received date may name
_REGISTER = re.compile(r"^\s*(\d{1,7})\s*(?:/\s*(\d{4}))?\s*$")  # "12" or "12/2026"


@router.get(
    "/v1/inbox",
    response_model=list[InboxItem],
    responses=ERRORS,
    summary="What waits on my role: overdue first, then by due time; paged and filtered",
    description=(
        "One page of the complaints waiting on the user's role (and on the roles a Plh./Plt. in force names them "
        'for). `X-Total-Count` says how many match; `Link` names the next page (`rel="next"`). Filters: `unit` '
        "(a unit's code), `channel`, `received_from` and `received_to` (dates in the kabupaten's time zone, both "
        "included), `q` (a tracking code, or a register number `12` or `12/2026`)."
    ),
)
def inbox(
    user: CurrentUser,
    wf: WorkflowDep,
    request: Request,
    response: Response,
    page: Annotated[int, Query(ge=1, le=100_000)] = 1,
    per_page: Annotated[int, Query(ge=1, le=INBOX_MAX_PAGE_SIZE)] = INBOX_PAGE_SIZE,
    unit: Annotated[str | None, Query(max_length=40, pattern=r"^[A-Za-z0-9-]*$")] = None,
    channel: Annotated[str | None, Query(max_length=20, pattern=r"^[A-Za-z]*$")] = None,
    received_from: date | None = None,
    received_to: date | None = None,
    q: Annotated[str | None, Query(max_length=40, pattern=r"^[A-Za-z0-9 /-]*$")] = None,
) -> list[InboxItem]:
    if not user.is_staff:
        raise ApiError(403, "not_kecamatan_staff", "Kotak masuk hanya untuk staf kecamatan.")
    if received_from and received_to and received_from > received_to:
        raise ApiError(422, "invalid_period", "Tanggal awal harus sebelum atau sama dengan tanggal akhir.")
    for day in (received_from, received_to):
        if day is not None and not INBOX_DATES[0] <= day <= INBOX_DATES[1]:
            raise ApiError(422, "invalid_period", "Tanggal di luar rentang yang dapat dicari (2000 sampai 2100).")
    now = datetime.now(UTC)
    # their own role's work, and the work of each role a Plh./Plt. in force names them for
    roles = [(user.role, user.unit)] + [
        (d.role, d.unit) for d in handlers.delegations_of_user(wf, user.kecamatan, user.username, now)
    ]
    waiting = [_waiting_on(role, unit) for role, unit in roles]
    if user.role == handlers.atas_nama_signer(wf.kecamatan(user.kecamatan)):  # the letters they may sign a.n. Camat
        waiting.append(and_(complaints.c.waiting_role == "camat", complaints.c.current_step == 10))
    where = [complaints.c.kecamatan == user.kecamatan, or_(*waiting)]
    where += _inbox_filters(wf.kecamatan(user.kecamatan).time_zone, unit, channel, received_from, received_to, q)
    overdue_first = case((complaints.c.step_due_at < now, 0), else_=1)
    with wf.engine.connect() as conn:
        total = conn.execute(select(func.count()).select_from(complaints).where(*where)).scalar_one()
        rows = (
            conn.execute(
                select(complaints)
                .where(*where)
                .order_by(
                    overdue_first,
                    complaints.c.step_due_at.asc().nulls_last(),
                    complaints.c.received_at,
                    complaints.c.complaint_id,
                )
                .limit(per_page)
                .offset((page - 1) * per_page)
            )
            .mappings()
            .all()
        )
    response.headers["X-Total-Count"] = str(total)
    if page * per_page < total:
        response.headers["Link"] = f'<{request.url.include_query_params(page=page + 1)}>; rel="next"'
    definition = sop.with_overrides(sop.DEFAULT, wf.kecamatan(user.kecamatan).sop_overrides)
    return [
        InboxItem(
            id=r["complaint_id"],
            # a pelapor rahasia's code opens their receipt, which names them: only for those who may see them
            tracking_code=r["tracking_code"] if masking.sees_personal_data(user, r["confidential"]) else None,
            confidential=r["confidential"],
            kecamatan=r["kecamatan"],
            subject=r["subject"],
            status=r["status"],
            current_step=_step(r["current_step"], definition),
            due_at=r["step_due_at"],
            overdue=bool(r["step_due_at"] and r["step_due_at"] < now),
            deadline_at=r["deadline_at"],
            received_at=r["received_at"],
            channel=r["channel"],
            unit=r["unit"],
            register_number=f"{r['register_number']}/{r['register_year']}" if r["register_number"] else None,
        )
        for r in rows
    ]


def _inbox_filters(
    zone: ZoneInfo,
    unit: str | None,
    channel: str | None,
    received_from: date | None,
    received_to: date | None,
    q: str | None,
) -> list:
    c = complaints.c
    where: list = []
    if unit:
        where.append(c.unit == unit.strip().casefold())
    if channel:
        where.append(c.channel == channel.strip().lower())
    if received_from:
        where.append(c.received_at >= datetime.combine(received_from, time.min, zone))
    if received_to:
        where.append(c.received_at < datetime.combine(received_to + timedelta(days=1), time.min, zone))
    if q and q.strip():
        code = normalize_tracking_code(q)
        number = _REGISTER.match(q)
        found = []
        if code:
            found.append(c.tracking_code == code)
        if number:
            register = c.register_number == int(number[1])
            found.append(and_(register, c.register_year == int(number[2])) if number[2] else register)
        where.append(or_(*found) if found else false())
    return where


@router.get(
    "/v1/complaints/{complaint_id}",
    response_model=ComplaintOut,
    responses=ERRORS,
    summary="A complaint and its history",
    description="Staff of the complaint's kecamatan read the complainant's data; kabupaten users, the data-protection "
    "officer and admins a masked view. Each read that shows the data is recorded in the complaint's access log "
    "(`GET /v1/complaints/{id}/access-log`), with the reason given in `X-Access-Reason`.",
)
def detail(complaint_id: UUID, user: CurrentUser, wf: WorkflowDep, access: AccessDep) -> ComplaintOut:
    return _complaint(complaint_id, user, wf, what="complaint.detail", access=access)


@dataclass(frozen=True)
class _Reads:
    """What ``handlers.load`` reads, on the connection of the answer's own transaction."""

    complaints: PostgresComplaints
    events: PostgresEventStreams


def _complaint(
    complaint_id: UUID,
    user: Principal,
    wf: Workflow,
    *,
    what: str,
    access: Access,
    acted: tuple[model.Complaint, list[EventEnvelope]] | None = None,
) -> ComplaintOut:
    """The complaint as this reader may see it; a reader served its personal data is recorded in the access log
    (``shared.access_log``, before the answer goes out: no row, no answer). One transaction for every statement of
    the answer: the complaint's row and stream, the delegations naming the reader, its possible duplicates, the
    access-log row. After an action
    (``acted``: the complaint and its stream as ``handlers.act_with_events`` left them) only the events from the
    action on are read, for the positions the store gave them (and any a worker appended since)."""
    with wf.engine.begin() as conn:
        if acted is None:
            try:
                state, _row, envelopes = handlers.load_with_events(
                    _Reads(PostgresComplaints(conn), PostgresEventStreams(wf.store, conn)),
                    complaint_id,
                    lambda k: user.can_read_kecamatan(k, _kabupaten_of(wf, k)),
                )
            except handlers.UnknownComplaint:
                raise _not_found() from None
        else:
            state, envelopes = _stored(wf, conn, complaint_id, *acted)
        out = _view(wf, user, state, envelopes, complaint_id, _delegations(wf, user, state, conn))
        personal = masking.sees_personal_data(user, state.confidential)
        if not personal and not _may_have_duplicates(user, state):
            return out
        out.possible_duplicates = _possible_duplicates(conn, wf, user, state, envelopes)
        if personal:
            access_log.record(
                conn,
                user=user,
                service="workflow",
                what=what,
                complaint_ids=[complaint_id],
                kecamatan=state.kecamatan,
                access=access,
                # masked in the reason given, if it quotes them: as received and as corrected since
                complainants=[e.payload["complainant"] for e in envelopes if e.type in _COMPLAINANT_EVENTS],
            )
    return out


def _stored(
    wf: Workflow, conn: Connection, complaint_id: UUID, state: model.Complaint, stream: list[EventEnvelope]
) -> tuple[model.Complaint, list[EventEnvelope]]:
    """The complaint after an action, its events as stored: those the action appended read again for their
    positions, with any appended since (then the state is replayed to include them)."""
    stored = [e for e in stream if e.position is not None]
    after = stored[-1].version if stored else 0
    since = wf.store.read_stream(stream_id(complaint_id), after_version=after, conn=conn)
    envelopes = [*stored, *since]
    if len(envelopes) != len(stream) or envelopes[-1].version != state.version:
        state = model.replay(envelopes)
    return state, envelopes


def _view(
    wf: Workflow,
    user: Principal,
    state: model.Complaint,
    envelopes: list[EventEnvelope],
    complaint_id: UUID,
    delegations: list[Delegation],
) -> ComplaintOut:
    """The answer's body as this reader may see it (masked as ``shared.masking`` says), its duplicates not yet."""
    first = envelopes[0].payload
    now = datetime.now(UTC)
    body = dict(
        id=complaint_id,
        tracking_code=state.tracking_code,
        kecamatan=state.kecamatan,
        status=state.status,
        outcome=state.outcome,
        version=state.revision,
        current_step=_step(state.current_step, state.definition) if state.status != "closed" else None,
        due_at=state.step_due_at,
        overdue=bool(state.step_due_at and state.step_due_at < now),
        deadline_at=state.deadline_at,
        register_number=f"{state.register_number}/{state.register_year}" if state.register_number else None,
        letter_number=state.letter_number,
        unit=state.unit,
        channel=first["channel"],
        subject=first["subject"],
        description=first["description"],
        # as corrected on the complainant's request since, else as received
        complainant=next(
            (e.payload["complainant"] for e in reversed(envelopes) if e.type == ComplainantDataCorrected.type),
            first["complainant"],
        ),
        received_at=first["received_at"],
        confidential=state.confidential,
        category=state.category,
        allowed_actions=allowed_actions(wf, state, user, delegations),
        history=[
            dict(
                position=e.position,
                version=e.version,
                type=e.type,
                occurred_at=e.occurred_at,
                actor=e.actor.model_dump(),
                step=e.payload.get("step"),
                output=e.payload.get("output"),
                payload=e.payload,
            )
            for e in envelopes
        ],
    )
    personal = masking.sees_personal_data(user, state.confidential)  # invariant 9: the one policy, shared/masking.py
    if not personal and user.is_staff:  # a pelapor rahasia to the Staf or Sekcam: the complaint, not who complains
        body = masking.conceal_for_staff(body)
    elif not personal:
        body = masking.apply(masking.COMPLAINT, masking.conceal_complaint(body) if state.confidential else body)
    return ComplaintOut.model_validate(body)


def _may_have_duplicates(user: Principal, state: model.Complaint) -> bool:
    return bool(user.is_staff and user.kecamatan == state.kecamatan and state.status != "closed" and state.complaint_id)


def _possible_duplicates(
    conn: Connection, wf: Workflow, user: Principal, state: model.Complaint, envelopes: list
) -> list[PossibleDuplicate]:
    """The open complaints of the kecamatan that may be this one's duplicates or originals (docs/adr/0021), for its
    own staff while it is open. A match by the complainant's NIK, phone or e-mail says that the two complainants
    are one person: shown only to a reader who may see both (a pelapor rahasia's Staf or Sekcam would otherwise
    learn who they are from the other complaint, or the other way round); for others such a candidate shows only if
    its text is alike too, and the code of a pelapor rahasia they may not see is withheld, as in the inbox."""
    if not _may_have_duplicates(user, state) or state.complaint_id is None or state.kecamatan is None:
        return []
    first = envelopes[0].payload
    person = current_complainant([e.decode() for e in envelopes if e.type in _COMPLAINANT_EVENTS])
    if person is None:
        return []
    found = duplicates.possible_duplicates(
        conn,
        privacy.lookup_hashes(wf.store.data_keys.keks),
        state.complaint_id,
        state.kecamatan,
        person,
        first["subject"],
        first["description"],
    )
    visible = []
    for m in found:
        sees_both = masking.sees_personal_data(user, state.confidential) and masking.sees_personal_data(
            user, m.confidential
        )
        reasons = m.reasons if sees_both else m.reasons & {"text"}
        if reasons:
            visible.append(dataclasses.replace(m, reasons=reasons))
    visible.sort(key=duplicates.shown_order)  # by what this reader sees: the order tells nothing more
    shown = []
    for m in visible[: duplicates.MAX_SHOWN]:
        reasons = m.reasons
        shown.append(
            PossibleDuplicate(
                complaint_id=m.complaint_id,
                tracking_code=m.tracking_code if masking.sees_personal_data(user, m.confidential) else None,
                register_number=m.register_number,
                received_at=m.received_at,
                subject=m.subject,
                reasons=[r for r in ("nik", "phone", "email", "text") if r in reasons],
                similarity=m.similarity if "text" in reasons else None,
            )
        )
    return shown


def _original_by_code(wf: Workflow, kecamatan: str | None, typed: object) -> UUID | None:
    """The complaint of ``kecamatan`` a typed tracking code names (mark-duplicate's ``duplicate_of``), if any."""
    code = normalize_tracking_code(typed) if isinstance(typed, str) else None
    if not code or kecamatan is None:
        return None
    with wf.engine.connect() as conn:
        return conn.execute(
            select(complaints.c.complaint_id).where(
                complaints.c.tracking_code == code, complaints.c.kecamatan == kecamatan
            )
        ).scalar_one_or_none()


@router.post(
    "/v1/complaints/{complaint_id}/{action}",
    response_model=ComplaintOut | ActedOut,
    responses=ACTION_ERRORS,
    summary="Perform an SOP action (see the list in the description)",
)
def perform(
    complaint_id: UUID,
    action: str,
    body: ActionBody,
    user: CurrentUser,
    wf: WorkflowDep,
    request: Request,
    response: Response,
    access: AccessDep,
    x_correlation_id: Annotated[UUID | None, Header()] = None,
    prefer: Annotated[
        str | None,
        Header(
            description="`return=minimal` (RFC 7240): the answer is the complaint's id, status, version and step "
            "(`ActedOut`, `Preference-Applied: return=minimal`), not the complaint as a GET shows it: for a client "
            "that reads the page again anyway (the web app)",
        ),
    ] = None,
) -> ComplaintOut | ActedOut:
    if action not in c.STAFF_COMMANDS:
        raise ApiError(404, "unknown_action", f"Tindakan '{action}' tidak dikenal.")
    if not user.is_staff:
        raise ApiError(403, "read_only", "Pengguna kabupaten dan admin hanya dapat melihat.")
    extra = body.model_extra or {}
    reserved = sorted(set(extra) & (SERVER_SET | {"actor", "at"}))
    if reserved:
        raise ApiError(
            422,
            "validation_error",
            "Ada isian yang belum benar. Periksa kembali.",
            [
                FieldError(field=k, code="reserved_field", message="Diisi oleh sistem, tidak boleh dikirim.")
                for k in reserved
            ],
        )
    fields = dict(extra)
    if action == "mark-duplicate" and fields.get("original") is None:  # a typed code: the original it names
        fields["original"] = _original_by_code(wf, user.kecamatan, fields.get("duplicate_of"))
    passphrase = body.passphrase.get_secret_value() if body.passphrase is not None else None
    try:
        acted = handlers.act_with_events(
            wf,
            complaint_id,
            action,
            fields,
            expected_version=body.expected_version,
            user_id=user.username,
            role=user.role,
            unit=user.unit,
            kecamatan=user.kecamatan,
            at=datetime.now(UTC),
            correlation_id=x_correlation_id or uuid.uuid4(),
            passphrase=passphrase,
            authorization=request.headers.get("authorization"),
        )
    except handlers.UnknownComplaint:
        raise _not_found() from None
    except (handlers.StaleVersion, ConcurrencyError):
        raise ApiError(
            409, "stale_version", "Pengaduan ini sudah diubah orang lain. Muat ulang halaman lalu coba lagi."
        ) from None
    except model.DomainError as exc:
        headers = {"Retry-After": "60"} if exc.status == 503 else None  # BSrE (or letters) down at step 10
        raise ApiError(exc.status, exc.code, exc.message, headers=headers) from None
    except ValidationError as exc:
        raise ApiError(
            422, "validation_error", "Ada isian yang belum benar. Periksa kembali.", field_errors(exc.errors())
        ) from None
    if minimal(prefer):
        # the version the action left: a worker may append after it (the complaint's GET shows the latest)
        state = acted[0]
        response.headers["Preference-Applied"] = "return=minimal"
        return ActedOut(id=complaint_id, status=state.status, version=state.version, current_step=state.current_step)
    return _complaint(complaint_id, user, wf, what="complaint.action", access=access, acted=acted)


def minimal(prefer: str | None) -> bool:
    """Whether a ``Prefer`` header (RFC 7240: comma-separated preferences, each ``token[=value]`` with optional
    ``;parameters``, values perhaps quoted) asks for ``return=minimal``. Anything else, or nothing: the full answer."""
    for preference in (prefer or "").split(","):
        name, _, value = preference.split(";", 1)[0].partition("=")
        if name.strip().lower() == "return" and value.strip().strip('"').lower() == "minimal":
            return True
    return False


def _not_found() -> ApiError:
    return ApiError(404, "complaint_not_found", "Pengaduan tidak ditemukan.")
