"""The port the bridge talks to SP4N-LAPOR! through (``adapters/http.py`` is its one real adapter; tests run it
against ``devtools/lapor``, a local fake server), and how an answer that is not a success is classified. Pure."""

from __future__ import annotations

from typing import Protocol

from services.lapor.domain.model import FollowUp, LaporAttachment, ReportPage


class LaporError(Exception):
    """A call to LAPOR! that did not succeed. ``code`` is stable (for logs and the bridge's tables)."""

    code = "lapor_error"


class LaporUnavailable(LaporError):
    """Nothing was done there (refused connection, 5xx or 429 before any effect, a timeout on a read-only call):
    asking again later is safe."""

    code = "lapor_unavailable"


class LaporAnswerLost(LaporError):
    """A write may have reached LAPOR! without its answer reaching us (a read timeout, a connection dropped
    mid-answer): it is sent again with the same idempotency key, never as a new one."""

    code = "lapor_answer_lost"


class LaporRejected(LaporError):
    """LAPOR! refused the request for good (4xx other than 408/429): a person must look at it."""

    code = "lapor_rejected"

    def __init__(self, status: int, message: str) -> None:
        super().__init__(f"HTTP {status}: {message}")
        self.status = status
        self.message = message


class LaporApi(Protocol):
    """What the bridge needs of SP4N-LAPOR!."""

    def dispositions(self, instansi_id: str, cursor: str | None) -> ReportPage:
        """Reports disposed to ``instansi_id`` after ``cursor`` (None: from the beginning), oldest first."""
        ...

    def attachment(self, attachment: LaporAttachment) -> bytes:
        """The bytes of a report's attachment."""
        ...

    def acknowledge(self, tracking_id: str, reference: str) -> None:
        """Tell LAPOR! the report was received here, under our ``reference`` (the tracking code). Idempotent."""
        ...

    def follow_up(self, tracking_id: str, follow_up: FollowUp, idempotency_key: str) -> str:
        """Report a follow-up on a report; the id LAPOR! gave it. The same ``idempotency_key`` again must not add
        a second follow-up (LAPOR! answers with the first one's id)."""
        ...
