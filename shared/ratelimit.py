"""How often one client may ask: counters in Redis, so every replica of every process shares them.

The counting is the ``limits`` library's (the one behind Flask-Limiter and SlowAPI): a sliding-window
counter per (limit, identifiers) kept in Redis, limits written in its notation (``"10/minute;60/hour"``:
every one of them must hold). What this module adds is the project's policy:

- ``RateLimiter.hit`` counts one request and says whether it is allowed, and if not, after how many seconds
  it will be (``Retry-After``); ``remaining`` only looks (sign-in: a failed attempt is counted after it failed,
  but a client over the limit is refused before its password is even hashed).
- When Redis cannot be reached the answer depends on who asks: anonymous endpoints fail **open** (a citizen
  may still file a complaint; the event is logged), sign-in and token checks fail **closed** (503
  ``service_unavailable``; see ``services.accounts.adapters.throttle`` and ``shared.auth``): an outage must not switch guessing protection off.
- ``client_address`` is the address uvicorn's proxy-header handling resolved from ``X-Forwarded-For``, which
  is believed only from ``PENGADUAN_TRUSTED_PROXIES`` (``pengaduan.cli`` passes them as uvicorn's
  ``forwarded_allow_ips``): uvicorn takes the right-most address that is not a trusted proxy, so a client
  cannot choose its own address by sending the header.

Settings: ``PENGADUAN_RATE_LIMIT_ENABLED`` and ``PENGADUAN_RATE_LIMIT_*`` (``shared.config``); load tests and
the test suite raise them.
"""

from __future__ import annotations

import ipaddress
import logging
import math
import time
from collections.abc import Sequence
from dataclasses import dataclass

from fastapi import Request
from limits import RateLimitItem, parse_many
from limits.storage import Storage, storage_from_string
from limits.strategies import SlidingWindowCounterRateLimiter

from shared.http import ApiError, ErrorBody

log = logging.getLogger(__name__)

KEY_PREFIX = "pengaduan-rl"
SOCKET_TIMEOUT = 1.0  # seconds: a Redis that does not answer must not hold a request for long


class RateLimitUnavailable(Exception):
    """The counters could not be read or written (Redis down)."""


@dataclass(frozen=True)
class Decision:
    allowed: bool
    retry_after: int = 0  # seconds until the tightest exhausted limit frees a request


class TooManyRequests(ApiError):
    def __init__(self, retry_after: int, message: str, code: str = "rate_limited") -> None:
        super().__init__(429, code, message, headers={"Retry-After": str(max(1, retry_after))})


class ServiceUnavailable(ApiError):
    def __init__(
        self, message: str = "Layanan sedang sibuk atau terganggu. Coba lagi sebentar lagi.", retry_after: int = 5
    ) -> None:
        super().__init__(503, "service_unavailable", message, headers={"Retry-After": str(retry_after)})


def parse_limits(text: str) -> tuple[RateLimitItem, ...]:
    """``"10/minute;60/hour"`` as limits; an empty string is no limit."""
    return tuple(parse_many(text)) if text.strip() else ()


class RateLimiter:
    """Counters in one storage (``redis://...`` in every deployment; ``memory://`` for a single process)."""

    def __init__(self, storage_url: str, *, enabled: bool = True) -> None:
        self.enabled = enabled
        options = {}
        if storage_url.startswith(("redis://", "rediss://", "unix://")):
            options = {"socket_timeout": SOCKET_TIMEOUT, "socket_connect_timeout": SOCKET_TIMEOUT}
        self._storage: Storage = storage_from_string(storage_url, key_prefix=KEY_PREFIX, **options)
        self._strategy = SlidingWindowCounterRateLimiter(self._storage)

    def hit(self, limits: Sequence[RateLimitItem], *identifiers: str) -> Decision:
        """Counts one request against every limit (each an atomic step in Redis); refused when one is
        exhausted (the request is then not counted against that one)."""
        if not self.enabled or not limits:
            return Decision(True)
        try:
            for item in limits:
                if not self._strategy.hit(item, *identifiers):
                    stats = self._strategy.get_window_stats(item, *identifiers)
                    return Decision(False, max(1, math.ceil(stats.reset_time - time.time())))
        except Exception as exc:  # redis.ConnectionError, TimeoutError, limits' StorageError ...
            raise RateLimitUnavailable(str(exc)) from exc
        return Decision(True)

    def remaining(self, limits: Sequence[RateLimitItem], *identifiers: str) -> tuple[int, int]:
        """(requests left before the tightest limit refuses, seconds until that limit frees one)."""
        if not self.enabled or not limits:
            return 1 << 30, 0
        try:
            left, retry_after = 1 << 30, 0
            for item in limits:
                stats = self._strategy.get_window_stats(item, *identifiers)
                if stats.remaining < left:
                    left = stats.remaining
                    retry_after = max(1, math.ceil(stats.reset_time - time.time()))
        except Exception as exc:
            raise RateLimitUnavailable(str(exc)) from exc
        return left, retry_after

    def count(self, limits: Sequence[RateLimitItem], *identifiers: str) -> None:
        """Counts one event (a failed sign-in) without deciding anything."""
        if not self.enabled or not limits:
            return
        try:
            for item in limits:
                self._strategy.hit(item, *identifiers)
        except Exception as exc:
            raise RateLimitUnavailable(str(exc)) from exc

    def clear(self, limits: Sequence[RateLimitItem], *identifiers: str) -> None:
        if not self.enabled:
            return
        try:
            for item in limits:
                self._strategy.clear(item, *identifiers)
        except Exception as exc:
            raise RateLimitUnavailable(str(exc)) from exc


