"""The sign-in throttle: failed sign-ins counted per account and per client address in Redis (every replica);
beyond ``PENGADUAN_RATE_LIMIT_SIGNIN_*`` the answer is 429 with ``Retry-After``, before the password is hashed
(argon2 costs ~0.1 s of CPU: an unthrottled endpoint is also a way to burn CPU). Redis unreachable: 503."""

from __future__ import annotations

import hashlib
import logging

from services.accounts.domain.model import normalize_username
from shared.auth import cache_client
from shared.config import Settings
from shared.ratelimit import RateLimiter, RateLimitUnavailable, ServiceUnavailable, TooManyRequests, parse_limits

log = logging.getLogger(__name__)

TOO_MANY_SIGNINS = "Terlalu banyak percobaan masuk yang gagal. Tunggu beberapa saat, lalu coba lagi."


class SignInThrottle:
    """Failed sign-ins counted per account and per client address (Redis, every replica); beyond the limits
    429 with ``Retry-After`` before the password is hashed. A success clears the account's count (not the
    address's: one right password must not buy an address more guesses at other accounts).

    Attempts still running are counted too (a counter per account and per address, raised before argon2 and
    lowered after): otherwise forty guesses sent at once would all pass the check before the first failed."""

    INFLIGHT_KEY = "pengaduan:auth:inflight:{}:{}"
    INFLIGHT_TTL = 120  # seconds: a process that dies mid-attempt gives its slot back by itself

    def __init__(self, limiter: RateLimiter, settings: Settings, client=None) -> None:
        self._limiter = limiter
        self._client = client if client is not None else cache_client(settings)
        self._per_account = parse_limits(settings.rate_limit_signin_account)
        self._per_address = parse_limits(settings.rate_limit_signin_address)

    def before(self, username: str, address: str) -> None:
        """Reserves one attempt for the account and the address, or raises 429 (503 without Redis). Every
        call that returns must be followed by ``failed`` or ``succeeded``."""
        if not self._limiter.enabled:
            return
        account = _account_key(username)
        keys = (self.INFLIGHT_KEY.format("account", account), self.INFLIGHT_KEY.format("address", address))
        try:
            pipe = self._client.pipeline()
            for key in keys:
                pipe.incr(key)
                pipe.expire(key, self.INFLIGHT_TTL)
            running_account, _, running_address, _ = pipe.execute()
            left_account, retry_account = self._limiter.remaining(self._per_account, "signin-account", account)
            left_address, retry_address = self._limiter.remaining(self._per_address, "signin-address", address)
        except Exception:  # Redis away (RateLimitUnavailable, or the client's own ConnectionError)  # noqa: BLE001
            self._release(keys)
            raise ServiceUnavailable from None
        by_account, by_address = running_account <= left_account, running_address <= left_address
        if not (by_account and by_address):
            self._release(keys)
            log.warning("sign-in throttled", extra={"by_account": not by_account, "by_address": not by_address})
            retry = max(retry_account if not by_account else 0, retry_address if not by_address else 0, 1)
            raise TooManyRequests(retry, TOO_MANY_SIGNINS, code="too_many_attempts")

    def failed(self, username: str, address: str) -> None:
        if not self._limiter.enabled:
            return
        account = _account_key(username)
        try:
            self._limiter.count(self._per_account, "signin-account", account)
            self._limiter.count(self._per_address, "signin-address", address)
        except RateLimitUnavailable:
            raise ServiceUnavailable from None
        finally:
            self._release((self.INFLIGHT_KEY.format("account", account), self.INFLIGHT_KEY.format("address", address)))

    def succeeded(self, username: str, address: str) -> None:
        if not self._limiter.enabled:
            return
        account = _account_key(username)
        try:
            self._limiter.clear(self._per_account, "signin-account", account)
        except RateLimitUnavailable:
            log.warning("sign-in counter not cleared: cache unreachable")
        finally:
            self._release((self.INFLIGHT_KEY.format("account", account), self.INFLIGHT_KEY.format("address", address)))

    def abandoned(self, username: str, address: str) -> None:
        """The attempt could not be judged (an error): its slots are given back, nothing is counted."""
        if self._limiter.enabled:
            account = _account_key(username)
            self._release((self.INFLIGHT_KEY.format("account", account), self.INFLIGHT_KEY.format("address", address)))

    def _release(self, keys) -> None:
        try:
            pipe = self._client.pipeline()
            for key in keys:
                pipe.decr(key)
            pipe.execute()
        except Exception:  # the slots expire by themselves  # noqa: BLE001
            log.warning("sign-in slot not released: cache unreachable")


def _account_key(username: str) -> str:
    # a digest: the counter's key must not keep what people typed (sometimes a password) in Redis
    return hashlib.sha256(normalize_username(username or "").encode()).hexdigest()[:32]
