"""What notify's handlers need: a fresh unit of work per step (services/notify/unit_of_work.py), the workflow's
events (read-only), the kecamatan served, the document store (the letter's PDF), the broker to hand tasks and
reports to, the channels and the clock. bootstrap.Notify adds what the processes need besides (the engine)."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any, Protocol
from uuid import UUID

from services.notify.adapters.channels.base import Channel
from services.notify.config import NotifySettings
from services.notify.unit_of_work import UnitOfWork
from shared.events import EventEnvelope
from shared.storage import DocumentStore
from shared.tenancy import Kecamatan


class Events(Protocol):
    """The workflow's event store, read (``shared.eventstore``)."""

    def read_event(self, event_id: UUID) -> EventEnvelope | None: ...

    def read_stream(self, stream_id: str) -> list[EventEnvelope]: ...

    def read_stream_to(self, event_id: UUID) -> list[EventEnvelope]:
        """The event's stream up to and including it (empty: no such event)."""
        ...


class Directory(Protocol):
    """The kecamatan served here (``shared.tenancy.KecamatanDirectory``)."""

    def get(self, slug: str) -> Kecamatan | None: ...


class Broker(Protocol):
    """Where tasks are handed on (a Celery app's ``send_task``)."""

    def send_task(self, name: str, args: Sequence[Any] | None = ..., **options: Any) -> Any: ...


@dataclass(kw_only=True)
class Context:
    settings: NotifySettings
    uow: Callable[[], UnitOfWork]
    store: Events
    directory: Directory
    documents: DocumentStore
    celery: Broker
    channels: dict[str, Channel]
    clock: Callable[[], datetime] = field(default=lambda: datetime.now(UTC))
