"""Notify's PostgreSQL unit of work keeps its contract (tests/unit/test_notify_uow_memory.py holds the in-memory
fake to the same tests)."""

import uuid
from functools import partial

import pytest
from sqlalchemy import select

from services.accounts.handlers import add_user, set_contact
from services.notify.adapters.postgres import PostgresUnitOfWork
from services.notify.adapters.tables import handoffs
from services.notify.adapters.tables import inbox as inbox_table
from shared import privacy
from shared.eventstore.postgres import PostgresEventStore
from shared.tenancy import upsert_kecamatan
from tests.contracts.notify_uow import NotifyUnitOfWorkContract
from tests.contracts.workflow_uow import new_place


@pytest.fixture
def notify_uow(engine):
    return partial(PostgresUnitOfWork, engine)


@pytest.fixture
def place(engine):
    kecamatan = new_place()
    upsert_kecamatan(engine, [kecamatan])
    return kecamatan.slug


@pytest.fixture
def add_staff(engine, place):
    def add(username, role, *, unit=None, email=None, new_work=False):
        add_user(engine, username, username, role, "rahasia-uji-123", kecamatan=place, unit=unit)
        if email or new_work:
            set_contact(engine, username, email=email, new_work=new_work)

    return add


@pytest.fixture
def erase(engine, settings):
    """The complaint's data key made (as its first sealed value makes it), then destroyed."""
    keys = privacy.data_keys_for(settings)

    def erase(complaint_id: uuid.UUID) -> None:
        with engine.begin() as conn:
            keys.for_writing(conn, complaint_id)
        with engine.begin() as conn:
            assert keys.erase(conn, complaint_id, by="pdp.uji", reason="permintaan pengadu")

    return erase


@pytest.fixture
def ledger(engine):
    def recorded(ids: list[uuid.UUID]) -> set:
        with engine.connect() as conn:
            rows = conn.execute(
                select(handoffs.c.consumer, handoffs.c.message_id).where(handoffs.c.message_id.in_(ids))
            )
            return {tuple(r) for r in rows}

    return recorded


@pytest.fixture
def inbox(engine):
    def recorded(ids: list[uuid.UUID]) -> set:
        with engine.connect() as conn:
            query = select(inbox_table.c.consumer, inbox_table.c.message_id).where(inbox_table.c.message_id.in_(ids))
            rows = conn.execute(query)
            return {tuple(r) for r in rows}

    return recorded


@pytest.fixture
def workflow_events(engine):
    return PostgresEventStore(engine)  # the units' own store reads the same table (PostgresUnitOfWork's default)


class TestPostgresUnitOfWork(NotifyUnitOfWorkContract):
    pass
