"""The SOP's instruments through real processes: the Camat disposes, redirects and refers in the workflow, the
relay hands the events to a letters worker, which makes the Lembar Disposisi of each disposition and the signed
surat pelimpahan of the referral, stores them and records them with the complaint's documents (once, however
often a task runs); the letters API lists them, verifies the referral letter like a response letter, and prints
the Kartu Kendali of a complaint as it stands, to its kecamatan's staff only."""

from __future__ import annotations

import io
import uuid
from datetime import UTC, datetime

import pytest
from fastapi.testclient import TestClient
from pypdf import PdfReader
from sqlalchemy import select

from services.accounts.handlers import add_user
from services.letters.adapters.tables import documents
from services.letters.adapters.verification import verify_pdf
from services.letters.bootstrap import bootstrap as letters_bootstrap
from services.letters.config import LettersSettings
from services.letters.entrypoints.api import create_app as letters_app
from services.workflow import handlers
from services.workflow.bootstrap import bootstrap
from services.workflow.relay import EventDispatcher
from shared.auth import Principal
from shared.celery_app import make_celery
from shared.contracts.routing import SUBSCRIPTIONS
from shared.eventstore.postgres import NOTIFY_CHANNEL
from shared.subscriptions import Runner
from shared.tenancy import Kecamatan, upsert_kecamatan
from tests.support.auth import bearer_header
from tests.support.complaints import new_complaint
from tests.support.organisation import give_heads
from tests.support.processes import wait_until

CAMAT_NAME = "Drs. H. Moh. Ma'ruf, M.Si."
CAMAT_NIP = "197001011990031001"
AGENCY = "Kepala Dinas Pekerjaan Umum dan Penataan Ruang Kabupaten Pamekasan"


@pytest.fixture(scope="module")
def letters_settings(settings, tmp_path_factory):
    data_dir = tmp_path_factory.mktemp("letters-instruments")
    return settings.model_copy(update={"data_dir": str(data_dir), "public_base_url": "http://127.0.0.1:8000"})


@pytest.fixture(scope="module")
def wf(letters_settings):
    container = bootstrap(letters_settings)
    yield container
    container.engine.dispose()


@pytest.fixture(scope="module")
def letters(letters_settings):
    container = letters_bootstrap(LettersSettings(**letters_settings.model_dump()))
    yield container
    container.engine.dispose()


@pytest.fixture
def place(engine, wf, letters):
    """A kecamatan of the test's own: its Camat (name, pangkat, NIP), the heads of two units."""
    suffix = uuid.uuid4().hex[:6]
    kecamatan = Kecamatan(
        f"instrumen-{suffix}",
        f"93.{suffix}",
        "Instrumen",
        "pamekasan",
        "Kabupaten Pamekasan",
        {
            "pemerintah": "PEMERINTAH KABUPATEN PAMEKASAN",
            "kecamatan": "KECAMATAN INSTRUMEN",
            "address": "Jalan Raya 1",
            "city": "Instrumen",
        },
    )
    upsert_kecamatan(engine, [kecamatan])
    add_user(
        engine,
        f"camat.{kecamatan.slug}",
        CAMAT_NAME,
        "camat",
        "rahasia-uji-123",
        kecamatan=kecamatan.slug,
        nip=CAMAT_NIP,
        pangkat="Pembina Tingkat I",
        golongan="IV/b",
    )
    give_heads(engine, kecamatan.slug, ("pemerintahan", "trantib"))
    for directory in (wf.directory, letters.directory):
        directory.invalidate()
    return kecamatan


@pytest.fixture
def letters_worker(letters_settings, spawn, background, wf):
    """A letters worker, and the relay's letters subscriptions feeding it. At INFO it logs each task id it ran."""
    worker = spawn(
        "worker",
        "letters",
        "--concurrency",
        "1",
        settings_=letters_settings,
        PENGADUAN_DATA_DIR=letters_settings.data_dir,
        PENGADUAN_LOG_LEVEL="INFO",
    )
    for sub in SUBSCRIPTIONS:
        if sub.queue == "letters":
            dispatcher = EventDispatcher(wf.engine, wf.store, make_celery(letters_settings, "t"), sub)
            background.start(
                Runner(wf.engine, dispatcher.name, dispatcher.round, channel=NOTIFY_CHANNEL, poll_interval=0.2)
            )
    return worker


