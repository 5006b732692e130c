"""The workflow's in-memory unit of work keeps the contract the PostgreSQL one keeps
(tests/integration/test_workflow_uow_postgres.py runs the same tests there)."""

import pytest

from services.workflow.adapters.memory import WorkflowMemory
from services.workflow.handlers import Calendars, Context
from tests.contracts.workflow_uow import WorkflowUnitOfWorkContract, new_place


@pytest.fixture
def place():
    return new_place()


@pytest.fixture
def workflow(place):
    return Context(uow=WorkflowMemory().uow, directory={place.slug: place}, calendars=Calendars())


class TestInMemoryUnitOfWork(WorkflowUnitOfWorkContract):
    pass
