"""What the workflow does on each message and each staff command.

Each runs in one unit of work (``ctx.uow()``, services/workflow/unit_of_work.py), one transaction: the consumer
inbox row (for messages), the counters (for numbers people write on paper), the appended events and the read
model row commit together or not at all. The append comes last and the commit at once: while a transaction that
holds a transaction id runs, every event reader is held back from the positions drawn since (docs/adr/0027).
"""

from __future__ import annotations

import functools
import logging
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol, TypeVar
from uuid import UUID

from services.workflow.domain import commands as c
from services.workflow.domain import model
from services.workflow.domain.events import stream_id
from services.workflow.unit_of_work import Complaints, EventStreams, UnitOfWork
from shared import masking
from shared.calendar import WorkingCalendar
from shared.contracts import categories
from shared.contracts.intake import Complainant, ComplainantReplied, ComplaintSubmitted, FeedbackGiven
from shared.contracts.letters import BSRE, SIGNATURE_SERVICE_SETTING, EsignLetter, LetterDocumentIssued
from shared.contracts.notify import NotificationReport
from shared.contracts.numbering import LetterKind
from shared.contracts.numbering import UnknownKlasifikasi as NumberingUnknownKlasifikasi
from shared.contracts.organisation import ATAS_NAMA, Delegation, UnitEntry, find_unit
from shared.contracts.workflow import (
    ComplainantDataCorrected,
    ComplaintReceived,
    LetterSigned,
    PersonalDataErased,
    current_complainant,
)
from shared.events import Actor, EventEnvelope, envelope
from shared.eventstore import ConcurrencyError, DuplicateEventError
from shared.tenancy import Kecamatan

log = logging.getLogger(__name__)

EVENT_ID_NAMESPACE = uuid.UUID("6f1c1a3e-2f43-4a55-9a55-70656e676164")
SignOrRefer = TypeVar("SignOrRefer", c.SignLetter, c.Refer)


class UnknownComplaint(Exception):
    pass


class StaleVersion(Exception):
    def __init__(self, expected: int, actual: int) -> None:
        super().__init__(f"expected version {expected}, the complaint is at {actual}")
        self.expected, self.actual = expected, actual


def derived_event_id(consumer: str, message_id: UUID, index: int) -> UUID:
    """The same message always yields the same event ids (a redelivery can append nothing new)."""
    return uuid.uuid5(EVENT_ID_NAMESPACE, f"{consumer}:{message_id}:{index}")


class Calendars:
    """One working-day calendar per kecamatan, rebuilt when its settings change."""

    def __init__(self) -> None:
        self._cache: dict[str, tuple[str, WorkingCalendar]] = {}

    def for_kecamatan(self, kecamatan: Kecamatan) -> WorkingCalendar:
        key = kecamatan.calendar_key()
        cached = self._cache.get(kecamatan.slug)
        if cached is None or cached[0] != key:
            cached = (key, kecamatan.calendar())
            self._cache[kecamatan.slug] = cached
        return cached[1]


class Directory(Protocol):
    """The kecamatan served here (``shared.tenancy.KecamatanDirectory``)."""

    def get(self, slug: str) -> Kecamatan | None: ...

    def active(self) -> list[Kecamatan]:
        """Every active kecamatan."""
        ...

    def every(self) -> list[Kecamatan]:
        """Every kecamatan on record, active or not (the retention job's round goes through them all)."""
        ...

    def on_record(self, slug: str) -> Kecamatan | None:
        """A kecamatan by slug, active or not (whose kabupaten its complaints stay with)."""
        ...


class Esign(Protocol):
    """The letters service, asked at step 10 to have the letter signed through BSrE (``adapters/esign.py``):
    raises ``EsignFailed`` (a DomainError with letters' code) when it did not happen."""

    timeout: float  # seconds the workflow waits for it (PENGADUAN_ESIGN_TIMEOUT)

    def sign(self, request: EsignLetter, authorization: str | None) -> None: ...


class Organisation(Protocol):
    """The kecamatan's units and delegations (``adapters/organisation.py``; accounts' views, docs/adr/0014)."""

    def units(self, kecamatan: str) -> list[UnitEntry]:
        """Its active units, with their heads."""
        ...

    def delegations(self, kecamatan: str, day: date) -> list[Delegation]:
        """The delegations in force on ``day``."""
        ...


@dataclass
class Context:
    """What the handlers need: a fresh unit of work per message or command, the kecamatan and their calendars.
    bootstrap.Workflow adds what the processes need besides (engine, store, settings)."""

    uow: Callable[[], UnitOfWork]
    directory: Directory
    calendars: Calendars
    # None: dispositions are taken as written and nobody acts for anyone (unit tests of the other flows)
    organisation: Organisation | None = field(default=None, kw_only=True)
    # None: no kecamatan can sign through BSrE here (step 10 answers 503 esign_unavailable where one would)
    esign: Esign | None = field(default=None, kw_only=True)

    def kecamatan(self, slug: str) -> Kecamatan:
        found = self.directory.get(slug)
        if found is None:
            raise UnknownComplaint(f"kecamatan {slug} is not served here")
        return found


def _append(
    uow: UnitOfWork,
    state: model.Complaint,
    events,
    *,
    actor: Actor,
    at: datetime,
    correlation_id: UUID,
    causation_id: UUID | None,
    ids,
) -> tuple[model.Complaint, list[EventEnvelope]]:
    stream = stream_id(state.complaint_id) if state.complaint_id else stream_id(events[0].complaint_id)
    kecamatan = state.kecamatan or events[0].kecamatan
    envelopes = [
        envelope(
            event,
            event_id=ids(i),
            stream_id=stream,
            version=state.version + 1 + i,
            kecamatan=kecamatan,
            occurred_at=at,
            actor=actor,
            correlation_id=correlation_id,
            causation_id=causation_id,
        )
        for i, event in enumerate(events)
    ]
    for e in envelopes:
        state = model.evolve(state, e.decode(), at, actor.user_id)
    uow.events.append(stream, envelopes[0].version - 1, envelopes)
    return state, envelopes


