"""An erasure and the services that write a complainant's data beside the event store (issue #17, docs/adr/0017),
on real PostgreSQL: notify plans a message, letters makes a document, each from values it read a moment before.

A reader's key may be cached for up to a minute (``shared.privacy.DataKeys.CACHE_SECONDS``), and a worker may read a
complaint just before its erasure and write just after it. Either way nothing of the complainant may outlive the
erasure: a writer that comes after the erasure finds the key row erased and writes none of it; one that began before
holds the key row (``shared.privacy.hold``), so the erasure waits for it and the service's own erasure, which runs
on ``PersonalDataErased`` (committed with the key's destruction), finds what it wrote.

Each test reads the complaint through a store of its own whose key cache is warm (another process's), as a worker
that read it a moment before the erasure would.
"""

from __future__ import annotations

import dataclasses
import threading
import time
import uuid
from datetime import UTC, datetime

import pytest
from sqlalchemy import select, text

from services.letters.bootstrap import bootstrap as letters_bootstrap
from services.letters.config import LettersSettings
from services.letters.handlers import issue_receipt
from services.notify.adapters.postgres import PostgresUnitOfWork
from services.notify.adapters.tables import deliveries
from services.notify.bootstrap import bootstrap as notify_bootstrap
from services.notify.config import NotifySettings
from services.notify.handlers.erasure import erase_personal_data
from services.notify.handlers.planning import plan_event
from shared import privacy
from shared.contracts.intake import Complainant
from shared.contracts.workflow import PersonalDataErased
from shared.events import Actor, EventEnvelope, envelope
from shared.eventstore.postgres import PostgresEventStore
from shared.tenancy import KecamatanDirectory, upsert_kecamatan
from tests.contracts.letters_uow import new_place
from tests.support.complaints import append_received

PERSON = Complainant(
    name="Nur Hasanah Erasa",
    nik="3528014107900002",
    phone="+6281355501234",
    email="nur.erasa@contoh.id",
    address="Dusun Tengah, Desa Uji",
)


@pytest.fixture(scope="module")
def place(engine):
    kecamatan = new_place()  # with a letterhead: letters makes its receipt
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
                "data_dir": str(tmp_path_factory.mktemp("races-notify")),
                # an e-mail channel, to plan to (nothing is sent: every plan here is made with send_now=False)
                "smtp_host": "127.0.0.1",
                "smtp_port": 9,
            }
        )
    )
    yield dataclasses.replace(container, directory=KecamatanDirectory(container.engine))
    container.engine.dispose()


@pytest.fixture(scope="module")
def letters(settings, place, tmp_path_factory):
    container = letters_bootstrap(
        LettersSettings(**{**settings.model_dump(), "data_dir": str(tmp_path_factory.mktemp("races-letters"))})
    )
    yield dataclasses.replace(container, directory=KecamatanDirectory(container.engine))
    container.engine.dispose()


def received(store, place) -> EventEnvelope:
    return append_received(store, place, PERSON)


def erase(engine, store, event: EventEnvelope) -> EventEnvelope:
    """As the workflow's erasure command: the data key destroyed first, then ``PersonalDataErased`` appended, in one
    transaction."""
    complaint_id = uuid.UUID(event.stream_id.removeprefix("complaint-"))
    erased = envelope(
        PersonalDataErased(reason="permintaan pengadu", requested_by="pdp.uji", request_id=uuid.uuid4()),
        event_id=uuid.uuid4(),
        stream_id=event.stream_id,
        version=store.stream_version(event.stream_id) + 1,
        kecamatan=event.kecamatan,
        occurred_at=datetime.now(UTC),
        actor=Actor(kind="user", user_id="pdp.uji", role="pdp"),
        correlation_id=uuid.uuid4(),
    )
    with engine.begin() as conn:
        assert store.data_keys.erase(conn, complaint_id, by="pdp.uji", reason="permintaan pengadu")
        store.append(event.stream_id, erased.version - 1, [erased], conn=conn)
    return erased


