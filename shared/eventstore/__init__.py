"""The append-only event store: a port with a PostgreSQL and an in-memory implementation."""

from shared.eventstore.port import ConcurrencyError, DuplicateEventError, EventStore

__all__ = ["ConcurrencyError", "DuplicateEventError", "EventStore"]
