"""The rules of sending one message, without I/O: its states, how long to wait before the next attempt, what
a provider's delivery receipt may change, what of an error the complaint may show, which addresses count as one
mailbox, and the ids of the reports to the workflow. The handlers (services/notify/handlers/) apply them to
the rows of ``notify.deliveries``; ADR 0013 says why each one is so.
"""

from __future__ import annotations

import re
import uuid
from collections.abc import Mapping
from datetime import datetime, timedelta
from typing import Any
from uuid import UUID

# pending --claim--> sending --provider accepted--> sent --delivery receipt--> delivered; or failed, or unknown
STATES = ("pending", "sending", "sent", "delivered", "failed", "unknown")
TERMINAL = ("sent", "delivered", "failed", "unknown")

# a provider's delivery receipts, in the order they may follow each other
STATUS_ORDER = {"sent": 1, "delivered": 2, "read": 2, "failed": 3}

ENQUEUE_GRACE = timedelta(seconds=60)  # a row enqueued but not yet claimed is enqueued again after this

# why an acknowledgment was not sent (staff read it in `pengaduan deliveries list`)
THROTTLED = "tidak dikirim: terlalu banyak pesan tanda terima ke penerima ini dalam waktu singkat"

# why a message waiting to be sent was stopped: the complainant's contact was corrected (planned again to it)
CONTACT_CORRECTED = "tidak dikirim: kontak pengadu dikoreksi; pesan dikirim ulang ke kontak yang benar"

REPORT_NAMESPACE = uuid.UUID("72657075-7274-2d6e-6f74-696679000000")


def report_id(delivery_id: UUID, state: str) -> UUID:
    """One report per delivery and state: the workflow's inbox appends it once however often it is sent."""
    return uuid.uuid5(REPORT_NAMESPACE, f"{delivery_id}:{state}")


def backoff(attempts: int, base: float, cap: float, jitter: float) -> timedelta:
    """The pause after the ``attempts``-th failed attempt: ``base * 2^(attempts-1)`` seconds, at most ``cap``,
    times 0.5-1.5 (``jitter`` in [0, 1), drawn by the caller) so that messages failed together do not come back
    together."""
    pause = min(cap, base * 2 ** max(0, attempts - 1))
    return timedelta(seconds=pause * (0.5 + jitter))


def outcome_values(
    state: str,
    at: datetime,
    error: str | None,
    provider: str | None,
    provider_message_id: str | None,
    provider_message_hash: str | None = None,
) -> dict[str, Any]:
    """The columns a send's outcome writes (the claim ends with it); ``provider_message_hash``: the id's keyed hash
    (``shared.privacy.ProviderIdHashes``), what its delivery receipts will be matched by."""
    values: dict[str, Any] = {
        "state": state,
        "updated_at": at,
        "sending_since": None,
        "last_error": error[:500] if error else None,
    }
    if provider:
        values["provider"] = provider
    if state == "sent":
        values.update(sent_at=at, provider_message_id=provider_message_id, provider_message_hash=provider_message_hash)
    return values


def receipt_values(
    kind: str, row: Mapping[str, Any], status: Mapping[str, Any], now: datetime
) -> dict[str, Any] | None:
    """What a provider's delivery receipt (``kind``: sent, delivered, read, failed) changes on a delivery
    ``row``: a row only moves forward, so None when it would go back (a late "sent" after "delivered") or the
    row is not one a provider has (pending, or already settled the same way). A row found by our reference whose
    send's answer was lost learns the id's keyed hash from the receipt (``provider_message_hash``), never the id."""
    values: dict[str, Any] = {"updated_at": now, "sending_since": None}
    if kind in ("delivered", "read") and row["state"] in ("sending", "sent", "unknown"):
        values.update(state="delivered", delivered_at=now)
    elif kind == "sent" and row["state"] in ("sending", "unknown"):
        values.update(state="sent", sent_at=now)
    elif kind == "failed" and row["state"] in ("sending", "sent", "unknown"):
        values.update(state="failed", last_error=(status.get("error") or "gagal terkirim menurut penyedia")[:500])
    else:
        return None
    if status.get("provider_message_hash") and not row["provider_message_hash"]:
        values["provider_message_hash"] = status["provider_message_hash"]
    values.setdefault("provider", status.get("provider") or row["provider"])
    return values


_CONTACT = re.compile(r"\+?\d[\d\s-]{6,}\d|[\w.+-]+@[\w-]+(\.[\w-]+)+")


def public_error(error: str | None) -> str | None:
    """An error as events may carry it: providers' texts can repeat the number or address."""
    return _CONTACT.sub("***", error)[:300] if error else error


def mailbox(recipient: str) -> str:
    """One key per mailbox, however the address is written: ``korban+1@...`` and ``korban+2@...`` (sub-
    addressing), and for Gmail ``k.o.r.b.a.n@gmail.com``, all reach one inbox and count as one recipient."""
    address = recipient.strip().lower()
    local, at, domain = address.rpartition("@")
    if not at:
        return address  # a phone number (E.164 already)
    local = local.split("+", 1)[0]
    if domain in ("gmail.com", "googlemail.com"):
        local, domain = local.replace(".", ""), "gmail.com"
    return f"{local}@{domain}"