def warm_reader(engine, settings, event: EventEnvelope) -> PostgresEventStore:
    """A store with a key cache of its own (another process's), which has read the complaint: its key is cached."""
    reader = PostgresEventStore(engine, privacy.DataKeys(privacy.keys_from_settings(settings)))
    assert reader.read_stream(event.stream_id)[0].decode().complainant.name == PERSON.name
    return reader


def complainant_rows(engine, complaint_id: uuid.UUID) -> list[dict]:
    with engine.connect() as conn:
        query = select(deliveries).where(
            deliveries.c.complaint_id == complaint_id, deliveries.c.audience == "complainant"
        )
        return [dict(r) for r in conn.execute(query).mappings()]


def holding(engine, holder_pid: int) -> list[int]:
    """The backends waiting for a lock ``holder_pid`` holds."""
    with engine.connect() as conn:
        query = text("SELECT pid FROM pg_stat_activity WHERE :holder = ANY(pg_blocking_pids(pid))")
        return list(conn.execute(query, {"holder": holder_pid}).scalars())


def test_a_message_planned_from_a_cached_key_after_the_erasure_writes_nothing_of_the_complainant(
    engine, settings, store, notify, place
):
    event = received(store, place)
    stale = dataclasses.replace(notify, store=warm_reader(engine, settings, event))
    erase(engine, store, event)
    # the reader still opens the complaint from its cache: what planning reads is the person, in clear
    assert stale.store.read_stream(event.stream_id)[0].decode().complainant.email == PERSON.email

    plan_event(stale, event.event_id, send_now=False)

    assert complainant_rows(engine, uuid.UUID(event.stream_id.removeprefix("complaint-"))) == []


def test_the_same_message_planned_before_the_erasure_is_written(engine, settings, store, notify, place):
    """The control of the test above: the same plan, without the erasure, writes the acknowledgment to the e-mail."""
    event = received(store, place)
    plan_event(dataclasses.replace(notify, store=warm_reader(engine, settings, event)), event.event_id, send_now=False)
    rows = complainant_rows(engine, uuid.UUID(event.stream_id.removeprefix("complaint-")))
    assert [(r["kind"], r["recipient"]) for r in rows] == [("acknowledgment", PERSON.email)]


def test_an_erasure_waits_for_a_writer_holding_the_complaint_and_then_scrubs_what_it_wrote(
    engine, settings, store, notify, place
):
    event = received(store, place)
    complaint_id = uuid.UUID(event.stream_id.removeprefix("complaint-"))
    done: list[EventEnvelope] = []
    with PostgresUnitOfWork(engine) as uow:
        assert uow.hold_personal_data(complaint_id)
        holder = uow._conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        eraser = threading.Thread(target=lambda: done.append(erase(engine, store, event)))
        eraser.start()
        deadline = time.monotonic() + 20
        while not holding(engine, holder):  # the erasure's UPDATE of the key row waits for this unit
            assert time.monotonic() < deadline, "the erasure did not wait for the unit holding the complaint"
            time.sleep(0.02)
        assert eraser.is_alive() and done == []
        uow.deliveries.add(
            [
                {
                    "id": uuid.uuid4(),
                    "source_event_id": event.event_id,
                    "complaint_id": complaint_id,
                    "kecamatan": place.slug,
                    "kind": "acknowledgment",
                    "audience": "complainant",
                    "username": None,
                    "channel": "email",
                    "recipient": PERSON.email,
                    "subject": "Pengaduan diterima",
                    "body": f"Yth. {PERSON.name}, pengaduan Anda diterima.",
                    "attachment": None,
                    "link": None,
                    "variables": {"nama": PERSON.name},
                    "state": "pending",
                    "last_error": None,
                    "next_attempt_at": datetime.now(UTC),
                    "enqueued_at": datetime.now(UTC),
                    "created_at": datetime.now(UTC),
                    "updated_at": datetime.now(UTC),
                }
            ]
        )
        uow.commit()
    eraser.join(timeout=20)
    assert not eraser.is_alive() and len(done) == 1
    with PostgresUnitOfWork(engine) as uow:
        assert not uow.hold_personal_data(complaint_id)  # erased: the next writer writes none of it

    erase_personal_data(notify, done[0].event_id)  # notify's erasure, on the event committed after the write

    [row] = complainant_rows(engine, complaint_id)
    assert PERSON.email not in str(row) and PERSON.name not in str(row)


