"""The workflow's PostgreSQL unit of work keeps its contract (tests/unit/test_workflow_uow_memory.py holds the
in-memory fake to the same tests)."""

from dataclasses import replace

import pytest

from services.workflow.bootstrap import bootstrap
from shared.tenancy import KecamatanDirectory, upsert_kecamatan
from tests.contracts.workflow_uow import WorkflowUnitOfWorkContract, new_place


@pytest.fixture(scope="module")
def wf(settings, engine):
    container = bootstrap(settings)
    yield container
    container.engine.dispose()


@pytest.fixture
def place(engine):
    kecamatan = new_place()
    upsert_kecamatan(engine, [kecamatan])
    return kecamatan


@pytest.fixture
def workflow(wf, place):
    """A directory of its own, which knows the test's new kecamatan (a miss reloads at most once a second)."""
    return replace(wf, directory=KecamatanDirectory(wf.engine))


class TestPostgresUnitOfWork(WorkflowUnitOfWorkContract):
    pass
