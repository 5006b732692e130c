"""Follow-ups out, second half: ``lapor.outbox`` drained to LAPOR!, each follow-up once and in the order of the
complaint's events (a periodic job of the scheduler, one active instance).

Per complaint only its earliest pending follow-up is sent, and only once the complaint's report was handed over
(its LAPOR! tracking id is in the inbox). The call carries the row's id as ``Idempotency-Key``: a call whose answer
was lost (or a crash between LAPOR!'s answer and our write) is made again under the same key, and LAPOR! answers
with the follow-up it already has. A failure waits a doubling pause; a refusal for good, or too many tries, leaves
the row ``failed`` for a person (``pengaduan lapor status``), and the complaint's later follow-ups go on."""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects.postgresql import distinct_on

from services.lapor.adapters.mapping import MappingError
from services.lapor.adapters.tables import inbox, outbox
from services.lapor.config import LaporSettings
from services.lapor.domain.model import FollowUp
from services.lapor.domain.ports import LaporApi, LaporError, LaporRejected
from services.lapor.importer import retry_delay
from shared.subscriptions import RoundResult

log = logging.getLogger(__name__)


@dataclass
class FollowUpSender:
    engine: Engine
    api: LaporApi
    settings: LaporSettings
    clock: Callable[[], datetime]
    name: str = "lapor.send"

    @property
    def interval(self) -> float:
        return self.settings.lapor_send_seconds

    def round(self) -> RoundResult:
        now = self.clock()
        first = (
            select(outbox)
            .where(outbox.c.state == "pending")
            .ext(distinct_on(outbox.c.complaint_id))
            .order_by(outbox.c.complaint_id, outbox.c.position)
            .subquery()
        )
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(first, inbox.c.tracking_id)
                .join(inbox, inbox.c.complaint_id == first.c.complaint_id)
                .where(first.c.next_attempt_at <= now, inbox.c.state == "submitted")
                .order_by(first.c.position)
                .limit(self.settings.lapor_batch)
            ).all()
        sent = sum(self._send(row) for row in rows)
        return RoundResult(handled=sent, more=sent > 0)  # the next of each complaint at once

    def _send(self, row) -> int:
        follow_up = FollowUp(row.kind, row.status, row.text, row.occurred_at, row.letter_number)
        try:
            lapor_id = self.api.follow_up(row.tracking_id, follow_up, str(row.id))
        except LaporRejected as exc:
            self._failed(row, f"{exc.code}: {exc}", for_good=True)
            return 0
        except (LaporError, MappingError) as exc:
            self._failed(row, f"{getattr(exc, 'code', 'mapping_error')}: {exc}", for_good=False)
            return 0
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id == row.id, outbox.c.state == "pending")
                .values(state="sent", lapor_id=lapor_id, sent_at=self.clock(), last_error=None)
            )
        log.info(
            "lapor: follow-up reported",
            extra={
                "lapor_id": row.tracking_id,
                "kind": row.kind,
                "follow_up": str(row.id),
                "attempts": row.attempts + 1,
            },
        )
        return 1

    def _failed(self, row, reason: str, *, for_good: bool) -> None:
        attempts = row.attempts + 1
        failed = for_good or attempts >= self.settings.lapor_max_attempts
        delay = retry_delay(attempts, self.settings.lapor_retry_seconds, self.settings.lapor_retry_max_seconds)
        with self.engine.begin() as conn:
            conn.execute(
                update(outbox)
                .where(outbox.c.id == row.id, outbox.c.state == "pending")
                .values(
                    state="failed" if failed else "pending",
                    attempts=attempts,
                    last_error=reason[:500],
                    next_attempt_at=self.clock() + delay,
                )
            )
        (log.error if failed else log.warning)(
            "lapor: a follow-up was not reported" + ("; a person must look at it" if failed else ""),
            extra={"lapor_id": row.tracking_id, "kind": row.kind, "error": reason, "attempts": attempts},
        )
