"""Reports in: LAPOR!'s dispositions to our kecamatan, into intake as channel ``lapor``, each once.

One round (a periodic job of the scheduler process, one active instance):

1. **Poll** each configured instansi after its cursor. A page's reports go into ``lapor.inbox`` (keyed by the
   LAPOR! tracking id: a report seen twice is recorded once) in the same transaction that moves the cursor past
   them: a crash before the commit polls the page again, after it nothing is asked twice.
2. **Hand over** each report waiting in the inbox to intake (``POST /v1/channels/lapor``), its attachments fetched
   from LAPOR! first, under the idempotency key ``lapor:<tracking id>``: a hand-over whose answer was lost is made
   again and intake answers with the complaint it made the first time. The row then holds the complaint's id and
   tracking code, and no longer the reporter's identity (intake keeps it, sealed).
3. **Acknowledge** each handed-over report to LAPOR! (idempotent there), with our complaint id as reference.

A failure of LAPOR! or intake leaves the row waiting, tried again after a pause that doubles (capped); a refusal
for good, or too many tries, leaves it ``refused`` with the reason (``pengaduan lapor status``) for a person."""

from __future__ import annotations

import logging
import random
from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime, timedelta
from typing import Any

from sqlalchemy import Engine, select, update
from sqlalchemy.dialects.postgresql import insert

from services.lapor.adapters.intake import IntakeClient, IntakeRefused, IntakeUnavailable
from services.lapor.adapters.mapping import MappingError
from services.lapor.adapters.tables import cursors, inbox
from services.lapor.config import LaporSettings
from services.lapor.domain import importing
from services.lapor.domain.ports import LaporApi, LaporError, LaporRejected
from shared.subscriptions import RoundResult
from shared.tenancy import KecamatanDirectory

log = logging.getLogger(__name__)

MAX_PAGES = 20  # per instansi per round: a long backlog is read over several rounds, the cursor kept between


def retry_delay(attempts: int, first: float, cap: float, jitter: Callable[[], float] = random.random) -> timedelta:
    """``first x 2^(attempts-1)``, at most ``cap``, times 0.5-1.5 (so that many rows do not come due at once)."""
    return timedelta(seconds=min(cap, first * 2 ** min(attempts - 1, 30)) * (0.5 + jitter()))


