"""Intake's tracking projection: the public status of each complaint, fed from the event store.

A catch-up subscription: each batch of events and the new checkpoint are written in one transaction. An event it
cannot apply is set aside in ``intake.projection_failures`` (migration 0018) with its complaint's later events held
behind it, and the others go on; the first round of each process applies them again, in order
(``shared.projection_failures``; docs/adr/0015-projection-poison-events.md).

A referral with ``follow_up_by`` (every one since issue #15) leaves the complaint open as ``referred``: no step of
the SOP runs for it (current step none) while the kecamatan waits for the receiving office's answer, until
``ReferralAnswered`` (the answer is kept; ``handlers/tracking.py`` masks it when read) or ``ReferralLapsed``
closes it as referred. ``referral_state``: followed, answered, lapsed, ended (withdrawn or a duplicate while
followed) or unfollowed (a referral written before referrals were followed: it closed the complaint at once).

``PersonalDataErased`` (a complainant's personal data erased, docs/adr/0017): intake's copies of it are scrubbed,
and the complaint's scans deleted from the document store, in the round that applies it (``adapters/erasure.py``
says what changes). The projection reads every event of the store (``read_all``, no type filter), so this one
reaches it like every other ``workflow.`` event.
"""

from __future__ import annotations

import logging
from collections.abc import Sequence
from dataclasses import asdict
from uuid import UUID

from sqlalchemy import Engine, bindparam, select, update
from sqlalchemy.dialects.postgresql import insert
from sqlalchemy.engine import Connection

from services.intake.adapters.erasure import IntakeErasure, ScanStore
from services.intake.adapters.tables import checkpoints, metadata, submissions, tracking
from shared.contracts import sop
from shared.contracts.workflow import (
    ClosedIncomplete,
    ComplainantDataCorrected,
    ComplaintReceived,
    ComplaintReferred,
    ComplaintReopened,
    ComplaintWithdrawn,
    DocumentsReceived,
    DocumentsRequested,
    FeedbackReceived,
    IdentityRejected,
    LetterReturned,
    MarkedDuplicate,
    ObjectionAnswered,
    ObjectionRaised,
    PersonalDataErased,
    ReferralAnswered,
    ReferralLapsed,
    ResponseSent,
    StepCompleted,
)
from shared.events import EventEnvelope
from shared.eventstore.postgres import PostgresEventStore
from shared.projection_failures import Retried, SetAside, failures_table, transaction
from shared.subscriptions import Checkpoints, RoundResult

log = logging.getLogger(__name__)

# the events the tracking projection set aside (migration 0018), beside its checkpoint
projection_failures = failures_table(metadata)

CLOSING = {
    IdentityRejected: "identity_rejected",
    ClosedIncomplete: "incomplete",
    ComplaintReferred: "referred",  # only one without follow_up_by (see apply)
    ResponseSent: "resolved",
    ComplaintWithdrawn: "withdrawn",
    MarkedDuplicate: "duplicate",
    ReferralAnswered: "referred",
    ReferralLapsed: "referred",
}
REFERRAL_ENDS = {ReferralAnswered: "answered", ReferralLapsed: "lapsed"}
_ROW = select(tracking).where(tracking.c.complaint_id == bindparam("complaint_id"))  # built once: read for each event


