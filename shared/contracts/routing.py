"""Which queues receive which events of the store (the relay's subscription table).

Each subscription gets every matching event at least once, in commit order, as a task whose id is
deterministic (``<subscription>:<event_id>``), carrying the event's id and position only: the consumer
re-reads the event from the store. Letters, notify and projections plug in here by adding a line.
"""

from __future__ import annotations

from dataclasses import dataclass


@dataclass(frozen=True)
class Subscription:
    name: str
    queue: str
    task: str
    event_types: frozenset[str]  # empty: every event

    def wants(self, event_type: str) -> bool:
        return not self.event_types or event_type in self.event_types


# the events notify plans a message for, one task each (services/notify/handlers/planning.py says what each one
# sends): what the complainant is told, and a keberatan for the Camat. The staff's news of new work is not here:
# notify plans it from the store in rounds (services/notify/new_work.py), where most events (nobody asked to hear of
# that work) cost no task at all
NOTIFY_EVENTS = (
    "workflow.ComplaintReceived",
    "workflow.DocumentsRequested",
    "workflow.ComplaintReferred",
    "workflow.ReferralAnswered",  # the receiving office answered a referral, or the kecamatan stopped waiting
    "workflow.ReferralLapsed",
    "workflow.ResponseDispatched",
    "workflow.IdentityRejected",
    "workflow.ClosedIncomplete",
    "workflow.ComplaintWithdrawn",
    "workflow.MarkedDuplicate",  # and the original's complainant, that another report was joined (docs/adr/0021)
    # the complainant's contact corrected: what has not reached them is planned again to the corrected one
    "workflow.ComplainantDataCorrected",
    # after the response (docs/adr/0020): the complainant and the unit told of a reopening, the complainant and the
    # Camat of a keberatan, the complainant of the Camat's answer
    "workflow.ComplaintReopened",
    "workflow.ObjectionRaised",
    "workflow.ObjectionAnswered",
)

SUBSCRIPTIONS: tuple[Subscription, ...] = (
    # the Camat signs (step 10): the letters worker renders, PAdES-signs and stores the numbered letter
    Subscription("letters-signed", "letters", "letters.issue_signed_letter", frozenset({"workflow.LetterSigned"})),
    # the receipt (tanda terima) of every complaint; each draft as a PDF; the letter released at step 12
    Subscription("letters-receipts", "letters", "letters.issue_receipt", frozenset({"workflow.ComplaintReceived"})),
    Subscription("letters-drafts", "letters", "letters.render_draft", frozenset({"workflow.LetterDrafted"})),
    # the SOP's instruments: the Lembar Disposisi at step 4 (and when redirected); the surat pelimpahan, signed
    Subscription(
        "letters-dispositions",
        "letters",
        "letters.issue_disposition_sheet",
        frozenset({"workflow.DispositionIssued", "workflow.DispositionRedirected"}),
    ),
    Subscription(
        "letters-referrals", "letters", "letters.issue_referral_letter", frozenset({"workflow.ComplaintReferred"})
    ),
    Subscription(
        "letters-release",
        "letters",
        "letters.release_letter",
        frozenset({"workflow.ResponseDispatched", "workflow.ResponseSent"}),
    ),
    # an overdue step alerts the responsible role and its superior (recorded, and sent to those with a contact)
    Subscription("notify-escalations", "notify", "notify.escalate", frozenset({"workflow.StepOverdue"})),
    # what the complainant is told, and the staff's new work
    Subscription("notify-messages", "notify", "notify.plan", frozenset(NOTIFY_EVENTS)),
    # a complainant's personal data erased (docs/adr/0017): each service removes its copies (intake's and the
    # dashboard's projections do so as they apply the event)
    Subscription(
        "letters-erasure", "letters", "letters.erase_personal_data", frozenset({"workflow.PersonalDataErased"})
    ),
    Subscription("notify-erasure", "notify", "notify.erase_personal_data", frozenset({"workflow.PersonalDataErased"})),
)


# -- messages one service sends straight to another's queue (not through the event store) -------------------
def _direct_messages() -> tuple[tuple[str, str], ...]:
    from shared.contracts.intake import ComplainantReplied, ComplaintSubmitted, FeedbackGiven
    from shared.contracts.letters import LetterDocumentIssued
    from shared.contracts.notify import NotificationReport

    return (
        *(
            (m.TASK, m.QUEUE)
            for m in (ComplaintSubmitted, ComplainantReplied, FeedbackGiven, LetterDocumentIssued, NotificationReport)
        ),
        (DELIVERY_STATUS_TASK, "notify"),
    )


# a provider's delivery receipt (WhatsApp status webhook), from intake's outbox to notify
DELIVERY_STATUS_TASK = "notify.record_status"


def routed_tasks(queue: str) -> set[str]:
    """Every task the routing contract sends to ``queue``: the relay's subscriptions and the direct messages."""
    return {s.task for s in SUBSCRIPTIONS if s.queue == queue} | {t for t, q in _direct_messages() if q == queue}


def queues() -> tuple[str, ...]:
    """Every queue the routing contract sends to, each once, in a fixed order (the direct messages' first, then
    the subscriptions'): the queues the broker declares and the queue-depth gauge reads
    (``shared.celery_app.QUEUES``). A new queue is a line of this module, not a second list to keep in step."""
    return tuple(dict.fromkeys([*(q for _, q in _direct_messages()), *(s.queue for s in SUBSCRIPTIONS)]))


def subscription_tasks() -> set[str]:
    """The tasks the relay sends (recorded in its hand-off ledger until the consumer's inbox has them)."""
    return {s.task for s in SUBSCRIPTIONS}
