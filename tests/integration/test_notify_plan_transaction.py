"""``notify.plan`` in one transaction (issue #20): the event and its history read, the plan's reads and writes and
the event's inbox row, committed together; the sends after the commit. The worker's machinery (``shared.tasks``)
then records nothing more for a handled plan, and still records a plan it kept as a dead letter.

Counted on notify's engine (SQLAlchemy's events: each statement the driver sends, each transaction begun, committed
or rolled back), through the task as the worker registers it (``register_consumers``)."""

from __future__ import annotations

import dataclasses
import re
import uuid
from datetime import UTC, datetime, timedelta

import pytest
from sqlalchemy import event, select
from sqlalchemy.exc import OperationalError

from services.notify.adapters.postgres import PostgresUnitOfWork
from services.notify.adapters.tables import dead_letters, deliveries, inbox
from services.notify.bootstrap import bootstrap as notify_bootstrap
from services.notify.config import NotifySettings
from services.notify.entrypoints.worker import PLAN
from services.notify.handlers.planning import plan_event
from services.notify.service import SERVICE
from shared.celery_app import make_celery
from shared.contracts.intake import Complainant
from shared.eventstore.postgres import PostgresEventStore
from shared.tasks import register_consumers
from shared.tenancy import KecamatanDirectory, upsert_kecamatan
from tests.contracts.workflow_uow import new_place
from tests.support.complaints import append_received
from tests.support.tasks import SentTasks

UNREACHABLE = Complainant(name="Nur Hasanah", nik="3528014107900002", address="Dusun Tengah, Desa Uji")  # no contact
BY_EMAIL = Complainant(name="Nur Hasanah", nik="3528014107900002", email="nur@contoh.id", address="Desa Uji")


@pytest.fixture(scope="module")
def place(engine):
    kecamatan = new_place()  # of its own: nobody there asked to hear of new work
    upsert_kecamatan(engine, [kecamatan])
    return kecamatan


@pytest.fixture(scope="module")
def store(engine):
    return PostgresEventStore(engine)


@pytest.fixture(scope="module")
def notify(settings, place, tmp_path_factory):
    container = notify_bootstrap(
        NotifySettings(
            **{
                **settings.model_dump(),
                "data_dir": str(tmp_path_factory.mktemp("plan-transaction")),
                # an e-mail channel, to plan to (nothing is sent: the plans with a message are made with send_now=False)
                "smtp_host": "127.0.0.1",
                "smtp_port": 9,
            }
        )
    )
    yield dataclasses.replace(container, directory=KecamatanDirectory(container.engine), celery=SentTasks())
    container.engine.dispose()


@pytest.fixture(scope="module")
def plan_task(settings, notify):
    """``notify.plan`` as the notify worker registers it, its container the test's."""
    app = make_celery(settings, "notify-plan-transaction")
    register_consumers(app, dataclasses.replace(SERVICE, container=lambda: notify))
    task = app.tasks[PLAN]
    return lambda event_id: task.apply(args=[{"event_id": str(event_id)}], throw=True)


class Counted:
    """What an engine sent while counting: statements (as the driver executes them), transactions begun, commits
    and rollbacks."""

    def __init__(self, engine) -> None:
        self.engine, self.statements, self.begun, self.commits, self.rollbacks = engine, [], 0, 0, 0

    def _statement(self, _conn, _cursor, statement, *_args) -> None:
        table = re.search(r"\b(?:FROM|INTO|UPDATE)\s+(\S+)", statement)
        self.statements.append(f"{statement.split()[0]} {table.group(1) if table else ''}".strip())

    def _begin(self, _conn) -> None:
        self.begun += 1

    def _commit(self, _conn) -> None:
        self.commits += 1

    def _rollback(self, _conn) -> None:
        self.rollbacks += 1

    def __enter__(self) -> Counted:
        event.listen(self.engine, "before_cursor_execute", self._statement)
        event.listen(self.engine, "begin", self._begin)
        event.listen(self.engine, "commit", self._commit)
        event.listen(self.engine, "rollback", self._rollback)
        return self

    def __exit__(self, *_exc) -> None:
        event.remove(self.engine, "before_cursor_execute", self._statement)
        event.remove(self.engine, "begin", self._begin)
        event.remove(self.engine, "commit", self._commit)
        event.remove(self.engine, "rollback", self._rollback)


