"""Sessions' news for every replica's token guard: a user changed, a token signed out. Accounts writes the keys
``shared.auth.TokenGuard`` reads on every request (their names and lifetimes are the guard's, in
``shared/auth.py``); no other service writes them."""

from __future__ import annotations

import uuid
from datetime import datetime

from shared.auth import CHANGED_KEY, CHANGED_KEY_TTL, CLOCK_SKEW, REVOKED_KEY, TokenInfo


class UserChanges:
    """Tells every replica that a user changed (deactivated, new password, moved), so their cached reads of
    the user are dropped at once. The truth stays in accounts' table (the staff directory); this is only the
    news. The handlers call ``changed``; the sign-out route ``revoke``."""

    def __init__(self, client) -> None:
        self._client = client

    def changed(self, username: str) -> None:
        self._client.set(CHANGED_KEY.format(username), uuid.uuid4().hex, ex=CHANGED_KEY_TTL)

    def revoke(self, info: TokenInfo, now: datetime) -> None:
        """Signs one token out: its id is refused until the token would have expired anyway."""
        ttl = max(1, info.expires_at - int(now.timestamp()) + int(CLOCK_SKEW.total_seconds()))
        self._client.set(REVOKED_KEY.format(info.token_id), "1", ex=ttl)
