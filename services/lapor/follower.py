"""Follow-ups out, first half: the workflow's events of complaints that came from LAPOR!, as rows of
``lapor.outbox`` (a catch-up subscription of the projections process, one active instance).

Each batch of events and the new checkpoint are written in one transaction: an event is turned into its follow-up
once, whatever crashes (the row's id is derived from the event's, so a batch done again writes nothing new).
``ComplaintReceived`` with channel ``lapor`` starts following a complaint (``lapor.followed``); the response's
follow-up carries the letter it sent (its number, perihal and text, read from the complaint's stream).
``PersonalDataErased``: the complainant's words leave the bridge's copies (docs/adr/0017). An event it cannot apply
is set aside with its complaint's later events held behind it, and the other complaints go on; the first round of
each process tries them again (``shared.projection_failures``, docs/adr/0015).
"""

from __future__ import annotations

import dataclasses
import logging
import uuid
from collections.abc import Sequence

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from services.lapor.adapters.tables import checkpoints, followed, inbox, outbox, projection_failures
from services.lapor.domain import importing
from services.lapor.domain.followups import REPORTED, SentLetter, follow_up_of
from services.lapor.domain.model import FollowUp
from shared.contracts.workflow import (
    ERASED_NAME,
    ComplainantDataCorrected,
    ComplaintReceived,
    LetterDrafted,
    LetterSigned,
    PersonalDataErased,
    ResponseSent,
    current_complainant,
)
from shared.events import EventEnvelope
from shared.eventstore.postgres import PostgresEventStore, subject_of
from shared.masking import scrub
from shared.projection_failures import SetAside, transaction
from shared.subscriptions import Checkpoints, RoundResult

log = logging.getLogger(__name__)

LAPOR_CHANNEL = "lapor"
FOLLOW_UP_IDS = uuid.UUID("5b0c8c55-9d8e-4d0e-9a57-6c6170f72101")  # uuid5 namespace: a follow-up's id from its event's
ERASED_TEXT = "Isi tindak lanjut ini dihapus bersama data pribadi pelapor."
TYPES = (ComplaintReceived.type, PersonalDataErased.type, *REPORTED)


def follow_up_id(event_id: uuid.UUID) -> uuid.UUID:
    """The outbox row of an event, and the idempotency key LAPOR! gets with it."""
    return uuid.uuid5(FOLLOW_UP_IDS, str(event_id))


