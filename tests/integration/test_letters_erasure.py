"""A complainant's personal data erased (issue #17, docs/adr/0017), the letters service's part, against real PostgreSQL
and the real document store (a folder): the workflow appends ``PersonalDataErased`` and destroys the complaint's data
key in one transaction (as its erasure does), the letters worker's task erases the complaint's documents (the PDFs
deleted from the folder, the rows kept and marked), and the letters API answers for them: downloads 410, the page
behind the QR code says the letter was issued and its copy erased, an uploaded copy is still recognised, and the
Kartu Kendali (read from the events) prints the erased name."""

from __future__ import annotations

import dataclasses
import io
import os
import uuid
from datetime import UTC, datetime, timedelta
from pathlib import Path

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader

from services.accounts.handlers import add_user
from services.letters import handlers
from services.letters.bootstrap import bootstrap
from services.letters.config import LettersSettings
from services.letters.entrypoints.api import create_app
from services.letters.entrypoints.verify import ERASED_LETTER_MESSAGE
from services.letters.entrypoints.worker import CONSUMERS
from shared.auth import Principal
from shared.contracts.workflow import ERASED_NAME, PersonalDataErased
from shared.events import Actor, EventEnvelope, envelope
from shared.storage import LocalDocumentStore
from shared.tenancy import Kecamatan, KecamatanDirectory, upsert_kecamatan
from tests.contracts.letters_uow import Story, a_document, an_esigned, new_place
from tests.support.auth import bearer_header

ERASED_DOWNLOAD = {
    "code": "document_erased",
    "message": "Dokumen ini sudah dihapus karena data pribadi pengadu dihapus.",
}


class SentTasks:
    """Letters' broker, as a fake: what it was handed is not this test's subject."""

    def send_task(self, *_: object, **__: object) -> None:
        pass


class World:
    """What the workflow and accounts write that letters reads (tests/contracts/letters_uow.py's ``World``)."""

    def __init__(self, letters) -> None:
        self.letters = letters

    def append(self, stream_id: str, expected_version: int, events: list[EventEnvelope]) -> None:
        self.letters.store.append(stream_id, expected_version, events)

    def add_staff(self, place: Kecamatan, username: str, full_name: str, nip: str | None) -> None:
        add_user(self.letters.engine, username, full_name, "camat", "rahasia-uji-123", kecamatan=place.slug, nip=nip)


@pytest.fixture(scope="module")
def settings_(settings, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("letters-erasure")
    return settings.model_copy(update={"data_dir": str(data_dir), "public_base_url": "http://127.0.0.1:8000"})


@pytest.fixture(scope="module")
def container(settings_):
    built = bootstrap(LettersSettings(**settings_.model_dump()))
    yield built
    built.engine.dispose()


@pytest.fixture
def place(engine):
    kecamatan = new_place()
    upsert_kecamatan(engine, [kecamatan])
    return kecamatan


@pytest.fixture
def letters(container, place):
    return dataclasses.replace(container, celery=SentTasks(), directory=KecamatanDirectory(container.engine))


def erase(letters, story: Story) -> EventEnvelope:
    """What the workflow's erasure does: the complaint's data key destroyed and ``PersonalDataErased`` appended, in one
    transaction."""
    event = envelope(
        PersonalDataErased(reason="permintaan pengadu", requested_by="admin.uji", request_id=uuid.uuid4()),
        event_id=uuid.uuid4(),
        stream_id=story.stream,
        version=len(story.events) + 1,
        kecamatan=story.place.slug,
        occurred_at=datetime.now(UTC).replace(microsecond=0),
        actor=Actor(kind="user", user_id="admin.uji", role="admin"),
        correlation_id=uuid.uuid4(),
    )
    with letters.engine.begin() as conn:
        letters.store.data_keys.erase(conn, story.complaint_id, by="admin.uji", reason="permintaan pengadu")
        letters.store.append(story.stream, len(story.events), [event], conn=conn)
    story.events.append(event)
    return event


def erase_task(letters, event: EventEnvelope) -> object:
    """The letters worker's task for the relay's message, as the worker's handler table runs it."""
    consumer = next(c for c in CONSUMERS if c.task == "letters.erase_personal_data")
    message = {"event_id": str(event.event_id)}
    assert consumer.inbox_key(message, None) == event.event_id  # recorded in letters' inbox by the event's id
    return consumer.handle(letters, message)


def files_of(store: LocalDocumentStore, sha256: str) -> list[Path]:
    """Whatever the folder holds of a document: its bytes, its metadata, a put's leftovers."""
    return [p for p in store.root.rglob(f"*{sha256}*") if p.is_file()]


def text_of(pdf: bytes) -> str:
    return " ".join(" ".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages).split())


