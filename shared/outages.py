"""Which failures mean a dependency (PostgreSQL, the broker, Redis) is out of reach, not a bug.

The APIs answer them 503 ``service_unavailable`` with ``Retry-After`` (``shared.http``); the subscription
runners retry them within seconds (``shared.subscriptions``). Anything else (a ``ProgrammingError``, an
``IntegrityError``, a ``KeyError``) is a bug: a 500, logged with its traceback.
"""

from __future__ import annotations

import socket

import psycopg
from amqp.exceptions import ConnectionError as AmqpConnectionError
from amqp.exceptions import MessageNacked
from kombu.exceptions import OperationalError as KombuOperationalError
from redis.exceptions import ConnectionError as RedisConnectionError
from redis.exceptions import TimeoutError as RedisTimeoutError
from sqlalchemy import exc as sa_exc

# PostgreSQL: unreachable, restarting, out of connections, a statement or lock timed out (DB-API's
# OperationalError: "not necessarily under the control of the programmer"); the pool had no connection to
# give; the broker or Redis unreachable; a socket refused, reset or timed out. RabbitMQ (py-amqp): the
# connection closed or forced closed (a node stopping, a missed heartbeat), and a publish the broker did not
# confirm (nack: a quorum queue without its majority, or over its length limit) -- the message is not taken,
# so the caller must keep it and try again, as for any unreachable broker
UNREACHABLE = (
    sa_exc.OperationalError,
    sa_exc.TimeoutError,
    psycopg.OperationalError,
    KombuOperationalError,
    RedisConnectionError,
    RedisTimeoutError,
    AmqpConnectionError,  # and its RecoverableConnectionError, ConnectionForced
    MessageNacked,
    ConnectionError,
    socket.timeout,
)


def unreachable(exc: BaseException) -> bool:
    """True when ``exc``, or what it was raised from (``raise ... from``), says a dependency is out of reach:
    an error above, or any database error SQLAlchemy took for a lost connection. An error raised while
    handling an outage (``__context__`` only) is a bug of its own and is not excused."""
    seen: set[int] = set()
    current: BaseException | None = exc
    while current is not None and id(current) not in seen:
        seen.add(id(current))
        if isinstance(current, UNREACHABLE):
            return True
        if isinstance(current, sa_exc.DBAPIError) and current.connection_invalidated:
            return True
        if isinstance(current, BaseExceptionGroup):
            return all(unreachable(e) for e in current.exceptions)
        current = current.__cause__
    return False


def describe(exc: BaseException) -> str:
    """A short line for the log: the exception's kind and the first line of its driver's message (connection
    errors name a host and port, never a value of a query: the engines hide parameters)."""
    root = getattr(exc, "orig", None) or exc.__cause__ or exc
    first_line = str(root).strip().splitlines()[0][:200] if str(root).strip() else ""
    return f"{type(exc).__name__} ({type(root).__module__}.{type(root).__name__}): {first_line}"