# -- messages -----------------------------------------------------------------------------------------------
def record_complaint(ctx: Context, message: ComplaintSubmitted) -> bool:
    """Append the complaint's first event, once. Returns False when the message was already processed."""
    consumer = "workflow.record_complaint"
    kecamatan = ctx.kecamatan(message.kecamatan)
    with ctx.uow() as uow:
        if not uow.inbox.claim(consumer, message.submission_id):
            log.info("duplicate message ignored", extra={"message_id": str(message.submission_id)})
            return False
        state = model.replay(uow.events.read(stream_id(message.complaint_id)))
        command = c.RecordComplaint(submission=message, sop_overrides=kecamatan.sop_overrides)
        events = model.decide(state, command, ctx.calendars.for_kecamatan(kecamatan))
        new_state, _ = _append(
            uow,
            state,
            events,
            actor=Actor.system("intake"),
            at=message.received_at,
            correlation_id=message.correlation_id,
            causation_id=message.submission_id,
            ids=lambda i: derived_event_id(consumer, message.submission_id, i),
        )
        uow.complaints.add(
            new_state,
            message.received_at,
            subject=message.subject,
            channel=message.channel,
            received_at=message.received_at,
        )
        uow.duplicates.record(  # possible duplicates: keyed hashes of NIK, phone, e-mail, and the text
            message.complaint_id,
            message.kecamatan,
            message.complainant,
            subject=message.subject,
            description=message.description,
        )
        uow.commit()
    log.info("complaint recorded", extra={"complaint_id": str(message.complaint_id), "kecamatan": message.kecamatan})
    return True


# -- staff commands -----------------------------------------------------------------------------------------
class ComplaintReads(Protocol):
    """What ``load`` reads: a unit of work's read model and streams (a whole unit of work does; so does a read-only
    view on a connection that a caller holds for other statements too: the API's answer and its access-log row)."""

    @property
    def complaints(self) -> Complaints: ...

    @property
    def events(self) -> EventStreams: ...


def load(uow: ComplaintReads, complaint_id: UUID, visible_to: Callable[[str], bool]) -> tuple[model.Complaint, dict]:
    """The complaint's state and its read-model row, if ``visible_to(kecamatan)`` says this user may see it
    (else: unknown)."""
    state, row, _events = load_with_events(uow, complaint_id, visible_to)
    return state, row


def load_with_events(
    uow: ComplaintReads, complaint_id: UUID, visible_to: Callable[[str], bool]
) -> tuple[model.Complaint, dict, list[EventEnvelope]]:
    """``load``, with the stream it replayed (a reader that shows the history reads it once, not twice)."""
    row = uow.complaints.get(complaint_id)
    if row is None or not visible_to(row["kecamatan"]):
        raise UnknownComplaint(str(complaint_id))
    events = uow.events.read(stream_id(complaint_id))
    return model.replay(events), row, events


def act(
    ctx: Context,
    complaint_id: UUID,
    action: str,
    fields: dict,
    *,
    expected_version: int,
    user_id: str,
    role: str,
    unit: str | None,
    kecamatan: str | None,
    at: datetime,
    correlation_id: UUID,
    passphrase: str | None = None,
    authorization: str | None = None,
) -> model.Complaint:
    """``act_with_events``, for a caller that needs the complaint after the action only."""
    state, _stream = act_with_events(
        ctx,
        complaint_id,
        action,
        fields,
        expected_version=expected_version,
        user_id=user_id,
        role=role,
        unit=unit,
        kecamatan=kecamatan,
        at=at,
        correlation_id=correlation_id,
        passphrase=passphrase,
        authorization=authorization,
    )
    return state


def act_with_events(
    ctx: Context,
    complaint_id: UUID,
    action: str,
    fields: dict,
    *,
    expected_version: int,
    user_id: str,
    role: str,
    unit: str | None,
    kecamatan: str | None,
    at: datetime,
    correlation_id: UUID,
    passphrase: str | None = None,
    authorization: str | None = None,
) -> tuple[model.Complaint, list[EventEnvelope]]:
    """A staff member performs ``action`` on a complaint of their own kecamatan: in their own role, or in the role
    a delegation in force names them for (a Plh./Plt.), which the event's actor records beside their own.

    ``sign-letter`` where the kecamatan signs through BSrE (``signs_through_bsre``): the letter is signed by BSrE,
    through the letters service, with ``passphrase`` and the signer's ``authorization`` (their bearer token) before
    anything is appended; when it is not (a wrong passphrase, BSrE down) nothing is kept, the number taken is
    given back, and the complaint stays at step 10.

    Returns the complaint after the action and its stream up to the events appended (those without their
    ``position``, which the store gives them as they are written): what the answer shows, without a second read."""
    with ctx.uow() as uow:
        state, row, stream = load_with_events(uow, complaint_id, lambda k: k == kecamatan)
        if state.revision != expected_version:
            raise StaleVersion(expected_version, state.revision)
        command_type = c.STAFF_COMMANDS[action]
        actor, delegation = acting_as(ctx, state, action, user_id, role, unit, at)
        probe = dict(fields)
        if command_type is c.Register:
            probe.update(register_number=0, register_year=at.year)
        if command_type is c.SignLetter:
            probe.update(letter_number="-", letter_sequence=0, letter_year=at.year)
        if command_type is c.Refer:  # the surat pelimpahan's number comes from the counter, never the body
            probe = {k: v for k, v in probe.items() if k not in ("letter_number", "letter_sequence", "letter_year")}
        command = command_type(actor=actor, at=at, **probe)  # the body, validated
        if isinstance(command, c.Dispose) and ctx.organisation is not None:  # and Redispose: the unit's code
            written = " ".join(str(fields.get("unit", command.unit)).split())  # valid (above), as the Camat wrote it
            code = _disposed_unit(ctx.organisation, ctx, row["kecamatan"], written, at)
            command = command.model_copy(update={"unit": code})
        if isinstance(command, c.AnswerObjection) and command.unit and ctx.organisation is not None:
            code = _disposed_unit(ctx.organisation, ctx, row["kecamatan"], " ".join(command.unit.split()), at)
            command = command.model_copy(update={"unit": code})
        if isinstance(command, c.MarkDuplicate):
            command = _original(uow, row, command)
        if isinstance(command, c.Categorize) and not categories.find(
            ctx.kecamatan(row["kecamatan"]).categories, command.category
        ):
            raise UnknownCategory("Kategori tidak dikenal: pilih salah satu dari daftar kategori kabupaten ini.")
        if command_type is c.Register:
            year = _local_year(ctx, row["kecamatan"], at)
            command = command.model_copy(
                update={"register_number": uow.counters.next("register", row["kecamatan"], year), "register_year": year}
            )
        if isinstance(command, c.SignLetter | c.Refer):  # the response letter at signing, the surat pelimpahan
            command = _numbered(uow, ctx.kecamatan(row["kecamatan"]), command, at)  # now: inside what it signs
        through_bsre = isinstance(command, c.SignLetter) and signs_through_bsre(ctx.kecamatan(row["kecamatan"]))
        if through_bsre:
            command = command.model_copy(update={"signature_service": BSRE})
        events = model.decide(state, command, ctx.calendars.for_kecamatan(ctx.kecamatan(row["kecamatan"])))
        who = Actor(kind="user", user_id=user_id, role=role)
        if delegation is not None:
            who = who.model_copy(
                update={"acting_for": delegation.role, "acting_kind": delegation.kind, "delegation_id": delegation.id}
            )
        elif actor.role != role:  # signed a.n. (atas nama) the Camat, as the kecamatan's setting allows
            who = who.model_copy(update={"acting_for": actor.role, "acting_kind": ATAS_NAMA})
        ids = [uuid.uuid4() for _ in events]
        if through_bsre:  # before the append, as everything slow: the store's readers are not held back for BSrE
            signed = next(i for i, e in enumerate(events) if isinstance(e, LetterSigned))
            letter = events[signed]
            assert isinstance(letter, LetterSigned)  # noqa: S101
            _esign(ctx, complaint_id, row["kecamatan"], letter, ids[signed], who, at, passphrase, authorization)
        try:
            new_state, appended = _append(
                uow,
                state,
                events,
                actor=who,
                at=at,
                correlation_id=correlation_id,
                causation_id=None,
                ids=lambda i: ids[i],
            )
        except ConcurrencyError as raced:
            if not through_bsre or raced.actual is None:  # (None: a unique-key race; the transaction is aborted)
                raise
            # BSrE has signed, and meanwhile a notification's report or an overdue flag was appended: record the
            # signature after them, with the same number and event id (the store's check raised before writing)
            new_state, stream, appended = _rebased_signature(
                ctx, uow, complaint_id, command, events, ids, who, at, correlation_id
            )
        uow.complaints.update(new_state, at)
        uow.commit()
    return new_state, [*stream, *appended]


