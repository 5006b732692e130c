"""Builds accounts' settings and adapters: for the API process that serves its sign-in router (the composition
root hands it that process's engine: ``pengaduan/apps.py``) and for ``pengaduan users``. Called when a process
asks, never at import."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

from sqlalchemy import Engine

from services.accounts.adapters.sessions import UserChanges
from services.accounts.adapters.throttle import SignInThrottle
from services.accounts.config import AccountsSettings
from shared.auth import cache_client
from shared.config import Settings
from shared.db import make_engine
from shared.ratelimit import limiter_for
from shared.tenancy import KecamatanDirectory


@dataclass
class Accounts:
    """What the sign-in router and the commands use (``request.app.state.accounts`` in the hosting API)."""

    settings: AccountsSettings
    engine: Engine

    @cached_property
    def throttle(self) -> SignInThrottle:
        """Failed sign-ins per account and per address; made at the first sign-in, not with the app."""
        return SignInThrottle(limiter_for(self.settings), self.settings)

    @cached_property
    def directory(self) -> KecamatanDirectory:
        """The kecamatan served here: who may read which, and each one's time zone (what "today" is)."""
        return KecamatanDirectory(self.engine)

    @cached_property
    def changes(self) -> UserChanges:
        """Sign-outs and users' changes, told to every replica's token guard."""
        return UserChanges(cache_client(self.settings))


def bootstrap(settings: Settings | None = None, *, engine: Engine | None = None) -> Accounts:
    """``settings``: accounts', or base ones taken as its (the hosting API's); default: from the environment.
    ``engine``: the hosting process's, else one of its own."""
    settings = AccountsSettings.from_base(settings) if settings is not None else AccountsSettings()
    return Accounts(settings=settings, engine=engine or make_engine(settings))