class FollowUps:
    name = "lapor.follow-ups"

    def __init__(self, engine: Engine, store: PostgresEventStore, batch_size: int = 500) -> None:
        self.engine = engine
        self.store = store
        self.batch_size = batch_size
        self.checkpoints = Checkpoints(checkpoints)
        self.set_aside = SetAside(projection_failures, self.name)
        self.retry_pending = True  # the first round of each process tries the set-aside events again

    def round(self) -> RoundResult:
        applied, read = transaction(self.engine, self.round_in)  # a batch that fails is done again, event by event
        self.retry_pending = False  # committed (a failed round tries them again)
        return RoundResult(handled=applied, more=read == self.batch_size)

    def round_in(self, conn: Connection) -> tuple[int, int]:
        """One round inside ``conn``'s transaction: the events of its types it read, and all it read."""
        after, parked = self.set_aside.claim(conn, self.checkpoints)  # its parked streams in the same statement
        # read before anything is written: a round holding a transaction id reads only what settled without it
        batch, last, read = self.store.read_all_of_types(after, self.batch_size, TYPES, conn)
        if self.retry_pending:
            self.set_aside.retry(conn, self.store, lambda events: self._apply_all(conn, events))
        if batch:  # an event it cannot apply is set aside, its complaint's later ones held behind it
            self.set_aside.apply(
                conn,
                batch,
                lambda events: self._apply_all(conn, events),
                parked=None if self.retry_pending else parked,  # the retry changed them: read again
            )
        if read:
            self.checkpoints.set(conn, self.name, last)
        return len(batch), read

    def _apply_all(self, conn: Connection, events: Sequence[EventEnvelope]) -> None:
        for event in events:
            self.apply(conn, event)

    def apply(self, conn: Connection, event: EventEnvelope) -> None:
        if event.type == ComplaintReceived.type:
            received = event.decode()
            assert isinstance(received, ComplaintReceived)  # noqa: S101
            if received.channel == LAPOR_CHANNEL:
                conn.execute(
                    insert(followed)
                    .values(
                        complaint_id=received.complaint_id,
                        kecamatan=received.kecamatan,
                        tracking_code=received.tracking_code,
                        position=event.position,
                    )
                    .on_conflict_do_nothing(index_elements=["complaint_id"])
                )
            return
        complaint_id = subject_of(event.stream_id)
        if conn.execute(select(followed.c.complaint_id).where(followed.c.complaint_id == complaint_id)).first() is None:
            return  # not from LAPOR!
        if event.type == PersonalDataErased.type:
            self._erase(conn, complaint_id)
            return
        decoded = event.decode()
        letter = self._letter(conn, event) if isinstance(decoded, ResponseSent) else None
        follow_up = follow_up_of(decoded, event.occurred_at, letter)
        if follow_up is None:
            return
        follow_up = self._scrubbed(conn, event, follow_up)
        conn.execute(
            insert(outbox)
            .values(
                id=follow_up_id(event.event_id),
                complaint_id=complaint_id,
                kecamatan=event.kecamatan,
                position=event.position,
                kind=follow_up.kind,
                status=follow_up.status,
                text=follow_up.text,
                letter_number=follow_up.letter_number,
                occurred_at=follow_up.occurred_at,  # due at once (next_attempt_at: now, when written)
            )
            .on_conflict_do_nothing(index_elements=["id"])
        )

    def _scrubbed(self, conn: Connection, event: EventEnvelope, follow_up: FollowUp) -> FollowUp:
        """The follow-up's text masked of the complainant's values and name and of anything shaped like a NIK, a
        phone number or an e-mail address (``shared.masking.scrub``), as the tracking page masks the same answers:
        LAPOR! shows follow-ups to the reporter and, unless the report is confidential, to the public. The staff's
        free texts (a referral's reason and answer, the Camat's answer, the letter) may quote the complainant."""
        history = [e for e in self.store.read_stream(event.stream_id, conn=conn) if e.version <= event.version]
        person = current_complainant(
            [e.decode() for e in history if e.type in (ComplaintReceived.type, ComplainantDataCorrected.type)]
        )
        known = [getattr(person, k, None) for k in ("nik", "phone", "email", "address")] if person else []
        name = person.name if person is not None and person.name != ERASED_NAME else None
        text = scrub(follow_up.text, known, names=[name] if name else [])
        return follow_up if text == follow_up.text else dataclasses.replace(follow_up, text=text)

    def _letter(self, conn: Connection, sent: EventEnvelope) -> SentLetter | None:
        """The letter the response sent: the last signed version before it, with its drafted perihal and text."""
        history: Sequence[EventEnvelope] = [
            e for e in self.store.read_stream(sent.stream_id, conn=conn) if e.version < sent.version
        ]
        signed = next((e.decode() for e in reversed(history) if e.type == LetterSigned.type), None)
        if not isinstance(signed, LetterSigned):
            return None
        drafted = next(
            (
                d
                for d in (e.decode() for e in reversed(history) if e.type == LetterDrafted.type)
                if isinstance(d, LetterDrafted) and d.letter_version == signed.letter_version
            ),
            None,
        )
        if drafted is None:
            return None
        return SentLetter(signed.letter_number, drafted.perihal, drafted.body)

    def _erase(self, conn: Connection, complaint_id: uuid.UUID) -> None:
        conn.execute(update(outbox).where(outbox.c.complaint_id == complaint_id).values(text=ERASED_TEXT))
        row = conn.execute(
            select(inbox.c.tracking_id, inbox.c.report).where(inbox.c.complaint_id == complaint_id)
        ).first()
        if row is not None:
            conn.execute(
                update(inbox).where(inbox.c.tracking_id == row.tracking_id).values(report=importing.erased(row.report))
            )
        log.info(
            "lapor: a complainant's words erased from the bridge's copies", extra={"complaint_id": str(complaint_id)}
        )