def _rebased_signature(
    ctx: Context,
    uow: UnitOfWork,
    complaint_id: UUID,
    command: c.Command,
    signed_events: list,
    ids: list[UUID],
    who: Actor,
    at: datetime,
    correlation_id: UUID,
) -> tuple[model.Complaint, list[EventEnvelope], list[EventEnvelope]]:
    """The signature decided again on the complaint as it now is: the same letter version, number and event id
    as BSrE signed (``signed_events``/``ids``), or ConcurrencyError when it no longer fits (another person acted).
    The complaint after it, the stream it was decided on, and the events appended."""
    stream = uow.events.read(stream_id(complaint_id))
    state = model.replay(stream)
    events = model.decide(state, command, ctx.calendars.for_kecamatan(ctx.kecamatan(state.kecamatan or "")))
    if [type(e) for e in events] != [type(e) for e in signed_events] or any(
        isinstance(e, LetterSigned) and (e.letter_version, e.letter_number) != (s.letter_version, s.letter_number)
        for e, s in zip(events, signed_events, strict=True)
    ):
        raise ConcurrencyError(stream_id(complaint_id), state.version, state.version)
    new_state, appended = _append(
        uow,
        state,
        events,
        actor=who,
        at=at,
        correlation_id=correlation_id,
        causation_id=None,
        ids=lambda i: ids[i],
    )
    return new_state, stream, appended


def signs_through_bsre(kecamatan: Kecamatan) -> bool:
    """Whether the kecamatan's response letters are signed through BSrE at step 10 (its setting
    ``signature_service``: "bsre"; otherwise the letters worker signs them with the kecamatan's own key)."""
    return kecamatan.settings.get(SIGNATURE_SERVICE_SETTING) == BSRE


def _esign(
    ctx: Context,
    complaint_id: UUID,
    kecamatan: str,
    signed: LetterSigned,
    event_id: UUID,
    who: Actor,
    at: datetime,
    passphrase: str | None,
    authorization: str | None,
) -> None:
    """Have the letter the event will record signed through BSrE (docs/adr/0016); ``EsignFailed`` when it was not."""
    if not passphrase:
        raise model.EsignFailed(
            "passphrase_required",
            "Surat di kecamatan ini ditandatangani melalui BSrE: ketik passphrase tanda tangan elektronik Anda.",
        )
    if ctx.esign is None:
        raise model.EsignFailed("esign_unavailable", "Tanda tangan melalui BSrE belum dapat dilakukan dari server ini.")
    ctx.esign.sign(
        EsignLetter(
            event_id=event_id,
            complaint_id=complaint_id,
            kecamatan=kecamatan,
            letter_version=signed.letter_version,
            letter_number=signed.letter_number or "",
            signed_at=at,
            actor=who,
            passphrase=passphrase,
            deadline=datetime.now(UTC) + timedelta(seconds=max(1.0, ctx.esign.timeout - 1.0)),
        ),
        authorization,
    )


class ComplaintStillOpen(model.DomainError):
    code = "complaint_open"
    status = 409


class OriginalNotFound(model.DomainError):
    code = "original_not_found"
    status = 422


class OriginalClosed(model.DomainError):
    code = "original_closed"
    status = 422


def _original(uow: UnitOfWork, row: dict, command: c.MarkDuplicate) -> c.MarkDuplicate:
    """The original a complaint is marked a duplicate of (docs/adr/0021), named by id: a complaint of the same
    kecamatan other than this one, else refused. Its tracking code is recorded, unless its complainant is a pelapor
    rahasia: their code opens their receipt, and the duplicate's history and Kartu Kendali are read by the Staf, so
    its register number (or "(pelapor rahasia)") instead. A code typed that names no complaint of the kecamatan
    (``original`` None) is recorded as typed, as before."""
    if command.original is None:
        return command
    original = uow.complaints.get(command.original)
    if original is None or original["kecamatan"] != row["kecamatan"] or command.original == row["complaint_id"]:
        raise OriginalNotFound("Pengaduan asli tidak ditemukan di kecamatan ini (dan bukan pengaduan ini sendiri).")
    if original["status"] == "closed":  # two marked duplicates of each other would leave the matter unhandled
        raise OriginalClosed("Pengaduan asli sudah ditutup; pilih pengaduan yang masih ditangani.")
    named = original["tracking_code"]
    if original["confidential"]:
        number = original["register_number"]
        named = f"Register {number}/{original['register_year']}" if number else masking.CONFIDENTIAL_NAME
    return command.model_copy(update={"duplicate_of": named})


class UnknownCategory(model.DomainError):
    code = "category_unknown"
    status = 422


class ReasonRequired(model.DomainError):
    code = "reason_required"
    status = 422


class AlreadyErased(model.DomainError):
    code = "already_erased"
    status = 409