# who acts in each role: the Camat and the Kasi Pemerintahan as the directories know them (give_heads' names)
USERS = {"camat": "camat.{slug}", "kasi": "kasi.pemerintahan.{slug}"}


def act(wf, place: Kecamatan, cid: uuid.UUID, action: str, role: str, fields: dict | None = None):
    """``action`` by the kecamatan's ``role``."""
    return handlers.act(
        wf,
        cid,
        action,
        fields or {},
        expected_version=revision(wf, cid),
        user_id=USERS.get(role, "{role}.{slug}").format(role=role, slug=place.slug),
        role=role,
        unit="pemerintahan" if role == "kasi" else None,
        kecamatan=place.slug,
        at=datetime.now(UTC),
        correlation_id=uuid.uuid4(),
    )


def revision(wf, cid: uuid.UUID) -> int:
    """The complaint's revision as staff commands expect it: its events but the notifications' reports."""
    return sum(not e.type.startswith("workflow.Notification") for e in wf.store.read_stream(f"complaint-{cid}"))


def documents_of(engine, cid: uuid.UUID, kind: str) -> list[dict]:
    with engine.connect() as conn:
        query = select(documents).where(documents.c.complaint_id == cid, documents.c.kind == kind)
        return [dict(r) for r in conn.execute(query.order_by(documents.c.created_at)).mappings()]


def text_of(pdf: bytes) -> str:
    return " ".join(" ".join(page.extract_text().split()) for page in PdfReader(io.BytesIO(pdf)).pages)


def event_of(wf, cid: uuid.UUID, type_name: str):
    return next(e for e in wf.store.read_stream(f"complaint-{cid}") if e.type == type_name)


def send_again(letters_settings, task: str, event_id: uuid.UUID) -> str:
    """The relay's message for ``event_id`` once more (a redelivery), under a task id of its own; that id."""
    copy = f"copy-{uuid.uuid4()}"
    make_celery(letters_settings, "t").send_task(
        task, args=[{"event_id": str(event_id)}], queue="letters", task_id=copy
    )
    return copy


def test_each_disposition_gets_its_disposition_sheet_once(letters_settings, engine, wf, letters, place, letters_worker):
    cid = new_complaint(wf, place.slug)
    act(wf, place, cid, "verify-identity", "kasi")
    registered = act(wf, place, cid, "register", "staf")
    act(wf, place, cid, "dispose", "camat", {"unit": "Seksi Pemerintahan", "instructions": "Klarifikasi ke desa."})
    (sheet,) = wait_until(lambda: documents_of(engine, cid, "disposition_sheet"), timeout=90, message="the sheet")
    text = text_of(letters.documents.get(sheet["sha256"]))
    for expected in (
        "LEMBAR DISPOSISI",
        "KECAMATAN INSTRUMEN",
        "Siti Aminah",
        f"{registered.register_number}/{registered.register_year}",  # the Nomor Agenda of step 3
        "Jalan desa rusak",
        "Kepala Seksi Pemerintahan",
        f"Kasi pemerintahan {place.slug}",  # the unit's head, from the unit directory
        "Klarifikasi ke desa.",
        "CAMAT INSTRUMEN",
        CAMAT_NAME,
        "Pembina Tingkat I (IV/b)",
        f"NIP. {CAMAT_NIP}",
    ):
        assert expected in text, expected
    assert (sheet["signer"], sheet["letter_number"], sheet["released_at"]) == (CAMAT_NAME, None, None)

    act(wf, place, cid, "redispose", "camat", {"unit": "trantib", "instructions": "Tangani.", "reason": "Ketertiban."})
    sheets = wait_until(
        lambda: (found := documents_of(engine, cid, "disposition_sheet")) and len(found) == 2 and found,
        timeout=60,
        message="the redirect's sheet",
    )
    redirected = text_of(letters.documents.get(sheets[1]["sha256"]))
    for expected in (
        "(Pengalihan Disposisi)",
        "Dialihkan dari Seksi Pemerintahan. Alasan: Ketertiban.",
        "Kepala Seksi Ketenteraman dan Ketertiban Umum",
        f"Kasi trantib {place.slug}",
        "Tangani.",
    ):
        assert expected in redirected, expected

    # the disposition's task once more: the same sheet, nothing new
    copy = send_again(letters_settings, "letters.issue_disposition_sheet", sheet["source_event_id"])
    wait_until(lambda: letters_worker.succeeded(copy) >= 1, timeout=60, message="the worker to run the copy")
    assert [s["id"] for s in documents_of(engine, cid, "disposition_sheet")] == [s["id"] for s in sheets]


