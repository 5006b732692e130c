"""Letters' flows, handler by handler, on the in-memory unit of work: what the worker does with the workflow's
events and what the verification page answers, without PostgreSQL (the same handlers on PostgreSQL:
tests/integration/test_letters.py; the fake is held to the real one by tests/contracts/letters_uow.py).
PDF rendering and signing are the real ones, with one development CA for the session."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime

import pytest
from pypdf import PdfReader

from services.letters import handlers
from services.letters.adapters.keys import SigningKeys
from services.letters.adapters.memory import LettersMemory
from services.letters.unit_of_work import StaffName
from shared.contracts import sop
from shared.contracts.intake import Attachment, Complainant
from shared.contracts.letters import LetterDocumentIssued
from shared.contracts.workflow import ComplaintReceived
from shared.events import Actor
from shared.storage import LocalDocumentStore
from tests.contracts.letters_uow import Story, new_place

NUMBER = "001/PP.01/435.300/2026"


def text_of(pdf: bytes) -> str:
    return "\n".join(page.extract_text() for page in PdfReader(io.BytesIO(pdf)).pages)


class World:
    """What the workflow and accounts wrote that letters reads, in memory (``Story`` appends to it)."""

    def __init__(self, memory: LettersMemory) -> None:
        self.memory = memory

    def append(self, stream_id, expected_version, events) -> None:
        self.memory.store.append(stream_id, expected_version, events)

    def add_staff(self, place, username, full_name, nip) -> None:
        self.memory.staff[username] = StaffName(full_name, nip)


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
def letters(memory, place, signing_keys, tmp_path):
    return handlers.Context(
        uow=memory.uow,
        directory={place.slug: place},
        documents=LocalDocumentStore(tmp_path / "documents"),
        keys=signing_keys,
        public_base_url="https://pengaduan.example",
    )


@pytest.fixture
def story(memory, place):
    """A complaint received, clarified and its letter drafted (version 1); the Camat is in the directory."""
    world = World(memory)
    world.add_staff(place, f"camat.{place.slug}", "Drs. H. Moh. Ma'ruf, M.Si.", "197001011990031001")
    complaint = Story(world, place)
    complaint.received()
    complaint.clarified()
    complaint.drafted()
    return complaint


def test_a_receipt_is_issued_once_even_when_the_event_is_redelivered(letters, memory, story):
    received = story.events[0]
    receipt = handlers.issue_receipt(letters, received.event_id)
    assert handlers.issue_receipt(letters, received.event_id) == receipt
    assert len(memory.documents) == 1
    assert (receipt["kind"], receipt["tracking_code"], receipt["complaint_id"]) == (
        "receipt",
        story.tracking_code,
        story.complaint_id,
    )
    assert receipt["released_at"] == received.occurred_at  # the complainant's at once
    content = text_of(letters.documents.get(receipt["sha256"]))
    assert story.tracking_code in content and "Siti Aminah" in content
    assert memory.sent == []  # nothing to tell anyone


def test_a_complaint_box_receipt_says_received_by_whom_what_and_the_promised_date(letters, memory, place):
    """A form from the complaint box, typed in by an officer: the receipt names the officer (from the staff
    directory), the files received and the SOP's date (the event's deadline_at, in the kabupaten's zone)."""
    world = World(memory)
    world.add_staff(place, "loket.uji", "Hj. Rofiqoh, S.Sos.", None)
    story = Story(world, place)
    scan = {"content_type": "image/jpeg", "size": 1000}
    received = story._add(
        ComplaintReceived(
            complaint_id=story.complaint_id,
            submission_id=uuid.uuid4(),
            tracking_code=story.tracking_code,
            kecamatan=place.slug,
            channel="kotak",
            complainant=Complainant(name="Siti Aminah"),
            subject="Jalan desa rusak",
            description="Jalan di Dusun Bunangka rusak sejak Januari.",
            received_at=datetime(2026, 11, 27, 2, 0, tzinfo=UTC),  # 09.00 WIB
            sop_version=sop.DEFAULT.version,
            deadline_at=datetime(2026, 12, 15, 10, 0, tzinfo=UTC),
            attachments=[Attachment(sha256="a" * 64, kind="kk", **scan), Attachment(sha256="b" * 64, **scan)],
            entered_at=datetime(2026, 11, 28, 1, 0, tzinfo=UTC),
            entered_by="loket.uji",
        ),
        Actor(kind="user", user_id="loket.uji", role="staf"),
        datetime(2026, 11, 28, 1, 0, tzinfo=UTC),
    )
    receipt = handlers.issue_receipt(letters, received.event_id)
    content = " ".join(text_of(letters.documents.get(receipt["sha256"])).split())
    for expected in (
        "Diterima : 27 November 2026 pukul 09.00 WIB",
        "Saluran : Kotak pengaduan",
        "Petugas penerima : Hj. Rofiqoh, S.Sos.",
        "Dokumen diterima : Salinan KK; Berkas lain",
        "Batas tanggapan : 15 Desember 2026",
        "Pengaduan Bapak/Ibu telah kami terima.",
    ):
        assert expected in content, expected
    assert "dicatat" not in content