class TrackingProjection:
    name = "projection.tracking"

    def __init__(
        self,
        engine: Engine,
        store: PostgresEventStore,
        batch_size: int = 500,
        *,
        documents: ScanStore | None = None,
    ) -> None:
        """``documents``: the document store the scans are in (deleted when a complainant's data is erased)."""
        self.engine = engine
        self.store = store
        self.batch_size = batch_size
        self.erasure = IntakeErasure(documents)
        self.checkpoints = Checkpoints(checkpoints)
        self.set_aside = SetAside(projection_failures, self.name)
        self.retry_pending = True  # the first round of each process applies the set-aside events again

    def round(self) -> RoundResult:
        read = transaction(self.engine, self.round_in)  # a batch that fails is done again, one event at a time
        self.retry_pending = False  # committed (a failed round retries them again)
        return RoundResult(handled=read, more=read == self.batch_size)

    def round_in(self, conn: Connection) -> int:
        """One round inside ``conn``'s transaction; returns how many events it read."""
        after, parked = self.set_aside.claim(conn, self.checkpoints)  # its parked streams in the same statement
        # read before anything is written: a round holding a transaction id reads only what settled without it
        batch = self.store.read_all(after=after, limit=self.batch_size, conn=conn)
        if self.retry_pending:
            self.retry_set_aside(conn)
        if batch:
            self.set_aside.apply(
                conn,
                batch,
                lambda events: self._apply_all(conn, events),
                parked=None if self.retry_pending else parked,  # the retry changed them: read again
            )
            self.checkpoints.set(conn, self.name, batch[-1].position)
        return len(batch)

    def retry_set_aside(self, conn: Connection) -> Retried:
        """The set-aside events applied again, each complaint's in order, inside ``conn``'s transaction (which has
        claimed the checkpoint)."""
        return self.set_aside.retry(conn, self.store, lambda events: self._apply_all(conn, events))

    def _apply_all(self, conn: Connection, events: Sequence[EventEnvelope]) -> None:
        for event in events:
            self.apply(conn, event)

    def apply(self, conn: Connection, event: EventEnvelope) -> None:
        if event.type == ComplaintReceived.type:
            received = event.decode()
            assert isinstance(received, ComplaintReceived)  # noqa: S101
            definition = sop.DEFINITIONS[received.sop_version]
            stmt = insert(tracking).values(
                complaint_id=received.complaint_id,
                tracking_code=received.tracking_code,
                status="in_progress",
                current_step=2,
                sop_version=received.sop_version,
                steps=[
                    {"number": 1, "name": definition.step(1).name, "completed_at": received.received_at.isoformat()}
                ],
                updated_at=event.occurred_at,
                position=event.position,
            )
            conn.execute(stmt.on_conflict_do_nothing(index_elements=["complaint_id"]))
            return
        if not event.type.startswith("workflow."):
            return
        if event.type == PersonalDataErased.type:
            self._erase(conn, event)
        if event.type == ComplainantDataCorrected.type:
            self._correct(conn, event)
        row = conn.execute(_ROW, {"complaint_id": event.stream_id.removeprefix("complaint-")}).mappings().first()
        if row is None or row["position"] >= event.position:
            return  # not ours, or already applied (a rebuild from an earlier checkpoint)
        decoded = event.decode()
        values: dict = {"updated_at": event.occurred_at, "position": event.position}
        if isinstance(decoded, StepCompleted) and not isinstance(decoded, LetterReturned):
            name = sop.definition_for(row["sop_version"]).step(decoded.step).name
            values["steps"] = [
                *row["steps"],
                {"number": decoded.step, "name": name, "completed_at": event.occurred_at.isoformat()},
            ]
            values["current_step"] = decoded.next_step
        elif isinstance(decoded, LetterReturned):
            values["current_step"] = decoded.next_step
        if isinstance(decoded, DocumentsRequested):
            values["status"] = "awaiting_documents"
        elif isinstance(decoded, DocumentsReceived):
            values["status"] = "in_progress"
        elif isinstance(decoded, ComplaintReferred):
            values.update(referred_to=decoded.agency, follow_up_by=decoded.follow_up_by, current_step=None)
            if decoded.follow_up_by is None:  # written before referrals were followed: it closed the complaint
                values.update(status="closed", outcome="referred", referral_state="unfollowed")
            else:
                values.update(status="referred", referral_state="followed")
        elif type(decoded) in CLOSING:
            values.update(status="closed", current_step=None, outcome=CLOSING[type(decoded)])
            if type(decoded) in REFERRAL_ENDS:
                values["referral_state"] = REFERRAL_ENDS[type(decoded)]
            elif row["referral_state"] == "followed":
                values["referral_state"] = "ended"
            if isinstance(decoded, ReferralAnswered):
                values.update(referral_answer=decoded.answer, referral_answered_on=decoded.answered_on)
            if isinstance(decoded, ResponseSent):  # the complainant may answer this closing (docs/adr/0020)
                values.update(closings=row["closings"] + 1, closed_at=event.occurred_at)
        elif isinstance(decoded, FeedbackReceived):
            values["feedback_closing"] = max(row["feedback_closing"], decoded.closing)
        elif isinstance(decoded, ComplaintReopened):
            values.update(
                status="in_progress", outcome=None, current_step=decoded.next_step, reopened=decoded.reopening
            )
        elif isinstance(decoded, ObjectionRaised):
            values.update(status="objection", outcome=None, current_step=None, objection_state="open")
        elif isinstance(decoded, ObjectionAnswered):
            values["objection_state"] = "answered"
            if decoded.decision == "upheld":
                values.update(
                    status="closed",
                    outcome="resolved",
                    closings=row["closings"] + 1,
                    closed_at=event.occurred_at,
                    objection_answer=decoded.answer,
                )
        conn.execute(update(tracking).where(tracking.c.complaint_id == row["complaint_id"]).values(**values))

    def _correct(self, conn: Connection, event: EventEnvelope) -> None:
        """The complainant corrected on their request: intake's working copy follows (the history keeps what was
        received), so that a reply from the corrected number or address joins the complaint, one from the mistyped
        one does not, and the tracking page masks the right values. Idempotent (the latest correction read wins)."""
        corrected = event.decode()
        assert isinstance(corrected, ComplainantDataCorrected)  # noqa: S101
        conn.execute(
            update(submissions)
            .where(submissions.c.complaint_id == UUID(event.stream_id.removeprefix("complaint-")))
            .values(complainant=corrected.complainant.model_dump(mode="json"))
        )

    def _erase(self, conn: Connection, event: EventEnvelope) -> None:
        """Intake's copies of the complainant's personal data scrubbed (whatever the tracking row's position: it is
        idempotent, and a complaint without a tracking row may still have a submission)."""
        complaint_id = UUID(event.stream_id.removeprefix("complaint-"))
        done = self.erasure.apply(conn, complaint_id, self.store.read_stream(event.stream_id, conn=conn))
        log.info(
            "personal data erased from intake's copies",
            extra={"complaint_id": str(complaint_id), "kecamatan": event.kecamatan, "event_id": str(event.event_id)}
            | {f"erased_{k}": v for k, v in asdict(done).items()},
        )
