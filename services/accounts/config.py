from datetime import timedelta

from shared.auth import DEFAULT_TTL
from shared.config import Settings


class AccountsSettings(Settings):
    """Accounts' settings: the base ones it reads.

    - ``database_url`` (its table ``tenancy.users``) and ``secret_key`` (signs the tokens it issues; every API
      checks them with it, ``shared.auth``);
    - ``password_min_length``: the shortest new or changed password (accounts' only);
    - ``rate_limit_signin_account`` and ``rate_limit_signin_address`` (accounts' only), under
      ``rate_limit_enabled``: failed sign-ins before 429 (``adapters/throttle.py``), counted in the cache
      (``cache_url``, else ``redis_url``), where sign-outs and users' changes are told to every replica too
      (``adapters/sessions.py``).

    Those marked accounts' only are still declared on the base class, beside the other rate limits: the test
    suite sets them on base settings (tests/conftest.py, tests/support/processes.py), and moving them here is a
    change there too. ``auth_user_cache_seconds`` is not accounts': every API's token guard reads it."""

    @property
    def token_ttl(self) -> timedelta:
        """How long a token it issues lives: ``shared.auth.DEFAULT_TTL``, which the token guard's bookkeeping
        counts on (a user's change marker outlives every token issued before the change)."""
        return DEFAULT_TTL

    @classmethod
    def from_base(cls, settings: Settings) -> "AccountsSettings":
        """``settings`` as accounts' (the hosting API's, a test's): the same values, checked again, no
        environment read."""
        return settings if isinstance(settings, cls) else cls.model_validate(settings.model_dump())
