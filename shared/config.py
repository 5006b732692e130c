"""Base settings shared by every process.

Each service builds its settings in its own ``bootstrap``; nothing here is read at import time.
Every field can be set from the environment with the ``PENGADUAN_`` prefix, or from a file named
``pengaduan_<field>`` in ``PENGADUAN_SECRETS_DIR`` (default ``/run/secrets``, where Docker and Kubernetes
mount secrets): ``/run/secrets/pengaduan_secret_key`` sets ``secret_key``; or from such a file in its
``integrations`` folder (``secrets_folders``). The environment wins over a file.

Invariant 11: nothing runs outside development on a default an attacker knows. ``environment`` is one of a
fixed list (a typo such as ``prod`` is refused, never read as development), and outside ``development`` and
``test`` the secret key must be long and random (``check_secret_strength``). A process that builds its
settings refuses to start otherwise, and the message names the setting.
"""

from __future__ import annotations

import math
import os
from collections import Counter
from pathlib import Path
from typing import Literal

from pydantic import Field, model_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SecretsSettingsSource,
    SettingsConfigDict,
)

DEV_SECRET = "dev-only-secret-change-me"
ENVIRONMENTS = ("development", "test", "production")
DEFAULT_SECRETS_DIR = "/run/secrets"
# the optional credentials of the outside systems (SMTP, SMS, WhatsApp, BSrE, the TSA, SP4N-LAPOR!): a folder of
# ``pengaduan_<setting>`` files inside the secrets folder, which a compose deployment mounts whole
# (docker-compose.yml, docs/adr/0033); Kubernetes projects the same files into the secrets folder itself
INTEGRATIONS_SUBDIR = "integrations"
MIN_SECRET_BYTES = 32
MIN_SECRET_BITS = 128
# the brokers shared.celery_app configures (ADR 0006): a typo or another kombu transport is refused at start,
# not found out at the first publish
BROKER_SCHEMES = ("redis://", "rediss://", "redis+socket://", "amqp://", "amqps://", "pyamqp://")
# fragments that betray a made-up secret; a generated one contains none of them by chance (in practice)
WEAK_SECRET_WORDS = ("change", "secret", "password", "dev-only", "example", "pengaduan", "default")


