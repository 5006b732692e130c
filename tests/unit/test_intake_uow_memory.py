"""Intake's in-memory unit of work keeps the contract the PostgreSQL one keeps
(tests/integration/test_intake_uow_postgres.py runs the same tests there)."""

import pytest

from services.intake.adapters.memory import IntakeMemory, TrackingRow
from services.intake.config import IntakeSettings
from services.intake.handlers.context import Context
from shared.storage import LocalDocumentStore
from tests.contracts.intake_uow import IntakeUnitOfWorkContract, new_place


@pytest.fixture
def place():
    return new_place()


@pytest.fixture
def memory(place):
    return IntakeMemory([place])


@pytest.fixture(scope="module")
def settings(tmp_path_factory):
    return IntakeSettings(data_dir=str(tmp_path_factory.mktemp("intake")))


@pytest.fixture
def intake(memory, place, settings, tmp_path):
    return Context(settings, memory.uow, {place.slug: place}, LocalDocumentStore(tmp_path / "documents"))


@pytest.fixture
def project(memory):
    def write(complaint_id, tracking_code, status, current_step=None, **referral):
        memory.project(TrackingRow(complaint_id, tracking_code, status, current_step, **referral))

    return write


class TestInMemoryUnitOfWork(IntakeUnitOfWorkContract):
    pass
