"""The contract every implementation of letters' unit of work must pass (in memory and PostgreSQL), so the fake
the unit tests run on cannot drift from the real one.

Subclass ``LettersUnitOfWorkContract`` and provide three fixtures: ``letters``, a ``handlers.Context`` on the
implementation (its directory serves ``place``, its keys are a development CA's, its broker is recorded);
``place``, a kecamatan of the test's own; and ``world``, a ``World`` on the same implementation: what the
workflow and accounts write that letters reads, and what letters handed the broker. Every test uses fresh
ids, so it runs beside whatever else a shared database holds.
"""

from __future__ import annotations

import dataclasses
import hashlib
import os
import threading
import uuid
from datetime import UTC, date, datetime, timedelta
from typing import Any, Protocol

import pytest

from services.letters import handlers
from shared.contracts import sop
from shared.contracts.intake import Complainant
from shared.contracts.letters import LetterDocumentIssued
from shared.contracts.tracking import new_tracking_code
from shared.contracts.workflow import (
    ClarificationGiven,
    ComplaintReceived,
    ComplaintReferred,
    ComplaintRegistered,
    DispositionIssued,
    DispositionRedirected,
    LetterDrafted,
    LetterDuplicated,
    LetterSigned,
    PersonalDataErased,
    ResponseSent,
)
from shared.events import Actor, Event, EventEnvelope, envelope
from shared.handoffs import Handoff
from shared.storage import DocumentStore, StoredObject
from shared.tenancy import Kecamatan

# recent, so that a letter signed "at" it falls within the development CA's certificates
AT = datetime.now(UTC).replace(microsecond=0) - timedelta(hours=1)


class World(Protocol):
    def append(self, stream_id: str, expected_version: int, events: list[EventEnvelope]) -> None:
        """Events as the workflow stores them."""

    def add_staff(self, place: Kecamatan, username: str, full_name: str, nip: str | None) -> None:
        """A Camat of ``place``, as accounts writes the staff directory."""

    def add_unit_head(self, place: Kecamatan, unit: str, username: str, full_name: str) -> None:
        """An active Kasi heading ``unit`` (a PP 17/2018 unit's code) of ``place``, as accounts writes them."""

    def sent(self) -> list[str]:
        """The task ids handed to the broker, in order."""

    def in_ledger(self, consumer: str, message_id: uuid.UUID) -> bool:
        """Whether letters' hand-off ledger holds the message."""


def new_place(suffix: str | None = None) -> Kecamatan:
    """A kecamatan of the test's own; a fixed ``suffix`` for tests that need no separate one (in memory), since
    the development CA makes each kecamatan's key on first use (a second or two of RSA)."""
    suffix = suffix or uuid.uuid4().hex[:8]
    letterhead = {"pemerintah": "PEMERINTAH KABUPATEN PAMEKASAN", "kecamatan": "KECAMATAN UJI", "city": "Uji"}
    return Kecamatan(f"surat-{suffix}", f"95.{suffix}", "Uji", "pamekasan", "Kabupaten Pamekasan", letterhead)