IPV6_PREFIX = 64  # one IPv6 subscriber usually holds a /64: counting single addresses would count nothing


def client_address(request: Request) -> str:
    """The client as the limits count it: the address the ASGI server resolved (behind trusted proxies: from
    X-Forwarded-For), an IPv6 address reduced to its /64 network."""
    host = request.client.host if request.client is not None else "unknown"
    return limit_key_of_address(host)


def limit_key_of_address(host: str) -> str:
    try:
        address = ipaddress.ip_address(host.strip("[]"))
    except ValueError:
        return host
    if address.version == 4:
        return str(address)
    if address.ipv4_mapped is not None:  # ::ffff:a.b.c.d is the IPv4 client a.b.c.d
        return str(address.ipv4_mapped)
    return str(ipaddress.ip_network(f"{address}/{IPV6_PREFIX}", strict=False))


TOO_MANY_SUBMISSIONS = (
    "Terlalu banyak pengaduan dikirim dari alamat jaringan ini. Silakan coba lagi beberapa saat lagi."
)
TOO_MANY_REQUESTS = "Terlalu banyak permintaan dari alamat jaringan ini. Silakan coba lagi beberapa saat lagi."


def enforce(
    limiter: RateLimiter | None,
    limits: Sequence[RateLimitItem],
    scope: str,
    request: Request,
    message: str = TOO_MANY_REQUESTS,
) -> None:
    """For anonymous endpoints: one request counted against ``limits`` for the client's address under
    ``scope``; 429 with ``Retry-After`` beyond them. Fails open when the counters are unreachable."""
    if limiter is None:
        return
    address = client_address(request)
    try:
        decision = limiter.hit(limits, scope, address)
    except RateLimitUnavailable as exc:
        log.warning("rate limit not enforced: counters unreachable", extra={"scope": scope, "error": str(exc)[:200]})
        return
    if not decision.allowed:
        log.info("rate limited", extra={"scope": scope})
        raise TooManyRequests(decision.retry_after, message)


def limiter_for(settings) -> RateLimiter:
    """The process's limiter from its settings (``PENGADUAN_CACHE_URL``, else ``PENGADUAN_REDIS_URL``)."""
    return RateLimiter(settings.effective_cache_url, enabled=settings.rate_limit_enabled)


TOO_MANY_ANSWERS = "Terlalu banyak penilaian dikirim dari alamat jaringan ini. Silakan coba lagi beberapa saat lagi."
_MESSAGES = {"submissions": TOO_MANY_SUBMISSIONS, "tracking": TOO_MANY_REQUESTS, "feedback": TOO_MANY_ANSWERS}
_parsed: dict[str, tuple[RateLimitItem, ...]] = {}


def per_address(kind: str):
    """A FastAPI dependency: ``PENGADUAN_RATE_LIMIT_<KIND>`` per client address, for anonymous endpoints
    (``submissions``: complaints by JSON, form and Open311; ``tracking``: tracking pages and the citizen's
    documents by tracking code). The app must have ``app.state.settings`` (``shared.auth.install_auth``)."""
    message = _MESSAGES[kind]

    def dependency(request: Request) -> None:
        settings = request.app.state.settings
        limiter = getattr(request.app.state, "rate_limiter", None)
        if limiter is None:  # one per app, on first use (nothing at import time)
            limiter = request.app.state.rate_limiter = limiter_for(settings)
        text = getattr(settings, f"rate_limit_{kind}")
        limits = _parsed.get(text)
        if limits is None:
            limits = _parsed[text] = parse_limits(text)
        enforce(limiter, limits, kind, request, message)

    return dependency


RATE_LIMITED_DOC = {
    429: {
        "model": ErrorBody,
        "description": "Too many requests from this address (`rate_limited`); `Retry-After` says when to try again",
        "headers": {"Retry-After": {"schema": {"type": "integer"}}},
    }
}