def erase_personal_data(
    ctx: Context,
    complaint_id: UUID,
    *,
    by: str,
    reason: str,
    at: datetime,
    kecamatan_of: Callable[[str], bool] = lambda k: True,
    kind: str = "erasure",
    actor: Actor | None = None,
) -> UUID:
    """Erase a closed complaint's personal data (UU 27/2022 PDP; docs/adr/0017), in one transaction: the complaint's
    data key is destroyed (every sealed value of it reads as erased from then on) and ``PersonalDataErased`` is
    appended, which every service keeping a copy acts on. The history, register and letter numbers remain. Refused
    while the complaint is open (its response must still reach the complainant) and when done already. ``kind``:
    ``erasure`` (a person's request, decided by ``by``) or ``retention`` (the retention job). Every request and its
    outcome is recorded in ``privacy.requests`` (a refusal too). Returns the request's id (in the event)."""
    reason = " ".join(reason.split())
    if not reason:
        raise ReasonRequired("Alasan penghapusan wajib diisi.")
    request_id = uuid.uuid4()
    actor = actor or Actor(kind="user", user_id=by, role="admin")
    try:
        _decided_twice(
            lambda: _erase(
                ctx,
                complaint_id,
                by=by,
                reason=reason,
                at=at,
                kecamatan_of=kecamatan_of,
                request_id=request_id,
                kind=kind,
                actor=actor,
            )
        )
    except (AlreadyErased, ComplaintStillOpen) as refused:
        if kind != "retention":  # a person's request is on record; the job's next round is not a new request
            _record_refusal(ctx, complaint_id, request_id, kind=kind, by=by, reason=reason, at=at, refused=refused)
        raise
    log.info(
        "personal data erased", extra={"complaint_id": str(complaint_id), "request_id": str(request_id), "kind": kind}
    )
    return request_id


class StaleErasure(model.DomainError):
    code = "stale_version"
    status = 409


R = TypeVar("R")


def _decided_twice(decide: Callable[[], R]) -> R:
    """A request about a complaint's personal data decided in its own transaction; a notification's report appended
    meanwhile (``ConcurrencyError``) decides it once more on the complaint as it is, then 409 ``stale_version``."""
    try:
        return decide()
    except ConcurrencyError:
        pass
    try:
        return decide()
    except ConcurrencyError:
        raise StaleErasure("Pengaduan ini sedang berubah. Coba lagi sebentar.") from None


def _erase(
    ctx: Context,
    complaint_id: UUID,
    *,
    by: str,
    reason: str,
    at: datetime,
    kecamatan_of: Callable[[str], bool],
    request_id: UUID,
    kind: str,
    actor: Actor,
) -> None:
    with ctx.uow() as uow:
        state, _ = load(uow, complaint_id, kecamatan_of)
        if state.personal_data_erased:
            raise AlreadyErased("Data pribadi pengadu pada pengaduan ini sudah dihapus.")
        if state.status != "closed":
            raise ComplaintStillOpen(
                "Pengaduan ini masih berjalan: data pribadi pengadu baru dapat dihapus setelah pengaduan selesai atau "
                "dicabut (tanggapan harus sampai kepada pengadu)."
            )
        reason = _masked_reason(uow, complaint_id, reason)  # the reason stays in the history and the record
        uow.events.erase_personal_data(complaint_id, by=by, reason=reason)
        uow.duplicates.erase(complaint_id)  # its lookups and text, with the key (docs/adr/0017 decision 13)
        new_state, _ = _append(
            uow,
            state,
            [PersonalDataErased(reason=reason, requested_by=by, request_id=request_id)],
            actor=actor,
            at=at,
            correlation_id=request_id,
            causation_id=None,
            ids=lambda i: request_id,
        )
        uow.complaints.update(new_state, at)
        uow.requests.add(
            _request_row(
                request_id,
                kind,
                complaint_id,
                state.kecamatan or "",
                by,
                reason,
                at,
                "done",
                {"closed_at": state.closed_at.isoformat() if state.closed_at else None},
            )
        )
        uow.commit()


def _masked_reason(uow: UnitOfWork, complaint_id: UUID, reason: str) -> str:
    """A reason written by staff, masked of the complainant's values it quotes (while they can still be read): as
    received and as corrected since."""
    for stored in uow.events.read(stream_id(complaint_id)):
        if stored.type in (ComplaintReceived.type, ComplainantDataCorrected.type):
            who = stored.decode().complainant
            reason = masking.scrub(reason, [who.nik, who.phone, who.email, who.address], names=[who.name]) or reason
    return reason


def _request_row(
    request_id: UUID,
    kind: str,
    complaint_id: UUID,
    kecamatan: str,
    by: str,
    reason: str,
    at: datetime,
    outcome: str,
    detail: dict[str, Any],
) -> dict[str, Any]:
    return {
        "id": request_id,
        "kind": kind,
        "complaint_id": complaint_id,
        "kecamatan": kecamatan,
        "requested_by": by,
        "reason": reason,
        "received_at": at,
        "outcome": outcome,
        "decided_at": datetime.now(UTC),
        "detail": detail,
    }


def _record_refusal(
    ctx: Context,
    complaint_id: UUID,
    request_id: UUID,
    *,
    kind: str,
    by: str,
    reason: str,
    at: datetime,
    refused: model.DomainError,
) -> None:
    """A refused request is on record too, with why (its stable code and message)."""
    with ctx.uow() as uow:
        row = uow.complaints.get(complaint_id)
        if row is None:
            return
        reason = _masked_reason(uow, complaint_id, reason)
        uow.requests.add(
            _request_row(
                request_id,
                kind,
                complaint_id,
                row["kecamatan"],
                by,
                reason,
                at,
                "refused",
                {"code": refused.code, "message": refused.message},
            )
        )
        uow.commit()


# -- access (a copy of the person's data) ------------------------------------------------------------------------
# where else copies are kept, and why, as the copy tells the person (the workflow's record is the one it gives)
COPIES_ELSEWHERE = (
    "Layanan penerimaan (intake): formulir/pesan pengaduan Anda dan pindaian identitas, untuk mencatat pengaduan.",
    "Layanan pemberitahuan: pesan yang dikirim kepada Anda (SMS, WhatsApp, surel), untuk memberi kabar.",
    "Layanan surat: tanda terima, lembar disposisi dan surat tanggapan yang memuat nama Anda.",
    "Dasbor: nama dan nomor telepon Anda dalam Buku Rekap pengaduan kecamatan.",
)


