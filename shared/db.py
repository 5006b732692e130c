"""Engine and unit-of-work helpers (SQLAlchemy 2, psycopg 3)."""
from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager

from sqlalchemy import Engine, create_engine
from sqlalchemy.engine import Connection

from shared.config import Settings


def make_engine(settings: Settings, *, pool_size: int | None = None) -> Engine:
    return create_engine(
        settings.database_url,
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=True,
        pool_recycle=1800,
    )


@contextmanager
def transaction(engine: Engine) -> Iterator[Connection]:
    """One unit of work: a connection in a transaction, committed on success, rolled back on error."""
    with engine.begin() as conn:
        yield conn


def libpq_url(sqlalchemy_url: str) -> str:
    """The same URL for plain psycopg (LISTEN connections, tests)."""
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)