def test_a_draft_is_rendered_once_per_version_and_every_version_kept(letters, memory, story):
    first = handlers.render_draft(letters, story.events[2].event_id)
    assert handlers.render_draft(letters, story.events[2].event_id) == first  # redelivered
    second = handlers.render_draft(letters, story.drafted(version=2).event_id)
    assert [(d["kind"], d["letter_version"]) for d in (first, second)] == [("draft", 1), ("draft", 2)]
    assert len(memory.documents) == 2 and first["letter_number"] is None
    content = text_of(letters.documents.get(second["sha256"]))
    assert "Tanggapan atas pengaduan jalan rusak" in content and "konsep 2" in content
    # the body as drafted, which is what will be signed: the clarification (step 5) is not pasted after it
    assert "Perbaikan jalan telah dijadwalkan bulan depan." not in content


def test_a_signed_letter_is_issued_once_with_its_document_id_derived_from_the_event(letters, memory, story, place):
    signed = story.signed(f"camat.{place.slug}")
    issued = handlers.issue_signed_letter(letters, signed.event_id)
    assert issued.document_id == issued.message_id == handlers.document_id_for(signed.event_id)
    assert (issued.complaint_id, issued.kecamatan, issued.letter_number) == (story.complaint_id, place.slug, NUMBER)
    assert issued.verify_url == f"https://pengaduan.example/v1/letters/verify/{issued.document_id}"
    assert [(h.consumer, h.task_id) for h in memory.sent] == [
        (LetterDocumentIssued.TASK, f"letter-issued:{issued.document_id}")
    ]
    assert memory.sent[0].payload == issued.model_dump(mode="json")
    assert (LetterDocumentIssued.TASK, issued.message_id) in memory.ledger

    again = handlers.issue_signed_letter(letters, signed.event_id)  # redelivered: the same letter, reported again
    assert again == issued and len(memory.sent) == 2 and len(memory.documents) == 1
    row = memory.documents[issued.document_id]
    assert (row["signer"], row["letter_number"], row["sha256"]) == ("Drs. H. Moh. Ma'ruf, M.Si.", NUMBER, issued.sha256)
    assert row["released_at"] is None
    content = text_of(letters.documents.get(issued.sha256))
    for expected in (NUMBER, "Siti Aminah", "Ma'ruf", "197001011990031001", "KECAMATAN UJI"):
        assert expected in content, expected


def test_a_letter_signed_by_a_plh_camat_says_so_with_the_delegate_s_name_rank_and_nip(letters, memory, story, place):
    """Issue #15 item 3: the Sekcam signs as Plh. Camat; the block reads "Plh. CAMAT <KECAMATAN>" above the
    Sekcam's own name, pangkat (golongan) and NIP."""
    sekcam = f"sekcam.{place.slug}"
    memory.staff[sekcam] = StaffName("Moh. Sekretaris, S.Sos.", "198001012005011002", "Pembina", "IV/a")
    signed = story.signed(sekcam, acting_for="camat", acting_kind="plh")
    issued = handlers.issue_signed_letter(letters, signed.event_id)
    content = text_of(letters.documents.get(issued.sha256))
    for expected in ("Plh. CAMAT UJI", "Moh. Sekretaris, S.Sos.", "Pembina (IV/a)", "NIP. 198001012005011002"):
        assert expected in content, expected
    assert "Ma'ruf" not in content  # not the absent Camat's