class Story:
    """A complaint's stream as the workflow writes it, an event at a time (the steps letters reacts to)."""

    def __init__(self, world: World, place: Kecamatan) -> None:
        self.world, self.place = world, place
        self.complaint_id = uuid.uuid4()
        self.stream = f"complaint-{self.complaint_id}"
        self.tracking_code = new_tracking_code(os.urandom(7))
        self.events: list[EventEnvelope] = []

    def _add(self, event: Event, actor: Actor, at: datetime) -> EventEnvelope:
        stored = envelope(
            event,
            event_id=uuid.uuid4(),
            stream_id=self.stream,
            version=len(self.events) + 1,
            kecamatan=self.place.slug,
            occurred_at=at,
            actor=actor,
            correlation_id=uuid.uuid4(),
        )
        self.world.append(self.stream, len(self.events), [stored])
        self.events.append(stored)
        return stored

    def received(self) -> EventEnvelope:
        return self._add(
            ComplaintReceived(
                complaint_id=self.complaint_id,
                submission_id=uuid.uuid4(),
                tracking_code=self.tracking_code,
                kecamatan=self.place.slug,
                channel="web",
                complainant=Complainant(name="Siti Aminah", address="Dusun Bunangka, Desa Uji"),
                subject="Jalan desa rusak",
                description="Jalan di Dusun Bunangka rusak sejak Januari.",
                received_at=AT,
                sop_version=sop.DEFAULT.version,  # the real one: other readers of a shared store replay it
            ),
            Actor.system("intake"),
            AT,
        )

    def clarified(self) -> EventEnvelope:
        explanation = "Perbaikan jalan telah dijadwalkan bulan depan."
        return self._add(
            ClarificationGiven(step=5, output="Klarifikasi", explanation=explanation),
            Actor(kind="user", user_id="kasi", role="kasi"),
            AT,
        )

    def drafted(self, version: int = 1, *, own: bool = False) -> EventEnvelope:
        """``own``: a body that names this complaint's tracking code, so that its PDF is this complaint's only (the
        same draft of two complaints, rendered on one day, is the same bytes: stored once)."""
        mark = f" ({self.tracking_code})" if own else ""
        return self._add(
            LetterDrafted(
                step=7,
                output="Konsep surat",
                letter_version=version,
                perihal="Tanggapan atas pengaduan jalan rusak",
                body=f"Menanggapi pengaduan Saudara (konsep {version}){mark}, perbaikan telah dijadwalkan.",
            ),
            Actor(kind="user", user_id="staf", role="staf"),
            AT,
        )

    def duplicated(self, tembusan: list[str] | None = None) -> EventEnvelope:
        """Step 9: the approved letter duplicated, with the offices its Tembusan names."""
        return self._add(
            LetterDuplicated(
                step=9, output="Surat digandakan", copies=["pengadu", "arsip"], tembusan=tembusan or [], next_step=10
            ),
            Actor(kind="user", user_id="staf", role="staf"),
            AT + timedelta(minutes=4),
        )

    def signed(
        self,
        camat: str,
        number: str = "001/PP.01/435.300/2026",
        version: int = 1,
        *,
        acting_for: str | None = None,
        acting_kind: str | None = None,
    ) -> EventEnvelope:
        """Signed by ``camat`` (a username); with ``acting_for``/``acting_kind``, by a delegate for that role."""
        role = "sekcam" if acting_for else "camat"
        return self._add(
            LetterSigned(step=10, output="Surat ditandatangani", letter_version=version, letter_number=number),
            Actor(kind="user", user_id=camat, role=role, acting_for=acting_for, acting_kind=acting_kind),
            AT + timedelta(minutes=5),
        )

    def sent(self) -> EventEnvelope:
        return self._add(
            ResponseSent(step=12, output="Surat dikirim", channel="pos"),
            Actor(kind="user", user_id="staf", role="staf"),
            AT + timedelta(minutes=10),
        )

    def erased(self, at: datetime | None = None) -> EventEnvelope:
        """The complainant's personal data erased, as the workflow appends it (it destroys the complaint's data key in
        the same transaction: the in-memory store has no keys; tests/integration/test_letters_erasure.py has both)."""
        return self._add(
            PersonalDataErased(reason="permintaan pengadu", requested_by="admin.uji", request_id=uuid.uuid4()),
            Actor(kind="user", user_id="admin.uji", role="admin"),
            at or AT + timedelta(days=30),
        )

    def registered(self, number: int = 12) -> EventEnvelope:
        return self._add(
            ComplaintRegistered(step=3, output="Tercatat", register_number=number, register_year=2026, next_step=4),
            Actor(kind="user", user_id="staf", role="staf"),
            AT + timedelta(minutes=2),
        )

    def disposed(
        self, camat: str, unit: str = "pemerintahan", *, acting_for: str | None = None, acting_kind: str | None = None
    ) -> EventEnvelope:
        """Step 4 by ``camat`` (a username; with ``acting_for``/``acting_kind``, a delegate) to ``unit``."""
        return self._add(
            DispositionIssued(
                step=4,
                output="Disposisi",
                unit=unit,
                instructions="Klarifikasi ke Kepala Desa dan laporkan hasilnya.",
                next_step=5,
            ),
            Actor(
                kind="user",
                user_id=camat,
                role="sekcam" if acting_for else "camat",
                acting_for=acting_for,
                acting_kind=acting_kind,
            ),
            AT + timedelta(minutes=3),
        )

    def redirected(self, camat: str, unit: str, previous_unit: str | None) -> EventEnvelope:
        return self._add(
            DispositionRedirected(
                unit=unit,
                previous_unit=previous_unit,
                instructions="Tangani sebagai urusan ketertiban.",
                reason="Bukan urusan pemerintahan desa.",
                next_due_at=AT + timedelta(days=2),
            ),
            Actor(kind="user", user_id=camat, role="camat"),
            AT + timedelta(minutes=4),
        )

    def referred(
        self,
        camat: str,
        number: str | None = "001/PELIMPAHAN/35.28.07/2026",
        *,
        acting_for: str | None = None,
        acting_kind: str | None = None,
    ) -> EventEnvelope:
        """Step 4: referred by ``camat`` with a surat pelimpahan numbered ``number`` (None: as before referrals
        had letters)."""
        return self._add(
            ComplaintReferred(
                agency="Dinas Pekerjaan Umum dan Penataan Ruang Kabupaten Pamekasan",
                agency_kind="opd",
                agency_address="Jl. Kabupaten No. 107, Pamekasan" if number else None,
                reason="Jalan tersebut berstatus jalan kabupaten.",
                follow_up_by=AT + timedelta(days=20) if number else None,
                letter_number=number,
                letter_sequence=1 if number else None,
                letter_year=2026 if number else None,
            ),
            Actor(
                kind="user",
                user_id=camat,
                role="sekcam" if acting_for else "camat",
                acting_for=acting_for,
                acting_kind=acting_kind,
            ),
            AT + timedelta(minutes=3),
        )


