"""The SOP's instruments through letters' handlers on the in-memory unit of work (the worker's path without
PostgreSQL; on PostgreSQL: tests/integration/test_letters_instruments.py): the Lembar Disposisi of each
disposition, the signed surat pelimpahan of a referral, the Kartu Kendali on demand, a letter signed a.n. the
Camat. Rendering and signing are the real ones."""

from __future__ import annotations

import io
import uuid
from datetime import timedelta

import pytest
from pypdf import PdfReader

from services.letters import handlers
from services.letters.adapters.keys import SigningKeys
from services.letters.adapters.memory import LettersMemory
from services.letters.adapters.signing import SIGNATURE_FIELD
from services.letters.adapters.verification import verify_pdf
from services.letters.unit_of_work import StaffName
from shared.storage import LocalDocumentStore
from tests.contracts.letters_uow import AT, Story, new_place
from tests.unit.test_letters_uow_memory import MemoryWorld

REFERRAL_NUMBER = "001/PELIMPAHAN/35.28.07/2026"


def text_of(pdf: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages)


@pytest.fixture(scope="session")
def signing_keys(tmp_path_factory) -> SigningKeys:
    folder = tmp_path_factory.getbasetemp() / "letters-signing"
    folder.mkdir(exist_ok=True)
    return SigningKeys(folder, production=False)


@pytest.fixture
def place():
    return new_place("unit")


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
def world(memory, place):
    """The Camat, the Sekcam and the head of Seksi Pemerintahan in the directories."""
    w = MemoryWorld(memory)
    memory.staff[f"camat.{place.slug}"] = StaffName(
        "Drs. H. Moh. Ma'ruf, M.Si.", "197001011990031001", "Pembina", "IV/a"
    )
    memory.staff[f"sekcam.{place.slug}"] = StaffName("Moh. Sekretaris, S.Sos.", "198001012005011002", "Penata", "III/c")
    w.add_unit_head(place, "pemerintahan", f"kasi.{place.slug}", "Moh. Kasi, S.Sos.")
    return w


@pytest.fixture
def story(world, place):
    """A complaint received and registered (Nomor Agenda 12/2026)."""
    complaint = Story(world, place)
    complaint.received()
    complaint.registered()
    return complaint


# -- the Lembar Disposisi ----------------------------------------------------------------------------------------


def test_a_disposition_gets_its_sheet_once_addressed_to_the_units_head(letters, memory, story, place):
    disposed = story.disposed(f"camat.{place.slug}")
    sheet = handlers.issue_disposition_sheet(letters, disposed.event_id)
    assert handlers.issue_disposition_sheet(letters, disposed.event_id) == sheet  # the task ran twice
    assert len(memory.documents) == 1
    assert (sheet["kind"], sheet["complaint_id"], sheet["tracking_code"]) == (
        "disposition_sheet",
        story.complaint_id,
        story.tracking_code,
    )
    assert sheet["id"] == uuid.uuid5(handlers.NAMESPACE, f"disposition:{disposed.event_id}")
    assert (sheet["perihal"], sheet["signer"]) == (
        "Lembar Disposisi kepada Kepala Seksi Pemerintahan",
        "Drs. H. Moh. Ma'ruf, M.Si.",
    )
    assert sheet["letter_number"] is None and sheet["released_at"] is None  # internal paper, never the complainant's
    assert not handlers.is_signed_letter(sheet)
    text = text_of(letters.documents.get(sheet["sha256"]))
    for expected in (
        "LEMBAR DISPOSISI",
        "Siti Aminah (Formulir web)",
        story.tracking_code,
        "12/2026",
        "Jalan desa rusak",
        "Kepala Seksi Pemerintahan",
        "Moh. Kasi, S.Sos.",
        "Klarifikasi ke Kepala Desa dan laporkan hasilnya.",
        "CAMAT UJI",
        "Drs. H. Moh. Ma'ruf, M.Si.",
        "Pembina (IV/a)",
        "NIP. 197001011990031001",
    ):
        assert expected in text, expected
    assert memory.sent == []  # nobody waits for it


