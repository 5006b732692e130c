"""Engine and unit-of-work helpers (SQLAlchemy 2, psycopg 3).

No statement outlives the code that sent it. A client that gives up on a statement must tell the server,
or the statement goes on waiting there (a Celery task cut off by its time limit while its append waits on
the append lock of the time (docs/adr/0002) left its backend waiting, holding its inbox row, after the message was
handed back):

- a statement interrupted by an exception (Celery's soft time limit raises ``SoftTimeLimitExceeded`` from a
  signal handler, wherever the task is) is cancelled on the server before the exception goes on, as psycopg
  itself does for Ctrl-C; the transaction then rolls back as usual, so the message is handed back with no
  effect and the inbox keeps its retry single;
- a client that died (the hard time limit kills the pool child) is noticed by the server within
  ``CLIENT_CHECK_INTERVAL`` while a statement runs (``client_connection_check_interval``, PostgreSQL 14+, on
  Linux, macOS and the BSDs), which ends the statement and the session;
- a worker's statements are bounded on the server by ``statement_timeout`` below the task's soft limit
  (``worker_statement_timeout``), so even a client that can no longer reach the server leaves nothing
  running past its task.
"""

from __future__ import annotations

import logging
import select
import time
import weakref
from types import TracebackType
from typing import Any, Self

import orjson
import psycopg
from psycopg import pq
from sqlalchemy import Connection, Engine, RootTransaction, create_engine, event
from sqlalchemy import exc as sa_exc

from shared.config import Settings

log = logging.getLogger(__name__)

CLIENT_CHECK_INTERVAL = "1s"  # one poll() of the socket per second of a running statement: nothing to notice
CANCEL_WAIT_SECONDS = 5.0  # how long a cancelled statement may take to end before the connection is closed
# a worker's statement may run at most this fraction of the task's hard time limit: well under its soft limit
# (75 % of the hard limit, shared/celery_app.py), so that a statement waiting out its timeout, and the retries
# of shared/tasks.consume (which start within half the soft limit), end before the soft limit strikes
# (tests/unit/test_db_timeouts.py checks it)
WORKER_STATEMENT_SHARE = 0.3
# a pooled connection idle longer than this is pinged before use even when its socket is quiet (a firewall or NAT
# that dropped an idle connection says nothing); one used more recently is pinged only when its socket has
# something to say (``PoolChecks``)
PING_AFTER_IDLE_SECONDS = 10.0


class CancellingConnection(psycopg.Connection):
    """A psycopg connection that cancels its statement in flight when any exception interrupts the wait.

    psycopg does it for ``KeyboardInterrupt`` and ``SystemExit`` only: any other exception raised by a signal
    handler while the statement runs (``SoftTimeLimitExceeded``) left the statement running on the server and
    the connection unusable ("another command is already in progress"): the rollback failed, its error
    replaced the time limit's, and the pool closed the connection without a word to the backend, which
    kept waiting. Errors from the server (``psycopg.Error``) are the statement's own end and pass as they are.
    """

    def wait(self, gen: Any, *args: Any, **kwargs: Any) -> Any:
        try:
            return super().wait(gen, *args, **kwargs)
        except psycopg.Error:
            raise
        except Exception:
            if self.info.transaction_status == pq.TransactionStatus.ACTIVE:
                self._cancel_in_flight(gen)
            raise

    def _cancel_in_flight(self, gen: Any) -> None:
        """Cancel the statement and read it to its end (``QueryCanceled``), so the transaction can roll back."""
        try:
            self.cancel_safe(timeout=CANCEL_WAIT_SECONDS)
            super().wait(gen, timeout=CANCEL_WAIT_SECONDS)
        except psycopg.errors.QueryCanceled:
            pass  # as asked: the transaction is aborted, the caller's rollback ends it
        except BaseException as exc:  # the server did not answer in time, or a second interruption
            # the connection is in an unknown state: closing it ends the backend (client_connection_check_interval)
            log.warning("statement cancel failed (%s): connection closed", type(exc).__name__)
            self.close()
            if not isinstance(exc, Exception):
                raise


def worker_statement_timeout(settings: Settings) -> float:
    """Seconds a Celery worker's statement may run (a lock wait included): derived from the task's time limit,
    so the two cannot disagree."""
    return settings.task_time_limit * WORKER_STATEMENT_SHARE


def make_engine(
    settings: Settings,
    *,
    pool_size: int | None = None,
    statement_timeout: float | None = None,
    application_name: str = "pengaduan",
) -> Engine:
    """The process's engine. ``statement_timeout`` (seconds) bounds every statement on the server (workers:
    ``make_worker_engine``); ``application_name`` is what ``pg_stat_activity`` shows for its sessions."""
    options = (
        # no statement waits forever on a lock, and no session sits in a transaction holding one
        "-c lock_timeout=30s -c idle_in_transaction_session_timeout=60s"
        # a statement whose client died ends within a second (see the module's docstring)
        f" -c client_connection_check_interval={CLIENT_CHECK_INTERVAL}"
    )
    if statement_timeout is not None:
        options += f" -c statement_timeout={max(1, round(statement_timeout * 1000))}ms"
    engine = create_engine(
        settings.database_url,
        pool_size=pool_size or settings.db_pool_size,
        max_overflow=settings.db_max_overflow,
        pool_pre_ping=False,  # PoolChecks: a ping only where a connection may be broken, not on every checkout
        pool_recycle=1800,
        hide_parameters=True,  # errors must not carry personal data into logs
        # JSON/JSONB columns read with orjson (about 3x the stdlib's speed: a projection rebuild decodes two
        # JSONB values per event); written with the stdlib as before (its output is what tests and
        # consumers have always seen)
        json_deserializer=orjson.loads,
        connect_args={
            "connect_timeout": 5,
            "keepalives": 1,
            "keepalives_idle": 30,
            "keepalives_interval": 10,
            "keepalives_count": 3,
            "application_name": application_name,
            "options": options,
        },
    )

    @event.listens_for(engine, "do_connect")
    def _connect(dialect: Any, conn_rec: Any, cargs: Any, cparams: dict[str, Any]) -> psycopg.Connection:
        return CancellingConnection.connect(*cargs, **cparams)

    PoolChecks(engine)
    return engine


