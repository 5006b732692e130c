"""The event envelope, the event type registry and upcasting.

An event is a frozen pydantic model with a stable type name (``"workflow.ComplaintReceived"``, never a
Python import path) and a ``schema_version``. The envelope carries what every event has: ids, stream and
version, kecamatan, times, actor, correlation and causation. Old payloads are upcast on read by small pure
functions registered per (type, from_version).
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import Any, ClassVar, Literal
from uuid import UUID

from pydantic import BaseModel, ConfigDict


class Frozen(BaseModel):
    """Commands and values: immutable, and strict about unknown fields."""

    model_config = ConfigDict(frozen=True, extra="forbid")


class Contract(BaseModel):
    """Events and messages other code reads later or elsewhere: immutable, and tolerant of fields a newer
    writer added (a reader on the previous release ignores them during a rolling deploy)."""

    model_config = ConfigDict(frozen=True, extra="ignore")


class Actor(Frozen):
    """Who caused an event: a staff user in a role, a complainant, or the system itself."""

    kind: Literal["user", "complainant", "system"]
    user_id: str | None = None
    role: str | None = None  # the user's own role
    # a user acting for another official (a Plh./Plt., docs/adr/0014): the role acted for, "plh" or "plt", and
    # the delegation that allowed it; absent when a user acts in their own role
    acting_for: str | None = None
    acting_kind: str | None = None
    delegation_id: UUID | None = None

    @classmethod
    def system(cls, name: str) -> Actor:
        return cls(kind="system", user_id=name)


class Event(Contract):
    """Base of every domain event's payload. Subclasses set ``type`` and ``schema_version``."""

    type: ClassVar[str]
    schema_version: ClassVar[int] = 1
    # the fields holding a complainant's personal data: the event store seals them under the complaint's data key
    # (shared/privacy.py, docs/adr/0017) and, once that key is erased, reads them as ERASED gives them
    PERSONAL: ClassVar[tuple[str, ...]] = ()
    ERASED: ClassVar[dict[str, Any]] = {}


class EventEnvelope(Frozen):
    event_id: UUID
    stream_id: str
    version: int
    kecamatan: str
    type: str
    schema_version: int
    occurred_at: datetime
    actor: Actor
    correlation_id: UUID
    causation_id: UUID | None = None
    payload: dict[str, Any]
    position: int | None = None  # set by the store: global, commit-ordered
    recorded_at: datetime | None = None  # set by the store

    def decode(self) -> Event:
        return registry.decode(self.type, self.schema_version, self.payload)


Upcaster = Callable[[dict[str, Any]], dict[str, Any]]


class EventRegistry:
    def __init__(self) -> None:
        self._types: dict[str, type[Event]] = {}
        self._upcasters: dict[tuple[str, int], Upcaster] = {}

    def register(self, cls: type[Event]) -> type[Event]:
        existing = self._types.get(cls.type)
        if existing is not None and existing is not cls:
            raise ValueError(f"event type {cls.type!r} registered twice")
        self._types[cls.type] = cls
        return cls

    def upcaster(self, type_name: str, from_version: int) -> Callable[[Upcaster], Upcaster]:
        """Register a pure function turning a payload of ``from_version`` into ``from_version + 1``."""

        def wrap(fn: Upcaster) -> Upcaster:
            self._upcasters[(type_name, from_version)] = fn
            return fn

        return wrap

    def cls_of(self, type_name: str) -> type[Event] | None:
        return self._types.get(type_name)

    def decode(self, type_name: str, schema_version: int, payload: dict[str, Any]) -> Event:
        cls = self._types.get(type_name)
        if cls is None:
            raise KeyError(f"unknown event type {type_name!r}")
        version = schema_version
        while version < cls.schema_version:
            payload = self._upcasters[(type_name, version)](payload)
            version += 1
        return cls.model_validate(payload)


registry = EventRegistry()


def envelope(
    event: Event,
    *,
    event_id: UUID,
    stream_id: str,
    version: int,
    kecamatan: str,
    occurred_at: datetime,
    actor: Actor,
    correlation_id: UUID,
    causation_id: UUID | None = None,
) -> EventEnvelope:
    return EventEnvelope(
        event_id=event_id,
        stream_id=stream_id,
        version=version,
        kecamatan=kecamatan,
        type=event.type,
        schema_version=event.schema_version,
        occurred_at=occurred_at,
        actor=actor,
        correlation_id=correlation_id,
        causation_id=causation_id,
        payload=event.model_dump(mode="json"),
    )
