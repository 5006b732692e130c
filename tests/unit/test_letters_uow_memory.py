"""Letters' in-memory unit of work keeps the contract the PostgreSQL one keeps
(tests/integration/test_letters_uow_postgres.py runs the same tests there)."""

from __future__ import annotations

import dataclasses
import uuid

import pytest

from services.letters.adapters.keys import SigningKeys
from services.letters.adapters.memory import LettersMemory
from services.letters.handlers import Context
from services.letters.unit_of_work import StaffName
from shared.contracts.organisation import PP17_UNITS, UnitEntry
from shared.events import EventEnvelope
from shared.storage import LocalDocumentStore
from shared.tenancy import Kecamatan
from tests.contracts.letters_uow import LettersUnitOfWorkContract, new_place


class MemoryWorld:
    def __init__(self, memory: LettersMemory) -> None:
        self.memory = memory

    def append(self, stream_id: str, expected_version: int, events: list[EventEnvelope]) -> None:
        self.memory.store.append(stream_id, expected_version, events)

    def add_staff(self, place: Kecamatan, username: str, full_name: str, nip: str | None) -> None:
        self.memory.staff[username] = StaffName(full_name, nip)

    def add_unit_head(self, place: Kecamatan, unit: str, username: str, full_name: str) -> None:
        add_unit_head(self.memory, place, unit, username, full_name)

    def sent(self) -> list[str]:
        return [h.task_id for h in self.memory.sent]

    def in_ledger(self, consumer: str, message_id: uuid.UUID) -> bool:
        return (consumer, message_id) in self.memory.ledger


def add_unit_head(memory: LettersMemory, place: Kecamatan, unit: str, username: str, full_name: str) -> None:
    """The kecamatan's units as the unit directory lists them (PP 17/2018's, headless), ``unit`` with a head."""
    for u in PP17_UNITS:
        entry = UnitEntry(place.slug, u.code, u.kind, u.name, list(u.short_names), True, None, None, None, None, None)
        memory.units.setdefault((place.slug, u.code), entry)
    memory.units[(place.slug, unit)] = dataclasses.replace(
        memory.units[(place.slug, unit)], head_username=username, head_name=full_name, head_nip="198501012010011003"
    )


@pytest.fixture(scope="session")
def signing_keys(tmp_path_factory) -> SigningKeys:
    """One development CA for the session's unit tests of letters (it takes about a second to make)."""
    folder = tmp_path_factory.getbasetemp() / "letters-signing"
    folder.mkdir(exist_ok=True)
    return SigningKeys(folder, production=False)


@pytest.fixture
def place():
    return new_place("unit")  # one key for the session; each test has a memory of its own


@pytest.fixture
def memory():
    return LettersMemory()


@pytest.fixture
def world(memory):
    return MemoryWorld(memory)


@pytest.fixture
def letters(memory, place, signing_keys, tmp_path):
    return Context(
        uow=memory.uow,
        directory={place.slug: place},
        documents=LocalDocumentStore(tmp_path / "documents"),
        keys=signing_keys,
        public_base_url="https://pengaduan.example",
    )


class TestInMemoryUnitOfWork(LettersUnitOfWorkContract):
    pass
