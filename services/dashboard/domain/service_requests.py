"""How one workflow event changes a complaint's row in ``dashboard.service_requests``: what Open311's reads
show of it (services/dashboard/domain/open311.py), nothing personal. Pure: no I/O, no clock.

``apply(row, event) -> row``: ``row`` is the complaint's row as a dict (None before ``ComplaintReceived``);
the result is the new row, or ``row`` itself when the event changes nothing (applied already, or not of a
complaint). Every event of a complaint's stream counts: ``updated_at`` is when the last one happened (a
notification or an overdue alert too), as the workflow's own read model has it; status, outcome and step
follow the workflow's model (``services/workflow/domain/model.py`` ``evolve``).

A referral with ``follow_up_by`` (every one since issue #15) leaves the complaint open as ``referred`` (current
step 4, as the workflow has it) until ``ReferralAnswered`` or ``ReferralLapsed`` closes it as ``referred``;
``referral_state`` says which (followed, answered, lapsed; ended: withdrawn or a duplicate while followed;
unfollowed: a referral written before referrals were followed, which closed the complaint at once). The answer's
text is not kept here: it may quote the complainant, and Open311's reads are public.

The category (``service_code``) is the complaint's category (issue #18 item 2), followed through
``workflow.CategorySet``. An Open311 request filed before categories were a field is read from its subject once,
here, by the names its service had then (``shared/contracts/open311.py`` ``service_of``); the subject itself is not
kept. The name a request is shown under is its kabupaten's, read with it (services/dashboard/domain/open311.py).
"""

from __future__ import annotations

from typing import Any
from uuid import UUID

from shared.contracts import workflow
from shared.contracts.categories import OTHER_CODE
from shared.contracts.open311 import service_of
from shared.events import Event, EventEnvelope

STREAM_PREFIX = "complaint-"
OPEN311_CHANNEL = "open311"  # intake's channel for a posted GeoReport request

CLOSING = {
    workflow.IdentityRejected.type: "identity_rejected",
    workflow.ClosedIncomplete.type: "incomplete",
    workflow.ComplaintReferred.type: "referred",  # only one without follow_up_by (see below)
    workflow.ResponseSent.type: "resolved",
    workflow.ComplaintWithdrawn.type: "withdrawn",
    workflow.MarkedDuplicate.type: "duplicate",
    workflow.ReferralAnswered.type: "referred",
    workflow.ReferralLapsed.type: "referred",
}
REFERRAL_ENDS = {workflow.ReferralAnswered.type: "answered", workflow.ReferralLapsed.type: "lapsed"}

# every event type of the workflow's contract (each moves updated_at), and its class
CLASSES: dict[str, type[Event]] = {
    c.__dict__["type"]: c
    for c in vars(workflow).values()
    if isinstance(c, type) and issubclass(c, Event) and isinstance(c.__dict__.get("type"), str)
}
TYPES = frozenset(CLASSES)
# the events read beyond their envelope (the rest, e.g. notifications, only move updated_at)
DECODED = frozenset(
    {
        workflow.ComplaintReceived.type,
        workflow.DocumentsRequested.type,
        workflow.DocumentsReceived.type,
        workflow.CategorySet.type,
        workflow.ComplaintReopened.type,
        workflow.ObjectionRaised.type,
        workflow.ObjectionAnswered.type,
        *CLOSING,
    }
    | {t for t, c in CLASSES.items() if issubclass(c, workflow.StepCompleted)}
)


def complaint_id_of(event: EventEnvelope) -> UUID | None:
    if not event.stream_id.startswith(STREAM_PREFIX):
        return None
    try:
        return UUID(event.stream_id[len(STREAM_PREFIX) :])
    except ValueError:
        return None


def apply(row: dict[str, Any] | None, event: EventEnvelope) -> dict[str, Any] | None:
    if event.type == workflow.ComplaintReceived.type:
        return row if row is not None else _received(event)
    if row is None or (event.position is not None and event.position <= row["position"]):
        return row  # before its receipt (cannot happen in a store read in order), or applied already
    new = {**row, "position": event.position, "updated_at": event.occurred_at}
    if event.type not in DECODED:
        return new
    decoded = event.decode()
    if isinstance(decoded, workflow.CategorySet):  # set or corrected at step 3 or 4
        new["service_code"] = decoded.category
    elif isinstance(decoded, workflow.ComplaintReferred):
        new.update(referred_to=decoded.agency, follow_up_by=decoded.follow_up_by)
        if decoded.follow_up_by is None:  # written before referrals were followed: it closed the complaint
            new.update(status="closed", outcome="referred", current_step=None, referral_state="unfollowed")
        else:  # followed until the receiving office answers; the step stays 4, as the workflow's model has it
            new.update(status="referred", referral_state="followed")
    elif event.type in CLOSING:
        new.update(status="closed", outcome=CLOSING[event.type], current_step=None)
        if event.type in REFERRAL_ENDS:
            new["referral_state"] = REFERRAL_ENDS[event.type]
        elif row.get("referral_state") == "followed":
            new["referral_state"] = "ended"
        if isinstance(decoded, workflow.ReferralAnswered):
            new["referral_answered_on"] = decoded.answered_on
    elif isinstance(decoded, workflow.ComplaintReopened):  # the complainant's "not resolved" (docs/adr/0020)
        new.update(status="in_progress", outcome=None, current_step=decoded.next_step, deadline_at=decoded.deadline_at)
    elif isinstance(decoded, workflow.ObjectionRaised):  # open again: a keberatan waits on the Camat
        new.update(status="objection", outcome=None, current_step=None)
    elif isinstance(decoded, workflow.ObjectionAnswered):
        if decoded.decision == "upheld":
            new.update(status="closed", outcome="resolved", current_step=None)
    elif isinstance(decoded, workflow.DocumentsRequested):
        new["status"] = "awaiting_documents"
    elif isinstance(decoded, workflow.DocumentsReceived):
        new["status"] = "in_progress"
    elif isinstance(decoded, workflow.StepCompleted):
        new["current_step"] = decoded.next_step
    return new


def _received(event: EventEnvelope) -> dict[str, Any]:
    received = event.decode()
    if not isinstance(received, workflow.ComplaintReceived):
        raise TypeError(f"{event.type} decoded as {type(received).__name__}")
    return {
        "complaint_id": received.complaint_id,
        "tracking_code": received.tracking_code,
        "kecamatan": received.kecamatan,
        # the complaint's category (issue #18 item 2); an Open311 request filed before categories were a field: read
        # from the subject Open311 wrote its service into; any other without one: the catch-all (the spec asks for
        # a service), not what a citizen's subject happens to begin with
        "service_code": received.category
        or (service_of(received.subject) if received.channel == OPEN311_CHANNEL else OTHER_CODE),
        "received_at": received.received_at,
        "status": "in_progress",
        "outcome": None,
        "current_step": received.next_step,
        "deadline_at": received.deadline_at,
        "referred_to": None,
        "sop_version": received.sop_version,
        "updated_at": event.occurred_at,
        "position": event.position or 0,
        "referral_state": None,
        "follow_up_by": None,
        "referral_answered_on": None,
    }