def test_a_redirect_gets_a_sheet_of_its_own_naming_the_unit_it_left(letters, memory, story, place):
    first = handlers.issue_disposition_sheet(letters, story.disposed(f"camat.{place.slug}").event_id)
    redirect = story.redirected(f"camat.{place.slug}", "trantib", "pemerintahan")
    second = handlers.issue_disposition_sheet(letters, redirect.event_id)
    assert first["id"] != second["id"] and len(memory.documents) == 2
    text = text_of(letters.documents.get(second["sha256"]))
    for expected in (
        "(Pengalihan Disposisi)",
        "Dialihkan dari Seksi Pemerintahan. Alasan: Bukan urusan pemerintahan desa.",
        "Kepala Seksi Ketenteraman dan Ketertiban Umum",  # headless: its title only
        "Tangani sebagai urusan ketertiban.",
    ):
        assert expected in text, expected


def test_a_unit_the_directory_does_not_know_prints_by_its_usual_name_or_as_written(letters, memory, story, place):
    memory.units.clear()  # the organisation unreadable, or a unit retired and gone
    known = handlers.issue_disposition_sheet(letters, story.disposed(f"camat.{place.slug}", "kesra").event_id)
    assert "Kepala Seksi Kesejahteraan Sosial" in text_of(letters.documents.get(known["sha256"]))
    old = story.redirected(f"camat.{place.slug}", "pemberdayaan", "Seksi Pembangunan Desa")  # free text of old
    written = handlers.issue_disposition_sheet(letters, old.event_id)
    assert "Dialihkan dari Seksi Pembangunan Desa" in text_of(letters.documents.get(written["sha256"]))


def test_a_plh_camats_disposition_is_signed_plh(letters, story, place):
    disposed = story.disposed(f"sekcam.{place.slug}", acting_for="camat", acting_kind="plh")
    text = text_of(letters.documents.get(handlers.issue_disposition_sheet(letters, disposed.event_id)["sha256"]))
    assert "Plh. CAMAT UJI" in text and "Moh. Sekretaris, S.Sos." in text and "Ma'ruf" not in text


def test_an_event_of_another_kind_makes_no_sheet(letters, memory, story):
    with pytest.raises(LookupError, match="no DispositionIssued or DispositionRedirected event"):
        handlers.issue_disposition_sheet(letters, story.events[0].event_id)
    assert memory.documents == {}


# -- the surat pelimpahan ------------------------------------------------------------------------------------------


