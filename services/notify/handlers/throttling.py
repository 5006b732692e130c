"""Throttling of acknowledgments per recipient: anyone can file a complaint with anyone's number, so the
complaint form must not become a free SMS (or e-mail) cannon (ADR 0005's counters, in Redis)."""

from __future__ import annotations

import hashlib
import logging
from contextlib import nullcontext
from uuid import UUID

from services.notify.domain import plan as p
from services.notify.domain.delivery import mailbox
from services.notify.handlers.context import Context
from services.notify.unit_of_work import UnitOfWork
from shared.ratelimit import RateLimiter, RateLimitUnavailable, limiter_for, parse_limits

log = logging.getLogger(__name__)

_limiters: dict[str, RateLimiter] = {}


def throttled_acknowledgments(notify: Context, planned: list[p.Planned], uow: UnitOfWork | None = None) -> set[UUID]:
    """The acknowledgments that would exceed ``PENGADUAN_RATE_LIMIT_ACKNOWLEDGMENTS_PER_RECIPIENT``: anyone
    can file a complaint with anyone's number, so the form must not become a free SMS (or e-mail) cannon.
    Only the acknowledgment is limited: every later message follows a person's action at the kecamatan.
    A message planned before (a redelivered task) is not counted again. Counters unreachable: sent."""
    acks = [m for m in planned if m.kind == "acknowledgment" and m.audience == "complainant" and m.channel != "none"]
    if not acks:
        return set()
    with nullcontext(uow) if uow is not None else notify.uow() as reading:  # the caller's unit, if given
        known = {row["id"] for row in reading.deliveries.many([m.id for m in acks])}
    settings = notify.settings
    limiter = _limiters.get(settings.effective_cache_url)
    if limiter is None:
        limiter = _limiters[settings.effective_cache_url] = limiter_for(settings)
    limits = parse_limits(settings.rate_limit_acknowledgments_per_recipient)
    throttled: set[UUID] = set()
    for m in acks:
        if m.id in known:
            continue
        recipient = hashlib.sha256(mailbox(m.recipient).encode()).hexdigest()[:32]  # no address in Redis
        try:
            if not limiter.hit(limits, "ack-recipient", recipient).allowed:
                throttled.add(m.id)
        except RateLimitUnavailable:
            log.warning("acknowledgment not throttled: counters unreachable")
    if throttled:
        log.warning("acknowledgments throttled per recipient", extra={"count": len(throttled)})
    return throttled
