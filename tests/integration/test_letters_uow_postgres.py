"""Letters' PostgreSQL unit of work keeps its contract (tests/unit/test_letters_uow_memory.py holds the
in-memory fake to the same tests)."""

from __future__ import annotations

import dataclasses
import uuid
from uuid import UUID

import pytest
from sqlalchemy import select

from services.accounts.handlers import add_user
from services.letters.adapters.tables import handoffs
from services.letters.bootstrap import bootstrap
from services.letters.config import LettersSettings
from shared.contracts.workflow import PersonalDataErased
from shared.events import EventEnvelope
from shared.tenancy import Kecamatan, KecamatanDirectory, upsert_kecamatan
from tests.contracts.letters_uow import LettersUnitOfWorkContract, new_place


class SentTasks:
    """Letters' broker, as a fake: the tasks it was handed, in order."""

    def __init__(self) -> None:
        self.task_ids: list[str] = []

    def send_task(self, name: str, args: list, *, task_id: str, **_: object) -> None:
        self.task_ids.append(task_id)


class PostgresWorld:
    def __init__(self, container) -> None:
        self.container = container

    def append(self, stream_id: str, expected_version: int, events: list[EventEnvelope]) -> None:
        """As the workflow stores them: ``PersonalDataErased`` with the complaint's data key destroyed in the same
        transaction."""
        with self.container.engine.begin() as conn:
            if any(e.type == PersonalDataErased.type for e in events):
                subject = UUID(stream_id.removeprefix("complaint-"))
                self.container.store.data_keys.erase(conn, subject, by="admin.uji", reason="permintaan pengadu")
            self.container.store.append(stream_id, expected_version, events, conn=conn)

    def add_staff(self, place: Kecamatan, username: str, full_name: str, nip: str | None) -> None:
        add_user(self.container.engine, username, full_name, "camat", "rahasia-uji-123", kecamatan=place.slug, nip=nip)

    def add_unit_head(self, place: Kecamatan, unit: str, username: str, full_name: str) -> None:
        add_user(self.container.engine, username, full_name, "kasi", "rahasia-uji-123", kecamatan=place.slug, unit=unit)

    def sent(self) -> list[str]:
        return list(self.container.celery.task_ids)

    def in_ledger(self, consumer: str, message_id: uuid.UUID) -> bool:
        with self.container.engine.connect() as conn:
            query = select(handoffs.c.message_id).where(
                handoffs.c.consumer == consumer, handoffs.c.message_id == message_id
            )
            return conn.execute(query).first() is not None


@pytest.fixture(scope="module")
def container(settings, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("letters-uow")
    built = bootstrap(LettersSettings(**settings.model_copy(update={"data_dir": str(data_dir)}).model_dump()))
    yield built
    built.engine.dispose()


@pytest.fixture
def place(engine):
    kecamatan = new_place()
    upsert_kecamatan(engine, [kecamatan])
    return kecamatan


@pytest.fixture
def letters(container, place):
    """A broker of its own, and a directory of its own which knows the test's new kecamatan."""
    return dataclasses.replace(container, celery=SentTasks(), directory=KecamatanDirectory(container.engine))


@pytest.fixture
def world(letters):
    return PostgresWorld(letters)


class TestPostgresUnitOfWork(LettersUnitOfWorkContract):
    pass