def test_a_document_made_from_a_cached_key_after_the_erasure_is_not_made(engine, settings, store, letters, place):
    event = received(store, place)
    stale = dataclasses.replace(letters, store=warm_reader(engine, settings, event))
    erase(engine, store, event)

    assert issue_receipt(stale, event.event_id) is None
    with letters.uow() as uow:
        assert uow.documents.of_complaint(uuid.UUID(event.stream_id.removeprefix("complaint-"))) == []


def test_the_same_receipt_made_before_the_erasure_is_made(engine, settings, store, letters, place):
    """The control of the test above."""
    event = received(store, place)
    stale = dataclasses.replace(letters, store=warm_reader(engine, settings, event))
    receipt = issue_receipt(stale, event.event_id)
    assert receipt is not None and receipt["kind"] == "receipt"


def test_an_erasure_waits_for_letters_unit_holding_the_complaint(engine, store, letters, place):
    """Letters' check before making a document holds the complaint as notify's does: the erasure waits for the unit
    (whose document letters' erasure then deletes), and a unit after it is told the data is erased."""
    event = received(store, place)
    complaint_id = uuid.UUID(event.stream_id.removeprefix("complaint-"))
    done: list[EventEnvelope] = []
    with letters.uow() as uow:
        assert uow.events.hold_personal_data(complaint_id)
        holder = uow._conn.execute(text("SELECT pg_backend_pid()")).scalar_one()
        eraser = threading.Thread(target=lambda: done.append(erase(engine, store, event)))
        eraser.start()
        deadline = time.monotonic() + 20
        while not holding(engine, holder):
            assert time.monotonic() < deadline, "the erasure did not wait for letters' unit"
            time.sleep(0.02)
        assert eraser.is_alive() and done == []
        uow.commit()
    eraser.join(timeout=20)
    assert not eraser.is_alive() and len(done) == 1
    with letters.uow() as uow:
        assert not uow.events.hold_personal_data(complaint_id)
    assert issue_receipt(letters, event.event_id) is None  # and nothing is made any more


class SlowStore:
    """The document store as a slow S3 would be: each put waits until the test lets it go on."""

    def __init__(self, inner) -> None:
        self.inner, self.putting, self.go_on = inner, threading.Event(), threading.Event()

    def put(self, data, content_type):
        self.putting.set()
        assert self.go_on.wait(20)
        self.stored = self.inner.put(data, content_type)
        return self.stored

    def __getattr__(self, name):
        return getattr(self.inner, name)


def test_an_erasure_while_letters_makes_a_document_does_not_wait_for_it_and_the_document_is_not_kept(
    engine, store, letters, place
):
    """Letters holds the complaint only to record the document, not while it renders, asks the TSA or stores the
    PDF: an erasure in the middle goes through at once, and the document made meanwhile is neither recorded nor
    left in the store."""
    event = received(store, place)
    slow = SlowStore(letters.documents)
    made: list = []
    maker = threading.Thread(
        target=lambda: made.append(issue_receipt(dataclasses.replace(letters, documents=slow), event.event_id))
    )
    maker.start()
    assert slow.putting.wait(20)  # rendered, its PDF on its way to the store

    erased = threading.Thread(target=lambda: erase(engine, store, event))
    erased.start()
    erased.join(timeout=10)
    assert not erased.is_alive()  # the erasure did not wait for the document being made
    slow.go_on.set()
    maker.join(timeout=20)

    assert made == [None]
    complaint_id = uuid.UUID(event.stream_id.removeprefix("complaint-"))
    with letters.uow() as uow:
        assert uow.documents.of_complaint(complaint_id) == []
    # the PDF it stored was deleted again
    assert slow.stored.size > 0 and not letters.documents.exists(slow.stored.sha256)
