"""The complaint aggregate: ``decide(state, command) -> events`` and ``evolve(state, event) -> state``.

Pure: no I/O, no clock, no random ids; time and ids arrive in the command.
"""
from __future__ import annotations

from dataclasses import dataclass, field, replace
from datetime import datetime
from uuid import UUID

from shared.contracts import sop
from services.workflow.domain.commands import RecordComplaint
from services.workflow.domain.events import ComplaintReceived
from shared.events import Event


class DomainError(Exception):
    code = "domain_error"


class AlreadyReceived(DomainError):
    code = "already_received"


@dataclass(frozen=True)
class StepDone:
    number: int
    completed_at: datetime


@dataclass(frozen=True)
class Complaint:
    complaint_id: UUID | None = None
    kecamatan: str | None = None
    tracking_code: str | None = None
    status: str = "new"
    current_step: int | None = None
    sop_version: str | None = None
    steps_done: tuple[StepDone, ...] = field(default_factory=tuple)
    version: int = 0


def decide(state: Complaint, command: RecordComplaint) -> list[Event]:
    if state.version > 0:
        raise AlreadyReceived("this complaint is already in the workflow")
    s = command.submission
    return [
        ComplaintReceived(
            complaint_id=s.complaint_id,
            submission_id=s.submission_id,
            tracking_code=s.tracking_code,
            kecamatan=s.kecamatan,
            channel=s.channel,
            complainant=s.complainant,
            subject=s.subject,
            description=s.description,
            received_at=s.received_at,
            sop_version=sop.DEFAULT.version,
            output=sop.DEFAULT.step(1).output,
        )
    ]


def evolve(state: Complaint, event: Event) -> Complaint:
    if isinstance(event, ComplaintReceived):
        return replace(
            state,
            complaint_id=event.complaint_id,
            kecamatan=event.kecamatan,
            tracking_code=event.tracking_code,
            status="in_progress",
            current_step=2,
            sop_version=event.sop_version,
            steps_done=(StepDone(1, event.received_at),),
            version=state.version + 1,
        )
    return replace(state, version=state.version + 1)


def replay(events: list[Event]) -> Complaint:
    state = Complaint()
    for event in events:
        state = evolve(state, event)
    return state
