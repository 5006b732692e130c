"""Base settings shared by every process.

Each service builds its settings in its own ``bootstrap``; nothing here is read at import time.
Every field can be set from the environment with the ``PENGADUAN_`` prefix.
"""
from __future__ import annotations

from pydantic import Field, model_validator
from pydantic_settings import BaseSettings, SettingsConfigDict

DEV_SECRET = "dev-only-secret-change-me"


class Settings(BaseSettings):
    model_config = SettingsConfigDict(env_prefix="PENGADUAN_", extra="ignore")

    environment: str = Field("development", description="development | test | production")
    database_url: str = Field(
        "postgresql+psycopg://postgres@127.0.0.1:5432/pengaduan",
        description="SQLAlchemy URL of PostgreSQL (psycopg 3 driver)",
    )
    redis_url: str = Field("redis://127.0.0.1:6379/0", description="Celery broker URL (Redis, or amqp:// for RabbitMQ)")
    secret_key: str = Field(DEV_SECRET, description="Signs tokens; must be set outside development")
    db_pool_size: int = Field(10, description="Connections kept per process")
    db_max_overflow: int = Field(10, description="Extra connections a process may open under load")
    broker_visibility_timeout: int = Field(
        300,
        description="Seconds before an unacknowledged message is redelivered (Redis). "
        "Every task's hard time limit stays below it, so no task outlives it.",
    )
    relay_poll_interval: float = Field(1.0, description="Seconds between relay polls when no NOTIFY arrives")
    relay_batch_size: int = Field(500, description="Events or outbox rows the relay handles per round")
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

    @model_validator(mode="after")
    def _no_default_secret_in_production(self) -> "Settings":
        if self.environment == "production" and self.secret_key == DEV_SECRET:
            raise ValueError("PENGADUAN_SECRET_KEY must be set in production")
        return self

    @property
    def task_time_limit(self) -> int:
        """Hard limit per task, kept below the visibility timeout (invariant: no task outlives it)."""
        return max(1, int(self.broker_visibility_timeout * 0.8))