def access_copy(
    ctx: Context,
    complaint_id: UUID,
    *,
    by: str,
    reason: str,
    at: datetime,
    kecamatan_of: Callable[[str], bool],
) -> dict[str, Any]:
    """A copy of the personal data the complaint holds of its complainant, for a verified access request (UU 27/2022
    art. 7 and 32): who they are as recorded, what they sent and wrote, what happened to their complaint, where other
    copies are kept and until when. The request is recorded in ``privacy.requests`` (kind ``access``) in the same
    transaction, with which fields were given (never their values)."""
    reason = " ".join(reason.split())
    if not reason:
        raise ReasonRequired("Alasan dan rujukan permintaan wajib diisi.")
    request_id = uuid.uuid4()
    with ctx.uow() as uow:
        state, _row = load(uow, complaint_id, kecamatan_of)
        envelopes = uow.events.read(stream_id(complaint_id))
        received = envelopes[0].decode()
        assert isinstance(received, ComplaintReceived)  # noqa: S101 - a stream starts with it
        events = [e.decode() for e in envelopes]
        replies = [e for e in events if e.type == "workflow.ComplainantReplied"]
        corrections = [e for e in events if isinstance(e, ComplainantDataCorrected)]
        who = current_complainant(events) or received.complainant  # as corrected since, if it was
        kecamatan = ctx.kecamatan(state.kecamatan or "")
        keep_until = (
            _years_before(state.closed_at, -retention_years(kecamatan)).date().isoformat() if state.closed_at else None
        )
        copy: dict[str, Any] = {
            "request_id": request_id,
            "complaint_id": complaint_id,
            "tracking_code": state.tracking_code,
            "kecamatan": state.kecamatan,
            "personal_data_erased": state.personal_data_erased,
            "complainant": who.model_dump(),
            "channel": received.channel,
            "received_at": received.received_at,
            "subject": received.subject,
            "description": received.description,
            "attachments": [
                a.model_dump(include={"kind", "filename", "content_type", "size"}) for a in received.attachments
            ],
            "replies": [
                {"received_at": r.received_at, "channel": r.channel, "sender": r.sender, "text": r.text}
                for r in replies
            ],
            "status": state.status,
            "outcome": state.outcome,
            "register_number": f"{state.register_number}/{state.register_year}" if state.register_number else None,
            "letter_number": state.letter_number,
            "corrections": [  # what was corrected, when (the values before are in "received_as")
                {"fields": c.corrected} for c in corrections
            ],
            "received_as": received.complainant.model_dump() if corrections else None,
            "history": [
                {"type": e.type, "occurred_at": e.occurred_at, "step": e.payload.get("step")} for e in envelopes
            ],
            "retention": {"years_after_closing": retention_years(kecamatan), "kept_until": keep_until},
            "copies_elsewhere": list(COPIES_ELSEWHERE),
        }
        given = sorted(k for k, v in who.model_dump().items() if v)
        uow.requests.add(
            _request_row(
                request_id, "access", complaint_id, state.kecamatan or "", by, _masked_reason(uow, complaint_id, reason),
                at, "done", {"fields": given, "replies": len(replies), "erased": state.personal_data_erased},
            )
        )  # fmt: skip
        uow.commit()
    log.info("personal data access request", extra={"complaint_id": str(complaint_id), "request_id": str(request_id)})
    return copy


# -- correction ---------------------------------------------------------------------------------------------------
CORRECTABLE = ("name", "nik", "phone", "email", "address")


class CorrectionForbidden(model.DomainError):
    code = "forbidden"
    status = 403


class NothingToCorrect(model.DomainError):
    code = "nothing_to_correct"
    status = 422


class InvalidCorrection(model.DomainError):
    status = 422

    def __init__(self, code: str, message: str) -> None:
        super().__init__(message)
        self.code = code


def _checked_changes(changes: dict[str, str | None], today: date) -> dict[str, str | None]:
    """The corrected values as intake would have stored them (``shared.identity``): a NIK of 16 digits that reads as
    one, a phone number in E.164, an e-mail address normalised; a name never empty. ``None`` (or "") clears a
    contact or the address."""
    from shared import identity

    checked: dict[str, str | None] = {}
    for key, value in changes.items():
        if key not in CORRECTABLE:
            raise InvalidCorrection("validation_error", f"Data {key!r} tidak dapat dikoreksi di sini.")
        value = " ".join(value.split()) if isinstance(value, str) else None
        try:
            if key == "name":
                if (
                    not value or len(value) < 2 or value in masking.PLACEHOLDER_NAMES
                ):  # "(pelapor rahasia)", "(anonim)", ...
                    raise InvalidCorrection("validation_error", "Isi nama lengkap pengadu.")
                checked[key] = value
            elif not value:
                checked[key] = None
            elif key == "nik":
                checked[key] = identity.validate_nik(value, today)
            elif key == "phone":
                checked[key] = identity.normalize_phone(value)
            elif key == "email":
                checked[key] = identity.normalize_email(value)
            else:
                checked[key] = value
        except identity.InvalidIdentity as exc:
            raise InvalidCorrection(exc.code, exc.message) from None
    return checked


def correct_personal_data(
    ctx: Context,
    complaint_id: UUID,
    changes: dict[str, str | None],
    *,
    by: str,
    role: str,
    reason: str,
    at: datetime,
    kecamatan_of: Callable[[str], bool],
    sees: Callable[[bool], bool] = lambda confidential: True,
) -> tuple[UUID, list[str]]:
    """Correct the complainant's data on their request (UU 27/2022 art. 6): ``ComplainantDataCorrected`` with the
    whole record as corrected, which every reader uses from then on (messages go to the corrected contact, letters
    name the corrected name); recorded in ``privacy.requests`` (kind ``correction``, which fields, never values).
    Open or closed; refused once the data was erased, for an anonymous complainant (nobody to correct), and to a
    reader who may not see the complainant (``sees(confidential)``: a pelapor rahasia's data is corrected by those
    who see it, else a correction would confirm a guess or redirect their messages). Returns the request's id and the
    fields corrected."""
    reason = " ".join(reason.split())
    if not reason:
        raise ReasonRequired("Alasan dan rujukan permintaan wajib diisi.")
    request_id = uuid.uuid4()
    corrected = _decided_twice(
        lambda: _correct(
            ctx, complaint_id, changes, by=by, role=role, reason=reason, at=at, kecamatan_of=kecamatan_of, sees=sees,
            request_id=request_id,
        )
    )  # fmt: skip
    log.info("complainant's data corrected", extra={"complaint_id": str(complaint_id), "request_id": str(request_id)})
    return request_id, corrected