def recorded(engine, event_id: uuid.UUID) -> list[tuple]:
    with engine.connect() as conn:
        return [
            tuple(r)
            for r in conn.execute(select(inbox.c.consumer, inbox.c.message_id).where(inbox.c.message_id == event_id))
        ]


def rows_of(engine, event_id: uuid.UUID) -> list[dict]:
    with engine.connect() as conn:
        query = select(deliveries).where(deliveries.c.source_event_id == event_id)
        return [dict(r) for r in conn.execute(query).mappings()]


def kept(engine, event_id: uuid.UUID) -> list[dict]:
    with engine.connect() as conn:
        query = select(dead_letters).where(dead_letters.c.payload["event_id"].astext == str(event_id))
        return [dict(r) for r in conn.execute(query).mappings()]


def test_an_event_that_plans_nothing_costs_one_transaction_its_inbox_row_in_it(notify, store, place, plan_task):
    """A complaint whose complainant left no contact: the task reads the event and the templates and records the
    event in the inbox, in one transaction (it was three: the event's read, the plan's unit, the machinery's inbox
    row). The staff are not read: their news of new work is planned in rounds (services/notify/new_work.py)."""
    stored = append_received(store, place, UNREACHABLE)
    plan_task(stored.event_id)  # the first: the complaint's data key read too (then cached)
    with Counted(notify.engine) as again:  # the relay's task again (a redelivery, a reconciler's copy)
        plan_task(stored.event_id)
    assert (again.begun, again.commits, again.rollbacks) == (1, 1, 0), again.statements
    assert again.statements == [
        "SELECT workflow.events",
        "SELECT notify.templates",
        "INSERT notify.inbox",
    ], again.statements
    assert recorded(notify.engine, stored.event_id) == [(PLAN, stored.event_id)]
    assert rows_of(notify.engine, stored.event_id) == [] and kept(notify.engine, stored.event_id) == []


def test_an_event_too_old_to_tell_is_recorded_in_the_one_transaction_that_read_it(notify, store, place, plan_task):
    stored = append_received(store, place, BY_EMAIL)
    late = dataclasses.replace(notify, clock=lambda: datetime.now(UTC) + timedelta(days=30))
    with Counted(notify.engine) as counted:
        assert plan_event(late, stored.event_id, inbox=PLAN) == 0
    assert (counted.begun, counted.commits, counted.rollbacks) == (1, 1, 0), counted.statements
    assert counted.statements[0] == "SELECT workflow.events" and counted.statements[-1] == "INSERT notify.inbox"
    assert recorded(notify.engine, stored.event_id) == [(PLAN, stored.event_id)]
    assert rows_of(notify.engine, stored.event_id) == []


class CommitFails(PostgresUnitOfWork):
    """A unit whose commit fails, after everything was written in it."""

    failures = 0

    def commit(self) -> None:
        if CommitFails.failures:
            CommitFails.failures -= 1
            raise OperationalError("COMMIT", {}, ConnectionError("the server closed the connection"))
        super().commit()


def test_the_plans_rows_and_its_inbox_row_are_committed_together_or_not_at_all(notify, store, place):
    stored = append_received(store, place, BY_EMAIL)
    broken = dataclasses.replace(notify)
    broken.uow = lambda: CommitFails(notify.engine, notify.store)
    CommitFails.failures = 1
    with pytest.raises(OperationalError):
        plan_event(broken, stored.event_id, send_now=False, inbox=PLAN)
    # the acknowledgment's row was written in the unit, then rolled back with the inbox row
    assert rows_of(notify.engine, stored.event_id) == [] and recorded(notify.engine, stored.event_id) == []

    assert plan_event(broken, stored.event_id, send_now=False, inbox=PLAN) == 1  # the task again
    [row] = rows_of(notify.engine, stored.event_id)
    assert (row["kind"], row["recipient"], row["state"]) == ("acknowledgment", BY_EMAIL.email, "pending")
    assert recorded(notify.engine, stored.event_id) == [(PLAN, stored.event_id)]


def test_a_plan_kept_as_a_dead_letter_is_recorded_in_the_inbox_by_the_machinery(notify, plan_task):
    """The plan records its inbox row only in a unit it commits; a plan that cannot be handled (no such event) is
    kept as a dead letter and recorded by the worker's machinery, so the relay's reconciler does not resend it."""
    missing = uuid.uuid4()
    plan_task(missing)
    [letter] = kept(notify.engine, missing)
    assert letter["task"] == PLAN and letter["error"].startswith("LookupError")
    assert recorded(notify.engine, missing) == [(PLAN, missing)]
