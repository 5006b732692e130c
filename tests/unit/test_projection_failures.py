"""Which errors set an event aside (shared/projection_failures.py): the classifier on the exceptions SQLAlchemy
and psycopg raise, and what is kept of them (no personal data)."""

from __future__ import annotations

import psycopg
import pytest
from psycopg import errors as pg
from pydantic import ValidationError
from sqlalchemy import exc as sa

from shared.contracts.workflow import MarkedDuplicate
from shared.projection_failures import describe, transient

NIK = "3528071505900001"


def wrapped(cls: type[sa.DBAPIError], orig: Exception, **kw) -> sa.DBAPIError:
    """As SQLAlchemy raises a driver's error: the statement, its (hidden) parameters, the driver's exception."""
    return cls("INSERT INTO dashboard.complaints ...", {}, orig, **kw)


def decode_error() -> ValidationError:
    with pytest.raises(ValidationError) as caught:
        MarkedDuplicate.model_validate({"step": 2, "reason": f"NIK {NIK}", "duplicate_of": [NIK]})
    return caught.value


@pytest.mark.parametrize(
    "exc",
    [
        wrapped(sa.OperationalError, pg.SerializationFailure("could not serialize access")),  # 40001
        wrapped(sa.OperationalError, pg.DeadlockDetected("deadlock detected")),  # 40P01
        wrapped(sa.OperationalError, pg.LockNotAvailable("canceling statement due to lock timeout")),  # 55P03
        wrapped(sa.OperationalError, pg.QueryCanceled("canceling statement due to statement timeout")),  # 57014
        wrapped(sa.OperationalError, pg.AdminShutdown("terminating connection due to administrator command")),
        wrapped(sa.OperationalError, psycopg.OperationalError("server closed the connection unexpectedly")),
        wrapped(sa.DBAPIError, psycopg.DatabaseError("SSL SYSCALL error: EOF detected"), connection_invalidated=True),
        wrapped(sa.InterfaceError, psycopg.InterfaceError("the connection is closed")),
        wrapped(sa.InternalError, pg.InFailedSqlTransaction("current transaction is aborted")),
        wrapped(sa.InternalError, pg.IdleInTransactionSessionTimeout("idle-in-transaction timeout")),
        wrapped(sa.ProgrammingError, pg.UndefinedColumn('column "referral_state" does not exist')),
        sa.TimeoutError("QueuePool limit of size 2 overflow 0 reached"),
        sa.PendingRollbackError("Can't reconnect until invalid transaction is rolled back"),
        psycopg.OperationalError("connection refused"),
        ConnectionResetError(104, "Connection reset by peer"),
        MemoryError(),
    ],
    ids=lambda e: type(getattr(e, "orig", None) or e).__name__,
)
def test_errors_of_the_connection_the_server_or_the_schema_set_nothing_aside(exc):
    assert transient(exc)


def test_an_error_raised_from_or_while_handling_a_transient_one_sets_nothing_aside():
    lost = wrapped(sa.OperationalError, pg.AdminShutdown("terminating connection"))

    def adapter() -> None:
        raise ValueError("the adapter's own error") from lost

    def handler() -> None:
        try:
            raise lost
        except sa.OperationalError:
            raise KeyError("raised while handling it") from None  # no __cause__; __context__ kept

    with pytest.raises(ValueError) as raised_from:
        adapter()
    with pytest.raises(KeyError) as raised_while:
        handler()
    assert transient(raised_from.value)
    assert raised_while.value.__context__ is lost and transient(raised_while.value)


@pytest.mark.parametrize(
    "exc",
    [
        decode_error(),  # a payload that does not decode
        KeyError(("workflow.MarkedDuplicate", 0)),  # an old schema version without its upcaster
        ValueError("a bug meets an odd event"),
        TypeError("unsupported operand type(s) for -: 'NoneType' and 'datetime'"),
        AssertionError(),
        wrapped(sa.IntegrityError, pg.UniqueViolation("duplicate key value violates unique constraint")),  # 23505
        wrapped(sa.IntegrityError, pg.NotNullViolation("null value in column")),  # 23502
        wrapped(sa.DataError, pg.NumericValueOutOfRange("smallint out of range")),  # 22003
        wrapped(sa.DataError, pg.InvalidTextRepresentation("invalid input syntax for type uuid")),  # 22P02
    ],
    ids=lambda e: type(getattr(e, "orig", None) or e).__name__,
)
def test_errors_an_events_data_can_cause_set_it_aside(exc):
    assert not transient(exc)


def test_what_is_kept_of_an_error_names_fields_and_kinds_never_values():
    error_class, message = describe(decode_error())
    assert error_class == "ValidationError" and "duplicate_of" in message and NIK not in message
    error_class, message = describe(
        wrapped(sa.IntegrityError, pg.UniqueViolation(f"Key (complainant_nik)=({NIK}) already exists."))
    )
    assert (error_class, message) == ("IntegrityError", "IntegrityError: UniqueViolation")
    assert len(describe(ValueError("x" * 5000))[1]) <= 500