def test_a_letter_signed_by_someone_not_in_the_directory_carries_their_username(letters, memory, story):
    signed = story.signed("camat.pengganti")
    issued = handlers.issue_signed_letter(letters, signed.event_id)
    assert memory.documents[issued.document_id]["signer"] is None
    assert "camat.pengganti" in text_of(letters.documents.get(issued.sha256))


def test_an_event_of_another_kind_or_kecamatan_makes_nothing(letters, memory, story, place):
    with pytest.raises(LookupError, match="no LetterSigned event"):
        handlers.issue_signed_letter(letters, story.events[0].event_id)
    with pytest.raises(LookupError, match="no ComplaintReceived event"):
        handlers.issue_receipt(letters, uuid.uuid4())
    signed = story.signed(f"camat.{place.slug}")
    letters.directory = {}  # the kecamatan is no longer served here
    with pytest.raises(LookupError, match="not served here"):
        handlers.issue_signed_letter(letters, signed.event_id)
    assert memory.documents == {} and memory.sent == [] and memory.ledger == {}


def test_the_signed_letter_is_released_to_the_complainant_once(letters, memory, story, place):
    issued = handlers.issue_signed_letter(letters, story.signed(f"camat.{place.slug}").event_id)
    receipt = handlers.issue_receipt(letters, story.events[0].event_id)
    sent = story.sent()
    assert handlers.release_letter(letters, sent.event_id) == 1
    assert memory.documents[issued.document_id]["released_at"] == sent.occurred_at
    assert memory.documents[receipt["id"]]["released_at"] == story.events[0].occurred_at  # untouched
    assert handlers.release_letter(letters, sent.event_id) == 0  # redelivered: released already
    with pytest.raises(LookupError, match="no event"):
        handlers.release_letter(letters, uuid.uuid4())


def test_a_genuine_letter_is_verified_and_a_modified_or_unknown_one_refused(letters, memory, story, place):
    issued = handlers.issue_signed_letter(letters, story.signed(f"camat.{place.slug}").event_id)
    pdf = letters.documents.get(issued.sha256)

    row = handlers.signed_letter(letters, issued.document_id)  # the page behind the QR code
    genuine = handlers.check_letter(letters, pdf, row)
    assert genuine.valid and genuine.letter["letter_number"] == NUMBER and genuine.kecamatan_name == "Uji"
    assert handlers.check_upload(letters, pdf).letter["id"] == issued.document_id  # the same PDF, sent in

    i = pdf.index(b"/Type")  # any byte inside what the signature covers
    modified = handlers.check_upload(letters, pdf[:i] + b"/Tipe" + pdf[i + 5 :])
    assert not modified.valid and not modified.signature.intact and modified.letter is None
    appended = handlers.check_upload(letters, pdf + b"\n% appended\n")
    assert not appended.valid and appended.letter is None

    # signed with the kecamatan's own key, but not issued here: a valid signature, no letter on record
    other = Story(story.world, place)
    other.received()
    other.drafted()
    unknown = handlers.issue_signed_letter(letters, other.signed(f"camat.{place.slug}").event_id)
    unknown_pdf = letters.documents.get(unknown.sha256)
    del memory.documents[unknown.document_id]  # no record of it (as if made elsewhere with a stolen key)
    refused = handlers.check_upload(letters, unknown_pdf)
    assert refused.signature.valid and not refused.valid and refused.letter is None

    receipt = handlers.issue_receipt(letters, story.events[0].event_id)
    assert handlers.signed_letter(letters, receipt["id"]) is None  # a receipt is no letter
    assert handlers.signed_letter(letters, uuid.uuid4()) is None