def _correct(
    ctx: Context,
    complaint_id: UUID,
    changes: dict[str, str | None],
    *,
    by: str,
    role: str,
    reason: str,
    at: datetime,
    kecamatan_of: Callable[[str], bool],
    sees: Callable[[bool], bool],
    request_id: UUID,
) -> list[str]:
    with ctx.uow() as uow:
        state, _row = load(uow, complaint_id, kecamatan_of)
        if not sees(state.confidential):  # before any comparison with what is recorded
            raise CorrectionForbidden(
                "Pengadu meminta identitasnya dirahasiakan: datanya hanya dapat dikoreksi oleh Kasi/Kasubag, "
                "Camat, atau pejabat pelindungan data pribadi."
            )
        if state.personal_data_erased:
            raise AlreadyErased("Data pribadi pengadu pada pengaduan ini sudah dihapus.")
        events = [e.decode() for e in uow.events.read(stream_id(complaint_id))]
        current = current_complainant(events)
        assert current is not None  # noqa: S101 - a stream starts with ComplaintReceived
        if current.anonymous:
            raise InvalidCorrection("anonymous_complaint", "Pengaduan anonim tidak memuat data pengadu.")
        checked = _checked_changes(changes, _today(ctx, state.kecamatan or "", at))
        before = current.model_dump(mode="json")
        corrected = sorted(k for k, v in checked.items() if before.get(k) != v)
        if not corrected:
            raise NothingToCorrect("Tidak ada data yang berubah: isinya sama dengan yang tercatat.")
        record = Complainant.model_validate({**before, **checked})
        if not (record.phone or record.email) and (current.phone or current.email):
            raise InvalidCorrection(
                "contact_required", "Paling sedikit satu kontak (nomor telepon atau surel) harus tetap ada."
            )
        masked = _masked_reason(uow, complaint_id, reason)  # of the values before and after
        masked = (
            masking.scrub(masked, [record.nik, record.phone, record.email, record.address], names=[record.name])
            or masked
        )
        new_state, _ = _append(
            uow,
            state,
            [ComplainantDataCorrected(complainant=record, corrected=corrected, reason=reason, request_id=request_id)],
            actor=Actor(kind="user", user_id=by, role=role),
            at=at,
            correlation_id=request_id,
            causation_id=None,
            ids=lambda i: request_id,
        )
        uow.complaints.update(new_state, at)
        uow.duplicates.record(complaint_id, state.kecamatan or "", record)  # lookups as corrected
        uow.requests.add(
            _request_row(
                request_id, "correction", complaint_id, state.kecamatan or "", by, masked, at, "done",
                {"fields": corrected},
            )
        )  # fmt: skip
        uow.commit()
    return corrected


# -- retention ----------------------------------------------------------------------------------------------------
DEFAULT_RETENTION_YEARS = 5


def retention_years(kecamatan: Kecamatan) -> int:
    """How many years after closing a complaint's personal data is kept: its kabupaten's ``retention_years`` (from
    its Jadwal Retensi Arsip), else ``DEFAULT_RETENTION_YEARS``."""
    return int(kecamatan.kabupaten_settings.get("retention_years") or DEFAULT_RETENTION_YEARS)


def _years_before(at: datetime, years: int) -> datetime:
    try:
        return at.replace(year=at.year - years)
    except ValueError:  # 29 February
        return at.replace(year=at.year - years, day=28)


@dataclass(frozen=True)
class RetentionReport:
    """What one round of the retention job did (or, dry, would do)."""

    erased: list[UUID]
    failed: list[UUID]
    due: int  # found past their retention in this round


def erase_past_retention(ctx: Context, now: datetime, *, limit: int = 200, dry_run: bool = False) -> RetentionReport:
    """The retention job (issue #17 item 3): erase the personal data of every closed complaint whose kabupaten's
    retention period (``retention_years`` after closing) has passed, as an erasure by ``retensi`` with the reason
    saying which period ended; each is on record in ``privacy.requests`` (kind ``retention``). One complaint that
    fails (a race with a late notification) is left for the next round."""
    # every kecamatan, active or not: one no longer served keeps its complainants' data no longer than the others
    kecamatans = {k.slug: k for k in ctx.directory.every()}
    cutoffs = {slug: _years_before(now, retention_years(k)) for slug, k in kecamatans.items()}
    with ctx.uow() as uow:
        due = uow.complaints.past_retention(cutoffs, limit)
    if dry_run:
        return RetentionReport(erased=[], failed=[], due=len(due))
    erased, failed = [], []
    for complaint_id in due:
        try:
            with ctx.uow() as uow:
                row = uow.complaints.get(complaint_id)
            kecamatan = kecamatans.get(row["kecamatan"]) if row else None
            if row is None or kecamatan is None:
                continue
            years = retention_years(kecamatan)
            closed = row["closed_at"].astimezone(kecamatan.time_zone).date().isoformat()
            reason = (
                f"Masa retensi data pribadi {years} tahun sejak pengaduan selesai ({closed}) telah berakhir "
                f"(jadwal retensi arsip {kecamatan.kabupaten_name})"
            )
            erase_personal_data(
                ctx,
                complaint_id,
                by="retensi",
                reason=reason,
                at=now,
                kind="retention",
                actor=Actor.system("retensi"),
            )
            erased.append(complaint_id)
        except (AlreadyErased, ComplaintStillOpen, StaleErasure):
            failed.append(complaint_id)
        except Exception:
            log.exception(
                "retention could not erase a complaint; retried next round", extra={"complaint_id": str(complaint_id)}
            )
            failed.append(complaint_id)
    log.info("retention round", extra={"erased": len(erased), "failed": len(failed), "due": len(due)})
    return RetentionReport(erased=erased, failed=failed, due=len(due))


def _today(ctx: Context, kecamatan: str, at: datetime) -> date:
    return at.astimezone(ctx.kecamatan(kecamatan).time_zone).date()


def delegations_of_user(ctx: Context, kecamatan: str | None, user_id: str, at: datetime) -> list[Delegation]:
    """The delegations in force today in ``kecamatan`` that name ``user_id``."""
    if ctx.organisation is None or not kecamatan:
        return []
    return [d for d in ctx.organisation.delegations(kecamatan, _today(ctx, kecamatan, at)) if d.delegate == user_id]


def atas_nama_signer(kecamatan: Kecamatan) -> str | None:
    """The role that may sign the response letter a.n. (atas nama) the Camat in this kecamatan: its setting
    ``sign_atas_nama`` (only "sekcam"), else none: the Camat, or a Plh./Plt. of the Camat, signs."""
    return kecamatan.settings.get("sign_atas_nama")