def test_a_referral_gets_a_signed_surat_pelimpahan_listed_verified_and_made_once(
    letters_settings, engine, wf, letters, place, letters_worker
):
    cid = new_complaint(wf, place.slug)
    act(wf, place, cid, "verify-identity", "kasi")
    act(wf, place, cid, "register", "staf")
    act(
        wf,
        place,
        cid,
        "refer",
        "camat",
        {
            "agency": AGENCY,
            "agency_kind": "opd",
            "agency_address": "Jl. Kabupaten No. 107, Pamekasan",
            "reason": "Jalan tersebut berstatus jalan kabupaten.",
        },
    )
    referred = event_of(wf, cid, "workflow.ComplaintReferred")
    number = referred.payload["letter_number"]
    # the kecamatan's first outgoing letter; no unit code of its own: its Kemendagri code stands in
    assert number == f"000.8.3.4/1/{place.code}/{datetime.now(place.time_zone).year}"
    (letter,) = wait_until(lambda: documents_of(engine, cid, "referral_letter"), timeout=90, message="the letter")
    assert (letter["letter_number"], letter["signer"]) == (number, CAMAT_NAME)
    assert letter["signed_on"] == referred.occurred_at.astimezone(place.time_zone).date()
    pdf = letters.documents.get(letter["sha256"])
    text = text_of(pdf)
    for expected in (
        number,
        "1 (satu) berkas",
        "Pelimpahan Pengaduan Masyarakat",
        f"Yth. {AGENCY}",
        "Jl. Kabupaten No. 107, Pamekasan",
        referred.payload["reason"],
        "Jalan di Dusun Bunangka rusak sejak Januari.",
        "Siti Aminah",
        "CAMAT INSTRUMEN",
        f"NIP. {CAMAT_NIP}",
        "1. Yth. Sdr. Siti Aminah selaku pengadu",
        "2. Arsip",
    ):
        assert expected in text, expected

    # signed as the response letter is: PAdES in the Camat's field, valid, chaining to the kecamatan's CA
    from pyhanko.pdf_utils.reader import PdfFileReader

    (signature,) = PdfFileReader(io.BytesIO(pdf)).embedded_signatures
    assert signature.sig_object["/SubFilter"] == "/ETSI.CAdES.detached"
    verdict = verify_pdf(pdf, letters.keys.trust_roots())
    assert verdict.valid and verdict.intact and verdict.trusted, verdict.reason

    staf = bearer_header(letters_settings, Principal(f"staf.{place.slug}", "Staf", "staf", kecamatan=place.slug))
    kabupaten = bearer_header(letters_settings, Principal("kab.uji", "Kab", "kabupaten", kabupaten="pamekasan"))
    with TestClient(letters_app(letters)) as client:
        # the QR code's page and an upload of the PDF: genuine, a referral letter, its number; no perihal
        page = client.get(f"/v1/letters/verify/{letter['id']}").json()
        assert page["valid"] and (page["kind"], page["letter_number"], page["signer"]) == (
            "referral_letter",
            number,
            CAMAT_NAME,
        )
        html = client.get(f"/v1/letters/verify/{letter['id']}", headers={"accept": "text/html"}).text
        assert "Surat ini asli" in html and "Surat pelimpahan pengaduan" in html and "Dinas" not in html
        upload = client.post("/v1/letters/verify", content=pdf, headers={"content-type": "application/pdf"}).json()
        assert upload["valid"] and upload["document_id"] == str(letter["id"])

        # listed with the complaint's documents: all of them to its staff, the signed letter to the kabupaten
        listed = wait_until(
            lambda: (
                (r := client.get(f"/v1/letters/complaints/{cid}", headers=staf).json())
                and {d["kind"] for d in r} == {"receipt", "referral_letter"}
                and r
            ),
            timeout=60,
            message="the receipt and the referral letter listed",
        )
        mine = next(d for d in listed if d["kind"] == "referral_letter")
        assert (mine["id"], mine["letter_number"], mine["sha256"]) == (str(letter["id"]), number, letter["sha256"])
        assert [d["kind"] for d in client.get(f"/v1/letters/complaints/{cid}", headers=kabupaten).json()] == [
            "referral_letter"
        ]
        assert client.get(f"/v1/letters/{letter['id']}/pdf", headers=staf).content == pdf

    # the referral's task once more: the same letter, no second number or document
    copy = send_again(letters_settings, "letters.issue_referral_letter", referred.event_id)
    wait_until(lambda: letters_worker.succeeded(copy) >= 1, timeout=60, message="the worker to run the copy")
    assert [d["id"] for d in documents_of(engine, cid, "referral_letter")] == [letter["id"]]