def a_closed_complaint(letters, place: Kecamatan) -> tuple[Story, dict]:
    """A complaint walked through the steps letters makes documents for, each document made by its task; the
    documents' rows by kind."""
    world = World(letters)
    camat = f"camat.{place.slug}"
    world.add_staff(place, camat, "Drs. Camat Uji", "197001011990031001")
    story = Story(world, place)
    made = {"receipt": handlers.issue_receipt(letters, story.received().event_id)}
    story.registered()
    made["disposition_sheet"] = handlers.issue_disposition_sheet(letters, story.disposed(camat).event_id)
    made["referral_letter"] = handlers.issue_referral_letter(letters, story.referred(camat).event_id)
    story.clarified()
    made["draft"] = handlers.render_draft(letters, story.drafted(own=True).event_id)
    story.duplicated()
    issued = handlers.issue_signed_letter(letters, story.signed(camat).event_id)
    handlers.release_letter(letters, story.sent().event_id)
    with letters.uow() as uow:
        made["response_letter"] = uow.documents.get(issued.document_id)
    return story, made


def test_erasure_deletes_the_complaints_pdfs_and_the_api_answers_for_them(letters, place, settings_):
    store = letters.documents
    assert isinstance(store, LocalDocumentStore)  # the folder the deployment's settings name
    story, made = a_closed_complaint(letters, place)
    # a letter signed through BSrE for this complaint (letters.esigned), and another complaint whose rows hold the
    # very bytes of this one's Lembar Disposisi and surat pelimpahan (content-addressed: stored once)
    bsre = store.put(b"%PDF-1.7\n% ditandatangani BSrE " + os.urandom(8), "application/pdf")
    other = uuid.uuid4()
    with letters.uow() as uow:
        uow.esigned.add(an_esigned(place, story.complaint_id, sha256=bsre.sha256, size=bsre.size))
        uow.documents.add(
            a_document(place, other, kind="disposition_sheet", sha256=made["disposition_sheet"]["sha256"])
        )
        uow.esigned.add(an_esigned(place, other, sha256=made["referral_letter"]["sha256"]))
        uow.commit()
    letter_pdf = store.get(made["response_letter"]["sha256"])
    referral_pdf = store.get(made["referral_letter"]["sha256"])
    assert "Siti Aminah" in text_of(letter_pdf)
    shared = {made["disposition_sheet"]["sha256"], made["referral_letter"]["sha256"]}
    own = {made[k]["sha256"] for k in ("receipt", "draft", "response_letter")} | {bsre.sha256}
    assert all(files_of(store, h) for h in own | shared)

    erased = erase(letters, story)
    assert erase_task(letters, erased) == 6  # five documents and the letter signed through BSrE

    # no file of the complaint is left in the folder, but those the other complaint needs
    assert [p for h in own for p in files_of(store, h)] == []
    assert all(store.get(h) for h in shared)
    with letters.uow() as uow:
        rows = uow.documents.of_complaint(story.complaint_id)
        esigned = uow.esigned.of_complaint(story.complaint_id)
    assert sorted(r["kind"] for r in rows) == sorted(made)
    assert {r["erased_at"] for r in [*rows, *esigned]} == {erased.occurred_at}
    assert {r["perihal"] for r in rows} == {None}
    letter = next(r for r in rows if r["kind"] == "response_letter")
    assert (letter["letter_number"], letter["sha256"]) == (
        made["response_letter"]["letter_number"],
        made["response_letter"]["sha256"],
    )

    staf = bearer_header(settings_, Principal(f"staf.{place.slug}", "Staf", "staf", kecamatan=place.slug))
    with TestClient(create_app(letters)) as client:
        # downloads: gone, with the stable code and the message the complainant reads
        for kind in made:
            r = client.get(f"/v1/letters/{made[kind]['id']}/pdf", headers=staf)
            assert (r.status_code, r.json()) == (410, {**ERASED_DOWNLOAD, "errors": []}), kind
        for path in ("receipt", "letter"):
            r = client.get(f"/v1/letters/track/{story.tracking_code}/{path}")
            assert (r.status_code, r.json()["code"]) == (410, "document_erased"), path
        listed = client.get(f"/v1/letters/complaints/{story.complaint_id}", headers=staf).json()
        assert len(listed) == 5 and all(d["erased_at"] for d in listed)

        # the page behind the QR code: issued (number, date, kecamatan), its copy erased; nothing checked
        for row, number in ((letter, letter["letter_number"]), (made["referral_letter"], "001/PELIMPAHAN/")):
            page = client.get(f"/v1/letters/verify/{row['id']}").json()
            assert page["stored_copy_erased"] and not page["valid"] and page["message"] == ERASED_LETTER_MESSAGE
            assert page["letter_number"].startswith(number) and page["kecamatan"] == place.name
            assert page["signed_on"] == row["signed_on"].isoformat() and page["sha256"] == row["sha256"]
        html = client.get(f"/v1/letters/verify/{letter['id']}", headers={"accept": "text/html"}).text
        for words in (
            letter["letter_number"],
            "sudah dihapus karena data pribadi pengadu dihapus",
            f"<td>{place.name}</td>",
        ):
            assert words in html, words
        assert "Surat ini asli" not in html

        # a copy someone holds is still recognised as issued, by the signature it carries
        for pdf, row in ((letter_pdf, letter), (referral_pdf, made["referral_letter"])):
            upload = client.post("/v1/letters/verify", content=pdf, headers={"content-type": "application/pdf"}).json()
            assert upload["valid"] and upload["document_id"] == str(row["id"]) and upload["stored_copy_erased"]
            assert upload["message"].startswith("Surat ini asli")

        # the Kartu Kendali is read from the events: it prints, with the name erased
        card = client.get(f"/v1/letters/complaints/{story.complaint_id}/kartu-kendali.pdf", headers=staf)
        assert card.status_code == 200
        assert ERASED_NAME in text_of(card.content) and "Siti Aminah" not in text_of(card.content)

    # the task again (a redelivery): nothing more, the other complaint's bytes still there
    assert erase_task(letters, erased) == 0
    assert all(store.get(h) for h in shared)
    with letters.uow() as uow:
        assert {r["erased_at"] for r in uow.documents.of_complaint(story.complaint_id)} == {erased.occurred_at}

    # the other complaint erased in turn: the bytes nobody needs any more go (an erased row holds nothing)
    with letters.uow() as uow:
        assert uow.documents.erase(other, erased.occurred_at + timedelta(days=1)) == 1
        assert uow.esigned.erase(other, erased.occurred_at + timedelta(days=1)) == 1
        uow.commit()
    assert erase_task(letters, erased) == 0
    assert [p for h in shared for p in files_of(store, h)] == []