def acting_as(
    ctx: Context,
    state: model.Complaint,
    action: str,
    user_id: str,
    role: str,
    unit: str | None,
    at: datetime,
    *,
    delegations: list[Delegation] | None = None,
) -> tuple[c.Actor, Delegation | None]:
    """Who may perform ``action`` on ``state``: the user in their own role, else in a role a delegation in force
    today names them for (``delegations``: those, when already read), else, for the signature at step 10, a.n. the
    Camat where the kecamatan allows it (``atas_nama_signer``); the domain's refusal of their own role when none
    may."""
    command_type = c.STAFF_COMMANDS[action]
    own = c.Actor(user_id=user_id, role=role, unit=unit)
    try:
        model.check(state, _probe(command_type, own, at))  # who and when, before the body
        return own, None
    except (model.RoleNotAllowed, model.WrongUnit) as refused:
        if delegations is None:
            delegations = delegations_of_user(ctx, state.kecamatan, user_id, at)
        for d in delegations:
            stand_in = c.Actor(user_id=user_id, role=d.role, unit=d.unit)
            try:
                model.check(state, _probe(command_type, stand_in, at))
            except (model.RoleNotAllowed, model.WrongUnit):
                continue
            return stand_in, d
        if action == "sign-letter" and state.kecamatan and role == atas_nama_signer(ctx.kecamatan(state.kecamatan)):
            stand_in = c.Actor(user_id=user_id, role="camat", unit=unit)
            model.check(state, _probe(command_type, stand_in, at))  # step 10 must be waiting
            return stand_in, None
        raise refused from None


@functools.cache
def _unset_factories(command_type: type[c.StaffCommand]) -> dict[str, None]:
    """The command's fields with a default factory, as None: a probe need not build them."""
    return {name: None for name, f in command_type.model_fields.items() if f.default_factory is not None}


def _probe(command_type: type[c.StaffCommand], actor: c.Actor, at: datetime) -> c.StaffCommand:
    """The command as ``model.check`` reads it (its action, who, when), unvalidated and without its body.
    ``model_construct`` builds every missing field's default, and pydantic asks ``inspect.signature`` of each
    default factory whether it takes the validated data: parsing ``list``'s text signature each time was 40 % of
    the answer's ``allowed_actions`` (every action, every request: 0.24 ms, now 0.14)."""
    return command_type.model_construct(actor=actor, at=at, **_unset_factories(command_type))


def _disposed_unit(organisation: Organisation, ctx: Context, kecamatan: str, written: str, at: datetime) -> str:
    """The code of the unit the Camat wrote (by code, or by the name people use); refused when the kecamatan has
    no such unit, or the unit has no head (nor a Plh./Plt. for its Kasi) to clarify the complaint."""
    entries = organisation.units(kecamatan)
    found = find_unit([e.unit for e in entries], written)
    if found is None:
        names = ", ".join(f"{e.unit.title} ({e.code})" for e in entries)
        raise model.UnknownUnit(f"Unit '{written.strip()}' tidak dikenal di kecamatan ini. Unit yang ada: {names}.")
    entry = next(e for e in entries if e.code == found.code)
    if entry.head_username is None and not any(
        d.role == "kasi" and d.unit == found.code
        for d in organisation.delegations(kecamatan, _today(ctx, kecamatan, at))
    ):
        raise model.UnitWithoutHead(
            f"{found.title} belum mempunyai kepala (Kasi/Kasubag) yang aktif, juga tidak ada Plh./Plt.-nya: "
            "tunjuk dahulu, atau disposisikan ke unit lain."
        )
    return found.code


# The kecamatan's register of outgoing letters (buku agenda surat keluar): one sequence for the response letters and
# the surat pelimpahan, as tata naskah dinas keeps one register per unit pengolah (issue #16). It took over from
# the counters "letter" and "referral": its first number of a year comes after the highest either gave that year
# (services/workflow/unit_of_work.py, COUNTER_SUCCESSORS), so no number given before is given again.
OUTGOING_LETTERS = "surat_keluar"
LETTER_KINDS: dict[type[c.StaffCommand], LetterKind] = {c.SignLetter: "response_letter", c.Refer: "referral_letter"}


class UnknownKlasifikasi(model.DomainError):
    """The Camat chose a classification code the kabupaten's list does not hold."""

    code = "unknown_klasifikasi"
    status = 422


def _numbered(uow: UnitOfWork, kecamatan: Kecamatan, command: SignOrRefer, at: datetime) -> SignOrRefer:
    """The letter's number, by its kabupaten's pattern (``shared.contracts.numbering``): the classification code the
    Camat chose from the kabupaten's list (else its default for this kind of letter), the next number of the
    kecamatan's register of outgoing letters this year, its unit code, the year (and month) in its time zone. The
    code is checked before a number is taken; a number taken is given back if the action fails (the counter's row
    is written in this unit of work)."""
    numbering = kecamatan.letter_numbering()
    try:
        klasifikasi = numbering.choose(LETTER_KINDS[type(command)], command.klasifikasi)
    except NumberingUnknownKlasifikasi as exc:
        raise UnknownKlasifikasi(str(exc)) from None
    local = at.astimezone(kecamatan.time_zone)
    seq = uow.counters.next(OUTGOING_LETTERS, kecamatan.slug, local.year)
    number = numbering.number(
        klasifikasi=klasifikasi,
        urut=seq,
        unit=kecamatan.unit_pengolah,
        tahun=local.year,
        bulan=local.month,
        kode_wilayah=kecamatan.code,
    )
    update = {"klasifikasi": klasifikasi, "letter_number": number, "letter_sequence": seq, "letter_year": local.year}
    return command.model_copy(update=update)


def _local_year(ctx: Context, kecamatan: str, at: datetime) -> int:
    """Numbers run per calendar year of the office (a complaint registered on 31 December 23:30 WIB is
    still that year's)."""
    return at.astimezone(ctx.kecamatan(kecamatan).time_zone).year


# -- the scheduler's ------------------------------------------------------------------------------------------
def flag_overdue_steps(ctx: Context, now: datetime, limit: int = 200) -> int:
    """Append StepOverdue once per overdue step occurrence. Returns how many were flagged."""
    with ctx.uow() as uow:
        due = uow.complaints.overdue(now, limit)
    flagged = 0
    for complaint_id in due:
        if _one_by_one(_flag_one, ctx, complaint_id, now):
            flagged += 1
    return flagged


def _one_by_one(
    job: Callable[[Context, UUID, datetime], bool], ctx: Context, complaint_id: UUID, now: datetime
) -> bool:
    """A batch job handles each complaint on its own: one that fails (a race with a person acting, or
    anything else) is left for the next round and does not hold back the others."""
    try:
        return job(ctx, complaint_id, now)
    except (ConcurrencyError, DuplicateEventError, model.NothingOverdue):
        return False  # someone acted meanwhile: nothing to do now
    except Exception:
        log.exception(
            "scheduler could not handle a complaint; retried next round", extra={"complaint_id": str(complaint_id)}
        )
        return False