def test_the_kartu_kendali_is_printed_as_the_complaint_stands_for_its_kecamatans_staff_only(
    letters_settings, engine, wf, letters, place
):
    cid = new_complaint(wf, place.slug)
    act(wf, place, cid, "verify-identity", "kasi")
    act(wf, place, cid, "register", "staf")
    act(wf, place, cid, "dispose", "camat", {"unit": "pemerintahan", "instructions": "Klarifikasi."})
    staf = bearer_header(letters_settings, Principal(f"staf.{place.slug}", "Staf", "staf", kecamatan=place.slug))
    other = bearer_header(letters_settings, Principal("staf.pegantenan", "Staf", "staf", kecamatan="pegantenan"))
    kabupaten = bearer_header(letters_settings, Principal("kab.uji", "Kab", "kabupaten", kabupaten="pamekasan"))
    url = f"/v1/letters/complaints/{cid}/kartu-kendali.pdf"
    with TestClient(letters_app(letters)) as client:
        r = client.get(url, headers=staf)
        assert r.status_code == 200 and r.headers["content-type"] == "application/pdf"
        assert r.headers["cache-control"] == "no-store"
        assert r.headers["content-disposition"].startswith('attachment; filename="kartu-kendali-')
        reader = PdfReader(io.BytesIO(r.content))
        assert len(reader.pages) == 1 and reader.pages[0].mediabox.width > reader.pages[0].mediabox.height
        text = text_of(r.content)
        for expected in (
            "KARTU KENDALI PENGADUAN",
            "KECAMATAN INSTRUMEN",
            "Seksi Pemerintahan",
            CAMAT_NAME,  # step 4's Camat, by name
            "Melakukan verifikasi substansi, apakah termasuk tupoksi atau tidak",
            "sedang berjalan",  # step 5, the Kasi's
            "Dicetak",
        ):
            assert expected in text, expected

        act(wf, place, cid, "clarify", "kasi", {"explanation": "Jalan diperbaiki Januari."})
        later = text_of(client.get(url, headers=staf).content)  # not kept: the next print shows the next step
        assert "Kasi pemerintahan" in later and later.count("tepat waktu") > text.count("tepat waktu")

        assert client.get(url, headers=kabupaten).json()["code"] == "personal_data_not_available"
        assert client.get(url, headers=other).status_code == 404  # another kecamatan's staff: no such complaint
        assert client.get(f"/v1/letters/complaints/{uuid.uuid4()}/kartu-kendali.pdf", headers=staf).status_code == 404
        assert client.get(url).status_code == 401