def test_a_referral_gets_its_numbered_letter_signed_with_the_kecamatans_key_once(
    letters, memory, story, place, signing_keys
):
    referred = story.referred(f"camat.{place.slug}")
    letter = handlers.issue_referral_letter(letters, referred.event_id)
    assert handlers.issue_referral_letter(letters, referred.event_id) == letter  # the task ran twice
    assert len(memory.documents) == 1
    assert letter["id"] == handlers.document_id_for(referred.event_id)
    assert (letter["kind"], letter["letter_number"], letter["signer"], letter["signed_on"]) == (
        "referral_letter",
        REFERRAL_NUMBER,
        "Drs. H. Moh. Ma'ruf, M.Si.",
        referred.occurred_at.astimezone(place.time_zone).date(),
    )
    agency = "Dinas Pekerjaan Umum dan Penataan Ruang Kabupaten Pamekasan"
    assert letter["perihal"] == f"Pelimpahan Pengaduan Masyarakat kepada {agency}"
    pdf = letters.documents.get(letter["sha256"])
    text = text_of(pdf)
    for expected in (
        REFERRAL_NUMBER,
        "1 (satu) berkas",
        "Pelimpahan Pengaduan Masyarakat",
        "Yth. Dinas Pekerjaan Umum dan Penataan Ruang Kabupaten Pamekasan",
        "Jl. Kabupaten No. 107, Pamekasan",
        story.tracking_code,
        "Siti Aminah",
        "Jalan di Dusun Bunangka rusak sejak Januari.",
        "Jalan tersebut berstatus jalan kabupaten.",
        "CAMAT UJI",
        "NIP. 197001011990031001",
        "1. Yth. Sdr. Siti Aminah selaku pengadu",
        "2. Arsip",
    ):
        assert expected in text, expected

    # PAdES, in the Camat's field, covering the number; valid, unchanged and chaining to the kecamatan's CA
    from pyhanko.pdf_utils.reader import PdfFileReader

    (signature,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    assert signature.field_name == SIGNATURE_FIELD
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    assert signature.sig_object["/Reason"] == f"Surat pelimpahan pengaduan {story.tracking_code}"
    _start, covered, _second, _length = (int(x) for x in signature.sig_object["/ByteRange"])
    assert 0 <= pdf.index(REFERRAL_NUMBER.encode()) < covered
    verdict = verify_pdf(pdf, signing_keys.trust_roots())
    assert verdict.valid and verdict.intact and verdict.trusted, verdict.reason
    assert verdict.signed_at == referred.occurred_at
    assert memory.sent == []


def test_a_referral_recorded_before_referrals_had_letters_makes_nothing(letters, memory, story, place):
    old = story.referred(f"camat.{place.slug}", number=None)
    assert handlers.issue_referral_letter(letters, old.event_id) is None
    assert handlers.issue_referral_letter(letters, old.event_id) is None
    assert memory.documents == {}


def test_a_referral_letter_is_verified_like_a_response_letter(letters, memory, story, place):
    """The receiving office holds a signed letter: its QR code's page and an upload of the PDF say whether it is
    genuine, as for the complainant's response letter; one changed byte makes it not."""
    letter = handlers.issue_referral_letter(letters, story.referred(f"camat.{place.slug}").event_id)
    pdf = letters.documents.get(letter["sha256"])
    assert handlers.is_signed_letter(letter)
    on_record = handlers.signed_letter(letters, letter["id"])
    assert on_record is not None and on_record["kind"] == "referral_letter"
    assert handlers.check_letter(letters, pdf, on_record).valid
    uploaded = handlers.check_upload(letters, pdf)
    assert uploaded.valid and uploaded.letter["id"] == letter["id"] and uploaded.kecamatan_name == "Uji"
    i = pdf.index(REFERRAL_NUMBER.encode())
    assert not handlers.check_upload(letters, pdf[:i] + b"9" + pdf[i + 1 :]).valid
    sheet = handlers.issue_disposition_sheet(letters, story.disposed(f"camat.{place.slug}").event_id)
    assert handlers.signed_letter(letters, sheet["id"]) is None  # a disposition sheet is no signed letter


def test_a_plh_camats_referral_is_signed_plh_with_the_delegates_name(letters, story, place):
    referred = story.referred(f"sekcam.{place.slug}", acting_for="camat", acting_kind="plh")
    letter = handlers.issue_referral_letter(letters, referred.event_id)
    text = text_of(letters.documents.get(letter["sha256"]))
    assert "Plh. CAMAT UJI" in text and "Moh. Sekretaris, S.Sos." in text and "Penata (III/c)" in text
    assert letter["signer"] == "Moh. Sekretaris, S.Sos."


# -- a.n. signing ----------------------------------------------------------------------------------------------------


def test_a_response_letter_signed_a_n_the_camat_reads_a_n_over_the_sekcams_office(letters, memory, story, place):
    story.clarified()
    story.drafted()
    signed = story.signed(f"sekcam.{place.slug}", acting_for="camat", acting_kind="an")
    issued = handlers.issue_signed_letter(letters, signed.event_id)
    text = text_of(letters.documents.get(issued.sha256))
    assert "a.n. CAMAT UJI SEKRETARIS KECAMATAN" in text  # two lines, one under the other
    for expected in ("Moh. Sekretaris, S.Sos.", "Penata (III/c)", "NIP. 198001012005011002"):
        assert expected in text, expected
    assert "Plh." not in text and "Ma'ruf" not in text


# -- the Kartu Kendali -------------------------------------------------------------------------------------------------


def test_the_kartu_kendali_of_a_complaint_names_who_acted_and_the_unit(letters, memory, story, place):
    story.disposed(f"camat.{place.slug}")
    complaint = handlers.complaint_events(letters, story.complaint_id)
    assert complaint is not None and complaint.kecamatan == place and len(complaint.events) == 3
    pdf = handlers.control_card(letters, complaint, AT + timedelta(hours=1))
    text = text_of(pdf)
    for expected in (
        "KARTU KENDALI PENGADUAN",
        story.tracking_code,
        "12/2026",
        "Seksi Pemerintahan",  # the unit's name, not its code
        "Drs. H. Moh. Ma'ruf, M.Si.",  # step 4's Camat, from the staff directory
        "Melakukan verifikasi substansi, apakah termasuk tupoksi atau tidak",
        "Melakukan klarifikasi / tanggapan atas pengaduan",
    ):
        assert expected in text, expected
    assert len(memory.documents) == 0  # not stored


def test_no_kartu_kendali_for_an_unknown_complaint_or_a_kecamatan_not_served(letters, story):
    assert handlers.complaint_events(letters, uuid.uuid4()) is None
    letters.directory = {}
    assert handlers.complaint_events(letters, story.complaint_id) is None
