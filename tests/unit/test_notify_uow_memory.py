"""Notify's in-memory unit of work keeps the contract the PostgreSQL one keeps
(tests/integration/test_notify_uow_postgres.py runs the same tests there)."""

import uuid

import pytest

from services.notify.adapters.memory import NotifyMemory
from tests.contracts.notify_uow import NotifyUnitOfWorkContract


@pytest.fixture
def memory():
    return NotifyMemory()


@pytest.fixture
def notify_uow(memory):
    return memory.uow


@pytest.fixture
def place():
    return f"uji-{uuid.uuid4().hex[:8]}"


@pytest.fixture
def add_staff(memory, place):
    def add(username, role, *, unit=None, email=None, new_work=False):
        memory.staff.append(
            {
                "username": username,
                "full_name": username,
                "role": role,
                "kecamatan": place,
                "unit": unit,
                "email": email,
                "phone": None,
                "notify_channel": None,
                "notify_new_work": new_work,
                "active": True,
            }
        )

    return add


@pytest.fixture
def erase(memory):
    return memory.erased.add


@pytest.fixture
def ledger(memory):
    return lambda ids: {key for key in memory.handoffs if key[1] in ids}


@pytest.fixture
def inbox(memory):
    return lambda ids: {key for key in memory.inbox if key[1] in ids}


@pytest.fixture
def workflow_events(memory):
    return memory.store


class TestInMemoryUnitOfWork(NotifyUnitOfWorkContract):
    pass