def check_secret_strength(secret: str) -> str | None:
    """Why ``secret`` is not fit to sign tokens outside development, or None when it is.

    "Real randomness" cannot be proven from one string; this refuses what people type instead of
    generating: short values, the development value, words, and strings whose characters repeat (the
    empirical Shannon entropy of the string, bits per character times length, must reach 128 bits: a
    64-character hex string from ``openssl rand -hex 32`` has about 235, ``secrets.token_urlsafe(32)``
    about 230, "aaaa...a" none)."""
    raw = secret.encode()
    if secret == DEV_SECRET:
        return "is the development value"
    if len(raw) < MIN_SECRET_BYTES:
        return f"is {len(raw)} bytes long; at least {MIN_SECRET_BYTES} random bytes are needed"
    lowered = secret.lower()
    if any(word in lowered for word in WEAK_SECRET_WORDS):
        return "contains a word; it must be generated, not typed"
    counts = Counter(secret)
    bits = -sum(c / len(secret) * math.log2(c / len(secret)) for c in counts.values()) * len(secret)
    if bits < MIN_SECRET_BITS:
        return f"looks too regular ({bits:.0f} bits of character entropy, {MIN_SECRET_BITS} needed)"
    if any(
        secret == (secret[:period] * (len(secret) // period + 1))[: len(secret)]
        for period in range(1, len(secret) // 2 + 1)
    ):
        return "repeats itself; it must be generated, not typed"
    steps = sum(1 for x, y in zip(secret, secret[1:]) if abs(ord(y) - ord(x)) == 1)  # noqa: B905, RUF007
    if steps > len(secret) // 3:
        return "runs through the keyboard or the alphabet; it must be generated, not typed"
    return None


def secrets_folders() -> list[Path]:
    """The folders whose ``pengaduan_<setting>`` files set settings, those that exist, the one that wins last:
    ``PENGADUAN_SECRETS_DIR`` (default /run/secrets) and its ``integrations`` folder, where a file of the same
    name as one in the secrets folder itself loses (an integration's credentials never replace the database's)."""
    folder = Path(os.environ.get("PENGADUAN_SECRETS_DIR", DEFAULT_SECRETS_DIR))
    return [f for f in (folder / INTEGRATIONS_SUBDIR, folder) if f.is_dir()]


class Settings(BaseSettings):
    # hide_input_in_errors: a refused setting's message never carries the values (the secret among them)
    model_config = SettingsConfigDict(env_prefix="PENGADUAN_", extra="ignore", hide_input_in_errors=True)

    environment: Literal["development", "test", "production"] = Field(
        "development",
        description="development | test | production, exactly (a process refuses any other value: `prod` or "
        "`Production` never fall back to development)",
    )
    database_url: str = Field(
        "postgresql+psycopg://postgres@127.0.0.1:5432/pengaduan",
        description="SQLAlchemy URL of PostgreSQL (psycopg 3 driver)",
    )
    redis_url: str = Field(
        "redis://127.0.0.1:6379/0",
        description="Redis: the Celery broker unless PENGADUAN_BROKER_URL is set, and the cache (rate limits, "
        "revoked tokens) unless PENGADUAN_CACHE_URL is set",
    )
    broker_url: str | None = Field(
        None,
        description="Celery broker: redis://... or amqp://user:password@host:5672/vhost for RabbitMQ (quorum "
        "queues, publisher confirms; ADR 0006); default: PENGADUAN_REDIS_URL",
    )
    secret_key: str = Field(
        DEV_SECRET,
        description="Signs tokens and sessions. Outside development and test at least 32 random bytes, e.g. "
        "`python -c 'import secrets; print(secrets.token_urlsafe(48))'`; a process refuses to start otherwise",
    )
    privacy_keys: str | None = Field(
        None,
        description="The key-encryption keys that wrap each complaint's data key (docs/adr/0017), as JSON "
        '{"current": "<id>", "keys": {"<id>": "<base64 of 32 bytes>"}} (`pengaduan privacy new-key`); a secret, '
        "e.g. the file /run/secrets/pengaduan_privacy_keys. Required in production (this or "
        "PENGADUAN_PRIVACY_KEYS_FILE); elsewhere derived from PENGADUAN_SECRET_KEY",
    )
    privacy_keys_file: str | None = Field(
        None, description="A file holding PENGADUAN_PRIVACY_KEYS' JSON, instead of the value itself"
    )
    db_pool_size: int = Field(10, description="Connections kept per process")
    db_max_overflow: int = Field(10, description="Extra connections a process may open under load")
    broker_visibility_timeout: int = Field(
        45,
        description="Seconds before an unacknowledged message is redelivered (Redis): a killed worker's task "
        "runs again within this plus at most 5 s. Every task's hard time limit is 80% of it (soft limit 60%), "
        "so no running task outlives it; raise it only if a task needs longer (an SMTP relay slower than that)",
    )
    relay_poll_interval: float = Field(1.0, description="Seconds between relay polls when no NOTIFY arrives")
    relay_gather_seconds: float = Field(
        0.02,
        description="After a round that handed something on, the relay and intake's outbox publisher wait this "
        "long before the next: under load one round carries the events of that moment instead of one round each; "
        "an event after a quiet spell goes at once (0: a round per wake-up)",
        ge=0,
        le=1,
    )
    projection_gather_seconds: float = Field(
        0.25,
        description="The same for the projections (the dashboard's, intake's tracking page, the LAPOR! follower): "
        "what they show may be this much later under load, and a round carries a moment's events, not one each",
        ge=0,
        le=5,
    )
    relay_batch_size: int = Field(500, description="Events or outbox rows the relay handles per round")
    reconcile_grace_seconds: float = Field(
        30.0,
        description="A message handed to the broker and not consumed this many seconds later (not in its "
        "consumer's inbox; for a complaint, not yet in the workflow) is published again by the scheduler; "
        "a hand-off still missing is looked at again after twice as long, up to 10 minutes",
    )
    reconcile_interval_seconds: float = Field(10.0, description="Seconds between the scheduler's reconciler rounds")
    public_base_url: str = Field("http://127.0.0.1:8000", description="Base URL citizens see in links")
    max_body_bytes: int = Field(64 * 1024, description="Largest JSON body the intake API accepts")
    data_dir: str = Field(".data", description="Where local state lives by default (documents, development CA)")
    document_store_url: str | None = Field(
        None, description="file:///path or s3://bucket?endpoint=...; default: file://<data_dir>/documents"
    )
    signing_dir: str | None = Field(
        None,
        description="Per-kecamatan signing keys: <slug>.key, <slug>.crt and ca.crt. Outside production a "
        "development CA creates missing ones; default <data_dir>/signing",
    )

    # --- who may ask how often (shared.ratelimit), and who is asking (shared.auth) -------------------------
    cache_url: str | None = Field(
        None,
        description="Redis for rate-limit counters and revoked tokens, shared by every replica; default: "
        "PENGADUAN_REDIS_URL (must be set when the broker is RabbitMQ)",
    )
    trusted_proxies: str = Field(
        "127.0.0.1,::1",
        description="Addresses or networks (comma-separated) whose X-Forwarded-For is believed; the client "
        "address is the right-most one not in this list. Anything else is the client itself",
    )
    rate_limit_enabled: bool = Field(True, description="Application rate limits on (PENGADUAN_RATE_LIMIT_*)")
    rate_limit_submissions: str = Field(
        "10/minute;60/hour",
        description="Anonymous complaint submissions (JSON, form, Open311 POST) per client address",
    )
    rate_limit_tracking: str = Field(
        "60/minute;600/hour",
        description="Tracking pages and the citizen's documents by tracking code, per client address",
    )
    rate_limit_feedback: str = Field(
        "10/minute;60/hour",
        description="Complainants' answers after the response (POST /v1/track/{code}/feedback), per client address",
    )
    rate_limit_signin_account: str = Field(
        "5/15minutes", description="Failed sign-ins per account before 429 (then until the window passes)"
    )
    rate_limit_signin_address: str = Field("20/15minutes", description="Failed sign-ins per client address before 429")
    rate_limit_acknowledgments_per_recipient: str = Field(
        "3/hour;10/day",
        description="Messages a complaint's submission sends to one phone number or e-mail address (the "
        "acknowledgment); beyond it no message goes out: a form must not become a free SMS cannon",
    )
    password_min_length: int = Field(12, description="Shortest password accepted for a new or changed password")
    auth_user_cache_seconds: float = Field(
        5.0,
        description="How long a process trusts what it read of a user (active, role, kecamatan) before reading "
        "again; a change made through this system is seen by every replica at once regardless (shared.auth)",
    )

    @property
    def effective_cache_url(self) -> str:
        return self.cache_url or self.redis_url

    @property
    def effective_broker_url(self) -> str:
        return self.broker_url or self.redis_url

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        # The secrets folder is chosen when the settings are built (not at import time) and only used when
        # it exists, so a machine without /run/secrets gets no warning.
        sources: tuple[PydanticBaseSettingsSource, ...] = (init_settings, env_settings, dotenv_settings)
        folders = secrets_folders()
        if folders:
            sources += (SecretsSettingsSource(settings_cls, secrets_dir=folders),)
        return sources

    @model_validator(mode="after")
    def _no_known_secret_outside_development(self) -> Settings:
        if not self.effective_broker_url.startswith(BROKER_SCHEMES):
            raise ValueError(
                "PENGADUAN_BROKER_URL (default PENGADUAN_REDIS_URL) must name Redis (redis://, rediss://, "
                "redis+socket://) or RabbitMQ (amqp://, amqps://)"
            )
        if not self.effective_cache_url.startswith(("redis://", "rediss://", "unix://", "memory://")):
            raise ValueError(
                "PENGADUAN_CACHE_URL must name a Redis server (redis://...) when PENGADUAN_REDIS_URL is not Redis"
            )
        if self.environment not in ("development", "test") and self.effective_cache_url.startswith("memory://"):
            raise ValueError("PENGADUAN_CACHE_URL=memory:// keeps counters per process: not outside development")
        if self.environment not in ("development", "test"):
            problem = check_secret_strength(self.secret_key)
            if problem is not None:
                raise ValueError(
                    f"PENGADUAN_SECRET_KEY {problem} (PENGADUAN_ENVIRONMENT={self.environment}). Generate one with "
                    "python -c 'import secrets; print(secrets.token_urlsafe(48))'"
                )
        if self.environment == "production" and not (self.privacy_keys or self.privacy_keys_file):
            raise ValueError(
                "PENGADUAN_PRIVACY_KEYS (or PENGADUAN_PRIVACY_KEYS_FILE) must hold the key-encryption keys in "
                "production: `pengaduan privacy new-key`, kept apart from the database and its backups"
            )
        return self

    @property
    def task_time_limit(self) -> int:
        """Hard limit per task, kept below the visibility timeout (invariant: no task outlives it)."""
        return max(1, int(self.broker_visibility_timeout * 0.8))