def _flag_one(ctx: Context, complaint_id: UUID, now: datetime) -> bool:
    with ctx.uow() as uow:
        state, _ = load(uow, complaint_id, lambda k: True)
        events = model.decide(state, c.FlagOverdue(at=now), None)
        step_key = (
            f"{complaint_id}:{state.current_step}:{state.step_started_at.isoformat() if state.step_started_at else ''}"
        )
        new_state, _ = _append(
            uow,
            state,
            events,
            actor=Actor.system("scheduler"),
            at=now,
            correlation_id=uuid.uuid5(EVENT_ID_NAMESPACE, f"overdue:{step_key}"),
            causation_id=None,
            ids=lambda i: uuid.uuid5(EVENT_ID_NAMESPACE, f"overdue:{step_key}:{i}"),
        )
        uow.complaints.update(new_state, now)
        uow.commit()
    return True


def close_expired_document_requests(ctx: Context, now: datetime, limit: int = 200) -> int:
    """Close as incomplete the complaints whose requested documents did not arrive in time."""
    with ctx.uow() as uow:
        expired = uow.complaints.expired_document_requests(now, limit)
    closed = 0
    for complaint_id in expired:
        if _one_by_one(_expire_one, ctx, complaint_id, now):
            closed += 1
    return closed


def close_expired_referrals(ctx: Context, now: datetime, limit: int = 200) -> int:
    """Close as referred the complaints whose receiving office did not answer by the follow-up time; the
    complainant is told (notify plans it from ``ReferralLapsed``)."""
    with ctx.uow() as uow:
        expired = uow.complaints.expired_referrals(now, limit)
    closed = 0
    for complaint_id in expired:
        if _one_by_one(_lapse_one, ctx, complaint_id, now):
            closed += 1
    return closed


def _expire_one(ctx: Context, complaint_id: UUID, now: datetime) -> bool:
    return _close_by_scheduler(ctx, complaint_id, now, c.ExpireDocumentsRequest(at=now))


def _lapse_one(ctx: Context, complaint_id: UUID, now: datetime) -> bool:
    return _close_by_scheduler(ctx, complaint_id, now, c.ExpireReferral(at=now))


def _close_by_scheduler(ctx: Context, complaint_id: UUID, now: datetime, command: c.Command) -> bool:
    with ctx.uow() as uow:
        state, _ = load(uow, complaint_id, lambda k: True)
        events = model.decide(state, command, None)
        new_state, _ = _append(
            uow,
            state,
            events,
            actor=Actor.system("scheduler"),
            at=now,
            correlation_id=uuid.uuid4(),
            causation_id=None,
            ids=lambda i: uuid.uuid5(EVENT_ID_NAMESPACE, f"expired:{complaint_id}:{state.version}:{i}"),
        )
        uow.complaints.update(new_state, now)
        uow.commit()
    return True


def record_letter_document(ctx: Context, issued: LetterDocumentIssued) -> bool:
    """The letters worker's report: append ``LetterIssued`` once (archive, step 11, waits for it)."""
    return _record_system(
        ctx,
        "workflow.record_letter_document",
        issued.message_id,
        issued.complaint_id,
        issued.kecamatan,
        c.RecordLetterIssued(issued=issued),
        Actor.system("letters"),
    )


def _record_system(
    ctx: Context,
    consumer: str,
    message_id: UUID,
    complaint_id: UUID,
    kecamatan: str,
    command,
    actor: Actor,
    *,
    calendar: model.Calendar | None = None,
) -> bool:
    """A message from another service appended once (consumer inbox in the same transaction); one that changes
    nothing (``decide`` gave no event) is only recorded as handled."""
    with ctx.uow() as uow:
        if not uow.inbox.claim(consumer, message_id):
            return False
        state, _ = load(uow, complaint_id, lambda k: k == kecamatan)
        events = model.decide(state, command, calendar)  # type: ignore[arg-type]
        if not events:
            log.info("message changes nothing", extra={"consumer": consumer, "message_id": str(message_id)})
            uow.commit()
            return True
        at = datetime.now(UTC)
        new_state, _ = _append(
            uow,
            state,
            events,
            actor=actor,
            at=at,
            correlation_id=message_id,
            causation_id=message_id,
            ids=lambda i: derived_event_id(consumer, message_id, i),
        )
        uow.complaints.update(new_state, at)
        uow.commit()
    return True


def record_notification(ctx: Context, report: NotificationReport) -> bool:
    """Notify's report: on the complaint's history; the letter's confirmed send closes step 12."""
    return _record_system(
        ctx,
        "workflow.record_notification",
        report.message_id,
        report.complaint_id,
        report.kecamatan,
        c.RecordNotification(report=report),
        Actor.system("notify"),
    )


# issue #18 item 1 (docs/adr/0020): the kabupaten's settings, else these
DEFAULT_FEEDBACK_WINDOW_WORKING_DAYS = 10
DEFAULT_OBJECTION_WORKING_DAYS = 5


def record_feedback(ctx: Context, feedback: FeedbackGiven) -> bool:
    """The complainant's answer to the closing (intake accepted it once): recorded, and what it leads to (a
    reopening or a keberatan) decided by the complaint's state and its kabupaten's settings."""
    kecamatan = ctx.kecamatan(feedback.kecamatan)
    settings = kecamatan.kabupaten_settings
    command = c.RecordFeedback(
        feedback=feedback,
        at=datetime.now(UTC),
        window_working_days=int(settings.get("feedback_window_working_days") or DEFAULT_FEEDBACK_WINDOW_WORKING_DAYS),
        objection_working_days=int(settings.get("objection_working_days") or DEFAULT_OBJECTION_WORKING_DAYS),
    )
    return _record_system(
        ctx,
        "workflow.record_feedback",
        feedback.message_id,
        feedback.complaint_id,
        feedback.kecamatan,
        command,
        Actor.system("intake"),
        calendar=ctx.calendars.for_kecamatan(kecamatan),
    )


def record_reply(ctx: Context, reply: ComplainantReplied) -> bool:
    """The complainant wrote again on a channel (intake matched it to this complaint)."""
    return _record_system(
        ctx,
        "workflow.record_reply",
        reply.message_id,
        reply.complaint_id,
        reply.kecamatan,
        c.RecordReply(reply=reply),
        Actor.system("intake"),
    )