def a_document(place: Kecamatan, complaint_id: uuid.UUID | None = None, **fields: Any) -> dict[str, Any]:
    """A row as a handler writes it (a receipt unless ``fields`` say otherwise)."""
    return {
        "id": uuid.uuid4(),
        "source_event_id": uuid.uuid4(),
        "complaint_id": complaint_id or uuid.uuid4(),
        "tracking_code": new_tracking_code(os.urandom(7)),
        "kecamatan": place.slug,
        "kind": "receipt",
        "sha256": hashlib.sha256(os.urandom(8)).hexdigest(),
        "size": 1000,
        **fields,
    }


def a_letter(place: Kecamatan, complaint_id: uuid.UUID, **fields: Any) -> dict[str, Any]:
    return a_document(
        place,
        complaint_id,
        kind="response_letter",
        letter_version=1,
        letter_number="001/PP.01/435.300/2026",
        signer="Drs. Camat",
        signed_on=date(2026, 3, 2),
        **fields,
    )


def an_esigned(place: Kecamatan, complaint_id: uuid.UUID, **fields: Any) -> dict[str, Any]:
    """A ``letters.esigned`` row as step 10 through BSrE keeps it."""
    return {
        "event_id": uuid.uuid4(),
        "complaint_id": complaint_id,
        "kecamatan": place.slug,
        "letter_version": 1,
        "letter_number": "000.8.3.4/1/432.407/2026",
        "signer": "camat.uji",
        "sha256": hashlib.sha256(os.urandom(8)).hexdigest(),
        "size": 1234,
        **fields,
    }


class DeletesFailing:
    """The document store, whose deletes fail (as a store out of reach does) after the first ``succeed`` of them."""

    def __init__(self, store: DocumentStore, succeed: int) -> None:
        self.store, self.left = store, succeed

    def put(self, data: bytes, content_type: str) -> StoredObject:
        return self.store.put(data, content_type)

    def get(self, sha256: str) -> bytes:
        return self.store.get(sha256)

    def exists(self, sha256: str) -> bool:
        return self.store.exists(sha256)

    def stat(self, sha256: str) -> StoredObject | None:
        return self.store.stat(sha256)

    def delete(self, sha256: str) -> bool:
        if self.left <= 0:
            raise ConnectionError("the document store is out of reach")
        self.left -= 1
        return self.store.delete(sha256)


def a_handoff() -> Handoff:
    message_id = uuid.uuid4()
    return Handoff(
        consumer=LetterDocumentIssued.TASK,
        message_id=message_id,
        queue=LetterDocumentIssued.QUEUE,
        task_id=f"letter-issued:{message_id}",
        payload={"message_id": str(message_id)},
    )