@dataclass
class Importer:
    engine: Engine
    api: LaporApi
    intake: IntakeClient
    directory: KecamatanDirectory
    settings: LaporSettings
    clock: Callable[[], datetime]
    name: str = "lapor.import"

    @property
    def interval(self) -> float:
        return self.settings.lapor_poll_seconds

    def round(self) -> RoundResult:
        polled = self.poll()
        handed = self.hand_over()
        acknowledged = self.acknowledge()
        return RoundResult(handled=polled + handed + acknowledged, more=False)

    def _configured(self):
        """Reports of the instansi configured now: one taken out of ``PENGADUAN_LAPOR_INSTANSI`` is left alone."""
        return inbox.c.instansi_id.in_(list(self.settings.lapor_instansi.values()))

    # -- 1. poll

    def poll(self) -> int:
        """Every configured instansi's new dispositions into the inbox; how many new rows."""
        added = 0
        for kecamatan, instansi_id in self.settings.lapor_instansi.items():
            for _ in range(MAX_PAGES):
                with self.engine.connect() as conn:
                    cursor = conn.execute(select(cursors.c.cursor).where(cursors.c.instansi_id == instansi_id)).scalar()
                try:
                    page = self.api.dispositions(instansi_id, cursor)
                except (LaporError, MappingError) as exc:
                    log.warning(
                        "lapor: polling failed; the next round asks again",
                        extra={"instansi": instansi_id, "error": _reason(exc)},
                    )
                    break
                with self.engine.begin() as conn:
                    for tracking_id, why in page.unreadable:  # refused for a person; the page goes on
                        row = conn.execute(
                            insert(inbox)
                            .values(
                                tracking_id=tracking_id,
                                kecamatan=kecamatan,
                                instansi_id=instansi_id,
                                report={},
                                state="refused",
                                last_error=f"laporan tidak terbaca: {why}"[:500],
                                received_at=self.clock(),
                                next_attempt_at=self.clock(),
                            )
                            .on_conflict_do_nothing(index_elements=["tracking_id"])
                            .returning(inbox.c.tracking_id)
                        ).first()
                        if row is not None:
                            log.error(
                                "lapor: a report could not be read; a person must look at it",
                                extra={"lapor_id": tracking_id, "error": why},
                            )
                    for report in page.reports:
                        row = conn.execute(
                            insert(inbox)
                            .values(
                                tracking_id=report.tracking_id,
                                kecamatan=kecamatan,
                                instansi_id=instansi_id,
                                report=importing.to_json(report),
                                received_at=self.clock(),
                                next_attempt_at=self.clock(),
                            )
                            .on_conflict_do_nothing(index_elements=["tracking_id"])
                            .returning(inbox.c.tracking_id)
                        ).first()
                        added += row is not None
                    if page.next_cursor is not None:
                        stmt = insert(cursors).values(
                            instansi_id=instansi_id, cursor=page.next_cursor, updated_at=self.clock()
                        )
                        conn.execute(
                            stmt.on_conflict_do_update(
                                index_elements=["instansi_id"],
                                set_={"cursor": stmt.excluded.cursor, "updated_at": stmt.excluded.updated_at},
                            )
                        )
                if not page.more or page.next_cursor is None:
                    break
        if added:
            log.info("lapor: reports received", extra={"count": added})
        return added

    # -- 2. hand over to intake

    def hand_over(self) -> int:
        now = self.clock()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(inbox.c.tracking_id, inbox.c.kecamatan, inbox.c.report, inbox.c.attempts)
                .where(inbox.c.state == "received", inbox.c.next_attempt_at <= now, self._configured())
                .order_by(inbox.c.received_at, inbox.c.tracking_id)
                .limit(self.settings.lapor_batch)
            ).all()
        done = 0
        for row in rows:
            done += self._hand_over_one(row.tracking_id, row.kecamatan, row.report, row.attempts)
        return done

    def _hand_over_one(self, tracking_id: str, kecamatan: str, data: dict[str, Any], attempts: int) -> int:
        report = importing.from_json(data)
        found = self.directory.get(kecamatan)
        category = importing.category_code(report.category, found.categories) if found else None
        try:
            files = [(a.name, self.api.attachment(a)) for a in report.attachments]
            handed = self.intake.hand_over(
                importing.submission(report, kecamatan, category), files, importing.idempotency_key(tracking_id)
            )
        except (LaporRejected, IntakeRefused) as exc:
            self._failed(tracking_id, attempts, _reason(exc), for_good=True)
            return 0
        except (LaporError, IntakeUnavailable) as exc:
            self._failed(tracking_id, attempts, _reason(exc), for_good=False)
            return 0
        except (ValueError, TypeError, UnicodeError) as exc:  # a report this code cannot send: a person looks
            self._failed(tracking_id, attempts, f"{type(exc).__name__}: {exc}", for_good=True)
            return 0
        with self.engine.begin() as conn:
            conn.execute(
                update(inbox)
                .where(inbox.c.tracking_id == tracking_id)
                .values(
                    state="submitted",
                    complaint_id=handed.complaint_id,
                    tracking_code=handed.tracking_code,
                    submitted_at=self.clock(),
                    attempts=0,
                    next_attempt_at=self.clock(),
                    last_error=None,
                    report=importing.without_identity(data),
                )
            )
        log.info(
            "lapor: report handed to intake",
            extra={"lapor_id": tracking_id, "complaint_id": str(handed.complaint_id), "replayed": handed.replayed},
        )
        return 1

    def _failed(self, tracking_id: str, attempts: int, reason: str, *, for_good: bool) -> None:
        attempts += 1
        refused = for_good or attempts >= self.settings.lapor_max_attempts
        delay = retry_delay(attempts, self.settings.lapor_retry_seconds, self.settings.lapor_retry_max_seconds)
        with self.engine.begin() as conn:
            conn.execute(
                update(inbox)
                .where(inbox.c.tracking_id == tracking_id, inbox.c.state == "received")
                .values(
                    state="refused" if refused else "received",
                    attempts=attempts,
                    last_error=reason[:500],
                    next_attempt_at=self.clock() + delay,
                )
            )
        (log.error if refused else log.warning)(
            "lapor: a report could not be handed to intake" + ("; a person must look at it" if refused else ""),
            extra={"lapor_id": tracking_id, "error": reason, "attempts": attempts},
        )

    # -- 3. acknowledge to LAPOR!

    def acknowledge(self) -> int:
        now = self.clock()
        with self.engine.connect() as conn:
            rows = conn.execute(
                select(inbox.c.tracking_id, inbox.c.complaint_id, inbox.c.attempts)
                .where(
                    inbox.c.state == "submitted",
                    inbox.c.acknowledged_at.is_(None),
                    inbox.c.next_attempt_at <= now,
                    self._configured(),
                )
                .order_by(inbox.c.submitted_at)
                .limit(self.settings.lapor_batch)
            ).all()
        done = 0
        for row in rows:
            try:
                self.api.acknowledge(row.tracking_id, str(row.complaint_id))
            except LaporError as exc:
                delay = retry_delay(
                    row.attempts + 1, self.settings.lapor_retry_seconds, self.settings.lapor_retry_max_seconds
                )
                values: dict[str, Any] = {"attempts": row.attempts + 1, "last_error": _reason(exc)[:500]}
                values["next_attempt_at"] = self.clock() + delay
                with self.engine.begin() as conn:
                    conn.execute(update(inbox).where(inbox.c.tracking_id == row.tracking_id).values(**values))
                continue
            with self.engine.begin() as conn:
                conn.execute(
                    update(inbox)
                    .where(inbox.c.tracking_id == row.tracking_id)
                    .values(acknowledged_at=self.clock(), attempts=0, last_error=None)
                )
            done += 1
        return done


def _reason(exc: Exception) -> str:
    return f"{getattr(exc, 'code', type(exc).__name__)}: {exc}"
