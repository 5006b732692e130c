"""Intake's PostgreSQL unit of work keeps its contract (tests/unit/test_intake_uow_memory.py holds the in-memory
fake to the same tests)."""

from dataclasses import replace
from datetime import UTC, datetime

import pytest
from sqlalchemy.dialects.postgresql import insert

from services.intake.adapters.tables import tracking
from services.intake.bootstrap import bootstrap
from services.intake.config import IntakeSettings
from shared.contracts import sop
from shared.tenancy import KecamatanDirectory, configure_kecamatan, upsert_kecamatan
from tests.contracts.intake_uow import IntakeUnitOfWorkContract, new_place


@pytest.fixture(scope="module")
def container(settings, engine, tmp_path_factory):
    values = {**settings.model_dump(), "data_dir": str(tmp_path_factory.mktemp("intake-uow"))}
    intake = bootstrap(IntakeSettings(**values))
    yield intake
    intake.engine.dispose()


@pytest.fixture
def place(engine):
    kecamatan = new_place()
    upsert_kecamatan(engine, [kecamatan])
    configure_kecamatan(engine, kecamatan.slug, kecamatan.settings)
    return kecamatan


@pytest.fixture
def intake(container, place):
    """A directory of its own, which knows the test's new kecamatan (a miss reloads at most once a second)."""
    return replace(container, directory=KecamatanDirectory(container.engine))


@pytest.fixture
def project(engine):
    """The row intake's tracking projection writes (adapters/tracking.py), written directly."""

    def write(complaint_id, tracking_code, status, current_step=None, **referral):
        with engine.begin() as conn:
            conn.execute(
                insert(tracking).values(
                    complaint_id=complaint_id,
                    tracking_code=tracking_code,
                    status=status,
                    current_step=current_step,
                    sop_version=sop.DEFAULT.version,
                    steps=[],
                    updated_at=datetime.now(UTC),
                    position=0,
                    **referral,
                )
            )

    return write


class TestPostgresUnitOfWork(IntakeUnitOfWorkContract):
    pass