class LettersUnitOfWorkContract:
    # -- the documents -------------------------------------------------------------------------------------
    def test_a_document_is_read_back_in_the_unit_and_kept_by_commit(self, letters, place):
        values = a_document(place)
        with letters.uow() as uow:
            row = uow.documents.add(values)
            assert uow.documents.get(values["id"]) == row
            uow.commit()
        assert row | values == row and row["created_at"] is not None and row["letter_number"] is None
        with letters.uow() as uow:
            assert uow.documents.get(values["id"]) == row
            assert uow.documents.of_source_event(values["source_event_id"]) == row
            assert uow.documents.get(uuid.uuid4()) is None
            assert uow.documents.of_source_event(uuid.uuid4()) is None

    def test_a_unit_left_without_commit_keeps_nothing(self, letters, place, world):
        values, handoff = a_document(place), a_handoff()

        def handler() -> None:
            with letters.uow() as uow:
                uow.documents.add(values)
                uow.outbox.add(handoff)
                raise RuntimeError("the handler failed")

        with pytest.raises(RuntimeError):
            handler()
        with letters.uow() as uow:
            uow.documents.add(a_document(place, source_event_id=values["source_event_id"]))  # not committed either
        with letters.uow() as uow:
            assert uow.documents.get(values["id"]) is None
            assert uow.documents.of_source_event(values["source_event_id"]) is None
        assert handoff.task_id not in world.sent()
        assert not world.in_ledger(handoff.consumer, handoff.message_id)

    def test_one_document_per_source_event_the_first_kept(self, letters, place):
        first = a_document(place)
        second = a_document(place, source_event_id=first["source_event_id"], kind="draft")
        with letters.uow() as uow:
            kept = uow.documents.add(first)
            assert uow.documents.add(second) == kept  # in the same unit
            uow.commit()
        with letters.uow() as uow:
            assert uow.documents.add(second) == kept  # in a later one
            uow.commit()
        with letters.uow() as uow:
            assert uow.documents.get(second["id"]) is None and uow.documents.get(first["id"])["kind"] == "receipt"

    def test_a_letter_signed_through_bsre_is_kept_once_by_its_event_and_only_by_commit(self, letters, place):
        """``letters.esigned`` (docs/adr/0016): the first PDF kept for an event id stays; a unit left without commit
        keeps nothing."""
        event_id = uuid.uuid4()
        values = {
            "event_id": event_id,
            "complaint_id": uuid.uuid4(),
            "kecamatan": place.slug,
            "letter_version": 1,
            "letter_number": "000.8.3.4/1/432.407/2026",
            "signer": "camat.uji",
            "sha256": "a" * 64,
            "size": 1234,
        }
        with letters.uow() as uow:
            uow.esigned.add({**values, "event_id": uuid.uuid4()})  # never committed
        with letters.uow() as uow:
            kept = uow.esigned.add(values)
            assert uow.esigned.add({**values, "sha256": "b" * 64}) == kept  # the first stays
            uow.commit()
        assert kept | values == kept and kept["created_at"] is not None
        with letters.uow() as uow:
            assert uow.esigned.get(event_id) == kept and uow.esigned.add({**values, "size": 1}) == kept
            assert uow.esigned.get(uuid.uuid4()) is None

    def test_concurrent_units_adding_one_events_document_keep_one(self, letters, place):
        source = uuid.uuid4()
        rows: list[dict] = []
        failures: list[BaseException] = []
        barrier = threading.Barrier(4)

        def writer(i: int) -> None:
            barrier.wait()
            try:
                with letters.uow() as uow:
                    row = uow.documents.add(a_document(place, source_event_id=source, size=i))
                    uow.commit()
                rows.append(row)
            except BaseException as exc:  # reported by the assertion below
                failures.append(exc)

        threads = [threading.Thread(target=writer, args=(i,)) for i in range(4)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        assert failures == []
        assert len(rows) == 4 and all(row == rows[0] for row in rows)  # every writer answers the one kept
        with letters.uow() as uow:
            assert uow.documents.of_source_event(source) == rows[0]

    def test_a_complaints_documents_oldest_first_and_the_newest_by_tracking_code(self, letters, place):
        complaint_id, code = uuid.uuid4(), new_tracking_code(os.urandom(7))
        receipt = a_document(place, complaint_id, tracking_code=code)
        drafts = [a_document(place, complaint_id, tracking_code=code, kind="draft", letter_version=v) for v in (1, 2)]
        for values in (receipt, *drafts):  # one unit each: created in this order
            with letters.uow() as uow:
                uow.documents.add(values)
                uow.commit()
        with letters.uow() as uow:
            uow.documents.add(a_document(place))  # another complaint's
            uow.commit()
        with letters.uow() as uow:
            assert [r["id"] for r in uow.documents.of_complaint(complaint_id)] == [
                receipt["id"],
                drafts[0]["id"],
                drafts[1]["id"],
            ]
            assert uow.documents.newest(code, "draft")["id"] == drafts[1]["id"]
            assert uow.documents.newest(code, "receipt")["id"] == receipt["id"]
            assert uow.documents.newest(code, "response_letter") is None
            assert uow.documents.of_complaint(uuid.uuid4()) == []

    def test_the_signed_letter_with_given_bytes(self, letters, place):
        complaint_id = uuid.uuid4()
        letter = a_letter(place, complaint_id)
        referral = {**a_letter(place, complaint_id), "kind": "referral_letter", "letter_number": "001/PELIMPAHAN/1"}
        draft = a_document(place, complaint_id, kind="draft", letter_version=1)
        sheet = a_document(place, complaint_id, kind="disposition_sheet")
        with letters.uow() as uow:
            for values in (letter, referral, draft, sheet):
                uow.documents.add(values)
            assert uow.documents.signed_letter_with(letter["sha256"])["id"] == letter["id"]  # its own write
            uow.commit()
        with letters.uow() as uow:
            assert uow.documents.signed_letter_with(letter["sha256"])["letter_number"] == letter["letter_number"]
            assert uow.documents.signed_letter_with(referral["sha256"])["kind"] == "referral_letter"
            assert uow.documents.signed_letter_with(draft["sha256"]) is None  # a draft is no letter
            assert uow.documents.signed_letter_with(sheet["sha256"]) is None  # nor a disposition sheet
            assert uow.documents.signed_letter_with("0" * 64) is None

    def test_release_makes_a_complaints_response_letters_the_complainants_once(self, letters, place):
        complaint_id = uuid.uuid4()
        letter, receipt = a_letter(place, complaint_id), a_document(place, complaint_id)
        other = a_letter(place, uuid.uuid4())
        with letters.uow() as uow:
            for values in (letter, receipt, other):
                uow.documents.add(values)
            uow.commit()
        with letters.uow() as uow:
            assert uow.documents.release(complaint_id, AT) == 1
            assert uow.documents.get(letter["id"])["released_at"] == AT  # the unit reads its own writes
            uow.commit()
        with letters.uow() as uow:
            assert uow.documents.release(complaint_id, AT + timedelta(days=1)) == 0  # released already
            assert uow.documents.get(letter["id"])["released_at"] == AT
            assert uow.documents.get(receipt["id"])["released_at"] is None
            assert uow.documents.get(other["id"])["released_at"] is None
        with letters.uow() as uow:
            assert uow.documents.release(other["complaint_id"], AT) == 1  # not committed: nothing
        with letters.uow() as uow:
            assert uow.documents.get(other["id"])["released_at"] is None

    def test_the_newest_released_letter_is_the_one_sent_while_a_newer_waits(self, letters, place):
        """docs/adr/0020: a reopened complaint's first letter stays the complainant's until the second is sent."""
        complaint_id, code = uuid.uuid4(), new_tracking_code(os.urandom(7))
        first = a_letter(place, complaint_id, tracking_code=code)
        with letters.uow() as uow:
            uow.documents.add(first)
            uow.documents.release(complaint_id, AT)
            uow.commit()
        second = {**a_letter(place, complaint_id, tracking_code=code), "letter_version": 3, "letter_number": "002/2026"}
        with letters.uow() as uow:
            uow.documents.add(second)
            uow.commit()
        with letters.uow() as uow:
            assert uow.documents.newest(code, "response_letter")["id"] == second["id"]
            assert uow.documents.newest(code, "response_letter", released=True)["id"] == first["id"]
            uow.documents.release(complaint_id, AT + timedelta(days=9))
            uow.commit()
        with letters.uow() as uow:
            assert uow.documents.newest(code, "response_letter", released=True)["id"] == second["id"]

    # -- what letters reads of others ----------------------------------------------------------------------
    def test_the_workflows_events_by_id_and_by_stream(self, place, world, letters):
        story = Story(world, place)
        received, clarified = story.received(), story.clarified()
        with letters.uow() as uow:
            assert uow.events.get(clarified.event_id).decode() == clarified.decode()
            assert uow.events.get(uuid.uuid4()) is None
            assert [e.event_id for e in uow.events.stream(story.stream)] == [received.event_id, clarified.event_id]
            assert uow.events.stream(f"complaint-{uuid.uuid4()}") == []

    def test_the_complainants_data_may_be_written_until_the_complaint_is_erased(self, place, world, letters):
        """``hold_personal_data``: True before the erasure (on PostgreSQL the erasure then waits for the unit:
        tests/integration/test_erasure_races.py), False after it."""
        story = Story(world, place)
        story.received()
        with letters.uow() as uow:
            assert uow.events.hold_personal_data(story.complaint_id)
        story.erased()
        with letters.uow() as uow:
            assert not uow.events.hold_personal_data(story.complaint_id)

    def test_the_staff_directorys_name_and_nip(self, place, world, letters):
        username = f"camat.{place.slug}"
        world.add_staff(place, username, "Drs. H. Moh. Ma'ruf, M.Si.", "197001011990031001")
        with letters.uow() as uow:
            found = uow.staff.get(username)
            assert (found.full_name, found.nip) == ("Drs. H. Moh. Ma'ruf, M.Si.", "197001011990031001")
            assert uow.staff.get(f"nobody.{place.slug}") is None

    def test_the_unit_directorys_unit_and_its_head(self, place, world, letters):
        world.add_unit_head(place, "trantib", f"kasi.trantib.{place.slug}", "Moh. Trantib, S.H.")
        with letters.uow() as uow:
            found = uow.units.get(place.slug, "trantib")
            assert (found.unit.title, found.head_name) == (
                "Seksi Ketenteraman dan Ketertiban Umum",
                "Moh. Trantib, S.H.",
            )
            assert found.head_username == f"kasi.trantib.{place.slug}"
            headless = uow.units.get(place.slug, "kesra")  # a unit of the kecamatan without a head yet
            assert headless is not None and headless.head_name is None
            assert uow.units.get(place.slug, "tidak-ada") is None
            assert uow.units.get(f"lain-{place.slug}", "trantib") is None

    # -- the outbox ---------------------------------------------------------------------------------------------
    def test_the_outbox_hands_its_messages_on_after_the_commit_and_keeps_them_in_the_ledger(self, letters, world):
        handoff = a_handoff()
        with letters.uow() as uow:
            uow.outbox.add(handoff)
            assert handoff.task_id not in world.sent()  # not before the commit
            uow.commit()
        assert world.sent().count(handoff.task_id) == 1
        assert world.in_ledger(handoff.consumer, handoff.message_id)
        with letters.uow() as uow:  # the same message again (a redelivered task): sent again, one ledger row
            uow.outbox.add(handoff)
            uow.commit()
        assert world.sent().count(handoff.task_id) == 2
        assert world.in_ledger(handoff.consumer, handoff.message_id)

    # -- the handlers on it: a small scenario ------------------------------------------------------------------
    def test_a_complaint_receipt_draft_signed_letter_and_release(self, letters, place, world):
        camat = f"camat.{place.slug}"
        world.add_staff(place, camat, "Drs. Camat Uji", "197001011990031001")
        story = Story(world, place)
        received = story.received()
        receipt = handlers.issue_receipt(letters, received.event_id)
        assert handlers.issue_receipt(letters, received.event_id) == receipt  # the redelivered copy
        story.clarified()
        draft = handlers.render_draft(letters, story.drafted().event_id)
        signed = story.signed(camat)
        issued = handlers.issue_signed_letter(letters, signed.event_id)
        again = handlers.issue_signed_letter(letters, signed.event_id)
        assert again == issued and issued.document_id == handlers.document_id_for(signed.event_id)
        assert world.sent().count(f"letter-issued:{issued.document_id}") == 2  # reported again, one letter
        assert world.in_ledger(LetterDocumentIssued.TASK, issued.message_id)
        assert handlers.release_letter(letters, story.sent().event_id) == 1
        with letters.uow() as uow:
            rows = uow.documents.of_complaint(story.complaint_id)
        assert [(r["kind"], r["id"]) for r in rows] == [
            ("receipt", receipt["id"]),
            ("draft", draft["id"]),
            ("response_letter", issued.document_id),
        ]
        letter = rows[2]
        assert (letter["signer"], letter["letter_number"], letter["sha256"]) == (
            "Drs. Camat Uji",
            "001/PP.01/435.300/2026",
            issued.sha256,
        )
        assert letter["released_at"] == story.events[-1].occurred_at
        assert handlers.check_upload(letters, letters.documents.get(issued.sha256)).valid

    # -- a complainant's personal data erased (docs/adr/0017) -----------------------------------------------------
    def test_erase_marks_a_complaints_documents_once_keeping_the_record_without_perihal(self, letters, place):
        complaint_id = uuid.uuid4()
        receipt = a_document(place, complaint_id, perihal="Tanda Terima Pengaduan")
        draft = a_document(place, complaint_id, kind="draft", letter_version=1, perihal="Tanggapan untuk Bu Siti")
        letter = a_letter(place, complaint_id, perihal="Tanggapan untuk Bu Siti")
        other = a_document(place, perihal="Tanda Terima Pengaduan")
        with letters.uow() as uow:
            for values in (receipt, draft, letter, other):
                uow.documents.add(values)
            uow.commit()
        with letters.uow() as uow:
            assert uow.documents.erase(complaint_id, AT) == 3  # not committed: nothing
        with letters.uow() as uow:
            assert uow.documents.get(letter["id"])["erased_at"] is None
            assert uow.documents.erase(complaint_id, AT) == 3
            assert uow.documents.get(letter["id"])["erased_at"] == AT  # the unit reads its own writes
            uow.commit()
        with letters.uow() as uow:
            assert uow.documents.erase(complaint_id, AT + timedelta(days=1)) == 0  # erased already
            rows = {r["id"]: r for r in uow.documents.of_complaint(complaint_id)}
            kept = uow.documents.get(other["id"])
            found = uow.documents.signed_letter_with(letter["sha256"])
        assert {r["erased_at"] for r in rows.values()} == {AT} and {r["perihal"] for r in rows.values()} == {None}
        signed = rows[letter["id"]]
        assert (signed["letter_number"], signed["signed_on"], signed["sha256"], signed["signer"]) == (
            letter["letter_number"],
            letter["signed_on"],
            letter["sha256"],
            letter["signer"],
        )
        assert found is not None and found["id"] == letter["id"]  # an uploaded copy still finds its record
        assert kept["erased_at"] is None and kept["perihal"] == "Tanda Terima Pengaduan"

    def test_a_complaints_letters_signed_through_bsre_are_erased_once(self, letters, place):
        complaint_id = uuid.uuid4()
        mine = [an_esigned(place, complaint_id), an_esigned(place, complaint_id, letter_version=2)]
        other = an_esigned(place, uuid.uuid4())
        with letters.uow() as uow:
            for values in (*mine, other):
                uow.esigned.add(values)
            uow.commit()
        with letters.uow() as uow:
            assert sorted(r["event_id"] for r in uow.esigned.of_complaint(complaint_id)) == sorted(
                v["event_id"] for v in mine
            )
            assert uow.esigned.of_complaint(uuid.uuid4()) == []
            assert uow.esigned.erase(complaint_id, AT) == 2
            assert {r["erased_at"] for r in uow.esigned.of_complaint(complaint_id)} == {AT}
            uow.commit()
        with letters.uow() as uow:
            assert uow.esigned.erase(complaint_id, AT + timedelta(days=1)) == 0
            assert uow.esigned.get(mine[0]["event_id"])["erased_at"] == AT
            assert uow.esigned.get(mine[0]["event_id"])["sha256"] == mine[0]["sha256"]  # the record stays
            assert uow.esigned.get(other["event_id"])["erased_at"] is None

    def test_the_pdfs_another_complaint_still_needs(self, letters, place):
        """The store is content-addressed: bytes a row of another complaint holds (a document or a letter signed
        through BSrE) stay; bytes only this complaint's rows, or only erased rows elsewhere, hold may go."""
        mine, theirs, erased_one = uuid.uuid4(), uuid.uuid4(), uuid.uuid4()
        by_document, by_esigned, by_erased, own_only = (hashlib.sha256(os.urandom(8)).hexdigest() for _ in range(4))
        with letters.uow() as uow:
            uow.documents.add(a_document(place, mine, sha256=by_document))
            uow.documents.add(a_letter(place, mine, sha256=by_esigned))
            uow.esigned.add(an_esigned(place, mine, sha256=own_only))
            uow.documents.add(a_document(place, mine, kind="draft", sha256=own_only))
            uow.documents.add(a_document(place, theirs, sha256=by_document))
            uow.esigned.add(an_esigned(place, theirs, sha256=by_esigned))
            uow.documents.add(a_document(place, erased_one, sha256=by_erased))
            uow.commit()
        with letters.uow() as uow:
            uow.documents.erase(erased_one, AT)
            uow.commit()
        with letters.uow() as uow:
            asked = {by_document, by_esigned, by_erased, own_only}
            assert uow.documents.kept_elsewhere(asked, mine) == {by_document, by_esigned}
            assert uow.documents.kept_elsewhere(asked, theirs) == {by_document, by_esigned, own_only}
            assert uow.documents.kept_elsewhere(set(), mine) == set()
            uow.documents.erase(theirs, AT)
            uow.esigned.erase(theirs, AT)
            assert uow.documents.kept_elsewhere(asked, mine) == set()  # the unit reads its own writes

    def test_erasure_deletes_every_pdf_of_the_complaint_and_keeps_its_records(self, letters, place, world):
        """Receipt, Lembar Disposisi, surat pelimpahan, drafts, the signed response letter and a letter signed through
        BSrE: rows marked, PDFs gone from the store, except bytes another complaint's row holds; a redelivery does
        nothing more, a signed letter's copy someone holds is still recognised as issued, and a document task that
        comes after the erasure makes nothing."""
        camat = f"camat.{place.slug}"
        world.add_staff(place, camat, "Drs. Camat Uji", "197001011990031001")
        story = Story(world, place)
        receipt = handlers.issue_receipt(letters, story.received().event_id)
        story.registered()
        sheet = handlers.issue_disposition_sheet(letters, story.disposed(camat).event_id)
        referral = handlers.issue_referral_letter(letters, story.referred(camat).event_id)
        story.clarified()
        draft = handlers.render_draft(letters, story.drafted(own=True).event_id)
        late_draft = story.drafted(version=2, own=True)  # its task comes only after the erasure
        story.duplicated()
        issued = handlers.issue_signed_letter(letters, story.signed(camat, version=2).event_id)
        handlers.release_letter(letters, story.sent().event_id)
        bsre = letters.documents.put(b"%PDF-1.7\n% ditandatangani BSrE " + os.urandom(8), "application/pdf")
        other = uuid.uuid4()
        with letters.uow() as uow:
            uow.esigned.add(an_esigned(place, story.complaint_id, sha256=bsre.sha256, size=bsre.size))
            # another complaint's row holding the very bytes of this one's Lembar Disposisi (deduplicated)
            uow.documents.add(a_document(place, other, kind="disposition_sheet", sha256=sheet["sha256"]))
            uow.commit()
        letter_pdf = letters.documents.get(issued.sha256)
        erased = story.erased()

        marked = handlers.erase_personal_data(letters, erased.event_id)

        assert marked == 6  # five documents, one letter signed through BSrE
        with letters.uow() as uow:
            rows = uow.documents.of_complaint(story.complaint_id)
            esigned = uow.esigned.of_complaint(story.complaint_id)
        assert sorted(r["id"] for r in rows) == sorted(
            [receipt["id"], sheet["id"], referral["id"], draft["id"], issued.document_id]
        )
        assert {r["erased_at"] for r in [*rows, *esigned]} == {erased.occurred_at}
        assert {r["perihal"] for r in rows} == {None}
        gone = {r["sha256"] for r in [*rows, *esigned]} - {sheet["sha256"]}
        assert len(gone) == 5 and not any(letters.documents.exists(h) for h in gone)
        assert letters.documents.exists(sheet["sha256"])  # the other complaint still needs it
        check = handlers.check_upload(letters, letter_pdf)
        assert check.valid and check.letter["id"] == issued.document_id and check.letter["erased_at"] is not None

        assert handlers.erase_personal_data(letters, erased.event_id) == 0  # the task again: nothing more
        with letters.uow() as uow:
            assert {r["erased_at"] for r in uow.documents.of_complaint(story.complaint_id)} == {erased.occurred_at}
        assert letters.documents.exists(sheet["sha256"])
        assert handlers.render_draft(letters, late_draft.event_id) is None  # nothing made for an erased complaint
        assert handlers.issue_receipt(letters, story.events[0].event_id) == {**receipt, **_erased(rows, receipt)}
        with letters.uow() as uow:
            assert uow.documents.of_source_event(late_draft.event_id) is None
            assert len(uow.documents.of_complaint(story.complaint_id)) == 5

    def test_pdfs_left_by_a_failed_delete_are_deleted_by_the_next_run(self, letters, place, world):
        """The rows are marked in one transaction, the PDFs deleted after it: a store out of reach halfway fails the
        task, and its next run (a retry, or a dead letter replayed) deletes what is left, marking nothing more."""
        story = Story(world, place)
        handlers.issue_receipt(letters, story.received().event_id)
        story.clarified()
        handlers.render_draft(letters, story.drafted(version=1, own=True).event_id)
        handlers.render_draft(letters, story.drafted(version=2, own=True).event_id)
        erased = story.erased()
        with letters.uow() as uow:
            pdfs = [r["sha256"] for r in uow.documents.of_complaint(story.complaint_id)]
        assert len(set(pdfs)) == 3
        failing = dataclasses.replace(letters, documents=DeletesFailing(letters.documents, succeed=1))
        with pytest.raises(ConnectionError):
            handlers.erase_personal_data(failing, erased.event_id)
        assert sum(letters.documents.exists(h) for h in pdfs) == 2  # one deleted, then the store went away
        with letters.uow() as uow:
            assert all(r["erased_at"] is not None for r in uow.documents.of_complaint(story.complaint_id))
        assert handlers.erase_personal_data(letters, erased.event_id) == 0
        assert not any(letters.documents.exists(h) for h in pdfs)


def _erased(rows: list[dict[str, Any]], document: dict[str, Any]) -> dict[str, Any]:
    """What erasure changed in ``document``'s row."""
    row = next(r for r in rows if r["id"] == document["id"])
    return {"erased_at": row["erased_at"], "perihal": None}
