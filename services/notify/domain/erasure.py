"""What of notify's copies stays once a complainant's personal data is erased (``workflow.PersonalDataErased``;
UU 27/2022 PDP, issue #17, docs/adr/0017). Pure: the handler (``handlers/erasure.py``) applies it to the rows.

A delivery keeps what the audit needs and nothing that reaches or names the complainant:

* kept: its id, the event it answered, the complaint, kecamatan, kind, audience, channel, state, attempts, the
  provider and the keyed hash of the provider's message id (a late delivery receipt still finds it), the staff
  username, the verification link of a letter (it names no one: letters remove their own documents) and every
  timestamp;
* cleared: the provider's message id itself (a WhatsApp id is ``wamid.`` and base64 holding the recipient's phone
  number; docs/adr/0017, decision 7), for staff's messages too (their text quoted the complaint, and the id is as
  good as their number);
* replaced: the complainant's address (``recipient``) by ``ERASED_RECIPIENT``; the rendered text (``body``) by
  ``ERASED_BODY``, which also marks the row as erased;
* cleared: the e-mail subject, the template's variables (the name, the reason, the office's answer ...) and the
  attachment (the letter's name and hash);
* the provider's or our own error (``last_error``) masked of the complainant's values and of anything shaped like
  an address, a phone number or a NIK (``shared.masking.scrub``): the reason stays readable.

A staff member's alert (new work, an overdue step) is erased the same way (its text quoted the complaint's
subject), but its recipient, the staff member's own address, is not the complainant's data and stays (the
username names them anyway). A message not yet sent (``pending``) is not sent any more: it becomes ``failed``
with ``NOT_SENT`` and is not reported to the workflow (nothing reached a provider). One being sent right now
(``sending``) keeps its state: its worker writes what the provider answered, and a worker that died leaves it to
the reconciliation, which does not send an erased message (``handlers/sending.py``).

The dead letters and the reports handed to the workflow hold ids, plus error texts: those are masked the same
way (``scrubbed_payload``, ``Known.scrub``), a report's masked recipient becomes ``"-"`` and a provider's message
id goes (its keyed hash stays).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from datetime import datetime
from typing import Any

from shared.contracts.workflow import ERASED_NAME
from shared.masking import scrub

ERASED_RECIPIENT = ERASED_NAME
ERASED_BODY = "(isi pesan dihapus bersama data pribadi pengadu)"
NOT_SENT = "tidak dikirim: data pribadi pengadu telah dihapus"
REPORT_RECIPIENT = "-"  # a report's recipient once erased (as for a message that had none)

# the template variables that carry the complainant's own values (domain/plan.py's complainant variables)
_NAME_VARIABLES = ("nama",)


def is_erased(row: Mapping[str, Any]) -> bool:
    return bool(row["body"] == ERASED_BODY)


@dataclass(frozen=True)
class Known:
    """The complainant's values as notify's rows of the complaint still hold them (the event store no longer
    does): the addresses messages went to and the name they were addressed by, masked wherever they are quoted."""

    values: frozenset[str] = field(default_factory=frozenset)
    names: frozenset[str] = field(default_factory=frozenset)

    @classmethod
    def of(cls, rows: Iterable[Mapping[str, Any]]) -> Known:
        values: set[str] = set()
        names: set[str] = set()
        for row in rows:
            if is_erased(row):
                continue
            if row["audience"] == "complainant" and row["recipient"]:
                values.add(row["recipient"])
            variables = row.get("variables") or {}
            names.update(
                str(variables[k]) for k in _NAME_VARIABLES if row["audience"] == "complainant" and variables.get(k)
            )
        names.discard(ERASED_NAME)
        return cls(frozenset(values), frozenset(names))

    def scrub(self, text: str | None) -> str | None:
        """``text`` with the complainant's values, names and anything shaped like an address, a phone number or a
        NIK replaced by ``[disembunyikan]``."""
        if not text:
            return text
        return scrub(text, known=sorted(self.values), names=sorted(self.names))


def erased_delivery(row: Mapping[str, Any], now: datetime, known: Known) -> dict[str, Any]:
    """The columns to write to a delivery ``row`` of an erased complaint (the module's docstring says which)."""
    values: dict[str, Any] = {
        "subject": None,
        "body": ERASED_BODY,
        "variables": None,
        "attachment": None,
        "last_error": known.scrub(row["last_error"]),
        "provider_message_id": None,
        "updated_at": now,
    }
    if row["audience"] == "complainant":
        values["recipient"] = ERASED_RECIPIENT
    if row["state"] == "pending":
        values.update(state="failed", last_error=NOT_SENT, sending_since=None, reported_state="failed")
    return values


def scrubbed_payload(payload: Mapping[str, Any], known: Known) -> dict[str, Any]:
    """A message notify keeps (a dead letter's task argument, a report to the workflow) without the complainant's
    values: its error text masked, a report's recipient ``"-"``, a provider's message id gone (its keyed hash stays);
    our ids and states as they were."""
    kept = dict(payload)
    if isinstance(kept.get("error"), str):
        kept["error"] = known.scrub(kept["error"])
    if "recipient" in kept:
        kept["recipient"] = REPORT_RECIPIENT
    if kept.get("provider_message_id") is not None:
        kept["provider_message_id"] = None
    return kept
