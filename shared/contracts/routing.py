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


SUBSCRIPTIONS: tuple[Subscription, ...] = (
    # the Camat signs (step 10): the letters worker renders, PAdES-signs and stores the numbered letter
    Subscription("letters-signed", "letters", "letters.issue_signed_letter", frozenset({"workflow.LetterSigned"})),
    # the receipt (tanda terima) of every complaint; each draft as a PDF; the letter released at step 12
    Subscription("letters-receipts", "letters", "letters.issue_receipt", frozenset({"workflow.ComplaintReceived"})),
    Subscription("letters-drafts", "letters", "letters.render_draft", frozenset({"workflow.LetterDrafted"})),
    Subscription("letters-release", "letters", "letters.release_letter", frozenset({"workflow.ResponseSent"})),
    # an overdue step alerts the responsible role and its superior
    Subscription("notify-escalations", "notify", "notify.escalate", frozenset({"workflow.StepOverdue"})),
)