def test_a_document_task_after_the_erasure_makes_nothing(letters, place):
    """A draft's task that comes after the erasure (a redelivery, a relay behind): nothing rendered, nothing stored,
    nothing recorded; a task whose document exists answers the erased row."""
    world = World(letters)
    story = Story(world, place)
    received = story.received()
    receipt = handlers.issue_receipt(letters, received.event_id)
    story.clarified()
    late = story.drafted(own=True)
    files_before = sorted(p for p in letters.documents.root.rglob("*") if p.is_file())
    erased = erase(letters, story)
    assert handlers.erase_personal_data(letters, erased.event_id) == 1
    files_after_erasure = sorted(p for p in letters.documents.root.rglob("*") if p.is_file())
    assert len(files_after_erasure) == len(files_before) - 2  # the receipt's bytes and metadata

    assert handlers.render_draft(letters, late.event_id) is None
    again = handlers.issue_receipt(letters, received.event_id)
    assert again["id"] == receipt["id"] and again["erased_at"] == erased.occurred_at
    with letters.uow() as uow:
        assert uow.documents.of_source_event(late.event_id) is None
        assert [e.decode().complainant.name for e in uow.events.stream(story.stream)[:1]] == [ERASED_NAME]
    assert sorted(p for p in letters.documents.root.rglob("*") if p.is_file()) == files_after_erasure