class PoolChecks:
    """A pooled connection is checked before use where it may be broken, not on every checkout.

    ``pool_pre_ping`` sends a ``SELECT 1`` at every checkout: a round trip, and a statement for the server, for
    each unit of work (one complaint's acknowledgment took about fifteen). A connection the server ended (a
    restart, a failover, ``pg_terminate_backend``, ``idle_session_timeout``) has its socket readable: the server
    sent its FATAL message and closed it, or the kernel closed it when the backend died. So the ping is sent only
    when the socket of the idle connection is readable, or when it sat in the pool longer than
    ``PING_AFTER_IDLE_SECONDS`` (a connection dropped silently on the way says nothing). A failed ping raises
    ``DisconnectionError``: the pool discards the connection and takes a new one, as with ``pool_pre_ping``, so
    the first request after the database's return is still served (tests/integration/test_outage_503.py)."""

    _registry: weakref.WeakKeyDictionary[Engine, PoolChecks] = weakref.WeakKeyDictionary()

    def __init__(self, engine: Engine) -> None:
        self.dialect = engine.dialect
        self.pings = 0  # how many checkouts pinged (tests, diagnostics)
        self.discarded = 0  # how many connections a ping found broken
        event.listen(engine, "connect", self._used)
        event.listen(engine, "checkin", self._used)
        event.listen(engine, "checkout", self._checkout)
        PoolChecks._registry[engine] = self

    @classmethod
    def of(cls, engine: Engine) -> PoolChecks:
        return cls._registry[engine]

    @staticmethod
    def _used(dbapi_connection: Any, record: Any, *_: Any) -> None:
        record.info["pengaduan_used_at"] = time.monotonic()

    def _checkout(self, dbapi_connection: Any, record: Any, _proxy: Any) -> None:
        idle = time.monotonic() - record.info.get("pengaduan_used_at", float("-inf"))
        if idle <= PING_AFTER_IDLE_SECONDS and not _readable(dbapi_connection):
            return
        self.pings += 1
        try:
            alive = self.dialect.do_ping(dbapi_connection)
        except Exception as error:  # noqa: BLE001  # broken in any way: the pool takes a new connection
            alive, why = False, type(error).__name__
        else:
            why = "ping refused"
        if not alive:
            self.discarded += 1
            log.info("pooled connection found broken before use (%s): replaced", why)
            raise sa_exc.DisconnectionError(why)
        record.info["pengaduan_used_at"] = time.monotonic()


def _readable(dbapi_connection: Any) -> bool:
    """The idle connection's socket has data or its end: the server said something (or closed it)."""
    if dbapi_connection.closed:
        return True
    try:
        fd = dbapi_connection.fileno()
    except Exception:  # noqa: BLE001
        return True
    poller = select.poll()
    poller.register(fd, select.POLLIN | select.POLLERR | select.POLLHUP)
    return bool(poller.poll(0))


def make_worker_engine(settings: Settings, kind: str, *, pool_size: int | None = None) -> Engine:
    """The engine of a Celery worker of ``kind``: its statements end before its tasks' soft time limit."""
    return make_engine(
        settings,
        pool_size=pool_size,
        statement_timeout=worker_statement_timeout(settings),
        application_name=f"pengaduan worker {kind}",
    )


def libpq_url(sqlalchemy_url: str) -> str:
    """The same URL for plain psycopg (LISTEN connections, tests)."""
    return sqlalchemy_url.replace("postgresql+psycopg://", "postgresql://", 1)


class UnitOfWorkTransaction:
    """What every service's PostgreSQL unit of work does with its connection: one connection and one
    transaction from ``with`` to its end, rolled back unless ``commit()`` was called, the connection returned to
    the pool either way. A subclass builds its repositories on the connection in ``_open(conn)``."""

    def __init__(self, engine: Engine) -> None:
        self._engine = engine

    def __enter__(self) -> Self:
        self._conn = self._engine.connect()
        try:
            self._tx: RootTransaction = self._conn.begin()
            self._open(self._conn)
        except BaseException:
            self._conn.close()
            raise
        return self

    def _open(self, conn: Connection) -> None:
        """Build the repositories on ``conn`` (the subclass's)."""

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None, tb: TracebackType | None) -> None:
        try:
            if self._tx.is_active:
                self._tx.rollback()
        finally:
            self._conn.close()

    def commit(self) -> None:
        self._tx.commit()

    def rollback(self) -> None:
        self._tx.rollback()
